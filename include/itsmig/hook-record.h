/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The libvirt hook's record of a domain, RECORD-DIR/UUID.json ([hook]
 * record-dir): the hook writes it (client/hooks/itsmig-hook.c), itsmigd reads
 * it to tell an arrival by migration from a cold start.  One type, one reader
 * and one writer for both:
 *
 *   {"uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f", "name": "vm1",
 *    "incoming": true, "migrate_begin_at": 1795255200, "started_at": null}
 */

#include <glib.h>
#include <json-glib/json-glib.h>

/* A record is a few hundred bytes; anything much larger is not one. */
#define ITSMIG_HOOK_RECORD_MAX (64 * 1024)

typedef struct {
    char *uuid;              /* lower case, canonical */
    char *name;              /* NULL when the record names none */
    gboolean incoming;       /* the current (or coming) run arrived by migration */
    gint64 migrate_begin_at; /* unix seconds of "migrate begin"; 0: null */
    gint64 started_at;       /* unix seconds of "started begin"; 0: null */
} ItsmigHookRecord;

void itsmig_hook_record_free(ItsmigHookRecord *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigHookRecord, itsmig_hook_record_free)

/* TRUE when @uuid is "8-4-4-4-12" hex digits: only such a UUID becomes a file
 * name. */
gboolean itsmig_hook_record_uuid_valid(const char *uuid);

/* The record @text (@len bytes, from the file @path) of the domain @uuid; NULL
 * with an ITSMIG_ERROR_INVALID_JSON error naming @path when it is not JSON, not
 * an object, names another domain or has a member of the wrong type (the times
 * are positive integers or null). */
ItsmigHookRecord *itsmig_hook_record_parse(const char *text, gsize len, const char *path,
                                           const char *uuid, GError **error);
/* The record as JSON, which itsmig_hook_record_parse() reads back. */
JsonNode *itsmig_hook_record_to_json(const ItsmigHookRecord *r);

/* Reads @dir/@uuid.json without following a symlink nor blocking on a FIFO
 * (itsmigd reads it on its main loop).  NULL with @error unset when there is
 * none, or @uuid is not a UUID; NULL with @error set when it is there but
 * unusable (not a regular file, unreadable, larger than
 * ITSMIG_HOOK_RECORD_MAX, or not a record of @uuid). */
ItsmigHookRecord *itsmig_hook_record_load(const char *dir, const char *uuid, GError **error);
/* Writes @r as @dir/UUID.json, atomically and durably (a temporary file,
 * fsync'd, renamed over it), creating @dir (mode 0700) if needed. */
gboolean itsmig_hook_record_save(const char *dir, const ItsmigHookRecord *r, GError **error);
/* Removes @dir/@uuid.json; TRUE when there was none. */
gboolean itsmig_hook_record_remove(const char *dir, const char *uuid, GError **error);

/* Why the hook refused a restore by itself, without a verdict of itsmigd's: the "reason" it
 * tells itsmigd (POST /v1/hook/refused), which counts it as the rule of
 * itsmigd_hook_refusals_total.  The record in the XML is unusable or contradicts itself; there
 * is none ([hook] restore-unrecorded = deny); the image holds ITS tables this host's kernel
 * would not restore; the image could not be read ([hook] restore-image-unread = deny). */
#define ITSMIG_HOOK_REFUSAL_RECORD_INVALID     "record-invalid"
#define ITSMIG_HOOK_REFUSAL_RESTORE_UNRECORDED "restore-unrecorded"
#define ITSMIG_HOOK_REFUSAL_IMAGE_REFUSED      "image-refused"
#define ITSMIG_HOOK_REFUSAL_IMAGE_UNREAD       "image-unread"

/* The longest message such a report carries. */
#define ITSMIG_HOOK_REFUSAL_MESSAGE_MAX 4096

/* Whether @reason is one of ITSMIG_HOOK_REFUSAL_*. */
gboolean itsmig_hook_refusal_reason_known(const char *reason);
