/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/json-strict.h"
#include "daemon/http-routes.h"

/* GET /v1/host: the host capabilities document peers exchange
 * (docs/host-caps.schema.json), then this daemon's libvirt connection and
 * the KVM probe in full. */
gboolean itsmigd_http_host(ItsmigdHttpRequest *req, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autoptr(ItsmigHostCaps) caps = itsmigd_host_get_caps(&d->host);
    g_auto(ItsmigdVirtStatus) st = {0};
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(GBytes) bytes = NULL;
    g_autofree char *text = NULL;
    char *body;

    itsmigd_virt_get_status(d->virt, &st);
    json_builder_begin_object(b);
    itsmig_host_caps_to_json_members(caps, b);
    json_builder_set_member_name(b, "libvirt");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "uri", st.uri);
    json_builder_set_member_name(b, "connected");
    json_builder_add_boolean_value(b, st.connected);
    itsmig_json_add_string_or_null(b, "version", st.libvirt_version);
    itsmig_json_add_string_or_null(b, "hypervisor", st.hypervisor);
    itsmig_json_add_string_or_null(b, "hypervisor_version", st.hypervisor_version);
    json_builder_end_object(b);
    /* Local file paths and write errors are this host's business, not a peer's. */
    if (itsmigd_http_request_peer(req) == NULL)
        itsmigd_host_fleet_to_json(&d->host, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    text = json_to_string(root, FALSE);
    /* The probe result, fixed since start, is spliced in as text. */
    text[strlen(text) - 1] = '\0';
    body = g_strconcat(text, ",\"kvm\":", d->host.kvm_json, "}", NULL);
    bytes = g_bytes_new_take(body, strlen(body));
    itsmigd_http_reply_bytes(req, 200, "application/json; charset=utf-8", bytes);
    return TRUE;
}
