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
#include "daemon/qemu-marker.h"
#include "daemon/virt-domain.h"

/* What a verification reads of a QEMU log at most. */
#define LOG_READ_MAX (1024 * 1024)
/* How often waits look again (device removal, a job ending). */
#define POLL_US (250 * 1000)
/* How long a stop waits for actions under way. */
#define STOP_WAIT_US (10 * G_USEC_PER_SEC)
/* How long a step waits for a live libvirt connection when the phase has no
 * time limit of its own. */
#define CONNECT_WAIT_US (60 * G_USEC_PER_SEC)
/* Back-off between questions to a destination that does not answer. */
#define PEER_RETRY_FIRST_US (1 * G_USEC_PER_SEC)
#define PEER_RETRY_MAX_US   (10 * G_USEC_PER_SEC)
/* ... and, once a job needs attention because of it, between re-examinations. */
#define PEER_RECHECK_MAX_US (60 * G_USEC_PER_SEC)
/* Bounds of waiting for an aborted transfer to end. */
#define ABORT_WAIT_US (60 * G_USEC_PER_SEC)
/* Bounds of waiting, before a device is attached back to the source, for an unplug the job
 * asked for to complete: the guest acknowledges it in its own time (a PCIe hot-unplug waits
 * 5 s for its attention button), and attaching back while it is pending does nothing, so the
 * late removal would leave the guest without the device. */
#define UNPLUG_GRACE_US (15 * G_USEC_PER_SEC)
/* Retrying a job record the journal could not take (a full disk): first and longest wait. */
#define JOURNAL_RETRY_MIN_US (1 * G_USEC_PER_SEC)
#define JOURNAL_RETRY_MAX_US (30 * G_USEC_PER_SEC)

typedef struct ItsmigdOrchestrator ItsmigdOrchestrator;

typedef struct {
    ItsmigdOrchestrator *o;
    ItsmigJob *job; /* under o->lock */
    GThread *thread;
    gboolean recover; /* reconcile before going on */
    /* Worker only. */
    goffset log_offset; /* the QEMU log's size before the vCPUs stopped, -1: none */
    char *mark_error;   /* why QEMU could not be made to mark its log, NULL: it could */
    guint marks;        /* marks written so far, for a fresh tag each */
    gboolean its_in_kernel;
    gboolean check_emulated;
    ItsmigPresence dest_last;
    gint64 started_mono;
    /* Bit i: libvirt took this worker's request to unplug job->devices[i] (G_MAXUINT64 after
     * a restart, when that is not known), so the guest may still be releasing it. */
    guint64 unplug_asked;
    /* Under o->lock. */
    gboolean removed; /* a DEVICE_REMOVED for this domain since the last look */
    ItsmigPhase published_phase;
    guint64 version; /* of the record, counted as it changes */
} Run;

/* One version of a job's record, taken under o->lock and written after it
 * is released: nobody waits on the lock while the journal syncs. */
typedef struct {
    char *id;
    char *domain;
    char *text;
    guint64 version;
    int begins;          /* the action whose start it records, -1 */
    gboolean was_behind; /* the versions before it did not reach the journal */
} Record;

struct ItsmigdOrchestrator {
    ItsmigDaemon *d;
    ItsmigJournal *journal;
    GMutex lock;
    GCond cond;      /* device removals, aborts, workers ending */
    GPtrArray *runs; /* Run *, oldest first */
    ItsmigdOrchestratorLimits limits;
    gboolean stopping;
    gboolean gave_up; /* the stop stopped waiting for the workers */
    guint workers;
    /* Journal writes, in the order of the records' versions.  Never taken
     * with o->lock held, nor by the main loop. */
    GMutex io;
    GHashTable *written; /* job id -> guint64 *: the version on disk; G_MAXUINT64: removed */
    struct {
        char *point;
        char *action;
        gboolean stop;
        guint seconds;
    } fault;
};

/* ---- fault injection ------------------------------------------------------- */

/* Only in the test build (tests/itsmigd-fault): a production itsmigd must not
 * kill itself because its environment says so. */
#ifdef ITSMIGD_FAULT_INJECTION

static gboolean fault_armed(ItsmigdOrchestrator *o, const char *point, int kind)
{
    return o->fault.point && kind >= 0 && strcmp(o->fault.point, point) == 0 &&
           strcmp(o->fault.action, itsmig_action_to_string(kind)) == 0;
}

static void fault_point(ItsmigdOrchestrator *o, const char *point, ItsmigActionKind kind)
{
    if (!fault_armed(o, point, kind))
        return;
    g_warning("fault injection (ITSMIGD_FAULT): %s at %s:%s", o->fault.stop ? "stopping" : "dying",
              point, o->fault.action);
    raise(o->fault.stop ? SIGSTOP : SIGKILL);
}

/* "journal:ACTION[:SECONDS]": writing the record of ACTION's start takes
 * SECONDS (10) longer, as a journal whose fsync hangs. */
static void fault_journal(ItsmigdOrchestrator *o, int kind)
{
    if (!fault_armed(o, "journal", kind))
        return;
    g_warning("fault injection (ITSMIGD_FAULT): the journal write of %s stalls %u s",
              o->fault.action, o->fault.seconds);
    g_usleep((gulong)o->fault.seconds * G_USEC_PER_SEC);
}

/* "hang:ACTION": ACTION starts only once a stop has given up waiting for
 * it, as a libvirt call (a transfer) that returns at the worst moment. */
static void fault_hang(ItsmigdOrchestrator *o, ItsmigActionKind kind)
{
    if (!fault_armed(o, "hang", kind))
        return;
    g_warning("fault injection (ITSMIGD_FAULT): %s waits for a stop to give up", o->fault.action);
    g_mutex_lock(&o->lock);
    while (!o->gave_up)
        g_cond_wait(&o->cond, &o->lock);
    g_mutex_unlock(&o->lock);
}

static void fault_parse(ItsmigdOrchestrator *o)
{
    const char *spec = g_getenv("ITSMIGD_FAULT");
    g_auto(GStrv) parts = NULL;

    if (!spec || !spec[0])
        return;
    guint64 seconds = 10;

    parts = g_strsplit(spec, ":", 3);
    if (g_strv_length(parts) < 2 || itsmig_action_from_string(parts[1]) < 0 ||
        (strcmp(parts[0], "before") && strcmp(parts[0], "after") && strcmp(parts[0], "reported") &&
         strcmp(parts[0], "journal") && strcmp(parts[0], "hang")) ||
        (strcmp(parts[0], "journal") == 0 && parts[2] &&
         !g_ascii_string_to_unsigned(parts[2], 10, 1, 3600, &seconds, NULL))) {
        g_warning("ITSMIGD_FAULT=%s ignored: want before|after|reported:ACTION[:stop], "
                  "journal:ACTION[:SECONDS] or hang:ACTION",
                  spec);
        return;
    }
    o->fault.point = g_strdup(parts[0]);
    o->fault.action = g_strdup(parts[1]);
    o->fault.stop = parts[2] && strcmp(parts[2], "stop") == 0;
    o->fault.seconds = (guint)seconds;
    g_warning("fault injection armed: %s", spec);
}
#else
static void fault_point(ItsmigdOrchestrator *o, const char *point, ItsmigActionKind kind)
{
}

static void fault_journal(ItsmigdOrchestrator *o, int kind)
{
}

static void fault_hang(ItsmigdOrchestrator *o, ItsmigActionKind kind)
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
    g_free(r->mark_error);
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

/* The wall clock for a transition of @job, which also gets the monotonic clock that its
 * durations come from. */
static gint64 job_now(ItsmigJob *job)
{
    itsmig_job_set_clock(job, g_get_monotonic_time());
    return g_get_real_time();
}

static void record_free(Record *rec)
{
    if (!rec)
        return;
    g_free(rec->id);
    g_free(rec->domain);
    g_free(rec->text);
    g_free(rec);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Record, record_free)

/* The job as it stands, to be journaled by journal_put() once o->lock is
 * released; @begins: the action whose start it records, or -1. */
static Record *snapshot_locked(Run *r, int begins)
{
    g_autoptr(JsonNode) node = NULL;
    Record *rec = g_new0(Record, 1);

    /* The record says it is written: once it is, that is true (journal_commit() says
     * otherwise if it is not). */
    rec->was_behind = r->job->journal.behind;
    r->job->journal.written_us = g_get_real_time();
    itsmig_job_journal_written(r->job);
    node = itsmig_job_to_json(r->job);
    rec->id = g_strdup(r->job->id);
    rec->domain = g_strdup(r->job->domain);
    rec->text = json_to_string(node, FALSE);
    rec->version = ++r->version;
    rec->begins = begins;
    return rec;
}

/* Writes @rec unless a later version of the record (or its removal) is on
 * disk already; without o->lock, which the main loop and the API wait on. */
static gboolean journal_put(ItsmigdOrchestrator *o, const Record *rec, GError **error)
{
    guint64 *on_disk;
    gboolean ok = TRUE;

    g_mutex_lock(&o->io);
    on_disk = g_hash_table_lookup(o->written, rec->id);
    if (!on_disk || *on_disk < rec->version) {
        fault_journal(o, rec->begins);
        ok = itsmig_journal_write(o->journal, rec->id, rec->text, strlen(rec->text), error);
        if (ok) {
            if (!on_disk) {
                on_disk = g_new(guint64, 1);
                g_hash_table_insert(o->written, g_strdup(rec->id), on_disk);
            }
            *on_disk = rec->version;
        }
    }
    g_mutex_unlock(&o->io);
    return ok;
}

/* journal_put(); a failure is kept in the job (shown by the API until a later
 * write succeeds) and logged.  FALSE when the journal refused it. */
static gboolean journal_commit(ItsmigdOrchestrator *o, Record *rec)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = journal_put(o, rec, &error);
    guint failures = 0;
    Run *r;

    /* Found again by id: a job may be pruned once the lock is released. */
    g_mutex_lock(&o->lock);
    r = find_locked(o, rec->id);
    if (r && !ok)
        itsmig_job_journal_failed(r->job, error->message);
    if (r)
        failures = r->job->journal.failures;
    g_mutex_unlock(&o->lock);
    if (!ok)
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, rec->domain,
                           "migration %s: the journal could not record the job (%u failed "
                           "writes): %s",
                           rec->id, failures, error->message);
    else if (rec->was_behind)
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, rec->domain,
                           "migration %s: the journal records the job again, after %u failed "
                           "writes",
                           rec->id, failures);
    record_free(rec);
    return ok;
}

/* Removes the records of @ids (forgotten jobs) for good: a write of an
 * older version still on its way does not bring one back. */
static void journal_forget(ItsmigdOrchestrator *o, GPtrArray *ids)
{
    g_mutex_lock(&o->io);
    for (guint i = 0; ids && i < ids->len; i++) {
        const char *id = g_ptr_array_index(ids, i);
        guint64 *gone = g_new(guint64, 1);

        *gone = G_MAXUINT64;
        itsmig_journal_remove(o->journal, id, NULL);
        g_hash_table_insert(o->written, g_strdup(id), gone);
    }
    g_mutex_unlock(&o->io);
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

/* Tells the API, and returns the record for journal_commit() to write once
 * o->lock is released. */
static Record *record_locked(Run *r, int begins)
{
    if (r->job->phase != r->published_phase) {
        r->published_phase = r->job->phase;
        if (itsmig_phase_is_terminal(r->job->phase))
            publish_locked(r, "finished", itsmig_phase_to_string(r->job->phase),
                           r->job->attention ? r->job->attention : r->job->error_message);
        else
            publish_locked(r, "phase", NULL, NULL);
    }
    return snapshot_locked(r, begins);
}

/* Forgets the oldest finished jobs beyond [migration] keep-finished; their
 * ids go into @ret_ids, for journal_forget() once o->lock is released. */
static void prune_locked(ItsmigdOrchestrator *o, GPtrArray *ret_ids)
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
        g_ptr_array_add(ret_ids, g_strdup(r->job->id));
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

/* Whether the domain is on @conn's host and how: absent only when libvirt
 * says it does not exist, unknown when it cannot tell (or @conn is NULL).
 * The domain, when found, in @ret_dom. */
static ItsmigPresence presence_on(virConnectPtr conn, const char *uuid, virDomainPtr *ret_dom)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    ItsmigPresence p = ITSMIG_PRESENCE_UNKNOWN;
    int state;

    if (dom && itsmigd_virt_domain_get_state(dom, &state, NULL, &error))
        p = presence_of_state(state);
    else if (g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND))
        p = ITSMIG_PRESENCE_ABSENT;
    *ret_dom = g_steal_pointer(&dom);
    return p;
}

static void source_facts(virConnectPtr conn, const char *uuid, ItsmigJobFacts *f)
{
    g_autoptr(virDomain) dom = NULL;
    virDomainJobInfo info;

    f->source = presence_on(conn, uuid, &dom);
    f->transfer_active = FALSE;
    /* Drivers without jobs (the test driver) have no transfer either. */
    if (dom && virDomainGetJobInfo(dom, &info) == 0)
        f->transfer_active =
            info.type == VIR_DOMAIN_JOB_BOUNDED || info.type == VIR_DOMAIN_JOB_UNBOUNDED;
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
    /* @what: an action ("resume"), or a query ("?name=...") */
    path = g_strdup_printf("/v1/incoming/%s%s%s", uuid, what && what[0] != '?' ? "/" : "",
                           what ? what : "");
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

/* A destination's itsmigd that may answer again: down, restarting, slow. */
static gboolean peer_may_return(const GError *error)
{
    return g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_UNREACHABLE) ||
           g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_PEER_TIMEOUT);
}

/* The destination's state of the domain as its libvirt reports it, through
 * the URI the transfer uses ([peer NAME] migrate-uri): what can be known
 * there without its itsmigd. */
static ItsmigPresence dest_presence_libvirt(Run *r)
{
    g_autoptr(ItsmigdPeerConfig) peer = NULL;
    g_autofree char *uuid = NULL, *dest = NULL;
    g_autoptr(virConnect) conn = NULL;
    g_autoptr(virDomain) dom = NULL;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    dest = g_strdup(r->job->destination);
    g_mutex_unlock(&r->o->lock);
    peer = itsmigd_peers_get_config(r->o->d->peers, dest);
    if (!peer || !peer->migrate_uri || !(conn = virConnectOpen(peer->migrate_uri)))
        return ITSMIG_PRESENCE_UNKNOWN;
    return presence_on(conn, uuid, &dom);
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

        if (reply)
            f.destination = dest_presence(reply);
        else if (peer_may_return(error))
            f.destination = dest_presence_libvirt(r);
        else
            f.destination = ITSMIG_PRESENCE_UNKNOWN;
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

static ItsmigOutcome fail_with(Result *res, ItsmigOutcome outcome, ItsmigErrorCode code,
                               const char *format, ...) G_GNUC_PRINTF(4, 5);

static ItsmigOutcome fail_with(Result *res, ItsmigOutcome outcome, ItsmigErrorCode code,
                               const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    result_clear(res);
    res->outcome = outcome;
    res->code = g_strdup(itsmig_error_code_to_string(code));
    res->message = g_strdup_vprintf(format, ap);
    va_end(ap);
    return outcome;
}

static ItsmigOutcome fail_gerror(Result *res, const GError *error)
{
    return fail_with(res, ITSMIG_OUTCOME_FAILED, itsmig_error_get_code(error), "%s",
                     error->message);
}

/* A domain operation's failure (virt-domain.h). */
static ItsmigOutcome fail_domain_op(Result *res, const GError *error)
{
    return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_LIBVIRT, "%s", error->message);
}

/* A libvirt call's failure, from libvirt's last error. */
static ItsmigOutcome fail_libvirt(Result *res, const char *what)
{
    g_autoptr(GError) error = NULL;

    itsmigd_virt_error(&error, "%s", what);
    return fail_domain_op(res, error);
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
        fail_with(res, ITSMIG_OUTCOME_ABORTED, ITSMIG_ERROR_ABORTED,
                  "the migration was aborted on request");
        return TRUE;
    }
    if (stopping) {
        fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_DAEMON_STOPPING, "itsmigd is stopping");
        return TRUE;
    }
    if (deadline_mono && g_get_monotonic_time() > deadline_mono) {
        fail_with(res, ITSMIG_OUTCOME_TIMEOUT, ITSMIG_ERROR_TIMEOUT, "the phase ran out of time");
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

/* Only a destination that answers, and holds no copy of the domain, nor another domain of
 * its name (libvirt would refuse the transfer only after the pause), may receive one. */
static gboolean dest_holds_nothing(Run *r, const char *uuid, const char *dest, Result *res)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *name = NULL;
    g_autofree char *query = NULL;
    g_autoptr(JsonNode) incoming = NULL;
    JsonNode *taken;

    g_mutex_lock(&r->o->lock);
    name = g_uri_escape_string(r->job->domain, NULL, FALSE);
    g_mutex_unlock(&r->o->lock);
    query = g_strconcat("?name=", name, NULL);
    incoming = ask_destination(r, "GET", query, NULL, &error);
    if (!incoming) {
        fail_gerror(res, error);
        return FALSE;
    }
    /* Absent from a peer too old to look: then libvirt's refusal is the check. */
    taken = json_object_get_member(json_node_get_object(incoming), "name_taken");
    if (taken && JSON_NODE_HOLDS_VALUE(taken) && json_node_get_boolean(taken)) {
        g_autofree char *domain = NULL;

        g_mutex_lock(&r->o->lock);
        domain = g_strdup(r->job->domain);
        g_mutex_unlock(&r->o->lock);
        fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_CONFLICT,
                  "%s holds another domain named '%s' (a different UUID): libvirt would refuse "
                  "the transfer; rename or remove one of them",
                  dest, domain);
        return FALSE;
    }
    r->dest_last = dest_presence(incoming);
    if (r->dest_last != ITSMIG_PRESENCE_ABSENT) {
        fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_CONFLICT,
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
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (!peer || !peer->token)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_UNKNOWN_PEER,
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
    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom)
        return fail_domain_op(res, error);
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, ITSMIGD_MIGRATION_PREFIX,
                             ITSMIGD_MIGRATION_NS, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return fail_libvirt(res, "cannot record the migration in the domain's metadata");
    return ITSMIG_OUTCOME_OK;
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
    g_autoptr(virDomain) dom = NULL;
    gboolean explicit_list;
    int state = VIR_DOMAIN_NOSTATE, reason;

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

        return fail_with(res, ITSMIG_OUTCOME_BLOCKED, ITSMIG_ERROR_BLOCKED, "%s", line);
    }

    if (!dest_holds_nothing(r, uuid, dest, res))
        return res->outcome;

    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom)
        return g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND)
                   ? fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_NOT_FOUND,
                               "domain '%s' no longer exists here", name)
                   : fail_domain_op(res, error);
    xml = virDomainGetXMLDesc(dom, 0);
    if (!xml)
        return fail_libvirt(res, "cannot read the domain XML");
    {
        /* A transient guest has no definition to fall back on: a person must know that. */
        gboolean transient = virDomainIsPersistent(dom) == 0;

        g_mutex_lock(&r->o->lock);
        r->job->transient = transient;
        g_mutex_unlock(&r->o->lock);
    }
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return fail_libvirt(res, "cannot read the domain's state");
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
    /* A paused guest cannot acknowledge an unplug: the request would wait in QEMU and
     * complete whenever the guest next runs, after the job, taking the device away. */
    if (aliases->len && state == VIR_DOMAIN_PAUSED) {
        g_autofree char *list = NULL;

        g_ptr_array_add(aliases, NULL);
        list = g_strjoinv(", ", (char **)aliases->pdata);
        g_ptr_array_remove_index(aliases, aliases->len - 1);
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_CONFLICT,
                         "'%s' is paused, so its guest cannot release the devices that must be "
                         "detached for the move (%s): resume it first, or migrate it without "
                         "detaching them (options.quiesce false)",
                         name, list);
    }
    for (guint i = 0; i < aliases->len; i++) {
        const char *alias = g_ptr_array_index(aliases, i);
        g_autofree char *dev = itsmig_domain_device_xml(xml, -1, alias, &error);

        if (!dev)
            return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_INVALID_ARGUMENT,
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
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;
    gboolean present;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    {
        ItsmigJobDevice *dev = g_ptr_array_index(r->job->devices, index);

        alias = g_strdup(dev->alias);
        xml = g_strdup(dev->xml);
    }
    r->removed = FALSE;
    g_mutex_unlock(&r->o->lock);
    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom || !itsmigd_virt_domain_detach(dom, alias, xml, &present, &error))
        return fail_domain_op(res, error);
    if (present)
        r->unplug_asked |= index < 64 ? G_GUINT64_CONSTANT(1) << index : G_MAXUINT64;
    /* The guest acknowledges the unplug in its own time; libvirt says so
     * with DEVICE_REMOVED, and the XML is the truth either way. */
    while (present) {
        if (stop_requested(r, deadline, res))
            return res->outcome;
        g_mutex_lock(&r->o->lock);
        if (!r->removed)
            g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + POLL_US);
        r->removed = FALSE;
        g_mutex_unlock(&r->o->lock);
        if (!itsmigd_virt_domain_has_device(dom, alias, &present, &error))
            return fail_domain_op(res, error);
    }
    return ITSMIG_OUTCOME_OK;
}

/* Whether verifications wait for a mark of QEMU's in its log. */
static gboolean marking(Run *r)
{
    gboolean on;

    g_mutex_lock(&r->o->lock);
    on = r->o->limits.qemu_log_mark;
    g_mutex_unlock(&r->o->lock);
    return on && (r->its_in_kernel || r->check_emulated);
}

/* Makes QEMU ready to mark its log (@event, NULL: the mark of a pause),
 * before the vCPUs stop: libvirt logs the monitor's taint through virtlogd
 * the first time, which must not wait on a virtlogd that lags after the
 * stop.  A failure is kept for the verification to report. */
static void arm_marker(Run *r, virDomainPtr dom, const char *event)
{
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&r->mark_error, g_free);
    if (!marking(r) || itsmigd_qemu_marker_arm(dom, event, &error))
        return;
    r->mark_error = g_strdup(error->message);
    itsmigd_log_domain(G_LOG_LEVEL_WARNING, virDomainGetName(dom),
                       "QEMU cannot mark its log, so the ITS save cannot be verified: %s",
                       error->message);
}

static ItsmigOutcome do_suspend(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *uuid = NULL, *name = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    name = g_strdup(r->job->domain);
    g_mutex_unlock(&r->o->lock);
    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom)
        return fail_domain_op(res, error);
    /* Before the stop: what QEMU logs from here on is the save's. */
    mark_log(r, name);
    arm_marker(r, dom, NULL);
    if (!itsmigd_virt_domain_suspend(dom, &error))
        return fail_domain_op(res, error);
    return ITSMIG_OUTCOME_OK;
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

/* The text whose line in the QEMU log shows that the log holds everything
 * QEMU wrote up to the stop: a mark QEMU writes now (safe mode, the source
 * paused), or its trace of the live migration completing. */
static char *its_save_mark(Run *r, virConnectPtr conn, gboolean live, GError **error)
{
    g_autofree char *uuid = NULL, *id = NULL, *tag = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(virDomain) dom = NULL;

    if (live && r->mark_error) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "%s", r->mark_error);
        return NULL;
    }
    if (live)
        return g_strdup(ITSMIGD_QEMU_MARK_MIGRATION_LINE);
    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    id = g_strdup(r->job->id);
    g_mutex_unlock(&r->o->lock);
    dom = itsmigd_virt_domain_lookup(conn, uuid, &local);
    if (!dom) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT,
                    "the source's QEMU is not there to mark its log: %s", local->message);
        return NULL;
    }
    tag = g_strdup_printf("%s-%u", id, ++r->marks);
    return itsmigd_qemu_marker_write(dom, tag, error);
}

static ItsmigOutcome its_save_unverified(Run *r, const char *path, Result *res, const char *format,
                                         ...) G_GNUC_PRINTF(4, 5);

static ItsmigOutcome its_save_unverified(Run *r, const char *path, Result *res, const char *format,
                                         ...)
{
    g_autofree char *detail = NULL, *why = NULL;
    va_list ap;

    va_start(ap, format);
    detail = g_strdup_vprintf(format, ap);
    va_end(ap);
    why = g_strdup_printf("cannot verify the ITS save: %s", detail);
    g_mutex_lock(&r->o->lock);
    g_clear_pointer(&r->job->its_save, json_node_unref);
    r->job->its_save = itsmigd_its_evidence(FALSE, "qemu-log", why, path, NULL, NULL);
    g_mutex_unlock(&r->o->lock);
    itsmigd_metrics_count(r->o->d->metrics, ITSMIGD_COUNTER_ITS_SAVE_FAILED,
                          (const char *[]){"its-save-unverified"});
    return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_ITS_SAVE_UNVERIFIED, "%s", why);
}

/* Reads what QEMU logged since the vCPUs stopped; with a mark, waits (until
 * @deadline) for it to reach the log and keeps what comes before it. */
static ItsmigOutcome read_save_log(Run *r, const char *path, const char *mark, gboolean live,
                                   gint64 deadline, GBytes **ret_text, gboolean *ret_truncated,
                                   gboolean *ret_rotated, Result *res)
{
    goffset offset = r->log_offset;

    for (;;) {
        g_autoptr(GBytes) text = NULL;
        g_autoptr(GError) error = NULL;
        gsize len;
        const char *data;
        gssize end;

        if (offset < 0) {
            /* After a restart the size before the stop is not known: all
             * that this QEMU process logged, from libvirt's line that
             * started it. */
            gssize start;

            if (!itsmig_qemu_log_read(path, 0, LOG_READ_MAX, &text, NULL, NULL, &error))
                return its_save_unverified(r, path, res, "%s", error->message);
            data = g_bytes_get_data(text, &len);
            start = itsmigd_qemu_log_last_start(data, len);
            if (start < 0)
                return its_save_unverified(r, path, res,
                                           "itsmigd restarted, and the last %zu bytes of the QEMU "
                                           "log do not show where this QEMU's output begins",
                                           len);
            data += start;
            len -= start;
            *ret_truncated = FALSE;
            *ret_rotated = FALSE;
        } else {
            if (!itsmig_qemu_log_read(path, offset, LOG_READ_MAX, &text, ret_truncated, ret_rotated,
                                      &error))
                return its_save_unverified(r, path, res, "%s", error->message);
            data = g_bytes_get_data(text, &len);
        }
        end = mark ? itsmigd_qemu_marker_find(data, len, mark, live) : (gssize)len;
        if (end >= 0) {
            *ret_text = g_bytes_new(data, end);
            return ITSMIG_OUTCOME_OK;
        }
        if (stop_requested(r, 0, res))
            return res->outcome;
        if (g_get_monotonic_time() > deadline)
            return its_save_unverified(
                r, path, res,
                "QEMU's mark (%s) did not reach its log within the phase's time, so the log may "
                "lack what QEMU wrote when the vCPUs stopped (is virtlogd stalled?)",
                mark);
        g_usleep(POLL_US);
    }
}

static ItsmigOutcome do_verify_its_save(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *name = NULL, *path = NULL, *where = NULL, *first = NULL, *mark = NULL;
    g_autoptr(GBytes) text = NULL;
    g_autoptr(GError) error = NULL;
    gint64 deadline = phase_deadline(r);
    JsonNode *ev;
    gboolean truncated = FALSE, rotated = FALSE, live, recovered;
    gsize len;
    const char *data;

    g_mutex_lock(&r->o->lock);
    name = g_strdup(r->job->domain);
    live = r->job->mode == ITSMIG_MODE_LIVE;
    recovered = r->job->recovered;
    g_mutex_unlock(&r->o->lock);
    path = log_path(r, name);
    if (!r->its_in_kernel && !r->check_emulated) {
        ev = itsmigd_its_evidence_not_kvm();
    } else if (r->log_offset < 0 && !recovered) {
        return its_save_unverified(r, path, res,
                                   "there was no QEMU log when the vCPUs stopped (see "
                                   "[migration] qemu-log-dir)");
    } else {
        if (marking(r) && !(mark = its_save_mark(r, conn, live, &error)))
            return its_save_unverified(r, path, res, "QEMU could not mark its log: %s",
                                       error->message);
        if (read_save_log(r, path, mark, live, deadline ? deadline : G_MAXINT64, &text, &truncated,
                          &rotated, res) != ITSMIG_OUTCOME_OK)
            return res->outcome;
        data = g_bytes_get_data(text, &len);
        where = g_strdup_printf(
            "in the %zu bytes QEMU logged %s%s%s%s", len,
            r->log_offset < 0 ? "since it started (itsmigd restarted)" : "since the vCPUs stopped",
            mark ? ", up to its mark" : "", truncated ? " (only the last part was read)" : "",
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
    if (first) {
        itsmigd_metrics_count(r->o->d->metrics, ITSMIGD_COUNTER_ITS_SAVE_FAILED,
                              (const char *[]){"its-save-failed"});
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_ITS_SAVE_FAILED,
                         "QEMU reported that saving the ITS state failed: %s", first);
    }
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
            const char *name = virDomainGetName(t->dom);

            t->aborted = TRUE;
            if (virDomainAbortJob(t->dom) < 0) {
                g_autoptr(GError) error = NULL;

                itsmigd_virt_error(&error, "cannot abort the transfer of %s", name);
                g_warning("%s", error->message);
            }
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
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;
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
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_INVALID_CONFIG,
                         "peer %s has no migrate-uri (set it in [peer %s])", dest, dest);
    if (!dest_holds_nothing(r, uuid, dest, res))
        return res->outcome;

    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom)
        return fail_domain_op(res, error);
    if (mode == ITSMIG_MODE_LIVE) {
        /* As plain live migration: the destination runs from the switchover
         * on, so the guest's pause is QEMU's alone; the save and restore are
         * verified right after. */
        flags |= VIR_MIGRATE_LIVE;
        /* QEMU stops the vCPUs at switchover: the save is logged after this,
         * and the migration's "completed" trace after the save. */
        mark_log(r, name);
        arm_marker(r, dom, ITSMIGD_QEMU_MARK_MIGRATION_EVENT);
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
    if (opt.max_downtime_ms && virDomainMigrateSetMaxDowntime(dom, opt.max_downtime_ms, 0) < 0) {
        itsmigd_virt_error(&error, "cannot set the maximum downtime");
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, name, "%s", error->message);
    }

    t.r = r;
    t.dom = dom;
    t.deadline = phase_deadline(r);
    watch = g_thread_new("itsmigd-transfer", transfer_watch, &t);
    itsmigd_log_domain(G_LOG_LEVEL_INFO, name, "migration: transfer to %s (%s) begins",
                       peer->migrate_uri, itsmig_job_mode_to_string(mode));
    rc = virDomainMigrateToURI3(dom, peer->migrate_uri, params, nparams, flags);
    if (rc < 0) {
        fail_libvirt(res, "the transfer failed");
        /* The source QEMU lives on: it need not trace its next migrations. */
        if (mode == ITSMIG_MODE_LIVE && !r->mark_error)
            itsmigd_qemu_marker_disarm(dom, ITSMIGD_QEMU_MARK_MIGRATION_EVENT, NULL);
    }
    g_mutex_lock(&r->o->lock);
    t.done = TRUE;
    g_cond_broadcast(&r->o->cond);
    g_mutex_unlock(&r->o->lock);
    g_thread_join(watch);
    virTypedParamsFree(params, nparams);
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

/* Sleeps @us, or less when the job is aborted or the daemon stops; FALSE
 * (and why in @res) then. */
static gboolean sleep_unless_stopped(Run *r, gint64 us, Result *res)
{
    gint64 until = g_get_monotonic_time() + us;

    g_mutex_lock(&r->o->lock);
    while (!r->o->stopping && !r->job->abort_requested &&
           g_cond_wait_until(&r->o->cond, &r->o->lock, until))
        ;
    g_mutex_unlock(&r->o->lock);
    return !stop_requested(r, 0, res);
}

/* GET /v1/incoming/UUID, asked again with back-off while the destination's
 * itsmigd does not answer (it may be restarting) and libvirt there does not
 * say the copy is gone, until @deadline (0: none). */
static JsonNode *ask_destination_patiently(Run *r, gint64 deadline, Result *res)
{
    gint64 first = g_get_monotonic_time(), wait = PEER_RETRY_FIRST_US;
    g_autofree char *name = NULL;

    g_mutex_lock(&r->o->lock);
    name = g_strdup(r->job->domain);
    g_mutex_unlock(&r->o->lock);
    for (;;) {
        g_autoptr(GError) error = NULL;
        JsonNode *reply = ask_destination(r, "GET", NULL, NULL, &error);
        ItsmigPresence there;
        gint64 now;

        if (reply)
            return reply;
        if (!peer_may_return(error)) {
            fail_gerror(res, error);
            return NULL;
        }
        there = dest_presence_libvirt(r);
        r->dest_last = there;
        now = g_get_monotonic_time();
        if (there == ITSMIG_PRESENCE_ABSENT) {
            fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_UNEXPECTED_STATE,
                      "the destination's libvirt shows no copy of the domain, and its itsmigd "
                      "does not answer (%s)",
                      error->message);
            return NULL;
        }
        if (deadline && now + wait > deadline) {
            fail_with(res, ITSMIG_OUTCOME_FAILED, itsmig_error_get_code(error),
                      "%s (asked for %" G_GINT64_FORMAT " s; the destination's libvirt shows "
                      "the copy %s)",
                      error->message, (now - first) / G_USEC_PER_SEC,
                      itsmig_presence_to_string(there));
            return NULL;
        }
        itsmigd_log_domain(G_LOG_LEVEL_INFO, name,
                           "the destination's itsmigd does not answer (%s); its libvirt shows "
                           "the copy %s; asking again in %" G_GINT64_FORMAT " s",
                           error->message, itsmig_presence_to_string(there), wait / G_USEC_PER_SEC);
        if (!sleep_unless_stopped(r, wait, res))
            return NULL;
        wait = MIN(wait * 2, PEER_RETRY_MAX_US);
    }
}

static ItsmigOutcome do_verify_dest(Run *r, Result *res)
{
    g_autoptr(JsonNode) reply = ask_destination_patiently(r, phase_deadline(r), res);
    JsonObject *o;
    JsonNode *ev;
    JsonArray *errors;
    gboolean live;

    if (!reply)
        return res->outcome;
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
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_UNEXPECTED_STATE,
                         live ? "the destination's copy is %s, not running or paused"
                              : "the destination's copy is %s, not paused awaiting verification",
                         itsmig_presence_to_string(r->dest_last));
    if (!ev || !JSON_NODE_HOLDS_OBJECT(ev))
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_PEER_ERROR,
                         "the destination sent no ITS restore evidence");
    errors = json_object_get_array_member(json_node_get_object(ev), "errors");
    if (errors && json_array_get_length(errors) > 0)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_ITS_RESTORE_FAILED,
                         "the destination's QEMU reported ITS restore errors: %s",
                         json_array_get_string_element(errors, 0));
    return ITSMIG_OUTCOME_OK;
}

/* POST /v1/incoming/UUID/WHAT.  When @patient, asked again with back-off while the
 * destination's itsmigd does not answer (it may be restarting, or stalled), until the phase's
 * deadline: past the transfer there is no going back, and each call is idempotent there, so
 * a request that did arrive is not done twice. */
static ItsmigOutcome dest_call(Run *r, const char *what, JsonNode *body, gboolean patient,
                               Result *res)
{
    gint64 deadline = phase_deadline(r), first = g_get_monotonic_time();
    gint64 wait = PEER_RETRY_FIRST_US;

    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = ask_destination(r, "POST", what, body, &error);
        gint64 now;

        if (reply) {
            r->dest_last = dest_presence(reply);
            return ITSMIG_OUTCOME_OK;
        }
        now = g_get_monotonic_time();
        if (!patient || !peer_may_return(error))
            return fail_gerror(res, error);
        if (deadline && now + wait > deadline)
            return fail_with(res, ITSMIG_OUTCOME_FAILED, itsmig_error_get_code(error),
                             "%s (asked to %s for %" G_GINT64_FORMAT " s)", error->message,
                             what, (now - first) / G_USEC_PER_SEC);
        itsmigd_log_domain(G_LOG_LEVEL_INFO, r->job->domain,
                           "migration %s: the destination's itsmigd does not answer (%s); "
                           "asking it to %s again in %" G_GINT64_FORMAT " s",
                           r->job->id, error->message, what, wait / G_USEC_PER_SEC);
        if (!sleep_unless_stopped(r, wait, res))
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

static ItsmigOutcome do_dest_call(Run *r, const char *what, gboolean patient, Result *res)
{
    g_autoptr(JsonNode) body = dest_claim(r, -1);

    return dest_call(r, what, body, patient, res);
}

static ItsmigOutcome do_attach_dest(Run *r, int index, Result *res)
{
    g_autoptr(JsonNode) body = dest_claim(r, index);

    return dest_call(r, "attach", body, TRUE, res);
}

/* ---- rollback on the source --------------------------------------------------------- */

static ItsmigOutcome do_abort_transfer(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *uuid = NULL;
    gint64 until = g_get_monotonic_time() + ABORT_WAIT_US;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;
    const char *name;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    g_mutex_unlock(&r->o->lock);
    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom)
        return g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND)
                   ? ITSMIG_OUTCOME_OK
                   : fail_domain_op(res, error);
    name = virDomainGetName(dom);
    /* No job to abort (it ended meanwhile) is what is wanted. */
    if (virDomainAbortJob(dom) < 0 &&
        itsmigd_virt_error(&error, "aborting the transfer") != VIR_ERR_OPERATION_INVALID)
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, name, "%s", error->message);
    for (;;) {
        virDomainJobInfo info;

        if (virDomainGetJobInfo(dom, &info) < 0 ||
            (info.type != VIR_DOMAIN_JOB_BOUNDED && info.type != VIR_DOMAIN_JOB_UNBOUNDED))
            break;
        if (g_get_monotonic_time() > until)
            return fail_with(res, ITSMIG_OUTCOME_TIMEOUT, ITSMIG_ERROR_TIMEOUT,
                             "the transfer did not stop within %d s of being aborted",
                             (int)(ABORT_WAIT_US / G_USEC_PER_SEC));
        g_usleep(POLL_US);
    }
    return ITSMIG_OUTCOME_OK;
}

static ItsmigOutcome do_resume_source(Run *r, virConnectPtr conn, Result *res)
{
    g_autofree char *uuid = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    g_mutex_unlock(&r->o->lock);
    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    /* Resuming makes KVM map the vPEs again and QEMU restart the devices. */
    if (!dom || !itsmigd_virt_domain_resume(dom, &error))
        return fail_domain_op(res, error);
    return ITSMIG_OUTCOME_OK;
}

static ItsmigOutcome do_attach_source(Run *r, virConnectPtr conn, int index, Result *res)
{
    g_autofree char *uuid = NULL, *alias = NULL, *xml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = NULL;
    gboolean present;

    g_mutex_lock(&r->o->lock);
    uuid = g_strdup(r->job->uuid);
    alias = g_strdup(((ItsmigJobDevice *)g_ptr_array_index(r->job->devices, index))->alias);
    xml = g_strdup(((ItsmigJobDevice *)g_ptr_array_index(r->job->devices, index))->xml);
    g_mutex_unlock(&r->o->lock);
    dom = itsmigd_virt_domain_lookup(conn, uuid, &error);
    if (!dom || !itsmigd_virt_domain_has_device(dom, alias, &present, &error))
        return fail_domain_op(res, error);
    /* Still there: the job's unplug, interrupted by the rollback, may yet complete. */
    if (present && (index >= 64 || (r->unplug_asked & (G_GUINT64_CONSTANT(1) << index)))) {
        gint64 until = g_get_monotonic_time() + UNPLUG_GRACE_US;
        gboolean stopping = FALSE;

        while (present && !stopping && g_get_monotonic_time() < until) {
            g_mutex_lock(&r->o->lock);
            if (!r->removed)
                g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + POLL_US);
            r->removed = FALSE;
            stopping = r->o->stopping;
            g_mutex_unlock(&r->o->lock);
            if (!itsmigd_virt_domain_has_device(dom, alias, &present, &error))
                return fail_domain_op(res, error);
        }
        if (!present)
            itsmigd_log_domain(G_LOG_LEVEL_INFO, virDomainGetName(dom),
                               "migration %s: device %s went only after the rollback began; "
                               "attaching it back", r->job->id, alias);
    }
    if (!present && !itsmigd_virt_domain_attach(dom, alias, xml, NULL, &error))
        return fail_domain_op(res, error);
    return ITSMIG_OUTCOME_OK;
}

static ItsmigOutcome execute(Run *r, virConnectPtr conn, const ItsmigAction *a, Result *res)
{
    res->outcome = ITSMIG_OUTCOME_OK;
    if (!conn && a->kind != ITSMIG_ACTION_VERIFY_DEST && a->kind != ITSMIG_ACTION_RESUME_DEST &&
        a->kind != ITSMIG_ACTION_ATTACH_DEST && a->kind != ITSMIG_ACTION_DESTROY_DEST)
        return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                         "not connected to libvirt");
    switch (a->kind) {
    case ITSMIG_ACTION_PREFLIGHT: return do_preflight(r, conn, res);
    case ITSMIG_ACTION_DETACH: return do_detach(r, conn, a->device, res);
    case ITSMIG_ACTION_SUSPEND_SOURCE: return do_suspend(r, conn, res);
    case ITSMIG_ACTION_VERIFY_ITS_SAVE: return do_verify_its_save(r, conn, res);
    case ITSMIG_ACTION_MIGRATE: return do_migrate(r, conn, res);
    case ITSMIG_ACTION_VERIFY_DEST: return do_verify_dest(r, res);
    case ITSMIG_ACTION_RESUME_DEST:
        /* In live mode libvirt resumed it at the switchover, and VERIFY_DEST
         * has just seen it run: no round trip on the way to done. */
        if (r->dest_last == ITSMIG_PRESENCE_RUNNING && r->job->mode == ITSMIG_MODE_LIVE)
            return ITSMIG_OUTCOME_OK;
        return do_dest_call(r, "resume", TRUE, res);
    case ITSMIG_ACTION_ATTACH_DEST: return do_attach_dest(r, a->device, res);
    case ITSMIG_ACTION_ABORT_TRANSFER: return do_abort_transfer(r, conn, res);
    case ITSMIG_ACTION_DESTROY_DEST: return do_dest_call(r, "destroy", FALSE, res);
    case ITSMIG_ACTION_RESUME_SOURCE: return do_resume_source(r, conn, res);
    case ITSMIG_ACTION_ATTACH_SOURCE: return do_attach_source(r, conn, a->device, res);
    case ITSMIG_ACTION_CONFIRM_SOURCE:
        return ITSMIG_OUTCOME_OK; /* the facts observed next are the confirmation */
    default: return fail_with(res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_INTERNAL, "no such action");
    }
}

/* ---- the worker ---------------------------------------------------------------------- */

/* Whether the destination may hold a copy, so that it must be asked. */
static gboolean dest_matters(const ItsmigJob *job)
{
    /* A salvaged record may have lost its timings. */
    return job->timings[ITSMIG_PHASE_TRANSFER].started_us != 0 || job->salvaged;
}

/* How the job ended, for the log (written once o->lock is released). */
static char *end_message_locked(Run *r, GLogLevelFlags *ret_level)
{
    ItsmigJob *job = r->job;
    const char *labels[] = {
        itsmig_job_mode_to_string(job->mode),
        itsmig_phase_to_string(job->phase),
        job->failed_phase < ITSMIG_PHASE_LAST ? itsmig_phase_to_string(job->failed_phase) : NULL,
        job->error_code,
    };

    itsmigd_metrics_count(r->o->d->metrics, ITSMIGD_COUNTER_JOBS, labels);

    switch (job->phase) {
    case ITSMIG_PHASE_DONE:
        *ret_level = G_LOG_LEVEL_MESSAGE;
        return g_strdup_printf("migration %s to %s done", job->id, job->destination);
    case ITSMIG_PHASE_ROLLED_BACK:
        *ret_level = G_LOG_LEVEL_MESSAGE;
        return g_strdup_printf("migration %s to %s rolled back after %s: %s", job->id,
                               job->destination, job->error_code, job->error_message);
    default:
        *ret_level = G_LOG_LEVEL_CRITICAL;
        return g_strdup_printf("migration %s to %s needs attention: %s", job->id,
                               job->destination, job->attention);
    }
}

/* A live libvirt connection for the next step, in @held (a reference the
 * worker owns).  The daemon's connection is reopened after libvirtd
 * restarts; a step waits for that (until @deadline_mono, or the stop)
 * rather than run on a dead handle.  NULL when none came. */
static virConnectPtr live_connection(Run *r, virConnectPtr *held, gint64 deadline_mono)
{
    gint64 until = deadline_mono ? deadline_mono : g_get_monotonic_time() + CONNECT_WAIT_US;
    gboolean told = FALSE;

    for (;;) {
        gboolean stopping;

        if (*held && virConnectIsAlive(*held) == 1)
            return *held;
        if (*held) {
            virConnectClose(*held);
            *held = NULL;
        }
        *held = itsmigd_virt_ref_connection(r->o->d->virt);
        if (*held && virConnectIsAlive(*held) == 1)
            return *held;
        if (!told) {
            itsmigd_log_domain(G_LOG_LEVEL_INFO, r->job->domain,
                               "migration %s: waiting for the connection to libvirt", r->job->id);
            told = TRUE;
        }
        g_mutex_lock(&r->o->lock);
        stopping = r->o->stopping;
        if (!stopping)
            g_cond_wait_until(&r->o->cond, &r->o->lock, g_get_monotonic_time() + POLL_US);
        g_mutex_unlock(&r->o->lock);
        if (stopping || g_get_monotonic_time() > until)
            return *held;
    }
}

/* The journal must end up with the job's last state, or a restart would reconcile an older
 * one: try again (the disk may be full) until it takes it or itsmigd stops. */
static void journal_catch_up(Run *r)
{
    ItsmigdOrchestrator *o = r->o;
    g_autofree char *why = NULL;

    for (gint64 wait = JOURNAL_RETRY_MIN_US;; wait = MIN(wait * 2, JOURNAL_RETRY_MAX_US)) {
        Record *rec = NULL;

        g_mutex_lock(&o->lock);
        if (r->job->journal.behind && !o->stopping) {
            g_cond_wait_until(&o->cond, &o->lock, g_get_monotonic_time() + wait);
            if (!o->stopping)
                rec = record_locked(r, -1);
        }
        if (!rec && r->job->journal.behind)
            why = g_strdup(r->job->journal.last_error);
        g_mutex_unlock(&o->lock);
        if (!rec)
            break;
        journal_commit(o, rec);
    }
    if (why)
        itsmigd_log_domain(G_LOG_LEVEL_CRITICAL, r->job->domain,
                           "migration %s: itsmigd stops with the job's last state not in the "
                           "journal (%s); the next start reconciles an older record",
                           r->job->id, why);
}

/* Runs the job's actions until it ends (or the daemon stops), each step on a
 * live libvirt connection (@conn, the worker's, renewed when it died). */
static void walk(Run *r, virConnectPtr *conn)
{
    ItsmigdOrchestrator *o = r->o;
    g_autofree char *end = NULL;
    GLogLevelFlags level = G_LOG_LEVEL_MESSAGE;
    ItsmigAction a;
    Record *rec;

    for (;;) {
        Result res = {ITSMIG_OUTCOME_OK, NULL, NULL};
        ItsmigJobFacts facts;
        gboolean journaled, ask, run;
        virConnectPtr step_conn;

        g_mutex_lock(&o->lock);
        if (o->stopping || !itsmig_job_next(r->job, &a)) {
            g_mutex_unlock(&o->lock);
            break;
        }
        itsmig_job_begin(r->job, &a, job_now(r->job));
        rec = record_locked(r, a.kind);
        g_mutex_unlock(&o->lock);
        journaled = journal_commit(o, rec);
        itsmigd_log_domain(G_LOG_LEVEL_INFO, r->job->domain, "migration %s: %s%s", r->job->id,
                           itsmig_action_to_string(a.kind), journaled ? "" : " (not journaled)");

        fault_point(o, "before", a.kind);
        /* Per step: the connection of the last step may have died with
         * libvirtd since. */
        step_conn = live_connection(r, conn, phase_deadline(r));
        fault_hang(o, a.kind);
        run = TRUE;
        if (!journaled) {
            g_autofree char *why = NULL;

            g_mutex_lock(&o->lock);
            why = g_strdup(r->job->journal.last_error);
            run = itsmig_job_may_run_unjournaled(r->job, &a);
            g_mutex_unlock(&o->lock);
            if (!run)
                fail_with(&res, ITSMIG_OUTCOME_FAILED, ITSMIG_ERROR_JOURNAL,
                          "the journal could not record the step: %s", why);
            else if (a.kind < ITSMIG_ACTION_ABORT_TRANSFER)
                itsmigd_log_domain(G_LOG_LEVEL_WARNING, r->job->domain,
                                   "migration %s: %s runs unjournaled: the transfer has "
                                   "completed, and stopping would leave the guest paused on the "
                                   "destination",
                                   r->job->id, itsmig_action_to_string(a.kind));
        }
        if (run)
            execute(r, step_conn, &a, &res);
        fault_point(o, "after", a.kind);

        g_mutex_lock(&o->lock);
        ask = dest_matters(r->job) || a.kind == ITSMIG_ACTION_MIGRATE;
        g_mutex_unlock(&o->lock);
        facts = observe(r, live_connection(r, conn, phase_deadline(r)), ask);
        g_mutex_lock(&o->lock);
        itsmig_job_end(r->job, res.outcome, res.code, res.message, &facts, job_now(r->job));
        rec = record_locked(r, -1);
        g_mutex_unlock(&o->lock);
        journal_commit(o, rec);
        if (res.outcome != ITSMIG_OUTCOME_OK)
            itsmigd_log_domain(G_LOG_LEVEL_WARNING, r->job->domain, "migration %s: %s %s: %s",
                               r->job->id, itsmig_action_to_string(a.kind),
                               itsmig_outcome_to_string(res.outcome), res.message);
        result_clear(&res);
        fault_point(o, "reported", a.kind);
    }
    g_mutex_lock(&o->lock);
    if (itsmig_phase_is_terminal(r->job->phase))
        end = end_message_locked(r, &level);
    g_mutex_unlock(&o->lock);
    if (end)
        itsmigd_log_domain(level, r->job->domain, "%s", end);
    journal_catch_up(r);
}

/* Whether the job needs attention only because the destination's itsmigd
 * did not answer while its copy was verified (itsmig_job_reexamine()). */
static gboolean awaits_peer_locked(Run *r)
{
    return r->job->phase == ITSMIG_PHASE_FAILED &&
           r->job->failed_phase == ITSMIG_PHASE_VERIFY_DEST &&
           (g_strcmp0(r->job->error_code, "peer-unreachable") == 0 ||
            g_strcmp0(r->job->error_code, "peer-timeout") == 0);
}

static gboolean awaits_peer(Run *r)
{
    gboolean yes;

    g_mutex_lock(&r->o->lock);
    yes = awaits_peer_locked(r);
    g_mutex_unlock(&r->o->lock);
    return yes;
}

/* Asks the destination, less and less often, until it answers; then looks
 * at the job again with what both hosts show.  TRUE when the job goes on;
 * FALSE when it still needs attention, or the daemon stops. */
static gboolean reexamine_when_peer_answers(Run *r, virConnectPtr *conn)
{
    ItsmigdOrchestrator *o = r->o;
    gint64 wait = PEER_RETRY_FIRST_US;

    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = NULL;
        Result res = {ITSMIG_OUTCOME_OK, NULL, NULL};
        gboolean again;

        if (!sleep_unless_stopped(r, wait, &res)) {
            result_clear(&res);
            return FALSE;
        }
        wait = MIN(wait * 2, PEER_RECHECK_MAX_US);
        reply = ask_destination(r, "GET", NULL, NULL, &error);
        if (!reply && peer_may_return(error))
            continue;
        if (reply) {
            ItsmigJobFacts facts = observe(r, live_connection(r, conn, phase_deadline(r)), TRUE);
            g_autofree char *attention = NULL;
            const char *phase;
            Record *rec = NULL;

            g_mutex_lock(&o->lock);
            again = itsmig_job_reexamine(r->job, &facts, job_now(r->job));
            phase = itsmig_phase_to_string(r->job->phase);
            if (again) {
                /* The job's time limits count from here. */
                r->started_mono = g_get_monotonic_time();
                publish_locked(r, "reexamined", NULL, NULL);
                rec = record_locked(r, -1);
            } else {
                attention = g_strdup(r->job->attention);
            }
            g_mutex_unlock(&o->lock);
            if (again) {
                itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, r->job->domain,
                                   "migration %s: the destination answers again (the domain is "
                                   "%s there); the job goes on from %s",
                                   r->job->id, itsmig_presence_to_string(facts.destination), phase);
                journal_commit(o, rec);
            } else {
                itsmigd_log_domain(G_LOG_LEVEL_WARNING, r->job->domain,
                                   "migration %s: the destination answers again, but the job "
                                   "still needs attention (the source %s, the destination %s): "
                                   "%s",
                                   r->job->id, itsmig_presence_to_string(facts.source),
                                   itsmig_presence_to_string(facts.destination), attention);
            }
            return again;
        }
        itsmigd_log_domain(G_LOG_LEVEL_WARNING, r->job->domain,
                           "migration %s: the destination cannot be asked again (%s); the job "
                           "still needs attention",
                           r->job->id, error->message);
        return FALSE;
    }
}

static gpointer worker(gpointer data)
{
    Run *r = data;
    ItsmigdOrchestrator *o = r->o;
    virConnectPtr conn = NULL;
    g_autoptr(GPtrArray) forgotten = g_ptr_array_new_with_free_func(g_free);
    Record *rec;

    r->started_mono = g_get_monotonic_time();
    if (r->recover) {
        ItsmigJobFacts facts;
        gboolean ask;
        g_autofree char *was = NULL;
        const char *now;

        /* What preflight learnt of the guest's ITS is gone with the old
         * process: check as for an in-kernel ITS, which costs nothing more
         * for an emulated one. */
        r->its_in_kernel = TRUE;
        g_mutex_lock(&o->lock);
        ask = dest_matters(r->job);
        was = g_strdup(itsmig_phase_to_string(r->job->phase));
        g_mutex_unlock(&o->lock);
        facts = observe(r, live_connection(r, &conn, phase_deadline(r)), ask);
        g_mutex_lock(&o->lock);
        itsmig_job_recover(r->job, &facts, job_now(r->job));
        now = itsmig_phase_to_string(r->job->phase);
        publish_locked(r, "recovered", NULL, NULL);
        rec = record_locked(r, -1);
        r->recover = FALSE;
        g_mutex_unlock(&o->lock);
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, r->job->domain,
                           "migration %s: reconciled after a restart (was in %s; the source %s, "
                           "the destination %s): now %s",
                           r->job->id, was, itsmig_presence_to_string(facts.source),
                           itsmig_presence_to_string(facts.destination), now);
        journal_commit(o, rec);
    }

    walk(r, &conn);
    while (awaits_peer(r) && reexamine_when_peer_answers(r, &conn))
        walk(r, &conn);

    if (conn)
        virConnectClose(conn);
    g_mutex_lock(&o->lock);
    r->thread = NULL;
    prune_locked(o, forgotten);
    g_mutex_unlock(&o->lock);
    journal_forget(o, forgotten);
    /* Last: a stop that sees no worker left frees what this one used. */
    g_mutex_lock(&o->lock);
    o->workers--;
    g_cond_broadcast(&o->cond);
    g_mutex_unlock(&o->lock);
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

/* A job made of what could be read of a record that could not be read whole: journaled again
 * (so that a crash before its reconciliation does not lose it), reconciled once libvirt is
 * connected, and listed. */
static void adopt_salvaged(ItsmigdOrchestrator *o, ItsmigJob *job)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(Record) rec = NULL;
    Run *r = g_new0(Run, 1);

    r->o = o;
    r->job = job;
    r->log_offset = -1;
    r->published_phase = job->phase;
    r->recover = TRUE;
    r->unplug_asked = G_MAXUINT64;
    r->dest_last = ITSMIG_PRESENCE_UNKNOWN;
    rec = snapshot_locked(r, -1);
    if (!journal_put(o, rec, &error)) {
        itsmig_job_journal_failed(job, error->message);
        g_warning("journal: %s", error->message);
    }
    itsmigd_log_domain(G_LOG_LEVEL_CRITICAL, job->domain,
                       "journal: migration %s to %s could not be read whole (%s); it is "
                       "reconciled from what could be read once libvirt is connected, and needs "
                       "attention",
                       job->id, job->destination, job->salvaged);
    g_ptr_array_add(o->runs, r);
}

ItsmigdOrchestrator *itsmigd_orchestrator_new(ItsmigDaemon *daemon, const char *state_dir,
                                              GError **error)
{
    g_autoptr(ItsmigdOrchestrator) o = g_new0(ItsmigdOrchestrator, 1);
    g_autofree char *dir = g_build_filename(state_dir, "jobs", NULL);
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GPtrArray) set_aside = NULL;
    ItsmigdVirtObserver obs = {on_device_removed, on_job_completed, NULL};

    o->d = daemon;
    g_mutex_init(&o->lock);
    g_mutex_init(&o->io);
    g_cond_init(&o->cond);
    o->written = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    o->runs = g_ptr_array_new_with_free_func((GDestroyNotify)run_free);
    o->limits.max_jobs = 2;
    o->limits.keep_finished = 100;
    o->limits.qemu_log_dir = g_strdup("/var/log/libvirt/qemu");
    o->limits.qemu_log_mark = TRUE;
    o->limits.hook_record_dir = NULL;
    fault_parse(o);
    o->journal = itsmig_journal_open(dir, error);
    if (!o->journal)
        return NULL;
    records = itsmig_journal_load_full(o->journal, &problems, &set_aside);
    for (guint i = 0; problems && i < problems->len; i++)
        g_warning("journal: %s", (const char *)g_ptr_array_index(problems, i));
    /* Set aside as not JSON: what can be found in the text still makes a job, unless it shows
     * a finished one. */
    for (guint i = 0; i < set_aside->len; i++) {
        const ItsmigJournalRecord *rec = g_ptr_array_index(set_aside, i);
        ItsmigJob *job = itsmig_job_salvage_text(rec->text, rec->len, rec->id,
                                                 rec->len ? "the record is not a JSON object"
                                                          : "the record is empty",
                                                 g_get_real_time());

        if (job)
            adopt_salvaged(o, job);
    }
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
            JsonNode *root = json_parser_get_root(parser);

            itsmig_journal_set_aside(o->journal, rec->id, local->message, &message, NULL);
            g_warning("journal: %s", message ? message : local->message);
            /* An unfinished job is never dropped: what can be read of it is reconciled. */
            job = root ? itsmig_job_salvage(root, rec->id, message ? message : local->message,
                                            g_get_real_time())
                       : NULL;
            if (job)
                adopt_salvaged(o, job);
            continue;
        }
        {
            Run *r = g_new0(Run, 1);

            r->o = o;
            r->job = job;
            r->log_offset = -1;
            r->published_phase = job->phase;
            r->recover = !itsmig_phase_is_terminal(job->phase);
            r->unplug_asked = G_MAXUINT64;
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

gboolean itsmigd_orchestrator_stop(ItsmigdOrchestrator *o)
{
    gint64 until = g_get_monotonic_time() + STOP_WAIT_US;
    guint left;

    g_mutex_lock(&o->lock);
    o->stopping = TRUE;
    g_cond_broadcast(&o->cond);
    while (o->workers > 0 && g_cond_wait_until(&o->cond, &o->lock, until))
        ;
    left = o->workers;
    if (left) {
        o->gave_up = TRUE;
        g_cond_broadcast(&o->cond);
    }
    g_mutex_unlock(&o->lock);
    if (left)
        /* A thread still inside libvirt (a transfer) cannot be stopped; the
         * journal says where it was, and the next start reconciles it. */
        g_warning("%u migration(s) still under way at exit; they are reconciled at the next "
                  "start",
                  left);
    return left == 0;
}

void itsmigd_orchestrator_free(ItsmigdOrchestrator *o)
{
    if (!o)
        return;
    if (!itsmigd_orchestrator_stop(o))
        return; /* a worker still uses it */
    g_ptr_array_unref(o->runs);
    g_hash_table_unref(o->written);
    itsmig_journal_free(o->journal);
    g_free(o->limits.qemu_log_dir);
    g_free(o->limits.hook_record_dir);
    g_free(o->fault.point);
    g_free(o->fault.action);
    g_cond_clear(&o->cond);
    g_mutex_clear(&o->io);
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
        if ((r->recover || awaits_peer_locked(r)) && !r->thread && !o->stopping)
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
    g_autoptr(Record) rec = NULL;
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
    /* Listed (its id and domain taken) while its first record is written
     * without the lock; it runs only once journaled. */
    g_ptr_array_add(o->runs, r);
    rec = snapshot_locked(r, -1);
    g_mutex_unlock(&o->lock);
    if (!journal_put(o, rec, error)) {
        g_mutex_lock(&o->lock);
        g_ptr_array_remove(o->runs, r);
        g_mutex_unlock(&o->lock);
        return NULL;
    }
    g_mutex_lock(&o->lock);
    if (o->stopping) {
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

        /* Nothing done yet: the job is withdrawn. */
        g_ptr_array_add(ids, g_strdup(r->job->id));
        g_ptr_array_remove(o->runs, r);
        g_mutex_unlock(&o->lock);
        journal_forget(o, ids);
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "itsmigd is stopping");
        return NULL;
    }
    start_worker_locked(o, r);
    {
        JsonNode *node = itsmig_job_to_json(r->job);

        g_mutex_unlock(&o->lock);
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, domain, "migration %s to %s (%s) accepted", id,
                           destination, itsmig_job_mode_to_string(mode));
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
    Record *rec = NULL;
    Run *r;

    g_mutex_lock(&o->lock);
    r = find_locked(o, id);
    if (!r) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "no migration '%s' is known", id);
    } else if (r->job->abort_requested && !itsmig_phase_is_terminal(r->job->phase)) {
        node = itsmig_job_to_json(r->job); /* asked before: the same answer */
    } else if (!itsmig_job_request_abort(r->job, job_now(r->job))) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                    itsmig_phase_is_terminal(r->job->phase)
                        ? "migration %s has ended (%s)"
                        : "migration %s is past the point of return (%s): the transfer has "
                          "completed, so there is no source copy to go back to",
                    id, itsmig_phase_to_string(r->job->phase));
    } else {
        publish_locked(r, "abort-requested", NULL, NULL);
        rec = record_locked(r, -1);
        g_cond_broadcast(&o->cond);
        node = itsmig_job_to_json(r->job);
    }
    g_mutex_unlock(&o->lock);
    if (rec) {
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, rec->domain, "migration %s: abort requested",
                           id);
        journal_commit(o, rec);
    }
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

void itsmigd_orchestrator_count_by_phase(ItsmigdOrchestrator *o, guint *ret_counts)
{
    memset(ret_counts, 0, sizeof(guint) * ITSMIG_PHASE_LAST);
    g_mutex_lock(&o->lock);
    for (guint i = 0; i < o->runs->len; i++) {
        ItsmigPhase phase = ((Run *)g_ptr_array_index(o->runs, i))->job->phase;

        if ((unsigned int)phase < ITSMIG_PHASE_LAST)
            ret_counts[phase]++;
    }
    g_mutex_unlock(&o->lock);
}
