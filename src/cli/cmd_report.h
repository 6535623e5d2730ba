/* reheap report: a saved JSON track report rendered again. The verb
 * (cmd_report.c) reads the file into an rh_report_t (report_read.c) and
 * writes that in the format asked for (report_write.c).
 * rh_cmd_report has this header, not src/cli/cli.h with the other verbs,
 * because cli.h belonged to another change when report was added; it can
 * move there. */
#ifndef REHEAP_CLI_CMD_REPORT_H
#define REHEAP_CLI_CMD_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

int rh_cmd_report(int argc, char **argv);

/* Exit status for a file that cannot be read or is not a report: bad
 * input, as a bad option is (RH_EXIT_USAGE). */
#define RH_EXIT_DATA 2

/* The summary's counters, in the order the JSON document lists them. */
enum {
  RH_SUM_ALLOCATIONS, RH_SUM_FREES, RH_SUM_REALLOCS, RH_SUM_BYTES_ALLOCATED,
  RH_SUM_PEAK_LIVE_BYTES, RH_SUM_UNKNOWN_FREES, RH_SUM_DOUBLE_FREES, RH_SUM_INVALID_FREES,
  RH_SUM_LEAKED_BYTES, RH_SUM_LEAKED_BLOCKS, RH_SUM_LEAK_STACKS, RH_SUM_SUPPRESSED_BYTES,
  RH_SUM_SUPPRESSED_BLOCKS, RH_SUM_REACHABLE_BYTES, RH_SUM_REACHABLE_BLOCKS,
  RH_SUM_THREADS_NOT_SCANNED, RH_SUM_SAMPLE_BYTES, RH_SUM_COUNT
};

/* Their JSON keys ("allocations", ...). */
extern const char *const rh_report_summary_keys[RH_SUM_COUNT];

/* Strings point into the parsed document, which the report holds. */
typedef struct rh_report_frame {
  uint64_t address, offset, line;
  const char *function, *module, *file; /* "" when unknown */
} rh_report_frame_t;

typedef struct rh_report_group {
  uint64_t bytes, blocks;
  uint64_t samples; /* a sampled report's: the blocks recorded (estimated bytes and blocks above) */
  rh_report_frame_t *frames; /* innermost first */
  size_t nframes;
} rh_report_group_t;

typedef struct rh_report {
  struct json_t *doc;
  long long version;
  uint64_t sum[RH_SUM_COUNT];
  rh_report_group_t *leaks, *allocated, *reachable; /* in the order stored: biggest first */
  size_t nleaks, nallocated, nreachable;
} rh_report_t;

/* Prints "reheap: report: " + message + newline on stderr; returns
 * RH_EXIT_DATA. */
int rh_report_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads the saved report at path ("-": standard input) into *r; name is
 * the file as messages call it. False after one line on stderr. Missing
 * fields read as 0 or empty (version 1 lacks several); fields of the wrong
 * type are refused. */
bool rh_report_read(const char *path, const char *name, rh_report_t *r);
/* The same from len bytes of text in memory (the reader's fuzz target). */
bool rh_report_parse(const char *text, size_t len, const char *name, rh_report_t *r);
void rh_report_free(rh_report_t *r);

/* The formats of `reheap run --track` (docs/track-report.md), line for
 * line: text shows the top biggest leak groups, and with reachable the top
 * biggest reachable groups after them (the tracker's own text never shows
 * those); json is always version 2. */
void rh_report_write_text(FILE *out, const rh_report_t *r, size_t top, bool reachable);
void rh_report_write_json(FILE *out, const rh_report_t *r);
void rh_report_write_folded(FILE *out, const rh_report_group_t *groups, size_t n);

#endif
