/* x86 (64- and 32-bit): decoding a function's first instructions with
 * Zydis and moving the ones the patch covers to a trampoline.
 *
 * Copied as they are, except:
 * - RIP-relative memory operands get their displacement rewritten;
 * - relative jmp, jcc and call get a rel32 form (short ones widened) or, out
 *   of reach, an absolute form. A far call becomes `call [rip+2]; jmp +8;
 *   <address>`, so its return address lands on the jmp, never on data;
 * - branches between covered instructions are re-aimed at their copies;
 * - on 32-bit x86, a call of a PC thunk (`mov reg, [esp]; ret`, how
 *   position-independent code finds itself) becomes `mov reg, <the address
 *   after the call>`: the thunk would hand back the trampoline's address.
 * Refused: a function that ends before the patch does, a branch elsewhere in
 * the function back into the covered bytes, and instructions that cannot run
 * from elsewhere (loop/jrcxz, a branch into the middle of an instruction). */
#include <string.h>

#include "hook/decoder_x86.h"
#include "hook/hook_internal.h"
#include "os/os.h"

#if defined(__x86_64__)
#define MACHINE_MODE ZYDIS_MACHINE_MODE_LONG_64
#define STACK_WIDTH ZYDIS_STACK_WIDTH_64
static const uint8_t endbr[4] = {0xF3, 0x0F, 0x1E, 0xFA}; /* endbr64 */
#else
#define MACHINE_MODE ZYDIS_MACHINE_MODE_LEGACY_32
#define STACK_WIDTH ZYDIS_STACK_WIDTH_32
static const uint8_t endbr[4] = {0xF3, 0x0F, 0x1E, 0xFB}; /* endbr32 */
#endif

/* The register a PC thunk at `to` loads (mov reg, [esp]; ret: 8B /r 24 C3
 * with mod 00 and rm 100), or -1: on x86-64 code finds itself by RIP. */
static int pc_thunk_reg(uintptr_t to) {
#if defined(__x86_64__)
  (void)to;
  return -1;
#else
  if (os_readable_after((const void *)to) < 4) return -1;
  const uint8_t *t = (const uint8_t *)to;
  int reg = (t[1] >> 3) & 7;
  if (t[0] != 0x8B || (t[1] & 0xC7) != 0x04 || t[2] != 0x24 || t[3] != 0xC3 || reg == 4) return -1;
  return reg;
#endif
}

static bool fits_rel32(uintptr_t from_next, uintptr_t to) {
#if defined(__x86_64__)
  int64_t d = (int64_t)(to - from_next);
  return d >= INT32_MIN && d <= INT32_MAX;
#else
  /* a 32-bit displacement reaches all of a 32-bit address space */
  (void)from_next;
  (void)to;
  return true;
#endif
}

static void put32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }

bool hook_emit_patch(uint8_t *dst, uintptr_t dst_addr, uintptr_t to) {
  if (!fits_rel32(dst_addr + 5, to)) return false;
  dst[0] = 0xE9;
  put32(dst + 1, (int32_t)(to - (dst_addr + 5)));
  return true;
}

size_t hook_emit_jmp_abs(uint8_t *dst, uintptr_t to) {
  /* jmp [rip+0]; .quad to (64-bit only: in 32-bit, rel32 reaches all) */
  uint64_t abs = to;
  dst[0] = 0xFF;
  dst[1] = 0x25;
  put32(dst + 2, 0);
  memcpy(dst + 6, &abs, 8);
  return 14;
}

size_t hook_emit_jmp(uint8_t *dst, uintptr_t dst_addr, uintptr_t to) {
  if (hook_emit_patch(dst, dst_addr, to)) return 5;
  return hook_emit_jmp_abs(dst, to);
}

size_t hook_emit_jmp_indirect(uint8_t *dst, uintptr_t dst_addr, uintptr_t slot_addr) {
  dst[0] = 0xFF;
  dst[1] = 0x25;
#if defined(__x86_64__)
  put32(dst + 2, (int32_t)(slot_addr - (dst_addr + 6))); /* jmp [rip+d] */
#else
  (void)dst_addr;
  put32(dst + 2, (int32_t)slot_addr); /* jmp [abs32] */
#endif
  return 6;
}

static void decoder_init(ZydisDecoder *d) { hook_decoder_init(d, MACHINE_MODE, STACK_WIDTH); }

static bool ends_flow(const ZydisDecodedInstruction *in) {
  switch (in->meta.category) {
  case ZYDIS_CATEGORY_RET:
  case ZYDIS_CATEGORY_UNCOND_BR:
    return true;
  default:
    return in->mnemonic == ZYDIS_MNEMONIC_UD2 || in->mnemonic == ZYDIS_MNEMONIC_HLT ||
           in->mnemonic == ZYDIS_MNEMONIC_INT3;
  }
}

static bool is_rip_relative(const ZydisDecodedInstruction *in) {
#if defined(__x86_64__)
  return (in->attributes & ZYDIS_ATTRIB_HAS_MODRM) && in->raw.modrm.mod == 0 &&
         in->raw.modrm.rm == 5 && in->raw.disp.size == 32;
#else
  (void)in;
  return false; /* 32-bit code addresses memory absolutely */
#endif
}

/* A covered branch to another covered instruction, fixed once every copy's
 * place is known. */
typedef struct fixup {
  size_t at;       /* offset of the rel32 in out->code */
  size_t from_end; /* offset in out->code where the rel32 counts from */
  size_t to_old;   /* destination, as an offset at the site */
} fixup_t;

long hook_reloc_map(const hook_reloc_t *r, size_t off) {
  for (size_t i = 0; i < r->insn_count; i++)
    if (r->old_off[i] == off) return r->new_off[i];
  return -1;
}

/* Looks through the rest of the function for a relative branch into the
 * covered bytes (other than to their first byte, which is the patch's own
 * start and stays a valid place to jump to). */
static rh_status_t scan_for_branch_in(const ZydisDecoder *dec, const uint8_t *site, size_t stolen,
                                      const uint8_t *end, bool guessed) {
  const uint8_t *p = site + stolen;
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  bool after_end = false;
  while (p < end) {
    if (!hook_decode(dec, p, (size_t)(end - p), &in, ops)) break;
    /* when the length is a guess: padding after a return or jump is where
     * the function ends */
    if (guessed && after_end && (in.mnemonic == ZYDIS_MNEMONIC_INT3 || in.mnemonic == ZYDIS_MNEMONIC_NOP))
      break;
    if (in.raw.imm[0].is_relative) {
      uintptr_t to = (uintptr_t)p + in.length + (uintptr_t)in.raw.imm[0].value.s;
      if (to > (uintptr_t)site && to < (uintptr_t)site + stolen) return RH_ERR_BRANCH_INTO_PATCH;
    }
    after_end = ends_flow(&in);
    p += in.length;
  }
  return RH_OK;
}

rh_status_t hook_relocate(const uint8_t *target, size_t func_len, uintptr_t code_addr,
                          size_t patch_len, hook_reloc_t *out) {
  /* A length with HOOK_LEN_GUESSED is only how far the bytes can be read:
   * the function is scanned up to its visible end instead. */
  bool guessed = (func_len & HOOK_LEN_GUESSED) != 0;
  func_len &= ~HOOK_LEN_GUESSED;
  memset(out, 0, sizeof *out);
  if (!hook_decoder_ready()) return RH_ERR_NO_DECODER;
  ZydisDecoder dec;
  decoder_init(&dec);
  const uint8_t *site = target;
  if (memcmp(target, endbr, sizeof endbr) == 0) {
    out->skip = sizeof endbr;
    site += out->skip;
  }
  fixup_t fix[HOOK_STOLEN_MAX];
  size_t nfix = 0;
  size_t off = 0, pos = 0;
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  while (off < patch_len) {
    if (func_len != 0 && out->skip + off >= func_len)
      return guessed ? RH_ERR_DECODE : RH_ERR_TOO_SHORT;
    if (!hook_decode(&dec, site + off, 15, &in, ops))
      return RH_ERR_DECODE;
    if (out->insn_count == HOOK_STOLEN_MAX || pos + 32 > HOOK_CODE_MAX)
      return RH_ERR_UNRELOCATABLE;
    out->old_off[out->insn_count] = (uint8_t)off;
    out->new_off[out->insn_count] = (uint8_t)pos;
    out->insn_count++;
    uintptr_t old_addr = (uintptr_t)site + off;
    uintptr_t new_addr = code_addr + pos;
    uint8_t *dst = out->code + pos;
    if (in.raw.imm[0].is_relative) {
      uintptr_t to = old_addr + in.length + (uintptr_t)in.raw.imm[0].value.s;
      bool inside = to >= (uintptr_t)site && to < (uintptr_t)site + HOOK_STOLEN_MAX;
      if (in.mnemonic == ZYDIS_MNEMONIC_JMP) {
        if (inside) {
          dst[0] = 0xE9;
          fix[nfix++] = (fixup_t){pos + 1, pos + 5, to - (uintptr_t)site};
          pos += 5;
        } else {
          pos += hook_emit_jmp(dst, new_addr, to);
        }
      } else if (in.meta.category == ZYDIS_CATEGORY_COND_BR &&
                 in.mnemonic != ZYDIS_MNEMONIC_JCXZ && in.mnemonic != ZYDIS_MNEMONIC_JECXZ &&
                 in.mnemonic != ZYDIS_MNEMONIC_JRCXZ) {
        /* condition code from the opcode: 7x cb or 0F 8x cd */
        uint8_t op = site[off + in.raw.imm[0].offset - 1];
        uint8_t cc = op & 0x0F;
        if (inside) {
          dst[0] = 0x0F;
          dst[1] = (uint8_t)(0x80 | cc);
          fix[nfix++] = (fixup_t){pos + 2, pos + 6, to - (uintptr_t)site};
          pos += 6;
        } else if (fits_rel32(new_addr + 6, to)) {
          dst[0] = 0x0F;
          dst[1] = (uint8_t)(0x80 | cc);
          put32(dst + 2, (int32_t)(to - (new_addr + 6)));
          pos += 6;
        } else {
          /* the opposite condition skips an absolute jump */
          static const uint8_t abs_jmp[6] = {0xFF, 0x25, 0, 0, 0, 0};
          dst[0] = (uint8_t)(0x70 | (cc ^ 1));
          dst[1] = 14;
          uint64_t abs = to;
          memcpy(dst + 2, abs_jmp, sizeof abs_jmp);
          memcpy(dst + 8, &abs, 8);
          pos += 16;
        }
      } else if (in.mnemonic == ZYDIS_MNEMONIC_CALL && !inside) {
        int thunk_reg = pc_thunk_reg(to);
        if (thunk_reg >= 0) {
          dst[0] = (uint8_t)(0xB8 + thunk_reg);
          put32(dst + 1, (int32_t)(old_addr + in.length));
          pos += 5;
        } else if (fits_rel32(new_addr + 5, to)) {
          dst[0] = 0xE8;
          put32(dst + 1, (int32_t)(to - (new_addr + 5)));
          pos += 5;
        } else {
          /* call [rip+2]; jmp +8; .quad to */
          static const uint8_t far_call[8] = {0xFF, 0x15, 0x02, 0, 0, 0, 0xEB, 0x08};
          uint64_t abs = to;
          memcpy(dst, far_call, sizeof far_call);
          memcpy(dst + 8, &abs, 8);
          pos += 16;
        }
      } else {
        return RH_ERR_UNRELOCATABLE; /* loop, jrcxz, xbegin, a call into the patch */
      }
    } else if (is_rip_relative(&in)) {
      uintptr_t to = old_addr + in.length + (uintptr_t)in.raw.disp.value;
      if (!fits_rel32(new_addr + in.length, to)) return RH_ERR_UNRELOCATABLE;
      memcpy(dst, site + off, in.length);
      put32(dst + in.raw.disp.offset, (int32_t)(to - (new_addr + in.length)));
      pos += in.length;
    } else if (in.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
      return RH_ERR_UNRELOCATABLE; /* relative in a way not handled above */
    } else {
      memcpy(dst, site + off, in.length);
      pos += in.length;
    }
    /* the function goes no further: the patch would overwrite what follows
     * (unless the flow jumps forward into bytes the patch covers anyway) */
    bool flows_on = false;
    if (in.mnemonic == ZYDIS_MNEMONIC_JMP && in.raw.imm[0].is_relative) {
      uintptr_t to = old_addr + in.length + (uintptr_t)in.raw.imm[0].value.s;
      flows_on = to >= old_addr + in.length && to < (uintptr_t)site + patch_len;
    }
    off += in.length;
    if (off < patch_len && ends_flow(&in) && !flows_on) return RH_ERR_TOO_SHORT;
  }
  out->stolen = off;
  if (func_len != 0 && !guessed && out->skip + off > func_len) return RH_ERR_TOO_SHORT;
  for (size_t i = 0; i < nfix; i++) {
    long to = hook_reloc_map(out, fix[i].to_old);
    if (fix[i].to_old >= off) {
      /* a branch forward past the covered bytes: back into the function */
      uintptr_t dest = (uintptr_t)site + fix[i].to_old;
      int64_t d = (int64_t)(dest - (code_addr + fix[i].from_end));
      if (d < INT32_MIN || d > INT32_MAX) return RH_ERR_UNRELOCATABLE;
      put32(out->code + fix[i].at, (int32_t)d);
      continue;
    }
    if (to < 0) return RH_ERR_UNRELOCATABLE; /* into the middle of an instruction */
    put32(out->code + fix[i].at, (int32_t)(to - (long)fix[i].from_end));
  }
  out->back_off = pos;
  pos += hook_emit_jmp(out->code + pos, code_addr + pos, (uintptr_t)site + off);
  out->code_len = pos;
  if (func_len != 0)
    return scan_for_branch_in(&dec, site, off, target + func_len, guessed);
  return RH_OK;
}
