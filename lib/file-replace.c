/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-replace.h"

void itsmig_replace_failure_clear(ItsmigReplaceFailure *f)
{
    g_clear_pointer(&f->temp, g_free);
}

static int write_all(int fd, const char *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, MIN(len, (gsize)G_MAXSSIZE));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            /* Not expected of a regular file; looping on it would never end. */
            errno = EIO;
            return -1;
        }
        buf += n;
        len -= (gsize)n;
    }
    return 0;
}

/* An exclusive create with a random name, so that nothing already there (a leftover, a planted
 * link) is ever written through. */
static int open_temp(int dirfd, const char *name, char **ret_temp)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    for (guint attempt = 0; attempt < 100; attempt++) {
        char random[ITSMIG_REPLACE_RANDOM_LEN + 1];
        g_autofree char *temp = NULL;
        int fd;

        for (guint i = 0; i < ITSMIG_REPLACE_RANDOM_LEN; i++)
            random[i] = chars[g_random_int_range(0, sizeof(chars) - 1)];
        random[ITSMIG_REPLACE_RANDOM_LEN] = '\0';
        temp = g_strconcat(".", name, ".tmp-", random, NULL);
        fd = openat(dirfd, temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            *ret_temp = g_steal_pointer(&temp);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

static gboolean failed(ItsmigReplaceFailure *f, ItsmigReplaceStep step, const char *call)
{
    f->step = step;
    f->call = call;
    f->err = errno;
    return FALSE;
}

gboolean itsmig_file_replace_at(int dirfd, const char *name, const char *data, gsize len,
                                mode_t mode, ItsmigReplaceFailure *ret_failure)
{
    ItsmigReplaceFailure *f = ret_failure;
    int fd;

    f->temp = NULL;
    fd = open_temp(dirfd, name, &f->temp);
    if (fd < 0)
        return failed(f, ITSMIG_REPLACE_CREATE, "openat");
    /* Synced before the rename: otherwise a crash could leave the new name on empty data. */
    if (write_all(fd, data, len) < 0) {
        failed(f, ITSMIG_REPLACE_WRITE, "write");
        goto fail_open;
    }
    if (fchmod(fd, mode) < 0) {
        failed(f, ITSMIG_REPLACE_WRITE, "fchmod");
        goto fail_open;
    }
    if (fsync(fd) < 0) {
        failed(f, ITSMIG_REPLACE_WRITE, "fsync");
        goto fail_open;
    }
    /* Some file systems report a failed write-back only here.  Linux closes the fd even when
     * close() fails, so there is nothing to retry. */
    if (close(fd) < 0) {
        fd = -1;
        failed(f, ITSMIG_REPLACE_RENAME, "close");
        goto fail_open;
    }
    fd = -1;
    if (renameat(dirfd, f->temp, dirfd, name) < 0) {
        failed(f, ITSMIG_REPLACE_RENAME, "rename");
        goto fail_open;
    }
    /* The rename itself survives a crash only once the directory is synced. */
    if (fsync(dirfd) < 0)
        return failed(f, ITSMIG_REPLACE_SYNC_DIR, "fsync");
    g_clear_pointer(&f->temp, g_free);
    return TRUE;

fail_open:
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, f->temp, 0);
    return FALSE;
}
