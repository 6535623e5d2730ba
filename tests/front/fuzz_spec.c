/* libFuzzer target: random text as a profile. The parser either takes it,
 * and then every spec it gives is well formed (a role with each of its
 * arguments placed once, names terminated, counts in bounds), or refuses
 * it with a line and column inside the text and a message; never reads
 * past the text (ASan) or misbehaves (UBSan). `make fuzz` runs it with the
 * relocator's target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front/hook_spec.h"

static spec_profile_t profile;

static void require(int ok) {
  if (!ok) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* a copy of exactly size bytes, so ASan sees a read past the end */
  char *text = malloc(size ? size : 1);
  if (text == NULL) return 0;
  memcpy(text, data, size);
  for (int arch = 0; arch < 2; arch++) {
    spec_error_t err;
    memset(&err, 0, sizeof err);
    if (spec_parse_profile(text, size, (spec_arch_t)arch, &profile, &err)) {
      require(profile.n <= SPEC_PROFILE_MAX);
      for (size_t k = 0; k < profile.n; k++) {
        const spec_t *s = &profile.specs[k];
        require(s->nargs >= 1 && s->nargs <= SPEC_ARGS_MAX && s->nexpect <= SPEC_EXPECT_MAX &&
                s->nsig <= SPEC_SIG_MAX);
        require(memchr(s->module, '\0', sizeof s->module) != NULL &&
                memchr(s->symbol, '\0', sizeof s->symbol) != NULL);
        require(s->kind != SPEC_TARGET_SIGNATURE || (s->nsig >= 4 && !s->sig_any[0] && s->module[0] != '\0'));
        int placed[8] = {0};
        for (int i = 0; i < s->nargs; i++) placed[s->args[i]]++;
        for (int a = 1; a <= SPEC_ARG_HEAP; a++) require(placed[a] <= 1);
        require(s->role != SPEC_ROLE_FREE || placed[SPEC_ARG_PTR] == 1);
        bool scrap = s->role >= SPEC_ROLE_SCRAP_INIT && s->role <= SPEC_ROLE_SCRAP_PURGE;
        require(scrap == (placed[SPEC_ARG_HEAP] == 1));
        require(s->role != SPEC_ROLE_MALLOC || placed[SPEC_ARG_SIZE] == 1);
        require(s->line >= 1);
      }
    } else {
      require(profile.n == 0 && err.line >= 1 && err.col >= 1 && err.message[0] != '\0');
      require(memchr(err.message, '\0', sizeof err.message) != NULL);
    }
  }
  free(text);
  return 0;
}
