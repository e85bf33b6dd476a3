/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host's capabilities as itsmigd.conf declares them: each key's syntax and value. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-caps-private.h"
#include "itsmig/error.h"
#include "itsmig/host-caps.h"
#include "itsmig/its-abi.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-regs-json.h"

/* ---- itsmigd.conf's syntax ----------------------------------------------- */

static gboolean parse_bool_text(const char *text, gboolean *ret_flag)
{
    if (g_ascii_strcasecmp(text, "true") == 0 || g_ascii_strcasecmp(text, "yes") == 0) {
        *ret_flag = TRUE;
        return TRUE;
    }
    if (g_ascii_strcasecmp(text, "false") == 0 || g_ascii_strcasecmp(text, "no") == 0) {
        *ret_flag = FALSE;
        return TRUE;
    }
    return FALSE;
}

static gboolean parse_revisions_text(const char *key, const char *text, guint16 *ret_revs,
                                     GError **error)
{
    g_auto(GStrv) items = NULL;
    guint16 revs = 0;

    if (strcmp(text, "none") == 0) {
        *ret_revs = 0;
        return TRUE;
    }
    items = g_strsplit_set(text, ",;", -1);
    for (guint i = 0; items[i]; i++) {
        const char *item = g_strstrip(items[i]);
        guint64 rev;

        if (item[0] == '\0') {
            g_autofree char *shown = host_caps_for_message(text);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' has an empty item; expected revisions 0..15 separated by ',' "
                        "or ';', or none",
                        key, shown);
            return FALSE;
        }
        if (!g_ascii_string_to_unsigned(item, 10, 0, ITSMIG_ITS_ABI_REV_MAX, &rev, NULL)) {
            g_autofree char *shown = host_caps_for_message(item);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a revision; expected revisions 0..15 separated by ',' "
                        "or ';', or none",
                        key, shown);
            return FALSE;
        }
        if (revs & (1u << rev)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: revision %u is listed twice", key, (guint)rev);
            return FALSE;
        }
        revs |= 1u << rev;
    }
    *ret_revs = revs;
    return TRUE;
}

static gboolean value_from_text(ItsmigCapField f, const char *text, CapValue *ret, GError **error)
{
    const char *key = host_caps_fields[f].key;
    g_autofree char *shown = host_caps_for_message(text);
    const char *problem;
    guint64 n;

    if (text[0] == '\0') {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "%s: empty value", key);
        return FALSE;
    }

    switch (host_caps_fields[f].kind) {
    case KIND_STRING:
    case KIND_VERSION:
        problem = host_caps_string_problem(text, STRING_MAX);
        if (problem && strcmp(problem, "too long") == 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: %zu bytes, more than %u", key, strlen(text), STRING_MAX);
            return FALSE;
        }
        if (problem) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: %s; expected UTF-8 text without control characters", key, problem);
            return FALSE;
        }
        if (host_caps_fields[f].kind == KIND_VERSION && !host_caps_is_version(text)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a version; expected major.minor or major.minor.micro "
                        "in digits, such as 8.2.0",
                        key, shown);
            return FALSE;
        }
        ret->str = g_strdup(text);
        return TRUE;
    case KIND_PAGE_SIZE:
        if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &n, NULL) ||
            !host_caps_is_page_size(n)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a page size; expected a power of two in %u..%u, such "
                        "as 4096, 16384 or 65536",
                        key, shown, PAGE_SIZE_MIN, PAGE_SIZE_MAX);
            return FALSE;
        }
        ret->num = n;
        return TRUE;
    case KIND_REVISION:
        if (!g_ascii_string_to_unsigned(text, 10, 0, REVISION_MAX, &n, NULL)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a revision; expected an integer in 0..15", key, shown);
            return FALSE;
        }
        ret->num = n;
        return TRUE;
    case KIND_REVISIONS: return parse_revisions_text(key, text, &ret->revs, error);
    case KIND_BOOLEAN:
        if (!parse_bool_text(text, &ret->flag)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a boolean; expected true, false, yes or no", key, shown);
            return FALSE;
        }
        return TRUE;
    case KIND_GICV4:
        if (!host_caps_gicv4_from_string(text, &ret->gicv4)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a GICv4 level; expected none, 4.0 or 4.1", key, shown);
            return FALSE;
        }
        return TRUE;
    }
    g_assert_not_reached();
}

gboolean itsmig_host_caps_set(ItsmigHostCaps *caps, ItsmigCapField field, ItsmigCapSource source,
                              const char *text, GError **error)
{
    g_auto(CapValue) v = {0};

    g_return_val_if_fail(caps != NULL, FALSE);
    g_return_val_if_fail(text != NULL, FALSE);
    g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

    if ((guint)field >= ITSMIG_CAP_LAST) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "host capability field %d does not exist", (int)field);
        return FALSE;
    }
    if (source != ITSMIG_CAP_PROBED && source != ITSMIG_CAP_DECLARED) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: a value is set as probed or declared, not %s", host_caps_fields[field].key,
                    itsmig_cap_source_to_string(source));
        return FALSE;
    }
    if (!value_from_text(field, text, &v, error))
        return FALSE;

    /* A second declaration could no longer tell whether an earlier probe
     * agreed with the first, so it is refused unless it repeats the value. */
    if (source == ITSMIG_CAP_DECLARED && caps->meta[field].source == ITSMIG_CAP_DECLARED) {
        CapValue cur;
        g_autofree char *cur_text = NULL;
        g_autofree char *new_text = host_caps_value_to_text(field, &v);

        host_caps_value_peek(caps, field, &cur);
        cur_text = host_caps_value_to_text(field, &cur);
        if (strcmp(cur_text, new_text) == 0)
            return TRUE;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: declared twice, as %s and as %s", host_caps_fields[field].key, cur_text,
                    new_text);
        return FALSE;
    }
    host_caps_apply(caps, field, source, &v);
    return TRUE;
}
