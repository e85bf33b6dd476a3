/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/job.h"

/*
 * The migrations this host runs: each a job (lib/job.c) walked by a thread
 * of its own through libvirt and the destination's itsmigd, journaled
 * (lib/journal.c) before and after every action in [daemon] state-dir/jobs.
 * At start the journal is read back and every unfinished job is reconciled
 * with what libvirt and the destination report, once libvirt is connected.
 * The code is in daemon/job-*.c; job-run.h says which file holds what.
 *
 * For tests, ITSMIGD_FAULT=POINT:ACTION[:stop] makes the daemon kill itself
 * (or stop, SIGSTOP) at one step boundary: POINT is "before" (journaled as
 * under way, not yet done), "after" (done, not yet journaled) or "reported"
 * (journaled as done); ACTION is an action's name (lib/job.h), e.g.
 * "after:suspend-source".  "journal:ACTION[:SECONDS]" makes the journal
 * write of ACTION's start take SECONDS (10) longer, as a hanging fsync;
 * "hang:ACTION" holds ACTION until a stop gives up waiting for it.
 */

typedef struct ItsmigdOrchestrator ItsmigdOrchestrator;
typedef struct _ItsmigDaemon ItsmigDaemon;

typedef struct {
    unsigned int max_jobs;
    unsigned int phase_timeout;
    unsigned int total_timeout;
    unsigned int keep_finished;
    char *qemu_log_dir;
    gboolean qemu_log_mark; /* [migration] qemu-log-mark */
    char *hook_record_dir;  /* [hook] record-dir: what the incoming routes check */
} ItsmigdOrchestratorLimits;

/* Reads the journal in @state_dir/jobs; corrupt records are set aside and
 * logged.  Fails when the directory cannot be used. */
ItsmigdOrchestrator *itsmigd_orchestrator_new(ItsmigDaemon *daemon, const char *state_dir,
                                              GError **error);
/* Stops starting steps and lets running actions end, for a few seconds at
 * most.  FALSE when a worker is still inside one (a transfer): it still
 * uses the orchestrator and the daemon's objects, so the caller must exit
 * without freeing them; its job is in the journal and reconciled at the
 * next start. */
gboolean itsmigd_orchestrator_stop(ItsmigdOrchestrator *o);
/* Stops (as above), then frees, unless a worker is still running. */
void itsmigd_orchestrator_free(ItsmigdOrchestrator *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdOrchestrator, itsmigd_orchestrator_free)

/* Start and reload (main loop). */
void itsmigd_orchestrator_set_limits(ItsmigdOrchestrator *o,
                                     const ItsmigdOrchestratorLimits *limits);
/* The current limits (phase_timeout and total_timeout are a new job's
 * defaults); qemu_log_dir and hook_record_dir are not filled. */
void itsmigd_orchestrator_get_defaults(ItsmigdOrchestrator *o, ItsmigdOrchestratorLimits *ret);
/* [migration] qemu-log-dir, a copy. */
char *itsmigd_orchestrator_qemu_log_dir(ItsmigdOrchestrator *o);
/* [hook] record-dir, a copy (for HTTP threads). */
char *itsmigd_orchestrator_hook_record_dir(ItsmigdOrchestrator *o);
/* The libvirt connection came (main loop): unfinished jobs from the
 * journal are reconciled now. */
void itsmigd_orchestrator_connected(ItsmigdOrchestrator *o);

/* From HTTP threads.  Each returns a job object as the API shows it. */
JsonNode *itsmigd_orchestrator_start(ItsmigdOrchestrator *o, const char *domain, const char *uuid,
                                     const char *destination, ItsmigJobMode mode,
                                     const ItsmigJobOptions *options, GError **error);
JsonNode *itsmigd_orchestrator_get(ItsmigdOrchestrator *o, const char *id, GError **error);
/* Every job, newest first: {"migrations": [...]} */
JsonNode *itsmigd_orchestrator_list(ItsmigdOrchestrator *o);
JsonNode *itsmigd_orchestrator_abort(ItsmigdOrchestrator *o, const char *id, GError **error);
/* The jobs kept (running, and the last [migration] keep-finished that
 * ended), by phase: @ret_counts has ITSMIG_PHASE_LAST elements. */
void itsmigd_orchestrator_count_by_phase(ItsmigdOrchestrator *o, guint *ret_counts);
/* Jobs not yet ended. */
guint itsmigd_orchestrator_active(ItsmigdOrchestrator *o);
