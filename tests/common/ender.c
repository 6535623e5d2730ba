/* A program that ends as it is told, for the tests of what reheap does at
 * a program's end: built for each architecture the tests run on, where a
 * script's interpreter (python3) is a program of the machine's only.
 * usage: ender exit_group N | _exit N | abort | signal TERM|KILL | sigint | grow
 *   grow: keeps 40 blocks of 200000 bytes, one every 10 ms
 *   sigint: a handler of its own for SIGINT, the default found first */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

int main(int argc, char **argv) {
  const char *how = argc > 1 ? argv[1] : "";
  int n = argc > 2 ? atoi(argv[2]) : 0;
  if (strcmp(how, "exit_group") == 0) syscall(SYS_exit_group, n);
  if (strcmp(how, "_exit") == 0) _exit(n);
  if (strcmp(how, "abort") == 0) abort();
  if (strcmp(how, "signal") == 0 && argc > 2) {
    int sig = strcmp(argv[2], "TERM") == 0 ? SIGTERM : strcmp(argv[2], "KILL") == 0 ? SIGKILL : 0;
    if (sig != 0) kill(getpid(), sig);
  }
  if (strcmp(how, "sigint") == 0) {
    /* what a program finds before it sets its own: the default, not a
     * handler of reheap's */
    struct sigaction was, mine;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = on_sigint;
    sigemptyset(&mine.sa_mask);
    if (sigaction(SIGINT, &mine, &was) != 0 || was.sa_handler != SIG_DFL) {
      fprintf(stderr, "ender: SIGINT was not at its default\n");
      return 1;
    }
    kill(getpid(), SIGINT);
    for (int i = 0; i < 500 && !interrupted; i++) usleep(10000);
    puts(interrupted ? "interrupted" : "not interrupted");
    return 0;
  }
  if (strcmp(how, "grow") == 0) {
    static void *volatile kept[40];
    for (int i = 0; i < 40; i++) {
      kept[i] = malloc(200000);
      if (kept[i] == NULL) return 1;
      memset(kept[i], i, 200000);
      nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    return 0;
  }
  fprintf(stderr, "usage: ender exit_group N | _exit N | abort | signal TERM|KILL | sigint | grow\n");
  return 2;
}
