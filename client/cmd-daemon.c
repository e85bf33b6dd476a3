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

static const char *const host_heads[] = {"FIELD", "VALUE", "SOURCE"};

/* Three cells a capability: its name, its value and where it comes from. */
static gboolean host_rows(JsonObject *doc, GPtrArray *cells, GError **error)
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
        g_ptr_array_add(cells, itsmigctl_printable(field));
        g_ptr_array_add(cells, value_text(json_object_get_member(cap, "value")));
        probed = json_object_get_member(cap, "probed");
        if (probed) {
            g_autofree char *pv = value_text(probed);
            g_autofree char *src = itsmigctl_printable(source);

            g_ptr_array_add(cells, g_strdup_printf("%s (conflict: probe says %s)", src, pv));
        } else {
            g_ptr_array_add(cells, itsmigctl_printable(source));
        }
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

/* The machine types, from an itsmigd that sends them (minor version 2): how
 * many, and the newest virt-X.Y, which is what a guest moving here needs. */
static void host_print_machine_types(JsonObject *doc)
{
    JsonNode *mn = json_object_get_member(doc, "machine_types");
    JsonObject *o;
    JsonNode *value;
    const char *newest = NULL;
    guint newest_major = 0, newest_minor = 0;
    guint n;

    if (!mn || !JSON_NODE_HOLDS_OBJECT(mn))
        return;
    o = json_node_get_object(mn);
    value = json_object_get_member(o, "value");
    if (g_strcmp0(itsmig_json_lookup_string(o, "source"), "probed") != 0 || !value ||
        !JSON_NODE_HOLDS_ARRAY(value)) {
        g_autofree char *reason = itsmigctl_printable(itsmig_json_lookup_string(o, "reason")
                                                          ? itsmig_json_lookup_string(o, "reason")
                                                          : "no reason given");

        printf("QEMU machine types: unknown: %s\n", reason);
        return;
    }
    n = json_array_get_length(json_node_get_array(value));
    for (guint i = 0; i < n; i++) {
        JsonNode *e = json_array_get_element(json_node_get_array(value), i);
        const char *name = JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING
                               ? json_node_get_string(e)
                               : NULL;
        guint major, minor;
        char end;

        if (name && sscanf(name, "virt-%u.%u%c", &major, &minor, &end) == 2 &&
            (!newest || major > newest_major || (major == newest_major && minor > newest_minor))) {
            newest = name;
            newest_major = major;
            newest_minor = minor;
        }
    }
    {
        g_autofree char *arch = itsmigctl_printable(
            itsmig_json_lookup_string(o, "arch") ? itsmig_json_lookup_string(o, "arch") : "?");
        g_autofree char *virt = newest ? itsmigctl_printable(newest) : NULL;

        printf("QEMU machine types for %s guests: %u%s%s%s\n", arch, n,
               virt ? " (newest virt: " : "", virt ? virt : "", virt ? ")" : "");
    }
}

static void host_print(JsonObject *doc, GPtrArray *cells)
{
    JsonObject *probe = json_object_get_object_member(doc, "probe");
    JsonNode *libvirt = json_object_get_member(doc, "libvirt");
    g_autofree char *hostname = itsmigctl_printable(json_object_get_string_member(doc, "hostname"));

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
    host_print_machine_types(doc);
    putchar('\n');
    itsmigctl_print_table(host_heads, G_N_ELEMENTS(host_heads), cells, 0);
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
    const ItsmigctlOptions opts = {
        "host", "- show this host's capabilities", host_description, &conn, TRUE, -1};
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonObject) doc = NULL;
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    int r;

    r = itsmigctl_parse_options(&opts, entries, &argc, &argv);
    if (r)
        return r;
    if (argc > 1)
        return itsmigctl_usage_error("host: unexpected argument '%s' (subcommands: probe)",
                                     argv[1]);
    r = itsmigctl_conn_open(&conn, "host", &client);
    if (r)
        return r;

    doc = itsmigctl_call(client, "GET", "/v1/host", NULL);
    if (!doc)
        return ITSMIGCTL_EXIT_FAILURE;
    if (!host_check(doc, &error) || !host_rows(doc, cells, &error))
        return itsmigctl_bad_reply(client, "GET /v1/host", error);
    if (json)
        itsmigctl_print_object(doc);
    else
        host_print(doc, cells);
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
    const ItsmigctlOptions opts = {
        "preflight", "DOMAIN --to PEER - check a migration", preflight_description, &conn, TRUE, 1};
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) body = NULL;
    g_autoptr(JsonObject) verdict = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *escaped = NULL;
    g_autofree char *path = NULL;
    int r;

    r = itsmigctl_parse_options(&opts, entries, &argc, &argv);
    if (r)
        return r;
    if (argc < 2)
        return itsmigctl_usage_error("preflight: which domain? (itsmigctl preflight DOMAIN "
                                     "--to PEER)");
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
    if (json)
        itsmigctl_print_object(verdict);
    else
        itsmigctl_verdict_print(verdict, NULL, NULL);
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

/* What the notes below the table gather while the cells are read. */
typedef struct {
    GString *blocked;
    GString *warned;
    GString *one_way;
    GString *errors;
    gboolean any_blocked, any_error, any_missing;
} MatrixNotes;

static void matrix_notes_clear(MatrixNotes *n)
{
    g_string_free(n->blocked, TRUE);
    g_string_free(n->warned, TRUE);
    g_string_free(n->one_way, TRUE);
    g_string_free(n->errors, TRUE);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MatrixNotes, matrix_notes_clear)

/* "  DOMAIN -> HOST: CODES" under @list; @codes NULL: the cell's error. */
static void matrix_note(GString *list, const char *dom, const char *host, const char *codes)
{
    g_string_append_printf(list, "  %s %s %s: %s\n", dom, itsmigctl_arrow(), host, codes);
}

static void matrix_note_host(MatrixNotes *n, JsonObject *host)
{
    JsonObject *eo = json_object_get_object_member(host, "error");
    g_autofree char *name = itsmigctl_printable(json_object_get_string_member(host, "name"));
    g_autofree char *code = itsmigctl_printable(json_object_get_string_member(eo, "code"));
    g_autofree char *msg = itsmigctl_printable(json_object_get_string_member(eo, "message"));

    n->any_error = TRUE;
    g_string_append_printf(n->errors, "  %s: %s: %s\n", name, code, msg);
}

static void matrix_note_cell(MatrixNotes *n, const char *dom, JsonObject *host, JsonObject *c,
                             CellKind k)
{
    g_autofree char *hn = itsmigctl_printable(json_object_get_string_member(host, "name"));
    g_autofree char *codes = NULL;

    /* From an itsmigd that judges the way back too. */
    if ((k == CELL_OK || k == CELL_WARN) && json_object_has_member(c, "back_allowed") &&
        !json_object_get_boolean_member(c, "back_allowed")) {
        g_autofree char *back = codes_text(json_object_get_array_member(c, "back_blockers"));
        g_autofree char *text = g_strdup_printf("%s, not back", hn);

        matrix_note(n->one_way, dom, text, *back ? back : "(no code given)");
    }
    switch (k) {
    case CELL_BLOCKED:
        codes = codes_text(json_object_get_array_member(c, "blockers"));
        n->any_blocked = TRUE;
        matrix_note(n->blocked, dom, hn, *codes ? codes : "(no code given)");
        break;
    case CELL_WARN:
        codes = codes_text(json_object_get_array_member(c, "warnings"));
        matrix_note(n->warned, dom, hn, codes);
        break;
    case CELL_ERROR:
        n->any_error = TRUE;
        /* A host's own error is listed once, above. */
        if (!host_failed(host)) {
            codes = itsmigctl_printable(cell_error(c));
            matrix_note(n->errors, dom, hn, codes);
        }
        break;
    case CELL_NONE: n->any_missing = TRUE; break;
    default: break;
    }
}

/* The table's cells, a row per domain: its name, then a label per host;
 * the notes gathered on the way. */
static void matrix_cells(JsonArray *hosts, JsonArray *domains, GPtrArray *cells, MatrixNotes *n)
{
    guint nh = json_array_get_length(hosts), nd = json_array_get_length(domains);

    for (guint h = 0; h < nh; h++) {
        JsonObject *host = json_array_get_object_element(hosts, h);

        if (host_failed(host))
            matrix_note_host(n, host);
    }
    for (guint d = 0; d < nd; d++) {
        JsonObject *dom = json_array_get_object_element(domains, d);
        char *name = itsmigctl_printable(json_object_get_string_member(dom, "name"));

        g_ptr_array_add(cells, name);
        for (guint h = 0; h < nh; h++) {
            JsonObject *host = json_array_get_object_element(hosts, h);
            JsonObject *c;
            CellKind k = matrix_cell(host, dom, &c);

            matrix_note_cell(n, name, host, c, k);
            g_ptr_array_add(cells, g_strdup(cell_labels[k]));
        }
    }
}

static void matrix_print_table(JsonObject *m, GPtrArray *cells, const MatrixNotes *n)
{
    JsonArray *hosts = json_object_get_array_member(m, "hosts");
    guint nh = json_array_get_length(hosts);
    g_autofree char *source = itsmigctl_printable(json_object_get_string_member(m, "source"));
    g_autoptr(GPtrArray) heads = g_ptr_array_new_with_free_func(g_free);

    if (nh == 0) {
        printf("No destinations to check: itsmigd on %s has no peers configured.\n", source);
        return;
    }
    if (json_array_get_length(json_object_get_array_member(m, "domains")) == 0) {
        printf("No domains on %s.\n", source);
        return;
    }
    printf("Migrations from %s (rows: domains, columns: destinations)\n\n", source);
    g_ptr_array_add(heads, g_strdup("DOMAIN"));
    for (guint h = 0; h < nh; h++)
        g_ptr_array_add(heads, itsmigctl_printable(json_object_get_string_member(
                                   json_array_get_object_element(hosts, h), "name")));
    /* A column at least as wide as its widest label, "ok*" or "ERR". */
    itsmigctl_print_table((const char *const *)heads->pdata, nh + 1, cells, 3);
    printf("\nok: allowed   ok*: allowed, with warnings   NO: blocked   ERR: not checked%s\n",
           n->any_missing ? "   -: no verdict" : "");
}

/* Prints the table and the notes below it; returns the exit status. */
static int matrix_print(JsonObject *m, gboolean print)
{
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    g_auto(MatrixNotes)
        n = {g_string_new(NULL), g_string_new(NULL), g_string_new(NULL), g_string_new(NULL)};

    matrix_cells(json_object_get_array_member(m, "hosts"),
                 json_object_get_array_member(m, "domains"), cells, &n);
    if (print) {
        matrix_print_table(m, cells, &n);
        if (n.blocked->len)
            printf("\nBlocked:\n%s", n.blocked->str);
        if (n.warned->len)
            printf("\nWarnings:\n%s", n.warned->str);
        if (n.one_way->len)
            printf("\nOne-way (allowed there, blocked on the way back):\n%s", n.one_way->str);
        if (n.errors->len)
            printf("\nNot checked:\n%s", n.errors->str);
    }
    if (n.any_blocked)
        return ITSMIGCTL_EXIT_BLOCKED;
    return n.any_error ? ITSMIGCTL_EXIT_FAILURE : ITSMIGCTL_EXIT_OK;
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
    const ItsmigctlOptions opts = {
        .name = "matrix",
        .parameter = "- which domain can migrate where",
        .description = matrix_description,
        .conn = &conn,
        .conn_timeout = TRUE,
        .max_args = 0,
        .values = &peers,
        .values_option = "--peer",
        .values_what = "a name",
    };
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) body = NULL;
    g_autoptr(JsonObject) m = NULL;
    g_autoptr(GError) error = NULL;
    int r;

    r = itsmigctl_open(&opts, entries, &argc, &argv, &client);
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
    if (json)
        itsmigctl_print_object(m);
    return matrix_print(m, !json);
}
