/* GOT hooks: a module's calls to an imported symbol reach the detour, other
 * modules' do not unless asked, a module loaded later joins on refresh, and
 * disabling gives every slot back what it held. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reheap/hook.h"
#include "hook_check.h"

long got_fixture_parse(const char *s); /* libgotfix.so, linked */

typedef long (*strtol_t)(const char *, char **, int);
typedef long (*fixture_t)(const char *);
static strtol_t orig_strtol;
static int hooked_calls;
static long my_strtol(const char *s, char **end, int base) {
  hooked_calls++;
  return orig_strtol(s, end, base) + 1000;
}
static long own_call(const char *s) { return strtol(s, NULL, 10); }
static int filter_calls;
static bool wants_later(const char *path, void *arg) {
  (void)arg;
  filter_calls++;
  return strstr(path, "later") != NULL;
}

int main(int argc, char **argv) {
  CHECK(argc == 2); /* path of the library to dlopen later */
  rh_hook_t *h;
  void *orig;
  CHECK(rh_got_hook_create("no_such_symbol_at_all", (void *)my_strtol, NULL, &orig, &h) ==
        RH_ERR_NOT_FOUND);

  /* one module only */
  CHECK(rh_got_hook_create("strtol", (void *)my_strtol, "libgotfix.so", (void **)&orig_strtol, &h) ==
        RH_OK);
  CHECK(orig_strtol == (strtol_t)dlsym(RTLD_DEFAULT, "strtol"));
  CHECK(got_fixture_parse("42") == 42);
  CHECK(rh_hook_enable(h) == RH_OK);
  CHECK(got_fixture_parse("42") == 1042 && hooked_calls == 1);
  CHECK(own_call("42") == 42 && hooked_calls == 1); /* not this module */
  rh_hook_info_t info;
  CHECK(rh_hook_list(&info, 1) == 1 && info.kind == RH_HOOK_GOT && info.enabled);
  CHECK(rh_hook_disable(h) == RH_OK);
  CHECK(got_fixture_parse("42") == 42 && hooked_calls == 1);
  CHECK(rh_hook_destroy(h) == RH_OK);

  /* every module, and one loaded afterwards */
  CHECK(rh_got_hook_create("strtol", (void *)my_strtol, NULL, (void **)&orig_strtol, &h) == RH_OK);
  CHECK(rh_hook_enable(h) == RH_OK);
  hooked_calls = 0;
  CHECK(got_fixture_parse("1") == 1001);
  CHECK(own_call("2") == 1002);
  void *later = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(later != NULL);
  fixture_t later_fn = (fixture_t)dlsym(later, "got_fixture_later_parse");
  CHECK(later_fn != NULL);
  CHECK(later_fn("3") == 3); /* not hooked yet */
  CHECK(rh_hook_refresh() == RH_OK);
  CHECK(later_fn("3") == 1003);
  CHECK(hooked_calls == 3);
  CHECK(rh_hook_disable(h) == RH_OK);
  CHECK(got_fixture_parse("1") == 1 && own_call("2") == 2 && later_fn("3") == 3);
  CHECK(rh_hook_destroy(h) == RH_OK);
  CHECK(rh_hook_list(NULL, 0) == 0);
  dlclose(later);

  /* by a filter, made before the module it wants is loaded; that module's
   * slots are forgotten, not written, once dlclose has unmapped it */
  CHECK(rh_got_hook_create_filtered("strtol", (void *)my_strtol, NULL, NULL, (void **)&orig_strtol, &h) ==
        RH_ERR_ARGS);
  filter_calls = 0;
  CHECK(rh_got_hook_create_filtered("strtol", (void *)my_strtol, wants_later, NULL, (void **)&orig_strtol, &h) ==
        RH_OK);
  CHECK(filter_calls > 0); /* asked about the modules loaded now */
  CHECK(rh_hook_enable(h) == RH_OK); /* none of them yet: no failure */
  hooked_calls = 0;
  CHECK(got_fixture_parse("1") == 1 && own_call("2") == 2 && hooked_calls == 0);
  later = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(later != NULL);
  later_fn = (fixture_t)dlsym(later, "got_fixture_later_parse");
  CHECK(rh_hook_refresh() == RH_OK);
  CHECK(later_fn("3") == 1003 && got_fixture_parse("1") == 1 && hooked_calls == 1);
  CHECK(rh_hook_forget_unloaded() == 0); /* still loaded: kept */
  CHECK(dlclose(later) == 0);
  CHECK(rh_hook_forget_unloaded() >= 1);
  CHECK(rh_hook_disable(h) == RH_OK); /* writes nothing where the module was */
  CHECK(rh_hook_destroy(h) == RH_OK);
  /* a symbol no module imports, filtered: made and enabled all the same */
  CHECK(rh_got_hook_create_filtered("no_such_symbol_at_all", (void *)my_strtol, wants_later, NULL, &orig, &h) ==
        RH_OK);
  CHECK(rh_hook_enable(h) == RH_OK && rh_hook_disable(h) == RH_OK && rh_hook_destroy(h) == RH_OK);
  puts("got hooks: ok");
  return 0;
}
