/* The reports' groups of blocks by the stack that allocated them
 * (report_groups.c), for the report at exit (report_text.c). */
#ifndef REHEAP_TRACK_REPORT_GROUPS_H
#define REHEAP_TRACK_REPORT_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "track/track_internal.h"

#define TRACK_GROUPS_MAX 65536 /* as many as stacks.c can hold, and the no-stack group */

typedef struct track_group {
  uint32_t stack_id;
  bool suppressed;
  bool used;
  int64_t bytes, blocks; /* rounded from the sums below once every block is in */
  double wbytes, wblocks; /* each block counted by its weight (1 unless sampled) */
  int64_t samples;        /* the blocks actually recorded */
} track_group_t;

typedef struct track_groups {
  track_group_t *g;
  size_t n;
} track_groups_t;

/* A block of size bytes into stack_id's group, made if new. */
TRACK_HIDDEN void track_groups_add(track_groups_t *c, uint32_t stack_id, size_t size);
/* The same as track_live_each's visitor (arg: the groups). */
TRACK_HIDDEN void track_groups_add_record(const track_record_t *r, void *arg);
TRACK_HIDDEN void track_groups_compact(track_groups_t *c);
/* track_stack_each's visitor: a group of each stack's own counts, in order. */
TRACK_HIDDEN void track_groups_add_stack(uint32_t id, int64_t bytes, int64_t blocks, void *arg);
TRACK_HIDDEN void track_groups_sort(track_group_t *g, size_t n);
/* report_modules.c: the leaks of g[0..n) by the library that allocated
 * them, as lines of the text report on fd. */
TRACK_HIDDEN void track_report_modules(int fd, const track_group_t *g, size_t n);
/* The same as the JSON report's by_library array's entries. */
TRACK_HIDDEN void track_report_modules_json(int fd, const track_group_t *g, size_t n);

#endif
