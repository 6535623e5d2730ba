/* Builds the one-line `reheap-stats v1 key=value ...` record that the
 * preloaded libraries hand to `reheap run --stats`, without allocating. */
#ifndef REHEAP_FRONT_STATS_LINE_H
#define REHEAP_FRONT_STATS_LINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rh_line_s {
  char buf[768];
  size_t len;
} rh_line_t;

__attribute__((visibility("hidden"))) void rh_line_start(rh_line_t *l, const char *heap);
__attribute__((visibility("hidden"))) void rh_line_u64(rh_line_t *l, const char *key, uint64_t v);
/* key=TEXT to the end of the line (so: the last field); newlines in text
 * become spaces. */
__attribute__((visibility("hidden"))) void rh_line_rest(rh_line_t *l, const char *key, const char *text);
/* Ends the line with a newline; returns its length. */
__attribute__((visibility("hidden"))) size_t rh_line_end(rh_line_t *l);

/* Who writes: the process named by REHEAP_STATS_PID, to REHEAP_STATS_FD.
 * Returns the descriptor, or -1 when this process is not the one. The
 * descriptor stays open across exec: a wrapper script that execs the real
 * program keeps the pid, and the program it becomes is the one to answer. */
__attribute__((visibility("hidden"))) int rh_stats_fd_claim(void);
/* Writes the heap's counters line now, once (exit_stats.c). */
__attribute__((visibility("hidden"))) void rh_exit_stats_write_now(void);

#endif
