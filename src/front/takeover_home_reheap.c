/* The takeover's home in libreheap.so: reheap's heap. A tag is read only
 * where reheap's heap has memory, so a foreign pointer at the start of a
 * mapping is never read before. */
#include <string.h>

#include "front/takeover.h"
#include "reheap/alloc.h"

static bool read_tag(const void *p, void *tag) {
  const unsigned char *t = (const unsigned char *)p - TAKEOVER_TAG_SIZE;
  if (!rh_owns(p) || !rh_owns(t)) return false;
  memcpy(tag, t, TAKEOVER_TAG_SIZE);
  return true;
}

/* a tag inside reheap's memory is enough: its check word holds the
 * block's address scrambled, which no block of another heap carries */
static bool owns_base(const void *base) {
  (void)base;
  return true;
}

static size_t usable_size(void *p) { return rh_usable_size(p); }

const takeover_home_t takeover_home = {rh_malloc,   rh_calloc, rh_realloc, rh_aligned_alloc, rh_free,
                                       usable_size, read_tag,  owns_base};
