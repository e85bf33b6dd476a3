/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "daemon/event-bus.h"

/* Generous: only a broken wake-up takes this long. */
#define WAIT_US (10 * G_USEC_PER_SEC)

static JsonNode *data_with_n(guint64 n)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "n");
    json_builder_add_int_value(b, (gint64)n);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static guint64 publish_n(ItsmigdEventBus *bus, guint64 n)
{
    return itsmigd_event_bus_publish(bus, "lifecycle", data_with_n(n));
}

static char *frame(guint64 id, const char *type, guint64 n)
{
    return g_strdup_printf("id: %" G_GUINT64_FORMAT "\nevent: %s\ndata: {\"n\":%" G_GUINT64_FORMAT
                           "}\n\n",
                           id, type, n);
}

/* The frames of events @from..@to as published by publish_n(bus, id). */
static char *frames(guint64 from, guint64 to)
{
    GString *s = g_string_new(NULL);

    for (guint64 id = from; id <= to; id++) {
        g_autofree char *f = frame(id, "lifecycle", id);
        g_string_append(s, f);
    }
    return g_string_free(s, FALSE);
}

static void test_ids_from_one(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);

    g_assert_cmpuint(itsmigd_event_bus_last_id(bus), ==, 0);
    for (guint64 i = 1; i <= 40; i++) {
        g_assert_cmpuint(publish_n(bus, i), ==, i);
        g_assert_cmpuint(itsmigd_event_bus_last_id(bus), ==, i);
    }
}

static void test_sse_framing(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(GString) out = g_string_new(NULL);
    guint64 last = 0;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, "vm\n1");
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, "running");
    json_builder_end_object(b);
    g_assert_cmpuint(itsmigd_event_bus_publish(bus, "lifecycle", json_builder_get_root(b)), ==, 1);

    g_assert_cmpint(itsmigd_event_bus_read(bus, 0, out, 65536, 0, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpuint(last, ==, 1);
    /* A newline in a string stays escaped: the data is one line. */
    g_assert_cmpstr(
        out->str, ==,
        "id: 1\nevent: lifecycle\ndata: {\"name\":\"vm\\n1\",\"state\":\"running\"}\n\n");
}

static void test_read_after(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *expect = frames(4, 10);
    guint64 last = 0;

    for (guint64 i = 1; i <= 10; i++)
        publish_n(bus, i);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 3, out, 65536, 0, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpuint(last, ==, 10);
    g_assert_cmpstr(out->str, ==, expect);
}

static void test_types_kept(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *f1 = frame(1, "connection", 1);
    g_autofree char *f2 = frame(2, "device-added", 2);
    g_autofree char *expect = g_strconcat(f1, f2, NULL);
    guint64 last = 0;

    itsmigd_event_bus_publish(bus, "connection", data_with_n(1));
    itsmigd_event_bus_publish(bus, "device-added", data_with_n(2));
    g_assert_cmpint(itsmigd_event_bus_read(bus, 0, out, 65536, 0, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpstr(out->str, ==, expect);
}

static void test_max_bytes(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autofree char *one = frame(1, "lifecycle", 1);
    gsize frame_len = strlen(one); /* every frame here has the same length */
    guint64 after = 0, last = 0;
    guint reads = 0;

    for (guint64 i = 1; i <= 9; i++)
        publish_n(bus, i);

    /* Room for three frames and a half: three per read. */
    while (after < 9) {
        g_autoptr(GString) out = g_string_new(NULL);
        g_autofree char *expect = NULL;

        g_assert_cmpint(itsmigd_event_bus_read(bus, after, out, frame_len * 7 / 2, 0, &last), ==,
                        ITSMIGD_EVENT_BUS_DATA);
        g_assert_cmpuint(last, ==, after + 3);
        g_assert_cmpuint(out->len, <=, frame_len * 7 / 2);
        expect = frames(after + 1, last);
        g_assert_cmpstr(out->str, ==, expect);
        after = last;
        reads++;
    }
    g_assert_cmpuint(reads, ==, 3);
}

static void test_max_bytes_one_frame_at_least(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *expect = frames(1, 1);
    guint64 last = 0;

    publish_n(bus, 1);
    publish_n(bus, 2);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 0, out, 1, 0, &last), ==, ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpuint(last, ==, 1);
    g_assert_cmpstr(out->str, ==, expect);
}

static void test_gap(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *kept = frames(25, 40);
    g_autofree char *expect = NULL;
    guint64 last = 0;

    for (guint64 i = 1; i <= 40; i++)
        publish_n(bus, i);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 3, out, 1 << 20, 0, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpuint(last, ==, 40);
    expect =
        g_strconcat("event: gap\ndata: {\"requested\":4,\"first_available\":25}\n\n", kept, NULL);
    g_assert_cmpstr(out->str, ==, expect);
}

static void test_no_gap_at_first_kept(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *expect = frames(25, 40);
    guint64 last = 0;

    for (guint64 i = 1; i <= 40; i++)
        publish_n(bus, i);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 24, out, 1 << 20, 0, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpstr(out->str, ==, expect);
}

/* The gap frame does not count against the one frame a read always gives. */
static void test_gap_small_max_bytes(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *first = frames(25, 25);
    g_autofree char *expect = NULL;
    guint64 last = 0;

    for (guint64 i = 1; i <= 40; i++)
        publish_n(bus, i);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 3, out, 1, 0, &last), ==, ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpuint(last, ==, 25);
    expect =
        g_strconcat("event: gap\ndata: {\"requested\":4,\"first_available\":25}\n\n", first, NULL);
    g_assert_cmpstr(out->str, ==, expect);
}

static void test_future_id(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *expect = frames(1, 5);
    guint64 last = 0;
    gint64 start;

    for (guint64 i = 1; i <= 5; i++)
        publish_n(bus, i);
    /* Resuming from an id this run never issued starts over, without waiting. */
    start = g_get_monotonic_time();
    g_assert_cmpint(itsmigd_event_bus_read(bus, 1000, out, 1 << 20, WAIT_US, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpint(g_get_monotonic_time() - start, <, WAIT_US / 2);
    g_assert_cmpuint(last, ==, 5);
    g_assert_cmpstr(out->str, ==, expect);
}

/* The daemon numbers each run from the time: an id kept from an earlier run
 * is below this run's first and gets a gap naming where this run starts. */
static void test_id_from_earlier_run(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new_from(16, 1000);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *expected = NULL;
    guint64 last = 0;

    g_assert_cmpuint(itsmigd_event_bus_publish(bus, "lifecycle", data_with_n(1)), ==, 1000);
    publish_n(bus, 2);
    g_assert_cmpuint(itsmigd_event_bus_published(bus), ==, 2);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 500, out, 65536, 0, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_true(g_str_has_prefix(
        out->str, "event: gap\ndata: {\"requested\":501,\"first_available\":1000}\n\n"));
    g_assert_cmpuint(last, ==, 1001);
}

static void test_future_id_overwritten(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *kept = frames(25, 40);
    guint64 last = 0;

    for (guint64 i = 1; i <= 40; i++)
        publish_n(bus, i);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 41, out, 1 << 20, 0, &last), ==,
                    ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpuint(last, ==, 40);
    /* Whatever precedes them (a gap frame or nothing), the kept frames come whole. */
    g_assert_true(g_str_has_suffix(out->str, kept));
    g_assert_null(strstr(out->str, "id: 24\n"));
}

static void test_timeout(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    guint64 last = 4242;
    gint64 start, took;

    publish_n(bus, 1);
    start = g_get_monotonic_time();
    g_assert_cmpint(itsmigd_event_bus_read(bus, 1, out, 1 << 20, 50 * 1000, &last), ==,
                    ITSMIGD_EVENT_BUS_TIMEOUT);
    took = g_get_monotonic_time() - start;
    g_assert_cmpint(took, >=, 50 * 1000);
    g_assert_cmpint(took, <, 2 * G_USEC_PER_SEC);
    g_assert_cmpuint(out->len, ==, 0);
    g_assert_cmpuint(last, ==, 4242);

    /* An empty bus and a zero timeout: at once. */
    {
        g_autoptr(ItsmigdEventBus) empty = itsmigd_event_bus_new(16);
        g_assert_cmpint(itsmigd_event_bus_read(empty, 0, out, 1 << 20, 0, &last), ==,
                        ITSMIGD_EVENT_BUS_TIMEOUT);
        g_assert_cmpuint(out->len, ==, 0);
    }
}

typedef struct {
    ItsmigdEventBus *bus;
    guint64 after;
    GString *out;
    guint64 last;
    ItsmigdEventBusStatus status;
    gint64 waited_us;
    gint started; /* atomic */
} Reader;

static gpointer reader_thread(gpointer data)
{
    Reader *r = data;
    gint64 start;

    g_atomic_int_set(&r->started, 1);
    start = g_get_monotonic_time();
    r->status = itsmigd_event_bus_read(r->bus, r->after, r->out, 1 << 20, WAIT_US, &r->last);
    r->waited_us = g_get_monotonic_time() - start;
    return NULL;
}

static GThread *start_reader(Reader *r)
{
    GThread *t = g_thread_new("reader", reader_thread, r);

    while (!g_atomic_int_get(&r->started))
        g_usleep(1000);
    /* Give it time to block in the read. */
    g_usleep(50 * 1000);
    return t;
}

static void test_wakes_on_publish(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *expect = frames(3, 3);
    Reader r = {.bus = bus, .after = 2, .out = out};
    GThread *t;

    publish_n(bus, 1);
    publish_n(bus, 2);
    t = start_reader(&r);
    publish_n(bus, 3);
    g_thread_join(t);
    g_assert_cmpint(r.status, ==, ITSMIGD_EVENT_BUS_DATA);
    g_assert_cmpint(r.waited_us, <, WAIT_US / 2);
    g_assert_cmpuint(r.last, ==, 3);
    g_assert_cmpstr(out->str, ==, expect);
}

static void test_close_wakes(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);
    g_autoptr(GString) out = g_string_new(NULL);
    Reader r = {.bus = bus, .after = 0, .out = out};
    GThread *t;
    guint64 last = 0;

    t = start_reader(&r);
    itsmigd_event_bus_close(bus);
    g_thread_join(t);
    g_assert_cmpint(r.status, ==, ITSMIGD_EVENT_BUS_CLOSED);
    g_assert_cmpint(r.waited_us, <, WAIT_US / 2);
    g_assert_cmpuint(out->len, ==, 0);

    /* And every read after it, even with events to give. */
    publish_n(bus, 1);
    g_assert_cmpint(itsmigd_event_bus_read(bus, 0, out, 1 << 20, WAIT_US, &last), ==,
                    ITSMIGD_EVENT_BUS_CLOSED);
}

static void test_streams(void)
{
    g_autoptr(ItsmigdEventBus) bus = itsmigd_event_bus_new(16);

    g_assert_cmpuint(itsmigd_event_bus_streams(bus), ==, 0);
    g_assert_true(itsmigd_event_bus_stream_open(bus, 2));
    g_assert_true(itsmigd_event_bus_stream_open(bus, 2));
    g_assert_cmpuint(itsmigd_event_bus_streams(bus), ==, 2);
    g_assert_false(itsmigd_event_bus_stream_open(bus, 2));
    g_assert_cmpuint(itsmigd_event_bus_streams(bus), ==, 2);
    itsmigd_event_bus_stream_close(bus);
    g_assert_cmpuint(itsmigd_event_bus_streams(bus), ==, 1);
    g_assert_true(itsmigd_event_bus_stream_open(bus, 2));
    itsmigd_event_bus_stream_close(bus);
    itsmigd_event_bus_stream_close(bus);
    g_assert_cmpuint(itsmigd_event_bus_streams(bus), ==, 0);
    g_assert_false(itsmigd_event_bus_stream_open(bus, 0));
}

static void test_free_null(void)
{
    itsmigd_event_bus_free(NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/event-bus/ids-from-one", test_ids_from_one);
    g_test_add_func("/event-bus/sse-framing", test_sse_framing);
    g_test_add_func("/event-bus/read-after", test_read_after);
    g_test_add_func("/event-bus/types-kept", test_types_kept);
    g_test_add_func("/event-bus/max-bytes", test_max_bytes);
    g_test_add_func("/event-bus/max-bytes-one-frame-at-least", test_max_bytes_one_frame_at_least);
    g_test_add_func("/event-bus/gap", test_gap);
    g_test_add_func("/event-bus/no-gap-at-first-kept", test_no_gap_at_first_kept);
    g_test_add_func("/event-bus/gap-small-max-bytes", test_gap_small_max_bytes);
    g_test_add_func("/event-bus/future-id", test_future_id);
    g_test_add_func("/event-bus/future-id-overwritten", test_future_id_overwritten);
    g_test_add_func("/event-bus/id-from-earlier-run", test_id_from_earlier_run);
    g_test_add_func("/event-bus/timeout", test_timeout);
    g_test_add_func("/event-bus/wakes-on-publish", test_wakes_on_publish);
    g_test_add_func("/event-bus/close-wakes-reader", test_close_wakes);
    g_test_add_func("/event-bus/streams-bounded", test_streams);
    g_test_add_func("/event-bus/free-null", test_free_null);

    return g_test_run();
}
