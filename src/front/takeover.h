/* Taking over a program's own allocator with a profile of hook specs (see
 * takeover.c and docs/hook-spec.md). */
#ifndef REHEAP_FRONT_TAKEOVER_H
#define REHEAP_FRONT_TAKEOVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "front/hook_spec.h"


/* Resolves every target, checks its expected bytes, and switches all the
 * hooks on as one; on any failure nothing is changed and err says which
 * spec (its line and target) and why. */
__attribute__((visibility("hidden"))) bool takeover_install(const spec_profile_t *profile, char *err,
                                                            size_t cap);
/* True once a profile was installed (it stays true: its blocks remain). */
__attribute__((visibility("hidden"))) extern _Atomic bool takeover_active;
/* Whether p is a block one of the entries handed out (the plain malloc
 * family takes them like any of its own: they are blocks of the same heap). */
__attribute__((visibility("hidden"))) bool takeover_owns(const void *p);
/* Blocks the entries handed out that are not freed yet. */
__attribute__((visibility("hidden"))) size_t takeover_live_blocks(void);
/* Holds the blocks the program frees back from reuse until about bytes of
 * later frees have pushed them out (0, the default: reused at once), for
 * programs that read a block after freeing it. */
__attribute__((visibility("hidden"))) void takeover_set_quarantine(size_t bytes);
/* Freed blocks the quarantine holds now: the program freed them, the heap
 * has not had them back yet. */
__attribute__((visibility("hidden"))) size_t takeover_quarantine_held(void);
/* Puts every patched function back as it was, and checks its first bytes
 * against those saved before it was patched. Refused, with everything
 * left as it is, while blocks of the entries are live (the original
 * functions would be handed blocks they did not make); false with err
 * also when the bytes differ. */
__attribute__((visibility("hidden"))) bool takeover_uninstall(char *err, size_t cap);
/* A function (or variable) named symbol in module (NULL: any) found from
 * the symbol tables and debug files (takeover_symbols.c); NULL with why
 * when none is, or more than one. */
__attribute__((visibility("hidden"))) void *takeover_find_symbol(const char *module, const char *symbol,
                                                                 bool object, char *why, size_t cap);
/* The one place in the code of s's module with its signature's bytes
 * (takeover_signature.c); NULL with why when there is none, or more. */
__attribute__((visibility("hidden"))) void *takeover_find_signature(const spec_t *s, char *why, size_t cap);
/* Why the profile was refused (takeover_init.c), or NULL. */
__attribute__((visibility("hidden"))) const char *takeover_refusal(void);
/* Functions patched now. */
__attribute__((visibility("hidden"))) size_t takeover_count(void);
/* The name of patched function i, as its spec gave it; NULL past the end. */
__attribute__((visibility("hidden"))) const char *takeover_name(size_t i);

#endif
