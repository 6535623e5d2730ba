/* Finding a loaded module by name, for hook specs that name one
 * (libgame.so!pool_alloc, game+0x3e40). A name matches a module whose path
 * is it, or whose file name is it; the program itself answers to its own
 * file name. */
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "os/os.h"

static const char *file_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

static bool names(const char *path, const char *name) {
  return path[0] != '\0' && (strcmp(path, name) == 0 || strcmp(file_name(path), name) == 0);
}

typedef struct module_query {
  const char *name;
  char exe[4096];
  char path[4096]; /* as the loader knows it ("" for the program) */
  uintptr_t base;  /* where its first byte (the ELF header) is */
  bool found;
} module_query_t;

static int visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  module_query_t *q = arg;
  const char *path = info->dlpi_name;
  /* the dynamic loader lists the program itself with no name */
  if ((path == NULL || path[0] == '\0') && q->exe[0] != '\0') path = q->exe;
  if (path == NULL || !names(path, q->name)) return 0;
  /* a program not built position-independent loads at its link address:
   * its base is its lowest segment, not the loader's bias of 0 */
  uintptr_t low = UINTPTR_MAX;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_phdr[i].p_vaddr < low)
      low = info->dlpi_phdr[i].p_vaddr;
  if (low == UINTPTR_MAX) low = 0;
  q->base = (uintptr_t)info->dlpi_addr + (low & ~(uintptr_t)0xfff);
  const char *own = info->dlpi_name != NULL ? info->dlpi_name : "";
  size_t n = strlen(own);
  if (n >= sizeof q->path) n = sizeof q->path - 1;
  memcpy(q->path, own, n);
  q->path[n] = '\0';
  q->found = true;
  return 1;
}

static bool find(const char *name, module_query_t *q) {
  memset(q, 0, sizeof *q);
  q->name = name;
  ssize_t n = readlink("/proc/self/exe", q->exe, sizeof q->exe - 1);
  q->exe[n > 0 ? n : 0] = '\0';
  dl_iterate_phdr(visit, q);
  return q->found;
}

uintptr_t os_module_base(const char *name) {
  static module_query_t q; /* large; callers are one at a time (takeover) */
  return find(name, &q) ? q.base : 0;
}

void *os_module_symbol(const char *name, const char *symbol) {
  static module_query_t q;
  if (!find(name, &q)) return NULL;
  /* the module as the loader knows it (NULL: the program), and only a
   * definition in that module, not in one it depends on */
  void *handle = dlopen(q.path[0] != '\0' ? q.path : NULL, RTLD_NOW | RTLD_NOLOAD);
  if (handle == NULL) return NULL;
  void *p = dlsym(handle, symbol);
  dlclose(handle);
  Dl_info info;
  if (p == NULL || dladdr(p, &info) == 0 || (uintptr_t)info.dli_fbase != q.base) return NULL;
  return p;
}

/* Whether addr is in a loaded segment: of any module and executable
 * (what /proc/self/maps says too, except under an emulator such as
 * qemu-user, which maps the code it translates without the execute bit),
 * or of the program itself (the loader lists it first). */
typedef struct segment_query {
  uintptr_t addr;
  bool program_only, found;
} segment_query_t;

static int visit_segments(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  segment_query_t *q = arg;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
    bool wanted = ph->p_type == PT_LOAD && (q->program_only || (ph->p_flags & PF_X));
    if (wanted && q->addr >= lo && q->addr - lo < ph->p_memsz) q->found = true;
  }
  return q->found || q->program_only; /* the program: the first one only */
}

bool os_module_code(const void *addr) {
  segment_query_t q = {(uintptr_t)addr, false, false};
  dl_iterate_phdr(visit_segments, &q);
  return q.found;
}

bool os_in_program(const void *addr) {
  segment_query_t q = {(uintptr_t)addr, true, false};
  dl_iterate_phdr(visit_segments, &q);
  return q.found;
}

typedef struct each_query {
  const char *name;
  bool (*fn)(const char *path, uintptr_t bias, void *arg);
  void *arg;
  char exe[4096];
} each_query_t;

static int visit_each(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  each_query_t *q = arg;
  const char *path = info->dlpi_name;
  if (path == NULL || path[0] == '\0') path = q->exe;
  if (path[0] == '\0' || (q->name != NULL && !names(path, q->name))) return 0;
  if (strncmp(file_name(path), "linux-vdso", 10) == 0) return 0;
  return q->fn(path, (uintptr_t)info->dlpi_addr, q->arg) ? 0 : 1;
}

void os_module_each(const char *name, bool (*fn)(const char *path, uintptr_t bias, void *arg), void *arg) {
  static each_query_t q; /* large; callers are one at a time (takeover) */
  q.name = name;
  q.fn = fn;
  q.arg = arg;
  ssize_t n = readlink("/proc/self/exe", q.exe, sizeof q.exe - 1);
  q.exe[n > 0 ? n : 0] = '\0';
  dl_iterate_phdr(visit_each, &q);
}

void *os_library_open(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }

void *os_library_symbol(void *library, const char *symbol) { return dlsym(library, symbol); }

typedef struct code_query {
  const char *name;
  void (*fn)(const uint8_t *lo, const uint8_t *hi, void *arg);
  void *arg;
  char exe[4096];
} code_query_t;

static int visit_code(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  code_query_t *q = arg;
  const char *path = info->dlpi_name;
  if (path == NULL || path[0] == '\0') path = q->exe;
  if (path[0] == '\0' || !names(path, q->name)) return 0;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || (ph->p_flags & PF_X) == 0) continue;
    const uint8_t *lo = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    q->fn(lo, lo + ph->p_filesz, q->arg);
  }
  return 0;
}

void os_module_code_each(const char *name, void (*fn)(const uint8_t *lo, const uint8_t *hi, void *arg),
                         void *arg) {
  static code_query_t q; /* one caller at a time (takeover) */
  q.name = name;
  q.fn = fn;
  q.arg = arg;
  ssize_t n = readlink("/proc/self/exe", q.exe, sizeof q.exe - 1);
  q.exe[n > 0 ? n : 0] = '\0';
  dl_iterate_phdr(visit_code, &q);
}
