/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "daemon/http-routes.h"
#include "daemon/log.h"

static void reply_level(ItsmigdHttpRequest *req)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "level");
    json_builder_add_string_value(b, itsmigd_config_log_level_to_string(itsmigd_log_get_level()));
    json_builder_end_object(b);
    itsmigd_http_reply_builder(req, 200, b);
}

/* GET /v1/log */
gboolean itsmigd_http_log_get(ItsmigdHttpRequest *req, GError **error)
{
    reply_level(req);
    return TRUE;
}

/* PUT /v1/log {"level": "debug"}: the log level until the next reload. */
gboolean itsmigd_http_log_put(ItsmigdHttpRequest *req, GError **error)
{
    JsonObject *body = json_node_get_object(itsmigd_http_request_json(req));
    const char *level = itsmig_json_lookup_string(body, "level");
    GLogLevelFlags value;

    if (json_object_get_size(body) != 1 || !level) {
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                                 "the body must be {\"level\": \"error|warning|message|"
                                 "info|debug\"}");
    }
    if (!itsmigd_config_parse_log_level(level, &value, error))
        return FALSE;
    itsmigd_log_set_level(value);
    g_message("log level set to %s through the API", level);
    reply_level(req);
    return TRUE;
}
