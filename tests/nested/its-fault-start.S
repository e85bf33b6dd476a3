/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Entry of its-fault.elf: QEMU starts the (only) vCPU here at EL1, MMU and caches off.
 * Set up the stack, zero .bss, run main(); park the CPU if main ever returns.
 */

    .section .text.start, "ax"
    .global _start
_start:
    ldr     x0, =stack_top
    mov     sp, x0

    /* The linker script aligns both ends of .bss to 16 bytes. */
    ldr     x0, =bss_start
    ldr     x1, =bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b

    /*
     * Catch exceptions: without a vector table a fault would jump to VBAR_EL1 = 0,
     * into the flash, and the guest would die without a word.
     */
2:  adr     x0, vectors
    msr     vbar_el1, x0
    isb

    bl      main
3:  wfe
    b       3b

/* 16 entries of 128 bytes; all of them report the exception and park the CPU. */
    .balign 2048
vectors:
    .rept   16
    .balign 128
    b       exception_entry
    .endr

exception_entry:
    ldr     x0, =stack_top          /* the old SP may be what went wrong */
    mov     sp, x0
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    mrs     x2, far_el1
    bl      exception               /* does not return */
4:  wfe
    b       4b

    .ltorg
