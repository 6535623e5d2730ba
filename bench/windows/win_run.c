/* rh-win-run: runs a Windows program with reheap_takeover.dll loaded into
 * it first, so that the profile given takes over its own allocator (what
 * `reheap run --profile` does on Linux); the benchmark's door to the
 * Windows build.  usage: rh-win-run PROFILE DLL PROGRAM [ARGS...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "os/os.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: rh-win-run PROFILE DLL PROGRAM [ARGS...]\n");
    return 2;
  }
  SetEnvironmentVariableA("REHEAP_PROFILE", argv[1]);
  static char cmd[32768];
  size_t n = 0;
  for (int i = 3; i < argc && n + strlen(argv[i]) + 4 < sizeof cmd; i++)
    n += (size_t)snprintf(cmd + n, sizeof cmd - n, "%s\"%s\"", i > 3 ? " " : "", argv[i]);
  char why[512];
  int rc = os_run_with_library(cmd, argv[2], why, sizeof why);
  if (rc < 0) {
    fprintf(stderr, "rh-win-run: %s\n", why);
    return 2;
  }
  return rc;
}
