/* A program with known leaks at known places, for the tracker's tests:
 * leak_small leaks 3 blocks of 100 bytes, leak_big one of 5000 bytes, and
 * freed_fine frees all it takes. Built with frame pointers and -g; the
 * SITE comments mark the lines the reports must name. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *leak_small(void) {
  void *p = malloc(100); /* SITE leak_small */
  memset(p, 1, 100);
  return p;
}

__attribute__((noinline)) void *leak_big(void) {
  void *p = calloc(1, 5000); /* SITE leak_big */
  return p;
}

__attribute__((noinline)) void freed_fine(void) {
  for (int i = 0; i < 1000; i++) {
    char *p = malloc((size_t)i + 1);  /* SITE fine_malloc */
    p = realloc(p, (size_t)i + 100); /* SITE fine_realloc */
    free(p);
  }
}

void *volatile keep[4];

int main(void) {
  for (int i = 0; i < 3; i++) keep[i] = leak_small(); /* SITE main_small */
  keep[3] = leak_big(); /* SITE main_big */
  freed_fine();
  for (int i = 0; i < 4; i++) keep[i] = NULL; /* lost */
  return 0;
}
