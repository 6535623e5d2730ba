/* What a user checks first about a process under reheap, asked from inside
 * it: is reheap's heap serving it, has a profile taken over the program's
 * own allocator, which functions, how many blocks. These live in
 * libreheap.so: a program that may run without reheap looks them up with
 * dlsym(RTLD_DEFAULT, "rh_is_active"). On another heap under --track
 * (`reheap run --heap=system --track --profile FILE`), the tracker's
 * library answers rh_is_patched, rh_patched_count and rh_patched_name;
 * the others are not there, reheap's heap not being loaded. */
#ifndef REHEAP_REHEAP_H
#define REHEAP_REHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* reheap's heap serves this process (libreheap.so is loaded). */
bool rh_is_active(void);
/* A profile's hooks are in place. */
bool rh_is_patched(void);
/* How many of the program's own functions are patched. */
size_t rh_patched_count(void);
/* The name of patched function i (< rh_patched_count()), as its spec
 * gave it: "pool_alloc", "libgame.so!pool_free", "0xaa3e40". */
const char *rh_patched_name(size_t i);
/* Blocks reheap's heap has handed out and taken back, through every door
 * (malloc and friends, and the patched functions). */
uint64_t rh_allocations(void);
uint64_t rh_frees(void);

#ifdef __cplusplus
}
#endif

#endif
