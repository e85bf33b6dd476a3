/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "itsmig/journal.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/job-run.h"

/* ---- the table ------------------------------------------------------------- */

static void run_free(Run *r)
{
    itsmig_job_free(r->job);
    g_free(r->mark_error);
    g_free(r);
}

/* ---- libvirt's events ------------------------------------------------------------------- */

static void on_device_removed(gpointer data, const char *uuid, const char *alias)
{
    ItsmigdOrchestrator *o = data;

    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        if (!itsmig_phase_is_terminal(r->job->phase) && strcmp(r->job->uuid, uuid) == 0)
            r->removed = TRUE;
    }
    g_cond_broadcast(&o->cond);
    g_mutex_unlock(&o->lock);
}

static void on_job_completed(gpointer data, const char *uuid, virTypedParameterPtr params,
                             int nparams)
{
    ItsmigdOrchestrator *o = data;
    unsigned long long downtime = 0;

    if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DOWNTIME, &downtime) != 1)
        return;
    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        /* libvirt sends it just before its reply to the migration call, so
         * the worker may apply it after the transfer phase ended. */
        if (strcmp(r->job->uuid, uuid) != 0 || itsmig_phase_is_terminal(r->job->phase) ||
            !r->job->timings[ITSMIG_PHASE_TRANSFER].started_us)
            continue;
        /* The final figures of the transfer, which polling may have missed. */
        r->job->progress.downtime_ms = (gint64)MIN(downtime, (unsigned long long)G_MAXINT64);
        itsmigd_job_take_stats_locked(r, params, nparams);
    }
    g_mutex_unlock(&o->lock);
}

/* ---- the API --------------------------------------------------------------------------- */

static gint by_created(gconstpointer a, gconstpointer b)
{
    const Run *ra = *(Run *const *)a, *rb = *(Run *const *)b;

    return ra->job->created_us < rb->job->created_us ? -1
                                                     : ra->job->created_us > rb->job->created_us;
}

/* A job made of what could be read of a record that could not be read whole: journaled again
 * (so that a crash before its reconciliation does not lose it), reconciled once libvirt is
 * connected, and listed. */
static void adopt_salvaged(ItsmigdOrchestrator *o, ItsmigJob *job)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(Record) rec = NULL;
    Run *r = g_new0(Run, 1);

    r->o = o;
    r->job = job;
    r->log_offset = -1;
    r->published_phase = job->phase;
    r->recover = TRUE;
    r->unplug_asked = G_MAXUINT64;
    r->dest_last = ITSMIG_PRESENCE_UNKNOWN;
    rec = itsmigd_job_snapshot_locked(r, -1);
    if (!itsmigd_job_journal_put(o, rec, &error)) {
        itsmig_job_journal_failed(job, error->message);
        itsmigd_log_job(G_LOG_LEVEL_WARNING, job->domain, job->id, "journal: %s", error->message);
    }
    itsmigd_log_job(G_LOG_LEVEL_CRITICAL, job->domain, job->id,
                    "journal: migration %s to %s could not be read whole (%s); it is "
                    "reconciled from what could be read once libvirt is connected, and needs "
                    "attention",
                    job->id, job->destination, job->salvaged);
    g_ptr_array_add(o->runs, r);
}

/* A job read back from the journal: reconciled once libvirt is connected
 * unless it had ended. */
static void adopt_journaled(ItsmigdOrchestrator *o, ItsmigJob *job)
{
    Run *r = g_new0(Run, 1);

    r->o = o;
    r->job = job;
    r->log_offset = -1;
    r->published_phase = job->phase;
    r->recover = !itsmig_phase_is_terminal(job->phase);
    r->unplug_asked = G_MAXUINT64;
    r->dest_last = job->facts.destination;
    if (r->recover)
        itsmigd_log_job(G_LOG_LEVEL_MESSAGE, job->domain, job->id,
                        "journal: migration %s of %s to %s was in %s when itsmigd stopped; "
                        "it is reconciled once libvirt is connected",
                        job->id, job->domain, job->destination, itsmig_phase_to_string(job->phase));
    g_ptr_array_add(o->runs, r);
}

/* A record of the journal, as JSON: its job is adopted; a record that does
 * not read as a job is set aside, and what can be read of it salvaged. */
static void load_record(ItsmigdOrchestrator *o, const ItsmigJournalRecord *rec)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) local = NULL;
    g_autofree char *message = NULL;
    ItsmigJob *job = NULL;
    JsonNode *root;

    if (json_parser_load_from_data(parser, rec->text, rec->len, &local))
        job = itsmig_job_from_json(json_parser_get_root(parser), &local);
    if (job && strcmp(job->id, rec->id) != 0) {
        g_set_error(&local, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "it names job %s, not %s",
                    job->id, rec->id);
        g_clear_pointer(&job, itsmig_job_free);
    }
    if (job) {
        adopt_journaled(o, job);
        return;
    }
    root = json_parser_get_root(parser);
    itsmig_journal_set_aside(o->journal, rec->id, local->message, &message, NULL);
    /* Which domain the record is for is not known yet. */
    itsmigd_log_job_id(G_LOG_LEVEL_WARNING, rec->id, "journal: %s",
                       message ? message : local->message);
    /* An unfinished job is never dropped: what can be read of it is reconciled. */
    job = root ? itsmig_job_salvage(root, rec->id, message ? message : local->message,
                                    g_get_real_time())
               : NULL;
    if (job)
        adopt_salvaged(o, job);
}

/* Every job the journal holds, oldest first. */
static void load_journal(ItsmigdOrchestrator *o)
{
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GPtrArray) set_aside = NULL;

    records = itsmig_journal_load_full(o->journal, &problems, &set_aside);
    for (guint i = 0; problems && i < problems->len; i++)
        g_warning("journal: %s", (const char *)g_ptr_array_index(problems, i));
    /* Set aside as not JSON: what can be found in the text still makes a job, unless it shows
     * a finished one. */
    for (guint i = 0; i < set_aside->len; i++) {
        const ItsmigJournalRecord *rec = g_ptr_array_index(set_aside, i);
        ItsmigJob *job = itsmig_job_salvage_text(rec->text, rec->len, rec->id,
                                                 rec->len ? "the record is not a JSON object"
                                                          : "the record is empty",
                                                 g_get_real_time());

        if (job)
            adopt_salvaged(o, job);
    }
    for (guint i = 0; i < records->len; i++)
        load_record(o, g_ptr_array_index(records, i));
    /* Oldest first, by creation. */
    g_ptr_array_sort(o->runs, by_created);
}

ItsmigdOrchestrator *itsmigd_orchestrator_new(ItsmigDaemon *daemon, const char *state_dir,
                                              GError **error)
{
    g_autoptr(ItsmigdOrchestrator) o = g_new0(ItsmigdOrchestrator, 1);
    g_autofree char *dir = g_build_filename(state_dir, "jobs", NULL);
    ItsmigdVirtObserver obs = {on_device_removed, on_job_completed, NULL};

    o->d = daemon;
    g_mutex_init(&o->lock);
    g_mutex_init(&o->io);
    g_cond_init(&o->io_cond);
    g_cond_init(&o->cond);
    o->written = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    o->runs = g_ptr_array_new_with_free_func((GDestroyNotify)run_free);
    o->limits.max_jobs = 2;
    o->limits.keep_finished = 100;
    o->limits.qemu_log_dir = g_strdup("/var/log/libvirt/qemu");
    o->limits.qemu_log_mark = TRUE;
    o->limits.hook_record_dir = NULL;
    itsmigd_job_fault_parse(o);
    o->journal = itsmig_journal_open(dir, error);
    if (!o->journal)
        return NULL;
    load_journal(o);
    obs.data = o;
    itsmigd_virt_set_observer(daemon->virt, &obs);
    return g_steal_pointer(&o);
}

gboolean itsmigd_orchestrator_stop(ItsmigdOrchestrator *o)
{
    gint64 until = g_get_monotonic_time() + STOP_WAIT_US;
    guint left;

    g_mutex_lock(&o->lock);
    o->stopping = TRUE;
    g_cond_broadcast(&o->cond);
    while (o->workers > 0 && g_cond_wait_until(&o->cond, &o->lock, until))
        ;
    left = o->workers;
    if (left) {
        o->gave_up = TRUE;
        g_cond_broadcast(&o->cond);
    }
    g_mutex_unlock(&o->lock);
    if (left)
        /* A thread still inside libvirt (a transfer) cannot be stopped; the
         * journal says where it was, and the next start reconciles it. */
        g_warning("%u migration(s) still under way at exit; they are reconciled at the next "
                  "start",
                  left);
    return left == 0;
}

void itsmigd_orchestrator_free(ItsmigdOrchestrator *o)
{
    if (!o)
        return;
    if (!itsmigd_orchestrator_stop(o))
        return; /* a worker still uses it */
    g_ptr_array_unref(o->runs);
    g_hash_table_unref(o->written);
    itsmig_journal_free(o->journal);
    g_free(o->limits.qemu_log_dir);
    g_free(o->limits.hook_record_dir);
    g_free(o->fault.point);
    g_free(o->fault.action);
    g_cond_clear(&o->cond);
    g_cond_clear(&o->io_cond);
    g_mutex_clear(&o->io);
    g_mutex_clear(&o->lock);
    g_free(o);
}

void itsmigd_orchestrator_set_limits(ItsmigdOrchestrator *o,
                                     const ItsmigdOrchestratorLimits *limits)
{
    g_mutex_lock(&o->lock);
    g_free(o->limits.qemu_log_dir);
    g_free(o->limits.hook_record_dir);
    o->limits = *limits;
    o->limits.qemu_log_dir = g_strdup(limits->qemu_log_dir);
    o->limits.hook_record_dir = g_strdup(limits->hook_record_dir);
    g_mutex_unlock(&o->lock);
}

void itsmigd_orchestrator_get_defaults(ItsmigdOrchestrator *o, ItsmigdOrchestratorLimits *ret)
{
    g_mutex_lock(&o->lock);
    *ret = o->limits;
    ret->qemu_log_dir = NULL;
    ret->hook_record_dir = NULL;
    g_mutex_unlock(&o->lock);
}

char *itsmigd_orchestrator_qemu_log_dir(ItsmigdOrchestrator *o)
{
    char *dir;

    g_mutex_lock(&o->lock);
    dir = g_strdup(o->limits.qemu_log_dir);
    g_mutex_unlock(&o->lock);
    return dir;
}

char *itsmigd_orchestrator_hook_record_dir(ItsmigdOrchestrator *o)
{
    char *dir;

    g_mutex_lock(&o->lock);
    dir = g_strdup(o->limits.hook_record_dir);
    g_mutex_unlock(&o->lock);
    return dir;
}

void itsmigd_orchestrator_connected(ItsmigdOrchestrator *o)
{
    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        /* The worker clears r->recover once it has reconciled. */
        if ((r->recover || itsmigd_job_awaits_peer_locked(r)) && !r->thread && !o->stopping)
            itsmigd_job_start_worker_locked(o, r);
    }
    g_mutex_unlock(&o->lock);
}

static char *new_id(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");

    return g_strdup_printf("%s-%06x", stamp, g_random_int_range(0, 0xffffff));
}

/* Whether a migration of @uuid may start now: itsmigd is not stopping, no
 * other job moves the domain, and [migration] max-jobs leaves room. */
static gboolean admit_locked(ItsmigdOrchestrator *o, const char *domain, const char *uuid,
                             GError **error)
{
    guint active = 0;

    if (o->stopping) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "itsmigd is stopping");
        return FALSE;
    }
    for (guint i = 0; i < o->runs->len; i++) {
        Run *other = g_ptr_array_index(o->runs, i);

        if (itsmig_phase_is_terminal(other->job->phase))
            continue;
        if (strcmp(other->job->uuid, uuid) == 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                        "migration %s of '%s' is under way (%s)", other->job->id, domain,
                        itsmig_phase_to_string(other->job->phase));
            return FALSE;
        }
        active++;
    }
    if (active >= o->limits.max_jobs) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_TOO_MANY_JOBS,
                    "%u migrations are under way, the most [migration] max-jobs allows", active);
        return FALSE;
    }
    return TRUE;
}

/* A new job, listed under an id of its own. */
static Run *add_run_locked(ItsmigdOrchestrator *o, const char *domain, const char *uuid,
                           const char *source, const char *destination, ItsmigJobMode mode,
                           const ItsmigJobOptions *options)
{
    g_autofree char *id = new_id();
    Run *r;

    while (itsmigd_job_find_locked(o, id)) {
        g_free(id);
        id = new_id();
    }
    r = g_new0(Run, 1);
    r->o = o;
    r->log_offset = -1;
    r->dest_last = ITSMIG_PRESENCE_UNKNOWN;
    r->job =
        itsmig_job_new(id, domain, uuid, source, destination, mode, options, g_get_real_time());
    r->published_phase = ITSMIG_PHASE_LAST;
    g_ptr_array_add(o->runs, r);
    return r;
}

JsonNode *itsmigd_orchestrator_start(ItsmigdOrchestrator *o, const char *domain, const char *uuid,
                                     const char *destination, ItsmigJobMode mode,
                                     const ItsmigJobOptions *options, GError **error)
{
    g_autoptr(ItsmigHostCaps) caps = itsmigd_host_get_caps(&o->d->host);
    g_autofree char *id = NULL;
    g_autoptr(Record) rec = NULL;
    JsonNode *node;
    Run *r;

    g_mutex_lock(&o->lock);
    if (!admit_locked(o, domain, uuid, error)) {
        g_mutex_unlock(&o->lock);
        return NULL;
    }
    r = add_run_locked(o, domain, uuid, caps->hostname, destination, mode, options);
    id = g_strdup(r->job->id);
    /* Listed (its id and domain taken) while its first record is written
     * without the lock; it runs only once journaled. */
    rec = itsmigd_job_snapshot_locked(r, -1);
    g_mutex_unlock(&o->lock);
    if (!itsmigd_job_journal_put(o, rec, error)) {
        g_mutex_lock(&o->lock);
        g_ptr_array_remove(o->runs, r);
        g_mutex_unlock(&o->lock);
        return NULL;
    }
    g_mutex_lock(&o->lock);
    if (o->stopping) {
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

        /* Nothing done yet: the job is withdrawn. */
        g_ptr_array_add(ids, g_strdup(id));
        g_ptr_array_remove(o->runs, r);
        g_mutex_unlock(&o->lock);
        itsmigd_job_journal_forget(o, ids);
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "itsmigd is stopping");
        return NULL;
    }
    itsmigd_job_start_worker_locked(o, r);
    node = itsmig_job_to_json(r->job);
    g_mutex_unlock(&o->lock);
    itsmigd_log_job(G_LOG_LEVEL_MESSAGE, domain, id, "migration %s to %s (%s) accepted", id,
                    destination, itsmig_job_mode_to_string(mode));
    return node;
}

JsonNode *itsmigd_orchestrator_get(ItsmigdOrchestrator *o, const char *id, GError **error)
{
    JsonNode *node = NULL;
    Run *r;

    g_mutex_lock(&o->lock);
    r = itsmigd_job_find_locked(o, id);
    if (r)
        node = itsmig_job_to_json(r->job);
    g_mutex_unlock(&o->lock);
    if (!node)
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "no migration '%s' is known", id);
    return node;
}

JsonNode *itsmigd_orchestrator_list(ItsmigdOrchestrator *o)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "migrations");
    json_builder_begin_array(b);
    g_mutex_lock(&o->lock);
    for (guint i = o->runs->len; i > 0; i--)
        json_builder_add_value(b,
                               itsmig_job_to_json(((Run *)g_ptr_array_index(o->runs, i - 1))->job));
    g_mutex_unlock(&o->lock);
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *itsmigd_orchestrator_abort(ItsmigdOrchestrator *o, const char *id, GError **error)
{
    JsonNode *node = NULL;
    Record *rec = NULL;
    Run *r;

    g_mutex_lock(&o->lock);
    r = itsmigd_job_find_locked(o, id);
    if (!r) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "no migration '%s' is known", id);
    } else if (r->job->abort_requested && !itsmig_phase_is_terminal(r->job->phase)) {
        node = itsmig_job_to_json(r->job); /* asked before: the same answer */
    } else if (!itsmig_job_request_abort(r->job, itsmigd_job_now(r->job))) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                    itsmig_phase_is_terminal(r->job->phase)
                        ? "migration %s has ended (%s)"
                        : "migration %s is past the point of return (%s): the transfer has "
                          "completed, so there is no source copy to go back to",
                    id, itsmig_phase_to_string(r->job->phase));
    } else {
        itsmigd_job_publish_locked(r, "abort-requested", NULL, NULL);
        rec = itsmigd_job_record_locked(r, -1);
        g_cond_broadcast(&o->cond);
        node = itsmig_job_to_json(r->job);
    }
    g_mutex_unlock(&o->lock);
    if (rec) {
        itsmigd_log_job(G_LOG_LEVEL_MESSAGE, rec->domain, id, "migration %s: abort requested", id);
        itsmigd_job_journal_commit(o, rec);
    }
    return node;
}

guint itsmigd_orchestrator_active(ItsmigdOrchestrator *o)
{
    guint n = 0;

    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++)
        if (!itsmig_phase_is_terminal(((Run *)g_ptr_array_index(o->runs, i))->job->phase))
            n++;
    g_mutex_unlock(&o->lock);
    return n;
}

void itsmigd_orchestrator_count_by_phase(ItsmigdOrchestrator *o, guint *ret_counts)
{
    memset(ret_counts, 0, sizeof(guint) * ITSMIG_PHASE_LAST);
    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        ItsmigPhase phase = ((Run *)g_ptr_array_index(o->runs, i))->job->phase;

        if ((unsigned int)phase < ITSMIG_PHASE_LAST)
            ret_counts[phase]++;
    }
    g_mutex_unlock(&o->lock);
}
