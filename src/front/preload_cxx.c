/* C++'s global operator new and delete, every form (plain, array, nothrow,
 * sized, aligned), defined under their Itanium-ABI names so that this stays
 * a C file and the library needs no C++ runtime of its own.
 *
 * A throwing new that cannot get memory calls the program's new_handler
 * until it gets memory or there is no handler, then throws std::bad_alloc:
 * both come from the program's libstdc++, referenced weakly because a C
 * program has none (and then never calls these). The nothrow forms return
 * NULL at once: calling a handler that may throw from a noexcept function
 * would end the program, which is worse than the NULL it asked for.
 *
 * They call the library's own malloc, aligned_alloc and free, so the same
 * file serves libreheap.so and the counting shim put in front of other
 * heaps. */
#include <stddef.h>
#include <stdlib.h>

#include "reheap/alloc.h"

#define EXPORT __attribute__((visibility("default")))

typedef void (*new_handler_fn)(void);
extern new_handler_fn _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

__attribute__((noinline, cold)) static void *new_failed(size_t size, size_t align) {
  for (;;) {
    new_handler_fn handler = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
    if (handler == NULL) break;
    handler();
    void *p = align <= RH_MIN_ALIGN ? malloc(size) : aligned_alloc(align, size);
    if (p != NULL) return p;
  }
  if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
  __builtin_trap();
}

static inline void *new_plain(size_t size) {
  void *p = malloc(size);
  return __builtin_expect(p != NULL, 1) ? p : new_failed(size, 0);
}

/* A bad alignment in new is the program's bug (the standard says it must be
 * a power of two); it fails like memory exhaustion. */
static inline void *new_aligned(size_t size, size_t align) {
  void *p = aligned_alloc(align, size);
  return __builtin_expect(p != NULL, 1) ? p : new_failed(size, align);
}

/* operator new(size_t), new[](size_t) */
EXPORT void *_Znwm(size_t size) { return new_plain(size); }
EXPORT void *_Znam(size_t size) { return new_plain(size); }
/* operator new(size_t, const std::nothrow_t&) and new[] */
EXPORT void *_ZnwmRKSt9nothrow_t(size_t size, const void *nt) {
  (void)nt;
  return malloc(size);
}
EXPORT void *_ZnamRKSt9nothrow_t(size_t size, const void *nt) {
  (void)nt;
  return malloc(size);
}
/* operator new(size_t, std::align_val_t) and new[] */
EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align) { return new_aligned(size, align); }
EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align) { return new_aligned(size, align); }
/* operator new(size_t, std::align_val_t, const std::nothrow_t&) and new[] */
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nt) {
  (void)nt;
  return aligned_alloc(align, size);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nt) {
  (void)nt;
  return aligned_alloc(align, size);
}

/* Every delete goes through free(), which also copes with foreign
 * pointers; the size and alignment arguments are hints reheap does not
 * need, since a block's page knows both. */

EXPORT void _ZdlPv(void *p) { free(p); }
EXPORT void _ZdaPv(void *p) { free(p); }
EXPORT void _ZdlPvm(void *p, size_t size) {
  (void)size;
  free(p);
}
EXPORT void _ZdaPvm(void *p, size_t size) {
  (void)size;
  free(p);
}
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) {
  (void)nt;
  free(p);
}
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) {
  (void)nt;
  free(p);
}
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t align) {
  (void)align;
  free(p);
}
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t align) {
  (void)align;
  free(p);
}
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align) {
  (void)size;
  (void)align;
  free(p);
}
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align) {
  (void)size;
  (void)align;
  free(p);
}
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nt) {
  (void)align;
  (void)nt;
  free(p);
}
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nt) {
  (void)align;
  (void)nt;
  free(p);
}
