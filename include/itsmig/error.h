/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one error domain of itsmig's GLib code (daemon, client, and the parts of
 * libitsmig that use GLib).  Each code has a stable string, used unchanged in
 * REST replies ({"error":{"code":...}}) and CLI output, and the HTTP status a
 * REST reply carries for it.
 */

#include <glib.h>

typedef enum {
    ITSMIG_ERROR_INTERNAL,
    ITSMIG_ERROR_INVALID_ARGUMENT,
    ITSMIG_ERROR_INVALID_JSON,
    ITSMIG_ERROR_INVALID_CONFIG,
    ITSMIG_ERROR_INVALID_DOMAIN_XML,
    ITSMIG_ERROR_NOT_FOUND,
    ITSMIG_ERROR_METHOD_NOT_ALLOWED,
    ITSMIG_ERROR_UNAUTHORIZED,
    ITSMIG_ERROR_FORBIDDEN,
    ITSMIG_ERROR_BODY_TOO_LARGE,
    ITSMIG_ERROR_URL_TOO_LONG,
    ITSMIG_ERROR_UNSUPPORTED_MEDIA_TYPE,
    ITSMIG_ERROR_TOO_MANY_STREAMS,
    ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
    ITSMIG_ERROR_LIBVIRT,
    ITSMIG_ERROR_INVALID_HOST_CAPS, /* a host capabilities document breaks the schema or lies */
    ITSMIG_ERROR_UNKNOWN_PEER,
    ITSMIG_ERROR_PEER_UNREACHABLE,
    ITSMIG_ERROR_PEER_TIMEOUT,
    ITSMIG_ERROR_PEER_ERROR,      /* TLS, authentication or an HTTP error from the peer */
    ITSMIG_ERROR_CONFLICT,        /* the request contradicts what is under way (409) */
    ITSMIG_ERROR_TOO_MANY_JOBS,   /* [migration] max-jobs are running (429) */
    ITSMIG_ERROR_JOURNAL,         /* the state directory refused a journal record */
    ITSMIG_ERROR_LENGTH_REQUIRED, /* a request body without Content-Length (411) */
    /* How a migration job can end besides the codes above; a job document's
     * error.code is one of this enum's strings. */
    ITSMIG_ERROR_BLOCKED,             /* the preflight verdict has blockers */
    ITSMIG_ERROR_ABORTED,             /* aborted on request */
    ITSMIG_ERROR_TIMEOUT,             /* a phase ran out of time */
    ITSMIG_ERROR_UNEXPECTED_STATE,    /* a domain was not in the state the phase needs */
    ITSMIG_ERROR_ITS_SAVE_FAILED,     /* the source's QEMU reported an ITS table save error */
    ITSMIG_ERROR_ITS_SAVE_UNVERIFIED, /* the source's ITS save could not be checked */
    ITSMIG_ERROR_ITS_RESTORE_FAILED,  /* the destination's QEMU reported an ITS restore error */
    ITSMIG_ERROR_DAEMON_STOPPING,     /* itsmigd stopped while the job ran */
    ITSMIG_ERROR_DAEMON_RESTARTED,    /* the job was reconciled after a restart */
    ITSMIG_ERROR_JOURNAL_UNREADABLE,  /* the job's journal record could not be read whole */
    ITSMIG_ERROR_PEER_UNAVAILABLE,    /* a peer answered 503: up, but not ready (reconnecting) */
    ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT, /* QEMU kept a device libvirt does not list */

    ITSMIG_ERROR_LAST
} ItsmigErrorCode;

#define ITSMIG_ERROR (itsmig_error_quark())
GQuark itsmig_error_quark(void);

/* "not-found"; "internal-error" for values out of range. */
const char *itsmig_error_code_to_string(ItsmigErrorCode code);
/* 404 for ITSMIG_ERROR_NOT_FOUND; 500 for codes without a client-facing status. */
unsigned int itsmig_error_code_http_status(ItsmigErrorCode code);
/* The code whose string is @text; FALSE (and *@ret_code untouched) when none is. */
gboolean itsmig_error_code_from_string(const char *text, ItsmigErrorCode *ret_code);
/* The code @error stands for: its own in the ITSMIG_ERROR domain, else
 * ITSMIG_ERROR_INTERNAL (another domain's error is one we did not expect). */
ItsmigErrorCode itsmig_error_get_code(const GError *error);
