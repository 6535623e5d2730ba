/* rh_owns(): one bit per 4 MiB of the 47-bit user address space. Every
 * segment and every huge mapping covers whole 4 MiB granules, so a granule
 * is either all reheap's or not reheap's at all, and one load answers.
 *
 * The 4 MiB bitmap is a zero-initialised array: the OS backs a page of it
 * only once a bit in that page is set, so it costs memory only where
 * reheap maps, and free() can test it without first checking that it
 * exists. */
#include "alloc/heap_internal.h"

_Atomic uint64_t heap_owner_bits[GRANULES / 64];

void heap_owner_mark(void *base, size_t size, bool owned) {
  uint64_t g = (uintptr_t)base >> SEG_SHIFT;
  uint64_t end = ((uintptr_t)base + size + SEG_MASK) >> SEG_SHIFT;
  if (end > GRANULES) return;
  for (; g < end; g++) {
    uint64_t bit = (uint64_t)1 << (g & 63);
    if (owned)
      atomic_fetch_or_explicit(&heap_owner_bits[g >> 6], bit, memory_order_release);
    else
      atomic_fetch_and_explicit(&heap_owner_bits[g >> 6], ~bit, memory_order_release);
  }
}

RH_API bool rh_owns(const void *p) { return heap_owns(p); }
