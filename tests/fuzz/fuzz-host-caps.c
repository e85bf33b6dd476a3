/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host capabilities document (itsmig_host_caps_from_json), as a peer
 * sends it.  A document that is accepted must survive a round trip: written
 * out again, it is accepted again and written out the same.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "itsmig/host-caps.h"
#include "tests/fuzz/fuzz.h"

static char *to_text(const ItsmigHostCaps *caps)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    itsmig_host_caps_to_json_members(caps, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    return json_to_string(root, FALSE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigHostCaps) caps = NULL;
    g_autoptr(ItsmigHostCaps) copy = NULL;
    g_autoptr(ItsmigHostCaps) again = NULL;
    g_autofree char *text = NULL;
    g_autofree char *text2 = NULL;
    g_autoptr(GError) error2 = NULL;

    fuzz_glib_fatal();
    caps = itsmig_host_caps_from_json((const char *)data, (gssize)size, &error);
    if (!caps) {
        FUZZ_ASSERT(error && error->message && *error->message);
        return 0;
    }
    FUZZ_ASSERT(itsmig_host_caps_check(caps, NULL));
    for (guint rev = 0; rev < 17; rev++)
        (void)itsmig_host_caps_has_revision(caps, rev);
    (void)itsmig_host_caps_n_conflicts(caps);
    copy = itsmig_host_caps_copy(caps);
    text = to_text(caps);
    again = itsmig_host_caps_from_json(text, -1, &error2);
    if (!again)
        fprintf(stderr, "round trip refused: %s\n%s\n", error2->message, text);
    FUZZ_ASSERT(again != NULL);
    text2 = to_text(again);
    FUZZ_ASSERT(strcmp(text, text2) == 0);
    {
        g_autofree char *text3 = to_text(copy);

        FUZZ_ASSERT(strcmp(text, text3) == 0);
    }
    return 0;
}
