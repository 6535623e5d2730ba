/* The table of live blocks, one shard per thread.
 *
 * A thread puts the blocks it allocates in its own shard, an open-addressing
 * table of (scrambled address, record) slots, and takes them out again with
 * no lock: most blocks are freed by the thread that allocated them, and then
 * no other core ever sees the cache lines involved. The invariants that let
 * other threads in:
 *
 *  - Only the owner turns an empty or dead slot into a live one (it writes
 *    the record, then the key with release), and only the owner moves the
 *    slot array (growing), under the shard's lock.
 *  - Anyone turns a live slot dead, by compare-and-swap of its key; the
 *    record is read before, while the key still holds it. Other threads do
 *    this only under the shard's lock, so the array cannot move under them.
 *
 * A free of another thread's block therefore searches the other shards
 * (the one that answered last first, as a producer's blocks tend to go to
 * the same consumer). A thread that exits leaves its shard, blocks and all,
 * for the next new thread to take over. Threads past SHARDS_MAX share one
 * shard that is always locked.
 *
 * Each thread also keeps its last RING frees (copies, not records), so that
 * a second free of one of them can be told from a free of a block never
 * seen. */
#include <stdatomic.h>
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define SHARDS_MAX 4096
#define INITIAL_SLOTS 256
#define RING 1024 /* frees remembered per thread */
#define KEY_EMPTY ((uintptr_t)0)
/* scrambled 16-byte aligned addresses end in 0xa: never 0 or 1 */
#define KEY_DEAD ((uintptr_t)1)

typedef struct slot {
  _Atomic uintptr_t key;
  track_record_t *_Atomic rec;
} slot_t;

typedef struct retired {
  _Atomic uintptr_t key; /* 0 while being written */
  _Atomic size_t size;
  _Atomic uint64_t seq;
  _Atomic uint32_t stack_id, tid;
} retired_t;

typedef struct __attribute__((aligned(64))) shard {
  os_lock_t lock;
  _Atomic int owned;     /* a live thread writes here without the lock */
  bool always_locked;    /* the shared overflow shard */
  slot_t *_Atomic slots; /* moved only by the owner, under the lock */
  size_t cap;            /* a power of two */
  size_t used;           /* slots not empty (live or dead) */
  retired_t *_Atomic ring; /* RING entries, mapped at first free */
  size_t ring_next;
} shard_t;

static shard_t shards[SHARDS_MAX] = {[0] = {.always_locked = true}}; /* [0]: the shared one */
static _Atomic uint32_t nshards = 1;
static os_lock_t registry_lock = OS_LOCK_INIT;

static __thread shard_t *mine;        /* NULL until the thread first tracks */
static __thread shard_t *last_found;  /* the other shard a free last found a block in */
static os_thread_key_t exit_key;
static _Atomic int key_state; /* 0 none, 1 making, 2 made, 3 failed */

static inline uint64_t hash(uintptr_t addr) {
  /* blocks are 16-byte aligned: mix the bits above that */
  uint64_t h = (uint64_t)addr >> 4;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

static slot_t *slots_new(size_t n) { return os_map_aligned(n * sizeof(slot_t), os_page_size(), 0); }

/* ---- which shard is mine ---- */

static void shard_leave(void *arg) {
  shard_t *s = arg;
  /* whatever this thread does in its last moments goes to the shared
   * shard, so that the next owner of this one never meets it there */
  mine = &shards[0];
  atomic_store_explicit(&s->owned, 0, memory_order_release);
}

static shard_t *shard_take(void) {
  int st = atomic_load(&key_state);
  if (st == 0 && atomic_compare_exchange_strong(&key_state, &st, 1))
    atomic_store(&key_state, os_thread_key_new(&exit_key, shard_leave) ? 2 : 3);
  while ((st = atomic_load(&key_state)) == 1) {
  }
  shard_t *s = &shards[0];
  if (st != 2) return mine = s; /* no way to learn of our exit: never own one */
  /* a shard some exited thread left, else a new one */
  uint32_t n = atomic_load(&nshards);
  for (uint32_t i = 1; i < n; i++) {
    int free_ = 0;
    if (atomic_load_explicit(&shards[i].owned, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&shards[i].owned, &free_, 1)) {
      s = &shards[i];
      break;
    }
  }
  if (s == &shards[0]) {
    os_lock(&registry_lock);
    n = atomic_load(&nshards);
    if (n < SHARDS_MAX) {
      s = &shards[n];
      atomic_store(&s->owned, 1);
      atomic_store(&nshards, n + 1);
    }
    os_unlock(&registry_lock);
  }
  if (s != &shards[0]) os_thread_key_set(exit_key, s);
  return mine = s;
}

/* ---- slots ---- */

/* Rehashes the live slots into an array four times their number (at least
 * the initial size), dropping the dead ones. Owner only, under the lock. */
static void grow(shard_t *s) {
  slot_t *old = atomic_load_explicit(&s->slots, memory_order_relaxed);
  size_t live = 0;
  for (size_t i = 0; i < s->cap; i++) {
    uintptr_t k = atomic_load_explicit(&old[i].key, memory_order_relaxed);
    live += k != KEY_EMPTY && k != KEY_DEAD;
  }
  size_t cap = INITIAL_SLOTS;
  while (cap < live * 4) cap *= 2;
  slot_t *nw = slots_new(cap);
  if (nw == NULL) return;
  for (size_t i = 0; i < s->cap; i++) {
    uintptr_t k = atomic_load_explicit(&old[i].key, memory_order_relaxed);
    if (k == KEY_EMPTY || k == KEY_DEAD) continue;
    size_t j = hash(k ^ TRACK_ADDR_SCRAMBLE) & (cap - 1);
    while (atomic_load_explicit(&nw[j].key, memory_order_relaxed) != KEY_EMPTY) j = (j + 1) & (cap - 1);
    atomic_store_explicit(&nw[j].rec, atomic_load_explicit(&old[i].rec, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&nw[j].key, k, memory_order_relaxed);
  }
  atomic_store_explicit(&s->slots, nw, memory_order_release);
  if (old != NULL) os_unmap(old, s->cap * sizeof(slot_t));
  s->cap = cap;
  s->used = live;
}

/* Puts r in s, which has room (the caller owns s, or holds its lock). */
static void put(shard_t *s, track_record_t *r) {
  slot_t *t = atomic_load_explicit(&s->slots, memory_order_relaxed);
  size_t mask = s->cap - 1;
  size_t i = hash(track_addr(r)) & mask;
  uintptr_t k;
  while ((k = atomic_load_explicit(&t[i].key, memory_order_relaxed)) != KEY_EMPTY && k != KEY_DEAD)
    i = (i + 1) & mask;
  if (k == KEY_EMPTY) s->used++;
  atomic_store_explicit(&t[i].rec, r, memory_order_relaxed);
  atomic_store_explicit(&t[i].key, r->key, memory_order_release);
}

/* Takes the block at addr out of s; NULL if s does not hold it. */
static track_record_t *take(shard_t *s, uintptr_t addr) {
  slot_t *t = atomic_load_explicit(&s->slots, memory_order_acquire);
  if (t == NULL) return NULL;
  uintptr_t key = track_key(addr);
  size_t mask = s->cap - 1;
  for (size_t i = hash(addr) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
    uintptr_t k = atomic_load_explicit(&t[i].key, memory_order_acquire);
    if (k == KEY_EMPTY) return NULL;
    if (k != key) continue;
    track_record_t *r = atomic_load_explicit(&t[i].rec, memory_order_relaxed);
    /* lost only to a free of the same block at the same moment */
    return atomic_compare_exchange_strong(&t[i].key, &k, KEY_DEAD) ? r : NULL;
  }
  return NULL;
}

static track_record_t *find(shard_t *s, uintptr_t addr) {
  slot_t *t = atomic_load_explicit(&s->slots, memory_order_acquire);
  if (t == NULL) return NULL;
  uintptr_t key = track_key(addr);
  size_t mask = s->cap - 1;
  for (size_t i = hash(addr) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
    uintptr_t k = atomic_load_explicit(&t[i].key, memory_order_acquire);
    if (k == KEY_EMPTY) return NULL;
    if (k == key) return atomic_load_explicit(&t[i].rec, memory_order_relaxed);
  }
  return NULL;
}

bool track_table_insert(track_record_t *r) {
  shard_t *s = mine != NULL ? mine : shard_take();
  bool shared = s->always_locked;
  if (shared) os_lock(&s->lock);
  if (s->used + 1 > s->cap / 4 * 3) {
    if (!shared) os_lock(&s->lock);
    grow(s);
    if (!shared) os_unlock(&s->lock);
  }
  bool ok = s->used + 1 <= s->cap / 4 * 3; /* false only when the OS refused memory */
  if (ok) put(s, r);
  if (shared) os_unlock(&s->lock);
  return ok;
}

static track_record_t *take_locked(shard_t *s, uintptr_t addr) {
  os_lock(&s->lock);
  track_record_t *r = take(s, addr);
  os_unlock(&s->lock);
  return r;
}

track_record_t *track_table_remove(uintptr_t addr) {
  shard_t *s = mine;
  track_record_t *r;
  if (s != NULL && !s->always_locked && (r = take(s, addr)) != NULL) return r;
  shard_t *hint = last_found;
  if (hint != NULL && hint != s && (r = take_locked(hint, addr)) != NULL) return r;
  uint32_t n = atomic_load(&nshards);
  for (uint32_t i = 0; i < n; i++) {
    shard_t *o = &shards[i];
    if (o == hint || (o == s && !s->always_locked)) continue;
    if ((r = take_locked(o, addr)) != NULL) {
      last_found = o;
      return r;
    }
  }
  return NULL;
}

bool track_table_find_containing(uintptr_t addr, size_t reach, track_record_t *copy) {
  uintptr_t start = addr & ~(uintptr_t)15;
  uint32_t n = atomic_load(&nshards);
  /* nearest start first, in every shard */
  for (uintptr_t back = 0; back <= reach && back <= start; back += 16) {
    for (uint32_t i = 0; i < n; i++) {
      shard_t *s = &shards[i];
      os_lock(&s->lock);
      track_record_t *r = find(s, start - back);
      bool hit = r != NULL && start - back + r->size > addr;
      if (hit) *copy = *r;
      os_unlock(&s->lock);
      if (hit) return true;
    }
  }
  return false;
}

void track_table_each(void (*fn)(const track_record_t *r, void *arg), void *arg) {
  uint32_t n = atomic_load(&nshards);
  for (uint32_t i = 0; i < n; i++) {
    shard_t *s = &shards[i];
    os_lock(&s->lock);
    slot_t *t = atomic_load_explicit(&s->slots, memory_order_acquire);
    for (size_t j = 0; t != NULL && j < s->cap; j++) {
      uintptr_t k = atomic_load_explicit(&t[j].key, memory_order_acquire);
      track_record_t *r = atomic_load_explicit(&t[j].rec, memory_order_relaxed);
      /* a record its owner is taking out this moment may be reused: skip
       * it if its key no longer matches */
      if (k != KEY_EMPTY && k != KEY_DEAD && r != NULL && r->key == k) fn(r, arg);
    }
    os_unlock(&s->lock);
  }
}

static void count_one(const track_record_t *r, void *arg) {
  (void)r;
  ++*(size_t *)arg;
}

size_t track_table_count(void) {
  size_t n = 0;
  track_table_each(count_one, &n);
  return n;
}

/* ---- recent frees ---- */

void track_table_retire(const track_record_t *r) {
  shard_t *s = mine != NULL ? mine : shard_take();
  bool lock = s->always_locked;
  if (lock) os_lock(&s->lock);
  retired_t *ring = atomic_load_explicit(&s->ring, memory_order_relaxed);
  if (ring == NULL) {
    ring = os_map_aligned(RING * sizeof(retired_t), os_page_size(), 0);
    atomic_store_explicit(&s->ring, ring, memory_order_release);
  }
  if (ring != NULL) {
    /* readers copy an entry and check its key did not change meanwhile */
    retired_t *e = &ring[s->ring_next++ & (RING - 1)];
    atomic_store_explicit(&e->key, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&e->size, r->size, memory_order_relaxed);
    atomic_store_explicit(&e->seq, r->seq, memory_order_relaxed);
    atomic_store_explicit(&e->stack_id, r->stack_id, memory_order_relaxed);
    atomic_store_explicit(&e->tid, r->tid, memory_order_relaxed);
    atomic_store_explicit(&e->key, r->key, memory_order_release);
  }
  if (lock) os_unlock(&s->lock);
}

bool track_table_find_retired(uintptr_t addr, track_record_t *copy) {
  uintptr_t key = track_key(addr);
  uint32_t n = atomic_load(&nshards);
  for (uint32_t i = 0; i < n; i++) {
    retired_t *ring = atomic_load_explicit(&shards[i].ring, memory_order_acquire);
    for (size_t j = 0; ring != NULL && j < RING; j++) {
      retired_t *e = &ring[j];
      if (atomic_load_explicit(&e->key, memory_order_acquire) != key) continue;
      copy->key = key;
      copy->size = atomic_load_explicit(&e->size, memory_order_relaxed);
      copy->seq = atomic_load_explicit(&e->seq, memory_order_relaxed);
      copy->stack_id = atomic_load_explicit(&e->stack_id, memory_order_relaxed);
      copy->tid = atomic_load_explicit(&e->tid, memory_order_relaxed);
      copy->next = NULL;
      atomic_thread_fence(memory_order_acquire);
      if (atomic_load_explicit(&e->key, memory_order_relaxed) == key) return true;
    }
  }
  return false;
}

/* ---- fork ---- */

void track_table_fork_lock(int phase) {
  uint32_t n = atomic_load(&nshards);
  if (phase == 0) os_lock(&registry_lock);
  for (uint32_t i = 0; i < n; i++) {
    if (phase == 0) os_lock(&shards[i].lock);
    else if (phase == 1) os_unlock(&shards[i].lock);
    else os_lock_reset(&shards[i].lock);
  }
  if (phase == 1) os_unlock(&registry_lock);
  if (phase != 2) return;
  os_lock_reset(&registry_lock);
  /* in the child only the forking thread lives on: the other threads'
   * shards, with their blocks, are free for the child's new threads */
  for (uint32_t i = 1; i < n; i++)
    if (&shards[i] != mine) atomic_store(&shards[i].owned, 0);
}
