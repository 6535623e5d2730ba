/* The compile unit holding an address where libdw's own lookup has no
 * answer: DWARF without .debug_aranges (clang's default, on every
 * architecture), where the elfutils of Debian 12 (0.188) finds none. */
#ifndef REHEAP_TRACK_SYMBOLS_CU_H
#define REHEAP_TRACK_SYMBOLS_CU_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>

#include "track/track_internal.h"

/* Fills *cu with the unit of mod whose ranges hold addr (an address of
 * the process) and *bias with the module's; false when none does. Under
 * the symbol lock: it allocates, and caches each module's ranges. */
TRACK_HIDDEN bool track_cu_at(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *cu, Dwarf_Addr *bias);
/* Drops the cached ranges: the modules they were read from may be gone. */
TRACK_HIDDEN void track_cu_forget(void);

#endif
