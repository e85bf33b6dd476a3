// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * its-fault: a bare-metal guest for QEMU's arm64 `virt` machine (gic-version=3, its=on) that
 * makes KVM's ITS table save fail.  It places the ITS Device Table in the flash at guest
 * physical 0 (pflash0, a read-only KVM memory slot), enables the ITS and maps device 0 with a
 * MAPD.  When QEMU stops the VM, KVM_DEV_ARM_ITS_SAVE_TABLES then writes that device's table
 * entry into the read-only slot and fails with -EFAULT ("Group 4 attr 0x...1: Bad address").
 * Afterwards the guest prints "its-fault: alive N" twice a second, so a test can see that it
 * still runs after a pause and resume.
 */

#define GUEST_NAME "its-fault"
#include "bare-metal.h"

#define GITS_CMD_MAPD 0x08

/* The Device Table's home: the start of pflash0, which KVM only lets the guest read. */
#define FLASH_BASE 0x00000000UL
#define DEVICE_ID  0

/*
 * Tables in RAM.  KVM only does 64 KiB ITS pages: it forces GITS_BASER.Page_Size to 64 KiB
 * and clears address bits [15:12] of GITS_BASER and GITS_CBASER, hence the alignment, and
 * the collection table's full 64 KiB (one such page).  The command queue uses one 4 KiB page.
 */
static u64 cmdq[4096 / 8] __attribute__((aligned(65536)));
static u64 coll_table[65536 / 8] __attribute__((aligned(65536)));
static u8 itt[256] __attribute__((aligned(256)));

/* Programs GITS_BASER<n> as a flat table of one page at pa and prints what the ITS kept. */
static u64 program_baser(int n, u64 pa, const char *what)
{
    u64 rb;

    /*
     * Valid, not Indirect, cacheability and shareability 0, Page_Size 0 (4 KiB; KVM makes it
     * 64 KiB), Size 0 (one page).  Type and Entry_Size are read-only.
     */
    wr64(GITS_BASE + GITS_BASER(n), GITS_BASER_VALID | (pa & GITS_BASER_ADDR));
    rb = rd64(GITS_BASE + GITS_BASER(n));
    put_start(what);
    put_str(" GITS_BASER");
    put_dec(n);
    put_str(" readback=");
    put_hex(rb);
    put_end();
    if (!(rb & GITS_BASER_VALID) || (rb & GITS_BASER_ADDR) != (pa & GITS_BASER_ADDR)) {
        put_start("error ");
        put_str(what);
        put_str(" GITS_BASER lost Valid or its address");
        put_end();
    }
    return rb;
}

int main(void)
{
    u64 typer, baser, cbaser, off, creadr, deadline;
    volatile u64 *cmd;
    int dev, col;

    put_start("start");
    put_end();

    put_start("GITS_IIDR=");
    put_hex(rd32(GITS_BASE + GITS_IIDR));
    put_end();
    typer = rd64(GITS_BASE + GITS_TYPER);
    put_start("GITS_TYPER=");
    put_hex(typer);
    put_str(" devbits=");
    put_dec(FIELD(typer, 17, 13) + 1);
    put_str(" itt_entry_size=");
    put_dec(FIELD(typer, 7, 4) + 1);
    put_end();

    dev = find_baser(GITS_BASER_TYPE_DEV);
    if (dev < 0) {
        put_start("error no device table");
        put_end();
        heartbeat();
    }
    baser = rd64(GITS_BASE + GITS_BASER(dev));
    put_start("device table GITS_BASER");
    put_dec(dev);
    put_str("=");
    put_hex(baser);
    put_str(" entry_size=");
    put_dec(FIELD(baser, 52, 48) + 1);
    put_end();

    /* All of GITS_BASER and GITS_CBASER must be set while the ITS is still disabled. */
    program_baser(dev, FLASH_BASE, "device table");

    /* KVM refuses to enable the ITS unless the collection table is valid too. */
    col = find_baser(GITS_BASER_TYPE_COL);
    if (col >= 0) {
        program_baser(col, (u64)coll_table, "collection table");
    } else {
        put_start("no collection table GITS_BASER");
        put_end();
    }

    /* Command queue: one 4 KiB page (Size 0), 128 commands, empty (CWRITER = CREADR = 0). */
    wr64(GITS_BASE + GITS_CBASER, GITS_CBASER_VALID | ((u64)cmdq & GENMASK(51, 12)));
    wr64(GITS_BASE + GITS_CWRITER, 0);
    cbaser = rd64(GITS_BASE + GITS_CBASER);
    put_start("GITS_CBASER readback=");
    put_hex(cbaser);
    put_end();

    wr32(GITS_BASE + GITS_CTLR, GITS_CTLR_ENABLED);
    put_start("GITS_CTLR readback=");
    put_hex(rd32(GITS_BASE + GITS_CTLR));
    put_end();
    if (!(rd32(GITS_BASE + GITS_CTLR) & GITS_CTLR_ENABLED)) {
        put_start("error ITS not enabled");
        put_end();
    }

    /*
     * MAPD DeviceID 0: Size 0 (one EventID bit, always within KVM's limit), Valid, ITT at itt.
     * This puts the device in the ITS's device list; saving the tables then writes its Device
     * Table entry at FLASH_BASE + DEVICE_ID * entry size.
     */
    off = rd64(GITS_BASE + GITS_CWRITER) & GITS_CQ_OFFSET;
    cmd = &cmdq[off / 8];
    cmd[0] = GITS_CMD_MAPD | ((u64)DEVICE_ID << 32);
    cmd[1] = 0;
    cmd[2] = BIT(63) | ((u64)itt & GENMASK(51, 8));
    cmd[3] = 0;
    flush_to_poc((const void *)cmd, GITS_CMD_SIZE); /* also the dsb before CWRITER */
    off = (off + GITS_CMD_SIZE) % sizeof(cmdq);
    wr64(GITS_BASE + GITS_CWRITER, off);

    /*
     * KVM handles the queue within the CWRITER write; allow any ITS a second anyway.  KVM
     * moves CREADR past a command even when it rejects it, so "done" is not proof of a map.
     */
    deadline = timer_now() + timer_freq();
    do {
        creadr = rd64(GITS_BASE + GITS_CREADR);
    } while ((creadr & GITS_CQ_OFFSET) != off && (long)(timer_now() - deadline) < 0);
    if ((creadr & GITS_CQ_OFFSET) == off && !(creadr & GITS_CREADR_STALLED))
        put_start("MAPD done creadr=");
    else
        put_start("error MAPD not consumed creadr=");
    put_hex(creadr);
    put_str(" stalled=");
    put_dec(creadr & GITS_CREADR_STALLED);
    put_end();

    /*
     * Show that the flash is there.  Under KVM it is a read-only memory slot, so this is a
     * plain read; were it unmapped, it would be an MMIO exit that QEMU may answer or fault.
     * Hence it comes only after the setup above.
     */
    put_start("flash[0]=");
    put_hex(rd64(FLASH_BASE));
    put_end();

    put_start("ready");
    put_end();
    heartbeat();
    return 0;
}
