/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The migration job: a plan of phases and the state machine that walks it.
 * Pure transitions, no I/O.  Whoever executes the job (itsmigd's
 * orchestrator, or a unit test's simulated world) asks what to do next, does
 * it, and reports how it went together with what it then observes of the
 * domain on both hosts.  From those facts alone the machine decides whether
 * to go on, roll back or call for a person, so that the domain never runs on
 * two hosts, never on none, and is never left paused or without its devices
 * where a rollback could have restored it.
 *
 * Every action is idempotent from the executor's side (detaching a device
 * already gone, resuming a running domain succeed), so that after a crash the
 * action that was under way can simply be done again.
 */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/json-member.h"

typedef enum {
    ITSMIG_PHASE_PREFLIGHT,
    ITSMIG_PHASE_QUIESCE_DEVICES,
    ITSMIG_PHASE_PAUSE_VCPUS,
    ITSMIG_PHASE_VERIFY_ITS_SAVE,
    ITSMIG_PHASE_TRANSFER,
    ITSMIG_PHASE_VERIFY_DEST,
    ITSMIG_PHASE_RESUME_DEST,
    ITSMIG_PHASE_RESTORE_DEVICES,
    ITSMIG_PHASE_DONE,
    ITSMIG_PHASE_ROLLBACK,
    ITSMIG_PHASE_ROLLED_BACK,
    ITSMIG_PHASE_FAILED, /* FAILED_NEEDS_ATTENTION: job->attention says what to do */
    ITSMIG_PHASE_LAST
} ItsmigPhase;

/* "preflight", "quiesce-devices", ..., "rolled-back", "failed-needs-attention". */
const char *itsmig_phase_to_string(ItsmigPhase phase);
/* -1 when @s names no phase. */
int itsmig_phase_from_string(const char *s);
gboolean itsmig_phase_is_terminal(ItsmigPhase phase);

typedef enum {
    ITSMIG_MODE_SAFE, /* the source pauses before the transfer */
    ITSMIG_MODE_LIVE, /* pre-copy with vCPUs running; QEMU pauses at switchover */
} ItsmigJobMode;

const char *itsmig_job_mode_to_string(ItsmigJobMode mode);
int itsmig_job_mode_from_string(const char *s);

/* Where the domain is on one host, as last observed. */
typedef enum {
    ITSMIG_PRESENCE_UNKNOWN, /* the host could not be asked */
    ITSMIG_PRESENCE_ABSENT,  /* not there, or there but shut off */
    ITSMIG_PRESENCE_PAUSED,
    ITSMIG_PRESENCE_RUNNING,
} ItsmigPresence;

const char *itsmig_presence_to_string(ItsmigPresence p);

typedef struct {
    ItsmigPresence source;
    ItsmigPresence destination;
    gboolean transfer_active; /* the source still runs a migration job */
} ItsmigJobFacts;

typedef enum {
    ITSMIG_ACTION_NONE, /* the job has ended */
    ITSMIG_ACTION_PREFLIGHT,
    ITSMIG_ACTION_DETACH, /* job->devices[device] from the source */
    ITSMIG_ACTION_SUSPEND_SOURCE,
    ITSMIG_ACTION_VERIFY_ITS_SAVE,
    ITSMIG_ACTION_MIGRATE,
    ITSMIG_ACTION_VERIFY_DEST,
    ITSMIG_ACTION_RESUME_DEST,
    ITSMIG_ACTION_ATTACH_DEST, /* job->devices[device] on the destination */
    /* rollback */
    ITSMIG_ACTION_ABORT_TRANSFER,
    ITSMIG_ACTION_DESTROY_DEST, /* only a paused copy, and only while the source is intact */
    ITSMIG_ACTION_RESUME_SOURCE,
    ITSMIG_ACTION_ATTACH_SOURCE, /* job->devices[device] back on the source */
    ITSMIG_ACTION_CONFIRM_SOURCE,
    ITSMIG_ACTION_LAST
} ItsmigActionKind;

/* "preflight", "detach", "suspend-source", ..., "confirm-source". */
const char *itsmig_action_to_string(ItsmigActionKind kind);
int itsmig_action_from_string(const char *s);

typedef struct {
    ItsmigActionKind kind;
    int device; /* index into job->devices, or -1 */
} ItsmigAction;

typedef enum {
    ITSMIG_OUTCOME_OK,
    ITSMIG_OUTCOME_FAILED,
    ITSMIG_OUTCOME_TIMEOUT, /* the phase or the whole job ran out of time */
    ITSMIG_OUTCOME_BLOCKED, /* the verdict has blockers (PREFLIGHT) */
    ITSMIG_OUTCOME_ABORTED, /* someone asked to abort */
} ItsmigOutcome;

const char *itsmig_outcome_to_string(ItsmigOutcome outcome);

/* A device the plan takes off the source and puts back (on the destination
 * when the migration succeeds, on the source when it rolls back). */
typedef enum {
    ITSMIG_DEVICE_ATTACHED,       /* on the source, as before the job */
    ITSMIG_DEVICE_DETACHED,       /* off the source */
    ITSMIG_DEVICE_ON_DESTINATION, /* attached on the destination */
    ITSMIG_DEVICE_LOST,           /* re-attaching failed: see the job's attention */
} ItsmigDeviceState;

typedef struct {
    char *alias;
    char *xml; /* the device element as the source had it */
    ItsmigDeviceState state;
} ItsmigJobDevice;

typedef struct {
    guint phase_timeout_s;   /* 0: none */
    guint total_timeout_s;   /* 0: none */
    guint64 max_downtime_ms; /* 0: libvirt's default */
    guint64 bandwidth_mibs;  /* 0: unlimited */
    gboolean auto_converge;
    gboolean quiesce; /* detach what cannot migrate (default TRUE) */
    char **detach;    /* the aliases to detach; NULL: decided at preflight */
    /* Resume on the destination a guest that was paused before the job; by default it
     * arrives paused, as it left. */
    gboolean resume;
} ItsmigJobOptions;

void itsmig_job_options_clear(ItsmigJobOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ItsmigJobOptions, itsmig_job_options_clear)

typedef struct {
    gint64 started_us; /* real time; 0 when the phase has not run */
    gint64 ended_us;   /* 0 while it runs */
    char *outcome;     /* "ok", "skipped", or an outcome of the failing action */
    /* The monotonic clock at the start and end (0: unknown, e.g. before a restart): durations
     * come from it, since the wall clock may step. */
    gint64 started_mono;
    gint64 ended_mono;
    gint64 duration_ms; /* < 0 until the phase has ended */
} ItsmigPhaseTiming;

typedef struct {
    double percent;                                     /* < 0 when unknown */
    guint64 data_total, data_processed, data_remaining; /* bytes */
    guint64 bytes_per_second;
    guint64 iteration;
    gint64 downtime_ms; /* < 0 until known */
    /* Safe mode: how long the guest was paused by the job, from the pause to its resume on
     * either host; < 0 until known, or when the job did not pause it. */
    gint64 paused_ms;
} ItsmigJobProgress;

/* Whether the job's record reached the journal. */
typedef struct {
    gboolean behind;   /* the last write failed: the journal holds an older record */
    guint failures;    /* writes that failed */
    char *last_error;  /* the last failure, NULL if none */
    gint64 written_us; /* real time of the write this record is (or was to be) */
} ItsmigJobJournalState;

typedef struct {
    char *id;
    char *domain;
    char *uuid;
    char *source;               /* this host's name */
    char *destination;          /* the peer's name in [peer NAME] */
    char *destination_hostname; /* as the peer reports it; NULL until known */
    ItsmigJobMode mode;
    ItsmigJobOptions options;

    ItsmigPhase phase;
    ItsmigPhase failed_phase; /* where the failure happened; ITSMIG_PHASE_LAST if none */
    ItsmigPhaseTiming timings[ITSMIG_PHASE_LAST];
    gint64 created_us;
    gint64 finished_us;

    /* The action under way: journaled before it starts, cleared when it is
     * reported.  After a crash it is the one whose outcome is unknown. */
    gboolean has_pending;
    ItsmigAction pending;

    gboolean source_was_running; /* at preflight: resume it on rollback */
    GPtrArray *devices;          /* ItsmigJobDevice, in detach order */
    ItsmigJobFacts facts;        /* as last reported */
    ItsmigJobProgress progress;

    JsonNode *verdict;     /* the preflight verdict object, NULL before */
    JsonNode *its_save;    /* VERIFY_ITS_SAVE evidence object, NULL before */
    JsonNode *its_restore; /* VERIFY_DEST evidence object, NULL before */

    char *error_code; /* the first failure: its outcome or error code */
    char *error_message;
    char *attention;  /* FAILED: the state and what a person must do */
    GPtrArray *notes; /* char *: what rollback could not do, each in one line */

    gboolean abort_requested;
    gboolean recovered; /* reconciled after a restart of the daemon */
    gboolean transient; /* the domain has no persistent definition (set at preflight) */
    /* Made from a record that could not be read whole: what could not be read, and what was.
     * Recovery then ends the job needing attention, with the hosts' state. */
    char *salvaged;
    ItsmigJobJournalState journal;
    /* The monotonic clock of the transition under way (itsmig_job_set_clock()), 0 if unknown. */
    gint64 mono_us;

    /* Rollback progress. */
    gboolean rb_aborted;      /* ABORT_TRANSFER done */
    gboolean rb_destroyed;    /* DESTROY_DEST done or not needed */
    gboolean rb_resumed;      /* RESUME_SOURCE done or not needed */
    gboolean rb_dest_unasked; /* the destination could not be asked whether a copy was left */
} ItsmigJob;

ItsmigJob *itsmig_job_new(const char *id, const char *domain, const char *uuid, const char *source,
                          const char *destination, ItsmigJobMode mode,
                          const ItsmigJobOptions *options, gint64 now_us);
void itsmig_job_free(ItsmigJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigJob, itsmig_job_free)

/* The monotonic clock (g_get_monotonic_time()) for the next transition: phase durations and the
 * guest's paused time come from it rather than from the wall clock. */
void itsmig_job_set_clock(ItsmigJob *job, gint64 mono_us);

/* The journal could not record the job (@message says why) / recorded it. */
void itsmig_job_journal_failed(ItsmigJob *job, const char *message);
void itsmig_job_journal_written(ItsmigJob *job);
/* Whether @action may run although the journal could not record its start.  Rollback steps
 * always may.  A forward step may only once the transfer has completed: before, a rollback is
 * possible, and a step the journal never saw could not be reconciled after a crash; after it,
 * the source copy is gone, a restart would reconcile forward from where libvirt shows the
 * guest just the same, and stopping would leave the guest paused on the destination for a
 * person.  When a forward step runs so, a note (once per job) says so. */
gboolean itsmig_job_may_run_unjournaled(ItsmigJob *job, const ItsmigAction *action);

/* After the PREFLIGHT action, before reporting it: the devices to detach, in
 * order, each with its XML. */
void itsmig_job_add_device(ItsmigJob *job, const char *alias, const char *xml);

/* The next action, FALSE when the job has ended. */
gboolean itsmig_job_next(const ItsmigJob *job, ItsmigAction *ret_action);
/* Marks @action under way (and its phase started). */
void itsmig_job_begin(ItsmigJob *job, const ItsmigAction *action, gint64 now_us);
/* Reports the action under way: its outcome, an error code and message when
 * it did not succeed, and the facts observed after it. */
void itsmig_job_end(ItsmigJob *job, ItsmigOutcome outcome, const char *code, const char *message,
                    const ItsmigJobFacts *facts, gint64 now_us);
/* Asks for the job to stop and roll back.  FALSE when too late: the job has
 * ended or is rolling back, or the transfer has completed (the source copy
 * is gone, so there is nothing to return to). */
gboolean itsmig_job_request_abort(ItsmigJob *job, gint64 now_us);
/* Whether itsmig_job_request_abort() would succeed now. */
gboolean itsmig_job_can_abort(const ItsmigJob *job);
/* After a restart: the action that was under way has an unknown outcome;
 * @facts (observed now) decide whether the job goes forward, rolls back or
 * needs a person. */
void itsmig_job_recover(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us);

/* A job that needs attention only because the destination could not be
 * asked while its copy was verified (peer-unreachable, peer-timeout or
 * peer-unavailable in VERIFY_DEST, the
 * source copy gone): once the destination answers again, with @facts, the job
 * goes back to VERIFY_DEST and on from there, the earlier failure kept as a
 * note.  FALSE, and nothing changed, for any other job. */
gboolean itsmig_job_reexamine(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us);
/* A job whose rollback needed attention because, among other things or alone, the
 * destination could not be asked whether a copy was left there (rb_dest_unasked): with
 * @facts, once the destination answers again, it is rolled back when the destination holds
 * no copy, the source's runs as before and nothing else was wrong; otherwise its attention
 * says what the destination holds.  FALSE, and nothing changed, for any other job or while
 * the destination's state is unknown. */
gboolean itsmig_job_reexamine_rollback(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us);
/* Whether the job is one itsmig_job_reexamine_rollback() waits for the destination to
 * answer about: its rollback failed, and among the reasons, the destination could not be
 * asked.  (A rollback abandoned for the destination's copy has no such question.) */
gboolean itsmig_job_rollback_awaits_dest(const ItsmigJob *job);

/* The record: the API's representation and the journal's.  Every member is
 * always present. */
JsonNode *itsmig_job_to_json(const ItsmigJob *job);
/* Strict: unknown or missing members, wrong types and impossible states are
 * errors (ITSMIG_ERROR_INVALID_JSON).  Members added after the first version ("transient",
 * "salvaged", "journal", options' "resume", progress' "paused_ms") may be absent. */
ItsmigJob *itsmig_job_from_json(JsonNode *node, GError **error);
/* The same for a job from elsewhere (itsmigctl reading a reply): the errors
 * have @at's code and name the members from @at. */
ItsmigJob *itsmig_job_read(JsonNode *node, const ItsmigJsonAt *at, GError **error);
/* For a record itsmig_job_from_json() refused (@why): a job made of what can be read of it (the
 * domain, the hosts, the phase and the action under way, the devices), so that a job is never
 * lost silently.  Recovering it ends it needing attention, with what the hosts then show.  NULL
 * when the record shows a finished job.  @id is the record's name. */
ItsmigJob *itsmig_job_salvage(JsonNode *node, const char *id, const char *why, gint64 now_us);
/* The same from a record's @len bytes of text, which may not be JSON at all (cut short,
 * damaged): the members that can still be found in it, by their first occurrence. */
ItsmigJob *itsmig_job_salvage_text(const char *text, gsize len, const char *id, const char *why,
                                   gint64 now_us);
