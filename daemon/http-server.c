/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/types.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <gio/gio.h>
#include <microhttpd.h>

#include "itsmig/error.h"
#include "itsmig/secret-file.h"
#include "daemon/http-private.h"
#include "daemon/migration-record.h"

/* A connection from accept to close.  @fd is our own duplicate, so that the
 * reaper never shuts down a descriptor libmicrohttpd has closed and reused. */
typedef struct {
    int fd;
    gint64 uid;         /* unix socket: the client's; -1 otherwise */
    gint64 deadline_us; /* monotonic: the request must be complete by then; 0 none */
    gboolean cut;
} Conn;

/* A peer's own credential: the token it presents ([peer NAME] accept-token-file). */
typedef struct {
    char *name;
    char *token;
} PeerToken;

static void peer_token_free(PeerToken *p)
{
    itsmig_secret_free(p->token);
    g_free(p->name);
    g_free(p);
}

/* ---- connection budgets and deadlines ------------------------------------------------ */

/* Sets the deadline of @mc's connection: @timeout_s from now, or none (0). */
void itsmigd_http_conn_deadline(Listener *l, struct MHD_Connection *mc, unsigned int timeout_s)
{
    Conn *c;

    g_mutex_lock(&l->conn_lock);
    c = g_hash_table_lookup(l->conns, mc);
    if (c)
        c->deadline_us = timeout_s ? g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC : 0;
    g_mutex_unlock(&l->conn_lock);
}

static void conn_cut(Conn *c)
{
    if (!c->cut)
        shutdown(c->fd, SHUT_RDWR);
    c->cut = TRUE;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    Listener *l = cls;
    const ItsmigdHttpLimits *limits = &l->server->limits;
    Conn *c;

    g_mutex_lock(&l->conn_lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = g_new0(Conn, 1);
        c->fd = info ? fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 3) : -1;
        c->uid = -1;
        /* The clock runs from accept: a stalled TLS handshake counts. */
        c->deadline_us = g_get_monotonic_time() + limits->request_timeout * G_USEC_PER_SEC;
        if (!l->tcp && c->fd >= 0) {
            struct ucred cred;
            socklen_t len = sizeof(cred);

            if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
                guint n =
                    GPOINTER_TO_UINT(g_hash_table_lookup(l->per_uid, GINT_TO_POINTER(cred.uid)));

                c->uid = cred.uid;
                g_hash_table_insert(l->per_uid, GINT_TO_POINTER(cred.uid), GUINT_TO_POINTER(n + 1));
                /* root (the hook, the administrator) only meets the total. */
                if (cred.uid != 0 && n >= limits->max_connections_per_user) {
                    g_debug("http: uid %u holds %u connections on the unix socket; refusing "
                            "one more ([api] max-connections-per-user)",
                            (unsigned int)cred.uid, n);
                    conn_cut(c);
                }
            }
        }
        g_hash_table_insert(l->conns, mc, c);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        c = g_hash_table_lookup(l->conns, mc);
        if (c) {
            if (c->uid >= 0) {
                guint n =
                    GPOINTER_TO_UINT(g_hash_table_lookup(l->per_uid, GINT_TO_POINTER(c->uid)));

                if (n > 1)
                    g_hash_table_insert(l->per_uid, GINT_TO_POINTER(c->uid),
                                        GUINT_TO_POINTER(n - 1));
                else
                    g_hash_table_remove(l->per_uid, GINT_TO_POINTER(c->uid));
            }
            g_hash_table_remove(l->conns, mc);
        }
    }
    g_mutex_unlock(&l->conn_lock);
    (void)socket_context;
}

static void conn_free(Conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    g_free(c);
}

static guint reap(Listener *l, gint64 now)
{
    GHashTableIter iter;
    gpointer value;
    guint n = 0;

    if (!l->conns)
        return 0;
    g_mutex_lock(&l->conn_lock);
    g_hash_table_iter_init(&iter, l->conns);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        Conn *c = value;

        if (!c->cut && c->fd >= 0 && c->deadline_us && now > c->deadline_us) {
            conn_cut(c);
            n++;
        }
    }
    g_mutex_unlock(&l->conn_lock);
    return n;
}

static gpointer reaper_thread(gpointer data)
{
    ItsmigdHttpServer *server = data;

    g_mutex_lock(&server->reaper_lock);
    while (!server->stopping) {
        gint64 now;
        guint cut;

        g_cond_wait_until(&server->reaper_cond, &server->reaper_lock,
                          g_get_monotonic_time() + G_USEC_PER_SEC / 5);
        if (server->stopping)
            break;
        g_mutex_unlock(&server->reaper_lock);
        now = g_get_monotonic_time();
        cut = reap(&server->unix_listener, now) + reap(&server->tcp_listener, now) +
              reap(&server->metrics_listener, now);
        if (cut)
            g_debug("http: closed %u connection(s) that sent no complete request within %u s "
                    "([api] request-timeout)",
                    cut, server->limits.request_timeout);
        g_mutex_lock(&server->reaper_lock);
    }
    g_mutex_unlock(&server->reaper_lock);
    return NULL;
}

/* ---- who may call over TCP ------------------------------------------------------- */

/* Compares every byte of @expected whatever @given is, so that timing does
 * not tell how much of a guess was right. */
static gboolean secret_equal(const char *given, const char *expected)
{
    gsize a = strlen(given), b = strlen(expected);
    unsigned char diff = a != b;

    for (gsize i = 0; i < b; i++)
        diff |= (unsigned char)(expected[i] ^ (i < a ? given[i] : 0));
    return diff == 0;
}

/* The peer whose token @header carries, or NULL.  Every peer's token is
 * compared, so that timing does not tell which peer a guess was near. */
char *itsmigd_http_server_peer_of_token(ItsmigdHttpServer *server, const char *header)
{
    char *found = NULL;

    if (!header || g_ascii_strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    header += 7;
    g_mutex_lock(&server->token_lock);
    for (guint i = 0; i < server->peer_tokens->len; i++) {
        PeerToken *p = g_ptr_array_index(server->peer_tokens, i);

        if (secret_equal(header, p->token) && !found)
            found = g_strdup(p->name);
    }
    g_mutex_unlock(&server->token_lock);
    return found;
}

char *itsmigd_http_server_peer_mac(ItsmigdHttpServer *server, const char *peer, const char *uuid,
                                   const char *job)
{
    char *mac = NULL;

    g_mutex_lock(&server->token_lock);
    for (guint i = 0; i < server->peer_tokens->len && !mac; i++) {
        PeerToken *p = g_ptr_array_index(server->peer_tokens, i);

        if (!strcmp(p->name, peer))
            mac = itsmigd_migration_mac(p->token, uuid, job);
    }
    g_mutex_unlock(&server->token_lock);
    return mac;
}

static GMutex mhd_log_lock;
static char *mhd_last_message;

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char *msg = g_strdup_vprintf(fmt, ap);

    g_strchomp(msg);
    g_debug("http: %s", msg);
    g_mutex_lock(&mhd_log_lock);
    g_free(mhd_last_message);
    mhd_last_message = msg;
    g_mutex_unlock(&mhd_log_lock);
}

/* ---- listeners ----------------------------------------------------------------- */

static gboolean start_mhd(ItsmigdHttpServer *server, Listener *l, unsigned int extra_flags,
                          const struct sockaddr *addr, GError **error)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_POLL | MHD_USE_ERROR_LOG | extra_flags;
    size_t pool = MAX((size_t)32768, server->limits.max_url * 2 + 16384);
    struct MHD_OptionItem ops[20];
    int n = 0;

#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}
    OPT(MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL);
    if (l->fd >= 0)
        OPT(MHD_OPTION_LISTEN_SOCKET, l->fd, NULL);
    if (addr)
        OPT(MHD_OPTION_SOCK_ADDR, 0, (void *)addr);
    OPT(MHD_OPTION_CONNECTION_LIMIT,
        l->max_connections ? l->max_connections
        : l->tcp           ? server->limits.peer_max_connections
                           : server->limits.max_connections,
        NULL);
    if (l->tcp)
        OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            l->max_connections ? l->max_connections : server->limits.max_connections_per_address,
            NULL);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, l);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, server->limits.connection_timeout, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, NULL);
    OPT(MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, NULL);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, itsmigd_http_on_uri, l);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, itsmigd_http_on_completed, l);
    if (l->cert_pem) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, l->cert_pem);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, l->key_pem);
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2");
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT

    l->server = server;
    l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, itsmigd_http_on_request, l, MHD_OPTION_ARRAY,
                              ops, MHD_OPTION_END);
    if (!l->mhd) {
        g_mutex_lock(&mhd_log_lock);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                    "cannot start the HTTP server on %s: %s",
                    l->metrics_only ? "the metrics address"
                    : l->tcp        ? "TCP"
                                    : "the unix socket",
                    mhd_last_message ? mhd_last_message : "no reason given");
        g_mutex_unlock(&mhd_log_lock);
        return FALSE;
    }
    return TRUE;
}

static void listener_init(Listener *l)
{
    l->fd = -1;
    g_mutex_init(&l->conn_lock);
    l->conns = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)conn_free);
    l->per_uid = g_hash_table_new(NULL, NULL);
}

static void listener_clear(Listener *l)
{
    g_hash_table_unref(l->conns);
    g_hash_table_unref(l->per_uid);
    g_mutex_clear(&l->conn_lock);
}

ItsmigdHttpServer *itsmigd_http_server_new(const ItsmigdHttpParts *parts,
                                           const ItsmigdHttpLimits *limits,
                                           const ItsmigdRoute *routes, gsize n_routes)
{
    ItsmigdHttpServer *server = g_new0(ItsmigdHttpServer, 1);

    server->parts = *parts;
    server->limits = *limits;
    server->routes = routes;
    server->n_routes = n_routes;
    listener_init(&server->unix_listener);
    listener_init(&server->tcp_listener);
    server->tcp_listener.tcp = TRUE;
    listener_init(&server->metrics_listener);
    server->metrics_listener.tcp = TRUE;
    server->metrics_listener.metrics_only = TRUE;
    g_mutex_init(&server->reaper_lock);
    g_cond_init(&server->reaper_cond);
    server->reaper = g_thread_new("itsmigd-reaper", reaper_thread, server);
    g_mutex_init(&server->token_lock);
    server->peer_tokens = g_ptr_array_new_with_free_func((GDestroyNotify)peer_token_free);
    return server;
}

static void listener_stop(Listener *l)
{
    if (l->mhd)
        MHD_stop_daemon(l->mhd);
    l->mhd = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->path)
        unlink(l->path);
    g_clear_pointer(&l->path, g_free);
    g_clear_pointer(&l->cert_pem, g_free);
    g_clear_pointer(&l->key_pem, itsmig_secret_free);
}

void itsmigd_http_server_free(ItsmigdHttpServer *server)
{
    if (!server)
        return;
    listener_stop(&server->unix_listener);
    listener_stop(&server->tcp_listener);
    listener_stop(&server->metrics_listener);
    g_mutex_lock(&server->reaper_lock);
    server->stopping = TRUE;
    g_cond_signal(&server->reaper_cond);
    g_mutex_unlock(&server->reaper_lock);
    g_thread_join(server->reaper);
    g_mutex_clear(&server->reaper_lock);
    g_cond_clear(&server->reaper_cond);
    listener_clear(&server->unix_listener);
    listener_clear(&server->tcp_listener);
    listener_clear(&server->metrics_listener);
    g_ptr_array_unref(server->peer_tokens);
    g_mutex_clear(&server->token_lock);
    g_free(server);
}

static gboolean socket_in_use(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean in_use;

    if (fd < 0)
        return FALSE;
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    in_use = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    return in_use;
}

gboolean itsmigd_http_server_listen_unix(ItsmigdHttpServer *server, int fd, const char *path,
                                         unsigned int mode, const char *group, GError **error)
{
    Listener *l = &server->unix_listener;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    g_autofree char *dir = NULL;
    struct stat st;
    mode_t old_umask;
    int rc;

    if (fd >= 0) {
        l->fd = fd;
        return start_mhd(server, l, 0, NULL, error);
    }
    if (strlen(path) >= sizeof(sun.sun_path)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "socket path %s is too long",
                    path);
        return FALSE;
    }
    dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot create %s: %s", dir,
                    g_strerror(errno));
        return FALSE;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "%s exists and is not a socket; not replacing it", path);
            return FALSE;
        }
        if (socket_in_use(path)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "another server is listening on %s", path);
            return FALSE;
        }
        unlink(path); /* left behind by a daemon that did not stop cleanly */
    }

    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "socket: %s", g_strerror(errno));
        return FALSE;
    }
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    /* No window in which the socket has looser permissions than asked. */
    old_umask = umask(0777 & ~mode);
    rc = bind(l->fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old_umask);
    if (rc < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot bind %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    l->path = g_strdup(path);
    if (chmod(path, mode) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot chmod %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    if (group) {
        struct group *gr = getgrnam(group);

        if (!gr) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                        "[api] socket-group: no group named '%s'", group);
            return FALSE;
        }
        if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "cannot give %s to group %s: %s", path, group, g_strerror(errno));
            return FALSE;
        }
    }
    if (listen(l->fd, 128) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "cannot listen on %s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    return start_mhd(server, l, 0, NULL, error);
}

/* @listen as a socket address; ORs MHD_USE_IPv6 into @flags for one. */
static gboolean listen_address(const char *listen, struct sockaddr_storage *ss, unsigned int *flags,
                               GError **error)
{
    g_autofree char *addr = NULL;
    guint16 port;

    if (!itsmigd_config_parse_listen(listen, &addr, &port, error))
        return FALSE;
    memset(ss, 0, sizeof(*ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
            goto bad_addr;
        *flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
            goto bad_addr;
    }
    return TRUE;

bad_addr:
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "bad listen address %s", addr);
    return FALSE;
}

gboolean itsmigd_http_server_listen_metrics(ItsmigdHttpServer *server, const char *listen,
                                            unsigned int max_connections, GError **error)
{
    Listener *l = &server->metrics_listener;
    struct sockaddr_storage ss;
    unsigned int flags = 0;

    if (!listen_address(listen, &ss, &flags, error))
        return FALSE;
    l->max_connections = max_connections;
    if (!start_mhd(server, l, flags, (struct sockaddr *)&ss, error)) {
        g_prefix_error(error, "%s: ", listen);
        return FALSE;
    }
    return TRUE;
}

gboolean itsmigd_http_server_listen_tcp(ItsmigdHttpServer *server, const char *listen,
                                        const char *cert_file, const char *key_file,
                                        const GPtrArray *peers, GError **error)
{
    Listener *l = &server->tcp_listener;
    g_autoptr(GError) local = NULL;
    struct sockaddr_storage ss;
    gsize key_len;
    unsigned int flags = MHD_USE_TLS;

    if (!listen_address(listen, &ss, &flags, error))
        return FALSE;
    if (!g_file_get_contents(cert_file, &l->cert_pem, NULL, &local) ||
        !itsmigd_config_read_secret(key_file, &l->key_pem, &key_len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "TLS: %s", local->message);
        return FALSE;
    }
    itsmigd_http_server_set_peers(server, peers);
    if (!start_mhd(server, l, flags, (struct sockaddr *)&ss, error)) {
        g_prefix_error(error, "%s: ", listen);
        return FALSE;
    }
    return TRUE;
}

void itsmigd_http_server_set_peers(ItsmigdHttpServer *server, const GPtrArray *peers)
{
    g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func((GDestroyNotify)peer_token_free);

    for (guint i = 0; peers && i < peers->len; i++) {
        const ItsmigdPeerConfig *peer = g_ptr_array_index(peers, i);
        PeerToken *p;

        if (!peer->accept_token)
            continue;
        p = g_new0(PeerToken, 1);
        p->name = g_strdup(peer->name);
        p->token = g_strdup(peer->accept_token);
        g_ptr_array_add(fresh, p);
    }
    g_mutex_lock(&server->token_lock);
    g_ptr_array_unref(server->peer_tokens);
    server->peer_tokens = g_steal_pointer(&fresh);
    g_mutex_unlock(&server->token_lock);
}
