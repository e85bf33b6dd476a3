/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "itsmig/job.h"
#include "itsmig/json-member.h"
#include "job-private.h"

/* ---- names ---------------------------------------------------------------- */

static const char *const phase_names[ITSMIG_PHASE_LAST] = {
    [ITSMIG_PHASE_PREFLIGHT] = "preflight",
    [ITSMIG_PHASE_QUIESCE_DEVICES] = "quiesce-devices",
    [ITSMIG_PHASE_PAUSE_VCPUS] = "pause-vcpus",
    [ITSMIG_PHASE_VERIFY_ITS_SAVE] = "verify-its-save",
    [ITSMIG_PHASE_TRANSFER] = "transfer",
    [ITSMIG_PHASE_VERIFY_DEST] = "verify-dest",
    [ITSMIG_PHASE_RESUME_DEST] = "resume-dest",
    [ITSMIG_PHASE_RESTORE_DEVICES] = "restore-devices",
    [ITSMIG_PHASE_DONE] = "done",
    [ITSMIG_PHASE_ROLLBACK] = "rollback",
    [ITSMIG_PHASE_ROLLED_BACK] = "rolled-back",
    [ITSMIG_PHASE_FAILED] = "failed-needs-attention",
};

static const char *const action_names[ITSMIG_ACTION_LAST] = {
    [ITSMIG_ACTION_NONE] = "none",
    [ITSMIG_ACTION_PREFLIGHT] = "preflight",
    [ITSMIG_ACTION_DETACH] = "detach",
    [ITSMIG_ACTION_SUSPEND_SOURCE] = "suspend-source",
    [ITSMIG_ACTION_VERIFY_ITS_SAVE] = "verify-its-save",
    [ITSMIG_ACTION_MIGRATE] = "migrate",
    [ITSMIG_ACTION_VERIFY_DEST] = "verify-dest",
    [ITSMIG_ACTION_RESUME_DEST] = "resume-dest",
    [ITSMIG_ACTION_ATTACH_DEST] = "attach-dest",
    [ITSMIG_ACTION_ABORT_TRANSFER] = "abort-transfer",
    [ITSMIG_ACTION_DESTROY_DEST] = "destroy-dest",
    [ITSMIG_ACTION_RESUME_SOURCE] = "resume-source",
    [ITSMIG_ACTION_ATTACH_SOURCE] = "attach-source",
    [ITSMIG_ACTION_CONFIRM_SOURCE] = "confirm-source",
};

static const char *const presence_names[] = {"unknown", "absent", "paused", "running"};
static const char *const mode_names[] = {"safe", "live"};
static const char *const outcome_names[] = {"ok", "failed", "timeout", "blocked", "aborted"};
static const char *const device_state_names[] = {"attached", "detached", "on-destination", "lost"};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (names[i] && strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *itsmig_phase_to_string(ItsmigPhase phase)
{
    return (unsigned int)phase < ITSMIG_PHASE_LAST ? phase_names[phase] : "unknown";
}

int itsmig_phase_from_string(const char *s)
{
    return lookup(phase_names, ITSMIG_PHASE_LAST, s);
}

gboolean itsmig_phase_is_terminal(ItsmigPhase phase)
{
    return phase == ITSMIG_PHASE_DONE || phase == ITSMIG_PHASE_ROLLED_BACK ||
           phase == ITSMIG_PHASE_FAILED;
}

const char *itsmig_job_mode_to_string(ItsmigJobMode mode)
{
    return (unsigned int)mode < G_N_ELEMENTS(mode_names) ? mode_names[mode] : "unknown";
}

int itsmig_job_mode_from_string(const char *s)
{
    return lookup(mode_names, G_N_ELEMENTS(mode_names), s);
}

const char *itsmig_presence_to_string(ItsmigPresence p)
{
    return (unsigned int)p < G_N_ELEMENTS(presence_names) ? presence_names[p] : "unknown";
}

const char *itsmig_action_to_string(ItsmigActionKind kind)
{
    return (unsigned int)kind < ITSMIG_ACTION_LAST ? action_names[kind] : "unknown";
}

int itsmig_action_from_string(const char *s)
{
    return lookup(action_names, ITSMIG_ACTION_LAST, s);
}

const char *itsmig_outcome_to_string(ItsmigOutcome outcome)
{
    return (unsigned int)outcome < G_N_ELEMENTS(outcome_names) ? outcome_names[outcome] : "unknown";
}

int job_presence_from_string(const char *s)
{
    return lookup(presence_names, G_N_ELEMENTS(presence_names), s);
}

const char *job_device_state_to_string(ItsmigDeviceState state)
{
    return (unsigned int)state < G_N_ELEMENTS(device_state_names) ? device_state_names[state]
                                                                  : "unknown";
}

int job_device_state_from_string(const char *s)
{
    return lookup(device_state_names, G_N_ELEMENTS(device_state_names), s);
}

int job_outcome_from_string(const char *s)
{
    return lookup(outcome_names, G_N_ELEMENTS(outcome_names), s);
}

/* ---- the plan --------------------------------------------------------------- */

/* The forward phases in the order each mode runs them.  In live mode the
 * vCPUs are stopped by QEMU itself at switchover, so the save is verified
 * after the transfer, and PAUSE_VCPUS does not run. */
static const ItsmigPhase safe_plan[] = {
    ITSMIG_PHASE_PREFLIGHT,       ITSMIG_PHASE_QUIESCE_DEVICES, ITSMIG_PHASE_PAUSE_VCPUS,
    ITSMIG_PHASE_VERIFY_ITS_SAVE, ITSMIG_PHASE_TRANSFER,        ITSMIG_PHASE_VERIFY_DEST,
    ITSMIG_PHASE_RESUME_DEST,     ITSMIG_PHASE_RESTORE_DEVICES,
};
static const ItsmigPhase live_plan[] = {
    ITSMIG_PHASE_PREFLIGHT,       ITSMIG_PHASE_QUIESCE_DEVICES, ITSMIG_PHASE_TRANSFER,
    ITSMIG_PHASE_VERIFY_ITS_SAVE, ITSMIG_PHASE_VERIFY_DEST,     ITSMIG_PHASE_RESUME_DEST,
    ITSMIG_PHASE_RESTORE_DEVICES,
};

const ItsmigPhase *job_plan_of(ItsmigJobMode mode, gsize *ret_n)
{
    if (mode == ITSMIG_MODE_LIVE) {
        *ret_n = G_N_ELEMENTS(live_plan);
        return live_plan;
    }
    *ret_n = G_N_ELEMENTS(safe_plan);
    return safe_plan;
}

/* The position of @phase in the job's plan, -1 when it is not in it. */
int job_plan_index(const ItsmigJob *job, ItsmigPhase phase)
{
    gsize n;
    const ItsmigPhase *plan = job_plan_of(job->mode, &n);

    for (gsize i = 0; i < n; i++)
        if (plan[i] == phase)
            return (int)i;
    return -1;
}

static ItsmigPhase plan_next(const ItsmigJob *job, ItsmigPhase phase)
{
    gsize n;
    const ItsmigPhase *plan = job_plan_of(job->mode, &n);
    int i = job_plan_index(job, phase);

    return i >= 0 && (gsize)i + 1 < n ? plan[i + 1] : ITSMIG_PHASE_DONE;
}

/* Whether the transfer has begun (so a copy may exist on the destination). */
static gboolean transfer_started(const ItsmigJob *job)
{
    return job->timings[ITSMIG_PHASE_TRANSFER].started_us != 0;
}

/* A guest paused before the job arrives paused, unless the job was asked to resume it. */
gboolean job_keep_paused(const ItsmigJob *job)
{
    return !job->source_was_running && !job->options.resume;
}

ItsmigJobDevice *job_device_at(const ItsmigJob *job, int i)
{
    return i >= 0 && (guint)i < job->devices->len ? g_ptr_array_index(job->devices, i) : NULL;
}

static int first_device(const ItsmigJob *job, ItsmigDeviceState state)
{
    for (guint i = 0; i < job->devices->len; i++)
        if (job_device_at(job, i)->state == state)
            return (int)i;
    return -1;
}

static int last_device(const ItsmigJob *job, ItsmigDeviceState state)
{
    for (guint i = job->devices->len; i > 0; i--)
        if (job_device_at(job, i - 1)->state == state)
            return (int)i - 1;
    return -1;
}

/* The action a forward phase still has to do, NONE when it has finished. */
static ItsmigAction forward_action(const ItsmigJob *job, ItsmigPhase phase)
{
    ItsmigAction a = {ITSMIG_ACTION_NONE, -1};

    switch (phase) {
    case ITSMIG_PHASE_PREFLIGHT: a.kind = ITSMIG_ACTION_PREFLIGHT; break;
    case ITSMIG_PHASE_QUIESCE_DEVICES:
        a.device = first_device(job, ITSMIG_DEVICE_ATTACHED);
        if (a.device >= 0)
            a.kind = ITSMIG_ACTION_DETACH;
        return a;
    case ITSMIG_PHASE_PAUSE_VCPUS: a.kind = ITSMIG_ACTION_SUSPEND_SOURCE; break;
    case ITSMIG_PHASE_VERIFY_ITS_SAVE: a.kind = ITSMIG_ACTION_VERIFY_ITS_SAVE; break;
    case ITSMIG_PHASE_TRANSFER: a.kind = ITSMIG_ACTION_MIGRATE; break;
    case ITSMIG_PHASE_VERIFY_DEST: a.kind = ITSMIG_ACTION_VERIFY_DEST; break;
    case ITSMIG_PHASE_RESUME_DEST:
        if (job_keep_paused(job))
            return a;
        a.kind = ITSMIG_ACTION_RESUME_DEST;
        break;
    case ITSMIG_PHASE_RESTORE_DEVICES:
        a.device = first_device(job, ITSMIG_DEVICE_DETACHED);
        if (a.device >= 0)
            a.kind = ITSMIG_ACTION_ATTACH_DEST;
        return a;
    default: return a;
    }
    if (job->timings[phase].ended_us)
        a.kind = ITSMIG_ACTION_NONE;
    return a;
}

static ItsmigPhase action_phase(const ItsmigJob *job, ItsmigActionKind kind)
{
    switch (kind) {
    case ITSMIG_ACTION_PREFLIGHT: return ITSMIG_PHASE_PREFLIGHT;
    case ITSMIG_ACTION_DETACH: return ITSMIG_PHASE_QUIESCE_DEVICES;
    case ITSMIG_ACTION_SUSPEND_SOURCE: return ITSMIG_PHASE_PAUSE_VCPUS;
    case ITSMIG_ACTION_VERIFY_ITS_SAVE: return ITSMIG_PHASE_VERIFY_ITS_SAVE;
    case ITSMIG_ACTION_MIGRATE: return ITSMIG_PHASE_TRANSFER;
    case ITSMIG_ACTION_VERIFY_DEST: return ITSMIG_PHASE_VERIFY_DEST;
    case ITSMIG_ACTION_RESUME_DEST: return ITSMIG_PHASE_RESUME_DEST;
    case ITSMIG_ACTION_ATTACH_DEST: return ITSMIG_PHASE_RESTORE_DEVICES;
    case ITSMIG_ACTION_NONE:
    case ITSMIG_ACTION_LAST: break;
    default: return ITSMIG_PHASE_ROLLBACK;
    }
    return job->phase;
}

/* ---- lifetime ------------------------------------------------------------- */

void itsmig_job_options_clear(ItsmigJobOptions *o)
{
    g_clear_pointer(&o->detach, g_strfreev);
}

static void device_free(gpointer data)
{
    ItsmigJobDevice *d = data;

    g_free(d->alias);
    g_free(d->xml);
    g_free(d);
}

ItsmigJob *job_alloc(void)
{
    ItsmigJob *job = g_new0(ItsmigJob, 1);

    job->devices = g_ptr_array_new_with_free_func(device_free);
    job->notes = g_ptr_array_new_with_free_func(g_free);
    job->failed_phase = ITSMIG_PHASE_LAST;
    job->progress.percent = -1;
    job->progress.downtime_ms = -1;
    job->progress.paused_ms = -1;
    job->pending.device = -1;
    for (int i = 0; i < ITSMIG_PHASE_LAST; i++)
        job->timings[i].duration_ms = -1;
    return job;
}

ItsmigJob *itsmig_job_new(const char *id, const char *domain, const char *uuid, const char *source,
                          const char *destination, ItsmigJobMode mode,
                          const ItsmigJobOptions *options, gint64 now_us)
{
    ItsmigJob *job = job_alloc();

    job->id = g_strdup(id);
    job->domain = g_strdup(domain);
    job->uuid = g_strdup(uuid);
    job->source = g_strdup(source);
    job->destination = g_strdup(destination);
    job->mode = mode;
    if (options) {
        job->options = *options;
        job->options.detach = g_strdupv(options->detach);
    } else {
        job->options.quiesce = TRUE;
    }
    job->phase = ITSMIG_PHASE_PREFLIGHT;
    job->created_us = now_us;
    if (mode == ITSMIG_MODE_LIVE)
        job->timings[ITSMIG_PHASE_PAUSE_VCPUS].outcome = g_strdup("skipped");
    return job;
}

void itsmig_job_free(ItsmigJob *job)
{
    if (!job)
        return;
    g_free(job->id);
    g_free(job->domain);
    g_free(job->uuid);
    g_free(job->source);
    g_free(job->destination);
    g_free(job->destination_hostname);
    itsmig_job_options_clear(&job->options);
    for (int i = 0; i < ITSMIG_PHASE_LAST; i++)
        g_free(job->timings[i].outcome);
    g_ptr_array_unref(job->devices);
    g_ptr_array_unref(job->notes);
    g_clear_pointer(&job->verdict, json_node_unref);
    g_clear_pointer(&job->its_save, json_node_unref);
    g_clear_pointer(&job->its_restore, json_node_unref);
    g_free(job->error_code);
    g_free(job->error_message);
    g_free(job->attention);
    g_free(job->salvaged);
    g_free(job->journal.last_error);
    g_free(job);
}

void itsmig_job_set_clock(ItsmigJob *job, gint64 mono_us)
{
    job->mono_us = mono_us;
}

void itsmig_job_journal_failed(ItsmigJob *job, const char *message)
{
    job->journal.behind = TRUE;
    job->journal.failures++;
    g_free(job->journal.last_error);
    job->journal.last_error = g_strdup(message);
}

void itsmig_job_journal_written(ItsmigJob *job)
{
    job->journal.behind = FALSE;
}

static gboolean transfer_completed(const ItsmigJob *job)
{
    return job->timings[ITSMIG_PHASE_TRANSFER].ended_us &&
           g_strcmp0(job->timings[ITSMIG_PHASE_TRANSFER].outcome, "ok") == 0;
}

#define UNJOURNALED_NOTE "The journal could not record "

gboolean itsmig_job_may_run_unjournaled(ItsmigJob *job, const ItsmigAction *action)
{
    if (action->kind >= ITSMIG_ACTION_ABORT_TRANSFER)
        return TRUE;
    if (!transfer_completed(job))
        return FALSE;
    for (guint i = 0; i < job->notes->len; i++) {
        if (g_str_has_prefix(g_ptr_array_index(job->notes, i), UNJOURNALED_NOTE))
            return TRUE;
    }
    job_add_note(job,
                 UNJOURNALED_NOTE "%s (%s); the transfer had completed, so the job went on "
                                  "rather than leave the guest paused on the destination.",
                 itsmig_action_to_string(action->kind),
                 job->journal.last_error ? job->journal.last_error : "no reason given");
    return TRUE;
}

void itsmig_job_add_device(ItsmigJob *job, const char *alias, const char *xml)
{
    ItsmigJobDevice *d = g_new0(ItsmigJobDevice, 1);

    d->alias = g_strdup(alias);
    d->xml = g_strdup(xml);
    d->state = ITSMIG_DEVICE_ATTACHED;
    g_ptr_array_add(job->devices, d);
}

/* ---- transitions -------------------------------------------------------------- */

static void phase_start(ItsmigJob *job, ItsmigPhase phase, gint64 now_us)
{
    if (!job->timings[phase].started_us) {
        job->timings[phase].started_us = now_us;
        job->timings[phase].started_mono = job->mono_us;
    }
}

/* From @from to now: by the monotonic clock when both ends are known, else by the wall
 * clock, never below 0 (it may have stepped back). */
static gint64 elapsed_ms(const ItsmigJob *job, gint64 from_us, gint64 from_mono, gint64 now_us)
{
    if (from_mono && job->mono_us)
        return MAX(job->mono_us - from_mono, 0) / 1000;
    return MAX(now_us - from_us, 0) / 1000;
}

void job_phase_end(ItsmigJob *job, ItsmigPhase phase, const char *outcome, gint64 now_us)
{
    ItsmigPhaseTiming *t = &job->timings[phase];

    if (!t->started_us) {
        t->started_us = now_us;
        t->started_mono = job->mono_us;
    }
    /* The wall clock may have stepped back since the start: the record shows
     * it as it was (its reader takes an end before the start), and the
     * duration comes from the monotonic clock. */
    if (!t->ended_us) {
        t->ended_us = now_us;
        t->ended_mono = job->mono_us;
        t->duration_ms = elapsed_ms(job, t->started_us, t->started_mono, now_us);
    }
    g_free(t->outcome);
    t->outcome = g_strdup(outcome);
}

/* The phase is to run again. */
void job_phase_reopen(ItsmigJob *job, ItsmigPhase phase)
{
    job->timings[phase].ended_us = 0;
    job->timings[phase].ended_mono = 0;
    job->timings[phase].duration_ms = -1;
}

void job_add_note(ItsmigJob *job, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    g_ptr_array_add(job->notes, g_strdup_vprintf(format, ap));
    va_end(ap);
}

/* Whether the job's first failure was @code. */
gboolean job_error_is(const ItsmigJob *job, ItsmigErrorCode code)
{
    return g_strcmp0(job->error_code, itsmig_error_code_to_string(code)) == 0;
}

static gboolean is_verification(ItsmigPhase phase)
{
    return phase == ITSMIG_PHASE_VERIFY_ITS_SAVE || phase == ITSMIG_PHASE_VERIFY_DEST;
}

void job_set_error(ItsmigJob *job, const char *code, const char *message)
{
    /* The first failure is the one that explains the job's end, unless the job went on with
     * the destination's copy after it (it came too late to stop the transfer) and a check of
     * that copy failed: that one explains it now, the first is in the notes. */
    if (job->error_code && (!is_verification(job->phase) || is_verification(job->failed_phase)))
        return;
    g_free(job->error_code);
    g_free(job->error_message);
    job->error_code = g_strdup(code);
    job->error_message = g_strdup(message);
    job->failed_phase = job->phase;
}

static void finish(ItsmigJob *job, ItsmigPhase terminal, gint64 now_us)
{
    job->phase = terminal;
    job->finished_us = now_us;
    job->has_pending = FALSE;
}

void job_finish(ItsmigJob *job, ItsmigPhase terminal, gint64 now_us)
{
    finish(job, terminal, now_us);
}

/* Whether the source's copy is as it was before the job: running, or paused by its owner. */
gboolean job_source_as_before(const ItsmigJob *job, const ItsmigJobFacts *f)
{
    return f->source == ITSMIG_PRESENCE_RUNNING ||
           (f->source == ITSMIG_PRESENCE_PAUSED && !job->source_was_running);
}

/* Where the guest is, in words, for a person. */
static char *whereabouts(const ItsmigJob *job)
{
    const char *dest = job->destination_hostname ? job->destination_hostname : job->destination;
    const char *src_text, *dst_text;

    switch (job->facts.source) {
    case ITSMIG_PRESENCE_RUNNING: src_text = "runs on"; break;
    case ITSMIG_PRESENCE_PAUSED: src_text = "is paused on"; break;
    case ITSMIG_PRESENCE_ABSENT: src_text = "is not running on"; break;
    default: src_text = "is in an unknown state on"; break;
    }
    switch (job->facts.destination) {
    case ITSMIG_PRESENCE_RUNNING: dst_text = "runs on"; break;
    case ITSMIG_PRESENCE_PAUSED: dst_text = "is paused on"; break;
    case ITSMIG_PRESENCE_ABSENT: dst_text = "is not on"; break;
    default: dst_text = "is in an unknown state on"; break;
    }
    return g_strdup_printf("'%s' %s %s (source) and %s %s (destination)", job->domain, src_text,
                           job->source, dst_text, dest);
}

void job_fail(ItsmigJob *job, const char *advice, gint64 now_us)
{
    g_autofree char *where = whereabouts(job);
    g_autoptr(GString) s = g_string_new(where);

    g_string_append(s, ". ");
    if (advice)
        g_string_append(s, advice);
    for (guint i = 0; i < job->notes->len; i++) {
        if (i || advice)
            g_string_append(s, " ");
        g_string_append(s, g_ptr_array_index(job->notes, i));
    }
    if (job->transient)
        g_string_append_printf(s,
                               " '%s' is a transient domain: it has no definition on either host, "
                               "so destroying a copy (virsh destroy) loses the guest unless "
                               "another copy runs; keep its XML first (virsh dumpxml %s).",
                               job->domain, job->domain);
    g_free(job->attention);
    job->attention = g_string_free(g_steal_pointer(&s), FALSE);
    if (job->phase == ITSMIG_PHASE_ROLLBACK)
        job_phase_end(job, ITSMIG_PHASE_ROLLBACK, "failed", now_us);
    finish(job, ITSMIG_PHASE_FAILED, now_us);
}

gboolean job_source_intact(const ItsmigJobFacts *f)
{
    return f->source == ITSMIG_PRESENCE_RUNNING || f->source == ITSMIG_PRESENCE_PAUSED;
}

gboolean job_dest_holds_copy(const ItsmigJobFacts *f)
{
    return f->destination == ITSMIG_PRESENCE_RUNNING || f->destination == ITSMIG_PRESENCE_PAUSED;
}

/* Closes every forward phase up to @phase and makes it the current one;
 * used when the facts show the job is further than its record says. */
void job_jump_to(ItsmigJob *job, ItsmigPhase phase, gint64 now_us)
{
    gsize n;
    const ItsmigPhase *plan = job_plan_of(job->mode, &n);

    for (gsize i = 0; i < n && plan[i] != phase; i++)
        if (!job->timings[plan[i]].ended_us)
            job_phase_end(job, plan[i], job->timings[plan[i]].started_us ? "ok" : "skipped",
                          now_us);
    job->phase = phase;
}

/* A forward step failed (or timed out, or was aborted), with the facts
 * observed after it. */
void job_forward_failed(ItsmigJob *job, gint64 now_us)
{
    const ItsmigJobFacts *f = &job->facts;

    if (job->phase == ITSMIG_PHASE_RESUME_DEST || job->phase == ITSMIG_PHASE_RESTORE_DEVICES) {
        /* Past the point of no return: the source copy is gone. */
        if (job->phase == ITSMIG_PHASE_RESUME_DEST && f->destination == ITSMIG_PRESENCE_RUNNING) {
            /* It failed to say so, but it runs. */
            job_phase_end(job, ITSMIG_PHASE_RESUME_DEST, "ok", now_us);
            job->phase = ITSMIG_PHASE_RESTORE_DEVICES;
            job_settle(job, now_us);
            return;
        }
        job_fail(job,
                 "The transfer had completed, so there is no source copy to return to: resume the "
                 "guest on the destination (virsh resume) once the cause is understood.",
                 now_us);
        return;
    }
    if (job_source_intact(f) || f->source == ITSMIG_PRESENCE_UNKNOWN) {
        job->phase = ITSMIG_PHASE_ROLLBACK;
        phase_start(job, ITSMIG_PHASE_ROLLBACK, now_us);
        job_settle(job, now_us);
        return;
    }
    job_source_gone(job, now_us);
}

/* Decides, from the facts, what rollback has become unnecessary or
 * impossible.  Called after every report during ROLLBACK. */
void job_rollback_settle(ItsmigJob *job, gint64 now_us)
{
    const ItsmigJobFacts *f = &job->facts;

    if (!f->transfer_active && !job->rb_aborted)
        job->rb_aborted = TRUE;
    if (!job->rb_aborted)
        return;
    if (!job_source_intact(f) && f->source != ITSMIG_PRESENCE_UNKNOWN) {
        /* Rollback needs the source copy. */
        job_source_gone(job, now_us);
        return;
    }
    if (!job->rb_destroyed) {
        /* Before the transfer, what the destination holds is not ours. */
        if (!transfer_started(job) || f->destination == ITSMIG_PRESENCE_ABSENT) {
            job->rb_destroyed = TRUE;
        } else if (f->destination == ITSMIG_PRESENCE_RUNNING) {
            job_fail(job,
                     "The destination's copy runs (it was resumed outside this job) while the "
                     "source's is intact: keep one and destroy the other (virsh destroy); itsmigd "
                     "never destroys a running guest.",
                     now_us);
            return;
        } else if (f->destination == ITSMIG_PRESENCE_UNKNOWN) {
            job_add_note(job, "%s", JOB_NOTE_DEST_UNASKED);
            /* Asked again once it answers (itsmig_job_reexamine_rollback()). */
            job->rb_dest_unasked = TRUE;
            job->rb_destroyed = TRUE;
        }
    }
    /* Only what this job paused is resumed: a guest paused before it stays so. */
    if (job->rb_destroyed && !job->rb_resumed &&
        (!job->source_was_running || f->source == ITSMIG_PRESENCE_RUNNING))
        job->rb_resumed = TRUE;
}

void job_settle(ItsmigJob *job, gint64 now_us)
{
    if (job->phase == ITSMIG_PHASE_ROLLBACK) {
        job_rollback_settle(job, now_us);
        return;
    }
    if (itsmig_phase_is_terminal(job->phase))
        return;
    if (job->abort_requested && itsmig_job_can_abort(job)) {
        job_set_error(job, itsmig_error_code_to_string(ITSMIG_ERROR_ABORTED),
                      "the migration was aborted on request");
        job_phase_end(job, job->phase, "aborted", now_us);
        job_forward_failed(job, now_us);
        return;
    }
    /* Close the phases that have nothing (left) to do. */
    while (!itsmig_phase_is_terminal(job->phase) && job->phase != ITSMIG_PHASE_ROLLBACK) {
        ItsmigAction a = forward_action(job, job->phase);
        ItsmigPhase next;

        if (a.kind != ITSMIG_ACTION_NONE)
            return;
        if (!job->timings[job->phase].ended_us && job->phase == ITSMIG_PHASE_RESUME_DEST &&
            job_keep_paused(job)) {
            job_phase_end(job, job->phase, "skipped", now_us);
            job_add_note(job, "The guest was paused before the migration, so it was left paused on "
                              "the destination (the job's resume option was not set).");
        } else if (!job->timings[job->phase].ended_us) {
            job_phase_end(job, job->phase, "ok", now_us);
        }
        next = plan_next(job, job->phase);
        if (next == ITSMIG_PHASE_DONE) {
            if (last_device(job, ITSMIG_DEVICE_LOST) >= 0) {
                job_fail(job,
                         "The guest runs on the destination, but devices could not be attached "
                         "there:",
                         now_us);
                return;
            }
            finish(job, ITSMIG_PHASE_DONE, now_us);
            return;
        }
        job->phase = next;
    }
}

gboolean itsmig_job_next(const ItsmigJob *job, ItsmigAction *ret)
{
    const ItsmigJobFacts *f = &job->facts;
    int i;

    ret->kind = ITSMIG_ACTION_NONE;
    ret->device = -1;
    if (itsmig_phase_is_terminal(job->phase))
        return FALSE;
    if (job->phase != ITSMIG_PHASE_ROLLBACK) {
        *ret = forward_action(job, job->phase);
        return ret->kind != ITSMIG_ACTION_NONE;
    }
    if (!job->rb_aborted)
        ret->kind = ITSMIG_ACTION_ABORT_TRANSFER;
    else if (!job->rb_destroyed && f->destination == ITSMIG_PRESENCE_PAUSED)
        ret->kind = ITSMIG_ACTION_DESTROY_DEST;
    else if (!job->rb_resumed)
        ret->kind = ITSMIG_ACTION_RESUME_SOURCE;
    else if ((i = last_device(job, ITSMIG_DEVICE_DETACHED)) >= 0) {
        ret->kind = ITSMIG_ACTION_ATTACH_SOURCE;
        ret->device = i;
    } else
        ret->kind = ITSMIG_ACTION_CONFIRM_SOURCE;
    return TRUE;
}

void itsmig_job_begin(ItsmigJob *job, const ItsmigAction *action, gint64 now_us)
{
    ItsmigPhase phase = action_phase(job, action->kind);

    job->pending = *action;
    job->has_pending = TRUE;
    if (phase != ITSMIG_PHASE_ROLLBACK)
        job->phase = phase;
    phase_start(job, job->phase, now_us);
}

/* A rollback step did not work: what remains for a person. */
static void rollback_step_failed(ItsmigJob *job, const ItsmigAction *a, const char *code,
                                 const char *message)
{
    ItsmigJobDevice *d = job_device_at(job, a->device);
    const char *dest = job->destination_hostname ? job->destination_hostname : job->destination;

    switch (a->kind) {
    case ITSMIG_ACTION_ABORT_TRANSFER:
        job_add_note(job, "Stopping the transfer failed (%s).", message);
        job->rb_aborted = TRUE;
        break;
    case ITSMIG_ACTION_DESTROY_DEST:
        job_add_note(job,
                     "The paused copy on %s could not be destroyed (%s): destroy it there "
                     "(virsh destroy %s) and never resume it.",
                     dest, message, job->domain);
        job->rb_destroyed = TRUE;
        break;
    case ITSMIG_ACTION_RESUME_SOURCE:
        job_add_note(job,
                     "Resuming the guest on %s failed (%s): resume it there (virsh resume %s).",
                     job->source, message, job->domain);
        job->rb_resumed = TRUE;
        break;
    case ITSMIG_ACTION_ATTACH_SOURCE:
        if (!job_note_unknown_device(job, d, job->source, code, message, a->device))
            job_add_note(job,
                         "Device %s could not be attached back on %s (%s): attach it there "
                         "(virsh attach-device %s with the XML in devices[%d]).",
                         d->alias, job->source, message, job->domain, a->device);
        d->state = ITSMIG_DEVICE_LOST;
        break;
    default: break;
    }
}

/* The guest runs again after the pause this job made (safe mode): how long it was paused,
 * which libvirt's downtime figure (the switchover alone) does not show. */
static void note_paused(ItsmigJob *job, gint64 now_us)
{
    const ItsmigPhaseTiming *t = &job->timings[ITSMIG_PHASE_PAUSE_VCPUS];

    if (job->mode != ITSMIG_MODE_SAFE || !job->source_was_running || !t->started_us)
        return;
    job->progress.paused_ms = elapsed_ms(job, t->started_us, t->started_mono, now_us);
}

/* The report of a rollback step: what it did, and whether the rollback has ended. */
static void end_rollback_step(ItsmigJob *job, const ItsmigAction *a, ItsmigOutcome outcome,
                              const char *code, const char *message, gint64 now_us)
{
    ItsmigJobDevice *d = job_device_at(job, a->device);

    if (outcome != ITSMIG_OUTCOME_OK) {
        rollback_step_failed(job, a, code, message);
    } else {
        switch (a->kind) {
        case ITSMIG_ACTION_ABORT_TRANSFER: job->rb_aborted = TRUE; break;
        case ITSMIG_ACTION_DESTROY_DEST: job->rb_destroyed = TRUE; break;
        case ITSMIG_ACTION_RESUME_SOURCE:
            job->rb_resumed = TRUE;
            note_paused(job, now_us);
            break;
        case ITSMIG_ACTION_ATTACH_SOURCE:
            if (d)
                d->state = ITSMIG_DEVICE_ATTACHED;
            break;
        default: break;
        }
    }
    if (a->kind == ITSMIG_ACTION_CONFIRM_SOURCE) {
        gboolean as_before = job_source_as_before(job, &job->facts);

        if (outcome == ITSMIG_OUTCOME_OK && as_before && job->notes->len == 0 &&
            (!transfer_started(job) || !job_dest_holds_copy(&job->facts))) {
            job_phase_end(job, ITSMIG_PHASE_ROLLBACK, "ok", now_us);
            finish(job, ITSMIG_PHASE_ROLLED_BACK, now_us);
        } else {
            if (!as_before && job->notes->len == 0)
                job_add_note(job,
                             "The guest does not run on %s after the rollback (%s): check "
                             "it there.",
                             job->source, message);
            job_fail(job, NULL, now_us);
        }
        return;
    }
    job_rollback_settle(job, now_us);
}

void itsmig_job_end(ItsmigJob *job, ItsmigOutcome outcome, const char *code, const char *message,
                    const ItsmigJobFacts *facts, gint64 now_us)
{
    ItsmigAction a = job->pending;
    ItsmigJobDevice *d = job_device_at(job, a.device);

    if (!job->has_pending || itsmig_phase_is_terminal(job->phase))
        return;
    job->has_pending = FALSE;
    job->pending.kind = ITSMIG_ACTION_NONE;
    job->pending.device = -1;
    if (facts)
        job->facts = *facts;
    if (!code)
        code = itsmig_outcome_to_string(outcome);
    if (!message)
        message = code;

    if (job->phase == ITSMIG_PHASE_ROLLBACK) {
        end_rollback_step(job, &a, outcome, code, message, now_us);
        return;
    }

    if (a.kind == ITSMIG_ACTION_PREFLIGHT)
        job->source_was_running = job->facts.source == ITSMIG_PRESENCE_RUNNING;
    if (outcome == ITSMIG_OUTCOME_OK) {
        switch (a.kind) {
        case ITSMIG_ACTION_DETACH:
            if (d)
                d->state = ITSMIG_DEVICE_DETACHED;
            break;
        case ITSMIG_ACTION_ATTACH_DEST:
            if (d)
                d->state = ITSMIG_DEVICE_ON_DESTINATION;
            break;
        default: job_phase_end(job, job->phase, "ok", now_us); break;
        }
        if (a.kind == ITSMIG_ACTION_RESUME_DEST)
            note_paused(job, now_us);
        job_settle(job, now_us);
        return;
    }

    if (a.kind == ITSMIG_ACTION_ATTACH_DEST) {
        /* The guest runs on the destination: a device that cannot follow
         * does not undo the migration; a person maps it. */
        if (d && !job_note_unknown_device(job, d,
                                          job->destination_hostname ? job->destination_hostname
                                                                    : job->destination,
                                          code, message, a.device))
            job_add_note(job,
                         "Device %s could not be attached on the destination (%s): attach it "
                         "or a replacement there (XML in devices[%d]).",
                         d->alias, message, a.device);
        if (d)
            d->state = ITSMIG_DEVICE_LOST;
        job_set_error(job, code, message);
        job_settle(job, now_us);
        return;
    }
    if (a.kind == ITSMIG_ACTION_DETACH && d) {
        /* It may have gone after all (a late DEVICE_REMOVED): attaching it
         * back is harmless either way. */
        d->state = ITSMIG_DEVICE_DETACHED;
    }
    job_set_error(job, code, message);
    job_phase_end(job, job->phase, itsmig_outcome_to_string(outcome), now_us);
    job_forward_failed(job, now_us);
}

gboolean itsmig_job_can_abort(const ItsmigJob *job)
{
    if (itsmig_phase_is_terminal(job->phase) || job->phase == ITSMIG_PHASE_ROLLBACK)
        return FALSE;
    /* Once the transfer has completed the source copy is gone: there is
     * nothing left to return to. */
    if (job->timings[ITSMIG_PHASE_TRANSFER].ended_us &&
        g_strcmp0(job->timings[ITSMIG_PHASE_TRANSFER].outcome, "ok") == 0)
        return FALSE;
    return job_plan_index(job, job->phase) <= job_plan_index(job, ITSMIG_PHASE_TRANSFER);
}

gboolean itsmig_job_request_abort(ItsmigJob *job, gint64 now_us)
{
    if (!itsmig_job_can_abort(job))
        return FALSE;
    job->abort_requested = TRUE;
    /* With an action under way, its executor stops it and reports; the
     * report then turns the job around. */
    if (!job->has_pending)
        job_settle(job, now_us);
    return TRUE;
}
