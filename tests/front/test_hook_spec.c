/* The hook-spec parser: every target form, role, argument placement,
 * convention and expect= form it must take, and for each kind of mistake
 * the line, column and message it must give, with the profile refused
 * whole. Run under ASan and UBSan. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "front/hook_spec.h"

static spec_profile_t profile;

static const spec_t *one(const char *line, spec_arch_t arch) {
  static spec_t spec;
  spec_error_t err;
  bool is_spec = false;
  CHECKF(spec_parse_line(line, strlen(line), 1, arch, &spec, &is_spec, &err), "'%s': %u:%u: %s", line,
         err.line, err.col, err.message);
  CHECKF(is_spec, "'%s' read as blank", line);
  return &spec;
}

/* The line must be refused at col with a message containing want. */
static void refused(const char *line, spec_arch_t arch, unsigned col, const char *want) {
  spec_t spec;
  spec_error_t err;
  bool is_spec;
  CHECKF(!spec_parse_line(line, strlen(line), 7, arch, &spec, &is_spec, &err), "'%s' was taken", line);
  CHECKF(err.line == 7 && err.col == col, "'%s': error at %u:%u, not 7:%u (%s)", line, err.line, err.col, col,
         err.message);
  CHECKF(strstr(err.message, want) != NULL, "'%s': message '%s' lacks '%s'", line, err.message, want);
}

int main(void) {
  /* the four target forms */
  const spec_t *s = one("PyObject_Malloc   malloc(size)", SPEC_ARCH_X86_64);
  CHECK(s->kind == SPEC_TARGET_SYMBOL && strcmp(s->symbol, "PyObject_Malloc") == 0);
  CHECK(s->role == SPEC_ROLE_MALLOC && s->nargs == 1 && s->args[0] == SPEC_ARG_SIZE);
  CHECK(s->conv == SPEC_CONV_DEFAULT && s->nexpect == 0);
  /* signatures: spaced bytes, run-together bytes, ?? anywhere but first */
  s = one("sig:FalloutNV.exe:55 8B EC 83 E4 ?? 51  malloc(_,size) thiscall", SPEC_ARCH_X86);
  CHECK(s->kind == SPEC_TARGET_SIGNATURE && strcmp(s->module, "FalloutNV.exe") == 0 && s->nsig == 7);
  CHECK(s->sig[0] == 0x55 && s->sig[4] == 0xE4 && s->sig_any[5] && !s->sig_any[6] && s->sig[6] == 0x51);
  CHECK(s->role == SPEC_ROLE_MALLOC && s->conv == SPEC_CONV_THISCALL);
  s = one("sig:game:4156??41 5541 free(ptr) expect=41 56", SPEC_ARCH_X86_64);
  CHECK(s->kind == SPEC_TARGET_SIGNATURE && s->nsig == 6 && s->sig_any[2] && s->sig[5] == 0x41 && s->nexpect == 2);
  s = one("libtcl8.6.so!TclpRealloc realloc(ptr,size32)", SPEC_ARCH_X86_64);
  CHECK(s->size32 && s->args[1] == SPEC_ARG_SIZE && s->nargs == 2);
  CHECK(!one("f malloc(size)", SPEC_ARCH_X86_64)->size32);
  refused("f malloc(size32)", SPEC_ARCH_X86, 10, "size32 is for 64-bit programs");
  refused("f malloc(size64)", SPEC_ARCH_X86_64, 10, "'size64' is not an argument");
  refused("sig:55 8B EC 83 malloc(size)", SPEC_ARCH_X86_64, 5, "a module expected after sig:");
  refused("sig:game: malloc(size)", SPEC_ARCH_X86_64, 11, "sig: needs the function's bytes");
  refused("sig:game:55 8B malloc(size)", SPEC_ARCH_X86_64, 10, "at least 4 fixed bytes");
  refused("sig:game:?? 55 8B EC 83 malloc(size)", SPEC_ARCH_X86_64, 10, "at least 4 fixed bytes");
  refused("*sig:game:55 8B EC 83 malloc(size)", SPEC_ARCH_X86_64, 1, "leave out the '*'");
  refused("sig:game:55 8B EC 83 E", SPEC_ARCH_X86_64, 22, "is not a role");
  s = one("libfoo.so!pool_free free(ptr)", SPEC_ARCH_X86_64);
  CHECK(s->kind == SPEC_TARGET_MODULE_SYMBOL && strcmp(s->module, "libfoo.so") == 0 &&
        strcmp(s->symbol, "pool_free") == 0);
  s = one("0x00AA3E40 malloc(_,size) thiscall expect=55 8B EC", SPEC_ARCH_X86);
  CHECK(s->kind == SPEC_TARGET_ADDRESS && s->address == 0xAA3E40);
  CHECK(s->nargs == 2 && s->args[0] == SPEC_ARG_IGNORED && s->args[1] == SPEC_ARG_SIZE);
  CHECK(s->conv == SPEC_CONV_THISCALL);
  CHECK(s->nexpect == 3 && s->expect[0] == 0x55 && s->expect[1] == 0x8B && s->expect[2] == 0xEC);
  s = one("libstdc++.so.6+0x1f0 usable_size(ptr)", SPEC_ARCH_X86_64);
  CHECK(s->kind == SPEC_TARGET_MODULE_OFFSET && strcmp(s->module, "libstdc++.so.6") == 0 && s->address == 0x1f0);
  s = one("game.exe+4096 free(_, ptr) stdcall", SPEC_ARCH_X86);
  CHECK(s->kind == SPEC_TARGET_MODULE_OFFSET && s->address == 4096 && s->conv == SPEC_CONV_STDCALL);
  /* every role, arguments anywhere, spaces, comments, wildcard bytes */
  s = one("  calloc_fn  calloc( size , count )   # comment", SPEC_ARCH_X86_64);
  CHECK(s->role == SPEC_ROLE_CALLOC && s->args[0] == SPEC_ARG_SIZE && s->args[1] == SPEC_ARG_COUNT);
  /* a function pointer's place: *TARGET */
  s = one("*libgame.so+0x4f48 free(_,ptr)", SPEC_ARCH_X86_64);
  CHECK(s->slot && s->kind == SPEC_TARGET_MODULE_OFFSET && s->address == 0x4f48 && s->role == SPEC_ROLE_FREE);
  s = one("pool_free free(ptr)", SPEC_ARCH_X86_64);
  CHECK(!s->slot);
  /* a zeroing allocator of one size: calloc with no count */
  s = one("zalloc calloc(_,size)", SPEC_ARCH_X86_64);
  CHECK(s->role == SPEC_ROLE_CALLOC && s->nargs == 2 && s->args[1] == SPEC_ARG_SIZE);
  s = one("re realloc(_,ptr,_,size) expect=48 89 ?? 24 fastcall", SPEC_ARCH_X86);
  CHECK(s->role == SPEC_ROLE_REALLOC && s->nargs == 4 && s->conv == SPEC_CONV_FASTCALL);
  CHECK(s->nexpect == 4 && s->expect_any[2] && !s->expect_any[3] && s->expect[3] == 0x24);
  s = one("al memalign(align,size) cdecl", SPEC_ARCH_X86_64);
  CHECK(s->role == SPEC_ROLE_MEMALIGN && s->conv == SPEC_CONV_DEFAULT);
  s = one("_ZN4Heap5allocEm malloc(_,size)", SPEC_ARCH_X86_64);
  CHECK(strcmp(s->symbol, "_ZN4Heap5allocEm") == 0);
  s = one("?Alloc@Heap@@QAEPAXI@Z malloc(_,size) thiscall", SPEC_ARCH_X86);
  CHECK(strcmp(s->symbol, "?Alloc@Heap@@QAEPAXI@Z") == 0);

  /* blank and comment lines are no specs */
  spec_t blank;
  spec_error_t err;
  bool is_spec = true;
  CHECK(spec_parse_line("   # nothing", 12, 1, SPEC_ARCH_X86_64, &blank, &is_spec, &err) && !is_spec);

  /* mistakes: where, and what to write instead */
  refused("PyObject_Malloc maloc(size)", SPEC_ARCH_X86_64, 17, "'maloc' is not a role");
  refused("f malloc(ptr)", SPEC_ARCH_X86_64, 10, "malloc takes no 'ptr'");
  refused("f malloc(_)", SPEC_ARCH_X86_64, 9, "write malloc(size)");
  refused("f realloc(ptr,ptr,size)", SPEC_ARCH_X86_64, 15, "'ptr' is placed twice");
  refused("f free(pointer)", SPEC_ARCH_X86_64, 8, "'pointer' is not an argument");
  refused("f free(ptr", SPEC_ARCH_X86_64, 7, "not closed");
  refused("f free()", SPEC_ARCH_X86_64, 8, "no arguments");
  refused("* free(ptr)", SPEC_ARCH_X86_64, 2, "a target expected after '*'");
  refused("f free(ptr) thiscall", SPEC_ARCH_X86_64, 13, "32-bit x86 convention");
  /* aarch64: one convention, and 64-bit registers */
  refused("f free(ptr) stdcall", SPEC_ARCH_AARCH64, 13, "on aarch64 there is one");
  CHECK(one("f realloc(ptr,size32)", SPEC_ARCH_AARCH64)->size32);
  CHECK(one("f malloc(size) cdecl", SPEC_ARCH_AARCH64)->conv == SPEC_CONV_DEFAULT);
  refused("f free(ptr) pascal", SPEC_ARCH_X86, 13, "'pascal' is neither");
  refused("f free(ptr) cdecl stdcall", SPEC_ARCH_X86, 19, "a second calling convention");
  refused("f free(ptr) expect=5G", SPEC_ARCH_X86, 20, "expect= needs");
  refused("f free(ptr) expect=55 expect=66", SPEC_ARCH_X86, 23, "given twice");
  refused("0x12zz free(ptr)", SPEC_ARCH_X86, 1, "not an address");
  refused("!f free(ptr)", SPEC_ARCH_X86, 1, "no module before '!'");
  refused("lib.so!9f free(ptr)", SPEC_ARCH_X86, 8, "not a symbol name");
  refused("lib.so+0xZZ free(ptr)", SPEC_ARCH_X86, 8, "not an offset");
  refused("pool-free free(ptr)", SPEC_ARCH_X86, 1, "not a target");
  refused("f", SPEC_ARCH_X86, 2, "a role expected");
  refused("f free", SPEC_ARCH_X86, 7, "'(' expected");
  refused("f free(ptr)x", SPEC_ARCH_X86, 12, "a space expected");
  /* a scrap heap's roles: the heap always, a size or an alignment where
   * the role takes one, nothing else */
  refused("f scrap_alloc(size)", SPEC_ARCH_X86, 14, "scrap_alloc needs each of its arguments");
  refused("f scrap_free(heap,size)", SPEC_ARCH_X86, 19, "scrap_free takes no 'size'");
  refused("f scrap_purge(heap,heap)", SPEC_ARCH_X86, 20, "'heap' is placed twice");
  refused("f malloc(heap,size)", SPEC_ARCH_X86, 10, "malloc takes no 'heap'");
  spec_t sc;
  CHECK(spec_parse_line("S_Init scrap_init(heap,size) thiscall", 37, 1, SPEC_ARCH_X86, &sc, &is_spec, &err) &&
        is_spec && sc.role == SPEC_ROLE_SCRAP_INIT && sc.args[0] == SPEC_ARG_HEAP && sc.args[1] == SPEC_ARG_SIZE);
  CHECK(spec_parse_line("S_Alloc scrap_alloc(heap,_,size)", 32, 1, SPEC_ARCH_X86, &sc, &is_spec, &err) &&
        sc.role == SPEC_ROLE_SCRAP_ALLOC && sc.nargs == 3 && sc.args[2] == SPEC_ARG_SIZE);

  /* a profile: specs in order with their lines; any error refuses it whole */
  const char good[] = "# CPython\n\nPyObject_Malloc malloc(size)\r\nPyObject_Free free(ptr)\n";
  CHECK(spec_parse_profile(good, sizeof good - 1, SPEC_ARCH_X86_64, &profile, &err));
  CHECK(profile.n == 2 && profile.specs[0].line == 3 && profile.specs[1].line == 4);
  CHECK(profile.specs[1].role == SPEC_ROLE_FREE);
  const char bad[] = "a malloc(size)\nb free(ptr)\nc calloc(count)\n";
  CHECK(!spec_parse_profile(bad, sizeof bad - 1, SPEC_ARCH_X86_64, &profile, &err));
  CHECKF(profile.n == 0 && err.line == 3 && err.col == 9 && strstr(err.message, "calloc(count,size)"),
         "%u:%u %s", err.line, err.col, err.message);
  const char twice[] = "a malloc(size)\nlib.so!b free(ptr)\nlib.so!b free(ptr)\n";
  CHECK(!spec_parse_profile(twice, sizeof twice - 1, SPEC_ARCH_X86_64, &profile, &err));
  CHECKF(err.line == 3 && strstr(err.message, "hooked already, at line 2"), "%u %s", err.line, err.message);

  /* the profiles shipped in profiles/ parse */
  FILE *f = fopen(RH_SOURCE_DIR "/profiles/python3.11", "r");
  CHECK(f != NULL);
  static char text[1 << 16];
  size_t n = fread(text, 1, sizeof text, f);
  fclose(f);
  CHECKF(spec_parse_profile(text, n, SPEC_ARCH_X86_64, &profile, &err), "python3.11:%u:%u: %s", err.line,
         err.col, err.message);
  CHECK(profile.n == 4 && strcmp(profile.specs[0].symbol, "PyObject_Malloc") == 0 &&
        profile.specs[3].role == SPEC_ROLE_FREE);
  /* the game's: 32-bit only, every target an address with its entry
   * bytes; GameHeap's five are member functions */
  f = fopen(RH_SOURCE_DIR "/profiles/falloutnv-1.4.0.525", "r");
  CHECK(f != NULL);
  n = fread(text, 1, sizeof text, f);
  fclose(f);
  CHECK(!spec_parse_profile(text, n, SPEC_ARCH_X86_64, &profile, &err) && strstr(err.message, "32-bit"));
  CHECKF(spec_parse_profile(text, n, SPEC_ARCH_X86, &profile, &err), "falloutnv:%u:%u: %s", err.line, err.col,
         err.message);
  CHECK(profile.n == 18);
  for (size_t i = 0; i < profile.n; i++) {
    const spec_t *sp = &profile.specs[i];
    CHECK(sp->kind == SPEC_TARGET_ADDRESS && sp->nexpect >= 5);
    CHECKF(i < 5 || i >= 13 ? sp->conv == SPEC_CONV_THISCALL : sp->conv != SPEC_CONV_THISCALL && sp->conv != SPEC_CONV_STDCALL && sp->conv != SPEC_CONV_FASTCALL, "spec %zu: %s", i, spec_conv_name(sp->conv)); /* cdecl, the default */
  }
  CHECK(profile.specs[0].address == 0x00AA3E40 && profile.specs[0].role == SPEC_ROLE_MALLOC &&
        profile.specs[0].expect[5] == 0x3C);
  CHECK(profile.specs[12].address == 0x00ECD291 && profile.specs[12].role == SPEC_ROLE_FREE);
  /* the scrap heap's five, the object first (ECX) */
  CHECK(profile.specs[13].role == SPEC_ROLE_SCRAP_INIT && profile.specs[13].nargs == 1 &&
        profile.specs[14].role == SPEC_ROLE_SCRAP_INIT && profile.specs[14].args[1] == SPEC_ARG_SIZE &&
        profile.specs[15].role == SPEC_ROLE_SCRAP_ALLOC && profile.specs[15].args[0] == SPEC_ARG_HEAP &&
        profile.specs[15].args[2] == SPEC_ARG_ALIGN && profile.specs[16].role == SPEC_ROLE_SCRAP_FREE &&
        profile.specs[17].role == SPEC_ROLE_SCRAP_PURGE && profile.specs[17].address == 0x00AA5460);
  printf("hook specs: every form parsed, every mistake placed\n");
  return 0;
}
