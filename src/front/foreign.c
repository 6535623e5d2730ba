/* Foreign pointers. Freeing one into reheap's heap would corrupt it, and
 * handing it to the C library's free is only safe if the C library made it
 * (the dynamic loader's early blocks it did not), so a foreign free is left
 * alone: at worst a few bytes leak, never a crash. Growing a foreign block
 * needs its size, which only the C library's malloc_usable_size can tell;
 * it is looked up once, before the program runs. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "alloc/alloc_front.h"
#include "front/foreign.h"
#include "reheap/alloc.h"

typedef size_t (*usable_fn)(void *);

static usable_fn libc_usable;
static _Atomic uint64_t foreign_frees;

/* First of this library's constructors: a foreign block freed before it
 * (there are none in practice) is left alone, uncounted. */
__attribute__((constructor(101))) static void foreign_init(void) {
  /* RTLD_NEXT from here finds the C library's own definition. */
  libc_usable = (usable_fn)dlsym(RTLD_NEXT, "malloc_usable_size");
  heap_set_foreign(rh_foreign_free, rh_foreign_realloc);
}

void rh_foreign_free(void *p) {
  atomic_fetch_add_explicit(&foreign_frees, 1, memory_order_relaxed);
  (void)p;
}

uint64_t rh_foreign_free_count(void) {
  return atomic_load_explicit(&foreign_frees, memory_order_relaxed);
}

size_t rh_foreign_usable_size(void *p) { return libc_usable != NULL ? libc_usable(p) : 0; }

void *rh_foreign_realloc(void *p, size_t size) {
  size_t old = rh_foreign_usable_size(p);
  if (size == 0) {
    rh_foreign_free(p);
    return NULL;
  }
  void *q = rh_malloc(size);
  if (q == NULL) return NULL;
  memcpy(q, p, old < size ? old : size);
  rh_foreign_free(p);
  return q;
}
