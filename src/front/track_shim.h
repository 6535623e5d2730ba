/* What the tracker's front files share: track_shim.c, the malloc family
 * and everything a call runs (the state those calls read lives there);
 * track_shim_heap.c, the records and samples kept by reheap's heap; and
 * track_shim_life.c, the settings and the report. */
#ifndef REHEAP_FRONT_TRACK_SHIM_H
#define REHEAP_FRONT_TRACK_SHIM_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "track/track.h"

#define TRACK_SHIM_HIDDEN __attribute__((visibility("hidden")))
#define DEPTH_MAX 64

/* ---- track_shim.c: the settings (set once by track_init) and the calls' state ---- */
TRACK_SHIM_HIDDEN extern bool track_shim_stacks;
TRACK_SHIM_HIDDEN extern bool track_shim_dwarf;
TRACK_SHIM_HIDDEN extern size_t track_shim_depth;
TRACK_SHIM_HIDDEN extern bool track_shim_sampling;
TRACK_SHIM_HIDDEN extern bool track_shim_in_heap;
TRACK_SHIM_HIDDEN extern int track_shim_report_fd;
TRACK_SHIM_HIDDEN extern __thread int track_shim_inside;
TRACK_SHIM_HIDDEN extern __thread uint64_t track_shim_sample_state;
TRACK_SHIM_HIDDEN extern uintptr_t track_shim_heap_lo, track_shim_heap_hi;

TRACK_SHIM_HIDDEN track_counters_t *track_shim_counters_attach(void);
static inline track_counters_t *track_shim_counters_mine(void) {
  track_counters_t *c = track_my_counters;
  return __builtin_expect(c != NULL, 1) ? c : track_shim_counters_attach();
}

/* The bytes a record stands for: its size, or under sampling the
 * estimate of the bytes its sample stands for. */
static inline int64_t track_shim_est_bytes(size_t size) {
  return track_shim_sampling ? (int64_t)llround((double)size * track_sample_weight(size)) : (int64_t)size;
}

TRACK_SHIM_HIDDEN size_t track_shim_capture_program(uintptr_t *frames, uintptr_t **at);
TRACK_SHIM_HIDDEN uint32_t track_shim_stack_of(size_t size);
TRACK_SHIM_HIDDEN void track_shim_record(void *p, size_t size, track_counters_t *c);

/* ---- track_shim_heap.c: what the heap keeps ---- */
TRACK_SHIM_HIDDEN extern bool track_shim_heap_records;
TRACK_SHIM_HIDDEN bool track_shim_heap_quiet(bool on);
TRACK_SHIM_HIDDEN void track_shim_heap_counts(track_counters_t *sum);
TRACK_SHIM_HIDDEN void track_shim_heap_counts_share(void);
TRACK_SHIM_HIDDEN void track_shim_sample_in_heap(void);
TRACK_SHIM_HIDDEN void track_shim_records_in_heap(void);

/* ---- track_shim_life.c ---- */
TRACK_SHIM_HIDDEN bool track_shim_shared_path(char *path, size_t cap);
/* A setting (REHEAP_TRACK_...): from the environment, or from the block
 * given (attach: NAME=value strings, each ended by a NUL, then a NUL). */
TRACK_SHIM_HIDDEN const char *track_shim_setting(const char *name);
TRACK_SHIM_HIDDEN void track_shim_given(const char *block);
TRACK_SHIM_HIDDEN void track_shim_read_settings(void);
TRACK_SHIM_HIDDEN void track_shim_start(bool attached);

#endif
