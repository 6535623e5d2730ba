/* libFuzzer target for the x86-64 relocator: random bytes are a function's
 * start. The relocator must refuse them or produce a trampoline whose every
 * instruction decodes, whose branches land where the originals' did, whose
 * RIP-relative operands reach the same addresses, and which ends by jumping
 * back right after the covered bytes. A broken promise aborts. */
#include <Zydis/Zydis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook/hook_internal.h"

#define FAIL(...)                         \
  do {                                    \
    fprintf(stderr, "fuzz_reloc: " __VA_ARGS__); \
    fputc('\n', stderr);                  \
    abort();                              \
  } while (0)

/* The fake function sits at a fixed address the relocator never touches
 * as memory: it reads the bytes from the buffer we give it. */
static uint8_t func[64];

static ZydisDecoder dec;

static bool decode(const uint8_t *p, size_t n, uintptr_t at, ZydisDecodedInstruction *in,
                   ZydisDecodedOperand *ops) {
  (void)at;
  return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, p, n, in, ops));
}

/* Checked from the decoded operands, not the way the relocator checks:
 * an independent opinion on which instructions address memory by RIP. */
static bool rip_operand(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  for (unsigned k = 0; k < in->operand_count; k++)
    if (ops[k].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[k].mem.base == ZYDIS_REGISTER_RIP)
      return true;
  return false;
}

/* The relocator's absolute forms keep their address right in the code:
 * jmp [rip+0] then the address, or call [rip+2]; jmp +8 then the address. */
static bool inline_target(const uint8_t *p) {
  static const uint8_t jmp_abs[6] = {0xFF, 0x25, 0, 0, 0, 0};
  static const uint8_t call_abs[8] = {0xFF, 0x15, 2, 0, 0, 0, 0xEB, 0x08};
  return memcmp(p, jmp_abs, 6) == 0 || memcmp(p, call_abs, 8) == 0;
}

/* Where a relocated instruction at code[off] sends control (branches) or
 * which address it reads (RIP-relative), following the absolute forms. */
static uintptr_t effective(const hook_reloc_t *r, size_t off, uintptr_t code_addr, bool *is_mem) {
  ZydisDecodedInstruction in;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  const uint8_t *p = r->code + off;
  if (!decode(p, r->code_len - off, code_addr + off, &in, ops))
    FAIL("relocated code does not decode at %zu", off);
  uintptr_t next = code_addr + off + in.length;
  *is_mem = false;
  /* a far jcc: the opposite condition over an absolute jump; follow the jump */
  if ((p[0] & 0xF0) == 0x70 && p[1] == 14 && inline_target(p + 2))
    return effective(r, off + 2, code_addr, is_mem);
  if (in.raw.imm[0].is_relative) return next + (uintptr_t)in.raw.imm[0].value.s;
  if (inline_target(p)) { /* the relocator's own jmp [rip+0] or far-call sequence */
    uint64_t to;
    memcpy(&to, p + (p[1] == 0x25 ? 6 : 8), 8);
    return (uintptr_t)to;
  }
  if (rip_operand(&in, ops)) {
    *is_mem = true;
    return next + (uintptr_t)in.raw.disp.value;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  static bool ready;
  if (!ready) {
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ready = true;
  }
  /* first 3 bytes: where the trampoline goes, relative to the function */
  int32_t delta = (int32_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8);
  data += 3;
  size -= 3;
  memset(func, 0xCC, sizeof func);
  memcpy(func, data, size < sizeof func ? size : sizeof func);
  size_t func_len = size < sizeof func ? size : sizeof func;
  uintptr_t code_addr = (uintptr_t)func + (uintptr_t)(intptr_t)delta;
  hook_reloc_t r;
  /* the low bit of the placement picks the 5-byte or the 14-byte patch */
  size_t patch_len = (delta & 0x100) ? HOOK_PATCH_FAR_LEN : HOOK_PATCH_LEN;
  rh_status_t st = hook_relocate(func, func_len, code_addr, patch_len, &r);
  if (st != RH_OK) return 0;
  const uint8_t *site = func + r.skip;
  /* An original jmp/call [rip+d] whose copy ends up with the relocator's own
   * displacement (0 or 2) looks like one of its absolute forms to this
   * checker: such rare inputs are skipped, not misjudged. */
  for (size_t i = 0; i < r.insn_count; i++) {
    const uint8_t *c = r.code + r.new_off[i];
    if (c[0] == 0xFF && (c[1] == 0x25 || c[1] == 0x15) && site[r.old_off[i]] == 0xFF) {
      int32_t d;
      memcpy(&d, c + 2, 4);
      if (d == 0 || d == 2) return 0;
    }
  }
  if (r.stolen < patch_len || r.skip + r.stolen > func_len)
    FAIL("covers %zu bytes of a %zu-byte function", r.stolen, func_len);
  /* every relocated byte decodes, instruction after instruction */
  for (size_t off = 0; off < r.code_len;) {
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!decode(r.code + off, r.code_len - off, code_addr + off, &in, ops))
      FAIL("relocated code does not decode at %zu", off);
    /* skip over the address an absolute form carries */
    if (inline_target(r.code + off)) off += r.code[off + 1] == 0x25 ? 14 : 16;
    else off += in.length;
  }
  /* each covered instruction's copy goes where the original went */
  for (size_t i = 0; i < r.insn_count; i++) {
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    uintptr_t at = (uintptr_t)site + r.old_off[i];
    if (!decode(site + r.old_off[i], 15, at, &in, ops)) FAIL("original no longer decodes");
    uintptr_t next = at + in.length;
    bool mem;
    uintptr_t got = effective(&r, r.new_off[i], code_addr, &mem);
    if (in.raw.imm[0].is_relative) {
      uintptr_t want = next + (uintptr_t)in.raw.imm[0].value.s;
      long inside = want >= (uintptr_t)site && want < (uintptr_t)site + r.stolen
                        ? hook_reloc_map(&r, want - (uintptr_t)site)
                        : -1;
      if (inside >= 0) want = code_addr + (uintptr_t)inside;
      if (got != want) FAIL("branch %zu goes to %#lx, not %#lx", i, (unsigned long)got, (unsigned long)want);
    } else if (rip_operand(&in, ops)) {
      uintptr_t want = next + (uintptr_t)in.raw.disp.value;
      if (!mem || got != want) FAIL("rip-relative operand %zu moved", i);
    }
  }
  /* and the trampoline ends by going back after the covered bytes */
  bool mem;
  if (effective(&r, r.back_off, code_addr, &mem) != (uintptr_t)site + r.stolen)
    FAIL("the jump back does not land after the covered bytes");
  return 0;
}
