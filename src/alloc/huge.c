/* Huge blocks (above LARGE_MAX_SIZE): each its own mapping with a small
 * header in front, mapped over whole 4 MiB granules so that rh_owns() stays
 * exact. Freed straight back to the OS; grown by moving pages, not bytes. */
#include "alloc/heap_internal.h"
#include "os/os.h"

#define HUGE_HEADER ((size_t)4096)

static size_t round_up(size_t v, size_t to) { return (v + to - 1) & ~(to - 1); }

static void huge_account(heap_segment_t *seg, bool add) {
  size_t used = (size_t)(seg->huge_block - (uint8_t *)seg) + seg->huge_usable;
  if (add) {
    heap_gadd(&heap_gstats.os_map_calls, 1);
    heap_gadd(&heap_gstats.reserved, seg->map_size);
    uint64_t c = atomic_fetch_add_explicit(&heap_gstats.committed, used, memory_order_relaxed) + used;
    heap_gmax(&heap_gstats.peak_committed, c);
    int64_t live = atomic_fetch_add_explicit(&heap_gstats.live, (int64_t)seg->huge_usable,
                                             memory_order_relaxed) + (int64_t)seg->huge_usable;
    if (live > 0) heap_gmax(&heap_gstats.peak_live, (uint64_t)live);
  } else {
    heap_gadd(&heap_gstats.os_unmap_calls, 1);
    atomic_fetch_sub_explicit(&heap_gstats.reserved, seg->map_size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&heap_gstats.committed, used, memory_order_relaxed);
    atomic_fetch_sub_explicit(&heap_gstats.live, (int64_t)seg->huge_usable, memory_order_relaxed);
  }
}

void *heap_huge_alloc(size_t size, size_t align, bool *zeroed) {
  size_t off, total;
  heap_segment_t *seg;
  if (align < SEG_SIZE) {
    off = align > HUGE_HEADER ? align : HUGE_HEADER;
    total = round_up(off + size, SEG_SIZE);
    seg = os_map_aligned(total, SEG_SIZE, 0);
  } else {
    /* The block itself starts a granule; its header takes the granule
     * before (see heap_segment_of). */
    off = SEG_SIZE;
    total = SEG_SIZE + round_up(size, SEG_SIZE);
    seg = os_map_aligned(total, align, SEG_SIZE);
  }
  if (seg == NULL) return NULL;
  heap_owner_mark(seg, total, true);
  seg->kind = SEG_HUGE;
  atomic_store_explicit(&seg->heap, NULL, memory_order_relaxed);
  seg->map_size = total;
  seg->huge_block = (uint8_t *)seg + off;
  seg->huge_usable = round_up(size, os_page_size());
  huge_account(seg, true);
  heap_gadd(&heap_gstats.huge_allocs, 1);
  heap_gadd(&heap_gstats.huge_alloc_bytes, seg->huge_usable);
  if (zeroed) *zeroed = true;
  return seg->huge_block;
}

void heap_huge_free(heap_segment_t *seg) {
  heap_assert(seg->kind == SEG_HUGE);
  heap_gadd(&heap_gstats.huge_frees, 1);
  heap_gadd(&heap_gstats.huge_free_bytes, seg->huge_usable);
  huge_account(seg, false);
  size_t total = seg->map_size;
  heap_owner_mark(seg, total, false);
  os_unmap(seg, total);
}

/* Resizes in place when the mapping allows, else moves the pages to a new
 * mapping. NULL: the caller must copy. */
void *heap_huge_realloc(heap_segment_t *seg, size_t size) {
  size_t off = (size_t)(seg->huge_block - (uint8_t *)seg);
  size_t capacity = seg->map_size - off;
  size_t want = round_up(size, os_page_size());
  if (size <= LARGE_MAX_SIZE / 2) return NULL; /* far smaller: copy into a page */
  if (want <= capacity) {
    /* Shrinking: the tail's pages go back at once. */
    if (want < seg->huge_usable) os_purge(seg->huge_block + want, seg->huge_usable - want);
    huge_account(seg, false);
    seg->huge_usable = want;
    huge_account(seg, true);
    /* huge_account counted a map and an unmap that did not happen */
    atomic_fetch_sub_explicit(&heap_gstats.os_map_calls, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&heap_gstats.os_unmap_calls, 1, memory_order_relaxed);
    return seg->huge_block;
  }
  /* Grow with room to spare: repeated growth by small steps then moves
   * pages only every so often. */
  size_t grown = want + want / 4;
  if (grown < want) grown = want;
  size_t total = round_up(off + grown, SEG_SIZE);
  heap_segment_t *dst = os_map_aligned(total, SEG_SIZE, 0);
  if (dst == NULL) return NULL;
  size_t old_total = seg->map_size;
  heap_owner_mark(dst, total, true);
  huge_account(seg, false);
  if (!os_move_pages(seg, old_total, dst, total)) {
    huge_account(seg, true);
    atomic_fetch_sub_explicit(&heap_gstats.os_map_calls, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&heap_gstats.os_unmap_calls, 1, memory_order_relaxed);
    heap_owner_mark(dst, total, false);
    os_unmap(dst, total);
    return NULL;
  }
  heap_owner_mark(seg, old_total, false);
  /* the header moved with the pages */
  dst->map_size = total;
  dst->huge_block = (uint8_t *)dst + off;
  dst->huge_usable = want;
  huge_account(dst, true);
  return dst->huge_block;
}
