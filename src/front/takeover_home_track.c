/* The takeover's home in libreheap_track.so, for a run on another heap
 * than reheap's (`--heap=system --track --profile`): the entries allocate
 * through this library's own malloc family, so each block is tracked and
 * served by the next heap. The tracker knows every live block, which is
 * what tells the entries' blocks from the program's own. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "front/takeover_home.h"
#include "os/os.h"
#include "track/track_internal.h"

extern size_t malloc_usable_size(void *p);

/* p is a pointer the program hands to a free: the page it is in can be
 * read, and so can a tag in the same page; one that starts the page is
 * read through the kernel, which tells an unmapped or protected page
 * (a guard page before a mapping) without a fault. */
bool home_read_tag(const void *p, void *tag) {
  const unsigned char *t = (const unsigned char *)p - TAKEOVER_TAG_SIZE;
  if (((uintptr_t)p & (os_page_size() - 1)) >= TAKEOVER_TAG_SIZE) {
    memcpy(tag, t, TAKEOVER_TAG_SIZE);
    return true;
  }
  return os_read_own(t, tag, TAKEOVER_TAG_SIZE) == TAKEOVER_TAG_SIZE;
}

bool home_owns_base(const void *base) {
  uintptr_t a = (uintptr_t)base;
  track_slot_t *s = (a & 15) == 0 ? track_slot_find(a) : NULL;
  uint32_t n = s != NULL ? atomic_load_explicit(s, memory_order_acquire) : 0;
  return n != 0 && track_record_at(n)->key == track_key(a);
}

void *home_malloc(size_t size) { return malloc(size); }
void *home_calloc(size_t count, size_t size) { return calloc(count, size); }
void *home_realloc(void *p, size_t size) { return realloc(p, size); }
void *home_aligned_alloc(size_t align, size_t size) { return aligned_alloc(align, size); }
void home_free(void *p) { free(p); }
size_t home_usable_size(void *p) { return malloc_usable_size(p); }
