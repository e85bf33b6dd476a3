/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What this host's kernel supports for saving and restoring a guest's ITS,
 * learnt from a scratch VM (itsmig/kvm-vm.h).  libc only.
 */

#include <stdbool.h>
#include <stdint.h>

#include "itsmig/diag.h"

typedef enum {
    ITSMIG_GICV4_UNKNOWN = 0, /* the kernel did not say */
    ITSMIG_GICV4_NONE,
    ITSMIG_GICV4_0,
    ITSMIG_GICV4_1,
    ITSMIG_GICV4_LAST
} ItsmigGicv4Level;

const char *
itsmig_gicv4_level_to_string(ItsmigGicv4Level level); /* "unknown", "none", "4.0", "4.1" */

#define ITSMIG_GICV4_SOURCE_MAX 128

/*
 * Where kernels' vITS implementations differ, measured in scratch VMs rather
 * than inferred from a version.  Errno values are positive; 0 means the
 * operation succeeded.  Meaningful only when measured is true.
 */
typedef struct {
    bool measured; /* false: the probe did not get this far (see available) */
    /* KVM_DEV_ARM_ITS_SAVE_TABLES with a mapped device whose device-table
     * entry the guest made unreachable (the L2 page of a two-level table
     * dropped): 0 when the save succeeds and leaves the device out, else the
     * errno the save fails with. */
    int save_unreachable_device_errno;
    /* A GITS_BASER write while devices are mapped: true when a later save
     * still writes the mappings, false when the write dropped them. */
    bool baser_write_keeps_mappings;
    /* A distributor register access before KVM_DEV_ARM_VGIC_CTRL_INIT: the
     * errno, or 0 where the kernel serves it. */
    int gicd_access_before_init_errno;
} ItsmigKvmItsSemantics;

/* The facts of ItsmigKvmItsSemantics, and how the probe measures each (for
 * people: the "how" of the host document and itsmigctl host probe). */
typedef enum {
    ITSMIG_KVM_ITS_SEMANTICS_SAVE_UNREACHABLE_DEVICE,
    ITSMIG_KVM_ITS_SEMANTICS_BASER_WRITE,
    ITSMIG_KVM_ITS_SEMANTICS_GICD_BEFORE_INIT,
    ITSMIG_KVM_ITS_SEMANTICS_LAST
} ItsmigKvmItsSemanticsFact;

extern const char *const itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_LAST];

typedef struct {
    bool available; /* false: see unavailable_reason; only kernel_release and arch are set */
    char unavailable_reason[256];
    char kernel_release[65];
    char arch[65];

    /* ITS table ABI revisions: bit n set when a GITS_IIDR write of revision
     * n was accepted; abi_revision_errno[n] is 0 or the positive errno. */
    uint16_t abi_revisions;
    int abi_revision_errno[16];
    unsigned default_abi_revision; /* revision a new ITS reports */
    uint32_t gits_iidr;            /* as a new ITS reports it */
    uint64_t gits_typer;

    bool has_ctrl_reset;          /* KVM_DEV_ARM_ITS_CTRL_RESET */
    bool has_save_tables;         /* KVM_DEV_ARM_ITS_SAVE_TABLES */
    bool has_restore_tables;      /* KVM_DEV_ARM_ITS_RESTORE_TABLES */
    bool has_save_pending_tables; /* KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES (vGICv3) */

    uint32_t gicd_iidr;     /* as a new vGICv3 reports it */
    unsigned gicd_revision; /* GICD_IIDR.Revision: KVM's implementation revision */

    ItsmigGicv4Level gicv4;
    char gicv4_source[ITSMIG_GICV4_SOURCE_MAX]; /* where gicv4 came from, for people */

    ItsmigKvmItsSemantics semantics;
} ItsmigKvmItsCaps;

/* true when the probe saw the kernel accept ITS table ABI revision @rev. */
bool itsmig_kvm_its_caps_has_revision(const ItsmigKvmItsCaps *caps, unsigned rev);

/* Returns 0 with caps->available true on success; 0 with available false
 * and a reason where probing is impossible (not arm64, no /dev/kvm, no
 * permission, no vGICv3); -errno only for unexpected failures. */
int itsmig_kvm_its_probe(ItsmigKvmItsCaps *ret_caps, ItsmigDiag *diag);

/*
 * Whether KVM uses GICv4 direct injection on this host, from what the kernel
 * says about it: KVM's boot message "kvm [N]: GICv4%s support %sabled"
 * (printed only when the host GIC has GICv4) and kvm-arm.vgic_v4_enable on
 * the command line (KVM leaves GICv4 off unless it is set).  @log is kernel
 * log text, as /dev/kmsg records or dmesg lines; @cmdline is /proc/cmdline;
 * either may be NULL when unreadable.  The last GICv4 line wins.  Without
 * that line the level is "none" when the command line leaves GICv4 off or
 * the log shows KVM's vGIC probe completing without it, else "unknown".
 * @ret_source says which evidence decided, for people.
 */
void itsmig_kvm_its_parse_gicv4(const char *log, const char *cmdline, ItsmigGicv4Level *ret_level,
                                char ret_source[ITSMIG_GICV4_SOURCE_MAX]);
