/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "daemon/job-run.h"
#include "daemon/log.h"

/* ---- fault injection ------------------------------------------------------- */

/* Only in the test build (tests/itsmigd-fault): a production itsmigd must not
 * kill itself because its environment says so. */
#ifdef ITSMIGD_FAULT_INJECTION

static gboolean fault_armed(ItsmigdOrchestrator *o, const char *point, int kind)
{
    return o->fault.point && kind >= 0 && strcmp(o->fault.point, point) == 0 &&
           strcmp(o->fault.action, itsmig_action_to_string(kind)) == 0;
}

void itsmigd_job_fault_point(Run *r, const char *point, ItsmigActionKind kind)
{
    ItsmigdOrchestrator *o = r->o;

    if (!fault_armed(o, point, kind))
        return;
    itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                    "fault injection (ITSMIGD_FAULT): %s at %s:%s",
                    o->fault.stop ? "stopping" : "dying", point, o->fault.action);
    raise(o->fault.stop ? SIGSTOP : SIGKILL);
}

/* "journal:ACTION[:SECONDS]": writing the record of ACTION's start takes
 * SECONDS (10) longer, as a journal whose fsync hangs. */
void itsmigd_job_fault_journal(ItsmigdOrchestrator *o, const Record *rec)
{
    if (!fault_armed(o, "journal", rec->begins))
        return;
    itsmigd_log_job(G_LOG_LEVEL_WARNING, rec->domain, rec->id,
                    "fault injection (ITSMIGD_FAULT): the journal write of %s stalls %u s",
                    o->fault.action, o->fault.seconds);
    g_usleep((gulong)o->fault.seconds * G_USEC_PER_SEC);
}

/* "hang:ACTION": ACTION starts only once a stop has given up waiting for
 * it, as a libvirt call (a transfer) that returns at the worst moment.
 * "stall:ACTION[:SECONDS]": ACTION starts SECONDS (10) after it took its
 * libvirt connection, time for a test to restart libvirtd under it. */
void itsmigd_job_fault_hang(Run *r, ItsmigActionKind kind)
{
    ItsmigdOrchestrator *o = r->o;

    if (fault_armed(o, "stall", kind)) {
        itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                        "fault injection (ITSMIGD_FAULT): %s stalls %u s on its connection",
                        o->fault.action, o->fault.seconds);
        g_usleep((gulong)o->fault.seconds * G_USEC_PER_SEC);
        return;
    }
    if (!fault_armed(o, "hang", kind))
        return;
    itsmigd_log_job(G_LOG_LEVEL_WARNING, r->job->domain, r->job->id,
                    "fault injection (ITSMIGD_FAULT): %s waits for a stop to give up",
                    o->fault.action);
    g_mutex_lock(&o->lock);
    while (!o->gave_up)
        g_cond_wait(&o->cond, &o->lock);
    g_mutex_unlock(&o->lock);
}

void itsmigd_job_fault_parse(ItsmigdOrchestrator *o)
{
    const char *spec = g_getenv("ITSMIGD_FAULT");
    g_auto(GStrv) parts = NULL;

    if (!spec || !spec[0])
        return;
    guint64 seconds = 10;

    parts = g_strsplit(spec, ":", 3);
    if (g_strv_length(parts) < 2 || itsmig_action_from_string(parts[1]) < 0 ||
        (strcmp(parts[0], "before") && strcmp(parts[0], "after") && strcmp(parts[0], "reported") &&
         strcmp(parts[0], "journal") && strcmp(parts[0], "hang") && strcmp(parts[0], "stall")) ||
        ((strcmp(parts[0], "journal") == 0 || strcmp(parts[0], "stall") == 0) && parts[2] &&
         !g_ascii_string_to_unsigned(parts[2], 10, 1, 3600, &seconds, NULL))) {
        g_warning("ITSMIGD_FAULT=%s ignored: want before|after|reported:ACTION[:stop], "
                  "journal|stall:ACTION[:SECONDS] or hang:ACTION",
                  spec);
        return;
    }
    o->fault.point = g_strdup(parts[0]);
    o->fault.action = g_strdup(parts[1]);
    o->fault.stop = parts[2] && strcmp(parts[2], "stop") == 0;
    o->fault.seconds = (guint)seconds;
    g_warning("fault injection armed: %s", spec);
}
#else
void itsmigd_job_fault_point(Run *r, const char *point, ItsmigActionKind kind)
{
}

void itsmigd_job_fault_journal(ItsmigdOrchestrator *o, const Record *rec)
{
}

void itsmigd_job_fault_hang(Run *r, ItsmigActionKind kind)
{
}

void itsmigd_job_fault_parse(ItsmigdOrchestrator *o)
{
    if (g_getenv("ITSMIGD_FAULT"))
        g_warning("ITSMIGD_FAULT ignored: fault injection is only in the test build");
}
#endif
