/* Thread heaps: made on a thread's first allocation, given up when the
 * thread exits (everything idle goes back, the rest waits), and taken over
 * whole by the next thread that starts. Also process set-up and fork. */
#include <stdio.h>
#include <stdlib.h>

#include "alloc/alloc_front.h"
#include "alloc/heap_record.h"
#include "os/os.h"

heap_page_t heap_page_empty;

/* The heap of every thread that has none yet (or has exited): all its
 * current pages are the empty page, so its fast path always falls through. */
heap_t heap_static = {
    .current = {[0 ... CLASS_SLOTS - 1] = &heap_page_empty},
    .state = HEAP_STATIC,
};

heap_global_stats_t heap_gstats;

static os_lock_t init_lock = OS_LOCK_INIT;
static _Atomic int process_ready;
/* The thread running process_init, which may allocate on the way. */
static _Atomic uintptr_t init_owner;

/* All heaps ever made (never freed), and the ones waiting for a thread. */
static os_lock_t list_lock = OS_LOCK_INIT;
static _Atomic(heap_t *) all_heaps;
static heap_t *abandoned;

/* Heap structs come from the OS in chunks, never from malloc. */
static os_lock_t meta_lock = OS_LOCK_INIT;
static uint8_t *meta_next;
static size_t meta_left;
#define META_CHUNK ((size_t)256 << 10)

void heap_fail(const char *what, const char *file, int line) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "reheap: heap check failed: %s (%s:%d)\n", what, file, line);
  if (n > 0) os_write_all(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
  abort();
}

heap_t *heap_all_first(void) {
  return atomic_load_explicit(&all_heaps, memory_order_acquire);
}

static void heap_thread_exit(void *arg);

static void fork_prepare(void) {
  os_lock(&list_lock);
  os_lock(&meta_lock);
  heap_segment_cache_lock(true);
  heap_huge_cache_lock(true);
#if RH_HEAP_RECORDS
  heap_rec_map_lock(true);
#endif
}

static void fork_parent(void) {
#if RH_HEAP_RECORDS
  heap_rec_map_lock(false);
#endif
  heap_huge_cache_lock(false);
  heap_segment_cache_lock(false);
  os_unlock(&meta_lock);
  os_unlock(&list_lock);
}

/* In the child only the forking thread lives on. The other threads' heaps
 * may have been caught halfway through an update, so nothing is ever
 * allocated from them again; frees into them stay safe (remote pushes). */
static void fork_child(void) {
#if RH_HEAP_RECORDS
  heap_rec_map_lock_reset();
#endif
  heap_huge_cache_reset();
  heap_segment_cache_reset();
  os_lock_reset(&meta_lock);
  os_lock_reset(&list_lock);
  for (heap_t *h = heap_all_first(); h != NULL; h = h->next_all)
    if (h != heap_tl_get() && h->state == HEAP_ACTIVE) h->state = HEAP_DEAD;
}

#if RH_HEAP_CHECKS
static void check_class_tables(void) {
  for (size_t c = 0; c + 1 < CLASS_COUNT; c++) heap_assert(heap_class_size[c] < heap_class_size[c + 1]);
  for (size_t s = 1; s <= CLASS_MAX_SIZE; s++) {
    size_t c = heap_class_of(s);
    heap_assert(heap_class_size[c] >= s && (c == 0 || heap_class_size[c - 1] < s));
    if (s > SMALL_DIRECT_MAX) continue;
    size_t s1 = s;
    while (s1 % 16) s1++; /* the fast path's table lookup rounds like this */
    heap_assert(heap_class_of(s1) == c);
  }
}
#endif

static bool process_init(void) {
  if (atomic_load_explicit(&process_ready, memory_order_acquire)) return true;
  /* pthread_atfork below may allocate: that allocation comes back here on
   * this thread and must not wait for itself. */
  if (atomic_load_explicit(&init_owner, memory_order_relaxed) == os_thread_self()) return true;
  bool ok = true;
  os_lock(&init_lock);
  if (!atomic_load_explicit(&process_ready, memory_order_relaxed)) {
    atomic_store_explicit(&init_owner, os_thread_self(), memory_order_relaxed);
#if RH_HEAP_CHECKS
    check_class_tables();
#endif
    ok = os_thread_exit_init(heap_thread_exit);
    if (ok) {
      os_atfork(fork_prepare, fork_parent, fork_child);
      atomic_store_explicit(&process_ready, 1, memory_order_release);
    }
    atomic_store_explicit(&init_owner, 0, memory_order_relaxed);
  }
  os_unlock(&init_lock);
  return ok;
}

static heap_t *heap_meta_new(void) {
  size_t need = (sizeof(heap_t) + 63) & ~(size_t)63;
  os_lock(&meta_lock);
  if (meta_left < need) {
    uint8_t *chunk = os_map_aligned(META_CHUNK, os_page_size(), 0);
    if (chunk == NULL) {
      os_unlock(&meta_lock);
      return NULL;
    }
    heap_gadd(&heap_gstats.os_map_calls, 1);
    heap_gadd(&heap_gstats.reserved, META_CHUNK);
    heap_gadd(&heap_gstats.committed, META_CHUNK);
    meta_next = chunk;
    meta_left = META_CHUNK;
  }
  heap_t *h = (heap_t *)meta_next;
  meta_next += need;
  meta_left -= need;
  os_unlock(&meta_lock);
  for (size_t c = 0; c < CLASS_SLOTS; c++) h->current[c] = &heap_page_empty;
  return h;
}

/* A thread that only frees (a consumer) still gets a heap of its own, so
 * that its counting stays thread-local instead of every such thread
 * hammering the same shared counters; but not while it is exiting, when
 * the heap would never be handed back. */
heap_t *heap_for_free(void) {
  heap_t *h = heap_tl_get();
  /* the word is &heap_static (not NULL) once the thread has exited */
  if (h->state == HEAP_STATIC && os_heap_word_get() == NULL) {
    heap_t *n = heap_thread_init();
    if (n != NULL) h = n;
  }
  return h;
}

heap_t *heap_thread_init(void) {
  heap_t *h = heap_tl_get();
  if (h->state != HEAP_STATIC) return h;
  if (!process_init()) return NULL;
  os_lock(&list_lock);
  /* the first waiting heap that no running thread is tidying */
  heap_t **at = &abandoned;
  while (*at != NULL && (*at)->tidying) at = &(*at)->next_abandoned;
  h = *at;
  if (h != NULL) {
    *at = h->next_abandoned;
    h->next_abandoned = NULL;
    h->state = HEAP_ACTIVE;
  }
  os_unlock(&list_lock);
  if (h != NULL) {
    heap_gadd(&heap_gstats.heaps_reused, 1);
  } else {
    h = heap_meta_new();
    if (h == NULL) return NULL;
    h->state = HEAP_ACTIVE;
    os_lock(&list_lock);
    h->next_all = atomic_load_explicit(&all_heaps, memory_order_relaxed);
    atomic_store_explicit(&all_heaps, h, memory_order_release);
    os_unlock(&list_lock);
    heap_gadd(&heap_gstats.threads, 1);
  }
  /* Set before registering: registering may allocate, and that allocation
   * must find this heap rather than make another. */
  os_heap_word_set(h);
  os_thread_exit_set(h);
  return h;
}

void heap_stats_flush(heap_t *h) {
#if RH_HEAP_RECORDS
  heap_rec_stats_flush(h);
#endif
  if (h->live_delta == 0) return;
  int64_t now = atomic_fetch_add_explicit(&heap_gstats.live, h->live_delta, memory_order_relaxed) +
                h->live_delta;
  h->live_delta = 0;
  if (now > 0) heap_gmax(&heap_gstats.peak_live, (uint64_t)now);
}

void heap_delayed_process(heap_t *h) {
  heap_block_t *b =
      (heap_block_t *)atomic_exchange_explicit(&h->delayed, 0, memory_order_acquire);
  while (b != NULL) {
    heap_block_t *next = b->next;
    heap_segment_t *seg = heap_segment_of(b);
    heap_assert(atomic_load_explicit(&seg->heap, memory_order_relaxed) == h);
    heap_page_free_block(h, heap_page_of(seg, b), b);
    b = next;
  }
}

static void heap_give_back_idle(heap_t *h, heap_purge_t mode) {
  heap_delayed_process(h);
  heap_pages_collect_all(h, true);
  heap_segments_purge(h, mode);
  heap_stats_flush(h);
}

/* When memory that no running heap purges wants purging (0: none). */
static _Atomic uint64_t purge_due_ms;

void heap_purge_due(uint64_t delay_ms) {
  uint64_t at = os_now_ms() + delay_ms;
  uint64_t due = atomic_load_explicit(&purge_due_ms, memory_order_relaxed);
  while ((due == 0 || at < due) &&
         !atomic_compare_exchange_weak_explicit(&purge_due_ms, &due, at, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

/* Blocks freed into the heap of an exited thread wait there until a new
 * thread takes the heap over. So that their memory does not wait for that,
 * running threads tidy the waiting heaps now and then, one at a time: a
 * heap being tidied stays on the list, marked, so that a thread starting
 * meanwhile takes another (or makes one) rather than wait, and no one
 * else touches it; it gives back what is idle (mode: PURGE_ABANDONED after
 * a delay, PURGE_RELEASE its empty segments, PURGE_ALL everything now). */
void heap_abandoned_tidy(heap_purge_t mode) {
  bool waiting = false;
  os_lock(&list_lock);
  heap_t *h = abandoned;
  while (h != NULL && h->tidying) h = h->next_abandoned;
  while (h != NULL) {
    h->tidying = true;
    os_unlock(&list_lock);
    heap_give_back_idle(h, mode);
    waiting |= h->purge_deadline != 0;
    os_lock(&list_lock);
    /* still on the list (a marked heap is never taken): its next is current */
    h->tidying = false;
    h = h->next_abandoned;
    while (h != NULL && h->tidying) h = h->next_abandoned;
  }
  os_unlock(&list_lock);
  if (waiting) heap_purge_due(PURGE_DELAY_MS);
}

/* The purges no running heap's own deadline covers. */
static void purge_others(uint64_t now) {
  uint64_t due = atomic_load_explicit(&purge_due_ms, memory_order_relaxed);
  if (due == 0 || now < due ||
      !atomic_compare_exchange_strong_explicit(&purge_due_ms, &due, 0, memory_order_relaxed,
                                               memory_order_relaxed))
    return;
  heap_abandoned_tidy(PURGE_ABANDONED);
  bool waiting = heap_segment_cache_trim(false);
  waiting |= heap_huge_cache_trim(false);
  if (waiting) heap_purge_due(PURGE_DELAY_MS);
}

void (*_Atomic heap_periodic_hook)(void);

void heap_set_periodic(void (*fn)(void)) { atomic_store(&heap_periodic_hook, fn); }

void heap_slow_tick(heap_t *h) {
  if (atomic_load_explicit(&h->delayed, memory_order_relaxed) != 0) heap_delayed_process(h);
  if ((++h->slow_ticks & 63) == 0) {
    uint64_t now = os_now_ms();
    purge_others(now);
    if (now >= h->collect_deadline) {
      h->collect_deadline = now + COLLECT_PERIOD_MS;
      heap_pages_collect_all(h, false);
      void (*hook)(void) = atomic_load_explicit(&heap_periodic_hook, memory_order_relaxed);
      if (hook != NULL) hook();
    }
  }
  if (h->purge_deadline != 0) {
    uint64_t now = os_now_ms();
    if (now >= h->purge_deadline) {
      heap_segments_purge(h, PURGE_TICK);
      heap_huge_cache_trim(false);
      purge_others(now);
    }
  }
  /* The shared live count is one cache line every thread writes: a thread
   * adds its change only once it is worth a line's trip between cores (the
   * peak is then exact to within that much per thread). */
  if (h->live_delta >= LIVE_FLUSH_BYTES || h->live_delta <= -LIVE_FLUSH_BYTES)
    heap_stats_flush(h);
}

/* An exiting thread gives back at once only what was idle already; the
 * rest waits a purge delay, for the thread that takes the heap over (in a
 * pool of workers, one starts as another ends) or for the purge then. */
static void heap_thread_exit(void *arg) {
  heap_t *h = arg;
  if (h == NULL || h != heap_tl_get() || h->state != HEAP_ACTIVE) return;
  heap_give_back_idle(h, PURGE_ABANDONED);
  if (h->purge_deadline != 0) heap_purge_due(PURGE_DELAY_MS);
  os_heap_word_set(&heap_static);
  os_lock(&list_lock);
  h->state = HEAP_ABANDONED;
  h->next_abandoned = abandoned;
  abandoned = h;
  os_unlock(&list_lock);
}

void rh_heap_collect(void) {
  heap_t *h = heap_tl_get();
  if (h->state == HEAP_ACTIVE) heap_give_back_idle(h, PURGE_ALL);
  heap_abandoned_tidy(PURGE_ALL);
  heap_segment_cache_trim(true);
  heap_huge_cache_trim(true);
}
