/* Built without frame pointers: a leak three calls deep, which only the
 * DWARF unwinder (--track=dwarf) can trace back to main. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) void *inner(int n) {
  void *p = malloc((size_t)n);
  __asm__ volatile("" ::: "memory");
  return p;
}
__attribute__((noinline)) void *middle(int n) {
  void *p = inner(n + 1);
  __asm__ volatile("" ::: "memory");
  return p;
}
__attribute__((noinline)) void *outer(int n) {
  void *p = middle(n * 2);
  __asm__ volatile("" ::: "memory");
  return p;
}

int main(void) {
  void *volatile p = outer(500); /* 1001 bytes, never freed */
  (void)p;
  puts("nofp: done");
  return 0;
}
