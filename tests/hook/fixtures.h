/* The C side of the assembly fixtures (fixtures_x86_64.S, fixtures_i386.S):
 * each takes an integer the width of a register and returns one. The
 * x86-64 ones follow the SysV convention (argument in rdi), which a
 * Windows build must name, and Windows' long has 32 bits. */
#ifndef RH_TEST_FIXTURES_H
#define RH_TEST_FIXTURES_H

#if defined(_WIN32) && defined(__x86_64__)
typedef long long fx_t;
#define FX_ABI __attribute__((sysv_abi))
#else
typedef long fx_t;
#define FX_ABI
#endif
typedef FX_ABI fx_t (*fn_t)(fx_t);

#endif
