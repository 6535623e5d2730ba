/* Sampling by bytes (--track=sample): each thread counts down a random
 * number of bytes, drawn from an exponential distribution of mean T, and
 * the allocation that takes the count past zero is recorded. Every byte is
 * then equally likely to be the one that triggers a sample (a Poisson
 * process over the bytes allocated, as jemalloc's and tcmalloc's heap
 * profilers do), so a block of s bytes is sampled with probability
 * p = 1 - exp(-s/T), and counting each sampled block 1/p times (its bytes
 * s/p times) makes every total an unbiased estimate of the exact one. */
#include <math.h>

#include "track/track_internal.h"

uint64_t track_sample_mean;

/* xorshift64*: fast, and only its top bits are used */
static uint64_t next_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

int64_t track_sample_draw(uint64_t *state) {
  /* u in (0, 1]: -log(u) is then finite and >= 0 */
  double u = (double)((next_random(state) >> 11) + 1) * 0x1.0p-53;
  double n = -log(u) * (double)track_sample_mean;
  return n < 1.0 ? 1 : n > 0x1.0p62 ? (int64_t)1 << 62 : (int64_t)n;
}

double track_sample_weight(size_t size) {
  if (track_sample_mean == 0) return 1.0;
  /* (a block of 0 bytes is never what takes the count past zero) */
  return -1.0 / expm1(-(double)(size ? size : 1) / (double)track_sample_mean);
}

int64_t track_sample_round(double v, uint64_t *state) {
  double whole = floor(v);
  double u = (double)(next_random(state) >> 11) * 0x1.0p-53;
  return (int64_t)whole + (u < v - whole);
}
