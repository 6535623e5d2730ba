/* Counters of the tracked program: each thread adds to its own block of
 * counters (no shared atomic on the hot path); readers sum every block.
 * Blocks are never freed, so a reader may walk them while threads come and
 * go; a block of an exited thread keeps counting for the totals.
 *
 * The blocks live in one region which, when the process's live view is on
 * (track_counters_share), is a file mapping of the owner's only:
 * `reheap stat PID` maps the same file and sums the same blocks, so it sees
 * the counters as they are, with no thread in the program publishing them. */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "os/os.h"
#include "track/track_internal.h"

track_region_t *track_region;
#define region track_region
static size_t region_bytes;
static char region_path[256];
static os_lock_t lock = OS_LOCK_INIT;
__thread track_counters_t *track_my_counters;
static track_counters_t overflow; /* threads past TRACK_MAX_BLOCKS share it (rare) */

/* The library that loads the tracker says whether and where this process
 * shares its counters (none said: the tracker linked alone, as in its
 * tests, keeps them private). */
static bool (*shared_path)(char *path, size_t cap);

void track_counters_set_share(bool (*path)(char *path, size_t cap)) { shared_path = path; }

/* Made at the first count, in its final place, a file mapping when shared:
 * threads keep a pointer to their block, so the region never moves (but
 * in a forked child, where only the forking thread lives on). */
static bool region_ensure(void) {
  if (region != NULL) return true;
  region_bytes = (sizeof(track_region_t) + os_page_size() - 1) & ~(os_page_size() - 1);
  track_region_t *r = NULL;
  char path[sizeof region_path];
  if (shared_path != NULL && shared_path(path, sizeof path)) {
    int fd = os_create_private_file(path);
    if (fd >= 0) {
      r = os_map_file_shared(fd, region_bytes, true);
      os_close(fd);
      if (r != NULL) memcpy(region_path, path, sizeof path);
      else os_remove(path);
    }
  }
  if (r == NULL) r = os_map_aligned(region_bytes, os_page_size(), 0);
  if (r == NULL) return false;
  memcpy(r->magic, TRACK_REGION_MAGIC, sizeof r->magic);
  r->pid = (uint32_t)getpid();
  region = r;
  return true;
}

track_counters_t *track_counters_attach(void) {
  track_counters_t *c = &overflow;
  os_lock(&lock);
  if (region_ensure()) {
    uint64_t n = atomic_load(&region->nblocks);
    if (n < TRACK_MAX_BLOCKS) {
      atomic_store(&region->nblocks, n + 1);
      c = &region->blocks[n];
    }
  }
  os_unlock(&lock);
  track_my_counters = c;
  return c;
}

void track_counters_publish(track_counters_t *c) {
  if (region == NULL) return;
  int64_t live = track_read(&c->live_bytes);
  int64_t delta = live - track_read(&c->published);
  int64_t now = atomic_fetch_add_explicit(&region->live, delta, memory_order_relaxed) + delta;
  atomic_store_explicit(&c->published, live, memory_order_relaxed);
  track_counters_peak(now);
}

void track_counters_peak(int64_t bytes) {
  if (region == NULL) return;
  int64_t old = atomic_load_explicit(&region->peak, memory_order_relaxed);
  while (bytes > old && !atomic_compare_exchange_weak(&region->peak, &old, bytes)) {
  }
}

void track_region_sum(track_region_t *r, track_counters_t *out) {
  memset(out, 0, sizeof *out);
  uint64_t n = atomic_load(&r->nblocks);
  if (n > TRACK_MAX_BLOCKS) n = TRACK_MAX_BLOCKS;
  for (uint64_t i = 0; i < n; i++) {
    track_counters_t *c = &r->blocks[i];
    track_add(&out->allocs, track_read(&c->allocs));
    track_add(&out->frees, track_read(&c->frees));
    track_add(&out->reallocs, track_read(&c->reallocs));
    track_add(&out->unknown_frees, track_read(&c->unknown_frees));
    track_add(&out->double_frees, track_read(&c->double_frees));
    track_add(&out->invalid_frees, track_read(&c->invalid_frees));
    track_add(&out->bytes_allocated, track_read(&c->bytes_allocated));
    track_add(&out->live_bytes, track_read(&c->live_bytes));
    track_add(&out->live_blocks, track_read(&c->allocs) - track_read(&c->frees));
    for (int k = 0; k < 64; k++) track_add(&out->size_hist[k], track_read(&c->size_hist[k]));
  }
  int64_t peak = atomic_load(&r->peak), live = track_read(&out->live_bytes);
  atomic_store(&out->peak_bytes, peak > live ? peak : live);
}

void track_counters_reset(void) {
  if (region == NULL) return;
  uint64_t n = atomic_load(&region->nblocks);
  for (uint64_t i = 0; i < n && i < TRACK_MAX_BLOCKS; i++) {
    track_counters_t *c = &region->blocks[i];
    track_count_t *first = &c->allocs, *end = (track_count_t *)(c + 1);
    for (track_count_t *k = first; k < end; k++) atomic_store_explicit(k, 0, memory_order_relaxed);
  }
  atomic_store(&region->live, 0);
  atomic_store(&region->peak, 0);
}

void track_counters_sum(track_counters_t *out) {
  if (region == NULL) {
    memset(out, 0, sizeof *out);
    return;
  }
  track_region_sum(region, out);
  /* the rare threads past the limit */
  track_add(&out->allocs, track_read(&overflow.allocs));
  track_add(&out->frees, track_read(&overflow.frees));
  track_add(&out->live_bytes, track_read(&overflow.live_bytes));
  track_add(&out->live_blocks, track_read(&overflow.allocs) - track_read(&overflow.frees));
}

bool track_counters_share(void) {
  os_lock(&lock);
  bool shared = region_ensure() && region_path[0] != '\0';
  os_unlock(&lock);
  return shared;
}

/* In a forked child the region, if shared, is the parent's file: the child
 * takes a private copy and stops being visible (it has another pid). */
void track_counters_fork_lock(int phase) {
  if (phase == 0) os_lock(&lock);
  else if (phase == 1) os_unlock(&lock);
}

void track_counters_after_fork(void) {
  os_lock_reset(&lock);
  if (region == NULL || region_path[0] == '\0') return;
  track_region_t *copy = os_map_aligned(region_bytes, os_page_size(), 0);
  if (copy == NULL) return;
  memcpy(copy, region, region_bytes);
  copy->pid = (uint32_t)getpid();
  /* the forking thread, the child's only one, moves to its block's copy */
  track_counters_t *mine = track_my_counters;
  if (mine >= region->blocks && mine < region->blocks + TRACK_MAX_BLOCKS)
    track_my_counters = copy->blocks + (mine - region->blocks);
  region = copy; /* the parent's mapping stays mapped here, unused */
  region_path[0] = '\0';
}

void track_counters_unshare(void) {
  if (region_path[0] != '\0' && region->pid == (uint32_t)getpid()) os_remove(region_path);
}

void track_counters_path(long pid, char *buf, size_t cap) {
  const char *dir = os_is_dir("/dev/shm") ? "/dev/shm" : "/tmp";
  char digits[24];
  int nd = 0;
  do digits[nd++] = (char)('0' + pid % 10); while ((pid /= 10) > 0 && nd < 20);
  size_t len = 0;
  const char *parts[3] = {dir, "/reheap.", NULL};
  for (int i = 0; parts[i] != NULL; i++)
    for (const char *c = parts[i]; *c && len + 1 < cap; c++) buf[len++] = *c;
  while (nd > 0 && len + 1 < cap) buf[len++] = digits[--nd];
  for (const char *c = ".counters"; *c && len + 1 < cap; c++) buf[len++] = *c;
  buf[len] = '\0';
}
