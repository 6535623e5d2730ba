/* libreheap_count.so: counts what a program asks of another heap, for
 * `reheap run --heap=system|mimalloc|... --stats`.
 *
 * Preloaded in front of the heap being measured, it forwards every call to
 * the next definition (that heap's, or the C library's) and counts
 * allocations, frees and live bytes (by the heap's own usable size), so the
 * summary compares like with like. It costs atomics on every call: it is
 * for --stats runs, never for timing. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "front/next_heap.h"
#include "front/stats_line.h"
#include "os/os.h"

#define EXPORT __attribute__((visibility("default")))

static _Atomic uint64_t n_allocs, n_frees;
static _Atomic int64_t live;
static _Atomic int64_t peak;

/* A heap's usable-size call may allocate (tcmalloc's makes its extension
 * object on first use): allocations made while counting are the heap's own
 * and are not counted, or counting would recurse. */
static __thread int counting;

static size_t usable_of(void *p) {
  counting++;
  size_t n = front_next.usable(p);
  counting--;
  return n;
}

static void *counted(void *p) {
  if (p == NULL || counting) return p;
  atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
  int64_t size = (int64_t)usable_of(p);
  int64_t now = atomic_fetch_add_explicit(&live, size, memory_order_relaxed) + size;
  int64_t old = atomic_load_explicit(&peak, memory_order_relaxed);
  while (now > old &&
         !atomic_compare_exchange_weak_explicit(&peak, &old, now, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
  return p;
}

static void uncount(void *p) {
  if (counting) return;
  atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live, (int64_t)usable_of(p), memory_order_relaxed);
}


EXPORT void *malloc(size_t size) {
  if (front_next_booting()) return front_boot_alloc(size);
  return counted(front_next.malloc(size));
}

EXPORT void free(void *p) {
  if (p == NULL || front_is_boot(p)) return;
  if (front_next_booting()) return;
  uncount(p);
  front_next.free(p);
}

EXPORT void *calloc(size_t count, size_t size) {
  if (front_next_booting()) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) return NULL;
    return front_boot_alloc(total); /* static memory: already zero */
  }
  return counted(front_next.calloc(count, size));
}

EXPORT size_t malloc_usable_size(void *p) {
  if (p == NULL || front_is_boot(p) || front_next_booting()) return 0;
  return front_next.usable(p);
}

EXPORT void *realloc(void *p, size_t size) {
  if (front_next_booting()) return NULL;
  if (p != NULL && front_is_boot(p)) return front_boot_move(p, size);
  if (p == NULL) return counted(front_next.realloc(NULL, size));
  size_t old = usable_of(p);
  void *q = front_next.realloc(p, size);
  if (counting) return q;
  if (q == NULL) {
    if (size == 0) {
      atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
      atomic_fetch_sub_explicit(&live, (int64_t)old, memory_order_relaxed);
    }
    return NULL;
  }
  /* a moved or resized block: one free and one allocation */
  atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live, (int64_t)old, memory_order_relaxed);
  return counted(q);
}

/* shim_aligned.c's aligned forms and friends report here */
void *front_shim_note(void *p, size_t size) {
  (void)size;
  return counted(p);
}

static int stats_fd = -1;
static pid_t stats_pid;

__attribute__((constructor)) static void count_init(void) {
  front_next_resolve();
  stats_fd = rh_stats_fd_claim();
  stats_pid = getpid();
}

__attribute__((destructor)) static void count_write(void) {
  if (stats_fd < 0 || getpid() != stats_pid) return;
  rh_line_t l;
  rh_line_start(&l, "counted");
  rh_line_u64(&l, "allocations", atomic_load(&n_allocs));
  rh_line_u64(&l, "frees", atomic_load(&n_frees));
  int64_t lv = atomic_load(&live), pk = atomic_load(&peak);
  rh_line_u64(&l, "live_bytes", lv > 0 ? (uint64_t)lv : 0);
  rh_line_u64(&l, "peak_live_bytes", pk > 0 ? (uint64_t)pk : 0);
  size_t n = rh_line_end(&l);
  os_write_all(stats_fd, l.buf, n);
  stats_fd = -1;
}
