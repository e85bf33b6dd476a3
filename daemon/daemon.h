/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "daemon/daemon-config.h"

/*
 * The running daemon: its parts (itsmigd.h), the REST server over them, the
 * systemd notifications, and the signals (SIGTERM and SIGINT stop it, SIGHUP
 * reloads the configuration as daemon-config.c's schema says of each key).
 */
typedef struct Itsmigd Itsmigd;

/* Takes @config (what @overrides gave); @overrides must outlive the daemon. */
Itsmigd *itsmigd_daemon_new(const ItsmigdConfigOverrides *overrides, ItsmigdConfig *config);
/* Builds the parts, opens the API and starts following libvirt. */
gboolean itsmigd_daemon_start(Itsmigd *self, GError **error);
/* Runs the main loop until a stop signal. */
void itsmigd_daemon_run(Itsmigd *self);
/* Closes the API and ends the jobs' steps; FALSE when a migration step is
 * still inside libvirt and uses the parts, which must then not be freed. */
gboolean itsmigd_daemon_stop(Itsmigd *self);
void itsmigd_daemon_free(Itsmigd *self);
