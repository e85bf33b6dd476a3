/* SPDX-License-Identifier: GPL-2.0-or-later */
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
    static const char *const reasons[] = {"an error", "end of file", "keepalive timeout",
                                          "client request"};
    g_autofree char *why = g_strdup_printf(
        "connection to %s closed after %s", virt->uri,
        reason >= 0 && reason < (int)G_N_ELEMENTS(reasons) ? reasons[reason] : "an unknown event");

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
        GError *error = NULL;

        itsmigd_virt_error(&error, NULL);
        g_task_return_error(task, error);
        return;
    }
    g_task_return_pointer(task, conn, close_unused);
}

static gboolean setup_connection(ItsmigdVirt *virt, GError **error)
{
    g_autofree char *libvirt_version = NULL;
    g_autofree char *hypervisor_version = NULL;
    unsigned long v;
    const char *type;
    gboolean reconnect;

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
    if (!itsmigd_domain_sync_all(virt, reconnect, error))
        return FALSE;

    /* Asked before the lock: HTTP threads wait on it, and libvirt may be slow. */
    if (virConnectGetLibVersion(virt->conn, &v) == 0)
        libvirt_version = version_string(v);
    type = virConnectGetType(virt->conn);
    if (virConnectGetVersion(virt->conn, &v) == 0 && v > 0)
        hypervisor_version = version_string(v);
    g_mutex_lock(&virt->lock);
    itsmigd_virt_status_clear(&virt->status);
    virt->status.uri = g_strdup(virt->uri);
    virt->status.libvirt_version = g_steal_pointer(&libvirt_version);
    virt->status.hypervisor = g_strdup(type);
    virt->status.hypervisor_version = g_steal_pointer(&hypervisor_version);
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
    itsmigd_domain_sync_init(virt);
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
    close_connection(virt);
    itsmigd_domain_sync_clear(virt);
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
