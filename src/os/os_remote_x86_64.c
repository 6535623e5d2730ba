/* x86-64's registers for os_remote_linux.c: the System V calling
 * convention (rdi, rsi, rdx, rcx, r8, r9; the result in rax; 16-byte
 * stack alignment at the call), and orig_rax, which tells the system call
 * a thread was stopped in, and set to -1 keeps the kernel from restarting
 * one when the thread runs the call. */
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <elf.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "os/os_remote.h"

/* The general registers, then the XSAVE area (x87, SSE, AVX and what
 * else the CPU has) as PTRACE_GETREGSET gives it. */
typedef struct all_regs {
  struct user_regs_struct gp;
  size_t xlen;
  _Alignas(64) unsigned char xstate[16384];
} all_regs_t;
_Static_assert(sizeof(all_regs_t) <= OS_REMOTE_REGS_BYTES, "registers fit");

static struct user_regs_struct *R(os_remote_regs_buf_t *b) { return &((all_regs_t *)b->bytes)->gp; }
static const struct user_regs_struct *CR(const os_remote_regs_buf_t *b) {
  return &((const all_regs_t *)b->bytes)->gp;
}

bool os_remote_regs_get(long tid, os_remote_regs_buf_t *regs) {
  all_regs_t *a = (all_regs_t *)regs->bytes;
  if (ptrace(PTRACE_GETREGS, (pid_t)tid, NULL, &a->gp) != 0) return false;
  struct iovec v = {a->xstate, sizeof a->xstate};
  if (ptrace(PTRACE_GETREGSET, (pid_t)tid, (void *)(uintptr_t)NT_X86_XSTATE, &v) == 0) {
    a->xlen = v.iov_len;
    return true;
  }
  /* no XSAVE: the SSE state */
  struct user_fpregs_struct *fp = (struct user_fpregs_struct *)a->xstate;
  if (ptrace(PTRACE_GETFPREGS, (pid_t)tid, NULL, fp) != 0) return false;
  a->xlen = 0;
  return true;
}

bool os_remote_regs_set(long tid, const os_remote_regs_buf_t *regs) {
  const all_regs_t *a = (const all_regs_t *)regs->bytes;
  if (ptrace(PTRACE_SETREGS, (pid_t)tid, NULL, &a->gp) != 0) return false;
  if (a->xlen != 0) {
    struct iovec v = {(void *)a->xstate, a->xlen};
    return ptrace(PTRACE_SETREGSET, (pid_t)tid, (void *)(uintptr_t)NT_X86_XSTATE, &v) == 0;
  }
  return ptrace(PTRACE_SETFPREGS, (pid_t)tid, NULL, (void *)a->xstate) == 0;
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
