/* Threads call a function in a tight loop while another thread enables and
 * disables its hook thousands of times: no crash, every call returns what
 * the original or the detour returns, and the detour's count matches. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "reheap/hook.h"

#define CHECK(e)                                                        \
  do {                                                                  \
    if (!(e)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #e); \
      abort();                                                          \
    }                                                                   \
  } while (0)

#define CALLERS 3
#ifndef SWITCHES
#define SWITCHES 500 /* each an enable and a disable: 1000 switches */
#endif

typedef long (*fn_t)(long);
extern long fx_rip_load(long), fx_jmp_inside(long);

static fn_t orig;
static _Atomic long detour_calls;
static _Atomic int stop;
static long base;

static long detour(long x) {
  atomic_fetch_add_explicit(&detour_calls, 1, memory_order_relaxed);
  return orig(x) + 1000000;
}

typedef struct counts {
  long plain, hooked, wrong;
} counts_t;

static void *caller(void *arg) {
  counts_t *c = arg;
  fn_t volatile f = fx_jmp_inside; /* three instructions under the patch */
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    long r = f(1);
    if (r == base) c->plain++;
    else if (r == base + 1000000) c->hooked++;
    else c->wrong++;
  }
  return NULL;
}

int main(void) {
  base = fx_jmp_inside(1);
  rh_hook_t *h;
  CHECK(rh_hook_create((void *)fx_jmp_inside, (void *)detour, (void **)&orig, &h) == RH_OK);
  pthread_t t[CALLERS];
  counts_t c[CALLERS] = {0};
  for (int i = 0; i < CALLERS; i++) CHECK(pthread_create(&t[i], NULL, caller, &c[i]) == 0);
  for (int i = 0; i < SWITCHES; i++) {
    CHECK(rh_hook_enable(h) == RH_OK);
    CHECK(rh_hook_disable(h) == RH_OK);
  }
  atomic_store(&stop, 1);
  long plain = 0, hooked = 0, wrong = 0;
  for (int i = 0; i < CALLERS; i++) {
    CHECK(pthread_join(t[i], NULL) == 0);
    plain += c[i].plain;
    hooked += c[i].hooked;
    wrong += c[i].wrong;
  }
  CHECK(rh_hook_destroy(h) == RH_OK);
  printf("race: %d switches, %ld calls (%ld hooked), %ld wrong\n", 2 * SWITCHES, plain + hooked, hooked,
         wrong);
  CHECK(wrong == 0);
  CHECK(hooked == atomic_load(&detour_calls));
  CHECK(plain > 0);
  return 0;
}
