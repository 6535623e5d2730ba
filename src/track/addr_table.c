/* The table of live blocks: a two-level radix over the address space,
 * whose slots hold record numbers.
 *
 * Every 16-byte granule of the address space has a 4-byte slot: 0, or the
 * number of the record of the block that starts there. The first level
 * names a 16 MiB span of addresses, the second is that span's 1,048,576
 * slots (4 MiB, reserved at first use, backed only where written). Putting a
 * block in is one store, taking it out a load and a store: no hash, no
 * probe, no lock, and threads touch only the slots of their own blocks.
 *
 * Why plain stores are enough: a slot changes only when its block is
 * allocated (by the one thread the heap gave the address to) or freed
 * (by the one thread that frees it). Only a program freeing one block on
 * two threads at the same moment makes two writers; both then take the
 * same record, and the record's own key (checked on every free) exposes
 * the one taken twice, so the tracker stays memory-safe and counts the
 * second as a free of a block never seen.
 *
 * Records have numbers because they live in one reserved region (see
 * record_pool.c); slots of 4 bytes keep the second level at a quarter of
 * the memory its blocks span.
 *
 * Each thread also keeps its last RING frees (copies), so that a second
 * free of one of them can be told from a free of a block never seen. */
#include <stdatomic.h>
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define L1_SIZE ((size_t)1 << (TRACK_ADDR_BITS - TRACK_SPAN_BITS))
#define L2_SLOTS ((size_t)1 << (TRACK_SPAN_BITS - 4)) /* one per 16-byte granule */

typedef track_slot_t slot_t;

track_slot_t *_Atomic *_Atomic track_level1; /* L1_SIZE pointers, reserved at first use */
#define level1 track_level1

static slot_t *_Atomic *l1_get(void) {
  slot_t *_Atomic *t = atomic_load_explicit(&level1, memory_order_acquire);
  if (t != NULL) return t;
  slot_t *_Atomic *fresh = os_map_aligned(L1_SIZE * sizeof *fresh, os_page_size(), 0);
  if (fresh == NULL) return NULL;
  slot_t *_Atomic *none = NULL;
  if (!atomic_compare_exchange_strong(&level1, &none, fresh)) {
    os_unmap(fresh, L1_SIZE * sizeof *fresh);
    return none;
  }
  return fresh;
}

track_slot_t *track_slot_make(uintptr_t addr) {
  if ((addr >> TRACK_ADDR_BITS) != 0) return NULL; /* beyond 4-level paging: not tracked */
  slot_t *_Atomic *t = l1_get();
  if (t == NULL) return NULL;
  slot_t *_Atomic *top = &t[addr >> TRACK_SPAN_BITS];
  slot_t *span = atomic_load_explicit(top, memory_order_acquire);
  if (span == NULL) {
    slot_t *fresh = os_map_aligned(L2_SLOTS * sizeof(slot_t), os_page_size(), 0);
    if (fresh == NULL) return NULL;
    slot_t *none = NULL;
    if (atomic_compare_exchange_strong(top, &none, fresh)) span = fresh;
    else {
      os_unmap(fresh, L2_SLOTS * sizeof(slot_t));
      span = none;
    }
  }
  return &span[(addr >> 4) & (L2_SLOTS - 1)];
}

static inline slot_t *slot_of(uintptr_t addr, bool create) {
  slot_t *s = track_slot_find(addr);
  return s != NULL || !create ? s : track_slot_make(addr);
}

bool track_table_find_containing(uintptr_t addr, size_t reach, track_record_t *copy) {
  uintptr_t start = addr & ~(uintptr_t)15;
  for (uintptr_t back = 0; back <= reach && back <= start; back += 16) {
    slot_t *s = slot_of(start - back, false);
    uint32_t n = s != NULL ? atomic_load_explicit(s, memory_order_acquire) : 0;
    if (n == 0) continue;
    track_record_t *r = track_record_at(n);
    *copy = *r;
    /* the nearest block start below addr: addr is in it, or in none */
    return track_addr(copy) == start - back && start - back + copy->size > addr;
  }
  return false;
}

/* A record is in the table when its block's slot names it: records on
 * free lists have key 0, and a record taken out has its slot cleared. */
static bool in_table(const track_record_t *r, uint32_t n) {
  uintptr_t key = r->key;
  if (key == 0) return false;
  slot_t *s = slot_of(key ^ TRACK_ADDR_SCRAMBLE, false);
  return s != NULL && atomic_load_explicit(s, memory_order_acquire) == n;
}

void track_table_each(void (*fn)(const track_record_t *r, void *arg), void *arg) {
  uint32_t end = track_records_end();
  for (uint32_t n = 1; n < end; n++) {
    track_record_t *r = track_record_at(n);
    if (in_table(r, n)) fn(r, arg);
  }
}

size_t track_table_count(void) {
  size_t count = 0;
  uint32_t end = track_records_end();
  for (uint32_t n = 1; n < end; n++) count += in_table(track_record_at(n), n);
  return count;
}

/* ---- recent frees, a ring per thread ---- */

#define RINGS_MAX 4096
#define RING TRACK_RING

typedef track_retired_t retired_t;
typedef track_ring_t ring_t;

static ring_t rings[RINGS_MAX]; /* [0]: the shared one */
static _Atomic uint32_t nrings = 1;
static os_lock_t registry_lock = OS_LOCK_INIT;
__thread track_ring_t *track_ring_mine;
#define mine track_ring_mine
static track_exit_key_t exit_key;

static void ring_leave(void *arg) {
  ring_t *g = arg;
  /* this thread's last moments go to the shared ring, so that the ring's
   * next owner never meets it there */
  mine = &rings[0];
  g->fast = false;
  atomic_store_explicit(&g->owned, 0, memory_order_release);
}

static ring_t *ring_take(void) {
  ring_t *g = &rings[0];
  /* with no way to learn of our exit, never own one */
  if (!track_exit_key_ready(&exit_key, ring_leave)) return mine = g;
  uint32_t n = atomic_load(&nrings);
  for (uint32_t i = 1; i < n && g == &rings[0]; i++) {
    int idle = 0;
    if (atomic_load_explicit(&rings[i].owned, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&rings[i].owned, &idle, 1))
      g = &rings[i];
  }
  if (g == &rings[0]) {
    os_lock(&registry_lock);
    n = atomic_load(&nrings);
    if (n < RINGS_MAX) {
      g = &rings[n];
      atomic_store(&g->owned, 1);
      atomic_store(&nrings, n + 1);
    }
    os_unlock(&registry_lock);
  }
  if (g != &rings[0]) os_thread_key_set(exit_key.key, g);
  return mine = g;
}

void track_table_retire_slow(const track_record_t *r) {
  ring_t *g = mine != NULL ? mine : ring_take();
  bool shared = g == &rings[0];
  if (shared) os_lock(&g->lock);
  retired_t *entries = atomic_load_explicit(&g->entries, memory_order_relaxed);
  if (entries == NULL) {
    entries = os_map_aligned(RING * sizeof(retired_t), os_page_size(), 0);
    atomic_store_explicit(&g->entries, entries, memory_order_release);
  }
  g->fast = !shared && entries != NULL;
  if (entries != NULL) track_ring_put(g, r);
  if (shared) os_unlock(&g->lock);
}

bool track_table_find_retired(uintptr_t addr, track_record_t *copy) {
  uintptr_t key = track_key(addr);
  uint32_t n = atomic_load(&nrings);
  for (uint32_t i = 0; i < n; i++) {
    retired_t *entries = atomic_load_explicit(&rings[i].entries, memory_order_acquire);
    for (size_t j = 0; entries != NULL && j < RING; j++) {
      retired_t *e = &entries[j];
      if (atomic_load_explicit(&e->key, memory_order_acquire) != key) continue;
      copy->key = key;
      copy->size = atomic_load_explicit(&e->size, memory_order_relaxed);
      copy->seq = 0;
      copy->stack_id = atomic_load_explicit(&e->stack_id, memory_order_relaxed);
      copy->tid = 0;
      atomic_thread_fence(memory_order_acquire);
      if (atomic_load_explicit(&e->key, memory_order_relaxed) == key) return true;
    }
  }
  return false;
}

void track_table_fork_lock(int phase) {
  if (phase == 0) {
    os_lock(&registry_lock);
    os_lock(&rings[0].lock);
  } else if (phase == 1) {
    os_unlock(&rings[0].lock);
    os_unlock(&registry_lock);
  } else {
    os_lock_reset(&rings[0].lock);
    os_lock_reset(&registry_lock);
    /* in the child only the forking thread lives on: the other threads'
     * rings are free for the child's new threads */
    uint32_t n = atomic_load(&nrings);
    for (uint32_t i = 1; i < n; i++)
      if (&rings[i] != mine) atomic_store(&rings[i].owned, 0);
  }
}

static void drop_one(const track_record_t *r, void *arg) {
  (void)arg;
  track_record_t *t = track_table_remove(track_addr(r));
  if (t != NULL) track_record_free(t);
}

void track_table_clear(void) { track_table_each(drop_one, NULL); }
