/* What the heap offers its front ends (the preload library) beyond the
 * public API: calls that skip a check the front has already made or that
 * must tolerate pointers the heap does not own. */
#ifndef REHEAP_ALLOC_FRONT_H
#define REHEAP_ALLOC_FRONT_H

#include <stdbool.h>
#include <stddef.h>

/* free() as the preload library exports it: reheap's blocks are freed,
 * NULL is ignored, anything else goes to the front's rh_foreign_free. */
__attribute__((visibility("hidden"))) void heap_free_front(void *p);

/* realloc() as the preload library exports it: blocks reheap does not own
 * go to the front's rh_foreign_realloc. */
__attribute__((visibility("hidden"))) void *heap_realloc_front(void *p, size_t size);

/* Has fn called about every 100 ms from some thread's slow path while the
 * program allocates (never on a fast path; not while it is idle). */
__attribute__((visibility("hidden"))) void heap_set_periodic(void (*fn)(void));

#endif
