/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "itsmig/job.h"
#include "itsmig/json-member.h"

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

static const ItsmigPhase *plan_of(ItsmigJobMode mode, gsize *ret_n)
{
    if (mode == ITSMIG_MODE_LIVE) {
        *ret_n = G_N_ELEMENTS(live_plan);
        return live_plan;
    }
    *ret_n = G_N_ELEMENTS(safe_plan);
    return safe_plan;
}

/* The position of @phase in the job's plan, -1 when it is not in it. */
static int plan_index(const ItsmigJob *job, ItsmigPhase phase)
{
    gsize n;
    const ItsmigPhase *plan = plan_of(job->mode, &n);

    for (gsize i = 0; i < n; i++)
        if (plan[i] == phase)
            return (int)i;
    return -1;
}

static ItsmigPhase plan_next(const ItsmigJob *job, ItsmigPhase phase)
{
    gsize n;
    const ItsmigPhase *plan = plan_of(job->mode, &n);
    int i = plan_index(job, phase);

    return i >= 0 && (gsize)i + 1 < n ? plan[i + 1] : ITSMIG_PHASE_DONE;
}

/* Whether the transfer has begun (so a copy may exist on the destination). */
static gboolean transfer_started(const ItsmigJob *job)
{
    return job->timings[ITSMIG_PHASE_TRANSFER].started_us != 0;
}

/* A guest paused before the job arrives paused, unless the job was asked to resume it. */
static gboolean keep_paused(const ItsmigJob *job)
{
    return !job->source_was_running && !job->options.resume;
}

static ItsmigJobDevice *device_at(const ItsmigJob *job, int i)
{
    return i >= 0 && (guint)i < job->devices->len ? g_ptr_array_index(job->devices, i) : NULL;
}

static int first_device(const ItsmigJob *job, ItsmigDeviceState state)
{
    for (guint i = 0; i < job->devices->len; i++)
        if (device_at(job, i)->state == state)
            return (int)i;
    return -1;
}

static int last_device(const ItsmigJob *job, ItsmigDeviceState state)
{
    for (guint i = job->devices->len; i > 0; i--)
        if (device_at(job, i - 1)->state == state)
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
        if (keep_paused(job))
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

static ItsmigJob *job_alloc(void)
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

static void add_note(ItsmigJob *job, const char *format, ...) G_GNUC_PRINTF(2, 3);

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
    add_note(job,
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

static void phase_end(ItsmigJob *job, ItsmigPhase phase, const char *outcome, gint64 now_us)
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
static void phase_reopen(ItsmigJob *job, ItsmigPhase phase)
{
    job->timings[phase].ended_us = 0;
    job->timings[phase].ended_mono = 0;
    job->timings[phase].duration_ms = -1;
}

static void add_note(ItsmigJob *job, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    g_ptr_array_add(job->notes, g_strdup_vprintf(format, ap));
    va_end(ap);
}

/* Whether the job's first failure was @code. */
static gboolean error_is(const ItsmigJob *job, ItsmigErrorCode code)
{
    return g_strcmp0(job->error_code, itsmig_error_code_to_string(code)) == 0;
}

static void set_error(ItsmigJob *job, const char *code, const char *message)
{
    /* The first failure is the one that explains the job's end. */
    if (job->error_code)
        return;
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

static void fail(ItsmigJob *job, const char *advice, gint64 now_us)
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
        phase_end(job, ITSMIG_PHASE_ROLLBACK, "failed", now_us);
    finish(job, ITSMIG_PHASE_FAILED, now_us);
}

static gboolean source_intact(const ItsmigJobFacts *f)
{
    return f->source == ITSMIG_PRESENCE_RUNNING || f->source == ITSMIG_PRESENCE_PAUSED;
}

static gboolean dest_holds_copy(const ItsmigJobFacts *f)
{
    return f->destination == ITSMIG_PRESENCE_RUNNING || f->destination == ITSMIG_PRESENCE_PAUSED;
}

/* Closes every forward phase up to @phase and makes it the current one;
 * used when the facts show the job is further than its record says. */
static void jump_to(ItsmigJob *job, ItsmigPhase phase, gint64 now_us)
{
    gsize n;
    const ItsmigPhase *plan = plan_of(job->mode, &n);

    for (gsize i = 0; i < n && plan[i] != phase; i++)
        if (!job->timings[plan[i]].ended_us)
            phase_end(job, plan[i], job->timings[plan[i]].started_us ? "ok" : "skipped", now_us);
    job->phase = phase;
}

/* The transfer completed although something else failed (or an abort came
 * late, or itsmigd restarted): the source copy is gone, so the only way is
 * forward, and never past a check that has not passed: the ITS save (live
 * mode checks it after the transfer) and the destination's copy are verified
 * again unless they already were, even when the copy already runs. */
static void roll_forward(ItsmigJob *job, gint64 now_us)
{
    static const ItsmigPhase checks[] = {ITSMIG_PHASE_VERIFY_ITS_SAVE, ITSMIG_PHASE_VERIFY_DEST};
    int transfer = plan_index(job, ITSMIG_PHASE_TRANSFER);

    if (job->phase == ITSMIG_PHASE_ROLLBACK)
        phase_end(job, ITSMIG_PHASE_ROLLBACK, "abandoned", now_us);
    for (gsize i = 0; i < G_N_ELEMENTS(checks); i++) {
        ItsmigPhaseTiming *t = &job->timings[checks[i]];

        /* Safe mode checked the save before the transfer could begin. */
        if (plan_index(job, checks[i]) < transfer ||
            (t->ended_us && g_strcmp0(t->outcome, "ok") == 0))
            continue;
        phase_reopen(job, checks[i]);
        jump_to(job, checks[i], now_us);
        return;
    }
    if (job->facts.destination == ITSMIG_PRESENCE_RUNNING)
        jump_to(job, ITSMIG_PHASE_RESTORE_DEVICES, now_us);
    else
        jump_to(job, ITSMIG_PHASE_RESUME_DEST, now_us);
}

static void settle(ItsmigJob *job, gint64 now_us);

/* The source copy is gone (the transfer completed) while the job was failing
 * or rolling back: forward with the destination's copy, unless verifying it
 * (or the save it came from) is what failed. */
static void source_gone(ItsmigJob *job, gint64 now_us)
{
    const ItsmigJobFacts *f = &job->facts;
    g_autofree char *advice = NULL;
    const char *dest = job->destination_hostname ? job->destination_hostname : job->destination;
    gboolean verification = job->failed_phase == ITSMIG_PHASE_VERIFY_ITS_SAVE ||
                            job->failed_phase == ITSMIG_PHASE_VERIFY_DEST;

    if (dest_holds_copy(f) && !verification) {
        add_note(job, "The transfer completed before the failure took effect; the job went on "
                      "with the destination's copy.");
        roll_forward(job, now_us);
        return;
    }
    if (dest_holds_copy(f) && job->failed_phase == ITSMIG_PHASE_VERIFY_ITS_SAVE &&
        !error_is(job, ITSMIG_ERROR_ITS_SAVE_FAILED))
        advice = g_strdup_printf(
            "The transfer completed, but the ITS save on the source could not be checked (%s), "
            "so the copy on %s may hold stale interrupt translations: %s",
            job->error_message, dest,
            f->destination == ITSMIG_PRESENCE_RUNNING
                ? "it runs; if its devices stop interrupting, reboot it there (virsh reset)."
                : "resume it there only if a reboot (virsh reset) is acceptable should its "
                  "devices stop interrupting.");
    else if (dest_holds_copy(f) && job->failed_phase == ITSMIG_PHASE_VERIFY_ITS_SAVE)
        advice = g_strdup_printf(
            "The transfer completed, but the ITS tables were not saved on the source (%s), so "
            "the copy on %s holds stale interrupt translations: reboot it there (virsh reset "
            "%s) rather than resuming it.",
            job->error_message, dest, job->domain);
    else if (f->destination == ITSMIG_PRESENCE_RUNNING &&
             error_is(job, ITSMIG_ERROR_ITS_RESTORE_FAILED))
        advice = g_strdup_printf("The transfer completed and the guest runs on %s, but its QEMU "
                                 "reported ITS restore errors (%s): its devices' interrupts may "
                                 "be lost; reboot it there (virsh reset %s).",
                                 dest, job->error_message, job->domain);
    else if (f->destination == ITSMIG_PRESENCE_RUNNING)
        advice = g_strdup_printf("The transfer completed and the guest runs on %s, but its ITS "
                                 "restore could not be verified (%s): if its devices stop "
                                 "interrupting, reboot it there (virsh reset %s).",
                                 dest, job->error_message, job->domain);
    else if (dest_holds_copy(f))
        advice = g_strdup_printf("The transfer completed, but verifying the copy on %s failed "
                                 "(%s): decide whether to resume it there (its interrupts may not "
                                 "work) or to reboot it (virsh reset %s).",
                                 dest, job->error_message, job->domain);
    else if (f->destination == ITSMIG_PRESENCE_UNKNOWN && job->mode == ITSMIG_MODE_LIVE)
        advice = g_strdup_printf("The source copy is gone and neither itsmigd nor libvirt on %s "
                                 "could be asked: the guest most likely runs there (live mode "
                                 "resumes it at the switchover); check with virsh list --all.",
                                 dest);
    else if (f->destination == ITSMIG_PRESENCE_UNKNOWN)
        advice = g_strdup_printf("The source copy is gone and neither itsmigd nor libvirt on %s "
                                 "could be asked: look for the guest there (virsh list --all); "
                                 "it should be paused, awaiting verification.",
                                 dest);
    else
        advice = g_strdup_printf("Neither host shows a copy that can run: check %s, then start "
                                 "the guest from its definition (virsh start %s) on one host "
                                 "only.",
                                 dest, job->domain);
    fail(job, advice, now_us);
}

static void settle(ItsmigJob *job, gint64 now_us);

/* A forward step failed (or timed out, or was aborted), with the facts
 * observed after it. */
static void forward_failed(ItsmigJob *job, gint64 now_us)
{
    const ItsmigJobFacts *f = &job->facts;

    if (job->phase == ITSMIG_PHASE_RESUME_DEST || job->phase == ITSMIG_PHASE_RESTORE_DEVICES) {
        /* Past the point of no return: the source copy is gone. */
        if (job->phase == ITSMIG_PHASE_RESUME_DEST && f->destination == ITSMIG_PRESENCE_RUNNING) {
            /* It failed to say so, but it runs. */
            phase_end(job, ITSMIG_PHASE_RESUME_DEST, "ok", now_us);
            job->phase = ITSMIG_PHASE_RESTORE_DEVICES;
            settle(job, now_us);
            return;
        }
        fail(job,
             "The transfer had completed, so there is no source copy to return to: resume the "
             "guest on the destination (virsh resume) once the cause is understood.",
             now_us);
        return;
    }
    if (source_intact(f) || f->source == ITSMIG_PRESENCE_UNKNOWN) {
        job->phase = ITSMIG_PHASE_ROLLBACK;
        phase_start(job, ITSMIG_PHASE_ROLLBACK, now_us);
        settle(job, now_us);
        return;
    }
    source_gone(job, now_us);
}

/* Decides, from the facts, what rollback has become unnecessary or
 * impossible.  Called after every report during ROLLBACK. */
static void rollback_settle(ItsmigJob *job, gint64 now_us)
{
    const ItsmigJobFacts *f = &job->facts;

    if (!f->transfer_active && !job->rb_aborted)
        job->rb_aborted = TRUE;
    if (!job->rb_aborted)
        return;
    if (!source_intact(f) && f->source != ITSMIG_PRESENCE_UNKNOWN) {
        /* Rollback needs the source copy. */
        source_gone(job, now_us);
        return;
    }
    if (!job->rb_destroyed) {
        /* Before the transfer, what the destination holds is not ours. */
        if (!transfer_started(job) || f->destination == ITSMIG_PRESENCE_ABSENT) {
            job->rb_destroyed = TRUE;
        } else if (f->destination == ITSMIG_PRESENCE_RUNNING) {
            fail(job,
                 "The destination's copy runs (it was resumed outside this job) while the "
                 "source's is intact: keep one and destroy the other (virsh destroy); itsmigd "
                 "never destroys a running guest.",
                 now_us);
            return;
        } else if (f->destination == ITSMIG_PRESENCE_UNKNOWN) {
            add_note(job, "The destination could not be asked whether a paused copy remains "
                          "there: if 'virsh list --all' shows one, destroy it (virsh destroy).");
            job->rb_destroyed = TRUE;
        }
    }
    /* Only what this job paused is resumed: a guest paused before it stays so. */
    if (job->rb_destroyed && !job->rb_resumed &&
        (!job->source_was_running || f->source == ITSMIG_PRESENCE_RUNNING))
        job->rb_resumed = TRUE;
}

static void settle(ItsmigJob *job, gint64 now_us)
{
    if (job->phase == ITSMIG_PHASE_ROLLBACK) {
        rollback_settle(job, now_us);
        return;
    }
    if (itsmig_phase_is_terminal(job->phase))
        return;
    if (job->abort_requested && itsmig_job_can_abort(job)) {
        set_error(job, itsmig_error_code_to_string(ITSMIG_ERROR_ABORTED),
                  "the migration was aborted on request");
        phase_end(job, job->phase, "aborted", now_us);
        forward_failed(job, now_us);
        return;
    }
    /* Close the phases that have nothing (left) to do. */
    while (!itsmig_phase_is_terminal(job->phase) && job->phase != ITSMIG_PHASE_ROLLBACK) {
        ItsmigAction a = forward_action(job, job->phase);
        ItsmigPhase next;

        if (a.kind != ITSMIG_ACTION_NONE)
            return;
        if (!job->timings[job->phase].ended_us && job->phase == ITSMIG_PHASE_RESUME_DEST &&
            keep_paused(job)) {
            phase_end(job, job->phase, "skipped", now_us);
            add_note(job, "The guest was paused before the migration, so it was left paused on "
                          "the destination (the job's resume option was not set).");
        } else if (!job->timings[job->phase].ended_us) {
            phase_end(job, job->phase, "ok", now_us);
        }
        next = plan_next(job, job->phase);
        if (next == ITSMIG_PHASE_DONE) {
            if (last_device(job, ITSMIG_DEVICE_LOST) >= 0) {
                fail(job,
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
static void rollback_step_failed(ItsmigJob *job, const ItsmigAction *a, const char *message)
{
    ItsmigJobDevice *d = device_at(job, a->device);
    const char *dest = job->destination_hostname ? job->destination_hostname : job->destination;

    switch (a->kind) {
    case ITSMIG_ACTION_ABORT_TRANSFER:
        add_note(job, "Stopping the transfer failed (%s).", message);
        job->rb_aborted = TRUE;
        break;
    case ITSMIG_ACTION_DESTROY_DEST:
        add_note(job,
                 "The paused copy on %s could not be destroyed (%s): destroy it there "
                 "(virsh destroy %s) and never resume it.",
                 dest, message, job->domain);
        job->rb_destroyed = TRUE;
        break;
    case ITSMIG_ACTION_RESUME_SOURCE:
        add_note(job, "Resuming the guest on %s failed (%s): resume it there (virsh resume %s).",
                 job->source, message, job->domain);
        job->rb_resumed = TRUE;
        break;
    case ITSMIG_ACTION_ATTACH_SOURCE:
        add_note(job,
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

void itsmig_job_end(ItsmigJob *job, ItsmigOutcome outcome, const char *code, const char *message,
                    const ItsmigJobFacts *facts, gint64 now_us)
{
    ItsmigAction a = job->pending;
    ItsmigJobDevice *d = device_at(job, a.device);

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
        if (outcome != ITSMIG_OUTCOME_OK) {
            rollback_step_failed(job, &a, message);
        } else {
            switch (a.kind) {
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
        if (a.kind == ITSMIG_ACTION_CONFIRM_SOURCE) {
            gboolean as_before =
                job->facts.source == ITSMIG_PRESENCE_RUNNING ||
                (job->facts.source == ITSMIG_PRESENCE_PAUSED && !job->source_was_running);

            if (outcome == ITSMIG_OUTCOME_OK && as_before && job->notes->len == 0 &&
                (!transfer_started(job) || !dest_holds_copy(&job->facts))) {
                phase_end(job, ITSMIG_PHASE_ROLLBACK, "ok", now_us);
                finish(job, ITSMIG_PHASE_ROLLED_BACK, now_us);
            } else {
                if (!as_before && job->notes->len == 0)
                    add_note(job,
                             "The guest does not run on %s after the rollback (%s): check "
                             "it there.",
                             job->source, message);
                fail(job, NULL, now_us);
            }
            return;
        }
        rollback_settle(job, now_us);
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
        default: phase_end(job, job->phase, "ok", now_us); break;
        }
        if (a.kind == ITSMIG_ACTION_RESUME_DEST)
            note_paused(job, now_us);
        settle(job, now_us);
        return;
    }

    if (a.kind == ITSMIG_ACTION_ATTACH_DEST) {
        /* The guest runs on the destination: a device that cannot follow
         * does not undo the migration; a person maps it. */
        if (d) {
            d->state = ITSMIG_DEVICE_LOST;
            add_note(job,
                     "Device %s could not be attached on the destination (%s): attach it "
                     "or a replacement there (XML in devices[%d]).",
                     d->alias, message, a.device);
        }
        set_error(job, code, message);
        settle(job, now_us);
        return;
    }
    if (a.kind == ITSMIG_ACTION_DETACH && d) {
        /* It may have gone after all (a late DEVICE_REMOVED): attaching it
         * back is harmless either way. */
        d->state = ITSMIG_DEVICE_DETACHED;
    }
    set_error(job, code, message);
    phase_end(job, job->phase, itsmig_outcome_to_string(outcome), now_us);
    forward_failed(job, now_us);
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
    return plan_index(job, job->phase) <= plan_index(job, ITSMIG_PHASE_TRANSFER);
}

gboolean itsmig_job_request_abort(ItsmigJob *job, gint64 now_us)
{
    if (!itsmig_job_can_abort(job))
        return FALSE;
    job->abort_requested = TRUE;
    /* With an action under way, its executor stops it and reports; the
     * report then turns the job around. */
    if (!job->has_pending)
        settle(job, now_us);
    return TRUE;
}

static char *time_text(gint64 us);

/* A job made from a record that could not be read whole: nothing it did can be trusted to
 * be known, so a person decides, told where the guest is now and what the record showed. */
static void salvaged_fail(ItsmigJob *job, gint64 now_us)
{
    g_autoptr(GString) advice = g_string_new(NULL);
    gboolean detached = FALSE;

    g_free(job->error_code);
    g_free(job->error_message);
    job->error_code = g_strdup(itsmig_error_code_to_string(ITSMIG_ERROR_JOURNAL_UNREADABLE));
    job->error_message =
        g_strdup_printf("the job's journal record could not be read whole: %s", job->salvaged);
    g_string_append_printf(advice,
                           "itsmigd restarted and could not read this job's journal record "
                           "whole, so it cannot tell what the job had done (%s). Make sure the "
                           "guest runs on one host only: resume it there if it is paused "
                           "(virsh resume %s), and destroy a paused copy on the other host "
                           "(virsh destroy %s).",
                           job->salvaged, job->domain, job->domain);
    for (guint i = 0; i < job->devices->len; i++) {
        const ItsmigJobDevice *d = device_at(job, i);

        g_string_append_printf(advice, "%s%s",
                               detached ? ", " : " Devices the job detached: ", d->alias);
        detached = TRUE;
    }
    if (detached)
        g_string_append(advice, "; attach them where the guest runs (XML in devices[]).");
    fail(job, advice->str, now_us);
}

gboolean itsmig_job_reexamine(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us)
{
    g_autofree char *why = NULL;

    if (job->phase != ITSMIG_PHASE_FAILED || job->failed_phase != ITSMIG_PHASE_VERIFY_DEST ||
        (!error_is(job, ITSMIG_ERROR_PEER_UNREACHABLE) &&
         !error_is(job, ITSMIG_ERROR_PEER_TIMEOUT)) ||
        job->timings[ITSMIG_PHASE_ROLLBACK].started_us || source_intact(facts) ||
        facts->source == ITSMIG_PRESENCE_UNKNOWN || !dest_holds_copy(facts))
        return FALSE;
    why = g_strdup(job->error_message);
    add_note(job,
             "The destination could not be asked when its copy was verified (%s); it answered "
             "again and the job went on.",
             why);
    g_clear_pointer(&job->error_code, g_free);
    g_clear_pointer(&job->error_message, g_free);
    g_clear_pointer(&job->attention, g_free);
    job->failed_phase = ITSMIG_PHASE_LAST;
    job->finished_us = 0;
    job->facts = *facts;
    phase_reopen(job, ITSMIG_PHASE_VERIFY_DEST);
    job->phase = ITSMIG_PHASE_VERIFY_DEST;
    return TRUE;
}

void itsmig_job_recover(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us)
{
    ItsmigAction a = job->pending;
    ItsmigJobDevice *d = job->has_pending ? device_at(job, a.device) : NULL;
    g_autofree char *message = NULL;
    /* What was under way, for the record: the action, else the phase. */
    const char *during = job->has_pending || a.kind != ITSMIG_ACTION_NONE
                             ? itsmig_action_to_string(a.kind)
                             : itsmig_phase_to_string(job->phase);

    if (itsmig_phase_is_terminal(job->phase))
        return;
    job->recovered = TRUE;
    job->facts = *facts;
    if (job->salvaged) {
        salvaged_fail(job, now_us);
        return;
    }
    if (job->has_pending) {
        /* The interrupted action may or may not have happened: a device
         * being detached is treated as gone, so that it is attached back. */
        if (a.kind == ITSMIG_ACTION_DETACH && d && d->state == ITSMIG_DEVICE_ATTACHED)
            d->state = ITSMIG_DEVICE_DETACHED;
        job->has_pending = FALSE;
        job->pending.kind = ITSMIG_ACTION_NONE;
        job->pending.device = -1;
    }
    if (job->phase == ITSMIG_PHASE_ROLLBACK) {
        /* The error already says why it rolls back; a note here would say
         * that the rollback left something undone. */
        rollback_settle(job, now_us);
        return;
    }
    if (job->phase == ITSMIG_PHASE_RESUME_DEST || job->phase == ITSMIG_PHASE_RESTORE_DEVICES) {
        if (facts->destination == ITSMIG_PRESENCE_RUNNING) {
            add_note(job,
                     "itsmigd restarted during %s; the destination's copy was running, so "
                     "the job went on to plug its devices back in.",
                     during);
            jump_to(job, ITSMIG_PHASE_RESTORE_DEVICES, now_us);
            settle(job, now_us);
            return;
        }
        if (facts->destination == ITSMIG_PRESENCE_PAUSED && keep_paused(job)) {
            add_note(job,
                     "itsmigd restarted during %s; the destination's copy was paused, as the "
                     "guest was before the job, so the job went on to plug its devices back in.",
                     during);
            jump_to(job, ITSMIG_PHASE_RESTORE_DEVICES, now_us);
            settle(job, now_us);
            return;
        }
        if (facts->destination == ITSMIG_PRESENCE_PAUSED) {
            add_note(job,
                     "itsmigd restarted during %s; the destination's copy was still paused "
                     "and is resumed again.",
                     during);
            phase_reopen(job, ITSMIG_PHASE_RESUME_DEST);
            job->phase = ITSMIG_PHASE_RESUME_DEST;
            return;
        }
    }
    if (!source_intact(facts) && facts->source != ITSMIG_PRESENCE_UNKNOWN &&
        dest_holds_copy(facts)) {
        add_note(job, "itsmigd restarted after the transfer had completed; the job went on with "
                      "the destination's copy.");
        roll_forward(job, now_us);
        settle(job, now_us);
        return;
    }
    /* The journal may be behind what happened (a write failed), so say what it showed, and
     * when, rather than claim the daemon stopped there. */
    if (job->journal.written_us) {
        g_autofree char *when = time_text(job->journal.written_us);

        message = g_strdup_printf("itsmigd restarted with the job in %s as its journal last "
                                  "recorded it (at %s); the job was reconciled from what the hosts "
                                  "showed",
                                  during, when);
    } else {
        message = g_strdup_printf("itsmigd restarted with the job in %s as its journal last "
                                  "recorded it; the job was reconciled from what the hosts showed",
                                  during);
    }
    set_error(job, itsmig_error_code_to_string(ITSMIG_ERROR_DAEMON_RESTARTED), message);
    phase_end(job, job->phase, "failed", now_us);
    forward_failed(job, now_us);
}

/* ---- JSON ------------------------------------------------------------------- */

/* The range of four-digit years, which ISO 8601 (and the reader) requires. */
#define TIME_MIN_US (G_GINT64_CONSTANT(-62135596800) * G_USEC_PER_SEC) /* 0001-01-01 */
#define TIME_MAX_US (G_GINT64_CONSTANT(253402300799) * G_USEC_PER_SEC) /* 9999-12-31 */

static char *time_text(gint64 us)
{
    g_autoptr(GDateTime) t0 = NULL;
    g_autoptr(GDateTime) t = NULL;
    gint64 s;

    /* A clock far off still gives a time the reader takes back. */
    us = CLAMP(us, TIME_MIN_US, TIME_MAX_US);
    s = us / G_USEC_PER_SEC - (us % G_USEC_PER_SEC < 0);
    t0 = g_date_time_new_from_unix_utc(s);
    t = g_date_time_add(t0, us - s * G_USEC_PER_SEC);
    /* Not g_date_time_format(): its %Y does not pad years before 1000 to four digits. */
    return g_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", g_date_time_get_year(t),
                           g_date_time_get_month(t), g_date_time_get_day_of_month(t),
                           g_date_time_get_hour(t), g_date_time_get_minute(t),
                           g_date_time_get_second(t), g_date_time_get_microsecond(t));
}

static void add_time(JsonBuilder *b, const char *key, gint64 us)
{
    json_builder_set_member_name(b, key);
    if (us) {
        g_autofree char *t = time_text(us);

        json_builder_add_string_value(b, t);
    } else {
        json_builder_add_null_value(b);
    }
}

static void add_string(JsonBuilder *b, const char *key, const char *value)
{
    json_builder_set_member_name(b, key);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

static void add_node(JsonBuilder *b, const char *key, JsonNode *node)
{
    json_builder_set_member_name(b, key);
    if (node)
        json_builder_add_value(b, json_node_copy(node));
    else
        json_builder_add_null_value(b);
}

static void add_phase(JsonBuilder *b, const ItsmigJob *job, ItsmigPhase phase)
{
    const ItsmigPhaseTiming *t = &job->timings[phase];

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "phase");
    json_builder_add_string_value(b, itsmig_phase_to_string(phase));
    add_time(b, "started_at", t->started_us);
    add_time(b, "ended_at", t->ended_us);
    json_builder_set_member_name(b, "duration_ms");
    if (t->ended_us && t->duration_ms >= 0)
        json_builder_add_int_value(b, t->duration_ms);
    else
        json_builder_add_null_value(b);
    add_string(b, "outcome", t->outcome);
    json_builder_end_object(b);
}

JsonNode *itsmig_job_to_json(const ItsmigJob *job)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    gsize n;
    const ItsmigPhase *plan = plan_of(job->mode, &n);

    json_builder_begin_object(b);
    add_string(b, "id", job->id);
    add_string(b, "domain", job->domain);
    add_string(b, "uuid", job->uuid);
    add_string(b, "source", job->source);
    add_string(b, "destination", job->destination);
    add_string(b, "destination_hostname", job->destination_hostname);
    add_string(b, "mode", itsmig_job_mode_to_string(job->mode));

    json_builder_set_member_name(b, "options");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "phase_timeout");
    json_builder_add_int_value(b, job->options.phase_timeout_s);
    json_builder_set_member_name(b, "total_timeout");
    json_builder_add_int_value(b, job->options.total_timeout_s);
    json_builder_set_member_name(b, "max_downtime");
    json_builder_add_int_value(b, (gint64)job->options.max_downtime_ms);
    json_builder_set_member_name(b, "bandwidth");
    json_builder_add_int_value(b, (gint64)job->options.bandwidth_mibs);
    json_builder_set_member_name(b, "auto_converge");
    json_builder_add_boolean_value(b, job->options.auto_converge);
    json_builder_set_member_name(b, "resume");
    json_builder_add_boolean_value(b, job->options.resume);
    json_builder_set_member_name(b, "quiesce");
    json_builder_add_boolean_value(b, job->options.quiesce);
    json_builder_set_member_name(b, "detach");
    if (job->options.detach) {
        json_builder_begin_array(b);
        for (char **a = job->options.detach; *a; a++)
            json_builder_add_string_value(b, *a);
        json_builder_end_array(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);

    add_string(b, "phase", itsmig_phase_to_string(job->phase));
    json_builder_set_member_name(b, "finished");
    json_builder_add_boolean_value(b, itsmig_phase_is_terminal(job->phase));
    add_string(b, "failed_phase",
               job->failed_phase < ITSMIG_PHASE_LAST ? itsmig_phase_to_string(job->failed_phase)
                                                     : NULL);
    add_time(b, "created_at", job->created_us);
    add_time(b, "finished_at", job->finished_us);

    json_builder_set_member_name(b, "phases");
    json_builder_begin_array(b);
    for (gsize i = 0; i < n; i++) {
        add_phase(b, job, plan[i]);
        if (plan[i] == ITSMIG_PHASE_QUIESCE_DEVICES && job->mode == ITSMIG_MODE_LIVE)
            add_phase(b, job, ITSMIG_PHASE_PAUSE_VCPUS);
    }
    if (job->timings[ITSMIG_PHASE_ROLLBACK].started_us)
        add_phase(b, job, ITSMIG_PHASE_ROLLBACK);
    json_builder_end_array(b);

    json_builder_set_member_name(b, "pending");
    if (job->has_pending) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "action");
        json_builder_add_string_value(b, itsmig_action_to_string(job->pending.kind));
        json_builder_set_member_name(b, "device");
        if (job->pending.device >= 0)
            json_builder_add_int_value(b, job->pending.device);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "source_was_running");
    json_builder_add_boolean_value(b, job->source_was_running);

    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (guint i = 0; i < job->devices->len; i++) {
        const ItsmigJobDevice *d = device_at(job, i);

        json_builder_begin_object(b);
        add_string(b, "alias", d->alias);
        add_string(b, "xml", d->xml);
        add_string(b, "state", device_state_names[d->state]);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "facts");
    json_builder_begin_object(b);
    add_string(b, "source", itsmig_presence_to_string(job->facts.source));
    add_string(b, "destination", itsmig_presence_to_string(job->facts.destination));
    json_builder_set_member_name(b, "transfer_active");
    json_builder_add_boolean_value(b, job->facts.transfer_active);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "progress");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "percent");
    if (job->progress.percent >= 0)
        json_builder_add_double_value(b, job->progress.percent);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "data_total");
    json_builder_add_int_value(b, (gint64)job->progress.data_total);
    json_builder_set_member_name(b, "data_processed");
    json_builder_add_int_value(b, (gint64)job->progress.data_processed);
    json_builder_set_member_name(b, "data_remaining");
    json_builder_add_int_value(b, (gint64)job->progress.data_remaining);
    json_builder_set_member_name(b, "bytes_per_second");
    json_builder_add_int_value(b, (gint64)job->progress.bytes_per_second);
    json_builder_set_member_name(b, "iteration");
    json_builder_add_int_value(b, (gint64)job->progress.iteration);
    json_builder_set_member_name(b, "downtime_ms");
    if (job->progress.downtime_ms >= 0)
        json_builder_add_int_value(b, job->progress.downtime_ms);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "paused_ms");
    if (job->progress.paused_ms >= 0)
        json_builder_add_int_value(b, job->progress.paused_ms);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);

    add_node(b, "verdict", job->verdict);
    add_node(b, "its_save", job->its_save);
    add_node(b, "its_restore", job->its_restore);

    json_builder_set_member_name(b, "error");
    if (job->error_code) {
        json_builder_begin_object(b);
        add_string(b, "code", job->error_code);
        add_string(b, "message", job->error_message ? job->error_message : job->error_code);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    add_string(b, "attention", job->attention);
    json_builder_set_member_name(b, "notes");
    json_builder_begin_array(b);
    for (guint i = 0; i < job->notes->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(job->notes, i));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "abort_requested");
    json_builder_add_boolean_value(b, job->abort_requested);
    json_builder_set_member_name(b, "recovered");
    json_builder_add_boolean_value(b, job->recovered);
    json_builder_set_member_name(b, "transient");
    json_builder_add_boolean_value(b, job->transient);
    add_string(b, "salvaged", job->salvaged);
    json_builder_set_member_name(b, "journal");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "behind");
    json_builder_add_boolean_value(b, job->journal.behind);
    json_builder_set_member_name(b, "failures");
    json_builder_add_int_value(b, job->journal.failures);
    add_string(b, "last_error", job->journal.last_error);
    add_time(b, "written_at", job->journal.written_us);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "rollback");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "aborted");
    json_builder_add_boolean_value(b, job->rb_aborted);
    json_builder_set_member_name(b, "destroyed");
    json_builder_add_boolean_value(b, job->rb_destroyed);
    json_builder_set_member_name(b, "resumed");
    json_builder_add_boolean_value(b, job->rb_resumed);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* ---- reading a record back ---------------------------------------------------- */

typedef struct {
    GError **error;
    ItsmigJsonAt at;
} Reader;

static gboolean bad(Reader *r, const char *member, const char *want)
{
    g_autofree char *path = itsmig_json_path(&r->at, member);

    g_set_error(r->error, ITSMIG_ERROR, r->at.code, "%s%s\"%s\" %s",
                r->at.prefix ? r->at.prefix : "", r->at.prefix ? ": " : "", path, want);
    return FALSE;
}

/* Every member of @o must be one of @known or @optional. */
static gboolean no_unknown_members(Reader *r, JsonObject *o, const char *const *known,
                                   const char *const *optional)
{
    const char *unknown = itsmig_json_unknown_member(o, known, optional);

    return !unknown || bad(r, unknown, "is not a member of a job record");
}

static gboolean no_missing_members(Reader *r, JsonObject *o, const char *const *known)
{
    for (const char *const *k = known; *k; k++)
        if (!json_object_has_member(o, *k))
            return bad(r, *k, "is missing");
    return TRUE;
}

/* Every member of @o must be one of @known or @optional, and each of @known present.  The
 * optional ones came later: records written before them lack them. */
static gboolean members_of(Reader *r, JsonObject *o, const char *const *known,
                           const char *const *optional)
{
    return no_unknown_members(r, o, known, optional) && no_missing_members(r, o, known);
}

static gboolean exact_members(Reader *r, JsonObject *o, const char *const *known)
{
    return members_of(r, o, known, NULL);
}

/* The json-member.h readers, with the job's own conventions: strings copied, -1 for null. */
static gboolean get_string(Reader *r, JsonObject *o, const char *key, gboolean nullable, char **ret)
{
    const char *s;

    if (!itsmig_json_get_string(&r->at, o, key, nullable, &s, r->error))
        return FALSE;
    *ret = g_strdup(s);
    return TRUE;
}

static gboolean get_bool(Reader *r, JsonObject *o, const char *key, gboolean *ret)
{
    return itsmig_json_get_bool(&r->at, o, key, ret, r->error);
}

/* An integer in [@min, @max], or null (-1) when @nullable. */
static gboolean get_int(Reader *r, JsonObject *o, const char *key, gint64 min, gint64 max,
                        gboolean nullable, gint64 *ret)
{
    gboolean has = TRUE;

    if (!nullable)
        return itsmig_json_get_int(&r->at, o, key, min, max, ret, r->error);
    if (!itsmig_json_get_int_or_null(&r->at, o, key, min, max, &has, ret, r->error))
        return FALSE;
    if (!has)
        *ret = -1;
    return TRUE;
}

static gboolean get_time(Reader *r, JsonObject *o, const char *key, gboolean nullable, gint64 *ret)
{
    g_autofree char *s = NULL;
    g_autoptr(GDateTime) t = NULL;

    if (!get_string(r, o, key, nullable, &s))
        return FALSE;
    *ret = 0;
    if (!s)
        return TRUE;
    t = g_date_time_new_from_iso8601(s, NULL);
    if (!t)
        return bad(r, key, "must be an ISO 8601 time");
    *ret = g_date_time_to_unix(t) * G_USEC_PER_SEC + g_date_time_get_microsecond(t);
    /* 0 stands for "none" in a job, and would be written back as null. */
    if (*ret == 0)
        return bad(r, key, "must not be 1970-01-01T00:00:00Z, which stands for no time");
    return TRUE;
}

static gboolean get_enum(Reader *r, JsonObject *o, const char *key, int (*parse)(const char *),
                         gboolean nullable, int *ret)
{
    return itsmig_json_get_enum(&r->at, o, key, parse, nullable, ret, r->error);
}

static int presence_from_string(const char *s)
{
    return lookup(presence_names, G_N_ELEMENTS(presence_names), s);
}

static int device_state_from_string(const char *s)
{
    return lookup(device_state_names, G_N_ELEMENTS(device_state_names), s);
}

static int outcome_text_valid(const char *s)
{
    static const char *const extra[] = {"skipped", "abandoned", NULL};

    return lookup(outcome_names, G_N_ELEMENTS(outcome_names), s) >= 0 || g_strv_contains(extra, s)
               ? 0
               : -1;
}

static JsonObject *get_object(Reader *r, JsonObject *o, const char *key)
{
    JsonObject *sub = NULL;

    return itsmig_json_get_object(&r->at, o, key, FALSE, &sub, r->error) ? sub : NULL;
}

static JsonArray *get_array(Reader *r, JsonObject *o, const char *key)
{
    JsonArray *a = NULL;

    return itsmig_json_get_array(&r->at, o, key, FALSE, &a, r->error) ? a : NULL;
}

static gboolean get_node(Reader *r, JsonObject *o, const char *key, JsonNode **ret)
{
    JsonObject *sub;

    if (!itsmig_json_get_object(&r->at, o, key, TRUE, &sub, r->error))
        return FALSE;
    *ret = sub ? json_node_copy(json_object_get_member(o, key)) : NULL;
    return TRUE;
}

static gboolean read_options(Reader *r, JsonObject *o, ItsmigJobOptions *opt)
{
    static const char *const members[] = {
        "phase_timeout", "total_timeout", "max_downtime", "bandwidth",
        "auto_converge", "quiesce",       "detach",       NULL};
    static const char *const optional[] = {"resume", NULL};
    gint64 v;
    JsonArray *a;

    if (!members_of(r, o, members, optional))
        return FALSE;
    opt->resume = FALSE;
    if (json_object_has_member(o, "resume") && !get_bool(r, o, "resume", &opt->resume))
        return FALSE;
    if (!get_int(r, o, "phase_timeout", 0, G_MAXUINT, FALSE, &v))
        return FALSE;
    opt->phase_timeout_s = (guint)v;
    if (!get_int(r, o, "total_timeout", 0, G_MAXUINT, FALSE, &v))
        return FALSE;
    opt->total_timeout_s = (guint)v;
    if (!get_int(r, o, "max_downtime", 0, G_MAXINT64, FALSE, &v))
        return FALSE;
    opt->max_downtime_ms = (guint64)v;
    if (!get_int(r, o, "bandwidth", 0, G_MAXINT64, FALSE, &v))
        return FALSE;
    opt->bandwidth_mibs = (guint64)v;
    if (!get_bool(r, o, "auto_converge", &opt->auto_converge) ||
        !get_bool(r, o, "quiesce", &opt->quiesce))
        return FALSE;
    if (!itsmig_json_get_string_array(&r->at, o, "detach", TRUE, &a, r->error))
        return FALSE;
    if (a) {
        opt->detach = g_new0(char *, json_array_get_length(a) + 1);
        for (guint i = 0; i < json_array_get_length(a); i++)
            opt->detach[i] = g_strdup(json_array_get_string_element(a, i));
    }
    return TRUE;
}

static gboolean read_phases(Reader *r, ItsmigJob *job, JsonArray *a)
{
    static const char *const members[] = {"phase",       "started_at", "ended_at",
                                          "duration_ms", "outcome",    NULL};
    guint seen = 0;

    G_STATIC_ASSERT(ITSMIG_PHASE_LAST <= 32);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        JsonObject *o;
        int phase;
        ItsmigPhaseTiming *t;
        char *outcome = NULL;

        if (!JSON_NODE_HOLDS_OBJECT(e))
            return bad(r, "phases", "must hold objects");
        o = json_node_get_object(e);
        if (!exact_members(r, o, members) ||
            !get_enum(r, o, "phase", itsmig_phase_from_string, FALSE, &phase))
            return FALSE;
        if (itsmig_phase_is_terminal(phase))
            return bad(r, "phase", "of a phases entry must not be a final state");
        if (seen & (1u << phase))
            return bad(r, "phase", "names a phase that an earlier phases entry named");
        seen |= 1u << phase;
        t = &job->timings[phase];
        if (!get_time(r, o, "started_at", TRUE, &t->started_us) ||
            !get_time(r, o, "ended_at", TRUE, &t->ended_us) ||
            !get_int(r, o, "duration_ms", 0, G_MAXINT64, TRUE, &t->duration_ms) ||
            !get_string(r, o, "outcome", TRUE, &outcome))
            return FALSE;
        t->outcome = outcome;
        if (outcome && outcome_text_valid(outcome) < 0)
            return bad(r, "outcome", "has an unknown value");
        /* An end before the start is no error: the wall clock may have stepped back, and
         * the duration came from the monotonic clock. */
        if (t->ended_us && !t->started_us)
            return bad(r, "ended_at", "is set for a phase that never started");
    }
    return TRUE;
}

static gboolean read_devices(Reader *r, ItsmigJob *job, JsonArray *a)
{
    static const char *const members[] = {"alias", "xml", "state", NULL};

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        JsonObject *o;
        ItsmigJobDevice *d;
        int state;

        if (!JSON_NODE_HOLDS_OBJECT(e))
            return bad(r, "devices", "must hold objects");
        o = json_node_get_object(e);
        if (!exact_members(r, o, members))
            return FALSE;
        d = g_new0(ItsmigJobDevice, 1);
        g_ptr_array_add(job->devices, d);
        if (!get_string(r, o, "alias", FALSE, &d->alias) ||
            !get_string(r, o, "xml", FALSE, &d->xml) ||
            !get_enum(r, o, "state", device_state_from_string, FALSE, &state))
            return FALSE;
        d->state = state;
    }
    return TRUE;
}

ItsmigJob *itsmig_job_from_json(JsonNode *node, GError **error)
{
    const ItsmigJsonAt at = {ITSMIG_ERROR_INVALID_JSON, "job record", NULL};

    return itsmig_job_read(node, &at, error);
}

ItsmigJob *itsmig_job_read(JsonNode *node, const ItsmigJsonAt *at, GError **error)
{
    static const char *const members[] = {
        "id",           "domain",
        "uuid",         "source",
        "destination",  "destination_hostname",
        "mode",         "options",
        "phase",        "finished",
        "failed_phase", "created_at",
        "finished_at",  "phases",
        "pending",      "source_was_running",
        "devices",      "facts",
        "progress",     "verdict",
        "its_save",     "its_restore",
        "error",        "attention",
        "notes",        "abort_requested",
        "recovered",    "rollback",
        NULL,
    };
    static const char *const optional[] = {"transient", "salvaged", "journal", NULL};
    g_autoptr(ItsmigJob) job = job_alloc();
    Reader r = {error, *at};
    JsonObject *o, *sub;
    JsonArray *a;
    int v;
    gint64 i64;
    gboolean finished, has;
    double percent;

    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        g_set_error(error, ITSMIG_ERROR, at->code, "%s%s%s%snot a JSON object",
                    at->prefix ? at->prefix : "", at->prefix ? ": " : "", at->path ? at->path : "",
                    at->path ? " is " : "");
        return NULL;
    }
    o = json_node_get_object(node);
    /* What is missing is reported by the reads below, with the type it should have. */
    if (!no_unknown_members(&r, o, members, optional) ||
        !get_string(&r, o, "id", FALSE, &job->id) ||
        !get_string(&r, o, "domain", FALSE, &job->domain) ||
        !get_string(&r, o, "uuid", FALSE, &job->uuid) ||
        !get_string(&r, o, "source", FALSE, &job->source) ||
        !get_string(&r, o, "destination", FALSE, &job->destination) ||
        !get_string(&r, o, "destination_hostname", TRUE, &job->destination_hostname) ||
        !get_enum(&r, o, "mode", itsmig_job_mode_from_string, FALSE, &v))
        return NULL;
    job->mode = v;
    if (!(sub = get_object(&r, o, "options")) || !read_options(&r, sub, &job->options))
        return NULL;
    if (!get_enum(&r, o, "phase", itsmig_phase_from_string, FALSE, &v))
        return NULL;
    job->phase = v;
    if (plan_index(job, job->phase) < 0 && job->phase != ITSMIG_PHASE_ROLLBACK &&
        !itsmig_phase_is_terminal(job->phase)) {
        bad(&r, "phase", "is not a phase of this mode");
        return NULL;
    }
    if (!get_bool(&r, o, "finished", &finished))
        return NULL;
    if (finished != itsmig_phase_is_terminal(job->phase)) {
        g_autofree char *why = g_strdup_printf("is %s in phase %s", finished ? "true" : "false",
                                               itsmig_phase_to_string(job->phase));

        bad(&r, "finished", why);
        return NULL;
    }
    if (!get_enum(&r, o, "failed_phase", itsmig_phase_from_string, TRUE, &v))
        return NULL;
    job->failed_phase = v < 0 ? ITSMIG_PHASE_LAST : v;
    if (!get_time(&r, o, "created_at", FALSE, &job->created_us) ||
        !get_time(&r, o, "finished_at", TRUE, &job->finished_us))
        return NULL;
    if (!(a = get_array(&r, o, "phases")) || !read_phases(&r, job, a))
        return NULL;

    if (!itsmig_json_get_object(&r.at, o, "pending", TRUE, &sub, error))
        return NULL;
    if (sub) {
        static const char *const pm[] = {"action", "device", NULL};

        if (!exact_members(&r, sub, pm) ||
            !get_enum(&r, sub, "action", itsmig_action_from_string, FALSE, &v) ||
            !get_int(&r, sub, "device", 0, G_MAXINT, TRUE, &i64))
            return NULL;
        if (v == ITSMIG_ACTION_NONE) {
            bad(&r, "action", "must name an action");
            return NULL;
        }
        job->has_pending = TRUE;
        job->pending.kind = v;
        job->pending.device = (int)i64;
    }
    if (!get_bool(&r, o, "source_was_running", &job->source_was_running))
        return NULL;
    if (!(a = get_array(&r, o, "devices")) || !read_devices(&r, job, a))
        return NULL;
    if (job->has_pending && job->pending.device >= (int)job->devices->len) {
        bad(&r, "device", "names no device of the job");
        return NULL;
    }

    if (!(sub = get_object(&r, o, "facts")))
        return NULL;
    {
        static const char *const fm[] = {"source", "destination", "transfer_active", NULL};
        int src, dst;

        if (!exact_members(&r, sub, fm) ||
            !get_enum(&r, sub, "source", presence_from_string, FALSE, &src) ||
            !get_enum(&r, sub, "destination", presence_from_string, FALSE, &dst) ||
            !get_bool(&r, sub, "transfer_active", &job->facts.transfer_active))
            return NULL;
        job->facts.source = src;
        job->facts.destination = dst;
    }
    if (!(sub = get_object(&r, o, "progress")))
        return NULL;
    {
        static const char *const pm[] = {
            "percent",          "data_total", "data_processed", "data_remaining",
            "bytes_per_second", "iteration",  "downtime_ms",    NULL};
        static const char *const pm_optional[] = {"paused_ms", NULL};
        gint64 u;

        if (!members_of(&r, sub, pm, pm_optional))
            return NULL;
        if (json_object_has_member(sub, "paused_ms") &&
            !get_int(&r, sub, "paused_ms", 0, G_MAXINT64, TRUE, &job->progress.paused_ms))
            return NULL;
        if (!itsmig_json_get_number_or_null(&r.at, sub, "percent", &has, &percent, error))
            return NULL;
        job->progress.percent = has ? CLAMP(percent, 0, 100) : -1;
#define PROGRESS_INT(name)                                                                         \
    if (!get_int(&r, sub, #name, 0, G_MAXINT64, FALSE, &u))                                        \
        return NULL;                                                                               \
    job->progress.name = (guint64)u;
        PROGRESS_INT(data_total)
        PROGRESS_INT(data_processed)
        PROGRESS_INT(data_remaining)
        PROGRESS_INT(bytes_per_second)
        PROGRESS_INT(iteration)
#undef PROGRESS_INT
        if (!get_int(&r, sub, "downtime_ms", 0, G_MAXINT64, TRUE, &job->progress.downtime_ms))
            return NULL;
    }
    if (!get_node(&r, o, "verdict", &job->verdict) ||
        !get_node(&r, o, "its_save", &job->its_save) ||
        !get_node(&r, o, "its_restore", &job->its_restore))
        return NULL;
    if (!itsmig_json_get_object(&r.at, o, "error", TRUE, &sub, error))
        return NULL;
    if (sub) {
        static const char *const em[] = {"code", "message", NULL};

        if (!exact_members(&r, sub, em) || !get_string(&r, sub, "code", FALSE, &job->error_code) ||
            !get_string(&r, sub, "message", FALSE, &job->error_message))
            return NULL;
    }
    if (!get_string(&r, o, "attention", TRUE, &job->attention))
        return NULL;
    if (!(a = get_array(&r, o, "notes")))
        return NULL;
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);

        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING) {
            bad(&r, "notes", "must hold strings");
            return NULL;
        }
        g_ptr_array_add(job->notes, g_strdup(json_node_get_string(e)));
    }
    if (!get_bool(&r, o, "abort_requested", &job->abort_requested) ||
        !get_bool(&r, o, "recovered", &job->recovered))
        return NULL;
    if (!(sub = get_object(&r, o, "rollback")))
        return NULL;
    {
        static const char *const rm[] = {"aborted", "destroyed", "resumed", NULL};

        if (!exact_members(&r, sub, rm) || !get_bool(&r, sub, "aborted", &job->rb_aborted) ||
            !get_bool(&r, sub, "destroyed", &job->rb_destroyed) ||
            !get_bool(&r, sub, "resumed", &job->rb_resumed))
            return NULL;
    }
    if (json_object_has_member(o, "transient") && !get_bool(&r, o, "transient", &job->transient))
        return NULL;
    if (json_object_has_member(o, "salvaged") &&
        !get_string(&r, o, "salvaged", TRUE, &job->salvaged))
        return NULL;
    if (json_object_has_member(o, "journal")) {
        static const char *const jm[] = {"behind", "failures", "last_error", "written_at", NULL};

        if (!(sub = get_object(&r, o, "journal")) || !exact_members(&r, sub, jm) ||
            !get_bool(&r, sub, "behind", &job->journal.behind) ||
            !get_int(&r, sub, "failures", 0, G_MAXUINT, FALSE, &i64) ||
            !get_string(&r, sub, "last_error", TRUE, &job->journal.last_error) ||
            !get_time(&r, sub, "written_at", TRUE, &job->journal.written_us))
            return NULL;
        job->journal.failures = (guint)i64;
    }
    if (job->phase == ITSMIG_PHASE_FAILED && !job->attention) {
        bad(&r, "attention", "is missing for a job that needs attention");
        return NULL;
    }
    if (!no_missing_members(&r, o, members))
        return NULL;
    return g_steal_pointer(&job);
}

/* ---- salvaging a record that cannot be read whole ------------------------------------ */

static JsonNode *loose_member(JsonObject *o, const char *key, GType type)
{
    JsonNode *n = o ? json_object_get_member(o, key) : NULL;

    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type ? n : NULL;
}

static char *dup_or(const char *s, const char *fallback)
{
    return g_strdup(s ? s : fallback);
}

static void salvage_devices(ItsmigJob *job, JsonObject *o)
{
    JsonNode *n = o ? json_object_get_member(o, "devices") : NULL;
    JsonArray *a = n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;

    for (guint i = 0; a && i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        JsonObject *d = JSON_NODE_HOLDS_OBJECT(e) ? json_node_get_object(e) : NULL;
        const char *alias = itsmig_json_lookup_string(d, "alias");
        const char *xml = itsmig_json_lookup_string(d, "xml");
        int state = device_state_from_string(itsmig_json_lookup_string(d, "state"));

        if (!alias || !xml)
            continue;
        itsmig_job_add_device(job, alias, xml);
        /* Unknown: as if detached, so that the advice names it. */
        device_at(job, job->devices->len - 1)->state =
            state < 0 ? ITSMIG_DEVICE_DETACHED : (ItsmigDeviceState)state;
    }
}

ItsmigJob *itsmig_job_salvage(JsonNode *node, const char *id, const char *why, gint64 now_us)
{
    JsonObject *o = node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
    JsonNode *pending = o ? json_object_get_member(o, "pending") : NULL;
    JsonNode *n;
    g_autoptr(ItsmigJob) job = job_alloc();
    g_autoptr(GString) text = g_string_new(why);
    g_autoptr(GDateTime) created = NULL;
    int phase = itsmig_phase_from_string(itsmig_json_lookup_string(o, "phase"));
    int mode = itsmig_job_mode_from_string(itsmig_json_lookup_string(o, "mode"));
    int action = -1;
    const char *s;

    g_return_val_if_fail(id != NULL && why != NULL, NULL);

    n = loose_member(o, "finished", G_TYPE_BOOLEAN);
    if (phase >= 0 && itsmig_phase_is_terminal(phase) && n && json_node_get_boolean(n))
        return NULL;
    job->id = g_strdup(id);
    job->domain = dup_or(itsmig_json_lookup_string(o, "domain"), "(unknown domain)");
    job->uuid = dup_or(itsmig_json_lookup_string(o, "uuid"), "");
    job->source = dup_or(itsmig_json_lookup_string(o, "source"), "(unknown source)");
    job->destination = dup_or(itsmig_json_lookup_string(o, "destination"), "(unknown peer)");
    job->destination_hostname = g_strdup(itsmig_json_lookup_string(o, "destination_hostname"));
    job->mode = mode < 0 ? ITSMIG_MODE_SAFE : (ItsmigJobMode)mode;
    job->options.quiesce = TRUE;
    job->phase = ITSMIG_PHASE_PREFLIGHT;
    if (phase >= 0 && (plan_index(job, phase) >= 0 || phase == ITSMIG_PHASE_ROLLBACK))
        job->phase = phase;
    /* Where it was, when that can be read; nothing is claimed otherwise. */
    job->failed_phase = phase >= 0 ? job->phase : ITSMIG_PHASE_LAST;
    s = itsmig_json_lookup_string(o, "created_at");
    created = s ? g_date_time_new_from_iso8601(s, NULL) : NULL;
    job->created_us = created ? g_date_time_to_unix(created) * G_USEC_PER_SEC +
                                    g_date_time_get_microsecond(created)
                              : now_us;
    n = loose_member(o, "source_was_running", G_TYPE_BOOLEAN);
    job->source_was_running = n ? json_node_get_boolean(n) : TRUE;
    n = loose_member(o, "transient", G_TYPE_BOOLEAN);
    job->transient = n && json_node_get_boolean(n);
    salvage_devices(job, o);
    if (pending && JSON_NODE_HOLDS_OBJECT(pending))
        action = itsmig_action_from_string(
            itsmig_json_lookup_string(json_node_get_object(pending), "action"));

    g_string_append(text, "; ");
    if (phase < 0)
        g_string_append(text, "its phase could not be read");
    else
        g_string_append_printf(text, "the record showed it in %s", itsmig_phase_to_string(phase));
    if (action > ITSMIG_ACTION_NONE)
        g_string_append_printf(text, " with %s under way", itsmig_action_to_string(action));
    job->salvaged = g_string_free(g_steal_pointer(&text), FALSE);
    return g_steal_pointer(&job);
}

ItsmigJob *itsmig_job_salvage_text(const char *text, gsize len, const char *id, const char *why,
                                   gint64 now_us)
{
    /* In the order the writer puts them, each before any nested member of the same name. */
    static const char *const keys[] = {
        "domain", "uuid",  "source",   "destination",        "destination_hostname",
        "mode",   "phase", "finished", "source_was_running", "transient",
        NULL};
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(JsonObject) found = NULL;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(GRegex) re = NULL;
    g_autoptr(GMatchInfo) m = NULL;
    g_autofree char *copy = NULL;

    g_return_val_if_fail(id != NULL && why != NULL && (text || !len), NULL);

    if (len && json_parser_load_from_data(parser, text, (gssize)len, NULL) &&
        json_parser_get_root(parser))
        return itsmig_job_salvage(json_parser_get_root(parser), id, why, now_us);
    found = json_object_new();
    /* A string member (with its escapes) or a boolean one. */
    re = g_regex_new("\"([a-z_]+)\"\\s*:\\s*(\"(?:[^\"\\\\]|\\\\.)*\"|true|false)", G_REGEX_RAW, 0,
                     NULL);
    copy = g_strndup(text ? text : "", len);
    g_regex_match(re, copy, 0, &m);
    while (g_match_info_matches(m)) {
        g_autofree char *key = g_match_info_fetch(m, 1);
        g_autofree char *value = g_match_info_fetch(m, 2);
        JsonNode *v;

        if (g_strv_contains(keys, key) && !json_object_has_member(found, key) &&
            (v = json_from_string(value, NULL)) != NULL)
            json_object_set_member(found, key, v);
        g_match_info_next(m, NULL);
    }
    node = json_node_init_object(json_node_alloc(), found);
    return itsmig_job_salvage(node, id, why, now_us);
}
