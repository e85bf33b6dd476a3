/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt connection: opened in a thread, watched by a close callback and
 * keepalive, reopened with a doubling back-off.  Once open, the event
 * callbacks are registered and the resynchronisation is queued on the worker
 * behind nothing (virt-worker.c); the connection counts as connected when
 * the worker hands its outcome back.  Closing a connection drops what the
 * worker still has queued for it.
 */
#include "config.h"

#include <gio/gio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/log.h"
#include "daemon/virt-domain.h"
#include "daemon/virt-private.h"

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

/* How long after losing an established connection attempts stay reconnect-min apart. */
#define RECONNECT_STEADY_US (30 * G_USEC_PER_SEC)

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

/* ---- connection ------------------------------------------------------------- */

static void on_close(virConnectPtr conn, int reason, void *opaque);

static void close_connection(ItsmigdVirt *virt)
{
    if (!virt->conn)
        return;
    /* What the worker still has queued for this connection is dropped. */
    g_atomic_int_inc(&virt->generation);
    g_mutex_lock(&virt->lock);
    virt->shared = NULL;
    g_mutex_unlock(&virt->lock);
    itsmigd_virt_events_deregister(virt);
    /* Registering took a reference on the connection; only this drops it. */
    virConnectUnregisterCloseCallback(virt->conn, on_close);
    virConnectClose(virt->conn);
    virt->conn = NULL;
}

static gboolean on_disconnected(gpointer data)
{
    ItsmigdVirt *virt = data;

    g_mutex_lock(&virt->lock);
    virt->disconnect_source = 0;
    g_mutex_unlock(&virt->lock);
    if (!virt->conn)
        return G_SOURCE_REMOVE;
    close_connection(virt);
    virt->lost_us = g_get_monotonic_time();
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
    static const char *const reasons[] = {"an error", "end of file", "keepalive timeout",
                                          "client request"};
    g_autofree char *why = g_strdup_printf(
        "connection to %s closed after %s", virt->uri,
        reason >= 0 && reason < (int)G_N_ELEMENTS(reasons) ? reasons[reason] : "an unknown event");

    g_warning("%s", why);
    set_error(virt, why);
    /* Not from inside libvirt's callback, which runs in whichever thread
     * saw the connection fail (the worker's, a job's): the connection is
     * closed from a fresh main-loop iteration. */
    g_mutex_lock(&virt->lock);
    if (!virt->disconnect_source)
        virt->disconnect_source = g_idle_add(on_disconnected, virt);
    g_mutex_unlock(&virt->lock);
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
    /* A libvirtd that restarts is usually back within seconds, and jobs and peers wait on
     * us meanwhile (503): right after a loss every reconnect-min, the back-off after. */
    if (virt->lost_us && g_get_monotonic_time() - virt->lost_us < RECONNECT_STEADY_US)
        delay = virt->options.reconnect_min;
    else
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
        GError *error = NULL;

        itsmigd_virt_error(&error, NULL);
        g_task_return_error(task, error);
        return;
    }
    g_task_return_pointer(task, conn, close_unused);
}

/* What the worker found on a new connection. */
typedef struct {
    virConnectPtr conn; /* a reference */
    gboolean reconnect;
    GError *error; /* the resynchronisation failed */
    char *libvirt_version;
    char *hypervisor;
    char *hypervisor_version;
    char *capabilities;
    char *capabilities_error;
} Synced;

static Synced *synced_new(virConnectPtr conn, gboolean reconnect)
{
    Synced *s = g_new0(Synced, 1);

    virConnectRef(conn);
    s->conn = conn;
    s->reconnect = reconnect;
    return s;
}

static void synced_free(gpointer data)
{
    Synced *s = data;

    virConnectClose(s->conn);
    g_clear_error(&s->error);
    g_free(s->libvirt_version);
    g_free(s->hypervisor);
    g_free(s->hypervisor_version);
    g_free(s->capabilities);
    g_free(s->capabilities_error);
    g_free(s);
}

static void connect_failed(ItsmigdVirt *virt, const GError *error)
{
    g_autofree char *message = NULL;

    itsmigd_metrics_connect_failure(virt->metrics);
    message = g_strdup_printf("cannot connect to %s: %s", virt->uri, error->message);
    g_warning("libvirt: %s", message);
    set_error(virt, message);
    schedule_retry(virt);
    notify_changed(virt);
}

/* On the main loop, the worker waiting: the connection counts from now. */
static void on_synced(ItsmigdVirt *virt, gpointer item)
{
    Synced *s = item;
    g_autofree char *message = NULL;

    /* Closed while the worker was at it: on_disconnected took care of it. */
    if (s->conn != virt->conn)
        return;
    if (s->error) {
        close_connection(virt);
        connect_failed(virt, s->error);
        return;
    }
    g_mutex_lock(&virt->lock);
    itsmigd_virt_status_clear(&virt->status);
    virt->status.uri = g_strdup(virt->uri);
    virt->status.libvirt_version = g_steal_pointer(&s->libvirt_version);
    virt->status.hypervisor = g_steal_pointer(&s->hypervisor);
    virt->status.hypervisor_version = g_steal_pointer(&s->hypervisor_version);
    g_free(virt->capabilities);
    virt->capabilities = g_steal_pointer(&s->capabilities);
    g_free(virt->capabilities_error);
    virt->capabilities_error = g_steal_pointer(&s->capabilities_error);
    virt->status.connected = TRUE;
    virt->status.ever_connected = TRUE;
    virt->shared = virt->conn;
    virt->status.next_retry_us = 0;
    virt->status.backoff_s = 0;
    if (s->reconnect)
        virt->status.reconnects++;
    g_mutex_unlock(&virt->lock);
    if (s->reconnect)
        itsmigd_metrics_reconnect(virt->metrics);
    virt->next_backoff = 0;
    virt->lost_us = 0;
    message = g_strdup_printf("connected to %s (%u domains)", virt->uri,
                              itsmigd_registry_count(virt->registry));
    g_message("libvirt: %s", message);
    publish_connection(virt, TRUE, message);
    notify_changed(virt);
}

/* The machine types this host's QEMU offers are in there: read at each
 * connection and every CAPABILITIES_REFRESH_S (libvirt probes a QEMU binary
 * again once it changed, as an upgrade does), ahead of the hook's questions,
 * which must not wait on libvirt. */
#define CAPABILITIES_REFRESH_S 300

static void read_capabilities(virConnectPtr conn, char **ret_xml, char **ret_error)
{
    g_autoptr(GError) error = NULL;
    char *xml = virConnectGetCapabilities(conn);

    if (xml) {
        *ret_xml = g_strdup(xml);
        free(xml);
        return;
    }
    itsmigd_virt_error(&error, "cannot read libvirt's capabilities");
    *ret_error = g_strdup(error->message);
}

typedef struct {
    char *xml;
    char *error;
} Capabilities;

static void capabilities_free(gpointer data)
{
    Capabilities *c = data;

    g_free(c->xml);
    g_free(c->error);
    g_free(c);
}

/* On the main loop: a re-read's outcome; the host is rebuilt only when it changed. */
static void on_capabilities(ItsmigdVirt *virt, gpointer item)
{
    Capabilities *c = item;
    gboolean changed;

    g_mutex_lock(&virt->lock);
    changed = g_strcmp0(virt->capabilities, c->xml) != 0 ||
              g_strcmp0(virt->capabilities_error, c->error) != 0;
    if (changed) {
        g_free(virt->capabilities);
        virt->capabilities = g_steal_pointer(&c->xml);
        g_free(virt->capabilities_error);
        virt->capabilities_error = g_steal_pointer(&c->error);
    }
    g_mutex_unlock(&virt->lock);
    if (changed) {
        g_message("libvirt: its capabilities changed; the machine types are read again");
        notify_changed(virt);
    }
}

/* On the worker. */
static void refresh_capabilities(ItsmigdVirt *virt, gpointer item)
{
    Capabilities *c = g_new0(Capabilities, 1);

    (void)item;
    if (!itsmigd_virt_worker_current(virt)) {
        capabilities_free(c);
        return;
    }
    read_capabilities(virt->work_conn, &c->xml, &c->error);
    itsmigd_virt_worker_hand_back(virt, on_capabilities, c, capabilities_free);
}

static gboolean on_capabilities_timer(gpointer data)
{
    ItsmigdVirt *virt = data;

    if (itsmigd_virt_is_connected(virt))
        itsmigd_virt_worker_queue(virt, refresh_capabilities, NULL, NULL);
    return G_SOURCE_CONTINUE;
}

/* On the worker, before any event of the new connection. */
static void sync_connection(ItsmigdVirt *virt, gpointer item)
{
    const Synced *queued = item;
    Synced *s = synced_new(queued->conn, queued->reconnect);
    unsigned long v;

    if (itsmigd_domain_sync_all(virt, s->conn, s->reconnect, &s->error)) {
        if (virConnectGetLibVersion(s->conn, &v) == 0)
            s->libvirt_version = version_string(v);
        s->hypervisor = g_strdup(virConnectGetType(s->conn));
        if (virConnectGetVersion(s->conn, &v) == 0 && v > 0)
            s->hypervisor_version = version_string(v);
        read_capabilities(s->conn, &s->capabilities, &s->capabilities_error);
    }
    /* The queued item stays the queue's to free; the main loop gets @s. */
    itsmigd_virt_worker_hand_back(virt, on_synced, s, synced_free);
}

static gboolean setup_connection(ItsmigdVirt *virt, GError **error)
{
    gboolean reconnect;
    Synced *s;

    if (virConnectRegisterCloseCallback(virt->conn, on_close, virt, NULL) < 0) {
        itsmigd_virt_error(error, "cannot watch the connection");
        return FALSE;
    }
    /* Without keepalive a dead peer on an idle connection goes unnoticed,
     * and with it every event meanwhile.  Local drivers answer 1: no need. */
    if (virt->options.keepalive_interval > 0 &&
        virConnectSetKeepAlive(virt->conn, virt->options.keepalive_interval,
                               virt->options.keepalive_count) < 0) {
        g_autoptr(GError) local = NULL;

        if (itsmigd_virt_error(&local, "libvirt: keepalive not enabled on %s", virt->uri) ==
            VIR_ERR_NO_SUPPORT)
            g_debug("libvirt: %s is a local driver; no keepalive needed", virt->uri);
        else
            g_warning("%s", local->message);
    }

    /* Events first, then the listing: a change in between is then both in
     * the listing and queued as an event, never in neither. */
    if (!itsmigd_virt_events_register(virt, error))
        return FALSE;

    g_mutex_lock(&virt->lock);
    reconnect = virt->status.ever_connected;
    g_mutex_unlock(&virt->lock);
    s = synced_new(virt->conn, reconnect);
    itsmigd_virt_worker_queue(virt, sync_connection, s, synced_free);
    return TRUE;
}

static void on_opened(GObject *source, GAsyncResult *result, gpointer data)
{
    ItsmigdVirt *virt = data;
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = g_task_propagate_pointer(G_TASK(result), &error);

    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    virt->connecting = FALSE;
    if (conn) {
        virt->conn = conn;
        if (setup_connection(virt, &error))
            return;
        close_connection(virt);
    }
    connect_failed(virt, error);
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
    g_mutex_init(&virt->lock);
    virt->status.uri = g_strdup(uri);
    itsmigd_virt_worker_start(virt);
    return virt;
}

void itsmigd_virt_free(ItsmigdVirt *virt)
{
    if (!virt)
        return;
    g_cancellable_cancel(virt->cancellable);
    itsmigd_virt_worker_stop(virt, TRUE);
    g_clear_handle_id(&virt->retry_source, g_source_remove);
    g_clear_handle_id(&virt->capabilities_source, g_source_remove);
    g_clear_handle_id(&virt->disconnect_source, g_source_remove);
    close_connection(virt);
    g_object_unref(virt->cancellable);
    itsmigd_virt_status_clear(&virt->status);
    g_free(virt->capabilities);
    g_free(virt->capabilities_error);
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
    virt->capabilities_source =
        g_timeout_add_seconds(CAPABILITIES_REFRESH_S, on_capabilities_timer, virt);
    start_connect(virt);
}

gboolean itsmigd_virt_stop(ItsmigdVirt *virt)
{
    if (itsmigd_virt_worker_stop(virt, FALSE))
        return TRUE;
    g_message("libvirt: an event is still being applied, inside a libvirt call; left to the exit");
    return FALSE;
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

char *itsmigd_virt_dup_capabilities(ItsmigdVirt *virt, char **ret_error)
{
    char *xml;

    g_mutex_lock(&virt->lock);
    xml = g_strdup(virt->capabilities);
    *ret_error = g_strdup(virt->capabilities_error);
    g_mutex_unlock(&virt->lock);
    return xml;
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
