/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The destination's side of a migration, asked by the source's itsmigd:
 * whether the incoming copy exists and what its QEMU logged about restoring
 * the ITS, and resuming, destroying (only a paused copy) and attaching
 * devices to it.  Each call is idempotent, so that a source that retries
 * after a crash gets the same result.
 *
 * An action needs a domain that is really arriving from the caller: the
 * hook's record of an incoming migration (less than a day old), the job the
 * caller names in the migration record that came in the domain's live
 * metadata (migration-record.h), and, on TCP, a MAC there that only the
 * caller's token gives.  A device is attached only when that record lists
 * its alias, from the XML recorded there before the source detached it.
 */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/qemu-log.h"
#include "daemon/http-routes.h"
#include "daemon/domain-metadata.h"
#include "daemon/its-evidence.h"
#include "daemon/log.h"
#include "daemon/migration-record.h"
#include "daemon/virt-domain.h"
#include "daemon/virt-repair.h"
#include "daemon/virt-names.h"

/* What is read of a QEMU log, from its end. */
#define LOG_TAIL_MAX (4 * 1024 * 1024)
/* libvirt's line at each start of the domain's QEMU. */
#define START_MARK "starting up libvirt version"

typedef struct {
    virConnectPtr conn;
    virDomainPtr dom; /* NULL when absent */
    char uuid[VIR_UUID_STRING_BUFLEN];
} Incoming;

static void incoming_clear(Incoming *in)
{
    g_clear_pointer(&in->dom, virDomainFree);
    g_clear_pointer(&in->conn, virConnectClose);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Incoming, incoming_clear)

static gboolean uuid_valid(const char *s)
{
    int n = 0;

    /* 8-4-4-4-12 hex, the form libvirt prints. */
    if (strlen(s) != 36)
        return FALSE;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return FALSE;
        } else if (!g_ascii_isxdigit(s[i])) {
            return FALSE;
        } else {
            n++;
        }
    }
    return n == 32;
}

static gboolean incoming_open(ItsmigdHttpRequest *req, Incoming *in, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    const char *uuid = itsmigd_http_request_param(req, 0);
    g_autoptr(GError) local = NULL;

    if (!uuid_valid(uuid)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID",
                    uuid);
        return FALSE;
    }
    g_strlcpy(in->uuid, uuid, sizeof(in->uuid));
    in->conn = itsmigd_virt_ref_connection(d->virt);
    if (!in->conn) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "not connected to libvirt");
        return FALSE;
    }
    in->dom = itsmigd_virt_domain_lookup(in->conn, uuid, &local);
    if (!in->dom && !g_error_matches(local, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return TRUE;
}

/* What the domain's QEMU logged about the ITS since it last started. */
static JsonNode *restore_evidence(ItsmigDaemon *d, const char *name,
                                  const ItsmigDomainProfile *profile)
{
    g_autofree char *dir = itsmigd_orchestrator_qemu_log_dir(d->orchestrator);
    g_autofree char *path = g_strdup_printf("%s/%s.log", dir, name);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = NULL;
    g_autofree char *first = NULL;
    ItsmigCompatPolicy policy;
    goffset size;
    gboolean truncated = FALSE;
    const char *data, *from;
    gsize len;

    itsmigd_host_get_policy(&d->host, &policy);
    if (profile && !itsmig_domain_profile_its_in_kernel(profile) && !policy.check_emulated)
        return itsmigd_its_evidence_not_kvm();
    size = itsmig_qemu_log_size(path, &error);
    if (size < 0 || !itsmig_qemu_log_read(path, MAX(0, size - LOG_TAIL_MAX), LOG_TAIL_MAX, &text,
                                          &truncated, NULL, &error)) {
        g_autofree char *why = g_strdup_printf("cannot read the QEMU log: %s", error->message);

        return itsmigd_its_evidence(FALSE, "qemu-log", why, path, NULL, NULL);
    }
    data = g_bytes_get_data(text, &len);
    /* Only this run of QEMU: from libvirt's last start line on. */
    from = data;
    for (const char *p = data; (p = g_strstr_len(p, len - (p - data), START_MARK)); p++)
        from = p;
    return itsmigd_its_evidence_scan(path, from, len - (from - data),
                                     1u << ITSMIG_QEMU_LOG_ITS_RESTORE |
                                         1u << ITSMIG_QEMU_LOG_ITS_REGS,
                                     "ITS restore", "in what QEMU logged since it started", &first);
}

/* Whether the caller may see the domain's name and its QEMU's ITS lines: the
 * local administrator, or the peer whose token gives the MAC of the
 * migration record that came with the domain.  Any other peer learns only
 * whether the UUID is taken here and in what state (a source needs that much
 * before it sends a domain). */
static gboolean caller_migrated(ItsmigdHttpRequest *req, Incoming *in)
{
    g_autofree char *meta = NULL;
    g_autofree char *lower = NULL;
    g_autofree char *mac = NULL;
    g_autoptr(ItsmigdMigrationRecord) record = NULL;

    if (!itsmigd_http_request_peer(req))
        return TRUE;
    if (!in->dom)
        return FALSE;
    meta = virDomainGetMetadata(in->dom, VIR_DOMAIN_METADATA_ELEMENT, ITSMIGD_MIGRATION_NS,
                                VIR_DOMAIN_AFFECT_LIVE);
    record = meta ? itsmigd_migration_record_parse(meta, NULL) : NULL;
    if (!record)
        return FALSE;
    lower = g_ascii_strdown(in->uuid, -1);
    mac = itsmigd_http_request_peer_mac(req, lower, record->job);
    return mac && strcmp(mac, record->peer_mac) == 0;
}

/* The view of the domain as it is now, the registry's when libvirt's XML is
 * the same (so not parsed again); NULL when the XML cannot be read. */
static ItsmigdDomainView *domain_view(ItsmigDaemon *d, Incoming *in)
{
    char *text = virDomainGetXMLDesc(in->dom, 0);
    g_autoptr(GBytes) xml = NULL;
    g_autofree char *uuid = NULL;

    if (!text)
        return NULL;
    xml = g_bytes_new_take(text, strlen(text));
    uuid = g_ascii_strdown(in->uuid, -1);
    return itsmigd_registry_update_view(d->registry, &d->host, uuid, xml, FALSE);
}

/* Whether another domain (another UUID) holds the name ?name= asks about, which libvirt would
 * refuse to migrate in; -1 when not asked or it cannot be told. */
static int name_taken_here(ItsmigdHttpRequest *req, Incoming *in)
{
    const char *name = itsmigd_http_request_query(req, "name");
    g_autoptr(virDomain) other = NULL;
    g_autoptr(GError) error = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (!name || !in->conn)
        return -1;
    other = virDomainLookupByName(in->conn, name);
    if (!other) {
        itsmigd_virt_error(&error, NULL);
        return g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND) ? 0 : -1;
    }
    return virDomainGetUUIDString(other, uuid) == 0 ? g_ascii_strcasecmp(uuid, in->uuid) != 0 : -1;
}

static void reply_state(ItsmigdHttpRequest *req, Incoming *in, unsigned int status)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    int state = -1, reason = 0;
    gboolean ours = caller_migrated(req, in);
    const char *name = in->dom && ours ? virDomainGetName(in->dom) : NULL;
    gboolean present = in->dom && itsmigd_virt_domain_get_state(in->dom, &state, &reason, NULL);
    g_autoptr(ItsmigdDomainView) view = present && ours ? domain_view(d, in) : NULL;
    int name_taken = name_taken_here(req, in);

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "uuid", in->uuid);
    itsmig_json_add_string_or_null(b, "domain", name);
    json_builder_set_member_name(b, "present");
    json_builder_add_boolean_value(b, present && state != VIR_DOMAIN_SHUTOFF);
    itsmig_json_add_string_or_null(b, "state", present ? itsmigd_state_name(state) : NULL);
    itsmig_json_add_string_or_null(b, "reason",
                                   present ? itsmigd_state_reason_name(state, reason) : NULL);
    json_builder_set_member_name(b, "name_taken");
    if (name_taken < 0)
        json_builder_add_null_value(b);
    else
        json_builder_add_boolean_value(b, name_taken);
    json_builder_set_member_name(b, "its_restore");
    if (present && state != VIR_DOMAIN_SHUTOFF && !ours)
        json_builder_add_value(b, itsmigd_its_evidence(FALSE, "not-applicable",
                                                       "the domain is not one this peer "
                                                       "migrated here",
                                                       NULL, NULL, NULL));
    else if (present && state != VIR_DOMAIN_SHUTOFF)
        json_builder_add_value(b, restore_evidence(d, name, view ? view->profile : NULL));
    else
        json_builder_add_value(b, itsmigd_its_evidence(FALSE, "not-applicable",
                                                       "the domain is not here", NULL, NULL, NULL));
    json_builder_end_object(b);
    itsmigd_http_reply_builder(req, status, b);
}

/* GET /v1/incoming/{uuid} */
gboolean itsmigd_http_incoming_get(ItsmigdHttpRequest *req, GError **error)
{
    static const char *const known[] = {"name", NULL};
    g_auto(Incoming) in = {0};

    if (!itsmigd_http_request_check_query(req, known, error) || !incoming_open(req, &in, error))
        return FALSE;
    reply_state(req, &in, 200);
    return TRUE;
}

/* A domain that is not here counts as shut off. */
static gboolean current_state(Incoming *in, int *state, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (in->dom && itsmigd_virt_domain_get_state(in->dom, state, NULL, &local))
        return TRUE;
    if (local && !g_error_matches(local, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    *state = VIR_DOMAIN_SHUTOFF;
    return TRUE;
}

/* How old a hook record of an incoming migration may be and still count. */
#define ARRIVAL_MAX_AGE_S (24 * 3600)

/* What a POST names and what the checks found. */
typedef struct {
    const char *job;
    const char *alias; /* attach */
    ItsmigdMigrationRecord *record;
} Claim;

static gboolean refuse(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean refuse(GError **error, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (error)
        *error = g_error_new_valist(ITSMIG_ERROR, code, fmt, ap);
    va_end(ap);
    return FALSE;
}

/* Is @in a domain arriving from the caller, for @claim's job?  Fills
 * claim->record. */
static gboolean check_arrival(ItsmigdHttpRequest *req, Incoming *in, Claim *claim, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autofree char *dir = itsmigd_orchestrator_hook_record_dir(d->orchestrator);
    g_autofree char *lower = g_ascii_strdown(in->uuid, -1);
    g_autofree char *meta = NULL;
    g_autofree char *mac = NULL;
    g_autoptr(GError) local = NULL;
    const char *peer = itsmigd_http_request_peer(req);
    const char *name = virDomainGetName(in->dom);
    g_autoptr(ItsmigHookRecord) hook = NULL;
    g_autoptr(GError) problem = NULL;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    hook = itsmig_hook_record_load(dir, lower, &problem);
    if (!hook || !hook->incoming || !hook->migrate_begin_at ||
        now - hook->migrate_begin_at > ARRIVAL_MAX_AGE_S || hook->migrate_begin_at > now + 60)
        return refuse(error, ITSMIG_ERROR_CONFLICT,
                      "domain %s did not arrive here by migration in the last day (%s)", name,
                      problem ? problem->message : "no hook record of an incoming migration");
    meta = virDomainGetMetadata(in->dom, VIR_DOMAIN_METADATA_ELEMENT, ITSMIGD_MIGRATION_NS,
                                VIR_DOMAIN_AFFECT_LIVE);
    if (!meta)
        return refuse(error, ITSMIG_ERROR_CONFLICT,
                      "domain %s carries no migration record: no itsmigd migrated it here", name);
    claim->record = itsmigd_migration_record_parse(meta, &local);
    if (!claim->record)
        return refuse(error, ITSMIG_ERROR_CONFLICT, "domain %s: %s", name, local->message);
    if (strcmp(claim->record->job, claim->job) != 0)
        return refuse(error, ITSMIG_ERROR_CONFLICT, "domain %s arrived with job %s, not %s", name,
                      claim->record->job, claim->job);
    /* The unix socket is the local administrator's: no peer to match. */
    mac = peer ? itsmigd_http_request_peer_mac(req, lower, claim->job) : NULL;
    if (peer && (!mac || strcmp(mac, claim->record->peer_mac) != 0))
        return refuse(error, ITSMIG_ERROR_FORBIDDEN,
                      "job %s of domain %s is not peer %s's migration", claim->job, name, peer);
    return TRUE;
}

/* A pause that a migration leaves; not one after an error or a crash. */
static gboolean paused_by_migration(Incoming *in, GError **error)
{
    int state, reason;

    if (!itsmigd_virt_domain_get_state(in->dom, &state, &reason, error))
        return FALSE;
    if (state == VIR_DOMAIN_PAUSED && reason != VIR_DOMAIN_PAUSED_MIGRATION &&
        reason != VIR_DOMAIN_PAUSED_USER && reason != VIR_DOMAIN_PAUSED_POSTCOPY &&
        reason != VIR_DOMAIN_PAUSED_STARTING_UP)
        return refuse(error, ITSMIG_ERROR_CONFLICT,
                      "domain %s is paused (%s), not by a migration: left to the administrator",
                      virDomainGetName(in->dom), itsmigd_state_reason_name(state, reason));
    return TRUE;
}

/* Each POST: what it does to the domain in @state, from its request. */
typedef gboolean (*IncomingAction)(Incoming *in, int state, const Claim *claim, GError **error);

/* Opens the domain, checks that it is arriving from the caller for the
 * job, acts, and answers with its state or the error. */
static gboolean incoming_act(ItsmigdHttpRequest *req, IncomingAction act, Claim *claim,
                             GError **error)
{
    g_auto(Incoming) in = {0};
    gboolean done;
    int state;

    done = incoming_open(req, &in, error) && current_state(&in, &state, error) &&
           (state == VIR_DOMAIN_SHUTOFF ||
            (check_arrival(req, &in, claim, error) && paused_by_migration(&in, error))) &&
           act(&in, state, claim, error);
    if (done)
        reply_state(req, &in, 200);
    itsmigd_migration_record_free(claim->record);
    claim->record = NULL;
    return done;
}

static gboolean need_domain(Incoming *in, int state, GError **error)
{
    if (state != VIR_DOMAIN_SHUTOFF)
        return TRUE;
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "domain %s is not here", in->uuid);
    return FALSE;
}

static gboolean resume(Incoming *in, int state, const Claim *claim, GError **error)
{
    if (!need_domain(in, state, error) || !itsmigd_virt_domain_resume(in->dom, error))
        return FALSE;
    itsmigd_log_job(G_LOG_LEVEL_MESSAGE, virDomainGetName(in->dom), claim->job,
                    "incoming migration %s: resumed at the source's request", claim->job);
    return TRUE;
}

/* A paused copy only. */
static gboolean destroy(Incoming *in, int state, const Claim *claim, GError **error)
{
    const char *name;

    if (state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_PAUSED) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                    "domain %s is %s here: itsmigd never destroys a running guest",
                    virDomainGetName(in->dom), itsmigd_state_name(state));
        return FALSE;
    }
    if (state != VIR_DOMAIN_PAUSED)
        return TRUE;
    name = virDomainGetName(in->dom);
    if (virDomainDestroy(in->dom) < 0) {
        itsmigd_virt_error(error, "cannot destroy %s", name);
        return FALSE;
    }
    itsmigd_log_job(G_LOG_LEVEL_MESSAGE, name, claim->job,
                    "incoming migration %s: paused copy destroyed at the source's request "
                    "(rollback)",
                    claim->job);
    return TRUE;
}

static gboolean attach(Incoming *in, int state, const Claim *claim, GError **error)
{
    gboolean attached, repaired;
    const char *xml;

    if (!need_domain(in, state, error))
        return FALSE;
    xml = itsmigd_migration_record_device(claim->record, claim->alias);
    if (!xml) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                    "job %s detached no device '%s' from domain %s", claim->job, claim->alias,
                    virDomainGetName(in->dom));
        return FALSE;
    }
    /* Already there (a retry): nothing to do. */
    if (!itsmigd_virt_domain_attach_repairing(in->dom, claim->alias, xml, 0, &attached, &repaired,
                                              error))
        return FALSE;
    if (repaired)
        itsmigd_log_job(G_LOG_LEVEL_MESSAGE, virDomainGetName(in->dom), claim->job,
                        "incoming migration %s: QEMU still had device %s, which libvirt did not "
                        "list; it was removed from QEMU (device_del)",
                        claim->job, claim->alias);
    if (attached)
        itsmigd_log_job(G_LOG_LEVEL_MESSAGE, virDomainGetName(in->dom), claim->job,
                        "incoming migration %s: device %s attached again at the source's "
                        "request",
                        claim->job, claim->alias);
    return TRUE;
}

/* {"job": ID} or, with @alias, {"job": ID, "alias": ALIAS}: nothing else. */
static gboolean read_claim(ItsmigdHttpRequest *req, gboolean alias, Claim *ret_claim,
                           GError **error)
{
    static const char *const job_only[] = {"job", NULL};
    static const char *const job_alias[] = {"job", "alias", NULL};
    JsonObject *body = json_node_get_object(itsmigd_http_request_json(req));
    const char *job = itsmig_json_lookup_string(body, "job");
    const char *al = itsmig_json_lookup_string(body, "alias");

    if (!itsmigd_http_check_members(body, alias ? job_alias : job_only, "the request body", error))
        return FALSE;
    if (!job || !*job || (alias && (!al || !*al))) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "the body must be {\"job\": ID%s}", alias ? ", \"alias\": ALIAS" : "");
        return FALSE;
    }
    ret_claim->job = job;
    ret_claim->alias = alias ? al : NULL;
    return TRUE;
}

static gboolean incoming_post(ItsmigdHttpRequest *req, IncomingAction act, gboolean alias,
                              GError **error)
{
    Claim claim = {0};

    return read_claim(req, alias, &claim, error) && incoming_act(req, act, &claim, error);
}

/* POST /v1/incoming/{uuid}/resume {"job": ID} */
gboolean itsmigd_http_incoming_resume(ItsmigdHttpRequest *req, GError **error)
{
    return incoming_post(req, resume, FALSE, error);
}

/* POST /v1/incoming/{uuid}/destroy {"job": ID} */
gboolean itsmigd_http_incoming_destroy(ItsmigdHttpRequest *req, GError **error)
{
    return incoming_post(req, destroy, FALSE, error);
}

/* POST /v1/incoming/{uuid}/attach {"job": ID, "alias": ALIAS} */
gboolean itsmigd_http_incoming_attach(ItsmigdHttpRequest *req, GError **error)
{
    return incoming_post(req, attach, TRUE, error);
}
