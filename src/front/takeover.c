/* Taking over a program's own allocator: each spec of a profile becomes an
 * inline hook whose detour is a role entry serving the call from reheap's
 * heap; blocks reheap did not hand out (made before the takeover, or by a
 * path the profile does not cover) go back to the original function
 * through its trampoline.
 *
 * The entries themselves, which take a call in the program's convention
 * and number its arguments as the spec does, are the architecture's
 * (takeover_arch.h); everything here is the same on every one. */
#include "front/takeover.h"
#include "front/takeover_arch.h"
#include "front/takeover_home.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "os/os.h"
#include "reheap/hook.h"

/* what each call reads comes first, in the seat's first cache line */
typedef struct seat {
  spec_role_t role;
  int8_t at[5];         /* position of each spec_arg_t (size, count, ptr, align), or -1 */
  spec_conv_t conv;
  int nargs;
  void *original; /* the function as it was, through its trampoline, or
                   * the pointer a slot held */
  void *target;   /* the function's code, or the slot (*TARGET) */
  rh_hook_t *hook; /* NULL for a slot */
  bool slot;
  /* for a realloc: the usable_size and free of the same allocator, which
   * size a foreign block and give it back when it moves into reheap's heap */
  struct seat *size_pair, *free_pair;
  uint8_t before[16]; /* the target's first bytes before it was patched */
  size_t nbefore;
  char name[2 * SPEC_NAME_MAX + 8]; /* the target as its spec gave it */
} seat_t;

/* The entries take blocks from the library's home heap (takeover_home.h). */

static seat_t seats[SPEC_PROFILE_MAX];
static size_t nseats;
static rh_hook_t *hooks[SPEC_PROFILE_MAX]; /* the inline hooks among them */
static size_t nhooks;


static uintptr_t call_original(const seat_t *s, const uintptr_t *a) {
  return takeover_call(s->original, s->conv, s->nargs, a);
}

static uintptr_t arg(const seat_t *s, spec_arg_t which, const uintptr_t *a) {
  return s->at[which] >= 0 ? a[s->at[which]] : 0;
}

/* Which blocks are ours. rh_owns() is not enough: a program's own
 * allocator usually carves its pools and heaps out of blocks it got from
 * malloc, which under `reheap run` is reheap's heap too, so its own blocks
 * lie inside reheap's memory. Every block an entry hands out therefore
 * carries a tag in the 16 bytes before it: its address scrambled with a
 * constant, and how far the block reheap allocated starts before it. */
#define TAG_KEY 0x7265686561705447ull /* "reheapTG" */

typedef struct tag {
  uint64_t check;  /* TAG_KEY ^ the block's address; 0 once freed */
  uint64_t offset; /* from the allocation's start to the block */
} tag_t;

static void *tag(void *base, size_t offset) {
  if (base == NULL) return NULL;
  unsigned char *p = (unsigned char *)base + offset;
  tag_t *t = (tag_t *)p - 1;
  t->check = TAG_KEY ^ (uintptr_t)p;
  t->offset = offset;
  return p;
}

_Static_assert(sizeof(tag_t) == TAKEOVER_TAG_SIZE, "the home heap reads whole tags");

static inline bool ours(const void *p) {
  if (p == NULL || ((uintptr_t)p & 15) != 0) return false;
  tag_t t;
  return home_read_tag(p, &t) && t.check == (TAG_KEY ^ (uintptr_t)p) &&
         home_owns_base((const unsigned char *)p - t.offset);
}

static void *base_of(void *p) { return (unsigned char *)p - ((tag_t *)p - 1)->offset; }

_Atomic bool takeover_active;

/* How many of the entries' blocks are live, so that the functions are put
 * back only when none can reach them any more. Counted per thread, with
 * no shared atomic on the hot path: a thread takes a tally on its first
 * block and only it writes there; a reader sums them all. Past TALLIES
 * threads, the rest share one tally with atomic adds. */
#define TALLIES 1024
typedef struct tally {
  _Atomic uintptr_t made, gone;
} tally_t;
static tally_t tallies[TALLIES], shared_tally;
static _Atomic size_t ntallies;
static _Thread_local tally_t *my_tally;

static tally_t *tally(void) {
  tally_t *t = my_tally;
  if (__builtin_expect(t == NULL, 0)) {
    size_t i = atomic_fetch_add_explicit(&ntallies, 1, memory_order_relaxed);
    t = my_tally = i < TALLIES ? &tallies[i] : &shared_tally;
  }
  return t;
}

static void bump(_Atomic uintptr_t *c, tally_t *t) {
  if (t == &shared_tally) atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
  else atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static inline void *made(void *p) {
  if (p != NULL) {
    tally_t *t = tally();
    bump(&t->made, t);
  }
  return p;
}

static inline void gone(void) {
  tally_t *t = tally();
  bump(&t->gone, t);
}

size_t takeover_live_blocks(void) {
  uintptr_t live = atomic_load_explicit(&shared_tally.made, memory_order_relaxed) -
                   atomic_load_explicit(&shared_tally.gone, memory_order_relaxed);
  size_t n = atomic_load_explicit(&ntallies, memory_order_relaxed);
  for (size_t i = 0; i < n && i < TALLIES; i++)
    live += atomic_load_explicit(&tallies[i].made, memory_order_relaxed) -
            atomic_load_explicit(&tallies[i].gone, memory_order_relaxed);
  return (size_t)live; /* the differences wrap, their sum does not */
}

/* p is one of the entries' blocks: its tag is cleared and its
 * allocation's start returned, with the block's usable size */
static void *release(void *p, size_t *size) {
  void *base = base_of(p);
  *size = home_usable_size(base) - ((tag_t *)p - 1)->offset;
  ((tag_t *)p - 1)->check = 0;
  gone();
  return base;
}

void *takeover_adopt(void *p, size_t *size) { return ours(p) ? release(p, size) : NULL; }

static void *ours_malloc(size_t size) {
  if (size > SIZE_MAX - sizeof(tag_t)) return NULL;
  return made(tag(home_malloc(size + sizeof(tag_t)), sizeof(tag_t)));
}

static void *ours_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total) || total > SIZE_MAX - sizeof(tag_t)) return NULL;
  return made(tag(home_calloc(1, total + sizeof(tag_t)), sizeof(tag_t)));
}

/* the tag takes a whole alignment step in front of the block */
static void *ours_memalign(size_t align, size_t size) {
  if (align < sizeof(tag_t)) align = sizeof(tag_t);
  if ((align & (align - 1)) != 0 || size > SIZE_MAX - 2 * align) return NULL;
  size_t total = (size + align + align - 1) & ~(align - 1);
  return made(tag(home_aligned_alloc(align, total), align));
}

static void ours_free(void *p) {
  void *base = base_of(p);
  ((tag_t *)p - 1)->check = 0;
  home_free(base);
  gone();
}

static size_t ours_size(void *p) {
  return home_usable_size(base_of(p)) - ((tag_t *)p - 1)->offset;
}

bool takeover_tagged(const void *p) { return ours(p); }

void *takeover_realloc_tagged(void *p, size_t size) {
  void *q = home_malloc(size);
  if (q == NULL && size != 0) return NULL; /* p stays as it was */
  size_t old;
  void *base = release(p, &old);
  if (q != NULL) memcpy(q, p, old < size ? old : size);
  home_free(base);
  return q;
}

size_t takeover_size(void *p) { return ours_size(p); }

static void *ours_realloc(void *p, size_t size) {
  if (p == NULL) return ours_malloc(size);
  if (((tag_t *)p - 1)->offset == sizeof(tag_t)) {
    if (size > SIZE_MAX - sizeof(tag_t)) return NULL;
    /* the tag goes first: a block that moves must not leave one behind, in
     * memory the program's own allocator may get next */
    tag_t *t = (tag_t *)p - 1;
    t->check = 0;
    void *base = home_realloc(base_of(p), size + sizeof(tag_t));
    if (base == NULL) {
      t->check = TAG_KEY ^ (uintptr_t)p; /* p stays as it was */
      return NULL;
    }
    return tag(base, sizeof(tag_t));
  }
  /* an aligned block keeps no alignment through realloc (as C's) */
  void *q = ours_malloc(size);
  if (q == NULL) return NULL;
  size_t old = ours_size(p);
  memcpy(q, p, old < size ? old : size);
  ours_free(p);
  return q;
}

static uintptr_t serve(seat_t *s, const uintptr_t *a);

/* The calls a program makes most, malloc and free of reheap's own blocks,
 * first, in a function small enough to need no saved registers; the
 * rest apart. */
uintptr_t takeover_serve(size_t k, const uintptr_t *a) {
  seat_t *s = &seats[k];
  if (s->role == SPEC_ROLE_MALLOC) return (uintptr_t)ours_malloc((size_t)a[s->at[SPEC_ARG_SIZE]]);
  if (s->role == SPEC_ROLE_FREE) {
    void *p = (void *)a[s->at[SPEC_ARG_PTR]];
    if (p == NULL) return 0;
    if (!ours(p)) return call_original(s, a);
    ours_free(p);
    return 0;
  }
  return serve(s, a);
}

/* (every role places its own arguments: the parser sees to it) */
__attribute__((noinline)) static uintptr_t serve(seat_t *s, const uintptr_t *a) {
  size_t size = (size_t)arg(s, SPEC_ARG_SIZE, a);
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
    if (ours(p)) return ours_size(p);
    return call_original(s, a);
  case SPEC_ROLE_REALLOC:
    if (p == NULL || ours(p)) return (uintptr_t)ours_realloc(p, size);
    /* a foreign block moves into reheap's heap when the profile says how
     * big it is (its usable_size) and how to give it back (its free); the
     * other arguments (a method's object) are passed on as given */
    seat_t *sizer = s->size_pair, *freer = s->free_pair;
    if (sizer != NULL && freer != NULL && size != 0) {
      uintptr_t q[SPEC_ARGS_MAX];
      memcpy(q, a, sizeof q);
      q[sizer->at[SPEC_ARG_PTR]] = (uintptr_t)p;
      size_t old = (size_t)call_original(sizer, q);
      void *moved = ours_malloc(size);
      if (moved == NULL) return 0;
      memcpy(moved, p, old < size ? old : size);
      memcpy(q, a, sizeof q);
      q[freer->at[SPEC_ARG_PTR]] = (uintptr_t)p;
      call_original(freer, q);
      return (uintptr_t)moved;
    }
    return call_original(s, a);
  }
  return 0;
}

static void describe(const spec_t *s, char *buf, size_t cap) {
  if (s->slot && cap > 1) {
    *buf++ = '*';
    cap--;
  }
  switch (s->kind) {
  case SPEC_TARGET_SYMBOL: snprintf(buf, cap, "%s", s->symbol); break;
  case SPEC_TARGET_MODULE_SYMBOL: snprintf(buf, cap, "%s!%s", s->module, s->symbol); break;
  case SPEC_TARGET_ADDRESS: snprintf(buf, cap, "0x%llx", (unsigned long long)s->address); break;
  case SPEC_TARGET_MODULE_OFFSET:
    snprintf(buf, cap, "%s+0x%llx", s->module, (unsigned long long)s->address);
    break;
  }
}

static bool is_code(const void *p) { return os_module_code(p) || (os_prot_of(p) & OS_PROT_EXEC) != 0; }

static void *resolve(const spec_t *s, char *why, size_t cap) {
  void *p = NULL;
  switch (s->kind) {
  case SPEC_TARGET_SYMBOL:
    p = os_symbol_lookup(s->symbol);
    if (p == NULL) snprintf(why, cap, "no loaded module defines it");
    break;
  case SPEC_TARGET_MODULE_SYMBOL:
    p = os_module_symbol(s->module, s->symbol);
    if (p == NULL) snprintf(why, cap, "module %s is not loaded or does not define it", s->module);
    /* a library's variable that the program uses lives in the program,
     * copied there at load (a copy relocation); the library's own is
     * left unused, and the global scope finds the one in use */
    if (p != NULL && s->slot) {
      void *used = os_symbol_lookup(s->symbol);
      if (used != NULL && used != p && os_in_program(used)) p = used;
    }
    break;
  case SPEC_TARGET_ADDRESS:
    p = (void *)(uintptr_t)s->address;
    break;
  case SPEC_TARGET_MODULE_OFFSET: {
    uintptr_t base = os_module_base(s->module);
    if (base == 0) snprintf(why, cap, "module %s is not loaded", s->module);
    else p = (void *)(base + (uintptr_t)s->address);
    break;
  }
  }
  if (p != NULL && !s->slot && !is_code(p)) {
    snprintf(why, cap, "%p is not in executable code", p);
    p = NULL;
  }
  if (p != NULL && s->slot) {
    int prot = os_prot_of(p);
    if (((uintptr_t)p & (sizeof(void *) - 1)) != 0 || prot < 0 || (prot & OS_PROT_WRITE) == 0) {
      snprintf(why, cap, "%p is not an aligned, writable place for a function pointer", p);
      p = NULL;
    } else if (!is_code(*(void *const *)p)) {
      snprintf(why, cap, "what %p holds (%p) is not a function", p, *(void *const *)p);
      p = NULL;
    }
  }
  return p;
}

static bool bytes_match(const spec_t *s, const void *target) {
  if (os_readable_after(target) < s->nexpect) return false;
  const uint8_t *code = target;
  for (size_t k = 0; k < s->nexpect; k++)
    if (!s->expect_any[k] && code[k] != s->expect[k]) return false;
  return true;
}

static void undo(size_t n) {
  for (size_t k = 0; k < n; k++)
    if (seats[k].hook != NULL) rh_hook_destroy(seats[k].hook);
  nseats = nhooks = 0;
}

/* A slot is switched with one store of a pointer, and back only if it
 * still holds the entry (the program may have set it since). */
static void slot_set(seat_t *s, size_t k) {
  atomic_store_explicit((void *_Atomic *)s->target, takeover_entry(k), memory_order_release);
}

static bool slot_put_back(seat_t *s, size_t k) {
  void *want = takeover_entry(k);
  return atomic_compare_exchange_strong((void *_Atomic *)s->target, &want, s->original);
}

/* Slots switch one at a time: those that take blocks back first, those
 * that hand them out last, so that no block of reheap's reaches a free
 * not yet switched. (Inline hooks all switch at once, between the two.) */
static bool takes_back(spec_role_t r) { return r == SPEC_ROLE_FREE || r == SPEC_ROLE_USABLE_SIZE; }

static void slots_set(bool taking_back, bool handing_out) {
  for (size_t k = 0; k < nseats; k++)
    if (seats[k].slot && (takes_back(seats[k].role) ? taking_back : handing_out) &&
        seats[k].role != SPEC_ROLE_REALLOC)
      slot_set(&seats[k], k);
  /* reallocs after the frees, before the mallocs */
  for (size_t k = 0; k < nseats && handing_out; k++)
    if (seats[k].slot && seats[k].role == SPEC_ROLE_REALLOC) slot_set(&seats[k], k);
}


static size_t common_prefix(const char *a, const char *b) {
  size_t n = 0;
  while (a[n] != '\0' && a[n] == b[n]) n++;
  return n;
}

/* A profile may cover several allocators (a game's heap and its pool):
 * a realloc's foreign blocks belong to the allocator whose usable_size and
 * free share the longest start of their names with it (Heap_Realloc goes
 * with Heap_Size and Heap_Free, not Pool_Free), the first on a tie. */
static seat_t *partner(const seat_t *r, spec_role_t role) {
  seat_t *best = NULL;
  size_t best_len = 0;
  for (size_t k = 0; k < nseats; k++) {
    size_t len = common_prefix(r->name, seats[k].name);
    if (seats[k].role == role && (best == NULL || len > best_len)) {
      best = &seats[k];
      best_len = len;
    }
  }
  return best;
}

static void pair_reallocs(void) {
  for (size_t k = 0; k < nseats; k++)
    if (seats[k].role == SPEC_ROLE_REALLOC) {
      seats[k].size_pair = partner(&seats[k], SPEC_ROLE_USABLE_SIZE);
      seats[k].free_pair = partner(&seats[k], SPEC_ROLE_FREE);
    }
}

bool takeover_install(const spec_profile_t *profile, char *err, size_t cap) {
  if (nseats != 0) {
    snprintf(err, cap, "a profile is installed already");
    return false;
  }
  bool allocates = false, frees = false;
  for (size_t k = 0; k < profile->n; k++) {
    spec_role_t r = profile->specs[k].role;
    allocates |= r == SPEC_ROLE_MALLOC || r == SPEC_ROLE_CALLOC || r == SPEC_ROLE_REALLOC ||
                 r == SPEC_ROLE_MEMALIGN;
    frees |= r == SPEC_ROLE_FREE;
  }
  if (allocates != frees) {
    snprintf(err, cap, "the profile %s but has no %s: blocks would reach a heap that did not make them",
             allocates ? "allocates" : "frees", allocates ? "free" : "allocating role");
    return false;
  }
  for (size_t k = 0; k < profile->n; k++) {
    const spec_t *s = &profile->specs[k];
    char name[2 * SPEC_NAME_MAX + 8], why[200] = "";
    describe(s, name, sizeof name);
    if (!takeover_fits(s, why, sizeof why)) {
      snprintf(err, cap, "line %u, %s: %s", s->line, name, why);
      undo(k);
      return false;
    }
    void *target = resolve(s, why, sizeof why);
    if (target == NULL) {
      snprintf(err, cap, "line %u, %s: %s", s->line, name, why);
      undo(k);
      return false;
    }
    if (!bytes_match(s, target)) {
      snprintf(err, cap, "line %u, %s: its first bytes differ from expect= (another build of the program?)",
               s->line, name);
      undo(k);
      return false;
    }
    seat_t *seat = &seats[k];
    memset(seat, 0, sizeof *seat);
    memcpy(seat->name, name, sizeof seat->name);
    seat->role = s->role;
    seat->conv = s->conv;
    seat->nargs = s->nargs;
    memset(seat->at, -1, sizeof seat->at);
    for (int i = 0; i < s->nargs; i++)
      if (s->args[i] != SPEC_ARG_IGNORED) seat->at[s->args[i]] = (int8_t)i;
    seat->target = target;
    seat->nbefore = os_readable_after(target) < sizeof seat->before ? os_readable_after(target)
                                                                     : sizeof seat->before;
    memcpy(seat->before, target, seat->nbefore);
    seat->slot = s->slot;
    if (s->slot) {
      seat->original = *(void *const *)target;
    } else {
      void *original = NULL;
      rh_status_t st = rh_hook_create(target, takeover_entry(k), &original, &seat->hook);
      if (st != RH_OK) {
        snprintf(err, cap, "line %u, %s: cannot hook it: %s", s->line, name, rh_strerror(st));
        undo(k);
        return false;
      }
      seat->original = original;
      hooks[nhooks++] = seat->hook;
    }
    nseats = k + 1;
  }
  pair_reallocs();
  atomic_store(&takeover_active, true); /* before any entry can hand out a block */
  slots_set(true, false);
  rh_status_t st = rh_hook_enable_all(hooks, nhooks);
  if (st != RH_OK) {
    for (size_t k = 0; k < nseats; k++)
      if (seats[k].slot) slot_put_back(&seats[k], k);
    snprintf(err, cap, "the hooks could not be switched on together: %s", rh_strerror(st));
    undo(nseats);
    return false;
  }
  slots_set(false, true);
  return true;
}

bool takeover_uninstall(char *err, size_t cap) {
  size_t n = nseats;
  if (n == 0) return true;
  size_t live = takeover_live_blocks();
  if (live != 0) {
    snprintf(err, cap, "%zu blocks of reheap's are live and could still reach the patched functions; "
             "they stay patched", live);
    return false;
  }
  /* switched off first and counted again: a block made meanwhile keeps
   * them (an entry already running when they go is a window this does
   * not close); slots that hand blocks out go back first */
  for (size_t k = 0; k < n; k++)
    if (seats[k].slot && !takes_back(seats[k].role)) slot_put_back(&seats[k], k);
  rh_status_t st = rh_hook_disable_all(hooks, nhooks);
  if (st != RH_OK || (live = takeover_live_blocks()) != 0) {
    if (st == RH_OK) rh_hook_enable_all(hooks, nhooks);
    slots_set(false, true);
    if (st != RH_OK) snprintf(err, cap, "the hooks could not be switched off together: %s", rh_strerror(st));
    else snprintf(err, cap, "%zu blocks were made while the hooks went; they stay patched", live);
    return false;
  }
  size_t differ = 0;
  const char *first = NULL;
  for (size_t k = 0; k < n; k++) {
    seat_t *s = &seats[k];
    if (s->slot) {
      if (takes_back(s->role)) slot_put_back(s, k); /* one the program changed since is its own */
    } else {
      rh_hook_destroy(s->hook);
      s->hook = NULL;
    }
    if (memcmp(s->target, s->before, s->nbefore) != 0 && differ++ == 0) first = s->name;
  }
  nseats = nhooks = 0;
  if (differ != 0) {
    snprintf(err, cap, "%zu functions were put back but their code (or pointer) differs from before (%s first)",
             differ, first);
    return false;
  }
  return true;
}

void takeover_shape(size_t k, spec_conv_t *conv, int *nargs) {
  *conv = seats[k].conv;
  *nargs = seats[k].nargs;
}

size_t takeover_count(void) { return nseats; }

const char *takeover_name(size_t i) { return i < nseats ? seats[i].name : NULL; }
