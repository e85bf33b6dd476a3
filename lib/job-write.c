/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job record's writer: the API's representation and the journal's. */
#include "config.h"

#include "itsmig/job.h"
#include "job-private.h"

/* ---- JSON ------------------------------------------------------------------- */

/* The range of four-digit years, which ISO 8601 (and the reader) requires. */
#define TIME_MIN_US (G_GINT64_CONSTANT(-62135596800) * G_USEC_PER_SEC) /* 0001-01-01 */
#define TIME_MAX_US (G_GINT64_CONSTANT(253402300799) * G_USEC_PER_SEC) /* 9999-12-31 */

char *job_time_text(gint64 us)
{
    g_autoptr(GDateTime) t0 = NULL;
    g_autoptr(GDateTime) t = NULL;
    gint64 s;

    /* A clock far off still gives a time the reader takes back. */
    us = CLAMP(us, TIME_MIN_US, TIME_MAX_US);
    s = us / G_USEC_PER_SEC - (us % G_USEC_PER_SEC < 0);
    t0 = g_date_time_new_from_unix_utc(s);
    t = g_date_time_add(t0, us - s * G_USEC_PER_SEC);
    /* Not g_date_time_format(): its %Y does not pad years before 1000 to four digits. */
    return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", g_date_time_get_year(t),
                           g_date_time_get_month(t), g_date_time_get_day_of_month(t),
                           g_date_time_get_hour(t), g_date_time_get_minute(t),
                           g_date_time_get_second(t), g_date_time_get_microsecond(t));
}

static void add_time(JsonBuilder *b, const char *key, gint64 us)
{
    json_builder_set_member_name(b, key);
    if (us) {
        g_autofree char *t = job_time_text(us);

        json_builder_add_string_value(b, t);
    } else {
        json_builder_add_null_value(b);
    }
}

static void add_string(JsonBuilder *b, const char *key, const char *value)
{
    json_builder_set_member_name(b, key);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

static void add_node(JsonBuilder *b, const char *key, JsonNode *node)
{
    json_builder_set_member_name(b, key);
    if (node)
        json_builder_add_value(b, json_node_copy(node));
    else
        json_builder_add_null_value(b);
}

static void add_phase(JsonBuilder *b, const ItsmigJob *job, ItsmigPhase phase)
{
    const ItsmigPhaseTiming *t = &job->timings[phase];

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "phase");
    json_builder_add_string_value(b, itsmig_phase_to_string(phase));
    add_time(b, "started_at", t->started_us);
    add_time(b, "ended_at", t->ended_us);
    json_builder_set_member_name(b, "duration_ms");
    if (t->ended_us && t->duration_ms >= 0)
        json_builder_add_int_value(b, t->duration_ms);
    else
        json_builder_add_null_value(b);
    add_string(b, "outcome", t->outcome);
    json_builder_end_object(b);
}

JsonNode *itsmig_job_to_json(const ItsmigJob *job)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    gsize n;
    const ItsmigPhase *plan = job_plan_of(job->mode, &n);

    json_builder_begin_object(b);
    add_string(b, "id", job->id);
    add_string(b, "domain", job->domain);
    add_string(b, "uuid", job->uuid);
    add_string(b, "source", job->source);
    add_string(b, "destination", job->destination);
    add_string(b, "destination_hostname", job->destination_hostname);
    add_string(b, "mode", itsmig_job_mode_to_string(job->mode));

    json_builder_set_member_name(b, "options");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "phase_timeout");
    json_builder_add_int_value(b, job->options.phase_timeout_s);
    json_builder_set_member_name(b, "total_timeout");
    json_builder_add_int_value(b, job->options.total_timeout_s);
    json_builder_set_member_name(b, "max_downtime");
    json_builder_add_int_value(b, (gint64)job->options.max_downtime_ms);
    json_builder_set_member_name(b, "bandwidth");
    json_builder_add_int_value(b, (gint64)job->options.bandwidth_mibs);
    json_builder_set_member_name(b, "auto_converge");
    json_builder_add_boolean_value(b, job->options.auto_converge);
    json_builder_set_member_name(b, "resume");
    json_builder_add_boolean_value(b, job->options.resume);
    json_builder_set_member_name(b, "quiesce");
    json_builder_add_boolean_value(b, job->options.quiesce);
    json_builder_set_member_name(b, "detach");
    if (job->options.detach) {
        json_builder_begin_array(b);
        for (char **a = job->options.detach; *a; a++)
            json_builder_add_string_value(b, *a);
        json_builder_end_array(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);

    add_string(b, "phase", itsmig_phase_to_string(job->phase));
    json_builder_set_member_name(b, "finished");
    json_builder_add_boolean_value(b, itsmig_phase_is_terminal(job->phase));
    add_string(b, "failed_phase",
               job->failed_phase < ITSMIG_PHASE_LAST ? itsmig_phase_to_string(job->failed_phase)
                                                     : NULL);
    add_time(b, "created_at", job->created_us);
    add_time(b, "finished_at", job->finished_us);

    json_builder_set_member_name(b, "phases");
    json_builder_begin_array(b);
    for (gsize i = 0; i < n; i++) {
        add_phase(b, job, plan[i]);
        if (plan[i] == ITSMIG_PHASE_QUIESCE_DEVICES && job->mode == ITSMIG_MODE_LIVE)
            add_phase(b, job, ITSMIG_PHASE_PAUSE_VCPUS);
    }
    if (job->timings[ITSMIG_PHASE_ROLLBACK].started_us)
        add_phase(b, job, ITSMIG_PHASE_ROLLBACK);
    json_builder_end_array(b);

    json_builder_set_member_name(b, "pending");
    if (job->has_pending) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "action");
        json_builder_add_string_value(b, itsmig_action_to_string(job->pending.kind));
        json_builder_set_member_name(b, "device");
        if (job->pending.device >= 0)
            json_builder_add_int_value(b, job->pending.device);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "source_was_running");
    json_builder_add_boolean_value(b, job->source_was_running);

    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (guint i = 0; i < job->devices->len; i++) {
        const ItsmigJobDevice *d = job_device_at(job, i);

        json_builder_begin_object(b);
        add_string(b, "alias", d->alias);
        add_string(b, "xml", d->xml);
        add_string(b, "state", job_device_state_to_string(d->state));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "facts");
    json_builder_begin_object(b);
    add_string(b, "source", itsmig_presence_to_string(job->facts.source));
    add_string(b, "destination", itsmig_presence_to_string(job->facts.destination));
    json_builder_set_member_name(b, "transfer_active");
    json_builder_add_boolean_value(b, job->facts.transfer_active);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "progress");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "percent");
    if (job->progress.percent >= 0)
        json_builder_add_double_value(b, job->progress.percent);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "data_total");
    json_builder_add_int_value(b, (gint64)job->progress.data_total);
    json_builder_set_member_name(b, "data_processed");
    json_builder_add_int_value(b, (gint64)job->progress.data_processed);
    json_builder_set_member_name(b, "data_remaining");
    json_builder_add_int_value(b, (gint64)job->progress.data_remaining);
    json_builder_set_member_name(b, "bytes_per_second");
    json_builder_add_int_value(b, (gint64)job->progress.bytes_per_second);
    json_builder_set_member_name(b, "iteration");
    json_builder_add_int_value(b, (gint64)job->progress.iteration);
    json_builder_set_member_name(b, "downtime_ms");
    if (job->progress.downtime_ms >= 0)
        json_builder_add_int_value(b, job->progress.downtime_ms);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "paused_ms");
    if (job->progress.paused_ms >= 0)
        json_builder_add_int_value(b, job->progress.paused_ms);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);

    add_node(b, "verdict", job->verdict);
    add_node(b, "its_save", job->its_save);
    add_node(b, "its_restore", job->its_restore);

    json_builder_set_member_name(b, "error");
    if (job->error_code) {
        json_builder_begin_object(b);
        add_string(b, "code", job->error_code);
        add_string(b, "message", job->error_message ? job->error_message : job->error_code);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    add_string(b, "attention", job->attention);
    json_builder_set_member_name(b, "notes");
    json_builder_begin_array(b);
    for (guint i = 0; i < job->notes->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(job->notes, i));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "abort_requested");
    json_builder_add_boolean_value(b, job->abort_requested);
    json_builder_set_member_name(b, "recovered");
    json_builder_add_boolean_value(b, job->recovered);
    json_builder_set_member_name(b, "transient");
    json_builder_add_boolean_value(b, job->transient);
    add_string(b, "salvaged", job->salvaged);
    json_builder_set_member_name(b, "journal");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "behind");
    json_builder_add_boolean_value(b, job->journal.behind);
    json_builder_set_member_name(b, "failures");
    json_builder_add_int_value(b, job->journal.failures);
    add_string(b, "last_error", job->journal.last_error);
    add_time(b, "written_at", job->journal.written_us);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "rollback");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "aborted");
    json_builder_add_boolean_value(b, job->rb_aborted);
    json_builder_set_member_name(b, "destroyed");
    json_builder_add_boolean_value(b, job->rb_destroyed);
    json_builder_set_member_name(b, "resumed");
    json_builder_add_boolean_value(b, job->rb_resumed);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}
