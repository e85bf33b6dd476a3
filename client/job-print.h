/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A migration job of itsmigd's API, checked and printed (client/job-print.c). */
#pragma once

#include "itsmigctl.h"

/* A Job: what lib/job.c reads back from the journal (the record itsmigd writes
 * for the API as well), and the parts a job carries as they came (the verdict,
 * the ITS evidence), which are printed.  @ctx ("migrations[2]") names the job
 * in messages.  The printers below take only a checked job. */
gboolean itsmigctl_job_check(JsonObject *j, const char *ctx, GError **error);
/* The exit status of migrate --wait for a finished job. */
int itsmigctl_job_exit_status(JsonObject *job);
/* "transfer  42%  112.4 MiB/s  00:07": where the job is, for the line that
 * follows it while waiting. */
char *itsmigctl_job_status_text(JsonObject *job, gint64 elapsed_us);
/* The summary after migrate --wait, and (with @detail) itsmigctl job. */
void itsmigctl_job_print(JsonObject *job, gboolean detail);
/* The table of itsmigctl jobs; with @quiet the ids only. */
void itsmigctl_jobs_print(JsonArray *jobs, gboolean quiet);
