/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "itsmig/domain-profile.h"
#include "itsmig/hook-record.h"
#include "itsmig/host-caps.h"

/*
 * When itsmigd writes the itsmig record into a domain's metadata, and what
 * it writes.  Pure: virt-connect.c reads the domain, asks here, and writes.
 */
typedef enum {
    ITSMIGD_METADATA_COLD_START, /* booted, or woken from suspend to disk: a new ITS with
                                  * this host's default revision */
    ITSMIGD_METADATA_ARRIVED,    /* started by incoming migration, restore or snapshot */
    ITSMIGD_METADATA_RESET,      /* the guest reset (reboot event) */
    ITSMIGD_METADATA_FOUND,      /* found running (daemon start, reconnection) */

    ITSMIGD_METADATA_CAUSE_LAST
} ItsmigdMetadataCause;

/* What a STARTED lifecycle event with libvirt's @detail means for the record.
 * QEMU keeps the guest's ITS state (and the revision it was saved with) only
 * when it loads a migration stream, a saved state or a snapshot; a wakeup
 * from suspend to disk is a fresh QEMU whose guest reprograms a new ITS. */
ItsmigdMetadataCause itsmigd_metadata_cause_of_start(int detail);

/*
 * Decides whether @profile's domain, running on the host described by @caps,
 * needs its record (re)written after @cause, and fills @ret_metadata with
 * the record to write.  Returns FALSE when the record stands as it is (or
 * the domain has no ITS).  @hook, the hook's record of the domain, may be NULL.
 *  - cold start: this host's default revision and GICD revision, started now;
 *  - arrival: revision, GICD revision and times kept from the source, host now
 *    us (with our register digest: the guest's QEMU now has our register list);
 *  - reset: reset time now, the rest kept;
 *  - found: nothing if the record already names this host (but for adding
 *    this host's register digest to a record without one); one naming another
 *    host means an arrival while itsmigd was away; no record at all is
 *    adopted: as a cold start when the hook saw one here, otherwise without
 *    a revision (it cannot be known; verdicts then say they assume one).
 */
gboolean itsmigd_metadata_plan(const ItsmigDomainProfile *profile, ItsmigdMetadataCause cause,
                               const ItsmigHostCaps *caps, const ItsmigHookRecord *hook, gint64 now,
                               ItsmigItsMetadata *ret_metadata);
