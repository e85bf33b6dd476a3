/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/virt-domain.h"
#include "daemon/job-run.h"

/* ---- facts --------------------------------------------------------------------- */

static void source_facts(virConnectPtr conn, const char *uuid, ItsmigJobFacts *f)
{
    g_autoptr(virDomain) dom = NULL;
    virDomainJobInfo info;

    f->source = itsmigd_job_presence_on(conn, uuid, &dom);
    f->transfer_active = FALSE;
    /* Drivers without jobs (the test driver) have no transfer either. */
    if (dom && virDomainGetJobInfo(dom, &info) == 0)
        f->transfer_active =
            info.type == VIR_DOMAIN_JOB_BOUNDED || info.type == VIR_DOMAIN_JOB_UNBOUNDED;
}

static ItsmigJobFacts observe(Run *r, virConnectPtr conn, gboolean ask_dest)
{
    ItsmigJobFacts f = {ITSMIG_PRESENCE_UNKNOWN, r->dest_last, FALSE};

    source_facts(conn, r->job->uuid, &f);
    if (ask_dest) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply =
            itsmigd_job_ask_destination_ready(r, itsmigd_job_dest_wait_until(r), &error);

        r->dest_unready =
            !reply && g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNAVAILABLE);
        if (reply)
            f.destination = itsmigd_job_dest_presence(reply);
        else if (itsmigd_job_peer_may_return(error))
            f.destination = itsmigd_job_dest_presence_libvirt(r);
        else
            f.destination = ITSMIG_PRESENCE_UNKNOWN;
        r->dest_last = f.destination;
    }
    return f;
}

/* ---- the worker ---------------------------------------------------------------------- */

/* Whether the destination may hold a copy, so that it must be asked. */
static gboolean dest_matters(const ItsmigJob *job)
{
    /* A salvaged record may have lost its timings. */
    return job->timings[ITSMIG_PHASE_TRANSFER].started_us != 0 || job->salvaged;
}

/* How the job ended, for the log (written once o->lock is released). */
static char *end_message_locked(Run *r, GLogLevelFlags *ret_level)
{
    ItsmigJob *job = r->job;
    const char *labels[] = {
        itsmig_job_mode_to_string(job->mode),
        itsmig_phase_to_string(job->phase),
        job->failed_phase < ITSMIG_PHASE_LAST ? itsmig_phase_to_string(job->failed_phase) : NULL,
        job->error_code,
    };

    itsmigd_metrics_count(r->o->d->metrics, ITSMIGD_COUNTER_JOBS, labels);

    switch (job->phase) {
    case ITSMIG_PHASE_DONE:
        *ret_level = G_LOG_LEVEL_MESSAGE;
        return g_strdup_printf("migration %s to %s done", job->id, job->destination);
    case ITSMIG_PHASE_ROLLED_BACK:
        *ret_level = G_LOG_LEVEL_MESSAGE;
        return g_strdup_printf("migration %s to %s rolled back after %s: %s", job->id,
                               job->destination, job->error_code, job->error_message);
    default:
        *ret_level = G_LOG_LEVEL_CRITICAL;
        return g_strdup_printf("migration %s to %s needs attention: %s", job->id, job->destination,
                               job->attention);
    }
}

/* The journal must end up with the job's last state, or a restart would reconcile an older
 * one: try again (the disk may be full) until it takes it or itsmigd stops. */
static void journal_catch_up(Run *r)
{
    ItsmigdOrchestrator *o = r->o;
    g_autofree char *why = NULL;

    for (gint64 wait = JOURNAL_RETRY_MIN_US;; wait = MIN(wait * 2, JOURNAL_RETRY_MAX_US)) {
        Record *rec = NULL;

        g_mutex_lock(&o->lock);
        if (r->job->journal.behind && !o->stopping) {
            g_cond_wait_until(&o->cond, &o->lock, g_get_monotonic_time() + wait);
            if (!o->stopping)
                rec = itsmigd_job_record_locked(r, -1);
        }
        if (!rec && r->job->journal.behind)
            why = g_strdup(r->job->journal.last_error);
        g_mutex_unlock(&o->lock);
        if (!rec)
            break;
        itsmigd_job_journal_commit(o, rec);
    }
    if (why)
        itsmigd_log_job(G_LOG_LEVEL_CRITICAL, r->job->domain, r->job->id,
                        "migration %s: itsmigd stops with the job's last state not in the "
                        "journal (%s); the next start reconciles an older record",
                        r->job->id, why);
}

/* A step the journal could not record could not be reconciled after a crash: forward steps
 * wait for a working journal, but once the transfer has completed stopping would leave the
 * guest paused on the destination, so those steps, like rollback, go on (lib/job.c says
 * which).  Otherwise @res says why the step did not run. */
static gboolean may_run_unjournaled(Run *r, const ItsmigAction *a, Result *res)
{
    g_autofree char *why = NULL;
    gboolean run;

    g_mutex_lock(&r->o->lock);
    why = g_strdup(r->job->journal.last_error);
    run = itsmig_job_may_run_unjournaled(r->job, a);
    g_mutex_unlock(&r->o->lock);
    if (!run)
        itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_JOURNAL,
                         "the journal could not record the step: %s", why);
    else if (a->kind < ITSMIG_ACTION_ABORT_TRANSFER)
        itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                        "migration %s: %s runs unjournaled: the transfer has completed, and "
                        "stopping would leave the guest paused on the destination",
                        r->job->id, itsmig_action_to_string(a->kind));
    return run;
}

/* Whether @a is a rollback step on this host's libvirt, each idempotent: run again, it does
 * only what is left to do. */
static gboolean reruns_on_new_connection(const ItsmigAction *a)
{
    return a->kind == ITSMIG_ACTION_ABORT_TRANSFER || a->kind == ITSMIG_ACTION_RESUME_SOURCE ||
           a->kind == ITSMIG_ACTION_ATTACH_SOURCE;
}

/* Runs @a on a live connection.  A rollback step that failed because the connection died
 * under it (libvirtd restarted) runs once more on a new one, within the phase's time: the
 * old handle's failure says nothing of the guest. */
static void run_step(Run *r, virConnectPtr *conn, const ItsmigAction *a, Result *res)
{
    virConnectPtr step_conn = itsmigd_job_live_connection(r, conn, itsmigd_job_phase_deadline(r));

    itsmigd_job_fault_hang(r, a->kind);
    itsmigd_job_execute(r, step_conn, a, res);
    if (res->outcome == ITSMIG_OUTCOME_OK || !reruns_on_new_connection(a) || !step_conn ||
        virConnectIsAlive(step_conn) == 1)
        return;
    itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                    "migration %s: %s failed on a connection to libvirt that has died since "
                    "(%s); running it again on a new one",
                    r->job->id, itsmig_action_to_string(a->kind), res->message);
    step_conn = itsmigd_job_live_connection(r, conn, itsmigd_job_phase_deadline(r));
    if (!step_conn || virConnectIsAlive(step_conn) != 1)
        return;
    itsmigd_job_result_clear(res);
    itsmigd_job_execute(r, step_conn, a, res);
}

/* Runs the job's actions until it ends (or the daemon stops), each step on a
 * live libvirt connection (@conn, the worker's, renewed when it died). */
static void walk(Run *r, virConnectPtr *conn)
{
    ItsmigdOrchestrator *o = r->o;
    g_autofree char *end = NULL;
    GLogLevelFlags level = G_LOG_LEVEL_MESSAGE;
    ItsmigAction a;
    Record *rec;

    for (;;) {
        Result res = {ITSMIG_OUTCOME_OK, NULL, NULL};
        ItsmigJobFacts facts;
        gboolean journaled, ask;

        g_mutex_lock(&o->lock);
        if (o->stopping || !itsmig_job_next(r->job, &a)) {
            g_mutex_unlock(&o->lock);
            break;
        }
        itsmig_job_begin(r->job, &a, itsmigd_job_now(r->job));
        rec = itsmigd_job_record_locked(r, a.kind);
        g_mutex_unlock(&o->lock);
        journaled = itsmigd_job_journal_commit(o, rec);
        itsmigd_log_job(G_LOG_LEVEL_INFO, r->job->domain, r->job->id, "migration %s: %s%s",
                        r->job->id, itsmig_action_to_string(a.kind),
                        journaled ? "" : " (not journaled)");

        itsmigd_job_fault_point(r, "before", a.kind);
        /* Per step: the connection of the last step may have died with
         * libvirtd since. */
        if (journaled || may_run_unjournaled(r, &a, &res))
            run_step(r, conn, &a, &res);
        itsmigd_job_fault_point(r, "after", a.kind);

        g_mutex_lock(&o->lock);
        ask = dest_matters(r->job) || a.kind == ITSMIG_ACTION_MIGRATE;
        g_mutex_unlock(&o->lock);
        facts =
            observe(r, itsmigd_job_live_connection(r, conn, itsmigd_job_phase_deadline(r)), ask);
        g_mutex_lock(&o->lock);
        itsmig_job_end(r->job, res.outcome, res.code, res.message, &facts, itsmigd_job_now(r->job));
        rec = itsmigd_job_record_locked(r, -1);
        g_mutex_unlock(&o->lock);
        itsmigd_job_journal_commit(o, rec);
        if (res.outcome != ITSMIG_OUTCOME_OK)
            itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                            "migration %s: %s %s: %s", r->job->id, itsmig_action_to_string(a.kind),
                            itsmig_outcome_to_string(res.outcome), res.message);
        itsmigd_job_result_clear(&res);
        itsmigd_job_fault_point(r, "reported", a.kind);
    }
    g_mutex_lock(&o->lock);
    if (itsmig_phase_is_terminal(r->job->phase))
        end = end_message_locked(r, &level);
    g_mutex_unlock(&o->lock);
    if (end)
        itsmigd_log_job(level, r->job->domain, r->job->id, "%s", end);
    journal_catch_up(r);
}

/* Whether the job needs attention only because the destination's itsmigd
 * did not answer while its copy was verified (itsmig_job_reexamine()), or
 * because its rollback could not ask it whether a copy was left there
 * (itsmig_job_reexamine_rollback()). */
gboolean itsmigd_job_awaits_peer_locked(Run *r)
{
    if (itsmig_job_rollback_awaits_dest(r->job))
        return TRUE;
    return r->job->phase == ITSMIG_PHASE_FAILED &&
           r->job->failed_phase == ITSMIG_PHASE_VERIFY_DEST &&
           (g_strcmp0(r->job->error_code, "peer-unreachable") == 0 ||
            g_strcmp0(r->job->error_code, "peer-timeout") == 0 ||
            g_strcmp0(r->job->error_code, "peer-unavailable") == 0);
}

static gboolean awaits_peer(Run *r)
{
    gboolean yes;

    g_mutex_lock(&r->o->lock);
    yes = itsmigd_job_awaits_peer_locked(r);
    g_mutex_unlock(&r->o->lock);
    return yes;
}

/* The record of a job whose rollback was looked at again; what it still needs of a person
 * in @ret_attention (NULL: nothing). */
static Record *rollback_reexamined_locked(Run *r, char **ret_attention)
{
    itsmigd_job_publish_locked(r, "reexamined", NULL, NULL);
    *ret_attention = g_strdup(r->job->attention);
    return itsmigd_job_record_locked(r, -1);
}

/* Asks the destination, less and less often, until it answers; then looks
 * at the job again with what both hosts show.  TRUE when the job goes on;
 * FALSE when it still needs attention, or the daemon stops. */
static gboolean reexamine_when_peer_answers(Run *r, virConnectPtr *conn)
{
    ItsmigdOrchestrator *o = r->o;
    gint64 wait = PEER_RETRY_FIRST_US;

    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = NULL;
        Result res = {ITSMIG_OUTCOME_OK, NULL, NULL};
        gboolean again, unasked;

        if (!itsmigd_job_sleep_unless_stopped(r, wait, &res)) {
            itsmigd_job_result_clear(&res);
            return FALSE;
        }
        wait = MIN(wait * 2, PEER_RECHECK_MAX_US);
        reply = itsmigd_job_ask_destination(r, "GET", NULL, NULL, &error);
        if (!reply && itsmigd_job_peer_may_return(error))
            continue;
        if (reply) {
            ItsmigJobFacts facts = observe(
                r, itsmigd_job_live_connection(r, conn, itsmigd_job_phase_deadline(r)), TRUE);
            g_autofree char *attention = NULL;
            const char *phase;
            Record *rec = NULL;

            g_mutex_lock(&o->lock);
            again = itsmig_job_reexamine(r->job, &facts, itsmigd_job_now(r->job));
            if (!again && itsmig_job_reexamine_rollback(r->job, &facts, itsmigd_job_now(r->job)))
                rec = rollback_reexamined_locked(r, &attention);
            phase = itsmig_phase_to_string(r->job->phase);
            if (again) {
                /* The job's time limits count from here. */
                r->started_mono = g_get_monotonic_time();
                itsmigd_job_publish_locked(r, "reexamined", NULL, NULL);
                rec = itsmigd_job_record_locked(r, -1);
            } else if (!rec) {
                attention = g_strdup(r->job->attention);
            }
            /* A rollback's question still open (this host's libvirt could not say where
             * the guest is): asked again later. */
            unasked = !rec && r->job->rb_dest_unasked;
            g_mutex_unlock(&o->lock);
            if (unasked)
                continue;
            if (rec && !again) {
                itsmigd_log_job(attention ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
                                r->job->domain, r->job->id,
                                "migration %s: the destination answers again (the domain is "
                                "%s there); the job is %s%s%s",
                                r->job->id, itsmig_presence_to_string(facts.destination), phase,
                                attention ? ": " : "", attention ? attention : "");
                itsmigd_job_journal_commit(o, rec);
            } else if (again) {
                itsmigd_log_job(G_LOG_LEVEL_MESSAGE, r->job->domain, r->job->id,
                                "migration %s: the destination answers again (the domain is "
                                "%s there); the job goes on from %s",
                                r->job->id, itsmig_presence_to_string(facts.destination), phase);
                itsmigd_job_journal_commit(o, rec);
            } else {
                itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                                "migration %s: the destination answers again, but the job "
                                "still needs attention (the source %s, the destination %s): "
                                "%s",
                                r->job->id, itsmig_presence_to_string(facts.source),
                                itsmig_presence_to_string(facts.destination), attention);
            }
            return again;
        }
        itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                        "migration %s: the destination cannot be asked again (%s); the job "
                        "still needs attention",
                        r->job->id, error->message);
        return FALSE;
    }
}

static gpointer worker(gpointer data)
{
    Run *r = data;
    ItsmigdOrchestrator *o = r->o;
    virConnectPtr conn = NULL;
    g_autoptr(GPtrArray) forgotten = g_ptr_array_new_with_free_func(g_free);
    Record *rec;

    r->started_mono = g_get_monotonic_time();
    if (r->recover) {
        ItsmigJobFacts facts;
        gboolean ask;
        g_autofree char *was = NULL;
        const char *now;

        /* What preflight learnt of the guest's ITS is gone with the old
         * process: check as for an in-kernel ITS, which costs nothing more
         * for an emulated one. */
        r->its_in_kernel = TRUE;
        g_mutex_lock(&o->lock);
        ask = dest_matters(r->job);
        was = g_strdup(itsmig_phase_to_string(r->job->phase));
        g_mutex_unlock(&o->lock);
        facts =
            observe(r, itsmigd_job_live_connection(r, &conn, itsmigd_job_phase_deadline(r)), ask);
        g_mutex_lock(&o->lock);
        itsmig_job_recover(r->job, &facts, itsmigd_job_now(r->job));
        now = itsmig_phase_to_string(r->job->phase);
        itsmigd_job_publish_locked(r, "recovered", NULL, NULL);
        rec = itsmigd_job_record_locked(r, -1);
        r->recover = FALSE;
        g_mutex_unlock(&o->lock);
        itsmigd_log_job(G_LOG_LEVEL_MESSAGE, r->job->domain, r->job->id,
                        "migration %s: reconciled after a restart (was in %s; the source %s, "
                        "the destination %s): now %s",
                        r->job->id, was, itsmig_presence_to_string(facts.source),
                        itsmig_presence_to_string(facts.destination), now);
        itsmigd_job_journal_commit(o, rec);
    }

    walk(r, &conn);
    while (awaits_peer(r) && reexamine_when_peer_answers(r, &conn))
        walk(r, &conn);

    if (conn)
        virConnectClose(conn);
    g_mutex_lock(&o->lock);
    r->thread = NULL;
    itsmigd_job_prune_locked(o, forgotten);
    g_mutex_unlock(&o->lock);
    itsmigd_job_journal_forget(o, forgotten);
    /* Last: a stop that sees no worker left frees what this one used. */
    g_mutex_lock(&o->lock);
    o->workers--;
    g_cond_broadcast(&o->cond);
    g_mutex_unlock(&o->lock);
    return NULL;
}

void itsmigd_job_start_worker_locked(ItsmigdOrchestrator *o, Run *r)
{
    o->workers++;
    r->thread = g_thread_new("itsmigd-job", worker, r);
    /* Joined by nobody: it clears r->thread itself when it ends. */
    g_thread_unref(r->thread);
}
