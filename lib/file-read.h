/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Reading a small file that a daemon must not be tricked by: only a regular file, never
 * through a symlink, never blocking on a FIFO, and never more than a bound.  The hook's
 * records and the host's history.  Private to libitsmig; not installed.
 */

#include <glib.h>

/* Why a read failed: @call ("open", "read") and its errno; or @call NULL and @err EINVAL
 * (not a regular file) or EFBIG (more than the bound). */
typedef struct {
    const char *call;
    int err;
} ItsmigReadFailure;

/* @name in the directory @dirfd (AT_FDCWD: relative to the working directory, or a path),
 * NUL-terminated, its length in *@ret_len and its modification time (unix seconds) in
 * *@ret_mtime (may be NULL); NULL with @ret_failure set when it is not a regular file of at
 * most @max bytes that could be read. */
G_GNUC_INTERNAL char *itsmig_file_read_at(int dirfd, const char *name, gsize max, gsize *ret_len,
                                          gint64 *ret_mtime, ItsmigReadFailure *ret_failure);
