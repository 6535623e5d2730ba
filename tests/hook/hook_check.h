/* The hook tests' assertions: the common ones, and one for a call's
 * status that names what came back. */
#ifndef RH_TEST_HOOK_CHECK_H
#define RH_TEST_HOOK_CHECK_H

#include "check.h"
#include "reheap/status.h"

#define CHECK_ST(call, want)                                                          \
  do {                                                                                \
    rh_status_t st_ = (call);                                                         \
    if (st_ != (want)) {                                                              \
      fprintf(stderr, "%s:%d: %s gave %d (%s), wanted %d\n", __FILE__, __LINE__, #call, \
              (int)st_, rh_strerror(st_), (int)(want));                               \
      abort();                                                                        \
    }                                                                                 \
  } while (0)

#endif
