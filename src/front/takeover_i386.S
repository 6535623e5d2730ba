/* The takeover's entries on 32-bit x86. Each seat's entry pushes its seat
 * number and joins one common path, which saves ECX and EDX (where
 * fastcall and thiscall pass arguments) next to the stack arguments,
 * hands that frame to takeover_serve32, and returns the way the
 * convention wants: takeover_serve32 leaves in the seat's slot how many
 * bytes of arguments the callee takes off the stack (0 for cdecl).
 *
 * The frame takeover_serve32 sees (takeover_i386.c's frame32_t):
 *   ECX, EDX, saved EBP, seat (then: bytes to pop), return address, stack arguments... */
#if defined(_WIN32)
/* PE/COFF: C names carry a leading underscore; no ELF types, sizes or
 * visibility */
#define C(name) _##name
#define FUNC(name) .globl C(name); .def C(name); .scl 2; .type 32; .endef
#define LOCAL(name)
#define SIZE(name)
#else
#define C(name) name
#define FUNC(name) .globl name; .hidden name; .type name, @function
#define LOCAL(name) .type name, @function
#define SIZE(name) .size name, . - name
#endif
        .text

        FUNC(takeover_entry32_base)
        .p2align 4
C(takeover_entry32_base):          /* entry k is at takeover_entry32_base + 16 * k */
        .set    seat, 0
        .rept   256
        pushl   $seat
        jmp     common
        .p2align 4
        .set    seat, seat + 1
        .endr
        SIZE(C(takeover_entry32_base))

        LOCAL(common)
common:
        pushl   %ebp
        movl    %esp, %ebp      /* 0: EBP, 4: seat, 8: return address, 12: arguments */
        pushl   %edx
        pushl   %ecx
        leal    -8(%ebp), %eax
        andl    $-16, %esp      /* the caller may have kept only 4-byte alignment */
        subl    $12, %esp
        pushl   %eax
        call    C(takeover_serve32)
        movl    4(%ebp), %ecx   /* bytes of arguments to take off */
        movl    8(%ebp), %edx
        movl    %edx, 8(%ebp,%ecx) /* the return address, moved up over them */
        leal    8(%ebp,%ecx), %ecx
        movl    (%ebp), %ebp
        movl    %ecx, %esp
        ret
        SIZE(common)

/* uintptr_t takeover_call32(void *fn, uintptr_t ecx, uintptr_t edx,
 *                           const uintptr_t *stack, size_t n):
 * calls fn with ECX and EDX set and n stack arguments; ESP is restored
 * from EBP afterwards, so it does not matter whether the callee took the
 * arguments off (stdcall, fastcall, thiscall) or left them (cdecl). */
        FUNC(takeover_call32)
C(takeover_call32):
        pushl   %ebp
        movl    %esp, %ebp      /* 8: fn, 12: ecx, 16: edx, 20: stack, 24: n */
        pushl   %esi
        pushl   %edi
        movl    24(%ebp), %ecx
        leal    0(,%ecx,4), %eax
        subl    %eax, %esp
        andl    $-16, %esp
        movl    %esp, %edi
        movl    20(%ebp), %esi
        cld
        rep movsl
        movl    12(%ebp), %ecx
        movl    16(%ebp), %edx
        call    *8(%ebp)
        leal    -8(%ebp), %esp
        popl    %edi
        popl    %esi
        popl    %ebp
        ret
        SIZE(C(takeover_call32))

#if !defined(_WIN32)
        .section .note.GNU-stack, "", @progbits
#endif
