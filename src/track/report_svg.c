/* The report as a flame graph (--format svg, svg-allocated): one SVG file
 * that needs nothing else (no network, no fonts, no scripts from
 * elsewhere). Each box is a frame, as wide as the bytes of the stacks
 * through it, its callers below it; a box's tooltip says its function,
 * bytes and share. A click zooms into a box (its callers stay, greyed);
 * a click on the background, or Escape, zooms out; "Search" (or Ctrl+F)
 * marks the frames whose name matches a regular expression and says what
 * share of the bytes they hold.
 *
 * It runs where the tracker lets allocations through (the report): the
 * tree is built with malloc. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "track/symbols.h"
#include "track/report_out.h"
#include "track/track_internal.h"

#define NODES_MAX (1u << 20)
#define WIDTH 1200.0
#define ROW 17
#define TOP 60 /* the title, the search line and the details line */

typedef struct node {
  uint32_t parent, first_child, next_sibling;
  uint32_t name; /* offset into the names buffer */
  uint32_t depth;
  double bytes;
} node_t;

typedef struct tree {
  node_t *n;
  uint32_t count;
  char *names;
  size_t names_len, names_cap;
  uint32_t max_depth;
  bool failed;
} tree_t;

static uint32_t add_name(tree_t *t, const char *s) {
  size_t n = strlen(s) + 1;
  if (t->names_len + n > t->names_cap) {
    size_t cap = t->names_cap ? 2 * t->names_cap : 1 << 16;
    while (cap < t->names_len + n) cap *= 2;
    char *p = realloc(t->names, cap);
    if (p == NULL) {
      t->failed = true;
      return 0;
    }
    t->names = p;
    t->names_cap = cap;
  }
  memcpy(t->names + t->names_len, s, n);
  t->names_len += n;
  return (uint32_t)(t->names_len - n);
}

/* The child of parent named s, made if need be; 0 when the tree is full. */
static uint32_t child(tree_t *t, uint32_t parent, const char *s) {
  for (uint32_t c = t->n[parent].first_child; c != 0; c = t->n[c].next_sibling)
    if (strcmp(t->names + t->n[c].name, s) == 0) return c;
  if (t->count == NODES_MAX || t->failed) return 0;
  uint32_t c = t->count++;
  t->n[c] = (node_t){.parent = parent, .next_sibling = t->n[parent].first_child, .name = add_name(t, s),
                     .depth = t->n[parent].depth + 1};
  t->n[parent].first_child = c;
  if (t->n[c].depth > t->max_depth) t->max_depth = t->n[c].depth;
  return c;
}

/* A stack's bytes, along its frames from the outermost. */
static void add_stack(tree_t *t, uint32_t stack_id, double bytes) {
  const uintptr_t *frames = NULL;
  size_t depth = stack_id != 0 ? track_stack_get(stack_id, &frames) : 0;
  uint32_t at = 0;
  t->n[0].bytes += bytes;
  if (depth == 0) {
    at = child(t, 0, "[no stack]");
    if (at != 0) t->n[at].bytes += bytes;
    return;
  }
  for (size_t k = depth; k-- > 0;) {
    track_symbol_t sym;
    char hex[32];
    track_symbolize(frames[k], &sym);
    const char *name = sym.function;
    if (name[0] == '\0') {
      snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)frames[k]);
      name = hex;
    }
    uint32_t c = child(t, at, name);
    if (c == 0) return;
    t->n[c].bytes += bytes;
    at = c;
  }
}

/* ---- output ---- */

static void put_xml(track_out_t *o, const char *s) { track_out_markup(o, s, false); }

/* A warm colour from the name, so that one function keeps its colour. */
static void colour(const char *name, int *r, int *g, int *b) {
  uint32_t h = 2166136261u;
  for (; *name; name++) h = (h ^ (uint8_t)*name) * 16777619u;
  *r = 205 + (int)(h % 50);
  *g = 80 + (int)((h >> 8) % 130);
  *b = 40 + (int)((h >> 16) % 40);
}

static void put_node(track_out_t *o, const tree_t *t, uint32_t i, double x, double scale, double total, int height) {
  const node_t *n = &t->n[i];
  double w = n->bytes * scale;
  if (w < 0.1) return; /* narrower than a tenth of a pixel: left out */
  const char *name = i == 0 ? "all" : t->names + n->name;
  int r, g, b;
  colour(name, &r, &g, &b);
  double y = height - (double)(n->depth + 1) * ROW;
  track_out_putf(o, "<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\" data-b=\"%.0f\"><title>", x, w, n->bytes);
  put_xml(o, name);
  track_out_putf(o, " (%.0f bytes, %.2f%%)</title>", n->bytes, total > 0 ? 100.0 * n->bytes / total : 0);
  track_out_putf(o, "<rect x=\"%.3f\" y=\"%.0f\" width=\"%.3f\" height=\"%d\" rx=\"2\" fill=\"rgb(%d,%d,%d)\"/>", x, y, w,
       ROW - 1, r, g, b);
  track_out_putf(o, "<text x=\"%.3f\" y=\"%.0f\">", x + 3, y + ROW - 5);
  put_xml(o, name);
  track_out_put(o, "</text></g>\n");
  for (uint32_t c = n->first_child; c != 0; c = t->n[c].next_sibling) {
    put_node(o, t, c, x, scale, total, height);
    x += t->n[c].bytes * scale;
  }
}

/* The script: zoom and search on the boxes' data-x and data-w (the
 * layout at full width); a box's text is cut to what fits. */
static const char script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "'use strict';\n"
    "const W = 1200, frames = Array.from(document.querySelectorAll('g.f'));\n"
    "const info = document.getElementById('details'), found = document.getElementById('matched');\n"
    "function fit(g, x, w) {\n"
    "  const r = g.querySelector('rect'), t = g.querySelector('text');\n"
    "  r.setAttribute('x', x); r.setAttribute('width', Math.max(w, 0));\n"
    "  t.setAttribute('x', x + 3);\n"
    "  const name = g.querySelector('title').textContent.replace(/ \\([0-9]+ bytes.*$/, '');\n"
    "  const chars = Math.floor((w - 6) / 7);\n"
    "  t.textContent = chars < 3 ? '' : name.length <= chars ? name : name.slice(0, chars - 2) + '..';\n"
    "}\n"
    "function zoom(g) {\n"
    "  const x0 = +g.dataset.x, w0 = +g.dataset.w, y0 = +g.querySelector('rect').getAttribute('y');\n"
    "  for (const f of frames) {\n"
    "    const x = +f.dataset.x, w = +f.dataset.w, y = +f.querySelector('rect').getAttribute('y');\n"
    "    const inside = x >= x0 - 1e-6 && x + w <= x0 + w0 + 1e-6;\n"
    "    const under = y >= y0 && x <= x0 + 1e-6 && x + w >= x0 + w0 - 1e-6;\n"
    "    f.style.display = inside || under ? '' : 'none';\n"
    "    f.style.opacity = under && f !== g ? 0.5 : 1;\n"
    "    if (inside) fit(f, (x - x0) * W / w0, w * W / w0); else if (under) fit(f, 0, W);\n"
    "  }\n"
    "}\n"
    "function unzoom() {\n"
    "  for (const f of frames) { f.style.display = ''; f.style.opacity = 1; fit(f, +f.dataset.x, +f.dataset.w); }\n"
    "}\n"
    "function search(re) {\n"
    "  let bytes = 0; const total = +frames[0].dataset.b, seen = [];\n"
    "  for (const f of frames) {\n"
    "    const name = f.querySelector('title').textContent.replace(/ \\([0-9]+ bytes.*$/, '');\n"
    "    const hit = re !== null && re.test(name);\n"
    "    f.querySelector('rect').classList.toggle('hit', hit);\n"
    "    if (hit && !seen.some(s => +f.dataset.x >= +s.dataset.x && +f.dataset.x + +f.dataset.w <= +s.dataset.x + "
    "+s.dataset.w + 1e-6)) { seen.push(f); bytes += +f.dataset.b; }\n"
    "  }\n"
    "  found.textContent = re === null ? '' : 'matched: ' + (total ? (100 * bytes / total).toFixed(2) : 0) + '%';\n"
    "}\n"
    "function ask() {\n"
    "  const s = prompt('Search (a regular expression; empty to clear)', '');\n"
    "  if (s === null) return;\n"
    "  try { search(s === '' ? null : new RegExp(s)); } catch (e) { found.textContent = 'not a regular expression'; }\n"
    "}\n"
    "for (const f of frames) {\n"
    "  fit(f, +f.dataset.x, +f.dataset.w);\n"
    "  f.addEventListener('click', e => { zoom(f); e.stopPropagation(); });\n"
    "  f.addEventListener('mouseover', () => { info.textContent = f.querySelector('title').textContent; });\n"
    "  f.addEventListener('mouseout', () => { info.textContent = ' '; });\n"
    "}\n"
    "document.getElementById('background').addEventListener('click', unzoom);\n"
    "document.getElementById('search').addEventListener('click', e => { ask(); e.stopPropagation(); });\n"
    "document.addEventListener('keydown', e => {\n"
    "  if (e.key === 'Escape') unzoom();\n"
    "  if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); ask(); }\n"
    "});\n"
    "]]></script>\n";

static bool write_svg(int fd, const char *what, const track_svg_stack_t *stacks, size_t n, bool prolog) {
  tree_t t = {0};
  t.n = calloc(NODES_MAX, sizeof *t.n);
  if (t.n == NULL) return false;
  t.count = 1; /* the root: all */
  for (size_t i = 0; i < n; i++)
    if (stacks[i].bytes > 0) add_stack(&t, stacks[i].stack_id, (double)stacks[i].bytes);
  int height = (int)(t.max_depth + 1) * ROW + TOP + 10;
  track_out_t o = {fd, {0}, 0};
  if (prolog) track_out_put(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  track_out_putf(&o,
       "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%d\" "
       "viewBox=\"0 0 %.0f %d\">\n",
       WIDTH, height, WIDTH, height);
  track_out_put(&o, "<style>text { font: 12px monospace; fill: #000; pointer-events: none; } "
          "g.f:hover rect { stroke: #000; stroke-width: 0.5; } rect.hit { fill: rgb(230,0,230) !important; } "
          "#search { cursor: pointer; }</style>\n");
  track_out_putf(&o, "<rect id=\"background\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%d\" fill=\"#fdf6e8\"/>\n", WIDTH,
       height);
  track_out_putf(&o, "<text x=\"600\" y=\"20\" text-anchor=\"middle\" style=\"font-size: 16px\">reheap track: %s%s, "
           "%.0f bytes</text>\n",
       what, track_sample_mean != 0 ? " (sampled: estimates)" : "", t.n[0].bytes);
  track_out_put(&o, "<text id=\"search\" x=\"1190\" y=\"20\" text-anchor=\"end\" style=\"pointer-events: all\">Search"
          "</text>\n<text id=\"matched\" x=\"1190\" y=\"40\" text-anchor=\"end\"> </text>\n"
          "<text id=\"details\" x=\"10\" y=\"40\"> </text>\n");
  if (t.n[0].bytes > 0) put_node(&o, &t, 0, 0, WIDTH / t.n[0].bytes, t.n[0].bytes, height);
  track_out_put(&o, script);
  track_out_put(&o, "</svg>\n");
  track_out_flush(&o);
  bool ok = !t.failed;
  free(t.n);
  free(t.names);
  return ok;
}

bool track_report_svg(int fd, const char *what, const track_svg_stack_t *stacks, size_t n) {
  return write_svg(fd, what, stacks, n, true);
}

/* (the script's names are the page's globals: the page's own script keeps
 * to a function of its own) */
bool track_report_svg_inline(int fd, const char *what, const track_svg_stack_t *stacks, size_t n) {
  return write_svg(fd, what, stacks, n, false);
}
