/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

/*
 * The hook's per-domain record (RECORD-DIR/UUID.json), as the hook reads it
 * back: apart from the file I/O so that the fuzz harness can take it alone.
 */
typedef struct {
    char *uuid;
    char *name;
    gboolean incoming;
    gint64 migrate_begin_at; /* 0: null */
    gint64 started_at;       /* 0: null */
} HookRecord;

void itsmig_hook_record_free(HookRecord *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HookRecord, itsmig_hook_record_free)

/* The record @text (@len bytes, read from @path) of the domain @uuid; NULL
 * with an error naming @path when it is not JSON, not an object, names
 * another domain or has members of the wrong type. */
HookRecord *itsmig_hook_record_parse(const char *text, gsize len, const char *path,
                                     const char *uuid, GError **error);
