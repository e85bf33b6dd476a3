/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "itsmig/error.h"
#include "itsmig/json-member.h"

char *itsmig_json_path(const ItsmigJsonAt *at, const char *name)
{
    return at->path ? g_strdup_printf("%s.%s", at->path, name) : g_strdup(name);
}

gboolean itsmig_json_bad_member(const ItsmigJsonAt *at, const char *name, const char *want,
                                GError **error)
{
    g_autofree char *path = itsmig_json_path(at, name);

    g_set_error(error, ITSMIG_ERROR, at->code, "%s%s\"%s\" is missing or not %s",
                at->prefix ? at->prefix : "", at->prefix ? ": " : "", path, want);
    return FALSE;
}

/* The member's value of type @type, or NULL. */
static JsonNode *value_of(JsonObject *o, const char *name, GType type)
{
    JsonNode *n = json_object_get_member(o, name);

    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type ? n : NULL;
}

static gboolean is_null(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    return n && JSON_NODE_HOLDS_NULL(n);
}

const char *itsmig_json_unknown_member(JsonObject *o, const char *const *known,
                                       const char *const *optional)
{
    g_autoptr(GList) members = json_object_get_members(o);

    for (GList *l = members; l; l = l->next)
        if (!g_strv_contains(known, l->data) && !(optional && g_strv_contains(optional, l->data)))
            return l->data; /* owned by @o */
    return NULL;
}

const char *itsmig_json_lookup_string(JsonObject *o, const char *name)
{
    JsonNode *n = o ? value_of(o, name, G_TYPE_STRING) : NULL;

    return n ? json_node_get_string(n) : NULL;
}

gboolean itsmig_json_get_string(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                gboolean nullable, const char **ret, GError **error)
{
    JsonNode *n = value_of(o, name, G_TYPE_STRING);

    if (nullable && is_null(o, name)) {
        *ret = NULL;
        return TRUE;
    }
    if (!n)
        return itsmig_json_bad_member(at, name, nullable ? "a string or null" : "a string", error);
    *ret = json_node_get_string(n);
    return TRUE;
}

gboolean itsmig_json_get_bool(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                              gboolean *ret, GError **error)
{
    JsonNode *n = value_of(o, name, G_TYPE_BOOLEAN);

    if (!n)
        return itsmig_json_bad_member(at, name, "a boolean", error);
    *ret = json_node_get_boolean(n);
    return TRUE;
}

static gboolean bad_int(const ItsmigJsonAt *at, const char *name, gint64 min, gint64 max,
                        gboolean nullable, GError **error)
{
    g_autofree char *want = NULL;

    if (min == G_MININT64 && max == G_MAXINT64)
        want = g_strdup("an integer");
    else if (min == 0 && max == G_MAXINT64)
        want = g_strdup("a whole number");
    else
        want =
            g_strdup_printf("an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, min, max);
    if (nullable) {
        g_autofree char *plain = g_steal_pointer(&want);

        want = g_strconcat(plain, " or null", NULL);
    }
    return itsmig_json_bad_member(at, name, want, error);
}

gboolean itsmig_json_get_int(const ItsmigJsonAt *at, JsonObject *o, const char *name, gint64 min,
                             gint64 max, gint64 *ret, GError **error)
{
    JsonNode *n = value_of(o, name, G_TYPE_INT64);

    if (!n || json_node_get_int(n) < min || json_node_get_int(n) > max)
        return bad_int(at, name, min, max, FALSE, error);
    *ret = json_node_get_int(n);
    return TRUE;
}

gboolean itsmig_json_get_int_or_null(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                     gint64 min, gint64 max, gboolean *ret_has, gint64 *ret,
                                     GError **error)
{
    JsonNode *n = value_of(o, name, G_TYPE_INT64);

    if (is_null(o, name)) {
        *ret_has = FALSE;
        return TRUE;
    }
    if (!n || json_node_get_int(n) < min || json_node_get_int(n) > max)
        return bad_int(at, name, min, max, TRUE, error);
    *ret_has = TRUE;
    *ret = json_node_get_int(n);
    return TRUE;
}

gboolean itsmig_json_get_number_or_null(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                        gboolean *ret_has, double *ret, GError **error)
{
    JsonNode *i = value_of(o, name, G_TYPE_INT64);
    JsonNode *d = value_of(o, name, G_TYPE_DOUBLE);

    if (is_null(o, name)) {
        *ret_has = FALSE;
        return TRUE;
    }
    if (!i && !d)
        return itsmig_json_bad_member(at, name, "a number or null", error);
    *ret_has = TRUE;
    *ret = i ? (double)json_node_get_int(i) : json_node_get_double(d);
    return TRUE;
}

gboolean itsmig_json_get_enum(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                              int (*parse)(const char *), gboolean nullable, int *ret,
                              GError **error)
{
    const char *s;
    int v;

    if (!itsmig_json_get_string(at, o, name, nullable, &s, error))
        return FALSE;
    if (!s) {
        *ret = -1;
        return TRUE;
    }
    v = parse(s);
    if (v < 0) {
        g_autofree char *path = itsmig_json_path(at, name);

        /* The value stays out: it may be anything, and messages reach terminals. */
        g_set_error(error, ITSMIG_ERROR, at->code, "%s%s\"%s\" has an unknown value",
                    at->prefix ? at->prefix : "", at->prefix ? ": " : "", path);
        return FALSE;
    }
    *ret = v;
    return TRUE;
}

gboolean itsmig_json_get_object(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                gboolean nullable, JsonObject **ret, GError **error)
{
    JsonNode *n = json_object_get_member(o, name);

    if (n && nullable && JSON_NODE_HOLDS_NULL(n)) {
        *ret = NULL;
        return TRUE;
    }
    if (!n || !JSON_NODE_HOLDS_OBJECT(n))
        return itsmig_json_bad_member(at, name, nullable ? "an object or null" : "an object",
                                      error);
    *ret = json_node_get_object(n);
    return TRUE;
}

gboolean itsmig_json_get_array(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                               gboolean nullable, JsonArray **ret, GError **error)
{
    JsonNode *n = json_object_get_member(o, name);

    if (n && nullable && JSON_NODE_HOLDS_NULL(n)) {
        *ret = NULL;
        return TRUE;
    }
    if (!n || !JSON_NODE_HOLDS_ARRAY(n))
        return itsmig_json_bad_member(at, name, nullable ? "an array or null" : "an array", error);
    *ret = json_node_get_array(n);
    return TRUE;
}

gboolean itsmig_json_get_string_array(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                      gboolean nullable, JsonArray **ret, GError **error)
{
    const char *want = nullable ? "an array of strings or null" : "an array of strings";
    JsonNode *n = json_object_get_member(o, name);
    JsonArray *a;

    if (n && nullable && JSON_NODE_HOLDS_NULL(n)) {
        *ret = NULL;
        return TRUE;
    }
    if (!n || !JSON_NODE_HOLDS_ARRAY(n))
        return itsmig_json_bad_member(at, name, want, error);
    a = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);

        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
            return itsmig_json_bad_member(at, name, want, error);
    }
    *ret = a;
    return TRUE;
}

gboolean itsmig_json_get_element_object(const ItsmigJsonAt *at, const char *name, JsonArray *a,
                                        guint i, JsonObject **ret, GError **error)
{
    JsonNode *n = json_array_get_element(a, i);

    if (!JSON_NODE_HOLDS_OBJECT(n)) {
        g_autofree char *path = itsmig_json_path(at, name);

        g_set_error(error, ITSMIG_ERROR, at->code, "%s%s\"%s[%u]\" is not an object",
                    at->prefix ? at->prefix : "", at->prefix ? ": " : "", path, i);
        return FALSE;
    }
    *ret = json_node_get_object(n);
    return TRUE;
}

void itsmig_json_add_int(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

void itsmig_json_add_bool(JsonBuilder *b, const char *name, gboolean value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, value);
}

void itsmig_json_add_strv(JsonBuilder *b, const char *name, const char *const *strv)
{
    json_builder_set_member_name(b, name);
    if (!strv) {
        json_builder_add_null_value(b);
        return;
    }
    json_builder_begin_array(b);
    for (const char *const *s = strv; *s; s++)
        json_builder_add_string_value(b, *s);
    json_builder_end_array(b);
}
