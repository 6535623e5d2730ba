/* Reproducer: live_bytes in rh_heap_stats() after rh_realloc of a huge
 * block (> 2 MiB). The heap keeps huge blocks' live bytes as
 * huge_alloc_bytes - huge_free_bytes; a free adds the block's current
 * usable size to huge_free_bytes, so a realloc that changes a huge block's
 * size in place or by moving its pages must account for the change too.
 * Single-threaded, so every count must be exact. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "reheap/alloc.h"

#define MiB ((size_t)1 << 20)

static uint64_t live(void) {
  rh_heap_stats_t s;
  rh_heap_stats(&s, NULL, 0);
  return s.live_bytes;
}

int main(void) {
  uint64_t base = live();

  /* 1. Grow a huge block (pages move): live must follow the new size. */
  char *p = rh_malloc(8 * MiB);
  CHECK(p != NULL);
  p[0] = 1;
  p = rh_realloc(p, 32 * MiB);
  CHECK(p != NULL && p[0] == 1 && rh_usable_size(p) >= 32 * MiB);
  CHECKF(live() >= base + 32 * MiB, "holding a 32 MiB block, live_bytes grew by %llu MiB",
         (unsigned long long)((live() - base) >> 20));
  rh_free(p);
  CHECKF(live() == base, "all freed: live_bytes %lld bytes off",
         (long long)(live() - base));

  /* 2. Shrink a huge block in place: after the free, nothing is live. */
  p = rh_malloc(64 * MiB);
  CHECK(p != NULL);
  p = rh_realloc(p, 8 * MiB);
  CHECK(p != NULL && rh_usable_size(p) >= 8 * MiB);
  CHECKF(live() < base + 16 * MiB, "holding an 8 MiB block, live_bytes grew by %llu MiB",
         (unsigned long long)((live() - base) >> 20));
  rh_free(p);
  CHECKF(live() == base, "all freed: live_bytes %lld MiB above the start",
         (long long)((int64_t)(live() - base) >> 20));
  /* 3. A huge block freed, kept a while for reuse, then given back: the
   * peak must still see two blocks held together at their full size. */
  for (int round = 0; round < 3; round++) {
    p = rh_malloc(64 * MiB);
    CHECK(p != NULL);
    rh_free(p);
    rh_heap_collect(); /* gives the kept mapping back to the OS */
  }
  rh_heap_stats_t before;
  rh_heap_stats(&before, NULL, 0);
  char *a = rh_malloc(300 * MiB), *b = rh_malloc(300 * MiB);
  CHECK(a != NULL && b != NULL);
  rh_free(a);
  rh_free(b);
  rh_heap_stats_t after;
  rh_heap_stats(&after, NULL, 0);
  CHECKF(after.peak_live_bytes >= before.live_bytes + 600 * MiB,
         "two 300 MiB blocks held at once, peak_live_bytes %llu MiB",
         (unsigned long long)(after.peak_live_bytes >> 20));
  printf("test_huge_realloc_stats: ok\n");
  return 0;
}
