/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "daemon/config-private.h"

/* [policy] of itsmigd.conf: the severity of each compatibility rule and
 * which devices may stay attached through a migration. */

gboolean itsmigd_config_parse_bool(const char *value, gboolean *ret)
{
    if (!g_ascii_strcasecmp(value, "true") || !g_ascii_strcasecmp(value, "yes")) {
        *ret = TRUE;
        return TRUE;
    }
    if (!g_ascii_strcasecmp(value, "false") || !g_ascii_strcasecmp(value, "no")) {
        *ret = FALSE;
        return TRUE;
    }
    return FALSE;
}

/* The words of [policy] @key, each made only of letters, digits and
 * @extra; any other is reported as not @what and left out. */
static char **read_words(const ItsmigdConfig *c, GKeyFile *kf, const char *key, const char *extra,
                         const char *what, GError **error)
{
    g_auto(GStrv) list = g_key_file_get_string_list(kf, "policy", key, NULL, NULL);
    g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);

    for (gsize i = 0; list && list[i]; i++) {
        gboolean fine = TRUE;

        g_strstrip(list[i]);
        if (!list[i][0])
            continue;
        for (const char *p = list[i]; *p && fine; p++)
            fine = g_ascii_isalnum(*p) || strchr(extra, *p);
        if (!fine)
            itsmigd_config_error(error, c->path, "policy", key, "'%s' is not %s", list[i], what);
        else
            g_ptr_array_add(words, g_strdup(list[i]));
    }
    g_ptr_array_add(words, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&words), FALSE);
}

static void set_words(char ***field, char **words)
{
    g_strfreev(*field);
    *field = words;
}

static void read_policy_key(ItsmigdConfig *c, GKeyFile *kf, const char *key, char **value,
                            gpointer data, GError **error)
{
    g_autoptr(GError) local = NULL;
    ItsmigRule rule;

    if (!strcmp(key, "check-emulated")) {
        if (!itsmigd_config_parse_bool(*value, &c->policy.check_emulated))
            itsmigd_config_error(error, c->path, "policy", key, "'%s' is not true or false",
                                 *value);
    } else if (!strcmp(key, "migratable-drivers")) {
        set_words(&c->migratable_drivers, read_words(c, kf, key, "_-", "a driver name", error));
    } else if (!strcmp(key, "non-migratable-devices")) {
        /* Device aliases are letters, digits, '-', '_' and '.'; a
         * pattern adds '*' and '?'. */
        set_words(&c->non_migratable,
                  read_words(c, kf, key, "-_.*?", "a device alias pattern", error));
    } else if (itsmig_rule_from_string(key, &rule)) {
        if (!itsmig_compat_policy_set(&c->policy, key, *value, &local))
            itsmigd_config_error(error, c->path, "policy", key, "%s", local->message);
    }
    (void)data;
}

gboolean itsmigd_config_read_policy(ItsmigdConfig *c, GKeyFile *kf, GError **error)
{
    return itsmigd_config_read_group(c, kf, "policy", read_policy_key, NULL, error) &&
           (!error || !*error);
}
