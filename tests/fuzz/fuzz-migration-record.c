/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The migration record (daemon/migration-record.c) that a source writes into
 * the live metadata of a domain and the destination reads back from the
 * arrived domain.  It decides which device XML the destination re-attaches,
 * so it is read as hostile: any text either gives a record that keeps the
 * record's rules (a job, a peer MAC, up to 64 devices with distinct, non-empty
 * aliases) or a clear error.  A record read is written again as the source
 * writes it and read back unchanged, so that what a source records is what
 * a destination attaches.
 */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "daemon/migration-record.h"
#include "tests/fuzz/fuzz.h"

static void check_record(const ItsmigdMigrationRecord *r)
{
    FUZZ_ASSERT(r->job && r->job[0] && r->peer_mac);
    FUZZ_ASSERT(r->aliases && r->xmls && r->aliases->len == r->xmls->len);
    FUZZ_ASSERT(r->aliases->len <= 64);
    for (guint i = 0; i < r->aliases->len; i++) {
        const char *alias = g_ptr_array_index(r->aliases, i);

        FUZZ_ASSERT(alias && alias[0]);
        FUZZ_ASSERT(g_ptr_array_index(r->xmls, i) != NULL);
        /* Each alias names one device: the lookup finds this one. */
        FUZZ_ASSERT(itsmigd_migration_record_device(r, alias) == g_ptr_array_index(r->xmls, i));
    }
    FUZZ_ASSERT(itsmigd_migration_record_device(r, "") == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* virDomainGetMetadata gives a C string. */
    g_autofree char *text = g_strndup((const char *)data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdMigrationRecord) r = NULL;
    g_autoptr(ItsmigdMigrationRecord) again = NULL;
    g_autoptr(GError) again_error = NULL;
    g_autofree char *written = NULL;

    fuzz_glib_fatal();
    r = itsmigd_migration_record_parse(text, &error);
    if (!r) {
        FUZZ_ASSERT(error && g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT));
        FUZZ_ASSERT(error->message[0]);
        return 0;
    }
    FUZZ_ASSERT(!error);
    check_record(r);

    written = itsmigd_migration_record_to_xml(r->job, r->peer_mac, r->aliases, r->xmls);
    again = itsmigd_migration_record_parse(written, &again_error);
    if (!again)
        fprintf(stderr, "written again: %s\n%s\n", written, again_error->message);
    FUZZ_ASSERT(again);
    FUZZ_ASSERT(strcmp(again->job, r->job) == 0);
    FUZZ_ASSERT(strcmp(again->peer_mac, r->peer_mac) == 0);
    FUZZ_ASSERT(again->aliases->len == r->aliases->len);
    for (guint i = 0; i < r->aliases->len; i++) {
        FUZZ_ASSERT(
            strcmp(g_ptr_array_index(again->aliases, i), g_ptr_array_index(r->aliases, i)) == 0);
        FUZZ_ASSERT(strcmp(g_ptr_array_index(again->xmls, i), g_ptr_array_index(r->xmls, i)) == 0);
    }
    return 0;
}
