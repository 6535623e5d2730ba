/* A library test_symbols opens after its first lookup: its frames must
 * still get their names and lines (the maps are read again). */
#include <stdint.h>

__attribute__((noinline)) static uintptr_t return_address(void) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  __asm__ volatile("" ::: "memory");
  return pc;
}

__attribute__((noinline)) static uintptr_t inner(int *line) {
  uintptr_t pc = return_address(); *line = __LINE__;
  __asm__ volatile("" ::: "memory");
  return pc;
}

uintptr_t symlib_pc(int *line) { return inner(line); }
