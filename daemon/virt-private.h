/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the three parts of the libvirt side share, and nothing else includes:
 * virt-connect.c (the connection), virt-events.c (the event callbacks) and
 * domain-sync.c (the registry kept in step with libvirt: the resynchronisation
 * and each domain's profile and itsmig record).
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

/* virt-events.c: registered on each connection, before the listing. */
gboolean itsmigd_virt_events_register(ItsmigdVirt *virt, GError **error);
void itsmigd_virt_events_deregister(ItsmigdVirt *virt);
void itsmigd_virt_publish_lifecycle(ItsmigdVirt *virt, const DomainIds *ids, const char *type,
                                    const char *detail, int state, int reason,
                                    gboolean reconstructed);

/* domain-sync.c, on the main loop. */
void itsmigd_domain_sync_init(ItsmigdVirt *virt);
void itsmigd_domain_sync_clear(ItsmigdVirt *virt);
/* The registry made to hold the domains that exist now; with @reconstruct,
 * what changed since the last connection is published. */
gboolean itsmigd_domain_sync_all(ItsmigdVirt *virt, gboolean reconstruct, GError **error);
void itsmigd_domain_sync_refresh(ItsmigdVirt *virt, virDomainPtr dom, const DomainIds *ids,
                                 ItsmigdMetadataCause cause);
/* An event of a domain whose record waits: try now, the job may have ended. */
void itsmigd_domain_sync_retry_record(ItsmigdVirt *virt, const char *uuid);
/* The domain is gone: no record to write for it any more. */
void itsmigd_domain_sync_forget(ItsmigdVirt *virt, const char *uuid);
