/* Allocates a known amount, keeps it, and waits, so that a test can read
 * its live counters with `reheap stat` while it runs: 100 blocks of 1000
 * bytes live, 50 freed. usage: slow SECONDS READY_FILE */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  static void *keep[150];
  for (int i = 0; i < 150; i++) keep[i] = malloc(1000);
  for (int i = 100; i < 150; i++) free(keep[i]);
  FILE *f = fopen(argv[2], "w"); /* tell the test we are ready */
  if (f == NULL) return 1;
  fclose(f);
  sleep((unsigned)atoi(argv[1]));
  for (int i = 0; i < 100; i++) free(keep[i]);
  return 0;
}
