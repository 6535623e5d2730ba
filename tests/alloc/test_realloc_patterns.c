/* Many blocks growing and shrinking side by side, by small and big steps,
 * across every block kind; every byte kept must survive every move, and no
 * block may ever overlap another (their patterns would clash). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reheap/alloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

typedef struct {
  unsigned char *p;
  size_t size;
  uint32_t tag; /* pattern is a function of the tag, not the address: it must
                   follow the block through every move */
} blk_t;

static unsigned char pv(uint32_t tag, size_t i) {
  uint32_t x = tag * 2654435761u ^ (uint32_t)i * 40503u ^ (uint32_t)(i >> 16);
  return (unsigned char)(x ^ (x >> 13));
}

/* dense up to 64 KiB, then every 251st byte and the last 4 KiB */
static size_t stride(size_t size) { return size > 64 * KiB ? 251 : 1; }

static void fill_from(blk_t *b, size_t from) {
  size_t st = stride(b->size);
  size_t i = from - from % st;
  if (i < from) i += st;
  for (; i < b->size; i += st) b->p[i] = pv(b->tag, i);
  size_t tail = b->size > 4 * KiB ? b->size - 4 * KiB : 0;
  if (tail < from) tail = from;
  for (size_t j = tail; j < b->size; j++) b->p[j] = pv(b->tag, j);
}

/* checks [0, upto) of what a block of size `filled` held */
static void check_upto(const blk_t *b, size_t filled, size_t upto, const char *what) {
  size_t st = stride(filled);
  for (size_t i = 0; i < upto; i += st)
    CHECKF(b->p[i] == pv(b->tag, i), "%s: tag %u size %zu (was %zu) byte %zu", what, b->tag,
           b->size, filled, i);
  size_t tail = filled > 4 * KiB ? filled - 4 * KiB : 0;
  for (size_t j = tail; j < upto; j++)
    CHECKF(b->p[j] == pv(b->tag, j), "%s: tag %u size %zu (was %zu) byte %zu", what, b->tag,
           b->size, filled, j);
}

static void resize(blk_t *b, size_t n, const char *what) {
  size_t old = b->size;
  check_upto(b, old, old, what);
  unsigned char *q = rh_realloc(b->p, n);
  CHECKF(q != NULL, "%s: realloc %zu -> %zu", what, old, n);
  CHECKF(rh_usable_size(q) >= n, "%s: realloc %zu -> %zu usable %zu", what, old, n,
         rh_usable_size(q));
  b->p = q;
  b->size = n;
  check_upto(b, old, old < n ? old : n, what);
  /* the part the old block's stride skipped, and the new tail */
  fill_from(b, 0);
}

int main(void) {
  enum { N = 256 };
  static blk_t bl[N];
  uint64_t rs = 0x5EED;
  for (int i = 0; i < N; i++) {
    bl[i].tag = (uint32_t)i + 1;
    bl[i].size = 1 + (size_t)(rnd(&rs) % 64);
    bl[i].p = rh_malloc(bl[i].size);
    CHECK(bl[i].p != NULL);
    fill_from(&bl[i], 0);
  }
  /* 1. everyone grows by small steps (classic string/vector growth), in
   * turns, so neighbours interleave; then shrinks back by halves */
  for (int round = 0; round < 40; round++)
    for (int i = 0; i < N; i++) {
      size_t n = bl[i].size + 1 + bl[i].size / 8 + (size_t)(rnd(&rs) % 32);
      if (n > 300 * KiB) n = 300 * KiB;
      resize(&bl[i], n, "grow by steps");
    }
  for (int round = 0; round < 20; round++)
    for (int i = 0; i < N; i++) resize(&bl[i], bl[i].size / 2 + 1, "shrink by halves");
  /* 2. random jumps between kinds: tiny, class, large, huge (rare) */
  for (int round = 0; round < 4000; round++) {
    blk_t *b = &bl[rnd(&rs) % N];
    uint64_t r = rnd(&rs) % 1000;
    size_t n;
    if (r < 500) n = 1 + rnd(&rs) % 2048;
    else if (r < 850) n = 2048 + rnd(&rs) % (62 * KiB);
    else if (r < 990) n = 64 * KiB + rnd(&rs) % (2 * MiB);
    else n = 2 * MiB + rnd(&rs) % (14 * MiB);
    resize(b, n, "jump");
  }
  /* 3. one block doubling up to 128 MiB and back, page by page at the end */
  blk_t big = {rh_malloc(1), 1, 99999};
  CHECK(big.p != NULL);
  fill_from(&big, 0);
  while (big.size < 128 * MiB) resize(&big, big.size * 2 + 3, "double");
  while (big.size > 64) resize(&big, big.size / 3, "third");
  for (size_t n = 4 * MiB - 8192; n < 4 * MiB + 8192; n += 4093) resize(&big, n, "around 4 MiB");
  for (size_t n = 2 * MiB - 8192; n < 2 * MiB + 8192; n += 4093) resize(&big, n, "around 2 MiB");
  rh_free(big.p);
  /* 4. all still intact */
  for (int i = 0; i < N; i++) {
    check_upto(&bl[i], bl[i].size, bl[i].size, "final");
    rh_free(bl[i].p);
  }
  rh_heap_stats_t s;
  rh_heap_stats(&s, NULL, 0);
  CHECKF(s.allocations == s.frees, "allocations %llu frees %llu",
         (unsigned long long)s.allocations, (unsigned long long)s.frees);
  printf("test_realloc_patterns: ok\n");
  return 0;
}
