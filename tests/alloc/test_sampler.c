/* The heap's sampler (sample.c, in the sampled build): every sample taken
 * is told freed exactly once, whether the owner frees it, another thread
 * does, or realloc moves it; blocks never sampled are never told; the
 * countdown follows the bytes asked for; sizes in classes, large and huge.
 * Linked with the sampled build with the heap's internal checks on. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/check.h"
#include "reheap/alloc.h"

/* the samples live now: an open-addressing set of their addresses */
#define SLOTS (1u << 18)
static void *_Atomic live[SLOTS];
static _Atomic size_t ntaken, nfreed_true, nfreed_calls;
static _Thread_local int in_callback;

static size_t slot_of(void *p) { return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ULL >> 46); }

static int64_t next(void) { return 4096; } /* fixed, so that counts can be checked */

static void taken(void *p, size_t size) {
  CHECK(!in_callback);
  in_callback = 1;
  atomic_fetch_add(&ntaken, 1);
  for (size_t k = slot_of(p);; k = (k + 1) & (SLOTS - 1)) {
    void *empty = NULL;
    if (atomic_compare_exchange_strong(&live[k], &empty, p)) break;
    CHECKF(empty != p, "%p sampled twice while live", p);
  }
  (void)size;
  /* what the callback allocates is not sampled, nor recurses into it */
  void *q = rh_malloc(8192);
  rh_free(q);
  in_callback = 0;
}

/* (slots are never emptied, only marked: a lookup runs to a NULL) */
#define GONE ((void *)1)
static bool freed(void *p) {
  atomic_fetch_add(&nfreed_calls, 1);
  for (size_t k = slot_of(p);; k = (k + 1) & (SLOTS - 1)) {
    void *v = atomic_load(&live[k]);
    if (v == NULL) return false;
    if (v == p && atomic_compare_exchange_strong(&live[k], &v, GONE)) {
      atomic_fetch_add(&nfreed_true, 1);
      return true;
    }
  }
}

static const size_t sizes[] = {16, 100, 1024, 5000, 65537, 300000, 3u << 20};

static void *other_thread_frees(void *arg) {
  void **blocks = arg;
  for (size_t i = 0; i < 10000; i++) rh_free(blocks[i]);
  return NULL;
}

int main(void) {
  rh_heap_sampler_t s = {next, taken, freed};
  CHECK(rh_heap_set_sampler(&s));
  /* 100,000 blocks of 1000 bytes, a countdown of 4096 drawn anew after
   * each sample (what the sample's block went past it is not carried: with
   * exponential draws it need not be): every fifth block */
  static void *b[100000];
  for (size_t i = 0; i < 100000; i++) CHECK((b[i] = rh_malloc(1000)) != NULL);
  size_t t = atomic_load(&ntaken);
  CHECKF(t >= 100000 / 5 - 1 && t <= 100000 / 5 + 1, "%zu samples", t);
  for (size_t i = 0; i < 100000; i++) rh_free(b[i]);
  CHECKF(atomic_load(&nfreed_true) == t, "%zu of %zu samples told freed", atomic_load(&nfreed_true), t);
  /* a page with no sample left frees fast again: freeing unsampled
   * blocks there tells the sampler nothing */
  size_t calls = atomic_load(&nfreed_calls);
  for (int i = 0; i < 1000; i++) {
    void *p = rh_malloc(16); /* 16 bytes: a sample only every 256th */
    rh_free(p);
  }
  CHECKF(atomic_load(&nfreed_calls) - calls < 50, "%zu frees told for 1000 blocks of 16 bytes",
         atomic_load(&nfreed_calls) - calls);
  /* every size, and realloc moving a sample */
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t before = atomic_load(&ntaken), told = atomic_load(&nfreed_true);
    void *p = NULL;
    while (atomic_load(&ntaken) == before) { /* until this size is sampled */
      rh_free(p);
      p = rh_malloc(sizes[i]);
      CHECK(p != NULL);
    }
    memset(p, 7, sizes[i]);
    void *q = rh_realloc(p, sizes[i] * 3);
    CHECK(q != NULL && ((unsigned char *)q)[sizes[i] - 1] == 7);
    CHECKF(atomic_load(&nfreed_true) == told + 1, "size %zu: the realloc'ed sample not forgotten", sizes[i]);
    rh_free(q);
  }
  /* samples freed by another thread than their page's owner */
  static void *c[10000];
  size_t before = atomic_load(&ntaken), told = atomic_load(&nfreed_true);
  for (size_t i = 0; i < 10000; i++) CHECK((c[i] = rh_malloc(512)) != NULL);
  size_t made = atomic_load(&ntaken) - before;
  CHECK(made > 1000);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, other_thread_frees, c) == 0);
  pthread_join(th, NULL);
  CHECKF(atomic_load(&nfreed_true) - told >= made, "%zu of %zu remote samples told freed",
         atomic_load(&nfreed_true) - told, made);
  /* nothing sampled is left untold */
  size_t left = 0;
  for (size_t k = 0; k < SLOTS; k++) left += atomic_load(&live[k]) != NULL && atomic_load(&live[k]) != GONE;
  CHECKF(left == 0, "%zu samples never told freed", left);
  printf("sampler: %zu samples, each told freed once (owner, other thread, realloc, every size)\n",
         atomic_load(&ntaken));
  return 0;
}
