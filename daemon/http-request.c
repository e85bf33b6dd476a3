/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "daemon/http-private.h"

/* ---- request accessors ------------------------------------------------------------ */

gpointer itsmigd_http_request_context(ItsmigdHttpRequest *req)
{
    return req->listener->server->parts.context;
}

const ItsmigdHttpLimits *itsmigd_http_request_limits(ItsmigdHttpRequest *req)
{
    return &req->listener->server->limits;
}

const char *itsmigd_http_request_peer(ItsmigdHttpRequest *req)
{
    return req->peer;
}

char *itsmigd_http_request_peer_mac(ItsmigdHttpRequest *req, const char *uuid, const char *job)
{
    if (!req->peer)
        return NULL;
    return itsmigd_http_server_peer_mac(req->listener->server, req->peer, uuid, job);
}

const char *itsmigd_http_request_param(ItsmigdHttpRequest *req, guint index)
{
    return index < req->match.n_params ? req->match.params[index] : NULL;
}

const char *itsmigd_http_request_query(ItsmigdHttpRequest *req, const char *key)
{
    return req->query ? g_hash_table_lookup(req->query, key) : NULL;
}

gboolean itsmigd_http_request_check_query(ItsmigdHttpRequest *req, const char *const *known,
                                          GError **error)
{
    GHashTableIter iter;
    gpointer key;

    if (!req->query)
        return TRUE;
    g_hash_table_iter_init(&iter, req->query);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        if (!known || !g_strv_contains(known, key)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "unknown query parameter '%s'", (const char *)key);
            return FALSE;
        }
    }
    return TRUE;
}

const char *itsmigd_http_request_header(ItsmigdHttpRequest *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

JsonNode *itsmigd_http_request_json(ItsmigdHttpRequest *req)
{
    return req->json;
}

const char *itsmigd_http_request_body(ItsmigdHttpRequest *req, gsize *ret_len)
{
    *ret_len = req->body ? req->body->len : 0;
    return req->body ? (const char *)req->body->data : "";
}

/* ---- dispatch ------------------------------------------------------------------- */

static gboolean is_type(const char *value, const char *type)
{
    gsize len = strlen(type);

    if (!value || g_ascii_strncasecmp(value, type, len) != 0)
        return FALSE;
    return value[len] == '\0' || value[len] == ';' || value[len] == ' ';
}

/* What a route's body may weigh: domain XML can be larger than any JSON. */
static gsize body_limit(const ItsmigdHttpRequest *req)
{
    const ItsmigdHttpLimits *limits = &req->listener->server->limits;

    return req->match.route && (req->match.route->flags & ITSMIGD_ROUTE_XML_BODY)
               ? limits->max_domain_xml
               : limits->max_body;
}

static void reply_body_too_large(ItsmigdHttpRequest *req)
{
    g_autofree char *msg =
        g_strdup_printf("the body is larger than %" G_GSIZE_FORMAT " bytes", body_limit(req));

    itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_BODY_TOO_LARGE, msg);
}

/* A body's type and announced length, before any of it is read: FALSE
 * after replying why it is refused. */
static gboolean body_head_acceptable(ItsmigdHttpRequest *req)
{
    const char *type = itsmigd_http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *length = itsmigd_http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    gboolean xml = (req->match.route->flags & ITSMIGD_ROUTE_XML_BODY) != 0;
    guint64 n;

    if (xml ? !is_type(type, "application/xml") && !is_type(type, "text/xml")
            : !is_type(type, "application/json")) {
        g_autofree char *msg =
            g_strdup_printf("the body must be %s, not %s",
                            xml ? "application/xml" : "application/json", type ? type : "untyped");
        itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_UNSUPPORTED_MEDIA_TYPE, msg);
        return FALSE;
    }
    /* libmicrohttpd cannot answer before a request has ended, and a
     * chunked body announces no end: it would have to be read whole,
     * however long, before its 413.  Our clients send Content-Length. */
    if (!length) {
        itsmigd_http_reply_error_with(req, ITSMIG_ERROR_LENGTH_REQUIRED,
                                      "a body needs a Content-Length (chunked bodies are not "
                                      "taken)",
                                      MHD_HTTP_HEADER_CONNECTION, "close");
        return FALSE;
    }
    if (g_ascii_string_to_unsigned(length, 10, 0, G_MAXUINT64, &n, NULL) && n > body_limit(req)) {
        reply_body_too_large(req);
        return FALSE;
    }
    return TRUE;
}

/* The first call for a request: everything that needs only the headers. */
static void begin_request(ItsmigdHttpRequest *req)
{
    ItsmigdHttpServer *server = req->listener->server;
    g_autoptr(GError) error = NULL;
    g_autofree char *allow = NULL;
    g_autofree char *path = NULL;
    const char *q;
    const ItsmigdRoute *route;

    if (strlen(req->uri) > server->limits.max_url) {
        g_autofree char *msg = g_strdup_printf("the URL is longer than %" G_GSIZE_FORMAT " bytes",
                                               server->limits.max_url);
        itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_URL_TOO_LONG, msg);
        return;
    }
    if (req->listener->tcp && !req->listener->metrics_only) {
        req->peer = itsmigd_http_server_peer_of_token(
            server, itsmigd_http_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION));
        if (!req->peer) {
            itsmigd_http_reply_error_with(
                req, ITSMIG_ERROR_UNAUTHORIZED, "a peer's bearer token is required",
                MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"itsmigd\"");
            return;
        }
    }

    q = strchr(req->uri, '?');
    path = q ? g_strndup(req->uri, q - req->uri) : g_strdup(req->uri);
    if (!itsmigd_router_match(server->routes, server->n_routes, req->method, path, &req->match,
                              &allow, &error)) {
        if (g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_METHOD_NOT_ALLOWED))
            itsmigd_http_reply_error_with(req, error->code, error->message, MHD_HTTP_HEADER_ALLOW,
                                          allow);
        else
            itsmigd_http_reply_error(req, error);
        return;
    }
    route = req->match.route;
    if (req->listener->metrics_only && !(route->flags & ITSMIGD_ROUTE_METRICS)) {
        itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_FORBIDDEN,
                                         "the metrics listener serves GET /metrics only");
        return;
    }
    if (q && q[1]) {
        req->query = itsmigd_http_parse_query(q + 1, &error);
        if (!req->query) {
            g_prefix_error(&error, "bad query string: ");
            itsmigd_http_reply_error(req, error);
            return;
        }
    }
    if (!(route->flags & ITSMIGD_ROUTE_PEER) && req->listener->tcp &&
        !req->listener->metrics_only) {
        itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_FORBIDDEN,
                                         "this resource is served on the unix socket only; "
                                         "peers get capabilities and incoming migrations");
        return;
    }
    if (route->flags & (ITSMIGD_ROUTE_JSON_BODY | ITSMIGD_ROUTE_XML_BODY) &&
        body_head_acceptable(req))
        req->body = g_byte_array_new();
}

static void finish_request(ItsmigdHttpRequest *req)
{
    ItsmigdHttpServer *server = req->listener->server;
    const ItsmigdRoute *route = req->match.route;
    g_autoptr(GError) error = NULL;

    if (req->body_too_large) {
        reply_body_too_large(req);
        return;
    }
    if (route->flags & ITSMIGD_ROUTE_JSON_BODY) {
        req->json =
            itsmigd_http_parse_json_body((const char *)req->body->data, req->body->len, &error);
        if (!req->json) {
            itsmigd_http_reply_error(req, error);
            return;
        }
    }
    if (route->flags & ITSMIGD_ROUTE_XML_BODY) {
        if (req->body->len == 0 ||
            !g_utf8_validate((const char *)req->body->data, req->body->len, NULL)) {
            itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                                             "the body must be a domain XML document in UTF-8");
            return;
        }
    }
    if ((route->flags & ITSMIGD_ROUTE_NEEDS_LIBVIRT) &&
        !itsmigd_virt_is_connected(server->parts.virt)) {
        itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                                         "not connected to libvirt; reconnecting");
        return;
    }
    /* The one place a handler's failure becomes the reply. */
    if (!route->handler(req, &error)) {
        if (error)
            itsmigd_http_reply_error(req, error);
        else
            itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_INTERNAL,
                                             "the handler failed without saying why");
    } else if (!req->responded) {
        itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_INTERNAL, "the handler gave no reply");
    }
}

enum MHD_Result itsmigd_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls)
{
    ItsmigdHttpRequest *req = *con_cls;

    if (!req)
        return MHD_NO;
    req->conn = conn;
    if (req->failed)
        return MHD_NO;
    if (!req->started) {
        req->started = TRUE;
        req->method = method;
        begin_request(req);
        if (req->responded)
            itsmigd_http_conn_deadline(req->listener, conn, 0);
        /* Every path that does not match a route has replied. */
        return req->failed || (!req->responded && !req->match.route) ? MHD_NO : MHD_YES;
    }
    if (*upload_data_size) {
        gsize max = body_limit(req);

        if (req->body && !req->body_too_large) {
            if (req->body->len + *upload_data_size > max)
                req->body_too_large = TRUE;
            else
                g_byte_array_append(req->body, (const guint8 *)upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The whole request is here: no deadline while it is handled and
     * answered (an event stream lasts). */
    itsmigd_http_conn_deadline(req->listener, conn, 0);
    if (!req->responded)
        finish_request(req);
    return req->failed ? MHD_NO : MHD_YES;
}

void *itsmigd_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    ItsmigdHttpRequest *req = g_new0(ItsmigdHttpRequest, 1);

    req->listener = cls;
    req->conn = conn;
    req->uri = g_strdup(uri);
    req->method = "?";
    req->start_us = g_get_monotonic_time();
    return req;
}

static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"};

    for (gsize i = 0; i < G_N_ELEMENTS(known); i++)
        if (!g_strcmp0(method, known[i]))
            return known[i];
    return "other";
}

void itsmigd_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    ItsmigdHttpRequest *req = *con_cls;
    Listener *l = cls;

    if (!req)
        return;
    /* A kept-alive connection has as long for its next request. */
    itsmigd_http_conn_deadline(l, conn, l->server->limits.request_timeout);
    if (req->started) {
        const ItsmigdRoute *route = req->match.route;

        itsmigd_metrics_request(l->server->parts.metrics, route ? route->pattern : "unmatched",
                                method_label(req->method), req->responded ? req->status : 0,
                                g_get_monotonic_time() - req->start_us,
                                !route || !(route->flags & ITSMIGD_ROUTE_STREAM));
    }
    itsmigd_route_match_clear(&req->match);
    g_clear_pointer(&req->query, g_hash_table_unref);
    g_clear_pointer(&req->peer, g_free);
    g_clear_pointer(&req->body, g_byte_array_unref);
    g_clear_pointer(&req->json, json_node_unref);
    g_free(req->uri);
    g_free(req);
    *con_cls = NULL;
}
