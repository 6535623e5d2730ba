/* Counters of the tracked program: each thread adds to its own block of
 * counters (no shared atomic on the hot path); readers sum every block.
 * Blocks are never freed, so a reader may walk them while threads come and
 * go; a block of an exited thread keeps counting for the totals. */
#include <stdatomic.h>
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define MAX_BLOCKS 4096

static track_counters_t *blocks;
static _Atomic size_t nblocks;
static os_lock_t lock = OS_LOCK_INIT;
static __thread track_counters_t *mine;
static _Atomic int64_t live_shared; /* for the peak: published in steps */
static _Atomic int64_t peak_shared;
static track_counters_t overflow; /* threads past MAX_BLOCKS share it (rare) */

track_counters_t *track_counters_mine(void) {
  if (mine != NULL) return mine;
  os_lock(&lock);
  if (blocks == NULL) blocks = os_map_aligned(MAX_BLOCKS * sizeof *blocks, os_page_size(), 0);
  size_t n = atomic_load(&nblocks);
  if (blocks != NULL && n < MAX_BLOCKS) {
    mine = &blocks[n];
    atomic_store(&nblocks, n + 1);
  } else {
    mine = &overflow;
  }
  os_unlock(&lock);
  return mine;
}

void track_counters_publish(track_counters_t *c) {
  int64_t delta = track_read(&c->unpublished);
  int64_t now = atomic_fetch_add_explicit(&live_shared, delta, memory_order_relaxed) + delta;
  atomic_store_explicit(&c->unpublished, 0, memory_order_relaxed);
  int64_t old = atomic_load_explicit(&peak_shared, memory_order_relaxed);
  while (now > old && !atomic_compare_exchange_weak(&peak_shared, &old, now)) {
  }
}

void track_counters_sum(track_counters_t *out) {
  memset(out, 0, sizeof *out);
  size_t n = atomic_load(&nblocks);
  for (size_t i = 0; i <= n; i++) {
    track_counters_t *c = i < n ? &blocks[i] : &overflow;
    track_add(&out->allocs, track_read(&c->allocs));
    track_add(&out->frees, track_read(&c->frees));
    track_add(&out->reallocs, track_read(&c->reallocs));
    track_add(&out->unknown_frees, track_read(&c->unknown_frees));
    track_add(&out->double_frees, track_read(&c->double_frees));
    track_add(&out->bytes_allocated, track_read(&c->bytes_allocated));
    track_add(&out->live_bytes, track_read(&c->live_bytes));
    track_add(&out->live_blocks, track_read(&c->live_blocks));
    for (int k = 0; k < 64; k++) track_add(&out->size_hist[k], track_read(&c->size_hist[k]));
  }
  int64_t peak = atomic_load(&peak_shared), live = track_read(&out->live_bytes);
  atomic_store(&out->peak_bytes, peak > live ? peak : live);
}
