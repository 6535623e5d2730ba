/* The free fast path, inlined where blocks are freed (alloc.c, record.c,
 * and through alloc_front.h the front's malloc family and the takeover's
 * entries): the owner's free of a small block, and the takeover's test
 * and free of its own blocks. */
#ifndef REHEAP_HEAP_FREE_H
#define REHEAP_HEAP_FREE_H

#include "alloc/heap_record.h"

/* ---- free.c ---- */
HEAP_HIDDEN void heap_free_generic(heap_segment_t *seg, void *p);
/* Usable bytes of the live block p (realloc and malloc_usable_size). */
static inline size_t heap_block_usable(heap_segment_t *seg, const void *p) {
  if (seg->kind == SEG_HUGE)
    return seg->huge_usable - (size_t)((const uint8_t *)p - seg->huge_block);
  heap_page_t *pg = heap_page_of(seg, p);
  if (pg->flags & PAGE_LARGE) return pg->block_size - (size_t)((const uint8_t *)p - pg->start);
  return pg->block_size;
}

/* The owner's free fast path of a small block whose segment and page
 * are known; everything else goes the generic way. */
static inline __attribute__((always_inline)) void heap_free_in(heap_segment_t *seg, heap_page_t *pg,
                                                               void *p) {
  heap_t *h = heap_tl_get();
#if RH_HEAP_RECORDS
  heap_rec_t *r = heap_rec_in_page(pg, p);
  if (unlikely(r->tag != heap_rec_tag(p))) {
    heap_rec_free_odd(seg, pg, p); /* (a tail call: the fast path keeps no state across it) */
    return;
  }
  r->tag = (uint32_t)(uintptr_t)p; /* freed: the rest stays, for a double free's report */
  int64_t asked = (int64_t)r->size;
#endif
  if (likely(atomic_load_explicit(&seg->heap, memory_order_relaxed) == h && pg->flags == 0)) {
#if RH_HEAP_RECORDS
    heap_rec_live_own(h, -asked);
#endif
    heap_assert(pg->slice_count > 0 && pg->used > 0);
    heap_assert((uint8_t *)p >= pg->start && ((uint8_t *)p - pg->start) % pg->block_size == 0 &&
                (uint8_t *)p < pg->start + (size_t)pg->capacity * pg->block_size);
    heap_block_t *b = p;
    b->next = pg->free;
    pg->free = b;
    heap_count_own(&h->frees[pg->class_idx], 1);
    h->live_delta -= pg->block_size;
    if (unlikely(--pg->used == 0)) heap_page_now_empty(h, pg);
    return;
  }
#if RH_HEAP_RECORDS
  heap_rec_live_add(h, -asked);
#endif
  heap_free_generic(seg, p);
}

/* p's segment (or huge mapping) header is seg, known to be one. */
static inline __attribute__((always_inline)) void heap_free_at(heap_segment_t *seg, void *p) {
  if (unlikely(seg->kind == SEG_HUGE)) {
    heap_free_generic(seg, p);
    return;
  }
  heap_free_in(seg, heap_page_of(seg, p), p);
}

/* Callers have checked that p is reheap's (or trust that it is). */
static inline __attribute__((always_inline)) void heap_free_block(void *p) {
  heap_segment_t *seg = heap_segment_of(p);
#if RH_HEAP_RECORDS
  if (unlikely(!heap_is_head(seg))) {
    heap_rec_bad_free(p);
    return;
  }
#endif
  heap_free_at(seg, p);
}

/* Whether p is a block of the takeover's kind. p is a pointer a program
 * passed to one of its allocator's functions: a live block, its own or
 * one of ours, so its page (or huge mapping) is live too. */
static inline __attribute__((always_inline)) bool heap_is_takeover(const void *p) {
  if (!heap_owns(p)) return false;
  heap_segment_t *seg = heap_segment_of(p);
  if (unlikely(seg->kind == SEG_HUGE)) return seg->block_kind == KIND_TAKEOVER && p == seg->huge_block;
  heap_page_t *pg = heap_page_of(seg, p);
  heap_assert(pg->kind != KIND_TAKEOVER || (pg->flags & PAGE_LARGE) != 0 ||
              ((const uint8_t *)p - pg->start) % pg->block_size == 0);
  return pg->kind == KIND_TAKEOVER;
}

/* Frees p if it is a block of the takeover's kind (tested as above);
 * false, p untouched, if not. */
static inline __attribute__((always_inline)) bool heap_takeover_try_free(void *p) {
  if (!heap_owns(p)) return false;
  heap_segment_t *seg = heap_segment_of(p);
  if (unlikely(seg->kind == SEG_HUGE)) {
    if (seg->block_kind != KIND_TAKEOVER || p != seg->huge_block) return false;
    heap_free_generic(seg, p);
    return true;
  }
  heap_page_t *pg = heap_page_of(seg, p);
  if (pg->kind != KIND_TAKEOVER) return false;
  heap_free_in(seg, pg, p);
  return true;
}

#endif
