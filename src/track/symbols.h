/* Names for code addresses, at report time: function, offset and module
 * from the dynamic symbol tables (os_symbolize), completed by elfutils'
 * libdwfl with source file and line, and with the names of functions the
 * dynamic tables leave out (static ones), from .symtab or DWARF. */
#ifndef REHEAP_TRACK_SYMBOLS_H
#define REHEAP_TRACK_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "track/track_internal.h"

typedef struct track_symbol {
  char function[256]; /* "" when nothing names it */
  char module[256];   /* "" when pc is in no module */
  char file[512];     /* source file, "" when no line table covers pc */
  uintptr_t offset;   /* pc - the function's start (or the module's, unnamed) */
  unsigned line;      /* 0 when unknown */
} track_symbol_t;

/* Names the return address pc (the call before it, for file:line). False,
 * with *out emptied, when pc lies in no module. Calls malloc (libdw): only
 * where the tracker lets allocations through untracked. */
TRACK_HIDDEN bool track_symbolize(uintptr_t pc, track_symbol_t *out);
/* The module holding the call before pc: its mapped range [lo, hi), its
 * path and its GNU build ID in hex ("" when it has none). False when none
 * holds it. Calls malloc, as above. */
TRACK_HIDDEN bool track_module_of(uintptr_t pc, uintptr_t *lo, uintptr_t *hi, char *path, size_t path_cap,
                                  char *build_id, size_t id_cap);

#endif
