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
#define CACHE_SLOTS 64         /* per thread, direct-mapped by id */
#define CACHES_MAX 4096        /* threads with a cache (later ones count directly) */

typedef struct entry {
  _Atomic uint64_t hash; /* 0: empty; written last */
  uint32_t depth;
  uint32_t offset;       /* into the frame arena, in frames */
  _Atomic int64_t bytes, blocks; /* allocated from this stack, flushed part */
} entry_t;

typedef struct cache_slot {
  _Atomic uint32_t id;
  _Atomic int64_t bytes, blocks; /* not yet in the entry */
} cache_slot_t;

typedef struct cache {
  cache_slot_t slot[CACHE_SLOTS];
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
static os_thread_key_t exit_key;
static _Atomic int key_state; /* 0 none, 1 making, 2 made, 3 failed */

size_t track_stack_capture(uintptr_t *frames, size_t max, uintptr_t skip_lo, uintptr_t skip_hi) {
  uintptr_t *fp = __builtin_frame_address(0);
  size_t n = 0;
  bool skipping = true;
  while (fp != NULL && n < max) {
    uintptr_t ret = fp[1];
    uintptr_t *up = (uintptr_t *)fp[0];
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

uint32_t track_stack_intern(const uintptr_t *frames, size_t n) {
  if (n == 0) return 0;
  entry_t *t = table_get();
  if (t == NULL) return 0;
  uint64_t h = hash_frames(frames, n);
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

static void cache_flush_all(void *arg) {
  cache_t *c = arg;
  entry_t *t = atomic_load_explicit(&table, memory_order_acquire);
  if (c == NULL || t == NULL) return;
  for (size_t i = 0; i < CACHE_SLOTS; i++) slot_flush(t, &c->slot[i]);
}

static cache_t *cache_make(void) {
  int st = atomic_load(&key_state);
  if (st == 0 && atomic_compare_exchange_strong(&key_state, &st, 1))
    atomic_store(&key_state, os_thread_key_new(&exit_key, cache_flush_all) ? 2 : 3);
  while ((st = atomic_load(&key_state)) == 1) {
  }
  uint32_t i = atomic_load(&ncaches);
  cache_t *c = NULL;
  os_lock(&lock);
  i = atomic_load(&ncaches);
  if (st == 2 && i < CACHES_MAX) {
    c = os_map_aligned(sizeof(cache_t), os_page_size(), 0);
    if (c != NULL) {
      caches[i] = c;
      atomic_store(&ncaches, i + 1);
    }
  }
  os_unlock(&lock);
  if (c == NULL) return NULL;
  os_thread_key_set(exit_key, c);
  return c;
}

void track_stack_count(uint32_t id, size_t size) {
  entry_t *t = atomic_load_explicit(&table, memory_order_relaxed);
  if (id == 0 || t == NULL) return;
  cache_t *c = my_cache;
  if (c == NULL && !cache_failed) {
    c = my_cache = cache_make();
    cache_failed = c == NULL;
  }
  if (c == NULL) { /* past CACHES_MAX threads: straight to the entry */
    atomic_fetch_add_explicit(&t[id - 1].bytes, (int64_t)size, memory_order_relaxed);
    atomic_fetch_add_explicit(&t[id - 1].blocks, 1, memory_order_relaxed);
    return;
  }
  cache_slot_t *s = &c->slot[(id * 2654435761u) >> 26];
  if (atomic_load_explicit(&s->id, memory_order_relaxed) != id) {
    slot_flush(t, s);
    atomic_store_explicit(&s->id, id, memory_order_relaxed);
  }
  /* only this thread writes its slots; plain read-add-write */
  atomic_store_explicit(&s->bytes, atomic_load_explicit(&s->bytes, memory_order_relaxed) + (int64_t)size,
                        memory_order_relaxed);
  atomic_store_explicit(&s->blocks, atomic_load_explicit(&s->blocks, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

void track_stack_each(void (*fn)(uint32_t id, int64_t bytes, int64_t blocks, void *arg), void *arg) {
  entry_t *t = atomic_load_explicit(&table, memory_order_acquire);
  if (t == NULL) return;
  /* other threads' pending counts are read, not moved: their owners may be
   * adding to them right now */
  uint32_t nc = atomic_load(&ncaches);
  for (uint32_t i = 0; i < TABLE_SLOTS; i++) {
    entry_t *e = &t[i];
    if (atomic_load_explicit(&e->hash, memory_order_acquire) == 0) continue;
    int64_t b = atomic_load_explicit(&e->bytes, memory_order_relaxed);
    int64_t k = atomic_load_explicit(&e->blocks, memory_order_relaxed);
    for (uint32_t c = 0; c < nc; c++) {
      cache_slot_t *s = &caches[c]->slot[((i + 1) * 2654435761u) >> 26];
      if (atomic_load_explicit(&s->id, memory_order_relaxed) == i + 1) {
        b += atomic_load_explicit(&s->bytes, memory_order_relaxed);
        k += atomic_load_explicit(&s->blocks, memory_order_relaxed);
      }
    }
    if (k > 0) fn(i + 1, b, k, arg);
  }
}

void track_stacks_fork_lock(int phase) {
  if (phase == 0) os_lock(&lock);
  else if (phase == 1) os_unlock(&lock);
  else os_lock_reset(&lock);
}
