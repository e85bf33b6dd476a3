/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

/* Exit statuses shared by every itsmigctl command (see itsmigctl(1)). */
enum {
    ITSMIGCTL_EXIT_OK = 0,
    ITSMIGCTL_EXIT_FAILURE = 1,       /* the operation failed */
    ITSMIGCTL_EXIT_USAGE = 2,         /* bad arguments or unreadable input */
    ITSMIGCTL_EXIT_RESTORE_FAILS = 3, /* its inspect: the kernel would refuse the tables */
    ITSMIGCTL_EXIT_BLOCKED = 4,       /* preflight, matrix: a migration would be refused */
};

/* Each command gets argv with argv[0] naming it ("its", "host"). */
int itsmigctl_cmd_its(int argc, char **argv);
int itsmigctl_cmd_host(int argc, char **argv);
int itsmigctl_cmd_preflight(int argc, char **argv);
int itsmigctl_cmd_matrix(int argc, char **argv);
/* "itsmigctl host" without a subcommand: itsmigd's view of this host. */
int itsmigctl_cmd_daemon_host(int argc, char **argv);
/* The connection options of the commands that talk to itsmigd, for help texts. */
const char *itsmigctl_connection_help(void);

/* Prints @node as indented JSON followed by a newline on stdout. */
void itsmigctl_print_json(JsonNode *node);
/* "itsmigctl: <message>" on stderr; returns ITSMIGCTL_EXIT_USAGE. */
int itsmigctl_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
