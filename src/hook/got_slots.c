/* What GOT hooks (got_elf.c) and IAT hooks (got_pe.c) share: a taken
 * slot is one aligned pointer, given back exactly what it held. */
#include "hook/hook_internal.h"
#include "os/os.h"

rh_status_t hook_got_restore(hook_got_t *g, size_t from, void *detour) {
  /* refuse before writing anything if a slot was changed by someone else */
  for (size_t i = from; i < g->nslots; i++)
    if (__atomic_load_n(g->slots[i], __ATOMIC_ACQUIRE) != detour) return RH_ERR_MODIFIED;
  for (size_t i = from; i < g->nslots; i++) {
    void **slot = g->slots[i];
    int prot = os_prot_of(slot);
    bool ro = prot >= 0 && !(prot & OS_PROT_WRITE);
    if (ro && !os_protect(slot, sizeof *slot, prot | OS_PROT_WRITE)) return RH_ERR_PROTECT;
    __atomic_store_n(slot, g->saved[i], __ATOMIC_RELEASE);
    if (ro) os_protect(slot, sizeof *slot, prot);
  }
  g->nslots = from;
  return RH_OK;
}

rh_status_t hook_got_remove(hook_got_t *g, void *detour) { return hook_got_restore(g, 0, detour); }

/* A slot found by a scan: remembered with what it holds, then pointed at
 * the detour (made writable for the moment if it is read-only). */
rh_status_t hook_got_take(hook_got_t *g, void **slot, void *detour) {
  if (g->nslots == HOOK_GOT_SLOTS) return RH_ERR_NO_MEMORY;
  int prot = os_prot_of(slot);
  if (prot < 0 || (!(prot & OS_PROT_WRITE) && !os_protect(slot, sizeof *slot, prot | OS_PROT_WRITE)))
    return RH_ERR_PROTECT;
  g->slots[g->nslots] = slot;
  g->saved[g->nslots] = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  g->nslots++;
  __atomic_store_n(slot, detour, __ATOMIC_RELEASE);
  if (!(prot & OS_PROT_WRITE)) os_protect(slot, sizeof *slot, prot); /* read-only again */
  return RH_OK;
}

bool hook_got_known(const hook_got_t *g, void **slot) {
  for (size_t i = 0; i < g->nslots; i++)
    if (g->slots[i] == slot) return true;
  return false;
}
