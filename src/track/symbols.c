/* Frame names for the reports. The dynamic symbol tables (dladdr, through
 * os_symbolize) come first: they need neither memory nor files. libdwfl
 * adds what only the files on disk know (file:line, static functions); it
 * is opened once, at the first report, over this process's own maps, and
 * kept: double-free reports during the run reuse it.
 *
 * libdw allocates, so it runs only where the tracker passes allocations
 * through untracked (the reports); a lock keeps two threads reporting at
 * once out of one Dwfl, which is not thread-safe.
 *
 * Separate debug files are looked for on this machine only, unless the
 * user set DEBUGINFOD_URLS: libdw's standard search ends by loading the
 * debuginfod client (libcurl, a TLS library, their threads and exit
 * handlers) into the program whether or not any server is set. */
#include "track/symbols.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/os.h"
#include "track/symbols_cu.h"

/* The maps are read again when the loader knows a module libdw does not
 * (dlopen after the Dwfl was opened); a few times at most, so that a
 * module libdw cannot take does not cost a re-read per lookup. */
#define REFRESHES_MAX 8

static os_lock_t lock = OS_LOCK_INIT;
static Dwfl *dwfl;
static int state; /* 0: not tried, 1: open, 2: failed (dynamic tables only) */
static int refreshes;

static bool same_build_id(int fd, const void *want, int want_len) {
  Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  const void *id;
  ssize_t n = e != NULL ? dwelf_elf_gnu_build_id(e, &id) : -1;
  bool same = n == want_len && memcmp(id, want, (size_t)n) == 0;
  if (e != NULL) elf_end(e);
  return same;
}

/* The file a module's .gnu_debuglink names, where GDB looks for it:
 * beside the module, in its .debug directory, and under /usr/lib/debug;
 * it must carry the module's build ID when the module has one. */
static int find_by_debuglink(Dwfl_Module *mod, const char *file, const char *link, char **found) {
  const char *slash = file != NULL ? strrchr(file, '/') : NULL;
  if (slash == NULL || link == NULL || link[0] == '\0') return -1;
  int dir = (int)(slash - file);
  const unsigned char *want;
  GElf_Addr vaddr;
  int want_len = dwfl_module_build_id(mod, &want, &vaddr);
  char path[PATH_MAX];
  for (int i = 0; i < 3; i++) {
    int n = i == 0   ? snprintf(path, sizeof path, "%.*s/%s", dir, file, link)
            : i == 1 ? snprintf(path, sizeof path, "%.*s/.debug/%s", dir, file, link)
                     : snprintf(path, sizeof path, "/usr/lib/debug%.*s/%s", dir, file, link);
    if (n < 0 || (size_t)n >= sizeof path || strcmp(path, file) == 0) continue;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (want_len <= 0 || same_build_id(fd, want, want_len)) {
      *found = strdup(path); /* libdw frees it */
      if (*found != NULL) return fd;
    }
    close(fd);
  }
  return -1;
}

/* The C library's own frames (program and thread start, the dynamic
 * loader) close nearly every stack; their lines say nothing, and reading
 * the DWARF of its separate debug file (libc6-dbg: tens of MB to
 * decompress) was most of a report's time. They are named from the debug
 * file's symbol table alone, which is not compressed. */
static bool is_c_library(const char *path) {
  const char *base = path != NULL ? strrchr(path, '/') : NULL;
  base = base != NULL ? base + 1 : path;
  return base != NULL && (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "ld-linux", 8) == 0);
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file, const char *link, GElf_Word crc, char **found) {
  const char *urls = getenv("DEBUGINFOD_URLS");
  if (urls != NULL && urls[0] != '\0')
    return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file, link, crc, found);
  int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file, link, crc, found);
  return fd >= 0 ? fd : find_by_debuglink(mod, file, link, found);
}

static char *debuginfo_path; /* NULL: libdw's standard places */
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};


static void copy(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* A child forked while another thread was naming frames would find the
 * lock held forever. */
static void fork_child(void) { os_lock_reset(&lock); }

/* Modules dlclose'd while their blocks lived on: named from their files
 * where they were (where no module is now). */
#define UNLOADED_MAX 64
static struct {
  char path[PATH_MAX];
  uintptr_t bias;
} unloaded[UNLOADED_MAX];
static unsigned nunloaded;

void track_symbols_unloaded(const char *path, uintptr_t bias) {
  os_lock(&lock);
  if (path != NULL && path[0] == '/' && nunloaded < UNLOADED_MAX) {
    copy(unloaded[nunloaded].path, sizeof unloaded[nunloaded].path, path);
    unloaded[nunloaded++].bias = bias;
  }
  os_unlock(&lock);
}

static bool report_maps(void) {
  track_cu_forget();
  dwfl_report_begin(dwfl);
  bool ok = dwfl_linux_proc_report(dwfl, getpid()) == 0;
  for (unsigned i = 0; i < nunloaded; i++) /* (refused where a module is loaded now) */
    (void)dwfl_report_elf(dwfl, unloaded[i].path, unloaded[i].path, -1, unloaded[i].bias, false);
  return dwfl_report_end(dwfl, NULL, NULL) == 0 && ok;
}

static bool dwfl_ready(void) {
  if (state == 0) {
    state = 2;
    dwfl = dwfl_begin(&callbacks);
    if (dwfl != NULL && report_maps()) {
      state = 1;
      os_atfork(NULL, NULL, fork_child);
    }
  }
  return state == 1;
}

/* The name of the function containing addr (module-relative, as in the
 * DWARF) from the debug information entries: the innermost scope that is
 * a function of its own, not an inlined copy. */
static bool dwarf_function(Dwfl_Module *mod, Dwarf_Addr addr, track_symbol_t *out) {
  Dwarf_Addr bias;
  Dwarf_Die unit, *cu = dwfl_module_addrdie(mod, addr, &bias);
  if (cu == NULL && track_cu_at(mod, addr, &unit, &bias)) cu = &unit;
  if (cu == NULL) return false;
  Dwarf_Die *scopes = NULL;
  int n = dwarf_getscopes(cu, addr - bias, &scopes);
  bool found = false;
  for (int i = 0; i < n && !found; i++) {
    if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram) continue;
    Dwarf_Attribute at;
    const char *name = dwarf_formstring(dwarf_attr_integrate(&scopes[i], DW_AT_linkage_name, &at));
    if (name == NULL) name = dwarf_formstring(dwarf_attr_integrate(&scopes[i], DW_AT_name, &at));
    Dwarf_Addr low;
    if (name == NULL || dwarf_lowpc(&scopes[i], &low) != 0) break;
    copy(out->function, sizeof out->function, name);
    out->offset = addr - (low + bias) + 1;
    found = true;
  }
  free(scopes);
  return found;
}

/* The module holding addr. dwfl_addrmodule answers for an address past
 * the end of the module below it too (a library mapped, since the maps
 * were read, into the gap after another): checked against the bounds. */
static Dwfl_Module *module_at(Dwarf_Addr addr) {
  Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
  Dwarf_Addr low, high;
  if (mod == NULL || dwfl_module_info(mod, NULL, &low, &high, NULL, NULL, NULL, NULL) == NULL)
    return mod;
  return addr >= low && addr < high ? mod : NULL;
}

/* What libdw knows of the call before pc; under the lock. */
static void from_dwarf(uintptr_t pc, track_symbol_t *out) {
  if (!dwfl_ready()) return;
  Dwarf_Addr call = pc - 1;
  Dwfl_Module *mod = module_at(call);
  if (mod == NULL && out->module[0] != '\0' && refreshes < REFRESHES_MAX) {
    refreshes++;
    if (report_maps()) mod = module_at(call);
  }
  if (mod == NULL) return;
  const char *modname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  bool libc = is_c_library(modname);
  Dwfl_Line *line = libc ? NULL : dwfl_module_getsrc(mod, call);
  int lineno = 0;
  const char *file = line != NULL ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
  Dwarf_Die cu;
  Dwarf_Addr bias;
  if (line == NULL && !libc && track_cu_at(mod, call, &cu, &bias)) {
    Dwarf_Line *l = dwarf_getsrc_die(&cu, call - bias);
    file = l != NULL ? dwarf_linesrc(l, NULL, NULL) : NULL;
    if (file != NULL && dwarf_lineno(l, &lineno) != 0) file = NULL;
  }
  if (file != NULL && lineno > 0) {
    copy(out->file, sizeof out->file, file);
    out->line = (unsigned)lineno;
  }
  if (out->function[0] == '\0') {
    GElf_Off off;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(mod, call, &off, &sym, NULL, NULL, NULL);
    if (name != NULL && name[0] != '\0') {
      copy(out->function, sizeof out->function, name);
      out->offset = off + 1;
    } else if (!libc) {
      dwarf_function(mod, call, out);
    }
  }
  if (out->module[0] == '\0') {
    /* in no module the loader knows (the vdso): libdw's name for it */
    Dwarf_Addr start;
    const char *name = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
    if (name != NULL) copy(out->module, sizeof out->module, name);
    if (out->function[0] == '\0') out->offset = pc - start;
  }
}

bool track_symbolize(uintptr_t pc, track_symbol_t *out) {
  memset(out, 0, sizeof *out);
  if (pc == 0) return false;
  uintptr_t off;
  /* a return address points after the call: name the call itself */
  if (os_symbolize((void *)(pc - 1), out->function, sizeof out->function, out->module,
                   sizeof out->module, &off))
    out->offset = off + 1;
  os_lock(&lock);
  from_dwarf(pc, out);
  os_unlock(&lock);
  return out->module[0] != '\0';
}

bool track_module_of(uintptr_t pc, uintptr_t *lo, uintptr_t *hi, char *path, size_t path_cap, char *build_id,
                     size_t id_cap) {
  bool found = false;
  if (id_cap > 0) build_id[0] = '\0';
  if (path_cap > 0) path[0] = '\0';
  os_lock(&lock);
  Dwfl_Module *mod = dwfl_ready() ? module_at(pc - 1) : NULL;
  Dwarf_Addr low, high;
  const char *name = mod != NULL ? dwfl_module_info(mod, NULL, &low, &high, NULL, NULL, NULL, NULL) : NULL;
  if (name != NULL) {
    *lo = (uintptr_t)low;
    *hi = (uintptr_t)high;
    copy(path, path_cap, name);
    const unsigned char *id;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(mod, &id, &vaddr);
    for (int i = 0; i < n && (size_t)(2 * i + 2) < id_cap; i++) snprintf(build_id + 2 * i, 3, "%02x", id[i]);
    found = true;
  }
  os_unlock(&lock);
  return found;
}
