/* The text report's lines by library: the leaked bytes and blocks of
 * each module that called the allocation (the module of each leak
 * stack's first frame), biggest first. Written where the tracker tracks
 * chosen modules (`run --only`, `attach`), whose users ask which library
 * leaks. */
#include <limits.h>
#include <string.h>

#include "track/report_groups.h"
#include "track/report_out.h"
#include "track/symbols.h"
#include "track/track_internal.h"

bool track_report_by_module;
bool track_report_attached;

#define MODULES_MAX 64

typedef struct {
  char path[PATH_MAX];
  int64_t bytes, blocks;
} module_sum_t;

/* The sums by module, biggest first; returns how many modules, the rest
 * (past the room, or stacks with no frame) in sums[MODULES_MAX]. */
static module_sum_t sums[MODULES_MAX + 1];

static size_t sum_modules(const track_group_t *g, size_t n) {
  size_t used = 0;
  memset(&sums[MODULES_MAX], 0, sizeof sums[MODULES_MAX]);
  for (size_t i = 0; i < n; i++) {
    const uintptr_t *frames;
    char path[PATH_MAX] = "";
    uintptr_t lo, hi;
    char id[2];
    size_t depth = track_stack_get(g[i].stack_id, &frames);
    if (depth == 0 || !track_module_of(frames[0], &lo, &hi, path, sizeof path, id, sizeof id)) path[0] = '\0';
    module_sum_t *m = &sums[MODULES_MAX];
    for (size_t k = 0; k < used && path[0] != '\0'; k++)
      if (strcmp(sums[k].path, path) == 0) m = &sums[k];
    if (m == &sums[MODULES_MAX] && path[0] != '\0' && used < MODULES_MAX) {
      m = &sums[used++];
      memcpy(m->path, path, sizeof m->path);
      m->bytes = m->blocks = 0;
    }
    m->bytes += g[i].bytes;
    m->blocks += g[i].blocks;
  }
  /* (a handful of modules: insertion sort, biggest first) */
  for (size_t i = 1; i < used; i++)
    for (size_t k = i; k > 0 && sums[k].bytes > sums[k - 1].bytes; k--) {
      module_sum_t t = sums[k];
      sums[k] = sums[k - 1];
      sums[k - 1] = t;
    }
  return used;
}

void track_report_modules(int fd, const track_group_t *g, size_t n) {
  size_t used = sum_modules(g, n);
  if (used == 0 && sums[MODULES_MAX].blocks == 0) return;
  track_out_t o = {.fd = fd};
  track_out_put(&o, "reheap track: leaked by library:\n");
  for (size_t i = 0; i <= used; i++) {
    const module_sum_t *m = i < used ? &sums[i] : &sums[MODULES_MAX];
    if (m->blocks == 0) continue;
    track_out_putf(&o, "    %lld bytes in %lld %s  %s\n", (long long)m->bytes, (long long)m->blocks,
                   m->blocks == 1 ? "block" : "blocks", i < used ? m->path : "(no module known)");
  }
  track_out_flush(&o);
}

void track_report_modules_json(int fd, const track_group_t *g, size_t n) {
  size_t used = sum_modules(g, n);
  track_out_t o = {.fd = fd};
  bool first = true;
  for (size_t i = 0; i <= used; i++) {
    const module_sum_t *m = i < used ? &sums[i] : &sums[MODULES_MAX];
    if (m->blocks == 0) continue;
    track_out_put(&o, first ? "\n  {\"module\": \"" : ",\n  {\"module\": \"");
    first = false;
    /* a path as a JSON string: quotes, backslashes and control bytes escaped */
    for (const char *c = i < used ? m->path : ""; *c; c++) {
      if (*c == '"' || *c == '\\') track_out_putf(&o, "\\%c", *c);
      else if ((unsigned char)*c < 0x20) track_out_putf(&o, "\\u%04x", (unsigned)(unsigned char)*c);
      else track_out_putf(&o, "%c", *c);
    }
    track_out_putf(&o, "\", \"bytes\": %lld, \"blocks\": %lld}", (long long)m->bytes, (long long)m->blocks);
  }
  track_out_flush(&o);
}
