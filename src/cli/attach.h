/* `reheap attach` and `detach` (cmd_attach.c), and what they learn of the
 * process first (attach_target.c). */
#ifndef REHEAP_CLI_ATTACH_H
#define REHEAP_CLI_ATTACH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os/os_remote.h"

/* 0 when process pid may be attached to; else one line said why, and the
 * exit status (2). */
int rh_target_check(long pid, const char *verb);

typedef struct rh_target_lib {
  char path[PATH_MAX];
  uintptr_t exec_lo;      /* where its code is mapped */
  unsigned long exec_off; /* from that offset of its file */
  bool found;
} rh_target_lib_t;

/* The module of pid whose file name starts with name ("libc.so"). */
bool rh_target_lib(long pid, const char *name, rh_target_lib_t *out);
/* The address of lib's dynamic function name in pid. */
bool rh_target_symbol(long pid, const rh_target_lib_t *lib, const char *name, uintptr_t *addr);
/* The code ranges a thread must be out of for a call: returns how many. */
size_t rh_target_unsafe(long pid, os_code_range_t *out, size_t cap);

#endif
