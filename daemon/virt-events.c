/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libvirt's domain events.  The callbacks run on the main loop and only count
 * the event and queue a copy of it (the domain by reference); the worker
 * (virt-worker.c) then does for each, in order, what it calls for: asks
 * libvirt for the domain's state, updates the registry, refreshes the
 * profile (domain-sync.c), publishes it on the event bus, and tells the
 * orchestrator of device removals and ended jobs.
 */
#include "config.h"

#include <string.h>

#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/log.h"
#include "daemon/virt-domain.h"
#include "daemon/virt-names.h"
#include "daemon/virt-private.h"

/* An event as the callback copied it. */
typedef struct {
    virDomainPtr dom; /* a reference */
    int event;        /* lifecycle: the event and its detail */
    int detail;
    int iteration; /* migration iteration */
    char *alias;   /* device added or removed */
    /* A completed job's statistics, a copy. */
    virTypedParameterPtr params;
    int nparams;
} DomainEvent;

static void domain_event_free(gpointer data)
{
    DomainEvent *e = data;

    virDomainFree(e->dom);
    g_free(e->alias);
    for (int i = 0; i < e->nparams; i++)
        if (e->params[i].type == VIR_TYPED_PARAM_STRING)
            g_free(e->params[i].value.s);
    g_free(e->params);
    g_free(e);
}

static DomainEvent *domain_event_new(virDomainPtr dom)
{
    DomainEvent *e = g_new0(DomainEvent, 1);

    virDomainRef(dom);
    e->dom = dom;
    return e;
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

void itsmigd_virt_publish_lifecycle(ItsmigdVirt *virt, const DomainIds *ids, const char *type,
                                    const char *detail, int state, int reason,
                                    gboolean reconstructed)
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
                       "%s %s (%s, now %s)", reconstructed ? "while disconnected:" : "event:", type,
                       detail, itsmigd_state_name(state));
}

/* The worker's part of a lifecycle event. */
static void apply_lifecycle(ItsmigdVirt *virt, gpointer item)
{
    DomainEvent *e = item;
    virDomainPtr dom = e->dom;
    int event = e->event, detail = e->detail;
    ItsmigdDomainInfo info = {0};
    DomainIds ids;
    int state = -1, reason = 0, old_state = -1;
    g_autofree char *known_name = NULL;
    g_autoptr(GError) error = NULL;
    gboolean known, added = FALSE, gone = FALSE;

    if (!itsmigd_virt_domain_ids(dom, &ids))
        return;
    known = itsmigd_registry_get(virt->registry, ids.uuid, &known_name, &old_state);

    /* The event says what happened; the domain's state now is asked for,
     * because events queued during a burst describe earlier states. */
    if (event == VIR_DOMAIN_EVENT_UNDEFINED && detail == VIR_DOMAIN_EVENT_UNDEFINED_RENAMED) {
        /* The DEFINED/RENAMED event that follows carries the new name. */
        itsmigd_virt_publish_lifecycle(virt, &ids, "undefined", "renamed", old_state, 0, FALSE);
        return;
    }
    if (itsmigd_virt_domain_get_state(dom, &state, &reason, &error)) {
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
            itsmigd_domain_sync_refresh(virt, dom, &ids, itsmigd_metadata_cause_of_start(detail));
        else if (added || event == VIR_DOMAIN_EVENT_DEFINED)
            itsmigd_domain_sync_refresh(virt, dom, &ids,
                                        added ? ITSMIGD_METADATA_FOUND : PROFILE_READ_ONLY);
    } else if (!g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND)) {
        /* The connection is going: events still queued describe states the
         * resynchronisation after the reconnection will establish. */
        return;
    } else {
        /* Gone: undefined while inactive, or a transient domain stopped. */
        gone = TRUE;
        state = event == VIR_DOMAIN_EVENT_UNDEFINED && known && old_state >= 0 ? old_state
                                                                               : VIR_DOMAIN_SHUTOFF;
        /* STOPPED details follow the shut-off reasons, one place later. */
        reason = event == VIR_DOMAIN_EVENT_STOPPED ? detail + 1 : 0;
    }
    itsmigd_virt_publish_lifecycle(virt, &ids, itsmigd_event_name(event),
                                   itsmigd_event_detail_name(event, detail), state, reason, FALSE);
    if (gone) {
        itsmigd_registry_remove(virt->registry, ids.uuid);
        itsmigd_domain_sync_forget(virt, ids.uuid);
    } else {
        itsmigd_domain_sync_retry_record(virt, ids.uuid);
    }
}

static void publish_device(ItsmigdVirt *virt, const DomainEvent *e, const DomainIds *ids,
                           const char *type)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    gint64 now_us = g_get_real_time();

    itsmigd_registry_add_history(virt->registry, ids->uuid, now_us, type, e->alias, FALSE);
    itsmigd_domain_sync_refresh(virt, e->dom, ids, PROFILE_READ_ONLY);
    begin_domain_event(b, ids, now_us);
    json_builder_set_member_name(b, "alias");
    json_builder_add_string_value(b, e->alias);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, type, json_builder_get_root(b));
    itsmigd_log_domain(G_LOG_LEVEL_INFO, ids->name, "%s: %s", type, e->alias);
}

static void apply_device_added(ItsmigdVirt *virt, gpointer item)
{
    DomainEvent *e = item;
    DomainIds ids;

    if (itsmigd_virt_domain_ids(e->dom, &ids))
        publish_device(virt, e, &ids, "device-added");
}

static void apply_device_removed(ItsmigdVirt *virt, gpointer item)
{
    DomainEvent *e = item;
    DomainIds ids;

    if (!itsmigd_virt_domain_ids(e->dom, &ids))
        return;
    publish_device(virt, e, &ids, "device-removed");
    if (virt->observer.device_removed)
        virt->observer.device_removed(virt->observer.data, ids.uuid, e->alias);
}

static void add_typed_params(JsonBuilder *b, virTypedParameterPtr params, int nparams)
{
    json_builder_begin_object(b);
    for (int i = 0; i < nparams; i++) {
        const virTypedParameter *p = &params[i];

        json_builder_set_member_name(b, p->field);
        switch (p->type) {
        case VIR_TYPED_PARAM_INT: json_builder_add_int_value(b, p->value.i); break;
        case VIR_TYPED_PARAM_UINT: json_builder_add_int_value(b, p->value.ui); break;
        case VIR_TYPED_PARAM_LLONG: json_builder_add_int_value(b, p->value.l); break;
        case VIR_TYPED_PARAM_ULLONG:
            /* JSON numbers above 2^63 do not occur in job statistics. */
            json_builder_add_int_value(b, (gint64)MIN(p->value.ul, (unsigned long long)G_MAXINT64));
            break;
        case VIR_TYPED_PARAM_DOUBLE: json_builder_add_double_value(b, p->value.d); break;
        case VIR_TYPED_PARAM_BOOLEAN: json_builder_add_boolean_value(b, p->value.b != 0); break;
        case VIR_TYPED_PARAM_STRING: json_builder_add_string_value(b, p->value.s); break;
        default: json_builder_add_null_value(b); break;
        }
    }
    json_builder_end_object(b);
}

static void apply_job_completed(ItsmigdVirt *virt, gpointer item)
{
    DomainEvent *e = item;
    g_autoptr(JsonBuilder) b = json_builder_new();
    DomainIds ids;

    if (!itsmigd_virt_domain_ids(e->dom, &ids))
        return;
    if (virt->observer.job_completed)
        virt->observer.job_completed(virt->observer.data, ids.uuid, e->params, e->nparams);
    itsmigd_domain_sync_retry_record(virt, ids.uuid);
    begin_domain_event(b, &ids, g_get_real_time());
    json_builder_set_member_name(b, "stats");
    add_typed_params(b, e->params, e->nparams);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "job-completed", json_builder_get_root(b));
    itsmigd_log_domain(G_LOG_LEVEL_INFO, ids.name, "job completed");
}

static void apply_migration_iteration(ItsmigdVirt *virt, gpointer item)
{
    DomainEvent *e = item;
    g_autoptr(JsonBuilder) b = json_builder_new();
    DomainIds ids;

    if (!itsmigd_virt_domain_ids(e->dom, &ids))
        return;
    begin_domain_event(b, &ids, g_get_real_time());
    json_builder_set_member_name(b, "iteration");
    json_builder_add_int_value(b, e->iteration);
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "migration-iteration", json_builder_get_root(b));
}

/* The guest reset itself: its ITS starts over from the same revision. */
static void apply_reboot(ItsmigdVirt *virt, gpointer item)
{
    DomainEvent *e = item;
    g_autoptr(JsonBuilder) b = json_builder_new();
    DomainIds ids;

    if (!itsmigd_virt_domain_ids(e->dom, &ids))
        return;
    itsmigd_registry_add_history(virt->registry, ids.uuid, g_get_real_time(), "reboot", "guest",
                                 FALSE);
    itsmigd_domain_sync_refresh(virt, e->dom, &ids, ITSMIGD_METADATA_RESET);
    begin_domain_event(b, &ids, g_get_real_time());
    json_builder_end_object(b);
    itsmigd_event_bus_publish(virt->bus, "reboot", json_builder_get_root(b));
}

/* ---- the callbacks, on the main loop: count, copy, queue ------------------------- */

static void queue_event(ItsmigdVirt *virt, ItsmigdEventKind kind, ItsmigdVirtWorkFunc apply,
                        DomainEvent *e)
{
    itsmigd_metrics_event(virt->metrics, kind);
    itsmigd_virt_worker_queue(virt, apply, e, domain_event_free);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    DomainEvent *e = domain_event_new(dom);

    e->event = event;
    e->detail = detail;
    queue_event(opaque, ITSMIGD_EVENT_LIFECYCLE, apply_lifecycle, e);
    return 0;
}

static int on_device_added(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    DomainEvent *e = domain_event_new(dom);

    e->alias = g_strdup(alias);
    queue_event(opaque, ITSMIGD_EVENT_DEVICE_ADDED, apply_device_added, e);
    return 0;
}

static int on_device_removed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    DomainEvent *e = domain_event_new(dom);

    e->alias = g_strdup(alias);
    queue_event(opaque, ITSMIGD_EVENT_DEVICE_REMOVED, apply_device_removed, e);
    return 0;
}

/* libvirt frees @params when the callback returns: the worker gets a copy. */
static void copy_typed_params(DomainEvent *e, virTypedParameterPtr params, int nparams)
{
    e->params = g_new(virTypedParameter, MAX(nparams, 0));
    e->nparams = MAX(nparams, 0);
    memcpy(e->params, params, sizeof(*params) * e->nparams);
    for (int i = 0; i < e->nparams; i++)
        if (e->params[i].type == VIR_TYPED_PARAM_STRING)
            e->params[i].value.s = g_strdup(params[i].value.s);
}

static int on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                            int nparams, void *opaque)
{
    DomainEvent *e = domain_event_new(dom);

    copy_typed_params(e, params, nparams);
    queue_event(opaque, ITSMIGD_EVENT_JOB_COMPLETED, apply_job_completed, e);
    return 0;
}

static int on_migration_iteration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
    DomainEvent *e = domain_event_new(dom);

    e->iteration = iteration;
    queue_event(opaque, ITSMIGD_EVENT_MIGRATION_ITERATION, apply_migration_iteration, e);
    return 0;
}

static int on_reboot(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
    queue_event(opaque, ITSMIGD_EVENT_REBOOT, apply_reboot, domain_event_new(dom));
    return 0;
}

void itsmigd_virt_events_deregister(ItsmigdVirt *virt)
{
    for (int i = 0; i < CB_LAST; i++) {
        /* On a dead connection this fails; the callback is gone either way. */
        if (virt->callback_ids[i] >= 0)
            virConnectDomainEventDeregisterAny(virt->conn, virt->callback_ids[i]);
        virt->callback_ids[i] = -1;
    }
}

gboolean itsmigd_virt_events_register(ItsmigdVirt *virt, GError **error)
{
    static const struct {
        int id;
        virConnectDomainEventGenericCallback cb;
        const char *name;
    } events[CB_LAST] = {
        [CB_LIFECYCLE] = {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                          "lifecycle"},
        [CB_DEVICE_ADDED] = {VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                             VIR_DOMAIN_EVENT_CALLBACK(on_device_added), "device-added"},
        [CB_DEVICE_REMOVED] = {VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                               VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), "device-removed"},
        [CB_JOB_COMPLETED] = {VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                              VIR_DOMAIN_EVENT_CALLBACK(on_job_completed), "job-completed"},
        [CB_MIGRATION_ITERATION] = {VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                                    VIR_DOMAIN_EVENT_CALLBACK(on_migration_iteration),
                                    "migration-iteration"},
        [CB_REBOOT] = {VIR_DOMAIN_EVENT_ID_REBOOT, VIR_DOMAIN_EVENT_CALLBACK(on_reboot), "reboot"},
    };

    for (int i = 0; i < CB_LAST; i++) {
        virt->callback_ids[i] = virConnectDomainEventRegisterAny(virt->conn, NULL, events[i].id,
                                                                 events[i].cb, virt, NULL);
        if (virt->callback_ids[i] < 0) {
            itsmigd_virt_error(error, "cannot register for %s events", events[i].name);
            itsmigd_virt_events_deregister(virt);
            return FALSE;
        }
    }
    return TRUE;
}
