/* aarch64: moving the instructions a patch covers to a trampoline.
 *
 * The patch is `B relay` (one instruction) when the trampoline is within
 * 128 MiB, else `LDR X17, #8; BR X17; .quad relay` (four). X17 (IP1) is
 * the register the procedure call standard lets any veneer between a
 * branch and its target clobber, so no function expects it kept across
 * its own entry, nor across a branch it makes.
 *
 * Copied as they are, except what reads the PC (decoder_aarch64.c):
 * - ADR, ADRP: the address loaded from a literal
 *   (`LDR Xd, #8; B #12; .quad address`);
 * - a literal load: the address into its own register, then the load from
 *   it; into a SIMD register through X17, saved on the stack around it
 *   (this is not a branch: X17 may be live); a PRFM becomes a NOP;
 * - B, BL: re-aimed when in reach, else through X17 (BLR, so the return
 *   lands on a jump back to the rest of the copy);
 * - B.cond, CBZ/CBNZ, TBZ/TBNZ: the opposite condition skipping an
 *   absolute jump; to another covered instruction, re-aimed at its copy.
 * A BTI landing pad at the entry (the endbr64 of aarch64) stays where it
 * is. Refused: a function that ends before the patch does, a branch
 * elsewhere in the function into the covered bytes, a BL into them. */
#include <string.h>

#include "hook/decoder_aarch64.h"
#include "hook/hook_internal.h"

#define NOP 0xD503201Fu
#define LDR_X17_LIT(words) (0x58000011u | ((uint32_t)(words) << 5))
#define BR_X17 0xD61F0220u
#define BLR_X17 0xD63F0220u
#define B_WORDS(words) (0x14000000u | ((uint32_t)(words)&0x3FFFFFF))

static void put(uint8_t *dst, size_t *pos, uint32_t w) {
  memcpy(dst + *pos, &w, 4);
  *pos += 4;
}
static void put64(uint8_t *dst, size_t *pos, uint64_t v) {
  memcpy(dst + *pos, &v, 8);
  *pos += 8;
}

bool hook_emit_patch(uint8_t *dst, uintptr_t dst_addr, uintptr_t to) {
  uint32_t w;
  if (!a64_retarget(B_WORDS(0), dst_addr, to, &w)) return false;
  memcpy(dst, &w, 4);
  return true;
}

size_t hook_emit_jmp_abs(uint8_t *dst, uintptr_t to) {
  size_t pos = 0;
  put(dst, &pos, LDR_X17_LIT(2));
  put(dst, &pos, BR_X17);
  put64(dst, &pos, to);
  return pos;
}

size_t hook_emit_jmp(uint8_t *dst, uintptr_t dst_addr, uintptr_t to) {
  if (hook_emit_patch(dst, dst_addr, to)) return 4;
  return hook_emit_jmp_abs(dst, to);
}

size_t hook_emit_jmp_indirect(uint8_t *dst, uintptr_t dst_addr, uintptr_t slot_addr) {
  /* the slot is in the same trampoline slot: well within LDR's 1 MiB */
  size_t pos = 0;
  put(dst, &pos, LDR_X17_LIT(((int64_t)(slot_addr - dst_addr) / 4) & 0x7FFFF));
  put(dst, &pos, BR_X17);
  return pos;
}

long hook_reloc_map(const hook_reloc_t *r, size_t off) {
  for (size_t i = 0; i < r->insn_count; i++)
    if (r->old_off[i] == off) return r->new_off[i];
  return -1;
}

static bool is_bti(uint32_t w) { return (w & 0xFFFFFF3Fu) == 0xD503241Fu; }

/* LDR (unsigned offset 0) of the literal's kind, from base register n */
static uint32_t load_from(a64_load_t kind, unsigned t, unsigned n) {
  static const uint32_t op[] = {0xB9400000u, 0xF9400000u, 0xB9800000u,
                                0xBD400000u, 0xFD400000u, 0x3DC00000u};
  return op[kind] | (n << 5) | t;
}

/* A covered branch to another covered instruction, fixed once every copy's
 * place is known. */
typedef struct fixup {
  size_t at;     /* offset of the branch in out->code */
  size_t to_old; /* destination, as an offset at the site */
} fixup_t;

/* Copies the instruction w (decoded: in) to dst + *pos, which runs at
 * code_addr + *pos. */
static rh_status_t relocate_one(uint32_t w, a64_insn_t in, uintptr_t site, size_t patch_len, uint8_t *dst,
                                size_t *pos, uintptr_t code_addr, fixup_t *fix, size_t *nfix) {
  uintptr_t new_addr = code_addr + *pos;
  uint64_t to = in.target;
  bool inside = to >= site && to < site + patch_len;
  uint32_t near;
  switch (in.kind) {
  case A64_OTHER: put(dst, pos, w); return RH_OK;
  case A64_PRFM_LIT: put(dst, pos, NOP); return RH_OK;
  case A64_ADR:
  case A64_ADRP:
    if (in.reg == 31) { /* XZR: nothing is kept */
      put(dst, pos, NOP);
      return RH_OK;
    }
    put(dst, pos, 0x58000040u | in.reg); /* LDR Xd, #8 */
    put(dst, pos, B_WORDS(3));
    put64(dst, pos, to);
    return RH_OK;
  case A64_LDR_LIT:
    if (in.load <= A64_LD_SW) {
      if (in.reg == 31) { /* a load into XZR: only the read would remain */
        put(dst, pos, NOP);
        return RH_OK;
      }
      put(dst, pos, 0x58000060u | in.reg); /* LDR Xt, #12 */
      put(dst, pos, load_from(in.load, in.reg, in.reg));
      put(dst, pos, B_WORDS(3));
      put64(dst, pos, to);
      return RH_OK;
    }
    put(dst, pos, 0xF81F0FF1u);    /* STR X17, [SP, #-16]! */
    put(dst, pos, LDR_X17_LIT(4)); /* the address, 16 bytes on */
    put(dst, pos, load_from(in.load, in.reg, 17));
    put(dst, pos, 0xF84107F1u); /* LDR X17, [SP], #16 */
    put(dst, pos, B_WORDS(3));
    put64(dst, pos, to);
    return RH_OK;
  case A64_B:
    if (inside) break;
    if (a64_retarget(w, new_addr, to, &near)) {
      put(dst, pos, near);
    } else {
      *pos += hook_emit_jmp_abs(dst + *pos, to);
    }
    return RH_OK;
  case A64_BL:
    if (inside) return RH_ERR_UNRELOCATABLE; /* a call into the patch */
    if (a64_retarget(w, new_addr, to, &near)) {
      put(dst, pos, near);
    } else {
      put(dst, pos, LDR_X17_LIT(3));
      put(dst, pos, BLR_X17);
      put(dst, pos, B_WORDS(3));
      put64(dst, pos, to);
    }
    return RH_OK;
  case A64_BCOND:
  case A64_CBZ:
  case A64_TBZ:
    if (inside) break;
    if (!a64_invert_skip(w, 5, &near)) { /* B.AL: a plain branch */
      *pos += hook_emit_jmp_abs(dst + *pos, to);
      return RH_OK;
    }
    put(dst, pos, near);
    *pos += hook_emit_jmp_abs(dst + *pos, to);
    return RH_OK;
  }
  /* a branch to a covered instruction: aimed at its copy once it is placed */
  fix[(*nfix)++] = (fixup_t){*pos, (size_t)(to - site)};
  put(dst, pos, w);
  return RH_OK;
}

/* Looks through the rest of the function for a branch into the covered
 * words (other than to the first, the patch's own start). */
static rh_status_t scan_for_branch_in(const uint8_t *site, size_t stolen, const uint8_t *end,
                                      bool guessed) {
  bool after_end = false;
  for (const uint8_t *p = site + stolen; p + 4 <= end; p += 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    /* when the length is a guess: padding after the last branch ends it */
    if (guessed && after_end && (w == NOP || w == 0)) break;
    a64_insn_t in;
    a64_decode(w, (uintptr_t)p, &in);
    if (in.kind >= A64_B && in.target > (uintptr_t)site && in.target < (uintptr_t)site + stolen)
      return RH_ERR_BRANCH_INTO_PATCH;
    after_end = in.ends_flow;
  }
  return RH_OK;
}

rh_status_t hook_relocate(const uint8_t *target, size_t func_len, uintptr_t code_addr,
                          size_t patch_len, hook_reloc_t *out) {
  bool guessed = (func_len & HOOK_LEN_GUESSED) != 0;
  func_len &= ~HOOK_LEN_GUESSED;
  memset(out, 0, sizeof *out);
  if (((uintptr_t)target & 3) != 0 || (code_addr & 3) != 0) return RH_ERR_ARGS;
  const uint8_t *site = target;
  uint32_t first;
  memcpy(&first, target, 4);
  if (is_bti(first)) {
    out->skip = 4;
    site += 4;
  }
  fixup_t fix[HOOK_STOLEN_MAX / 4];
  size_t nfix = 0, off = 0, pos = 0;
  while (off < patch_len) {
    if (func_len != 0 && out->skip + off >= func_len) return guessed ? RH_ERR_DECODE : RH_ERR_TOO_SHORT;
    if (out->insn_count == HOOK_STOLEN_MAX / 4 || pos + 32 > HOOK_CODE_MAX) return RH_ERR_UNRELOCATABLE;
    uint32_t w;
    memcpy(&w, site + off, 4);
    out->old_off[out->insn_count] = (uint8_t)off;
    out->new_off[out->insn_count] = (uint8_t)pos;
    out->insn_count++;
    a64_insn_t in;
    a64_decode(w, (uintptr_t)site + off, &in);
    rh_status_t st = relocate_one(w, in, (uintptr_t)site, patch_len, out->code, &pos, code_addr, fix, &nfix);
    if (st != RH_OK) return st;
    /* a B forward into words the patch covers anyway lets the flow go on */
    bool flows_on = in.kind == A64_B && in.target > (uintptr_t)site + off &&
                    in.target < (uintptr_t)site + patch_len;
    off += 4;
    if (off < patch_len && in.ends_flow && !flows_on) return RH_ERR_TOO_SHORT;
  }
  out->stolen = off;
  if (func_len != 0 && !guessed && out->skip + off > func_len) return RH_ERR_TOO_SHORT;
  for (size_t i = 0; i < nfix; i++) {
    long to = hook_reloc_map(out, fix[i].to_old);
    uint32_t w, aimed;
    memcpy(&w, out->code + fix[i].at, 4);
    if (to < 0 || !a64_retarget(w, code_addr + fix[i].at, code_addr + (uintptr_t)to, &aimed))
      return RH_ERR_UNRELOCATABLE;
    memcpy(out->code + fix[i].at, &aimed, 4);
  }
  out->back_off = pos;
  pos += hook_emit_jmp(out->code + pos, code_addr + pos, (uintptr_t)site + off);
  out->code_len = pos;
  if (func_len != 0) return scan_for_branch_in(site, off, target + func_len, guessed);
  return RH_OK;
}
