/* What only the tracker's own files use, over its header track.h: the
 * thread-exit keys, walks over every record and stack, the timeline's
 * points, the pprof, SVG and HTML writers. */
#ifndef REHEAP_TRACK_INTERNAL_H
#define REHEAP_TRACK_INTERNAL_H

#include "track/track.h"

/* ---- exit_key.c ---- */
/* A thread-exit hook made once, by whichever thread needs it first (the
 * tracker has no start-up of its own: it begins at the first malloc). */
typedef struct track_exit_key {
  os_thread_key_t key;
  _Atomic int state; /* 0 none, 1 making, 2 made, 3 failed */
} track_exit_key_t;
/* Makes k (calling fn(value) at the exit of a thread that set one) if no
 * thread has yet; false when the system refused. */
TRACK_HIDDEN bool track_exit_key_ready(track_exit_key_t *k, void (*fn)(void *));

/* ---- record_pool.c ---- */
/* Records ever carved from the region (for tests: bounded under churn). */
TRACK_HIDDEN size_t track_records_carved(void);
/* Numbers below track_records_end() have been handed out. */
TRACK_HIDDEN uint32_t track_records_end(void);

/* ---- addr_table.c ---- */
/* Calls fn on every record, stripe by stripe, each stripe locked meanwhile
 * (fn must not touch the table). */
TRACK_HIDDEN void track_table_each(void (*fn)(const track_record_t *r, void *arg), void *arg);
TRACK_HIDDEN size_t track_table_count(void);

/* ---- live.c ---- */
TRACK_HIDDEN void track_live_each(void (*fn)(const track_record_t *r, void *arg), void *arg);
TRACK_HIDDEN size_t track_live_count(void);


/* ---- stacks.c ---- */
TRACK_HIDDEN size_t track_stack_get(uint32_t id, const uintptr_t **frames);
/* Calls fn for every stack that allocated, with its bytes and blocks
 * allocated so far (frees not subtracted). */
TRACK_HIDDEN void track_stack_each(void (*fn)(uint32_t id, int64_t bytes, int64_t blocks, void *arg),
                                   void *arg);


/* ---- timeline.c ---- */
typedef struct track_point {
  uint64_t ms;       /* since the first point */
  uint64_t live;     /* live bytes (the tracker's count) */
  uint64_t resident; /* the process's resident memory */
} track_point_t;
/* Copies up to cap points, oldest first; returns how many. */
TRACK_HIDDEN size_t track_timeline_copy(track_point_t *out, size_t cap);


/* ---- reports ---- */
/* The report as a gzipped pprof profile (report_pprof.c); false if memory
 * or zlib failed. */
TRACK_HIDDEN bool track_report_pprof(int fd);
/* A flame graph of the stacks' bytes (report_svg.c), what naming them in
 * its title ("bytes leaked"). */
typedef struct track_svg_stack {
  uint32_t stack_id;
  int64_t bytes, blocks;
} track_svg_stack_t;
TRACK_HIDDEN bool track_report_svg(int fd, const char *what, const track_svg_stack_t *stacks, size_t n);
/* The same as an element of an HTML page (no XML prolog), its script's
 * names prefixed so that it can share the page. */
TRACK_HIDDEN bool track_report_svg_inline(int fd, const char *what, const track_svg_stack_t *stacks, size_t n);
/* The report as one HTML page (report_html.c): the summary line, the
 * biggest stacks (leaked, or live under sampling) as a table, their flame
 * graph, and the chart of the timeline. summary: the text report's first
 * lines; stacks sorted, biggest first. */
TRACK_HIDDEN bool track_report_html(int fd, const char *summary, const char *what, const track_svg_stack_t *stacks,
                                    size_t n);

#endif
