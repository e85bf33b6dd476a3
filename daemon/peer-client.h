/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include <json-glib/json-glib.h>

#include "itsmig/error.h"
#include "itsmig/host-caps.h"
#include "daemon/daemon-config.h"

/*
 * The other itsmigd instances named in [peer NAME]: their GET /v1/host over
 * HTTPS with the peer's token (libitsmig's REST client), with connect and
 * total timeouts, a size limit and schema validation, kept for [peers]
 * cache-ttl seconds.  A peer that is down, hangs or answers with anything
 * but a valid document gives an error that says so; nothing is assumed of
 * it.  Fetches block, so they are made on HTTP connection threads, never on
 * the main loop.
 */
typedef struct ItsmigdPeers ItsmigdPeers;

typedef struct {
    unsigned int connect_timeout; /* seconds */
    unsigned int timeout;         /* seconds, the whole exchange */
    unsigned int cache_ttl;       /* seconds */
    unsigned int hook_timeout;    /* seconds the hook waits for itsmigd ([hook] timeout) */
} ItsmigdPeerLimits;

ItsmigdPeers *itsmigd_peers_new(void);
void itsmigd_peers_free(ItsmigdPeers *peers);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdPeers, itsmigd_peers_free)

/* Takes the peers of @config (start and reload); what was cached for a peer
 * whose URL, CA and token did not change is kept. */
void itsmigd_peers_configure(ItsmigdPeers *peers, const ItsmigdConfig *config);

/* The configured names, in file order (free with g_strfreev). */
char **itsmigd_peers_names(ItsmigdPeers *peers);
gboolean itsmigd_peers_exists(ItsmigdPeers *peers, const char *name);

/* The capabilities of each of @names, from the cache when fresh, else
 * fetched, all at once.  ret_caps[i] is set, or ret_errors[i] says why not
 * (ITSMIG_ERROR_UNKNOWN_PEER, _PEER_UNREACHABLE, _PEER_TIMEOUT, _PEER_UNAVAILABLE (it answered
 * 503), _PEER_ERROR, _INVALID_HOST_CAPS, _INVALID_JSON). */
void itsmigd_peers_get(ItsmigdPeers *peers, const char *const *names, gsize n,
                       ItsmigHostCaps **ret_caps, GError **ret_errors);

/* Fetches, on a thread of its own, the capabilities of every peer whose
 * cache is stale, unless a fetch runs already or every stale peer was asked
 * less than MAX(cache-ttl, @min_interval) seconds ago; never blocks. */
void itsmigd_peers_refresh_in_background(ItsmigdPeers *peers, unsigned int min_interval);

/* One peer as /metrics shows it. */
typedef struct {
    char *name;
    int up; /* the last capability fetch: 1 ok, 0 failed, -1 none yet */
    guint64 failures[ITSMIG_ERROR_LAST]; /* failed fetches by error code */
    ItsmigHostCaps *caps;                /* the cached document, however old; NULL none */
    gint64 fetched_us;                   /* monotonic, when @caps came */
} ItsmigdPeerStatus;

void itsmigd_peer_status_free(ItsmigdPeerStatus *status);
/* Every configured peer, in file order (ItsmigdPeerStatus *). */
GPtrArray *itsmigd_peers_status(ItsmigdPeers *peers);

/* Copies of every cached document, however old; never fetches. */
GPtrArray *itsmigd_peers_cached(ItsmigdPeers *peers);
/* A copy of the cached document whose hostname is @hostname, NULL if none. */
ItsmigHostCaps *itsmigd_peers_cached_by_hostname(ItsmigdPeers *peers, const char *hostname);
/* For the hook: the document of the peer whose hostname is @hostname, from the
 * cache, else asked of every peer not asked yet (peers are configured by name,
 * a domain's record names a hostname), except those that failed in the last
 * cache-ttl seconds, within half the hook's timeout so that its answer comes
 * in time.  NULL when no peer is that host, or none answered. */
ItsmigHostCaps *itsmigd_peers_find_hostname(ItsmigdPeers *peers, const char *hostname);

/* The largest reply a call takes. */
#define ITSMIG_PEER_REPLY_MAX (4 * 1024 * 1024)

/* One request to peer @name, blocking up to [peers] timeout: @method @path
 * with @body (a JSON object, or NULL).  Returns the reply's JSON object for a
 * 2xx status.  Otherwise NULL, with *@ret_status the HTTP status (0 when no
 * reply came) and an error as itsmigd_peers_get() gives them; an HTTP error
 * has the code itsmigd_peer_reply_error_code() gives it (ITSMIG_ERROR_PEER_ERROR,
 * ITSMIG_ERROR_PEER_UNAVAILABLE for a 503, or the peer's own code when a job keeps it) with
 * the peer's code and message in the text. */
JsonNode *itsmigd_peers_call(ItsmigdPeers *peers, const char *name, const char *method,
                             const char *path, JsonNode *body, long *ret_status, GError **error);
/* A copy of the peer's configuration, NULL when none is called @name. */
ItsmigdPeerConfig *itsmigd_peers_get_config(ItsmigdPeers *peers, const char *name);
