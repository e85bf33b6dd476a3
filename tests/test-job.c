/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The job state machine against a simulated pair of hosts: every action of
 * every phase, in both modes, with and without devices to detach, fails in
 * every way the step can fail (cleanly, after taking effect, by timeout, by
 * abort, with the transfer still running, with the source crashing, with the
 * destination unreachable, and the daemon killed before or after the
 * effect), alone and combined with a failing rollback step.  After every
 * step the world is checked: never running on two hosts; and at the end:
 * never on none unless the world itself lost the guest, never left paused
 * or without devices where rollback was possible, and each end state is
 * the one the failure calls for.  Each record also survives the journal's
 * round trip at every step.
 */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "itsmig/job.h"

/* ---- the simulated world ----------------------------------------------------- */

typedef struct {
    ItsmigPresence src, dst;
    gboolean migrating;
    ItsmigPresence src_before_transfer; /* what libvirt restores on a cancelled transfer */
    guint dev_src, dev_dst;             /* bit i: device i attached there */
    gboolean dst_unreachable;
    gboolean src_crashed;
} World;

typedef enum {
    F_NONE,
    F_CLEAN,        /* the call fails, nothing changed */
    F_AFTER_EFFECT, /* the call took effect, but reported failure */
    F_TIMEOUT,      /* ran out of time; the executor stopped it */
    F_ABORT,        /* an abort is requested while the action runs */
    F_STILL_ACTIVE, /* MIGRATE: failed to report, the transfer runs on */
    F_SOURCE_CRASH, /* the source guest dies during the action */
    F_DEST_LOST,    /* the destination stops answering */
    F_KILL_BEFORE,  /* the daemon dies before the action took effect */
    F_KILL_AFTER,   /* the daemon dies after it took effect */
    F_KILL_ACTIVE,  /* MIGRATE: the daemon dies while the transfer runs */
    F_KILL_DONE,    /* MIGRATE: the daemon dies and the transfer completes meanwhile */
    F_LAST
} Failure;

static const char *const failure_names[F_LAST] = {
    "none",         "clean",     "after-effect", "timeout",    "abort",       "still-active",
    "source-crash", "dest-lost", "kill-before",  "kill-after", "kill-active", "kill-done",
};

static ItsmigJobFacts observe(const World *w)
{
    ItsmigJobFacts f = {
        .source = w->src,
        .destination = w->dst_unreachable ? ITSMIG_PRESENCE_UNKNOWN : w->dst,
        .transfer_active = w->migrating,
    };

    return f;
}

/* The actions that need the destination's itsmigd: the executor asks it
 * before it starts a transfer, so an unreachable peer fails the transfer
 * before libvirt is called. */
static gboolean is_dest_action(ItsmigActionKind k)
{
    return k == ITSMIG_ACTION_PREFLIGHT || k == ITSMIG_ACTION_MIGRATE ||
           k == ITSMIG_ACTION_VERIFY_DEST || k == ITSMIG_ACTION_RESUME_DEST ||
           k == ITSMIG_ACTION_ATTACH_DEST || k == ITSMIG_ACTION_DESTROY_DEST;
}

/* Does @a for real in @w; FALSE when the world does not allow it (which is
 * a failure the executor reports). */
static gboolean apply(World *w, const ItsmigAction *a, gboolean was_running)
{
    if (w->dst_unreachable && is_dest_action(a->kind))
        return FALSE;
    switch (a->kind) {
    case ITSMIG_ACTION_PREFLIGHT:
        return w->src == ITSMIG_PRESENCE_RUNNING || w->src == ITSMIG_PRESENCE_PAUSED;
    case ITSMIG_ACTION_DETACH:
        if (w->src == ITSMIG_PRESENCE_ABSENT)
            return FALSE;
        w->dev_src &= ~(1u << a->device);
        return TRUE;
    case ITSMIG_ACTION_SUSPEND_SOURCE:
        if (w->src == ITSMIG_PRESENCE_ABSENT)
            return FALSE;
        w->src = ITSMIG_PRESENCE_PAUSED;
        return TRUE;
    case ITSMIG_ACTION_VERIFY_ITS_SAVE: return TRUE;
    case ITSMIG_ACTION_MIGRATE:
        if (w->src == ITSMIG_PRESENCE_ABSENT)
            return FALSE;
        w->src = ITSMIG_PRESENCE_ABSENT;
        w->dst = ITSMIG_PRESENCE_PAUSED; /* VIR_MIGRATE_PAUSED */
        w->migrating = FALSE;
        return TRUE;
    case ITSMIG_ACTION_VERIFY_DEST: return w->dst == ITSMIG_PRESENCE_PAUSED;
    case ITSMIG_ACTION_RESUME_DEST:
        if (w->dst == ITSMIG_PRESENCE_ABSENT)
            return FALSE;
        w->dst = ITSMIG_PRESENCE_RUNNING;
        return TRUE;
    case ITSMIG_ACTION_ATTACH_DEST:
        if (w->dst == ITSMIG_PRESENCE_ABSENT)
            return FALSE;
        w->dev_dst |= 1u << a->device;
        return TRUE;
    case ITSMIG_ACTION_ABORT_TRANSFER:
        if (w->migrating) {
            w->migrating = FALSE;
            w->src = w->src_before_transfer;
            w->dst = ITSMIG_PRESENCE_ABSENT;
        }
        return TRUE;
    case ITSMIG_ACTION_DESTROY_DEST:
        if (w->dst == ITSMIG_PRESENCE_RUNNING)
            return FALSE; /* the executor never destroys a running guest */
        w->dst = ITSMIG_PRESENCE_ABSENT;
        return TRUE;
    case ITSMIG_ACTION_RESUME_SOURCE:
        if (w->src == ITSMIG_PRESENCE_ABSENT)
            return FALSE;
        w->src = ITSMIG_PRESENCE_RUNNING;
        return TRUE;
    case ITSMIG_ACTION_ATTACH_SOURCE:
        if (w->src == ITSMIG_PRESENCE_ABSENT)
            return FALSE;
        w->dev_src |= 1u << a->device;
        return TRUE;
    case ITSMIG_ACTION_CONFIRM_SOURCE:
        return w->src == ITSMIG_PRESENCE_RUNNING ||
               (w->src == ITSMIG_PRESENCE_PAUSED && !was_running);
    default: g_assert_not_reached();
    }
}

/* ---- one scenario ---------------------------------------------------------------- */

typedef struct {
    ItsmigJobMode mode;
    guint n_devices;
    int fail_at; /* index of the forward action in the happy sequence, -1: none */
    Failure failure;
    int rb_fail_at;   /* index of the rollback action that fails cleanly, -1: none */
    gboolean rb_kill; /* ...or at which the daemon dies */
} Scenario;

typedef struct {
    ItsmigPhase end;
    World world;
    char *attention;
    guint steps;
    guint kills;
    gboolean any_abort_refused;
} Result;

static gint64 clock_us = 1700000000000000;

static gint64 tick(void)
{
    clock_us += 1000;
    return clock_us;
}

static ItsmigJob *round_trip(ItsmigJob *job)
{
    g_autoptr(JsonNode) n1 = itsmig_job_to_json(job);
    g_autoptr(GError) error = NULL;
    ItsmigJob *back = itsmig_job_from_json(n1, &error);
    g_autoptr(JsonNode) n2 = NULL;
    g_autofree char *t1 = NULL, *t2 = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(back);
    n2 = itsmig_job_to_json(back);
    t1 = json_to_string(n1, FALSE);
    t2 = json_to_string(n2, FALSE);
    g_assert_cmpstr(t1, ==, t2);
    itsmig_job_free(job);
    return back;
}

static ItsmigJob *new_job(const Scenario *sc)
{
    ItsmigJobOptions opt = {.quiesce = TRUE};

    return itsmig_job_new("m-1", "guest", "6695eb01-f6a4-8304-79aa-97f2502e193f", "host-a", "b",
                          sc->mode, &opt, tick());
}

static void run(const Scenario *sc, Result *res)
{
    ItsmigJob *job = new_job(sc);
    World w = {.src = ITSMIG_PRESENCE_RUNNING, .dst = ITSMIG_PRESENCE_ABSENT};
    int forward_index = 0, rb_index = 0;
    gboolean injected = FALSE, rb_injected = FALSE;
    ItsmigAction a;

    memset(res, 0, sizeof(*res));
    w.dev_src = (1u << sc->n_devices) - 1;
    while (itsmig_job_next(job, &a)) {
        gboolean rollback = job->phase == ITSMIG_PHASE_ROLLBACK;
        Failure f = F_NONE;
        ItsmigOutcome outcome = ITSMIG_OUTCOME_OK;
        gboolean ok;
        ItsmigJobFacts facts;

        g_assert_cmpuint(++res->steps, <, 100);
        if (!rollback && !injected && forward_index++ == sc->fail_at) {
            f = sc->failure;
            injected = TRUE;
        } else if (rollback && !rb_injected && rb_index++ == sc->rb_fail_at) {
            f = sc->rb_kill ? F_KILL_BEFORE : F_CLEAN;
            rb_injected = TRUE;
        }

        itsmig_job_begin(job, &a, tick());
        job = round_trip(job); /* journaled before the step */
        if (a.kind == ITSMIG_ACTION_PREFLIGHT)
            for (guint i = 0; i < sc->n_devices; i++) {
                g_autofree char *alias = g_strdup_printf("hostdev%u", i);

                itsmig_job_add_device(job, alias, "<hostdev/>");
            }
        if (a.kind == ITSMIG_ACTION_MIGRATE)
            w.src_before_transfer = w.src;

        switch (f) {
        case F_NONE:
            ok = apply(&w, &a, job->source_was_running);
            outcome = ok ? ITSMIG_OUTCOME_OK : ITSMIG_OUTCOME_FAILED;
            break;
        case F_CLEAN: outcome = ITSMIG_OUTCOME_FAILED; break;
        case F_AFTER_EFFECT:
            apply(&w, &a, job->source_was_running);
            outcome = ITSMIG_OUTCOME_FAILED;
            break;
        case F_TIMEOUT:
            /* A transfer out of time is cancelled by the executor itself. */
            outcome = ITSMIG_OUTCOME_TIMEOUT;
            break;
        case F_ABORT:
            if (!itsmig_job_request_abort(job, tick()))
                res->any_abort_refused = TRUE;
            if (a.kind == ITSMIG_ACTION_MIGRATE && job->abort_requested) {
                outcome = ITSMIG_OUTCOME_ABORTED; /* cancelled, nothing moved */
            } else {
                ok = apply(&w, &a, job->source_was_running);
                outcome = ok ? ITSMIG_OUTCOME_OK : ITSMIG_OUTCOME_FAILED;
            }
            break;
        case F_STILL_ACTIVE:
            if (a.kind == ITSMIG_ACTION_MIGRATE) {
                w.migrating = TRUE;
                w.dst = ITSMIG_PRESENCE_PAUSED; /* the incoming copy */
            }
            outcome = ITSMIG_OUTCOME_FAILED;
            break;
        case F_SOURCE_CRASH:
            w.src = ITSMIG_PRESENCE_ABSENT;
            w.src_crashed = TRUE;
            w.dev_src = 0;
            if (a.kind == ITSMIG_ACTION_MIGRATE)
                w.dst = ITSMIG_PRESENCE_ABSENT;
            outcome = ITSMIG_OUTCOME_FAILED;
            break;
        case F_DEST_LOST:
            w.dst_unreachable = TRUE;
            ok = apply(&w, &a, job->source_was_running);
            outcome = ok ? ITSMIG_OUTCOME_OK : ITSMIG_OUTCOME_FAILED;
            break;
        case F_KILL_BEFORE:
        case F_KILL_AFTER:
        case F_KILL_ACTIVE:
        case F_KILL_DONE:
            if (f == F_KILL_AFTER || (f == F_KILL_DONE && a.kind == ITSMIG_ACTION_MIGRATE))
                apply(&w, &a, job->source_was_running);
            if (f == F_KILL_ACTIVE && a.kind == ITSMIG_ACTION_MIGRATE) {
                w.migrating = TRUE;
                w.dst = ITSMIG_PRESENCE_PAUSED;
            }
            /* The daemon restarts from the journal and reconciles. */
            job = round_trip(job);
            facts = observe(&w);
            itsmig_job_recover(job, &facts, tick());
            g_assert_true(job->recovered);
            g_assert_false(job->has_pending);
            /* The record says what happened and what is done about it. */
            g_assert_true(itsmig_phase_is_terminal(job->phase) || job->error_message ||
                          job->notes->len > 0);
            job = round_trip(job);
            res->kills++;
            g_assert_false(w.src == ITSMIG_PRESENCE_RUNNING && w.dst == ITSMIG_PRESENCE_RUNNING);
            continue;
        default: g_assert_not_reached();
        }
        facts = observe(&w);
        itsmig_job_end(job, outcome, outcome == ITSMIG_OUTCOME_OK ? NULL : "test-failure",
                       outcome == ITSMIG_OUTCOME_OK ? NULL : "injected", &facts, tick());
        job = round_trip(job); /* journaled after the step */
        /* Never running on two hosts, at any step. */
        g_assert_false(w.src == ITSMIG_PRESENCE_RUNNING && w.dst == ITSMIG_PRESENCE_RUNNING);
    }
    g_assert_true(itsmig_phase_is_terminal(job->phase));
    g_assert_false(job->has_pending);
    g_assert_cmpint(job->finished_us, >, 0);
    res->end = job->phase;
    res->world = w;
    res->attention = g_strdup(job->attention);
    itsmig_job_free(job);
}

/* ---- expectations -------------------------------------------------------------------- */

/* The forward actions of a run that goes well, in order. */
static guint happy_sequence(ItsmigJobMode mode, guint n_devices, ItsmigActionKind *out)
{
    guint n = 0;

    out[n++] = ITSMIG_ACTION_PREFLIGHT;
    for (guint i = 0; i < n_devices; i++)
        out[n++] = ITSMIG_ACTION_DETACH;
    if (mode == ITSMIG_MODE_SAFE) {
        out[n++] = ITSMIG_ACTION_SUSPEND_SOURCE;
        out[n++] = ITSMIG_ACTION_VERIFY_ITS_SAVE;
        out[n++] = ITSMIG_ACTION_MIGRATE;
    } else {
        out[n++] = ITSMIG_ACTION_MIGRATE;
        out[n++] = ITSMIG_ACTION_VERIFY_ITS_SAVE;
    }
    out[n++] = ITSMIG_ACTION_VERIFY_DEST;
    out[n++] = ITSMIG_ACTION_RESUME_DEST;
    for (guint i = 0; i < n_devices; i++)
        out[n++] = ITSMIG_ACTION_ATTACH_DEST;
    return n;
}

static void assert_rolled_back(const Result *r, guint n_devices)
{
    g_assert_cmpint(r->end, ==, ITSMIG_PHASE_ROLLED_BACK);
    g_assert_cmpint(r->world.src, ==, ITSMIG_PRESENCE_RUNNING);
    g_assert_cmpint(r->world.dst, ==, ITSMIG_PRESENCE_ABSENT);
    g_assert_false(r->world.migrating);
    g_assert_cmpuint(r->world.dev_src, ==, (1u << n_devices) - 1);
    g_assert_null(r->attention);
}

static void assert_done(const Result *r, guint n_devices)
{
    g_assert_cmpint(r->end, ==, ITSMIG_PHASE_DONE);
    g_assert_cmpint(r->world.src, ==, ITSMIG_PRESENCE_ABSENT);
    g_assert_cmpint(r->world.dst, ==, ITSMIG_PRESENCE_RUNNING);
    g_assert_cmpuint(r->world.dev_dst, ==, (1u << n_devices) - 1);
    g_assert_null(r->attention);
}

static void assert_attention(const Result *r)
{
    g_assert_cmpint(r->end, ==, ITSMIG_PHASE_FAILED);
    g_assert_nonnull(r->attention);
    g_assert_cmpuint(strlen(r->attention), >, 20);
}

static gboolean applies(Failure f, ItsmigActionKind k)
{
    switch (f) {
    case F_STILL_ACTIVE:
    case F_KILL_ACTIVE:
    case F_KILL_DONE: return k == ITSMIG_ACTION_MIGRATE;
    default: return TRUE;
    }
}

static void check_table(gconstpointer data)
{
    ItsmigJobMode mode = GPOINTER_TO_INT(data);
    guint scenarios = 0;

    for (guint nd = 0; nd <= 2; nd += 2) {
        ItsmigActionKind seq[16];
        guint n = happy_sequence(mode, nd, seq);
        int migrate_at = -1;

        for (guint i = 0; i < n; i++)
            if (seq[i] == ITSMIG_ACTION_MIGRATE)
                migrate_at = (int)i;

        /* No failure at all. */
        {
            Scenario sc = {mode, nd, -1, F_NONE, -1, FALSE};
            Result r;

            run(&sc, &r);
            assert_done(&r, nd);
            g_free(r.attention);
        }

        for (guint k = 0; k < n; k++) {
            ItsmigActionKind kind = seq[k];
            /* Whether the source copy is gone by the time action k runs. */
            gboolean after_transfer = (int)k > migrate_at;

            for (Failure f = F_CLEAN; f < F_LAST; f++) {
                Scenario sc = {mode, nd, (int)k, f, -1, FALSE};
                Result r;

                if (!applies(f, kind))
                    continue;
                scenarios++;
                run(&sc, &r);
                if (g_test_verbose())
                    g_test_message("%s, %u devices, %s fails (%s): %s",
                                   itsmig_job_mode_to_string(mode), nd,
                                   itsmig_action_to_string(kind), failure_names[f],
                                   itsmig_phase_to_string(r.end));

                /* The acceptance line: a kill anywhere ends done or rolled
                 * back, with the guest running exactly once. */
                if (f >= F_KILL_BEFORE) {
                    if (r.end == ITSMIG_PHASE_DONE)
                        assert_done(&r, nd);
                    else
                        assert_rolled_back(&r, nd);
                    /* A kill before the transfer completed rolls back. */
                    if (!after_transfer &&
                        !(kind == ITSMIG_ACTION_MIGRATE && (f == F_KILL_AFTER || f == F_KILL_DONE)))
                        g_assert_cmpint(r.end, ==, ITSMIG_PHASE_ROLLED_BACK);
                    else
                        g_assert_cmpint(r.end, ==, ITSMIG_PHASE_DONE);
                } else if (f == F_SOURCE_CRASH) {
                    if (after_transfer) {
                        /* There was no source copy left to crash. */
                        g_assert_cmpint(r.world.src, ==, ITSMIG_PRESENCE_ABSENT);
                    } else {
                        /* The world lost the guest; a person must know. */
                        assert_attention(&r);
                        g_assert_cmpint(r.world.dst, ==, ITSMIG_PRESENCE_ABSENT);
                        g_assert_nonnull(strstr(r.attention, "virsh start"));
                    }
                } else if (f == F_DEST_LOST) {
                    if (kind == ITSMIG_ACTION_PREFLIGHT) {
                        /* Nothing was touched yet. */
                        assert_rolled_back(&r, nd);
                    } else if (!after_transfer) {
                        /* The transfer cannot start: the source is restored,
                         * and not knowing what the destination holds is
                         * reported. */
                        assert_attention(&r);
                        g_assert_cmpint(r.world.src, ==, ITSMIG_PRESENCE_RUNNING);
                        g_assert_cmpuint(r.world.dev_src, ==, (1u << nd) - 1);
                        g_assert_nonnull(strstr(r.attention, "could not be asked"));
                    } else {
                        assert_attention(&r);
                        g_assert_cmpint(r.world.src, ==, ITSMIG_PRESENCE_ABSENT);
                    }
                } else if (f == F_ABORT) {
                    if (after_transfer) {
                        /* Too late to abort: the job goes on. */
                        g_assert_true(r.any_abort_refused);
                        assert_done(&r, nd);
                    } else {
                        g_assert_false(r.any_abort_refused);
                        assert_rolled_back(&r, nd);
                    }
                } else if (kind == ITSMIG_ACTION_MIGRATE && f == F_AFTER_EFFECT) {
                    /* It moved after all: forward, verified. */
                    assert_done(&r, nd);
                } else if (!after_transfer) {
                    /* Clean failure, timeout, after-effect, transfer still
                     * running: the source is restored as it was. */
                    assert_rolled_back(&r, nd);
                } else if (kind == ITSMIG_ACTION_ATTACH_DEST) {
                    assert_attention(&r);
                    g_assert_cmpint(r.world.dst, ==, ITSMIG_PRESENCE_RUNNING);
                    if (f != F_AFTER_EFFECT)
                        g_assert_nonnull(strstr(r.attention, "hostdev"));
                } else if (kind == ITSMIG_ACTION_RESUME_DEST && f == F_AFTER_EFFECT) {
                    /* It runs; the failure to say so does not matter. */
                    assert_done(&r, nd);
                } else {
                    /* Verification or resume on the destination failed with
                     * the source copy gone: a person decides, the copy
                     * stays paused. */
                    assert_attention(&r);
                    g_assert_cmpint(r.world.src, ==, ITSMIG_PRESENCE_ABSENT);
                    g_assert_cmpint(r.world.dst, ==, ITSMIG_PRESENCE_PAUSED);
                }
                g_free(r.attention);
            }
        }
    }
    g_assert_cmpuint(scenarios, >, 100);
}

/* A forward failure, then each rollback step failing (or the daemon dying
 * in it) in turn. */
static void check_rollback_failures(gconstpointer data)
{
    ItsmigJobMode mode = GPOINTER_TO_INT(data);
    ItsmigActionKind seq[16];
    guint n = happy_sequence(mode, 2, seq);

    for (guint k = 0; k < n; k++) {
        if (seq[k] != ITSMIG_ACTION_MIGRATE && seq[k] != ITSMIG_ACTION_DETACH &&
            seq[k] != ITSMIG_ACTION_VERIFY_ITS_SAVE)
            continue;
        if (mode == ITSMIG_MODE_LIVE && seq[k] == ITSMIG_ACTION_VERIFY_ITS_SAVE)
            continue; /* after the transfer: no rollback */
        for (int j = 0; j < 8; j++) {
            for (int kill = 0; kill <= 1; kill++) {
                Failure f = seq[k] == ITSMIG_ACTION_MIGRATE ? F_STILL_ACTIVE : F_CLEAN;
                Scenario sc = {mode, 2, (int)k, f, j, kill};
                Result r;

                run(&sc, &r);
                g_assert_false(r.world.src == ITSMIG_PRESENCE_RUNNING &&
                               r.world.dst == ITSMIG_PRESENCE_RUNNING);
                if (kill) {
                    /* A restart in the middle of a rollback finishes it. */
                    assert_rolled_back(&r, 2);
                } else if (r.end == ITSMIG_PHASE_FAILED) {
                    /* What failed is named, and the guest still runs
                     * unless resuming it is what failed. */
                    assert_attention(&r);
                    g_assert_cmpint(r.world.dst, !=, ITSMIG_PRESENCE_RUNNING);
                    if (!strstr(r.attention, "virsh resume"))
                        g_assert_cmpint(r.world.src, ==, ITSMIG_PRESENCE_RUNNING);
                } else {
                    /* j was past the last rollback step. */
                    assert_rolled_back(&r, 2);
                }
                g_free(r.attention);
            }
        }
    }
}

/* ---- single behaviours ---------------------------------------------------------------- */

static void test_names(void)
{
    for (int p = 0; p < ITSMIG_PHASE_LAST; p++)
        g_assert_cmpint(itsmig_phase_from_string(itsmig_phase_to_string(p)), ==, p);
    for (int a = 0; a < ITSMIG_ACTION_LAST; a++)
        g_assert_cmpint(itsmig_action_from_string(itsmig_action_to_string(a)), ==, a);
    g_assert_cmpint(itsmig_phase_from_string("nope"), ==, -1);
    g_assert_cmpint(itsmig_phase_from_string(NULL), ==, -1);
    g_assert_cmpstr(itsmig_phase_to_string(ITSMIG_PHASE_FAILED), ==, "failed-needs-attention");
    g_assert_cmpint(itsmig_job_mode_from_string("live"), ==, ITSMIG_MODE_LIVE);
    g_assert_cmpint(itsmig_job_mode_from_string("fast"), ==, -1);
    g_assert_true(itsmig_phase_is_terminal(ITSMIG_PHASE_DONE));
    g_assert_false(itsmig_phase_is_terminal(ITSMIG_PHASE_ROLLBACK));
}

static void end_ok(ItsmigJob *job, ItsmigPresence src, ItsmigPresence dst)
{
    ItsmigJobFacts f = {src, dst, FALSE};

    itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &f, tick());
}

static void end_ok_at(ItsmigJob *job, ItsmigPresence src, ItsmigPresence dst, gint64 now_us)
{
    ItsmigJobFacts f = {src, dst, FALSE};

    itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &f, now_us);
}

static void test_safe_order(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigAction a;
    static const ItsmigActionKind want[] = {
        ITSMIG_ACTION_PREFLIGHT, ITSMIG_ACTION_SUSPEND_SOURCE, ITSMIG_ACTION_VERIFY_ITS_SAVE,
        ITSMIG_ACTION_MIGRATE,   ITSMIG_ACTION_VERIFY_DEST,    ITSMIG_ACTION_RESUME_DEST,
    };

    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        g_assert_true(itsmig_job_next(job, &a));
        g_assert_cmpint(a.kind, ==, want[i]);
        itsmig_job_begin(job, &a, tick());
        g_assert_true(job->has_pending);
        end_ok(job,
               a.kind >= ITSMIG_ACTION_MIGRATE ? ITSMIG_PRESENCE_ABSENT : ITSMIG_PRESENCE_RUNNING,
               a.kind >= ITSMIG_ACTION_MIGRATE ? ITSMIG_PRESENCE_PAUSED : ITSMIG_PRESENCE_ABSENT);
    }
    g_assert_false(itsmig_job_next(job, &a));
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_DONE);
    /* Every phase ran and ended well, quiesce with nothing to detach. */
    for (int p = ITSMIG_PHASE_PREFLIGHT; p <= ITSMIG_PHASE_RESTORE_DEVICES; p++) {
        g_assert_cmpint(job->timings[p].started_us, >, 0);
        g_assert_cmpint(job->timings[p].ended_us, >=, job->timings[p].started_us);
        g_assert_cmpstr(job->timings[p].outcome, ==, "ok");
    }
    g_assert_cmpint(job->timings[ITSMIG_PHASE_ROLLBACK].started_us, ==, 0);
}

/* The wall clock stepped back (NTP) while a phase ran: the record shows the
 * end as the clock said it, and stays one the journal reads back after a
 * restart (found by tests/fuzz/fuzz-job-journal.c). */
static void test_clock_steps_back(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    ItsmigJob *job = new_job(&sc);
    ItsmigJobFacts f = {ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT, FALSE};
    ItsmigAction a;
    gint64 start;

    g_assert_true(itsmig_job_next(job, &a));
    start = tick();
    itsmig_job_begin(job, &a, start);
    itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &f, start - 10 * G_USEC_PER_SEC);
    g_assert_cmpint(job->timings[ITSMIG_PHASE_PREFLIGHT].ended_us, ==, start - 10 * G_USEC_PER_SEC);
    job = round_trip(job);
    g_assert_cmpint(job->timings[ITSMIG_PHASE_PREFLIGHT].ended_us, ==, start - 10 * G_USEC_PER_SEC);
    itsmig_job_free(job);
}

static void test_live_skips_pause(void)
{
    Scenario sc = {ITSMIG_MODE_LIVE, 0, -1, F_NONE, -1, FALSE};
    Result r;
    g_autoptr(ItsmigJob) job = new_job(&sc);
    g_autoptr(JsonNode) node = NULL;
    JsonArray *phases;
    gboolean saw_pause = FALSE;

    run(&sc, &r);
    assert_done(&r, 0);
    g_free(r.attention);
    node = itsmig_job_to_json(job);
    phases = json_object_get_array_member(json_node_get_object(node), "phases");
    for (guint i = 0; i < json_array_get_length(phases); i++) {
        JsonObject *p = json_array_get_object_element(phases, i);

        if (g_str_equal(json_object_get_string_member(p, "phase"), "pause-vcpus")) {
            saw_pause = TRUE;
            g_assert_cmpstr(json_object_get_string_member(p, "outcome"), ==, "skipped");
        }
    }
    g_assert_true(saw_pause);
}

static void test_blocked(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigAction a;
    ItsmigJobFacts f = {ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT, FALSE};

    g_assert_true(itsmig_job_next(job, &a));
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_BLOCKED, "blocked", "its-abi-unsupported: ...", &f, tick());
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_ROLLBACK);
    g_assert_cmpstr(job->error_code, ==, "blocked");
    g_assert_cmpint(job->failed_phase, ==, ITSMIG_PHASE_PREFLIGHT);
    g_assert_cmpstr(job->timings[ITSMIG_PHASE_PREFLIGHT].outcome, ==, "blocked");
    /* Nothing was touched: only a confirmation that the guest still runs. */
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_CONFIRM_SOURCE);
    itsmig_job_begin(job, &a, tick());
    end_ok(job, ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT);
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_ROLLED_BACK);
}

static void test_paused_guest_stays_paused(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigAction a;
    ItsmigJobFacts f = {ITSMIG_PRESENCE_PAUSED, ITSMIG_PRESENCE_ABSENT, FALSE};

    /* Paused by its owner before the job: a rollback must not resume it. */
    g_assert_true(itsmig_job_next(job, &a));
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &f, tick());
    g_assert_false(job->source_was_running);
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_SUSPEND_SOURCE);
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "libvirt-error", "boom", &f, tick());
    while (itsmig_job_next(job, &a)) {
        g_assert_cmpint(a.kind, !=, ITSMIG_ACTION_RESUME_SOURCE);
        itsmig_job_begin(job, &a, tick());
        itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &f, tick());
    }
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_ROLLED_BACK);
}

static void test_dest_resumed_elsewhere(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigAction a;
    ItsmigJobFacts f = {ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT, FALSE};

    for (int i = 0; i < 3; i++) {
        g_assert_true(itsmig_job_next(job, &a));
        itsmig_job_begin(job, &a, tick());
        f.source = i == 0 ? ITSMIG_PRESENCE_RUNNING : ITSMIG_PRESENCE_PAUSED;
        itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &f, tick());
    }
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_MIGRATE);
    itsmig_job_begin(job, &a, tick());
    /* Someone resumed the incoming copy while the source is intact. */
    f.destination = ITSMIG_PRESENCE_RUNNING;
    itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "libvirt-error", "x", &f, tick());
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_nonnull(strstr(job->attention, "never destroys a running guest"));
    /* The source is not resumed: that would make two. */
    g_assert_false(job->rb_resumed);
}

static void test_abort_rules(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigAction a;

    /* Before anything ran: straight to rollback. */
    g_assert_true(itsmig_job_can_abort(job));
    g_assert_true(itsmig_job_request_abort(job, tick()));
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_ROLLBACK);
    g_assert_cmpstr(job->error_code, ==, "aborted");
    g_assert_false(itsmig_job_request_abort(job, tick()));
    g_assert_true(itsmig_job_next(job, &a));
    /* Never resumes what it never paused. */
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_CONFIRM_SOURCE);
    itsmig_job_begin(job, &a, tick());
    end_ok(job, ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT);
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_ROLLED_BACK);
    g_assert_false(itsmig_job_can_abort(job));
}

/* Runs the forward actions from the start until @stop is under way. */
static void run_until(ItsmigJob *job, ItsmigActionKind stop)
{
    ItsmigAction a;

    for (;;) {
        gboolean moved;

        g_assert_true(itsmig_job_next(job, &a));
        itsmig_job_begin(job, &a, tick());
        if (a.kind == stop)
            return;
        moved = a.kind >= ITSMIG_ACTION_MIGRATE;
        end_ok(job, moved ? ITSMIG_PRESENCE_ABSENT : ITSMIG_PRESENCE_RUNNING,
               !moved                          ? ITSMIG_PRESENCE_ABSENT
               : job->mode == ITSMIG_MODE_LIVE ? ITSMIG_PRESENCE_RUNNING
                                               : ITSMIG_PRESENCE_PAUSED);
    }
}

/* A forward step the journal could not record runs only once the transfer has completed
 * (stopping then would leave the guest paused on the destination for a person), saying so
 * once; before, the job fails into a rollback, whose steps always run. */
static void check_unjournaled(gconstpointer data)
{
    ItsmigJobMode mode = GPOINTER_TO_INT(data);
    ItsmigActionKind order[8];
    guint n = happy_sequence(mode, 0, order);
    gboolean past_transfer = FALSE;

    for (guint i = 0; i < n; i++) {
        Scenario sc = {mode, 0, -1, F_NONE, -1, FALSE};
        g_autoptr(ItsmigJob) job = new_job(&sc);
        ItsmigAction rb = {ITSMIG_ACTION_RESUME_SOURCE, -1};
        guint notes;

        run_until(job, order[i]);
        itsmig_job_journal_failed(job, "No space left on device");
        notes = job->notes->len;
        g_assert_cmpint(itsmig_job_may_run_unjournaled(job, &job->pending), ==, past_transfer);
        if (past_transfer) {
            g_assert_cmpuint(job->notes->len, ==, notes + 1);
            g_assert_nonnull(strstr(g_ptr_array_index(job->notes, notes), "No space left"));
            g_assert_nonnull(
                strstr(g_ptr_array_index(job->notes, notes), itsmig_action_to_string(order[i])));
            /* Once per job. */
            g_assert_true(itsmig_job_may_run_unjournaled(job, &job->pending));
            g_assert_cmpuint(job->notes->len, ==, notes + 1);
        } else {
            g_assert_cmpuint(job->notes->len, ==, notes);
        }
        g_assert_true(itsmig_job_may_run_unjournaled(job, &rb));
        if (order[i] == ITSMIG_ACTION_MIGRATE)
            past_transfer = TRUE;
    }
    g_assert_true(past_transfer);
}

/* itsmigd restarted after a live transfer completed: the checks of the ITS
 * save and of the destination still run before the job may end DONE. */
static void test_recover_live_checks(void)
{
    Scenario sc = {ITSMIG_MODE_LIVE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigJobFacts moved = {ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_RUNNING, FALSE};
    ItsmigAction a;

    run_until(job, ITSMIG_ACTION_MIGRATE);
    itsmig_job_recover(job, &moved, tick());
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_VERIFY_ITS_SAVE);
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &moved, tick());
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_VERIFY_DEST);
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &moved, tick());
    while (itsmig_job_next(job, &a)) {
        itsmig_job_begin(job, &a, tick());
        itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &moved, tick());
    }
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_DONE);
    g_assert_cmpstr(job->timings[ITSMIG_PHASE_VERIFY_ITS_SAVE].outcome, ==, "ok");
    g_assert_cmpstr(job->timings[ITSMIG_PHASE_VERIFY_DEST].outcome, ==, "ok");
}

/* ... and when the save cannot be checked any more, the job names that
 * check instead of ending DONE. */
static void test_recover_live_unverifiable(void)
{
    Scenario sc = {ITSMIG_MODE_LIVE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigJobFacts moved = {ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_RUNNING, FALSE};
    ItsmigAction a;

    run_until(job, ITSMIG_ACTION_VERIFY_ITS_SAVE);
    itsmig_job_recover(job, &moved, tick());
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_VERIFY_ITS_SAVE);
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "its-save-unverified",
                   "cannot verify the ITS save: the log was rotated", &moved, tick());
    g_assert_false(itsmig_job_next(job, &a));
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_cmpint(job->failed_phase, ==, ITSMIG_PHASE_VERIFY_ITS_SAVE);
    g_assert_nonnull(strstr(job->attention, "ITS save on the source could not be checked"));
    g_assert_nonnull(strstr(job->attention, "the log was rotated"));
    g_assert_nonnull(strstr(job->attention, "it runs"));
}

/* The destination's itsmigd could not be asked while the copy was verified:
 * the job needs attention, with advice that fits live mode, and goes on
 * once the destination answers again. */
static void test_reexamine(gconstpointer data)
{
    ItsmigJobMode mode = GPOINTER_TO_INT(data);
    Scenario sc = {mode, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigPresence copy =
        mode == ITSMIG_MODE_LIVE ? ITSMIG_PRESENCE_RUNNING : ITSMIG_PRESENCE_PAUSED;
    ItsmigJobFacts unknown = {ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_UNKNOWN, FALSE};
    ItsmigJobFacts there = {ITSMIG_PRESENCE_ABSENT, copy, FALSE};
    ItsmigAction a;

    run_until(job, ITSMIG_ACTION_VERIFY_DEST);
    g_assert_false(itsmig_job_reexamine(job, &there, tick()));
    itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "peer-unreachable",
                   "peer b: connection refused (for 300 s)", &unknown, tick());
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_null(strstr(job->attention, "may be paused"));
    if (mode == ITSMIG_MODE_LIVE)
        g_assert_nonnull(strstr(job->attention, "most likely runs there"));
    /* Still unreachable, or the copy gone: nothing to go on with. */
    g_assert_false(itsmig_job_reexamine(job, &unknown, tick()));
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_true(itsmig_job_reexamine(job, &there, tick()));
    g_assert_null(job->attention);
    g_assert_null(job->error_code);
    g_assert_nonnull(strstr(g_ptr_array_index(job->notes, 0), "connection refused"));
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_VERIFY_DEST);
    job = round_trip(g_steal_pointer(&job));
    while (itsmig_job_next(job, &a)) {
        itsmig_job_begin(job, &a, tick());
        itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &there, tick());
        there.destination = ITSMIG_PRESENCE_RUNNING;
    }
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_DONE);
    g_assert_false(itsmig_job_reexamine(job, &there, tick()));
}

/* A safe-mode job whose transfer failed with the source paused and the destination not
 * answering: it rolls back without knowing what the destination holds (rb_dest_unasked). */
static ItsmigJob *rollback_dest_unasked(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    ItsmigJob *job = new_job(&sc);
    ItsmigJobFacts paused = {ITSMIG_PRESENCE_PAUSED, ITSMIG_PRESENCE_UNKNOWN, FALSE};

    run_until(job, ITSMIG_ACTION_MIGRATE);
    itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "libvirt-error", "the transfer failed", &paused,
                   tick());
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_ROLLBACK);
    g_assert_true(job->rb_dest_unasked);
    return job;
}

/* The rollback could not ask the destination whether a copy was left (its itsmigd down):
 * the job needs attention, and is looked at again once the destination answers: rolled
 * back when it holds nothing, else told what it holds. */
static void test_reexamine_rollback(gconstpointer data)
{
    ItsmigPresence there = GPOINTER_TO_INT(data);
    g_autoptr(ItsmigJob) job = rollback_dest_unasked();
    ItsmigJobFacts back = {ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_UNKNOWN, FALSE};
    ItsmigJobFacts answered = {ITSMIG_PRESENCE_RUNNING, there, FALSE};
    ItsmigAction a;

    while (itsmig_job_next(job, &a)) {
        g_assert_cmpint(a.kind, !=, ITSMIG_ACTION_DESTROY_DEST);
        itsmig_job_begin(job, &a, tick());
        itsmig_job_end(job, ITSMIG_OUTCOME_OK, NULL, NULL, &back, tick());
    }
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_nonnull(strstr(job->attention, "could not be asked whether a paused copy"));
    job = round_trip(g_steal_pointer(&job));
    g_assert_true(job->rb_dest_unasked);
    /* Still not answering: nothing changes. */
    g_assert_false(itsmig_job_reexamine_rollback(job, &back, tick()));
    g_assert_false(itsmig_job_reexamine(job, &answered, tick()));
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_true(itsmig_job_reexamine_rollback(job, &answered, tick()));
    g_assert_false(job->rb_dest_unasked);
    job = round_trip(g_steal_pointer(&job));
    if (there == ITSMIG_PRESENCE_ABSENT) {
        g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_ROLLED_BACK);
        g_assert_null(job->attention);
        g_assert_cmpstr(job->timings[ITSMIG_PHASE_ROLLBACK].outcome, ==, "ok");
        g_assert_cmpstr(job->error_code, ==, "libvirt-error");
    } else {
        g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
        g_assert_null(strstr(job->attention, "could not be asked whether"));
        g_assert_nonnull(strstr(job->attention, there == ITSMIG_PRESENCE_PAUSED
                                                    ? "a paused copy remains on b"
                                                    : "a copy runs on b"));
    }
    g_assert_false(itsmig_job_next(job, &a));
    /* Once looked at again, never again. */
    g_assert_false(itsmig_job_reexamine_rollback(job, &answered, tick()));
}

/* A rollback that could not ask the destination, then found the source copy gone (the
 * transfer had completed): the job goes forward with the destination's copy, and the
 * rollback's question goes with the rollback.  When the check of that copy fails, the job
 * ends needing attention (it went back to the check for ever), and is not one waiting for the
 * destination to answer about a rollback (never looked at again, and waited on for ever). */
static void test_reexamine_rollback_abandoned(void)
{
    g_autoptr(ItsmigJob) job = rollback_dest_unasked();
    ItsmigJobFacts moved = {ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_PAUSED, FALSE};
    ItsmigJobFacts answered = {ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_PAUSED, FALSE};
    ItsmigAction a;

    g_assert_true(itsmig_job_next(job, &a));
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "libvirt-error", "no such domain", &moved, tick());
    g_assert_cmpstr(job->timings[ITSMIG_PHASE_ROLLBACK].outcome, ==, "abandoned");
    g_assert_false(job->rb_dest_unasked);
    g_assert_true(itsmig_job_next(job, &a));
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_VERIFY_DEST);
    itsmig_job_begin(job, &a, tick());
    itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "its-restore-failed", "the restore failed", &moved,
                   tick());
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_nonnull(job->attention);
    g_assert_null(strstr(job->attention, "could not be asked whether"));
    /* The check of the copy explains the end; the transfer's failure is a note. */
    g_assert_cmpstr(job->error_code, ==, "its-restore-failed");
    g_assert_cmpint(job->failed_phase, ==, ITSMIG_PHASE_VERIFY_DEST);
    g_assert_nonnull(strstr(job->attention, "verifying the copy on b failed (the restore failed)"));
    g_assert_nonnull(strstr(job->attention, "(the failure, in transfer: the transfer failed)"));
    g_assert_false(itsmig_job_next(job, &a));
    g_assert_false(itsmig_job_rollback_awaits_dest(job));
    g_assert_false(itsmig_job_reexamine_rollback(job, &answered, tick()));
    job = round_trip(g_steal_pointer(&job));
    g_assert_false(itsmig_job_rollback_awaits_dest(job));
}

static void test_from_json_refuses(void)
{
    static const struct {
        const char *member;
        const char *value;  /* JSON; NULL removes the member */
        const char *expect; /* in the message */
    } cases[] = {
        {"phase", "\"warp\"", "\"phase\" has an unknown value"},
        /* Live mode has no PAUSE_VCPUS. */
        {"phase", "\"pause-vcpus\"", "not a phase of this mode"},
        {"finished", "true", "\"finished\" is true in phase"},
        {"mode", "\"fast\"", "\"mode\""},
        {"created_at", "\"yesterday\"", "ISO 8601"},
        /* 0 stands for no time (found by tests/fuzz/fuzz-job-journal.c). */
        {"created_at", "\"1970-01-01T00:00:00Z\"", "no time"},
        {"pending", "{\"action\":\"migrate\",\"device\":7}", "names no device"},
        {"pending", "{\"action\":\"none\",\"device\":null}", "must name an action"},
        {"devices", "[{\"alias\":\"a\",\"xml\":\"x\",\"state\":\"gone\"}]", "\"state\""},
        {"facts", "{\"source\":\"here\",\"destination\":\"absent\",\"transfer_active\":false}",
         "\"source\" has an unknown value"},
        {"progress", "[]", "\"progress\" is missing or not an object"},
        {"notes", "[1]", "must hold strings"},
        {"rollback", "{\"aborted\":true}", "\"destroyed\" is missing"},
        {"options", "{}", "\"phase_timeout\" is missing"},
        {"id", "5", "\"id\" is missing or not a string"},
        {"id", NULL, "\"id\" is missing"},
        {"surprise", "1", "\"surprise\" is not a member"},
    };
    Scenario sc = {ITSMIG_MODE_LIVE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    g_autoptr(JsonNode) node = itsmig_job_to_json(job);
    g_autofree char *good = json_to_string(node, FALSE);

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(JsonNode) n = json_from_string(good, NULL);
        JsonObject *o = json_node_get_object(n);
        g_autoptr(GError) error = NULL;
        g_autoptr(ItsmigJob) back = NULL;

        if (cases[i].value)
            json_object_set_member(o, cases[i].member, json_from_string(cases[i].value, NULL));
        else
            json_object_remove_member(o, cases[i].member);
        back = itsmig_job_from_json(n, &error);
        g_assert_null(back);
        g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON);
        if (!strstr(error->message, cases[i].expect))
            g_error("case %u: \"%s\" does not name %s", i, error->message, cases[i].expect);
    }
    /* And a failed job without its instructions. */
    {
        g_autoptr(JsonNode) n = json_from_string(good, NULL);
        JsonObject *o = json_node_get_object(n);
        g_autoptr(GError) error = NULL;

        json_object_set_string_member(o, "phase", "failed-needs-attention");
        json_object_set_boolean_member(o, "finished", TRUE);
        g_assert_null(itsmig_job_from_json(n, &error));
        g_assert_nonnull(strstr(error->message, "attention"));
    }
    g_assert_null(itsmig_job_from_json(NULL, NULL));
}

/* Runs the job with every action succeeding: the source as @src until the transfer, the
 * destination as @dst after it.  The actions go to @seen (a bit per kind). */
static guint run_through(ItsmigJob *job, ItsmigPresence src, ItsmigPresence dst)
{
    ItsmigAction a;
    guint seen = 0;

    while (itsmig_job_next(job, &a)) {
        gboolean moved;

        seen |= 1u << a.kind;
        itsmig_job_begin(job, &a, tick());
        moved = job->timings[ITSMIG_PHASE_TRANSFER].started_us != 0;
        end_ok(job, moved ? ITSMIG_PRESENCE_ABSENT : src, moved ? dst : ITSMIG_PRESENCE_ABSENT);
    }
    return seen;
}

static void check_paused_arrives_paused(gconstpointer data)
{
    ItsmigJobMode mode = GPOINTER_TO_INT(data);
    Scenario sc = {mode, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    g_autoptr(ItsmigJob) resumed = new_job(&sc);
    guint seen;

    /* Paused by its owner: it arrives paused, as plain virsh migrate leaves it. */
    seen = run_through(job, ITSMIG_PRESENCE_PAUSED, ITSMIG_PRESENCE_PAUSED);
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_DONE);
    g_assert_false(job->source_was_running);
    g_assert_false(seen & (1u << ITSMIG_ACTION_RESUME_DEST));
    g_assert_cmpstr(job->timings[ITSMIG_PHASE_RESUME_DEST].outcome, ==, "skipped");
    g_assert_cmpuint(job->notes->len, ==, 1);
    g_assert_nonnull(strstr(g_ptr_array_index(job->notes, 0), "left paused"));
    /* The job did not pause it, so it has no paused time of its own. */
    g_assert_cmpint(job->progress.paused_ms, <, 0);
    job = round_trip(g_steal_pointer(&job));

    /* Unless asked to resume it. */
    resumed->options.resume = TRUE;
    seen = run_through(resumed, ITSMIG_PRESENCE_PAUSED, ITSMIG_PRESENCE_PAUSED);
    g_assert_cmpint(resumed->phase, ==, ITSMIG_PHASE_DONE);
    g_assert_true(seen & (1u << ITSMIG_ACTION_RESUME_DEST));
    g_assert_cmpstr(resumed->timings[ITSMIG_PHASE_RESUME_DEST].outcome, ==, "ok");
    resumed = round_trip(g_steal_pointer(&resumed));
    g_assert_true(resumed->options.resume);
}

/* A restart after the transfer of a guest that was paused: the paused copy is not resumed. */
static void test_paused_arrives_paused_after_restart(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigJobFacts f = {ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_PAUSED, FALSE};
    ItsmigAction a;

    while (itsmig_job_next(job, &a) && a.kind != ITSMIG_ACTION_VERIFY_DEST) {
        gboolean moved;

        itsmig_job_begin(job, &a, tick());
        moved = a.kind == ITSMIG_ACTION_MIGRATE;
        end_ok(job, moved ? ITSMIG_PRESENCE_ABSENT : ITSMIG_PRESENCE_PAUSED,
               moved ? ITSMIG_PRESENCE_PAUSED : ITSMIG_PRESENCE_ABSENT);
    }
    g_assert_cmpint(a.kind, ==, ITSMIG_ACTION_VERIFY_DEST);
    itsmig_job_begin(job, &a, tick());
    end_ok(job, ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_PAUSED);
    /* The daemon dies in RESTORE_DEVICES (as if a device were being attached). */
    job->phase = ITSMIG_PHASE_RESTORE_DEVICES;
    job = round_trip(g_steal_pointer(&job));
    itsmig_job_recover(job, &f, tick());
    while (itsmig_job_next(job, &a)) {
        g_assert_cmpint(a.kind, !=, ITSMIG_ACTION_RESUME_DEST);
        itsmig_job_begin(job, &a, tick());
        end_ok(job, ITSMIG_PRESENCE_ABSENT, ITSMIG_PRESENCE_PAUSED);
    }
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_DONE);
}

/* Safe mode: the paused time runs from the pause to the resume on the destination, by the
 * monotonic clock, whatever the wall clock does meanwhile. */
static void test_paused_time_monotonic(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    gint64 wall = clock_us, mono = 5 * G_USEC_PER_SEC;
    ItsmigAction a;

    while (itsmig_job_next(job, &a)) {
        gboolean moved = job->timings[ITSMIG_PHASE_TRANSFER].started_us != 0;

        /* Each action takes 0.6 s; the wall clock steps back an hour at the transfer. */
        itsmig_job_set_clock(job, mono);
        itsmig_job_begin(job, &a, wall);
        mono += 600 * 1000;
        wall += a.kind == ITSMIG_ACTION_MIGRATE ? -3600 * (gint64)G_USEC_PER_SEC : 600 * 1000;
        itsmig_job_set_clock(job, mono);
        end_ok_at(job,
                  moved || a.kind == ITSMIG_ACTION_MIGRATE ? ITSMIG_PRESENCE_ABSENT
                                                           : ITSMIG_PRESENCE_RUNNING,
                  moved || a.kind == ITSMIG_ACTION_MIGRATE ? ITSMIG_PRESENCE_PAUSED
                                                           : ITSMIG_PRESENCE_ABSENT,
                  wall);
    }
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_DONE);
    /* suspend, verify-its-save, migrate, verify-dest, resume-dest: 5 x 0.6 s. */
    g_assert_cmpint(job->progress.paused_ms, ==, 3000);
    g_assert_cmpint(job->timings[ITSMIG_PHASE_TRANSFER].duration_ms, ==, 600);
    g_assert_cmpint(job->timings[ITSMIG_PHASE_TRANSFER].ended_us, <,
                    job->timings[ITSMIG_PHASE_TRANSFER].started_us);
    /* The record, with its end before its start, reads back, durations and all. */
    job = round_trip(g_steal_pointer(&job));
    g_assert_cmpint(job->timings[ITSMIG_PHASE_TRANSFER].duration_ms, ==, 600);
    g_assert_cmpint(job->progress.paused_ms, ==, 3000);
}

/* What the writer writes, the reader reads: years before 1000 (a clock far off) included. */
static void test_record_far_times(void)
{
    static const gint64 times[] = {
        G_GINT64_CONSTANT(-62135596800) * G_USEC_PER_SEC,          /* 0001-01-01 */
        G_GINT64_CONSTANT(-30610224000) * G_USEC_PER_SEC + 123456, /* 0999-12-31 or so */
        G_GINT64_CONSTANT(-1) * G_USEC_PER_SEC / 2,                /* before 1970 */
        G_GINT64_CONSTANT(253402300799) * G_USEC_PER_SEC,          /* 9999-12-31 */
    };

    for (guint i = 0; i < G_N_ELEMENTS(times); i++) {
        Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
        g_autoptr(ItsmigJob) job = new_job(&sc);
        g_autoptr(JsonNode) node = NULL;
        const char *text;

        job->created_us = times[i];
        node = itsmig_job_to_json(job);
        text = json_object_get_string_member(json_node_get_object(node), "created_at");
        g_assert_true(g_ascii_isdigit(text[0]) && g_ascii_isdigit(text[3]) && text[4] == '-');
        job = round_trip(g_steal_pointer(&job));
        g_assert_cmpint(job->created_us, ==, times[i]);
    }
}

static void test_record_duplicate_phase(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(GError) error = NULL;
    JsonArray *phases;

    run_through(job, ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_PAUSED);
    node = itsmig_job_to_json(job);
    phases = json_object_get_array_member(json_node_get_object(node), "phases");
    json_array_add_element(phases, json_node_copy(json_array_get_element(phases, 1)));
    g_assert_null(itsmig_job_from_json(node, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON);
    g_assert_nonnull(strstr(error->message, "earlier phases entry"));
}

/* A record that cannot be read whole still gives a job, which ends needing attention with
 * what could be read and where the guest is. */
static void test_salvage(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    g_autoptr(ItsmigJob) salvaged = NULL;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(GError) error = NULL;
    ItsmigJobFacts f = {ITSMIG_PRESENCE_PAUSED, ITSMIG_PRESENCE_ABSENT, FALSE};
    ItsmigAction a;

    /* In VERIFY_ITS_SAVE: paused, a device detached. */
    g_assert_true(itsmig_job_next(job, &a));
    itsmig_job_begin(job, &a, tick());
    itsmig_job_add_device(job, "hostdev0", "<hostdev/>");
    end_ok(job, ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT);
    while (itsmig_job_next(job, &a) && a.kind != ITSMIG_ACTION_VERIFY_ITS_SAVE) {
        itsmig_job_begin(job, &a, tick());
        end_ok(job, ITSMIG_PRESENCE_PAUSED, ITSMIG_PRESENCE_ABSENT);
    }
    itsmig_job_begin(job, &a, tick());
    node = itsmig_job_to_json(job);
    json_object_set_string_member(json_node_get_object(node), "progress", "garbled");
    g_assert_null(itsmig_job_from_json(node, &error));

    salvaged = itsmig_job_salvage(node, "m-1", error->message, tick());
    g_assert_nonnull(salvaged);
    g_assert_cmpstr(salvaged->domain, ==, "guest");
    g_assert_cmpstr(salvaged->uuid, ==, job->uuid);
    g_assert_cmpstr(salvaged->destination, ==, "b");
    g_assert_false(itsmig_phase_is_terminal(salvaged->phase));
    g_assert_nonnull(strstr(salvaged->salvaged, "verify-its-save under way"));
    /* Written and read back before it is reconciled (a crash in between). */
    salvaged = round_trip(g_steal_pointer(&salvaged));
    itsmig_job_recover(salvaged, &f, tick());
    g_assert_cmpint(salvaged->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_false(itsmig_job_next(salvaged, &a));
    g_assert_cmpstr(salvaged->error_code, ==, "journal-unreadable");
    g_assert_cmpint(salvaged->failed_phase, ==, ITSMIG_PHASE_VERIFY_ITS_SAVE);
    g_assert_nonnull(strstr(salvaged->attention, "'guest' is paused on host-a"));
    g_assert_nonnull(strstr(salvaged->attention, "\"progress\""));
    g_assert_nonnull(strstr(salvaged->attention, "hostdev0"));
    salvaged = round_trip(g_steal_pointer(&salvaged));

    /* Nothing readable at all still makes a job. */
    {
        g_autoptr(JsonNode) empty = json_from_string("{}", NULL);
        g_autoptr(ItsmigJob) j = itsmig_job_salvage(empty, "m-2", "\"id\" is missing", tick());

        g_assert_nonnull(j);
        j = round_trip(g_steal_pointer(&j));
        itsmig_job_recover(j, &f, tick());
        g_assert_cmpint(j->phase, ==, ITSMIG_PHASE_FAILED);
        g_assert_nonnull(strstr(j->attention, "its phase could not be read"));
        g_assert_cmpint(j->failed_phase, ==, ITSMIG_PHASE_LAST);
    }
    /* Cut short, not JSON: the members found in the text still make a job. */
    {
        g_autoptr(JsonNode) whole = itsmig_job_to_json(job);
        g_autofree char *text = json_to_string(whole, FALSE);
        g_autoptr(ItsmigJob) j = NULL;
        gsize cut = strstr(text, "\"phases\"") - text + 12;

        j = itsmig_job_salvage_text(text, cut, "m-1", "not JSON", tick());
        g_assert_nonnull(j);
        g_assert_cmpstr(j->domain, ==, "guest");
        g_assert_cmpstr(j->uuid, ==, job->uuid);
        g_assert_cmpstr(j->source, ==, "host-a");
        g_assert_cmpstr(j->destination, ==, "b");
        g_assert_nonnull(strstr(j->salvaged, "showed it in verify-its-save"));
        j = round_trip(g_steal_pointer(&j));
        itsmig_job_recover(j, &f, tick());
        g_assert_cmpint(j->phase, ==, ITSMIG_PHASE_FAILED);
    }
    /* A finished record is not a job to reconcile. */
    {
        g_autoptr(JsonNode) done = NULL;

        run_through(job, ITSMIG_PRESENCE_PAUSED, ITSMIG_PRESENCE_RUNNING);
        g_autofree char *text = NULL;

        done = itsmig_job_to_json(job);
        g_assert_null(itsmig_job_salvage(done, "m-1", "x", tick()));
        text = json_to_string(done, FALSE);
        g_assert_null(itsmig_job_salvage_text(text, strlen(text) / 2, "m-1", "x", tick()));
    }
}

/* A record the journal holds is what it was when written, which may be well before the
 * restart (a write failed since): the reconciliation says so, not that the daemon stopped in
 * that phase. */
static void test_recover_says_what_journal_showed(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    ItsmigJobFacts f = {ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT, FALSE};
    ItsmigAction a;

    g_assert_true(itsmig_job_next(job, &a));
    itsmig_job_begin(job, &a, tick());
    job->journal.written_us = clock_us;
    itsmig_job_journal_failed(job, "No space left on device");
    g_assert_true(job->journal.behind);
    itsmig_job_journal_written(job);
    g_assert_false(job->journal.behind);
    job = round_trip(g_steal_pointer(&job));
    g_assert_cmpuint(job->journal.failures, ==, 1);
    g_assert_cmpstr(job->journal.last_error, ==, "No space left on device");
    itsmig_job_recover(job, &f, tick());
    g_assert_cmpstr(job->error_code, ==, "daemon-restarted");
    g_assert_nonnull(strstr(job->error_message, "as its journal last recorded it (at 20"));
    g_assert_null(strstr(job->error_message, "stopped during"));
}

static void test_transient_attention(void)
{
    Scenario sc = {ITSMIG_MODE_SAFE, 0, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    g_autoptr(ItsmigJob) persistent = new_job(&sc);
    ItsmigJobFacts f = {ITSMIG_PRESENCE_RUNNING, ITSMIG_PRESENCE_ABSENT, FALSE};

    job->transient = TRUE;
    job = round_trip(g_steal_pointer(&job));
    g_assert_true(job->transient);
    /* The daemon died after the transfer; neither host answers for the destination. */
    for (ItsmigJob *j = job; j; j = j == job ? persistent : NULL) {
        j->phase = ITSMIG_PHASE_RESUME_DEST;
        f.source = ITSMIG_PRESENCE_ABSENT;
        f.destination = ITSMIG_PRESENCE_UNKNOWN;
        itsmig_job_recover(j, &f, tick());
        g_assert_cmpint(j->phase, ==, ITSMIG_PHASE_FAILED);
    }
    g_assert_nonnull(strstr(job->attention, "transient"));
    g_assert_nonnull(strstr(job->attention, "no definition on either host"));
    g_assert_nonnull(strstr(job->attention, "loses the guest"));
    g_assert_null(strstr(persistent->attention, "transient"));
}

/* A device QEMU kept and libvirt does not list cannot be attached through libvirt: when
 * itsmigd could not remove it from QEMU, the attention gives the steps that work (device_del
 * through the monitor, then the attach), on the source after a rollback (@data FALSE) and on
 * the destination after the move (TRUE). */
static void check_unknown_device_attention(gconstpointer data)
{
    gboolean on_dest = GPOINTER_TO_INT(data);
    Scenario sc = {ITSMIG_MODE_SAFE, 1, -1, F_NONE, -1, FALSE};
    g_autoptr(ItsmigJob) job = new_job(&sc);
    World w = {.src = ITSMIG_PRESENCE_RUNNING, .dst = ITSMIG_PRESENCE_ABSENT};
    ItsmigActionKind fails = on_dest ? ITSMIG_ACTION_ATTACH_DEST : ITSMIG_ACTION_ATTACH_SOURCE;
    ItsmigAction a;

    while (itsmig_job_next(job, &a)) {
        ItsmigJobFacts f;
        gboolean ok;

        itsmig_job_begin(job, &a, tick());
        if (a.kind == ITSMIG_ACTION_PREFLIGHT)
            itsmig_job_add_device(job, "ua-scratch0", "<input type='tablet' bus='virtio'/>");
        /* Safe mode on the source: the pause fails, and the rollback plugs the device back. */
        ok = (on_dest || a.kind != ITSMIG_ACTION_SUSPEND_SOURCE) && a.kind != fails &&
             apply(&w, &a, job->source_was_running);
        f = observe(&w);
        if (a.kind == fails)
            itsmig_job_end(job, ITSMIG_OUTCOME_FAILED, "device-unknown-to-libvirt",
                           "QEMU has device 'ua-scratch0' but libvirt does not list it, and it "
                           "could not be removed from QEMU: timeout",
                           &f, tick());
        else
            itsmig_job_end(job, ok ? ITSMIG_OUTCOME_OK : ITSMIG_OUTCOME_FAILED,
                           ok ? NULL : "libvirt-error", ok ? NULL : "cannot pause", &f, tick());
    }
    g_assert_cmpint(job->phase, ==, ITSMIG_PHASE_FAILED);
    g_assert_nonnull(strstr(job->attention, on_dest ? "on b (" : "on host-a ("));
    g_assert_nonnull(strstr(job->attention, "virsh qemu-monitor-command guest "
                                            "'{\"execute\":\"device_del\",\"arguments\":{"
                                            "\"id\":\"ua-scratch0\"}}'"));
    g_assert_nonnull(strstr(job->attention, "\"qom-list\""));
    g_assert_nonnull(strstr(job->attention, "virsh attach-device guest FILE --live"));
    g_assert_null(strstr(job->attention, "attach it there"));
    g_assert_null(strstr(job->attention, "attach it or a replacement"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/job/names", test_names);
    g_test_add_func("/job/safe-order", test_safe_order);
    g_test_add_func("/job/live-skips-pause", test_live_skips_pause);
    g_test_add_func("/job/clock-steps-back", test_clock_steps_back);
    g_test_add_func("/job/blocked", test_blocked);
    g_test_add_func("/job/paused-guest-stays-paused", test_paused_guest_stays_paused);
    g_test_add_func("/job/dest-resumed-elsewhere", test_dest_resumed_elsewhere);
    g_test_add_func("/job/abort-rules", test_abort_rules);
    g_test_add_func("/job/from-json-refuses", test_from_json_refuses);
    g_test_add_data_func("/job/paused-arrives-paused/safe", GINT_TO_POINTER(ITSMIG_MODE_SAFE),
                         check_paused_arrives_paused);
    g_test_add_data_func("/job/paused-arrives-paused/live", GINT_TO_POINTER(ITSMIG_MODE_LIVE),
                         check_paused_arrives_paused);
    g_test_add_func("/job/paused-arrives-paused/after-restart",
                    test_paused_arrives_paused_after_restart);
    g_test_add_func("/job/paused-time-monotonic", test_paused_time_monotonic);
    g_test_add_func("/job/record/far-times", test_record_far_times);
    g_test_add_func("/job/record/duplicate-phase-refused", test_record_duplicate_phase);
    g_test_add_func("/job/record/salvage", test_salvage);
    g_test_add_func("/job/recover/says-what-journal-showed", test_recover_says_what_journal_showed);
    g_test_add_func("/job/transient-attention", test_transient_attention);
    g_test_add_data_func("/job/unknown-device-attention/source", GINT_TO_POINTER(FALSE),
                         check_unknown_device_attention);
    g_test_add_data_func("/job/unknown-device-attention/destination", GINT_TO_POINTER(TRUE),
                         check_unknown_device_attention);
    g_test_add_data_func("/job/journal/unjournaled-step/safe", GINT_TO_POINTER(ITSMIG_MODE_SAFE),
                         check_unjournaled);
    g_test_add_data_func("/job/journal/unjournaled-step/live", GINT_TO_POINTER(ITSMIG_MODE_LIVE),
                         check_unjournaled);
    g_test_add_func("/job/recover-live-checks", test_recover_live_checks);
    g_test_add_func("/job/recover-live-unverifiable", test_recover_live_unverifiable);
    g_test_add_data_func("/job/reexamine/safe", GINT_TO_POINTER(ITSMIG_MODE_SAFE), test_reexamine);
    g_test_add_data_func("/job/reexamine/live", GINT_TO_POINTER(ITSMIG_MODE_LIVE), test_reexamine);
    g_test_add_data_func("/job/reexamine-rollback/dest-absent",
                         GINT_TO_POINTER(ITSMIG_PRESENCE_ABSENT), test_reexamine_rollback);
    g_test_add_data_func("/job/reexamine-rollback/dest-paused",
                         GINT_TO_POINTER(ITSMIG_PRESENCE_PAUSED), test_reexamine_rollback);
    g_test_add_data_func("/job/reexamine-rollback/dest-running",
                         GINT_TO_POINTER(ITSMIG_PRESENCE_RUNNING), test_reexamine_rollback);
    g_test_add_func("/job/reexamine-rollback/abandoned", test_reexamine_rollback_abandoned);
    g_test_add_data_func("/job/table/safe", GINT_TO_POINTER(ITSMIG_MODE_SAFE), check_table);
    g_test_add_data_func("/job/table/live", GINT_TO_POINTER(ITSMIG_MODE_LIVE), check_table);
    g_test_add_data_func("/job/rollback-failures/safe", GINT_TO_POINTER(ITSMIG_MODE_SAFE),
                         check_rollback_failures);
    g_test_add_data_func("/job/rollback-failures/live", GINT_TO_POINTER(ITSMIG_MODE_LIVE),
                         check_rollback_failures);
    return g_test_run();
}
