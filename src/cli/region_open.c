/* Finding the counters region of a process running under
 * `reheap run --track` (see src/track/counters.c), for stat and dump. */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "cli/cli.h"
#include "os/os.h"
#include "track/track_region.h"

long rh_parse_pid(const char *arg) {
  char *end;
  long pid = strtol(arg, &end, 10);
  return *end == '\0' && end != arg && pid > 0 ? pid : -1;
}

track_region_t *rh_region_open(long pid, bool writable, size_t *size, const char *verb) {
  char path[256];
  track_counters_path(pid, path, sizeof path);
  int fd = writable ? os_open_private_rw(path, size) : os_open_private_read(path, size);
  if (fd < 0 || *size < sizeof(track_region_t) || kill((pid_t)pid, 0) != 0) {
    if (fd >= 0) os_close(fd);
    fprintf(stderr, "reheap: %s: no live counters for process %ld: it must run under "
                    "'reheap run --track' (or be tracked by 'reheap attach') and belong to you\n", verb, pid);
    return NULL;
  }
  track_region_t *r = mmap(NULL, *size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  os_close(fd);
  if (r == MAP_FAILED || memcmp(r->magic, TRACK_REGION_MAGIC, sizeof r->magic) != 0 ||
      (long)r->pid != pid) {
    fprintf(stderr, "reheap: %s: %s is not the counters of process %ld (a reheap of another "
                    "version, or a stale file)\n", verb, path, pid);
    if (r != MAP_FAILED) munmap(r, *size);
    return NULL;
  }
  if (atomic_load(&r->detached)) {
    fprintf(stderr, "reheap: %s: process %ld is not tracked now ('reheap detach' ended it); "
                    "'reheap attach %ld' tracks it again\n", verb, pid, pid);
    munmap(r, *size);
    return NULL;
  }
  return r;
}
