/* The test's legacy allocator (legacy_heap.c). */
#ifndef LEGACY_HEAP_H
#define LEGACY_HEAP_H
#include <stddef.h>

#define LH_EARLY 10

typedef struct lh_heap {
  unsigned long calls;
} lh_heap_t;

void *lh_alloc(size_t size);
void lh_free(void *p);
size_t lh_size(void *p);
void *lh_realloc(void *p, size_t size);
void *lh_heap_alloc(lh_heap_t *heap, size_t size);
void lh_heap_free(lh_heap_t *heap, void *p);
int lh_owns(const void *p);
extern unsigned long lh_own_allocs, lh_own_frees;
extern void *lh_early[LH_EARLY];
extern unsigned char lh_entry_bytes[16];
/* the allocator's table, as engines keep one: a takeover may switch its
 * pointers (a *TARGET spec) instead of patching code */
extern void *(*lh_alloc_ptr)(size_t size);
extern void (*lh_free_ptr)(void *p);
/* freed by the library's destructor, at exit, if not NULL */
extern void *lh_exit_block;
#endif
