/* The heap's own records (record.c, in the recording build): the walk
 * finds exactly the live blocks, each with the size asked for and the
 * recorder's stack id, across small, large, huge and aligned blocks,
 * realloc in place and moved, and frees from other threads; a double free,
 * a free inside a block (small and huge) and a realloc of a freed block
 * are told to the recorder with the right block and leave the heap whole;
 * the exact counts agree with what the test did; quiet blocks (from before
 * the recorder, or a paused thread's) are neither walked nor counted, and
 * freeing them is no bad free. Linked with the
 * recording build with the heap's internal checks on. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/check.h"
#include "reheap/alloc.h"

#define MAXB 20000
static void *blk[MAXB];
static size_t asked[MAXB];
static uint32_t stk[MAXB]; /* the stack id it was allocated with */
static size_t nblk;

static uint32_t stack_of(size_t size, const void *frame) {
  CHECK(frame != NULL);
  if (size == 1027) return RH_HEAP_STACK_UNTRACKED; /* a block the recorder disowns */
  /* what the recorder allocates is recorded with no stack, and does not
   * call it again */
  void *q = rh_malloc(24);
  rh_free(q);
  return (uint32_t)(size * 2 + 1);
}

static _Atomic int bad_kind;
static rh_heap_record_t bad_was;
static _Atomic int bad_with;
static void bad_free(void *p, int kind, const rh_heap_record_t *was) {
  (void)p;
  atomic_store(&bad_kind, kind);
  atomic_store(&bad_with, was != NULL);
  if (was != NULL) bad_was = *was;
}

typedef struct walk {
  size_t n, bytes, unknown, wrong;
} walk_t;

static void each(const rh_heap_record_t *r, void *arg) {
  walk_t *w = arg;
  w->n++;
  w->bytes += r->size;
  for (size_t i = 0; i < nblk; i++) {
    if (blk[i] != r->block) continue;
    if (r->size != asked[i] || r->stack_id != stk[i]) w->wrong++;
    return;
  }
  w->unknown++;
}

static walk_t walk(void) {
  walk_t w = {0};
  rh_heap_records_each(each, &w);
  return w;
}

static void expect_live(const char *when) {
  walk_t w = walk();
  size_t bytes = 0, n = 0;
  for (size_t i = 0; i < nblk; i++)
    if (blk[i] != NULL) {
      n++;
      bytes += asked[i];
    }
  /* the recorder's own 24-byte block is freed at once: nothing else lives */
  CHECKF(w.n == n && w.bytes == bytes && w.unknown == 0 && w.wrong == 0,
         "%s: walk %zu blocks %zu bytes (%zu unknown, %zu wrong), expected %zu blocks %zu bytes", when, w.n, w.bytes,
         w.unknown, w.wrong, n, bytes);
  rh_heap_record_stats_t st;
  CHECK(rh_heap_record_stats(&st));
  CHECKF(st.live_bytes == bytes && st.allocations - st.frees == n, "%s: stats %llu bytes %llu blocks", when,
         (unsigned long long)st.live_bytes, (unsigned long long)(st.allocations - st.frees));
}

static void add(void *p, size_t size) {
  CHECK(p != NULL && nblk < MAXB);
  blk[nblk] = p;
  stk[nblk] = (uint32_t)(size * 2 + 1);
  asked[nblk++] = size;
}

static void forget(void *p) {
  for (size_t i = 0; i < nblk; i++)
    if (blk[i] == p) blk[i] = NULL;
}

static void *remote_free(void *arg) {
  size_t from = (size_t)(uintptr_t)arg;
  for (size_t i = from; i < nblk; i += 4)
    if (blk[i] != NULL && (i / 4) % 2 == 0) {
      rh_free(blk[i]);
      blk[i] = NULL;
    }
  /* and some of its own, left live */
  return NULL;
}

/* Quiet blocks (from before the recorder, a paused thread's, or one the
 * recorder gives RH_HEAP_STACK_UNTRACKED): never
 * walked, never counted, and their frees are no bad frees. */
static void check_quiet(void *early_small, void *early_huge) {
  rh_heap_record_stats_t a, b;
  CHECK(rh_heap_record_stats(&a));
  CHECK(rh_heap_record_pause(true) == false);
  void *q = rh_malloc(77);
  void *q2 = rh_realloc(q, 9000); /* moved, and still quiet */
  void *q3 = rh_malloc(5 << 20);
  CHECK(q2 != NULL && q3 != NULL && rh_heap_record_pause(false) == true);
  void *disowned = rh_malloc(1027); /* (a size no other block of the test has) */
  CHECK(disowned != NULL);
  expect_live("with quiet blocks");
  rh_free(disowned);
  atomic_store(&bad_kind, 0);
  rh_free(q2);
  rh_free(q3);
  rh_free(early_small);
  rh_free(early_huge);
  CHECK(atomic_load(&bad_kind) == 0);
  CHECK(rh_heap_record_stats(&b));
  CHECKF(b.allocations == a.allocations && b.frees == a.frees && b.bytes_allocated == a.bytes_allocated &&
             b.reallocs == a.reallocs && b.live_bytes == a.live_bytes,
         "quiet blocks counted: allocations %llu -> %llu, frees %llu -> %llu",
         (unsigned long long)a.allocations, (unsigned long long)b.allocations, (unsigned long long)a.frees,
         (unsigned long long)b.frees);
  /* the two from before recording began are frees of blocks never seen */
  CHECK(b.unknown_frees == a.unknown_frees + 2);
  expect_live("after quiet frees");
}

int main(void) {
  void *early_small = rh_malloc(100), *early_huge = rh_malloc(6 << 20);
  CHECK(early_small != NULL && early_huge != NULL);
  rh_heap_recorder_t rec = {stack_of, bad_free};
  CHECK(rh_heap_set_recorder(&rec));
  uint64_t seed = 42;
  static const size_t big[] = {1500, 5000, 64 << 10, 70000, 300000, 1 << 20, (2 << 20) - 100, 3 << 20, 9 << 20};
  for (size_t i = 0; i < 4000; i++) {
    size_t s = rnd(&seed) % 1025;
    add(rh_malloc(s), s);
  }
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) add(rh_malloc(big[i]), big[i]);
  void *a;
  CHECK(rh_posix_memalign(&a, 4096, 100) == 0);
  add(a, 100);
  CHECK(rh_posix_memalign(&a, 128 << 10, 5000) == 0);
  add(a, 5000);
  add(rh_calloc(10, 33), 330);
  expect_live("after allocating");
  check_quiet(early_small, early_huge);

  /* realloc: in place (smaller, larger within the block) and moved */
  void *r = rh_malloc(200);
  add(r, 200);
  void *r2 = rh_realloc(r, 190);
  CHECK(r2 == r);
  asked[nblk - 1] = 190;
  stk[nblk - 1] = 190 * 2 + 1; /* in place: the realloc's own stack, as in front of any heap */
  void *r3 = rh_realloc(r2, 5000);
  CHECK(r3 != NULL);
  blk[nblk - 1] = r3;
  asked[nblk - 1] = 5000;
  stk[nblk - 1] = 5000 * 2 + 1; /* moved: a new block */
  void *h = rh_malloc(5 << 20);
  add(h, 5 << 20);
  void *h2 = rh_realloc(h, 12 << 20); /* a huge block's pages moved */
  CHECK(h2 != NULL);
  blk[nblk - 1] = h2;
  asked[nblk - 1] = 12 << 20;
  stk[nblk - 1] = (12u << 20) * 2 + 1;
  expect_live("after realloc");

  /* half freed by their owner, some by other threads */
  for (size_t i = 0; i < nblk; i += 2) {
    rh_free(blk[i]);
    blk[i] = NULL;
  }
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, remote_free, (void *)(uintptr_t)(i + 1)) == 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  expect_live("after frees");

  /* a double free: told, with the block's last record, and skipped */
  void *d = rh_malloc(48);
  rh_free(d);
  rh_free(d);
  CHECK(atomic_load(&bad_kind) == RH_HEAP_DOUBLE_FREE && atomic_load(&bad_with) && bad_was.block == d &&
        bad_was.size == 48 && bad_was.stack_id == 97);
  void *d1 = rh_malloc(48), *d2 = rh_malloc(48);
  CHECK(d1 != d2); /* the block went on the free list once */
  add(d1, 48);
  add(d2, 48);

  /* inside a small block, and inside a huge one past its first 4 MiB */
  atomic_store(&bad_kind, 0);
  void *s = rh_malloc(64);
  add(s, 64);
  rh_free((char *)s + 16);
  CHECK(atomic_load(&bad_kind) == RH_HEAP_INVALID_FREE && atomic_load(&bad_with) && bad_was.block == s);
  atomic_store(&bad_kind, 0);
  rh_free((char *)h2 + (6 << 20));
  CHECK(atomic_load(&bad_kind) == RH_HEAP_INVALID_FREE && atomic_load(&bad_with) && bad_was.block == h2 &&
        bad_was.size == (size_t)12 << 20);

  /* a realloc of a freed block: refused, told, the block untouched */
  void *f = rh_malloc(300);
  rh_free(f);
  atomic_store(&bad_kind, 0);
  errno = 0;
  CHECK(rh_realloc(f, 600) == NULL && errno == EINVAL);
  CHECK(atomic_load(&bad_kind) == RH_HEAP_DOUBLE_FREE && bad_was.block == f);
  expect_live("after bad frees");

  rh_heap_record_stats_t st;
  CHECK(rh_heap_record_stats(&st));
  CHECK(st.double_frees == 2 && st.invalid_frees == 2);
  CHECK(st.reallocs == 3);
  /* every block freed: nothing live, the peak above zero */
  for (size_t i = 0; i < nblk; i++) {
    void *p = blk[i];
    forget(p);
    rh_free(p);
  }
  nblk = 0;
  expect_live("at the end");
  CHECK(rh_heap_record_stats(&st) && st.peak_live_bytes > (12u << 20) && st.size_hist[4] > 0);
  printf("ok\n");
  return 0;
}
