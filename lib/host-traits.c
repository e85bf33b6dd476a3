/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-replace.h"
#include "itsmig/host-traits.h"

static const char *const format_names[ITSMIG_TRAITS_FORMAT_LAST] = {
    [ITSMIG_TRAITS_FORMAT_NOVA] = "nova-provider-config",
    [ITSMIG_TRAITS_FORMAT_NFD] = "nfd",
};

const char *itsmig_traits_format_to_string(ItsmigTraitsFormat format)
{
    return format < ITSMIG_TRAITS_FORMAT_LAST ? format_names[format] : NULL;
}

gboolean itsmig_traits_format_from_string(const char *name, ItsmigTraitsFormat *ret_format)
{
    for (int f = 0; f < ITSMIG_TRAITS_FORMAT_LAST; f++) {
        if (g_strcmp0(name, format_names[f]) == 0) {
            *ret_format = f;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean known(const ItsmigHostCaps *caps, ItsmigCapField field)
{
    return caps->meta[field].source != ITSMIG_CAP_UNKNOWN;
}

char *itsmig_host_traits_regs_class(const ItsmigHostCaps *caps)
{
    const char *hex;

    if (!caps->regs_digest || !g_str_has_prefix(caps->regs_digest, "sha256:"))
        return NULL;
    hex = caps->regs_digest + strlen("sha256:");
    if (strlen(hex) < ITSMIG_REGS_CLASS_LEN)
        return NULL;
    return g_ascii_strdown(hex, ITSMIG_REGS_CLASS_LEN);
}

/* One fact as a (trait suffix, label name, label value) triple, so that the
 * two formats cannot drift apart. */
typedef struct {
    char *trait; /* after CUSTOM_ITSMIG_ */
    char *label; /* after itsmig- */
    char *value;
} Fact;

static void fact_free(Fact *f)
{
    g_free(f->trait);
    g_free(f->label);
    g_free(f->value);
    g_free(f);
}

static void add(GPtrArray *facts, char *trait, char *label, const char *value)
{
    Fact *f = g_new0(Fact, 1);

    f->trait = trait;
    f->label = label;
    f->value = g_strdup(value);
    g_ptr_array_add(facts, f);
}

static const struct {
    ItsmigCapField field;
    const char *trait;
    const char *label;
} attribute_facts[] = {
    {ITSMIG_CAP_SAVE_TABLES, "ITS_SAVE_TABLES", "its-save-tables"},
    {ITSMIG_CAP_RESTORE_TABLES, "ITS_RESTORE_TABLES", "its-restore-tables"},
    {ITSMIG_CAP_CTRL_RESET, "ITS_CTRL_RESET", "its-ctrl-reset"},
    {ITSMIG_CAP_SAVE_PENDING_TABLES, "VGIC_SAVE_PENDING_TABLES", "vgic-save-pending-tables"},
};

static gboolean attribute_value(const ItsmigHostCaps *caps, ItsmigCapField field)
{
    switch (field) {
    case ITSMIG_CAP_SAVE_TABLES: return caps->save_tables;
    case ITSMIG_CAP_RESTORE_TABLES: return caps->restore_tables;
    case ITSMIG_CAP_CTRL_RESET: return caps->ctrl_reset;
    case ITSMIG_CAP_SAVE_PENDING_TABLES: return caps->save_pending_tables;
    default: return FALSE;
    }
}

/* Only what is true and known becomes a fact: a trait says "has", and a
 * missing trait must never be read as a capability. */
static GPtrArray *facts_of(const ItsmigHostCaps *caps)
{
    GPtrArray *facts = g_ptr_array_new_with_free_func((GDestroyNotify)fact_free);
    g_autofree char *regs_class = itsmig_host_traits_regs_class(caps);

    if (known(caps, ITSMIG_CAP_VGIC_ITS) && caps->vgic_its)
        add(facts, g_strdup("VGIC_ITS"), g_strdup("vgic-its"), "true");
    if (known(caps, ITSMIG_CAP_ITS_ABI_REVISIONS)) {
        for (guint rev = 0; rev < 16; rev++) {
            if (caps->its_abi_revisions & (1u << rev))
                add(facts, g_strdup_printf("ITS_ABI_REV_%u", rev),
                    g_strdup_printf("its-abi-rev-%u", rev), "true");
        }
    }
    if (known(caps, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION)) {
        g_autofree char *v = g_strdup_printf("%u", caps->default_its_abi_revision);

        add(facts, g_strdup_printf("ITS_ABI_DEFAULT_REV_%u", caps->default_its_abi_revision),
            g_strdup("its-abi-default-rev"), v);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(attribute_facts); i++) {
        if (known(caps, attribute_facts[i].field) &&
            attribute_value(caps, attribute_facts[i].field))
            add(facts, g_strdup(attribute_facts[i].trait), g_strdup(attribute_facts[i].label),
                "true");
    }
    if (known(caps, ITSMIG_CAP_GICV4)) {
        const char *level = caps->gicv4 == ITSMIG_GICV4_1   ? "4_1"
                            : caps->gicv4 == ITSMIG_GICV4_0 ? "4_0"
                                                            : "NONE";
        const char *value = caps->gicv4 == ITSMIG_GICV4_1   ? "4.1"
                            : caps->gicv4 == ITSMIG_GICV4_0 ? "4.0"
                                                            : "none";

        add(facts, g_strdup_printf("GICV4_%s", level), g_strdup("gicv4"), value);
    }
    if (regs_class) {
        g_autofree char *upper = g_ascii_strup(regs_class, -1);

        add(facts, g_strdup_printf("VCPU_REGS_%s", upper), g_strdup("vcpu-regs-class"), regs_class);
    }
    return facts;
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **sorted_strv(GPtrArray *strings)
{
    g_ptr_array_sort(strings, compare_strings);
    g_ptr_array_add(strings, NULL);
    return (char **)g_ptr_array_free(strings, FALSE);
}

char **itsmig_host_traits_list(const ItsmigHostCaps *caps)
{
    g_autoptr(GPtrArray) facts = facts_of(caps);
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; i < facts->len; i++) {
        const Fact *f = g_ptr_array_index(facts, i);

        g_ptr_array_add(out, g_strconcat(ITSMIG_TRAIT_PREFIX, f->trait, NULL));
    }
    return sorted_strv(out);
}

char **itsmig_host_traits_labels(const ItsmigHostCaps *caps)
{
    g_autoptr(GPtrArray) facts = facts_of(caps);
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; i < facts->len; i++) {
        const Fact *f = g_ptr_array_index(facts, i);

        g_ptr_array_add(out, g_strconcat(ITSMIG_LABEL_PREFIX, f->label, "=", f->value, NULL));
    }
    return sorted_strv(out);
}

/* The host name goes into a comment only; blank anything that could end it. */
static char *comment_safe(const char *text)
{
    char *s = g_strdup(text ? text : "");

    for (char *p = s; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return s;
}

char *itsmig_host_traits_render(const ItsmigHostCaps *caps, ItsmigTraitsFormat format)
{
    g_autoptr(GString) s = g_string_new(NULL);
    g_autofree char *host = comment_safe(caps->hostname);

    if (format == ITSMIG_TRAITS_FORMAT_NOVA) {
        g_auto(GStrv) traits = itsmig_host_traits_list(caps);

        g_string_append_printf(s,
                               "# itsmig traits of host %s, from its capabilities "
                               "(itsmig-compat(7)).\n"
                               "# Written by itsmig; nova-compute reads it only when it starts.\n"
                               "meta:\n"
                               "  schema_version: '1.0'\n"
                               "providers:\n"
                               "  - identification:\n"
                               "      uuid: '$COMPUTE_NODE'\n"
                               "    traits:\n"
                               "      additional:%s\n",
                               host, traits[0] ? "" : " []");
        for (char **t = traits; *t; t++)
            g_string_append_printf(s, "        - '%s'\n", *t);
    } else {
        g_auto(GStrv) labels = itsmig_host_traits_labels(caps);

        g_string_append_printf(s,
                               "# itsmig labels of host %s, from its capabilities "
                               "(itsmig-compat(7)).\n"
                               "# Written by itsmig.\n",
                               host);
        for (char **l = labels; *l; l++)
            g_string_append_printf(s, "%s\n", *l);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static gboolean file_error(GError **error, int err, const char *what, const char *path)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s %s: %s", what, path,
                g_strerror(err));
    return FALSE;
}

gboolean itsmig_host_traits_write(const char *path, const char *text, gboolean *ret_changed,
                                  GError **error)
{
    g_autofree char *old = NULL;
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_auto(ItsmigReplaceFailure) failure = {0};
    gsize old_len = 0, len = strlen(text);
    gboolean replaced;
    int dirfd;

    if (g_file_get_contents(path, &old, &old_len, NULL) && old_len == len &&
        memcmp(old, text, len) == 0) {
        if (ret_changed)
            *ret_changed = FALSE;
        return TRUE;
    }
    /* The temporary file is beside @path, so that the rename stays within one file system,
     * and a dot name, so that neither nova-compute (*.yaml) nor NFD reads it half written. */
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return file_error(error, errno, "Cannot create a temporary file for", path);
    /* Mode 0644 whatever the umask: nova-compute and NFD run as other users. */
    replaced = itsmig_file_replace_at(dirfd, base, text, len, 0644, &failure);
    close(dirfd);
    if (!replaced) {
        static const char *const what[] = {
            [ITSMIG_REPLACE_CREATE] = "Cannot create a temporary file for",
            [ITSMIG_REPLACE_WRITE] = "Cannot write",
            [ITSMIG_REPLACE_RENAME] = "Cannot replace",
            [ITSMIG_REPLACE_SYNC_DIR] = "Cannot sync the directory of",
        };

        return file_error(error, failure.err, what[failure.step], path);
    }
    if (ret_changed)
        *ret_changed = TRUE;
    return TRUE;
}
