/* The answers of include/reheap/reheap.h, from the heap's counters and
 * the takeover's. */
#include "front/takeover.h"
#include "reheap/alloc.h"
#include "reheap/reheap.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT bool rh_is_active(void) { return true; }
EXPORT bool rh_is_patched(void) { return takeover_count() > 0; }
EXPORT size_t rh_patched_count(void) { return takeover_count(); }
EXPORT const char *rh_patched_name(size_t i) { return takeover_name(i); }

EXPORT uint64_t rh_allocations(void) {
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  return st.allocations;
}

EXPORT uint64_t rh_frees(void) {
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  return st.frees;
}
