/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "compat-private.h"
#include "file-read.h"
#include "file-replace.h"
#include "itsmig/host-history.h"

/* "caps-" HASH ".json", HASH 16 lowercase hex digits. */
#define ENTRY_PREFIX   "caps-"
#define ENTRY_SUFFIX   ".json"
#define ENTRY_HASH_LEN 16

void itsmig_host_history_entry_free(ItsmigHostHistoryEntry *e)
{
    if (!e)
        return;
    itsmig_host_caps_free(e->caps);
    g_free(e->file);
    g_free(e);
}

static gboolean entry_name_valid(const char *name)
{
    gsize n = strlen(name);

    if (n != strlen(ENTRY_PREFIX) + ENTRY_HASH_LEN + strlen(ENTRY_SUFFIX) ||
        !g_str_has_prefix(name, ENTRY_PREFIX) || !g_str_has_suffix(name, ENTRY_SUFFIX))
        return FALSE;
    for (gsize i = strlen(ENTRY_PREFIX); i < strlen(ENTRY_PREFIX) + ENTRY_HASH_LEN; i++)
        if (!g_ascii_isxdigit(name[i]) || g_ascii_isupper(name[i]))
            return FALSE;
    return TRUE;
}

static gboolean fail_errno(GError **error, int e, const char *what, const char *dir,
                           const char *name)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "cannot %s %s%s%s: %s", what, dir,
                name ? "/" : "", name ? name : "", g_strerror(e));
    return FALSE;
}

/* The directory, created when missing, opened without following a symlink. */
static int open_dir(const char *dir, GError **error)
{
    int fd;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fail_errno(error, errno, "create", dir, NULL);
        return -1;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        fail_errno(error, errno, "open", dir, NULL);
    return fd;
}

static char *caps_document(const ItsmigHostCaps *caps)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *json = NULL;

    json_builder_begin_object(b);
    itsmig_host_caps_to_json_members(caps, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json = json_to_string(root, FALSE);
    return g_strconcat(json, "\n", NULL);
}

/* The entry's name: a hash of what tells one version of the host from another for a restore,
 * the kernel's and KVM's facts, without the libvirt and QEMU versions and the declared values
 * a probe contradicts, so that a package update rewrites the kernel's entry instead of taking
 * another slot. */
static char *entry_name(const ItsmigHostCaps *caps)
{
    g_autoptr(ItsmigHostCaps) key = itsmig_host_caps_copy(caps);
    g_autofree char *text = NULL;
    g_autofree char *hash = NULL;

    key->meta[ITSMIG_CAP_QEMU_VERSION].source = ITSMIG_CAP_UNKNOWN;
    key->meta[ITSMIG_CAP_LIBVIRT_VERSION].source = ITSMIG_CAP_UNKNOWN;
    for (int f = 0; f < ITSMIG_CAP_LAST; f++)
        g_clear_pointer(&key->meta[f].conflict_probed, g_free);
    text = caps_document(key);
    hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
    hash[ENTRY_HASH_LEN] = '\0';
    return g_strconcat(ENTRY_PREFIX, hash, ENTRY_SUFFIX, NULL);
}

/* Removes the entries seen longest ago beyond ITSMIG_HOST_HISTORY_MAX, never @keep (the one
 * just recorded, whatever the clock said when it was). */
static gboolean prune(int dirfd, const char *dir, const char *keep, GError **error)
{
    g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    DIR *d;
    struct dirent *de;
    int fd = dup(dirfd);

    if (fd < 0 || !(d = fdopendir(fd))) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return fail_errno(error, e, "read", dir, NULL);
    }
    rewinddir(d);
    while ((de = readdir(d))) {
        struct stat st;

        /* Only what a record writes counts: a directory under such a name is not an entry. */
        if (!entry_name_valid(de->d_name) || strcmp(de->d_name, keep) == 0 ||
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
            continue;
        g_ptr_array_add(names, g_strdup(de->d_name));
        g_array_append_val(seen, st.st_mtime);
    }
    closedir(d);
    /* @keep counts too. */
    while (names->len + 1 > ITSMIG_HOST_HISTORY_MAX) {
        guint oldest = 0;

        for (guint i = 1; i < names->len; i++)
            if (g_array_index(seen, gint64, i) < g_array_index(seen, gint64, oldest))
                oldest = i;
        if (unlinkat(dirfd, g_ptr_array_index(names, oldest), 0) < 0 && errno != ENOENT)
            return fail_errno(error, errno, "remove", dir, g_ptr_array_index(names, oldest));
        g_ptr_array_remove_index_fast(names, oldest);
        g_array_remove_index_fast(seen, oldest);
    }
    return TRUE;
}

/* Whether @name in @dirfd holds @text already. */
static gboolean holds(int dirfd, const char *name, const char *text)
{
    ItsmigReadFailure f = {0};
    gsize len = 0;
    g_autofree char *old = itsmig_file_read_at(dirfd, name, ITSMIG_HOST_CAPS_MAX, &len, NULL, &f);

    return old && strcmp(old, text) == 0;
}

gboolean itsmig_host_history_record(const char *dir, const ItsmigHostCaps *caps, gint64 now,
                                    GError **error)
{
    g_autofree char *text = caps_document(caps);
    g_autofree char *name = entry_name(caps);
    struct timespec times[2] = {{.tv_sec = now}, {.tv_sec = now}};
    struct stat st;
    gboolean ok = TRUE;
    gboolean written = FALSE;
    int dirfd = open_dir(dir, error);

    if (dirfd < 0)
        return FALSE;
    if (!holds(dirfd, name, text)) {
        g_auto(ItsmigReplaceFailure) failure = {0};

        written = TRUE;
        ok = itsmig_file_replace_at(dirfd, name, text, strlen(text), 0600, &failure) ||
             fail_errno(error, failure.err, failure.call, dir, name);
    }
    /* Seen now; an entry seen before, never earlier than that (a clock that booted wrong). */
    if (ok &&
        (written || (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime < now)) &&
        utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
        ok = fail_errno(error, errno, "touch", dir, name);
    ok = ok && prune(dirfd, dir, name, error);
    close(dirfd);
    return ok;
}

/* One entry's document, NULL with @error when it is no entry. */
static ItsmigHostCaps *read_entry(int dirfd, const char *name, gint64 *ret_seen, GError **error)
{
    ItsmigReadFailure f = {0};
    gsize len = 0;
    g_autofree char *text =
        itsmig_file_read_at(dirfd, name, ITSMIG_HOST_CAPS_MAX, &len, ret_seen, &f);

    if (!text) {
        if (f.call)
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(f.err), "cannot %s it: %s",
                        f.call, g_strerror(f.err));
        else if (f.err == EFBIG)
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "larger than %d bytes",
                        ITSMIG_HOST_CAPS_MAX);
        else
            g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a regular file");
        return NULL;
    }
    return itsmig_host_caps_from_json(text, (gssize)len, error);
}

static gint by_last_seen(gconstpointer a, gconstpointer b)
{
    const ItsmigHostHistoryEntry *x = *(ItsmigHostHistoryEntry *const *)a;
    const ItsmigHostHistoryEntry *y = *(ItsmigHostHistoryEntry *const *)b;

    if (x->last_seen != y->last_seen)
        return x->last_seen > y->last_seen ? -1 : 1;
    return strcmp(x->file, y->file);
}

GPtrArray *itsmig_host_history_load(const char *dir, GPtrArray *ret_skipped, GError **error)
{
    g_autoptr(GPtrArray) entries =
        g_ptr_array_new_with_free_func((GDestroyNotify)itsmig_host_history_entry_free);
    DIR *d;
    struct dirent *de;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (dirfd < 0 && errno == ENOENT)
        return g_steal_pointer(&entries);
    if (dirfd < 0) {
        fail_errno(error, errno, "open", dir, NULL);
        return NULL;
    }
    d = fdopendir(dirfd);
    if (!d) {
        fail_errno(error, errno, "read", dir, NULL);
        close(dirfd);
        return NULL;
    }
    while ((de = readdir(d))) {
        g_autoptr(GError) local = NULL;
        g_autoptr(ItsmigHostHistoryEntry) e = g_new0(ItsmigHostHistoryEntry, 1);

        if (!entry_name_valid(de->d_name))
            continue;
        e->file = g_strdup(de->d_name);
        e->caps = read_entry(dirfd, de->d_name, &e->last_seen, &local);
        if (!e->caps) {
            /* Removed meanwhile (a record pruned it): not a problem to report. */
            if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                continue;
            if (ret_skipped)
                g_ptr_array_add(ret_skipped,
                                g_strdup_printf("%s/%s: %s", dir, de->d_name, local->message));
            continue;
        }
        g_ptr_array_add(entries, g_steal_pointer(&e));
    }
    closedir(d);
    g_ptr_array_sort(entries, by_last_seen);
    return g_steal_pointer(&entries);
}

/* @n and one more fact agreeing (@agrees), or -1 once one does not. */
static int tally(int n, gboolean agrees)
{
    return n < 0 || !agrees ? -1 : n + 1;
}

/* How many of the facts @m records @caps has as recorded; -1 when it has one otherwise. */
static int agreement(const ItsmigHostCaps *caps, const ItsmigItsMetadata *m)
{
    int n = 0;

    if (m->host_its_abi_revisions && compat_known(caps, ITSMIG_CAP_ITS_ABI_REVISIONS))
        n = tally(n, caps->its_abi_revisions == m->host_its_abi_revisions);
    if (m->host_gicv4 != ITSMIG_GICV4_UNKNOWN && compat_known(caps, ITSMIG_CAP_GICV4))
        n = tally(n, caps->gicv4 == m->host_gicv4);
    if (m->host_save_tables >= 0 && compat_known(caps, ITSMIG_CAP_SAVE_TABLES))
        n = tally(n, caps->save_tables == (m->host_save_tables != 0));
    if (m->host_save_pending_tables >= 0 && compat_known(caps, ITSMIG_CAP_SAVE_PENDING_TABLES))
        n = tally(n, caps->save_pending_tables == (m->host_save_pending_tables != 0));
    if (m->host_ctrl_reset >= 0 && compat_known(caps, ITSMIG_CAP_CTRL_RESET))
        n = tally(n, caps->ctrl_reset == (m->host_ctrl_reset != 0));
    if (m->host_page_size && compat_known(caps, ITSMIG_CAP_PAGE_SIZE))
        n = tally(n, caps->page_size == m->host_page_size);
    if (m->host_arch && compat_known(caps, ITSMIG_CAP_ARCH))
        n = tally(n, g_strcmp0(caps->arch, m->host_arch) == 0);
    return n;
}

const ItsmigHostHistoryEntry *itsmig_host_history_match(GPtrArray *entries,
                                                        const ItsmigItsMetadata *m)
{
    const ItsmigHostHistoryEntry *best = NULL;
    int best_agreement = 0;

    if (!m->host_regs_digest)
        return NULL;
    /* Most recent first: a later entry wins only by agreeing with more. */
    for (guint i = 0; i < entries->len; i++) {
        const ItsmigHostHistoryEntry *e = g_ptr_array_index(entries, i);
        int n;

        if (!e->caps->regs.available || g_strcmp0(e->caps->regs_digest, m->host_regs_digest) != 0)
            continue;
        n = agreement(e->caps, m);
        /* Not the host the record describes, whatever its registers. */
        if (n < 0)
            continue;
        if (!best || n > best_agreement) {
            best = e;
            best_agreement = n;
        }
    }
    return best;
}
