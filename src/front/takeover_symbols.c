/* Targets by name beyond the dynamic symbol tables: a program's own
 * allocator is usually neither exported nor global, and ships stripped
 * with its symbols in a debug file. libreheap_symbols.so (the hook
 * engine's ELF reader, over elfutils) is loaded from beside this library
 * the first time a spec needs it, and asked about every module the spec
 * can mean. */
#include <stdio.h>
#include <string.h>

#include "front/takeover.h"
#include "os/os.h"
#include "reheap/hook.h"

#define CANDIDATES_MAX 8

typedef struct search {
  rh_symbol_find_fn find;
  const char *symbol;
  bool object;
  size_t n;                       /* matches, every module */
  uintptr_t at[CANDIDATES_MAX];   /* where they are loaded */
  char where[CANDIDATES_MAX][96]; /* module+0xOFFSET of each, for the message */
  char trouble[256];              /* a debug file that could not be read */
} search_t;

static const char *file_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

static bool visit(const char *path, uintptr_t bias, void *arg) {
  search_t *s = arg;
  uint64_t values[CANDIDATES_MAX];
  size_t n = 0;
  char why[256];
  rh_status_t st = s->find(path, s->symbol, s->object, values, CANDIDATES_MAX, &n, why, sizeof why);
  if (st != RH_OK) {
    if (strstr(why, "debug") != NULL && strstr(why, "cannot be read") != NULL && s->trouble[0] == '\0')
      snprintf(s->trouble, sizeof s->trouble, "%s", why);
    return true;
  }
  uintptr_t base = os_module_base(path);
  for (size_t i = 0; i < n && i < CANDIDATES_MAX; i++, s->n++) {
    if (s->n >= CANDIDATES_MAX) continue;
    s->at[s->n] = bias + (uintptr_t)values[i];
    snprintf(s->where[s->n], sizeof s->where[0], "%s+0x%llx", file_name(path),
             (unsigned long long)(s->at[s->n] - base));
  }
  if (n > CANDIDATES_MAX) s->n += n - CANDIDATES_MAX;
  return true;
}

static rh_symbol_find_fn finder(char *why, size_t cap) {
  static rh_symbol_find_fn fn;
  if (fn != NULL) return fn;
  char name[8], me[4096];
  uintptr_t off;
  if (!os_symbolize((const void *)finder, name, sizeof name, me, sizeof me, &off)) me[0] = '\0';
  char *slash = strrchr(me, '/');
  char path[4200];
  snprintf(path, sizeof path, "%.*s/libreheap_symbols.so", slash != NULL ? (int)(slash - me) : 1,
           slash != NULL ? me : ".");
  void *lib = os_library_open(path);
  if (lib != NULL) fn = (rh_symbol_find_fn)os_library_symbol(lib, "rh_symbol_find");
  if (fn == NULL)
    snprintf(why, cap, "not in the dynamic symbol tables, and %s, which reads the others, cannot be loaded "
             "(build reheap whole: make build)", path);
  return fn;
}

void *takeover_find_symbol(const char *module, const char *symbol, bool object, char *why, size_t cap) {
  static search_t s; /* one spec at a time */
  memset(&s, 0, sizeof s);
  s.find = finder(why, cap);
  if (s.find == NULL) return NULL;
  s.symbol = symbol;
  s.object = object;
  os_module_each(module, visit, &s);
  if (s.n == 1) return (void *)s.at[0];
  if (s.n == 0) {
    if (s.trouble[0] != '\0') snprintf(why, cap, "%s", s.trouble);
    else if (module != NULL)
      snprintf(why, cap, "module %s is not loaded, or neither its symbol tables nor its debug files "
               "name a %s %s", module, object ? "variable" : "function", symbol);
    else
      snprintf(why, cap, "no loaded module defines it, in its symbol tables or its debug files "
               "(stripped with no debug file: use sig: or an address)");
    return NULL;
  }
  int at = snprintf(why, cap, "%zu %s are called %s:", s.n, object ? "variables" : "functions", symbol);
  for (size_t i = 0; i < s.n && i < CANDIDATES_MAX && at > 0 && (size_t)at < cap; i++)
    at += snprintf(why + at, cap - (size_t)at, "%s %s", i ? "," : "", s.where[i]);
  if (at > 0 && (size_t)at < cap)
    snprintf(why + at, cap - (size_t)at, " (name the one meant as MODULE+0xOFFSET)");
  return NULL;
}
