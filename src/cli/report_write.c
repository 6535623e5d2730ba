/* A read report written out again: text and folded stacks exactly as the
 * tracker writes them itself (src/track/report_text.c), so the two can be
 * compared line for line, and JSON as a version 2 document. */
#include <inttypes.h>

#include "cli/cmd_report.h"

static void text_frames(FILE *out, const rh_report_group_t *g) {
  if (g->nframes == 0) fputs("    (no stack)\n", out);
  for (size_t k = 0; k < g->nframes; k++) {
    const rh_report_frame_t *f = &g->frames[k];
    fprintf(out, "    #%zu 0x%" PRIx64, k, f->address);
    /* an empty module means the symbol tables did not know the address */
    if (f->function[0] || f->module[0])
      fprintf(out, " %s+0x%" PRIx64, f->function[0] ? f->function : "?", f->offset);
    if (f->module[0]) fprintf(out, " (%s)", f->module);
    if (f->file[0]) {
      fprintf(out, " %s", f->file);
      if (f->line != 0) fprintf(out, ":%" PRIu64, f->line);
    }
    fputc('\n', out);
  }
}

/* "NAME N: B bytes in K block(s)" and the frames, for the top biggest of
 * the groups; then how many are left out of count (which may exceed n:
 * a version 1 file keeps 50 groups at most). */
static void text_groups(FILE *out, const char *name, const rh_report_group_t *groups, size_t n,
                        uint64_t count, size_t top, const char *left_out, bool sampled) {
  size_t shown = n < top ? n : top;
  for (size_t i = 0; i < shown; i++) {
    const rh_report_group_t *g = &groups[i];
    fprintf(out, "%s %zu: %s%" PRIu64 " bytes in %" PRIu64 " %s", name, i + 1, sampled ? "about " : "", g->bytes,
            g->blocks, g->blocks == 1 ? "block" : "blocks");
    if (sampled) fprintf(out, " (%" PRIu64 " %s)", g->samples, g->samples == 1 ? "sample" : "samples");
    fputc('\n', out);
    text_frames(out, g);
  }
  if (count < n) count = n;
  if (count > shown) fprintf(out, "(%" PRIu64 " %s)\n", count - shown, left_out);
}

void rh_report_write_text(FILE *out, const rh_report_t *r, size_t top, bool reachable) {
  const uint64_t *s = r->sum;
  fprintf(out,
          "reheap track: allocations %" PRIu64 ", frees %" PRIu64 ", reallocs %" PRIu64
          ", bytes allocated %" PRIu64 ", peak live bytes %" PRIu64
          ", frees of blocks never seen %" PRIu64 ", double frees %" PRIu64
          ", invalid frees %" PRIu64 "\n",
          s[RH_SUM_ALLOCATIONS], s[RH_SUM_FREES], s[RH_SUM_REALLOCS], s[RH_SUM_BYTES_ALLOCATED],
          s[RH_SUM_PEAK_LIVE_BYTES], s[RH_SUM_UNKNOWN_FREES], s[RH_SUM_DOUBLE_FREES],
          s[RH_SUM_INVALID_FREES]);
  bool sampled = s[RH_SUM_SAMPLE_BYTES] != 0;
  if (sampled)
    fprintf(out,
            "reheap track: sampled, one sample in about every %" PRIu64 " bytes allocated: the live and "
            "peak bytes and each stack's bytes and blocks are estimates; blocks live at exit are not told "
            "leaked or reachable\n",
            s[RH_SUM_SAMPLE_BYTES]);
  fprintf(out,
          "reheap track: %s%" PRIu64 " bytes in %" PRIu64 " blocks from %" PRIu64 " call stacks%s\n",
          sampled ? "live at exit about " : "leaked ", s[RH_SUM_LEAKED_BYTES], s[RH_SUM_LEAKED_BLOCKS],
          s[RH_SUM_LEAK_STACKS], sampled ? " sampled" : "");
  if (s[RH_SUM_SUPPRESSED_BLOCKS] > 0)
    fprintf(out, "reheap track: suppressed %" PRIu64 " bytes in %" PRIu64 " blocks\n",
            s[RH_SUM_SUPPRESSED_BYTES], s[RH_SUM_SUPPRESSED_BLOCKS]);
  if (s[RH_SUM_REACHABLE_BLOCKS] > 0)
    fprintf(out,
            "reheap track: still reachable %" PRIu64 " bytes in %" PRIu64
            " blocks (not leaks: referenced from globals, stacks or other reachable blocks)\n",
            s[RH_SUM_REACHABLE_BYTES], s[RH_SUM_REACHABLE_BLOCKS]);
  if (s[RH_SUM_THREADS_NOT_SCANNED] > 0)
    fprintf(out,
            "reheap track: %" PRIu64 " threads were running and not scanned; blocks only they "
            "reference are counted as leaked\n",
            s[RH_SUM_THREADS_NOT_SCANNED]);
  text_groups(out, sampled ? "live" : "leak", r->leaks, r->nleaks, s[RH_SUM_LEAK_STACKS], top,
              "smaller stacks not shown", sampled);
  if (reachable)
    text_groups(out, "reachable", r->reachable, r->nreachable, r->nreachable, top,
                "smaller reachable stacks not shown", false);
}

void rh_report_write_folded(FILE *out, const rh_report_group_t *groups, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const rh_report_group_t *g = &groups[i];
    if (g->nframes == 0) fputs("[no stack]", out);
    for (size_t k = g->nframes; k-- > 0;) {
      const rh_report_frame_t *f = &g->frames[k];
      if (f->function[0]) fputs(f->function, out);
      else fprintf(out, "0x%" PRIx64, f->address);
      if (k) fputc(';', out);
    }
    fprintf(out, " %" PRIu64 "\n", g->bytes);
  }
}

/* The bytes of s, which jansson read as valid UTF-8, with what JSON
 * requires escaped. */
static void json_str(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c < 0x20) fprintf(out, "\\u%04x", c);
    else fputc(c, out);
  }
  fputc('"', out);
}

/* One group a line, as the tracker lays its file out. */
static void json_groups(FILE *out, const char *key, const rh_report_group_t *groups, size_t n,
                        bool samples) {
  fprintf(out, " \"%s\": [", key);
  for (size_t i = 0; i < n; i++) {
    const rh_report_group_t *g = &groups[i];
    fprintf(out, "%s\n  {\"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 ", ", i ? "," : "", g->bytes, g->blocks);
    if (samples) fprintf(out, "\"samples\": %" PRIu64 ", ", g->samples);
    fputs("\"frames\": [", out);
    for (size_t k = 0; k < g->nframes; k++) {
      const rh_report_frame_t *f = &g->frames[k];
      fprintf(out, "%s{\"address\": %" PRIu64 ", \"function\": ", k ? ", " : "", f->address);
      json_str(out, f->function);
      fprintf(out, ", \"offset\": %" PRIu64 ", \"module\": ", f->offset);
      json_str(out, f->module);
      fputs(", \"file\": ", out);
      json_str(out, f->file);
      fprintf(out, ", \"line\": %" PRIu64 "}", f->line);
    }
    fputs("]}", out);
  }
  fputs(n ? "\n ]" : "]", out);
}

/* Version 2 whatever was read: what version 1 lacks is written as it was
 * read, 0 or empty. */
void rh_report_write_json(FILE *out, const rh_report_t *r) {
  fputs("{\"format\": \"reheap-track\", \"version\": 2,\n \"summary\": {", out);
  for (int i = 0; i < RH_SUM_COUNT; i++)
    if (i != RH_SUM_SAMPLE_BYTES || r->sum[i] != 0) /* written only by a sampled report */
      fprintf(out, "%s\"%s\": %" PRIu64, i ? ", " : "", rh_report_summary_keys[i], r->sum[i]);
  fputs("},\n", out);
  bool sampled = r->sum[RH_SUM_SAMPLE_BYTES] != 0;
  json_groups(out, "leaks", r->leaks, r->nleaks, sampled);
  fputs(",\n", out);
  json_groups(out, "allocated", r->allocated, r->nallocated, false);
  fputs(",\n", out);
  json_groups(out, "reachable", r->reachable, r->nreachable, sampled);
  fputs("}\n", out);
}
