/* track_symbolize on this program's own code (built with -g, without
 * -rdynamic): a static function, which no dynamic symbol table names, gets
 * its name and file:line from libdw; with libdw forbidden, only the
 * module is known. Run on copies of itself too: "nosymtab" (the name then
 * comes from DWARF alone), "nodebug" (from .symtab; no file:line) and
 * "split" (the DWARF in a file its .gnu_debuglink names, beside it). A
 * library opened after the first lookup is named as well.
 *
 * A module without any debug information must not make libdw load its
 * debuginfod client (and libcurl with it) into the program. */
#include <dlfcn.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/symbols.h"

static int fails;

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                              \
      fails++;                                                                            \
    }                                                                                     \
  } while (0)

static int call_line;

__attribute__((noinline)) static uintptr_t return_address(void) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  __asm__ volatile("" ::: "memory"); /* no tail call */
  return pc;
}

__attribute__((noinline)) static uintptr_t static_caller(void) {
  uintptr_t pc = return_address(); call_line = __LINE__;
  __asm__ volatile("" ::: "memory");
  return pc;
}

static bool mapped(const char *name) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[4096];
  bool found = false;
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strstr(line, name) != NULL) found = true;
  if (f != NULL) fclose(f);
  return found;
}

static bool ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && strcmp(s + n - t, tail) == 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "full";
  bool lines = strcmp(mode, "nodebug") != 0;
  unsetenv("DEBUGINFOD_URLS");
  uintptr_t pc = static_caller();
  track_symbol_t sym;

  CHECK(track_symbolize(pc, &sym));
  printf("with libdw: %s+0x%lx (%s) %s:%u\n", sym.function, (unsigned long)sym.offset, sym.module,
         sym.file, sym.line);
  CHECK(strcmp(sym.function, "static_caller") == 0);
  CHECK(sym.offset > 0 && sym.offset < 256);
  CHECK(ends_with(sym.module, strrchr(argv[0], '/') ? strrchr(argv[0], '/') : argv[0]));
  if (lines) {
    CHECK(ends_with(sym.file, "tests/track/test_symbols.c"));
    CHECK(sym.line == (unsigned)call_line);
  } else {
    CHECK(sym.file[0] == '\0' && sym.line == 0);
  }

  /* a second lookup reuses the opened session and says the same */
  track_symbol_t again;
  CHECK(track_symbolize(pc, &again) && memcmp(&sym, &again, sizeof sym) == 0);

  /* a function the dynamic tables do name (in the C library) */
  CHECK(track_symbolize((uintptr_t)&puts + 1, &sym));
  CHECK(strcmp(sym.function, "puts") == 0 || strcmp(sym.function, "_IO_puts") == 0);
  CHECK(sym.offset == 1);

  /* a library opened now, after libdw read the maps */
  void *lib = dlopen(SYMLIB_PATH, RTLD_NOW);
  CHECK(lib != NULL);
  uintptr_t (*symlib_pc)(int *) = lib ? (uintptr_t (*)(int *))dlsym(lib, "symlib_pc") : NULL;
  CHECK(symlib_pc != NULL);
  if (symlib_pc != NULL) {
    int line = 0;
    CHECK(track_symbolize(symlib_pc(&line), &sym));
    printf("opened later: %s (%s) %s:%u\n", sym.function, sym.module, sym.file, sym.line);
    CHECK(strcmp(sym.function, "inner") == 0);
    CHECK(ends_with(sym.file, "tests/track/symlib.c") && sym.line == (unsigned)line);
  }

  /* libelf: no debug information on this machine (Debian ships none) */
  CHECK(track_symbolize((uintptr_t)&elf_version + 1, &sym));
  CHECK(strstr(sym.module, "libelf") != NULL);
  CHECK(!mapped("libdebuginfod"));
  CHECK(!mapped("libcurl"));


  /* no module at all */
  CHECK(!track_symbolize(16, &sym));
  CHECK(sym.function[0] == '\0' && sym.module[0] == '\0' && sym.line == 0);
  CHECK(!track_symbolize(0, &sym));

  if (fails) return 1;
  printf("symbols (%s): all checks passed\n", mode);
  return 0;
}
