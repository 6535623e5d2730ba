/* Functions to hook, one per relocation case. Each takes a long in rdi and
 * returns a long in rax, so one C harness drives them all. */
        .text

#if defined(_WIN32)
/* PE/COFF: no ELF symbol types or sizes (the engine scans for the end) */
#define FN(name) .globl name; .def name; .scl 2; .type 32; .endef; .p2align 4; name:
#define END(name)
#else
#define FN(name) .globl name; .type name,@function; .p2align 4; name:
#define END(name) .size name, .-name
#endif

/* padding before the entry, as compilers leave it */
        .p2align 4
        int3; int3; int3; int3
FN(fx_rip_load)                 /* mov rip-relative load: value + x */
        mov     fx_value(%rip), %rax
        add     %rdi, %rax
        ret
END(fx_rip_load)

FN(fx_rip_lea)                  /* lea rip-relative */
        lea     fx_value(%rip), %rax
        mov     (%rax), %rax
        add     %rdi, %rax
        add     $1, %rax
        ret
END(fx_rip_lea)

FN(fx_rip_store)                /* store rip-relative, then x * 2 */
        mov     %rdi, fx_stored(%rip)
        lea     (%rdi,%rdi), %rax
        ret
END(fx_rip_store)

FN(fx_call_rel)                 /* call rel32 first: 100 + x */
        call    fx_helper
        add     %rdi, %rax
        ret
END(fx_call_rel)

FN(fx_jmp_rel)                  /* a tail call by jmp rel32 */
        jmp.d32 fx_jmp_target
END(fx_jmp_rel)

FN(fx_jcc_out)                  /* short jcc out of the covered bytes */
        test    %rdi, %rdi
        jz      1f
        mov     $1, %eax
        ret
1:      mov     $2, %eax
        ret
END(fx_jcc_out)

FN(fx_jmp_inside)               /* short jmp to a covered instruction */
        jmp     1f
1:      xor     %eax, %eax
        add     %edi, %eax
        add     $5, %eax
        ret
END(fx_jmp_inside)

FN(fx_endbr)                    /* endbr64 stays at the entry */
        endbr64
        mov     %rdi, %rax
        add     $3, %rax
        ret
END(fx_endbr)

FN(fx_too_short)                /* 3 bytes, then padding */
        xor     %eax, %eax
        ret
END(fx_too_short)

FN(fx_branch_in)                /* a loop back into the covered bytes: x * 3, x > 0 */
        mov     %edi, %ecx
        xor     %eax, %eax
2:      add     $3, %rax
        dec     %ecx
        jnz     2b
        ret
END(fx_branch_in)

FN(fx_long)                     /* 14 bytes of plain instructions: 2 * (x + 1) + 3 */
        mov     %rdi, %rax
        add     $1, %rax
        add     %rax, %rax
        add     $3, %rax
        ret
END(fx_long)

/* the same loop, with no symbol to tell its length: the scan must find the
 * function's end by itself (padding after its ret) */
        .p2align 4
fx_nosize_loop:
        mov     %edi, %ecx
        xor     %eax, %eax
3:      add     $3, %rax
        dec     %ecx
        jnz     3b
        ret
        int3; int3; int3; int3

FN(fx_helper)
        mov     $100, %eax
        ret
END(fx_helper)

FN(fx_jmp_target)
        lea     7(%rdi), %rax
        ret
END(fx_jmp_target)

        .data
        .p2align 3
        .globl fx_value, fx_stored, fx_nosize_ptr
fx_nosize_ptr: .quad fx_nosize_loop
fx_value:  .quad 40
fx_stored: .quad 0
#if !defined(_WIN32)
        .section .note.GNU-stack,"",@progbits
#endif
