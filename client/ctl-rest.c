/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What itsmigctl's commands that talk to itsmigd share: the connection
 * options, one request, checking a reply member by member, text that is safe
 * to print, the preflight verdict (a reply of its own, and part of a job), and
 * SIGINT for the commands that wait.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmigctl.h"

#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S     3600

static const char connection_help[] =
    "Connection (default: the unix socket $ITSMIG_SOCKET, else " ITSMIG_REST_DEFAULT_SOCKET "):\n"
    "  --socket PATH       itsmigd's unix socket\n"
    "  --url https://HOST:PORT\n"
    "                      itsmigd's TCP API (HTTPS), with --token-file\n"
    "  --token-file FILE   the bearer token, first line of FILE\n"
    "  --cacert FILE       PEM CA certificates to trust instead of the system's\n"
    "  --timeout SECONDS   give up after this long, 1..3600 (default 30)\n";

const char *itsmigctl_connection_help(void)
{
    return connection_help;
}

void itsmigctl_conn_clear(ItsmigctlConn *o)
{
    g_free(o->socket);
    g_free(o->url);
    g_free(o->token_file);
    g_free(o->cacert);
    g_free(o->timeout);
}

void itsmigctl_conn_add_entries(GOptionContext *ctx, ItsmigctlConn *o, gboolean with_timeout)
{
    GOptionEntry entries[] = {
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &o->socket, "itsmigd's unix socket", "PATH"},
        {"url", 0, 0, G_OPTION_ARG_STRING, &o->url, "itsmigd's TCP API", "https://HOST:PORT"},
        {"token-file", 0, 0, G_OPTION_ARG_FILENAME, &o->token_file,
         "The bearer token for --url (first line of FILE)", "FILE"},
        {"cacert", 0, 0, G_OPTION_ARG_FILENAME, &o->cacert,
         "PEM CA certificates to trust for --url", "FILE"},
        /* Last, so that ending the list in its place leaves it out. */
        {"timeout", 0, 0, G_OPTION_ARG_STRING, &o->timeout, "Give up after this long (default 30)",
         "SECONDS"},
        {NULL},
    };

    if (!with_timeout)
        entries[G_N_ELEMENTS(entries) - 2] = (GOptionEntry){NULL};
    g_option_context_add_main_entries(ctx, entries, NULL);
}

int itsmigctl_conn_open(const ItsmigctlConn *o, const char *cmd, ItsmigRestClient **ret_client)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *token = NULL;
    guint64 timeout = DEFAULT_TIMEOUT_S;
    const char *env_socket = g_getenv("ITSMIG_SOCKET");
    ItsmigRestClient *client;

    if (o->timeout && !g_ascii_string_to_unsigned(o->timeout, 10, 1, MAX_TIMEOUT_S, &timeout, NULL))
        return itsmigctl_usage_error("%s: --timeout '%s' is not a whole number of seconds "
                                     "between 1 and %d",
                                     cmd, o->timeout, MAX_TIMEOUT_S);
    if (o->url && o->socket)
        return itsmigctl_usage_error("%s: --socket and --url exclude each other", cmd);
    if (!o->url && (o->token_file || o->cacert))
        return itsmigctl_usage_error("%s: --%s is only for --url", cmd,
                                     o->token_file ? "token-file" : "cacert");
    if (o->socket && !*o->socket)
        return itsmigctl_usage_error("%s: --socket needs a path", cmd);

    if (!o->url) {
        const char *path = o->socket                   ? o->socket
                           : env_socket && *env_socket ? env_socket
                                                       : ITSMIG_REST_DEFAULT_SOCKET;

        *ret_client = itsmig_rest_client_new_unix(path, (guint)timeout);
        return ITSMIGCTL_EXIT_OK;
    }
    if (!itsmig_rest_check_url(o->url, &error))
        return itsmigctl_usage_error("%s: --url: %s", cmd, error->message);
    if (!o->token_file)
        return itsmigctl_usage_error("%s: --url needs --token-file: itsmigd's TCP API "
                                     "takes a bearer token",
                                     cmd);
    token = itsmig_rest_read_token_file(o->token_file, &error);
    if (!token)
        return itsmigctl_usage_error("%s: --token-file: %s", cmd, error->message);
    client = itsmig_rest_client_new_https(o->url, token, o->cacert, (guint)timeout, &error);
    explicit_bzero(token, strlen(token));
    if (!client)
        return itsmigctl_usage_error("%s: --url: %s", cmd, error->message);
    *ret_client = client;
    return ITSMIGCTL_EXIT_OK;
}

int itsmigctl_open(const ItsmigctlOptions *o, const GOptionEntry *entries, int *argc, char ***argv,
                   ItsmigRestClient **ret_client)
{
    int r = itsmigctl_parse_options(o, entries, argc, argv);

    if (r)
        return r;
    return itsmigctl_conn_open(o->conn, o->name, ret_client);
}

int itsmigctl_list_open(const ItsmigctlOptions *o, const char *quiet_help, gboolean *json,
                        gboolean *quiet, int *argc, char ***argv, ItsmigRestClient **ret_client)
{
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, json, "Print itsmigd's JSON list", NULL},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, quiet, quiet_help, NULL},
        {NULL},
    };
    int r = itsmigctl_parse_options(o, entries, argc, argv);

    if (r)
        return r;
    if (*json && *quiet)
        return itsmigctl_usage_error("%s: --json and --quiet exclude each other", o->name);
    return itsmigctl_conn_open(o->conn, o->name, ret_client);
}

int itsmigctl_fail(const GError *error)
{
    fprintf(stderr, "itsmigctl: %s\n", error->message);
    return ITSMIGCTL_EXIT_FAILURE;
}

JsonObject *itsmigctl_call(ItsmigRestClient *client, const char *method, const char *path,
                           JsonNode *body)
{
    g_autoptr(ItsmigRestReply) reply = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    JsonObject *obj;
    gsize len = 0;

    if (body) {
        g_autoptr(JsonGenerator) gen = json_generator_new();

        json_generator_set_root(gen, body);
        text = json_generator_to_data(gen, &len);
    }
    if (!itsmig_rest_client_request(client, method, path, "application/json", text, len, &reply,
                                    &error)) {
        itsmigctl_fail(error);
        return NULL;
    }
    obj = itsmig_rest_client_parse_reply(client, reply, &error);
    if (!obj)
        itsmigctl_fail(error);
    return obj;
}

int itsmigctl_bad_reply(const ItsmigRestClient *client, const char *request, const GError *error)
{
    fprintf(stderr, "itsmigctl: itsmigd at %s sent an unexpected reply to %s: %s\n",
            itsmig_rest_client_get_endpoint(client), request, error->message);
    return ITSMIGCTL_EXIT_FAILURE;
}

/* ---- text for people ---------------------------------------------------------- */

char *itsmigctl_printable(const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);
    g_autoptr(GString) s = g_string_sized_new(strlen(valid));

    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (g_unichar_iscntrl(c))
            g_string_append_c(s, '?');
        else
            g_string_append_unichar(s, c);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

glong itsmigctl_text_width(const char *text)
{
    glong w = 0;

    for (const char *p = text; *p; p = g_utf8_next_char(p))
        w += g_unichar_iswide(g_utf8_get_char(p)) ? 2 : 1;
    return w;
}

void itsmigctl_print_padded(const char *text, glong width)
{
    fputs(text, stdout);
    for (glong i = itsmigctl_text_width(text); i < width; i++)
        putchar(' ');
}

void itsmigctl_print_table(const char *const *heads, guint n_cols, GPtrArray *cells,
                           glong min_width)
{
    guint n_rows = cells->len / n_cols;
    g_autofree glong *width = g_new0(glong, n_cols);

    for (guint c = 0; c < n_cols; c++)
        width[c] = MAX(itsmigctl_text_width(heads[c]), min_width);
    for (guint i = 0; i < n_rows * n_cols; i++)
        width[i % n_cols] = MAX(width[i % n_cols], itsmigctl_text_width(cells->pdata[i]));
    for (guint c = 0; c < n_cols; c++)
        itsmigctl_print_padded(heads[c], c + 1 < n_cols ? width[c] + 2 : 0);
    putchar('\n');
    for (guint i = 0; i < n_rows; i++) {
        for (guint c = 0; c < n_cols; c++)
            itsmigctl_print_padded(cells->pdata[i * n_cols + c], c + 1 < n_cols ? width[c] + 2 : 0);
        putchar('\n');
    }
}

const char *itsmigctl_arrow(void)
{
    return g_get_charset(NULL) ? "\u2192" : "->";
}

/* ---- the preflight verdict ------------------------------------------------------ */

static gboolean items_check(JsonObject *v, const char *vctx, const char *name, GError **error)
{
    g_autofree char *what = vctx ? g_strdup_printf("%s.%s", vctx, name) : g_strdup(name);
    JsonArray *a;

    if (!itsmig_json_get_array(ITSMIGCTL_AT(vctx), v, name, FALSE, &a, error))
        return FALSE;
    for (guint i = 0; i < json_array_get_length(a); i++) {
        g_autofree char *ctx = g_strdup_printf("%s[%u]", what, i);
        const char *s;
        JsonObject *item;

        if (!itsmig_json_get_element_object(ITSMIGCTL_AT(NULL), what, a, i, &item, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), item, "code", FALSE, &s, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), item, "message", FALSE, &s, error))
            return FALSE;
        if (json_object_has_member(item, "hint") &&
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), item, "hint", TRUE, &s, error))
            return FALSE;
    }
    return TRUE;
}

/* The member naming where the revision came from.  The library writes
 * "its_abi_revision_origin"; "its_abi_origin" is read too, for a job's
 * verdict described under that name. */
static const char *origin_member(JsonObject *v)
{
    if (!json_object_has_member(v, "its_abi_revision_origin") &&
        json_object_has_member(v, "its_abi_origin"))
        return "its_abi_origin";
    return "its_abi_revision_origin";
}

gboolean itsmigctl_verdict_check(JsonObject *v, const char *ctx, gboolean whole, GError **error)
{
    const char *s;
    gboolean b, has;
    gint64 n;

    if (whole &&
        (!itsmig_json_get_string(ITSMIGCTL_AT(ctx), v, "domain", FALSE, &s, error) ||
         !itsmig_json_get_string(ITSMIGCTL_AT(ctx), v, "destination", FALSE, &s, error) ||
         !itsmig_json_get_string(ITSMIGCTL_AT(ctx), v, "destination_hostname", TRUE, &s, error)))
        return FALSE;
    return itsmig_json_get_bool(ITSMIGCTL_AT(ctx), v, "allowed", &b, error) &&
           itsmig_json_get_int_or_null(ITSMIGCTL_AT(ctx), v, "its_abi_revision", G_MININT64,
                                       G_MAXINT64, &has, &n, error) &&
           itsmig_json_get_string(ITSMIGCTL_AT(ctx), v, origin_member(v), FALSE, &s, error) &&
           itsmig_json_get_bool(ITSMIGCTL_AT(ctx), v, "direct_injection", &b, error) &&
           items_check(v, ctx, "blockers", error) && items_check(v, ctx, "warnings", error);
}

static void items_print(JsonObject *v, const char *name, const char *label)
{
    JsonArray *a = json_object_get_array_member(v, name);

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *item = json_array_get_object_element(a, i);
        JsonNode *hint = json_object_get_member(item, "hint");
        g_autofree char *code = itsmigctl_printable(json_object_get_string_member(item, "code"));
        g_autofree char *msg = itsmigctl_printable(json_object_get_string_member(item, "message"));

        printf("  %s %s: %s\n", label, code, msg);
        if (hint && !JSON_NODE_HOLDS_NULL(hint)) {
            g_autofree char *h = itsmigctl_printable(json_node_get_string(hint));

            if (*h)
                printf("    hint: %s\n", h);
        }
    }
}

void itsmigctl_verdict_print(JsonObject *v, const char *domain, const char *destination)
{
    g_autofree char *dom = NULL;
    g_autofree char *to = NULL;
    JsonNode *rev = json_object_get_member(v, "its_abi_revision");
    const char *origin = json_object_get_string_member(v, origin_member(v));

    if (!domain)
        domain = json_object_get_string_member(v, "domain");
    if (!destination) {
        JsonNode *dh = json_object_get_member(v, "destination_hostname");

        destination = JSON_NODE_HOLDS_NULL(dh) ? json_object_get_string_member(v, "destination")
                                               : json_node_get_string(dh);
    }
    dom = itsmigctl_printable(domain);
    to = itsmigctl_printable(destination);
    printf("%s %s %s: %s\n", dom, itsmigctl_arrow(), to,
           json_object_get_boolean_member(v, "allowed") ? "allowed" : "blocked");
    if (JSON_NODE_HOLDS_NULL(rev)) {
        printf("  ITS table ABI revision: unknown\n");
    } else {
        g_autofree char *o = itsmigctl_printable(origin);

        printf("  ITS table ABI revision: %" G_GINT64_FORMAT " (%s)\n", json_node_get_int(rev),
               strcmp(origin, "metadata") == 0       ? "from the domain's itsmig metadata"
               : strcmp(origin, "host-default") == 0 ? "no itsmig metadata: the source's default"
                                                     : o);
    }
    items_print(v, "blockers", "BLOCKER");
    items_print(v, "warnings", "WARNING");
}

/* ---- SIGINT --------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    interrupted = 1;
}

void itsmigctl_catch_sigint(void)
{
    struct sigaction sa = {0};

    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking wait returns early to look at the flag. */
    sigaction(SIGINT, &sa, NULL);
}

gboolean itsmigctl_interrupted(void)
{
    return interrupted != 0;
}
