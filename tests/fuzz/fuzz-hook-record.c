/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt hook's per-domain record (RECORD-DIR/UUID.json) as both its
 * readers take it: the hook's own (itsmig_hook_record_parse) and itsmigd's
 * (itsmigd_hook_record_parse).  The hook writes the record and the daemon
 * reads it: whatever the hook accepts, the daemon accepts the same way.
 */
#include "config.h"

#include <string.h>

#include "client/hooks/hook-record.h"
#include "daemon/domain-metadata.h"
#include "tests/fuzz/fuzz.h"

#define UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    g_autoptr(GError) error = NULL;
    g_autoptr(HookRecord) hook = NULL;
    g_autofree char *problem = NULL;
    ItsmigdHookRecord daemon;

    fuzz_glib_fatal();
    hook = itsmig_hook_record_parse(text, size, "/run/itsmig/hook/" UUID ".json", UUID, &error);
    itsmigd_hook_record_parse(text, size, "/run/itsmig/hook/" UUID ".json", UUID, &daemon,
                              &problem);
    FUZZ_ASSERT(hook ? error == NULL : error != NULL);
    FUZZ_ASSERT(daemon.valid ? problem == NULL : problem != NULL);
    if (hook) {
        FUZZ_ASSERT(strcmp(hook->uuid, UUID) == 0);
        FUZZ_ASSERT(daemon.valid);
        FUZZ_ASSERT(daemon.incoming == hook->incoming);
        FUZZ_ASSERT(daemon.migrate_begin_at == hook->migrate_begin_at);
        FUZZ_ASSERT(daemon.started_at == hook->started_at);
    }
    return 0;
}
