/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"

G_DEFINE_QUARK(itsmig - error - quark, itsmig_error)

static const struct {
    const char *name;
    unsigned int http_status;
} error_codes[ITSMIG_ERROR_LAST] = {
    [ITSMIG_ERROR_INTERNAL] = {"internal-error", 500},
    [ITSMIG_ERROR_INVALID_ARGUMENT] = {"invalid-argument", 400},
    [ITSMIG_ERROR_INVALID_JSON] = {"invalid-json", 400},
    [ITSMIG_ERROR_INVALID_CONFIG] = {"invalid-config", 500},
    [ITSMIG_ERROR_INVALID_DOMAIN_XML] = {"invalid-domain-xml", 400},
    [ITSMIG_ERROR_NOT_FOUND] = {"not-found", 404},
    [ITSMIG_ERROR_METHOD_NOT_ALLOWED] = {"method-not-allowed", 405},
    [ITSMIG_ERROR_UNAUTHORIZED] = {"unauthorized", 401},
    [ITSMIG_ERROR_FORBIDDEN] = {"forbidden", 403},
    [ITSMIG_ERROR_BODY_TOO_LARGE] = {"body-too-large", 413},
    [ITSMIG_ERROR_URL_TOO_LONG] = {"url-too-long", 414},
    [ITSMIG_ERROR_UNSUPPORTED_MEDIA_TYPE] = {"unsupported-media-type", 415},
    [ITSMIG_ERROR_TOO_MANY_STREAMS] = {"too-many-streams", 503},
    [ITSMIG_ERROR_LIBVIRT_UNAVAILABLE] = {"libvirt-unavailable", 503},
    [ITSMIG_ERROR_LIBVIRT] = {"libvirt-error", 502},
    [ITSMIG_ERROR_INVALID_HOST_CAPS] = {"invalid-host-caps", 502},
    [ITSMIG_ERROR_UNKNOWN_PEER] = {"unknown-peer", 404},
    [ITSMIG_ERROR_PEER_UNREACHABLE] = {"peer-unreachable", 502},
    [ITSMIG_ERROR_PEER_TIMEOUT] = {"peer-timeout", 504},
    [ITSMIG_ERROR_PEER_ERROR] = {"peer-error", 502},
    [ITSMIG_ERROR_CONFLICT] = {"conflict", 409},
    [ITSMIG_ERROR_TOO_MANY_JOBS] = {"too-many-jobs", 429},
    [ITSMIG_ERROR_JOURNAL] = {"journal-error", 500},
    [ITSMIG_ERROR_LENGTH_REQUIRED] = {"length-required", 411},
    [ITSMIG_ERROR_BLOCKED] = {"blocked", 409},
    [ITSMIG_ERROR_ABORTED] = {"aborted", 409},
    [ITSMIG_ERROR_TIMEOUT] = {"timeout", 504},
    [ITSMIG_ERROR_UNEXPECTED_STATE] = {"unexpected-state", 409},
    [ITSMIG_ERROR_ITS_SAVE_FAILED] = {"its-save-failed", 500},
    [ITSMIG_ERROR_ITS_SAVE_UNVERIFIED] = {"its-save-unverified", 500},
    [ITSMIG_ERROR_ITS_RESTORE_FAILED] = {"its-restore-failed", 502},
    [ITSMIG_ERROR_DAEMON_STOPPING] = {"daemon-stopping", 503},
    [ITSMIG_ERROR_DAEMON_RESTARTED] = {"daemon-restarted", 503},
    [ITSMIG_ERROR_JOURNAL_UNREADABLE] = {"journal-unreadable", 500},
    [ITSMIG_ERROR_PEER_UNAVAILABLE] = {"peer-unavailable", 503},
    [ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT] = {"device-unknown-to-libvirt", 502},
};

const char *itsmig_error_code_to_string(ItsmigErrorCode code)
{
    if ((unsigned int)code >= ITSMIG_ERROR_LAST)
        return error_codes[ITSMIG_ERROR_INTERNAL].name;
    return error_codes[code].name;
}

unsigned int itsmig_error_code_http_status(ItsmigErrorCode code)
{
    if ((unsigned int)code >= ITSMIG_ERROR_LAST)
        return 500;
    return error_codes[code].http_status;
}

gboolean itsmig_error_code_from_string(const char *text, ItsmigErrorCode *ret_code)
{
    for (int code = 0; code < ITSMIG_ERROR_LAST; code++) {
        if (strcmp(error_codes[code].name, text) == 0) {
            *ret_code = code;
            return TRUE;
        }
    }
    return FALSE;
}

ItsmigErrorCode itsmig_error_get_code(const GError *error)
{
    if (error->domain != ITSMIG_ERROR || (unsigned int)error->code >= ITSMIG_ERROR_LAST)
        return ITSMIG_ERROR_INTERNAL;
    return error->code;
}
