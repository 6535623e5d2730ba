/* Huge blocks (above LARGE_MAX_SIZE): each its own mapping with a small
 * header in front, mapped over whole 4 MiB granules so that rh_owns() stays
 * exact. Grown by moving pages, not bytes.
 *
 * A freed mapping waits a while in a small cache before going back to the
 * OS: programs that load and drop big buffers over and over (a game's
 * assets, a decoder's frames) would otherwise pay a map, an unmap and a
 * page fault per page every time. A new block takes the smallest cached
 * mapping that holds it, cut to its size. The cache is bounded in entries
 * and in resident bytes (half the live bytes, within HUGE_CACHE_MIN and
 * HUGE_CACHE_BYTES: past that a freed mapping is kept purged); a mapping
 * not taken again within PURGE_DELAY_MS is purged, and what has waited
 * HUGE_CACHE_MS is unmapped, on the next tick. */
#include "alloc/heap_record.h"
#include "os/os.h"

#define HUGE_HEADER ((size_t)4096)
#define HUGE_CACHE_SLOTS 32
#define HUGE_CACHE_BYTES ((size_t)64 << 20)
#define HUGE_CACHE_MIN ((size_t)32 << 20)
#define HUGE_CACHE_MS 1000
#define HUGE_CALLOC_REUSE ((size_t)16 << 20)

typedef struct huge_cached_s {
  heap_segment_t *seg;
  uint64_t since_ms;
  size_t weight; /* what it may hold resident (0 once purged) */
} huge_cached_t;

static os_lock_t cache_lock = OS_LOCK_INIT;
static huge_cached_t cache[HUGE_CACHE_SLOTS];
static size_t cache_count, cache_bytes; /* cache_bytes: the weights' sum */
static _Atomic size_t cache_nonempty;

static size_t round_up(size_t v, size_t to) { return (v + to - 1) & ~(to - 1); }

/* What a cached mapping may hold resident: its last block. */
static size_t block_weight(const heap_segment_t *seg) { return seg->huge_usable; }

/* count_live: whether the block still counts as live (false for a cached
 * mapping, whose bytes left the live count when it was freed). */
static void huge_account_live(heap_segment_t *seg, bool add, bool count_live);

static void huge_account(heap_segment_t *seg, bool add) { huge_account_live(seg, add, true); }

static void huge_account_live(heap_segment_t *seg, bool add, bool count_live) {
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
    if (count_live)
      atomic_fetch_sub_explicit(&heap_gstats.live, (int64_t)seg->huge_usable,
                                memory_order_relaxed);
  }
}

static void huge_unmap(heap_segment_t *seg, bool live) {
  huge_account_live(seg, false, live);
  size_t total = seg->map_size;
#if RH_HEAP_RECORDS
  heap_rec_map_lock(true);
  heap_head_mark(seg, false);
#endif
  heap_owner_mark(seg, total, false);
  os_unmap(seg, total);
#if RH_HEAP_RECORDS
  heap_rec_map_lock(false);
#endif
}

/* Takes a cached mapping out: with bigger, the smallest of at least total
 * bytes (dirty_ok: one not purged will do); else the biggest not purged
 * and smaller than total. *purged: whether its pages were given back (so
 * read as zeros). NULL when none is. */
static heap_segment_t *cache_pick(size_t total, bool bigger, bool dirty_ok, bool *purged) {
  if (atomic_load_explicit(&cache_nonempty, memory_order_relaxed) == 0) return NULL;
  heap_segment_t *found = NULL;
  size_t best = 0;
  os_lock(&cache_lock);
  for (size_t i = 0; i < cache_count; i++) {
    size_t have = cache[i].seg->map_size;
    bool fits = bigger ? have >= total && (dirty_ok || cache[i].weight == 0) : have < total && cache[i].weight != 0;
    if (fits && (found == NULL || (bigger ? have < cache[best].seg->map_size : have > cache[best].seg->map_size))) {
      found = cache[i].seg;
      best = i;
    }
  }
  if (found != NULL) {
    *purged = cache[best].weight == 0;
    cache_bytes -= cache[best].weight;
    cache[best] = cache[--cache_count];
  }
  atomic_store_explicit(&cache_nonempty, cache_count, memory_order_relaxed);
  os_unlock(&cache_lock);
  return found;
}

/* The smallest cached mapping of at least total bytes, cut to total when
 * it is much bigger: its pages in front are resident already, the rest
 * goes back to the OS at once. */
static heap_segment_t *cache_take(size_t total, bool dirty_ok, bool *purged) {
  heap_segment_t *found = cache_pick(total, true, dirty_ok, purged);
  if (found != NULL && found->map_size - total > total / 2) {
    size_t cut = found->map_size - total;
    uint8_t *tail = (uint8_t *)found + total;
    heap_owner_mark(tail, cut, false);
    os_unmap(tail, cut);
    atomic_fetch_sub_explicit(&heap_gstats.reserved, cut, memory_order_relaxed);
    found->map_size = total;
    size_t off = (size_t)(found->huge_block - (uint8_t *)found);
    if (off + found->huge_usable > total) {
      /* the committed count follows what is left */
      atomic_fetch_sub_explicit(&heap_gstats.committed, off + found->huge_usable - total, memory_order_relaxed);
      found->huge_usable = total - off;
    }
  }
  return found;
}

/* The cache's mappings may hold resident half the live bytes, at
 * least HUGE_CACHE_MIN and at most HUGE_CACHE_BYTES: past that, a freed
 * mapping is kept purged (its pages given back, the mapping there to be
 * taken again without a map call), so that a program with little live
 * memory does not keep as much again in freed buffers. */
static size_t cache_budget(void) {
  int64_t live = atomic_load_explicit(&heap_gstats.live, memory_order_relaxed);
  size_t b = live > 0 ? (size_t)live / 2 : 0;
  return b < HUGE_CACHE_MIN ? HUGE_CACHE_MIN : b > HUGE_CACHE_BYTES ? HUGE_CACHE_BYTES : b;
}

/* Gives back every page of a cached mapping but its header's: all of it
 * then reads as zeros, whatever size and offset its earlier blocks had. */
static void cache_purge(heap_segment_t *seg) {
  os_purge((uint8_t *)seg + HUGE_HEADER, seg->map_size - HUGE_HEADER);
  heap_gadd(&heap_gstats.os_purge_calls, 1);
  heap_gadd(&heap_gstats.purged, seg->huge_usable);
  atomic_fetch_sub_explicit(&heap_gstats.committed, seg->huge_usable, memory_order_relaxed);
  seg->huge_usable = 0;
}

static bool cache_put(heap_segment_t *seg) {
  size_t budget = cache_budget();
  os_lock(&cache_lock);
  if (cache_count == HUGE_CACHE_SLOTS) {
    os_unlock(&cache_lock);
    return false;
  }
  huge_cached_t *e = &cache[cache_count++];
  e->seg = seg;
  e->since_ms = os_now_ms();
  e->weight = block_weight(seg);
  bool purge = cache_bytes + e->weight > budget;
  if (purge) e->weight = 0;
  cache_bytes += e->weight;
  /* (purged under the lock: no thread may take it half done) */
  if (purge) cache_purge(seg);
  atomic_store_explicit(&cache_nonempty, cache_count, memory_order_relaxed);
  os_unlock(&cache_lock);
  heap_purge_due(purge ? HUGE_CACHE_MS : PURGE_DELAY_MS);
  return true;
}

/* fork: held across it, so the child's copy of the cache is whole. */
void heap_huge_cache_lock(bool take) {
  if (take) os_lock(&cache_lock);
  else os_unlock(&cache_lock);
}

void heap_huge_cache_reset(void) { os_lock_reset(&cache_lock); }

bool heap_huge_cache_trim(bool all) {
  if (atomic_load_explicit(&cache_nonempty, memory_order_relaxed) == 0) return false;
  heap_segment_t *out[HUGE_CACHE_SLOTS];
  size_t n = 0;
  uint64_t now = os_now_ms();
  os_lock(&cache_lock);
  for (size_t i = 0; i < cache_count;) {
    if (all || now - cache[i].since_ms >= HUGE_CACHE_MS) {
      out[n++] = cache[i].seg;
      cache_bytes -= cache[i].weight;
      cache[i] = cache[--cache_count];
      continue;
    }
    if (cache[i].weight != 0 && now - cache[i].since_ms >= PURGE_DELAY_MS) {
      cache_purge(cache[i].seg);
      cache_bytes -= cache[i].weight;
      cache[i].weight = 0;
    }
    i++;
  }
  bool waiting = cache_count != 0;
  atomic_store_explicit(&cache_nonempty, cache_count, memory_order_relaxed);
  os_unlock(&cache_lock);
  for (size_t i = 0; i < n; i++) huge_unmap(out[i], false);
  return waiting;
}

/* A cached mapping taken for a new block: its counters move from the old
 * block's size to the new one's, with no map call. */
static void *huge_reuse(heap_segment_t *seg, size_t off, size_t size) {
  size_t old_used = off + seg->huge_usable;
  seg->huge_block = (uint8_t *)seg + off;
  seg->huge_usable = round_up(size, os_page_size());
  size_t used = off + seg->huge_usable;
  if (used >= old_used) {
    uint64_t c = atomic_fetch_add_explicit(&heap_gstats.committed, used - old_used,
                                           memory_order_relaxed) + (used - old_used);
    heap_gmax(&heap_gstats.peak_committed, c);
  } else {
    atomic_fetch_sub_explicit(&heap_gstats.committed, old_used - used, memory_order_relaxed);
  }
  int64_t live = atomic_fetch_add_explicit(&heap_gstats.live, (int64_t)seg->huge_usable,
                                           memory_order_relaxed) + (int64_t)seg->huge_usable;
  if (live > 0) heap_gmax(&heap_gstats.peak_live, (uint64_t)live);
  heap_gadd(&heap_gstats.huge_allocs, 1);
  heap_gadd(&heap_gstats.huge_alloc_bytes, seg->huge_usable);
  return seg->huge_block;
}

void *heap_huge_alloc(size_t size, size_t align, bool *zeroed, unsigned kind) {
  size_t off, total;
  heap_segment_t *seg;
  /* calloc wants zeroed pages: a purged cached mapping gives them as a
   * fresh one would, without the map call. A dirty one costs the zeroing,
   * cheaper than a fresh mapping's faults for blocks up to
   * HUGE_CALLOC_REUSE (a program that callocs a big table and touches
   * little of it keeps the fresh mapping's laziness beyond). */
  if (align < SEG_SIZE) {
    off = align > HUGE_HEADER ? align : HUGE_HEADER;
    bool purged = false;
    seg = cache_take(round_up(off + size, SEG_SIZE), zeroed == NULL || size <= HUGE_CALLOC_REUSE, &purged);
    if (seg != NULL) {
      if (zeroed) *zeroed = purged;
      seg->block_kind = kind;
      seg->huge_sampled = 0;
      if (kind == KIND_TAKEOVER) heap_gadd(&heap_gstats.takeover_big_allocs, 1);
      return huge_reuse(seg, off, size);
    }
  }
  heap_huge_cache_trim(false);
  bool warm = false;
  if (align < SEG_SIZE) {
    off = align > HUGE_HEADER ? align : HUGE_HEADER;
    total = round_up(off + size, SEG_SIZE);
    seg = os_map_aligned(total, SEG_SIZE, 0);
    /* a smaller freed mapping, still resident, moves its pages to the new
     * one's front: fewer faults, and its memory serves again instead of
     * waiting in the cache beside the new block */
    bool was_purged;
    heap_segment_t *old = NULL;
    if (seg != NULL && (zeroed == NULL || size <= HUGE_CALLOC_REUSE)) old = cache_pick(total, false, true, &was_purged);
    if (old != NULL) {
      size_t old_total = old->map_size;
      huge_account_live(old, false, false);
      /* not ours before the move: the move frees its addresses, which
       * another thread's mapping may take at once (and mark as ours, so
       * clearing its bits after would disown that one) */
      heap_owner_mark(old, old_total, false);
#if RH_HEAP_RECORDS
      heap_rec_map_lock(true);
      heap_head_mark(old, false);
#endif
      warm = os_move_pages(old, old_total, seg, old_total);
#if RH_HEAP_RECORDS
      heap_rec_map_lock(false);
#endif
      if (!warm) os_unmap(old, old_total);
    }
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
  seg->block_kind = kind;
  seg->huge_sampled = 0;
  if (kind == KIND_TAKEOVER) heap_gadd(&heap_gstats.takeover_big_allocs, 1);
  atomic_store_explicit(&seg->heap, NULL, memory_order_relaxed);
  seg->map_size = total;
  seg->huge_block = (uint8_t *)seg + off;
  seg->huge_usable = round_up(size, os_page_size());
#if RH_HEAP_RECORDS
  seg->huge_rec.tag = 0;
  heap_head_mark(seg, true);
#endif
  huge_account(seg, true);
  heap_gadd(&heap_gstats.huge_allocs, 1);
  heap_gadd(&heap_gstats.huge_alloc_bytes, seg->huge_usable);
  if (zeroed) *zeroed = !warm;
  return seg->huge_block;
}

void heap_huge_free(heap_segment_t *seg) {
  heap_assert(seg->kind == SEG_HUGE);
  heap_gadd(&heap_gstats.huge_frees, 1);
  size_t usable = seg->huge_usable; /* once cached, seg is not ours to read */
  heap_gadd(&heap_gstats.huge_free_bytes, usable);
  atomic_fetch_sub_explicit(&heap_gstats.live, (int64_t)usable, memory_order_relaxed);
  if (cache_put(seg)) return;
  huge_unmap(seg, false);
}

/* live_bytes counts huge blocks as bytes handed out minus bytes given
 * back, so a resized block counts as the old one given back and the new
 * one handed out. */
static void huge_resized(size_t old_usable, size_t new_usable) {
  heap_gadd(&heap_gstats.huge_free_bytes, old_usable);
  heap_gadd(&heap_gstats.huge_alloc_bytes, new_usable);
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
    huge_resized(seg->huge_usable, want);
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
  /* into a cached mapping when one is big enough: the pages move over its
   * own, which go back to the OS at once (the cache shrinks as blocks
   * grow), and no map call is made */
  bool purged;
  heap_segment_t *dst = cache_take(total, true, &purged);
  bool cached = dst != NULL;
  if (cached) {
    huge_account_live(dst, false, false); /* (as if unmapped: mapped again below) */
    total = dst->map_size;
  } else {
    dst = os_map_aligned(total, SEG_SIZE, 0);
    if (dst == NULL) return NULL;
  }
  size_t old_total = seg->map_size;
  heap_owner_mark(dst, total, true);
  /* the move frees seg's addresses, which another thread's mapping may
   * take at once: they stop being ours before it */
  heap_owner_mark(seg, old_total, false);
  huge_account(seg, false);
#if RH_HEAP_RECORDS
  heap_rec_map_lock(true); /* the record walk must not read the old header as it goes */
#endif
  if (!os_move_pages(seg, old_total, dst, total)) {
    heap_owner_mark(seg, old_total, true);
    huge_account(seg, true);
    atomic_fetch_sub_explicit(&heap_gstats.os_map_calls, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&heap_gstats.os_unmap_calls, 1, memory_order_relaxed);
    heap_owner_mark(dst, total, false);
    os_unmap(dst, total);
#if RH_HEAP_RECORDS
    heap_rec_map_lock(false);
#endif
    return NULL;
  }
#if RH_HEAP_RECORDS
  heap_head_mark(seg, false);
  heap_head_mark(dst, true);
  heap_rec_map_lock(false);
#endif
  /* the header moved with the pages */
  dst->map_size = total;
  dst->huge_block = (uint8_t *)dst + off;
  huge_resized(dst->huge_usable, want);
  dst->huge_usable = want;
  huge_account(dst, true);
  if (cached) { /* its unmap and map above were counted, not made */
    atomic_fetch_sub_explicit(&heap_gstats.os_map_calls, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&heap_gstats.os_unmap_calls, 1, memory_order_relaxed);
  }
  return dst->huge_block;
}
