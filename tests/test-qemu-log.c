/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "itsmig/error.h"
#include "itsmig/qemu-log.h"

/* ---- log excerpts -------------------------------------------------------- */

/* What libvirt writes before QEMU's first word: full of ITS and device words
 * that must not count. */
#define HEADER                                                                                     \
    "2026-11-21 10:14:58.402+0000: starting up libvirt version: 10.0.0, qemu version: 8.2.2, "     \
    "kernel: 6.8.0-45-generic, hostname: arm-host-a\n"                                             \
    "LC_ALL=C \\\n"                                                                                \
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin \\\n"                                  \
    "HOME=/var/lib/libvirt/qemu/domain-3-guest1 \\\n"                                              \
    "/usr/bin/qemu-system-aarch64 \\\n"                                                            \
    "-name guest=guest1,debug-threads=on \\\n"                                                     \
    "-S \\\n"                                                                                      \
    "-machine virt-8.2,usb=off,gic-version=3,its=on,dump-guest-core=off \\\n"                      \
    "-accel kvm \\\n"                                                                              \
    "-cpu host \\\n"                                                                               \
    "-device '{\"driver\":\"pcie-root-port\",\"port\":8,\"chassis\":1,\"id\":\"pci.1\","           \
    "\"bus\":\"pcie.0\",\"multifunction\":true,\"addr\":\"0x1\"}' \\\n"                            \
    "-device '{\"driver\":\"vfio-pci\",\"host\":\"0000:01:00.1\",\"id\":\"hostdev0\","             \
    "\"bus\":\"pci.3\",\"addr\":\"0x0\"}' \\\n"                                                    \
    "-msg timestamp=on\n"                                                                          \
    "char device redirected to /dev/pts/3 (label charserial0)\n"
#define HEADER_LINES 14

#define TS             "2026-11-21T10:15:02.123456Z "
#define PROG           "qemu-system-aarch64: "
#define ABORT_PREAMBLE "Unexpected error in kvm_device_access() at ../accel/kvm/kvm-all.c:3477:\n"
#define SHUTDOWN       "2026-11-21 10:15:03.456+0000: shutting down, reason=migrated\n"
#define ITS_SAVE_EACCES                                                                            \
    "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Permission denied"

static GPtrArray *scan_str(const char *text)
{
    return itsmig_qemu_log_scan(text, strlen(text));
}

static const ItsmigQemuLogFinding *finding_at(GPtrArray *findings, guint i)
{
    g_assert_cmpuint(findings->len, >, i);
    return g_ptr_array_index(findings, i);
}

static void assert_finding(const ItsmigQemuLogFinding *f, ItsmigQemuLogKind kind, int err,
                           guint line_no)
{
    g_assert_cmpstr(itsmig_qemu_log_kind_to_string(f->kind), ==,
                    itsmig_qemu_log_kind_to_string(kind));
    g_assert_cmpint(f->err, ==, err);
    g_assert_cmpuint(f->line_no, ==, line_no);
    g_assert_true(g_utf8_validate(f->line, -1, NULL));
    g_assert_cmpuint(strlen(f->line), <=, ITSMIG_QEMU_LOG_LINE_MAX);
}

/* ---- names --------------------------------------------------------------- */

static void test_kind_names(void)
{
    static const char *const names[ITSMIG_QEMU_LOG_LAST] = {
        "its-save", "pending-save", "its-restore", "its-reset", "its-regs", "no-its-migration",
    };

    for (guint i = 0; i < ITSMIG_QEMU_LOG_LAST; i++)
        g_assert_cmpstr(itsmig_qemu_log_kind_to_string(i), ==, names[i]);
    g_assert_null(itsmig_qemu_log_kind_to_string(ITSMIG_QEMU_LOG_LAST));
    g_assert_null(itsmig_qemu_log_kind_to_string((ItsmigQemuLogKind)-1));
}

/* ---- each kind, from whole excerpts -------------------------------------- */

typedef struct {
    const char *name;
    const char *text;
    ItsmigQemuLogKind kind;
    int err;
    guint line_no; /* of the one finding */
    const char *line;
} KindCase;

static const KindCase kind_cases[] = {
    /* Source: the ITS flush when the vCPUs stop; QEMU carries on. */
    {"its-save/timestamped", HEADER TS PROG ITS_SAVE_EACCES "\n" SHUTDOWN, ITSMIG_QEMU_LOG_ITS_SAVE,
     EACCES, HEADER_LINES + 1, TS PROG ITS_SAVE_EACCES},
    {"its-save/program-only",
     PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Bad address\n",
     ITSMIG_QEMU_LOG_ITS_SAVE, EFAULT, 1, NULL},
    /* Reported while a QMP "stop" runs: neither time nor program. */
    {"its-save/bare",
     HEADER
     "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Device or resource busy\n",
     ITSMIG_QEMU_LOG_ITS_SAVE, EBUSY, HEADER_LINES + 1, NULL},
    {"pending-save/then-crash",
     HEADER TS PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000003: "
                    "No such device or address\n"
                    "2026-11-21 10:15:02.300+0000: shutting down, reason=crashed\n",
     ITSMIG_QEMU_LOG_PENDING_SAVE, ENXIO, HEADER_LINES + 1, NULL},
    /* Destination: post_load dies through &error_abort. */
    {"its-restore/error-abort",
     HEADER ABORT_PREAMBLE TS PROG
     "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000002: Invalid argument\n"
     "2026-11-21 10:15:09.001+0000: shutting down, reason=crashed\n",
     ITSMIG_QEMU_LOG_ITS_RESTORE, EINVAL, HEADER_LINES + 2,
     TS PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000002: Invalid argument"},
    {"its-restore/duplicate-collection",
     ABORT_PREAMBLE PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000002: File exists",
     ITSMIG_QEMU_LOG_ITS_RESTORE, EEXIST, 2, NULL},
    /* Older QEMU: the section on a line, the cause on the next. */
    {"its-restore/load-state-two-lines",
     HEADER TS PROG "error while loading state for instance 0x0 of device 'arm_gicv3_its'\n" TS PROG
                    "load of migration failed: Invalid argument\n",
     ITSMIG_QEMU_LOG_ITS_RESTORE, 0, HEADER_LINES + 1, NULL},
    /* Newer QEMU: one error, prepended to. */
    {"its-restore/load-state-one-line",
     TS PROG "load of migration failed: Invalid argument: error while loading state for "
             "instance 0x0 of device 'arm_gicv3_its': post load hook failed\n",
     ITSMIG_QEMU_LOG_ITS_RESTORE, EINVAL, 1, NULL},
    {"its-restore/unknown-section",
     TS PROG "Unknown savevm section or instance 'arm_gicv3_its' 0. Make sure that your current "
             "VM setup matches your saved VM setup, including any hotplugged devices\n",
     ITSMIG_QEMU_LOG_ITS_RESTORE, 0, 1, NULL},
    {"its-restore/unknown-section-newer",
     TS PROG "load of migration failed: Invalid argument: Unknown section or instance "
             "'arm_gicv3_its' 0. Make sure that your current VM setup matches your saved VM "
             "setup, including any hotplugged devices\n",
     ITSMIG_QEMU_LOG_ITS_RESTORE, EINVAL, 1, NULL},
    {"its-restore/unsupported-version",
     TS PROG "savevm: unsupported version 1 for 'arm_gicv3_its' v0\n", ITSMIG_QEMU_LOG_ITS_RESTORE,
     0, 1, NULL},
    {"its-restore/section-footer", TS PROG "Missing section footer for arm_gicv3_its\n",
     ITSMIG_QEMU_LOG_ITS_RESTORE, 0, 1, NULL},
    {"its-reset/ctrl-reset",
     ABORT_PREAMBLE TS PROG
     "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000004: Device or resource busy\n",
     ITSMIG_QEMU_LOG_ITS_RESET, EBUSY, 2, NULL},
    {"its-reset/unsupported-warning",
     HEADER TS PROG "warning: ITS KVM: full reset is not supported by the host kernel\n",
     ITSMIG_QEMU_LOG_ITS_RESET, 0, HEADER_LINES + 1, NULL},
    {"its-regs/pre-save-get",
     HEADER ABORT_PREAMBLE TS PROG
     "KVM_GET_DEVICE_ATTR failed: Group 8 attr 0x0000000000000100: No such device or address\n",
     ITSMIG_QEMU_LOG_ITS_REGS, ENXIO, HEADER_LINES + 2, NULL},
    {"its-regs/post-load-set",
     ABORT_PREAMBLE TS PROG
     "KVM_SET_DEVICE_ATTR failed: Group 8 attr 0x0000000000000090: Invalid argument\n",
     ITSMIG_QEMU_LOG_ITS_REGS, EINVAL, 2, NULL},
    {"no-its-migration/only-migratable",
     HEADER TS PROG "disallowing migration blocker (--only-migratable) for: This operating system "
                    "kernel does not support vITS migration\n",
     ITSMIG_QEMU_LOG_NO_ITS_MIGRATION, 0, HEADER_LINES + 1, NULL},
};

static void test_kind_case(gconstpointer data)
{
    const KindCase *c = data;
    g_autoptr(GPtrArray) findings = scan_str(c->text);
    guint header_lines = 0;

    for (const char *p = HEADER; *p; p++)
        header_lines += *p == '\n';
    g_assert_cmpuint(header_lines, ==, HEADER_LINES);
    g_assert_cmpuint(findings->len, ==, 1);
    assert_finding(finding_at(findings, 0), c->kind, c->err, c->line_no);
    if (c->line)
        g_assert_cmpstr(finding_at(findings, 0)->line, ==, c->line);
}

/* Stopping a VM flushes the ITS tables, then the pending tables. */
static void test_several_in_order(void)
{
    const char *text = HEADER TS PROG ITS_SAVE_EACCES
        "\n" TS PROG
        "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000003: Bad address\n" SHUTDOWN;
    g_autoptr(GPtrArray) findings = scan_str(text);

    g_assert_cmpuint(findings->len, ==, 2);
    assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, EACCES, HEADER_LINES + 1);
    assert_finding(finding_at(findings, 1), ITSMIG_QEMU_LOG_PENDING_SAVE, EFAULT, HEADER_LINES + 2);
}

static void test_errno_texts(void)
{
    static const struct {
        const char *text;
        int err;
    } cases[] = {
        {": Permission denied", EACCES},
        {": Invalid argument", EINVAL},
        {": Bad address", EFAULT},
        {": Device or resource busy", EBUSY},
        {": File exists", EEXIST},
        {": Cannot allocate memory", ENOMEM},
        {": No such device or address", ENXIO},
        {": Permission denied  ", EACCES},
        {": Permission", 0},
        {": Keine Berechtigung", 0},
        {"", 0},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            TS PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001%s", cases[i].text);
        g_autoptr(GPtrArray) findings = scan_str(text);

        g_assert_cmpuint(findings->len, ==, 1);
        if (finding_at(findings, 0)->err != cases[i].err)
            g_error("errno %d, not %d, from: %s", finding_at(findings, 0)->err, cases[i].err, text);
        assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, cases[i].err, 1);
    }
}

/* ---- what is not a finding ----------------------------------------------- */

static const char *const non_findings[] = {
    HEADER SHUTDOWN,
    /* another group: vGICv3 addresses, redistributor and CPU registers */
    PROG "KVM_SET_DEVICE_ATTR failed: Group 0 attr 0x0000000000000002: Invalid argument\n",
    ABORT_PREAMBLE PROG
    "KVM_SET_DEVICE_ATTR failed: Group 5 attr 0x0000000100010080: Invalid argument\n",
    ABORT_PREAMBLE PROG
    "KVM_GET_DEVICE_ATTR failed: Group 6 attr 0x000000000000c664: Inappropriate ioctl for device\n",
    /* CTRL_INIT goes to both devices: it cannot say which failed */
    ABORT_PREAMBLE PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000000: Invalid "
                        "argument\n",
    PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000005: No such device or address\n",
    PROG "KVM_SET_DEVICE_ATTR failed: Group 40 attr 0x0000000000000001: Invalid argument\n",
    /* not QEMU's message */
    PROG "XKVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Permission denied\n",
    PROG "KVM_PUT_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Permission denied\n",
    PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x\n",
    PROG "KVM_SET_DEVICE_ATTR failed: Group attr 0x0000000000000001\n",
    /* the preamble whose message never made it to the log */
    HEADER ABORT_PREAMBLE,
    /* the vGICv3's blocker, not the ITS's */
    TS PROG "This operating system kernel does not support vGICv3 migration\n",
    /* another ITS warning */
    TS PROG "warning: ITS KVM: something else entirely\n",
    TS PROG "warning: GICv3 ITS: translation table walk is slow\n",
    /* other devices' state */
    TS PROG "error while loading state for instance 0x0 of device 'arm_gicv3'\n",
    TS PROG "error while loading state for instance 0x0 of device 'arm_gicv3_its_x'\n",
    TS PROG "error while loading state for instance 0x0 of device 'my_arm_gicv3_its'\n",
    TS PROG "error while loading state for instance 0x0 of device '0000:00:02.0/virtio-net'\n",
    TS PROG "load of migration failed: Invalid argument\n",
    TS PROG "Missing section footer for arm_gicv3\n",
    /* the ITS's state loading fine, as the vmstate trace events show it */
    "12345@1795256102.123456:vmstate_load arm_gicv3_its, arm_gicv3_its\n",
    "-global arm_gicv3_its.foo=on \\\n",
};

static void test_non_findings(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(non_findings); i++) {
        g_autoptr(GPtrArray) findings = scan_str(non_findings[i]);

        if (findings->len != 0)
            g_error("a finding in: %s", non_findings[i]);
    }
}

/* ---- odd bytes ----------------------------------------------------------- */

static void test_empty(void)
{
    g_autoptr(GPtrArray) a = itsmig_qemu_log_scan(NULL, 0);
    g_autoptr(GPtrArray) b = itsmig_qemu_log_scan("", 0);
    /* the length rules, not a NUL */
    g_autoptr(GPtrArray) c = itsmig_qemu_log_scan(ITS_SAVE_EACCES, 20);

    g_assert_cmpuint(a->len, ==, 0);
    g_assert_cmpuint(b->len, ==, 0);
    g_assert_cmpuint(c->len, ==, 0);
}

static void test_crlf(void)
{
    const char *text =
        "2026-11-21 10:14:58.402+0000: starting up\r\n"
        "char device redirected\r\n" TS PROG ITS_SAVE_EACCES "\r\n"
        "mid\rline " TS PROG "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x3: Invalid argument\r\n";
    g_autoptr(GPtrArray) findings = scan_str(text);

    g_assert_cmpuint(findings->len, ==, 2);
    assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, EACCES, 3);
    g_assert_cmpstr(finding_at(findings, 0)->line, ==, TS PROG ITS_SAVE_EACCES);
    assert_finding(finding_at(findings, 1), ITSMIG_QEMU_LOG_PENDING_SAVE, EINVAL, 4);
    g_assert_true(g_str_has_prefix(finding_at(findings, 1)->line, "mid?line "));
    g_assert_true(g_str_has_suffix(finding_at(findings, 1)->line, "Invalid argument"));
}

static void test_nul_bytes(void)
{
    static const char text[] =
        "garbage \0 before\n"
        "2026\0" PROG ITS_SAVE_EACCES "\n"
        "\0\0\0\n" TS PROG "KVM_GET_DEVICE_ATTR failed: Group 8 attr 0x8: Invalid argument";
    g_autoptr(GPtrArray) findings = itsmig_qemu_log_scan(text, sizeof(text) - 1);

    g_assert_cmpuint(findings->len, ==, 2);
    assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, EACCES, 2);
    g_assert_cmpstr(finding_at(findings, 0)->line, ==, "2026?" PROG ITS_SAVE_EACCES);
    assert_finding(finding_at(findings, 1), ITSMIG_QEMU_LOG_ITS_REGS, EINVAL, 4);
}

static void test_invalid_utf8(void)
{
    const char *text = "\xff\xfe\xc3(\n"
                       "\xe2\x82 caf\xc3\xa9 \x1b[31m" PROG ITS_SAVE_EACCES "\xc2\x85\xc3";
    g_autoptr(GPtrArray) findings = scan_str(text);

    g_assert_cmpuint(findings->len, ==, 1);
    assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, 0, 2);
    /* the strerror text runs into the junk: no errno, but the line counts */
    g_assert_cmpstr(finding_at(findings, 0)->line, ==,
                    "?? caf\xc3\xa9 ?[31m" PROG ITS_SAVE_EACCES "??");
}

static void test_unterminated_last_line(void)
{
    g_autoptr(GPtrArray) findings = scan_str(HEADER TS PROG ITS_SAVE_EACCES);

    g_assert_cmpuint(findings->len, ==, 1);
    assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, EACCES, HEADER_LINES + 1);
    g_assert_cmpstr(finding_at(findings, 0)->line, ==, TS PROG ITS_SAVE_EACCES);
}

static void test_overlong_line(void)
{
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GPtrArray) findings = NULL;
    const ItsmigQemuLogFinding *f;

    /* the message far past the cut still counts */
    for (guint i = 0; i < 3000; i++)
        g_string_append(text, "\xc3\xa9"); /* é: a cut must not split it */
    g_string_append(text, " " TS PROG ITS_SAVE_EACCES "\n");
    findings = itsmig_qemu_log_scan(text->str, text->len);

    g_assert_cmpuint(findings->len, ==, 1);
    f = finding_at(findings, 0);
    assert_finding(f, ITSMIG_QEMU_LOG_ITS_SAVE, EACCES, 1);
    g_assert_true(g_str_has_suffix(f->line, "\xc3\xa9..."));
    g_assert_cmpuint(strlen(f->line), ==, ITSMIG_QEMU_LOG_LINE_MAX - 1);
}

static void test_line_at_limit_kept_whole(void)
{
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GString) one_more = NULL;
    g_autoptr(GPtrArray) findings = NULL;
    g_autoptr(GPtrArray) findings_cut = NULL;

    g_string_append(text, TS PROG ITS_SAVE_EACCES " ");
    while (text->len < ITSMIG_QEMU_LOG_LINE_MAX)
        g_string_append_c(text, 'x');
    one_more = g_string_new(text->str);
    g_string_append_c(one_more, 'y');

    findings = itsmig_qemu_log_scan(text->str, text->len);
    g_assert_cmpuint(findings->len, ==, 1);
    g_assert_cmpstr(finding_at(findings, 0)->line, ==, text->str);

    findings_cut = itsmig_qemu_log_scan(one_more->str, one_more->len);
    g_assert_cmpuint(findings_cut->len, ==, 1);
    g_assert_cmpuint(strlen(finding_at(findings_cut, 0)->line), ==, ITSMIG_QEMU_LOG_LINE_MAX);
    g_assert_true(g_str_has_suffix(finding_at(findings_cut, 0)->line, "xxx..."));
}

/* A long-lived guest's log: no timing asserted, only that it ends and finds. */
/* One 4 MiB line that repeats the start of an ITS load error whose id never
 * ends: each repetition used to search the rest of the line (8 s); now each
 * looks no further than an id can be long. */
#define ITS_VMSTATE_NAME "arm_gicv3_its"

static void test_crafted_line_linear(void)
{
    g_autoptr(GString) text = g_string_new(ITS_VMSTATE_NAME " ");
    g_autoptr(GPtrArray) findings = NULL;
    gint64 start;
    double seconds;

    while (text->len < 4 * 1024 * 1024)
        g_string_append(text, "error while loading state section id 1(");
    g_string_append_c(text, '\n');
    start = g_get_monotonic_time();
    findings = itsmig_qemu_log_scan(text->str, text->len);
    seconds = (g_get_monotonic_time() - start) / 1e6;
    g_assert_cmpuint(findings->len, ==, 0);
    if (seconds > 2.0)
        g_test_fail_printf("the crafted 4 MiB line took %.2f s to scan", seconds);
}

static void test_large_log(void)
{
    g_autoptr(GString) text = g_string_new(HEADER);
    g_autoptr(GPtrArray) findings = NULL;
    guint lines = HEADER_LINES;

    while (text->len < 10 * 1024 * 1024) {
        g_string_append(text, TS PROG "warning: guest updated active QH or qTD\n");
        g_string_append(text, "12345@1795256102.123456:vmstate_load arm_gicv3_its, "
                              "arm_gicv3_its\n");
        g_string_append(text, "2026-11-21 10:15:03.456+0000: Domain id=3 is tainted: "
                              "custom-monitor\n");
        lines += 3;
    }
    g_string_append(text, TS PROG ITS_SAVE_EACCES "\n" SHUTDOWN);
    lines += 1;

    findings = itsmig_qemu_log_scan(text->str, text->len);
    g_assert_cmpuint(findings->len, ==, 1);
    assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, EACCES, lines);
}

/* ---- reading the log ----------------------------------------------------- */

typedef struct {
    char *dir;
} Fixture;

static void fixture_setup(Fixture *fx, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    fx->dir = g_dir_make_tmp("itsmig-qemu-log-XXXXXX", &error);
    g_assert_no_error(error);
}

static void fixture_teardown(Fixture *fx, gconstpointer data)
{
    g_autoptr(GDir) dir = g_dir_open(fx->dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(fx->dir, name, NULL);

        if (g_remove(path) != 0)
            g_rmdir(path);
    }
    g_rmdir(fx->dir);
    g_free(fx->dir);
}

static char *write_log(Fixture *fx, const char *name, const char *content)
{
    g_autoptr(GError) error = NULL;
    char *path = g_build_filename(fx->dir, name, NULL);

    g_file_set_contents(path, content, -1, &error);
    g_assert_no_error(error);
    return path;
}

static void append_log(const char *path, const char *content)
{
    FILE *f = fopen(path, "a");

    g_assert_nonnull(f);
    g_assert_cmpint(fputs(content, f), >=, 0);
    g_assert_cmpint(fclose(f), ==, 0);
}

static void assert_bytes(GBytes *bytes, const char *expected)
{
    gsize len;
    const char *data = g_bytes_get_data(bytes, &len);

    g_assert_cmpmem(data, len, expected, strlen(expected));
}

static void test_read_from_offset(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = write_log(fx, "guest1.log", "AAAA\nBBBB\n");
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = NULL;
    gboolean truncated = TRUE, rotated = TRUE;

    g_assert_cmpint(itsmig_qemu_log_size(path, &error), ==, 10);
    g_assert_no_error(error);
    g_assert_true(itsmig_qemu_log_read(path, 5, 1024, &text, &truncated, &rotated, &error));
    g_assert_no_error(error);
    assert_bytes(text, "BBBB\n");
    g_assert_false(truncated);
    g_assert_false(rotated);
}

/* The daemon's use: the size when the vCPUs pause, then what came after. */
static void test_read_appended_since(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = write_log(fx, "guest1.log", HEADER);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = NULL;
    g_autoptr(GPtrArray) findings = NULL;
    goffset size;
    gsize len;
    const char *bytes;

    size = itsmig_qemu_log_size(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(size, ==, strlen(HEADER));
    append_log(path, TS PROG ITS_SAVE_EACCES "\n" SHUTDOWN);

    g_assert_true(itsmig_qemu_log_read(path, size, 1 << 20, &text, NULL, NULL, &error));
    g_assert_no_error(error);
    bytes = g_bytes_get_data(text, &len);
    findings = itsmig_qemu_log_scan(bytes, len);
    g_assert_cmpuint(findings->len, ==, 1);
    assert_finding(finding_at(findings, 0), ITSMIG_QEMU_LOG_ITS_SAVE, EACCES, 1);
}

static void test_read_rotated(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = write_log(fx, "guest1.log", "new log\n");
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = NULL;
    gboolean truncated = TRUE, rotated = FALSE;

    g_assert_true(itsmig_qemu_log_read(path, 4096, 1024, &text, &truncated, &rotated, &error));
    g_assert_no_error(error);
    assert_bytes(text, "new log\n");
    g_assert_true(rotated);
    g_assert_false(truncated);
}

static void test_read_at_end(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = write_log(fx, "guest1.log", "0123456789");
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = NULL;
    gboolean truncated = TRUE, rotated = TRUE;

    g_assert_true(itsmig_qemu_log_read(path, 10, 1024, &text, &truncated, &rotated, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(g_bytes_get_size(text), ==, 0);
    g_assert_false(rotated);
    g_assert_false(truncated);
}

static void test_read_truncated_keeps_end(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = write_log(fx, "guest1.log", "0123456789abcdefghij");
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = NULL;
    g_autoptr(GBytes) exact = NULL;
    gboolean truncated = FALSE, rotated = TRUE;

    g_assert_true(itsmig_qemu_log_read(path, 2, 8, &text, &truncated, &rotated, &error));
    g_assert_no_error(error);
    assert_bytes(text, "cdefghij");
    g_assert_true(truncated);
    g_assert_false(rotated);

    /* exactly @max left: whole, not truncated */
    g_assert_true(itsmig_qemu_log_read(path, 12, 8, &exact, &truncated, NULL, &error));
    g_assert_no_error(error);
    assert_bytes(exact, "cdefghij");
    g_assert_false(truncated);
}

static void assert_refused(const char *path, gint code)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    GBytes *text = NULL;
    gboolean truncated = 7, rotated = 7;

    g_assert_cmpint(itsmig_qemu_log_size(path, &error), ==, -1);
    g_assert_error(error, ITSMIG_ERROR, code);
    g_assert_nonnull(strstr(error->message, path));

    g_assert_false(itsmig_qemu_log_read(path, 0, 1024, &text, &truncated, &rotated, &error2));
    g_assert_error(error2, ITSMIG_ERROR, code);
    g_assert_null(text);
    g_assert_cmpint(truncated, ==, 7);
    g_assert_cmpint(rotated, ==, 7);
}

static void test_read_symlink_refused(Fixture *fx, gconstpointer data)
{
    g_autofree char *target = write_log(fx, "real.log", TS PROG ITS_SAVE_EACCES "\n");
    g_autofree char *link = g_build_filename(fx->dir, "guest1.log", NULL);

    g_assert_cmpint(symlink(target, link), ==, 0);
    assert_refused(link, ITSMIG_ERROR_INTERNAL);
}

static void test_read_directory_refused(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = g_build_filename(fx->dir, "guest1.log", NULL);

    g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
    assert_refused(path, ITSMIG_ERROR_INTERNAL);
}

/* Opening a FIFO for reading would wait for a writer. */
static void test_read_fifo_refused(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = g_build_filename(fx->dir, "guest1.log", NULL);

    g_assert_cmpint(mkfifo(path, 0600), ==, 0);
    assert_refused(path, ITSMIG_ERROR_INTERNAL);
}

static void test_read_absent(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = g_build_filename(fx->dir, "guest1.log", NULL);
    g_autofree char *under_file = NULL;
    g_autofree char *file = write_log(fx, "plain", "x");

    assert_refused(path, ITSMIG_ERROR_NOT_FOUND);
    under_file = g_build_filename(file, "guest1.log", NULL);
    assert_refused(under_file, ITSMIG_ERROR_NOT_FOUND);
}

static void test_read_negative_offset(Fixture *fx, gconstpointer data)
{
    g_autofree char *path = write_log(fx, "guest1.log", "x\n");
    g_autoptr(GError) error = NULL;
    GBytes *text = NULL;

    g_assert_false(itsmig_qemu_log_read(path, -1, 1024, &text, NULL, NULL, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    g_assert_null(text);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/qemu-log/kind/names", test_kind_names);
    for (guint i = 0; i < G_N_ELEMENTS(kind_cases); i++) {
        g_autofree char *path = g_strdup_printf("/qemu-log/scan/kind/%s", kind_cases[i].name);

        g_test_add_data_func(path, &kind_cases[i], test_kind_case);
    }
    g_test_add_func("/qemu-log/scan/several-in-order", test_several_in_order);
    g_test_add_func("/qemu-log/scan/errno-from-strerror", test_errno_texts);
    g_test_add_func("/qemu-log/scan/not-findings", test_non_findings);
    g_test_add_func("/qemu-log/scan/empty-and-length", test_empty);
    g_test_add_func("/qemu-log/scan/crlf", test_crlf);
    g_test_add_func("/qemu-log/scan/nul-bytes", test_nul_bytes);
    g_test_add_func("/qemu-log/scan/invalid-utf8-and-controls", test_invalid_utf8);
    g_test_add_func("/qemu-log/scan/unterminated-last-line", test_unterminated_last_line);
    g_test_add_func("/qemu-log/scan/overlong-line-cut", test_overlong_line);
    g_test_add_func("/qemu-log/scan/line-at-limit-kept-whole", test_line_at_limit_kept_whole);
    g_test_add_func("/qemu-log/scan/10mb-log", test_large_log);
    g_test_add_func("/qemu-log/scan/crafted-line-linear", test_crafted_line_linear);

#define ADD_READ(name, fn)                                                                         \
    g_test_add("/qemu-log/read/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD_READ("from-offset", test_read_from_offset);
    ADD_READ("appended-since-size", test_read_appended_since);
    ADD_READ("rotated-reads-from-start", test_read_rotated);
    ADD_READ("at-end-empty", test_read_at_end);
    ADD_READ("truncated-keeps-last-bytes", test_read_truncated_keeps_end);
    ADD_READ("symlink-refused", test_read_symlink_refused);
    ADD_READ("directory-refused", test_read_directory_refused);
    ADD_READ("fifo-refused", test_read_fifo_refused);
    ADD_READ("absent-not-found", test_read_absent);
    ADD_READ("negative-offset", test_read_negative_offset);
#undef ADD_READ

    return g_test_run();
}
