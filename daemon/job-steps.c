/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "itsmig/qemu-log.h"
#include "daemon/its-evidence.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/migration-record.h"
#include "daemon/preflight.h"
#include "daemon/qemu-marker.h"
#include "daemon/virt-domain.h"
#include "daemon/job-run.h"

/* ---- actions ------------------------------------------------------------------------ */

/* Writes the migration record (migration-record.h) into the domain's live
 * metadata, before anything is detached, so that it travels with the
 * domain: the destination then acts only for this job, only at the request
 * of the peer holding the token we send it, and re-attaches only these
 * devices from this XML. */
static ItsmigOutcome record_migration(Run *r, virConnectPtr conn, const char *uuid,
                                      const char *dest, Result *res)
{
    g_autoptr(ItsmigdPeerConfig) peer = itsmigd_peers_get_config(r->o->d->peers, dest);
    g_autoptr(GPtrArray) aliases = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) xmls = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *lower = g_ascii_strdown(uuid, -1);
    const char *job = r->job->id;
    g_autofree char *mac = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (!peer || !peer->token)
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_UNKNOWN_PEER,
                                "peer '%s' is no longer configured", dest);
    g_mutex_lock(&r->o->lock);
    for (guint i = 0; r->job->devices && i < r->job->devices->len; i++) {
        const ItsmigJobDevice *dev = g_ptr_array_index(r->job->devices, i);

        g_ptr_array_add(aliases, g_strdup(dev->alias));
        g_ptr_array_add(xmls, g_strdup(dev->xml));
    }
    g_mutex_unlock(&r->o->lock);
    mac = itsmigd_migration_mac(peer->token, lower, job);
    xml = itsmigd_migration_record_to_xml(job, mac, aliases, xmls);
    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom)
        return itsmigd_job_fail_domain_op(res, error);
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, ITSMIGD_MIGRATION_PREFIX,
                             ITSMIGD_MIGRATION_NS, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return itsmigd_job_fail_libvirt(res,
                                        "cannot record the migration in the domain's metadata");
    return ITSMIG_OUTCOME_OK;
}

/* The verdict on the move (kept in the job, with the destination's host
 * name); FALSE, and why in @res, when there is none or it blocks. */
static gboolean judge(Run *r, ItsmigCompatPolicy *ret_policy, ItsmigdDomainView **ret_view,
                      ItsmigVerdict **ret_verdict, Result *res)
{
    ItsmigDaemon *d = r->o->d;
    g_autoptr(ItsmigHostCaps) local = NULL, remote = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autoptr(GError) error = NULL;
    ItsmigVerdict *verdict;

    itsmigd_host_get_policy(&d->host, ret_policy);
    ret_policy->quiesce = r->job->options.quiesce;
    verdict = itsmigd_preflight(d, r->job->domain, r->job->destination, ret_policy, NULL, ret_view,
                                &local, &remote, &error);
    if (!verdict) {
        itsmigd_job_fail_gerror(res, error);
        return FALSE;
    }
    *ret_verdict = verdict;
    r->its_in_kernel = itsmig_domain_profile_its_in_kernel((*ret_view)->profile);
    r->check_emulated = ret_policy->check_emulated;
    json_builder_begin_object(b);
    itsmig_verdict_to_json_members(verdict, b);
    json_builder_end_object(b);
    g_mutex_lock(&r->o->lock);
    g_clear_pointer(&r->job->verdict, json_node_unref);
    r->job->verdict = json_builder_get_root(b);
    g_free(r->job->destination_hostname);
    r->job->destination_hostname = g_strdup(remote->hostname);
    g_mutex_unlock(&r->o->lock);
    if (!verdict->allowed) {
        g_autofree char *line = itsmig_verdict_blockers_line(verdict);

        itsmigd_job_fail(res, ITSMIG_OUTCOME_BLOCKED, ITSMIG_ERROR_BLOCKED, "%s", line);
        return FALSE;
    }
    return TRUE;
}

/* The domain's live XML and its state (@ret_state), NULL (why in @res) when they cannot be
 * read; whether the domain is transient is kept in the job. */
static GBytes *source_xml(Run *r, virConnectPtr conn, int *ret_state, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);
    char *xml;
    gboolean transient;
    int reason;

    if (!dom) {
        if (g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND))
            itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_NOT_FOUND,
                             "domain '%s' no longer exists here", r->job->domain);
        else
            itsmigd_job_fail_domain_op(res, error);
        return NULL;
    }
    if (virDomainGetState(dom, ret_state, &reason, 0) < 0) {
        itsmigd_job_fail_libvirt(res, "cannot read the domain's state");
        return NULL;
    }
    xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        itsmigd_job_fail_libvirt(res, "cannot read the domain XML");
        return NULL;
    }
    /* A transient guest has no definition to fall back on: a person must know that. */
    transient = virDomainIsPersistent(dom) == 0;
    g_mutex_lock(&r->o->lock);
    r->job->transient = transient;
    g_mutex_unlock(&r->o->lock);
    return g_bytes_new_take(xml, strlen(xml));
}

/* The aliases of the devices to unplug for the move: those the request
 * names, or else (when the policy quiesces) those chosen below. */
static GPtrArray *devices_to_detach(Run *r, const ItsmigCompatPolicy *policy,
                                    const ItsmigDomainProfile *profile, ItsmigVerdict *verdict)
{
    GPtrArray *aliases = g_ptr_array_new_with_free_func(g_free);

    for (char **a = r->job->options.detach; a && *a; a++)
        g_ptr_array_add(aliases, g_strdup(*a));
    if (aliases->len > 0 || !policy->quiesce)
        return aliases;
    /* Devices that cannot keep their interrupt state across the move: VFIO
     * without a migration-capable driver, every hostdev under GICv4.0 direct
     * injection (its vLPI state cannot be saved). */
    for (guint i = 0; profile->hostdevs && i < profile->hostdevs->len; i++) {
        const ItsmigHostdev *h = g_ptr_array_index(profile->hostdevs, i);

        if (h->alias && (verdict->direct_injection || h->migratable != 1))
            g_ptr_array_add(aliases, g_strdup(h->alias));
    }
    /* And the devices the operator marked as not to be migrated with the
     * guest (emulated or not): unplugged here, plugged back where it runs. */
    for (guint i = 0; profile->msi_devices && i < profile->msi_devices->len; i++) {
        const ItsmigMsiDevice *m = g_ptr_array_index(profile->msi_devices, i);

        if (m->alias && g_strcmp0(m->kind, "controller") != 0 &&
            itsmigd_host_non_migratable(&r->o->d->host, m->alias) &&
            !g_ptr_array_find_with_equal_func(aliases, m->alias, g_str_equal, NULL))
            g_ptr_array_add(aliases, g_strdup(m->alias));
    }
    return aliases;
}

/* Each device of @aliases goes into the job with its XML from @xml, for its
 * re-attachment; FALSE (why in @res) when one is not in the domain. */
static gboolean keep_devices(Run *r, GBytes *xml, GPtrArray *aliases, Result *res)
{
    gsize len;
    const char *text = g_bytes_get_data(xml, &len);

    for (guint i = 0; i < aliases->len; i++) {
        const char *alias = g_ptr_array_index(aliases, i);
        g_autoptr(GError) error = NULL;
        g_autofree char *dev = itsmig_domain_device_xml(text, len, alias, &error);

        if (!dev) {
            itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_INVALID_ARGUMENT,
                             "cannot detach '%s': %s", alias, error->message);
            return FALSE;
        }
        g_mutex_lock(&r->o->lock);
        itsmig_job_add_device(r->job, alias, dev);
        g_mutex_unlock(&r->o->lock);
    }
    return TRUE;
}

/* A paused guest cannot acknowledge an unplug: the request would wait in QEMU and complete
 * whenever the guest next runs, after the job, taking the device away.  FALSE (why in @res)
 * when @aliases must be unplugged from a paused guest. */
static gboolean may_unplug(Run *r, int state, GPtrArray *aliases, Result *res)
{
    g_autofree char *list = NULL;

    if (!aliases->len || state != VIR_DOMAIN_PAUSED)
        return TRUE;
    g_ptr_array_add(aliases, NULL);
    list = g_strjoinv(", ", (char **)aliases->pdata);
    g_ptr_array_remove_index(aliases, aliases->len - 1);
    itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_CONFLICT,
                     "'%s' is paused, so its guest cannot release the devices that must be "
                     "detached for the move (%s): resume it first, or migrate it without "
                     "detaching them (options.quiesce false)",
                     r->job->domain, list);
    return FALSE;
}

/* judge(), asked again while the destination answers 503: it is up but not ready (it
 * reconnects to libvirt), so asked for a while (PREFLIGHT_PEER_WAIT_US) before the job gives
 * up. */
static gboolean judge_patiently(Run *r, ItsmigCompatPolicy *policy, ItsmigdDomainView **ret_view,
                                ItsmigVerdict **ret_verdict, Result *res)
{
    gint64 first = g_get_monotonic_time(), wait = PEER_RETRY_FIRST_US;

    while (!judge(r, policy, ret_view, ret_verdict, res))
        if (!itsmigd_job_retry_unavailable(r, first, first + PREFLIGHT_PEER_WAIT_US, &wait, res))
            return FALSE;
    return TRUE;
}

/* The verdict, a destination with room for the domain, the devices to
 * unplug, and the migration's record in the domain. */
static ItsmigOutcome do_preflight(Run *r, virConnectPtr conn, Result *res)
{
    ItsmigDaemon *d = r->o->d;
    g_autoptr(ItsmigdDomainView) view = NULL;
    g_autoptr(ItsmigdDomainView) now = NULL;
    g_autoptr(ItsmigVerdict) verdict = NULL;
    g_autoptr(GPtrArray) aliases = NULL;
    g_autoptr(GBytes) xml = NULL;
    ItsmigCompatPolicy policy;
    int state = VIR_DOMAIN_NOSTATE;

    if (!judge_patiently(r, &policy, &view, &verdict, res) ||
        !itsmigd_job_dest_holds_nothing(r, r->job->uuid, r->job->destination, res) ||
        !(xml = source_xml(r, conn, &state, res)))
        return res->outcome;
    /* The XML about to move, read again: a change since the view was read
     * (parsed here once, and kept for everyone) is judged again. */
    now = itsmigd_registry_update_view(d->registry, &d->host, r->job->uuid, xml, FALSE);
    if (now != view) {
        g_clear_pointer(&view, itsmigd_domain_view_unref);
        g_clear_pointer(&verdict, itsmig_verdict_free);
        if (!judge_patiently(r, &policy, &view, &verdict, res))
            return res->outcome;
    }
    aliases = devices_to_detach(r, &policy, view->profile, verdict);
    if (!may_unplug(r, state, aliases, res) || !keep_devices(r, xml, aliases, res))
        return res->outcome;
    return record_migration(r, conn, r->job->uuid, r->job->destination, res);
}

static ItsmigOutcome do_detach(Run *r, virConnectPtr conn, int index, Result *res)
{
    g_autofree char *alias = NULL, *xml = NULL;
    gint64 deadline = itsmigd_job_phase_deadline(r);
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;
    gboolean present;

    g_mutex_lock(&r->o->lock);
    {
        ItsmigJobDevice *dev = g_ptr_array_index(r->job->devices, index);

        alias = g_strdup(dev->alias);
        xml = g_strdup(dev->xml);
    }
    r->removed = FALSE;
    g_mutex_unlock(&r->o->lock);
    if (!itsmigd_job_ask_detach(r, conn, index, alias, xml, deadline, &dom, &present, res))
        return res->outcome;
    /* The guest acknowledges the unplug in its own time; libvirt says so
     * with DEVICE_REMOVED, and the XML is the truth either way. */
    while (present) {
        if (itsmigd_job_stop_requested(r, deadline, res))
            return res->outcome;
        g_mutex_lock(&r->o->lock);
        if (!r->removed)
            g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + POLL_US);
        r->removed = FALSE;
        g_mutex_unlock(&r->o->lock);
        if (!itsmigd_virt_domain_has_device(dom, alias, &present, &error))
            return itsmigd_job_fail_domain_op(res, error);
    }
    return ITSMIG_OUTCOME_OK;
}

static ItsmigOutcome do_suspend(Run *r, virConnectPtr conn, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);

    if (!dom)
        return itsmigd_job_fail_domain_op(res, error);
    /* Before the stop: what QEMU logs from here on is the save's. */
    itsmigd_job_mark_log(r, r->job->domain);
    itsmigd_job_arm_marker(r, dom, NULL);
    if (!itsmigd_virt_domain_suspend(dom, &error))
        return itsmigd_job_fail_domain_op(res, error);
    return ITSMIG_OUTCOME_OK;
}

/* The text whose line in the QEMU log shows that the log holds everything
 * QEMU wrote up to the stop: a mark QEMU writes now (safe mode, the source
 * paused), or its trace of the live migration completing. */
static char *its_save_mark(Run *r, virConnectPtr conn, gboolean live, GError **error)
{
    g_autofree char *tag = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (live && r->mark_error) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "%s", r->mark_error);
        return NULL;
    }
    if (live)
        return g_strdup(ITSMIGD_QEMU_MARK_MIGRATION_LINE);
    dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &local);
    if (!dom) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT,
                    "the source's QEMU is not there to mark its log: %s", local->message);
        return NULL;
    }
    tag = g_strdup_printf("%s-%u", r->job->id, ++r->marks);
    return itsmigd_qemu_marker_write(dom, tag, error);
}

static ItsmigOutcome its_save_unverified(Run *r, const char *path, Result *res, const char *format,
                                         ...) G_GNUC_PRINTF(4, 5);

static ItsmigOutcome its_save_unverified(Run *r, const char *path, Result *res, const char *format,
                                         ...)
{
    g_autofree char *detail = NULL, *why = NULL;
    va_list ap;

    va_start(ap, format);
    detail = g_strdup_vprintf(format, ap);
    va_end(ap);
    why = g_strdup_printf("cannot verify the ITS save: %s", detail);
    g_mutex_lock(&r->o->lock);
    g_clear_pointer(&r->job->its_save, json_node_unref);
    r->job->its_save = itsmigd_its_evidence(FALSE, "qemu-log", why, path, NULL, NULL);
    g_mutex_unlock(&r->o->lock);
    itsmigd_metrics_count(r->o->d->metrics, ITSMIGD_COUNTER_ITS_SAVE_FAILED,
                          (const char *[]){"its-save-unverified"});
    return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_ITS_SAVE_UNVERIFIED, "%s",
                            why);
}

/* Reads what QEMU logged since the vCPUs stopped; with a mark, waits (until
 * @deadline) for it to reach the log and keeps what comes before it. */
static ItsmigOutcome read_save_log(Run *r, const char *path, const char *mark, gboolean live,
                                   gint64 deadline, GBytes **ret_text, gboolean *ret_truncated,
                                   gboolean *ret_rotated, Result *res)
{
    goffset offset = r->log_offset;

    for (;;) {
        g_autoptr(GBytes) text = NULL;
        g_autoptr(GError) error = NULL;
        gsize len;
        const char *data;
        gssize end;

        if (offset < 0) {
            /* After a restart the size before the stop is not known: all
             * that this QEMU process logged, from libvirt's line that
             * started it. */
            gssize start;

            if (!itsmig_qemu_log_read(path, 0, LOG_READ_MAX, &text, NULL, NULL, &error))
                return its_save_unverified(r, path, res, "%s", error->message);
            data = g_bytes_get_data(text, &len);
            start = itsmigd_qemu_log_last_start(data, len);
            if (start < 0)
                return its_save_unverified(r, path, res,
                                           "itsmigd restarted, and the last %zu bytes of the QEMU "
                                           "log do not show where this QEMU's output begins",
                                           len);
            data += start;
            len -= start;
            *ret_truncated = FALSE;
            *ret_rotated = FALSE;
        } else {
            if (!itsmig_qemu_log_read(path, offset, LOG_READ_MAX, &text, ret_truncated, ret_rotated,
                                      &error))
                return its_save_unverified(r, path, res, "%s", error->message);
            data = g_bytes_get_data(text, &len);
        }
        end = mark ? itsmigd_qemu_marker_find(data, len, mark, live) : (gssize)len;
        if (end >= 0) {
            *ret_text = g_bytes_new(data, end);
            return ITSMIG_OUTCOME_OK;
        }
        if (itsmigd_job_stop_requested(r, 0, res))
            return res->outcome;
        if (g_get_monotonic_time() > deadline)
            return its_save_unverified(
                r, path, res,
                "QEMU's mark (%s) did not reach its log within the phase's time, so the log may "
                "lack what QEMU wrote when the vCPUs stopped (is virtlogd stalled?)",
                mark);
        g_usleep(POLL_US);
    }
}

static ItsmigOutcome do_verify_its_save(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *name = NULL, *path = NULL, *where = NULL, *first = NULL, *mark = NULL;
    g_autoptr(GBytes) text = NULL;
    g_autoptr(GError) error = NULL;
    gint64 deadline = itsmigd_job_phase_deadline(r);
    JsonNode *ev;
    gboolean truncated = FALSE, rotated = FALSE, live = r->job->mode == ITSMIG_MODE_LIVE;
    gboolean recovered;
    gsize len;
    const char *data;

    g_mutex_lock(&r->o->lock);
    recovered = r->job->recovered;
    g_mutex_unlock(&r->o->lock);
    path = itsmigd_job_log_path(r, r->job->domain);
    if (!r->its_in_kernel && !r->check_emulated) {
        ev = itsmigd_its_evidence_not_kvm();
    } else if (r->log_offset < 0 && !recovered) {
        return its_save_unverified(r, path, res,
                                   "there was no QEMU log when the vCPUs stopped (see "
                                   "[migration] qemu-log-dir)");
    } else {
        if (itsmigd_job_marking(r) && !(mark = its_save_mark(r, conn, live, &error)))
            return its_save_unverified(r, path, res, "QEMU could not mark its log: %s",
                                       error->message);
        if (read_save_log(r, path, mark, live, deadline ? deadline : G_MAXINT64, &text, &truncated,
                          &rotated, res) != ITSMIG_OUTCOME_OK)
            return res->outcome;
        data = g_bytes_get_data(text, &len);
        where = g_strdup_printf(
            "in the %zu bytes QEMU logged %s%s%s%s", len,
            r->log_offset < 0 ? "since it started (itsmigd restarted)" : "since the vCPUs stopped",
            mark ? ", up to its mark" : "", truncated ? " (only the last part was read)" : "",
            rotated ? " (the log was rotated meanwhile)" : "");
        ev = itsmigd_its_evidence_scan(path, data, len,
                                       1u << ITSMIG_QEMU_LOG_ITS_SAVE |
                                           1u << ITSMIG_QEMU_LOG_PENDING_SAVE |
                                           1u << ITSMIG_QEMU_LOG_ITS_REGS,
                                       "ITS save", where, &first);
    }
    g_mutex_lock(&r->o->lock);
    g_clear_pointer(&r->job->its_save, json_node_unref);
    r->job->its_save = ev;
    g_mutex_unlock(&r->o->lock);
    if (first) {
        itsmigd_metrics_count(r->o->d->metrics, ITSMIGD_COUNTER_ITS_SAVE_FAILED,
                              (const char *[]){"its-save-failed"});
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_ITS_SAVE_FAILED,
                                "QEMU reported that saving the ITS state failed: %s", first);
    }
    return ITSMIG_OUTCOME_OK;
}

/* ---- rollback on the source --------------------------------------------------------- */

static ItsmigOutcome do_abort_transfer(Run *r, virConnectPtr conn, Result *res)
{
    gint64 until = g_get_monotonic_time() + ABORT_WAIT_US;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);
    const char *name;

    if (!dom)
        return g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND)
                   ? ITSMIG_OUTCOME_OK
                   : itsmigd_job_fail_domain_op(res, error);
    name = virDomainGetName(dom);
    /* No job to abort (it ended meanwhile) is what is wanted. */
    if (virDomainAbortJob(dom) < 0 &&
        itsmigd_virt_error(&error, "aborting the transfer") != VIR_ERR_OPERATION_INVALID)
        itsmigd_log_job(G_LOG_LEVEL_WARNING, name, r->job->id, "%s", error->message);
    for (;;) {
        virDomainJobInfo info;

        if (virDomainGetJobInfo(dom, &info) < 0 ||
            (info.type != VIR_DOMAIN_JOB_BOUNDED && info.type != VIR_DOMAIN_JOB_UNBOUNDED))
            break;
        if (g_get_monotonic_time() > until)
            return itsmigd_job_fail(res, ITSMIG_OUTCOME_TIMEOUT, ITSMIG_ERROR_TIMEOUT,
                                    "the transfer did not stop within %d s of being aborted",
                                    (int)(ABORT_WAIT_US / G_USEC_PER_SEC));
        g_usleep(POLL_US);
    }
    return ITSMIG_OUTCOME_OK;
}

static ItsmigOutcome do_resume_source(Run *r, virConnectPtr conn, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);

    /* Resuming makes KVM map the vPEs again and QEMU restart the devices. */
    if (!dom || !itsmigd_virt_domain_resume(dom, &error))
        return itsmigd_job_fail_domain_op(res, error);
    return ITSMIG_OUTCOME_OK;
}

/* The device is still there: the job's unplug, interrupted by the rollback, may yet
 * complete.  Waits for it (UNPLUG_GRACE_US at most) when libvirt took that request;
 * @ret_present says whether the device is there after all. */
static gboolean await_late_unplug(Run *r, virDomainPtr dom, int index, const char *alias,
                                  gboolean *ret_present, GError **error)
{
    gint64 until = g_get_monotonic_time() + UNPLUG_GRACE_US;
    gboolean stopping = FALSE;

    if (index < 64 && !(r->unplug_asked & (G_GUINT64_CONSTANT(1) << index)))
        return TRUE;
    while (*ret_present && !stopping && g_get_monotonic_time() < until) {
        g_mutex_lock(&r->o->lock);
        if (!r->removed)
            g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + POLL_US);
        r->removed = FALSE;
        stopping = r->o->stopping;
        g_mutex_unlock(&r->o->lock);
        if (!itsmigd_virt_domain_has_device(dom, alias, ret_present, error))
            return FALSE;
    }
    if (!*ret_present)
        itsmigd_log_job(G_LOG_LEVEL_INFO, r->job->domain, r->job->id,
                        "migration %s: device %s went only after the rollback began; "
                        "attaching it back",
                        r->job->id, alias);
    return TRUE;
}

static ItsmigOutcome do_attach_source(Run *r, virConnectPtr conn, int index, Result *res)
{
    g_autofree char *alias = NULL, *xml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;
    gboolean present;

    g_mutex_lock(&r->o->lock);
    alias = g_strdup(((ItsmigJobDevice *)g_ptr_array_index(r->job->devices, index))->alias);
    xml = g_strdup(((ItsmigJobDevice *)g_ptr_array_index(r->job->devices, index))->xml);
    g_mutex_unlock(&r->o->lock);
    dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);
    if (!dom || !itsmigd_virt_domain_has_device(dom, alias, &present, &error) ||
        (present && !await_late_unplug(r, dom, index, alias, &present, &error)))
        return itsmigd_job_fail_domain_op(res, error);
    if (!present && !itsmigd_job_attach_back(r, dom, alias, xml, res))
        return res->outcome;
    return ITSMIG_OUTCOME_OK;
}

ItsmigOutcome itsmigd_job_execute(Run *r, virConnectPtr conn, const ItsmigAction *a, Result *res)
{
    res->outcome = ITSMIG_OUTCOME_OK;
    if (!conn && a->kind != ITSMIG_ACTION_VERIFY_DEST && a->kind != ITSMIG_ACTION_RESUME_DEST &&
        a->kind != ITSMIG_ACTION_ATTACH_DEST && a->kind != ITSMIG_ACTION_DESTROY_DEST)
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                                "not connected to libvirt");
    switch (a->kind) {
    case ITSMIG_ACTION_PREFLIGHT: return do_preflight(r, conn, res);
    case ITSMIG_ACTION_DETACH: return do_detach(r, conn, a->device, res);
    case ITSMIG_ACTION_SUSPEND_SOURCE: return do_suspend(r, conn, res);
    case ITSMIG_ACTION_VERIFY_ITS_SAVE: return do_verify_its_save(r, conn, res);
    case ITSMIG_ACTION_MIGRATE: return itsmigd_job_migrate(r, conn, res);
    case ITSMIG_ACTION_VERIFY_DEST: return itsmigd_job_verify_dest(r, res);
    case ITSMIG_ACTION_RESUME_DEST:
        /* In live mode libvirt resumed it at the switchover, and VERIFY_DEST
         * has just seen it run: no round trip on the way to done. */
        if (r->dest_last == ITSMIG_PRESENCE_RUNNING && r->job->mode == ITSMIG_MODE_LIVE)
            return ITSMIG_OUTCOME_OK;
        return itsmigd_job_dest_call(r, "resume", TRUE, res);
    case ITSMIG_ACTION_ATTACH_DEST: return itsmigd_job_attach_dest(r, a->device, res);
    case ITSMIG_ACTION_ABORT_TRANSFER: return do_abort_transfer(r, conn, res);
    case ITSMIG_ACTION_DESTROY_DEST: return itsmigd_job_dest_call(r, "destroy", FALSE, res);
    case ITSMIG_ACTION_RESUME_SOURCE: return do_resume_source(r, conn, res);
    case ITSMIG_ACTION_ATTACH_SOURCE: return do_attach_source(r, conn, a->device, res);
    case ITSMIG_ACTION_CONFIRM_SOURCE:
        return ITSMIG_OUTCOME_OK; /* the facts observed next are the confirmation */
    default:
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_INTERNAL,
                                "no such action");
    }
}
