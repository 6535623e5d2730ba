/* The multi-threaded program of the attach test: worker threads allocate,
 * fill, check and free blocks without pause (every block's bytes are
 * checked before its free: a tracker that broke a block would show),
 * and fork children that allocate too, until the stop file appears. When
 * the trigger file appears the main thread leaks known blocks (3 of 4096
 * bytes, in attach_leak_now) and writes the ack file; all goes on, so
 * that a report is taken of a program at work.
 * usage: attach_load DIR */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scrub.h"

#define WORKERS 4
#define SLOTS 256

static const char *dir;
static atomic_int stop;
static atomic_long corrupt, forks_failed;

static int exists(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

static void touch(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f) fclose(f);
}

static void *worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  unsigned char *slot[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  while (!atomic_load(&stop)) {
    for (int r = 0; r < 1000; r++) {
      seed = seed * 1103515245u + 12345u;
      unsigned k = (seed >> 8) % SLOTS;
      if (slot[k] != NULL) {
        for (size_t i = 0; i < len[k]; i++)
          if (slot[k][i] != (unsigned char)(k + i)) atomic_fetch_add(&corrupt, 1);
        free(slot[k]);
      }
      len[k] = 1 + (seed >> 16) % 700;
      slot[k] = (seed & 1) ? malloc(len[k]) : calloc(1, len[k]);
      if ((seed & 6) == 0) slot[k] = realloc(slot[k], len[k] += 100);
      for (size_t i = 0; i < len[k]; i++) slot[k][i] = (unsigned char)(k + i);
    }
  }
  for (int k = 0; k < SLOTS; k++) free(slot[k]);
  return NULL;
}

__attribute__((noinline)) static void attach_leak_now(void) {
  for (int i = 0; i < 3; i++) {
    char *volatile p = malloc(4096);
    memset(p, i, 4096);
    p = NULL;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  dir = argv[1];
  pthread_t t[WORKERS];
  for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  touch("ready");
  int leaked = 0, children = 0;
  while (!exists("stop")) {
    /* a child that allocates and exits, now and then */
    pid_t c = fork();
    if (c == 0) {
      void *p[100];
      for (int i = 0; i < 100; i++) p[i] = malloc(64 + i);
      for (int i = 0; i < 100; i++) free(p[i]);
      _exit(0);
    }
    int st = 0;
    if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) atomic_fetch_add(&forks_failed, 1);
    children++;
    if (!leaked && exists("trigger")) {
      attach_leak_now();
      scrub();
      leaked = 1;
      touch("ack");
    }
    usleep(20000);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
  printf("attach_load: %d workers, %s, corrupt blocks %ld, failed children %ld\n", WORKERS,
         leaked ? "leaked" : "did not leak", atomic_load(&corrupt), atomic_load(&forks_failed));
  return children > 0 ? 0 : 1;
}
