/* fork() while other threads allocate: the child (only the forking thread
 * lives on) must find every lock free and every block intact, free blocks
 * that other threads allocated before the fork, allocate a lot, even start
 * threads; the parent carries on unharmed. Repeated, forking from the main
 * thread and from a short-lived thread. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "reheap/alloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

enum { WORKERS = 4, PRE = 300, ROUNDS = 6, XSLOTS = 64 };

typedef struct {
  unsigned char *p;
  size_t size;
} blk_t;

/* Blocks each worker made before the first fork, never touched after. */
static blk_t pre[WORKERS][PRE];
/* Blocks the main thread made. */
static blk_t pre_main[PRE];
/* Lock-free exchange between workers (no mutex may be held across fork). */
static _Atomic(uintptr_t) xslot[XSLOTS];
static _Atomic int stop;
static _Atomic unsigned long long worker_ops;
static pthread_barrier_t ready;

static unsigned char pb_at(uintptr_t addr, size_t size, size_t i) {
  uint64_t x = (uint64_t)addr ^ ((uint64_t)size << 20) ^ (uint64_t)i * 0x9E3779B1u;
  return (unsigned char)(x ^ (x >> 11) ^ (x >> 23));
}

static unsigned char pb(const void *p, size_t size, size_t i) {
  return pb_at((uintptr_t)p, size, i);
}

/* small blocks: every byte; bigger ones: every 61st byte (and the last),
 * every 4 KiB above 256 KiB */
static size_t step_of(size_t size) {
  return size > 256 * KiB ? 4096 : size > 4 * KiB ? 61 : 1;
}

static void fill(blk_t *b) {
  size_t st = step_of(b->size);
  for (size_t i = 0; i < b->size; i += st) b->p[i] = pb(b->p, b->size, i);
  b->p[b->size - 1] = pb(b->p, b->size, b->size - 1);
}

static void check_blk(const blk_t *b, const char *where) {
  CHECKF(b->p != NULL && rh_owns(b->p), "%s", where);
  CHECKF(rh_usable_size(b->p) >= b->size, "%s", where);
  size_t st = step_of(b->size);
  for (size_t i = 0; i < b->size; i += st)
    CHECKF(b->p[i] == pb(b->p, b->size, i), "%s: block %p size %zu byte %zu", where,
           (void *)b->p, b->size, i);
  CHECK(b->p[b->size - 1] == pb(b->p, b->size, b->size - 1));
}

/* Reallocates b to nn bytes: the prefix keeps the old block's pattern. */
static void realloc_blk(blk_t *b, size_t nn, const char *where) {
  check_blk(b, where);
  uintptr_t old = (uintptr_t)b->p;
  size_t osize = b->size;
  unsigned char *q = rh_realloc(b->p, nn);
  CHECKF(q != NULL, "%s: realloc %zu -> %zu", where, osize, nn);
  size_t keep = nn < osize ? nn : osize;
  size_t st = step_of(osize);
  for (size_t i = 0; i < keep; i += st)
    CHECKF(q[i] == pb_at(old, osize, i), "%s: realloc %zu -> %zu lost byte %zu", where, osize,
           nn, i);
  b->p = q;
  b->size = nn;
  fill(b);
}

static size_t pick(uint64_t *rs) {
  uint64_t r = rnd(rs) % 1000;
  if (r < 850) return 1 + rnd(rs) % 512;
  if (r < 980) return 513 + rnd(rs) % (100 * KiB);
  if (r < 997) return 100 * KiB + rnd(rs) % (2 * MiB);
  return 3 * MiB + rnd(rs) % (2 * MiB);
}

static blk_t make(size_t n) {
  blk_t b = {rh_malloc(n), n};
  CHECKF(b.p != NULL, "malloc %zu", n);
  fill(&b);
  return b;
}

static void drop(blk_t *b, const char *where) {
  check_blk(b, where);
  rh_free(b->p);
  b->p = NULL;
}

/* A block travels through xslot as its pointer with its size in front. */
static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  uint64_t rs = 0xABCDEFull + (uint64_t)id * 31337u;
  for (int i = 0; i < PRE; i++) pre[id][i] = make(pick(&rs) % (300 * KiB) + 1);
  pthread_barrier_wait(&ready);
  enum { LOCAL = 32 };
  blk_t local[LOCAL];
  memset(local, 0, sizeof local);
  unsigned long long n = 0;
  while (!atomic_load(&stop)) {
    blk_t *b = &local[rnd(&rs) % LOCAL];
    uint64_t r = rnd(&rs) % 10;
    if (b->p == NULL) {
      *b = make(pick(&rs));
    } else if (r < 4) {
      drop(b, "worker free");
    } else if (r < 6) {
      realloc_blk(b, pick(&rs), "worker realloc");
    } else {
      /* hand over: a block of at least 16 bytes carries its size */
      check_blk(b, "worker handover");
      size_t nn = 16 + rnd(&rs) % 2000;
      unsigned char *p = rh_malloc(nn);
      CHECK(p != NULL);
      memcpy(p, &nn, sizeof nn);
      memset(p + sizeof nn, (int)(nn & 0xff), nn - sizeof nn);
      uintptr_t old = atomic_exchange(&xslot[rnd(&rs) % XSLOTS], (uintptr_t)p);
      if (old) {
        unsigned char *o = (unsigned char *)old;
        size_t on;
        memcpy(&on, o, sizeof on);
        CHECK(on >= 16 && on < 2016);
        for (size_t i = sizeof on; i < on; i++) CHECK(o[i] == (unsigned char)(on & 0xff));
        rh_free(o);
      }
    }
    n++;
  }
  for (int i = 0; i < LOCAL; i++)
    if (local[i].p) drop(&local[i], "worker end");
  atomic_fetch_add(&worker_ops, n);
  return NULL;
}

/* Shared by the child's threads (made in the child: no lock crosses fork). */
static pthread_mutex_t child_lock;
static blk_t child_shared[64];

static void *child_thread(void *arg) {
  uint64_t rs = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
  for (int i = 0; i < 2000; i++) {
    blk_t b = make(pick(&rs) % (200 * KiB) + 1);
    if (i % 2) {
      drop(&b, "child thread");
    } else {
      /* swap with the shared array: freed by another child thread */
      check_blk(&b, "child thread swap in");
      pthread_mutex_lock(&child_lock);
      blk_t *s = &child_shared[rnd(&rs) % 64];
      blk_t old = *s;
      *s = b;
      pthread_mutex_unlock(&child_lock);
      if (old.p) drop(&old, "child thread swap out");
    }
  }
  return NULL;
}

/* What the child does; returns only on success. */
static void child_work(int round) {
  uint64_t rs = 777u + (uint64_t)round;
  /* everything made before the fork is intact, and can be freed here,
   * whoever made it */
  for (int w = 0; w < WORKERS; w++)
    for (int i = 0; i < PRE; i++) check_blk(&pre[w][i], "child: pre-fork worker block");
  for (int i = 0; i < PRE; i++) check_blk(&pre_main[i], "child: pre-fork main block");
  for (int w = 0; w < WORKERS; w++)
    for (int i = 0; i < PRE; i += 1 + round % 2) drop(&pre[w][i], "child: free worker block");
  for (int i = 0; i < PRE; i += 2) drop(&pre_main[i], "child: free main block");
  /* blocks in flight between workers */
  for (int s = 0; s < XSLOTS; s++) {
    uintptr_t p = atomic_exchange(&xslot[s], 0);
    if (p) rh_free((void *)p);
  }
  /* a lot of work of every size */
  enum { N = 1000 };
  static blk_t held[N];
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < N; i++) held[i] = make(pick(&rs));
    for (int i = 0; i < N; i++) {
      realloc_blk(&held[i], pick(&rs), "child realloc");
    }
    for (int i = 0; i < N; i++) drop(&held[i], "child free");
  }
  void *a = rh_aligned_alloc(8 * MiB, 100);
  CHECK(a != NULL && ((uintptr_t)a & (8 * MiB - 1)) == 0);
  rh_free(a);
  /* threads in the child: heaps made or reused, every global lock free.
   * (Not under qemu-user 7.2, the aarch64 build's: its own bookkeeping of
   * threads breaks on a thread started in a child of a threaded process,
   * an assertion in plugins/core.c, whatever the program.) */
  CHECK(pthread_mutex_init(&child_lock, NULL) == 0);
  pthread_t th[3];
  int nth = getenv("RH_TEST_NO_CHILD_THREADS") != NULL ? 0 : 3;
  for (int i = 0; i < nth; i++)
    CHECK(pthread_create(&th[i], NULL, child_thread, (void *)(intptr_t)(i + 1)) == 0);
  for (int i = 0; i < nth; i++) CHECK(pthread_join(th[i], NULL) == 0);
  for (int i = 0; i < 64; i++)
    if (child_shared[i].p) drop(&child_shared[i], "child shared");
  rh_heap_collect();
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  CHECK(st.frees <= st.allocations);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Forks, runs child_work in the child, waits (bounded) for it. */
static void fork_and_check(int round) {
  /* allocate right before forking too */
  blk_t tmp[50];
  uint64_t rs = 4242u + (uint64_t)round;
  for (int i = 0; i < 50; i++) tmp[i] = make(pick(&rs));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    for (int i = 0; i < 50; i++) drop(&tmp[i], "child: block made just before fork");
    child_work(round);
    _exit(0);
  }
  /* the parent goes on allocating meanwhile */
  for (int i = 0; i < 50; i++) check_blk(&tmp[i], "parent after fork");
  int status = 0;
  uint64_t deadline = now_ms() + 40000;
  for (;;) {
    for (int i = 0; i < 50; i += 3) {
      drop(&tmp[i], "parent while waiting");
      tmp[i] = make(pick(&rs));
    }
    pid_t r = waitpid(pid, &status, WNOHANG);
    CHECK(r >= 0);
    if (r == pid) break;
    if (now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      CHECKF(0, "round %d: child still running after 40 s (deadlock?)", round);
    }
    usleep(2000);
  }
  CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "round %d: child %s %d", round,
         WIFEXITED(status) ? "exited with" : "killed by signal",
         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  for (int i = 0; i < 50; i++) drop(&tmp[i], "parent after child");
}

static void *forker_thread(void *arg) {
  fork_and_check((int)(intptr_t)arg);
  return NULL;
}

int main(void) {
  CHECK(pthread_barrier_init(&ready, NULL, WORKERS + 1) == 0);
  uint64_t rs = 1;
  for (int i = 0; i < PRE; i++) pre_main[i] = make(pick(&rs) % (300 * KiB) + 1);
  pthread_t th[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
  pthread_barrier_wait(&ready);
  for (int round = 0; round < ROUNDS; round++) {
    usleep(20000); /* let the workers get busy */
    if (round % 2 == 0) {
      fork_and_check(round);
    } else {
      pthread_t f;
      CHECK(pthread_create(&f, NULL, forker_thread, (void *)(intptr_t)round) == 0);
      CHECK(pthread_join(f, NULL) == 0);
    }
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < WORKERS; i++) CHECK(pthread_join(th[i], NULL) == 0);
  /* the parent's copies of the pre-fork blocks are still whole */
  for (int w = 0; w < WORKERS; w++)
    for (int i = 0; i < PRE; i++) drop(&pre[w][i], "parent: pre-fork worker block");
  for (int i = 0; i < PRE; i++) drop(&pre_main[i], "parent: pre-fork main block");
  for (int s = 0; s < XSLOTS; s++) {
    uintptr_t p = atomic_exchange(&xslot[s], 0);
    if (p) rh_free((void *)p);
  }
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  CHECKF(st.allocations == st.frees, "allocations %llu frees %llu",
         (unsigned long long)st.allocations, (unsigned long long)st.frees);
  CHECK(worker_ops > 1000);
  printf("test_fork: ok (%d rounds, %llu worker ops)\n", ROUNDS, (unsigned long long)worker_ops);
  return 0;
}
