/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"

static const char DOC[] = "{\"s\":\"x\",\"n\":null,\"b\":true,\"i\":7,\"neg\":-3,\"d\":2.5,"
                          "\"o\":{},\"a\":[\"p\",\"q\"],\"mixed\":[\"p\",1],\"objs\":[{},2],"
                          "\"e\":\"live\",\"big\":9223372036854775807}";

typedef struct {
    JsonNode *root;
    JsonObject *o;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->root = json_from_string(DOC, NULL);
    g_assert_nonnull(f->root);
    f->o = json_node_get_object(f->root);
}

static void teardown(Fixture *f, gconstpointer data)
{
    json_node_unref(f->root);
}

static int parse_mode(const char *s)
{
    return g_strcmp0(s, "safe") == 0 ? 0 : g_strcmp0(s, "live") == 0 ? 1 : -1;
}

/* The message names the document, the member's path and what it should be. */
static void expect(GError **error, int code, const char *message)
{
    g_assert_error(*error, ITSMIG_ERROR, code);
    g_assert_cmpstr((*error)->message, ==, message);
    g_clear_error(error);
}

static void test_typed(Fixture *f, gconstpointer data)
{
    const ItsmigJsonAt top = {ITSMIG_ERROR_INVALID_JSON, "doc", NULL};
    g_autoptr(GError) error = NULL;
    const char *s = "untouched";
    gboolean b = FALSE, has = TRUE;
    gint64 i = 0;
    double d = 0;
    int v = 0;
    JsonObject *sub = NULL;
    JsonArray *a = NULL;

    g_assert_true(itsmig_json_get_string(&top, f->o, "s", FALSE, &s, &error));
    g_assert_cmpstr(s, ==, "x");
    g_assert_true(itsmig_json_get_string(&top, f->o, "n", TRUE, &s, &error));
    g_assert_null(s);
    g_assert_false(itsmig_json_get_string(&top, f->o, "n", FALSE, &s, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"n\" is missing or not a string");
    g_assert_false(itsmig_json_get_string(&top, f->o, "absent", TRUE, &s, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"absent\" is missing or not a string or null");
    /* Another type, without a GLib warning. */
    g_assert_false(itsmig_json_get_string(&top, f->o, "o", FALSE, &s, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"o\" is missing or not a string");

    g_assert_true(itsmig_json_get_bool(&top, f->o, "b", &b, &error));
    g_assert_true(b);
    g_assert_false(itsmig_json_get_bool(&top, f->o, "i", &b, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"i\" is missing or not a boolean");

    g_assert_true(itsmig_json_get_int(&top, f->o, "i", 0, 10, &i, &error));
    g_assert_cmpint(i, ==, 7);
    g_assert_true(itsmig_json_get_int(&top, f->o, "big", 0, G_MAXINT64, &i, &error));
    g_assert_cmpint(i, ==, G_MAXINT64);
    g_assert_false(itsmig_json_get_int(&top, f->o, "i", 0, 6, &i, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON,
           "doc: \"i\" is missing or not an integer from 0 to 6");
    g_assert_false(itsmig_json_get_int(&top, f->o, "neg", 0, G_MAXINT64, &i, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"neg\" is missing or not a whole number");
    g_assert_false(itsmig_json_get_int(&top, f->o, "d", G_MININT64, G_MAXINT64, &i, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"d\" is missing or not an integer");
    g_assert_true(itsmig_json_get_int_or_null(&top, f->o, "n", 0, 1, &has, &i, &error));
    g_assert_false(has);
    g_assert_true(itsmig_json_get_int_or_null(&top, f->o, "neg", -3, 1, &has, &i, &error));
    g_assert_true(has);
    g_assert_cmpint(i, ==, -3);
    g_assert_false(itsmig_json_get_int_or_null(&top, f->o, "s", 0, 1, &has, &i, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON,
           "doc: \"s\" is missing or not an integer from 0 to 1 or null");

    g_assert_true(itsmig_json_get_number_or_null(&top, f->o, "d", &has, &d, &error));
    g_assert_true(has);
    g_assert_cmpfloat(d, ==, 2.5);
    g_assert_true(itsmig_json_get_number_or_null(&top, f->o, "i", &has, &d, &error));
    g_assert_cmpfloat(d, ==, 7);
    g_assert_true(itsmig_json_get_number_or_null(&top, f->o, "n", &has, &d, &error));
    g_assert_false(has);
    g_assert_false(itsmig_json_get_number_or_null(&top, f->o, "s", &has, &d, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"s\" is missing or not a number or null");

    g_assert_true(itsmig_json_get_enum(&top, f->o, "e", parse_mode, FALSE, &v, &error));
    g_assert_cmpint(v, ==, 1);
    g_assert_true(itsmig_json_get_enum(&top, f->o, "n", parse_mode, TRUE, &v, &error));
    g_assert_cmpint(v, ==, -1);
    g_assert_false(itsmig_json_get_enum(&top, f->o, "s", parse_mode, FALSE, &v, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"s\" has an unknown value");

    g_assert_true(itsmig_json_get_object(&top, f->o, "o", FALSE, &sub, &error));
    g_assert_nonnull(sub);
    g_assert_true(itsmig_json_get_object(&top, f->o, "n", TRUE, &sub, &error));
    g_assert_null(sub);
    g_assert_false(itsmig_json_get_object(&top, f->o, "a", TRUE, &sub, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON, "doc: \"a\" is missing or not an object or null");

    g_assert_true(itsmig_json_get_array(&top, f->o, "mixed", FALSE, &a, &error));
    g_assert_cmpuint(json_array_get_length(a), ==, 2);
    g_assert_true(itsmig_json_get_string_array(&top, f->o, "a", FALSE, &a, &error));
    g_assert_cmpuint(json_array_get_length(a), ==, 2);
    g_assert_true(itsmig_json_get_string_array(&top, f->o, "n", TRUE, &a, &error));
    g_assert_null(a);
    g_assert_false(itsmig_json_get_string_array(&top, f->o, "mixed", TRUE, &a, &error));
    expect(&error, ITSMIG_ERROR_INVALID_JSON,
           "doc: \"mixed\" is missing or not an array of strings or null");
}

static void test_paths(Fixture *f, gconstpointer data)
{
    const ItsmigJsonAt at = {ITSMIG_ERROR_PEER_ERROR, NULL, "hosts[0]"};
    g_autoptr(GError) error = NULL;
    g_autofree char *path = itsmig_json_path(&at, "objs");
    const ItsmigJsonAt in = {ITSMIG_ERROR_PEER_ERROR, NULL, path};
    JsonObject *sub = NULL;
    JsonArray *a = NULL;
    const char *s;

    g_assert_false(itsmig_json_get_string(&at, f->o, "hostname", TRUE, &s, &error));
    expect(&error, ITSMIG_ERROR_PEER_ERROR,
           "\"hosts[0].hostname\" is missing or not a string or null");
    g_assert_true(itsmig_json_get_array(&at, f->o, "objs", FALSE, &a, &error));
    g_assert_true(itsmig_json_get_element_object(&at, "objs", a, 0, &sub, &error));
    g_assert_false(itsmig_json_get_element_object(&at, "objs", a, 1, &sub, &error));
    expect(&error, ITSMIG_ERROR_PEER_ERROR, "\"hosts[0].objs[1]\" is not an object");
    g_assert_false(itsmig_json_get_bool(&in, f->o, "b2", NULL, &error));
    expect(&error, ITSMIG_ERROR_PEER_ERROR, "\"hosts[0].objs.b2\" is missing or not a boolean");
}

static void test_lookup(Fixture *f, gconstpointer data)
{
    g_assert_cmpstr(itsmig_json_lookup_string(f->o, "s"), ==, "x");
    g_assert_null(itsmig_json_lookup_string(f->o, "n"));
    g_assert_null(itsmig_json_lookup_string(f->o, "o"));
    g_assert_null(itsmig_json_lookup_string(f->o, "absent"));
}

static void test_unknown_member(Fixture *f, gconstpointer data)
{
    static const char *const all[] = {"s", "n",     "b",    "i", "neg", "d", "o",
                                      "a", "mixed", "objs", "e", "big", NULL};
    static const char *const most[] = {"s", "n", "b", "i", "neg", "d", "o", "a", NULL};
    static const char *const rest[] = {"mixed", "objs", "e", "big", NULL};
    static const char *const none[] = {NULL};
    g_autoptr(JsonNode) empty = json_from_string("{}", NULL);
    const char *unknown;

    g_assert_null(itsmig_json_unknown_member(f->o, all, NULL));
    g_assert_null(itsmig_json_unknown_member(f->o, most, rest));
    unknown = itsmig_json_unknown_member(f->o, most, NULL);
    g_assert_nonnull(unknown);
    g_assert_true(g_strv_contains(rest, unknown));
    g_assert_null(itsmig_json_unknown_member(json_node_get_object(empty), none, NULL));
}

/* The writers put null for what is absent or not known yet, and read back through the readers. */
static void test_writers(void)
{
    static const char *const strv[] = {"a", "b", NULL};
    static const char *const empty[] = {NULL};
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_begin_object(b);
    itsmig_json_add_int(b, "i", -3);
    itsmig_json_add_int_or_null(b, "known", TRUE, 0);
    itsmig_json_add_int_or_null(b, "unknown", FALSE, -1);
    itsmig_json_add_bool(b, "t", TRUE);
    itsmig_json_add_strv(b, "v", strv);
    itsmig_json_add_strv(b, "e", empty);
    itsmig_json_add_strv(b, "nv", NULL);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    text = json_to_string(root, FALSE);
    g_assert_cmpstr(text, ==,
                    "{\"i\":-3,\"known\":0,\"unknown\":null,"
                    "\"t\":true,\"v\":[\"a\",\"b\"],\"e\":[],\"nv\":null}");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/json-member/typed-readers", Fixture, NULL, setup, test_typed, teardown);
    g_test_add("/json-member/paths-in-messages", Fixture, NULL, setup, test_paths, teardown);
    g_test_add("/json-member/lookup-string", Fixture, NULL, setup, test_lookup, teardown);
    g_test_add("/json-member/unknown-member", Fixture, NULL, setup, test_unknown_member, teardown);
    g_test_add_func("/json-member/writers", test_writers);
    return g_test_run();
}
