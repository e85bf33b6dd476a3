/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <libvirt/libvirt.h>

#include "itsmig/compat.h"
#include "itsmig/error.h"
#include "daemon/http-routes.h"
#include "daemon/preflight.h"
#include "daemon/virt-names.h"

/*
 * The fleet's view: every domain's verdict against every peer whose
 * capabilities are at hand.  A scrape never waits for a peer: it starts a
 * background fetch of stale peers and shows what is cached.  Verdicts are
 * cached per domain and recomputed when the domain's view (its XML, or the
 * drivers bound to its host devices), this host's or a peer's capabilities or
 * the policy change, so that a scrape of thousands of domains costs little
 * more than printing them.  Time changes a verdict only through the
 * early-boot rule: a domain it named is judged again every
 * TIME_DEPENDENT_AGE.  Anything else the inputs do not show is caught up
 * within VERDICT_MAX_AGE, spread over domains.
 */

/* A peer that failed is asked again by a scrape after this long at the
 * soonest (or [peers] cache-ttl when longer). */
#define PEER_RETRY_S 10
/* A cached verdict is recomputed after this long plus a spread of up to as
 * much again, by domain, so that not every domain is judged in one scrape. */
#define VERDICT_MAX_AGE_US    (G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC)
#define TIME_DEPENDENT_AGE_US (10 * G_USEC_PER_SEC)

G_STATIC_ASSERT(ITSMIG_RULE_LAST <= 64);

typedef struct {
    gboolean known; /* the peer's capabilities were at hand */
    gboolean allowed;
    gboolean back_allowed;
    guint64 blockers; /* bit n: rule n */
} Cell;

typedef struct {
    ItsmigdDomainView *view; /* a new view is a new XML, or new hostdev facts */
    char *stamp;             /* the inputs besides the XML */
    gint64 expires_us;
    gboolean judged;         /* FALSE: the profile could not be read */
    gboolean time_dependent; /* a verdict names the early-boot rule */
    guint n_cells;
    Cell *cells; /* one per peer, in the order of the stamp's peers */
    /* The domain's samples, by family, as a scrape prints them, and how
     * many there are; a scrape only copies them. */
    GString *text[4];
    guint n_series;
    guint64 seen;
} Entry;

enum { TEXT_MIGRATABLE, TEXT_PEERS, TEXT_BLOCKED, TEXT_ONE_WAY };

static void entry_free(Entry *e)
{
    itsmigd_domain_view_unref(e->view);
    g_free(e->stamp);
    g_free(e->cells);
    for (gsize i = 0; i < G_N_ELEMENTS(e->text); i++)
        if (e->text[i])
            g_string_free(e->text[i], TRUE);
    g_free(e);
}

static GMutex cache_lock;
static GHashTable *cache; /* uuid -> Entry */
static guint64 cache_generation;

static void checksum_caps(GChecksum *sum, const ItsmigHostCaps *caps)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;
    gsize len;

    if (!caps) {
        g_checksum_update(sum, (const guchar *)"-", 2);
        return;
    }
    json_builder_begin_object(b);
    itsmig_host_caps_to_json_members(caps, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, &len);
    g_checksum_update(sum, (const guchar *)text, len + 1);
}

/* A peer's document digested, kept while the same fetch is cached: a
 * document with a register set takes longer to serialise than a scrape
 * takes to print. */
typedef struct {
    gint64 fetched_us;
    char *digest;
} PeerDigest;

static void peer_digest_free(PeerDigest *p)
{
    g_free(p->digest);
    g_free(p);
}

static GHashTable *peer_digests; /* peer name -> PeerDigest, under cache_lock */

static const char *peer_digest(const ItsmigdPeerStatus *p)
{
    PeerDigest *pd = g_hash_table_lookup(peer_digests, p->name);
    g_autoptr(GChecksum) sum = NULL;

    if (!p->caps)
        return "-";
    if (pd && pd->fetched_us == p->fetched_us)
        return pd->digest;
    sum = g_checksum_new(G_CHECKSUM_SHA256);
    checksum_caps(sum, p->caps);
    pd = g_new0(PeerDigest, 1);
    pd->fetched_us = p->fetched_us;
    pd->digest = g_strdup(g_checksum_get_string(sum));
    g_hash_table_replace(peer_digests, g_strdup(p->name), pd);
    return pd->digest;
}

/* Called with cache_lock held. */
static char *inputs_stamp(const ItsmigHostCaps *local, GPtrArray *peers,
                          const ItsmigCompatPolicy *policy)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint32 words[ITSMIG_RULE_LAST + 3];

    checksum_caps(sum, local);
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);
        const char *digest = peer_digest(p);

        g_checksum_update(sum, (const guchar *)p->name, strlen(p->name) + 1);
        g_checksum_update(sum, (const guchar *)digest, strlen(digest) + 1);
    }
    for (int r = 0; r < ITSMIG_RULE_LAST; r++)
        words[r] = policy->severity[r];
    words[ITSMIG_RULE_LAST] = policy->quiesce;
    words[ITSMIG_RULE_LAST + 1] = policy->early_boot_window;
    words[ITSMIG_RULE_LAST + 2] = policy->check_emulated;
    g_checksum_update(sum, (const guchar *)words, sizeof(words));
    return g_strdup(g_checksum_get_string(sum));
}

static guint64 rule_bits(GPtrArray *items)
{
    guint64 bits = 0;

    for (guint i = 0; items && i < items->len; i++) {
        const ItsmigVerdictItem *item = g_ptr_array_index(items, i);

        bits |= G_GUINT64_CONSTANT(1) << item->rule;
    }
    return bits;
}

/* Judges the domain against each peer, as the matrix does (both ways). */
static void judge_entry(Entry *e, const ItsmigHostCaps *local, GPtrArray *peers, GPtrArray *known,
                        const ItsmigCompatPolicy *policy)
{
    const ItsmigDomainProfile *profile = e->view->profile;

    g_free(e->cells);
    e->n_cells = peers->len;
    e->cells = g_new0(Cell, peers->len);
    e->judged = profile != NULL;
    e->time_dependent = FALSE;
    if (!profile)
        return;
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);
        Cell *c = &e->cells[i];
        g_autoptr(ItsmigVerdict) there = NULL;
        g_autoptr(ItsmigVerdict) back = NULL;

        if (!p->caps)
            continue;
        there = itsmigd_judge(profile, local, p->caps, known, policy);
        back = itsmigd_judge(profile, p->caps, local, known, policy);
        c->known = TRUE;
        c->allowed = there->allowed;
        c->back_allowed = back->allowed;
        c->blockers = rule_bits(there->blockers);
        e->time_dependent |= itsmig_verdict_has(there, ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET) ||
                             itsmig_verdict_has(back, ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET);
    }
}

static void append_domain_label(GString *out, const char *name)
{
    g_string_append(out, "{domain=\"");
    itsmigd_metrics_append_label(out, name);
    g_string_append_c(out, '"');
}

static void append_peer_label(GString *out, const char *peer)
{
    g_string_append(out, "peer=\"");
    itsmigd_metrics_append_label(out, peer);
    g_string_append_c(out, '"');
}

/* The domain's samples into e->text, and their count. */
static void entry_render(Entry *e, const char *name, GPtrArray *peers)
{
    guint judged = 0, allowed = 0;

    for (gsize i = 0; i < G_N_ELEMENTS(e->text); i++) {
        if (e->text[i])
            g_string_truncate(e->text[i], 0);
        else
            e->text[i] = g_string_new(NULL);
    }
    e->n_series = 0;
    for (guint i = 0; e->judged && i < e->n_cells; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);
        const Cell *c = &e->cells[i];
        GString *t;

        if (!c->known)
            continue;
        judged++;
        allowed += c->allowed;
        t = e->text[TEXT_MIGRATABLE];
        g_string_append(t, "itsmigd_domain_migratable");
        append_domain_label(t, name);
        g_string_append_c(t, ',');
        append_peer_label(t, p->name);
        g_string_append_printf(t, "} %d\n", c->allowed ? 1 : 0);
        e->n_series++;
        for (int r = 0; r < ITSMIG_RULE_LAST; r++) {
            if (!(c->blockers & (G_GUINT64_CONSTANT(1) << r)))
                continue;
            t = e->text[TEXT_BLOCKED];
            g_string_append(t, "itsmigd_domain_blocked");
            append_domain_label(t, name);
            g_string_append_c(t, ',');
            append_peer_label(t, p->name);
            g_string_append_printf(t, ",rule=\"%s\"} 1\n", itsmig_rule_to_string(r));
            e->n_series++;
        }
        if (c->allowed && !c->back_allowed) {
            t = e->text[TEXT_ONE_WAY];
            g_string_append(t, "itsmigd_domain_one_way");
            append_domain_label(t, name);
            g_string_append_c(t, ',');
            append_peer_label(t, p->name);
            g_string_append(t, "} 1\n");
            e->n_series++;
        }
    }
    if (judged) {
        GString *t = e->text[TEXT_PEERS];

        g_string_append(t, "itsmigd_domain_migratable_peers");
        append_domain_label(t, name);
        g_string_append_printf(t, "} %u\n", allowed);
        e->n_series++;
    }
}

/* What a scrape prints of the verdicts: the domains' samples by family, and
 * the counts over every domain, whatever the cap. */
typedef struct {
    GString *text[4];     /* by TEXT_* family */
    guint *blocked_count; /* [peer * ITSMIG_RULE_LAST + rule] */
    guint *one_way_count; /* [peer] */
    guint max, emitted, dropped_domains, dropped_series, unmigratable;
} Tally;

static void tally_clear(Tally *t)
{
    for (gsize i = 0; i < G_N_ELEMENTS(t->text); i++)
        g_string_free(t->text[i], TRUE);
    g_free(t->blocked_count);
    g_free(t->one_way_count);
}

/* The cached entry of each of @domains, judged again where its inputs
 * changed or its time ran out; entries of domains gone are dropped.  Under
 * cache_lock. */
static GPtrArray *refresh_entries(ItsmigDaemon *d, GPtrArray *domains, const ItsmigHostCaps *local,
                                  GPtrArray *peers, GPtrArray *known,
                                  const ItsmigCompatPolicy *policy)
{
    GPtrArray *entries = g_ptr_array_new();
    g_autofree char *stamp = inputs_stamp(local, peers, policy);
    gint64 now = g_get_monotonic_time();
    GHashTableIter iter;
    gpointer value;

    cache_generation++;
    for (guint k = 0; k < domains->len; k++) {
        const ItsmigdNamedView *x = g_ptr_array_index(domains, k);
        Entry *e = g_hash_table_lookup(cache, x->uuid);

        if (!e) {
            e = g_new0(Entry, 1);
            g_hash_table_insert(cache, g_strdup(x->uuid), e);
        }
        if (e->view != x->view || g_strcmp0(e->stamp, stamp) || now >= e->expires_us) {
            g_clear_pointer(&e->view, itsmigd_domain_view_unref);
            e->view = itsmigd_domain_view_ref(x->view);
            g_free(e->stamp);
            e->stamp = g_strdup(stamp);
            judge_entry(e, local, peers, known, policy);
            entry_render(e, x->name, peers);
            e->expires_us = now + (e->time_dependent
                                       ? TIME_DEPENDENT_AGE_US
                                       : VERDICT_MAX_AGE_US + (gint64)(g_str_hash(x->uuid) % 1000) *
                                                                  (VERDICT_MAX_AGE_US / 1000));
        }
        e->seen = cache_generation;
        g_ptr_array_add(entries, e);
    }
    g_hash_table_iter_init(&iter, cache);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        if (((Entry *)value)->seen != cache_generation)
            g_hash_table_iter_remove(&iter);
    return entries;
}

/* @e's samples into @t while the cap allows, and its verdicts into the counts. */
static void tally_entry(Tally *t, const Entry *e)
{
    guint allowed = 0, judged = 0;

    if (e->n_series == 0)
        return;
    if (t->emitted + e->n_series <= t->max) {
        t->emitted += e->n_series;
        for (gsize f = 0; f < G_N_ELEMENTS(t->text); f++)
            g_string_append_len(t->text[f], e->text[f]->str, e->text[f]->len);
    } else {
        t->dropped_domains++;
        t->dropped_series += e->n_series;
    }
    for (guint i = 0; i < e->n_cells; i++) {
        const Cell *c = &e->cells[i];

        if (!c->known)
            continue;
        judged++;
        allowed += c->allowed;
        for (guint64 bits = c->blockers; bits; bits &= bits - 1)
            t->blocked_count[i * ITSMIG_RULE_LAST + __builtin_ctzll(bits)]++;
        if (c->allowed && !c->back_allowed)
            t->one_way_count[i]++;
    }
    t->unmigratable += judged && allowed == 0;
}

/* "METRIC{peer="NAME"": the caller adds any other label and the value. */
static void append_peer_series(GString *out, const char *metric, const char *peer)
{
    g_string_append(out, metric);
    g_string_append_c(out, '{');
    append_peer_label(out, peer);
}

static void print_domain_samples(GString *out, const Tally *t)
{
    g_string_append(out, "# HELP itsmigd_domain_migratable Whether the domain may move to the "
                         "peer now (1) or has blockers (0); only peers whose capabilities are "
                         "at hand.\n# TYPE itsmigd_domain_migratable gauge\n");
    g_string_append_len(out, t->text[TEXT_MIGRATABLE]->str, t->text[TEXT_MIGRATABLE]->len);
    g_string_append(out, "# HELP itsmigd_domain_migratable_peers Peers the domain may move to "
                         "now, among those whose capabilities are at hand (none at hand: no "
                         "sample).\n# TYPE itsmigd_domain_migratable_peers gauge\n");
    g_string_append_len(out, t->text[TEXT_PEERS]->str, t->text[TEXT_PEERS]->len);
    g_string_append(out, "# HELP itsmigd_domain_blocked A blocker of the domain's move to the "
                         "peer, by rule code (itsmig-compat(7)).\n"
                         "# TYPE itsmigd_domain_blocked gauge\n");
    g_string_append_len(out, t->text[TEXT_BLOCKED]->str, t->text[TEXT_BLOCKED]->len);
    g_string_append(out, "# HELP itsmigd_domain_one_way The domain may move to the peer but "
                         "not come back from it.\n# TYPE itsmigd_domain_one_way gauge\n");
    g_string_append_len(out, t->text[TEXT_ONE_WAY]->str, t->text[TEXT_ONE_WAY]->len);
}

/* Counts over every domain, whatever the cap. */
static void print_counts(GString *out, GPtrArray *peers, const Tally *t)
{
    g_string_append_printf(out,
                           "# HELP itsmigd_domains_unmigratable Domains that may move to none "
                           "of the peers whose capabilities are at hand.\n"
                           "# TYPE itsmigd_domains_unmigratable gauge\n"
                           "itsmigd_domains_unmigratable %u\n"
                           "# HELP itsmigd_domains_blocked Domains whose move to the peer has "
                           "the rule as a blocker.\n# TYPE itsmigd_domains_blocked gauge\n",
                           t->unmigratable);
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);

        for (int r = 0; r < ITSMIG_RULE_LAST; r++) {
            if (!t->blocked_count[i * ITSMIG_RULE_LAST + r])
                continue;
            append_peer_series(out, "itsmigd_domains_blocked", p->name);
            g_string_append_printf(out, ",rule=\"%s\"} %u\n", itsmig_rule_to_string(r),
                                   t->blocked_count[i * ITSMIG_RULE_LAST + r]);
        }
    }
    g_string_append(out, "# HELP itsmigd_domains_one_way Domains that may move to the peer but "
                         "not come back.\n# TYPE itsmigd_domains_one_way gauge\n");
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);

        if (p->caps) {
            append_peer_series(out, "itsmigd_domains_one_way", p->name);
            g_string_append_printf(out, "} %u\n", t->one_way_count[i]);
        }
    }
    g_string_append_printf(out,
                           "# HELP itsmigd_metrics_domain_series_max [metrics] "
                           "max-domain-series: the most per-domain series a scrape shows.\n"
                           "# TYPE itsmigd_metrics_domain_series_max gauge\n"
                           "itsmigd_metrics_domain_series_max %u\n"
                           "# HELP itsmigd_metrics_domain_series Per-domain series in this "
                           "scrape.\n# TYPE itsmigd_metrics_domain_series gauge\n"
                           "itsmigd_metrics_domain_series %u\n"
                           "# HELP itsmigd_metrics_domains_dropped Domains whose series were "
                           "left out of this scrape to stay within the cap.\n"
                           "# TYPE itsmigd_metrics_domains_dropped gauge\n"
                           "itsmigd_metrics_domains_dropped %u\n"
                           "# HELP itsmigd_metrics_domain_series_dropped Per-domain series left "
                           "out of this scrape to stay within the cap.\n"
                           "# TYPE itsmigd_metrics_domain_series_dropped gauge\n"
                           "itsmigd_metrics_domain_series_dropped %u\n",
                           t->max, t->emitted, t->dropped_domains, t->dropped_series);
}

static void render_verdicts(ItsmigDaemon *d, GString *out, GPtrArray *peers)
{
    g_autoptr(ItsmigHostCaps) local = itsmigd_host_get_caps(&d->host);
    g_autoptr(GPtrArray) domains = itsmigd_registry_all_views(d->registry, &d->host);
    g_autoptr(GPtrArray) known = g_ptr_array_new();
    g_autoptr(GPtrArray) entries = NULL;
    Tally t = {
        .blocked_count = g_new0(guint, (gsize)peers->len * ITSMIG_RULE_LAST),
        .one_way_count = g_new0(guint, peers->len + 1),
        .max = itsmigd_metrics_domain_series_max(d->metrics),
    };
    ItsmigCompatPolicy policy;

    for (gsize f = 0; f < G_N_ELEMENTS(t.text); f++)
        t.text[f] = g_string_new(NULL);
    itsmigd_host_get_policy(&d->host, &policy);
    /* The one-way rule's hosts: every peer at hand and this one. */
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);

        if (p->caps)
            g_ptr_array_add(known, p->caps);
    }
    g_ptr_array_add(known, local);

    g_mutex_lock(&cache_lock);
    if (!cache) {
        cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)entry_free);
        peer_digests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify)peer_digest_free);
    }
    entries = refresh_entries(d, domains, local, peers, known, &policy);
    for (guint k = 0; k < entries->len; k++)
        tally_entry(&t, g_ptr_array_index(entries, k));
    g_mutex_unlock(&cache_lock);

    print_domain_samples(out, &t);
    print_counts(out, peers, &t);
    tally_clear(&t);
}

static void render_peers(GString *out, GPtrArray *peers)
{
    gint64 now = g_get_monotonic_time();

    g_string_append(out, "# HELP itsmigd_peer_up Whether the last fetch of the peer's "
                         "capabilities succeeded (no sample before the first).\n"
                         "# TYPE itsmigd_peer_up gauge\n");
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);

        if (p->up < 0)
            continue;
        append_peer_series(out, "itsmigd_peer_up", p->name);
        g_string_append_printf(out, "} %d\n", p->up);
    }
    g_string_append(out, "# HELP itsmigd_peer_capabilities_age_seconds Age of the peer's "
                         "cached capabilities, which the verdicts use.\n"
                         "# TYPE itsmigd_peer_capabilities_age_seconds gauge\n");
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);

        if (!p->caps)
            continue;
        append_peer_series(out, "itsmigd_peer_capabilities_age_seconds", p->name);
        g_string_append_printf(out, "} %.3f\n", (now - p->fetched_us) / 1e6);
    }
    g_string_append(out, "# HELP itsmigd_peer_fetch_failures_total Failed fetches of the "
                         "peer's capabilities, by error code.\n"
                         "# TYPE itsmigd_peer_fetch_failures_total counter\n");
    for (guint i = 0; i < peers->len; i++) {
        const ItsmigdPeerStatus *p = g_ptr_array_index(peers, i);

        for (int code = 0; code < ITSMIG_ERROR_LAST; code++) {
            if (!p->failures[code])
                continue;
            append_peer_series(out, "itsmigd_peer_fetch_failures_total", p->name);
            g_string_append_printf(out, ",code=\"%s\"} %" G_GUINT64_FORMAT "\n",
                                   itsmig_error_code_to_string(code), p->failures[code]);
        }
    }
}

static void append_info(GString *out, const char *label, const char *value, gboolean known)
{
    g_string_append_printf(out, ",%s=\"", label);
    itsmigd_metrics_append_label(out, known && value ? value : "unknown");
    g_string_append_c(out, '"');
}

static const char *yes_no(gboolean value)
{
    return value ? "true" : "false";
}

/* What the probe found (or the configuration declared), as labels. */
static void render_host_info(ItsmigDaemon *d, GString *out)
{
    g_autoptr(ItsmigHostCaps) c = itsmigd_host_get_caps(&d->host);
    g_autoptr(GString) revs = g_string_new(NULL);
    g_autofree char *page = g_strdup_printf("%u", c->page_size);
    g_autofree char *def = g_strdup_printf("%u", c->default_its_abi_revision);
    g_autofree char *gicd = g_strdup_printf("%u", c->gicd_revision);
    const ItsmigCapMeta *m = c->meta;

    for (guint r = 0; r < 16; r++)
        if (c->its_abi_revisions & (1u << r))
            g_string_append_printf(revs, "%s%u", revs->len ? "," : "", r);
    g_string_append(out, "# HELP itsmigd_host_info This host's capabilities as peers see them "
                         "(GET /v1/host), probed or declared; \"unknown\" when neither.\n"
                         "# TYPE itsmigd_host_info gauge\nitsmigd_host_info{hostname=\"");
    itsmigd_metrics_append_label(out, c->hostname);
    g_string_append_c(out, '"');
    append_info(out, "probe", c->probe_unavailable_reason ? "unavailable" : "ran", TRUE);
    append_info(out, "arch", c->arch, m[ITSMIG_CAP_ARCH].source);
    append_info(out, "page_size", page, m[ITSMIG_CAP_PAGE_SIZE].source);
    append_info(out, "kernel_release", c->kernel_release, m[ITSMIG_CAP_KERNEL_RELEASE].source);
    append_info(out, "qemu_version", c->qemu_version, m[ITSMIG_CAP_QEMU_VERSION].source);
    append_info(out, "libvirt_version", c->libvirt_version, m[ITSMIG_CAP_LIBVIRT_VERSION].source);
    append_info(out, "vgic_its", yes_no(c->vgic_its), m[ITSMIG_CAP_VGIC_ITS].source);
    append_info(out, "its_abi_revisions", revs->len ? revs->str : "none",
                m[ITSMIG_CAP_ITS_ABI_REVISIONS].source);
    append_info(out, "default_its_abi_revision", def,
                m[ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION].source);
    append_info(out, "gicd_revision", gicd, m[ITSMIG_CAP_GICD_REVISION].source);
    append_info(out, "gicv4", itsmig_gicv4_level_to_string(c->gicv4), m[ITSMIG_CAP_GICV4].source);
    append_info(out, "save_tables", yes_no(c->save_tables), m[ITSMIG_CAP_SAVE_TABLES].source);
    append_info(out, "restore_tables", yes_no(c->restore_tables),
                m[ITSMIG_CAP_RESTORE_TABLES].source);
    append_info(out, "ctrl_reset", yes_no(c->ctrl_reset), m[ITSMIG_CAP_CTRL_RESET].source);
    append_info(out, "save_pending_tables", yes_no(c->save_pending_tables),
                m[ITSMIG_CAP_SAVE_PENDING_TABLES].source);
    append_info(out, "vcpu_registers_digest", c->regs_digest, c->regs_digest != NULL);
    g_string_append(out, "} 1\n");
}

static void render_jobs(ItsmigDaemon *d, GString *out)
{
    guint counts[ITSMIG_PHASE_LAST];

    itsmigd_orchestrator_count_by_phase(d->orchestrator, counts);
    g_string_append(out, "# HELP itsmigd_migrations Migration jobs kept (running, and the last "
                         "finished ones), by phase; failed-needs-attention jobs need a person.\n"
                         "# TYPE itsmigd_migrations gauge\n");
    for (int p = 0; p < ITSMIG_PHASE_LAST; p++)
        g_string_append_printf(out, "itsmigd_migrations{phase=\"%s\"} %u\n",
                               itsmig_phase_to_string(p), counts[p]);
}

/* GET /metrics: Prometheus text format. */
gboolean itsmigd_http_metrics(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(GString) out = g_string_sized_new(4096);
    g_autoptr(GBytes) body = NULL;
    g_autoptr(GPtrArray) peers = NULL;
    guint counts[VIR_DOMAIN_LAST];

    itsmigd_peers_refresh_in_background(d->peers, PEER_RETRY_S);
    peers = itsmigd_peers_status(d->peers);
    itsmigd_registry_count_by_state(d->registry, counts, G_N_ELEMENTS(counts));
    g_string_append(out, "# HELP itsmigd_domains Domains known to the registry, by state.\n"
                         "# TYPE itsmigd_domains gauge\n");
    for (int s = 0; s < VIR_DOMAIN_LAST; s++)
        g_string_append_printf(out, "itsmigd_domains{state=\"%s\"} %u\n", itsmigd_state_name(s),
                               counts[s]);
    g_string_append_printf(out,
                           "# HELP itsmigd_domain_xml_parses_total Domain XML documents parsed "
                           "into ITS profiles (once per change of a domain's XML or of its host "
                           "devices' drivers).\n# TYPE itsmigd_domain_xml_parses_total counter\n"
                           "itsmigd_domain_xml_parses_total %" G_GUINT64_FORMAT "\n",
                           itsmigd_domain_view_reads());
    g_string_append_printf(
        out,
        "# HELP itsmigd_libvirt_connected Whether the libvirt connection is up.\n"
        "# TYPE itsmigd_libvirt_connected gauge\n"
        "itsmigd_libvirt_connected %d\n"
        "# HELP itsmigd_events_published_total Events published on /v1/events.\n"
        "# TYPE itsmigd_events_published_total counter\n"
        "itsmigd_events_published_total %" G_GUINT64_FORMAT "\n"
        "# HELP itsmigd_event_streams Open /v1/events streams.\n"
        "# TYPE itsmigd_event_streams gauge\n"
        "itsmigd_event_streams %u\n",
        itsmigd_virt_is_connected(d->virt) ? 1 : 0, itsmigd_event_bus_published(d->bus),
        itsmigd_event_bus_streams(d->bus));
    render_host_info(d, out);
    render_peers(out, peers);
    render_verdicts(d, out, peers);
    render_jobs(d, out);
    itsmigd_metrics_render(d->metrics, out);
    body = g_string_free_to_bytes(g_steal_pointer(&out));
    itsmigd_http_reply_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", body);
    return TRUE;
}
