/* A seat: one spec of the installed profile, as installing it sets it
 * up (takeover_install.c) and every call of its entry reads it
 * (takeover.c). */
#ifndef REHEAP_FRONT_TAKEOVER_SEAT_H
#define REHEAP_FRONT_TAKEOVER_SEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "front/hook_spec.h"
#include "reheap/hook.h"

/* what each call reads comes first, in the seat's first cache line */
typedef struct takeover_seat {
  spec_role_t role;
  int8_t at[6];         /* position of each spec_arg_t (size, count, ptr, align, heap), or -1 */
  spec_conv_t conv;
  int nargs;
  uintptr_t size_mask; /* all ones, or the low 32 bits for a size32 */
  void *original; /* the function as it was, through its trampoline, or
                   * the pointer a slot held */
  void *target;   /* the function's code, or the slot (*TARGET) */
  void *entry;    /* the detour that stands in for it */
  rh_hook_t *hook; /* NULL for a slot */
  bool slot;
  /* for a realloc: the usable_size and free of the same allocator, which
   * size a foreign block and give it back when it moves into reheap's heap */
  struct takeover_seat *size_pair, *free_pair;
  uint8_t before[16]; /* the target's first bytes before it was patched */
  size_t nbefore;
  char name[2 * SPEC_NAME_MAX + 8]; /* the target as its spec gave it */
} takeover_seat_t;

__attribute__((visibility("hidden"))) extern takeover_seat_t takeover_seats[SPEC_PROFILE_MAX];

#endif
