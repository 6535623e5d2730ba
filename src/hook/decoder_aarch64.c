/* aarch64: the PC-relative instruction classes, from the Arm ARM's
 * encoding tables (C4.1): PC-relative addressing (ADR, ADRP), load
 * register (literal), and the immediate branches (B, BL, B.cond,
 * CBZ/CBNZ, TBZ/TBNZ). Everything else is position-independent. */
#include "hook/decoder_aarch64.h"

static int64_t sext(uint64_t v, unsigned bits) {
  uint64_t m = (uint64_t)1 << (bits - 1);
  v &= ((uint64_t)1 << bits) - 1;
  return (int64_t)((v ^ m) - m);
}

/* imm19 at bits 5..23, in words (B.cond, CBZ, LDR literal) */
static int64_t imm19(uint32_t w) { return sext(w >> 5, 19) * 4; }

static bool is_b(uint32_t w) { return (w & 0xFC000000u) == 0x14000000u; }
static bool is_bl(uint32_t w) { return (w & 0xFC000000u) == 0x94000000u; }
static bool is_bcond(uint32_t w) { return (w & 0xFF000000u) == 0x54000000u; }
static bool is_cbz(uint32_t w) { return (w & 0x7E000000u) == 0x34000000u; }
static bool is_tbz(uint32_t w) { return (w & 0x7E000000u) == 0x36000000u; }

static bool ends_flow(uint32_t w) {
  if (is_b(w)) return true;
  if ((w & 0xFE000000u) == 0xD6000000u) { /* branch to a register */
    unsigned opc = (w >> 21) & 0xF;
    return opc == 0 || opc == 2 || opc == 4 || opc == 5 || opc == 8; /* BR, RET, ERET, DRPS, BRAA */
  }
  if ((w & 0xFF000000u) == 0xD4000000u) { /* exceptions: BRK and HLT stop, SVC returns */
    unsigned opc = (w >> 21) & 7;
    return opc == 1 || opc == 2;
  }
  return (w & 0xFFFF0000u) == 0; /* UDF */
}

void a64_decode(uint32_t w, uint64_t pc, a64_insn_t *out) {
  *out = (a64_insn_t){A64_OTHER, 0, w & 31, A64_LD_X, ends_flow(w)};
  if ((w & 0x1F000000u) == 0x10000000u) { /* ADR, ADRP: immhi:immlo */
    int64_t imm = sext(((uint64_t)((w >> 5) & 0x7FFFF) << 2) | ((w >> 29) & 3), 21);
    if (w & 0x80000000u) {
      out->kind = A64_ADRP;
      out->target = (pc & ~(uint64_t)0xFFF) + (uint64_t)(imm * 4096);
    } else {
      out->kind = A64_ADR;
      out->target = pc + (uint64_t)imm;
    }
  } else if ((w & 0x3B000000u) == 0x18000000u) { /* load register (literal) */
    unsigned opc = w >> 30, simd = (w >> 26) & 1;
    static const a64_load_t gpr[3] = {A64_LD_W, A64_LD_X, A64_LD_SW};
    static const a64_load_t fp[3] = {A64_LD_S, A64_LD_D, A64_LD_Q};
    if (opc == 3 && simd) return; /* unallocated: traps wherever it runs */
    out->target = pc + (uint64_t)imm19(w);
    if (opc == 3) {
      out->kind = A64_PRFM_LIT;
    } else {
      out->kind = A64_LDR_LIT;
      out->load = simd ? fp[opc] : gpr[opc];
    }
  } else if (is_b(w) || is_bl(w)) {
    out->kind = is_b(w) ? A64_B : A64_BL;
    out->target = pc + (uint64_t)(sext(w, 26) * 4);
  } else if (is_bcond(w)) {
    out->kind = A64_BCOND;
    out->target = pc + (uint64_t)imm19(w);
  } else if (is_cbz(w)) {
    out->kind = A64_CBZ;
    out->target = pc + (uint64_t)imm19(w);
  } else if (is_tbz(w)) {
    out->kind = A64_TBZ;
    out->target = pc + (uint64_t)(sext(w >> 5, 14) * 4);
  }
}

/* w with the field of `bits` bits at bit `at` holding the word distance
 * from pc to target; false when it does not fit */
static bool put_field(uint32_t w, uint64_t pc, uint64_t target, unsigned at, unsigned bits,
                      uint32_t *out) {
  int64_t d = (int64_t)(target - pc);
  if (d & 3) return false;
  d /= 4;
  int64_t lim = (int64_t)1 << (bits - 1);
  if (d < -lim || d >= lim) return false;
  uint32_t mask = (uint32_t)((((uint64_t)1 << bits) - 1) << at);
  *out = (w & ~mask) | (((uint32_t)d << at) & mask);
  return true;
}

bool a64_retarget(uint32_t w, uint64_t pc, uint64_t target, uint32_t *out) {
  if (is_b(w) || is_bl(w)) return put_field(w, pc, target, 0, 26, out);
  if (is_bcond(w) || is_cbz(w)) return put_field(w, pc, target, 5, 19, out);
  if (is_tbz(w)) return put_field(w, pc, target, 5, 14, out);
  return false;
}

bool a64_invert_skip(uint32_t w, unsigned words, uint32_t *out) {
  uint32_t inv;
  if (is_bcond(w)) {
    if ((w & 0xE) == 0xE) return false; /* AL and NV both always branch */
    inv = w ^ 1;                         /* conditions pair up: EQ/NE, CS/CC, ... */
  } else if (is_cbz(w) || is_tbz(w)) {
    inv = w ^ (1u << 24); /* CBZ <-> CBNZ, TBZ <-> TBNZ */
  } else {
    return false;
  }
  return a64_retarget(inv, 0, (uint64_t)words * 4, out);
}
