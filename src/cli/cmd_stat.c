/* reheap stat [--watch] PID: the live counters of a program running under
 * `reheap run --track`, read from the owner-only file its tracker shares
 * (see src/track/counters.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "os/os.h"
#include "track/track_internal.h"

static const char stat_help[] =
    "usage: reheap stat [--watch] PID\n"
    "\n"
    "Prints the live counters of process PID, which must run under\n"
    "'reheap run --track' and belong to you: allocations, frees, reallocs,\n"
    "live blocks and bytes, peak, bytes allocated, double and invalid frees,\n"
    "and the allocations by size (powers of two).\n"
    "  --watch   print them again every second until the process ends\n";

static void print_bytes(char *buf, size_t cap, int64_t b) {
  if (b >= 1 << 20) snprintf(buf, cap, "%.1f MiB", (double)b / (1 << 20));
  else if (b >= 1 << 10) snprintf(buf, cap, "%.1f KiB", (double)b / (1 << 10));
  else snprintf(buf, cap, "%lld B", (long long)b);
}

static int show(long pid, track_region_t *r) {
  track_counters_t c;
  track_region_sum(r, &c);
  char live[32], peak[32], total[32];
  print_bytes(live, sizeof live, track_read(&c.live_bytes));
  print_bytes(peak, sizeof peak, track_read(&c.peak_bytes));
  print_bytes(total, sizeof total, track_read(&c.bytes_allocated));
  printf("reheap stat %ld: allocations %lld, frees %lld, reallocs %lld, live %lld blocks (%s), "
         "peak %s, allocated %s, double frees %lld, invalid frees %lld\n",
         pid, (long long)track_read(&c.allocs), (long long)track_read(&c.frees),
         (long long)track_read(&c.reallocs), (long long)track_read(&c.live_blocks), live, peak,
         total, (long long)track_read(&c.double_frees), (long long)track_read(&c.invalid_frees));
  /* allocations by size: bucket k holds sizes in [2^k, 2^(k+1)) */
  fputs("reheap stat sizes:", stdout);
  bool any = false;
  for (int k = 0; k < 64; k++) {
    int64_t n = track_read(&c.size_hist[k]);
    if (n == 0) continue;
    char lo[32];
    print_bytes(lo, sizeof lo, k == 0 ? 0 : (int64_t)1 << k);
    printf("%s %s+ %lld", any ? "," : "", lo, (long long)n);
    any = true;
  }
  puts(any ? "" : " none");
  return fflush(stdout) == 0 ? 0 : 1;
}

int rh_cmd_stat(int argc, char **argv) {
  bool watch = false;
  const char *pid_arg = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(stat_help, stdout);
      return 0;
    }
    if (strcmp(argv[i], "--watch") == 0) watch = true;
    else if (argv[i][0] == '-') return rh_cli_fail("stat: unknown option '%s'; usage: reheap stat [--watch] PID", argv[i]);
    else if (pid_arg != NULL) return rh_cli_fail("stat: one PID only; usage: reheap stat [--watch] PID");
    else pid_arg = argv[i];
  }
  if (pid_arg == NULL) return rh_cli_fail("stat: no PID given; usage: reheap stat [--watch] PID");
  long pid = rh_parse_pid(pid_arg);
  if (pid < 0) return rh_cli_fail("stat: '%s' is not a process id", pid_arg);
  size_t size = 0;
  track_region_t *r = rh_region_open(pid, false, &size, "stat");
  if (r == NULL) return 1;
  int rc = show(pid, r);
  while (watch && rc == 0 && kill((pid_t)pid, 0) == 0) {
    sleep(1);
    if (kill((pid_t)pid, 0) != 0) break;
    rc = show(pid, r);
  }
  munmap(r, size);
  return rc;
}
