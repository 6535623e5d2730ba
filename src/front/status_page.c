/* The process's side of the status page (status_page.h): made at start in
 * the process `reheap run` started (REHEAP_STATUS_PID), by the library
 * REHEAP_STATUS_IN names ("reheap", or "track" under --track), refreshed
 * from reheap's heap's periodic slow path or, in the tracker, when the
 * takeover is installed; removed at exit. */
#include "front/status_page.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/takeover.h"
#include "os/os.h"
#ifndef REHEAP_TAKEOVER_IN_TRACKER
#include "alloc/alloc_front.h"
#include "reheap/alloc.h"
#define HOLDER "reheap"
#else
#define HOLDER "track"
#endif

static status_page_t *page;
static char path[256];
static pid_t owner;

void status_page_refresh(void) {
  status_page_t *p = page;
  if (p == NULL || getpid() != owner) return;
#ifndef REHEAP_TAKEOVER_IN_TRACKER
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  atomic_store_explicit(&p->allocations, st.allocations, memory_order_relaxed);
  atomic_store_explicit(&p->frees, st.frees, memory_order_relaxed);
#endif
  const char *refused = takeover_refusal();
  if (refused != NULL && p->refused[0] == '\0') {
    size_t len = strlen(refused);
    if (len >= sizeof p->refused) len = sizeof p->refused - 1;
    memcpy(p->refused, refused, len);
    p->refused[len] = '\0';
  }
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

#ifndef REHEAP_TAKEOVER_IN_TRACKER
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
#endif

/* before the takeover's constructor, which refreshes the page once its
 * hooks are in */
__attribute__((constructor(65000))) static void status_page_open(void) {
  const char *want = getenv("REHEAP_STATUS_PID"), *in = getenv("REHEAP_STATUS_IN");
  if (want == NULL || atol(want) != (long)getpid()) return;
  if (strcmp(in != NULL && in[0] != '\0' ? in : "reheap", HOLDER) != 0) return;
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
  const char *heap = getenv("REHEAP_STATUS_HEAP");
  snprintf(p->heap, sizeof p->heap, "%s", heap != NULL && heap[0] != '\0' ? heap : "reheap's heap");
  owner = getpid();
  page = p;
  status_page_refresh();
#ifndef REHEAP_TAKEOVER_IN_TRACKER
  heap_set_periodic(status_page_refresh);
  os_thread_start(answer, p);
#endif
}

__attribute__((destructor)) static void status_page_close(void) {
  if (page != NULL && getpid() == owner) os_remove(path);
}
