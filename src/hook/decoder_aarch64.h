/* The aarch64 decoder the relocator uses (decoder_aarch64.c): every
 * instruction is one 32-bit word, and only a few classes read the program
 * counter, so a table of those classes is the whole decoder. It runs on
 * any host (the fuzz target checks it against Capstone on x86-64). */
#ifndef REHEAP_HOOK_DECODER_AARCH64_H
#define REHEAP_HOOK_DECODER_AARCH64_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
  A64_OTHER,    /* does not read the PC: runs the same anywhere */
  A64_ADR,      /* ADR Xd, label */
  A64_ADRP,     /* ADRP Xd, label (a 4 KiB page's address) */
  A64_LDR_LIT,  /* LDR Wt/Xt/St/Dt/Qt, LDRSW Xt, label */
  A64_PRFM_LIT, /* PRFM label: a hint */
  A64_B,        /* B label */
  A64_BL,       /* BL label */
  A64_BCOND,    /* B.cond / BC.cond label */
  A64_CBZ,      /* CBZ / CBNZ Rt, label */
  A64_TBZ,      /* TBZ / TBNZ Rt, #bit, label */
} a64_kind_t;

/* How a literal load reads its bytes. */
typedef enum { A64_LD_W, A64_LD_X, A64_LD_SW, A64_LD_S, A64_LD_D, A64_LD_Q } a64_load_t;

typedef struct a64_insn {
  a64_kind_t kind;
  uint64_t target; /* the address it reads or branches to (not for A64_OTHER) */
  unsigned reg;    /* Rd or Rt */
  a64_load_t load; /* A64_LDR_LIT only */
  bool ends_flow;  /* B, BR, RET and kin, BRK, HLT, UDF: nothing after it runs */
} a64_insn_t;

/* Decodes the word w found at address pc. */
__attribute__((visibility("hidden"))) void a64_decode(uint32_t w, uint64_t pc, a64_insn_t *out);

/* The same instruction aimed at another target, for a copy at pc; false
 * when target is out of the form's reach (A64_B, A64_BL, A64_BCOND,
 * A64_CBZ, A64_TBZ only). */
__attribute__((visibility("hidden"))) bool a64_retarget(uint32_t w, uint64_t pc, uint64_t target,
                                                        uint32_t *out);

/* The branch with the opposite condition (B.cond, CBZ/CBNZ, TBZ/TBNZ),
 * aimed words*4 bytes ahead; false for a condition that is always true. */
__attribute__((visibility("hidden"))) bool a64_invert_skip(uint32_t w, unsigned words, uint32_t *out);

#endif
