/* GOT hooks (ELF): the slots through which modules call an imported
 * symbol, found from each module's dynamic relocations (JUMP_SLOT for PLT
 * calls, GLOB_DAT for -fno-plt calls and taken addresses), are pointed at
 * the detour and later given back exactly what they held. A slot is one
 * aligned pointer, so a thread calling through it sees the old target or
 * the new one; nothing needs stopping. */
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "hook/hook_internal.h"
#include "os/os.h"

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#define REL_TYPE(info) ELF64_R_TYPE(info)
#define REL_SYM(info) ELF64_R_SYM(info)
#elif defined(__aarch64__)
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#define REL_TYPE(info) ELF64_R_TYPE(info)
#define REL_SYM(info) ELF64_R_SYM(info)
#elif defined(__i386__)
#define R_JUMP_SLOT R_386_JMP_SLOT
#define R_GLOB_DAT R_386_GLOB_DAT
#define REL_TYPE(info) ELF32_R_TYPE(info)
#define REL_SYM(info) ELF32_R_SYM(info)
#endif

typedef hook_got_scan_t scan_t;

/* The program's own path, for a filter (dl_iterate_phdr names it ""). */
static const char *program_path(void) {
  static char path[4096];
  static _Atomic int known;
  if (!known) {
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    known = 1;
  }
  return path;
}

static bool module_matches(const hook_got_t *g, const char *path) {
  if (g->filter != NULL) {
    if (path != NULL && path[0] == '\0') path = program_path();
    return hook_got_wants(g, path);
  }
  if (g->module[0] == '\0') return true;
  if (path == NULL) return false;
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  return strcmp(base, g->module) == 0 || strcmp(path, g->module) == 0;
}

static uintptr_t dyn_ptr(uintptr_t v, uintptr_t base) { return v < base ? v + base : v; }

/* Each slot of this module that imports g->symbol: remembered with what it
 * holds and, when writing, pointed at the detour. */
static void scan_module(struct dl_phdr_info *info, scan_t *sc) {
  hook_got_t *g = sc->g;
  const ElfW(Dyn) *dyn = NULL;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (dyn == NULL) return;
  uintptr_t base = info->dlpi_addr;
  const ElfW(Sym) *symtab = NULL;
  const char *strtab = NULL;
  uintptr_t tables[2] = {0, 0};
  size_t sizes[2] = {0, 0};
  bool rela = true;
  for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
    switch (d->d_tag) {
    case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn_ptr(d->d_un.d_ptr, base); break;
    case DT_STRTAB: strtab = (const char *)dyn_ptr(d->d_un.d_ptr, base); break;
    case DT_JMPREL: tables[0] = dyn_ptr(d->d_un.d_ptr, base); break;
    case DT_PLTRELSZ: sizes[0] = d->d_un.d_val; break;
    case DT_PLTREL: rela = d->d_un.d_val == DT_RELA; break;
    case DT_RELA:
    case DT_REL: tables[1] = dyn_ptr(d->d_un.d_ptr, base); break;
    case DT_RELASZ:
    case DT_RELSZ: sizes[1] = d->d_un.d_val; break;
    default: break;
    }
  }
  if (symtab == NULL || strtab == NULL) return;
  size_t entsize = rela ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));
  for (int t = 0; t < 2; t++) {
    for (size_t off = 0; tables[t] != 0 && off + entsize <= sizes[t]; off += entsize) {
      const ElfW(Rel) *r = (const ElfW(Rel) *)(tables[t] + off); /* Rela starts like Rel */
      unsigned type = (unsigned)REL_TYPE(r->r_info);
      if (type != R_JUMP_SLOT && type != R_GLOB_DAT) continue;
      const ElfW(Sym) *sym = &symtab[REL_SYM(r->r_info)];
      if (strcmp(strtab + sym->st_name, g->symbol) != 0) continue;
      void **slot = (void **)(base + r->r_offset);
      if (hook_got_known(g, slot)) continue;
      if (g->nslots == HOOK_GOT_SLOTS) {
        sc->status = RH_ERR_NO_MEMORY;
        return;
      }
      sc->found++;
      if (sc->detour == NULL) continue; /* counting only */
      sc->status = hook_got_take(g, slot, sc->detour, (uintptr_t)dyn);
      if (sc->status != RH_OK) return;
    }
  }
}

static int visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  scan_t *sc = arg;
  if (!module_matches(sc->g, info->dlpi_name)) return 0;
  scan_module(info, sc);
  return sc->status != RH_OK;
}

void hook_got_scan(hook_got_scan_t *sc) { dl_iterate_phdr(visit, sc); }

/* A module is named by its dynamic section's address: a module loaded
 * later at the same base has its own (it is read from the module's own
 * headers, which dlclose unmapped). */
static int find_owner(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t *want = arg;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC && info->dlpi_addr + info->dlpi_phdr[i].p_vaddr == *want)
      return 1;
  return 0;
}

bool hook_got_owner_loaded(uintptr_t owner) { return dl_iterate_phdr(find_owner, &owner) != 0; }
