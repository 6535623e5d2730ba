/* A fake NVSE host: loads reheap_nvse.dll the way NVSE does (a plugin's
 * folder of its own, Preload, then Query and Load with a filled
 * interface), records the commands it registers, runs each of them, and
 * checks their results, their console output and the plugin's log.
 *   fake_nvse_host DLL own      its INI names a profile of this program's
 *                               own heap manager: taken over at Preload
 *   fake_nvse_host DLL builtin  the FalloutNV 1.4.0.525 profile, in a
 *                               64-bit program: refused whole
 *   fake_nvse_host DLL off      enabled = 0, and lines the INI cannot use */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "check.h"
#include "nvse_abi.h"

/* ---- the host's own heap manager (the game's, in miniature) ---- */
static unsigned char arena[1 << 20] __attribute__((aligned(16)));
static size_t used;
static unsigned host_allocs, host_frees;
__declspec(dllexport) __attribute__((noipa)) void *Host_Alloc(size_t size) {
  host_allocs++;
  void *p = arena + used;
  used += (size + 15) & ~(size_t)15;
  return used <= sizeof arena ? p : NULL;
}
__declspec(dllexport) __attribute__((noipa)) void Host_Free(void *p) { host_frees += p != NULL; }
__declspec(dllexport) __attribute__((noipa)) size_t Host_Size(void *p) { return p != NULL ? 16 : 0; }
typedef void *(*alloc_t)(size_t);
typedef void (*free_t)(void *);
static volatile alloc_t call_alloc = Host_Alloc;
static volatile free_t call_free = Host_Free;
/* and its scrap heap: the host's own answers none of the calls the
 * profile sends to reheap */
typedef struct scrap_obj {
  void *words[4];
} scrap_obj_t;
static unsigned host_scrap_calls;
__declspec(dllexport) __attribute__((noipa)) void Host_ScrapInit(scrap_obj_t *h) {
  memset(h, 0, sizeof *h);
  host_scrap_calls++;
}
__declspec(dllexport) __attribute__((noipa)) void *Host_ScrapAlloc(scrap_obj_t *h, size_t size, size_t align) {
  (void)h, (void)size, (void)align;
  host_scrap_calls++;
  return NULL;
}
__declspec(dllexport) __attribute__((noipa)) void Host_ScrapFree(scrap_obj_t *h, void *p) {
  (void)h, (void)p;
  host_scrap_calls++;
}
__declspec(dllexport) __attribute__((noipa)) void Host_ScrapPurge(scrap_obj_t *h) {
  (void)h;
  host_scrap_calls++;
}
typedef void (*scrap_init_t)(scrap_obj_t *);
typedef void *(*scrap_alloc_t)(scrap_obj_t *, size_t, size_t);
typedef void (*scrap_free_t)(scrap_obj_t *, void *);
static volatile scrap_init_t call_scrap_init = Host_ScrapInit;
static volatile scrap_alloc_t call_scrap_alloc = Host_ScrapAlloc;
static volatile scrap_free_t call_scrap_free = Host_ScrapFree;
static volatile scrap_init_t call_scrap_purge = Host_ScrapPurge;

/* ---- NVSE's side ---- */
static nvse_command_info_t registered[16];
static size_t nregistered;
static uint32_t opcode_base;
static char console_out[4096];

static _Bool register_command(nvse_command_info_t *info) {
  CHECK(nregistered < 16 && info->long_name != NULL && info->execute != NULL);
  registered[nregistered] = *info; /* NVSE copies it */
  registered[nregistered].opcode = opcode_base + (uint32_t)nregistered;
  nregistered++;
  return 1;
}
static void set_opcode_base(uint32_t base) { opcode_base = base; }
static _Bool run_script_line2(const char *text, void *obj, _Bool suppress) {
  (void)obj, (void)suppress;
  strncat(console_out, text, sizeof console_out - strlen(console_out) - 2);
  strcat(console_out, "\n");
  return 1;
}
static nvse_console_interface_t console = {3, NULL, run_script_line2};
static void *query_interface(uint32_t id) { return id == NVSE_INTERFACE_CONSOLE ? &console : NULL; }

static double run(const char *name) {
  for (size_t i = 0; i < nregistered; i++)
    if (strcmp(registered[i].long_name, name) == 0) {
      double r = -1;
      uint32_t off = 0;
      CHECK(registered[i].execute(NULL, NULL, NULL, NULL, NULL, NULL, &r, &off));
      return r;
    }
  CHECKF(0, "%s was not registered", name);
  return -1;
}

static char dir[MAX_PATH];

static void write_file(const char *name, const char *text) {
  char path[MAX_PATH + 64];
  snprintf(path, sizeof path, "%s\\%s", dir, name);
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL && fputs(text, f) >= 0 && fclose(f) == 0);
}

static const char *read_log(void) {
  static char text[16384];
  char path[MAX_PATH + 64];
  snprintf(path, sizeof path, "%s\\reheap_nvse.log", dir);
  FILE *f = fopen(path, "rb");
  CHECKF(f != NULL, "no log at %s", path);
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  return text;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(argc == 3);
  const char *mode = argv[2];
  /* the plugin in a folder of its own, as Data\NVSE\Plugins is */
  char tmp[MAX_PATH];
  CHECK(GetTempPathA(sizeof tmp, tmp) > 0);
  /* wine hands out the same process ids run after run: the clock too */
  snprintf(dir, sizeof dir, "%sreheap_nvse_host_%lu_%llu_%s", tmp, (unsigned long)GetCurrentProcessId(),
           (unsigned long long)GetTickCount64(), mode);
  CHECK(CreateDirectoryA(dir, NULL) || GetLastError() == ERROR_ALREADY_EXISTS);
  char dll[MAX_PATH + 64];
  snprintf(dll, sizeof dll, "%s\\reheap_nvse.dll", dir);
  CHECKF(CopyFileA(argv[1], dll, FALSE), "copy %s", argv[1]);
  char ini[2048];
  if (strcmp(mode, "own") == 0) {
    write_file("host.profile", "# the host's heap manager\r\n"
                               "fake_nvse_host.exe!Host_Alloc  malloc(size)\r\n"
                               "fake_nvse_host.exe!Host_Free   free(ptr)\r\n"
                               "Host_Size                      usable_size(ptr)\r\n"
                               "# [scrap]\r\n"
                               "Host_ScrapInit   scrap_init(heap)\r\n"
                               "Host_ScrapAlloc  scrap_alloc(heap,size,align)\r\n"
                               "Host_ScrapFree   scrap_free(heap,ptr)\r\n"
                               "Host_ScrapPurge  scrap_purge(heap)\r\n");
    snprintf(ini, sizeof ini, "[reheap]\r\nenabled = 1 ; on\r\nquarantine = 64\r\nprofile = %s\\host.profile\r\n",
             dir);
  } else if (strcmp(mode, "off") == 0) {
    snprintf(ini, sizeof ini, "[reheap]\r\nenabled = 0\r\ncrt = maybe\r\nfrobnicate = 1\r\njunk line\r\n"
                          "quarantine = lots\r\n");
  } else {
    snprintf(ini, sizeof ini, "[reheap]\r\ngameheap = 1\r\n");
  }
  write_file("reheap_nvse.ini", ini);

  void *before = call_alloc(32); /* the host's own block, made before */
  HMODULE m = LoadLibraryA(dll);
  CHECKF(m != NULL, "LoadLibrary %s: %lu", dll, GetLastError());
  _Bool (*preload)(void) = (_Bool(*)(void))(void (*)(void))GetProcAddress(m, "NVSEPlugin_Preload");
  _Bool (*query)(const nvse_interface_t *, nvse_plugin_info_t *) =
      (_Bool(*)(const nvse_interface_t *, nvse_plugin_info_t *))(void (*)(void))GetProcAddress(m, "NVSEPlugin_Query");
  _Bool (*load)(const nvse_interface_t *) =
      (_Bool(*)(const nvse_interface_t *))(void (*)(void))GetProcAddress(m, "NVSEPlugin_Load");
  CHECK(preload != NULL && query != NULL && load != NULL);
  CHECK(preload());

  nvse_interface_t nvse = {0x06040080, 0x040020D1, 0, 0, register_command, set_opcode_base, query_interface,
                           NULL, NULL, NULL, 0, NULL, NULL};
  nvse_plugin_info_t info = {0};
  CHECK(!query(&nvse, &info)); /* 1.4.0.525ng: refused */
  nvse.runtime_version = NVSE_RUNTIME_1_4_0_525;
  nvse.is_editor = 1;
  CHECK(!query(&nvse, &info)); /* the editor: refused */
  nvse.is_editor = 0;
  CHECK(query(&nvse, &info) && info.info_version == 1 && strcmp(info.name, "reheap") == 0);
  CHECK(load(&nvse));
  CHECK(nregistered == 6 && opcode_base == 0x2000);

  const char *log = read_log();
  CHECKF(strstr(log, "query: runtime 0x040020D1 is not Fallout: New Vegas 1.4.0.525") != NULL &&
             strstr(log, "query: the editor (GECK) is not supported") != NULL && strstr(log, "6 console commands") != NULL,
         "log:\n%s", log);
  if (strcmp(mode, "own") == 0) {
    CHECKF(strstr(log, "preload: ") != NULL && strstr(log, "installed: 7 functions patched") != NULL &&
               strstr(log, "quarantine=64 KB") != NULL && strstr(log, "held back from reuse until 64 KB") != NULL,
           "log:\n%s", log);
    CHECK(run("IsMemoryPoolActive") == 1 && run("IsMemoryPoolPatched") == 1 && run("GetPatchedFunctionCount") == 7);
    double a0 = run("GetMemoryPoolAllocations"), f0 = run("GetMemoryPoolFrees");
    unsigned own = host_allocs;
    void *p[100];
    for (int i = 0; i < 100; i++) CHECK((p[i] = call_alloc(24 + (size_t)i)) != NULL && Host_Size(p[i]) >= 24);
    for (int i = 0; i < 100; i++) call_free(p[i]);
    CHECK(host_allocs == own); /* reheap served them */
    /* the quarantine holds a freed block: its bytes stay, and it is not
     * handed straight back out */
    unsigned char *q = call_alloc(40);
    memset(q, 0x5A, 40);
    call_free(q);
    unsigned char *r = call_alloc(40);
    CHECK(r != q && q[0] == 0x5A && q[8] == 0x5A && q[39] == 0x5A);
    call_free(r);
    CHECK(run("GetMemoryPoolAllocations") - a0 == 102 && run("GetMemoryPoolFrees") - f0 == 102);
    /* a scrap heap: reheap's stack, the host's functions never called */
    scrap_obj_t sh;
    call_scrap_init(&sh);
    unsigned char *s1 = call_scrap_alloc(&sh, 100, 16), *s2 = call_scrap_alloc(&sh, 5000, 64);
    CHECK(s1 != NULL && s2 > s1 && ((uintptr_t)s2 & 63) == 0);
    memset(s1, 1, 100);
    memset(s2, 2, 5000);
    call_scrap_free(&sh, s2);
    unsigned char *s3 = call_scrap_alloc(&sh, 8, 8);
    CHECK(s3 > s1 && s3 <= s2 && s1[99] == 1); /* s2's place, taken again */
    call_scrap_free(&sh, s3);
    call_scrap_free(&sh, s1);
    call_scrap_purge(&sh);
    CHECK(host_scrap_calls == 0);
    unsigned frees = host_frees;
    call_free(before); /* the host's own block goes back to the host */
    CHECK(host_frees == frees + 1);
    console_out[0] = '\0';
    CHECK(run("ReheapStats") >= 0);
    CHECKF(strstr(console_out, "print \"reheap: active, 7 patched (malloc 1, free 1, usable_size 1, scrap_init 1, scrap_alloc 1, "
                              "scrap_free 1, scrap_purge 1); live ") != NULL &&
               strstr(console_out, " of them held back)") != NULL,
           "%s", console_out);
    console_out[0] = '\0';
    run("GetPatchedFunctionCount");
    CHECKF(strcmp(console_out, "print \"GetPatchedFunctionCount >> 7\"\n") == 0, "%s", console_out);
  } else {
    if (strcmp(mode, "off") == 0)
      CHECKF(strstr(log, "line 3: crt wants 0 or 1, not 'maybe'") != NULL &&
                 strstr(log, "line 4: unknown key 'frobnicate'") != NULL &&
                 strstr(log, "line 5: 'junk line' is not key = value") != NULL &&
                 strstr(log, "line 6: quarantine wants KB from 0 to 1048576, not 'lots'") != NULL &&
                 strstr(log, "disabled in reheap_nvse.ini") != NULL,
             "log:\n%s", log);
    else
      /* the game's profile is 32-bit x86's: this 64-bit host refuses it
       * as it parses it (its addresses and bytes are checked on i686 by
       * the hook-spec tests) */
      CHECKF(strstr(log, "preload: the built-in FalloutNV 1.4.0.525 profile: line 13, column 37: thiscall is a "
                         "32-bit x86 convention") != NULL &&
                 strstr(log, "nothing patched") != NULL,
             "log:\n%s", log);
    CHECK(run("IsMemoryPoolActive") == 0 && run("GetPatchedFunctionCount") == 0);
    unsigned own = host_allocs;
    call_free(call_alloc(8));
    CHECK(host_allocs == own + 1); /* the host's heap still serves */
  }
  printf("fake NVSE host (%s): Preload, Query (refusing ng and the editor), Load, 6 commands run, log checked\n",
         mode);
  return 0;
}
