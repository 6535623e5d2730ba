/* reheap stat [--watch] PID: the live counters of a program running under
 * `reheap run --track`, read from the owner-only file its tracker shares
 * (see src/track/counters.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "front/status_page.h"
#include "os/os.h"
#include "track/track_region.h"

static const char stat_help[] =
    "usage: reheap stat [--watch] PID\n"
    "\n"
    "Prints what process PID, run by 'reheap run' and yours, is doing: whether\n"
    "reheap's heap serves it, which of its functions a profile patched, how\n"
    "many blocks; and under 'reheap run --track', its live counters: allocations, frees, reallocs,\n"
    "live blocks and bytes, peak, bytes allocated, double and invalid frees,\n"
    "and the allocations by size (powers of two).\n"
    "  --watch   print them again every second until the process ends\n";

static void print_bytes(char *buf, size_t cap, int64_t b) {
  if (b >= 1 << 20) snprintf(buf, cap, "%.1f MiB", (double)b / (1 << 20));
  else if (b >= 1 << 10) snprintf(buf, cap, "%.1f KiB", (double)b / (1 << 10));
  else snprintf(buf, cap, "%lld B", (long long)b);
}

/* Asks the process for fresh numbers; waits at most 1 s (a stopped
 * process shows the last ones, with their age). */
static void status_ask(status_page_t *p) {
  uint32_t req = __atomic_add_fetch(&p->request, 1, __ATOMIC_RELEASE);
  os_wake_on(&p->request);
  for (int waited = 0; waited < 1000; waited += 50) {
    uint32_t done = __atomic_load_n(&p->done, __ATOMIC_ACQUIRE);
    if ((int32_t)(done - req) >= 0) return;
    os_wait_on(&p->done, done, 50);
  }
}

/* The status page's answers, first: active, patched (which), blocks. */
static void show_status(long pid, status_page_t *p, bool counts) {
  if (counts) status_ask(p);
  uint32_t n = atomic_load_explicit(&p->patched, memory_order_acquire);
  printf("reheap stat %ld: active on %.*s, ", pid, (int)sizeof p->heap, p->heap);
  if (n == 0 && p->refused[0] != '\0') printf("refused: %.*s", (int)sizeof p->refused - 1, p->refused);
  else if (n == 0) printf("not patched");
  else printf("patched %u function%s (", n, n == 1 ? "" : "s");
  for (uint32_t i = 0; i < n && i < STATUS_NAMES_MAX; i++)
    printf("%s%.*s", i ? ", " : "", STATUS_NAME_LEN, p->names[i]);
  if (n > STATUS_NAMES_MAX) printf(", ...");
  if (n > 0) printf(")");
  uint64_t at = atomic_load_explicit(&p->updated_ms, memory_order_acquire);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  /* under --track the tracker's counters follow, exact and live */
  if (!counts) {
    printf("\n");
    return;
  }
  printf(", allocations %llu, frees %llu (as of %.1f s ago)\n",
         (unsigned long long)atomic_load_explicit(&p->allocations, memory_order_relaxed),
         (unsigned long long)atomic_load_explicit(&p->frees, memory_order_relaxed),
         now > at ? (double)(now - at) / 1000 : 0.0);
}

static status_page_t *status_open(long pid) {
  char path[256];
  status_page_path(pid, path, sizeof path);
  size_t size = 0;
  int fd = os_open_private_rw(path, &size);
  if (fd < 0) return NULL;
  status_page_t *p =
      size >= sizeof *p ? mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  os_close(fd);
  if (p == MAP_FAILED) return NULL;
  if (memcmp(p->magic, STATUS_MAGIC, sizeof p->magic) != 0 || (long)p->pid != pid) {
    munmap(p, sizeof *p);
    return NULL;
  }
  return p;
}

/* Where the heap keeps the counts, asks the tracker to copy them into the
 * region now; waits at most 1 s. The wake is sent again while waiting, as
 * the dump thread may have checked just before the request and slept. */
static void counts_ask(track_region_t *r) {
  if (__atomic_load_n(&r->counts_on_request, __ATOMIC_ACQUIRE) != 1) return;
  uint32_t req = __atomic_add_fetch(&r->counts_request, 1, __ATOMIC_RELEASE);
  for (int waited = 0; waited < 1000; waited += 50) {
    os_wake_on(&r->dump_request);
    uint32_t done = __atomic_load_n(&r->counts_done, __ATOMIC_ACQUIRE);
    if ((int32_t)(done - req) >= 0) return;
    os_wait_on(&r->counts_done, done, 50);
  }
}

static int show(long pid, status_page_t *page, track_region_t *r) {
  if (page != NULL) show_status(pid, page, r == NULL);
  if (r == NULL) return fflush(stdout) == 0 ? 0 : 1;
  counts_ask(r);
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
  status_page_t *page = kill((pid_t)pid, 0) == 0 ? status_open(pid) : NULL;
  char counters[256];
  track_counters_path(pid, counters, sizeof counters);
  track_region_t *r = NULL;
  /* a run without --track has the status page alone */
  if (page == NULL || access(counters, F_OK) == 0) {
    r = rh_region_open(pid, true, &size, "stat"); /* (writable: it may ask for fresh counts) */
    if (r == NULL) return 1;
  }
  int rc = show(pid, page, r);
  while (watch && rc == 0 && kill((pid_t)pid, 0) == 0) {
    sleep(1);
    if (kill((pid_t)pid, 0) != 0) break;
    rc = show(pid, page, r);
  }
  if (r != NULL) munmap(r, size);
  if (page != NULL) munmap(page, sizeof *page);
  return rc;
}
