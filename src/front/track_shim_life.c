/* The tracker's life in the process: its settings, read from the
 * environment as libreheap_track.so loads (track_init), and its report:
 * at exit, from a fatal signal, or written by the dump thread when
 * `reheap dump PID` asks; with the fork handlers that keep the tracker's
 * locks sound in a child.
 *
 * Settings come from the environment `reheap run --track` prepares:
 * REHEAP_TRACK_REPORT (a path, or "-" for stderr), REHEAP_TRACK_FORMAT
 * (text, json or folded), REHEAP_TRACK_STACKS
 * (0 or 1), REHEAP_TRACK_DEPTH, REHEAP_TRACK_PID (only that process
 * writes the report), REHEAP_TRACK_SAMPLE (the mean bytes between
 * samples; unset: every block recorded). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "front/next_heap.h"
#include "front/track_shim.h"
#include "front/track_signals.h"
#include "os/os.h"
#include "reheap/track.h"
#include "track/suppress.h"
#include "track/track.h"

#define EXPORT __attribute__((visibility("default")))

static int done_fd = -1; /* told once the report is out */
static track_format_t format = TRACK_FORMAT_TEXT;
static pid_t report_pid;

static _Atomic int final_pending; /* a fatal signal asks for the exit report */
static _Atomic int reported;      /* the exit report is out */
static track_region_t *dump_region;
static bool timeline; /* --format html: the dump thread takes the timeline too */

/* A fork while another thread holds one of the tracker's locks would leave
 * the child waiting for it forever: every lock is taken before the fork. */
static void fork_prepare(void) {
  track_shim_inside = 1; /* allocations during the fork itself pass untracked */
  track_counters_fork_lock(0);
  track_stacks_fork_lock(0);
  track_pool_fork_lock(0);
  track_table_fork_lock(0);
}

static void fork_parent(void) {
  track_table_fork_lock(1);
  track_pool_fork_lock(1);
  track_stacks_fork_lock(1);
  track_counters_fork_lock(1);
  track_shim_inside = 0;
}

static void fork_child(void) {
  track_table_fork_lock(2);
  track_pool_fork_lock(2);
  track_stacks_fork_lock(2);
  track_counters_after_fork();
  /* the child has no dump thread and writes no report */
  dump_region = NULL;
#if !REHEAP_TRACK_GOT
  track_signals_forget();
#endif
  track_shim_inside = 0;
}

/* The thread that writes the report when `reheap dump PID` asks (see
 * track_region_t): it sleeps on the shared request word, and writes with
 * the same code and locks as the report at exit, so the program's threads
 * go on meanwhile. */

static void final_report(void) {
  if (atomic_exchange(&reported, 1)) return;
  int was = track_shim_inside;
  track_shim_inside = 1;
  bool quiet = track_shim_heap_quiet(true);
  track_report(track_shim_report_fd, format, 50);
  track_shim_heap_quiet(quiet);
  if (done_fd >= 0) os_write_all(done_fd, "1", 1);
  track_counters_unshare();
  track_shim_inside = was;
}

static void dump_serve(void *arg) {
  track_region_t *r = arg;
  track_shim_inside = 1; /* what this thread allocates is not the program's */
  track_shim_heap_quiet(true);
  uint32_t served = __atomic_load_n(&r->dump_done, __ATOMIC_ACQUIRE);
  for (;;) {
    uint32_t req = __atomic_load_n(&r->dump_request, __ATOMIC_ACQUIRE);
    if (req == served) {
      /* (for the HTML report's chart, a point of the timeline now and
       * then; for `reheap stat`, the heap's own counts) */
      int wait = timeline ? (int)track_timeline_tick() : -1;
      uint32_t asked = __atomic_load_n(&r->counts_request, __ATOMIC_ACQUIRE);
      if (track_shim_heap_records && asked != r->counts_done) {
        track_shim_heap_counts_share();
        __atomic_store_n(&r->counts_done, asked, __ATOMIC_RELEASE);
        os_wake_on(&r->counts_done);
      }
      os_wait_on(&r->dump_request, req, wait);
      continue;
    }
    if (atomic_load(&final_pending)) {
      final_report();
      served = req;
      __atomic_store_n(&r->dump_done, req, __ATOMIC_RELEASE);
      os_wake_on(&r->dump_done);
      continue;
    }
    char path[sizeof r->dump_path];
    memcpy(path, r->dump_path, sizeof path);
    path[sizeof path - 1] = '\0';
    uint32_t f = r->dump_format;
    int fd = os_create_private_file(path);
    if (fd >= 0) {
      track_report(fd, f <= TRACK_FORMAT_HTML ? (track_format_t)f : TRACK_FORMAT_TEXT, 50);
      os_close(fd);
    }
    __atomic_store_n(&r->dump_status, fd >= 0 ? 0u : 1u, __ATOMIC_RELAXED);
    served = req;
    __atomic_store_n(&r->dump_done, req, __ATOMIC_RELEASE);
    os_wake_on(&r->dump_done);
  }
}

/* A signal that ends the program: the dump thread writes the exit report
 * (in a thread of its own, as this one may hold a tracker lock, and with
 * the time bounded, as it may then wait for this one). */
__attribute__((unused)) static void report_from_signal(void) {
  track_region_t *r = dump_region;
  if (r == NULL || atomic_exchange(&final_pending, 1)) return;
  uint32_t req = __atomic_add_fetch(&r->dump_request, 1, __ATOMIC_RELEASE);
  os_wake_on(&r->dump_request);
  for (int waited = 0; waited < 3000; waited += 100) {
    uint32_t done = __atomic_load_n(&r->dump_done, __ATOMIC_ACQUIRE);
    if ((int32_t)(done - req) >= 0) break;
    os_wait_on(&r->dump_done, done, 100);
  }
}

EXPORT bool rh_track_stats(rh_track_stats_t *out) {
  if (out == NULL) return false;
  track_counters_t c;
  track_counters_sum(&c);
  if (track_shim_heap_records) track_shim_heap_counts(&c); /* (the sum still gives the bad frees) */
  out->allocations = (uint64_t)track_read(&c.allocs);
  out->frees = (uint64_t)track_read(&c.frees);
  out->reallocs = (uint64_t)track_read(&c.reallocs);
  out->unknown_frees = (uint64_t)track_read(&c.unknown_frees);
  out->double_frees = (uint64_t)track_read(&c.double_frees);
  out->invalid_frees = (uint64_t)track_read(&c.invalid_frees);
  out->bytes_allocated = (uint64_t)track_read(&c.bytes_allocated);
  out->live_bytes = (uint64_t)track_read(&c.live_bytes);
  out->live_blocks = (uint64_t)track_read(&c.live_blocks);
  out->peak_bytes = (uint64_t)track_read(&c.peak_bytes);
  return true;
}

EXPORT bool rh_track_report(int fd, const char *name) {
  track_format_t f;
  if (!track_format_from_name(name, &f)) return false;
  int was = track_shim_inside;
  track_shim_inside = 1;
  bool quiet = track_shim_heap_quiet(true);
  track_report(fd, f, 50);
  track_shim_heap_quiet(quiet);
  track_shim_inside = was;
  return true;
}

/* The ways out that skip the exit handlers: the report first. */
EXPORT void _exit(int status) {
  if (track_shim_report_fd >= 0 && getpid() == report_pid) final_report();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

EXPORT void _Exit(int status) { _exit(status); }

/* Settings: the environment `reheap run` prepared or, in a process
 * `reheap attach` loaded the tracker into, the block of NAME=value
 * strings it passed (each ended by a NUL, the block by another). */
static const char *given;

const char *track_shim_setting(const char *name) {
  if (given == NULL) return getenv(name);
  size_t len = strlen(name);
  for (const char *e = given; *e; e += strlen(e) + 1)
    if (strncmp(e, name, len) == 0 && e[len] == '=') return e + len + 1;
  return NULL;
}

void track_shim_given(const char *block) { given = block; }

static long env_long(const char *name, long fallback) {
  const char *s = track_shim_setting(name);
  if (s == NULL || *s == '\0') return fallback;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 1000000000) return fallback;
    v = v * 10 + (*s - '0');
  }
  return v;
}

/* Only the process `reheap run` started (or, preloaded by hand, every
 * one) shares its counters, in a file named after its pid. */
bool track_shim_shared_path(char *path, size_t cap) {
  long pid = env_long("REHEAP_TRACK_PID", 0);
  if (pid != 0 && pid != (long)getpid()) return false;
  track_counters_path((long)getpid(), path, cap);
  return true;
}

/* What may change from one attach to the next. */
void track_shim_read_settings(void) {
  long how = env_long("REHEAP_TRACK_STACKS", 1);
  track_shim_stacks = how != 0;
  track_shim_dwarf = how == 2;
  long d = env_long("REHEAP_TRACK_DEPTH", 16);
  track_shim_depth = d < 1 ? 1 : d > DEPTH_MAX ? DEPTH_MAX : (size_t)d;
  const char *fmt = track_shim_setting("REHEAP_TRACK_FORMAT");
  format = TRACK_FORMAT_TEXT;
  if (fmt != NULL) (void)track_format_from_name(fmt, &format); /* (another name: text) */
}

/* Once per process: the settings, the shared counters and the dump
 * thread, the report's file. attached: loaded into a running process,
 * which has no exit report unless one was asked for. */
void track_shim_start(bool attached) {
  track_counters_set_share(track_shim_shared_path);
  front_next_resolve();
  track_shim_read_settings();
  track_sample_mean = (uint64_t)env_long("REHEAP_TRACK_SAMPLE", 0);
  track_shim_sampling = track_sample_mean != 0;
  track_shim_inside = 1;
#if !REHEAP_TRACK_GOT /* (the GOT hooks track some modules' blocks: the table keeps them) */
  if (track_shim_sampling) track_shim_sample_in_heap();
  else track_shim_records_in_heap();
#endif
  bool quiet = track_shim_heap_quiet(true); /* what the set-up allocates is the tracker's */
  track_shim_inside = 0;
  long pid = env_long("REHEAP_TRACK_PID", 0);
  if (pid != 0 && pid != (long)getpid()) { /* a child: tracked, no report */
    track_shim_heap_quiet(quiet);
    return;
  }
  report_pid = getpid();
  os_atfork(fork_prepare, fork_parent, fork_child);
  /* the live view for `reheap stat` */
  track_shim_inside = 1;
  const char *page = track_shim_setting("REHEAP_TRACK_FORMAT");
  timeline = page != NULL && strcmp(page, "html") == 0;
  if (timeline) track_timeline_tick(); /* its first point: the start */
  if (track_counters_share()) {
    __atomic_store_n(&track_region->counts_on_request, track_shim_heap_records ? 1u : 0u, __ATOMIC_RELEASE);
    if (os_thread_start(dump_serve, track_region)) dump_region = track_region;
  }
#if !REHEAP_TRACK_GOT /* (signal() and sigaction() are this library's only when preloaded in front) */
  track_signals_catch(report_from_signal);
#endif
  track_shim_inside = 0;
  long dfd = env_long("REHEAP_TRACK_DONE_FD", -1);
  done_fd = dfd >= 0 && dfd < (1 << 20) ? (int)dfd : -1;
  const char *path = track_shim_setting("REHEAP_TRACK_REPORT");
  if (path == NULL && attached) {
    track_shim_report_fd = -1;
  } else if (path == NULL || strcmp(path, "-") == 0) {
    track_shim_report_fd = 2;
  } else {
    track_shim_inside = 1;
    track_shim_report_fd = os_create_private_file(path);
    track_shim_inside = 0;
    if (track_shim_report_fd < 0) {
      static const char msg[] = "reheap: cannot create the track report file (it must not be a "
                                "symbolic link, and its directory must be writable); reporting "
                                "to stderr\n";
      os_write_all(2, msg, sizeof msg - 1);
      track_shim_report_fd = 2;
    }
  }
  track_suppress_init(track_shim_setting("REHEAP_TRACK_SUPPRESS"), 2);
  track_shim_heap_quiet(quiet);
}

#if !REHEAP_TRACK_GOT
__attribute__((constructor)) static void track_init(void) { track_shim_start(false); }
#endif

__attribute__((destructor)) static void track_fini(void) {
  if (track_shim_report_fd < 0 || getpid() != report_pid) return;
  final_report();
}
