/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Typed reading of a JSON object's members, for every document itsmig reads
 * (its own records, REST bodies and replies, the hook's record).  json-glib's
 * typed getters warn, and return 0 or NULL, on a member of another type; these
 * check the type and say which member is wrong.  The text they read should
 * have passed itsmig_json_check() first (json-strict.h).
 */

#include <glib.h>
#include <json-glib/json-glib.h>

/* Where the object being read sits, for the messages: "PREFIX: "PATH.NAME" is
 * missing or not WANT", with the error code @code (an ItsmigErrorCode). */
typedef struct {
    int code;
    const char *prefix; /* the document ("job record"); NULL for none */
    const char *path;   /* the object within it ("migrations[0].options"); NULL at the top */
} ItsmigJsonAt;

/* Sets @error for member @name of the object at @at that is missing or not
 * @want ("a string"); returns FALSE. */
gboolean itsmig_json_bad_member(const ItsmigJsonAt *at, const char *name, const char *want,
                                GError **error);
/* "PATH.NAME", or NAME at the top; for the ItsmigJsonAt of a member object. */
char *itsmig_json_path(const ItsmigJsonAt *at, const char *name);

/* The first member of @o that is neither in @known nor in @optional (each
 * NULL-terminated; @optional may be NULL), or NULL when there is none; the
 * caller says what an unknown member means in its document. */
const char *itsmig_json_unknown_member(JsonObject *o, const char *const *known,
                                       const char *const *optional);

/* Member @name's string; NULL when it is missing or not a string, or @o is
 * NULL.  For members whose absence is fine or has been checked, never to
 * check one. */
const char *itsmig_json_lookup_string(JsonObject *o, const char *name);

/* Each reads member @name of @o into *@ret, or sets @error and returns FALSE.
 * Those with @nullable accept null (*@ret NULL). */
gboolean itsmig_json_get_string(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                gboolean nullable, const char **ret, GError **error);
gboolean itsmig_json_get_bool(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                              gboolean *ret, GError **error);
/* An integer in [@min, @max]. */
gboolean itsmig_json_get_int(const ItsmigJsonAt *at, JsonObject *o, const char *name, gint64 min,
                             gint64 max, gint64 *ret, GError **error);
/* The same, or null: *@ret_has FALSE (and *@ret untouched). */
gboolean itsmig_json_get_int_or_null(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                     gint64 min, gint64 max, gboolean *ret_has, gint64 *ret,
                                     GError **error);
/* An integer or a fraction, or null: *@ret_has FALSE. */
gboolean itsmig_json_get_number_or_null(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                        gboolean *ret_has, double *ret, GError **error);
/* A string that @parse turns into a value of at least 0 (an enum's
 * from_string); null gives -1 when @nullable. */
gboolean itsmig_json_get_enum(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                              int (*parse)(const char *), gboolean nullable, int *ret,
                              GError **error);
gboolean itsmig_json_get_object(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                gboolean nullable, JsonObject **ret, GError **error);
gboolean itsmig_json_get_array(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                               gboolean nullable, JsonArray **ret, GError **error);
/* An array whose elements are all strings. */
gboolean itsmig_json_get_string_array(const ItsmigJsonAt *at, JsonObject *o, const char *name,
                                      gboolean nullable, JsonArray **ret, GError **error);
/* Element @i of @a, which sits at @at as member @name, as an object:
 * "PATH.NAME[I]" is not an object otherwise. */
gboolean itsmig_json_get_element_object(const ItsmigJsonAt *at, const char *name, JsonArray *a,
                                        guint i, JsonObject **ret, GError **error);

/* Writing: member @name of the object being built, with its value; a NULL array is written as
 * null.  Strings, and integers or booleans that may be null:
 * itsmig_json_add_string_or_null(), itsmig_json_add_int_or_null(),
 * itsmig_json_add_tristate_or_null() (json-strict.h). */
void itsmig_json_add_int(JsonBuilder *b, const char *name, gint64 value);
void itsmig_json_add_bool(JsonBuilder *b, const char *name, gboolean value);
/* An array of the strings of @strv. */
void itsmig_json_add_strv(JsonBuilder *b, const char *name, const char *const *strv);
