/* Thread-exit hooks made once, at first need. */
#include "track/track_internal.h"

bool track_exit_key_ready(track_exit_key_t *k, void (*fn)(void *)) {
  int st = atomic_load(&k->state);
  if (st == 0 && atomic_compare_exchange_strong(&k->state, &st, 1))
    atomic_store(&k->state, os_thread_key_new(&k->key, fn) ? 2 : 3);
  while ((st = atomic_load(&k->state)) == 1) {
  }
  return st == 2;
}
