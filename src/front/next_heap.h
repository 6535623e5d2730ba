/* The heap after ours in symbol order (the C library's, or one preloaded
 * after us), for the shims that sit in front of another heap: the counting
 * shim and the tracker. */
#ifndef REHEAP_FRONT_NEXT_HEAP_H
#define REHEAP_FRONT_NEXT_HEAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct front_next {
  void *(*malloc)(size_t);
  void (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  int (*posix_memalign)(void **, size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  void *(*memalign)(size_t, size_t);
  void *(*valloc)(size_t);
  void *(*pvalloc)(size_t);
  size_t (*usable)(void *);
} front_next_t;

__attribute__((visibility("hidden"))) extern front_next_t front_next;
/* Looks the next heap up once. */
__attribute__((visibility("hidden"))) void front_next_resolve(void);
/* Takes the heap of module (a dlopen handle) instead, for a shim that
 * passes every call to a heap loaded before it: the shim's own allocations
 * (its code binds to its own malloc) and the C library's (strdup binds to
 * the first malloc) then meet in one heap. False, nothing changed, if the
 * module lacks one of the functions. */
__attribute__((visibility("hidden"))) bool front_next_use(void *module);
/* True while the lookup runs (dlsym may allocate): such allocations must
 * come from front_boot_alloc. Resolves first if nothing has yet. */
__attribute__((visibility("hidden"))) bool front_next_booting_slow(void);
static inline bool front_next_booting(void) {
  if (__builtin_expect(__atomic_load_n(&front_next.usable, __ATOMIC_ACQUIRE) != NULL, 1)) return false;
  return front_next_booting_slow();
}
/* A few blocks for the lookup itself, never freed; zeroed. */
__attribute__((visibility("hidden"))) void *front_boot_alloc(size_t size);
/* realloc of a boot block: a new block from the shim's own malloc, with
 * what the boot block can hold (its size is not kept) copied over. */
__attribute__((visibility("hidden"))) void *front_boot_move(const void *p, size_t size);
#define FRONT_BOOT_BYTES (64 * 1024)
__attribute__((visibility("hidden"))) extern unsigned char front_boot[FRONT_BOOT_BYTES];
static inline bool front_is_boot(const void *p) {
  return (const unsigned char *)p >= front_boot && (const unsigned char *)p < front_boot + FRONT_BOOT_BYTES;
}

#endif
