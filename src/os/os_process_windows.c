/* Starting a Windows program with a library of reheap's loaded before its
 * first instruction: created suspended, the library's path written into
 * it, LoadLibraryA run there on a thread of its own (kernel32 lies at the
 * same address in every process of a session), and only then its main
 * thread let go. Windows' form of LD_PRELOAD, for `reheap run`'s
 * counterpart there. */
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "os/os.h"

int os_run_with_library(const char *command_line, const char *library, char *why, size_t cap) {
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  char cmd[32768];
  snprintf(cmd, sizeof cmd, "%s", command_line);
  if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
    snprintf(why, cap, "cannot start %s (error %lu)", command_line, GetLastError());
    return -1;
  }
  size_t len = strlen(library) + 1;
  void *remote = VirtualAllocEx(pi.hProcess, NULL, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  HANDLE t = NULL;
  DWORD loaded = 0;
  FARPROC load = GetProcAddress(GetModuleHandleA("kernel32.dll"), "LoadLibraryA");
  if (remote != NULL && WriteProcessMemory(pi.hProcess, remote, library, len, NULL))
    t = CreateRemoteThread(pi.hProcess, NULL, 0, (LPTHREAD_START_ROUTINE)(void (*)(void))load, remote, 0, NULL);
  if (t != NULL) {
    WaitForSingleObject(t, INFINITE);
    GetExitCodeThread(t, &loaded); /* the module's handle, cut to 32 bits: 0 when it failed */
    CloseHandle(t);
  }
  if (loaded == 0) {
    snprintf(why, cap, "cannot load %s into the program; it was not run", library);
    TerminateProcess(pi.hProcess, 2);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return -1;
  }
  VirtualFreeEx(pi.hProcess, remote, 0, MEM_RELEASE);
  ResumeThread(pi.hThread);
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return (int)code;
}
