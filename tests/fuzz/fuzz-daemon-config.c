/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * itsmigd.conf as itsmigd and the hook read it (itsmigd_config_parse, the
 * same code as itsmigd_config_load without the file): a configuration is
 * either refused with a message naming where, or accepted with every value
 * checked.  Files the text names (tokens, the register file) are opened as
 * they would be; the harness runs with stdin on /dev/null.
 */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "daemon/daemon-config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = NULL;

    fuzz_glib_fatal();
    c = itsmigd_config_parse((const char *)data, size, "/etc/itsmig/itsmigd.conf", NULL, &error);
    if (!c) {
        FUZZ_ASSERT(error && error->domain == ITSMIG_ERROR && *error->message);
        return 0;
    }
    FUZZ_ASSERT(c->uri && c->socket && g_path_is_absolute(c->socket));
    FUZZ_ASSERT(c->state_dir && g_path_is_absolute(c->state_dir));
    FUZZ_ASSERT(c->hook_record_dir && g_path_is_absolute(c->hook_record_dir));
    (void)itsmigd_config_log_level_to_string(c->log_level);
    return 0;
}
