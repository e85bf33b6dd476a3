/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "daemon/http-routes.h"

/* Comments keep proxies and clients from timing an idle stream out. */
#define KEEPALIVE_MAX_US (15 * G_USEC_PER_SEC)

typedef struct {
    ItsmigdEventBus *bus;
    guint64 after;
    GString *pending;
    gsize sent; /* bytes of pending already handed out */
    gint64 keepalive_us;
} EventStream;

static void event_stream_free(gpointer data)
{
    EventStream *s = data;

    itsmigd_event_bus_stream_close(s->bus);
    g_string_free(s->pending, TRUE);
    g_free(s);
}

static gssize event_stream_read(gpointer data, char *buf, gsize max)
{
    EventStream *s = data;
    gsize n;

    if (s->sent == s->pending->len) {
        g_string_truncate(s->pending, 0);
        s->sent = 0;
        switch (
            itsmigd_event_bus_read(s->bus, s->after, s->pending, max, s->keepalive_us, &s->after)) {
        case ITSMIGD_EVENT_BUS_DATA: break;
        case ITSMIGD_EVENT_BUS_TIMEOUT: g_string_append(s->pending, ": keepalive\n\n"); break;
        case ITSMIGD_EVENT_BUS_CLOSED: return ITSMIGD_HTTP_STREAM_END;
        }
    }
    n = MIN(max, s->pending->len - s->sent);
    memcpy(buf, s->pending->str + s->sent, n);
    s->sent += n;
    return (gssize)n;
}

/* GET /v1/events: Server-Sent Events.  Last-Event-ID (header, or the
 * last_event_id query parameter for clients that cannot set headers)
 * resumes after that event. */
gboolean itsmigd_http_events(ItsmigdHttpRequest *req, GError **error)
{
    static const char *const known[] = {"last_event_id", NULL};
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    const ItsmigdHttpLimits *limits = itsmigd_http_request_limits(req);
    const char *last = itsmigd_http_request_header(req, "Last-Event-ID");
    EventStream *s;
    guint64 after;

    if (!itsmigd_http_request_check_query(req, known, error))
        return FALSE;
    if (!last)
        last = itsmigd_http_request_query(req, "last_event_id");
    if (last) {
        if (!g_ascii_string_to_unsigned(last, 10, 0, G_MAXUINT64, &after, NULL)) {
            g_autofree char *msg = g_strdup_printf("Last-Event-ID '%s' is not an event id", last);
            return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT, msg);
        }
    } else {
        /* A new subscriber gets what happens from now on. */
        after = itsmigd_event_bus_last_id(d->bus);
    }
    if (!itsmigd_event_bus_stream_open(d->bus, limits->max_event_streams)) {
        g_autofree char *msg =
            g_strdup_printf("already %u event streams open", limits->max_event_streams);
        return itsmigd_http_fail(error, ITSMIG_ERROR_TOO_MANY_STREAMS, msg);
    }
    s = g_new0(EventStream, 1);
    s->bus = d->bus;
    s->after = after;
    s->pending = g_string_new("retry: 2000\n: itsmigd events\n\n");
    /* Half the idle timeout, so that a quiet stream is never closed as idle. */
    s->keepalive_us =
        MIN(KEEPALIVE_MAX_US, (gint64)limits->connection_timeout * G_USEC_PER_SEC / 2);
    itsmigd_http_reply_stream(req, "text/event-stream", event_stream_read, s, event_stream_free);
    return TRUE;
}
