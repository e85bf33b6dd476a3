/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "itsmig/its-abi.h"
#include "itsmig/kvm-its.h"
#include "itsmig/kvm-vm.h"

const char *itsmig_gicv4_level_to_string(ItsmigGicv4Level level)
{
    switch (level) {
    case ITSMIG_GICV4_NONE: return "none";
    case ITSMIG_GICV4_0: return "4.0";
    case ITSMIG_GICV4_1: return "4.1";
    case ITSMIG_GICV4_UNKNOWN:
    case ITSMIG_GICV4_LAST: break;
    }
    return "unknown";
}

bool itsmig_kvm_its_caps_has_revision(const ItsmigKvmItsCaps *caps, unsigned rev)
{
    return caps->available && rev <= ITSMIG_ITS_ABI_REV_MAX && (caps->abi_revisions >> rev) & 1;
}

/* ---- GICv4 level from the kernel log and command line -------------------- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Kernel parameter names treat '-' and '_' alike (parameq()). */
static bool param_name_eq(const char *a, size_t alen, const char *b)
{
    if (alen != strlen(b))
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i] == '-' ? '_' : a[i];
        char y = b[i] == '-' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return true;
}

/* kstrtobool(): only the first one or two characters count. */
static int parse_kernel_bool(const char *v, size_t len)
{
    if (len == 0)
        return -1;
    switch (v[0]) {
    case 'y':
    case 'Y':
    case 't':
    case 'T':
    case '1': return 1;
    case 'n':
    case 'N':
    case 'f':
    case 'F':
    case '0': return 0;
    case 'o':
    case 'O':
        if (len >= 2 && (v[1] == 'n' || v[1] == 'N'))
            return 1;
        if (len >= 2 && (v[1] == 'f' || v[1] == 'F'))
            return 0;
        return -1;
    default: return -1;
    }
}

/* -1 when the command line does not set kvm-arm.vgic_v4_enable (or sets it
 * to something the kernel ignores), else its value; the last one counts. */
static int cmdline_gicv4_enable(const char *cmdline)
{
    static const char name[] = "kvm-arm.vgic_v4_enable";
    int value = -1;
    const char *p = cmdline;

    while (p && *p) {
        size_t len, nlen;
        const char *eq;

        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        len = strcspn(p, " \t\n");
        if (len == 0)
            break;
        eq = memchr(p, '=', len);
        nlen = eq ? (size_t)(eq - p) : len;
        if (param_name_eq(p, nlen, name) && eq) {
            int v = parse_kernel_bool(eq + 1, len - nlen - 1);
            if (v >= 0)
                value = v;
        }
        p += len;
    }
    return value;
}

typedef enum {
    LOG_NOTHING,
    LOG_ENABLED,
    LOG_DISABLED,
} LogVerdict;

/* KVM prints these only after its vGIC probe has run, and that probe prints
 * the GICv4 line first whenever the host GIC has GICv4. */
static const char *const vgic_done_markers[] = {
    "GIC system register CPU interface enabled",
    "vgic interrupt IRQ",
    "VHE mode initialized successfully",
    "Hyp mode initialized successfully",
    "Protected nVHE mode initialized successfully",
};

static void scan_log(const char *log, LogVerdict *ret_verdict, bool *ret_v41, bool *ret_vgic_done)
{
    const char *line = log;

    *ret_verdict = LOG_NOTHING;
    *ret_v41 = false;
    *ret_vgic_done = false;
    while (line && *line) {
        size_t len = strcspn(line, "\n");
        const char *end = line + len;
        const char *kvm = NULL, *m;

        for (const char *q = line; q + 5 <= end; q++) {
            if (memcmp(q, "kvm [", 5) == 0) {
                kvm = q;
                break;
            }
        }
        if (kvm) {
            m = kvm + 5;
            while (m < end && *m >= '0' && *m <= '9')
                m++;
            if (end - m >= 3 && memcmp(m, "]: ", 3) == 0) {
                const char *text = m + 3;
                size_t tlen = (size_t)(end - text);
                char buf[128];

                /* The message is short; anything longer is not ours. */
                if (tlen < sizeof(buf)) {
                    memcpy(buf, text, tlen);
                    buf[tlen] = '\0';
                    if (starts_with(buf, "GICv4")) {
                        const char *s = buf + 5;
                        bool v41 = starts_with(s, ".1");

                        if (v41)
                            s += 2;
                        if (strcmp(s, " support enabled") == 0 ||
                            strcmp(s, " support disabled") == 0) {
                            *ret_verdict = s[9] == 'e' ? LOG_ENABLED : LOG_DISABLED;
                            *ret_v41 = v41;
                        }
                    } else {
                        for (size_t i = 0;
                             i < sizeof(vgic_done_markers) / sizeof(vgic_done_markers[0]); i++) {
                            if (starts_with(buf, vgic_done_markers[i]))
                                *ret_vgic_done = true;
                        }
                    }
                }
            }
        }
        line = *end ? end + 1 : end;
    }
}

void itsmig_kvm_its_parse_gicv4(const char *log, const char *cmdline, ItsmigGicv4Level *ret_level,
                                char ret_source[ITSMIG_GICV4_SOURCE_MAX])
{
    LogVerdict verdict;
    bool v41, vgic_done;
    char msg[32];
    int enable = cmdline_gicv4_enable(cmdline);

    scan_log(log, &verdict, &v41, &vgic_done);
    /* The line as vgic_v3_probe() prints it. */
    snprintf(msg, sizeof(msg), "GICv4%s support %sabled", v41 ? ".1" : "",
             verdict == LOG_ENABLED ? "en" : "dis");

    switch (verdict) {
    case LOG_ENABLED:
        *ret_level = v41 ? ITSMIG_GICV4_1 : ITSMIG_GICV4_0;
        snprintf(ret_source, ITSMIG_GICV4_SOURCE_MAX, "kernel log: \"%s\"", msg);
        return;
    case LOG_DISABLED:
        *ret_level = ITSMIG_GICV4_NONE;
        snprintf(ret_source, ITSMIG_GICV4_SOURCE_MAX,
                 "kernel log: \"%s\" (host GIC has %s; kvm-arm.vgic_v4_enable is off)", msg,
                 v41 ? "GICv4.1" : "GICv4");
        return;
    case LOG_NOTHING: break;
    }

    if (enable == 0) {
        *ret_level = ITSMIG_GICV4_NONE;
        snprintf(ret_source, ITSMIG_GICV4_SOURCE_MAX,
                 "kernel command line: kvm-arm.vgic_v4_enable is off");
    } else if (vgic_done) {
        *ret_level = ITSMIG_GICV4_NONE;
        snprintf(ret_source, ITSMIG_GICV4_SOURCE_MAX,
                 "kernel log: KVM's vGIC probe printed no GICv4 line (host GIC has no GICv4)");
    } else if (enable < 0 && cmdline) {
        *ret_level = ITSMIG_GICV4_NONE;
        snprintf(ret_source, ITSMIG_GICV4_SOURCE_MAX,
                 "kernel command line: no kvm-arm.vgic_v4_enable, and KVM's default is off");
    } else if (enable > 0) {
        *ret_level = ITSMIG_GICV4_UNKNOWN;
        snprintf(ret_source, ITSMIG_GICV4_SOURCE_MAX,
                 "kvm-arm.vgic_v4_enable is on, but the kernel log no longer has KVM's GICv4 line");
    } else {
        *ret_level = ITSMIG_GICV4_UNKNOWN;
        snprintf(ret_source, ITSMIG_GICV4_SOURCE_MAX,
                 "neither the kernel log nor the command line says");
    }
}

/* ---- the probe ------------------------------------------------------------ */

#define KMSG_RECORD_MAX  8192         /* larger than any /dev/kmsg record */
#define KMSG_KEEP_MAX    (64u * 1024) /* KVM lines kept from the log */
#define KMSG_RECORDS_MAX 1000000u     /* a log that keeps growing cannot hold us */
#define CMDLINE_MAX      8192

/* The KVM lines of the kernel log as NUL-terminated text (malloc'ed), or
 * NULL with @ret_err set. */
static char *read_kvm_log_lines(int *ret_err)
{
    char *rec = malloc(KMSG_RECORD_MAX);
    char *out = malloc(KMSG_KEEP_MAX);
    size_t used = 0;
    int fd;

    if (!rec || !out) {
        free(rec);
        free(out);
        *ret_err = ENOMEM;
        return NULL;
    }
    fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *ret_err = errno;
        free(rec);
        free(out);
        return NULL;
    }
    for (unsigned n = 0; n < KMSG_RECORDS_MAX; n++) {
        ssize_t len = read(fd, rec, KMSG_RECORD_MAX - 1);
        char *text, *nl;
        size_t tlen;

        if (len < 0) {
            /* EPIPE: records were overwritten before we got to them; the
             * next read continues with the oldest one left. */
            if (errno == EPIPE || errno == EINTR)
                continue;
            break; /* EAGAIN: the end of the log */
        }
        if (len == 0)
            break;
        rec[len] = '\0';
        /* "prefix;message\n" then optional " KEY=value" lines */
        text = strchr(rec, ';');
        if (!text)
            continue;
        text++;
        nl = strchr(text, '\n');
        if (nl)
            *nl = '\0';
        tlen = strlen(text);
        if (!strstr(text, "kvm ["))
            continue;
        if (used + tlen + 2 > KMSG_KEEP_MAX)
            break;
        memcpy(out + used, text, tlen);
        used += tlen;
        out[used++] = '\n';
    }
    out[used] = '\0';
    close(fd);
    free(rec);
    return out;
}

static char *read_cmdline(void)
{
    char *buf = malloc(CMDLINE_MAX);
    size_t used = 0;
    int fd;

    if (!buf)
        return NULL;
    fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(buf);
        return NULL;
    }
    while (used < CMDLINE_MAX - 1) {
        ssize_t n = read(fd, buf + used, CMDLINE_MAX - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    return buf;
}

static void probe_gicv4(ItsmigKvmItsCaps *caps)
{
    int log_err = 0;
    char *log = read_kvm_log_lines(&log_err);
    char *cmdline = read_cmdline();

    itsmig_kvm_its_parse_gicv4(log, cmdline, &caps->gicv4, caps->gicv4_source);
    if (!log && caps->gicv4 == ITSMIG_GICV4_UNKNOWN) {
        const char *n = itsmig_errno_name(log_err);
        snprintf(caps->gicv4_source, sizeof(caps->gicv4_source),
                 "kernel log not readable (/dev/kmsg: %s)%s", n ? n : strerror(log_err),
                 cmdline ? "" : " nor /proc/cmdline");
    }
    free(log);
    free(cmdline);
}

/* ---- vITS behaviour, measured in scratch VMs -------------------------------- */

/* The scratch VM's RAM for these measurements, one 64K page each. */
#define SEM_RAM_SIZE  (7u * ITSMIG_ITS_TABLE_PAGE)
#define SEM_GPA(page) (ITSMIG_KVM_VM_RAM_BASE + ITSMIG_ITS_TABLE_PAGE * (uint64_t)(page))
#define SEM_CMDQ      SEM_GPA(0)
#define SEM_DT        SEM_GPA(1) /* flat device table, or the level-1 table */
#define SEM_CT        SEM_GPA(2)
#define SEM_L2        SEM_GPA(3)
#define SEM_DT_MOVED  SEM_GPA(4)
#define SEM_CT_MOVED  SEM_GPA(5)
#define SEM_ITT       SEM_GPA(6)
#define SEM_DEVICE_ID 1u
#define SEM_ICID      1u

static uint64_t sem_load(ItsmigKvmVm *vm, uint64_t gpa)
{
    return itsmig_le64_load(itsmig_guest_mem_ptr(itsmig_kvm_vm_memory(vm), gpa, 8));
}

static void sem_store(ItsmigKvmVm *vm, uint64_t gpa, uint64_t v)
{
    itsmig_le64_store(itsmig_guest_mem_ptr(itsmig_kvm_vm_memory(vm), gpa, 8), v);
}

/*
 * A scratch VM whose enabled ITS has device SEM_DEVICE_ID (ITT at SEM_ITT,
 * one EventID bit) and collection SEM_ICID (vCPU 0) mapped by MAPD and MAPC
 * through the command queue, as a guest maps them; the device table is at
 * SEM_DT, flat or (@indirect) a level-1 table pointing at SEM_L2.
 */
static int sem_vm(bool indirect, ItsmigKvmVm **ret_vm, ItsmigDiag *d)
{
    ItsmigKvmVmConfig cfg = {
        .nr_vcpus = 1, .ram_size = SEM_RAM_SIZE, .with_its = true, .init_vgic = true};
    const uint64_t cmds[2][4] = {
        /* MAPD: DeviceID, Size = EventID bits - 1, V and ITT address */
        {0x08 | (uint64_t)SEM_DEVICE_ID << 32, 0, 1ull << 63 | SEM_ITT, 0},
        /* MAPC: V, target vCPU 0, ICID */
        {0x09, 0, 1ull << 63 | SEM_ICID, 0},
    };
    ItsmigKvmVm *vm = NULL;
    uint64_t creadr = 0;
    int r;

    r = itsmig_kvm_vm_new(&cfg, &vm, d);
    if (r < 0)
        return r;
    if (indirect)
        sem_store(vm, SEM_DT, 1ull << 63 | SEM_L2);
    for (unsigned i = 0; i < 8; i++)
        sem_store(vm, SEM_CMDQ + 8 * i, cmds[i / 4][i % 4]);
    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CBASER, itsmig_gits_cbaser_make(SEM_CMDQ, 1), d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(
            vm, ITSMIG_GITS_BASER(0),
            itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, SEM_DT, 1, indirect), d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(
            vm, ITSMIG_GITS_BASER(1),
            itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, SEM_CT, 1, false), d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, ITSMIG_GITS_CTLR_ENABLED, d);
    /* KVM runs the commands as soon as CWRITER moves past them. */
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CWRITER, sizeof(cmds), d);
    if (r == 0)
        r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_CREADR, &creadr, d);
    if (r == 0 && creadr != sizeof(cmds))
        r = itsmig_diag_set(d, EIO, "the ITS consumed %llu of %zu command bytes",
                            (unsigned long long)creadr, sizeof(cmds));
    if (r < 0) {
        itsmig_kvm_vm_free(vm);
        return r;
    }
    *ret_vm = vm;
    return 0;
}

/* A GITS_BASER write that moves both tables (disabled ITS, still Valid),
 * then SAVE_TABLES: do the mappings land in the moved tables? */
static int measure_baser_write(ItsmigKvmItsSemantics *sem, ItsmigDiag *d)
{
    ItsmigKvmVm *vm = NULL;
    ItsmigItsDte dte;
    ItsmigItsCte cte;
    int r;

    r = sem_vm(false, &vm, d);
    if (r < 0)
        return r;
    /* GITS_BASER<n> is read-only while the ITS is enabled. */
    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, 0, d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(
            vm, ITSMIG_GITS_BASER(0),
            itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, SEM_DT_MOVED, 1, false), d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(
            vm, ITSMIG_GITS_BASER(1),
            itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, SEM_CT_MOVED, 1, false), d);
    if (r == 0)
        r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, d);
    if (r == 0) {
        itsmig_its_dte_decode(sem_load(vm, SEM_DT_MOVED + 8ull * SEM_DEVICE_ID), &dte);
        itsmig_its_cte_decode(sem_load(vm, SEM_CT_MOVED), &cte);
        sem->baser_write_keeps_mappings =
            dte.valid && dte.itt_addr == SEM_ITT && cte.valid && cte.icid == SEM_ICID;
    }
    itsmig_kvm_vm_free(vm);
    return r;
}

/* A two-level device table whose level-1 entry for a mapped device the
 * guest cleared behind KVM's back, then SAVE_TABLES. */
static int measure_unreachable_device(ItsmigKvmItsSemantics *sem, ItsmigDiag *d)
{
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag sd = {0};
    int r;

    r = sem_vm(true, &vm, d);
    if (r < 0)
        return r;
    sem_store(vm, SEM_DT, 0);
    r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, &sd);
    sem->save_unreachable_device_errno = -r;
    itsmig_kvm_vm_free(vm);
    return 0;
}

/* A GICD register read on a vGICv3 before KVM_DEV_ARM_VGIC_CTRL_INIT. */
static int measure_gicd_before_init(ItsmigKvmItsSemantics *sem, ItsmigDiag *d)
{
    ItsmigKvmVmConfig cfg = {.nr_vcpus = 1, .with_its = true};
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag gd = {0};
    uint32_t v;
    int r;

    r = itsmig_kvm_vm_new(&cfg, &vm, d);
    if (r < 0)
        return r;
    sem->gicd_access_before_init_errno = -itsmig_kvm_vm_dist_get(vm, ITSMIG_GICD_IIDR, &v, &gd);
    itsmig_kvm_vm_free(vm);
    return 0;
}

static int measure_semantics(ItsmigKvmItsSemantics *sem, ItsmigDiag *d)
{
    int r;

    memset(sem, 0, sizeof(*sem));
    r = measure_baser_write(sem, d);
    if (r == 0)
        r = measure_unreachable_device(sem, d);
    if (r == 0)
        r = measure_gicd_before_init(sem, d);
    sem->measured = r == 0;
    return r;
}

const char *const itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_LAST] = {
    [ITSMIG_KVM_ITS_SEMANTICS_SAVE_UNREACHABLE_DEVICE] =
        "scratch VM: two-level device table, MAPD through the command queue, the level-1 "
        "entry of that device cleared in guest RAM, then KVM_DEV_ARM_ITS_SAVE_TABLES",
    [ITSMIG_KVM_ITS_SEMANTICS_BASER_WRITE] =
        "scratch VM: MAPD and MAPC through the command queue, ITS disabled, GITS_BASER0 and "
        "GITS_BASER1 moved to other (Valid) tables, then KVM_DEV_ARM_ITS_SAVE_TABLES: are the "
        "device and the collection in the moved tables",
    [ITSMIG_KVM_ITS_SEMANTICS_GICD_BEFORE_INIT] =
        "scratch VM: GICD_IIDR read through KVM_DEV_ARM_VGIC_GRP_DIST_REGS before "
        "KVM_DEV_ARM_VGIC_CTRL_INIT",
};

/* What a new ITS (and vGICv3) reports, before anyone writes to it. */
static int probe_fresh_its(ItsmigKvmItsCaps *caps, ItsmigDiag *diag)
{
    ItsmigKvmVmConfig base = {.nr_vcpus = 1, .ram_size = 0, .with_its = true, .init_vgic = true};
    ItsmigDiag d = {0};
    ItsmigKvmVm *vm = NULL;
    uint64_t v;
    uint32_t gicd_iidr;
    int r;

    r = itsmig_kvm_vm_new(&base, &vm, &d);
    if (r < 0)
        return itsmig_diag_set(diag, r, "KVM probe: scratch VM: %s", d.text);
    r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_IIDR, &v, &d);
    if (r < 0)
        goto fail;
    caps->gits_iidr = (uint32_t)v;
    caps->default_abi_revision = itsmig_gits_iidr_revision(caps->gits_iidr);
    r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_TYPER, &caps->gits_typer, &d);
    if (r < 0)
        goto fail;
    caps->has_ctrl_reset =
        itsmig_kvm_vm_has_attr(vm, true, ITSMIG_KVM_VGIC_GRP_CTRL, ITSMIG_KVM_ITS_CTRL_RESET);
    caps->has_save_tables =
        itsmig_kvm_vm_has_attr(vm, true, ITSMIG_KVM_VGIC_GRP_CTRL, ITSMIG_KVM_ITS_SAVE_TABLES);
    caps->has_restore_tables =
        itsmig_kvm_vm_has_attr(vm, true, ITSMIG_KVM_VGIC_GRP_CTRL, ITSMIG_KVM_ITS_RESTORE_TABLES);
    caps->has_save_pending_tables = itsmig_kvm_vm_has_attr(vm, false, ITSMIG_KVM_VGIC_GRP_CTRL,
                                                           ITSMIG_KVM_VGIC_SAVE_PENDING_TABLES);
    r = itsmig_kvm_vm_dist_get(vm, ITSMIG_GICD_IIDR, &gicd_iidr, &d);
    if (r < 0)
        goto fail;
    caps->gicd_iidr = gicd_iidr;
    caps->gicd_revision = ITSMIG_GICD_IIDR_REVISION(gicd_iidr);
    itsmig_kvm_vm_free(vm);
    return 0;

fail:
    itsmig_kvm_vm_free(vm);
    return itsmig_diag_set(diag, r, "KVM probe: %s", d.text);
}

/* Each revision on an ITS nobody has written to: an accepted write
 * switches the ITS's ABI, which must not colour the next answer. */
static int probe_revisions(ItsmigKvmItsCaps *caps, ItsmigDiag *diag)
{
    ItsmigKvmVmConfig base = {.nr_vcpus = 1, .ram_size = 0, .with_its = true, .init_vgic = false};
    ItsmigDiag d = {0};

    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        uint32_t iidr = (caps->gits_iidr & ~(0xfu << 12)) | rev << 12;
        ItsmigKvmVm *vm = NULL;
        int r;

        r = itsmig_kvm_vm_new(&base, &vm, &d);
        if (r < 0)
            return itsmig_diag_set(diag, r, "KVM probe: scratch VM: %s", d.text);
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_IIDR, iidr, &d);
        if (r == 0)
            caps->abi_revisions |= (uint16_t)(1u << rev);
        else
            caps->abi_revision_errno[rev] = -r;
        itsmig_kvm_vm_free(vm);
    }
    return 0;
}

int itsmig_kvm_its_probe(ItsmigKvmItsCaps *ret_caps, ItsmigDiag *diag)
{
    ItsmigKvmItsCaps caps;
    struct utsname u;
    ItsmigDiag d = {0};
    int r;

    memset(&caps, 0, sizeof(caps));
    if (uname(&u) == 0) {
        snprintf(caps.kernel_release, sizeof(caps.kernel_release), "%s", u.release);
        snprintf(caps.arch, sizeof(caps.arch), "%s", u.machine);
    }

    r = itsmig_kvm_vm_check_host(&d);
    if (r < 0) {
        if (!itsmig_kvm_vm_host_unavailable(r))
            return itsmig_diag_set(diag, r, "KVM probe: %s", d.text);
        snprintf(caps.unavailable_reason, sizeof(caps.unavailable_reason), "%s", d.text);
        *ret_caps = caps;
        return 0;
    }

    r = probe_fresh_its(&caps, diag);
    if (r < 0)
        return r;
    r = probe_revisions(&caps, diag);
    if (r < 0)
        return r;
    r = measure_semantics(&caps.semantics, &d);
    if (r < 0)
        return itsmig_diag_set(diag, r, "KVM probe: vITS behaviour: %s", d.text);

    probe_gicv4(&caps);
    caps.available = true;
    *ret_caps = caps;
    return 0;
}
