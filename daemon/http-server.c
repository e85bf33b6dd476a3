/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/types.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <gio/gio.h>
#include <microhttpd.h>

#include "itsmig/error.h"
#include "itsmig/json-strict.h"
#include "daemon/http-server.h"
#include "daemon/migration-record.h"

#define JSON_TYPE "application/json; charset=utf-8"

typedef struct {
    ItsmigdHttpServer *server;
    struct MHD_Daemon *mhd;
    gboolean tcp;
    gboolean metrics_only; /* plain HTTP, GET /metrics and nothing else, no credential */
    unsigned int max_connections;
    int fd;
    char *path; /* the unix socket we created, removed on stop */
    char *cert_pem;
    char *key_pem;

    /* Open connections (MHD_Connection * -> Conn *) and, on the unix socket,
     * how many each uid holds: the reaper's and the per-user budget's. */
    GMutex conn_lock;
    GHashTable *conns;
    GHashTable *per_uid;
} Listener;

/* A connection from accept to close.  @fd is our own duplicate, so that the
 * reaper never shuts down a descriptor libmicrohttpd has closed and reused. */
typedef struct {
    int fd;
    gint64 uid;         /* unix socket: the client's; -1 otherwise */
    gint64 deadline_us; /* monotonic: the request must be complete by then; 0 none */
    gboolean cut;
} Conn;

struct ItsmigdHttpServer {
    ItsmigdHttpParts parts;
    ItsmigdHttpLimits limits;
    const ItsmigdRoute *routes;
    gsize n_routes;
    Listener unix_listener;
    Listener tcp_listener;
    Listener metrics_listener;

    GMutex token_lock;
    GPtrArray *peer_tokens; /* PeerToken *: who may call over TCP */

    /* Cuts connections whose request is not complete in time. */
    GThread *reaper;
    GMutex reaper_lock;
    GCond reaper_cond;
    gboolean stopping;
};

/* A peer's own credential: the token it presents ([peer NAME] accept-token-file). */
typedef struct {
    char *name;
    char *token;
} PeerToken;

static void peer_token_free(PeerToken *p)
{
    explicit_bzero(p->token, strlen(p->token));
    g_free(p->token);
    g_free(p->name);
    g_free(p);
}

struct ItsmigdHttpRequest {
    Listener *listener;
    struct MHD_Connection *conn;
    char *uri;
    const char *method;
    gboolean started;
    gboolean responded;
    gboolean failed; /* a reply could not be queued: drop the connection */
    ItsmigdRouteMatch match;
    char *peer; /* the peer a TCP request authenticated as; NULL on the unix socket */
    GHashTable *query;
    GByteArray *body;
    gboolean body_too_large;
    JsonNode *json;
    gint64 start_us;
    unsigned int status;
};

/* ---- replies ------------------------------------------------------------------- */

static void queue(ItsmigdHttpRequest *req, unsigned int status, struct MHD_Response *response)
{
    if (req->responded || !response) {
        if (response)
            MHD_destroy_response(response);
        else
            req->failed = TRUE;
        return;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (MHD_queue_response(req->conn, status, response) == MHD_YES) {
        req->status = status;
        req->responded = TRUE;
    } else {
        req->failed = TRUE;
    }
    MHD_destroy_response(response);
}

static void unref_bytes(void *cls)
{
    g_bytes_unref(cls);
}

static void reply_bytes_with(ItsmigdHttpRequest *req, unsigned int status, const char *content_type,
                             GBytes *body, const char *header, const char *header_value)
{
    gsize len;
    const void *data = g_bytes_get_data(body, &len);
    struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)data, unref_bytes, g_bytes_ref(body));

    if (!response) {
        g_bytes_unref(body);
        queue(req, status, NULL);
        return;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (header)
        MHD_add_response_header(response, header, header_value);
    queue(req, status, response);
}

static GBytes *json_to_bytes(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    gsize len;
    char *text;

    json_generator_set_root(gen, node);
    text = json_generator_to_data(gen, &len);
    return g_bytes_new_take(text, len);
}

void itsmigd_http_reply_bytes(ItsmigdHttpRequest *req, unsigned int status,
                              const char *content_type, GBytes *body)
{
    reply_bytes_with(req, status, content_type, body, NULL, NULL);
}

void itsmigd_http_reply_json(ItsmigdHttpRequest *req, unsigned int status, JsonNode *node)
{
    g_autoptr(GBytes) body = json_to_bytes(node);

    reply_bytes_with(req, status, JSON_TYPE, body, NULL, NULL);
}

void itsmigd_http_reply_builder(ItsmigdHttpRequest *req, unsigned int status, JsonBuilder *b)
{
    g_autoptr(JsonNode) root = json_builder_get_root(b);

    itsmigd_http_reply_json(req, status, root);
}

/* Server errors (5xx) are warnings, but a client can cause them at will
 * (503 too-many-streams): at most SERVER_ERROR_BURST per window, then one
 * line saying how many were not logged. */
#define SERVER_ERROR_WINDOW_US (10 * G_USEC_PER_SEC)
#define SERVER_ERROR_BURST     5

static GMutex server_error_lock;
static gint64 server_error_window;
static guint server_error_count;
static guint server_error_dropped;

static gboolean server_error_may_log(void)
{
    gint64 now = g_get_monotonic_time();
    gboolean may;

    g_mutex_lock(&server_error_lock);
    if (now - server_error_window >= SERVER_ERROR_WINDOW_US) {
        if (server_error_dropped)
            g_warning("http: %u more server error replies in the last %d s were not logged",
                      server_error_dropped, (int)(SERVER_ERROR_WINDOW_US / G_USEC_PER_SEC));
        server_error_window = now;
        server_error_count = 0;
        server_error_dropped = 0;
    }
    may = server_error_count < SERVER_ERROR_BURST;
    if (may)
        server_error_count++;
    else
        server_error_dropped++;
    g_mutex_unlock(&server_error_lock);
    return may;
}

static void reply_error_with(ItsmigdHttpRequest *req, int code, const char *message,
                             const char *header, const char *header_value)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(GBytes) body = NULL;
    unsigned int status = itsmig_error_code_http_status(code);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "code");
    json_builder_add_string_value(b, itsmig_error_code_to_string(code));
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, message);
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    body = json_to_bytes(root);
    if (status >= 500 && server_error_may_log())
        g_warning("http: %s %s: %u %s", req->method, req->uri, status, message);
    else
        g_debug("http: %s %s: %u %s", req->method, req->uri, status, message);
    reply_bytes_with(req, status, JSON_TYPE, body, header, header_value);
}

static void itsmigd_http_reply_error_literal(ItsmigdHttpRequest *req, int code, const char *message)
{
    reply_error_with(req, code, message, NULL, NULL);
}

static void itsmigd_http_reply_error(ItsmigdHttpRequest *req, const GError *error)
{
    reply_error_with(req, itsmig_error_get_code(error), error->message, NULL, NULL);
}

gboolean itsmigd_http_fail(GError **error, int code, const char *message)
{
    g_set_error_literal(error, ITSMIG_ERROR, code, message);
    return FALSE;
}

typedef struct {
    ItsmigdHttpStreamRead read;
    gpointer data;
    GDestroyNotify free;
} Stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    Stream *s = cls;
    gssize n = s->read(s->data, buf, max);

    return n == ITSMIGD_HTTP_STREAM_END ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
    Stream *s = cls;

    if (s->free)
        s->free(s->data);
    g_free(s);
}

void itsmigd_http_reply_stream(ItsmigdHttpRequest *req, const char *content_type,
                               ItsmigdHttpStreamRead read, gpointer data, GDestroyNotify free)
{
    Stream *s = g_new0(Stream, 1);
    struct MHD_Response *response;

    s->read = read;
    s->data = data;
    s->free = free;
    response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!response) {
        stream_free(s);
        return;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    queue(req, MHD_HTTP_OK, response);
}

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
    ItsmigdHttpServer *server = req->listener->server;
    char *mac = NULL;

    if (!req->peer)
        return NULL;
    g_mutex_lock(&server->token_lock);
    for (guint i = 0; i < server->peer_tokens->len && !mac; i++) {
        PeerToken *p = g_ptr_array_index(server->peer_tokens, i);

        if (!strcmp(p->name, req->peer))
            mac = itsmigd_migration_mac(p->token, uuid, job);
    }
    g_mutex_unlock(&server->token_lock);
    return mac;
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

/* ---- connection budgets and deadlines ------------------------------------------------ */

/* Sets the deadline of @mc's connection: @timeout_s from now, or none (0). */
static void conn_deadline(Listener *l, struct MHD_Connection *mc, unsigned int timeout_s)
{
    Conn *c;

    g_mutex_lock(&l->conn_lock);
    c = g_hash_table_lookup(l->conns, mc);
    if (c)
        c->deadline_us = timeout_s ? g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC : 0;
    g_mutex_unlock(&l->conn_lock);
}

static void conn_cut(Conn *c)
{
    if (!c->cut)
        shutdown(c->fd, SHUT_RDWR);
    c->cut = TRUE;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    Listener *l = cls;
    const ItsmigdHttpLimits *limits = &l->server->limits;
    Conn *c;

    g_mutex_lock(&l->conn_lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = g_new0(Conn, 1);
        c->fd = info ? fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 3) : -1;
        c->uid = -1;
        /* The clock runs from accept: a stalled TLS handshake counts. */
        c->deadline_us = g_get_monotonic_time() + limits->request_timeout * G_USEC_PER_SEC;
        if (!l->tcp && c->fd >= 0) {
            struct ucred cred;
            socklen_t len = sizeof(cred);

            if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
                guint n =
                    GPOINTER_TO_UINT(g_hash_table_lookup(l->per_uid, GINT_TO_POINTER(cred.uid)));

                c->uid = cred.uid;
                g_hash_table_insert(l->per_uid, GINT_TO_POINTER(cred.uid), GUINT_TO_POINTER(n + 1));
                /* root (the hook, the administrator) only meets the total. */
                if (cred.uid != 0 && n >= limits->max_connections_per_user) {
                    g_debug("http: uid %u holds %u connections on the unix socket; refusing "
                            "one more ([api] max-connections-per-user)",
                            (unsigned int)cred.uid, n);
                    conn_cut(c);
                }
            }
        }
        g_hash_table_insert(l->conns, mc, c);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        c = g_hash_table_lookup(l->conns, mc);
        if (c) {
            if (c->uid >= 0) {
                guint n =
                    GPOINTER_TO_UINT(g_hash_table_lookup(l->per_uid, GINT_TO_POINTER(c->uid)));

                if (n > 1)
                    g_hash_table_insert(l->per_uid, GINT_TO_POINTER(c->uid),
                                        GUINT_TO_POINTER(n - 1));
                else
                    g_hash_table_remove(l->per_uid, GINT_TO_POINTER(c->uid));
            }
            g_hash_table_remove(l->conns, mc);
        }
    }
    g_mutex_unlock(&l->conn_lock);
    (void)socket_context;
}

static void conn_free(Conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    g_free(c);
}

static guint reap(Listener *l, gint64 now)
{
    GHashTableIter iter;
    gpointer value;
    guint n = 0;

    if (!l->conns)
        return 0;
    g_mutex_lock(&l->conn_lock);
    g_hash_table_iter_init(&iter, l->conns);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        Conn *c = value;

        if (!c->cut && c->fd >= 0 && c->deadline_us && now > c->deadline_us) {
            conn_cut(c);
            n++;
        }
    }
    g_mutex_unlock(&l->conn_lock);
    return n;
}

static gpointer reaper_thread(gpointer data)
{
    ItsmigdHttpServer *server = data;

    g_mutex_lock(&server->reaper_lock);
    while (!server->stopping) {
        gint64 now;
        guint cut;

        g_cond_wait_until(&server->reaper_cond, &server->reaper_lock,
                          g_get_monotonic_time() + G_USEC_PER_SEC / 5);
        if (server->stopping)
            break;
        g_mutex_unlock(&server->reaper_lock);
        now = g_get_monotonic_time();
        cut = reap(&server->unix_listener, now) + reap(&server->tcp_listener, now) +
              reap(&server->metrics_listener, now);
        if (cut)
            g_debug("http: closed %u connection(s) that sent no complete request within %u s "
                    "([api] request-timeout)",
                    cut, server->limits.request_timeout);
        g_mutex_lock(&server->reaper_lock);
    }
    g_mutex_unlock(&server->reaper_lock);
    return NULL;
}

/* ---- dispatch ------------------------------------------------------------------- */

/* Compares every byte of @expected whatever @given is, so that timing does
 * not tell how much of a guess was right. */
static gboolean secret_equal(const char *given, const char *expected)
{
    gsize a = strlen(given), b = strlen(expected);
    unsigned char diff = a != b;

    for (gsize i = 0; i < b; i++)
        diff |= (unsigned char)(expected[i] ^ (i < a ? given[i] : 0));
    return diff == 0;
}

/* The peer whose token @header carries, or NULL.  Every peer's token is
 * compared, so that timing does not tell which peer a guess was near. */
static char *peer_of_token(ItsmigdHttpServer *server, const char *header)
{
    char *found = NULL;

    if (!header || g_ascii_strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    header += 7;
    g_mutex_lock(&server->token_lock);
    for (guint i = 0; i < server->peer_tokens->len; i++) {
        PeerToken *p = g_ptr_array_index(server->peer_tokens, i);

        if (secret_equal(header, p->token) && !found)
            found = g_strdup(p->name);
    }
    g_mutex_unlock(&server->token_lock);
    return found;
}

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
        req->peer =
            peer_of_token(server, itsmigd_http_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION));
        if (!req->peer) {
            reply_error_with(req, ITSMIG_ERROR_UNAUTHORIZED, "a peer's bearer token is required",
                             MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"itsmigd\"");
            return;
        }
    }

    q = strchr(req->uri, '?');
    path = q ? g_strndup(req->uri, q - req->uri) : g_strdup(req->uri);
    if (!itsmigd_router_match(server->routes, server->n_routes, req->method, path, &req->match,
                              &allow, &error)) {
        if (g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_METHOD_NOT_ALLOWED))
            reply_error_with(req, error->code, error->message, MHD_HTTP_HEADER_ALLOW, allow);
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
    if (route->flags & (ITSMIGD_ROUTE_JSON_BODY | ITSMIGD_ROUTE_XML_BODY)) {
        const char *type = itsmigd_http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
        const char *length = itsmigd_http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        gboolean xml = (route->flags & ITSMIGD_ROUTE_XML_BODY) != 0;
        guint64 n;

        if (xml ? !is_type(type, "application/xml") && !is_type(type, "text/xml")
                : !is_type(type, "application/json")) {
            g_autofree char *msg = g_strdup_printf("the body must be %s, not %s",
                                                   xml ? "application/xml" : "application/json",
                                                   type ? type : "untyped");
            itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_UNSUPPORTED_MEDIA_TYPE, msg);
            return;
        }
        /* libmicrohttpd cannot answer before a request has ended, and a
         * chunked body announces no end: it would have to be read whole,
         * however long, before its 413.  Our clients send Content-Length. */
        if (!length) {
            reply_error_with(req, ITSMIG_ERROR_LENGTH_REQUIRED,
                             "a body needs a Content-Length (chunked bodies are not taken)",
                             MHD_HTTP_HEADER_CONNECTION, "close");
            return;
        }
        if (g_ascii_string_to_unsigned(length, 10, 0, G_MAXUINT64, &n, NULL) &&
            n > body_limit(req)) {
            g_autofree char *msg = g_strdup_printf(
                "the body is larger than %" G_GSIZE_FORMAT " bytes", body_limit(req));
            itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_BODY_TOO_LARGE, msg);
            return;
        }
        req->body = g_byte_array_new();
    }
}

static void finish_request(ItsmigdHttpRequest *req)
{
    ItsmigdHttpServer *server = req->listener->server;
    const ItsmigdRoute *route = req->match.route;
    g_autoptr(GError) error = NULL;

    if (req->body_too_large) {
        g_autofree char *msg =
            g_strdup_printf("the body is larger than %" G_GSIZE_FORMAT " bytes", body_limit(req));
        itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_BODY_TOO_LARGE, msg);
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
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
            conn_deadline(req->listener, conn, 0);
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
    conn_deadline(req->listener, conn, 0);
    if (!req->responded)
        finish_request(req);
    return req->failed ? MHD_NO : MHD_YES;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
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

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ItsmigdHttpRequest *req = *con_cls;
    Listener *l = cls;

    if (!req)
        return;
    /* A kept-alive connection has as long for its next request. */
    conn_deadline(l, conn, l->server->limits.request_timeout);
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

static GMutex mhd_log_lock;
static char *mhd_last_message;

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char *msg = g_strdup_vprintf(fmt, ap);

    g_strchomp(msg);
    g_debug("http: %s", msg);
    g_mutex_lock(&mhd_log_lock);
    g_free(mhd_last_message);
    mhd_last_message = msg;
    g_mutex_unlock(&mhd_log_lock);
}

/* ---- listeners ----------------------------------------------------------------- */

static gboolean start_mhd(ItsmigdHttpServer *server, Listener *l, unsigned int extra_flags,
                          const struct sockaddr *addr, GError **error)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_POLL | MHD_USE_ERROR_LOG | extra_flags;
    size_t pool = MAX((size_t)32768, server->limits.max_url * 2 + 16384);
    struct MHD_OptionItem ops[20];
    int n = 0;

#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
    OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL);
    if (l->fd >= 0)
        OPT(MHD_OPTION_LISTEN_SOCKET, l->fd, NULL);
    if (addr)
        OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)addr);
    OPT(MHD_OPTION_CONNECTION_LIMIT,
        l->max_connections ? l->max_connections
        : l->tcp           ? server->limits.peer_max_connections
                           : server->limits.max_connections,
        NULL);
    if (l->tcp)
        OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            l->max_connections ? l->max_connections : server->limits.max_connections_per_address,
            NULL);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, l);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, server->limits.connection_timeout, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, NULL);
    OPT(MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, NULL);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, l);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, l);
    if (l->cert_pem) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, l->cert_pem);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, l->key_pem);
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

    l->server = server;
    l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, ops,
                              MHD_OPTION_END);
    if (!l->mhd) {
        g_mutex_lock(&mhd_log_lock);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                    "cannot start the HTTP server on %s: %s",
                    l->metrics_only ? "the metrics address"
                    : l->tcp        ? "TCP"
                                    : "the unix socket",
                    mhd_last_message ? mhd_last_message : "no reason given");
        g_mutex_unlock(&mhd_log_lock);
        return FALSE;
    }
    return TRUE;
}

static void listener_init(Listener *l)
{
    l->fd = -1;
    g_mutex_init(&l->conn_lock);
    l->conns = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)conn_free);
    l->per_uid = g_hash_table_new(NULL, NULL);
}

static void listener_clear(Listener *l)
{
    g_hash_table_unref(l->conns);
    g_hash_table_unref(l->per_uid);
    g_mutex_clear(&l->conn_lock);
}

ItsmigdHttpServer *itsmigd_http_server_new(const ItsmigdHttpParts *parts,
                                           const ItsmigdHttpLimits *limits,
                                           const ItsmigdRoute *routes, gsize n_routes)
{
    ItsmigdHttpServer *server = g_new0(ItsmigdHttpServer, 1);

    server->parts = *parts;
    server->limits = *limits;
    server->routes = routes;
    server->n_routes = n_routes;
    listener_init(&server->unix_listener);
    listener_init(&server->tcp_listener);
    server->tcp_listener.tcp = TRUE;
    listener_init(&server->metrics_listener);
    server->metrics_listener.tcp = TRUE;
    server->metrics_listener.metrics_only = TRUE;
    g_mutex_init(&server->reaper_lock);
    g_cond_init(&server->reaper_cond);
    server->reaper = g_thread_new("itsmigd-reaper", reaper_thread, server);
    g_mutex_init(&server->token_lock);
    server->peer_tokens = g_ptr_array_new_with_free_func((GDestroyNotify)peer_token_free);
    return server;
}

static void listener_stop(Listener *l)
{
    if (l->mhd)
        MHD_stop_daemon(l->mhd);
    l->mhd = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->path)
        unlink(l->path);
    g_clear_pointer(&l->path, g_free);
    g_clear_pointer(&l->cert_pem, g_free);
    if (l->key_pem)
        explicit_bzero(l->key_pem, strlen(l->key_pem));
    g_clear_pointer(&l->key_pem, g_free);
}

void itsmigd_http_server_free(ItsmigdHttpServer *server)
{
    if (!server)
        return;
    listener_stop(&server->unix_listener);
    listener_stop(&server->tcp_listener);
    listener_stop(&server->metrics_listener);
    g_mutex_lock(&server->reaper_lock);
    server->stopping = TRUE;
    g_cond_signal(&server->reaper_cond);
    g_mutex_unlock(&server->reaper_lock);
    g_thread_join(server->reaper);
    g_mutex_clear(&server->reaper_lock);
    g_cond_clear(&server->reaper_cond);
    listener_clear(&server->unix_listener);
    listener_clear(&server->tcp_listener);
    listener_clear(&server->metrics_listener);
    g_ptr_array_unref(server->peer_tokens);
    g_mutex_clear(&server->token_lock);
    g_free(server);
}

static gboolean socket_in_use(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean in_use;

    if (fd < 0)
        return FALSE;
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    in_use = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    return in_use;
}

gboolean itsmigd_http_server_listen_unix(ItsmigdHttpServer *server, int fd, const char *path,
                                         unsigned int mode, const char *group, GError **error)
{
    Listener *l = &server->unix_listener;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    g_autofree char *dir = NULL;
    struct stat st;
    mode_t old_umask;
    int rc;

    if (fd >= 0) {
        l->fd = fd;
        return start_mhd(server, l, 0, NULL, error);
    }
    if (strlen(path) >= sizeof(sun.sun_path)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "socket path %s is too long",
                    path);
        return FALSE;
    }
    dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot create %s: %s", dir,
                    g_strerror(errno));
        return FALSE;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "%s exists and is not a socket; not replacing it", path);
            return FALSE;
        }
        if (socket_in_use(path)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "another server is listening on %s", path);
            return FALSE;
        }
        unlink(path); /* left behind by a daemon that did not stop cleanly */
    }

    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "socket: %s", g_strerror(errno));
        return FALSE;
    }
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    /* No window in which the socket has looser permissions than asked. */
    old_umask = umask(0777 & ~mode);
    rc = bind(l->fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old_umask);
    if (rc < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot bind %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    l->path = g_strdup(path);
    if (chmod(path, mode) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot chmod %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    if (group) {
        struct group *gr = getgrnam(group);

        if (!gr) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                        "[api] socket-group: no group named '%s'", group);
            return FALSE;
        }
        if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "cannot give %s to group %s: %s", path, group, g_strerror(errno));
            return FALSE;
        }
    }
    if (listen(l->fd, 128) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot listen on %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    return start_mhd(server, l, 0, NULL, error);
}

/* @listen as a socket address; ORs MHD_USE_IPv6 into @flags for one. */
static gboolean listen_address(const char *listen, struct sockaddr_storage *ss, unsigned int *flags,
                               GError **error)
{
    g_autofree char *addr = NULL;
    guint16 port;

    if (!itsmigd_config_parse_listen(listen, &addr, &port, error))
        return FALSE;
    memset(ss, 0, sizeof(*ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
            goto bad_addr;
        *flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
            goto bad_addr;
    }
    return TRUE;

bad_addr:
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "bad listen address %s", addr);
    return FALSE;
}

gboolean itsmigd_http_server_listen_metrics(ItsmigdHttpServer *server, const char *listen,
                                            unsigned int max_connections, GError **error)
{
    Listener *l = &server->metrics_listener;
    struct sockaddr_storage ss;
    unsigned int flags = 0;

    if (!listen_address(listen, &ss, &flags, error))
        return FALSE;
    l->max_connections = max_connections;
    if (!start_mhd(server, l, flags, (struct sockaddr *)&ss, error)) {
        g_prefix_error(error, "%s: ", listen);
        return FALSE;
    }
    return TRUE;
}

gboolean itsmigd_http_server_listen_tcp(ItsmigdHttpServer *server, const char *listen,
                                        const char *cert_file, const char *key_file,
                                        const GPtrArray *peers, GError **error)
{
    Listener *l = &server->tcp_listener;
    g_autoptr(GError) local = NULL;
    struct sockaddr_storage ss;
    gsize key_len;
    unsigned int flags = MHD_USE_TLS;

    if (!listen_address(listen, &ss, &flags, error))
        return FALSE;
    if (!g_file_get_contents(cert_file, &l->cert_pem, NULL, &local) ||
        !itsmigd_config_read_secret(key_file, &l->key_pem, &key_len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "TLS: %s", local->message);
        return FALSE;
    }
    itsmigd_http_server_set_peers(server, peers);
    if (!start_mhd(server, l, flags, (struct sockaddr *)&ss, error)) {
        g_prefix_error(error, "%s: ", listen);
        return FALSE;
    }
    return TRUE;
}

void itsmigd_http_server_set_peers(ItsmigdHttpServer *server, const GPtrArray *peers)
{
    g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func((GDestroyNotify)peer_token_free);

    for (guint i = 0; peers && i < peers->len; i++) {
        const ItsmigdPeerConfig *peer = g_ptr_array_index(peers, i);
        PeerToken *p;

        if (!peer->accept_token)
            continue;
        p = g_new0(PeerToken, 1);
        p->name = g_strdup(peer->name);
        p->token = g_strdup(peer->accept_token);
        g_ptr_array_add(fresh, p);
    }
    g_mutex_lock(&server->token_lock);
    g_ptr_array_unref(server->peer_tokens);
    server->peer_tokens = g_steal_pointer(&fresh);
    g_mutex_unlock(&server->token_lock);
}
