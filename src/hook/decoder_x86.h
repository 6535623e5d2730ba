/* The x86 decoder the relocator uses (decoder_x86.c): Zydis, loaded when
 * first needed where it is a shared library. */
#ifndef REHEAP_HOOK_DECODER_X86_H
#define REHEAP_HOOK_DECODER_X86_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <Zydis/Zydis.h>

/* Loads the decoder if it is not yet; false when it cannot be. */
__attribute__((visibility("hidden"))) bool hook_decoder_ready(void);
/* Both only once hook_decoder_ready() said true. */
__attribute__((visibility("hidden"))) void hook_decoder_init(ZydisDecoder *d, ZydisMachineMode mode,
                                                             ZydisStackWidth width);
__attribute__((visibility("hidden"))) bool hook_decode(const ZydisDecoder *d, const void *at, size_t len,
                                                       ZydisDecodedInstruction *in, ZydisDecodedOperand *ops);

#endif
