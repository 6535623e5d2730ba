/* Threads allocate and free without pause while the main thread forks
 * again and again; each child allocates and frees too and exits. Under the
 * tracker no child may hang on a lock another thread held at the fork.
 * Prints "forker: N children" on success. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static _Atomic int stop;

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

int main(void) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churn, NULL);
  int ok = 0;
  for (int k = 0; k < 100; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < 1000; i++) free(malloc(32 + i));
      _exit(0);
    }
    int status;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      ok++;
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  printf("forker: %d children\n", ok);
  return ok == 100 ? 0 : 1;
}
