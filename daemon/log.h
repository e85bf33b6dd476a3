/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

/* Routes GLib's structured log to journald when stderr is connected to the
 * journal (as under systemd), to stderr otherwise, and drops messages less
 * severe than the current level. */
void itsmigd_log_init(GLogLevelFlags level);
void itsmigd_log_set_level(GLogLevelFlags level);
GLogLevelFlags itsmigd_log_get_level(void);

/* A message about one domain: journald gets ITSMIG_DOMAIN=@name. */
#define itsmigd_log_domain(level, name, ...)                                                       \
    g_log_structured(G_LOG_DOMAIN, (level), "ITSMIG_DOMAIN", (name), "MESSAGE", __VA_ARGS__)

/* A message about one job of one domain: journald gets ITSMIG_DOMAIN=@name
 * and ITSMIG_JOB=@job, so that `journalctl ITSMIG_JOB=ID` finds it. */
#define itsmigd_log_job(level, name, job, ...)                                                     \
    g_log_structured(G_LOG_DOMAIN, (level), "ITSMIG_DOMAIN", (name), "ITSMIG_JOB", (job),          \
                     "MESSAGE", __VA_ARGS__)

/* The same for a job whose domain is not known (a journal record that
 * cannot be read as a job): journald gets ITSMIG_JOB=@job only. */
#define itsmigd_log_job_id(level, job, ...)                                                        \
    g_log_structured(G_LOG_DOMAIN, (level), "ITSMIG_JOB", (job), "MESSAGE", __VA_ARGS__)

/* "2026-11-21T20:26:52.844Z" for a g_get_real_time() value. */
char *itsmigd_time_string(gint64 realtime_us);
