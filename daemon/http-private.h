/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the pieces of the REST server share: http-server.c (listeners, TLS,
 * connection budgets and deadlines, who may call), http-request.c (a
 * request's head and body, and its dispatch to a route) and http-reply.c
 * (the replies, errors included).  Private to those three.
 */

#include <microhttpd.h>

#include "daemon/http-server.h"

#define ITSMIGD_HTTP_JSON_TYPE "application/json; charset=utf-8"

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

/* ---- http-server.c ---- */

/* Sets the deadline of @mc's connection: @timeout_s from now, or none (0). */
void itsmigd_http_conn_deadline(Listener *l, struct MHD_Connection *mc, unsigned int timeout_s);
/* The peer whose token the Authorization @header carries, or NULL. */
char *itsmigd_http_server_peer_of_token(ItsmigdHttpServer *server, const char *header);
/* itsmigd_migration_mac() under @peer's token, so that tokens stay in one file. */
char *itsmigd_http_server_peer_mac(ItsmigdHttpServer *server, const char *peer, const char *uuid,
                                   const char *job);

/* ---- http-request.c: libmicrohttpd's callbacks for a request (cls: the Listener) ---- */

void *itsmigd_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result itsmigd_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **con_cls);
void itsmigd_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe);

/* ---- http-reply.c ---- */

/* {"error":{"code","message"}} with @code's status, and @header when not NULL. */
void itsmigd_http_reply_error_with(ItsmigdHttpRequest *req, int code, const char *message,
                                   const char *header, const char *header_value);
void itsmigd_http_reply_error_literal(ItsmigdHttpRequest *req, int code, const char *message);
void itsmigd_http_reply_error(ItsmigdHttpRequest *req, const GError *error);
