/* include/reheap/reheap.h's takeover answers, from libreheap_track.so,
 * which holds the takeover on another heap than reheap's. When it holds
 * none, libreheap.so may (a run on reheap's heap): that one answers. */
#include <stdbool.h>
#include <stddef.h>

#include "front/takeover.h"
#include "os/os.h"

#define EXPORT __attribute__((visibility("default")))

typedef size_t (*count_fn)(void);
typedef const char *(*name_fn)(size_t);

EXPORT size_t rh_patched_count(void) {
  if (takeover_count() > 0) return takeover_count();
  count_fn next = (count_fn)os_symbol_next("rh_patched_count");
  return next != NULL ? next() : 0;
}

EXPORT bool rh_is_patched(void) { return rh_patched_count() > 0; }

EXPORT const char *rh_patched_name(size_t i) {
  if (takeover_count() > 0) return takeover_name(i);
  name_fn next = (name_fn)os_symbol_next("rh_patched_name");
  return next != NULL ? next(i) : NULL;
}
