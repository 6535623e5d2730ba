/* rh_owns(): one bit per 4 MiB of the 47-bit user address space (4 MiB of
 * bitmap, reserved lazily and only touched where reheap maps memory). Every
 * segment and every huge mapping covers whole 4 MiB granules, so a granule
 * is either all reheap's or not reheap's at all, and one load answers. */
#include "alloc/heap_internal.h"
#include "os/os.h"

_Atomic(_Atomic uint64_t *) heap_owner_bits;

bool heap_owner_map_init(void) {
  if (atomic_load_explicit(&heap_owner_bits, memory_order_acquire) != NULL) return true;
  size_t bytes = (size_t)(GRANULES / 8);
  _Atomic uint64_t *bits = os_map_aligned(bytes, os_page_size(), 0);
  if (bits == NULL) return false;
  _Atomic uint64_t *expected = NULL;
  if (!atomic_compare_exchange_strong(&heap_owner_bits, &expected, bits)) os_unmap(bits, bytes);
  return true;
}

void heap_owner_mark(void *base, size_t size, bool owned) {
  _Atomic uint64_t *bits = atomic_load_explicit(&heap_owner_bits, memory_order_acquire);
  uint64_t g = (uintptr_t)base >> SEG_SHIFT;
  uint64_t end = ((uintptr_t)base + size + SEG_MASK) >> SEG_SHIFT;
  if (bits == NULL || end > GRANULES) return;
  for (; g < end; g++) {
    uint64_t bit = (uint64_t)1 << (g & 63);
    if (owned)
      atomic_fetch_or_explicit(&bits[g >> 6], bit, memory_order_release);
    else
      atomic_fetch_and_explicit(&bits[g >> 6], ~bit, memory_order_release);
  }
}

RH_API bool rh_owns(const void *p) { return heap_owns(p); }
