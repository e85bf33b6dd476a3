/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/json-strict.h"
#include "daemon/domain-registry.h"
#include "daemon/log.h"
#include "daemon/virt-names.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"

typedef struct {
    gint64 time_us;
    const char *type; /* a static string from virt-names */
    char *detail;
    gboolean reconstructed;
} HistoryEntry;

typedef struct {
    char *name;
    char *uuid;
    int id;
    int state;
    int reason;
    gboolean persistent;
    gint64 updated_us;
    ItsmigdDomainView *view; /* NULL until read */
    ItsmigdRecordWrite record_write;
    char *record_cause;
    char *record_why;
    gint64 record_since_us;
    GQueue history; /* HistoryEntry*, oldest first */
} Domain;

struct ItsmigdRegistry {
    /* A mutex, not a read-write lock: glibc's prefers readers, and a stream
     * of HTTP readers must never keep the libvirt worker waiting. */
    GMutex lock;
    GHashTable *by_uuid; /* owns Domain */
    GHashTable *by_name; /* borrows */
    guint history_size;
    guint64 generation;

    /* The last list reply, reused while nothing changed. */
    GMutex cache_lock;
    guint64 cache_generation;
    int cache_state;
    guint cache_offset, cache_limit;
    GBytes *cache_body;
};

static void history_entry_free(HistoryEntry *e)
{
    g_free(e->detail);
    g_free(e);
}

static void domain_free(Domain *d)
{
    g_free(d->name);
    g_free(d->uuid);
    itsmigd_domain_view_unref(d->view);
    g_free(d->record_cause);
    g_free(d->record_why);
    g_queue_clear_full(&d->history, (GDestroyNotify)history_entry_free);
    g_free(d);
}

ItsmigdRegistry *itsmigd_registry_new(guint history_size)
{
    ItsmigdRegistry *reg = g_new0(ItsmigdRegistry, 1);

    g_mutex_init(&reg->lock);
    g_mutex_init(&reg->cache_lock);
    reg->by_uuid =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)domain_free);
    reg->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    reg->history_size = MAX(history_size, 1);
    reg->generation = 1;
    return reg;
}

void itsmigd_registry_free(ItsmigdRegistry *reg)
{
    if (!reg)
        return;
    g_hash_table_destroy(reg->by_name);
    g_hash_table_destroy(reg->by_uuid);
    g_clear_pointer(&reg->cache_body, g_bytes_unref);
    g_mutex_clear(&reg->lock);
    g_mutex_clear(&reg->cache_lock);
    g_free(reg);
}

static void trim_history(Domain *d, guint size)
{
    while (d->history.length > size)
        history_entry_free(g_queue_pop_head(&d->history));
}

void itsmigd_registry_set_history_size(ItsmigdRegistry *reg, guint history_size)
{
    GHashTableIter iter;
    gpointer value;

    g_mutex_lock(&reg->lock);
    reg->history_size = MAX(history_size, 1);
    g_hash_table_iter_init(&iter, reg->by_uuid);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        trim_history(value, reg->history_size);
    reg->generation++;
    g_mutex_unlock(&reg->lock);
}

gboolean itsmigd_registry_update(ItsmigdRegistry *reg, const ItsmigdDomainInfo *info,
                                 int *ret_old_state)
{
    Domain *d;
    gboolean added = FALSE;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, info->uuid);
    if (!d) {
        d = g_new0(Domain, 1);
        d->uuid = g_strdup(info->uuid);
        d->state = -1;
        g_queue_init(&d->history);
        g_hash_table_insert(reg->by_uuid, d->uuid, d);
        added = TRUE;
    }
    if (ret_old_state)
        *ret_old_state = d->state;
    if (g_strcmp0(d->name, info->name) != 0) {
        /* A rename keeps the UUID; only the name index moves. */
        if (d->name && g_hash_table_lookup(reg->by_name, d->name) == d)
            g_hash_table_remove(reg->by_name, d->name);
        g_free(d->name);
        d->name = g_strdup(info->name);
        /* replace, not insert: the key must be this domain's string, since
         * another domain holding the name may be freed first. */
        g_hash_table_replace(reg->by_name, d->name, d);
    }
    d->id = info->id;
    d->state = info->state;
    d->reason = info->reason;
    d->persistent = info->persistent;
    d->updated_us = g_get_real_time();
    reg->generation++;
    g_mutex_unlock(&reg->lock);
    return added;
}

/* Puts @view in place of @old (any view when @any); FALSE when the domain is
 * unknown or its view is no longer @old.  The view dropped is released by
 * the caller, after the lock. */
static gboolean swap_view(ItsmigdRegistry *reg, const char *uuid, ItsmigdDomainView *old,
                          gboolean any, ItsmigdDomainView *view, ItsmigdDomainView **ret_dropped)
{
    Domain *d;
    gboolean swapped = FALSE;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, uuid);
    if (d && (any || d->view == old)) {
        *ret_dropped = d->view;
        d->view = view ? itsmigd_domain_view_ref(view) : NULL;
        reg->generation++;
        swapped = TRUE;
    }
    g_mutex_unlock(&reg->lock);
    return swapped;
}

void itsmigd_registry_set_view(ItsmigdRegistry *reg, const char *uuid, ItsmigdDomainView *view)
{
    ItsmigdDomainView *dropped = NULL;

    swap_view(reg, uuid, NULL, TRUE, view, &dropped);
    itsmigd_domain_view_unref(dropped);
}

gboolean itsmigd_registry_replace_view(ItsmigdRegistry *reg, const char *uuid,
                                       ItsmigdDomainView *old, ItsmigdDomainView *view)
{
    ItsmigdDomainView *dropped = NULL;
    gboolean swapped = swap_view(reg, uuid, old, FALSE, view, &dropped);

    itsmigd_domain_view_unref(dropped);
    return swapped;
}

void itsmigd_registry_set_record_write(ItsmigdRegistry *reg, const char *uuid,
                                       ItsmigdRecordWrite state, const char *cause, const char *why)
{
    Domain *d;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, uuid);
    if (d) {
        if (d->record_write != state)
            d->record_since_us = g_get_real_time();
        d->record_write = state;
        g_free(d->record_cause);
        d->record_cause = state != ITSMIGD_RECORD_WRITE_NONE ? g_strdup(cause) : NULL;
        g_free(d->record_why);
        d->record_why = state != ITSMIGD_RECORD_WRITE_NONE ? g_strdup(why) : NULL;
        reg->generation++;
    }
    g_mutex_unlock(&reg->lock);
}

/* A reference to @d's view when it has a profile; NULL otherwise. */
static ItsmigdDomainView *readable_view(const Domain *d)
{
    return d && d->view && d->view->profile ? itsmigd_domain_view_ref(d->view) : NULL;
}

/* @view itself when its hostdevs are described as they are now; else a view
 * read again from its XML, put in the registry in its place (unless a newer
 * one came meanwhile).  Takes @view; called without the lock. */
static ItsmigdDomainView *view_here(ItsmigdRegistry *reg, ItsmigdHost *host, const char *uuid,
                                    ItsmigdDomainView *view)
{
    ItsmigdDomainView *now;

    if (!host || itsmigd_domain_view_current(view, host))
        return view;
    now = itsmigd_domain_view_read(view->xml, host);
    itsmigd_registry_replace_view(reg, uuid, view, now);
    itsmigd_domain_view_unref(view);
    return now;
}

ItsmigdDomainView *itsmigd_registry_get_view(ItsmigdRegistry *reg, ItsmigdHost *host,
                                             const char *name, char **ret_uuid)
{
    ItsmigdDomainView *view;
    g_autofree char *uuid = NULL;
    const Domain *d;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_name, name);
    view = readable_view(d);
    if (view)
        uuid = g_strdup(d->uuid);
    g_mutex_unlock(&reg->lock);
    if (!view)
        return NULL;
    view = view_here(reg, host, uuid, view);
    if (ret_uuid)
        *ret_uuid = g_steal_pointer(&uuid);
    return view;
}

ItsmigdDomainView *itsmigd_registry_update_view(ItsmigdRegistry *reg, ItsmigdHost *host,
                                                const char *uuid, GBytes *xml, gboolean replace_any)
{
    g_autoptr(ItsmigdDomainView) old = itsmigd_registry_peek_view(reg, uuid);
    ItsmigdDomainView *view;

    if (itsmigd_domain_view_has_xml(old, xml) && itsmigd_domain_view_current(old, host))
        return g_steal_pointer(&old);
    view = itsmigd_domain_view_read(xml, host);
    if (replace_any)
        itsmigd_registry_set_view(reg, uuid, view);
    else
        itsmigd_registry_replace_view(reg, uuid, old, view);
    return view;
}

ItsmigdDomainView *itsmigd_registry_peek_view(ItsmigdRegistry *reg, const char *uuid)
{
    const Domain *d;
    ItsmigdDomainView *view = NULL;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, uuid);
    if (d && d->view)
        view = itsmigd_domain_view_ref(d->view);
    g_mutex_unlock(&reg->lock);
    return view;
}

void itsmigd_named_view_free(ItsmigdNamedView *x)
{
    if (!x)
        return;
    g_free(x->name);
    g_free(x->uuid);
    itsmigd_domain_view_unref(x->view);
    g_free(x);
}

static int compare_named_view(gconstpointer a, gconstpointer b)
{
    const ItsmigdNamedView *x = *(ItsmigdNamedView *const *)a;
    const ItsmigdNamedView *y = *(ItsmigdNamedView *const *)b;

    return strcmp(x->name, y->name);
}

GPtrArray *itsmigd_registry_all_views(ItsmigdRegistry *reg, ItsmigdHost *host)
{
    GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)itsmigd_named_view_free);
    GHashTableIter it;
    gpointer value;

    g_mutex_lock(&reg->lock);
    g_hash_table_iter_init(&it, reg->by_uuid);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const Domain *d = value;
        ItsmigdDomainView *view = readable_view(d);
        ItsmigdNamedView *x;

        if (!view)
            continue;
        x = g_new0(ItsmigdNamedView, 1);
        x->name = g_strdup(d->name);
        x->uuid = g_strdup(d->uuid);
        x->view = view;
        g_ptr_array_add(all, x);
    }
    g_mutex_unlock(&reg->lock);
    for (guint i = 0; i < all->len; i++) {
        ItsmigdNamedView *x = g_ptr_array_index(all, i);

        x->view = view_here(reg, host, x->uuid, x->view);
    }
    g_ptr_array_sort(all, compare_named_view);
    return all;
}

void itsmigd_registry_add_history(ItsmigdRegistry *reg, const char *uuid, gint64 time_us,
                                  const char *type, const char *detail, gboolean reconstructed)
{
    Domain *d;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, uuid);
    if (d) {
        HistoryEntry *e = g_new(HistoryEntry, 1);

        e->time_us = time_us;
        e->type = type;
        e->detail = g_strdup(detail);
        e->reconstructed = reconstructed;
        g_queue_push_tail(&d->history, e);
        trim_history(d, reg->history_size);
        reg->generation++;
    }
    g_mutex_unlock(&reg->lock);
}

gboolean itsmigd_registry_remove(ItsmigdRegistry *reg, const char *uuid)
{
    Domain *d;
    gboolean found = FALSE;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, uuid);
    if (d) {
        if (g_hash_table_lookup(reg->by_name, d->name) == d)
            g_hash_table_remove(reg->by_name, d->name);
        g_hash_table_remove(reg->by_uuid, uuid);
        reg->generation++;
        found = TRUE;
    }
    g_mutex_unlock(&reg->lock);
    return found;
}

gboolean itsmigd_registry_contains(ItsmigdRegistry *reg, const char *uuid)
{
    gboolean found;

    g_mutex_lock(&reg->lock);
    found = g_hash_table_contains(reg->by_uuid, uuid);
    g_mutex_unlock(&reg->lock);
    return found;
}

gboolean itsmigd_registry_get(ItsmigdRegistry *reg, const char *uuid, char **ret_name,
                              int *ret_state)
{
    Domain *d;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, uuid);
    if (d) {
        if (ret_name)
            *ret_name = g_strdup(d->name);
        if (ret_state)
            *ret_state = d->state;
    }
    g_mutex_unlock(&reg->lock);
    return d != NULL;
}

gboolean itsmigd_registry_is_persistent(ItsmigdRegistry *reg, const char *uuid)
{
    const Domain *d;
    gboolean persistent;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_uuid, uuid);
    persistent = d && d->persistent;
    g_mutex_unlock(&reg->lock);
    return persistent;
}

char **itsmigd_registry_uuids(ItsmigdRegistry *reg)
{
    GPtrArray *uuids = g_ptr_array_new();
    GHashTableIter iter;
    gpointer key;

    g_mutex_lock(&reg->lock);
    g_hash_table_iter_init(&iter, reg->by_uuid);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        g_ptr_array_add(uuids, g_strdup(key));
    g_mutex_unlock(&reg->lock);
    g_ptr_array_add(uuids, NULL);
    return (char **)g_ptr_array_free(uuids, FALSE);
}

guint itsmigd_registry_count(ItsmigdRegistry *reg)
{
    guint n;

    g_mutex_lock(&reg->lock);
    n = g_hash_table_size(reg->by_uuid);
    g_mutex_unlock(&reg->lock);
    return n;
}

void itsmigd_registry_count_by_state(ItsmigdRegistry *reg, guint *counts, guint n_states)
{
    GHashTableIter iter;
    gpointer value;

    memset(counts, 0, n_states * sizeof(*counts));
    g_mutex_lock(&reg->lock);
    g_hash_table_iter_init(&iter, reg->by_uuid);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const Domain *d = value;

        if (d->state >= 0 && (guint)d->state < n_states)
            counts[d->state]++;
    }
    g_mutex_unlock(&reg->lock);
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    const Domain *da = *(const Domain *const *)a;
    const Domain *db = *(const Domain *const *)b;

    return strcmp(da->name, db->name);
}

static void add_summary(JsonBuilder *b, const Domain *d)
{
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, d->name);
    json_builder_set_member_name(b, "uuid");
    json_builder_add_string_value(b, d->uuid);
    json_builder_set_member_name(b, "id");
    if (d->id >= 0)
        json_builder_add_int_value(b, d->id);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, itsmigd_state_name(d->state));
    json_builder_set_member_name(b, "reason");
    json_builder_add_string_value(b, itsmigd_state_reason_name(d->state, d->reason));
    json_builder_set_member_name(b, "persistent");
    json_builder_add_boolean_value(b, d->persistent);
    json_builder_set_member_name(b, "record_write");
    if (d->record_write == ITSMIGD_RECORD_WRITE_NONE) {
        json_builder_add_null_value(b);
    } else {
        g_autofree char *since = itsmigd_time_string(d->record_since_us);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(
            b, d->record_write == ITSMIGD_RECORD_WRITE_PENDING ? "pending" : "failed");
        itsmig_json_add_string_or_null(b, "cause", d->record_cause);
        itsmig_json_add_string_or_null(b, "since", since);
        itsmig_json_add_string_or_null(b, "reason", d->record_why);
        json_builder_end_object(b);
    }
}

static GBytes *builder_to_bytes(JsonBuilder *b)
{
    g_autoptr(JsonNode) root = json_builder_get_root(b);

    return itsmig_json_to_bytes(root);
}

GBytes *itsmigd_registry_list_json(ItsmigdRegistry *reg, int state, guint offset, guint limit)
{
    g_autoptr(JsonBuilder) b = NULL;
    g_autoptr(GPtrArray) all = NULL;
    GHashTableIter iter;
    gpointer value;
    guint matched = 0;
    GBytes *body;

    g_mutex_lock(&reg->lock);
    g_mutex_lock(&reg->cache_lock);
    if (reg->cache_body && reg->cache_generation == reg->generation && reg->cache_state == state &&
        reg->cache_offset == offset && reg->cache_limit == limit) {
        body = g_bytes_ref(reg->cache_body);
        g_mutex_unlock(&reg->cache_lock);
        g_mutex_unlock(&reg->lock);
        return body;
    }
    g_mutex_unlock(&reg->cache_lock);

    all = g_ptr_array_sized_new(g_hash_table_size(reg->by_uuid));
    g_hash_table_iter_init(&iter, reg->by_uuid);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const Domain *d = value;

        if (state < 0 || d->state == state)
            g_ptr_array_add(all, value);
    }
    g_ptr_array_sort(all, by_name);

    b = json_builder_new_immutable();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "domains");
    json_builder_begin_array(b);
    for (guint i = offset; i < all->len && matched < limit; i++, matched++) {
        json_builder_begin_object(b);
        add_summary(b, g_ptr_array_index(all, i));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "total");
    json_builder_add_int_value(b, all->len);
    json_builder_set_member_name(b, "offset");
    json_builder_add_int_value(b, offset);
    json_builder_set_member_name(b, "limit");
    json_builder_add_int_value(b, limit);
    json_builder_end_object(b);
    body = builder_to_bytes(b);

    g_mutex_lock(&reg->cache_lock);
    g_clear_pointer(&reg->cache_body, g_bytes_unref);
    reg->cache_body = g_bytes_ref(body);
    reg->cache_generation = reg->generation;
    reg->cache_state = state;
    reg->cache_offset = offset;
    reg->cache_limit = limit;
    g_mutex_unlock(&reg->cache_lock);
    g_mutex_unlock(&reg->lock);
    return body;
}

GBytes *itsmigd_registry_domain_json(ItsmigdRegistry *reg, const char *name)
{
    g_autoptr(JsonBuilder) b = NULL;
    g_autofree char *updated = NULL;
    g_autoptr(ItsmigdDomainView) view = NULL;
    const Domain *d;

    g_mutex_lock(&reg->lock);
    d = g_hash_table_lookup(reg->by_name, name);
    if (!d) {
        g_mutex_unlock(&reg->lock);
        return NULL;
    }
    b = json_builder_new_immutable();
    json_builder_begin_object(b);
    add_summary(b, d);
    updated = itsmigd_time_string(d->updated_us);
    itsmig_json_add_string_or_null(b, "updated", updated);
    json_builder_set_member_name(b, "history");
    json_builder_begin_array(b);
    for (GList *l = d->history.head; l; l = l->next) {
        const HistoryEntry *e = l->data;
        g_autofree char *time = itsmigd_time_string(e->time_us);

        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "time", time);
        itsmig_json_add_string_or_null(b, "type", e->type);
        itsmig_json_add_string_or_null(b, "detail", e->detail);
        itsmig_json_add_bool(b, "reconstructed", e->reconstructed);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    if (d->view)
        view = itsmigd_domain_view_ref(d->view);
    g_mutex_unlock(&reg->lock);

    /* The view never changes: no need to hold the lock for it. */
    json_builder_set_member_name(b, "profile");
    if (view && view->profile)
        itsmig_domain_profile_to_json(view->profile, b);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "profile_error");
    if (view && view->profile_error)
        json_builder_add_string_value(b, view->profile_error);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
    return builder_to_bytes(b);
}
