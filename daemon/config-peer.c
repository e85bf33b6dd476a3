/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/secret-file.h"
#include "daemon/config-private.h"

/* The [peer NAME] groups of itsmigd.conf: another itsmigd, how to call it
 * and what it presents when it calls this host. */

#define PEER_NAME_MAX 64

void itsmigd_peer_config_free(ItsmigdPeerConfig *peer)
{
    if (!peer)
        return;
    g_free(peer->name);
    g_free(peer->url);
    g_free(peer->ca);
    g_free(peer->token_file);
    g_free(peer->accept_token_file);
    itsmig_secret_free(peer->accept_token);
    g_free(peer->migrate_uri);
    g_free(peer->migrate_address);
    itsmig_secret_free(peer->token);
    g_free(peer);
}

ItsmigdPeerConfig *itsmigd_peer_config_copy(const ItsmigdPeerConfig *peer)
{
    ItsmigdPeerConfig *copy = g_new0(ItsmigdPeerConfig, 1);

    copy->name = g_strdup(peer->name);
    copy->url = g_strdup(peer->url);
    copy->ca = g_strdup(peer->ca);
    copy->token_file = g_strdup(peer->token_file);
    copy->token = g_strdup(peer->token);
    copy->accept_token_file = g_strdup(peer->accept_token_file);
    copy->accept_token = g_strdup(peer->accept_token);
    copy->migrate_uri = g_strdup(peer->migrate_uri);
    copy->migrate_address = g_strdup(peer->migrate_address);
    return copy;
}

const ItsmigdPeerConfig *itsmigd_config_find_peer(const ItsmigdConfig *config, const char *name)
{
    for (guint i = 0; i < config->peers->len; i++) {
        const ItsmigdPeerConfig *peer = g_ptr_array_index(config->peers, i);

        if (strcmp(peer->name, name) == 0)
            return peer;
    }
    return NULL;
}

/* The first line of @file: a bearer token, at least 16 printable ASCII
 * characters without spaces.  Wiped from memory wherever it is dropped. */
static gboolean read_token_file(const char *file, const char *where, const char *group,
                                const char *key, char **ret_token, GError **error)
{
    g_autofree char *contents = NULL;
    g_autofree char *token = NULL;
    g_autoptr(GError) local = NULL;
    gsize len = 0;

    if (!itsmigd_config_read_secret(file, &contents, &len, &local))
        return itsmigd_config_error(error, where, group, key, "%s", local->message);
    if (memchr(contents, '\0', len)) {
        explicit_bzero(contents, len);
        return itsmigd_config_error(error, where, group, key, "%s: a token has no NUL byte", file);
    }
    token = itsmig_secret_token_first_line(contents, len);
    explicit_bzero(contents, len);
    if (!itsmig_secret_token_valid(token, 16)) {
        explicit_bzero(token, strlen(token));
        return itsmigd_config_error(error, where, group, key,
                                    "%s: the token must be at least 16 printable ASCII characters, "
                                    "without spaces",
                                    file);
    }
    *ret_token = g_steal_pointer(&token);
    return TRUE;
}

static gboolean peer_name_valid(const char *name)
{
    gsize len = strlen(name);

    if (len == 0 || len > PEER_NAME_MAX)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            return FALSE;
    }
    return TRUE;
}

/* @name is a peer name, and the first peer of that name. */
static gboolean peer_name_free_to_use(const ItsmigdConfig *c, const char *group, const char *name,
                                      GError **error)
{
    g_autofree char *text = NULL;

    if (!peer_name_valid(name))
        text = g_strdup_printf("%s: [%s]: a peer name is 1 to %d letters, digits, '-', '_' or '.'",
                               c->path, group, PEER_NAME_MAX);
    else if (itsmigd_config_find_peer(c, name))
        text = g_strdup_printf("%s: [%s]: peer '%s' is configured twice", c->path, group, name);
    if (text)
        itsmigd_config_add_problem(error, text);
    return text == NULL;
}

typedef struct {
    ItsmigdPeerConfig *peer;
    const char *group;
    gboolean fine; /* FALSE after an unknown key */
} PeerRead;

static void read_peer_key(ItsmigdConfig *c, GKeyFile *kf, const char *key, char **value,
                          gpointer data, GError **error)
{
    PeerRead *r = data;
    char **field;

    (void)kf;
    if (!strcmp(key, "url"))
        field = &r->peer->url;
    else if (!strcmp(key, "ca"))
        field = &r->peer->ca;
    else if (!strcmp(key, "token-file"))
        field = &r->peer->token_file;
    else if (!strcmp(key, "accept-token-file"))
        field = &r->peer->accept_token_file;
    else if (!strcmp(key, "migrate-uri"))
        field = &r->peer->migrate_uri;
    else if (!strcmp(key, "migrate-address"))
        field = &r->peer->migrate_address;
    else {
        r->fine = itsmigd_config_error(error, c->path, r->group, key,
                                       "unknown key (known: url, ca, token-file, "
                                       "accept-token-file, migrate-uri, migrate-address)");
        return;
    }
    g_free(*field);
    *field = (*value)[0] ? g_steal_pointer(value) : NULL;
}

static gboolean peer_url_valid(const char *url)
{
    g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);

    return uri && !g_strcmp0(g_uri_get_scheme(uri), "https") && g_uri_get_host(uri) &&
           g_uri_get_host(uri)[0] &&
           (!g_uri_get_path(uri)[0] || !strcmp(g_uri_get_path(uri), "/")) &&
           !g_uri_get_query(uri) && !g_uri_get_userinfo(uri);
}

/* libvirt URIs are checked by libvirt; here only what would surely fail. */
static gboolean peer_uri_plausible(const char *uri)
{
    return strstr(uri, "://") && !strpbrk(uri, " \t\n");
}

/* Where the peer is and how a migration reaches it; FALSE after adding
 * each problem. */
static gboolean peer_check_addresses(const ItsmigdConfig *c, const char *group,
                                     const ItsmigdPeerConfig *peer, GError **error)
{
    gboolean fine = TRUE;

    if (!peer->url && !peer->accept_token_file)
        fine = itsmigd_config_error(error, c->path, group, "url",
                                    "an https:// URL is required (or accept-token-file alone, "
                                    "for a peer that only calls this host)");
    if (peer->url && !peer_url_valid(peer->url))
        fine = itsmigd_config_error(error, c->path, group, "url",
                                    "'%s' is not https://HOST[:PORT] (peers speak only HTTPS; no "
                                    "path, query or user)",
                                    peer->url);
    if (peer->ca && !g_path_is_absolute(peer->ca))
        fine = itsmigd_config_error(error, c->path, group, "ca", "must be an absolute path");
    if (peer->migrate_uri && !peer_uri_plausible(peer->migrate_uri))
        fine = itsmigd_config_error(error, c->path, group, "migrate-uri",
                                    "'%s' is not a libvirt URI such as qemu+tls://HOST/system",
                                    peer->migrate_uri);
    if (peer->migrate_address && !peer_uri_plausible(peer->migrate_address))
        fine = itsmigd_config_error(error, c->path, group, "migrate-address",
                                    "'%s' is not a migration URI such as tcp://10.0.0.2",
                                    peer->migrate_address);
    return fine;
}

/* The tokens the peer's files hold; *@fine goes FALSE on a problem with the
 * token sent, and the reading stops (FALSE) on one with the token accepted. */
static gboolean peer_read_tokens(const ItsmigdConfig *c, const char *group, ItsmigdPeerConfig *peer,
                                 gboolean *fine, GError **error)
{
    if (peer->url) {
        if (!peer->token_file)
            *fine = itsmigd_config_error(error, c->path, group, "token-file",
                                         "a bearer token file is required to call the peer");
        else if (!read_token_file(peer->token_file, c->path, group, "token-file", &peer->token,
                                  error))
            *fine = FALSE;
    }
    if (!peer->accept_token_file)
        return TRUE;
    if (!read_token_file(peer->accept_token_file, c->path, group, "accept-token-file",
                         &peer->accept_token, error))
        return FALSE;
    /* A request must be tied to one peer. */
    for (guint i = 0; i < c->peers->len; i++) {
        const ItsmigdPeerConfig *other = g_ptr_array_index(c->peers, i);

        if (other->accept_token && !strcmp(other->accept_token, peer->accept_token))
            return itsmigd_config_error(error, c->path, group, "accept-token-file",
                                        "peer '%s' presents the same token: each peer needs its "
                                        "own",
                                        other->name);
    }
    return TRUE;
}

gboolean itsmigd_config_read_peer(ItsmigdConfig *c, GKeyFile *kf, const char *group, GError **error)
{
    g_autoptr(ItsmigdPeerConfig) peer = g_new0(ItsmigdPeerConfig, 1);
    const char *name = group + strlen(ITSMIGD_PEER_GROUP_PREFIX);
    PeerRead r = {peer, group, TRUE};

    if (!peer_name_free_to_use(c, group, name, error))
        return FALSE;
    peer->name = g_strdup(name);
    if (!itsmigd_config_read_group(c, kf, group, read_peer_key, &r, error))
        return FALSE;
    r.fine = peer_check_addresses(c, group, peer, error) && r.fine;
    if (!peer_read_tokens(c, group, peer, &r.fine, error) || !r.fine)
        return FALSE;
    g_ptr_array_add(c->peers, g_steal_pointer(&peer));
    return TRUE;
}
