/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the compatibility check's pieces share inside libitsmig: compat.c (the rule table, the
 * policy, the verdict, the check's helpers and the driver), compat-regs.c (the vCPU register
 * rules) and compat-rules.c (the rules on the hosts, the ITS and the devices).  Not installed.
 */

#include "itsmig/compat.h"

/* One check: its input, what the driver worked out once for every rule, and the verdict. */
typedef struct {
    const ItsmigCompatInput *in;
    const ItsmigCompatPolicy *policy;
    const ItsmigDomainProfile *d;
    const char *guest;
    /* The source's facts: input->source, or the host record of the domain's
     * metadata (then s_from_metadata), or NULL when neither is at hand. */
    const ItsmigHostCaps *s;
    gboolean s_from_metadata;
    const ItsmigHostCaps *t;
    gboolean kernel; /* the kernel ITS rules apply */
    int rev;
    const char *rev_origin;
    /* The source's GICv4.0 injects the MSIs of the guest's VFIO devices directly. */
    gboolean gicv4_0_vfio;
    /* The register sets the guest's QEMU has on each side (NULL when
     * unknown), where the source's comes from, and the vCPU features the
     * guest's XML turns off. */
    gboolean vcpu_kvm; /* the guest's vCPU is KVM's: the register rules apply */
    const ItsmigKvmRegSet *s_regs;
    const char *s_regs_host;
    char *s_regs_unknown; /* why s_regs is NULL, for the warning */
    const ItsmigKvmRegSet *t_regs;
    guint32 features_off;
    /* The source's registers the destination's KVM lacks, counted once for
     * the missing-registers rule and the one-way check: n of the sent ones
     * (have there), the features they need and the first names. */
    struct {
        guint n, sent, have;
        guint32 features;
        GString *names;
    } lacking;
    ItsmigVerdict *v;
} CompatCheck;

/* compat.c: the helpers every rule uses. */
G_GNUC_INTERNAL void compat_add(CompatCheck *c, ItsmigRule rule, char *message, char *hint);
G_GNUC_INTERNAL char *compat_cap_value_json(const ItsmigHostCaps *caps, ItsmigCapField field);
G_GNUC_INTERNAL const ItsmigHostdev *compat_hostdev_at(const ItsmigDomainProfile *d, guint i);
G_GNUC_INTERNAL const char *compat_hostdev_label(const ItsmigHostdev *h);
G_GNUC_INTERNAL char *compat_hostdev_list(const ItsmigDomainProfile *d,
                                          gboolean (*pred)(const CompatCheck *c,
                                                           const ItsmigHostdev *h),
                                          const CompatCheck *c);
G_GNUC_INTERNAL gboolean compat_hostdev_pred_blocking(const CompatCheck *c, const ItsmigHostdev *h);
G_GNUC_INTERNAL gboolean compat_hostdev_pred_vfio(const CompatCheck *c, const ItsmigHostdev *h);
G_GNUC_INTERNAL gboolean compat_known(const ItsmigHostCaps *caps, ItsmigCapField field);
G_GNUC_INTERNAL void compat_list_append(GString *list, const char *text);
G_GNUC_INTERNAL guint compat_n_hostdevs(const ItsmigDomainProfile *d);
G_GNUC_INTERNAL char *compat_revisions_text(guint16 mask);

/* compat-regs.c */
G_GNUC_INTERNAL void compat_find_regs(CompatCheck *c);
G_GNUC_INTERNAL guint compat_regs_lacking(const CompatCheck *c, const ItsmigKvmRegSet *from,
                                          const ItsmigKvmRegSet *to, guint *ret_sent,
                                          guint *ret_have, guint32 *ret_features, GString *names);
G_GNUC_INTERNAL void compat_rule_vcpu_register_value_unsupported(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_vcpu_registers_missing(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_vcpu_registers_unknown(CompatCheck *c);
G_GNUC_INTERNAL const char *compat_source_name(const CompatCheck *c);

/* compat-rules.c */
G_GNUC_INTERNAL void compat_rule_arch_mismatch(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_early_boot_no_its_reset(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_gic_version_mismatch(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_gicd_revision_change(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_gicv4_direct_injection(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_host_caps_conflict(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_host_caps_unknown(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_hostdev_not_migratable(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_hostdev_quiesced(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_its_abi_unsupported(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_its_restore_unsupported(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_its_save_unsupported(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_machine_type_unsupported(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_no_pending_table_save(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_one_way_move(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_page_size_mismatch(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_profile_fallback(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_source_unknown(CompatCheck *c);
G_GNUC_INTERNAL void compat_rule_its_save_semantics_differ(CompatCheck *c);
