/* Holds a process under ptrace, as a debugger would, until killed: for
 * the attach test's refusal of a traced process. usage: tracer PID, or
 * tracer sleep (built static too: a static program to refuse). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  if (strcmp(argv[1], "sleep") == 0) {
    pause();
    return 0;
  }
  if (ptrace(PTRACE_SEIZE, (pid_t)atol(argv[1]), NULL, NULL) != 0) {
    perror("tracer: PTRACE_SEIZE");
    return 1;
  }
  puts("tracing");
  fflush(stdout);
  pause();
  return 0;
}
