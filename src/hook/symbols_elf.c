/* Finding a function by name where a debugger finds it (libreheap_symbols.so,
 * loaded only when a hook spec names a symbol the dynamic tables do not
 * have): the module's own .symtab, then its separate debug file (by
 * build-id under the debug directory, then by .gnu_debuglink beside it, in
 * its .debug folder and under the debug directory, the CRC checked), then
 * its MiniDebugInfo (.gnu_debugdata, an xz-compressed ELF of symbols).
 * Local (static) symbols count. Reading is elfutils' (libelf, and libdw's
 * dwelf helpers, which also decompress). */

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "reheap/hook.h"

#define DEBUG_DIR_DEFAULT "/usr/lib/debug"

typedef struct found {
  uint64_t *values;
  size_t cap, n;
  bool want_object;
} found_t;

static void note(found_t *f, uint64_t v) {
  for (size_t i = 0; i < f->n && i < f->cap; i++)
    if (f->values[i] == v) return; /* .dynsym and .symtab name it alike */
  if (f->n < f->cap) f->values[f->n] = v;
  f->n++;
}

/* Every defined function (or data object, for a pointer slot) called name
 * in elf's symbol tables; whether it has a .symtab at all. */
static bool scan(Elf *elf, const char *name, found_t *f) {
  bool has_symtab = false;
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn(elf, scn)) != NULL) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == NULL || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)) continue;
    if (sh.sh_type == SHT_SYMTAB) has_symtab = true;
    Elf_Data *data = elf_getdata(scn, NULL);
    if (data == NULL || sh.sh_entsize == 0) continue;
    size_t count = sh.sh_size / sh.sh_entsize;
    for (size_t i = 1; i < count; i++) {
      GElf_Sym sym;
      if (gelf_getsym(data, (int)i, &sym) == NULL || sym.st_shndx == SHN_UNDEF || sym.st_value == 0) continue;
      int type = GELF_ST_TYPE(sym.st_info);
      if (f->want_object ? type != STT_OBJECT : (type != STT_FUNC && type != STT_GNU_IFUNC)) continue;
      const char *s = elf_strptr(elf, sh.sh_link, sym.st_name);
      if (s != NULL && strcmp(s, name) == 0) note(f, sym.st_value);
    }
  }
  return has_symtab;
}

static const char *debug_dir(void) {
  const char *d = getenv("REHEAP_DEBUG_DIR");
  return d != NULL && d[0] != '\0' ? d : DEBUG_DIR_DEFAULT;
}

/* 0: found and scanned; 1: no such file; -1: there but unreadable */
static int scan_file(const char *path, const char *name, found_t *f, uint32_t crc, bool check_crc,
                     char *why, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  if (check_crc) {
    uLong c = crc32(0, Z_NULL, 0);
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) c = crc32(c, buf, (uInt)n);
    if ((uint32_t)c != crc) {
      close(fd);
      return 1; /* another build's debug file: not this one's */
    }
  }
  Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  if (elf == NULL || elf_kind(elf) != ELF_K_ELF) {
    snprintf(why, cap, "the debug file %s cannot be read as ELF: %s (reinstall it, or remove it)", path,
             elf_errmsg(-1));
    if (elf != NULL) elf_end(elf);
    close(fd);
    return -1;
  }
  scan(elf, name, f);
  elf_end(elf);
  close(fd);
  return 0;
}

static int by_build_id(Elf *elf, const char *name, found_t *f, char *why, size_t cap) {
  const void *id;
  ssize_t len = dwelf_elf_gnu_build_id(elf, &id);
  if (len < 2) return 1;
  const unsigned char *b = id;
  char path[4096];
  int at = snprintf(path, sizeof path, "%s/.build-id/%02x/", debug_dir(), b[0]);
  for (ssize_t i = 1; i < len && at > 0 && (size_t)at < sizeof path - 8; i++)
    at += snprintf(path + at, sizeof path - (size_t)at, "%02x", b[i]);
  if (at <= 0 || (size_t)at >= sizeof path - 8) return 1;
  snprintf(path + at, sizeof path - (size_t)at, ".debug");
  return scan_file(path, name, f, 0, false, why, cap);
}

static int by_debuglink(Elf *elf, const char *module, const char *name, found_t *f, char *why, size_t cap) {
  GElf_Word crc;
  const char *link = dwelf_elf_gnu_debuglink(elf, &crc);
  if (link == NULL || strchr(link, '/') != NULL) return 1;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", module);
  char *slash = strrchr(dir, '/');
  if (slash != NULL) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  char path[8192];
  const char *forms[] = {"%s/%s", "%s/.debug/%s", NULL};
  for (int i = 0; forms[i] != NULL; i++) {
    snprintf(path, sizeof path, forms[i], dir, link);
    int r = scan_file(path, name, f, crc, true, why, cap);
    if (r <= 0) return r;
  }
  snprintf(path, sizeof path, "%s%s%s/%s", debug_dir(), dir[0] == '/' ? "" : "/", dir, link);
  return scan_file(path, name, f, crc, true, why, cap);
}

/* MiniDebugInfo: the section holds an xz-compressed ELF file, which
 * dwelf_elf_begin decompresses from a descriptor */
static int by_debugdata(Elf *elf, const char *name, found_t *f, char *why, size_t cap) {
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return 1;
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn(elf, scn)) != NULL) {
    GElf_Shdr sh;
    const char *s;
    if (gelf_getshdr(scn, &sh) == NULL || (s = elf_strptr(elf, shstrndx, sh.sh_name)) == NULL ||
        strcmp(s, ".gnu_debugdata") != 0)
      continue;
    Elf_Data *data = elf_rawdata(scn, NULL);
    int fd = memfd_create("reheap-debugdata", MFD_CLOEXEC);
    if (data == NULL || fd < 0 || write(fd, data->d_buf, data->d_size) != (ssize_t)data->d_size ||
        lseek(fd, 0, SEEK_SET) != 0) {
      if (fd >= 0) close(fd);
      snprintf(why, cap, "its .gnu_debugdata section cannot be read");
      return -1;
    }
    Elf *mini = dwelf_elf_begin(fd);
    if (mini == NULL || elf_kind(mini) != ELF_K_ELF) {
      snprintf(why, cap, "its .gnu_debugdata section is no xz-compressed ELF file (%s)", elf_errmsg(-1));
      if (mini != NULL) elf_end(mini);
      close(fd);
      return -1;
    }
    scan(mini, name, f);
    elf_end(mini);
    close(fd);
    return 0;
  }
  return 1;
}

__attribute__((visibility("default"))) rh_status_t rh_symbol_find(const char *module, const char *name, bool object, uint64_t *values, size_t cap,
                           size_t *n, char *why, size_t why_cap) {
  found_t f = {values, cap, 0, object};
  *n = 0;
  if (why_cap > 0) why[0] = '\0';
  elf_version(EV_CURRENT);
  int fd = open(module, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_cap, "its file %s cannot be opened", module);
    return RH_ERR_NOT_FOUND;
  }
  Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  if (elf == NULL || elf_kind(elf) != ELF_K_ELF) {
    snprintf(why, why_cap, "its file %s is not ELF", module);
    if (elf != NULL) elf_end(elf);
    close(fd);
    return RH_ERR_NOT_FOUND;
  }
  bool has_symtab = scan(elf, name, &f);
  int r = 1;
  /* a module with its full symbol table needs no debug file for names */
  if (f.n == 0 || !has_symtab) {
    r = by_build_id(elf, name, &f, why, why_cap);
    if (r > 0) r = by_debuglink(elf, module, name, &f, why, why_cap);
    if (r > 0 || f.n == 0) {
      int m = by_debugdata(elf, name, &f, why, why_cap);
      if (m < 0 && f.n == 0) r = m;
    }
  }
  elf_end(elf);
  close(fd);
  *n = f.n;
  if (f.n > 0) return RH_OK;
  if (r < 0) return RH_ERR_NOT_FOUND; /* why says which file */
  snprintf(why, why_cap, "no %s of that name in its symbol tables%s", object ? "variable" : "function",
           has_symtab ? "" : ", nor in a debug file (stripped: install its debug file, or use an address or sig:)");
  return RH_ERR_NOT_FOUND;
}
