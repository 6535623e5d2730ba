/* rh_strerror(): one line per outcome, saying what went wrong. */
#include <stddef.h>

#include "reheap/status.h"

static const char *const messages[RH_STATUS_COUNT] = {
    [RH_OK] = "success",
    [RH_ERR_ARGS] = "invalid argument (NULL or contradictory)",
    [RH_ERR_NO_MEMORY] = "out of memory for reheap's own bookkeeping",
    [RH_ERR_STATE] = "not allowed in the object's current state",
    [RH_ERR_DECODE] = "the target's first bytes are not valid instructions",
    [RH_ERR_TOO_SHORT] = "the function is shorter than the patch (its first instructions end it)",
    [RH_ERR_BRANCH_INTO_PATCH] =
        "code elsewhere in the function jumps into the bytes the patch would replace",
    [RH_ERR_UNRELOCATABLE] = "an instruction the patch covers cannot run from a trampoline",
    [RH_ERR_NO_NEAR_MEMORY] = "no free address range within 2 GiB of the target for a trampoline",
    [RH_ERR_BYTES_DIFFER] = "the target does not hold the expected bytes",
    [RH_ERR_MODIFIED] = "the patched bytes were changed by someone else; left as they are",
    [RH_ERR_PROTECT] = "the system refused to make code writable or memory executable",
    [RH_ERR_THREADS] = "the process's other threads could not be stopped",
    [RH_ERR_NOT_FOUND] = "no such symbol, module or import",
    [RH_ERR_NO_DECODER] = "the x86 decoder Zydis (Debian's libzydis4.0) cannot be loaded; install it",
};

const char *rh_strerror(rh_status_t status) {
  if ((unsigned)status >= RH_STATUS_COUNT || messages[status] == NULL) return "unknown status";
  return messages[status];
}
