/* Pages: blocks of one size class in a run of slices, carved lazily, kept in
 * the owning heap's per-class queue while they may have free blocks and in
 * its full list otherwise. Also the large blocks: one block per page run. */
#include <string.h>

#include "alloc/heap_internal.h"
#include "os/os.h"

/* Carve at most this much at a time: a fresh 64 KiB page costs only the
 * memory the program really uses. */
#define EXTEND_BYTES (4u << 10)

static size_t class_slices(size_t block_size) {
  if (block_size <= 8192) return 1;
  /* Two blocks at least for the biggest classes: a page of more would hold
   * memory for blocks a thread that uses a size now and then never needs,
   * and the slices left over at its end are never touched. */
  return (2 * block_size + SLICE_SIZE - 1) >> SLICE_SHIFT;
}

void heap_page_init(heap_page_t *pg, size_t block_size, uint8_t cls, uint32_t reserved) {
  pg->free = NULL;
  pg->used = 0;
  pg->block_size = (uint32_t)block_size;
  pg->flags = 0;
  atomic_store_explicit(&pg->samples, 0, memory_order_relaxed);
  pg->class_idx = cls;
  pg->kind = cls >= CLASS_COUNT && cls < CLASS_SLOTS ? KIND_TAKEOVER : KIND_PLAIN;
  pg->capacity = 0;
  pg->reserved = reserved;
  atomic_store_explicit(&pg->thread_free, 0, memory_order_relaxed);
  pg->next = pg->prev = NULL;
#if RH_HEAP_RECORDS
  /* blocks at least 2^shift apart: one record each, at most two per block
   * of room; a large page's one block (perhaps not at its start) has the
   * first */
  heap_segment_t *seg = heap_segment_of_page(pg);
  unsigned shift = cls == CLASS_LARGE ? SEG_SHIFT : 63u - (unsigned)__builtin_clzll((unsigned long long)block_size);
  pg->rec_shift = (uint8_t)shift;
  pg->rec_base = (uintptr_t)seg->recs + (uintptr_t)(pg->start - (uint8_t *)seg) - (((uintptr_t)pg->start >> shift) << 4);
#endif
}

void heap_page_extend(heap_page_t *pg) {
  heap_assert(pg->free == NULL && pg->capacity < pg->reserved);
  size_t bs = pg->block_size;
  uint32_t n = pg->reserved - pg->capacity;
  uint32_t want = bs >= EXTEND_BYTES ? 1u : (uint32_t)(EXTEND_BYTES / bs);
  if (n > want) n = want;
  uint8_t *first = pg->start + (size_t)pg->capacity * bs;
  uint8_t *p = first;
  for (uint32_t i = 1; i < n; i++, p += bs) ((heap_block_t *)p)->next = (heap_block_t *)(p + bs);
  ((heap_block_t *)p)->next = NULL;
  pg->free = (heap_block_t *)first;
  pg->capacity += n;
}

/* Takes the blocks other threads gave back and puts them on the free list. */
void heap_page_collect(heap_page_t *pg) {
  uintptr_t tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
  if ((tf & ~TF_NOTIFY) == 0) return;
  /* A list is only ever pushed while TF_NOTIFY is clear (see free.c), so
   * taking it all leaves the word at 0. */
  tf = atomic_exchange_explicit(&pg->thread_free, 0, memory_order_acquire);
  heap_block_t *head = (heap_block_t *)tf;
  heap_block_t *tail = head;
  uint32_t n = 1;
  while (tail->next != NULL) {
    tail = tail->next;
    n++;
  }
  heap_assert(pg->used >= n);
  tail->next = pg->free;
  pg->free = head;
  pg->used -= n;
}

static void queue_push_front(heap_t *h, page_queue_t *q, heap_page_t *pg) {
  pg->prev = NULL;
  pg->next = q->first;
  if (q->first) q->first->prev = pg;
  else q->last = pg;
  q->first = pg;
  if (q != &h->full) h->current[pg->class_idx] = pg;
}

static void queue_push_back(heap_t *h, page_queue_t *q, heap_page_t *pg) {
  pg->next = NULL;
  pg->prev = q->last;
  if (q->last) q->last->next = pg;
  else {
    q->first = pg;
    if (q != &h->full) h->current[pg->class_idx] = pg;
  }
  q->last = pg;
}

void heap_queue_remove(heap_t *h, page_queue_t *q, heap_page_t *pg) {
  if (pg->prev) pg->prev->next = pg->next;
  else q->first = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  else q->last = pg->prev;
  pg->next = pg->prev = NULL;
  if (q != &h->full) h->current[pg->class_idx] = q->first ? q->first : &heap_page_empty;
}

/* The page looked full: either mark it so (the next remote free will tell
 * the heap) or learn that some blocks came back meanwhile. */
static bool page_try_mark_full(heap_page_t *pg) {
  uintptr_t expected = 0;
  if (atomic_compare_exchange_strong_explicit(&pg->thread_free, &expected, TF_NOTIFY,
                                              memory_order_acq_rel, memory_order_relaxed))
    return true;
  return expected == TF_NOTIFY; /* already asked for notice */
}

static void page_unfull(heap_t *h, heap_page_t *pg) {
  heap_queue_remove(h, &h->full, pg);
  pg->flags &= (uint8_t)~PAGE_IN_FULL;
  queue_push_back(h, &h->queue[pg->class_idx], pg);
}

void heap_page_now_empty(heap_t *h, heap_page_t *pg) {
  page_queue_t *q = &h->queue[pg->class_idx];
  /* The last page of a small class stays: a program that frees and
   * allocates the same size in turn must not make and drop a page every
   * time. A page of bigger blocks holds only a few of them and is cheap to
   * make again, while kept empty it would hold up to 256 KiB per class and
   * thread; it goes back to its segment, where it stays warm for a purge
   * delay anyway. */
  if (q->first == pg && q->last == pg && pg->block_size <= KEEP_EMPTY_MAX_BLOCK) return;
  heap_queue_remove(h, q, pg);
  heap_segment_page_release(h, pg);
}

void heap_page_free_block(heap_t *h, heap_page_t *pg, heap_block_t *b) {
  if (pg->flags & PAGE_LARGE) {
    pg->used = 0;
    heap_segment_page_release(h, pg);
    return;
  }
  b->next = pg->free;
  pg->free = b;
  if (pg->flags & PAGE_IN_FULL) page_unfull(h, pg);
  heap_assert(pg->used > 0);
  if (--pg->used == 0) heap_page_now_empty(h, pg);
}

static inline void *page_pop(heap_t *h, heap_page_t *pg) {
  heap_block_t *b = pg->free;
  heap_assert(b != NULL && (uint8_t *)b >= pg->start &&
              (uint8_t *)b < pg->start + (size_t)pg->capacity * pg->block_size);
  pg->free = b->next;
  pg->used++;
  heap_count_own(&h->allocs[pg->class_idx], 1);
  h->live_delta += pg->block_size;
  return b;
}

void *heap_class_alloc_slow(heap_t *h, size_t cls) {
  heap_slow_tick(h);
  page_queue_t *q = &h->queue[cls];
  heap_page_t *pg = q->first;
  while (pg != NULL) {
    heap_page_collect(pg);
    if (pg->free == NULL && pg->capacity < pg->reserved) heap_page_extend(pg);
    if (pg->free != NULL) {
      if (pg != q->first) {
        heap_queue_remove(h, q, pg);
        queue_push_front(h, q, pg);
      }
      return page_pop(h, pg);
    }
    if (!page_try_mark_full(pg)) continue; /* blocks arrived: collect again */
    heap_page_t *next = pg->next;
    heap_queue_remove(h, q, pg);
    pg->flags |= PAGE_IN_FULL;
    queue_push_front(h, &h->full, pg);
    pg = next;
  }
  size_t bs = heap_slot_size(cls);
  size_t slices = class_slices(bs);
  pg = heap_segment_page_alloc(h, slices);
  if (pg == NULL) return NULL;
  heap_page_init(pg, bs, (uint8_t)cls, (uint32_t)((slices << SLICE_SHIFT) / bs));
  queue_push_front(h, q, pg);
  heap_page_extend(pg);
  return page_pop(h, pg);
}

void *heap_large_alloc(heap_t *h, size_t size, size_t align, unsigned kind) {
  heap_slow_tick(h);
  size_t need = size + (align > SLICE_SIZE ? align - SLICE_SIZE : 0);
  size_t slices = (need + SLICE_SIZE - 1) >> SLICE_SHIFT;
  heap_page_t *pg = heap_segment_page_alloc(h, slices);
  if (pg == NULL) return NULL;
  heap_page_init(pg, slices << SLICE_SHIFT, CLASS_LARGE, 1);
  pg->flags = PAGE_LARGE | PAGE_IN_FULL;
  pg->kind = (uint8_t)kind;
  if (kind == KIND_TAKEOVER) heap_gadd(&heap_gstats.takeover_big_allocs, 1);
  pg->used = 1;
  pg->capacity = 1;
  /* One block, so the page is full from the start: a remote free must tell
   * the owner, which then returns the slices. */
  atomic_store_explicit(&pg->thread_free, TF_NOTIFY, memory_order_relaxed);
  heap_count(h, &h->large_allocs, 1);
  heap_count(h, &h->large_alloc_bytes, pg->block_size);
  h->live_delta += pg->block_size;
  uint8_t *p = pg->start;
  if (align > SLICE_SIZE) p = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
  return p;
}

bool heap_large_grow(heap_t *h, heap_page_t *pg, void *p, size_t size) {
  if ((uint8_t *)p != pg->start || size > LARGE_MAX_SIZE) return false;
  size_t slices = (size + SLICE_SIZE - 1) >> SLICE_SHIFT;
  size_t old = pg->block_size;
  if (!heap_segment_page_grow(pg, slices)) return false;
  pg->block_size = (uint32_t)(slices << SLICE_SHIFT);
  heap_count(h, &h->large_alloc_bytes, pg->block_size - old);
  h->live_delta += (int64_t)(pg->block_size - old);
  return true;
}

/* Collects every page's remote frees; with release_empty, also gives back
 * the pages that end up empty (thread exit, rh_heap_collect). */
void heap_pages_collect_all(heap_t *h, bool release_empty) {
  heap_page_t *pg, *next;
  for (pg = h->full.first; pg != NULL; pg = next) {
    next = pg->next;
    heap_page_collect(pg);
    if (pg->free != NULL) page_unfull(h, pg);
  }
  for (size_t c = 0; c < CLASS_SLOTS; c++) {
    for (pg = h->queue[c].first; pg != NULL; pg = next) {
      next = pg->next;
      heap_page_collect(pg);
      if (pg->used == 0) {
        if (release_empty) {
          heap_queue_remove(h, &h->queue[c], pg);
          heap_segment_page_release(h, pg);
        } else {
          heap_page_now_empty(h, pg);
        }
      }
    }
  }
}
