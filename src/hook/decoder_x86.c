/* The x86 decoder (Zydis), reached through two function pointers.
 *
 * Where Zydis is a shared library (Debian's, RH_ZYDIS_SONAME), it is
 * loaded at the first decode, not with reheap: a program run on reheap's
 * heap without a profile then never maps it (about 160 KiB of resident
 * memory in every process otherwise). Where it is linked in (the Windows
 * builds), the pointers are its functions from the start. */
#include "hook/decoder_x86.h"
#include "os/os.h"

typedef ZyanStatus (*init_fn)(ZydisDecoder *, ZydisMachineMode, ZydisStackWidth);
typedef ZyanStatus (*decode_fn)(const ZydisDecoder *, const void *, ZyanUSize, ZydisDecodedInstruction *,
                                ZydisDecodedOperand *);

#ifdef RH_ZYDIS_SONAME
static init_fn init;
static decode_fn decode;
static _Atomic int state; /* 0 not tried, 1 loaded, 2 failed */
static os_lock_t load_lock = OS_LOCK_INIT;

bool hook_decoder_ready(void) {
  int s = atomic_load_explicit(&state, memory_order_acquire);
  if (s != 0) return s == 1;
  os_lock(&load_lock);
  if (atomic_load_explicit(&state, memory_order_relaxed) == 0) {
    void *lib = os_library_open(RH_ZYDIS_SONAME);
    if (lib != NULL) {
      init = (init_fn)os_library_symbol(lib, "ZydisDecoderInit");
      decode = (decode_fn)os_library_symbol(lib, "ZydisDecoderDecodeFull");
    }
    atomic_store_explicit(&state, init != NULL && decode != NULL ? 1 : 2, memory_order_release);
  }
  os_unlock(&load_lock);
  return atomic_load_explicit(&state, memory_order_relaxed) == 1;
}
#else
static const init_fn init = ZydisDecoderInit;
static const decode_fn decode = ZydisDecoderDecodeFull;

bool hook_decoder_ready(void) { return true; }
#endif

void hook_decoder_init(ZydisDecoder *d, ZydisMachineMode mode, ZydisStackWidth width) { init(d, mode, width); }

bool hook_decode(const ZydisDecoder *d, const void *at, size_t len, ZydisDecodedInstruction *in,
                 ZydisDecodedOperand *ops) {
  return ZYAN_SUCCESS(decode(d, at, len, in, ops));
}
