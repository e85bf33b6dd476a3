/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A migration job as itsmigd's API gives it: checked against the job
 * document, then put in words for migrate --wait, jobs and job. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmig/job.h"
#include "itsmig/json-member.h"
#include "job-print.h"

/* ---- checking a job ------------------------------------------------------------- */

static char *member_ctx(const char *ctx, const char *name)
{
    return ctx ? g_strdup_printf("%s.%s", ctx, name) : g_strdup(name);
}

static gboolean evidence_check(JsonObject *j, const char *ctx, const char *name, GError **error)
{
    g_autofree char *ectx = member_ctx(ctx, name);
    JsonObject *e;
    JsonArray *a;
    const char *s;
    gboolean b;

    if (!itsmig_json_get_object(ITSMIGCTL_AT(ctx), j, name, TRUE, &e, error))
        return FALSE;
    return !e || (itsmig_json_get_bool(ITSMIGCTL_AT(ectx), e, "checked", &b, error) &&
                  itsmig_json_get_string(ITSMIGCTL_AT(ectx), e, "method", FALSE, &s, error) &&
                  itsmig_json_get_string(ITSMIGCTL_AT(ectx), e, "reason", FALSE, &s, error) &&
                  itsmig_json_get_string(ITSMIGCTL_AT(ectx), e, "log", TRUE, &s, error) &&
                  itsmig_json_get_string_array(ITSMIGCTL_AT(ectx), e, "errors", FALSE, &a, error) &&
                  itsmig_json_get_string_array(ITSMIGCTL_AT(ectx), e, "lines", FALSE, &a, error));
}

/* A Job: what lib/job.c reads back from the journal (the record itsmigd writes
 * for the API as well), and the parts a job carries as they came (the verdict,
 * the ITS evidence), which are printed.  @ctx ("migrations[2]") names the job
 * in messages. */
gboolean itsmigctl_job_check(JsonObject *j, const char *ctx, GError **error)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), j);
    g_autoptr(ItsmigJob) job = itsmig_job_read(node, ITSMIGCTL_AT(ctx), error);
    g_autofree char *vctx = member_ctx(ctx, "verdict");
    JsonObject *verdict;

    return job && itsmig_json_get_object(ITSMIGCTL_AT(ctx), j, "verdict", TRUE, &verdict, error) &&
           (!verdict || itsmigctl_verdict_check(verdict, vctx, FALSE, error)) &&
           evidence_check(j, ctx, "its_save", error) &&
           evidence_check(j, ctx, "its_restore", error);
}

/* ---- reading a checked job ------------------------------------------------------- */

static const char *job_str(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    return JSON_NODE_HOLDS_NULL(n) ? NULL : json_node_get_string(n);
}

static JsonObject *job_obj(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    return JSON_NODE_HOLDS_NULL(n) ? NULL : json_node_get_object(n);
}

/* An integer member that may be null; FALSE for null. */
static gboolean job_int(JsonObject *o, const char *name, gint64 *ret)
{
    JsonNode *n = json_object_get_member(o, name);

    if (JSON_NODE_HOLDS_NULL(n))
        return FALSE;
    *ret = json_node_get_int(n);
    return TRUE;
}

static gboolean job_percent(JsonObject *job, double *ret)
{
    JsonNode *n = json_object_get_member(json_object_get_object_member(job, "progress"), "percent");

    if (JSON_NODE_HOLDS_NULL(n))
        return FALSE;
    *ret = json_node_get_value_type(n) == G_TYPE_INT64 ? (double)json_node_get_int(n)
                                                       : json_node_get_double(n);
    return TRUE;
}

static gboolean job_blocked(JsonObject *job)
{
    JsonObject *err = job_obj(job, "error");

    return err && strcmp(json_object_get_string_member(err, "code"), "blocked") == 0;
}

/* The exit status of migrate --wait for a finished job. */
int itsmigctl_job_exit_status(JsonObject *job)
{
    const char *phase = json_object_get_string_member(job, "phase");

    if (strcmp(phase, "done") == 0)
        return ITSMIGCTL_EXIT_OK;
    if (strcmp(phase, "failed-needs-attention") == 0)
        return ITSMIGCTL_EXIT_ATTENTION;
    return job_blocked(job) ? ITSMIGCTL_EXIT_BLOCKED : ITSMIGCTL_EXIT_ROLLED_BACK;
}

/* ---- text for people ------------------------------------------------------------- */

/* "512 B", "1.5 GiB"; with @per_second, "112.4 MiB/s". */
static char *bytes_text(guint64 n, gboolean per_second)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = -1;

    if (n < 1024)
        return g_strdup_printf("%" G_GUINT64_FORMAT " B%s", n, per_second ? "/s" : "");
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    return g_strdup_printf("%.1f %s%s", v, units[u], per_second ? "/s" : "");
}

/* "850 ms", "12.3 s", "4m05s", "2h10m". */
static char *duration_text(gint64 ms)
{
    if (ms < 1000)
        return g_strdup_printf("%" G_GINT64_FORMAT " ms", ms);
    if (ms < 60 * 1000)
        return g_strdup_printf("%.1f s", (double)ms / 1000);
    if (ms < 3600 * 1000)
        return g_strdup_printf("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s", ms / 60000,
                               ms / 1000 % 60);
    return g_strdup_printf("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m", ms / 3600000,
                           ms / 60000 % 60);
}

/* A clock: "00:07", "1:02:03". */
static char *elapsed_text(gint64 us)
{
    gint64 s = MAX(us, 0) / G_USEC_PER_SEC;

    if (s >= 3600)
        return g_strdup_printf("%" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT,
                               s / 3600, s / 60 % 60, s % 60);
    return g_strdup_printf("%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT, s / 60, s % 60);
}

/* "5m ago" for an ISO 8601 time; the text itself when it cannot be read. */
static char *age_text(const char *iso)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_iso8601(iso, NULL);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    gint64 s;

    if (!t)
        return itsmigctl_printable(iso);
    s = MAX(g_date_time_difference(now, t), 0) / G_USEC_PER_SEC;
    if (s < 60)
        return g_strdup_printf("%" G_GINT64_FORMAT "s ago", s);
    if (s < 3600)
        return g_strdup_printf("%" G_GINT64_FORMAT "m ago", s / 60);
    if (s < 86400)
        return g_strdup_printf("%" G_GINT64_FORMAT "h ago", s / 3600);
    return g_strdup_printf("%" G_GINT64_FORMAT "d ago", s / 86400);
}

/* "transfer  42%  112.4 MiB/s  00:07": where the job is, for the line that
 * follows it while waiting. */
char *itsmigctl_job_status_text(JsonObject *job, gint64 elapsed_us)
{
    JsonObject *p = json_object_get_object_member(job, "progress");
    g_autofree char *phase = itsmigctl_printable(json_object_get_string_member(job, "phase"));
    g_autofree char *clock = elapsed_text(elapsed_us);
    g_autoptr(GString) s = g_string_new(phase);
    gint64 rate = json_object_get_int_member(p, "bytes_per_second");
    double percent;

    if (strcmp(phase, "transfer") == 0) {
        if (job_percent(job, &percent))
            g_string_append_printf(s, "  %.0f%%", percent);
        if (rate > 0) {
            g_autofree char *r = bytes_text((guint64)rate, TRUE);

            g_string_append_printf(s, "  %s", r);
        }
    }
    if (json_object_get_boolean_member(job, "abort_requested") &&
        !json_object_get_boolean_member(job, "finished"))
        g_string_append(s, "  (abort requested)");
    g_string_append_printf(s, "  %s", clock);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* How the job ended, or that it has not. */
static char *result_text(JsonObject *job)
{
    g_autofree char *phase = itsmigctl_printable(json_object_get_string_member(job, "phase"));

    if (strcmp(phase, "done") == 0)
        return g_strdup("done: the guest runs on the destination");
    if (strcmp(phase, "failed-needs-attention") == 0)
        return g_strdup("failed-needs-attention: a person must act (see ATTENTION)");
    if (strcmp(phase, "rolled-back") == 0)
        return g_strdup(job_blocked(job)
                            ? "blocked: the preflight check refused it; nothing was changed"
                            : "rolled-back: the guest still runs on the source");
    if (strcmp(phase, "rollback") == 0)
        return g_strdup("rolling back");
    return g_strdup_printf("in progress, phase %s", phase);
}

static void evidence_print(JsonObject *job, const char *name, const char *label, gboolean detail)
{
    JsonObject *e = job_obj(job, name);
    JsonArray *errors, *lines;
    g_autofree char *method = NULL;
    g_autofree char *reason = NULL;

    if (!e) {
        printf("%s: not reached\n", label);
        return;
    }
    method = itsmigctl_printable(json_object_get_string_member(e, "method"));
    reason = itsmigctl_printable(json_object_get_string_member(e, "reason"));
    printf("%s: %s (%s): %s\n", label,
           json_object_get_boolean_member(e, "checked") ? "checked" : "not checked", method,
           reason);
    errors = json_object_get_array_member(e, "errors");
    for (guint i = 0; i < json_array_get_length(errors); i++) {
        g_autofree char *line = itsmigctl_printable(json_array_get_string_element(errors, i));

        printf("  error: %s\n", line);
    }
    if (!detail)
        return;
    if (job_str(e, "log")) {
        g_autofree char *log = itsmigctl_printable(job_str(e, "log"));

        printf("  log: %s\n", log);
    }
    lines = json_object_get_array_member(e, "lines");
    for (guint i = 0; i < json_array_get_length(lines); i++) {
        g_autofree char *line = itsmigctl_printable(json_array_get_string_element(lines, i));

        printf("  | %s\n", line);
    }
}

static void phases_print(JsonObject *job)
{
    JsonArray *a = json_object_get_array_member(job, "phases");

    printf("Phases:\n");
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *p = json_array_get_object_element(a, i);
        const char *outcome = job_str(p, "outcome");
        g_autofree char *name = itsmigctl_printable(json_object_get_string_member(p, "phase"));
        g_autofree char *out = NULL;
        gint64 ms;

        if (outcome)
            out = itsmigctl_printable(outcome);
        else
            out = g_strdup(job_str(p, "started_at") ? "running" : "-");
        printf("  ");
        itsmigctl_print_padded(name, 18);
        if (job_int(p, "duration_ms", &ms)) {
            g_autofree char *d = duration_text(ms);

            itsmigctl_print_padded(out, 10);
            printf("%s\n", d);
        } else {
            printf("%s\n", out);
        }
    }
}

static void onoff_list(GString *s, const char *label, gboolean value)
{
    g_string_append_printf(s, "%s%s %s", s->len ? ", " : "", label, value ? "yes" : "no");
}

/* "LABEL 60 s"; 0 is @zero ("none"). */
static void amount_list(GString *s, const char *label, gint64 v, const char *unit, const char *zero)
{
    g_string_append_printf(s, "%s%s ", s->len ? ", " : "", label);
    if (v)
        g_string_append_printf(s, "%" G_GINT64_FORMAT " %s", v, unit);
    else
        g_string_append(s, zero);
}

/* What a job says beyond its phases: its options, devices, facts, verdict. */
static void job_detail_print(JsonObject *job)
{
    JsonObject *o = json_object_get_object_member(job, "options");
    JsonObject *facts = json_object_get_object_member(job, "facts");
    JsonObject *rb = json_object_get_object_member(job, "rollback");
    JsonObject *pending = job_obj(job, "pending");
    JsonObject *verdict = job_obj(job, "verdict");
    JsonArray *devices = json_object_get_array_member(job, "devices");
    JsonNode *detach = json_object_get_member(o, "detach");
    g_autoptr(GString) s = g_string_new(NULL);
    g_autofree char *fs = itsmigctl_printable(json_object_get_string_member(facts, "source"));
    g_autofree char *fd = itsmigctl_printable(json_object_get_string_member(facts, "destination"));

    amount_list(s, "phase timeout", json_object_get_int_member(o, "phase_timeout"), "s", "none");
    amount_list(s, "total timeout", json_object_get_int_member(o, "total_timeout"), "s", "none");
    amount_list(s, "max downtime", json_object_get_int_member(o, "max_downtime"), "ms",
                "libvirt's default");
    amount_list(s, "bandwidth", json_object_get_int_member(o, "bandwidth"), "MiB/s", "unlimited");
    onoff_list(s, "auto-converge", json_object_get_boolean_member(o, "auto_converge"));
    onoff_list(s, "quiesce", json_object_get_boolean_member(o, "quiesce"));
    if (!JSON_NODE_HOLDS_NULL(detach)) {
        JsonArray *a = json_node_get_array(detach);

        g_string_append(s, ", detach:");
        for (guint i = 0; i < json_array_get_length(a); i++) {
            g_autofree char *alias = itsmigctl_printable(json_array_get_string_element(a, i));

            g_string_append_printf(s, " %s", alias);
        }
        if (json_array_get_length(a) == 0)
            g_string_append(s, " nothing");
    }
    printf("Options: %s\n", s->str);
    printf("Source was running: %s\n",
           json_object_get_boolean_member(job, "source_was_running") ? "yes" : "no");
    printf("Facts: source %s, destination %s, transfer %s\n", fs, fd,
           json_object_get_boolean_member(facts, "transfer_active") ? "active" : "not active");
    if (pending) {
        g_autofree char *action =
            itsmigctl_printable(json_object_get_string_member(pending, "action"));
        gint64 dev;

        if (job_int(pending, "device", &dev))
            printf("Pending action: %s (device %" G_GINT64_FORMAT ")\n", action, dev);
        else
            printf("Pending action: %s\n", action);
    }
    printf("Abort requested: %s\n",
           json_object_get_boolean_member(job, "abort_requested") ? "yes" : "no");
    printf("Recovered after an itsmigd restart: %s\n",
           json_object_get_boolean_member(job, "recovered") ? "yes" : "no");
    g_string_truncate(s, 0);
    onoff_list(s, "transfer aborted", json_object_get_boolean_member(rb, "aborted"));
    onoff_list(s, "destination destroyed", json_object_get_boolean_member(rb, "destroyed"));
    onoff_list(s, "source resumed", json_object_get_boolean_member(rb, "resumed"));
    printf("Rollback: %s\n", s->str);
    if (json_array_get_length(devices) == 0) {
        printf("Devices: none detached for the move\n");
    } else {
        printf("Devices:\n");
        for (guint i = 0; i < json_array_get_length(devices); i++) {
            JsonObject *d = json_array_get_object_element(devices, i);
            g_autofree char *alias = itsmigctl_printable(json_object_get_string_member(d, "alias"));
            g_autofree char *state = itsmigctl_printable(json_object_get_string_member(d, "state"));

            printf("  ");
            itsmigctl_print_padded(alias, 18);
            printf("%s\n", state);
        }
    }
    if (verdict) {
        printf("Preflight verdict: ");
        itsmigctl_verdict_print(verdict, json_object_get_string_member(job, "domain"),
                                job_str(job, "destination_hostname")
                                    ? job_str(job, "destination_hostname")
                                    : json_object_get_string_member(job, "destination"));
    } else {
        printf("Preflight verdict: none yet\n");
    }
}

/* The summary after migrate --wait, and (with @detail) itsmigctl job. */
void itsmigctl_job_print(JsonObject *job, gboolean detail)
{
    JsonObject *p = json_object_get_object_member(job, "progress");
    JsonObject *err = job_obj(job, "error");
    JsonArray *notes = json_object_get_array_member(job, "notes");
    const char *dh = job_str(job, "destination_hostname");
    const char *finished_at = job_str(job, "finished_at");
    const char *failed_phase = job_str(job, "failed_phase");
    g_autofree char *id = itsmigctl_printable(json_object_get_string_member(job, "id"));
    g_autofree char *domain = itsmigctl_printable(json_object_get_string_member(job, "domain"));
    g_autofree char *uuid = itsmigctl_printable(json_object_get_string_member(job, "uuid"));
    g_autofree char *source = itsmigctl_printable(json_object_get_string_member(job, "source"));
    g_autofree char *dest = itsmigctl_printable(json_object_get_string_member(job, "destination"));
    g_autofree char *dest_host = dh ? itsmigctl_printable(dh) : NULL;
    g_autofree char *created =
        itsmigctl_printable(json_object_get_string_member(job, "created_at"));
    g_autofree char *result = result_text(job);
    gint64 downtime, paused, total;

    printf("Migration %s: %s (%s) from %s %s %s%s%s%s, %s mode\n", id, domain, uuid, source,
           itsmigctl_arrow(), dest, dest_host ? " (" : "", dest_host ? dest_host : "",
           dest_host ? ")" : "", json_object_get_string_member(job, "mode"));
    printf("Result: %s\n", result);
    if (failed_phase) {
        g_autofree char *fp = itsmigctl_printable(failed_phase);

        printf("Failed in: %s\n", fp);
    }
    if (finished_at) {
        g_autofree char *fin = itsmigctl_printable(finished_at);

        printf("Created: %s, finished: %s\n", created, fin);
    } else {
        printf("Created: %s\n", created);
    }
    phases_print(job);
    total = json_object_get_int_member(p, "data_total");
    if (total > 0) {
        g_autofree char *done =
            bytes_text((guint64)json_object_get_int_member(p, "data_processed"), FALSE);
        g_autofree char *all = bytes_text((guint64)total, FALSE);

        printf("Transferred: %s of %s in %" G_GINT64_FORMAT " iteration(s)\n", done, all,
               json_object_get_int_member(p, "iteration"));
    }
    if (job_int(p, "downtime_ms", &downtime))
        printf("Downtime: %" G_GINT64_FORMAT " ms\n", downtime);
    /* Safe mode: the guest was paused from before the transfer until it was verified and
     * resumed, far longer than libvirt's switchover figure above. */
    if (json_object_has_member(p, "paused_ms") && job_int(p, "paused_ms", &paused))
        printf("Guest paused: %" G_GINT64_FORMAT " ms\n", paused);
    evidence_print(job, "its_save", "ITS save", detail);
    evidence_print(job, "its_restore", "ITS restore", detail);
    if (err) {
        g_autofree char *code = itsmigctl_printable(json_object_get_string_member(err, "code"));
        g_autofree char *msg = itsmigctl_printable(json_object_get_string_member(err, "message"));

        printf("Error: %s: %s\n", code, msg);
    }
    if (job_str(job, "attention")) {
        g_autofree char *att = itsmigctl_printable(job_str(job, "attention"));

        printf("ATTENTION: %s\n", att);
    }
    if (json_array_get_length(notes) > 0) {
        printf("Notes:\n");
        for (guint i = 0; i < json_array_get_length(notes); i++) {
            g_autofree char *note = itsmigctl_printable(json_array_get_string_element(notes, i));

            printf("  - %s\n", note);
        }
    }
    if (detail)
        job_detail_print(job);
}

void itsmigctl_jobs_print(JsonArray *jobs, gboolean quiet)
{
    static const char *const heads[] = {"ID",    "DOMAIN",   "TO",     "MODE",
                                        "PHASE", "PROGRESS", "STARTED"};
    static const char *const fields[] = {"id", "domain", "destination", "mode", "phase"};
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    guint n = json_array_get_length(jobs);

    if (quiet) {
        for (guint i = 0; i < n; i++) {
            g_autofree char *id = itsmigctl_printable(
                json_object_get_string_member(json_array_get_object_element(jobs, i), "id"));

            printf("%s\n", id);
        }
        return;
    }
    if (n == 0) {
        printf("No migration jobs.\n");
        return;
    }
    for (guint i = 0; i < n; i++) {
        JsonObject *job = json_array_get_object_element(jobs, i);
        double percent;

        for (guint c = 0; c < G_N_ELEMENTS(fields); c++)
            g_ptr_array_add(cells,
                            itsmigctl_printable(json_object_get_string_member(job, fields[c])));
        g_ptr_array_add(cells, job_percent(job, &percent) ? g_strdup_printf("%.0f%%", percent)
                                                          : g_strdup("-"));
        g_ptr_array_add(cells, age_text(json_object_get_string_member(job, "created_at")));
    }
    itsmigctl_print_table(heads, G_N_ELEMENTS(heads), cells, 0);
}
