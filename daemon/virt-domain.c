/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/virterror.h>

#include "itsmig/domain-profile.h"
#include "itsmig/error.h"
#include "daemon/virt-domain.h"

int itsmigd_virt_error(GError **error, const char *format, ...)
{
    /* Taken first: nothing below may call into libvirt and reset it. */
    int code = virGetLastErrorCode();
    const char *message = virGetLastErrorMessage();
    g_autofree char *what = NULL;
    va_list ap;

    if (!error)
        return code;
    if (format) {
        va_start(ap, format);
        what = g_strdup_vprintf(format, ap);
        va_end(ap);
    }
    g_set_error(error, ITSMIG_ERROR,
                code == VIR_ERR_NO_DOMAIN ? ITSMIG_ERROR_NOT_FOUND : ITSMIG_ERROR_LIBVIRT, "%s%s%s",
                what ? what : "", what ? ": " : "", message);
    return code;
}

gboolean itsmigd_virt_error_busy(const GError *error)
{
    return error && g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT) &&
           (strstr(error->message, "guest is busy") ||
            strstr(error->message, "power indicator blinking"));
}

gboolean itsmigd_virt_error_duplicate_id(const GError *error)
{
    return error && g_error_matches(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT) &&
           (strstr(error->message, "Duplicate ID") ||
            strstr(error->message, "Duplicate device ID"));
}

virDomainPtr itsmigd_virt_domain_lookup(virConnectPtr conn, const char *uuid, GError **error)
{
    virDomainPtr dom;

    if (!conn) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE,
                            "not connected to libvirt");
        return NULL;
    }
    dom = virDomainLookupByUUIDString(conn, uuid);
    if (!dom)
        itsmigd_virt_error(error, "cannot look up domain %s", uuid);
    return dom;
}

gboolean itsmigd_virt_domain_get_state(virDomainPtr dom, int *ret_state, int *ret_reason,
                                       GError **error)
{
    const char *name = virDomainGetName(dom);
    int state, reason;

    if (virDomainGetState(dom, &state, &reason, 0) < 0) {
        itsmigd_virt_error(error, "cannot read the state of %s", name);
        return FALSE;
    }
    *ret_state = state;
    if (ret_reason)
        *ret_reason = reason;
    return TRUE;
}

gboolean itsmigd_virt_domain_has_device(virDomainPtr dom, const char *alias, gboolean *ret_present,
                                        GError **error)
{
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autofree char *dev = NULL;
    g_autoptr(GError) local = NULL;

    if (!xml) {
        itsmigd_virt_error(error, "cannot read the domain XML of %s", name);
        return FALSE;
    }
    dev = itsmig_domain_device_xml(xml, -1, alias, &local);
    if (!dev && !g_error_matches(local, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    *ret_present = dev != NULL;
    return TRUE;
}

gboolean itsmigd_virt_domain_suspend(virDomainPtr dom, GError **error)
{
    const char *name = virDomainGetName(dom);
    int state;

    if (!itsmigd_virt_domain_get_state(dom, &state, NULL, error))
        return FALSE;
    if (state != VIR_DOMAIN_PAUSED && virDomainSuspend(dom) < 0) {
        itsmigd_virt_error(error, "cannot pause the vCPUs of %s", name);
        return FALSE;
    }
    return TRUE;
}

gboolean itsmigd_virt_domain_resume(virDomainPtr dom, GError **error)
{
    const char *name = virDomainGetName(dom);
    int state;

    if (!itsmigd_virt_domain_get_state(dom, &state, NULL, error))
        return FALSE;
    if (state == VIR_DOMAIN_PAUSED && virDomainResume(dom) < 0) {
        itsmigd_virt_error(error, "cannot resume %s", name);
        return FALSE;
    }
    return TRUE;
}

gboolean itsmigd_virt_domain_attach(virDomainPtr dom, const char *alias, const char *xml,
                                    gboolean *ret_attached, GError **error)
{
    gboolean present;

    if (!itsmigd_virt_domain_has_device(dom, alias, &present, error))
        return FALSE;
    if (!present && virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        itsmigd_virt_error(error, "cannot attach the device '%s'", alias);
        return FALSE;
    }
    if (ret_attached)
        *ret_attached = !present;
    return TRUE;
}

gboolean itsmigd_virt_domain_detach(virDomainPtr dom, const char *alias, const char *xml,
                                    gboolean *ret_pending, GError **error)
{
    gboolean present;

    if (!itsmigd_virt_domain_has_device(dom, alias, &present, error))
        return FALSE;
    if (present && virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        itsmigd_virt_error(error, "cannot detach the device '%s'", alias);
        return FALSE;
    }
    *ret_pending = present;
    return TRUE;
}
