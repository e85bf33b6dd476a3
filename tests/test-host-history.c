/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "itsmig/host-history.h"
#include "itsmig/kvm-regs.h"

/* A register id of the arm64 core set, and one of a system register. */
#define REG_X0  0x6030000000100000ull
#define REG_TCR 0x603000000013c102ull
#define REG_PIR 0x603000000013c513ull

typedef struct {
    char *dir;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    g_autofree char *top = g_dir_make_tmp("itsmig-history-XXXXXX", NULL);

    g_assert_nonnull(top);
    f->dir = g_build_filename(top, "host-history", NULL);
}

static void remove_tree(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(path, name, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
            remove_tree(p);
        else
            g_unlink(p);
    }
    g_rmdir(path);
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *top = g_path_get_dirname(f->dir);

    remove_tree(top);
    g_free(f->dir);
}

/* A host under kernel @release whose vCPUs have the registers @ids (@n of them). */
static ItsmigHostCaps *host(const char *release, const guint64 *ids, gsize n, const char *revs)
{
    ItsmigHostCaps *c = itsmig_host_caps_new("hostA");
    ItsmigKvmRegSet set = {.available = true, .n_regs = n};
    g_autoptr(GError) error = NULL;

    set.regs = g_new0(ItsmigKvmReg, n);
    for (gsize i = 0; i < n; i++)
        set.regs[i].id = ids[i];
    itsmig_host_caps_set_regs(c, &set);
    g_free(set.regs);
    g_assert_true(
        itsmig_host_caps_set(c, ITSMIG_CAP_KERNEL_RELEASE, ITSMIG_CAP_DECLARED, release, &error));
    g_assert_true(
        itsmig_host_caps_set(c, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, revs, &error));
    g_assert_no_error(error);
    return c;
}

static const guint64 old_regs[] = {REG_X0, REG_TCR};
static const guint64 new_regs[] = {REG_X0, REG_TCR, REG_PIR};

static guint count_files(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    while (d && g_dir_read_name(d))
        n++;
    return n;
}

static void test_record_load(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigHostCaps) v61 = host("6.1.0-40-arm64", old_regs, 2, "0");
    g_autoptr(ItsmigHostCaps) v612 = host("6.12.57-arm64", new_regs, 3, "0");
    g_autoptr(GPtrArray) entries = NULL;
    g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    const ItsmigHostHistoryEntry *e;
    struct stat st;

    /* No directory yet: an empty history, no error. */
    entries = itsmig_host_history_load(f->dir, skipped, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(entries->len, ==, 0);
    g_clear_pointer(&entries, g_ptr_array_unref);

    g_assert_true(itsmig_host_history_record(f->dir, v61, 1000, &error));
    g_assert_no_error(error);
    g_assert_cmpint(g_stat(f->dir, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0700);
    /* The same capabilities again: the same entry, not written again, seen later. */
    {
        g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
        g_autofree char *path = g_build_filename(f->dir, g_dir_read_name(d), NULL);
        struct stat before, after;

        g_assert_cmpint(g_stat(path, &before), ==, 0);
        g_assert_true(itsmig_host_history_record(f->dir, v61, 2000, &error));
        g_assert_no_error(error);
        g_assert_cmpint(g_stat(path, &after), ==, 0);
        g_assert_cmpuint(before.st_ino, ==, after.st_ino);
        g_assert_cmpint(after.st_mtime, ==, 2000);
        /* A clock that went back does not make it older. */
        g_assert_true(itsmig_host_history_record(f->dir, v61, 1500, &error));
        g_assert_cmpint(g_stat(path, &after), ==, 0);
        g_assert_cmpint(after.st_mtime, ==, 2000);
    }
    g_assert_cmpuint(count_files(f->dir), ==, 1);
    g_assert_true(itsmig_host_history_record(f->dir, v612, 3000, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(count_files(f->dir), ==, 2);

    entries = itsmig_host_history_load(f->dir, skipped, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(skipped->len, ==, 0);
    g_assert_cmpuint(entries->len, ==, 2);
    e = g_ptr_array_index(entries, 0);
    g_assert_cmpstr(e->caps->kernel_release, ==, "6.12.57-arm64");
    g_assert_cmpint(e->last_seen, ==, 3000);
    e = g_ptr_array_index(entries, 1);
    g_assert_cmpstr(e->caps->kernel_release, ==, "6.1.0-40-arm64");
    g_assert_cmpint(e->last_seen, ==, 2000);
    g_assert_cmpstr(e->caps->regs_digest, ==, v61->regs_digest);
    g_assert_cmpuint(e->caps->regs.n_regs, ==, 2);
}

/* A package update (another QEMU or libvirt) rewrites the kernel's entry, not another one. */
static void test_package_update(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigHostCaps) v61 = host("6.1.0-40-arm64", old_regs, 2, "0");
    g_autoptr(GPtrArray) entries = NULL;
    g_autoptr(GError) error = NULL;
    const ItsmigHostHistoryEntry *e;

    g_assert_true(
        itsmig_host_caps_set(v61, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "7.2.0", &error));
    g_assert_true(itsmig_host_history_record(f->dir, v61, 1000, &error));
    g_assert_true(
        itsmig_host_caps_set(v61, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "7.2.15", &error));
    g_assert_true(itsmig_host_history_record(f->dir, v61, 2000, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(count_files(f->dir), ==, 1);
    entries = itsmig_host_history_load(f->dir, NULL, &error);
    e = g_ptr_array_index(entries, 0);
    g_assert_cmpstr(e->caps->qemu_version, ==, "7.2.15");
}

static void test_match(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigHostCaps) v61 = host("6.1.0-40-arm64", old_regs, 2, "0");
    /* Another kernel with the same registers, but another ITS ABI. */
    g_autoptr(ItsmigHostCaps) other = host("6.1.0-41-arm64", old_regs, 2, "0,1");
    g_autoptr(ItsmigHostCaps) v612 = host("6.12.57-arm64", new_regs, 3, "0");
    g_autoptr(GPtrArray) entries = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(ItsmigItsMetadata) m;
    const ItsmigHostHistoryEntry *e;

    itsmig_its_metadata_init(&m);
    g_assert_true(itsmig_host_history_record(f->dir, v61, 1000, &error));
    g_assert_true(itsmig_host_history_record(f->dir, other, 2000, &error));
    g_assert_true(itsmig_host_history_record(f->dir, v612, 3000, &error));
    g_assert_no_error(error);
    entries = itsmig_host_history_load(f->dir, NULL, &error);
    g_assert_no_error(error);

    /* A record without a digest names no entry. */
    m.host = g_strdup("hostA");
    g_assert_null(itsmig_host_history_match(entries, &m));

    m.host_regs_digest = g_strdup(v612->regs_digest);
    m.host_regs_count = 3;
    e = itsmig_host_history_match(entries, &m);
    g_assert_nonnull(e);
    g_assert_cmpstr(e->caps->kernel_release, ==, "6.12.57-arm64");

    /* Two with the recorded registers: the most recent, unless the other agrees with more. */
    g_free(m.host_regs_digest);
    m.host_regs_digest = g_strdup(v61->regs_digest);
    m.host_regs_count = 2;
    e = itsmig_host_history_match(entries, &m);
    g_assert_cmpstr(e->caps->kernel_release, ==, "6.1.0-41-arm64");
    m.host_its_abi_revisions = 0x1;
    e = itsmig_host_history_match(entries, &m);
    g_assert_cmpstr(e->caps->kernel_release, ==, "6.1.0-40-arm64");

    /* An entry with the digest that contradicts the record is not the host it describes. */
    m.host_its_abi_revisions = 0x4;
    g_assert_null(itsmig_host_history_match(entries, &m));
    /* A fact the entries do not know contradicts nothing. */
    m.host_its_abi_revisions = 0;
    m.host_save_tables = 0;
    g_assert_nonnull(itsmig_host_history_match(entries, &m));
    m.host_save_tables = -1;

    /* A digest none has. */
    g_free(m.host_regs_digest);
    m.host_regs_digest =
        g_strdup("sha256:"
                 "0000000000000000000000000000000000000000000000000000000000000000");
    g_assert_null(itsmig_host_history_match(entries, &m));
}

static void test_prune(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) entries = NULL;
    g_autoptr(GError) error = NULL;

    for (int i = 0; i < ITSMIG_HOST_HISTORY_MAX + 3; i++) {
        g_autofree char *release = g_strdup_printf("6.1.0-%d-arm64", i);
        g_autoptr(ItsmigHostCaps) c = host(release, old_regs, 2, "0");

        g_assert_true(itsmig_host_history_record(f->dir, c, 1000 + i, &error));
        g_assert_no_error(error);
    }
    g_assert_cmpuint(count_files(f->dir), ==, ITSMIG_HOST_HISTORY_MAX);
    entries = itsmig_host_history_load(f->dir, NULL, &error);
    g_assert_cmpuint(entries->len, ==, ITSMIG_HOST_HISTORY_MAX);
    /* The three seen longest ago went. */
    g_assert_cmpstr(((ItsmigHostHistoryEntry *)g_ptr_array_index(entries, entries->len - 1))
                        ->caps->kernel_release,
                    ==, "6.1.0-3-arm64");
    g_clear_pointer(&entries, g_ptr_array_unref);

    /* Recorded with a clock that booted wrong (the oldest time of all): it stays, and the
     * one seen longest ago before it goes. */
    {
        g_autoptr(ItsmigHostCaps) c = host("6.12.57-arm64", new_regs, 3, "0");
        g_autofree char *dir_entry = g_build_filename(f->dir, "caps-00000000000000ee.json", NULL);

        /* A directory under an entry's name is no entry: it neither counts nor blocks. */
        g_assert_cmpint(g_mkdir(dir_entry, 0700), ==, 0);
        g_assert_true(itsmig_host_history_record(f->dir, c, 10, &error));
        g_assert_no_error(error);
        entries = itsmig_host_history_load(f->dir, NULL, &error);
        g_assert_cmpuint(entries->len, ==, ITSMIG_HOST_HISTORY_MAX);
        g_assert_cmpstr(((ItsmigHostHistoryEntry *)g_ptr_array_index(entries, entries->len - 1))
                            ->caps->kernel_release,
                        ==, "6.12.57-arm64");
        g_assert_cmpstr(((ItsmigHostHistoryEntry *)g_ptr_array_index(entries, entries->len - 2))
                            ->caps->kernel_release,
                        ==, "6.1.0-4-arm64");
        g_assert_true(g_file_test(dir_entry, G_FILE_TEST_IS_DIR));
    }
}

static void test_bad_entries(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigHostCaps) v61 = host("6.1.0-40-arm64", old_regs, 2, "0");
    g_autoptr(GPtrArray) entries = NULL;
    g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *garbage = g_build_filename(f->dir, "caps-00000000000000aa.json", NULL);
    g_autofree char *fifo = g_build_filename(f->dir, "caps-00000000000000bb.json", NULL);
    g_autofree char *link = g_build_filename(f->dir, "caps-00000000000000cc.json", NULL);
    g_autofree char *big = g_build_filename(f->dir, "caps-00000000000000dd.json", NULL);
    g_autofree char *other = g_build_filename(f->dir, "notes.txt", NULL);
    g_autofree char *filler = g_strnfill(ITSMIG_HOST_CAPS_MAX + 10, ' ');

    g_assert_true(itsmig_host_history_record(f->dir, v61, 1000, &error));
    g_assert_true(g_file_set_contents(garbage, "{\"schema\": 1", -1, NULL));
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_assert_cmpint(symlink("/etc/passwd", link), ==, 0);
    g_assert_true(g_file_set_contents(big, filler, -1, NULL));
    g_assert_true(g_file_set_contents(other, "not an entry", -1, NULL));

    entries = itsmig_host_history_load(f->dir, skipped, &error);
    g_assert_no_error(error);
    /* The good one is read; each bad one is named with why; other names are not looked at. */
    g_assert_cmpuint(entries->len, ==, 1);
    g_assert_cmpuint(skipped->len, ==, 4);
    for (guint i = 0; i < skipped->len; i++) {
        const char *s = g_ptr_array_index(skipped, i);

        if (strstr(s, "00aa.json"))
            g_assert_nonnull(strstr(s, "00aa.json: "));
        else if (strstr(s, "00bb.json"))
            g_assert_nonnull(strstr(s, "not a regular file"));
        else if (strstr(s, "00cc.json"))
            g_assert_nonnull(strstr(s, "cannot open it"));
        else
            g_assert_nonnull(strstr(s, "larger than"));
    }

    /* A history that is not a directory: an error, not an empty history. */
    remove_tree(f->dir);
    g_assert_true(g_file_set_contents(f->dir, "", -1, NULL));
    g_clear_pointer(&entries, g_ptr_array_unref);
    entries = itsmig_host_history_load(f->dir, NULL, &error);
    g_assert_null(entries);
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR);
    g_clear_error(&error);
    g_assert_false(itsmig_host_history_record(f->dir, v61, 1000, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, f->dir));
    g_unlink(f->dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/host-history/record-load", Fixture, NULL, setup, test_record_load, teardown);
    g_test_add("/host-history/package-update", Fixture, NULL, setup, test_package_update, teardown);
    g_test_add("/host-history/match", Fixture, NULL, setup, test_match, teardown);
    g_test_add("/host-history/prune", Fixture, NULL, setup, test_prune, teardown);
    g_test_add("/host-history/bad-entries", Fixture, NULL, setup, test_bad_entries, teardown);
    return g_test_run();
}
