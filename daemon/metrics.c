/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/metrics.h"

/* Upper bounds in microseconds; a REST reply from memory takes tens of them. */
static const gint64 latency_buckets_us[] = {100,  250,   500,   1000,   2500,
                                            5000, 10000, 25000, 100000, 1000000};
#define N_BUCKETS G_N_ELEMENTS(latency_buckets_us)

struct ItsmigdMetrics {
    guint64 events[ITSMIGD_EVENT_KIND_LAST];
    guint64 reconnects;
    guint64 connect_failures;
    guint domain_series_max;

    GMutex lock;
    GHashTable *requests; /* "route\tmethod\tstatus" -> count */
    GHashTable *counters; /* "COUNTER\x1fVALUE\x1f..." -> count */
    guint64 latency_counts[N_BUCKETS + 1];
    guint64 latency_total;
    gint64 latency_sum_us;
};

static const char *const event_kinds[ITSMIGD_EVENT_KIND_LAST] = {
    [ITSMIGD_EVENT_LIFECYCLE] = "lifecycle",
    [ITSMIGD_EVENT_DEVICE_ADDED] = "device-added",
    [ITSMIGD_EVENT_DEVICE_REMOVED] = "device-removed",
    [ITSMIGD_EVENT_JOB_COMPLETED] = "job-completed",
    [ITSMIGD_EVENT_MIGRATION_ITERATION] = "migration-iteration",
    [ITSMIGD_EVENT_REBOOT] = "reboot",
    [ITSMIGD_EVENT_RECONSTRUCTED] = "reconstructed",
};

typedef struct {
    const char *name;
    const char *help;
    const char *labels[4];
} CounterFamily;

static const CounterFamily counter_families[ITSMIGD_COUNTER_LAST] = {
    [ITSMIGD_COUNTER_JOBS] = {"itsmigd_migrations_finished_total",
                              "Migrations this host ran to their end, by mode, result "
                              "(done, rolled-back, failed-needs-attention), the phase that "
                              "failed (none) and the first error code (none).",
                              {"mode", "result", "failed_phase", "reason"}},
    [ITSMIGD_COUNTER_ITS_SAVE_FAILED] = {"itsmigd_its_save_failures_total",
                                         "ITS table saves found failed (QEMU reported an "
                                         "error: its-save-failed) or that could not be "
                                         "verified (its-save-unverified), each stopping its "
                                         "migration.",
                                         {"reason"}},
    [ITSMIGD_COUNTER_HOOK_DECISIONS] = {"itsmigd_hook_decisions_total",
                                        "Incoming migrations and restores the libvirt "
                                        "hook asked about, by operation (migrate, restore) "
                                        "and decision (allowed, refused).",
                                        {"operation", "decision"}},
    [ITSMIGD_COUNTER_HOOK_REFUSALS] = {"itsmigd_hook_refusals_total",
                                       "Blockers of the incoming migrations and restores "
                                       "the hook refused, by operation (migrate, restore) "
                                       "and rule code, or the reason of a refusal by the "
                                       "hook's own checks (one refusal may count under "
                                       "several rules).",
                                       {"operation", "rule"}},
};

ItsmigdMetrics *itsmigd_metrics_new(void)
{
    ItsmigdMetrics *m = g_new0(ItsmigdMetrics, 1);

    g_mutex_init(&m->lock);
    m->requests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    m->counters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return m;
}

void itsmigd_metrics_free(ItsmigdMetrics *m)
{
    if (!m)
        return;
    g_hash_table_destroy(m->requests);
    g_hash_table_destroy(m->counters);
    g_mutex_clear(&m->lock);
    g_free(m);
}

void itsmigd_metrics_event(ItsmigdMetrics *m, ItsmigdEventKind kind)
{
    if ((unsigned int)kind < ITSMIGD_EVENT_KIND_LAST)
        __atomic_fetch_add(&m->events[kind], 1, __ATOMIC_RELAXED);
}

void itsmigd_metrics_reconnect(ItsmigdMetrics *m)
{
    __atomic_fetch_add(&m->reconnects, 1, __ATOMIC_RELAXED);
}

void itsmigd_metrics_connect_failure(ItsmigdMetrics *m)
{
    __atomic_fetch_add(&m->connect_failures, 1, __ATOMIC_RELAXED);
}

guint64 itsmigd_metrics_reconnects(ItsmigdMetrics *m)
{
    return __atomic_load_n(&m->reconnects, __ATOMIC_RELAXED);
}

void itsmigd_metrics_count(ItsmigdMetrics *m, ItsmigdCounter counter, const char *const *values)
{
    g_autoptr(GString) key = g_string_new(NULL);
    guint64 *count;

    if ((unsigned int)counter >= ITSMIGD_COUNTER_LAST)
        return;
    g_string_append_printf(key, "%02d", (int)counter);
    for (gsize i = 0;
         i < G_N_ELEMENTS(counter_families[counter].labels) && counter_families[counter].labels[i];
         i++)
        g_string_append_printf(key, "\x1f%s", values[i] ? values[i] : "none");
    g_mutex_lock(&m->lock);
    count = g_hash_table_lookup(m->counters, key->str);
    if (!count) {
        count = g_new0(guint64, 1);
        g_hash_table_insert(m->counters, g_strdup(key->str), count);
    }
    (*count)++;
    g_mutex_unlock(&m->lock);
}

void itsmigd_metrics_set_domain_series_max(ItsmigdMetrics *m, guint max)
{
    __atomic_store_n(&m->domain_series_max, max, __ATOMIC_RELAXED);
}

guint itsmigd_metrics_domain_series_max(ItsmigdMetrics *m)
{
    return __atomic_load_n(&m->domain_series_max, __ATOMIC_RELAXED);
}

void itsmigd_metrics_append_label(GString *out, const char *value)
{
    if (!strpbrk(value, "\\\"\n")) {
        g_string_append(out, value);
        return;
    }
    for (const char *p = value; *p; p++) {
        switch (*p) {
        case '\\': g_string_append(out, "\\\\"); break;
        case '"': g_string_append(out, "\\\""); break;
        case '\n': g_string_append(out, "\\n"); break;
        default: g_string_append_c(out, *p); break;
        }
    }
}

void itsmigd_metrics_request(ItsmigdMetrics *m, const char *route, const char *method,
                             unsigned int status, gint64 duration_us, gboolean timed)
{
    char key[256];
    guint64 *count;
    gsize bucket = N_BUCKETS;

    g_snprintf(key, sizeof(key), "%s\t%s\t%u", route, method, status);
    for (gsize i = 0; i < N_BUCKETS; i++) {
        if (duration_us <= latency_buckets_us[i]) {
            bucket = i;
            break;
        }
    }
    g_mutex_lock(&m->lock);
    count = g_hash_table_lookup(m->requests, key);
    if (!count) {
        count = g_new0(guint64, 1);
        g_hash_table_insert(m->requests, g_strdup(key), count);
    }
    (*count)++;
    if (timed) {
        m->latency_counts[bucket]++;
        m->latency_total++;
        m->latency_sum_us += duration_us;
    }
    g_mutex_unlock(&m->lock);
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

/* Called with m->lock held. */
static void render_counters(ItsmigdMetrics *m, GString *out)
{
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    GHashTableIter iter;
    gpointer entry;
    guint k = 0;

    g_hash_table_iter_init(&iter, m->counters);
    while (g_hash_table_iter_next(&iter, &entry, NULL))
        g_ptr_array_add(keys, entry);
    g_ptr_array_sort(keys, compare_strings);
    for (int c = 0; c < ITSMIGD_COUNTER_LAST; c++) {
        const CounterFamily *f = &counter_families[c];

        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s counter\n", f->name, f->help, f->name);
        for (; k < keys->len; k++) {
            const char *key = g_ptr_array_index(keys, k);
            g_auto(GStrv) parts = g_strsplit(key, "\x1f", -1);

            if (atoi(parts[0]) != c)
                break;
            g_string_append_printf(out, "%s{", f->name);
            for (gsize i = 0; parts[i + 1] && i < G_N_ELEMENTS(f->labels) && f->labels[i]; i++) {
                g_string_append_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
                itsmigd_metrics_append_label(out, parts[i + 1]);
                g_string_append_c(out, '"');
            }
            g_string_append_printf(out, "} %" G_GUINT64_FORMAT "\n",
                                   *(guint64 *)g_hash_table_lookup(m->counters, key));
        }
    }
}

void itsmigd_metrics_render(ItsmigdMetrics *m, GString *out)
{
    g_autoptr(GPtrArray) keys = NULL;
    guint64 cumulative = 0;

    g_string_append(out, "# HELP itsmigd_libvirt_events_received_total libvirt domain events "
                         "received, and state changes reconstructed after a reconnect.\n"
                         "# TYPE itsmigd_libvirt_events_received_total counter\n");
    for (int k = 0; k < ITSMIGD_EVENT_KIND_LAST; k++)
        g_string_append_printf(
            out, "itsmigd_libvirt_events_received_total{type=\"%s\"} %" G_GUINT64_FORMAT "\n",
            event_kinds[k], __atomic_load_n(&m->events[k], __ATOMIC_RELAXED));
    g_string_append_printf(out,
                           "# HELP itsmigd_libvirt_reconnects_total Successful reconnections to "
                           "libvirt after a lost connection.\n"
                           "# TYPE itsmigd_libvirt_reconnects_total counter\n"
                           "itsmigd_libvirt_reconnects_total %" G_GUINT64_FORMAT "\n"
                           "# HELP itsmigd_libvirt_connect_failures_total Failed attempts to "
                           "connect to libvirt.\n"
                           "# TYPE itsmigd_libvirt_connect_failures_total counter\n"
                           "itsmigd_libvirt_connect_failures_total %" G_GUINT64_FORMAT "\n",
                           __atomic_load_n(&m->reconnects, __ATOMIC_RELAXED),
                           __atomic_load_n(&m->connect_failures, __ATOMIC_RELAXED));

    g_mutex_lock(&m->lock);
    keys = g_ptr_array_new();
    {
        GHashTableIter iter;
        gpointer key;

        g_hash_table_iter_init(&iter, m->requests);
        while (g_hash_table_iter_next(&iter, &key, NULL))
            g_ptr_array_add(keys, key);
    }
    g_ptr_array_sort(keys, compare_strings);
    g_string_append(out, "# HELP itsmigd_http_requests_total HTTP requests answered, by route "
                         "pattern, method and status.\n"
                         "# TYPE itsmigd_http_requests_total counter\n");
    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        g_auto(GStrv) parts = g_strsplit(key, "\t", 3);

        g_string_append_printf(
            out,
            "itsmigd_http_requests_total{route=\"%s\",method=\"%s\",code=\"%s\"} "
            "%" G_GUINT64_FORMAT "\n",
            parts[0], parts[1], parts[2], *(guint64 *)g_hash_table_lookup(m->requests, key));
    }
    g_string_append(out, "# HELP itsmigd_http_request_duration_seconds Time from a request's "
                         "first byte to its reply, event streams excepted.\n"
                         "# TYPE itsmigd_http_request_duration_seconds histogram\n");
    for (gsize i = 0; i < N_BUCKETS; i++) {
        cumulative += m->latency_counts[i];
        g_string_append_printf(
            out, "itsmigd_http_request_duration_seconds_bucket{le=\"%g\"} %" G_GUINT64_FORMAT "\n",
            latency_buckets_us[i] / 1e6, cumulative);
    }
    g_string_append_printf(
        out,
        "itsmigd_http_request_duration_seconds_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n"
        "itsmigd_http_request_duration_seconds_sum %.6f\n"
        "itsmigd_http_request_duration_seconds_count %" G_GUINT64_FORMAT "\n",
        m->latency_total, m->latency_sum_us / 1e6, m->latency_total);
    render_counters(m, out);
    g_mutex_unlock(&m->lock);
}
