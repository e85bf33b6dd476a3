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

static bool unavailable_errno(int err)
{
    switch (err) {
    case ENOTSUP:
    case ENOENT:
    case ENODEV:
    case ENXIO:
    case EACCES:
    case EPERM: return true;
    default: return false;
    }
}

int itsmig_kvm_its_probe(ItsmigKvmItsCaps *ret_caps, ItsmigDiag *diag)
{
    ItsmigKvmItsCaps caps;
    struct utsname u;
    ItsmigDiag d = {0};
    ItsmigKvmVm *vm = NULL;
    ItsmigKvmVmConfig base = {.nr_vcpus = 1, .ram_size = 0, .with_its = true, .init_vgic = true};
    uint64_t v;
    uint32_t gicd_iidr;
    int r;

    memset(&caps, 0, sizeof(caps));
    if (uname(&u) == 0) {
        snprintf(caps.kernel_release, sizeof(caps.kernel_release), "%s", u.release);
        snprintf(caps.arch, sizeof(caps.arch), "%s", u.machine);
    }

    r = itsmig_kvm_vm_check_host(&d);
    if (r < 0) {
        if (!unavailable_errno(-r))
            return itsmig_diag_set(diag, r, "KVM probe: %s", d.text);
        snprintf(caps.unavailable_reason, sizeof(caps.unavailable_reason), "%s", d.text);
        *ret_caps = caps;
        return 0;
    }

    /* What a new ITS (and vGICv3) reports, before anyone writes to it. */
    r = itsmig_kvm_vm_new(&base, &vm, &d);
    if (r < 0)
        return itsmig_diag_set(diag, r, "KVM probe: scratch VM: %s", d.text);
    r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_IIDR, &v, &d);
    if (r < 0)
        goto fail;
    caps.gits_iidr = (uint32_t)v;
    caps.default_abi_revision = itsmig_gits_iidr_revision(caps.gits_iidr);
    r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_TYPER, &caps.gits_typer, &d);
    if (r < 0)
        goto fail;
    caps.has_ctrl_reset =
        itsmig_kvm_vm_has_attr(vm, true, ITSMIG_KVM_VGIC_GRP_CTRL, ITSMIG_KVM_ITS_CTRL_RESET);
    caps.has_save_tables =
        itsmig_kvm_vm_has_attr(vm, true, ITSMIG_KVM_VGIC_GRP_CTRL, ITSMIG_KVM_ITS_SAVE_TABLES);
    caps.has_restore_tables =
        itsmig_kvm_vm_has_attr(vm, true, ITSMIG_KVM_VGIC_GRP_CTRL, ITSMIG_KVM_ITS_RESTORE_TABLES);
    caps.has_save_pending_tables = itsmig_kvm_vm_has_attr(vm, false, ITSMIG_KVM_VGIC_GRP_CTRL,
                                                          ITSMIG_KVM_VGIC_SAVE_PENDING_TABLES);
    r = itsmig_kvm_vm_dist_get(vm, ITSMIG_GICD_IIDR, &gicd_iidr, &d);
    if (r < 0)
        goto fail;
    caps.gicd_iidr = gicd_iidr;
    caps.gicd_revision = ITSMIG_GICD_IIDR_REVISION(gicd_iidr);
    itsmig_kvm_vm_free(vm);
    vm = NULL;

    /* Each revision on an ITS nobody has written to: an accepted write
     * switches the ITS's ABI, which must not colour the next answer. */
    base.init_vgic = false;
    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        uint32_t iidr = (caps.gits_iidr & ~(0xfu << 12)) | rev << 12;

        r = itsmig_kvm_vm_new(&base, &vm, &d);
        if (r < 0)
            return itsmig_diag_set(diag, r, "KVM probe: scratch VM: %s", d.text);
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_IIDR, iidr, &d);
        if (r == 0)
            caps.abi_revisions |= (uint16_t)(1u << rev);
        else
            caps.abi_revision_errno[rev] = -r;
        itsmig_kvm_vm_free(vm);
        vm = NULL;
    }

    probe_gicv4(&caps);
    caps.available = true;
    *ret_caps = caps;
    return 0;

fail:
    itsmig_kvm_vm_free(vm);
    return itsmig_diag_set(diag, r, "KVM probe: %s", d.text);
}
