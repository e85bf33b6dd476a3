/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a domain's QEMU said about its ITS, read from libvirt's per-domain log
 * (/var/log/libvirt/qemu/NAME.log: libvirt's header and command line, then
 * QEMU's stderr).  QEMU only logs a failed KVM_DEV_ARM_ITS_SAVE_TABLES or
 * KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES when the vCPUs stop and then carries on,
 * so a migration that went through may have carried stale tables: the log is
 * the only witness.  itsmigd notes the log's size when it pauses the vCPUs,
 * reads what was appended since, and fails the migration on a finding.
 */

#include <glib.h>

/* The longest line a finding keeps, in bytes; longer ones are cut, ending "...". */
#define ITSMIG_QEMU_LOG_LINE_MAX 1024

typedef enum {
    ITSMIG_QEMU_LOG_ITS_SAVE,     /* KVM_DEV_ARM_ITS_SAVE_TABLES failed */
    ITSMIG_QEMU_LOG_PENDING_SAVE, /* KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES failed */
    /* KVM_DEV_ARM_ITS_RESTORE_TABLES failed, or loading the ITS state failed */
    ITSMIG_QEMU_LOG_ITS_RESTORE,
    ITSMIG_QEMU_LOG_ITS_RESET, /* KVM_DEV_ARM_ITS_CTRL_RESET failed, or full reset unsupported */
    ITSMIG_QEMU_LOG_ITS_REGS,  /* another access to the ITS registers (GRP_ITS_REGS) failed */
    /* QEMU's migration blocker: the kernel cannot save the ITS at all */
    ITSMIG_QEMU_LOG_NO_ITS_MIGRATION,

    ITSMIG_QEMU_LOG_LAST
} ItsmigQemuLogKind;

/* "its-save", "pending-save", "its-restore", "its-reset", "its-regs",
 * "no-its-migration"; NULL for values out of range. */
const char *itsmig_qemu_log_kind_to_string(ItsmigQemuLogKind kind);

typedef struct {
    ItsmigQemuLogKind kind;
    /* The errno QEMU reported (its strerror text mapped back), 0 when the line
     * gives none or a text not known. */
    int err;
    /* The whole line without its end (newline, CR), as valid UTF-8: control
     * characters and bytes that are not UTF-8 replaced by '?', at most
     * ITSMIG_QEMU_LOG_LINE_MAX bytes. */
    char *line;
    guint line_no; /* 1-based within the scanned text */
} ItsmigQemuLogFinding;

void itsmig_qemu_log_finding_free(ItsmigQemuLogFinding *finding);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigQemuLogFinding, itsmig_qemu_log_finding_free)

/*
 * The findings in @text, in order, at most one per line; @text is any bytes
 * (NULs, invalid UTF-8, CRLF, an unterminated last line).  QEMU prints an
 * error_abort as an "Unexpected error in FUNC() at FILE:LINE:" line and then
 * the message: only the message line is a finding.  Lines that mention the
 * ITS without reporting a failure (the command line, "its=on") are not.
 * Returns a new array of ItsmigQemuLogFinding, empty when nothing was found.
 */
GPtrArray *itsmig_qemu_log_scan(const char *text, gsize len);

/* The size of the log now, the offset to read from later.  -1 on failure:
 * ITSMIG_ERROR_NOT_FOUND when the file is absent, ITSMIG_ERROR_INTERNAL for a
 * symbolic link, anything but a regular file, or another system error. */
goffset itsmig_qemu_log_size(const char *path, GError **error);

/*
 * Reads @path from @offset to its end, at most @max bytes: the last @max when
 * there are more, with *@ret_truncated set (the first line may then be cut).
 * When the file is now shorter than @offset (rotated or truncated), reads from
 * its start and sets *@ret_rotated.  Refuses symbolic links and anything but a
 * regular file, with the errors of itsmig_qemu_log_size(); a negative @offset
 * is ITSMIG_ERROR_INVALID_ARGUMENT.  @ret_truncated and @ret_rotated may be
 * NULL; the ret_* are left untouched on failure.
 */
gboolean itsmig_qemu_log_read(const char *path, goffset offset, gsize max, GBytes **ret_text,
                              gboolean *ret_truncated, gboolean *ret_rotated, GError **error);
