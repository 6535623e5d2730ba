/* 32-bit functions to hook: the four calling conventions, and the
 * relocation cases that exist in 32-bit code. f(a, b) = 10 * a + b unless
 * said otherwise. */
        .text
#define FN(name) .globl name; .type name,@function; .p2align 4; name:
#define END(name) .size name, .-name

        .p2align 4
        int3; int3; int3
FN(fx32_cdecl)
        mov     4(%esp), %eax
        imul    $10, %eax, %eax
        add     8(%esp), %eax
        ret
END(fx32_cdecl)

FN(fx32_stdcall)                /* callee pops its 2 arguments */
        mov     4(%esp), %eax
        imul    $10, %eax, %eax
        add     8(%esp), %eax
        ret     $8
END(fx32_stdcall)

FN(fx32_fastcall)               /* a in ecx, b in edx */
        lea     (%ecx,%ecx,4), %eax
        add     %eax, %eax
        add     %edx, %eax
        ret
END(fx32_fastcall)

FN(fx32_thiscall)               /* this in ecx (a = this->value), b on the stack, callee pops */
        mov     (%ecx), %eax
        imul    $10, %eax, %eax
        add     4(%esp), %eax
        ret     $4
END(fx32_thiscall)

FN(fx32_get_pc_ax)              /* as the compiler's __x86.get_pc_thunk.ax */
        mov     (%esp), %eax
        ret
END(fx32_get_pc_ax)

FN(fx32_pc_thunk)               /* position-independent code finding itself: a + its PC after
                                   the first call (fx32_pc_here) */
        call    fx32_get_pc_ax
        .globl  fx32_pc_here
fx32_pc_here:
        add     4(%esp), %eax
        ret
END(fx32_pc_thunk)
FN(fx32_call_rel)               /* call rel32 first: 100 + a */
        call    fx32_helper
        add     4(%esp), %eax
        ret
END(fx32_call_rel)

FN(fx32_jmp_rel)                /* a tail call by jmp rel32: a + 7 */
        jmp.d32 fx32_jmp_target
END(fx32_jmp_rel)

FN(fx32_branch_in)              /* a loop back into the covered bytes (never called) */
        mov     4(%esp), %ecx
2:      add     $3, %eax
        dec     %ecx
        jnz     2b
        ret
END(fx32_branch_in)

FN(fx32_jcc_out)                /* short jcc out of the covered bytes: a ? 1 : 2 */
        mov     4(%esp), %eax
        test    %eax, %eax
        jz      1f
        mov     $1, %eax
        ret
1:      mov     $2, %eax
        ret
END(fx32_jcc_out)

FN(fx32_jmp_inside)             /* short jmp to a covered instruction: a + 5 */
        jmp     1f
1:      mov     4(%esp), %eax
        add     $5, %eax
        ret
END(fx32_jmp_inside)

        /* the race test's target, under the name it uses on x86-64 */
        .globl fx_jmp_inside
        .set fx_jmp_inside, fx32_jmp_inside

FN(fx32_endbr)                  /* endbr32 stays: a + 3 */
        endbr32
        mov     4(%esp), %eax
        add     $3, %eax
        ret
END(fx32_endbr)

FN(fx32_too_short)
        xor     %eax, %eax
        ret
END(fx32_too_short)

FN(fx32_jmp_target)
        mov     4(%esp), %eax
        add     $7, %eax
        ret
END(fx32_jmp_target)

FN(fx32_helper)
        mov     $100, %eax
        ret
END(fx32_helper)
        .section .note.GNU-stack,"",@progbits
