/* Entry points of the test-kit guests.
 *
 * PVH (ELF with XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected mode, paging off, %ebx = physical
 * address of hvm_start_info. The identity page tables (4 GiB, 2 MiB pages, user-accessible so
 * ring-3 loops can run) are precomputed in .data: on PVM hosts this code is emulated, where
 * a 2048-entry fill loop would cost ~30 ms. We enter long mode and join the 64-bit path.
 *
 * Flat binary (vessel's 64-bit boot protocol, docs/vmm/boot.md): the VMM loads the file at 1 MiB
 * and enters its first byte in long mode with %rsi = boot_params; we keep its page tables but
 * load our own GDT, IDT and TSS. */
        .section .note.pvh, "a", @note
        .align 4
        .long 4, 4, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .align 4
        .long pvh_start32

        .section .text.start, "ax"
        .code64
        .globl flat_start64
flat_start64:
        jmp     start64_flat

        .code32
        .globl pvh_start32
pvh_start32:
        cli
        mov     %ebx, boot_info_pvh
        mov     %cr4, %eax
        or      $0x20, %eax             /* PAE */
        mov     %eax, %cr4
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     $0xC0000080, %ecx       /* EFER.LME */
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80000001, %eax       /* PG|PE */
        mov     %eax, %cr0
        lgdt    gdt_desc
        ljmp    $0x08, $start64_pvh

        .code64
start64_flat:
        mov     %rsi, boot_info_zeropage(%rip)
start64_pvh:
        lgdt    gdt_desc(%rip)
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        xor     %ax, %ax
        mov     %ax, %fs
        mov     %ax, %gs
        lea     stack_top(%rip), %rsp
        /* reload CS through a far return */
        pushq   $0x08
        lea     1f(%rip), %rax
        push    %rax
        lretq
1:      call    runtime_start           /* never returns */
3:      hlt
        jmp     3b

        .data
        .align 16
        .globl gdt
gdt:    .quad 0                         /* 0x00 */
        .quad 0x00af9b000000ffff        /* 0x08 kernel code 64 */
        .quad 0x00cf93000000ffff        /* 0x10 kernel data */
        .quad 0x00cff3000000ffff        /* 0x18 user data (0x1b) */
        .quad 0x00affb000000ffff        /* 0x20 user code 64 (0x23) */
        .globl gdt_tss
gdt_tss:
        .quad 0, 0                      /* 0x28 TSS (filled by runtime_start) */
gdt_end:
gdt_desc:
        .word gdt_end - gdt - 1
        .quad gdt

        .globl boot_info_pvh, boot_info_zeropage
        .align 8
boot_info_pvh:      .quad 0
boot_info_zeropage: .quad 0

        .data
        .align 4096
pml4:   .quad pdpt + 7
        .fill 511, 8, 0
pdpt:   .quad pd + 7, pd + 0x1000 + 7, pd + 0x2000 + 7, pd + 0x3000 + 7
        .fill 508, 8, 0
pd:     .set page, 0
        .rept 2048
        .quad (page << 21) | 0x87       /* P|W|U|PS */
        .set page, page + 1
        .endr

        .bss
        .align 4096
        .globl stack_top
        .skip 65536
stack_top:
