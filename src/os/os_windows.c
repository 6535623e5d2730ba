/* Windows implementation of os.h: memory, locks, thread words and exits.
 * Code patching is in os_code_windows.c, modules in os_modules_windows.c,
 * threads stopped in os_threads_windows.c. */
#include "os/os.h"

#include <fcntl.h>
#include <io.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <windows.h>
#include <sddl.h>

static const SYSTEM_INFO *system_info(void) {
  static SYSTEM_INFO si;
  if (si.dwPageSize == 0) GetSystemInfo(&si);
  return &si;
}

size_t os_page_size(void) { return system_info()->dwPageSize; }
static size_t granularity(void) { return system_info()->dwAllocationGranularity; }

static void *reserve_commit(void *at, size_t size) {
  return VirtualAlloc(at, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

/* Windows gives a reservation back only whole, from its base, so an
 * aligned one cannot be trimmed out of a larger one as on Linux: a larger
 * one finds an aligned address, is released, and that address is reserved
 * alone (another thread may take it meanwhile: then again). Committed
 * pages are backed on first touch, as on Linux. */
void *os_map_aligned(size_t size, size_t align, size_t offset) {
  void *p = reserve_commit(NULL, size);
  if (p == NULL) return NULL;
  if ((((uintptr_t)p + offset) & (align - 1)) == 0) return p;
  VirtualFree(p, 0, MEM_RELEASE);
  if (align < granularity() || (offset & (granularity() - 1)) != 0 || size + align < size) return NULL;
  for (int attempt = 0; attempt < 16; attempt++) {
    char *raw = VirtualAlloc(NULL, size + align, MEM_RESERVE, PAGE_NOACCESS);
    if (raw == NULL) return NULL;
    uintptr_t start = (((uintptr_t)raw + offset + align - 1) & ~(uintptr_t)(align - 1)) - offset;
    VirtualFree(raw, 0, MEM_RELEASE);
    p = reserve_commit((void *)start, size);
    if (p == (void *)start) return p;
    /* an address between two granules is rounded down by VirtualAlloc:
     * an offset that is no multiple of the granularity cannot be met */
    if (p != NULL) VirtualFree(p, 0, MEM_RELEASE);
    if ((start & (granularity() - 1)) != 0) return NULL;
  }
  return NULL;
}

void os_unmap(void *p, size_t size) {
  if (p != NULL && size != 0) VirtualFree(p, 0, MEM_RELEASE);
}

/* Decommitted and committed again: the pages stop counting as resident and
 * read back as zeros, the contract the heap relies on to skip clearing for
 * calloc (MEM_RESET would keep the old contents readable). */
void os_purge(void *p, size_t size) {
  if (size == 0) return;
  if (VirtualFree(p, size, MEM_DECOMMIT)) VirtualAlloc(p, size, MEM_COMMIT, PAGE_READWRITE);
}

bool os_move_pages(void *old, size_t old_size, void *new_addr, size_t new_size) {
  (void)old, (void)old_size, (void)new_addr, (void)new_size;
  return false; /* no mremap: the caller copies */
}

uint64_t os_now_ms(void) { return GetTickCount64(); }

void os_lock(os_lock_t *l) {
  _Atomic int *s = (_Atomic int *)&l->state;
  for (unsigned spins = 0;; spins++) {
    if (atomic_load_explicit(s, memory_order_relaxed) == 0 &&
        atomic_exchange_explicit(s, 1, memory_order_acquire) == 0)
      return;
    if (spins > 64) SwitchToThread();
    else YieldProcessor();
  }
}

void os_unlock(os_lock_t *l) { atomic_store_explicit((_Atomic int *)&l->state, 0, memory_order_release); }

void os_lock_reset(os_lock_t *l) { atomic_store_explicit((_Atomic int *)&l->state, 0, memory_order_relaxed); }

uintptr_t os_thread_self(void) { return (uintptr_t)GetCurrentThreadId(); }

uint32_t os_heap_word_slot;

static void heap_word_alloc(void) {
  static os_lock_t lock = OS_LOCK_INIT;
  os_lock(&lock);
  if (os_heap_word_slot == 0) {
    DWORD i = TlsAlloc();
    if (i != TLS_OUT_OF_INDEXES) os_heap_word_slot = (uint32_t)i + 1;
  }
  os_unlock(&lock);
}

void *os_heap_word_get_slow(void) {
  if (os_heap_word_slot == 0) return NULL;
  /* TlsGetValue clears the thread's last error: the program's own code
   * may be between a failed call and its GetLastError */
  DWORD e = GetLastError();
  void *v = TlsGetValue(os_heap_word_slot - 1);
  SetLastError(e);
  return v;
}

void os_heap_word_set(void *v) {
  if (os_heap_word_slot == 0) heap_word_alloc();
  if (os_heap_word_slot != 0) TlsSetValue(os_heap_word_slot - 1, v);
}

/* Fiber-local storage, unlike TLS, calls a function with each thread's
 * value when the thread ends (as pthread keys do), in an exe or a DLL,
 * with no DllMain needed. Its callback is WINAPI (stdcall on x86) and is
 * given only the value: each key gets a callback of its own that calls
 * the key's C function. */
#define EXIT_KEYS 8
static void (*exit_fn[EXIT_KEYS])(void *);
static _Atomic int exit_keys_used;

#define EXIT_CALLBACK(i) \
  static VOID WINAPI exit_cb##i(PVOID v) { \
    if (v != NULL) exit_fn[i](v); \
  }
EXIT_CALLBACK(0)
EXIT_CALLBACK(1)
EXIT_CALLBACK(2)
EXIT_CALLBACK(3)
EXIT_CALLBACK(4)
EXIT_CALLBACK(5)
EXIT_CALLBACK(6)
EXIT_CALLBACK(7)
static PFLS_CALLBACK_FUNCTION const exit_cb[EXIT_KEYS] = {exit_cb0, exit_cb1, exit_cb2, exit_cb3,
                                                          exit_cb4, exit_cb5, exit_cb6, exit_cb7};

bool os_thread_key_new(os_thread_key_t *key, void (*fn)(void *)) {
  int i = atomic_fetch_add(&exit_keys_used, 1);
  if (i >= EXIT_KEYS) return false;
  exit_fn[i] = fn;
  DWORD k = FlsAlloc(exit_cb[i]);
  if (k == FLS_OUT_OF_INDEXES) return false;
  *key = (os_thread_key_t)k;
  return true;
}

void os_thread_key_set(os_thread_key_t key, void *value) { FlsSetValue((DWORD)key, value); }

static os_thread_key_t exit_key;
static bool exit_key_made;

bool os_thread_exit_init(void (*fn)(void *)) {
  if (!exit_key_made) exit_key_made = os_thread_key_new(&exit_key, fn);
  return exit_key_made;
}

void os_thread_exit_set(void *value) {
  if (exit_key_made) os_thread_key_set(exit_key, value);
}

bool os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  (void)prepare, (void)parent, (void)child;
  return true; /* no fork on Windows */
}

void os_write_all(int fd, const char *buf, size_t len) {
  /* the C runtime's descriptors: 2 is the console or the redirected stderr */
  while (len > 0) {
    int n = _write(fd, buf, len > 0x40000000u ? 0x40000000u : (unsigned)len);
    if (n <= 0) return;
    buf += n;
    len -= (size_t)n;
  }
}

/* A security descriptor whose DACL, protected from the folder's, lets this
 * process's user alone at the file (the user's SID, not the owner's: a
 * game run elevated makes Administrators the owner, which the same user's
 * Notepad, not elevated, does not act as). NULL if it cannot be made. */
static PSECURITY_DESCRIPTOR user_only(void) {
  HANDLE token;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return NULL;
  union {
    TOKEN_USER user;
    char bytes[256];
  } info;
  DWORD got = 0;
  BOOL ok = GetTokenInformation(token, TokenUser, &info, sizeof info, &got);
  CloseHandle(token);
  char *sid = NULL;
  if (!ok || !ConvertSidToStringSidA(info.user.User.Sid, &sid)) return NULL;
  char sddl[200];
  int n = snprintf(sddl, sizeof sddl, "D:P(A;;FA;;;%s)", sid);
  LocalFree(sid);
  PSECURITY_DESCRIPTOR sd = NULL;
  if (n < 0 || (size_t)n >= sizeof sddl ||
      !ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, &sd, NULL))
    return NULL;
  return sd;
}

/* A file reheap writes (the plugin's log): never through a planted link
 * (FILE_FLAG_OPEN_REPARSE_POINT opens a link itself, which is then
 * refused), replaced whole, readable and writable by this user alone (a
 * file there before gets the same rights, or is not written); a C runtime
 * descriptor for os_write_all. */
int os_create_private_file(const char *path) {
  PSECURITY_DESCRIPTOR sd = user_only();
  if (sd == NULL) return -1;
  SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
  HANDLE h = CreateFileA(path, GENERIC_WRITE | WRITE_DAC, FILE_SHARE_READ, &sa, OPEN_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  bool existed = GetLastError() == ERROR_ALREADY_EXISTS;
  if (h == INVALID_HANDLE_VALUE) {
    LocalFree(sd);
    return -1;
  }
  BY_HANDLE_FILE_INFORMATION info;
  bool ok = GetFileInformationByHandle(h, &info) && !(info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) &&
            !(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) &&
            (!existed || SetKernelObjectSecurity(h, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, sd)) &&
            SetEndOfFile(h);
  LocalFree(sd);
  if (!ok) {
    CloseHandle(h);
    return -1;
  }
  int fd = _open_osfhandle((intptr_t)h, _O_WRONLY | _O_BINARY);
  if (fd < 0) CloseHandle(h);
  return fd;
}

void os_close(int fd) { _close(fd); }

long os_read_small_file(const char *path, char *buf, size_t cap) {
  HANDLE h = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE) return -1;
  BY_HANDLE_FILE_INFORMATION info;
  long have = 0;
  if (!GetFileInformationByHandle(h, &info) || (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ||
      (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) || info.nFileSizeHigh != 0 || info.nFileSizeLow > cap)
    have = -1;
  while (have >= 0 && (size_t)have < cap) {
    DWORD n = 0;
    if (!ReadFile(h, buf + have, (DWORD)(cap - (size_t)have), &n, NULL)) have = -1;
    else if (n == 0) break;
    else have += (long)n;
  }
  CloseHandle(h);
  return have;
}
