/* Threads allocate and free without pause while the main thread forks
 * again and again; each child allocates and frees too and exits. Under the
 * tracker no child may hang on a lock another thread held at the fork, and
 * each child's tracking must go on consistently: the blocks the parent's
 * threads allocated before the fork are known to the child, and its
 * counters move by exactly what it does (read through rh_track_stats,
 * looked up at run time so that this also runs untracked).
 * Prints "forker: N children" on success. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reheap/track.h"

#define KEPT 200

static _Atomic int stop;
static void *kept[2 * KEPT]; /* half from the main thread, half from another */

static void *churn(void *arg) {
  (void)arg;
  void *keep[64] = {0};
  for (unsigned i = 0; !atomic_load(&stop); i++) {
    free(keep[i % 64]);
    keep[i % 64] = malloc(16 + i % 512);
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  return NULL;
}

static void *fill(void *arg) {
  void **to = arg;
  for (int i = 0; i < KEPT; i++) to[i] = malloc(64);
  return NULL;
}

/* In the child: 0 when every count moved as it should. */
static int child(rh_track_stats_fn stats) {
  rh_track_stats_t a, b;
  if (stats != NULL && !stats(&a)) return 4;
  for (int i = 0; i < 2 * KEPT; i++) free(kept[i]);
  for (int i = 0; i < 1000; i++) {
    void *volatile p = malloc(32 + i); /* volatile: the pair may not be folded away */
    free(p);
  }
  if (stats == NULL) return 0;
  if (!stats(&b)) return 4;
  if (b.unknown_frees != a.unknown_frees || b.double_frees != a.double_frees ||
      b.invalid_frees != a.invalid_frees)
    return 5; /* the parent's blocks were not known */
  if (b.frees - a.frees != 2 * KEPT + 1000 || b.allocations - a.allocations != 1000) return 6;
  if (a.live_blocks - b.live_blocks != 2 * KEPT || a.live_bytes - b.live_bytes != 2 * KEPT * 64)
    return 7;
  return 0;
}

int main(void) {
  rh_track_stats_fn stats = (rh_track_stats_fn)dlsym(RTLD_DEFAULT, "rh_track_stats");
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churn, NULL);
  int ok = 0, bad = 0;
  for (int k = 0; k < 100; k++) {
    fill(kept);
    pthread_t f;
    pthread_create(&f, NULL, fill, kept + KEPT);
    pthread_join(f, NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(child(stats));
    int status;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
      if (WEXITSTATUS(status) == 0) ok++;
      else if (bad++ == 0) fprintf(stderr, "forker: a child's counts were off (%d)\n", WEXITSTATUS(status));
    }
    for (int i = 0; i < 2 * KEPT; i++) free(kept[i]);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  printf("forker: %d children%s\n", ok, stats != NULL ? ", counts checked" : "");
  return ok == 100 ? 0 : 1;
}
