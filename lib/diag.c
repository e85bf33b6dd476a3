/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "itsmig/diag.h"

int itsmig_diag_setv(ItsmigDiag *diag, int errnum, const char *fmt, va_list ap)
{
    if (errnum < 0)
        errnum = -errnum;
    if (diag) {
        diag->errnum = errnum;
        vsnprintf(diag->text, sizeof(diag->text), fmt, ap);
    }
    return -errnum;
}

int itsmig_diag_set(ItsmigDiag *diag, int errnum, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = itsmig_diag_setv(diag, errnum, fmt, ap);
    va_end(ap);
    return r;
}

void itsmig_diag_clear(ItsmigDiag *diag)
{
    if (diag) {
        diag->errnum = 0;
        diag->text[0] = '\0';
    }
}

const char *itsmig_errno_name(int errnum)
{
    if (errnum < 0)
        errnum = -errnum;
    switch (errnum) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOTSUP: return "ENOTSUP";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return NULL;
    }
}

const char *itsmig_errno_label(int errnum, char *buf, size_t size)
{
    const char *name = itsmig_errno_name(errnum);

    if (name)
        return name;
    snprintf(buf, size, "errno %d", errnum);
    return buf;
}
