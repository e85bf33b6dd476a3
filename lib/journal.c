/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-replace.h"
#include "itsmig/error.h"
#include "itsmig/journal.h"
#include "itsmig/json-strict.h"

#define ID_MAX        64
#define RECORD_SUFFIX ".json"
#define TEMP_MARK     ".json.tmp-"
#define CORRUPT_DIR   "corrupt"
/* Set-asides of one record within one second; beyond that something is looping. */
#define CORRUPT_COPIES_MAX 1000

struct ItsmigJournal {
    char *dir;
    int dirfd;
};

/* ---- names --------------------------------------------------------------- */

gboolean itsmig_journal_id_is_valid(const char *id)
{
    gsize n;

    if (id == NULL || id[0] == '\0' || id[0] == '.')
        return FALSE;
    for (n = 0; id[n] != '\0'; n++) {
        if (n >= ID_MAX)
            return FALSE;
        if (!g_ascii_isalnum(id[n]) && id[n] != '.' && id[n] != '_' && id[n] != '-')
            return FALSE;
    }
    return TRUE;
}

static gboolean check_id(const char *id, GError **error)
{
    if (itsmig_journal_id_is_valid(id))
        return TRUE;
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                "'%s' cannot name a journal record: 1 to %d of A-Z a-z 0-9 . _ - are needed, "
                "not starting with '.'",
                id ? id : "(null)", ID_MAX);
    return FALSE;
}

/* The id of a record file's @name, or NULL when @name is not one. */
static char *id_of_record_name(const char *name)
{
    gsize len = strlen(name);
    g_autofree char *id = NULL;

    if (len <= strlen(RECORD_SUFFIX) || !g_str_has_suffix(name, RECORD_SUFFIX))
        return NULL;
    id = g_strndup(name, len - strlen(RECORD_SUFFIX));
    return itsmig_journal_id_is_valid(id) ? g_steal_pointer(&id) : NULL;
}

/* Whether @name is exactly what itsmig_file_replace_at() creates: ".ID.json.tmp-XXXXXX". */
static gboolean is_temp_name(const char *name)
{
    const char *mark;
    const char *random;
    g_autofree char *id = NULL;

    if (name[0] != '.')
        return FALSE;
    mark = g_strrstr(name, TEMP_MARK);
    if (mark == NULL)
        return FALSE;
    random = mark + strlen(TEMP_MARK);
    if (strlen(random) != ITSMIG_REPLACE_RANDOM_LEN)
        return FALSE;
    for (const char *p = random; *p != '\0'; p++) {
        if (!g_ascii_isalnum(*p))
            return FALSE;
    }
    id = g_strndup(name + 1, mark - name - 1);
    return itsmig_journal_id_is_valid(id);
}

static char *record_name(const char *id)
{
    return g_strconcat(id, RECORD_SUFFIX, NULL);
}

/* ---- opening ------------------------------------------------------------- */

ItsmigJournal *itsmig_journal_open(const char *dir, GError **error)
{
    g_autoptr(ItsmigJournal) journal = NULL;
    int e;

    g_return_val_if_fail(dir != NULL, NULL);

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        e = errno;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "cannot create journal directory %s: %s", dir, g_strerror(e));
        return NULL;
    }
    journal = g_new0(ItsmigJournal, 1);
    journal->dir = g_strdup(dir);
    journal->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (journal->dirfd < 0) {
        e = errno;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "cannot open journal directory %s: %s", dir, g_strerror(e));
        return NULL;
    }
    /* Now rather than at the first job's first write, which would fail the job. */
    if (faccessat(journal->dirfd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
        e = errno;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "journal directory %s is not writable: %s", dir, g_strerror(e));
        return NULL;
    }
    return g_steal_pointer(&journal);
}

void itsmig_journal_free(ItsmigJournal *journal)
{
    if (journal == NULL)
        return;
    if (journal->dirfd >= 0)
        close(journal->dirfd);
    g_free(journal->dir);
    g_free(journal);
}

const char *itsmig_journal_get_dir(const ItsmigJournal *journal)
{
    g_return_val_if_fail(journal != NULL, NULL);
    return journal->dir;
}

void itsmig_journal_record_free(ItsmigJournalRecord *record)
{
    if (record == NULL)
        return;
    g_free(record->id);
    g_free(record->text);
    g_free(record);
}

static void record_free_cb(gpointer record)
{
    itsmig_journal_record_free(record);
}

/* ---- content ------------------------------------------------------------- */

gboolean itsmig_journal_check_text(const char *what, const char *text, gsize len, GError **error)
{
    gsize i = 0;

    if (!itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, what, error))
        return FALSE;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    if (i == len || text[i] != '{') {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON, "%s is not a JSON object",
                    what);
        return FALSE;
    }
    return TRUE;
}

/* ---- writing ------------------------------------------------------------- */

gboolean itsmig_journal_write(ItsmigJournal *journal, const char *id, const char *text, gsize len,
                              GError **error)
{
    g_autofree char *name = NULL;
    g_autofree char *path = NULL;
    g_autofree char *what = NULL;
    g_autofree char *temp_path = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(ItsmigReplaceFailure) failure = {0};

    g_return_val_if_fail(journal != NULL, FALSE);
    g_return_val_if_fail(text != NULL || len == 0, FALSE);

    if (!check_id(id, error))
        return FALSE;
    name = record_name(id);
    path = g_build_filename(journal->dir, name, NULL);
    if (len > ITSMIG_JOURNAL_RECORD_MAX) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "journal record %s would have %" G_GSIZE_FORMAT " bytes, more than the %d "
                    "allowed",
                    path, len, ITSMIG_JOURNAL_RECORD_MAX);
        return FALSE;
    }
    what = g_strconcat("journal record ", path, NULL);
    if (!itsmig_journal_check_text(what, text ? text : "", len, &local)) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, local->message);
        return FALSE;
    }

    if (itsmig_file_replace_at(journal->dirfd, name, text ? text : "", len, 0600, &failure))
        return TRUE;
    switch (failure.step) {
    case ITSMIG_REPLACE_CREATE:
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "cannot write journal record %s: cannot create a temporary file in %s: %s",
                    path, journal->dir, g_strerror(failure.err));
        break;
    case ITSMIG_REPLACE_SYNC_DIR:
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "journal record %s was replaced, but fsync(%s) failed: %s; the new content "
                    "may not survive a crash",
                    path, journal->dir, g_strerror(failure.err));
        break;
    default:
        temp_path = g_build_filename(journal->dir, failure.temp, NULL);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "cannot write journal record %s: %s(%s) failed: %s", path, failure.call,
                    temp_path, g_strerror(failure.err));
        break;
    }
    return FALSE;
}

gboolean itsmig_journal_remove(ItsmigJournal *journal, const char *id, GError **error)
{
    g_autofree char *name = NULL;
    g_autofree char *path = NULL;
    int e;

    g_return_val_if_fail(journal != NULL, FALSE);

    if (!check_id(id, error))
        return FALSE;
    name = record_name(id);
    path = g_build_filename(journal->dir, name, NULL);
    if (unlinkat(journal->dirfd, name, 0) < 0) {
        e = errno;
        if (e == ENOENT)
            return TRUE;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "cannot remove journal record %s: unlink failed: %s", path, g_strerror(e));
        return FALSE;
    }
    if (fsync(journal->dirfd) < 0) {
        e = errno;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "journal record %s was removed, but fsync(%s) failed: %s; it may come back "
                    "after a crash",
                    path, journal->dir, g_strerror(e));
        return FALSE;
    }
    return TRUE;
}

/* ---- setting records aside ----------------------------------------------- */

/* Renames without ever replacing @to, so that no earlier copy is lost. */
static int move_no_replace(int from_dirfd, const char *from, int to_dirfd, const char *to)
{
    if (renameat2(from_dirfd, from, to_dirfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* A file system without RENAME_NOREPLACE: link() refuses an existing name too.  A crash
     * between the two calls leaves the record in place, to be set aside again. */
    if (linkat(from_dirfd, from, to_dirfd, to, 0) < 0)
        return -1;
    if (unlinkat(from_dirfd, from, 0) < 0) {
        int e = errno;

        unlinkat(to_dirfd, to, 0);
        errno = e;
        return -1;
    }
    return 0;
}

/* Moves record @name into corrupt/, as it is (a symbolic link stays a link); *@ret_path gets
 * where it went. */
static gboolean move_aside(ItsmigJournal *journal, const char *name, char **ret_path,
                           GError **error)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
    g_autofree char *corrupt_path = g_build_filename(journal->dir, CORRUPT_DIR, NULL);
    g_autofree char *dest = NULL;
    int corrupt_fd;
    int e;

    if (mkdirat(journal->dirfd, CORRUPT_DIR, 0700) < 0 && errno != EEXIST) {
        e = errno;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "cannot set aside journal record %s/%s: cannot create %s: %s", journal->dir,
                    name, corrupt_path, g_strerror(e));
        return FALSE;
    }
    corrupt_fd =
        openat(journal->dirfd, CORRUPT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (corrupt_fd < 0) {
        e = errno;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                    "cannot set aside journal record %s/%s: cannot open %s: %s", journal->dir, name,
                    corrupt_path, g_strerror(e));
        return FALSE;
    }
    for (guint n = 0;; n++) {
        g_free(dest);
        dest = n == 0 ? g_strdup_printf("%s.%s", name, stamp)
                      : g_strdup_printf("%s.%s.%u", name, stamp, n);
        if (move_no_replace(journal->dirfd, name, corrupt_fd, dest) == 0)
            break;
        e = errno;
        if (e != EEXIST || n + 1 >= CORRUPT_COPIES_MAX) {
            close(corrupt_fd);
            if (e == ENOENT) {
                g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND,
                            "there is no journal record %s/%s", journal->dir, name);
                return FALSE;
            }
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_JOURNAL,
                        "cannot set aside journal record %s/%s: rename to %s/%s failed: %s",
                        journal->dir, name, corrupt_path, dest, g_strerror(e));
            return FALSE;
        }
    }
    /* Failures ignored: a move that a crash undoes leaves the record where the next load()
     * finds it unusable again. */
    fsync(corrupt_fd);
    fsync(journal->dirfd);
    close(corrupt_fd);
    *ret_path = g_build_filename(corrupt_path, dest, NULL);
    return TRUE;
}

gboolean itsmig_journal_set_aside(ItsmigJournal *journal, const char *id, const char *why,
                                  char **ret_message, GError **error)
{
    g_autofree char *name = NULL;
    g_autofree char *path = NULL;
    g_autofree char *dest = NULL;
    struct stat st;

    g_return_val_if_fail(journal != NULL, FALSE);
    g_return_val_if_fail(why != NULL, FALSE);

    if (!check_id(id, error))
        return FALSE;
    name = record_name(id);
    path = g_build_filename(journal->dir, name, NULL);
    /* Checked first so that a wrong id does not create corrupt/. */
    if (fstatat(journal->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "there is no journal record %s",
                    path);
        return FALSE;
    }
    if (!move_aside(journal, name, &dest, error))
        return FALSE;
    if (ret_message)
        *ret_message = g_strdup_printf("journal record %s cannot be used: %s; set aside as %s",
                                       path, why, dest);
    return TRUE;
}

/* ---- loading ------------------------------------------------------------- */

typedef enum {
    READ_OK,
    READ_GONE,     /* removed since the directory was listed */
    READ_SKIP,     /* a directory: not a record */
    READ_LATER,    /* the process lacks resources; the record may be fine */
    READ_UNUSABLE, /* *ret_why says why */
} ReadResult;

static gboolean errno_is_transient(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS;
}

/* Reads what @fd holds, @size bytes by stat but perhaps more, up to the record's limit; the text
 * is NUL-terminated. */
static ReadResult read_all(int fd, gsize size, const char *what, char **ret_buf, gsize *ret_total,
                           char **ret_why)
{
    /* One byte more than stat promised, to see the end; more only if the file grew. */
    gsize cap = size + 1;
    gsize total = 0;
    g_autofree char *buf = g_malloc(cap + 1);

    for (;;) {
        ssize_t n;

        if (total == cap) {
            if (cap > ITSMIG_JOURNAL_RECORD_MAX)
                break;
            cap = MIN(cap * 2, (gsize)ITSMIG_JOURNAL_RECORD_MAX + 1);
            buf = g_realloc(buf, cap + 1);
        }
        n = read(fd, buf + total, cap - total);
        if (n < 0) {
            int e = errno;

            if (e == EINTR)
                continue;
            *ret_why = g_strdup_printf("%s cannot be read: %s", what, g_strerror(e));
            return errno_is_transient(e) ? READ_LATER : READ_UNUSABLE;
        }
        if (n == 0)
            break;
        total += (gsize)n;
    }
    if (total > ITSMIG_JOURNAL_RECORD_MAX) {
        *ret_why = g_strdup_printf("%s is larger than %d bytes", what, ITSMIG_JOURNAL_RECORD_MAX);
        return READ_UNUSABLE;
    }
    buf[total] = '\0';
    *ret_buf = g_steal_pointer(&buf);
    *ret_total = total;
    return READ_OK;
}

/* On READ_UNUSABLE, *@ret_text and *@ret_len are still set when the text could be read (it is
 * empty, or not a JSON object). */
static ReadResult read_record(ItsmigJournal *journal, const char *name, const char *what,
                              char **ret_text, gsize *ret_len, char **ret_why)
{
    g_autofree char *buf = NULL;
    g_autoptr(GError) local = NULL;
    struct stat st;
    gsize total = 0;
    ReadResult r;
    int fd;
    int e;

    /* O_NONBLOCK: a FIFO under a record's name must not hang the daemon's start. */
    fd = openat(journal->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT)
            return READ_GONE;
        if (errno_is_transient(e)) {
            *ret_why = g_strdup_printf("%s cannot be read now: %s", what, g_strerror(e));
            return READ_LATER;
        }
        if (e == ELOOP)
            *ret_why = g_strdup_printf("%s is a symbolic link", what);
        else
            *ret_why = g_strdup_printf("%s cannot be opened: %s", what, g_strerror(e));
        return READ_UNUSABLE;
    }
    if (fstat(fd, &st) < 0) {
        e = errno;
        close(fd);
        *ret_why = g_strdup_printf("%s cannot be examined: %s", what, g_strerror(e));
        return errno_is_transient(e) ? READ_LATER : READ_UNUSABLE;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return READ_SKIP;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        *ret_why = g_strdup_printf("%s is not a regular file", what);
        return READ_UNUSABLE;
    }
    if (st.st_size > ITSMIG_JOURNAL_RECORD_MAX) {
        close(fd);
        *ret_why = g_strdup_printf("%s is larger than %d bytes", what, ITSMIG_JOURNAL_RECORD_MAX);
        return READ_UNUSABLE;
    }

    r = read_all(fd, (gsize)st.st_size, what, &buf, &total, ret_why);
    close(fd);
    if (r != READ_OK)
        return r;
    if (total == 0 || !itsmig_journal_check_text(what, buf, total, &local)) {
        *ret_why = total == 0 ? g_strdup_printf("%s is empty", what) : g_strdup(local->message);
        *ret_text = g_steal_pointer(&buf);
        *ret_len = total;
        return READ_UNUSABLE;
    }
    *ret_text = g_steal_pointer(&buf);
    *ret_len = total;
    return READ_OK;
}

static void load_record(ItsmigJournal *journal, const char *name, char *id, GPtrArray *records,
                        GPtrArray *problems, GPtrArray *set_aside)
{
    g_autofree char *path = g_build_filename(journal->dir, name, NULL);
    g_autofree char *what = g_strconcat("journal record ", path, NULL);
    g_autofree char *why = NULL;
    g_autofree char *dest = NULL;
    g_autoptr(GError) local = NULL;
    ItsmigJournalRecord *record;
    char *text = NULL;
    gsize len = 0;

    switch (read_record(journal, name, what, &text, &len, &why)) {
    case READ_OK:
        record = g_new0(ItsmigJournalRecord, 1);
        record->id = id;
        record->text = text;
        record->len = len;
        g_ptr_array_add(records, record);
        return;
    case READ_GONE:
    case READ_SKIP: break;
    case READ_LATER: g_ptr_array_add(problems, g_strconcat(why, "; left in place", NULL)); break;
    case READ_UNUSABLE:
        if (move_aside(journal, name, &dest, &local)) {
            g_ptr_array_add(problems, g_strdup_printf("%s; set aside as %s", why, dest));
            if (text && set_aside) {
                record = g_new0(ItsmigJournalRecord, 1);
                record->id = g_steal_pointer(&id);
                record->text = g_steal_pointer(&text);
                record->len = len;
                g_ptr_array_add(set_aside, record);
            }
        } else {
            g_ptr_array_add(problems, g_strdup_printf("%s; %s", why, local->message));
        }
        break;
    }
    g_free(text);
    g_free(id);
}

static void remove_temp(ItsmigJournal *journal, const char *name, GPtrArray *problems)
{
    g_autofree char *path = g_build_filename(journal->dir, name, NULL);
    struct stat st;
    int e;

    /* Only what write() leaves: a regular file. */
    if (fstatat(journal->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
        return;
    if (unlinkat(journal->dirfd, name, 0) < 0) {
        e = errno;
        g_ptr_array_add(problems,
                        g_strdup_printf("cannot remove %s, left by a write that did not complete: "
                                        "%s",
                                        path, g_strerror(e)));
        return;
    }
    g_ptr_array_add(problems, g_strdup_printf("removed %s, left by a write that did not complete; "
                                              "the record kept its previous content",
                                              path));
}

/* The names in the directory, read completely before anything in it is renamed or removed. */
static GPtrArray *list_names(ItsmigJournal *journal, GPtrArray *problems)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *entry;
    DIR *dir = NULL;
    int fd;
    int e;

    /* A descriptor of its own: a dup() would share, and move, the journal's offset. */
    fd = openat(journal->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
        e = errno;
        if (fd >= 0)
            close(fd);
        g_ptr_array_add(problems, g_strdup_printf("cannot list journal directory %s: %s",
                                                  journal->dir, g_strerror(e)));
        return g_steal_pointer(&names);
    }
    for (;;) {
        errno = 0;
        entry = readdir(dir);
        if (entry == NULL)
            break;
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            g_ptr_array_add(names, g_strdup(entry->d_name));
    }
    if (errno != 0) {
        e = errno;
        g_ptr_array_add(problems, g_strdup_printf("cannot list all of journal directory %s: %s",
                                                  journal->dir, g_strerror(e)));
    }
    closedir(dir);
    return g_steal_pointer(&names);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gint compare_records(gconstpointer a, gconstpointer b)
{
    const ItsmigJournalRecord *ra = *(const ItsmigJournalRecord *const *)a;
    const ItsmigJournalRecord *rb = *(const ItsmigJournalRecord *const *)b;

    return strcmp(ra->id, rb->id);
}

GPtrArray *itsmig_journal_load(ItsmigJournal *journal, GPtrArray **ret_problems)
{
    return itsmig_journal_load_full(journal, ret_problems, NULL);
}

GPtrArray *itsmig_journal_load_full(ItsmigJournal *journal, GPtrArray **ret_problems,
                                    GPtrArray **ret_set_aside)
{
    g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func(record_free_cb);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) set_aside = g_ptr_array_new_with_free_func(record_free_cb);
    g_autoptr(GPtrArray) names = NULL;

    g_return_val_if_fail(journal != NULL, NULL);

    names = list_names(journal, problems);
    /* So that the problems, too, come in the same order every time. */
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        char *id;

        if (is_temp_name(name))
            remove_temp(journal, name, problems);
        else if ((id = id_of_record_name(name)) != NULL)
            load_record(journal, name, id, records, problems, set_aside);
    }
    g_ptr_array_sort(records, compare_records);
    if (ret_problems)
        *ret_problems = g_steal_pointer(&problems);
    if (ret_set_aside)
        *ret_set_aside = g_steal_pointer(&set_aside);
    return g_steal_pointer(&records);
}
