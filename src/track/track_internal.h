/* The tracker's internals: a record per live block, pooled per thread and
 * kept in a concurrent table keyed by the block's address.
 *
 * Records store the block's address scrambled (xor with a constant), so
 * that a conservative leak scanner does not take the tracker's own records
 * for references to the blocks. No part of this calls malloc: the tracker
 * sits inside malloc. */
#ifndef REHEAP_TRACK_INTERNAL_H
#define REHEAP_TRACK_INTERNAL_H

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
/* Striped hash table: each stripe its own lock and buckets, grown by
 * doubling; threads touching different stripes never meet. */
TRACK_HIDDEN bool track_table_insert(track_record_t *r);
/* Takes the record of the block at addr out of the table; NULL when none. */
TRACK_HIDDEN track_record_t *track_table_remove(uintptr_t addr);
/* Calls fn on every record, stripe by stripe, each stripe locked meanwhile
 * (fn must not touch the table). */
TRACK_HIDDEN void track_table_each(void (*fn)(const track_record_t *r, void *arg), void *arg);
TRACK_HIDDEN size_t track_table_count(void);

#endif
