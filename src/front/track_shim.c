/* libreheap_track.so: records every block the program allocates, in front
 * of whichever heap comes next (reheap's, or the C library's), and writes
 * the leak report at exit.
 *
 * Settings come from the environment `reheap run --track` prepares:
 * REHEAP_TRACK_REPORT (a path, or "-" for stderr), REHEAP_TRACK_FORMAT
 * (text, json or folded), REHEAP_TRACK_STACKS
 * (0 or 1), REHEAP_TRACK_DEPTH, REHEAP_TRACK_PID (only that process
 * writes the report), REHEAP_TRACK_SAMPLE (the mean bytes between
 * samples; unset: every block recorded). Allocations made while the tracker itself runs (its
 * dlsym, dladdr) pass straight through, untracked. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dlfcn.h>

#include "front/next_heap.h"
#include "reheap/alloc.h"
#include "front/takeover_home.h"
#include "front/track_signals.h"
#include "reheap/track.h"
#include "os/os.h"
#include "track/suppress.h"
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
/* --track=sample: bytes left before this thread's next sample, and its
 * random state (0 until its first allocation) */
static bool sampling;
static bool sampling_in_heap; /* the heap counts down and hands over its samples */
/* the heap keeps every block's record itself (libreheap_recorded.so) */
static bool heap_records;
static bool in_heap; /* either: this library's malloc family only passes calls on */
static __thread int64_t sample_left;
static __thread uint64_t sample_state;

/* This library's code, from its ELF header to the end of its text (the
 * linker's names): frames in it are the tracker's, not the program's. */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));
extern const char __etext[] __attribute__((visibility("hidden")));

static bool dwarf; /* unwind by DWARF tables instead of frame pointers */

/* This thread's counters. The first count makes the tracker's counters
 * region, shared or not: the tracker is told first where to share it. */
static bool shared_path(char *path, size_t cap);

__attribute__((noinline)) static track_counters_t *counters_attach(void) {
  track_counters_set_share(shared_path);
  return track_counters_attach();
}

static inline track_counters_t *counters_mine(void) {
  track_counters_t *c = track_my_counters;
  return __builtin_expect(c != NULL, 1) ? c : counters_attach();
}

static size_t capture_max(uintptr_t *frames, size_t max) {
  if (dwarf) return track_stack_capture_dwarf(frames, max, (uintptr_t)__ehdr_start, (uintptr_t)__etext);
  return track_stack_capture(frames, max, (uintptr_t)__ehdr_start, (uintptr_t)__etext);
}

static size_t capture(uintptr_t *frames) { return capture_max(frames, depth); }

static unsigned log2_floor(size_t v) { return v ? 63u - (unsigned)__builtin_clzll(v) : 0; }

/* The bytes a record stands for: its size, or under sampling the
 * estimate of the bytes its sample stands for. */
static int64_t est_bytes(size_t size) {
  return sampling ? (int64_t)llround((double)size * track_sample_weight(size)) : (int64_t)size;
}

/* The id of the calling stack, counted for the allocated-bytes report;
 * apart so that the frame array is not on the path without stacks. */
/* Under sampling inside the heap, its code: the innermost frames of a
 * sample's stack, left out. */
static uintptr_t heap_lo, heap_hi;

/* The calling stack past the heap's own frames (when the heap calls the
 * tracker from inside malloc or free): its frames start at *at, in
 * frames, which holds DEPTH_MAX + 8. (A pointer past them, not a copy
 * down: the copy of frames just stored cost more than the walk.) */
static size_t capture_program(uintptr_t *frames, uintptr_t **at) {
  *at = frames;
  if (heap_hi == 0) return capture(frames);
  size_t want = depth;
  size_t n = capture_max(frames, want + 8), k = 0;
  while (k < n && frames[k] >= heap_lo && frames[k] < heap_hi) k++;
  *at = frames + k;
  n -= k;
  return n < want ? n : want;
}

__attribute__((noinline)) static uint32_t stack_of(size_t size) {
  uintptr_t frames[DEPTH_MAX + 8], *at;
  int64_t blocks = sampling ? track_sample_round(track_sample_weight(size), &sample_state) : 1;
  size_t n = capture_program(frames, &at);
  return track_stack_note(at, n, est_bytes(size), blocks);
}

/* A record of p (inside is set). */
static void record(void *p, size_t size, track_counters_t *c) {
  track_record_t *r = track_record_alloc();
  if (r != NULL) {
    if (my_tid == 0) my_tid = (uint32_t)syscall(SYS_gettid);
    r->key = track_key((uintptr_t)p);
    r->size = size;
    r->seq = ++my_seq;
    r->tid = my_tid & 0x7fffffffu;
    r->takeover = 0;
    r->stack_id = stacks ? stack_of(size) : 0;
    if (!track_table_insert(r)) track_record_free(r);
  }
  track_add(&c->live_bytes, est_bytes(size));
  if (track_read(&c->live_bytes) - track_read(&c->published) > (64 << 10)) track_counters_publish(c);
}

/* Under sampling: counted always, recorded when the thread's countdown
 * runs out (the first allocation of a thread draws its countdown). */
__attribute__((noinline)) static void sample_slow(void *p, size_t size) {
  inside = 1;
  track_counters_t *c = counters_mine();
  track_add(&c->allocs, 1);
  track_add(&c->bytes_allocated, (int64_t)size);
  if (sample_state == 0) {
    sample_state = ((uint64_t)syscall(SYS_gettid) * 0x9E3779B97F4A7C15ULL) ^ (uintptr_t)p ^ 1;
    sample_left = track_sample_draw(&sample_state);
  }
  sample_left -= (int64_t)size;
  if (sample_left <= 0) {
    sample_left = track_sample_draw(&sample_state);
    record(p, size, c);
  }
  inside = 0;
}

static inline void sampled_alloc(void *p, size_t size) {
  track_counters_t *c = track_my_counters;
  int64_t left = sample_left - (int64_t)size;
  if (__builtin_expect(c == NULL || left <= 0, 0)) {
    sample_slow(p, size);
    return;
  }
  sample_left = left;
  track_add(&c->allocs, 1);
  track_add(&c->bytes_allocated, (int64_t)size);
}

static void track_alloc(void *p, size_t size) {
  if (p == NULL || inside || in_heap) return; /* (then only this library's own reach here) */
  if (sampling) {
    sampled_alloc(p, size);
    return;
  }
  inside = 1;
  /* live blocks are allocations less frees, summed when read */
  track_counters_t *c = counters_mine();
  track_add(&c->allocs, 1);
  track_add(&c->bytes_allocated, (int64_t)size);
  track_add(&c->size_hist[log2_floor(size)], 1);
  record(p, size, c);
  inside = 0;
}

static inline void count_free(track_counters_t *c, const track_record_t *r) {
  if (__builtin_expect(r->takeover, 0)) home_gone();
  track_add(&c->frees, 1);
  track_add(&c->live_bytes, -est_bytes(r->size));
}

/* Under sampling most blocks have no record: a free is counted, and looked
 * up in case it is a sample's (no double or invalid free is told apart:
 * the blocks not sampled are not known). */
__attribute__((noinline)) static void sampled_free_slow(void *p) {
  inside = 1;
  track_counters_t *c = counters_mine();
  track_record_t *r = track_table_remove((uintptr_t)p);
  if (r != NULL) {
    count_free(c, r);
    track_record_free(r);
  } else {
    track_add(&c->frees, 1);
  }
  inside = 0;
}

static inline void sampled_free(void *p) {
  track_counters_t *c = track_my_counters;
  if (__builtin_expect(c == NULL || track_table_find((uintptr_t)p) != NULL, 0)) {
    sampled_free_slow(p);
    return;
  }
  track_add(&c->frees, 1);
}

/* How far below a bad free's address to look for the block it points
 * into; past many frees of blocks never seen (a program that frees what it
 * got before tracking began), only misaligned addresses are looked into. */
#define INTERIOR_REACH 4096
#define UNKNOWN_PROBES_MAX 10000

/* p is no block the tracker holds. True when the heap may have it (a block
 * allocated before tracking began: counted); false when it must not (p was
 * freed already, or points into a block or nowhere: reported, and the
 * free skipped so that the program goes on). */
__attribute__((noinline, cold)) static bool untracked_free(void *p, track_counters_t *c) {
  uintptr_t a = (uintptr_t)p;
  track_record_t rec;
  uintptr_t frames[DEPTH_MAX];
  int fd = report_fd >= 0 ? report_fd : 2;
  if (track_table_find_retired(a, &rec)) {
    track_add(&c->double_frees, 1);
    /* skip this function, track_free or realloc's, and the exported one */
    size_t n = capture(frames);
    track_report_double_free(fd, &rec, frames, n);
    return false;
  }
  bool misaligned = (a & (_Alignof(max_align_t) - 1)) != 0;
  size_t reach = misaligned || track_read(&c->unknown_frees) < UNKNOWN_PROBES_MAX ? INTERIOR_REACH : 0;
  bool inside_block = reach > 0 && track_table_find_containing(a, reach, &rec);
  if (inside_block || misaligned) {
    track_add(&c->invalid_frees, 1);
    size_t n = capture(frames);
    track_report_invalid_free(fd, a, inside_block ? &rec : NULL, frames, n);
    return false;
  }
  track_add(&c->unknown_frees, 1);
  return true;
}

/* Forgets p's record. False when the free must not reach the heap. */
/* ---- sampling from inside the heap (libreheap_sampled.so) ---- */

static int64_t heap_next(void) {
  if (sample_state == 0) sample_state = ((uint64_t)syscall(SYS_gettid) * 0x9E3779B97F4A7C15ULL) ^ 1;
  return track_sample_draw(&sample_state);
}

/* Each sample also counts, as estimates, the blocks and bytes it stands
 * for, so that `reheap stat` shows them; the report takes the exact counts
 * from the heap (exact_counts). */
static void heap_taken(void *p, size_t size) {
  if (inside) return;
  inside = 1;
  track_counters_t *c = counters_mine();
  track_add(&c->allocs, track_sample_round(track_sample_weight(size), &sample_state));
  track_add(&c->bytes_allocated, est_bytes(size));
  record(p, size, c);
  inside = 0;
}

static bool heap_freed(void *p) {
  if (inside) return false;
  inside = 1;
  track_record_t *r = track_table_remove((uintptr_t)p);
  if (r != NULL) {
    track_counters_t *c = counters_mine();
    track_add(&c->live_bytes, -est_bytes(r->size));
    track_add(&c->frees, track_sample_round(track_sample_weight(r->size), &sample_state));
    track_record_free(r);
  }
  inside = 0;
  return r != NULL;
}

static void (*heap_stats)(rh_heap_stats_t *, rh_class_stats_t *, size_t);

static void heap_code(const uint8_t *lo, const uint8_t *hi, void *arg) {
  (void)arg;
  if (heap_hi == 0 || (uintptr_t)lo < heap_lo) heap_lo = (uintptr_t)lo;
  if ((uintptr_t)hi > heap_hi) heap_hi = (uintptr_t)hi;
}

static void exact_counts(track_counters_t *sum) {
  rh_heap_stats_t st;
  heap_stats(&st, NULL, 0);
  atomic_store(&sum->allocs, (int64_t)st.allocations);
  atomic_store(&sum->frees, (int64_t)st.frees);
  atomic_store(&sum->live_blocks, (int64_t)st.allocations - (int64_t)st.frees);
}

/* Under --track=sample on reheap's heap: the sampled build of the heap,
 * loaded before this library, takes the calls and hands over its samples;
 * this library's own malloc family is then never called. */
static void sample_in_heap(void) {
  bool (*set)(const rh_heap_sampler_t *) =
      (bool (*)(const rh_heap_sampler_t *))(uintptr_t)dlsym(RTLD_DEFAULT, "rh_heap_set_sampler");
  heap_stats = (void (*)(rh_heap_stats_t *, rh_class_stats_t *, size_t))(uintptr_t)dlsym(RTLD_DEFAULT,
                                                                                        "rh_heap_stats");
  static const rh_heap_sampler_t sampler = {heap_next, heap_taken, heap_freed};
  Dl_info info;
  if (set == NULL || heap_stats == NULL || !dladdr((void *)(uintptr_t)set, &info) || info.dli_fname == NULL)
    return;
  /* the heap's own malloc family: this library's then passes every call
   * straight to it, whichever of the two the program reaches first (a
   * dlsym of the default scope would answer this library's own: it is
   * linked -Bsymbolic) */
  void *heap = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  /* (should the heap refuse the sampler, this library samples in front of
   * it, its next heap all the same) */
  if (heap == NULL || !front_next_use(heap) || !set(&sampler)) return;
  sampling_in_heap = true;
  in_heap = true;
  track_sampled_by_heap = true;
  os_module_code_each(info.dli_fname, heap_code, NULL);
  track_exact_counts = exact_counts;
}

/* ---- records kept by the heap (libreheap_recorded.so) ---- */

static size_t (*heap_records_each)(void (*)(const rh_heap_record_t *, void *), void *);
static bool (*heap_record_stats)(rh_heap_record_stats_t *);
static bool (*heap_record_pause)(bool);

/* What the calling thread allocates while this is on is the tracker's:
 * the heap records it apart, and the report leaves it out. */
static bool heap_quiet(bool on) { return heap_record_pause != NULL && heap_record_pause(on); }

/* With frame pointers, the walk starts from the heap's frame: the
 * tracker's frames are not walked, and the heap's are left out as met. */
static uint32_t heap_stack(size_t size, const void *frame) {
  if (inside) return RH_HEAP_STACK_UNTRACKED; /* the tracker's own: the heap keeps it quiet */
  inside = 1;
  uint32_t id;
  if (dwarf || frame == NULL) {
    id = stack_of(size);
  } else {
    uintptr_t frames[DEPTH_MAX];
    id = track_stack_note(frames, track_stack_walk(frame, frames, depth, heap_lo, heap_hi), (int64_t)size, 1);
  }
  inside = 0;
  return id;
}

static void heap_bad_free(void *p, int kind, const rh_heap_record_t *was) {
  int in = inside;
  inside = 1;
  bool quiet = heap_quiet(true);
  track_counters_t *c = counters_mine();
  track_record_t rec;
  memset(&rec, 0, sizeof rec);
  if (was != NULL) {
    rec.key = track_key((uintptr_t)was->block);
    rec.size = was->size;
    rec.stack_id = was->stack_id == RH_HEAP_STACK_UNTRACKED ? 0 : was->stack_id;
  }
  uintptr_t buf[DEPTH_MAX + 8], *frames;
  size_t n = capture_program(buf, &frames);
  int fd = report_fd >= 0 ? report_fd : 2;
  if (kind == RH_HEAP_DOUBLE_FREE) {
    track_add(&c->double_frees, 1);
    track_report_double_free(fd, &rec, frames, n);
  } else {
    track_add(&c->invalid_frees, 1);
    track_report_invalid_free(fd, (uintptr_t)p, was != NULL ? &rec : NULL, frames, n);
  }
  heap_quiet(quiet);
  inside = in;
}

typedef struct live_fwd {
  void (*fn)(const track_record_t *r, void *arg);
  void *arg;
} live_fwd_t;

static void heap_live_one(const rh_heap_record_t *r, void *arg) {
  live_fwd_t *f = arg;
  track_record_t t;
  memset(&t, 0, sizeof t);
  t.key = track_key((uintptr_t)r->block);
  t.size = r->size;
  t.seq = r->seq;
  t.stack_id = r->stack_id;
  f->fn(&t, f->arg);
}

static void heap_live(void (*fn)(const track_record_t *r, void *arg), void *arg) {
  live_fwd_t f = {fn, arg};
  heap_records_each(heap_live_one, &f);
}

static void heap_counts(track_counters_t *sum) {
  rh_heap_record_stats_t st;
  if (!heap_record_stats(&st)) return;
  atomic_store(&sum->allocs, (int64_t)st.allocations);
  atomic_store(&sum->frees, (int64_t)st.frees);
  atomic_store(&sum->reallocs, (int64_t)st.reallocs);
  atomic_store(&sum->bytes_allocated, (int64_t)st.bytes_allocated);
  atomic_store(&sum->live_bytes, (int64_t)st.live_bytes);
  atomic_store(&sum->live_blocks, (int64_t)st.allocations - (int64_t)st.frees);
  atomic_store(&sum->peak_bytes, (int64_t)st.peak_live_bytes);
  atomic_store(&sum->unknown_frees, (int64_t)st.unknown_frees);
  for (int k = 0; k < 64; k++) atomic_store(&sum->size_hist[k], (int64_t)st.size_hist[k]);
}

/* For `reheap stat`, which sums the shared counters: the heap's counts,
 * put in the dump thread's own block when it asks (the program's threads
 * count nothing here but bad frees). */
static void heap_counts_share(void) {
  track_counters_t *c = counters_mine();
  heap_counts(c); /* (its peak and live blocks are not summed: the region's peak is) */
  track_counters_peak(track_read(&c->peak_bytes));
}

/* Under --track on reheap's heap: its recording build, loaded before this
 * library, takes the calls and keeps the records; this library gives it
 * the stacks, reports bad frees, and reads the records for the report. */
static void records_in_heap(void) {
  /* what the look-ups below allocate is the tracker's */
  bool (*pause)(bool) = (bool (*)(bool))(uintptr_t)dlsym(RTLD_DEFAULT, "rh_heap_record_pause");
  if (pause != NULL) pause(true);
  bool (*set)(const rh_heap_recorder_t *) =
      (bool (*)(const rh_heap_recorder_t *))(uintptr_t)dlsym(RTLD_DEFAULT, "rh_heap_set_recorder");
  heap_records_each = (size_t (*)(void (*)(const rh_heap_record_t *, void *), void *))(uintptr_t)dlsym(
      RTLD_DEFAULT, "rh_heap_records_each");
  heap_record_stats = (bool (*)(rh_heap_record_stats_t *))(uintptr_t)dlsym(RTLD_DEFAULT, "rh_heap_record_stats");
  Dl_info info;
  if (set == NULL || heap_records_each == NULL || heap_record_stats == NULL || pause == NULL ||
      !dladdr((void *)(uintptr_t)set, &info) || info.dli_fname == NULL) {
    if (pause != NULL) pause(false);
    return;
  }
  void *heap = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  /* a heap built without records refuses: this library then records in
   * front of it, as in front of any other */
  rh_heap_record_stats_t probe;
  const rh_heap_recorder_t recorder = {stacks ? heap_stack : NULL, heap_bad_free};
  if (heap == NULL || !heap_record_stats(&probe) || !front_next_use(heap)) {
    pause(false);
    return;
  }
  os_module_code_each(info.dli_fname, heap_code, NULL);
  if (!set(&recorder)) {
    pause(false);
    return;
  }
  heap_record_pause = pause;
  pause(false);
  heap_records = true;
  in_heap = true;
  track_live_source = heap_live;
  track_exact_counts = heap_counts;
}

static bool track_free(void *p) {
  if (p == NULL || inside || in_heap) return true;
  if (sampling) {
    sampled_free(p);
    return true;
  }
  inside = 1;
  bool pass = true;
  track_record_t *r = track_table_remove((uintptr_t)p);
  track_counters_t *c = counters_mine();
  if (r != NULL) {
    count_free(c, r);
    track_table_retire(r);
    track_record_free(r);
  } else {
    pass = untracked_free(p, c);
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

EXPORT size_t malloc_usable_size(void *p) {
  if (p == NULL || front_is_boot(p) || front_next_booting()) return 0;
  return front_next.usable(p);
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
  if (p != NULL && front_is_boot(p)) return front_boot_move(p, size);
  if (p == NULL || inside || in_heap) {
    void *q = front_next.realloc(p, size);
    if (p == NULL) track_alloc(q, size);
    return q;
  }
  /* the old block's record comes out first, so that a bad pointer never
   * reaches the heap; it goes back if the heap cannot grow the block */
  inside = 1;
  track_record_t *r = track_table_remove((uintptr_t)p);
  track_counters_t *c = counters_mine();
  bool pass = r != NULL || sampling || untracked_free(p, c);
  inside = 0;
  if (!pass) {
    errno = EINVAL;
    return NULL;
  }
  void *q = front_next.realloc(p, size);
  if (q == NULL && size != 0) {
    if (r != NULL) {
      inside = 1;
      if (!track_table_insert(r)) track_record_free(r);
      inside = 0;
    }
    return NULL; /* p untouched, still tracked */
  }
  if (r != NULL) {
    inside = 1;
    count_free(c, r);
    track_add(&c->reallocs, 1);
    if (!sampling) track_table_retire(r);
    track_record_free(r);
    inside = 0;
  } else if (sampling) {
    track_add(&c->frees, 1);
    track_add(&c->reallocs, 1);
  }
  track_alloc(q, size);
  return q;
}

/* shim_aligned.c's aligned forms and friends report here */
void *front_shim_note(void *p, size_t size) {
  track_alloc(p, size);
  return p;
}


static _Atomic int final_pending; /* a fatal signal asks for the exit report */
static _Atomic int reported;      /* the exit report is out */
static track_region_t *dump_region;
static bool timeline; /* --format html: the dump thread takes the timeline too */

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
  /* the child has no dump thread and writes no report */
  dump_region = NULL;
  track_signals_forget();
  inside = 0;
}

/* The thread that writes the report when `reheap dump PID` asks (see
 * track_region_t): it sleeps on the shared request word, and writes with
 * the same code and locks as the report at exit, so the program's threads
 * go on meanwhile. */

static void final_report(void) {
  if (atomic_exchange(&reported, 1)) return;
  int was = inside;
  inside = 1;
  bool quiet = heap_quiet(true);
  track_report(report_fd, format, 50);
  heap_quiet(quiet);
  if (done_fd >= 0) os_write_all(done_fd, "1", 1);
  track_counters_unshare();
  inside = was;
}

static void dump_serve(void *arg) {
  track_region_t *r = arg;
  inside = 1; /* what this thread allocates is not the program's */
  heap_quiet(true);
  uint32_t served = __atomic_load_n(&r->dump_done, __ATOMIC_ACQUIRE);
  for (;;) {
    uint32_t req = __atomic_load_n(&r->dump_request, __ATOMIC_ACQUIRE);
    if (req == served) {
      /* (for the HTML report's chart, a point of the timeline now and
       * then; for `reheap stat`, the heap's own counts) */
      int wait = timeline ? (int)track_timeline_tick() : -1;
      uint32_t asked = __atomic_load_n(&r->counts_request, __ATOMIC_ACQUIRE);
      if (heap_records && asked != r->counts_done) {
        heap_counts_share();
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
static void report_from_signal(void) {
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
  if (heap_records) heap_counts(&c); /* (the sum still gives the bad frees) */
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
  static const struct { const char *name; track_format_t f; } formats[] = {
      {"text", TRACK_FORMAT_TEXT},
      {"json", TRACK_FORMAT_JSON},
      {"folded", TRACK_FORMAT_FOLDED},
      {"folded-allocated", TRACK_FORMAT_FOLDED_ALLOCATED},
      {"pprof", TRACK_FORMAT_PPROF},
      {"svg", TRACK_FORMAT_SVG},
      {"svg-allocated", TRACK_FORMAT_SVG_ALLOCATED},
      {"html", TRACK_FORMAT_HTML},
  };
  for (size_t i = 0; name != NULL && i < sizeof formats / sizeof formats[0]; i++) {
    if (strcmp(name, formats[i].name) != 0) continue;
    int was = inside;
    inside = 1;
    bool quiet = heap_quiet(true);
    track_report(fd, formats[i].f, 50);
    heap_quiet(quiet);
    inside = was;
    return true;
  }
  return false;
}

/* The ways out that skip the exit handlers: the report first. */
EXPORT void _exit(int status) {
  if (report_fd >= 0 && getpid() == report_pid) final_report();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

EXPORT void _Exit(int status) { _exit(status); }

static long env_long(const char *name, long fallback);

/* Only the process `reheap run` started (or, preloaded by hand, every
 * one) shares its counters, in a file named after its pid. */
static bool shared_path(char *path, size_t cap) {
  long pid = env_long("REHEAP_TRACK_PID", 0);
  if (pid != 0 && pid != (long)getpid()) return false;
  track_counters_path((long)getpid(), path, cap);
  return true;
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
  track_counters_set_share(shared_path);
  front_next_resolve();
  long how = env_long("REHEAP_TRACK_STACKS", 1);
  stacks = how != 0;
  dwarf = how == 2;
  track_sample_mean = (uint64_t)env_long("REHEAP_TRACK_SAMPLE", 0);
  sampling = track_sample_mean != 0;
  long d = env_long("REHEAP_TRACK_DEPTH", 16);
  depth = d < 1 ? 1 : d > DEPTH_MAX ? DEPTH_MAX : (size_t)d;
  inside = 1;
  if (sampling) sample_in_heap();
  else records_in_heap();
  bool quiet = heap_quiet(true); /* what the set-up allocates is the tracker's */
  inside = 0;
  long pid = env_long("REHEAP_TRACK_PID", 0);
  if (pid != 0 && pid != (long)getpid()) { /* a child: tracked, no report */
    heap_quiet(quiet);
    return;
  }
  report_pid = getpid();
  os_atfork(fork_prepare, fork_parent, fork_child);
  /* the live view for `reheap stat` */
  inside = 1;
  const char *page = getenv("REHEAP_TRACK_FORMAT");
  timeline = page != NULL && strcmp(page, "html") == 0;
  if (timeline) track_timeline_tick(); /* its first point: the start */
  if (track_counters_share()) {
    __atomic_store_n(&track_region->counts_on_request, heap_records ? 1u : 0u, __ATOMIC_RELEASE);
    if (os_thread_start(dump_serve, track_region)) dump_region = track_region;
  }
  track_signals_catch(report_from_signal);
  inside = 0;
  long dfd = env_long("REHEAP_TRACK_DONE_FD", -1);
  done_fd = dfd >= 0 && dfd < (1 << 20) ? (int)dfd : -1;
  const char *fmt = getenv("REHEAP_TRACK_FORMAT");
  if (fmt != NULL && strcmp(fmt, "json") == 0) format = TRACK_FORMAT_JSON;
  if (fmt != NULL && strcmp(fmt, "folded") == 0) format = TRACK_FORMAT_FOLDED;
  if (fmt != NULL && strcmp(fmt, "folded-allocated") == 0) format = TRACK_FORMAT_FOLDED_ALLOCATED;
  if (fmt != NULL && strcmp(fmt, "pprof") == 0) format = TRACK_FORMAT_PPROF;
  if (fmt != NULL && strcmp(fmt, "svg") == 0) format = TRACK_FORMAT_SVG;
  if (fmt != NULL && strcmp(fmt, "svg-allocated") == 0) format = TRACK_FORMAT_SVG_ALLOCATED;
  if (fmt != NULL && strcmp(fmt, "html") == 0) format = TRACK_FORMAT_HTML;
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
  track_suppress_init(getenv("REHEAP_TRACK_SUPPRESS"), 2);
  heap_quiet(quiet);
}

__attribute__((destructor)) static void track_fini(void) {
  if (report_fd < 0 || getpid() != report_pid) return;
  final_report();
}
