/* reheap's hook engine: redirects functions of a running process and undoes
 * it exactly. Usable on its own; knows nothing about allocation.
 *
 *   void *orig;
 *   rh_hook_t *h;
 *   if (rh_hook_create(target, detour, &orig, &h) == RH_OK &&
 *       rh_hook_enable(h) == RH_OK) {
 *     ... calls to target now reach detour; detour may call orig ...
 *     rh_hook_disable(h);
 *     rh_hook_destroy(h);
 *   }
 *
 * An inline hook writes a 5-byte jump at the target's entry (to the detour,
 * or to a relay next to the target when the detour is farther than 2 GiB)
 * and moves the instructions it covers to a trampoline, through which the
 * original is called. Several hooks on one function form a chain: the entry
 * reaches the newest enabled hook, and each hook's original reaches the next
 * enabled one, then the function itself. */
#ifndef REHEAP_HOOK_H
#define REHEAP_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reheap/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rh_hook rh_hook_t;

typedef enum rh_hook_kind {
  RH_HOOK_INLINE, /* a jump written at the function's entry */
  RH_HOOK_GOT,    /* GOT slots of the modules that import the symbol */
} rh_hook_kind_t;

/* Optional settings for rh_hook_create_ex. */
typedef struct rh_hook_options {
  /* When not NULL: the target must start with these bytes, or creation
   * fails with RH_ERR_BYTES_DIFFER before anything is written. */
  const uint8_t *expect;
  size_t expect_len;
} rh_hook_options_t;

/* Prepares an inline hook of target (disabled). *original receives the
 * pointer that calls what target did before this hook: valid from now on,
 * whether the hook is enabled or not. */
rh_status_t rh_hook_create(void *target, void *detour, void **original, rh_hook_t **out);
rh_status_t rh_hook_create_ex(void *target, void *detour, const rh_hook_options_t *options,
                              void **original, rh_hook_t **out);

rh_status_t rh_hook_enable(rh_hook_t *hook);
rh_status_t rh_hook_disable(rh_hook_t *hook);
/* Disables the hook if needed and frees it; *original stops being valid. */
rh_status_t rh_hook_destroy(rh_hook_t *hook);

/* Prepares a GOT hook (disabled): calls that modules make to symbol through
 * their GOT/PLT slots will reach detour. module: a module's file name
 * ("libz.so.1") or path, or NULL for every loaded module. *original: the
 * symbol's definition. RH_ERR_NOT_FOUND when no such module imports it.
 * Enabled, disabled and destroyed like an inline hook. */
rh_status_t rh_got_hook_create(const char *symbol, void *detour, const char *module,
                               void **original, rh_hook_t **out);
/* Which modules a GOT hook reaches: filter is asked with each module's
 * path (the program's own path for the program itself) and arg. */
typedef bool (*rh_module_filter_fn)(const char *path, void *arg);
/* Like rh_got_hook_create, for the modules filter takes. No module
 * importing symbol yet is no failure: the hook is created, and enabling
 * it reaches whatever modules import it then (and on refresh). */
rh_status_t rh_got_hook_create_filtered(const char *symbol, void *detour, rh_module_filter_fn filter, void *arg,
                                        void **original, rh_hook_t **out);
/* After dlopen: extends every enabled GOT hook to the modules loaded since
 * it was enabled. */
rh_status_t rh_hook_refresh(void);
/* After dlclose: every GOT hook forgets, writing nothing, the slots of
 * modules no longer loaded (so that disabling it never writes into memory
 * that is gone). Returns how many slots were forgotten. */
size_t rh_hook_forget_unloaded(void);

/* Enables (or disables) hooks[0..n) as one: all of them or, on any failure,
 * none, with every byte already written put back. */
rh_status_t rh_hook_enable_all(rh_hook_t *const *hooks, size_t n);
rh_status_t rh_hook_disable_all(rh_hook_t *const *hooks, size_t n);

typedef struct rh_hook_info {
  void *target;
  void *detour;
  rh_hook_kind_t kind;
  bool enabled;
} rh_hook_info_t;

/* Number of enabled hooks. */
size_t rh_hook_count(void);
/* Fills up to max entries, one per hook that exists; returns how many
 * exist. */
size_t rh_hook_list(rh_hook_info_t *out, size_t max);

/* Finding a function (or, with object, a variable) by name in the ELF
 * file module, where a debugger finds it: its .dynsym and .symtab, local
 * symbols too, then its separate debug file (by build-id under
 * /usr/lib/debug/.build-id, or REHEAP_DEBUG_DIR/.build-id; by
 * .gnu_debuglink beside it, in its .debug folder or under the debug
 * directory, the CRC checked), then its MiniDebugInfo (.gnu_debugdata).
 * Fills up to cap link-time addresses (st_value: add the module's load
 * bias), each once, and sets *n to how many there are (more than one: an
 * ambiguous name). RH_ERR_NOT_FOUND with why saying what was looked at.
 * In libreheap_symbols.so (links elfutils), not libreheap_hook.a. */
rh_status_t rh_symbol_find(const char *module, const char *name, bool object, uint64_t *values, size_t cap,
                           size_t *n, char *why, size_t why_cap);
typedef rh_status_t (*rh_symbol_find_fn)(const char *, const char *, bool, uint64_t *, size_t, size_t *,
                                         char *, size_t);

#ifdef __cplusplus
}
#endif
#endif
