/* Live bytes and resident memory over time, for the HTML report's chart:
 * a point every so often, taken by the tracker's own thread (the one that
 * serves `reheap dump`) while the program runs. A fixed array: once full,
 * every other point goes and the spacing doubles, so any run fits with
 * its shape kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define POINTS 2048

static track_point_t points[POINTS];
static size_t npoints;
static uint64_t start_ms, every_ms = 100, next_ms;
static os_lock_t lock = OS_LOCK_INIT;

/* VmRSS from /proc/self/statm's second field, in pages */
static uint64_t resident(void) {
  char text[128];
  long n = os_read_small_file("/proc/self/statm", text, sizeof text - 1);
  if (n <= 0) return 0;
  text[n] = '\0';
  unsigned long long size = 0, rss = 0;
  if (sscanf(text, "%llu %llu", &size, &rss) != 2) return 0;
  return (uint64_t)rss * os_page_size();
}

int track_timeline_tick(void) {
  uint64_t now = os_now_ms();
  os_lock(&lock);
  if (start_ms == 0) start_ms = next_ms = now;
  if (now >= next_ms) {
    if (npoints == POINTS) {
      for (size_t i = 0; i < POINTS / 2; i++) points[i] = points[2 * i];
      npoints = POINTS / 2;
      every_ms *= 2;
    }
    track_counters_t sum;
    track_counters_sum(&sum);
    int64_t live = track_read(&sum.live_bytes);
    points[npoints++] = (track_point_t){now - start_ms, live > 0 ? (uint64_t)live : 0, resident()};
    next_ms = now + every_ms;
  }
  int wait = (int)(next_ms > now ? next_ms - now : 1);
  os_unlock(&lock);
  return wait;
}

size_t track_timeline_copy(track_point_t *out, size_t cap) {
  os_lock(&lock);
  size_t n = npoints < cap ? npoints : cap;
  memcpy(out, points, n * sizeof *out);
  os_unlock(&lock);
  return n;
}
