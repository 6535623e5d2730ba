/* Linux: what the hook engine needs from the OS to change code. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "os/os.h"
#include "os/os_maps_linux.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Reads /proc/self/maps with read() into a stack buffer, not stdio: the
 * hook engine may run while malloc itself is being replaced. Calls fn for
 * each mapping until it returns true. */
uintptr_t os_parse_hex(const char **p) {
  uintptr_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return v;
    v = v * 16 + (uintptr_t)d;
  }
}

bool os_maps_each(bool (*fn)(uintptr_t lo, uintptr_t hi, const char *perms, void *arg), void *arg) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  size_t have = 0;
  bool stopped = false;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < have && !stopped; i++) {
      if (buf[i] != '\n') continue;
      buf[i] = '\0';
      const char *p = buf + start;
      uintptr_t lo = os_parse_hex(&p);
      if (*p == '-') {
        p++;
        uintptr_t hi = os_parse_hex(&p);
        if (*p == ' ') stopped = fn(lo, hi, p + 1, arg);
      }
      start = i + 1;
    }
    if (stopped) break;
    memmove(buf, buf + start, have - start);
    have -= start;
    if (have == sizeof buf) break; /* a line longer than the buffer: give up */
  }
  close(fd);
  return true;
}

typedef struct prot_query {
  uintptr_t addr;
  int prot;
} prot_query_t;

static bool find_prot(uintptr_t lo, uintptr_t hi, const char *perms, void *arg) {
  prot_query_t *q = arg;
  if (q->addr < lo || q->addr >= hi) return false;
  q->prot = (perms[0] == 'r' ? OS_PROT_READ : 0) | (perms[1] == 'w' ? OS_PROT_WRITE : 0) |
            (perms[2] == 'x' ? OS_PROT_EXEC : 0);
  return true;
}

typedef struct extent_query {
  uintptr_t addr, end;
} extent_query_t;

static bool find_end(uintptr_t lo, uintptr_t hi, const char *perms, void *arg) {
  extent_query_t *q = arg;
  if (q->end == 0) {
    if (q->addr >= lo && q->addr < hi && perms[0] == 'r') q->end = hi;
    return false;
  }
  /* a readable mapping right after extends the range */
  if (lo == q->end && perms[0] == 'r') {
    q->end = hi;
    return false;
  }
  return q->end != 0 && lo > q->end;
}

size_t os_readable_after(const void *addr) {
  extent_query_t q = {(uintptr_t)addr, 0};
  if (!os_maps_each(find_end, &q) || q.end == 0) return 0;
  return q.end - (uintptr_t)addr;
}

int os_prot_of(const void *addr) {
  prot_query_t q = {(uintptr_t)addr, -1};
  if (!os_maps_each(find_prot, &q)) return -1;
  return q.prot;
}

static int to_linux_prot(int prot) {
  return ((prot & OS_PROT_READ) ? PROT_READ : 0) | ((prot & OS_PROT_WRITE) ? PROT_WRITE : 0) |
         ((prot & OS_PROT_EXEC) ? PROT_EXEC : 0);
}

bool os_protect(void *addr, size_t len, int prot) {
  uintptr_t ps = (uintptr_t)os_page_size();
  uintptr_t lo = (uintptr_t)addr & ~(ps - 1);
  uintptr_t hi = ((uintptr_t)addr + len + ps - 1) & ~(ps - 1);
  return mprotect((void *)lo, hi - lo, to_linux_prot(prot)) == 0;
}

/* The free gaps of the address space, nearest to a point first: tried by
 * walking the mappings in order and keeping the best hint. */
typedef struct near_query {
  uintptr_t near, range, size, prev_hi, best;
  uintptr_t best_dist;
} near_query_t;

static void near_consider(near_query_t *q, uintptr_t gap_lo, uintptr_t gap_hi) {
  uintptr_t ps = (uintptr_t)os_page_size();
  gap_lo = (gap_lo + 0xFFFF) & ~(uintptr_t)0xFFFF; /* 64 KiB aligned, as the kernel likes */
  if (gap_lo < 0x10000) gap_lo = 0x10000;
  if (gap_hi < gap_lo || gap_hi - gap_lo < q->size) return;
  /* the candidate in this gap closest to near */
  uintptr_t cand;
  if (q->near < gap_lo) cand = gap_lo;
  else if (q->near + q->size > gap_hi) cand = (gap_hi - q->size) & ~(ps - 1) & ~(uintptr_t)0xFFFF;
  else cand = q->near & ~(uintptr_t)0xFFFF;
  if (cand < gap_lo || cand + q->size > gap_hi) return;
  uintptr_t far_end = cand + q->size;
  uintptr_t dist = cand > q->near ? far_end - q->near : q->near - cand;
  if (dist <= q->range && dist < q->best_dist) {
    q->best = cand;
    q->best_dist = dist;
  }
}

static bool near_visit(uintptr_t lo, uintptr_t hi, const char *perms, void *arg) {
  (void)perms;
  near_query_t *q = arg;
  if (lo > q->prev_hi) near_consider(q, q->prev_hi, lo);
  if (hi > q->prev_hi) q->prev_hi = hi;
  return false;
}

void *os_map_code_near(const void *near, size_t size, size_t range, bool *refused) {
  *refused = false;
  for (int attempt = 0; attempt < 4; attempt++) {
    near_query_t q = {(uintptr_t)near, range, size, 0, 0, (uintptr_t)-1};
    if (!os_maps_each(near_visit, &q)) return NULL;
#if UINTPTR_MAX > 0xFFFFFFFFu
    near_consider(&q, q.prev_hi, (uintptr_t)1 << 47);
#else
    near_consider(&q, q.prev_hi, UINTPTR_MAX & ~(uintptr_t)0xFFFF);
#endif
    if (q.best == 0) return NULL;
    void *p = mmap((void *)q.best, size, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == (void *)q.best) return p;
    if (p != MAP_FAILED) munmap(p, size);
    if (p == MAP_FAILED && (errno == EPERM || errno == EACCES)) {
      *refused = true;
      return NULL;
    }
    /* someone mapped the gap meanwhile: look again */
  }
  return NULL;
}

size_t os_symbol_size(const void *addr, const void **start) {
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 || sym == NULL ||
      info.dli_saddr == NULL)
    return 0;
  if (start != NULL) *start = info.dli_saddr;
  return (size_t)sym->st_size;
}

void *os_symbol_lookup(const char *name) { return dlsym(RTLD_DEFAULT, name); }

bool os_symbolize(const void *addr, char *name, size_t name_cap, char *module, size_t module_cap,
                  uintptr_t *offset) {
  Dl_info info;
  if (dladdr(addr, &info) == 0) return false;
  const char *sym = info.dli_sname ? info.dli_sname : "";
  const char *mod = info.dli_fname ? info.dli_fname : "";
  size_t n = strlen(sym);
  if (n >= name_cap) n = name_cap - 1;
  memcpy(name, sym, n);
  name[n] = '\0';
  n = strlen(mod);
  if (n >= module_cap) n = module_cap - 1;
  memcpy(module, mod, n);
  module[n] = '\0';
  uintptr_t base = (uintptr_t)(info.dli_saddr ? info.dli_saddr : info.dli_fbase);
  *offset = (uintptr_t)addr - base;
  return true;
}
