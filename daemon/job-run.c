/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every file of the migration jobs uses and that belongs to none of
 * them: finding a run in the table and pruning it, a job's clock, a step's
 * failure, its deadline and stop, the domain's presence on a host, and the
 * marks of QEMU's log.  It calls none of the other job files, so that a job
 * followed from the table down to libvirt never comes back up.
 */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "itsmig/qemu-log.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/qemu-marker.h"
#include "daemon/virt-domain.h"
#include "daemon/job-run.h"

/* ---- the table ------------------------------------------------------------------------- */

Run *itsmigd_job_find_locked(ItsmigdOrchestrator *o, const char *id)
{
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        if (strcmp(r->job->id, id) == 0)
            return r;
    }
    return NULL;
}

/* The wall clock for a transition of @job, which also gets the monotonic clock that its
 * durations come from. */
gint64 itsmigd_job_now(ItsmigJob *job)
{
    itsmig_job_set_clock(job, g_get_monotonic_time());
    return g_get_real_time();
}

/* Forgets the oldest finished jobs beyond [migration] keep-finished; their
 * ids go into @ret_ids, for itsmigd_job_journal_forget() once o->lock is released. */
void itsmigd_job_prune_locked(ItsmigdOrchestrator *o, GPtrArray *ret_ids)
{
    guint finished = 0;

    for (guint i = 0; i < o->runs->len; i++)
        if (itsmig_phase_is_terminal(((Run *)g_ptr_array_index(o->runs, i))->job->phase))
            finished++;
    for (guint i = 0; i < o->runs->len && finished > o->limits.keep_finished;) {
        Run *r = g_ptr_array_index(o->runs, i);

        if (!itsmig_phase_is_terminal(r->job->phase) || r->thread) {
            i++;
            continue;
        }
        g_ptr_array_add(ret_ids, g_strdup(r->job->id));
        g_ptr_array_remove_index(o->runs, i);
        finished--;
    }
}

/* ---- a step's result -------------------------------------------------------------------- */

void itsmigd_job_result_clear(Result *res)
{
    g_clear_pointer(&res->code, g_free);
    g_clear_pointer(&res->message, g_free);
}

ItsmigOutcome itsmigd_job_fail(Result *res, ItsmigOutcome outcome, ItsmigErrorCode code,
                               const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    itsmigd_job_result_clear(res);
    res->outcome = outcome;
    res->code = g_strdup(itsmig_error_code_to_string(code));
    res->message = g_strdup_vprintf(format, ap);
    va_end(ap);
    return outcome;
}

ItsmigOutcome itsmigd_job_fail_gerror(Result *res, const GError *error)
{
    return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, itsmig_error_get_code(error), "%s",
                            error->message);
}

/* A domain operation's failure (virt-domain.h). */
ItsmigOutcome itsmigd_job_fail_domain_op(Result *res, const GError *error)
{
    return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_LIBVIRT, "%s", error->message);
}

/* A libvirt call's failure, from libvirt's last error. */
ItsmigOutcome itsmigd_job_fail_libvirt(Result *res, const char *what)
{
    g_autoptr(GError) error = NULL;

    itsmigd_virt_error(&error, "%s", what);
    return itsmigd_job_fail_domain_op(res, error);
}

gboolean itsmigd_job_abort_applies_locked(Run *r)
{
    return r->job->abort_requested && r->job->phase != ITSMIG_PHASE_ROLLBACK &&
           !itsmig_phase_is_terminal(r->job->phase);
}

gboolean itsmigd_job_stop_requested(Run *r, gint64 deadline_mono, Result *res)
{
    gboolean abort_requested, stopping;

    g_mutex_lock(&r->o->lock);
    abort_requested = itsmigd_job_abort_applies_locked(r);
    stopping = r->o->stopping;
    g_mutex_unlock(&r->o->lock);
    if (abort_requested) {
        itsmigd_job_fail(res, ITSMIG_OUTCOME_ABORTED, ITSMIG_ERROR_ABORTED,
                         "the migration was aborted on request");
        return TRUE;
    }
    if (stopping) {
        itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_DAEMON_STOPPING,
                         "itsmigd is stopping");
        return TRUE;
    }
    if (deadline_mono && g_get_monotonic_time() > deadline_mono) {
        itsmigd_job_fail(res, ITSMIG_OUTCOME_TIMEOUT, ITSMIG_ERROR_TIMEOUT,
                         "the phase ran out of time");
        return TRUE;
    }
    return FALSE;
}

/* The deadline of the phase beginning now (monotonic), 0 for none. */
gint64 itsmigd_job_phase_deadline(Run *r)
{
    guint phase_s = r->job->options.phase_timeout_s, total_s = r->job->options.total_timeout_s;
    gint64 d = 0;

    if (phase_s)
        d = g_get_monotonic_time() + (gint64)phase_s * G_USEC_PER_SEC;
    if (total_s) {
        gint64 t = r->started_mono + (gint64)total_s * G_USEC_PER_SEC;

        d = d ? MIN(d, t) : t;
    }
    return d;
}

/* ---- the domain on a host ------------------------------------------------------------------ */

static ItsmigPresence presence_of_state(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN: return ITSMIG_PRESENCE_RUNNING;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED: return ITSMIG_PRESENCE_PAUSED;
    default: return ITSMIG_PRESENCE_ABSENT;
    }
}

/* Whether the domain is on @conn's host and how: absent only when libvirt
 * says it does not exist, unknown when it cannot tell (or @conn is NULL).
 * The domain, when found, in @ret_dom. */
ItsmigPresence itsmigd_job_presence_on(virConnectPtr conn, const char *uuid, virDomainPtr *ret_dom)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    ItsmigPresence p = ITSMIG_PRESENCE_UNKNOWN;
    int state;

    if (dom && itsmigd_virt_domain_get_state(dom, &state, NULL, &error))
        p = presence_of_state(state);
    else if (g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND))
        p = ITSMIG_PRESENCE_ABSENT;
    *ret_dom = g_steal_pointer(&dom);
    return p;
}

/* ---- QEMU's log ------------------------------------------------------------------------------ */

/* Whether verifications wait for a mark of QEMU's in its log. */
gboolean itsmigd_job_marking(Run *r)
{
    gboolean on;

    g_mutex_lock(&r->o->lock);
    on = r->o->limits.qemu_log_mark;
    g_mutex_unlock(&r->o->lock);
    return on && (r->its_in_kernel || r->check_emulated);
}

/* Makes QEMU ready to mark its log (@event, NULL: the mark of a pause),
 * before the vCPUs stop: libvirt logs the monitor's taint through virtlogd
 * the first time, which must not wait on a virtlogd that lags after the
 * stop.  A failure is kept for the verification to report. */
void itsmigd_job_arm_marker(Run *r, virDomainPtr dom, const char *event)
{
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&r->mark_error, g_free);
    if (!itsmigd_job_marking(r) || itsmigd_qemu_marker_arm(dom, event, &error))
        return;
    r->mark_error = g_strdup(error->message);
    itsmigd_log_job(G_LOG_LEVEL_WARNING, virDomainGetName(dom), r->job->id,
                    "QEMU cannot mark its log, so the ITS save cannot be verified: %s",
                    error->message);
}

/* The path of @domain's QEMU log. */
char *itsmigd_job_log_path(Run *r, const char *domain)
{
    g_autofree char *dir = NULL;

    g_mutex_lock(&r->o->lock);
    dir = g_strdup(r->o->limits.qemu_log_dir);
    g_mutex_unlock(&r->o->lock);
    return g_strdup_printf("%s/%s.log", dir, domain);
}

void itsmigd_job_mark_log(Run *r, const char *domain)
{
    g_autofree char *path = itsmigd_job_log_path(r, domain);
    g_autoptr(GError) error = NULL;

    r->log_offset = itsmig_qemu_log_size(path, &error);
    if (r->log_offset < 0)
        itsmigd_log_job(G_LOG_LEVEL_INFO, domain, r->job->id, "no QEMU log to verify from (%s)",
                        error->message);
}

/* A live libvirt connection for the next step, in @held (a reference the
 * caller owns).  The daemon's connection is reopened after libvirtd
 * restarts; a step waits for that (until @deadline_mono, or the stop)
 * rather than run on a dead handle.  NULL when none came. */
virConnectPtr itsmigd_job_live_connection(Run *r, virConnectPtr *held, gint64 deadline_mono)
{
    gint64 until = deadline_mono ? deadline_mono : g_get_monotonic_time() + CONNECT_WAIT_US;
    gboolean told = FALSE;

    for (;;) {
        gboolean stopping;

        if (*held && virConnectIsAlive(*held) == 1)
            return *held;
        if (*held) {
            virConnectClose(*held);
            *held = NULL;
        }
        *held = itsmigd_virt_ref_connection(r->o->d->virt);
        if (*held && virConnectIsAlive(*held) == 1)
            return *held;
        if (!told) {
            itsmigd_log_job(G_LOG_LEVEL_INFO, r->job->domain, r->job->id,
                            "migration %s: waiting for the connection to libvirt", r->job->id);
            told = TRUE;
        }
        g_mutex_lock(&r->o->lock);
        stopping = r->o->stopping;
        if (!stopping)
            g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + POLL_US);
        g_mutex_unlock(&r->o->lock);
        if (stopping || g_get_monotonic_time() > until)
            return *held;
    }
}
