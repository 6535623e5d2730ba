/* The tracker, as the library that loads it sees it (front/track_shim*.c):
 * a record per live block, pooled per thread and kept in a concurrent
 * table keyed by the block's address; stacks, samples, counters, reports.
 * The per-call parts are inline, for the library's malloc and free. What
 * only the tracker's own files use is in track_internal.h.
 *
 * Records store the block's address scrambled (xor with a constant), so
 * that a conservative leak scanner does not take the tracker's own records
 * for references to the blocks. No part of this calls malloc: the tracker
 * sits inside malloc. */
#ifndef REHEAP_TRACK_TRACK_H
#define REHEAP_TRACK_TRACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os/os.h"
#include "track/track_region.h"

#define TRACK_ADDR_SCRAMBLE ((uintptr_t)0x5A5A5A5A5A5A5A5AULL)

typedef struct track_record {
  uintptr_t key;             /* block address ^ TRACK_ADDR_SCRAMBLE; 0 when free */
  size_t size;
  union {
    uint64_t seq;              /* allocation order, while live */
    struct track_record *next; /* in a free list, while free */
  };
  uint32_t stack_id;         /* 0: no stack */
  uint32_t tid : 31;
  uint32_t takeover : 1;     /* a block of the takeover's entries (front/takeover_home_track.c) */
} track_record_t;
_Static_assert(sizeof(track_record_t) == 32, "a record is a power of two: its number is a shift");

static inline uintptr_t track_key(uintptr_t addr) { return addr ^ TRACK_ADDR_SCRAMBLE; }
static inline uintptr_t track_addr(const track_record_t *r) { return r->key ^ TRACK_ADDR_SCRAMBLE; }

/* ---- record_pool.c ---- */
/* A record from the calling thread's pool (NULL only when the OS refuses
 * memory). Freed records go back to the freeing thread's pool; past a
 * bound they spill to a shared list other threads take from, so a thread
 * that only frees does not hoard what a thread that only allocates needs. */
typedef struct track_pool {
  track_record_t *free;
  size_t nfree;
  track_record_t *carve; /* rest of the records last taken from the region */
  size_t ncarve;
  bool registered;       /* for the thread-exit hand-back */
} track_pool_t;
#define TRACK_POOL_LOCAL_MAX 512 /* free records a thread keeps */
TRACK_HIDDEN extern __thread track_pool_t track_pool;
TRACK_HIDDEN track_record_t *track_record_alloc_slow(void);
TRACK_HIDDEN void track_record_free_slow(track_record_t *r);

static inline track_record_t *track_record_alloc(void) {
  track_record_t *r = track_pool.free;
  if (__builtin_expect(r == NULL || !track_pool.registered, 0)) return track_record_alloc_slow();
  track_pool.free = r->next;
  track_pool.nfree--;
  return r;
}

static inline void track_record_free(track_record_t *r) {
  if (__builtin_expect(!track_pool.registered || track_pool.nfree >= TRACK_POOL_LOCAL_MAX, 0)) {
    track_record_free_slow(r);
    return;
  }
  r->key = 0; /* the freed block is no longer named anywhere */
  r->next = track_pool.free;
  track_pool.free = r;
  track_pool.nfree++;
}
/* Records are numbered from 1 in one region. */
TRACK_HIDDEN extern track_record_t *track_records_base;
static inline uint32_t track_record_number(const track_record_t *r) {
  return (uint32_t)(r - track_records_base);
}
static inline track_record_t *track_record_at(uint32_t n) { return track_records_base + n; }

/* ---- addr_table.c ---- */
/* A radix over the address space whose slots hold record numbers: one
 * store to put a block in, a load and a store to take it out (see
 * addr_table.c for why no lock or atomic exchange is needed). */
/* 16 MiB of addresses per second-level array (4 MiB of slots, backed
 * only where written); the first level then reserves 64 MiB, which stays
 * small enough where the system counts reserved memory (strict overcommit) */
#define TRACK_SPAN_BITS 24
#if defined(__aarch64__)
#define TRACK_ADDR_BITS 48 /* user addresses on aarch64 (48-bit VA, 4 KiB pages) */
#else
#define TRACK_ADDR_BITS 47 /* user addresses on x86-64 (4-level pages) */
#endif
typedef _Atomic uint32_t track_slot_t;
TRACK_HIDDEN extern track_slot_t *_Atomic *_Atomic track_level1;
/* The slot of the granule at addr, made if need be; NULL if it cannot be. */
TRACK_HIDDEN track_slot_t *track_slot_make(uintptr_t addr);

/* The slot of the granule at addr, if it exists. */
static inline track_slot_t *track_slot_find(uintptr_t addr) {
  track_slot_t *_Atomic *t = atomic_load_explicit(&track_level1, memory_order_acquire);
  if (__builtin_expect(t == NULL || (addr >> TRACK_ADDR_BITS) != 0, 0)) return NULL;
  track_slot_t *span = atomic_load_explicit(&t[addr >> TRACK_SPAN_BITS], memory_order_acquire);
  return span != NULL ? &span[(addr >> 4) & ((1u << (TRACK_SPAN_BITS - 4)) - 1)] : NULL;
}

/* Puts r (its key set) in the table; false if it cannot (a misaligned
 * address, or the OS refused memory). */
static inline bool track_table_insert(track_record_t *r) {
  uintptr_t addr = track_addr(r);
  if (__builtin_expect((addr & 15) != 0, 0)) return false;
  track_slot_t *s = track_slot_find(addr);
  if (__builtin_expect(s == NULL, 0) && (s = track_slot_make(addr)) == NULL) return false;
  atomic_store_explicit(s, track_record_number(r), memory_order_release);
  return true;
}

/* Takes every record out of the table, back to the pool. */
TRACK_HIDDEN void track_table_clear(void);
/* Takes the record of the block at addr out of the table; NULL when none. */
static inline track_record_t *track_table_remove(uintptr_t addr) {
  track_slot_t *s = (addr & 15) == 0 ? track_slot_find(addr) : NULL;
  if (s == NULL) return NULL;
  uint32_t n = atomic_load_explicit(s, memory_order_acquire);
  if (n == 0) return NULL;
  atomic_store_explicit(s, 0, memory_order_relaxed);
  track_record_t *r = track_record_at(n);
  /* taken by a free of the same block on another thread this moment */
  return r->key == track_key(addr) ? r : NULL;
}
/* The live record of the block at addr; NULL when none. */
static inline track_record_t *track_table_find(uintptr_t addr) {
  track_slot_t *s = (addr & 15) == 0 ? track_slot_find(addr) : NULL;
  uint32_t n = s != NULL ? atomic_load_explicit(s, memory_order_acquire) : 0;
  if (n == 0) return NULL;
  track_record_t *r = track_record_at(n);
  return r->key == track_key(addr) ? r : NULL;
}
/* Each thread's last TRACK_RING frees (copies: the record itself goes
 * back to the pool), for telling a double free from a free of a block
 * never seen. Readers copy an entry and check its key did not change. */
#define TRACK_RING 1024
typedef struct track_retired {
  _Atomic uintptr_t key; /* 0 while being written */
  _Atomic size_t size;
  _Atomic uint32_t stack_id;
} track_retired_t;
typedef struct __attribute__((aligned(64))) track_ring {
  os_lock_t lock;                    /* only for the ring threads past the limit share */
  _Atomic int owned;                 /* a live thread writes here */
  bool fast;                         /* owned by the calling thread alone, entries mapped */
  track_retired_t *_Atomic entries;  /* TRACK_RING of them, mapped at first free */
  size_t next;
} track_ring_t;
TRACK_HIDDEN extern __thread track_ring_t *track_ring_mine;
TRACK_HIDDEN void track_table_retire_slow(const track_record_t *r);

static inline void track_ring_put(track_ring_t *g, const track_record_t *r) {
  track_retired_t *e = &atomic_load_explicit(&g->entries, memory_order_relaxed)[g->next++ & (TRACK_RING - 1)];
  atomic_store_explicit(&e->key, 0, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&e->size, r->size, memory_order_relaxed);
  atomic_store_explicit(&e->stack_id, r->stack_id, memory_order_relaxed);
  atomic_store_explicit(&e->key, r->key, memory_order_release);
}

/* Remembers a record just taken out of the table among the calling
 * thread's last frees. */
static inline void track_table_retire(const track_record_t *r) {
  track_ring_t *g = track_ring_mine;
  if (__builtin_expect(g != NULL && g->fast, 1)) track_ring_put(g, r);
  else track_table_retire_slow(r);
}
/* Copies the record of a recent free of the block at addr; false if none. */
TRACK_HIDDEN bool track_table_find_retired(uintptr_t addr, track_record_t *copy);
/* Copies the record of the live block holding addr, looking for its start
 * at most reach bytes below addr; false if none. Slow: for bad frees. */
TRACK_HIDDEN bool track_table_find_containing(uintptr_t addr, size_t reach, track_record_t *copy);

/* ---- live.c ---- */
/* Every live block's record, from the table or from where the library in
 * front says the heap keeps them (track_live_source; fn gets copies). */
TRACK_HIDDEN extern void (*track_live_source)(void (*fn)(const track_record_t *r, void *arg), void *arg);
/* ---- stacks.c ---- */
/* Return addresses of the callers, innermost first, leaving out the
 * innermost ones in [skip_lo, skip_hi) (the tracker's own code, however
 * the compiler inlined it); returns how many. */
TRACK_HIDDEN size_t track_stack_capture(uintptr_t *frames, size_t max, uintptr_t skip_lo,
                                        uintptr_t skip_hi);
/* The same from the frame at from (a frame pointer: from[0] the caller's
 * frame, from[1] the return address), such as one the heap hands over. */
TRACK_HIDDEN size_t track_stack_walk(const void *from, uintptr_t *frames, size_t max, uintptr_t skip_lo,
                                     uintptr_t skip_hi);
/* The same by DWARF unwinding (stacks_dwarf.c, libunwind): for code built
 * without frame pointers. */
TRACK_HIDDEN size_t track_stack_capture_dwarf(uintptr_t *frames, size_t max, uintptr_t skip_lo,
                                              uintptr_t skip_hi);
/* The id of this stack, stored once (0 when n is 0 or the table is full),
 * with bytes and blocks allocated counted to it (for the report of
 * allocated bytes per stack: one block of its size, or under sampling the
 * estimate a sample stands for). */
TRACK_HIDDEN uint32_t track_stack_note(const uintptr_t *frames, size_t n, int64_t bytes, int64_t blocks);
/* ---- sample.c ---- */
/* The mean bytes between samples under --track=sample; 0: every block is
 * recorded. Set once, before the first allocation is tracked. */
TRACK_HIDDEN extern uint64_t track_sample_mean;
/* The bytes to count down to the next sample (exponential, of mean
 * track_sample_mean), from a thread's random state (nonzero). */
TRACK_HIDDEN int64_t track_sample_draw(uint64_t *state);
/* How many blocks a recorded block of size bytes stands for (1 when not
 * sampling): 1 / the chance it had of being sampled. */
TRACK_HIDDEN double track_sample_weight(size_t size);
/* v rounded down or up at random, in proportion, so that sums stay
 * unbiased. */
TRACK_HIDDEN int64_t track_sample_round(double v, uint64_t *state);

/* ---- counters.c ---- */
/* The calling thread's counters (written by it alone, plain adds): a
 * block of the region, by index, as the region may move once (to a file). */
TRACK_HIDDEN extern track_region_t *track_region;
TRACK_HIDDEN extern __thread track_counters_t *track_my_counters;
TRACK_HIDDEN track_counters_t *track_counters_attach(void);
static inline track_counters_t *track_counters_mine(void) {
  track_counters_t *c = track_my_counters;
  return __builtin_expect(c != NULL, 1) ? c : track_counters_attach();
}
/* Adds the thread's live bytes since it last did to the shared count and
 * peak. */
TRACK_HIDDEN void track_counters_publish(track_counters_t *c);
/* Raises the shared peak to bytes if it is below. */
TRACK_HIDDEN void track_counters_peak(int64_t bytes);
TRACK_HIDDEN void track_counters_sum(track_counters_t *out);
/* ---- symbols.c ---- */
/* A module dlclose'd (its path, its load bias): its frames are named from
 * its file. */
TRACK_HIDDEN void track_symbols_unloaded(const char *path, uintptr_t bias);
/* The reports say which library each leak came from (the module of each
 * stack's first frame): set where the tracker tracks chosen modules. */
TRACK_HIDDEN extern bool track_report_by_module;
/* ... and the tracker came into a running process (`reheap attach`) */
TRACK_HIDDEN extern bool track_report_attached;
/* (reach.c) the memory of blocks not tracked counts as a root */
TRACK_HIDDEN extern bool track_reach_untracked_roots;
/* Every count back to zero (an attach that starts again). */
TRACK_HIDDEN void track_counters_reset(void);
/* Whether the counters are in the owner-only file `reheap stat` reads
 * (made at the first count, where the function given to
 * track_counters_set_share, before that count, gave its path). */
TRACK_HIDDEN bool track_counters_share(void);
TRACK_HIDDEN void track_counters_set_share(bool (*path)(char *path, size_t cap));
TRACK_HIDDEN void track_counters_after_fork(void);
/* Removes the shared file (at exit). */
TRACK_HIDDEN void track_counters_unshare(void);

/* Set by the library in front when another part counts exactly what the
 * tracker's counters only estimate (the sampled heap's allocations and
 * frees): the report takes those from it. */
TRACK_HIDDEN extern void (*track_exact_counts)(track_counters_t *sum);
/* Whether the heap itself takes the samples (its sampled build). */
TRACK_HIDDEN extern bool track_sampled_by_heap;

/* ---- timeline.c ---- */
/* Takes a point if one is due; returns the milliseconds to the next. */
TRACK_HIDDEN int track_timeline_tick(void);
/* ---- report_text.c ---- */
/* Writes the summary and the biggest max_groups leak stacks to fd (JSON
 * and folded: every stack; folded-allocated: every allocating stack). */
TRACK_HIDDEN void track_report(int fd, track_format_t format, size_t max_groups);
/* Reports a double free of the block rec describes, freed again from the
 * stack in now[0..n). */
TRACK_HIDDEN void track_report_double_free(int fd, const track_record_t *rec, const uintptr_t *now,
                                           size_t n);
/* Reports a free of addr, which is no block's start: inside the live block
 * containing describes (NULL: inside none the tracker knows), freed from
 * the stack in now[0..n). */
TRACK_HIDDEN void track_report_invalid_free(int fd, uintptr_t addr, const track_record_t *containing,
                                            const uintptr_t *now, size_t n);

/* ---- fork: every lock held across it (phase 0: before, 1: in the
 * parent after, 2: in the child after), so the child's copy is whole ---- */
TRACK_HIDDEN void track_table_fork_lock(int phase);
TRACK_HIDDEN void track_pool_fork_lock(int phase);
TRACK_HIDDEN void track_stacks_fork_lock(int phase);
TRACK_HIDDEN void track_counters_fork_lock(int phase);

#endif
