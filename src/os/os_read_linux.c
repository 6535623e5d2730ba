/* Linux: what the tracker's reachability scan needs to see the process's
 * own memory from the side: reads that fail instead of faulting, the
 * mappings, the loaded modules' data, the calling thread's thread-local
 * storage, and where the other threads stand. Nothing here calls malloc:
 * the scan runs inside a program whose heap is being watched. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "os/os.h"
#include "os/os_maps_linux.h"

/* ---- reading ---- */

/* Where process_vm_readv is refused (a seccomp filter), /proc/self/mem
 * does the same job; its descriptor is kept, and opened again after a
 * fork, since it names the process that opened it. */
static int mem_fd = -1;
static pid_t mem_pid;
static int vm_read_refused;

static size_t read_mem_file(uintptr_t addr, void *buf, size_t len) {
  pid_t me = getpid();
  if (mem_fd < 0 || mem_pid != me) {
    if (mem_fd >= 0) close(mem_fd);
    mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    mem_pid = me;
    if (mem_fd < 0) return 0;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(mem_fd, (char *)buf + done, len - done, (off_t)(addr + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  return done;
}

size_t os_read_own(const void *addr, void *buf, size_t len) {
  if (len == 0) return 0;
  if (!__atomic_load_n(&vm_read_refused, __ATOMIC_RELAXED)) {
    struct iovec local = {buf, len};
    struct iovec remote = {(void *)addr, len};
    for (;;) {
      ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
      if (n >= 0) return (size_t)n;
      if (errno == EINTR) continue;
      if (errno != ENOSYS && errno != EPERM) return 0; /* EFAULT: nothing readable at addr */
      __atomic_store_n(&vm_read_refused, 1, __ATOMIC_RELAXED);
      break;
    }
  }
  return read_mem_file((uintptr_t)addr, buf, len);
}

size_t os_read_own_many(const os_span_t *spans, size_t n, void *buf) {
  if (n > OS_READ_MANY_MAX) n = OS_READ_MANY_MAX;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += spans[i].len;
  if (total == 0) return 0;
  if (!__atomic_load_n(&vm_read_refused, __ATOMIC_RELAXED)) {
    struct iovec local = {buf, total};
    struct iovec remote[OS_READ_MANY_MAX];
    for (size_t i = 0; i < n; i++) remote[i] = (struct iovec){(void *)spans[i].addr, spans[i].len};
    for (;;) {
      /* a fault ends the copy at the end of the last range read whole */
      ssize_t got = process_vm_readv(getpid(), &local, 1, remote, n, 0);
      if (got >= 0) return (size_t)got;
      if (errno == EINTR) continue;
      if (errno != ENOSYS && errno != EPERM) return 0;
      __atomic_store_n(&vm_read_refused, 1, __ATOMIC_RELAXED);
      break;
    }
  }
  size_t done = 0;
  for (size_t i = 0; i < n; i++) {
    size_t got = read_mem_file((uintptr_t)spans[i].addr, (char *)buf + done, spans[i].len);
    done += got;
    if (got < spans[i].len) break;
  }
  return done;
}

/* ---- the mappings, from /proc/self/maps with a buffer on the stack ---- */

typedef struct mapping_query {
  uintptr_t addr;
  os_mapping_t *out;
  bool found;
} mapping_query_t;

/* perms is "rwxp offset dev inode path": the path is the fifth field on,
 * and the name "[stack]" is the main thread's */
static bool find_mapping(uintptr_t lo, uintptr_t hi, const char *perms, void *arg) {
  mapping_query_t *q = arg;
  if (q->addr >= hi) return false;
  if (q->addr < lo) return true; /* the lines come in address order: none holds it */
  os_mapping_t *m = q->out;
  m->lo = lo;
  m->hi = hi;
  m->prot = (perms[0] == 'r' ? OS_PROT_READ : 0) | (perms[1] == 'w' ? OS_PROT_WRITE : 0) |
            (perms[2] == 'x' ? OS_PROT_EXEC : 0);
  const char *p = perms;
  for (int field = 0; field < 4 && *p; field++) {
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
  }
  m->main_stack = strcmp(p, "[stack]") == 0;
  q->found = true;
  return true;
}

bool os_mapping_of(uintptr_t addr, os_mapping_t *out) {
  mapping_query_t q = {addr, out, false};
  return os_maps_each(find_mapping, &q) && q.found;
}

/* ---- modules ---- */

typedef struct data_walk {
  void (*fn)(uintptr_t lo, uintptr_t hi, bool holds_mark, void *arg);
  void *arg;
  uintptr_t mark;
} data_walk_t;

static int data_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  data_walk_t *w = arg;
  bool holds = false;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && w->mark >= lo && w->mark < lo + ph->p_memsz) holds = true;
  }
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0) continue;
    /* p_memsz covers .bss, the part mapped anonymously past the file */
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    w->fn(lo, lo + ph->p_memsz, holds, w->arg);
  }
  return 0;
}

void os_module_data_each(void (*fn)(uintptr_t lo, uintptr_t hi, bool holds_mark, void *arg),
                         const void *mark, void *arg) {
  data_walk_t w = {fn, arg, (uintptr_t)mark};
  dl_iterate_phdr(data_visit, &w);
}

void *os_symbol_next(const char *name) { return dlsym(RTLD_NEXT, name); }

typedef struct loader_walk {
  uintptr_t base, lo, hi;
} loader_walk_t;

static int loader_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  loader_walk_t *w = arg;
  if (info->dlpi_addr != w->base) return 0;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (w->lo == 0 || lo < w->lo) w->lo = lo;
    if (hi > w->hi) w->hi = hi;
  }
  return 1;
}

bool os_loader_range(uintptr_t *lo, uintptr_t *hi) {
  /* the kernel tells where it put the dynamic loader */
  loader_walk_t w = {(uintptr_t)getauxval(AT_BASE), 0, 0};
  if (w.base == 0) return false; /* a static program: no loader */
  dl_iterate_phdr(loader_visit, &w);
  *lo = w.lo;
  *hi = w.hi;
  return w.hi > w.lo;
}

/* ---- thread-local storage ---- */

/* The thread pointer: on x86-64 glibc, the thread's descriptor, which
 * begins with a pointer to itself; its static TLS lies just below. */
static uintptr_t thread_pointer(void) {
#if defined(__x86_64__)
  uintptr_t tp;
  __asm__("mov %%fs:0, %0" : "=r"(tp));
  return tp;
#else
  return 0;
#endif
}

#define STATIC_TLS_REACH ((uintptr_t)1 << 20) /* static TLS blocks lie this close below it */
#define DESCRIPTOR_SPAN 4096                 /* glibc's descriptor (~2.3 KiB) and a little */

typedef struct tls_walk {
  uintptr_t tp, low;
  uintptr_t *blocks;
  size_t n, max;
} tls_walk_t;

static int tls_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  tls_walk_t *w = arg;
  /* dlpi_tls_data came with glibc 2.12's larger struct */
  if (size < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof info->dlpi_tls_data) return 0;
  uintptr_t data = (uintptr_t)info->dlpi_tls_data;
  if (data == 0) return 0;
  if (w->n < w->max) w->blocks[w->n++] = data;
  if (data < w->tp && w->tp - data <= STATIC_TLS_REACH && data < w->low) w->low = data;
  return 0;
}

bool os_thread_area(uintptr_t *lo, uintptr_t *hi, uintptr_t *tp, uintptr_t *blocks,
                    size_t *nblocks) {
  tls_walk_t w = {thread_pointer(), 0, blocks, 0, blocks != NULL ? *nblocks : 0};
  if (nblocks != NULL) *nblocks = 0;
  if (w.tp == 0) return false;
  w.low = w.tp;
  dl_iterate_phdr(tls_visit, &w);
  *lo = w.low;
  *hi = w.tp + DESCRIPTOR_SPAN;
  *tp = w.tp;
  if (nblocks != NULL) *nblocks = w.n;
  return true;
}

/* A glibc thread's memory is one mapping: guard, stack, static TLS, and
 * the descriptor at the very top, in the last page. Mappings next to each
 * other with the same rights can merge into one, so the end of the mapping
 * is not always the end of the stack: the descriptor is found by what it
 * holds (x86-64: it points to itself at offsets 0 and 16, and holds the
 * process's stack-protector value at 0x28). */
uintptr_t os_thread_top(uintptr_t sp, uintptr_t map_hi) {
#if defined(__x86_64__) && defined(__GLIBC__)
  uintptr_t guard;
  __asm__("mov %%fs:0x28, %0" : "=r"(guard));
  uintptr_t page = os_page_size();
  uintptr_t words[512]; /* 4 KiB: 64-byte aligned pieces */
  for (uintptr_t at = sp & ~(page - 1); at < map_hi; at += sizeof words) {
    size_t got = os_read_own((const void *)at, words, sizeof words);
    /* the descriptor is 64-byte aligned; its first 0x30 bytes are checked */
    for (size_t i = 0; i + 6 <= got / sizeof(uintptr_t); i += 8) {
      uintptr_t x = at + i * sizeof(uintptr_t);
      if (x < sp || words[i] != x || words[i + 2] != x || words[i + 5] != guard) continue;
      uintptr_t end = (x & ~(page - 1)) + page; /* the page the descriptor starts in */
      return end < map_hi ? end : map_hi;
    }
  }
#else
  (void)sp;
#endif
  return map_hi;
}

/* ---- the other threads ---- */

struct dirent64_linux {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* "running", or "NR ARG1..ARG6 SP PC" in a system call, or "-1 SP PC"
 * stopped outside one, numbers in decimal or 0x hex. */
static bool parse_syscall(const char *s, os_thread_regs_t *t) {
  uintptr_t v[9];
  size_t n = 0;
  if (strncmp(s, "running", 7) == 0) {
    t->running = true;
    return true;
  }
  while (*s && n < 9) {
    while (*s == ' ') s++;
    if (*s == '\0' || *s == '\n') break;
    bool neg = *s == '-';
    if (neg) s++;
    uintptr_t x = 0;
    if (s[0] == '0' && s[1] == 'x') {
      s += 2;
      x = os_parse_hex(&s);
    } else {
      for (; *s >= '0' && *s <= '9'; s++) x = x * 10 + (uintptr_t)(*s - '0');
    }
    if (*s && *s != ' ' && *s != '\n') return false;
    v[n++] = neg ? (uintptr_t)0 - x : x;
  }
  if (n != 9 && n != 3) return false;
  t->running = false;
  t->sp = v[n - 2];
  t->nargs = n == 9 ? 6 : 0;
  for (size_t i = 0; i < t->nargs; i++) t->args[i] = v[1 + i];
  return true;
}

static void read_thread(long tid, os_thread_regs_t *t) {
  char path[64] = "/proc/self/task/";
  size_t len = strlen(path);
  char digits[24];
  size_t nd = 0;
  for (long v = tid; nd == 0 || v != 0; v /= 10) digits[nd++] = (char)('0' + v % 10);
  while (nd > 0) path[len++] = digits[--nd];
  memcpy(path + len, "/syscall", sizeof "/syscall");
  memset(t, 0, sizeof *t);
  t->tid = tid;
  t->running = true; /* unless the file says otherwise */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char line[256];
  ssize_t n;
  do n = read(fd, line, sizeof line - 1); while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return;
  line[n] = '\0';
  if (!parse_syscall(line, t)) t->running = true;
}

bool os_threads_each(void (*fn)(const os_thread_regs_t *t, void *arg), void *arg) {
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  long self = syscall(SYS_gettid);
  char buf[2048];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct dirent64_linux *d = (struct dirent64_linux *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      long tid = 0;
      for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++) tid = tid * 10 + (*c - '0');
      if (tid == self) continue;
      os_thread_regs_t t;
      read_thread(tid, &t);
      fn(&t, arg);
    }
  }
  close(fd);
  return true;
}

bool os_is_main_thread(void) { return syscall(SYS_gettid) == getpid(); }

typedef struct {
  void (*fn)(uintptr_t lo, uintptr_t hi, void *arg);
  void *arg;
} anon_t;

static bool anon_one(uintptr_t lo, uintptr_t hi, const char *p, void *arg) {
  anon_t *a = arg;
  if (p[0] != 'r' || p[1] != 'w' || p[3] != 'p') return false;
  p += 4;
  for (int field = 0; field < 2; field++) { /* offset, device */
    while (*p == ' ') p++;
    while (*p != ' ' && *p != '\0' && *p != '\n') p++;
  }
  while (*p == ' ') p++;
  if (*p != '0' || (p[1] != ' ' && p[1] != '\n' && p[1] != '\0')) return false; /* an inode: a file's */
  /* its resident runs only: what was never written holds nothing, and a
   * heap reserves far more than it touches */
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  unsigned char vec[4096];
  uintptr_t run = 0;
  for (uintptr_t at = lo; at < hi;) {
    size_t pages = (hi - at) / page < sizeof vec ? (hi - at) / page : sizeof vec;
    if (mincore((void *)at, pages * page, vec) != 0) {
      if (run != 0) a->fn(run, at, a->arg);
      run = 0;
      at += pages * page;
      continue;
    }
    for (size_t i = 0; i < pages; i++, at += page) {
      if ((vec[i] & 1) && run == 0) run = at;
      if (!(vec[i] & 1) && run != 0) {
        a->fn(run, at, a->arg);
        run = 0;
      }
    }
  }
  if (run != 0) a->fn(run, hi, a->arg);
  return false;
}

void os_anon_writable_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg) {
  anon_t a = {fn, arg};
  (void)os_maps_each(anon_one, &a);
}
