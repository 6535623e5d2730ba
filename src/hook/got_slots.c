/* What GOT hooks (got_elf.c) and IAT hooks (got_pe.c) share: preparing
 * and applying over the format's scan of its modules' import slots, and
 * the slots themselves, each one aligned pointer, given back exactly what
 * it held. */
#include <string.h>

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
rh_status_t hook_got_take(hook_got_t *g, void **slot, void *detour, uintptr_t owner) {
  if (g->nslots == HOOK_GOT_SLOTS) return RH_ERR_NO_MEMORY;
  int prot = os_prot_of(slot);
  if (prot < 0 || (!(prot & OS_PROT_WRITE) && !os_protect(slot, sizeof *slot, prot | OS_PROT_WRITE)))
    return RH_ERR_PROTECT;
  g->slots[g->nslots] = slot;
  g->saved[g->nslots] = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  g->owner[g->nslots] = owner;
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

bool hook_got_wants(const hook_got_t *g, const char *path) {
  if (g->filter != NULL) return path != NULL && g->filter(path, g->filter_arg);
  return true; /* (the format matched g->module) */
}

size_t hook_got_forget_gone(hook_got_t *g) {
  size_t kept = 0, n = g->nslots;
  for (size_t i = 0; i < n; i++) {
    if (!hook_got_owner_loaded(g->owner[i])) continue;
    g->slots[kept] = g->slots[i];
    g->saved[kept] = g->saved[i];
    g->owner[kept] = g->owner[i];
    kept++;
  }
  g->nslots = kept;
  return n - kept;
}

rh_status_t hook_got_prepare(hook_got_t *g, const char *symbol, const char *module, rh_module_filter_fn filter,
                             void *filter_arg) {
  size_t sl = strlen(symbol), ml = module ? strlen(module) : 0;
  if (sl == 0 || sl >= sizeof g->symbol || ml >= sizeof g->module) return RH_ERR_ARGS;
  memset(g, 0, sizeof *g);
  memcpy(g->symbol, symbol, sl + 1);
  if (module != NULL) memcpy(g->module, module, ml + 1);
  g->filter = filter;
  g->filter_arg = filter_arg;
  g->lenient = filter != NULL;
  hook_got_scan_t sc = {g, NULL, RH_OK, 0};
  hook_got_scan(&sc);
  if (sc.status != RH_OK) return sc.status;
  return sc.found != 0 || g->lenient ? RH_OK : RH_ERR_NOT_FOUND;
}

rh_status_t hook_got_apply(hook_got_t *g, void *detour) {
  size_t before = g->nslots;
  hook_got_scan_t sc = {g, detour, RH_OK, 0};
  hook_got_scan(&sc);
  if (sc.status != RH_OK) {
    (void)hook_got_restore(g, before, detour); /* only what this call took */
    return sc.status;
  }
  return g->nslots != 0 || g->lenient ? RH_OK : RH_ERR_NOT_FOUND;
}
