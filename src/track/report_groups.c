/* The reports' groups table: a hash set of groups by stack id, each
 * block counted by its weight (1 unless sampled), then moved to the front
 * and sorted, biggest first. The table is the caller's, mapped and zeroed
 * (no malloc: see report_text.c). */
#include "track/report_groups.h"

void track_groups_add(track_groups_t *c, uint32_t stack_id, size_t size) {
  /* linear probing on the stack id: the groups table is a hash set */
  size_t slot = (stack_id * 2654435761u) & (TRACK_GROUPS_MAX - 1);
  for (size_t i = 0; i < TRACK_GROUPS_MAX; i++, slot = (slot + 1) & (TRACK_GROUPS_MAX - 1)) {
    track_group_t *g = &c->g[slot];
    if (!g->used) {
      g->used = true;
      g->stack_id = stack_id;
      c->n++;
    } else if (g->stack_id != stack_id) {
      continue;
    }
    double w = track_sample_weight(size);
    g->wbytes += (double)size * w;
    g->wblocks += w;
    g->samples++;
    g->bytes = (int64_t)(g->wbytes + 0.5);
    g->blocks = (int64_t)(g->wblocks + 0.5);
    return;
  }
}

void track_groups_add_record(const track_record_t *r, void *arg) { track_groups_add(arg, r->stack_id, r->size); }

/* The used slots of a hash set, moved to its front. */
void track_groups_compact(track_groups_t *c) {
  size_t n = 0;
  for (size_t i = 0; i < TRACK_GROUPS_MAX; i++)
    if (c->g[i].used) c->g[n++] = c->g[i];
  c->n = n;
}

void track_groups_add_stack(uint32_t id, int64_t bytes, int64_t blocks, void *arg) {
  track_groups_t *c = arg;
  if (c->n == TRACK_GROUPS_MAX) return;
  c->g[c->n++] = (track_group_t){.stack_id = id, .used = true, .bytes = bytes, .blocks = blocks};
}

/* Biggest bytes first; ties by blocks, then by stack, so that two runs of
 * one program print in one order. Shell sort: no recursion, no memory. */
static bool before(const track_group_t *a, const track_group_t *b) {
  if (a->bytes != b->bytes) return a->bytes > b->bytes;
  if (a->blocks != b->blocks) return a->blocks > b->blocks;
  return a->stack_id < b->stack_id;
}

void track_groups_sort(track_group_t *g, size_t n) {
  for (size_t gap = n / 2; gap > 0; gap /= 2)
    for (size_t i = gap; i < n; i++) {
      track_group_t t = g[i];
      size_t j = i;
      for (; j >= gap && before(&t, &g[j - gap]); j -= gap) g[j] = g[j - gap];
      g[j] = t;
    }
}
