/* How the watched builds of the heap see each block: the recording
 * build's record beside its page (RH_HEAP_RECORDS, record.c), the sampled
 * build's countdown to its next sample (RH_HEAP_SAMPLING, sample.c), and
 * HEAP_HANDED, the last step of an allocation in every build (nothing in
 * the plain one). */
#ifndef REHEAP_HEAP_RECORD_H
#define REHEAP_HEAP_RECORD_H

#include "alloc/heap_internal.h"

/* ---- sample.c (RH_HEAP_SAMPLING builds) ---- */
#if RH_HEAP_SAMPLING
/* The allocation that took h's countdown past zero: p, of size bytes
 * asked for, becomes a sample if a sampler is set; returns p. */
HEAP_HIDDEN void *heap_sample_hit(heap_t *h, void *p, size_t size);
/* p, in a page or huge mapping that holds samples, is freed or moved:
 * the sampler forgets it if it was one. mine: the caller owns the page. */
HEAP_HIDDEN void heap_sample_forget(heap_segment_t *seg, void *p, bool mine);
static inline __attribute__((always_inline)) void *heap_sample_count(heap_t *h, void *p, size_t size) {
  if (unlikely((h->sample_left -= (int64_t)size) <= 0) && p != NULL) return heap_sample_hit(h, p, size);
  return p;
}
#define HEAP_SAMPLE(h, p, size, kind) ((kind) == KIND_PLAIN ? heap_sample_count((h), (p), (size)) : (p))
#else
#define HEAP_SAMPLE(h, p, size, kind) (p)
#endif

/* ---- record.c (RH_HEAP_RECORDS builds) ---- */
#if RH_HEAP_RECORDS
/* Granules that begin a segment or a huge mapping (their header): a free
 * of any address is checked against it before its header is read, as an
 * address inside a huge block would otherwise take the block's bytes for
 * a header. Set and cleared under heap_rec_map_lock. */
HEAP_HIDDEN extern _Atomic uint64_t heap_head_bits[GRANULES / 64];
static inline bool heap_is_head(const void *seg) {
  uint64_t g = (uintptr_t)seg >> SEG_SHIFT;
  return g < GRANULES && ((atomic_load_explicit(&heap_head_bits[g >> 6], memory_order_relaxed) >> (g & 63)) & 1);
}
HEAP_HIDDEN void heap_head_mark(void *seg, bool head);
/* Held across every unmapping and moving of a mapping the heap owns, and
 * by the walk over every record (rh_heap_records_each). */
HEAP_HIDDEN void heap_rec_map_lock(bool take);
HEAP_HIDDEN void heap_rec_map_lock_reset(void);
/* The record no address matches: where pages not in use send a lookup. */
HEAP_HIDDEN extern heap_rec_t heap_rec_none;
static inline void heap_rec_page_clear(heap_page_t *pg) {
  pg->rec_shift = SEG_SHIFT;
  pg->rec_base = (uintptr_t)&heap_rec_none - (((uintptr_t)pg >> SEG_SHIFT) << 4);
}
/* Nonzero while every allocation takes heap_rec_stacked: before a
 * recorder is set (its blocks are quiet), and while it wants stacks. */
HEAP_HIDDEN extern _Atomic uint8_t heap_rec_slow;
/* A live block's tag. A quiet block (allocated before recording began, or
 * by a paused thread or the recorder itself) has bit 1 set as well: its
 * free misses the fast path's compare, and it is neither walked nor
 * counted. */
static inline uint32_t heap_rec_tag(const void *p) { return (uint32_t)(uintptr_t)p | 1u; }
#define HEAP_REC_QUIET 2u
static inline bool heap_rec_is_live(const heap_rec_t *r, const void *p) {
  return (r->tag | HEAP_REC_QUIET) == (heap_rec_tag(p) | HEAP_REC_QUIET);
}
static inline heap_rec_t *heap_rec_in_page(const heap_page_t *pg, const void *p) {
  return (heap_rec_t *)(pg->rec_base + (((uintptr_t)p >> pg->rec_shift) << 4));
}
static inline void heap_rec_live_add(heap_t *h, int64_t v) {
  if (likely(h->state == HEAP_ACTIVE))
    atomic_store_explicit(&h->rec_live_delta, atomic_load_explicit(&h->rec_live_delta, memory_order_relaxed) + v,
                          memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&heap_gstats.rec_live, v, memory_order_relaxed);
}
/* The size histogram's counter for size: bucket k holds [2^k, 2^(k+1)). */
static inline heap_counter_t *heap_rec_hist(heap_t *h, size_t size) {
  return &h->rec_hist[63 - __builtin_clzll((unsigned long long)size | 1)];
}
static inline void heap_rec_live_own(heap_t *h, int64_t v) {
  atomic_store_explicit(&h->rec_live_delta, atomic_load_explicit(&h->rec_live_delta, memory_order_relaxed) + v,
                        memory_order_relaxed);
}
/* The block p of size bytes asked for was just handed out by h (active);
 * returns p. With stacks, the recorder is called last, from a tail call,
 * so that the path without them saves no register and makes no frame. */
HEAP_HIDDEN void *heap_rec_stacked(heap_t *h, heap_rec_t *r, void *p, size_t size);
static inline __attribute__((always_inline)) void *heap_rec_put(heap_t *h, heap_rec_t *r, void *p, size_t size) {
  /* one 16-byte store rather than four (walkers check the tag and take
   * the rest from their copy) */
  const heap_rec_t fresh = {heap_rec_tag(p), 0, (uint32_t)size, h->rec_seq++};
  __builtin_memcpy(r, &fresh, sizeof fresh);
  heap_count_own(&h->rec_bytes, size);
  heap_rec_live_own(h, (int64_t)size);
  heap_count_own(heap_rec_hist(h, size), 1);
  if (unlikely(h->rec_paused | atomic_load_explicit(&heap_rec_slow, memory_order_relaxed)))
    return heap_rec_stacked(h, r, p, size);
  return p;
}
/* The same where the page is not at hand (slow paths, huge blocks). */
HEAP_HIDDEN void *heap_rec_note(heap_t *h, void *p, size_t size);
/* p was freed but is no live block: told to the recorder, and the free
 * goes no further. */
HEAP_HIDDEN void heap_rec_bad_free(void *p);
/* A free whose record r missed the fast path's compare: true (and the
 * counts of a quiet block's free made, asked bytes given back to the live
 * count its caller takes them from) if p is a quiet live block; else
 * told as a bad free, and false. */
HEAP_HIDDEN bool heap_rec_odd_free(heap_rec_t *r, void *p, size_t asked);
/* The same for a small or large block whose record missed the compare in
 * heap_free_in: a quiet block is freed, anything else told and kept. */
HEAP_HIDDEN void heap_rec_free_odd(heap_segment_t *seg, heap_page_t *pg, void *p);
/* A free of p, which the heap does not own: false (told as an invalid
 * free) if it cannot be a block of anyone's, being misaligned; else
 * counted as a free of a block never recorded, and true. */
HEAP_HIDDEN bool heap_rec_foreign_free(void *p);
/* The live record of p, for realloc; NULL (told as a bad free) if p is
 * none. */
HEAP_HIDDEN heap_rec_t *heap_rec_live(void *p);
/* The live block p (its record r, looked up before) now holds size bytes
 * asked for, at q (realloc in place, or a huge block's pages moved). */
HEAP_HIDDEN void heap_rec_resized(void *q, size_t size);
/* A realloc moved the block to q, just allocated by the caller's heap. */
HEAP_HIDDEN void heap_rec_moved(void *q);
HEAP_HIDDEN void heap_rec_stats_flush(heap_t *h);
/* An allocation's last step: its record (the recording build), or the
 * sampler's countdown (the sampled one), or nothing. */
#define HEAP_HANDED(h, pg, p, size, kind) heap_rec_put((h), heap_rec_in_page((pg), (p)), (p), (size))
#define HEAP_HANDED_SLOW(h, p, size, kind) heap_rec_note((h), (p), (size))
#else
#define HEAP_HANDED(h, pg, p, size, kind) HEAP_SAMPLE((h), (p), (size), (kind))
#define HEAP_HANDED_SLOW(h, p, size, kind) HEAP_SAMPLE((h), (p), (size), (kind))
#endif

#endif
