/* Application processor start-up: the BSP copies this block to 0x8000 and sends INIT-SIPI-SIPI
 * with vector 0x08; each AP starts here in real mode at 0800:0000, enters protected mode, then
 * long mode with the BSP's page tables, takes an index and calls ap_main(index) on its own
 * stack. Addresses are absolute (the block always runs at 0x8000). */
#define TRAMP(x) ((x) - smp_trampoline_start + 0x8000)

        .section .rodata.smp_trampoline, "a"
        .globl smp_trampoline_start, smp_trampoline_end, smp_trampoline_cr3
        .code16
smp_trampoline_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        lgdtl   TRAMP(tramp_gdt_desc)
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x08, $TRAMP(tramp32)

        .code32
tramp32:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     %cr4, %eax
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     TRAMP(smp_trampoline_cr3), %eax
        mov     %eax, %cr3
        mov     $0xC0000080, %ecx
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        ljmp    $0x18, $TRAMP(tramp64)

        .code64
tramp64:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $1, %eax
        lock xadd %eax, ap_next_index
        mov     %eax, %edi
        mov     %rdi, %rsp
        inc     %rsp
        shl     $14, %rsp               /* 16 KiB per AP stack */
        add     $ap_stacks, %rsp
        movabs  $ap_main, %rax
        call    *%rax
1:      cli
        hlt
        jmp     1b

        .align 8
tramp_gdt:
        .quad 0
        .quad 0x00cf9b000000ffff        /* 0x08 code32 */
        .quad 0x00cf93000000ffff        /* 0x10 data */
        .quad 0x00af9b000000ffff        /* 0x18 code64 */
tramp_gdt_desc:
        .word 31
        .long TRAMP(tramp_gdt)
        .align 8
smp_trampoline_cr3:
        .quad 0
smp_trampoline_end:

        .data
        .align 4
        .globl ap_next_index
ap_next_index: .long 0
        .bss
        .align 4096
        .globl ap_stacks
ap_stacks: .skip 16384 * 32
