/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "daemon/http-routes.h"

/* Without ITSMIGD_ROUTE_PEER a route is the local administrator's: the unix
 * socket only.  A peer gets what a migration needs and nothing else. */
const ItsmigdRoute itsmigd_routes[] = {
    {"GET", "/v1/health", itsmigd_http_health, 0},
    {"GET", "/v1/host", itsmigd_http_host, ITSMIGD_ROUTE_PEER},
    {"GET", "/v1/domains", itsmigd_http_domains_list, ITSMIGD_ROUTE_NEEDS_LIBVIRT},
    {"GET", "/v1/domains/{name}", itsmigd_http_domains_get, ITSMIGD_ROUTE_NEEDS_LIBVIRT},
    {"POST", "/v1/domains/{name}/preflight", itsmigd_http_domains_preflight,
     ITSMIGD_ROUTE_NEEDS_LIBVIRT | ITSMIGD_ROUTE_JSON_BODY},
    {"POST", "/v1/compat/matrix", itsmigd_http_compat_matrix,
     ITSMIGD_ROUTE_NEEDS_LIBVIRT | ITSMIGD_ROUTE_JSON_BODY},
    /* Not NEEDS_LIBVIRT: the gate answers from the XML and what it knows. */
    {"POST", "/v1/hook/migrate-begin", itsmigd_http_hook_migrate_begin, ITSMIGD_ROUTE_XML_BODY},
    {"POST", "/v1/hook/refused", itsmigd_http_hook_refused, ITSMIGD_ROUTE_JSON_BODY},
    {"POST", "/v1/migrations", itsmigd_http_migrations_start,
     ITSMIGD_ROUTE_NEEDS_LIBVIRT | ITSMIGD_ROUTE_JSON_BODY},
    {"GET", "/v1/migrations", itsmigd_http_migrations_list, 0},
    {"GET", "/v1/migrations/{id}", itsmigd_http_migrations_get, 0},
    {"DELETE", "/v1/migrations/{id}", itsmigd_http_migrations_abort, 0},
    /* The destination's side, asked by the source's itsmigd. */
    {"GET", "/v1/incoming/{uuid}", itsmigd_http_incoming_get,
     ITSMIGD_ROUTE_PEER | ITSMIGD_ROUTE_NEEDS_LIBVIRT},
    {"POST", "/v1/incoming/{uuid}/resume", itsmigd_http_incoming_resume,
     ITSMIGD_ROUTE_PEER | ITSMIGD_ROUTE_NEEDS_LIBVIRT | ITSMIGD_ROUTE_JSON_BODY},
    {"POST", "/v1/incoming/{uuid}/destroy", itsmigd_http_incoming_destroy,
     ITSMIGD_ROUTE_PEER | ITSMIGD_ROUTE_NEEDS_LIBVIRT | ITSMIGD_ROUTE_JSON_BODY},
    {"POST", "/v1/incoming/{uuid}/attach", itsmigd_http_incoming_attach,
     ITSMIGD_ROUTE_PEER | ITSMIGD_ROUTE_NEEDS_LIBVIRT | ITSMIGD_ROUTE_JSON_BODY},
    {"GET", "/v1/events", itsmigd_http_events, ITSMIGD_ROUTE_STREAM},
    {"GET", "/v1/log", itsmigd_http_log_get, 0},
    {"PUT", "/v1/log", itsmigd_http_log_put, ITSMIGD_ROUTE_JSON_BODY},
    {"GET", "/metrics", itsmigd_http_metrics, ITSMIGD_ROUTE_METRICS},
};
const gsize itsmigd_n_routes = G_N_ELEMENTS(itsmigd_routes);
