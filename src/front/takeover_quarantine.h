/* The takeover's quarantine of freed blocks (takeover_quarantine.c). */
#ifndef REHEAP_FRONT_TAKEOVER_QUARANTINE_H
#define REHEAP_FRONT_TAKEOVER_QUARANTINE_H

#include <stddef.h>

#define QHIDDEN __attribute__((visibility("hidden")))
/* Holds freed blocks back until about bytes of later frees pushed them
 * out; 0 (the default) frees at once, and lets go of those held. */
QHIDDEN void quarantine_set(size_t bytes);
QHIDDEN size_t quarantine_budget(void);
/* Blocks held now. */
QHIDDEN size_t quarantine_held(void);
/* p, one of the takeover's blocks, freed by the program: held, and
 * perhaps older ones freed to make room. */
QHIDDEN void quarantine_put(void *p);
/* Frees every block held. */
QHIDDEN void quarantine_flush(void);
#undef QHIDDEN

#endif
