/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "daemon/http-server.h"
#include "daemon/itsmigd.h"

/* The handlers' context: the daemon's parts (daemon.c hands them over). */
static inline ItsmigDaemon *itsmigd_http_request_daemon(ItsmigdHttpRequest *req)
{
    return itsmigd_http_request_context(req);
}

/* The one route table (http-routes.c) and the handlers, one file per
 * resource.  docs/openapi.json describes the same routes; a test checks it. */
extern const ItsmigdRoute itsmigd_routes[];
extern const gsize itsmigd_n_routes;

gboolean itsmigd_http_health(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_host(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_domains_list(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_domains_get(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_domains_preflight(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_compat_matrix(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_hook_migrate_begin(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_hook_refused(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_migrations_start(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_migrations_list(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_migrations_get(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_migrations_abort(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_incoming_get(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_incoming_resume(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_incoming_destroy(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_incoming_attach(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_events(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_metrics(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_log_get(ItsmigdHttpRequest *req, GError **error);
gboolean itsmigd_http_log_put(ItsmigdHttpRequest *req, GError **error);
