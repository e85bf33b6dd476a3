/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the files of the migration jobs share, and no one else: a job's run
 * (Run), its records for the journal, the orchestrator's state, and the
 * functions each file lends the others.
 *
 *   job-table.c     the table of jobs and its API (orchestrator.h), the journal
 *                   read back at start, libvirt's events for running jobs
 *   job-worker.c    the thread that walks a job: a step, the facts, the record
 *   job-steps.c     one executor per action on this host
 *   job-devices.c   a device's unplug and plug back: QEMU's "busy", a
 *                   connection lost mid-request, a device only QEMU knows
 *   job-transfer.c  the transfer (libvirt's migration) and its progress
 *   job-dest.c      what the destination's itsmigd is asked and told
 *   job-record.c    a job's record: told to the API, written to the journal
 *   job-fault.c     fault injection, armed only in the test build
 *   job-run.c       what all of them use: the table's lookups, a step's
 *                   failure and deadline, the domain's presence, QEMU's log
 *
 * In this order, each file calls only files below it (HACKING.md).
 */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "itsmig/error.h"
#include "itsmig/job.h"
#include "itsmig/journal.h"
#include "daemon/orchestrator.h"

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
/* How long the preflight asks again a destination that answers 503 (not ready). */
#define PREFLIGHT_PEER_WAIT_US (10 * G_USEC_PER_SEC)
/* How long a step's look at the world waits for a destination that answers 503: each
 * step of a rollback looks, and none may keep the guest paused for the phase's time. */
#define OBSERVE_PEER_WAIT_US (10 * G_USEC_PER_SEC)
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

typedef struct {
    ItsmigdOrchestrator *o;
    /* Under o->lock, but for what is fixed when the job is made (id, domain,
     * uuid, source, destination, mode, options, created_us): read freely. */
    ItsmigJob *job;
    GThread *thread;
    gboolean recover; /* reconcile before going on */
    /* Worker only. */
    goffset log_offset; /* the QEMU log's size before the vCPUs stopped, -1: none */
    char *mark_error;   /* why QEMU could not be made to mark its log, NULL: it could */
    guint marks;        /* marks written so far, for a fresh tag each */
    gboolean its_in_kernel;
    gboolean check_emulated;
    ItsmigPresence dest_last;
    /* The destination answered 503 until the last wait for it gave up: asked once, not
     * waited for, until it answers again. */
    gboolean dest_unready;
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

/* One job's record in the journal, under o->io. */
typedef struct {
    guint64 on_disk; /* the version on disk (0: none yet); G_MAXUINT64: removed */
    gboolean busy;   /* a thread writes or removes it, without o->io */
} JournalSlot;

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
    /* Journal writes, in the order of the records' versions: a thread claims
     * a record's slot under o->io, writes it without the lock, and hands the
     * slot back.  Never taken with o->lock held, nor by the main loop. */
    GMutex io;
    GCond io_cond;       /* a slot handed back */
    GHashTable *written; /* job id -> JournalSlot * */
    struct {
        char *point;
        char *action;
        gboolean stop;
        guint seconds;
    } fault;
};

typedef struct {
    ItsmigOutcome outcome;
    char *code;
    char *message;
} Result;

/* job-record.c */
void itsmigd_job_record_free(Record *rec);
Record *itsmigd_job_snapshot_locked(Run *r, int begins);
gboolean itsmigd_job_journal_put(ItsmigdOrchestrator *o, const Record *rec, GError **error);
gboolean itsmigd_job_journal_commit(ItsmigdOrchestrator *o, Record *rec);
void itsmigd_job_journal_forget(ItsmigdOrchestrator *o, GPtrArray *ids);
void itsmigd_job_publish_locked(Run *r, const char *kind, const char *outcome, const char *message);
Record *itsmigd_job_record_locked(Run *r, int begins);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Record, itsmigd_job_record_free)

/* job-worker.c */
gboolean itsmigd_job_awaits_peer_locked(Run *r);
void itsmigd_job_start_worker_locked(ItsmigdOrchestrator *o, Run *r);

/* job-steps.c */
ItsmigOutcome itsmigd_job_execute(Run *r, virConnectPtr conn, const ItsmigAction *a, Result *res);

/* job-devices.c */
gboolean itsmigd_job_ask_detach(Run *r, virConnectPtr conn, int index, const char *alias,
                                const char *xml, gint64 deadline, virDomainPtr *ret_dom,
                                gboolean *ret_present, Result *res);
gboolean itsmigd_job_attach_back(Run *r, virDomainPtr dom, const char *alias, const char *xml,
                                 Result *res);

/* job-transfer.c */
void itsmigd_job_take_stats_locked(Run *r, virTypedParameterPtr params, int nparams);
ItsmigOutcome itsmigd_job_migrate(Run *r, virConnectPtr conn, Result *res);

/* job-dest.c */
JsonNode *itsmigd_job_ask_destination(Run *r, const char *method, const char *what, JsonNode *body,
                                      GError **error);
ItsmigPresence itsmigd_job_dest_presence(JsonNode *reply);
gboolean itsmigd_job_peer_may_return(const GError *error);
gboolean itsmigd_job_retry_unavailable(Run *r, gint64 first, gint64 until, gint64 *wait,
                                       Result *res);
JsonNode *itsmigd_job_ask_destination_ready(Run *r, gint64 deadline, GError **error);
ItsmigPresence itsmigd_job_dest_presence_libvirt(Run *r);
gboolean itsmigd_job_dest_holds_nothing(Run *r, const char *uuid, const char *dest, Result *res);
gboolean itsmigd_job_sleep_unless_stopped(Run *r, gint64 us, Result *res);
/* Until when a look at the destination, or a rollback's call to it, asks again while it
 * answers 503: a while (OBSERVE_PEER_WAIT_US, within the phase's time), or, once such a
 * wait gave up (r->dest_unready), not at all until it answers. */
gint64 itsmigd_job_dest_wait_until(Run *r);
ItsmigOutcome itsmigd_job_verify_dest(Run *r, Result *res);
ItsmigOutcome itsmigd_job_dest_call(Run *r, const char *what, gboolean patient, Result *res);
/* Asks the destination to attach device @index.  Its refusal with
 * device-unknown-to-libvirt keeps that code (itsmigd_peer_reply_error_code()), so that the
 * job's attention gives the steps that work there. */
ItsmigOutcome itsmigd_job_attach_dest(Run *r, int index, Result *res);

/* job-run.c */
Run *itsmigd_job_find_locked(ItsmigdOrchestrator *o, const char *id);
gint64 itsmigd_job_now(ItsmigJob *job);
void itsmigd_job_prune_locked(ItsmigdOrchestrator *o, GPtrArray *ret_ids);
void itsmigd_job_result_clear(Result *res);
ItsmigOutcome itsmigd_job_fail(Result *res, ItsmigOutcome outcome, ItsmigErrorCode code,
                               const char *format, ...) G_GNUC_PRINTF(4, 5);
ItsmigOutcome itsmigd_job_fail_gerror(Result *res, const GError *error);
ItsmigOutcome itsmigd_job_fail_domain_op(Result *res, const GError *error);
ItsmigOutcome itsmigd_job_fail_libvirt(Result *res, const char *what);
/* Whether an abort asked for stops what the job does now: only while it goes forward (a
 * rollback, and a look at an ended job, run to their end).  o->lock held. */
gboolean itsmigd_job_abort_applies_locked(Run *r);
gboolean itsmigd_job_stop_requested(Run *r, gint64 deadline_mono, Result *res);
gint64 itsmigd_job_phase_deadline(Run *r);
virConnectPtr itsmigd_job_live_connection(Run *r, virConnectPtr *held, gint64 deadline_mono);
ItsmigPresence itsmigd_job_presence_on(virConnectPtr conn, const char *uuid, virDomainPtr *ret_dom);
/* Whether verifications wait for a mark of QEMU's in its log. */
gboolean itsmigd_job_marking(Run *r);
void itsmigd_job_arm_marker(Run *r, virDomainPtr dom, const char *event);
char *itsmigd_job_log_path(Run *r, const char *domain);
void itsmigd_job_mark_log(Run *r, const char *domain);

/* job-fault.c */
void itsmigd_job_fault_point(Run *r, const char *point, ItsmigActionKind kind);
void itsmigd_job_fault_journal(ItsmigdOrchestrator *o, const Record *rec);
void itsmigd_job_fault_hang(Run *r, ItsmigActionKind kind);
void itsmigd_job_fault_parse(ItsmigdOrchestrator *o);
