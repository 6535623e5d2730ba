/* A program's own allocator, as old programs ship them: a bump heap with a
 * 16-byte header per block, called directly, with a method-style pair
 * taking the heap object first. Its arena comes from malloc, as engines'
 * arenas do: under `reheap run` its blocks lie inside reheap's heap, and
 * a takeover must still tell them from its own. Its constructor makes
 * blocks before any takeover can happen (a library's constructors run
 * before the preload library's), which a takeover must leave to it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_heap.h"

#define ARENA (8u << 20)
#define MAGIC_LIVE 0x4c49564555ull
#define MAGIC_FREE 0x4652454555ull

typedef struct header {
  uint64_t size, magic;
} header_t;

static unsigned char *arena;
static size_t used;
unsigned long lh_own_allocs, lh_own_frees;
void *lh_early[LH_EARLY];
unsigned char lh_entry_bytes[16];
void *lh_exit_block;
void *(*lh_alloc_ptr)(size_t size) = lh_alloc;
void (*lh_free_ptr)(void *p) = lh_free;

int lh_owns(const void *p) {
  return arena != NULL && (const unsigned char *)p >= arena && (const unsigned char *)p < arena + ARENA;
}

__attribute__((noinline)) void *lh_alloc(size_t size) {
  size_t need = sizeof(header_t) + ((size + 15) & ~(size_t)15);
  if (used + need > ARENA) return NULL;
  header_t *h = (header_t *)(arena + used);
  used += need;
  h->size = size;
  h->magic = MAGIC_LIVE;
  lh_own_allocs++;
  return h + 1;
}

__attribute__((noinline)) void lh_free(void *p) {
  if (p == NULL) return;
  header_t *h = (header_t *)p - 1;
  if (!lh_owns(p) || h->magic != MAGIC_LIVE) __builtin_trap(); /* not ours: the takeover sent it wrong */
  h->magic = MAGIC_FREE;
  lh_own_frees++;
}

__attribute__((noinline)) size_t lh_size(void *p) {
  header_t *h = (header_t *)p - 1;
  if (!lh_owns(p) || h->magic != MAGIC_LIVE) __builtin_trap();
  return h->size;
}

__attribute__((noinline)) void *lh_realloc(void *p, size_t size) {
  void *q = lh_alloc(size);
  if (q != NULL && p != NULL) {
    size_t old = lh_size(p);
    memcpy(q, p, old < size ? old : size);
    lh_free(p);
  }
  return q;
}

__attribute__((noinline)) void *lh_heap_alloc(lh_heap_t *heap, size_t size) {
  heap->calls++;
  return lh_alloc(size);
}

__attribute__((noinline)) void lh_heap_free(lh_heap_t *heap, void *p) {
  heap->calls++;
  lh_free(p);
}

/* every function's first bytes, as built */
#define FUNCTIONS 6
static unsigned char code[FUNCTIONS][16];
static const void *function(int i) {
  const void *f[FUNCTIONS] = {(const void *)(uintptr_t)lh_alloc, (const void *)(uintptr_t)lh_free,
                              (const void *)(uintptr_t)lh_size, (const void *)(uintptr_t)lh_realloc,
                              (const void *)(uintptr_t)lh_heap_alloc, (const void *)(uintptr_t)lh_heap_free};
  return f[i];
}

/* Runs after the preload library's destructors (libraries loaded with the
 * program finish after it): frees the block the program left for it, as
 * a library's own teardown does, and, with LH_REPORT_AT_EXIT set, says how
 * many of its functions are as they were built. */
__attribute__((destructor)) static void late(void) {
  lh_free(lh_exit_block);
  if (getenv("LH_REPORT_AT_EXIT") == NULL) return;
  int same = 0;
  for (int i = 0; i < FUNCTIONS; i++) same += memcmp(code[i], function(i), sizeof code[i]) == 0;
  int pointers = (lh_alloc_ptr == lh_alloc) + (lh_free_ptr == lh_free);
  fprintf(stderr, "liblegacy_heap at exit: %d of %d functions as built, %d of 2 pointers as set\n", same,
          FUNCTIONS, pointers);
}

__attribute__((constructor)) static void early(void) {
  arena = malloc(ARENA);
  if (arena == NULL) __builtin_trap();
  memcpy(lh_entry_bytes, (const void *)(uintptr_t)lh_alloc, sizeof lh_entry_bytes);
  for (int i = 0; i < FUNCTIONS; i++) memcpy(code[i], function(i), sizeof code[i]);
  for (int i = 0; i < LH_EARLY; i++) {
    lh_early[i] = lh_alloc(100 + (size_t)i);
    memset(lh_early[i], 'a' + i, 100 + (size_t)i);
  }
}
