/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <glib.h>

#include "itsmig/json-strict.h"

#include "probe-data.h"

JsonParser *probe_data_load(const char *suite, JsonObject **ret_root, char **ret_path)
{
    const char *top = g_getenv("top_srcdir");
    g_autofree char *name = g_strdup_printf("%s.json", suite);
    g_autofree char *path = top ? g_build_filename(top, "tests", "data", "probe", name, NULL)
                                : g_test_build_filename(G_TEST_DIST, "data", "probe", name, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    JsonParser *parser = json_parser_new();
    gsize len;

    g_assert_true(g_file_get_contents(path, &text, &len, &error));
    g_assert_no_error(error);
    g_assert_true(itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, path, &error));
    g_assert_no_error(error);
    g_assert_true(json_parser_load_from_data(parser, text, (gssize)len, &error));
    g_assert_no_error(error);
    *ret_root = json_node_get_object(json_parser_get_root(parser));
    *ret_path = g_steal_pointer(&path);
    return parser;
}
