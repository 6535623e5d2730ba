/* Many threads at once, in waves: random sizes of every kind, blocks handed
 * between threads through lock-protected exchange slots (so most frees are
 * remote), threads that exit holding blocks that later threads free, exited
 * threads' heaps taken over by new ones, realloc and aligned allocation
 * mixed in. Every block carries a pattern derived from its address and size,
 * checked before it is freed or reallocated. At the end everything is freed
 * and the heap's counters must balance. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "reheap/alloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

enum {
  THREADS = 12,
  WAVES = 4,
  OPS = 25000,      /* per thread, at most */
  LOCAL = 48,       /* blocks a thread holds */
  SLOTS = 384,      /* exchange slots shared by all threads */
  SLOT_LOCKS = 64,
};
/* Stop early past this (wall clock, whole run): keeps the test bounded on a
 * slow or loaded machine. */
#define BUDGET_MS 14000

typedef struct {
  unsigned char *p;
  size_t size;
  size_t align; /* asked alignment, 0 for none */
} blk_t;

static blk_t slots[SLOTS];
static pthread_mutex_t slot_locks[SLOT_LOCKS];

/* Blocks left live by exited threads, freed by the next waves. */
static pthread_mutex_t left_lock = PTHREAD_MUTEX_INITIALIZER;
static blk_t *left;
static size_t left_n, left_cap;

static uint64_t start_ms;
static _Atomic unsigned long long ops_done, remote_handoffs, reallocs_done, huge_done;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- patterns ---- */

static uint64_t seed_of(const void *p, size_t size) {
  uint64_t x = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull ^ (uint64_t)size * 0xC2B2AE3D27D4EB4Full;
  return x ^ (x >> 31);
}

static inline uint64_t pword(uint64_t seed, size_t off) {
  uint64_t x = seed + (uint64_t)off * 0xD6E8FEB86659FD93ull;
  return x ^ (x >> 27);
}

#define DENSE_MAX (64 * KiB)

/* Visits the pattern's positions of a block of n bytes: all of it up to
 * DENSE_MAX, else its first and last 4 KiB and a word every 512 bytes.
 * write: store the pattern; else compare the positions below limit and
 * return the first bad offset, or SIZE_MAX. */
static size_t pattern(unsigned char *p, size_t n, uint64_t seed, size_t limit, int write) {
  size_t nw = n & ~(size_t)7;
  for (size_t off = 0; off < nw;) {
    if (off + 8 <= limit || write) {
      uint64_t w = pword(seed, off), got;
      if (write) {
        memcpy(p + off, &w, 8);
      } else {
        memcpy(&got, p + off, 8);
        if (got != w) return off;
      }
    }
    if (n > DENSE_MAX && off >= 4 * KiB && off + 4 * KiB < nw) {
      off += 512;
      if (off + 4 * KiB > nw) off = nw - 4 * KiB; /* last 4 KiB dense */
    } else {
      off += 8;
    }
  }
  for (size_t off = nw; off < n; off++) {
    unsigned char b = (unsigned char)pword(seed, off);
    if (write) p[off] = b;
    else if (off < limit && p[off] != b) return off;
  }
  return SIZE_MAX;
}

static void blk_fill(blk_t *b) { pattern(b->p, b->size, seed_of(b->p, b->size), 0, 1); }

static void blk_check(const blk_t *b, const char *where) {
  CHECKF(b->p != NULL, "%s", where);
  CHECKF(rh_owns(b->p), "%s: %p", where, (void *)b->p);
  CHECKF(rh_usable_size(b->p) >= b->size, "%s: %p size %zu usable %zu", where, (void *)b->p,
         b->size, rh_usable_size(b->p));
  if (b->align) CHECKF(((uintptr_t)b->p & (b->align - 1)) == 0, "%s: align", where);
  size_t bad = pattern(b->p, b->size, seed_of(b->p, b->size), b->size, 0);
  CHECKF(bad == SIZE_MAX, "%s: block %p of %zu bytes corrupt at offset %zu", where,
         (void *)b->p, b->size, bad);
}

static void blk_free(blk_t *b, uint64_t *rs) {
  blk_check(b, "before free");
  if (rnd(rs) % 4 == 0) rh_free_sized(b->p, b->size);
  else rh_free(b->p);
  b->p = NULL;
  b->size = 0;
  b->align = 0;
}

/* ---- sizes ---- */

static size_t pick_size(uint64_t *rs) {
  uint64_t r = rnd(rs) % 10000;
  if (r < 8800) return 1 + rnd(rs) % 1024;                     /* small */
  if (r < 9600) return 1025 + rnd(rs) % (64 * KiB - 1024);     /* classes above 1 KiB */
  if (r < 9985) return 64 * KiB + rnd(rs) % (192 * KiB + 1);   /* large, up to 256 KiB */
  huge_done++;
  return 3 * MiB + rnd(rs) % (5 * MiB + 1);                    /* huge, rare */
}

static void blk_alloc(blk_t *b, uint64_t *rs) {
  size_t n = pick_size(rs);
  uint64_t how = rnd(rs) % 20;
  b->align = 0;
  if (how < 14) {
    b->p = rh_malloc(n);
  } else if (how < 16) {
    size_t cnt = 1 + rnd(rs) % 8;
    size_t each = (n + cnt - 1) / cnt;
    b->p = rh_calloc(cnt, each);
    n = cnt * each;
    CHECK(b->p != NULL);
    /* zero where the pattern will go (sparse for big blocks) */
    for (size_t off = 0; off < n; off += (n > DENSE_MAX ? 4093 : 1))
      CHECKF(b->p[off] == 0, "calloc(%zu, %zu) byte %zu", cnt, each, off);
    CHECK(b->p[n - 1] == 0);
  } else if (how < 18) {
    b->align = (size_t)1 << (rnd(rs) % 17); /* 1 .. 64 KiB */
    b->p = rh_aligned_alloc(b->align, n);
  } else {
    b->align = (size_t)1 << (3 + rnd(rs) % 19); /* 8 .. 2 MiB */
    void *out = NULL;
    int rc = rh_posix_memalign(&out, b->align, n);
    CHECKF(rc == 0, "posix_memalign(%zu, %zu) = %d", b->align, n, rc);
    b->p = out;
  }
  CHECKF(b->p != NULL, "allocating %zu bytes: errno %d", n, errno);
  CHECK(((uintptr_t)b->p & 15) == 0);
  if (b->align) CHECKF(((uintptr_t)b->p & (b->align - 1)) == 0, "align %zu", b->align);
  b->size = n;
  blk_fill(b);
}

static void blk_realloc(blk_t *b, uint64_t *rs) {
  blk_check(b, "before realloc");
  size_t old = b->size;
  uint64_t oseed = seed_of(b->p, old);
  size_t n;
  uint64_t r = rnd(rs) % 4;
  if (r == 0) n = old / 2 + 1;                         /* shrink */
  else if (r == 1) n = old + 1 + rnd(rs) % 64;         /* grow a little */
  else n = pick_size(rs);                              /* anything */
#ifdef STRESS_NO_HUGE_REALLOC
  /* diagnosis only: keeps huge blocks out of realloc (see
   * test_huge_realloc_stats.c) */
  if (old > 2 * MiB) {
    blk_check(b, "held");
    return;
  }
  if (n > 2 * MiB) n = 2 * MiB;
#endif
  unsigned char *q = rh_realloc(b->p, n);
  CHECKF(q != NULL, "realloc %zu -> %zu", old, n);
  /* the old pattern (of the old address) survives in the common prefix */
  size_t keep = old < n ? old : n;
  size_t bad = pattern(q, old, oseed, keep, 0);
  CHECKF(bad == SIZE_MAX, "realloc %zu -> %zu (%p -> %p) lost data at %zu", old, n,
         (void *)b->p, (void *)q, bad);
  b->p = q;
  b->size = n;
  b->align = 0; /* realloc need not keep an alignment */
  blk_fill(b);
  reallocs_done++;
}

/* ---- threads ---- */

typedef struct {
  int id;
  int wave;
} targ_t;

static void take_leftovers(blk_t *local, uint64_t *rs) {
  /* free up to a share of what earlier waves left live */
  for (int k = 0; k < 64; k++) {
    blk_t b = {0};
    pthread_mutex_lock(&left_lock);
    if (left_n > 0) b = left[--left_n];
    pthread_mutex_unlock(&left_lock);
    if (b.p == NULL) break;
    if (k % 3 == 0 && local[k % LOCAL].p == NULL) local[k % LOCAL] = b; /* keep some */
    else blk_free(&b, rs);
  }
}

static void leave(blk_t *b) {
  pthread_mutex_lock(&left_lock);
  if (left_n == left_cap) {
    left_cap = left_cap ? 2 * left_cap : 256;
    left = realloc(left, left_cap * sizeof *left); /* libc's: bookkeeping only */
    CHECK(left != NULL);
  }
  left[left_n++] = *b;
  pthread_mutex_unlock(&left_lock);
  b->p = NULL;
}

static void *worker(void *arg) {
  targ_t *t = arg;
  uint64_t rs = 0x1234567ull + (uint64_t)t->id * 7919u + (uint64_t)t->wave * 104729u;
  blk_t local[LOCAL];
  memset(local, 0, sizeof local);
  take_leftovers(local, &rs);
  unsigned long long mine = 0;
  for (int op = 0; op < OPS; op++) {
    if ((op & 255) == 0 && now_ms() - start_ms > BUDGET_MS) break;
    blk_t *b = &local[rnd(&rs) % LOCAL];
    uint64_t r = rnd(&rs) % 100;
    if (b->p == NULL) {
      blk_alloc(b, &rs);
    } else if (r < 40) {
      blk_free(b, &rs);
    } else if (r < 48) {
      blk_realloc(b, &rs);
    } else if (r < 90) {
      /* swap with a shared slot: the block received was most likely made
       * by another thread, and this thread will free it */
      size_t s = (size_t)(rnd(&rs) % SLOTS);
      blk_check(b, "before handing over");
      pthread_mutex_lock(&slot_locks[s % SLOT_LOCKS]);
      blk_t got = slots[s];
      slots[s] = *b;
      pthread_mutex_unlock(&slot_locks[s % SLOT_LOCKS]);
      *b = got;
      if (b->p != NULL) {
        blk_check(b, "received");
        remote_handoffs++;
      }
    } else {
      blk_check(b, "held");
    }
    mine++;
  }
  /* exit with about half still live: some left for later threads, some
   * freed now */
  for (int i = 0; i < LOCAL; i++) {
    if (local[i].p == NULL) continue;
    if (rnd(&rs) % 2) leave(&local[i]);
    else blk_free(&local[i], &rs);
  }
  ops_done += mine;
  return NULL;
}

int main(void) {
  for (int i = 0; i < SLOT_LOCKS; i++) CHECK(pthread_mutex_init(&slot_locks[i], NULL) == 0);
  start_ms = now_ms();
  rh_heap_stats_t s0;
  rh_heap_stats(&s0, NULL, 0);

  pthread_t th[THREADS];
  targ_t args[THREADS];
  for (int w = 0; w < WAVES; w++) {
    for (int i = 0; i < THREADS; i++) {
      args[i].id = i;
      args[i].wave = w;
      CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    rh_heap_stats_t sw;
    rh_heap_stats(&sw, NULL, 0);
    CHECK(sw.allocations >= sw.frees);
    CHECK(sw.threads <= (uint64_t)THREADS * (uint64_t)(w + 1) + 1);
  }

  rh_heap_stats_t s1;
  rh_heap_stats(&s1, NULL, 0);
  /* exited threads' heaps were taken over by later waves */
  CHECKF(s1.heaps_reused > 0, "threads %llu reused %llu", (unsigned long long)s1.threads,
         (unsigned long long)s1.heaps_reused);
  CHECKF(s1.threads < (uint64_t)THREADS * WAVES, "threads %llu", (unsigned long long)s1.threads);

  /* the main thread frees what is left: slots and leftovers */
  uint64_t rs = 99;
  size_t leftover_count = 0, slot_count = 0;
  for (int s = 0; s < SLOTS; s++)
    if (slots[s].p) {
      blk_free(&slots[s], &rs);
      slot_count++;
    }
  for (size_t i = 0; i < left_n; i++) {
    blk_free(&left[i], &rs);
    leftover_count++;
  }
  free(left);

  rh_heap_stats_t s2;
  rh_heap_stats(&s2, NULL, 0);
  printf("ops %llu, handed over %llu, reallocs %llu, huge picks %llu, left at exit %zu, "
         "in slots %zu, threads %llu, heaps reused %llu, %llu ms\n",
         (unsigned long long)ops_done, (unsigned long long)remote_handoffs,
         (unsigned long long)reallocs_done, (unsigned long long)huge_done, leftover_count,
         slot_count, (unsigned long long)s2.threads, (unsigned long long)s2.heaps_reused,
         (unsigned long long)(now_ms() - start_ms));
  fflush(stdout);
  CHECK(ops_done > (unsigned long long)THREADS * WAVES * 1000);
  CHECK(remote_handoffs > 1000);
  uint64_t da = s2.allocations - s0.allocations, df = s2.frees - s0.frees;
  CHECKF(da == df, "allocations +%llu, frees +%llu", (unsigned long long)da,
         (unsigned long long)df);
  CHECK(da > 100000);
  CHECK(s2.peak_live_bytes >= s2.live_bytes);
  CHECKF(s2.live_bytes == s0.live_bytes, "live_bytes %llu at start, %llu after freeing all",
         (unsigned long long)s0.live_bytes, (unsigned long long)s2.live_bytes);
  /* and the heap still works, here and in a fresh thread */
  void *p = rh_malloc(100);
  CHECK(p != NULL);
  rh_free(p);
  printf("test_stress_threads: ok\n");
  return 0;
}
