/* Segments: 4 MiB aligned spans cut into 64 KiB slices, handed to pages as
 * runs. Free slices stay "dirty" (resident) for a while so that a page freed
 * and made again costs no page faults; a slice that stayed free across a
 * whole purge delay is given back to the OS. Fully free segments go to a
 * small process-wide cache, still dirty, so that a thread starting as
 * another ends (a pool of workers) takes warm memory; those that wait there
 * a purge delay are purged, and past the cache's size unmapped. */
#include "alloc/heap_record.h"
#include "os/os.h"

static os_lock_t cache_lock = OS_LOCK_INIT;
static heap_segment_t *cache_first; /* the latest given back first: the warmest */
static size_t cache_count;
static _Atomic size_t cache_dirty;  /* cached segments not yet purged */
/* Free slices still resident in the heaps' segments (bytes), all heaps:
 * memory kept warm for new pages, bounded by a share of the live bytes. */
static _Atomic int64_t free_dirty;

static inline void free_dirty_add(uint64_t slices_mask, int sign) {
  int64_t b = (int64_t)__builtin_popcountll(slices_mask) * (int64_t)SLICE_SIZE;
  if (b != 0) atomic_fetch_add_explicit(&free_dirty, sign * b, memory_order_relaxed);
}

/* As much as the live bytes, at least FREE_DIRTY_MIN: past that a page's
 * slices are purged as it is freed, so that a program does not keep more
 * free memory warm than it has in use. */
static bool free_dirty_over(void) {
  int64_t live = atomic_load_explicit(&heap_gstats.live, memory_order_relaxed);
  int64_t budget = live > (int64_t)FREE_DIRTY_MIN ? live : (int64_t)FREE_DIRTY_MIN;
  return atomic_load_explicit(&free_dirty, memory_order_relaxed) > budget;
}

static inline uint64_t run_mask(size_t n, size_t at) {
  return (n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << at;
}

/* Lowest start of n consecutive set bits in m, or -1. */
static int find_run(uint64_t m, size_t n) {
  uint64_t r = m;
  for (size_t i = 1; i < n && r; i++) r &= m >> i;
  return r ? __builtin_ctzll(r) : -1;
}

/* Start of the shortest run of free slices that holds n (best fit, so that
 * big runs are not cut up for small pages while a hole of the right size
 * exists); -1 when none. *len gets the run's length. */
static int best_run(uint64_t m, size_t n, size_t *len) {
  int best = -1;
  size_t best_len = SLICE_COUNT + 1;
  while (m) {
    int i = __builtin_ctzll(m);
    uint64_t rest = ~(m >> i);
    size_t l = rest ? (size_t)__builtin_ctzll(rest) : (size_t)(64 - i);
    if (l >= n && l < best_len) {
      best = i;
      best_len = l;
      if (l == n) break;
    }
    m &= ~run_mask(l, (size_t)i);
  }
  *len = best_len;
  return best;
}

static void committed_add(int64_t bytes) {
  if (bytes >= 0) {
    uint64_t now = atomic_fetch_add_explicit(&heap_gstats.committed, (uint64_t)bytes,
                                             memory_order_relaxed) + (uint64_t)bytes;
    heap_gmax(&heap_gstats.peak_committed, now);
  } else {
    atomic_fetch_sub_explicit(&heap_gstats.committed, (uint64_t)-bytes, memory_order_relaxed);
  }
}

static heap_segment_t *segment_obtain(void) {
  os_lock(&cache_lock);
  heap_segment_t *seg = cache_first;
  if (seg != NULL) {
    cache_first = seg->next;
    cache_count--;
  }
  if (seg != NULL && seg->dirty_mask) {
    atomic_fetch_sub_explicit(&cache_dirty, 1, memory_order_relaxed);
    free_dirty_add(seg->dirty_mask, -1); /* (counted again as its heap's) */
  }
  os_unlock(&cache_lock);
  if (seg != NULL) return seg;

  seg = os_map_aligned(SEG_SIZE, SEG_SIZE, 0);
  if (seg == NULL) return NULL;
#if RH_HEAP_RECORDS
  /* the records, at the byte offsets of their blocks' granules: memory
   * only where written */
  seg->recs = os_map_aligned(SEG_SIZE, os_page_size(), 0);
  if (seg->recs == NULL) {
    os_unmap(seg, SEG_SIZE);
    return NULL;
  }
  for (size_t i = 0; i < SLICE_COUNT; i++) heap_rec_page_clear(&seg->pages[i]);
#endif
  heap_gadd(&heap_gstats.os_map_calls, 1);
  heap_gadd(&heap_gstats.reserved, SEG_SIZE);
  committed_add((int64_t)SLICE_SIZE); /* the header slice */
  heap_owner_mark(seg, SEG_SIZE, true);
  seg->kind = SEG_NORMAL;
  seg->free_mask = SLICES_USABLE_MASK;
  seg->dirty_mask = 0;
  seg->purge_candidates = 0;
#if RH_HEAP_RECORDS
  heap_head_mark(seg, true); /* its header is whole: the record walk may read it */
#endif
  return seg;
}

static void segment_purge_all(heap_segment_t *seg) {
  if (seg->dirty_mask == 0) return;
  os_purge((uint8_t *)seg + SLICE_SIZE, SEG_SIZE - SLICE_SIZE);
  heap_gadd(&heap_gstats.os_purge_calls, 1);
  heap_gadd(&heap_gstats.purged, (uint64_t)__builtin_popcountll(seg->dirty_mask) * SLICE_SIZE);
  committed_add(-(int64_t)((size_t)__builtin_popcountll(seg->dirty_mask) * SLICE_SIZE));
  seg->dirty_mask = 0;
}

static void segment_unmap(heap_segment_t *seg) {
#if RH_HEAP_RECORDS
  heap_rec_map_lock(true);
  heap_head_mark(seg, false);
  os_unmap(seg->recs, SEG_SIZE);
#endif
  heap_owner_mark(seg, SEG_SIZE, false);
  committed_add(-(int64_t)((size_t)__builtin_popcountll(seg->dirty_mask) * SLICE_SIZE));
  os_unmap(seg, SEG_SIZE);
#if RH_HEAP_RECORDS
  heap_rec_map_lock(false);
#endif
  heap_gadd(&heap_gstats.os_unmap_calls, 1);
  atomic_fetch_sub_explicit(&heap_gstats.reserved, SEG_SIZE, memory_order_relaxed);
  committed_add(-(int64_t)SLICE_SIZE);
}

/* A fully free segment goes to the cache as it is (purge: purged first;
 * so too when the warm free memory is past its bound). */
static void segment_give_back(heap_segment_t *seg, bool purge) {
  heap_assert(seg->free_mask == SLICES_USABLE_MASK);
  if (!purge && seg->dirty_mask) {
    free_dirty_add(seg->dirty_mask, 1);
    if (free_dirty_over()) {
      free_dirty_add(seg->dirty_mask, -1);
      purge = true;
    }
  }
  if (purge) segment_purge_all(seg);
  seg->purge_candidates = 0;
  seg->cached_ms = os_now_ms();
  atomic_store_explicit(&seg->heap, NULL, memory_order_relaxed);
  os_lock(&cache_lock);
  if (cache_count < SEGMENT_CACHE_MAX) {
    seg->next = cache_first;
    cache_first = seg;
    cache_count++;
    if (seg->dirty_mask) atomic_fetch_add_explicit(&cache_dirty, 1, memory_order_relaxed);
    seg = NULL;
  }
  os_unlock(&cache_lock);
  if (seg == NULL) {
    if (!purge) heap_purge_due(PURGE_DELAY_MS);
    return;
  }
  free_dirty_add(seg->dirty_mask, -1);
  segment_unmap(seg);
}

bool heap_segment_cache_trim(bool all) {
  if (atomic_load_explicit(&cache_dirty, memory_order_relaxed) == 0) return false;
  uint64_t now = os_now_ms();
  bool waiting = false;
  os_lock(&cache_lock);
  for (heap_segment_t *seg = cache_first; seg != NULL; seg = seg->next) {
    if (seg->dirty_mask == 0) continue;
    if (all || now - seg->cached_ms >= PURGE_DELAY_MS) {
      free_dirty_add(seg->dirty_mask, -1);
      segment_purge_all(seg);
      atomic_fetch_sub_explicit(&cache_dirty, 1, memory_order_relaxed);
    } else {
      waiting = true;
    }
  }
  os_unlock(&cache_lock);
  return waiting;
}

static void segment_unlink(heap_t *h, heap_segment_t *seg) {
  free_dirty_add(seg->free_mask & seg->dirty_mask, -1);
  if (seg->prev) seg->prev->next = seg->next;
  else h->segments = seg->next;
  if (seg->next) seg->next->prev = seg->prev;
  seg->next = seg->prev = NULL;
  h->segment_count--;
}

heap_page_t *heap_segment_page_alloc(heap_t *h, size_t slices) {
  heap_segment_t *seg = NULL;
  int at = -1;
  size_t best = SLICE_COUNT + 1;
  /* Free slices still resident first (a page made there costs no page
   * fault and no more memory), the best fit among them; then any. */
  for (int pass = 0; pass < 2 && seg == NULL; pass++) {
    for (heap_segment_t *s = h->segments; s != NULL && best != slices; s = s->next) {
      size_t len;
      int i = best_run(pass == 0 ? s->free_mask & s->dirty_mask : s->free_mask, slices, &len);
      if (i >= 0 && len < best) {
        best = len;
        seg = s;
        at = i;
      }
    }
  }
  if (seg == NULL) {
    /* Before asking the OS: memory may be idle in exited threads' heaps. */
    heap_abandoned_tidy(PURGE_RELEASE);
    seg = segment_obtain();
    if (seg == NULL) return NULL;
    atomic_store_explicit(&seg->heap, h, memory_order_relaxed);
    seg->prev = NULL;
    seg->next = h->segments;
    if (h->segments) h->segments->prev = seg;
    h->segments = seg;
    h->segment_count++;
    free_dirty_add(seg->free_mask & seg->dirty_mask, 1);
    at = find_run(seg->free_mask, slices);
    heap_assert(at >= 0);
  }
  uint64_t run = run_mask(slices, (size_t)at);
  committed_add((int64_t)((size_t)__builtin_popcountll(run & ~seg->dirty_mask) * SLICE_SIZE));
  heap_page_t *pg = &seg->pages[at];
  pg->is_zero = (seg->dirty_mask & run) == 0;
  free_dirty_add(run & seg->dirty_mask, -1);
  seg->free_mask &= ~run;
  seg->dirty_mask |= run;
  seg->purge_candidates &= ~run;
  pg->slice_count = (uint8_t)slices;
  pg->slice_offset = 0;
  for (size_t i = 1; i < slices; i++) seg->pages[at + (int)i].slice_offset = (uint8_t)i;
  pg->start = (uint8_t *)seg + ((size_t)at << SLICE_SHIFT);
  return pg;
}

/* Grows a page run in place over the free slices right after it (realloc
 * of a large block by its owner): no copy, no new run. */
bool heap_segment_page_grow(heap_page_t *pg, size_t slices) {
  heap_segment_t *seg = heap_segment_of_page(pg);
  size_t at = (size_t)(pg - seg->pages);
  size_t have = pg->slice_count;
  if (slices <= have || at + slices > SLICE_COUNT) return false;
  uint64_t extra = run_mask(slices - have, at + have);
  if ((seg->free_mask & extra) != extra) return false;
  committed_add((int64_t)((size_t)__builtin_popcountll(extra & ~seg->dirty_mask) * SLICE_SIZE));
  free_dirty_add(extra & seg->dirty_mask, -1);
  seg->free_mask &= ~extra;
  seg->dirty_mask |= extra;
  seg->purge_candidates &= ~extra;
  for (size_t i = have; i < slices; i++) seg->pages[at + i].slice_offset = (uint8_t)i;
  pg->slice_count = (uint8_t)slices;
  return true;
}

static void segment_purge_mask(heap_segment_t *seg, uint64_t m);

void heap_segment_page_release(heap_t *h, heap_page_t *pg) {
  heap_segment_t *seg = heap_segment_of_page(pg);
  size_t at = (size_t)(pg - seg->pages);
  heap_assert(pg->slice_count > 0 && at >= 1 && at + pg->slice_count <= SLICE_COUNT);
  uint64_t run = run_mask(pg->slice_count, at);
  heap_assert((seg->free_mask & run) == 0);
  seg->free_mask |= run;
#if RH_HEAP_RECORDS
  /* an address in a free slice then finds no record */
  for (size_t i = 1; i < pg->slice_count; i++) seg->pages[at + i].slice_offset = 0;
  heap_rec_page_clear(pg);
#endif
  pg->slice_count = 0;
  pg->flags = 0;
  atomic_store_explicit(&pg->samples, 0, memory_order_relaxed);
  pg->free = NULL;
  free_dirty_add(run & seg->dirty_mask, 1);
  /* past the bound on warm free memory, these slices go back now (the
   * bound follows the live bytes: this heap's frees are counted first) */
  if (h->live_delta <= -LIVE_FLUSH_BYTES) heap_stats_flush(h);
  if (free_dirty_over()) {
    /* this segment's free slices first, then the heap's others until the
     * warm memory is back within its bound (as live memory shrinks) */
    segment_purge_mask(seg, seg->free_mask & seg->dirty_mask);
    for (heap_segment_t *s = h->segments; s != NULL && free_dirty_over(); s = s->next)
      segment_purge_mask(s, s->free_mask & s->dirty_mask);
  }
  if (h->purge_deadline == 0) h->purge_deadline = os_now_ms() + PURGE_DELAY_MS;
}

/* Gives back every free slice of this segment that is still dirty. */
static void segment_purge_mask(heap_segment_t *seg, uint64_t m) {
  while (m) {
    int i = __builtin_ctzll(m);
    uint64_t rest = ~(m >> i);
    int len = rest ? __builtin_ctzll(rest) : 64 - i;
    os_purge((uint8_t *)seg + ((size_t)i << SLICE_SHIFT), (size_t)len << SLICE_SHIFT);
    heap_gadd(&heap_gstats.os_purge_calls, 1);
    heap_gadd(&heap_gstats.purged, (uint64_t)len * SLICE_SIZE);
    committed_add(-(int64_t)((size_t)len * SLICE_SIZE));
    uint64_t done = run_mask((size_t)len, (size_t)i);
    free_dirty_add(done & seg->free_mask & seg->dirty_mask, -1);
    seg->dirty_mask &= ~done;
    m &= ~done;
  }
}

void heap_segments_purge(heap_t *h, heap_purge_t mode) {
  bool all = mode == PURGE_ALL;
  bool kept_free_segment = mode != PURGE_TICK; /* only a running heap keeps one */
  bool waiting = false;
  heap_segment_t *next;
  for (heap_segment_t *seg = h->segments; seg != NULL; seg = next) {
    next = seg->next;
    uint64_t idle = seg->free_mask & seg->dirty_mask;
    /* Two-step: a slice is purged only if it was already free and dirty at
     * the previous purge tick, so memory freed a moment ago and about to be
     * reused is left alone. */
    if (mode != PURGE_RELEASE) {
      uint64_t purge = all ? idle : (idle & seg->purge_candidates);
      segment_purge_mask(seg, purge);
      seg->purge_candidates = all ? 0 : (idle & ~purge);
    }
    if (seg->free_mask == SLICES_USABLE_MASK) {
      /* One empty segment stays with a running heap: the next page needs
       * no mapping. */
      if (!kept_free_segment) {
        kept_free_segment = true;
        if (seg->purge_candidates) waiting = true;
        continue;
      }
      segment_unlink(h, seg);
      segment_give_back(seg, all);
      continue;
    }
    if (seg->purge_candidates) waiting = true;
  }
  if (mode != PURGE_RELEASE || waiting) h->purge_deadline = waiting ? os_now_ms() + PURGE_DELAY_MS : 0;
}

void heap_segment_cache_lock(bool lock) {
  if (lock) os_lock(&cache_lock);
  else os_unlock(&cache_lock);
}

void heap_segment_cache_reset(void) {
  os_lock_reset(&cache_lock);
}
