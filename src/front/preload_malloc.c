/* The C library's malloc family, served by reheap's heap.
 *
 * Preloaded, these definitions come first in symbol lookup, so every call
 * in the process (the program, its libraries, libc itself) lands here from
 * the first allocation on. Each function keeps its glibc contract (errno,
 * NULL, zero sizes); the ones glibc calls obsolete keep their glibc meaning.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc_front.h"
#include "front/foreign.h"
#include "reheap/alloc.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t size) { return rh_malloc(size); }

/* Blocks the takeover's entries handed out may reach these through paths
 * a profile does not patch: they are blocks of this heap like any. */
EXPORT void free(void *p) { heap_free_front(p); }

EXPORT void *calloc(size_t count, size_t size) { return rh_calloc(count, size); }

EXPORT void *realloc(void *p, size_t size) { return heap_realloc_front(p, size); }

EXPORT void *reallocarray(void *p, size_t count, size_t size) {
  if (p != NULL && !rh_owns(p)) {
    size_t total;
    /* on overflow the heap reports it as for its own blocks: NULL, ENOMEM */
    if (__builtin_mul_overflow(count, size, &total)) return rh_reallocarray(NULL, count, size);
    return rh_foreign_realloc(p, total);
  }
  return rh_reallocarray(p, count, size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  return rh_posix_memalign(out, align, size);
}

EXPORT void *aligned_alloc(size_t align, size_t size) { return rh_aligned_alloc(align, size); }

/* glibc's memalign takes any alignment and rounds it up to a power of two
 * (old programs pass things like 24); small ones mean the minimum. */
EXPORT void *memalign(size_t align, size_t size) {
  if (align <= RH_MIN_ALIGN) return rh_malloc(size);
  if (align & (align - 1)) {
    if (align > RH_MAX_ALIGN) {
      errno = EINVAL;
      return NULL;
    }
    size_t a = RH_MIN_ALIGN;
    while (a < align) a <<= 1;
    align = a;
  }
  return rh_aligned_alloc(align, size);
}

static size_t page_size(void) {
  static size_t cached;
  if (cached == 0) cached = (size_t)sysconf(_SC_PAGESIZE);
  return cached;
}

EXPORT void *valloc(size_t size) { return rh_aligned_alloc(page_size(), size); }

/* pvalloc rounds the size up to whole pages as well (a zero size to one). */
EXPORT void *pvalloc(size_t size) {
  size_t ps = page_size();
  if (size > (size_t)-1 - ps) {
    errno = ENOMEM;
    return NULL;
  }
  size_t rounded = (size + ps - 1) & ~(ps - 1);
  return rh_aligned_alloc(ps, rounded == 0 ? ps : rounded);
}

EXPORT size_t malloc_usable_size(void *p) {
  if (p == NULL) return 0;
  if (!rh_owns(p)) return rh_foreign_usable_size(p);
  return rh_usable_size(p);
}

/* C23's sized frees: the size is a hint reheap does not need. */
EXPORT void free_sized(void *p, size_t size) {
  (void)size;
  free(p);
}

EXPORT void free_aligned_sized(void *p, size_t align, size_t size) {
  (void)align;
  (void)size;
  free(p);
}

/* Programs call malloc_trim to give memory back after a peak: here that is
 * the heap's collect. Returns 1 as glibc does when memory was released. */
EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  rh_heap_collect();
  return 1;
}
