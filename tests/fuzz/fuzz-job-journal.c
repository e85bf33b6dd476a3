/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A journal record as itsmigd reads it after a restart: the journal's content
 * check (itsmig_journal_check_text), the job record reader
 * (itsmig_job_from_json), then the recovery decision for every combination
 * of facts the daemon could observe, and the job driven on from there.
 * Whatever state the job reaches is journaled again, so its record must be
 * accepted by the reader and read back the same.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "itsmig/job.h"
#include "itsmig/journal.h"
#include "itsmig/json-strict.h"
#include "tests/fuzz/fuzz.h"

#define MAX_STEPS 48

static char *job_text(const ItsmigJob *job)
{
    g_autoptr(JsonNode) node = itsmig_job_to_json(job);

    return json_to_string(node, FALSE);
}

static ItsmigJob *job_parse(const char *text, gsize len, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();

    if (!json_parser_load_from_data(parser, text, (gssize)len, error))
        return NULL;
    return itsmig_job_from_json(json_parser_get_root(parser), error);
}

/* The record of @job is read back as the same job. */
static void assert_round_trip(const ItsmigJob *job)
{
    g_autofree char *text = job_text(job);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigJob) back = NULL;
    g_autofree char *text2 = NULL;

    FUZZ_ASSERT(itsmig_journal_check_text("journal record", text, strlen(text), NULL));
    back = job_parse(text, strlen(text), &error);
    if (!back)
        fprintf(stderr, "record refused: %s\n%s\n", error->message, text);
    FUZZ_ASSERT(back != NULL);
    text2 = job_text(back);
    FUZZ_ASSERT(strcmp(text, text2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    g_autoptr(ItsmigJob) job = NULL;
    g_autoptr(GError) error = NULL;
    static const ItsmigPresence presences[] = {
        ITSMIG_PRESENCE_UNKNOWN,
        ITSMIG_PRESENCE_ABSENT,
        ITSMIG_PRESENCE_PAUSED,
        ITSMIG_PRESENCE_RUNNING,
    };

    fuzz_glib_fatal();
    if (size > ITSMIG_JOURNAL_RECORD_MAX)
        return 0;
    if (!itsmig_journal_check_text("journal record", text, size, &error)) {
        FUZZ_ASSERT(error != NULL);
        return 0;
    }
    job = job_parse(text, size, &error);
    if (!job) {
        FUZZ_ASSERT(error != NULL);
        return 0;
    }
    assert_round_trip(job);

    for (guint s = 0; s < G_N_ELEMENTS(presences); s++) {
        for (guint d = 0; d < G_N_ELEMENTS(presences); d++) {
            for (guint t = 0; t < 2; t++) {
                ItsmigJobFacts facts = {presences[s], presences[d], t};
                g_autofree char *saved = job_text(job);
                g_autoptr(ItsmigJob) j = job_parse(saved, strlen(saved), NULL);
                gint64 now = j->created_us + 1000000;
                ItsmigAction action;
                guint steps = 0;

                FUZZ_ASSERT(j != NULL);
                if (!itsmig_phase_is_terminal(j->phase))
                    itsmig_job_recover(j, &facts, now);
                assert_round_trip(j);
                /* Each action then fails or succeeds by the facts' bits: the
                 * plan must end, and every record on the way be readable. */
                while (itsmig_job_next(j, &action) && steps < MAX_STEPS) {
                    ItsmigOutcome outcome =
                        ((s + d + t + steps) % 3) == 0 ? ITSMIG_OUTCOME_FAILED : ITSMIG_OUTCOME_OK;

                    FUZZ_ASSERT(action.kind > ITSMIG_ACTION_NONE &&
                                action.kind < ITSMIG_ACTION_LAST);
                    FUZZ_ASSERT(action.device < 0 ||
                                (j->devices && (guint)action.device < j->devices->len));
                    itsmig_job_begin(j, &action, now + steps);
                    assert_round_trip(j);
                    itsmig_job_end(j, outcome, outcome == ITSMIG_OUTCOME_OK ? NULL : "fuzz",
                                   outcome == ITSMIG_OUTCOME_OK ? NULL : "failed by the harness",
                                   &facts, now + steps);
                    assert_round_trip(j);
                    steps++;
                }
                FUZZ_ASSERT(steps < MAX_STEPS);
            }
        }
    }
    return 0;
}
