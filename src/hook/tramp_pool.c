/* Trampoline slots: 64 KiB chunks of executable memory, each mapped within
 * +/-2 GiB of the first target that needed it and shared by every later
 * target in reach; a chunk goes back to the OS with its last slot. The
 * bookkeeping is static: the engine must not call malloc, which it may be
 * in the middle of replacing. */
#include <string.h>

#include "hook/hook_internal.h"
#include "os/os.h"

#define CHUNK_SIZE ((size_t)64 << 10)
#define SLOTS_PER_CHUNK (CHUNK_SIZE / HOOK_SLOT_SIZE)
#define CHUNKS_MAX 256

_Static_assert(sizeof(hook_slot_t) <= HOOK_SLOT_SIZE, "slot layout outgrew its size");

typedef struct chunk {
  uint8_t *base;
  uint64_t used[SLOTS_PER_CHUNK / 64];
  size_t used_count;
} chunk_t;

static chunk_t chunks[CHUNKS_MAX];
static os_lock_t pool_lock = OS_LOCK_INIT;

bool hook_test_no_near_memory;

static bool in_reach(const uint8_t *base, const void *near) {
  if (near == NULL) return true;
  uintptr_t lo = (uintptr_t)base, hi = lo + CHUNK_SIZE, n = (uintptr_t)near;
  uintptr_t far = n > lo ? n - lo : hi - n;
  if (n > lo && hi > n) far = CHUNK_SIZE;
  return far <= HOOK_NEAR_RANGE;
}

static hook_slot_t *take(chunk_t *c) {
  for (size_t w = 0; w < SLOTS_PER_CHUNK / 64; w++) {
    if (c->used[w] == ~(uint64_t)0) continue;
    size_t b = (size_t)__builtin_ctzll(~c->used[w]);
    c->used[w] |= (uint64_t)1 << b;
    c->used_count++;
    hook_slot_t *s = (hook_slot_t *)(c->base + (w * 64 + b) * HOOK_SLOT_SIZE);
    memset(s, HOOK_FILL_BYTE, HOOK_SLOT_SIZE);
    return s;
  }
  return NULL;
}

hook_slot_t *hook_slot_alloc(const void *near, rh_status_t *why) {
  hook_slot_t *s = NULL;
  if (near != NULL && hook_test_no_near_memory) {
    *why = RH_ERR_NO_NEAR_MEMORY;
    return NULL;
  }
  os_lock(&pool_lock);
  chunk_t *empty = NULL;
  for (size_t i = 0; i < CHUNKS_MAX && s == NULL; i++) {
    chunk_t *c = &chunks[i];
    if (c->base == NULL) {
      if (empty == NULL) empty = c;
      continue;
    }
    if (c->used_count < SLOTS_PER_CHUNK && in_reach(c->base, near)) s = take(c);
  }
  if (s == NULL) {
    *why = RH_ERR_NO_NEAR_MEMORY;
    if (empty != NULL) {
      bool refused;
      uint8_t *base = near != NULL
                          ? os_map_code_near(near, CHUNK_SIZE, HOOK_NEAR_RANGE, &refused)
                          : os_map_code_near(NULL, CHUNK_SIZE, (size_t)-1, &refused);
      if (base == NULL) {
        if (refused) *why = RH_ERR_PROTECT;
      } else {
        empty->base = base;
        memset(empty->used, 0, sizeof empty->used);
        empty->used_count = 0;
        s = take(empty);
      }
    }
  }
  os_unlock(&pool_lock);
  return s;
}

void hook_slot_free(hook_slot_t *slot) {
  os_lock(&pool_lock);
  for (size_t i = 0; i < CHUNKS_MAX; i++) {
    chunk_t *c = &chunks[i];
    if (c->base == NULL || (uint8_t *)slot < c->base || (uint8_t *)slot >= c->base + CHUNK_SIZE)
      continue;
    size_t k = (size_t)((uint8_t *)slot - c->base) / HOOK_SLOT_SIZE;
    c->used[k / 64] &= ~((uint64_t)1 << (k % 64));
    c->used_count--;
    memset(slot, HOOK_FILL_BYTE, HOOK_SLOT_SIZE);
    if (c->used_count == 0) {
      os_unmap(c->base, CHUNK_SIZE);
      c->base = NULL;
    }
    break;
  }
  os_unlock(&pool_lock);
}
