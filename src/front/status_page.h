/* The status page of a process under `reheap run`, for `reheap stat PID`:
 * the answers a user checks first (is reheap's heap serving it, which of
 * the program's functions are patched, how many blocks), in an owner-only
 * file mapping both sides share. The process refreshes it from the heap's
 * periodic slow path while it allocates, and when `reheap stat` asks
 * (bumping request, a futex word, and waiting for done to reach it): a
 * thread of reheap's own, asleep otherwise, answers. Under --track the
 * tracker's library keeps the page instead (on any heap), with the
 * patched functions only: its own counters are what `reheap stat` shows. */
#ifndef REHEAP_FRONT_STATUS_PAGE_H
#define REHEAP_FRONT_STATUS_PAGE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define STATUS_MAGIC "reheap-status03" /* 16 bytes with its NUL, as magic[] */
#define STATUS_NAMES_MAX 64
#define STATUS_NAME_LEN 128

_Static_assert(sizeof STATUS_MAGIC == 16, "the magic fills magic[] exactly");

typedef struct status_page {
  char magic[16];
  uint32_t pid;
  char heap[32];                   /* "reheap's heap", "the system heap", ... */
  _Atomic uint32_t patched;        /* functions patched now */
  _Atomic uint64_t allocations, frees;
  _Atomic uint64_t updated_ms;     /* os_now_ms() of the last refresh */
  uint32_t request, done;          /* futex words: a refresh asked, and made */
  char names[STATUS_NAMES_MAX][STATUS_NAME_LEN]; /* the first ones' names */
  char refused[512];               /* why the profile was refused, "" if not */
} status_page_t;

/* Writes the heap's counts and the patched functions' names now. */
__attribute__((visibility("hidden"))) void status_page_refresh(void);

/* no allocation here: the preload library calls it before main */
static inline void status_page_path(long pid, char *buf, size_t cap) {
  const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(buf, cap, "%s/reheap.%ld.status", dir, pid);
}

#endif
