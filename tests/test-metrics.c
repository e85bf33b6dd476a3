/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "daemon/metrics.h"

/* Label values are escaped as the text format requires. */
static void test_label_escaped(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    itsmigd_metrics_append_label(out, "plain-name_1");
    g_assert_cmpstr(out->str, ==, "plain-name_1");
    g_string_truncate(out, 0);
    itsmigd_metrics_append_label(out, "a\"b\\c\nd");
    g_assert_cmpstr(out->str, ==, "a\\\"b\\\\c\\nd");
}

/* Each labelled counter has its HELP and TYPE even before its first event;
 * samples carry the family's labels in order, "none" for a NULL value. */
static void test_counters_rendered(void)
{
    g_autoptr(ItsmigdMetrics) m = itsmigd_metrics_new();
    g_autoptr(GString) out = g_string_new(NULL);
    const char *job[] = {"safe", "rolled-back", "transfer", "libvirt-error"};
    const char *done[] = {"live", "done", NULL, NULL};

    itsmigd_metrics_render(m, out);
    g_assert_nonnull(strstr(out->str, "# TYPE itsmigd_migrations_finished_total counter\n"));
    g_assert_nonnull(strstr(out->str, "# TYPE itsmigd_hook_refusals_total counter\n"));
    g_assert_null(strstr(out->str, "itsmigd_hook_refusals_total{"));

    itsmigd_metrics_count(m, ITSMIGD_COUNTER_JOBS, job);
    itsmigd_metrics_count(m, ITSMIGD_COUNTER_JOBS, job);
    itsmigd_metrics_count(m, ITSMIGD_COUNTER_JOBS, done);
    itsmigd_metrics_count(m, ITSMIGD_COUNTER_HOOK_REFUSALS,
                          (const char *[]){"restore", "its-abi-unsupported"});
    itsmigd_metrics_count(m, ITSMIGD_COUNTER_LAST, job); /* ignored */
    g_string_truncate(out, 0);
    itsmigd_metrics_render(m, out);
    g_assert_nonnull(strstr(out->str, "\nitsmigd_migrations_finished_total{mode=\"safe\","
                                      "result=\"rolled-back\",failed_phase=\"transfer\","
                                      "reason=\"libvirt-error\"} 2\n"));
    g_assert_nonnull(strstr(out->str,
                            "\nitsmigd_migrations_finished_total{mode=\"live\","
                            "result=\"done\",failed_phase=\"none\",reason=\"none\"} 1\n"));
    g_assert_nonnull(strstr(out->str, "\nitsmigd_hook_refusals_total{operation=\"restore\","
                                      "rule=\"its-abi-unsupported\"} 1\n"));
    /* A family's samples follow its own TYPE line, not another's. */
    g_assert_true(strstr(out->str, "# TYPE itsmigd_hook_refusals_total") <
                  strstr(out->str, "itsmigd_hook_refusals_total{"));
    g_assert_true(strstr(out->str, "itsmigd_migrations_finished_total{") <
                  strstr(out->str, "# TYPE itsmigd_its_save_failures_total"));
}

static void test_domain_series_max(void)
{
    g_autoptr(ItsmigdMetrics) m = itsmigd_metrics_new();

    itsmigd_metrics_set_domain_series_max(m, 1234);
    g_assert_cmpuint(itsmigd_metrics_domain_series_max(m), ==, 1234);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/metrics/label-escaped", test_label_escaped);
    g_test_add_func("/metrics/counters-rendered", test_counters_rendered);
    g_test_add_func("/metrics/domain-series-max", test_domain_series_max);
    return g_test_run();
}
