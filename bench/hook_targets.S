/* 100 small functions for the hook benchmark: fn_i(x) = x + i. */
        .text
        .altmacro
        .macro TARGET n
        .globl hb_target_\n
        .type hb_target_\n,@function
        .p2align 4
hb_target_\n:
        lea     \n(%rdi), %rax
        add     $0, %rax
        ret
        .size hb_target_\n, .-hb_target_\n
        .endm
        .set i, 0
        .rept 100
        TARGET %i
        .set i, i+1
        .endr

        .section .data.rel.ro,"aw"
        .globl hb_targets
        .p2align 3
hb_targets:
        .macro ENTRY n
        .quad hb_target_\n
        .endm
        .set i, 0
        .rept 100
        ENTRY %i
        .set i, i+1
        .endr
        .section .note.GNU-stack,"",@progbits
