/* The tests' one assertion: prints where and what, then aborts. Never
 * compiled out (no NDEBUG dependence), and allocation-free. */
#ifndef RH_TEST_CHECK_H
#define RH_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(expr)                                                            \
  do {                                                                         \
    if (!(expr)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
      fflush(stderr);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Same, with a printf-style note (values that explain the failure). */
#define CHECKF(expr, ...)                                                      \
  do {                                                                         \
    if (!(expr)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #expr); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      fflush(stderr);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* The tests' random numbers (xorshift64): fast, and the same on every run
 * for a given seed, so a failure can be replayed. */
static inline uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

#endif
