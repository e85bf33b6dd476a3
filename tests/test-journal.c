/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "itsmig/error.h"
#include "itsmig/journal.h"

#define RECORD_M1  "{\"id\":\"m1\",\"phase\":\"transfer\"}"
#define RECORD_M1B "{\"id\":\"m1\",\"phase\":\"done\"}"
#define SET_ASIDE  "; set aside as "

/* ---- fixture ------------------------------------------------------------- */

typedef struct {
    char *root; /* a private temporary directory */
    char *dir;  /* root/state/jobs, the journal's */
    ItsmigJournal *journal;
} Fixture;

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->root = g_dir_make_tmp("test-journal-XXXXXX", &error);
    g_assert_no_error(error);
    f->dir = g_build_filename(f->root, "state", "jobs", NULL);
    f->journal = itsmig_journal_open(f->dir, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->journal);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    itsmig_journal_free(f->journal);
    g_assert_cmpint(nftw(f->root, remove_one, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
    g_free(f->dir);
    g_free(f->root);
}

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
#define ADD_DATA(path, data, func)                                                                 \
    g_test_add(path, Fixture, data, fixture_set_up, func, fixture_tear_down)

/* ---- helpers ------------------------------------------------------------- */

static char *in_dir(const Fixture *f, const char *name)
{
    return g_build_filename(f->dir, name, NULL);
}

static void put_file(const char *path, const char *bytes, gsize len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, bytes, len), ==, (gssize)len);
    g_assert_cmpint(close(fd), ==, 0);
}

static void assert_file_is(const char *path, const char *bytes, gsize len)
{
    g_autofree char *contents = NULL;
    g_autoptr(GError) error = NULL;
    gsize got;

    g_assert_true(g_file_get_contents(path, &contents, &got, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(contents, got, bytes, len);
}

static void assert_absent(const char *path)
{
    struct stat st;

    g_assert_cmpint(lstat(path, &st), ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in @dir, sorted, joined by spaces. */
static char *list_dir(const char *dir)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) error = NULL;
    const char *name;

    d = g_dir_open(dir, 0, &error);
    g_assert_no_error(error);
    while ((name = g_dir_read_name(d)) != NULL)
        g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, compare_names);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

static void write_ok(Fixture *f, const char *id, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(itsmig_journal_write(f->journal, id, text, strlen(text), &error));
    g_assert_no_error(error);
}

static GPtrArray *load(Fixture *f, GPtrArray **ret_problems)
{
    GPtrArray *records = itsmig_journal_load(f->journal, ret_problems);

    g_assert_nonnull(records);
    g_assert_nonnull(*ret_problems);
    return records;
}

static void assert_record(GPtrArray *records, guint i, const char *id, const char *text, gsize len)
{
    const ItsmigJournalRecord *r;

    g_assert_cmpuint(i, <, records->len);
    r = g_ptr_array_index(records, i);
    g_assert_cmpstr(r->id, ==, id);
    g_assert_cmpmem(r->text, r->len, text, len);
    g_assert_cmpint(r->text[r->len], ==, '\0');
}

static void assert_contains(const char *s, const char *part)
{
    if (strstr(s, part) == NULL)
        g_error("'%s' does not contain '%s'", s, part);
}

static const char *dest_of(const char *line)
{
    const char *p = strstr(line, SET_ASIDE);

    g_assert_nonnull(p);
    return p + strlen(SET_ASIDE);
}

/* Where record @id went, checking the name: corrupt/ID.json.YYYYMMDDTHHMMSSZ[.N]. */
static void assert_dest_name(const Fixture *f, const char *dest, const char *id)
{
    g_autofree char *pattern =
        g_strdup_printf("^%s/corrupt/%s\\.json\\.[0-9]{8}T[0-9]{6}Z(\\.[0-9]+)?$", f->dir, id);

    if (!g_regex_match_simple(pattern, dest, 0, 0))
        g_error("'%s' does not match '%s'", dest, pattern);
}

/* ---- opening ------------------------------------------------------------- */

static void test_open_creates(Fixture *f, gconstpointer data)
{
    g_autofree char *state = g_build_filename(f->root, "state", NULL);
    struct stat st;

    g_assert_cmpstr(itsmig_journal_get_dir(f->journal), ==, f->dir);
    g_assert_cmpint(stat(f->dir, &st), ==, 0);
    g_assert_true(S_ISDIR(st.st_mode));
    g_assert_cmpint(st.st_mode & 07777, ==, 0700);
    g_assert_cmpint(stat(state, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0700);
}

static void test_open_parent_is_file(Fixture *f, gconstpointer data)
{
    g_autofree char *file = g_build_filename(f->root, "file", NULL);
    g_autofree char *dir = g_build_filename(file, "jobs", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigJournal) journal = NULL;

    put_file(file, "x", 1);
    journal = itsmig_journal_open(dir, &error);
    g_assert_null(journal);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL);
    assert_contains(error->message, dir);
    assert_contains(error->message, g_strerror(ENOTDIR));
}

/* ---- writing ------------------------------------------------------------- */

static void test_write_round_trip(Fixture *f, gconstpointer data)
{
    /* Whitespace and escapes kept byte for byte: the journal does not rewrite records. */
    static const char text[] = " {\"id\" : \"m1\",\n \"s\":\"\\u00e9\xc3\xa9\", \"n\":[1,2.5e3]}\n";
    g_autofree char *path = in_dir(f, "m1.json");
    g_autofree char *listing = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    struct stat st;

    write_ok(f, "m1", text);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0600);
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "m1.json");

    records = load(f, &problems);
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_cmpuint(records->len, ==, 1);
    assert_record(records, 0, "m1", text, strlen(text));
}

static void test_write_overwrite(Fixture *f, gconstpointer data)
{
    g_autofree char *listing = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;

    write_ok(f, "m1", RECORD_M1);
    write_ok(f, "m1", RECORD_M1B);
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "m1.json");
    records = load(f, &problems);
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_cmpuint(records->len, ==, 1);
    assert_record(records, 0, "m1", RECORD_M1B, strlen(RECORD_M1B));
}

static void test_write_many_sorted(Fixture *f, gconstpointer data)
{
    /* Written out of order.  By file name a.json would come after a-b.json and a.b.json. */
    static const char *const written[] = {"m10", "a.b", "z_z", "a", "B", "m2", "0", "a-b"};
    static const char *const sorted[] = {"0", "B", "a", "a-b", "a.b", "m10", "m2", "z_z"};
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(written); i++) {
        g_autofree char *text = g_strdup_printf("{\"id\":\"%s\"}", written[i]);

        write_ok(f, written[i], text);
    }
    records = load(f, &problems);
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_cmpuint(records->len, ==, G_N_ELEMENTS(sorted));
    for (guint i = 0; i < G_N_ELEMENTS(sorted); i++) {
        g_autofree char *text = g_strdup_printf("{\"id\":\"%s\"}", sorted[i]);

        assert_record(records, i, sorted[i], text, strlen(text));
    }
}

static void test_remove(Fixture *f, gconstpointer data)
{
    g_autofree char *path = in_dir(f, "m1.json");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;

    write_ok(f, "m1", RECORD_M1);
    write_ok(f, "m2", RECORD_M1B);
    g_assert_true(itsmig_journal_remove(f->journal, "m1", &error));
    g_assert_no_error(error);
    assert_absent(path);
    records = load(f, &problems);
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_cmpuint(records->len, ==, 1);
    assert_record(records, 0, "m2", RECORD_M1B, strlen(RECORD_M1B));
}

static void test_remove_absent(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(itsmig_journal_remove(f->journal, "never-written", &error));
    g_assert_no_error(error);
}

static void test_ids(Fixture *f, gconstpointer data)
{
    static const char *const good[] = {
        "a",       "m1",
        "A.b_c-9", "a..b",
        "x.json",  "0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
    };
    static const char *const bad[] = {
        "",
        "../x",
        ".hidden",
        "a/b",
        "a b",
        "..",
        ".",
        "a\\b",
        "\xc3\xa9",
        "a\nb",
        "01234567890123456789012345678901234567890123456789012345678901234", /* 65 */
    };
    g_autofree char *listing = NULL;
    g_autofree char *outside = g_build_filename(f->root, "state", "x.json", NULL);

    for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
        if (!itsmig_journal_id_is_valid(good[i]))
            g_error("'%s' refused", good[i]);
    }
    g_assert_false(itsmig_journal_id_is_valid(NULL));
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) error_remove = NULL;
        g_autoptr(GError) error_aside = NULL;

        if (itsmig_journal_id_is_valid(bad[i]))
            g_error("'%s' accepted", bad[i]);
        g_assert_false(
            itsmig_journal_write(f->journal, bad[i], RECORD_M1, strlen(RECORD_M1), &error));
        g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
        g_assert_false(itsmig_journal_remove(f->journal, bad[i], &error_remove));
        g_assert_error(error_remove, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
        g_assert_false(itsmig_journal_set_aside(f->journal, bad[i], "why", NULL, &error_aside));
        g_assert_error(error_aside, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    }
    /* Nothing was created, here or above (../x would be the parent's x.json). */
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "");
    assert_absent(outside);
}

/* A JSON object of exactly @len bytes. */
static char *object_of_size(gsize len)
{
    GString *s = g_string_new("{\"pad\":\"");

    g_assert_cmpuint(len, >=, 10);
    while (s->len < len - 2)
        g_string_append_c(s, 'x');
    g_string_append(s, "\"}");
    g_assert_cmpuint(s->len, ==, len);
    return g_string_free(s, FALSE);
}

static void test_write_size_limit(Fixture *f, gconstpointer data)
{
    g_autofree char *largest = object_of_size(ITSMIG_JOURNAL_RECORD_MAX);
    g_autofree char *too_large = object_of_size(ITSMIG_JOURNAL_RECORD_MAX + 1);
    g_autofree char *listing = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;

    /* The largest record is written and read back whole. */
    write_ok(f, "big", largest);
    write_ok(f, "m1", RECORD_M1);
    g_assert_false(itsmig_journal_write(f->journal, "m1", too_large, strlen(too_large), &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "big.json m1.json");

    records = load(f, &problems);
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_cmpuint(records->len, ==, 2);
    assert_record(records, 0, "big", largest, strlen(largest));
    assert_record(records, 1, "m1", RECORD_M1, strlen(RECORD_M1));
}

static void test_write_refuses_what_load_would_not_return(Fixture *f, gconstpointer data)
{
    static const char *const texts[] = {"", "[1]", "\"x\"", "{", "{}x", "{\"a\":1}{}"};
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;

    write_ok(f, "m1", RECORD_M1);
    for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autoptr(GError) error = NULL;

        g_assert_false(itsmig_journal_write(f->journal, "m1", texts[i], strlen(texts[i]), &error));
        g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    }
    records = load(f, &problems);
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_cmpuint(records->len, ==, 1);
    assert_record(records, 0, "m1", RECORD_M1, strlen(RECORD_M1));
}

/* RLIMIT_FSIZE makes write() fail with EFBIG part way, as a full disk would. */
static void test_write_failure_keeps_old(Fixture *f, gconstpointer data)
{
    g_autofree char *big = object_of_size(4096);
    g_autofree char *path = in_dir(f, "m1.json");
    g_autofree char *listing = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    struct rlimit saved;
    struct rlimit small;
    void (*saved_handler)(int);
    gboolean ok;

    write_ok(f, "m1", RECORD_M1);

    g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &saved), ==, 0);
    small = saved;
    small.rlim_cur = 100;
    saved_handler = signal(SIGXFSZ, SIG_IGN);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &small), ==, 0);
    ok = itsmig_journal_write(f->journal, "m1", big, strlen(big), &error);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &saved), ==, 0);
    signal(SIGXFSZ, saved_handler);

    g_assert_false(ok);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL);
    assert_contains(error->message, path);
    assert_contains(error->message, "write(");
    assert_contains(error->message, g_strerror(EFBIG));
    assert_file_is(path, RECORD_M1, strlen(RECORD_M1));
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "m1.json");

    records = load(f, &problems);
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_cmpuint(records->len, ==, 1);
    assert_record(records, 0, "m1", RECORD_M1, strlen(RECORD_M1));
}

/* ---- records that cannot be used ----------------------------------------- */

typedef struct {
    const char *name;
    const char *bytes; /* NULL: built by the test */
    gsize len;
    const char *why;
} BadCase;

#define BAD(name, bytes, why)                                                                      \
    {                                                                                              \
        name, bytes, sizeof(bytes) - 1, why                                                        \
    }

static const BadCase bad_cases[] = {
    BAD("truncated", "{\"id\":\"m1\",\"phase\":", "is not JSON: "),
    BAD("empty", "", "is empty"),
    BAD("binary",
        "\x7f"
        "ELF\x02\x01\x01\x00\x00\xff\xfe{\x80",
        "is not JSON: "),
    BAD("nul-inside", "{\"a\":\"b\0\"}", "is not JSON: "),
    BAD("bad-utf8", "{\"a\":\"\xc3\x28\"}", "is not JSON: "),
    BAD("top-level-array", "[{\"id\":\"m1\"}]", "is not a JSON object"),
    BAD("top-level-string", "\"m1\"", "is not a JSON object"),
    BAD("trailing-data", "{\"id\":\"m1\"} {}", "is not JSON: "),
    {"deep-nesting", NULL, 0, "is not JSON: "},
    {"too-large", NULL, 0, "is larger than"},
};

static void test_load_bad(Fixture *f, gconstpointer data)
{
    const BadCase *c = data;
    g_autofree char *path = in_dir(f, "m1.json");
    g_autofree char *built = NULL;
    g_autofree char *listing = NULL;
    g_autofree char *corrupt = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    const char *bytes = c->bytes;
    gsize len = c->len;
    const char *line;
    const char *dest;
    struct stat st;

    if (strcmp(c->name, "deep-nesting") == 0) {
        len = 20000;
        built = g_malloc(len);
        memset(built, '[', len / 2);
        memset(built + len / 2, ']', len / 2);
        bytes = built;
    } else if (strcmp(c->name, "too-large") == 0) {
        built = object_of_size(ITSMIG_JOURNAL_RECORD_MAX + 1);
        len = strlen(built);
        bytes = built;
    }
    put_file(path, bytes, len);
    /* A good record beside it is not disturbed. */
    write_ok(f, "m2", RECORD_M1B);

    records = load(f, &problems);
    g_assert_cmpuint(records->len, ==, 1);
    assert_record(records, 0, "m2", RECORD_M1B, strlen(RECORD_M1B));
    g_assert_cmpuint(problems->len, ==, 1);
    line = g_ptr_array_index(problems, 0);
    g_test_message("%s", line);
    g_assert_true(g_str_has_prefix(line, "journal record "));
    assert_contains(line, path);
    assert_contains(line, c->why);
    g_assert_null(strchr(line, '\n'));

    dest = dest_of(line);
    assert_dest_name(f, dest, "m1");
    assert_absent(path);
    assert_file_is(dest, bytes, len);
    corrupt = in_dir(f, "corrupt");
    g_assert_cmpint(stat(corrupt, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0700);
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "corrupt m2.json");

    /* Set aside once: the next load finds nothing wrong. */
    g_clear_pointer(&records, g_ptr_array_unref);
    g_clear_pointer(&problems, g_ptr_array_unref);
    records = load(f, &problems);
    g_assert_cmpuint(records->len, ==, 1);
    g_assert_cmpuint(problems->len, ==, 0);
}

static void test_load_symlink(Fixture *f, gconstpointer data)
{
    g_autofree char *target = g_build_filename(f->root, "elsewhere.json", NULL);
    g_autofree char *path = in_dir(f, "m1.json");
    g_autofree char *link = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    const char *line;
    const char *dest;
    struct stat st;

    /* Even a target that would make a good record: a link is never followed. */
    put_file(target, RECORD_M1, strlen(RECORD_M1));
    g_assert_cmpint(symlink(target, path), ==, 0);

    records = load(f, &problems);
    g_assert_cmpuint(records->len, ==, 0);
    g_assert_cmpuint(problems->len, ==, 1);
    line = g_ptr_array_index(problems, 0);
    assert_contains(line, path);
    assert_contains(line, "is a symbolic link");
    dest = dest_of(line);
    assert_dest_name(f, dest, "m1");
    assert_absent(path);
    g_assert_cmpint(lstat(dest, &st), ==, 0);
    g_assert_true(S_ISLNK(st.st_mode));
    link = g_file_read_link(dest, NULL);
    g_assert_cmpstr(link, ==, target);
    assert_file_is(target, RECORD_M1, strlen(RECORD_M1));
}

static void test_load_fifo(Fixture *f, gconstpointer data)
{
    g_autofree char *path = in_dir(f, "m1.json");
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    const char *line;
    struct stat st;

    /* Opening it for reading would block until a writer came: the alarm ends the test. */
    g_assert_cmpint(mkfifo(path, 0600), ==, 0);
    alarm(10);
    records = load(f, &problems);
    alarm(0);
    g_assert_cmpuint(records->len, ==, 0);
    g_assert_cmpuint(problems->len, ==, 1);
    line = g_ptr_array_index(problems, 0);
    assert_contains(line, "is not a regular file");
    assert_absent(path);
    g_assert_cmpint(lstat(dest_of(line), &st), ==, 0);
    g_assert_true(S_ISFIFO(st.st_mode));
}

static void test_load_leftover_temp(Fixture *f, gconstpointer data)
{
    g_autofree char *temp = in_dir(f, ".m1.json.tmp-Ab3dE9");
    g_autofree char *listing = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    const char *line;

    write_ok(f, "m1", RECORD_M1);
    put_file(temp, "{\"id\":\"m1\",\"ph", 14);

    records = load(f, &problems);
    g_assert_cmpuint(records->len, ==, 1);
    assert_record(records, 0, "m1", RECORD_M1, strlen(RECORD_M1));
    g_assert_cmpuint(problems->len, ==, 1);
    line = g_ptr_array_index(problems, 0);
    g_assert_true(g_str_has_prefix(line, "removed "));
    assert_contains(line, temp);
    assert_contains(line, "did not complete");
    assert_absent(temp);
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "m1.json");
}

static void test_load_ignores_other_files(Fixture *f, gconstpointer data)
{
    /* Not records, nor temporary files of a write (the last one's random part is too long). */
    static const char *const others[] = {
        "README", "notes.txt", ".hidden.json",         "bad id.json",        "m1.json.bak",
        ".json",  "m1.json~",  ".m1.json.tmp-Ab3dE9x", "m1.json.tmp-Ab3dE9", ".m 1.json.tmp-Ab3dE9",
    };
    g_autofree char *sub = in_dir(f, "sub");
    g_autofree char *sub_file = g_build_filename(sub, "m1.json", NULL);
    g_autofree char *dir_record = in_dir(f, "d1.json");
    g_autofree char *corrupt = in_dir(f, "corrupt");
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
        g_autofree char *path = in_dir(f, others[i]);

        put_file(path, "garbage", 7);
    }
    g_assert_cmpint(mkdir(sub, 0700), ==, 0);
    put_file(sub_file, "garbage", 7);
    g_assert_cmpint(mkdir(dir_record, 0700), ==, 0);

    records = load(f, &problems);
    g_assert_cmpuint(records->len, ==, 0);
    g_assert_cmpuint(problems->len, ==, 0);
    for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
        g_autofree char *path = in_dir(f, others[i]);

        assert_file_is(path, "garbage", 7);
    }
    assert_file_is(sub_file, "garbage", 7);
    g_assert_true(g_file_test(dir_record, G_FILE_TEST_IS_DIR));
    assert_absent(corrupt);
}

/* ---- setting aside ------------------------------------------------------- */

static void test_set_aside(Fixture *f, gconstpointer data)
{
    g_autofree char *path = in_dir(f, "m1.json");
    g_autofree char *message = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) records = NULL;
    const char *dest;

    write_ok(f, "m1", RECORD_M1);
    g_assert_true(
        itsmig_journal_set_aside(f->journal, "m1", "unknown phase 'warp'", &message, &error));
    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(message, "journal record "));
    assert_contains(message, path);
    assert_contains(message, "unknown phase 'warp'");
    dest = dest_of(message);
    assert_dest_name(f, dest, "m1");
    assert_absent(path);
    assert_file_is(dest, RECORD_M1, strlen(RECORD_M1));

    records = load(f, &problems);
    g_assert_cmpuint(records->len, ==, 0);
    g_assert_cmpuint(problems->len, ==, 0);
}

static void test_set_aside_twice(Fixture *f, gconstpointer data)
{
    /* The two must fall in the same second; the loop retries if a second boundary fell
     * between them. */
    for (guint attempt = 0;; attempt++) {
        g_autofree char *first = NULL;
        g_autofree char *second = NULL;
        g_autofree char *first_dest = NULL;
        g_autofree char *second_dest = NULL;
        g_autofree char *expected = NULL;
        g_autoptr(GError) error = NULL;

        g_assert_cmpuint(attempt, <, 5);
        write_ok(f, "m1", RECORD_M1);
        g_assert_true(itsmig_journal_set_aside(f->journal, "m1", "first", &first, &error));
        g_assert_no_error(error);
        write_ok(f, "m1", RECORD_M1B);
        g_assert_true(itsmig_journal_set_aside(f->journal, "m1", "second", &second, &error));
        g_assert_no_error(error);

        first_dest = g_strdup(dest_of(first));
        second_dest = g_strdup(dest_of(second));
        g_assert_cmpstr(first_dest, !=, second_dest);
        assert_file_is(first_dest, RECORD_M1, strlen(RECORD_M1));
        assert_file_is(second_dest, RECORD_M1B, strlen(RECORD_M1B));
        /* corrupt/ is empty at each attempt: the first copy needs no counter. */
        g_assert_true(g_str_has_suffix(first_dest, "Z"));
        expected = g_strconcat(first_dest, ".1", NULL);
        if (strcmp(second_dest, expected) == 0)
            break;
        /* Another second: start again from an empty corrupt/. */
        g_assert_cmpint(g_unlink(first_dest), ==, 0);
        g_assert_cmpint(g_unlink(second_dest), ==, 0);
    }
}

static void test_set_aside_absent(Fixture *f, gconstpointer data)
{
    g_autofree char *corrupt = in_dir(f, "corrupt");
    g_autofree char *message = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_false(itsmig_journal_set_aside(f->journal, "m1", "why", &message, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND);
    g_assert_null(message);
    assert_absent(corrupt);
}

/* What load_full() sets aside as unreadable it also hands back, as it was, for salvage. */
static void test_load_full_hands_back_set_aside(Fixture *f, gconstpointer data)
{
    static const char cut[] = "{\"id\":\"m2\",\"domain\":\"g1\",\"phase\":";
    g_autofree char *p2 = g_build_filename(f->dir, "m2.json", NULL);
    g_autofree char *p3 = g_build_filename(f->dir, "m3.json", NULL);
    g_autofree char *p4 = g_build_filename(f->dir, "m4.json", NULL);
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GPtrArray) set_aside = NULL;
    g_autoptr(GPtrArray) records = NULL;
    const ItsmigJournalRecord *r;

    write_ok(f, "m1", RECORD_M1);
    put_file(p2, cut, strlen(cut));
    put_file(p3, "", 0);
    put_file(p4, "[1]", 3);
    records = itsmig_journal_load_full(f->journal, &problems, &set_aside);
    g_assert_cmpuint(records->len, ==, 1);
    g_assert_cmpuint(problems->len, ==, 3);
    g_assert_cmpuint(set_aside->len, ==, 3);
    r = g_ptr_array_index(set_aside, 0);
    g_assert_cmpstr(r->id, ==, "m2");
    g_assert_cmpuint(r->len, ==, strlen(cut));
    g_assert_cmpmem(r->text, r->len, cut, strlen(cut));
    r = g_ptr_array_index(set_aside, 1);
    g_assert_cmpstr(r->id, ==, "m3");
    g_assert_cmpuint(r->len, ==, 0);
    g_assert_nonnull(r->text);
    r = g_ptr_array_index(set_aside, 2);
    g_assert_cmpstr(r->id, ==, "m4");
    g_assert_cmpmem(r->text, r->len, "[1]", 3);
    /* Set aside all the same. */
    g_assert_false(g_file_test(p2, G_FILE_TEST_EXISTS));
}

/* A record whose name is taken by a directory cannot be replaced: the error names the step and
 * the temporary file, and the temporary file is gone. */
static void test_write_rename_fails(Fixture *f, gconstpointer data)
{
    g_autofree char *path = in_dir(f, "m1.json");
    g_autofree char *inside = g_build_filename(path, "x", NULL);
    g_autofree char *listing = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
    g_assert_true(g_file_set_contents(inside, "x", 1, NULL));
    g_assert_false(itsmig_journal_write(f->journal, "m1", RECORD_M1, strlen(RECORD_M1), &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL);
    g_assert_true(g_str_has_prefix(error->message, "cannot write journal record "));
    g_assert_nonnull(strstr(error->message, ": rename("));
    g_assert_nonnull(strstr(error->message, "/.m1.json.tmp-"));
    listing = list_dir(f->dir);
    g_assert_cmpstr(listing, ==, "m1.json");
    g_assert_cmpint(g_unlink(inside), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    ADD("/journal/open/creates-0700-with-parents", test_open_creates);
    ADD("/journal/open/parent-is-a-file-fails", test_open_parent_is_file);

    ADD("/journal/write/round-trip-exact", test_write_round_trip);
    ADD("/journal/write/rename-fails-cleanly", test_write_rename_fails);
    ADD("/journal/load/full-hands-back-set-aside", test_load_full_hands_back_set_aside);
    ADD("/journal/write/overwrite-replaces", test_write_overwrite);
    ADD("/journal/write/many-load-sorted-by-id", test_write_many_sorted);
    ADD("/journal/write/invalid-ids-refused", test_ids);
    ADD("/journal/write/size-limit-old-kept", test_write_size_limit);
    ADD("/journal/write/not-an-object-refused", test_write_refuses_what_load_would_not_return);
    ADD("/journal/write/failure-keeps-old", test_write_failure_keeps_old);

    ADD("/journal/remove/removes", test_remove);
    ADD("/journal/remove/absent-ok", test_remove_absent);

    for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/journal/load/set-aside/%s", bad_cases[i].name);

        ADD_DATA(path, &bad_cases[i], test_load_bad);
    }
    ADD("/journal/load/set-aside/symlink-not-followed", test_load_symlink);
    ADD("/journal/load/set-aside/fifo-no-hang", test_load_fifo);
    ADD("/journal/load/leftover-temp-removed", test_load_leftover_temp);
    ADD("/journal/load/other-files-untouched", test_load_ignores_other_files);

    ADD("/journal/set-aside/moves", test_set_aside);
    ADD("/journal/set-aside/same-second-both-kept", test_set_aside_twice);
    ADD("/journal/set-aside/absent-not-found", test_set_aside_absent);

    return g_test_run();
}
