/* The heaps `reheap run --heap` can put under a program. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define DEBIAN_LIB "/usr/lib/x86_64-linux-gnu/"

static const rh_heap_choice_t heaps[] = {
    {"reheap", NULL, NULL},
    {"system", NULL, NULL},
    {"mimalloc", DEBIAN_LIB "libmimalloc.so.2", "libmimalloc2.0"},
    {"jemalloc", DEBIAN_LIB "libjemalloc.so.2", "libjemalloc2"},
    {"tcmalloc", DEBIAN_LIB "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"},
};

const rh_heap_choice_t *rh_heap_find(const char *name) {
  for (size_t i = 0; i < sizeof heaps / sizeof heaps[0]; i++)
    if (strcmp(heaps[i].name, name) == 0) return &heaps[i];
  return NULL;
}

const char *rh_heap_names(void) { return "reheap, system, mimalloc, jemalloc, tcmalloc"; }

/* RH_LIB_FROM_BIN: where the libraries are from this program's folder once
 * installed (the install's bindir to its libdir); in the build tree they
 * are in ../lib, which is also the default install's layout. */
#ifndef RH_LIB_FROM_BIN
#define RH_LIB_FROM_BIN "../lib"
#endif

bool rh_helper_library(const char *name, char *buf, size_t cap) {
  const char *env = getenv("REHEAP_LIB");
  if (strcmp(name, "libreheap.so") == 0 && env != NULL && *env != '\0') {
    if (snprintf(buf, cap, "%s", env) >= (int)cap) return false;
    return access(buf, R_OK) == 0;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return false;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash == NULL) return false;
  *slash = '\0';
  static const char *const from_bin[] = {RH_LIB_FROM_BIN, "../lib"};
  for (size_t i = 0; i < sizeof from_bin / sizeof from_bin[0]; i++) {
    if (snprintf(buf, cap, "%s/%s/%s", exe, from_bin[i], name) >= (int)cap) return false;
    if (access(buf, R_OK) == 0) return true;
  }
  return false;
}
