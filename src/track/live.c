/* Where the report finds the live blocks: the tracker's own table, or,
 * when the heap keeps a record of every block itself (reheap's recording
 * build), the heap's records through the source the library in front
 * sets. */
#include "track/track_internal.h"

void (*track_live_source)(void (*fn)(const track_record_t *r, void *arg), void *arg);

void track_live_each(void (*fn)(const track_record_t *r, void *arg), void *arg) {
  if (track_live_source != NULL) track_live_source(fn, arg);
  else track_table_each(fn, arg);
}

static void count_one(const track_record_t *r, void *arg) {
  (void)r;
  ++*(size_t *)arg;
}

size_t track_live_count(void) {
  if (track_live_source == NULL) return track_table_count();
  size_t n = 0;
  track_live_source(count_one, &n);
  return n;
}
