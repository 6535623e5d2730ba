/* x86-64's registers for os_remote_linux.c: the System V calling
 * convention (rdi, rsi, rdx, rcx, r8, r9; the result in rax; 16-byte
 * stack alignment at the call), and orig_rax, which tells the system call
 * a thread was stopped in, and set to -1 keeps the kernel from restarting
 * one when the thread runs the call. */
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/user.h>

#include "os/os_remote.h"

_Static_assert(sizeof(struct user_regs_struct) <= OS_REMOTE_REGS_BYTES, "registers fit");

static struct user_regs_struct *R(os_remote_regs_buf_t *b) { return (struct user_regs_struct *)b->bytes; }
static const struct user_regs_struct *CR(const os_remote_regs_buf_t *b) {
  return (const struct user_regs_struct *)b->bytes;
}

bool os_remote_regs_get(long tid, os_remote_regs_buf_t *regs) {
  return ptrace(PTRACE_GETREGS, (pid_t)tid, NULL, R(regs)) == 0;
}

bool os_remote_regs_set(long tid, const os_remote_regs_buf_t *regs) {
  return ptrace(PTRACE_SETREGS, (pid_t)tid, NULL, CR(regs)) == 0;
}

uintptr_t os_remote_regs_pc(const os_remote_regs_buf_t *regs) { return CR(regs)->rip; }
uintptr_t os_remote_regs_sp(const os_remote_regs_buf_t *regs) { return CR(regs)->rsp; }
/* In a system call, and stopped while blocked in it (its result one of
 * the kernel's restart codes, or EINTR): a thread stopped just as a call
 * returned has orig_rax set as well, and is running the C library's code
 * after it, perhaps holding a lock (a futex wake on the way out of one). */
long os_remote_regs_syscall(const os_remote_regs_buf_t *regs) {
  long nr = (long)CR(regs)->orig_rax, rax = (long)CR(regs)->rax;
  bool blocked = rax == -4 /* EINTR */ || (rax <= -512 && rax >= -516); /* ERESTARTSYS..ERESTART_RESTARTBLOCK */
  return nr >= 0 && blocked ? nr : -1;
}

bool os_remote_syscall_safe(const os_remote_regs_buf_t *regs) {
  const struct user_regs_struct *r = CR(regs);
  long nr = (long)r->orig_rax;
  /* glibc's locks wait with the word at 2 (locked, with waiters); a
   * condition variable, a join or a semaphore with other values */
  if (nr == SYS_futex) {
    unsigned op = (unsigned)r->rsi & 127u;
    return (op == 0 /* FUTEX_WAIT */ || op == 9 /* FUTEX_WAIT_BITSET */) && r->rdx != 2;
  }
  switch (nr) {
  case SYS_read: case SYS_poll: case SYS_select: case SYS_pause: case SYS_nanosleep: case SYS_accept:
  case SYS_recvfrom: case SYS_recvmsg: case SYS_wait4: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait:
  case SYS_clock_nanosleep: case SYS_epoll_wait: case SYS_waitid: case SYS_pselect6:
  case SYS_ppoll: case SYS_epoll_pwait: case SYS_accept4:
    return true;
  default:
    return false;
  }
}

void os_remote_regs_call(os_remote_regs_buf_t *regs, uintptr_t fn, const uintptr_t *args, size_t nargs,
                         uintptr_t sp) {
  struct user_regs_struct *r = R(regs);
  unsigned long long *slots[6] = {&r->rdi, &r->rsi, &r->rdx, &r->rcx, &r->r8, &r->r9};
  for (size_t i = 0; i < 6; i++) *slots[i] = i < nargs ? args[i] : 0;
  r->rip = fn;
  r->rsp = sp; /* (the return address at sp: as just after a call) */
  r->rax = 0;  /* no vector registers used by a variadic callee */
  r->orig_rax = (unsigned long long)-1;
}

uintptr_t os_remote_regs_result(const os_remote_regs_buf_t *regs) { return CR(regs)->rax; }
