/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The static test program that runs as part of /init inside the arm64 test
 * guest, against that guest's real KVM and in-kernel vITS.  It prints TAP on
 * the console; kvm-bed.sh passes it on to automake.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itsmig/its-abi.h"
#include "itsmig/kvm-its.h"
#include "itsmig/kvm-vm.h"

#include "guest-tap.h"

unsigned guest_tap_count;
unsigned guest_tap_failed;
ItsmigKvmItsSemantics guest_semantics;

bool guest_tap_ok(bool ok, const char *fmt, ...)
{
    va_list ap;

    guest_tap_count++;
    if (!ok)
        guest_tap_failed++;
    printf("%s %u - ", ok ? "ok" : "not ok", guest_tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    return ok;
}

void guest_tap_diag(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    const char *line = buf;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* Every line must stay a TAP comment. */
    while (*line) {
        size_t len = strcspn(line, "\n");
        printf("# %.*s\n", (int)len, line);
        line += len;
        if (*line == '\n')
            line++;
    }
    fflush(stdout);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One result from a call that returns 0 or -errno with a diag. */
static bool check_call(int r, const ItsmigDiag *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool check_call(int r, const ItsmigDiag *d, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    guest_tap_ok(r >= 0, "%s", what);
    if (r < 0)
        guest_tap_diag("  %s", d->text);
    return r >= 0;
}

/* ---- shared layout of the scratch VMs' RAM ------------------------------- */

#define RAM_SIZE          (16u << 20)
#define GPA(off)          (ITSMIG_KVM_VM_RAM_BASE + (off))
#define CMDQ_GPA          GPA(0x000000)
#define DEVTAB_GPA        GPA(0x010000)
#define COLLTAB_GPA       GPA(0x020000)
#define ITT_GPA           GPA(0x030000)
#define PROPTAB_GPA       GPA(0x040000)
#define PENDTAB_GPA(vcpu) GPA(0x100000 + 0x10000 * (uint64_t)(vcpu))
#define LPI_ID_BITS       16u
#define PENDTAB_SIZE      ((1u << LPI_ID_BITS) / 8)

static uint8_t *ram_ptr(ItsmigKvmVm *vm, uint64_t gpa, uint64_t len)
{
    return itsmig_guest_mem_ptr(itsmig_kvm_vm_memory(vm), gpa, len);
}

/* ITS commands, 32 bytes of four little-endian words (GICv3 spec, 5.3). */
typedef struct {
    uint64_t dw[4];
} ItsCmd;

static ItsCmd cmd_mapd(uint32_t devid, uint64_t itt, unsigned event_bits)
{
    ItsCmd c = {{0x08 | (uint64_t)devid << 32, event_bits - 1,
                 1ull << 63 | (itt & 0x000fffffffffff00ull), 0}};
    return c;
}

static ItsCmd cmd_mapc(uint16_t icid, uint32_t vcpu)
{
    ItsCmd c = {{0x09, 0, 1ull << 63 | (uint64_t)vcpu << 16 | icid, 0}};
    return c;
}

static ItsCmd cmd_mapti(uint32_t devid, uint32_t event, uint32_t pintid, uint16_t icid)
{
    ItsCmd c = {{0x0a | (uint64_t)devid << 32, event | (uint64_t)pintid << 32, icid, 0}};
    return c;
}

/* Queues @n commands at the start of the queue and moves CWRITER past them;
 * KVM runs them at once when the ITS is enabled. */
static int run_cmds(ItsmigKvmVm *vm, const ItsCmd *cmds, unsigned n, ItsmigDiag *d)
{
    uint8_t *q = ram_ptr(vm, CMDQ_GPA, 32ull * n);

    for (unsigned i = 0; i < n; i++)
        for (unsigned w = 0; w < 4; w++)
            itsmig_le64_store(q + 32 * i + 8 * w, cmds[i].dw[w]);
    return itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CWRITER, 32ull * n, d);
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* ---- a) the probe ----------------------------------------------------------- */

/* GICD_IIDR of a 6.1 kernel: KVM_VGIC_IMP_REV_LATEST is 3 (GICR_CTLR.{IR,CES}). */
#define KVM61_GICD_REVISION 3u
#define KVM_GITS_TYPER_61   0x1ef71ull /* PLPIS, 16 DevBits, 16 IDbits, 8-byte ITEs */

static void probe_gicd_iidr_writes(void)
{
    ItsmigKvmVmConfig cfg = {.nr_vcpus = 1, .with_its = true, .init_vgic = true};
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag d = {0};
    uint32_t iidr = 0, back = 0;
    int r;

    if (!check_call(itsmig_kvm_vm_new(&cfg, &vm, &d), &d, "probe: scratch VM for GICD_IIDR"))
        return;
    r = itsmig_kvm_vm_dist_get(vm, ITSMIG_GICD_IIDR, &iidr, &d);
    if (check_call(r, &d, "probe: GICD_IIDR readable after CTRL_INIT")) {
        for (unsigned rev = 0; rev <= 4; rev++) {
            uint32_t v = (iidr & ~0xf000u) | rev << 12;
            ItsmigDiag wd = {0};

            r = itsmig_kvm_vm_dist_set(vm, ITSMIG_GICD_IIDR, v, &wd);
            back = 0;
            itsmig_kvm_vm_dist_get(vm, ITSMIG_GICD_IIDR, &back, &d);
            guest_tap_diag("GICD_IIDR write of revision %u: %s, reads back 0x%08x", rev,
                           r == 0 ? "accepted" : itsmig_errno_name(-r), back);
            if (rev == 2 || rev == 3)
                guest_tap_ok(r == 0 && ITSMIG_GICD_IIDR_REVISION(back) == rev,
                             "probe: GICD_IIDR revision %u can be restored", rev);
            else
                guest_tap_ok(r == -EINVAL, "probe: GICD_IIDR revision %u rejected with EINVAL",
                             rev);
        }
    }
    itsmig_kvm_vm_free(vm);
}

static void probe_its_register_rules(const ItsmigKvmItsCaps *caps)
{
    ItsmigKvmVmConfig cfg = {.nr_vcpus = 1, .with_its = true};
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag d = {0};
    uint64_t v = 0;
    int r;

    if (!check_call(itsmig_kvm_vm_new(&cfg, &vm, &d), &d, "probe: scratch VM for ITS rules"))
        return;
    /* Only the Revision field is looked at: other IIDR fields are ignored. */
    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_IIDR, 0x12345000u & ~0xf000u, &d);
    itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_IIDR, &v, &d);
    guest_tap_ok(r == 0 && v == 0x4b00043bu,
                 "probe: GITS_IIDR write with foreign ProductID/Implementer accepted, "
                 "value unchanged (r=%d, reads 0x%llx)",
                 r, (unsigned long long)v);
    /* 64-bit registers need 64-bit aligned offsets from userspace. */
    r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_TYPER + 4, &v, &d);
    guest_tap_ok(r == -EINVAL, "probe: GITS_TYPER high word alone is EINVAL (%s)",
                 r ? itsmig_errno_name(-r) : "0");
    r = itsmig_kvm_vm_its_get(vm, 0x0200, &v, &d);
    guest_tap_ok(r == -ENXIO, "probe: unknown ITS register offset is ENXIO (%s)",
                 r ? itsmig_errno_name(-r) : "0");
    guest_tap_ok(itsmig_kvm_vm_has_attr(vm, true, ITSMIG_KVM_VGIC_GRP_ITS_REGS, ITSMIG_GITS_CTLR),
                 "probe: GRP_ITS_REGS GITS_CTLR attribute present (QEMU's migration check)");
    /* This VM's vGIC is not initialised: ITS registers work; a GICD access
     * fails (with the errno the probe measured, and the reason) or, on
     * kernels that allow it, succeeds as the probe measured. */
    {
        uint32_t iidr = 0;
        int want = -caps->semantics.gicd_access_before_init_errno;
        ItsmigDiag gd = {0};

        r = itsmig_kvm_vm_dist_get(vm, ITSMIG_GICD_IIDR, &iidr, &gd);
        if (want < 0) {
            guest_tap_ok(r == want && strstr(gd.text, "CTRL_INIT"),
                         "probe: GICD access before CTRL_INIT is %s, as the probe measured, and "
                         "says why",
                         itsmig_errno_name(want));
        } else {
            guest_tap_ok(caps->semantics.measured && r == 0 && (iidr & 0xfff) == 0x43b,
                         "probe: GICD access before CTRL_INIT succeeds, as the probe measured "
                         "(GICD_IIDR 0x%08x)",
                         iidr);
        }
        if (r != want)
            guest_tap_diag("  r=%d %s", r, gd.text);
        r = itsmig_kvm_vm_vgic_ctrl(vm, ITSMIG_KVM_VGIC_CTRL_INIT, &d);
        if (r == 0)
            r = itsmig_kvm_vm_dist_get(vm, ITSMIG_GICD_IIDR, &iidr, &d);
        check_call(r, &d, "probe: GICD_IIDR readable after a late CTRL_INIT (0x%08x)", iidr);
    }
    itsmig_kvm_vm_free(vm);
}

void guest_tests_probe(void)
{
    ItsmigKvmItsCaps caps;
    ItsmigDiag d = {0};
    ItsmigGitsTyper t;
    double t0 = now_ms();
    int r;
    bool rejected_einval = true;

    r = itsmig_kvm_its_probe(&caps, &d);
    if (!check_call(r, &d, "probe: itsmig_kvm_its_probe returns 0"))
        return;
    guest_tap_diag("probe took %.1f ms (kernel %s, %s)", now_ms() - t0, caps.kernel_release,
                   caps.arch);
    if (!guest_tap_ok(caps.available, "probe: available")) {
        guest_tap_diag("  reason: %s", caps.unavailable_reason);
        return;
    }
    guest_tap_ok(itsmig_kvm_its_caps_has_revision(&caps, 0), "probe: ITS ABI revision 0 accepted");
    for (unsigned rev = 1; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        if (itsmig_kvm_its_caps_has_revision(&caps, rev) ||
            caps.abi_revision_errno[rev] != EINVAL) {
            rejected_einval = false;
            guest_tap_diag("revision %u: %s", rev,
                           itsmig_kvm_its_caps_has_revision(&caps, rev)
                               ? "accepted"
                               : itsmig_errno_name(caps.abi_revision_errno[rev]));
        }
    }
    guest_tap_ok(rejected_einval, "probe: ITS ABI revisions 1..15 rejected with EINVAL");
    guest_tap_ok(caps.default_abi_revision == 0, "probe: a new ITS reports revision %u (want 0)",
                 caps.default_abi_revision);
    guest_tap_ok(caps.gits_iidr == 0x4b00043bu && caps.gits_iidr == itsmig_gits_iidr_make_kvm(0),
                 "probe: GITS_IIDR 0x%08x (want 0x4b00043b)", caps.gits_iidr);
    guest_tap_ok(caps.has_ctrl_reset, "probe: ITS has KVM_DEV_ARM_ITS_CTRL_RESET");
    guest_tap_ok(caps.has_save_tables, "probe: ITS has KVM_DEV_ARM_ITS_SAVE_TABLES");
    guest_tap_ok(caps.has_restore_tables, "probe: ITS has KVM_DEV_ARM_ITS_RESTORE_TABLES");
    guest_tap_ok(caps.has_save_pending_tables,
                 "probe: vGICv3 has KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES");
    guest_tap_ok(caps.gicd_revision == KVM61_GICD_REVISION &&
                     caps.gicd_iidr == (0x4bu << 24 | KVM61_GICD_REVISION << 12 | 0x43bu),
                 "probe: GICD_IIDR 0x%08x, implementation revision %u (6.1: 3)", caps.gicd_iidr,
                 caps.gicd_revision);

    itsmig_gits_typer_decode(caps.gits_typer, &t);
    guest_tap_diag("GITS_TYPER 0x%016llx", (unsigned long long)caps.gits_typer);
    guest_tap_ok(caps.gits_typer == KVM_GITS_TYPER_61, "probe: GITS_TYPER is 0x%llx",
                 (unsigned long long)KVM_GITS_TYPER_61);
    guest_tap_ok(t.physical && !t.virt, "probe: GITS_TYPER PLPIS set, VIRTUAL clear");
    guest_tap_ok(t.dev_bits == ITSMIG_ITS_DEVBITS && t.id_bits == ITSMIG_ITS_IDBITS,
                 "probe: GITS_TYPER 16 DeviceID and 16 EventID bits (got %u, %u)", t.dev_bits,
                 t.id_bits);
    guest_tap_ok(t.itt_entry_size == ITSMIG_ITS_ESZ, "probe: GITS_TYPER ITT entry size %u",
                 t.itt_entry_size);
    guest_tap_ok(!t.pta && !t.cil && t.cid_bits == 16,
                 "probe: GITS_TYPER PTA=0 (targets are vCPU numbers), CIL=0 (16-bit ICIDs)");
    guest_tap_ok(caps.gicv4 == ITSMIG_GICV4_NONE, "probe: GICv4 level %s (%s)",
                 itsmig_gicv4_level_to_string(caps.gicv4), caps.gicv4_source);

    guest_semantics = caps.semantics;
    guest_tap_ok(caps.semantics.measured, "probe: vITS behaviour measured");
    guest_tap_diag("save with an unreachable device: %s",
                   caps.semantics.save_unreachable_device_errno
                       ? itsmig_errno_name(caps.semantics.save_unreachable_device_errno)
                       : "succeeds, device skipped");
    guest_tap_diag("GITS_BASER change: %s the mappings",
                   caps.semantics.baser_write_keeps_mappings ? "keeps" : "drops");
    guest_tap_diag("GICD access before CTRL_INIT: %s",
                   caps.semantics.gicd_access_before_init_errno
                       ? itsmig_errno_name(caps.semantics.gicd_access_before_init_errno)
                       : "succeeds");

    probe_gicd_iidr_writes();
    probe_its_register_rules(&caps);
}

/* ---- b) KVM_DEV_ARM_ITS_CTRL_RESET ------------------------------------------ */

/* Mapping an LPI reads its configuration byte and pending bit, so both
 * tables must be in guest RAM before MAPTI or RESTORE_TABLES. */
static int setup_redists(ItsmigKvmVm *vm, unsigned nr_vcpus, ItsmigDiag *d)
{
    int r = itsmig_kvm_vm_redist_set(vm, 0, ITSMIG_GICR_PROPBASER,
                                     itsmig_gicr_propbaser_make(PROPTAB_GPA, LPI_ID_BITS), d);

    for (unsigned c = 0; r == 0 && c < nr_vcpus; c++)
        r = itsmig_kvm_vm_redist_set(vm, c, ITSMIG_GICR_PENDBASER,
                                     itsmig_gicr_pendbaser_make(PENDTAB_GPA(c)), d);
    return r;
}

static uint64_t its_get(ItsmigKvmVm *vm, uint32_t off)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    ItsmigDiag d = {0};

    if (itsmig_kvm_vm_its_get(vm, off, &v, &d) < 0)
        guest_tap_diag("  %s", d.text);
    return v;
}

void guest_tests_reset(void)
{
    ItsmigKvmVmConfig cfg = {
        .nr_vcpus = 2, .ram_size = RAM_SIZE, .with_its = true, .init_vgic = true};
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag d = {0};
    uint64_t cbaser = itsmig_gits_cbaser_make(CMDQ_GPA, 1);
    uint64_t baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DEVTAB_GPA, 1, false);
    uint64_t baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, COLLTAB_GPA, 1, false);
    uint64_t b0, b1, v, sum_before, sum_after;
    const ItsCmd cmds[] = {
        cmd_mapd(3, ITT_GPA, 4),
        cmd_mapc(7, 1),
        cmd_mapti(3, 2, 8200, 7),
    };
    uint8_t *ram;
    int r;

    if (!check_call(itsmig_kvm_vm_new(&cfg, &vm, &d), &d, "reset: scratch VM (2 vCPUs, 16M)"))
        return;
    ram = ram_ptr(vm, GPA(0), RAM_SIZE);

    /* CBASER resets CREADR and CWRITER, so it goes first on restore. */
    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CBASER, cbaser, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CREADR, 0x40, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CBASER, cbaser, &d);
    guest_tap_ok(r == 0 && its_get(vm, ITSMIG_GITS_CREADR) == 0 &&
                     its_get(vm, ITSMIG_GITS_CWRITER) == 0,
                 "reset: a CBASER write zeroes CREADR and CWRITER");

    r = setup_redists(vm, 2, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_IIDR, itsmig_gits_iidr_make_kvm(0), &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CREADR, 0, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CWRITER, 0, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(0), baser0, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(1), baser1, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, ITSMIG_GITS_CTLR_ENABLED, &d);
    if (!check_call(r, &d,
                    "reset: program PROPBASER/PENDBASER, CBASER, CREADR, CWRITER, "
                    "BASER0/1, enable"))
        goto out;
    b0 = its_get(vm, ITSMIG_GITS_BASER(0));
    b1 = its_get(vm, ITSMIG_GITS_BASER(1));
    guest_tap_diag("BASER0 0x%016llx BASER1 0x%016llx CBASER 0x%016llx", (unsigned long long)b0,
                   (unsigned long long)b1, (unsigned long long)its_get(vm, ITSMIG_GITS_CBASER));
    guest_tap_ok((b0 >> 63) && (b1 >> 63) &&
                     (its_get(vm, ITSMIG_GITS_CTLR) & ITSMIG_GITS_CTLR_ENABLED),
                 "reset: BASER0/1 Valid and the ITS enabled");

    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CREADR, 0, &d);
    guest_tap_ok(r == -EBUSY, "reset: CREADR write while enabled is EBUSY (%s)",
                 r ? itsmig_errno_name(-r) : "0");

    r = run_cmds(vm, cmds, 3, &d);
    v = its_get(vm, ITSMIG_GITS_CREADR);
    guest_tap_ok(r == 0 && v == 96, "reset: MAPD, MAPC, MAPTI consumed (CREADR %llu)",
                 (unsigned long long)v);
    r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, &d);
    if (check_call(r, &d, "reset: SAVE_TABLES with the mapping")) {
        ItsmigItsDte dte;
        ItsmigItsCte cte;
        ItsmigItsIte ite;

        itsmig_its_dte_decode(itsmig_le64_load(ram_ptr(vm, DEVTAB_GPA + 3 * 8, 8)), &dte);
        itsmig_its_cte_decode(itsmig_le64_load(ram_ptr(vm, COLLTAB_GPA, 8)), &cte);
        itsmig_its_ite_decode(itsmig_le64_load(ram_ptr(vm, ITT_GPA + 2 * 8, 8)), &ite);
        guest_tap_ok(dte.valid && dte.itt_addr == ITT_GPA && dte.event_id_bits == 4 && cte.valid &&
                         cte.icid == 7 && cte.target == 1 && ite.pintid == 8200 && ite.icid == 7,
                     "reset: the saved tables hold the mapping (DTE, CTE, ITE)");
    }

    r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_CTRL_RESET, &d);
    if (!check_call(r, &d, "reset: CTRL_RESET returns 0"))
        goto out;
    v = its_get(vm, ITSMIG_GITS_BASER(0));
    guest_tap_ok(v == (b0 & ~(1ull << 63)),
                 "reset: BASER0 Valid clear, other fields kept "
                 "(0x%016llx)",
                 (unsigned long long)v);
    v = its_get(vm, ITSMIG_GITS_BASER(1));
    guest_tap_ok(v == (b1 & ~(1ull << 63)),
                 "reset: BASER1 Valid clear, other fields kept "
                 "(0x%016llx)",
                 (unsigned long long)v);
    guest_tap_ok(its_get(vm, ITSMIG_GITS_CBASER) == 0, "reset: CBASER 0");
    guest_tap_ok(its_get(vm, ITSMIG_GITS_CREADR) == 0, "reset: CREADR 0");
    guest_tap_ok(its_get(vm, ITSMIG_GITS_CWRITER) == 0, "reset: CWRITER 0");
    v = its_get(vm, ITSMIG_GITS_CTLR);
    guest_tap_ok(v == ITSMIG_GITS_CTLR_QUIESCENT, "reset: CTLR disabled and quiescent (0x%llx)",
                 (unsigned long long)v);
    guest_tap_ok(its_get(vm, ITSMIG_GITS_IIDR) == 0x4b00043bu, "reset: IIDR (ABI) kept");

    /* With BASER not Valid the save must not touch guest RAM at all. */
    memset(ram_ptr(vm, DEVTAB_GPA, 0x30000), 0xa5, 0x30000);
    sum_before = fnv1a(ram, RAM_SIZE);
    r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, &d);
    sum_after = fnv1a(ram, RAM_SIZE);
    check_call(r, &d, "reset: SAVE_TABLES after reset returns 0");
    guest_tap_ok(sum_before == sum_after,
                 "reset: SAVE_TABLES with BASER not Valid writes nothing "
                 "(%016llx)",
                 (unsigned long long)sum_after);

    /* The ITS cannot be enabled while a table is not Valid. */
    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, ITSMIG_GITS_CTLR_ENABLED, &d);
    v = its_get(vm, ITSMIG_GITS_CTLR);
    guest_tap_ok(r == 0 && !(v & ITSMIG_GITS_CTLR_ENABLED),
                 "reset: enabling with BASER/CBASER not Valid is ignored (CTLR 0x%llx)",
                 (unsigned long long)v);

    /* Revalidated tables show that reset dropped the mapping: the save
     * writes only the collection table's terminating zero entry. */
    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(0), b0, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(1), b1, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, &d);
    if (check_call(r, &d, "reset: SAVE_TABLES with revalidated BASERs")) {
        uint64_t cte0 = itsmig_le64_load(ram_ptr(vm, COLLTAB_GPA, 8));
        uint64_t cte1 = itsmig_le64_load(ram_ptr(vm, COLLTAB_GPA + 8, 8));
        uint64_t dte3 = itsmig_le64_load(ram_ptr(vm, DEVTAB_GPA + 3 * 8, 8));

        guest_tap_ok(cte0 == 0 && cte1 == 0xa5a5a5a5a5a5a5a5ull && dte3 == 0xa5a5a5a5a5a5a5a5ull,
                     "reset: no device or collection survived (CTE0 %llx, DTE3 %llx)",
                     (unsigned long long)cte0, (unsigned long long)dte3);
    }
out:
    itsmig_kvm_vm_free(vm);
}

/* ---- c) SAVE_PENDING_TABLES ------------------------------------------------- */

#define PEND_DEVID  5u
#define PEND_EVENT  3u /* -> PEND_LPI on vCPU 0: signalled */
#define PEND_LPI    8200u
#define OTHER_EVENT 4u /* -> OTHER_LPI on vCPU 1: pending in the saved table */
#define OTHER_LPI   8201u

static int restore_its(ItsmigKvmVm *vm, uint64_t baser0, uint64_t baser1, ItsmigDiag *d)
{
    /* The documented order: IIDR, CBASER, the other registers (CREADR
     * after CBASER), RESTORE_TABLES, and CTLR last. */
    const struct {
        uint32_t off;
        uint64_t val;
    } regs[] = {
        {ITSMIG_GITS_IIDR, itsmig_gits_iidr_make_kvm(0)},
        {ITSMIG_GITS_CBASER, itsmig_gits_cbaser_make(CMDQ_GPA, 1)},
        {ITSMIG_GITS_CREADR, 0},
        {ITSMIG_GITS_CWRITER, 0},
        {ITSMIG_GITS_BASER(0), baser0},
        {ITSMIG_GITS_BASER(1), baser1},
    };
    int r;

    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        r = itsmig_kvm_vm_its_set(vm, regs[i].off, regs[i].val, d);
        if (r < 0)
            return r;
    }
    r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_RESTORE_TABLES, d);
    if (r < 0)
        return r;
    return itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, ITSMIG_GITS_CTLR_ENABLED, d);
}

static int enable_lpis(ItsmigKvmVm *vm, unsigned nr_vcpus, ItsmigDiag *d)
{
    int r = 0;

    for (unsigned c = 0; r == 0 && c < nr_vcpus; c++)
        r = itsmig_kvm_vm_redist_set(vm, c, ITSMIG_GICR_CTLR, ITSMIG_GICR_CTLR_ENABLE_LPIS, d);
    return r;
}

static void check_pending(ItsmigKvmVm *vm, const char *tag, unsigned vcpu, const uint32_t *want,
                          size_t n_want, const char *what)
{
    uint32_t *ids = NULL;
    size_t n = 0;
    ItsmigDiag d = {0};
    const uint8_t *tab = ram_ptr(vm, PENDTAB_GPA(vcpu), PENDTAB_SIZE);
    int r = itsmig_its_pending_decode(tab, PENDTAB_SIZE, &ids, &n, &d);
    bool same = r == 0 && n == n_want;

    for (size_t i = 0; same && i < n; i++)
        same = ids[i] == want[i];
    for (size_t i = 0; same && i < n_want; i++)
        same = itsmig_its_pending_test(tab, PENDTAB_SIZE, want[i]);
    if (n_want)
        guest_tap_ok(same, "%s: vCPU %u's pending table holds exactly LPI %u (%s)", tag, vcpu,
                     want[0], what);
    else
        guest_tap_ok(same, "%s: vCPU %u's pending table is empty (%s)", tag, vcpu, what);
    if (!same) {
        guest_tap_diag("  decode r=%d, %zu pending: %s", r, n, d.text);
        for (size_t i = 0; i < n && i < 8; i++)
            guest_tap_diag("  pending LPI %u", ids[i]);
    }
    free(ids);
}

/*
 * A VM with device 5 (events 3 and 4 -> LPIs 8200 on vCPU 0 and 8201 on
 * vCPU 1) restored from tables, 8201 pending in vCPU 1's saved pending
 * table.  @lpis_first: enable LPIs in GICR_CTLR with the rest of the
 * redistributor state, before the ITS (as QEMU orders it: the GICv3
 * loads before the ITS); else only after the ITS is restored.
 */
static ItsmigKvmVm *pending_vm(const char *tag, bool lpis_first)
{
    ItsmigKvmVmConfig cfg = {
        .nr_vcpus = 2, .ram_size = RAM_SIZE, .with_its = true, .init_vgic = true};
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag d = {0};
    ItsmigItsEvent events[] = {
        {.event_id = PEND_EVENT, .pintid = PEND_LPI, .icid = 1},
        {.event_id = OTHER_EVENT, .pintid = OTHER_LPI, .icid = 2},
    };
    ItsmigItsDevice dev = {.device_id = PEND_DEVID,
                           .itt_addr = ITT_GPA,
                           .event_id_bits = 4,
                           .first_event = 0,
                           .n_events = 2};
    ItsmigItsCollection colls[] = {{.icid = 1, .target = 0}, {.icid = 2, .target = 1}};
    ItsmigItsMapping m = {.devices = &dev,
                          .n_devices = 1,
                          .events = events,
                          .n_events = 2,
                          .collections = colls,
                          .n_collections = 2};
    ItsmigItsLayout layout = {
        .baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DEVTAB_GPA, 1, false),
        .baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, COLLTAB_GPA, 1, false),
    };
    uint8_t *prop, *pend1;
    uint64_t v = 0;
    int r;

    if (!check_call(itsmig_kvm_vm_new(&cfg, &vm, &d), &d, "%s: scratch VM (2 vCPUs, 16M)", tag))
        return NULL;

    r = itsmig_its_write_tables(&m, &layout, itsmig_kvm_vm_memory(vm), &d);
    if (!check_call(r, &d, "%s: itsmig_its_write_tables lays out device 5 -> 2 LPIs", tag))
        goto fail;

    /* LPI configuration: priority 0xa0, bit 0 enables. */
    prop = ram_ptr(vm, PROPTAB_GPA, (1u << LPI_ID_BITS) - ITSMIG_ITS_MIN_LPI);
    prop[PEND_LPI - ITSMIG_ITS_MIN_LPI] = 0xa1;
    prop[OTHER_LPI - ITSMIG_ITS_MIN_LPI] = 0xa1;
    pend1 = ram_ptr(vm, PENDTAB_GPA(1), PENDTAB_SIZE);
    pend1[OTHER_LPI / 8] |= 1u << (OTHER_LPI % 8);

    r = setup_redists(vm, 2, &d);
    if (r == 0 && lpis_first)
        r = enable_lpis(vm, 2, &d);
    if (!check_call(r, &d, "%s: PROPBASER, PENDBASER%s set", tag,
                    lpis_first ? ", GICR_CTLR.EnableLPIs" : ""))
        goto fail;
    itsmig_kvm_vm_redist_get(vm, 1, ITSMIG_GICR_PROPBASER, &v, &d);
    guest_tap_ok(itsmig_gicr_propbaser_addr(v) == PROPTAB_GPA &&
                     itsmig_gicr_propbaser_idbits(v) == LPI_ID_BITS,
                 "%s: PROPBASER is shared, vCPU 1 reads 0x%016llx", tag, (unsigned long long)v);
    itsmig_kvm_vm_redist_get(vm, 1, ITSMIG_GICR_PENDBASER, &v, &d);
    guest_tap_ok(itsmig_gicr_pendbaser_addr(v) == PENDTAB_GPA(1),
                 "%s: vCPU 1 PENDBASER reads back 0x%016llx", tag, (unsigned long long)v);

    r = restore_its(vm, layout.baser0, layout.baser1, &d);
    if (!check_call(r, &d, "%s: ITS restored in the documented order, RESTORE_TABLES 0", tag))
        goto fail;
    v = its_get(vm, ITSMIG_GITS_CTLR);
    guest_tap_ok(v & ITSMIG_GITS_CTLR_ENABLED, "%s: ITS enabled after restore (CTLR 0x%llx)", tag,
                 (unsigned long long)v);
    guest_tap_ok(!itsmig_its_pending_test(pend1, PENDTAB_SIZE, OTHER_LPI),
                 "%s: RESTORE_TABLES consumed (cleared) the saved pending bit of LPI %u", tag,
                 OTHER_LPI);
    return vm;

fail:
    itsmig_kvm_vm_free(vm);
    return NULL;
}

static void signal_and_check(ItsmigKvmVm *vm, const char *tag)
{
    ItsmigDiag d = {0};
    int r;

    r = itsmig_kvm_vm_signal_msi(vm, PEND_DEVID, PEND_EVENT, &d);
    if (r < 0)
        guest_tap_diag("  %s", d.text);
    guest_tap_ok(r == 1, "%s: KVM_SIGNAL_MSI(device %u, event %u) delivered (%d)", tag, PEND_DEVID,
                 PEND_EVENT, r);
    r = itsmig_kvm_vm_signal_msi(vm, PEND_DEVID, 9, &d);
    guest_tap_ok(r == 0, "%s: KVM_SIGNAL_MSI of an unmapped event is blocked (%d)", tag, r);
    r = itsmig_kvm_vm_signal_msi(vm, PEND_DEVID + 1, PEND_EVENT, &d);
    guest_tap_ok(r == 0, "%s: KVM_SIGNAL_MSI of an unmapped device is blocked (%d)", tag, r);

    r = itsmig_kvm_vm_save_pending(vm, &d);
    check_call(r, &d, "%s: SAVE_PENDING_TABLES returns 0", tag);
}

void guest_tests_pending(void)
{
    static const uint32_t want0[] = {PEND_LPI};
    static const uint32_t want1[] = {OTHER_LPI};
    ItsmigKvmVm *vm;
    ItsmigDiag d = {0};
    uint64_t v = 0;
    int r;

    /* QEMU's order: the whole redistributor state, then the ITS. */
    vm = pending_vm("pending", true);
    if (vm) {
        signal_and_check(vm, "pending");
        check_pending(vm, "pending", 0, want0, 1, "signalled");
        check_pending(vm, "pending", 1, want1, 1, "restored");
        itsmig_kvm_vm_free(vm);
    }

    /* LPIs enabled only after the ITS: enabling re-reads the pending table,
     * which RESTORE_TABLES already consumed, so the restored bit is lost. */
    vm = pending_vm("pending-late-lpis", false);
    if (vm) {
        r = itsmig_kvm_vm_signal_msi(vm, PEND_DEVID, PEND_EVENT, &d);
        guest_tap_ok(r == -EBUSY,
                     "pending-late-lpis: MSI before GICR_CTLR.EnableLPIs is EBUSY (%s)",
                     r < 0    ? itsmig_errno_name(-r)
                     : r == 0 ? "blocked"
                              : "delivered");
        r = enable_lpis(vm, 2, &d);
        if (r < 0)
            guest_tap_diag("  %s", d.text);
        itsmig_kvm_vm_redist_get(vm, 0, ITSMIG_GICR_CTLR, &v, &d);
        guest_tap_ok(r == 0 && (v & ITSMIG_GICR_CTLR_ENABLE_LPIS),
                     "pending-late-lpis: LPIs enabled (GICR_CTLR 0x%llx)", (unsigned long long)v);
        signal_and_check(vm, "pending-late-lpis");
        check_pending(vm, "pending-late-lpis", 0, want0, 1, "signalled");
        check_pending(vm, "pending-late-lpis", 1, NULL, 0,
                      "restored bit lost: EnableLPIs after RESTORE_TABLES");
        itsmig_kvm_vm_free(vm);
    }
}

int main(void)
{
    double t0 = now_ms();

    setvbuf(stdout, NULL, _IOLBF, 0);
    guest_tap_diag("itsmig real-kernel tests");
    guest_tests_probe();
    guest_tests_reset();
    guest_tests_pending();
    guest_tests_tables();
    guest_tests_regs();
    guest_tap_diag("%u tests, %u failed, %.0f ms", guest_tap_count, guest_tap_failed,
                   now_ms() - t0);
    printf("1..%u\n", guest_tap_count);
    fflush(stdout);
    return guest_tap_failed ? 1 : 0;
}
