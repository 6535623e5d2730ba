/* libreheap_track.so: records every block the program allocates, in front
 * of whichever heap comes next (reheap's, or the C library's), and writes
 * the leak report at exit.
 *
 * Settings come from the environment `reheap run --track` prepares:
 * REHEAP_TRACK_REPORT (a path, or "-" for stderr), REHEAP_TRACK_FORMAT
 * (text, json or folded), REHEAP_TRACK_STACKS
 * (0 or 1), REHEAP_TRACK_DEPTH, REHEAP_TRACK_PID (only that process
 * writes the report). Allocations made while the tracker itself runs (its
 * dlsym, dladdr) pass straight through, untracked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "front/next_heap.h"
#include "os/os.h"
#include "track/track_internal.h"

#define EXPORT __attribute__((visibility("default")))
#define DEPTH_MAX 64

static bool stacks = true;
static size_t depth = 16;
static int report_fd = -1;
static int done_fd = -1; /* told once the report is out */
static track_format_t format = TRACK_FORMAT_TEXT;
static pid_t report_pid;
static __thread int inside; /* the tracker is running on this thread */
static __thread uint32_t my_tid;
static __thread uint64_t my_seq;

static unsigned log2_floor(size_t v) { return v ? 63u - (unsigned)__builtin_clzll(v) : 0; }

static void track_alloc(void *p, size_t size) {
  if (p == NULL || inside) return;
  inside = 1;
  track_record_t *r = track_record_alloc();
  if (r != NULL) {
    if (my_tid == 0) my_tid = (uint32_t)syscall(SYS_gettid);
    r->key = track_key((uintptr_t)p);
    r->size = size;
    r->seq = ++my_seq;
    r->tid = my_tid;
    r->stack_id = 0;
    if (stacks) {
      uintptr_t frames[DEPTH_MAX];
      /* skip this function and the exported wrapper */
      size_t n = track_stack_capture(frames, depth, 2);
      r->stack_id = track_stack_intern(frames, n);
    }
    if (!track_table_insert(r)) track_record_free(r);
  }
  track_counters_t *c = track_counters_mine();
  track_add(&c->allocs, 1);
  track_add(&c->bytes_allocated, (int64_t)size);
  track_add(&c->live_bytes, (int64_t)size);
  track_add(&c->live_blocks, 1);
  track_add(&c->size_hist[log2_floor(size)], 1);
  track_add(&c->unpublished, (int64_t)size);
  if (track_read(&c->unpublished) > (64 << 10)) track_counters_publish(c);
  inside = 0;
}

/* Forgets p's record. False when the free must not reach the heap: p was
 * freed already (reported, and skipped so that the program goes on). */
static bool track_free(void *p) {
  if (p == NULL || inside) return true;
  inside = 1;
  bool pass = true;
  track_record_t *r = track_table_remove((uintptr_t)p);
  track_counters_t *c = track_counters_mine();
  if (r != NULL) {
    track_add(&c->frees, 1);
    track_add(&c->live_bytes, -(int64_t)r->size);
    track_add(&c->live_blocks, -1);
    track_add(&c->unpublished, -(int64_t)r->size);
    track_record_t *old = track_table_retire(r);
    if (old != NULL) track_record_free(old);
  } else {
    track_record_t rec;
    if (track_table_find_retired((uintptr_t)p, &rec)) {
      track_add(&c->double_frees, 1);
      uintptr_t frames[DEPTH_MAX];
      size_t n = track_stack_capture(frames, depth, 2);
      track_report_double_free(report_fd >= 0 ? report_fd : 2, &rec, frames, n);
      pass = false;
    } else {
      track_add(&c->unknown_frees, 1);
    }
  }
  inside = 0;
  return pass;
}

EXPORT void *malloc(size_t size) {
  if (front_next_booting()) return front_boot_alloc(size);
  void *p = front_next.malloc(size);
  track_alloc(p, size);
  return p;
}

EXPORT void free(void *p) {
  if (p == NULL || front_is_boot(p)) return;
  if (front_next_booting()) return;
  if (track_free(p)) front_next.free(p);
}

EXPORT void *calloc(size_t count, size_t size) {
  if (front_next_booting()) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) return NULL;
    return front_boot_alloc(total);
  }
  void *p = front_next.calloc(count, size);
  track_alloc(p, count * size);
  return p;
}

EXPORT void *realloc(void *p, size_t size) {
  if (front_next_booting()) return NULL;
  if (p != NULL && front_is_boot(p)) {
    void *q = malloc(size);
    if (q != NULL) memcpy(q, p, size < 64 ? size : 64);
    return q;
  }
  void *q = front_next.realloc(p, size);
  if (q == NULL && size != 0) return NULL; /* p untouched, still tracked */
  if (p != NULL && !inside) {
    track_free(p);
    track_add(&track_counters_mine()->reallocs, 1);
  }
  track_alloc(q, size);
  return q;
}

/* shim_aligned.c's aligned forms and friends report here */
void *front_shim_note(void *p, size_t size) {
  track_alloc(p, size);
  return p;
}

static char counters_file[256];

/* A fork while another thread holds one of the tracker's locks would leave
 * the child waiting for it forever: every lock is taken before the fork. */
static void fork_prepare(void) {
  inside = 1; /* allocations during the fork itself pass untracked */
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
  inside = 0;
}

static void fork_child(void) {
  track_table_fork_lock(2);
  track_pool_fork_lock(2);
  track_stacks_fork_lock(2);
  track_counters_after_fork();
  inside = 0;
}

static long env_long(const char *name, long fallback) {
  const char *s = getenv(name);
  if (s == NULL || *s == '\0') return fallback;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 1000000000) return fallback;
    v = v * 10 + (*s - '0');
  }
  return v;
}

__attribute__((constructor)) static void track_init(void) {
  front_next_resolve();
  stacks = env_long("REHEAP_TRACK_STACKS", 1) != 0;
  long d = env_long("REHEAP_TRACK_DEPTH", 16);
  depth = d < 1 ? 1 : d > DEPTH_MAX ? DEPTH_MAX : (size_t)d;
  long pid = env_long("REHEAP_TRACK_PID", 0);
  if (pid != 0 && pid != (long)getpid()) return; /* a child: tracked, no report */
  report_pid = getpid();
  os_atfork(fork_prepare, fork_parent, fork_child);
  /* the live view for `reheap stat` */
  inside = 1;
  track_counters_path((long)report_pid, counters_file, sizeof counters_file);
  if (!track_counters_share(counters_file)) counters_file[0] = '\0';
  inside = 0;
  long dfd = env_long("REHEAP_TRACK_DONE_FD", -1);
  done_fd = dfd >= 0 && dfd < (1 << 20) ? (int)dfd : -1;
  const char *fmt = getenv("REHEAP_TRACK_FORMAT");
  if (fmt != NULL && strcmp(fmt, "json") == 0) format = TRACK_FORMAT_JSON;
  if (fmt != NULL && strcmp(fmt, "folded") == 0) format = TRACK_FORMAT_FOLDED;
  const char *path = getenv("REHEAP_TRACK_REPORT");
  if (path == NULL || strcmp(path, "-") == 0) {
    report_fd = 2;
  } else {
    inside = 1;
    report_fd = os_create_private_file(path);
    inside = 0;
    if (report_fd < 0) {
      static const char msg[] = "reheap: cannot create the track report file (it must not be a "
                                "symbolic link, and its directory must be writable); reporting "
                                "to stderr\n";
      os_write_all(2, msg, sizeof msg - 1);
      report_fd = 2;
    }
  }
}

__attribute__((destructor)) static void track_fini(void) {
  if (report_fd < 0 || getpid() != report_pid) return;
  inside = 1;
  track_report(report_fd, format, 50);
  if (done_fd >= 0) os_write_all(done_fd, "1", 1);
  track_counters_unshare();
  inside = 0;
}
