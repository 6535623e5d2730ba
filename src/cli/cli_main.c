/* reheap: entry point, top-level help and dispatch to the verbs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_report.h"

#ifndef RH_VERSION
#define RH_VERSION "0.0.0"
#endif

static const char help_text[] =
    "usage: reheap <command> [options]\n"
    "\n"
    "reheap takes over the heap of a program that is already built.\n"
    "\n"
    "commands:\n"
    "  run [--heap=NAME] [--stats] -- PROGRAM [ARGS...]\n"
    "        run PROGRAM on reheap's heap (or another, for comparison)\n"
    "  attach [--only REGEX ...] [--except REGEX ...] PID\n"
    "        track a running process from now on, through GOT hooks\n"
    "  detach PID\n"
    "        stop tracking it: every GOT slot given back\n"
    "  stat [--watch] PID\n"
    "        live counters of a program tracked ('run --track', 'attach')\n"
    "  dump [--format F] [--output FILE] PID\n"
    "        make such a program write its report now, without stopping it\n"
    "  report [--format text|json|folded|folded-allocated] [--top N] [--reachable] FILE\n"
    "        a report saved with 'run --track --format json' in another format\n"
    "\n"
    "  reheap --help           this text\n"
    "  reheap COMMAND --help   options of run, attach, stat, dump or report\n"
    "  reheap --version        version\n";

int rh_cli_vfail(int status, const char *fmt, va_list ap) {
  char line[2048];
  rh_cli_format_line(line, sizeof line, fmt, ap);
  fprintf(stderr, "reheap: %s\n", line);
  return status;
}

int rh_cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int status = rh_cli_vfail(RH_EXIT_USAGE, fmt, ap);
  va_end(ap);
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2) return rh_cli_fail("no command given; try 'reheap --help'");
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(help_text, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("reheap %s\n", RH_VERSION);
    return 0;
  }
  if (strcmp(cmd, "run") == 0) return rh_cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "stat") == 0) return rh_cmd_stat(argc - 2, argv + 2);
  if (strcmp(cmd, "dump") == 0) return rh_cmd_dump(argc - 2, argv + 2);
  if (strcmp(cmd, "attach") == 0) return rh_cmd_attach(argc - 2, argv + 2);
  if (strcmp(cmd, "detach") == 0) return rh_cmd_detach(argc - 2, argv + 2);
  if (strcmp(cmd, "report") == 0) return rh_cmd_report(argc - 2, argv + 2);
  if (cmd[0] == '-') return rh_cli_fail("unknown option '%s'; try 'reheap --help'", cmd);
  return rh_cli_fail("unknown command '%s'; try 'reheap --help'", cmd);
}
