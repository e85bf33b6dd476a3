/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "daemon/qemu-marker.h"

#define START1                                                                                     \
    "2026-12-02 10:00:00.000+0000: starting up libvirt version: 9.0.0, qemu version: 7.2\n"
#define START2                                                                                     \
    "2026-12-02 11:00:00.000+0000: starting up libvirt version: 9.0.0, qemu version: 7.2\n"
#define ERR "2026-12-02T11:00:05.000000Z qemu-system-aarch64: KVM_SET_DEVICE_ATTR failed\n"
#define MARK                                                                                       \
    "4242@1796208632.791943:qmp_enter_trace_event_get_state {\"name\": \"itsmig-log-mark-j-1\"}\n"

/* The mark ends what is read: the line that holds it, whole, and before. */
static void test_find(void)
{
    const char *log = ERR MARK "later\n";
    gssize end = itsmigd_qemu_marker_find(log, strlen(log), "itsmig-log-mark-j-1", FALSE);

    g_assert_cmpint(end, ==, strlen(ERR MARK));
    g_assert_cmpint(itsmigd_qemu_marker_find(log, strlen(log), "itsmig-log-mark-j-2", FALSE), ==,
                    -1);
    g_assert_cmpint(itsmigd_qemu_marker_find(log, 0, "itsmig-log-mark-j-1", FALSE), ==, -1);
}

/* A line virtlogd has only partly copied is not yet the mark. */
static void test_find_partial_line(void)
{
    const char *log = ERR "4242@1796208632.791943:qmp_enter_trace_event_get_state {\"name\": "
                          "\"itsmig-log-mark-j-1\"}";

    g_assert_cmpint(itsmigd_qemu_marker_find(log, strlen(log), "itsmig-log-mark-j-1", FALSE), ==,
                    -1);
}

/* The migration's "completed" trace: the last one counts. */
static void test_find_last(void)
{
    const char *line = "1@2.3:" ITSMIGD_QEMU_MARK_MIGRATION_LINE "\n";
    g_autofree char *log = g_strconcat(line, ERR, line, "tail", NULL);

    g_assert_cmpint(
        itsmigd_qemu_marker_find(log, strlen(log), ITSMIGD_QEMU_MARK_MIGRATION_LINE, TRUE), ==,
        2 * strlen(line) + strlen(ERR));
    g_assert_cmpint(
        itsmigd_qemu_marker_find(log, strlen(log), ITSMIGD_QEMU_MARK_MIGRATION_LINE, FALSE), ==,
        strlen(line));
}

/* Where the last QEMU process's output begins. */
static void test_last_start(void)
{
    const char *log = START1 ERR START2 ERR;

    g_assert_cmpint(itsmigd_qemu_log_last_start(log, strlen(log)), ==, strlen(START1 ERR));
    g_assert_cmpint(itsmigd_qemu_log_last_start(START1, strlen(START1)), ==, 0);
    g_assert_cmpint(itsmigd_qemu_log_last_start(ERR, strlen(ERR)), ==, -1);
    g_assert_cmpint(itsmigd_qemu_log_last_start("", 0), ==, -1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-marker/find", test_find);
    g_test_add_func("/qemu-marker/find-partial-line", test_find_partial_line);
    g_test_add_func("/qemu-marker/find-last", test_find_last);
    g_test_add_func("/qemu-marker/last-start", test_last_start);
    return g_test_run();
}
