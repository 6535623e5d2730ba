/* --only and --except: extended regular expressions over module paths,
 * checked here so that a bad one stops the command with its reason, and
 * handed to the tracker one a line (REHEAP_TRACK_ONLY, _EXCEPT). */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define REGEX_MAX 16 /* as many as the tracker takes */

int rh_module_regex_add(rh_module_regex_t *list, const char *option, const char *re) {
  if (re == NULL || *re == '\0')
    return rh_cli_fail("%s needs a regular expression over library paths, such as %s 'libfoo\\.so'", option,
                       option);
  if (strchr(re, '\n') != NULL || strlen(re) >= 1024)
    return rh_cli_fail("%s: the regular expression must be one line under 1024 bytes", option);
  regex_t compiled;
  int rc = regcomp(&compiled, re, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char why[128];
    regerror(rc, &compiled, why, sizeof why);
    return rh_cli_fail("%s '%s': %s (an extended regular expression, as grep -E takes)", option, re, why);
  }
  regfree(&compiled);
  if (list->count == REGEX_MAX) return rh_cli_fail("%s: at most %d of them", option, REGEX_MAX);
  size_t n = strlen(re), len = list->text ? strlen(list->text) : 0;
  char *t = realloc(list->text, len + n + 2);
  if (t == NULL) return rh_cli_fail("out of memory");
  if (len > 0) t[len++] = '\n';
  memcpy(t + len, re, n + 1);
  list->text = t;
  list->count++;
  return 0;
}
