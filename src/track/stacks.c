/* Call stacks: captured by walking frame pointers, stored once each in a
 * table of distinct stacks, named by a small id (0 = none).
 *
 * The walk trusts a frame only if it lies above the previous one and not
 * far from it, on the 16-byte alignment the ABI keeps, so code built
 * without frame pointers ends the walk instead of sending it astray. */
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define TABLE_SLOTS (1u << 16) /* distinct stacks at most */
#define ARENA_BYTES ((size_t)32 << 20)

typedef struct entry {
  uint64_t hash;
  uint32_t depth;
  uint32_t offset; /* into the frame arena, in frames */
} entry_t;

static entry_t *table;     /* TABLE_SLOTS, index = id - 1 via probing */
static uintptr_t *arena;   /* frames of every stack, back to back */
static size_t arena_used;  /* in frames */
static uint32_t count;
static os_lock_t lock = OS_LOCK_INIT;

size_t track_stack_capture(uintptr_t *frames, size_t max, size_t skip) {
  uintptr_t *fp = __builtin_frame_address(0);
  size_t n = 0;
  while (fp != NULL && n < max) {
    uintptr_t ret = fp[1];
    uintptr_t *up = (uintptr_t *)fp[0];
    if (ret == 0) break;
    if (skip > 0) skip--;
    else frames[n++] = ret;
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

uint32_t track_stack_intern(const uintptr_t *frames, size_t n) {
  if (n == 0) return 0;
  uint64_t h = hash_frames(frames, n);
  os_lock(&lock);
  if (table == NULL) {
    table = os_map_aligned(TABLE_SLOTS * sizeof *table, os_page_size(), 0);
    arena = os_map_aligned(ARENA_BYTES, os_page_size(), 0);
    if (table == NULL || arena == NULL) {
      os_unlock(&lock);
      return 0;
    }
  }
  uint32_t id = 0;
  for (uint32_t i = 0; i < TABLE_SLOTS; i++) {
    uint32_t slot = (uint32_t)(h + i) & (TABLE_SLOTS - 1);
    entry_t *e = &table[slot];
    if (e->hash == 0) {
      /* new stack: room for it? (a full table or arena: no stack, not a crash) */
      if (count + 1 >= TABLE_SLOTS * 3 / 4 || arena_used + n > ARENA_BYTES / sizeof *arena) break;
      e->hash = h;
      e->depth = (uint32_t)n;
      e->offset = (uint32_t)arena_used;
      memcpy(arena + arena_used, frames, n * sizeof *frames);
      arena_used += n;
      count++;
      id = slot + 1;
      break;
    }
    if (e->hash == h && e->depth == n && memcmp(arena + e->offset, frames, n * sizeof *frames) == 0) {
      id = slot + 1;
      break;
    }
  }
  os_unlock(&lock);
  return id;
}

size_t track_stack_get(uint32_t id, const uintptr_t **frames) {
  if (id == 0 || table == NULL) return 0;
  entry_t *e = &table[id - 1];
  *frames = arena + e->offset;
  return e->depth;
}

void track_stacks_fork_lock(int phase) {
  if (phase == 0) os_lock(&lock);
  else if (phase == 1) os_unlock(&lock);
  else os_lock_reset(&lock);
}
