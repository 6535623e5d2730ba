/* Linked with libreheap.a: the rh_ API is reheap's heap, malloc stays the
 * C library's. Prints "static ok" when both hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reheap/alloc.h>

int main(void) {
  char *q = rh_calloc(64, 16);
  void *p = malloc(100);
  if (q == NULL || p == NULL || !rh_owns(q) || rh_owns(p) || q[1023] != 0) {
    fprintf(stderr, "use_static: rh_calloc is not reheap's, or malloc is\n");
    return 1;
  }
  q = rh_realloc(q, 1 << 20);
  if (q == NULL || !rh_owns(q)) return 1;
  memset(q, 1, 1 << 20);
  rh_free(q);
  free(p);
  puts("static ok");
  return 0;
}
