/* reheap_takeover.dll: a Windows program's own allocator taken over by a
 * profile, the way libreheap.so's constructor does it on Linux: loaded
 * into the program before its first instruction (os_run_with_library,
 * bench/win_run.c), it reads the profile named by REHEAP_PROFILE and
 * installs it, all or none. A refusal is said on stderr and the program
 * runs on its own allocator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "front/hook_spec.h"
#include "front/takeover.h"
#include "front/takeover_arch.h"
#include "os/os.h"

static spec_profile_t profile;
static char text[64 << 10];

static void say(const char *a, const char *b) {
  char line[700];
  int n = snprintf(line, sizeof line, "reheap: %s%s\n", a, b);
  if (n > 0) os_write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void install(void) {
  const char *path = getenv("REHEAP_PROFILE");
  if (path == NULL || path[0] == '\0') return;
  long n = os_read_small_file(path, text, sizeof text - 1);
  if (n < 0) {
    say("cannot read the profile ", path);
    return;
  }
  spec_error_t err;
  if (!spec_parse_profile(text, (size_t)n, takeover_arch(), &profile, &err)) {
    char why[400];
    snprintf(why, sizeof why, "%s:%u:%u: %s; nothing patched", path, err.line, err.col, err.message);
    say("profile refused: ", why);
    return;
  }
  char why[512];
  if (!takeover_install(&profile, why, sizeof why)) say("profile refused, nothing patched: ", why);
}

BOOL WINAPI DllMain(HINSTANCE self, DWORD reason, LPVOID reserved) {
  (void)self, (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) install();
  return TRUE;
}
