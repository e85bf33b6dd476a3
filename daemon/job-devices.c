/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/virt-connect.h"
#include "daemon/virt-domain.h"
#include "daemon/virt-repair.h"
#include "daemon/job-run.h"

/* How long a request QEMU answers "guest is busy" is asked again when the phase has no
 * time limit of its own. */
#define BUSY_WAIT_US (60 * G_USEC_PER_SEC)

static void mark_unplug_asked(Run *r, int index)
{
    r->unplug_asked |= index < 64 ? G_GUINT64_CONSTANT(1) << index : G_MAXUINT64;
}

/* The connection died with the detach request in flight: libvirtd may or may not have
 * passed it to QEMU, and the guest may yet release the device.  Reconnects, finds out
 * where the device is (libvirt's live XML, QEMU's own list), and fails the step saying so:
 * the rollback then waits for a late unplug and attaches the device back, or repairs it
 * (virt-repair.h) when QEMU kept it and libvirt does not list it. */
static ItsmigOutcome settle_lost_detach(Run *r, int index, const char *alias, gint64 deadline,
                                        const GError *cause, Result *res)
{
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(GError) error = NULL;
    gboolean in_libvirt, in_qemu;
    const char *where;

    mark_unplug_asked(r, index);
    itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                    "migration %s: the connection to libvirt was lost while device %s was being "
                    "detached (%s); reconnecting to find out whether it went",
                    r->job->id, alias, cause->message);
    /* The daemon reopens its connection after libvirtd restarts. */
    if (!itsmigd_job_live_connection(r, &conn, deadline) || virConnectIsAlive(conn) != 1)
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                                "the connection to libvirt was lost while device '%s' was being "
                                "detached, and did not come back: whether it went is not known "
                                "(%s)",
                                alias, cause->message);
    dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);
    if (!dom || !itsmigd_virt_domain_has_device(dom, alias, &in_libvirt, &error) ||
        !itsmigd_virt_qemu_has_device(dom, alias, &in_qemu, &error))
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                                "the connection to libvirt was lost while device '%s' was being "
                                "detached; after reconnecting, where it is could not be read: %s",
                                alias, error->message);
    if (in_libvirt)
        where = in_qemu ? "still in libvirt's live XML and in QEMU (its unplug may be pending)"
                        : "in libvirt's live XML but no longer in QEMU";
    else
        where = in_qemu ? "in QEMU but not in libvirt's live XML"
                        : "gone from libvirt's live XML and from QEMU";
    itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                    "migration %s: after reconnecting, device %s is %s", r->job->id, alias, where);
    return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "the connection to libvirt was lost while device '%s' was being "
                            "detached; after reconnecting it was %s",
                            alias, where);
}

gboolean itsmigd_job_ask_detach(Run *r, virConnectPtr conn, int index, const char *alias,
                                const char *xml, gint64 deadline, virDomainPtr *ret_dom,
                                gboolean *ret_present, Result *res)
{
    gint64 until = deadline ? deadline : g_get_monotonic_time() + BUSY_WAIT_US;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(conn, r->job->uuid, &error);

    if (!dom) {
        itsmigd_job_fail_domain_op(res, error);
        return FALSE;
    }
    for (gint64 wait = ITSMIGD_BUSY_RETRY_FIRST_US;;
         wait = MIN(wait * 2, ITSMIGD_BUSY_RETRY_MAX_US)) {
        g_clear_error(&error);
        if (itsmigd_virt_domain_detach(dom, alias, xml, ret_present, &error)) {
            if (*ret_present)
                mark_unplug_asked(r, index);
            *ret_dom = g_steal_pointer(&dom);
            return TRUE;
        }
        if (virConnectIsAlive(conn) != 1) {
            settle_lost_detach(r, index, alias, deadline, error, res);
            return FALSE;
        }
        if (!itsmigd_virt_error_busy(error) || g_get_monotonic_time() + wait > until) {
            itsmigd_job_fail_domain_op(res, error);
            return FALSE;
        }
        itsmigd_log_job(G_LOG_LEVEL_INFO, r->job->domain, r->job->id,
                        "migration %s: device %s cannot be detached yet (%s); asking again in "
                        "%d ms",
                        r->job->id, alias, error->message, (int)(wait / 1000));
        if (!itsmigd_job_sleep_unless_stopped(r, wait, res))
            return FALSE;
    }
}

gboolean itsmigd_job_attach_back(Run *r, virDomainPtr dom, const char *alias, const char *xml,
                                 Result *res)
{
    g_autoptr(GError) error = NULL;
    gboolean repaired = FALSE;

    if (!itsmigd_virt_domain_attach_repairing(dom, alias, xml, itsmigd_job_phase_deadline(r), NULL,
                                              &repaired, &error)) {
        /* That code makes the attention give the steps that work (lib/job.c). */
        if (g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT))
            itsmigd_job_fail_gerror(res, error);
        else
            itsmigd_job_fail_domain_op(res, error);
        return FALSE;
    }
    if (repaired)
        itsmigd_log_job(G_LOG_LEVEL_MESSAGE, r->job->domain, r->job->id,
                        "migration %s: QEMU still had device %s, which libvirt did not list; "
                        "it was removed from QEMU (device_del) and attached through libvirt",
                        r->job->id, alias);
    return TRUE;
}
