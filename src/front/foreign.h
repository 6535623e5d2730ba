/* Pointers reheap's heap did not hand out, reaching the preloaded free,
 * realloc or malloc_usable_size: blocks the dynamic loader allocated before
 * reheap was in place, or blocks from another allocator. */
#ifndef REHEAP_FRONT_FOREIGN_H
#define REHEAP_FRONT_FOREIGN_H

#include <stddef.h>
#include <stdint.h>

__attribute__((visibility("hidden"))) void rh_foreign_free(void *p);
__attribute__((visibility("hidden"))) void *rh_foreign_realloc(void *p, size_t size);
__attribute__((visibility("hidden"))) size_t rh_foreign_usable_size(void *p);
/* How many foreign pointers were freed (and left alone). */
__attribute__((visibility("hidden"))) uint64_t rh_foreign_free_count(void);

#endif
