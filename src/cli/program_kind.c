/* What kind of file PROGRAM is, so that `run` can refuse at once what
 * LD_PRELOAD cannot reach (a static program keeps its own heap; a 32-bit
 * one cannot load a 64-bit library) instead of letting it run on its own
 * heap while the user believes otherwise. */
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static bool read_at(int fd, void *buf, size_t len, off_t at) {
  return pread(fd, buf, len, at) == (ssize_t)len;
}

static rh_program_kind_t elf64_kind(int fd, const Elf64_Ehdr *eh) {
  if (eh->e_machine != RH_ARCH_ELF_MACHINE) return RH_PROGRAM_OTHER_ARCH;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    Elf64_Phdr ph;
    if (!read_at(fd, &ph, sizeof ph, (off_t)(eh->e_phoff + (Elf64_Off)i * eh->e_phentsize)))
      return RH_PROGRAM_UNKNOWN;
    if (ph.p_type == PT_INTERP) return RH_PROGRAM_DYNAMIC;
  }
  return RH_PROGRAM_STATIC;
}

rh_program_kind_t rh_program_kind(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return RH_PROGRAM_UNKNOWN;
  unsigned char ident[EI_NIDENT];
  rh_program_kind_t kind = RH_PROGRAM_UNKNOWN;
  if (read_at(fd, ident, 2, 0) && ident[0] == '#' && ident[1] == '!') {
    kind = RH_PROGRAM_SCRIPT;
  } else if (read_at(fd, ident, sizeof ident, 0) && memcmp(ident, ELFMAG, SELFMAG) == 0) {
    if (ident[EI_CLASS] == ELFCLASS32) {
      kind = RH_PROGRAM_OTHER_ARCH;
    } else if (ident[EI_CLASS] == ELFCLASS64) {
      Elf64_Ehdr eh;
      if (read_at(fd, &eh, sizeof eh, 0)) kind = elf64_kind(fd, &eh);
    }
  }
  close(fd);
  return kind;
}
