/* The takeover on 32-bit x86 (run under qemu-i386): four heap managers,
 * one per calling convention (cdecl, stdcall, fastcall, thiscall), each
 * with all six roles, taken over by one profile. Every call is made both
 * as the compiler makes it and through call_measured, which checks that
 * the entry took exactly the convention's bytes off the stack. Blocks the
 * managers made before the takeover are freed, sized and reallocated
 * through their originals; a wrong expected byte and a missing symbol
 * refuse the whole profile and change no code; uninstalling puts every
 * function's bytes back. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "front/hook_spec.h"
#include "front/takeover.h"
#include "reheap/alloc.h"

uint32_t call_measured(void *fn, uint32_t ecx, uint32_t edx, const uint32_t *stack, uint32_t n,
                       int32_t *popped);

/* ---- a small heap manager: bump allocation with a header per block ---- */

typedef struct mgr {
  unsigned char arena[1 << 20] __attribute__((aligned(64)));
  size_t used;
  unsigned allocs, frees, sizes, reallocs;
} mgr_t;

typedef struct hdr {
  uint32_t size, magic, live, pad;
} hdr_t;
#define MAGIC 0x4d475221u

static void *mgr_alloc(mgr_t *m, size_t align, size_t size) {
  if (align < 16) align = 16;
  size_t at = (m->used + sizeof(hdr_t) + align - 1) & ~(align - 1);
  if (at + size > sizeof m->arena) return NULL;
  m->used = at + size;
  hdr_t *h = (hdr_t *)(m->arena + at) - 1;
  h->size = (uint32_t)size;
  h->magic = MAGIC;
  h->live = 1;
  m->allocs++;
  return m->arena + at;
}

static hdr_t *mgr_hdr(mgr_t *m, void *p) {
  hdr_t *h = (hdr_t *)p - 1;
  /* a block the manager did not make would be a takeover bug: stop here */
  CHECKF((unsigned char *)p > m->arena && (unsigned char *)p < m->arena + sizeof m->arena &&
             h->magic == MAGIC && h->live,
         "%p reached a manager that did not make it", p);
  return h;
}

static void mgr_free(mgr_t *m, void *p) {
  if (p == NULL) return;
  mgr_hdr(m, p)->live = 0;
  m->frees++;
}

static size_t mgr_size(mgr_t *m, void *p) {
  m->sizes++;
  return mgr_hdr(m, p)->size;
}

static void *mgr_realloc(mgr_t *m, void *p, size_t size) {
  m->reallocs++;
  void *q = mgr_alloc(m, 16, size);
  if (p != NULL && q != NULL) {
    size_t old = mgr_hdr(m, p)->size;
    memcpy(q, p, old < size ? old : size);
    mgr_free(m, p);
  }
  return q;
}

/* ---- the managers' functions, one set per convention ---- */

#define EXPORT __attribute__((visibility("default"), noipa))
#define CDECL __attribute__((cdecl))
#define STDCALL __attribute__((stdcall))
#define FASTCALL __attribute__((fastcall))
#define THISCALL __attribute__((thiscall))

#define MANAGER(P, CONV)                                                                          \
  static mgr_t P##_mgr;                                                                         \
  EXPORT CONV void *P##_Calloc(mgr_t *m, size_t count, size_t size) {                           \
    void *p = mgr_alloc(m, 16, count * size);                                                   \
    if (p != NULL) memset(p, 0, count * size);                                                  \
    return p;                                                                                   \
  }                                                                                             \
  EXPORT CONV void *P##_Realloc(mgr_t *m, void *p, size_t size) { return mgr_realloc(m, p, size); } \
  EXPORT CONV void P##_Free(mgr_t *m, void *p) { mgr_free(m, p); }                              \
  EXPORT CONV size_t P##_Size(mgr_t *m, void *p) { return mgr_size(m, p); }                     \
  EXPORT CONV void *P##_Memalign(mgr_t *m, size_t align, size_t size) { return mgr_alloc(m, align, size); }

MANAGER(C, CDECL)
MANAGER(S, STDCALL)
MANAGER(F, FASTCALL)
MANAGER(T, THISCALL)
EXPORT CDECL void *C_Malloc(mgr_t *m, size_t size) { return mgr_alloc(m, 16, size); }
/* a trailing argument no role uses: stdcall's entry must take it off too */
EXPORT STDCALL void *S_Malloc(mgr_t *m, size_t size, int flags) {
  (void)flags;
  return mgr_alloc(m, 16, size);
}
EXPORT FASTCALL void *F_Malloc(mgr_t *m, size_t size) { return mgr_alloc(m, 16, size); }
EXPORT THISCALL void *T_Malloc(mgr_t *m, size_t size) { return mgr_alloc(m, 16, size); }

/* ---- a scrap heap (the game's kind): a stack in a buffer of its own,
 * its object of four words; reheap's record takes three of them ---- */

typedef struct vscrap {
  unsigned char *buf;
  uint32_t used, size, magic;
} vscrap_t;
#define VMAGIC 0x56534352u
static unsigned char vbufs[4][1 << 16] __attribute__((aligned(16)));
static unsigned nvbufs, vcalls;

static void *vinit(vscrap_t *h, uint32_t size) {
  CHECK(nvbufs < 4);
  h->buf = vbufs[nvbufs++];
  h->used = 0;
  h->size = size < sizeof vbufs[0] ? size : sizeof vbufs[0];
  h->magic = VMAGIC;
  vcalls++;
  return h;
}
static vscrap_t *vheap(vscrap_t *h) {
  CHECKF(h->magic == VMAGIC, "scrap heap %p reached the original but is not the original's", (void *)h);
  vcalls++;
  return h;
}
EXPORT THISCALL void *T_ScrapInit(vscrap_t *h) { return vinit(h, 1 << 16); }
EXPORT THISCALL void *T_ScrapInitSized(vscrap_t *h, uint32_t size) { return vinit(h, size); }
EXPORT THISCALL void *T_ScrapAlloc(vscrap_t *h, uint32_t size, uint32_t align) {
  vheap(h);
  if (align < 4) align = 4;
  uint32_t at = (h->used + align - 1) & ~(align - 1);
  if (at + size > h->size) return NULL;
  h->used = at + size;
  return h->buf + at;
}
EXPORT THISCALL void T_ScrapFree(vscrap_t *h, void *p) {
  CHECK((unsigned char *)vheap(h)->buf <= (unsigned char *)p);
}
EXPORT THISCALL void T_ScrapPurge(vscrap_t *h) { vheap(h)->used = 0; }

/* ---- calling them ---- */

typedef struct manager {
  const char *prefix;
  spec_conv_t conv;
  mgr_t *m;
  int malloc_args; /* S_Malloc takes three */
} manager_t;

static manager_t managers[] = {
    {"C", SPEC_CONV_CDECL, &C_mgr, 2},
    {"S", SPEC_CONV_STDCALL, &S_mgr, 3},
    {"F", SPEC_CONV_FASTCALL, &F_mgr, 2},
    {"T", SPEC_CONV_THISCALL, &T_mgr, 2},
};

static void *fn(const manager_t *g, const char *role) {
  char name[64];
  snprintf(name, sizeof name, "%s_%s", g->prefix, role);
  void *f = dlsym(RTLD_DEFAULT, name);
  CHECKF(f != NULL, "%s is not in the dynamic symbol table", name);
  return f;
}

/* Calls the role's function with n arguments as its convention passes
 * them, and checks the bytes it took off the stack. */
static uint32_t call(const manager_t *g, const char *role, int n, uint32_t a0, uint32_t a1, uint32_t a2) {
  uint32_t a[3] = {a0, a1, a2};
  int regs = g->conv == SPEC_CONV_FASTCALL ? 2 : g->conv == SPEC_CONV_THISCALL ? 1 : 0;
  if (regs > n) regs = n;
  int32_t popped = -1;
  uint32_t r = call_measured(fn(g, role), regs > 0 ? a[0] : 0, regs > 1 ? a[1] : 0, a + regs,
                             (uint32_t)(n - regs), &popped);
  int32_t want = g->conv == SPEC_CONV_CDECL ? 0 : 4 * (n - regs);
  CHECKF(popped == want, "%s_%s took %d bytes off the stack, its convention %d", g->prefix, role, popped, want);
  return r;
}

static void *g_malloc(const manager_t *g, size_t size) {
  return (void *)call(g, "Malloc", g->malloc_args, (uint32_t)(uintptr_t)g->m, (uint32_t)size, 7);
}
static void *g_calloc(const manager_t *g, size_t count, size_t size) {
  return (void *)call(g, "Calloc", 3, (uint32_t)(uintptr_t)g->m, (uint32_t)count, (uint32_t)size);
}
static void *g_realloc(const manager_t *g, void *p, size_t size) {
  return (void *)call(g, "Realloc", 3, (uint32_t)(uintptr_t)g->m, (uint32_t)(uintptr_t)p, (uint32_t)size);
}
static void g_free(const manager_t *g, void *p) {
  call(g, "Free", 2, (uint32_t)(uintptr_t)g->m, (uint32_t)(uintptr_t)p, 0);
}
static size_t g_size(const manager_t *g, void *p) {
  return call(g, "Size", 2, (uint32_t)(uintptr_t)g->m, (uint32_t)(uintptr_t)p, 0);
}
static void *g_memalign(const manager_t *g, size_t align, size_t size) {
  return (void *)call(g, "Memalign", 3, (uint32_t)(uintptr_t)g->m, (uint32_t)align, (uint32_t)size);
}

/* The same calls as the compiler makes them, for each convention. */
static void *direct_malloc(const manager_t *g, size_t size) {
  switch (g->conv) {
  case SPEC_CONV_CDECL: return C_Malloc(g->m, size);
  case SPEC_CONV_STDCALL: return S_Malloc(g->m, size, 0);
  case SPEC_CONV_FASTCALL: return F_Malloc(g->m, size);
  default: return T_Malloc(g->m, size);
  }
}
static void direct_free(const manager_t *g, void *p) {
  switch (g->conv) {
  case SPEC_CONV_CDECL: C_Free(g->m, p); break;
  case SPEC_CONV_STDCALL: S_Free(g->m, p); break;
  case SPEC_CONV_FASTCALL: F_Free(g->m, p); break;
  default: T_Free(g->m, p); break;
  }
}
static size_t direct_size(const manager_t *g, void *p) {
  switch (g->conv) {
  case SPEC_CONV_CDECL: return C_Size(g->m, p);
  case SPEC_CONV_STDCALL: return S_Size(g->m, p);
  case SPEC_CONV_FASTCALL: return F_Size(g->m, p);
  default: return T_Size(g->m, p);
  }
}

/* ---- the profile ---- */

static const char *roles[] = {"Malloc", "Calloc", "Realloc", "Free", "Size", "Memalign"};
#define NFN (4 * 6)
static const char *scrap_fns[] = {"ScrapInit", "ScrapInitSized", "ScrapAlloc", "ScrapFree", "ScrapPurge"};
static const char *scrap_shapes[] = {"scrap_init(heap)", "scrap_init(heap,size)", "scrap_alloc(heap,size,align)",
                                     "scrap_free(heap,ptr)", "scrap_purge(heap)"};
#define NSCRAP 5

static size_t profile_text(char *buf, size_t cap, const char *bad_expect_for, const char *extra) {
  size_t n = 0;
  for (size_t i = 0; i < 4; i++) {
    const manager_t *g = &managers[i];
    const char *conv = spec_conv_name(g->conv);
    static const char *shapes[] = {NULL, "calloc(_,count,size)", "realloc(_,ptr,size)", "free(_,ptr)",
                                   "usable_size(_,ptr)", "memalign(_,align,size)"};
    for (size_t r = 0; r < 6; r++) {
      const char *shape = r > 0 ? shapes[r] : g->malloc_args == 3 ? "malloc(_,size,_)" : "malloc(_,size)";
      char name[64];
      snprintf(name, sizeof name, "%s_%s", g->prefix, roles[r]);
      n += (size_t)snprintf(buf + n, cap - n, "%-12s %-24s %s", name, shape, conv);
      if (bad_expect_for != NULL && strcmp(bad_expect_for, name) == 0) {
        /* its real first bytes, the third one wrong */
        const uint8_t *code = fn(g, roles[r]);
        n += (size_t)snprintf(buf + n, cap - n, " expect=%02X ?? %02X", code[0], code[2] ^ 0x5a);
      }
      n += (size_t)snprintf(buf + n, cap - n, "\n");
    }
  }
  for (size_t r = 0; r < NSCRAP; r++)
    n += (size_t)snprintf(buf + n, cap - n, "T_%-10s %-28s thiscall\n", scrap_fns[r], scrap_shapes[r]);
  if (extra != NULL) n += (size_t)snprintf(buf + n, cap - n, "%s\n", extra);
  return n;
}

static uint8_t code_before[NFN + NSCRAP][16];

static const uint8_t *code_of(size_t i) {
  return i < NFN ? fn(&managers[i / 6], roles[i % 6]) : fn(&managers[3], scrap_fns[i - NFN]);
}

static void save_code(void) {
  for (size_t i = 0; i < NFN + NSCRAP; i++) memcpy(code_before[i], code_of(i), 16);
}

static size_t code_changed(void) {
  size_t changed = 0;
  for (size_t i = 0; i < NFN + NSCRAP; i++) changed += memcmp(code_before[i], code_of(i), 16) != 0;
  return changed;
}

static spec_profile_t profile;

static bool install(const char *bad_expect_for, const char *extra, char *err, size_t cap) {
  static char text[8192];
  size_t len = profile_text(text, sizeof text, bad_expect_for, extra);
  spec_error_t perr;
  CHECKF(spec_parse_profile(text, len, SPEC_ARCH_X86, &profile, &perr), "line %u col %u: %s", perr.line,
         perr.col, perr.message);
  CHECK(profile.n == NFN + NSCRAP + (extra != NULL));
  return takeover_install(&profile, err, cap);
}

static void fill(void *p, size_t n, int seed) {
  for (size_t i = 0; i < n; i++) ((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}

static int filled(const void *p, size_t n, int seed) {
  for (size_t i = 0; i < n; i++)
    if (((const unsigned char *)p)[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

static int zero(const void *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (((const unsigned char *)p)[i] != 0) return 0;
  return 1;
}

/* Blocks of each manager made before the takeover. */
enum { FOREIGN_FREE, FOREIGN_SIZE, FOREIGN_REALLOC, FOREIGN_DIRECT, NFOREIGN };
static void *foreign[4][NFOREIGN];

static void before_takeover(void) {
  for (size_t i = 0; i < 4; i++) {
    const manager_t *g = &managers[i];
    for (int k = 0; k < NFOREIGN; k++) {
      foreign[i][k] = k == FOREIGN_DIRECT ? direct_malloc(g, 64 + 8 * (size_t)k) : g_malloc(g, 64 + 8 * (size_t)k);
      CHECK(foreign[i][k] != NULL && !takeover_owns(foreign[i][k]));
      fill(foreign[i][k], 64 + 8 * (size_t)k, (int)(i * 16) + k);
    }
  }
}

static void refusals(void) {
  char err[512] = "";
  /* one wrong expected byte, on the 20th function: nothing is patched */
  CHECK(!install("T_Size", NULL, err, sizeof err));
  CHECKF(strstr(err, "T_Size") != NULL && strstr(err, "expect") != NULL, "%s", err);
  CHECK(code_changed() == 0 && takeover_count() == 0);
  /* a symbol that is not there, named */
  CHECK(!install(NULL, "No_Such_Free free(_,ptr) stdcall", err, sizeof err));
  CHECKF(strstr(err, "No_Such_Free") != NULL, "%s", err);
  CHECK(code_changed() == 0 && takeover_count() == 0);
  /* the managers still serve */
  void *p = direct_malloc(&managers[3], 10);
  CHECK(p != NULL && !takeover_owns(p) && T_mgr.allocs == NFOREIGN + 1);
  direct_free(&managers[3], p);
}

static void served(size_t i) {
  const manager_t *g = &managers[i];
  mgr_t before = *g->m;
  void *p = g_malloc(g, 100);
  CHECK(p != NULL && takeover_owns(p) && rh_owns(p) && ((uintptr_t)p & 15) == 0);
  fill(p, 100, 3);
  CHECK(g_size(g, p) >= 100);
  void *z = g_calloc(g, 7, 33);
  CHECK(z != NULL && takeover_owns(z) && zero(z, 231));
  p = g_realloc(g, p, 5000);
  CHECK(p != NULL && takeover_owns(p) && filled(p, 100, 3) && g_size(g, p) >= 5000);
  p = g_realloc(g, p, 40);
  CHECK(p != NULL && takeover_owns(p) && filled(p, 40, 3));
  void *a = g_memalign(g, 256, 300);
  CHECK(a != NULL && takeover_owns(a) && ((uintptr_t)a & 255) == 0 && g_size(g, a) >= 300);
  fill(a, 300, 9);
  void *d = direct_malloc(g, 48);
  CHECK(d != NULL && takeover_owns(d) && direct_size(g, d) >= 48);
  g_free(g, p);
  g_free(g, z);
  g_free(g, a);
  direct_free(g, d);
  g_free(g, NULL);
  /* not one of these calls reached the manager itself */
  CHECKF(g->m->allocs == before.allocs && g->m->frees == before.frees && g->m->sizes == before.sizes &&
             g->m->reallocs == before.reallocs,
         "%s's manager served a call", g->prefix);
}

static void foreign_blocks(size_t i) {
  const manager_t *g = &managers[i];
  void **f = foreign[i];
  unsigned frees = g->m->frees, sizes = g->m->sizes;
  /* sized by the original */
  CHECK(g_size(g, f[FOREIGN_SIZE]) == 64 + 8 * FOREIGN_SIZE && g->m->sizes == sizes + 1);
  CHECK(direct_size(g, f[FOREIGN_DIRECT]) == 64 + 8 * FOREIGN_DIRECT && g->m->sizes == sizes + 2);
  CHECK(filled(f[FOREIGN_SIZE], 64 + 8 * FOREIGN_SIZE, (int)(i * 16) + FOREIGN_SIZE));
  /* moved into reheap's heap, its bytes as the original sized them */
  void *moved = g_realloc(g, f[FOREIGN_REALLOC], 1000);
  CHECK(moved != NULL && takeover_owns(moved) && filled(moved, 64 + 8 * FOREIGN_REALLOC,
                                                            (int)(i * 16) + FOREIGN_REALLOC));
  CHECKF(g->m->frees == frees + 1 && g->m->sizes == sizes + 3, "%s: frees %u sizes %u", g->prefix,
         g->m->frees - frees, g->m->sizes - sizes);
  g_free(g, moved);
  /* freed by the original */
  g_free(g, f[FOREIGN_FREE]);
  direct_free(g, f[FOREIGN_SIZE]);
  g_free(g, f[FOREIGN_DIRECT]);
  CHECK(g->m->frees == frees + 4);
}

/* With a quarantine, a freed block keeps its bytes and its place until
 * about the budget's worth of later frees pushed it out; a realloc that
 * moves leaves the old place the same way. */
static void quarantine(void) {
  const manager_t *g = &managers[3]; /* thiscall, as the game's heap */
  takeover_set_quarantine(4096);
  void *p = g_malloc(g, 200);
  CHECK(p != NULL && takeover_owns(p));
  fill(p, 200, 7);
  g_free(g, p);
  CHECK(filled(p, 200, 7) && takeover_live_blocks() == 1);
  void *q[8];
  for (int k = 0; k < 8; k++) {
    q[k] = g_malloc(g, 200);
    CHECKF(q[k] != p, "a quarantined block was reused after %d allocations", k);
  }
  CHECK(filled(p, 200, 7));
  fill(q[0], 200, 5);
  void *r = g_realloc(g, q[0], 3000); /* moves: q[0] held, its bytes kept */
  CHECK(r != NULL && r != q[0] && filled(r, 200, 5) && filled(q[0], 200, 5));
  q[0] = r;
  /* 10 blocks freed, over 4 KiB of them: the oldest left the quarantine
   * and were freed for real, the newest are held */
  for (int k = 0; k < 8; k++) g_free(g, q[k]);
  size_t held = takeover_live_blocks();
  CHECKF(held > 0 && held < 10, "%zu blocks live after 10 frees through a 4 KiB quarantine", held);
  /* turned off: every held block is let go */
  takeover_set_quarantine(0);
  CHECKF(takeover_live_blocks() == 0, "%zu blocks live after the quarantine was let go", takeover_live_blocks());
  void *s2 = g_malloc(g, 200);
  g_free(g, s2);
  CHECK(g_malloc(g, 200) == s2); /* reused at once again */
  g_free(g, s2);
}

/* Scrap heaps: one set up before the takeover stays the original's; one
 * set up after is reheap's, a stack over chunks of its heap, whatever its
 * object's words held before. */
static void *s_alloc(vscrap_t *h, size_t size, size_t align) {
  return (void *)call(&managers[3], "ScrapAlloc", 3, (uint32_t)(uintptr_t)h, (uint32_t)size, (uint32_t)align);
}
static void s_free(vscrap_t *h, void *p) {
  call(&managers[3], "ScrapFree", 2, (uint32_t)(uintptr_t)h, (uint32_t)(uintptr_t)p, 0);
}
static void s_purge(vscrap_t *h) { call(&managers[3], "ScrapPurge", 1, (uint32_t)(uintptr_t)h, 0, 0); }

static void scrap(vscrap_t *old) {
  const manager_t *t = &managers[3];
  unsigned calls = vcalls;
  unsigned char *o = s_alloc(old, 40, 8);
  CHECK(o == vbufs[0] + 16 && vcalls == calls + 1); /* the original served it */
  s_free(old, o);
  s_purge(old);
  CHECK(vcalls == calls + 3 && old->used == 0);

  size_t live = takeover_live_blocks();
  vscrap_t h;
  memset(&h, 0xAB, sizeof h);
  CHECK(call(t, "ScrapInitSized", 2, (uint32_t)(uintptr_t)&h, 4096, 0) == (uint32_t)(uintptr_t)&h);
  CHECK(vcalls == calls + 3 && nvbufs == 1); /* reheap's: the original made no buffer */
  unsigned char *a = s_alloc(&h, 100, 4), *b = s_alloc(&h, 200, 16), *c = s_alloc(&h, 300, 64);
  CHECK(a != NULL && b > a && c > b && ((uintptr_t)b & 15) == 0 && ((uintptr_t)c & 63) == 0 && vcalls == calls + 3);
  fill(a, 100, 1);
  fill(b, 200, 2);
  fill(c, 300, 3);
  s_free(&h, b); /* under the top: held until c goes */
  CHECK(filled(a, 100, 1) && filled(c, 300, 3));
  unsigned char *d = s_alloc(&h, 16, 8);
  CHECK(d > c);
  s_free(&h, d);
  s_free(&h, c); /* c, and b under it: the stack is back to a */
  unsigned char *e = s_alloc(&h, 16, 8);
  CHECK(e > a && e < c && filled(a, 100, 1));
  s_free(&h, e);
  /* a block bigger than a chunk, and a run over many chunks */
  unsigned char *big = s_alloc(&h, 1 << 20, 16);
  CHECK(big != NULL && filled(a, 100, 1));
  memset(big, 0x77, 1 << 20);
  s_free(&h, big);
  static unsigned char *run[3000];
  for (int k = 0; k < 3000; k++) {
    run[k] = s_alloc(&h, 1000, 8);
    CHECK(run[k] != NULL);
    fill(run[k], 1000, k);
  }
  for (int k = 0; k < 3000; k++) CHECKF(filled(run[k], 1000, k), "scrap block %d overwritten", k);
  size_t grown = takeover_live_blocks();
  CHECK(grown > live + 10); /* 3 MB in chunks */
  for (int k = 2999; k >= 0; k--) s_free(&h, run[k]);
  CHECKF(takeover_live_blocks() <= live + 2, "%zu chunks kept after the stack shrank", takeover_live_blocks() - live);
  /* what is no block of the heap's is left alone */
  s_free(&h, (unsigned char *)&h + 16);
  s_free(&h, a + 1);
  CHECK(filled(a, 100, 1));
  /* purged: every chunk goes; the heap stays reheap's and serves again */
  s_purge(&h);
  CHECK(takeover_live_blocks() == live);
  CHECK(s_alloc(&h, 64, 8) != NULL && takeover_live_blocks() == live + 1);
  /* initialized again without a purge (thiscall, no stack argument): its
   * chunks go */
  CHECK(call(t, "ScrapInit", 1, (uint32_t)(uintptr_t)&h, 0, 0) == (uint32_t)(uintptr_t)&h);
  CHECK(takeover_live_blocks() == live && vcalls == calls + 3);
  s_purge(&h);
}

int main(void) {
  save_code();
  before_takeover();
  static vscrap_t old_scrap; /* the game's own, set up before the takeover */
  T_ScrapInit(&old_scrap);
  CHECK(T_ScrapAlloc(&old_scrap, 16, 4) == vbufs[0]);
  refusals();

  char err[512] = "";
  CHECKF(install(NULL, NULL, err, sizeof err), "%s", err);
  CHECK(takeover_count() == NFN + NSCRAP && code_changed() == NFN + NSCRAP);
  for (size_t i = 0; i < 4; i++) served(i);
  for (size_t i = 0; i < 4; i++) foreign_blocks(i);
  quarantine();
  scrap(&old_scrap);

  /* not put back while one of its blocks lives */
  void *keep = g_malloc(&managers[1], 24);
  CHECK(takeover_live_blocks() == 1);
  CHECK(!takeover_uninstall(err, sizeof err) && strstr(err, "1 blocks") != NULL);
  CHECK(takeover_count() == NFN + NSCRAP && code_changed() == NFN + NSCRAP);
  g_free(&managers[1], keep);
  CHECK(takeover_live_blocks() == 0);
  CHECKF(takeover_uninstall(err, sizeof err), "%s", err);
  CHECK(takeover_count() == 0 && code_changed() == 0);
  /* and the managers serve again */
  for (size_t i = 0; i < 4; i++) {
    unsigned allocs = managers[i].m->allocs;
    void *p = g_malloc(&managers[i], 32);
    CHECK(p != NULL && !takeover_owns(p) && managers[i].m->allocs == allocs + 1);
    g_free(&managers[i], p);
  }
  printf("takeover_i386: %d functions in 4 conventions taken over, served, foreign blocks sent back, "
         "quarantine, scrap heaps, refusals and uninstall checked\n", NFN + NSCRAP);
  return 0;
}
