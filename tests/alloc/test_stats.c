/* rh_heap_stats and rh_heap_collect: exact counts in a single-threaded
 * program, live bytes that follow what is held, OS calls for huge blocks,
 * per-class counters, committed memory given back on collect. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reheap/alloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static rh_heap_stats_t snap(void) {
  rh_heap_stats_t s;
  memset(&s, 0xEE, sizeof s); /* every field must be written */
  rh_heap_stats(&s, NULL, 0);
  return s;
}

static void check_sane(const rh_heap_stats_t *s) {
  CHECK(s->frees <= s->allocations);
  CHECK(s->peak_live_bytes >= s->live_bytes);
  CHECK(s->peak_committed_bytes >= s->committed_bytes);
  CHECK(s->reserved_bytes >= s->committed_bytes);
  CHECK(s->os_unmap_calls <= s->os_map_calls);
}

/* N malloc+free of one size: exactly N more allocations and frees; while
 * held, live bytes grow by at least the sum asked. */
static void counts_for(size_t size, int n) {
  void **ps = malloc((size_t)n * sizeof *ps);
  CHECK(ps != NULL);
  rh_heap_stats_t a = snap();
  for (int i = 0; i < n; i++) {
    ps[i] = rh_malloc(size);
    CHECK(ps[i] != NULL);
    memset(ps[i], 1, size < 4096 ? size : 4096);
  }
  rh_heap_stats_t b = snap();
  check_sane(&b);
  CHECKF(b.allocations - a.allocations == (uint64_t)n, "size %zu: %llu allocations for %d", size,
         (unsigned long long)(b.allocations - a.allocations), n);
  CHECKF(b.frees == a.frees, "size %zu", size);
  CHECKF(b.live_bytes >= a.live_bytes + (uint64_t)n * size, "size %zu: live %llu -> %llu",
         size, (unsigned long long)a.live_bytes, (unsigned long long)b.live_bytes);
  CHECK(b.peak_live_bytes >= b.live_bytes);
  CHECK(b.committed_bytes > 0 && b.reserved_bytes > 0);
  for (int i = 0; i < n; i++) rh_free(ps[i]);
  rh_heap_stats_t c = snap();
  check_sane(&c);
  CHECKF(c.allocations - a.allocations == (uint64_t)n, "size %zu", size);
  CHECKF(c.frees - a.frees == (uint64_t)n, "size %zu: %llu frees for %d", size,
         (unsigned long long)(c.frees - a.frees), n);
  CHECKF(c.live_bytes == a.live_bytes, "size %zu: live %llu, was %llu", size,
         (unsigned long long)c.live_bytes, (unsigned long long)a.live_bytes);
  CHECK(c.peak_live_bytes >= b.live_bytes);
  free(ps);
}

static void test_counts(void) {
  static const size_t sizes[] = {0, 1, 16, 48, 100, 1000, 1024, 1025, 5000, 40000, 64 * KiB,
                                 64 * KiB + 1, 300 * KiB, 2 * MiB, 2 * MiB + 1, 5 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    counts_for(sizes[i], sizes[i] > 1 * MiB ? 7 : 1000);
  /* calloc, aligned and realloc count too */
  rh_heap_stats_t a = snap();
  void *p = rh_calloc(10, 10);
  void *q = rh_aligned_alloc(4096, 100);
  void *r = NULL;
  CHECK(rh_posix_memalign(&r, 256, 1000) == 0);
  rh_heap_stats_t b = snap();
  CHECK(b.allocations - a.allocations == 3);
  rh_free(p);
  rh_free(q);
  rh_free(r);
  rh_heap_stats_t c = snap();
  CHECK(c.frees - a.frees == 3);
  CHECK(c.live_bytes == a.live_bytes);
  /* a moving realloc is one allocation and one free */
  p = rh_malloc(32);
  a = snap();
  p = rh_realloc(p, 5000);
  b = snap();
  CHECK(b.allocations - a.allocations == 1 && b.frees - a.frees == 1);
  rh_free(p);
}

static void test_os_calls(void) {
  /* no freed mapping waiting in a cache: the next huge block maps anew */
  rh_heap_collect();
  rh_heap_stats_t a = snap();
  void *p = rh_malloc(20 * MiB);
  CHECK(p != NULL);
  memset(p, 7, 1 * MiB);
  rh_heap_stats_t b = snap();
  check_sane(&b);
  CHECK(b.os_map_calls > a.os_map_calls);
  CHECK(b.reserved_bytes >= a.reserved_bytes + 20 * MiB);
  CHECK(b.committed_bytes >= a.committed_bytes + 20 * MiB);
  CHECK(b.live_bytes >= a.live_bytes + 20 * MiB);
  CHECK(b.peak_live_bytes >= a.live_bytes + 20 * MiB);
  CHECK(b.peak_committed_bytes >= b.committed_bytes);
  rh_free(p);
  rh_heap_stats_t c = snap();
  check_sane(&c);
  CHECK(c.live_bytes == a.live_bytes);
  /* the mapping goes back to the OS at once, or at the latest when asked
   * to give back everything idle (a heap may keep freed mappings a while) */
  if (c.os_unmap_calls == b.os_unmap_calls) {
    rh_heap_collect();
    c = snap();
    check_sane(&c);
  }
  CHECK(c.os_unmap_calls > b.os_unmap_calls);
  CHECK(c.reserved_bytes + 20 * MiB <= b.reserved_bytes);
  CHECK(c.committed_bytes + 20 * MiB <= b.committed_bytes);
  CHECK(c.live_bytes == a.live_bytes);
  CHECK(c.peak_live_bytes >= b.live_bytes); /* peak is a high-water mark */
  /* an aligned huge block too */
  a = snap();
  p = rh_aligned_alloc(64 * MiB, 3 * MiB);
  CHECK(p != NULL);
  b = snap();
  CHECK(b.os_map_calls > a.os_map_calls);
  rh_free(p);
  c = snap();
  if (c.os_unmap_calls == b.os_unmap_calls) {
    rh_heap_collect();
    c = snap();
  }
  CHECK(c.os_unmap_calls > b.os_unmap_calls);
  CHECK(c.live_bytes == a.live_bytes);
}

static void test_classes(void) {
  size_t nc = rh_size_class_count();
  CHECK(nc >= 2 && nc <= 1000);
  rh_class_stats_t *cl = malloc((nc + 2) * sizeof *cl);
  CHECK(cl != NULL);
  /* entries past nclasses are left alone */
  memset(cl, 0x77, (nc + 2) * sizeof *cl);
  rh_heap_stats_t s;
  rh_heap_stats(&s, cl, nc);
  rh_class_stats_t guard;
  memset(&guard, 0x77, sizeof guard);
  CHECK(memcmp(&cl[nc], &guard, sizeof guard) == 0);
  CHECK(cl[0].block_size == 16);
  for (size_t c = 1; c < nc; c++)
    CHECKF(cl[c].block_size > cl[c - 1].block_size, "class %zu: %zu after %zu", c,
           cl[c].block_size, cl[c - 1].block_size);
  CHECK(cl[nc - 1].block_size == 64 * KiB);
  /* block size == usable size of a block of that size */
  for (size_t c = 0; c < nc; c++) {
    void *p = rh_malloc(cl[c].block_size);
    CHECKF(rh_usable_size(p) == cl[c].block_size, "class %zu", c);
    rh_free(p);
  }
  /* the class holding 48-byte blocks */
  size_t c48 = nc;
  for (size_t c = 0; c < nc; c++)
    if (cl[c].block_size >= 48) {
      c48 = c;
      break;
    }
  CHECK(c48 < nc && cl[c48].block_size == 48);
  rh_heap_stats(&s, cl, nc);
  rh_class_stats_t before = cl[c48];
  rh_class_stats_t before_next = cl[c48 + 1];
  enum { N = 777 };
  void *ps[N];
  for (int i = 0; i < N; i++) ps[i] = rh_malloc(33 + (size_t)(i % 16)); /* 33..48 */
  rh_heap_stats(&s, cl, nc);
  CHECK(cl[c48].allocations - before.allocations == N);
  CHECK(cl[c48].frees == before.frees);
  CHECK(cl[c48].live_blocks - before.live_blocks == N);
  CHECK(cl[c48 + 1].allocations == before_next.allocations);
  for (int i = 0; i < N; i++) rh_free(ps[i]);
  rh_heap_stats(&s, cl, nc);
  CHECK(cl[c48].allocations - before.allocations == N);
  CHECK(cl[c48].frees - before.frees == N);
  CHECK(cl[c48].live_blocks == before.live_blocks);
  /* per-class sums match the totals' share of small blocks */
  uint64_t sum_a = 0, sum_f = 0;
  for (size_t c = 0; c < nc; c++) {
    CHECK(cl[c].frees <= cl[c].allocations);
    CHECK(cl[c].live_blocks == cl[c].allocations - cl[c].frees);
    sum_a += cl[c].allocations;
    sum_f += cl[c].frees;
  }
  CHECK(sum_a <= s.allocations && sum_f <= s.frees);
  /* nclasses smaller than the count, and NULL classes */
  memset(cl, 0x77, (nc + 2) * sizeof *cl);
  rh_heap_stats(&s, cl, 3);
  CHECK(cl[0].block_size == 16 && cl[2].block_size == 48);
  CHECK(memcmp(&cl[3], &guard, sizeof guard) == 0);
  rh_heap_stats(NULL, cl, nc); /* NULL out: nothing to do, no crash */
  free(cl);
}

static void test_collect(void) {
  const size_t bs = 1 * KiB;
  const size_t n = (200 * MiB) / bs;
  void **ps = malloc(n * sizeof *ps);
  CHECK(ps != NULL);
  /* start from a heap with nothing idle: earlier tests' freed memory stays
   * backed until a purge delay passes */
  rh_heap_collect();
  rh_heap_stats_t a = snap();
  for (size_t i = 0; i < n; i++) {
    ps[i] = rh_malloc(bs);
    CHECK(ps[i] != NULL);
    memset(ps[i], (int)(i & 0xff), bs);
  }
  rh_heap_stats_t b = snap();
  CHECKF(b.committed_bytes >= a.committed_bytes + 190 * MiB, "committed %llu -> %llu",
         (unsigned long long)a.committed_bytes, (unsigned long long)b.committed_bytes);
  CHECK(b.live_bytes >= a.live_bytes + 200 * MiB);
  CHECK(b.peak_committed_bytes >= b.committed_bytes);
  for (size_t i = 0; i < n; i++) rh_free(ps[i]);
  rh_heap_collect();
  rh_heap_stats_t c = snap();
  check_sane(&c);
  CHECK(c.live_bytes == a.live_bytes);
  CHECKF(c.committed_bytes + 180 * MiB <= b.committed_bytes,
         "committed %llu MiB held, %llu MiB after free+collect",
         (unsigned long long)(b.committed_bytes >> 20), (unsigned long long)(c.committed_bytes >> 20));
  CHECKF(c.committed_bytes <= a.committed_bytes + 8 * MiB, "committed %llu before, %llu after",
         (unsigned long long)a.committed_bytes, (unsigned long long)c.committed_bytes);
  CHECK(c.os_purge_calls > b.os_purge_calls || c.os_unmap_calls > b.os_unmap_calls);
  CHECK(c.peak_committed_bytes >= b.committed_bytes);
  /* the heap works after collecting, and again */
  for (size_t i = 0; i < 10000; i++) {
    ps[i] = rh_malloc(bs);
    CHECK(ps[i] != NULL);
    memset(ps[i], 3, bs);
  }
  for (size_t i = 0; i < 10000; i++) rh_free(ps[i]);
  rh_heap_collect();
  rh_heap_collect();
  free(ps);
}

int main(void) {
  rh_heap_stats_t s0 = snap();
  CHECK(s0.allocations == 0 && s0.frees == 0 && s0.live_bytes == 0);
  void *first = rh_malloc(10);
  rh_heap_stats_t s1 = snap();
  CHECK(s1.threads == 1);
  CHECK(s1.allocations == 1);
  CHECK(s1.committed_bytes > 0 && s1.reserved_bytes > 0 && s1.os_map_calls > 0);
  rh_free(first);
  test_counts();
  test_os_calls();
  test_classes();
  test_collect();
  rh_heap_stats_t e = snap();
  check_sane(&e);
  CHECK(e.allocations == e.frees);
  CHECK(e.live_bytes == 0);
  CHECK(e.threads == 1);
  printf("test_stats: ok\n");
  return 0;
}
