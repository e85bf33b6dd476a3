/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmig/json-strict.h"

typedef struct {
    const char *start;
    const char *p;
    const char *end;
    const char *what;
    guint max_depth;
} Lexer;

static gboolean lex_fail(const Lexer *lx, const char *what, GError **error)
{
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "%s is not JSON: %s at byte %zu",
                lx->what, what, (gsize)(lx->p - lx->start));
    return FALSE;
}

static void lex_ws(Lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
        lx->p++;
}

static gboolean lex_hex4(Lexer *lx, guint *ret, GError **error)
{
    guint v = 0;

    for (guint i = 0; i < 4; i++, lx->p++) {
        if (lx->p >= lx->end || !g_ascii_isxdigit(*lx->p))
            return lex_fail(lx, "bad \\u escape", error);
        v = v << 4 | g_ascii_xdigit_value(*lx->p);
    }
    *ret = v;
    return TRUE;
}

static gboolean lex_string(Lexer *lx, GError **error)
{
    lx->p++;
    for (;;) {
        guchar c;

        if (lx->p >= lx->end)
            return lex_fail(lx, "unterminated string", error);
        c = *lx->p;
        if (c == '"') {
            lx->p++;
            return TRUE;
        }
        if (c < 0x20)
            return lex_fail(lx, "control character in a string", error);
        if (c != '\\') {
            lx->p++;
            continue;
        }
        lx->p++;
        if (lx->p >= lx->end)
            return lex_fail(lx, "unterminated string", error);
        if (*lx->p != '\0' && strchr("\"\\/bfnrt", *lx->p)) {
            lx->p++;
        } else if (*lx->p == 'u') {
            guint u, low;

            lx->p++;
            if (!lex_hex4(lx, &u, error))
                return FALSE;
            if (u == 0)
                return lex_fail(lx, "\\u0000 in a string", error);
            if (u >= 0xdc00 && u <= 0xdfff)
                return lex_fail(lx, "lone low surrogate", error);
            if (u >= 0xd800 && u <= 0xdbff) {
                if (lx->end - lx->p < 2 || lx->p[0] != '\\' || lx->p[1] != 'u')
                    return lex_fail(lx, "lone high surrogate", error);
                lx->p += 2;
                if (!lex_hex4(lx, &low, error))
                    return FALSE;
                if (low < 0xdc00 || low > 0xdfff)
                    return lex_fail(lx, "lone high surrogate", error);
            }
        } else {
            return lex_fail(lx, "bad escape in a string", error);
        }
    }
}

static gboolean lex_digits(Lexer *lx)
{
    const char *s = lx->p;

    while (lx->p < lx->end && g_ascii_isdigit(*lx->p))
        lx->p++;
    return lx->p > s;
}

static gboolean lex_number(Lexer *lx, GError **error)
{
    const char *s = lx->p;
    gboolean integer = TRUE;
    g_autofree char *copy = NULL;

    if (*lx->p == '-')
        lx->p++;
    if (lx->p < lx->end && *lx->p == '0')
        lx->p++;
    else if (!lex_digits(lx))
        return lex_fail(lx, "bad number", error);
    if (lx->p < lx->end && *lx->p == '.') {
        integer = FALSE;
        lx->p++;
        if (!lex_digits(lx))
            return lex_fail(lx, "bad number", error);
    }
    if (lx->p < lx->end && (*lx->p == 'e' || *lx->p == 'E')) {
        integer = FALSE;
        lx->p++;
        if (lx->p < lx->end && (*lx->p == '+' || *lx->p == '-'))
            lx->p++;
        if (!lex_digits(lx))
            return lex_fail(lx, "bad number", error);
    }

    /* What json-glib would silently turn into another number. */
    copy = g_strndup(s, lx->p - s);
    errno = 0;
    if (integer)
        (void)g_ascii_strtoll(copy, NULL, 10);
    else
        (void)g_ascii_strtod(copy, NULL);
    if (errno == ERANGE) {
        lx->p = s;
        return lex_fail(lx, "number out of range", error);
    }
    return TRUE;
}

static gboolean lex_literal(Lexer *lx, const char *word, GError **error)
{
    gsize n = strlen(word);

    if ((gsize)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0)
        return lex_fail(lx, "unexpected character", error);
    lx->p += n;
    return TRUE;
}

static gboolean lex_value(Lexer *lx, guint depth, GError **error);

/* An object or an array: @close ends it; members of objects have names. */
static gboolean lex_container(Lexer *lx, guint depth, char close, GError **error)
{
    if (depth >= lx->max_depth)
        return lex_fail(lx, "nested too deeply", error);
    lx->p++;
    lex_ws(lx);
    if (lx->p < lx->end && *lx->p == close) {
        lx->p++;
        return TRUE;
    }
    for (;;) {
        if (close == '}') {
            if (lx->p >= lx->end || *lx->p != '"')
                return lex_fail(lx, "expected a member name", error);
            if (!lex_string(lx, error))
                return FALSE;
            lex_ws(lx);
            if (lx->p >= lx->end || *lx->p != ':')
                return lex_fail(lx, "expected ':'", error);
            lx->p++;
            lex_ws(lx);
        }
        if (!lex_value(lx, depth + 1, error))
            return FALSE;
        lex_ws(lx);
        if (lx->p < lx->end && *lx->p == ',') {
            lx->p++;
            lex_ws(lx);
            continue;
        }
        if (lx->p < lx->end && *lx->p == close) {
            lx->p++;
            return TRUE;
        }
        return lex_fail(lx, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'", error);
    }
}

static gboolean lex_value(Lexer *lx, guint depth, GError **error)
{
    if (lx->p >= lx->end)
        return lex_fail(lx, "unexpected end", error);
    switch (*lx->p) {
    case '{': return lex_container(lx, depth, '}', error);
    case '[': return lex_container(lx, depth, ']', error);
    case '"': return lex_string(lx, error);
    case 't': return lex_literal(lx, "true", error);
    case 'f': return lex_literal(lx, "false", error);
    case 'n': return lex_literal(lx, "null", error);
    default:
        if (*lx->p == '-' || g_ascii_isdigit(*lx->p))
            return lex_number(lx, error);
        return lex_fail(lx, "unexpected character", error);
    }
}

gboolean itsmig_json_check(const char *text, gsize len, guint max_depth, const char *what,
                           GError **error)
{
    Lexer lx = {.start = text, .p = text, .end = text + len, .what = what, .max_depth = max_depth};

    if (!g_utf8_validate(text, len, NULL)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON,
                    "%s is not JSON: not UTF-8, or a NUL byte", what);
        return FALSE;
    }
    lex_ws(&lx);
    if (!lex_value(&lx, 0, error))
        return FALSE;
    lex_ws(&lx);
    if (lx.p != lx.end)
        return lex_fail(&lx, "data after the value", error);
    return TRUE;
}

void itsmig_json_add_string_or_null(JsonBuilder *b, const char *member, const char *value)
{
    if (member)
        json_builder_set_member_name(b, member);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

void itsmig_json_add_int_or_null(JsonBuilder *b, const char *member, gboolean present, gint64 value)
{
    json_builder_set_member_name(b, member);
    if (present)
        json_builder_add_int_value(b, value);
    else
        json_builder_add_null_value(b);
}

void itsmig_json_add_tristate_or_null(JsonBuilder *b, const char *member, int value)
{
    json_builder_set_member_name(b, member);
    if (value < 0)
        json_builder_add_null_value(b);
    else
        json_builder_add_boolean_value(b, value != 0);
}

GBytes *itsmig_json_to_bytes(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    gsize len;
    char *text;

    json_generator_set_root(gen, node);
    text = json_generator_to_data(gen, &len);
    return g_bytes_new_take(text, len);
}
