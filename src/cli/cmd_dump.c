/* reheap dump [--format F] [--output FILE] PID: makes a program running
 * under `reheap run --track` write its report as it stands, without
 * stopping it. The request travels through the counters region the
 * tracker shares (see track_region_t); the tracker's own thread writes the
 * report while the program's threads go on. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "os/os.h"
#include "track/track_region.h"

#define ANSWER_MS 10000 /* how long a live program may take to answer */

static const char dump_help[] =
    "usage: reheap dump [--format text|json|folded|folded-allocated|pprof|svg|svg-allocated|html] [--output FILE] PID\n"
    "\n"
    "Makes process PID, which must run under 'reheap run --track' and belong\n"
    "to you, write its report as it stands now (live blocks by call stack),\n"
    "without stopping it. The report goes to standard output, or to FILE\n"
    "(created owner-only; a symbolic link at its name is refused).\n";


static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One request at a time per process: two dumps would share the path. */
static bool take_turn(track_region_t *r) {
  uint64_t until = now_ms() + ANSWER_MS;
  for (;;) {
    uint32_t idle = 0;
    if (__atomic_compare_exchange_n(&r->dump_busy, &idle, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      return true;
    if (now_ms() > until) return false;
    usleep(10000);
  }
}

/* Asks for the report at path; 0 when it was written. */
static int request(long pid, track_region_t *r, const char *path, track_format_t format) {
  if (!take_turn(r)) {
    fprintf(stderr, "reheap: dump: another 'reheap dump %ld' has held the request for %d s; "
                    "try again when it is done\n", pid, ANSWER_MS / 1000);
    return 1;
  }
  memset(r->dump_path, 0, sizeof r->dump_path);
  memcpy(r->dump_path, path, strlen(path));
  r->dump_format = (uint32_t)format;
  uint32_t req = __atomic_add_fetch(&r->dump_request, 1, __ATOMIC_RELEASE);
  os_wake_on(&r->dump_request);
  uint64_t until = now_ms() + ANSWER_MS;
  int rc = 0;
  for (;;) {
    uint32_t done = __atomic_load_n(&r->dump_done, __ATOMIC_ACQUIRE);
    if (done == req) break;
    if (kill((pid_t)pid, 0) != 0) {
      fprintf(stderr, "reheap: dump: process %ld ended before it wrote the report\n", pid);
      rc = 1;
      break;
    }
    uint64_t t = now_ms();
    if (t >= until) {
      fprintf(stderr, "reheap: dump: process %ld did not answer within %d s (is it stopped, or "
                      "busy in a long report?)\n", pid, ANSWER_MS / 1000);
      rc = 1;
      break;
    }
    os_wait_on(&r->dump_done, done, (int)(until - t < 200 ? until - t : 200));
  }
  if (rc == 0 && __atomic_load_n(&r->dump_status, __ATOMIC_RELAXED) != 0) {
    fprintf(stderr, "reheap: dump: process %ld could not create %s (a symbolic link there, or "
                    "a directory it cannot write)\n", pid, path);
    rc = 1;
  }
  __atomic_store_n(&r->dump_busy, 0, __ATOMIC_RELEASE);
  return rc;
}

static int copy_out(const char *path) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 1;
  char buf[65536];
  ssize_t n;
  int rc = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) rc = 1;
  close(fd);
  return n < 0 || fflush(stdout) != 0 ? 1 : rc;
}

int rh_cmd_dump(int argc, char **argv) {
  track_format_t format = TRACK_FORMAT_TEXT;
  const char *output = NULL, *pid_arg = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(dump_help, stdout);
      return 0;
    }
    const char *v = NULL;
    if (strncmp(a, "--format=", 9) == 0) v = a + 9;
    else if (strcmp(a, "--format") == 0 && i + 1 < argc) v = argv[++i];
    if (v != NULL || strcmp(a, "--format") == 0) {
      if (v == NULL || !track_format_from_name(v, &format))
        return rh_cli_fail("dump: --format takes text, json, folded, folded-allocated, pprof, svg, svg-allocated or html");
      continue;
    }
    if (strncmp(a, "--output=", 9) == 0) output = a + 9;
    else if (strcmp(a, "--output") == 0 && i + 1 < argc) output = argv[++i];
    else if (strcmp(a, "--output") == 0) return rh_cli_fail("dump: --output needs a FILE");
    else if (a[0] == '-') return rh_cli_fail("dump: unknown option '%s'; try 'reheap dump --help'", a);
    else if (pid_arg != NULL) return rh_cli_fail("dump: one PID only; try 'reheap dump --help'");
    else pid_arg = a;
  }
  if (pid_arg == NULL) return rh_cli_fail("dump: no PID given; try 'reheap dump --help'");
  long pid = rh_parse_pid(pid_arg);
  if (pid < 0) return rh_cli_fail("dump: '%s' is not a process id", pid_arg);

  /* the program has its own working directory: give it an absolute path */
  char path[PATH_MAX], tmpdir[] = "/tmp/reheap-dump.XXXXXX";
  bool temp = output == NULL;
  if (temp) {
    if (mkdtemp(tmpdir) == NULL) {
      fprintf(stderr, "reheap: dump: cannot make a private directory in /tmp: %s\n", strerror(errno));
      return 1;
    }
    snprintf(path, sizeof path, "%s/report", tmpdir);
  } else if (output[0] == '/') {
    snprintf(path, sizeof path, "%s", output);
  } else {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL) {
      fprintf(stderr, "reheap: dump: cannot tell the current directory; give --output an absolute path\n");
      return 1;
    }
    if (snprintf(path, sizeof path, "%s/%s", cwd, output) >= (int)sizeof path)
      return rh_cli_fail("dump: the output path is too long");
  }
  size_t size = 0;
  track_region_t *r = rh_region_open(pid, true, &size, "dump");
  int rc = 1;
  if (r != NULL) {
    if (strlen(path) >= sizeof r->dump_path) rc = rh_cli_fail("dump: the output path is too long");
    else rc = request(pid, r, path, format);
    munmap(r, size);
  }
  if (temp) {
    if (rc == 0) rc = copy_out(path);
    unlink(path);
    rmdir(tmpdir);
  }
  return rc;
}
