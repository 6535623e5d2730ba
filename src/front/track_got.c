/* libreheap_track_got.so: the tracker reached through GOT hooks instead
 * of in front of the whole process. The malloc family this library
 * defines (track_shim.c, shim_aligned.c, preload_cxx.c, built here with
 * REHEAP_TRACK_GOT) is exported by none of it: the GOT slots through
 * which the chosen modules call those functions are pointed at it, so
 * that their calls are tracked and every other module's go straight to
 * the heap. Started by `reheap run --track --only/--except` (preloaded,
 * REHEAP_TRACK_GOT set) or by `reheap attach PID` (loaded by a remote
 * dlopen, then rh_track_got_attach called in the process). Modules loaded
 * later by dlopen join; a module dlclose'd is forgotten, never written. */
#include <dlfcn.h>
#include <link.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "front/track_shim.h"
#include "os/os.h"
#include "reheap/hook.h"
#include "track/track.h"

#define EXPORT __attribute__((visibility("default")))

/* this library's tracking functions (local names: see track_got.map) */
extern void *reallocarray(void *, size_t, size_t);
extern void *pvalloc(size_t);
extern size_t malloc_usable_size(void *);
extern void *memalign(size_t, size_t);
extern void *valloc(size_t);
#define CXX(name, ...) extern void name(void);
#define CXX_NEW_LIST(X)                                                                                            \
  X(_Znwm) X(_Znam) X(_ZnwmRKSt9nothrow_t) X(_ZnamRKSt9nothrow_t) X(_ZnwmSt11align_val_t) X(_ZnamSt11align_val_t)  \
  X(_ZnwmSt11align_val_tRKSt9nothrow_t) X(_ZnamSt11align_val_tRKSt9nothrow_t)
#define CXX_FREE_LIST(X)                                                                                           \
  X(_ZdlPv) X(_ZdaPv) X(_ZdlPvm) X(_ZdaPvm) X(_ZdlPvRKSt9nothrow_t) X(_ZdaPvRKSt9nothrow_t)                        \
  X(_ZdlPvSt11align_val_t) X(_ZdaPvSt11align_val_t) X(_ZdlPvmSt11align_val_t) X(_ZdaPvmSt11align_val_t)            \
  X(_ZdlPvSt11align_val_tRKSt9nothrow_t) X(_ZdaPvSt11align_val_tRKSt9nothrow_t)
CXX_NEW_LIST(CXX)
CXX_FREE_LIST(CXX)

static void *got_dlopen(const char *file, int mode);
static int got_dlclose(void *handle);
static char *got_strdup(const char *s);
static char *got_strndup(const char *s, size_t n);

typedef struct {
  const char *name;
  void *detour;
  bool every_module; /* dlopen and dlclose: whoever calls them */
} hooked_t;

#define ENTRY(name) {#name, (void *)(name), false},
/* In the order they are switched on (and the reverse, off): the frees
 * first, so that no block allocated through a hook already on is freed
 * past one not on yet (its record would stay, a leak that is not). */
static const hooked_t hooked[] = {
    {"free", (void *)free, false},
    {"realloc", (void *)realloc, false},
    {"reallocarray", (void *)reallocarray, false},
    CXX_FREE_LIST(ENTRY)
    {"malloc", (void *)malloc, false},
    {"calloc", (void *)calloc, false},
    {"posix_memalign", (void *)posix_memalign, false},
    {"aligned_alloc", (void *)aligned_alloc, false},
    {"memalign", (void *)memalign, false},
    {"valloc", (void *)valloc, false},
    {"pvalloc", (void *)pvalloc, false},
    {"malloc_usable_size", (void *)malloc_usable_size, false},
    /* the C library allocates these with its own calls, which no GOT of
     * a tracked module sees */
    {"strdup", (void *)got_strdup, false},
    {"strndup", (void *)got_strndup, false},
    {"__strdup", (void *)got_strdup, false},
    CXX_NEW_LIST(ENTRY){"dlopen", (void *)got_dlopen, true},
    {"dlclose", (void *)got_dlclose, true},
};
#define NHOOKED (sizeof hooked / sizeof hooked[0])

static rh_hook_t *hooks[NHOOKED];
static size_t nhooks;
static bool active;
/* Held by attach, detach, dlopen's refresh and dlclose (from before the
 * unmapping to the forgetting). A module's destructor may dlclose
 * another: the thread holding it does not take it again. */
static os_lock_t lock_word = OS_LOCK_INIT;
static __thread int lock_depth;
static void lock(void) {
  if (lock_depth++ == 0) os_lock(&lock_word);
}
static void unlock(void) {
  if (--lock_depth == 0) os_unlock(&lock_word);
}

/* ---- which modules ---- */

#define REGEX_MAX 16
static regex_t only[REGEX_MAX], except[REGEX_MAX];
static size_t nonly, nexcept;
static char self_path[4096];

/* Never reheap's own libraries, the dynamic loader or the vDSO. */
static bool never(const char *path) {
  const char *base = strrchr(path, '/');
  if (base == NULL) return true; /* the vDSO ("linux-vdso.so.1") */
  base++;
  return strcmp(path, self_path) == 0 || strncmp(base, "libreheap", 9) == 0 || strncmp(base, "ld-linux", 8) == 0;
}

static bool wants_tracked(const char *path, void *arg) {
  (void)arg;
  if (never(path)) return false;
  bool in = nonly == 0;
  for (size_t i = 0; i < nonly && !in; i++) in = regexec(&only[i], path, 0, NULL, 0) == 0;
  for (size_t i = 0; i < nexcept && in; i++) in = regexec(&except[i], path, 0, NULL, 0) != 0;
  return in;
}

static bool wants_any(const char *path, void *arg) {
  (void)arg;
  return !never(path);
}

static void regexes_free(void) {
  for (size_t i = 0; i < nonly; i++) regfree(&only[i]);
  for (size_t i = 0; i < nexcept; i++) regfree(&except[i]);
  nonly = nexcept = 0;
}

/* REHEAP_TRACK_ONLY and REHEAP_TRACK_EXCEPT: extended regular
 * expressions, one per line (the command line checked them). */
static bool regexes_read(const char *name, regex_t *into, size_t *n) {
  const char *s = track_shim_setting(name);
  while (s != NULL && *s != '\0') {
    const char *end = strchr(s, '\n');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    char re[1024];
    if (len >= sizeof re || *n == REGEX_MAX) return false;
    memcpy(re, s, len);
    re[len] = '\0';
    if (regcomp(&into[*n], re, REG_EXTENDED | REG_NOSUB) != 0) return false;
    (*n)++;
    s = end ? end + 1 : s + len;
  }
  return true;
}

/* ---- the hooks ---- */

static bool hooks_on(void) {
  for (nhooks = 0; nhooks < NHOOKED; nhooks++) {
    void *orig;
    const hooked_t *k = &hooked[nhooks];
    if (rh_got_hook_create_filtered(k->name, k->detour, k->every_module ? wants_any : wants_tracked, NULL, &orig,
                                    &hooks[nhooks]) != RH_OK)
      break;
  }
  if (nhooks == NHOOKED && rh_hook_enable_all(hooks, nhooks) == RH_OK) return true;
  while (nhooks > 0) rh_hook_destroy(hooks[--nhooks]);
  return false;
}

static void hooks_off(void) {
  rh_hook_t *backwards[NHOOKED];
  for (size_t i = 0; i < nhooks; i++) backwards[i] = hooks[nhooks - 1 - i];
  (void)rh_hook_disable_all(backwards, nhooks);
  while (nhooks > 0) rh_hook_destroy(hooks[--nhooks]);
}

/* dlopen finds a bare name through its caller's search path (DT_RPATH,
 * DT_RUNPATH, $ORIGIN): called from here it would search this library's.
 * For a caller that has one, the name is looked for along the caller's
 * path first, as the loader would (a module loaded already by that name
 * is the one it returns). */
static bool has_search_path(const struct link_map *lm) {
  for (const ElfW(Dyn) *d = lm->l_ld; d != NULL && d->d_tag != DT_NULL; d++)
    if (d->d_tag == DT_RPATH || d->d_tag == DT_RUNPATH) return true;
  return false;
}

static void *open_as(const void *caller, const char *file, int mode) {
  Dl_info info;
  struct link_map *lm = NULL;
  if (file == NULL || strchr(file, '/') != NULL || !dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) ||
      lm == NULL || !has_search_path(lm))
    return dlopen(file, mode);
  void *loaded = dlopen(file, mode | RTLD_NOLOAD);
  if (loaded != NULL) {
    dlclose(loaded);
    return dlopen(file, mode);
  }
  Dl_serinfo size;
  if (dlinfo(lm, RTLD_DI_SERINFOSIZE, &size) != 0 || size.dls_size > 65536) return dlopen(file, mode);
  _Alignas(16) char buf[65536];
  Dl_serinfo *si = (Dl_serinfo *)buf;
  si->dls_size = size.dls_size;
  si->dls_cnt = size.dls_cnt;
  if (dlinfo(lm, RTLD_DI_SERINFO, si) != 0) return dlopen(file, mode);
  for (unsigned i = 0; i < si->dls_cnt; i++) {
    char path[4096];
    size_t dl = strlen(si->dls_serpath[i].dls_name), fl = strlen(file);
    if (dl + fl + 2 > sizeof path) continue;
    memcpy(path, si->dls_serpath[i].dls_name, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, file, fl + 1);
    if (os_is_file(path)) return dlopen(path, mode);
  }
  return dlopen(file, mode);
}

__attribute__((noinline)) static void *got_dlopen(const char *file, int mode) {
  void *h = open_as(__builtin_return_address(0), file, mode);
  if (h != NULL) {
    lock();
    if (active) (void)rh_hook_refresh(); /* (a module past the slots' room stays untracked) */
    unlock();
  }
  return h;
}

static int got_dlclose(void *handle) {
  struct link_map *lm = NULL;
  char path[4096] = "";
  uintptr_t bias = 0;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL && lm->l_name != NULL &&
      strlen(lm->l_name) < sizeof path) {
    strcpy(path, lm->l_name);
    bias = lm->l_addr;
  }
  lock(); /* no refresh or detach meanwhile writes where the module was */
  int rc = dlclose(handle);
  if (rh_hook_forget_unloaded() > 0 && path[0] != '\0') {
    track_shim_inside = 1;
    track_symbols_unloaded(path, bias); /* its blocks' frames keep their names */
    track_shim_inside = 0;
  }
  unlock();
  return rc;
}

static char *got_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

static char *got_strndup(const char *s, size_t max) {
  size_t n = strnlen(s, max);
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

/* ---- on and off ---- */

static char given_block[16384];
static bool started;

static int switch_on(void) {
  Dl_info info;
  if (self_path[0] == '\0' && dladdr((void *)switch_on, &info) && info.dli_fname != NULL) {
    size_t n = strlen(info.dli_fname);
    if (n < sizeof self_path) memcpy(self_path, info.dli_fname, n + 1);
  }
  track_shim_inside = 1; /* (regcomp allocates) */
  regexes_free();
  bool ok = regexes_read("REHEAP_TRACK_ONLY", only, &nonly) && regexes_read("REHEAP_TRACK_EXCEPT", except, &nexcept);
  track_shim_inside = 0;
  if (!ok) return 3;
  /* the blocks of an earlier attach are from before this one */
  track_shim_inside = 1;
  track_table_clear();
  track_shim_inside = 0;
  track_counters_reset();
  track_report_by_module = true;
  track_reach_untracked_roots = true;
  if (track_region != NULL) atomic_store_explicit(&track_region->detached, 0u, memory_order_release);
  active = true;
  if (!hooks_on()) {
    active = false;
    return 4;
  }
  return 0;
}

/* In a running process, through `reheap attach`: settings is the block of
 * NAME=value strings (see track_shim_setting). 0 when tracking is on; 1:
 * it was already; 2: settings too long; 3: a bad regular expression; 4: a
 * hook could not be set (nothing was changed). */
EXPORT int rh_track_got_attach(const char *settings) {
  size_t len = 0;
  while (settings[len] != '\0' || settings[len + 1] != '\0') {
    len++;
    if (len + 2 >= sizeof given_block) return 2;
  }
  lock();
  int rc = 1;
  if (!active) {
    memset(given_block, 0, sizeof given_block);
    memcpy(given_block, settings, len + 1);
    track_shim_given(given_block);
    track_report_attached = true;
    if (!started) track_shim_start(true);
    else track_shim_read_settings();
    started = true;
    rc = switch_on();
  }
  unlock();
  return rc;
}

/* Every GOT slot given back what it held. The library stays: a thread may
 * be inside one of its functions this moment, and the records of blocks
 * still live are forgotten at the next attach. 0, or 1 if not attached. */
EXPORT int rh_track_got_detach(void) {
  lock();
  int rc = active ? 0 : 1;
  if (active) {
    hooks_off();
    active = false;
    if (track_region != NULL) atomic_store_explicit(&track_region->detached, 1u, memory_order_release);
  }
  unlock();
  return rc;
}

/* Under `reheap run`: tracking from the start. */
__attribute__((constructor)) static void got_init(void) {
  if (getenv("REHEAP_TRACK_GOT") == NULL) return; /* loaded by attach: it calls in */
  track_shim_start(false);
  started = true;
  lock();
  int rc = switch_on();
  unlock();
  if (rc != 0) {
    static const char msg[] = "reheap: --only/--except: the tracker's GOT hooks could not be set; the program "
                              "runs untracked\n";
    os_write_all(2, msg, sizeof msg - 1);
  }
}
