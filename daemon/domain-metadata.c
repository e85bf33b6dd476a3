/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <libvirt/libvirt.h>

#include "daemon/domain-metadata.h"

static void set_host(ItsmigItsMetadata *m, const ItsmigHostCaps *caps,
                     ItsmigMetadataWritten written, gint64 now)
{
    g_free(m->host);
    m->host = g_strdup(caps->hostname);
    m->written = written;
    m->written_at = now;
    g_free(m->host_arch);
    m->host_arch = caps->meta[ITSMIG_CAP_ARCH].source ? g_strdup(caps->arch) : NULL;
    m->host_page_size = caps->meta[ITSMIG_CAP_PAGE_SIZE].source ? caps->page_size : 0;
    m->host_gicv4 = caps->meta[ITSMIG_CAP_GICV4].source ? caps->gicv4 : ITSMIG_GICV4_UNKNOWN;
    m->host_save_tables = caps->meta[ITSMIG_CAP_SAVE_TABLES].source ? caps->save_tables : -1;
    m->host_save_pending_tables =
        caps->meta[ITSMIG_CAP_SAVE_PENDING_TABLES].source ? caps->save_pending_tables : -1;
    m->host_ctrl_reset = caps->meta[ITSMIG_CAP_CTRL_RESET].source ? caps->ctrl_reset : -1;
    m->host_its_abi_revisions =
        caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source ? caps->its_abi_revisions : 0;
    /* The guest's QEMU took this host's register list at start or arrival
     * and sends it on: the digest lets the next host find it. */
    g_free(m->host_regs_digest);
    m->host_regs_digest = g_strdup(caps->regs_digest);
    m->host_regs_count = caps->regs_digest ? caps->regs.n_regs : 0;
}

static void cold_start(ItsmigItsMetadata *m, const ItsmigHostCaps *caps, gint64 started, gint64 now)
{
    itsmig_its_metadata_init(m);
    /* QEMU never writes GITS_IIDR or GICD_IIDR on a fresh start: the guest
     * gets what this host's KVM gives a new VM. */
    m->its_abi_revision = caps->meta[ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION].source
                              ? (int)caps->default_its_abi_revision
                              : -1;
    m->gicd_revision = caps->meta[ITSMIG_CAP_GICD_REVISION].source ? (int)caps->gicd_revision : -1;
    m->started_at = started;
    set_host(m, caps, ITSMIG_METADATA_WRITTEN_START, now);
}

ItsmigdMetadataCause itsmigd_metadata_cause_of_start(int detail)
{
    switch (detail) {
    case VIR_DOMAIN_EVENT_STARTED_BOOTED:
    case VIR_DOMAIN_EVENT_STARTED_WAKEUP: return ITSMIGD_METADATA_COLD_START;
    case VIR_DOMAIN_EVENT_STARTED_MIGRATED:
    case VIR_DOMAIN_EVENT_STARTED_RESTORED:
    case VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT:
    default:
        /* Unknown details keep the record: overwriting a carried revision
         * with this host's default would hide the one the guest runs with. */
        return ITSMIGD_METADATA_ARRIVED;
    }
}

gboolean itsmigd_metadata_plan(const ItsmigDomainProfile *profile, ItsmigdMetadataCause cause,
                               const ItsmigHostCaps *caps, const ItsmigHookRecord *hook, gint64 now,
                               ItsmigItsMetadata *ret_metadata)
{
    const ItsmigItsMetadata *have = profile->has_metadata ? &profile->metadata : NULL;

    itsmig_its_metadata_init(ret_metadata);
    if (profile->its == ITSMIG_ITS_ABSENT)
        return FALSE;

    switch (cause) {
    case ITSMIGD_METADATA_COLD_START: cold_start(ret_metadata, caps, now, now); return TRUE;
    case ITSMIGD_METADATA_ARRIVED:
        if (have)
            itsmig_its_metadata_copy(ret_metadata, have);
        set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_INCOMING, now);
        return TRUE;
    case ITSMIGD_METADATA_RESET:
        if (have)
            itsmig_its_metadata_copy(ret_metadata, have);
        else
            set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_ADOPTED, now);
        ret_metadata->reset_at = now;
        return TRUE;
    case ITSMIGD_METADATA_FOUND:
        if (have && g_strcmp0(have->host, caps->hostname) == 0) {
            /* A record from an itsmig without register digests: the guest's
             * QEMU has this host's list, since it started or arrived here. */
            if (have->host_regs_digest || !caps->regs_digest)
                return FALSE;
            itsmig_its_metadata_copy(ret_metadata, have);
            ret_metadata->host_regs_digest = g_strdup(caps->regs_digest);
            ret_metadata->host_regs_count = caps->regs.n_regs;
            return TRUE;
        }
        if (have) {
            itsmig_its_metadata_copy(ret_metadata, have);
            set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_INCOMING, now);
            return TRUE;
        }
        if (hook && !hook->incoming && hook->started_at > 0) {
            cold_start(ret_metadata, caps, hook->started_at, now);
            return TRUE;
        }
        set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_ADOPTED, now);
        return TRUE;
    case ITSMIGD_METADATA_CAUSE_LAST:
    default: break;
    }
    return FALSE;
}
