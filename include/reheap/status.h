/* Outcomes of reheap's fallible calls, shared by every part, and the
 * message for each. */
#ifndef REHEAP_STATUS_H
#define REHEAP_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rh_status {
  RH_OK = 0,
  RH_ERR_ARGS,              /* a NULL or contradictory argument */
  RH_ERR_NO_MEMORY,         /* reheap's own bookkeeping could not be allocated */
  RH_ERR_STATE,             /* the object is not in a state that allows this */
  RH_ERR_DECODE,            /* the target's first bytes are not valid instructions */
  RH_ERR_TOO_SHORT,         /* the function ends before the patch would */
  RH_ERR_BRANCH_INTO_PATCH, /* code elsewhere in the function jumps into the bytes the patch replaces */
  RH_ERR_UNRELOCATABLE,     /* an instruction in the patched bytes cannot run from elsewhere */
  RH_ERR_NO_NEAR_MEMORY,    /* no free address range within +/-2 GiB for a trampoline */
  RH_ERR_BYTES_DIFFER,      /* the target does not hold the expected bytes */
  RH_ERR_MODIFIED,          /* the patch site no longer holds the bytes reheap wrote */
  RH_ERR_PROTECT,           /* the system refused to make the code writable */
  RH_ERR_THREADS,           /* the process's other threads could not be stopped */
  RH_ERR_NOT_FOUND,         /* no such symbol, module or import */
  RH_ERR_NO_DECODER,        /* the x86 decoder (Zydis) could not be loaded */
  RH_STATUS_COUNT
} rh_status_t;

/* One line saying what went wrong; never NULL. */
const char *rh_strerror(rh_status_t status);

#ifdef __cplusplus
}
#endif
#endif
