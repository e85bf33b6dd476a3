/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A job taken back after a restart, a failure past the transfer, or a record that could not be
 * read whole: the decisions that depend on where the hosts show the guest now. */
#include "config.h"

#include "itsmig/error.h"
#include "itsmig/job.h"
#include "itsmig/json-member.h"
#include "job-private.h"

/* When QEMU kept a device libvirt does not list (a libvirtd that died while it attached it),
 * attaching it fails again: the steps that work.  FALSE for any other failure. */
gboolean job_note_unknown_device(ItsmigJob *job, const ItsmigJobDevice *d, const char *host,
                                 const char *code, const char *message, int index)
{
    if (!d || g_strcmp0(code, itsmig_error_code_to_string(ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT)))
        return FALSE;
    job_add_note(job,
                 "Device %s could not be attached on %s (%s): QEMU still has it and libvirt "
                 "does not list it. Remove it from QEMU there (virsh qemu-monitor-command %s "
                 "'{\"execute\":\"device_del\",\"arguments\":{\"id\":\"%s\"}}'), wait "
                 "until virsh qemu-monitor-command %s "
                 "'{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/machine/"
                 "peripheral\"}}' no longer lists %s, then attach it (virsh attach-device %s "
                 "FILE --live, FILE holding the XML in devices[%d]).",
                 d->alias, host, message, job->domain, d->alias, job->domain, d->alias, job->domain,
                 index);
    return TRUE;
}

/* Removes the note @text, if the job has it. */
static void drop_note(ItsmigJob *job, const char *text)
{
    for (guint i = 0; i < job->notes->len; i++)
        if (!g_strcmp0(g_ptr_array_index(job->notes, i), text))
            g_ptr_array_remove_index(job->notes, i--);
}

/* The transfer completed although something else failed (or an abort came
 * late, or itsmigd restarted): the source copy is gone, so the only way is
 * forward, and never past a check that has not passed: the ITS save (live
 * mode checks it after the transfer) and the destination's copy are verified
 * again unless they already were, even when the copy already runs. */
static void roll_forward(ItsmigJob *job, gint64 now_us)
{
    static const ItsmigPhase checks[] = {ITSMIG_PHASE_VERIFY_ITS_SAVE, ITSMIG_PHASE_VERIFY_DEST};
    int transfer = job_plan_index(job, ITSMIG_PHASE_TRANSFER);

    if (job->phase == ITSMIG_PHASE_ROLLBACK)
        job_phase_end(job, ITSMIG_PHASE_ROLLBACK, "abandoned", now_us);
    /* The rollback's open question about the destination went with it: the destination's
     * copy is the job's now. */
    if (job->rb_dest_unasked) {
        job->rb_dest_unasked = FALSE;
        drop_note(job, JOB_NOTE_DEST_UNASKED);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(checks); i++) {
        ItsmigPhaseTiming *t = &job->timings[checks[i]];

        /* Safe mode checked the save before the transfer could begin. */
        if (job_plan_index(job, checks[i]) < transfer ||
            (t->ended_us && g_strcmp0(t->outcome, "ok") == 0))
            continue;
        job_phase_reopen(job, checks[i]);
        job_jump_to(job, checks[i], now_us);
        return;
    }
    if (job->facts.destination == ITSMIG_PRESENCE_RUNNING)
        job_jump_to(job, ITSMIG_PHASE_RESTORE_DEVICES, now_us);
    else
        job_jump_to(job, ITSMIG_PHASE_RESUME_DEST, now_us);
}

/* The source copy is gone (the transfer completed) while the job was failing
 * or rolling back: forward with the destination's copy, unless verifying it
 * (or the save it came from) is what failed. */
void job_source_gone(ItsmigJob *job, gint64 now_us)
{
    const ItsmigJobFacts *f = &job->facts;
    g_autofree char *advice = NULL;
    const char *dest = job->destination_hostname ? job->destination_hostname : job->destination;
    gboolean verification = job->failed_phase == ITSMIG_PHASE_VERIFY_ITS_SAVE ||
                            job->failed_phase == ITSMIG_PHASE_VERIFY_DEST;

    if (job_dest_holds_copy(f) && !verification) {
        job_add_note(job,
                     "The transfer completed before the failure took effect; the job went on "
                     "with the destination's copy (the failure, in %s: %s).",
                     itsmig_phase_to_string(job->failed_phase), job->error_message);
        roll_forward(job, now_us);
        return;
    }
    if (job_dest_holds_copy(f) && job->failed_phase == ITSMIG_PHASE_VERIFY_ITS_SAVE &&
        !job_error_is(job, ITSMIG_ERROR_ITS_SAVE_FAILED))
        advice = g_strdup_printf(
            "The transfer completed, but the ITS save on the source could not be checked (%s), "
            "so the copy on %s may hold stale interrupt translations: %s",
            job->error_message, dest,
            f->destination == ITSMIG_PRESENCE_RUNNING
                ? "it runs; if its devices stop interrupting, reboot it there (virsh reset)."
                : "resume it there only if a reboot (virsh reset) is acceptable should its "
                  "devices stop interrupting.");
    else if (job_dest_holds_copy(f) && job->failed_phase == ITSMIG_PHASE_VERIFY_ITS_SAVE)
        advice = g_strdup_printf(
            "The transfer completed, but the ITS tables were not saved on the source (%s), so "
            "the copy on %s holds stale interrupt translations: reboot it there (virsh reset "
            "%s) rather than resuming it.",
            job->error_message, dest, job->domain);
    else if (f->destination == ITSMIG_PRESENCE_RUNNING &&
             job_error_is(job, ITSMIG_ERROR_ITS_RESTORE_FAILED))
        advice = g_strdup_printf("The transfer completed and the guest runs on %s, but its QEMU "
                                 "reported ITS restore errors (%s): its devices' interrupts may "
                                 "be lost; reboot it there (virsh reset %s).",
                                 dest, job->error_message, job->domain);
    else if (f->destination == ITSMIG_PRESENCE_RUNNING)
        advice = g_strdup_printf("The transfer completed and the guest runs on %s, but its ITS "
                                 "restore could not be verified (%s): if its devices stop "
                                 "interrupting, reboot it there (virsh reset %s).",
                                 dest, job->error_message, job->domain);
    else if (job_dest_holds_copy(f))
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
    job_fail(job, advice, now_us);
}
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
        const ItsmigJobDevice *d = job_device_at(job, i);

        g_string_append_printf(advice, "%s%s",
                               detached ? ", " : " Devices the job detached: ", d->alias);
        detached = TRUE;
    }
    if (detached)
        g_string_append(advice, "; attach them where the guest runs (XML in devices[]).");
    job_fail(job, advice->str, now_us);
}

gboolean itsmig_job_reexamine(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us)
{
    g_autofree char *why = NULL;

    if (job->phase != ITSMIG_PHASE_FAILED || job->failed_phase != ITSMIG_PHASE_VERIFY_DEST ||
        (!job_error_is(job, ITSMIG_ERROR_PEER_UNREACHABLE) &&
         !job_error_is(job, ITSMIG_ERROR_PEER_TIMEOUT) &&
         !job_error_is(job, ITSMIG_ERROR_PEER_UNAVAILABLE)) ||
        job->timings[ITSMIG_PHASE_ROLLBACK].started_us || job_source_intact(facts) ||
        facts->source == ITSMIG_PRESENCE_UNKNOWN || !job_dest_holds_copy(facts))
        return FALSE;
    why = g_strdup(job->error_message);
    job_add_note(job,
                 "The destination could not be asked when its copy was verified (%s); it answered "
                 "again and the job went on.",
                 why);
    g_clear_pointer(&job->error_code, g_free);
    g_clear_pointer(&job->error_message, g_free);
    g_clear_pointer(&job->attention, g_free);
    job->failed_phase = ITSMIG_PHASE_LAST;
    job->finished_us = 0;
    job->facts = *facts;
    job_phase_reopen(job, ITSMIG_PHASE_VERIFY_DEST);
    job->phase = ITSMIG_PHASE_VERIFY_DEST;
    return TRUE;
}

gboolean itsmig_job_rollback_awaits_dest(const ItsmigJob *job)
{
    return job->phase == ITSMIG_PHASE_FAILED && job->rb_dest_unasked &&
           g_strcmp0(job->timings[ITSMIG_PHASE_ROLLBACK].outcome, "failed") == 0;
}

gboolean itsmig_job_reexamine_rollback(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us)
{
    const char *dest = job->destination_hostname ? job->destination_hostname : job->destination;

    if (!itsmig_job_rollback_awaits_dest(job) || facts->destination == ITSMIG_PRESENCE_UNKNOWN ||
        facts->source == ITSMIG_PRESENCE_UNKNOWN)
        return FALSE;
    job->rb_dest_unasked = FALSE;
    job->facts = *facts;
    drop_note(job, JOB_NOTE_DEST_UNASKED);
    if (facts->destination == ITSMIG_PRESENCE_ABSENT && job->notes->len == 0 &&
        job_source_as_before(job, facts)) {
        job_add_note(job, "The destination could not be asked whether a copy was left there "
                          "when the rollback ended; it answered later, and holds none.");
        g_clear_pointer(&job->attention, g_free);
        job_phase_reopen(job, ITSMIG_PHASE_ROLLBACK);
        job_phase_end(job, ITSMIG_PHASE_ROLLBACK, "ok", now_us);
        job_finish(job, ITSMIG_PHASE_ROLLED_BACK, now_us);
        return TRUE;
    }
    switch (facts->destination) {
    case ITSMIG_PRESENCE_PAUSED:
        job_add_note(job,
                     "The destination answered after the rollback: a paused copy remains on "
                     "%s: destroy it there (virsh destroy %s) and never resume it.",
                     dest, job->domain);
        break;
    case ITSMIG_PRESENCE_RUNNING:
        job_add_note(job,
                     "The destination answered after the rollback: a copy runs on %s: keep one "
                     "copy and destroy the other (virsh destroy); itsmigd never destroys a "
                     "running guest.",
                     dest);
        break;
    default:
        job_add_note(job, "The destination answered after the rollback: it holds no copy.");
        break;
    }
    job_fail(job, NULL, now_us);
    return TRUE;
}

/* A restart during the destination's resume or after it: the destination's copy says how far the
 * job got.  FALSE when it shows nothing to go on with. */
static gboolean recover_on_destination(ItsmigJob *job, const ItsmigJobFacts *facts,
                                       const char *during, gint64 now_us)
{
    gboolean running = facts->destination == ITSMIG_PRESENCE_RUNNING;

    if (running || (facts->destination == ITSMIG_PRESENCE_PAUSED && job_keep_paused(job))) {
        job_add_note(job,
                     running ? "itsmigd restarted during %s; the destination's copy was running, "
                               "so the job went on to plug its devices back in."
                             : "itsmigd restarted during %s; the destination's copy was paused, "
                               "as the guest was before the job, so the job went on to plug its "
                               "devices back in.",
                     during);
        job_jump_to(job, ITSMIG_PHASE_RESTORE_DEVICES, now_us);
        job_settle(job, now_us);
        return TRUE;
    }
    if (facts->destination == ITSMIG_PRESENCE_PAUSED) {
        job_add_note(job,
                     "itsmigd restarted during %s; the destination's copy was still paused "
                     "and is resumed again.",
                     during);
        job_phase_reopen(job, ITSMIG_PHASE_RESUME_DEST);
        job->phase = ITSMIG_PHASE_RESUME_DEST;
        return TRUE;
    }
    return FALSE;
}

/* The journal may be behind what happened (a write failed), so say what it showed, and when,
 * rather than claim the daemon stopped there. */
static char *restart_message(const ItsmigJob *job, const char *during)
{
    g_autofree char *when = NULL;

    if (!job->journal.written_us)
        return g_strdup_printf("itsmigd restarted with the job in %s as its journal last "
                               "recorded it; the job was reconciled from what the hosts showed",
                               during);
    when = job_time_text(job->journal.written_us);
    return g_strdup_printf("itsmigd restarted with the job in %s as its journal last "
                           "recorded it (at %s); the job was reconciled from what the hosts "
                           "showed",
                           during, when);
}

void itsmig_job_recover(ItsmigJob *job, const ItsmigJobFacts *facts, gint64 now_us)
{
    ItsmigAction a = job->pending;
    ItsmigJobDevice *d = job->has_pending ? job_device_at(job, a.device) : NULL;
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
        job_rollback_settle(job, now_us);
        return;
    }
    if ((job->phase == ITSMIG_PHASE_RESUME_DEST || job->phase == ITSMIG_PHASE_RESTORE_DEVICES) &&
        recover_on_destination(job, facts, during, now_us))
        return;
    if (!job_source_intact(facts) && facts->source != ITSMIG_PRESENCE_UNKNOWN &&
        job_dest_holds_copy(facts)) {
        job_add_note(job,
                     "itsmigd restarted after the transfer had completed; the job went on with "
                     "the destination's copy.");
        roll_forward(job, now_us);
        job_settle(job, now_us);
        return;
    }
    message = restart_message(job, during);
    job_set_error(job, itsmig_error_code_to_string(ITSMIG_ERROR_DAEMON_RESTARTED), message);
    job_phase_end(job, job->phase, "failed", now_us);
    job_forward_failed(job, now_us);
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
        int state = job_device_state_from_string(itsmig_json_lookup_string(d, "state"));

        if (!alias || !xml)
            continue;
        itsmig_job_add_device(job, alias, xml);
        /* Unknown: as if detached, so that the advice names it. */
        job_device_at(job, job->devices->len - 1)->state =
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
    if (phase >= 0 && (job_plan_index(job, phase) >= 0 || phase == ITSMIG_PHASE_ROLLBACK))
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
