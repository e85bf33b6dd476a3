/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "itsmig/domain-profile.h"
#include "daemon/domain-registry.h"
#include "daemon/log.h"
#include "daemon/virt-names.h"

#define UUID_A "11111111-1111-1111-1111-111111111111"
#define UUID_B "22222222-2222-2222-2222-222222222222"
#define UUID_C "33333333-3333-3333-3333-333333333333"

/* ---- helpers ----------------------------------------------------------------- */

static gboolean update(ItsmigdRegistry *reg, const char *uuid, const char *name, int state,
                       int reason, int *ret_old_state)
{
    ItsmigdDomainInfo info = {
        .name = name,
        .uuid = uuid,
        .id = state == VIR_DOMAIN_SHUTOFF ? -1 : 7,
        .state = state,
        .reason = reason,
        .persistent = TRUE,
    };

    return itsmigd_registry_update(reg, &info, ret_old_state);
}

static JsonObject *parse_object(GBytes *body, JsonParser **ret_parser)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    gsize len;
    const char *data;

    g_assert_nonnull(body);
    data = g_bytes_get_data(body, &len);
    if (!json_parser_load_from_data(parser, data, (gssize)len, &error))
        g_error("not JSON (%s): %.*s", error->message, (int)len, data);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
    *ret_parser = g_steal_pointer(&parser);
    return json_node_get_object(json_parser_get_root(*ret_parser));
}

/* The names in a list_json body, joined by ','; *@ret_total is its "total". */
static char *list_names(ItsmigdRegistry *reg, int state, guint offset, guint limit,
                        gint64 *ret_total)
{
    g_autoptr(GBytes) body = itsmigd_registry_list_json(reg, state, offset, limit);
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *root = parse_object(body, &parser);
    JsonArray *domains = json_object_get_array_member(root, "domains");
    g_autoptr(GString) names = g_string_new(NULL);

    for (guint i = 0; i < json_array_get_length(domains); i++) {
        JsonObject *d = json_array_get_object_element(domains, i);

        if (names->len)
            g_string_append_c(names, ',');
        g_string_append(names, json_object_get_string_member(d, "name"));
    }
    if (ret_total)
        *ret_total = json_object_get_int_member(root, "total");
    return g_string_free(g_steal_pointer(&names), FALSE);
}

static GBytes *small_xml(const char *name, const char *extra)
{
    char *xml = g_strdup_printf("<domain type='kvm'><name>%s</name>"
                                "<uuid>" UUID_A "</uuid>"
                                "<vcpu>2</vcpu>"
                                "<os><type arch='aarch64' machine='virt'>hvm</type></os>"
                                "<features><gic version='3'/></features>"
                                "<devices>%s</devices>"
                                "</domain>",
                                name, extra ? extra : "");

    return g_bytes_new_take(xml, strlen(xml));
}

static ItsmigdDomainView *small_view(const char *name)
{
    g_autoptr(GBytes) xml = small_xml(name, NULL);
    ItsmigdDomainView *view = itsmigd_domain_view_read(xml, NULL);

    g_assert_null(view->profile_error);
    g_assert_nonnull(view->profile);
    return view;
}

static void set_small_view(ItsmigdRegistry *reg, const char *uuid, const char *name)
{
    g_autoptr(ItsmigdDomainView) view = small_view(name);

    itsmigd_registry_set_view(reg, uuid, view);
}

/* ---- registry ------------------------------------------------------------------ */

static void test_add_and_update(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autofree char *name = NULL;
    int old = 1234, state = -2;

    g_assert_cmpuint(itsmigd_registry_count(reg), ==, 0);
    g_assert_true(update(reg, UUID_A, "alpha", VIR_DOMAIN_SHUTOFF, 0, &old));
    g_assert_cmpint(old, ==, -1);
    g_assert_true(itsmigd_registry_contains(reg, UUID_A));
    g_assert_false(itsmigd_registry_contains(reg, UUID_B));
    g_assert_cmpuint(itsmigd_registry_count(reg), ==, 1);

    g_assert_false(update(reg, UUID_A, "alpha", VIR_DOMAIN_RUNNING, 1, &old));
    g_assert_cmpint(old, ==, VIR_DOMAIN_SHUTOFF);
    g_assert_cmpuint(itsmigd_registry_count(reg), ==, 1);
    g_assert_true(itsmigd_registry_get(reg, UUID_A, &name, &state));
    g_assert_cmpstr(name, ==, "alpha");
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);

    /* NULL outputs are fine; an unknown UUID leaves them alone. */
    g_assert_false(update(reg, UUID_A, "alpha", VIR_DOMAIN_PAUSED, 1, NULL));
    g_assert_true(itsmigd_registry_get(reg, UUID_A, NULL, NULL));
    g_clear_pointer(&name, g_free);
    state = -2;
    g_assert_false(itsmigd_registry_get(reg, UUID_B, &name, &state));
    g_assert_null(name);
    g_assert_cmpint(state, ==, -2);
}

static void test_rename(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autoptr(GBytes) old_body = NULL;
    g_autoptr(GBytes) new_body = NULL;
    g_autoptr(JsonParser) parser = NULL;
    g_autofree char *listed = NULL;
    JsonObject *o;

    update(reg, UUID_A, "old-name", VIR_DOMAIN_RUNNING, 1, NULL);
    itsmigd_registry_add_history(reg, UUID_A, 0, "started", "booted", FALSE);
    g_assert_false(update(reg, UUID_A, "new-name", VIR_DOMAIN_RUNNING, 1, NULL));

    old_body = itsmigd_registry_domain_json(reg, "old-name");
    g_assert_null(old_body);
    new_body = itsmigd_registry_domain_json(reg, "new-name");
    o = parse_object(new_body, &parser);
    g_assert_cmpstr(json_object_get_string_member(o, "uuid"), ==, UUID_A);
    /* The history goes with the domain. */
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(o, "history")), ==, 1);
    g_assert_cmpuint(itsmigd_registry_count(reg), ==, 1);
    listed = list_names(reg, -1, 0, 100, NULL);
    g_assert_cmpstr(listed, ==, "new-name");
}

static void test_remove(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autoptr(GBytes) gone = NULL;
    g_autoptr(GBytes) kept = NULL;
    g_auto(GStrv) uuids = NULL;

    update(reg, UUID_A, "alpha", VIR_DOMAIN_RUNNING, 1, NULL);
    update(reg, UUID_B, "beta", VIR_DOMAIN_RUNNING, 1, NULL);
    g_assert_true(itsmigd_registry_remove(reg, UUID_A));
    g_assert_false(itsmigd_registry_remove(reg, UUID_A));
    g_assert_false(itsmigd_registry_contains(reg, UUID_A));
    g_assert_cmpuint(itsmigd_registry_count(reg), ==, 1);
    gone = itsmigd_registry_domain_json(reg, "alpha");
    g_assert_null(gone);
    kept = itsmigd_registry_domain_json(reg, "beta");
    g_assert_nonnull(kept);
    uuids = itsmigd_registry_uuids(reg);
    g_assert_cmpuint(g_strv_length(uuids), ==, 1);
    g_assert_cmpstr(uuids[0], ==, UUID_B);

    /* Calls naming an unknown UUID change nothing. */
    itsmigd_registry_add_history(reg, UUID_A, 0, "started", "booted", FALSE);
    set_small_view(reg, UUID_A, "alpha");
    g_assert_cmpuint(itsmigd_registry_count(reg), ==, 1);
}

/* Two UUIDs briefly sharing a name (one undefined and another defined under its name
 * before the first is removed) must leave the name index sound. */
static void test_name_reused(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autoptr(GBytes) body = NULL;
    g_autoptr(GBytes) gone = NULL;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o;

    update(reg, UUID_A, "shared", VIR_DOMAIN_SHUTOFF, 0, NULL);
    update(reg, UUID_B, "shared", VIR_DOMAIN_RUNNING, 1, NULL);
    g_assert_true(itsmigd_registry_remove(reg, UUID_A));
    body = itsmigd_registry_domain_json(reg, "shared");
    o = parse_object(body, &parser);
    g_assert_cmpstr(json_object_get_string_member(o, "uuid"), ==, UUID_B);

    g_assert_true(itsmigd_registry_remove(reg, UUID_B));
    gone = itsmigd_registry_domain_json(reg, "shared");
    g_assert_null(gone);
}

static guint history_length(ItsmigdRegistry *reg, const char *name, char **ret_first_detail)
{
    g_autoptr(GBytes) body = itsmigd_registry_domain_json(reg, name);
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = parse_object(body, &parser);
    JsonArray *h = json_object_get_array_member(o, "history");

    if (ret_first_detail)
        *ret_first_detail = json_array_get_length(h)
                                ? g_strdup(json_object_get_string_member(
                                      json_array_get_object_element(h, 0), "detail"))
                                : NULL;
    return json_array_get_length(h);
}

static void test_history_bounded(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(4);
    g_autofree char *first = NULL;

    update(reg, UUID_A, "alpha", VIR_DOMAIN_RUNNING, 1, NULL);
    for (int i = 0; i < 10; i++) {
        g_autofree char *detail = g_strdup_printf("d%d", i);
        itsmigd_registry_add_history(reg, UUID_A, i * G_USEC_PER_SEC, "suspended", detail, FALSE);
    }
    g_assert_cmpuint(history_length(reg, "alpha", &first), ==, 4);
    /* The oldest went first. */
    g_assert_cmpstr(first, ==, "d6");
}

static void test_history_resize(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autofree char *first = NULL;
    g_autofree char *first_after = NULL;

    update(reg, UUID_A, "alpha", VIR_DOMAIN_RUNNING, 1, NULL);
    update(reg, UUID_B, "beta", VIR_DOMAIN_RUNNING, 1, NULL);
    for (int i = 0; i < 8; i++) {
        g_autofree char *detail = g_strdup_printf("d%d", i);
        itsmigd_registry_add_history(reg, UUID_A, 0, "suspended", detail, FALSE);
    }
    itsmigd_registry_add_history(reg, UUID_B, 0, "started", "booted", FALSE);
    g_assert_cmpuint(history_length(reg, "alpha", NULL), ==, 8);

    itsmigd_registry_set_history_size(reg, 3);
    g_assert_cmpuint(history_length(reg, "alpha", &first), ==, 3);
    g_assert_cmpstr(first, ==, "d5");
    g_assert_cmpuint(history_length(reg, "beta", NULL), ==, 1);

    /* Growing keeps what is there, and the new size holds from then on. */
    itsmigd_registry_set_history_size(reg, 5);
    for (int i = 8; i < 12; i++) {
        g_autofree char *detail = g_strdup_printf("d%d", i);
        itsmigd_registry_add_history(reg, UUID_A, 0, "resumed", detail, FALSE);
    }
    g_assert_cmpuint(history_length(reg, "alpha", &first_after), ==, 5);
    g_assert_cmpstr(first_after, ==, "d7");

    /* 0 means 1: a domain always shows its last event. */
    itsmigd_registry_set_history_size(reg, 0);
    g_assert_cmpuint(history_length(reg, "alpha", NULL), ==, 1);
}

static void populate(ItsmigdRegistry *reg)
{
    /* Added out of order, to see the sort. */
    update(reg, "u-d", "delta", VIR_DOMAIN_SHUTOFF, 1, NULL);
    update(reg, "u-b", "bravo", VIR_DOMAIN_RUNNING, 1, NULL);
    update(reg, "u-e", "echo", VIR_DOMAIN_RUNNING, 1, NULL);
    update(reg, "u-a", "alpha", VIR_DOMAIN_PAUSED, 1, NULL);
    update(reg, "u-c", "charlie", VIR_DOMAIN_RUNNING, 1, NULL);
}

static void test_list_sorted(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autofree char *names = NULL;
    gint64 total = 0;

    populate(reg);
    names = list_names(reg, -1, 0, 100, &total);
    g_assert_cmpstr(names, ==, "alpha,bravo,charlie,delta,echo");
    g_assert_cmpint(total, ==, 5);
}

static void test_list_empty(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autofree char *names = NULL;
    gint64 total = -1;

    names = list_names(reg, -1, 0, 100, &total);
    g_assert_cmpstr(names, ==, "");
    g_assert_cmpint(total, ==, 0);
}

static void test_list_state_filter(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autofree char *running = NULL;
    g_autofree char *paused = NULL;
    g_autofree char *crashed = NULL;
    gint64 total = 0;

    populate(reg);
    running = list_names(reg, VIR_DOMAIN_RUNNING, 0, 100, &total);
    g_assert_cmpstr(running, ==, "bravo,charlie,echo");
    g_assert_cmpint(total, ==, 3);
    paused = list_names(reg, VIR_DOMAIN_PAUSED, 0, 100, &total);
    g_assert_cmpstr(paused, ==, "alpha");
    g_assert_cmpint(total, ==, 1);
    crashed = list_names(reg, VIR_DOMAIN_CRASHED, 0, 100, &total);
    g_assert_cmpstr(crashed, ==, "");
    g_assert_cmpint(total, ==, 0);
}

static void test_list_offset_limit(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autofree char *page1 = NULL;
    g_autofree char *page2 = NULL;
    g_autofree char *page3 = NULL;
    g_autofree char *past = NULL;
    g_autofree char *filtered = NULL;
    gint64 total = 0;

    populate(reg);
    page1 = list_names(reg, -1, 0, 2, &total);
    g_assert_cmpstr(page1, ==, "alpha,bravo");
    g_assert_cmpint(total, ==, 5);
    page2 = list_names(reg, -1, 2, 2, &total);
    g_assert_cmpstr(page2, ==, "charlie,delta");
    g_assert_cmpint(total, ==, 5);
    page3 = list_names(reg, -1, 4, 2, &total);
    g_assert_cmpstr(page3, ==, "echo");
    past = list_names(reg, -1, 10, 2, &total);
    g_assert_cmpstr(past, ==, "");
    g_assert_cmpint(total, ==, 5);
    /* Offset and limit apply after the filter; total counts the filtered set. */
    filtered = list_names(reg, VIR_DOMAIN_RUNNING, 1, 1, &total);
    g_assert_cmpstr(filtered, ==, "charlie");
    g_assert_cmpint(total, ==, 3);
}

static void test_list_summary_fields(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autoptr(GBytes) body = NULL;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *root, *d;
    JsonArray *domains;

    update(reg, UUID_A, "alpha", VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED, NULL);
    body = itsmigd_registry_list_json(reg, -1, 0, 10);
    root = parse_object(body, &parser);
    domains = json_object_get_array_member(root, "domains");
    g_assert_cmpuint(json_array_get_length(domains), ==, 1);
    d = json_array_get_object_element(domains, 0);
    g_assert_cmpstr(json_object_get_string_member(d, "name"), ==, "alpha");
    g_assert_cmpstr(json_object_get_string_member(d, "uuid"), ==, UUID_A);
    g_assert_true(json_object_get_null_member(d, "id"));
    g_assert_cmpstr(json_object_get_string_member(d, "state"), ==, "shutoff");
    g_assert_cmpstr(json_object_get_string_member(d, "reason"), ==, "destroyed");
    g_assert_true(json_object_get_boolean_member(d, "persistent"));
}

static void test_list_cache_not_stale(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autoptr(GBytes) b1 = NULL;
    g_autoptr(GBytes) b2 = NULL;
    g_autoptr(GBytes) b3 = NULL;
    g_autoptr(GBytes) b4 = NULL;
    g_autofree char *after_add = NULL;
    g_autofree char *after_remove = NULL;
    g_autofree char *other_query = NULL;

    update(reg, UUID_A, "alpha", VIR_DOMAIN_RUNNING, 1, NULL);
    b1 = itsmigd_registry_list_json(reg, -1, 0, 10);
    b2 = itsmigd_registry_list_json(reg, -1, 0, 10);
    g_assert_true(g_bytes_equal(b1, b2));

    /* A state change alone must show. */
    update(reg, UUID_A, "alpha", VIR_DOMAIN_PAUSED, 1, NULL);
    b3 = itsmigd_registry_list_json(reg, -1, 0, 10);
    g_assert_false(g_bytes_equal(b1, b3));
    g_assert_nonnull(g_strstr_len(g_bytes_get_data(b3, NULL), g_bytes_get_size(b3), "\"paused\""));

    update(reg, UUID_B, "beta", VIR_DOMAIN_RUNNING, 1, NULL);
    after_add = list_names(reg, -1, 0, 10, NULL);
    g_assert_cmpstr(after_add, ==, "alpha,beta");

    /* A different query is not answered from the cached one. */
    other_query = list_names(reg, VIR_DOMAIN_RUNNING, 0, 10, NULL);
    g_assert_cmpstr(other_query, ==, "beta");

    itsmigd_registry_remove(reg, UUID_A);
    after_remove = list_names(reg, -1, 0, 10, NULL);
    g_assert_cmpstr(after_remove, ==, "beta");

    /* A rename too. */
    update(reg, UUID_B, "beta2", VIR_DOMAIN_RUNNING, 1, NULL);
    b4 = itsmigd_registry_list_json(reg, -1, 0, 10);
    g_assert_nonnull(g_strstr_len(g_bytes_get_data(b4, NULL), g_bytes_get_size(b4), "\"beta2\""));
}

static void test_domain_json(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autoptr(GBytes) body = NULL;
    g_autoptr(GBytes) missing = NULL;
    g_autoptr(JsonParser) parser = NULL;
    g_autofree char *t1 = NULL;
    /* 2026-01-02T03:04:05.678Z */
    gint64 when = G_GINT64_CONSTANT(1767323045678000);
    JsonObject *o, *e0, *e1;
    JsonArray *h;

    update(reg, UUID_A, "vm-\xc3\xbc", VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED, NULL);
    itsmigd_registry_add_history(reg, UUID_A, when, "started", "booted", TRUE);
    itsmigd_registry_add_history(reg, UUID_A, when + G_USEC_PER_SEC, "suspended", "paused", FALSE);

    missing = itsmigd_registry_domain_json(reg, "vm-u");
    g_assert_null(missing);
    body = itsmigd_registry_domain_json(reg, "vm-\xc3\xbc");
    o = parse_object(body, &parser);
    g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, "vm-\xc3\xbc");
    g_assert_cmpstr(json_object_get_string_member(o, "uuid"), ==, UUID_A);
    g_assert_cmpint(json_object_get_int_member(o, "id"), ==, 7);
    g_assert_cmpstr(json_object_get_string_member(o, "state"), ==, "running");
    g_assert_cmpstr(json_object_get_string_member(o, "reason"), ==, "booted");
    g_assert_true(json_object_get_boolean_member(o, "persistent"));
    g_assert_true(g_str_has_suffix(json_object_get_string_member(o, "updated"), "Z"));
    g_assert_true(json_object_get_null_member(o, "profile"));
    g_assert_true(json_object_get_null_member(o, "profile_error"));

    h = json_object_get_array_member(o, "history");
    g_assert_cmpuint(json_array_get_length(h), ==, 2);
    e0 = json_array_get_object_element(h, 0);
    e1 = json_array_get_object_element(h, 1);
    t1 = itsmigd_time_string(when);
    g_assert_cmpstr(t1, ==, "2026-01-02T03:04:05.678Z");
    g_assert_cmpstr(json_object_get_string_member(e0, "time"), ==, t1);
    g_assert_cmpstr(json_object_get_string_member(e0, "type"), ==, "started");
    g_assert_cmpstr(json_object_get_string_member(e0, "detail"), ==, "booted");
    g_assert_true(json_object_get_boolean_member(e0, "reconstructed"));
    g_assert_cmpstr(json_object_get_string_member(e1, "time"), ==, "2026-01-02T03:04:06.678Z");
    g_assert_cmpstr(json_object_get_string_member(e1, "type"), ==, "suspended");
    g_assert_cmpstr(json_object_get_string_member(e1, "detail"), ==, "paused");
    g_assert_false(json_object_get_boolean_member(e1, "reconstructed"));
}

static void test_domain_json_profile(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autoptr(GBytes) with = NULL;
    g_autoptr(GBytes) without = NULL;
    g_autoptr(JsonParser) p1 = NULL;
    g_autoptr(JsonParser) p2 = NULL;
    JsonObject *o, *profile;

    update(reg, UUID_A, "alpha", VIR_DOMAIN_RUNNING, 1, NULL);
    set_small_view(reg, UUID_A, "alpha");
    with = itsmigd_registry_domain_json(reg, "alpha");
    o = parse_object(with, &p1);
    profile = json_object_get_object_member(o, "profile");
    g_assert_nonnull(profile);
    g_assert_cmpstr(json_object_get_string_member(profile, "name"), ==, "alpha");
    g_assert_cmpstr(json_object_get_string_member(profile, "gic_version"), ==, "3");
    g_assert_true(json_object_get_null_member(o, "profile_error"));

    /* Replaced by an error: the old profile goes. */
    {
        g_autoptr(ItsmigdDomainView) error_view = itsmigd_domain_view_new_error("XML not readable");

        itsmigd_registry_set_view(reg, UUID_A, error_view);
    }
    without = itsmigd_registry_domain_json(reg, "alpha");
    o = parse_object(without, &p2);
    g_assert_true(json_object_get_null_member(o, "profile"));
    g_assert_cmpstr(json_object_get_string_member(o, "profile_error"), ==, "XML not readable");
}

static void test_count_by_state(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    guint counts[VIR_DOMAIN_LAST];
    guint few[2] = {99, 99};

    populate(reg);
    itsmigd_registry_count_by_state(reg, counts, G_N_ELEMENTS(counts));
    g_assert_cmpuint(counts[VIR_DOMAIN_NOSTATE], ==, 0);
    g_assert_cmpuint(counts[VIR_DOMAIN_RUNNING], ==, 3);
    g_assert_cmpuint(counts[VIR_DOMAIN_PAUSED], ==, 1);
    g_assert_cmpuint(counts[VIR_DOMAIN_SHUTOFF], ==, 1);
    g_assert_cmpuint(counts[VIR_DOMAIN_CRASHED], ==, 0);

    /* A short array: states past it are not counted, nothing is written past it. */
    itsmigd_registry_count_by_state(reg, few, G_N_ELEMENTS(few));
    g_assert_cmpuint(few[VIR_DOMAIN_NOSTATE], ==, 0);
    g_assert_cmpuint(few[VIR_DOMAIN_RUNNING], ==, 3);
}

static void test_free_null(void)
{
    itsmigd_registry_free(NULL);
}

/* ---- views ------------------------------------------------------------------------- */

#define DOMAINS 5
#define ROUNDS  20

static const char *const view_uuids[DOMAINS] = {
    "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222",
    "33333333-3333-3333-3333-333333333333", "44444444-4444-4444-4444-444444444444",
    "55555555-5555-5555-5555-555555555555",
};

/* The XML libvirt would give for domain @i: a new buffer each time, as each
 * virDomainGetXMLDesc() gives. */
static GBytes *domain_xml(int i, guint vcpus)
{
    g_autofree char *name = g_strdup_printf("vm%d", i);
    g_autofree char *extra = g_strdup_printf("<!-- %u -->", vcpus);

    return small_xml(name, extra);
}

static ItsmigdRegistry *registry_with_views(void)
{
    ItsmigdRegistry *reg = itsmigd_registry_new(8);

    for (int i = 0; i < DOMAINS; i++) {
        g_autofree char *name = g_strdup_printf("vm%d", i);
        g_autoptr(GBytes) xml = domain_xml(i, 2);
        g_autoptr(ItsmigdDomainView) view = NULL;

        update(reg, view_uuids[i], name, VIR_DOMAIN_RUNNING, 1, NULL);
        view = itsmigd_registry_update_view(reg, NULL, view_uuids[i], xml, TRUE);
        g_assert_nonnull(view->profile);
    }
    return reg;
}

/* Reading every view again and again, and the same XML coming back from
 * libvirt (events), parse nothing; one domain's XML changing parses it
 * once, and readers see the new view while the old one stays whole for
 * whoever holds it. */
static void test_view_parsed_once_per_change(void)
{
    g_autoptr(ItsmigdRegistry) reg = NULL;
    g_autoptr(ItsmigdDomainView) before = NULL;
    g_autoptr(ItsmigdDomainView) after = NULL;
    g_autoptr(GBytes) changed = domain_xml(2, 4);
    guint64 start = itsmigd_domain_view_reads();

    reg = registry_with_views();
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, DOMAINS);
    start = itsmigd_domain_view_reads();
    before = itsmigd_registry_get_view(reg, NULL, "vm2", NULL);
    for (int round = 0; round < ROUNDS; round++) {
        g_autoptr(GPtrArray) all = itsmigd_registry_all_views(reg, NULL);

        g_assert_cmpuint(all->len, ==, DOMAINS);
        for (int i = 0; i < DOMAINS; i++) {
            g_autoptr(GBytes) same = domain_xml(i, 2);
            g_autoptr(ItsmigdDomainView) view =
                itsmigd_registry_update_view(reg, NULL, view_uuids[i], same, round % 2);
            const ItsmigdNamedView *x = g_ptr_array_index(all, i);

            g_assert_true(view == x->view);
        }
    }
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, 0);

    after = itsmigd_registry_update_view(reg, NULL, view_uuids[2], changed, TRUE);
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, 1);
    g_assert_true(after != before);
    g_clear_pointer(&after, itsmigd_domain_view_unref);
    after = itsmigd_registry_get_view(reg, NULL, "vm2", NULL);
    g_assert_true(itsmigd_domain_view_has_xml(after, changed));
    g_assert_false(itsmigd_domain_view_has_xml(before, changed));
    g_assert_cmpstr(before->profile->name, ==, "vm2");
    for (int round = 0; round < ROUNDS; round++) {
        g_autoptr(GPtrArray) all = itsmigd_registry_all_views(reg, NULL);

        g_assert_true(((ItsmigdNamedView *)g_ptr_array_index(all, 2))->view == after);
    }
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, 1);
}

/* A reader that read the XML again never puts back an older view over the
 * one the main loop put meanwhile. */
static void test_view_replace_keeps_newer(void)
{
    g_autoptr(ItsmigdRegistry) reg = registry_with_views();
    g_autoptr(ItsmigdDomainView) seen = itsmigd_registry_get_view(reg, NULL, "vm0", NULL);
    g_autoptr(GBytes) newer_xml = domain_xml(0, 8);
    g_autoptr(GBytes) reader_xml = domain_xml(0, 6);
    g_autoptr(ItsmigdDomainView) newer = itsmigd_domain_view_read(newer_xml, NULL);
    g_autoptr(ItsmigdDomainView) mine = itsmigd_domain_view_read(reader_xml, NULL);
    g_autoptr(ItsmigdDomainView) now = NULL;

    itsmigd_registry_set_view(reg, view_uuids[0], newer);
    g_assert_false(itsmigd_registry_replace_view(reg, view_uuids[0], seen, mine));
    now = itsmigd_registry_get_view(reg, NULL, "vm0", NULL);
    g_assert_true(now == newer);
    g_assert_true(itsmigd_registry_replace_view(reg, view_uuids[0], newer, mine));
    g_assert_false(itsmigd_registry_replace_view(reg, view_uuids[3], newer, mine));
}

/* XML that is not a profile's: kept with the reason, not handed to readers,
 * and not parsed again while it stays the same. */
static void test_view_unreadable(void)
{
    g_autoptr(ItsmigdRegistry) reg = registry_with_views();
    g_autoptr(GBytes) bad = g_bytes_new_static("<domain><name>vm1", 17);
    g_autoptr(GBytes) bad_again = g_bytes_new_static("<domain><name>vm1", 17);
    g_autoptr(ItsmigdDomainView) view = NULL;
    g_autoptr(ItsmigdDomainView) again = NULL;
    g_autoptr(ItsmigdDomainView) readable = NULL;
    g_autoptr(GPtrArray) all = NULL;
    g_autoptr(GBytes) body = NULL;
    g_autoptr(JsonParser) parser = NULL;
    guint64 start = itsmigd_domain_view_reads();
    JsonObject *o;

    view = itsmigd_registry_update_view(reg, NULL, view_uuids[1], bad, TRUE);
    g_assert_null(view->profile);
    g_assert_nonnull(view->profile_error);
    again = itsmigd_registry_update_view(reg, NULL, view_uuids[1], bad_again, TRUE);
    g_assert_true(again == view);
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, 1);
    readable = itsmigd_registry_get_view(reg, NULL, "vm1", NULL);
    g_assert_null(readable);
    all = itsmigd_registry_all_views(reg, NULL);
    g_assert_cmpuint(all->len, ==, DOMAINS - 1);
    body = itsmigd_registry_domain_json(reg, "vm1");
    o = parse_object(body, &parser);
    g_assert_true(json_object_get_null_member(o, "profile"));
    g_assert_cmpstr(json_object_get_string_member(o, "profile_error"), ==, view->profile_error);
}

/* A host whose PCI devices live under @dir, with @migratable the drivers
 * that can migrate device state. */
static void fake_host(ItsmigdHost *host, const char *dir, const char *migratable)
{
    memset(host, 0, sizeof(*host));
    g_mutex_init(&host->lock);
    host->sysfs_pci = g_strdup(dir);
    host->migratable_drivers = g_strsplit(migratable, ",", -1);
}

static void fake_host_clear(ItsmigdHost *host)
{
    g_free(host->sysfs_pci);
    g_strfreev(host->migratable_drivers);
    g_mutex_clear(&host->lock);
}

static void bind_driver(const char *dir, const char *address, const char *driver)
{
    g_autofree char *dev = g_build_filename(dir, address, NULL);
    g_autofree char *link = g_build_filename(dev, "driver", NULL);
    g_autofree char *target = g_strdup_printf("../../../bus/pci/drivers/%s", driver);

    g_assert_cmpint(g_mkdir_with_parents(dev, 0700), ==, 0);
    (void)unlink(link);
    g_assert_cmpint(symlink(target, link), ==, 0);
}

/* The drivers bound to a domain's host devices are part of its view: the
 * same XML is read again (once) when one is rebound, or when the drivers
 * that can migrate are reconfigured, and not otherwise. */
static void test_view_hostdev_rebound(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    g_autofree char *dir = g_dir_make_tmp("itsmig-sysfs-XXXXXX", NULL);
    g_autoptr(GBytes) xml =
        small_xml("gpu", "<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>"
                         "<source><address domain='0x0000' bus='0x03' slot='0x00' "
                         "function='0x1'/></source><alias name='hostdev0'/></hostdev>");
    g_autoptr(ItsmigdDomainView) first = NULL;
    g_autoptr(ItsmigdDomainView) same = NULL;
    g_autoptr(ItsmigdDomainView) rebound = NULL;
    g_autoptr(ItsmigdDomainView) reconfigured = NULL;
    const ItsmigHostdev *h;
    ItsmigdHost host;
    guint64 start;

    g_assert_nonnull(dir);
    fake_host(&host, dir, "mlx5_vfio_pci");
    bind_driver(dir, "0000:03:00.1", "vfio-pci");
    update(reg, UUID_A, "gpu", VIR_DOMAIN_RUNNING, 1, NULL);
    start = itsmigd_domain_view_reads();
    first = itsmigd_registry_update_view(reg, &host, UUID_A, xml, TRUE);
    h = g_ptr_array_index(first->profile->hostdevs, 0);
    g_assert_cmpstr(h->host_driver, ==, "vfio-pci");
    g_assert_cmpint(h->migratable, ==, 0);
    same = itsmigd_registry_get_view(reg, &host, "gpu", NULL);
    g_assert_true(same == first);
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, 1);

    bind_driver(dir, "0000:03:00.1", "mlx5_vfio_pci");
    rebound = itsmigd_registry_get_view(reg, &host, "gpu", NULL);
    g_assert_true(rebound != first);
    h = g_ptr_array_index(rebound->profile->hostdevs, 0);
    g_assert_cmpstr(h->host_driver, ==, "mlx5_vfio_pci");
    g_assert_cmpint(h->migratable, ==, 1);
    /* The old view is as it was for whoever holds it. */
    h = g_ptr_array_index(first->profile->hostdevs, 0);
    g_assert_cmpstr(h->host_driver, ==, "vfio-pci");
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, 2);
    g_clear_pointer(&same, itsmigd_domain_view_unref);
    same = itsmigd_registry_get_view(reg, &host, "gpu", NULL);
    g_assert_true(same == rebound);

    g_strfreev(host.migratable_drivers);
    host.migratable_drivers = g_strsplit("vfio-pci", ",", -1);
    {
        g_autoptr(GPtrArray) all = itsmigd_registry_all_views(reg, &host);

        reconfigured = itsmigd_domain_view_ref(((ItsmigdNamedView *)all->pdata[0])->view);
    }
    h = g_ptr_array_index(reconfigured->profile->hostdevs, 0);
    g_assert_cmpint(h->migratable, ==, 0);
    g_assert_cmpuint(itsmigd_domain_view_reads() - start, ==, 3);

    fake_host_clear(&host);
    {
        g_autofree char *dev = g_build_filename(dir, "0000:03:00.1", NULL);
        g_autofree char *link = g_build_filename(dev, "driver", NULL);

        (void)unlink(link);
        (void)rmdir(dev);
        (void)rmdir(dir);
    }
}

/* ---- concurrency ------------------------------------------------------------------ */

#define WRITER_UPDATES 10000

typedef struct {
    ItsmigdRegistry *reg;
    gint done; /* atomic */
} Shared;

static gpointer writer_thread(gpointer data)
{
    Shared *s = data;
    static const char *const uuids[] = {UUID_A, UUID_B, UUID_C};

    for (int i = 0; i < WRITER_UPDATES; i++) {
        const char *uuid = uuids[i % 3];
        g_autofree char *name = g_strdup_printf("vm%d", (i / 3) % 5);

        update(s->reg, uuid, name, i % VIR_DOMAIN_LAST, i % 3, NULL);
        itsmigd_registry_add_history(s->reg, uuid, i, "suspended", "paused", i % 2);
        if (i % 100 == 0)
            itsmigd_registry_remove(s->reg, uuids[(i / 100) % 3]);
        if (i % 1000 == 0)
            itsmigd_registry_set_history_size(s->reg, 1 + (i / 1000) % 8);
    }
    g_atomic_int_set(&s->done, 1);
    return NULL;
}

static gpointer reader_thread(gpointer data)
{
    Shared *s = data;
    guint n = 0;

    while (!g_atomic_int_get(&s->done) || n < 100) {
        g_autofree char *name = g_strdup_printf("vm%u", n % 5);
        g_autoptr(GBytes) list =
            itsmigd_registry_list_json(s->reg, n % 2 ? -1 : (int)(n % 8), 0, 1 + n % 4);
        g_autoptr(GBytes) one = itsmigd_registry_domain_json(s->reg, name);

        g_assert_nonnull(list);
        g_assert_cmpuint(g_bytes_get_size(list), >, 0);
        if (one)
            g_assert_cmpuint(g_bytes_get_size(one), >, 0);
        n++;
    }
    return NULL;
}

static void test_concurrent(void)
{
    g_autoptr(ItsmigdRegistry) reg = itsmigd_registry_new(8);
    Shared s = {.reg = reg};
    GThread *writer, *r1, *r2;

    r1 = g_thread_new("reader1", reader_thread, &s);
    r2 = g_thread_new("reader2", reader_thread, &s);
    writer = g_thread_new("writer", writer_thread, &s);
    g_thread_join(writer);
    g_thread_join(r1);
    g_thread_join(r2);
    g_assert_cmpuint(itsmigd_registry_count(reg), <=, 3);
}

/* ---- virt-names -------------------------------------------------------------------- */

static void test_names_states(void)
{
    for (int s = 0; s < VIR_DOMAIN_LAST; s++) {
        const char *name = itsmigd_state_name(s);

        g_assert_nonnull(name);
        g_assert_cmpstr(name, !=, "unknown");
    }
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_NOSTATE), ==, "nostate");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_RUNNING), ==, "running");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_BLOCKED), ==, "blocked");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_PAUSED), ==, "paused");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_SHUTDOWN), ==, "shutdown");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_SHUTOFF), ==, "shutoff");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_CRASHED), ==, "crashed");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_PMSUSPENDED), ==, "pmsuspended");
}

static void test_names_reasons(void)
{
    /* Every reason the headers we build against know has a name of its own. */
    static const struct {
        int state;
        int last;
    } lasts[] = {
        {VIR_DOMAIN_NOSTATE, VIR_DOMAIN_NOSTATE_LAST},
        {VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_LAST},
        {VIR_DOMAIN_BLOCKED, VIR_DOMAIN_BLOCKED_LAST},
        {VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_LAST},
        {VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTDOWN_LAST},
        {VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_LAST},
        {VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_LAST},
        {VIR_DOMAIN_PMSUSPENDED, VIR_DOMAIN_PMSUSPENDED_LAST},
    };

    G_STATIC_ASSERT(G_N_ELEMENTS(lasts) == VIR_DOMAIN_LAST);
    for (gsize i = 0; i < G_N_ELEMENTS(lasts); i++) {
        g_assert_cmpint(lasts[i].state, ==, (int)i);
        for (int r = 0; r < lasts[i].last; r++) {
            const char *name = itsmigd_state_reason_name(lasts[i].state, r);

            g_assert_nonnull(name);
            /* Reason 0 is libvirt's own "unknown". */
            if (r > 0 && !strcmp(name, "unknown"))
                g_error("state %s reason %d has no name", itsmigd_state_name(lasts[i].state), r);
        }
        /* The tables may know reasons newer than these headers; past them all, "unknown". */
        g_assert_cmpstr(itsmigd_state_reason_name(lasts[i].state, lasts[i].last + 1000), ==,
                        "unknown");
    }
    g_assert_cmpstr(itsmigd_state_reason_name(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED), ==,
                    "booted");
    g_assert_cmpstr(itsmigd_state_reason_name(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), ==,
                    "user");
    g_assert_cmpstr(itsmigd_state_reason_name(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED), ==,
                    "destroyed");
    g_assert_cmpstr(itsmigd_state_reason_name(VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_PANICKED), ==,
                    "panicked");
}

static void test_names_events(void)
{
    static const struct {
        int event;
        int last;
    } lasts[] = {
        {VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_LAST},
        {VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_LAST},
        {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_LAST},
        {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_LAST},
        {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_LAST},
        {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_LAST},
        {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_LAST},
        {VIR_DOMAIN_EVENT_PMSUSPENDED, VIR_DOMAIN_EVENT_PMSUSPENDED_LAST},
        {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_LAST},
    };
    static const char *const spec_names[] = {"defined",   "undefined",   "started",
                                             "suspended", "resumed",     "stopped",
                                             "shutdown",  "pmsuspended", "crashed"};

    G_STATIC_ASSERT(G_N_ELEMENTS(lasts) == VIR_DOMAIN_EVENT_LAST);
    for (gsize i = 0; i < G_N_ELEMENTS(lasts); i++) {
        g_assert_cmpint(lasts[i].event, ==, (int)i);
        g_assert_cmpstr(itsmigd_event_name(lasts[i].event), ==, spec_names[i]);
        for (int d = 0; d < lasts[i].last; d++) {
            const char *name = itsmigd_event_detail_name(lasts[i].event, d);

            g_assert_nonnull(name);
            if (!strcmp(name, "unknown"))
                g_error("event %s detail %d has no name", spec_names[i], d);
        }
        g_assert_cmpstr(itsmigd_event_detail_name(lasts[i].event, lasts[i].last + 1000), ==,
                        "unknown");
    }
    g_assert_cmpstr(
        itsmigd_event_detail_name(VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        ==, "paused");
    g_assert_cmpstr(
        itsmigd_event_detail_name(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED), ==,
        "destroyed");
}

static void test_names_out_of_range(void)
{
    g_assert_cmpstr(itsmigd_state_name(-1), ==, "unknown");
    g_assert_cmpstr(itsmigd_state_name(VIR_DOMAIN_LAST), ==, "unknown");
    g_assert_cmpstr(itsmigd_state_name(G_MAXINT), ==, "unknown");
    g_assert_cmpstr(itsmigd_state_name(G_MININT), ==, "unknown");
    g_assert_cmpstr(itsmigd_state_reason_name(-1, 0), ==, "unknown");
    g_assert_cmpstr(itsmigd_state_reason_name(VIR_DOMAIN_LAST, 0), ==, "unknown");
    g_assert_cmpstr(itsmigd_state_reason_name(VIR_DOMAIN_RUNNING, -1), ==, "unknown");
    g_assert_cmpstr(itsmigd_state_reason_name(VIR_DOMAIN_RUNNING, G_MAXINT), ==, "unknown");
    g_assert_cmpstr(itsmigd_event_name(-1), ==, "unknown");
    g_assert_cmpstr(itsmigd_event_name(VIR_DOMAIN_EVENT_LAST), ==, "unknown");
    g_assert_cmpstr(itsmigd_event_name(G_MAXINT), ==, "unknown");
    g_assert_cmpstr(itsmigd_event_detail_name(-1, 0), ==, "unknown");
    g_assert_cmpstr(itsmigd_event_detail_name(VIR_DOMAIN_EVENT_LAST, 0), ==, "unknown");
    g_assert_cmpstr(itsmigd_event_detail_name(VIR_DOMAIN_EVENT_STARTED, -1), ==, "unknown");
    g_assert_cmpstr(itsmigd_event_detail_name(VIR_DOMAIN_EVENT_STARTED, 1000), ==, "unknown");
}

static void test_names_state_round_trip(void)
{
    for (int s = 0; s < VIR_DOMAIN_LAST; s++)
        g_assert_cmpint(itsmigd_state_from_name(itsmigd_state_name(s)), ==, s);
    g_assert_cmpint(itsmigd_state_from_name("unknown"), ==, -1);
    g_assert_cmpint(itsmigd_state_from_name("Running"), ==, -1);
    g_assert_cmpint(itsmigd_state_from_name(""), ==, -1);
    g_assert_cmpint(itsmigd_state_from_name(NULL), ==, -1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/domain-registry/add-and-update", test_add_and_update);
    g_test_add_func("/domain-registry/rename", test_rename);
    g_test_add_func("/domain-registry/remove", test_remove);
    g_test_add_func("/domain-registry/name-reused", test_name_reused);
    g_test_add_func("/domain-registry/history/bounded", test_history_bounded);
    g_test_add_func("/domain-registry/history/resize-trims", test_history_resize);
    g_test_add_func("/domain-registry/list/sorted-by-name", test_list_sorted);
    g_test_add_func("/domain-registry/list/empty", test_list_empty);
    g_test_add_func("/domain-registry/list/state-filter", test_list_state_filter);
    g_test_add_func("/domain-registry/list/offset-limit", test_list_offset_limit);
    g_test_add_func("/domain-registry/list/summary-fields", test_list_summary_fields);
    g_test_add_func("/domain-registry/list/cache-not-stale", test_list_cache_not_stale);
    g_test_add_func("/domain-registry/domain-json/contents", test_domain_json);
    g_test_add_func("/domain-registry/domain-json/profile", test_domain_json_profile);
    g_test_add_func("/domain-registry/count-by-state", test_count_by_state);
    g_test_add_func("/domain-registry/free-null", test_free_null);
    g_test_add_func("/domain-registry/concurrent-readers", test_concurrent);
    g_test_add_func("/domain-registry/view/parsed-once-per-change",
                    test_view_parsed_once_per_change);
    g_test_add_func("/domain-registry/view/replace-keeps-newer", test_view_replace_keeps_newer);
    g_test_add_func("/domain-registry/view/unreadable", test_view_unreadable);
    g_test_add_func("/domain-registry/view/hostdev-rebound", test_view_hostdev_rebound);
    g_test_add_func("/virt-names/states", test_names_states);
    g_test_add_func("/virt-names/reasons", test_names_reasons);
    g_test_add_func("/virt-names/events", test_names_events);
    g_test_add_func("/virt-names/out-of-range", test_names_out_of_range);
    g_test_add_func("/virt-names/state-round-trip", test_names_state_round_trip);

    return g_test_run();
}
