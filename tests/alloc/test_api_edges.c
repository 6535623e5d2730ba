/* Edges of every public function of the heap: zero and enormous sizes,
 * errno, size-class boundaries, alignment from 1 byte to 1 GiB, realloc
 * across every block kind, calloc zeroing of reused memory, rh_owns. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "reheap/alloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* Above this, blocks are written and read back sparsely (head, tail and a
 * few bytes every MiB) so that gigabyte blocks cost no real memory. */
#define DENSE_LIMIT (8 * MiB)

static unsigned char pat(size_t i, unsigned seed) {
  return (unsigned char)((i * 131u + (i >> 8) * 7u + seed * 29u + 1u) & 0xff);
}

static void fill_range(unsigned char *p, size_t from, size_t to, unsigned seed) {
  for (size_t i = from; i < to; i++) p[i] = pat(i, seed);
}

static int range_ok(const unsigned char *p, size_t from, size_t to, unsigned seed) {
  for (size_t i = from; i < to; i++)
    if (p[i] != pat(i, seed)) {
      fprintf(stderr, "byte %zu of block %p: %#x, want %#x\n", i, (const void *)p, p[i],
              pat(i, seed));
      return 0;
    }
  return 1;
}

/* Writes a pattern over [0, n): all of it when small, else sparse. */
static void fill(void *vp, size_t n, unsigned seed) {
  unsigned char *p = vp;
  if (n <= DENSE_LIMIT) {
    fill_range(p, 0, n, seed);
    return;
  }
  fill_range(p, 0, 64 * KiB, seed);
  for (size_t off = MiB; off + 64 < n; off += MiB) fill_range(p, off, off + 64, seed);
  fill_range(p, n - 64 * KiB, n, seed);
}

static int verify(const void *vp, size_t n, unsigned seed) {
  const unsigned char *p = vp;
  if (n <= DENSE_LIMIT) return range_ok(p, 0, n, seed);
  if (!range_ok(p, 0, 64 * KiB, seed)) return 0;
  for (size_t off = MiB; off + 64 < n; off += MiB)
    if (!range_ok(p, off, off + 64, seed)) return 0;
  return range_ok(p, n - 64 * KiB, n, seed);
}

/* Like verify, but only the first n bytes of a block that was filled with a
 * possibly larger length (the sparse layout depends only on offsets, so a
 * prefix of a sparsely filled block is checked where it was written). */
static int verify_prefix(const void *vp, size_t filled, size_t n, unsigned seed) {
  const unsigned char *p = vp;
  if (n > filled) n = filled;
  if (filled <= DENSE_LIMIT) return range_ok(p, 0, n, seed);
  size_t head = n < 64 * KiB ? n : 64 * KiB;
  if (!range_ok(p, 0, head, seed)) return 0;
  for (size_t off = MiB; off + 64 < filled && off + 64 <= n; off += MiB)
    if (!range_ok(p, off, off + 64, seed)) return 0;
  return 1;
}

static int all_zero(const void *vp, size_t n) {
  const unsigned char *p = vp;
  if (n <= DENSE_LIMIT) {
    for (size_t i = 0; i < n; i++)
      if (p[i]) return 0;
    return 1;
  }
  for (size_t i = 0; i < 64 * KiB; i++)
    if (p[i] || p[n - 1 - i]) return 0;
  for (size_t off = MiB; off < n; off += 4096)
    if (p[off]) return 0;
  return 1;
}

/* A block of n asked bytes: non-NULL, 16-aligned, usable >= n, owned,
 * writable over its whole usable size. */
static void check_block(void *p, size_t n, unsigned seed) {
  CHECKF(p != NULL, "size %zu", n);
  CHECKF(((uintptr_t)p & (RH_MIN_ALIGN - 1)) == 0, "size %zu at %p", n, p);
  size_t u = rh_usable_size(p);
  CHECKF(u >= n, "size %zu usable %zu", n, u);
  CHECK(rh_owns(p));
  CHECK(rh_owns((char *)p + u - 1));
  fill(p, u, seed);
  CHECKF(verify(p, u, seed), "size %zu usable %zu", n, u);
}

static void one_size(size_t n, unsigned seed) {
  void *p = rh_malloc(n);
  check_block(p, n, seed);
  rh_free(p);
}

static void test_malloc_zero(void) {
  enum { N = 200 };
  void *ps[N];
  for (int i = 0; i < N; i++) {
    ps[i] = rh_malloc(0);
    CHECK(ps[i] != NULL);
    CHECK(rh_owns(ps[i]));
    CHECK(((uintptr_t)ps[i] & 15) == 0);
    for (int j = 0; j < i; j++) CHECK(ps[j] != ps[i]);
  }
  for (int i = 0; i < N; i++) rh_free(ps[i]);
  /* calloc with a zero factor is a zero-size block too */
  void *a = rh_calloc(0, 100), *b = rh_calloc(100, 0), *c = rh_calloc(0, 0);
  CHECK(a && b && c && a != b && b != c && a != c);
  rh_free(a);
  rh_free(b);
  rh_free(c);
}

static void test_sizes(void) {
  /* every byte count up to 8 KiB */
  for (size_t n = 1; n <= 8 * KiB; n++) one_size(n, (unsigned)n);
  /* around every size class boundary */
  size_t nc = rh_size_class_count();
  CHECK(nc > 0 && nc < 1000);
  rh_class_stats_t *cls = calloc(nc, sizeof *cls);
  CHECK(cls != NULL);
  rh_heap_stats_t st;
  rh_heap_stats(&st, cls, nc);
  for (size_t c = 0; c < nc; c++) {
    size_t b = cls[c].block_size;
    CHECK(b >= 16);
    for (size_t n = b - 2; n <= b + 2; n++) {
      void *p = rh_malloc(n);
      check_block(p, n, (unsigned)(c + n));
      /* a size of exactly a class's block size gets that class */
      if (n == b) CHECKF(rh_usable_size(p) == b, "size %zu usable %zu", n, rh_usable_size(p));
      rh_free(p);
    }
  }
  free(cls);
  /* large and huge edges (64 KiB, 2 MiB, segment 4 MiB) */
  static const size_t big[] = {
      64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 100 * KiB, 128 * KiB + 1, 1 * MiB,
      2 * MiB - 64 * KiB, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 2 * MiB + 4096,
      4 * MiB - 4096, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 8 * MiB + 12345,
      32 * MiB, 100 * MiB + 1,
  };
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) one_size(big[i], (unsigned)i);
  /* many live at once, of mixed sizes: no two overlap */
  enum { M = 600 };
  void *ps[M];
  size_t ns[M];
  for (int i = 0; i < M; i++) {
    ns[i] = (i % 7 == 0) ? 70 * KiB + (size_t)i * 13 : 1 + ((size_t)i * 97) % 3000;
    ps[i] = rh_malloc(ns[i]);
    CHECK(ps[i] != NULL);
    fill(ps[i], ns[i], (unsigned)i);
  }
  for (int i = 0; i < M; i++) CHECKF(verify(ps[i], ns[i], (unsigned)i), "block %d", i);
  for (int i = 0; i < M; i += 2) rh_free(ps[i]);
  for (int i = 1; i < M; i += 2) CHECKF(verify(ps[i], ns[i], (unsigned)i), "block %d", i);
  for (int i = 1; i < M; i += 2) rh_free(ps[i]);
}

static void expect_enomem_malloc(size_t n) {
  errno = 0;
  void *p = rh_malloc(n);
  CHECKF(p == NULL, "rh_malloc(%zu) gave %p", n, p);
  CHECKF(errno == ENOMEM, "rh_malloc(%zu): errno %d", n, errno);
}

static void test_huge_failures(void) {
  expect_enomem_malloc(SIZE_MAX);
  expect_enomem_malloc(SIZE_MAX - 1);
  expect_enomem_malloc((size_t)PTRDIFF_MAX);
  expect_enomem_malloc((size_t)PTRDIFF_MAX + 1);
  expect_enomem_malloc(SIZE_MAX / 2);
  expect_enomem_malloc((size_t)1 << 62); /* below the cap: the OS refuses */
  /* calloc overflow */
  errno = 0;
  CHECK(rh_calloc(SIZE_MAX / 2, 3) == NULL);
  CHECK(errno == ENOMEM);
  errno = 0;
  CHECK(rh_calloc(3, SIZE_MAX / 2) == NULL);
  CHECK(errno == ENOMEM);
  errno = 0;
  CHECK(rh_calloc((size_t)1 << 32, (size_t)1 << 32) == NULL);
  CHECK(errno == ENOMEM);
  errno = 0;
  CHECK(rh_calloc(1, SIZE_MAX) == NULL);
  CHECK(errno == ENOMEM);
  /* the heap still works after refusing */
  one_size(100, 1);
}

static void calloc_reuse(size_t n) {
  unsigned char *p = rh_malloc(n);
  CHECK(p != NULL);
  memset(p, 0xAA, rh_usable_size(p) < DENSE_LIMIT ? rh_usable_size(p) : DENSE_LIMIT);
  rh_free(p);
  /* twice: the second is more likely to land on the block just freed */
  for (int k = 0; k < 2; k++) {
    unsigned char *q = rh_calloc(1, n);
    CHECK(q != NULL);
    CHECKF(all_zero(q, n), "calloc(1, %zu) not zeroed (reused=%d)", n, q == p);
    memset(q, 0xAA, n < DENSE_LIMIT ? n : DENSE_LIMIT);
    rh_free(q);
  }
  /* the same total split as count * size */
  if (n % 8 == 0) {
    unsigned char *q = rh_calloc(n / 8, 8);
    CHECK(q != NULL);
    CHECKF(all_zero(q, n), "calloc(%zu, 8)", n / 8);
    rh_free(q);
  }
}

static void test_calloc(void) {
  static const size_t sizes[] = {1, 8, 16, 24, 48, 100, 1000, 1024, 1025, 4096, 8000,
                                 30000, 64 * KiB, 64 * KiB + 8, 200 * KiB, 1 * MiB,
                                 2 * MiB, 3 * MiB, 10 * MiB, 40 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) calloc_reuse(sizes[i]);
  /* dirty many blocks of a class, free them, calloc them all back */
  enum { N = 300 };
  void *ps[N];
  for (size_t sz = 32; sz <= 96 * KiB; sz = sz * 3 + 8) {
    for (int i = 0; i < N; i++) {
      ps[i] = rh_malloc(sz);
      CHECK(ps[i] != NULL);
      memset(ps[i], 0x5C, sz);
    }
    for (int i = 0; i < N; i++) rh_free(ps[i]);
    for (int i = 0; i < N; i++) {
      ps[i] = rh_calloc(sz, 1);
      CHECK(ps[i] != NULL);
      CHECKF(all_zero(ps[i], sz), "calloc(%zu, 1) #%d", sz, i);
      memset(ps[i], 0x5C, sz);
    }
    for (int i = 0; i < N; i++) rh_free(ps[i]);
  }
}

static void test_reallocarray(void) {
  unsigned char *p = rh_reallocarray(NULL, 10, 10);
  CHECK(p != NULL && rh_usable_size(p) >= 100);
  fill(p, 100, 3);
  errno = 0;
  CHECK(rh_reallocarray(p, SIZE_MAX / 2, 3) == NULL);
  CHECK(errno == ENOMEM);
  errno = 0;
  CHECK(rh_reallocarray(p, (size_t)1 << 33, (size_t)1 << 33) == NULL);
  CHECK(errno == ENOMEM);
  CHECK(verify(p, 100, 3)); /* untouched by the failures */
  p = rh_reallocarray(p, 1000, 10);
  CHECK(p != NULL && rh_usable_size(p) >= 10000);
  CHECK(verify(p, 100, 3));
  p = rh_reallocarray(p, 3, 5);
  CHECK(p != NULL && rh_usable_size(p) >= 15);
  CHECK(verify(p, 15, 3));
  rh_free(p);
}

static void test_realloc_basics(void) {
  /* NULL acts as malloc */
  void *p = rh_realloc(NULL, 40);
  check_block(p, 40, 1);
  rh_free(p);
  p = rh_realloc(NULL, 0);
  CHECK(p != NULL);
  rh_free(p);
  p = rh_realloc(NULL, 300 * KiB);
  check_block(p, 300 * KiB, 2);
  rh_free(p);
  /* size 0 frees and returns NULL, for every kind of block */
  static const size_t kinds[] = {1, 500, 5000, 70 * KiB, 1 * MiB, 5 * MiB};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    rh_heap_stats_t a, b;
    p = rh_malloc(kinds[i]);
    CHECK(p != NULL);
    rh_heap_stats(&a, NULL, 0);
    CHECK(rh_realloc(p, 0) == NULL);
    rh_heap_stats(&b, NULL, 0);
    CHECKF(b.frees == a.frees + 1, "realloc(p of %zu, 0) did not free", kinds[i]);
  }
  /* too big: NULL, ENOMEM, the block is left as it was */
  p = rh_malloc(200);
  fill(p, 200, 9);
  errno = 0;
  CHECK(rh_realloc(p, SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(rh_realloc(p, (size_t)PTRDIFF_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(rh_realloc(p, (size_t)1 << 62) == NULL && errno == ENOMEM);
  CHECK(verify(p, 200, 9));
  CHECK(rh_usable_size(p) >= 200);
  rh_free(p);
  /* a huge block refused a growth keeps its contents too */
  p = rh_malloc(6 * MiB);
  fill(p, 6 * MiB, 4);
  errno = 0;
  CHECK(rh_realloc(p, (size_t)1 << 62) == NULL && errno == ENOMEM);
  CHECK(verify(p, 6 * MiB, 4));
  rh_free(p);
}

/* 16 B -> 100 KiB -> 10 MiB -> 64 MiB -> 1 KiB and other chains: at every
 * step the common prefix survives and the new size is usable. */
static void realloc_chain(const size_t *sizes, size_t n, unsigned seed) {
  size_t cur = sizes[0];
  unsigned char *p = rh_malloc(cur);
  CHECK(p != NULL);
  fill(p, cur, seed);
  for (size_t i = 1; i < n; i++) {
    size_t next = sizes[i];
    unsigned char *q = rh_realloc(p, next);
    CHECKF(q != NULL, "realloc %zu -> %zu", cur, next);
    CHECKF(rh_usable_size(q) >= next, "realloc %zu -> %zu: usable %zu", cur, next,
           rh_usable_size(q));
    CHECK(rh_owns(q) && rh_owns(q + next - 1));
    CHECKF(verify_prefix(q, cur, next, seed), "realloc %zu -> %zu lost data", cur, next);
    seed++;
    fill(q, next, seed);
    CHECKF(verify(q, next, seed), "after realloc %zu -> %zu", cur, next);
    p = q;
    cur = next;
  }
  rh_free(p);
}

static void test_realloc_transitions(void) {
  static const size_t a[] = {16, 100 * KiB, 10 * MiB, 64 * MiB, 1 * KiB};
  realloc_chain(a, sizeof a / sizeof a[0], 1);
  static const size_t b[] = {1, 2, 3, 17, 33, 1000, 1024, 1025, 4000, 70000, 65536, 65537,
                             2 * MiB, 2 * MiB + 1, 3 * MiB, 5 * MiB, 4 * MiB, 12 * MiB,
                             1536 * KiB, 900 * KiB, 100, 8};
  realloc_chain(b, sizeof b / sizeof b[0], 50);
  static const size_t c[] = {64 * MiB, 48 * MiB, 20 * MiB, 3 * MiB, 2 * MiB + 4096, 1 * MiB,
                             300 * KiB, 64 * KiB, 10 * KiB, 24, 40 * MiB};
  realloc_chain(c, sizeof c / sizeof c[0], 90);
  /* growth by small steps through every kind */
  unsigned char *p = NULL;
  size_t cur = 0;
  for (size_t n = 8; n < 24 * MiB; n += n / 3 + 8) {
    p = rh_realloc(p, n);
    CHECK(p != NULL && rh_usable_size(p) >= n);
    if (cur) CHECKF(verify_prefix(p, cur, cur, 7), "grow to %zu", n);
    fill(p, n, 7);
    cur = n;
  }
  rh_free(p);
  /* shrinking a little keeps the block where it is (usable/2 rule aside, not
   * required by the API: only contents are asserted) */
  p = rh_malloc(1000);
  fill(p, 1000, 8);
  unsigned char *q = rh_realloc(p, 900);
  CHECK(q != NULL && verify(q, 900, 8));
  rh_free(q);
}

static int is_aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void aligned_one(size_t align, size_t size, int use_posix, unsigned seed) {
  void *p = NULL;
  if (use_posix) {
    void *out = (void *)&p; /* a sentinel that must be overwritten */
    int rc = rh_posix_memalign(&out, align, size);
    CHECKF(rc == 0, "posix_memalign(%zu, %zu) = %d", align, size, rc);
    p = out;
  } else {
    errno = 0;
    p = rh_aligned_alloc(align, size);
    CHECKF(p != NULL, "aligned_alloc(%zu, %zu) errno %d", align, size, errno);
  }
  CHECKF(is_aligned(p, align), "align %zu size %zu at %p", align, size, p);
  CHECKF(is_aligned(p, RH_MIN_ALIGN), "align %zu size %zu at %p", align, size, p);
  size_t u = rh_usable_size(p);
  CHECKF(u >= size, "align %zu size %zu usable %zu", align, size, u);
  CHECK(rh_owns(p));
  if (size) CHECK(rh_owns((char *)p + size - 1));
  CHECK(rh_owns((char *)p + u - 1));
  fill(p, u, seed);
  CHECKF(verify(p, u, seed), "align %zu size %zu", align, size);
  rh_free(p);
}

static void test_alignment(void) {
  for (size_t align = 1; align <= RH_MAX_ALIGN; align <<= 1) {
    size_t sizes[5] = {1, align - 1, align, align + 1, 3 * align};
    for (int k = 0; k < 5; k++) {
      aligned_one(align, sizes[k], 0, (unsigned)(align + (size_t)k));
      if (align >= sizeof(void *)) aligned_one(align, sizes[k], 1, (unsigned)(align + (size_t)k));
    }
  }
  /* all sizes of the size-class range for every class-served alignment */
  for (size_t align = 32; align <= 64 * KiB; align <<= 1)
    for (size_t size = 1; size <= 70 * KiB; size += size / 5 + 7) {
      void *p = rh_aligned_alloc(align, size);
      CHECKF(p != NULL && is_aligned(p, align), "aligned_alloc(%zu, %zu) = %p", align, size, p);
      CHECK(rh_usable_size(p) >= size);
      memset(p, 0x3C, size);
      rh_free(p);
    }
  /* many live aligned blocks at once, interleaved with plain ones */
  enum { N = 400 };
  void *ps[N];
  size_t al[N], sz[N];
  for (int i = 0; i < N; i++) {
    al[i] = (size_t)1 << (4 + i % 18); /* 16 .. 2 MiB */
    sz[i] = 1 + ((size_t)i * 211) % 5000;
    ps[i] = (i % 3 == 2) ? rh_malloc(sz[i]) : rh_aligned_alloc(al[i], sz[i]);
    CHECK(ps[i] != NULL);
    if (i % 3 != 2) CHECK(is_aligned(ps[i], al[i]));
    fill(ps[i], sz[i], (unsigned)i);
  }
  for (int i = 0; i < N; i++) CHECKF(verify(ps[i], sz[i], (unsigned)i), "aligned block %d", i);
  for (int i = 0; i < N; i++) rh_free(ps[i]);
}

static void test_alignment_errors(void) {
  static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 100, 4097, 65535, 65537, 3 * MiB,
                               (size_t)3 << 30, SIZE_MAX, SIZE_MAX / 2 + 2};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = rh_aligned_alloc(bad[i], 64);
    CHECKF(p == NULL && errno == EINVAL, "aligned_alloc(%zu): %p errno %d", bad[i], p, errno);
    void *out = (void *)&out;
    int rc = rh_posix_memalign(&out, bad[i], 64);
    CHECKF(rc == EINVAL, "posix_memalign(%zu) = %d", bad[i], rc);
    CHECK(out == (void *)&out); /* untouched */
  }
  /* posix_memalign wants a multiple of sizeof(void *) */
  for (size_t a = 1; a < sizeof(void *); a <<= 1) {
    void *out = (void *)&out;
    CHECK(rh_posix_memalign(&out, a, 16) == EINVAL);
    CHECK(out == (void *)&out);
  }
  /* above RH_MAX_ALIGN */
  for (size_t a = RH_MAX_ALIGN << 1; a != 0 && a <= ((size_t)1 << 62); a <<= 4) {
    errno = 0;
    CHECK(rh_aligned_alloc(a, 1) == NULL && errno == EINVAL);
    void *out = (void *)&out;
    CHECK(rh_posix_memalign(&out, a, 1) == EINVAL);
    CHECK(out == (void *)&out);
  }
  /* a valid alignment with an impossible size */
  errno = 0;
  CHECK(rh_aligned_alloc(64, SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(rh_aligned_alloc(4 * MiB, SIZE_MAX - 4 * MiB) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(rh_aligned_alloc(16, (size_t)PTRDIFF_MAX) == NULL && errno == ENOMEM);
  void *out = (void *)&out;
  errno = 1234;
  CHECK(rh_posix_memalign(&out, 64, SIZE_MAX) == ENOMEM);
  CHECK(out == (void *)&out);
  CHECK(errno == 1234); /* posix_memalign reports through its result only */
  CHECK(rh_posix_memalign(&out, 1 * GiB, (size_t)1 << 62) == ENOMEM);
  CHECK(out == (void *)&out);
}

static int global_var;
static const char global_const[64] = "reheap";

static void test_owns(void) {
  CHECK(!rh_owns(NULL));
  int local = 0;
  CHECK(!rh_owns(&local));
  CHECK(!rh_owns(&global_var));
  CHECK(!rh_owns(global_const));
  CHECK(!rh_owns("literal"));
  CHECK(!rh_owns((void *)(uintptr_t)test_owns));
  CHECK(!rh_owns((void *)(uintptr_t)1));
  CHECK(!rh_owns((void *)UINTPTR_MAX));
  CHECK(!rh_owns((void *)((uintptr_t)1 << 47)));
  /* every kind of block, and pointers inside it */
  static const size_t sizes[] = {1, 16, 100, 1024, 5000, 64 * KiB, 64 * KiB + 1,
                                 1 * MiB, 2 * MiB, 2 * MiB + 1, 9 * MiB};
  void *held[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    char *p = rh_malloc(n);
    CHECK(p != NULL);
    CHECKF(rh_owns(p), "size %zu", n);
    CHECKF(rh_owns(p + n / 2), "size %zu", n);
    CHECKF(rh_owns(p + n - 1), "size %zu", n);
    if (n > 1) CHECKF(rh_owns(p + 1), "size %zu", n);
    held[i] = p;
  }
  for (size_t a = 32; a <= 256 * MiB; a <<= 3) {
    char *p = rh_aligned_alloc(a, 100);
    CHECK(p != NULL);
    CHECKF(rh_owns(p) && rh_owns(p + 99) && rh_owns(p + 1), "align %zu", a);
    rh_free(p);
  }
  char *c = rh_calloc(1000, 1000);
  CHECK(c && rh_owns(c) && rh_owns(c + 999999));
  rh_free(c);
  /* foreign memory, taken while reheap holds plenty of its own */
  static const size_t msz[] = {4096, 64 * KiB, 1 * MiB, 5 * MiB, 64 * MiB};
  for (size_t i = 0; i < sizeof msz / sizeof msz[0]; i++) {
    char *m = mmap(NULL, msz[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECKF(!rh_owns(m) && !rh_owns(m + msz[i] / 2) && !rh_owns(m + msz[i] - 1), "mmap %zu",
           msz[i]);
    munmap(m, msz[i]);
  }
  static const size_t gsz[] = {1, 64, 1000, 100 * KiB, 1 * MiB, 16 * MiB};
  for (size_t i = 0; i < sizeof gsz / sizeof gsz[0]; i++) {
    char *g = malloc(gsz[i]); /* glibc's: the test links only rh_ names */
    CHECK(g != NULL);
    CHECKF(!rh_owns(g) && !rh_owns(g + gsz[i] - 1), "glibc malloc %zu", gsz[i]);
    free(g);
  }
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    CHECK(rh_owns(held[i]));
    rh_free(held[i]);
  }
}

static void test_free_variants(void) {
  rh_free(NULL);
  rh_free_sized(NULL, 0);
  rh_free_sized(NULL, 100);
  CHECK(rh_usable_size(NULL) == 0);
  rh_heap_stats_t a, b;
  static const size_t sizes[] = {0, 1, 48, 1024, 4000, 100 * KiB, 3 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    for (int wrong = 0; wrong < 3; wrong++) {
      void *p = rh_malloc(sizes[i]);
      CHECK(p != NULL);
      rh_heap_stats(&a, NULL, 0);
      /* right size, a wrong small one, a wrong big one: all harmless */
      size_t hint = wrong == 0 ? sizes[i] : wrong == 1 ? 1 : sizes[i] * 7 + 100000;
      rh_free_sized(p, hint);
      rh_heap_stats(&b, NULL, 0);
      CHECK(b.frees == a.frees + 1);
    }
  }
  /* the memory freed with a hint is reusable and intact afterwards */
  for (int i = 0; i < 1000; i++) {
    void *p = rh_malloc(64);
    fill(p, 64, (unsigned)i);
    void *q = rh_malloc(64);
    fill(q, 64, (unsigned)i + 1);
    rh_free_sized(p, 64);
    CHECK(verify(q, 64, (unsigned)i + 1));
    rh_free_sized(q, 3);
  }
}

int main(void) {
  /* rh_owns before the heap has made anything: nothing is reheap's */
  int early = 0;
  CHECK(!rh_owns(&early));
  test_malloc_zero();
  test_sizes();
  test_huge_failures();
  test_calloc();
  test_reallocarray();
  test_realloc_basics();
  test_realloc_transitions();
  test_alignment();
  test_alignment_errors();
  test_owns();
  test_free_variants();
  printf("test_api_edges: ok\n");
  return 0;
}
