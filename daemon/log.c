/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"

static gint current_level = G_LOG_LEVEL_INFO;
static gboolean to_journald;

static const char *level_name(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return "error";
    if (level & G_LOG_LEVEL_CRITICAL)
        return "error";
    if (level & G_LOG_LEVEL_WARNING)
        return "warning";
    if (level & G_LOG_LEVEL_MESSAGE)
        return "notice";
    if (level & G_LOG_LEVEL_INFO)
        return "info";
    return "debug";
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                               gpointer user_data)
{
    const char *message = NULL;
    const char *domain = NULL;
    const char *job = NULL;
    GLogLevelFlags severity = level & G_LOG_LEVEL_MASK;

    /* GLib's levels grow less severe as their bit rises. */
    if (severity > (GLogLevelFlags)g_atomic_int_get(&current_level) &&
        !(severity & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)))
        return G_LOG_WRITER_HANDLED;

    if (to_journald &&
        g_log_writer_journald(level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;

    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "MESSAGE"))
            message = fields[i].value;
        else if (!strcmp(fields[i].key, "ITSMIG_DOMAIN"))
            domain = fields[i].value;
        else if (!strcmp(fields[i].key, "ITSMIG_JOB"))
            job = fields[i].value;
    }
    /* One write per line so that lines from several threads do not interleave. */
    g_autoptr(GString) line = g_string_new(NULL);
    g_autofree char *stamp = itsmigd_time_string(g_get_real_time());

    g_string_append_printf(line, "%s itsmigd[%d]: %s: %s", stamp, (int)getpid(), level_name(level),
                           message ? message : "");
    if (domain)
        g_string_append_printf(line, " [domain=%s]", domain);
    if (job)
        g_string_append_printf(line, " [job=%s]", job);
    g_string_append_c(line, '\n');
    if (write(STDERR_FILENO, line->str, line->len) < 0)
        return G_LOG_WRITER_UNHANDLED;
    return G_LOG_WRITER_HANDLED;
}

void itsmigd_log_init(GLogLevelFlags level)
{
    to_journald = g_log_writer_is_journald(STDERR_FILENO);
    itsmigd_log_set_level(level);
    g_log_set_writer_func(writer, NULL, NULL);
}

void itsmigd_log_set_level(GLogLevelFlags level)
{
    g_atomic_int_set(&current_level, (gint)level);
}

GLogLevelFlags itsmigd_log_get_level(void)
{
    return (GLogLevelFlags)g_atomic_int_get(&current_level);
}

char *itsmigd_time_string(gint64 realtime_us)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(realtime_us / G_USEC_PER_SEC);
    g_autofree char *base = g_date_time_format(t, "%Y-%m-%dT%H:%M:%S");

    return g_strdup_printf("%s.%03dZ", base, (int)((realtime_us % G_USEC_PER_SEC) / 1000));
}
