/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <curl/curl.h>
#include <glib-unix.h>
#include <systemd/sd-daemon.h>

#include "itsmig/error.h"
#include "daemon/daemon.h"
#include "daemon/http-routes.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"

struct Itsmigd {
    ItsmigDaemon d;
    const ItsmigdConfigOverrides *overrides;
    GMainLoop *loop;
    ItsmigdHttpServer *http;
    gboolean ready_sent;
    gboolean socket_activated;
    gboolean parts_built; /* libcurl and the host set up: to undo on free */
    guint watchdog_source;
    guint status_source;
};

/* The host's capabilities follow the connection: QEMU's and libvirt's
 * versions are those of the daemon at the other end. */
static void update_host(Itsmigd *self)
{
    g_auto(ItsmigdVirtStatus) st = {0};
    g_autofree char *caps_error = NULL;
    g_autofree char *caps = itsmigd_virt_dup_capabilities(self->d.virt, &caps_error);

    itsmigd_virt_get_status(self->d.virt, &st);
    itsmigd_host_update(&self->d.host, self->d.config, st.hypervisor, st.hypervisor_version,
                        st.libvirt_version, caps, caps_error);
}

static void update_status(Itsmigd *self)
{
    g_auto(ItsmigdVirtStatus) st = {0};
    guint n = itsmigd_registry_count(self->d.registry);
    guint64 events = itsmigd_event_bus_published(self->d.bus);

    itsmigd_virt_get_status(self->d.virt, &st);
    if (st.connected) {
        sd_notifyf(0, "%sSTATUS=libvirt connected to %s; %u domains; %" G_GUINT64_FORMAT " events",
                   self->ready_sent ? "" : "READY=1\n", st.uri, n, events);
        if (!self->ready_sent)
            g_message("ready: libvirt connected, API listening");
        self->ready_sent = TRUE;
    } else if (!st.next_retry_us) {
        sd_notifyf(0, "STATUS=libvirt connecting to %s; %u domains known", st.uri, n);
    } else {
        sd_notifyf(0, "STATUS=libvirt disconnected from %s%s%s; retry in %u s; %u domains known",
                   st.uri, st.last_error ? ": " : "", st.last_error ? st.last_error : "",
                   st.backoff_s, n);
    }
}

static void orchestrator_limits_from(const ItsmigdConfig *c, ItsmigdOrchestratorLimits *l)
{
    l->max_jobs = c->max_jobs;
    l->phase_timeout = c->phase_timeout;
    l->total_timeout = c->total_timeout;
    l->keep_finished = c->keep_finished;
    l->qemu_log_dir = c->qemu_log_dir;
    l->qemu_log_mark = c->qemu_log_mark;
    l->hook_record_dir = c->hook_record_dir;
}

static void on_virt_changed(ItsmigdVirt *virt, gpointer data)
{
    Itsmigd *self = data;

    update_host(self);
    update_status(self);
    if (itsmigd_virt_is_connected(virt))
        itsmigd_orchestrator_connected(self->d.orchestrator);
}

static gboolean on_status_timer(gpointer data)
{
    update_status(data);
    /* Give back what a burst of connections left free in the heap. */
    malloc_trim(0);
    return G_SOURCE_CONTINUE;
}

static gboolean on_watchdog(gpointer data)
{
    sd_notify(0, "WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}

static gboolean on_quit(gpointer data)
{
    Itsmigd *self = data;

    g_message("stopping on request");
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
    g_main_loop_quit(self->loop);
    return G_SOURCE_CONTINUE;
}

static void virt_options_from(const ItsmigdConfig *c, ItsmigdVirtOptions *o)
{
    o->keepalive_interval = c->keepalive_interval;
    o->keepalive_count = c->keepalive_count;
    o->reconnect_min = c->reconnect_min;
    o->reconnect_max = c->reconnect_max;
}

/* What a reload cannot change, named so the operator knows to restart. */
static gboolean on_reload(gpointer data)
{
    Itsmigd *self = data;
    ItsmigdConfig *old = self->d.config;
    g_autoptr(ItsmigdConfig) fresh = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) restart = NULL;
    ItsmigdVirtOptions vo;
    ItsmigdOrchestratorLimits ol;

    sd_notify(0, "RELOADING=1");
    fresh = itsmigd_config_load(self->overrides, &error);
    if (!fresh) {
        g_warning("reload: keeping the running configuration: %s", error->message);
    } else {
        /* The TCP listener's tokens follow the peers only while it keeps
         * listening where it started. */
        gboolean same_listener = old->listen && g_strcmp0(old->listen, fresh->listen) == 0;

        restart = itsmigd_config_reload(old, fresh);
        for (guint i = 0; i < restart->len; i++)
            g_warning("reload: %s changed; it takes effect only after a restart",
                      (const char *)restart->pdata[i]);
        /* Each part takes the values it uses; the schema said which reload. */
        itsmigd_log_set_level(old->log_level);
        itsmigd_registry_set_history_size(self->d.registry, old->history_size);
        virt_options_from(old, &vo);
        itsmigd_virt_set_options(self->d.virt, &vo);
        if (same_listener)
            itsmigd_http_server_set_peers(self->http, old->peers);
        itsmigd_peers_configure(self->d.peers, old);
        itsmigd_metrics_set_domain_series_max(self->d.metrics, old->metrics_max_domain_series);
        orchestrator_limits_from(old, &ol);
        itsmigd_orchestrator_set_limits(self->d.orchestrator, &ol);
        update_host(self);
        g_message("reloaded %s", fresh->path ? fresh->path : "the defaults");
    }
    sd_notify(0, "READY=1");
    update_status(self);
    return G_SOURCE_CONTINUE;
}

static gboolean start_http(Itsmigd *self, GError **error)
{
    ItsmigdConfig *c = self->d.config;
    ItsmigdHttpLimits limits = {
        .max_body = c->max_body,
        .max_domain_xml = c->max_domain_xml,
        .max_url = c->max_url,
        .max_connections = c->max_connections,
        .max_connections_per_user = c->max_connections_per_user,
        .peer_max_connections = c->peer_max_connections,
        .max_connections_per_address = c->max_connections_per_address,
        .connection_timeout = c->connection_timeout,
        .request_timeout = c->request_timeout,
        .max_event_streams = c->max_event_streams,
    };
    int n = sd_listen_fds(1);
    int fd = -1;

    if (n < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "sd_listen_fds: %s",
                    g_strerror(-n));
        return FALSE;
    }
    if (n > 1) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                    "systemd passed %d sockets; itsmigd.socket should pass exactly one", n);
        return FALSE;
    }
    if (n == 1) {
        fd = SD_LISTEN_FDS_START;
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
            g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                                "the socket systemd passed is not a listening unix stream socket");
            return FALSE;
        }
        self->socket_activated = TRUE;
    }
    ItsmigdHttpParts parts = {
        .virt = self->d.virt,
        .metrics = self->d.metrics,
        .context = &self->d,
    };

    self->http = itsmigd_http_server_new(&parts, &limits, itsmigd_routes, itsmigd_n_routes);
    if (!itsmigd_http_server_listen_unix(self->http, fd, c->socket, c->socket_mode, c->socket_group,
                                         error))
        return FALSE;
    if (self->socket_activated)
        g_message("API on the unix socket passed by systemd (socket activation)");
    else
        g_message("API on unix socket %s", c->socket);
    if (c->listen) {
        if (!itsmigd_http_server_listen_tcp(self->http, c->listen, c->tls_cert, c->tls_key,
                                            c->peers, error))
            return FALSE;
        g_message("API on https://%s for peers (each with its own bearer token)", c->listen);
    }
    if (c->metrics_listen) {
        if (!itsmigd_http_server_listen_metrics(self->http, c->metrics_listen,
                                                c->metrics_max_connections, error))
            return FALSE;
        g_message("metrics on http://%s/metrics (plain HTTP, no credential)", c->metrics_listen);
    }
    return TRUE;
}

static gboolean ensure_state_dir(const char *dir, GError **error)
{
    if (g_mkdir_with_parents(dir, 0700) < 0 || access(dir, W_OK) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                    "state directory %s is not usable: %s", dir, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

Itsmigd *itsmigd_daemon_new(const ItsmigdConfigOverrides *overrides, ItsmigdConfig *config)
{
    Itsmigd *self = g_new0(Itsmigd, 1);

    self->overrides = overrides;
    self->d.config = config;
    return self;
}

static gboolean build_parts(Itsmigd *self, GError **error)
{
    ItsmigdConfig *c = self->d.config;
    ItsmigdVirtOptions vo;
    ItsmigdOrchestratorLimits ol;

    if (!ensure_state_dir(c->state_dir, error))
        return FALSE;
    self->d.started_us = g_get_monotonic_time();
    /* Before any thread: libcurl's global state is not thread-safe to set up. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    itsmigd_host_init(&self->d.host);
    self->parts_built = TRUE;
    self->d.peers = itsmigd_peers_new();
    itsmigd_peers_configure(self->d.peers, c);
    self->d.registry = itsmigd_registry_new(c->history_size);
    /* Microseconds since the epoch: later than any id of an earlier run. */
    self->d.bus = itsmigd_event_bus_new_from(c->event_buffer, (guint64)g_get_real_time());
    self->d.metrics = itsmigd_metrics_new();
    itsmigd_metrics_set_domain_series_max(self->d.metrics, c->metrics_max_domain_series);
    virt_options_from(c, &vo);
    self->d.virt = itsmigd_virt_new(c->uri, &vo, self->d.registry, self->d.bus, self->d.metrics,
                                    &self->d.host);
    update_host(self);
    self->d.orchestrator = itsmigd_orchestrator_new(&self->d, c->state_dir, error);
    if (!self->d.orchestrator)
        return FALSE;
    orchestrator_limits_from(c, &ol);
    itsmigd_orchestrator_set_limits(self->d.orchestrator, &ol);
    return TRUE;
}

gboolean itsmigd_daemon_start(Itsmigd *self, GError **error)
{
    uint64_t usec = 0;

    if (!build_parts(self, error))
        return FALSE;
    self->loop = g_main_loop_new(NULL, FALSE);
    if (!start_http(self, error))
        return FALSE;
    g_unix_signal_add(SIGTERM, on_quit, self);
    g_unix_signal_add(SIGINT, on_quit, self);
    g_unix_signal_add(SIGHUP, on_reload, self);
    /* From the start, not only once ready: a slow libvirt must not look
     * like a hung daemon. */
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        self->watchdog_source = g_timeout_add(MAX(usec / 2000, 1), on_watchdog, self);
    self->status_source = g_timeout_add_seconds(10, on_status_timer, self);
    itsmigd_virt_set_changed_func(self->d.virt, on_virt_changed, self);
    g_message("itsmigd %s starting; libvirt %s", PACKAGE_VERSION, self->d.config->uri);
    update_status(self);
    itsmigd_virt_start(self->d.virt);
    return TRUE;
}

void itsmigd_daemon_run(Itsmigd *self)
{
    g_main_loop_run(self->loop);
}

gboolean itsmigd_daemon_stop(Itsmigd *self)
{
    g_clear_handle_id(&self->watchdog_source, g_source_remove);
    g_clear_handle_id(&self->status_source, g_source_remove);
    if (self->d.bus)
        itsmigd_event_bus_close(self->d.bus);
    g_clear_pointer(&self->http, itsmigd_http_server_free);
    if (self->d.orchestrator && !itsmigd_orchestrator_stop(self->d.orchestrator))
        return FALSE;
    /* After the jobs, which may wait for an event; before the orchestrator
     * is freed, since its worker calls it with libvirt's events. */
    return !self->d.virt || itsmigd_virt_stop(self->d.virt);
}

void itsmigd_daemon_free(Itsmigd *self)
{
    if (!self)
        return;
    g_clear_pointer(&self->d.orchestrator, itsmigd_orchestrator_free);
    g_clear_pointer(&self->d.virt, itsmigd_virt_free);
    g_clear_pointer(&self->d.registry, itsmigd_registry_free);
    g_clear_pointer(&self->d.bus, itsmigd_event_bus_free);
    g_clear_pointer(&self->d.metrics, itsmigd_metrics_free);
    g_clear_pointer(&self->loop, g_main_loop_unref);
    g_clear_pointer(&self->d.peers, itsmigd_peers_free);
    if (self->parts_built) {
        itsmigd_host_clear(&self->d.host);
        curl_global_cleanup();
    }
    itsmigd_config_free(self->d.config);
    g_free(self);
}
