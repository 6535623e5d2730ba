/* Call stacks: captured by walking frame pointers, stored once each in a
 * table of distinct stacks, named by a small id (0 = none).
 *
 * The walk trusts a frame only if it lies above the previous one and not
 * far from it, on the 16-byte alignment the ABI keeps, so code built
 * without frame pointers ends the walk instead of sending it astray.
 *
 * Finding a stack already stored takes no lock: an entry is written once,
 * its hash last (release), and never changes after; only a new stack takes
 * the lock. Bytes and blocks allocated from each stack are counted in a
 * small per-thread cache and added to the shared entry when evicted, at
 * thread exit or when a report reads them, so that threads allocating from
 * one stack do not fight over its cache line. */
#include <stdatomic.h>
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define TABLE_SLOTS (1u << 16) /* distinct stacks at most */
#define ARENA_BYTES ((size_t)32 << 20)
#define CACHE_SLOTS 256        /* per thread, direct-mapped by stack hash */
#define CACHES_MAX 4096        /* threads with a cache (later ones count directly) */

typedef struct entry {
  _Atomic uint64_t hash; /* 0: empty; written last */
  uint32_t depth;
  uint32_t offset;       /* into the frame arena, in frames */
  _Atomic int64_t bytes, blocks; /* allocated from this stack, flushed part */
} entry_t;

typedef struct cache_slot {
  _Atomic uint64_t hash;
  _Atomic uint32_t id;
  _Atomic int64_t bytes, blocks; /* not yet in the entry */
} cache_slot_t;

typedef struct cache {
  cache_slot_t slot[CACHE_SLOTS];
  _Atomic int owned; /* by a live thread; an exited thread's is taken over */
} cache_t;

static entry_t *_Atomic table; /* TABLE_SLOTS, index = id - 1 */
static uintptr_t *arena;       /* frames of every stack, back to back */
static size_t arena_used;      /* in frames */
static uint32_t count;
static os_lock_t lock = OS_LOCK_INIT;

/* every thread's cache, for readers; a cache is never freed */
static cache_t *caches[CACHES_MAX];
static _Atomic uint32_t ncaches;
static __thread cache_t *my_cache;
static __thread bool cache_failed;
static track_exit_key_t exit_key;

size_t track_stack_capture(uintptr_t *frames, size_t max, uintptr_t skip_lo, uintptr_t skip_hi) {
  return track_stack_walk(__builtin_frame_address(0), frames, max, skip_lo, skip_hi);
}

size_t track_stack_walk(const void *from, uintptr_t *frames, size_t max, uintptr_t skip_lo, uintptr_t skip_hi) {
  const uintptr_t *fp = from;
  size_t n = 0;
  bool skipping = true;
  while (fp != NULL && n < max) {
    uintptr_t ret = fp[1];
    const uintptr_t *up = (const uintptr_t *)fp[0];
    if (ret == 0) break;
    if (skipping && ret >= skip_lo && ret < skip_hi) {
    } else {
      skipping = false;
      frames[n++] = ret;
    }
    if (up <= fp || (uintptr_t)up - (uintptr_t)fp > ((uintptr_t)1 << 20) ||
        ((uintptr_t)up & (sizeof(uintptr_t) - 1)) != 0)
      break;
    fp = up;
  }
  return n;
}

static uint64_t hash_frames(const uintptr_t *f, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL ^ n;
  for (size_t i = 0; i < n; i++) {
    h ^= (uint64_t)f[i];
    h *= 0x100000001b3ULL;
    h ^= h >> 29;
  }
  return h | 1; /* 0 marks an empty slot */
}

static bool same(const entry_t *e, uint64_t h, const uintptr_t *frames, size_t n) {
  return atomic_load_explicit(&e->hash, memory_order_acquire) == h && e->depth == n &&
         memcmp(arena + e->offset, frames, n * sizeof *frames) == 0;
}

static entry_t *table_get(void) {
  entry_t *t = atomic_load_explicit(&table, memory_order_acquire);
  if (t != NULL) return t;
  os_lock(&lock);
  t = atomic_load_explicit(&table, memory_order_relaxed);
  if (t == NULL) {
    arena = os_map_aligned(ARENA_BYTES, os_page_size(), 0);
    t = arena ? os_map_aligned(TABLE_SLOTS * sizeof *t, os_page_size(), 0) : NULL;
    if (t != NULL) atomic_store_explicit(&table, t, memory_order_release);
  }
  os_unlock(&lock);
  return t;
}

static uint32_t intern(const uintptr_t *frames, size_t n, uint64_t h) {
  entry_t *t = table_get();
  if (t == NULL) return 0;
  uint32_t slot = (uint32_t)h & (TABLE_SLOTS - 1);
  /* the common case: stored already, found without the lock */
  for (uint32_t i = 0; i < TABLE_SLOTS; i++, slot = (slot + 1) & (TABLE_SLOTS - 1)) {
    uint64_t eh = atomic_load_explicit(&t[slot].hash, memory_order_acquire);
    if (eh == 0) break;
    if (eh == h && same(&t[slot], h, frames, n)) return slot + 1;
  }
  /* new, unless another thread stored it meanwhile: go on from the empty
   * slot found, under the lock (slots fill in probe order) */
  uint32_t id = 0;
  os_lock(&lock);
  for (uint32_t i = 0; i < TABLE_SLOTS; i++, slot = (slot + 1) & (TABLE_SLOTS - 1)) {
    entry_t *e = &t[slot];
    uint64_t eh = atomic_load_explicit(&e->hash, memory_order_relaxed);
    if (eh == 0) {
      /* a full table or arena: no stack, not a crash */
      if (count + 1 >= TABLE_SLOTS * 3 / 4 || arena_used + n > ARENA_BYTES / sizeof *arena) break;
      e->depth = (uint32_t)n;
      e->offset = (uint32_t)arena_used;
      memcpy(arena + arena_used, frames, n * sizeof *frames);
      arena_used += n;
      count++;
      atomic_store_explicit(&e->hash, h, memory_order_release);
      id = slot + 1;
      break;
    }
    if (eh == h && same(e, h, frames, n)) {
      id = slot + 1;
      break;
    }
  }
  os_unlock(&lock);
  return id;
}

size_t track_stack_get(uint32_t id, const uintptr_t **frames) {
  entry_t *t = atomic_load_explicit(&table, memory_order_acquire);
  if (id == 0 || id > TABLE_SLOTS || t == NULL) return 0;
  entry_t *e = &t[id - 1];
  if (atomic_load_explicit(&e->hash, memory_order_acquire) == 0) return 0;
  *frames = arena + e->offset;
  return e->depth;
}

/* ---- allocated bytes per stack ---- */

static void slot_flush(entry_t *t, cache_slot_t *s) {
  uint32_t id = atomic_load_explicit(&s->id, memory_order_relaxed);
  if (id == 0) return;
  int64_t b = atomic_exchange_explicit(&s->bytes, 0, memory_order_relaxed);
  int64_t k = atomic_exchange_explicit(&s->blocks, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&t[id - 1].bytes, b, memory_order_relaxed);
  atomic_fetch_add_explicit(&t[id - 1].blocks, k, memory_order_relaxed);
}

/* At thread exit: the pending counts go to the entries and the cache to
 * the next new thread. */
static void cache_flush_all(void *arg) {
  cache_t *c = arg;
  entry_t *t = atomic_load_explicit(&table, memory_order_acquire);
  if (c == NULL) return;
  for (size_t i = 0; t != NULL && i < CACHE_SLOTS; i++) {
    slot_flush(t, &c->slot[i]);
    atomic_store_explicit(&c->slot[i].hash, 0, memory_order_relaxed);
  }
  my_cache = NULL;
  cache_failed = true; /* this thread's last allocations count directly */
  atomic_store_explicit(&c->owned, 0, memory_order_release);
}

static cache_t *cache_make(void) {
  if (!track_exit_key_ready(&exit_key, cache_flush_all)) return NULL;
  cache_t *c = NULL;
  uint32_t n = atomic_load(&ncaches);
  for (uint32_t i = 0; i < n && c == NULL; i++) {
    int idle = 0;
    if (atomic_load_explicit(&caches[i]->owned, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&caches[i]->owned, &idle, 1))
      c = caches[i];
  }
  if (c == NULL) {
    os_lock(&lock);
    n = atomic_load(&ncaches);
    if (n < CACHES_MAX && (c = os_map_aligned(sizeof(cache_t), os_page_size(), 0)) != NULL) {
      atomic_store(&c->owned, 1);
      caches[n] = c;
      atomic_store(&ncaches, n + 1);
    }
    os_unlock(&lock);
  }
  if (c == NULL) return NULL;
  os_thread_key_set(exit_key.key, c);
  return c;
}

/* A stack met again on this thread is found in its cache by hash alone
 * (64 bits: a false match is not a practical concern), without the shared
 * table; the bytes it allocates wait there until the slot is reused. */
uint32_t track_stack_note(const uintptr_t *frames, size_t n, int64_t size, int64_t blocks) {
  if (n == 0) return 0;
  uint64_t h = hash_frames(frames, n);
  cache_t *c = my_cache;
  if (__builtin_expect(c == NULL, 0) && !cache_failed) {
    c = my_cache = cache_make();
    cache_failed = c == NULL;
  }
  cache_slot_t *s = c != NULL ? &c->slot[(h >> 8) & (CACHE_SLOTS - 1)] : NULL;
  if (s != NULL && atomic_load_explicit(&s->hash, memory_order_relaxed) == h) {
    /* only this thread writes its slots: plain read-add-write */
    atomic_store_explicit(&s->bytes, atomic_load_explicit(&s->bytes, memory_order_relaxed) + size,
                          memory_order_relaxed);
    atomic_store_explicit(&s->blocks, atomic_load_explicit(&s->blocks, memory_order_relaxed) + blocks,
                          memory_order_relaxed);
    return atomic_load_explicit(&s->id, memory_order_relaxed);
  }
  uint32_t id = intern(frames, n, h);
  entry_t *t = atomic_load_explicit(&table, memory_order_acquire);
  if (id == 0 || t == NULL) return id;
  if (s == NULL) { /* past CACHES_MAX threads: straight to the entry */
    atomic_fetch_add_explicit(&t[id - 1].bytes, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&t[id - 1].blocks, blocks, memory_order_relaxed);
    return id;
  }
  slot_flush(t, s);
  atomic_store_explicit(&s->id, id, memory_order_relaxed);
  atomic_store_explicit(&s->bytes, size, memory_order_relaxed);
  atomic_store_explicit(&s->blocks, blocks, memory_order_relaxed);
  atomic_store_explicit(&s->hash, h, memory_order_relaxed);
  return id;
}

void track_stack_each(void (*fn)(uint32_t id, int64_t bytes, int64_t blocks, void *arg), void *arg) {
  entry_t *t = atomic_load_explicit(&table, memory_order_acquire);
  if (t == NULL) return;
  /* other threads' pending counts are read, not moved (their owners may be
   * adding to them right now), into one total per stack */
  typedef struct { int64_t bytes, blocks; } total_t;
  total_t *pending = os_map_aligned(TABLE_SLOTS * sizeof *pending, os_page_size(), 0);
  uint32_t nc = atomic_load(&ncaches);
  for (uint32_t c = 0; pending != NULL && c < nc; c++)
    for (size_t k = 0; k < CACHE_SLOTS; k++) {
      cache_slot_t *s = &caches[c]->slot[k];
      uint32_t id = atomic_load_explicit(&s->id, memory_order_relaxed);
      if (id == 0 || id > TABLE_SLOTS) continue;
      pending[id - 1].bytes += atomic_load_explicit(&s->bytes, memory_order_relaxed);
      pending[id - 1].blocks += atomic_load_explicit(&s->blocks, memory_order_relaxed);
    }
  for (uint32_t i = 0; i < TABLE_SLOTS; i++) {
    entry_t *e = &t[i];
    if (atomic_load_explicit(&e->hash, memory_order_acquire) == 0) continue;
    int64_t b = atomic_load_explicit(&e->bytes, memory_order_relaxed);
    int64_t k = atomic_load_explicit(&e->blocks, memory_order_relaxed);
    if (pending != NULL) {
      b += pending[i].bytes;
      k += pending[i].blocks;
    }
    if (k > 0) fn(i + 1, b, k, arg);
  }
  if (pending != NULL) os_unmap(pending, TABLE_SLOTS * sizeof *pending);
}

void track_stacks_fork_lock(int phase) {
  if (phase == 0) os_lock(&lock);
  else if (phase == 1) os_unlock(&lock);
  else {
    os_lock_reset(&lock);
    /* the other threads are gone in the child: their caches (counts kept)
     * are free for its new threads */
    uint32_t n = atomic_load(&ncaches);
    for (uint32_t i = 0; i < n; i++)
      if (caches[i] != my_cache) atomic_store(&caches[i]->owned, 0);
  }
}
