/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/journal.h"
#include "itsmig/json-strict.h"
#include "daemon/http-server.h"
#include "daemon/itsmigd.h"
#include "daemon/log.h"
#include "daemon/job-run.h"

/* ---- records and events ------------------------------------------------------ */

void itsmigd_job_record_free(Record *rec)
{
    if (!rec)
        return;
    g_free(rec->id);
    g_free(rec->domain);
    g_free(rec->text);
    g_free(rec);
}

/* The job as it stands, to be journaled by itsmigd_job_journal_put() once o->lock is
 * released; @begins: the action whose start it records, or -1. */
Record *itsmigd_job_snapshot_locked(Run *r, int begins)
{
    g_autoptr(JsonNode) node = NULL;
    Record *rec = g_new0(Record, 1);

    /* The record says it is written: once it is, that is true (itsmigd_job_journal_commit() says
     * otherwise if it is not). */
    rec->was_behind = r->job->journal.behind;
    r->job->journal.written_us = g_get_real_time();
    itsmig_job_journal_written(r->job);
    node = itsmig_job_to_json(r->job);
    rec->id = g_strdup(r->job->id);
    rec->domain = g_strdup(r->job->domain);
    rec->text = json_to_string(node, FALSE);
    rec->version = ++r->version;
    rec->begins = begins;
    return rec;
}

/* The journal slot of record @id, claimed once no other thread has it; under o->io. */
static JournalSlot *claim_locked(ItsmigdOrchestrator *o, const char *id)
{
    JournalSlot *slot;

    while ((slot = g_hash_table_lookup(o->written, id)) && slot->busy)
        g_cond_wait(&o->io_cond, &o->io);
    if (!slot) {
        slot = g_new0(JournalSlot, 1);
        g_hash_table_insert(o->written, g_strdup(id), slot);
    }
    slot->busy = TRUE;
    return slot;
}

static void release(ItsmigdOrchestrator *o, JournalSlot *slot, guint64 on_disk)
{
    g_mutex_lock(&o->io);
    slot->on_disk = on_disk;
    slot->busy = FALSE;
    g_cond_broadcast(&o->io_cond);
    g_mutex_unlock(&o->io);
}

/* Writes @rec unless a later version of the record (or its removal) is on
 * disk already; without o->lock, which the main loop and the API wait on,
 * and without o->io, which the other jobs' writes wait on. */
gboolean itsmigd_job_journal_put(ItsmigdOrchestrator *o, const Record *rec, GError **error)
{
    JournalSlot *slot;
    guint64 on_disk;
    gboolean ok = TRUE;

    g_mutex_lock(&o->io);
    slot = claim_locked(o, rec->id);
    on_disk = slot->on_disk;
    g_mutex_unlock(&o->io);
    if (on_disk < rec->version) {
        itsmigd_job_fault_journal(o, rec);
        ok = itsmig_journal_write(o->journal, rec->id, rec->text, strlen(rec->text), error);
        if (ok)
            on_disk = rec->version;
    }
    release(o, slot, on_disk);
    return ok;
}

/* itsmigd_job_journal_put(); a failure is kept in the job (shown by the API until a later
 * write succeeds) and logged.  FALSE when the journal refused it. */
gboolean itsmigd_job_journal_commit(ItsmigdOrchestrator *o, Record *rec)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = itsmigd_job_journal_put(o, rec, &error);
    guint failures = 0;
    Run *r;

    /* Found again by id: a job may be pruned once the lock is released. */
    g_mutex_lock(&o->lock);
    r = itsmigd_job_find_locked(o, rec->id);
    if (r && !ok)
        itsmig_job_journal_failed(r->job, error->message);
    if (r)
        failures = r->job->journal.failures;
    g_mutex_unlock(&o->lock);
    if (!ok)
        itsmigd_log_job(G_LOG_LEVEL_WARNING, rec->domain, rec->id,
                        "migration %s: the journal could not record the job (%u failed "
                        "writes): %s",
                        rec->id, failures, error->message);
    else if (rec->was_behind)
        itsmigd_log_job(G_LOG_LEVEL_MESSAGE, rec->domain, rec->id,
                        "migration %s: the journal records the job again, after %u failed "
                        "writes",
                        rec->id, failures);
    itsmigd_job_record_free(rec);
    return ok;
}

/* Removes the records of @ids (forgotten jobs) for good: a write of an
 * older version still on its way does not bring one back. */
void itsmigd_job_journal_forget(ItsmigdOrchestrator *o, GPtrArray *ids)
{
    for (guint i = 0; ids && i < ids->len; i++) {
        const char *id = g_ptr_array_index(ids, i);
        JournalSlot *slot;

        g_mutex_lock(&o->io);
        slot = claim_locked(o, id);
        g_mutex_unlock(&o->io);
        itsmig_journal_remove(o->journal, id, NULL);
        release(o, slot, G_MAXUINT64);
    }
}

void itsmigd_job_publish_locked(Run *r, const char *kind, const char *outcome, const char *message)
{
    ItsmigJob *job = r->job;
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autofree char *now = itsmigd_time_string(g_get_real_time());

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "time", now);
    itsmig_json_add_string_or_null(b, "id", job->id);
    itsmig_json_add_string_or_null(b, "domain", job->domain);
    itsmig_json_add_string_or_null(b, "uuid", job->uuid);
    itsmig_json_add_string_or_null(b, "phase", itsmig_phase_to_string(job->phase));
    itsmig_json_add_string_or_null(b, "kind", kind);
    itsmig_json_add_string_or_null(b, "outcome", outcome);
    itsmig_json_add_string_or_null(b, "message", message);
    json_builder_set_member_name(b, "progress");
    if (strcmp(kind, "progress") == 0) {
        g_autoptr(JsonNode) all = itsmig_job_to_json(job);

        json_builder_add_value(
            b, json_node_copy(json_object_get_member(json_node_get_object(all), "progress")));
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_end_object(b);
    itsmigd_event_bus_publish(r->o->d->bus, "migration", json_builder_get_root(b));
}

/* Tells the API, and returns the record for itsmigd_job_journal_commit() to write once
 * o->lock is released. */
Record *itsmigd_job_record_locked(Run *r, int begins)
{
    if (r->job->phase != r->published_phase) {
        r->published_phase = r->job->phase;
        if (itsmig_phase_is_terminal(r->job->phase))
            itsmigd_job_publish_locked(r, "finished", itsmig_phase_to_string(r->job->phase),
                                       r->job->attention ? r->job->attention
                                                         : r->job->error_message);
        else
            itsmigd_job_publish_locked(r, "phase", NULL, NULL);
    }
    return itsmigd_job_snapshot_locked(r, begins);
}
