/* Which of the blocks live at exit are leaks: a conservative mark phase in
 * the manner of LeakSanitizer. A block is reachable when a word of a root
 * (a loaded module's data and bss, a thread's stack and thread-local
 * storage, the system-call arguments of a blocked thread) or of another
 * reachable block points at or into it; every other live block is lost.
 *
 * Threads that are running when the scan looks at them cannot be read
 * safely (their stack pointer is unknown); they are counted, and blocks
 * only they refer to come out as lost. Memory is read through the OS
 * (os_read_own), never dereferenced, so memory another thread unmaps
 * during a report of a running program costs precision, not a crash. */
#ifndef REHEAP_TRACK_REACH_H
#define REHEAP_TRACK_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "track/track_internal.h"

typedef struct track_block {
  uintptr_t addr;
  size_t size;
  uint32_t stack_id;
  uint32_t reachable; /* 1: a root or a reachable block refers to it */
} track_block_t;

typedef struct track_reach {
  track_block_t *blocks; /* every live block, by address */
  size_t n;
  size_t threads_not_scanned;
  void *map; /* where blocks and the scan's state live */
  size_t map_bytes;
} track_reach_t;

/* False when REHEAP_TRACK_REACHABLE=0 asks for every live block to count
 * as leaked, as before the scan existed. */
TRACK_HIDDEN bool track_reach_enabled(void);
/* Where only some blocks are tracked (GOT hooks, attach): the memory of
 * the blocks not tracked may hold the only pointer to a tracked one, and
 * it cannot be told from the heap's other memory, so all of the private
 * anonymous memory but the tracked blocks is a root. */
TRACK_HIDDEN extern bool track_reach_untracked_roots;
/* Copies the live blocks and marks the reachable ones. False when the OS
 * refused memory or the process's maps or threads cannot be read: then r
 * holds nothing and no block is classified. */
TRACK_HIDDEN bool track_reach_classify(track_reach_t *r);
TRACK_HIDDEN void track_reach_release(track_reach_t *r);

#endif
