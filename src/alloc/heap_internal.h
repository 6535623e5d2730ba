/* The heap's shared shapes and invariants.
 *
 * Memory comes in segments: 4 MiB, aligned to 4 MiB, so the segment of any
 * block is its address with the low 22 bits cleared. A segment is 64 slices
 * of 64 KiB; slice 0 holds the segment header, the others are handed out as
 * pages of one or more slices. A page holds blocks of one size class (or one
 * large block). Every segment belongs to one heap; every thread has its own
 * heap and allocates only from it, so the allocation fast path and the
 * owner's free fast path touch no lock and no atomic read-modify-write.
 * (The records and samples of the watched builds are heap_record.h's,
 * and the free fast path heap_free.h's.)
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
/* Free slices kept resident in the heaps' segments: at most as much as the
 * live bytes, and at least this much (segment.c). */
#define FREE_DIRTY_MIN ((size_t)64 << 20)
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
  bool tidying;                  /* abandoned, being tidied by a running thread (list_lock) */
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
/* user addresses: 47 bits on x86-64 (4-level pages), 48 on aarch64
 * (Linux's default there, and where its mmap puts memory) */
#if defined(__aarch64__)
#define OWNER_ADDR_BITS 48
#else
#define OWNER_ADDR_BITS 47
#endif
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

#endif
