/* Inline hooks on aarch64: every relocation case of fixtures_aarch64.S
 * under the near patch (B) and the far one (LDR X17; BR X17; .quad), real
 * library functions, chains, refusals and exact restoring. */
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reheap/hook.h"
#include "hook_check.h"

typedef long (*fn_t)(long);
extern long fx_rip_load(long), fx_adrp(long), fx_ldr_x(long), fx_ldr_w(long), fx_ldrsw(long),
    fx_ldr_d(long), fx_ldr_q(long), fx_prfm(long), fx_b_out(long), fx_b_far(long), fx_cbz(long),
    fx_cbnz_w(long), fx_tbnz(long), fx_tbz(long), fx_bcond(long), fx_bl(long), fx_jmp_inside(long),
    fx_bti(long), fx_too_short(long), fx_branch_in(long), fx_long(long);
extern void *fx_nosize_ptr; /* a function without a symbol */
extern bool hook_test_no_near_memory; /* the engine's test switch */

#define LDR_X17_8 0x58000051u /* the far patch's first word */

static fn_t orig;
static int calls;
static long detour(long x) {
  calls++;
  return orig(x) + 1000000;
}

static uint32_t word_at(const void *p) {
  uint32_t w;
  memcpy(&w, p, 4);
  return w;
}

/* the destination of a B at p */
static uintptr_t b_target(const uint8_t *p) {
  uint32_t w = word_at(p);
  CHECK((w & 0xFC000000u) == 0x14000000u);
  int64_t imm = (int64_t)((uint64_t)(w & 0x3FFFFFFu) << 38) >> 36;
  return (uintptr_t)p + (uintptr_t)imm;
}

/* Hooks f, checks calls reach the detour and the original still answers as
 * before, then that disabling puts every byte back. */
static void check_fixture(const char *name, fn_t f, const long *args, size_t n, bool far) {
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
  bool bti = (word_at(before) & 0xFFFFFF3Fu) == 0xD503241Fu;
  const uint8_t *entry = (const uint8_t *)f + (bti ? 4 : 0);
  if (bti) CHECK(word_at(f) == word_at(before)); /* the landing pad stays */
  if (far) {
    CHECK(word_at(entry) == LDR_X17_8 && word_at(entry + 4) == 0xD61F0220u);
    uint64_t to;
    memcpy(&to, entry + 8, 8);
    CHECK(to == (uintptr_t)detour);
  } else {
    /* one hook, detour in reach: the entry branches straight to it, and
     * only its first word changed */
    CHECK(b_target(entry) == (uintptr_t)detour);
    CHECK(memcmp(before + (entry - (const uint8_t *)f) + 4, entry + 4, 8) == 0);
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
  printf("  %-8s %-12s ok\n", far ? "far" : "near", name);
}

static const struct {
  const char *name;
  fn_t f;
  bool near_only; /* shorter than the far patch */
} cases[] = {
#define CASE(f) {#f, f, false}
    CASE(fx_rip_load), CASE(fx_adrp),  CASE(fx_ldr_x),  CASE(fx_ldr_w),  CASE(fx_ldrsw),
    CASE(fx_ldr_d),    CASE(fx_ldr_q), CASE(fx_prfm),   {"fx_b_out", fx_b_out, true}, {"fx_b_far", fx_b_far, true},
    CASE(fx_cbz),      CASE(fx_cbnz_w), CASE(fx_tbnz),  CASE(fx_tbz),    CASE(fx_bcond),
    CASE(fx_bl),       CASE(fx_jmp_inside), CASE(fx_bti), CASE(fx_long),
#undef CASE
};

/* The fixtures compute what their comments say (so a relocation that
 * kept the wrong value would be seen even before any hook). */
static void check_plain(void) {
  CHECK(fx_rip_load(2) == 42 && fx_adrp(2) == 43 && fx_ldr_x(2) == 42);
  CHECK(fx_ldr_w(1) == 0x100000000L && fx_ldrsw(1) == 0);
  CHECK(fx_ldr_d(1) == 3 && fx_ldr_q(1) == 78 && fx_prfm(4) == 8);
  CHECK(fx_b_out(1) == 6 && fx_b_far(1) == 8);
  CHECK(fx_cbz(0) == 100 && fx_cbz(4) == 5 && fx_cbnz_w(0x100000000L) == 200 && fx_cbnz_w(3) == 2);
  CHECK(fx_tbnz(-4) == 4 && fx_tbnz(4) == 7 && fx_tbz(6) == 3 && fx_tbz(7) == 7);
  CHECK(fx_bcond(7) == 6 && fx_bcond(1) == 2 && fx_bl(1) == 101);
  CHECK(fx_jmp_inside(0) == 2 && fx_jmp_inside(1) == 4 && fx_bti(0) == 9 && fx_bti(3) == 3);
  CHECK(fx_branch_in(1) == 4 && fx_long(2) == 6);
  printf("  %-21s ok\n", "fixtures as written");
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
  CHECK_ST(rh_hook_destroy(a), RH_OK);
  CHECK_ST(rh_hook_destroy(b), RH_OK);
  CHECK(fx_rip_load(1) == base);
  printf("  %-21s ok\n", "chain");
}

static void check_refusals(void) {
  void *o;
  rh_hook_t *h;
  CHECK_ST(rh_hook_create(NULL, (void *)detour, &o, &h), RH_ERR_ARGS);
  CHECK_ST(rh_hook_create((void *)((uintptr_t)fx_long + 2), (void *)detour, &o, &h), RH_ERR_ARGS);
  /* the far patch covers four instructions: these cannot give them */
  hook_test_no_near_memory = true;
  CHECK_ST(rh_hook_create((void *)fx_too_short, (void *)detour, &o, &h), RH_ERR_TOO_SHORT);
  CHECK_ST(rh_hook_create((void *)fx_b_far, (void *)detour, &o, &h), RH_ERR_TOO_SHORT);
  CHECK_ST(rh_hook_create((void *)fx_b_out, (void *)detour, &o, &h), RH_ERR_TOO_SHORT); /* flow leaves */
  CHECK_ST(rh_hook_create((void *)fx_branch_in, (void *)detour, &o, &h), RH_ERR_BRANCH_INTO_PATCH);
  CHECK_ST(rh_hook_create(fx_nosize_ptr, (void *)detour, &o, &h), RH_ERR_BRANCH_INTO_PATCH);
  hook_test_no_near_memory = false;
  /* the near patch covers one: the same functions are fine */
  static const long args[] = {0, 1, 7, -3};
  check_fixture("too_short", fx_too_short, args, 4, false);
  check_fixture("branch_in", fx_branch_in, args, 4, false);
  check_fixture("nosize", (fn_t)fx_nosize_ptr, args, 4, false);
  uint32_t wrong = 0xD503201Fu;
  rh_hook_options_t opt = {(const uint8_t *)&wrong, sizeof wrong};
  CHECK_ST(rh_hook_create_ex((void *)fx_rip_load, (void *)detour, &opt, &o, &h), RH_ERR_BYTES_DIFFER);
  uint32_t right = word_at(fx_rip_load);
  opt.expect = (const uint8_t *)&right;
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
  __builtin___clear_cache((char *)code, (char *)code + 4);
  CHECK_ST(rh_hook_disable(h), RH_ERR_MODIFIED);
  CHECK(code[1] == theirs); /* left as the other party wrote it */
  code[1] = mine;
  __builtin___clear_cache((char *)code, (char *)code + 4);
  CHECK(mprotect(page, (size_t)ps * 2, PROT_READ | PROT_EXEC) == 0);
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  printf("  %-21s ok\n", "refusals");
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

static void check_libraries(bool far) {
  strlen_t real_strlen = (strlen_t)dlsym(RTLD_DEFAULT, "strlen");
  cos_t real_cos = (cos_t)dlsym(RTLD_DEFAULT, "cos");
  CHECK(real_strlen != NULL && real_cos != NULL);
  hook_test_no_near_memory = far;
  strlen_calls = cos_calls = 0;
  rh_hook_t *h[2];
  CHECK_ST(rh_hook_create((void *)real_strlen, (void *)my_strlen, (void **)&orig_strlen, &h[0]), RH_OK);
  CHECK_ST(rh_hook_create((void *)real_cos, (void *)my_cos, (void **)&orig_cos, &h[1]), RH_OK);
  CHECK_ST(rh_hook_enable_all(h, 2), RH_OK);
  volatile strlen_t call_strlen = real_strlen;
  volatile cos_t call_cos = real_cos;
  /* libc's own calls to strlen reach the patched code too (stdio's): at
   * least this one was counted */
  CHECK(call_strlen("reheap hooks") == 12 && strlen_calls >= 1);
  CHECK(call_cos(0.0) == 1.0 && cos_calls >= 1);
  CHECK(orig_cos(3.14159265358979323846) < -0.999999);
  CHECK(orig_strlen("0123456789abcdefghij") == 20);
  CHECK_ST(rh_hook_disable_all(h, 2), RH_OK);
  int seen = strlen_calls;
  CHECK(call_strlen("abc") == 3 && strlen_calls == seen);
  CHECK_ST(rh_hook_destroy(h[0]), RH_OK);
  CHECK_ST(rh_hook_destroy(h[1]), RH_OK);
  hook_test_no_near_memory = false;
  printf("  %-8s %-12s ok\n", far ? "far" : "near", "strlen, cos");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  static const long args[] = {0, 1, 7, -3, 0x100000000L, 6};
  check_plain();
  for (int far = 0; far <= 1; far++) {
    hook_test_no_near_memory = far;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
      if (!far || !cases[i].near_only) check_fixture(cases[i].name + 3, cases[i].f, args, 6, far);
    hook_test_no_near_memory = false;
  }
  check_chain();
  check_refusals();
  check_libraries(false);
  check_libraries(true);
  puts("inline hooks aarch64: ok");
  return 0;
}
