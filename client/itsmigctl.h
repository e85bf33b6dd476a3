/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/rest-client.h"

/* Exit statuses shared by every itsmigctl command (see itsmigctl(1)). */
enum {
    ITSMIGCTL_EXIT_OK = 0,
    ITSMIGCTL_EXIT_FAILURE = 1,       /* the operation failed */
    ITSMIGCTL_EXIT_USAGE = 2,         /* bad arguments or unreadable input */
    ITSMIGCTL_EXIT_RESTORE_FAILS = 3, /* its inspect: the kernel would refuse the tables */
    ITSMIGCTL_EXIT_BLOCKED = 4,       /* preflight, matrix, migrate: a migration is refused */
    ITSMIGCTL_EXIT_ROLLED_BACK = 5,   /* migrate --wait: the guest still runs on the source */
    ITSMIGCTL_EXIT_ATTENTION = 6,     /* migrate --wait: failed-needs-attention */
    ITSMIGCTL_EXIT_INTERRUPTED = 130, /* SIGINT while waiting or following events */
};

/* Each command gets argv with argv[0] naming it ("its", "host"). */
int itsmigctl_cmd_its(int argc, char **argv);
int itsmigctl_cmd_host(int argc, char **argv);
int itsmigctl_cmd_preflight(int argc, char **argv);
int itsmigctl_cmd_matrix(int argc, char **argv);
/* "itsmigctl host" without a subcommand: itsmigd's view of this host. */
int itsmigctl_cmd_daemon_host(int argc, char **argv);
/* "itsmigctl host validate" (client/cmd-validate.c). */
int itsmigctl_cmd_host_validate(int argc, char **argv);
int itsmigctl_cmd_migrate(int argc, char **argv);
int itsmigctl_cmd_jobs(int argc, char **argv);
int itsmigctl_cmd_job(int argc, char **argv);
int itsmigctl_cmd_abort(int argc, char **argv);
int itsmigctl_cmd_events(int argc, char **argv);
int itsmigctl_cmd_domains(int argc, char **argv);

/* Prints @node as indented JSON followed by a newline on stdout. */
void itsmigctl_print_json(JsonNode *node);
/* The same for a reply's object. */
void itsmigctl_print_object(JsonObject *o);
/* "itsmigctl: <message>" on stderr; returns ITSMIGCTL_EXIT_USAGE. */
int itsmigctl_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

typedef struct _ItsmigctlConn ItsmigctlConn;

/* How a command reads its options. */
typedef struct {
    const char *name;        /* "host validate": in --help and in every message */
    const char *parameter;   /* after "itsmigctl NAME [OPTION...]" in --help */
    const char *description; /* below the options in --help; NULL: none */
    ItsmigctlConn *conn;     /* NULL: the command does not talk to itsmigd */
    gboolean conn_timeout;   /* --timeout is the connection's (else the command's own) */
    int max_args;            /* arguments after the options; -1: the command checks them */
    /* A repeatable option whose values itsmigctl_check_values() checks after
     * parsing; NULL: none. */
    char **const *values;
    const char *values_option; /* its name ("--peer") */
    const char *values_what;   /* what one value is ("a name") */
} ItsmigctlOptions;

/* Parses @argv with @entries and, for a command that talks to itsmigd, the
 * connection options.  Returns 0, or ITSMIGCTL_EXIT_USAGE after printing why. */
int itsmigctl_parse_options(const ItsmigctlOptions *o, const GOptionEntry *entries, int *argc,
                            char ***argv);

/* The values of a repeatable option (--peer NAME): none empty, each UTF-8.
 * @what names a value in the message ("a name").  Returns 0, or
 * ITSMIGCTL_EXIT_USAGE after printing why. */
int itsmigctl_check_values(const char *cmd, const char *option, const char *what,
                           char *const *values);

/* ---- talking to itsmigd (client/ctl-rest.c) ---------------------------------- */

/* The connection options of the commands that talk to itsmigd, for help texts. */
const char *itsmigctl_connection_help(void);

/* The connection options as given (NULL: not given). */
struct _ItsmigctlConn {
    char *socket;
    char *url;
    char *token_file;
    char *cacert;
    char *timeout;
};

void itsmigctl_conn_clear(ItsmigctlConn *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ItsmigctlConn, itsmigctl_conn_clear)

/* Adds --socket, --url, --token-file, --cacert and, @with_timeout, --timeout
 * (a command whose own --timeout means something else goes without). */
void itsmigctl_conn_add_entries(GOptionContext *ctx, ItsmigctlConn *o, gboolean with_timeout);
/* Builds the client the options ask for; on bad options prints why and
 * returns ITSMIGCTL_EXIT_USAGE.  @cmd names the command in messages. */
int itsmigctl_conn_open(const ItsmigctlConn *o, const char *cmd, ItsmigRestClient **ret_client);
/* itsmigctl_parse_options(), then the client of @o's connection options:
 * the start of a command with nothing to check between the two. */
int itsmigctl_open(const ItsmigctlOptions *o, const GOptionEntry *entries, int *argc, char ***argv,
                   ItsmigRestClient **ret_client);
/* The same for a list command (domains, jobs), whose options are --json and
 * --quiet (@quiet_help in --help), which exclude each other. */
int itsmigctl_list_open(const ItsmigctlOptions *o, const char *quiet_help, gboolean *json,
                        gboolean *quiet, int *argc, char ***argv, ItsmigRestClient **ret_client);

/* Prints "itsmigctl: MESSAGE"; returns ITSMIGCTL_EXIT_FAILURE. */
int itsmigctl_fail(const GError *error);
/* One request whose reply must be a JSON object; NULL after printing why. */
JsonObject *itsmigctl_call(ItsmigRestClient *client, const char *method, const char *path,
                           JsonNode *body);
/* A reply that is not the API's: names the endpoint and @request ("GET
 * /v1/host"); returns ITSMIGCTL_EXIT_FAILURE. */
int itsmigctl_bad_reply(const ItsmigRestClient *client, const char *request, const GError *error);

/* A reply's object at @path ("hosts[0]", NULL at the top), for the
 * itsmig_json_get_*() readers: what does not fit is a peer error. */
#define ITSMIGCTL_AT(path) (&(const ItsmigJsonAt){ITSMIG_ERROR_PEER_ERROR, NULL, (path)})

/* @text with control characters (C0 and C1) replaced by '?', so that a reply
 * cannot drive the terminal. */
char *itsmigctl_printable(const char *text);
/* Terminal columns: wide characters take two. */
glong itsmigctl_text_width(const char *text);
void itsmigctl_print_padded(const char *text, glong width);
/* A table: @heads over @cells (row after row of @n_cols printable strings),
 * each column as wide as its widest text, and at least @min_width. */
void itsmigctl_print_table(const char *const *heads, guint n_cols, GPtrArray *cells,
                           glong min_width);
/* "→" where the locale can show it, else "->". */
const char *itsmigctl_arrow(void);

/* A preflight verdict: @whole for POST /v1/domains/NAME/preflight's reply,
 * which also names the domain and the destination; a job's verdict need
 * not. */
gboolean itsmigctl_verdict_check(JsonObject *v, const char *ctx, gboolean whole, GError **error);
/* "DOMAIN -> DESTINATION: allowed", the ITS revision, each blocker and
 * warning with its hint.  NULL @domain or @destination: the verdict's own. */
void itsmigctl_verdict_print(JsonObject *v, const char *domain, const char *destination);

/* From now on SIGINT only sets a flag, for a command that waits to stop
 * cleanly; itsmigctl_interrupted() tells whether it came. */
void itsmigctl_catch_sigint(void);
gboolean itsmigctl_interrupted(void);
