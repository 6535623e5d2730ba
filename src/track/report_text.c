/* The leak report, in text, JSON or folded stacks: a summary, then the
 * live blocks grouped by the stack that allocated them, biggest first, each frame named by the
 * dynamic symbol tables (function+offset and module). Built in a buffer
 * and written with write(): no malloc, the report runs inside a program
 * whose heap is being watched. */
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define GROUPS_MAX 65536

typedef struct group {
  uint32_t stack_id;
  int64_t bytes, blocks;
} group_t;

typedef struct collect {
  group_t *g;
  size_t n;
} collect_t;

static void add_record(const track_record_t *r, void *arg) {
  collect_t *c = arg;
  /* linear probing on the stack id: the groups table is a hash set */
  size_t slot = (r->stack_id * 2654435761u) & (GROUPS_MAX - 1);
  for (size_t i = 0; i < GROUPS_MAX; i++, slot = (slot + 1) & (GROUPS_MAX - 1)) {
    group_t *g = &c->g[slot];
    if (g->blocks == 0) {
      g->stack_id = r->stack_id;
      c->n++;
    } else if (g->stack_id != r->stack_id) {
      continue;
    }
    g->bytes += (int64_t)r->size;
    g->blocks++;
    return;
  }
}

typedef struct out {
  int fd;
  char buf[4096];
  size_t len;
} out_t;

static void flush(out_t *o) {
  os_write_all(o->fd, o->buf, o->len);
  o->len = 0;
}

static void put(out_t *o, const char *s) {
  while (*s) {
    if (o->len == sizeof o->buf) flush(o);
    o->buf[o->len++] = *s++;
  }
}

static void put_u(out_t *o, uint64_t v) {
  char d[24];
  int n = 0;
  do d[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  char s[24];
  for (int i = 0; i < n; i++) s[i] = d[n - 1 - i];
  s[n] = '\0';
  put(o, s);
}

static void put_hex(out_t *o, uint64_t v) {
  char s[20] = "0x";
  int n = 0;
  char d[16];
  do d[n++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
  for (int i = 0; i < n; i++) s[2 + i] = d[n - 1 - i];
  s[2 + n] = '\0';
  put(o, s);
}

static void put_frames(out_t *o, const uintptr_t *frames, size_t depth) {
  if (depth == 0) put(o, "    (no stack)\n");
  for (size_t k = 0; k < depth; k++) {
    char name[256], module[256];
    uintptr_t off;
    put(o, "    #");
    put_u(o, k);
    put(o, " ");
    put_hex(o, frames[k]);
    /* a return address points after the call: look up the call itself */
    if (os_symbolize((void *)(frames[k] - 1), name, sizeof name, module, sizeof module, &off)) {
      put(o, " ");
      put(o, name[0] ? name : "?");
      put(o, "+");
      put_hex(o, off + 1);
      put(o, " (");
      put(o, module);
      put(o, ")");
    }
    put(o, "\n");
  }
}

static void sort_by_bytes(group_t *g, size_t n) {
  /* shell sort: no recursion, no allocation */
  for (size_t gap = n / 2; gap > 0; gap /= 2)
    for (size_t i = gap; i < n; i++) {
      group_t t = g[i];
      size_t j = i;
      for (; j >= gap && g[j - gap].bytes < t.bytes; j -= gap) g[j] = g[j - gap];
      g[j] = t;
    }
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

static void put_key_u(out_t *o, const char *key, int64_t v, bool comma) {
  put(o, "\"");
  put(o, key);
  put(o, "\": ");
  put_u(o, v > 0 ? (uint64_t)v : 0);
  if (comma) put(o, ", ");
}

static void report_json(out_t *o, track_counters_t *sum, group_t *g, size_t n, size_t max) {
  put(o, "{\"format\": \"reheap-track\", \"version\": 1, \"summary\": {");
  put_key_u(o, "allocations", track_read(&sum->allocs), true);
  put_key_u(o, "frees", track_read(&sum->frees), true);
  put_key_u(o, "reallocs", track_read(&sum->reallocs), true);
  put_key_u(o, "bytes_allocated", track_read(&sum->bytes_allocated), true);
  put_key_u(o, "peak_live_bytes", track_read(&sum->peak_bytes), true);
  put_key_u(o, "unknown_frees", track_read(&sum->unknown_frees), true);
  put_key_u(o, "double_frees", track_read(&sum->double_frees), true);
  put_key_u(o, "leaked_bytes", track_read(&sum->live_bytes), true);
  put_key_u(o, "leaked_blocks", track_read(&sum->live_blocks), true);
  put_key_u(o, "leak_stacks", (int64_t)n, false);
  put(o, "},\n \"leaks\": [");
  for (size_t i = 0; i < n && i < max; i++) {
    put(o, i ? ",\n  {" : "\n  {");
    put_key_u(o, "bytes", g[i].bytes, true);
    put_key_u(o, "blocks", g[i].blocks, true);
    put(o, "\"frames\": [");
    const uintptr_t *frames;
    size_t depth = track_stack_get(g[i].stack_id, &frames);
    for (size_t k = 0; k < depth; k++) {
      char name[256] = "", module[256] = "";
      uintptr_t off = 0;
      bool named = os_symbolize((void *)(frames[k] - 1), name, sizeof name, module, sizeof module, &off);
      put(o, k ? ", {\"address\": " : "{\"address\": ");
      put_u(o, frames[k]);
      put(o, ", \"function\": ");
      put_json_str(o, named ? name : "");
      put(o, ", \"offset\": ");
      put_u(o, named ? off + 1 : 0);
      put(o, ", \"module\": ");
      put_json_str(o, named ? module : "");
      put(o, "}");
    }
    put(o, "]}");
  }
  put(o, "\n ]}\n");
}

/* One line per leak stack, outermost frame first, for flame-graph tools:
 * "main;parse;xmalloc 4096". */
static void report_folded(out_t *o, group_t *g, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const uintptr_t *frames;
    size_t depth = track_stack_get(g[i].stack_id, &frames);
    if (depth == 0) put(o, "[no stack]");
    for (size_t k = depth; k-- > 0;) {
      char name[256], module[256];
      uintptr_t off;
      if (os_symbolize((void *)(frames[k] - 1), name, sizeof name, module, sizeof module, &off) &&
          name[0])
        put(o, name);
      else
        put_hex(o, frames[k]);
      if (k) put(o, ";");
    }
    put(o, " ");
    put_u(o, (uint64_t)g[i].bytes);
    put(o, "\n");
  }
}

void track_report(int fd, track_format_t format, size_t max_groups) {
  out_t o = {fd, {0}, 0};
  track_counters_t sum;
  track_counters_sum(&sum);
  size_t bytes = GROUPS_MAX * sizeof(group_t);
  group_t *g = os_map_aligned(bytes, os_page_size(), 0);
  collect_t c = {g, 0};
  size_t n = 0;
  if (g != NULL) {
    track_table_each(add_record, &c);
    /* pack the used slots to the front, then sort */
    for (size_t i = 0; i < GROUPS_MAX; i++)
      if (g[i].blocks != 0) g[n++] = g[i];
    sort_by_bytes(g, n);
  }
  if (format == TRACK_FORMAT_JSON) {
    report_json(&o, &sum, g, n, max_groups);
  } else if (format == TRACK_FORMAT_FOLDED) {
    report_folded(&o, g, n);
  } else {
    put(&o, "reheap track: allocations ");
    put_u(&o, (uint64_t)track_read(&sum.allocs));
    put(&o, ", frees ");
    put_u(&o, (uint64_t)track_read(&sum.frees));
    put(&o, ", reallocs ");
    put_u(&o, (uint64_t)track_read(&sum.reallocs));
    put(&o, ", bytes allocated ");
    put_u(&o, (uint64_t)track_read(&sum.bytes_allocated));
    put(&o, ", peak live bytes ");
    put_u(&o, (uint64_t)track_read(&sum.peak_bytes));
    put(&o, ", frees of blocks never seen ");
    put_u(&o, (uint64_t)track_read(&sum.unknown_frees));
    put(&o, ", double frees ");
    put_u(&o, (uint64_t)track_read(&sum.double_frees));
    put(&o, "\nreheap track: leaked ");
    put_u(&o, (uint64_t)track_read(&sum.live_bytes));
    put(&o, " bytes in ");
    put_u(&o, (uint64_t)track_read(&sum.live_blocks));
    put(&o, " blocks from ");
    put_u(&o, n);
    put(&o, " call stacks\n");
    for (size_t i = 0; i < n && i < max_groups; i++) {
      put(&o, "leak ");
      put_u(&o, i + 1);
      put(&o, ": ");
      put_u(&o, (uint64_t)g[i].bytes);
      put(&o, " bytes in ");
      put_u(&o, (uint64_t)g[i].blocks);
      put(&o, g[i].blocks == 1 ? " block\n" : " blocks\n");
      const uintptr_t *frames;
      size_t depth = track_stack_get(g[i].stack_id, &frames);
      put_frames(&o, frames, depth);
    }
    if (n > max_groups) {
      put(&o, "(");
      put_u(&o, n - max_groups);
      put(&o, " smaller stacks not shown)\n");
    }
  }
  if (g != NULL) os_unmap(g, bytes);
  flush(&o);
}

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
  size_t depth = track_stack_get(rec->stack_id, &frames);
  put_frames(&o, frames, depth);
  flush(&o);
}
