/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "daemon/peer-reply.h"

static const char *kind_of(JsonNode *n)
{
    if (!n || JSON_NODE_HOLDS_NULL(n))
        return "null";
    if (JSON_NODE_HOLDS_ARRAY(n))
        return "an array";
    return "a single value";
}

JsonNode *itsmigd_peer_reply_parse(const char *body, gsize len, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) local = NULL;
    JsonNode *root;

    if (!itsmig_json_check(body, len, ITSMIG_JSON_DEPTH_MAX, "reply", &local) ||
        !json_parser_load_from_data(parser, body, len, &local)) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR, local->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR, "the reply is %s", kind_of(root));
        return NULL;
    }
    return json_node_ref(root);
}

/* The reply's "error" object, NULL when there is none. */
static JsonObject *error_object(JsonNode *root)
{
    JsonNode *err = root ? json_object_get_member(json_node_get_object(root), "error") : NULL;

    return err && JSON_NODE_HOLDS_OBJECT(err) ? json_node_get_object(err) : NULL;
}

char *itsmigd_peer_reply_error_text(const char *body, gsize len)
{
    g_autoptr(JsonNode) root = itsmigd_peer_reply_parse(body, len, NULL);
    JsonObject *err = error_object(root);
    const char *code, *message;

    if (!err || !json_object_has_member(err, "message"))
        return NULL;
    /* A member of another type is shown as "?", as a missing one. */
    code = itsmig_json_lookup_string(err, "code");
    message = itsmig_json_lookup_string(err, "message");
    return g_strdup_printf("%s: %s", code ? code : "?", message ? message : "?");
}

ItsmigErrorCode itsmigd_peer_reply_error_code(const char *body, gsize len, long status)
{
    g_autoptr(JsonNode) root = NULL;
    ItsmigErrorCode code;
    const char *text;

    if (status == 503)
        return ITSMIG_ERROR_PEER_UNAVAILABLE;
    root = itsmigd_peer_reply_parse(body, len, NULL);
    text = itsmig_json_lookup_string(error_object(root), "code");
    if (text && itsmig_error_code_from_string(text, &code) &&
        code == ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT)
        return code;
    return ITSMIG_ERROR_PEER_ERROR;
}

static gboolean member_is(JsonObject *o, const char *name, GType type, gboolean nullable)
{
    JsonNode *n = json_object_get_member(o, name);

    if (!n)
        return nullable;
    if (JSON_NODE_HOLDS_NULL(n))
        return nullable;
    return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type;
}

gboolean itsmigd_peer_reply_incoming_valid(JsonNode *reply, const char **ret_why)
{
    JsonObject *o = JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;
    JsonNode *ev;

    *ret_why = NULL;
    if (!o)
        *ret_why = "not a JSON object";
    else if (!member_is(o, "present", G_TYPE_BOOLEAN, FALSE))
        *ret_why = "\"present\" is not a boolean";
    else if (!member_is(o, "state", G_TYPE_STRING, TRUE))
        *ret_why = "\"state\" is not a string or null";
    else if (!member_is(o, "name_taken", G_TYPE_BOOLEAN, TRUE))
        *ret_why = "\"name_taken\" is not a boolean or null";
    else if ((ev = json_object_get_member(o, "its_restore")) && !JSON_NODE_HOLDS_NULL(ev)) {
        JsonNode *errors = JSON_NODE_HOLDS_OBJECT(ev)
                               ? json_object_get_member(json_node_get_object(ev), "errors")
                               : NULL;

        if (!JSON_NODE_HOLDS_OBJECT(ev))
            *ret_why = "\"its_restore\" is not an object";
        else if (errors && !JSON_NODE_HOLDS_ARRAY(errors))
            *ret_why = "\"its_restore\".\"errors\" is not an array";
        else if (errors) {
            JsonArray *a = json_node_get_array(errors);

            for (guint i = 0; i < json_array_get_length(a) && !*ret_why; i++) {
                JsonNode *e = json_array_get_element(a, i);

                if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
                    *ret_why = "\"its_restore\".\"errors\" holds something other than strings";
            }
        }
    }
    return *ret_why == NULL;
}
