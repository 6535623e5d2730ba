/* Known allocations from three stacks, for --track=sample: the estimates
 * the report gives must come close to these exact figures.
 *   churn_small  200,000 blocks of 64 bytes, freed     12,800,000 bytes
 *   churn_mixed   20,000 blocks of 1 to 2,000 bytes, freed (1,000 on average)
 *   keep_some     20,000 blocks of 256 bytes, live at exit  5,120,000 bytes
 *   made_for_another 20,000 blocks of 512 bytes made by a thread and freed
 *                 by main (frees from another thread than the page's own)
 * and two threads doing the first at once (the counts are per thread). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void churn_small(int n) {
  for (int i = 0; i < n; i++) {
    void *p = malloc(64);
    sink = p;
    free(p);
  }
}

__attribute__((noinline)) static void churn_mixed(int n) {
  unsigned x = 12345;
  for (int i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    void *p = malloc(1 + (i % 2000)); /* 1..2000: 1000.5 bytes on average */
    sink = p;
    free(p);
  }
  (void)x;
}

static void *volatile kept[20000]; /* volatile: the compiler would drop mallocs it sees never read */
__attribute__((noinline)) static void keep_some(int n) {
  for (int i = 0; i < n; i++) kept[i] = malloc(256);
}

static void *handed[20000];
__attribute__((noinline)) static void made_for_another(int n) {
  for (int i = 0; i < n; i++) handed[i] = malloc(512);
}

static void *maker(void *arg) {
  (void)arg;
  made_for_another(20000);
  return NULL;
}

static void *thread(void *arg) {
  (void)arg;
  churn_small(100000);
  return NULL;
}

int main(int argc, char **argv) {
  pthread_t t;
  pthread_create(&t, NULL, thread, NULL);
  churn_small(100000);
  pthread_join(t, NULL);
  churn_mixed(20000);
  keep_some(20000);
  pthread_create(&t, NULL, maker, NULL);
  pthread_join(t, NULL);
  for (int i = 0; i < 20000; i++) free(handed[i]);
  if (argc > 1 && argv[1][0] == 'x') _exit(3); /* no exit handlers: the report comes first all the same */
  printf("sampled: done\n");
  return 0;
}
