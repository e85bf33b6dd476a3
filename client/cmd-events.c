/* SPDX-License-Identifier: GPL-2.0-or-later */
/* itsmigctl events, domains: what itsmigd sees of libvirt and of its jobs. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmigctl.h"

/* The most GET /v1/domains gives in one reply. */
#define DOMAINS_PAGE 10000

/* ---- itsmigctl events ---------------------------------------------------------------- */

typedef struct {
    char **types; /* only these; NULL: all */
    gboolean json;
    char *id;      /* of the event being read; NULL when it has none */
    char *type;    /* NULL: "message", as Server-Sent Events have it */
    GString *data; /* its data lines, joined by "\n" */
    gboolean has_data;
    GError *error; /* an event that is not the API's */
} EventReader;

static void event_reader_reset(EventReader *r)
{
    g_clear_pointer(&r->id, g_free);
    g_clear_pointer(&r->type, g_free);
    g_string_truncate(r->data, 0);
    r->has_data = FALSE;
}

static void event_reader_clear(EventReader *r)
{
    event_reader_reset(r);
    g_string_free(r->data, TRUE);
    g_clear_error(&r->error);
}

/* "vm1 started booted (running)": the summary of an event of @type. */
static gboolean event_summary(const char *type, JsonObject *d, GString *s, GError **error)
{
    const char *a, *b, *c, *e;
    gboolean has, flag;
    gint64 n;

    if (strcmp(type, "migration") == 0) {
        JsonObject *progress;
        double percent;

        if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "id", FALSE, &a, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "domain", FALSE, &b, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "phase", FALSE, &c, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "kind", FALSE, &e, error))
            return FALSE;
        g_string_append_printf(s, "%s %s %s %s", a, b, c, e);
        if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "outcome", TRUE, &a, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "message", TRUE, &b, error) ||
            !itsmig_json_get_object(ITSMIGCTL_AT(NULL), d, "progress", TRUE, &progress, error))
            return FALSE;
        if (a)
            g_string_append_printf(s, " %s", a);
        if (b)
            g_string_append_printf(s, ": %s", b);
        if (progress) {
            if (!itsmig_json_get_number_or_null(ITSMIGCTL_AT("progress"), progress, "percent", &has,
                                                &percent, error))
                return FALSE;
            if (has && !a && !b)
                g_string_append_printf(s, " %.0f%%", percent);
        }
    } else if (strcmp(type, "lifecycle") == 0) {
        if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "domain", FALSE, &a, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "event", FALSE, &b, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "detail", FALSE, &c, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "state", FALSE, &e, error))
            return FALSE;
        g_string_append_printf(s, "%s %s %s (%s)", a, b, c, e);
    } else if (strcmp(type, "device-added") == 0 || strcmp(type, "device-removed") == 0) {
        if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "domain", FALSE, &a, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "alias", FALSE, &b, error))
            return FALSE;
        g_string_append_printf(s, "%s %s", a, b);
    } else if (strcmp(type, "migration-iteration") == 0) {
        if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "domain", FALSE, &a, error) ||
            !itsmig_json_get_int(ITSMIGCTL_AT(NULL), d, "iteration", 0, G_MAXINT64, &n, error))
            return FALSE;
        g_string_append_printf(s, "%s iteration %" G_GINT64_FORMAT, a, n);
    } else if (strcmp(type, "connection") == 0) {
        if (!itsmig_json_get_bool(ITSMIGCTL_AT(NULL), d, "connected", &flag, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "uri", FALSE, &a, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "message", TRUE, &b, error))
            return FALSE;
        g_string_append_printf(s, "%s %s%s%s", flag ? "connected to" : "disconnected from", a,
                               b && *b ? ": " : "", b && *b ? b : "");
    } else if (strcmp(type, "gap") == 0) {
        gint64 first;

        if (!itsmig_json_get_int(ITSMIGCTL_AT(NULL), d, "requested", 0, G_MAXINT64, &n, error) ||
            !itsmig_json_get_int(ITSMIGCTL_AT(NULL), d, "first_available", 0, G_MAXINT64, &first,
                                 error))
            return FALSE;
        g_string_append_printf(
            s, "events after %" G_GINT64_FORMAT " are lost; resuming at %" G_GINT64_FORMAT, n,
            first);
    } else if (json_object_has_member(d, "domain")) {
        /* reboot, job-completed, and types this itsmigctl does not know. */
        if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), d, "domain", FALSE, &a, error))
            return FALSE;
        g_string_append(s, a);
    }
    return TRUE;
}

/* One event is complete: prints it unless filtered out.  FALSE (with
 * r->error) when it is not the API's. */
static gboolean event_dispatch(EventReader *r)
{
    const char *type = r->type ? r->type : "message";
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GString) s = g_string_new(NULL);
    g_autoptr(GError) local = NULL;
    guint64 id = 0;
    JsonNode *root;
    JsonObject *data;

    if (r->types && !g_strv_contains((const char *const *)r->types, type))
        return TRUE;
    if (r->id && !g_ascii_string_to_unsigned(r->id, 10, 0, G_MAXUINT64, &id, NULL)) {
        g_set_error(&r->error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                    "an event id '%s' that is not a number", r->id);
        return FALSE;
    }
    if (!json_parser_load_from_data(parser, r->data->str, (gssize)r->data->len, &local) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(&r->error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                    "the data of event %s (%s) is not a JSON object", r->id ? r->id : "-", type);
        return FALSE;
    }
    data = json_node_get_object(root);

    if (r->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) node = NULL;
        g_autofree char *line = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        if (r->id)
            json_builder_add_int_value(b, (gint64)MIN(id, (guint64)G_MAXINT64));
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, type);
        json_builder_set_member_name(b, "data");
        json_builder_add_value(b, json_node_copy(root));
        json_builder_end_object(b);
        node = json_builder_get_root(b);
        line = json_to_string(node, FALSE);
        printf("%s\n", line);
    } else {
        const char *time = NULL;
        g_autofree char *text = NULL;
        g_autofree char *shown_type = itsmigctl_printable(type);
        g_autofree char *shown_time = NULL;

        if (json_object_has_member(data, "time") &&
            !itsmig_json_get_string(ITSMIGCTL_AT(NULL), data, "time", FALSE, &time, &r->error))
            return FALSE;
        if (!event_summary(type, data, s, &r->error))
            return FALSE;
        text = itsmigctl_printable(s->str);
        shown_time = itsmigctl_printable(time ? time : "-");
        printf("%s  %s  %s\n", shown_time, shown_type, text);
    }
    /* Whoever reads a pipe sees each event as it comes. */
    fflush(stdout);
    return TRUE;
}

/* Server-Sent Events, one line at a time. */
static gboolean on_event_line(const char *line, gpointer user_data)
{
    EventReader *r = user_data;
    const char *colon, *value;
    g_autofree char *field = NULL;

    if (itsmigctl_interrupted())
        return FALSE;
    if (!line || line[0] == ':')
        return TRUE; /* nothing came, or a comment (keepalive) */
    if (!*line) {
        gboolean ok = !r->has_data || event_dispatch(r);

        event_reader_reset(r);
        return ok;
    }
    colon = strchr(line, ':');
    field = colon ? g_strndup(line, (gsize)(colon - line)) : g_strdup(line);
    value = colon ? colon + 1 : "";
    if (*value == ' ')
        value++;
    if (strcmp(field, "data") == 0) {
        if (r->data->len + strlen(value) >= ITSMIG_REST_REPLY_MAX) {
            g_set_error(&r->error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                        "an event larger than %d MiB", ITSMIG_REST_REPLY_MAX / (1024 * 1024));
            return FALSE;
        }
        if (r->has_data)
            g_string_append_c(r->data, '\n');
        g_string_append(r->data, value);
        r->has_data = TRUE;
    } else if (strcmp(field, "event") == 0) {
        g_free(r->type);
        r->type = g_strdup(value);
    } else if (strcmp(field, "id") == 0) {
        g_free(r->id);
        r->id = g_strdup(value);
    }
    /* "retry" and unknown fields: nothing to do for a client that does not reconnect. */
    return TRUE;
}

static const char events_description[] =
    "Follows itsmigd's event stream and prints one line per event: its time,\n"
    "type and a summary (for a migration job: id, domain, phase, kind, then the\n"
    "outcome and message, or the progress; for a lifecycle event: domain, event,\n"
    "detail and the new state).  Types: lifecycle, device-added,\n"
    "device-removed, job-completed, migration-iteration, reboot, connection,\n"
    "migration, gap.  With --json each event is one line\n"
    "{\"id\": N, \"type\": T, \"data\": {...}}.  Runs until interrupted or until\n"
    "itsmigd ends the stream.\n"
    "\n"
    "Exit status: 0 itsmigd ended the stream; 1 itsmigd could not be asked, or\n"
    "sent something that is not the API's; 2 bad arguments; 130 interrupted.\n";

int itsmigctl_cmd_events(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    g_auto(GStrv) types = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"type", 0, 0, G_OPTION_ARG_STRING_ARRAY, &types,
         "Only events of this type (repeatable; default: all)", "TYPE"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print each event as one line of JSON", NULL},
        {NULL},
    };
    const ItsmigctlOptions opts = {
        .name = "events",
        .parameter = "- follow itsmigd's events",
        .description = events_description,
        .conn = &conn,
        .conn_timeout = TRUE,
        .max_args = 0,
        .values = &types,
        .values_option = "--type",
        .values_what = "a type",
    };
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(ItsmigRestReply) reply = NULL;
    g_autoptr(GError) error = NULL;
    EventReader reader = {0};
    int r;

    r = itsmigctl_open(&opts, entries, &argc, &argv, &client);
    if (r)
        return r;

    reader.types = types;
    reader.json = json;
    reader.data = g_string_new(NULL);
    itsmigctl_catch_sigint();
    if (!itsmig_rest_client_stream(client, "/v1/events", "text/event-stream", on_event_line,
                                   &reader, &reply, &error)) {
        r = itsmigctl_fail(error);
    } else if (reply) {
        g_autoptr(JsonObject) obj = itsmig_rest_client_parse_reply(client, reply, &error);

        /* A 2xx reply is streamed, never kept: this one is an error. */
        g_assert(!obj);
        r = itsmigctl_fail(error);
    } else if (reader.error) {
        r = itsmigctl_bad_reply(client, "GET /v1/events", reader.error);
    } else if (itsmigctl_interrupted()) {
        r = ITSMIGCTL_EXIT_INTERRUPTED;
    } else {
        r = ITSMIGCTL_EXIT_OK;
    }
    event_reader_clear(&reader);
    return r;
}

/* ---- itsmigctl domains --------------------------------------------------------------- */

static gboolean domains_check(JsonObject *page, guint first, GError **error)
{
    JsonArray *a;
    gint64 n;

    if (!itsmig_json_get_array(ITSMIGCTL_AT(NULL), page, "domains", FALSE, &a, error) ||
        !itsmig_json_get_int(ITSMIGCTL_AT(NULL), page, "total", 0, G_MAXINT64, &n, error))
        return FALSE;
    for (guint i = 0; i < json_array_get_length(a); i++) {
        g_autofree char *ctx = g_strdup_printf("domains[%u]", first + i);
        JsonObject *d;
        const char *s;

        if (!itsmig_json_get_element_object(ITSMIGCTL_AT(NULL), "domains", a, i, &d, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), d, "name", FALSE, &s, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), d, "state", FALSE, &s, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), d, "reason", FALSE, &s, error))
            return FALSE;
    }
    return TRUE;
}

static const char domains_description[] =
    "Lists the domains libvirt reports to itsmigd, by name, with their state\n"
    "and libvirt's reason for it.  --quiet prints the names only, one per line.\n"
    "\n"
    "Exit status: 0 listed; 1 itsmigd could not be asked; 2 bad arguments.\n";

/* Every domain, page by page; an empty page ends it even if the total grew
 * meanwhile.  Returns 0 or the exit status after printing why. */
static int domains_fetch(ItsmigRestClient *client, JsonArray *all, gint64 *ret_total)
{
    g_autoptr(GError) error = NULL;

    do {
        g_autofree char *path = g_strdup_printf("/v1/domains?offset=%u&limit=%d",
                                                json_array_get_length(all), DOMAINS_PAGE);
        g_autoptr(JsonObject) page = itsmigctl_call(client, "GET", path, NULL);
        JsonArray *a;

        if (!page)
            return ITSMIGCTL_EXIT_FAILURE;
        if (!domains_check(page, json_array_get_length(all), &error)) {
            g_autofree char *req = g_strdup_printf("GET %s", path);

            return itsmigctl_bad_reply(client, req, error);
        }
        a = json_object_get_array_member(page, "domains");
        *ret_total = json_object_get_int_member(page, "total");
        for (guint i = 0; i < json_array_get_length(a); i++)
            json_array_add_element(all, json_node_copy(json_array_get_element(a, i)));
        if (json_array_get_length(a) == 0)
            break;
    } while (json_array_get_length(all) < *ret_total);
    return 0;
}

/* One list, as if it had come in one reply. */
static void domains_print_json(JsonArray *all, gint64 total)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) node = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "domains");
    json_builder_add_value(b, json_node_init_array(json_node_alloc(), all));
    json_builder_set_member_name(b, "total");
    json_builder_add_int_value(b, total);
    json_builder_set_member_name(b, "offset");
    json_builder_add_int_value(b, 0);
    json_builder_set_member_name(b, "limit");
    json_builder_add_int_value(b, MAX(json_array_get_length(all), 1));
    json_builder_end_object(b);
    node = json_builder_get_root(b);
    itsmigctl_print_json(node);
}

static void domains_print(JsonArray *all, gboolean quiet)
{
    static const char *const heads[] = {"NAME", "STATE", "REASON"};
    static const char *const fields[] = {"name", "state", "reason"};
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < json_array_get_length(all); i++) {
        JsonObject *d = json_array_get_object_element(all, i);

        for (guint c = 0; c < G_N_ELEMENTS(fields); c++)
            g_ptr_array_add(cells,
                            itsmigctl_printable(json_object_get_string_member(d, fields[c])));
        if (quiet)
            printf("%s\n", (char *)cells->pdata[cells->len - G_N_ELEMENTS(fields)]);
    }
    if (quiet)
        return;
    if (cells->len == 0)
        printf("No domains.\n");
    else
        itsmigctl_print_table(heads, G_N_ELEMENTS(heads), cells, 0);
}

int itsmigctl_cmd_domains(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    gboolean json = FALSE, quiet = FALSE;
    const ItsmigctlOptions opts = {
        "domains", "- list the domains", domains_description, &conn, TRUE, 0};
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonArray) all = json_array_new();
    gint64 total = 0;
    int r;

    r = itsmigctl_list_open(&opts, "Print the domain names only", &json, &quiet, &argc, &argv,
                            &client);
    if (r)
        return r;
    r = domains_fetch(client, all, &total);
    if (r)
        return r;
    if (json)
        domains_print_json(all, total);
    else
        domains_print(all, quiet);
    return ITSMIGCTL_EXIT_OK;
}
