/* The heap the takeover's entries serve from, and how to tell its blocks.
 * In libreheap.so it is reheap's heap, called directly from here (the
 * program's every call comes this way); in libreheap_track.so, the heap
 * behind the tracker, through the tracker's own malloc family
 * (takeover_home_track.c), so that every block is tracked. */
#ifndef REHEAP_FRONT_TAKEOVER_HOME_H
#define REHEAP_FRONT_TAKEOVER_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define TAKEOVER_TAG_SIZE 16

#ifdef REHEAP_TAKEOVER_IN_TRACKER
#define HOME __attribute__((visibility("hidden")))
HOME void *home_malloc(size_t size);
HOME void *home_calloc(size_t count, size_t size);
HOME void *home_realloc(void *p, size_t size);
HOME void *home_aligned_alloc(size_t align, size_t size);
HOME void home_free(void *p);
HOME size_t home_usable_size(void *p);
/* Copies the TAKEOVER_TAG_SIZE bytes before p, if they can be read
 * without a fault; p is any pointer a program passed to a free. */
HOME bool home_read_tag(const void *p, void *tag);
/* Whether base is the start of a live block of this heap. */
HOME bool home_owns_base(const void *base);
#else
#include "reheap/alloc.h"

static inline void *home_malloc(size_t size) { return rh_malloc(size); }
static inline void *home_calloc(size_t count, size_t size) { return rh_calloc(count, size); }
static inline void *home_realloc(void *p, size_t size) { return rh_realloc(p, size); }
static inline void *home_aligned_alloc(size_t align, size_t size) { return rh_aligned_alloc(align, size); }
static inline void home_free(void *p) { rh_free(p); }
static inline size_t home_usable_size(void *p) { return rh_usable_size(p); }

/* p itself is a live pointer of the program's: only the tag's memory, 16
 * bytes before, may lie outside it (p at the start of a mapping), and
 * reheap's heap says at once whether that memory is its own */
static inline bool home_read_tag(const void *p, void *tag) {
  const unsigned char *t = (const unsigned char *)p - TAKEOVER_TAG_SIZE;
  if (!rh_owns(t)) return false;
  memcpy(tag, t, TAKEOVER_TAG_SIZE);
  return true;
}

/* a tag inside reheap's memory is enough: its check word holds the
 * block's address scrambled, which no block of another heap carries */
static inline bool home_owns_base(const void *base) {
  (void)base;
  return true;
}
#endif

#endif
