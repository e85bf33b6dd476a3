/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "itsmig/host-traits.h"

#define DIGEST "sha256:0123456789abcdefFEDCBA98765432100123456789abcdef0123456789abcdef"

static void declare(ItsmigHostCaps *caps, ItsmigCapField field, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(itsmig_host_caps_set(caps, field, ITSMIG_CAP_DECLARED, text, &error));
    g_assert_no_error(error);
}

/* An arm64 host with revision 0, the four attributes, GICv4.1 and a register set. */
static ItsmigHostCaps *full_caps(void)
{
    ItsmigHostCaps *caps = itsmig_host_caps_new("host-a");

    declare(caps, ITSMIG_CAP_ARCH, "aarch64");
    declare(caps, ITSMIG_CAP_VGIC_ITS, "true");
    declare(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, "0");
    declare(caps, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "0");
    declare(caps, ITSMIG_CAP_SAVE_TABLES, "true");
    declare(caps, ITSMIG_CAP_RESTORE_TABLES, "true");
    declare(caps, ITSMIG_CAP_CTRL_RESET, "true");
    declare(caps, ITSMIG_CAP_SAVE_PENDING_TABLES, "true");
    declare(caps, ITSMIG_CAP_GICV4, "4.1");
    caps->regs_digest = g_strdup(DIGEST);
    return caps;
}

static void test_format_names(void)
{
    ItsmigTraitsFormat f;

    for (int i = 0; i < ITSMIG_TRAITS_FORMAT_LAST; i++) {
        g_assert_true(itsmig_traits_format_from_string(itsmig_traits_format_to_string(i), &f));
        g_assert_cmpint(f, ==, i);
    }
    g_assert_false(itsmig_traits_format_from_string("yaml", &f));
    g_assert_false(itsmig_traits_format_from_string(NULL, &f));
    g_assert_null(itsmig_traits_format_to_string(ITSMIG_TRAITS_FORMAT_LAST));
}

static void test_traits_full(void)
{
    g_autoptr(ItsmigHostCaps) caps = full_caps();
    g_auto(GStrv) traits = itsmig_host_traits_list(caps);
    const char *const want[] = {
        "CUSTOM_ITSMIG_GICV4_4_1",
        "CUSTOM_ITSMIG_ITS_ABI_DEFAULT_REV_0",
        "CUSTOM_ITSMIG_ITS_ABI_REV_0",
        "CUSTOM_ITSMIG_ITS_CTRL_RESET",
        "CUSTOM_ITSMIG_ITS_RESTORE_TABLES",
        "CUSTOM_ITSMIG_ITS_SAVE_TABLES",
        "CUSTOM_ITSMIG_VCPU_REGS_0123456789ABCDEF",
        "CUSTOM_ITSMIG_VGIC_ITS",
        "CUSTOM_ITSMIG_VGIC_SAVE_PENDING_TABLES",
        NULL,
    };

    g_assert_cmpstrv(traits, want);
    /* Placement's rule for custom traits. */
    for (char **t = traits; *t; t++) {
        g_assert_cmpuint(strlen(*t), <=, 255);
        for (const char *p = *t; *p; p++)
            g_assert_true(g_ascii_isupper(*p) || g_ascii_isdigit(*p) || *p == '_');
    }
}

static void test_traits_unknown_none(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("host-b");
    g_auto(GStrv) traits = itsmig_host_traits_list(caps);
    g_auto(GStrv) labels = itsmig_host_traits_labels(caps);

    g_assert_cmpuint(g_strv_length(traits), ==, 0);
    g_assert_cmpuint(g_strv_length(labels), ==, 0);
}

/* A capability known to be absent gives no trait: a flavor that requires
 * it must not land here. */
static void test_traits_false_none(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("host-c");
    g_auto(GStrv) traits = NULL;
    const char *const want[] = {
        "CUSTOM_ITSMIG_GICV4_NONE",
        "CUSTOM_ITSMIG_ITS_ABI_DEFAULT_REV_1",
        "CUSTOM_ITSMIG_ITS_ABI_REV_0",
        "CUSTOM_ITSMIG_ITS_ABI_REV_1",
        "CUSTOM_ITSMIG_ITS_RESTORE_TABLES",
        "CUSTOM_ITSMIG_VGIC_ITS",
        NULL,
    };

    declare(caps, ITSMIG_CAP_ARCH, "aarch64");
    declare(caps, ITSMIG_CAP_VGIC_ITS, "true");
    declare(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, "0,1");
    declare(caps, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "1");
    declare(caps, ITSMIG_CAP_SAVE_TABLES, "false");
    declare(caps, ITSMIG_CAP_RESTORE_TABLES, "true");
    declare(caps, ITSMIG_CAP_GICV4, "none");
    traits = itsmig_host_traits_list(caps);
    g_assert_cmpstrv(traits, want);
}

static void test_regs_class(void)
{
    g_autoptr(ItsmigHostCaps) caps = full_caps();
    g_autofree char *cls = itsmig_host_traits_regs_class(caps);

    /* Lower case whatever the digest's case: the class is a name, stable. */
    g_assert_cmpstr(cls, ==, "0123456789abcdef");
    g_free(caps->regs_digest);
    caps->regs_digest = g_strdup("md5:0123456789abcdef0123");
    g_assert_null(itsmig_host_traits_regs_class(caps));
    g_clear_pointer(&caps->regs_digest, g_free);
    g_assert_null(itsmig_host_traits_regs_class(caps));
}

/* Kubernetes: a name part of at most 63 characters, alphanumerics with '-',
 * '_' and '.' inside; a value the same or empty. */
static gboolean k8s_label_part(const char *s, gboolean empty_ok)
{
    gsize len = strlen(s);

    if (len == 0)
        return empty_ok;
    if (len > 63 || !g_ascii_isalnum(s[0]) || !g_ascii_isalnum(s[len - 1]))
        return FALSE;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_.", *p))
            return FALSE;
    }
    return TRUE;
}

static void test_labels(void)
{
    g_autoptr(ItsmigHostCaps) caps = full_caps();
    g_auto(GStrv) labels = itsmig_host_traits_labels(caps);
    const char *const want[] = {
        "itsmig-gicv4=4.1",
        "itsmig-its-abi-default-rev=0",
        "itsmig-its-abi-rev-0=true",
        "itsmig-its-ctrl-reset=true",
        "itsmig-its-restore-tables=true",
        "itsmig-its-save-tables=true",
        "itsmig-vcpu-regs-class=0123456789abcdef",
        "itsmig-vgic-its=true",
        "itsmig-vgic-save-pending-tables=true",
        NULL,
    };

    g_assert_cmpstrv(labels, want);
    for (char **l = labels; *l; l++) {
        g_auto(GStrv) kv = g_strsplit(*l, "=", 2);

        g_assert_true(k8s_label_part(kv[0], FALSE));
        g_assert_true(k8s_label_part(kv[1], TRUE));
    }
}

static void test_render_nova(void)
{
    g_autoptr(ItsmigHostCaps) caps = full_caps();
    g_autofree char *text = NULL;

    g_free(caps->hostname);
    caps->hostname = g_strdup("evil\nproviders: []");
    text = itsmig_host_traits_render(caps, ITSMIG_TRAITS_FORMAT_NOVA);
    g_assert_nonnull(strstr(text, "\nmeta:\n  schema_version: '1.0'\nproviders:\n"));
    g_assert_nonnull(strstr(text, "uuid: '$COMPUTE_NODE'"));
    g_assert_nonnull(strstr(text, "        - 'CUSTOM_ITSMIG_VGIC_ITS'\n"));
    /* The host name stays inside its comment. */
    g_assert_nonnull(strstr(text, "host evil?providers: []"));
}

static void test_render_nova_empty(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("h");
    g_autofree char *text = itsmig_host_traits_render(caps, ITSMIG_TRAITS_FORMAT_NOVA);

    g_assert_nonnull(strstr(text, "      additional: []\n"));
}

static void test_render_nfd(void)
{
    g_autoptr(ItsmigHostCaps) caps = full_caps();
    g_autofree char *text = itsmig_host_traits_render(caps, ITSMIG_TRAITS_FORMAT_NFD);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint n_labels = 0;

    g_assert_cmpuint(strlen(text), <, ITSMIG_NFD_FILE_MAX);
    for (char **l = lines; *l; l++) {
        if (!**l || **l == '#') {
            /* A comment must not look like one of NFD's "# +" directives. */
            g_assert_false(g_str_has_prefix(*l, "# +"));
            continue;
        }
        g_assert_nonnull(strchr(*l, '='));
        n_labels++;
    }
    g_assert_cmpuint(n_labels, ==, 9);
}

typedef struct {
    char *dir;
} Tmp;

static void tmp_setup(Tmp *t, gconstpointer data)
{
    t->dir = g_dir_make_tmp("test-host-traits-XXXXXX", NULL);
    g_assert_nonnull(t->dir);
}

static void tmp_teardown(Tmp *t, gconstpointer data)
{
    g_autoptr(GDir) d = g_dir_open(t->dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(t->dir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(t->dir);
    g_free(t->dir);
}

static guint count_files(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    while (g_dir_read_name(d))
        n++;
    return n;
}

/* A rename that fails (a directory holds the name): an error naming the
 * path, what was there as it was, no temporary file left. */
static void test_write_keeps_old(Tmp *t, gconstpointer data)
{
    g_autofree char *path = g_build_filename(t->dir, "itsmig.yaml", NULL);
    g_autofree char *inside = g_build_filename(path, "kept", NULL);
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(g_mkdir(path, 0755), ==, 0);
    g_assert_true(g_file_set_contents(inside, "x", -1, NULL));
    g_assert_false(itsmig_host_traits_write(path, "new\n", NULL, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_true(g_file_test(inside, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpuint(count_files(t->dir), ==, 1);
    g_unlink(inside);
    g_rmdir(path);
}

static void test_write(Tmp *t, gconstpointer data)
{
    g_autofree char *path = g_build_filename(t->dir, "itsmig.yaml", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    gboolean changed = FALSE;
    struct stat st;
    mode_t mask = umask(077);

    /* Readable by nova-compute and NFD even under itsmigd.service's UMask=0077. */
    g_assert_true(itsmig_host_traits_write(path, "one\n", &changed, &error));
    umask(mask);
    g_assert_no_error(error);
    g_assert_true(changed);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "one\n");
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0644);

    /* The same text again: nothing written, so no spurious "changed". */
    g_assert_true(itsmig_host_traits_write(path, "one\n", &changed, &error));
    g_assert_false(changed);
    g_assert_true(itsmig_host_traits_write(path, "two\n", &changed, &error));
    g_assert_true(changed);
    g_clear_pointer(&text, g_free);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "two\n");
    /* No temporary file left beside it. */
    g_assert_cmpuint(count_files(t->dir), ==, 1);
}

static void test_write_fails_cleanly(Tmp *t, gconstpointer data)
{
    g_autofree char *path = g_build_filename(t->dir, "missing", "itsmig.yaml", NULL);
    g_autoptr(GError) error = NULL;
    gboolean changed = FALSE;

    g_assert_false(itsmig_host_traits_write(path, "x\n", &changed, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_assert_nonnull(strstr(error->message, "missing"));
    g_assert_cmpuint(count_files(t->dir), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/host-traits/format/names", test_format_names);
    g_test_add_func("/host-traits/traits/full", test_traits_full);
    g_test_add_func("/host-traits/traits/unknown-gives-none", test_traits_unknown_none);
    g_test_add_func("/host-traits/traits/absent-gives-none", test_traits_false_none);
    g_test_add_func("/host-traits/regs-class/short-digest", test_regs_class);
    g_test_add_func("/host-traits/labels/kubernetes-valid", test_labels);
    g_test_add_func("/host-traits/render/nova", test_render_nova);
    g_test_add_func("/host-traits/render/nova-no-traits", test_render_nova_empty);
    g_test_add_func("/host-traits/render/nfd-format", test_render_nfd);
    g_test_add("/host-traits/write/atomic", Tmp, NULL, tmp_setup, test_write, tmp_teardown);
    g_test_add("/host-traits/write/fails-cleanly", Tmp, NULL, tmp_setup, test_write_fails_cleanly,
               tmp_teardown);
    g_test_add("/host-traits/write/keeps-old-file", Tmp, NULL, tmp_setup, test_write_keeps_old,
               tmp_teardown);
    return g_test_run();
}
