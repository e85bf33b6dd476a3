/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the job's pieces share inside libitsmig: job.c (the names, the plan and the state
 * machine), job-recover.c (recovery decisions and salvage), job-write.c and job-read.c (the
 * record).  Not installed; none of it is API.
 */

#include "itsmig/error.h"
#include "itsmig/job.h"

/* Names that the record carries but the API does not expose.  -1 when @s names none. */
G_GNUC_INTERNAL int job_presence_from_string(const char *s);
G_GNUC_INTERNAL const char *job_device_state_to_string(ItsmigDeviceState state);
G_GNUC_INTERNAL int job_device_state_from_string(const char *s);
G_GNUC_INTERNAL int job_outcome_from_string(const char *s);

/* The plan of @mode: its forward phases in order. */
G_GNUC_INTERNAL const ItsmigPhase *job_plan_of(ItsmigJobMode mode, gsize *ret_n);
/* The position of @phase in the job's plan, -1 when it is not in it. */
G_GNUC_INTERNAL int job_plan_index(const ItsmigJob *job, ItsmigPhase phase);
G_GNUC_INTERNAL gboolean job_keep_paused(const ItsmigJob *job);
/* NULL when @i is out of range. */
G_GNUC_INTERNAL ItsmigJobDevice *job_device_at(const ItsmigJob *job, int i);
/* An empty job, every "unknown" marker set. */
G_GNUC_INTERNAL ItsmigJob *job_alloc(void);

/* Transitions. */
G_GNUC_INTERNAL void job_phase_end(ItsmigJob *job, ItsmigPhase phase, const char *outcome,
                                   gint64 now_us);
G_GNUC_INTERNAL void job_phase_reopen(ItsmigJob *job, ItsmigPhase phase);
/* job-recover.c: the steps for a device QEMU kept and libvirt does not list; FALSE when
 * @code is not that failure's. */
G_GNUC_INTERNAL gboolean job_note_unknown_device(ItsmigJob *job, const ItsmigJobDevice *d,
                                                 const char *host, const char *code,
                                                 const char *message, int index);
G_GNUC_INTERNAL void job_add_note(ItsmigJob *job, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* The note of a rollback that could not ask the destination whether a copy was left. */
#define JOB_NOTE_DEST_UNASKED                                                                      \
    "The destination could not be asked whether a paused copy remains there: if 'virsh list "      \
    "--all' shows one, destroy it (virsh destroy)."
G_GNUC_INTERNAL gboolean job_source_as_before(const ItsmigJob *job, const ItsmigJobFacts *f);
G_GNUC_INTERNAL void job_finish(ItsmigJob *job, ItsmigPhase terminal, gint64 now_us);
G_GNUC_INTERNAL gboolean job_error_is(const ItsmigJob *job, ItsmigErrorCode code);
G_GNUC_INTERNAL void job_set_error(ItsmigJob *job, const char *code, const char *message);
/* Ends the job needing attention: where the guest is, @advice, then the notes. */
G_GNUC_INTERNAL void job_fail(ItsmigJob *job, const char *advice, gint64 now_us);
G_GNUC_INTERNAL gboolean job_source_intact(const ItsmigJobFacts *f);
G_GNUC_INTERNAL gboolean job_dest_holds_copy(const ItsmigJobFacts *f);
G_GNUC_INTERNAL void job_jump_to(ItsmigJob *job, ItsmigPhase phase, gint64 now_us);
G_GNUC_INTERNAL void job_forward_failed(ItsmigJob *job, gint64 now_us);
G_GNUC_INTERNAL void job_rollback_settle(ItsmigJob *job, gint64 now_us);
/* Closes what has nothing left to do and moves on, from the facts last reported. */
G_GNUC_INTERNAL void job_settle(ItsmigJob *job, gint64 now_us);

/* job-recover.c: the source copy is gone while the job was failing or rolling back. */
G_GNUC_INTERNAL void job_source_gone(ItsmigJob *job, gint64 now_us);

/* job-write.c: @us as the record writes a time (ISO 8601, UTC, four-digit years). */
G_GNUC_INTERNAL char *job_time_text(gint64 us);
