/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "itsmig/compat.h"
#include "itsmig/host-caps.h"
#include "itsmig/kvm-regs.h"

#define ITSMIGD_DEFAULT_CONFIG SYSCONFDIR "/itsmig/itsmigd.conf"

/* A [peer NAME] group: another itsmigd to exchange capabilities with.  Each
 * direction has its own secret: token (what we present when calling the
 * peer) and accept_token (what the peer presents when calling us, which ties
 * its requests to NAME).  A peer without url is one that only calls us. */
typedef struct {
    char *name;
    char *url; /* https://HOST:PORT; NULL: not called */
    char *ca;  /* CA bundle that signed the peer's certificate; NULL: the system's */
    char *token_file;
    char *token; /* read from token_file */
    char *accept_token_file;
    char *accept_token;    /* read from accept_token_file; NULL: the peer may not call us */
    char *migrate_uri;     /* libvirt URI of the peer's libvirtd, for peer-to-peer migration */
    char *migrate_address; /* where QEMU sends the guest (VIR_MIGRATE_PARAM_URI); NULL: libvirt's */
} ItsmigdPeerConfig;

void itsmigd_peer_config_free(ItsmigdPeerConfig *peer);
ItsmigdPeerConfig *itsmigd_peer_config_copy(const ItsmigdPeerConfig *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdPeerConfig, itsmigd_peer_config_free)

/* Everything itsmigd.conf(5) documents; the defaults are in daemon-config.c. */
typedef struct {
    char *path; /* the file read, NULL when none */

    /* [libvirt] */
    char *uri;
    int keepalive_interval;
    unsigned int keepalive_count;
    unsigned int reconnect_min;
    unsigned int reconnect_max;
    unsigned int history_size;

    /* [api] */
    char *socket;
    unsigned int socket_mode;
    char *socket_group;
    char *listen;
    char *tls_cert;
    char *tls_key;
    gsize max_body;
    gsize max_domain_xml;
    gsize max_url;
    unsigned int max_connections;             /* the unix socket's */
    unsigned int max_connections_per_user;    /* unix socket, each uid but root */
    unsigned int peer_max_connections;        /* the TCP listener's */
    unsigned int max_connections_per_address; /* TCP, each client address */
    unsigned int connection_timeout;
    unsigned int request_timeout;
    unsigned int event_buffer;
    unsigned int max_event_streams;

    /* [daemon] */
    char *state_dir;
    GLogLevelFlags log_level;
    char *hostname; /* the name this host goes by among peers; NULL: the system's */

    /* [hook]: read by the libvirt hook (client/hooks/), checked here too. */
    unsigned int hook_timeout; /* seconds the hook waits for itsmigd */
    gboolean hook_fail_open;   /* on-unreachable = allow */
    /* restore-unrecorded = deny: a saved image of a guest with an ITS whose
     * XML has no itsmig record is refused. */
    gboolean hook_restore_unrecorded_deny;
    /* restore-image-unread = deny: a restore whose save image the hook could
     * not find or read within its limits is refused. */
    gboolean hook_restore_image_unread_deny;
    char *hook_record_dir; /* where the hook records starts and incoming migrations */

    /* [host]: declared capability values as written (already checked), by
     * field; NULL when not declared. */
    char *declared[ITSMIG_CAP_LAST];
    /* [host] vcpu-registers-file: a register set declared in place of the
     * probe's (checked when read); NULL when not declared. */
    char *host_regs_file;

    /* [policy] */
    ItsmigCompatPolicy policy;
    char **migratable_drivers; /* host drivers that can migrate a VFIO device's state */
    char **non_migratable;     /* glob patterns of guest device aliases to unplug for a move */

    /* [peers] and [peer NAME] */
    unsigned int peer_connect_timeout; /* seconds */
    unsigned int peer_timeout;         /* seconds, the whole exchange */
    unsigned int peer_cache_ttl;       /* seconds a peer's capabilities are reused */
    GPtrArray *peers;                  /* ItsmigdPeerConfig *, in file order */
    /* [metrics] */
    char *metrics_listen;                   /* plain HTTP, GET /metrics only; NULL: none */
    unsigned int metrics_max_connections;   /* the metrics listener's budget */
    unsigned int metrics_max_domain_series; /* per-domain series in one scrape */

    /* [migration] */
    unsigned int max_jobs;      /* migrations running at once from this host */
    unsigned int phase_timeout; /* seconds; default for a job's phase_timeout */
    unsigned int total_timeout; /* seconds; default for a job's total_timeout, 0: none */
    unsigned int keep_finished; /* finished jobs kept in the API and the journal */
    char *qemu_log_dir;         /* libvirt's per-domain QEMU logs */

    /* [fleet]: files for the fleet's scheduler, written when the
     * capabilities change; NULL: not written. */
    char *nova_provider_config; /* a Nova provider config file (YAML) */
    char *nfd_features_file;    /* a Node Feature Discovery feature file */
    gboolean qemu_log_mark;     /* verify only up to a mark QEMU wrote (qemu-marker.h) */
} ItsmigdConfig;

/* How a key takes a new value on SIGHUP; each key of the schema in
 * daemon-config.c declares its own. */
typedef enum {
    ITSMIGD_RELOAD_RESTART, /* the running value stays; a change is reported */
    ITSMIGD_RELOAD_LIVE,    /* copied into the running configuration */
} ItsmigdReload;

/* Command-line values that override the file; NULL fields are unset. */
typedef struct {
    const char *config;
    const char *connect;
    const char *socket;
    const char *state_dir;
    const char *listen;
    const char *log_level;
} ItsmigdConfigOverrides;

ItsmigdConfig *itsmigd_config_new_default(void);
void itsmigd_config_free(ItsmigdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdConfig, itsmigd_config_free)

/* Reads the file (the default path may be missing; an explicit one may not),
 * applies @overrides and checks every value.  The error lists every problem
 * found, one a line, each naming the file, the group and the key. */
ItsmigdConfig *itsmigd_config_load(const ItsmigdConfigOverrides *overrides, GError **error);
/* The same from @len bytes of @text, said to come from @path; @overrides'
 * config member is not used.  Files the text names (tokens) are still read. */
ItsmigdConfig *itsmigd_config_parse(const char *text, gsize len, const char *path,
                                    const ItsmigdConfigOverrides *overrides, GError **error);

/* Copies into @running every key of @fresh that reloads, and returns the
 * restart-only keys whose value differs, each as "[group] key".  The caller
 * then hands the new values to the parts that use them. */
GPtrArray *itsmigd_config_reload(ItsmigdConfig *running, const ItsmigdConfig *fresh);
/* Whether [@group] @key reloads (@group "peer NAME" for a peer's keys);
 * FALSE when the schema has no such key. */
gboolean itsmigd_config_key_reloads(const char *group, const char *key, gboolean *ret_reloads);

/* Splits "ADDR:PORT" or "[ADDR]:PORT" into an address and a port. */
gboolean itsmigd_config_parse_listen(const char *listen, char **ret_addr, guint16 *ret_port,
                                     GError **error);

gboolean itsmigd_config_parse_log_level(const char *text, GLogLevelFlags *ret_level,
                                        GError **error);
const char *itsmigd_config_log_level_to_string(GLogLevelFlags level);

/* Reads a secret (a token, a TLS key): refused when group or others may read
 * or write it, as ssh does, and when it is not a regular file. */
gboolean itsmigd_config_read_secret(const char *path, char **ret_contents, gsize *ret_len,
                                    GError **error);

/* The peer called @name, NULL when none is. */
const ItsmigdPeerConfig *itsmigd_config_find_peer(const ItsmigdConfig *config, const char *name);

/* Most bytes of a vcpu-registers-file. */
#define ITSMIGD_REGS_FILE_MAX (1024 * 1024)

/* Reads a declared register set: what `itsmigctl host probe --json` prints
 * (its "vcpu_registers" member) or that member alone, read as strictly as a
 * peer's (itsmig_kvm_regs_from_json()).  ITSMIG_ERROR_INVALID_CONFIG naming
 * @path on any problem; clear @ret_set with itsmig_kvm_regs_clear(). */
gboolean itsmigd_read_regs_file(const char *path, ItsmigKvmRegSet *ret_set, GError **error);
