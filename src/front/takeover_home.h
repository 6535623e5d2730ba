/* The heap the takeover's entries serve from, and how to tell its blocks.
 * In libreheap.so it is reheap's heap, whose takeover blocks live in pages
 * of their own (alloc_front.h), called directly from here (the program's
 * every call comes this way); in libreheap_track.so, the heap behind the
 * tracker, through the tracker's own malloc family, whose record of each
 * of those blocks says it is one (takeover_home_track.c). Either way a
 * block carries no header: it is the size the program asked for and
 * aligned as the heap aligns every block. */
#ifndef REHEAP_FRONT_TAKEOVER_HOME_H
#define REHEAP_FRONT_TAKEOVER_HOME_H

#include <stdbool.h>
#include <stddef.h>

#ifdef REHEAP_TAKEOVER_IN_TRACKER
#define HOME __attribute__((visibility("hidden")))
HOME void *home_malloc(size_t size);
HOME void *home_calloc(size_t count, size_t size);
HOME void *home_aligned(size_t align, size_t size);
/* p is one of the entries' blocks (or NULL); so is what comes back */
HOME void *home_realloc(void *p, size_t size);
HOME size_t home_usable_size(void *p);
/* p is one of the entries' blocks */
HOME void home_free(void *p);
/* Whether p is one of the entries' blocks. */
HOME bool home_owns(const void *p);
/* Frees p if it is one of the entries' blocks; false, p untouched, if not. */
HOME bool home_free_if_ours(void *p);
/* The entries' blocks live now. */
HOME size_t home_live(void);
/* The tracker let go of a record that said it was one of them. */
HOME void home_gone(void);
#else
#include "alloc/alloc_front.h"
#include "reheap/alloc.h"

static inline void *home_malloc(size_t size) { return heap_takeover_malloc(size); }
static inline void *home_calloc(size_t count, size_t size) { return heap_takeover_calloc(count, size); }
static inline void *home_aligned(size_t align, size_t size) { return heap_takeover_aligned(align, size); }
static inline void *home_realloc(void *p, size_t size) { return heap_takeover_realloc(p, size); }
static inline size_t home_usable_size(void *p) { return rh_usable_size(p); }
static inline __attribute__((always_inline)) bool home_owns(const void *p) { return heap_takeover_owns(p); }
static inline void home_free(void *p) { rh_free(p); }
static inline __attribute__((always_inline)) bool home_free_if_ours(void *p) { return heap_takeover_free(p); }
static inline size_t home_live(void) { return heap_takeover_live(); }
#endif

#endif
