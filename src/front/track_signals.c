/* The tracker's handlers for the signals that end a program, so that it
 * still leaves its report, installed where the program left the default
 * and kept out of the program's sight.
 *
 * Programs decide by what they find: Python puts in its KeyboardInterrupt
 * handler only where SIGINT is at its default, and a program asking for
 * the handler it replaces expects its own or the default. So the wrappers
 * below answer "default" while the tracker's handler is in place, and a
 * handler the program installs simply takes over (its ending then goes
 * through exit or a signal the program chose, and the report with it). */
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "front/track_signals.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static sigaction_fn real_sigaction;
static void (*on_ending)(void);
static _Atomic unsigned long long ours; /* bit n: signal n has the tracker's handler */

static const int endings[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                              SIGTERM, SIGINT,  SIGHUP, SIGQUIT};

static bool is_ours(int sig) { return sig > 0 && sig < 64 && (atomic_load(&ours) >> sig & 1); }

static sigaction_fn next_sigaction(void) {
  if (real_sigaction == NULL) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  return real_sigaction;
}

/* The report first (on_ending bounds its own wait), then what the signal
 * would have done. */
static void handler(int sig) {
  if (on_ending != NULL) on_ending();
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  next_sigaction()(sig, &dfl, NULL);
  atomic_fetch_and(&ours, ~(1ull << sig));
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigprocmask(SIG_UNBLOCK, &one, NULL);
  raise(sig);
}

void track_signals_catch(void (*report)(void)) {
  sigaction_fn sa_fn = next_sigaction();
  if (sa_fn == NULL) return;
  on_ending = report;
  for (size_t i = 0; i < sizeof endings / sizeof endings[0]; i++) {
    struct sigaction old, sa;
    if (sa_fn(endings[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sa_fn(endings[i], &sa, NULL) == 0) atomic_fetch_or(&ours, 1ull << endings[i]);
  }
}

void track_signals_forget(void) {
  sigaction_fn sa_fn = next_sigaction();
  for (size_t i = 0; sa_fn != NULL && i < sizeof endings / sizeof endings[0]; i++) {
    if (!is_ours(endings[i])) continue;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sa_fn(endings[i], &dfl, NULL);
  }
  atomic_store(&ours, 0);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  sigaction_fn sa_fn = next_sigaction();
  struct sigaction prev;
  int rc = sa_fn(sig, act, &prev);
  if (rc != 0) return rc;
  bool was_ours = is_ours(sig) && prev.sa_handler == handler;
  if (act != NULL && was_ours) atomic_fetch_and(&ours, ~(1ull << sig));
  if (old != NULL) {
    *old = prev;
    if (was_ours) {
      memset(old, 0, sizeof *old);
      old->sa_handler = SIG_DFL;
    }
  }
  return 0;
}

/* signal() and its kin, as the C library defines them, over sigaction
 * (theirs would not come through the wrapper above). */
static __sighandler_t set_handler(int sig, __sighandler_t h, int flags, bool mask_self) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sigemptyset(&sa.sa_mask);
  if (mask_self && sig > 0 && sig < NSIG) sigaddset(&sa.sa_mask, sig);
  sa.sa_flags = flags;
  return sigaction(sig, &sa, &old) == 0 ? old.sa_handler : SIG_ERR;
}

EXPORT __sighandler_t signal(int sig, __sighandler_t h) { return set_handler(sig, h, SA_RESTART, true); }
EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t h) { return set_handler(sig, h, SA_RESTART, true); }
EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t h) {
  return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, false);
}
