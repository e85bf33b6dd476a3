/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "daemon/http-router.h"

/* Longer than any libvirt domain name (libvirt itself does not cap them, but
 * nothing real comes close). */
#define NAME_MAX_BYTES 255

void itsmigd_route_match_clear(ItsmigdRouteMatch *match)
{
    for (guint i = 0; i < match->n_params; i++)
        g_clear_pointer(&match->params[i], g_free);
    match->n_params = 0;
    match->route = NULL;
}

char *itsmigd_http_unescape(const char *text, gssize len, gboolean plus_is_space, GError **error)
{
    g_autoptr(GString) out = NULL;
    gsize n = len < 0 ? strlen(text) : (gsize)len;

    out = g_string_sized_new(n);
    for (gsize i = 0; i < n; i++) {
        char c = text[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= n || (hi = g_ascii_xdigit_value(text[i + 1])) < 0 ||
                (lo = g_ascii_xdigit_value(text[i + 2])) < 0) {
                g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                            "bad percent-escape at byte %" G_GSIZE_FORMAT, i);
                return NULL;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
            if (c == '\0') {
                g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                            "encoded NUL byte at byte %" G_GSIZE_FORMAT, i - 2);
                return NULL;
            }
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        g_string_append_c(out, c);
    }
    if (!g_utf8_validate(out->str, out->len, NULL)) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                            "not valid UTF-8 once decoded");
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static gboolean check_name(const char *name, GError **error)
{
    if (!name[0]) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "empty name");
        return FALSE;
    }
    if (strlen(name) > NAME_MAX_BYTES) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "name longer than %d bytes",
                    NAME_MAX_BYTES);
        return FALSE;
    }
    if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/')) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                            "a name may not contain '/' nor be '.' or '..'");
        return FALSE;
    }
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                                "a name may not contain control characters");
            return FALSE;
        }
    }
    return TRUE;
}

/* Compares @path with @pattern segment by segment; on a match, fills the
 * raw parameter segments (pointers into @path) and their lengths. */
static gboolean path_matches(const char *pattern, const char *path, const char **ret_params,
                             gsize *ret_lens, guint *ret_n)
{
    const char *p = pattern, *s = path;
    guint n = 0;

    while (*p && *s) {
        const char *pe = strchrnul(p + 1, '/');
        const char *se = strchrnul(s + 1, '/');

        if (*p != '/' || *s != '/')
            return FALSE;
        if (p[1] == '{') {
            if (se == s + 1 || n >= ITSMIGD_ROUTE_MAX_PARAMS)
                return FALSE;
            ret_params[n] = s + 1;
            ret_lens[n] = se - s - 1;
            n++;
        } else if (pe - p != se - s || memcmp(p, s, pe - p) != 0) {
            return FALSE;
        }
        p = pe;
        s = se;
    }
    *ret_n = n;
    return !*p && !*s;
}

gboolean itsmigd_router_match(const ItsmigdRoute *routes, gsize n_routes, const char *method,
                              const char *path, ItsmigdRouteMatch *ret_match, char **ret_allow,
                              GError **error)
{
    g_autoptr(GString) allow = NULL;
    const char *lookup = !strcmp(method, "HEAD") ? "GET" : method;

    for (gsize r = 0; r < n_routes; r++) {
        const char *raw[ITSMIGD_ROUTE_MAX_PARAMS];
        gsize lens[ITSMIGD_ROUTE_MAX_PARAMS];
        guint n = 0;

        if (!path_matches(routes[r].pattern, path, raw, lens, &n))
            continue;
        if (strcmp(routes[r].method, lookup) != 0) {
            if (!allow)
                allow = g_string_new(NULL);
            if (allow->len)
                g_string_append(allow, ", ");
            g_string_append(allow, routes[r].method);
            if (!strcmp(routes[r].method, "GET"))
                g_string_append(allow, ", HEAD");
            continue;
        }
        ret_match->route = &routes[r];
        ret_match->n_params = 0;
        for (guint i = 0; i < n; i++) {
            g_autoptr(GError) local = NULL;
            char *value = itsmigd_http_unescape(raw[i], lens[i], FALSE, &local);

            if (!value || !check_name(value, &local)) {
                g_free(value);
                itsmigd_route_match_clear(ret_match);
                g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                            "invalid name in the path: %s", local->message);
                return FALSE;
            }
            ret_match->params[ret_match->n_params++] = value;
        }
        return TRUE;
    }
    if (allow) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_METHOD_NOT_ALLOWED,
                    "%s is not allowed here; allowed: %s", method, allow->str);
        if (ret_allow)
            *ret_allow = g_string_free(g_steal_pointer(&allow), FALSE);
        return FALSE;
    }
    g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "no such resource");
    return FALSE;
}

GHashTable *itsmigd_http_parse_query(const char *query, GError **error)
{
    g_autoptr(GHashTable) table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    const char *p = query;

    while (p && *p) {
        const char *end = strchrnul(p, '&');
        const char *eq = memchr(p, '=', end - p);
        g_autofree char *key = NULL;
        g_autofree char *value = NULL;

        if (end == p) {
            p = end + 1;
            continue;
        }
        key = itsmigd_http_unescape(p, (eq ? eq : end) - p, TRUE, error);
        if (!key)
            return NULL;
        value = eq ? itsmigd_http_unescape(eq + 1, end - eq - 1, TRUE, error) : g_strdup("");
        if (!value)
            return NULL;
        if (!key[0]) {
            g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                                "empty query parameter name");
            return NULL;
        }
        if (g_hash_table_contains(table, key)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "query parameter '%s' given twice", key);
            return NULL;
        }
        g_hash_table_insert(table, g_steal_pointer(&key), g_steal_pointer(&value));
        p = *end ? end + 1 : end;
    }
    return g_steal_pointer(&table);
}

JsonNode *itsmigd_http_parse_json_body(const char *body, gsize len, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) local = NULL;
    JsonNode *root;

    if (len == 0) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON,
                            "the body is empty; a JSON object is expected");
        return NULL;
    }
    /* Before json-glib, which recurses without a limit on a connection
     * thread's small stack. */
    if (!itsmig_json_check(body, len, ITSMIG_JSON_DEPTH_MAX, "the body", error))
        return NULL;
    if (!json_parser_load_from_data(parser, body, (gssize)len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "the body is not JSON: %s",
                    local ? local->message : "unreadable");
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON,
                            "the body must be a JSON object");
        return NULL;
    }
    return json_node_ref(root);
}

gboolean itsmigd_http_check_members(JsonObject *o, const char *const *known, const char *where,
                                    GError **error)
{
    const char *unknown = itsmig_json_unknown_member(o, known, NULL);

    if (unknown) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "unknown member \"%s\" in %s", unknown, where);
        return FALSE;
    }
    return TRUE;
}
