/* Frees an address that lies in no block (inside a static buffer, and
 * misaligned, so the tracker knows it cannot be one the heap handed out
 * before tracking began): reported, skipped, and the program goes on. */
#include <stdio.h>
#include <stdlib.h>

static char buffer[64];

__attribute__((noinline)) void free_nowhere(char *volatile p) { free(p); }

int main(void) {
  free_nowhere(buffer + 1);
  puts("nowhere: still running");
  return 0;
}
