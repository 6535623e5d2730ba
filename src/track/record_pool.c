/* Per-thread record pools: records carved from one reserved region (so
 * that a record has a number, which the table's 4-byte slots hold),
 * recycled through a thread-local free list, with a shared spill list so
 * that records freed on one thread serve allocations on another. The
 * region is reserved whole at first use and backed by the OS only where
 * records are written. */
#include <stdatomic.h>

#include "os/os.h"
#include "track/track_internal.h"

#define CARVE 1024 /* records a thread takes from the region at once */
#define RECORDS_MAX ((uint32_t)1 << 28) /* 10 GiB of address space, reserved, not backed */
#define RECORDS_MIN ((uint32_t)1 << 22) /* where strict overcommit refuses more */
#define SPILL_BATCH 256 /* records moved to or from the shared list at once */

typedef track_pool_t pool_t;
__thread track_pool_t track_pool;
#define pool track_pool
#define LOCAL_MAX TRACK_POOL_LOCAL_MAX

static os_lock_t spill_lock = OS_LOCK_INIT;
static track_record_t *spill;
static _Atomic size_t nspill;
static _Atomic size_t carved;
static track_record_t *_Atomic region;
static uint32_t region_records;
static _Atomic uint32_t region_next = 1; /* record 0 is "none" */
static os_lock_t region_lock = OS_LOCK_INIT;

track_record_t *track_records_base;

static track_record_t *region_get(void) {
  track_record_t *r = atomic_load_explicit(&region, memory_order_acquire);
  if (r != NULL) return r;
  os_lock(&region_lock);
  r = atomic_load_explicit(&region, memory_order_relaxed);
  for (uint32_t n = RECORDS_MAX; r == NULL && n >= RECORDS_MIN; n /= 2) {
    r = os_map_aligned((size_t)n * sizeof *r, os_page_size(), 0);
    if (r != NULL) {
      region_records = n;
      track_records_base = r;
      atomic_store_explicit(&region, r, memory_order_release);
    }
  }
  os_unlock(&region_lock);
  return r;
}

uint32_t track_records_end(void) {
  uint32_t end = atomic_load_explicit(&region_next, memory_order_acquire);
  return end < region_records ? end : region_records;
}

static track_exit_key_t exit_key;

/* At thread exit every record the pool holds, free or not yet carved, goes
 * to the shared list, so exited threads do not keep records. */
static void pool_hand_back(void *arg) {
  pool_t *p = arg;
  while (p->ncarve > 0) {
    track_record_t *r = p->carve++;
    p->ncarve--;
    r->key = 0;
    r->next = p->free;
    p->free = r;
    p->nfree++;
  }
  if (p->free == NULL) return;
  track_record_t *last = p->free;
  while (last->next != NULL) last = last->next;
  os_lock(&spill_lock);
  last->next = spill;
  spill = p->free;
  atomic_fetch_add(&nspill, p->nfree);
  os_unlock(&spill_lock);
  p->free = NULL;
  p->nfree = 0;
}

static void pool_register(pool_t *p) {
  p->registered = true;
  if (track_exit_key_ready(&exit_key, pool_hand_back)) os_thread_key_set(exit_key.key, p);
}

size_t track_records_carved(void) { return atomic_load_explicit(&carved, memory_order_relaxed); }

static bool refill_from_spill(pool_t *p) {
  if (atomic_load_explicit(&nspill, memory_order_relaxed) == 0) return false;
  os_lock(&spill_lock);
  for (size_t i = 0; i < SPILL_BATCH && spill != NULL; i++) {
    track_record_t *r = spill;
    spill = r->next;
    atomic_fetch_sub(&nspill, 1);
    r->next = p->free;
    p->free = r;
    p->nfree++;
  }
  os_unlock(&spill_lock);
  return p->free != NULL;
}

track_record_t *track_record_alloc_slow(void) {
  pool_t *p = &pool;
  if (!p->registered) pool_register(p);
  if (p->free == NULL && !refill_from_spill(p)) {
    if (p->ncarve == 0) {
      track_record_t *base = region_get();
      if (base == NULL) return NULL;
      uint32_t first = atomic_fetch_add_explicit(&region_next, CARVE, memory_order_relaxed);
      if (first >= region_records || region_records - first < CARVE) return NULL; /* all taken */
      p->carve = base + first;
      p->ncarve = CARVE;
      atomic_fetch_add_explicit(&carved, p->ncarve, memory_order_relaxed);
    }
    p->ncarve--;
    return p->carve++;
  }
  track_record_t *r = p->free;
  p->free = r->next;
  p->nfree--;
  return r;
}

void track_record_free_slow(track_record_t *r) {
  pool_t *p = &pool;
  if (!p->registered) pool_register(p);
  r->key = 0; /* the freed block is no longer named anywhere */
  r->next = p->free;
  p->free = r;
  if (++p->nfree <= LOCAL_MAX) return;
  /* give a batch to the shared list */
  track_record_t *first = p->free, *last = first;
  for (size_t i = 1; i < SPILL_BATCH; i++) last = last->next;
  p->free = last->next;
  p->nfree -= SPILL_BATCH;
  os_lock(&spill_lock);
  last->next = spill;
  spill = first;
  atomic_fetch_add(&nspill, SPILL_BATCH);
  os_unlock(&spill_lock);
}

void track_pool_fork_lock(int phase) {
  if (phase == 0) {
    os_lock(&region_lock);
    os_lock(&spill_lock);
  } else if (phase == 1) {
    os_unlock(&spill_lock);
    os_unlock(&region_lock);
  } else {
    os_lock_reset(&spill_lock);
    os_lock_reset(&region_lock);
  }
}
