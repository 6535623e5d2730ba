/* The takeover's entries where a call's first integer arguments travel
 * in registers, in one convention: x86-64 (System V's six, Windows x64's
 * four) and aarch64 (AAPCS64's eight, x0-x7). An entry takes those, as
 * integers (a function of fewer is read correctly: the rest are whatever
 * the registers held), and no more: arguments on the stack belong to the
 * callee in these ABIs, and an entry taking them could write over its
 * caller's frame.
 *
 * The calls a program's allocator takes most (its malloc, its free, its
 * size, with the argument in the first or second place) have entries of
 * their own, which go straight to the home heap: a malloc's is the heap's
 * allocation and nothing else (a move and a jump), a free's a test of the
 * block's page and the heap's free, the original reached only for a block
 * that is not ours, with the program's registers as they came. Every other
 * spec takes the general entry, which hands the arguments to
 * takeover_serve by number. */
#include "front/takeover_arch.h"
#include "front/takeover_home.h"

#include <stdio.h>

/* Windows x64 passes four integer arguments in registers (RCX, RDX, R8,
 * R9), System V six; an entry takes those and no more, in the
 * platform's own convention (the compiler's default). */
#if defined(_WIN64)
#define REG_ARGS 4
typedef uintptr_t (*entry_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t);
#define U __attribute__((unused)) uintptr_t
#define PARAMS U a0, U a1, U a2, U a3
#define PASS a0, a1, a2, a3
#define PASS_ARRAY(a) a[0], a[1], a[2], a[3]
#define ABI_NAME "Windows x64"
#elif defined(__aarch64__)
#define REG_ARGS 8
typedef uintptr_t (*entry_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t,
                              uintptr_t);
#define U __attribute__((unused)) uintptr_t
#define PARAMS U a0, U a1, U a2, U a3, U a4, U a5, U a6, U a7
#define PASS a0, a1, a2, a3, a4, a5, a6, a7
#define PASS_ARRAY(a) a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
#define ABI_NAME "aarch64"
#else
#define REG_ARGS 6
typedef uintptr_t (*entry_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
#define U __attribute__((unused)) uintptr_t
#define PARAMS U a0, U a1, U a2, U a3, U a4, U a5
#define PASS a0, a1, a2, a3, a4, a5
#define PASS_ARRAY(a) a[0], a[1], a[2], a[3], a[4], a[5]
#define ABI_NAME "x86-64"
#endif

_Static_assert(SPEC_ARGS_MAX >= REG_ARGS, "a[] holds every register argument");

/* A seat fixed at build time per entry: the hook engine calls a detour
 * with the program's own arguments and nothing else. Seat
 * a*64 + b*16 + c*4 + d is number abcd in base 4. */
#define SEAT(a, b, c, d) ((a) * 64 + (b) * 16 + (c) * 4 + (d))

/* the general entry */
#define GENERAL(a, b, c, d)                                                    \
  static uintptr_t general_##a##b##c##d(PARAMS) {                              \
    uintptr_t arr[SPEC_ARGS_MAX] = {PASS}; /* (the rest zero) */               \
    return takeover_serve(SEAT(a, b, c, d), arr);                              \
  }

/* free and usable_size, pointer in place i. The test of the block and
 * the heap's free fast path are inline (home_free_if_ours), so that a
 * foreign block's original gets the program's registers untouched and
 * every path ends in a jump: nothing is saved, nothing waits on the way
 * back. (A free's
 * detour returns nothing: the caller reads no result of it.) With the
 * quarantine on, a free takes the general entry, a jump too. */
#if defined(_WIN64)
typedef void (*void_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t);
#elif defined(__aarch64__)
typedef void (*void_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
#else
typedef void (*void_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t);
#endif
#define FAST(w, x, y, z, i)                                                    \
  static void free##i##_##w##x##y##z(PARAMS) {                                 \
    if ((void *)a##i == NULL) return;                                          \
    if (__builtin_expect(atomic_load_explicit(&takeover_quarantining,          \
                                              memory_order_relaxed), 0)) {     \
      general_##w##x##y##z(PASS);                                              \
      return;                                                                  \
    }                                                                          \
    if (__builtin_expect(home_free_if_ours((void *)a##i), 1)) return;          \
    ((void_fn)takeover_originals[SEAT(w, x, y, z)])(PASS);                     \
  }                                                                            \
  static uintptr_t size##i##_##w##x##y##z(PARAMS) {                            \
    if ((void *)a##i != NULL && __builtin_expect(home_owns((void *)a##i), 1))  \
      return home_usable_size((void *)a##i);                                   \
    return ((entry_fn)takeover_originals[SEAT(w, x, y, z)])(PASS);             \
  }

#define ENTRY(a, b, c, d) GENERAL(a, b, c, d) FAST(a, b, c, d, 0) FAST(a, b, c, d, 1)
#define ENTRY4(a, b, c) ENTRY(a, b, c, 0) ENTRY(a, b, c, 1) ENTRY(a, b, c, 2) ENTRY(a, b, c, 3)
#define ENTRY16(a, b) ENTRY4(a, b, 0) ENTRY4(a, b, 1) ENTRY4(a, b, 2) ENTRY4(a, b, 3)
#define ENTRY64(a) ENTRY16(a, 0) ENTRY16(a, 1) ENTRY16(a, 2) ENTRY16(a, 3)
ENTRY64(0)
ENTRY64(1)
ENTRY64(2)
ENTRY64(3)

typedef struct seat_entries {
  entry_fn general;
  void_fn free0, free1;
  entry_fn size0, size1;
} seat_entries_t;
#define NAME(a, b, c, d)                                                                     \
  {general_##a##b##c##d, free0_##a##b##c##d, free1_##a##b##c##d, size0_##a##b##c##d,          \
   size1_##a##b##c##d},
#define NAME4(a, b, c) NAME(a, b, c, 0) NAME(a, b, c, 1) NAME(a, b, c, 2) NAME(a, b, c, 3)
#define NAME16(a, b) NAME4(a, b, 0) NAME4(a, b, 1) NAME4(a, b, 2) NAME4(a, b, 3)
#define NAME64(a) NAME16(a, 0) NAME16(a, 1) NAME16(a, 2) NAME16(a, 3)
static const seat_entries_t entries[] = {NAME64(0) NAME64(1) NAME64(2) NAME64(3)};
_Static_assert(sizeof entries / sizeof entries[0] == SPEC_PROFILE_MAX, "entries for every seat");

/* a malloc needs no seat: nothing of its spec but the size's place */
#define MALLOC_AT(i) \
  static uintptr_t malloc_at##i(PARAMS) { return (uintptr_t)home_malloc((size_t)a##i); }
MALLOC_AT(0)
MALLOC_AT(1)
MALLOC_AT(2)
MALLOC_AT(3)
#if REG_ARGS > 4
MALLOC_AT(4)
MALLOC_AT(5)
#endif
#if REG_ARGS > 6
MALLOC_AT(6)
MALLOC_AT(7)
#endif
static const entry_fn mallocs[REG_ARGS] = {malloc_at0, malloc_at1, malloc_at2, malloc_at3,
#if REG_ARGS > 4
                                           malloc_at4, malloc_at5,
#endif
#if REG_ARGS > 6
                                           malloc_at6, malloc_at7,
#endif
};
/* and one whose size is 32 bits (size32): the register's upper half is
 * whatever the caller left there */
#define MALLOC32_AT(i) \
  static uintptr_t malloc32_at##i(PARAMS) { return (uintptr_t)home_malloc((uint32_t)a##i); }
MALLOC32_AT(0)
MALLOC32_AT(1)
MALLOC32_AT(2)
MALLOC32_AT(3)
#if REG_ARGS > 4
MALLOC32_AT(4)
MALLOC32_AT(5)
#endif
#if REG_ARGS > 6
MALLOC32_AT(6)
MALLOC32_AT(7)
#endif
static const entry_fn mallocs32[REG_ARGS] = {malloc32_at0, malloc32_at1, malloc32_at2, malloc32_at3,
#if REG_ARGS > 4
                                             malloc32_at4, malloc32_at5,
#endif
#if REG_ARGS > 6
                                             malloc32_at6, malloc32_at7,
#endif
};

static int place_of(const spec_t *s, spec_arg_t which) {
  for (int i = 0; i < s->nargs; i++)
    if (s->args[i] == which) return i;
  return -1;
}

void *takeover_entry(size_t k, const spec_t *s) {
  const seat_entries_t *e = &entries[k];
  int ptr = place_of(s, SPEC_ARG_PTR);
  switch (s->role) {
  case SPEC_ROLE_MALLOC: return (void *)(s->size32 ? mallocs32 : mallocs)[place_of(s, SPEC_ARG_SIZE)];
  case SPEC_ROLE_FREE:
    if (ptr == 0 || ptr == 1) return (void *)(ptr == 0 ? e->free0 : e->free1);
    break;
  case SPEC_ROLE_USABLE_SIZE:
    if (ptr == 0 || ptr == 1) return (void *)(ptr == 0 ? e->size0 : e->size1);
    break;
  default: break;
  }
  return (void *)e->general;
}

uintptr_t takeover_call(void *fn, spec_conv_t conv, int nargs, const uintptr_t *a) {
  (void)conv;
  (void)nargs;
  return ((entry_fn)fn)(PASS_ARRAY(a));
}

bool takeover_fits(const spec_t *s, char *why, size_t cap) {
  if (s->nargs > REG_ARGS) {
    snprintf(why, cap, "more than %d arguments: on " ABI_NAME " reheap stands in for functions whose "
             "arguments all travel in registers", REG_ARGS);
    return false;
  }
  if (s->conv != SPEC_CONV_DEFAULT && s->conv != SPEC_CONV_CDECL) {
    snprintf(why, cap, "the %s convention is for 32-bit x86 programs", spec_conv_name(s->conv));
    return false;
  }
  return true;
}

spec_arch_t takeover_arch(void) { return SPEC_ARCH_NATIVE; }
