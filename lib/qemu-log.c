/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itsmig/error.h"
#include "itsmig/kvm-vm.h"
#include "itsmig/qemu-log.h"

/*
 * How QEMU prints a report (util/qemu-error.c, vreport()):
 *   [<time> ][<guest name> ]<program>: [warning: ]<message>
 * libvirt starts QEMU with "-msg timestamp=on", so a line reads
 *   2026-11-21T10:15:02.123456Z qemu-system-aarch64: KVM_SET_DEVICE_ATTR failed: ...
 * but a report made while a QMP command runs has neither time nor program.
 * So the messages below are looked for anywhere in a line, at a word start,
 * never anchored to a prefix.
 */

static const char *const kind_names[ITSMIG_QEMU_LOG_LAST] = {
    [ITSMIG_QEMU_LOG_ITS_SAVE] = "its-save",
    [ITSMIG_QEMU_LOG_PENDING_SAVE] = "pending-save",
    [ITSMIG_QEMU_LOG_ITS_RESTORE] = "its-restore",
    [ITSMIG_QEMU_LOG_ITS_RESET] = "its-reset",
    [ITSMIG_QEMU_LOG_ITS_REGS] = "its-regs",
    [ITSMIG_QEMU_LOG_NO_ITS_MIGRATION] = "no-its-migration",
};

const char *itsmig_qemu_log_kind_to_string(ItsmigQemuLogKind kind)
{
    if ((guint)kind >= ITSMIG_QEMU_LOG_LAST)
        return NULL;
    return kind_names[kind];
}

void itsmig_qemu_log_finding_free(ItsmigQemuLogFinding *finding)
{
    if (!finding)
        return;
    g_free(finding->line);
    g_free(finding);
}

/* ---- errno from strerror text -------------------------------------------- */

/* QEMU runs under libvirt in the C locale, so its strerror() texts are glibc's
 * English ones (musl's where they differ follow).  Our own strerror() may be
 * localized and so cannot be used to map them back. */
static const struct {
    const char *text;
    int err;
} errno_texts[] = {
    {"Operation not permitted", EPERM},
    {"No such file or directory", ENOENT},
    {"Interrupted system call", EINTR},
    {"Input/output error", EIO},
    {"No such device or address", ENXIO},
    {"Argument list too long", E2BIG},
    {"Bad file descriptor", EBADF},
    {"Resource temporarily unavailable", EAGAIN},
    {"Cannot allocate memory", ENOMEM},
    {"Permission denied", EACCES},
    {"Bad address", EFAULT},
    {"Device or resource busy", EBUSY},
    {"File exists", EEXIST},
    {"No such device", ENODEV},
    {"Invalid argument", EINVAL},
    {"Too many open files", EMFILE},
    {"Inappropriate ioctl for device", ENOTTY},
    {"No space left on device", ENOSPC},
    {"Numerical result out of range", ERANGE},
    {"Function not implemented", ENOSYS},
    {"Operation not supported", EOPNOTSUPP},
    {"Connection timed out", ETIMEDOUT},
    {"Out of memory", ENOMEM},
    {"Resource busy", EBUSY},
    {"Not a tty", ENOTTY},
};

/* The errno whose text is exactly @text[0..len), trailing blanks aside. */
static int errno_from_text(const char *text, gsize len)
{
    while (len > 0 && g_ascii_isspace(text[len - 1]))
        len--;
    for (gsize i = 0; i < G_N_ELEMENTS(errno_texts); i++) {
        if (strlen(errno_texts[i].text) == len && memcmp(errno_texts[i].text, text, len) == 0)
            return errno_texts[i].err;
    }
    return 0;
}

/* ---- matching ------------------------------------------------------------ */

static gboolean is_word_char(char c)
{
    return g_ascii_isalnum(c) || c == '_';
}

/* Where @needle starts a word in @line, searching from @from; NULL if nowhere. */
static const char *find_word(const char *line, const char *from, const char *needle)
{
    for (const char *p = strstr(from, needle); p; p = strstr(p + 1, needle)) {
        if (p == line || !is_word_char(p[-1]))
            return p;
    }
    return NULL;
}

/* Parses a decimal number at *@p, moving *@p past it. */
static gboolean eat_decimal(const char **p, gint64 *ret)
{
    char *end;
    gint64 v;

    if (!g_ascii_isdigit(**p) && !(**p == '-' && g_ascii_isdigit((*p)[1])))
        return FALSE;
    errno = 0;
    v = g_ascii_strtoll(*p, &end, 10);
    if (errno != 0)
        return FALSE;
    *p = end;
    *ret = v;
    return TRUE;
}

/* Parses 1 to 16 hex digits at *@p (no "0x"), moving *@p past them. */
static gboolean eat_hex(const char **p, guint64 *ret)
{
    guint64 v = 0;
    const char *q = *p;

    for (; g_ascii_isxdigit(*q); q++) {
        if (q - *p == 16)
            return FALSE;
        v = v << 4 | (guint64)g_ascii_xdigit_value(*q);
    }
    if (q == *p)
        return FALSE;
    *p = q;
    *ret = v;
    return TRUE;
}

static gboolean eat(const char **p, const char *literal)
{
    gsize n = strlen(literal);

    if (strncmp(*p, literal, n) != 0)
        return FALSE;
    *p += n;
    return TRUE;
}

/*
 * accel/kvm/kvm-all.c, kvm_device_access():
 *   error_setg_errno(errp, -err, "KVM_%s_DEVICE_ATTR failed: Group %d attr 0x%016" PRIx64,
 *                    write ? "SET" : "GET", group, attr);
 * error_setg_errno() appends ": " and strerror() (util/error.c), so:
 *   KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Permission denied
 * QEMU reports it with error_report_err() where it carries on and through
 * &error_abort where it dies; util/error.c then first prints
 *   Unexpected error in kvm_device_access() at ../accel/kvm/kvm-all.c:3477:
 * on a line of its own, with neither time nor program.
 *
 * The ITS device and the vGICv3 device share KVM_DEV_ARM_VGIC_GRP_CTRL:
 * - hw/intc/arm_gicv3_its_kvm.c, vm_change_state_handler(): SET Group 4 attr 1
 *   (ITS_SAVE_TABLES) when the VM stops, error_report_err() and carry on;
 * - hw/intc/arm_gicv3_kvm.c, vm_change_state_handler(): SET Group 4 attr 3
 *   (SAVE_PENDING_TABLES) when the VM stops, error_report_err(), then abort()
 *   unless the error was EFAULT;
 * - hw/intc/arm_gicv3_its_kvm.c, kvm_arm_its_post_load(): SET Group 4 attr 2
 *   (ITS_RESTORE_TABLES) with &error_abort, after the Group 8 register writes;
 * - hw/intc/arm_gicv3_its_kvm.c, kvm_arm_its_reset_hold(): SET Group 4 attr 4
 *   (ITS_CTRL_RESET) with &error_abort;
 * - Group 8 (GRP_ITS_REGS) is the ITS device's alone: the GET in pre_save, the
 *   SET in post_load and the register writes of the fallback reset.
 * Group 4 attr 0 (CTRL_INIT) is sent to both devices at start-up, so the line
 * cannot say which failed; it is not a finding (QEMU does not start).
 */
static ItsmigQemuLogKind match_device_attr(const char *line, int *ret_err)
{
    static const char needle[] = "_DEVICE_ATTR failed: Group ";

    for (const char *hit = strstr(line, needle); hit; hit = strstr(hit + 1, needle)) {
        const char *p = hit + strlen(needle);
        gint64 group;
        guint64 attr;
        ItsmigQemuLogKind kind;

        if (hit - line < 7 ||
            (strncmp(hit - 7, "KVM_SET", 7) != 0 && strncmp(hit - 7, "KVM_GET", 7) != 0))
            continue;
        if (hit - 7 != line && is_word_char(hit[-8]))
            continue;
        if (!eat_decimal(&p, &group) || !eat(&p, " attr 0x") || !eat_hex(&p, &attr))
            continue;

        if (group == ITSMIG_KVM_VGIC_GRP_ITS_REGS)
            kind = ITSMIG_QEMU_LOG_ITS_REGS;
        else if (group != ITSMIG_KVM_VGIC_GRP_CTRL)
            continue;
        else if (attr == ITSMIG_KVM_ITS_SAVE_TABLES)
            kind = ITSMIG_QEMU_LOG_ITS_SAVE;
        else if (attr == ITSMIG_KVM_ITS_RESTORE_TABLES)
            kind = ITSMIG_QEMU_LOG_ITS_RESTORE;
        else if (attr == ITSMIG_KVM_VGIC_SAVE_PENDING_TABLES)
            kind = ITSMIG_QEMU_LOG_PENDING_SAVE;
        else if (attr == ITSMIG_KVM_ITS_CTRL_RESET)
            kind = ITSMIG_QEMU_LOG_ITS_RESET;
        else
            continue;

        *ret_err = eat(&p, ": ") ? errno_from_text(p, strlen(p)) : 0;
        return kind;
    }
    return ITSMIG_QEMU_LOG_LAST;
}

/* The vmstate name of the ITS (hw/intc/arm_gicv3_its_common.c, vmstate_its:
 * .name = "arm_gicv3_its"); a savevm id may put a device path and '/' before it. */
#define ITS_VMSTATE "arm_gicv3_its"

/* Whether @id[0..len) names the ITS: its vmstate name, alone or after a path. */
static gboolean is_its_id(const char *id, gsize len)
{
    gsize n = strlen(ITS_VMSTATE);

    if (len < n || memcmp(id + len - n, ITS_VMSTATE, n) != 0)
        return FALSE;
    return len == n || id[len - n - 1] == '/';
}

/* The longest savevm id QEMU writes (migration/savevm.c, SaveStateEntry's
 * idstr[256]).  Looking no further for the end of an id keeps a scan linear:
 * a line repeating "section id 1(" without a ')' made each hit search the
 * rest of the line. */
#define ITS_ID_MAX 256

/* The length of the id at @p, ended by a byte of @stops or the string's end;
 * -1 when it is longer than any id. */
static gssize its_id_len(const char *p, const char *stops)
{
    for (gssize n = 0; n <= ITS_ID_MAX; n++) {
        if (!p[n] || strchr(stops, p[n]))
            return n;
    }
    return -1;
}

/* Whether *@p starts the ITS's id, ended by @close; moves *@p past @close. */
static gboolean eat_its_id(const char **p, char close)
{
    const char *end = memchr(*p, close, strnlen(*p, ITS_ID_MAX + 1));

    if (!end || !is_its_id(*p, end - *p))
        return FALSE;
    *p = end + 1;
    return TRUE;
}

/*
 * A failed load of the ITS state on the destination, migration/savevm.c:
 * - qemu_loadvm_section_start_full(), when vmstate_load() fails; older QEMU
 *     error_report("error while loading state for instance 0x%" PRIx32 " of device '%s'")
 *   newer QEMU error_prepend()s the same text and ": " to the error, which
 *   process_incoming_migration_co() (migration/migration.c) reports as
 *     load of migration failed: <strerror>: error while loading state for instance 0x0 of
 *     device 'arm_gicv3_its': <cause>
 *   where older QEMU printed "load of migration failed: %s" on a line of its own;
 * - qemu_loadvm_section_part_end(): "error while loading state section id %d(%s)";
 * - no such section here: "Unknown savevm section or instance '%s' %" PRIu32 ". Make sure
 *   ..." ("Unknown section or instance '%s' ..." in newer QEMU);
 * - "savevm: unsupported version %d for '%s' v%d";
 * - check_section_footer(): "Missing section footer for %s".
 * The kernel's own refusal (RESTORE_TABLES) dies through &error_abort, above.
 */
static ItsmigQemuLogKind match_its_load(const char *line, int *ret_err)
{
    static const char *const unknown_section[] = {
        "Unknown savevm section or instance '",
        "Unknown section or instance '",
    };
    const char *hit;
    const char *p;
    gboolean found = FALSE;
    gint64 n;
    guint64 x;

    for (hit = find_word(line, line, "error while loading state "); hit && !found;
         hit = find_word(line, hit + 1, "error while loading state ")) {
        p = hit + strlen("error while loading state ");
        if (eat(&p, "for instance 0x"))
            found = eat_hex(&p, &x) && eat(&p, " of device '") && eat_its_id(&p, '\'');
        else if (eat(&p, "section id "))
            found = eat_decimal(&p, &n) && eat(&p, "(") && eat_its_id(&p, ')');
    }
    for (gsize i = 0; i < G_N_ELEMENTS(unknown_section) && !found; i++) {
        for (hit = find_word(line, line, unknown_section[i]); hit && !found;
             hit = find_word(line, hit + 1, unknown_section[i])) {
            p = hit + strlen(unknown_section[i]);
            found = eat_its_id(&p, '\'');
        }
    }
    for (hit = find_word(line, line, "savevm: unsupported version "); hit && !found;
         hit = find_word(line, hit + 1, "savevm: unsupported version ")) {
        p = hit + strlen("savevm: unsupported version ");
        found = eat_decimal(&p, &n) && eat(&p, " for '") && eat_its_id(&p, '\'');
    }
    for (hit = find_word(line, line, "Missing section footer for "); hit && !found;
         hit = find_word(line, hit + 1, "Missing section footer for ")) {
        p = hit + strlen("Missing section footer for ");
        gssize len = its_id_len(p, " \t:");

        found = len >= 0 && is_its_id(p, len);
    }
    if (!found)
        return ITSMIG_QEMU_LOG_LAST;

    /* The errno, when the report carries one (newer QEMU, one line). */
    *ret_err = 0;
    hit = find_word(line, line, "load of migration failed: ");
    if (hit) {
        const char *text = hit + strlen("load of migration failed: ");
        const char *end = strstr(text, ": ");

        *ret_err = errno_from_text(text, end ? (gsize)(end - text) : strlen(text));
    }
    return ITSMIG_QEMU_LOG_ITS_RESTORE;
}

static ItsmigQemuLogKind classify(const char *line, int *ret_err)
{
    ItsmigQemuLogKind kind;

    *ret_err = 0;
    kind = match_device_attr(line, ret_err);
    if (kind != ITSMIG_QEMU_LOG_LAST)
        return kind;

    /* hw/intc/arm_gicv3_its_kvm.c, kvm_arm_its_realize(): the migration
     * blocker when KVM lacks GRP_ITS_REGS, error_setg(&s->migration_blocker,
     * "This operating system kernel does not support vITS migration").  It
     * reaches the log only when it stops QEMU from starting, after
     * migration/migration.c's "disallowing migration blocker
     * (--only-migratable) for: "; a refused migrate goes back over QMP. */
    if (find_word(line, line, "This operating system kernel does not support vITS migration"))
        return ITSMIG_QEMU_LOG_NO_ITS_MIGRATION;

    /* hw/intc/arm_gicv3_its_kvm.c, kvm_arm_its_reset_hold(): without
     * KVM_DEV_ARM_ITS_CTRL_RESET the ITS keeps its caches across a reset:
     *   warn_report("ITS KVM: full reset is not supported by the host kernel")
     * printed as "<program>: warning: ITS KVM: full reset ...". */
    if (find_word(line, line, "ITS KVM: full reset is not supported by the host kernel"))
        return ITSMIG_QEMU_LOG_ITS_RESET;

    return match_its_load(line, ret_err);
}

/* Every line that classify() can accept holds one of these; the others are
 * skipped without a copy. */
static const char *const prefilter[] = {
    "_DEVICE_ATTR failed: Group ",
    "vITS migration",
    "ITS KVM: full reset",
    ITS_VMSTATE,
};

static gboolean prefilter_hit(const char *line, gsize len)
{
    for (gsize i = 0; i < G_N_ELEMENTS(prefilter); i++) {
        if (memmem(line, len, prefilter[i], strlen(prefilter[i])))
            return TRUE;
    }
    return FALSE;
}

/* @line[0..len) as valid UTF-8 without control characters, cut to
 * ITSMIG_QEMU_LOG_LINE_MAX bytes with a "..." marker. */
static char *sanitize_line(const char *line, gsize len)
{
    static const char marker[] = "...";
    GString *out = g_string_sized_new(MIN(len, ITSMIG_QEMU_LOG_LINE_MAX) + 1);
    gsize cut = 0; /* the longest char-boundary prefix that leaves room for the marker */
    const char *p = line;
    const char *end = line + len;

    while (p < end) {
        const char *next;
        gunichar c = g_utf8_get_char_validated(p, end - p);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            g_string_append_c(out, '?');
            next = p + 1;
        } else {
            next = g_utf8_next_char(p);
            /* C0, DEL and C1 controls; an embedded NUL decodes as U+0000 */
            if (c < 0x20 || (c >= 0x7f && c < 0xa0))
                g_string_append_c(out, '?');
            else
                g_string_append_len(out, p, next - p);
        }
        p = next;
        if (out->len > ITSMIG_QEMU_LOG_LINE_MAX) {
            g_string_truncate(out, cut);
            g_string_append(out, marker);
            break;
        }
        if (out->len <= ITSMIG_QEMU_LOG_LINE_MAX - strlen(marker))
            cut = out->len;
    }
    return g_string_free(out, FALSE);
}

GPtrArray *itsmig_qemu_log_scan(const char *text, gsize len)
{
    GPtrArray *findings =
        g_ptr_array_new_with_free_func((GDestroyNotify)itsmig_qemu_log_finding_free);
    const char *p = text;
    const char *end = text + len;
    guint line_no = 0;

    if (!text)
        return findings;

    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        const char *line_end = nl ? nl : end;
        gsize line_len = line_end - p;
        int err;
        ItsmigQemuLogKind kind;

        line_no++;
        if (line_len > 0 && p[line_len - 1] == '\r')
            line_len--;

        if (prefilter_hit(p, line_len)) {
            /* classify() works on a C string: NULs must not end it early */
            g_autofree char *copy = g_malloc(line_len + 1);

            memcpy(copy, p, line_len);
            copy[line_len] = '\0';

            for (gsize i = 0; i < line_len; i++) {
                if (copy[i] == '\0')
                    copy[i] = '?';
            }
            kind = classify(copy, &err);
            if (kind != ITSMIG_QEMU_LOG_LAST) {
                ItsmigQemuLogFinding *f = g_new0(ItsmigQemuLogFinding, 1);

                f->kind = kind;
                f->err = err;
                f->line = sanitize_line(p, line_len);
                f->line_no = line_no;
                g_ptr_array_add(findings, f);
            }
        }
        p = nl ? nl + 1 : end;
    }
    return findings;
}

/* ---- reading the log ----------------------------------------------------- */

/* Opens @path for reading if it is a regular file; never follows a symbolic
 * link, and never blocks on a FIFO or a device that a log was replaced with. */
static int open_log(const char *path, struct stat *ret_st, GError **error)
{
    int fd;
    int e;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        e = errno;
        if (e == ELOOP)
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "QEMU log %s is a symbolic link; refused", path);
        else
            g_set_error(error, ITSMIG_ERROR,
                        e == ENOENT || e == ENOTDIR ? ITSMIG_ERROR_NOT_FOUND
                                                    : ITSMIG_ERROR_INTERNAL,
                        "cannot open QEMU log %s: %s", path, g_strerror(e));
        return -1;
    }
    if (fstat(fd, ret_st) < 0) {
        e = errno;
        close(fd);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot stat QEMU log %s: %s", path,
                    g_strerror(e));
        return -1;
    }
    if (!S_ISREG(ret_st->st_mode)) {
        close(fd);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                    "QEMU log %s is not a regular file; refused", path);
        return -1;
    }
    return fd;
}

goffset itsmig_qemu_log_size(const char *path, GError **error)
{
    struct stat st;
    int fd;

    g_return_val_if_fail(path != NULL, -1);

    fd = open_log(path, &st, error);
    if (fd < 0)
        return -1;
    close(fd);
    return st.st_size;
}

gboolean itsmig_qemu_log_read(const char *path, goffset offset, gsize max, GBytes **ret_text,
                              gboolean *ret_truncated, gboolean *ret_rotated, GError **error)
{
    struct stat st;
    int fd;
    gboolean rotated = FALSE;
    gboolean truncated = FALSE;
    guint64 remaining;
    gsize want;
    gsize got = 0;
    g_autofree char *buf = NULL;

    g_return_val_if_fail(path != NULL, FALSE);
    g_return_val_if_fail(ret_text != NULL, FALSE);

    if (offset < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "negative offset %" G_GINT64_FORMAT " into QEMU log %s", (gint64)offset, path);
        return FALSE;
    }
    fd = open_log(path, &st, error);
    if (fd < 0)
        return FALSE;

    if (offset > st.st_size) {
        rotated = TRUE;
        offset = 0;
    }
    remaining = (guint64)(st.st_size - offset);
    if (remaining > max) {
        truncated = TRUE;
        offset = st.st_size - (goffset)max;
        want = max;
    } else {
        want = (gsize)remaining;
    }

    buf = g_malloc(want + 1);
    /* QEMU may write while we read: stop at what fstat() saw, or earlier if
     * the file shrank meanwhile. */
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, offset + (goffset)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot read QEMU log %s: %s",
                        path, g_strerror(e));
            return FALSE;
        }
        if (n == 0)
            break;
        got += (gsize)n;
    }
    close(fd);

    *ret_text = g_bytes_new_take(g_realloc(g_steal_pointer(&buf), got + 1), got);
    if (ret_truncated)
        *ret_truncated = truncated;
    if (ret_rotated)
        *ret_rotated = rotated;
    return TRUE;
}
