/* Clears the stack below the caller and the scratch registers, so that no
 * copy of a lost block's address stays where a conservative leak scan
 * reads (the frames of malloc and memset that ran below keep what they
 * held; a report taken later from a deeper call would read them). As in
 * LeakSanitizer's tests. x86-64 and aarch64. */
#ifndef REHEAP_TESTS_SCRUB_H
#define REHEAP_TESTS_SCRUB_H

#include <string.h>

__attribute__((noinline, unused)) static void scrub(void) {
  volatile char stack[16384];
  memset((char *)stack, 0, sizeof stack);
#if defined(__x86_64__)
  __asm__ volatile("xor %%eax, %%eax; xor %%ecx, %%ecx; xor %%edx, %%edx; xor %%esi, %%esi; xor %%edi, %%edi;"
                   "xor %%r8d, %%r8d; xor %%r9d, %%r9d; xor %%r10d, %%r10d; xor %%r11d, %%r11d"
                   ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
#elif defined(__aarch64__)
  __asm__ volatile("mov x0, xzr; mov x1, xzr; mov x2, xzr; mov x3, xzr; mov x4, xzr; mov x5, xzr;"
                   "mov x6, xzr; mov x7, xzr; mov x8, xzr; mov x9, xzr; mov x10, xzr; mov x11, xzr"
                   ::: "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "memory");
#endif
}

#endif
