/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <libvirt-glib/libvirt-glib.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

static gboolean check_config = FALSE;
static char *check_config_file = NULL;

static gboolean on_check_config(const char *name, const char *value, gpointer data, GError **error)
{
    check_config = TRUE;
    g_free(check_config_file);
    check_config_file = g_strdup(value);
    return TRUE;
}

/* itsmigd --check-config: the daemon's own parser over the whole file;
 * every problem printed, one a line. */
static int run_check_config(const ItsmigdConfigOverrides *overrides)
{
    g_autoptr(ItsmigdConfig) config = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) problems = NULL;

    config = itsmigd_config_load(overrides, &error);
    if (config) {
        printf("%s: configuration is valid\n", config->path ? config->path : "no file, defaults");
        return 0;
    }
    problems = g_strsplit(error->message, "\n", -1);
    for (char **p = problems; *p; p++)
        fprintf(stderr, "itsmigd: %s\n", *p);
    fprintf(stderr, "itsmigd: %u problem%s\n", g_strv_length(problems),
            g_strv_length(problems) == 1 ? "" : "s");
    return 2;
}

/* The command line's values: what overrides the configuration file. */
typedef struct {
    char *config, *connect, *socket_path, *state_dir, *listen, *log_level;
    gboolean version;
} Options;

static void options_clear(Options *o)
{
    g_free(o->config);
    g_free(o->connect);
    g_free(o->socket_path);
    g_free(o->state_dir);
    g_free(o->listen);
    g_free(o->log_level);
}

/* -1 to go on, else the exit status (a bad command line: 2). */
static int parse_options(int *argc, char ***argv, Options *o)
{
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) error = NULL;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &o->config,
         "Configuration file (default " ITSMIGD_DEFAULT_CONFIG ")", "FILE"},
        {"connect", 0, 0, G_OPTION_ARG_STRING, &o->connect, "libvirt connection URI", "URI"},
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &o->socket_path, "API unix socket path", "PATH"},
        {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->state_dir, "State directory", "DIR"},
        {"listen", 0, 0, G_OPTION_ARG_STRING, &o->listen, "Also serve HTTPS for peers on ADDR:PORT",
         "ADDR:PORT"},
        {"log-level", 0, 0, G_OPTION_ARG_STRING, &o->log_level,
         "error, warning, message, info or debug", "LEVEL"},
        {"check-config", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, on_check_config,
         "Check the configuration (FILE, else --config's or the default) and exit: 0 "
         "valid, 2 every problem listed",
         "[FILE]"},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &o->version, "Print the version and exit", NULL},
        {NULL},
    };

    ctx = g_option_context_new(NULL);
    g_option_context_set_summary(ctx, "The itsmig host daemon: follows libvirt domains and "
                                      "serves the itsmig REST API.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        fprintf(stderr, "itsmigd: %s\nTry 'itsmigd --help'.\n", error->message);
        return 2;
    }
    if (*argc > 1) {
        fprintf(stderr, "itsmigd: unexpected argument '%s'\nTry 'itsmigd --help'.\n", (*argv)[1]);
        return 2;
    }
    if (o->version) {
        printf("itsmigd %s\n", PACKAGE_VERSION);
        return 0;
    }
    return -1;
}

/* Runs the daemon until it is asked to stop; its exit status. */
static int serve(const ItsmigdConfigOverrides *overrides, ItsmigdConfig *loaded)
{
    g_autoptr(GError) error = NULL;
    Itsmigd *daemon;
    int status = 0;

    itsmigd_log_init(loaded->log_level);
    signal(SIGPIPE, SIG_IGN);

    /* Before any connection is opened, so that libvirt's events and
     * keepalive run on GLib's main loop. */
    gvir_init(NULL, NULL);
    gvir_event_register();

    daemon = itsmigd_daemon_new(overrides, loaded);
    if (itsmigd_daemon_start(daemon, &error)) {
        itsmigd_daemon_run(daemon);
    } else {
        g_critical("%s", error->message);
        status = 1;
    }
    if (!itsmigd_daemon_stop(daemon)) {
        /* A migration step is still inside libvirt and uses the daemon's
         * objects: exit without freeing them, or without running exit
         * handlers under it.  The journal carries its job. */
        g_message("stopped, leaving a migration step to libvirt");
        fflush(NULL);
        _exit(status);
    }
    itsmigd_daemon_free(daemon);
    return status;
}

int main(int argc, char **argv)
{
    ItsmigdConfigOverrides overrides;
    ItsmigdConfig *loaded;
    g_autoptr(GError) error = NULL;
    Options o = {0};
    int status;

    /* A thread per HTTP connection would otherwise give each its own malloc
     * arena, which keeps its memory after the connection is gone. */
    mallopt(M_ARENA_MAX, 2);

    status = parse_options(&argc, &argv, &o);
    if (status >= 0)
        return status;
    overrides = (ItsmigdConfigOverrides){o.config,    o.connect, o.socket_path,
                                         o.state_dir, o.listen,  o.log_level};
    if (check_config) {
        if (check_config_file)
            overrides.config = check_config_file;
        status = run_check_config(&overrides);
        g_free(check_config_file);
        return status;
    }
    loaded = itsmigd_config_load(&overrides, &error);
    if (!loaded) {
        g_auto(GStrv) problems = g_strsplit(error->message, "\n", -1);

        for (char **p = problems; *p; p++)
            fprintf(stderr, "itsmigd: %s\n", *p);
        return 2;
    }
    status = serve(&overrides, loaded);
    options_clear(&o);
    if (status == 0)
        g_message("stopped");
#ifdef ITSMIGD_FAULT_INJECTION
    /* The test build lingers here as slow exit handlers would, so that a
     * step still running meets what was freed above. */
    if (g_getenv("ITSMIGD_FAULT"))
        g_usleep(3 * G_USEC_PER_SEC);
#endif
    return status;
}
