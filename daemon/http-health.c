/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "daemon/http-routes.h"

/* GET /v1/health: the daemon answers, and says whether libvirt does. */
gboolean itsmigd_http_health(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_auto(ItsmigdVirtStatus) st = {0};
    gint64 now = g_get_monotonic_time();

    itsmigd_virt_get_status(d->virt, &st);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, st.connected ? "ok" : "degraded");
    json_builder_set_member_name(b, "version");
    json_builder_add_string_value(b, PACKAGE_VERSION);
    json_builder_set_member_name(b, "uptime_s");
    json_builder_add_int_value(b, (now - d->started_us) / G_USEC_PER_SEC);
    json_builder_set_member_name(b, "libvirt");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "connected");
    json_builder_add_boolean_value(b, st.connected);
    json_builder_set_member_name(b, "uri");
    json_builder_add_string_value(b, st.uri);
    json_builder_set_member_name(b, "reconnects");
    json_builder_add_int_value(b, (gint64)st.reconnects);
    json_builder_set_member_name(b, "next_retry_s");
    if (st.next_retry_us)
        json_builder_add_double_value(b, MAX(0, st.next_retry_us - now) / 1e6);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "backoff_s");
    if (st.backoff_s)
        json_builder_add_int_value(b, st.backoff_s);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "last_error");
    if (st.last_error)
        json_builder_add_string_value(b, st.last_error);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
    json_builder_end_object(b);
    itsmigd_http_reply_builder(req, 200, b);
    return TRUE;
}
