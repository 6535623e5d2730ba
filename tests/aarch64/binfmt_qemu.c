/* The interpreter the aarch64 test registers with binfmt_misc, so that a
 * program of the cross build that starts another (reheap run, a test
 * script's reheap) starts it under qemu-aarch64 as well. Built static: the
 * machine's loader never runs in it, so the guest's LD_PRELOAD (an aarch64
 * library) does not reach the loader of this x86-64 program, and qemu is
 * handed it for the guest alone (-E), with the loader's other variables.
 * binfmt_misc's P flag passes: this, the program's path, its argv[0], the
 * rest of its arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef QEMU
#define QEMU "/usr/bin/qemu-aarch64"
#endif
#ifndef ROOT
#define ROOT "/usr/aarch64-linux-gnu"
#endif

static const char *const guest_only[] = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"};
#define NGUEST (sizeof guest_only / sizeof guest_only[0])

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "binfmt_qemu: run by binfmt_misc (flag P): PATH ARGV0 [ARGS...]\n");
    return 2;
  }
  static char settings[NGUEST][8192];
  char **args = calloc((size_t)argc + 2 * NGUEST + 8, sizeof *args);
  if (args == NULL) return 127;
  int n = 0;
  args[n++] = (char *)QEMU;
  args[n++] = (char *)"-L";
  args[n++] = (char *)ROOT;
  args[n++] = (char *)"-0";
  args[n++] = argv[2];
  for (size_t i = 0; i < NGUEST; i++) {
    const char *v = getenv(guest_only[i]);
    if (v == NULL) continue;
    if (snprintf(settings[i], sizeof settings[i], "%s=%s", guest_only[i], v) >= (int)sizeof settings[i]) {
      fprintf(stderr, "binfmt_qemu: %s is too long\n", guest_only[i]);
      return 127;
    }
    args[n++] = (char *)"-E";
    args[n++] = settings[i];
    unsetenv(guest_only[i]);
  }
  args[n++] = argv[1];
  for (int i = 3; i < argc; i++) args[n++] = argv[i];
  args[n] = NULL;
  execv(QEMU, args);
  perror("binfmt_qemu: " QEMU);
  return 127;
}
