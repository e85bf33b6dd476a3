/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * docs/openapi.json against the server: the document names exactly the
 * routes of the route table, and a real itsmigd (on libvirt's test driver)
 * answers each documented operation with a documented status and media type,
 * and every other method on a documented path with 405 and the right Allow.
 */
#include "config.h"

#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "daemon/http-routes.h"
#include "itsmig/error.h"

static JsonObject *doc_paths;
static JsonNode *doc_root;
static char *tmpdir;
static char *sock_path;
static char *cert_path;
static guint tcp_port;
static guint metrics_port;
#define PEER_TOKEN "openapi-peer-token-0123456789"

static GSubprocess *daemon_proc;

static const char *const http_methods[] = {"get", "put", "post", "delete", "patch", NULL};

typedef struct {
    long status;
    char *content_type;
    char *allow;
    GString *body;
} Reply;

static void reply_clear(Reply *r)
{
    g_free(r->content_type);
    g_free(r->allow);
    if (r->body)
        g_string_free(r->body, TRUE);
    memset(r, 0, sizeof(*r));
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    Reply *r = user;

    g_string_append_len(r->body, data, size * n);
    /* An event stream never ends: its first bytes are enough. */
    if (r->content_type && g_str_has_prefix(r->content_type, "text/event-stream"))
        return 0;
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    Reply *r = user;
    g_autofree char *line = g_strndup(data, size * n);

    g_strchomp(line);
    if (g_ascii_strncasecmp(line, "Content-Type:", 13) == 0) {
        g_free(r->content_type);
        r->content_type = g_strstrip(g_strdup(line + 13));
    } else if (g_ascii_strncasecmp(line, "Allow:", 6) == 0) {
        g_free(r->allow);
        r->allow = g_strstrip(g_strdup(line + 6));
    }
    return size * n;
}

/* The transports of x-itsmig-transports. */
typedef enum { ON_UNIX, ON_TCP, ON_METRICS } Transport;

/* On the unix socket, on the TCP listener with @token, or on the plain-HTTP
 * metrics listener. */
static void request_via(Transport on, const char *token, const char *method, const char *path,
                        const char *content_type, const char *body, Reply *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *headers = NULL;
    gboolean tcp = on == ON_TCP;
    g_autofree char *url = tcp ? g_strdup_printf("https://127.0.0.1:%u%s", tcp_port, path)
                           : on == ON_METRICS
                               ? g_strdup_printf("http://127.0.0.1:%u%s", metrics_port, path)
                               : g_strconcat("http://localhost", path, NULL);

    memset(r, 0, sizeof(*r));
    r->body = g_string_new(NULL);
    if (on == ON_METRICS) {
        if (token) {
            g_autofree char *auth = g_strconcat("Authorization: Bearer ", token, NULL);

            headers = curl_slist_append(headers, auth);
        }
    } else if (tcp) {
        curl_easy_setopt(c, CURLOPT_CAINFO, cert_path);
        if (token) {
            g_autofree char *auth = g_strconcat("Authorization: Bearer ", token, NULL);

            headers = curl_slist_append(headers, auth);
        }
    } else {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock_path);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (body) {
        g_autofree char *ct = g_strconcat("Content-Type: ", content_type, NULL);

        headers = curl_slist_append(headers, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
}

static void request_on(gboolean tcp, const char *token, const char *method, const char *path,
                       const char *content_type, const char *body, Reply *r)
{
    request_via(tcp ? ON_TCP : ON_UNIX, token, method, path, content_type, body, r);
}

static void request(const char *method, const char *path, const char *content_type,
                    const char *body, Reply *r)
{
    request_on(FALSE, NULL, method, path, content_type, body, r);
}

/* ...and gone when the test is, however it ends. */
static void die_with_parent(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void start_daemon(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *state = NULL;
    g_autofree char *conf = NULL;
    g_autofree char *log = NULL;
    /* Not on the TAP pipe: a daemon outliving an aborted test would keep
     * the test harness waiting for the end of the output. */
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);

    tmpdir = g_dir_make_tmp("itsmig-openapi-XXXXXX", &error);
    g_assert_no_error(error);
    sock_path = g_build_filename(tmpdir, "api.sock", NULL);
    state = g_build_filename(tmpdir, "state", NULL);
    conf = g_build_filename(tmpdir, "itsmigd.conf", NULL);
    log = g_build_filename(tmpdir, "itsmigd.log", NULL);
    g_autofree char *key = NULL;
    g_autofree char *token = NULL;
    g_autofree char *openssl = NULL;
    g_autofree char *text = NULL;
    int status = -1;

    cert_path = g_build_filename(tmpdir, "cert.pem", NULL);
    key = g_build_filename(tmpdir, "key.pem", NULL);
    token = g_build_filename(tmpdir, "token", NULL);
    openssl =
        g_strdup_printf("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                        "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s",
                        key, cert_path);
    g_assert_true(g_spawn_command_line_sync(openssl, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpint(chmod(key, 0600), ==, 0);
    g_file_set_contents_full(token, PEER_TOKEN "\n", -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
    g_assert_no_error(error);
    tcp_port = 20000 + getpid() % 20000;
    metrics_port = tcp_port + 20000;
    text = g_strdup_printf("[daemon]\nlog-level = debug\n[api]\nlisten = 127.0.0.1:%u\n"
                           "tls-cert = %s\ntls-key = %s\n[metrics]\nlisten = 127.0.0.1:%u\n"
                           "[peer p]\naccept-token-file = %s\n",
                           tcp_port, cert_path, key, metrics_port, token);
    g_file_set_contents(conf, text, -1, &error);
    g_assert_no_error(error);
    g_subprocess_launcher_set_stderr_file_path(l, log);
    g_subprocess_launcher_set_child_setup(l, die_with_parent, NULL, NULL);
    daemon_proc = g_subprocess_launcher_spawn(l, &error, ITSMIGD_BIN, "--config", conf, "--connect",
                                              "test:///default", "--socket", sock_path,
                                              "--state-dir", state, NULL);
    g_assert_no_error(error);
    for (int i = 0; i < 200; i++) {
        Reply r;

        if (g_file_test(sock_path, G_FILE_TEST_EXISTS)) {
            request("GET", "/v1/health", NULL, NULL, &r);
            gboolean up = r.status == 200 && strstr(r.body->str, "\"connected\":true");
            reply_clear(&r);
            if (up)
                return;
        }
        g_usleep(50 * 1000);
    }
    g_error("itsmigd did not come up; see %s", log);
}

static void stop_daemon(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cmd = NULL;

    if (!daemon_proc)
        return;
    g_subprocess_send_signal(daemon_proc, SIGTERM);
    g_subprocess_wait(daemon_proc, NULL, &error);
    g_clear_object(&daemon_proc);
    cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    (void)!system(cmd);
}

/* Doc path "/v1/domains/{name}" with every parameter filled in. */
static char *fill_path(const char *path)
{
    g_autoptr(GString) s = g_string_new(path);

    g_string_replace(s, "{name}", "test", 0);
    g_string_replace(s, "{id}", "no-such-job", 0);
    /* The test driver's own running domain "test". */
    g_string_replace(s, "{uuid}", "6695eb01-f6a4-8304-79aa-97f2502e193f", 0);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static void test_routes_match_table(void)
{
    g_autoptr(GList) paths = json_object_get_members(doc_paths);
    guint documented = 0;

    for (GList *p = paths; p; p = p->next) {
        JsonObject *item = json_object_get_object_member(doc_paths, p->data);

        for (int m = 0; http_methods[m]; m++) {
            gboolean found = FALSE;

            if (!json_object_has_member(item, http_methods[m]))
                continue;
            documented++;
            for (gsize r = 0; r < itsmigd_n_routes; r++) {
                if (!g_ascii_strcasecmp(itsmigd_routes[r].method, http_methods[m]) &&
                    !strcmp(itsmigd_routes[r].pattern, p->data))
                    found = TRUE;
            }
            if (!found)
                g_test_fail_printf("documented %s %s is not in the route table", http_methods[m],
                                   (const char *)p->data);
        }
    }
    for (gsize r = 0; r < itsmigd_n_routes; r++) {
        g_autofree char *lower = g_ascii_strdown(itsmigd_routes[r].method, -1);
        JsonObject *item = json_object_has_member(doc_paths, itsmigd_routes[r].pattern)
                               ? json_object_get_object_member(doc_paths, itsmigd_routes[r].pattern)
                               : NULL;

        if (!item || !json_object_has_member(item, lower))
            g_test_fail_printf("route %s %s is not documented", itsmigd_routes[r].method,
                               itsmigd_routes[r].pattern);
    }
    g_assert_cmpuint(documented, ==, itsmigd_n_routes);
}

/* The documented responses of @op: the status must be one, and its media
 * type must be the one the document gives. */
static void check_documented(JsonObject *op, const char *what, const Reply *r)
{
    JsonObject *responses = json_object_get_object_member(op, "responses");
    g_autofree char *code = g_strdup_printf("%ld", r->status);
    JsonObject *resp;
    JsonObject *content;
    g_autoptr(GList) types = NULL;

    if (!json_object_has_member(responses, code)) {
        g_test_fail_printf("%s answered %ld, which is not documented", what, r->status);
        return;
    }
    resp = json_object_get_object_member(responses, code);
    if (json_object_has_member(resp, "$ref")) {
        const char *ref = json_object_get_string_member(resp, "$ref");
        JsonObject *all = json_object_get_object_member(
            json_object_get_object_member(json_node_get_object(doc_root), "components"),
            "responses");

        resp = json_object_get_object_member(all, strrchr(ref, '/') + 1);
    }
    content = json_object_get_object_member(resp, "content");
    types = json_object_get_members(content);
    g_assert_nonnull(types);
    if (!r->content_type || !g_str_has_prefix(r->content_type, types->data))
        g_test_fail_printf("%s answered %ld as %s; documented: %s", what, r->status,
                           r->content_type ? r->content_type : "(none)", (const char *)types->data);
}

/* What this daemon (test driver, no peers) answers each documented
 * operation with its example; the other outcomes are covered by
 * tests/daemon/peers.sh and tests/daemon/migrate.sh. */
static long expected_status(const char *method, const char *path)
{
    static const struct {
        const char *method, *path;
        long status;
    } special[] = {
        /* The examples name a peer this daemon does not have. */
        {"POST", "/v1/domains/{name}/preflight", 404},
        {"POST", "/v1/migrations", 404},
        /* No job has that id. */
        {"GET", "/v1/migrations/{id}", 404},
        {"DELETE", "/v1/migrations/{id}", 404},
        /* "test" runs and never arrived by migration: no action on it. */
        {"POST", "/v1/incoming/{uuid}/resume", 409},
        {"POST", "/v1/incoming/{uuid}/destroy", 409},
        {"POST", "/v1/incoming/{uuid}/attach", 409},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(special); i++)
        if (!strcmp(special[i].method, method) && !strcmp(special[i].path, path))
            return special[i].status;
    return 200;
}

static void test_operations_answer_as_documented(void)
{
    g_autoptr(GList) paths = json_object_get_members(doc_paths);

    for (GList *p = paths; p; p = p->next) {
        JsonObject *item = json_object_get_object_member(doc_paths, p->data);
        g_autofree char *url = fill_path(p->data);

        for (int m = 0; http_methods[m]; m++) {
            g_autofree char *upper = g_ascii_strup(http_methods[m], -1);
            g_autofree char *what = NULL;
            g_autofree char *body = NULL;
            JsonObject *op;
            Reply r;

            if (!json_object_has_member(item, http_methods[m]))
                continue;
            op = json_object_get_object_member(item, http_methods[m]);
            const char *type = "application/json";

            if (json_object_has_member(op, "requestBody")) {
                JsonObject *content = json_object_get_object_member(
                    json_object_get_object_member(op, "requestBody"), "content");
                g_autoptr(GList) types = json_object_get_members(content);
                JsonNode *example;

                type = types->data;
                example =
                    json_object_get_member(json_object_get_object_member(content, type), "example");
                /* A JSON example goes as JSON, an XML one as the text it is. */
                body = JSON_NODE_HOLDS_VALUE(example) &&
                               json_node_get_value_type(example) == G_TYPE_STRING
                           ? g_strdup(json_node_get_string(example))
                           : json_to_string(example, FALSE);
            }
            what = g_strdup_printf("%s %s", upper, url);
            request(upper, url, type, body, &r);
            g_assert_cmpint(r.status, ==, expected_status(upper, p->data));
            check_documented(op, what, &r);
            reply_clear(&r);
        }
    }
}

static void test_errors_are_documented(void)
{
    static const struct {
        const char *method, *doc_path, *url, *content_type, *body;
        long status;
    } cases[] = {
        {"GET", "/v1/domains/{name}", "/v1/domains/no-such-domain", NULL, NULL, 404},
        {"GET", "/v1/domains/{name}", "/v1/domains/a%2Fb", NULL, NULL, 400},
        {"GET", "/v1/domains", "/v1/domains?limit=0", NULL, NULL, 400},
        {"GET", "/v1/domains", "/v1/domains?state=sleeping", NULL, NULL, 400},
        {"GET", "/v1/events", "/v1/events?last_event_id=x", NULL, NULL, 400},
        {"PUT", "/v1/log", "/v1/log", "text/plain", "level=debug", 415},
        {"PUT", "/v1/log", "/v1/log", "application/json", "{\"level\":", 400},
        {"PUT", "/v1/log", "/v1/log", "application/json", "{\"level\":\"loud\"}", 400},
        {"POST", "/v1/domains/{name}/preflight", "/v1/domains/test/preflight", "application/json",
         "{\"destination\":\"nowhere\"}", 404},
        {"POST", "/v1/domains/{name}/preflight", "/v1/domains/test/preflight", "application/json",
         "{}", 400},
        {"POST", "/v1/domains/{name}/preflight", "/v1/domains/test/preflight", "text/plain",
         "destination", 415},
        {"POST", "/v1/compat/matrix", "/v1/compat/matrix", "application/json",
         "{\"peers\":[\"nowhere\"]}", 404},
        {"POST", "/v1/compat/matrix", "/v1/compat/matrix", "application/json", "{\"peers\":3}",
         400},
        {"POST", "/v1/hook/migrate-begin", "/v1/hook/migrate-begin", "application/xml",
         "<domain><name>x</name>", 400},
        {"POST", "/v1/hook/migrate-begin", "/v1/hook/migrate-begin", "application/json", "{}", 415},
        {"POST", "/v1/hook/migrate-begin", "/v1/hook/migrate-begin?operation=fly",
         "application/xml", "<domain type='kvm'><name>x</name></domain>", 400},
        {"POST", "/v1/hook/refused", "/v1/hook/refused", "application/json",
         "{\"operation\":\"restore\",\"domain\":\"x\",\"reason\":\"none\",\"message\":\"m\"}", 400},
        {"POST", "/v1/hook/refused", "/v1/hook/refused", "text/plain", "image-refused", 415},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        JsonObject *item = json_object_get_object_member(doc_paths, cases[i].doc_path);
        g_autofree char *lower = g_ascii_strdown(cases[i].method, -1);
        g_autofree char *what = g_strdup_printf("%s %s", cases[i].method, cases[i].url);
        Reply r;

        request(cases[i].method, cases[i].url, cases[i].content_type, cases[i].body, &r);
        g_assert_cmpint(r.status, ==, cases[i].status);
        check_documented(json_object_get_object_member(item, lower), what, &r);
        g_assert_nonnull(strstr(r.body->str, "\"error\":{\"code\":"));
        reply_clear(&r);
    }
}

/* Every value the document gives the hook's ?operation= is answered with a
 * verdict; the daemon takes no other. */
static void test_hook_operation_documented(void)
{
    JsonObject *op = json_object_get_object_member(
        json_object_get_object_member(doc_paths, "/v1/hook/migrate-begin"), "post");
    JsonArray *params = json_object_get_array_member(op, "parameters");
    JsonArray *values = NULL;
    const char *xml = "<domain type='kvm'><name>x</name></domain>";

    for (guint i = 0; params && i < json_array_get_length(params); i++) {
        JsonObject *param = json_array_get_object_element(params, i);

        if (g_strcmp0(json_object_get_string_member(param, "name"), "operation") == 0)
            values = json_object_get_array_member(json_object_get_object_member(param, "schema"),
                                                  "enum");
    }
    g_assert_nonnull(values);
    g_assert_cmpuint(json_array_get_length(values), ==, 2);
    for (guint i = 0; i < json_array_get_length(values); i++) {
        g_autofree char *url = g_strdup_printf("/v1/hook/migrate-begin?operation=%s",
                                               json_array_get_string_element(values, i));
        Reply r;

        request("POST", url, "application/xml", xml, &r);
        g_assert_cmpint(r.status, ==, 200);
        check_documented(op, url, &r);
        g_assert_nonnull(strstr(r.body->str, "\"allowed\":"));
        reply_clear(&r);
    }
}

/* The Error schema lists exactly the library's codes, in its order. */
static void test_error_codes_match_library(void)
{
    JsonObject *o = json_node_get_object(doc_root);
    const char *const members[] = {"components", "schemas",    "Error", "properties",
                                   "error",      "properties", "code"};
    JsonArray *values;

    for (gsize i = 0; i < G_N_ELEMENTS(members); i++)
        o = json_object_get_object_member(o, members[i]);
    values = json_object_get_array_member(o, "enum");
    g_assert_cmpuint(json_array_get_length(values), ==, ITSMIG_ERROR_LAST);
    for (int code = 0; code < ITSMIG_ERROR_LAST; code++)
        g_assert_cmpstr(json_array_get_string_element(values, code), ==,
                        itsmig_error_code_to_string(code));
}

/* Each operation says where it is served (x-itsmig-transports) and with
 * which credential (security); the route table and the server agree: on TCP,
 * a peer's token gets the peer operations and 403 for every other one, and
 * no token gets 401. */
static void test_transports_as_documented(void)
{
    g_autoptr(GList) paths = json_object_get_members(doc_paths);
    guint peer_ops = 0;

    for (GList *p = paths; p; p = p->next) {
        JsonObject *item = json_object_get_object_member(doc_paths, p->data);
        g_autofree char *url = fill_path(p->data);

        for (int m = 0; http_methods[m]; m++) {
            g_autofree char *upper = g_ascii_strup(http_methods[m], -1);
            const ItsmigdRoute *route = NULL;
            JsonObject *op;
            JsonArray *transports, *security;
            gboolean doc_tcp = FALSE, doc_unix = FALSE, doc_token = FALSE, doc_metrics = FALSE;
            gboolean tcp, metrics;
            Reply r;

            if (!json_object_has_member(item, http_methods[m]))
                continue;
            op = json_object_get_object_member(item, http_methods[m]);
            for (gsize i = 0; i < itsmigd_n_routes; i++)
                if (!strcmp(itsmigd_routes[i].method, upper) &&
                    !strcmp(itsmigd_routes[i].pattern, p->data))
                    route = &itsmigd_routes[i];
            g_assert_nonnull(route);
            g_assert_true(json_object_has_member(op, "x-itsmig-transports"));
            transports = json_object_get_array_member(op, "x-itsmig-transports");
            for (guint i = 0; i < json_array_get_length(transports); i++) {
                const char *t = json_array_get_string_element(transports, i);

                g_assert_true(!strcmp(t, "unix") || !strcmp(t, "tcp") || !strcmp(t, "metrics"));
                doc_unix |= !strcmp(t, "unix");
                doc_tcp |= !strcmp(t, "tcp");
                doc_metrics |= !strcmp(t, "metrics");
            }
            g_assert_true(doc_unix);
            security = json_object_get_array_member(op, "security");
            g_assert_nonnull(security);
            for (guint i = 0; i < json_array_get_length(security); i++)
                doc_token |=
                    json_object_has_member(json_array_get_object_element(security, i), "peerToken");
            tcp = (route->flags & ITSMIGD_ROUTE_PEER) != 0;
            if (doc_tcp != tcp || doc_token != tcp)
                g_test_fail_printf("%s %s: the document says %s, the server %s", upper,
                                   (const char *)p->data, doc_tcp ? "tcp" : "unix only",
                                   tcp ? "tcp" : "unix only");
            peer_ops += tcp;
            metrics = (route->flags & ITSMIGD_ROUTE_METRICS) != 0;
            if (doc_metrics != metrics)
                g_test_fail_printf("%s %s: the document says %s, the server %s", upper,
                                   (const char *)p->data, doc_metrics ? "metrics" : "not metrics",
                                   metrics ? "metrics" : "not metrics");
            /* The metrics listener: no credential needed, a peer's token no
             * key to anything else. */
            request_via(ON_METRICS, PEER_TOKEN, upper, url, "application/json", "{}", &r);
            if (metrics ? r.status != 200 : r.status != 403)
                g_test_fail_printf("%s %s on the metrics listener: %ld", upper, url, r.status);
            if (!metrics) {
                g_autofree char *what =
                    g_strdup_printf("%s %s on the metrics listener", upper, url);

                check_documented(op, what, &r);
            }
            reply_clear(&r);

            request_on(TRUE, NULL, upper, url, "application/json", "{}", &r);
            g_assert_cmpint(r.status, ==, 401);
            reply_clear(&r);
            request_on(TRUE, PEER_TOKEN, upper, url, "application/json", "{}", &r);
            if (tcp ? r.status == 403 || r.status == 401 : r.status != 403)
                g_test_fail_printf("%s %s over TCP with a peer's token: %ld", upper, url, r.status);
            if (!tcp) {
                g_autofree char *what = g_strdup_printf("%s %s over TCP", upper, url);

                check_documented(op, what, &r);
            }
            reply_clear(&r);
        }
    }
    /* Capabilities and the four incoming operations. */
    g_assert_cmpuint(peer_ops, ==, 5);
    {
        Reply r;

        /* What no route names is 404 there too, with the error shape. */
        request_via(ON_METRICS, NULL, "GET", "/v1/nothing-here", NULL, NULL, &r);
        g_assert_cmpint(r.status, ==, 404);
        g_assert_nonnull(strstr(r.body->str, "\"not-found\""));
        reply_clear(&r);
        request_via(ON_METRICS, NULL, "GET", "/metrics", NULL, NULL, &r);
        g_assert_cmpint(r.status, ==, 200);
        g_assert_nonnull(strstr(r.body->str, "\nitsmigd_host_info{"));
        reply_clear(&r);
    }
}

static void test_other_methods_are_405(void)
{
    g_autoptr(GList) paths = json_object_get_members(doc_paths);

    for (GList *p = paths; p; p = p->next) {
        JsonObject *item = json_object_get_object_member(doc_paths, p->data);
        g_autofree char *url = fill_path(p->data);
        g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func(g_free);

        for (int m = 0; http_methods[m]; m++) {
            if (!json_object_has_member(item, http_methods[m]))
                continue;
            g_ptr_array_add(expected, g_ascii_strup(http_methods[m], -1));
            if (!strcmp(http_methods[m], "get"))
                g_ptr_array_add(expected, g_strdup("HEAD"));
        }
        for (int m = 0; http_methods[m]; m++) {
            g_autofree char *upper = g_ascii_strup(http_methods[m], -1);
            g_auto(GStrv) allow = NULL;
            Reply r;

            if (json_object_has_member(item, http_methods[m]))
                continue;
            request(upper, url, "application/json", "{}", &r);
            g_assert_cmpint(r.status, ==, 405);
            g_assert_nonnull(r.allow);
            allow = g_strsplit(r.allow, ", ", -1);
            g_assert_cmpuint(g_strv_length(allow), ==, expected->len);
            for (guint i = 0; i < expected->len; i++)
                g_assert_true(
                    g_strv_contains((const char *const *)allow, g_ptr_array_index(expected, i)));
            reply_clear(&r);
        }
    }
}

int main(int argc, char **argv)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *doc = NULL;
    const char *srcdir = g_getenv("top_srcdir");
    int rc;

    g_test_init(&argc, &argv, NULL);
    doc = g_build_filename(srcdir ? srcdir : ".", "docs", "openapi.json", NULL);
    json_parser_load_from_file(parser, doc, &error);
    g_assert_no_error(error);
    doc_root = json_parser_get_root(parser);
    doc_paths = json_object_get_object_member(json_node_get_object(doc_root), "paths");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    start_daemon();

    g_test_add_func("/openapi/routes-match-table", test_routes_match_table);
    g_test_add_func("/openapi/operations-answer-as-documented",
                    test_operations_answer_as_documented);
    g_test_add_func("/openapi/errors-are-documented", test_errors_are_documented);
    g_test_add_func("/openapi/hook-operation-documented", test_hook_operation_documented);
    g_test_add_func("/openapi/error-codes-match-library", test_error_codes_match_library);
    g_test_add_func("/openapi/other-methods-are-405", test_other_methods_are_405);
    g_test_add_func("/openapi/transports-as-documented", test_transports_as_documented);
    rc = g_test_run();
    stop_daemon();
    curl_global_cleanup();
    return rc;
}
