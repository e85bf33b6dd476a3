/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

/* Counters for GET /metrics, updated from any thread. */
typedef enum {
    ITSMIGD_EVENT_LIFECYCLE,
    ITSMIGD_EVENT_DEVICE_ADDED,
    ITSMIGD_EVENT_DEVICE_REMOVED,
    ITSMIGD_EVENT_JOB_COMPLETED,
    ITSMIGD_EVENT_MIGRATION_ITERATION,
    ITSMIGD_EVENT_REBOOT,
    ITSMIGD_EVENT_RECONSTRUCTED,

    ITSMIGD_EVENT_KIND_LAST
} ItsmigdEventKind;

/* Counters with labels, each label's values drawn from a fixed set (modes,
 * phases, outcomes, rule and error codes), so that none grows without bound. */
typedef enum {
    ITSMIGD_COUNTER_JOBS,            /* mode, result, failed_phase, reason */
    ITSMIGD_COUNTER_ITS_SAVE_FAILED, /* reason */
    ITSMIGD_COUNTER_HOOK_DECISIONS,  /* operation, decision */
    ITSMIGD_COUNTER_HOOK_REFUSALS,   /* operation, rule */

    ITSMIGD_COUNTER_LAST
} ItsmigdCounter;

typedef struct ItsmigdMetrics ItsmigdMetrics;

ItsmigdMetrics *itsmigd_metrics_new(void);
void itsmigd_metrics_free(ItsmigdMetrics *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdMetrics, itsmigd_metrics_free)

void itsmigd_metrics_event(ItsmigdMetrics *m, ItsmigdEventKind kind);
void itsmigd_metrics_reconnect(ItsmigdMetrics *m);
void itsmigd_metrics_connect_failure(ItsmigdMetrics *m);
guint64 itsmigd_metrics_reconnects(ItsmigdMetrics *m);
/* @route is the route's pattern ("/v1/domains/{name}"), never the raw path,
 * so that clients cannot grow the table. */
void itsmigd_metrics_request(ItsmigdMetrics *m, const char *route, const char *method,
                             unsigned int status, gint64 duration_us, gboolean timed);

/* Adds one to @counter's sample with @values, one per label of the counter
 * (in the order above). */
void itsmigd_metrics_count(ItsmigdMetrics *m, ItsmigdCounter counter, const char *const *values);

/* [metrics] max-domain-series: at start and on reload, read by scrapes. */
void itsmigd_metrics_set_domain_series_max(ItsmigdMetrics *m, guint max);
guint itsmigd_metrics_domain_series_max(ItsmigdMetrics *m);

/* Appends @value to @out as a label value: backslash, double quote and
 * newline escaped. */
void itsmigd_metrics_append_label(GString *out, const char *value);

/* Appends the daemon's own series in Prometheus text format 0.0.4. */
void itsmigd_metrics_render(ItsmigdMetrics *m, GString *out);
