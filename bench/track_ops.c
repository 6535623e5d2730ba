/* rh-wl-track-ops: THREADS threads each do OPS malloc+free pairs of small
 * blocks (16-256 bytes, a few live at a time) and the run prints the
 * operations per second; the tracking benchmark runs it untracked and
 * tracked. usage: rh-wl-track-ops THREADS OPS */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long ops;

static void *worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
  void *live[8] = {0};
  for (long i = 0; i < ops; i++) {
    seed = seed * 1103515245u + 12345u;
    int k = (int)(seed >> 16) & 7;
    free(live[k]);
    live[k] = malloc(16 + ((seed >> 8) & 240));
    if (live[k] == NULL) abort();
    *(volatile char *)live[k] = 1;
  }
  for (int k = 0; k < 8; k++) free(live[k]);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  ops = argc > 2 ? atol(argv[2]) : 2500;
  if (threads < 1 || threads > 256 || ops < 1) {
    fprintf(stderr, "usage: rh-wl-track-ops THREADS OPS\n");
    return 2;
  }
  pthread_t t[256];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  /* an operation is a malloc or a free, as the published figure counts them */
  printf("ok ops_per_s=%.0f seconds=%.6f\n", 2.0 * (double)threads * (double)ops / s, s);
  return 0;
}
