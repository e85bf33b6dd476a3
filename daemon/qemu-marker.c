/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/qemu-marker.h"
#include "daemon/virt-domain.h"

/* QMP's trace of the command that carries the mark: its arguments, with the
 * tag, are in the line.  trace-event-get-state on a pattern that matches no
 * event changes nothing and succeeds (a plain name it does not know fails). */
#define MARK_EVENT  "qmp_enter_trace_event_get_state"
#define MARK_PREFIX "itsmig-log-mark-"

static gboolean qmp(virDomainPtr dom, const char *cmd, GError **error)
{
    char *reply = NULL;
    gboolean ok;

    if (virDomainQemuMonitorCommand(dom, cmd, &reply, 0) < 0) {
        itsmigd_virt_error(error, "cannot talk to QEMU's monitor");
        return FALSE;
    }
    /* A QMP error comes back as a reply, not as a libvirt error. */
    ok = reply && !strstr(reply, "\"error\"");
    if (!ok)
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "QEMU refused %s: %s", cmd,
                    reply ? reply : "(no reply)");
    free(reply);
    return ok;
}

static gboolean set_state(virDomainPtr dom, const char *event, gboolean enable, GError **error)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"trace-event-set-state\",\"arguments\":{\"name\":\"%s\",\"enable\":%s}}",
        event ? event : MARK_EVENT, enable ? "true" : "false");

    return qmp(dom, cmd, error);
}

gboolean itsmigd_qemu_marker_arm(virDomainPtr dom, const char *event, GError **error)
{
    return set_state(dom, event, TRUE, error);
}

gboolean itsmigd_qemu_marker_disarm(virDomainPtr dom, const char *event, GError **error)
{
    return set_state(dom, event, FALSE, error);
}

char *itsmigd_qemu_marker_write(virDomainPtr dom, const char *tag, GError **error)
{
    g_autofree char *mark = g_strdup_printf(MARK_PREFIX "%s", tag);
    g_autofree char *cmd = NULL;
    gboolean ok;

    /* Only characters that QMP's trace prints as they are. */
    for (const char *p = tag; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.') {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL, "bad mark tag '%s'", tag);
            return NULL;
        }
    /* A pattern: QEMU refuses the name of an event it does not have. */
    cmd = g_strdup_printf(
        "{\"execute\":\"trace-event-get-state\",\"arguments\":{\"name\":\"%s*\"}}", mark);
    if (!set_state(dom, NULL, TRUE, error))
        return NULL;
    ok = qmp(dom, cmd, error);
    /* Left enabled, it would trace every later command of this kind. */
    set_state(dom, NULL, FALSE, NULL);
    return ok ? g_steal_pointer(&mark) : NULL;
}

gssize itsmigd_qemu_marker_find(const char *data, gsize len, const char *mark, gboolean last)
{
    gsize mlen = strlen(mark);
    gssize found = -1;
    const char *p = data, *end = data + len;

    while (mlen && (gsize)(end - p) >= mlen) {
        const char *hit = memmem(p, end - p, mark, mlen);
        const char *eol;

        if (!hit)
            break;
        eol = memchr(hit + mlen, '\n', end - (hit + mlen));
        /* A line still being written is not yet the mark. */
        if (!eol)
            break;
        found = eol + 1 - data;
        if (!last)
            break;
        p = eol + 1;
    }
    return found;
}

gssize itsmigd_qemu_log_last_start(const char *data, gsize len)
{
    static const char needle[] = ": starting up libvirt version: ";
    gssize start = -1;
    const char *p = data, *end = data + len;

    for (;;) {
        const char *hit = memmem(p, end - p, needle, sizeof(needle) - 1);
        const char *bol;

        if (!hit)
            break;
        for (bol = hit; bol > data && bol[-1] != '\n'; bol--)
            ;
        start = bol - data;
        p = hit + sizeof(needle) - 1;
    }
    return start;
}
