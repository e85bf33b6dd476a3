/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "itsmig/journal.h"
#include "itsmig/json-member.h"
#include "daemon/http-routes.h"

/* Longest alias a detach list may name, and most aliases. */
#define ALIAS_MAX  128
#define DETACH_MAX 64

static gboolean bad(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean bad(GError **error, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    g_autofree char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, message);
    return FALSE;
}

/* The request's errors name the member ("options.bandwidth"); they are the client's. */
static const ItsmigJsonAt body_at = {ITSMIG_ERROR_INVALID_ARGUMENT, NULL, NULL};
static const ItsmigJsonAt options_at = {ITSMIG_ERROR_INVALID_ARGUMENT, NULL, "options"};

/* An option left out keeps its default. */
static gboolean option_uint(JsonObject *o, const char *key, guint64 max, guint64 *ret,
                            GError **error)
{
    gint64 v;

    if (!json_object_has_member(o, key))
        return TRUE;
    if (!itsmig_json_get_int(&options_at, o, key, 0, (gint64)max, &v, error))
        return FALSE;
    *ret = (guint64)v;
    return TRUE;
}

static gboolean option_bool(JsonObject *o, const char *key, gboolean *ret, GError **error)
{
    return !json_object_has_member(o, key) || itsmig_json_get_bool(&options_at, o, key, ret, error);
}

static gboolean alias_valid(const char *s)
{
    gsize n = strlen(s);

    if (n == 0 || n > ALIAS_MAX)
        return FALSE;
    for (const char *p = s; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr("-_.", *p))
            return FALSE;
    return TRUE;
}

static gboolean read_options(JsonObject *body, ItsmigJobOptions *opt, GError **error)
{
    static const char *const members[] = {"phase_timeout", "total_timeout", "max_downtime",
                                          "bandwidth",     "auto_converge", "quiesce",
                                          "detach",        "resume",        NULL};
    JsonObject *o;
    guint64 v;
    JsonNode *n;

    if (!json_object_has_member(body, "options"))
        return TRUE;
    if (!itsmig_json_get_object(&body_at, body, "options", FALSE, &o, error))
        return FALSE;
    if (!itsmigd_http_check_members(o, members, "\"options\"", error))
        return FALSE;
    v = opt->phase_timeout_s;
    if (!option_uint(o, "phase_timeout", 86400, &v, error))
        return FALSE;
    opt->phase_timeout_s = (guint)v;
    v = opt->total_timeout_s;
    if (!option_uint(o, "total_timeout", 604800, &v, error))
        return FALSE;
    opt->total_timeout_s = (guint)v;
    if (!option_uint(o, "max_downtime", 3600 * 1000, &opt->max_downtime_ms, error) ||
        !option_uint(o, "bandwidth", 1024 * 1024, &opt->bandwidth_mibs, error) ||
        !option_bool(o, "auto_converge", &opt->auto_converge, error) ||
        !option_bool(o, "quiesce", &opt->quiesce, error) ||
        !option_bool(o, "resume", &opt->resume, error))
        return FALSE;
    n = json_object_get_member(o, "detach");
    if (n && !JSON_NODE_HOLDS_NULL(n)) {
        JsonArray *a;
        GPtrArray *list;

        if (!JSON_NODE_HOLDS_ARRAY(n))
            return bad(error, "\"options\".\"detach\" must be an array of device aliases");
        a = json_node_get_array(n);
        if (json_array_get_length(a) > DETACH_MAX)
            return bad(error, "\"options\".\"detach\" names more than %d devices", DETACH_MAX);
        list = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonNode *e = json_array_get_element(a, i);

            if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING ||
                !alias_valid(json_node_get_string(e))) {
                g_ptr_array_unref(list);
                return bad(error,
                           "\"options\".\"detach\"[%u] is not a device alias (letters, digits, "
                           "'-', '_', '.')",
                           i);
            }
            g_ptr_array_add(list, g_strdup(json_node_get_string(e)));
        }
        g_ptr_array_set_free_func(list, NULL);
        g_ptr_array_add(list, NULL);
        opt->detach = (char **)g_ptr_array_free(list, FALSE);
    }
    return TRUE;
}

static const char *want_string(JsonObject *o, const char *key, GError **error)
{
    const char *s;

    if (!itsmig_json_get_string(&body_at, o, key, FALSE, &s, error))
        return NULL;
    if (!*s) {
        itsmig_json_bad_member(&body_at, key, "a non-empty string", error);
        return NULL;
    }
    return s;
}

/* POST /v1/migrations {"domain", "destination", "mode", "options"} */
gboolean itsmigd_http_migrations_start(ItsmigdHttpRequest *req, GError **error)
{
    static const char *const members[] = {"domain", "destination", "mode", "options", NULL};
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    JsonObject *body = json_node_get_object(itsmigd_http_request_json(req));
    g_autofree char *uuid = NULL;
    g_autoptr(ItsmigdDomainView) view = NULL;
    g_autoptr(ItsmigdPeerConfig) peer = NULL;
    g_autoptr(JsonNode) job = NULL;
    g_auto(ItsmigJobOptions) opt = {0};
    const char *domain, *destination;
    int mode = ITSMIG_MODE_SAFE;

    if (!itsmigd_http_check_members(body, members, "the request body", error) ||
        !(domain = want_string(body, "domain", error)) ||
        !(destination = want_string(body, "destination", error)))
        return FALSE;
    if (json_object_has_member(body, "mode")) {
        const char *s = itsmig_json_lookup_string(body, "mode");

        if (!s || (mode = itsmig_job_mode_from_string(s)) < 0)
            return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                                     "\"mode\" must be \"safe\" or \"live\"");
    }
    opt.quiesce = TRUE;
    {
        ItsmigdOrchestratorLimits lim;

        itsmigd_orchestrator_get_defaults(d->orchestrator, &lim);
        opt.phase_timeout_s = lim.phase_timeout;
        opt.total_timeout_s = lim.total_timeout;
    }
    if (!read_options(body, &opt, error))
        return FALSE;

    peer = itsmigd_peers_get_config(d->peers, destination);
    if (!peer) {
        g_autofree char *msg = g_strdup_printf(
            "no peer '%s' is configured (see [peer NAME] in itsmigd.conf)", destination);
        return itsmigd_http_fail(error, ITSMIG_ERROR_UNKNOWN_PEER, msg);
    }
    if (!peer->migrate_uri) {
        g_autofree char *msg = g_strdup_printf(
            "peer '%s' has no migrate-uri: set the libvirt URI of its libvirtd in [peer %s]",
            destination, destination);
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT, msg);
    }
    /* Only whether it is known: the job judges the view it finds then. */
    view = itsmigd_registry_get_view(d->registry, NULL, domain, &uuid);
    if (!view || !uuid) {
        g_autofree char *msg = g_strdup_printf("no domain named '%s' is known", domain);
        return itsmigd_http_fail(error, ITSMIG_ERROR_NOT_FOUND, msg);
    }
    job = itsmigd_orchestrator_start(d->orchestrator, domain, uuid, destination, mode, &opt, error);
    if (!job)
        return FALSE;
    itsmigd_http_reply_json(req, 202, job);
    return TRUE;
}

/* GET /v1/migrations */
gboolean itsmigd_http_migrations_list(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(JsonNode) list = itsmigd_orchestrator_list(d->orchestrator);

    itsmigd_http_reply_json(req, 200, list);
    return TRUE;
}

/* GET /v1/migrations/{id} */
gboolean itsmigd_http_migrations_get(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(JsonNode) job =
        itsmigd_orchestrator_get(d->orchestrator, itsmigd_http_request_param(req, 0), error);

    if (!job)
        return FALSE;
    itsmigd_http_reply_json(req, 200, job);
    return TRUE;
}

/* DELETE /v1/migrations/{id} */
gboolean itsmigd_http_migrations_abort(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(JsonNode) job =
        itsmigd_orchestrator_abort(d->orchestrator, itsmigd_http_request_param(req, 0), error);

    if (!job)
        return FALSE;
    itsmigd_http_reply_json(req, 202, job);
    return TRUE;
}
