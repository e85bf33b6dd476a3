/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "daemon/domain-registry.h"
#include "daemon/event-bus.h"
#include "daemon/local-host.h"
#include "daemon/metrics.h"

/*
 * The libvirt connection: opened off the main loop, watched by a close
 * callback and keepalive, reopened with a doubling back-off when lost.  Each
 * (re)connection registers the domain event callbacks and resynchronises the
 * registry with the domains that exist then; after a reconnection, what
 * changed meanwhile is published as events flagged "reconstructed".  The
 * events and the resynchronisation are applied, in order, by a worker thread
 * that makes their libvirt calls: the main loop never waits for libvirt.
 */
typedef struct ItsmigdVirt ItsmigdVirt;

typedef struct {
    int keepalive_interval; /* seconds; 0 disables keepalive */
    unsigned int keepalive_count;
    unsigned int reconnect_min; /* seconds */
    unsigned int reconnect_max;
} ItsmigdVirtOptions;

/* A copy of the connection's state, safe to take from any thread. */
typedef struct {
    gboolean connected;
    gboolean ever_connected;
    char *uri;
    guint64 reconnects;
    gint64 next_retry_us; /* monotonic time of the next attempt, 0 when none is planned */
    unsigned int backoff_s;
    char *last_error;      /* why the last attempt or the connection failed */
    char *libvirt_version; /* of the daemon at the other end, "9.0.0" */
    char *hypervisor;      /* "QEMU", "Test" */
    char *hypervisor_version;
} ItsmigdVirtStatus;

void itsmigd_virt_status_clear(ItsmigdVirtStatus *status);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ItsmigdVirtStatus, itsmigd_virt_status_clear)

typedef void (*ItsmigdVirtChangedFunc)(ItsmigdVirt *virt, gpointer user_data);

ItsmigdVirt *itsmigd_virt_new(const char *uri, const ItsmigdVirtOptions *options,
                              ItsmigdRegistry *registry, ItsmigdEventBus *bus,
                              ItsmigdMetrics *metrics, ItsmigdHost *host);
void itsmigd_virt_free(ItsmigdVirt *virt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdVirt, itsmigd_virt_free)

/* Called on the main loop whenever the connection comes or goes. */
void itsmigd_virt_set_changed_func(ItsmigdVirt *virt, ItsmigdVirtChangedFunc func,
                                   gpointer user_data);
/* Keepalive applies from the next connection, back-off from the next retry. */
void itsmigd_virt_set_options(ItsmigdVirt *virt, const ItsmigdVirtOptions *options);
/* Starts the first connection attempt. */
void itsmigd_virt_start(ItsmigdVirt *virt);
/* Stops applying libvirt's events (what is queued is dropped): before the
 * parts they reach, the observer's, are freed.  FALSE when the one being
 * applied is still inside a libvirt call after 5 s: the caller must then exit
 * without freeing @virt or what it reaches. */
gboolean itsmigd_virt_stop(ItsmigdVirt *virt);
gboolean itsmigd_virt_is_connected(ItsmigdVirt *virt);
void itsmigd_virt_get_status(ItsmigdVirt *virt, ItsmigdVirtStatus *ret_status);
/* libvirt's capabilities XML from the last connection, or NULL with why in
 * *@ret_error (NULL too before the first connection). */
char *itsmigd_virt_dup_capabilities(ItsmigdVirt *virt, char **ret_error);

/* What the orchestrator hears of libvirt's events, from the worker thread,
 * in their order. */
typedef struct {
    void (*device_removed)(gpointer data, const char *uuid, const char *alias);
    /* The completed job's statistics, as libvirt gives them. */
    void (*job_completed)(gpointer data, const char *uuid, virTypedParameterPtr params,
                          int nparams);
    gpointer data;
} ItsmigdVirtObserver;

void itsmigd_virt_set_observer(ItsmigdVirt *virt, const ItsmigdVirtObserver *observer);
/* A reference to the connection, for blocking calls made off the main loop
 * (release it with virConnectClose); NULL while not connected.  libvirt's
 * connections are thread-safe, and a reference outlives a reconnection: its
 * calls then fail, which callers report. */
virConnectPtr itsmigd_virt_ref_connection(ItsmigdVirt *virt);
