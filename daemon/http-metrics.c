/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <libvirt/libvirt.h>

#include "daemon/http-routes.h"
#include "daemon/virt-names.h"

/* GET /metrics: Prometheus text format. */
void itsmigd_http_metrics(ItsmigdHttpRequest *req)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(GString) out = g_string_sized_new(4096);
    g_autoptr(GBytes) body = NULL;
    guint counts[VIR_DOMAIN_LAST];

    itsmigd_registry_count_by_state(d->registry, counts, G_N_ELEMENTS(counts));
    g_string_append(out, "# HELP itsmigd_domains Domains known to the registry, by state.\n"
                         "# TYPE itsmigd_domains gauge\n");
    for (int s = 0; s < VIR_DOMAIN_LAST; s++)
        g_string_append_printf(out, "itsmigd_domains{state=\"%s\"} %u\n", itsmigd_state_name(s),
                               counts[s]);
    g_string_append_printf(out,
                           "# HELP itsmigd_libvirt_connected Whether the libvirt connection is up.\n"
                           "# TYPE itsmigd_libvirt_connected gauge\n"
                           "itsmigd_libvirt_connected %d\n"
                           "# HELP itsmigd_events_published_total Events published on /v1/events.\n"
                           "# TYPE itsmigd_events_published_total counter\n"
                           "itsmigd_events_published_total %" G_GUINT64_FORMAT "\n"
                           "# HELP itsmigd_event_streams Open /v1/events streams.\n"
                           "# TYPE itsmigd_event_streams gauge\n"
                           "itsmigd_event_streams %u\n",
                           itsmigd_virt_is_connected(d->virt) ? 1 : 0,
                           itsmigd_event_bus_published(d->bus), itsmigd_event_bus_streams(d->bus));
    itsmigd_metrics_render(d->metrics, out);
    body = g_string_free_to_bytes(g_steal_pointer(&out));
    itsmigd_http_reply_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", body);
}
