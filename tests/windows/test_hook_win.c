/* The hook engine on Windows (x86-64, under wine64): every relocation case
 * of fixtures_x86_64.S hooked and put back byte for byte, the far form,
 * refusals, a chain, and functions of system DLLs (msvcrt, kernel32)
 * reached through GetProcAddress. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "fixtures.h"
#include "hook_check.h"
#include "reheap/hook.h"

extern FX_ABI fx_t fx_rip_load(fx_t), fx_rip_lea(fx_t), fx_rip_store(fx_t), fx_call_rel(fx_t),
    fx_jmp_rel(fx_t), fx_jcc_out(fx_t), fx_jmp_inside(fx_t), fx_endbr(fx_t), fx_too_short(fx_t),
    fx_branch_in(fx_t), fx_long(fx_t);
extern fx_t fx_stored;
extern void *fx_nosize_ptr;
extern bool hook_test_no_near_memory; /* the engine's test switch */

static fn_t orig;
static int calls;
static FX_ABI fx_t detour(fx_t x) {
  calls++;
  return orig(x) + 1000000;
}

static void check_fixture(const char *name, fn_t f, bool far_form) {
  static const fx_t args[] = {0, 1, 7, -3};
  uint8_t before[32];
  memcpy(before, (void *)f, sizeof before);
  fx_t want[4];
  for (int i = 0; i < 4; i++) want[i] = f(args[i]);
  rh_hook_t *h;
  CHECK_ST(rh_hook_create((void *)f, (void *)detour, (void **)&orig, &h), RH_OK);
  CHECK_ST(rh_hook_enable(h), RH_OK);
  const uint8_t *entry = (const uint8_t *)f + (memcmp(before, "\xF3\x0F\x1E\xFA", 4) == 0 ? 4 : 0);
  if (far_form) CHECK(entry[0] == 0xFF && entry[1] == 0x25); /* jmp [rip+0], then the address */
  else CHECK(entry[0] == 0xE9);
  calls = 0;
  for (int i = 0; i < 4; i++) {
    CHECKF(f(args[i]) == want[i] + 1000000, "%s(%lld)", name, (long long)args[i]);
    CHECK(orig(args[i]) == want[i]);
  }
  CHECK(calls == 4);
  CHECK_ST(rh_hook_disable(h), RH_OK);
  CHECK(memcmp(before, (void *)f, sizeof before) == 0);
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  CHECK(rh_hook_count() == 0);
  printf("  %-14s ok\n", name);
}

static fn_t orig_a, orig_b;
static FX_ABI fx_t detour_a(fx_t x) { return orig_a(x) + 1000; }
static FX_ABI fx_t detour_b(fx_t x) { return orig_b(x) + 10000; }

static void check_chain_and_refusals(void) {
  fx_t base = fx_rip_load(1);
  rh_hook_t *a, *b;
  CHECK_ST(rh_hook_create((void *)fx_rip_load, (void *)detour_a, (void **)&orig_a, &a), RH_OK);
  CHECK_ST(rh_hook_create((void *)fx_rip_load, (void *)detour_b, (void **)&orig_b, &b), RH_OK);
  rh_hook_t *both[2] = {a, b};
  CHECK_ST(rh_hook_enable_all(both, 2), RH_OK);
  CHECK(fx_rip_load(1) == base + 11000);
  CHECK_ST(rh_hook_disable(a), RH_OK); /* the one in the middle of the chain */
  CHECK(fx_rip_load(1) == base + 10000);
  CHECK_ST(rh_hook_destroy(a), RH_OK);
  CHECK_ST(rh_hook_destroy(b), RH_OK);
  CHECK(fx_rip_load(1) == base);

  void *o;
  rh_hook_t *h;
  CHECK_ST(rh_hook_create((void *)fx_too_short, (void *)detour, &o, &h), RH_ERR_TOO_SHORT);
  CHECK_ST(rh_hook_create((void *)fx_branch_in, (void *)detour, &o, &h), RH_ERR_BRANCH_INTO_PATCH);
  CHECK_ST(rh_hook_create(fx_nosize_ptr, (void *)detour, &o, &h), RH_ERR_BRANCH_INTO_PATCH);
  static const uint8_t wrong[3] = {0x90, 0x90, 0x90};
  rh_hook_options_t opt = {wrong, sizeof wrong};
  CHECK_ST(rh_hook_create_ex((void *)fx_rip_load, (void *)detour, &opt, &o, &h), RH_ERR_BYTES_DIFFER);
  /* someone else rewrites the patch: disabling refuses and leaves it */
  CHECK_ST(rh_hook_create((void *)fx_rip_load, (void *)detour, (void **)&orig, &h), RH_OK);
  CHECK_ST(rh_hook_enable(h), RH_OK);
  uint8_t *code = (uint8_t *)fx_rip_load;
  DWORD old;
  CHECK(VirtualProtect(code, 16, PAGE_EXECUTE_READWRITE, &old));
  uint8_t mine = code[1];
  code[1] = (uint8_t)(mine + 1);
  CHECK_ST(rh_hook_disable(h), RH_ERR_MODIFIED);
  CHECK(code[1] == (uint8_t)(mine + 1));
  code[1] = mine;
  CHECK(VirtualProtect(code, 16, old, &old));
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  CHECK(fx_rip_load(1) == base);
  printf("  %-14s ok\n", "chain, refusals");
}

/* Functions of the system's own DLLs, found as a program finds them. */
typedef size_t(__cdecl *strlen_t)(const char *);
typedef int(WINAPI *lstrlen_t)(LPCSTR);
static strlen_t orig_strlen;
static lstrlen_t orig_lstrlen;
static int strlen_calls, lstrlen_calls;
static size_t __cdecl my_strlen(const char *s) {
  strlen_calls++;
  return orig_strlen(s);
}
static int WINAPI my_lstrlen(LPCSTR s) {
  lstrlen_calls++;
  return orig_lstrlen(s);
}

static void check_system(void) {
  HMODULE crt = LoadLibraryA("msvcrt.dll"), k32 = GetModuleHandleA("kernel32.dll");
  CHECK(crt != NULL && k32 != NULL);
  strlen_t real_strlen = (strlen_t)(void (*)(void))GetProcAddress(crt, "strlen");
  lstrlen_t real_lstrlen = (lstrlen_t)(void (*)(void))GetProcAddress(k32, "lstrlenA");
  CHECK(real_strlen != NULL && real_lstrlen != NULL);
  rh_hook_t *h[2];
  CHECK_ST(rh_hook_create((void *)real_strlen, (void *)my_strlen, (void **)&orig_strlen, &h[0]), RH_OK);
  CHECK_ST(rh_hook_create((void *)real_lstrlen, (void *)my_lstrlen, (void **)&orig_lstrlen, &h[1]), RH_OK);
  CHECK_ST(rh_hook_enable_all(h, 2), RH_OK);
  volatile strlen_t call_strlen = real_strlen;
  volatile lstrlen_t call_lstrlen = real_lstrlen;
  CHECK(call_strlen("reheap hooks") == 12 && strlen_calls == 1);
  CHECK(call_lstrlen("on windows") == 10 && lstrlen_calls == 1);
  CHECK_ST(rh_hook_disable_all(h, 2), RH_OK);
  CHECK(call_strlen("abc") == 3 && strlen_calls == 1);
  CHECK(call_lstrlen("abc") == 3 && lstrlen_calls == 1);
  CHECK_ST(rh_hook_destroy(h[0]), RH_OK);
  CHECK_ST(rh_hook_destroy(h[1]), RH_OK);
  printf("  %-14s ok\n", "msvcrt strlen, kernel32 lstrlenA");
}

/* An IAT hook: this program's own import of kernel32's GetCurrentProcessId
 * (called as any import is, through its slot). */
typedef DWORD(WINAPI *pid_t_fn)(void);
static pid_t_fn orig_pid;
static int pid_calls;
static DWORD WINAPI my_pid(void) {
  pid_calls++;
  return orig_pid() + 1;
}

static void check_iat(void) {
  DWORD real = GetCurrentProcessId();
  rh_hook_t *h;
  CHECK_ST(rh_got_hook_create("GetCurrentProcessId", (void *)my_pid, "no-such.exe", (void **)&orig_pid, &h),
           RH_ERR_NOT_FOUND);
  CHECK_ST(rh_got_hook_create("GetCurrentProcessId", (void *)my_pid, "win_hook_inline.exe", (void **)&orig_pid,
                              &h),
           RH_OK);
  CHECK_ST(rh_hook_enable(h), RH_OK);
  CHECK(GetCurrentProcessId() == real + 1 && pid_calls == 1);
  CHECK_ST(rh_hook_disable(h), RH_OK);
  CHECK(GetCurrentProcessId() == real && pid_calls == 1);
  CHECK_ST(rh_hook_destroy(h), RH_OK);
  printf("  %-14s ok\n", "IAT slot");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  check_fixture("rip_load", fx_rip_load, false);
  check_fixture("rip_lea", fx_rip_lea, false);
  check_fixture("rip_store", fx_rip_store, false);
  CHECK(fx_stored == -3);
  check_fixture("call_rel", fx_call_rel, false);
  check_fixture("jmp_rel", fx_jmp_rel, false);
  check_fixture("jcc_out", fx_jcc_out, false);
  check_fixture("jmp_inside", fx_jmp_inside, false);
  check_fixture("endbr", fx_endbr, false);
  hook_test_no_near_memory = true; /* no memory free within 2 GiB */
  check_fixture("far (14 bytes)", fx_long, true);
  hook_test_no_near_memory = false;
  check_chain_and_refusals();
  check_system();
  check_iat();
  puts("inline hooks, Windows x86-64: ok");
  return 0;
}
