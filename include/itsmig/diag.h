/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Error reporting for the libc-only part of libitsmig (the ITS codec and the
 * KVM probe), which must also run statically linked inside a minimal guest.
 * Fallible functions return 0 or a negative errno value and, when given an
 * ItsmigDiag, describe the failure in one line.
 */

#include <stdarg.h>
#include <stddef.h>

#define ITSMIG_DIAG_TEXT_MAX 256

typedef struct {
    int errnum; /* positive errno of the failure, 0 when none */
    char text[ITSMIG_DIAG_TEXT_MAX];
} ItsmigDiag;

/* Fills @diag (if not NULL) and returns -errnum, so callers can
 * "return itsmig_diag_set(diag, EINVAL, ...);". */
int itsmig_diag_set(ItsmigDiag *diag, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int itsmig_diag_setv(ItsmigDiag *diag, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void itsmig_diag_clear(ItsmigDiag *diag);

/* The symbolic name of an errno value ("EINVAL"), or NULL when unknown. */
const char *itsmig_errno_name(int errnum);
/* The symbolic name, or "errno N" written into @buf when unknown. */
const char *itsmig_errno_label(int errnum, char *buf, size_t size);
