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
#include "job-print.h"

#define POLL_INTERVAL_US      (100 * 1000)
#define POLL_STEP_US          (50 * 1000)
#define PLAIN_PROGRESS_GAP_US (5 * G_USEC_PER_SEC)

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
    if (!itsmigctl_job_check(job, NULL, &error)) {
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
        g_autofree char *status = itsmigctl_job_status_text(job, now - start);

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
        itsmigctl_job_print(job, FALSE);
    }
    return itsmigctl_job_exit_status(job);
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
    if (!itsmigctl_job_check(job, NULL, &error))
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
            !itsmigctl_job_check(job, jctx, &error)) {
            itsmigctl_bad_reply(client, "GET /v1/migrations", error);
            return NULL;
        }
    }
    return jobs;
}

int itsmigctl_cmd_jobs(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    gboolean json = FALSE, quiet = FALSE;
    const ItsmigctlOptions opts = {"jobs", "- list migration jobs", jobs_description, &conn, TRUE,
                                   0};
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(JsonObject) reply = NULL;
    JsonArray *jobs;
    int r;

    r = itsmigctl_list_open(&opts, "Print the job ids only", &json, &quiet, &argc, &argv, &client);
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
        itsmigctl_jobs_print(jobs, quiet);
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
        itsmigctl_job_print(job, TRUE);
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
    if (!itsmigctl_job_check(job, NULL, &error)) {
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
