/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/domain-profile.h"
#include "daemon/domain-view.h"

/*
 * Every domain libvirt reports, keyed by UUID: state and reason, a bounded
 * history of lifecycle events and the view of its XML (the XML and the ITS
 * profile read from it).  Changed by the libvirt worker thread
 * (virt-worker.c), by a reader that found a view out of date, and resized by
 * a reload; HTTP threads read it through the *_json functions and take
 * references to views.  One mutex guards it, never held while parsing or
 * copying a view; replies are cached, so readers hold it briefly.
 */
typedef struct ItsmigdRegistry ItsmigdRegistry;

typedef struct {
    const char *name;
    const char *uuid;
    int id; /* -1 when inactive */
    int state;
    int reason;
    gboolean persistent;
} ItsmigdDomainInfo;

ItsmigdRegistry *itsmigd_registry_new(guint history_size);
void itsmigd_registry_free(ItsmigdRegistry *reg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdRegistry, itsmigd_registry_free)

void itsmigd_registry_set_history_size(ItsmigdRegistry *reg, guint history_size);

/* Adds or updates a domain.  Returns TRUE if it was not known; *@ret_old_state
 * (if given) is its state before, -1 when new. */
gboolean itsmigd_registry_update(ItsmigdRegistry *reg, const ItsmigdDomainInfo *info,
                                 int *ret_old_state);
/* The domain's view becomes @view (a reference is taken; NULL: none). */
void itsmigd_registry_set_view(ItsmigdRegistry *reg, const char *uuid, ItsmigdDomainView *view);
/* Like itsmigd_registry_set_view(), but only while the domain's view is still
 * @old: a reader that read the XML again never replaces a newer view. */
gboolean itsmigd_registry_replace_view(ItsmigdRegistry *reg, const char *uuid,
                                       ItsmigdDomainView *old, ItsmigdDomainView *view);
/* Where writing the itsmig record into a domain's metadata stands, for
 * GET /v1/domains: nothing to write, waiting (libvirt holds a job on the
 * domain, a migration, or the write is under way) or failed. */
typedef enum {
    ITSMIGD_RECORD_WRITE_NONE,
    ITSMIGD_RECORD_WRITE_PENDING,
    ITSMIGD_RECORD_WRITE_FAILED,
} ItsmigdRecordWrite;

/* @cause names what calls for the record ("arrival"); @why says what it
 * waits for, or why it failed.  The time is kept from the first call with
 * the same state. */
void itsmigd_registry_set_record_write(ItsmigdRegistry *reg, const char *uuid,
                                       ItsmigdRecordWrite state, const char *cause,
                                       const char *why);
/* A reference to the view of the domain called @name, and its UUID; NULL
 * when no domain has that name or its profile could not be read.  With
 * @host, the view has the domain's hostdevs described as they are now: read
 * again from its XML (and put in its place) when they changed. */
ItsmigdDomainView *itsmigd_registry_get_view(ItsmigdRegistry *reg, ItsmigdHost *host,
                                             const char *name, char **ret_uuid);
/* A reference to the domain's view whatever it holds; NULL when none. */
ItsmigdDomainView *itsmigd_registry_peek_view(ItsmigdRegistry *reg, const char *uuid);
/* The view of domain @uuid for @xml, just read from libvirt: the registry's
 * own when it was read from the same XML and its hostdevs are described as
 * they are now, else a new one, put in the registry (with @replace_any in
 * place of whatever is there, as the main loop's refresh does; else only if
 * the registry's view is still the one compared, so that a newer one
 * stays).  The XML is parsed only when something changed. */
ItsmigdDomainView *itsmigd_registry_update_view(ItsmigdRegistry *reg, ItsmigdHost *host,
                                                const char *uuid, GBytes *xml,
                                                gboolean replace_any);

typedef struct {
    char *name;
    char *uuid;
    ItsmigdDomainView *view;
} ItsmigdNamedView;
void itsmigd_named_view_free(ItsmigdNamedView *x);
/* Every domain whose profile could be read, with its view (as
 * itsmigd_registry_get_view() gives it), sorted by name. */
GPtrArray *itsmigd_registry_all_views(ItsmigdRegistry *reg, ItsmigdHost *host);

void itsmigd_registry_add_history(ItsmigdRegistry *reg, const char *uuid, gint64 time_us,
                                  const char *type, const char *detail, gboolean reconstructed);
gboolean itsmigd_registry_remove(ItsmigdRegistry *reg, const char *uuid);
gboolean itsmigd_registry_contains(ItsmigdRegistry *reg, const char *uuid);
/* The UUIDs known now (free with g_strfreev). */
char **itsmigd_registry_uuids(ItsmigdRegistry *reg);
/* Name and state of a known domain; FALSE when unknown. */
gboolean itsmigd_registry_get(ItsmigdRegistry *reg, const char *uuid, char **ret_name,
                              int *ret_state);

/* Whether a known domain is persistent; FALSE when unknown. */
gboolean itsmigd_registry_is_persistent(ItsmigdRegistry *reg, const char *uuid);

guint itsmigd_registry_count(ItsmigdRegistry *reg);
/* counts[state] for state < n_states; states past the array are not counted. */
void itsmigd_registry_count_by_state(ItsmigdRegistry *reg, guint *counts, guint n_states);

/* The body of GET /v1/domains: domains sorted by name, those in @state only
 * when @state >= 0, from @offset, at most @limit. */
GBytes *itsmigd_registry_list_json(ItsmigdRegistry *reg, int state, guint offset, guint limit);
/* The body of GET /v1/domains/{name}; NULL when no domain has that name. */
GBytes *itsmigd_registry_domain_json(ItsmigdRegistry *reg, const char *name);
