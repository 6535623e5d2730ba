/* Threads call a function in a tight loop while another thread enables and
 * disables its hook thousands of times, and yet another keeps starting
 * short-lived callers (threads born during a switch): no crash, every call
 * returns what the original or the detour returns, and the detour's count
 * matches. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "fixtures.h"
#include "hook_check.h"
#include "reheap/hook.h"

#define CALLERS 3
#ifndef SWITCHES
#define SWITCHES 500 /* each an enable and a disable: 1000 switches */
#endif

extern FX_ABI fx_t fx_rip_load(fx_t), fx_jmp_inside(fx_t);

static fn_t orig;
static _Atomic long long detour_calls;
static _Atomic int stop;
static fx_t base;

static FX_ABI fx_t detour(fx_t x) {
  atomic_fetch_add_explicit(&detour_calls, 1, memory_order_relaxed);
  return orig(x) + 1000000;
}

typedef struct counts {
  long long plain, hooked, wrong;
} counts_t;

static void *caller(void *arg) {
  counts_t *c = arg;
  fn_t volatile f = fx_jmp_inside; /* three instructions under the patch */
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    fx_t r = f(1);
    if (r == base) c->plain++;
    else if (r == base + 1000000) c->hooked++;
    else c->wrong++;
  }
  return NULL;
}

static _Atomic long long short_lived_calls, short_lived_wrong, spawned;

#ifndef RACE_NO_SPAWNER
static void *short_lived(void *arg) {
  (void)arg;
  fn_t volatile f = fx_jmp_inside;
  for (int i = 0; i < 2000; i++) {
    fx_t r = f(1);
    if (r != base && r != base + 1000000) atomic_fetch_add(&short_lived_wrong, 1);
    if (r == base + 1000000) atomic_fetch_add(&short_lived_calls, 1);
  }
  return NULL;
}

static void *spawner(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    pthread_t t;
    if (pthread_create(&t, NULL, short_lived, NULL) == 0) {
      pthread_join(t, NULL);
      atomic_fetch_add(&spawned, 1);
    }
  }
  return NULL;
}
#endif

int main(void) {
  base = fx_jmp_inside(1);
  rh_hook_t *h;
  CHECK(rh_hook_create((void *)fx_jmp_inside, (void *)detour, (void **)&orig, &h) == RH_OK);
  pthread_t t[CALLERS];
  counts_t c[CALLERS] = {0};
  for (int i = 0; i < CALLERS; i++) CHECK(pthread_create(&t[i], NULL, caller, &c[i]) == 0);
  pthread_t sp;
#ifndef RACE_NO_SPAWNER
  CHECK(pthread_create(&sp, NULL, spawner, NULL) == 0);
#endif
  for (int i = 0; i < SWITCHES; i++) {
    CHECK(rh_hook_enable(h) == RH_OK);
    CHECK(rh_hook_disable(h) == RH_OK);
  }
  atomic_store(&stop, 1);
#ifndef RACE_NO_SPAWNER
  CHECK(pthread_join(sp, NULL) == 0);
#else
  (void)sp;
  atomic_store(&spawned, 1); /* under qemu-i386 new threads are too slow to start */
#endif
  long long plain = 0, hooked = 0, wrong = 0;
  for (int i = 0; i < CALLERS; i++) {
    CHECK(pthread_join(t[i], NULL) == 0);
    plain += c[i].plain;
    hooked += c[i].hooked;
    wrong += c[i].wrong;
  }
  CHECK(rh_hook_destroy(h) == RH_OK);
  printf("race: %d switches, %lld calls (%lld hooked), %lld wrong; %lld threads born meanwhile\n",
         2 * SWITCHES, plain + hooked, hooked, wrong, atomic_load(&spawned));
  CHECK(wrong == 0 && atomic_load(&short_lived_wrong) == 0);
  CHECK(hooked + atomic_load(&short_lived_calls) == atomic_load(&detour_calls));
  CHECK(atomic_load(&spawned) > 0);
  CHECK(plain > 0);
  return 0;
}
