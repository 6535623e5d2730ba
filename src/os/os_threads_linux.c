/* Linux: stopping every other thread of the process while code is
 * rewritten, and moving their instruction pointers out of the way.
 *
 * Each thread gets a real-time signal (tgkill); its handler counts itself
 * in, publishes its saved context and waits until the writer is done. The
 * writer lists the threads again after each round, so threads born
 * meanwhile are caught too, and it edits the saved instruction pointers
 * before letting the threads go: a handler returning resumes at the edited
 * address. Nothing here allocates (threads are listed with getdents64 into
 * a stack buffer). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "os/os.h"

#define MAX_THREADS 1024
#define STOP_TIMEOUT_NS ((int64_t)5000000000)

typedef struct parked {
  pid_t tid;
  _Atomic(ucontext_t *) uc; /* set by the thread once it waits */
} parked_t;

static parked_t parked[MAX_THREADS];
static _Atomic size_t parked_count;
static _Atomic int release_gen; /* bumped to let the threads go */
static _Atomic int in_handler;  /* handlers not yet returned */
static _Atomic int stopping;    /* a stop is in progress */
static os_lock_t stop_lock = OS_LOCK_INIT;

static int stop_signal(void) { return SIGRTMIN + 6; }

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* Threads reheap started itself (os_thread_start): they block every
 * signal, so they never park, and waiting out the grace below for each
 * of them made every stop take 20 ms (a takeover of nine functions took
 * half a second to start). Only reheap's code runs on them, asleep in a
 * futex most of the time: asleep in a system call now is enough. */
#define HELPERS 16
static _Atomic pid_t helpers[HELPERS];

void os_thread_mark_helper(bool on) {
  pid_t tid = my_tid(), want = on ? 0 : tid, put = on ? tid : 0;
  for (int i = 0; i < HELPERS; i++) {
    pid_t seen = want;
    if (atomic_compare_exchange_strong(&helpers[i], &seen, put)) return;
  }
}

/* a child of fork has none of them: their numbers may come back as the
 * child's own threads' */
void os_thread_helpers_forget(void) {
  for (int i = 0; i < HELPERS; i++) atomic_store(&helpers[i], 0);
}

static bool is_helper(pid_t tid) {
  for (int i = 0; i < HELPERS; i++)
    if (atomic_load_explicit(&helpers[i], memory_order_relaxed) == tid) return true;
  return false;
}

static void on_stop_signal(int sig, siginfo_t *info, void *ctx) {
  (void)sig;
  (void)info;
  int saved_errno = errno;
  atomic_fetch_add(&in_handler, 1);
  /* gen before stopping: the writer clears stopping before it bumps gen,
   * so a signal that arrives late returns at once instead of waiting for a
   * release that already happened */
  int gen = atomic_load(&release_gen);
  if (!atomic_load(&stopping)) {
    atomic_fetch_sub(&in_handler, 1);
    errno = saved_errno;
    return;
  }
  pid_t tid = my_tid();
  size_t n = atomic_load(&parked_count);
  for (size_t i = 0; i < n; i++) {
    if (parked[i].tid == tid) {
      atomic_store(&parked[i].uc, (ucontext_t *)ctx);
      break;
    }
  }
  /* sleep, not spin: the stopped threads must not take the CPU from the
   * writer */
  while (atomic_load(&release_gen) == gen)
    syscall(SYS_futex, (int *)&release_gen, FUTEX_WAIT_PRIVATE, gen, NULL, NULL, 0);
  atomic_fetch_sub(&in_handler, 1);
  errno = saved_errno;
}

struct linux_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Signals every thread not yet parked; returns how many were added, or -1
 * when the list cannot be read or is full. */
static int signal_new_threads(pid_t self) {
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096];
  int added = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      pid_t tid = 0;
      for (const char *c = d->d_name; *c; c++) tid = tid * 10 + (*c - '0');
      if (tid == self) continue;
      size_t count = atomic_load(&parked_count);
      bool known = false;
      for (size_t i = 0; i < count && !known; i++) known = parked[i].tid == tid;
      if (known) continue;
      if (count == MAX_THREADS) {
        close(fd);
        return -1;
      }
      parked[count].tid = tid;
      atomic_store(&parked[count].uc, NULL);
      atomic_store(&parked_count, count + 1);
      if (syscall(SYS_tgkill, getpid(), tid, stop_signal()) == 0) {
        added++;
      } else {
        atomic_store(&parked_count, count); /* it has exited meanwhile */
      }
    }
  }
  close(fd);
  return added;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads /proc/self/task/<tid>/<file> into buf (no allocation); returns
 * the length, or -1 with errno set. */
static ssize_t read_task_file(pid_t tid, const char *file, char *buf, size_t cap) {
  char path[64] = "/proc/self/task/";
  size_t len = strlen(path);
  char digits[16];
  int nd = 0;
  for (pid_t t = tid; t > 0 && nd < 15; t /= 10) digits[nd++] = (char)('0' + t % 10);
  while (nd > 0) path[len++] = digits[--nd];
  path[len++] = '/';
  size_t fl = strlen(file);
  memcpy(path + len, file, fl + 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n >= 0) buf[n] = '\0';
  return n;
}

/* True when the thread cannot be running any code while the patch is
 * written: it has exited (or is exiting), or it is asleep inside a system
 * call (it has the stop signal blocked, or it is not a thread of the
 * program at all: qemu-user's own helper threads show up in
 * /proc/self/task). */
static bool cannot_run(pid_t tid) {
  char buf[64];
  ssize_t n = read_task_file(tid, "syscall", buf, sizeof buf);
  if (n < 0) return errno == ENOENT || errno == ESRCH; /* gone */
  if (n > 0 && buf[0] >= '0' && buf[0] <= '9') return true; /* in a system call */
  /* "running": unless it is a zombie already */
  n = read_task_file(tid, "stat", buf, sizeof buf);
  if (n < 0) return errno == ENOENT || errno == ESRCH;
  const char *close_paren = strrchr(buf, ')');
  return close_paren != NULL && close_paren[1] == ' ' &&
         (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

/* Waits until every signalled thread has parked, or is asleep in the
 * kernel and stays so; false on timeout. */
static bool wait_parked(void) {
  int64_t start = now_ns(), deadline = start + STOP_TIMEOUT_NS;
  for (;;) {
    bool late = now_ns() - start > 20000000;
    size_t n = atomic_load(&parked_count), ready = 0;
    for (size_t i = 0; i < n; i++)
      ready += atomic_load(&parked[i].uc) != NULL ||
               ((late || is_helper(parked[i].tid)) && cannot_run(parked[i].tid));
    if (ready == n) return true;
    if (now_ns() > deadline) return false;
    /* sleep rather than yield: the CPU goes to the threads that still have
     * to run their handler, at once instead of at the next tick */
    struct timespec nap = {0, 20000};
    nanosleep(&nap, NULL);
  }
}

static uintptr_t *ip_of(ucontext_t *uc) {
#if defined(__x86_64__)
  return (uintptr_t *)&uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
  return (uintptr_t *)&uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
  return (uintptr_t *)&uc->uc_mcontext.pc;
#else
#error "os_stop_world: instruction pointer of this architecture"
#endif
}

bool os_stop_world(void (*work)(void *arg), void (*fix_ip)(uintptr_t *ip, void *arg),
                   void *arg) {
  os_lock(&stop_lock);
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_stop_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  if (sigaction(stop_signal(), &sa, &old) != 0) {
    os_unlock(&stop_lock);
    return false;
  }
  atomic_store(&parked_count, 0);
  atomic_store(&stopping, 1);
  pid_t self = my_tid();
  bool ok = true;
  /* rounds until no new thread appears: a thread may start another before
   * it is stopped itself */
  for (int round = 0; ok; round++) {
    int added = signal_new_threads(self);
    if (added < 0 || round > 64) ok = false;
    else if (!wait_parked()) ok = false;
    if (added == 0) break;
  }
  if (ok) {
    work(arg);
    size_t n = atomic_load(&parked_count);
    for (size_t i = 0; i < n && fix_ip != NULL; i++) {
      ucontext_t *uc = atomic_load(&parked[i].uc);
      if (uc != NULL) fix_ip(ip_of(uc), arg); /* NULL: asleep in the kernel */
    }
  }
  atomic_store(&stopping, 0);
  atomic_fetch_add(&release_gen, 1);
  syscall(SYS_futex, (int *)&release_gen, FUTEX_WAKE_PRIVATE, MAX_THREADS, NULL, NULL, 0);
  /* every handler must have returned before the old action is back, or a
   * late one would meet the default action of the signal */
  while (atomic_load(&in_handler) != 0) sched_yield();
  size_t n = atomic_load(&parked_count);
  bool pending = false;
  for (size_t i = 0; i < n; i++) pending |= atomic_load(&parked[i].uc) == NULL;
  if (!pending) sigaction(stop_signal(), &old, NULL);
  /* else: a thread that never parked may still get the signal; keeping the
   * handler installed lets it pass through harmlessly */
  atomic_store(&parked_count, 0);
  os_unlock(&stop_lock);
  return ok;
}
