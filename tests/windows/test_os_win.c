/* The Windows OS layer (src/os/os_*_windows.c) against what os.h promises:
 * aligned mappings, purged pages reading back as zeros, protections, code
 * memory near a point, modules and exports from the PE headers, the
 * heap's word per thread, thread-exit calls, threads stopped, and the
 * files reheap writes (this user's alone, never through a link). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdbool.h>

#include "check.h"
#include "os/os.h"

static void check_memory(void) {
  size_t ps = os_page_size();
  CHECK(ps == 4096);
  static const size_t aligns[] = {1 << 16, 1 << 20, 1 << 22, 1 << 25};
  for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
    /* offsets in whole granules: where a reservation can start */
    for (size_t off = 0; off < aligns[i] && off <= (size_t)2 << 16; off += 1 << 16) {
      size_t size = aligns[i] + 3 * ps;
      uint8_t *p = os_map_aligned(size, aligns[i], off);
      CHECKF(p != NULL && (((uintptr_t)p + off) & (aligns[i] - 1)) == 0, "align %zu off %zu: %p", aligns[i],
             off, (void *)p);
      CHECK(p[0] == 0 && p[size - 1] == 0);
      memset(p, 0xAB, size);
      os_purge(p + ps, size - 2 * ps); /* reads back as zeros, stays usable */
      CHECK(p[0] == 0xAB && p[ps] == 0 && p[size - ps - 1] == 0 && p[size - 1] == 0xAB);
      p[ps] = 1;
      CHECK(os_prot_of(p) == (OS_PROT_READ | OS_PROT_WRITE));
      CHECK(os_readable_after(p) >= size);
      CHECK(os_protect(p, ps, OS_PROT_READ));
      CHECK(os_prot_of(p) == OS_PROT_READ && os_prot_of(p + ps) == (OS_PROT_READ | OS_PROT_WRITE));
      CHECK(os_readable_after(p) >= size); /* read-only still reads */
      os_unmap(p, size);
      CHECK(os_prot_of(p) == -1 && os_readable_after(p) == 0);
    }
  }
  CHECK(os_map_aligned((size_t)1 << 20, 1 << 20, 4 * ps) == NULL); /* not a granule: refused */
  bool refused = true;
  const void *here = (const void *)check_memory;
  uint8_t *code = os_map_code_near(here, 1 << 16, (size_t)1 << 31, &refused);
  CHECK(code != NULL && !refused);
  uintptr_t d = (uintptr_t)code > (uintptr_t)here ? (uintptr_t)code + (1 << 16) - (uintptr_t)here
                                                  : (uintptr_t)here - (uintptr_t)code;
  CHECKF(d <= (size_t)1 << 31, "code at %p, %p away", (void *)code, (void *)d);
  CHECK(os_prot_of(code) == (OS_PROT_READ | OS_PROT_WRITE | OS_PROT_EXEC));
  code[0] = 0xC3; /* ret */
  ((void (*)(void))(void *)code)();
  printf("  %-24s ok\n", "memory, protections");
}

static uintptr_t main_ip;
static void found_code(const uint8_t *lo, const uint8_t *hi, void *arg) {
  (void)arg;
  if (main_ip >= (uintptr_t)lo && main_ip < (uintptr_t)hi) main_ip = 0;
}

static void check_modules(void) {
  HMODULE k32 = GetModuleHandleA("kernel32.dll");
  CHECK(os_module_base("kernel32.dll") == (uintptr_t)k32);
  CHECK(os_module_base("KERNEL32") == (uintptr_t)k32); /* any case, no extension */
  CHECK(os_module_base("no-such-module.dll") == 0);
  CHECK(os_module_base(NULL) == (uintptr_t)GetModuleHandleA(NULL)); /* the program first */
  void *lstr = (void *)(uintptr_t)GetProcAddress(k32, "lstrlenA");
  CHECK(lstr != NULL && os_module_symbol("kernel32", "lstrlenA") == lstr);
  CHECK(os_symbol_lookup("lstrlenA") == lstr);
  char name[64], module[MAX_PATH];
  uintptr_t off = 1;
  CHECK(os_symbolize(lstr, name, sizeof name, module, sizeof module, &off));
  CHECKF(strcmp(name, "lstrlenA") == 0 && off == 0, "%s+%p in %s", name, (void *)off, module);
  CHECK(os_in_program((void *)check_modules) && !os_in_program(lstr));
  CHECK(os_module_code((void *)check_modules) && !os_module_code(&main_ip));
  const void *start = NULL;
  size_t n = os_symbol_size((const void *)((uintptr_t)check_modules + 3), &start);
  CHECKF(n > 16 && start == (const void *)check_modules, "%zu bytes from %p", n, start);
  main_ip = (uintptr_t)check_modules;
  os_module_code_each(NULL, found_code, NULL);
  CHECK(main_ip == 0);
  printf("  %-24s ok\n", "modules, exports");
}

static _Atomic int exits_seen;
static void on_exit_value(void *v) {
  if (v == (void *)&exits_seen) atomic_fetch_add(&exits_seen, 1);
}
static os_thread_key_t key;

static DWORD WINAPI worker(LPVOID arg) {
  CHECK(os_heap_word_get() == NULL); /* a word of its own, NULL at first */
  os_heap_word_set(arg);
  CHECK(os_heap_word_get() == arg);
  os_thread_key_set(key, &exits_seen);
  return 0;
}

static _Atomic int spinning, spin_stop;
static _Atomic long spins;
static DWORD WINAPI spinner(LPVOID arg) {
  (void)arg;
  atomic_fetch_add(&spinning, 1);
  while (!atomic_load(&spin_stop)) atomic_fetch_add(&spins, 1);
  return 0;
}

static long spins_in_work;
static int ips_seen;
static void work(void *arg) {
  (void)arg;
  long a = atomic_load(&spins);
  Sleep(50);
  spins_in_work = atomic_load(&spins) - a;
}
static void fix_ip(uintptr_t *ip, void *arg) {
  (void)arg;
  if (*ip != 0) ips_seen++;
}

static void check_threads(void) {
  int mine;
  os_heap_word_set(&mine);
  CHECK(os_heap_word_get() == &mine);
  CHECK(os_thread_key_new(&key, on_exit_value));
  HANDLE t[4];
  for (int i = 0; i < 4; i++) CHECK((t[i] = CreateThread(NULL, 0, worker, &t[i], 0, NULL)) != NULL);
  WaitForMultipleObjects(4, t, TRUE, INFINITE);
  for (int i = 0; i < 4; i++) CloseHandle(t[i]);
  CHECK(os_heap_word_get() == &mine); /* theirs were their own */
  CHECK(atomic_load(&exits_seen) == 4);

  HANDLE s[2];
  for (int i = 0; i < 2; i++) CHECK((s[i] = CreateThread(NULL, 0, spinner, NULL, 0, NULL)) != NULL);
  while (atomic_load(&spinning) < 2) Sleep(1);
  for (int round = 0; round < 20; round++) {
    ips_seen = 0;
    CHECK(os_stop_world(work, fix_ip, NULL));
    CHECKF(spins_in_work == 0, "round %d: %ld spins while stopped", round, spins_in_work);
    CHECK(ips_seen >= 2);
  }
  long before = atomic_load(&spins);
  Sleep(20);
  CHECK(atomic_load(&spins) > before); /* and they run again */
  atomic_store(&spin_stop, 1);
  WaitForMultipleObjects(2, s, TRUE, INFINITE);
  printf("  %-24s ok\n", "threads, stop the world");
}

/* The file's DACL lets this user at it, and no one else but the system
 * itself: Windows keeps the one ACE reheap writes; wine makes the DACL
 * from the file's unix mode, SYSTEM and the user (a plain file there
 * gets Everyone too). */
static void check_user_only(const char *path) {
  PACL dacl = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  CHECK(GetNamedSecurityInfoA(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd) ==
        ERROR_SUCCESS);
  CHECKF(dacl != NULL, "%s: no DACL: open to everyone", path);
  HANDLE token;
  union {
    TOKEN_USER user;
    char bytes[256];
  } me;
  DWORD got;
  CHECK(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) &&
        GetTokenInformation(token, TokenUser, &me, sizeof me, &got));
  CloseHandle(token);
  SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
  PSID system;
  CHECK(AllocateAndInitializeSid(&nt, 1, SECURITY_LOCAL_SYSTEM_RID, 0, 0, 0, 0, 0, 0, 0, &system));
  bool user_full = false;
  for (unsigned i = 0; i < dacl->AceCount; i++) {
    ACCESS_ALLOWED_ACE *ace;
    CHECK(GetAce(dacl, i, (void **)&ace));
    if (ace->Header.AceType != ACCESS_ALLOWED_ACE_TYPE) continue;
    PSID sid = (PSID)&ace->SidStart;
    char *name = NULL;
    ConvertSidToStringSidA(sid, &name);
    CHECKF(EqualSid(sid, me.user.User.Sid) || EqualSid(sid, system), "%s: %s may open it too", path,
           name != NULL ? name : "?");
    LocalFree(name);
    user_full |= EqualSid(sid, me.user.User.Sid) && (ace->Mask & FILE_ALL_ACCESS) == FILE_ALL_ACCESS;
  }
  CHECKF(user_full, "%s: this user has not every right to it", path);
  FreeSid(system);
  LocalFree(sd);
}

static void check_private_file(void) {
  char dir[MAX_PATH], path[MAX_PATH + 32], link[MAX_PATH + 32];
  CHECK(GetTempPathA(sizeof dir, dir) > 0);
  snprintf(path, sizeof path, "%srh_private_%lu.log", dir, GetCurrentProcessId());
  snprintf(link, sizeof link, "%srh_link_%lu.log", dir, GetCurrentProcessId());
  DeleteFileA(path);
  int fd = os_create_private_file(path);
  CHECK(fd >= 0);
  os_write_all(fd, "first run, a longer line\r\n", 26);
  os_close(fd);
  check_user_only(path);
  /* there already, open to everyone: replaced whole, and made private */
  CHECK(SetNamedSecurityInfoA(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, NULL, NULL) ==
        ERROR_SUCCESS);
  CHECK((fd = os_create_private_file(path)) >= 0);
  os_write_all(fd, "second\r\n", 8);
  os_close(fd);
  check_user_only(path);
  char text[64];
  CHECK(os_read_small_file(path, text, sizeof text) == 8 && memcmp(text, "second\r\n", 8) == 0);
  /* a link planted where the file goes is not followed */
  DeleteFileA(link);
  /* (wine's CreateSymbolicLink says yes and makes nothing: then there is
   * no link to plant) */
  DWORD attrs = CreateSymbolicLinkA(link, path, 0) ? GetFileAttributesA(link) : INVALID_FILE_ATTRIBUTES;
  if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_REPARSE_POINT)) {
    CHECK(os_create_private_file(link) < 0);
    CHECK(os_read_small_file(path, text, sizeof text) == 8); /* its target untouched */
    DeleteFileA(link);
    printf("  %-24s ok\n", "private file, a link refused");
  } else {
    printf("  %-24s ok (this system plants no symbolic link: that case untested here)\n", "private file");
  }
  DeleteFileA(path);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  check_private_file();
  check_memory();
  check_modules();
  check_threads();
  puts("os layer, Windows: ok");
  return 0;
}
