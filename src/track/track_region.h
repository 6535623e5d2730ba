/* What the tracker shares with the `reheap` command: the counters region
 * of a tracked process (every thread's counters, in an owner-only file
 * `reheap stat` maps), the requests `reheap stat` and `reheap dump` make
 * through it, and the report formats. The rest of the tracker is
 * track_internal.h's, for the tracker's own files and the library that
 * loads it. */
#ifndef REHEAP_TRACK_REGION_H
#define REHEAP_TRACK_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACK_HIDDEN __attribute__((visibility("hidden")))

/* Written by one thread, read by any: relaxed atomics that compile to
 * plain loads and stores. */
typedef _Atomic int64_t track_count_t;
static inline void track_add(track_count_t *c, int64_t v) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}
static inline int64_t track_read(track_count_t *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

typedef struct __attribute__((aligned(64))) track_counters {
  track_count_t allocs, frees, reallocs, unknown_frees, double_frees, invalid_frees;
  track_count_t bytes_allocated;
  track_count_t live_bytes;
  track_count_t live_blocks;   /* in sums only: allocations less frees */
  track_count_t peak_bytes;    /* in sums only */
  track_count_t published;     /* live_bytes when last added to the shared peak count */
  track_count_t size_hist[64]; /* allocations by power of two of the size */
} track_counters_t;

#define TRACK_MAX_BLOCKS 4096
#define TRACK_REGION_MAGIC "reheap-counters4"

/* Every thread's counters, in one block of memory that may be a file
 * mapping shared with `reheap stat`. */
typedef struct track_region {
  char magic[16];
  uint32_t pid;
  /* 1 when the counts are the heap's own (records in the heap): `reheap
   * stat` bumps counts_request, wakes the dump thread (on dump_request)
   * and waits until it has put them in the region and set counts_done */
  uint32_t counts_on_request;
  _Atomic uint64_t nblocks;
  _Atomic int64_t live; /* published live bytes, for the peak */
  _Atomic int64_t peak;
  /* `reheap dump PID`: it takes dump_busy, writes the format and the
   * file's path, bumps dump_request (a futex word) and waits until the
   * tracker's dump thread sets dump_done to it; dump_status 0 is success */
  uint32_t dump_busy, dump_request, dump_done, dump_status;
  uint32_t dump_format; /* a track_format_t */
  uint32_t counts_request, counts_done;
  /* 1 while a process `reheap attach` tracked is detached: its counts are
   * an earlier attach's */
  _Atomic uint32_t detached;
  char dump_path[4096];
  track_counters_t blocks[TRACK_MAX_BLOCKS];
} track_region_t;

typedef enum {
  TRACK_FORMAT_TEXT,
  TRACK_FORMAT_JSON,
  TRACK_FORMAT_FOLDED,
  TRACK_FORMAT_FOLDED_ALLOCATED,
  TRACK_FORMAT_PPROF,
  TRACK_FORMAT_SVG,
  TRACK_FORMAT_SVG_ALLOCATED,
  TRACK_FORMAT_HTML
} track_format_t;

/* The format named name (text, json, folded, folded-allocated, pprof, svg,
 * svg-allocated, html) in *out; false for any other name. */
TRACK_HIDDEN bool track_format_from_name(const char *name, track_format_t *out);

/* Sums the blocks of a region (this process's, or one mapped from another
 * process's file). */
TRACK_HIDDEN void track_region_sum(track_region_t *r, track_counters_t *out);
/* The file where process pid's counters are shared. */
TRACK_HIDDEN void track_counters_path(long pid, char *buf, size_t cap);

#endif
