/* Interrupt stubs and the ring-3 round trip of the test-kit runtime. */
        .text
        .code64

/* uint64_t run_user(fn, arg): iretq to ring 3 at user_trampoline(fn, arg); the trampoline
 * ends with int $0x80, whose handler restores the kernel stack saved here. */
        .globl run_user
run_user:
        push    %rbx
        push    %rbp
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, saved_kernel_rsp(%rip)
        mov     %rdi, %rax
        lea     user_stack_top(%rip), %rcx
        pushq   $0x1b                   /* SS */
        push    %rcx                    /* RSP */
        pushq   $0x3002                 /* RFLAGS: IOPL 3, IF off */
        pushq   $0x23                   /* CS */
        lea     user_trampoline(%rip), %rcx
        push    %rcx                    /* RIP */
        mov     %rax, %rdi              /* fn */
        /* rsi = arg already */
        iretq

user_trampoline:
        mov     %rdi, %rax
        mov     %rsi, %rdi
        call    *%rax
        mov     %rax, user_result(%rip)
        /* Back to ring 0: int $0x80 through a DPL-3 gate. PVM hosts raise #UD for INT n in
         * guest user mode instead; the #UD handler recognises this address and does the same. */
        .globl user_exit_insn
user_exit_insn:
        int     $0x80
1:      jmp     1b

        .globl vector_user_return
vector_user_return:
        mov     user_result(%rip), %rax
        mov     saved_kernel_rsp(%rip), %rsp
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbp
        pop     %rbx
        ret

/* Exceptions: push the vector (and a dummy error code where the CPU pushes none), then report. */
        .macro EXC num, has_error
        .globl vector_\num
vector_\num:
        .if \has_error == 0
        pushq   $0
        .endif
        pushq   $\num
        jmp     exception_common
        .endm
        EXC 0,0
        EXC 1,0
        EXC 2,0
        EXC 3,0
        EXC 4,0
        EXC 5,0
        EXC 6,0
        EXC 7,0
        EXC 8,1
        EXC 9,0
        EXC 10,1
        EXC 11,1
        EXC 12,1
        EXC 13,1
        EXC 14,1
        EXC 15,0
        EXC 16,0
        EXC 17,1
        EXC 18,0
        EXC 19,0

exception_common:
        push    %rax
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %rbx
        mov     %rsp, %rbx
        lea     80(%rsp), %rdi          /* -> struct { vector, error, rip, cs, rflags, rsp, ss } */
        and     $-16, %rsp
        call    exception_report        /* returns when the exception is resumable (int3) */
        test    %eax, %eax
        jnz     vector_user_return      /* the ring-3 exit sequence faulted: same as int $0x80 */
        mov     %rbx, %rsp
        pop     %rbx
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rax
        add     $16, %rsp
        iretq

        .data
        .align 8
saved_kernel_rsp: .quad 0
user_result:      .quad 0
        .bss
        .align 16
        .skip 65536
user_stack_top:
