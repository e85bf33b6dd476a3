/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/*
 * The last N events, kept as ready Server-Sent Events frames for GET
 * /v1/events.  Published from any thread (the main loop, the libvirt worker,
 * the jobs' threads) under its lock; read from HTTP threads, which wait on
 * it.  Ids increase and never repeat within one daemon run.
 */
typedef struct ItsmigdEventBus ItsmigdEventBus;

typedef enum {
    ITSMIGD_EVENT_BUS_DATA,    /* frames were appended */
    ITSMIGD_EVENT_BUS_TIMEOUT, /* nothing new within the timeout */
    ITSMIGD_EVENT_BUS_CLOSED,  /* the daemon is stopping */
} ItsmigdEventBusStatus;

ItsmigdEventBus *itsmigd_event_bus_new(guint capacity);
/* Ids from @first_id on.  The daemon starts each run from the time, so that
 * an id a client kept from an earlier run is older than any of this run's
 * and gets a gap, not a silent skip. */
ItsmigdEventBus *itsmigd_event_bus_new_from(guint capacity, guint64 first_id);
void itsmigd_event_bus_free(ItsmigdEventBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdEventBus, itsmigd_event_bus_free)

/* Takes @data (a JSON object); returns the new event's id. */
guint64 itsmigd_event_bus_publish(ItsmigdEventBus *bus, const char *type, JsonNode *data);

/* Appends to @out the frames of events after @after, at least one and then as
 * many as fit in @max_bytes, waiting up to @timeout_us for one to come.  When
 * events after @after are already gone from the buffer, a "gap" frame naming
 * the first one still kept comes first.  *@ret_last is the id of the last
 * event appended. */
ItsmigdEventBusStatus itsmigd_event_bus_read(ItsmigdEventBus *bus, guint64 after, GString *out,
                                             gsize max_bytes, gint64 timeout_us, guint64 *ret_last);

guint64 itsmigd_event_bus_last_id(ItsmigdEventBus *bus);
/* Events published since the bus was made. */
guint64 itsmigd_event_bus_published(ItsmigdEventBus *bus);
/* Wakes every reader with ITSMIGD_EVENT_BUS_CLOSED, now and from then on. */
void itsmigd_event_bus_close(ItsmigdEventBus *bus);

/* Streams open at once, bounded by [api] max-event-streams. */
gboolean itsmigd_event_bus_stream_open(ItsmigdEventBus *bus, guint max_streams);
void itsmigd_event_bus_stream_close(ItsmigdEventBus *bus);
guint itsmigd_event_bus_streams(ItsmigdEventBus *bus);
