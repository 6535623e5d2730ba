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

/* A granule the heap owns starts with a segment (its header slice: the
 * page descriptors), or with a huge block's header when the block comes
 * after it in the granule, or holds only a huge block's bytes: those are
 * told by the header's kind, which data can only rarely mimic (and then
 * 64 KiB of a block's bytes are left out of a scan: a pointer missed,
 * never memory misread). */
RH_API void rh_heap_meta_each(uintptr_t lo, uintptr_t hi, void (*fn)(uintptr_t mlo, uintptr_t mhi, void *arg),
                              void *arg) {
  for (uintptr_t g = lo & ~(uintptr_t)SEG_MASK; g < hi && g >= (lo & ~(uintptr_t)SEG_MASK); g += SEG_SIZE) {
    if (!heap_owns((const void *)g)) continue;
    const heap_segment_t *seg = (const heap_segment_t *)g;
    uintptr_t end = 0;
    if (seg->kind == SEG_NORMAL) end = g + SLICE_SIZE;
    else if (seg->kind == SEG_HUGE && (uintptr_t)seg->huge_block > g && (uintptr_t)seg->huge_block <= g + SEG_SIZE)
      end = (uintptr_t)seg->huge_block;
    uintptr_t a = g > lo ? g : lo, b = end < hi ? end : hi;
    if (end != 0 && a < b) fn(a, b, arg);
  }
}
