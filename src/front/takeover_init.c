/* The takeover as `reheap run --profile FILE` / `--hook SPEC` asks for it:
 * REHEAP_PROFILE (a profile's path) and REHEAP_HOOKS (specs, one a line)
 * are read before the program's main runs, and applied in the process
 * `reheap run` started (REHEAP_HOOK_PID), not in programs it starts. A
 * profile that cannot be applied changes nothing: one line says why, and
 * the program runs on its own allocator.
 *
 * Two libraries hold the takeover: libreheap.so, serving from reheap's
 * heap, and libreheap_track.so, serving through the tracker from the heap
 * behind it (reheap's or another) under --track; REHEAP_HOOK_IN says
 * which one applies it ("reheap" when unset, for a plain LD_PRELOAD of
 * libreheap.so). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/hook_spec.h"
#include "front/status_page.h"
#include "front/takeover.h"
#include "front/takeover_arch.h"
#include "os/os.h"

#define PROFILE_TEXT_MAX (64 << 10)

static spec_profile_t profile;
static char refusal[512]; /* why the profile was refused, "" if it was not */
static pid_t installed_in;
static char text[PROFILE_TEXT_MAX];

static void say(const char *a, const char *b, const char *c) {
  os_write_all(2, "reheap: ", 8);
  os_write_all(2, a, strlen(a));
  os_write_all(2, b, strlen(b));
  os_write_all(2, c, strlen(c));
  os_write_all(2, "\n", 1);
}

const char *takeover_refusal(void) { return refusal[0] != '\0' ? refusal : NULL; }

/* A refused profile: said, kept for the status page and the summary, and
 * under REHEAP_STRICT=1 (reheap run --strict) the end of the program,
 * before its main, with status 2: a script must be able to tell that
 * nothing was taken over. Nothing was patched either way. */
/* exit_stats.c's, in libreheap.so; libreheap_track.so writes no counters line */
__attribute__((weak, visibility("hidden"))) void rh_exit_stats_write_now(void);

static void refuse(const char *source, const char *why) {
  size_t n = strlen(why);
  if (n >= sizeof refusal) n = sizeof refusal - 1;
  memcpy(refusal, why, n);
  refusal[n] = '\0';
  const char *strict = getenv("REHEAP_STRICT");
  if (strict != NULL && strcmp(strict, "1") == 0) {
    say("profile refused, nothing patched: ", source, "");
    say("  ", why, "; --strict: the program is not run");
    if (rh_exit_stats_write_now != NULL) rh_exit_stats_write_now();
    _exit(2);
  }
  say("profile refused, nothing patched: ", source, "");
  say("  ", why, "; the program runs on its own allocator");
}

/* The profile file, or the inline specs: NULL after saying why. */
static const char *load(const char *path, const char *inline_specs, size_t *len) {
  if (inline_specs != NULL) {
    *len = strlen(inline_specs);
    return *len < sizeof text ? inline_specs : NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    static char why[600];
    snprintf(why, sizeof why, "cannot read the profile %s", path);
    refuse(path, why);
    return NULL;
  }
  ssize_t n, have = 0;
  while ((n = read(fd, text + have, sizeof text - 1 - (size_t)have)) > 0) have += n;
  close(fd);
  *len = (size_t)have;
  return text;
}

#ifdef REHEAP_TAKEOVER_IN_TRACKER
#define HOLDER "track"
#else
#define HOLDER "reheap"
#endif

__attribute__((constructor)) static void takeover_init(void) {
  const char *in = getenv("REHEAP_HOOK_IN");
  if (strcmp(in != NULL && in[0] != '\0' ? in : "reheap", HOLDER) != 0) return;
  const char *path = getenv("REHEAP_PROFILE"), *inline_specs = getenv("REHEAP_HOOKS");
  if ((path == NULL || path[0] == '\0') && (inline_specs == NULL || inline_specs[0] == '\0')) return;
  const char *pid = getenv("REHEAP_HOOK_PID");
  if (pid != NULL && atol(pid) != (long)getpid()) return;
  const char *source = inline_specs != NULL && inline_specs[0] != '\0' ? "--hook" : path;
  size_t len = 0;
  const char *specs = load(path, inline_specs != NULL && inline_specs[0] != '\0' ? inline_specs : NULL, &len);
  if (specs == NULL) return;
  spec_error_t err;
  if (!spec_parse_profile(specs, len, takeover_arch(), &profile, &err)) {
    static char line[sizeof err.message + 64];
    snprintf(line, sizeof line, "line %u, column %u: %s", err.line, err.col, err.message);
    refuse(source, line);
    status_page_refresh();
    return;
  }
  static char why[512];
  if (!takeover_install(&profile, why, sizeof why)) {
    refuse(source, why);
  } else {
    installed_in = getpid();
  }
  status_page_refresh();
}

/* At exit the functions are put back, if no block of reheap's can reach
 * them any more: this library's destructors run before those of the
 * libraries loaded with the program, which may still free their blocks
 * through the patched functions. With blocks live they stay patched, the
 * process being about to go; a restore whose bytes differ from before is
 * said. (A forked child has the parent's patches and blocks: the same.) */
__attribute__((destructor)) static void takeover_fini(void) {
  if (installed_in == 0 || takeover_count() == 0) return;
  char why[256];
  if (!takeover_uninstall(why, sizeof why) && takeover_count() == 0)
    say("at exit: ", why, "");
}
