// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the bare-metal guests of the nested bed (its-fault.c, its-map.c) share: QEMU's arm64
 * `virt` machine's PL011 and ITS registers, MMIO accessors, the generic timer, console output
 * ("NAME: text", NAME being GUEST_NAME, which the including file defines first), the exception
 * report its-fault-start.S calls, and the heartbeat ("NAME: alive N" twice a second) a test
 * watches.  Everything is static: each guest is one translation unit.
 *
 * MMU and caches are off, so every data access is to Device memory: MMIO goes through the
 * single-register, naturally aligned ldr/str of the accessors below.  Those also give KVM a
 * valid instruction syndrome to emulate them with (a writeback or pair access would not).
 */

#ifndef GUEST_NAME
#error "define GUEST_NAME before including bare-metal.h"
#endif

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long u64;

#define BIT(n)           (1UL << (n))
#define FIELD(v, hi, lo) (((v) >> (lo)) & ((1UL << ((hi) - (lo) + 1)) - 1))
#define GENMASK(hi, lo)  ((~0UL >> (63 - (hi))) & ~((1UL << (lo)) - 1))

/* PL011 UART */
#define UART_BASE   0x09000000UL
#define UARTDR      0x000
#define UARTFR      0x018
#define UARTFR_TXFF BIT(5)

/* The ITS control frame; the GICD (0x08000000) and GICR (0x080a0000) are not needed here. */
#define GITS_BASE     0x08080000UL
#define GITS_CTLR     0x0000 /* 32-bit */
#define GITS_IIDR     0x0004 /* 32-bit */
#define GITS_TYPER    0x0008 /* 64-bit, as are all the ones below */
#define GITS_CBASER   0x0080
#define GITS_CWRITER  0x0088
#define GITS_CREADR   0x0090
#define GITS_BASER(n) (0x0100 + 8 * (n))

#define GITS_CTLR_ENABLED   BIT(0)
#define GITS_BASER_VALID    BIT(63)
#define GITS_BASER_ADDR     GENMASK(47, 12)
#define GITS_BASER_TYPE_DEV 1
#define GITS_BASER_TYPE_COL 4
#define GITS_CBASER_VALID   BIT(63)
#define GITS_CQ_OFFSET      GENMASK(19, 5) /* CWRITER/CREADR: byte offset of a command */
#define GITS_CREADR_STALLED BIT(0)

#define GITS_CMD_SIZE 32

static inline u32 rd32(u64 addr)
{
    u32 v;

    asm volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline u64 rd64(u64 addr)
{
    u64 v;

    asm volatile("ldr %x0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void wr32(u64 addr, u32 v)
{
    asm volatile("str %w0, [%1]" : : "rZ"(v), "r"(addr) : "memory");
}

static inline void wr64(u64 addr, u64 v)
{
    asm volatile("str %x0, [%1]" : : "rZ"(v), "r"(addr) : "memory");
}

static inline u64 timer_freq(void)
{
    u64 v;

    asm volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v ? v : 62500000; /* firmware should have set it; QEMU's TCG default if not */
}

static inline u64 timer_now(void)
{
    u64 v;

    asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v) : : "memory");
    return v;
}

static inline void put_char(char c)
{
    while (rd32(UART_BASE + UARTFR) & UARTFR_TXFF)
        ;
    wr32(UART_BASE + UARTDR, (u8)c);
}

static inline void put_str(const char *s)
{
    while (*s)
        put_char(*s++);
}

static inline void put_hex(u64 v)
{
    int shift = 60;

    put_str("0x");
    while (shift > 0 && !(v >> shift)) /* no leading zeros */
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        put_char("0123456789abcdef"[(v >> shift) & 0xf]);
}

static inline void put_dec(u64 v)
{
    char buf[21];
    int i = sizeof(buf);

    buf[--i] = '\0';
    do {
        buf[--i] = '0' + v % 10;
        v /= 10;
    } while (v);
    put_str(&buf[i]);
}

/* "NAME: <text>" without the line end, which put_end() adds. */
static inline void put_start(const char *text)
{
    put_str(GUEST_NAME ": ");
    put_str(text);
}

static inline void put_end(void)
{
    put_str("\r\n");
}

/* Called by the vector table of its-fault-start.S, for any exception. */
void exception(u64 esr, u64 elr, u64 far);

void exception(u64 esr, u64 elr, u64 far)
{
    put_start("error exception esr=");
    put_hex(esr);
    put_str(" elr=");
    put_hex(elr);
    put_str(" far=");
    put_hex(far);
    put_end();
    for (;;)
        asm volatile("wfe");
}

/*
 * Clean and invalidate [p, p + len) to the point of coherency.  Our writes bypass the caches
 * (MMU off), but KVM reads the queue through a cacheable host mapping, and a stale line of it
 * could be in a cache.  A no-op under TCG.
 */
static inline void flush_to_poc(const void *p, u64 len)
{
    u64 ctr, line, a;

    asm volatile("mrs %0, ctr_el0" : "=r"(ctr));
    line = 4UL << FIELD(ctr, 19, 16); /* DminLine: log2 of the words in a line */
    asm volatile("dsb sy" : : : "memory");
    for (a = (u64)p & ~(line - 1); a < (u64)p + len; a += line)
        asm volatile("dc civac, %0" : : "r"(a) : "memory");
    asm volatile("dsb sy" : : : "memory");
}

/* Returns n of the GITS_BASER<n> whose Type is type, or -1. */
static inline int find_baser(u64 type)
{
    int n;

    for (n = 0; n < 8; n++)
        if (FIELD(rd64(GITS_BASE + GITS_BASER(n)), 58, 56) == type)
            return n;
    return -1;
}

static inline void heartbeat(void)
{
    u64 period = timer_freq() / 2, next = timer_now(), count = 0;

    for (;;) {
        next += period;
        while ((long)(timer_now() - next) < 0)
            ;
        if (timer_now() - next > period) /* the counter jumped (a pause?): no burst */
            next = timer_now();
        put_start("alive ");
        put_dec(++count);
        put_end();
    }
}
