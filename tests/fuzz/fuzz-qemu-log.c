/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QEMU log scanner (itsmig_qemu_log_scan) over any bytes: each finding's
 * line is valid UTF-8 within the length limit, its line number within the
 * text, at most one per line and in order.
 */
#include "config.h"

#include <string.h>

#include "itsmig/qemu-log.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GPtrArray) findings = NULL;
    guint lines = 1;

    fuzz_glib_fatal();
    findings = itsmig_qemu_log_scan((const char *)data, size);

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    FUZZ_ASSERT(findings != NULL);
    for (guint i = 0; i < findings->len; i++) {
        const ItsmigQemuLogFinding *f = g_ptr_array_index(findings, i);

        FUZZ_ASSERT(f->kind < ITSMIG_QEMU_LOG_LAST);
        FUZZ_ASSERT(itsmig_qemu_log_kind_to_string(f->kind) != NULL);
        FUZZ_ASSERT(f->line && g_utf8_validate(f->line, -1, NULL));
        FUZZ_ASSERT(strlen(f->line) <= ITSMIG_QEMU_LOG_LINE_MAX);
        FUZZ_ASSERT(f->line_no >= 1 && f->line_no <= lines);
        /* At most one finding per line, in order. */
        if (i > 0) {
            const ItsmigQemuLogFinding *prev = g_ptr_array_index(findings, i - 1);

            FUZZ_ASSERT(prev->line_no < f->line_no);
        }
    }
    return 0;
}
