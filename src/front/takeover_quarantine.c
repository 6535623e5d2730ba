/* Quarantine: the takeover's freed blocks held back from reuse for a while.
 * Some programs read a block after they freed it (Fallout New Vegas's IO,
 * AI and Havok code is known to); their own heaps happened to leave the
 * bytes alone long enough, reheap's hands the block straight back out
 * (the last freed is the first reused) and writes its free-list link into
 * it. Held here, a freed block keeps its bytes untouched until about
 * `budget` bytes of later frees have pushed it out, oldest first.
 *
 * One ring under one lock: it costs only programs that turn it on, and
 * the order it keeps is the order of the frees across all threads. */
#include "front/takeover_quarantine.h"

#include <stdatomic.h>

#include "front/takeover_home.h"
#include "os/os.h"

#define RING 8192 /* blocks held at most, whatever their size */

static struct {
  void *p;
  size_t size;
} ring[RING];
static size_t head, count, held; /* oldest entry, entries, bytes */
static _Atomic size_t budget;
static os_lock_t lock = OS_LOCK_INIT;

void quarantine_set(size_t bytes) {
  atomic_store_explicit(&budget, bytes, memory_order_relaxed);
  if (bytes == 0) quarantine_flush();
}

size_t quarantine_budget(void) { return atomic_load_explicit(&budget, memory_order_relaxed); }

size_t quarantine_held(void) {
  os_lock(&lock);
  size_t n = count;
  os_unlock(&lock);
  return n;
}

/* The oldest out of the ring (the lock is held); freed once it is let go. */
static void *pop_oldest(void) {
  void *p = ring[head].p;
  held -= ring[head].size;
  head = (head + 1) % RING;
  count--;
  return p;
}

void quarantine_put(void *p) {
  size_t size = home_usable_size(p), limit = quarantine_budget();
  void *out[16];
  size_t nout = 0;
  os_lock(&lock);
  /* a block over the whole budget would push out everything and itself */
  if (size > limit) {
    os_unlock(&lock);
    home_free(p);
    return;
  }
  /* the ones it pushes out are freed after the lock is let go, a few at a
   * time: the heap's free may take a slow path */
  for (;;) {
    while (count > 0 && nout < 16 && (count == RING || held + size > limit)) out[nout++] = pop_oldest();
    if (count < RING && held + size <= limit) break;
    os_unlock(&lock);
    for (size_t k = 0; k < nout; k++) home_free(out[k]);
    nout = 0;
    os_lock(&lock);
  }
  ring[(head + count) % RING].p = p;
  ring[(head + count) % RING].size = size;
  count++;
  held += size;
  os_unlock(&lock);
  for (size_t k = 0; k < nout; k++) home_free(out[k]);
}

void quarantine_flush(void) {
  for (;;) {
    os_lock(&lock);
    void *p = count > 0 ? pop_oldest() : NULL;
    os_unlock(&lock);
    if (p == NULL) return;
    home_free(p);
  }
}
