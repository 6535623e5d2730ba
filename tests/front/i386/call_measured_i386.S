/* uint32_t call_measured(void *fn, uint32_t ecx, uint32_t edx,
 *                        const uint32_t *stack, uint32_t n, int32_t *popped):
 * calls fn with ECX, EDX and n stack arguments, and stores in *popped how
 * many bytes of them the callee took off the stack, which is what tells
 * whether an entry returned the way its convention wants. */
        .text
        .globl  call_measured
        .type   call_measured, @function
call_measured:
        pushl   %ebp
        movl    %esp, %ebp      /* 8: fn, 12: ecx, 16: edx, 20: stack, 24: n, 28: popped */
        pushl   %esi
        pushl   %edi
        pushl   %ebx
        movl    24(%ebp), %ecx
        leal    0(,%ecx,4), %eax
        subl    %eax, %esp
        andl    $-16, %esp
        movl    %esp, %edi
        movl    20(%ebp), %esi
        cld
        rep movsl
        movl    %esp, %ebx      /* callee-saved: ESP as the call found it */
        movl    12(%ebp), %ecx
        movl    16(%ebp), %edx
        call    *8(%ebp)
        movl    %esp, %ecx
        subl    %ebx, %ecx
        movl    28(%ebp), %edx
        movl    %ecx, (%edx)
        leal    -12(%ebp), %esp
        popl    %ebx
        popl    %edi
        popl    %esi
        popl    %ebp
        ret
        .size   call_measured, . - call_measured

        .section .note.GNU-stack, "", @progbits
