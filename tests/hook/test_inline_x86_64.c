/* Inline hooks on x86-64: every relocation case of fixtures_x86_64.S, real
 * library functions, chains, batches, refusals and exact restoring. */
#include <dlfcn.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reheap/hook.h"
#include "hook_check.h"

typedef long (*fn_t)(long);
extern long fx_rip_load(long), fx_rip_lea(long), fx_rip_store(long), fx_call_rel(long),
    fx_jmp_rel(long), fx_jcc_out(long), fx_jmp_inside(long), fx_endbr(long), fx_too_short(long),
    fx_branch_in(long);
extern long fx_stored, fx_long(long);
extern void *fx_nosize_ptr; /* a function without a symbol */
extern bool hook_test_no_near_memory; /* the engine's test switch */

static fn_t orig;
static int calls;
static long detour(long x) {
  calls++;
  return orig(x) + 1000000;
}

/* Hooks f, checks calls reach the detour and the original still answers as
 * before, then that disabling puts every byte back. */
static void check_fixture(const char *name, fn_t f, const long *args, size_t n) {
  uint8_t before[32];
  memcpy(before, (void *)f, sizeof before);
  long want[8];
  for (size_t i = 0; i < n; i++) want[i] = f(args[i]);
  rh_hook_t *h;
  CHECK_ST(rh_hook_create((void *)f, (void *)detour, (void **)&orig, &h), RH_OK);
  for (size_t i = 0; i < n; i++) CHECK(orig(args[i]) == want[i]); /* before enabling too */
  CHECK_ST(rh_hook_enable(h), RH_OK);
  CHECK(rh_hook_count() == 1);
  CHECK(memcmp(before, (void *)f, sizeof before) != 0);
  /* one hook, detour in reach: the entry jumps straight to it */
  const uint8_t *entry = (const uint8_t *)f + (memcmp(before, "\xF3\x0F\x1E\xFA", 4) == 0 ? 4 : 0);
  if (entry[0] == 0xE9) {
    int32_t rel;
    memcpy(&rel, entry + 1, 4);
    CHECK((uintptr_t)(entry + 5 + rel) == (uintptr_t)detour);
  } else {
    CHECK(entry[0] == 0xFF && entry[1] == 0x25); /* the far form */
  }
  calls = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK(f(args[i]) == want[i] + 1000000);
    CHECK(orig(args[i]) == want[i]);
  }
  CHECK(calls == (int)n);
  CHECK_ST(rh_hook_disable(h), RH_OK);
  CHECK(memcmp(before, (void *)f, sizeof before) == 0);
  for (size_t i = 0; i < n; i++) CHECK(f(args[i]) == want[i]);
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  CHECK(rh_hook_count() == 0);
  printf("  %-14s ok\n", name);
}

static fn_t orig_a, orig_b;
static long detour_a(long x) { return orig_a(x) + 1000; }
static long detour_b(long x) { return orig_b(x) + 10000; }

static void check_chain(void) {
  long base = fx_rip_load(1);
  rh_hook_t *a, *b;
  CHECK_ST(rh_hook_create((void *)fx_rip_load, (void *)detour_a, (void **)&orig_a, &a), RH_OK);
  CHECK_ST(rh_hook_create((void *)fx_rip_load, (void *)detour_b, (void **)&orig_b, &b), RH_OK);
  rh_hook_t *both[2] = {a, b};
  CHECK_ST(rh_hook_enable_all(both, 2), RH_OK);
  CHECK(fx_rip_load(1) == base + 11000);
  CHECK_ST(rh_hook_disable(b), RH_OK); /* the newest, first in line */
  CHECK(fx_rip_load(1) == base + 1000);
  CHECK_ST(rh_hook_enable(b), RH_OK);
  CHECK_ST(rh_hook_disable(a), RH_OK); /* the one in the middle of the chain */
  CHECK(fx_rip_load(1) == base + 10000);
  CHECK(orig_b(1) == base);
  CHECK_ST(rh_hook_enable(b), RH_ERR_STATE);
  /* a batch with a bad member changes nothing */
  rh_hook_t *bad[2] = {a, b};
  CHECK_ST(rh_hook_enable_all(bad, 2), RH_ERR_STATE);
  CHECK(fx_rip_load(1) == base + 10000);
  CHECK_ST(rh_hook_destroy(a), RH_OK);
  CHECK_ST(rh_hook_destroy(b), RH_OK);
  CHECK(fx_rip_load(1) == base);
  printf("  %-14s ok\n", "chain");
}

static void check_refusals(void) {
  void *o;
  rh_hook_t *h;
  CHECK_ST(rh_hook_create((void *)fx_too_short, (void *)detour, &o, &h), RH_ERR_TOO_SHORT);
  CHECK_ST(rh_hook_create((void *)fx_branch_in, (void *)detour, &o, &h), RH_ERR_BRANCH_INTO_PATCH);
  CHECK_ST(rh_hook_create(fx_nosize_ptr, (void *)detour, &o, &h), RH_ERR_BRANCH_INTO_PATCH);
  CHECK_ST(rh_hook_create(NULL, (void *)detour, &o, &h), RH_ERR_ARGS);
  static const uint8_t wrong[3] = {0x90, 0x90, 0x90};
  rh_hook_options_t opt = {wrong, sizeof wrong};
  CHECK_ST(rh_hook_create_ex((void *)fx_rip_load, (void *)detour, &opt, &o, &h),
           RH_ERR_BYTES_DIFFER);
  uint8_t right[3];
  memcpy(right, (void *)fx_rip_load, 3);
  opt.expect = right;
  CHECK_ST(rh_hook_create_ex((void *)fx_rip_load, (void *)detour, &opt, (void **)&orig, &h), RH_OK);
  /* someone else rewrites the patch: disabling refuses and leaves it */
  CHECK_ST(rh_hook_enable(h), RH_OK);
  uint8_t *code = (uint8_t *)fx_rip_load;
  long ps = sysconf(_SC_PAGESIZE);
  uint8_t *page = (uint8_t *)((uintptr_t)code & ~(uintptr_t)(ps - 1));
  CHECK(mprotect(page, (size_t)ps * 2, PROT_READ | PROT_WRITE | PROT_EXEC) == 0);
  uint8_t mine = code[1];
  uint8_t theirs = (uint8_t)(mine + 1);
  code[1] = theirs;
  CHECK_ST(rh_hook_disable(h), RH_ERR_MODIFIED);
  CHECK(code[1] == theirs); /* left as the other party wrote it */
  code[1] = mine;
  CHECK(mprotect(page, (size_t)ps * 2, PROT_READ | PROT_EXEC) == 0);
  CHECK(rh_hook_list(NULL, 0) == 1);
  rh_hook_info_t info;
  CHECK(rh_hook_list(&info, 1) == 1 && info.target == (void *)fx_rip_load && info.enabled &&
        info.kind == RH_HOOK_INLINE);
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  for (int s = 0; s < RH_STATUS_COUNT; s++) CHECK(strlen(rh_strerror((rh_status_t)s)) > 5);
  printf("  %-14s ok\n", "refusals");
}

/* Functions no one here wrote. */
typedef size_t (*strlen_t)(const char *);
typedef double (*cos_t)(double);
static strlen_t orig_strlen;
static cos_t orig_cos;
static int strlen_calls, cos_calls;
static size_t my_strlen(const char *s) {
  strlen_calls++;
  return orig_strlen(s);
}
static double my_cos(double x) {
  cos_calls++;
  return orig_cos(x);
}

static void check_libraries(void) {
  strlen_t real_strlen = (strlen_t)dlsym(RTLD_DEFAULT, "strlen");
  cos_t real_cos = (cos_t)dlsym(RTLD_DEFAULT, "cos");
  CHECK(real_strlen != NULL && real_cos != NULL);
  rh_hook_t *h[2];
  CHECK_ST(rh_hook_create((void *)real_strlen, (void *)my_strlen, (void **)&orig_strlen, &h[0]),
           RH_OK);
  CHECK_ST(rh_hook_create((void *)real_cos, (void *)my_cos, (void **)&orig_cos, &h[1]), RH_OK);
  CHECK_ST(rh_hook_enable_all(h, 2), RH_OK);
  volatile strlen_t call_strlen = real_strlen;
  volatile cos_t call_cos = real_cos;
  CHECK(call_strlen("reheap hooks") == 12 && strlen_calls == 1);
  CHECK(call_cos(0.0) == 1.0 && cos_calls == 1);
  CHECK(orig_cos(3.14159265358979323846) < -0.999999);
  CHECK_ST(rh_hook_disable_all(h, 2), RH_OK);
  CHECK(call_strlen("abc") == 3 && strlen_calls == 1);
  CHECK_ST(rh_hook_destroy(h[0]), RH_OK);
  CHECK_ST(rh_hook_destroy(h[1]), RH_OK);
  printf("  %-14s ok\n", "strlen, cos");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  static const long args[] = {0, 1, 7, -3};
  check_fixture("rip_load", fx_rip_load, args, 4);
  check_fixture("rip_lea", fx_rip_lea, args, 4);
  check_fixture("rip_store", fx_rip_store, args, 4);
  CHECK(fx_stored == -3);
  check_fixture("call_rel", fx_call_rel, args, 4);
  check_fixture("jmp_rel", fx_jmp_rel, args, 4);
  check_fixture("jcc_out", fx_jcc_out, args, 4);
  check_fixture("jmp_inside", fx_jmp_inside, args, 4);
  check_fixture("endbr", fx_endbr, args, 4);
  CHECK(memcmp((void *)fx_endbr, "\xF3\x0F\x1E\xFA", 4) == 0);
  /* no memory free within 2 GiB: the 14-byte absolute jump */
  hook_test_no_near_memory = true;
  check_fixture("far (14 bytes)", fx_long, args, 4);
  void *o;
  rh_hook_t *h;
  CHECK_ST(rh_hook_create((void *)fx_call_rel, (void *)detour, &o, &h), RH_ERR_TOO_SHORT);
  CHECK_ST(rh_hook_create((void *)fx_long, (void *)detour, (void **)&orig, &h), RH_OK);
  CHECK_ST(rh_hook_enable(h), RH_OK);
  CHECK(((uint8_t *)fx_long)[0] == 0xFF && ((uint8_t *)fx_long)[1] == 0x25); /* jmp [rip+0] */
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  hook_test_no_near_memory = false;
  check_chain();
  check_refusals();
  check_libraries();
  puts("inline hooks x86-64: ok");
  return 0;
}
