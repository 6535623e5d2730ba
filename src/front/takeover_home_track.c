/* The takeover's home in libreheap_track.so, for a run on another heap
 * than reheap's (`--heap=system --track --profile`), or on reheap's under
 * --track: the entries allocate through this library's own malloc family,
 * so each block is tracked and served by the next heap. The tracker knows
 * every live block, and its record of each of the entries' blocks says
 * so: that is what tells them from the program's own. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "front/takeover_home.h"
#include "track/track.h"

extern size_t malloc_usable_size(void *p);

static _Atomic intptr_t live;

/* p was just allocated through the tracker, which holds its record (the
 * entries run in the program's calls, never inside the tracker); one it
 * could not record (the OS refused the table memory) would later reach
 * the program's own free, so it is given back as if the heap had none */
static void *mark(void *p) {
  if (p == NULL) return NULL;
  track_record_t *r = track_table_find((uintptr_t)p);
  if (r == NULL) {
    free(p);
    errno = ENOMEM;
    return NULL;
  }
  r->takeover = 1;
  atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
  return p;
}

void home_gone(void) { atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed); }

size_t home_live(void) {
  intptr_t n = atomic_load_explicit(&live, memory_order_relaxed);
  return n > 0 ? (size_t)n : 0;
}

bool home_owns(const void *p) {
  const track_record_t *r = track_table_find((uintptr_t)p);
  return r != NULL && r->takeover;
}

bool home_free_if_ours(void *p) {
  if (!home_owns(p)) return false;
  free(p);
  return true;
}

void home_free(void *p) { free(p); }
void *home_malloc(size_t size) { return mark(malloc(size)); }
void *home_calloc(size_t count, size_t size) { return mark(calloc(count, size)); }
void *home_aligned(size_t align, size_t size) {
  void *p = NULL;
  int err = posix_memalign(&p, align, size);
  if (err != 0) {
    errno = err;
    return NULL;
  }
  return mark(p);
}
/* the old block's record goes with it (home_gone), the new one is marked */
void *home_realloc(void *p, size_t size) {
  void *q = realloc(p, size);
  return q != NULL ? mark(q) : NULL;
}
size_t home_usable_size(void *p) { return malloc_usable_size(p); }
