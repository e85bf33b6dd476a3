/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/log.h"
#include "daemon/virt-domain.h"
#include "daemon/virt-repair.h"

/* How often a repair looks whether QEMU let the device go. */
#define REPAIR_POLL_US (250 * 1000)

/* How long a repaired attach is watched for libvirt dropping it again (settled()), and how
 * many repairs are made before giving up. */
#define REPAIR_SETTLE_US (2 * G_USEC_PER_SEC)
#define REPAIR_TRIES     3

/* The domains (UUID strings) a repair is under way for.  Only the set is
 * guarded: the repair itself runs without the lock, and a second repair of
 * the same domain waits on the condition for the first to end. */
static GMutex repair_lock;
static GCond repair_cond;
static GHashTable *repairing;

static gboolean claim(const char *uuid, gint64 deadline_mono)
{
    gboolean mine = FALSE;

    g_mutex_lock(&repair_lock);
    if (!repairing)
        repairing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    while (g_hash_table_contains(repairing, uuid) &&
           g_cond_wait_until(&repair_cond, &repair_lock, deadline_mono))
        ;
    if (!g_hash_table_contains(repairing, uuid)) {
        g_hash_table_add(repairing, g_strdup(uuid));
        mine = TRUE;
    }
    g_mutex_unlock(&repair_lock);
    return mine;
}

static void release(const char *uuid)
{
    g_mutex_lock(&repair_lock);
    g_hash_table_remove(repairing, uuid);
    g_cond_broadcast(&repair_cond);
    g_mutex_unlock(&repair_lock);
}

/* QMP @cmd's "return" member, or NULL with @error (a QMP error is a reply, not a libvirt
 * error: it comes back with its class and description in @error's message). */
static JsonNode *qmp(virDomainPtr dom, const char *cmd, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autofree char *reply = NULL;
    JsonObject *o;

    if (virDomainQemuMonitorCommand(dom, cmd, &reply, 0) < 0) {
        itsmigd_virt_error(error, "cannot talk to QEMU's monitor");
        return NULL;
    }
    if (!json_parser_load_from_data(parser, reply, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "QEMU's reply to %s is not JSON",
                    cmd);
        return NULL;
    }
    o = json_node_get_object(json_parser_get_root(parser));
    if (!json_object_has_member(o, "return")) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, "QEMU refused %s: %s", cmd, reply);
        return NULL;
    }
    return json_node_copy(json_object_get_member(o, "return"));
}

gboolean itsmigd_virt_qemu_has_device(virDomainPtr dom, const char *alias, gboolean *ret_present,
                                      GError **error)
{
    g_autoptr(JsonNode) list = qmp(
        dom, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/machine/peripheral\"}}", error);
    JsonArray *a;

    if (!list)
        return FALSE;
    if (!JSON_NODE_HOLDS_ARRAY(list)) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT,
                            "QEMU's qom-list of /machine/peripheral is not a list");
        return FALSE;
    }
    a = json_node_get_array(list);
    *ret_present = FALSE;
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *p = json_array_get_object_element(a, i);

        if (p && g_strcmp0(json_object_get_string_member_with_default(p, "name", NULL), alias) == 0)
            *ret_present = TRUE;
    }
    return TRUE;
}

/* A request to QEMU that it may answer "guest is busy" (a slot still settling after a hotplug
 * or an unplug): device_del_once() or attach_once(). */
typedef gboolean (*BusyRequest)(virDomainPtr dom, gpointer data, GError **error);

/* @request, asked again with back-off while QEMU answers that the guest is busy, until
 * @until (monotonic µs). */
static gboolean unless_busy(BusyRequest request, virDomainPtr dom, gpointer data, gint64 until,
                            GError **error)
{
    for (gint64 wait = ITSMIGD_BUSY_RETRY_FIRST_US;;
         wait = MIN(wait * 2, ITSMIGD_BUSY_RETRY_MAX_US)) {
        g_autoptr(GError) local = NULL;

        if (request(dom, data, &local))
            return TRUE;
        if (!itsmigd_virt_error_busy(local) || g_get_monotonic_time() + wait > until) {
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        g_usleep(wait);
    }
}

/* @data: the device's ID. */
static gboolean device_del_once(virDomainPtr dom, gpointer data, GError **error)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"%s\"}}", (const char *)data);
    g_autoptr(JsonNode) ok = qmp(dom, cmd, error);

    return ok != NULL;
}

typedef enum {
    REPAIR_NOT_NEEDED, /* QEMU does not have the device */
    REPAIR_LISTED,     /* libvirt lists it: attached meanwhile, by another request */
    REPAIR_REMOVED,    /* QEMU had it, libvirt did not list it: removed from QEMU */
} RepairDone;

/* Until @until, whether QEMU let @alias go after device_del: the guest releases the device in
 * its own time, and QEMU drops it then. */
static gboolean wait_gone(virDomainPtr dom, const char *alias, gint64 until, GError **error)
{
    gboolean in_qemu = TRUE;

    while (in_qemu) {
        if (g_get_monotonic_time() > until) {
            g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_TIMEOUT,
                                "QEMU still has the device after device_del");
            return FALSE;
        }
        g_usleep(REPAIR_POLL_US);
        if (!itsmigd_virt_qemu_has_device(dom, alias, &in_qemu, error))
            return FALSE;
    }
    return TRUE;
}

/* Removes @alias from QEMU when libvirt does not list it; the claim is held.  Only once both
 * were seen so is a failure ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT (whose attention tells a
 * person to remove the device from QEMU); before, it keeps libvirt's code. */
static gboolean repair(virDomainPtr dom, const char *alias, gint64 until, RepairDone *ret_done,
                       GError **error)
{
    g_autoptr(GError) local = NULL;
    gboolean in_libvirt, in_qemu;

    if (!itsmigd_virt_domain_has_device(dom, alias, &in_libvirt, error) ||
        !itsmigd_virt_qemu_has_device(dom, alias, &in_qemu, error))
        return FALSE;
    *ret_done = in_libvirt ? REPAIR_LISTED : !in_qemu ? REPAIR_NOT_NEEDED : REPAIR_REMOVED;
    if (*ret_done != REPAIR_REMOVED)
        return TRUE;
    if (!unless_busy(device_del_once, dom, (gpointer)alias, until, &local) ||
        !wait_gone(dom, alias, until, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT,
                    "QEMU has device '%s' but libvirt does not list it, and it could not be "
                    "removed from QEMU: %s",
                    alias, local->message);
        return FALSE;
    }
    return TRUE;
}

/* repair() under the domain's claim: repairs of one domain run one at a time, a second one
 * waiting for the first (without holding a lock meanwhile). */
static gboolean repair_device(virDomainPtr dom, const char *alias, gint64 until,
                              RepairDone *ret_done, GError **error)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    gboolean ok;

    if (virDomainGetUUIDString(dom, uuid) < 0) {
        itsmigd_virt_error(error, "cannot read the domain's UUID");
        return FALSE;
    }
    if (!claim(uuid, until)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_TIMEOUT,
                    "QEMU refused device '%s' as a duplicate ID, and another repair of the "
                    "domain did not end in time",
                    alias);
        return FALSE;
    }
    ok = repair(dom, alias, until, ret_done, error);
    release(uuid);
    return ok;
}

typedef struct {
    const char *alias, *xml;
    gboolean *ret_attached;
} Attach;

/* @data: an Attach. */
static gboolean attach_once(virDomainPtr dom, gpointer data, GError **error)
{
    const Attach *a = data;

    return itsmigd_virt_domain_attach(dom, a->alias, a->xml, a->ret_attached, error);
}

/* Whether libvirt still lists @alias once the DEVICE_DELETED of the device a repair removed
 * was handled.  libvirt handles that event in a worker of its own, under a job of the domain;
 * when the worker runs after the new attach, it finds the new device under the same ID and
 * drops it from the live XML, while QEMU keeps it: the state the repair was for.  The wait is
 * bounded (nothing says when the worker ran): REPAIR_SETTLE_US, the deadline at most. */
static gboolean settled(virDomainPtr dom, const char *alias, gint64 until, gboolean *ret_kept,
                        GError **error)
{
    gint64 end = MIN(g_get_monotonic_time() + REPAIR_SETTLE_US, until);

    *ret_kept = TRUE;
    while (*ret_kept && g_get_monotonic_time() < end) {
        g_usleep(REPAIR_POLL_US);
        if (!itsmigd_virt_domain_has_device(dom, alias, ret_kept, error))
            return FALSE;
    }
    return TRUE;
}

gboolean itsmigd_virt_domain_attach_repairing(virDomainPtr dom, const char *alias, const char *xml,
                                              gint64 deadline_mono, gboolean *ret_attached,
                                              gboolean *ret_repaired, GError **error)
{
    gint64 until = g_get_monotonic_time() + ITSMIGD_REPAIR_WAIT_US;
    Attach a = {alias, xml, ret_attached};

    if (deadline_mono)
        until = MIN(until, deadline_mono);
    if (ret_repaired)
        *ret_repaired = FALSE;
    for (int tries = 1;; tries++) {
        g_autoptr(GError) local = NULL;
        RepairDone done;
        gboolean kept;

        if (unless_busy(attach_once, dom, &a, until, &local))
            return TRUE;
        if (!itsmigd_virt_error_duplicate_id(local)) {
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        if (!repair_device(dom, alias, until, &done, error))
            return FALSE;
        if (done == REPAIR_LISTED) {
            /* Attached by another request while this one waited for its repair. */
            if (ret_attached)
                *ret_attached = FALSE;
            return TRUE;
        }
        if (done == REPAIR_NOT_NEEDED) {
            /* Not the case repaired here: QEMU's refusal stands. */
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        if (ret_repaired)
            *ret_repaired = TRUE;
        if (!unless_busy(attach_once, dom, &a, until, error) ||
            !settled(dom, alias, until, &kept, error))
            return FALSE;
        if (kept)
            return TRUE;
        if (tries == REPAIR_TRIES) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT,
                        "libvirt dropped device '%s' from its live XML after each of %d "
                        "repairs, while QEMU kept it",
                        alias, REPAIR_TRIES);
            return FALSE;
        }
        itsmigd_log_domain(G_LOG_LEVEL_MESSAGE, virDomainGetName(dom),
                           "libvirt dropped device %s after it was attached again (it handled "
                           "the removed device's DEVICE_DELETED late); repairing again",
                           alias);
    }
}
