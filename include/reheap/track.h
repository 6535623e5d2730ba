/* The allocation tracker, seen from the tracked program.
 *
 * A program running under `reheap run --track` may read its own counters
 * and write its report when it chooses (after a phase, before a checkpoint).
 * These live in libreheap_track.so: look them up with
 * dlsym(RTLD_DEFAULT, "rh_track_stats") so that the program also runs
 * without reheap, where the lookup gives NULL. */
#ifndef REHEAP_TRACK_H
#define REHEAP_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rh_track_stats {
  uint64_t allocations, frees, reallocs;
  uint64_t unknown_frees; /* of blocks allocated before tracking began */
  uint64_t double_frees, invalid_frees;
  uint64_t bytes_allocated;
  uint64_t live_bytes, live_blocks, peak_bytes;
} rh_track_stats_t;

/* The process's counters, summed over its threads this moment. */
bool rh_track_stats(rh_track_stats_t *out);
typedef bool (*rh_track_stats_fn)(rh_track_stats_t *out);

/* Writes the report of the blocks live now to fd, in "text", "json",
 * "folded" or "folded-allocated"; false for another format. */
bool rh_track_report(int fd, const char *format);
typedef bool (*rh_track_report_fn)(int fd, const char *format);

#ifdef __cplusplus
}
#endif

#endif
