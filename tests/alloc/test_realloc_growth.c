/* A buffer grown a little at a time, as strings and vectors grow: its
 * contents survive every step across the small, large (page run) and huge
 * ranges and their edges; a large block grows in place when the slices
 * after it are free; live bytes come back when it is freed. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "reheap/alloc.h"

static void grow(size_t step_div, size_t extra, size_t limit, size_t *in_place) {
  size_t n = 16;
  unsigned char *p = rh_malloc(n);
  CHECK(p != NULL);
  memset(p, 0x5A, n);
  while (n < limit) {
    size_t nn = n + n / step_div + extra;
    unsigned char *q = rh_realloc(p, nn);
    CHECK(q != NULL);
    CHECKF(rh_usable_size(q) >= nn, "usable %zu < %zu", rh_usable_size(q), nn);
    for (size_t i = 0; i < n; i += 4093) CHECKF(q[i] == 0x5A, "byte %zu lost growing %zu->%zu", i, n, nn);
    CHECKF(q[n - 1] == 0x5A, "last byte lost growing %zu->%zu", n, nn);
    if (q == p && n > (64u << 10)) (*in_place)++;
    memset(q + n, 0x5A, nn - n);
    p = q;
    n = nn;
  }
  /* and back down across the same edges */
  while (n > 16) {
    n = n / 3 + 1;
    unsigned char *q = rh_realloc(p, n);
    CHECK(q != NULL);
    CHECKF(q[0] == 0x5A && q[n - 1] == 0x5A, "contents lost shrinking to %zu", n);
    p = q;
  }
  rh_free(p);
}

int main(void) {
  rh_heap_stats_t before, after;
  rh_heap_collect();
  rh_heap_stats(&before, NULL, 0);
  size_t in_place = 0;
  grow(16, 100, (size_t)3 << 20, &in_place);   /* ~6% steps, string-like */
  grow(2, 0, (size_t)40 << 20, &in_place);     /* x1.5, vector-like */
  grow(64, 1, (size_t)5 << 20, &in_place);     /* ~1.5% steps */
  CHECKF(in_place > 0, "no large block ever grew in place");
  rh_heap_collect();
  rh_heap_stats(&after, NULL, 0);
  CHECKF(after.live_bytes == before.live_bytes, "live bytes %llu before, %llu after",
         (unsigned long long)before.live_bytes, (unsigned long long)after.live_bytes);
  CHECK(after.allocations - before.allocations == after.frees - before.frees);
  puts("realloc growth: ok");
  return 0;
}
