/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt hook's per-domain record (RECORD-DIR/UUID.json), as its one
 * reader takes it (itsmig_hook_record_parse, used by the hook and by itsmigd):
 * whatever it accepts, its writer writes back to the same record.
 */
#include "config.h"

#include <string.h>

#include "itsmig/hook-record.h"
#include "tests/fuzz/fuzz.h"

#define UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define PATH "/run/itsmig/hook/" UUID ".json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigHookRecord) r = NULL;
    g_autoptr(ItsmigHookRecord) back = NULL;
    g_autoptr(JsonNode) node = NULL;
    g_autofree char *written = NULL;

    fuzz_glib_fatal();
    r = itsmig_hook_record_parse(text, size, PATH, UUID, &error);
    FUZZ_ASSERT(r ? error == NULL : error != NULL);
    if (!r) {
        FUZZ_ASSERT(strstr(error->message, PATH) != NULL);
        return 0;
    }
    FUZZ_ASSERT(strcmp(r->uuid, UUID) == 0);
    FUZZ_ASSERT(r->migrate_begin_at >= 0 && r->started_at >= 0);
    node = itsmig_hook_record_to_json(r);
    written = json_to_string(node, FALSE);
    back = itsmig_hook_record_parse(written, strlen(written), PATH, UUID, &error);
    FUZZ_ASSERT(back != NULL);
    FUZZ_ASSERT(back->incoming == r->incoming);
    FUZZ_ASSERT(back->migrate_begin_at == r->migrate_begin_at);
    FUZZ_ASSERT(back->started_at == r->started_at);
    FUZZ_ASSERT(g_strcmp0(back->name, r->name) == 0);
    return 0;
}
