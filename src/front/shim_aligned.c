/* The allocation functions both shims (counting, tracking) pass to the
 * next heap the same way: each allocation that succeeds is shown to the
 * shim's front_shim_note, which each shim library defines for itself. */
#include <errno.h>
#include <stddef.h>

#include "front/next_heap.h"

#define EXPORT __attribute__((visibility("default")))

/* Defined by the shim this file is linked into; returns p. */
__attribute__((visibility("hidden"))) void *front_shim_note(void *p, size_t size);
extern void *realloc(void *p, size_t size);

EXPORT void *reallocarray(void *p, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  if (front_next_booting()) return ENOMEM;
  int rc = front_next.posix_memalign(out, align, size);
  if (rc == 0) front_shim_note(*out, size);
  return rc;
}

EXPORT void *aligned_alloc(size_t align, size_t size) {
  if (front_next_booting()) return NULL;
  return front_shim_note(front_next.aligned_alloc(align, size), size);
}

EXPORT void *memalign(size_t align, size_t size) {
  if (front_next_booting()) return NULL;
  return front_shim_note(front_next.memalign(align, size), size);
}

EXPORT void *valloc(size_t size) {
  if (front_next_booting()) return NULL;
  return front_shim_note(front_next.valloc(size), size);
}

EXPORT void *pvalloc(size_t size) {
  if (front_next_booting()) return NULL;
  return front_shim_note(front_next.pvalloc(size), size);
}
