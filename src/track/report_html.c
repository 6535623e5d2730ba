/* The report as one HTML page (--format html) that needs nothing else: the
 * summary, a chart of live bytes and resident memory over the run (the
 * timeline the tracker took while the program ran, drawn by the page's
 * script), the biggest stacks as a table, and their flame graph (the svg
 * format, inline). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "os/os.h"
#include "track/symbols.h"
#include "track/report_out.h"
#include "track/track_internal.h"

#define TABLE_ROWS 50
#define POINTS_MAX 2048

static void put_html(track_out_t *o, const char *s) { track_out_markup(o, s, true); }

/* The chart: two lines over the timeline's points, axes in MiB and
 * seconds, drawn once the page has loaded. */
static const char chart_script[] =
    "<script>\n"
    "(function () {\n"
    "  const svg = document.getElementById('chart'), NS = 'http://www.w3.org/2000/svg';\n"
    "  const W = 1200, H = 300, L = 70, B = 30, T = 10;\n"
    "  const el = (name, attrs, text) => {\n"
    "    const e = document.createElementNS(NS, name);\n"
    "    for (const k in attrs) e.setAttribute(k, attrs[k]);\n"
    "    if (text !== undefined) e.textContent = text;\n"
    "    svg.appendChild(e); return e;\n"
    "  };\n"
    "  if (timeline.length === 0) { el('text', {x: L, y: 40}, 'no timeline: the program ended before the first "
    "point'); return; }\n"
    "  const tmax = Math.max(1, timeline[timeline.length - 1][0]);\n"
    "  const ymax = Math.max(1, ...timeline.map(p => Math.max(p[1], p[2])));\n"
    "  const X = ms => L + (W - L - 10) * ms / tmax, Y = b => H - B - (H - B - T) * b / ymax;\n"
    "  el('line', {x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: '#000'});\n"
    "  el('line', {x1: L, y1: T, x2: L, y2: H - B, stroke: '#000'});\n"
    "  for (let i = 0; i <= 4; i++) {\n"
    "    el('text', {x: L - 5, y: Y(ymax * i / 4) + 4, 'text-anchor': 'end', class: 'axis'},\n"
    "       (ymax * i / 4 / 1048576).toFixed(1) + ' MiB');\n"
    "    el('text', {x: X(tmax * i / 4), y: H - 8, 'text-anchor': 'middle', class: 'axis'},\n"
    "       (tmax * i / 4 / 1000).toFixed(2) + ' s');\n"
    "  }\n"
    "  const line = (k, id, colour) => el('polyline', {id: id, fill: 'none', stroke: colour, 'stroke-width': 2,\n"
    "    points: timeline.map(p => X(p[0]).toFixed(1) + ',' + Y(p[k]).toFixed(1)).join(' ')});\n"
    "  line(2, 'rss-line', '#3070c0');\n"
    "  line(1, 'live-line', '#d04020');\n"
    "  el('text', {x: L + 10, y: T + 14, style: 'fill: #d04020'}, 'live bytes (the tracker\\u2019s count)');\n"
    "  el('text', {x: L + 10, y: T + 30, style: 'fill: #3070c0'}, 'resident memory (VmRSS)');\n"
    "})();\n"
    "</script>\n";

bool track_report_html(int fd, const char *summary, const char *what, const track_svg_stack_t *stacks, size_t n) {
  track_out_t o = {fd, {0}, 0};
  track_out_put(&o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>reheap track report</title>\n"
          "<style>body { font: 14px sans-serif; margin: 20px; } pre { white-space: pre-wrap; } "
          "table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 3px 8px; "
          "vertical-align: top; } td.n { text-align: right; } .axis { font: 11px sans-serif; } "
          ".frames { font: 12px monospace; }</style>\n</head><body>\n<h1>reheap track report</h1>\n<pre>");
  put_html(&o, summary);
  track_out_put(&o, "</pre>\n<h2>Live bytes and resident memory over the run</h2>\n"
          "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"300\"></svg>\n"
          "<script>const timeline = [");
  static track_point_t points[POINTS_MAX];
  size_t np = track_timeline_copy(points, POINTS_MAX);
  for (size_t i = 0; i < np; i++)
    track_out_putf(&o, "%s[%llu,%llu,%llu]", i ? "," : "", (unsigned long long)points[i].ms,
         (unsigned long long)points[i].live, (unsigned long long)points[i].resident);
  track_out_put(&o, "];</script>\n<h2>The biggest stacks: ");
  put_html(&o, what);
  track_out_put(&o, "</h2>\n<table id=\"stacks\"><tr><th>#</th><th>bytes</th><th>blocks</th><th>stack, innermost first</th>"
          "</tr>\n");
  for (size_t i = 0; i < n && i < TABLE_ROWS; i++) {
    track_out_putf(&o, "<tr><td class=\"n\">%zu</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"frames\">",
         i + 1, (long long)stacks[i].bytes, (long long)stacks[i].blocks);
    const uintptr_t *frames = NULL;
    size_t depth = stacks[i].stack_id != 0 ? track_stack_get(stacks[i].stack_id, &frames) : 0;
    if (depth == 0) track_out_put(&o, "(no stack)");
    for (size_t k = 0; k < depth; k++) {
      track_symbol_t sym;
      track_symbolize(frames[k], &sym);
      if (k) track_out_put(&o, "<br>");
      if (sym.function[0]) put_html(&o, sym.function);
      else track_out_putf(&o, "0x%llx", (unsigned long long)frames[k]);
      if (sym.line != 0) {
        track_out_put(&o, " <small>");
        put_html(&o, sym.file);
        track_out_putf(&o, ":%u</small>", sym.line);
      }
    }
    track_out_put(&o, "</td></tr>\n");
  }
  if (n > TABLE_ROWS) track_out_putf(&o, "<tr><td colspan=\"4\">(%zu smaller stacks not shown)</td></tr>\n", n - TABLE_ROWS);
  track_out_put(&o, "</table>\n<h2>Flame graph: ");
  put_html(&o, what);
  track_out_put(&o, "</h2>\n");
  track_out_flush(&o);
  bool ok = track_report_svg_inline(fd, what, stacks, n);
  track_out_put(&o, chart_script);
  track_out_put(&o, "</body></html>\n");
  track_out_flush(&o);
  return ok;
}
