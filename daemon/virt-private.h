/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the four parts of the libvirt side share, and nothing else includes:
 * virt-connect.c (the connection), virt-worker.c (the thread that makes the
 * libvirt calls of the events and the resynchronisation, in order),
 * virt-events.c (the event callbacks, and what the worker does for each) and
 * domain-sync.c (the registry kept in step with libvirt: the
 * resynchronisation and each domain's profile and itsmig record).
 *
 * Threads: the main loop owns the connection and hears libvirt's events; it
 * only queues them.  The worker runs its own main context, where each queued
 * item, the record writes' completions and their retry timer run one after
 * the other; the registry, the event bus and the metrics it uses have their
 * own locks.
 */
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "daemon/domain-metadata.h"
#include "daemon/virt-connect.h"

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
    guint capabilities_source; /* the periodic re-read of libvirt's capabilities */
    GCancellable *cancellable;
    gboolean connecting;
    unsigned int next_backoff;
    gint64 lost_us; /* monotonic, when an established connection was lost; 0: none since */

    /* Set before the first connection; called by the worker. */
    ItsmigdVirtObserver observer;

    /* The worker.  Items queued on a connection that has closed since are
     * dropped: @generation counts the connections closed. */
    GMainContext *work_context;
    GMainLoop *work_loop;
    GThread *worker;
    gint generation; /* atomic; changed by the main loop */

    /* Worker only. */
    virConnectPtr work_conn; /* a reference to the resynchronised connection */
    gint work_generation;    /* the value of @generation when it was */
    /* Records to write: UUID -> RecordWrite. */
    GHashTable *record_writes;
    GSource *record_retry;

    /* Read from HTTP threads too. */
    GMutex lock;
    ItsmigdVirtStatus status;
    /* libvirt's capabilities XML as the last connection gave it, or why it
     * did not (one of the two set once connected; both kept when the
     * connection is lost, as the status is). */
    char *capabilities;
    char *capabilities_error;
    virConnectPtr shared;    /* virt->conn once set up, for other threads' calls */
    guint disconnect_source; /* planned by the close callback, in any thread */
    /* The worker waits, after a resynchronisation, until the main loop has
     * taken its outcome (under the lock). */
    GCond cond;
    gboolean held;
    gboolean stopping;
    gboolean worker_done; /* the worker thread has left its loop */
    guint hand_back_source;
};

typedef struct {
    char name[256 + 1];
    char uuid[VIR_UUID_STRING_BUFLEN];
} DomainIds;

static inline gboolean itsmigd_virt_domain_ids(virDomainPtr dom, DomainIds *ids)
{
    const char *name = virDomainGetName(dom);

    if (!name || virDomainGetUUIDString(dom, ids->uuid) < 0)
        return FALSE;
    g_strlcpy(ids->name, name, sizeof(ids->name));
    return TRUE;
}

/* What itsmigd_domain_sync_refresh() does besides reading: none, or write
 * the itsmig record after this cause. */
#define PROFILE_READ_ONLY ITSMIGD_METADATA_CAUSE_LAST

/* virt-worker.c.  A work function runs on the worker with the item it was
 * queued with. */
typedef void (*ItsmigdVirtWorkFunc)(ItsmigdVirt *virt, gpointer item);

void itsmigd_virt_worker_start(ItsmigdVirt *virt);
/* Stops the worker: what is queued is dropped (each item freed), what runs
 * finishes first.  Without @wait, FALSE when it is still inside a libvirt
 * call after 5 s (it is then left running).  Main loop; idempotent. */
gboolean itsmigd_virt_worker_stop(ItsmigdVirt *virt, gboolean wait);
/* From the main loop: @func(@item) runs after everything queued before,
 * unless the connection closes or the worker stops first; @free_item
 * releases @item in every case. */
void itsmigd_virt_worker_queue(ItsmigdVirt *virt, ItsmigdVirtWorkFunc func, gpointer item,
                               GDestroyNotify free_item);
/* From the worker: @func(@item) runs on the main loop, and the worker waits
 * for it (or for the stop) before its next item. */
void itsmigd_virt_worker_hand_back(ItsmigdVirt *virt, ItsmigdVirtWorkFunc func, gpointer item,
                                   GDestroyNotify free_item);
/* Whether the connection the worker resynchronised last is still the one
 * the main loop holds. */
gboolean itsmigd_virt_worker_current(ItsmigdVirt *virt);

/* virt-events.c: registered on each connection, before the listing. */
gboolean itsmigd_virt_events_register(ItsmigdVirt *virt, GError **error);
void itsmigd_virt_events_deregister(ItsmigdVirt *virt);
void itsmigd_virt_publish_lifecycle(ItsmigdVirt *virt, const DomainIds *ids, const char *type,
                                    const char *detail, int state, int reason,
                                    gboolean reconstructed);

/* domain-sync.c, on the worker. */
void itsmigd_domain_sync_init(ItsmigdVirt *virt);
void itsmigd_domain_sync_clear(ItsmigdVirt *virt);
/* The registry made to hold the domains that exist now on @conn (which the
 * worker keeps from then on); with @reconstruct, what changed since the last
 * connection is published. */
gboolean itsmigd_domain_sync_all(ItsmigdVirt *virt, virConnectPtr conn, gboolean reconstruct,
                                 GError **error);
void itsmigd_domain_sync_refresh(ItsmigdVirt *virt, virDomainPtr dom, const DomainIds *ids,
                                 ItsmigdMetadataCause cause);
/* An event of a domain whose record waits: try now, the job may have ended. */
void itsmigd_domain_sync_retry_record(ItsmigdVirt *virt, const char *uuid);
/* The domain is gone: no record to write for it any more. */
void itsmigd_domain_sync_forget(ItsmigdVirt *virt, const char *uuid);
