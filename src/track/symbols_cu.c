/* Each module's units, by range, read once from their DIEs (DW_AT_ranges
 * or low/high pc) and kept sorted for a binary search: a report names
 * thousands of frames, and walking every unit of a large program for each
 * would cost more than the rest of the report. A few modules are kept;
 * the one used longest ago gives way. */
#include "track/symbols_cu.h"

#include <elfutils/libdw.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct cu_range {
  Dwarf_Addr low, high; /* [low, high), as the DWARF has them (no bias) */
  Dwarf_Off die;        /* the unit's DIE */
} cu_range_t;

#define MODULES_KEPT 8
static struct {
  Dwarf *dwarf; /* NULL: a free place */
  cu_range_t *ranges;
  size_t n;
  unsigned long used;
} kept[MODULES_KEPT];
static unsigned long uses;

static int by_low(const void *a, const void *b) {
  const cu_range_t *x = a, *y = b;
  return x->low < y->low ? -1 : x->low > y->low;
}

static bool add(cu_range_t **r, size_t *n, size_t *cap, Dwarf_Addr low, Dwarf_Addr high, Dwarf_Off die) {
  if (low >= high) return true;
  if (*n == *cap) {
    size_t grown = *cap ? *cap * 2 : 64;
    cu_range_t *more = realloc(*r, grown * sizeof *more);
    if (more == NULL) return false;
    *r = more;
    *cap = grown;
  }
  (*r)[(*n)++] = (cu_range_t){low, high, die};
  return true;
}

static bool read_ranges(Dwarf *dw, cu_range_t **out, size_t *count) {
  cu_range_t *r = NULL;
  size_t n = 0, cap = 0;
  Dwarf_Die cu;
  for (Dwarf_CU *unit = NULL; dwarf_get_units(dw, unit, &unit, NULL, NULL, &cu, NULL) == 0;) {
    Dwarf_Addr base, low, high;
    for (ptrdiff_t at = 0; (at = dwarf_ranges(&cu, at, &base, &low, &high)) > 0;)
      if (!add(&r, &n, &cap, low, high, dwarf_dieoffset(&cu))) {
        free(r);
        return false;
      }
  }
  if (n > 1) qsort(r, n, sizeof *r, by_low);
  *out = r;
  *count = n;
  return true;
}

bool track_cu_at(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *cu, Dwarf_Addr *bias) {
  Dwarf *dw = dwfl_module_getdwarf(mod, bias);
  if (dw == NULL) return false;
  size_t k = 0, oldest = 0;
  while (k < MODULES_KEPT && kept[k].dwarf != dw) {
    if (kept[k].used < kept[oldest].used) oldest = k;
    k++;
  }
  if (k == MODULES_KEPT) {
    k = oldest;
    free(kept[k].ranges);
    kept[k].ranges = NULL;
    kept[k].n = 0;
    kept[k].dwarf = NULL;
    if (!read_ranges(dw, &kept[k].ranges, &kept[k].n)) return false;
    kept[k].dwarf = dw;
  }
  kept[k].used = ++uses;
  Dwarf_Addr at = addr - *bias;
  /* the last range starting at or below the address; ranges of distinct
   * units do not overlap in a well-formed module */
  size_t lo = 0, hi = kept[k].n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (kept[k].ranges[mid].low <= at) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0 || at >= kept[k].ranges[lo - 1].high) return false;
  return dwarf_offdie(dw, kept[k].ranges[lo - 1].die, cu) != NULL;
}

void track_cu_forget(void) {
  for (size_t k = 0; k < MODULES_KEPT; k++) {
    free(kept[k].ranges);
    kept[k].ranges = NULL;
    kept[k].dwarf = NULL;
    kept[k].n = 0;
  }
}
