/* SPDX-License-Identifier: GPL-2.0-or-later */
/* itsmigctl host, preflight, matrix: questions put to itsmigd over its REST API. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/rest-client.h"
#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmigctl.h"

/* ---- text for people ---------------------------------------------------------- */

/* A JSON value as a person reads it: "0, 1", "yes", "-" for null. */
static char *value_text(JsonNode *n)
{
    if (!n || JSON_NODE_HOLDS_NULL(n))
        return g_strdup("-");
    if (JSON_NODE_HOLDS_ARRAY(n)) {
        JsonArray *a = json_node_get_array(n);
        g_autoptr(GString) s = g_string_new(NULL);

        if (json_array_get_length(a) == 0)
            return g_strdup("none");
        for (guint i = 0; i < json_array_get_length(a); i++) {
            g_autofree char *v = value_text(json_array_get_element(a, i));

            g_string_append_printf(s, "%s%s", i ? ", " : "", v);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
    }
    if (JSON_NODE_HOLDS_OBJECT(n))
        return json_to_string(n, FALSE);
    switch (json_node_get_value_type(n)) {
    case G_TYPE_STRING: return itsmigctl_printable(json_node_get_string(n));
    case G_TYPE_BOOLEAN: return g_strdup(json_node_get_boolean(n) ? "yes" : "no");
    case G_TYPE_INT64: return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
    case G_TYPE_DOUBLE: return g_strdup_printf("%g", json_node_get_double(n));
    default: return json_to_string(n, FALSE);
    }
}

/* ---- itsmigctl host ------------------------------------------------------------- */

typedef struct {
    char *field;
    char *value;
    char *source;
} CapRow;

static void cap_row_free(CapRow *r)
{
    g_free(r->field);
    g_free(r->value);
    g_free(r->source);
    g_free(r);
}

static gboolean host_rows(JsonObject *doc, GPtrArray *rows, GError **error)
{
    JsonObject *caps;
    GList *names;

    if (!itsmig_json_get_object(ITSMIGCTL_AT(NULL), doc, "caps", FALSE, &caps, error))
        return FALSE;
    /* Document order, which is the schema's. */
    names = json_object_get_members(caps);
    for (GList *l = names; l; l = l->next) {
        const char *field = l->data;
        g_autofree char *ctx = g_strdup_printf("caps.%s", field);
        JsonObject *cap;
        const char *source;
        JsonNode *probed;
        CapRow *row;

        if (!itsmig_json_get_object(ITSMIGCTL_AT("caps"), caps, field, FALSE, &cap, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), cap, "source", FALSE, &source, error)) {
            g_list_free(names);
            return FALSE;
        }
        if (!json_object_has_member(cap, "value")) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR, "\"%s.value\" is missing",
                        ctx);
            g_list_free(names);
            return FALSE;
        }
        row = g_new0(CapRow, 1);
        row->field = itsmigctl_printable(field);
        row->value = value_text(json_object_get_member(cap, "value"));
        probed = json_object_get_member(cap, "probed");
        if (probed) {
            g_autofree char *pv = value_text(probed);
            g_autofree char *src = itsmigctl_printable(source);

            row->source = g_strdup_printf("%s (conflict: probe says %s)", src, pv);
        } else {
            row->source = itsmigctl_printable(source);
        }
        g_ptr_array_add(rows, row);
    }
    g_list_free(names);
    return TRUE;
}

static gboolean host_check(JsonObject *doc, GError **error)
{
    const char *schema, *hostname, *reason;
    gboolean has_version, available;
    gint64 version = 0;
    JsonObject *probe;

    if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), doc, "schema", FALSE, &schema, error) ||
        !itsmig_json_get_int_or_null(ITSMIGCTL_AT(NULL), doc, "version", G_MININT64, G_MAXINT64,
                                     &has_version, &version, error) ||
        !itsmig_json_get_string(ITSMIGCTL_AT(NULL), doc, "hostname", FALSE, &hostname, error) ||
        !itsmig_json_get_object(ITSMIGCTL_AT(NULL), doc, "probe", FALSE, &probe, error) ||
        !itsmig_json_get_bool(ITSMIGCTL_AT("probe"), probe, "available", &available, error))
        return FALSE;
    if (strcmp(schema, "itsmig-host-caps") != 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                    "\"schema\" is '%s', not 'itsmig-host-caps'", schema);
        return FALSE;
    }
    if (!has_version || version != 1) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                    "the host capabilities document has version %" G_GINT64_FORMAT
                    "; this itsmigctl reads version 1",
                    has_version ? version : -1);
        return FALSE;
    }
    if (!available && json_object_has_member(probe, "reason") &&
        !itsmig_json_get_string(ITSMIGCTL_AT("probe"), probe, "reason", TRUE, &reason, error))
        return FALSE;
    return TRUE;
}

/* The register set and the vITS facts, from an itsmigd that sends them
 * (minor version 1); an older one says nothing of them. */
static void host_print_regs(JsonObject *doc)
{
    JsonNode *rn = json_object_get_member(doc, "vcpu_registers");
    JsonNode *sn = json_object_get_member(doc, "its_semantics");

    if (rn && JSON_NODE_HOLDS_OBJECT(rn)) {
        JsonObject *r = json_node_get_object(rn);
        JsonNode *count = json_object_get_member(r, "count");

        if (count && JSON_NODE_HOLDS_VALUE(count) &&
            json_node_get_value_type(count) == G_TYPE_INT64 &&
            itsmig_json_lookup_string(r, "digest")) {
            g_autofree char *digest = itsmigctl_printable(itsmig_json_lookup_string(r, "digest"));

            printf("vCPU registers: %" G_GINT64_FORMAT " (%s)\n", json_node_get_int(count), digest);
        } else {
            g_autofree char *reason =
                itsmigctl_printable(itsmig_json_lookup_string(r, "unavailable_reason")
                                        ? itsmig_json_lookup_string(r, "unavailable_reason")
                                        : "no reason given");

            printf("vCPU registers: unknown: %s\n", reason);
        }
    }
    if (sn && JSON_NODE_HOLDS_OBJECT(sn)) {
        JsonObject *o = json_node_get_object(sn);

        if (g_strcmp0(itsmig_json_lookup_string(o, "source"), "probed") == 0) {
            JsonNode *save = json_object_get_member(o, "save_unreachable_device");
            JsonNode *baser = json_object_get_member(o, "baser_write");
            gint64 err = -1;
            gboolean keeps = FALSE;

            if (save && JSON_NODE_HOLDS_OBJECT(save))
                err = json_object_get_int_member_with_default(json_node_get_object(save), "errno",
                                                              -1);
            if (baser && JSON_NODE_HOLDS_OBJECT(baser))
                keeps = json_object_get_boolean_member_with_default(json_node_get_object(baser),
                                                                    "keeps_mappings", FALSE);
            printf("vITS: a save with an unreachable device %s; a GITS_BASER write %s the "
                   "mappings\n",
                   err == 0  ? "skips it"
                   : err > 0 ? "fails"
                             : "(not said)",
                   keeps ? "keeps" : "drops");
        } else {
            g_autofree char *reason = itsmigctl_printable(
                itsmig_json_lookup_string(o, "reason") ? itsmig_json_lookup_string(o, "reason")
                                                       : "no reason given");

            printf("vITS behaviour: unknown: %s\n", reason);
        }
    }
}

static void host_print(JsonObject *doc, GPtrArray *rows)
{
    JsonObject *probe = json_object_get_object_member(doc, "probe");
    JsonNode *libvirt = json_object_get_member(doc, "libvirt");
    g_autofree char *hostname = itsmigctl_printable(json_object_get_string_member(doc, "hostname"));
    glong wf = strlen("FIELD"), wv = strlen("VALUE");

    printf("Host %s\n", hostname);
    if (json_object_get_boolean_member(probe, "available")) {
        printf("KVM probe: available\n");
    } else {
        JsonNode *r = json_object_get_member(probe, "reason");
        g_autofree char *reason =
            r && !JSON_NODE_HOLDS_NULL(r) ? itsmigctl_printable(json_node_get_string(r)) : NULL;

        printf("KVM probe: not available%s%s\n", reason ? ": " : "", reason ? reason : "");
    }
    if (libvirt && JSON_NODE_HOLDS_OBJECT(libvirt)) {
        JsonObject *lo = json_node_get_object(libvirt);
        JsonNode *uri = json_object_get_member(lo, "uri");
        JsonNode *connected = json_object_get_member(lo, "connected");

        if (uri && json_node_get_value_type(uri) == G_TYPE_STRING && connected &&
            json_node_get_value_type(connected) == G_TYPE_BOOLEAN) {
            g_autofree char *u = itsmigctl_printable(json_node_get_string(uri));

            printf("libvirt: %s (%s)\n", u,
                   json_node_get_boolean(connected) ? "connected" : "not connected");
        }
    }
    host_print_regs(doc);
    putchar('\n');

    for (guint i = 0; i < rows->len; i++) {
        CapRow *r = rows->pdata[i];

        wf = MAX(wf, itsmigctl_text_width(r->field));
        wv = MAX(wv, itsmigctl_text_width(r->value));
    }
    itsmigctl_print_padded("FIELD", wf + 2);
    itsmigctl_print_padded("VALUE", wv + 2);
    printf("SOURCE\n");
    for (guint i = 0; i < rows->len; i++) {
        CapRow *r = rows->pdata[i];

        itsmigctl_print_padded(r->field, wf + 2);
        itsmigctl_print_padded(r->value, wv + 2);
        printf("%s\n", r->source);
    }
}

static const char host_description[] =
    "Asks itsmigd for this host's capabilities for ITS migration: each field with\n"
    "its value and where it comes from (probed, declared in itsmigd.conf, or\n"
    "unknown), and the conflicts between declared and probed values.\n"
    "'itsmigctl host probe' probes the local kernel instead, without itsmigd.\n";

int itsmigctl_cmd_daemon_host(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print itsmigd's JSON document", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- show this host's capabilities");
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonObject) doc = NULL;
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)cap_row_free);
    g_autoptr(GError) error = NULL;
    int r;

    g_set_prgname("itsmigctl host");
    g_option_context_add_main_entries(ctx, entries, NULL);
    itsmigctl_conn_add_entries(ctx, &conn, TRUE);
    g_option_context_set_description(ctx, host_description);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return itsmigctl_usage_error("host: %s", error->message);
    if (argc > 1)
        return itsmigctl_usage_error("host: unexpected argument '%s' (subcommands: probe)",
                                     argv[1]);
    r = itsmigctl_conn_open(&conn, "host", &client);
    if (r)
        return r;

    doc = itsmigctl_call(client, "GET", "/v1/host", NULL);
    if (!doc)
        return ITSMIGCTL_EXIT_FAILURE;
    if (!host_check(doc, &error) || !host_rows(doc, rows, &error))
        return itsmigctl_bad_reply(client, "GET /v1/host", error);
    if (json) {
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), doc);

        itsmigctl_print_json(node);
    } else {
        host_print(doc, rows);
    }
    return ITSMIGCTL_EXIT_OK;
}

/* ---- itsmigctl preflight -------------------------------------------------------- */

static const char preflight_description[] =
    "Asks itsmigd whether DOMAIN, on this host, can migrate to the peer PEER (a\n"
    "name from itsmigd.conf) without losing its ITS state or interrupts: the\n"
    "verdict, with each blocker and warning, its code, what it is about and a hint.\n"
    "\n"
    "Exit status: 0 allowed, 4 blocked, 1 the check could not be made, 2 bad\n"
    "arguments.\n";

int itsmigctl_cmd_preflight(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    g_autofree char *to = NULL;
    gboolean no_quiesce = FALSE, json = FALSE;
    GOptionEntry entries[] = {
        {"to", 0, 0, G_OPTION_ARG_STRING, &to, "The destination: a peer itsmigd knows", "PEER"},
        {"no-quiesce", 0, 0, G_OPTION_ARG_NONE, &no_quiesce,
         "Judge a migration that does not detach unmigratable devices (plain virsh migrate)", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print itsmigd's JSON verdict", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("DOMAIN --to PEER - check a migration");
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) body = NULL;
    g_autoptr(JsonObject) verdict = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *escaped = NULL;
    g_autofree char *path = NULL;
    int r;

    g_set_prgname("itsmigctl preflight");
    g_option_context_add_main_entries(ctx, entries, NULL);
    itsmigctl_conn_add_entries(ctx, &conn, TRUE);
    g_option_context_set_description(ctx, preflight_description);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return itsmigctl_usage_error("preflight: %s", error->message);
    if (argc < 2)
        return itsmigctl_usage_error("preflight: which domain? (itsmigctl preflight DOMAIN "
                                     "--to PEER)");
    if (argc > 2)
        return itsmigctl_usage_error("preflight: unexpected argument '%s'", argv[2]);
    if (!*argv[1])
        return itsmigctl_usage_error("preflight: the domain name is empty");
    if (!g_utf8_validate(argv[1], -1, NULL))
        return itsmigctl_usage_error("preflight: the domain name is not valid UTF-8");
    if (!to || !*to)
        return itsmigctl_usage_error("preflight: --to PEER is required (a peer from "
                                     "itsmigd.conf)");
    if (!g_utf8_validate(to, -1, NULL))
        return itsmigctl_usage_error("preflight: --to is not valid UTF-8");
    r = itsmigctl_conn_open(&conn, "preflight", &client);
    if (r)
        return r;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "destination");
    json_builder_add_string_value(b, to);
    json_builder_set_member_name(b, "quiesce");
    json_builder_add_boolean_value(b, !no_quiesce);
    json_builder_end_object(b);
    body = json_builder_get_root(b);

    escaped = g_uri_escape_string(argv[1], NULL, FALSE);
    path = g_strdup_printf("/v1/domains/%s/preflight", escaped);
    verdict = itsmigctl_call(client, "POST", path, body);
    if (!verdict)
        return ITSMIGCTL_EXIT_FAILURE;
    if (!itsmigctl_verdict_check(verdict, NULL, TRUE, &error)) {
        g_autofree char *req = g_strdup_printf("POST %s", path);

        return itsmigctl_bad_reply(client, req, error);
    }
    if (json) {
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), verdict);

        itsmigctl_print_json(node);
    } else {
        itsmigctl_verdict_print(verdict, NULL, NULL);
    }
    return json_object_get_boolean_member(verdict, "allowed") ? ITSMIGCTL_EXIT_OK
                                                              : ITSMIGCTL_EXIT_BLOCKED;
}

/* ---- itsmigctl matrix ----------------------------------------------------------- */

static gboolean matrix_check(JsonObject *m, GError **error)
{
    JsonArray *hosts, *domains;
    const char *s;

    if (!itsmig_json_get_string(ITSMIGCTL_AT(NULL), m, "source", FALSE, &s, error) ||
        !itsmig_json_get_array(ITSMIGCTL_AT(NULL), m, "hosts", FALSE, &hosts, error) ||
        !itsmig_json_get_array(ITSMIGCTL_AT(NULL), m, "domains", FALSE, &domains, error))
        return FALSE;
    for (guint i = 0; i < json_array_get_length(hosts); i++) {
        g_autofree char *ctx = g_strdup_printf("hosts[%u]", i);
        JsonObject *h, *err;

        if (!itsmig_json_get_element_object(ITSMIGCTL_AT(NULL), "hosts", hosts, i, &h, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), h, "name", FALSE, &s, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), h, "hostname", TRUE, &s, error) ||
            !itsmig_json_get_object(ITSMIGCTL_AT(ctx), h, "error", TRUE, &err, error))
            return FALSE;
        if (err) {
            g_autofree char *ectx = g_strdup_printf("hosts[%u].error", i);

            if (!itsmig_json_get_string(ITSMIGCTL_AT(ectx), err, "code", FALSE, &s, error) ||
                !itsmig_json_get_string(ITSMIGCTL_AT(ectx), err, "message", FALSE, &s, error))
                return FALSE;
        }
    }
    for (guint i = 0; i < json_array_get_length(domains); i++) {
        g_autofree char *ctx = g_strdup_printf("domains[%u]", i);
        JsonArray *cells, *codes;
        JsonObject *d;

        if (!itsmig_json_get_element_object(ITSMIGCTL_AT(NULL), "domains", domains, i, &d, error) ||
            !itsmig_json_get_string(ITSMIGCTL_AT(ctx), d, "name", FALSE, &s, error) ||
            !itsmig_json_get_array(ITSMIGCTL_AT(ctx), d, "cells", FALSE, &cells, error))
            return FALSE;
        for (guint j = 0; j < json_array_get_length(cells); j++) {
            g_autofree char *cctx = g_strdup_printf("domains[%u].cells[%u]", i, j);
            g_autofree char *what = g_strdup_printf("%s.cells", ctx);
            JsonObject *c;
            gboolean allowed;

            if (!itsmig_json_get_element_object(ITSMIGCTL_AT(NULL), what, cells, j, &c, error) ||
                !itsmig_json_get_string(ITSMIGCTL_AT(cctx), c, "host", FALSE, &s, error) ||
                !itsmig_json_get_bool(ITSMIGCTL_AT(cctx), c, "allowed", &allowed, error) ||
                !itsmig_json_get_string_array(ITSMIGCTL_AT(cctx), c, "blockers", FALSE, &codes,
                                              error) ||
                !itsmig_json_get_string_array(ITSMIGCTL_AT(cctx), c, "warnings", FALSE, &codes,
                                              error))
                return FALSE;
            if (json_object_has_member(c, "error") &&
                !itsmig_json_get_string(ITSMIGCTL_AT(cctx), c, "error", TRUE, &s, error))
                return FALSE;
            /* Absent from an itsmigd that predates them. */
            if (json_object_has_member(c, "back_allowed") &&
                (!itsmig_json_get_bool(ITSMIGCTL_AT(cctx), c, "back_allowed", &allowed, error) ||
                 !itsmig_json_get_string_array(ITSMIGCTL_AT(cctx), c, "back_blockers", FALSE,
                                               &codes, error)))
                return FALSE;
        }
    }
    return TRUE;
}

typedef enum {
    CELL_NONE, /* no cell for that host */
    CELL_OK,
    CELL_WARN,
    CELL_BLOCKED,
    CELL_ERROR,
} CellKind;

static const char *const cell_labels[] = {"-", "ok", "ok*", "NO", "ERR"};

static JsonObject *find_cell(JsonObject *domain, const char *host)
{
    JsonArray *cells = json_object_get_array_member(domain, "cells");

    for (guint i = 0; i < json_array_get_length(cells); i++) {
        JsonObject *c = json_array_get_object_element(cells, i);

        if (strcmp(json_object_get_string_member(c, "host"), host) == 0)
            return c;
    }
    return NULL;
}

static const char *cell_error(JsonObject *c)
{
    JsonNode *e = json_object_get_member(c, "error");

    return e && !JSON_NODE_HOLDS_NULL(e) ? json_node_get_string(e) : NULL;
}

static CellKind cell_kind(JsonObject *c)
{
    if (!c)
        return CELL_NONE;
    if (cell_error(c))
        return CELL_ERROR;
    if (!json_object_get_boolean_member(c, "allowed"))
        return CELL_BLOCKED;
    if (json_array_get_length(json_object_get_array_member(c, "warnings")) > 0)
        return CELL_WARN;
    return CELL_OK;
}

static gboolean host_failed(JsonObject *host)
{
    JsonNode *err = json_object_get_member(host, "error");

    return err && !JSON_NODE_HOLDS_NULL(err);
}

/* The cell of @dom for @host; a host that could not be asked makes every one ERR. */
static CellKind matrix_cell(JsonObject *host, JsonObject *dom, JsonObject **ret_cell)
{
    JsonObject *c = find_cell(dom, json_object_get_string_member(host, "name"));

    *ret_cell = c;
    return host_failed(host) ? CELL_ERROR : cell_kind(c);
}

static char *codes_text(JsonArray *a)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint i = 0; i < json_array_get_length(a); i++) {
        g_autofree char *code = itsmigctl_printable(json_array_get_string_element(a, i));

        g_string_append_printf(s, "%s%s", i ? ", " : "", code);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Prints the table and the notes below it; returns the exit status. */
static int matrix_print(JsonObject *m, gboolean print)
{
    JsonArray *hosts = json_object_get_array_member(m, "hosts");
    JsonArray *domains = json_object_get_array_member(m, "domains");
    guint nh = json_array_get_length(hosts), nd = json_array_get_length(domains);
    g_autofree char *source = itsmigctl_printable(json_object_get_string_member(m, "source"));
    g_autoptr(GString) blocked = g_string_new(NULL);
    g_autoptr(GString) warned = g_string_new(NULL);
    g_autoptr(GString) one_way = g_string_new(NULL);
    g_autoptr(GString) errors = g_string_new(NULL);
    g_autofree glong *width = g_new0(glong, nh + 1);
    gboolean any_blocked = FALSE, any_error = FALSE, any_missing = FALSE;

    for (guint h = 0; h < nh; h++) {
        JsonObject *host = json_array_get_object_element(hosts, h);
        g_autofree char *name = itsmigctl_printable(json_object_get_string_member(host, "name"));

        width[h + 1] = MAX(itsmigctl_text_width(name), 3);
        if (host_failed(host)) {
            JsonObject *eo = json_object_get_object_member(host, "error");
            g_autofree char *code = itsmigctl_printable(json_object_get_string_member(eo, "code"));
            g_autofree char *msg =
                itsmigctl_printable(json_object_get_string_member(eo, "message"));

            any_error = TRUE;
            g_string_append_printf(errors, "  %s: %s: %s\n", name, code, msg);
        }
    }
    width[0] = strlen("DOMAIN");
    for (guint d = 0; d < nd; d++) {
        JsonObject *dom = json_array_get_object_element(domains, d);
        g_autofree char *name = itsmigctl_printable(json_object_get_string_member(dom, "name"));

        width[0] = MAX(width[0], itsmigctl_text_width(name));
        for (guint h = 0; h < nh; h++) {
            JsonObject *host = json_array_get_object_element(hosts, h);
            g_autofree char *hn = itsmigctl_printable(json_object_get_string_member(host, "name"));
            JsonObject *c;
            CellKind k = matrix_cell(host, dom, &c);

            /* From an itsmigd that judges the way back too. */
            if ((k == CELL_OK || k == CELL_WARN) && json_object_has_member(c, "back_allowed") &&
                !json_object_get_boolean_member(c, "back_allowed")) {
                g_autofree char *codes =
                    codes_text(json_object_get_array_member(c, "back_blockers"));

                g_string_append_printf(one_way, "  %s %s %s, not back: %s\n", name,
                                       itsmigctl_arrow(), hn, *codes ? codes : "(no code given)");
            }
            switch (k) {
            case CELL_BLOCKED: {
                g_autofree char *codes = codes_text(json_object_get_array_member(c, "blockers"));

                any_blocked = TRUE;
                g_string_append_printf(blocked, "  %s %s %s: %s\n", name, itsmigctl_arrow(), hn,
                                       *codes ? codes : "(no code given)");
                break;
            }
            case CELL_WARN: {
                g_autofree char *codes = codes_text(json_object_get_array_member(c, "warnings"));

                g_string_append_printf(warned, "  %s %s %s: %s\n", name, itsmigctl_arrow(), hn,
                                       codes);
                break;
            }
            case CELL_ERROR: {
                any_error = TRUE;
                /* A host's own error is listed once, above. */
                if (!host_failed(host)) {
                    g_autofree char *code = itsmigctl_printable(cell_error(c));

                    g_string_append_printf(errors, "  %s %s %s: %s\n", name, itsmigctl_arrow(), hn,
                                           code);
                }
                break;
            }
            case CELL_NONE: any_missing = TRUE; break;
            default: break;
            }
        }
    }

    if (print) {
        if (nh == 0) {
            printf("No destinations to check: itsmigd on %s has no peers configured.\n", source);
        } else if (nd == 0) {
            printf("No domains on %s.\n", source);
        } else {
            printf("Migrations from %s (rows: domains, columns: destinations)\n\n", source);
            itsmigctl_print_padded("DOMAIN", width[0] + 2);
            for (guint h = 0; h < nh; h++) {
                g_autofree char *name = itsmigctl_printable(
                    json_object_get_string_member(json_array_get_object_element(hosts, h), "name"));

                itsmigctl_print_padded(name, h + 1 < nh ? width[h + 1] + 2 : 0);
            }
            putchar('\n');
            for (guint d = 0; d < nd; d++) {
                JsonObject *dom = json_array_get_object_element(domains, d);
                g_autofree char *name =
                    itsmigctl_printable(json_object_get_string_member(dom, "name"));

                itsmigctl_print_padded(name, width[0] + 2);
                for (guint h = 0; h < nh; h++) {
                    JsonObject *c;
                    CellKind k = matrix_cell(json_array_get_object_element(hosts, h), dom, &c);

                    itsmigctl_print_padded(cell_labels[k], h + 1 < nh ? width[h + 1] + 2 : 0);
                }
                putchar('\n');
            }
            printf(
                "\nok: allowed   ok*: allowed, with warnings   NO: blocked   ERR: not checked%s\n",
                any_missing ? "   -: no verdict" : "");
        }
        if (blocked->len)
            printf("\nBlocked:\n%s", blocked->str);
        if (warned->len)
            printf("\nWarnings:\n%s", warned->str);
        if (one_way->len)
            printf("\nOne-way (allowed there, blocked on the way back):\n%s", one_way->str);
        if (errors->len)
            printf("\nNot checked:\n%s", errors->str);
    }
    if (any_blocked)
        return ITSMIGCTL_EXIT_BLOCKED;
    return any_error ? ITSMIGCTL_EXIT_FAILURE : ITSMIGCTL_EXIT_OK;
}

static const char matrix_description[] =
    "Asks itsmigd, for every domain on this host, whether it can migrate to each\n"
    "peer (all peers in itsmigd.conf, or those named with --peer), and prints a\n"
    "table: ok allowed, ok* allowed with warnings, NO blocked, ERR not checked (the\n"
    "peer could not be asked), with the codes behind each NO, ok* and ERR below,\n"
    "and the one-way moves: allowed there, blocked on the way back.\n"
    "\n"
    "Exit status: 0 every migration is allowed, 4 at least one is blocked, 1 none\n"
    "is blocked but some could not be checked, or the matrix could not be had at\n"
    "all, 2 bad arguments.\n";

int itsmigctl_cmd_matrix(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    g_auto(GStrv) peers = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, &peers,
         "Check this peer only (repeatable; default: every peer)", "NAME"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print itsmigd's JSON matrix", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- which domain can migrate where");
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) body = NULL;
    g_autoptr(JsonObject) m = NULL;
    g_autoptr(GError) error = NULL;
    int r;

    g_set_prgname("itsmigctl matrix");
    g_option_context_add_main_entries(ctx, entries, NULL);
    itsmigctl_conn_add_entries(ctx, &conn, TRUE);
    g_option_context_set_description(ctx, matrix_description);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return itsmigctl_usage_error("matrix: %s", error->message);
    if (argc > 1)
        return itsmigctl_usage_error("matrix: unexpected argument '%s'", argv[1]);
    for (char **p = peers; p && *p; p++) {
        if (!**p)
            return itsmigctl_usage_error("matrix: --peer needs a name");
        if (!g_utf8_validate(*p, -1, NULL))
            return itsmigctl_usage_error("matrix: --peer is not valid UTF-8");
    }
    r = itsmigctl_conn_open(&conn, "matrix", &client);
    if (r)
        return r;

    json_builder_begin_object(b);
    if (peers && peers[0]) {
        itsmig_json_add_strv(b, "peers", (const char *const *)peers);
    }
    json_builder_end_object(b);
    body = json_builder_get_root(b);

    m = itsmigctl_call(client, "POST", "/v1/compat/matrix", body);
    if (!m)
        return ITSMIGCTL_EXIT_FAILURE;
    if (!matrix_check(m, &error))
        return itsmigctl_bad_reply(client, "POST /v1/compat/matrix", error);
    if (json) {
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), m);

        itsmigctl_print_json(node);
    }
    return matrix_print(m, !json);
}
