/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "itsmig/error.h"
#include "itsmig/json-strict.h"
#include "itsmig/rest-client.h"
#include "daemon/peer-reply.h"
#include "daemon/peer-client.h"

typedef struct {
    ItsmigdPeerConfig *config;
    ItsmigHostCaps *caps; /* NULL until fetched */
    gint64 fetched_us;    /* monotonic */
} Peer;

/* What the capability fetches from one peer gave, kept by name across
 * reloads for /metrics. */
typedef struct {
    int up;            /* the last fetch: 1 ok, 0 failed, -1 none yet */
    gint64 attempt_us; /* monotonic, the last fetch's end; 0 none */
    guint64 failures[ITSMIG_ERROR_LAST];
} PeerStats;

struct ItsmigdPeers {
    GMutex lock;
    GPtrArray *peers; /* Peer *, in file order */
    ItsmigdPeerLimits limits;
    GHashTable *stats;  /* name -> PeerStats *, the configured peers' */
    GThread *refresher; /* a background fetch, NULL when none runs */
    gboolean refreshing;
};

static void peer_free(Peer *p)
{
    itsmigd_peer_config_free(p->config);
    itsmig_host_caps_free(p->caps);
    g_free(p);
}

ItsmigdPeers *itsmigd_peers_new(void)
{
    ItsmigdPeers *peers = g_new0(ItsmigdPeers, 1);

    g_mutex_init(&peers->lock);
    peers->peers = g_ptr_array_new_with_free_func((GDestroyNotify)peer_free);
    peers->stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return peers;
}

void itsmigd_peers_free(ItsmigdPeers *peers)
{
    if (!peers)
        return;
    if (peers->refresher)
        g_thread_join(peers->refresher);
    g_hash_table_unref(peers->stats);
    g_ptr_array_unref(peers->peers);
    g_mutex_clear(&peers->lock);
    g_free(peers);
}

static Peer *find_locked(ItsmigdPeers *peers, const char *name)
{
    for (guint i = 0; i < peers->peers->len; i++) {
        Peer *p = g_ptr_array_index(peers->peers, i);

        if (strcmp(p->config->name, name) == 0)
            return p;
    }
    return NULL;
}

void itsmigd_peers_configure(ItsmigdPeers *peers, const ItsmigdConfig *config)
{
    g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func((GDestroyNotify)peer_free);

    g_mutex_lock(&peers->lock);
    for (guint i = 0; i < config->peers->len; i++) {
        const ItsmigdPeerConfig *pc = g_ptr_array_index(config->peers, i);
        Peer *old;
        Peer *p;

        if (!pc->url)
            continue; /* one that only calls us */
        old = find_locked(peers, pc->name);
        p = g_new0(Peer, 1);

        p->config = itsmigd_peer_config_copy(pc);
        if (old && old->caps && !g_strcmp0(old->config->url, pc->url) &&
            !g_strcmp0(old->config->ca, pc->ca) && !g_strcmp0(old->config->token, pc->token)) {
            p->caps = g_steal_pointer(&old->caps);
            p->fetched_us = old->fetched_us;
        }
        g_ptr_array_add(fresh, p);
    }
    g_ptr_array_unref(peers->peers);
    peers->peers = g_steal_pointer(&fresh);
    {
        GHashTableIter iter;
        gpointer name;

        g_hash_table_iter_init(&iter, peers->stats);
        while (g_hash_table_iter_next(&iter, &name, NULL))
            if (!find_locked(peers, name))
                g_hash_table_iter_remove(&iter);
        for (guint i = 0; i < peers->peers->len; i++) {
            Peer *p = g_ptr_array_index(peers->peers, i);

            if (!g_hash_table_contains(peers->stats, p->config->name)) {
                PeerStats *st = g_new0(PeerStats, 1);

                st->up = -1;
                g_hash_table_insert(peers->stats, g_strdup(p->config->name), st);
            }
        }
    }
    peers->limits.connect_timeout = config->peer_connect_timeout;
    peers->limits.timeout = config->peer_timeout;
    peers->limits.cache_ttl = config->peer_cache_ttl;
    peers->limits.hook_timeout = config->hook_timeout;
    g_mutex_unlock(&peers->lock);
}

char **itsmigd_peers_names(ItsmigdPeers *peers)
{
    GPtrArray *names = g_ptr_array_new();

    g_mutex_lock(&peers->lock);
    for (guint i = 0; i < peers->peers->len; i++) {
        Peer *p = g_ptr_array_index(peers->peers, i);

        g_ptr_array_add(names, g_strdup(p->config->name));
    }
    g_mutex_unlock(&peers->lock);
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}

gboolean itsmigd_peers_exists(ItsmigdPeers *peers, const char *name)
{
    gboolean found;

    g_mutex_lock(&peers->lock);
    found = find_locked(peers, name) != NULL;
    g_mutex_unlock(&peers->lock);
    return found;
}

/* ---- one exchange ------------------------------------------------------------ */

typedef struct {
    ItsmigdPeerConfig *config;
    ItsmigdPeerLimits limits;
    /* The request: GET /v1/host for capabilities, or a call's. */
    const char *method;
    char *path;
    char *request; /* JSON text, NULL when no body */
    gsize max;     /* the largest reply taken */
    gboolean caps_mode;
    long status;
    ItsmigHostCaps *caps; /* caps_mode */
    JsonNode *reply;      /* a call's reply object */
    GError *error;
} Fetch;

static void fetch_free(Fetch *f)
{
    itsmigd_peer_config_free(f->config);
    itsmig_host_caps_free(f->caps);
    g_clear_pointer(&f->reply, json_node_unref);
    g_free(f->path);
    g_free(f->request);
    g_clear_error(&f->error);
    g_free(f);
}

/* Says, in the peer's terms, why no reply came; the code is the client's. */
static void fetch_failed(Fetch *f, const ItsmigRestClient *client, const GError *local)
{
    const char *name = f->config->name;
    const char *url = f->config->url;
    const char *why = NULL;
    ItsmigErrorCode code = itsmig_error_get_code(local);

    switch (itsmig_rest_client_get_failure(client, &why)) {
    case ITSMIG_REST_FAILURE_TIMEOUT:
        g_set_error(&f->error, ITSMIG_ERROR, code,
                    "peer %s (%s) did not answer within %u s (connect limit %u s): %s", name, url,
                    f->limits.timeout, f->limits.connect_timeout, why);
        return;
    case ITSMIG_REST_FAILURE_TOO_LARGE:
        g_set_error(&f->error, ITSMIG_ERROR, f->caps_mode ? ITSMIG_ERROR_INVALID_HOST_CAPS : code,
                    "peer %s (%s) sent more than %zu KiB for %s %s", name, url, f->max / 1024,
                    f->method, f->path);
        return;
    case ITSMIG_REST_FAILURE_CONNECT:
    case ITSMIG_REST_FAILURE_DROPPED:
        g_set_error(&f->error, ITSMIG_ERROR, code, "cannot reach peer %s at %s: %s", name, url,
                    why);
        return;
    case ITSMIG_REST_FAILURE_TLS:
        g_set_error(&f->error, ITSMIG_ERROR, code, "TLS with peer %s (%s) failed: %s", name, url,
                    why);
        return;
    case ITSMIG_REST_FAILURE_SETUP:
        g_set_error(&f->error, ITSMIG_ERROR, code, "cannot set up a request to peer %s: %s", name,
                    why);
        return;
    default:
        g_set_error(&f->error, ITSMIG_ERROR, code, "exchange with peer %s (%s) failed: %s", name,
                    url, why ? why : local->message);
        return;
    }
}

static void fetch_finish(Fetch *f, const ItsmigRestReply *reply)
{
    const char *name = f->config->name;
    const char *url = f->config->url;
    g_autoptr(GError) local = NULL;
    long status = reply->status;

    f->status = status;
    if (f->caps_mode ? status != 200 : (status < 200 || status > 299)) {
        g_autofree char *text = itsmigd_peer_reply_error_text(reply->body, reply->body_len);

        /* 503: up, but not ready (its libvirt connection is being made again): worth
         * asking again, unlike an error of the peer's. */
        g_set_error(&f->error, ITSMIG_ERROR,
                    itsmigd_peer_reply_error_code(reply->body, reply->body_len, status),
                    "peer %s (%s) answered %s %s with HTTP %ld%s%s%s", name, url, f->method,
                    f->path, status, status == 401 ? " (it does not accept our token)" : "",
                    text ? ": " : "", text ? text : "");
        return;
    }
    if (!f->caps_mode) {
        f->reply = itsmigd_peer_reply_parse(reply->body, reply->body_len, &local);
        if (!f->reply)
            g_set_error(&f->error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                        "peer %s (%s) answered %s %s with something that is not a JSON object: "
                        "%s",
                        name, url, f->method, f->path, local->message);
        return;
    }
    f->caps = itsmig_host_caps_from_json(reply->body, reply->body_len, &local);
    /* Not JSON or not the schema: either way the peer's fault, not the client's. */
    if (!f->caps)
        g_set_error(&f->error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "peer %s (%s) sent capabilities that cannot be trusted: %s", name, url,
                    local->message);
}

/* One exchange, blocking up to the peer timeouts. */
static gpointer fetch_run(gpointer data)
{
    Fetch *f = data;
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(ItsmigRestReply) reply = NULL;
    g_autoptr(GError) local = NULL;

    client = itsmig_rest_client_new_https(f->config->url, f->config->token, f->config->ca,
                                          f->limits.timeout, &local);
    if (!client) {
        g_set_error(&f->error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                    "cannot set up a request to peer %s: %s", f->config->name, local->message);
        return NULL;
    }
    itsmig_rest_client_set_connect_timeout(client, f->limits.connect_timeout);
    itsmig_rest_client_set_reply_max(client, f->max);
    if (itsmig_rest_client_request(client, f->method, f->path, "application/json", f->request,
                                   f->request ? strlen(f->request) : 0, &reply, &local))
        fetch_finish(f, reply);
    else
        fetch_failed(f, client, local);
    return NULL;
}

/* Runs every exchange at once, each on a thread of its own, so that one slow
 * peer does not hold up the others; each ends on its own timeouts. */
static void fetch_all(GPtrArray *fetches, const ItsmigdPeerLimits *limits)
{
    g_autofree GThread **threads = g_new0(GThread *, fetches->len);

    for (guint i = 0; i < fetches->len; i++)
        ((Fetch *)g_ptr_array_index(fetches, i))->limits = *limits;
    if (fetches->len == 1) {
        fetch_run(g_ptr_array_index(fetches, 0));
        return;
    }
    for (guint i = 0; i < fetches->len; i++) {
        Fetch *f = g_ptr_array_index(fetches, i);
        g_autoptr(GError) local = NULL;

        threads[i] = g_thread_try_new("itsmigd-peer", fetch_run, f, &local);
        if (!threads[i])
            g_set_error(&f->error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                        "cannot start the exchange with peer %s: %s", f->config->name,
                        local->message);
    }
    for (guint i = 0; i < fetches->len; i++)
        if (threads[i])
            g_thread_join(threads[i]);
}

/* itsmigd_peers_get(), each exchange within @within seconds when not 0. */
static void peers_get(ItsmigdPeers *peers, const char *const *names, gsize n, unsigned int within,
                      ItsmigHostCaps **ret_caps, GError **ret_errors)
{
    g_autoptr(GPtrArray) fetches = g_ptr_array_new_with_free_func((GDestroyNotify)fetch_free);
    g_autofree gssize *fetch_of = g_new(gssize, n);
    gint64 now = g_get_monotonic_time();
    ItsmigdPeerLimits limits;

    g_mutex_lock(&peers->lock);
    limits = peers->limits;
    if (within) {
        limits.timeout = MIN(limits.timeout, within);
        limits.connect_timeout = MIN(limits.connect_timeout, within);
    }
    for (gsize i = 0; i < n; i++) {
        Peer *p = find_locked(peers, names[i]);

        ret_caps[i] = NULL;
        ret_errors[i] = NULL;
        fetch_of[i] = -1;
        if (!p) {
            g_set_error(&ret_errors[i], ITSMIG_ERROR, ITSMIG_ERROR_UNKNOWN_PEER,
                        "no peer '%s' is configured (see [peer NAME] in itsmigd.conf)", names[i]);
        } else if (p->caps && now - p->fetched_us < (gint64)limits.cache_ttl * G_USEC_PER_SEC) {
            ret_caps[i] = itsmig_host_caps_copy(p->caps);
        } else {
            Fetch *f = g_new0(Fetch, 1);

            /* The same peer named twice is asked once. */
            for (gsize j = 0; j < i && fetch_of[i] < 0; j++)
                if (fetch_of[j] >= 0 && strcmp(names[j], names[i]) == 0)
                    fetch_of[i] = fetch_of[j];
            if (fetch_of[i] >= 0) {
                g_free(f);
                continue;
            }
            f->config = itsmigd_peer_config_copy(p->config);
            f->method = "GET";
            f->path = g_strdup("/v1/host");
            f->max = ITSMIG_HOST_CAPS_MAX;
            f->caps_mode = TRUE;
            fetch_of[i] = fetches->len;
            g_ptr_array_add(fetches, f);
        }
    }
    g_mutex_unlock(&peers->lock);

    if (fetches->len == 0)
        return;
    fetch_all(fetches, &limits);

    g_mutex_lock(&peers->lock);
    for (guint k = 0; k < fetches->len; k++) {
        Fetch *f = g_ptr_array_index(fetches, k);
        Peer *p = find_locked(peers, f->config->name);
        PeerStats *st = g_hash_table_lookup(peers->stats, f->config->name);

        if (st) {
            st->up = f->error == NULL;
            st->attempt_us = g_get_monotonic_time();
            if (f->error)
                st->failures[itsmig_error_get_code(f->error)]++;
        }
        if (f->error)
            continue;
        /* Unless the configuration changed meanwhile. */
        if (p && !g_strcmp0(p->config->url, f->config->url) &&
            !g_strcmp0(p->config->token, f->config->token)) {
            itsmig_host_caps_free(p->caps);
            p->caps = itsmig_host_caps_copy(f->caps);
            p->fetched_us = g_get_monotonic_time();
        }
    }
    g_mutex_unlock(&peers->lock);
    for (gsize i = 0; i < n; i++) {
        Fetch *f;

        if (fetch_of[i] < 0)
            continue;
        f = g_ptr_array_index(fetches, fetch_of[i]);
        if (f->caps)
            ret_caps[i] = itsmig_host_caps_copy(f->caps);
        else
            ret_errors[i] = g_error_copy(f->error);
    }
}

void itsmigd_peers_get(ItsmigdPeers *peers, const char *const *names, gsize n,
                       ItsmigHostCaps **ret_caps, GError **ret_errors)
{
    peers_get(peers, names, n, 0, ret_caps, ret_errors);
}

static gpointer refresh_thread(gpointer data)
{
    ItsmigdPeers *peers = data;
    g_auto(GStrv) names = itsmigd_peers_names(peers);
    gsize n = g_strv_length(names);
    g_autofree ItsmigHostCaps **caps = g_new0(ItsmigHostCaps *, n + 1);
    g_autofree GError **errors = g_new0(GError *, n + 1);

    itsmigd_peers_get(peers, (const char *const *)names, n, caps, errors);
    for (gsize i = 0; i < n; i++) {
        itsmig_host_caps_free(caps[i]);
        g_clear_error(&errors[i]);
    }
    g_mutex_lock(&peers->lock);
    peers->refreshing = FALSE;
    g_mutex_unlock(&peers->lock);
    return NULL;
}

void itsmigd_peers_refresh_in_background(ItsmigdPeers *peers, unsigned int min_interval)
{
    gint64 now = g_get_monotonic_time();
    gboolean due = FALSE;
    GThread *old = NULL;

    g_mutex_lock(&peers->lock);
    if (peers->refreshing) {
        g_mutex_unlock(&peers->lock);
        return;
    }
    for (guint i = 0; i < peers->peers->len && !due; i++) {
        Peer *p = g_ptr_array_index(peers->peers, i);
        PeerStats *st = g_hash_table_lookup(peers->stats, p->config->name);
        gint64 interval = (gint64)MAX(peers->limits.cache_ttl, min_interval) * G_USEC_PER_SEC;
        gboolean stale =
            !p->caps || now - p->fetched_us >= (gint64)peers->limits.cache_ttl * G_USEC_PER_SEC;

        /* A peer that just failed is not asked again before the interval. */
        due = stale && (!st || !st->attempt_us || now - st->attempt_us >= interval);
    }
    if (due) {
        /* Started under the lock, so that no other scrape can miss it; it
         * waits for the lock like any caller. */
        old = g_steal_pointer(&peers->refresher);
        peers->refreshing = TRUE;
        peers->refresher = g_thread_new("itsmigd-peers", refresh_thread, peers);
    }
    g_mutex_unlock(&peers->lock);
    if (old)
        g_thread_join(old); /* it has ended, or is ending: refreshing was FALSE */
}

void itsmigd_peer_status_free(ItsmigdPeerStatus *status)
{
    if (!status)
        return;
    g_free(status->name);
    itsmig_host_caps_free(status->caps);
    g_free(status);
}

GPtrArray *itsmigd_peers_status(ItsmigdPeers *peers)
{
    GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)itsmigd_peer_status_free);

    g_mutex_lock(&peers->lock);
    for (guint i = 0; i < peers->peers->len; i++) {
        Peer *p = g_ptr_array_index(peers->peers, i);
        PeerStats *st = g_hash_table_lookup(peers->stats, p->config->name);
        ItsmigdPeerStatus *s = g_new0(ItsmigdPeerStatus, 1);

        s->name = g_strdup(p->config->name);
        s->up = st ? st->up : -1;
        if (st)
            memcpy(s->failures, st->failures, sizeof(s->failures));
        s->caps = p->caps ? itsmig_host_caps_copy(p->caps) : NULL;
        s->fetched_us = p->fetched_us;
        g_ptr_array_add(all, s);
    }
    g_mutex_unlock(&peers->lock);
    return all;
}

GPtrArray *itsmigd_peers_cached(ItsmigdPeers *peers)
{
    GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)itsmig_host_caps_free);

    g_mutex_lock(&peers->lock);
    for (guint i = 0; i < peers->peers->len; i++) {
        Peer *p = g_ptr_array_index(peers->peers, i);

        if (p->caps)
            g_ptr_array_add(all, itsmig_host_caps_copy(p->caps));
    }
    g_mutex_unlock(&peers->lock);
    return all;
}

ItsmigHostCaps *itsmigd_peers_cached_by_hostname(ItsmigdPeers *peers, const char *hostname)
{
    ItsmigHostCaps *found = NULL;

    g_mutex_lock(&peers->lock);
    for (guint i = 0; i < peers->peers->len && !found; i++) {
        Peer *p = g_ptr_array_index(peers->peers, i);

        if (p->caps && g_strcmp0(p->caps->hostname, hostname) == 0)
            found = itsmig_host_caps_copy(p->caps);
    }
    g_mutex_unlock(&peers->lock);
    return found;
}

ItsmigHostCaps *itsmigd_peers_find_hostname(ItsmigdPeers *peers, const char *hostname)
{
    ItsmigHostCaps *found = itsmigd_peers_cached_by_hostname(peers, hostname);
    g_autoptr(GPtrArray) names = NULL;
    g_autofree ItsmigHostCaps **caps = NULL;
    g_autofree GError **errors = NULL;
    gint64 now = g_get_monotonic_time();
    unsigned int within;

    if (found)
        return found;
    names = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&peers->lock);
    within = MAX(peers->limits.hook_timeout / 2, 1);
    for (guint i = 0; i < peers->peers->len; i++) {
        Peer *p = g_ptr_array_index(peers->peers, i);
        PeerStats *st = g_hash_table_lookup(peers->stats, p->config->name);

        if (p->caps)
            continue; /* another host */
        if (st && st->up == 0 &&
            now - st->attempt_us < (gint64)peers->limits.cache_ttl * G_USEC_PER_SEC)
            continue;
        g_ptr_array_add(names, g_strdup(p->config->name));
    }
    g_mutex_unlock(&peers->lock);
    if (names->len == 0)
        return NULL;
    caps = g_new0(ItsmigHostCaps *, names->len);
    errors = g_new0(GError *, names->len);
    peers_get(peers, (const char *const *)names->pdata, names->len, within, caps, errors);
    for (guint i = 0; i < names->len; i++) {
        if (!found && caps[i] && g_strcmp0(caps[i]->hostname, hostname) == 0)
            found = g_steal_pointer(&caps[i]);
        g_clear_pointer(&caps[i], itsmig_host_caps_free);
        g_clear_error(&errors[i]);
    }
    return found;
}

JsonNode *itsmigd_peers_call(ItsmigdPeers *peers, const char *name, const char *method,
                             const char *path, JsonNode *body, long *ret_status, GError **error)
{
    g_autoptr(GPtrArray) fetches = g_ptr_array_new_with_free_func((GDestroyNotify)fetch_free);
    ItsmigdPeerLimits limits;
    Fetch *f;
    Peer *p;

    if (ret_status)
        *ret_status = 0;
    g_mutex_lock(&peers->lock);
    limits = peers->limits;
    p = find_locked(peers, name);
    if (!p) {
        g_mutex_unlock(&peers->lock);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_UNKNOWN_PEER,
                    "no peer '%s' is configured (see [peer NAME] in itsmigd.conf)", name);
        return NULL;
    }
    f = g_new0(Fetch, 1);
    f->config = itsmigd_peer_config_copy(p->config);
    g_mutex_unlock(&peers->lock);
    f->method = method;
    f->path = g_strdup(path);
    f->request = body ? json_to_string(body, FALSE) : NULL;
    f->max = ITSMIG_PEER_REPLY_MAX;
    g_ptr_array_add(fetches, f);
    fetch_all(fetches, &limits);
    if (ret_status)
        *ret_status = f->status;
    if (!f->reply) {
        g_propagate_error(error, g_steal_pointer(&f->error));
        return NULL;
    }
    return g_steal_pointer(&f->reply);
}

ItsmigdPeerConfig *itsmigd_peers_get_config(ItsmigdPeers *peers, const char *name)
{
    ItsmigdPeerConfig *copy = NULL;
    Peer *p;

    g_mutex_lock(&peers->lock);
    p = find_locked(peers, name);
    if (p)
        copy = itsmigd_peer_config_copy(p->config);
    g_mutex_unlock(&peers->lock);
    return copy;
}
