/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

/*
 * Devices QEMU has and libvirt does not know of: when libvirtd dies while it
 * attaches a device, QEMU keeps the device and the restarted libvirtd does not
 * list it, so attaching it again fails with QEMU's duplicate ID.  These read
 * QEMU's own list (qom-list /machine/peripheral, through libvirt's monitor
 * pass-through) and remove such a device from QEMU, so that libvirt can attach
 * it.  Like virt-domain.h: they block, and report libvirt's errors as GErrors.
 */

/* Back-off between tries of a request QEMU answered "guest is busy". */
#define ITSMIGD_BUSY_RETRY_FIRST_US (250 * 1000)
#define ITSMIGD_BUSY_RETRY_MAX_US   (4 * G_USEC_PER_SEC)

/* How long a repair waits for QEMU to let a device go. */
#define ITSMIGD_REPAIR_WAIT_US (60 * G_USEC_PER_SEC)

/* Whether QEMU has a device whose ID is @alias. */
gboolean itsmigd_virt_qemu_has_device(virDomainPtr dom, const char *alias, gboolean *ret_present,
                                      GError **error);

/* Asks QEMU to remove the device @alias (device_del) when libvirt's live XML
 * does not list it and QEMU has it, and waits until it is gone (until
 * @deadline_mono, ITSMIGD_REPAIR_WAIT_US at most).  "Guest is busy" answers are
 * asked again, with back-off, until then.  @ret_removed says whether a device
 * was removed; FALSE with @error when the device stays (ITSMIG_ERROR_
 * DEVICE_UNKNOWN_TO_LIBVIRT, with what was tried).  Repairs of one domain run
 * one at a time: a second one waits for the first (it does not hold a lock
 * meanwhile). */
gboolean itsmigd_virt_repair_device(virDomainPtr dom, const char *alias, gint64 deadline_mono,
                                    gboolean *ret_removed, GError **error);

/* Attaches @xml (live) as itsmigd_virt_domain_attach() does; when QEMU refuses it as a
 * duplicate ID, repairs (itsmigd_virt_repair_device()) and attaches it again.
 * @ret_repaired (may be NULL) says whether a stale device was removed first. */
gboolean itsmigd_virt_domain_attach_repairing(virDomainPtr dom, const char *alias, const char *xml,
                                              gint64 deadline_mono, gboolean *ret_attached,
                                              gboolean *ret_repaired, GError **error);
