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

/* How long an attach that repairs takes at most. */
#define ITSMIGD_REPAIR_WAIT_US (60 * G_USEC_PER_SEC)

/* Whether QEMU has a device whose ID is @alias. */
gboolean itsmigd_virt_qemu_has_device(virDomainPtr dom, const char *alias, gboolean *ret_present,
                                      GError **error);

/* Attaches @xml (live) as itsmigd_virt_domain_attach() does.  When QEMU refuses it as a
 * duplicate ID while libvirt's live XML does not list the device (QEMU has it), asks QEMU to
 * remove it (device_del), waits until it is gone, and attaches it again through libvirt; and
 * again, up to three times, when libvirt drops the new device (its late handling of the
 * removed one's DEVICE_DELETED).  Everything within @deadline_mono (0: none) and
 * ITSMIGD_REPAIR_WAIT_US; "guest is busy" answers are asked again, with back-off, meanwhile.
 * Repairs of one domain run one at a time: a second one waits for the first (it does not
 * hold a lock meanwhile), and succeeds with *@ret_attached FALSE when the first attached the
 * device.  @ret_repaired (may be NULL) says whether a stale device was removed first.  A
 * failure once QEMU was seen to have the device and libvirt not to list it is
 * ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT, with what was tried. */
gboolean itsmigd_virt_domain_attach_repairing(virDomainPtr dom, const char *alias, const char *xml,
                                              gint64 deadline_mono, gboolean *ret_attached,
                                              gboolean *ret_repaired, GError **error);
