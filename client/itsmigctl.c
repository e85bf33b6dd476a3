/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "itsmigctl.h"

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} ItsmigctlCommand;

static const ItsmigctlCommand commands[] = {
    {"its", "inspect ITS tables saved in guest memory (offline)", itsmigctl_cmd_its},
    {"host", "show this host's capabilities for ITS migration (itsmigd's, or probe)",
     itsmigctl_cmd_host},
    {"preflight", "check whether a domain can migrate to a peer", itsmigctl_cmd_preflight},
    {"matrix", "check every domain against every peer", itsmigctl_cmd_matrix},
    {"migrate", "migrate a domain to a peer as a journaled job", itsmigctl_cmd_migrate},
    {"jobs", "list migration jobs", itsmigctl_cmd_jobs},
    {"job", "show one migration job", itsmigctl_cmd_job},
    {"abort", "stop a migration job and roll it back", itsmigctl_cmd_abort},
    {"events", "follow itsmigd's events", itsmigctl_cmd_events},
    {"domains", "list the domains itsmigd sees", itsmigctl_cmd_domains},
};

static void print_usage(FILE *f)
{
    fprintf(f, "Usage: itsmigctl [--version] [--help] COMMAND [ARGS...]\n\nCommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'itsmigctl COMMAND --help' for a command's options.\n");
}

void itsmigctl_print_json(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, node);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

void itsmigctl_print_object(JsonObject *o)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), o);

    itsmigctl_print_json(node);
}

int itsmigctl_parse_options(const ItsmigctlOptions *o, const GOptionEntry *entries, int *argc,
                            char ***argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new(o->parameter);
    g_autoptr(GError) error = NULL;
    g_autofree char *prgname = g_strdup_printf("itsmigctl %s", o->name);

    g_set_prgname(prgname);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (o->conn)
        itsmigctl_conn_add_entries(ctx, o->conn, o->conn_timeout);
    if (o->description)
        g_option_context_set_description(ctx, o->description);
    if (!g_option_context_parse(ctx, argc, argv, &error))
        return itsmigctl_usage_error("%s: %s", o->name, error->message);
    if (o->max_args >= 0 && *argc > 1 + o->max_args)
        return itsmigctl_usage_error("%s: unexpected argument '%s'", o->name,
                                     (*argv)[1 + o->max_args]);
    if (o->values)
        return itsmigctl_check_values(o->name, o->values_option, o->values_what, *o->values);
    return 0;
}

int itsmigctl_check_values(const char *cmd, const char *option, const char *what,
                           char *const *values)
{
    for (char *const *p = values; p && *p; p++) {
        if (!**p)
            return itsmigctl_usage_error("%s: %s needs %s", cmd, option, what);
        if (!g_utf8_validate(*p, -1, NULL))
            return itsmigctl_usage_error("%s: %s is not valid UTF-8", cmd, option);
    }
    return 0;
}

int itsmigctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "itsmigctl: %s\n", msg);
    return ITSMIGCTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");

    if (argc < 2) {
        print_usage(stderr);
        return ITSMIGCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_usage(stdout);
        return ITSMIGCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("itsmigctl %s\n", PACKAGE_VERSION);
        return ITSMIGCTL_EXIT_OK;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    return itsmigctl_usage_error("unknown command '%s' (see 'itsmigctl --help')", argv[1]);
}
