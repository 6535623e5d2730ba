/* reheap run: start a program on the chosen heap and pass its exit status
 * through (128+N for a signal N, as shells do).
 *
 * The heap goes in with LD_PRELOAD, ahead of whatever the user preloads
 * already. With --stats, the child gets a pipe (REHEAP_STATS_FD) and its
 * own pid (REHEAP_STATS_PID): the preloaded library of that one process
 * writes its counters there at exit, and the summary adds what wait4 says. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "track/track_region.h"
#include "front/hook_spec.h"
#include "track/suppress.h"

/* --hook specs, gathered one a line for REHEAP_HOOKS. */
typedef struct hooks {
  char *text;
  size_t len;
} hooks_t;

static bool hooks_add(hooks_t *h, const char *spec) {
  size_t n = strlen(spec);
  char *t = realloc(h->text, h->len + n + 2);
  if (t == NULL) return false;
  memcpy(t + h->len, spec, n);
  h->len += n;
  t[h->len++] = '\n';
  t[h->len] = '\0';
  h->text = t;
  return true;
}

/* Checks the profile or the --hook specs with the parser the program will
 * use, so that a mistake stops the run here, placed by file, line and
 * column; then hands them over (the profile by absolute path: the program
 * may change directory). 0, or the exit status. */
static int hooks_check(const hooks_t *h, const char *profile, const char *heap, bool tracked) {
  if (profile == NULL && h->len == 0) {
    unsetenv("REHEAP_PROFILE");
    unsetenv("REHEAP_HOOKS");
    unsetenv("REHEAP_HOOK_IN");
    return 0;
  }
  if (profile != NULL && h->len > 0) return rh_cli_fail("run: --profile and --hook do not go together");
  /* under --track the tracker holds the takeover (its blocks tracked, and
   * taken back at its own free), so another heap needs --track */
  bool on_reheap = strcmp(heap, "reheap") == 0;
  if (!on_reheap && !tracked)
    return rh_cli_fail("run: --profile and --hook serve from reheap's heap, or from --heap=%s through "
                       "the tracker: add --track, or leave out --heap", heap);
  setenv("REHEAP_HOOK_IN", tracked ? "track" : "reheap", 1);
  static spec_profile_t parsed;
  spec_error_t err;
  const char *name = profile != NULL ? profile : "--hook";
  char *text = h->text;
  size_t len = h->len;
  if (profile != NULL) {
    FILE *f = fopen(profile, "r");
    if (f == NULL) {
      fprintf(stderr, "reheap: run: cannot read the profile %s: %s\n", profile, strerror(errno));
      return RH_EXIT_USAGE;
    }
    static char buf[64 << 10];
    len = fread(buf, 1, sizeof buf, f);
    bool whole = feof(f);
    fclose(f);
    if (!whole) return rh_cli_fail("run: the profile %s is larger than 64 KiB", profile);
    text = buf;
  }
  if (!spec_parse_profile(text, len, SPEC_ARCH_NATIVE, &parsed, &err)) {
    if (err.col != 0) fprintf(stderr, "reheap: %s:%u:%u: %s\n", name, err.line, err.col, err.message);
    else fprintf(stderr, "reheap: %s:%u: %s\n", name, err.line, err.message);
    return RH_EXIT_USAGE;
  }
  if (parsed.n == 0) return rh_cli_fail("run: %s has no specs", name);
  if (profile != NULL) {
    char abs[PATH_MAX];
    if (realpath(profile, abs) == NULL)
      return rh_cli_fail("run: cannot resolve %s: %s", profile, strerror(errno));
    setenv("REHEAP_PROFILE", abs, 1);
    unsetenv("REHEAP_HOOKS");
  } else {
    setenv("REHEAP_HOOKS", h->text, 1);
    unsetenv("REHEAP_PROFILE");
  }
  return 0;
}

/* Finds PROGRAM as execvp would, so that a missing one is reported here,
 * in one line, rather than by a child that has already forked. */
static int find_program(const char *prog, char *out, size_t cap) {
  if (strchr(prog, '/') != NULL) {
    struct stat st;
    if (stat(prog, &st) != 0) return ENOENT;
    if (S_ISDIR(st.st_mode) || access(prog, X_OK) != 0) return EACCES;
    snprintf(out, cap, "%s", prog);
    return 0;
  }
  const char *path = getenv("PATH");
  if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
  int err = ENOENT;
  while (*path) {
    const char *end = strchr(path, ':');
    size_t len = end ? (size_t)(end - path) : strlen(path);
    if (snprintf(out, cap, "%.*s%s%s", (int)len, path, len ? "/" : "", prog) < (int)cap) {
      struct stat st;
      if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
        if (access(out, X_OK) == 0) return 0;
        err = EACCES;
      }
    }
    if (end == NULL) break;
    path = end + 1;
  }
  return err;
}

static int preload(const char *lib) {
  const char *old = getenv("LD_PRELOAD");
  if (old == NULL || *old == '\0') return setenv("LD_PRELOAD", lib, 1);
  size_t n = strlen(lib) + strlen(old) + 2;
  char *both = malloc(n);
  if (both == NULL) return -1;
  snprintf(both, n, "%s:%s", lib, old);
  int rc = setenv("LD_PRELOAD", both, 1);
  free(both);
  return rc;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads what the child left in the pipe, without waiting for a writer
 * that may never close it (a daemon the program started). */
static void read_stats(int fd, char *buf, size_t cap) {
  size_t len = 0;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (len + 1 < cap) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n > 0) len += (size_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  buf[len] = '\0';
}

int rh_cmd_run(int argc, char **argv) {
  const char *heap_name = "reheap";
  bool stats = false;
  const char *track = NULL; /* "1" stacks by frame pointers, "2" by DWARF, "0" none */
  char sample[24] = "";     /* --track=sample: the mean bytes between samples */
  const char *depth = NULL, *report = NULL, *format = NULL, *suppress = NULL, *profile = NULL;
  hooks_t hooks = {NULL, 0};
  rh_module_regex_t only = {NULL, 0}, except = {NULL, 0};
  int i = 0;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-' || a[1] == '\0') break;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(rh_run_help, stdout);
      return 0;
    }
    if (strcmp(a, "--stats") == 0) {
      stats = true;
    } else if (strcmp(a, "--strict") == 0) {
      setenv("REHEAP_STRICT", "1", 1);
    } else if (strcmp(a, "--track") == 0 || strcmp(a, "--track=stacks") == 0) {
      track = "1";
    } else if (strcmp(a, "--track=dwarf") == 0) {
      track = "2";
    } else if (strcmp(a, "--track=nostacks") == 0) {
      track = "0";
    } else if (strcmp(a, "--track=sample") == 0 || strncmp(a, "--track=sample=", 15) == 0) {
      uint64_t bytes = 512 << 10;
      if (a[14] == '=' && !rh_parse_bytes(a + 15, &bytes))
        return rh_cli_fail("run: --track=sample=BYTES wants a number of bytes from 1 to 1G (K, M and G "
                           "count 1024s), not '%s'", a + 15);
      snprintf(sample, sizeof sample, "%llu", (unsigned long long)bytes);
      track = "1";
    } else if (strncmp(a, "--track=", 8) == 0) {
      return rh_cli_fail("run: --track takes stacks, dwarf, nostacks or sample[=BYTES], not '%s'", a + 8);
    } else if (strcmp(a, "--depth") == 0 || strncmp(a, "--depth=", 8) == 0) {
      depth = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
      char *end;
      long d = depth ? strtol(depth, &end, 10) : 0;
      if (depth == NULL || *depth == '\0' || *end != '\0' || d < 1 || d > 64)
        return rh_cli_fail("run: --depth needs a number of frames from 1 to 64");
    } else if (strcmp(a, "--only") == 0 || strncmp(a, "--only=", 7) == 0) {
      int rc = rh_module_regex_add(&only, "run: --only", a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL));
      if (rc != 0) return rc;
    } else if (strcmp(a, "--except") == 0 || strncmp(a, "--except=", 9) == 0) {
      int rc =
          rh_module_regex_add(&except, "run: --except", a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL));
      if (rc != 0) return rc;
    } else if (strcmp(a, "--report") == 0 || strncmp(a, "--report=", 9) == 0) {
      report = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
      if (report == NULL || *report == '\0') return rh_cli_fail("run: --report needs a file name");
    } else if (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0) {
      format = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
      track_format_t known;
      if (!track_format_from_name(format, &known))
        return rh_cli_fail("run: --format takes text, json, folded, folded-allocated, pprof, svg, svg-allocated "
                           "or html");
    } else if (strcmp(a, "--suppress") == 0 || strncmp(a, "--suppress=", 11) == 0) {
      suppress = a[10] == '=' ? a + 11 : (i + 1 < argc ? argv[++i] : NULL);
      if (suppress == NULL || *suppress == '\0')
        return rh_cli_fail("run: --suppress needs a file name");
    } else if (strcmp(a, "--profile") == 0 || strncmp(a, "--profile=", 10) == 0) {
      profile = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
      if (profile == NULL || *profile == '\0') return rh_cli_fail("run: --profile needs a file name");
    } else if (strcmp(a, "--hook") == 0 || strncmp(a, "--hook=", 7) == 0) {
      const char *spec = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
      if (spec == NULL || *spec == '\0')
        return rh_cli_fail("run: --hook needs a spec, such as --hook 'pool_alloc malloc(size)'");
      if (!hooks_add(&hooks, spec)) return rh_cli_fail("run: out of memory");
    } else if (strncmp(a, "--heap=", 7) == 0) {
      heap_name = a + 7;
    } else if (strcmp(a, "--heap") == 0) {
      if (i + 1 >= argc) return rh_cli_fail("run: --heap needs a name (%s)", rh_heap_names());
      heap_name = argv[++i];
    } else {
      return rh_cli_fail("run: unknown option '%s'; %s", a, rh_run_usage);
    }
  }
  const rh_heap_choice_t *heap = rh_heap_find(heap_name);
  if (heap == NULL)
    return rh_cli_fail("run: unknown heap '%s'; choose one of %s", heap_name, rh_heap_names());
  if (i >= argc) return rh_cli_fail("run: no program given; %s", rh_run_usage);
  char **prog_argv = argv + i;

  char program[PATH_MAX];
  int err = find_program(prog_argv[0], program, sizeof program);
  if (err == ENOENT)
    return rh_cli_fail("run: program '%s' not found%s", prog_argv[0],
                       strchr(prog_argv[0], '/') ? "" : " in PATH");
  if (err != 0) return rh_cli_fail("run: program '%s' is not executable", prog_argv[0]);

  if (strcmp(heap->name, "system") != 0) {
    rh_program_kind_t kind = rh_program_kind(program);
    if (kind == RH_PROGRAM_STATIC)
      return rh_cli_fail("run: '%s' is statically linked, so it keeps its own heap; only "
                         "dynamically linked programs can run on another (try --heap=system)",
                         prog_argv[0]);
    if (kind == RH_PROGRAM_OTHER_ARCH)
      return rh_cli_fail("run: '%s' is not an " RH_ARCH_NAME " program; this reheap's library is "
                         RH_ARCH_NAME " only", prog_argv[0]);
  }

  char lib[PATH_MAX];
  const char *library = heap->library;
  /* --track=sample on reheap's heap: the heap's sampled build counts down
   * and hands over its samples; loaded before the tracker, it takes the
   * program's calls itself */
  bool sample_in_heap = sample[0] != '\0' && strcmp(heap->name, "reheap") == 0;
  /* --track on reheap's heap: its recording build keeps every block's
   * record beside the block (a takeover keeps its own records, in the
   * tracker's table, so it stays on the plain build) */
  /* --only, --except: the tracker through GOT hooks, the heap plain */
  bool by_got = only.count > 0 || except.count > 0;
  if (by_got && track == NULL) return rh_cli_fail("run: --only and --except go with --track");
  if (by_got && (profile != NULL || hooks.len != 0))
    return rh_cli_fail("run: --only and --except do not go with a takeover (--profile, --hook): the takeover's "
                       "blocks are tracked by the whole-process tracker; leave out --only");
  if (by_got) sample_in_heap = false;
  bool records_in_heap = !by_got && track != NULL && sample[0] == '\0' &&
                         strcmp(heap->name, "reheap") == 0 && profile == NULL && hooks.len == 0;
  if (strcmp(heap->name, "reheap") == 0) {
    const char *name = sample_in_heap ? "libreheap_sampled.so"
                       : records_in_heap ? "libreheap_recorded.so"
                                         : "libreheap.so";
    if (!rh_helper_library(name, lib, sizeof lib))
      return rh_cli_fail("run: %s not found next to this reheap (bin/../lib) nor in "
                         "$REHEAP_LIB; build it with 'make'", name);
    library = lib;
  } else if (library != NULL && access(library, R_OK) != 0) {
    return rh_cli_fail("run: heap '%s' needs %s, which is missing; install Debian's %s",
                       heap->name, library, heap->package);
  }
  if (library != NULL && !sample_in_heap && !records_in_heap && preload(library) != 0)
    return rh_cli_fail("run: cannot set LD_PRELOAD: %s", strerror(errno));
  /* Other heaps do not count their calls: a shim in front of them does. */
  char counter[PATH_MAX];
  if (stats && track == NULL && strcmp(heap->name, "reheap") != 0) {
    if (!rh_helper_library("libreheap_count.so", counter, sizeof counter))
      return rh_cli_fail("run: libreheap_count.so (for --stats on heap '%s') not found next "
                         "to this reheap; build it with 'make'", heap->name);
    if (preload(counter) != 0)
      return rh_cli_fail("run: cannot set LD_PRELOAD: %s", strerror(errno));
  }

  if (sample[0] != '\0' && (profile != NULL || hooks.len != 0))
    return rh_cli_fail("run: --track=sample and a takeover (--profile, --hook) do not go together: the "
                       "takeover needs a record of every block; use --track");
  int hook_rc = hooks_check(&hooks, profile, heap->name, track != NULL);
  if (hook_rc != 0) return hook_rc;
  if ((depth != NULL || report != NULL || format != NULL || suppress != NULL) && track == NULL)
    return rh_cli_fail("run: --depth, --report, --format and --suppress go with --track");
  /* a bad suppressions file stops the run here, checked by the parser the
   * tracker uses; the tracker gets it by absolute path (the program may
   * change directory) */
  char suppress_path[PATH_MAX];
  if (suppress != NULL) {
    char err[384];
    if (!track_suppress_load(suppress, err, sizeof err))
      return rh_cli_fail("run: suppressions: %s", err);
    if (realpath(suppress, suppress_path) == NULL)
      return rh_cli_fail("run: suppressions: cannot resolve %s: %s", suppress, strerror(errno));
  }
  if (track != NULL) {
    char tlib[PATH_MAX];
    const char *tname = by_got ? "libreheap_track_got.so" : "libreheap_track.so";
    if (!rh_helper_library(tname, tlib, sizeof tlib))
      return rh_cli_fail("run: %s not found next to this reheap; build it with 'make'", tname);
    if (by_got) {
      setenv("REHEAP_TRACK_GOT", "1", 1);
      setenv("REHEAP_TRACK_ONLY", only.text != NULL ? only.text : "", 1);
      setenv("REHEAP_TRACK_EXCEPT", except.text != NULL ? except.text : "", 1);
    } else {
      unsetenv("REHEAP_TRACK_GOT");
    }
    if (preload(tlib) != 0) return rh_cli_fail("run: cannot set LD_PRELOAD: %s", strerror(errno));
    if ((sample_in_heap || records_in_heap) && preload(library) != 0)
      return rh_cli_fail("run: cannot set LD_PRELOAD: %s", strerror(errno));
    setenv("REHEAP_TRACK_STACKS", track, 1);
    if (sample[0] != '\0') setenv("REHEAP_TRACK_SAMPLE", sample, 1);
    else unsetenv("REHEAP_TRACK_SAMPLE");
    if (depth != NULL) setenv("REHEAP_TRACK_DEPTH", depth, 1);
    setenv("REHEAP_TRACK_REPORT", report != NULL ? report : "-", 1);
    setenv("REHEAP_TRACK_FORMAT", format != NULL ? format : "text", 1);
    if (suppress != NULL) setenv("REHEAP_TRACK_SUPPRESS", suppress_path, 1);
    else unsetenv("REHEAP_TRACK_SUPPRESS");
  }

  /* --track: the tracker writes one byte here once its report is out, so
   * that a program that died first gets a line saying so */
  int donefd[2] = {-1, -1};
  if (track != NULL) {
    if (pipe2(donefd, O_CLOEXEC) != 0) return rh_cli_fail("run: pipe: %s", strerror(errno));
    char fdbuf[16];
    snprintf(fdbuf, sizeof fdbuf, "%d", donefd[1]);
    setenv("REHEAP_TRACK_DONE_FD", fdbuf, 1);
  }

  int pipefd[2] = {-1, -1};
  if (stats) {
    if (pipe2(pipefd, O_CLOEXEC) != 0) return rh_cli_fail("run: pipe: %s", strerror(errno));
    char fdbuf[16];
    snprintf(fdbuf, sizeof fdbuf, "%d", pipefd[1]);
    setenv("REHEAP_STATS_FD", fdbuf, 1);
  }

  /* Like system(): the terminal's ^C and ^\ are the program's to handle. */
  struct sigaction ignore = {.sa_handler = SIG_IGN}, old_int, old_quit;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);

  fflush(NULL);
  double start = now_seconds();
  pid_t pid = fork();
  if (pid < 0) return rh_cli_fail("run: fork: %s", strerror(errno));
  if (pid == 0) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    char pidbuf[24];
    snprintf(pidbuf, sizeof pidbuf, "%ld", (long)getpid());
    if (profile != NULL || hooks.len > 0) setenv("REHEAP_HOOK_PID", pidbuf, 1);
    /* the status page for `reheap stat`: reheap's heap keeps it, or the
     * tracker on any heap */
    if (strcmp(heap->name, "reheap") == 0 || track != NULL) {
      setenv("REHEAP_STATUS_PID", pidbuf, 1);
      setenv("REHEAP_STATUS_IN", track != NULL ? "track" : "reheap", 1);
      char label[32];
      if (strcmp(heap->name, "reheap") == 0) snprintf(label, sizeof label, "reheap's heap");
      else snprintf(label, sizeof label, "the %s heap", heap->name);
      setenv("REHEAP_STATUS_HEAP", label, 1);
    } else {
      unsetenv("REHEAP_STATUS_PID");
    }
    if (track != NULL) {
      setenv("REHEAP_TRACK_PID", pidbuf, 1);
      fcntl(donefd[1], F_SETFD, 0);
      close(donefd[0]);
    }
    if (stats) {
      setenv("REHEAP_STATS_PID", pidbuf, 1);
      /* the write end must survive exec */
      fcntl(pipefd[1], F_SETFD, 0);
      close(pipefd[0]);
    }
    execv(program, prog_argv);
    int e = errno;
    fprintf(stderr, "reheap: run: cannot execute '%s': %s\n", program, strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  if (stats) close(pipefd[1]);
  if (track != NULL) close(donefd[1]);

  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return rh_cli_fail("run: wait4: %s", strerror(errno));
  }
  double seconds = now_seconds() - start;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);

  if (stats) {
    char line[1024];
    read_stats(pipefd[0], line, sizeof line);
    close(pipefd[0]);
    rh_summary_print(prog_argv[0], heap->name, line[0] ? line : NULL, status, &ru, seconds);
  }
  if (track != NULL) {
    char done[8];
    read_stats(donefd[0], done, sizeof done);
    close(donefd[0]);
    if (done[0] == '\0') {
      if (WIFSIGNALED(status))
        fprintf(stderr, "reheap: no track report: %s was killed by signal %d (%s) before it could "
                        "write one\n", prog_argv[0], WTERMSIG(status), strsignal(WTERMSIG(status)));
      else
        fprintf(stderr, "reheap: no track report: %s ended without running its exit handlers "
                        "(_exit, or exec of another program)\n", prog_argv[0]);
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}
