/* The only door to the operating system. Every OS call reheap makes goes
 * through here, so that a Windows or another port is one new file
 * (os_windows.c) and nothing else. */
#ifndef REHEAP_OS_H
#define REHEAP_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Size of an OS page (4 KiB on x86-64 Linux). */
size_t os_page_size(void);

/* Maps size bytes of zeroed read-write memory at an address p such that
 * p + offset is a multiple of align (a power of two >= the page size; offset
 * a multiple of the page size below align). Returns NULL when the OS refuses.
 * No separate commit is needed: pages are backed on first touch. On Windows
 * offset must also be a multiple of the allocation granularity (64 KiB):
 * a reservation starts on one. */
void *os_map_aligned(size_t size, size_t align, size_t offset);
/* Gives a mapping (or a page-aligned part of one) back to the OS. */
void os_unmap(void *p, size_t size);
/* Tells the OS that these pages' contents are no longer needed: the memory
 * stays mapped and reads back as zeros, but stops counting as resident. */
void os_purge(void *p, size_t size);
/* Moves the pages of [old, old+old_size) to new_addr (a mapping of at least
 * new_size bytes that the caller already holds), without copying. Returns
 * false when the OS cannot; the caller then copies. */
bool os_move_pages(void *old, size_t old_size, void *new_addr, size_t new_size);

/* Coarse monotonic clock in milliseconds: cheap enough for slow paths. */
uint64_t os_now_ms(void);

/* A lock for the heap's rare global structures. Plain enough to be reset in
 * a forked child. */
typedef struct os_lock_s {
  int state;
} os_lock_t;
#define OS_LOCK_INIT {0}
void os_lock(os_lock_t *l);
void os_unlock(os_lock_t *l);
/* Makes the lock free again, whoever held it (fork child only). */
void os_lock_reset(os_lock_t *l);

/* The heap's word per thread (os_heap_word.h): os_heap_word_get() and
 * os_heap_word_set(v). */
#include "os/os_heap_word.h"
/* An identity of the calling thread, distinct among live threads; cheap. */
uintptr_t os_thread_self(void);

/* Thread-exit hook: calls fn(value) when a thread whose value was set with
 * os_thread_exit_set() ends. os_thread_exit_init() must succeed first. */
bool os_thread_exit_init(void (*fn)(void *));
void os_thread_exit_set(void *value);

/* More thread-exit hooks, for parts other than the heap: fn(value) runs
 * when a thread whose value for the key is set ends. */
typedef unsigned int os_thread_key_t;
bool os_thread_key_new(os_thread_key_t *key, void (*fn)(void *));
void os_thread_key_set(os_thread_key_t key, void *value);

/* Registers the fork handlers (before, in parent after, in child after). */
bool os_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* Creates (or empties) a file only its owner can read or write, refusing
 * to follow a symbolic link planted at its name; -1 on failure. A device
 * or pipe at that name (/dev/null) is opened as it is, its rights left
 * alone. */
int os_create_private_file(const char *path);

/* Maps a file shared (size bytes; writable: sized to it first). */
void *os_map_file_shared(int fd, size_t size, bool writable);
/* Opens for reading a regular file that the caller owns and no one else
 * may read, without following a symbolic link; *size gets its size. */
int os_open_private_read(const char *path, size_t *size);
/* The same, for reading and writing (a region another process shares). */
int os_open_private_rw(const char *path, size_t *size);
void os_close(int fd);
/* Reads a whole small file (settings) into buf, at most cap bytes; its
 * length, or -1 when it cannot be read or is larger. Not a symbolic link,
 * nor anything but a regular file. */
long os_read_small_file(const char *path, char *buf, size_t cap);
bool os_is_dir(const char *path);
bool os_is_file(const char *path); /* a regular file (through links) */
void os_remove(const char *path);

/* Sleeps while *word (shared with other processes) equals seen, at most
 * timeout_ms (-1: no limit); false when the time ran out. */
bool os_wait_on(uint32_t *word, uint32_t seen, int timeout_ms);
/* Wakes every thread and process waiting on *word. */
void os_wake_on(uint32_t *word);
/* Runs fn(arg) on a new detached thread that takes no signals. */
bool os_thread_start(void (*fn)(void *), void *arg);
/* Marks the calling thread as one of reheap's own (on) or no longer
 * (off): os_stop_world does not wait for it to park, only to be asleep. */
void os_thread_mark_helper(bool on);
/* Forgets every mark (in a child of fork). */
void os_thread_helpers_forget(void);

/* Writes the whole buffer to fd, retrying on EINTR; no allocation. */
void os_write_all(int fd, const char *buf, size_t len);

/* Windows only (os_process_windows.c): runs command_line with library
 * loaded into it before its first instruction, and waits for it; its exit
 * status, or -1 with why when it could not be started that way. */
int os_run_with_library(const char *command_line, const char *library, char *why, size_t cap);

/* ---- code (os_code_*.c): what the hook engine needs ---- */
#define OS_PROT_READ 1
#define OS_PROT_WRITE 2
#define OS_PROT_EXEC 4
/* Protection of the page holding addr (OS_PROT_* bits), or -1 if unmapped. */
int os_prot_of(const void *addr);
/* How many bytes from addr on can be read (to the end of its mapping and
 * of readable mappings right after it); 0 if addr is not readable. */
size_t os_readable_after(const void *addr);
/* Sets the protection of every page touching [addr, addr+len). */
bool os_protect(void *addr, size_t len, int prot);
/* Maps size bytes of read-write-execute memory whose every byte lies within
 * range bytes of near; NULL when there is no such gap, or when the system
 * refuses writable code (then *refused is set). */
void *os_map_code_near(const void *near, size_t size, size_t range, bool *refused);
/* Size of the symbol that contains addr (from the dynamic symbol tables),
 * and its start in *start; 0 when unknown. */
size_t os_symbol_size(const void *addr, const void **start);
/* Names the code at addr from the dynamic symbol tables: the symbol
 * containing it (or "" if none), the module's path, and addr's offset from
 * the symbol (or the module). False when addr is in no module. */
bool os_symbolize(const void *addr, char *name, size_t name_cap, char *module, size_t module_cap,
                  uintptr_t *offset);
/* Address of the first definition of name in the process's global scope,
 * or NULL. */
void *os_symbol_lookup(const char *name);
/* Where the loaded module called name (its path or file name; the program
 * answers to its own) begins, its ELF header; 0 if none is loaded. */
uintptr_t os_module_base(const char *name);
/* Whether addr lies in the program itself (not one of its libraries). */
bool os_in_program(const void *addr);
/* Whether addr lies in an executable segment of a loaded module. */
bool os_module_code(const void *addr);
/* Name's definition in that module itself; NULL if it has none. */
void *os_module_symbol(const char *name, const char *symbol);
/* Calls fn on every loaded module, the program first (by its file's path),
 * with its path and load bias (what its ELF addresses are offset by),
 * until fn returns false; name, when not NULL, keeps only the modules it
 * names (as os_module_base matches them). */
void os_module_each(const char *name, bool (*fn)(const char *path, uintptr_t bias, void *arg), void *arg);
/* Calls fn on every executable loaded segment of the modules name names
 * (as os_module_base matches them): [lo, hi) as mapped. */
void os_module_code_each(const char *name, void (*fn)(const uint8_t *lo, const uint8_t *hi, void *arg),
                         void *arg);
/* A shared library loaded by path (dlopen), and a symbol of it; NULL
 * when it cannot be. */
void *os_library_open(const char *path);
void *os_library_symbol(void *library, const char *symbol);

/* Stops every other thread of the process (threads started meanwhile
 * included), runs work, calls fix_ip on each one's saved instruction
 * pointer (it may move it, knowing what work did), and lets them go. False when a thread could not be
 * stopped within 5 s: then work did not run. */
bool os_stop_world(void (*work)(void *arg), void (*fix_ip)(uintptr_t *ip, void *arg), void *arg);

/* ---- the process seen from the side (os_read_linux.c): for the
 * tracker's scan of what is still reachable ---- */
/* Copies up to len bytes at addr of this process into buf without
 * touching addr itself: memory unmapped meanwhile (by another thread)
 * shortens the copy instead of faulting. Returns the bytes copied, from
 * addr on (0 when nothing there can be read). */
size_t os_read_own(const void *addr, void *buf, size_t len);
/* The same for up to OS_READ_MANY_MAX ranges at once (one system call),
 * copied one after the other into buf. Returns the bytes copied: the
 * copy stops at the first range that cannot be read whole, and the
 * ranges before it are whole. */
typedef struct os_span {
  const void *addr;
  size_t len;
} os_span_t;
#define OS_READ_MANY_MAX 64
size_t os_read_own_many(const os_span_t *spans, size_t n, void *buf);

typedef struct os_mapping {
  uintptr_t lo, hi;
  int prot;        /* OS_PROT_* bits */
  bool main_stack; /* the main thread's stack */
} os_mapping_t;
/* The mapping holding addr; false when none does. */
bool os_mapping_of(uintptr_t addr, os_mapping_t *m);

/* Calls fn on the writable segments of every loaded module (initialised
 * data and bss, as loaded); holds_mark says whether the module is the one
 * whose code or data holds the address mark. */
void os_module_data_each(void (*fn)(uintptr_t lo, uintptr_t hi, bool holds_mark, void *arg),
                         const void *mark, void *arg);
/* Calls fn on every private writable mapping no file backs (heaps,
 * threads' stacks, anonymous memory), a run of resident pages at a time
 * (pages swapped out are skipped with those never written). */
void os_anon_writable_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);
/* The definition of name that comes after the calling module's own in
 * symbol order (dlsym's RTLD_NEXT), or NULL. */
void *os_symbol_next(const char *name);
/* Where the dynamic loader's code and data lie; false without one. */
bool os_loader_range(uintptr_t *lo, uintptr_t *hi);

/* The calling thread's static thread-local storage and thread descriptor:
 * [*lo, *hi), around the thread pointer *tp (not clipped to a mapping);
 * blocks (capacity *nblocks on entry, count on return) gets the address
 * of each module's TLS block for this thread, wherever it was allocated.
 * False where the thread pointer is unknown. */
bool os_thread_area(uintptr_t *lo, uintptr_t *hi, uintptr_t *tp, uintptr_t *blocks,
                    size_t *nblocks);
/* The end of the memory a thread whose stack pointer is sp owns (stack,
 * TLS, descriptor), when its descriptor can be recognised between sp and
 * map_hi (the end of sp's mapping); map_hi otherwise. */
uintptr_t os_thread_top(uintptr_t sp, uintptr_t map_hi);
bool os_is_main_thread(void);

typedef struct os_thread_regs {
  long tid;
  bool running;      /* on a CPU or ready to be: nothing below is known */
  uintptr_t sp;      /* its stack pointer, while blocked in the kernel */
  uintptr_t args[6]; /* the arguments of the system call it is blocked in */
  size_t nargs;      /* 6 in a system call, 0 blocked outside one */
} os_thread_regs_t;
/* Calls fn for every thread of the process but the calling one, with
 * where it stands; false when the threads cannot be listed. */
bool os_threads_each(void (*fn)(const os_thread_regs_t *t, void *arg), void *arg);

#endif
