/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "itsmig/secret-file.h"
#include "daemon/daemon-config.h"
#include "daemon/config-private.h"

/* Ranges of the numeric keys: what a client-controlled resource may be set to. */
typedef struct {
    const char *group;
    const char *key;
    gsize offset;
    gsize size; /* sizeof the field: unsigned int, int or gsize */
    guint64 min;
    guint64 max;
    ItsmigdReload reload;
} NumericKey;

#define FIELD_SIZE(field) sizeof(((ItsmigdConfig *)0)->field)
#define NUM(g, k, field, lo, hi, reload)                                                           \
    {                                                                                              \
        g, k, G_STRUCT_OFFSET(ItsmigdConfig, field), FIELD_SIZE(field), lo, hi,                    \
            ITSMIGD_RELOAD_##reload                                                                \
    }

static const NumericKey numeric_keys[] = {
    NUM("libvirt", "keepalive-interval", keepalive_interval, 0, 3600, LIVE),
    NUM("libvirt", "keepalive-count", keepalive_count, 1, 100, LIVE),
    NUM("libvirt", "reconnect-min", reconnect_min, 1, 3600, LIVE),
    NUM("libvirt", "reconnect-max", reconnect_max, 1, 3600, LIVE),
    NUM("libvirt", "history-size", history_size, 1, 4096, LIVE),
    NUM("api", "max-body", max_body, 1024, 64 * 1024 * 1024, RESTART),
    NUM("api", "max-domain-xml", max_domain_xml, 65536, 16 * 1024 * 1024, RESTART),
    NUM("api", "max-url", max_url, 64, 65536, RESTART),
    NUM("api", "max-connections", max_connections, 1, 65536, RESTART),
    NUM("api", "max-connections-per-user", max_connections_per_user, 1, 65536, RESTART),
    NUM("api", "peer-max-connections", peer_max_connections, 1, 65536, RESTART),
    NUM("api", "max-connections-per-address", max_connections_per_address, 1, 65536, RESTART),
    NUM("api", "connection-timeout", connection_timeout, 1, 86400, RESTART),
    NUM("api", "request-timeout", request_timeout, 1, 3600, RESTART),
    NUM("api", "event-buffer", event_buffer, 16, 1000000, RESTART),
    NUM("api", "max-event-streams", max_event_streams, 1, 10000, RESTART),
    NUM("hook", "timeout", hook_timeout, 1, 300, LIVE),
    NUM("policy", "early-boot-window", policy.early_boot_window, 0, 86400, LIVE),
    NUM("peers", "connect-timeout", peer_connect_timeout, 1, 60, LIVE),
    NUM("peers", "timeout", peer_timeout, 1, 600, LIVE),
    NUM("peers", "cache-ttl", peer_cache_ttl, 0, 3600, LIVE),
    NUM("migration", "max-jobs", max_jobs, 1, 64, LIVE),
    NUM("migration", "phase-timeout", phase_timeout, 1, 86400, LIVE),
    NUM("migration", "total-timeout", total_timeout, 0, 604800, LIVE),
    NUM("migration", "keep-finished", keep_finished, 1, 10000, LIVE),
    NUM("metrics", "max-connections", metrics_max_connections, 1, 1024, RESTART),
    NUM("metrics", "max-domain-series", metrics_max_domain_series, 0, 1000000, LIVE),
};

typedef struct {
    const char *group;
    const char *key;
    gsize offset;
    ItsmigdReload reload;
} StringKey;

#define STR(g, k, field, reload)                                                                   \
    {                                                                                              \
        g, k, G_STRUCT_OFFSET(ItsmigdConfig, field), ITSMIGD_RELOAD_##reload                       \
    }

static const StringKey string_keys[] = {
    STR("libvirt", "uri", uri, RESTART),
    STR("api", "socket", socket, RESTART),
    STR("api", "socket-group", socket_group, RESTART),
    STR("api", "listen", listen, RESTART),
    STR("api", "tls-cert", tls_cert, RESTART),
    STR("api", "tls-key", tls_key, RESTART),
    STR("daemon", "state-dir", state_dir, RESTART),
    STR("daemon", "hostname", hostname, LIVE),
    STR("hook", "record-dir", hook_record_dir, LIVE),
    STR("migration", "qemu-log-dir", qemu_log_dir, LIVE),
    STR("fleet", "nova-provider-config", nova_provider_config, LIVE),
    STR("fleet", "nfd-features-file", nfd_features_file, LIVE),
    STR("metrics", "listen", metrics_listen, RESTART),
};

/* How a value read by hand is copied on reload. */
typedef enum {
    FIELD_PLAIN,    /* the bytes of the field */
    FIELD_STRING,   /* char * */
    FIELD_STRV,     /* char ** */
    FIELD_DECLARED, /* char *declared[ITSMIG_CAP_LAST] */
    FIELD_PEERS,    /* GPtrArray * of ItsmigdPeerConfig */
} FieldKind;

typedef struct {
    const char *group;
    const char *key; /* NULL: the group's keys are not a fixed set */
    gsize offset;
    gsize size;
    FieldKind kind;
    ItsmigdReload reload;
} OtherKey;

#define OTHER(g, k, field, kind, reload)                                                           \
    {                                                                                              \
        g, k, G_STRUCT_OFFSET(ItsmigdConfig, field), FIELD_SIZE(field), kind,                      \
            ITSMIGD_RELOAD_##reload                                                                \
    }

/* Keys read by hand below, so unknown-key detection knows them, and the
 * values of whole groups, so that reload knows them too. */
static const OtherKey other_keys[] = {
    OTHER("api", "socket-mode", socket_mode, FIELD_PLAIN, RESTART),
    OTHER("daemon", "log-level", log_level, FIELD_PLAIN, LIVE),
    OTHER("hook", "on-unreachable", hook_fail_open, FIELD_PLAIN, LIVE),
    OTHER("hook", "restore-unrecorded", hook_restore_unrecorded_deny, FIELD_PLAIN, LIVE),
    OTHER("hook", "restore-image-unread", hook_restore_image_unread_deny, FIELD_PLAIN, LIVE),
    OTHER("migration", "qemu-log-mark", qemu_log_mark, FIELD_PLAIN, LIVE),
    OTHER("policy", "check-emulated", policy.check_emulated, FIELD_PLAIN, LIVE),
    OTHER("policy", "migratable-drivers", migratable_drivers, FIELD_STRV, LIVE),
    OTHER("policy", "non-migratable-devices", non_migratable, FIELD_STRV, LIVE),
    OTHER("host", "vcpu-registers-file", host_regs_file, FIELD_STRING, LIVE),
    /* The rule codes, check-emulated and early-boot-window: the whole policy. */
    OTHER("policy", NULL, policy, FIELD_PLAIN, LIVE),
    OTHER("host", NULL, declared, FIELD_DECLARED, LIVE),
    /* Each peer's tokens included: added, replaced or withdrawn at once. */
    OTHER("peer NAME", NULL, peers, FIELD_PEERS, LIVE),
};

/* Upstream VFIO variant drivers that implement migration v2. */
static const char *const default_migratable_drivers[] = {
    "mlx5_vfio_pci", "hisi_acc_vfio_pci", "pds_vfio_pci", "qat_vfio_pci", NULL,
};

ItsmigdConfig *itsmigd_config_new_default(void)
{
    ItsmigdConfig *c = g_new0(ItsmigdConfig, 1);

    c->uri = g_strdup("qemu:///system");
    c->keepalive_interval = 5;
    c->keepalive_count = 5;
    c->reconnect_min = 1;
    c->reconnect_max = 60;
    c->history_size = 32;
    c->socket = g_strdup(RUNSTATEDIR "/itsmigd/api.sock");
    c->socket_mode = 0660;
    c->tls_cert = g_strdup(SYSCONFDIR "/itsmig/tls/cert.pem");
    c->tls_key = g_strdup(SYSCONFDIR "/itsmig/tls/key.pem");
    c->max_body = 65536;
    c->max_domain_xml = 4 * 1024 * 1024;
    c->max_url = 2048;
    c->max_connections = 256;
    c->max_connections_per_user = 32;
    c->peer_max_connections = 128;
    c->max_connections_per_address = 8;
    c->connection_timeout = 30;
    c->request_timeout = 10;
    c->event_buffer = 1024;
    c->max_event_streams = 64;
    c->state_dir = g_strdup(LOCALSTATEDIR "/lib/itsmigd");
    c->log_level = G_LOG_LEVEL_INFO;
    c->hook_timeout = 10;
    c->hook_record_dir = g_strdup(RUNSTATEDIR "/itsmig/hook");
    itsmig_compat_policy_init(&c->policy);
    c->migratable_drivers = g_strdupv((char **)default_migratable_drivers);
    c->peer_connect_timeout = 3;
    c->peer_timeout = 10;
    c->peer_cache_ttl = 30;
    c->peers = g_ptr_array_new_with_free_func((GDestroyNotify)itsmigd_peer_config_free);
    c->max_jobs = 2;
    c->metrics_max_connections = 8;
    c->metrics_max_domain_series = 20000;
    c->phase_timeout = 300;
    c->total_timeout = 3600;
    c->keep_finished = 100;
    /* libvirt's path, not ours: Debian's libvirt is built for /var. */
    c->qemu_log_dir = g_strdup("/var/log/libvirt/qemu");
    c->qemu_log_mark = TRUE;
    return c;
}

void itsmigd_config_free(ItsmigdConfig *c)
{
    if (!c)
        return;
    g_free(c->path);
    for (gsize i = 0; i < G_N_ELEMENTS(string_keys); i++)
        g_free(G_STRUCT_MEMBER(char *, c, string_keys[i].offset));
    for (gsize i = 0; i < ITSMIG_CAP_LAST; i++)
        g_free(c->declared[i]);
    g_free(c->host_regs_file);
    g_strfreev(c->migratable_drivers);
    g_strfreev(c->non_migratable);
    if (c->peers)
        g_ptr_array_unref(c->peers);
    g_free(c);
}

static void reload_string(ItsmigdConfig *running, const ItsmigdConfig *fresh, gsize offset)
{
    char **to = &G_STRUCT_MEMBER(char *, running, offset);
    char *value = g_strdup(G_STRUCT_MEMBER(char *, fresh, offset));

    /* Copied before the old value goes: @fresh may be @running. */
    g_free(*to);
    *to = value;
}

static void reload_other(ItsmigdConfig *running, const ItsmigdConfig *fresh, const OtherKey *ok)
{
    gpointer to = G_STRUCT_MEMBER_P(running, ok->offset);
    gconstpointer from = G_STRUCT_MEMBER_P(fresh, ok->offset);

    switch (ok->kind) {
    case FIELD_PLAIN:
        memmove(to, from, ok->size); /* @fresh may be @running */
        break;
    case FIELD_STRING: reload_string(running, fresh, ok->offset); break;
    case FIELD_STRV: {
        char **value = g_strdupv(*(char **const *)from);

        g_strfreev(*(char ***)to);
        *(char ***)to = value;
        break;
    }
    case FIELD_DECLARED:
        for (int f = 0; f < ITSMIG_CAP_LAST; f++)
            reload_string(running, fresh, ok->offset + f * sizeof(char *));
        break;
    case FIELD_PEERS: {
        GPtrArray *value = g_ptr_array_ref(fresh->peers);

        g_ptr_array_unref(running->peers);
        running->peers = value;
        break;
    }
    }
}

static gboolean other_changed(const ItsmigdConfig *a, const ItsmigdConfig *b, const OtherKey *ok)
{
    gconstpointer pa = G_STRUCT_MEMBER_P(a, ok->offset);
    gconstpointer pb = G_STRUCT_MEMBER_P(b, ok->offset);

    /* Only what a restart-only key can be: the table says which. */
    switch (ok->kind) {
    case FIELD_PLAIN: return memcmp(pa, pb, ok->size) != 0;
    case FIELD_STRING: return g_strcmp0(*(char *const *)pa, *(char *const *)pb) != 0;
    default: g_return_val_if_reached(TRUE);
    }
}

GPtrArray *itsmigd_config_reload(ItsmigdConfig *running, const ItsmigdConfig *fresh)
{
    GPtrArray *restart = g_ptr_array_new_with_free_func(g_free);

    for (gsize i = 0; i < G_N_ELEMENTS(numeric_keys); i++) {
        const NumericKey *nk = &numeric_keys[i];
        gpointer to = G_STRUCT_MEMBER_P(running, nk->offset);
        gconstpointer from = G_STRUCT_MEMBER_P(fresh, nk->offset);

        if (nk->reload == ITSMIGD_RELOAD_LIVE)
            memmove(to, from, nk->size);
        else if (memcmp(to, from, nk->size) != 0)
            g_ptr_array_add(restart, g_strdup_printf("[%s] %s", nk->group, nk->key));
    }
    for (gsize i = 0; i < G_N_ELEMENTS(string_keys); i++) {
        const StringKey *sk = &string_keys[i];

        if (sk->reload == ITSMIGD_RELOAD_LIVE)
            reload_string(running, fresh, sk->offset);
        else if (g_strcmp0(G_STRUCT_MEMBER(char *, running, sk->offset),
                           G_STRUCT_MEMBER(char *, fresh, sk->offset)) != 0)
            g_ptr_array_add(restart, g_strdup_printf("[%s] %s", sk->group, sk->key));
    }
    for (gsize i = 0; i < G_N_ELEMENTS(other_keys); i++) {
        const OtherKey *ok = &other_keys[i];

        if (ok->reload == ITSMIGD_RELOAD_LIVE)
            reload_other(running, fresh, ok);
        else if (other_changed(running, fresh, ok))
            g_ptr_array_add(restart, g_strdup_printf("[%s] %s", ok->group, ok->key));
    }
    return restart;
}

gboolean itsmigd_config_key_reloads(const char *group, const char *key, gboolean *ret_reloads)
{
    for (gsize i = 0; i < G_N_ELEMENTS(numeric_keys); i++)
        if (!strcmp(numeric_keys[i].group, group) && !strcmp(numeric_keys[i].key, key)) {
            *ret_reloads = numeric_keys[i].reload == ITSMIGD_RELOAD_LIVE;
            return TRUE;
        }
    for (gsize i = 0; i < G_N_ELEMENTS(string_keys); i++)
        if (!strcmp(string_keys[i].group, group) && !strcmp(string_keys[i].key, key)) {
            *ret_reloads = string_keys[i].reload == ITSMIGD_RELOAD_LIVE;
            return TRUE;
        }
    for (gsize i = 0; i < G_N_ELEMENTS(other_keys); i++)
        if (!strcmp(other_keys[i].group, group) &&
            (!other_keys[i].key || !strcmp(other_keys[i].key, key))) {
            *ret_reloads = other_keys[i].reload == ITSMIGD_RELOAD_LIVE;
            return TRUE;
        }
    return FALSE;
}

static const struct {
    const char *name;
    GLogLevelFlags level;
} log_levels[] = {
    {"error", G_LOG_LEVEL_CRITICAL}, /* G_LOG_LEVEL_ERROR aborts; criticals are errors here */
    {"warning", G_LOG_LEVEL_WARNING}, {"message", G_LOG_LEVEL_MESSAGE},
    {"info", G_LOG_LEVEL_INFO},       {"debug", G_LOG_LEVEL_DEBUG},
};

gboolean itsmigd_config_parse_log_level(const char *text, GLogLevelFlags *ret_level, GError **error)
{
    for (gsize i = 0; i < G_N_ELEMENTS(log_levels); i++) {
        if (g_strcmp0(text, log_levels[i].name) == 0) {
            *ret_level = log_levels[i].level;
            return TRUE;
        }
    }
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                "log level '%s' is not one of error, warning, message, info, debug",
                text ? text : "");
    return FALSE;
}

const char *itsmigd_config_log_level_to_string(GLogLevelFlags level)
{
    for (gsize i = 0; i < G_N_ELEMENTS(log_levels); i++) {
        if (log_levels[i].level == level)
            return log_levels[i].name;
    }
    return "info";
}

gboolean itsmigd_config_parse_listen(const char *listen, char **ret_addr, guint16 *ret_port,
                                     GError **error)
{
    g_autofree char *addr = NULL;
    const char *port_text;
    guint64 port;

    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':') {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "listen address '%s' is not [IPV6]:PORT", listen);
            return FALSE;
        }
        addr = g_strndup(listen + 1, end - listen - 1);
        port_text = end + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "listen address '%s' is not ADDR:PORT (IPv6 addresses go in brackets)",
                        listen);
            return FALSE;
        }
        addr = g_strndup(listen, colon - listen);
        port_text = colon + 1;
    }
    if (!g_hostname_is_ip_address(addr)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "listen address '%s' does not start with a numeric IP address", listen);
        return FALSE;
    }
    if (!g_ascii_string_to_unsigned(port_text, 10, 1, 65535, &port, NULL)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "listen address '%s' has no port between 1 and 65535", listen);
        return FALSE;
    }
    *ret_addr = g_steal_pointer(&addr);
    *ret_port = (guint16)port;
    return TRUE;
}

static gboolean key_known(const char *group, const char *key)
{
    ItsmigCapField field;
    ItsmigRule rule;

    /* [host] takes the capability fields, [policy] also the rule codes. */
    if (!strcmp(group, "host"))
        return (strchr(key, '_') == NULL && itsmig_cap_field_from_string(key, &field)) ||
               !strcmp(key, "vcpu-registers-file");
    if (!strcmp(group, "policy") && itsmig_rule_from_string(key, &rule))
        return TRUE;
    for (gsize i = 0; i < G_N_ELEMENTS(numeric_keys); i++)
        if (!strcmp(numeric_keys[i].group, group) && !strcmp(numeric_keys[i].key, key))
            return TRUE;
    for (gsize i = 0; i < G_N_ELEMENTS(string_keys); i++)
        if (!strcmp(string_keys[i].group, group) && !strcmp(string_keys[i].key, key))
            return TRUE;
    for (gsize i = 0; i < G_N_ELEMENTS(other_keys); i++)
        if (other_keys[i].key && !strcmp(other_keys[i].group, group) &&
            !strcmp(other_keys[i].key, key))
            return TRUE;
    return FALSE;
}

/* Adds a problem to *@error, one line each, so that the whole file is
 * checked and every problem reported at once (itsmigd --check-config). */
void itsmigd_config_add_problem(GError **error, const char *text)
{
    if (error && *error) {
        g_autofree char *old = (*error)->message;

        (*error)->message = g_strconcat(old, "\n", text, NULL);
    } else {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, text);
    }
}

gboolean itsmigd_config_error(GError **error, const char *path, const char *group, const char *key,
                              const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;
    g_autofree char *text = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    text = g_strdup_printf("%s: [%s] %s: %s", path, group, key, what);
    itsmigd_config_add_problem(error, text);
    return FALSE;
}

/* A key's value as GKeyFile unescapes it; NULL after itsmigd_config_error() when it
 * cannot (not UTF-8, a bad escape), rather than a NULL the caller would use. */
char *itsmigd_config_key_string(const ItsmigdConfig *c, GKeyFile *kf, const char *group,
                                const char *key, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *value = g_key_file_get_string(kf, group, key, &local);

    if (!value || local) {
        itsmigd_config_error(error, c->path, group, key, "%s",
                             local ? local->message : "unreadable");
        return NULL;
    }
    return g_steal_pointer(&value);
}

gboolean itsmigd_config_read_group(ItsmigdConfig *c, GKeyFile *kf, const char *group,
                                   ItsmigdConfigKeyRead read, gpointer data, GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

    for (gsize k = 0; keys && keys[k]; k++) {
        g_autofree char *value = itsmigd_config_key_string(c, kf, group, keys[k], error);

        if (!value)
            return FALSE;
        g_strstrip(value);
        read(c, kf, keys[k], &value, data, error);
    }
    return TRUE;
}

gboolean itsmigd_config_read_secret(const char *path, char **ret_contents, gsize *ret_len,
                                    GError **error)
{
    return itsmig_secret_file_read(path, ITSMIG_SECRET_FILE_MAX,
                                   ITSMIG_SECRET_FILE_REGULAR | ITSMIG_SECRET_FILE_PRIVATE,
                                   ret_contents, ret_len, error);
}

/* Every group and key of the file known, or reported; the [peer NAME]
 * groups read on the way. */
static void read_groups(ItsmigdConfig *c, GKeyFile *kf, GError **error)
{
    static const char *const known_groups[] = {
        "libvirt", "api",       "daemon", "hook",    "host", "policy",
        "peers",   "migration", "fleet",  "metrics", NULL,
    };
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    for (gsize g = 0; groups[g]; g++) {
        g_auto(GStrv) keys = NULL;

        if (g_str_has_prefix(groups[g], ITSMIGD_PEER_GROUP_PREFIX)) {
            itsmigd_config_read_peer(c, kf, groups[g], error);
            continue;
        }
        if (!g_strv_contains(known_groups, groups[g])) {
            g_autofree char *text =
                g_strdup_printf("%s: unknown group [%s] (known: libvirt, api, daemon, hook, host, "
                                "policy, peers, migration, fleet, metrics, peer NAME)",
                                c->path, groups[g]);

            itsmigd_config_add_problem(error, text);
            continue;
        }
        keys = g_key_file_get_keys(kf, groups[g], NULL, NULL);
        for (gsize k = 0; keys && keys[k]; k++) {
            if (!strcmp(groups[g], "api") && !strcmp(keys[k], "token-file"))
                itsmigd_config_error(error, c->path, groups[g], keys[k],
                                     "one token for every peer is no longer accepted: give each "
                                     "peer its own in [peer NAME] accept-token-file");
            else if (!key_known(groups[g], keys[k]))
                itsmigd_config_error(error, c->path, groups[g], keys[k], "unknown key");
        }
    }
}

static void read_strings(ItsmigdConfig *c, GKeyFile *kf, GError **error)
{
    for (gsize i = 0; i < G_N_ELEMENTS(string_keys); i++) {
        const StringKey *sk = &string_keys[i];
        char **field = &G_STRUCT_MEMBER(char *, c, sk->offset);
        g_autoptr(GError) local = NULL;
        g_autofree char *value = NULL;

        if (!g_key_file_has_key(kf, sk->group, sk->key, NULL))
            continue;
        /* GKeyFile returns the raw text along with the error for a bad escape. */
        value = g_key_file_get_string(kf, sk->group, sk->key, &local);
        if (!value || local) {
            itsmigd_config_error(error, c->path, sk->group, sk->key, "%s", local->message);
            continue;
        }
        g_strstrip(value);
        g_free(*field);
        *field = value[0] ? g_steal_pointer(&value) : NULL;
    }
}

/* FALSE when a value cannot be read at all. */
static gboolean read_numbers(ItsmigdConfig *c, GKeyFile *kf, GError **error)
{
    for (gsize i = 0; i < G_N_ELEMENTS(numeric_keys); i++) {
        const NumericKey *nk = &numeric_keys[i];
        g_autofree char *value = NULL;
        guint64 n;

        if (!g_key_file_has_key(kf, nk->group, nk->key, NULL))
            continue;
        value = itsmigd_config_key_string(c, kf, nk->group, nk->key, error);
        if (!value)
            return FALSE;
        g_strstrip(value);
        if (!g_ascii_string_to_unsigned(value, 10, nk->min, nk->max, &n, NULL)) {
            itsmigd_config_error(error, c->path, nk->group, nk->key,
                                 "'%s' is not a whole number between %" G_GUINT64_FORMAT
                                 " and %" G_GUINT64_FORMAT,
                                 value, nk->min, nk->max);
            continue;
        }
        if (nk->size == sizeof(gsize) && nk->size != sizeof(unsigned int))
            G_STRUCT_MEMBER(gsize, c, nk->offset) = n;
        else
            G_STRUCT_MEMBER(unsigned int, c, nk->offset) = (unsigned int)n;
    }
    return TRUE;
}

/* The keys of other_keys[] that hold one value each: a parser per key, which
 * says what is wrong in @error. */
typedef gboolean (*ValueParser)(ItsmigdConfig *c, const char *value, GError **error);

static gboolean parse_socket_mode(ItsmigdConfig *c, const char *value, GError **error)
{
    guint64 mode;

    if (!g_ascii_string_to_unsigned(value, 8, 0, 0777, &mode, NULL)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                    "'%s' is not an octal mode between 0 and 0777", value);
        return FALSE;
    }
    c->socket_mode = (unsigned int)mode;
    return TRUE;
}

static gboolean parse_on_unreachable(ItsmigdConfig *c, const char *value, GError **error)
{
    if (strcmp(value, "deny") && strcmp(value, "allow")) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "'%s' is not deny or allow",
                    value);
        return FALSE;
    }
    c->hook_fail_open = !strcmp(value, "allow");
    return TRUE;
}

/* allow (the default) or deny: *ret_deny. */
static gboolean parse_allow_deny(const char *value, gboolean *ret_deny, GError **error)
{
    if (strcmp(value, "deny") && strcmp(value, "allow")) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "'%s' is not allow or deny",
                    value);
        return FALSE;
    }
    *ret_deny = !strcmp(value, "deny");
    return TRUE;
}

static gboolean parse_restore_unrecorded(ItsmigdConfig *c, const char *value, GError **error)
{
    return parse_allow_deny(value, &c->hook_restore_unrecorded_deny, error);
}

static gboolean parse_restore_image_unread(ItsmigdConfig *c, const char *value, GError **error)
{
    return parse_allow_deny(value, &c->hook_restore_image_unread_deny, error);
}

static gboolean parse_qemu_log_mark(ItsmigdConfig *c, const char *value, GError **error)
{
    if (!itsmigd_config_parse_bool(value, &c->qemu_log_mark)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "'%s' is not true or false",
                    value);
        return FALSE;
    }
    return TRUE;
}

static gboolean parse_log_level(ItsmigdConfig *c, const char *value, GError **error)
{
    return itsmigd_config_parse_log_level(value, &c->log_level, error);
}

static const struct {
    const char *group;
    const char *key;
    ValueParser parse;
} single_keys[] = {
    {"api", "socket-mode", parse_socket_mode},
    {"hook", "on-unreachable", parse_on_unreachable},
    {"hook", "restore-unrecorded", parse_restore_unrecorded},
    {"hook", "restore-image-unread", parse_restore_image_unread},
    {"migration", "qemu-log-mark", parse_qemu_log_mark},
    {"daemon", "log-level", parse_log_level},
};

static void read_single_keys(ItsmigdConfig *c, GKeyFile *kf, GError **error)
{
    for (gsize i = 0; i < G_N_ELEMENTS(single_keys); i++) {
        const char *group = single_keys[i].group;
        const char *key = single_keys[i].key;
        g_autofree char *value = NULL;
        g_autoptr(GError) local = NULL;

        if (!g_key_file_has_key(kf, group, key, NULL))
            continue;
        value = itsmigd_config_key_string(c, kf, group, key, error);
        if (!value)
            continue;
        g_strstrip(value);
        if (!single_keys[i].parse(c, value, &local))
            itsmigd_config_error(error, c->path, group, key, "%s", local->message);
    }
}

static gboolean read_file(ItsmigdConfig *c, GKeyFile *kf, GError **error)
{
    read_groups(c, kf, error);
    read_strings(c, kf, error);
    if (!read_numbers(c, kf, error))
        return FALSE;
    read_single_keys(c, kf, error);
    itsmigd_config_read_host(c, kf, error);
    itsmigd_config_read_policy(c, kf, error);
    return !*error;
}

static void replace_string(char **field, const char *value)
{
    g_free(*field);
    *field = g_strdup(value);
}

/* The command line over what the file said. */
static void apply_overrides(ItsmigdConfig *c, const ItsmigdConfigOverrides *o, GError **problems)
{
    g_autoptr(GError) local = NULL;

    if (o->connect)
        replace_string(&c->uri, o->connect);
    if (o->socket)
        replace_string(&c->socket, o->socket);
    if (o->state_dir)
        replace_string(&c->state_dir, o->state_dir);
    if (o->listen)
        replace_string(&c->listen, o->listen[0] ? o->listen : NULL);
    if (o->log_level && !itsmigd_config_parse_log_level(o->log_level, &c->log_level, &local))
        itsmigd_config_add_problem(problems, local->message);
}

/* Each path key that must be absolute when set (@required: and be set). */
static const struct {
    const char *group;
    const char *key;
    gsize offset;
    gboolean required;
} path_keys[] = {
    {"daemon", "state-dir", G_STRUCT_OFFSET(ItsmigdConfig, state_dir), TRUE},
    {"hook", "record-dir", G_STRUCT_OFFSET(ItsmigdConfig, hook_record_dir), TRUE},
    {"migration", "qemu-log-dir", G_STRUCT_OFFSET(ItsmigdConfig, qemu_log_dir), TRUE},
    {"fleet", "nfd-features-file", G_STRUCT_OFFSET(ItsmigdConfig, nfd_features_file), FALSE},
};

/* The values that the file's reading alone cannot judge: those the command
 * line may set, and those that need another key. */
static void check_values(const ItsmigdConfig *c, const char *where, GError **problems)
{
    if (!c->uri)
        itsmigd_config_error(problems, where, "libvirt", "uri", "must not be empty");
    if (c->reconnect_max < c->reconnect_min)
        itsmigd_config_error(problems, where, "libvirt", "reconnect-max",
                             "%u is below reconnect-min (%u)", c->reconnect_max, c->reconnect_min);
    if (!c->socket || !g_path_is_absolute(c->socket))
        itsmigd_config_error(problems, where, "api", "socket", "must be an absolute path");
    else if (strlen(c->socket) >= 108)
        itsmigd_config_error(problems, where, "api", "socket",
                             "'%s' is longer than a unix socket path may be", c->socket);
    if (c->hostname) {
        gboolean fine = strlen(c->hostname) <= 255;

        for (const char *p = c->hostname; *p && fine; p++)
            fine = g_ascii_isalnum(*p) || *p == '-' || *p == '.' || *p == '_';
        if (!fine)
            itsmigd_config_error(problems, where, "daemon", "hostname",
                                 "'%s' is not a host name (letters, digits, '-', '.', '_'; at "
                                 "most 255)",
                                 c->hostname);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(path_keys); i++) {
        const char *path = G_STRUCT_MEMBER(const char *, c, path_keys[i].offset);

        if (path ? !g_path_is_absolute(path) : path_keys[i].required)
            itsmigd_config_error(problems, where, path_keys[i].group, path_keys[i].key,
                                 "must be an absolute path");
    }
    if (c->nova_provider_config && (!g_path_is_absolute(c->nova_provider_config) ||
                                    !g_str_has_suffix(c->nova_provider_config, ".yaml")))
        itsmigd_config_error(problems, where, "fleet", "nova-provider-config",
                             "'%s' is not an absolute path ending in .yaml (nova-compute reads "
                             "only *.yaml files)",
                             c->nova_provider_config);
}

/* [@group] listen, when set, is ADDR:PORT; FALSE after saying why not. */
static gboolean check_listen(const char *listen, const char *where, const char *group,
                             GError **problems)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *addr = NULL;
    guint16 port;

    if (!listen || itsmigd_config_parse_listen(listen, &addr, &port, &local))
        return TRUE;
    return itsmigd_config_error(problems, where, group, "listen", "%s", local->message);
}

static void check_listeners(const ItsmigdConfig *c, const char *where, GError **problems)
{
    if (check_listen(c->listen, where, "api", problems) && c->listen &&
        (!c->tls_cert || !c->tls_key))
        itsmigd_config_error(problems, where, "api", "listen",
                             "TCP listening needs tls-cert and tls-key");
    if (check_listen(c->metrics_listen, where, "metrics", problems) && c->metrics_listen &&
        c->listen && !strcmp(c->listen, c->metrics_listen))
        itsmigd_config_error(problems, where, "metrics", "listen",
                             "is the same address as [api] listen");
}

/* The command line over what the file said (if anything), then the checks
 * that need both; @file_problems (taken) are the file's, listed first. */
static ItsmigdConfig *config_finish(ItsmigdConfig *config, const ItsmigdConfigOverrides *o,
                                    GError *file_problems, GError **error)
{
    g_autoptr(ItsmigdConfig) c = config;
    g_autoptr(GError) problems = file_problems; /* every problem, one line each */
    const char *where;

    if (o)
        apply_overrides(c, o, &problems);
    where = c->path ? c->path : "command line";
    check_values(c, where, &problems);
    check_listeners(c, where, &problems);
    if (problems) {
        g_propagate_error(error, g_steal_pointer(&problems));
        return NULL;
    }
    return g_steal_pointer(&c);
}

ItsmigdConfig *itsmigd_config_load(const ItsmigdConfigOverrides *o, GError **error)
{
    g_autoptr(ItsmigdConfig) c = itsmigd_config_new_default();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    GError *problems = NULL;
    const char *path = o && o->config ? o->config : ITSMIGD_DEFAULT_CONFIG;

    if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
        c->path = g_strdup(path);
        read_file(c, kf, &problems);
    } else if (!(o && o->config) && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        /* The default file is optional: every key has a default. */
        g_clear_error(&local);
    } else {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "%s: %s", path,
                    local->message);
        return NULL;
    }
    return config_finish(g_steal_pointer(&c), o, problems, error);
}

ItsmigdConfig *itsmigd_config_parse(const char *text, gsize len, const char *path,
                                    const ItsmigdConfigOverrides *o, GError **error)
{
    g_autoptr(ItsmigdConfig) c = itsmigd_config_new_default();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    GError *problems = NULL;

    if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "%s: %s", path,
                    local->message);
        return NULL;
    }
    c->path = g_strdup(path);
    read_file(c, kf, &problems);
    return config_finish(g_steal_pointer(&c), o, problems, error);
}
