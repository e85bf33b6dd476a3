/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "itsmig/error.h"
#include "daemon/http-router.h"

/* ---- a route table of our own ---------------------------------------------- */

static gboolean handler_health(ItsmigdHttpRequest *req, GError **error)
{
    (void)req;
    (void)error;
    return TRUE;
}
static gboolean handler_domains(ItsmigdHttpRequest *req, GError **error)
{
    (void)req;
    (void)error;
    return TRUE;
}
static gboolean handler_domain(ItsmigdHttpRequest *req, GError **error)
{
    (void)req;
    (void)error;
    return TRUE;
}
static gboolean handler_log_get(ItsmigdHttpRequest *req, GError **error)
{
    (void)req;
    (void)error;
    return TRUE;
}
static gboolean handler_log_put(ItsmigdHttpRequest *req, GError **error)
{
    (void)req;
    (void)error;
    return TRUE;
}
static gboolean handler_pair(ItsmigdHttpRequest *req, GError **error)
{
    (void)req;
    (void)error;
    return TRUE;
}

static const ItsmigdRoute routes[] = {
    {"GET", "/v1/health", handler_health, 0},
    {"GET", "/v1/domains", handler_domains, ITSMIGD_ROUTE_NEEDS_LIBVIRT},
    {"GET", "/v1/domains/{name}", handler_domain, ITSMIGD_ROUTE_NEEDS_LIBVIRT},
    {"GET", "/v1/log", handler_log_get, 0},
    {"PUT", "/v1/log", handler_log_put, ITSMIGD_ROUTE_JSON_BODY},
    {"GET", "/v1/pairs/{a}/to/{b}", handler_pair, 0},
};

/* Matches @path with @method; asserts success and returns the match. */
static void assert_match(const char *method, const char *path, ItsmigdRouteHandler handler,
                         ItsmigdRouteMatch *ret_match)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *allow = NULL;

    if (!itsmigd_router_match(routes, G_N_ELEMENTS(routes), method, path, ret_match, &allow,
                              &error))
        g_error("%s %s did not match: %s", method, path, error->message);
    g_assert_no_error(error);
    g_assert_null(allow);
    g_assert_nonnull(ret_match->route);
    g_assert_true(ret_match->route->handler == handler);
}

/* Asserts that @method @path fails with @code; returns the Allow string (or NULL). */
static char *assert_no_match(const char *method, const char *path, ItsmigErrorCode code)
{
    g_autoptr(GError) error = NULL;
    ItsmigdRouteMatch match = {0};
    char *allow = NULL;

    if (itsmigd_router_match(routes, G_N_ELEMENTS(routes), method, path, &match, &allow, &error))
        g_error("%s %s matched %s, expected %s", method, path, match.route->pattern,
                itsmig_error_code_to_string(code));
    if (!g_error_matches(error, ITSMIG_ERROR, code))
        g_error("%s %s: expected %s, got '%s' (%s)", method, path,
                itsmig_error_code_to_string(code), error ? error->message : "no error",
                error && error->domain == ITSMIG_ERROR ? itsmig_error_code_to_string(error->code)
                                                       : "other domain");
    g_assert_cmpuint(match.n_params, ==, 0);
    return allow;
}

/* The single {name} parameter of /v1/domains/{name}. */
static char *domain_param(const char *path)
{
    ItsmigdRouteMatch match = {0};
    char *name;

    assert_match("GET", path, handler_domain, &match);
    g_assert_cmpuint(match.n_params, ==, 1);
    name = g_strdup(match.params[0]);
    itsmigd_route_match_clear(&match);
    return name;
}

static void assert_bad_name(const char *path)
{
    g_autofree char *allow = assert_no_match("GET", path, ITSMIG_ERROR_INVALID_ARGUMENT);

    g_assert_null(allow);
}

/* ---- matching ---------------------------------------------------------------- */

static void test_literal(void)
{
    ItsmigdRouteMatch match = {0};

    assert_match("GET", "/v1/health", handler_health, &match);
    g_assert_cmpuint(match.n_params, ==, 0);
    g_assert_cmpstr(match.route->pattern, ==, "/v1/health");
    itsmigd_route_match_clear(&match);

    assert_match("GET", "/v1/domains", handler_domains, &match);
    g_assert_cmpuint(match.route->flags, ==, ITSMIGD_ROUTE_NEEDS_LIBVIRT);
    itsmigd_route_match_clear(&match);

    assert_match("PUT", "/v1/log", handler_log_put, &match);
    itsmigd_route_match_clear(&match);
    g_assert_null(match.route);
}

static void test_param_plain(void)
{
    g_autofree char *name = domain_param("/v1/domains/vm1");

    g_assert_cmpstr(name, ==, "vm1");
}

static void test_param_decoded(void)
{
    g_autofree char *space = domain_param("/v1/domains/my%20vm");
    g_autofree char *plus = domain_param("/v1/domains/a+b");
    g_autofree char *pct = domain_param("/v1/domains/100%25");

    g_assert_cmpstr(space, ==, "my vm");
    /* '+' is a space only in query strings. */
    g_assert_cmpstr(plus, ==, "a+b");
    g_assert_cmpstr(pct, ==, "100%");
}

static void test_param_utf8(void)
{
    g_autofree char *encoded = domain_param("/v1/domains/vm-%C3%BC");
    g_autofree char *raw = domain_param("/v1/domains/vm-\xc3\xbc");

    g_assert_cmpstr(encoded, ==, "vm-\xc3\xbc");
    g_assert_cmpstr(raw, ==, "vm-\xc3\xbc");
}

static void test_param_several(void)
{
    ItsmigdRouteMatch match = {0};

    assert_match("GET", "/v1/pairs/x%2Dy/to/z", handler_pair, &match);
    g_assert_cmpuint(match.n_params, ==, 2);
    g_assert_cmpstr(match.params[0], ==, "x-y");
    g_assert_cmpstr(match.params[1], ==, "z");
    itsmigd_route_match_clear(&match);
    g_assert_cmpuint(match.n_params, ==, 0);
    g_assert_null(match.params[0]);
}

static void test_encoded_slash(void)
{
    assert_bad_name("/v1/domains/a%2Fb");
    assert_bad_name("/v1/domains/a%2fb");
    assert_bad_name("/v1/domains/%2F");
}

static void test_dot_segments(void)
{
    assert_bad_name("/v1/domains/.");
    assert_bad_name("/v1/domains/..");
    assert_bad_name("/v1/domains/%2E%2E");
    assert_bad_name("/v1/domains/%2e");
    assert_bad_name("/v1/domains/.%2E");
}

static void test_dots_inside_name(void)
{
    g_autofree char *three = domain_param("/v1/domains/...");
    g_autofree char *dotted = domain_param("/v1/domains/vm.example");

    g_assert_cmpstr(three, ==, "...");
    g_assert_cmpstr(dotted, ==, "vm.example");
}

static void test_control_chars(void)
{
    assert_bad_name("/v1/domains/a%0Ab");
    assert_bad_name("/v1/domains/a%0D");
    assert_bad_name("/v1/domains/%09");
    assert_bad_name("/v1/domains/a%7F");
    assert_bad_name("/v1/domains/a\x01");
    assert_bad_name("/v1/domains/a%00b");
}

static void test_invalid_utf8(void)
{
    assert_bad_name("/v1/domains/%FF");
    assert_bad_name("/v1/domains/vm%C3");
    /* An overlong encoding of '/' must not turn into one. */
    assert_bad_name("/v1/domains/%C0%AF");
    assert_bad_name("/v1/domains/%ED%A0%80"); /* a UTF-16 surrogate */
    assert_bad_name("/v1/domains/vm\xff");
}

static void test_bad_escape(void)
{
    assert_bad_name("/v1/domains/%G1");
    assert_bad_name("/v1/domains/a%1G");
    assert_bad_name("/v1/domains/a%4");
    assert_bad_name("/v1/domains/a%");
    assert_bad_name("/v1/domains/%%41");
}

static void test_name_length(void)
{
    g_autofree char *ok_name = g_strnfill(255, 'a');
    g_autofree char *long_name = g_strnfill(256, 'a');
    g_autofree char *ok_path = g_strconcat("/v1/domains/", ok_name, NULL);
    g_autofree char *long_path = g_strconcat("/v1/domains/", long_name, NULL);
    g_autofree char *got = domain_param(ok_path);
    g_autoptr(GString) multibyte = g_string_new("/v1/domains/");

    g_assert_cmpstr(got, ==, ok_name);
    assert_bad_name(long_path);

    /* The limit is in bytes once decoded: 128 "ü" are 256 bytes. */
    for (int i = 0; i < 128; i++)
        g_string_append(multibyte, "%C3%BC");
    assert_bad_name(multibyte->str);
}

static void test_empty_segment(void)
{
    g_free(assert_no_match("GET", "/v1/domains/", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1/health/", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1//health", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "//v1/health", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1/domains//", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1/domains/vm1/", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1/pairs//to/b", ITSMIG_ERROR_NOT_FOUND));
}

static void test_unknown_path(void)
{
    g_free(assert_no_match("GET", "/", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v2/health", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1/healthz", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1/healt", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "v1/health", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/V1/HEALTH", ITSMIG_ERROR_NOT_FOUND));
    g_free(assert_no_match("GET", "/v1/domains/vm1/extra", ITSMIG_ERROR_NOT_FOUND));
    /* A method nothing answers on an unknown path is still 404, not 405. */
    g_free(assert_no_match("DELETE", "/nowhere", ITSMIG_ERROR_NOT_FOUND));
}

static void test_wrong_method(void)
{
    g_autofree char *health =
        assert_no_match("POST", "/v1/health", ITSMIG_ERROR_METHOD_NOT_ALLOWED);
    g_autofree char *domain =
        assert_no_match("DELETE", "/v1/domains/vm1", ITSMIG_ERROR_METHOD_NOT_ALLOWED);
    g_autofree char *put = assert_no_match("PUT", "/v1/health", ITSMIG_ERROR_METHOD_NOT_ALLOWED);

    g_assert_cmpstr(health, ==, "GET, HEAD");
    g_assert_cmpstr(domain, ==, "GET, HEAD");
    g_assert_cmpstr(put, ==, "GET, HEAD");
}

static void test_wrong_method_two_routes(void)
{
    g_autofree char *allow = assert_no_match("POST", "/v1/log", ITSMIG_ERROR_METHOD_NOT_ALLOWED);
    g_autofree char *del = assert_no_match("DELETE", "/v1/log", ITSMIG_ERROR_METHOD_NOT_ALLOWED);

    g_assert_cmpstr(allow, ==, "GET, HEAD, PUT");
    g_assert_cmpstr(del, ==, "GET, HEAD, PUT");
}

static void test_wrong_method_no_allow_out(void)
{
    g_autoptr(GError) error = NULL;
    ItsmigdRouteMatch match = {0};

    /* The Allow string is optional to the caller. */
    g_assert_false(itsmigd_router_match(routes, G_N_ELEMENTS(routes), "POST", "/v1/health", &match,
                                        NULL, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_METHOD_NOT_ALLOWED);
}

static void test_method_case_sensitive(void)
{
    g_autofree char *allow = assert_no_match("get", "/v1/health", ITSMIG_ERROR_METHOD_NOT_ALLOWED);

    g_assert_cmpstr(allow, ==, "GET, HEAD");
}

static void test_head(void)
{
    ItsmigdRouteMatch match = {0};

    assert_match("HEAD", "/v1/health", handler_health, &match);
    itsmigd_route_match_clear(&match);
    assert_match("HEAD", "/v1/log", handler_log_get, &match);
    itsmigd_route_match_clear(&match);
    assert_match("HEAD", "/v1/domains/vm%201", handler_domain, &match);
    g_assert_cmpuint(match.n_params, ==, 1);
    g_assert_cmpstr(match.params[0], ==, "vm 1");
    itsmigd_route_match_clear(&match);
}

/* ---- unescape ------------------------------------------------------------------ */

static void test_unescape_length(void)
{
    g_autoptr(GError) error = NULL;
    /* Only the first @len bytes count, so an escape cut by @len is bad. */
    g_autofree char *part = itsmigd_http_unescape("ab%41cd", 5, FALSE, &error);
    g_autofree char *cut = NULL;

    g_assert_no_error(error);
    g_assert_cmpstr(part, ==, "abA");
    cut = itsmigd_http_unescape("ab%41", 4, FALSE, &error);
    g_assert_null(cut);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
}

/* ---- query strings --------------------------------------------------------------- */

static GHashTable *parse_ok(const char *query)
{
    g_autoptr(GError) error = NULL;
    GHashTable *table = itsmigd_http_parse_query(query, &error);

    if (!table)
        g_error("query '%s' refused: %s", query, error->message);
    return table;
}

static void assert_query_error(const char *query)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) table = itsmigd_http_parse_query(query, &error);

    if (table)
        g_error("query '%s' accepted", query);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
}

static void test_query_basic(void)
{
    g_autoptr(GHashTable) t = parse_ok("state=running&limit=10&offset=0");

    g_assert_cmpuint(g_hash_table_size(t), ==, 3);
    g_assert_cmpstr(g_hash_table_lookup(t, "state"), ==, "running");
    g_assert_cmpstr(g_hash_table_lookup(t, "limit"), ==, "10");
    g_assert_cmpstr(g_hash_table_lookup(t, "offset"), ==, "0");
}

static void test_query_empty(void)
{
    g_autoptr(GHashTable) empty = parse_ok("");
    g_autoptr(GHashTable) none = parse_ok(NULL);
    g_autoptr(GHashTable) amps = parse_ok("&&");

    g_assert_cmpuint(g_hash_table_size(empty), ==, 0);
    g_assert_cmpuint(g_hash_table_size(none), ==, 0);
    g_assert_cmpuint(g_hash_table_size(amps), ==, 0);
}

static void test_query_decoding(void)
{
    g_autoptr(GHashTable) t = parse_ok("na%6De=vm%2D%C3%BC&x%3Dy=a%26b&eq=a=b");

    g_assert_cmpstr(g_hash_table_lookup(t, "name"), ==, "vm-\xc3\xbc");
    g_assert_cmpstr(g_hash_table_lookup(t, "x=y"), ==, "a&b");
    /* Only the first '=' separates. */
    g_assert_cmpstr(g_hash_table_lookup(t, "eq"), ==, "a=b");
}

static void test_query_plus(void)
{
    g_autoptr(GHashTable) t = parse_ok("q=a+b%2Bc&my+key=1");

    g_assert_cmpstr(g_hash_table_lookup(t, "q"), ==, "a b+c");
    g_assert_cmpstr(g_hash_table_lookup(t, "my key"), ==, "1");
}

static void test_query_repeated_key(void)
{
    assert_query_error("a=1&a=2");
    assert_query_error("a=1&a");
    /* Repeated once decoded. */
    assert_query_error("a=1&%61=2");
}

static void test_query_empty_key(void)
{
    assert_query_error("=1");
    assert_query_error("a=1&=");
    assert_query_error("a=1&=x");
}

static void test_query_flag(void)
{
    g_autoptr(GHashTable) t = parse_ok("a&b=");

    g_assert_cmpuint(g_hash_table_size(t), ==, 2);
    g_assert_true(g_hash_table_contains(t, "a"));
    g_assert_cmpstr(g_hash_table_lookup(t, "a"), ==, "");
    g_assert_cmpstr(g_hash_table_lookup(t, "b"), ==, "");
}

static void test_query_invalid_utf8(void)
{
    assert_query_error("state=%FF");
    assert_query_error("state=%C0%AF");
    assert_query_error("%FF=1");
    assert_query_error("state=\xff");
}

static void test_query_bad_escape(void)
{
    assert_query_error("state=%G1");
    assert_query_error("state=run%4");
    assert_query_error("state=%00");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/http-router/literal", test_literal);
    g_test_add_func("/http-router/param/plain", test_param_plain);
    g_test_add_func("/http-router/param/percent-decoded", test_param_decoded);
    g_test_add_func("/http-router/param/utf8", test_param_utf8);
    g_test_add_func("/http-router/param/several", test_param_several);
    g_test_add_func("/http-router/param/encoded-slash", test_encoded_slash);
    g_test_add_func("/http-router/param/dot-segments", test_dot_segments);
    g_test_add_func("/http-router/param/dots-inside-name", test_dots_inside_name);
    g_test_add_func("/http-router/param/control-chars", test_control_chars);
    g_test_add_func("/http-router/param/invalid-utf8", test_invalid_utf8);
    g_test_add_func("/http-router/param/bad-escape", test_bad_escape);
    g_test_add_func("/http-router/param/name-length", test_name_length);
    g_test_add_func("/http-router/empty-segment", test_empty_segment);
    g_test_add_func("/http-router/unknown-path", test_unknown_path);
    g_test_add_func("/http-router/method/not-allowed", test_wrong_method);
    g_test_add_func("/http-router/method/allow-lists-every-route", test_wrong_method_two_routes);
    g_test_add_func("/http-router/method/allow-optional", test_wrong_method_no_allow_out);
    g_test_add_func("/http-router/method/case-sensitive", test_method_case_sensitive);
    g_test_add_func("/http-router/method/head-matches-get", test_head);
    g_test_add_func("/http-router/unescape/length", test_unescape_length);
    g_test_add_func("/http-router/query/basic", test_query_basic);
    g_test_add_func("/http-router/query/empty", test_query_empty);
    g_test_add_func("/http-router/query/decoding", test_query_decoding);
    g_test_add_func("/http-router/query/plus-is-space", test_query_plus);
    g_test_add_func("/http-router/query/repeated-key", test_query_repeated_key);
    g_test_add_func("/http-router/query/empty-key", test_query_empty_key);
    g_test_add_func("/http-router/query/flag-without-value", test_query_flag);
    g_test_add_func("/http-router/query/invalid-utf8", test_query_invalid_utf8);
    g_test_add_func("/http-router/query/bad-escape", test_query_bad_escape);

    return g_test_run();
}
