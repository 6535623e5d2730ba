/* Run under libreheap.so: the malloc family as a C program sees it.
 * Checks that the process is served by reheap from before main (blocks made
 * in a constructor), in threads that exit with blocks still live, across
 * threads, and inside the C library (strdup, getline, qsort's buffers, ...),
 * and that each function keeps glibc's contract. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static bool (*owns)(const void *);
static void *early;

__attribute__((constructor)) static void before_main(void) { early = malloc(100); }

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

#define THREADS 8
#define PER_THREAD 2000
static void *handoff[THREADS][PER_THREAD];

static void *leave_blocks(void *arg) {
  size_t t = (size_t)arg;
  for (size_t i = 0; i < PER_THREAD; i++) {
    size_t n = 1 + (i * 37 + t) % 3000;
    char *p = malloc(n);
    CHECK(p != NULL && owns(p));
    memset(p, (int)(t + 1), n);
    handoff[t][i] = p;
  }
  return NULL; /* exits with every block still live */
}

int main(void) {
  owns = (bool (*)(const void *))dlsym(RTLD_DEFAULT, "rh_owns");
  CHECK(owns != NULL); /* libreheap.so is in the process */
  CHECK(early != NULL && owns(early));
  free(early);

  /* blocks the C library makes for us */
  char *s = strdup("reheap");
  CHECK(s != NULL && owns(s));
  free(s);
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  char *line = NULL;
  size_t cap = 0;
  bool mapped = false;
  while (getline(&line, &cap, f) > 0) mapped |= strstr(line, "libreheap.so") != NULL;
  CHECK(mapped && owns(line));
  free(line);
  fclose(f);

  /* glibc contracts */
  void *z = malloc(0);
  CHECK(z != NULL && owns(z));
  free(z);
  volatile size_t max = SIZE_MAX; /* hidden from the compiler's size checks */
  errno = 0;
  CHECK(malloc(max) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(max / 2, 3) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(reallocarray(NULL, max / 2, 3) == NULL && errno == ENOMEM);
  unsigned char *c = calloc(1000, 10);
  for (size_t i = 0; i < 10000; i++) CHECK(c[i] == 0);
  free(c);
  /* (alignments not a power of two through a variable: clang refuses
   * them as constants) */
  volatile size_t odd = 24;
  void *m = memalign(odd, 100); /* not a power of two: rounded up, as glibc does */
  CHECK(m != NULL && aligned(m, 32));
  free(m);
  long ps = sysconf(_SC_PAGESIZE);
  void *v = valloc(10);
  CHECK(v != NULL && aligned(v, (size_t)ps));
  free(v);
  void *pv = pvalloc(1);
  CHECK(pv != NULL && aligned(pv, (size_t)ps) && malloc_usable_size(pv) >= (size_t)ps);
  free(pv);
  void *pm = (void *)1;
  CHECK(posix_memalign(&pm, 24, 8) == EINVAL && pm == (void *)1);
  CHECK(posix_memalign(&pm, 4096, 5000) == 0 && aligned(pm, 4096) && owns(pm));
  free(pm);
  errno = 0;
  odd = 3;
  CHECK(aligned_alloc(odd, 8) == NULL && errno == EINVAL);
  for (size_t a = 16; a <= ((size_t)1 << 22); a <<= 1) {
    void *p = aligned_alloc(a, a / 2 + 1);
    CHECK(p != NULL && aligned(p, a));
    memset(p, 1, a / 2 + 1);
    free(p);
  }
  char *r = malloc(10);
  strcpy(r, "abcdefghi");
  r = realloc(r, 1 << 20);
  CHECK(r != NULL && strcmp(r, "abcdefghi") == 0 && malloc_usable_size(r) >= (1 << 20));
  r = realloc(r, 5);
  CHECK(r != NULL && memcmp(r, "abcde", 5) == 0);
  CHECK(realloc(r, 0) == NULL); /* glibc frees and returns NULL */
  CHECK(malloc_usable_size(NULL) == 0);
  free(NULL);
  /* a pointer reheap never made is left alone, not corrupted or crashed on */
  static char not_heap[64];
  free(not_heap + 16);
  CHECK(malloc_trim(0) == 1);

  /* threads that exit with live blocks; main frees them */
  for (int round = 0; round < 3; round++) {
    pthread_t th[THREADS];
    for (size_t t = 0; t < THREADS; t++)
      CHECK(pthread_create(&th[t], NULL, leave_blocks, (void *)t) == 0);
    for (size_t t = 0; t < THREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
    for (size_t t = 0; t < THREADS; t++)
      for (size_t i = 0; i < PER_THREAD; i++) {
        unsigned char *p = handoff[t][i];
        size_t n = 1 + (i * 37 + t) % 3000;
        CHECK(p[0] == t + 1 && p[n - 1] == t + 1);
        free(p);
      }
  }
  puts("preload_c: ok");
  return 0;
}
