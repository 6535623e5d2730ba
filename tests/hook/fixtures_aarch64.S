/* Functions to hook on aarch64, one per relocation case. Each takes a long
 * in x0 and returns a long in x0, so one C harness drives them all. The
 * near patch (one B) covers the first instruction; the far one (LDR X17;
 * BR X17; .quad) the first four, so each case comes first or within four,
 * and none returns before its fourth (NOPs fill up). */
        .text
#define FN(name) .globl name; .type name,%function; .p2align 4; name:
#define END(name) .size name, .-name

/* padding before the entry, as compilers leave it */
        .p2align 4
        udf #0; udf #0
FN(fx_rip_load)                 /* ADR first: value + x */
        adr     x1, fx_text_value
        ldr     x1, [x1]
        add     x0, x0, x1
        ret
END(fx_rip_load)

FN(fx_adrp)                     /* ADRP of a page elsewhere: value + x + 1 */
        adrp    x1, fx_value
        add     x1, x1, :lo12:fx_value
        ldr     x1, [x1]
        add     x0, x0, x1
        add     x0, x0, #1
        ret
END(fx_adrp)

FN(fx_ldr_x)                    /* LDR Xt, literal: 40 + x */
        ldr     x1, fx_text_value
        add     x0, x0, x1
        nop
        ret
END(fx_ldr_x)

FN(fx_ldr_w)                    /* LDR Wt, literal (zero-extended): 0xFFFFFFFF + x */
        ldr     w1, fx_text_word
        add     x0, x0, x1
        nop
        ret
END(fx_ldr_w)

FN(fx_ldrsw)                    /* LDRSW Xt, literal (sign-extended): x - 1 */
        ldrsw   x1, fx_text_word
        add     x0, x0, x1
        nop
        ret
END(fx_ldrsw)

FN(fx_ldr_d)                    /* LDR Dt, literal: (long)2.5 + x */
        ldr     d0, fx_text_double
        fcvtzs  x1, d0
        add     x0, x0, x1
        ret
END(fx_ldr_d)

FN(fx_ldr_q)                    /* LDR Qt, literal: the high half + x */
        ldr     q0, fx_text_quad
        mov     x1, v0.d[1]
        add     x0, x0, x1
        ret
END(fx_ldr_q)

FN(fx_prfm)                     /* PRFM literal: a hint, then x * 2 */
        prfm    pldl1keep, fx_text_value
        add     x0, x0, x0
        nop
        ret
END(fx_prfm)

FN(fx_b_out)                    /* B first, past the patch: x + 5 */
        b       1f
        udf     #0
        udf     #0
        udf     #0
        udf     #0
1:      add     x0, x0, #5
        ret
END(fx_b_out)

FN(fx_b_far)                    /* B to another function: x + 7 */
        b       fx_jmp_target
END(fx_b_far)

FN(fx_cbz)                      /* CBZ first: 0 -> 100, else x + 1 */
        cbz     x0, 1f
        add     x0, x0, #1
        nop
        ret
1:      mov     x0, #100
        ret
END(fx_cbz)

FN(fx_cbnz_w)                   /* CBNZ on a W register: low half 0 -> 200 */
        cbnz    w0, 1f
        mov     x0, #200
        nop
        ret
1:      sub     x0, x0, #1
        ret
END(fx_cbnz_w)

FN(fx_tbnz)                     /* TBNZ on the sign bit: negative -> -x */
        tbnz    x0, #63, 1f
        add     x0, x0, #3
        nop
        ret
1:      neg     x0, x0
        ret
END(fx_tbnz)

FN(fx_tbz)                      /* TBZ on bit 0: even -> x / 2, odd -> x */
        tbz     w0, #0, 1f
        nop
        nop
        ret
1:      asr     x0, x0, #1
        ret
END(fx_tbz)

FN(fx_bcond)                    /* B.cond second (far patch): x >= 5 -> x - 1, else x + 1 */
        cmp     x0, #5
        b.ge    1f
        add     x0, x0, #1
        ret
1:      sub     x0, x0, #1
        ret
END(fx_bcond)

FN(fx_bl)                       /* BL second (far patch): 100 + x */
        mov     x9, x30
        bl      fx_helper
        mov     x30, x9
        b       1f
1:      add     x0, x0, x10
        ret
END(fx_bl)

FN(fx_jmp_inside)               /* CBZ to a covered instruction (far patch) */
        cbz     x0, 1f
        add     x0, x0, #1
1:      add     x0, x0, #2
        ret
END(fx_jmp_inside)

FN(fx_bti)                      /* BTI c at the entry stays; then CBZ: 0 -> 9, else x */
        hint    #34                /* bti c, in the hint space: a NOP before v8.5 */
        cbz     x0, 1f
        nop
        nop
        ret
1:      mov     x0, #9
        ret
END(fx_bti)

FN(fx_too_short)                /* shorter than the far patch */
        ret
END(fx_too_short)

FN(fx_branch_in)                /* a loop back into the far patch, from after it: x + 3 */
        mov     x1, #3
1:      add     x0, x0, #1
        nop
        nop
        subs    x1, x1, #1
        b.ne    1b
        ret
END(fx_branch_in)

FN(fx_long)                     /* long enough for the far patch: x * 3 */
        mov     x1, x0
        add     x0, x0, x1
        add     x0, x0, x1
        nop
        ret
END(fx_long)

/* the same loop as fx_branch_in, with no symbol to tell its length: the
 * scan must find the function's end by itself (padding after its ret) */
        .p2align 4
fx_nosize_loop:
        mov     x1, #3
3:      add     x0, x0, #1
        nop
        nop
        subs    x1, x1, #1
        b.ne    3b
        ret
        nop
        nop

FN(fx_helper)                   /* x10 = 100, x0 kept */
        mov     x10, #100
        ret
END(fx_helper)

FN(fx_jmp_target)
        add     x0, x0, #7
        ret
END(fx_jmp_target)

        .p2align 4
fx_text_quad:   .quad 1, 77
fx_text_value:  .quad 40
fx_text_double: .double 2.5
fx_text_word:   .word 0xFFFFFFFF

        .data
        .p2align 12                /* a page of its own: ADRP must find it */
        .globl fx_value, fx_stored, fx_nosize_ptr
fx_nosize_ptr: .quad fx_nosize_loop
fx_value:  .quad 40
fx_stored: .quad 0
        .section .note.GNU-stack,"",%progbits
