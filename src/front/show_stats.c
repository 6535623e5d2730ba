/* REHEAP_SHOW_STATS=1: at exit, two lines on stderr saying what reheap's
 * heap holds (live, cached for reuse) and what it gave back to the OS,
 * for a program started without `reheap run --stats` (by LD_PRELOAD, or
 * linked with libreheap.so). Nothing here allocates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "reheap/alloc.h"

static void bytes(char *buf, size_t cap, uint64_t b) {
  if (b >= (uint64_t)1 << 30) snprintf(buf, cap, "%.2f GiB", (double)b / (double)(1ull << 30));
  else if (b >= (uint64_t)1 << 20) snprintf(buf, cap, "%.1f MiB", (double)b / (double)(1ull << 20));
  else snprintf(buf, cap, "%.1f KiB", (double)b / 1024.0);
}

__attribute__((destructor)) static void show_stats(void) {
  const char *on = getenv("REHEAP_SHOW_STATS");
  if (on == NULL || strcmp(on, "1") != 0) return;
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  if (st.allocations == 0) return; /* (a process that never used the heap: a wrapper, a shell) */
  char live[32], held[32], cached[32], peak[32], purged[32], line[512];
  bytes(live, sizeof live, st.live_bytes);
  bytes(held, sizeof held, st.committed_bytes);
  bytes(cached, sizeof cached, st.committed_bytes > st.live_bytes ? st.committed_bytes - st.live_bytes : 0);
  bytes(peak, sizeof peak, st.peak_committed_bytes);
  bytes(purged, sizeof purged, st.purged_bytes);
  int n = snprintf(line, sizeof line,
                   "reheap: heap at exit: live %s, held from the OS %s (cached for reuse %s), peak held %s\n"
                   "reheap: given back %s in %llu purges; %llu maps, %llu unmaps; %llu thread heaps, "
                   "taken over %llu times\n",
                   live, held, cached, peak, purged, (unsigned long long)st.os_purge_calls,
                   (unsigned long long)st.os_map_calls, (unsigned long long)st.os_unmap_calls,
                   (unsigned long long)st.threads, (unsigned long long)st.heaps_reused);
  if (n > 0) os_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
