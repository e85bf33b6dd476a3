/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itsmig/error.h"
#include "itsmig/secret-file.h"

static gboolean check_opened(int fd, const char *path, ItsmigSecretFileFlags flags, GError **error)
{
    struct stat st;

    if (fstat(fd, &st) < 0 || ((flags & ITSMIG_SECRET_FILE_REGULAR) && !S_ISREG(st.st_mode))) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "%s is not a regular file",
                    path);
        return FALSE;
    }
    if ((flags & ITSMIG_SECRET_FILE_PRIVATE) && (st.st_mode & 077)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                    "%s is accessible by group or others (mode %04o): a secret must be mode "
                    "0600 or 0400",
                    path, (unsigned int)(st.st_mode & 07777));
        return FALSE;
    }
    return TRUE;
}

/* Appends all of @fd to @buf, at most @max bytes; each chunk wiped after use. */
static gboolean read_all(int fd, const char *path, gsize max, GByteArray *buf, GError **error)
{
    for (;;) {
        guint8 chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "cannot read %s: %s",
                        path, g_strerror(errno));
            return FALSE;
        }
        if (n == 0)
            return TRUE;
        if (buf->len + (gsize)n > max) {
            explicit_bzero(chunk, sizeof(chunk));
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                        "%s is larger than %" G_GSIZE_FORMAT " bytes", path, max);
            return FALSE;
        }
        g_byte_array_append(buf, chunk, n);
        explicit_bzero(chunk, sizeof(chunk));
    }
}

gboolean itsmig_secret_file_read(const char *path, gsize max, ItsmigSecretFileFlags flags,
                                 char **ret_contents, gsize *ret_len, GError **error)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    int open_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    gboolean fine;
    int fd;

    /* A FIFO opened without O_NONBLOCK would wait for a writer. */
    if (flags & ITSMIG_SECRET_FILE_REGULAR)
        open_flags |= O_NONBLOCK;
    fd = open(path, open_flags);
    if (fd < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "cannot open %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    fine = check_opened(fd, path, flags, error) && read_all(fd, path, max, buf, error);
    close(fd);
    if (!fine) {
        explicit_bzero(buf->data, buf->len);
        return FALSE;
    }
    *ret_len = buf->len;
    g_byte_array_append(buf, (const guint8 *)"", 1);
    *ret_contents = (char *)g_byte_array_free(g_steal_pointer(&buf), FALSE);
    return TRUE;
}

gboolean itsmig_secret_token_valid(const char *token, gsize min_len)
{
    gsize len = 0;

    for (const char *p = token; *p; p++, len++) {
        if (*p <= ' ' || *p >= 0x7f)
            return FALSE;
    }
    return len >= MAX(min_len, 1);
}

char *itsmig_secret_token_first_line(const char *contents, gsize len)
{
    const char *end = memchr(contents, '\n', len);
    const char *cr = memchr(contents, '\r', end ? (gsize)(end - contents) : len);

    if (cr)
        end = cr;
    return g_strstrip(g_strndup(contents, end ? (gsize)(end - contents) : len));
}

void itsmig_secret_free(char *secret)
{
    if (!secret)
        return;
    explicit_bzero(secret, strlen(secret));
    g_free(secret);
}
