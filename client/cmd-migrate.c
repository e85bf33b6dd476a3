/* SPDX-License-Identifier: GPL-2.0-or-later */
/* itsmigctl migrate, jobs, job, abort: itsmigd's migration jobs. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "itsmig/error.h"
#include "itsmig/job.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmigctl.h"

#define POLL_INTERVAL_US      (100 * 1000)
#define POLL_STEP_US          (50 * 1000)
#define PLAIN_PROGRESS_GAP_US (5 * G_USEC_PER_SEC)

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
static gboolean job_check(JsonObject *j, const char *ctx, GError **error)
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
static int job_exit_status(JsonObject *job)
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
static char *status_text(JsonObject *job, gint64 elapsed_us)
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
static void job_print(JsonObject *job, gboolean detail)
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

/* "/v1/migrations/ID", the id escaped. */
static char *job_path(const char *id)
{
    g_autofree char *escaped = g_uri_escape_string(id, NULL, FALSE);

    return g_strdup_printf("/v1/migrations/%s", escaped);
}

/* GET /v1/migrations/ID, checked; NULL after printing why. */
static JsonObject *job_get(ItsmigRestClient *client, const char *id)
{
    g_autofree char *path = job_path(id);
    g_autoptr(JsonObject) job = itsmigctl_call(client, "GET", path, NULL);
    g_autoptr(GError) error = NULL;

    if (!job)
        return NULL;
    if (!job_check(job, NULL, &error)) {
        g_autofree char *req = g_strdup_printf("GET %s", path);

        itsmigctl_bad_reply(client, req, error);
        return NULL;
    }
    return g_steal_pointer(&job);
}

static int check_job_id(const char *cmd, int argc, char **argv)
{
    if (argc < 2)
        return itsmigctl_usage_error("%s: which job? (itsmigctl %s ID; itsmigctl jobs lists them)",
                                     cmd, cmd);
    if (argc > 2)
        return itsmigctl_usage_error("%s: unexpected argument '%s'", cmd, argv[2]);
    if (!*argv[1] || !g_utf8_validate(argv[1], -1, NULL))
        return itsmigctl_usage_error("%s: the job id is empty or not valid UTF-8", cmd);
    return ITSMIGCTL_EXIT_OK;
}

/* ---- itsmigctl migrate ------------------------------------------------------------- */

/* Sleeps one poll interval in steps, so that SIGINT is seen at once. */
static void poll_pause(void)
{
    for (gint64 t = 0; t < POLL_INTERVAL_US && !itsmigctl_interrupted(); t += POLL_STEP_US)
        g_usleep(POLL_STEP_US);
}

/* Follows the job until it ends; returns the exit status. */
static int migrate_wait(ItsmigRestClient *client, JsonObject *started, gboolean json)
{
    g_autoptr(JsonObject) job = json_object_ref(started);
    g_autofree char *id = g_strdup(json_object_get_string_member(job, "id"));
    g_autofree char *shown_id = itsmigctl_printable(id);
    g_autofree char *last_phase = NULL;
    gboolean tty = !json && isatty(STDOUT_FILENO);
    gint64 start = g_get_monotonic_time(), last_line = 0;
    gboolean line_open = FALSE;

    itsmigctl_catch_sigint();
    for (;;) {
        const char *phase = json_object_get_string_member(job, "phase");
        gint64 now = g_get_monotonic_time();
        g_autofree char *status = status_text(job, now - start);

        if (tty) {
            /* One line, redrawn in place. */
            printf("\r\033[K%s", status);
            line_open = TRUE;
        } else if (!json &&
                   (g_strcmp0(phase, last_phase) != 0 ||
                    (strcmp(phase, "transfer") == 0 && now - last_line >= PLAIN_PROGRESS_GAP_US))) {
            printf("%s\n", status);
            last_line = now;
        }
        fflush(stdout);
        g_free(last_phase);
        last_phase = g_strdup(phase);
        if (json_object_get_boolean_member(job, "finished"))
            break;

        poll_pause();
        if (!itsmigctl_interrupted()) {
            JsonObject *next = job_get(client, id);

            if (!next) {
                if (line_open)
                    putchar('\n');
                fprintf(stderr, "itsmigctl: job %s continues; itsmigctl job %s shows it\n",
                        shown_id, shown_id);
                return ITSMIGCTL_EXIT_FAILURE;
            }
            json_object_unref(job);
            job = next;
        }
        if (itsmigctl_interrupted()) {
            if (line_open)
                putchar('\n');
            fflush(stdout);
            fprintf(stderr, "job %s continues; itsmigctl abort %s stops it\n", shown_id, shown_id);
            return ITSMIGCTL_EXIT_INTERRUPTED;
        }
    }
    if (json) {
        itsmigctl_print_object(job);
    } else {
        if (line_open)
            putchar('\n');
        putchar('\n');
        job_print(job, FALSE);
    }
    return job_exit_status(job);
}

/* A whole number option from 0 to G_MAXINT32; FALSE after printing why. */
static gboolean parse_count(const char *value, const char *option, const char *unit, gint64 *ret)
{
    guint64 n;

    if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXINT32, &n, NULL)) {
        itsmigctl_usage_error("migrate: %s '%s' is not a whole number of %s", option, value, unit);
        return FALSE;
    }
    *ret = (gint64)n;
    return TRUE;
}

static const char migrate_description[] =
    "Asks itsmigd to migrate DOMAIN to the peer PEER (a name from itsmigd.conf)\n"
    "as a journaled job, and prints the job's id.  With --wait, follows the job\n"
    "until it ends and prints a summary: the phases and their durations, the\n"
    "downtime, the ITS save and restore evidence, errors and notes.  Ctrl-C stops\n"
    "waiting, not the job: 'itsmigctl abort ID' does that.\n"
    "\n"
    "Modes: safe (default) pauses the source before the transfer, so that a\n"
    "rollback is possible until the destination runs; live copies memory while\n"
    "the vCPUs run and the destination runs from the switchover on, its ITS\n"
    "verified right after.\n"
    "\n"
    "A guest that was paused before the migration arrives paused, as with plain\n"
    "virsh migrate; --resume resumes it on the destination.\n"
    "\n"
    "The connection's --timeout is not available here: --timeout is the job's.\n"
    "\n"
    "Exit status: 0 started (with --wait: done); 4 blocked by the preflight\n"
    "check; 5 rolled back, the guest still runs on the source; 6 failed and needs\n"
    "attention; 1 itsmigd could not be asked or refused (e.g. conflict: a job for\n"
    "the domain is under way); 2 bad arguments; 130 interrupted while waiting.\n";

/* The options of itsmigctl migrate, as given, and their numbers once checked. */
typedef struct {
    ItsmigctlConn conn;
    char *to, *mode, *phase_timeout, *total_timeout, *max_downtime, *bandwidth;
    GStrv detach;
    gboolean wait, auto_converge, no_quiesce, json, resume;
    gint64 n_phase, n_total, n_downtime, n_bandwidth;
} MigrateArgs;

static void migrate_args_clear(MigrateArgs *a)
{
    itsmigctl_conn_clear(&a->conn);
    g_free(a->to);
    g_free(a->mode);
    g_free(a->phase_timeout);
    g_free(a->total_timeout);
    g_free(a->max_downtime);
    g_free(a->bandwidth);
    g_strfreev(a->detach);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MigrateArgs, migrate_args_clear)

static int migrate_parse(int *argc, char ***argv, MigrateArgs *a)
{
    GOptionEntry entries[] = {
        {"to", 0, 0, G_OPTION_ARG_STRING, &a->to, "The destination: a peer itsmigd knows", "PEER"},
        {"mode", 0, 0, G_OPTION_ARG_STRING, &a->mode, "safe (default) or live", "MODE"},
        {"wait", 0, 0, G_OPTION_ARG_NONE, &a->wait, "Follow the job until it ends", NULL},
        {"phase-timeout", 0, 0, G_OPTION_ARG_STRING, &a->phase_timeout,
         "Give each phase this long (0: no limit)", "SECONDS"},
        {"timeout", 0, 0, G_OPTION_ARG_STRING, &a->total_timeout,
         "Give the whole job this long (0: no limit)", "SECONDS"},
        {"max-downtime", 0, 0, G_OPTION_ARG_STRING, &a->max_downtime,
         "The longest pause QEMU may take at switchover (0: libvirt's default)", "MS"},
        {"bandwidth", 0, 0, G_OPTION_ARG_STRING, &a->bandwidth,
         "Limit the transfer to this rate (0: unlimited)", "MIBS"},
        {"auto-converge", 0, 0, G_OPTION_ARG_NONE, &a->auto_converge,
         "Let QEMU slow the vCPUs down when memory changes faster than it is copied", NULL},
        {"no-quiesce", 0, 0, G_OPTION_ARG_NONE, &a->no_quiesce,
         "Do not detach the devices that cannot migrate", NULL},
        {"resume", 0, 0, G_OPTION_ARG_NONE, &a->resume,
         "Resume on the destination a guest that was paused (by default it stays paused)", NULL},
        {"detach", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->detach,
         "Detach this device for the move (repeatable; default: what preflight finds)", "ALIAS"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &a->json, "Print itsmigd's JSON job", NULL},
        {NULL},
    };
    /* The connection goes without --timeout: --timeout is the job's. */
    const ItsmigctlOptions opts = {
        "migrate", "DOMAIN --to PEER - migrate a domain", migrate_description, &a->conn, FALSE, 1};

    return itsmigctl_parse_options(&opts, entries, argc, argv);
}

/* The arguments after the options are parsed; fills the numbers. */
static int migrate_check(int argc, char **argv, MigrateArgs *a)
{
    if (argc < 2)
        return itsmigctl_usage_error("migrate: which domain? (itsmigctl migrate DOMAIN --to PEER)");
    if (!*argv[1] || !g_utf8_validate(argv[1], -1, NULL))
        return itsmigctl_usage_error("migrate: the domain name is empty or not valid UTF-8");
    if (!a->to || !*a->to)
        return itsmigctl_usage_error("migrate: --to PEER is required (a peer from itsmigd.conf)");
    if (!g_utf8_validate(a->to, -1, NULL))
        return itsmigctl_usage_error("migrate: --to is not valid UTF-8");
    if (a->mode && itsmig_job_mode_from_string(a->mode) < 0)
        return itsmigctl_usage_error("migrate: --mode '%s' is neither safe nor live", a->mode);
    if ((a->phase_timeout &&
         !parse_count(a->phase_timeout, "--phase-timeout", "seconds", &a->n_phase)) ||
        (a->total_timeout && !parse_count(a->total_timeout, "--timeout", "seconds", &a->n_total)) ||
        (a->max_downtime &&
         !parse_count(a->max_downtime, "--max-downtime", "milliseconds", &a->n_downtime)) ||
        (a->bandwidth && !parse_count(a->bandwidth, "--bandwidth", "MiB/s", &a->n_bandwidth)))
        return ITSMIGCTL_EXIT_USAGE;
    return itsmigctl_check_values("migrate", "--detach", "a device alias", a->detach);
}

/* Only what was asked for: itsmigd's defaults hold for the rest. */
static void migrate_options_json(JsonBuilder *b, const MigrateArgs *a)
{
    json_builder_set_member_name(b, "options");
    json_builder_begin_object(b);
    if (a->phase_timeout)
        itsmig_json_add_int(b, "phase_timeout", a->n_phase);
    if (a->total_timeout)
        itsmig_json_add_int(b, "total_timeout", a->n_total);
    if (a->max_downtime)
        itsmig_json_add_int(b, "max_downtime", a->n_downtime);
    if (a->bandwidth)
        itsmig_json_add_int(b, "bandwidth", a->n_bandwidth);
    if (a->auto_converge)
        itsmig_json_add_bool(b, "auto_converge", TRUE);
    if (a->no_quiesce)
        itsmig_json_add_bool(b, "quiesce", FALSE);
    if (a->resume)
        itsmig_json_add_bool(b, "resume", TRUE);
    if (a->detach)
        itsmig_json_add_strv(b, "detach", (const char *const *)a->detach);
    json_builder_end_object(b);
}

static JsonNode *migrate_body(const MigrateArgs *a, const char *domain)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "domain", domain);
    itsmig_json_add_string_or_null(b, "destination", a->to);
    if (a->mode) {
        itsmig_json_add_string_or_null(b, "mode", a->mode);
    }
    if (a->phase_timeout || a->total_timeout || a->max_downtime || a->bandwidth ||
        a->auto_converge || a->no_quiesce || a->detach || a->resume)
        migrate_options_json(b, a);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

int itsmigctl_cmd_migrate(int argc, char **argv)
{
    g_auto(MigrateArgs) a = {0};
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonNode) body = NULL;
    g_autoptr(JsonObject) job = NULL;
    g_autoptr(GError) error = NULL;
    int r;

    r = migrate_parse(&argc, &argv, &a);
    if (r)
        return r;
    r = migrate_check(argc, argv, &a);
    if (r)
        return r;
    r = itsmigctl_conn_open(&a.conn, "migrate", &client);
    if (r)
        return r;

    body = migrate_body(&a, argv[1]);
    job = itsmigctl_call(client, "POST", "/v1/migrations", body);
    if (!job)
        return ITSMIGCTL_EXIT_FAILURE;
    if (!job_check(job, NULL, &error))
        return itsmigctl_bad_reply(client, "POST /v1/migrations", error);
    if (!a.json) {
        g_autofree char *id = itsmigctl_printable(json_object_get_string_member(job, "id"));
        g_autofree char *dom = itsmigctl_printable(json_object_get_string_member(job, "domain"));
        g_autofree char *dest =
            itsmigctl_printable(json_object_get_string_member(job, "destination"));

        printf("migration %s of %s to %s started (%s)\n", id, dom, dest,
               json_object_get_string_member(job, "mode"));
        fflush(stdout);
    }
    if (a.wait)
        return migrate_wait(client, job, a.json);
    if (a.json)
        itsmigctl_print_object(job);
    return ITSMIGCTL_EXIT_OK;
}

/* ---- itsmigctl jobs ------------------------------------------------------------------ */

static const char jobs_description[] =
    "Lists itsmigd's migration jobs, newest first: id, domain, destination,\n"
    "mode, phase, transfer progress and when each started.  --quiet prints the\n"
    "ids only, one per line.\n"
    "\n"
    "Exit status: 0 listed; 1 itsmigd could not be asked; 2 bad arguments.\n";

/* Checks every job of GET /v1/migrations' reply; NULL after printing why. */
static JsonArray *jobs_check(ItsmigRestClient *client, JsonObject *reply)
{
    g_autoptr(GError) error = NULL;
    JsonArray *jobs;

    if (!itsmig_json_get_array(ITSMIGCTL_AT(NULL), reply, "migrations", FALSE, &jobs, &error)) {
        itsmigctl_bad_reply(client, "GET /v1/migrations", error);
        return NULL;
    }
    for (guint i = 0; i < json_array_get_length(jobs); i++) {
        g_autofree char *jctx = g_strdup_printf("migrations[%u]", i);
        JsonObject *job;

        if (!itsmig_json_get_element_object(ITSMIGCTL_AT(NULL), "migrations", jobs, i, &job,
                                            &error) ||
            !job_check(job, jctx, &error)) {
            itsmigctl_bad_reply(client, "GET /v1/migrations", error);
            return NULL;
        }
    }
    return jobs;
}

static void jobs_print(JsonArray *jobs, gboolean quiet)
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

int itsmigctl_cmd_jobs(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    gboolean json = FALSE, quiet = FALSE;
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print itsmigd's JSON list", NULL},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print the job ids only", NULL},
        {NULL},
    };
    const ItsmigctlOptions opts = {"jobs", "- list migration jobs", jobs_description, &conn, TRUE,
                                   0};
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonObject) reply = NULL;
    JsonArray *jobs;
    int r;

    r = itsmigctl_parse_options(&opts, entries, &argc, &argv);
    if (r)
        return r;
    if (json && quiet)
        return itsmigctl_usage_error("jobs: --json and --quiet exclude each other");
    r = itsmigctl_conn_open(&conn, "jobs", &client);
    if (r)
        return r;

    reply = itsmigctl_call(client, "GET", "/v1/migrations", NULL);
    if (!reply)
        return ITSMIGCTL_EXIT_FAILURE;
    jobs = jobs_check(client, reply);
    if (!jobs)
        return ITSMIGCTL_EXIT_FAILURE;
    if (json)
        itsmigctl_print_object(reply);
    else
        jobs_print(jobs, quiet);
    return ITSMIGCTL_EXIT_OK;
}

/* ---- itsmigctl job ------------------------------------------------------------------- */

static const char job_description[] =
    "Shows one migration job: where it is or how it ended, each phase with its\n"
    "outcome and duration, the downtime, the ITS save and restore evidence (with\n"
    "the QEMU log lines behind it), errors, what needs attention, notes, the\n"
    "options, the devices detached for the move, what itsmigd last observed on\n"
    "both hosts, and the preflight verdict.\n"
    "\n"
    "Exit status: 0 shown; 1 no such job, or itsmigd could not be asked; 2 bad\n"
    "arguments.\n";

/* itsmigctl job and abort: the options (ID, --json), then the connection. */
static int job_command_open(const ItsmigctlOptions *opts, int *argc, char ***argv, gboolean *json,
                            ItsmigRestClient **ret_client)
{
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, json, "Print itsmigd's JSON job", NULL},
        {NULL},
    };
    int r = itsmigctl_parse_options(opts, entries, argc, argv);

    if (r)
        return r;
    r = check_job_id(opts->name, *argc, *argv);
    if (r)
        return r;
    return itsmigctl_conn_open(opts->conn, opts->name, ret_client);
}

int itsmigctl_cmd_job(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    const ItsmigctlOptions opts = {"job", "ID - show a migration job", job_description, &conn, TRUE,
                                   -1};
    gboolean json = FALSE;
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonObject) job = NULL;
    int r;

    r = job_command_open(&opts, &argc, &argv, &json, &client);
    if (r)
        return r;

    job = job_get(client, argv[1]);
    if (!job)
        return ITSMIGCTL_EXIT_FAILURE;
    if (json)
        itsmigctl_print_object(job);
    else
        job_print(job, TRUE);
    return ITSMIGCTL_EXIT_OK;
}

/* ---- itsmigctl abort ----------------------------------------------------------------- */

static const char abort_description[] =
    "Asks itsmigd to stop a migration job and roll it back: the transfer is\n"
    "aborted, a paused copy on the destination destroyed, the source resumed and\n"
    "its devices put back.  Too late once the job has ended or the guest runs on\n"
    "the destination (conflict).\n"
    "\n"
    "Exit status: 0 requested; 1 refused (not-found, conflict) or itsmigd could\n"
    "not be asked; 2 bad arguments.\n";

int itsmigctl_cmd_abort(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    const ItsmigctlOptions opts = {
        "abort", "ID - stop a migration job", abort_description, &conn, TRUE, -1};
    gboolean json = FALSE;
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonObject) job = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    int r;

    r = job_command_open(&opts, &argc, &argv, &json, &client);
    if (r)
        return r;

    path = job_path(argv[1]);
    job = itsmigctl_call(client, "DELETE", path, NULL);
    if (!job)
        return ITSMIGCTL_EXIT_FAILURE;
    if (!job_check(job, NULL, &error)) {
        g_autofree char *req = g_strdup_printf("DELETE %s", path);

        return itsmigctl_bad_reply(client, req, error);
    }
    if (json) {
        itsmigctl_print_object(job);
    } else {
        g_autofree char *id = itsmigctl_printable(json_object_get_string_member(job, "id"));

        printf("abort of %s requested; it rolls back\n", id);
    }
    return ITSMIGCTL_EXIT_OK;
}
