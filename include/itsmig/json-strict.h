/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * json-glib 1.6 accepts more than JSON (comments, single quotes, hex numbers,
 * data after the value), cuts strings at \u0000, turns integers beyond 64
 * bits into other numbers, and recurses without a limit: a few thousand
 * nested brackets overflow the stack of the thread parsing them.  Text from
 * anyone else (a REST body, a peer's reply, a file another program wrote) is
 * therefore checked against RFC 8259 here first, with a nesting limit.
 */

#include <glib.h>
#include <json-glib/json-glib.h>

/* Most nesting any itsmig document needs, with room to spare. */
#define ITSMIG_JSON_DEPTH_MAX 32

/* TRUE when @text is exactly one JSON value (RFC 8259, UTF-8, no NUL, no
 * \u0000, integers within 64 bits) nested at most @max_depth deep; else
 * ITSMIG_ERROR_INVALID_JSON "@what is not JSON: <why> at byte N". */
gboolean itsmig_json_check(const char *text, gsize len, guint max_depth, const char *what,
                           GError **error);

/* Adds @value to @b as a string, or null when it is NULL: as member @member
 * of the object being built, or, with @member NULL, as the next value (an
 * array element, or a member whose name was just set). */
void itsmig_json_add_string_or_null(JsonBuilder *b, const char *member, const char *value);
/* Member @member: @value, or null when it is not @present. */
void itsmig_json_add_int_or_null(JsonBuilder *b, const char *member, gboolean present,
                                 gint64 value);
/* Member @member: a boolean, or null for a negative @value (not known). */
void itsmig_json_add_tristate_or_null(JsonBuilder *b, const char *member, int value);

/* @node as compact JSON text, without a trailing NUL in its length: a reply
 * body or a record. */
GBytes *itsmig_json_to_bytes(JsonNode *node);
