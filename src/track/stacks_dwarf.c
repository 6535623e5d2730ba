/* Call stacks by DWARF unwinding (libunwind), for programs built without
 * frame pointers, where the frame-pointer walk stops after a frame or two.
 * Slower: each capture reads the unwind tables of every frame (libunwind
 * caches them per module). */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <string.h>

#include "track/track_internal.h"

#define EXTRA 16 /* the tracker's own frames, left out */

size_t track_stack_capture_dwarf(uintptr_t *frames, size_t max, uintptr_t skip_lo, uintptr_t skip_hi) {
  void *ips[64 + EXTRA];
  if (max > 64) max = 64;
  int n = unw_backtrace(ips, (int)(max + EXTRA));
  int k = 0;
  while (k < n && (uintptr_t)ips[k] >= skip_lo && (uintptr_t)ips[k] < skip_hi) k++;
  size_t out = 0;
  for (; k < n && out < max; k++) frames[out++] = (uintptr_t)ips[k];
  return out;
}
