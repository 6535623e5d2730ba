/* Uses its legacy allocator (liblegacy_heap.so) and says who served it.
 * "takeover": every block made in main must come from reheap's heap
 * (rh_owns, looked up at run time), the blocks made before it still be
 * its own, freed and resized by the original functions, with their
 * contents kept. "own": nothing was taken over and lh_alloc's first
 * bytes are as they were. Exit 0 when all holds. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "legacy_heap.h"

typedef int (*owns_fn)(const void *);
typedef bool (*flag_fn)(void);
typedef size_t (*count_fn)(void);
typedef const char *(*name_fn)(size_t);
typedef uint64_t (*u64_fn)(void);

#define N 2000

static int fails;
#define EXPECT(c, ...)                 \
  do {                                 \
    if (!(c)) {                        \
      fprintf(stderr, "takeover_prog: "); \
      fprintf(stderr, __VA_ARGS__);    \
      fputc('\n', stderr);             \
      fails++;                         \
    }                                  \
  } while (0)

/* "pointers": the calls go through the library's table, whose pointers a
 * profile switched; its code stays as built */
static int pointers(void) {
  owns_fn rh_owns = (owns_fn)dlsym(RTLD_DEFAULT, "rh_owns");
  unsigned long own_before = lh_own_allocs;
  int from_reheap = 0;
  for (int i = 0; i < 500; i++) {
    size_t size = 1 + (size_t)(i * 53) % 2000;
    unsigned char *p = lh_alloc_ptr(size);
    EXPECT(p != NULL, "block %d is NULL", i);
    if (p == NULL) continue;
    memset(p, i & 0xff, size);
    from_reheap += rh_owns != NULL && rh_owns(p) && !lh_owns(p);
    EXPECT(p[size - 1] == (i & 0xff), "block %d", i);
    lh_free_ptr(p);
  }
  /* a block of its own, from before: back to its own free */
  lh_free_ptr(lh_early[3]);
  unsigned long own = lh_own_allocs - own_before;
  bool untouched = memcmp(lh_entry_bytes, (const void *)(uintptr_t)lh_alloc, sizeof lh_entry_bytes) == 0;
  EXPECT(untouched, "lh_alloc's code was patched");
  EXPECT(lh_own_frees == 1, "%lu own frees, not 1", lh_own_frees);
  printf("pointers: %s, %d of 500 from reheap, %lu own allocs, code %s\n", fails ? "FAILED" : "ok", from_reheap,
         own, untouched ? "untouched" : "patched");
  return fails != 0 || from_reheap != 500 || own != 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "pointers") == 0) return pointers();
  int takeover = argc > 1 && strcmp(argv[1], "takeover") == 0;
  owns_fn rh_owns = (owns_fn)dlsym(RTLD_DEFAULT, "rh_owns");
  unsigned long own_before = lh_own_allocs, frees_before = lh_own_frees;
  static void *blocks[N];
  static lh_heap_t heap;
  int from_reheap = 0;
  for (int i = 0; i < N; i++) {
    size_t size = 1 + (size_t)(i * 37) % 3000;
    blocks[i] = i % 2 ? lh_alloc(size) : lh_heap_alloc(&heap, size);
    EXPECT(blocks[i] != NULL, "block %d is NULL", i);
    memset(blocks[i], i & 0xff, size);
    EXPECT(lh_size(blocks[i]) >= size, "lh_size(%d) = %zu < %zu", i, lh_size(blocks[i]), size);
    /* on another heap (--heap=system --track) no rh_owns: not its own */
    from_reheap += !lh_owns(blocks[i]) && (rh_owns == NULL || rh_owns(blocks[i]));
  }
  /* "takeover READY": say so in the file READY, and linger, so that a test
   * can look at the process with reheap stat */
  if (argc > 2) {
    FILE *ready = fopen(argv[2], "w");
    if (ready != NULL) fclose(ready);
    sleep(3);
  }
  /* blocks made before main: still its own; one grows (moving), the rest go */
  for (int i = 0; i < LH_EARLY; i++) EXPECT(lh_owns(lh_early[i]), "early block %d not its own", i);
  EXPECT(lh_size(lh_early[0]) == 100, "early size %zu", lh_size(lh_early[0]));
  char *grown = lh_realloc(lh_early[0], 5000);
  EXPECT(grown != NULL && memcmp(grown, "aaaaaaaaaa", 10) == 0 && grown[99] == 'a', "realloc lost the contents");
  for (int i = 1; i < LH_EARLY; i++) lh_free(lh_early[i]);
  /* a block of the run grows and shrinks through lh_realloc, contents kept */
  for (int i = 0; i < 8; i++) {
    size_t size = 1 + (size_t)(i * 37) % 3000;
    size_t to = i % 2 ? size * 3 + 100 : size / 2 + 1;
    void *moved = lh_realloc(blocks[i], to);
    EXPECT(moved != NULL, "realloc of block %d failed", i);
    if (moved == NULL) continue;
    const unsigned char *b = moved;
    size_t kept = to < size ? to : size;
    EXPECT(b[0] == (i & 0xff) && b[kept - 1] == (i & 0xff), "realloc of block %d lost its contents", i);
    EXPECT(lh_size(moved) >= to, "realloc of block %d: size %zu < %zu", i, lh_size(moved), to);
    memset(moved, i & 0xff, to);
    blocks[i] = moved;
  }
  for (int i = 0; i < N; i++) {
    size_t size = 1 + (size_t)(i * 37) % 3000;
    if (i < 8) size = i % 2 ? size * 3 + 100 : size / 2 + 1;
    const unsigned char *b = blocks[i];
    EXPECT(b[0] == (i & 0xff) && b[size - 1] == (i & 0xff), "block %d overwritten", i);
    if (i % 2) lh_free(blocks[i]);
    else lh_heap_free(&heap, blocks[i]);
  }
  lh_free(grown);
  /* LH_KEEP_ONE: a block left for the library's own teardown to free */
  if (getenv("LH_KEEP_ONE") != NULL) lh_exit_block = lh_alloc(64);
  unsigned long own_allocs = lh_own_allocs - own_before, own_frees = lh_own_frees - frees_before;
  int patched = memcmp(lh_entry_bytes, (const void *)(uintptr_t)lh_alloc, sizeof lh_entry_bytes) != 0;
  /* what reheap says of itself (include/reheap/reheap.h) */
  flag_fn is_patched = (flag_fn)dlsym(RTLD_DEFAULT, "rh_is_patched");
  count_fn patched_count = (count_fn)dlsym(RTLD_DEFAULT, "rh_patched_count");
  name_fn patched_name = (name_fn)dlsym(RTLD_DEFAULT, "rh_patched_name");
  u64_fn allocations = (u64_fn)dlsym(RTLD_DEFAULT, "rh_allocations");
  if (takeover) {
    EXPECT(is_patched != NULL && is_patched(), "rh_is_patched is not true");
    EXPECT(patched_count != NULL && patched_count() == 6, "rh_patched_count is not 6");
    bool named = false;
    for (size_t k = 0; patched_name != NULL && patched_name(k) != NULL; k++)
      named |= strcmp(patched_name(k), "liblegacy_heap.so!lh_alloc") == 0 || strcmp(patched_name(k), "lh_alloc") == 0;
    EXPECT(named, "rh_patched_name does not name lh_alloc as its spec did");
    EXPECT(rh_owns == NULL || (allocations != NULL && allocations() >= N), "rh_allocations below %d", N);
  } else if (is_patched != NULL) {
    EXPECT(!is_patched() && patched_count() == 0 && patched_name(0) == NULL, "patched in own mode");
  }
  if (takeover) {
    EXPECT(from_reheap == N, "%d of %d blocks from reheap's heap", from_reheap, N);
    EXPECT(own_allocs == 0, "%lu blocks still from its own heap", own_allocs);
    /* the 9 early blocks freed, and the grown one's old block, went back */
    EXPECT(own_frees == LH_EARLY, "%lu of its own frees, not %d", own_frees, LH_EARLY);
    EXPECT(patched, "lh_alloc's entry is as it was");
  } else {
    /* N blocks, the grown early one, the 8 reallocated */
    EXPECT(from_reheap == 0 && own_allocs == N + 1 + 8, "own mode: %d from reheap, %lu own", from_reheap, own_allocs);
    EXPECT(!patched, "lh_alloc's first bytes changed");
  }
  EXPECT(heap.calls == N || takeover, "heap method calls %lu", heap.calls);
  printf("takeover_prog: %s, %d of %d from reheap, %lu own allocs, %lu own frees\n",
         fails ? "FAILED" : "ok", from_reheap, N, own_allocs, own_frees);
  return fails != 0;
}
