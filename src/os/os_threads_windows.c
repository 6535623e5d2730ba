/* Windows implementation of os.h's thread part: every other thread of the
 * process suspended over a Toolhelp32 snapshot (again until no new one
 * appears), its instruction pointer read and moved with Get/
 * SetThreadContext, and the threads reheap starts for itself. */
#include <windows.h>
/* after windows.h, whose types it uses */
#include <tlhelp32.h>

#include "os/os.h"

#define STOP_MAX 4096

static os_lock_t stop_lock = OS_LOCK_INIT;
static HANDLE stopped[STOP_MAX];
static DWORD stopped_tid[STOP_MAX];
static bool stopped_before[STOP_MAX]; /* already suspended when we came */
/* Wine never answers GetThreadContext for a thread created suspended that
 * has not run yet (it waits for the thread to reach its own suspension):
 * there a thread found suspended is left as it is. It has not run, or
 * was stopped by someone else: Windows itself reads and moves it. */
static bool under_wine;
static size_t nstopped;

static bool is_stopped(DWORD tid) {
  for (size_t i = 0; i < nstopped; i++)
    if (stopped_tid[i] == tid) return true;
  return false;
}

/* ntdll's NtGetNextThread walks the process's threads handle by handle,
 * with no memory allocated on the way: a Toolhelp32 snapshot takes the
 * process heap's lock, which a thread already suspended may hold. */
typedef LONG(NTAPI *next_thread_t)(HANDLE process, HANDLE thread, ACCESS_MASK access, ULONG attributes,
                                   ULONG flags, PHANDLE next);

static bool keep(HANDLE h, DWORD tid) {
  if (nstopped == STOP_MAX) return false;
  DWORD count = SuspendThread(h);
  if (count == (DWORD)-1) return true; /* it is ending */
  stopped_before[nstopped] = count > 0;
  /* SuspendThread only asks; reading the context waits until the thread
   * has really stopped */
  CONTEXT c;
  c.ContextFlags = CONTEXT_CONTROL;
  if (!(under_wine && count > 0)) GetThreadContext(h, &c);
  stopped[nstopped] = h;
  stopped_tid[nstopped++] = tid;
  return true;
}

/* Suspends the threads of the process not yet suspended; how many, or -1
 * when they cannot be listed or are too many. */
static int suspend_new(DWORD self, next_thread_t next_thread) {
  const ACCESS_MASK access =
      THREAD_SUSPEND_RESUME | THREAD_GET_CONTEXT | THREAD_SET_CONTEXT | THREAD_QUERY_INFORMATION;
  int added = 0;
  if (next_thread != NULL) {
    HANDLE h = NULL, prev = NULL;
    while (next_thread(GetCurrentProcess(), prev, access, 0, 0, &h) == 0) {
      if (prev != NULL && !is_stopped(GetThreadId(prev))) CloseHandle(prev);
      prev = h;
      DWORD tid = GetThreadId(h);
      if (tid == self || is_stopped(tid)) continue;
      size_t before = nstopped;
      if (!keep(h, tid)) {
        CloseHandle(h);
        return -1;
      }
      added += nstopped > before;
    }
    if (prev != NULL && !is_stopped(GetThreadId(prev))) CloseHandle(prev);
    return added;
  }
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  if (snap == INVALID_HANDLE_VALUE) return -1;
  THREADENTRY32 te;
  te.dwSize = sizeof te;
  DWORD pid = GetCurrentProcessId();
  for (BOOL more = Thread32First(snap, &te); more; more = Thread32Next(snap, &te)) {
    if (te.th32OwnerProcessID != pid || te.th32ThreadID == self || is_stopped(te.th32ThreadID)) continue;
    HANDLE h = OpenThread(access, FALSE, te.th32ThreadID);
    if (h == NULL) continue; /* it ended since the snapshot */
    size_t before = nstopped;
    if (!keep(h, te.th32ThreadID)) {
      CloseHandle(h);
      added = -1;
      break;
    }
    if (nstopped == before) CloseHandle(h);
    else added++;
  }
  CloseHandle(snap);
  return added;
}

bool os_stop_world(void (*work)(void *arg), void (*fix_ip)(uintptr_t *ip, void *arg), void *arg) {
  os_lock(&stop_lock);
  nstopped = 0;
  DWORD self = GetCurrentThreadId();
  static next_thread_t next_thread;
  static bool looked;
  if (!looked) {
    HMODULE nt = GetModuleHandleA("ntdll.dll");
    next_thread = nt != NULL ? (next_thread_t)(void (*)(void))GetProcAddress(nt, "NtGetNextThread") : NULL;
    under_wine = nt != NULL && GetProcAddress(nt, "wine_get_version") != NULL;
    looked = true;
  }
  bool ok = true;
  /* rounds until no new thread appears: one may start another before it
   * is suspended itself */
  for (int round = 0;; round++) {
    int added = suspend_new(self, next_thread);
    if (added < 0 || round > 64) {
      ok = false;
      break;
    }
    if (added == 0) break;
  }
  if (ok) {
    work(arg);
    for (size_t i = 0; i < nstopped && fix_ip != NULL; i++) {
      if (under_wine && stopped_before[i]) continue;
      CONTEXT c;
      c.ContextFlags = CONTEXT_CONTROL;
      if (!GetThreadContext(stopped[i], &c)) continue;
#if defined(__x86_64__)
      uintptr_t ip = (uintptr_t)c.Rip;
#else
      uintptr_t ip = (uintptr_t)c.Eip;
#endif
      uintptr_t was = ip;
      fix_ip(&ip, arg);
      if (ip == was) continue;
#if defined(__x86_64__)
      c.Rip = ip;
#else
      c.Eip = ip;
#endif
      SetThreadContext(stopped[i], &c);
    }
  }
  for (size_t i = 0; i < nstopped; i++) {
    ResumeThread(stopped[i]);
    CloseHandle(stopped[i]);
  }
  nstopped = 0;
  os_unlock(&stop_lock);
  return ok;
}

/* Every thread is suspended alike: reheap's own need no mark. */
void os_thread_mark_helper(bool on) { (void)on; }
void os_thread_helpers_forget(void) {}

typedef struct start_s {
  void (*fn)(void *);
  void *arg;
} start_t;

static DWORD WINAPI thread_main(LPVOID p) {
  start_t s = *(start_t *)p;
  HeapFree(GetProcessHeap(), 0, p);
  s.fn(s.arg);
  return 0;
}

bool os_thread_start(void (*fn)(void *), void *arg) {
  /* from the OS's own heap: reheap's metadata never comes from the heap
   * it may be replacing */
  start_t *s = HeapAlloc(GetProcessHeap(), 0, sizeof *s);
  if (s == NULL) return false;
  s->fn = fn;
  s->arg = arg;
  HANDLE h = CreateThread(NULL, 0, thread_main, s, 0, NULL);
  if (h == NULL) {
    HeapFree(GetProcessHeap(), 0, s);
    return false;
  }
  CloseHandle(h);
  return true;
}
