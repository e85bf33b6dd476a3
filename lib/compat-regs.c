/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules on the guest's vCPU register set: what the source's QEMU sends and the
 * destination's KVM accepts, and where the source's set comes from. */
#include "config.h"

#include <string.h>

#include "compat-private.h"
#include "itsmig/compat.h"

/* How many registers to name in a message before "and N more". */
#define REGS_NAMED 5

static guint reg_coproc(guint64 id)
{
    return (guint)((id & ITSMIG_KVM_REG_COPROC_MASK) >> ITSMIG_KVM_REG_COPROC_SHIFT);
}

static char *reg_label(guint64 id)
{
    char buf[ITSMIG_KVM_REG_NAME_MAX];

    return g_strdup(itsmig_kvm_reg_name(id, buf, sizeof(buf)));
}

/* Whether the guest's QEMU migrates register @r in its cpreg list: not the
 * core and SVE registers (vmstate fields of their own), nor a register that
 * needs a vCPU feature the guest's XML turns off. */
static gboolean reg_in_guest(const CompatCheck *c, const ItsmigKvmReg *r)
{
    return (r->features & c->features_off) == 0 && itsmig_kvm_reg_in_cpreg_list(r->id);
}

/* The registers of @from that the guest has but @to lacks: their count,
 * how many of them depend on a feature, and the first names in @names. */
guint compat_regs_lacking(const CompatCheck *c, const ItsmigKvmRegSet *from,
                          const ItsmigKvmRegSet *to, guint *ret_sent, guint *ret_have,
                          guint32 *ret_features, GString *names)
{
    guint n = 0;
    guint sent = 0;
    guint have = 0;
    guint32 features = 0;

    for (gsize i = 0; i < to->n_regs; i++)
        have += reg_in_guest(c, &to->regs[i]);
    for (gsize i = 0; i < from->n_regs; i++) {
        const ItsmigKvmReg *r = &from->regs[i];

        if (!reg_in_guest(c, r))
            continue;
        sent++;
        if (itsmig_kvm_regs_find(to, r->id))
            continue;
        if (n < REGS_NAMED) {
            g_autofree char *label = reg_label(r->id);

            compat_list_append(names, label);
        }
        features |= r->features;
        n++;
    }
    if (n > REGS_NAMED)
        g_string_append_printf(names, " and %u more", n - REGS_NAMED);
    if (ret_sent)
        *ret_sent = sent;
    if (ret_have)
        *ret_have = have;
    if (ret_features)
        *ret_features = features;
    return n;
}

static char *features_list(guint32 features)
{
    GString *s = g_string_new(NULL);

    for (guint32 bit = 1; bit && bit <= ITSMIG_VCPU_FEATURE_PTRAUTH; bit <<= 1) {
        if (features & bit)
            compat_list_append(s, itsmig_vcpu_feature_name(bit));
    }
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

const char *compat_source_name(const CompatCheck *c)
{
    return c->s ? c->s->hostname : c->s_regs_host;
}

void compat_rule_vcpu_registers_missing(CompatCheck *c)
{
    g_autofree char *from = NULL;
    g_autofree char *needed = NULL;
    guint32 features = c->lacking.features;
    guint sent = c->lacking.sent, n = c->lacking.n;
    const char *qemu_error;

    if (n == 0)
        return;
    /* QEMU 7.2 to 10.x: an incoming count above the destination's fails the
     * VMSTATE_INT32_LE check of cpreg_vmstate_array_len; otherwise
     * cpu_post_load fails at the first register it does not have. */
    qemu_error = sent > c->lacking.have
                     ? "failed to load cpu:cpreg_vmstate_array_len"
                     : "error while loading state for instance 0x0 of device 'cpu'";
    from = c->s_regs_host && c->s_from_metadata
               ? g_strdup_printf(" (the set %s's record names, as %s has it)", c->guest,
                                 c->s_regs_host)
               : g_strdup("");
    compat_add(
        c, ITSMIG_RULE_VCPU_REGISTERS_MISSING,
        g_strdup_printf("%s's KVM lacks %u of the %u vCPU registers %s's QEMU will send for %s%s: "
                        "%s; the destination QEMU fails the load (\"%s\")",
                        c->t->hostname, n, sent, compat_source_name(c), c->guest, from,
                        c->lacking.names->str, qemu_error),
        features ? g_strdup_printf("migrate %s to a host whose KVM has these registers (itsmigctl "
                                   "matrix shows which), or turn off the vCPU features they need "
                                   "(%s) in its domain XML and cold-start it",
                                   c->guest, needed = features_list(features))
                 : g_strdup_printf("migrate %s to a host whose KVM has these registers (itsmigctl "
                                   "matrix shows which), or cold-start it on %s, where it takes "
                                   "%s's register set",
                                   c->guest, c->t->hostname, c->t->hostname));
}

/* Whether the destination's KVM takes the source's value of @s (KVM_SET_ONE_REG
 * in QEMU's write_list_to_kvmstate); @why says why not. */
static gboolean value_accepted(const ItsmigKvmReg *s, const ItsmigKvmReg *t, const char **why)
{
    guint64 diff = s->value ^ t->value;
    unsigned op0, op1, crn, crm, op2;

    if (!s->has_value || !t->has_value || diff == 0)
        return TRUE;
    switch (reg_coproc(s->id)) {
    case ITSMIG_KVM_REG_FW_FEAT_BMAP:
        /* A hypercall bitmap may drop services, never add ones the host lacks. */
        *why = "it sets services the destination's bitmap lacks";
        return (s->value & ~t->value) == 0;
    case ITSMIG_KVM_REG_FW:
        /* PSCI version and the workaround levels: the host must offer at
         * least what the guest saw. */
        *why = "it is above the destination's level";
        return s->value <= t->value;
    case ITSMIG_KVM_REG_SYSREG:
        if (!t->has_writable) {
            /* Without writable ID registers KVM takes only its own value. */
            *why = "the destination's KVM takes no other value for it";
            return FALSE;
        }
        if (diff & ~t->writable) {
            *why = "it differs outside the destination's writable mask";
            return FALSE;
        }
        /* Inside the mask KVM's arm64_check_features() lets userspace lower a
         * field of the feature ID registers (op1 0, CRm 1..7), not raise it;
         * the others (CLIDR_EL1, CTR_EL0, MIDR_EL1, ...) have checks of their own. */
        if (!itsmig_kvm_sysreg_decode(s->id, &op0, &op1, &crn, &crm, &op2) || op1 != 0 || crm == 0)
            return TRUE;
        for (guint shift = 0; shift < 64; shift += 4) {
            if (((s->value >> shift) & 0xf) > ((t->value >> shift) & 0xf) &&
                ((t->writable >> shift) & 0xf)) {
                *why = "a field inside the writable mask is above the destination's";
                return FALSE;
            }
        }
        return TRUE;
    default:
        /* The CCSIDR demux registers: not judged. */
        return TRUE;
    }
}

void compat_rule_vcpu_register_value_unsupported(CompatCheck *c)
{
    g_autoptr(GString) names = g_string_new(NULL);
    const char *first_why = NULL;
    guint n = 0;

    if (!c->vcpu_kvm || !c->s_regs || !c->t_regs)
        return;
    for (gsize i = 0; i < c->s_regs->n_regs; i++) {
        const ItsmigKvmReg *s = &c->s_regs->regs[i];
        const ItsmigKvmReg *t;
        const char *why = NULL;

        if (!s->has_value || !reg_in_guest(c, s))
            continue;
        t = itsmig_kvm_regs_find(c->t_regs, s->id);
        if (!t || value_accepted(s, t, &why))
            continue;
        if (n < REGS_NAMED) {
            g_autofree char *label = reg_label(s->id);

            g_string_append_printf(
                names, "%s%s = 0x%" G_GINT64_MODIFIER "x (there 0x%" G_GINT64_MODIFIER "x)",
                names->len ? ", " : "", label, s->value, t->value);
        }
        if (!first_why)
            first_why = why;
        n++;
    }
    if (n == 0)
        return;
    if (n > REGS_NAMED)
        g_string_append_printf(names, " and %u more", n - REGS_NAMED);
    compat_add(
        c, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED,
        g_strdup_printf("%s's KVM refuses %u ID or firmware register value%s %s's QEMU will write "
                        "for %s (the first because %s): %s; KVM_SET_ONE_REG fails and the "
                        "destination QEMU fails the load",
                        c->t->hostname, n, n == 1 ? "" : "s", compat_source_name(c), c->guest,
                        first_why, names->str),
        g_strdup_printf("migrate %s between hosts with the same CPU and firmware interface, or to "
                        "a host whose KVM lets userspace write these ID registers "
                        "(KVM_ARM_GET_REG_WRITABLE_MASKS); a cold start on %s takes its values",
                        c->guest, c->t->hostname));
}

void compat_rule_vcpu_registers_unknown(CompatCheck *c)
{
    if (!c->vcpu_kvm)
        return;
    if (!c->t_regs)
        compat_add(
            c, ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN,
            g_strdup_printf("%s's vCPU register set is unknown (%s): whether its KVM has every "
                            "register and value %s's QEMU sends was not checked",
                            c->t->hostname,
                            c->t->regs.unavailable_reason[0] ? c->t->regs.unavailable_reason
                                                             : "not probed",
                            c->guest),
            g_strdup_printf("run an itsmigd that probes the register set on %s (its KVM probe "
                            "needs /dev/kvm on arm64)",
                            c->t->hostname));
    if (!c->s_regs)
        compat_add(
            c, ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN,
            g_strdup_printf("the vCPU register set %s's QEMU sends is unknown (%s): whether %s has "
                            "every register was not checked",
                            c->guest, c->s_regs_unknown, c->t->hostname),
            g_strdup_printf("check from the source host, or keep the hosts that %s ran on among "
                            "the configured peers so that its recorded digest can be found",
                            c->guest));
}

/* A host of @in with the register list @digest names, NULL when none has it;
 * @name first, whose values are the ones the guest saw. */
static const ItsmigHostCaps *host_with_regs(const ItsmigCompatInput *in, const char *digest,
                                            const char *name)
{
    const ItsmigHostCaps *found = NULL;

    for (gsize i = 0; in->known && i < in->n_known; i++) {
        const ItsmigHostCaps *h = in->known[i];

        if (!h || !h->regs_digest || strcmp(h->regs_digest, digest) != 0)
            continue;
        if (g_strcmp0(h->hostname, name) == 0)
            return h;
        if (!found)
            found = h;
    }
    return found;
}

/* Which register sets the guest's QEMU has on each side. */
void compat_find_regs(CompatCheck *c)
{
    const ItsmigItsMetadata *m = c->d->has_metadata ? &c->d->metadata : NULL;

    c->features_off = c->d->vcpu_features_off;
    c->vcpu_kvm = itsmig_domain_profile_its_in_kernel(c->d) || c->policy->check_emulated;
    if (c->t->regs.available)
        c->t_regs = &c->t->regs;

    if (c->in->source && c->in->source->regs.available) {
        c->s_regs = &c->in->source->regs;
        c->s_regs_host = c->in->source->hostname;
        return;
    }
    /* The guest's QEMU sends the set of the host where it started or last
     * arrived, which its record names by digest. */
    if (m && m->host_regs_digest) {
        const ItsmigHostCaps *h = host_with_regs(c->in, m->host_regs_digest, m->host);

        if (h) {
            c->s_regs = &h->regs;
            c->s_regs_host = h->hostname;
            return;
        }
        c->s_regs_unknown = g_strdup_printf("%s's record names the register set %s (%u registers) "
                                            "of %s, which no known host has",
                                            c->guest, m->host_regs_digest, m->host_regs_count,
                                            m->host ? m->host : "its host");
        return;
    }
    if (c->in->source)
        c->s_regs_unknown = g_strdup_printf("%s's register set: %s", c->in->source->hostname,
                                            c->in->source->regs.unavailable_reason[0]
                                                ? c->in->source->regs.unavailable_reason
                                                : "not probed");
    else
        c->s_regs_unknown = g_strdup_printf("the source is not known and %s's record has no "
                                            "register digest",
                                            c->guest);
}
