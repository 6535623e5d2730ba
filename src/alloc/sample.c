/* Sampling inside the heap (built with RH_HEAP_SAMPLING: libreheap_sampled.so,
 * for --track=sample). Each thread's heap counts down the bytes asked for;
 * the allocation that takes the count past zero is handed to the sampler,
 * which records it, and its page is marked (PAGE_SAMPLED, with a count of
 * the samples in it) so that a free there takes the slow way and tells the
 * sampler. Pages without samples keep the fast free, and so does every
 * free when no sampler is set: the cost of sampling is one subtraction per
 * allocation and the work on the samples themselves.
 *
 * The mark is set and cleared by the page's owner only (the page's flags
 * are the owner's); other threads that free a sample count it down. */
#include "alloc/heap_record.h"

#if RH_HEAP_SAMPLING
#define SAMPLE_WAIT_BYTES 256 /* between looks for a sampler not set yet */
static rh_heap_sampler_t sampler;
static _Atomic bool sampler_set;

RH_API bool rh_heap_set_sampler(const rh_heap_sampler_t *s) {
  if (s == NULL || s->next == NULL || s->taken == NULL || s->freed == NULL) return false;
  sampler = *s;
  atomic_store_explicit(&sampler_set, true, memory_order_release);
  return true;
}

void *heap_sample_hit(heap_t *h, void *p, size_t size) {
  if (h->sample_busy) { /* the sampler's own allocation */
    h->sample_left += (int64_t)size;
    return p;
  }
  if (!atomic_load_explicit(&sampler_set, memory_order_acquire)) {
    /* looked at again soon: the sampler comes in the tracker's constructor,
     * after the first thread's heap has allocated; a long wait here (it
     * was a MiB) left that much of the thread's allocations unsampled once
     * the sampler was set, and its estimates low (by 16% for a thread that
     * allocates 6 MiB) */
    h->sample_left = SAMPLE_WAIT_BYTES;
    return p;
  }
  if (!h->sample_armed) { /* the thread's first countdown, drawn as every other */
    h->sample_armed = true;
    h->sample_left = sampler.next() - (int64_t)size;
    if (h->sample_left > 0) return p;
  }
  heap_segment_t *seg = heap_segment_of(p);
  if (seg->kind == SEG_HUGE) {
    seg->huge_sampled = 1;
  } else {
    heap_page_t *pg = heap_page_of(seg, p);
    atomic_fetch_add_explicit(&pg->samples, 1, memory_order_relaxed);
    pg->flags |= PAGE_SAMPLED;
  }
  /* drawn first: what taken() allocates is counted down from the new count */
  h->sample_left = sampler.next();
  h->sample_busy = true;
  sampler.taken(p, size);
  h->sample_busy = false;
  return p;
}

void heap_sample_forget(heap_segment_t *seg, void *p, bool mine) {
  bool was = sampler.freed(p);
  if (seg->kind == SEG_HUGE) {
    if (was) seg->huge_sampled = 0;
    return;
  }
  heap_page_t *pg = heap_page_of(seg, p);
  if (was) atomic_fetch_sub_explicit(&pg->samples, 1, memory_order_relaxed);
  if (mine && atomic_load_explicit(&pg->samples, memory_order_relaxed) == 0) pg->flags &= (uint8_t)~PAGE_SAMPLED;
}
#else
RH_API bool rh_heap_set_sampler(const rh_heap_sampler_t *s) {
  (void)s;
  return false;
}
#endif
