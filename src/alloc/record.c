/* Records inside the heap (built with RH_HEAP_RECORDS: libreheap_recorded.so,
 * for --track on reheap's heap). Every segment has a second mapping as big
 * as itself for records: a block's record sits at the byte offset of its
 * page in the segment, plus its index in the page times 16, the index being
 * its offset shifted right by the log2 of the block size. Blocks of a page
 * are at least 2^shift apart, so each has a record of its own, and the
 * records of a page take at most its own size (16-byte blocks), most often
 * far less; memory is used only where records are written.
 *
 * A record is live while its tag holds the block's address with bit 0 set.
 * malloc writes the record, free checks and clears the bit, so a double or
 * invalid free is seen by one compare and never reaches the free lists.
 * The owner writes the records of its pages; a remote free clears the bit
 * before it pushes the block, so the owner cannot hand the block out again
 * first.
 *
 * Invariant: a live record exists only for a block handed out and not
 * freed. A page is released only once all its blocks are back, so a page
 * made again over the same slices finds no live record left behind. */
#include "alloc/heap_free.h"
#include "os/os.h"

#if RH_HEAP_RECORDS
_Atomic uint64_t heap_head_bits[GRANULES / 64];
heap_rec_t heap_rec_none;
static uint32_t (*_Atomic stack_fn)(size_t size, const void *frame);
_Atomic uint8_t heap_rec_slow = 1; /* no recorder yet */

RH_API bool rh_heap_record_pause(bool paused) {
  heap_t *h = heap_tl_get();
  if (h->state != HEAP_ACTIVE && (h = heap_thread_init()) == NULL) return false;
  bool was = h->rec_paused;
  h->rec_paused = paused;
  return was;
}
static rh_heap_recorder_t recorder;
static _Atomic bool recorder_set;
static os_lock_t map_lock = OS_LOCK_INIT;

void heap_head_mark(void *seg, bool head) {
  uint64_t g = (uintptr_t)seg >> SEG_SHIFT;
  if (g >= GRANULES) return;
  uint64_t bit = (uint64_t)1 << (g & 63);
  if (head) atomic_fetch_or_explicit(&heap_head_bits[g >> 6], bit, memory_order_release);
  else atomic_fetch_and_explicit(&heap_head_bits[g >> 6], ~bit, memory_order_release);
}

void heap_rec_map_lock(bool take) {
  if (take) os_lock(&map_lock);
  else os_unlock(&map_lock);
}

void heap_rec_map_lock_reset(void) { os_lock_reset(&map_lock); }

RH_API bool rh_heap_set_recorder(const rh_heap_recorder_t *r) {
  if (r == NULL) return false;
  recorder = *r;
  atomic_store_explicit(&stack_fn, r->stack, memory_order_release);
  atomic_store_explicit(&recorder_set, true, memory_order_release);
  atomic_store_explicit(&heap_rec_slow, r->stack != NULL, memory_order_release);
  return true;
}

/* Takes back what heap_rec_put counted for a block that is not the
 * program's. */
static void rec_quiet(heap_t *h, heap_rec_t *r, size_t size, uint32_t stack) {
  r->stack = stack;
  r->tag |= HEAP_REC_QUIET;
  heap_count_own(&h->rec_bytes, (uint64_t)0 - size);
  heap_rec_live_own(h, -(int64_t)size);
  heap_count_own(heap_rec_hist(h, size), (uint64_t)0 - 1);
  heap_count_own(&h->rec_quiet_allocs, 1);
}

/* The recorder's stack id for a block of size (0 without stacks); frame
 * is the heap's innermost frame, where the recorder's walk may start. */
static uint32_t ask_stack(heap_t *h, size_t size, const void *frame) {
  uint32_t (*fn)(size_t, const void *) = atomic_load_explicit(&stack_fn, memory_order_acquire);
  if (fn == NULL) return 0;
  h->rec_busy = true;
  uint32_t id = fn(size, frame);
  h->rec_busy = false;
  return id;
}

void *heap_rec_stacked(heap_t *h, heap_rec_t *r, void *p, size_t size) {
  /* the recorder's own block, also while it sets itself up (its look-ups
   * allocate and free before it is set: not blocks from before tracking) */
  if (h->rec_paused || h->rec_busy) {
    rec_quiet(h, r, size, RH_HEAP_STACK_UNTRACKED);
    return p;
  }
  if (!atomic_load_explicit(&recorder_set, memory_order_acquire)) {
    rec_quiet(h, r, size, RH_HEAP_STACK_EARLY);
    return p;
  }
  /* a stack the recorder does not want (its own code calling malloc) is
   * a quiet block's */
  uint32_t id = ask_stack(h, size, __builtin_frame_address(0));
  if (id == RH_HEAP_STACK_UNTRACKED) rec_quiet(h, r, size, id);
  else r->stack = id;
  return p;
}

bool heap_rec_odd_free(heap_rec_t *r, void *p, size_t asked) {
  if (r->tag != (heap_rec_tag(p) | HEAP_REC_QUIET)) {
    heap_rec_bad_free(p);
    return false;
  }
  heap_gadd(&heap_gstats.rec_quiet_frees, 1);
  if (r->stack == RH_HEAP_STACK_EARLY) heap_gadd(&heap_gstats.rec_unknown_frees, 1);
  heap_rec_live_add(heap_tl_get(), (int64_t)asked);
  return true;
}

void heap_rec_free_odd(heap_segment_t *seg, heap_page_t *pg, void *p) {
  heap_rec_t *r = heap_rec_in_page(pg, p);
  if (!heap_rec_odd_free(r, p, r->size)) return;
  r->tag = heap_rec_tag(p); /* no longer quiet: the free goes the common way */
  heap_free_in(seg, pg, p);
}

bool heap_rec_foreign_free(void *p) {
  if (((uintptr_t)p & (_Alignof(max_align_t) - 1)) != 0) {
    heap_rec_bad_free(p);
    return false;
  }
  heap_gadd(&heap_gstats.rec_unknown_frees, 1);
  return true;
}

static heap_rec_t *huge_rec(heap_segment_t *seg) { return &seg->huge_rec; }

void *heap_rec_note(heap_t *h, void *p, size_t size) {
  heap_segment_t *seg = heap_segment_of(p);
  if (seg->kind == SEG_HUGE) {
    seg->huge_asked = size;
    heap_rec_put(h, huge_rec(seg), p, size > UINT32_MAX ? UINT32_MAX : size);
    /* heap_rec_put counted the 32 bits the record holds: the rest here */
    if (size > UINT32_MAX && !(huge_rec(seg)->tag & HEAP_REC_QUIET)) {
      heap_count_own(&h->rec_bytes, size - UINT32_MAX);
      heap_rec_live_own(h, (int64_t)(size - UINT32_MAX));
    }
    return p;
  }
  return heap_rec_put(h, heap_rec_in_page(heap_page_of(seg, p), p), p, size);
}

/* The block holding address p, and its record (live or not), if p is in
 * a block the heap has carved. */
typedef struct found {
  uint8_t *block;
  heap_rec_t *rec;
  size_t size; /* the record's bytes asked for */
  size_t room; /* the block's usable bytes */
} found_t;

static bool find_block(const void *p, found_t *f) {
  if (!heap_owns(p)) return false;
  uint64_t g = ((uintptr_t)p - 1) >> SEG_SHIFT;
  /* a huge mapping's header is in its first granule: walk down to it */
  while (!heap_is_head((void *)(uintptr_t)(g << SEG_SHIFT))) {
    if (g == 0 || !heap_owns((void *)(uintptr_t)((g - 1) << SEG_SHIFT))) return false;
    g--;
  }
  heap_segment_t *seg = (heap_segment_t *)(uintptr_t)(g << SEG_SHIFT);
  const uint8_t *a = p;
  if (seg->kind == SEG_HUGE) {
    if (a < seg->huge_block || a >= seg->huge_block + seg->huge_usable) return false;
    *f = (found_t){seg->huge_block, huge_rec(seg), seg->huge_asked, seg->huge_usable};
    return true;
  }
  if (seg->kind != SEG_NORMAL || (uintptr_t)(a - (uint8_t *)seg) >= SEG_SIZE) return false;
  heap_page_t *pg = heap_page_of(seg, p);
  if (pg->slice_count == 0 || pg == seg->pages) return false;
  if (pg->flags & PAGE_LARGE) {
    heap_rec_t *r = heap_rec_in_page(pg, pg->start);
    uint8_t *b = (uint8_t *)(((uintptr_t)seg & ~(uintptr_t)UINT32_MAX) | (r->tag & ~3u));
    if (a < b || b < pg->start) b = pg->start; /* (not live: where a block would begin) */
    *f = (found_t){b, r, r->size, pg->block_size - (size_t)(b - pg->start)};
    return a < b + f->room;
  }
  size_t k = (size_t)(a - pg->start) / pg->block_size;
  if (a < pg->start || k >= pg->capacity) return false;
  uint8_t *b = pg->start + k * pg->block_size;
  heap_rec_t *r = heap_rec_in_page(pg, b);
  *f = (found_t){b, r, r->size, pg->block_size};
  return true;
}

void heap_rec_bad_free(void *p) {
  found_t f;
  bool in = find_block(p, &f);
  int kind = RH_HEAP_INVALID_FREE;
  bool with = false;
  if (in && f.block == (uint8_t *)p && f.rec->tag == (uint32_t)(uintptr_t)p) {
    kind = RH_HEAP_DOUBLE_FREE;
    with = true;
  } else if (in && heap_rec_is_live(f.rec, f.block)) {
    with = true; /* an address inside a live block */
  }
  heap_gadd(kind == RH_HEAP_DOUBLE_FREE ? &heap_gstats.rec_double_frees : &heap_gstats.rec_invalid_frees, 1);
  if (!atomic_load_explicit(&recorder_set, memory_order_acquire) || recorder.bad_free == NULL) return;
  rh_heap_record_t was = {0};
  if (with) was = (rh_heap_record_t){f.block, f.size, f.rec->stack, f.rec->seq};
  recorder.bad_free(p, kind, with ? &was : NULL);
}

heap_rec_t *heap_rec_live(void *p) {
  heap_segment_t *seg = heap_segment_of(p);
  heap_rec_t *r = NULL;
  if (heap_is_head(seg)) {
    if (seg->kind == SEG_HUGE) r = p == seg->huge_block ? huge_rec(seg) : NULL;
    else r = heap_rec_in_page(heap_page_of(seg, p), p);
  }
  if (r != NULL && heap_rec_is_live(r, p)) return r;
  heap_rec_bad_free(p);
  return NULL;
}

__attribute__((noinline)) void heap_rec_resized(void *q, size_t size) {
  heap_segment_t *seg = heap_segment_of(q);
  heap_t *h = heap_tl_get();
  heap_rec_t *r;
  size_t old;
  if (seg->kind == SEG_HUGE) {
    r = huge_rec(seg);
    old = seg->huge_asked;
    seg->huge_asked = size;
  } else {
    r = heap_rec_in_page(heap_page_of(seg, q), q);
    old = r->size;
  }
  r->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
  uint32_t quiet = r->tag & HEAP_REC_QUIET;
  r->tag = heap_rec_tag(q) | quiet; /* a huge block's pages may have moved */
  if (quiet) return;
  heap_rec_live_add(h, (int64_t)size - (int64_t)old);
  heap_count(h, &h->rec_reallocs, 1);
  /* counted as a tracker in front of any heap counts every realloc: the
   * old block freed, a new one of size allocated */
  heap_count(h, &h->rec_resizes, 1);
  heap_count(h, &h->rec_bytes, size);
  heap_count(h, heap_rec_hist(h, size), 1);
  /* and, like a new block, the stack of the realloc */
  if (h->state != HEAP_ACTIVE || h->rec_paused || h->rec_busy) return;
  uint32_t id = ask_stack(h, size, __builtin_frame_address(0));
  if (id != RH_HEAP_STACK_UNTRACKED) r->stack = id;
}

void heap_rec_moved(void *q) {
  heap_segment_t *seg = heap_segment_of(q);
  const heap_rec_t *r = seg->kind == SEG_HUGE ? huge_rec(seg) : heap_rec_in_page(heap_page_of(seg, q), q);
  if (!(r->tag & HEAP_REC_QUIET)) heap_count_own(&heap_tl_get()->rec_reallocs, 1); /* (active: it allocated q) */
}

void heap_rec_stats_flush(heap_t *h) {
  int64_t d = atomic_load_explicit(&h->rec_live_delta, memory_order_relaxed);
  if (d == 0) return;
  atomic_store_explicit(&h->rec_live_delta, 0, memory_order_relaxed);
  int64_t now = atomic_fetch_add_explicit(&heap_gstats.rec_live, d, memory_order_relaxed) + d;
  if (now > 0) heap_gmax(&heap_gstats.rec_peak, (uint64_t)now);
}

/* The live records of the page of n slices at slice i. Read while the
 * owner may be changing it: the records looked at stay inside the page's
 * part of the record mapping whatever is read, and a block is reported
 * only if its record names it. */
static size_t page_each(heap_segment_t *seg, size_t i, size_t n, void (*fn)(const rh_heap_record_t *, void *),
                        void *arg) {
  heap_page_t *pg = &seg->pages[i];
  uintptr_t start = (uintptr_t)seg + (i << SLICE_SHIFT);
  unsigned shift = pg->rec_shift;
  if (shift < 4 || shift > SEG_SHIFT) return 0;
  size_t count = shift == SEG_SHIFT ? 1 : (n << SLICE_SHIFT) >> shift;
  const heap_rec_t *recs = (const heap_rec_t *)(seg->recs + (i << SLICE_SHIFT));
  uintptr_t high = (uintptr_t)seg & ~(uintptr_t)UINT32_MAX;
  size_t seen = 0;
  for (size_t k = 0; k < count; k++) {
    heap_rec_t r = recs[k];
    if ((r.tag & 3) != 1) continue; /* (free, or quiet) */
    uintptr_t b = high | (r.tag & ~3u);
    if (b < start || b >= start + (n << SLICE_SHIFT)) continue;
    if (shift != SEG_SHIFT && ((b - start) >> shift) != k) continue;
    rh_heap_record_t out = {(void *)b, r.size, r.stack, r.seq};
    fn(&out, arg);
    seen++;
  }
  return seen;
}

RH_API size_t rh_heap_records_each(void (*fn)(const rh_heap_record_t *r, void *arg), void *arg) {
  if (fn == NULL) return 0;
  size_t seen = 0;
  heap_rec_map_lock(true);
  for (size_t w = 0; w < GRANULES / 64; w++) {
    uint64_t bits = atomic_load_explicit(&heap_head_bits[w], memory_order_acquire);
    while (bits) {
      uint64_t g = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
      bits &= bits - 1;
      heap_segment_t *seg = (heap_segment_t *)(uintptr_t)(g << SEG_SHIFT);
      if (seg->kind == SEG_HUGE) {
        heap_rec_t r = seg->huge_rec;
        if (r.tag == heap_rec_tag(seg->huge_block)) {
          rh_heap_record_t out = {seg->huge_block, seg->huge_asked, r.stack, r.seq};
          fn(&out, arg);
          seen++;
        }
        continue;
      }
      if (seg->kind != SEG_NORMAL) continue;
      for (size_t i = 1; i < SLICE_COUNT;) {
        size_t n = seg->pages[i].slice_count;
        if (n == 0 || n > SLICE_COUNT - i) {
          i++;
          continue;
        }
        seen += page_each(seg, i, n, fn, arg);
        i += n;
      }
    }
  }
  heap_rec_map_lock(false);
  return seen;
}

static uint64_t rd(heap_counter_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

RH_API bool rh_heap_record_stats(rh_heap_record_stats_t *out) {
  if (out == NULL) return false;
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0); /* (flushes the caller's own heap) */
  *out = (rh_heap_record_stats_t){0};
  out->allocations = st.allocations;
  out->frees = st.frees - atomic_load_explicit(&heap_gstats.rec_quiet_frees, memory_order_relaxed);
  out->unknown_frees = atomic_load_explicit(&heap_gstats.rec_unknown_frees, memory_order_relaxed);
  heap_t *me = heap_tl_get();
  if (me->state == HEAP_ACTIVE) heap_rec_stats_flush(me);
  int64_t live = atomic_load_explicit(&heap_gstats.rec_live, memory_order_relaxed);
  for (heap_t *h = &heap_static; h != NULL; h = h == &heap_static ? heap_all_first() : h->next_all) {
    out->bytes_allocated += rd(&h->rec_bytes);
    out->reallocs += rd(&h->rec_reallocs);
    out->allocations += rd(&h->rec_resizes) - rd(&h->rec_quiet_allocs);
    out->frees += rd(&h->rec_resizes);
    live += atomic_load_explicit(&h->rec_live_delta, memory_order_relaxed);
    for (size_t k = 0; k < 64; k++) out->size_hist[k] += rd(&h->rec_hist[k]);
  }
  out->live_bytes = live > 0 ? (uint64_t)live : 0;
  uint64_t peak = atomic_load_explicit(&heap_gstats.rec_peak, memory_order_relaxed);
  out->peak_live_bytes = peak > out->live_bytes ? peak : out->live_bytes;
  out->double_frees = atomic_load_explicit(&heap_gstats.rec_double_frees, memory_order_relaxed);
  out->invalid_frees = atomic_load_explicit(&heap_gstats.rec_invalid_frees, memory_order_relaxed);
  return true;
}
#else
RH_API bool rh_heap_record_pause(bool paused) {
  (void)paused;
  return false;
}

RH_API bool rh_heap_set_recorder(const rh_heap_recorder_t *r) {
  (void)r;
  return false;
}

RH_API size_t rh_heap_records_each(void (*fn)(const rh_heap_record_t *r, void *arg), void *arg) {
  (void)fn;
  (void)arg;
  return 0;
}

RH_API bool rh_heap_record_stats(rh_heap_record_stats_t *out) {
  (void)out;
  return false;
}
#endif
