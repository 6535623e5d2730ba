/* reheap attach and detach on an architecture whose remote calls
 * (src/os/os_remote_ARCH.c) are not written yet: one line that says so,
 * and the status of a refusal. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int refuse(const char *verb, int argc, char **argv) {
  if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
    printf("reheap %s: not in this build (" RH_ARCH_NAME "): its calls into another process are written for x86-64 only;\n"
           "track a program from its start with 'reheap run --track' instead\n", verb);
    return 0;
  }
  return rh_cli_fail("%s: not in this build (" RH_ARCH_NAME "): its calls into another process are written for x86-64 "
                     "only; track the program from its start with 'reheap run --track'", verb);
}

int rh_cmd_attach(int argc, char **argv) { return refuse("attach", argc, argv); }
int rh_cmd_detach(int argc, char **argv) { return refuse("detach", argc, argv); }
