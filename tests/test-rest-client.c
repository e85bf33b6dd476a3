/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libitsmig's REST client against a real HTTP server on a unix socket of the
 * test's own: each way a request can fail has its kind, its one error code
 * and the words itsmigctl and the hook show; the reply limit and the connect
 * timeout that the daemon sets for its peers hold; and an error reply maps
 * to the error enum, the job failure codes included.  Also the one
 * GError -> code mapping of lib/error.c.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "itsmig/error.h"
#include "itsmig/rest-client.h"

/* ---- the server: one connection, one scripted answer ---------------------------- */

typedef enum {
    ANSWER_JSON,    /* 200 with a small JSON object */
    ANSWER_ERROR,   /* 404 with {"error":{...}} of a job failure code */
    ANSWER_BIG,     /* 200 with 64 KiB */
    ANSWER_CLOSE,   /* reads the request, closes without a word */
    ANSWER_SILENCE, /* reads the request, answers nothing until the client gives up */
} Answer;

typedef struct {
    char *dir;
    char *path;
    int listen_fd;
    Answer answer;
    GThread *thread;
} Server;

/* Reads up to the end of the request head; the requests here have no body. */
static void read_head(int fd)
{
    char buf[4096];
    gsize have = 0;

    while (have < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

        if (n <= 0)
            return;
        have += (gsize)n;
        buf[have] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return;
    }
}

/* A client that stops reading (a reply over its limit) closes the connection: the write then
 * fails with EPIPE instead of killing the test with SIGPIPE. */
static void write_all(int fd, const char *data, gsize len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n <= 0)
            return;
        data += n;
        len -= (gsize)n;
    }
}

static void reply(int fd, const char *status, const char *body, gsize len)
{
    g_autofree char *head =
        g_strdup_printf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n",
                        status, len);

    write_all(fd, head, strlen(head));
    write_all(fd, body, len);
}

static gpointer serve(gpointer data)
{
    Server *s = data;
    int fd = accept(s->listen_fd, NULL, NULL);
    static const char json[] = "{\"a\":1}";
    static const char error[] =
        "{\"error\":{\"code\":\"its-save-failed\",\"message\":\"the save failed\"}}";

    if (fd < 0)
        return NULL;
    read_head(fd);
    switch (s->answer) {
    case ANSWER_JSON: reply(fd, "200 OK", json, strlen(json)); break;
    case ANSWER_ERROR: reply(fd, "404 Not Found", error, strlen(error)); break;
    case ANSWER_BIG: {
        g_autofree char *big = g_malloc(64 * 1024);

        memset(big, ' ', 64 * 1024);
        reply(fd, "200 OK", big, 64 * 1024);
        break;
    }
    case ANSWER_CLOSE: break;
    case ANSWER_SILENCE: {
        char c;

        /* Until the client hangs up. */
        while (read(fd, &c, 1) > 0)
            ;
        break;
    }
    }
    close(fd);
    return NULL;
}

static void server_start(Server *s, Answer answer)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    s->dir = g_dir_make_tmp("test-rest-client-XXXXXX", NULL);
    g_assert_nonnull(s->dir);
    s->path = g_build_filename(s->dir, "api.sock", NULL);
    g_assert_cmpuint(strlen(s->path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, s->path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(s->listen_fd, >=, 0);
    g_assert_cmpint(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(s->listen_fd, 4), ==, 0);
    s->answer = answer;
    s->thread = g_thread_new("server", serve, s);
}

static void server_stop(Server *s)
{
    /* Wakes an accept() that no request came to. */
    shutdown(s->listen_fd, SHUT_RDWR);
    g_thread_join(s->thread);
    close(s->listen_fd);
    unlink(s->path);
    rmdir(s->dir);
    g_free(s->path);
    g_free(s->dir);
}

/* One GET /v1/x against a server giving @answer, by a client with
 * @timeout_s and, unless 0, @reply_max. */
typedef struct {
    char *path; /* where the server was */
    ItsmigRestClient *client;
    ItsmigRestReply *reply;
    GError *error;
    ItsmigRestFailure failure;
} Exchange;

static void exchange_run(Exchange *x, Answer answer, guint timeout_s, gsize reply_max)
{
    Server s;
    gboolean ok;

    server_start(&s, answer);
    x->path = g_strdup(s.path);
    x->client = itsmig_rest_client_new_unix(s.path, timeout_s);
    if (reply_max)
        itsmig_rest_client_set_reply_max(x->client, reply_max);
    ok = itsmig_rest_client_request(x->client, "GET", "/v1/x", NULL, NULL, 0, &x->reply, &x->error);
    g_assert_true(ok == (x->error == NULL));
    x->failure = itsmig_rest_client_get_failure(x->client, NULL);
    server_stop(&s);
}

static void exchange_clear(Exchange *x)
{
    g_free(x->path);
    itsmig_rest_client_free(x->client);
    itsmig_rest_reply_free(x->reply);
    g_clear_error(&x->error);
}

/* ---- the tests ------------------------------------------------------------------ */

static void test_ok(void)
{
    Exchange x = {0};
    g_autoptr(JsonObject) obj = NULL;

    exchange_run(&x, ANSWER_JSON, 5, 0);
    g_assert_cmpint(x.failure, ==, ITSMIG_REST_FAILURE_NONE);
    g_assert_cmpint(x.reply->status, ==, 200);
    obj = itsmig_rest_client_parse_reply(x.client, x.reply, &x.error);
    g_assert_no_error(x.error);
    g_assert_cmpint(json_object_get_int_member(obj, "a"), ==, 1);
    g_assert_null(itsmig_rest_client_get_failure_reason(x.client));
    exchange_clear(&x);
}

/* A job failure code in an error reply is the enum's, with its own text. */
static void test_error_reply(void)
{
    Exchange x = {0};
    g_autoptr(JsonObject) obj = NULL;

    exchange_run(&x, ANSWER_ERROR, 5, 0);
    g_assert_cmpint(x.failure, ==, ITSMIG_REST_FAILURE_NONE);
    obj = itsmig_rest_client_parse_reply(x.client, x.reply, &x.error);
    g_assert_null(obj);
    g_assert_error(x.error, ITSMIG_ERROR, ITSMIG_ERROR_ITS_SAVE_FAILED);
    g_assert_cmpstr(x.error->message, ==, "its-save-failed: the save failed");
    exchange_clear(&x);
}

static void test_refused(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-rest-client-XXXXXX", NULL);
    g_autofree char *path = NULL;
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(ItsmigRestReply) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *want = NULL;

    g_assert_nonnull(dir);
    path = g_build_filename(dir, "nobody.sock", NULL);
    client = itsmig_rest_client_new_unix(path, 5);
    want = g_strdup_printf("cannot reach itsmigd at %s: %s", path, g_strerror(ENOENT));

    g_assert_false(
        itsmig_rest_client_request(client, "GET", "/v1/x", NULL, NULL, 0, &reply, &error));
    g_assert_cmpint(itsmig_rest_client_get_failure(client, NULL), ==, ITSMIG_REST_FAILURE_CONNECT);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNREACHABLE);
    g_assert_cmpstr(error->message, ==, want);
    g_assert_cmpstr(itsmig_rest_client_get_failure_reason(client), ==, g_strerror(ENOENT));
    rmdir(dir);
}

static void test_dropped(void)
{
    Exchange x = {0};
    const char *detail = NULL;

    exchange_run(&x, ANSWER_CLOSE, 5, 0);
    g_assert_cmpint(x.failure, ==, ITSMIG_REST_FAILURE_DROPPED);
    g_assert_error(x.error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNREACHABLE);
    g_assert_true(g_str_has_prefix(x.error->message, "no complete reply from itsmigd at "));
    itsmig_rest_client_get_failure(x.client, &detail);
    g_assert_nonnull(detail);
    g_assert_nonnull(strstr(x.error->message, detail));
    exchange_clear(&x);
}

static void test_timeout(void)
{
    Exchange x = {0};
    g_autofree char *want = NULL;
    gint64 t0 = g_get_monotonic_time();

    exchange_run(&x, ANSWER_SILENCE, 1, 0);
    g_assert_cmpint(x.failure, ==, ITSMIG_REST_FAILURE_TIMEOUT);
    /* Bounded by the timeout, with room for a loaded machine. */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * G_USEC_PER_SEC);
    g_assert_error(x.error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_TIMEOUT);
    want = g_strdup_printf("itsmigd at %s sent no complete reply within 1 s", x.path);
    g_assert_cmpstr(x.error->message, ==, want);
    g_assert_cmpstr(itsmig_rest_client_get_failure_reason(x.client), ==,
                    "no complete reply within 1 s");
    exchange_clear(&x);
}

/* The default limit takes 64 KiB; the daemon's smaller one for peers does not. */
static void test_reply_max(void)
{
    Exchange x = {0};

    exchange_run(&x, ANSWER_BIG, 5, 0);
    g_assert_cmpint(x.failure, ==, ITSMIG_REST_FAILURE_NONE);
    g_assert_cmpuint(x.reply->body_len, ==, 64 * 1024);
    exchange_clear(&x);

    memset(&x, 0, sizeof(x));
    exchange_run(&x, ANSWER_BIG, 5, 16 * 1024);
    g_assert_cmpint(x.failure, ==, ITSMIG_REST_FAILURE_TOO_LARGE);
    g_assert_null(x.reply);
    g_assert_error(x.error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR);
    g_assert_cmpstr(itsmig_rest_client_get_failure_reason(x.client), ==,
                    "a reply larger than 16 KiB");
    exchange_clear(&x);
}

/* Every code has its own string and an HTTP status, and reads back. */
static void test_error_codes(void)
{
    ItsmigErrorCode code = ITSMIG_ERROR_LAST;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (int c = 0; c < ITSMIG_ERROR_LAST; c++) {
        const char *s = itsmig_error_code_to_string(c);
        unsigned int status = itsmig_error_code_http_status(c);

        g_assert_false(g_hash_table_contains(seen, s));
        g_hash_table_add(seen, (gpointer)s);
        g_assert_cmpuint(status, >=, 400);
        g_assert_cmpuint(status, <, 600);
        g_assert_true(itsmig_error_code_from_string(s, &code));
        g_assert_cmpint(code, ==, c);
    }
    code = ITSMIG_ERROR_CONFLICT;
    g_assert_false(itsmig_error_code_from_string("no-such-code", &code));
    g_assert_cmpint(code, ==, ITSMIG_ERROR_CONFLICT);
    /* The job failure codes are the enum's. */
    g_assert_true(itsmig_error_code_from_string("its-restore-failed", &code));
    g_assert_cmpint(code, ==, ITSMIG_ERROR_ITS_RESTORE_FAILED);
    g_assert_cmpuint(itsmig_error_code_http_status(ITSMIG_ERROR_TIMEOUT), ==, 504);
}

static void test_error_get_code(void)
{
    g_autoptr(GError) ours = g_error_new(ITSMIG_ERROR, ITSMIG_ERROR_UNKNOWN_PEER, "x");
    g_autoptr(GError) other = g_error_new(G_FILE_ERROR, ITSMIG_ERROR_UNKNOWN_PEER, "x");
    g_autoptr(GError) wild = g_error_new(ITSMIG_ERROR, ITSMIG_ERROR_LAST + 3, "x");

    g_assert_cmpint(itsmig_error_get_code(ours), ==, ITSMIG_ERROR_UNKNOWN_PEER);
    g_assert_cmpint(itsmig_error_get_code(other), ==, ITSMIG_ERROR_INTERNAL);
    g_assert_cmpint(itsmig_error_get_code(wild), ==, ITSMIG_ERROR_INTERNAL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rest-client/request/ok", test_ok);
    g_test_add_func("/rest-client/request/error-reply-job-code", test_error_reply);
    g_test_add_func("/rest-client/failure/refused-unreachable", test_refused);
    g_test_add_func("/rest-client/failure/dropped-unreachable", test_dropped);
    g_test_add_func("/rest-client/failure/timeout", test_timeout);
    g_test_add_func("/rest-client/failure/reply-max", test_reply_max);
    g_test_add_func("/error/codes/string-status-roundtrip", test_error_codes);
    g_test_add_func("/error/get-code/one-mapping", test_error_get_code);
    return g_test_run();
}
