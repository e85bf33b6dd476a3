/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The registry kept in step with libvirt: the domains listed on each
 * connection, and each domain's profile read from its XML, after writing
 * the itsmig record into its metadata when a start or an arrival calls for
 * one.  All of it runs on the worker (virt-worker.c), in order with the
 * events; only the metadata writes go to threads of their own, since libvirt
 * may hold them for 30 s.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <libvirt/virterror.h>

#include "itsmig/domain-profile.h"
#include "itsmig/error.h"
#include "daemon/log.h"
#include "daemon/virt-domain.h"
#include "daemon/virt-names.h"
#include "daemon/virt-private.h"

/* How often records waiting for a libvirt job to end are tried again, besides
 * the domain's events. */
#define RECORD_RETRY_S 2

static const char *const record_causes[] = {"cold start", "arrival", "guest reset",
                                            "found running"};

/* A record to write into a domain's metadata.  libvirt takes the domain's
 * job lock for it, and waits for it (30 s, then fails) while a migration
 * holds it: so it is written from a thread, and not even tried while the
 * domain is under a job; the job's end (its events, or the retry timer)
 * brings it back. */
typedef struct {
    ItsmigdMetadataCause cause;
    gboolean writing; /* a thread is at it */
    gboolean again;   /* another cause came meanwhile */
} RecordWrite;

typedef struct {
    virDomainPtr dom; /* a reference */
    DomainIds ids;
    char *xml;
    unsigned int flags;
    ItsmigdMetadataCause cause;
    int revision;
} RecordTask;

typedef struct {
    gboolean written;
    gboolean busy;  /* not tried: libvirt holds a job on the domain */
    gboolean retry; /* failed, but as a job lock that was taken does */
    char *why;
} RecordOutcome;

static void record_task_free(RecordTask *t)
{
    virDomainFree(t->dom);
    g_free(t->xml);
    g_free(t);
}

static void record_outcome_free(RecordOutcome *o)
{
    g_free(o->why);
    g_free(o);
}

static void schedule_record_retry(ItsmigdVirt *virt);

/* Why libvirt would make a metadata write wait, NULL when nothing says so:
 * a migration (or another job) on the domain, here or arriving. */
static char *domain_busy(virDomainPtr dom)
{
    virDomainControlInfo control;
    virDomainJobInfo job;
    int state, reason;

    if (virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
        (reason == VIR_DOMAIN_PAUSED_MIGRATION || reason == VIR_DOMAIN_PAUSED_POSTCOPY ||
         reason == VIR_DOMAIN_PAUSED_STARTING_UP))
        return g_strdup("the domain is paused by a migration under way");
    if (virDomainGetControlInfo(dom, &control, 0) == 0 && control.state != VIR_DOMAIN_CONTROL_OK)
        return g_strdup("libvirt is running a job on the domain");
    /* Outgoing migrations show here; incoming ones only in the state. */
    if (virDomainGetJobInfo(dom, &job) == 0 &&
        (job.type == VIR_DOMAIN_JOB_BOUNDED || job.type == VIR_DOMAIN_JOB_UNBOUNDED))
        return g_strdup("libvirt is running a job (a migration) on the domain");
    return NULL;
}

static void write_record_in_thread(GTask *task, gpointer source, gpointer task_data,
                                   GCancellable *cancellable)
{
    RecordTask *t = task_data;
    RecordOutcome *o = g_new0(RecordOutcome, 1);

    o->why = domain_busy(t->dom);
    if (o->why) {
        o->busy = TRUE;
    } else if (virDomainSetMetadata(t->dom, VIR_DOMAIN_METADATA_ELEMENT, t->xml,
                                    ITSMIG_METADATA_PREFIX, ITSMIG_METADATA_NS, t->flags) < 0) {
        g_autoptr(GError) error = NULL;

        /* The job lock timed out, or a job began between the look and the
         * write: worth another try when it ends. */
        o->retry = itsmigd_virt_error(&error, NULL) == VIR_ERR_OPERATION_TIMEOUT;
        o->why = g_strdup(error->message);
        if (!o->retry) {
            g_autofree char *busy = domain_busy(t->dom);

            o->retry = busy != NULL;
        }
    } else {
        o->written = TRUE;
    }
    g_task_return_pointer(task, o, (GDestroyNotify)record_outcome_free);
}

static void on_record_written(GObject *source, GAsyncResult *result, gpointer data)
{
    ItsmigdVirt *virt = data;
    RecordTask *t = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    RecordOutcome *o = g_task_propagate_pointer(G_TASK(result), &error);
    RecordWrite *w;
    const char *cause = record_causes[t->cause];

    if (!o)
        return; /* cancelled: itsmigd is stopping, virt is gone */
    w = g_hash_table_lookup(virt->record_writes, t->ids.uuid);
    if (w)
        w->writing = FALSE;
    if (!itsmigd_registry_contains(virt->registry, t->ids.uuid)) {
        g_hash_table_remove(virt->record_writes, t->ids.uuid);
    } else if (o->written) {
        gboolean again = w && w->again;
        ItsmigdMetadataCause next = w ? w->cause : PROFILE_READ_ONLY;

        if (t->revision >= 0)
            itsmigd_log_domain(G_LOG_LEVEL_INFO, t->ids.name,
                               "itsmig record written after %s: ITS ABI revision %d", cause,
                               t->revision);
        else
            itsmigd_log_domain(G_LOG_LEVEL_INFO, t->ids.name,
                               "itsmig record written after %s: ITS ABI revision unknown", cause);
        g_hash_table_remove(virt->record_writes, t->ids.uuid);
        itsmigd_registry_set_record_write(virt->registry, t->ids.uuid, ITSMIGD_RECORD_WRITE_NONE,
                                          NULL, NULL);
        /* Read back what libvirt now holds, so the registry shows it (and
         * plan again for a cause that came during the write). */
        itsmigd_domain_sync_refresh(virt, t->dom, &t->ids, again ? next : PROFILE_READ_ONLY);
    } else if (o->busy || o->retry) {
        itsmigd_log_domain(G_LOG_LEVEL_INFO, t->ids.name, "the itsmig record after %s waits: %s",
                           cause, o->why);
        itsmigd_registry_set_record_write(virt->registry, t->ids.uuid, ITSMIGD_RECORD_WRITE_PENDING,
                                          cause, o->why);
        schedule_record_retry(virt);
    } else {
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, t->ids.name,
                           "cannot write the itsmig record after %s: %s", cause, o->why);
        g_hash_table_remove(virt->record_writes, t->ids.uuid);
        itsmigd_registry_set_record_write(virt->registry, t->ids.uuid, ITSMIGD_RECORD_WRITE_FAILED,
                                          cause, o->why);
    }
    record_outcome_free(o);
}

/* Writes the itsmig record into the domain's metadata, live and (for a
 * persistent domain) in its definition, so that it travels with the guest;
 * from a thread, the main loop never waiting for it. */
static void write_metadata(ItsmigdVirt *virt, virDomainPtr dom, const DomainIds *ids,
                           const ItsmigItsMetadata *m, ItsmigdMetadataCause cause)
{
    RecordWrite *w = g_hash_table_lookup(virt->record_writes, ids->uuid);
    g_autoptr(GTask) task = NULL;
    RecordTask *t;

    if (!w) {
        w = g_new0(RecordWrite, 1);
        g_hash_table_insert(virt->record_writes, g_strdup(ids->uuid), w);
    }
    w->cause = cause;
    if (w->writing) {
        w->again = TRUE;
        return;
    }
    w->writing = TRUE;
    w->again = FALSE;
    itsmigd_registry_set_record_write(virt->registry, ids->uuid, ITSMIGD_RECORD_WRITE_PENDING,
                                      record_causes[cause], "the write is under way");
    t = g_new0(RecordTask, 1);
    t->dom = dom;
    virDomainRef(dom);
    t->ids = *ids;
    t->xml = itsmig_its_metadata_to_xml(m);
    t->flags = VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainIsPersistent(dom) == 1)
        t->flags |= VIR_DOMAIN_AFFECT_CONFIG;
    t->cause = cause;
    t->revision = m->its_abi_revision;
    task = g_task_new(NULL, virt->cancellable, on_record_written, virt);
    g_task_set_task_data(task, t, (GDestroyNotify)record_task_free);
    g_task_run_in_thread(task, write_record_in_thread);
}

static void clear_record_retry(ItsmigdVirt *virt)
{
    if (virt->record_retry) {
        g_source_destroy(virt->record_retry);
        g_clear_pointer(&virt->record_retry, g_source_unref);
    }
}

/* The records still to write, tried again: each is planned afresh (the
 * record may have been written meanwhile, or need no longer). */
static gboolean on_record_retry(gpointer data)
{
    ItsmigdVirt *virt = data;
    g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    gpointer key, value;

    g_clear_pointer(&virt->record_retry, g_source_unref);
    g_hash_table_iter_init(&iter, virt->record_writes);
    while (g_hash_table_iter_next(&iter, &key, &value))
        if (!((RecordWrite *)value)->writing)
            g_ptr_array_add(uuids, g_strdup(key));
    for (guint i = 0; itsmigd_virt_worker_current(virt) && i < uuids->len; i++) {
        const char *uuid = g_ptr_array_index(uuids, i);
        RecordWrite *w = g_hash_table_lookup(virt->record_writes, uuid);
        g_autoptr(GError) error = NULL;
        g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(virt->work_conn, uuid, &error);
        DomainIds ids;

        if (g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND))
            g_hash_table_remove(virt->record_writes, uuid);
        else if (dom && w && itsmigd_virt_domain_ids(dom, &ids))
            itsmigd_domain_sync_refresh(virt, dom, &ids, w->cause);
    }
    return G_SOURCE_REMOVE;
}

/* On the worker's context; @source replaces the retry planned before. */
static void plan_record_retry(ItsmigdVirt *virt, GSource *source)
{
    clear_record_retry(virt);
    g_source_set_callback(source, on_record_retry, virt, NULL);
    g_source_attach(source, virt->work_context);
    virt->record_retry = source;
}

static void schedule_record_retry(ItsmigdVirt *virt)
{
    if (!virt->record_retry)
        plan_record_retry(virt, g_timeout_source_new_seconds(RECORD_RETRY_S));
}

void itsmigd_domain_sync_retry_record(ItsmigdVirt *virt, const char *uuid)
{
    RecordWrite *w = g_hash_table_lookup(virt->record_writes, uuid);

    if (w && !w->writing) {
        GSource *now = g_idle_source_new();

        g_source_set_priority(now, G_PRIORITY_DEFAULT);
        plan_record_retry(virt, now);
    }
}

/* Reads the domain's XML into the registry, after writing the itsmig record
 * first when @cause calls for one.  The XML is parsed only when it changed. */
void itsmigd_domain_sync_refresh(ItsmigdVirt *virt, virDomainPtr dom, const DomainIds *ids,
                                 ItsmigdMetadataCause cause)
{
    char *text = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) xml = NULL;
    g_autoptr(ItsmigdDomainView) view = NULL;
    const ItsmigDomainProfile *profile;
    gboolean planned = FALSE;

    if (!text) {
        itsmigd_virt_error(&error, "cannot read the domain XML");
        /* A failing connection: keep the profile read last time. */
        if (!g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND))
            return;
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, ids->name, "%s", error->message);
        view = itsmigd_domain_view_new_error(error->message);
        itsmigd_registry_set_view(virt->registry, ids->uuid, view);
        return;
    }
    xml = g_bytes_new_take(text, strlen(text));
    view = itsmigd_registry_update_view(virt->registry, virt->host, ids->uuid, xml, TRUE);
    profile = view->profile;
    if (profile && cause != PROFILE_READ_ONLY && virDomainIsActive(dom) == 1) {
        g_autoptr(ItsmigHostCaps) caps = itsmigd_host_get_caps(virt->host);
        g_auto(ItsmigItsMetadata) m;
        g_autoptr(ItsmigHookRecord) hook = NULL;
        g_autoptr(GError) hook_error = NULL;

        if (cause == ITSMIGD_METADATA_FOUND && !profile->has_metadata) {
            g_autofree char *dir = itsmigd_host_dup_record_dir(virt->host);

            hook = itsmig_hook_record_load(dir, ids->uuid, &hook_error);
            if (hook_error)
                itsmigd_log_domain(G_LOG_LEVEL_WARNING, ids->name, "ignoring the hook's record: %s",
                                   hook_error->message);
        }
        if (profile->metadata_error)
            itsmigd_log_domain(G_LOG_LEVEL_WARNING, ids->name,
                               "the itsmig record in the metadata is unreadable: %s",
                               profile->metadata_error);
        if (itsmigd_metadata_plan(profile, cause, caps, hook, g_get_real_time() / G_USEC_PER_SEC,
                                  &m)) {
            write_metadata(virt, dom, ids, &m, cause);
            planned = TRUE;
        }
    }
    if (cause != PROFILE_READ_ONLY && !planned) {
        RecordWrite *w = g_hash_table_lookup(virt->record_writes, ids->uuid);

        if (w && !w->writing) {
            /* Written meanwhile (by the event of the arrival), or no longer
             * needed (the domain stopped). */
            g_hash_table_remove(virt->record_writes, ids->uuid);
            itsmigd_registry_set_record_write(virt->registry, ids->uuid, ITSMIGD_RECORD_WRITE_NONE,
                                              NULL, NULL);
        }
    }
    if (!profile)
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, ids->name, "cannot read the ITS profile: %s",
                           view->profile_error);
}

void itsmigd_domain_sync_forget(ItsmigdVirt *virt, const char *uuid)
{
    g_hash_table_remove(virt->record_writes, uuid);
}

void itsmigd_domain_sync_init(ItsmigdVirt *virt)
{
    virt->record_writes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

void itsmigd_domain_sync_clear(ItsmigdVirt *virt)
{
    clear_record_retry(virt);
    g_clear_pointer(&virt->record_writes, g_hash_table_destroy);
}

/* The event that most plausibly took a domain from @old to @now. */
static const char *reconstructed_event(int old, int now)
{
    switch (now) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED: return old == VIR_DOMAIN_PAUSED ? "resumed" : "started";
    case VIR_DOMAIN_PAUSED: return old == VIR_DOMAIN_SHUTOFF ? "started" : "suspended";
    case VIR_DOMAIN_SHUTOFF: return "stopped";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "state-changed";
    }
}

/* The domains in the registry that the listing did not show (@seen): gone,
 * and with @reconstruct, published as stopped and undefined. */
static void forget_unseen(ItsmigdVirt *virt, GHashTable *seen, gboolean reconstruct)
{
    g_auto(GStrv) known = itsmigd_registry_uuids(virt->registry);

    for (gsize i = 0; known[i]; i++) {
        g_autofree char *name = NULL;
        int old_state = -1;

        if (g_hash_table_contains(seen, known[i]))
            continue;
        if (reconstruct && itsmigd_registry_get(virt->registry, known[i], &name, &old_state)) {
            DomainIds ids;

            g_strlcpy(ids.name, name, sizeof(ids.name));
            g_strlcpy(ids.uuid, known[i], sizeof(ids.uuid));
            itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_RECONSTRUCTED);
            if (old_state != VIR_DOMAIN_SHUTOFF)
                itsmigd_virt_publish_lifecycle(virt, &ids, "stopped", "unknown", VIR_DOMAIN_SHUTOFF,
                                               0, TRUE);
            itsmigd_virt_publish_lifecycle(virt, &ids, "undefined", "removed", VIR_DOMAIN_SHUTOFF,
                                           0, TRUE);
        }
        itsmigd_registry_remove(virt->registry, known[i]);
        itsmigd_domain_sync_forget(virt, known[i]);
    }
}

gboolean itsmigd_domain_sync_all(ItsmigdVirt *virt, virConnectPtr conn, gboolean reconstruct,
                                 GError **error)
{
    virDomainPtr *doms = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    int n;

    /* The record retries look domains up on it from now on. */
    g_clear_pointer(&virt->work_conn, virConnectClose);
    virConnectRef(conn);
    virt->work_conn = conn;
    virt->work_generation = g_atomic_int_get(&virt->generation);
    n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) {
        itsmigd_virt_error(error, "cannot list domains");
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        g_autoptr(virDomain) dom = g_steal_pointer(&doms[i]);
        ItsmigdDomainInfo info;
        DomainIds ids;
        int state, reason, old_state = -1;
        gboolean added;

        if (!itsmigd_virt_domain_ids(dom, &ids) || virDomainGetState(dom, &state, &reason, 0) < 0) {
            g_autoptr(GError) local = NULL;

            itsmigd_virt_error(&local, "cannot read domain states");
            /* Gone between the listing and now: its event will follow. */
            if (g_error_matches(local, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND))
                continue;
            /* The connection failed midway: nothing may be concluded about
             * the domains not seen yet. */
            g_propagate_error(error, g_steal_pointer(&local));
            for (int j = i + 1; j < n; j++)
                virDomainFree(doms[j]);
            free(doms);
            return FALSE;
        }
        info.name = ids.name;
        info.uuid = ids.uuid;
        info.id = virDomainIsActive(dom) == 1 ? (int)virDomainGetID(dom) : -1;
        info.state = state;
        info.reason = reason;
        info.persistent = virDomainIsPersistent(dom) == 1;
        added = itsmigd_registry_update(virt->registry, &info, &old_state);
        itsmigd_domain_sync_refresh(virt, dom, &ids, ITSMIGD_METADATA_FOUND);
        g_hash_table_add(seen, g_strdup(ids.uuid));

        if (reconstruct && added) {
            itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_RECONSTRUCTED);
            if (info.persistent)
                itsmigd_virt_publish_lifecycle(virt, &ids, "defined", "added", state, reason, TRUE);
            if (info.id >= 0)
                itsmigd_virt_publish_lifecycle(virt, &ids, "started",
                                               itsmigd_state_reason_name(state, reason), state,
                                               reason, TRUE);
        } else if (reconstruct && old_state != state) {
            itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_RECONSTRUCTED);
            itsmigd_virt_publish_lifecycle(virt, &ids, reconstructed_event(old_state, state),
                                           itsmigd_state_reason_name(state, reason), state, reason,
                                           TRUE);
        }
    }
    free(doms);

    forget_unseen(virt, seen, reconstruct);
    return TRUE;
}
