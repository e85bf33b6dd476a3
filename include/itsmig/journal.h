/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The migration journal: one record per migration job, kept as ID.json in a
 * directory of its own (itsmigd uses a subdirectory of its state directory),
 * so that a job a crash interrupted can be found and finished or rolled back.
 * The journal does not interpret a record beyond requiring a JSON object; the
 * caller owns its meaning.
 *
 * A journal is used by one thread at a time, and a directory by one journal:
 * load() removes the temporary files of writes it did not see complete.
 */

#include <glib.h>

/* The largest record, in bytes: far more than a job needs, small enough to read whole. */
#define ITSMIG_JOURNAL_RECORD_MAX (1024 * 1024)

typedef struct ItsmigJournal ItsmigJournal;

/* Opens the directory @dir, creating it (and its parents) with mode 0700 when absent, and keeps
 * it open for the journal's life.  Fails with ITSMIG_ERROR_JOURNAL when it cannot be created or
 * opened, or is not writable.  Leftover temporary files are left to itsmig_journal_load(),
 * which reports them. */
ItsmigJournal *itsmig_journal_open(const char *dir, GError **error);
/* Accepts NULL. */
void itsmig_journal_free(ItsmigJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigJournal, itsmig_journal_free)

/* The @dir given to itsmig_journal_open(). */
const char *itsmig_journal_get_dir(const ItsmigJournal *journal);

/* Whether @id can name a record: 1..64 characters of [A-Za-z0-9._-], not starting with '.'
 * (so that a record is never hidden, and never "." or ".."). */
gboolean itsmig_journal_id_is_valid(const char *id);

/* Replaces the record @id by the @len bytes of @text, atomically: after a crash at any point the
 * record is either its old text or the new one, whole.  The text goes to a new temporary file in
 * the same directory, which is synced, closed and renamed over ID.json; the directory is then
 * synced, so that the record survives a crash once this returns TRUE.
 *
 * Refuses with ITSMIG_ERROR_INVALID_ARGUMENT an invalid @id, and text that
 * itsmig_journal_load() would not give back: longer than ITSMIG_JOURNAL_RECORD_MAX, not JSON
 * (itsmig_json_check(), at most ITSMIG_JSON_DEPTH_MAX deep) or not an object.  Other failures are
 * ITSMIG_ERROR_JOURNAL, naming the file and the failing call's reason; the old record is then
 * untouched and the temporary file removed, except when only the final sync of the directory
 * failed: the new text is then in place but may not survive a crash. */
gboolean itsmig_journal_write(ItsmigJournal *journal, const char *id, const char *text, gsize len,
                              GError **error);

/* Removes the record @id and syncs the directory; an absent record is not an error. */
gboolean itsmig_journal_remove(ItsmigJournal *journal, const char *id, GError **error);

/* Whether @text is what itsmig_journal_load() gives back (JSON as itsmig_json_check() sees it,
 * an object), so that write() refuses what load() would set aside.  @what begins the message:
 * "journal record /x/m1.json".  Pure: the fuzz harness checks it apart from the files. */
gboolean itsmig_journal_check_text(const char *what, const char *text, gsize len, GError **error);

typedef struct {
    char *id;
    char *text; /* @len bytes, followed by a NUL that is not part of the record */
    gsize len;
} ItsmigJournalRecord;

/* Accepts NULL. */
void itsmig_journal_record_free(ItsmigJournalRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigJournalRecord, itsmig_journal_record_free)

/* Every usable record in the directory, sorted by id (strcmp()): a GPtrArray of
 * ItsmigJournalRecord that frees them.  Never fails; what it could not use goes to
 * *@ret_problems (a GPtrArray of char *, one line each; pass NULL to ignore them):
 *
 *  - A record that cannot be used (a symbolic link or other non-regular file, unreadable, empty,
 *    longer than ITSMIG_JOURNAL_RECORD_MAX, not JSON as itsmig_json_check() sees it, or not an
 *    object) is moved, as it is, into the subdirectory "corrupt" (created 0700 on demand) as
 *    corrupt/ID.json.YYYYMMDDTHHMMSSZ (UTC, with ".N" added when that exists), and reported:
 *    "journal record /x/m1.json is not JSON: <why>; set aside as /x/corrupt/m1.json.<time>".
 *    A record the process cannot read for want of resources (file descriptors, memory) is left
 *    in place and reported.
 *  - A temporary file of a write that did not complete is removed and reported; the record
 *    kept its previous content.
 *
 * Anything else (other names, subdirectories, even a directory named ID.json) is left alone.
 * No file is followed through a symbolic link, and none is read beyond the size limit. */
GPtrArray *itsmig_journal_load(ItsmigJournal *journal, GPtrArray **ret_problems);

/* As itsmig_journal_load(); *@ret_set_aside (when not NULL) also gets the records it set aside
 * that it could read (empty, not JSON, not an object), as an array of ItsmigJournalRecord with
 * the text as it was, so that the caller can save what can still be read of them. */
GPtrArray *itsmig_journal_load_full(ItsmigJournal *journal, GPtrArray **ret_problems,
                                    GPtrArray **ret_set_aside);

/* For a record the caller found unusable (its own parser refused it): moves it aside as
 * itsmig_journal_load() does, and sets *@ret_message (when not NULL) to a line of the same kind,
 * "journal record /x/m1.json cannot be used: <@why>; set aside as /x/corrupt/m1.json.<time>".
 * Fails with ITSMIG_ERROR_INVALID_ARGUMENT for an invalid @id, ITSMIG_ERROR_NOT_FOUND when there
 * is no such record, ITSMIG_ERROR_JOURNAL when it cannot be moved (it then stays in place). */
gboolean itsmig_journal_set_aside(ItsmigJournal *journal, const char *id, const char *why,
                                  char **ret_message, GError **error);
