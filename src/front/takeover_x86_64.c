/* The takeover's entries on x86-64. An entry takes the six arguments
 * System V passes in registers, as integers (a function of fewer is read
 * correctly: the rest are whatever the registers held), and no more:
 * arguments on the stack belong to the callee in that ABI, and an entry
 * taking them could write over its caller's frame. */
#include "front/takeover_arch.h"

#include <stdio.h>

#define REG_ARGS 6

_Static_assert(SPEC_ARGS_MAX >= REG_ARGS, "a[] holds every register argument");

/* One entry per seat, the seat fixed at build time: the hook engine calls
 * a detour with the program's own arguments and nothing else. */
#define ENTRY(a, b, c, d)                                                                       \
  static uintptr_t entry_##a##b##c##d(uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3,       \
                                      uintptr_t a4, uintptr_t a5) {                                 \
    uintptr_t arr[SPEC_ARGS_MAX] = {a0, a1, a2, a3, a4, a5, 0, 0};                                \
    return takeover_serve((a) * 64 + (b) * 16 + (c) * 4 + (d), arr);                              \
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

void *takeover_entry(size_t k) { return (void *)entries[k]; }

uintptr_t takeover_call(void *fn, spec_conv_t conv, int nargs, const uintptr_t *a) {
  (void)conv;
  (void)nargs;
  return ((entry_fn)fn)(a[0], a[1], a[2], a[3], a[4], a[5]);
}

bool takeover_fits(const spec_t *s, char *why, size_t cap) {
  if (s->nargs > REG_ARGS) {
    snprintf(why, cap, "more than %d arguments: on x86-64 reheap stands in for functions whose "
             "arguments all travel in registers", REG_ARGS);
    return false;
  }
  if (s->conv != SPEC_CONV_DEFAULT && s->conv != SPEC_CONV_CDECL) {
    snprintf(why, cap, "the %s convention is for 32-bit x86 programs", spec_conv_name(s->conv));
    return false;
  }
  return true;
}

spec_arch_t takeover_arch(void) { return SPEC_ARCH_X86_64; }
