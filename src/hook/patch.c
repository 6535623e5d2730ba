/* Writing code in place. The page is made writable (and kept executable:
 * this very code may share it) for as long as the copy takes, then its
 * protection is put back as it was (the caller knows it: reading it from
 * the OS for every write would cost more than the write). A patch that fits in one aligned
 * 8-byte word is written with a single store, so a thread running the
 * function meanwhile sees the old bytes or the new ones, never a mix. */
#include <string.h>

#include "hook/hook_internal.h"
#include "os/os.h"

rh_status_t hook_write_code(void *dst, const void *src, size_t len, int prot, int prot_end) {
  if (prot < 0 || prot_end < 0) return RH_ERR_ARGS;
  if (!os_protect(dst, len, prot | prot_end | OS_PROT_READ | OS_PROT_WRITE | OS_PROT_EXEC))
    return RH_ERR_PROTECT;
  uintptr_t a = (uintptr_t)dst;
  if ((a & 7) + len <= 8) {
    uint64_t *word = (uint64_t *)(a & ~(uintptr_t)7);
    uint64_t v = __atomic_load_n(word, __ATOMIC_RELAXED);
    memcpy((uint8_t *)&v + (a & 7), src, len);
    __atomic_store_n(word, v, __ATOMIC_RELEASE);
  } else {
    memcpy(dst, src, len);
  }
  __builtin___clear_cache((char *)dst, (char *)dst + len);
  /* the bytes are code being patched: a page reported without the execute
   * bit (qemu-user reports guest code that way) keeps it anyway; on a real
   * system the reported protection already has it */
  prot |= OS_PROT_EXEC;
  prot_end |= OS_PROT_EXEC;
  bool same = prot == prot_end;
  if (!os_protect(dst, len, prot) || (!same && !os_protect((uint8_t *)dst + len - 1, 1, prot_end)))
    return RH_ERR_PROTECT;
  return RH_OK;
}
