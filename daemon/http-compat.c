/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/compat.h"
#include "itsmig/error.h"
#include "itsmig/hook-record.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "daemon/http-routes.h"
#include "daemon/log.h"
#include "daemon/preflight.h"

/* Most peers a matrix request may name. */
#define MATRIX_PEERS_MAX 256
/* The longest domain name POST /v1/hook/refused takes. */
#define HOOK_NAME_MAX 256

static void reply_verdict(ItsmigdHttpRequest *req, const ItsmigDomainProfile *profile,
                          const char *uuid, const char *source, const char *destination,
                          const char *destination_hostname, const ItsmigVerdict *verdict)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "domain", profile->name);
    itsmig_json_add_string_or_null(b, "uuid", uuid ? uuid : profile->uuid);
    itsmig_json_add_string_or_null(b, "source", source);
    itsmig_json_add_string_or_null(b, "destination", destination);
    itsmig_json_add_string_or_null(b, "destination_hostname", destination_hostname);
    itsmig_verdict_to_json_members(verdict, b);
    json_builder_end_object(b);
    itsmigd_http_reply_builder(req, 200, b);
}

/* POST /v1/domains/{name}/preflight {"destination": PEER, "quiesce": bool} */
gboolean itsmigd_http_domains_preflight(ItsmigdHttpRequest *req, GError **error)
{
    static const char *const members[] = {"destination", "quiesce", NULL};
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    const char *name = itsmigd_http_request_param(req, 0);
    JsonObject *body = json_node_get_object(itsmigd_http_request_json(req));
    g_autofree char *uuid = NULL;
    g_autoptr(ItsmigdDomainView) view = NULL;
    g_autoptr(ItsmigHostCaps) local = NULL;
    g_autoptr(ItsmigHostCaps) dest = NULL;
    g_autoptr(ItsmigVerdict) verdict = NULL;
    ItsmigCompatPolicy policy;
    const ItsmigJsonAt at = {ITSMIG_ERROR_INVALID_ARGUMENT, NULL, NULL};
    const char *destination;

    if (!itsmigd_http_check_members(body, members, "the request body", error))
        return FALSE;
    destination = itsmig_json_lookup_string(body, "destination");
    if (!destination || !*destination)
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                                 "\"destination\" must name a configured peer");
    itsmigd_host_get_policy(&d->host, &policy);
    if (json_object_has_member(body, "quiesce") &&
        !itsmig_json_get_bool(&at, body, "quiesce", &policy.quiesce, error))
        return FALSE;

    verdict = itsmigd_preflight(d, name, destination, &policy, &uuid, &view, &local, &dest, error);
    if (!verdict)
        return FALSE;
    reply_verdict(req, view->profile, uuid, local->hostname, destination, dest->hostname, verdict);
    return TRUE;
}

static void add_codes(JsonBuilder *b, const char *key, GPtrArray *items)
{
    json_builder_set_member_name(b, key);
    json_builder_begin_array(b);
    for (guint i = 0; items && i < items->len; i++) {
        const ItsmigVerdictItem *item = g_ptr_array_index(items, i);

        json_builder_add_string_value(b, itsmig_rule_to_string(item->rule));
    }
    json_builder_end_array(b);
}

/* The peers a matrix request names: its "peers", or every configured one. */
static char **matrix_peers(ItsmigDaemon *d, JsonObject *body, GError **error)
{
    static const char *const members[] = {"peers", NULL};
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const ItsmigJsonAt at = {ITSMIG_ERROR_INVALID_ARGUMENT, NULL, NULL};
    JsonArray *list = NULL;

    if (!itsmigd_http_check_members(body, members, "the request body", error))
        return NULL;
    if (json_object_has_member(body, "peers") &&
        !itsmig_json_get_string_array(&at, body, "peers", TRUE, &list, error))
        return NULL;
    if (!list)
        return itsmigd_peers_names(d->peers);
    if (json_array_get_length(list) > MATRIX_PEERS_MAX) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "\"peers\" names more than %d peers", MATRIX_PEERS_MAX);
        return NULL;
    }
    for (guint i = 0; i < json_array_get_length(list); i++) {
        const char *name = json_array_get_string_element(list, i);

        if (!itsmigd_peers_exists(d->peers, name)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_UNKNOWN_PEER,
                        "no peer '%s' is configured (see [peer NAME] in itsmigd.conf)", name);
            return NULL;
        }
        if (!g_ptr_array_find_with_equal_func(names, name, g_str_equal, NULL))
            g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

/* What a matrix request judges with: the peers named, their capabilities
 * (or why none), this host's, and the policy. */
typedef struct {
    ItsmigDaemon *d;
    char **names;
    gsize n;
    ItsmigHostCaps **caps; /* [n]: NULL where errors[i] says why */
    GError **errors;       /* [n] */
    ItsmigHostCaps *local;
    GPtrArray *known;
    ItsmigCompatPolicy policy;
} Matrix;

static void matrix_clear(Matrix *m)
{
    for (gsize i = 0; i < m->n; i++) {
        itsmig_host_caps_free(m->caps[i]);
        g_clear_error(&m->errors[i]);
    }
    g_free(m->caps);
    g_free(m->errors);
    g_strfreev(m->names);
    g_clear_pointer(&m->known, g_ptr_array_unref);
    itsmig_host_caps_free(m->local);
}

static void add_hosts(JsonBuilder *b, const Matrix *m)
{
    json_builder_set_member_name(b, "hosts");
    json_builder_begin_array(b);
    for (gsize i = 0; i < m->n; i++) {
        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "name", m->names[i]);
        itsmig_json_add_string_or_null(b, "hostname", m->caps[i] ? m->caps[i]->hostname : NULL);
        json_builder_set_member_name(b, "error");
        if (m->errors[i]) {
            json_builder_begin_object(b);
            itsmig_json_add_string_or_null(
                b, "code", itsmig_error_code_to_string(itsmig_error_get_code(m->errors[i])));
            itsmig_json_add_string_or_null(b, "message", m->errors[i]->message);
            json_builder_end_object(b);
        } else {
            json_builder_add_null_value(b);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* The domain's move to peer @i, and back. */
static void add_cell(JsonBuilder *b, const Matrix *m, const ItsmigDomainProfile *profile, gsize i)
{
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autoptr(ItsmigVerdict) back = NULL;

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "host", m->names[i]);
    if (m->caps[i]) {
        v = itsmigd_judge(profile, m->local, m->caps[i], m->known, &m->policy);
        /* The way back, judged the same way: a move allowed one way
         * only is one-way (the vCPU register sets, ITS revisions). */
        back = itsmigd_judge(profile, m->caps[i], m->local, m->known, &m->policy);
    }
    /* No capabilities, no verdict: never an allow. */
    json_builder_set_member_name(b, "allowed");
    json_builder_add_boolean_value(b, v && v->allowed);
    if (!v)
        itsmig_json_add_string_or_null(b, "error", itsmig_error_code_to_string(m->errors[i]->code));
    add_codes(b, "blockers", v ? v->blockers : NULL);
    add_codes(b, "warnings", v ? v->warnings : NULL);
    json_builder_set_member_name(b, "back_allowed");
    json_builder_add_boolean_value(b, back && back->allowed);
    add_codes(b, "back_blockers", back ? back->blockers : NULL);
    json_builder_end_object(b);
}

static void add_domain(JsonBuilder *b, const Matrix *m, const ItsmigdNamedView *x)
{
    const ItsmigDomainProfile *profile = x->view->profile;
    g_autoptr(ItsmigVerdict) here = NULL;

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "name", x->name);
    itsmig_json_add_string_or_null(b, "uuid", x->uuid);
    if (!profile) {
        itsmig_json_add_string_or_null(b, "error", x->view->profile_error);
        json_builder_end_object(b);
        return;
    }
    /* The revision comes from the domain and the source: the same for
     * every destination. */
    here = itsmigd_judge(profile, m->local, m->local, m->known, &m->policy);
    json_builder_set_member_name(b, "its_abi_revision");
    if (here->its_abi_revision >= 0)
        json_builder_add_int_value(b, here->its_abi_revision);
    else
        json_builder_add_null_value(b);
    itsmig_json_add_string_or_null(b, "its_abi_revision_origin", here->its_abi_revision_origin);
    json_builder_set_member_name(b, "cells");
    json_builder_begin_array(b);
    for (gsize i = 0; i < m->n; i++)
        add_cell(b, m, profile, i);
    json_builder_end_array(b);
    json_builder_end_object(b);
}

/* POST /v1/compat/matrix {"peers": [...]}: every domain here against every
 * peer named (default: all configured). */
gboolean itsmigd_http_compat_matrix(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    JsonObject *body = json_node_get_object(itsmigd_http_request_json(req));
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autoptr(GPtrArray) domains = NULL;
    Matrix m = {.d = d};

    m.names = matrix_peers(d, body, error);
    if (!m.names)
        return FALSE;
    m.n = g_strv_length(m.names);
    m.caps = g_new0(ItsmigHostCaps *, m.n + 1);
    m.errors = g_new0(GError *, m.n + 1);
    itsmigd_peers_get(d->peers, (const char *const *)m.names, m.n, m.caps, m.errors);
    m.local = itsmigd_host_get_caps(&d->host);
    m.known = itsmigd_known_hosts(d, m.local);
    itsmigd_host_get_policy(&d->host, &m.policy);
    domains = itsmigd_registry_all_views(d->registry, &d->host);

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "source", m.local->hostname);
    add_hosts(b, &m);
    json_builder_set_member_name(b, "domains");
    json_builder_begin_array(b);
    for (guint k = 0; k < domains->len; k++)
        add_domain(b, &m, g_ptr_array_index(domains, k));
    json_builder_end_array(b);
    json_builder_end_object(b);
    matrix_clear(&m);
    itsmigd_http_reply_builder(req, 200, b);
    return TRUE;
}

/* The hook's operations: libvirt's "migrate begin" and "restore begin". */
static const char *const hook_operations[] = {"migrate", "restore", NULL};

/* ?operation=migrate|restore, migrate when absent; NULL after setting @error. */
static const char *hook_operation(ItsmigdHttpRequest *req, GError **error)
{
    static const char *const known[] = {"operation", NULL};
    const char *op;

    if (!itsmigd_http_request_check_query(req, known, error))
        return NULL;
    op = itsmigd_http_request_query(req, "operation");
    if (!op)
        return hook_operations[0];
    for (guint i = 0; hook_operations[i]; i++) {
        if (strcmp(op, hook_operations[i]) == 0)
            return hook_operations[i];
    }
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                "operation '%s' is not migrate or restore", op);
    return NULL;
}

/* What an operation brings, for log lines: "restore" or "incoming migration". */
static const char *hook_arrival(const char *op)
{
    return strcmp(op, "restore") == 0 ? "restore" : "incoming migration";
}

/* The hook's verdict, counted and logged under its operation. */
static void hook_record_verdict(ItsmigDaemon *d, const char *op, const char *name,
                                const ItsmigVerdict *verdict)
{
    const char *what = hook_arrival(op);
    g_autofree char *line = itsmig_verdict_blockers_line(verdict);

    itsmigd_metrics_count(d->metrics, ITSMIGD_COUNTER_HOOK_DECISIONS,
                          (const char *[]){op, verdict->allowed ? "allowed" : "refused"});
    for (guint i = 0; i < verdict->blockers->len; i++) {
        const ItsmigVerdictItem *item = g_ptr_array_index(verdict->blockers, i);

        itsmigd_metrics_count(d->metrics, ITSMIGD_COUNTER_HOOK_REFUSALS,
                              (const char *[]){op, itsmig_rule_to_string(item->rule)});
    }
    if (verdict->allowed)
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "ITSMIG_DOMAIN", name,
                         "ITSMIG_OPERATION", op, "MESSAGE",
                         "%s allowed by the hook gate (operation=%s)", what, op);
    else
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "ITSMIG_DOMAIN", name,
                         "ITSMIG_OPERATION", op, "MESSAGE",
                         "%s refused by the hook gate (operation=%s): %s", what, op, line);
}

/* The source to judge an arrival from: the peer the domain's record names, asked now when it
 * was not before (the destination of a migration started outside itsmigd may never have
 * asked its source); else NULL, and the judge takes what the record says of its host.  A saved
 * image may be older than its host's kernel: restored, it brings the register set the record names,
 * not the one its host has now.  So for a restore, a peer whose set is not the recorded one is not
 * the source, and this host is, as its history says it was with that set. */
static ItsmigHostCaps *hook_source(ItsmigDaemon *d, const char *op,
                                   const ItsmigDomainProfile *profile, const ItsmigHostCaps *local)
{
    const ItsmigItsMetadata *m = &profile->metadata;
    ItsmigHostCaps *source;

    if (!profile->has_metadata || !m->host)
        return NULL;
    if (strcmp(op, "restore") != 0)
        return itsmigd_peers_find_hostname(d->peers, m->host);
    if (strcmp(m->host, local->hostname) == 0)
        /* Its set now: nothing the record does not say already. */
        return g_strcmp0(m->host_regs_digest, local->regs_digest) == 0
                   ? NULL
                   : itsmigd_host_past_caps(&d->host, m);
    source = itsmigd_peers_cached_by_hostname(d->peers, m->host);
    if (source && m->host_regs_digest && g_strcmp0(source->regs_digest, m->host_regs_digest) != 0)
        g_clear_pointer(&source, itsmig_host_caps_free);
    return source;
}

/* POST /v1/hook/migrate-begin[?operation=migrate|restore], the domain XML
 * libvirt hands the hook on the destination, or with a saved image: may it
 * arrive here?  No libvirt call may happen on this path: libvirt waits for
 * the hook, and the hook for us. */
gboolean itsmigd_http_hook_migrate_begin(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(ItsmigDomainProfile) profile = NULL;
    g_autoptr(ItsmigHostCaps) local = NULL;
    g_autoptr(ItsmigHostCaps) source = NULL;
    g_autoptr(GPtrArray) known = NULL;
    g_autoptr(ItsmigVerdict) verdict = NULL;
    ItsmigCompatPolicy policy;
    const char *op;
    const char *xml;
    gsize len;

    op = hook_operation(req, error);
    if (!op)
        return FALSE;
    xml = itsmigd_http_request_body(req, &len);
    profile = itsmig_domain_profile_parse(xml, len, error);
    if (!profile)
        return FALSE;
    itsmigd_host_describe_hostdevs(&d->host, profile);
    local = itsmigd_host_get_caps(&d->host);
    source = hook_source(d, op, profile, local);
    known = itsmigd_known_hosts(d, local);
    itsmigd_host_get_policy(&d->host, &policy);
    /* Nobody detached devices for a migration started outside itsmigd. */
    policy.quiesce = FALSE;
    verdict = itsmigd_judge(profile, source, local, known, &policy);
    hook_record_verdict(d, op, profile->name, verdict);
    reply_verdict(req, profile, NULL, profile->has_metadata ? profile->metadata.host : NULL,
                  local->hostname, local->hostname, verdict);
    return TRUE;
}

/* POST /v1/hook/refused {"operation", "domain", "reason", "message"}: the hook refused a
 * restore (or a migration) by its own checks, before any verdict of ours; counted and logged
 * as the refusals we make, so that the metrics and the journal show every one. */
gboolean itsmigd_http_hook_refused(ItsmigdHttpRequest *req, GError **error)
{
    static const char *const members[] = {"operation", "domain", "reason", "message", NULL};
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    JsonObject *body = json_node_get_object(itsmigd_http_request_json(req));
    const char *op = itsmig_json_lookup_string(body, "operation");
    const char *name = itsmig_json_lookup_string(body, "domain");
    const char *reason = itsmig_json_lookup_string(body, "reason");
    const char *message = itsmig_json_lookup_string(body, "message");

    if (!itsmigd_http_check_members(body, members, "the request body", error))
        return FALSE;
    if (!op || !g_strv_contains(hook_operations, op))
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                                 "\"operation\" must be \"migrate\" or \"restore\"");
    if (!name || !*name || strlen(name) > HOOK_NAME_MAX || !g_utf8_validate(name, -1, NULL))
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                                 "\"domain\" must be a domain name (UTF-8, 1 to 256 bytes)");
    if (!itsmig_hook_refusal_reason_known(reason))
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                                 "\"reason\" must be \"" ITSMIG_HOOK_REFUSAL_RECORD_INVALID
                                 "\", \"" ITSMIG_HOOK_REFUSAL_RESTORE_UNRECORDED
                                 "\", \"" ITSMIG_HOOK_REFUSAL_IMAGE_REFUSED
                                 "\" or \"" ITSMIG_HOOK_REFUSAL_IMAGE_UNREAD "\"");
    if (!message || strlen(message) > ITSMIG_HOOK_REFUSAL_MESSAGE_MAX ||
        !g_utf8_validate(message, -1, NULL))
        return itsmigd_http_fail(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                                 "\"message\" must be a string (UTF-8, at most 4096 bytes)");
    itsmigd_metrics_count(d->metrics, ITSMIGD_COUNTER_HOOK_DECISIONS,
                          (const char *[]){op, "refused"});
    itsmigd_metrics_count(d->metrics, ITSMIGD_COUNTER_HOOK_REFUSALS, (const char *[]){op, reason});
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "ITSMIG_DOMAIN", name, "ITSMIG_OPERATION",
                     op, "MESSAGE", "%s refused by the hook's own check (operation=%s, %s): %s",
                     hook_arrival(op), op, reason, message);
    itsmigd_http_reply_json(req, 200, json_node_init_object(json_node_alloc(), json_object_new()));
    return TRUE;
}
