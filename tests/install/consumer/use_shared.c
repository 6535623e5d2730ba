/* Linked with libreheap.so: reheap's heap serves the whole program, malloc
 * included. Prints "shared ok" when it does. */
#include <stdio.h>
#include <stdlib.h>

#include <reheap/alloc.h>
#include <reheap/reheap.h>

int main(void) {
  void *p = malloc(100), *q = rh_malloc(200);
  if (p == NULL || q == NULL || !rh_is_active() || !rh_owns(p) || !rh_owns(q) || rh_usable_size(q) < 200) {
    fprintf(stderr, "use_shared: reheap does not serve this program's malloc\n");
    return 1;
  }
  free(p);
  rh_free(q);
  puts("shared ok");
  return 0;
}
