/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Files that hold a secret (a TLS key, a bearer token) or that a
 * configuration names: read whole, within a bound, and for a secret only
 * when nobody else may read it.  One rule for the daemon, the hook and
 * itsmigctl.
 */

#include <glib.h>

/* A secret is a few KiB at most (a PEM key); more is not one. */
#define ITSMIG_SECRET_FILE_MAX (64 * 1024)

typedef enum {
    /* Only a regular file, opened without blocking: a FIFO or a device under
     * the name must not hang a daemon's start or fill its memory. */
    ITSMIG_SECRET_FILE_REGULAR = 1 << 0,
    /* Refuse a file that group or others may access (mode 0600 or 0400). */
    ITSMIG_SECRET_FILE_PRIVATE = 1 << 1,
} ItsmigSecretFileFlags;

/* Reads all of @path, at most @max bytes, NUL-terminated in *@ret_contents
 * (its length without the NUL in *@ret_len).  What was read is wiped before
 * it is dropped on failure.  Fails with ITSMIG_ERROR_INVALID_CONFIG naming
 * @path and what is wrong. */
gboolean itsmig_secret_file_read(const char *path, gsize max, ItsmigSecretFileFlags flags,
                                 char **ret_contents, gsize *ret_len, GError **error);

/* Wipes the NUL-terminated @secret and frees it; NULL is fine. */
void itsmig_secret_free(char *secret);

/* TRUE when @token can be a bearer token: at least @min_len (and at least
 * one) printable ASCII characters, without spaces. */
gboolean itsmig_secret_token_valid(const char *token, gsize min_len);

/* A copy of the first line of @contents (@len bytes), trimmed: where a token
 * file holds its token.  Wipe it when done. */
char *itsmig_secret_token_first_line(const char *contents, gsize len);
