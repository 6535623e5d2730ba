/* rh_heap_stats(): sums the per-heap counters (written by their owners with
 * plain stores) and the process-wide ones. */
#include <string.h>

#include "alloc/heap_internal.h"

static uint64_t rd(heap_counter_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

/* both kinds of a class count as one */
static void add_heap(heap_t *h, rh_heap_stats_t *out, uint64_t *allocs, uint64_t *frees) {
  for (size_t c = 0; c < CLASS_SLOTS; c++) {
    allocs[c % CLASS_COUNT] += rd(&h->allocs[c]);
    frees[c % CLASS_COUNT] += rd(&h->frees[c]);
  }
  out->allocations += rd(&h->large_allocs);
  out->frees += rd(&h->large_frees);
  out->live_bytes += rd(&h->large_alloc_bytes) - rd(&h->large_free_bytes);
}

void rh_heap_stats(rh_heap_stats_t *out, rh_class_stats_t *classes, size_t nclasses) {
  if (out == NULL) return;
  heap_t *me = heap_tl_get();
  if (me->state == HEAP_ACTIVE) heap_stats_flush(me);
  uint64_t allocs[CLASS_COUNT] = {0}, frees[CLASS_COUNT] = {0};
  memset(out, 0, sizeof *out);
  add_heap(&heap_static, out, allocs, frees);
  for (heap_t *h = heap_all_first(); h != NULL; h = h->next_all) add_heap(h, out, allocs, frees);
  for (size_t c = 0; c < CLASS_COUNT; c++) {
    out->allocations += allocs[c];
    out->frees += frees[c];
    /* Counters of other threads are read while they run: a free may be seen
     * before its allocation. */
    if (allocs[c] > frees[c]) out->live_bytes += (allocs[c] - frees[c]) * heap_class_size[c];
    if (classes != NULL && c < nclasses) {
      classes[c].block_size = heap_class_size[c];
      classes[c].allocations = allocs[c];
      classes[c].frees = frees[c];
      classes[c].live_blocks = allocs[c] > frees[c] ? allocs[c] - frees[c] : 0;
    }
  }
  heap_global_stats_t *g = &heap_gstats;
  uint64_t huge_a = atomic_load_explicit(&g->huge_allocs, memory_order_relaxed);
  uint64_t huge_f = atomic_load_explicit(&g->huge_frees, memory_order_relaxed);
  uint64_t huge_ab = atomic_load_explicit(&g->huge_alloc_bytes, memory_order_relaxed);
  uint64_t huge_fb = atomic_load_explicit(&g->huge_free_bytes, memory_order_relaxed);
  out->allocations += huge_a;
  out->frees += huge_f;
  if (huge_ab > huge_fb) out->live_bytes += huge_ab - huge_fb;
  uint64_t peak = atomic_load_explicit(&g->peak_live, memory_order_relaxed);
  out->peak_live_bytes = peak > out->live_bytes ? peak : out->live_bytes;
  out->committed_bytes = atomic_load_explicit(&g->committed, memory_order_relaxed);
  out->peak_committed_bytes = atomic_load_explicit(&g->peak_committed, memory_order_relaxed);
  out->reserved_bytes = atomic_load_explicit(&g->reserved, memory_order_relaxed);
  out->os_map_calls = atomic_load_explicit(&g->os_map_calls, memory_order_relaxed);
  out->os_unmap_calls = atomic_load_explicit(&g->os_unmap_calls, memory_order_relaxed);
  out->os_purge_calls = atomic_load_explicit(&g->os_purge_calls, memory_order_relaxed);
  out->purged_bytes = atomic_load_explicit(&g->purged, memory_order_relaxed);
  out->threads = atomic_load_explicit(&g->threads, memory_order_relaxed);
  out->heaps_reused = atomic_load_explicit(&g->heaps_reused, memory_order_relaxed);
}

/* Live blocks of the takeover's kind: its classes' counts summed as in
 * rh_heap_stats (so it lags a running thread a little), and its large
 * and huge blocks. */
size_t heap_takeover_live(void) {
  uint64_t made = atomic_load_explicit(&heap_gstats.takeover_big_allocs, memory_order_relaxed);
  uint64_t gone = atomic_load_explicit(&heap_gstats.takeover_big_frees, memory_order_relaxed);
  for (heap_t *h = &heap_static; h != NULL; h = h == &heap_static ? heap_all_first() : h->next_all)
    for (size_t c = CLASS_COUNT; c < CLASS_SLOTS; c++) {
      made += rd(&h->allocs[c]);
      gone += rd(&h->frees[c]);
    }
  return made > gone ? (size_t)(made - gone) : 0;
}
