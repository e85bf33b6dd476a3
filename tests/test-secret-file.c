/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "itsmig/error.h"
#include "itsmig/secret-file.h"

typedef struct {
    char *dir;
    char *path; /* dir/secret */
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    (void)data;
    f->dir = g_dir_make_tmp("itsmig-secret-XXXXXX", &error);
    g_assert_no_error(error);
    f->path = g_build_filename(f->dir, "secret", NULL);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    (void)data;
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static void write_mode(const Fixture *f, const char *contents, gssize len, int mode)
{
    g_autoptr(GError) error = NULL;

    g_unlink(f->path);
    g_assert_true(g_file_set_contents_full(f->path, contents, len, G_FILE_SET_CONTENTS_CONSISTENT,
                                           mode, &error));
    g_assert_no_error(error);
}

/* Fails with ITSMIG_ERROR_INVALID_CONFIG and a message holding @want. */
static void assert_refused(const Fixture *f, gsize max, ItsmigSecretFileFlags flags,
                           const char *want)
{
    g_autoptr(GError) error = NULL;
    char *contents = NULL;
    gsize len = 7;

    g_assert_false(itsmig_secret_file_read(f->path, max, flags, &contents, &len, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
    g_assert_nonnull(strstr(error->message, want));
    g_assert_nonnull(strstr(error->message, f->path));
    g_assert_null(contents);
    g_assert_cmpuint(len, ==, 7);
}

static void test_read_whole(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    gsize len = 0;

    (void)data;
    write_mode(f, "a\0b", 3, 0600);
    g_assert_true(
        itsmig_secret_file_read(f->path, 3, ITSMIG_SECRET_FILE_REGULAR, &contents, &len, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(len, ==, 3);
    g_assert_cmpmem(contents, len + 1, "a\0b", 4);
}

static void test_too_large(Fixture *f, gconstpointer data)
{
    g_autofree char *big = g_strnfill(10000, 'x');

    (void)data;
    write_mode(f, big, -1, 0600);
    assert_refused(f, 9999, 0, "is larger than 9999 bytes");
}

static void test_private(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    gsize len = 0;

    (void)data;
    write_mode(f, "key", -1, 0640);
    assert_refused(f, 64, ITSMIG_SECRET_FILE_PRIVATE, "accessible by group or others (mode 0640)");
    g_assert_cmpint(g_chmod(f->path, 0604), ==, 0);
    assert_refused(f, 64, ITSMIG_SECRET_FILE_PRIVATE, "(mode 0604)");
    /* The mode matters only to a secret. */
    g_assert_true(itsmig_secret_file_read(f->path, 64, 0, &contents, &len, &error));
    g_clear_pointer(&contents, g_free);
    g_assert_cmpint(g_chmod(f->path, 0400), ==, 0);
    g_assert_true(
        itsmig_secret_file_read(f->path, 64, ITSMIG_SECRET_FILE_PRIVATE, &contents, &len, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(contents, ==, "key");
}

/* A FIFO is refused at once rather than waited on. */
static void test_fifo(Fixture *f, gconstpointer data)
{
    gint64 t0 = g_get_monotonic_time();

    (void)data;
    g_assert_cmpint(mkfifo(f->path, 0600), ==, 0);
    assert_refused(f, 64, ITSMIG_SECRET_FILE_REGULAR | ITSMIG_SECRET_FILE_PRIVATE,
                   "is not a regular file");
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
}

static gpointer write_fifo(gpointer path)
{
    static const char text[] = "piped-token\n";
    /* Opening blocks until the reader opens too. */
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (gssize)strlen(text));
    close(fd);
    return NULL;
}

/* Without ITSMIG_SECRET_FILE_REGULAR a pipe is read to its end, as
 * itsmigctl --token-file <(...) needs. */
static void test_fifo_read_when_allowed(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    GThread *writer;
    gsize len = 0;

    (void)data;
    g_assert_cmpint(mkfifo(f->path, 0600), ==, 0);
    writer = g_thread_new("writer", write_fifo, f->path);
    g_assert_true(itsmig_secret_file_read(f->path, 64, 0, &contents, &len, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(contents, ==, "piped-token\n");
    g_thread_join(writer);
}

static void test_missing(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_refused(f, 64, ITSMIG_SECRET_FILE_REGULAR, "cannot open");
}

static void test_token_valid(void)
{
    g_assert_true(itsmig_secret_token_valid("x", 0));
    g_assert_true(itsmig_secret_token_valid("0123456789abcdef", 16));
    g_assert_false(itsmig_secret_token_valid("0123456789abcde", 16));
    g_assert_false(itsmig_secret_token_valid("", 0));
    g_assert_false(itsmig_secret_token_valid("with space", 1));
    g_assert_false(itsmig_secret_token_valid("tab\there", 1));
    g_assert_false(itsmig_secret_token_valid("del\x7f", 1));
    g_assert_false(itsmig_secret_token_valid("caf\xc3\xa9", 1));
}

static void test_token_first_line(void)
{
    static const struct {
        const char *contents;
        const char *token;
    } cases[] = {
        {"  tok \nsecond\n", "tok"},
        {"tok\r\nsecond", "tok"},
        {"tok\rsecond\n", "tok"},
        {"tok", "tok"},
        {"\nsecond", ""},
        {"", ""},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *token =
            itsmig_secret_token_first_line(cases[i].contents, strlen(cases[i].contents));

        g_assert_cmpstr(token, ==, cases[i].token);
    }
}

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("/secret-file/read/whole-with-nul", test_read_whole);
    ADD("/secret-file/read/too-large", test_too_large);
    ADD("/secret-file/read/private-mode", test_private);
    ADD("/secret-file/read/fifo-refused-at-once", test_fifo);
    ADD("/secret-file/read/fifo-read-when-allowed", test_fifo_read_when_allowed);
    ADD("/secret-file/read/missing", test_missing);
    g_test_add_func("/secret-file/token/valid", test_token_valid);
    g_test_add_func("/secret-file/token/first-line", test_token_first_line);
    return g_test_run();
}
