/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "itsmig/journal.h"
#include "itsmig/json-strict.h"
#include "itsmig/qemu-log.h"
#include "daemon/http-server.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/migration-record.h"
#include "daemon/orchestrator.h"
#include "daemon/peer-reply.h"
#include "daemon/preflight.h"

/* What a verification reads of a QEMU log at most. */
#define LOG_READ_MAX (1024 * 1024)
/* How often waits look again (device removal, a job ending). */
#define POLL_US (250 * 1000)
/* How long a stop waits for actions under way. */
#define STOP_WAIT_US (10 * G_USEC_PER_SEC)
/* Bounds of waiting for an aborted transfer to end. */
#define ABORT_WAIT_US (60 * G_USEC_PER_SEC)

typedef struct ItsmigdOrchestrator ItsmigdOrchestrator;

typedef struct {
    ItsmigdOrchestrator *o;
    ItsmigJob *job; /* under o->lock */
    GThread *thread;
    gboolean recover; /* reconcile before going on */
    /* Worker only. */
    goffset log_offset; /* the QEMU log's size before the vCPUs stopped, -1: none */
    gboolean its_in_kernel;
    gboolean check_emulated;
    ItsmigPresence dest_last;
    gint64 started_mono;
    /* Under o->lock. */
    gboolean removed; /* a DEVICE_REMOVED for this domain since the last look */
    ItsmigPhase published_phase;
} Run;

struct ItsmigdOrchestrator {
    ItsmigDaemon *d;
    ItsmigJournal *journal;
    GMutex lock;
    GCond cond;      /* device removals, aborts, workers ending */
    GPtrArray *runs; /* Run *, oldest first */
    ItsmigdOrchestratorLimits limits;
    gboolean stopping;
    guint workers;
    struct {
        char *point;
        char *action;
        gboolean stop;
    } fault;
};

/* ---- fault injection ------------------------------------------------------- */

/* Only in the test build (tests/itsmigd-fault): a production itsmigd must not
 * kill itself because its environment says so. */
#ifdef ITSMIGD_FAULT_INJECTION

static void fault_point(ItsmigdOrchestrator *o, const char *point, ItsmigActionKind kind)
{
    if (!o->fault.point || strcmp(o->fault.point, point) != 0 ||
        strcmp(o->fault.action, itsmig_action_to_string(kind)) != 0)
        return;
    g_warning("fault injection (ITSMIGD_FAULT): %s at %s:%s", o->fault.stop ? "stopping" : "dying",
              point, o->fault.action);
    raise(o->fault.stop ? SIGSTOP : SIGKILL);
}

static void fault_parse(ItsmigdOrchestrator *o)
{
    const char *spec = g_getenv("ITSMIGD_FAULT");
    g_auto(GStrv) parts = NULL;

    if (!spec || !spec[0])
        return;
    parts = g_strsplit(spec, ":", 3);
    if (g_strv_length(parts) < 2 || itsmig_action_from_string(parts[1]) < 0 ||
        (strcmp(parts[0], "before") && strcmp(parts[0], "after") && strcmp(parts[0], "reported"))) {
        g_warning("ITSMIGD_FAULT=%s ignored: want before|after|reported:ACTION[:stop]", spec);
        return;
    }
    o->fault.point = g_strdup(parts[0]);
    o->fault.action = g_strdup(parts[1]);
    o->fault.stop = parts[2] && strcmp(parts[2], "stop") == 0;
    g_warning("fault injection armed: %s", spec);
}
#else
static void fault_point(ItsmigdOrchestrator *o, const char *point, ItsmigActionKind kind)
{
}

static void fault_parse(ItsmigdOrchestrator *o)
{
    if (g_getenv("ITSMIGD_FAULT"))
        g_warning("ITSMIGD_FAULT ignored: fault injection is only in the test build");
}
#endif

/* ---- records and events ------------------------------------------------------ */

static void run_free(Run *r)
{
    itsmig_job_free(r->job);
    g_free(r);
}

static Run *find_locked(ItsmigdOrchestrator *o, const char *id)
{
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        if (strcmp(r->job->id, id) == 0)
            return r;
    }
    return NULL;
}

static gboolean save_locked(Run *r, GError **error)
{
    g_autoptr(JsonNode) node = itsmig_job_to_json(r->job);
    g_autofree char *text = json_to_string(node, FALSE);

    return itsmig_journal_write(r->o->journal, r->job->id, text, strlen(text), error);
}

static void publish_locked(Run *r, const char *kind, const char *outcome, const char *message)
{
    ItsmigJob *job = r->job;
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autofree char *now = itsmigd_time_string(g_get_real_time());

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "time", now);
    itsmig_json_add_string_or_null(b, "id", job->id);
    itsmig_json_add_string_or_null(b, "domain", job->domain);
    itsmig_json_add_string_or_null(b, "uuid", job->uuid);
    itsmig_json_add_string_or_null(b, "phase", itsmig_phase_to_string(job->phase));
    itsmig_json_add_string_or_null(b, "kind", kind);
    itsmig_json_add_string_or_null(b, "outcome", outcome);
    itsmig_json_add_string_or_null(b, "message", message);
    json_builder_set_member_name(b, "progress");
    if (strcmp(kind, "progress") == 0) {
        g_autoptr(JsonNode) all = itsmig_job_to_json(job);

        json_builder_add_value(
            b, json_node_copy(json_object_get_member(json_node_get_object(all), "progress")));
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);
    itsmigd_event_bus_publish(r->o->d->bus, "migration", json_builder_get_root(b));
}

/* Journals the job and tells the API; FALSE when the journal refused it. */
static gboolean record_locked(Run *r)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = save_locked(r, &error);

    if (!ok)
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, r->job->domain, "migration %s: %s", r->job->id,
                           error->message);
    if (r->job->phase != r->published_phase) {
        r->published_phase = r->job->phase;
        if (itsmig_phase_is_terminal(r->job->phase))
            publish_locked(r, "finished", itsmig_phase_to_string(r->job->phase),
                           r->job->attention ? r->job->attention : r->job->error_message);
        else
            publish_locked(r, "phase", NULL, NULL);
    }
    return ok;
}

/* Forgets the oldest finished jobs beyond [migration] keep-finished. */
static void prune_locked(ItsmigdOrchestrator *o)
{
    guint finished = 0;

    for (guint i = 0; i < o->runs->len; i++)
        if (itsmig_phase_is_terminal(((Run *)g_ptr_array_index(o->runs, i))->job->phase))
            finished++;
    for (guint i = 0; i < o->runs->len && finished > o->limits.keep_finished;) {
        Run *r = g_ptr_array_index(o->runs, i);

        if (!itsmig_phase_is_terminal(r->job->phase) || r->thread) {
            i++;
            continue;
        }
        itsmig_journal_remove(o->journal, r->job->id, NULL);
        g_ptr_array_remove_index(o->runs, i);
        finished--;
    }
}

/* ---- facts --------------------------------------------------------------------- */

static ItsmigPresence presence_of_state(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN: return ITSMIG_PRESENCE_RUNNING;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED: return ITSMIG_PRESENCE_PAUSED;
    default: return ITSMIG_PRESENCE_ABSENT;
    }
}

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

/* The domain here, looked up by UUID; NULL with *absent set when libvirt
 * says it does not exist. */
static virDomainPtr lookup(virConnectPtr conn, const char *uuid, gboolean *absent)
{
    virDomainPtr dom = conn ? virDomainLookupByUUIDString(conn, uuid) : NULL;

    *absent = !dom && conn && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
    return dom;
}

static void source_facts(virConnectPtr conn, const char *uuid, ItsmigJobFacts *f)
{
    gboolean absent;
    virDomainPtr dom = lookup(conn, uuid, &absent);
    int state, reason;
    virDomainJobInfo info;

    f->source = absent ? ITSMIG_PRESENCE_ABSENT : ITSMIG_PRESENCE_UNKNOWN;
    f->transfer_active = FALSE;
    if (!dom)
        return;
    if (virDomainGetState(dom, &state, &reason, 0) == 0)
        f->source = presence_of_state(state);
    else if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
        f->source = ITSMIG_PRESENCE_ABSENT;
    /* Drivers without jobs (the test driver) have no transfer either. */
    if (virDomainGetJobInfo(dom, &info) == 0)
        f->transfer_active =
            info.type == VIR_DOMAIN_JOB_BOUNDED || info.type == VIR_DOMAIN_JOB_UNBOUNDED;
    virDomainFree(dom);
}

static JsonNode *ask_destination(Run *r, const char *method, const char *what, JsonNode *body,
                                 GError **error)
{
    g_autofree char *path = NULL;
    JsonNode *reply;
    const char *why;
    g_autofree char *uuid = NULL;
    g_autofree char *dest = NULL;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    dest = g_strdup(r->job->destination);
    g_mutex_unlock(&r->o->lock);
    path = g_strdup_printf("/v1/incoming/%s%s%s", uuid, what ? "/" : "", what ? what : "");
    reply = itsmigd_peers_call(r->o->d->peers, dest, method, path, body, NULL, error);
    if (reply && !itsmigd_peer_reply_incoming_valid(reply, &why)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_ERROR,
                    "peer %s: the reply to %s %s is not an incoming domain: %s", dest, method,
                    path, why);
        g_clear_pointer(&reply, json_node_unref);
    }
    return reply;
}

static ItsmigPresence dest_presence(JsonNode *reply)
{
    JsonObject *o = json_node_get_object(reply);

    if (!json_object_get_boolean_member_with_default(o, "present", FALSE))
        return ITSMIG_PRESENCE_ABSENT;
    return presence_of_name(json_object_get_string_member_with_default(o, "state", NULL));
}

static ItsmigJobFacts observe(Run *r, virConnectPtr conn, gboolean ask_dest)
{
    ItsmigJobFacts f = {ITSMIG_PRESENCE_UNKNOWN, r->dest_last, FALSE};
    g_autofree char *uuid = NULL;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    g_mutex_unlock(&r->o->lock);
    source_facts(conn, uuid, &f);
    if (ask_dest) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = ask_destination(r, "GET", NULL, NULL, &error);

        f.destination = reply ? dest_presence(reply) : ITSMIG_PRESENCE_UNKNOWN;
        r->dest_last = f.destination;
    }
    return f;
}

/* ---- actions ------------------------------------------------------------------------ */

typedef struct {
    ItsmigOutcome outcome;
    char *code;
    char *message;
} Result;

static void result_clear(Result *res)
{
    g_clear_pointer(&res->code, g_free);
    g_clear_pointer(&res->message, g_free);
}

static ItsmigOutcome fail_with(Result *res, ItsmigOutcome outcome, const char *code,
                               const char *format, ...) G_GNUC_PRINTF(4, 5);

static ItsmigOutcome fail_with(Result *res, ItsmigOutcome outcome, const char *code,
                               const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    result_clear(res);
    res->outcome = outcome;
    res->code = g_strdup(code);
    res->message = g_strdup_vprintf(format, ap);
    va_end(ap);
    return outcome;
}

static ItsmigOutcome fail_gerror(Result *res, const GError *error)
{
    const char *code =
        error->domain == ITSMIG_ERROR ? itsmig_error_code_to_string(error->code) : "internal-error";

    return fail_with(res, ITSMIG_OUTCOME_FAILED, code, "%s", error->message);
}

static ItsmigOutcome fail_libvirt(Result *res, const char *what)
{
    return fail_with(res, ITSMIG_OUTCOME_FAILED, "libvirt-error", "%s: %s", what,
                     virGetLastErrorMessage());
}

static char *log_path(Run *r, const char *domain)
{
    g_autofree char *dir = NULL;

    g_mutex_lock(&r->o->lock);
    dir = g_strdup(r->o->limits.qemu_log_dir);
    g_mutex_unlock(&r->o->lock);
    return g_strdup_printf("%s/%s.log", dir, domain);
}

static void mark_log(Run *r, const char *domain)
{
    g_autofree char *path = log_path(r, domain);
    g_autoptr(GError) error = NULL;

    r->log_offset = itsmig_qemu_log_size(path, &error);
    if (r->log_offset < 0)
        itsmigd_log_domain(G_LOG_LEVEL_INFO, domain, "no QEMU log to verify from (%s)",
                           error->message);
}

static gboolean stop_requested(Run *r, gint64 deadline_mono, Result *res)
{
    gboolean abort_requested, stopping;

    g_mutex_lock(&r->o->lock);
    abort_requested = r->job->abort_requested;
    stopping = r->o->stopping;
    g_mutex_unlock(&r->o->lock);
    if (abort_requested) {
        fail_with(res, ITSMIG_OUTCOME_ABORTED, "aborted", "the migration was aborted on request");
        return TRUE;
    }
    if (stopping) {
        fail_with(res, ITSMIG_OUTCOME_FAILED, "daemon-stopping", "itsmigd is stopping");
        return TRUE;
    }
    if (deadline_mono && g_get_monotonic_time() > deadline_mono) {
        fail_with(res, ITSMIG_OUTCOME_TIMEOUT, "timeout", "the phase ran out of time");
        return TRUE;
    }
    return FALSE;
}

/* The deadline of the phase beginning now (monotonic), 0 for none. */
static gint64 phase_deadline(Run *r)
{
    guint phase_s, total_s;
    gint64 d = 0;

    g_mutex_lock(&r->o->lock);
    phase_s = r->job->options.phase_timeout_s;
    total_s = r->job->options.total_timeout_s;
    g_mutex_unlock(&r->o->lock);
    if (phase_s)
        d = g_get_monotonic_time() + (gint64)phase_s * G_USEC_PER_SEC;
    if (total_s) {
        gint64 t = r->started_mono + (gint64)total_s * G_USEC_PER_SEC;

        d = d ? MIN(d, t) : t;
    }
    return d;
}

static gboolean has_alias(virDomainPtr dom, const char *alias, gboolean *ret)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autofree char *dev = NULL;
    g_autoptr(GError) error = NULL;

    if (!xml)
        return FALSE;
    dev = itsmig_domain_device_xml(xml, -1, alias, &error);
    *ret = dev != NULL;
    return dev || g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND);
}

/* Only a destination that answers, and holds no copy of the domain, may
 * receive one. */
static gboolean dest_holds_nothing(Run *r, const char *uuid, const char *dest, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) incoming = ask_destination(r, "GET", NULL, NULL, &error);

    if (!incoming) {
        fail_gerror(res, error);
        return FALSE;
    }
    r->dest_last = dest_presence(incoming);
    if (r->dest_last != ITSMIG_PRESENCE_ABSENT) {
        fail_with(res, ITSMIG_OUTCOME_FAILED, "conflict",
                  "a domain with UUID %s is already %s on %s", uuid,
                  itsmig_presence_to_string(r->dest_last), dest);
        return FALSE;
    }
    return TRUE;
}

/* Writes the migration record (migration-record.h) into the domain's live
 * metadata, before anything is detached, so that it travels with the
 * domain: the destination then acts only for this job, only at the request
 * of the peer holding the token we send it, and re-attaches only these
 * devices from this XML. */
static ItsmigOutcome record_migration(Run *r, virConnectPtr conn, const char *uuid,
                                      const char *dest, Result *res)
{
    g_autoptr(ItsmigdPeerConfig) peer = itsmigd_peers_get_config(r->o->d->peers, dest);
    g_autoptr(GPtrArray) aliases = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) xmls = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *lower = g_ascii_strdown(uuid, -1);
    g_autofree char *job = NULL;
    g_autofree char *mac = NULL;
    g_autofree char *xml = NULL;
    ItsmigOutcome outcome = ITSMIG_OUTCOME_OK;
    gboolean absent;
    virDomainPtr dom;

    if (!peer || !peer->token)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "unknown-peer",
                         "peer '%s' is no longer configured", dest);
    g_mutex_lock(&r->o->lock);
    job = g_strdup(r->job->id);
    for (guint i = 0; r->job->devices && i < r->job->devices->len; i++) {
        const ItsmigJobDevice *dev = g_ptr_array_index(r->job->devices, i);

        g_ptr_array_add(aliases, g_strdup(dev->alias));
        g_ptr_array_add(xmls, g_strdup(dev->xml));
    }
    g_mutex_unlock(&r->o->lock);
    mac = itsmigd_migration_mac(peer->token, lower, job);
    xml = itsmigd_migration_record_to_xml(job, mac, aliases, xmls);
    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return fail_libvirt(res, "cannot look up the domain");
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, ITSMIGD_MIGRATION_PREFIX,
                             ITSMIGD_MIGRATION_NS, VIR_DOMAIN_AFFECT_LIVE) < 0)
        outcome = fail_libvirt(res, "cannot record the migration in the domain's metadata");
    virDomainFree(dom);
    return outcome;
}

static ItsmigOutcome do_preflight(Run *r, virConnectPtr conn, Result *res)
{
    ItsmigDaemon *d = r->o->d;
    g_autofree char *name = NULL, *uuid = NULL, *dest = NULL;
    g_autoptr(ItsmigDomainProfile) profile = NULL;
    g_autoptr(ItsmigHostCaps) local = NULL, remote = NULL;
    g_autoptr(ItsmigVerdict) verdict = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) aliases = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *xml = NULL;
    ItsmigCompatPolicy policy;
    virDomainPtr dom;
    gboolean absent, explicit_list;

    g_mutex_lock(&r->o->lock);
    name = g_strdup(r->job->domain);
    uuid = g_strdup(r->job->uuid);
    dest = g_strdup(r->job->destination);
    itsmigd_host_get_policy(&d->host, &policy);
    policy.quiesce = r->job->options.quiesce;
    if (r->job->options.detach)
        for (char **a = r->job->options.detach; *a; a++)
            g_ptr_array_add(aliases, g_strdup(*a));
    explicit_list = aliases->len > 0;
    g_mutex_unlock(&r->o->lock);

    verdict = itsmigd_preflight(d, name, dest, &policy, NULL, &profile, &local, &remote, &error);
    if (!verdict)
        return fail_gerror(res, error);
    r->its_in_kernel = itsmig_domain_profile_its_in_kernel(profile);
    r->check_emulated = policy.check_emulated;
    {
        g_autoptr(JsonBuilder) b = json_builder_new_immutable();

        json_builder_begin_object(b);
        itsmig_verdict_to_json_members(verdict, b);
        json_builder_end_object(b);
        g_mutex_lock(&r->o->lock);
        g_clear_pointer(&r->job->verdict, json_node_unref);
        r->job->verdict = json_builder_get_root(b);
        g_free(r->job->destination_hostname);
        r->job->destination_hostname = g_strdup(remote->hostname);
        g_mutex_unlock(&r->o->lock);
    }
    if (!verdict->allowed) {
        g_autofree char *line = itsmig_verdict_blockers_line(verdict);

        return fail_with(res, ITSMIG_OUTCOME_BLOCKED, "blocked", "%s", line);
    }

    if (!dest_holds_nothing(r, uuid, dest, res))
        return res->outcome;

    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return absent ? fail_with(res, ITSMIG_OUTCOME_FAILED, "not-found",
                                  "domain '%s' no longer exists here", name)
                      : fail_libvirt(res, "cannot look up the domain");
    xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        virDomainFree(dom);
        return fail_libvirt(res, "cannot read the domain XML");
    }
    virDomainFree(dom);
    /* Devices that cannot keep their interrupt state across the move: VFIO
     * without a migration-capable driver, every hostdev under GICv4.0 direct
     * injection (its vLPI state cannot be saved). */
    if (!explicit_list && policy.quiesce && profile->hostdevs) {
        for (guint i = 0; i < profile->hostdevs->len; i++) {
            const ItsmigHostdev *h = g_ptr_array_index(profile->hostdevs, i);

            if (h->alias && (verdict->direct_injection || h->migratable != 1))
                g_ptr_array_add(aliases, g_strdup(h->alias));
        }
    }
    /* And the devices the operator marked as not to be migrated with the
     * guest (emulated or not): unplugged here, plugged back where it runs. */
    if (!explicit_list && policy.quiesce && profile->msi_devices) {
        for (guint i = 0; i < profile->msi_devices->len; i++) {
            const ItsmigMsiDevice *m = g_ptr_array_index(profile->msi_devices, i);

            if (m->alias && g_strcmp0(m->kind, "controller") != 0 &&
                itsmigd_host_non_migratable(&d->host, m->alias) &&
                !g_ptr_array_find_with_equal_func(aliases, m->alias, g_str_equal, NULL))
                g_ptr_array_add(aliases, g_strdup(m->alias));
        }
    }
    for (guint i = 0; i < aliases->len; i++) {
        const char *alias = g_ptr_array_index(aliases, i);
        g_autofree char *dev = itsmig_domain_device_xml(xml, -1, alias, &error);

        if (!dev)
            return fail_with(res, ITSMIG_OUTCOME_FAILED, "invalid-argument",
                             "cannot detach '%s': %s", alias, error->message);
        g_mutex_lock(&r->o->lock);
        itsmig_job_add_device(r->job, alias, dev);
        g_mutex_unlock(&r->o->lock);
    }
    return record_migration(r, conn, uuid, dest, res);
}

static ItsmigOutcome do_detach(Run *r, virConnectPtr conn, int index, Result *res)
{
    g_autofree char *uuid = NULL, *alias = NULL, *xml = NULL;
    gint64 deadline = phase_deadline(r);
    gboolean absent, present;
    virDomainPtr dom;
    ItsmigOutcome outcome = ITSMIG_OUTCOME_OK;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    {
        ItsmigJobDevice *dev = g_ptr_array_index(r->job->devices, index);

        alias = g_strdup(dev->alias);
        xml = g_strdup(dev->xml);
    }
    r->removed = FALSE;
    g_mutex_unlock(&r->o->lock);
    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return fail_libvirt(res, "cannot look up the domain");
    if (!has_alias(dom, alias, &present)) {
        outcome = fail_libvirt(res, "cannot read the domain XML");
    } else if (present && virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        outcome = fail_libvirt(res, "cannot detach the device");
    } else {
        /* The guest acknowledges the unplug in its own time; libvirt says so
         * with DEVICE_REMOVED, and the XML is the truth either way. */
        while (present) {
            if (stop_requested(r, deadline, res)) {
                outcome = res->outcome;
                break;
            }
            g_mutex_lock(&r->o->lock);
            if (!r->removed)
                g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + POLL_US);
            r->removed = FALSE;
            g_mutex_unlock(&r->o->lock);
            if (!has_alias(dom, alias, &present)) {
                outcome = fail_libvirt(res, "cannot read the domain XML");
                break;
            }
        }
    }
    virDomainFree(dom);
    return outcome;
}

static ItsmigOutcome do_suspend(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *uuid = NULL, *name = NULL;
    gboolean absent;
    virDomainPtr dom;
    int state, reason;
    ItsmigOutcome outcome = ITSMIG_OUTCOME_OK;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    name = g_strdup(r->job->domain);
    g_mutex_unlock(&r->o->lock);
    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return fail_libvirt(res, "cannot look up the domain");
    /* Before the stop: what QEMU logs from here on is the save's. */
    mark_log(r, name);
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        outcome = fail_libvirt(res, "cannot read the domain's state");
    else if (state != VIR_DOMAIN_PAUSED && virDomainSuspend(dom) < 0)
        outcome = fail_libvirt(res, "cannot pause the vCPUs");
    virDomainFree(dom);
    return outcome;
}

JsonNode *itsmigd_its_evidence(gboolean checked, const char *method, const char *reason,
                               const char *log, GPtrArray *errors, GPtrArray *lines)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "checked");
    json_builder_add_boolean_value(b, checked);
    itsmig_json_add_string_or_null(b, "method", method);
    itsmig_json_add_string_or_null(b, "reason", reason);
    itsmig_json_add_string_or_null(b, "log", log);
    json_builder_set_member_name(b, "errors");
    json_builder_begin_array(b);
    for (guint i = 0; errors && i < errors->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(errors, i));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "lines");
    json_builder_begin_array(b);
    for (guint i = 0; lines && i < lines->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(lines, i));
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *itsmigd_its_evidence_not_kvm(void)
{
    return itsmigd_its_evidence(FALSE, "not-applicable",
                                "the guest's ITS is not KVM's: QEMU's emulated ITS travels in the "
                                "migration stream",
                                NULL, NULL, NULL);
}

JsonNode *itsmigd_its_evidence_scan(const char *path, const char *data, gsize len, guint kinds,
                                    const char *what, const char *where, char **ret_first_error)
{
    g_autoptr(GPtrArray) findings = itsmig_qemu_log_scan(data, len);
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *reason = NULL;

    for (guint i = 0; i < findings->len; i++) {
        const ItsmigQemuLogFinding *f = g_ptr_array_index(findings, i);

        g_ptr_array_add(lines, g_strdup(f->line));
        if (kinds & (1u << f->kind))
            g_ptr_array_add(
                errors,
                g_strdup_printf("%s: %s", itsmig_qemu_log_kind_to_string(f->kind), f->line));
    }
    reason = errors->len ? g_strdup_printf("%s errors %s", what, where)
                         : g_strdup_printf("no %s error %s", what, where);
    *ret_first_error = errors->len ? g_strdup(g_ptr_array_index(errors, 0)) : NULL;
    return itsmigd_its_evidence(TRUE, "qemu-log", reason, path, errors, lines);
}

static ItsmigOutcome do_verify_its_save(Run *r, Result *res)
{
    g_autofree char *name = NULL, *path = NULL, *where = NULL, *first = NULL;
    g_autoptr(GBytes) text = NULL;
    g_autoptr(GError) error = NULL;
    JsonNode *ev;
    gboolean truncated = FALSE, rotated = FALSE;
    gsize len;
    const char *data;

    g_mutex_lock(&r->o->lock);
    name = g_strdup(r->job->domain);
    g_mutex_unlock(&r->o->lock);
    path = log_path(r, name);
    if (!r->its_in_kernel && !r->check_emulated) {
        ev = itsmigd_its_evidence_not_kvm();
    } else if (r->log_offset < 0 || !itsmig_qemu_log_read(path, r->log_offset, LOG_READ_MAX, &text,
                                                          &truncated, &rotated, &error)) {
        g_autofree char *why = g_strdup_printf("cannot verify the ITS save: %s",
                                               error ? error->message
                                                     : "there was no QEMU log when the vCPUs "
                                                       "stopped (see [migration] qemu-log-dir)");

        g_mutex_lock(&r->o->lock);
        g_clear_pointer(&r->job->its_save, json_node_unref);
        r->job->its_save = itsmigd_its_evidence(FALSE, "qemu-log", why, path, NULL, NULL);
        g_mutex_unlock(&r->o->lock);
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "its-save-unverified", "%s", why);
    } else {
        data = g_bytes_get_data(text, &len);
        where = g_strdup_printf("in the %zu bytes QEMU logged since the vCPUs stopped%s%s", len,
                                truncated ? " (only the last part was read)" : "",
                                rotated ? " (the log was rotated meanwhile)" : "");
        ev = itsmigd_its_evidence_scan(path, data, len,
                                       1u << ITSMIG_QEMU_LOG_ITS_SAVE |
                                           1u << ITSMIG_QEMU_LOG_PENDING_SAVE |
                                           1u << ITSMIG_QEMU_LOG_ITS_REGS,
                                       "ITS save", where, &first);
    }
    g_mutex_lock(&r->o->lock);
    g_clear_pointer(&r->job->its_save, json_node_unref);
    r->job->its_save = ev;
    g_mutex_unlock(&r->o->lock);
    if (first)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "its-save-failed",
                         "QEMU reported that saving the ITS state failed: %s", first);
    return ITSMIG_OUTCOME_OK;
}

/* ---- the transfer ---------------------------------------------------------- */

typedef struct {
    Run *r;
    virDomainPtr dom;
    gint64 deadline;
    gboolean done;    /* under r->o->lock */
    gboolean aborted; /* we asked libvirt to abort: why is in res */
    Result res;
} Transfer;

/* Takes a job's statistics (polled, or from JOB_COMPLETED) into its progress. */
static void take_stats_locked(Run *r, virTypedParameterPtr params, int nparams)
{
    unsigned long long total = 0, processed = 0, remaining = 0, bps = 0, iteration = 0;

    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DATA_REMAINING, &remaining);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_BPS, &bps);
    virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_MEMORY_ITERATION, &iteration);
    r->job->progress.data_total = total;
    r->job->progress.data_processed = processed;
    r->job->progress.data_remaining = remaining;
    r->job->progress.bytes_per_second = bps;
    r->job->progress.iteration = iteration;
    r->job->progress.percent = total ? 100.0 * (double)(total - MIN(remaining, total)) / total : -1;
}

static void update_progress(Run *r, virDomainPtr dom)
{
    virTypedParameterPtr params = NULL;
    int nparams = 0, type;

    if (virDomainGetJobStats(dom, &type, &params, &nparams, 0) < 0)
        return;
    if (type == VIR_DOMAIN_JOB_UNBOUNDED || type == VIR_DOMAIN_JOB_BOUNDED) {
        g_mutex_lock(&r->o->lock);
        take_stats_locked(r, params, nparams);
        publish_locked(r, "progress", NULL, NULL);
        g_mutex_unlock(&r->o->lock);
    }
    virTypedParamsFree(params, nparams);
}

/* Watches a running transfer: progress, the deadline, an abort. */
static gpointer transfer_watch(gpointer data)
{
    Transfer *t = data;
    Run *r = t->r;

    for (;;) {
        gboolean done;

        g_mutex_lock(&r->o->lock);
        if (!t->done)
            g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + G_USEC_PER_SEC);
        done = t->done;
        g_mutex_unlock(&r->o->lock);
        if (done)
            break;
        if (!t->aborted && stop_requested(r, t->deadline, &t->res) &&
            t->res.outcome != ITSMIG_OUTCOME_FAILED) {
            /* Abort or time out; a daemon stop lets the transfer finish and
             * leaves it to the next start. */
            t->aborted = TRUE;
            if (virDomainAbortJob(t->dom) < 0)
                g_warning("cannot abort the transfer of %s: %s", virDomainGetName(t->dom),
                          virGetLastErrorMessage());
            continue;
        }
        update_progress(r, t->dom);
    }
    return NULL;
}

static ItsmigOutcome do_migrate(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *uuid = NULL, *name = NULL, *dest = NULL;
    g_autoptr(ItsmigdPeerConfig) peer = NULL;
    virTypedParameterPtr params = NULL;
    int nparams = 0, maxparams = 0, rc;
    unsigned int flags = VIR_MIGRATE_PEER2PEER;
    ItsmigJobOptions opt;
    ItsmigJobMode mode;
    gboolean absent;
    virDomainPtr dom;
    Transfer t = {0};
    GThread *watch;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    name = g_strdup(r->job->domain);
    dest = g_strdup(r->job->destination);
    opt = r->job->options;
    opt.detach = NULL;
    mode = r->job->mode;
    g_mutex_unlock(&r->o->lock);

    peer = itsmigd_peers_get_config(r->o->d->peers, dest);
    if (!peer || !peer->migrate_uri)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "invalid-config",
                         "peer %s has no migrate-uri (set it in [peer %s])", dest, dest);
    if (!dest_holds_nothing(r, uuid, dest, res))
        return res->outcome;

    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return fail_libvirt(res, "cannot look up the domain");
    if (mode == ITSMIG_MODE_LIVE) {
        /* As plain live migration: the destination runs from the switchover
         * on, so the guest's pause is QEMU's alone; the save and restore are
         * verified right after. */
        flags |= VIR_MIGRATE_LIVE;
        /* QEMU stops the vCPUs at switchover: the save is logged after this. */
        mark_log(r, name);
    } else {
        /* Nothing runs on the destination before it is verified. */
        flags |= VIR_MIGRATE_PAUSED;
    }
    if (opt.auto_converge)
        flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (virDomainIsPersistent(dom) == 1)
        flags |= VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
    if (peer->migrate_address)
        virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI,
                                peer->migrate_address);
    if (opt.bandwidth_mibs)
        virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                                opt.bandwidth_mibs);
    if (opt.max_downtime_ms && virDomainMigrateSetMaxDowntime(dom, opt.max_downtime_ms, 0) < 0)
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, name, "cannot set the maximum downtime: %s",
                           virGetLastErrorMessage());

    t.r = r;
    t.dom = dom;
    t.deadline = phase_deadline(r);
    watch = g_thread_new("itsmigd-transfer", transfer_watch, &t);
    itsmigd_log_domain(G_LOG_LEVEL_INFO, name, "migration: transfer to %s (%s) begins",
                       peer->migrate_uri, itsmig_job_mode_to_string(mode));
    rc = virDomainMigrateToURI3(dom, peer->migrate_uri, params, nparams, flags);
    if (rc < 0)
        fail_libvirt(res, "the transfer failed");
    g_mutex_lock(&r->o->lock);
    t.done = TRUE;
    g_cond_broadcast(&r->o->cond);
    g_mutex_unlock(&r->o->lock);
    g_thread_join(watch);
    virTypedParamsFree(params, nparams);
    virDomainFree(dom);
    if (rc < 0 && t.aborted) {
        /* libvirt's message says "cancelled"; ours says why. */
        result_clear(res);
        *res = t.res;
        return res->outcome;
    }
    result_clear(&t.res);
    return rc < 0 ? ITSMIG_OUTCOME_FAILED : ITSMIG_OUTCOME_OK;
}

/* ---- the destination ------------------------------------------------------------ */

static ItsmigOutcome do_verify_dest(Run *r, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) reply = ask_destination(r, "GET", NULL, NULL, &error);
    JsonObject *o;
    JsonNode *ev;
    JsonArray *errors;
    gboolean live;

    if (!reply)
        return fail_gerror(res, error);
    r->dest_last = dest_presence(reply);
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
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "unexpected-state",
                         live ? "the destination's copy is %s, not running or paused"
                              : "the destination's copy is %s, not paused awaiting verification",
                         itsmig_presence_to_string(r->dest_last));
    if (!ev || !JSON_NODE_HOLDS_OBJECT(ev))
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "peer-error",
                         "the destination sent no ITS restore evidence");
    errors = json_object_get_array_member(json_node_get_object(ev), "errors");
    if (errors && json_array_get_length(errors) > 0)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "its-restore-failed",
                         "the destination's QEMU reported ITS restore errors: %s",
                         json_array_get_string_element(errors, 0));
    return ITSMIG_OUTCOME_OK;
}

static ItsmigOutcome dest_call(Run *r, const char *what, JsonNode *body, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) reply = ask_destination(r, "POST", what, body, &error);

    if (!reply)
        return fail_gerror(res, error);
    r->dest_last = dest_presence(reply);
    return ITSMIG_OUTCOME_OK;
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

static ItsmigOutcome do_dest_call(Run *r, const char *what, Result *res)
{
    g_autoptr(JsonNode) body = dest_claim(r, -1);

    return dest_call(r, what, body, res);
}

static ItsmigOutcome do_attach_dest(Run *r, int index, Result *res)
{
    g_autoptr(JsonNode) body = dest_claim(r, index);

    return dest_call(r, "attach", body, res);
}

/* ---- rollback on the source --------------------------------------------------------- */

static ItsmigOutcome do_abort_transfer(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *uuid = NULL;
    gint64 until = g_get_monotonic_time() + ABORT_WAIT_US;
    gboolean absent;
    virDomainPtr dom;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    g_mutex_unlock(&r->o->lock);
    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return absent ? ITSMIG_OUTCOME_OK : fail_libvirt(res, "cannot look up the domain");
    if (virDomainAbortJob(dom) < 0 && virGetLastErrorCode() != VIR_ERR_OPERATION_INVALID)
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, virDomainGetName(dom), "aborting the transfer: %s",
                           virGetLastErrorMessage());
    for (;;) {
        virDomainJobInfo info;

        if (virDomainGetJobInfo(dom, &info) < 0 ||
            (info.type != VIR_DOMAIN_JOB_BOUNDED && info.type != VIR_DOMAIN_JOB_UNBOUNDED))
            break;
        if (g_get_monotonic_time() > until) {
            virDomainFree(dom);
            return fail_with(res, ITSMIG_OUTCOME_TIMEOUT, "timeout",
                             "the transfer did not stop within %d s of being aborted",
                             (int)(ABORT_WAIT_US / G_USEC_PER_SEC));
        }
        g_usleep(POLL_US);
    }
    virDomainFree(dom);
    return ITSMIG_OUTCOME_OK;
}

static ItsmigOutcome do_resume_source(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *uuid = NULL;
    gboolean absent;
    virDomainPtr dom;
    int state, reason;
    ItsmigOutcome outcome = ITSMIG_OUTCOME_OK;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    g_mutex_unlock(&r->o->lock);
    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return fail_libvirt(res, "cannot look up the domain");
    /* Resuming makes KVM map the vPEs again and QEMU restart the devices. */
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        outcome = fail_libvirt(res, "cannot read the domain's state");
    else if (state == VIR_DOMAIN_PAUSED && virDomainResume(dom) < 0)
        outcome = fail_libvirt(res, "cannot resume the vCPUs");
    virDomainFree(dom);
    return outcome;
}

static ItsmigOutcome do_attach_source(Run *r, virConnectPtr conn, int index, Result *res)
{
    g_autofree char *uuid = NULL, *alias = NULL, *xml = NULL;
    gboolean absent, present;
    virDomainPtr dom;
    ItsmigOutcome outcome = ITSMIG_OUTCOME_OK;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    alias = g_strdup(((ItsmigJobDevice *)g_ptr_array_index(r->job->devices, index))->alias);
    xml = g_strdup(((ItsmigJobDevice *)g_ptr_array_index(r->job->devices, index))->xml);
    g_mutex_unlock(&r->o->lock);
    dom = lookup(conn, uuid, &absent);
    if (!dom)
        return fail_libvirt(res, "cannot look up the domain");
    if (!has_alias(dom, alias, &present))
        outcome = fail_libvirt(res, "cannot read the domain XML");
    else if (!present && virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
        outcome = fail_libvirt(res, "cannot attach the device back");
    virDomainFree(dom);
    return outcome;
}

static ItsmigOutcome execute(Run *r, virConnectPtr conn, const ItsmigAction *a, Result *res)
{
    res->outcome = ITSMIG_OUTCOME_OK;
    if (!conn && a->kind != ITSMIG_ACTION_VERIFY_DEST && a->kind != ITSMIG_ACTION_RESUME_DEST &&
        a->kind != ITSMIG_ACTION_ATTACH_DEST && a->kind != ITSMIG_ACTION_DESTROY_DEST)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, "libvirt-unavailable",
                         "not connected to libvirt");
    switch (a->kind) {
    case ITSMIG_ACTION_PREFLIGHT: return do_preflight(r, conn, res);
    case ITSMIG_ACTION_DETACH: return do_detach(r, conn, a->device, res);
    case ITSMIG_ACTION_SUSPEND_SOURCE: return do_suspend(r, conn, res);
    case ITSMIG_ACTION_VERIFY_ITS_SAVE: return do_verify_its_save(r, res);
    case ITSMIG_ACTION_MIGRATE: return do_migrate(r, conn, res);
    case ITSMIG_ACTION_VERIFY_DEST: return do_verify_dest(r, res);
    case ITSMIG_ACTION_RESUME_DEST:
        /* In live mode libvirt resumed it at the switchover, and VERIFY_DEST
         * has just seen it run: no round trip on the way to done. */
        if (r->dest_last == ITSMIG_PRESENCE_RUNNING && r->job->mode == ITSMIG_MODE_LIVE)
            return ITSMIG_OUTCOME_OK;
        return do_dest_call(r, "resume", res);
    case ITSMIG_ACTION_ATTACH_DEST: return do_attach_dest(r, a->device, res);
    case ITSMIG_ACTION_ABORT_TRANSFER: return do_abort_transfer(r, conn, res);
    case ITSMIG_ACTION_DESTROY_DEST: return do_dest_call(r, "destroy", res);
    case ITSMIG_ACTION_RESUME_SOURCE: return do_resume_source(r, conn, res);
    case ITSMIG_ACTION_ATTACH_SOURCE: return do_attach_source(r, conn, a->device, res);
    case ITSMIG_ACTION_CONFIRM_SOURCE:
        return ITSMIG_OUTCOME_OK; /* the facts observed next are the confirmation */
    default: return fail_with(res, ITSMIG_OUTCOME_FAILED, "internal-error", "no such action");
    }
}

/* ---- the worker ---------------------------------------------------------------------- */

/* Whether the destination may hold a copy, so that it must be asked. */
static gboolean dest_matters(const ItsmigJob *job)
{
    return job->timings[ITSMIG_PHASE_TRANSFER].started_us != 0;
}

static void log_end(Run *r)
{
    ItsmigJob *job = r->job;

    switch (job->phase) {
    case ITSMIG_PHASE_DONE:
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, job->domain, "migration %s to %s done", job->id,
                           job->destination);
        break;
    case ITSMIG_PHASE_ROLLED_BACK:
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, job->domain,
                           "migration %s to %s rolled back after %s: %s", job->id, job->destination,
                           job->error_code, job->error_message);
        break;
    default:
        itsmigd_log_domain(G_LOG_LEVEL_CRITICAL, job->domain,
                           "migration %s to %s needs attention: %s", job->id, job->destination,
                           job->attention);
        break;
    }
}

static gpointer worker(gpointer data)
{
    Run *r = data;
    ItsmigdOrchestrator *o = r->o;
    virConnectPtr conn = itsmigd_virt_ref_connection(o->d->virt);
    ItsmigAction a;

    r->started_mono = g_get_monotonic_time();
    if (r->recover) {
        ItsmigJobFacts facts;
        gboolean ask;
        g_autofree char *was = NULL;

        g_mutex_lock(&o->lock);
        ask = dest_matters(r->job);
        was = g_strdup(itsmig_phase_to_string(r->job->phase));
        g_mutex_unlock(&o->lock);
        facts = observe(r, conn, ask);
        g_mutex_lock(&o->lock);
        itsmig_job_recover(r->job, &facts, g_get_real_time());
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, r->job->domain,
                           "migration %s: reconciled after a restart (was in %s; the source %s, "
                           "the destination %s): now %s",
                           r->job->id, was, itsmig_presence_to_string(facts.source),
                           itsmig_presence_to_string(facts.destination),
                           itsmig_phase_to_string(r->job->phase));
        publish_locked(r, "recovered", NULL, NULL);
        record_locked(r);
        r->recover = FALSE;
        g_mutex_unlock(&o->lock);
    }

    for (;;) {
        Result res = {ITSMIG_OUTCOME_OK, NULL, NULL};
        ItsmigJobFacts facts;
        gboolean journaled, ask;

        g_mutex_lock(&o->lock);
        if (o->stopping || !itsmig_job_next(r->job, &a)) {
            g_mutex_unlock(&o->lock);
            break;
        }
        itsmig_job_begin(r->job, &a, g_get_real_time());
        journaled = record_locked(r);
        g_mutex_unlock(&o->lock);
        itsmigd_log_domain(G_LOG_LEVEL_INFO, r->job->domain, "migration %s: %s%s", r->job->id,
                           itsmig_action_to_string(a.kind), journaled ? "" : " (not journaled)");

        fault_point(o, "before", a.kind);
        if (!journaled && a.kind < ITSMIG_ACTION_ABORT_TRANSFER)
            /* A step not journaled could not be reconciled after a crash:
             * forward steps wait for a working journal; rollback goes on. */
            fail_with(&res, ITSMIG_OUTCOME_FAILED, "journal-error",
                      "the journal could not record the step (see the log)");
        else
            execute(r, conn, &a, &res);
        fault_point(o, "after", a.kind);

        g_mutex_lock(&o->lock);
        ask = dest_matters(r->job) || a.kind == ITSMIG_ACTION_MIGRATE;
        g_mutex_unlock(&o->lock);
        facts = observe(r, conn, ask);
        g_mutex_lock(&o->lock);
        itsmig_job_end(r->job, res.outcome, res.code, res.message, &facts, g_get_real_time());
        record_locked(r);
        g_mutex_unlock(&o->lock);
        if (res.outcome != ITSMIG_OUTCOME_OK)
            itsmigd_log_domain(G_LOG_LEVEL_WARNING, r->job->domain, "migration %s: %s %s: %s",
                               r->job->id, itsmig_action_to_string(a.kind),
                               itsmig_outcome_to_string(res.outcome), res.message);
        result_clear(&res);
        fault_point(o, "reported", a.kind);
    }

    g_mutex_lock(&o->lock);
    if (itsmig_phase_is_terminal(r->job->phase))
        log_end(r);
    r->thread = NULL;
    o->workers--;
    prune_locked(o);
    g_cond_broadcast(&o->cond);
    g_mutex_unlock(&o->lock);
    if (conn)
        virConnectClose(conn);
    return NULL;
}

static void start_worker_locked(ItsmigdOrchestrator *o, Run *r)
{
    o->workers++;
    r->thread = g_thread_new("itsmigd-job", worker, r);
    /* Joined by nobody: it clears r->thread itself when it ends. */
    g_thread_unref(r->thread);
}

/* ---- libvirt's events ------------------------------------------------------------------- */

static void on_device_removed(gpointer data, const char *uuid, const char *alias)
{
    ItsmigdOrchestrator *o = data;

    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        if (!itsmig_phase_is_terminal(r->job->phase) && strcmp(r->job->uuid, uuid) == 0)
            r->removed = TRUE;
    }
    g_cond_broadcast(&o->cond);
    g_mutex_unlock(&o->lock);
}

static void on_job_completed(gpointer data, const char *uuid, virTypedParameterPtr params,
                             int nparams)
{
    ItsmigdOrchestrator *o = data;
    unsigned long long downtime = 0;

    if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DOWNTIME, &downtime) != 1)
        return;
    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        /* libvirt sends it just before its reply to the migration call, so
         * the main loop may dispatch it after the transfer phase ended. */
        if (strcmp(r->job->uuid, uuid) != 0 || itsmig_phase_is_terminal(r->job->phase) ||
            !r->job->timings[ITSMIG_PHASE_TRANSFER].started_us)
            continue;
        /* The final figures of the transfer, which polling may have missed. */
        r->job->progress.downtime_ms = (gint64)MIN(downtime, (unsigned long long)G_MAXINT64);
        take_stats_locked(r, params, nparams);
    }
    g_mutex_unlock(&o->lock);
}

/* ---- the API --------------------------------------------------------------------------- */

static gint by_created(gconstpointer a, gconstpointer b)
{
    const Run *ra = *(Run *const *)a, *rb = *(Run *const *)b;

    return ra->job->created_us < rb->job->created_us ? -1
                                                     : ra->job->created_us > rb->job->created_us;
}

ItsmigdOrchestrator *itsmigd_orchestrator_new(ItsmigDaemon *daemon, const char *state_dir,
                                              GError **error)
{
    g_autoptr(ItsmigdOrchestrator) o = g_new0(ItsmigdOrchestrator, 1);
    g_autofree char *dir = g_build_filename(state_dir, "jobs", NULL);
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    ItsmigdVirtObserver obs = {on_device_removed, on_job_completed, NULL};

    o->d = daemon;
    g_mutex_init(&o->lock);
    g_cond_init(&o->cond);
    o->runs = g_ptr_array_new_with_free_func((GDestroyNotify)run_free);
    o->limits.max_jobs = 2;
    o->limits.keep_finished = 100;
    o->limits.qemu_log_dir = g_strdup("/var/log/libvirt/qemu");
    o->limits.hook_record_dir = NULL;
    fault_parse(o);
    o->journal = itsmig_journal_open(dir, error);
    if (!o->journal)
        return NULL;
    records = itsmig_journal_load(o->journal, &problems);
    for (guint i = 0; problems && i < problems->len; i++)
        g_warning("journal: %s", (const char *)g_ptr_array_index(problems, i));
    for (guint i = 0; i < records->len; i++) {
        const ItsmigJournalRecord *rec = g_ptr_array_index(records, i);
        g_autoptr(JsonParser) parser = json_parser_new_immutable();
        g_autoptr(GError) local = NULL;
        ItsmigJob *job = NULL;

        if (json_parser_load_from_data(parser, rec->text, rec->len, &local))
            job = itsmig_job_from_json(json_parser_get_root(parser), &local);
        if (job && strcmp(job->id, rec->id) != 0) {
            g_set_error(&local, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "it names job %s, not %s",
                        job->id, rec->id);
            g_clear_pointer(&job, itsmig_job_free);
        }
        if (!job) {
            g_autofree char *message = NULL;

            itsmig_journal_set_aside(o->journal, rec->id, local->message, &message, NULL);
            g_warning("journal: %s", message ? message : local->message);
            continue;
        }
        {
            Run *r = g_new0(Run, 1);

            r->o = o;
            r->job = job;
            r->log_offset = -1;
            r->published_phase = job->phase;
            r->recover = !itsmig_phase_is_terminal(job->phase);
            r->dest_last = job->facts.destination;
            if (r->recover)
                g_message("journal: migration %s of %s to %s was in %s when itsmigd stopped; "
                          "it is reconciled once libvirt is connected",
                          job->id, job->domain, job->destination,
                          itsmig_phase_to_string(job->phase));
            g_ptr_array_add(o->runs, r);
        }
    }
    /* Oldest first, by creation. */
    g_ptr_array_sort(o->runs, by_created);
    obs.data = o;
    itsmigd_virt_set_observer(daemon->virt, &obs);
    return g_steal_pointer(&o);
}

void itsmigd_orchestrator_free(ItsmigdOrchestrator *o)
{
    gint64 until = g_get_monotonic_time() + STOP_WAIT_US;
    guint left;

    if (!o)
        return;
    g_mutex_lock(&o->lock);
    o->stopping = TRUE;
    g_cond_broadcast(&o->cond);
    while (o->workers > 0 && g_cond_wait_until(&o->cond, &o->lock, until))
        ;
    left = o->workers;
    g_mutex_unlock(&o->lock);
    if (left) {
        /* A thread still inside libvirt (a transfer) cannot be stopped; the
         * journal says where it was, and the next start reconciles it. */
        g_warning("%u migration(s) still under way at exit; they are reconciled at the next "
                  "start",
                  left);
        return;
    }
    g_ptr_array_unref(o->runs);
    itsmig_journal_free(o->journal);
    g_free(o->limits.qemu_log_dir);
    g_free(o->limits.hook_record_dir);
    g_free(o->fault.point);
    g_free(o->fault.action);
    g_cond_clear(&o->cond);
    g_mutex_clear(&o->lock);
    g_free(o);
}

void itsmigd_orchestrator_set_limits(ItsmigdOrchestrator *o,
                                     const ItsmigdOrchestratorLimits *limits)
{
    g_mutex_lock(&o->lock);
    g_free(o->limits.qemu_log_dir);
    g_free(o->limits.hook_record_dir);
    o->limits = *limits;
    o->limits.qemu_log_dir = g_strdup(limits->qemu_log_dir);
    o->limits.hook_record_dir = g_strdup(limits->hook_record_dir);
    g_mutex_unlock(&o->lock);
}

void itsmigd_orchestrator_get_defaults(ItsmigdOrchestrator *o, ItsmigdOrchestratorLimits *ret)
{
    g_mutex_lock(&o->lock);
    *ret = o->limits;
    ret->qemu_log_dir = NULL;
    ret->hook_record_dir = NULL;
    g_mutex_unlock(&o->lock);
}

char *itsmigd_orchestrator_qemu_log_dir(ItsmigdOrchestrator *o)
{
    char *dir;

    g_mutex_lock(&o->lock);
    dir = g_strdup(o->limits.qemu_log_dir);
    g_mutex_unlock(&o->lock);
    return dir;
}

char *itsmigd_orchestrator_hook_record_dir(ItsmigdOrchestrator *o)
{
    char *dir;

    g_mutex_lock(&o->lock);
    dir = g_strdup(o->limits.hook_record_dir);
    g_mutex_unlock(&o->lock);
    return dir;
}

void itsmigd_orchestrator_connected(ItsmigdOrchestrator *o)
{
    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        Run *r = g_ptr_array_index(o->runs, i);

        /* The worker clears r->recover once it has reconciled. */
        if (r->recover && !r->thread && !o->stopping)
            start_worker_locked(o, r);
    }
    g_mutex_unlock(&o->lock);
}

static char *new_id(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");

    return g_strdup_printf("%s-%06x", stamp, g_random_int_range(0, 0xffffff));
}

JsonNode *itsmigd_orchestrator_start(ItsmigdOrchestrator *o, const char *domain, const char *uuid,
                                     const char *destination, ItsmigJobMode mode,
                                     const ItsmigJobOptions *options, GError **error)
{
    g_autofree char *id = new_id();
    g_autofree char *source = NULL;
    guint active = 0;
    Run *r;

    {
        g_autoptr(ItsmigHostCaps) caps = itsmigd_host_get_caps(&o->d->host);

        source = g_strdup(caps->hostname);
    }
    g_mutex_lock(&o->lock);
    if (o->stopping) {
        g_mutex_unlock(&o->lock);
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "itsmigd is stopping");
        return NULL;
    }
    for (guint i = 0; i < o->runs->len; i++) {
        Run *other = g_ptr_array_index(o->runs, i);

        if (itsmig_phase_is_terminal(other->job->phase))
            continue;
        if (strcmp(other->job->uuid, uuid) == 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                        "migration %s of '%s' is under way (%s)", other->job->id, domain,
                        itsmig_phase_to_string(other->job->phase));
            g_mutex_unlock(&o->lock);
            return NULL;
        }
        active++;
    }
    if (active >= o->limits.max_jobs) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_TOO_MANY_JOBS,
                    "%u migrations are under way, the most [migration] max-jobs allows", active);
        g_mutex_unlock(&o->lock);
        return NULL;
    }
    while (find_locked(o, id)) {
        g_free(id);
        id = new_id();
    }
    r = g_new0(Run, 1);
    r->o = o;
    r->log_offset = -1;
    r->dest_last = ITSMIG_PRESENCE_UNKNOWN;
    r->job =
        itsmig_job_new(id, domain, uuid, source, destination, mode, options, g_get_real_time());
    r->published_phase = ITSMIG_PHASE_LAST;
    if (!save_locked(r, error)) {
        g_mutex_unlock(&o->lock);
        run_free(r);
        return NULL;
    }
    g_ptr_array_add(o->runs, r);
    start_worker_locked(o, r);
    itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, domain, "migration %s to %s (%s) accepted", id,
                       destination, itsmig_job_mode_to_string(mode));
    {
        JsonNode *node = itsmig_job_to_json(r->job);

        g_mutex_unlock(&o->lock);
        return node;
    }
}

JsonNode *itsmigd_orchestrator_get(ItsmigdOrchestrator *o, const char *id, GError **error)
{
    JsonNode *node = NULL;
    Run *r;

    g_mutex_lock(&o->lock);
    r = find_locked(o, id);
    if (r)
        node = itsmig_job_to_json(r->job);
    g_mutex_unlock(&o->lock);
    if (!node)
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "no migration '%s' is known", id);
    return node;
}

JsonNode *itsmigd_orchestrator_list(ItsmigdOrchestrator *o)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "migrations");
    json_builder_begin_array(b);
    g_mutex_lock(&o->lock);
    for (guint i = o->runs->len; i > 0; i--)
        json_builder_add_value(b,
                               itsmig_job_to_json(((Run *)g_ptr_array_index(o->runs, i - 1))->job));
    g_mutex_unlock(&o->lock);
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *itsmigd_orchestrator_abort(ItsmigdOrchestrator *o, const char *id, GError **error)
{
    JsonNode *node = NULL;
    Run *r;

    g_mutex_lock(&o->lock);
    r = find_locked(o, id);
    if (!r) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "no migration '%s' is known", id);
    } else if (r->job->abort_requested && !itsmig_phase_is_terminal(r->job->phase)) {
        node = itsmig_job_to_json(r->job); /* asked before: the same answer */
    } else if (!itsmig_job_request_abort(r->job, g_get_real_time())) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                    itsmig_phase_is_terminal(r->job->phase)
                        ? "migration %s has ended (%s)"
                        : "migration %s is past the point of return (%s): the transfer has "
                          "completed, so there is no source copy to go back to",
                    id, itsmig_phase_to_string(r->job->phase));
    } else {
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, r->job->domain, "migration %s: abort requested",
                           id);
        publish_locked(r, "abort-requested", NULL, NULL);
        record_locked(r);
        g_cond_broadcast(&o->cond);
        node = itsmig_job_to_json(r->job);
    }
    g_mutex_unlock(&o->lock);
    return node;
}

guint itsmigd_orchestrator_active(ItsmigdOrchestrator *o)
{
    guint n = 0;

    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++)
        if (!itsmig_phase_is_terminal(((Run *)g_ptr_array_index(o->runs, i))->job->phase))
            n++;
    g_mutex_unlock(&o->lock);
    return n;
}
