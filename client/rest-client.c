/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "client/rest-client.h"
#include "itsmig/error.h"
#include "itsmig/json-strict.h"

/* Connecting never needs more than this, even when a request may take longer. */
#define CONNECT_TIMEOUT_MAX_S 10

struct ItsmigRestClient {
    char *socket_path; /* NULL for HTTPS */
    char *base_url;    /* "https://host:port" without a trailing '/'; NULL for the socket */
    char *token;       /* NULL for the socket */
    char *cacert;      /* NULL: the system's CAs */
    guint timeout_s;
    char *failure_reason;
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
    return c;
}

static gboolean token_is_valid(const char *token)
{
    if (!*token)
        return FALSE;
    for (const char *p = token; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            return FALSE;
    }
    return TRUE;
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
    if (!token || !token_is_valid(token)) {
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
    return g_steal_pointer(&c);
}

void itsmig_rest_client_free(ItsmigRestClient *c)
{
    if (!c)
        return;
    g_free(c->socket_path);
    g_free(c->base_url);
    if (c->token)
        explicit_bzero(c->token, strlen(c->token));
    g_free(c->token);
    g_free(c->cacert);
    g_free(c->failure_reason);
    g_free(c);
}

const char *itsmig_rest_client_get_endpoint(const ItsmigRestClient *c)
{
    return c->socket_path ? c->socket_path : c->base_url;
}

const char *itsmig_rest_client_get_failure_reason(const ItsmigRestClient *c)
{
    return c->failure_reason;
}

typedef struct {
    GByteArray *body;
    gboolean too_large;
} Receiver;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    Receiver *r = user;
    size_t n = size * nmemb;

    if (n > ITSMIG_REST_REPLY_MAX - r->body->len) {
        r->too_large = TRUE;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    g_byte_array_append(r->body, (const guint8 *)data, (guint)n);
    return n;
}

/* Records why the request failed and sets @error; returns FALSE. */
static gboolean request_failed(ItsmigRestClient *c, GError **error, ItsmigErrorCode code,
                               const char *reason, const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static gboolean request_failed(ItsmigRestClient *c, GError **error, ItsmigErrorCode code,
                               const char *reason, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    g_free(c->failure_reason);
    c->failure_reason = g_strdup(reason);
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, ITSMIG_ERROR, code, msg);
    return FALSE;
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

#define SETOPT(curl, opt, val) setopt_note(&setopt, curl_easy_setopt(curl, opt, val), #opt)

static gboolean curl_failed(ItsmigRestClient *c, CURL *curl, CURLcode rc, const Receiver *r,
                            const char *errbuf, GError **error)
{
    const char *where = itsmig_rest_client_get_endpoint(c);
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    g_autofree char *reason = NULL;
    long os_errno = 0;

    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        reason = g_strdup_printf("no complete reply within %u s", c->timeout_s);
        return request_failed(c, error, ITSMIG_ERROR_PEER_TIMEOUT, reason,
                              "itsmigd at %s sent no complete reply within %u s", where,
                              c->timeout_s);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        /* For a unix socket curl's own text names "localhost port 80";
         * the system's errno says what happened. */
        if (curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno)
            reason = g_strdup(g_strerror((int)os_errno));
        else
            reason = g_strdup(detail);
        return request_failed(c, error, ITSMIG_ERROR_PEER_UNREACHABLE, reason,
                              "cannot reach itsmigd at %s: %s", where, reason);
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (rc == CURLE_FILESIZE_EXCEEDED || r->too_large) {
            reason = g_strdup_printf("a reply larger than %d MiB",
                                     ITSMIG_REST_REPLY_MAX / (1024 * 1024));
            return request_failed(c, error, ITSMIG_ERROR_PEER_ERROR, reason,
                                  "itsmigd at %s sent %s", where, reason);
        }
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
        reason = g_strdup_printf("TLS failed: %s", detail);
        return request_failed(c, error, ITSMIG_ERROR_PEER_ERROR, reason,
                              "TLS with itsmigd at %s failed: %s", where, detail);
    default: break;
    }
    reason = g_strdup(detail);
    return request_failed(c, error, ITSMIG_ERROR_PEER_ERROR, reason,
                          "no complete reply from itsmigd at %s: %s", where, detail);
}

gboolean itsmig_rest_client_request(ItsmigRestClient *c, const char *method, const char *path,
                                    const char *content_type, const char *body, gsize body_len,
                                    ItsmigRestReply **ret_reply, GError **error)
{
    g_autofree char *url = NULL;
    g_autofree char *auth = NULL;
    g_autoptr(GByteArray) received = g_byte_array_new();
    g_autoptr(ItsmigRestReply) reply = NULL;
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    Receiver r = {received, FALSE};
    SetoptState setopt = {CURLE_OK, NULL};
    const char *ctype = NULL;
    long status = 0;
    CURLcode rc;
    CURL *curl;

    g_return_val_if_fail(path && path[0] == '/', FALSE);
    g_clear_pointer(&c->failure_reason, g_free);

    if (c->socket_path && strlen(c->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return request_failed(c, error, ITSMIG_ERROR_PEER_UNREACHABLE,
                              "the socket path is too long",
                              "cannot reach itsmigd at %s: the path is longer than a unix "
                              "socket path may be",
                              c->socket_path);

    curl = curl_easy_init();
    if (!curl)
        return request_failed(c, error, ITSMIG_ERROR_INTERNAL, "libcurl could not start",
                              "cannot send a request to itsmigd at %s: libcurl could not "
                              "start",
                              itsmig_rest_client_get_endpoint(c));

    url = g_strconcat(c->socket_path ? "http://localhost" : c->base_url, path, NULL);
    SETOPT(curl, CURLOPT_URL, url);
    SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
    SETOPT(curl, CURLOPT_NOPROXY, "*");
    SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(curl, CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_s * 1000);
    SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)MIN(c->timeout_s, CONNECT_TIMEOUT_MAX_S) * 1000);
    SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ITSMIG_REST_REPLY_MAX);
    SETOPT(curl, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(curl, CURLOPT_WRITEDATA, &r);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(curl, CURLOPT_PROTOCOLS_STR, c->socket_path ? "http" : "https");
#else
    SETOPT(curl, CURLOPT_PROTOCOLS, c->socket_path ? CURLPROTO_HTTP : CURLPROTO_HTTPS);
#endif
    if (c->socket_path) {
        SETOPT(curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
    } else {
        SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 2L);
        if (c->cacert)
            SETOPT(curl, CURLOPT_CAINFO, c->cacert);
        auth = g_strdup_printf("Authorization: Bearer %s", c->token);
        headers = curl_slist_append(headers, auth);
    }

    headers = curl_slist_append(headers, "Accept: application/json");
    /* Large hook bodies would otherwise wait for "100 Continue" first. */
    headers = curl_slist_append(headers, "Expect:");
    if (body) {
        g_autofree char *ct = g_strdup_printf("Content-Type: %s", content_type);

        headers = curl_slist_append(headers, ct);
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
    if (setopt.rc != CURLE_OK || !headers) {
        /* Only a libcurl built without unix sockets or TLS, or out of memory. */
        g_autofree char *reason = g_strdup_printf(
            "libcurl refused %s: %s", setopt.rc != CURLE_OK ? setopt.option : "a header",
            curl_easy_strerror(setopt.rc != CURLE_OK ? setopt.rc : CURLE_OUT_OF_MEMORY));

        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        return request_failed(c, error, ITSMIG_ERROR_INTERNAL, reason,
                              "cannot send a request to itsmigd at %s: %s",
                              itsmig_rest_client_get_endpoint(c), reason);
    }

    rc = curl_easy_perform(curl);
    if (auth)
        explicit_bzero(auth, strlen(auth));
    if (rc != CURLE_OK) {
        gboolean ok = curl_failed(c, curl, rc, &r, errbuf, error);

        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        return ok;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);

    reply = g_new0(ItsmigRestReply, 1);
    reply->status = status;
    reply->content_type = g_strdup(ctype);
    reply->body_len = received->len;
    g_byte_array_append(received, (const guint8 *)"", 1);
    reply->body = (char *)g_byte_array_free(g_steal_pointer(&received), FALSE);

    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    *ret_reply = g_steal_pointer(&reply);
    return TRUE;
}

static gboolean error_code_from_string(const char *text, ItsmigErrorCode *ret_code)
{
    for (int code = 0; code < ITSMIG_ERROR_LAST; code++) {
        if (strcmp(itsmig_error_code_to_string(code), text) == 0) {
            *ret_code = code;
            return TRUE;
        }
    }
    return FALSE;
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
        error_code_from_string(json_node_get_string(code), &ec);
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
    char *nl;

    if (!g_file_get_contents(path, &contents, &len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "cannot read the token file: %s", local->message);
        return NULL;
    }
    if (len > ITSMIG_REST_TOKEN_FILE_MAX) {
        explicit_bzero(contents, len);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "token file %s is larger than %d bytes; it should hold one token", path,
                    ITSMIG_REST_TOKEN_FILE_MAX);
        return NULL;
    }
    nl = strpbrk(contents, "\r\n");
    token = g_strstrip(g_strndup(contents, nl ? (gsize)(nl - contents) : strlen(contents)));
    explicit_bzero(contents, len);
    if (!token_is_valid(token)) {
        explicit_bzero(token, strlen(token));
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "token file %s: the first line must be the token, printable ASCII "
                    "without spaces",
                    path);
        return NULL;
    }
    return g_steal_pointer(&token);
}
