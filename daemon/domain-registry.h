/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/domain-profile.h"

/*
 * Every domain libvirt reports, keyed by UUID: state and reason, a bounded
 * history of lifecycle events and the ITS profile from its XML.  Changed by
 * the libvirt worker thread (virt-worker.c), resized by a reload; HTTP
 * threads read it through the *_json functions.  One mutex guards it;
 * replies are cached, so readers hold it briefly.
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
/* Takes @profile (may be NULL with @profile_error saying why). */
void itsmigd_registry_set_profile(ItsmigdRegistry *reg, const char *uuid,
                                  ItsmigDomainProfile *profile, const char *profile_error);
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
/* The domain XML behind the profile (kept by reference). */
void itsmigd_registry_set_xml(ItsmigdRegistry *reg, const char *uuid, GBytes *xml);
/* The XML of the domain called @name and its UUID; NULL when unknown. */
GBytes *itsmigd_registry_get_xml(ItsmigdRegistry *reg, const char *name, char **ret_uuid);

typedef struct {
    char *name;
    char *uuid;
    GBytes *xml;
} ItsmigdDomainXml;
void itsmigd_domain_xml_free(ItsmigdDomainXml *x);
/* Every domain whose XML is known, sorted by name. */
GPtrArray *itsmigd_registry_all_xml(ItsmigdRegistry *reg);

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
