/* The one word per thread that the heap reads on every call (its thread
 * heap): inline, because it is on the fast path of every malloc and free.
 * ELF has native TLS; mingw-w64's GCC only emulates it (a call, and a
 * malloc on a thread's first touch), so on Windows the word is a slot of
 * the thread's own TEB, read with one instruction. NULL until set. */
#ifndef REHEAP_OS_HEAP_WORD_H
#define REHEAP_OS_HEAP_WORD_H

#include <stdint.h>

#if defined(_WIN32)
/* TlsAlloc's index + 1 (0: not allocated yet, every read is NULL). The
 * TEB keeps the first 64 slots inline: at 0x1480 on x86-64 (8 bytes
 * each), 0xE10 on x86 (4 each); later indices live elsewhere and are read
 * through TlsGetValue. */
extern uint32_t os_heap_word_slot;
void *os_heap_word_get_slow(void);
void os_heap_word_set(void *v);

static inline void *os_heap_word_get(void) {
  uint32_t s = os_heap_word_slot;
  if (__builtin_expect(s == 0 || s > 64, 0)) return os_heap_word_get_slow();
  void *v;
  /* volatile: a plain asm counts as pure, and GCC hoisted it above the
   * test of the slot (a read through index -1) */
#if defined(__x86_64__)
  __asm__ volatile("movq %%gs:0x1480(,%q1,8), %0" : "=r"(v) : "r"((uintptr_t)(s - 1)));
#else
  __asm__ volatile("movl %%fs:0xE10(,%1,4), %0" : "=r"(v) : "r"((uintptr_t)(s - 1)));
#endif
  return v;
}
#else
extern __thread void *os_heap_word __attribute__((tls_model("initial-exec")));
static inline void *os_heap_word_get(void) { return os_heap_word; }
static inline void os_heap_word_set(void *v) { os_heap_word = v; }
#endif

#endif
