/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/domain-profile.h"
#include "daemon/domain-metadata.h"
#include "daemon/log.h"
#include "daemon/virt-connect.h"
#include "daemon/virt-names.h"

enum {
    CB_LIFECYCLE,
    CB_DEVICE_ADDED,
    CB_DEVICE_REMOVED,
    CB_JOB_COMPLETED,
    CB_MIGRATION_ITERATION,
    CB_REBOOT,
    CB_LAST
};

struct ItsmigdVirt {
    char *uri;
    ItsmigdVirtOptions options;
    ItsmigdRegistry *registry;
    ItsmigdEventBus *bus;
    ItsmigdMetrics *metrics;
    ItsmigdHost *host;
    ItsmigdVirtChangedFunc changed;
    gpointer changed_data;

    /* Main loop only. */
    virConnectPtr conn;
    int callback_ids[CB_LAST];
    guint retry_source;
    guint disconnect_source;
    GCancellable *cancellable;
    gboolean connecting;
    unsigned int next_backoff;

    ItsmigdVirtObserver observer;
    /* Records to write (main loop): UUID -> RecordWrite. */
    GHashTable *record_writes;
    guint record_retry_source;

    /* Read from HTTP threads too. */
    GMutex lock;
    ItsmigdVirtStatus status;
    virConnectPtr shared; /* virt->conn once set up, for other threads' calls */
};

void itsmigd_virt_status_clear(ItsmigdVirtStatus *s)
{
    g_clear_pointer(&s->uri, g_free);
    g_clear_pointer(&s->last_error, g_free);
    g_clear_pointer(&s->libvirt_version, g_free);
    g_clear_pointer(&s->hypervisor, g_free);
    g_clear_pointer(&s->hypervisor_version, g_free);
}

static char *version_string(unsigned long v)
{
    return g_strdup_printf("%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

static void schedule_retry(ItsmigdVirt *virt);
static void start_connect(ItsmigdVirt *virt);

static void notify_changed(ItsmigdVirt *virt)
{
    if (virt->changed)
        virt->changed(virt, virt->changed_data);
}

static void set_error(ItsmigdVirt *virt, const char *message)
{
    g_mutex_lock(&virt->lock);
    g_free(virt->status.last_error);
    virt->status.last_error = g_strdup(message);
    g_mutex_unlock(&virt->lock);
}

static void publish_connection(ItsmigdVirt *virt, gboolean connected, const char *why)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autofree char *now = itsmigd_time_string(g_get_real_time());

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "time");
    json_builder_add_string_value(b, now);
    json_builder_set_member_name(b, "connected");
    json_builder_add_boolean_value(b, connected);
    json_builder_set_member_name(b, "uri");
    json_builder_add_string_value(b, virt->uri);
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, why);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "connection", json_builder_get_root(b));
}

/* ---- one domain ---------------------------------------------------------- */

typedef struct {
    char name[256 + 1];
    char uuid[VIR_UUID_STRING_BUFLEN];
} DomainIds;

static gboolean domain_ids(virDomainPtr dom, DomainIds *ids)
{
    const char *name = virDomainGetName(dom);

    if (!name || virDomainGetUUIDString(dom, ids->uuid) < 0)
        return FALSE;
    g_strlcpy(ids->name, name, sizeof(ids->name));
    return TRUE;
}

/* What refresh_profile() does besides reading: none, or write the itsmig
 * record after this cause. */
#define PROFILE_READ_ONLY ITSMIGD_METADATA_CAUSE_LAST
/* How often records waiting for a libvirt job to end are tried again, besides
 * the domain's events. */
#define RECORD_RETRY_S 2

static const char *const record_causes[] = { "cold start", "arrival", "guest reset",
                                             "found running" };

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
    gboolean busy; /* not tried: libvirt holds a job on the domain */
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

static void refresh_profile(ItsmigdVirt *virt, virDomainPtr dom, const DomainIds *ids,
                            ItsmigdMetadataCause cause);
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
        int code = virGetLastErrorCode();

        o->why = g_strdup(virGetLastErrorMessage());
        /* The job lock timed out, or a job began between the look and the
         * write: worth another try when it ends. */
        o->retry = code == VIR_ERR_OPERATION_TIMEOUT;
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
        refresh_profile(virt, t->dom, &t->ids, again ? next : PROFILE_READ_ONLY);
    } else if (o->busy || o->retry) {
        itsmigd_log_domain(G_LOG_LEVEL_INFO, t->ids.name,
                           "the itsmig record after %s waits: %s", cause, o->why);
        itsmigd_registry_set_record_write(virt->registry, t->ids.uuid,
                                          ITSMIGD_RECORD_WRITE_PENDING, cause, o->why);
        schedule_record_retry(virt);
    } else {
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, t->ids.name,
                           "cannot write the itsmig record after %s: %s", cause, o->why);
        g_hash_table_remove(virt->record_writes, t->ids.uuid);
        itsmigd_registry_set_record_write(virt->registry, t->ids.uuid,
                                          ITSMIGD_RECORD_WRITE_FAILED, cause, o->why);
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

/* The records still to write, tried again: each is planned afresh (the
 * record may have been written meanwhile, or need no longer). */
static gboolean on_record_retry(gpointer data)
{
    ItsmigdVirt *virt = data;
    g_autoptr(GPtrArray) uuids = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    gpointer key, value;

    virt->record_retry_source = 0;
    g_hash_table_iter_init(&iter, virt->record_writes);
    while (g_hash_table_iter_next(&iter, &key, &value))
        if (!((RecordWrite *)value)->writing)
            g_ptr_array_add(uuids, g_strdup(key));
    for (guint i = 0; virt->conn && i < uuids->len; i++) {
        const char *uuid = g_ptr_array_index(uuids, i);
        RecordWrite *w = g_hash_table_lookup(virt->record_writes, uuid);
        virDomainPtr dom = virDomainLookupByUUIDString(virt->conn, uuid);
        DomainIds ids;

        if (!dom) {
            if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
                g_hash_table_remove(virt->record_writes, uuid);
            continue;
        }
        if (w && domain_ids(dom, &ids))
            refresh_profile(virt, dom, &ids, w->cause);
        virDomainFree(dom);
    }
    return G_SOURCE_REMOVE;
}

static void schedule_record_retry(ItsmigdVirt *virt)
{
    if (!virt->record_retry_source)
        virt->record_retry_source = g_timeout_add_seconds(RECORD_RETRY_S, on_record_retry, virt);
}

/* An event of a domain whose record waits: try now, the job may have ended. */
static void retry_record_of(ItsmigdVirt *virt, const char *uuid)
{
    RecordWrite *w = g_hash_table_lookup(virt->record_writes, uuid);

    if (w && !w->writing) {
        g_clear_handle_id(&virt->record_retry_source, g_source_remove);
        virt->record_retry_source = g_idle_add(on_record_retry, virt);
    }
}

/* Reads the domain's XML into the registry, after writing the itsmig record
 * first when @cause calls for one. */
static void refresh_profile(ItsmigdVirt *virt, virDomainPtr dom, const DomainIds *ids,
                            ItsmigdMetadataCause cause)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigDomainProfile) profile = NULL;
    gboolean planned = FALSE;

    if (!xml && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
        /* A failing connection: keep the profile read last time. */
        return;
    }
    if (!xml) {
        g_autofree char *why = g_strdup_printf("cannot read the domain XML: %s",
                                               virGetLastErrorMessage());
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, ids->name, "%s", why);
        itsmigd_registry_set_profile(virt->registry, ids->uuid, NULL, why);
        itsmigd_registry_set_xml(virt->registry, ids->uuid, NULL);
        return;
    }
    profile = itsmig_domain_profile_parse(xml, -1, &error);
    if (profile && cause != PROFILE_READ_ONLY && virDomainIsActive(dom) == 1) {
        g_autoptr(ItsmigHostCaps) caps = itsmigd_host_get_caps(virt->host);
        g_auto(ItsmigItsMetadata) m;
        g_autoptr(ItsmigHookRecord) hook = NULL;
        g_autoptr(GError) hook_error = NULL;

        if (cause == ITSMIGD_METADATA_FOUND && !profile->has_metadata) {
            hook = itsmig_hook_record_load(virt->host->record_dir, ids->uuid, &hook_error);
            if (hook_error)
                itsmigd_log_domain(G_LOG_LEVEL_WARNING, ids->name,
                                   "ignoring the hook's record: %s", hook_error->message);
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
            itsmigd_registry_set_record_write(virt->registry, ids->uuid,
                                              ITSMIGD_RECORD_WRITE_NONE, NULL, NULL);
        }
    }
    if (!profile)
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, ids->name, "cannot read the ITS profile: %s",
                           error->message);
    else
        itsmigd_host_describe_hostdevs(virt->host, profile);
    {
        gsize len = strlen(xml);
        g_autoptr(GBytes) bytes = profile ? g_bytes_new_take(g_steal_pointer(&xml), len) : NULL;

        itsmigd_registry_set_xml(virt->registry, ids->uuid, bytes);
    }
    itsmigd_registry_set_profile(virt->registry, ids->uuid, g_steal_pointer(&profile),
                                 error ? error->message : NULL);
}

/* Opens a domain event's object with its time, domain name and UUID. */
static void begin_domain_event(JsonBuilder *b, const DomainIds *ids, gint64 time_us)
{
    g_autofree char *time = itsmigd_time_string(time_us);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "time");
    json_builder_add_string_value(b, time);
    json_builder_set_member_name(b, "domain");
    json_builder_add_string_value(b, ids->name);
    json_builder_set_member_name(b, "uuid");
    json_builder_add_string_value(b, ids->uuid);
}

static void publish_lifecycle(ItsmigdVirt *virt, const DomainIds *ids, const char *type,
                              const char *detail, int state, int reason, gboolean reconstructed)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    gint64 now_us = g_get_real_time();

    itsmigd_registry_add_history(virt->registry, ids->uuid, now_us, type, detail, reconstructed);
    begin_domain_event(b, ids, now_us);
    json_builder_set_member_name(b, "event");
    json_builder_add_string_value(b, type);
    json_builder_set_member_name(b, "detail");
    json_builder_add_string_value(b, detail);
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, itsmigd_state_name(state));
    json_builder_set_member_name(b, "reason");
    json_builder_add_string_value(b, itsmigd_state_reason_name(state, reason));
    json_builder_set_member_name(b, "reconstructed");
    json_builder_add_boolean_value(b, reconstructed);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "lifecycle", json_builder_get_root(b));
    itsmigd_log_domain(reconstructed ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_DEBUG, ids->name,
                       "%s %s (%s, now %s)", reconstructed ? "while disconnected:" : "event:",
                       type, detail, itsmigd_state_name(state));
}

/* ---- events ---------------------------------------------------------------- */

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                        void *opaque)
{
    ItsmigdVirt *virt = opaque;
    ItsmigdDomainInfo info = { 0 };
    DomainIds ids;
    int state = -1, reason = 0, old_state = -1;
    g_autofree char *known_name = NULL;
    gboolean known, added = FALSE, gone = FALSE;

    itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_LIFECYCLE);
    if (!domain_ids(dom, &ids))
        return 0;
    known = itsmigd_registry_get(virt->registry, ids.uuid, &known_name, &old_state);

    /* The event says what happened; the domain's state now is asked for,
     * because events queued during a burst describe earlier states. */
    if (event == VIR_DOMAIN_EVENT_UNDEFINED && detail == VIR_DOMAIN_EVENT_UNDEFINED_RENAMED) {
        /* The DEFINED/RENAMED event that follows carries the new name. */
        publish_lifecycle(virt, &ids, "undefined", "renamed", old_state, 0, FALSE);
        return 0;
    }
    if (virDomainGetState(dom, &state, &reason, 0) == 0) {
        info.name = ids.name;
        info.uuid = ids.uuid;
        /* One round trip per event: the id comes with the event's domain
         * object, persistence changes only with (un)define events. */
        info.id = state != VIR_DOMAIN_SHUTOFF ? (int)virDomainGetID(dom) : -1;
        info.state = state;
        info.reason = reason;
        if (event == VIR_DOMAIN_EVENT_DEFINED)
            info.persistent = TRUE;
        else if (event == VIR_DOMAIN_EVENT_UNDEFINED)
            info.persistent = FALSE;
        else if (known)
            info.persistent = itsmigd_registry_is_persistent(virt->registry, ids.uuid);
        else
            info.persistent = virDomainIsPersistent(dom) == 1;
        added = itsmigd_registry_update(virt->registry, &info, NULL);
        if (event == VIR_DOMAIN_EVENT_STARTED)
            refresh_profile(virt, dom, &ids, itsmigd_metadata_cause_of_start(detail));
        else if (added || event == VIR_DOMAIN_EVENT_DEFINED)
            refresh_profile(virt, dom, &ids, added ? ITSMIGD_METADATA_FOUND : PROFILE_READ_ONLY);
    } else if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
        /* The connection is going: events still queued describe states the
         * resynchronisation after the reconnection will establish. */
        return 0;
    } else {
        /* Gone: undefined while inactive, or a transient domain stopped. */
        gone = TRUE;
        state = event == VIR_DOMAIN_EVENT_UNDEFINED && known && old_state >= 0
                    ? old_state
                    : VIR_DOMAIN_SHUTOFF;
        /* STOPPED details follow the shut-off reasons, one place later. */
        reason = event == VIR_DOMAIN_EVENT_STOPPED ? detail + 1 : 0;
    }
    publish_lifecycle(virt, &ids, itsmigd_event_name(event), itsmigd_event_detail_name(event, detail),
                      state, reason, FALSE);
    if (gone) {
        itsmigd_registry_remove(virt->registry, ids.uuid);
        g_hash_table_remove(virt->record_writes, ids.uuid);
    } else {
        retry_record_of(virt, ids.uuid);
    }
    return 0;
}

static void publish_device(ItsmigdVirt *virt, virDomainPtr dom, const char *type,
                           const char *alias, ItsmigdEventKind kind)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    gint64 now_us = g_get_real_time();
    DomainIds ids;

    itsmigd_metrics_event(virt->metrics, kind);
    if (!domain_ids(dom, &ids))
        return;
    itsmigd_registry_add_history(virt->registry, ids.uuid, now_us, type, alias, FALSE);
    refresh_profile(virt, dom, &ids, PROFILE_READ_ONLY);
    begin_domain_event(b, &ids, now_us);
    json_builder_set_member_name(b, "alias");
    json_builder_add_string_value(b, alias);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, type, json_builder_get_root(b));
    itsmigd_log_domain(G_LOG_LEVEL_INFO, ids.name, "%s: %s", type, alias);
}

static int on_device_added(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    publish_device(opaque, dom, "device-added", alias, ITSMIGD_EVENT_DEVICE_ADDED);
    return 0;
}

static int on_device_removed(virConnectPtr conn, virDomainPtr dom, const char *alias,
                             void *opaque)
{
    ItsmigdVirt *virt = opaque;
    DomainIds ids;

    publish_device(virt, dom, "device-removed", alias, ITSMIGD_EVENT_DEVICE_REMOVED);
    if (virt->observer.device_removed && domain_ids(dom, &ids))
        virt->observer.device_removed(virt->observer.data, ids.uuid, alias);
    return 0;
}

static int on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                            int nparams, void *opaque)
{
    ItsmigdVirt *virt = opaque;
    g_autoptr(JsonBuilder) b = json_builder_new();
    DomainIds ids;

    itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_JOB_COMPLETED);
    if (!domain_ids(dom, &ids))
        return 0;
    if (virt->observer.job_completed)
        virt->observer.job_completed(virt->observer.data, ids.uuid, params, nparams);
    retry_record_of(virt, ids.uuid);
    begin_domain_event(b, &ids, g_get_real_time());
    json_builder_set_member_name(b, "stats");
    json_builder_begin_object(b);
    for (int i = 0; i < nparams; i++) {
        const virTypedParameter *p = &params[i];

        json_builder_set_member_name(b, p->field);
        switch (p->type) {
        case VIR_TYPED_PARAM_INT:
            json_builder_add_int_value(b, p->value.i);
            break;
        case VIR_TYPED_PARAM_UINT:
            json_builder_add_int_value(b, p->value.ui);
            break;
        case VIR_TYPED_PARAM_LLONG:
            json_builder_add_int_value(b, p->value.l);
            break;
        case VIR_TYPED_PARAM_ULLONG:
            /* JSON numbers above 2^63 do not occur in job statistics. */
            json_builder_add_int_value(b, (gint64)MIN(p->value.ul, (unsigned long long)G_MAXINT64));
            break;
        case VIR_TYPED_PARAM_DOUBLE:
            json_builder_add_double_value(b, p->value.d);
            break;
        case VIR_TYPED_PARAM_BOOLEAN:
            json_builder_add_boolean_value(b, p->value.b != 0);
            break;
        case VIR_TYPED_PARAM_STRING:
            json_builder_add_string_value(b, p->value.s);
            break;
        default:
            json_builder_add_null_value(b);
            break;
        }
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "job-completed", json_builder_get_root(b));
    itsmigd_log_domain(G_LOG_LEVEL_INFO, ids.name, "job completed");
    return 0;
}

static int on_migration_iteration(virConnectPtr conn, virDomainPtr dom, int iteration,
                                  void *opaque)
{
    ItsmigdVirt *virt = opaque;
    g_autoptr(JsonBuilder) b = json_builder_new();
    DomainIds ids;

    itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_MIGRATION_ITERATION);
    if (!domain_ids(dom, &ids))
        return 0;
    begin_domain_event(b, &ids, g_get_real_time());
    json_builder_set_member_name(b, "iteration");
    json_builder_add_int_value(b, iteration);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "migration-iteration", json_builder_get_root(b));
    return 0;
}

/* The guest reset itself: its ITS starts over from the same revision. */
static int on_reboot(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
    ItsmigdVirt *virt = opaque;
    g_autoptr(JsonBuilder) b = json_builder_new();
    DomainIds ids;

    itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_REBOOT);
    if (!domain_ids(dom, &ids))
        return 0;
    itsmigd_registry_add_history(virt->registry, ids.uuid, g_get_real_time(), "reboot", "guest",
                                 FALSE);
    refresh_profile(virt, dom, &ids, ITSMIGD_METADATA_RESET);
    begin_domain_event(b, &ids, g_get_real_time());
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "reboot", json_builder_get_root(b));
    return 0;
}

static void deregister_events(ItsmigdVirt *virt)
{
    for (int i = 0; i < CB_LAST; i++) {
        /* On a dead connection this fails; the callback is gone either way. */
        if (virt->callback_ids[i] >= 0)
            virConnectDomainEventDeregisterAny(virt->conn, virt->callback_ids[i]);
        virt->callback_ids[i] = -1;
    }
}

static gboolean register_events(ItsmigdVirt *virt, GError **error)
{
    static const struct {
        int id;
        virConnectDomainEventGenericCallback cb;
        const char *name;
    } events[CB_LAST] = {
        [CB_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                           "lifecycle" },
        [CB_DEVICE_ADDED] = { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                              VIR_DOMAIN_EVENT_CALLBACK(on_device_added), "device-added" },
        [CB_DEVICE_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), "device-removed" },
        [CB_JOB_COMPLETED] = { VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                               VIR_DOMAIN_EVENT_CALLBACK(on_job_completed), "job-completed" },
        [CB_MIGRATION_ITERATION] = { VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                                     VIR_DOMAIN_EVENT_CALLBACK(on_migration_iteration),
                                     "migration-iteration" },
        [CB_REBOOT] = { VIR_DOMAIN_EVENT_ID_REBOOT, VIR_DOMAIN_EVENT_CALLBACK(on_reboot),
                        "reboot" },
    };

    for (int i = 0; i < CB_LAST; i++) {
        virt->callback_ids[i] =
            virConnectDomainEventRegisterAny(virt->conn, NULL, events[i].id, events[i].cb, virt,
                                             NULL);
        if (virt->callback_ids[i] < 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "cannot register for %s events: %s", events[i].name,
                        virGetLastErrorMessage());
            deregister_events(virt);
            return FALSE;
        }
    }
    return TRUE;
}

/* ---- resynchronisation ------------------------------------------------------ */

/* The event that most plausibly took a domain from @old to @now. */
static const char *reconstructed_event(int old, int now)
{
    switch (now) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        return old == VIR_DOMAIN_PAUSED ? "resumed" : "started";
    case VIR_DOMAIN_PAUSED:
        return old == VIR_DOMAIN_SHUTOFF ? "started" : "suspended";
    case VIR_DOMAIN_SHUTOFF:
        return "stopped";
    case VIR_DOMAIN_SHUTDOWN:
        return "shutdown";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "pmsuspended";
    default:
        return "state-changed";
    }
}

static gboolean resync(ItsmigdVirt *virt, gboolean reconstruct, GError **error)
{
    virDomainPtr *doms = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) known = NULL;
    int n = virConnectListAllDomains(virt->conn, &doms, 0);

    if (n < 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot list domains: %s",
                    virGetLastErrorMessage());
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        virDomainPtr dom = doms[i];
        ItsmigdDomainInfo info;
        DomainIds ids;
        int state, reason, old_state = -1;
        gboolean added;

        if (!domain_ids(dom, &ids) || virDomainGetState(dom, &state, &reason, 0) < 0) {
            if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
                /* Gone between the listing and now: its event will follow. */
                virDomainFree(dom);
                continue;
            }
            /* The connection failed midway: nothing may be concluded about
             * the domains not seen yet. */
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot read domain states: %s",
                        virGetLastErrorMessage());
            for (int j = i; j < n; j++)
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
        refresh_profile(virt, dom, &ids, ITSMIGD_METADATA_FOUND);
        g_hash_table_add(seen, g_strdup(ids.uuid));

        if (reconstruct && added) {
            itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_RECONSTRUCTED);
            if (info.persistent)
                publish_lifecycle(virt, &ids, "defined", "added", state, reason, TRUE);
            if (info.id >= 0)
                publish_lifecycle(virt, &ids, "started", itsmigd_state_reason_name(state, reason),
                                  state, reason, TRUE);
        } else if (reconstruct && old_state != state) {
            itsmigd_metrics_event(virt->metrics, ITSMIGD_EVENT_RECONSTRUCTED);
            publish_lifecycle(virt, &ids, reconstructed_event(old_state, state),
                              itsmigd_state_reason_name(state, reason), state, reason, TRUE);
        }
        virDomainFree(dom);
    }
    free(doms);

    known = itsmigd_registry_uuids(virt->registry);
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
                publish_lifecycle(virt, &ids, "stopped", "unknown", VIR_DOMAIN_SHUTOFF, 0, TRUE);
            publish_lifecycle(virt, &ids, "undefined", "removed", VIR_DOMAIN_SHUTOFF, 0, TRUE);
        }
        itsmigd_registry_remove(virt->registry, known[i]);
        g_hash_table_remove(virt->record_writes, known[i]);
    }
    return TRUE;
}

/* ---- connection ------------------------------------------------------------- */

static void on_close(virConnectPtr conn, int reason, void *opaque);

static void close_connection(ItsmigdVirt *virt)
{
    if (!virt->conn)
        return;
    g_mutex_lock(&virt->lock);
    virt->shared = NULL;
    g_mutex_unlock(&virt->lock);
    deregister_events(virt);
    /* Registering took a reference on the connection; only this drops it. */
    virConnectUnregisterCloseCallback(virt->conn, on_close);
    virConnectClose(virt->conn);
    virt->conn = NULL;
}

static gboolean on_disconnected(gpointer data)
{
    ItsmigdVirt *virt = data;

    virt->disconnect_source = 0;
    if (!virt->conn)
        return G_SOURCE_REMOVE;
    close_connection(virt);
    g_mutex_lock(&virt->lock);
    virt->status.connected = FALSE;
    g_mutex_unlock(&virt->lock);
    publish_connection(virt, FALSE, "connection to libvirt lost");
    schedule_retry(virt);
    notify_changed(virt);
    return G_SOURCE_REMOVE;
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    ItsmigdVirt *virt = opaque;
    static const char *const reasons[] = { "an error", "end of file", "keepalive timeout",
                                           "client request" };
    g_autofree char *why = g_strdup_printf("connection to %s closed after %s", virt->uri,
                                           reason >= 0 && reason < (int)G_N_ELEMENTS(reasons)
                                               ? reasons[reason]
                                               : "an unknown event");

    g_warning("%s", why);
    set_error(virt, why);
    /* Not from inside libvirt's callback: the connection is closed from a
     * fresh main-loop iteration. */
    if (!virt->disconnect_source)
        virt->disconnect_source = g_idle_add(on_disconnected, virt);
}

static gboolean on_retry(gpointer data)
{
    ItsmigdVirt *virt = data;

    virt->retry_source = 0;
    start_connect(virt);
    return G_SOURCE_REMOVE;
}

static void schedule_retry(ItsmigdVirt *virt)
{
    unsigned int delay = virt->next_backoff ? virt->next_backoff : virt->options.reconnect_min;

    delay = CLAMP(delay, virt->options.reconnect_min, virt->options.reconnect_max);
    virt->next_backoff = MIN(delay * 2, virt->options.reconnect_max);
    g_mutex_lock(&virt->lock);
    virt->status.next_retry_us = g_get_monotonic_time() + (gint64)delay * G_USEC_PER_SEC;
    virt->status.backoff_s = delay;
    g_mutex_unlock(&virt->lock);
    g_message("libvirt: next connection attempt to %s in %u s", virt->uri, delay);
    virt->retry_source = g_timeout_add_seconds(delay, on_retry, virt);
}

static void close_unused(gpointer conn)
{
    virConnectClose(conn);
}

static void open_in_thread(GTask *task, gpointer source, gpointer task_data,
                           GCancellable *cancellable)
{
    const char *uri = task_data;
    virConnectPtr conn = virConnectOpen(uri);

    if (!conn) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                                virGetLastErrorMessage());
        return;
    }
    g_task_return_pointer(task, conn, close_unused);
}

static gboolean setup_connection(ItsmigdVirt *virt, GError **error)
{
    unsigned long v;
    const char *type;
    gboolean reconnect;

    if (virConnectRegisterCloseCallback(virt->conn, on_close, virt, NULL) < 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot watch the connection: %s",
                    virGetLastErrorMessage());
        return FALSE;
    }
    /* Without keepalive a dead peer on an idle connection goes unnoticed,
     * and with it every event meanwhile.  Local drivers answer 1: no need. */
    if (virt->options.keepalive_interval > 0 &&
        virConnectSetKeepAlive(virt->conn, virt->options.keepalive_interval,
                               virt->options.keepalive_count) < 0) {
        if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)
            g_debug("libvirt: %s is a local driver; no keepalive needed", virt->uri);
        else
            g_warning("libvirt: keepalive not enabled on %s: %s", virt->uri,
                      virGetLastErrorMessage());
    }

    /* Events first, then the listing: a change in between is then both in
     * the listing and queued as an event, never in neither. */
    if (!register_events(virt, error))
        return FALSE;

    g_mutex_lock(&virt->lock);
    reconnect = virt->status.ever_connected;
    g_mutex_unlock(&virt->lock);
    if (!resync(virt, reconnect, error))
        return FALSE;

    g_mutex_lock(&virt->lock);
    itsmigd_virt_status_clear(&virt->status);
    virt->status.uri = g_strdup(virt->uri);
    if (virConnectGetLibVersion(virt->conn, &v) == 0)
        virt->status.libvirt_version = version_string(v);
    type = virConnectGetType(virt->conn);
    virt->status.hypervisor = g_strdup(type);
    if (virConnectGetVersion(virt->conn, &v) == 0 && v > 0)
        virt->status.hypervisor_version = version_string(v);
    virt->status.connected = TRUE;
    virt->status.ever_connected = TRUE;
    virt->shared = virt->conn;
    virt->status.next_retry_us = 0;
    virt->status.backoff_s = 0;
    if (reconnect)
        virt->status.reconnects++;
    g_mutex_unlock(&virt->lock);
    if (reconnect)
        itsmigd_metrics_reconnect(virt->metrics);
    return TRUE;
}

static void on_opened(GObject *source, GAsyncResult *result, gpointer data)
{
    ItsmigdVirt *virt = data;
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = g_task_propagate_pointer(G_TASK(result), &error);
    g_autofree char *message = NULL;

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    virt->connecting = FALSE;
    if (conn) {
        virt->conn = conn;
        if (setup_connection(virt, &error)) {
            guint n = itsmigd_registry_count(virt->registry);

            virt->next_backoff = 0;
            message = g_strdup_printf("connected to %s (%u domains)", virt->uri, n);
            g_message("libvirt: %s", message);
            publish_connection(virt, TRUE, message);
            notify_changed(virt);
            return;
        }
        close_connection(virt);
    }
    itsmigd_metrics_connect_failure(virt->metrics);
    message = g_strdup_printf("cannot connect to %s: %s", virt->uri, error->message);
    g_warning("libvirt: %s", message);
    set_error(virt, message);
    schedule_retry(virt);
    notify_changed(virt);
}

static void start_connect(ItsmigdVirt *virt)
{
    g_autoptr(GTask) task = NULL;

    if (virt->connecting || virt->conn)
        return;
    virt->connecting = TRUE;
    g_mutex_lock(&virt->lock);
    virt->status.next_retry_us = 0;
    g_mutex_unlock(&virt->lock);
    task = g_task_new(NULL, virt->cancellable, on_opened, virt);
    g_task_set_task_data(task, g_strdup(virt->uri), g_free);
    g_task_run_in_thread(task, open_in_thread);
}

ItsmigdVirt *itsmigd_virt_new(const char *uri, const ItsmigdVirtOptions *options,
                              ItsmigdRegistry *registry, ItsmigdEventBus *bus,
                              ItsmigdMetrics *metrics, ItsmigdHost *host)
{
    ItsmigdVirt *virt = g_new0(ItsmigdVirt, 1);

    virt->uri = g_strdup(uri);
    virt->options = *options;
    virt->registry = registry;
    virt->bus = bus;
    virt->metrics = metrics;
    virt->host = host;
    virt->cancellable = g_cancellable_new();
    for (int i = 0; i < CB_LAST; i++)
        virt->callback_ids[i] = -1;
    virt->record_writes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_mutex_init(&virt->lock);
    virt->status.uri = g_strdup(uri);
    return virt;
}

void itsmigd_virt_free(ItsmigdVirt *virt)
{
    if (!virt)
        return;
    g_cancellable_cancel(virt->cancellable);
    g_clear_handle_id(&virt->retry_source, g_source_remove);
    g_clear_handle_id(&virt->disconnect_source, g_source_remove);
    g_clear_handle_id(&virt->record_retry_source, g_source_remove);
    close_connection(virt);
    g_hash_table_destroy(virt->record_writes);
    g_object_unref(virt->cancellable);
    itsmigd_virt_status_clear(&virt->status);
    g_mutex_clear(&virt->lock);
    g_free(virt->uri);
    g_free(virt);
}

void itsmigd_virt_set_changed_func(ItsmigdVirt *virt, ItsmigdVirtChangedFunc func,
                                   gpointer user_data)
{
    virt->changed = func;
    virt->changed_data = user_data;
}

void itsmigd_virt_set_options(ItsmigdVirt *virt, const ItsmigdVirtOptions *options)
{
    virt->options = *options;
    virt->next_backoff = MIN(virt->next_backoff, options->reconnect_max);
}

void itsmigd_virt_start(ItsmigdVirt *virt)
{
    start_connect(virt);
}

gboolean itsmigd_virt_is_connected(ItsmigdVirt *virt)
{
    gboolean connected;

    g_mutex_lock(&virt->lock);
    connected = virt->status.connected;
    g_mutex_unlock(&virt->lock);
    return connected;
}

void itsmigd_virt_get_status(ItsmigdVirt *virt, ItsmigdVirtStatus *ret)
{
    g_mutex_lock(&virt->lock);
    *ret = virt->status;
    ret->uri = g_strdup(virt->status.uri);
    ret->last_error = g_strdup(virt->status.last_error);
    ret->libvirt_version = g_strdup(virt->status.libvirt_version);
    ret->hypervisor = g_strdup(virt->status.hypervisor);
    ret->hypervisor_version = g_strdup(virt->status.hypervisor_version);
    g_mutex_unlock(&virt->lock);
}

void itsmigd_virt_set_observer(ItsmigdVirt *virt, const ItsmigdVirtObserver *observer)
{
    virt->observer = *observer;
}

virConnectPtr itsmigd_virt_ref_connection(ItsmigdVirt *virt)
{
    virConnectPtr conn;

    g_mutex_lock(&virt->lock);
    conn = virt->shared;
    if (conn)
        virConnectRef(conn);
    g_mutex_unlock(&virt->lock);
    return conn;
}
