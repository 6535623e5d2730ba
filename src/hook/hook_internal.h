/* The hook engine's internals.
 *
 * A patch site is the place in a function where reheap writes its 5-byte
 * jump: the entry, or just after an endbr64 there. Each site has one
 * trampoline slot in memory within +/-2 GiB of it, laid out as
 *
 *   code:   the relocated instructions the jump covers, then a jump back
 *   relay:  jmp [relay_to]        -- the site's jump lands here
 *   onward: jmp [onward_to[i]]   -- one per hook, its "original" pointer
 *   data:   relay_to, onward_to[] -- plain pointers, changed atomically
 *
 * so that enabling or disabling one hook among several on a function only
 * stores a pointer; bytes in the function change only when its first hook
 * goes on or its last goes off. */
#ifndef REHEAP_HOOK_INTERNAL_H
#define REHEAP_HOOK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reheap/hook.h"

#define HOOK_HIDDEN __attribute__((visibility("hidden")))

/* (HOOK_ARCH_AARCH64: the aarch64 relocator built on another host, for
 * its fuzz target) */
#if defined(__aarch64__) || defined(HOOK_ARCH_AARCH64)
/* aarch64 (reloc_aarch64.c): B imm26 reaches +/-128 MiB; the far form is
 * LDR X17, #8; BR X17; .quad relay */
#define HOOK_PATCH_LEN 4
#define HOOK_PATCH_FAR_LEN 16
#define HOOK_NEAR_RANGE ((size_t)0x7F00000) /* a little under 128 MiB */
#define HOOK_FILL_BYTE 0x00                 /* UDF #0 wherever no code was put */
#else
#define HOOK_PATCH_LEN 5          /* E9 rel32 */
#define HOOK_PATCH_FAR_LEN 14     /* jmp [rip+0]; .quad relay (x86-64, no memory near) */
#define HOOK_NEAR_RANGE ((size_t)0x7FF00000) /* a little under 2 GiB */
#define HOOK_FILL_BYTE 0xCC                  /* int3 wherever no code was put */
#endif
#define HOOK_STOLEN_MAX 32        /* bytes a patch can take at most */
#define HOOK_CODE_MAX 160         /* relocated code + jump back */
#define HOOK_CHAIN_MAX 8          /* hooks on one function */

/* ---- reloc_x86.c, reloc_aarch64.c: decoding and moving the covered
 * instructions ---- */
typedef struct hook_reloc {
  size_t skip;                  /* bytes kept at the entry (endbr64) */
  size_t stolen;                /* bytes the patch covers, from the site */
  uint8_t code[HOOK_CODE_MAX];  /* the relocated instructions and the jump back */
  size_t code_len;
  size_t back_off;              /* where in code[] the jump back starts */
  size_t insn_count;
  uint8_t old_off[HOOK_STOLEN_MAX]; /* each covered instruction's offset at the site */
  uint8_t new_off[HOOK_STOLEN_MAX]; /* and in code[] */
} hook_reloc_t;

/* Or'ed into func_len when the function's length is unknown and func_len
 * only says how many bytes can be read. */
#define HOOK_LEN_GUESSED ((size_t)1 << (sizeof(size_t) * 8 - 1))
#define HOOK_SCAN_MAX 512

/* Plans a patch at target: how many bytes to keep (endbr64), which
 * instructions the jump covers, and their relocated copy as it must read
 * when placed at code_addr. func_len: the function's length from target
 * when known (0 if not), to look for branches back into the covered bytes. */
HOOK_HIDDEN rh_status_t hook_relocate(const uint8_t *target, size_t func_len, uintptr_t code_addr,
                                      size_t patch_len, hook_reloc_t *out);
/* Where a thread stopped at offset off of the site should resume in the
 * relocated code (off must be an instruction boundary); -1 if none. */
HOOK_HIDDEN long hook_reloc_map(const hook_reloc_t *r, size_t off);

/* Encoders: each writes at most HOOK_PATCH_FAR_LEN bytes at dst (which
 * will run at dst_addr) and returns the length. */
HOOK_HIDDEN size_t hook_emit_jmp(uint8_t *dst, uintptr_t dst_addr, uintptr_t to);
/* The absolute jump (x86-64: 14 bytes, aarch64: 16), wherever dst is. */
HOOK_HIDDEN size_t hook_emit_jmp_abs(uint8_t *dst, uintptr_t to);
/* A jump reading its destination from slot_addr (jmp [rip+disp]; on
 * aarch64 LDR X17, slot; BR X17, slot_addr within 1 MiB). */
HOOK_HIDDEN size_t hook_emit_jmp_indirect(uint8_t *dst, uintptr_t dst_addr, uintptr_t slot_addr);
/* The near jump (E9 rel32, or aarch64's B); false when to is out of its
 * reach. */
HOOK_HIDDEN bool hook_emit_patch(uint8_t *dst, uintptr_t dst_addr, uintptr_t to);

/* ---- tramp_pool.c: trampoline slots near their targets ---- */
#define HOOK_SLOT_SIZE 512
typedef struct hook_slot_s {
  uint8_t code[HOOK_CODE_MAX];
  uint8_t relay[16];
  uint8_t onward[HOOK_CHAIN_MAX][16];
  _Atomic uintptr_t relay_to;
  _Atomic uintptr_t onward_to[HOOK_CHAIN_MAX];
} hook_slot_t;

/* A free slot within +/-2 GiB of near (anywhere when near is NULL), or
 * NULL (RH_ERR_NO_NEAR_MEMORY, or RH_ERR_PROTECT when the system refuses
 * executable memory). */
HOOK_HIDDEN hook_slot_t *hook_slot_alloc(const void *near, rh_status_t *why);
/* Tests only: behave as if no memory were free near any target. */
HOOK_HIDDEN extern bool hook_test_no_near_memory;
HOOK_HIDDEN void hook_slot_free(hook_slot_t *slot);

/* ---- got_elf.c (ELF GOT) and got_pe.c (PE IAT): import slots ---- */
/* A program with many modules (an interpreter's extensions) imports one
 * symbol in each: room for that many. */
#define HOOK_GOT_SLOTS 256
typedef struct hook_got {
  char symbol[128];
  char module[256]; /* "" = every module (or those filter takes) */
  rh_module_filter_fn filter; /* NULL: by module */
  void *filter_arg;
  bool lenient; /* no slot found is no failure (modules may come later) */
  size_t nslots;
  void **slots[HOOK_GOT_SLOTS];
  void *saved[HOOK_GOT_SLOTS];
  uintptr_t owner[HOOK_GOT_SLOTS]; /* the module's identity, for forgetting it unloaded */
} hook_got_t;

/* Records what to hook; RH_ERR_NOT_FOUND when no matching module imports
 * the symbol. */
HOOK_HIDDEN rh_status_t hook_got_prepare(hook_got_t *g, const char *symbol, const char *module,
                                         rh_module_filter_fn filter, void *filter_arg);
/* Points every matching slot not yet taken (new modules too) at detour. */
HOOK_HIDDEN rh_status_t hook_got_apply(hook_got_t *g, void *detour);
/* Gives every taken slot back what it held; refuses, writing nothing, if
 * one no longer holds detour. */
HOOK_HIDDEN rh_status_t hook_got_remove(hook_got_t *g, void *detour);
/* got_slots.c, shared by the formats: slots from index from on given back
 * (all or none), one slot taken, whether a slot is taken already. */
HOOK_HIDDEN rh_status_t hook_got_restore(hook_got_t *g, size_t from, void *detour);
HOOK_HIDDEN rh_status_t hook_got_take(hook_got_t *g, void **slot, void *detour, uintptr_t owner);
HOOK_HIDDEN bool hook_got_known(const hook_got_t *g, void **slot);
/* Whether a module (its path; the program's own path for the program)
 * is one g reaches. */
HOOK_HIDDEN bool hook_got_wants(const hook_got_t *g, const char *path);
/* Forgets, writing nothing, the slots whose module is no longer loaded;
 * returns how many. */
HOOK_HIDDEN size_t hook_got_forget_gone(hook_got_t *g);
/* The format's part: whether the module owner names is still loaded. */
HOOK_HIDDEN bool hook_got_owner_loaded(uintptr_t owner);
/* The format's part (got_elf.c, got_pe.c): visits every matching module's
 * slots importing g->symbol; counts them in found, and when detour is set
 * takes each one not taken yet (hook_got_take); stops at a failed status. */
typedef struct hook_got_scan {
  hook_got_t *g;
  void *detour;
  rh_status_t status;
  size_t found;
} hook_got_scan_t;
HOOK_HIDDEN void hook_got_scan(hook_got_scan_t *sc);

/* ---- patch.c: writing code ---- */
/* Copies len bytes to code at dst, making its pages writable for the
 * moment and putting back their protection: prot for the page of dst,
 * prot_end for the page of its last byte (OS_PROT_* bits). */
HOOK_HIDDEN rh_status_t hook_write_code(void *dst, const void *src, size_t len, int prot,
                                        int prot_end);

/* ---- hook.c and hook_batch.c: sites and hooks ---- */
#define HOOK_SITES_MAX 256

typedef struct hook_site {
  uint8_t *target; /* function entry; NULL: site unused */
  uint8_t *patch;  /* where the jump goes (after endbr64) */
  hook_reloc_t reloc;
  hook_slot_t *slot;
  size_t patch_len;                    /* 5, or 14 for the far form */
  uint8_t saved[HOOK_PATCH_FAR_LEN];   /* original bytes under the jump */
  uint8_t written[HOOK_PATCH_FAR_LEN]; /* the jump */
  bool patched;
  int prot, prot_end; /* of the patch's pages, as found */
  rh_hook_t *chain[HOOK_CHAIN_MAX]; /* by seat (its onward jump); creation order in seq */
} hook_site_t;

struct rh_hook {
  bool used;
  rh_hook_kind_t kind;
  hook_site_t *site; /* inline */
  hook_got_t *got;   /* GOT */
  void *target;
  void *detour;
  unsigned seat; /* index of its onward jump in the slot */
  unsigned long seq; /* creation order: later hooks are reached first */
  bool enabled;
};

/* hook.c: a site's chain of hooks */
HOOK_HIDDEN void hook_chain_rebuild(hook_site_t *s);
HOOK_HIDDEN bool hook_site_any_enabled(const hook_site_t *s);
/* hook_batch.c: the patches written with the other threads stopped (the
 * engine's lock held) */
HOOK_HIDDEN rh_status_t hook_switch_inline(rh_hook_t *const *list, size_t n, bool on);
HOOK_HIDDEN bool hook_batch_close(hook_site_t *s);

#endif
