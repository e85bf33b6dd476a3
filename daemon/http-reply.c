/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "itsmig/error.h"
#include "itsmig/json-strict.h"
#include "daemon/http-private.h"

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

void itsmigd_http_reply_bytes(ItsmigdHttpRequest *req, unsigned int status,
                              const char *content_type, GBytes *body)
{
    reply_bytes_with(req, status, content_type, body, NULL, NULL);
}

void itsmigd_http_reply_json(ItsmigdHttpRequest *req, unsigned int status, JsonNode *node)
{
    g_autoptr(GBytes) body = itsmig_json_to_bytes(node);

    reply_bytes_with(req, status, ITSMIGD_HTTP_JSON_TYPE, body, NULL, NULL);
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
    guint dropped = 0;
    gboolean may;

    g_mutex_lock(&server_error_lock);
    if (now - server_error_window >= SERVER_ERROR_WINDOW_US) {
        dropped = server_error_dropped;
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
    /* Logged after the lock, which every error reply takes. */
    if (dropped)
        g_warning("http: %u more server error replies in the last %d s were not logged", dropped,
                  (int)(SERVER_ERROR_WINDOW_US / G_USEC_PER_SEC));
    return may;
}

void itsmigd_http_reply_error_with(ItsmigdHttpRequest *req, int code, const char *message,
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
    body = itsmig_json_to_bytes(root);
    if (status >= 500 && server_error_may_log())
        g_warning("http: %s %s: %u %s", req->method, req->uri, status, message);
    else
        g_debug("http: %s %s: %u %s", req->method, req->uri, status, message);
    reply_bytes_with(req, status, ITSMIGD_HTTP_JSON_TYPE, body, header, header_value);
}

void itsmigd_http_reply_error_literal(ItsmigdHttpRequest *req, int code, const char *message)
{
    itsmigd_http_reply_error_with(req, code, message, NULL, NULL);
}

void itsmigd_http_reply_error(ItsmigdHttpRequest *req, const GError *error)
{
    itsmigd_http_reply_error_with(req, itsmig_error_get_code(error), error->message, NULL, NULL);
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
