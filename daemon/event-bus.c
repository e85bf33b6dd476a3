/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "daemon/event-bus.h"

struct ItsmigdEventBus {
    GMutex lock;
    GCond cond;
    char **frames; /* ring: the frame of event id lives at (id - first_id) % capacity */
    guint capacity;
    guint64 first_id;
    guint64 next_id;
    gboolean closed;
    guint streams;
};

ItsmigdEventBus *itsmigd_event_bus_new(guint capacity)
{
    return itsmigd_event_bus_new_from(capacity, 1);
}

ItsmigdEventBus *itsmigd_event_bus_new_from(guint capacity, guint64 first_id)
{
    ItsmigdEventBus *bus = g_new0(ItsmigdEventBus, 1);

    g_mutex_init(&bus->lock);
    g_cond_init(&bus->cond);
    bus->capacity = MAX(capacity, 1);
    bus->frames = g_new0(char *, bus->capacity);
    bus->first_id = MAX(first_id, 1);
    bus->next_id = bus->first_id;
    return bus;
}

void itsmigd_event_bus_free(ItsmigdEventBus *bus)
{
    if (!bus)
        return;
    for (guint i = 0; i < bus->capacity; i++)
        g_free(bus->frames[i]);
    g_free(bus->frames);
    g_mutex_clear(&bus->lock);
    g_cond_clear(&bus->cond);
    g_free(bus);
}

guint64 itsmigd_event_bus_publish(ItsmigdEventBus *bus, const char *type, JsonNode *data)
{
    g_autoptr(JsonNode) owned = data;
    g_autofree char *json = json_to_string(data, FALSE);
    guint64 id;
    char *frame;

    g_mutex_lock(&bus->lock);
    id = bus->next_id++;
    /* json_to_string never emits raw newlines in compact form, so the data
     * fits one "data:" line. */
    frame = g_strdup_printf("id: %" G_GUINT64_FORMAT "\nevent: %s\ndata: %s\n\n", id, type, json);
    g_free(bus->frames[(id - bus->first_id) % bus->capacity]);
    bus->frames[(id - bus->first_id) % bus->capacity] = frame;
    g_cond_broadcast(&bus->cond);
    g_mutex_unlock(&bus->lock);
    return id;
}

static guint64 first_kept(const ItsmigdEventBus *bus)
{
    guint64 last = bus->next_id - 1;

    return last - bus->first_id + 1 > bus->capacity ? last - bus->capacity + 1 : bus->first_id;
}

ItsmigdEventBusStatus itsmigd_event_bus_read(ItsmigdEventBus *bus, guint64 after, GString *out,
                                             gsize max_bytes, gint64 timeout_us, guint64 *ret_last)
{
    gint64 deadline = g_get_monotonic_time() + timeout_us;
    guint64 id, first;

    g_mutex_lock(&bus->lock);
    /* A client that resumes from an id this run never issued (an earlier
     * daemon run, or a made-up number) starts from what is kept, rather than
     * waiting for ids to catch up with it. */
    if (after >= bus->next_id)
        after = bus->first_id - 1;
    while (!bus->closed && bus->next_id - 1 <= after) {
        if (!g_cond_wait_until(&bus->cond, &bus->lock, deadline)) {
            if (bus->closed || bus->next_id - 1 > after)
                break;
            g_mutex_unlock(&bus->lock);
            return ITSMIGD_EVENT_BUS_TIMEOUT;
        }
    }
    if (bus->closed) {
        g_mutex_unlock(&bus->lock);
        return ITSMIGD_EVENT_BUS_CLOSED;
    }
    first = first_kept(bus);
    if (after + 1 < first) {
        g_string_append_printf(out,
                               "event: gap\ndata: {\"requested\":%" G_GUINT64_FORMAT
                               ",\"first_available\":%" G_GUINT64_FORMAT "}\n\n",
                               after + 1, first);
        after = first - 1;
    }
    for (id = after + 1; id < bus->next_id; id++) {
        const char *frame = bus->frames[(id - bus->first_id) % bus->capacity];

        if (id > after + 1 && out->len + strlen(frame) > max_bytes)
            break;
        g_string_append(out, frame);
    }
    *ret_last = id - 1;
    g_mutex_unlock(&bus->lock);
    return ITSMIGD_EVENT_BUS_DATA;
}

guint64 itsmigd_event_bus_published(ItsmigdEventBus *bus)
{
    guint64 n;

    g_mutex_lock(&bus->lock);
    n = bus->next_id - bus->first_id;
    g_mutex_unlock(&bus->lock);
    return n;
}

guint64 itsmigd_event_bus_last_id(ItsmigdEventBus *bus)
{
    guint64 last;

    g_mutex_lock(&bus->lock);
    last = bus->next_id - 1;
    g_mutex_unlock(&bus->lock);
    return last;
}

void itsmigd_event_bus_close(ItsmigdEventBus *bus)
{
    g_mutex_lock(&bus->lock);
    bus->closed = TRUE;
    g_cond_broadcast(&bus->cond);
    g_mutex_unlock(&bus->lock);
}

gboolean itsmigd_event_bus_stream_open(ItsmigdEventBus *bus, guint max_streams)
{
    gboolean ok;

    g_mutex_lock(&bus->lock);
    ok = bus->streams < max_streams;
    if (ok)
        bus->streams++;
    g_mutex_unlock(&bus->lock);
    return ok;
}

void itsmigd_event_bus_stream_close(ItsmigdEventBus *bus)
{
    g_mutex_lock(&bus->lock);
    bus->streams--;
    g_mutex_unlock(&bus->lock);
}

guint itsmigd_event_bus_streams(ItsmigdEventBus *bus)
{
    guint n;

    g_mutex_lock(&bus->lock);
    n = bus->streams;
    g_mutex_unlock(&bus->lock);
    return n;
}
