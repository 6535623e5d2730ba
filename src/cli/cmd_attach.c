/* reheap attach PID: loads the tracker into a running process and
 * switches tracking on through GOT hooks; reheap detach PID gives every
 * GOT slot back. Both stop one thread of the process for a moment with
 * ptrace (os_remote.h) and make it call, on a stack mapped for the
 * purpose: the C library's dlopen (attach, the first time), then the
 * tracker's rh_track_got_attach or rh_track_got_detach. The process runs
 * on meanwhile in its other threads, and at full speed after. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/attach.h"
#include "cli/cli.h"

static const char attach_usage[] =
    "usage: reheap attach [--track[=stacks|dwarf|nostacks]] [--depth N] [--only REGEX ...] [--except REGEX ...] "
    "[--report FILE] PID";
static const char attach_help[] =
    "usage: reheap attach [--track[=stacks|dwarf|nostacks]] [--depth N]\n"
    "                     [--only REGEX ...] [--except REGEX ...] [--report FILE] PID\n"
    "       reheap detach PID\n"
    "\n"
    "attach loads reheap's tracker into the running process PID (one of your own)\n"
    "and tracks the allocations its modules make from now on, through their GOT\n"
    "slots: every module's, or those --only and --except choose (as for run).\n"
    "The process goes on at once; blocks it allocated before are counted as\n"
    "from before, never reported. Then:\n"
    "  reheap stat PID     its live counters\n"
    "  reheap dump PID     the leak report now (--format, --output as for dump)\n"
    "  reheap detach PID   every GOT slot given back; the tracker stays loaded, idle\n"
    "\n"
    "  --track[=stacks|dwarf|nostacks]  how call stacks are taken (as for run)\n"
    "  --depth N      frames per stack (1-64, default 16)\n"
    "  --report FILE  also write the report there when the process exits\n"
    "\n"
    "The kernel must allow it: kernel.yama.ptrace_scope 0, or 1 as root.\n";

#define SCRATCH_BYTES (1 << 20) /* the calls' stack, and their strings at its bottom */
#define TRACKER "libreheap_track_got.so"

typedef struct session {
  long pid;
  os_remote_t *r;
  rh_target_lib_t libc;
  uintptr_t munmap_fn; /* to give the calls' stack back */
  uintptr_t scratch;
} session_t;

/* One thread stopped, and a stack of its own mapped for the calls. */
static int session_open(session_t *s, long pid, const char *verb) {
  memset(s, 0, sizeof *s);
  s->pid = pid;
  uintptr_t mmap_fn;
  if ((!rh_target_lib(pid, "libc.so", &s->libc) && !rh_target_lib(pid, "libc-", &s->libc)) ||
      !rh_target_symbol(pid, &s->libc, "mmap", &mmap_fn) || !rh_target_symbol(pid, &s->libc, "munmap", &s->munmap_fn))
    return rh_cli_fail("%s: process %ld has no C library reheap can call into (a static or unusual program)",
                       verb, pid);
  os_code_range_t unsafe[64];
  size_t nunsafe = rh_target_unsafe(pid, unsafe, 64);
  int err = 0;
  char why[256];
  s->r = os_remote_stop(pid, unsafe, nunsafe, &err, why, sizeof why);
  if (s->r == NULL) return rh_cli_fail("%s: cannot stop a thread of process %ld: %s", verb, pid, why);
  uintptr_t args[6] = {0, SCRATCH_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uintptr_t)-1, 0};
  uintptr_t got = 0;
  if (!os_remote_call(s->r, mmap_fn, args, 6, 5000, &got, why, sizeof why) || got == (uintptr_t)MAP_FAILED ||
      got == 0) {
    os_remote_resume(s->r);
    fprintf(stderr, "reheap: %s: process %ld could not map memory for the call: %s\n", verb, pid,
            got == (uintptr_t)MAP_FAILED ? "mmap failed" : why);
    return 1;
  }
  s->scratch = got;
  os_remote_use_stack(s->r, got + SCRATCH_BYTES);
  return 0;
}

static void session_close(session_t *s) {
  uintptr_t ret, args[2] = {s->scratch, SCRATCH_BYTES};
  char why[256];
  os_remote_use_stack(s->r, 0); /* (the thread's own: the mapping goes) */
  (void)os_remote_call(s->r, s->munmap_fn, args, 2, 5000, &ret, why, sizeof why);
  os_remote_resume(s->r);
}

/* Calls the tracker's entry name with arg; -1 after a line on failure. */
static long call_tracker(session_t *s, const char *verb, const char *name, uintptr_t arg) {
  rh_target_lib_t lib;
  uintptr_t fn, ret = 0;
  char why[256];
  if (!rh_target_lib(s->pid, TRACKER, &lib) || !rh_target_symbol(s->pid, &lib, name, &fn)) {
    fprintf(stderr, "reheap: %s: %s is not in process %ld as expected\n", verb, TRACKER, s->pid);
    return -1;
  }
  uintptr_t args[1] = {arg};
  if (!os_remote_call(s->r, fn, args, 1, 15000, &ret, why, sizeof why)) {
    fprintf(stderr, "reheap: %s: the tracker's %s in process %ld: %s\n", verb, name, s->pid, why);
    return -1;
  }
  return (long)(int)ret;
}

/* dlopen(path) in the process: the C library's (glibc 2.34 and later),
 * libdl's, or the loader's entry for the C library's own use. */
static bool remote_dlopen(session_t *s, const char *verb, uintptr_t path) {
  rh_target_lib_t libdl;
  uintptr_t fn, ret = 0, flags = 2 /* RTLD_NOW */;
  char why[256];
  const rh_target_lib_t *in = &s->libc;
  if (!rh_target_symbol(s->pid, &s->libc, "dlopen", &fn)) {
    if (rh_target_lib(s->pid, "libdl.so", &libdl) && rh_target_symbol(s->pid, &libdl, "dlopen", &fn)) in = &libdl;
    else if (rh_target_symbol(s->pid, &s->libc, "__libc_dlopen_mode", &fn)) flags |= 0x80000000u; /* __RTLD_DLOPEN */
    else {
      fprintf(stderr, "reheap: %s: process %ld's C library has no dlopen reheap can call\n", verb, s->pid);
      return false;
    }
  }
  uintptr_t args[2] = {path, flags};
  if (!os_remote_call(s->r, fn, args, 2, 30000, &ret, why, sizeof why)) {
    fprintf(stderr, "reheap: %s: dlopen in process %ld: %s\n", verb, s->pid, why);
    return false;
  }
  if (ret != 0) return true;
  char msg[512] = "no reason given";
  uintptr_t err_fn, at = 0;
  if (rh_target_symbol(s->pid, in, "dlerror", &err_fn) && os_remote_call(s->r, err_fn, NULL, 0, 5000, &at, why, sizeof why) &&
      at != 0 && os_remote_read(s->r, at, msg, sizeof msg - 1))
    msg[sizeof msg - 1] = '\0';
  fprintf(stderr, "reheap: %s: process %ld could not load the tracker: %.400s\n", verb, s->pid, msg);
  return false;
}

/* NAME=value strings, each ended by a NUL, then a NUL. */
typedef struct block {
  char text[16384];
  size_t len;
} block_t;

static bool block_add(block_t *b, const char *name, const char *value) {
  int n = snprintf(b->text + b->len, sizeof b->text - b->len - 1, "%s=%s", name, value);
  if (n < 0 || b->len + (size_t)n + 2 > sizeof b->text) return false;
  b->len += (size_t)n + 1;
  b->text[b->len] = '\0';
  return true;
}

static int do_attach(long pid, block_t *settings, bool every) {
  int rc = rh_target_check(pid, "attach");
  if (rc != 0) return rc;
  rh_target_lib_t lib;
  if (rh_target_lib(pid, "libreheap_track.so", &lib))
    return rh_cli_fail("attach: process %ld is tracked already, by 'reheap run --track'", pid);
  char path[PATH_MAX];
  if (!rh_helper_library(TRACKER, path, sizeof path))
    return rh_cli_fail("attach: %s not found next to this reheap; build it with 'make'", TRACKER);
  bool loaded = rh_target_lib(pid, TRACKER, &lib);
  session_t s;
  if ((rc = session_open(&s, pid, "attach")) != 0) return rc;
  uintptr_t at_path = s.scratch, at_settings = s.scratch + 4096;
  long got = -1;
  if (os_remote_write(s.r, at_path, path, strlen(path) + 1) &&
      os_remote_write(s.r, at_settings, settings->text, settings->len + 1) &&
      (loaded || remote_dlopen(&s, "attach", at_path)))
    got = call_tracker(&s, "attach", "rh_track_got_attach", at_settings);
  session_close(&s);
  if (got == 1) return rh_cli_fail("attach: process %ld is tracked already; 'reheap detach %ld' first", pid, pid);
  if (got == 3) return rh_cli_fail("attach: the tracker refused a regular expression of --only or --except");
  if (got == 4) {
    fprintf(stderr, "reheap: attach: the tracker could not set its GOT hooks in process %ld; nothing changed\n", pid);
    return 1;
  }
  if (got != 0) return 1;
  printf("reheap: attached to process %ld: tracking the allocations of %s through their GOT slots; "
         "'reheap stat %ld', 'reheap dump %ld'; 'reheap detach %ld' ends it\n",
         pid, every ? "every module" : "the modules chosen", pid, pid, pid);
  return 0;
}

int rh_cmd_detach(int argc, char **argv) {
  if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
    fputs(attach_help, stdout);
    return 0;
  }
  long pid = argc == 1 ? rh_parse_pid(argv[0]) : -1;
  if (pid < 0) return rh_cli_fail("usage: reheap detach PID");
  int rc = rh_target_check(pid, "detach");
  if (rc != 0) return rc;
  rh_target_lib_t lib;
  if (!rh_target_lib(pid, TRACKER, &lib))
    return rh_cli_fail("detach: process %ld has no tracker of 'reheap attach' in it", pid);
  session_t s;
  if ((rc = session_open(&s, pid, "detach")) != 0) return rc;
  long got = call_tracker(&s, "detach", "rh_track_got_detach", 0);
  session_close(&s);
  if (got == 1) return rh_cli_fail("detach: process %ld is not attached now (detached already)", pid);
  if (got != 0) return 1;
  printf("reheap: detached from process %ld: every GOT slot holds what it held before; the tracker stays loaded, "
         "idle\n", pid);
  return 0;
}

int rh_cmd_attach(int argc, char **argv) {
  block_t settings = {.len = 0};
  settings.text[0] = settings.text[1] = '\0';
  const char *stacks = "1", *depth = "16", *report = NULL;
  rh_module_regex_t only = {NULL, 0}, except = {NULL, 0};
  long pid = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int rc = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(attach_help, stdout);
      return 0;
    } else if (strcmp(a, "--track") == 0 || strcmp(a, "--track=stacks") == 0) {
      stacks = "1";
    } else if (strcmp(a, "--track=dwarf") == 0) {
      stacks = "2";
    } else if (strcmp(a, "--track=nostacks") == 0) {
      stacks = "0";
    } else if (strcmp(a, "--depth") == 0 || strncmp(a, "--depth=", 8) == 0) {
      depth = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
      char *end;
      long d = depth ? strtol(depth, &end, 10) : 0;
      if (depth == NULL || *depth == '\0' || *end != '\0' || d < 1 || d > 64)
        return rh_cli_fail("attach: --depth needs a number of frames from 1 to 64");
    } else if (strcmp(a, "--only") == 0 || strncmp(a, "--only=", 7) == 0) {
      rc = rh_module_regex_add(&only, "attach: --only", a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL));
    } else if (strcmp(a, "--except") == 0 || strncmp(a, "--except=", 9) == 0) {
      rc = rh_module_regex_add(&except, "attach: --except", a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL));
    } else if (strcmp(a, "--report") == 0 || strncmp(a, "--report=", 9) == 0) {
      report = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
      if (report == NULL || *report == '\0') return rh_cli_fail("attach: --report needs a file name");
    } else if (a[0] == '-') {
      return rh_cli_fail("attach: unknown option '%s'; %s", a, attach_usage);
    } else if (pid < 0 && (pid = rh_parse_pid(a)) > 0) {
      continue;
    } else {
      return rh_cli_fail("attach: '%s' is not a process id; %s", a, attach_usage);
    }
    if (rc != 0) return rc;
  }
  if (pid < 0) return rh_cli_fail("attach: no process id given; %s", attach_usage);
  char report_abs[PATH_MAX];
  bool ok = block_add(&settings, "REHEAP_TRACK_STACKS", stacks) && block_add(&settings, "REHEAP_TRACK_DEPTH", depth) &&
            block_add(&settings, "REHEAP_TRACK_ONLY", only.text ? only.text : "") &&
            block_add(&settings, "REHEAP_TRACK_EXCEPT", except.text ? except.text : "");
  if (ok && report != NULL) {
    /* the process has its own directory: the path goes absolute */
    if (report[0] == '/') snprintf(report_abs, sizeof report_abs, "%s", report);
    else if (getcwd(report_abs, sizeof report_abs - strlen(report) - 2) != NULL)
      strcat(strcat(report_abs, "/"), report);
    else return rh_cli_fail("attach: --report: cannot tell the current directory");
    ok = block_add(&settings, "REHEAP_TRACK_REPORT", report_abs);
  }
  if (!ok) return rh_cli_fail("attach: the settings are too long (the regular expressions)");
  return do_attach(pid, &settings, only.count == 0 && except.count == 0);
}
