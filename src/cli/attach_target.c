/* What `reheap attach` and `detach` learn of a running process before
 * touching it: whether it may be attached to (its owner, a debugger on
 * it, the kernel's ptrace policy, a static or foreign program), and where
 * its modules and their functions are (from its maps and the modules'
 * own symbol tables, read with libelf). */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/attach.h"
#include "cli/cli.h"

/* A "Name:\tvalue" line of /proc/PID/status; -1 if missing. */
static long status_field(long pid, const char *name) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "re");
  if (f == NULL) return -1;
  long v = -1;
  size_t n = strlen(name);
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, name, n) == 0 && line[n] == ':') {
      v = strtol(line + n + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

/* The Yama policy (kernel.yama.ptrace_scope; REHEAP_PTRACE_SCOPE_FILE
 * names another file, for tests); -1 without Yama. */
static int ptrace_scope(void) {
  const char *path = getenv("REHEAP_PTRACE_SCOPE_FILE");
  FILE *f = fopen(path != NULL ? path : "/proc/sys/kernel/yama/ptrace_scope", "re");
  if (f == NULL) return -1;
  int v = -1;
  if (fscanf(f, "%d", &v) != 1) v = -1;
  fclose(f);
  return v;
}

int rh_target_check(long pid, const char *verb) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld", pid);
  if (access(path, F_OK) != 0) return rh_cli_fail("%s: no process %ld", verb, pid);
  long uid = status_field(pid, "Uid");
  if (uid < 0) return rh_cli_fail("%s: cannot read /proc/%ld/status", verb, pid);
  if (uid != (long)getuid())
    return rh_cli_fail("%s: process %ld belongs to user %ld; reheap attaches only to processes of its own user "
                       "(run it as that user)", verb, pid, uid);
  long tracer = status_field(pid, "TracerPid");
  if (tracer > 0)
    return rh_cli_fail("%s: process %ld is traced by process %ld (a debugger); detach that first", verb, pid,
                       tracer);
  int scope = ptrace_scope();
  if (scope == 3)
    return rh_cli_fail("%s: the kernel forbids attaching to any process (kernel.yama.ptrace_scope = 3, which only "
                       "a reboot lowers)", verb);
  if (scope == 2 && geteuid() != 0)
    return rh_cli_fail("%s: the kernel lets only root attach to a process (kernel.yama.ptrace_scope = 2); run "
                       "reheap as root, or lower it: sysctl kernel.yama.ptrace_scope=1", verb);
  if (scope == 1 && geteuid() != 0)
    return rh_cli_fail("%s: the kernel lets a process attach only to its own children (kernel.yama.ptrace_scope "
                       "= 1); run reheap as root, or set sysctl kernel.yama.ptrace_scope=0, or start the "
                       "program under 'reheap run --track'", verb);
  snprintf(path, sizeof path, "/proc/%ld/exe", pid);
  rh_program_kind_t kind = rh_program_kind(path);
  if (kind == RH_PROGRAM_STATIC)
    return rh_cli_fail("%s: process %ld runs a statically linked program: it has no dynamic loader to load the "
                       "tracker with", verb, pid);
  if (kind == RH_PROGRAM_OTHER_ARCH)
    return rh_cli_fail("%s: process %ld runs a program of another architecture; this reheap attaches to " RH_ARCH_NAME
                       " programs only", verb, pid);
  return 0;
}

/* Each mapping line of /proc/PID/maps: fn(lo, hi, perms, offset, path). */
static bool maps_each(long pid, bool (*fn)(uintptr_t, uintptr_t, const char *, unsigned long, const char *, void *),
                      void *arg) {
  char path[64], line[PATH_MAX + 128];
  snprintf(path, sizeof path, "/proc/%ld/maps", pid);
  FILE *f = fopen(path, "re");
  if (f == NULL) return false;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long lo, hi, off;
    char perms[8];
    int at = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &lo, &hi, perms, &off, &at) < 4) continue;
    char *file = line + at;
    file[strcspn(file, "\n")] = '\0';
    if (fn(lo, hi, perms, off, file, arg)) break;
  }
  fclose(f);
  return true;
}

static bool base_named(const char *file, const char *name) {
  const char *base = strrchr(file, '/');
  return base != NULL && strncmp(base + 1, name, strlen(name)) == 0;
}

typedef struct {
  const char *name;
  rh_target_lib_t *out;
} find_t;

/* The module's code mapping: the process may map its file otherwise too
 * (a symbolizer reading it), but only the loader maps it executable. */
static bool find_one(uintptr_t lo, uintptr_t hi, const char *perms, unsigned long off, const char *file,
                     void *arg) {
  (void)hi;
  find_t *f = arg;
  if (perms[2] != 'x' || !base_named(file, f->name) || f->out->found) return false;
  snprintf(f->out->path, sizeof f->out->path, "%s", file);
  f->out->exec_lo = lo;
  f->out->exec_off = off;
  f->out->found = true;
  return true;
}

bool rh_target_lib(long pid, const char *name, rh_target_lib_t *out) {
  memset(out, 0, sizeof *out);
  find_t f = {name, out};
  return maps_each(pid, find_one, &f) && out->found;
}

typedef struct {
  os_code_range_t *r;
  size_t n, cap;
} ranges_t;

/* The code where a thread may hold a lock the call needs: the C
 * library's, the loader's, reheap's own. */
static bool unsafe_one(uintptr_t lo, uintptr_t hi, const char *perms, unsigned long off, const char *file,
                       void *arg) {
  (void)off;
  ranges_t *u = arg;
  if (perms[2] != 'x') return false;
  if ((base_named(file, "libc.so") || base_named(file, "libc-") || base_named(file, "ld-linux") ||
       base_named(file, "libreheap") || base_named(file, "libstdc++")) && u->n < u->cap)
    u->r[u->n++] = (os_code_range_t){lo, hi};
  return false;
}

size_t rh_target_unsafe(long pid, os_code_range_t *out, size_t cap) {
  ranges_t u = {out, 0, cap};
  maps_each(pid, unsafe_one, &u);
  return u.n;
}

bool rh_target_symbol(long pid, const rh_target_lib_t *lib, const char *name, uintptr_t *addr) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "/proc/%ld/root%s", pid, lib->path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fd = open(lib->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  elf_version(EV_CURRENT);
  Elf *e = elf_begin(fd, ELF_C_READ, NULL);
  bool found = false;
  /* the load bias, from the code segment: mapped at exec_lo from its
   * page of the file, exec_off */
  bool biased = false;
  uintptr_t bias = 0;
  size_t nph = 0;
  long page = sysconf(_SC_PAGESIZE);
  if (e != NULL && elf_getphdrnum(e, &nph) == 0)
    for (size_t i = 0; i < nph && !biased; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(e, (int)i, &ph) != NULL && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
          (ph.p_offset & ~(GElf_Off)(page - 1)) == lib->exec_off) {
        bias = lib->exec_lo - (uintptr_t)(ph.p_vaddr & ~(GElf_Addr)(page - 1));
        biased = true;
      }
    }
  for (Elf_Scn *scn = NULL; e != NULL && biased && !found && (scn = elf_nextscn(e, scn)) != NULL;) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_DYNSYM || sh.sh_entsize == 0) continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    for (size_t i = 0; d != NULL && i < sh.sh_size / sh.sh_entsize; i++) {
      GElf_Sym sym;
      if (gelf_getsym(d, (int)i, &sym) == NULL || sym.st_value == 0 || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
        continue;
      const char *s = elf_strptr(e, sh.sh_link, sym.st_name);
      if (s != NULL && strcmp(s, name) == 0) {
        *addr = bias + (uintptr_t)sym.st_value;
        found = true;
        break;
      }
    }
  }
  if (e != NULL) elf_end(e);
  close(fd);
  return found;
}
