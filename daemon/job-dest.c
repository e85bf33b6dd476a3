/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/peer-reply.h"
#include "daemon/virt-domain.h"
#include "daemon/job-run.h"

/* ---- the destination ------------------------------------------------------------ */

static ItsmigPresence presence_of_name(const char *state)
{
    if (!state)
        return ITSMIG_PRESENCE_ABSENT;
    if (!strcmp(state, "running") || !strcmp(state, "blocked") || !strcmp(state, "shutdown"))
        return ITSMIG_PRESENCE_RUNNING;
    if (!strcmp(state, "paused") || !strcmp(state, "pmsuspended"))
        return ITSMIG_PRESENCE_PAUSED;
    return ITSMIG_PRESENCE_ABSENT;
}

JsonNode *itsmigd_job_ask_destination(Run *r, const char *method, const char *what, JsonNode *body,
                                      GError **error)
{
    g_autofree char *path = NULL;
    JsonNode *reply;
    const char *why;
    const char *uuid = r->job->uuid, *dest = r->job->destination;

    /* @what: an action ("resume"), or a query ("?name=...") */
    path = g_strdup_printf("/v1/incoming/%s%s%s", uuid, what && what[0] != '?' ? "/" : "",
                           what ? what : "");
    reply = itsmigd_peers_call(r->o->d->peers, dest, method, path, body, NULL, error);
    if (reply && !itsmigd_peer_reply_incoming_valid(reply, &why)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                    "peer %s: the reply to %s %s is not an incoming domain: %s", dest, method, path,
                    why);
        g_clear_pointer(&reply, json_node_unref);
    }
    return reply;
}

ItsmigPresence itsmigd_job_dest_presence(JsonNode *reply)
{
    JsonObject *o = json_node_get_object(reply);

    if (!json_object_get_boolean_member_with_default(o, "present", FALSE))
        return ITSMIG_PRESENCE_ABSENT;
    return presence_of_name(json_object_get_string_member_with_default(o, "state", NULL));
}

/* A destination's itsmigd that may answer again: down, restarting, slow, or up but not
 * ready (503: its libvirt connection is being made again). */
gboolean itsmigd_job_peer_may_return(const GError *error)
{
    return g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNREACHABLE) ||
           g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_TIMEOUT) ||
           g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNAVAILABLE);
}

/* The step failed (@res) because the peer answered 503: waits before it is asked again,
 * *@wait (then doubled, up to PEER_RETRY_MAX_US) but not past @until; FALSE, with how long
 * it was asked in @res, once @until has passed (or for any other failure). */
gboolean itsmigd_job_retry_unavailable(Run *r, gint64 first, gint64 until, gint64 *wait,
                                       Result *res)
{
    const char *code = itsmig_error_code_to_string(ITSMIG_ERROR_PEER_UNAVAILABLE);
    gint64 now = g_get_monotonic_time();
    g_autofree char *message = NULL;

    if (g_strcmp0(res->code, code) != 0)
        return FALSE;
    if (now >= until) {
        message = g_strdup(res->message);
        itsmigd_job_fail(res, res->outcome, ITSMIG_ERROR_PEER_UNAVAILABLE,
                         "%s (asked for %" G_GINT64_FORMAT " ms)", message, (now - first) / 1000);
        return FALSE;
    }
    itsmigd_log_job(G_LOG_LEVEL_INFO, r->job->domain, r->job->id,
                    "migration %s: %s; asking again in %" G_GINT64_FORMAT " ms", r->job->id,
                    res->message, *wait / 1000);
    /* The last wait ends with the time given. */
    if (!itsmigd_job_sleep_unless_stopped(r, MIN(*wait, until - now), res))
        return FALSE;
    *wait = MIN(*wait * 2, PEER_RETRY_MAX_US);
    itsmigd_job_result_clear(res);
    res->outcome = ITSMIG_OUTCOME_OK;
    return TRUE;
}

/* GET /v1/incoming/UUID, asked again while the destination answers 503, until @deadline
 * (0: the phase's). */
JsonNode *itsmigd_job_ask_destination_ready(Run *r, gint64 deadline, GError **error)
{
    gint64 until = deadline ? deadline : itsmigd_job_phase_deadline(r);
    gint64 first = g_get_monotonic_time(), wait = PEER_RETRY_FIRST_US;

    if (!until)
        until = first + CONNECT_WAIT_US;
    for (;;) {
        g_autoptr(GError) local = NULL;
        JsonNode *reply = itsmigd_job_ask_destination(r, "GET", NULL, NULL, &local);
        Result res = {ITSMIG_OUTCOME_FAILED, NULL, NULL};
        gboolean again;

        if (reply)
            return reply;
        if (!g_error_matches(local, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNAVAILABLE)) {
            g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
        itsmigd_job_fail_gerror(&res, local);
        again = itsmigd_job_retry_unavailable(r, first, until, &wait, &res);
        if (!again) {
            ItsmigErrorCode code = ITSMIG_ERROR_INTERNAL;

            itsmig_error_code_from_string(res.code, &code);
            g_set_error_literal(error, ITSMIG_ERROR, code, res.message);
            itsmigd_job_result_clear(&res);
            return NULL;
        }
    }
}

/* The destination's state of the domain as its libvirt reports it, through
 * the URI the transfer uses ([peer NAME] migrate-uri): what can be known
 * there without its itsmigd. */
ItsmigPresence itsmigd_job_dest_presence_libvirt(Run *r)
{
    g_autoptr(ItsmigdPeerConfig) peer =
        itsmigd_peers_get_config(r->o->d->peers, r->job->destination);
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (!peer || !peer->migrate_uri || !(conn = virConnectOpen(peer->migrate_uri)))
        return ITSMIG_PRESENCE_UNKNOWN;
    return itsmigd_job_presence_on(conn, r->job->uuid, &dom);
}

/* Only a destination that answers, and holds no copy of the domain, nor another domain of
 * its name (libvirt would refuse the transfer only after the pause), may receive one. */
gboolean itsmigd_job_dest_holds_nothing(Run *r, const char *uuid, const char *dest, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *name = g_uri_escape_string(r->job->domain, NULL, FALSE);
    g_autofree char *query = NULL;
    g_autoptr(JsonNode) incoming = NULL;
    JsonNode *taken;

    query = g_strconcat("?name=", name, NULL);
    for (gint64 first = g_get_monotonic_time(), wait = PEER_RETRY_FIRST_US;;) {
        incoming = itsmigd_job_ask_destination(r, "GET", query, NULL, &error);
        if (incoming)
            break;
        itsmigd_job_fail_gerror(res, error);
        g_clear_error(&error);
        if (!itsmigd_job_retry_unavailable(r, first, first + PREFLIGHT_PEER_WAIT_US, &wait, res))
            return FALSE;
    }
    /* Absent from a peer too old to look: then libvirt's refusal is the check. */
    taken = json_object_get_member(json_node_get_object(incoming), "name_taken");
    if (taken && JSON_NODE_HOLDS_VALUE(taken) && json_node_get_boolean(taken)) {
        itsmigd_job_fail(
            res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_CONFLICT,
            "%s holds another domain named '%s' (a different UUID): libvirt would refuse "
            "the transfer; rename or remove one of them",
            dest, r->job->domain);
        return FALSE;
    }
    r->dest_last = itsmigd_job_dest_presence(incoming);
    if (r->dest_last != ITSMIG_PRESENCE_ABSENT) {
        itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_CONFLICT,
                         "a domain with UUID %s is already %s on %s", uuid,
                         itsmig_presence_to_string(r->dest_last), dest);
        return FALSE;
    }
    return TRUE;
}

/* Sleeps @us, or less when the job is aborted (while it goes forward) or the daemon stops;
 * FALSE (and why in @res) then. */
gboolean itsmigd_job_sleep_unless_stopped(Run *r, gint64 us, Result *res)
{
    gint64 until = g_get_monotonic_time() + us;

    g_mutex_lock(&r->o->lock);
    while (!r->o->stopping && !itsmigd_job_abort_applies_locked(r) &&
           g_cond_wait_until(&r->o->cond, &r->o->lock, until))
        ;
    g_mutex_unlock(&r->o->lock);
    return !itsmigd_job_stop_requested(r, 0, res);
}

/* GET /v1/incoming/UUID, asked again with back-off while the destination's
 * itsmigd does not answer (it may be restarting) and libvirt there does not
 * say the copy is gone, until @deadline (0: none). */
static JsonNode *ask_destination_patiently(Run *r, gint64 deadline, Result *res)
{
    gint64 first = g_get_monotonic_time(), wait = PEER_RETRY_FIRST_US;
    const char *name = r->job->domain;

    for (;;) {
        g_autoptr(GError) error = NULL;
        JsonNode *reply = itsmigd_job_ask_destination(r, "GET", NULL, NULL, &error);
        ItsmigPresence there;
        gint64 now;

        if (reply)
            return reply;
        if (!itsmigd_job_peer_may_return(error)) {
            itsmigd_job_fail_gerror(res, error);
            return NULL;
        }
        there = itsmigd_job_dest_presence_libvirt(r);
        r->dest_last = there;
        now = g_get_monotonic_time();
        if (there == ITSMIG_PRESENCE_ABSENT) {
            itsmigd_job_fail(
                res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_UNEXPECTED_STATE,
                "the destination's libvirt shows no copy of the domain, and its itsmigd "
                "does not answer (%s)",
                error->message);
            return NULL;
        }
        if (deadline && now + wait > deadline) {
            itsmigd_job_fail(
                res, ITSMIG_OUTCOME_FAILED, itsmig_error_get_code(error),
                "%s (asked for %" G_GINT64_FORMAT " s; the destination's libvirt shows "
                "the copy %s)",
                error->message, (now - first) / G_USEC_PER_SEC, itsmig_presence_to_string(there));
            return NULL;
        }
        itsmigd_log_job(G_LOG_LEVEL_INFO, name, r->job->id,
                        "the destination's itsmigd does not answer (%s); its libvirt shows "
                        "the copy %s; asking again in %" G_GINT64_FORMAT " s",
                        error->message, itsmig_presence_to_string(there), wait / G_USEC_PER_SEC);
        if (!itsmigd_job_sleep_unless_stopped(r, wait, res))
            return NULL;
        wait = MIN(wait * 2, PEER_RETRY_MAX_US);
    }
}

ItsmigOutcome itsmigd_job_verify_dest(Run *r, Result *res)
{
    g_autoptr(JsonNode) reply = ask_destination_patiently(r, itsmigd_job_phase_deadline(r), res);
    JsonObject *o;
    JsonNode *ev;
    JsonArray *errors;
    gboolean live;

    if (!reply)
        return res->outcome;
    r->dest_last = itsmigd_job_dest_presence(reply);
    o = json_node_get_object(reply);
    ev = json_object_get_member(o, "its_restore");
    if (ev && JSON_NODE_HOLDS_OBJECT(ev)) {
        g_mutex_lock(&r->o->lock);
        g_clear_pointer(&r->job->its_restore, json_node_unref);
        r->job->its_restore = json_node_copy(ev);
        g_mutex_unlock(&r->o->lock);
    }
    /* The mode is fixed when the job is made. */
    live = r->job->mode == ITSMIG_MODE_LIVE;
    if (r->dest_last != ITSMIG_PRESENCE_PAUSED &&
        !(live && r->dest_last == ITSMIG_PRESENCE_RUNNING))
        return itsmigd_job_fail(
            res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_UNEXPECTED_STATE,
            live ? "the destination's copy is %s, not running or paused"
                 : "the destination's copy is %s, not paused awaiting verification",
            itsmig_presence_to_string(r->dest_last));
    if (!ev || !JSON_NODE_HOLDS_OBJECT(ev))
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_PEER_ERROR,
                                "the destination sent no ITS restore evidence");
    errors = json_object_get_array_member(json_node_get_object(ev), "errors");
    if (errors && json_array_get_length(errors) > 0)
        return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_ITS_RESTORE_FAILED,
                                "the destination's QEMU reported ITS restore errors: %s",
                                json_array_get_string_element(errors, 0));
    return ITSMIG_OUTCOME_OK;
}

gint64 itsmigd_job_dest_wait_until(Run *r)
{
    gint64 now = g_get_monotonic_time(), phase = itsmigd_job_phase_deadline(r);
    gint64 until = r->dest_unready ? now : now + OBSERVE_PEER_WAIT_US;

    return phase ? MAX(MIN(phase, until), now) : until;
}

/* POST /v1/incoming/UUID/WHAT.  When @patient, asked again with back-off while the
 * destination's itsmigd does not answer (it may be restarting, or stalled), until the phase's
 * deadline: past the transfer there is no going back, and each call is idempotent there, so
 * a request that did arrive is not done twice. */
static ItsmigOutcome dest_call(Run *r, const char *what, JsonNode *body, gboolean patient,
                               Result *res)
{
    gint64 first = g_get_monotonic_time(), wait = PEER_RETRY_FIRST_US;
    /* Not @patient (a rollback's step, the guest maybe paused meanwhile): a 503 is waited
     * out only as a look at the destination is. */
    gint64 deadline = patient ? itsmigd_job_phase_deadline(r) : itsmigd_job_dest_wait_until(r);

    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = itsmigd_job_ask_destination(r, "POST", what, body, &error);
        gint64 now;

        if (reply) {
            r->dest_last = itsmigd_job_dest_presence(reply);
            r->dest_unready = FALSE;
            return ITSMIG_OUTCOME_OK;
        }
        r->dest_unready = g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNAVAILABLE);
        now = g_get_monotonic_time();
        /* A 503 took nothing: asked again even when not @patient. */
        if ((!patient && !g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNAVAILABLE)) ||
            !itsmigd_job_peer_may_return(error))
            return itsmigd_job_fail_gerror(res, error);
        if (deadline && now + wait > deadline)
            return itsmigd_job_fail(res, ITSMIG_OUTCOME_FAILED, itsmig_error_get_code(error),
                                    "%s (asked to %s for %" G_GINT64_FORMAT " s)", error->message,
                                    what, (now - first) / G_USEC_PER_SEC);
        itsmigd_log_job(G_LOG_LEVEL_INFO, r->job->domain, r->job->id,
                        "migration %s: the destination's itsmigd does not answer (%s); "
                        "asking it to %s again in %" G_GINT64_FORMAT " s",
                        r->job->id, error->message, what, wait / G_USEC_PER_SEC);
        if (!itsmigd_job_sleep_unless_stopped(r, wait, res))
            return res->outcome;
        wait = MIN(wait * 2, PEER_RETRY_MAX_US);
    }
}

/* {"job": ID} and, for a device, "alias": the destination takes the XML from
 * the record that came with the domain, never from us. */
static JsonNode *dest_claim(Run *r, int device)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    g_mutex_lock(&r->o->lock);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "job");
    json_builder_add_string_value(b, r->job->id);
    if (device >= 0) {
        json_builder_set_member_name(b, "alias");
        json_builder_add_string_value(
            b, ((ItsmigJobDevice *)g_ptr_array_index(r->job->devices, device))->alias);
    }
    json_builder_end_object(b);
    g_mutex_unlock(&r->o->lock);
    return json_builder_get_root(b);
}

ItsmigOutcome itsmigd_job_dest_call(Run *r, const char *what, gboolean patient, Result *res)
{
    g_autoptr(JsonNode) body = dest_claim(r, -1);

    return dest_call(r, what, body, patient, res);
}

ItsmigOutcome itsmigd_job_attach_dest(Run *r, int index, Result *res)
{
    g_autoptr(JsonNode) body = dest_claim(r, index);

    return dest_call(r, "attach", body, TRUE, res);
}
