/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-read.h"
#include "itsmig/error.h"
#include "itsmig/hook-record.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"

void itsmig_hook_record_free(ItsmigHookRecord *r)
{
    if (!r)
        return;
    g_free(r->uuid);
    g_free(r->name);
    g_free(r);
}

gboolean itsmig_hook_record_uuid_valid(const char *uuid)
{
    if (!uuid || strlen(uuid) != 36)
        return FALSE;
    for (int i = 0; i < 36; i++) {
        gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? uuid[i] != '-' : !g_ascii_isxdigit(uuid[i]))
            return FALSE;
    }
    return TRUE;
}

static char *record_path(const char *dir, const char *uuid)
{
    g_autofree char *file = g_strconcat(uuid, ".json", NULL);

    return g_build_filename(dir, file, NULL);
}

ItsmigHookRecord *itsmig_hook_record_parse(const char *text, gsize len, const char *path,
                                           const char *uuid, GError **error)
{
    const ItsmigJsonAt at = {ITSMIG_ERROR_INVALID_JSON, path, NULL};
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(ItsmigHookRecord) r = g_new0(ItsmigHookRecord, 1);
    g_autoptr(GError) local = NULL;
    JsonNode *root;
    JsonObject *o;
    const char *s;
    gboolean has;

    if (!itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, path, error))
        return NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "%s: %s", path, local->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "%s: not a JSON object", path);
        return NULL;
    }
    o = json_node_get_object(root);
    if (!itsmig_json_get_string(&at, o, "uuid", FALSE, &s, error))
        return NULL;
    if (g_strcmp0(s, uuid) != 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "%s: not a record of domain %s",
                    path, uuid);
        return NULL;
    }
    if (!itsmig_json_get_bool(&at, o, "incoming", &r->incoming, error) ||
        !itsmig_json_get_int_or_null(&at, o, "migrate_begin_at", 1, G_MAXINT64, &has,
                                     &r->migrate_begin_at, error) ||
        !itsmig_json_get_int_or_null(&at, o, "started_at", 1, G_MAXINT64, &has, &r->started_at,
                                     error))
        return NULL;
    r->uuid = g_strdup(uuid);
    /* Kept for people reading the directory; nothing depends on it. */
    r->name = g_strdup(itsmig_json_lookup_string(o, "name"));
    return g_steal_pointer(&r);
}

JsonNode *itsmig_hook_record_to_json(const ItsmigHookRecord *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "uuid", r->uuid);
    itsmig_json_add_string_or_null(b, "name", r->name);
    json_builder_set_member_name(b, "incoming");
    json_builder_add_boolean_value(b, r->incoming);
    itsmig_json_add_int_or_null(b, "migrate_begin_at", r->migrate_begin_at != 0,
                                r->migrate_begin_at);
    itsmig_json_add_int_or_null(b, "started_at", r->started_at != 0, r->started_at);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static gboolean fail_errno(GError **error, int e, const char *what, const char *path)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot %s %s: %s", what, path,
                g_strerror(e));
    return FALSE;
}

/* The file's bytes, at most ITSMIG_HOOK_RECORD_MAX of them; NULL with @error
 * unset when there is no file. */
static char *read_record(const char *path, gsize *ret_len, GError **error)
{
    ItsmigReadFailure f = {0};
    char *text = itsmig_file_read_at(AT_FDCWD, path, ITSMIG_HOOK_RECORD_MAX, ret_len, NULL, &f);

    if (text || (f.call && strcmp(f.call, "open") == 0 && f.err == ENOENT))
        return text;
    if (f.call)
        fail_errno(error, f.err, f.call, path);
    else if (f.err == EFBIG)
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON,
                    "%s is larger than %d bytes, not a record", path, ITSMIG_HOOK_RECORD_MAX);
    else
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is not a regular file", path);
    return NULL;
}

ItsmigHookRecord *itsmig_hook_record_load(const char *dir, const char *uuid, GError **error)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!dir || !itsmig_hook_record_uuid_valid(uuid))
        return NULL;
    path = record_path(dir, uuid);
    text = read_record(path, &len, error);
    if (!text)
        return NULL;
    return itsmig_hook_record_parse(text, len, path, uuid, error);
}

gboolean itsmig_hook_record_save(const char *dir, const ItsmigHookRecord *r, GError **error)
{
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *json = NULL;
    g_autofree char *text = NULL;
    g_autofree char *path = NULL;
    struct stat st;

    if (!itsmig_hook_record_uuid_valid(r->uuid)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "a hook record needs a UUID, not '%s'", r->uuid ? r->uuid : "(none)");
        return FALSE;
    }
    errno = 0;
    if (g_mkdir_with_parents(dir, 0700) < 0 || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        int e = errno ? errno : ENOTDIR;

        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot create the record directory %s: %s", dir, g_strerror(e));
        return FALSE;
    }
    root = itsmig_hook_record_to_json(r);
    json = json_to_string(root, FALSE);
    text = g_strconcat(json, "\n", NULL);
    path = record_path(dir, r->uuid);
    /* Durable: after a crash the file is the old record or the new, never empty. */
    return g_file_set_contents_full(
        path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, error);
}

gboolean itsmig_hook_record_remove(const char *dir, const char *uuid, GError **error)
{
    g_autofree char *path = NULL;

    if (!itsmig_hook_record_uuid_valid(uuid))
        return TRUE;
    path = record_path(dir, uuid);
    if (unlink(path) < 0 && errno != ENOENT)
        return fail_errno(error, errno, "remove", path);
    return TRUE;
}

gboolean itsmig_hook_refusal_reason_known(const char *reason)
{
    static const char *const known[] = {
        ITSMIG_HOOK_REFUSAL_RECORD_INVALID,
        ITSMIG_HOOK_REFUSAL_RESTORE_UNRECORDED,
        ITSMIG_HOOK_REFUSAL_IMAGE_REFUSED,
        ITSMIG_HOOK_REFUSAL_IMAGE_UNREAD,
    };

    for (gsize i = 0; i < G_N_ELEMENTS(known); i++)
        if (g_strcmp0(reason, known[i]) == 0)
            return TRUE;
    return FALSE;
}
