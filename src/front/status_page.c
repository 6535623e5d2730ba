/* The process's side of the status page (status_page.h): made at start in
 * the process `reheap run` started (REHEAP_STATUS_PID), refreshed from the
 * heap's periodic slow path, removed at exit. */
#include "front/status_page.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc_front.h"
#include "front/takeover.h"
#include "os/os.h"
#include "reheap/alloc.h"

static status_page_t *page;
static char path[256];
static pid_t owner;

void status_page_refresh(void) {
  status_page_t *p = page;
  if (p == NULL || getpid() != owner) return;
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  atomic_store_explicit(&p->allocations, st.allocations, memory_order_relaxed);
  atomic_store_explicit(&p->frees, st.frees, memory_order_relaxed);
  size_t n = takeover_count();
  if (atomic_load_explicit(&p->patched, memory_order_relaxed) != n) {
    for (size_t i = 0; i < n && i < STATUS_NAMES_MAX; i++) {
      const char *name = takeover_name(i);
      size_t len = strlen(name);
      if (len >= STATUS_NAME_LEN) len = STATUS_NAME_LEN - 1;
      memcpy(p->names[i], name, len);
      p->names[i][len] = '\0';
    }
    atomic_store_explicit(&p->patched, (uint32_t)n, memory_order_release);
  }
  atomic_store_explicit(&p->updated_ms, os_now_ms(), memory_order_release);
}

/* The thread that refreshes the page when `reheap stat` asks. */
static void answer(void *arg) {
  status_page_t *p = arg;
  for (;;) {
    uint32_t req = __atomic_load_n(&p->request, __ATOMIC_ACQUIRE);
    if (req == __atomic_load_n(&p->done, __ATOMIC_ACQUIRE)) {
      os_wait_on(&p->request, req, -1);
      continue;
    }
    status_page_refresh();
    __atomic_store_n(&p->done, req, __ATOMIC_RELEASE);
    os_wake_on(&p->done);
  }
}

/* before the takeover's constructor, which refreshes the page once its
 * hooks are in */
__attribute__((constructor(65000))) static void status_page_open(void) {
  const char *want = getenv("REHEAP_STATUS_PID");
  if (want == NULL || atol(want) != (long)getpid()) return;
  status_page_path((long)getpid(), path, sizeof path);
  int fd = os_create_private_file(path);
  if (fd < 0) return;
  status_page_t *p = os_map_file_shared(fd, sizeof *p, true);
  os_close(fd);
  if (p == NULL) {
    os_remove(path);
    return;
  }
  memcpy(p->magic, STATUS_MAGIC, sizeof p->magic);
  p->pid = (uint32_t)getpid();
  owner = getpid();
  page = p;
  status_page_refresh();
  heap_set_periodic(status_page_refresh);
  /* under --track the tracker's counters answer, and a thread of ours
   * would show in its report (its start allocates) */
  const char *tracked = getenv("REHEAP_TRACK_PID");
  if (tracked == NULL || tracked[0] == '\0') os_thread_start(answer, p);
}

__attribute__((destructor)) static void status_page_close(void) {
  if (page != NULL && getpid() == owner) os_remove(path);
}
