/* The heap's shared shapes and invariants.
 *
 * Memory comes in segments: 4 MiB, aligned to 4 MiB, so the segment of any
 * block is its address with the low 22 bits cleared. A segment is 64 slices
 * of 64 KiB; slice 0 holds the segment header, the others are handed out as
 * pages of one or more slices. A page holds blocks of one size class (or one
 * large block). Every segment belongs to one heap; every thread has its own
 * heap and allocates only from it, so the allocation fast path and the
 * owner's free fast path touch no lock and no atomic read-modify-write.
 *
 * Invariants (checked with RH_HEAP_CHECKS):
 *  - page->used counts blocks handed out and not yet back on page->free:
 *    blocks waiting on thread_free or on the heap's delayed list still count.
 *  - a page of a size class is in exactly one list of its heap: the queue
 *    of its class, or the full list (flag PAGE_IN_FULL).
 *  - heap->current[c] is the first page of queue c, or &heap_page_empty.
 *  - thread_free bit 0 (TF_NOTIFY) asks the next remote freer to put its
 *    block on the heap's delayed list instead, so that the owner learns that
 *    a full page (or a large block) has something to give back.
 *  - a heap struct is never freed: exited threads' heaps are reused whole,
 *    which is what makes a remote free's push to heap->delayed always safe. */
#ifndef REHEAP_HEAP_INTERNAL_H
#define REHEAP_HEAP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reheap/alloc.h"
#include "os/os_heap_word.h"

#define HEAP_HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define SEG_SHIFT 22
#define SEG_SIZE ((size_t)1 << SEG_SHIFT)
#define SEG_MASK (SEG_SIZE - 1)
#define SLICE_SHIFT 16
#define SLICE_SIZE ((size_t)1 << SLICE_SHIFT)
#define SLICE_COUNT 64
/* Slice 0 is the header. */
#define SLICES_USABLE_MASK (~(uint64_t)1)

/* Size classes: multiples of 16 up to 128, then 8 classes per doubling, so
 * a request above 128 bytes wastes at most 1/8 of itself. */
#define CLASS_COUNT 80
/* Every size class comes in two kinds: the program's blocks (malloc and
 * its family) and the takeover's (the entries that stand in for a
 * program's own allocator, front/takeover.c), each in pages of its own.
 * So a block's kind is known from its page, which is how the takeover
 * tells its blocks from those a program's own allocator carved out of
 * malloc'ed memory, with no header in the block. Class c of kind k is
 * slot c + k * CLASS_COUNT in a heap's per-class arrays. */
#define KIND_PLAIN 0
#define KIND_TAKEOVER 1
#define CLASS_SLOTS (2 * CLASS_COUNT)
#define CLASS_MAX_SIZE ((size_t)64 << 10)
#define SMALL_DIRECT_MAX 1024
/* Blocks above CLASS_MAX_SIZE and up to LARGE_MAX_SIZE take a run of slices
 * each; above that they are mapped on their own ("huge"). */
#define LARGE_MAX_SIZE ((size_t)2 << 20)
#define CLASS_LARGE 0xff
/* The biggest request the heap accepts: larger ones fail with ENOMEM (as
 * glibc's do) instead of wrapping around. */
#define HEAP_MAX_REQUEST ((size_t)PTRDIFF_MAX - 2 * SEG_SIZE)

#define PAGE_IN_FULL 1u
#define PAGE_LARGE 2u
/* The page holds a sampled block (RH_HEAP_SAMPLING builds, sample.c): its
 * frees take the slow way, which tells the sampler. */
#define PAGE_SAMPLED 4u
#define TF_NOTIFY ((uintptr_t)1)

/* Purge free memory that stayed idle this long. */
#define PURGE_DELAY_MS 50
/* Change in a heap's live bytes worth publishing on a slow path (heap.c). */
#define LIVE_FLUSH_BYTES ((int64_t)64 << 10)
/* How often a heap takes back the blocks other threads freed into pages it
 * is not allocating from (their memory would wait for it otherwise). */
#define COLLECT_PERIOD_MS 100
/* Largest block size whose last empty page a heap keeps (page.c). */
#define KEEP_EMPTY_MAX_BLOCK 1024
/* Fully free segments kept process-wide (already purged) before unmapping. */
#define SEGMENT_CACHE_MAX 8

typedef struct heap_block_s {
  struct heap_block_s *next;
} heap_block_t;

struct heap_s;

/* A live block's record in the recording build (RH_HEAP_RECORDS,
 * libreheap_recorded.so, for --track on reheap's heap): kept beside the
 * block's page, found from the address by a shift, so tracking needs no
 * table and no lock (record.c). */
typedef struct heap_rec_s {
  uint32_t tag;   /* the block address's low 32 bits, | 1 while it is live, | 2 if quiet */
  uint32_t stack; /* the recorder's stack id; 0: none */
  uint32_t size;  /* bytes asked for (a huge block's are in its segment) */
  uint32_t seq;   /* allocation number, in its heap */
} heap_rec_t;

typedef struct heap_page_s {
  heap_block_t *free;     /* blocks ready for the owner: hot, first */
  uint32_t used;
  uint32_t block_size;
  uint8_t flags;          /* PAGE_IN_FULL, PAGE_LARGE: any set -> slow free */
  uint8_t class_idx;
  uint8_t slice_count;    /* on a page head: slices of the page */
  uint8_t slice_offset;   /* on a slice inside a page: distance to the head */
  uint8_t is_zero;        /* blocks not yet carved read as zero */
  uint8_t kind;           /* KIND_PLAIN or KIND_TAKEOVER (small and large pages) */
  _Atomic uint16_t samples; /* sampled blocks live in it (set by the owner, freed by anyone) */
#if RH_HEAP_RECORDS
  uint8_t rec_shift;      /* a block's record: rec_base + ((address >> rec_shift) << 4) (record.c) */
  uintptr_t rec_base;
#endif
  uint32_t capacity;      /* blocks carved so far (carving is lazy) */
  uint32_t reserved;      /* blocks that fit */
  _Atomic uintptr_t thread_free; /* remote frees; bit 0 is TF_NOTIFY */
  uint8_t *start;
  struct heap_page_s *next;
  struct heap_page_s *prev;
} heap_page_t;

enum { SEG_NORMAL = 1, SEG_HUGE = 2 };

typedef struct heap_segment_s {
  _Atomic(struct heap_s *) heap; /* owner; NULL for huge and cached segments */
  uint32_t kind;
  uint32_t block_kind;           /* huge only: KIND_PLAIN or KIND_TAKEOVER */
  uint32_t huge_sampled;         /* huge only: its block is a sample */
#if RH_HEAP_RECORDS
  uint8_t *recs;                 /* normal: the records of its blocks, at the offsets of their granules */
  heap_rec_t huge_rec;           /* huge: its block's record */
  size_t huge_asked;             /* huge: the bytes asked for (the record holds 32 bits) */
#endif
  uint64_t free_mask;            /* slices not in a page */
  uint64_t dirty_mask;           /* slices that may hold data (not purged) */
  uint64_t purge_candidates;     /* free+dirty at the last purge tick */
  uint64_t cached_ms;            /* when it went to the cache of free segments */
  struct heap_segment_s *next;   /* in the owner's list, or the cache */
  struct heap_segment_s *prev;
  /* huge only */
  size_t map_size;
  uint8_t *huge_block;
  size_t huge_usable;
  heap_page_t pages[SLICE_COUNT];
} heap_segment_t;

typedef struct page_queue_s {
  heap_page_t *first;
  heap_page_t *last;
} page_queue_t;

enum { HEAP_STATIC = 0, HEAP_ACTIVE = 1, HEAP_ABANDONED = 2, HEAP_DEAD = 3 };

/* Counters are written by one thread (the heap's owner) with relaxed
 * load+store, read by anyone with relaxed loads: no lock prefix on the fast
 * path. The shared static heap (threads without a heap) uses atomic adds. */
typedef _Atomic uint64_t heap_counter_t;

typedef struct heap_s {
  heap_page_t *current[CLASS_SLOTS];
  int64_t live_delta;            /* bytes allocated - freed since last flush */
#if RH_HEAP_RECORDS
  _Atomic int64_t rec_live_delta; /* bytes asked for, allocated - freed, since the last flush */
  heap_counter_t rec_bytes;       /* bytes asked for, allocated */
  heap_counter_t rec_reallocs;
  heap_counter_t rec_quiet_allocs; /* blocks recorded quiet (heap_rec_stacked) */
  heap_counter_t rec_resizes;      /* reallocs in place (or of a huge block's pages) */
  uint32_t rec_seq;               /* this heap's allocations, numbered */
  bool rec_busy;                  /* in the recorder's stack callback */
  bool rec_paused;                /* the thread's blocks are not the program's (rh_heap_record_pause) */
#endif
#if RH_HEAP_SAMPLING
  int64_t sample_left;           /* bytes to allocate before the next sample */
  bool sample_armed;             /* sample_left was drawn */
  bool sample_busy;              /* in the sampler's callback: what it allocates is not sampled */
#endif
  uint32_t state;
  uint32_t segment_count;
  page_queue_t queue[CLASS_SLOTS];
  page_queue_t full;
  _Atomic uintptr_t delayed;     /* blocks of full pages freed remotely */
  heap_segment_t *segments;
  uint64_t purge_deadline;       /* 0: nothing waits for a purge */
  uint64_t collect_deadline;     /* next sweep of every page's remote frees */
  uint32_t slow_ticks;           /* slow paths taken, to read the clock rarely */
  heap_counter_t allocs[CLASS_SLOTS];
  heap_counter_t frees[CLASS_SLOTS];
  heap_counter_t large_allocs, large_frees, large_alloc_bytes, large_free_bytes;
#if RH_HEAP_RECORDS
  heap_counter_t rec_hist[64];    /* allocations by power of two of the bytes asked for */
#endif
  struct heap_s *next_all;
  struct heap_s *next_abandoned;
} heap_t;

/* ---- globals (heap.c, stats.c) ---- */
HEAP_HIDDEN extern heap_t heap_static;
/* The calling thread's heap: heap_static until its first allocation, and
 * again after it exited (the OS's word is NULL, then &heap_static). */
static inline __attribute__((always_inline)) heap_t *heap_tl_get(void) {
  heap_t *h = os_heap_word_get();
  return h != NULL ? h : &heap_static;
}
HEAP_HIDDEN extern heap_page_t heap_page_empty;
HEAP_HIDDEN extern const uint32_t heap_class_size[CLASS_COUNT];
HEAP_HIDDEN extern const uint8_t heap_small_class[SMALL_DIRECT_MAX / 16 + 1];

typedef struct heap_global_stats_s {
  _Atomic uint64_t os_map_calls, os_unmap_calls, os_purge_calls;
  _Atomic uint64_t purged; /* bytes given back by purges, in all */
  _Atomic uint64_t reserved, committed, peak_committed;
  _Atomic int64_t live;
  _Atomic uint64_t peak_live;
  _Atomic uint64_t huge_allocs, huge_frees, huge_alloc_bytes, huge_free_bytes;
  _Atomic uint64_t threads, heaps_reused;
  /* the takeover's large and huge blocks (its small ones are counted by class) */
  _Atomic uint64_t takeover_big_allocs, takeover_big_frees;
#if RH_HEAP_RECORDS
  _Atomic int64_t rec_live;       /* bytes asked for, live, as flushed */
  _Atomic uint64_t rec_peak;
  _Atomic uint64_t rec_double_frees, rec_invalid_frees;
  _Atomic uint64_t rec_quiet_frees;   /* frees of quiet blocks */
  _Atomic uint64_t rec_unknown_frees; /* of blocks from before recording, or foreign ones */
#endif
} heap_global_stats_t;
HEAP_HIDDEN extern heap_global_stats_t heap_gstats;

/* ---- checks ---- */
HEAP_HIDDEN void heap_fail(const char *what, const char *file, int line);
#if RH_HEAP_CHECKS
#define heap_assert(c) ((c) ? (void)0 : heap_fail(#c, __FILE__, __LINE__))
#else
#define heap_assert(c) ((void)0)
#endif

/* ---- small helpers ---- */
static inline heap_segment_t *heap_segment_of(const void *p) {
  /* p - 1: a block aligned to 4 MiB or more is the only kind that starts at a
   * segment boundary, and its header sits in the segment before it. */
  return (heap_segment_t *)(((uintptr_t)p - 1) & ~(uintptr_t)SEG_MASK);
}

static inline heap_page_t *heap_page_of(heap_segment_t *seg, const void *p) {
  heap_page_t *pg = &seg->pages[((uintptr_t)p - (uintptr_t)seg) >> SLICE_SHIFT];
  return pg - pg->slice_offset;
}

/* Block size of a class slot of either kind. */
static inline size_t heap_slot_size(size_t slot) {
  return heap_class_size[slot >= CLASS_COUNT ? slot - CLASS_COUNT : slot];
}

static inline size_t heap_class_of(size_t size) {
  if (size <= SMALL_DIRECT_MAX) return heap_small_class[(size + 15) >> 4];
  size_t s = size - 1;
  unsigned b = (unsigned)(sizeof(long) * 8 - 1) - (unsigned)__builtin_clzl(s); /* 32-bit long on i386 */
  return 8 + (size_t)(b - 7) * 8 + ((s >> (b - 3)) & 7);
}

static inline void heap_count(heap_t *h, heap_counter_t *c, uint64_t v) {
  if (unlikely(h->state == HEAP_STATIC))
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
  else
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

/* For paths where h is known to be a thread's own active heap. */
static inline void heap_count_own(heap_counter_t *c, uint64_t v) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline void heap_gadd(_Atomic uint64_t *c, uint64_t v) {
  atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline void heap_gmax(_Atomic uint64_t *c, uint64_t v) {
  uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
  while (v > cur && !atomic_compare_exchange_weak_explicit(c, &cur, v, memory_order_relaxed,
                                                          memory_order_relaxed)) {
  }
}

/* ---- owner_map.c ---- */
#define OWNER_ADDR_BITS 47
#define GRANULES ((uint64_t)1 << (OWNER_ADDR_BITS - SEG_SHIFT))
HEAP_HIDDEN extern _Atomic uint64_t heap_owner_bits[GRANULES / 64];
static inline bool heap_owns(const void *p) {
  uint64_t g = (uintptr_t)p >> SEG_SHIFT;
  if (g >= GRANULES) return false;
  return (atomic_load_explicit(&heap_owner_bits[g >> 6], memory_order_relaxed) >> (g & 63)) & 1;
}
HEAP_HIDDEN void heap_owner_mark(void *base, size_t size, bool owned);

/* ---- segment.c ---- */
HEAP_HIDDEN heap_page_t *heap_segment_page_alloc(heap_t *h, size_t slices);
HEAP_HIDDEN void heap_segment_page_release(heap_t *h, heap_page_t *pg);
HEAP_HIDDEN bool heap_segment_page_grow(heap_page_t *pg, size_t slices);
/* Grows the large block p (owned by h) in place to at least size; false
 * when the slices after it are taken. */
HEAP_HIDDEN bool heap_large_grow(heap_t *h, heap_page_t *pg, void *p, size_t size);
/* How heap_segments_purge gives back: PURGE_TICK, a running heap's tick
 * (slices idle since the last tick are purged, one empty segment kept);
 * PURGE_ABANDONED, a heap without a thread (the same, every empty segment
 * to the cache, dirty); PURGE_RELEASE, only the empty segments to the
 * cache (for a thread about to map one); PURGE_ALL, everything idle, now. */
typedef enum { PURGE_TICK, PURGE_ABANDONED, PURGE_RELEASE, PURGE_ALL } heap_purge_t;
HEAP_HIDDEN void heap_segments_purge(heap_t *h, heap_purge_t mode);
/* Purges the cached free segments that waited a purge delay (all: every
 * one); true when some still wait. */
HEAP_HIDDEN bool heap_segment_cache_trim(bool all);
HEAP_HIDDEN void heap_segment_cache_lock(bool lock);
HEAP_HIDDEN void heap_segment_cache_reset(void);
static inline heap_segment_t *heap_segment_of_page(heap_page_t *pg) {
  return (heap_segment_t *)((uintptr_t)pg & ~(uintptr_t)SEG_MASK);
}

/* ---- page.c ---- */
HEAP_HIDDEN void heap_page_init(heap_page_t *pg, size_t block_size, uint8_t cls, uint32_t reserved);
HEAP_HIDDEN void heap_page_extend(heap_page_t *pg);
HEAP_HIDDEN void heap_page_collect(heap_page_t *pg);
HEAP_HIDDEN void *heap_class_alloc_slow(heap_t *h, size_t cls);
HEAP_HIDDEN void heap_page_free_block(heap_t *h, heap_page_t *pg, heap_block_t *b);
HEAP_HIDDEN void heap_page_now_empty(heap_t *h, heap_page_t *pg);
HEAP_HIDDEN void heap_queue_remove(heap_t *h, page_queue_t *q, heap_page_t *pg);
HEAP_HIDDEN void heap_pages_collect_all(heap_t *h, bool release_empty);
HEAP_HIDDEN void *heap_large_alloc(heap_t *h, size_t size, size_t align, unsigned kind);

/* ---- heap.c ---- */
HEAP_HIDDEN heap_t *heap_thread_init(void);
/* The calling thread's heap for a free: made if the thread has none yet. */
HEAP_HIDDEN heap_t *heap_for_free(void);
HEAP_HIDDEN void heap_delayed_process(heap_t *h);
HEAP_HIDDEN void heap_slow_tick(heap_t *h);
/* Called about every COLLECT_PERIOD_MS from some thread's slow path, when
 * set (the front's status page for `reheap stat`); never on a fast path. */
HEAP_HIDDEN extern void (*_Atomic heap_periodic_hook)(void);
HEAP_HIDDEN void heap_abandoned_tidy(heap_purge_t mode);
/* Memory that no running heap will purge (an exited thread's, the cache
 * of free segments) wants a purge in about delay_ms: the next running
 * thread's slow path past that time does it. */
HEAP_HIDDEN void heap_purge_due(uint64_t delay_ms);
HEAP_HIDDEN void heap_stats_flush(heap_t *h);
HEAP_HIDDEN heap_t *heap_all_first(void);

/* ---- huge.c ---- */
HEAP_HIDDEN void *heap_huge_alloc(size_t size, size_t align, bool *zeroed, unsigned kind);
HEAP_HIDDEN void heap_huge_free(heap_segment_t *seg);
/* Purges cached huge mappings that waited a purge delay and unmaps those
 * that waited HUGE_CACHE_MS (all: every one, unmapped); true when some
 * are left. */
HEAP_HIDDEN bool heap_huge_cache_trim(bool all);
HEAP_HIDDEN void heap_huge_cache_lock(bool take);
HEAP_HIDDEN void heap_huge_cache_reset(void);
HEAP_HIDDEN void *heap_huge_realloc(heap_segment_t *seg, size_t size);

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
