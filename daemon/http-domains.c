/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "itsmig/error.h"
#include "daemon/http-routes.h"
#include "daemon/virt-names.h"

#define DEFAULT_LIMIT 1000
#define MAX_LIMIT     10000

static gboolean parse_uint(ItsmigdHttpRequest *req, const char *key, guint min, guint max,
                           guint *value, GError **error)
{
    const char *text = itsmigd_http_request_query(req, key);
    guint64 n;

    if (!text)
        return TRUE;
    if (!g_ascii_string_to_unsigned(text, 10, min, max, &n, NULL)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "query parameter %s must be a whole number from %u to %u, not '%s'", key, min,
                    max, text);
        return FALSE;
    }
    *value = (guint)n;
    return TRUE;
}

/* GET /v1/domains[?state=S][&offset=N][&limit=N] */
gboolean itsmigd_http_domains_list(ItsmigdHttpRequest *req, GError **error)
{
    static const char *const known[] = {"state", "offset", "limit", NULL};
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(GBytes) body = NULL;
    const char *state_name = itsmigd_http_request_query(req, "state");
    guint offset = 0, limit = DEFAULT_LIMIT;
    int state = -1;

    if (!itsmigd_http_request_check_query(req, known, error) ||
        !parse_uint(req, "offset", 0, G_MAXINT, &offset, error) ||
        !parse_uint(req, "limit", 1, MAX_LIMIT, &limit, error))
        return FALSE;
    if (state_name && (state = itsmigd_state_from_name(state_name)) < 0) {
        g_autofree char *msg = g_strdup_printf(
            "state '%s' is not one of nostate, running, blocked, paused, shutdown, shutoff, "
            "crashed, pmsuspended",
            state_name);
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT, msg);
    }
    body = itsmigd_registry_list_json(d->registry, state, offset, limit);
    itsmigd_http_reply_bytes(req, 200, "application/json; charset=utf-8", body);
    return TRUE;
}

/* GET /v1/domains/{name} */
gboolean itsmigd_http_domains_get(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    const char *name = itsmigd_http_request_param(req, 0);
    g_autoptr(GBytes) body = NULL;

    if (!itsmigd_http_request_check_query(req, NULL, error))
        return FALSE;
    body = itsmigd_registry_domain_json(d->registry, name);
    if (!body) {
        g_autofree char *msg = g_strdup_printf("no domain named '%s'", name);
        return itsmigd_http_fail(error, ITSMIG_ERROR_NOT_FOUND, msg);
    }
    itsmigd_http_reply_bytes(req, 200, "application/json; charset=utf-8", body);
    return TRUE;
}
