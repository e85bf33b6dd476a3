/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-read.h"

static char *fail(ItsmigReadFailure *f, const char *call, int err, int fd)
{
    f->call = call;
    f->err = err;
    if (fd >= 0)
        close(fd);
    return NULL;
}

char *itsmig_file_read_at(int dirfd, const char *name, gsize max, gsize *ret_len, gint64 *ret_mtime,
                          ItsmigReadFailure *ret_failure)
{
    g_autofree char *text = NULL;
    struct stat st;
    gsize len = 0;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return fail(ret_failure, "open", errno, -1);
    if (fstat(fd, &st) < 0)
        return fail(ret_failure, "fstat", errno, fd);
    if (!S_ISREG(st.st_mode))
        return fail(ret_failure, NULL, EINVAL, fd);
    text = g_malloc(max + 1);
    while (len <= max) {
        ssize_t n = read(fd, text + len, max + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(ret_failure, "read", errno, fd);
        if (n == 0)
            break;
        len += (gsize)n;
    }
    close(fd);
    if (len > max)
        return fail(ret_failure, NULL, EFBIG, -1);
    text[len] = '\0';
    *ret_len = len;
    if (ret_mtime)
        *ret_mtime = st.st_mtime;
    return g_steal_pointer(&text);
}
