#include "front/next_heap.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

front_next_t front_next;
static _Atomic int resolving;

_Alignas(64) unsigned char front_boot[FRONT_BOOT_BYTES];
#define boot front_boot
static _Atomic size_t boot_used;

void *front_boot_alloc(size_t size) {
  size = (size + 63) & ~(size_t)63;
  size_t at = atomic_fetch_add(&boot_used, size);
  if (at + size > sizeof boot) return NULL;
  return boot + at;
}


/* libreheap_track_got.so defines the malloc family for its GOT hooks
 * alone and exports none of it: the heap its calls go on to is the
 * program's own, the first definition in the default scope. */
#if REHEAP_TRACK_GOT
#undef RTLD_NEXT
#define RTLD_NEXT RTLD_DEFAULT
#endif

void front_next_resolve(void) {
  if (front_next.usable != NULL) return;
  atomic_store(&resolving, 1);
  front_next_t n;
  n.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
  n.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
  n.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
  n.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
  n.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
  n.aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
  n.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
  n.valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
  n.pvalloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
  n.usable = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
  size_t (*usable)(void *) = n.usable;
  n.usable = NULL;
  front_next = n;
  atomic_store(&resolving, 0);
  /* usable last: it is what says the lookup is complete */
  __atomic_store_n(&front_next.usable, usable, __ATOMIC_RELEASE);
}

bool front_next_use(void *module) {
  front_next_t n;
  n.malloc = (void *(*)(size_t))dlsym(module, "malloc");
  n.free = (void (*)(void *))dlsym(module, "free");
  n.calloc = (void *(*)(size_t, size_t))dlsym(module, "calloc");
  n.realloc = (void *(*)(void *, size_t))dlsym(module, "realloc");
  n.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(module, "posix_memalign");
  n.aligned_alloc = (void *(*)(size_t, size_t))dlsym(module, "aligned_alloc");
  n.memalign = (void *(*)(size_t, size_t))dlsym(module, "memalign");
  n.valloc = (void *(*)(size_t))dlsym(module, "valloc");
  n.pvalloc = (void *(*)(size_t))dlsym(module, "pvalloc");
  n.usable = (size_t(*)(void *))dlsym(module, "malloc_usable_size");
  if (n.malloc == NULL || n.free == NULL || n.calloc == NULL || n.realloc == NULL || n.posix_memalign == NULL ||
      n.aligned_alloc == NULL || n.memalign == NULL || n.valloc == NULL || n.pvalloc == NULL || n.usable == NULL)
    return false;
  front_next = n;
  return true;
}

bool front_next_booting_slow(void) {
  if (atomic_load(&resolving)) return true;
  front_next_resolve();
  return false;
}

void *front_boot_move(const void *p, size_t size) {
  void *q = malloc(size); /* the shim's own, this library being -Bsymbolic */
  if (q != NULL) memcpy(q, p, size < 64 ? size : 64);
  return q;
}
