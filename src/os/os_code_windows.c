/* Windows implementation of os.h's code and module part: protections from
 * VirtualQuery, trampolines' memory near the code, and modules read from
 * their PE headers as loaded (exports, sections, .pdata). */
#include <string.h>
#include <windows.h>
/* after windows.h, whose types it uses */
#include <psapi.h>

#include "os/os.h"

static int prot_bits(DWORD p) {
  p &= 0xFF; /* less PAGE_GUARD, PAGE_NOCACHE, PAGE_WRITECOMBINE */
  switch (p) {
  case PAGE_READONLY: return OS_PROT_READ;
  case PAGE_READWRITE:
  case PAGE_WRITECOPY: return OS_PROT_READ | OS_PROT_WRITE;
  case PAGE_EXECUTE: return OS_PROT_EXEC;
  case PAGE_EXECUTE_READ: return OS_PROT_READ | OS_PROT_EXEC;
  case PAGE_EXECUTE_READWRITE:
  case PAGE_EXECUTE_WRITECOPY: return OS_PROT_READ | OS_PROT_WRITE | OS_PROT_EXEC;
  default: return 0;
  }
}

static DWORD win_prot(int prot) {
  bool r = prot & OS_PROT_READ, w = prot & OS_PROT_WRITE, x = prot & OS_PROT_EXEC;
  if (x) return w ? PAGE_EXECUTE_READWRITE : r ? PAGE_EXECUTE_READ : PAGE_EXECUTE;
  if (w) return PAGE_READWRITE;
  return r ? PAGE_READONLY : PAGE_NOACCESS;
}

int os_prot_of(const void *addr) {
  MEMORY_BASIC_INFORMATION m;
  if (VirtualQuery(addr, &m, sizeof m) == 0 || m.State != MEM_COMMIT) return -1;
  if (m.Protect & PAGE_GUARD) return 0;
  return prot_bits(m.Protect);
}

size_t os_readable_after(const void *addr) {
  uintptr_t at = (uintptr_t)addr, end = at;
  MEMORY_BASIC_INFORMATION m;
  while (VirtualQuery((const void *)end, &m, sizeof m) != 0 && m.State == MEM_COMMIT &&
         !(m.Protect & PAGE_GUARD) && (prot_bits(m.Protect) & OS_PROT_READ)) {
    uintptr_t next = (uintptr_t)m.BaseAddress + m.RegionSize;
    if (next <= end) break;
    end = next;
  }
  return end - at;
}

/* VirtualProtect refuses a range across two reservations: one call per
 * region. Code made executable again gets its instruction cache flushed
 * (a no-op on x86, but the API's contract). */
bool os_protect(void *addr, size_t len, int prot) {
  uintptr_t ps = (uintptr_t)os_page_size();
  uintptr_t lo = (uintptr_t)addr & ~(ps - 1);
  uintptr_t hi = ((uintptr_t)addr + len + ps - 1) & ~(ps - 1);
  for (uintptr_t at = lo; at < hi;) {
    MEMORY_BASIC_INFORMATION m;
    if (VirtualQuery((const void *)at, &m, sizeof m) == 0) return false;
    uintptr_t end = (uintptr_t)m.BaseAddress + m.RegionSize;
    if (end > hi) end = hi;
    DWORD old;
    if (!VirtualProtect((void *)at, end - at, win_prot(prot), &old)) return false;
    at = end;
  }
  if (prot & OS_PROT_EXEC) FlushInstructionCache(GetCurrentProcess(), (void *)lo, hi - lo);
  return true;
}

void *os_map_code_near(const void *close_to, size_t size, size_t range, bool *refused) {
  *refused = false;
  const uintptr_t gran = 0x10000; /* Windows' allocation granularity */
  uintptr_t n = (uintptr_t)close_to; /* windows.h defines "near" */
  uintptr_t lo = n > range ? n - range : 0, hi = n + range < n ? UINTPTR_MAX : n + range;
  if (lo < gran) lo = gran;
  for (int attempt = 0; attempt < 4; attempt++) {
    uintptr_t best = 0, best_dist = UINTPTR_MAX;
    MEMORY_BASIC_INFORMATION m;
    for (uintptr_t at = lo & ~(gran - 1); at < hi && VirtualQuery((const void *)at, &m, sizeof m) != 0;) {
      uintptr_t r_lo = (uintptr_t)m.BaseAddress, r_hi = r_lo + m.RegionSize;
      if (r_hi <= at) break;
      if (m.State == MEM_FREE) {
        uintptr_t g_lo = (r_lo + gran - 1) & ~(gran - 1);
        if (g_lo < r_hi && r_hi - g_lo >= size) {
          /* the candidate in this gap closest to near */
          uintptr_t c = n < g_lo ? g_lo : n + size > r_hi ? (r_hi - size) & ~(gran - 1) : n & ~(gran - 1);
          if (c >= g_lo && c + size <= r_hi) {
            uintptr_t d = c > n ? c + size - n : n - c;
            if (d <= range && d < best_dist) best = c, best_dist = d;
          }
        }
      }
      at = r_hi;
    }
    if (best == 0) return NULL;
    void *p = VirtualAlloc((void *)best, size, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    if (p == (void *)best) return p;
    if (p != NULL) VirtualFree(p, 0, MEM_RELEASE);
    if (p == NULL && GetLastError() == ERROR_ACCESS_DENIED) {
      *refused = true; /* arbitrary code guard, or a policy against it */
      return NULL;
    }
  }
  return NULL;
}

/* ---- modules ---- */

static const IMAGE_NT_HEADERS *nt_of(HMODULE m) {
  const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)m;
  if (dos == NULL || dos->e_magic != IMAGE_DOS_SIGNATURE) return NULL;
  const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)((const uint8_t *)m + dos->e_lfanew);
  return nt->Signature == IMAGE_NT_SIGNATURE ? nt : NULL;
}

static size_t image_size(HMODULE m) {
  const IMAGE_NT_HEADERS *nt = nt_of(m);
  return nt != NULL ? nt->OptionalHeader.SizeOfImage : 0;
}

#define MODULES_MAX 1024

/* The loaded modules, the program first; their count. */
static size_t modules(HMODULE *out) {
  DWORD bytes = 0;
  if (!K32EnumProcessModules(GetCurrentProcess(), out, MODULES_MAX * sizeof(HMODULE), &bytes)) {
    out[0] = GetModuleHandleA(NULL);
    return 1;
  }
  size_t n = bytes / sizeof(HMODULE);
  return n > MODULES_MAX ? MODULES_MAX : n;
}

static const char *base_name(const char *path) {
  const char *b = path;
  for (const char *p = path; *p; p++)
    if (*p == '\\' || *p == '/') b = p + 1;
  return b;
}

/* A module answers to its full path and to its file name, with or without
 * the extension, in any case (as Windows names them). */
static bool names(HMODULE m, const char *name, char *path, size_t cap) {
  DWORD n = GetModuleFileNameA(m, path, (DWORD)cap);
  if (n == 0 || n >= cap) return false;
  if (name == NULL || _stricmp(path, name) == 0) return true;
  const char *b = base_name(path);
  if (_stricmp(b, name) == 0) return true;
  size_t ln = strlen(name);
  return _strnicmp(b, name, ln) == 0 && b[ln] == '.' && strchr(b + ln + 1, '.') == NULL;
}

uintptr_t os_module_base(const char *name) {
  HMODULE ms[MODULES_MAX];
  size_t n = modules(ms);
  char path[MAX_PATH];
  for (size_t i = 0; i < n; i++)
    if (names(ms[i], name, path, sizeof path)) return (uintptr_t)ms[i];
  return 0;
}

static HMODULE module_of(const void *addr) {
  HMODULE m = NULL;
  if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          (LPCSTR)addr, &m))
    return NULL;
  return m;
}

bool os_in_program(const void *addr) {
  HMODULE p = GetModuleHandleA(NULL);
  uintptr_t a = (uintptr_t)addr, b = (uintptr_t)p;
  return a >= b && a - b < image_size(p);
}

bool os_module_code(const void *addr) {
  MEMORY_BASIC_INFORMATION m;
  return VirtualQuery(addr, &m, sizeof m) != 0 && m.Type == MEM_IMAGE && m.State == MEM_COMMIT &&
         (prot_bits(m.Protect) & OS_PROT_EXEC);
}

void *os_library_open(const char *path) { return LoadLibraryA(path); }

void *os_library_symbol(void *library, const char *symbol) {
  return library != NULL ? (void *)(uintptr_t)GetProcAddress((HMODULE)library, symbol) : NULL;
}

void *os_module_symbol(const char *name, const char *symbol) {
  uintptr_t b = os_module_base(name);
  return b != 0 ? os_library_symbol((void *)b, symbol) : NULL;
}

void *os_symbol_lookup(const char *name) {
  HMODULE ms[MODULES_MAX];
  size_t n = modules(ms);
  for (size_t i = 0; i < n; i++) {
    void *p = os_library_symbol(ms[i], name);
    if (p != NULL) return p;
  }
  return NULL;
}

/* A PE image's address is its base plus an RVA: the base plays the part
 * of ELF's load bias. */
void os_module_each(const char *name, bool (*fn)(const char *path, uintptr_t bias, void *arg), void *arg) {
  HMODULE ms[MODULES_MAX];
  size_t n = modules(ms);
  char path[MAX_PATH];
  for (size_t i = 0; i < n; i++)
    if (names(ms[i], name, path, sizeof path) && !fn(path, (uintptr_t)ms[i], arg)) return;
}

void os_module_code_each(const char *name, void (*fn)(const uint8_t *lo, const uint8_t *hi, void *arg),
                         void *arg) {
  HMODULE ms[MODULES_MAX];
  size_t n = modules(ms);
  char path[MAX_PATH];
  for (size_t i = 0; i < n; i++) {
    if (!names(ms[i], name, path, sizeof path)) continue;
    const IMAGE_NT_HEADERS *nt = nt_of(ms[i]);
    if (nt == NULL) continue;
    const IMAGE_SECTION_HEADER *s = IMAGE_FIRST_SECTION(nt);
    for (unsigned k = 0; k < nt->FileHeader.NumberOfSections; k++, s++) {
      if (!(s->Characteristics & IMAGE_SCN_MEM_EXECUTE)) continue;
      const uint8_t *lo = (const uint8_t *)ms[i] + s->VirtualAddress;
      fn(lo, lo + s->Misc.VirtualSize, arg);
    }
  }
}

/* The export at or below addr in its module, for naming code. */
static const char *export_below(HMODULE m, uintptr_t addr, uintptr_t *at) {
  const IMAGE_NT_HEADERS *nt = nt_of(m);
  if (nt == NULL) return NULL;
  const IMAGE_DATA_DIRECTORY *d = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
  if (d->VirtualAddress == 0 || d->Size == 0) return NULL;
  const uint8_t *b = (const uint8_t *)m;
  const IMAGE_EXPORT_DIRECTORY *e = (const IMAGE_EXPORT_DIRECTORY *)(b + d->VirtualAddress);
  const DWORD *fns = (const DWORD *)(b + e->AddressOfFunctions);
  const DWORD *nms = (const DWORD *)(b + e->AddressOfNames);
  const WORD *ords = (const WORD *)(b + e->AddressOfNameOrdinals);
  const char *best = NULL;
  uintptr_t best_at = 0;
  for (DWORD i = 0; i < e->NumberOfNames; i++) {
    if (ords[i] >= e->NumberOfFunctions) continue;
    uintptr_t f = (uintptr_t)b + fns[ords[i]];
    if (f <= addr && f >= best_at) best = (const char *)(b + nms[i]), best_at = f;
  }
  *at = best_at;
  return best;
}

static void copy_out(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

bool os_symbolize(const void *addr, char *name, size_t name_cap, char *module, size_t module_cap,
                  uintptr_t *offset) {
  HMODULE m = module_of(addr);
  if (m == NULL) return false;
  char path[MAX_PATH];
  DWORD n = GetModuleFileNameA(m, path, sizeof path);
  copy_out(module, module_cap, n > 0 && n < sizeof path ? path : "");
  uintptr_t at = 0;
  const char *sym = export_below(m, (uintptr_t)addr, &at);
  copy_out(name, name_cap, sym != NULL ? sym : "");
  *offset = (uintptr_t)addr - (sym != NULL ? at : (uintptr_t)m);
  return true;
}

/* x86-64 images list every non-leaf function's extent in .pdata; x86 ones
 * keep no such table. */
size_t os_symbol_size(const void *addr, const void **start) {
#if defined(__x86_64__)
  DWORD64 base = 0;
  PRUNTIME_FUNCTION f = RtlLookupFunctionEntry((DWORD64)(uintptr_t)addr, &base, NULL);
  if (f == NULL) return 0;
  if (start != NULL) *start = (const void *)(uintptr_t)(base + f->BeginAddress);
  return f->EndAddress - f->BeginAddress;
#else
  (void)addr, (void)start;
  return 0;
#endif
}
