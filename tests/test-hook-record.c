/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "itsmig/error.h"
#include "itsmig/hook-record.h"

#define UUID "2f8e5c1a-7d3b-4e6f-9a10-5b2c8d4e7f31"

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("itsmig-hook-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_strdup_printf("%s/%s.json", f->dir, UUID);
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static void test_load(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigHookRecord) r = NULL;
    g_autoptr(GError) error = NULL;

    /* None there: no record, and no error. */
    g_assert_null(itsmig_hook_record_load(f->dir, UUID, &error));
    g_assert_no_error(error);

    g_assert_true(g_file_set_contents(f->path,
                                      "{\"uuid\":\"" UUID "\",\"name\":\"vm1\",\"incoming\":true,"
                                      "\"migrate_begin_at\":1790000000,\"started_at\":null}",
                                      -1, NULL));
    r = itsmig_hook_record_load(f->dir, UUID, &error);
    g_assert_no_error(error);
    g_assert_nonnull(r);
    g_assert_cmpstr(r->uuid, ==, UUID);
    g_assert_cmpstr(r->name, ==, "vm1");
    g_assert_true(r->incoming);
    g_assert_cmpint(r->migrate_begin_at, ==, 1790000000);
    g_assert_cmpint(r->started_at, ==, 0);

    /* A UUID that is not one never becomes a path. */
    g_assert_null(itsmig_hook_record_load(f->dir, "../../etc/passwd", &error));
    g_assert_no_error(error);
}

static void test_refused(Fixture *f, gconstpointer data)
{
    g_autofree char *big = g_strnfill(ITSMIG_HOOK_RECORD_MAX + 1, ' ');
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"not json", "is not JSON"},
        {"[1]", "not a JSON object"},
        {"{\"uuid\":\"00000000-0000-0000-0000-000000000000\",\"incoming\":false,"
         "\"migrate_begin_at\":null,\"started_at\":null}",
         "not a record of domain " UUID},
        {"{\"uuid\":\"" UUID "\"}", "\"incoming\" is missing or not a boolean"},
        {"{\"uuid\":\"" UUID "\",\"incoming\":\"no\"}", "\"incoming\" is missing or not a boolean"},
        /* A uuid of another type, without a GLib critical (found by
         * tests/fuzz/fuzz-hook-record.c). */
        {"{\"uuid\":{},\"incoming\":true}", "\"uuid\" is missing or not a string"},
        {"{\"uuid\":[\"" UUID "\"],\"incoming\":true}", "\"uuid\" is missing or not a string"},
        /* The hook writes positive times or null, nothing else. */
        {"{\"uuid\":\"" UUID "\",\"incoming\":true,\"migrate_begin_at\":0,\"started_at\":null}",
         "\"migrate_begin_at\" is missing or not an integer from 1 to"},
        {"{\"uuid\":\"" UUID "\",\"incoming\":true,\"migrate_begin_at\":null,\"started_at\":\"x\"}",
         "\"started_at\" is missing or not an integer from 1 to"},
        {"{\"uuid\":\"" UUID "\",\"incoming\":true,\"migrate_begin_at\":null}",
         "\"started_at\" is missing"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;

        g_assert_true(g_file_set_contents(f->path, bad[i].text, -1, NULL));
        g_assert_null(itsmig_hook_record_load(f->dir, UUID, &error));
        g_assert_nonnull(error);
        if (!strstr(error->message, f->path) || !strstr(error->message, bad[i].says))
            g_error("case %" G_GSIZE_FORMAT ": \"%s\" does not say %s in %s", i, error->message,
                    bad[i].says, f->path);
    }
    {
        g_autoptr(GError) error = NULL;

        g_assert_true(g_file_set_contents(f->path, big, -1, NULL));
        g_assert_null(itsmig_hook_record_load(f->dir, UUID, &error));
        g_assert_nonnull(strstr(error->message, "larger than"));
    }
}

/* A FIFO is not read (it would block the daemon's main loop), nor a symlink followed. */
static void test_not_a_file(Fixture *f, gconstpointer data)
{
    g_autofree char *target = g_strdup_printf("%s/target", f->dir);
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(mkfifo(f->path, 0600), ==, 0);
    g_assert_null(itsmig_hook_record_load(f->dir, UUID, &error));
    g_assert_nonnull(strstr(error->message, "not a regular file"));
    g_clear_error(&error);
    g_unlink(f->path);

    g_assert_true(g_file_set_contents(target,
                                      "{\"uuid\":\"" UUID "\",\"name\":\"vm1\",\"incoming\":true,"
                                      "\"migrate_begin_at\":1790000000,\"started_at\":null}",
                                      -1, NULL));
    g_assert_cmpint(symlink(target, f->path), ==, 0);
    g_assert_null(itsmig_hook_record_load(f->dir, UUID, &error));
    g_assert_nonnull(error);
    g_unlink(target);
}

static void test_save(Fixture *f, gconstpointer data)
{
    g_autofree char *sub = g_build_filename(f->dir, "records", NULL);
    g_autofree char *path = g_strdup_printf("%s/%s.json", sub, UUID);
    ItsmigHookRecord r = {.uuid = (char *)UUID,
                          .name = (char *)"vm \"1\"",
                          .incoming = TRUE,
                          .migrate_begin_at = 1790000000};
    ItsmigHookRecord bad = {.uuid = (char *)"../x"};
    g_autoptr(ItsmigHookRecord) back = NULL;
    g_autoptr(GError) error = NULL;
    struct stat st;

    /* The directory is made, for root's eyes only. */
    g_assert_true(itsmig_hook_record_save(sub, &r, &error));
    g_assert_no_error(error);
    g_assert_cmpint(stat(sub, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0700);
    back = itsmig_hook_record_load(sub, UUID, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->name, ==, "vm \"1\"");
    g_assert_true(back->incoming);
    g_assert_cmpint(back->migrate_begin_at, ==, 1790000000);
    g_assert_cmpint(back->started_at, ==, 0);

    g_assert_false(itsmig_hook_record_save(sub, &bad, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);

    g_assert_true(itsmig_hook_record_remove(sub, UUID, &error));
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    /* Removing what is not there is no error. */
    g_assert_true(itsmig_hook_record_remove(sub, UUID, &error));
    g_assert_no_error(error);
    g_rmdir(sub);

    /* A file where the directory should be. */
    g_assert_true(g_file_set_contents(sub, "", 0, NULL));
    g_assert_false(itsmig_hook_record_save(sub, &r, &error));
    g_assert_nonnull(strstr(error->message, "cannot create the record directory"));
    g_unlink(sub);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/hook-record/load", Fixture, NULL, setup, test_load, teardown);
    g_test_add("/hook-record/refused-with-reason", Fixture, NULL, setup, test_refused, teardown);
    g_test_add("/hook-record/not-a-regular-file", Fixture, NULL, setup, test_not_a_file, teardown);
    g_test_add("/hook-record/save-load-remove", Fixture, NULL, setup, test_save, teardown);
    return g_test_run();
}
