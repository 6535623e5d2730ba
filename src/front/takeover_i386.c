/* The takeover's entries on 32-bit x86 (the code is takeover_i386.S):
 * arguments come in cdecl, stdcall, fastcall or thiscall, and are put in
 * the order the spec numbers them. An entry only reads the stack
 * arguments, so a spec may place any of the first SPEC_ARGS_MAX; but a
 * callee-cleaned convention must take off exactly what the caller put
 * on, so for those the spec lists every argument the function takes. */
#include "front/takeover_arch.h"

#include <stdio.h>

typedef struct frame32 {
  uint32_t ecx, edx, ebp;
  uint32_t seat; /* on return: bytes of stack arguments the callee takes off */
  uint32_t ret;
  uint32_t stack[];
} frame32_t;

HIDDEN uintptr_t takeover_serve32(frame32_t *f);
HIDDEN uintptr_t takeover_call32(void *fn, uintptr_t ecx, uintptr_t edx, const uintptr_t *stack, size_t n);
extern char takeover_entry32_base[];

/* arguments that travel in ECX, then EDX */
static int in_registers(spec_conv_t conv, int nargs) {
  int r = conv == SPEC_CONV_FASTCALL ? 2 : conv == SPEC_CONV_THISCALL ? 1 : 0;
  return r < nargs ? r : nargs;
}

static bool callee_cleans(spec_conv_t conv) {
  return conv == SPEC_CONV_STDCALL || conv == SPEC_CONV_FASTCALL || conv == SPEC_CONV_THISCALL;
}

uintptr_t takeover_serve32(frame32_t *f) {
  size_t k = f->seat;
  spec_conv_t conv;
  int nargs;
  takeover_shape(k, &conv, &nargs);
  int regs = in_registers(conv, nargs);
  uintptr_t a[SPEC_ARGS_MAX] = {0};
  for (int i = 0; i < nargs; i++) a[i] = i < regs ? (i == 0 ? f->ecx : f->edx) : f->stack[i - regs];
  f->seat = callee_cleans(conv) ? 4u * (uint32_t)(nargs - regs) : 0;
  return takeover_serve(k, a);
}

void *takeover_entry(size_t k, const spec_t *s) {
  (void)s;
  return takeover_entry32_base + 16 * k;
}

uintptr_t takeover_call(void *fn, spec_conv_t conv, int nargs, const uintptr_t *a) {
  int regs = in_registers(conv, nargs);
  return takeover_call32(fn, regs > 0 ? a[0] : 0, regs > 1 ? a[1] : 0, a + regs, (size_t)(nargs - regs));
}

bool takeover_fits(const spec_t *s, char *why, size_t cap) {
  (void)s;
  (void)why;
  (void)cap;
  return true; /* every convention; SPEC_ARGS_MAX bounds the arguments */
}

spec_arch_t takeover_arch(void) { return SPEC_ARCH_X86; }
