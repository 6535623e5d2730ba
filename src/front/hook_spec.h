/* Hook specs and profiles: which of a program's own functions reheap
 * stands in for, as what, with which arguments and calling convention
 * (the grammar is docs/hook-spec.md). Parsed into fixed storage, with no
 * allocation, so that the preload library can read a profile before it
 * has a heap to use; the command line checks a profile with the same code
 * before the program starts. */
#ifndef REHEAP_FRONT_HOOK_SPEC_H
#define REHEAP_FRONT_HOOK_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPEC_NAME_MAX 256   /* a module or symbol name, with its NUL */
#define SPEC_ARGS_MAX 8     /* argument positions a role may place */
#define SPEC_EXPECT_MAX 32  /* bytes expect= may check */
#define SPEC_PROFILE_MAX 256 /* specs in one profile */
#define SPEC_SIG_MAX 64     /* bytes of a sig: pattern */

typedef enum {
  SPEC_ROLE_MALLOC,
  SPEC_ROLE_CALLOC,
  SPEC_ROLE_REALLOC,
  SPEC_ROLE_FREE,
  SPEC_ROLE_USABLE_SIZE,
  SPEC_ROLE_MEMALIGN,
  /* a scratch heap of stack discipline (a game's per-thread scrap heap),
   * a method of its object, the heap: the object's storage becomes
   * reheap's record of it (takeover_scrap.c) */
  SPEC_ROLE_SCRAP_INIT,
  SPEC_ROLE_SCRAP_ALLOC,
  SPEC_ROLE_SCRAP_FREE,
  SPEC_ROLE_SCRAP_PURGE,
} spec_role_t;

typedef enum {
  SPEC_TARGET_SYMBOL,        /* name, in the program's global scope */
  SPEC_TARGET_MODULE_SYMBOL, /* module!name */
  SPEC_TARGET_ADDRESS,       /* 0xADDRESS */
  SPEC_TARGET_MODULE_OFFSET, /* module+0xOFFSET */
  SPEC_TARGET_SIGNATURE,     /* sig:module:55 8B EC ?? ..., the one place in module's code with those bytes */
} spec_target_kind_t;

typedef enum {
  SPEC_CONV_DEFAULT, /* the platform's C convention */
  SPEC_CONV_CDECL,
  SPEC_CONV_STDCALL,
  SPEC_CONV_FASTCALL,
  SPEC_CONV_THISCALL,
} spec_conv_t;

typedef enum {
  SPEC_ARG_IGNORED, /* _ */
  SPEC_ARG_SIZE,
  SPEC_ARG_COUNT,
  SPEC_ARG_PTR,
  SPEC_ARG_ALIGN,
  SPEC_ARG_HEAP, /* a scrap heap's object */
} spec_arg_t;

/* What a profile is read for: the 32-bit x86 conventions belong to
 * SPEC_ARCH_X86 alone, size32 to the 64-bit architectures. */
typedef enum { SPEC_ARCH_X86_64, SPEC_ARCH_X86, SPEC_ARCH_AARCH64 } spec_arch_t;
#if defined(__aarch64__)
#define SPEC_ARCH_NATIVE SPEC_ARCH_AARCH64
#elif defined(__i386__)
#define SPEC_ARCH_NATIVE SPEC_ARCH_X86
#else
#define SPEC_ARCH_NATIVE SPEC_ARCH_X86_64
#endif

typedef struct spec {
  spec_target_kind_t kind;
  char module[SPEC_NAME_MAX]; /* "" unless module!symbol or module+offset */
  char symbol[SPEC_NAME_MAX]; /* "" for an address or an offset */
  uint64_t address;           /* the address, or the offset into module */
  bool slot;                  /* *TARGET: a function pointer stored there, not code */
  spec_role_t role;
  uint8_t nargs;
  spec_arg_t args[SPEC_ARGS_MAX]; /* by position, first argument first */
  bool size32;                    /* the size was written size32: its low 32 bits count */
  spec_conv_t conv;
  uint8_t nexpect;
  uint8_t expect[SPEC_EXPECT_MAX];
  uint8_t expect_any[SPEC_EXPECT_MAX]; /* 1: the byte was ??, anything goes */
  uint8_t nsig;                        /* a signature's bytes, ?? as in expect= */
  uint8_t sig[SPEC_SIG_MAX];
  uint8_t sig_any[SPEC_SIG_MAX];
  unsigned line;                       /* in its profile */
} spec_t;

typedef struct spec_profile {
  size_t n;
  spec_t specs[SPEC_PROFILE_MAX];
} spec_profile_t;

/* Where and what: "FILE:LINE:COL: message". */
typedef struct spec_error {
  unsigned line, col; /* 1-based; col 0 when the error is the line's */
  char message[320];
} spec_error_t;

/* Parses one line (no newline in it). *is_spec is false for a blank or
 * comment line. False on an error, described in *err. */
bool spec_parse_line(const char *text, size_t len, unsigned line, spec_arch_t arch, spec_t *out,
                     bool *is_spec, spec_error_t *err);

/* Parses a whole profile; on the first error, false with *err, and the
 * profile refused whole (out->n is then 0). */
bool spec_parse_profile(const char *text, size_t len, spec_arch_t arch, spec_profile_t *out,
                        spec_error_t *err);

const char *spec_role_name(spec_role_t role);
const char *spec_conv_name(spec_conv_t conv);

#endif
