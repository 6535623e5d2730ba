/* The libraries of the --only test, one source built three ways:
 * libonly_hot.so (ONLY_HOT: the program's hot allocator traffic, never
 * tracked under --only libonly_leak), libonly_leak.so and libonly_late.so
 * (loaded later by dlopen), which leak known blocks. */
#include <stdlib.h>
#include <string.h>

#include "scrub.h"

#define EXPORT __attribute__((visibility("default"), noinline))

#ifdef ONLY_HOT
/* n rounds of allocations and frees, of sizes from 16 to 1 KiB; the
 * blocks are freed in this library, so nothing is left */
EXPORT unsigned long only_hot_churn(unsigned long n) {
  void *keep[64] = {0};
  unsigned long sum = 0;
  for (unsigned long i = 0; i < n; i++) {
    size_t k = i & 63;
    free(keep[k]);
    keep[k] = malloc(16 + (i * 7919) % 1009);
    ((unsigned char *)keep[k])[0] = (unsigned char)i;
    sum += ((unsigned char *)keep[k])[0];
  }
  for (size_t k = 0; k < 64; k++) free(keep[k]);
  return sum;
}
/* a block the program keeps and gives a tracked library to free */
EXPORT void *only_hot_block(void) { return malloc(48); }
#else
static void *volatile kept[8]; /* (volatile: no compiler drops the store) */

/* LEAK_BYTES bytes in LEAK_BLOCKS blocks, lost; and as many blocks freed */
EXPORT void LEAK_FN(void) {
  for (int i = 0; i < LEAK_BLOCKS; i++) {
    char *p = malloc(LEAK_BYTES / LEAK_BLOCKS);
    memset(p, i, LEAK_BYTES / LEAK_BLOCKS);
    p = NULL; /* lost */
    void *volatile q = calloc(1, 100); /* (volatile: the pair is not compiled away) */
    free(q);
  }
  char *s = strdup("a string the library keeps");
  kept[0] = s; /* still reachable: no leak */
  scrub();
}
/* a block for the caller to keep */
EXPORT void *LEAK_MAKE_FN(void) { return malloc(200); }
/* frees a block some other library allocated (passed through, counted) */
EXPORT void LEAK_FREE_FN(void *p) { free(p); }
#endif
