/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <curl/curl.h>
#include <glib-unix.h>
#include <libvirt-glib/libvirt-glib.h>
#include <systemd/sd-daemon.h>

#include "itsmig/error.h"
#include "itsmig/kvm-its-json.h"
#include "daemon/http-routes.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"

typedef struct {
    ItsmigDaemon d;
    ItsmigdConfigOverrides overrides;
    GMainLoop *loop;
    ItsmigdHttpServer *http;
    gboolean ready_sent;
    gboolean socket_activated;
    guint watchdog_source;
    guint status_source;
} Itsmigd;

/* The host's capabilities follow the connection: QEMU's and libvirt's
 * versions are those of the daemon at the other end. */
static void update_host(Itsmigd *self)
{
    g_auto(ItsmigdVirtStatus) st = { 0 };

    itsmigd_virt_get_status(self->d.virt, &st);
    itsmigd_host_update(&self->d.host, self->d.config, st.hypervisor, st.hypervisor_version,
                        st.libvirt_version);
}

static void update_status(Itsmigd *self)
{
    g_auto(ItsmigdVirtStatus) st = { 0 };
    guint n = itsmigd_registry_count(self->d.registry);
    guint64 events = itsmigd_event_bus_published(self->d.bus);

    itsmigd_virt_get_status(self->d.virt, &st);
    if (st.connected) {
        sd_notifyf(0, "%sSTATUS=libvirt connected to %s; %u domains; %" G_GUINT64_FORMAT
                      " events",
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
static void warn_if_changed(const char *key, const char *old, const char *now)
{
    if (g_strcmp0(old, now) != 0)
        g_warning("reload: [%s] changed; it takes effect only after a restart", key);
}

static gboolean on_reload(gpointer data)
{
    Itsmigd *self = data;
    ItsmigdConfig *old = self->d.config;
    g_autoptr(ItsmigdConfig) fresh = NULL;
    g_autoptr(GError) error = NULL;
    ItsmigdVirtOptions vo;

    sd_notify(0, "RELOADING=1");
    fresh = itsmigd_config_load(&self->overrides, &error);
    if (!fresh) {
        g_warning("reload: keeping the running configuration: %s", error->message);
    } else {
        warn_if_changed("libvirt uri", old->uri, fresh->uri);
        warn_if_changed("api socket", old->socket, fresh->socket);
        warn_if_changed("api listen", old->listen, fresh->listen);
        warn_if_changed("api tls-cert", old->tls_cert, fresh->tls_cert);
        warn_if_changed("api tls-key", old->tls_key, fresh->tls_key);
        warn_if_changed("daemon state-dir", old->state_dir, fresh->state_dir);
        warn_if_changed("metrics listen", old->metrics_listen, fresh->metrics_listen);
        if (old->metrics_max_connections != fresh->metrics_max_connections)
            g_warning("reload: [metrics] max-connections changed; it takes effect only after a "
                      "restart");
        if (old->max_body != fresh->max_body || old->max_url != fresh->max_url ||
            old->max_domain_xml != fresh->max_domain_xml ||
            old->max_connections != fresh->max_connections ||
            old->max_connections_per_user != fresh->max_connections_per_user ||
            old->peer_max_connections != fresh->peer_max_connections ||
            old->max_connections_per_address != fresh->max_connections_per_address ||
            old->connection_timeout != fresh->connection_timeout ||
            old->request_timeout != fresh->request_timeout ||
            old->event_buffer != fresh->event_buffer ||
            old->max_event_streams != fresh->max_event_streams || old->socket_mode != fresh->socket_mode ||
            g_strcmp0(old->socket_group, fresh->socket_group))
            g_warning("reload: [api] limits or socket permissions changed; they take effect "
                      "only after a restart");

        old->log_level = fresh->log_level;
        itsmigd_log_set_level(fresh->log_level);
        old->history_size = fresh->history_size;
        itsmigd_registry_set_history_size(self->d.registry, fresh->history_size);
        old->keepalive_interval = fresh->keepalive_interval;
        old->keepalive_count = fresh->keepalive_count;
        old->reconnect_min = fresh->reconnect_min;
        old->reconnect_max = fresh->reconnect_max;
        virt_options_from(old, &vo);
        itsmigd_virt_set_options(self->d.virt, &vo);
        /* Each peer's token, added, replaced or withdrawn at once. */
        if (old->listen && g_strcmp0(old->listen, fresh->listen) == 0)
            itsmigd_http_server_set_peers(self->http, fresh->peers);
        /* [host], [policy], [hook], [peers] and the peers apply at once. */
        for (int f = 0; f < ITSMIG_CAP_LAST; f++) {
            g_free(old->declared[f]);
            old->declared[f] = g_strdup(fresh->declared[f]);
        }
        g_free(old->hostname);
        old->hostname = g_strdup(fresh->hostname);
        old->policy = fresh->policy;
        g_strfreev(old->migratable_drivers);
        old->migratable_drivers = g_strdupv(fresh->migratable_drivers);
        g_strfreev(old->non_migratable);
        old->non_migratable = g_strdupv(fresh->non_migratable);
        g_free(old->hook_record_dir);
        old->hook_record_dir = g_strdup(fresh->hook_record_dir);
        old->hook_timeout = fresh->hook_timeout;
        old->hook_fail_open = fresh->hook_fail_open;
        old->peer_connect_timeout = fresh->peer_connect_timeout;
        old->peer_timeout = fresh->peer_timeout;
        old->peer_cache_ttl = fresh->peer_cache_ttl;
        g_ptr_array_unref(old->peers);
        old->peers = g_ptr_array_ref(fresh->peers);
        itsmigd_peers_configure(self->d.peers, old);
        old->max_jobs = fresh->max_jobs;
        old->phase_timeout = fresh->phase_timeout;
        old->total_timeout = fresh->total_timeout;
        old->keep_finished = fresh->keep_finished;
        old->metrics_max_domain_series = fresh->metrics_max_domain_series;
        itsmigd_metrics_set_domain_series_max(self->d.metrics, fresh->metrics_max_domain_series);
        g_free(old->qemu_log_dir);
        old->qemu_log_dir = g_strdup(fresh->qemu_log_dir);
        g_free(old->nova_provider_config);
        old->nova_provider_config = g_strdup(fresh->nova_provider_config);
        g_free(old->nfd_features_file);
        old->nfd_features_file = g_strdup(fresh->nfd_features_file);
        old->qemu_log_mark = fresh->qemu_log_mark;
        {
            ItsmigdOrchestratorLimits ol;

            orchestrator_limits_from(old, &ol);
            itsmigd_orchestrator_set_limits(self->d.orchestrator, &ol);
        }
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
    self->http = itsmigd_http_server_new(&self->d, &limits, itsmigd_routes, itsmigd_n_routes);
    if (!itsmigd_http_server_listen_unix(self->http, fd, c->socket, c->socket_mode,
                                         c->socket_group, error))
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

static gboolean check_config = FALSE;
static char *check_config_file = NULL;

static gboolean on_check_config(const char *name, const char *value, gpointer data,
                                GError **error)
{
    check_config = TRUE;
    g_free(check_config_file);
    check_config_file = g_strdup(value);
    return TRUE;
}

/* itsmigd --check-config: the daemon's own parser over the whole file;
 * every problem printed, one a line. */
static int run_check_config(const ItsmigdConfigOverrides *overrides)
{
    g_autoptr(ItsmigdConfig) config = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) problems = NULL;

    config = itsmigd_config_load(overrides, &error);
    if (config) {
        printf("%s: configuration is valid\n", config->path ? config->path : "no file, defaults");
        return 0;
    }
    problems = g_strsplit(error->message, "\n", -1);
    for (char **p = problems; *p; p++)
        fprintf(stderr, "itsmigd: %s\n", *p);
    fprintf(stderr, "itsmigd: %u problem%s\n", g_strv_length(problems),
            g_strv_length(problems) == 1 ? "" : "s");
    return 2;
}

int main(int argc, char **argv)
{
    Itsmigd self = { 0 };
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) error = NULL;
    gboolean version = FALSE;
    char *config = NULL, *connect = NULL, *socket_path = NULL, *state_dir = NULL;
    char *listen = NULL, *log_level = NULL;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
          "Configuration file (default " ITSMIGD_DEFAULT_CONFIG ")", "FILE" },
        { "connect", 0, 0, G_OPTION_ARG_STRING, &connect, "libvirt connection URI", "URI" },
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "API unix socket path", "PATH" },
        { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir, "State directory", "DIR" },
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
          "Also serve HTTPS for peers on ADDR:PORT", "ADDR:PORT" },
        { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
          "error, warning, message, info or debug", "LEVEL" },
        { "check-config", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, on_check_config,
          "Check the configuration (FILE, else --config's or the default) and exit: 0 "
          "valid, 2 every problem listed",
          "[FILE]" },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL },
    };
    ItsmigdVirtOptions vo;
    int status = 0;

    /* A thread per HTTP connection would otherwise give each its own malloc
     * arena, which keeps its memory after the connection is gone. */
    mallopt(M_ARENA_MAX, 2);

    ctx = g_option_context_new(NULL);
    g_option_context_set_summary(ctx, "The itsmig host daemon: follows libvirt domains and "
                                      "serves the itsmig REST API.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "itsmigd: %s\nTry 'itsmigd --help'.\n", error->message);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "itsmigd: unexpected argument '%s'\nTry 'itsmigd --help'.\n", argv[1]);
        return 2;
    }
    if (version) {
        printf("itsmigd %s\n", PACKAGE_VERSION);
        return 0;
    }
    self.overrides = (ItsmigdConfigOverrides){ config, connect, socket_path, state_dir, listen,
                                               log_level };
    if (check_config) {
        int rc;

        if (check_config_file)
            self.overrides.config = check_config_file;
        rc = run_check_config(&self.overrides);
        g_free(check_config_file);
        return rc;
    }
    self.d.config = itsmigd_config_load(&self.overrides, &error);
    if (!self.d.config) {
        g_auto(GStrv) problems = g_strsplit(error->message, "\n", -1);

        for (char **p = problems; *p; p++)
            fprintf(stderr, "itsmigd: %s\n", *p);
        return 2;
    }
    itsmigd_log_init(self.d.config->log_level);
    signal(SIGPIPE, SIG_IGN);

    /* Before any connection is opened, so that libvirt's events and
     * keepalive run on GLib's main loop. */
    gvir_init(NULL, NULL);
    gvir_event_register();

    if (!ensure_state_dir(self.d.config->state_dir, &error)) {
        g_critical("%s", error->message);
        return 1;
    }
    self.d.started_us = g_get_monotonic_time();
    /* Before any thread: libcurl's global state is not thread-safe to set up. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    itsmigd_host_init(&self.d.host);
    self.d.peers = itsmigd_peers_new();
    itsmigd_peers_configure(self.d.peers, self.d.config);
    self.d.registry = itsmigd_registry_new(self.d.config->history_size);
    /* Microseconds since the epoch: later than any id of an earlier run. */
    self.d.bus = itsmigd_event_bus_new_from(self.d.config->event_buffer,
                                            (guint64)g_get_real_time());
    self.d.metrics = itsmigd_metrics_new();
    itsmigd_metrics_set_domain_series_max(self.d.metrics, self.d.config->metrics_max_domain_series);
    virt_options_from(self.d.config, &vo);
    self.d.virt = itsmigd_virt_new(self.d.config->uri, &vo, self.d.registry, self.d.bus,
                                   self.d.metrics, &self.d.host);
    update_host(&self);
    self.d.orchestrator = itsmigd_orchestrator_new(&self.d, self.d.config->state_dir, &error);
    if (!self.d.orchestrator) {
        g_critical("%s", error->message);
        status = 1;
        goto out;
    }
    {
        ItsmigdOrchestratorLimits ol;

        orchestrator_limits_from(self.d.config, &ol);
        itsmigd_orchestrator_set_limits(self.d.orchestrator, &ol);
    }
    self.loop = g_main_loop_new(NULL, FALSE);

    if (!start_http(&self, &error)) {
        g_critical("%s", error->message);
        status = 1;
        goto out;
    }

    g_unix_signal_add(SIGTERM, on_quit, &self);
    g_unix_signal_add(SIGINT, on_quit, &self);
    g_unix_signal_add(SIGHUP, on_reload, &self);
    {
        uint64_t usec = 0;

        /* From the start, not only once ready: a slow libvirt must not look
         * like a hung daemon. */
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
            self.watchdog_source = g_timeout_add(MAX(usec / 2000, 1), on_watchdog, &self);
    }
    self.status_source = g_timeout_add_seconds(10, on_status_timer, &self);
    itsmigd_virt_set_changed_func(self.d.virt, on_virt_changed, &self);
    g_message("itsmigd %s starting; libvirt %s", PACKAGE_VERSION, self.d.config->uri);
    update_status(&self);
    itsmigd_virt_start(self.d.virt);

    g_main_loop_run(self.loop);

out:
    g_clear_handle_id(&self.watchdog_source, g_source_remove);
    g_clear_handle_id(&self.status_source, g_source_remove);
    itsmigd_event_bus_close(self.d.bus);
    g_clear_pointer(&self.http, itsmigd_http_server_free);
    if (self.d.orchestrator && !itsmigd_orchestrator_stop(self.d.orchestrator)) {
        /* A migration step is still inside libvirt and uses the daemon's
         * objects: exit without freeing them, or without running exit
         * handlers under it.  The journal carries its job. */
        g_message("stopped, leaving a migration step to libvirt");
        fflush(NULL);
        _exit(status);
    }
    g_clear_pointer(&self.d.orchestrator, itsmigd_orchestrator_free);
    g_clear_pointer(&self.d.virt, itsmigd_virt_free);
    g_clear_pointer(&self.d.registry, itsmigd_registry_free);
    g_clear_pointer(&self.d.bus, itsmigd_event_bus_free);
    g_clear_pointer(&self.d.metrics, itsmigd_metrics_free);
    g_clear_pointer(&self.loop, g_main_loop_unref);
    g_clear_pointer(&self.d.peers, itsmigd_peers_free);
    itsmigd_host_clear(&self.d.host);
    curl_global_cleanup();
    itsmigd_config_free(self.d.config);
    g_free(config);
    g_free(connect);
    g_free(socket_path);
    g_free(state_dir);
    g_free(listen);
    g_free(log_level);
    if (status == 0)
        g_message("stopped");
#ifdef ITSMIGD_FAULT_INJECTION
    /* The test build lingers here as slow exit handlers would, so that a
     * step still running meets what was freed above. */
    if (g_getenv("ITSMIGD_FAULT"))
        g_usleep(3 * G_USEC_PER_SEC);
#endif
    return status;
}
