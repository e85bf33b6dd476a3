/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Replacing a file so that a crash leaves either the old content or the new, never a mix:
 * the journal's records and the fleet traits file.  Private to libitsmig; not installed.
 */

#include <glib.h>
#include <sys/types.h>

/* The step that failed, for the caller's message. */
typedef enum {
    ITSMIG_REPLACE_CREATE,   /* no temporary file could be made */
    ITSMIG_REPLACE_WRITE,    /* writing, chmod or syncing the temporary file */
    ITSMIG_REPLACE_RENAME,   /* closing it, or renaming it over the file */
    ITSMIG_REPLACE_SYNC_DIR, /* the new content is in place, but may not survive a crash */
} ItsmigReplaceStep;

typedef struct {
    ItsmigReplaceStep step;
    const char *call; /* the system call: "openat", "write", "fchmod", "fsync", "close", ... */
    int err;          /* its errno */
    char *temp;       /* the temporary file's name in the directory, NULL before there was one */
} ItsmigReplaceFailure;

G_GNUC_INTERNAL void itsmig_replace_failure_clear(ItsmigReplaceFailure *f);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ItsmigReplaceFailure, itsmig_replace_failure_clear)

/* Replaces @name in the directory @dirfd by @len bytes of @data, with mode @mode whatever the
 * umask: a temporary file ".NAME.tmp-XXXXXX" beside it (created exclusively, never through a
 * link), written and synced, renamed over @name, then the directory synced.  On failure the
 * temporary file is gone (unless only the directory's sync failed) and @ret_failure says
 * which step failed. */
G_GNUC_INTERNAL gboolean itsmig_file_replace_at(int dirfd, const char *name, const char *data,
                                                gsize len, mode_t mode,
                                                ItsmigReplaceFailure *ret_failure);
/* The length of the random part of the temporary file's name. */
#define ITSMIG_REPLACE_RANDOM_LEN 6
