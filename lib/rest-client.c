/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "itsmig/rest-client.h"
#include "itsmig/error.h"
#include "itsmig/json-strict.h"
#include "itsmig/secret-file.h"

/* Connecting never needs more than this, even when a request may take longer. */
#define CONNECT_TIMEOUT_MAX_S 10

struct ItsmigRestClient {
    char *socket_path; /* NULL for HTTPS */
    char *base_url;    /* "https://host:port" without a trailing '/'; NULL for the socket */
    char *token;       /* NULL for the socket */
    char *cacert;      /* NULL: the system's CAs */
    guint timeout_s;
    guint connect_timeout_s; /* 0: MIN(timeout_s, CONNECT_TIMEOUT_MAX_S) */
    gsize reply_max;
    ItsmigRestFailure failure;
    char *failure_reason;
    char *failure_detail;
};

void itsmig_rest_reply_free(ItsmigRestReply *reply)
{
    if (!reply)
        return;
    g_free(reply->content_type);
    g_free(reply->body);
    g_free(reply);
}

static void ensure_curl(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        g_once_init_leave(&done, 1);
    }
}

ItsmigRestClient *itsmig_rest_client_new_unix(const char *socket_path, guint timeout_s)
{
    ItsmigRestClient *c = g_new0(ItsmigRestClient, 1);

    ensure_curl();
    c->socket_path = g_strdup(socket_path);
    c->timeout_s = MAX(timeout_s, 1);
    c->reply_max = ITSMIG_REST_REPLY_MAX;
    return c;
}

/* The URL's part @what, or NULL when it has none. */
static char *url_part(CURLU *u, CURLUPart what)
{
    char *part = NULL;
    char *copy;

    if (curl_url_get(u, what, &part, 0) != CURLUE_OK)
        return NULL;
    copy = g_strdup(part);
    curl_free(part);
    return copy;
}

gboolean itsmig_rest_check_url(const char *url, GError **error)
{
    g_autofree char *scheme = NULL;
    g_autofree char *host = NULL;
    g_autofree char *path = NULL;
    g_autofree char *query = NULL;
    g_autofree char *fragment = NULL;
    g_autofree char *user = NULL;
    CURLU *u;
    CURLUcode rc;

    ensure_curl();
    u = curl_url();
    rc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    if (rc == CURLUE_OK) {
        scheme = url_part(u, CURLUPART_SCHEME);
        host = url_part(u, CURLUPART_HOST);
        path = url_part(u, CURLUPART_PATH);
        query = url_part(u, CURLUPART_QUERY);
        fragment = url_part(u, CURLUPART_FRAGMENT);
        user = url_part(u, CURLUPART_USER);
    }
    curl_url_cleanup(u);

    if (rc != CURLUE_OK) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "URL '%s' is not valid: %s (expected https://HOST:PORT)", url,
                    curl_url_strerror(rc));
        return FALSE;
    }
    if (g_ascii_strcasecmp(scheme, "https") != 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "URL '%s': itsmigd's TCP API is HTTPS only (expected https://HOST:PORT)", url);
        return FALSE;
    }
    if (!host || !*host) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "URL '%s' names no host (expected https://HOST:PORT)", url);
        return FALSE;
    }
    if (user || query || fragment || (path && *path && strcmp(path, "/") != 0)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "URL '%s' must be only https://HOST:PORT, without user, path or query", url);
        return FALSE;
    }
    return TRUE;
}

ItsmigRestClient *itsmig_rest_client_new_https(const char *url, const char *token,
                                               const char *cacert, guint timeout_s, GError **error)
{
    g_autoptr(ItsmigRestClient) c = NULL;

    if (!itsmig_rest_check_url(url, error))
        return NULL;
    if (!token || !itsmig_secret_token_valid(token, 1)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "the bearer token for %s must be printable ASCII without spaces", url);
        return NULL;
    }

    c = g_new0(ItsmigRestClient, 1);
    c->base_url = g_strdup(url);
    if (g_str_has_suffix(c->base_url, "/"))
        c->base_url[strlen(c->base_url) - 1] = '\0';
    c->token = g_strdup(token);
    c->cacert = g_strdup(cacert);
    c->timeout_s = MAX(timeout_s, 1);
    c->reply_max = ITSMIG_REST_REPLY_MAX;
    return g_steal_pointer(&c);
}

void itsmig_rest_client_free(ItsmigRestClient *c)
{
    if (!c)
        return;
    g_free(c->socket_path);
    g_free(c->base_url);
    itsmig_secret_free(c->token);
    g_free(c->cacert);
    g_free(c->failure_reason);
    g_free(c->failure_detail);
    g_free(c);
}

void itsmig_rest_client_set_connect_timeout(ItsmigRestClient *c, guint seconds)
{
    c->connect_timeout_s = MAX(seconds, 1);
}

void itsmig_rest_client_set_reply_max(ItsmigRestClient *c, gsize bytes)
{
    c->reply_max = MAX(bytes, 1);
}

static guint connect_timeout(const ItsmigRestClient *c)
{
    return c->connect_timeout_s ? c->connect_timeout_s : MIN(c->timeout_s, CONNECT_TIMEOUT_MAX_S);
}

const char *itsmig_rest_client_get_endpoint(const ItsmigRestClient *c)
{
    return c->socket_path ? c->socket_path : c->base_url;
}

const char *itsmig_rest_client_get_failure_reason(const ItsmigRestClient *c)
{
    return c->failure_reason;
}

ItsmigRestFailure itsmig_rest_client_get_failure(const ItsmigRestClient *c, const char **ret_detail)
{
    if (ret_detail)
        *ret_detail = c->failure_detail;
    return c->failure;
}

static void clear_failure(ItsmigRestClient *c)
{
    c->failure = ITSMIG_REST_FAILURE_NONE;
    g_clear_pointer(&c->failure_reason, g_free);
    g_clear_pointer(&c->failure_detail, g_free);
}

/* The one code each kind of failure has, whoever made the request. */
static ItsmigErrorCode failure_code(ItsmigRestFailure kind)
{
    switch (kind) {
    case ITSMIG_REST_FAILURE_SETUP: return ITSMIG_ERROR_INTERNAL;
    case ITSMIG_REST_FAILURE_CONNECT:
    case ITSMIG_REST_FAILURE_DROPPED: return ITSMIG_ERROR_PEER_UNREACHABLE;
    case ITSMIG_REST_FAILURE_TIMEOUT: return ITSMIG_ERROR_PEER_TIMEOUT;
    default: return ITSMIG_ERROR_PEER_ERROR;
    }
}

/* "16 MiB", or KiB for a limit that is no whole number of MiB. */
static char *size_text(gsize bytes)
{
    if (bytes % (1024 * 1024) == 0)
        return g_strdup_printf("%zu MiB", bytes / (1024 * 1024));
    return g_strdup_printf("%zu KiB", bytes / 1024);
}

typedef struct {
    GByteArray *body;
    gsize max;
    gboolean too_large;
} Receiver;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    Receiver *r = user;
    size_t n = size * nmemb;

    if (n > r->max - r->body->len) {
        r->too_large = TRUE;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    g_byte_array_append(r->body, (const guint8 *)data, (guint)n);
    return n;
}

/* Records why the request failed (@detail: libcurl's text, NULL to use
 * @reason) and sets @error; returns FALSE. */
static gboolean request_failed(ItsmigRestClient *c, GError **error, ItsmigRestFailure kind,
                               const char *detail, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);

static gboolean request_failed(ItsmigRestClient *c, GError **error, ItsmigRestFailure kind,
                               const char *detail, const char *reason, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;
    g_autofree char *kept_detail = g_strdup(detail ? detail : reason);
    g_autofree char *kept_reason = g_strdup(reason);

    clear_failure(c);
    c->failure = kind;
    c->failure_reason = g_steal_pointer(&kept_reason);
    c->failure_detail = g_steal_pointer(&kept_detail);
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, ITSMIG_ERROR, failure_code(kind), msg);
    return FALSE;
}

static ItsmigRestFailure failure_of(CURLcode rc, gboolean too_large)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return ITSMIG_REST_FAILURE_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return ITSMIG_REST_FAILURE_CONNECT;
    case CURLE_FILESIZE_EXCEEDED: return ITSMIG_REST_FAILURE_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return too_large ? ITSMIG_REST_FAILURE_TOO_LARGE : ITSMIG_REST_FAILURE_DROPPED;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING: return ITSMIG_REST_FAILURE_DROPPED;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE: return ITSMIG_REST_FAILURE_TLS;
    default: return ITSMIG_REST_FAILURE_OTHER;
    }
}

/* Keeps the first option libcurl refuses: a request is not sent half configured. */
typedef struct {
    CURLcode rc;
    const char *option;
} SetoptState;

static void setopt_note(SetoptState *st, CURLcode rc, const char *option)
{
    if (st->rc == CURLE_OK && rc != CURLE_OK) {
        st->rc = rc;
        st->option = option;
    }
}

/* Notes the outcome in the SetoptState *st in scope. */
#define SETOPT(curl, opt, val) setopt_note(st, curl_easy_setopt(curl, opt, val), #opt)

static gboolean curl_failed(ItsmigRestClient *c, CURL *curl, CURLcode rc, const Receiver *r,
                            const char *errbuf, GError **error)
{
    const char *where = itsmig_rest_client_get_endpoint(c);
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    ItsmigRestFailure kind = failure_of(rc, r->too_large);
    g_autofree char *reason = NULL;
    g_autofree char *size = NULL;
    long os_errno = 0;

    switch (kind) {
    case ITSMIG_REST_FAILURE_TIMEOUT:
        reason = g_strdup_printf("no complete reply within %u s", c->timeout_s);
        return request_failed(c, error, kind, detail, reason,
                              "itsmigd at %s sent no complete reply within %u s", where,
                              c->timeout_s);
    case ITSMIG_REST_FAILURE_CONNECT:
        /* For a unix socket curl's own text names "localhost port 80";
         * the system's errno says what happened. */
        if (curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno)
            reason = g_strdup(g_strerror((int)os_errno));
        else
            reason = g_strdup(detail);
        return request_failed(c, error, kind, detail, reason, "cannot reach itsmigd at %s: %s",
                              where, reason);
    case ITSMIG_REST_FAILURE_TOO_LARGE:
        size = size_text(r->max);
        reason = g_strdup_printf("a reply larger than %s", size);
        return request_failed(c, error, kind, detail, reason, "itsmigd at %s sent %s", where,
                              reason);
    case ITSMIG_REST_FAILURE_TLS:
        reason = g_strdup_printf("TLS failed: %s", detail);
        return request_failed(c, error, kind, detail, reason, "TLS with itsmigd at %s failed: %s",
                              where, detail);
    default:
        return request_failed(c, error, kind, detail, detail,
                              "no complete reply from itsmigd at %s: %s", where, detail);
    }
}

/* One easy handle with what every request has: the URL, the transport, TLS
 * and the token, and @accept.  The headers go with it: free them after the
 * handle.  NULL (and @error set) when it cannot be had in full. */
static CURL *open_handle(ItsmigRestClient *c, const char *path, const char *accept, char *errbuf,
                         struct curl_slist **ret_headers, GError **error)
{
    g_autofree char *url = NULL;
    g_autofree char *auth = NULL;
    g_autofree char *accept_header = g_strdup_printf("Accept: %s", accept);
    struct curl_slist *headers = NULL;
    SetoptState state = {CURLE_OK, NULL}, *st = &state;
    CURL *curl;

    if (c->socket_path && strlen(c->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        request_failed(c, error, ITSMIG_REST_FAILURE_CONNECT, NULL, "the socket path is too long",
                       "cannot reach itsmigd at %s: the path is longer than a unix "
                       "socket path may be",
                       c->socket_path);
        return NULL;
    }

    curl = curl_easy_init();
    if (!curl) {
        request_failed(c, error, ITSMIG_REST_FAILURE_SETUP, NULL, "libcurl could not start",
                       "cannot send a request to itsmigd at %s: libcurl could not start",
                       itsmig_rest_client_get_endpoint(c));
        return NULL;
    }

    url = g_strconcat(c->socket_path ? "http://localhost" : c->base_url, path, NULL);
    SETOPT(curl, CURLOPT_URL, url);
    SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
    SETOPT(curl, CURLOPT_NOPROXY, "*");
    SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(curl, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout(c) * 1000);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(curl, CURLOPT_PROTOCOLS_STR, c->socket_path ? "http" : "https");
#else
    SETOPT(curl, CURLOPT_PROTOCOLS, c->socket_path ? CURLPROTO_HTTP : CURLPROTO_HTTPS);
#endif
    if (c->socket_path) {
        SETOPT(curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
    } else {
        SETOPT(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->cacert)
            SETOPT(curl, CURLOPT_CAINFO, c->cacert);
        auth = g_strdup_printf("Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, auth);
        /* libcurl copies the header: this copy of the token can go now. */
        explicit_bzero(auth, strlen(auth));
    }
    headers = curl_slist_append(headers, accept_header);
    /* Large hook bodies would otherwise wait for "100 Continue" first. */
    headers = curl_slist_append(headers, "Expect:");
    if (state.rc != CURLE_OK || !headers) {
        /* Only a libcurl built without unix sockets or TLS, or out of memory. */
        g_autofree char *reason = g_strdup_printf(
            "libcurl refused %s: %s", state.rc != CURLE_OK ? state.option : "a header",
            curl_easy_strerror(state.rc != CURLE_OK ? state.rc : CURLE_OUT_OF_MEMORY));

        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        request_failed(c, error, ITSMIG_REST_FAILURE_SETUP, NULL, reason,
                       "cannot send a request to itsmigd at %s: %s",
                       itsmig_rest_client_get_endpoint(c), reason);
        return NULL;
    }
    *ret_headers = headers;
    return curl;
}

/* Fails when libcurl refused one of the options set after open_handle(). */
static gboolean check_options(ItsmigRestClient *c, const SetoptState *st, GError **error)
{
    g_autofree char *reason = NULL;

    if (st->rc == CURLE_OK)
        return TRUE;
    reason = g_strdup_printf("libcurl refused %s: %s", st->option, curl_easy_strerror(st->rc));
    return request_failed(c, error, ITSMIG_REST_FAILURE_SETUP, NULL, reason,
                          "cannot send a request to itsmigd at %s: %s",
                          itsmig_rest_client_get_endpoint(c), reason);
}

static ItsmigRestReply *reply_new(CURL *curl, GByteArray *received)
{
    ItsmigRestReply *reply = g_new0(ItsmigRestReply, 1);
    const char *ctype = NULL;

    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
    reply->content_type = g_strdup(ctype);
    reply->body_len = received->len;
    g_byte_array_append(received, (const guint8 *)"", 1);
    reply->body = (char *)g_byte_array_free(received, FALSE);
    return reply;
}

gboolean itsmig_rest_client_request(ItsmigRestClient *c, const char *method, const char *path,
                                    const char *content_type, const char *body, gsize body_len,
                                    ItsmigRestReply **ret_reply, GError **error)
{
    g_autoptr(GByteArray) received = g_byte_array_new();
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    Receiver r = {received, c->reply_max, FALSE};
    SetoptState state = {CURLE_OK, NULL}, *st = &state;
    gboolean ok;
    CURLcode rc;
    CURL *curl;

    g_return_val_if_fail(path && path[0] == '/', FALSE);
    clear_failure(c);

    curl = open_handle(c, path, "application/json", errbuf, &headers, error);
    if (!curl)
        return FALSE;
    SETOPT(curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_s * 1000);
    SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->reply_max);
    SETOPT(curl, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(curl, CURLOPT_WRITEDATA, &r);
    if (body) {
        g_autofree char *ct = g_strdup_printf("Content-Type: %s", content_type);
        struct curl_slist *more = curl_slist_append(headers, ct);

        if (more)
            headers = more;
        else
            setopt_note(st, CURLE_OUT_OF_MEMORY, "a header");
        SETOPT(curl, CURLOPT_POSTFIELDS, body);
        SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (strcmp(method, "POST") != 0)
            SETOPT(curl, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "POST") == 0) {
        SETOPT(curl, CURLOPT_POSTFIELDS, "");
        SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else if (strcmp(method, "GET") != 0) {
        SETOPT(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    SETOPT(curl, CURLOPT_HTTPHEADER, headers);

    if (!check_options(c, st, error))
        ok = FALSE;
    else if ((rc = curl_easy_perform(curl)) != CURLE_OK)
        ok = curl_failed(c, curl, rc, &r, errbuf, error);
    else
        ok = TRUE;
    if (ok)
        *ret_reply = reply_new(curl, g_steal_pointer(&received));
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return ok;
}

/* ---- a reply that does not end by itself ----------------------------------------- */

typedef struct {
    ItsmigRestClient *client;
    CURL *curl;
    ItsmigRestLineFunc on_line;
    gpointer user_data;
    GByteArray *buf;    /* the line so far; or, not streaming, the whole body */
    gboolean decided;   /* whether the reply is a stream is known */
    gboolean streaming; /* a 2xx reply: its lines go to on_line */
    gboolean stopped;   /* on_line asked to stop */
    gboolean too_large; /* a line, or an error reply, larger than allowed */
    const char *accept;
    char *wrong_type; /* a 2xx reply of another media type than accept */
} Streamer;

/* Hands the line in s->buf to on_line; FALSE when it asks to stop. */
static gboolean stream_line(Streamer *s)
{
    if (s->buf->len && s->buf->data[s->buf->len - 1] == '\r')
        g_byte_array_set_size(s->buf, s->buf->len - 1);
    g_byte_array_append(s->buf, (const guint8 *)"", 1);
    if (!s->on_line((const char *)s->buf->data, s->user_data))
        s->stopped = TRUE;
    g_byte_array_set_size(s->buf, 0);
    return !s->stopped;
}

static size_t on_stream(char *data, size_t size, size_t nmemb, void *user)
{
    Streamer *s = user;
    size_t n = size * nmemb;
    const char *p = data, *end = data + n;

    if (!s->decided) {
        long status = 0;

        const char *ctype = NULL;

        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(s->curl, CURLINFO_CONTENT_TYPE, &ctype);
        s->streaming = status >= 200 && status < 300;
        if (s->streaming && (!ctype || g_ascii_strncasecmp(ctype, s->accept, strlen(s->accept)))) {
            s->wrong_type = g_strdup(ctype ? ctype : "no Content-Type");
            s->streaming = FALSE;
        }
        s->decided = TRUE;
    }
    if (!s->streaming) {
        if (n > s->client->reply_max - s->buf->len) {
            s->too_large = TRUE;
            return 0;
        }
        g_byte_array_append(s->buf, (const guint8 *)data, (guint)n);
        return n;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);

        if (len > ITSMIG_REST_LINE_MAX - s->buf->len) {
            s->too_large = TRUE;
            return 0;
        }
        g_byte_array_append(s->buf, (const guint8 *)p, (guint)len);
        if (!nl)
            break;
        if (!stream_line(s))
            return 0; /* makes curl stop with CURLE_WRITE_ERROR */
        p = nl + 1;
    }
    return n;
}

/* libcurl calls this at least once a second, data or not. */
static int on_stream_tick(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow)
{
    Streamer *s = user;

    if (!s->stopped && !s->on_line(NULL, s->user_data))
        s->stopped = TRUE;
    return s->stopped;
}

gboolean itsmig_rest_client_stream(ItsmigRestClient *c, const char *path, const char *accept,
                                   ItsmigRestLineFunc on_line, gpointer user_data,
                                   ItsmigRestReply **ret_reply, GError **error)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    Streamer s = {c, NULL, on_line, user_data, buf, FALSE, FALSE, FALSE, FALSE, accept, NULL};
    SetoptState state = {CURLE_OK, NULL}, *st = &state;
    const char *where = itsmig_rest_client_get_endpoint(c);
    gboolean ok = TRUE;
    CURLcode rc = CURLE_OK;
    CURL *curl;

    g_return_val_if_fail(path && path[0] == '/', FALSE);
    clear_failure(c);
    *ret_reply = NULL;

    curl = open_handle(c, path, accept, errbuf, &headers, error);
    if (!curl)
        return FALSE;
    s.curl = curl;
    /* Only connecting is bounded: the stream lasts as long as the daemon. */
    SETOPT(curl, CURLOPT_WRITEFUNCTION, on_stream);
    SETOPT(curl, CURLOPT_WRITEDATA, &s);
    SETOPT(curl, CURLOPT_XFERINFOFUNCTION, on_stream_tick);
    SETOPT(curl, CURLOPT_XFERINFODATA, &s);
    SETOPT(curl, CURLOPT_NOPROGRESS, 0L);
    SETOPT(curl, CURLOPT_HTTPHEADER, headers);

    if (!check_options(c, st, error)) {
        ok = FALSE;
    } else {
        rc = curl_easy_perform(curl);
        if (s.too_large) {
            g_autofree char *size = size_text(c->reply_max);
            g_autofree char *reason = s.streaming ? g_strdup_printf("a line longer than %d KiB",
                                                                    ITSMIG_REST_LINE_MAX / 1024)
                                                  : g_strdup_printf("a reply larger than %s", size);

            ok = request_failed(c, error, ITSMIG_REST_FAILURE_TOO_LARGE, NULL, reason,
                                "itsmigd at %s sent %s", where, reason);
        } else if (s.wrong_type && !s.stopped) {
            g_autofree char *reason =
                g_strdup_printf("a reply as %s, not %s", s.wrong_type, accept);

            ok = request_failed(c, error, ITSMIG_REST_FAILURE_OTHER, NULL, reason,
                                "itsmigd at %s sent %s", where, reason);
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            g_autofree char *reason =
                g_strdup_printf("no connection within %u s", connect_timeout(c));

            ok = request_failed(c, error, ITSMIG_REST_FAILURE_TIMEOUT, NULL, reason,
                                "cannot reach itsmigd at %s: %s", where, reason);
        } else if (s.stopped ||
                   (s.streaming && (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR))) {
            /* Asked to stop, or the daemon went away in the middle of the
             * stream: both end it. */
            ok = TRUE;
        } else if (rc != CURLE_OK) {
            Receiver r = {buf, c->reply_max, FALSE};

            ok = curl_failed(c, curl, rc, &r, errbuf, error);
        } else if (s.streaming) {
            if (buf->len)
                stream_line(&s);
        } else {
            *ret_reply = reply_new(curl, g_steal_pointer(&buf));
        }
    }
    g_free(s.wrong_type);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return ok;
}

/* At most 80 bytes of @text on one line, for a message about a bad reply. */
static char *excerpt(const char *text, gsize len)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (gsize i = 0; i < len && s->len < 80; i++)
        g_string_append_c(s, g_ascii_isprint(text[i]) ? text[i] : ' ');
    g_strstrip(s->str);
    if (len > 80)
        g_string_append(s, "...");
    return g_string_free(g_steal_pointer(&s), FALSE);
}

JsonObject *itsmig_rest_client_parse_reply(const ItsmigRestClient *c, const ItsmigRestReply *reply,
                                           GError **error)
{
    const char *where = itsmig_rest_client_get_endpoint(c);
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) local = NULL;
    gboolean success = reply->status >= 200 && reply->status < 300;
    JsonNode *root;
    JsonObject *obj;

    if (reply->body_len == 0 || memchr(reply->body, '\0', reply->body_len) ||
        !itsmig_json_check(reply->body, reply->body_len, ITSMIG_JSON_DEPTH_MAX, "reply", NULL) ||
        !json_parser_load_from_data(parser, reply->body, (gssize)reply->body_len, &local) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_autofree char *start = excerpt(reply->body, reply->body_len);

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                    "itsmigd at %s answered HTTP %ld with %s%s%s", where, reply->status,
                    reply->body_len == 0 ? "an empty body" : "a body that is not a JSON object",
                    *start ? ": " : "", start);
        return NULL;
    }
    obj = json_node_get_object(root);
    if (!success) {
        JsonNode *err = json_object_get_member(obj, "error");
        JsonObject *eo = err && JSON_NODE_HOLDS_OBJECT(err) ? json_node_get_object(err) : NULL;
        JsonNode *code = eo ? json_object_get_member(eo, "code") : NULL;
        JsonNode *msg = eo ? json_object_get_member(eo, "message") : NULL;
        ItsmigErrorCode ec = ITSMIG_ERROR_PEER_ERROR;

        if (!code || !msg || json_node_get_value_type(code) != G_TYPE_STRING ||
            json_node_get_value_type(msg) != G_TYPE_STRING) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                        "itsmigd at %s answered HTTP %ld without an error code and message", where,
                        reply->status);
            return NULL;
        }
        if (!itsmig_error_code_from_string(json_node_get_string(code), &ec))
            ec = ITSMIG_ERROR_PEER_ERROR;
        g_set_error(error, ITSMIG_ERROR, ec, "%s: %s", json_node_get_string(code),
                    json_node_get_string(msg));
        return NULL;
    }
    return json_object_ref(obj);
}

char *itsmig_rest_read_token_file(const char *path, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *contents = NULL;
    g_autofree char *token = NULL;
    gsize len = 0;

    /* Any kind of file, a pipe from a password store included. */
    if (!itsmig_secret_file_read(path, ITSMIG_REST_TOKEN_FILE_MAX, 0, &contents, &len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "cannot read the token file: %s", local->message);
        return NULL;
    }
    token = itsmig_secret_token_first_line(contents, len);
    explicit_bzero(contents, len);
    if (!itsmig_secret_token_valid(token, 1)) {
        explicit_bzero(token, strlen(token));
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "token file %s: the first line must be the token, printable ASCII "
                    "without spaces",
                    path);
        return NULL;
    }
    return g_steal_pointer(&token);
}
