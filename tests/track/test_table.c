/* The tracker's records and table under threads: every block inserted is
 * found and removed exactly once, removals from other threads work, records
 * are recycled (the pool stops growing under churn), and a removed record
 * no longer names its block. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "track/track_internal.h"

#define THREADS 8
#define PER_THREAD 100000
#define ROUNDS 5

static uintptr_t addr_of(int t, int i) { return ((uintptr_t)(t + 1) << 36) + (uintptr_t)i * 16; }

static pthread_barrier_t inserted;
static _Atomic long removed_by_others;

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < PER_THREAD; i++) {
      track_record_t *r = track_record_alloc();
      CHECK(r != NULL);
      r->key = track_key(addr_of(t, i));
      r->size = (size_t)i;
      r->seq = (uint64_t)round;
      CHECK(track_table_insert(r));
    }
    pthread_barrier_wait(&inserted);
    /* each thread removes its own even blocks and its neighbour's odd ones */
    int other = (t + 1) % THREADS;
    for (int i = 0; i < PER_THREAD; i++) {
      int owner = (i % 2 == 0) ? t : other;
      track_record_t *r = track_table_remove(addr_of(owner, i));
      CHECKF(r != NULL, "block %d of thread %d missing", i, owner);
      CHECK(track_addr(r) == addr_of(owner, i) && r->size == (size_t)i);
      CHECK(track_table_remove(addr_of(owner, i)) == NULL); /* exactly once */
      track_record_free(r);
      CHECK(r->key == 0);
      if (owner != t) atomic_fetch_add(&removed_by_others, 1);
    }
    pthread_barrier_wait(&inserted);
  }
  return NULL;
}

/* A short-lived thread: takes records, gives them back, exits. */
static void *short_lived(void *arg) {
  (void)arg;
  track_record_t *rs[1000];
  for (int i = 0; i < 1000; i++) CHECK((rs[i] = track_record_alloc()) != NULL);
  for (int i = 0; i < 1000; i++) track_record_free(rs[i]);
  return NULL;
}

static void count_one(const track_record_t *r, void *arg) {
  (void)r;
  ++*(size_t *)arg;
}

int main(void) {
  pthread_barrier_init(&inserted, NULL, THREADS);
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) CHECK(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0);
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
  CHECK(track_table_count() == 0);
  CHECK(atomic_load(&removed_by_others) == (long)THREADS * ROUNDS * PER_THREAD / 2);
  /* five rounds of 800,000 live records: the pool holds about one round's
   * worth, not five */
  size_t carved = track_records_carved();
  CHECKF(carved < (size_t)THREADS * PER_THREAD * 2, "%zu records carved for %d live at once", carved,
         THREADS * PER_THREAD);
  /* threads that exit hand their records back: a hundred of them, one
   * after another, need no more records than one */
  size_t before = track_records_carved();
  for (int k = 0; k < 100; k++) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, short_lived, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
  }
  size_t grown = track_records_carved() - before;
  CHECKF(grown < 20000, "%zu records carved for 100 threads of 1000 each, one at a time", grown);
  /* and a live table can be walked */
  track_record_t *r = track_record_alloc();
  r->key = track_key(0x123450);
  CHECK(track_table_insert(r));
  size_t n = 0;
  track_table_each(count_one, &n);
  CHECK(n == 1 && track_table_count() == 1);
  CHECK(track_table_remove(0x123450) == r);
  printf("track table: %d threads x %d blocks x %d rounds, %zu records carved\n", THREADS,
         PER_THREAD, ROUNDS, carved);
  return 0;
}
