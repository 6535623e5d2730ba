/* libreheap_track.so: records every block the program allocates, in front
 * of whichever heap comes next (reheap's, or the C library's). This file
 * is the malloc family and everything a call runs, in one translation
 * unit so that the per-call path makes no call to another file; the
 * heap's own records and samples (track_shim_heap.c) and the settings,
 * the report at exit and the dump thread (track_shim_life.c) are apart.
 * Allocations made while the tracker itself runs (its dlsym, dladdr) pass
 * straight through, untracked. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "front/next_heap.h"
#if !REHEAP_TRACK_GOT
#include "front/takeover_home.h"
#endif
#include "front/track_shim.h"
#include "track/track.h"

#define EXPORT __attribute__((visibility("default")))

bool track_shim_stacks = true;
size_t track_shim_depth = 16;
int track_shim_report_fd = -1;
__thread int track_shim_inside; /* the tracker is running on this thread */
static __thread uint32_t my_tid;
static __thread uint64_t my_seq;
/* --track=sample: bytes left before this thread's next sample, and its
 * random state (0 until its first allocation) */
bool track_shim_sampling;
/* the heap keeps the records or takes the samples itself
 * (track_shim_heap.c): this library's malloc family only passes calls on */
bool track_shim_in_heap;
static __thread int64_t sample_left;
__thread uint64_t track_shim_sample_state;

/* This library's code, from its ELF header to the end of its text (the
 * linker's names): frames in it are the tracker's, not the program's. */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));
extern const char __etext[] __attribute__((visibility("hidden")));

bool track_shim_dwarf; /* unwind by DWARF tables instead of frame pointers */

/* This thread's counters. The first count makes the tracker's counters
 * region, shared or not: the tracker is told first where to share it. */
__attribute__((noinline)) track_counters_t *track_shim_counters_attach(void) {
  track_counters_set_share(track_shim_shared_path);
  return track_counters_attach();
}

static size_t capture_max(uintptr_t *frames, size_t max) {
  if (track_shim_dwarf)
    return track_stack_capture_dwarf(frames, max, (uintptr_t)__ehdr_start, (uintptr_t)__etext);
  return track_stack_capture(frames, max, (uintptr_t)__ehdr_start, (uintptr_t)__etext);
}

static size_t capture(uintptr_t *frames) { return capture_max(frames, track_shim_depth); }

static unsigned log2_floor(size_t v) { return v ? 63u - (unsigned)__builtin_clzll(v) : 0; }

/* The id of the calling stack, counted for the allocated-bytes report;
 * apart so that the frame array is not on the path without stacks. */
/* Under sampling inside the heap, its code: the innermost frames of a
 * sample's stack, left out. */
uintptr_t track_shim_heap_lo, track_shim_heap_hi;

/* The calling stack past the heap's own frames (when the heap calls the
 * tracker from inside malloc or free): its frames start at *at, in
 * frames, which holds DEPTH_MAX + 8. (A pointer past them, not a copy
 * down: the copy of frames just stored cost more than the walk.) */
size_t track_shim_capture_program(uintptr_t *frames, uintptr_t **at) {
  *at = frames;
  if (track_shim_heap_hi == 0) return capture(frames);
  size_t want = track_shim_depth;
  size_t n = capture_max(frames, want + 8), k = 0;
  while (k < n && frames[k] >= track_shim_heap_lo && frames[k] < track_shim_heap_hi) k++;
  *at = frames + k;
  n -= k;
  return n < want ? n : want;
}

__attribute__((noinline)) uint32_t track_shim_stack_of(size_t size) {
  uintptr_t frames[DEPTH_MAX + 8], *at;
  int64_t blocks =
      track_shim_sampling ? track_sample_round(track_sample_weight(size), &track_shim_sample_state) : 1;
  size_t n = track_shim_capture_program(frames, &at);
  return track_stack_note(at, n, track_shim_est_bytes(size), blocks);
}

/* A record of p (track_shim_inside is set). */
void track_shim_record(void *p, size_t size, track_counters_t *c) {
  track_record_t *r = track_record_alloc();
  if (r != NULL) {
    if (my_tid == 0) my_tid = (uint32_t)syscall(SYS_gettid);
    r->key = track_key((uintptr_t)p);
    r->size = size;
    r->seq = ++my_seq;
    r->tid = my_tid & 0x7fffffffu;
    r->takeover = 0;
    r->stack_id = track_shim_stacks ? track_shim_stack_of(size) : 0;
    if (!track_table_insert(r)) track_record_free(r);
  }
  track_add(&c->live_bytes, track_shim_est_bytes(size));
  if (track_read(&c->live_bytes) - track_read(&c->published) > (64 << 10)) track_counters_publish(c);
}

/* Under sampling: counted always, recorded when the thread's countdown
 * runs out (the first allocation of a thread draws its countdown). */
__attribute__((noinline)) static void sample_slow(void *p, size_t size) {
  track_shim_inside = 1;
  track_counters_t *c = track_shim_counters_mine();
  track_add(&c->allocs, 1);
  track_add(&c->bytes_allocated, (int64_t)size);
  if (track_shim_sample_state == 0) {
    track_shim_sample_state = ((uint64_t)syscall(SYS_gettid) * 0x9E3779B97F4A7C15ULL) ^ (uintptr_t)p ^ 1;
    sample_left = track_sample_draw(&track_shim_sample_state);
  }
  sample_left -= (int64_t)size;
  if (sample_left <= 0) {
    sample_left = track_sample_draw(&track_shim_sample_state);
    track_shim_record(p, size, c);
  }
  track_shim_inside = 0;
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
  /* (then only this library's own reach here) */
  if (p == NULL || track_shim_inside || track_shim_in_heap) return;
  if (track_shim_sampling) {
    sampled_alloc(p, size);
    return;
  }
  track_shim_inside = 1;
  /* live blocks are allocations less frees, summed when read */
  track_counters_t *c = track_shim_counters_mine();
  track_add(&c->allocs, 1);
  track_add(&c->bytes_allocated, (int64_t)size);
  track_add(&c->size_hist[log2_floor(size)], 1);
  track_shim_record(p, size, c);
  track_shim_inside = 0;
}

static inline void count_free(track_counters_t *c, const track_record_t *r) {
#if !REHEAP_TRACK_GOT /* (the takeover is libreheap_track.so's only) */
  if (__builtin_expect(r->takeover, 0)) home_gone();
#endif
  track_add(&c->frees, 1);
  track_add(&c->live_bytes, -track_shim_est_bytes(r->size));
}

/* Under sampling most blocks have no record: a free is counted, and looked
 * up in case it is a sample's (no double or invalid free is told apart:
 * the blocks not sampled are not known). */
__attribute__((noinline)) static void sampled_free_slow(void *p) {
  track_shim_inside = 1;
  track_counters_t *c = track_shim_counters_mine();
  track_record_t *r = track_table_remove((uintptr_t)p);
  if (r != NULL) {
    count_free(c, r);
    track_record_free(r);
  } else {
    track_add(&c->frees, 1);
  }
  track_shim_inside = 0;
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
#if REHEAP_TRACK_GOT
/* Through GOT hooks the blocks other modules allocate are not seen: an
 * address freed once and now theirs, or one of theirs, is no bad free the
 * tracker can tell. Counted, passed on. */
__attribute__((noinline, cold)) static bool untracked_free(void *p, track_counters_t *c) {
  (void)p;
  track_add(&c->unknown_frees, 1);
  return true;
}
#else
__attribute__((noinline, cold)) static bool untracked_free(void *p, track_counters_t *c) {
  uintptr_t a = (uintptr_t)p;
  track_record_t rec;
  uintptr_t frames[DEPTH_MAX];
  int fd = track_shim_report_fd >= 0 ? track_shim_report_fd : 2;
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
#endif

/* Forgets p's record. False when the free must not reach the heap. */
static bool track_free(void *p) {
  if (p == NULL || track_shim_inside || track_shim_in_heap) return true;
  if (track_shim_sampling) {
    sampled_free(p);
    return true;
  }
  track_shim_inside = 1;
  bool pass = true;
  track_record_t *r = track_table_remove((uintptr_t)p);
  track_counters_t *c = track_shim_counters_mine();
  if (r != NULL) {
    count_free(c, r);
    track_table_retire(r);
    track_record_free(r);
  } else {
    pass = untracked_free(p, c);
  }
  track_shim_inside = 0;
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
  if (p == NULL || track_shim_inside || track_shim_in_heap) {
    void *q = front_next.realloc(p, size);
    if (p == NULL) track_alloc(q, size);
    return q;
  }
  /* the old block's record comes out first, so that a bad pointer never
   * reaches the heap; it goes back if the heap cannot grow the block */
  track_shim_inside = 1;
  track_record_t *r = track_table_remove((uintptr_t)p);
  track_counters_t *c = track_shim_counters_mine();
  bool pass = r != NULL || track_shim_sampling || untracked_free(p, c);
  track_shim_inside = 0;
  if (!pass) {
    errno = EINVAL;
    return NULL;
  }
  void *q = front_next.realloc(p, size);
  if (q == NULL && size != 0) {
    if (r != NULL) {
      track_shim_inside = 1;
      if (!track_table_insert(r)) track_record_free(r);
      track_shim_inside = 0;
    }
    return NULL; /* p untouched, still tracked */
  }
  if (r != NULL) {
    track_shim_inside = 1;
    count_free(c, r);
    track_add(&c->reallocs, 1);
    if (!track_shim_sampling) track_table_retire(r);
    track_record_free(r);
    track_shim_inside = 0;
  } else if (track_shim_sampling) {
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
