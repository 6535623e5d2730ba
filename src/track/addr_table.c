/* The table of live blocks: 256 stripes chosen by the address's hash, each
 * with its own lock and chained buckets that double when the stripe holds
 * twice as many records as buckets. Bucket arrays come from the OS. */
#include <string.h>

#include "os/os.h"
#include "track/track_internal.h"

#define STRIPES 256
#define INITIAL_BUCKETS 64

/* one cache line each, so that stripes locked by different threads do not
 * share one */
typedef struct __attribute__((aligned(64))) stripe {
  os_lock_t lock;
  uint32_t nretired;
  size_t count;
  size_t nbuckets; /* a power of two; 0 before first use */
  track_record_t **buckets;
  /* the last frees, oldest first: a second free of one of them is a
   * double free, not a free of a block never seen */
  track_record_t *retired_head, *retired_tail;
} stripe_t;

#define RETIRED_MAX 64 /* per stripe: the last 16,384 frees in all */

_Static_assert(sizeof(stripe_t) == 64, "a stripe is one cache line");

static stripe_t stripes[STRIPES];

static inline uint64_t hash(uintptr_t addr) {
  /* blocks are 16-byte aligned: mix the bits above that */
  uint64_t h = (uint64_t)addr >> 4;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

static track_record_t **buckets_new(size_t n) {
  return os_map_aligned(n * sizeof(track_record_t *), os_page_size(), 0);
}

static void grow(stripe_t *s) {
  size_t n = s->nbuckets ? s->nbuckets * 2 : INITIAL_BUCKETS;
  track_record_t **nb = buckets_new(n);
  if (nb == NULL) return; /* keep the longer chains */
  for (size_t i = 0; i < s->nbuckets; i++) {
    track_record_t *r = s->buckets[i];
    while (r != NULL) {
      track_record_t *next = r->next;
      size_t b = (hash(track_addr(r)) >> 8) & (n - 1);
      r->next = nb[b];
      nb[b] = r;
      r = next;
    }
  }
  if (s->buckets != NULL) os_unmap(s->buckets, s->nbuckets * sizeof(track_record_t *));
  s->buckets = nb;
  s->nbuckets = n;
}

bool track_table_insert(track_record_t *r) {
  uint64_t h = hash(track_addr(r));
  stripe_t *s = &stripes[h & (STRIPES - 1)];
  os_lock(&s->lock);
  if (s->count >= 2 * s->nbuckets) grow(s);
  if (s->nbuckets == 0) {
    os_unlock(&s->lock);
    return false;
  }
  size_t b = (h >> 8) & (s->nbuckets - 1);
  r->next = s->buckets[b];
  s->buckets[b] = r;
  s->count++;
  os_unlock(&s->lock);
  return true;
}

track_record_t *track_table_remove(uintptr_t addr) {
  uint64_t h = hash(addr);
  stripe_t *s = &stripes[h & (STRIPES - 1)];
  uintptr_t key = track_key(addr);
  os_lock(&s->lock);
  track_record_t *found = NULL;
  if (s->nbuckets != 0) {
    track_record_t **link = &s->buckets[(h >> 8) & (s->nbuckets - 1)];
    for (; *link != NULL; link = &(*link)->next) {
      if ((*link)->key == key) {
        found = *link;
        *link = found->next;
        s->count--;
        break;
      }
    }
  }
  os_unlock(&s->lock);
  return found;
}

void track_table_each(void (*fn)(const track_record_t *r, void *arg), void *arg) {
  for (size_t i = 0; i < STRIPES; i++) {
    stripe_t *s = &stripes[i];
    os_lock(&s->lock);
    for (size_t b = 0; b < s->nbuckets; b++)
      for (track_record_t *r = s->buckets[b]; r != NULL; r = r->next) fn(r, arg);
    os_unlock(&s->lock);
  }
}

size_t track_table_count(void) {
  size_t n = 0;
  for (size_t i = 0; i < STRIPES; i++) {
    os_lock(&stripes[i].lock);
    n += stripes[i].count;
    os_unlock(&stripes[i].lock);
  }
  return n;
}

track_record_t *track_table_retire(track_record_t *r) {
  stripe_t *s = &stripes[hash(track_addr(r)) & (STRIPES - 1)];
  r->next = NULL;
  os_lock(&s->lock);
  if (s->retired_tail != NULL) s->retired_tail->next = r;
  else s->retired_head = r;
  s->retired_tail = r;
  track_record_t *evicted = NULL;
  if (++s->nretired > RETIRED_MAX) {
    evicted = s->retired_head;
    s->retired_head = evicted->next;
    s->nretired--;
  }
  os_unlock(&s->lock);
  return evicted;
}

bool track_table_find_retired(uintptr_t addr, track_record_t *copy) {
  stripe_t *s = &stripes[hash(addr) & (STRIPES - 1)];
  uintptr_t key = track_key(addr);
  bool found = false;
  os_lock(&s->lock);
  for (track_record_t *r = s->retired_head; r != NULL && !found; r = r->next)
    if (r->key == key) {
      *copy = *r;
      found = true;
    }
  os_unlock(&s->lock);
  return found;
}

void track_table_fork_lock(int phase) {
  for (size_t i = 0; i < STRIPES; i++) {
    if (phase == 0) os_lock(&stripes[i].lock);
    else if (phase == 1) os_unlock(&stripes[i].lock);
    else os_lock_reset(&stripes[i].lock);
  }
}
