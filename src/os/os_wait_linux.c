/* Waiting on a word another process may change (a futex on shared memory,
 * not a private one), and a quiet background thread for the tracker. */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "os/os.h"

bool os_wait_on(uint32_t *word, uint32_t seen, int timeout_ms) {
  struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
  long rc = syscall(SYS_futex, word, FUTEX_WAIT, seen, timeout_ms < 0 ? NULL : &ts, NULL, 0);
  return rc == 0 || errno != ETIMEDOUT;
}

void os_wake_on(uint32_t *word) { syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0); }

typedef struct start {
  void (*fn)(void *);
  void *arg;
} start_t;

static void *trampoline(void *p) {
  start_t s = *(start_t *)p;
  os_thread_mark_helper(true);
  __atomic_store_n(&((start_t *)p)->fn, NULL, __ATOMIC_RELEASE);
  s.fn(s.arg);
  os_thread_mark_helper(false);
  return NULL;
}

static void forget_helpers(void) { os_thread_helpers_forget(); }
static void register_fork(void) { pthread_atfork(NULL, NULL, forget_helpers); }

bool os_thread_start(void (*fn)(void *), void *arg) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  if (pthread_once(&once, register_fork) != 0) return false;
  /* every signal blocked in the new thread (it inherits the mask): the
   * program's signals must go to the program's threads */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  start_t s = {fn, arg};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, (size_t)256 << 10);
  pthread_t t;
  bool ok = pthread_create(&t, &attr, trampoline, &s) == 0;
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  /* s lives on this stack: wait until the thread has copied it */
  while (ok && __atomic_load_n(&s.fn, __ATOMIC_ACQUIRE) != NULL) sched_yield();
  return ok;
}
