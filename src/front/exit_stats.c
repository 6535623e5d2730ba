/* The line `reheap run --stats` reads: at exit, the process that reheap
 * started writes its heap's counters to the descriptor the command gave it.
 * Only that process writes (REHEAP_STATS_PID): its children inherit the
 * environment and the descriptor, but not the right to answer. Nothing here allocates: it runs while the process is torn down. */
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

#include "front/foreign.h"
#include "front/stats_line.h"
#include "front/takeover.h"
#include "os/os.h"
#include "reheap/alloc.h"

static int stats_fd = -1;
static pid_t stats_pid;
static bool claimed;

static void claim(void) {
  if (claimed) return;
  stats_fd = rh_stats_fd_claim();
  stats_pid = getpid();
  claimed = true;
}

__attribute__((constructor)) static void exit_stats_init(void) { claim(); }

/* Also called by a refusal under --strict, which ends the process with
 * _exit before any destructor runs, and may come before this file's
 * constructor: the summary must still say why nothing was taken over. */
void rh_exit_stats_write_now(void) {
  claim();
  if (stats_fd < 0 || getpid() != stats_pid) return;
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  rh_line_t l;
  rh_line_start(&l, "reheap");
  rh_line_u64(&l, "allocations", st.allocations);
  rh_line_u64(&l, "frees", st.frees);
  rh_line_u64(&l, "live_bytes", st.live_bytes);
  rh_line_u64(&l, "peak_live_bytes", st.peak_live_bytes);
  rh_line_u64(&l, "peak_committed_bytes", st.peak_committed_bytes);
  rh_line_u64(&l, "committed_bytes", st.committed_bytes);
  rh_line_u64(&l, "purged_bytes", st.purged_bytes);
  rh_line_u64(&l, "os_purge_calls", st.os_purge_calls);
  rh_line_u64(&l, "os_map_calls", st.os_map_calls);
  rh_line_u64(&l, "os_unmap_calls", st.os_unmap_calls);
  rh_line_u64(&l, "threads", st.threads);
  rh_line_u64(&l, "foreign_frees", rh_foreign_free_count());
  if (takeover_refusal() != NULL) rh_line_rest(&l, "takeover_refused", takeover_refusal());
  size_t n = rh_line_end(&l);
  os_write_all(stats_fd, l.buf, n);
  stats_fd = -1;
}

__attribute__((destructor)) static void exit_stats_write(void) { rh_exit_stats_write_now(); }
