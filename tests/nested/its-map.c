// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * its-map: a bare-metal guest for QEMU's arm64 `virt` machine (gic-version=3, its=on, two
 * vCPUs) that maps a known set of ITS devices, events and collections in tables in RAM, so
 * that a test can compare what KVM saves of them (itsmigctl its inspect --image) with what
 * the guest made.  The device table is two-level: a level-1 page whose first two entries point
 * at two level-2 pages, so that device 0x2345 lies in the second one.  LPIs are enabled on
 * both redistributors (property table for 14 INTID bits, a pending table each).
 *
 * It prints each collection, device and event as it maps them, in the form
 *
 *   its-map: collection icid=I target=T
 *   its-map: device id=D itt=A event_id_bits=B
 *   its-map: event device=D event=E pintid=P icid=I
 *
 * (numbers in decimal), then "its-map: ready", then "its-map: alive N" twice a second.  A
 * command the ITS did not consume in time is reported as "its-map: error ...".  KVM does not
 * report a command it rejects (it moves GITS_CREADR past it): only the saved tables tell.
 */

#define GUEST_NAME "its-map"
#include "bare-metal.h"

/* The redistributors' RD_base frames: 128 KiB apart (RD_base, SGI_base) from vCPU 0's. */
#define GICR_BASE(cpu)        (0x080a0000UL + 0x20000UL * (cpu))
#define GICR_CTLR             0x0000 /* 32-bit */
#define GICR_PROPBASER        0x0070
#define GICR_PENDBASER        0x0078
#define GICR_CTLR_ENABLE_LPIS BIT(0)
#define NR_CPUS               2

#define GITS_BASER_INDIRECT     BIT(62)
#define GITS_BASER_PAGE_SIZE_64 (2UL << 8)

#define GITS_CMD_MAPD  0x08
#define GITS_CMD_MAPC  0x09
#define GITS_CMD_MAPTI 0x0a

/* LPI INTIDs up to 2^14 - 1: a property table of 8 KiB, pending tables of 2 KiB. */
#define LPI_ID_BITS 14
#define LPI_BASE    8192

/* 64 KiB ITS pages, as KVM forces (its-fault.c says why); a level-2 page holds 8192 DTEs. */
#define PAGE_64K 65536
#define L2_IDS   (PAGE_64K / 8)

static u64 cmdq[4096 / 8] __attribute__((aligned(PAGE_64K)));
static u64 coll_table[PAGE_64K / 8] __attribute__((aligned(PAGE_64K)));
static u64 dev_l1[PAGE_64K / 8] __attribute__((aligned(PAGE_64K)));
static u64 dev_l2[2][PAGE_64K / 8] __attribute__((aligned(PAGE_64K)));
static u8 prop_table[(1UL << LPI_ID_BITS) - LPI_BASE] __attribute__((aligned(PAGE_64K)));
static u8 pend_table[NR_CPUS][PAGE_64K] __attribute__((aligned(PAGE_64K)));

/* The mapping: ICIDs and their vCPUs, devices, and events with their LPI and collection. */
static const struct {
    u64 icid, target;
} collections[] = {{1, 0}, {3, 1}};

#define NR_DEVICES 3
static const struct {
    u64 id, event_id_bits;
} devices[NR_DEVICES] = {{0x1, 3}, {0x20, 2}, {0x2345, 5}};

/* Room for 32 ITEs of up to 32 bytes each: ITTs are 256-byte aligned. */
static u8 itts[NR_DEVICES][1024] __attribute__((aligned(256)));

static const struct {
    u64 device, event, pintid, icid; /* device: index into devices[] */
} events[] = {
    {0, 0, 8192, 1}, {0, 1, 8193, 3}, {0, 5, 8197, 1},  {1, 0, 8200, 3},
    {1, 3, 8203, 3}, {2, 2, 8300, 1}, {2, 17, 8317, 3}, {2, 31, 8331, 1},
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void error(const char *what)
{
    put_start("error ");
    put_str(what);
    put_end();
}

/* Queues one command and waits (up to a second) until the ITS has read past it. */
static void its_cmd(u64 w0, u64 w1, u64 w2)
{
    u64 off, creadr, deadline;
    volatile u64 *cmd;

    off = rd64(GITS_BASE + GITS_CWRITER) & GITS_CQ_OFFSET;
    cmd = &cmdq[off / 8];
    cmd[0] = w0;
    cmd[1] = w1;
    cmd[2] = w2;
    cmd[3] = 0;
    flush_to_poc((const void *)cmd, GITS_CMD_SIZE);
    off = (off + GITS_CMD_SIZE) % sizeof(cmdq);
    wr64(GITS_BASE + GITS_CWRITER, off);
    deadline = timer_now() + timer_freq();
    do {
        creadr = rd64(GITS_BASE + GITS_CREADR);
    } while ((creadr & GITS_CQ_OFFSET) != off && (long)(timer_now() - deadline) < 0);
    if ((creadr & GITS_CQ_OFFSET) != off || (creadr & GITS_CREADR_STALLED)) {
        put_start("error command 0x");
        put_hex(w0 & 0xff);
        put_str(" not consumed creadr=");
        put_hex(creadr);
        put_end();
    }
}

/* Programs GITS_BASER<n> (64 KiB pages, one page) at pa; FALSE when the ITS did not keep
 * Valid, the address, or (asked for) Indirect. */
static int program_baser(int n, u64 pa, u64 indirect)
{
    u64 rb;

    wr64(GITS_BASE + GITS_BASER(n),
         GITS_BASER_VALID | indirect | GITS_BASER_PAGE_SIZE_64 | (pa & GITS_BASER_ADDR));
    rb = rd64(GITS_BASE + GITS_BASER(n));
    put_start("GITS_BASER");
    put_dec(n);
    put_str(" readback=");
    put_hex(rb);
    put_end();
    return (rb & GITS_BASER_VALID) && (rb & GITS_BASER_ADDR) == (pa & GITS_BASER_ADDR) &&
           (rb & GITS_BASER_INDIRECT) == indirect;
}

static void setup_lpis(void)
{
    int cpu;

    /* PROPBASER: IDbits is the number of INTID bits minus one; caches off, like our writes. */
    for (cpu = 0; cpu < NR_CPUS; cpu++) {
        wr64(GICR_BASE(cpu) + GICR_PROPBASER,
             ((u64)prop_table & GENMASK(51, 12)) | (LPI_ID_BITS - 1));
        wr64(GICR_BASE(cpu) + GICR_PENDBASER, (u64)pend_table[cpu] & GENMASK(51, 16));
        wr32(GICR_BASE(cpu) + GICR_CTLR, GICR_CTLR_ENABLE_LPIS);
        put_start("GICR");
        put_dec(cpu);
        put_str(" PROPBASER=");
        put_hex(rd64(GICR_BASE(cpu) + GICR_PROPBASER));
        put_str(" PENDBASER=");
        put_hex(rd64(GICR_BASE(cpu) + GICR_PENDBASER));
        put_str(" CTLR=");
        put_hex(rd32(GICR_BASE(cpu) + GICR_CTLR));
        put_end();
    }
}

int main(void)
{
    u64 i;
    int dev, col;

    put_start("start");
    put_end();
    put_start("GITS_TYPER=");
    put_hex(rd64(GITS_BASE + GITS_TYPER));
    put_end();

    setup_lpis();

    dev = find_baser(GITS_BASER_TYPE_DEV);
    col = find_baser(GITS_BASER_TYPE_COL);
    if (dev < 0 || col < 0) {
        error("no device or collection table");
        heartbeat();
    }
    /* Level 1: entries 0 and 1, Valid, at the level-2 pages; written before the ITS reads. */
    dev_l1[0] = BIT(63) | (u64)dev_l2[0];
    dev_l1[1] = BIT(63) | (u64)dev_l2[1];
    flush_to_poc(dev_l1, 2 * sizeof(dev_l1[0]));
    if (!program_baser(dev, (u64)dev_l1, GITS_BASER_INDIRECT))
        error("the device table is not two-level");
    if (!program_baser(col, (u64)coll_table, 0))
        error("the collection table is not as programmed");

    /* Command queue: one 4 KiB page (Size 0), empty. */
    wr64(GITS_BASE + GITS_CBASER, GITS_CBASER_VALID | ((u64)cmdq & GENMASK(51, 12)));
    wr64(GITS_BASE + GITS_CWRITER, 0);
    wr32(GITS_BASE + GITS_CTLR, GITS_CTLR_ENABLED);
    if (!(rd32(GITS_BASE + GITS_CTLR) & GITS_CTLR_ENABLED))
        error("ITS not enabled");

    /* MAPC: with GITS_TYPER.PTA 0 (KVM's), RDbase is the vCPU's number. */
    for (i = 0; i < ARRAY_SIZE(collections); i++) {
        its_cmd(GITS_CMD_MAPC, 0, BIT(63) | collections[i].target << 16 | collections[i].icid);
        put_start("collection icid=");
        put_dec(collections[i].icid);
        put_str(" target=");
        put_dec(collections[i].target);
        put_end();
    }
    /* MAPD: Size is the EventID bits minus one. */
    for (i = 0; i < NR_DEVICES; i++) {
        its_cmd(GITS_CMD_MAPD | devices[i].id << 32, devices[i].event_id_bits - 1,
                BIT(63) | ((u64)itts[i] & GENMASK(51, 8)));
        put_start("device id=");
        put_dec(devices[i].id);
        put_str(" itt=");
        put_dec((u64)itts[i]);
        put_str(" event_id_bits=");
        put_dec(devices[i].event_id_bits);
        put_end();
    }
    for (i = 0; i < ARRAY_SIZE(events); i++) {
        its_cmd(GITS_CMD_MAPTI | devices[events[i].device].id << 32,
                events[i].pintid << 32 | events[i].event, events[i].icid);
        put_start("event device=");
        put_dec(devices[events[i].device].id);
        put_str(" event=");
        put_dec(events[i].event);
        put_str(" pintid=");
        put_dec(events[i].pintid);
        put_str(" icid=");
        put_dec(events[i].icid);
        put_end();
    }
    put_start("GITS_CREADR=");
    put_hex(rd64(GITS_BASE + GITS_CREADR));
    put_end();

    put_start("ready");
    put_end();
    heartbeat();
    return 0;
}
