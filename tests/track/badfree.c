/* Frees a block twice (in a function of its own, so the report can name
 * it) and goes on: under reheap's tracker the second free is reported and
 * skipped, where glibc alone would abort. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) char *make_block(void) { return malloc(77); }

__attribute__((noinline)) void free_twice(char *volatile p) {
  free(p);
  free(p);
}

int main(void) {
  free_twice(make_block());
  puts("badfree: still running");
  return 0;
}
