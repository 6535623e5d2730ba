/* The --stats summary: the heap's own counters from the child's stats line
 * and the kernel's peak resident memory from wait4. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cli.h"

/* Value of key= in a `reheap-stats v1 ...` line; false when absent. */
static bool field(const char *line, const char *key, unsigned long long *out) {
  size_t klen = strlen(key);
  for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen) {
    if ((p == line || p[-1] == ' ') && p[klen] == '=') {
      char *end;
      *out = strtoull(p + klen + 1, &end, 10);
      return end != p + klen + 1;
    }
  }
  return false;
}

static void bytes(char *buf, size_t cap, unsigned long long b) {
  if (b >= 1ull << 30) snprintf(buf, cap, "%.2f GiB", (double)b / (1ull << 30));
  else if (b >= 1ull << 20) snprintf(buf, cap, "%.1f MiB", (double)b / (1ull << 20));
  else if (b >= 1ull << 10) snprintf(buf, cap, "%.1f KiB", (double)b / (1ull << 10));
  else snprintf(buf, cap, "%llu B", b);
}

static void count(char *buf, size_t cap, const char *line, const char *key) {
  unsigned long long v;
  if (line != NULL && field(line, key, &v)) snprintf(buf, cap, "%llu", v);
  else snprintf(buf, cap, "n/a");
}

void rh_summary_print(const char *program, const char *heap, const char *line, int status,
                      const struct rusage *ru, double seconds) {
  char ended[64];
  if (WIFEXITED(status)) snprintf(ended, sizeof ended, "exit status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(ended, sizeof ended, "killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else snprintf(ended, sizeof ended, "status %d", status);

  char allocs[48], frees[48], maps[48], peak_live[48], rss[48];
  count(allocs, sizeof allocs, line, "allocations");
  count(frees, sizeof frees, line, "frees");
  count(maps, sizeof maps, line, "os_map_calls");
  if (strcmp(heap, "reheap") != 0 && line != NULL)
    snprintf(maps, sizeof maps, "n/a (counted for reheap's heap only)");
  unsigned long long v;
  if (line != NULL && field(line, "peak_live_bytes", &v)) bytes(peak_live, sizeof peak_live, v);
  else snprintf(peak_live, sizeof peak_live, "n/a");
  bytes(rss, sizeof rss, (unsigned long long)ru->ru_maxrss * 1024ull);

  fprintf(stderr,
          "reheap: %s on %s heap: %s after %.2f s\n"
          "reheap:   allocations     %s\n"
          "reheap:   frees           %s\n"
          "reheap:   peak live       %s\n"
          "reheap:   peak resident   %s\n"
          "reheap:   OS map calls    %s\n",
          program, heap, ended, seconds, allocs, frees, peak_live, rss, maps);
  /* reheap's heap: what it held from the OS, gave back, and held at the end */
  unsigned long long held, peak_held, purged, purges, live;
  if (line != NULL && field(line, "peak_committed_bytes", &peak_held) && field(line, "committed_bytes", &held) &&
      field(line, "purged_bytes", &purged) && field(line, "os_purge_calls", &purges) &&
      field(line, "live_bytes", &live)) {
    char a[48], b[48], c[48], d[48];
    bytes(a, sizeof a, peak_held);
    bytes(b, sizeof b, purged);
    bytes(c, sizeof c, held);
    bytes(d, sizeof d, held > live ? held - live : 0);
    fprintf(stderr,
            "reheap:   peak held       %s (memory the heap had from the OS)\n"
            "reheap:   given back      %s in %llu purges\n"
            "reheap:   held at exit    %s, of which cached (free, kept for reuse) %s\n",
            a, b, purges, c, d);
  }
  const char *refused = line != NULL ? strstr(line, " takeover_refused=") : NULL;
  if (refused != NULL) {
    refused += strlen(" takeover_refused=");
    fprintf(stderr, "reheap:   takeover        refused: %.*s\n", (int)strcspn(refused, "\n"), refused);
  }
  if (line == NULL)
    fprintf(stderr, "reheap:   (the heap's counters are missing: the program ended without "
                    "running its exit handlers, or it is statically linked)\n");
}
