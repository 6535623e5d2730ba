/* Taking over a program's own allocator: each spec of a profile becomes an
 * inline hook whose detour is a role entry serving the call from reheap's
 * heap; blocks reheap did not hand out (made before the takeover, or by a
 * path the profile does not cover) go back to the original function
 * through its trampoline. This file serves the calls; putting the hooks
 * in and taking them out is takeover_install.c.
 *
 * The entries themselves, which take a call in the program's convention
 * and number its arguments as the spec does, are the architecture's
 * (takeover_arch.h); everything here is the same on every one. */
#include "front/takeover.h"
#include "front/takeover_arch.h"
#include "front/takeover_home.h"
#include "front/takeover_quarantine.h"
#include "front/takeover_scrap.h"
#include "front/takeover_seat.h"

#include <stdatomic.h>
#include <string.h>

/* The entries take blocks from the library's home heap (takeover_home.h). */

takeover_seat_t takeover_seats[SPEC_PROFILE_MAX];

static uintptr_t call_original(const takeover_seat_t *s, const uintptr_t *a) {
  return takeover_call(s->original, s->conv, s->nargs, a);
}

static uintptr_t arg(const takeover_seat_t *s, spec_arg_t which, const uintptr_t *a) {
  return s->at[which] >= 0 ? a[s->at[which]] : 0;
}

/* Which blocks are ours. rh_owns() is not enough: a program's own
 * allocator usually carves its pools and heaps out of blocks it got from
 * malloc, which under `reheap run` is reheap's heap too, so its own blocks
 * lie inside reheap's memory. The entries' blocks therefore come from
 * pages of their own (takeover_home.h), which tell them apart by address.
 * (The one case that cannot be told: a program that carves blocks of its
 * own out of a block an entry handed out, and gives those to a patched
 * free. No allocator this was tried on does.) */
static inline bool ours(const void *p) { return p != NULL && home_owns(p); }

_Atomic bool takeover_active;

/* Freed blocks held back from reuse (takeover_quarantine.c), off unless set. */
_Atomic bool takeover_quarantining;

void takeover_set_quarantine(size_t bytes) {
  atomic_store_explicit(&takeover_quarantining, bytes != 0, memory_order_relaxed);
  quarantine_set(bytes);
}

size_t takeover_quarantine_held(void) { return quarantine_held(); }

static bool quarantined(void) { return atomic_load_explicit(&takeover_quarantining, memory_order_relaxed); }

size_t takeover_live_blocks(void) { return home_live(); }

bool takeover_owns(const void *p) { return ours(p); }

static void *ours_calloc(size_t count, size_t size) { return home_calloc(count, size); }

static void *ours_memalign(size_t align, size_t size) {
  return home_aligned(align < sizeof(void *) ? sizeof(void *) : align, size);
}

void *takeover_originals[SPEC_PROFILE_MAX];

static uintptr_t serve(takeover_seat_t *s, const uintptr_t *a);

/* A block that moves leaves its old place to the quarantine, as a free would. */
static void *realloc_quarantined(void *p, size_t size) {
  size_t old = home_usable_size(p);
  if (size <= old && size >= old / 2) return p;
  void *q = home_malloc(size);
  if (q == NULL) return NULL;
  memcpy(q, p, old < size ? old : size);
  quarantine_put(p);
  return q;
}

/* The calls a program makes most, malloc and free of reheap's own blocks,
 * first, in a function small enough to need no saved registers; the
 * rest apart. */
uintptr_t takeover_serve(size_t k, const uintptr_t *a) {
  takeover_seat_t *s = &takeover_seats[k];
  if (s->role == SPEC_ROLE_MALLOC) return (uintptr_t)home_malloc((size_t)(a[s->at[SPEC_ARG_SIZE]] & s->size_mask));
  if (s->role == SPEC_ROLE_FREE) {
    void *p = (void *)a[s->at[SPEC_ARG_PTR]];
    if (__builtin_expect(quarantined(), 0)) {
      if (p == NULL) return 0;
      if (ours(p)) {
        quarantine_put(p);
        return 0;
      }
      return call_original(s, a);
    }
    if (p == NULL || home_free_if_ours(p)) return 0;
    return call_original(s, a);
  }
  return serve(s, a);
}

/* A scrap heap's method: reheap's once the program initialized it through
 * the profile's scrap_init, the original's before (one the program set up
 * before the takeover keeps its own memory to the end). */
static uintptr_t scrap(takeover_seat_t *s, const uintptr_t *a, size_t size, void *p) {
  void *heap = (void *)arg(s, SPEC_ARG_HEAP, a);
  if (s->role == SPEC_ROLE_SCRAP_INIT) {
    if (heap == NULL) return call_original(s, a);
    scrap_init(heap);
    return (uintptr_t)heap;
  }
  if (!scrap_ours(heap)) return call_original(s, a);
  switch (s->role) {
  case SPEC_ROLE_SCRAP_ALLOC: return (uintptr_t)scrap_alloc(heap, size, (size_t)arg(s, SPEC_ARG_ALIGN, a));
  case SPEC_ROLE_SCRAP_FREE:
    /* one that is no block of the heap's is left alone: the original
     * could not take it either, the heap's memory being reheap's */
    if (p != NULL) scrap_free(heap, p);
    return 0;
  default: scrap_purge(heap); return 0;
  }
}

/* (every role places its own arguments: the parser sees to it) */
__attribute__((noinline)) static uintptr_t serve(takeover_seat_t *s, const uintptr_t *a) {
  size_t size = (size_t)(arg(s, SPEC_ARG_SIZE, a) & s->size_mask);
  void *p = (void *)arg(s, SPEC_ARG_PTR, a);
  switch (s->role) {
  case SPEC_ROLE_CALLOC:
    /* calloc(size): one of them */
    return (uintptr_t)ours_calloc(s->at[SPEC_ARG_COUNT] >= 0 ? (size_t)a[s->at[SPEC_ARG_COUNT]] : 1, size);
  case SPEC_ROLE_MEMALIGN:
    return (uintptr_t)ours_memalign((size_t)arg(s, SPEC_ARG_ALIGN, a), size);
  case SPEC_ROLE_MALLOC: /* served by takeover_serve */
  case SPEC_ROLE_FREE:
    break;
  case SPEC_ROLE_USABLE_SIZE:
    if (ours(p)) return home_usable_size(p);
    return call_original(s, a);
  case SPEC_ROLE_REALLOC:
    /* a size of 0 keeps a block, as the allocators that ship their own
     * (pymalloc's, Tcl's) do, rather than free it as C's may */
    if (p != NULL && ours(p) && quarantined()) return (uintptr_t)realloc_quarantined(p, size != 0 ? size : 1);
    if (p == NULL || ours(p)) return (uintptr_t)home_realloc(p, size != 0 ? size : 1);
    /* a foreign block moves into reheap's heap when the profile says how
     * big it is (its usable_size) and how to give it back (its free); the
     * other arguments (a method's object) are passed on as given */
    takeover_seat_t *sizer = s->size_pair, *freer = s->free_pair;
    if (sizer != NULL && freer != NULL && size != 0) {
      uintptr_t q[SPEC_ARGS_MAX];
      memcpy(q, a, sizeof q);
      q[sizer->at[SPEC_ARG_PTR]] = (uintptr_t)p;
      size_t old = (size_t)call_original(sizer, q);
      void *moved = home_malloc(size);
      if (moved == NULL) return 0;
      memcpy(moved, p, old < size ? old : size);
      memcpy(q, a, sizeof q);
      q[freer->at[SPEC_ARG_PTR]] = (uintptr_t)p;
      call_original(freer, q);
      return (uintptr_t)moved;
    }
    return call_original(s, a);
  case SPEC_ROLE_SCRAP_INIT:
  case SPEC_ROLE_SCRAP_ALLOC:
  case SPEC_ROLE_SCRAP_FREE:
  case SPEC_ROLE_SCRAP_PURGE:
    return scrap(s, a, size, p);
  }
  return 0;
}

void takeover_shape(size_t k, spec_conv_t *conv, int *nargs) {
  *conv = takeover_seats[k].conv;
  *nargs = takeover_seats[k].nargs;
}
