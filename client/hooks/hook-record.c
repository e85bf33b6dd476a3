/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <json-glib/json-glib.h>

#include "client/hooks/hook-record.h"
#include "itsmig/error.h"
#include "itsmig/json-strict.h"

void itsmig_hook_record_free(HookRecord *r)
{
    if (!r)
        return;
    g_free(r->uuid);
    g_free(r->name);
    g_free(r);
}

/* A string member, NULL when missing or of another type. */
static const char *string_member(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    return n && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : NULL;
}

static gboolean member_time(JsonObject *o, const char *name, gint64 *ret)
{
    JsonNode *n = json_object_get_member(o, name);

    if (n && JSON_NODE_HOLDS_NULL(n)) {
        *ret = 0;
        return TRUE;
    }
    if (!n || json_node_get_value_type(n) != G_TYPE_INT64 || json_node_get_int(n) <= 0)
        return FALSE;
    *ret = json_node_get_int(n);
    return TRUE;
}

HookRecord *itsmig_hook_record_parse(const char *text, gsize len, const char *path,
                                     const char *uuid, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(HookRecord) r = g_new0(HookRecord, 1);
    g_autoptr(GError) local = NULL;
    JsonNode *root;
    JsonObject *o;
    JsonNode *n;

    if (!itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, path, error))
        return NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "%s: %s", path, local->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    n = o ? json_object_get_member(o, "incoming") : NULL;
    if (!o || !n || json_node_get_value_type(n) != G_TYPE_BOOLEAN ||
        g_strcmp0(string_member(o, "uuid"), uuid) != 0 ||
        !member_time(o, "migrate_begin_at", &r->migrate_begin_at) ||
        !member_time(o, "started_at", &r->started_at)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "%s: not a record of domain %s",
                    path, uuid);
        return NULL;
    }
    r->incoming = json_node_get_boolean(n);
    r->uuid = g_strdup(uuid);
    r->name = g_strdup(string_member(o, "name"));
    return g_steal_pointer(&r);
}
