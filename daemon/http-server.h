/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "daemon/http-router.h"
#include "daemon/metrics.h"
#include "daemon/virt-connect.h"

/*
 * The REST server: libmicrohttpd with a thread per connection (so that an
 * event stream may block while waiting), on a unix socket (its own, or one
 * handed over by systemd) and, when configured, on TCP with TLS for peers,
 * each with its own bearer token.  Only this layer writes HTTP.
 */
typedef struct ItsmigdHttpServer ItsmigdHttpServer;

typedef struct {
    gsize max_body;
    gsize max_domain_xml;
    gsize max_url;
    unsigned int max_connections;             /* the unix socket's */
    unsigned int max_connections_per_user;    /* unix socket, each uid but root's */
    unsigned int peer_max_connections;        /* TCP's, a budget apart */
    unsigned int max_connections_per_address; /* TCP, each client address */
    unsigned int connection_timeout;          /* idle seconds */
    unsigned int request_timeout;             /* seconds from accept (TLS handshake included) or
                                               * the last reply to a complete request */
    unsigned int max_event_streams;
} ItsmigdHttpLimits;

/* What the server itself uses of the daemon: the connection to libvirt (a
 * ITSMIGD_ROUTE_NEEDS_LIBVIRT route is refused without it) and the metrics
 * each request is counted in.  @context is the handlers' own, handed back by
 * itsmigd_http_request_context(); the server never looks into it. */
typedef struct {
    ItsmigdVirt *virt;
    ItsmigdMetrics *metrics;
    gpointer context;
} ItsmigdHttpParts;

ItsmigdHttpServer *itsmigd_http_server_new(const ItsmigdHttpParts *parts,
                                           const ItsmigdHttpLimits *limits,
                                           const ItsmigdRoute *routes, gsize n_routes);
/* Closes the listeners, ends event streams and waits for connections. */
void itsmigd_http_server_free(ItsmigdHttpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdHttpServer, itsmigd_http_server_free)

/* Serves on @fd when >= 0 (socket activation), else on a new socket at
 * @path with @mode and @group (NULL: ours). */
gboolean itsmigd_http_server_listen_unix(ItsmigdHttpServer *server, int fd, const char *path,
                                         unsigned int mode, const char *group, GError **error);
gboolean itsmigd_http_server_listen_tcp(ItsmigdHttpServer *server, const char *listen,
                                        const char *cert_file, const char *key_file,
                                        const GPtrArray *peers, GError **error);
/* Serves GET /metrics alone (ITSMIGD_ROUTE_METRICS routes; others 403), in
 * plain HTTP without a credential, on @listen ("ADDR:PORT"), to at most
 * @max_connections clients at once: what a Prometheus server scrapes. */
gboolean itsmigd_http_server_listen_metrics(ItsmigdHttpServer *server, const char *listen,
                                            unsigned int max_connections, GError **error);
/* Who may call over TCP: each ItsmigdPeerConfig of @peers with an
 * accept_token, by that token (at start and on SIGHUP). */
void itsmigd_http_server_set_peers(ItsmigdHttpServer *server, const GPtrArray *peers);

/* ---- for route handlers (they run on connection threads) ---- */

gpointer itsmigd_http_request_context(ItsmigdHttpRequest *req);
const ItsmigdHttpLimits *itsmigd_http_request_limits(ItsmigdHttpRequest *req);
/* The [peer NAME] a TCP request authenticated as; NULL on the unix socket. */
const char *itsmigd_http_request_peer(ItsmigdHttpRequest *req);
/* itsmigd_migration_mac() under the calling peer's token (which stays in
 * this layer); NULL on the unix socket. */
char *itsmigd_http_request_peer_mac(ItsmigdHttpRequest *req, const char *uuid, const char *job);
const char *itsmigd_http_request_param(ItsmigdHttpRequest *req, guint index);
/* The decoded query parameter, NULL when absent. */
const char *itsmigd_http_request_query(ItsmigdHttpRequest *req, const char *key);
/* Fails with invalid-argument naming any parameter not in @known. */
gboolean itsmigd_http_request_check_query(ItsmigdHttpRequest *req, const char *const *known,
                                          GError **error);
const char *itsmigd_http_request_header(ItsmigdHttpRequest *req, const char *name);
/* The parsed JSON body of a ITSMIGD_ROUTE_JSON_BODY route. */
JsonNode *itsmigd_http_request_json(ItsmigdHttpRequest *req);
/* The body of a ITSMIGD_ROUTE_XML_BODY route: UTF-8 checked, not parsed. */
const char *itsmigd_http_request_body(ItsmigdHttpRequest *req, gsize *ret_len);

void itsmigd_http_reply_bytes(ItsmigdHttpRequest *req, unsigned int status,
                              const char *content_type, GBytes *body);
void itsmigd_http_reply_json(ItsmigdHttpRequest *req, unsigned int status, JsonNode *node);
void itsmigd_http_reply_builder(ItsmigdHttpRequest *req, unsigned int status, JsonBuilder *b);
/* A handler fails by returning FALSE with its error set; the server's
 * dispatcher alone writes it: {"error":{"code","message"}} with the code's
 * status, errors of other domains as internal errors.  This sets @code of
 * ITSMIG_ERROR with @message, and returns FALSE. */
gboolean itsmigd_http_fail(GError **error, int code, const char *message);

/* An event stream reader: fills @buf, or blocks; see MHD_ContentReaderCallback. */
typedef gssize (*ItsmigdHttpStreamRead)(gpointer data, char *buf, gsize max);
void itsmigd_http_reply_stream(ItsmigdHttpRequest *req, const char *content_type,
                               ItsmigdHttpStreamRead read, gpointer data, GDestroyNotify free);
/* What a stream reader returns to end the stream. */
#define ITSMIGD_HTTP_STREAM_END ((gssize)-1)
