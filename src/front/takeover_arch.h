/* What the takeover needs from the architecture: an entry per seat that
 * takes the program's call in its calling convention and hands the
 * arguments, numbered as the spec numbers them, to takeover_serve; and a
 * way to call an original function (its trampoline) the same way. One
 * file per architecture: takeover_regs.c (x86-64, aarch64), takeover_i386.c with
 * takeover_i386.S. */
#ifndef REHEAP_FRONT_TAKEOVER_ARCH_H
#define REHEAP_FRONT_TAKEOVER_ARCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "front/hook_spec.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* Serves one call to seat k (takeover.c); a[] holds SPEC_ARGS_MAX values. */
HIDDEN uintptr_t takeover_serve(size_t k, const uintptr_t *a);
/* The convention and argument count of seat k, as its spec gave them. */
HIDDEN void takeover_shape(size_t k, spec_conv_t *conv, int *nargs);

/* Whether frees go to the quarantine (takeover.c): an entry that frees
 * without takeover_serve must look first. */
HIDDEN extern _Atomic bool takeover_quarantining;
/* The detour for seat k (k < SPEC_PROFILE_MAX), whose spec is s. */
HIDDEN void *takeover_entry(size_t k, const spec_t *s);
/* The function seat k stands in for (its trampoline, or the pointer its
 * slot held), for blocks that are not ours. */
HIDDEN extern void *takeover_originals[SPEC_PROFILE_MAX];
/* Calls fn as a function of nargs integer arguments a[] in convention conv. */
HIDDEN uintptr_t takeover_call(void *fn, spec_conv_t conv, int nargs, const uintptr_t *a);
/* Whether this architecture can stand in for s; if not, why. */
HIDDEN bool takeover_fits(const spec_t *s, char *why, size_t cap);
/* The architecture profiles are parsed for. */
HIDDEN spec_arch_t takeover_arch(void);

#endif
