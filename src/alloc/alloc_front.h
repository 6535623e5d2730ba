/* What the heap offers its front ends (the preload library) beyond the
 * public API: calls that skip a check the front has already made or that
 * must tolerate pointers the heap does not own. */
#ifndef REHEAP_ALLOC_FRONT_H
#define REHEAP_ALLOC_FRONT_H

#include <stdbool.h>
#include <stddef.h>

#include "alloc/heap_free.h"

/* free() as the preload library exports it: reheap's blocks are freed,
 * NULL is ignored, anything else goes to the front's foreign free (none
 * given: left alone). */
__attribute__((visibility("hidden"))) void heap_free_front(void *p);

/* realloc() as the preload library exports it: blocks reheap does not own
 * go to the front's foreign realloc (none given: NULL, ENOMEM). */
__attribute__((visibility("hidden"))) void *heap_realloc_front(void *p, size_t size);

/* What heap_free_front and heap_realloc_front do with a block the heap
 * does not own (the front gives them before the program runs). */
__attribute__((visibility("hidden"))) void heap_set_foreign(void (*free_fn)(void *p),
                                                            void *(*realloc_fn)(void *p, size_t size));

/* Has fn called about every 100 ms from some thread's slow path while the
 * program allocates (never on a fast path; not while it is idle). */
__attribute__((visibility("hidden"))) void heap_set_periodic(void (*fn)(void));

/* The takeover's blocks (front/takeover.c): served like malloc's, from
 * pages of their own, so that heap_takeover_owns tells them from every
 * other block by their address alone; rh_free, rh_usable_size and
 * rh_realloc take them like any. heap_takeover_realloc's block stays of
 * the takeover's kind (p is one of them, a plain block or NULL). */
__attribute__((visibility("hidden"))) void *heap_takeover_malloc(size_t size);
__attribute__((visibility("hidden"))) void *heap_takeover_calloc(size_t count, size_t size);
__attribute__((visibility("hidden"))) void *heap_takeover_aligned(size_t align, size_t size);
__attribute__((visibility("hidden"))) void *heap_takeover_realloc(void *p, size_t size);
/* Inline: the takeover's entries test a block with the program's
 * arguments still in their registers, and go on with a jump either way. */
static inline __attribute__((always_inline)) bool heap_takeover_owns(const void *p) { return heap_is_takeover(p); }
/* Frees p if it is one of the takeover's blocks; false, p untouched, if not. */
static inline __attribute__((always_inline)) bool heap_takeover_free(void *p) { return heap_takeover_try_free(p); }
/* The takeover's blocks live now (counted per thread; lags a running one). */
__attribute__((visibility("hidden"))) size_t heap_takeover_live(void);

#endif
