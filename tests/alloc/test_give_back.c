/* Memory given back: what an exiting thread frees stays for the next
 * thread (no new mapping), and goes back to the OS after a purge delay when
 * none takes it; a freed huge mapping serves the next huge block (cut to
 * size, or moved into a bigger one, or grown into by realloc) without a map
 * call, is purged when it waits, and reads as zeros then; freed mappings
 * past the cache's budget are purged at once, and so are free slices past
 * theirs; rh_heap_collect gives back everything idle. Counts from rh_heap_stats. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "reheap/alloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static rh_heap_stats_t snap(void) {
  rh_heap_stats_t s;
  rh_heap_stats(&s, NULL, 0);
  return s;
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* A running thread's slow paths do the purges that are due: a large block
 * takes the slow path every time. */
static void drive(unsigned ms) {
  uint64_t end = now_ms() + ms;
  while (now_ms() < end) {
    void *p = rh_malloc(100 * KiB);
    CHECK(p != NULL);
    rh_free(p);
    struct timespec d = {0, 1000000};
    nanosleep(&d, NULL);
  }
}

#define BLOCKS 4000
static void *churn_and_exit(void *arg) {
  (void)arg;
  static void *b[BLOCKS];
  for (int i = 0; i < BLOCKS; i++) {
    b[i] = rh_malloc(4 * KiB);
    CHECK(b[i] != NULL);
    memset(b[i], 1, 4 * KiB);
  }
  for (int i = 0; i < BLOCKS; i++) rh_free(b[i]);
  return NULL;
}

static void run_thread(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, churn_and_exit, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
}

static void test_thread_exit(void) {
  rh_heap_collect();
  rh_heap_stats_t s0 = snap();
  run_thread();
  rh_heap_stats_t s1 = snap();
  /* its 16 MiB, freed just before it ended, wait for the next thread */
  CHECK(s1.committed_bytes >= s0.committed_bytes + 8 * MiB);
  /* the next thread takes them: its heap, and no new mapping */
  run_thread();
  rh_heap_stats_t s2 = snap();
  CHECK(s2.heaps_reused > s1.heaps_reused);
  CHECK(s2.os_map_calls == s1.os_map_calls);
  /* none comes: after a few purge delays they are back with the OS */
  drive(400);
  rh_heap_stats_t s3 = snap();
  CHECK(s3.purged_bytes >= s2.purged_bytes + 8 * MiB);
  CHECK(s3.committed_bytes <= s0.committed_bytes + 4 * MiB);
}

static bool all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 512)
    if (p[i] != 0) return false;
  return p[n - 1] == 0;
}

static void test_huge_cache(void) {
  rh_heap_collect();
  /* freed, then taken again for a smaller block: no map call */
  unsigned char *p = rh_malloc(8 * MiB);
  CHECK(p != NULL);
  memset(p, 0xAB, 8 * MiB);
  rh_free(p);
  rh_heap_stats_t s1 = snap();
  unsigned char *q = rh_malloc(6 * MiB);
  CHECK(q != NULL);
  rh_heap_stats_t s2 = snap();
  CHECK(s2.os_map_calls == s1.os_map_calls);
  memset(q, 0xCD, 6 * MiB);
  rh_free(q);
  /* waiting in the cache, it is purged: then it reads as zeros */
  rh_heap_stats_t s3 = snap();
  drive(300);
  rh_heap_stats_t s4 = snap();
  CHECK(s4.purged_bytes >= s3.purged_bytes + 4 * MiB);
  unsigned char *z = rh_calloc(1, 6 * MiB);
  CHECK(z != NULL && all_zero(z, 6 * MiB));
  rh_free(z);
  z = rh_calloc(3, 2 * MiB + 1000); /* every byte of a reused mapping */
  CHECK(z != NULL && all_zero(z, 3 * (2 * MiB + 1000)));
  rh_free(z);
}

static void test_huge_moves(void) {
  rh_heap_collect();
  /* a block grown by realloc takes a cached mapping's place */
  unsigned char *big = rh_malloc(16 * MiB);
  unsigned char *b = rh_malloc(3 * MiB);
  CHECK(big != NULL && b != NULL);
  memset(big, 1, 16 * MiB);
  for (size_t i = 0; i < 3 * MiB; i++) b[i] = (unsigned char)(i * 7);
  rh_free(big);
  rh_heap_stats_t s1 = snap();
  b = rh_realloc(b, 12 * MiB);
  CHECK(b != NULL);
  rh_heap_stats_t s2 = snap();
  CHECK(s2.os_map_calls == s1.os_map_calls);
  for (size_t i = 0; i < 3 * MiB; i += 4093) CHECK(b[i] == (unsigned char)(i * 7));
  rh_free(b);
  rh_heap_collect();
  /* a bigger block starts with a smaller freed mapping's pages: the cache
   * gives it up, and it is not counted twice */
  unsigned char *small = rh_malloc(6 * MiB);
  CHECK(small != NULL);
  memset(small, 2, 6 * MiB);
  rh_free(small);
  rh_heap_stats_t s3 = snap();
  unsigned char *large = rh_malloc(10 * MiB);
  CHECK(large != NULL);
  memset(large, 3, 10 * MiB);
  rh_heap_stats_t s4 = snap();
  CHECK(s4.os_unmap_calls == s3.os_unmap_calls + 1);
  CHECK(s4.committed_bytes <= s3.committed_bytes + 5 * MiB);
  rh_free(large);
  rh_heap_collect();
}

static void test_budget(void) {
  rh_heap_collect();
  rh_heap_stats_t s0 = snap();
  /* with little live memory, the cache keeps at most its floor resident:
   * the rest of what is freed is purged at once */
  enum { N = 4 };
  void *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = rh_malloc(20 * MiB);
    CHECK(p[i] != NULL);
    memset(p[i], 5, 20 * MiB);
  }
  for (int i = 0; i < N; i++) rh_free(p[i]);
  rh_heap_stats_t s1 = snap();
  CHECK(s1.purged_bytes >= s0.purged_bytes + 40 * MiB);
  CHECK(s1.committed_bytes <= s0.committed_bytes + 40 * MiB);
  /* and collect gives back the rest */
  rh_heap_collect();
  rh_heap_stats_t s2 = snap();
  CHECK(s2.committed_bytes <= s0.committed_bytes + 1 * MiB);
}

/* Free memory kept warm in the heap's own segments is bounded too: past
 * the live bytes (at least 64 MiB), a freed page goes back at once. */
static void test_free_slices_bound(void) {
  rh_heap_collect();
  rh_heap_stats_t s0 = snap();
  enum { N = 5000 };
  static void *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = rh_malloc(40 * KiB);
    CHECK(p[i] != NULL);
    memset(p[i], 9, 40 * KiB);
  }
  rh_heap_stats_t s1 = snap();
  CHECK(s1.committed_bytes >= s0.committed_bytes + 180 * MiB);
  for (int i = 0; i < N; i++) rh_free(p[i]);
  rh_heap_stats_t s2 = snap();
  CHECK(s2.committed_bytes <= s0.committed_bytes + 72 * MiB);
  CHECK(s2.purged_bytes >= s1.purged_bytes + 100 * MiB);
  rh_heap_collect();
}

int main(void) {
  test_thread_exit();
  test_huge_cache();
  test_huge_moves();
  test_budget();
  test_free_slices_bound();
  puts("test_give_back: ok");
  return 0;
}
