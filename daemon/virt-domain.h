/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

/*
 * libvirt's domain operations as itsmigd uses them: each one idempotent
 * (a retry after a crash, or a second caller, finds the work done and
 * succeeds), each failure a GError in ITSMIG_ERROR with libvirt's message.
 * A domain that does not exist is ITSMIG_ERROR_NOT_FOUND; any other libvirt
 * failure ITSMIG_ERROR_LIBVIRT.  They block: never call them on the main
 * loop for a domain that a libvirt job may hold.
 */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)

/* Sets @error from libvirt's last error in this thread: the message is
 * @format's text, ": ", and libvirt's message (libvirt's alone when @format
 * is NULL).  Returns libvirt's code (virErrorNumber), for the few callers
 * that tell its failures apart.  Every libvirt call resets that error,
 * virDomainGetName() too: the arguments must not call libvirt. */
int itsmigd_virt_error(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Whether @error, from a device's attach or detach, is QEMU's "guest is busy (power
 * indicator blinking)": the PCIe slot is still settling after a recent plug or unplug, and
 * the same request succeeds once it has.  The one place that tells that refusal apart. */
gboolean itsmigd_virt_error_busy(const GError *error);

/* Whether @error, from an attach, is QEMU's refusal of a device ID it already has ("Duplicate
 * ID", "Duplicate device ID"): a device QEMU kept that libvirt does not know of. */
gboolean itsmigd_virt_error_duplicate_id(const GError *error);

/* The domain whose UUID is @uuid; NULL with @error when it is not there, or
 * when @conn is NULL (ITSMIG_ERROR_LIBVIRT_UNAVAILABLE). */
virDomainPtr itsmigd_virt_domain_lookup(virConnectPtr conn, const char *uuid, GError **error);

/* The domain's state and its reason. */
gboolean itsmigd_virt_domain_get_state(virDomainPtr dom, int *ret_state, int *ret_reason,
                                       GError **error);

/* Whether a device with user alias @alias is in the domain's live XML. */
gboolean itsmigd_virt_domain_has_device(virDomainPtr dom, const char *alias, gboolean *ret_present,
                                        GError **error);

/* Pauses the vCPUs unless they are paused already. */
gboolean itsmigd_virt_domain_suspend(virDomainPtr dom, GError **error);

/* Resumes the vCPUs if they are paused; a running domain is left alone. */
gboolean itsmigd_virt_domain_resume(virDomainPtr dom, GError **error);

/* Attaches @xml (live) unless a device with @alias is there already;
 * @ret_attached (may be NULL) says whether it was attached now. */
gboolean itsmigd_virt_domain_attach(virDomainPtr dom, const char *alias, const char *xml,
                                    gboolean *ret_attached, GError **error);

/* Asks for the device with @alias (described by @xml) to be detached
 * (live), unless it is gone already.  The guest acknowledges an unplug in
 * its own time: @ret_pending says whether the device was still there, so
 * that the caller waits for its removal. */
gboolean itsmigd_virt_domain_detach(virDomainPtr dom, const char *alias, const char *xml,
                                    gboolean *ret_pending, GError **error);
