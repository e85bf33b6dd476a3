/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/*
 * The route table's matching, apart from libmicrohttpd so that it can be
 * tested alone.  Paths are matched undecoded, segment by segment, so that an
 * encoded "/" in a name is a bad name rather than another path; "{param}"
 * segments are then percent-decoded and must be a valid name.
 */

#define ITSMIGD_ROUTE_MAX_PARAMS 4

typedef struct ItsmigdHttpRequest ItsmigdHttpRequest;
/* Writes its reply, or fails with @error, which the server's one dispatcher
 * then writes as the error reply. */
typedef gboolean (*ItsmigdRouteHandler)(ItsmigdHttpRequest *req, GError **error);

typedef enum {
    ITSMIGD_ROUTE_NEEDS_LIBVIRT = 1 << 0, /* 503 while disconnected */
    ITSMIGD_ROUTE_JSON_BODY = 1 << 1,     /* takes a JSON body (415, 413, 400) */
    ITSMIGD_ROUTE_PEER = 1 << 2,          /* also served to peers over TCP; others 403 there */
    ITSMIGD_ROUTE_STREAM = 1 << 3,        /* long-lived: not in the latency histogram */
    ITSMIGD_ROUTE_XML_BODY = 1 << 4,      /* takes a domain XML body, up to max_domain_xml */
    ITSMIGD_ROUTE_METRICS = 1 << 5,       /* also served on the [metrics] listener */
} ItsmigdRouteFlags;

typedef struct {
    const char *method;  /* "GET" also answers HEAD */
    const char *pattern; /* "/v1/domains/{name}" */
    ItsmigdRouteHandler handler;
    ItsmigdRouteFlags flags;
} ItsmigdRoute;

typedef struct {
    const ItsmigdRoute *route;
    char *params[ITSMIGD_ROUTE_MAX_PARAMS]; /* decoded, in pattern order */
    guint n_params;
} ItsmigdRouteMatch;

void itsmigd_route_match_clear(ItsmigdRouteMatch *match);

/* Finds the route for @method and @path (no query string).  Errors:
 * ITSMIG_ERROR_NOT_FOUND, ITSMIG_ERROR_METHOD_NOT_ALLOWED (with *@ret_allow
 * the methods the path takes, "GET, HEAD"), ITSMIG_ERROR_INVALID_ARGUMENT for
 * a parameter that is not a valid name. */
gboolean itsmigd_router_match(const ItsmigdRoute *routes, gsize n_routes, const char *method,
                              const char *path, ItsmigdRouteMatch *ret_match, char **ret_allow,
                              GError **error);

/* Decodes %XX escapes (and '+' as space when @plus_is_space); NULL with an
 * error for a bad escape, an embedded NUL or invalid UTF-8. */
char *itsmigd_http_unescape(const char *text, gssize len, gboolean plus_is_space, GError **error);

/* Splits "a=1&b=2" into a table of decoded strings.  A repeated or empty key
 * is an error. */
GHashTable *itsmigd_http_parse_query(const char *query, GError **error);

/* The JSON body of a ITSMIGD_ROUTE_JSON_BODY route: an object, or NULL with
 * ITSMIG_ERROR_INVALID_JSON (empty, not JSON, not an object) or the error of
 * itsmig_json_check() (nested too deep, too large). */
JsonNode *itsmigd_http_parse_json_body(const char *body, gsize len, GError **error);

/* Refuses (ITSMIG_ERROR_INVALID_ARGUMENT) members of @o other than @known,
 * so that a misspelt option is not silently ignored; @where names @o in the
 * message ("the request body"). */
gboolean itsmigd_http_check_members(JsonObject *o, const char *const *known, const char *where,
                                    GError **error);
