/* The program of the --only test: hot traffic through libonly_hot.so,
 * known leaks in libonly_leak.so and in libonly_late.so, which it loads
 * by its bare name (found through this program's RUNPATH) and unloads;
 * it leaks a block of its own too, which --only must not report.
 * usage: only_main ROUNDS */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

unsigned long only_hot_churn(unsigned long n);
void *only_hot_block(void);
void only_leak_now(void);
void only_leak_free(void *p);

static void *volatile own;
/* a block of the program's own that keeps one libonly_leak.so made: that
 * one is reachable, though no tracked memory names it */
struct holder {
  void *kept;
};
struct holder *volatile holder;
void *only_leak_make(void);

int main(int argc, char **argv) {
  unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
  own = malloc(777);
  own = NULL; /* the program's own leak */
  only_leak_now();
  holder = malloc(sizeof *holder);
  holder->kept = only_leak_make();
  only_leak_free(only_hot_block());
  void *late = dlopen("libonly_late.so", RTLD_NOW | RTLD_LOCAL);
  if (late == NULL) {
    fprintf(stderr, "only_main: %s\n", dlerror());
    return 1;
  }
  void (*late_leak)(void) = (void (*)(void))dlsym(late, "only_late_now");
  late_leak();
  unsigned long sum = only_hot_churn(rounds);
  if (getenv("ONLY_KEEP_LATE") == NULL) dlclose(late);
  printf("only_main: %lu rounds, sum %lu\n", rounds, sum);
  return 0;
}
