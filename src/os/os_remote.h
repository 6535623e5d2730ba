/* Calls into another process, through ptrace: one of its threads is
 * stopped where it holds none of the locks a call may need, made to call
 * a function with arguments, and put back exactly where it was. For
 * `reheap attach` and `detach`; not part of os.h, which the heap and the
 * libraries loaded into programs use. Linux (os_remote_linux.c) with each
 * architecture's registers apart (os_remote_x86_64.c). */
#ifndef REHEAP_OS_REMOTE_H
#define REHEAP_OS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct os_remote os_remote_t;

/* A code range where a thread must not be stopped for a call (the C
 * library's and the loader's code: it may hold their locks there). */
typedef struct os_code_range {
  uintptr_t lo, hi;
} os_code_range_t;

/* Stops a thread of pid (the main one first) at a safe point: outside
 * the ranges given, or blocked in a system call that holds no lock.
 * NULL with why filled (and *err the errno: EPERM when ptrace refused,
 * ESRCH when the process is gone, ETIMEDOUT when no thread came to a safe
 * point in a few seconds). */
os_remote_t *os_remote_stop(long pid, const os_code_range_t *unsafe, size_t nunsafe, int *err, char *why,
                            size_t cap);
/* Calls fn(args...) (at most 6 integer or pointer arguments) in the
 * stopped thread, on a stack of its own; *ret gets what fn returned.
 * False with why filled when the call crashed, the process ended, or it
 * did not return within timeout_ms (the thread is then put back where it
 * was, the call abandoned). */
bool os_remote_call(os_remote_t *r, uintptr_t fn, const uintptr_t *args, size_t nargs, int timeout_ms,
                    uintptr_t *ret, char *why, size_t cap);
/* Copies len bytes into the process's memory at addr (memory a call
 * returned). */
bool os_remote_write(os_remote_t *r, uintptr_t addr, const void *data, size_t len);
/* Reads len bytes of the process's memory at addr. */
bool os_remote_read(os_remote_t *r, uintptr_t addr, void *buf, size_t len);
/* Later calls run on the stack whose top is top (memory a call mapped). */
void os_remote_use_stack(os_remote_t *r, uintptr_t top);
/* Puts the thread back exactly as it was stopped (registers, the system
 * call it was in, a signal that came meanwhile) and lets it go. */
void os_remote_resume(os_remote_t *r);

/* ---- the architecture's part (os_remote_x86_64.c) ---- */
/* (the general registers and the vector and floating-point state) */
#define OS_REMOTE_REGS_BYTES (512 + 16384)
typedef struct os_remote_regs_buf {
  _Alignas(16) unsigned char bytes[OS_REMOTE_REGS_BYTES];
} os_remote_regs_buf_t;
/* Reads and writes a stopped thread's registers, all of them: the code
 * it was stopped in may hold live values in vector registers, which the
 * call overwrites. */
bool os_remote_regs_get(long tid, os_remote_regs_buf_t *regs);
bool os_remote_regs_set(long tid, const os_remote_regs_buf_t *regs);
uintptr_t os_remote_regs_pc(const os_remote_regs_buf_t *regs);
uintptr_t os_remote_regs_sp(const os_remote_regs_buf_t *regs);
/* The system call the thread was stopped blocked in, or -1 (also when
 * stopped just as one returned: it then runs the C library's code). */
long os_remote_regs_syscall(const os_remote_regs_buf_t *regs);
/* Whether the system call the thread is in blocks without holding a lock
 * of the C library's: sleeping, waiting for input or a child, or on a
 * futex that is no lock's (a lock's waiter may hold other locks: fork
 * waits for the heap's locks holding those its handlers took). */
bool os_remote_syscall_safe(const os_remote_regs_buf_t *regs);
/* Makes regs call fn(args) with the stack at sp (16-aligned, the return
 * address 0 already below it) so that the call returns to address 0. */
void os_remote_regs_call(os_remote_regs_buf_t *regs, uintptr_t fn, const uintptr_t *args, size_t nargs,
                         uintptr_t sp);
uintptr_t os_remote_regs_result(const os_remote_regs_buf_t *regs);

#endif
