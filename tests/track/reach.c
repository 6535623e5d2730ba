/* Blocks live at exit that are still reachable, and blocks that are truly
 * lost, at known sites (each allocated in a function of its own, so the
 * report's innermost frame names it). Reachable:
 *   keep_global       1000 bytes, only in a global
 *   keep_on_stack      800 bytes, only in a volatile local of the frame
 *                          that calls exit()
 *   make_node          100 x 48 bytes, a list whose head is in a global
 *   keep_interior      700 bytes, only an interior pointer in a global
 *   thread_block       900 bytes, only on the stack of a thread blocked
 *                          in read() on a pipe at exit
 *   tls_block         1300 bytes, only in a __thread of the main thread
 *   thread_tls_block  1500 bytes, only in that __thread of the reader thread
 * Lost:
 *   lost_parent        200 bytes, dropped, holding the only pointer to
 *   lost_child         300 bytes
 *   lost_small         3 x 64 bytes, dropped
 *   lost_tail         5000 bytes, dropped: the last block carved from
 *                          glibc's heap, whose top chunk starts in its last
 *                          8 bytes (the heap's own pointer must not count)
 * Also a thread that ends and is joined before exit: the C library keeps
 * its descriptor for reuse, and with it the dynamic loader's vector of its
 * TLS blocks, a block the loader allocated: reachable, not a leak.
 * "reach spin": also a thread busy in a loop (never blocked, so never
 * scanned) holding spin_block, 333 bytes, only on its stack: lost.
 * "reach wait SECONDS READY_FILE": no exit from a deep frame; main holds
 * wait_block (1100 bytes) in a volatile local while it sleeps SECONDS,
 * for `reheap dump`, after creating READY_FILE; then returns.
 * Writes "reach: ready" on stdout (stdio's buffer: reachable). */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

struct node {
  struct node *next;
  char payload[40];
};

void *volatile g_kept;
struct node *volatile g_list;
char *volatile g_interior;
__thread void *volatile t_kept;

NOINLINE void *keep_global(void) { return malloc(1000); }
NOINLINE void *keep_on_stack(void) { return malloc(800); }
NOINLINE struct node *make_node(void) { return malloc(sizeof(struct node)); }
NOINLINE char *keep_interior(void) { return malloc(700); }
NOINLINE void *thread_block(void) { return malloc(900); }
NOINLINE void *tls_block(void) { return malloc(1300); }
NOINLINE void *thread_tls_block(void) { return malloc(1500); }
NOINLINE void *lost_parent(void) { return malloc(200); }
NOINLINE void *lost_child(void) { return malloc(300); }
NOINLINE void *lost_small(void) { return malloc(64); }
NOINLINE void *spin_block(void) { return malloc(333); }
NOINLINE void *wait_block(void) { return malloc(1100); }

/* Dropped at once: the pointer never reaches a caller's frame. */
NOINLINE void lost_tail(void) {
  void *volatile p = malloc(5000);
  memset(p, 1, 16);
  p = NULL;
}

NOINLINE void make_lost(void) {
  void **volatile parent = lost_parent();
  parent[0] = lost_child();
  parent = NULL;
  for (int i = 0; i < 3; i++) {
    void *volatile p = lost_small();
    memset(p, 2, 64);
    p = NULL;
  }
}

NOINLINE void make_reachable(void) {
  g_kept = keep_global();
  for (int i = 0; i < 100; i++) {
    struct node *n = make_node();
    n->next = g_list;
    g_list = n;
  }
  g_interior = keep_interior() + 350;
  t_kept = tls_block();
}

static volatile long reader_tid;

static void *reader(void *arg) {
  int fd = (int)(intptr_t)arg;
  void *volatile held = thread_block();
  t_kept = thread_tls_block();
  reader_tid = syscall(SYS_gettid);
  char c;
  ssize_t n = read(fd, &c, 1); /* nobody writes: blocked until the end */
  (void)n;
  return held;
}

static void *brief(void *arg) { return arg; }

static void *spinner(void *arg) {
  volatile int *started = arg;
  char *volatile held = spin_block();
  *started = 1;
  for (;;) held[0]++;
  return NULL;
}

/* Until /proc says the reader sits in read() (system call 0). */
static void wait_blocked_in_read(void) {
  char path[64];
  for (int tries = 0; tries < 5000; tries++) {
    long tid = reader_tid;
    if (tid != 0) {
      snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
      int fd = open(path, O_RDONLY);
      char buf[8] = {0};
      ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
      if (fd >= 0) close(fd);
      if (n >= 2 && buf[0] == '0' && buf[1] == ' ') return;
    }
    usleep(1000);
  }
  fputs("reach: the reader never blocked\n", stderr);
  exit(1);
}

NOINLINE __attribute__((noreturn)) void finish(void) {
  void *volatile held = keep_on_stack();
  lost_tail();
  (void)held;
  exit(0);
}

NOINLINE int wait_here(unsigned seconds, const char *ready) {
  void *volatile held = wait_block();
  int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 1;
  close(fd);
  struct timespec ts = {(time_t)seconds, 0};
  while (nanosleep(&ts, &ts) != 0) {
  }
  free(held);
  return 0;
}

int main(int argc, char **argv) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return 1;
  pthread_t t;
  if (pthread_create(&t, NULL, reader, (void *)(intptr_t)pipefd[0]) != 0) return 1;
  pthread_t b;
  if (pthread_create(&b, NULL, brief, NULL) != 0 || pthread_join(b, NULL) != 0) return 1;
  make_reachable();
  make_lost();
  wait_blocked_in_read();
  if (argc > 1 && strcmp(argv[1], "spin") == 0) {
    static volatile int started;
    pthread_t s;
    if (pthread_create(&s, NULL, spinner, (void *)&started) != 0) return 1;
    while (!started) {
    }
  }
  printf("reach: ready\n");
  if (argc == 4 && strcmp(argv[1], "wait") == 0) {
    fflush(stdout);
    return wait_here((unsigned)atoi(argv[2]), argv[3]);
  }
  finish();
}
