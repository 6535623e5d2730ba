/* Inline hooks on 32-bit x86 (run under qemu-i386): cdecl, stdcall,
 * fastcall and thiscall functions hooked and called through their
 * originals with the stack balanced, and the 32-bit relocation cases. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reheap/hook.h"
#include "hook_check.h"

#define STDCALL __attribute__((stdcall))
#define FASTCALL __attribute__((fastcall))
#define THISCALL __attribute__((thiscall))

typedef struct obj { int value; } obj_t;

extern int fx32_cdecl(int, int);
extern int STDCALL fx32_stdcall(int, int);
extern int FASTCALL fx32_fastcall(int, int);
extern int THISCALL fx32_thiscall(obj_t *, int);
extern int fx32_call_rel(int), fx32_jcc_out(int), fx32_jmp_inside(int), fx32_endbr(int),
    fx32_too_short(int), fx32_jmp_rel(int), fx32_branch_in(int), fx32_pc_thunk(int);
extern char fx32_pc_here[];

static int calls;
static int (*o_cdecl)(int, int);
static int STDCALL (*o_stdcall)(int, int);
static int FASTCALL (*o_fastcall)(int, int);
static int THISCALL (*o_thiscall)(obj_t *, int);
static int d_cdecl(int a, int b) { calls++; return o_cdecl(a, b) + 1000; }
static int STDCALL d_stdcall(int a, int b) { calls++; return o_stdcall(a, b) + 1000; }
static int FASTCALL d_fastcall(int a, int b) { calls++; return o_fastcall(a, b) + 1000; }
static int THISCALL d_thiscall(obj_t *o, int b) { calls++; return o_thiscall(o, b) + 1000; }

typedef int (*fn1_t)(int);
static fn1_t o_one;
static int d_one(int a) { calls++; return o_one(a) + 1000; }

/* Calls through function pointers the compiler cannot see through, many
 * times: a callee that pops the wrong amount would wreck the stack. */
static void conventions(void) {
  rh_hook_t *h[4];
  CHECK_ST(rh_hook_create((void *)fx32_cdecl, (void *)d_cdecl, (void **)&o_cdecl, &h[0]), RH_OK);
  CHECK_ST(rh_hook_create((void *)fx32_stdcall, (void *)d_stdcall, (void **)&o_stdcall, &h[1]), RH_OK);
  CHECK_ST(rh_hook_create((void *)fx32_fastcall, (void *)d_fastcall, (void **)&o_fastcall, &h[2]), RH_OK);
  CHECK_ST(rh_hook_create((void *)fx32_thiscall, (void *)d_thiscall, (void **)&o_thiscall, &h[3]), RH_OK);
  CHECK_ST(rh_hook_enable_all(h, 4), RH_OK);
  int (*volatile c)(int, int) = fx32_cdecl;
  int STDCALL (*volatile s)(int, int) = fx32_stdcall;
  int FASTCALL (*volatile f)(int, int) = fx32_fastcall;
  int THISCALL (*volatile t)(obj_t *, int) = fx32_thiscall;
  obj_t o = {4};
  calls = 0;
  long sum = 0;
  for (int i = 0; i < 100000; i++) {
    int a = i % 7, b = i % 5;
    CHECK(c(a, b) == 10 * a + b + 1000);
    CHECK(s(a, b) == 10 * a + b + 1000);
    CHECK(f(a, b) == 10 * a + b + 1000);
    o.value = a;
    CHECK(t(&o, b) == 10 * a + b + 1000);
    sum += o_cdecl(a, b) + o_stdcall(a, b) + o_fastcall(a, b) + o_thiscall(&o, b);
  }
  CHECK(calls == 400000);
  CHECK_ST(rh_hook_disable_all(h, 4), RH_OK);
  CHECK(c(1, 2) == 12 && s(1, 2) == 12 && f(1, 2) == 12 && t(&o, 2) == 10 * o.value + 2);
  for (int i = 0; i < 4; i++) CHECK_ST(rh_hook_destroy(h[i]), RH_OK);
  printf("  conventions    ok (%ld)\n", sum);
}

static void relocation(const char *name, fn1_t fn, int arg, int want) {
  uint8_t before[16];
  memcpy(before, (void *)fn, sizeof before);
  rh_hook_t *h;
  CHECK_ST(rh_hook_create((void *)fn, (void *)d_one, (void **)&o_one, &h), RH_OK);
  CHECK_ST(rh_hook_enable(h), RH_OK);
  fn1_t volatile call = fn;
  calls = 0;
  CHECK(call(arg) == want + 1000 && calls == 1);
  CHECK(o_one(arg) == want);
  CHECK_ST(rh_hook_disable(h), RH_OK);
  CHECK(memcmp(before, (void *)fn, sizeof before) == 0);
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  printf("  %-14s ok\n", name);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  conventions();
  relocation("call_rel", fx32_call_rel, 5, 105);
  /* the thunk, called from the trampoline, would answer the trampoline's
   * address: the copy loads the original's */
  relocation("pc_thunk", fx32_pc_thunk, 3, 3 + (int)(uintptr_t)fx32_pc_here);
  relocation("jmp_rel", fx32_jmp_rel, 4, 11);
  relocation("jcc_out", fx32_jcc_out, 0, 2);
  relocation("jmp_inside", fx32_jmp_inside, 4, 9);
  relocation("endbr32", fx32_endbr, 4, 7);
  CHECK(memcmp((void *)fx32_endbr, "\xF3\x0F\x1E\xFB", 4) == 0);
  void *o;
  rh_hook_t *h;
  CHECK_ST(rh_hook_create((void *)fx32_too_short, (void *)d_one, &o, &h), RH_ERR_TOO_SHORT);
  CHECK_ST(rh_hook_create((void *)fx32_branch_in, (void *)d_one, &o, &h), RH_ERR_BRANCH_INTO_PATCH);
  puts("inline hooks i386: ok");
  return 0;
}
