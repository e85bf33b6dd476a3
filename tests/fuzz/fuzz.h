/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What every harness in tests/fuzz/ defines: libFuzzer's entry point.  The
 * same harness is linked with libFuzzer for `make fuzz` and with replay.c,
 * which feeds it the corpus and regression files under ASan and UBSan in
 * `make check`.  A harness aborts (FUZZ_ASSERT) when an invariant breaks, so
 * that both builds report it as a crash.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A GLib critical is a caller's bug (a getter on a member of the wrong
 * type, a NULL where a string must be): make it a crash like any other,
 * with abort() rather than GLib's breakpoint trap, which libFuzzer would not
 * catch to save the input. */
static void fuzz_glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
                          gpointer data)
{
    fprintf(stderr, "%s: %s\n", domain ? domain : "(none)", message);
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL))
        abort();
}

static inline void fuzz_glib_fatal(void)
{
    static int done;

    if (!done) {
        g_log_set_default_handler(fuzz_glib_log, NULL);
        done = 1;
    }
}

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
