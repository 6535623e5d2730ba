/* Linux implementation of os.h. */
#include "os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

size_t os_page_size(void) {
  static size_t cached;
  if (cached == 0) {
    long v = sysconf(_SC_PAGESIZE);
    cached = v > 0 ? (size_t)v : 4096;
  }
  return cached;
}

static void *map_plain(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void *os_map_aligned(size_t size, size_t align, size_t offset) {
  /* Ask for exactly size first: the kernel hands out addresses downward in
   * steps of our own mappings, so an aligned result is common and saves two
   * trims. */
  void *p = map_plain(size);
  if (p == NULL) return NULL;
  if ((((uintptr_t)p + offset) & (align - 1)) == 0) return p;
  munmap(p, size);
  if (size + align < size) return NULL;
  char *raw = map_plain(size + align);
  if (raw == NULL) return NULL;
  uintptr_t start = (((uintptr_t)raw + offset + align - 1) & ~(uintptr_t)(align - 1)) - offset;
  size_t head = start - (uintptr_t)raw;
  size_t tail = align - head;
  if (head) munmap(raw, head);
  if (tail) munmap((char *)start + size, tail);
  return (void *)start;
}

void os_unmap(void *p, size_t size) {
  if (p != NULL && size != 0) munmap(p, size);
}

void os_purge(void *p, size_t size) {
  /* MADV_DONTNEED rather than MADV_FREE: the resident size drops at once
   * (what users measure), and the pages read back as zeros, which lets the
   * heap skip clearing them for calloc. */
  if (size != 0) madvise(p, size, MADV_DONTNEED);
}

bool os_move_pages(void *old, size_t old_size, void *new_addr, size_t new_size) {
  void *r = mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr);
  return r == new_addr;
}

uint64_t os_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* A test-and-test-and-set lock that yields: the global structures it guards
 * are touched on slow paths only, and a futex would buy nothing there. */
void os_lock(os_lock_t *l) {
  _Atomic int *s = (_Atomic int *)&l->state;
  for (unsigned spins = 0;; spins++) {
    if (atomic_load_explicit(s, memory_order_relaxed) == 0 &&
        atomic_exchange_explicit(s, 1, memory_order_acquire) == 0)
      return;
    if (spins > 64) sched_yield();
    else cpu_relax();
  }
}

void os_unlock(os_lock_t *l) {
  atomic_store_explicit((_Atomic int *)&l->state, 0, memory_order_release);
}

void os_lock_reset(os_lock_t *l) {
  atomic_store_explicit((_Atomic int *)&l->state, 0, memory_order_relaxed);
}

__thread void *os_heap_word __attribute__((tls_model("initial-exec")));

uintptr_t os_thread_self(void) { return (uintptr_t)pthread_self(); }

static pthread_key_t exit_key;

bool os_thread_exit_init(void (*fn)(void *)) {
  return pthread_key_create(&exit_key, fn) == 0;
}

void os_thread_exit_set(void *value) {
  pthread_setspecific(exit_key, value);
}

_Static_assert(sizeof(pthread_key_t) == sizeof(os_thread_key_t), "os_thread_key_t holds a key");

bool os_thread_key_new(os_thread_key_t *key, void (*fn)(void *)) {
  pthread_key_t k;
  if (pthread_key_create(&k, fn) != 0) return false;
  *key = (os_thread_key_t)k;
  return true;
}

void os_thread_key_set(os_thread_key_t key, void *value) { pthread_setspecific((pthread_key_t)key, value); }

bool os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  return pthread_atfork(prepare, parent, child) == 0;
}

void os_write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += n;
    len -= (size_t)n;
  }
}

int os_create_private_file(const char *path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  /* A regular file that existed may have had wider rights: narrow them.
   * Anything else (/dev/null, a terminal, a pipe) is written as it is:
   * its rights are not reheap's to change. */
  struct stat st;
  if (fstat(fd, &st) != 0 || (S_ISREG(st.st_mode) && fchmod(fd, 0600) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

void *os_map_file_shared(int fd, size_t size, bool writable) {
  if (writable && ftruncate(fd, (off_t)size) != 0) return NULL;
  void *p = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? NULL : p;
}

static int open_private(const char *path, int mode, size_t *size) {
  int fd = open(path, mode | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  /* only the owner's own files, and only regular ones */
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077) != 0) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  *size = (size_t)st.st_size;
  return fd;
}

int os_open_private_read(const char *path, size_t *size) { return open_private(path, O_RDONLY, size); }
int os_open_private_rw(const char *path, size_t *size) { return open_private(path, O_RDWR, size); }

void os_close(int fd) { close(fd); }

long os_read_small_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  long have = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > cap) have = -1;
  for (ssize_t n; have >= 0 && (size_t)have < cap && (n = read(fd, buf + have, cap - (size_t)have)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    have = n < 0 ? -1 : have + n;
  }
  close(fd);
  return have;
}
void os_remove(const char *path) { unlink(path); }

bool os_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool os_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
