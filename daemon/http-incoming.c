/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The destination's side of a migration, asked by the source's itsmigd:
 * whether the incoming copy exists and what its QEMU logged about restoring
 * the ITS, and resuming, destroying (only a paused copy) and attaching
 * devices to it.  Each call is idempotent, so that a source that retries
 * after a crash gets the same result.
 */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "itsmig/json-strict.h"
#include "itsmig/qemu-log.h"
#include "daemon/http-routes.h"
#include "daemon/log.h"
#include "daemon/virt-names.h"

/* What is read of a QEMU log, from its end. */
#define LOG_TAIL_MAX (4 * 1024 * 1024)
/* libvirt's line at each start of the domain's QEMU. */
#define START_MARK "starting up libvirt version"

typedef struct {
    virConnectPtr conn;
    virDomainPtr dom; /* NULL when absent */
    char uuid[VIR_UUID_STRING_BUFLEN];
} Incoming;

static void incoming_clear(Incoming *in)
{
    if (in->dom)
        virDomainFree(in->dom);
    if (in->conn)
        virConnectClose(in->conn);
}

static gboolean uuid_valid(const char *s)
{
    int n = 0;

    /* 8-4-4-4-12 hex, the form libvirt prints. */
    if (strlen(s) != 36)
        return FALSE;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return FALSE;
        } else if (!g_ascii_isxdigit(s[i])) {
            return FALSE;
        } else {
            n++;
        }
    }
    return n == 32;
}

static gboolean incoming_open(ItsmigdHttpRequest *req, Incoming *in, GError **error)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    const char *uuid = itsmigd_http_request_param(req, 0);

    if (!uuid_valid(uuid)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "'%s' is not a domain UUID",
                    uuid);
        return FALSE;
    }
    g_strlcpy(in->uuid, uuid, sizeof(in->uuid));
    in->conn = itsmigd_virt_ref_connection(d->virt);
    if (!in->conn) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "not connected to libvirt");
        return FALSE;
    }
    in->dom = virDomainLookupByUUIDString(in->conn, uuid);
    if (!in->dom && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "cannot look up domain %s: %s", uuid,
                    virGetLastErrorMessage());
        return FALSE;
    }
    return TRUE;
}

/* What the domain's QEMU logged about the ITS since it last started. */
static JsonNode *restore_evidence(ItsmigDaemon *d, const char *name, const char *xml)
{
    g_autofree char *dir = itsmigd_orchestrator_qemu_log_dir(d->orchestrator);
    g_autofree char *path = g_strdup_printf("%s/%s.log", dir, name);
    g_autoptr(ItsmigDomainProfile) profile =
        xml ? itsmig_domain_profile_parse(xml, -1, NULL) : NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) text = NULL;
    g_autofree char *first = NULL;
    ItsmigCompatPolicy policy;
    goffset size;
    gboolean truncated = FALSE;
    const char *data, *from;
    gsize len;

    itsmigd_host_get_policy(&d->host, &policy);
    if (profile && !itsmig_domain_profile_its_in_kernel(profile) && !policy.check_emulated)
        return itsmigd_its_evidence_not_kvm();
    size = itsmig_qemu_log_size(path, &error);
    if (size < 0 || !itsmig_qemu_log_read(path, MAX(0, size - LOG_TAIL_MAX), LOG_TAIL_MAX, &text,
                                          &truncated, NULL, &error)) {
        g_autofree char *why = g_strdup_printf("cannot read the QEMU log: %s", error->message);

        return itsmigd_its_evidence(FALSE, "qemu-log", why, path, NULL, NULL);
    }
    data = g_bytes_get_data(text, &len);
    /* Only this run of QEMU: from libvirt's last start line on. */
    from = data;
    for (const char *p = data; (p = g_strstr_len(p, len - (p - data), START_MARK)); p++)
        from = p;
    return itsmigd_its_evidence_scan(path, from, len - (from - data),
                                     1u << ITSMIG_QEMU_LOG_ITS_RESTORE |
                                         1u << ITSMIG_QEMU_LOG_ITS_REGS,
                                     "ITS restore", "in what QEMU logged since it started", &first);
}

static void reply_state(ItsmigdHttpRequest *req, Incoming *in, unsigned int status)
{
    ItsmigDaemon *d = itsmigd_http_request_daemon(req);
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    int state = -1, reason = 0;
    const char *name = in->dom ? virDomainGetName(in->dom) : NULL;
    gboolean present = in->dom && virDomainGetState(in->dom, &state, &reason, 0) == 0;
    g_autofree char *xml = present ? virDomainGetXMLDesc(in->dom, 0) : NULL;

    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "uuid", in->uuid);
    itsmig_json_add_string_or_null(b, "domain", name);
    json_builder_set_member_name(b, "present");
    json_builder_add_boolean_value(b, present && state != VIR_DOMAIN_SHUTOFF);
    itsmig_json_add_string_or_null(b, "state", present ? itsmigd_state_name(state) : NULL);
    itsmig_json_add_string_or_null(b, "reason",
                                   present ? itsmigd_state_reason_name(state, reason) : NULL);
    json_builder_set_member_name(b, "its_restore");
    if (present && state != VIR_DOMAIN_SHUTOFF)
        json_builder_add_value(b, restore_evidence(d, name, xml));
    else
        json_builder_add_value(b, itsmigd_its_evidence(FALSE, "not-applicable",
                                                       "the domain is not here", NULL, NULL, NULL));
    json_builder_end_object(b);
    itsmigd_http_reply_builder(req, status, b);
}

/* GET /v1/incoming/{uuid} */
void itsmigd_http_incoming_get(ItsmigdHttpRequest *req)
{
    g_autoptr(GError) error = NULL;
    Incoming in = {0};

    if (incoming_open(req, &in, &error))
        reply_state(req, &in, 200);
    else
        itsmigd_http_reply_error(req, error);
    incoming_clear(&in);
}

static gboolean current_state(Incoming *in, int *state, GError **error)
{
    int reason;

    if (!in->dom || virDomainGetState(in->dom, state, &reason, 0) < 0) {
        if (in->dom && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "cannot read the state: %s",
                        virGetLastErrorMessage());
            return FALSE;
        }
        *state = VIR_DOMAIN_SHUTOFF;
    }
    return TRUE;
}

/* Each POST: what it does to the domain in @state, from its request. */
typedef gboolean (*IncomingAction)(Incoming *in, int state, const char *arg, GError **error);

/* Opens the domain, acts, and answers with its state or the error. */
static void incoming_act(ItsmigdHttpRequest *req, IncomingAction act, const char *arg)
{
    g_autoptr(GError) error = NULL;
    Incoming in = {0};
    int state;

    if (incoming_open(req, &in, &error) && current_state(&in, &state, &error) &&
        act(&in, state, arg, &error))
        reply_state(req, &in, 200);
    else
        itsmigd_http_reply_error(req, error);
    incoming_clear(&in);
}

static gboolean need_domain(Incoming *in, int state, GError **error)
{
    if (state != VIR_DOMAIN_SHUTOFF)
        return TRUE;
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "domain %s is not here", in->uuid);
    return FALSE;
}

static gboolean resume(Incoming *in, int state, const char *arg, GError **error)
{
    if (!need_domain(in, state, error))
        return FALSE;
    if (state == VIR_DOMAIN_PAUSED && virDomainResume(in->dom) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "cannot resume %s: %s",
                    virDomainGetName(in->dom), virGetLastErrorMessage());
        return FALSE;
    }
    itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, virDomainGetName(in->dom),
                       "incoming migration: resumed at the source's request");
    return TRUE;
}

/* A paused copy only. */
static gboolean destroy(Incoming *in, int state, const char *arg, GError **error)
{
    if (state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_PAUSED) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_CONFLICT,
                    "domain %s is %s here: itsmigd never destroys a running guest",
                    virDomainGetName(in->dom), itsmigd_state_name(state));
        return FALSE;
    }
    if (state != VIR_DOMAIN_PAUSED)
        return TRUE;
    if (virDomainDestroy(in->dom) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "cannot destroy %s: %s",
                    virDomainGetName(in->dom), virGetLastErrorMessage());
        return FALSE;
    }
    itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, virDomainGetName(in->dom),
                       "incoming migration: paused copy destroyed at the source's request "
                       "(rollback)");
    return TRUE;
}

static gboolean attach(Incoming *in, int state, const char *xml, GError **error)
{
    g_autofree char *current = NULL;
    g_autofree char *alias = NULL;

    if (!need_domain(in, state, error))
        return FALSE;
    /* Already there (a retry): nothing to do.  The XML is libvirt's own
     * (from the source's domain), so its alias is written <alias name='X'/>. */
    current = virDomainGetXMLDesc(in->dom, 0);
    {
        const char *a = strstr(xml, "<alias name=");
        char quote = a ? a[12] : 0;
        const char *q = (quote == '\'' || quote == '"') ? strchr(a + 13, quote) : NULL;

        if (q)
            alias = g_strndup(a + 13, q - (a + 13));
    }
    if (alias && current) {
        g_autofree char *dev = itsmig_domain_device_xml(current, -1, alias, NULL);

        if (dev)
            return TRUE;
    }
    if (virDomainAttachDeviceFlags(in->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "cannot attach the device: %s",
                    virGetLastErrorMessage());
        return FALSE;
    }
    itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, virDomainGetName(in->dom),
                       "incoming migration: device%s%s attached at the source's request",
                       alias ? " " : "", alias ? alias : "");
    return TRUE;
}

/* POST /v1/incoming/{uuid}/resume */
void itsmigd_http_incoming_resume(ItsmigdHttpRequest *req)
{
    incoming_act(req, resume, NULL);
}

/* POST /v1/incoming/{uuid}/destroy */
void itsmigd_http_incoming_destroy(ItsmigdHttpRequest *req)
{
    incoming_act(req, destroy, NULL);
}

/* POST /v1/incoming/{uuid}/attach {"xml": DEVICE} */
void itsmigd_http_incoming_attach(ItsmigdHttpRequest *req)
{
    JsonObject *body = json_node_get_object(itsmigd_http_request_json(req));
    JsonNode *xml = json_object_get_member(body, "xml");

    if (json_object_get_size(body) != 1 || !xml || !JSON_NODE_HOLDS_VALUE(xml) ||
        json_node_get_value_type(xml) != G_TYPE_STRING)
        return itsmigd_http_reply_error_literal(req, ITSMIG_ERROR_INVALID_ARGUMENT,
                                                "the body must be {\"xml\": DEVICE-XML}");
    incoming_act(req, attach, json_node_get_string(xml));
}
