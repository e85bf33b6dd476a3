/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job record's writer: the API's representation and the journal's. */
#include "config.h"

#include "itsmig/job.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
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
    itsmig_json_add_string_or_null(b, "phase", itsmig_phase_to_string(phase));
    add_time(b, "started_at", t->started_us);
    add_time(b, "ended_at", t->ended_us);
    itsmig_json_add_int_or_null(b, "duration_ms", t->ended_us && t->duration_ms >= 0,
                                t->duration_ms);
    itsmig_json_add_string_or_null(b, "outcome", t->outcome);
    json_builder_end_object(b);
}

static void add_options(JsonBuilder *b, const ItsmigJobOptions *o)
{
    json_builder_set_member_name(b, "options");
    json_builder_begin_object(b);
    itsmig_json_add_int(b, "phase_timeout", o->phase_timeout_s);
    itsmig_json_add_int(b, "total_timeout", o->total_timeout_s);
    itsmig_json_add_int(b, "max_downtime", (gint64)o->max_downtime_ms);
    itsmig_json_add_int(b, "bandwidth", (gint64)o->bandwidth_mibs);
    itsmig_json_add_bool(b, "auto_converge", o->auto_converge);
    itsmig_json_add_bool(b, "resume", o->resume);
    itsmig_json_add_bool(b, "quiesce", o->quiesce);
    itsmig_json_add_strv(b, "detach", (const char *const *)o->detach);
    json_builder_end_object(b);
}

/* The plan's phases in order (live mode lists the pause it skips where safe mode has it), then
 * the rollback once it has begun. */
static void add_phases(JsonBuilder *b, const ItsmigJob *job)
{
    gsize n;
    const ItsmigPhase *plan = job_plan_of(job->mode, &n);

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
}

static void add_pending(JsonBuilder *b, const ItsmigJob *job)
{
    json_builder_set_member_name(b, "pending");
    if (!job->has_pending) {
        json_builder_add_null_value(b);
        return;
    }
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "action", itsmig_action_to_string(job->pending.kind));
    itsmig_json_add_int_or_null(b, "device", job->pending.device >= 0, job->pending.device);
    json_builder_end_object(b);
}

static void add_devices(JsonBuilder *b, const ItsmigJob *job)
{
    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (guint i = 0; i < job->devices->len; i++) {
        const ItsmigJobDevice *d = job_device_at(job, i);

        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "alias", d->alias);
        itsmig_json_add_string_or_null(b, "xml", d->xml);
        itsmig_json_add_string_or_null(b, "state", job_device_state_to_string(d->state));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void add_facts(JsonBuilder *b, const ItsmigJobFacts *f)
{
    json_builder_set_member_name(b, "facts");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "source", itsmig_presence_to_string(f->source));
    itsmig_json_add_string_or_null(b, "destination", itsmig_presence_to_string(f->destination));
    itsmig_json_add_bool(b, "transfer_active", f->transfer_active);
    json_builder_end_object(b);
}

static void add_progress(JsonBuilder *b, const ItsmigJobProgress *p)
{
    json_builder_set_member_name(b, "progress");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "percent");
    if (p->percent >= 0)
        json_builder_add_double_value(b, p->percent);
    else
        json_builder_add_null_value(b);
    itsmig_json_add_int(b, "data_total", (gint64)p->data_total);
    itsmig_json_add_int(b, "data_processed", (gint64)p->data_processed);
    itsmig_json_add_int(b, "data_remaining", (gint64)p->data_remaining);
    itsmig_json_add_int(b, "bytes_per_second", (gint64)p->bytes_per_second);
    itsmig_json_add_int(b, "iteration", (gint64)p->iteration);
    itsmig_json_add_int_or_null(b, "downtime_ms", p->downtime_ms >= 0, p->downtime_ms);
    itsmig_json_add_int_or_null(b, "paused_ms", p->paused_ms >= 0, p->paused_ms);
    json_builder_end_object(b);
}

/* The first failure, what a person must do, and the notes. */
static void add_outcome(JsonBuilder *b, const ItsmigJob *job)
{
    json_builder_set_member_name(b, "error");
    if (job->error_code) {
        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "code", job->error_code);
        itsmig_json_add_string_or_null(b, "message",
                                       job->error_message ? job->error_message : job->error_code);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    itsmig_json_add_string_or_null(b, "attention", job->attention);
    json_builder_set_member_name(b, "notes");
    json_builder_begin_array(b);
    for (guint i = 0; i < job->notes->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(job->notes, i));
    json_builder_end_array(b);
}

static void add_journal(JsonBuilder *b, const ItsmigJobJournalState *j)
{
    json_builder_set_member_name(b, "journal");
    json_builder_begin_object(b);
    itsmig_json_add_bool(b, "behind", j->behind);
    itsmig_json_add_int(b, "failures", j->failures);
    itsmig_json_add_string_or_null(b, "last_error", j->last_error);
    add_time(b, "written_at", j->written_us);
    json_builder_end_object(b);
}

static void add_rollback(JsonBuilder *b, const ItsmigJob *job)
{
    json_builder_set_member_name(b, "rollback");
    json_builder_begin_object(b);
    itsmig_json_add_bool(b, "aborted", job->rb_aborted);
    itsmig_json_add_bool(b, "destroyed", job->rb_destroyed);
    itsmig_json_add_bool(b, "resumed", job->rb_resumed);
    itsmig_json_add_bool(b, "dest_unasked", job->rb_dest_unasked);
    json_builder_end_object(b);
}

JsonNode *itsmig_job_to_json(const ItsmigJob *job)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "id", job->id);
    itsmig_json_add_string_or_null(b, "domain", job->domain);
    itsmig_json_add_string_or_null(b, "uuid", job->uuid);
    itsmig_json_add_string_or_null(b, "source", job->source);
    itsmig_json_add_string_or_null(b, "destination", job->destination);
    itsmig_json_add_string_or_null(b, "destination_hostname", job->destination_hostname);
    itsmig_json_add_string_or_null(b, "mode", itsmig_job_mode_to_string(job->mode));
    add_options(b, &job->options);
    itsmig_json_add_string_or_null(b, "phase", itsmig_phase_to_string(job->phase));
    itsmig_json_add_bool(b, "finished", itsmig_phase_is_terminal(job->phase));
    itsmig_json_add_string_or_null(
        b, "failed_phase",
        job->failed_phase < ITSMIG_PHASE_LAST ? itsmig_phase_to_string(job->failed_phase) : NULL);
    add_time(b, "created_at", job->created_us);
    add_time(b, "finished_at", job->finished_us);
    add_phases(b, job);
    add_pending(b, job);
    itsmig_json_add_bool(b, "source_was_running", job->source_was_running);
    add_devices(b, job);
    add_facts(b, &job->facts);
    add_progress(b, &job->progress);
    add_node(b, "verdict", job->verdict);
    add_node(b, "its_save", job->its_save);
    add_node(b, "its_restore", job->its_restore);
    add_outcome(b, job);
    itsmig_json_add_bool(b, "abort_requested", job->abort_requested);
    itsmig_json_add_bool(b, "recovered", job->recovered);
    itsmig_json_add_bool(b, "transient", job->transient);
    itsmig_json_add_string_or_null(b, "salvaged", job->salvaged);
    add_journal(b, &job->journal);
    add_rollback(b, job);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}
