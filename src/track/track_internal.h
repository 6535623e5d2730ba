/* The tracker's internals: a record per live block, pooled per thread and
 * kept in a concurrent table keyed by the block's address.
 *
 * Records store the block's address scrambled (xor with a constant), so
 * that a conservative leak scanner does not take the tracker's own records
 * for references to the blocks. No part of this calls malloc: the tracker
 * sits inside malloc. */
#ifndef REHEAP_TRACK_INTERNAL_H
#define REHEAP_TRACK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACK_HIDDEN __attribute__((visibility("hidden")))
#define TRACK_ADDR_SCRAMBLE ((uintptr_t)0x5A5A5A5A5A5A5A5AULL)

typedef struct track_record {
  struct track_record *next; /* in a table bucket, or a free list */
  uintptr_t key;             /* block address ^ TRACK_ADDR_SCRAMBLE; 0 when free */
  size_t size;
  uint64_t seq;              /* allocation order */
  uint32_t stack_id;         /* 0: no stack */
  uint32_t tid;
} track_record_t;

static inline uintptr_t track_key(uintptr_t addr) { return addr ^ TRACK_ADDR_SCRAMBLE; }
static inline uintptr_t track_addr(const track_record_t *r) { return r->key ^ TRACK_ADDR_SCRAMBLE; }

/* ---- record_pool.c ---- */
/* A record from the calling thread's pool (NULL only when the OS refuses
 * memory). Freed records go back to the freeing thread's pool; past a
 * bound they spill to a shared list other threads take from, so a thread
 * that only frees does not hoard what a thread that only allocates needs. */
TRACK_HIDDEN track_record_t *track_record_alloc(void);
TRACK_HIDDEN void track_record_free(track_record_t *r);
/* Records ever carved from the OS (for tests: bounded under churn). */
TRACK_HIDDEN size_t track_records_carved(void);

/* ---- addr_table.c ---- */
/* One shard per thread, written by its owner without a lock; see
 * addr_table.c for how other threads take blocks out of it. */
TRACK_HIDDEN bool track_table_insert(track_record_t *r);
/* Takes the record of the block at addr out of the table; NULL when none. */
TRACK_HIDDEN track_record_t *track_table_remove(uintptr_t addr);
/* Calls fn on every record, stripe by stripe, each stripe locked meanwhile
 * (fn must not touch the table). */
TRACK_HIDDEN void track_table_each(void (*fn)(const track_record_t *r, void *arg), void *arg);
TRACK_HIDDEN size_t track_table_count(void);
/* Remembers a record just taken out of the table among the calling
 * thread's last frees (a copy: the record itself may go back to the pool). */
TRACK_HIDDEN void track_table_retire(const track_record_t *r);
/* Copies the record of a recent free of the block at addr; false if none. */
TRACK_HIDDEN bool track_table_find_retired(uintptr_t addr, track_record_t *copy);
/* Copies the record of the live block holding addr, looking for its start
 * at most reach bytes below addr; false if none. Slow: for bad frees. */
TRACK_HIDDEN bool track_table_find_containing(uintptr_t addr, size_t reach, track_record_t *copy);

/* ---- stacks.c ---- */
/* Return addresses of the callers, innermost first, leaving out the
 * innermost ones in [skip_lo, skip_hi) (the tracker's own code, however
 * the compiler inlined it); returns how many. */
TRACK_HIDDEN size_t track_stack_capture(uintptr_t *frames, size_t max, uintptr_t skip_lo,
                                        uintptr_t skip_hi);
/* The same by DWARF unwinding (stacks_dwarf.c, libunwind): for code built
 * without frame pointers. */
TRACK_HIDDEN size_t track_stack_capture_dwarf(uintptr_t *frames, size_t max, uintptr_t skip_lo,
                                              uintptr_t skip_hi);
/* The id of this stack, stored once (0 when n is 0 or the table is full). */
TRACK_HIDDEN uint32_t track_stack_intern(const uintptr_t *frames, size_t n);
TRACK_HIDDEN size_t track_stack_get(uint32_t id, const uintptr_t **frames);
/* Counts an allocation of size bytes from stack id (for the report of
 * allocated bytes per stack). */
TRACK_HIDDEN void track_stack_count(uint32_t id, size_t size);
/* Calls fn for every stack that allocated, with its bytes and blocks
 * allocated so far (frees not subtracted). */
TRACK_HIDDEN void track_stack_each(void (*fn)(uint32_t id, int64_t bytes, int64_t blocks, void *arg),
                                   void *arg);

/* ---- counters.c ---- */
/* Written by one thread, read by any: relaxed atomics that compile to
 * plain loads and stores. */
typedef _Atomic int64_t track_count_t;
static inline void track_add(track_count_t *c, int64_t v) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}
static inline int64_t track_read(track_count_t *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

typedef struct track_counters {
  track_count_t allocs, frees, reallocs, unknown_frees, double_frees, invalid_frees;
  track_count_t bytes_allocated;
  track_count_t live_bytes, live_blocks;
  track_count_t peak_bytes;    /* in sums only */
  track_count_t unpublished;   /* live bytes not yet added to the shared peak count */
  track_count_t size_hist[64]; /* allocations by power of two of the size */
} track_counters_t;

#define TRACK_MAX_BLOCKS 4096
#define TRACK_REGION_MAGIC "reheap-counters2"

/* Every thread's counters, in one block of memory that may be a file
 * mapping shared with `reheap stat`. */
typedef struct track_region {
  char magic[16];
  uint32_t pid;
  uint32_t reserved;
  _Atomic uint64_t nblocks;
  _Atomic int64_t live; /* published live bytes, for the peak */
  _Atomic int64_t peak;
  /* `reheap dump PID`: it takes dump_busy, writes the format and the
   * file's path, bumps dump_request (a futex word) and waits until the
   * tracker's dump thread sets dump_done to it; dump_status 0 is success */
  uint32_t dump_busy, dump_request, dump_done, dump_status;
  uint32_t dump_format; /* a track_format_t */
  uint32_t dump_pad;
  char dump_path[4096];
  track_counters_t blocks[TRACK_MAX_BLOCKS];
} track_region_t;

/* The calling thread's counters (written by it alone, plain adds): a
 * block of the region, by index, as the region may move once (to a file). */
TRACK_HIDDEN extern track_region_t *track_region;
TRACK_HIDDEN extern __thread size_t track_counters_index; /* + 1; 0: none yet */
TRACK_HIDDEN track_counters_t *track_counters_attach(void);
static inline track_counters_t *track_counters_mine(void) {
  size_t i = track_counters_index;
  if (__builtin_expect(i != 0, 1)) return &track_region->blocks[i - 1];
  return track_counters_attach();
}
/* Adds the thread's unpublished live bytes to the shared count and peak. */
TRACK_HIDDEN void track_counters_publish(track_counters_t *c);
TRACK_HIDDEN void track_counters_sum(track_counters_t *out);
/* Sums the blocks of a region (this process's, or one mapped from another
 * process's file). */
TRACK_HIDDEN void track_region_sum(track_region_t *r, track_counters_t *out);
/* Puts the counters in an owner-only file at path for `reheap stat`. */
TRACK_HIDDEN bool track_counters_share(const char *path);
TRACK_HIDDEN void track_counters_after_fork(void);
/* Removes the shared file (at exit). */
TRACK_HIDDEN void track_counters_unshare(void);
/* The file where process pid's counters are shared. */
TRACK_HIDDEN void track_counters_path(long pid, char *buf, size_t cap);

/* ---- report_text.c ---- */
typedef enum {
  TRACK_FORMAT_TEXT,
  TRACK_FORMAT_JSON,
  TRACK_FORMAT_FOLDED,
  TRACK_FORMAT_FOLDED_ALLOCATED
} track_format_t;
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
