/* What the heap offers its front ends (the preload library) beyond the
 * public API: calls that skip a check the front has already made or that
 * must tolerate pointers the heap does not own. */
#ifndef REHEAP_ALLOC_FRONT_H
#define REHEAP_ALLOC_FRONT_H

#include <stdbool.h>

/* Frees p if it is reheap's and returns true; returns true for NULL; leaves
 * any other pointer alone and returns false. */
__attribute__((visibility("hidden"))) bool heap_free_if_owned(void *p);

#endif
