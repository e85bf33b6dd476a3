/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A peer's reply body as itsmigd reads it (daemon/peer-reply.c): the object
 * of a call, the error text of a refusal, the incoming-domain check the
 * orchestrator makes, and the members it then reads.  Also the
 * capabilities document, which a peer sends to GET /v1/host.  Nothing a peer
 * sends may make GLib complain (criticals are fatal here).
 */
#include "config.h"

#include <string.h>

#include "itsmig/host-caps.h"
#include "daemon/peer-reply.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) reply = NULL;
    g_autofree char *text = NULL;

    fuzz_glib_fatal();
    text = itsmigd_peer_reply_error_text(body, size);
    FUZZ_ASSERT(!text || strchr(text, ':'));
    {
        ItsmigErrorCode code = itsmigd_peer_reply_error_code(body, size, 500);

        FUZZ_ASSERT(code == ITSMIG_ERROR_PEER_ERROR ||
                    code == ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT);
        FUZZ_ASSERT(itsmigd_peer_reply_error_code(body, size, 503) ==
                    ITSMIG_ERROR_PEER_UNAVAILABLE);
    }
    reply = itsmigd_peer_reply_parse(body, size, &error);
    if (!reply) {
        FUZZ_ASSERT(error && *error->message);
    } else {
        const char *why = NULL;

        FUZZ_ASSERT(JSON_NODE_HOLDS_OBJECT(reply));
        if (itsmigd_peer_reply_incoming_valid(reply, &why)) {
            JsonObject *o = json_node_get_object(reply);

            FUZZ_ASSERT(why == NULL);
            /* What the orchestrator then reads, with its getters. */
            (void)json_object_get_boolean_member_with_default(o, "present", FALSE);
            (void)json_object_get_string_member_with_default(o, "state", NULL);
        } else {
            FUZZ_ASSERT(why != NULL);
        }
    }
    {
        g_autoptr(GError) local = NULL;
        g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_from_json(body, (gssize)size, &local);

        FUZZ_ASSERT(caps ? local == NULL : local != NULL);
    }
    return 0;
}
