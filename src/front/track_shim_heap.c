/* The tracker on reheap's heap: a build of the heap loaded before
 * libreheap_track.so takes the program's calls and keeps the records
 * itself (libreheap_recorded.so) or takes the samples (libreheap_sampled.so);
 * the tracker gives it stacks and reports bad frees, and reads what it
 * kept for the report and `reheap stat`. Set up once, by track_init. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "front/next_heap.h"
#include "front/track_shim.h"
#include "os/os.h"
#include "reheap/alloc.h"
#include "track/track.h"

static bool sampling_in_heap; /* the heap counts down and hands over its samples */
/* the heap keeps every block's record itself (libreheap_recorded.so) */
bool track_shim_heap_records;

/* ---- sampling from inside the heap (libreheap_sampled.so) ---- */

static int64_t heap_next(void) {
  if (track_shim_sample_state == 0)
    track_shim_sample_state = ((uint64_t)syscall(SYS_gettid) * 0x9E3779B97F4A7C15ULL) ^ 1;
  return track_sample_draw(&track_shim_sample_state);
}

/* Each sample also counts, as estimates, the blocks and bytes it stands
 * for, so that `reheap stat` shows them; the report takes the exact counts
 * from the heap (exact_counts). */
static void heap_taken(void *p, size_t size) {
  if (track_shim_inside) return;
  track_shim_inside = 1;
  track_counters_t *c = track_shim_counters_mine();
  track_add(&c->allocs, track_sample_round(track_sample_weight(size), &track_shim_sample_state));
  track_add(&c->bytes_allocated, track_shim_est_bytes(size));
  track_shim_record(p, size, c);
  track_shim_inside = 0;
}

static bool heap_freed(void *p) {
  if (track_shim_inside) return false;
  track_shim_inside = 1;
  track_record_t *r = track_table_remove((uintptr_t)p);
  if (r != NULL) {
    track_counters_t *c = track_shim_counters_mine();
    track_add(&c->live_bytes, -track_shim_est_bytes(r->size));
    track_add(&c->frees, track_sample_round(track_sample_weight(r->size), &track_shim_sample_state));
    track_record_free(r);
  }
  track_shim_inside = 0;
  return r != NULL;
}

static void (*heap_stats)(rh_heap_stats_t *, rh_class_stats_t *, size_t);

static void heap_code(const uint8_t *lo, const uint8_t *hi, void *arg) {
  (void)arg;
  if (track_shim_heap_hi == 0 || (uintptr_t)lo < track_shim_heap_lo) track_shim_heap_lo = (uintptr_t)lo;
  if ((uintptr_t)hi > track_shim_heap_hi) track_shim_heap_hi = (uintptr_t)hi;
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
void track_shim_sample_in_heap(void) {
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
  track_shim_in_heap = true;
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
bool track_shim_heap_quiet(bool on) { return heap_record_pause != NULL && heap_record_pause(on); }

/* With frame pointers, the walk starts from the heap's frame: the
 * tracker's frames are not walked, and the heap's are left out as met. */
static uint32_t heap_stack(size_t size, const void *frame) {
  if (track_shim_inside) return RH_HEAP_STACK_UNTRACKED; /* the tracker's own: the heap keeps it quiet */
  track_shim_inside = 1;
  uint32_t id;
  if (track_shim_dwarf || frame == NULL) {
    id = track_shim_stack_of(size);
  } else {
    uintptr_t frames[DEPTH_MAX];
    size_t n = track_stack_walk(frame, frames, track_shim_depth, track_shim_heap_lo, track_shim_heap_hi);
    id = track_stack_note(frames, n, (int64_t)size, 1);
  }
  track_shim_inside = 0;
  return id;
}

static void heap_bad_free(void *p, int kind, const rh_heap_record_t *was) {
  int in = track_shim_inside;
  track_shim_inside = 1;
  bool quiet = track_shim_heap_quiet(true);
  track_counters_t *c = track_shim_counters_mine();
  track_record_t rec;
  memset(&rec, 0, sizeof rec);
  if (was != NULL) {
    rec.key = track_key((uintptr_t)was->block);
    rec.size = was->size;
    rec.stack_id = was->stack_id == RH_HEAP_STACK_UNTRACKED ? 0 : was->stack_id;
  }
  uintptr_t buf[DEPTH_MAX + 8], *frames;
  size_t n = track_shim_capture_program(buf, &frames);
  int fd = track_shim_report_fd >= 0 ? track_shim_report_fd : 2;
  if (kind == RH_HEAP_DOUBLE_FREE) {
    track_add(&c->double_frees, 1);
    track_report_double_free(fd, &rec, frames, n);
  } else {
    track_add(&c->invalid_frees, 1);
    track_report_invalid_free(fd, (uintptr_t)p, was != NULL ? &rec : NULL, frames, n);
  }
  track_shim_heap_quiet(quiet);
  track_shim_inside = in;
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

void track_shim_heap_counts(track_counters_t *sum) {
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
void track_shim_heap_counts_share(void) {
  track_counters_t *c = track_shim_counters_mine();
  track_shim_heap_counts(c); /* (its peak and live blocks are not summed: the region's peak is) */
  track_counters_peak(track_read(&c->peak_bytes));
}

/* Under --track on reheap's heap: its recording build, loaded before this
 * library, takes the calls and keeps the records; this library gives it
 * the stacks, reports bad frees, and reads the records for the report. */
void track_shim_records_in_heap(void) {
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
  const rh_heap_recorder_t recorder = {track_shim_stacks ? heap_stack : NULL, heap_bad_free};
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
  track_shim_heap_records = true;
  track_shim_in_heap = true;
  track_live_source = heap_live;
  track_exact_counts = track_shim_heap_counts;
}
