/* rh-hook-bench: what a hook costs. The time of a call through a hooked
 * function (its detour calling the original through the trampoline)
 * against the same call unhooked, and the time to enable and disable a
 * batch of 1, 10 and 100 hooks while 0 or 16 other threads run. Medians
 * of several rounds. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reheap/hook.h"

typedef long (*fn_t)(long);
extern fn_t hb_targets[100];

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

static fn_t originals[100];
static long detour0(long x) { return originals[0](x); }

static double call_ns(fn_t volatile f, long iters) {
  long sum = 0;
  double t0 = now_ns();
  for (long i = 0; i < iters; i++) sum += f(i);
  double t1 = now_ns();
  if (sum == 42) puts(""); /* keeps the calls */
  return (t1 - t0) / (double)iters;
}

static _Atomic int stop;
static void *spinner(void *arg) {
  (void)arg;
  fn_t volatile f = hb_targets[99];
  long s = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) s += f(1);
  return (void *)s;
}

static long generic_detour(long x) { return x; } /* batches: only the switch is timed */

int main(int argc, char **argv) {
  int rounds = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 3 : 15;
  long iters = rounds == 3 ? 2000000 : 50000000;
  rh_hook_t *h;
  double plain[15], hooked[15];
  for (int r = 0; r < rounds; r++) plain[r] = call_ns(hb_targets[0], iters);
  if (rh_hook_create((void *)hb_targets[0], (void *)detour0, (void **)&originals[0], &h) != RH_OK ||
      rh_hook_enable(h) != RH_OK) {
    fprintf(stderr, "rh-hook-bench: cannot hook the benchmark target\n");
    return 1;
  }
  for (int r = 0; r < rounds; r++) hooked[r] = call_ns(hb_targets[0], iters);
  rh_hook_destroy(h);
  double p = median(plain, rounds), q = median(hooked, rounds);
  printf("## Hooks: cost of a call (ns, median of %d rounds of %ld calls)\n\n", rounds, iters);
  printf("| call | ns | x unhooked |\n|---|---:|---:|\n");
  printf("| unhooked | %.2f | 1.00 |\n| hooked, detour calls the original | %.2f | %.2f |\n\n", p, q,
         q / p);

  static rh_hook_t *batch[100];
  static fn_t orig_any[100];
  for (int i = 0; i < 100; i++)
    if (rh_hook_create((void *)hb_targets[i], (void *)generic_detour, (void **)&orig_any[i],
                       &batch[i]) != RH_OK) {
      fprintf(stderr, "rh-hook-bench: cannot hook target %d\n", i);
      return 1;
    }
  printf("## Hooks: enable and disable a batch (us, median of %d rounds)\n\n", rounds);
  printf("| hooks | other threads | enable us | disable us |\n|---:|---:|---:|---:|\n");
  static const int sizes[3] = {1, 10, 100};
  static const int threads[2] = {0, 16};
  for (int ti = 0; ti < 2; ti++) {
    pthread_t t[16];
    atomic_store(&stop, 0);
    for (int k = 0; k < threads[ti]; k++) pthread_create(&t[k], NULL, spinner, NULL);
    for (int si = 0; si < 3; si++) {
      double en[15], dis[15];
      for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        if (rh_hook_enable_all(batch, (size_t)sizes[si]) != RH_OK) return 1;
        double t1 = now_ns();
        if (rh_hook_disable_all(batch, (size_t)sizes[si]) != RH_OK) return 1;
        double t2 = now_ns();
        en[r] = (t1 - t0) / 1e3;
        dis[r] = (t2 - t1) / 1e3;
      }
      printf("| %d | %d | %.1f | %.1f |\n", sizes[si], threads[ti], median(en, rounds),
             median(dis, rounds));
    }
    atomic_store(&stop, 1);
    for (int k = 0; k < threads[ti]; k++) pthread_join(t[k], NULL);
  }
  for (int i = 0; i < 100; i++) rh_hook_destroy(batch[i]);
  return 0;
}
