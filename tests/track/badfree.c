/* Frees a block twice (in a function of its own, so the report can name
 * it) and goes on: under reheap's tracker the second free is reported and
 * skipped, where glibc alone would abort.
 *
 * "badfree inside": frees addresses that are no block's start instead: 32
 * bytes into a block, a misaligned one, and a realloc of one 48 bytes in;
 * each is reported and skipped, and the block itself is then freed well.
 * "badfree threads": blocks freed by a thread other than the one that
 * allocated them, which the tracker must find. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) char *make_block(void) { return malloc(77); }

__attribute__((noinline)) void free_twice(char *volatile p) {
  free(p);
  free(p);
}

__attribute__((noinline)) char *make_big_block(void) { return malloc(100); }

/* offsets the compiler cannot see, so that it lets the bad frees be built */
static volatile int at32 = 32, at3 = 3, at48 = 48;

__attribute__((noinline)) void free_inside(char *volatile p) {
  free(p + at32);
  free(p + at3);
}

__attribute__((noinline)) void *realloc_inside(char *volatile p) { return realloc(p + at48, 10); }

#define CROSS 10000
static void *blocks[CROSS];

static void *free_others(void *arg) {
  (void)arg;
  for (int i = 0; i < CROSS; i++) free(blocks[i]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "inside") == 0) {
    char *p = make_big_block();
    free_inside(p);
    if (realloc_inside(p) != NULL) return 1;
    free(p);
  } else if (argc > 1 && strcmp(argv[1], "threads") == 0) {
    for (int i = 0; i < CROSS; i++) blocks[i] = malloc(16 + i % 100);
    pthread_t t;
    if (pthread_create(&t, NULL, free_others, NULL) != 0 || pthread_join(t, NULL) != 0) return 1;
  } else {
    free_twice(make_block());
  }
  puts("badfree: still running");
  return 0;
}
