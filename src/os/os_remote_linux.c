/* Calls into another process through ptrace (see os_remote.h).
 *
 * One thread is seized and interrupted (PTRACE_SEIZE: no SIGSTOP sent, so
 * the program sees nothing); the others keep running. A thread stopped in
 * the C library's or the loader's code may hold one of their locks (a
 * malloc arena's, the loader's), which the call would then wait for
 * forever, so it is let go and stopped again a moment later until it
 * stands outside them, or in a system call that sleeps holding none.
 *
 * The call runs on a stack of its own: the first call (mmap of one, made
 * by the caller) runs on the thread's, 256 bytes below its stack pointer,
 * past the red zone; later ones at the top of the mapping the caller
 * names (os_remote_t's stack). It returns to address 0: the SIGSEGV that
 * follows is the sign that it is done. A signal that comes meanwhile is
 * kept from the program while the call runs and delivered when the
 * thread goes back to where it was. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "os/os_remote.h"

struct os_remote {
  long pid, tid;
  os_remote_regs_buf_t saved;
  int pending;        /* a signal to deliver when the thread goes back */
  int mem;            /* /proc/PID/mem */
  uintptr_t stack_top; /* the calls' own stack (0: the thread's) */
};

static os_remote_t the_remote;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Waits for tid to stop, up to ms: 1, 0 on timeout, -1 if it ended. */
static int wait_stop(long tid, int *status, int ms) {
  for (int waited = 0;; waited++) {
    pid_t w = waitpid((pid_t)tid, status, __WALL | WNOHANG);
    if (w == (pid_t)tid) return WIFSTOPPED(*status) ? 1 : -1;
    if (w < 0 && errno != EINTR) return -1;
    if (waited >= ms) return 0;
    sleep_ms(1);
  }
}

static bool in_ranges(uintptr_t pc, const os_code_range_t *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (pc >= r[i].lo && pc < r[i].hi) return true;
  return false;
}

/* A stop that is a signal on its way to the program (not our interrupt):
 * kept for the thread's return. */
static void keep_signal(os_remote_t *r, int status) {
  int sig = WSTOPSIG(status);
  bool event = (status >> 16) != 0;
  if (!event && sig != SIGTRAP && r->pending == 0) r->pending = sig;
}

/* Seizes tid and stops it at a safe point within about two seconds. */
static bool stop_thread(os_remote_t *r, long tid, const os_code_range_t *unsafe, size_t nunsafe, int *err) {
  if (ptrace(PTRACE_SEIZE, (pid_t)tid, NULL, NULL) != 0) {
    *err = errno;
    return false;
  }
  r->tid = tid;
  r->pending = 0;
  for (int tries = 0; tries < 400; tries++) {
    int status;
    if (ptrace(PTRACE_INTERRUPT, (pid_t)tid, NULL, NULL) != 0 || wait_stop(tid, &status, 2000) != 1) {
      *err = ESRCH;
      return false;
    }
    keep_signal(r, status);
    if (!os_remote_regs_get(tid, &r->saved)) {
      *err = errno;
      return false;
    }
    long nr = os_remote_regs_syscall(&r->saved);
    if (nr >= 0 ? os_remote_syscall_safe(&r->saved) : !in_ranges(os_remote_regs_pc(&r->saved), unsafe, nunsafe)) {
      return true;
    }
    /* let it run a little, and look again */
    if (ptrace(PTRACE_CONT, (pid_t)tid, NULL, (void *)(uintptr_t)r->pending) != 0) {
      *err = errno;
      return false;
    }
    r->pending = 0;
    sleep_ms(tries < 50 ? 1 : 5);
  }
  ptrace(PTRACE_DETACH, (pid_t)tid, NULL, (void *)(uintptr_t)r->pending);
  *err = ETIMEDOUT;
  return false;
}

os_remote_t *os_remote_stop(long pid, const os_code_range_t *unsafe, size_t nunsafe, int *err, char *why,
                            size_t cap) {
  os_remote_t *r = &the_remote;
  memset(r, 0, sizeof *r);
  r->pid = pid;
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  /* the main thread first, then the others */
  long tids[64];
  size_t n = 0;
  tids[n++] = pid;
  DIR *d = opendir(path);
  for (struct dirent *e; d != NULL && n < 64 && (e = readdir(d)) != NULL;) {
    long t = atol(e->d_name);
    if (t > 0 && t != pid) tids[n++] = t;
  }
  if (d != NULL) closedir(d);
  *err = ESRCH;
  for (size_t i = 0; i < n; i++) {
    if (stop_thread(r, tids[i], unsafe, nunsafe, err)) {
      snprintf(path, sizeof path, "/proc/%ld/mem", pid);
      r->mem = open(path, O_RDWR | O_CLOEXEC);
      if (r->mem >= 0) return r;
      *err = errno;
      os_remote_resume(r);
      break;
    }
    if (*err == EPERM || *err == ESRCH) break;
  }
  if (*err == EPERM) snprintf(why, cap, "ptrace refused to attach (%s)", strerror(EPERM));
  else if (*err == ETIMEDOUT)
    snprintf(why, cap, "none of its threads came out of the C library's code in two seconds each");
  else if (*err == ESRCH) snprintf(why, cap, "the process ended or could not be stopped");
  else snprintf(why, cap, "ptrace: %s", strerror(*err));
  return NULL;
}

bool os_remote_write(os_remote_t *r, uintptr_t addr, const void *data, size_t len) {
  return pwrite(r->mem, data, len, (off_t)addr) == (ssize_t)len;
}

bool os_remote_read(os_remote_t *r, uintptr_t addr, void *buf, size_t len) {
  return pread(r->mem, buf, len, (off_t)addr) == (ssize_t)len;
}

bool os_remote_call(os_remote_t *r, uintptr_t fn, const uintptr_t *args, size_t nargs, int timeout_ms,
                    uintptr_t *ret, char *why, size_t cap) {
  uintptr_t sp = r->stack_top != 0 ? r->stack_top : os_remote_regs_sp(&r->saved) - 256;
  sp = (sp & ~(uintptr_t)15) - 8;
  uintptr_t zero = 0;
  if (!os_remote_write(r, sp, &zero, sizeof zero)) {
    snprintf(why, cap, "cannot write the stopped thread's stack (%s)", strerror(errno));
    return false;
  }
  os_remote_regs_buf_t regs = r->saved;
  os_remote_regs_call(&regs, fn, args, nargs, sp);
  if (!os_remote_regs_set(r->tid, &regs) || ptrace(PTRACE_CONT, (pid_t)r->tid, NULL, NULL) != 0) {
    snprintf(why, cap, "ptrace: %s", strerror(errno));
    return false;
  }
  long deadline = now_ms() + timeout_ms;
  for (;;) {
    int status;
    long left = deadline - now_ms();
    int got = wait_stop(r->tid, &status, left > 0 ? (int)left : 0);
    if (got < 0) {
      snprintf(why, cap, "the process ended during the call");
      return false;
    }
    if (got == 0) {
      /* abandoned: the thread goes back to where it was at resume */
      ptrace(PTRACE_INTERRUPT, (pid_t)r->tid, NULL, NULL);
      wait_stop(r->tid, &status, 2000);
      snprintf(why, cap, "the call did not return in %d ms; abandoned", timeout_ms);
      return false;
    }
    int sig = WSTOPSIG(status);
    if (sig == SIGSEGV && (status >> 16) == 0) {
      os_remote_regs_buf_t now;
      if (!os_remote_regs_get(r->tid, &now)) return false;
      if (os_remote_regs_pc(&now) == 0) {
        *ret = os_remote_regs_result(&now);
        return true;
      }
      snprintf(why, cap, "the call crashed (SIGSEGV at %#lx, calling %#lx); the thread was put back",
               (unsigned long)os_remote_regs_pc(&now), (unsigned long)fn);
      return false;
    }
    keep_signal(r, status);
    if (ptrace(PTRACE_CONT, (pid_t)r->tid, NULL, NULL) != 0) {
      snprintf(why, cap, "ptrace: %s", strerror(errno));
      return false;
    }
  }
}

void os_remote_use_stack(os_remote_t *r, uintptr_t top) { r->stack_top = top; }

void os_remote_resume(os_remote_t *r) {
  os_remote_regs_set(r->tid, &r->saved);
  ptrace(PTRACE_DETACH, (pid_t)r->tid, NULL, (void *)(uintptr_t)r->pending);
  if (r->mem > 0) close(r->mem);
  r->mem = -1;
}
