/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one client of itsmigd's REST API (libcurl), shared by itsmigctl, the
 * libvirt hook and the daemon's calls to its peers: over the local unix
 * socket, or over HTTPS (TLS 1.2 or later, verified) with a bearer token.
 * One blocking request at a time per client; every request is bounded in
 * time and in the size of the reply.  A client may be used by one thread at
 * a time; separate clients may run on separate threads at once.
 */

#include <glib.h>
#include <json-glib/json-glib.h>

#define ITSMIG_REST_DEFAULT_SOCKET "/run/itsmigd/api.sock"
/* The largest reply body kept unless itsmig_rest_client_set_reply_max() says
 * otherwise; a larger one fails the request. */
#define ITSMIG_REST_REPLY_MAX (16 * 1024 * 1024)
/* The longest line kept of a streamed reply; a longer one fails the request. */
#define ITSMIG_REST_LINE_MAX (1024 * 1024)
/* Limit on a token file, so that a wrong path cannot make us read a huge file. */
#define ITSMIG_REST_TOKEN_FILE_MAX 4096

typedef struct ItsmigRestClient ItsmigRestClient;

typedef struct {
    long status;        /* the HTTP status */
    char *content_type; /* NULL when the reply had none */
    char *body;         /* NUL-terminated; may hold NULs before body_len */
    gsize body_len;
} ItsmigRestReply;

void itsmig_rest_reply_free(ItsmigRestReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigRestReply, itsmig_rest_reply_free)

/* Requests go to http://localhost/... through @socket_path.  @timeout_s bounds
 * each request as a whole (connecting included); at least 1. */
ItsmigRestClient *itsmig_rest_client_new_unix(const char *socket_path, guint timeout_s);

/* Requests go to @url (https://HOST[:PORT], nothing after the authority but
 * an optional "/"), with "Authorization: Bearer @token".  @cacert, when not
 * NULL, is the PEM file of the CAs to trust instead of the system's.  Fails
 * with ITSMIG_ERROR_INVALID_ARGUMENT naming what is wrong with @url or @token. */
ItsmigRestClient *itsmig_rest_client_new_https(const char *url, const char *token,
                                               const char *cacert, guint timeout_s, GError **error);

/* Whether @url is one itsmig_rest_client_new_https() takes; the error says why not. */
gboolean itsmig_rest_check_url(const char *url, GError **error);

void itsmig_rest_client_free(ItsmigRestClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigRestClient, itsmig_rest_client_free)

/* Connecting may take at most @seconds (at least 1), instead of the default
 * MIN(timeout, 10 s). */
void itsmig_rest_client_set_connect_timeout(ItsmigRestClient *client, guint seconds);
/* Replies larger than @bytes (at least 1) fail with ITSMIG_REST_FAILURE_TOO_LARGE. */
void itsmig_rest_client_set_reply_max(ItsmigRestClient *client, gsize bytes);

/* The socket path or the URL, for messages. */
const char *itsmig_rest_client_get_endpoint(const ItsmigRestClient *client);

/*
 * Sends one request; @body (of @body_len bytes, with @content_type) may be
 * NULL.  Any HTTP reply, whatever its status, is a success: see
 * itsmig_rest_reply_to_json().  Fails when no complete reply arrived:
 * ITSMIG_ERROR_PEER_UNREACHABLE (cannot connect, or the connection broke),
 * ITSMIG_ERROR_PEER_TIMEOUT (no complete reply in time),
 * ITSMIG_ERROR_PEER_ERROR (TLS, an oversized reply), with a message naming
 * the endpoint; itsmig_rest_client_get_failure() tells which.
 */
gboolean itsmig_rest_client_request(ItsmigRestClient *client, const char *method, const char *path,
                                    const char *content_type, const char *body, gsize body_len,
                                    ItsmigRestReply **ret_reply, GError **error);

/*
 * Called with each line of a streamed reply, without its "\n" or "\r\n";
 * and, about once a second whether anything arrived or not, with NULL, so
 * that the caller can give up.  Returning FALSE ends the request.
 */
typedef gboolean (*ItsmigRestLineFunc)(const char *line, gpointer user_data);

/*
 * GET @path and hand the body, line by line as it arrives, to @on_line: for
 * replies that do not end by themselves (text/event-stream, given as
 * @accept).  Only connecting is bounded in time.  An error reply (not 2xx)
 * is not streamed but kept whole in *@ret_reply, for
 * itsmig_rest_client_parse_reply(); otherwise *@ret_reply is NULL.
 * Succeeds when the stream ended: @on_line returned FALSE, or the daemon
 * closed it (or went away in the middle of it).  Fails as
 * itsmig_rest_client_request() does, and with ITSMIG_ERROR_PEER_ERROR for a
 * 2xx reply that is not @accept or has a line longer than
 * ITSMIG_REST_LINE_MAX.
 */
gboolean itsmig_rest_client_stream(ItsmigRestClient *client, const char *path, const char *accept,
                                   ItsmigRestLineFunc on_line, gpointer user_data,
                                   ItsmigRestReply **ret_reply, GError **error);

/* Why the last request failed, without the endpoint ("Connection refused",
 * "no complete reply within 10 s"); NULL after a success. */
const char *itsmig_rest_client_get_failure_reason(const ItsmigRestClient *client);

/* What kind of failure ended the last request, for callers that word their
 * own messages (the daemon names a peer, not "itsmigd at"). */
typedef enum {
    ITSMIG_REST_FAILURE_NONE,
    ITSMIG_REST_FAILURE_SETUP,     /* the request could not be set up (libcurl refused) */
    ITSMIG_REST_FAILURE_CONNECT,   /* no connection: refused, unknown host, bad socket path */
    ITSMIG_REST_FAILURE_DROPPED,   /* the connection broke before a complete reply */
    ITSMIG_REST_FAILURE_TIMEOUT,   /* no complete reply (or, streaming, no connection) in time */
    ITSMIG_REST_FAILURE_TOO_LARGE, /* a reply over the limit, or a streamed line over its own */
    ITSMIG_REST_FAILURE_TLS,       /* the TLS handshake or the certificate check failed */
    ITSMIG_REST_FAILURE_OTHER,     /* anything else libcurl reports, or a wrong media type */
} ItsmigRestFailure;

/* The kind of the last failure, and libcurl's own text for it in
 * *@ret_detail (or ours where libcurl has none); NONE after a success.
 * Each kind always comes with the same ITSMIG_ERROR code: SETUP internal,
 * CONNECT and DROPPED peer-unreachable, TIMEOUT peer-timeout, the others
 * peer-error. */
ItsmigRestFailure itsmig_rest_client_get_failure(const ItsmigRestClient *client,
                                                 const char **ret_detail);

/*
 * Turns a reply of @client into its JSON object.  A 2xx reply must be a JSON
 * object; otherwise ITSMIG_ERROR_PEER_ERROR says the reply was not what the
 * API promises, naming the endpoint.  An error reply
 * ({"error":{"code","message"}}) becomes a GError with the matching
 * ITSMIG_ERROR code (ITSMIG_ERROR_PEER_ERROR for a code this client does not
 * know) and the message "CODE: MESSAGE", as the daemon put them.
 */
JsonObject *itsmig_rest_client_parse_reply(const ItsmigRestClient *client,
                                           const ItsmigRestReply *reply, GError **error);

/* Reads a bearer token: the first line of @path, trimmed, printable ASCII
 * without spaces.  ITSMIG_ERROR_INVALID_ARGUMENT names the file and why. */
char *itsmig_rest_read_token_file(const char *path, GError **error);
