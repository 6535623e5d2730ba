/* Every free that is not the owner's fast path: remote frees, full pages,
 * large and huge blocks, threads without a heap. */
#include "alloc/heap_free.h"

static void push_delayed(heap_t *owner, heap_block_t *b) {
  uintptr_t old = atomic_load_explicit(&owner->delayed, memory_order_relaxed);
  do {
    b->next = (heap_block_t *)old;
  } while (!atomic_compare_exchange_weak_explicit(&owner->delayed, &old, (uintptr_t)b,
                                                  memory_order_release, memory_order_relaxed));
}

/* Lock-free push to the page's list; the owner takes the whole list at once,
 * so pushes race only with each other and the exchange (no ABA). */
static void free_remote(heap_t *owner, heap_page_t *pg, heap_block_t *b) {
  uintptr_t tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
  for (;;) {
    if (tf & TF_NOTIFY) {
      /* The owner parked this page as full: claim the notice, then hand the
       * block to the owner directly so it moves the page back. */
      if (atomic_compare_exchange_weak_explicit(&pg->thread_free, &tf, tf & ~TF_NOTIFY,
                                                memory_order_acq_rel, memory_order_relaxed)) {
        push_delayed(owner, b);
        return;
      }
    } else {
      b->next = (heap_block_t *)tf;
      if (atomic_compare_exchange_weak_explicit(&pg->thread_free, &tf, (uintptr_t)b,
                                                memory_order_release, memory_order_relaxed))
        return;
    }
  }
}

void heap_free_generic(heap_segment_t *seg, void *p) {
  if (seg->kind == SEG_HUGE) {
#if RH_HEAP_RECORDS
    if (unlikely(p != seg->huge_block)) {
      heap_rec_bad_free(p);
      return;
    }
    if (unlikely(seg->huge_rec.tag != heap_rec_tag(p)) && !heap_rec_odd_free(&seg->huge_rec, p, seg->huge_asked))
      return;
    seg->huge_rec.tag = (uint32_t)(uintptr_t)p;
    heap_rec_live_add(heap_tl_get(), -(int64_t)seg->huge_asked);
#endif
    heap_assert(p == seg->huge_block);
#if RH_HEAP_SAMPLING
    if (unlikely(seg->huge_sampled != 0)) heap_sample_forget(seg, p, false);
#endif
    if (seg->block_kind == KIND_TAKEOVER) heap_gadd(&heap_gstats.takeover_big_frees, 1);
    heap_huge_free(seg);
    return;
  }
  heap_assert(seg->kind == SEG_NORMAL);
  heap_t *me = heap_tl_get();
  if (unlikely(me->state != HEAP_ACTIVE)) me = heap_for_free();
  heap_page_t *pg = heap_page_of(seg, p);
  heap_assert(pg->slice_count > 0 && pg->used > 0);
#if RH_HEAP_SAMPLING
  if (unlikely(pg->flags & PAGE_SAMPLED))
    heap_sample_forget(seg, p, atomic_load_explicit(&seg->heap, memory_order_relaxed) == me);
#endif
  heap_block_t *b;
  if (pg->flags & PAGE_LARGE) {
    b = (heap_block_t *)pg->start;
    if (pg->kind == KIND_TAKEOVER) heap_gadd(&heap_gstats.takeover_big_frees, 1);
    heap_count(me, &me->large_frees, 1);
    heap_count(me, &me->large_free_bytes, pg->block_size);
  } else {
    b = p;
    heap_assert(((uint8_t *)p - pg->start) % pg->block_size == 0);
    heap_count(me, &me->frees[pg->class_idx], 1);
  }
  if (me->state == HEAP_STATIC)
    atomic_fetch_sub_explicit(&heap_gstats.live, (int64_t)pg->block_size, memory_order_relaxed);
  else
    me->live_delta -= pg->block_size;
  heap_t *owner = atomic_load_explicit(&seg->heap, memory_order_relaxed);
  heap_assert(owner != NULL);
  if (owner == me) heap_page_free_block(me, pg, b);
  else free_remote(owner, pg, b);
}
