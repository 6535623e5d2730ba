/* Taking over a program's own allocator: each spec of a profile becomes an
 * inline hook whose detour is a role entry serving the call from reheap's
 * heap; blocks reheap did not hand out (made before the takeover, or by a
 * path the profile does not cover) go back to the original function
 * through its trampoline.
 *
 * x86-64 only for now: an entry takes the six arguments System V passes
 * in registers, as integers (a function of fewer is read correctly), and
 * the spec says which one is the size, the count, the pointer, the
 * alignment. Not more: arguments on the stack belong to the callee in that
 * ABI, and a C entry taking them could write over its caller's frame. */
#include "front/takeover.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "os/os.h"
#include "reheap/alloc.h"
#include "reheap/hook.h"

#define REG_ARGS 6 /* System V passes these in registers */

typedef uintptr_t (*original_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);

typedef struct seat {
  char name[2 * SPEC_NAME_MAX + 8]; /* the target as its spec gave it */
  spec_role_t role;
  int8_t at[5];         /* position of each spec_arg_t (size, count, ptr, align), or -1 */
  original_fn original; /* the function as it was, through its trampoline */
  void *target;
  rh_hook_t *hook;
} seat_t;

/* Where the entries take blocks from: reheap's heap directly, or, under
 * --track, through the exported malloc family (the tracker's, in front of
 * reheap's), so that the blocks of the program's own allocator are
 * tracked like any. */
typedef struct door {
  void *(*malloc)(size_t);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  void (*free)(void *);
} door_t;
static door_t door = {rh_malloc, rh_calloc, rh_realloc, rh_aligned_alloc, rh_free};

static seat_t seats[SPEC_PROFILE_MAX];
static size_t nseats;
static rh_hook_t *hooks[SPEC_PROFILE_MAX];

/* The profile's own usable_size and free, for moving a foreign block into
 * reheap's heap on realloc. */
static seat_t *foreign_size, *free_seat;

static uintptr_t call_original(const seat_t *s, const uintptr_t *a) {
  return s->original(a[0], a[1], a[2], a[3], a[4], a[5]);
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

static bool ours(const void *p) {
  if (p == NULL || ((uintptr_t)p & 15) != 0) return false;
  const tag_t *t = (const tag_t *)p - 1;
  return rh_owns(p) && rh_owns(t) && t->check == (TAG_KEY ^ (uintptr_t)p);
}

static void *base_of(void *p) { return (unsigned char *)p - ((tag_t *)p - 1)->offset; }

_Atomic bool takeover_active;

void *takeover_adopt(void *p, size_t *size) {
  if (!ours(p)) return NULL;
  void *base = base_of(p);
  *size = rh_usable_size(base) - ((tag_t *)p - 1)->offset;
  ((tag_t *)p - 1)->check = 0;
  return base;
}

static void *ours_malloc(size_t size) {
  if (size > SIZE_MAX - sizeof(tag_t)) return NULL;
  return tag(door.malloc(size + sizeof(tag_t)), sizeof(tag_t));
}

static void *ours_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total) || total > SIZE_MAX - sizeof(tag_t)) return NULL;
  return tag(door.calloc(1, total + sizeof(tag_t)), sizeof(tag_t));
}

/* the tag takes a whole alignment step in front of the block */
static void *ours_memalign(size_t align, size_t size) {
  if (align < sizeof(tag_t)) align = sizeof(tag_t);
  if ((align & (align - 1)) != 0 || size > SIZE_MAX - 2 * align) return NULL;
  size_t total = (size + align + align - 1) & ~(align - 1);
  return tag(door.aligned_alloc(align, total), align);
}

static void ours_free(void *p) {
  void *base = base_of(p);
  ((tag_t *)p - 1)->check = 0;
  door.free(base);
}

static size_t ours_size(void *p) {
  return rh_usable_size(base_of(p)) - ((tag_t *)p - 1)->offset;
}

bool takeover_tagged(const void *p) { return ours(p); }

size_t takeover_size(void *p) { return ours_size(p); }

static void *ours_realloc(void *p, size_t size) {
  if (p == NULL) return ours_malloc(size);
  if (((tag_t *)p - 1)->offset == sizeof(tag_t)) {
    if (size > SIZE_MAX - sizeof(tag_t)) return NULL;
    void *base = door.realloc(base_of(p), size + sizeof(tag_t));
    return tag(base, sizeof(tag_t)); /* NULL: p stays as it was */
  }
  /* an aligned block keeps no alignment through realloc (as C's) */
  void *q = ours_malloc(size);
  if (q == NULL) return NULL;
  size_t old = ours_size(p);
  memcpy(q, p, old < size ? old : size);
  ours_free(p);
  return q;
}

static uintptr_t serve(seat_t *s, const uintptr_t *a) {
  size_t size = (size_t)arg(s, SPEC_ARG_SIZE, a);
  void *p = (void *)arg(s, SPEC_ARG_PTR, a);
  switch (s->role) {
  case SPEC_ROLE_MALLOC:
    return (uintptr_t)ours_malloc(size);
  case SPEC_ROLE_CALLOC:
    return (uintptr_t)ours_calloc((size_t)arg(s, SPEC_ARG_COUNT, a), size);
  case SPEC_ROLE_MEMALIGN:
    return (uintptr_t)ours_memalign((size_t)arg(s, SPEC_ARG_ALIGN, a), size);
  case SPEC_ROLE_FREE:
    if (p == NULL) return 0;
    if (ours(p)) {
      ours_free(p);
      return 0;
    }
    return call_original(s, a);
  case SPEC_ROLE_USABLE_SIZE:
    if (ours(p)) return ours_size(p);
    return call_original(s, a);
  case SPEC_ROLE_REALLOC:
    if (p == NULL || ours(p)) return (uintptr_t)ours_realloc(p, size);
    /* a foreign block moves into reheap's heap when the profile says how
     * big it is (its usable_size) and how to give it back (its free); the
     * other arguments (a method's object) are passed on as given */
    if (foreign_size != NULL && free_seat != NULL && size != 0) {
      uintptr_t q[REG_ARGS];
      memcpy(q, a, sizeof q);
      q[foreign_size->at[SPEC_ARG_PTR]] = (uintptr_t)p;
      size_t old = (size_t)call_original(foreign_size, q);
      void *moved = ours_malloc(size);
      if (moved == NULL) return 0;
      memcpy(moved, p, old < size ? old : size);
      memcpy(q, a, sizeof q);
      q[free_seat->at[SPEC_ARG_PTR]] = (uintptr_t)p;
      call_original(free_seat, q);
      return (uintptr_t)moved;
    }
    return call_original(s, a);
  }
  return 0;
}

/* One entry per seat, the seat fixed at build time: the hook engine calls
 * a detour with the program's own arguments and nothing else. */
#define ENTRY(a, b, c, d)                                                                       \
  static uintptr_t entry_##a##b##c##d(uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3,       \
                                      uintptr_t a4, uintptr_t a5) {                                 \
    uintptr_t arr[REG_ARGS] = {a0, a1, a2, a3, a4, a5};                                           \
    return serve(&seats[(a) * 64 + (b) * 16 + (c) * 4 + (d)], arr);                              \
  }
#define ENTRY4(a, b, c) ENTRY(a, b, c, 0) ENTRY(a, b, c, 1) ENTRY(a, b, c, 2) ENTRY(a, b, c, 3)
#define ENTRY16(a, b) ENTRY4(a, b, 0) ENTRY4(a, b, 1) ENTRY4(a, b, 2) ENTRY4(a, b, 3)
#define ENTRY64(a) ENTRY16(a, 0) ENTRY16(a, 1) ENTRY16(a, 2) ENTRY16(a, 3)
ENTRY64(0)
ENTRY64(1)
ENTRY64(2)
ENTRY64(3)
#define NAME(a, b, c, d) entry_##a##b##c##d,
#define NAME4(a, b, c) NAME(a, b, c, 0) NAME(a, b, c, 1) NAME(a, b, c, 2) NAME(a, b, c, 3)
#define NAME16(a, b) NAME4(a, b, 0) NAME4(a, b, 1) NAME4(a, b, 2) NAME4(a, b, 3)
#define NAME64(a) NAME16(a, 0) NAME16(a, 1) NAME16(a, 2) NAME16(a, 3)
typedef uintptr_t (*entry_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
/* seat a*64 + b*16 + c*4 + d is entry_abcd (digits in base 4) */
static const entry_fn entries[] = {NAME64(0) NAME64(1) NAME64(2) NAME64(3)};
_Static_assert(sizeof entries / sizeof entries[0] == SPEC_PROFILE_MAX, "an entry for every seat");

static void describe(const spec_t *s, char *buf, size_t cap) {
  switch (s->kind) {
  case SPEC_TARGET_SYMBOL: snprintf(buf, cap, "%s", s->symbol); break;
  case SPEC_TARGET_MODULE_SYMBOL: snprintf(buf, cap, "%s!%s", s->module, s->symbol); break;
  case SPEC_TARGET_ADDRESS: snprintf(buf, cap, "0x%llx", (unsigned long long)s->address); break;
  case SPEC_TARGET_MODULE_OFFSET:
    snprintf(buf, cap, "%s+0x%llx", s->module, (unsigned long long)s->address);
    break;
  }
}

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
  if (p != NULL && (os_prot_of(p) & OS_PROT_EXEC) == 0) {
    snprintf(why, cap, "%p is not in executable code", p);
    p = NULL;
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
  for (size_t k = 0; k < n; k++) rh_hook_destroy(seats[k].hook);
  nseats = 0;
  foreign_size = free_seat = NULL;
}

void takeover_through_exports(const char *module) {
  /* by the module's name: this library is linked -Bsymbolic, so a lookup
   * in the default scope from here would find its own malloc first */
  door_t d = {
      (void *(*)(size_t))os_module_symbol(module, "malloc"),
      (void *(*)(size_t, size_t))os_module_symbol(module, "calloc"),
      (void *(*)(void *, size_t))os_module_symbol(module, "realloc"),
      (void *(*)(size_t, size_t))os_module_symbol(module, "aligned_alloc"),
      (void (*)(void *))os_module_symbol(module, "free"),
  };
  if (d.malloc && d.calloc && d.realloc && d.aligned_alloc && d.free) door = d;
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
    if (s->nargs > REG_ARGS) {
      snprintf(err, cap, "line %u, %s: more than %d arguments: on x86-64 reheap stands in for functions "
               "whose arguments all travel in registers", s->line, name, REG_ARGS);
      undo(k);
      return false;
    }
    if (s->conv != SPEC_CONV_DEFAULT) {
      snprintf(err, cap, "line %u, %s: the %s convention is for 32-bit x86 programs", s->line, name,
               spec_conv_name(s->conv));
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
    memset(seat->at, -1, sizeof seat->at);
    for (int i = 0; i < s->nargs; i++)
      if (s->args[i] != SPEC_ARG_IGNORED) seat->at[s->args[i]] = (int8_t)i;
    seat->target = target;
    void *original = NULL;
    rh_status_t st = rh_hook_create(target, (void *)entries[k], &original, &seat->hook);
    if (st != RH_OK) {
      snprintf(err, cap, "line %u, %s: cannot hook it: %s", s->line, name, rh_strerror(st));
      undo(k);
      return false;
    }
    seat->original = (original_fn)original;
    hooks[k] = seat->hook;
    if (s->role == SPEC_ROLE_USABLE_SIZE) foreign_size = seat;
    if (s->role == SPEC_ROLE_FREE && free_seat == NULL) free_seat = seat;
    nseats = k + 1;
  }
  atomic_store(&takeover_active, true); /* before any entry can hand out a block */
  rh_status_t st = rh_hook_enable_all(hooks, nseats);
  if (st != RH_OK) {
    snprintf(err, cap, "the hooks could not be switched on together: %s", rh_strerror(st));
    undo(nseats);
    return false;
  }
  return true;
}

size_t takeover_count(void) { return nseats; }

const char *takeover_name(size_t i) { return i < nseats ? seats[i].name : NULL; }
