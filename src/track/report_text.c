/* The reports: the leak report at exit (text, JSON, folded stacks of leaked
 * or of allocated bytes) and the lines for a double or invalid free. Live
 * blocks are told lost or still reachable (reach.c); the lost ones, the
 * leaks, are grouped by the stack that allocated them, biggest first;
 * groups a suppression matches are counted apart and left out. Reachable
 * blocks are counted, and grouped in the JSON only. Built in a
 * buffer and written with write(): apart from libdw's frame names (which
 * run where the tracker lets allocations through), no malloc, since the
 * report runs inside a program whose heap is being watched. */
#include <string.h>

#include "os/os.h"
#include "track/reach.h"
#include "track/report_groups.h"
#include "track/suppress.h"
#include "track/symbols.h"
#include "track/track_internal.h"

void (*track_exact_counts)(track_counters_t *sum);
bool track_sampled_by_heap;

/* ---- the output buffer ---- */

typedef struct out {
  int fd;
  char buf[4096];
  size_t len;
} out_t;

/* (an out_t of fd -1 keeps what fits in its buffer, for a page's summary) */
static void flush(out_t *o) {
  if (o->fd < 0) return;
  os_write_all(o->fd, o->buf, o->len);
  o->len = 0;
}

static void put(out_t *o, const char *s) {
  while (*s) {
    if (o->len == sizeof o->buf) {
      if (o->fd < 0) return;
      flush(o);
    }
    o->buf[o->len++] = *s++;
  }
}

static void put_u(out_t *o, uint64_t v) {
  char s[24];
  size_t n = sizeof s - 1;
  s[n] = '\0';
  do s[--n] = (char)('0' + v % 10); while ((v /= 10) != 0);
  put(o, s + n);
}

/* A count that may be read mid-update as negative prints as 0. */
static void put_count(out_t *o, int64_t v) { put_u(o, v > 0 ? (uint64_t)v : 0); }

static void put_hex(out_t *o, uint64_t v) {
  char s[20];
  size_t n = sizeof s - 1;
  s[n] = '\0';
  do s[--n] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
  s[--n] = 'x';
  s[--n] = '0';
  put(o, s + n);
}

/* JSON string contents: quotes, backslashes and control bytes escaped. */
static void put_json_str(out_t *o, const char *s) {
  put(o, "\"");
  for (; *s; s++) {
    char one[2] = {*s, 0};
    if (*s == '"') put(o, "\\\"");
    else if (*s == '\\') put(o, "\\\\");
    else if ((unsigned char)*s < 0x20) {
      put(o, "\\u00");
      char h[3] = {"0123456789abcdef"[(*s >> 4) & 15], "0123456789abcdef"[*s & 15], 0};
      put(o, h);
    } else put(o, one);
  }
  put(o, "\"");
}

static void put_key(out_t *o, const char *key, int64_t v, bool comma) {
  put(o, "\"");
  put(o, key);
  put(o, "\": ");
  put_count(o, v);
  if (comma) put(o, ", ");
}

/* ---- frames ---- */

/* "    #0 0x55d0c3a1b2c3 leak_big+0x13 (/path/prog) /path/leaky.c:42" */
static void put_frames(out_t *o, const uintptr_t *frames, size_t depth) {
  if (depth == 0) put(o, "    (no stack)\n");
  for (size_t k = 0; k < depth; k++) {
    track_symbol_t sym;
    put(o, "    #");
    put_u(o, k);
    put(o, " ");
    put_hex(o, frames[k]);
    if (track_symbolize(frames[k], &sym)) {
      put(o, " ");
      put(o, sym.function[0] ? sym.function : "?");
      put(o, "+");
      put_hex(o, sym.offset);
      put(o, " (");
      put(o, sym.module);
      put(o, ")");
    }
    if (sym.line != 0) {
      put(o, " ");
      put(o, sym.file);
      put(o, ":");
      put_u(o, sym.line);
    }
    put(o, "\n");
  }
}

static void put_json_frames(out_t *o, const uintptr_t *frames, size_t depth) {
  put(o, "\"frames\": [");
  for (size_t k = 0; k < depth; k++) {
    track_symbol_t sym;
    track_symbolize(frames[k], &sym);
    put(o, k ? ", {\"address\": " : "{\"address\": ");
    put_u(o, frames[k]);
    put(o, ", \"function\": ");
    put_json_str(o, sym.function);
    put(o, ", \"offset\": ");
    put_u(o, sym.offset);
    put(o, ", \"module\": ");
    put_json_str(o, sym.module);
    put(o, ", \"file\": ");
    put_json_str(o, sym.file);
    put(o, ", \"line\": ");
    put_u(o, sym.line);
    put(o, "}");
  }
  put(o, "]");
}

/* One line per group, outermost frame first, for flame-graph tools:
 * "main;parse;xmalloc 4096". */
static void put_folded(out_t *o, const track_group_t *g, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const uintptr_t *frames;
    size_t depth = track_stack_get(g[i].stack_id, &frames);
    if (depth == 0) put(o, "[no stack]");
    for (size_t k = depth; k-- > 0;) {
      track_symbol_t sym;
      track_symbolize(frames[k], &sym);
      if (sym.function[0]) put(o, sym.function);
      else put_hex(o, frames[k]);
      if (k) put(o, ";");
    }
    put(o, " ");
    put_count(o, g[i].bytes);
    put(o, "\n");
  }
}

/* Whether a suppression matches a frame of the stack: its function, its
 * source file or its module. */
static bool suppressed(uint32_t stack_id) {
  const uintptr_t *frames;
  size_t depth = track_stack_get(stack_id, &frames);
  for (size_t k = 0; k < depth; k++) {
    track_symbol_t sym;
    track_symbolize(frames[k], &sym);
    if (track_suppress_match(sym.function) || track_suppress_match(sym.file) ||
        track_suppress_match(sym.module))
      return true;
  }
  return false;
}

/* ---- the report at exit ---- */

typedef struct report {
  track_counters_t sum;
  track_groups_t leaks;     /* lost, unsuppressed, sorted */
  track_groups_t allocated; /* sorted; only for the formats that show them */
  track_groups_t reachable; /* sorted; JSON only */
  int64_t suppressed_bytes, suppressed_blocks;
  int64_t reachable_bytes, reachable_blocks;
  size_t threads_not_scanned;
  /* the blocks the scan found lost (of a running program, the counters,
   * read at another moment, would not agree with it) */
  bool scanned;
  int64_t lost_bytes, lost_blocks;
} report_t;

/* Lost bytes and blocks (without a scan: the live ones) less the
 * suppressed ones. */
static int64_t leaked_bytes(report_t *r) {
  if (r->scanned) return r->lost_bytes - r->suppressed_bytes;
  return track_read(&r->sum.live_bytes) - r->suppressed_bytes - r->reachable_bytes;
}
static int64_t leaked_blocks(report_t *r) {
  if (r->scanned) return r->lost_blocks - r->suppressed_blocks;
  return track_read(&r->sum.live_blocks) - r->suppressed_blocks - r->reachable_blocks;
}

static void report_json(out_t *o, report_t *r) {
  track_counters_t *s = &r->sum;
  put(o, "{\"format\": \"reheap-track\", \"version\": 2,\n \"summary\": {");
  put_key(o, "allocations", track_read(&s->allocs), true);
  put_key(o, "frees", track_read(&s->frees), true);
  put_key(o, "reallocs", track_read(&s->reallocs), true);
  put_key(o, "bytes_allocated", track_read(&s->bytes_allocated), true);
  put_key(o, "peak_live_bytes", track_read(&s->peak_bytes), true);
  put_key(o, "unknown_frees", track_read(&s->unknown_frees), true);
  put_key(o, "double_frees", track_read(&s->double_frees), true);
  put_key(o, "invalid_frees", track_read(&s->invalid_frees), true);
  put_key(o, "leaked_bytes", leaked_bytes(r), true);
  put_key(o, "leaked_blocks", leaked_blocks(r), true);
  put_key(o, "leak_stacks", (int64_t)r->leaks.n, true);
  put_key(o, "suppressed_bytes", r->suppressed_bytes, true);
  put_key(o, "suppressed_blocks", r->suppressed_blocks, true);
  put_key(o, "reachable_bytes", r->reachable_bytes, true);
  put_key(o, "reachable_blocks", r->reachable_blocks, true);
  put_key(o, "threads_not_scanned", (int64_t)r->threads_not_scanned, track_sample_mean != 0);
  /* sampled only: the mean bytes between samples (the leaks are then the
   * blocks live at exit, estimated from the samples) */
  if (track_sample_mean != 0) put_key(o, "sample_bytes", (int64_t)track_sample_mean, false);
  /* "reachable" came last, after the arrays version 2 began with */
  static const char *const heads[] = {"},\n \"leaks\": [", "\n ],\n \"allocated\": [",
                                      "\n ],\n \"reachable\": ["};
  for (int part = 0; part < 3; part++) {
    track_groups_t *gs = part == 0 ? &r->leaks : part == 1 ? &r->allocated : &r->reachable;
    put(o, heads[part]);
    for (size_t i = 0; i < gs->n; i++) {
      put(o, i ? ",\n  {" : "\n  {");
      put_key(o, "bytes", gs->g[i].bytes, true);
      put_key(o, "blocks", gs->g[i].blocks, true);
      if (track_sample_mean != 0 && part != 1) put_key(o, "samples", gs->g[i].samples, true);
      const uintptr_t *frames;
      size_t depth = track_stack_get(gs->g[i].stack_id, &frames); /* before frames is read */
      put_json_frames(o, frames, depth);
      put(o, "}");
    }
  }
  if (track_report_by_module && o->fd >= 0) { /* the leaks by the library that allocated them */
    put(o, "\n ],\n \"by_library\": [");
    flush(o);
    track_report_modules_json(o->fd, r->leaks.g, r->leaks.n);
  }
  put(o, "\n ]}\n");
}

static void report_text(out_t *o, report_t *r, size_t max_groups) {
  track_counters_t *s = &r->sum;
  put(o, "reheap track: allocations ");
  put_count(o, track_read(&s->allocs));
  put(o, ", frees ");
  put_count(o, track_read(&s->frees));
  put(o, ", reallocs ");
  put_count(o, track_read(&s->reallocs));
  put(o, ", bytes allocated ");
  put_count(o, track_read(&s->bytes_allocated));
  put(o, ", peak live bytes ");
  put_count(o, track_read(&s->peak_bytes));
  put(o, track_report_attached    ? ", frees of blocks from before the attach or not tracked "
         : track_report_by_module ? ", frees of blocks not tracked "
                                  : ", frees of blocks never seen ");
  put_count(o, track_read(&s->unknown_frees));
  put(o, ", double frees ");
  put_count(o, track_read(&s->double_frees));
  put(o, ", invalid frees ");
  put_count(o, track_read(&s->invalid_frees));
  bool sampled = track_sample_mean != 0;
  if (sampled) {
    put(o, track_sampled_by_heap ? "\nreheap track: sampled by reheap's heap, one sample in about every "
                                 : "\nreheap track: sampled, one sample in about every ");
    put_u(o, track_sample_mean);
    put(o, " bytes allocated: the live and peak bytes and each stack's bytes and blocks are estimates; "
           "blocks live at exit are not told leaked or reachable");
  }
  put(o, sampled ? "\nreheap track: live at exit about " : "\nreheap track: leaked ");
  put_count(o, leaked_bytes(r));
  put(o, " bytes in ");
  put_count(o, leaked_blocks(r));
  put(o, " blocks from ");
  put_u(o, r->leaks.n);
  put(o, sampled ? " call stacks sampled\n" : " call stacks\n");
  if (r->suppressed_blocks > 0) {
    put(o, "reheap track: suppressed ");
    put_count(o, r->suppressed_bytes);
    put(o, " bytes in ");
    put_count(o, r->suppressed_blocks);
    put(o, " blocks\n");
  }
  if (r->reachable_blocks > 0) {
    put(o, "reheap track: still reachable ");
    put_count(o, r->reachable_bytes);
    put(o, " bytes in ");
    put_count(o, r->reachable_blocks);
    put(o, " blocks (not leaks: referenced from globals, stacks or other reachable blocks)\n");
  }
  if (r->threads_not_scanned > 0) {
    put(o, "reheap track: ");
    put_u(o, r->threads_not_scanned);
    put(o, " threads were running and not scanned; blocks only they reference are counted as "
           "leaked\n");
  }
  track_group_t *g = r->leaks.g;
  for (size_t i = 0; i < r->leaks.n && i < max_groups; i++) {
    put(o, sampled ? "live " : "leak ");
    put_u(o, i + 1);
    put(o, sampled ? ": about " : ": ");
    put_count(o, g[i].bytes);
    put(o, " bytes in ");
    put_count(o, g[i].blocks);
    put(o, g[i].blocks == 1 ? " block" : " blocks");
    if (sampled) {
      put(o, " (");
      put_count(o, g[i].samples);
      put(o, g[i].samples == 1 ? " sample)" : " samples)");
    }
    put(o, "\n");
    const uintptr_t *frames;
    size_t depth = track_stack_get(g[i].stack_id, &frames); /* before frames is read */
    put_frames(o, frames, depth);
  }
  if (r->leaks.n > max_groups) {
    put(o, "(");
    put_u(o, r->leaks.n - max_groups);
    put(o, " smaller stacks not shown)\n");
  }
  if (track_report_by_module && o->fd >= 0) {
    flush(o);
    track_report_modules(o->fd, g, r->leaks.n);
  }
}

/* The lost blocks by stack (every live one when the scan is off or
 * failed), suppressed groups counted and dropped; the reachable ones
 * counted, and grouped when r->reachable has a table. */
static void collect_leaks(report_t *r) {
  track_groups_t *c = &r->leaks;
  track_reach_t reach;
  /* sampled, most blocks are not known: none can be told reachable */
  if (track_sample_mean == 0 && track_reach_enabled() && track_reach_classify(&reach)) {
    for (size_t i = 0; i < reach.n; i++) {
      const track_block_t *b = &reach.blocks[i];
      if (!b->reachable) {
        track_groups_add(c, b->stack_id, b->size);
        r->lost_bytes += (int64_t)b->size;
        r->lost_blocks++;
        continue;
      }
      r->reachable_bytes += (int64_t)b->size;
      r->reachable_blocks++;
      if (r->reachable.g != NULL) track_groups_add(&r->reachable, b->stack_id, b->size);
    }
    r->threads_not_scanned = reach.threads_not_scanned;
    r->scanned = true;
    track_reach_release(&reach);
  } else {
    track_live_each(track_groups_add_record, c);
  }
  if (r->reachable.g != NULL) {
    track_groups_compact(&r->reachable);
    track_groups_sort(r->reachable.g, r->reachable.n);
  }
  bool filter = track_suppress_count() > 0;
  size_t n = 0;
  for (size_t i = 0; i < TRACK_GROUPS_MAX; i++) {
    track_group_t *g = &c->g[i];
    if (!g->used) continue;
    if (filter && suppressed(g->stack_id)) {
      r->suppressed_bytes += g->bytes;
      r->suppressed_blocks += g->blocks;
    } else {
      c->g[n++] = *g;
    }
  }
  c->n = n;
  track_groups_sort(c->g, n);
}

/* The page, with the summary as the text report says it (its first
 * lines). Apart, and not inlined: its buffer is not on the stack that the
 * reachability scan reads for the other formats (stale pointers in it
 * would keep leaked blocks "reachable"). */
__attribute__((noinline)) static void report_html(int fd, report_t *r, const char *what, const track_svg_stack_t *st,
                                                  size_t n) {
  out_t head = {-1, {0}, 0};
  report_text(&head, r, 0);
  head.buf[head.len < sizeof head.buf ? head.len : sizeof head.buf - 1] = '\0';
  track_report_html(fd, head.buf, what, st, n);
}

void track_report(int fd, track_format_t format, size_t max_groups) {
  if (format == TRACK_FORMAT_PPROF) {
    track_report_pprof(fd);
    return;
  }
  out_t o = {fd, {0}, 0};
  report_t r;
  memset(&r, 0, sizeof r);
  track_counters_sum(&r.sum);
  if (track_exact_counts != NULL) track_exact_counts(&r.sum);
  size_t bytes = TRACK_GROUPS_MAX * sizeof(track_group_t);
  /* anonymous maps, zeroed: the groups table starts empty */
  if (format != TRACK_FORMAT_FOLDED_ALLOCATED && format != TRACK_FORMAT_SVG_ALLOCATED) {
    r.leaks.g = os_map_aligned(bytes, os_page_size(), 0);
    if (format == TRACK_FORMAT_JSON) r.reachable.g = os_map_aligned(bytes, os_page_size(), 0);
    if (r.leaks.g != NULL) collect_leaks(&r);
  }
  if (format == TRACK_FORMAT_JSON || format == TRACK_FORMAT_FOLDED_ALLOCATED || format == TRACK_FORMAT_SVG_ALLOCATED) {
    r.allocated.g = os_map_aligned(bytes, os_page_size(), 0);
    if (r.allocated.g != NULL) {
      track_stack_each(track_groups_add_stack, &r.allocated);
      track_groups_sort(r.allocated.g, r.allocated.n);
    }
  }
  if (format == TRACK_FORMAT_SVG || format == TRACK_FORMAT_SVG_ALLOCATED || format == TRACK_FORMAT_HTML) {
    track_groups_t *gs = format == TRACK_FORMAT_SVG_ALLOCATED ? &r.allocated : &r.leaks;
    track_svg_stack_t *st = gs->g != NULL ? os_map_aligned((gs->n + 1) * sizeof *st, os_page_size(), 0) : NULL;
    for (size_t i = 0; st != NULL && i < gs->n; i++)
      st[i] = (track_svg_stack_t){gs->g[i].stack_id, gs->g[i].bytes, gs->g[i].blocks};
    const char *what = format == TRACK_FORMAT_SVG_ALLOCATED ? "bytes allocated over the run"
                       : track_sample_mean != 0              ? "bytes live at exit"
                                                             : "bytes leaked";
    if (st != NULL && format == TRACK_FORMAT_HTML) {
      report_html(fd, &r, what, st, gs->n);
    } else if (st != NULL) {
      track_report_svg(fd, what, st, gs->n);
    }
    if (st != NULL) os_unmap(st, (gs->n + 1) * sizeof *st);
  } else if (format == TRACK_FORMAT_JSON) report_json(&o, &r);
  else if (format == TRACK_FORMAT_FOLDED) put_folded(&o, r.leaks.g, r.leaks.n);
  else if (format == TRACK_FORMAT_FOLDED_ALLOCATED) put_folded(&o, r.allocated.g, r.allocated.n);
  else report_text(&o, &r, max_groups);
  flush(&o);
  if (r.leaks.g != NULL) os_unmap(r.leaks.g, bytes);
  if (r.allocated.g != NULL) os_unmap(r.allocated.g, bytes);
  if (r.reachable.g != NULL) os_unmap(r.reachable.g, bytes);
}

/* ---- bad frees, reported as they happen ---- */

void track_report_double_free(int fd, const track_record_t *rec, const uintptr_t *now, size_t n) {
  out_t o = {fd, {0}, 0};
  put(&o, "reheap track: double free of ");
  put_hex(&o, track_addr(rec));
  put(&o, " (");
  put_u(&o, rec->size);
  put(&o, " bytes); the second free is skipped and the program goes on\n  freed again at:\n");
  put_frames(&o, now, n);
  put(&o, "  allocated at:\n");
  const uintptr_t *frames;
  size_t depth = track_stack_get(rec->stack_id, &frames); /* before frames is read */
  put_frames(&o, frames, depth);
  flush(&o);
}

void track_report_invalid_free(int fd, uintptr_t addr, const track_record_t *containing,
                               const uintptr_t *now, size_t n) {
  out_t o = {fd, {0}, 0};
  put(&o, "reheap track: invalid free of ");
  put_hex(&o, addr);
  if (containing != NULL) {
    put(&o, " (");
    put_u(&o, addr - track_addr(containing));
    put(&o, " bytes into a block of ");
    put_u(&o, containing->size);
    put(&o, " bytes at ");
    put_hex(&o, track_addr(containing));
    put(&o, ")");
  } else {
    put(&o, " (not inside any block reheap tracks)");
  }
  put(&o, "; the free is skipped and the program goes on\n  freed at:\n");
  put_frames(&o, now, n);
  if (containing != NULL) {
    put(&o, "  the block was allocated at:\n");
    const uintptr_t *frames;
    size_t depth = track_stack_get(containing->stack_id, &frames); /* before frames is read */
    put_frames(&o, frames, depth);
  }
  flush(&o);
}
