/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What itsmigd makes of a request before a handler runs, without a live
 * server: the real route table (daemon/http-routes.c) matched against the
 * method and path, the query string split and decoded, percent-decoding
 * alone, and the JSON body parsed and its members checked.
 *
 * Input: "METHOD URI\n" then the body.
 */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "daemon/http-routes.h"
#include "tests/fuzz/fuzz.h"

/* The route table names the handlers; a match never runs them here. */
#define HANDLER(name)                                                                              \
    gboolean name(ItsmigdHttpRequest *req, GError **error)                                         \
    {                                                                                              \
        abort();                                                                                   \
    }
HANDLER(itsmigd_http_health)
HANDLER(itsmigd_http_host)
HANDLER(itsmigd_http_domains_list)
HANDLER(itsmigd_http_domains_get)
HANDLER(itsmigd_http_domains_preflight)
HANDLER(itsmigd_http_compat_matrix)
HANDLER(itsmigd_http_hook_migrate_begin)
HANDLER(itsmigd_http_hook_refused)
HANDLER(itsmigd_http_migrations_start)
HANDLER(itsmigd_http_migrations_list)
HANDLER(itsmigd_http_migrations_get)
HANDLER(itsmigd_http_migrations_abort)
HANDLER(itsmigd_http_incoming_get)
HANDLER(itsmigd_http_incoming_resume)
HANDLER(itsmigd_http_incoming_destroy)
HANDLER(itsmigd_http_incoming_attach)
HANDLER(itsmigd_http_events)
HANDLER(itsmigd_http_metrics)
HANDLER(itsmigd_http_log_get)
HANDLER(itsmigd_http_log_put)

static const char *const known_members[] = {"destination", "mode", "options", "job", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    const char *sp;
    g_autofree char *method = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *path = NULL;
    g_autofree char *allow = NULL;
    g_autoptr(GError) error = NULL;
    ItsmigdRouteMatch match = {0};
    const char *body;
    gsize body_len;
    char *q;

    fuzz_glib_fatal();
    if (!nl)
        return 0;
    sp = memchr(text, ' ', (size_t)(nl - text));
    if (!sp)
        return 0;
    /* libmicrohttpd hands over NUL-terminated strings: cut at a NUL as it would. */
    method = g_strndup(text, (gsize)(sp - text));
    uri = g_strndup(sp + 1, (gsize)(nl - sp - 1));
    body = nl + 1;
    body_len = size - (gsize)(body - text);

    q = strchr(uri, '?');
    path = q ? g_strndup(uri, (gsize)(q - uri)) : g_strdup(uri);
    if (itsmigd_router_match(itsmigd_routes, itsmigd_n_routes, method, path, &match, &allow,
                             &error)) {
        const ItsmigdRoute *route = match.route;

        FUZZ_ASSERT(route != NULL && match.n_params <= ITSMIGD_ROUTE_MAX_PARAMS);
        for (guint i = 0; i < match.n_params; i++)
            FUZZ_ASSERT(match.params[i] && g_utf8_validate(match.params[i], -1, NULL));
        if (q && q[1]) {
            g_autoptr(GHashTable) query = itsmigd_http_parse_query(q + 1, NULL);

            if (query) {
                GHashTableIter it;
                gpointer k, v;

                g_hash_table_iter_init(&it, query);
                while (g_hash_table_iter_next(&it, &k, &v))
                    FUZZ_ASSERT(g_utf8_validate(k, -1, NULL) && g_utf8_validate(v, -1, NULL));
            }
        }
        if (route->flags & ITSMIGD_ROUTE_JSON_BODY) {
            g_autoptr(GError) local = NULL;
            g_autoptr(JsonNode) json = itsmigd_http_parse_json_body(body, body_len, &local);

            FUZZ_ASSERT(json ? JSON_NODE_HOLDS_OBJECT(json) : local != NULL);
            if (json)
                (void)itsmigd_http_check_members(json_node_get_object(json), known_members,
                                                 "the request body", NULL);
        }
        itsmigd_route_match_clear(&match);
    } else {
        FUZZ_ASSERT(error && error->domain == ITSMIG_ERROR);
        if (error->code == ITSMIG_ERROR_METHOD_NOT_ALLOWED)
            FUZZ_ASSERT(allow && *allow);
    }
    {
        g_autofree char *plain = itsmigd_http_unescape(uri, -1, FALSE, NULL);
        g_autofree char *form = itsmigd_http_unescape(uri, -1, TRUE, NULL);

        FUZZ_ASSERT(!plain || g_utf8_validate(plain, -1, NULL));
        FUZZ_ASSERT(!form || g_utf8_validate(form, -1, NULL));
    }
    return 0;
}
