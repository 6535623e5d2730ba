/* The `reheap` command: one verb per file, sharing these helpers. */
#ifndef REHEAP_CLI_H
#define REHEAP_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#define RH_EXIT_USAGE 2

/* The architecture this reheap is built for: the programs it runs and
 * attaches to are of it, its libraries too. */
#if defined(__aarch64__)
#define RH_ARCH_NAME "aarch64"
#define RH_ARCH_ELF_MACHINE 183 /* EM_AARCH64 */
#else
#define RH_ARCH_NAME "x86-64"
#define RH_ARCH_ELF_MACHINE 62 /* EM_X86_64 */
#endif

/* Prints "reheap: " + message + newline on stderr; returns RH_EXIT_USAGE. */
int rh_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with the exit status given, for the verbs' own messages. */
int rh_cli_vfail(int status, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The message as one line into buf (control bytes escaped: fail_line.c). */
void rh_cli_format_line(char *buf, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

int rh_cmd_run(int argc, char **argv);
/* run_help.c: its usage line and its --help text */
extern const char rh_run_usage[], rh_run_help[];
int rh_cmd_stat(int argc, char **argv);
int rh_cmd_dump(int argc, char **argv);
int rh_cmd_attach(int argc, char **argv);
int rh_cmd_detach(int argc, char **argv);

/* A number of bytes given on the command line (digits, then K, M or G for
 * 1024s), from 1 to 1 GiB; false if it is not one. */
bool rh_parse_bytes(const char *arg, uint64_t *out);
/* A process id given on the command line, or -1. */
long rh_parse_pid(const char *arg);
/* Maps the counters region that process pid's tracker shares (only the
 * owner's, never through a symbolic link); NULL after one line on stderr
 * naming verb. */
struct track_region;
struct track_region *rh_region_open(long pid, bool writable, size_t *size, const char *verb);

/* Heaps `run --heap` knows: the library to preload (NULL for the C
 * library's own malloc) and the Debian package that ships it. */
typedef struct rh_heap_choice_s {
  const char *name;
  const char *library; /* absolute path, or NULL */
  const char *package;
} rh_heap_choice_t;

const rh_heap_choice_t *rh_heap_find(const char *name);
/* "reheap|system|mimalloc|..." for messages. */
const char *rh_heap_names(void);
/* Path of one of reheap's libraries (libreheap.so, libreheap_count.so):
 * next to this executable (bin/../lib), or $REHEAP_LIB for libreheap.so.
 * Writes into buf; false when it cannot be found. */
bool rh_helper_library(const char *name, char *buf, size_t cap);

typedef enum {
  RH_PROGRAM_DYNAMIC,    /* x86-64 ELF that loads shared libraries */
  RH_PROGRAM_STATIC,     /* ELF without a dynamic loader: LD_PRELOAD cannot reach it */
  RH_PROGRAM_OTHER_ARCH, /* 32-bit or another machine's ELF */
  RH_PROGRAM_SCRIPT,     /* #! script: its interpreter is what runs */
  RH_PROGRAM_UNKNOWN,    /* unreadable or not ELF: left to the kernel */
} rh_program_kind_t;

rh_program_kind_t rh_program_kind(const char *path);

/* --only and --except (module_regex.c): the regular expressions given,
 * one a line. */
typedef struct rh_module_regex {
  char *text; /* NULL: none */
  int count;
} rh_module_regex_t;
/* Checks re and adds it; 0, or the exit status after one line naming
 * option. */
int rh_module_regex_add(rh_module_regex_t *list, const char *option, const char *re);

/* What --stats prints, from the child's stats line (may be NULL when the
 * program ended without running its exit handlers) and wait4's usage. */
void rh_summary_print(const char *program, const char *heap, const char *stats_line, int status,
                      const struct rusage *ru, double seconds);

#endif
