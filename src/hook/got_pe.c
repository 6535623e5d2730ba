/* IAT hooks (PE): the import address table slots through which a module
 * calls a function it imports by name, found from its import directory
 * (each descriptor's name table beside its address table), pointed at the
 * detour and later given back exactly what they held. The GOT hook API's
 * Windows form: one aligned pointer per slot, as on ELF, so nothing needs
 * stopping. Delay-loaded imports are not seen. */
#include <string.h>
#include <windows.h>

#include "hook/hook_internal.h"
#include "os/os.h"

typedef hook_got_scan_t scan_t;

static bool scan_module(const char *path, uintptr_t base, void *arg) {
  scan_t *sc = arg;
  if (!hook_got_wants(sc->g, path)) return true;
  const uint8_t *b = (const uint8_t *)base;
  const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)b;
  if (dos->e_magic != IMAGE_DOS_SIGNATURE) return true;
  const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(b + dos->e_lfanew);
  if (nt->Signature != IMAGE_NT_SIGNATURE) return true;
  const IMAGE_DATA_DIRECTORY *d = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
  if (d->VirtualAddress == 0) return true;
  for (const IMAGE_IMPORT_DESCRIPTOR *imp = (const IMAGE_IMPORT_DESCRIPTOR *)(b + d->VirtualAddress);
       imp->Name != 0; imp++) {
    /* without a name table (bound old-style images) the names are gone */
    if (imp->OriginalFirstThunk == 0) continue;
    const IMAGE_THUNK_DATA *names = (const IMAGE_THUNK_DATA *)(b + imp->OriginalFirstThunk);
    IMAGE_THUNK_DATA *slots = (IMAGE_THUNK_DATA *)(b + imp->FirstThunk);
    for (size_t i = 0; names[i].u1.AddressOfData != 0; i++) {
      if (IMAGE_SNAP_BY_ORDINAL(names[i].u1.Ordinal)) continue;
      const IMAGE_IMPORT_BY_NAME *n = (const IMAGE_IMPORT_BY_NAME *)(b + names[i].u1.AddressOfData);
      if (strcmp((const char *)n->Name, sc->g->symbol) != 0) continue;
      void **slot = (void **)&slots[i].u1.Function;
      if (hook_got_known(sc->g, slot)) continue;
      sc->found++;
      if (sc->detour == NULL) continue; /* counting only */
      sc->status = hook_got_take(sc->g, slot, sc->detour, base);
      if (sc->status != RH_OK) return false;
    }
  }
  return true;
}

static bool base_is(const char *path, uintptr_t base, void *arg) {
  (void)path;
  uintptr_t *want = arg;
  if (base != *want) return true;
  *want = 0; /* found */
  return false;
}

bool hook_got_owner_loaded(uintptr_t owner) {
  uintptr_t want = owner;
  os_module_each(NULL, base_is, &want);
  return want == 0;
}

void hook_got_scan(hook_got_scan_t *sc) {
  os_module_each(sc->g->module[0] ? sc->g->module : NULL, scan_module, sc);
}
