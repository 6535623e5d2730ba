/* libFuzzer target for the aarch64 relocator, built for the host: random
 * words are a function's start, random bits the trampoline's place. The
 * relocator must refuse them or give a copy that Capstone (a decoder that
 * is not ours) agrees with: an instruction that does not read the PC is
 * copied as it is; one that does has in its copy the same address (ADR,
 * ADRP, literal loads: loaded from a literal into the same register), or
 * reaches the same place (branches: directly, or through X17 from a
 * literal; calls as calls; conditions kept or inverted over the jump; to
 * another covered instruction, at its copy); the copy ends by going to
 * the instruction after the covered ones, and every word of it that is
 * not a literal decodes. A broken promise aborts. */
#include <capstone/capstone.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook/hook_internal.h"

#define FAIL(...)                                    \
  do {                                               \
    fprintf(stderr, "fuzz_reloc_aarch64: " __VA_ARGS__); \
    fputc('\n', stderr);                             \
    abort();                                         \
  } while (0)

static csh cs;
static _Alignas(4) uint8_t func[32];

/* One decoded word of the copy, or of the site. */
typedef struct insn {
  bool ok;
  unsigned id;
  int cc;
  int nops;
  cs_arm64_op op[8];
} insn_t;

static insn_t decode(const uint8_t *p, uint64_t at) {
  insn_t r;
  memset(&r, 0, sizeof r);
  cs_insn *in;
  if (cs_disasm(cs, p, 4, at, 1, &in) != 1) return r;
  r.ok = true;
  r.id = in->id;
  r.cc = in->detail->arm64.cc;
  r.nops = in->detail->arm64.op_count < 8 ? in->detail->arm64.op_count : 8;
  memcpy(r.op, in->detail->arm64.operands, (size_t)r.nops * sizeof r.op[0]);
  cs_free(in, 1);
  return r;
}

/* A general register's number (31: the zero register), -1 for others. */
static int gpr(unsigned reg) {
  const char *n = cs_reg_name(cs, reg);
  if (n == NULL) return -1;
  if (strcmp(n, "xzr") == 0 || strcmp(n, "wzr") == 0) return 31;
  if (strcmp(n, "fp") == 0) return 29;
  if (strcmp(n, "lr") == 0) return 30;
  if ((n[0] == 'x' || n[0] == 'w') && n[1] >= '0' && n[1] <= '9') return atoi(n + 1);
  return -1;
}

static bool is_branch(unsigned id) {
  return id == ARM64_INS_B || id == ARM64_INS_BL || id == ARM64_INS_CBZ || id == ARM64_INS_CBNZ ||
         id == ARM64_INS_TBZ || id == ARM64_INS_TBNZ;
}
static bool is_literal_load(const insn_t *in) {
  return (in->id == ARM64_INS_LDR || in->id == ARM64_INS_LDRSW || in->id == ARM64_INS_PRFM) && in->nops == 2 &&
         in->op[1].type == ARM64_OP_IMM;
}
static uint64_t last_imm(const insn_t *in) { return (uint64_t)in->op[in->nops - 1].imm; }

/* What a stretch of the copy does, read with Capstone: the literals it
 * loads (into which register), the places it branches to, calls. */
typedef struct effects {
  int n;
  struct {
    int reg;          /* literal loads: the register (its capstone id in sreg) */
    unsigned sreg;
    uint64_t value;   /* the literal, or the branch's target */
    unsigned id;      /* the instruction */
    int cc;
    size_t at;        /* its offset in the copy */
  } e[16];
  int loads_from[32]; /* loads with base register k: how many */
  unsigned load_dest[32];
} effects_t;

static void read_stretch(const hook_reloc_t *r, size_t lo, size_t hi, uint64_t code_addr, effects_t *fx,
                         bool *data) {
  memset(fx, 0, sizeof *fx);
  for (size_t off = lo; off < hi; off += 4) {
    if (data[off / 4]) continue;
    insn_t in = decode(r->code + off, code_addr + off);
    if (!in.ok) FAIL("the copy's word at %zu (%02x%02x%02x%02x) does not decode", off, r->code[off + 3],
                     r->code[off + 2], r->code[off + 1], r->code[off]);
    if (fx->n == 16) FAIL("more than 16 effects in one copy");
    if (is_literal_load(&in) && in.id != ARM64_INS_PRFM) {
      uint64_t lit = last_imm(&in) - code_addr;
      if (lit < lo || lit + 8 > hi || (lit & 3) != 0) FAIL("a literal at %llu outside its copy", (unsigned long long)lit);
      uint64_t v;
      memcpy(&v, r->code + lit, 8);
      data[lit / 4] = data[lit / 4 + 1] = true;
      fx->e[fx->n++] = (typeof(fx->e[0])){gpr(in.op[0].reg), in.op[0].reg, v, in.id, 0, off};
    } else if (is_branch(in.id) || in.id == ARM64_INS_BR || in.id == ARM64_INS_BLR) {
      uint64_t to = in.id == ARM64_INS_BR || in.id == ARM64_INS_BLR ? 0 : last_imm(&in);
      fx->e[fx->n++] = (typeof(fx->e[0])){in.nops ? gpr(in.op[0].reg) : -1, 0, to, in.id, in.cc, off};
    } else if ((in.id == ARM64_INS_LDR || in.id == ARM64_INS_LDRSW) && in.nops == 2 &&
               in.op[1].type == ARM64_OP_MEM && in.op[1].mem.disp == 0 && in.op[1].mem.index == 0) {
      int base = gpr(in.op[1].mem.base);
      if (base >= 0 && base < 32) {
        fx->loads_from[base]++;
        fx->load_dest[base] = in.op[0].reg;
      }
    }
  }
}

/* Does the stretch go to `to` (a call when call is set)? */
static bool reaches(const effects_t *fx, uint64_t to, bool call) {
  for (int k = 0; k < fx->n; k++) {
    unsigned id = fx->e[k].id;
    int cc = fx->e[k].cc;
    bool always = cc == ARM64_CC_INVALID || cc == ARM64_CC_AL || cc == ARM64_CC_NV;
    if ((id == ARM64_INS_B && always && !call) || (id == ARM64_INS_BL && call))
      if (fx->e[k].value == to) return true;
    /* X17 from a literal, then BR/BLR X17 */
    if ((id == ARM64_INS_BR && !call) || (id == ARM64_INS_BLR && call))
      for (int j = 0; j < k; j++)
        if (fx->e[j].id == ARM64_INS_LDR && fx->e[j].reg == 17 && fx->e[j].value == to && fx->e[k].reg == 17)
          return true;
  }
  return false;
}

static bool loads_literal(const effects_t *fx, int reg, uint64_t value) {
  for (int k = 0; k < fx->n; k++)
    if (fx->e[k].id == ARM64_INS_LDR && fx->e[k].reg == reg && fx->e[k].value == value && fx->e[k].sreg != 0 &&
        gpr(fx->e[k].sreg) == reg && cs_reg_name(cs, fx->e[k].sreg)[0] == 'x')
      return true;
  return false;
}

static unsigned inverted(unsigned id) {
  switch (id) {
  case ARM64_INS_CBZ: return ARM64_INS_CBNZ;
  case ARM64_INS_CBNZ: return ARM64_INS_CBZ;
  case ARM64_INS_TBZ: return ARM64_INS_TBNZ;
  case ARM64_INS_TBNZ: return ARM64_INS_TBZ;
  default: return id;
  }
}
/* Capstone's condition codes pair up EQ/NE, HS/LO, ... from 1 */
static int inverted_cc(int cc) { return cc == ARM64_CC_INVALID ? cc : ((cc - 1) ^ 1) + 1; }

static void check_one(const hook_reloc_t *r, size_t i, uint64_t site_addr, uint64_t code_addr, bool *data) {
  const uint8_t *w = func + r->skip + r->old_off[i];
  uint64_t at = site_addr + r->old_off[i];
  size_t lo = r->new_off[i], hi = i + 1 < r->insn_count ? r->new_off[i + 1] : r->back_off;
  insn_t o = decode(w, at);
  bool pcrel = o.ok && (is_branch(o.id) || o.id == ARM64_INS_ADR || o.id == ARM64_INS_ADRP || is_literal_load(&o));
  if (!pcrel) {
    if (hi - lo != 4 || memcmp(r->code + lo, w, 4) != 0) FAIL("instruction %zu does not read the PC but was changed", i);
    return;
  }
  effects_t fx;
  read_stretch(r, lo, hi, code_addr, &fx, data);
  uint64_t to = last_imm(&o);
  int reg = gpr(o.op[0].reg);
  bool nop = hi - lo == 4 && memcmp(r->code + lo, "\x1f\x20\x03\xd5", 4) == 0;
  if (o.id == ARM64_INS_PRFM) {
    if (!nop) FAIL("instruction %zu: a literal PRFM is not a NOP", i);
  } else if (o.id == ARM64_INS_ADR || o.id == ARM64_INS_ADRP) {
    if (reg == 31 ? !nop : !loads_literal(&fx, reg, to))
      FAIL("instruction %zu: ADR/ADRP of %#llx into x%d not loaded so", i, (unsigned long long)to, reg);
  } else if (is_literal_load(&o)) {
    if (reg == 31) {
      if (!nop) FAIL("instruction %zu: a load into the zero register is not a NOP", i);
      return;
    }
    /* the address into a register, then the load of the same width into
     * the same destination */
    int via = reg >= 0 ? reg : 17;
    if (!loads_literal(&fx, via, to) || fx.loads_from[via] == 0 || fx.load_dest[via] != o.op[0].reg)
      FAIL("instruction %zu: the literal load from %#llx is not loaded from there", i, (unsigned long long)to);
  } else {
    bool inside = to >= site_addr && to < site_addr + r->stolen;
    uint64_t want = to;
    if (inside) {
      long copy = hook_reloc_map(r, (size_t)(to - site_addr));
      if (copy < 0) FAIL("instruction %zu branches inside to no instruction's copy", i);
      want = code_addr + (uint64_t)copy;
    }
    bool call = o.id == ARM64_INS_BL;
    bool cond = (o.id == ARM64_INS_B && o.cc != ARM64_CC_INVALID && o.cc != ARM64_CC_AL && o.cc != ARM64_CC_NV) ||
                o.id == ARM64_INS_CBZ || o.id == ARM64_INS_CBNZ || o.id == ARM64_INS_TBZ || o.id == ARM64_INS_TBNZ;
    if (!cond) {
      if (!reaches(&fx, want, call)) FAIL("instruction %zu: the copy does not go to %#llx", i, (unsigned long long)want);
      return;
    }
    /* the same condition to the place, or the opposite one over a way there */
    const insn_t first = decode(r->code + lo, code_addr + lo);
    bool same_regs = o.nops == first.nops;
    for (int k = 0; same_regs && k + 1 < o.nops; k++)
      same_regs = o.op[k].type == first.op[k].type &&
                  (o.op[k].type == ARM64_OP_REG ? o.op[k].reg == first.op[k].reg : o.op[k].imm == first.op[k].imm);
    if (!same_regs) FAIL("instruction %zu: its copy tests something else", i);
    if (first.id == o.id && first.cc == o.cc) {
      if (last_imm(&first) != want) FAIL("instruction %zu: the condition goes elsewhere", i);
    } else if (first.id == inverted(o.id) && first.cc == inverted_cc(o.cc)) {
      uint64_t over = last_imm(&first) - code_addr;
      if (over != hi) FAIL("instruction %zu: the inverted condition does not skip the way (to %llu, end %zu)", i,
                           (unsigned long long)over, hi);
      effects_t rest;
      read_stretch(r, lo + 4, hi, code_addr, &rest, data);
      if (!reaches(&rest, want, false)) FAIL("instruction %zu: past the inverted condition, no way to %#llx", i,
                                             (unsigned long long)want);
    } else {
      FAIL("instruction %zu: its copy's condition is neither kept nor inverted", i);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &cs) != CS_ERR_OK) FAIL("no capstone");
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    ready = true;
  }
  if (size < 5) return 0;
  /* first 4 bytes: where the trampoline goes, in words from the function
   * (its low bit: the near or the far patch) */
  int32_t delta;
  memcpy(&delta, data, 4);
  data += 4;
  size -= 4;
  size_t func_len = (size < sizeof func ? size : sizeof func) & ~(size_t)3;
  if (func_len == 0) return 0;
  memset(func, 0, sizeof func);
  memcpy(func, data, func_len);
  size_t patch_len = (delta & 1) ? HOOK_PATCH_FAR_LEN : HOOK_PATCH_LEN;
  /* the relocator takes the site's address from where it reads it: the
   * copy goes up to 8 GiB from the buffer */
  uint64_t site_addr = (uint64_t)(uintptr_t)func;
  uint64_t code_addr = site_addr + (uint64_t)((int64_t)(delta & ~3) * 4);
  hook_reloc_t r;
  if (hook_relocate(func, func_len, (uintptr_t)code_addr, patch_len, &r) != RH_OK) return 0;
  if (r.stolen < patch_len || r.skip + r.stolen > func_len) FAIL("covers %zu bytes of %zu", r.stolen, func_len);
  if (r.code_len > HOOK_CODE_MAX || r.back_off > r.code_len || (r.code_len & 3) != 0)
    FAIL("a copy of %zu bytes, jump back at %zu", r.code_len, r.back_off);
  if (r.insn_count * 4 != r.stolen) FAIL("%zu instructions in %zu bytes", r.insn_count, r.stolen);
  bool literal[HOOK_CODE_MAX / 4] = {false};
  uint64_t site = site_addr + r.skip;
  /* a covered word Capstone 4 does not know (newer instructions, such as
   * BC.cond, or none at all) leaves no second opinion: skipped */
  for (size_t i = 0; i < r.insn_count; i++)
    if (!decode(func + r.skip + r.old_off[i], site + r.old_off[i]).ok) return 0;
  for (size_t i = 0; i < r.insn_count; i++) {
    if (r.old_off[i] != 4 * i) FAIL("instruction %zu at %u", i, r.old_off[i]);
    check_one(&r, i, site, code_addr, literal);
  }
  effects_t back;
  read_stretch(&r, r.back_off, r.code_len, code_addr, &back, literal);
  if (!reaches(&back, site + r.stolen, false)) FAIL("the copy does not go back to the rest of the function");
  return 0;
}
