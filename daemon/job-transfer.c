/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/qemu-marker.h"
#include "daemon/virt-domain.h"
#include "daemon/job-run.h"

/* ---- the transfer ---------------------------------------------------------- */

typedef struct {
    Run *r;
    virDomainPtr dom;
    gint64 deadline;
    gboolean done;    /* under r->o->lock */
    gboolean aborted; /* we asked libvirt to abort: why is in res */
    Result res;
} Transfer;

/* Takes a job's statistics (polled, or from JOB_COMPLETED) into its progress. */
void itsmigd_job_take_stats_locked(Run *r, virTypedParameterPtr params, int nparams)
{
    unsigned long long total = 0, processed = 0, remaining = 0, bps = 0, iteration = 0;

    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_REMAINING, &remaining);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_BPS, &bps);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_ITERATION, &iteration);
    r->job->progress.data_total = total;
    r->job->progress.data_processed = processed;
    r->job->progress.data_remaining = remaining;
    r->job->progress.bytes_per_second = bps;
    r->job->progress.iteration = iteration;
    r->job->progress.percent = total ? 100.0 * (double)(total - MIN(remaining, total)) / total : -1;
}

static void update_progress(Run *r, virDomainPtr dom)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0, type;

    if (virDomainGetJobStats(dom, &type, &params, &nparams, 0) < 0)
        return;
    if (type == VIR_DOMAIN_JOB_UNBOUNDED || type == VIR_DOMAIN_JOB_BOUNDED) {
        g_mutex_lock(&r->o->lock);
        itsmigd_job_take_stats_locked(r, params, nparams);
        itsmigd_job_publish_locked(r, "progress", NULL, NULL);
        g_mutex_unlock(&r->o->lock);
    }
    virTypedParamsFree(params, nparams);
}

/* Watches a running transfer: progress, the deadline, an abort. */
static gpointer transfer_watch(gpointer data)
{
    Transfer *t = data;
    Run *r = t->r;

    for (;;) {
        gboolean done;

        g_mutex_lock(&r->o->lock);
        if (!t->done)
            g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + G_USEC_PER_SEC);
        done = t->done;
        g_mutex_unlock(&r->o->lock);
        if (done)
            break;
        if (!t->aborted && itsmigd_job_stop_requested(r, t->deadline, &t->res) &&
            t->res.outcome != ITSMIG_OUTCOME_FAILED) {
            /* Abort or time out; a daemon stop lets the transfer finish and
             * leaves it to the next start. */
            const char *name = virDomainGetName(t->dom);

            t->aborted = TRUE;
            if (virDomainAbortJob(t->dom) < 0) {
                g_autoptr(GError) error = NULL;

                itsmigd_virt_error(&error, "cannot abort the transfer of %s", name);
                itsmigd_log_job(G_LOG_LEVEL_WARNING, name, r->job->id, "%s", error->message);
            }
            continue;
        }
        update_progress(r, t->dom);
    }
    return NULL;
}

/* libvirt's flags for the transfer of @dom in the job's mode; in live mode,
 * QEMU is made ready to mark its log first. */
static unsigned int transfer_flags(Run *r, virDomainPtr dom)
{
    unsigned int flags = VIR_MIGRATE_PEER2PEER;

    if (r->job->mode == ITSMIG_MODE_LIVE) {
        /* As plain live migration: the destination runs from the switchover
         * on, so the guest's pause is QEMU's alone; the save and restore are
         * verified right after. */
        flags |= VIR_MIGRATE_LIVE;
        /* QEMU stops the vCPUs at switchover: the save is logged after this,
         * and the migration's "completed" trace after the save. */
        itsmigd_job_mark_log(r, r->job->domain);
        itsmigd_job_arm_marker(r, dom, ITSMIGD_QEMU_MARK_MIGRATION_EVENT);
    } else {
        /* Nothing runs on the destination before it is verified. */
        flags |= VIR_MIGRATE_PAUSED;
    }
    if (r->job->options.auto_converge)
        flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (virDomainIsPersistent(dom) == 1)
        flags |= VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
    return flags;
}

/* libvirt's parameters for the transfer, from the peer's configuration and
 * the job's options; the maximum downtime is set on @dom, a failure logged. */
static void transfer_params(Run *r, virDomainPtr dom, const ItsmigdPeerConfig *peer,
                            virTypedParameterPtr *params, int *nparams)
{
    const ItsmigJobOptions *opt = &r->job->options;
    g_autoptr(GError) error = NULL;
    int maxparams = 0;

    if (peer->migrate_address)
        virTypedParamsAddString(params, nparams, &maxparams, VIR_MIGRATE_PARAM_URI,
                                peer->migrate_address);
    if (opt->bandwidth_mibs)
        virTypedParamsAddULLong(params, nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                                opt->bandwidth_mibs);
    if (opt->max_downtime_ms && virDomainMigrateSetMaxDowntime(dom, opt->max_downtime_ms, 0) < 0) {
        itsmigd_virt_error(&error, "cannot set the maximum downtime");
        itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id, "%s", error->message);
    }
}

/* libvirt's migration call, watched (progress, deadline, abort) by a thread
 * of its own while it runs. */
static ItsmigOutcome transfer_run(Run *r, virDomainPtr dom, const char *uri,
                                  virTypedParameterPtr params, int nparams, unsigned int flags,
                                  Result *res)
{
    gboolean live = r->job->mode == ITSMIG_MODE_LIVE;
    Transfer t = {0};
    GThread *watch;
    int rc;

    t.r = r;
    t.dom = dom;
    t.deadline = itsmigd_job_phase_deadline(r);
    watch = g_thread_new("itsmigd-transfer", transfer_watch, &t);
    itsmigd_log_job(G_LOG_LEVEL_INFO, r->job->domain, r->job->id,
                    "migration: transfer to %s (%s) begins", uri,
                    itsmig_job_mode_to_string(r->job->mode));
    rc = virDomainMigrateToURI3(dom, uri, params, nparams, flags);
    if (rc < 0) {
        itsmigd_job_fail_libvirt(res, "the transfer failed");
        /* The source QEMU lives on: it need not trace its next migrations. */
        if (live && !r->mark_error)
            itsmigd_qemu_marker_disarm(dom, ITSMIGD_QEMU_MARK_MIGRATION_EVENT, NULL);
    }
    g_mutex_lock(&r->o->lock);
    t.done = TRUE;
    g_cond_broadcast(&r->o->cond);
    g_mutex_unlock(&r->o->lock);
    g_thread_join(watch);
    if (rc < 0 && t.aborted) {
        /* libvirt's message says "cancelled"; ours says why. */
        itsmigd_job_result_clear(res);
        *res = t.res;
        return res->outcome;
    }
    itsmigd_job_result_clear(&t.res);
    return rc < 0 ? ITSMIG_OUTCOME_FAILED : ITSMIG_OUTCOME_OK;
}

/* TRANSFER: to a destination that holds nothing of the domain, through the
 * peer's migrate-uri. */
ItsmigOutcome itsmigd_job_migrate(Run *r, virConnectPtr conn, Result *res)
{
    const char *dest = r->job->destination;
    g_autoptr(ItsmigdPeerConfig) peer = itsmigd_peers_get_config(r->o->d->peers, dest);
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned int flags;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;
    ItsmigOutcome outcome;

    if (!peer || !peer->migrate_uri)
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_INVALID_CONFIG,
                                "peer %s has no migrate-uri (set it in [peer %s])", dest, dest);
    if (!itsmigd_job_dest_holds_nothing(r, r->job->uuid, dest, res))
        return res->outcome;
    dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);
    if (!dom)
        return itsmigd_job_fail_domain_op(res, error);
    flags = transfer_flags(r, dom);
    transfer_params(r, dom, peer, &params, &nparams);
    outcome = transfer_run(r, dom, peer->migrate_uri, params, nparams, flags, res);
    virTypedParamsFree(params, nparams);
    return outcome;
}
