/* Linked with libreheap_hook.a: a function hooked, its original called
 * through the trampoline, then unhooked. Prints "hook ok" when each step
 * did what it should. */
#include <stdio.h>

#include <reheap/hook.h>

static volatile int bias; /* (a load makes the function longer than the 5-byte patch) */

__attribute__((noinline)) int twice(int v) { return v * 2 + bias; }

static int (*original)(int);
static int detour(int v) { return original(v) + 1; }

int main(void) {
  int (*volatile call)(int) = twice;
  rh_hook_t *h;
  if (rh_hook_create((void *)twice, (void *)detour, (void **)&original, &h) != RH_OK || rh_hook_enable(h) != RH_OK) {
    fprintf(stderr, "use_hook: cannot hook\n");
    return 1;
  }
  int hooked = call(20);
  if (rh_hook_disable(h) != RH_OK || rh_hook_destroy(h) != RH_OK) return 1;
  int plain = call(20);
  if (hooked != 41 || plain != 40) {
    fprintf(stderr, "use_hook: hooked %d (want 41), unhooked %d (want 40)\n", hooked, plain);
    return 1;
  }
  puts("hook ok");
  return 0;
}
