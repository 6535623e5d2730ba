/* The takeover on Windows x64 (under wine64): a program's own heap manager
 * (Win64 convention, all six roles) taken over by one profile whose
 * targets are found four ways (an export by name, module!export,
 * module+0xOFFSET, a byte signature in the module's code). Blocks made
 * before are freed, sized and moved by the originals; threads allocate
 * through the taken-over functions at once; a wrong expected byte refuses
 * the whole profile and changes no code; uninstalling puts every byte
 * back. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "check.h"
#include "front/hook_spec.h"
#include "front/takeover.h"
#include "reheap/alloc.h"

/* ---- a heap manager of the program's own: bump allocation, a header per
 * block, one lock ---- */
typedef struct hdr {
  uint32_t size, magic, live, pad;
} hdr_t;
#define MAGIC 0x4d475221u
static unsigned char arena[8 << 20] __attribute__((aligned(64)));
static size_t used;
static volatile LONG allocs, frees, sizes, reallocs;
static SRWLOCK lock = SRWLOCK_INIT;

static void *mgr_alloc(size_t align, size_t size) {
  if (align < 16) align = 16;
  AcquireSRWLockExclusive(&lock);
  size_t at = (used + sizeof(hdr_t) + align - 1) & ~(align - 1);
  void *p = NULL;
  if (at + size <= sizeof arena) {
    used = at + size;
    hdr_t *h = (hdr_t *)(arena + at) - 1;
    h->size = (uint32_t)size;
    h->magic = MAGIC;
    h->live = 1;
    p = arena + at;
  }
  ReleaseSRWLockExclusive(&lock);
  InterlockedIncrement(&allocs);
  return p;
}

static hdr_t *mgr_hdr(void *p) {
  hdr_t *h = (hdr_t *)p - 1;
  /* a block the manager did not make would be a takeover bug: stop here */
  CHECKF((unsigned char *)p > arena && (unsigned char *)p < arena + sizeof arena && h->magic == MAGIC && h->live,
         "%p reached the manager, which did not make it", p);
  return h;
}

#define EXPORT __declspec(dllexport) __attribute__((noipa))
EXPORT void *Mgr_Malloc(size_t size) { return mgr_alloc(16, size); }
EXPORT void *Mgr_Calloc(size_t count, size_t size) {
  void *p = mgr_alloc(16, count * size);
  if (p != NULL) memset(p, 0, count * size);
  return p;
}
EXPORT void Mgr_Free(void *p) {
  if (p == NULL) return;
  mgr_hdr(p)->live = 0;
  InterlockedIncrement(&frees);
}
EXPORT size_t Mgr_Size(void *p) {
  InterlockedIncrement(&sizes);
  return mgr_hdr(p)->size;
}
EXPORT void *Mgr_Realloc(void *p, size_t size) {
  InterlockedIncrement(&reallocs);
  void *q = mgr_alloc(16, size);
  if (p != NULL && q != NULL) {
    size_t old = mgr_hdr(p)->size;
    memcpy(q, p, old < size ? old : size);
    Mgr_Free(p);
  }
  return q;
}
/* the heap object first, as an engine's member function has it */
EXPORT void *Mgr_Memalign(void *self, size_t align, size_t size) {
  (void)self;
  return mgr_alloc(align, size);
}

typedef void *(*malloc_t)(size_t);
static volatile malloc_t call_malloc = Mgr_Malloc; /* calls as a program makes them */

/* ---- the profile ---- */
#define NFN 6
static void *const fns[NFN] = {(void *)Mgr_Malloc, (void *)Mgr_Calloc, (void *)Mgr_Free,
                               (void *)Mgr_Size, (void *)Mgr_Realloc, (void *)Mgr_Memalign};
static uint8_t code_before[NFN][16];

static size_t code_changed(void) {
  size_t n = 0;
  for (int i = 0; i < NFN; i++) n += memcmp(code_before[i], fns[i], 16) != 0;
  return n;
}

static spec_profile_t profile;

static bool install(bool bad_expect, char *err, size_t cap) {
  char text[2048], sig[64 * 3];
  /* Mgr_Size by the first 12 bytes of its code, with wildcards */
  const uint8_t *c = (const uint8_t *)Mgr_Size;
  size_t n = 0;
  for (int i = 0; i < 12; i++) n += (size_t)snprintf(sig + n, sizeof sig - n, i % 4 == 3 ? "?? " : "%02X ", c[i]);
  sig[n - 1] = '\0';
  uintptr_t base = (uintptr_t)GetModuleHandleA(NULL);
  const uint8_t *f = (const uint8_t *)Mgr_Free;
  size_t len = (size_t)snprintf(text, sizeof text,
                                "Mgr_Malloc                 malloc(size)\n"
                                "win_takeover.exe!Mgr_Calloc calloc(count,size)\n"
                                "win_takeover.exe+0x%llx    free(ptr) expect=%02X %02X %02X\n"
                                "sig:win_takeover.exe:%s    usable_size(ptr)\n"
                                "Mgr_Realloc                realloc(ptr,size)\n"
                                "Mgr_Memalign               memalign(_,align,size)\n",
                                (unsigned long long)((uintptr_t)Mgr_Free - base), f[0], f[1],
                                bad_expect ? f[2] ^ 0x5a : f[2], sig);
  spec_error_t perr;
  CHECKF(spec_parse_profile(text, len, SPEC_ARCH_X86_64, &profile, &perr), "line %u col %u: %s\n%s", perr.line,
         perr.col, perr.message, text);
  CHECK(profile.n == NFN);
  return takeover_install(&profile, err, cap);
}

static DWORD WINAPI worker(LPVOID arg) {
  uint64_t s = (uintptr_t)arg;
  void *keep[64] = {0};
  for (int i = 0; i < 20000; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    int k = (int)(s >> 58);
    if (keep[k] != NULL) {
      CHECK(takeover_owns(keep[k]) && ((unsigned char *)keep[k])[0] == (unsigned char)k);
      Mgr_Free(keep[k]);
    }
    size_t size = 1 + (size_t)(s >> 40) % 3000;
    keep[k] = i % 3 == 0 ? Mgr_Realloc(NULL, size) : call_malloc(size);
    CHECK(keep[k] != NULL && Mgr_Size(keep[k]) >= size);
    memset(keep[k], k, size);
  }
  for (int k = 0; k < 64; k++) Mgr_Free(keep[k]);
  return 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int i = 0; i < NFN; i++) memcpy(code_before[i], fns[i], 16);
  /* blocks of the manager's own, made before */
  void *old_free = Mgr_Malloc(40), *old_size = Mgr_Malloc(50), *old_move = Mgr_Malloc(60);
  memset(old_move, 0x77, 60);

  char err[512] = "";
  CHECK(!install(true, err, sizeof err));
  CHECKF(strstr(err, "line 3") != NULL && strstr(err, "expect") != NULL, "%s", err);
  CHECK(code_changed() == 0 && takeover_count() == 0);

  CHECKF(install(false, err, sizeof err), "%s", err);
  CHECK(takeover_count() == NFN && code_changed() == NFN);
  LONG a0 = allocs, f0 = frees, s0 = sizes, r0 = reallocs;
  void *p = call_malloc(100);
  CHECK(p != NULL && takeover_owns(p) && rh_owns(p) && ((uintptr_t)p & 15) == 0 && Mgr_Size(p) >= 100);
  void *z = Mgr_Calloc(9, 31);
  CHECK(z != NULL && takeover_owns(z));
  for (int i = 0; i < 9 * 31; i++) CHECK(((unsigned char *)z)[i] == 0);
  memset(p, 5, 100);
  p = Mgr_Realloc(p, 70000);
  CHECK(p != NULL && takeover_owns(p) && ((unsigned char *)p)[99] == 5 && Mgr_Size(p) >= 70000);
  void *al = Mgr_Memalign(NULL, 4096, 300);
  CHECK(al != NULL && takeover_owns(al) && ((uintptr_t)al & 4095) == 0);
  Mgr_Free(p);
  Mgr_Free(z);
  Mgr_Free(al);
  Mgr_Free(NULL);
  CHECKF(allocs == a0 && frees == f0 && sizes == s0 && reallocs == r0, "the manager served a call");

  /* its own blocks go back to it */
  CHECK(Mgr_Size(old_size) == 50 && sizes == s0 + 1);
  void *moved = Mgr_Realloc(old_move, 1000);
  CHECK(moved != NULL && takeover_owns(moved) && ((unsigned char *)moved)[59] == 0x77 && frees == f0 + 1);
  Mgr_Free(moved);
  Mgr_Free(old_free);
  Mgr_Free(old_size);
  CHECK(frees == f0 + 3);

  HANDLE t[4];
  for (int i = 0; i < 4; i++) CHECK((t[i] = CreateThread(NULL, 0, worker, (LPVOID)(uintptr_t)(i + 1), 0, NULL)));
  WaitForMultipleObjects(4, t, TRUE, INFINITE);
  CHECK(allocs == a0 && takeover_live_blocks() == 0);

  void *keep = call_malloc(24);
  CHECK(!takeover_uninstall(err, sizeof err) && strstr(err, "1 blocks") != NULL && code_changed() == NFN);
  Mgr_Free(keep);
  CHECKF(takeover_uninstall(err, sizeof err), "%s", err);
  CHECK(takeover_count() == 0 && code_changed() == 0);
  p = call_malloc(32);
  CHECK(p != NULL && !takeover_owns(p) && allocs == a0 + 1);
  Mgr_Free(p);
  printf("takeover, Windows x64: %d functions found 4 ways taken over, served from 4 threads, "
         "its own blocks sent back, a refusal and uninstall checked\n", NFN);
  return 0;
}
