/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/compat.h"
#include "itsmig/error.h"
#include "itsmig/json-strict.h"

/* ---- rule table ------------------------------------------------------------ */

static const struct {
    const char *code;
    ItsmigVerdictSeverity severity;
    gboolean fixed;
} rules[ITSMIG_RULE_LAST] = {
    [ITSMIG_RULE_HOST_CAPS_UNKNOWN] = {"host-caps-unknown", ITSMIG_VERDICT_BLOCKER, FALSE},
    [ITSMIG_RULE_ARCH_MISMATCH] = {"arch-mismatch", ITSMIG_VERDICT_BLOCKER, TRUE},
    [ITSMIG_RULE_GIC_VERSION_MISMATCH] = {"gic-version-mismatch", ITSMIG_VERDICT_BLOCKER, TRUE},
    [ITSMIG_RULE_ITS_ABI_UNSUPPORTED] = {"its-abi-unsupported", ITSMIG_VERDICT_BLOCKER, TRUE},
    [ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED] = {"its-restore-unsupported", ITSMIG_VERDICT_BLOCKER,
                                             TRUE},
    [ITSMIG_RULE_ITS_SAVE_UNSUPPORTED] = {"its-save-unsupported", ITSMIG_VERDICT_BLOCKER, TRUE},
    [ITSMIG_RULE_GICV4_DIRECT_INJECTION] = {"gicv4-direct-injection", ITSMIG_VERDICT_BLOCKER,
                                            FALSE},
    [ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE] = {"hostdev-not-migratable", ITSMIG_VERDICT_BLOCKER,
                                            FALSE},
    [ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET] = {"early-boot-no-its-reset", ITSMIG_VERDICT_BLOCKER,
                                             FALSE},
    [ITSMIG_RULE_VCPU_REGISTERS_MISSING] = {"vcpu-registers-missing", ITSMIG_VERDICT_BLOCKER, TRUE},
    [ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED] = {"vcpu-register-value-unsupported",
                                                     ITSMIG_VERDICT_BLOCKER, TRUE},
    [ITSMIG_RULE_NO_PENDING_TABLE_SAVE] = {"no-pending-table-save", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_GICD_REVISION_CHANGE] = {"gicd-revision-change", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_ONE_WAY_MOVE] = {"one-way-move", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_PROFILE_FALLBACK] = {"its-profile-fallback", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_SOURCE_UNKNOWN] = {"source-unknown", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_HOST_CAPS_CONFLICT] = {"host-caps-conflict", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_HOSTDEV_QUIESCED] = {"hostdev-quiesced", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_PAGE_SIZE_MISMATCH] = {"page-size-mismatch", ITSMIG_VERDICT_WARNING, FALSE},
    [ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN] = {"vcpu-registers-unknown", ITSMIG_VERDICT_WARNING,
                                            FALSE},
    [ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER] = {"its-save-semantics-differ", ITSMIG_VERDICT_WARNING,
                                               FALSE},
};

static const char *const severity_names[ITSMIG_VERDICT_SEVERITY_LAST] = {
    [ITSMIG_VERDICT_OFF] = "off",
    [ITSMIG_VERDICT_WARNING] = "warning",
    [ITSMIG_VERDICT_BLOCKER] = "blocker",
};

const char *itsmig_rule_to_string(ItsmigRule rule)
{
    if ((unsigned int)rule >= ITSMIG_RULE_LAST)
        return NULL;
    return rules[rule].code;
}

gboolean itsmig_rule_from_string(const char *code, ItsmigRule *ret_rule)
{
    if (!code)
        return FALSE;
    for (unsigned int i = 0; i < ITSMIG_RULE_LAST; i++) {
        if (strcmp(code, rules[i].code) == 0) {
            if (ret_rule)
                *ret_rule = (ItsmigRule)i;
            return TRUE;
        }
    }
    return FALSE;
}

const char *itsmig_verdict_severity_to_string(ItsmigVerdictSeverity severity)
{
    if ((unsigned int)severity >= ITSMIG_VERDICT_SEVERITY_LAST)
        return NULL;
    return severity_names[severity];
}

gboolean itsmig_verdict_severity_from_string(const char *text, ItsmigVerdictSeverity *ret_severity)
{
    if (!text)
        return FALSE;
    for (unsigned int i = 0; i < ITSMIG_VERDICT_SEVERITY_LAST; i++) {
        if (strcmp(text, severity_names[i]) == 0) {
            if (ret_severity)
                *ret_severity = (ItsmigVerdictSeverity)i;
            return TRUE;
        }
    }
    return FALSE;
}

ItsmigVerdictSeverity itsmig_rule_default_severity(ItsmigRule rule)
{
    if ((unsigned int)rule >= ITSMIG_RULE_LAST)
        return ITSMIG_VERDICT_OFF;
    return rules[rule].severity;
}

gboolean itsmig_rule_is_fixed(ItsmigRule rule)
{
    if ((unsigned int)rule >= ITSMIG_RULE_LAST)
        return FALSE;
    return rules[rule].fixed;
}

/* ---- policy ---------------------------------------------------------------- */

void itsmig_compat_policy_init(ItsmigCompatPolicy *policy)
{
    g_return_if_fail(policy != NULL);

    memset(policy, 0, sizeof(*policy));
    for (unsigned int i = 0; i < ITSMIG_RULE_LAST; i++)
        policy->severity[i] = rules[i].severity;
    policy->quiesce = TRUE;
    policy->early_boot_window = 300;
    policy->check_emulated = FALSE;
}

gboolean itsmig_compat_policy_set(ItsmigCompatPolicy *policy, const char *code,
                                  const char *severity, GError **error)
{
    ItsmigRule rule;
    ItsmigVerdictSeverity sev;

    g_return_val_if_fail(policy != NULL, FALSE);
    g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

    if (!code || !itsmig_rule_from_string(code, &rule)) {
        g_autoptr(GString) known = g_string_new(NULL);

        for (unsigned int i = 0; i < ITSMIG_RULE_LAST; i++)
            g_string_append_printf(known, "%s%s", i ? ", " : "", rules[i].code);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "unknown compatibility rule '%s' (known rules: %s)", code ? code : "",
                    known->str);
        return FALSE;
    }
    if (!severity || !itsmig_verdict_severity_from_string(severity, &sev)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "invalid severity '%s' for rule %s (expected off, warning or blocker)",
                    severity ? severity : "", code);
        return FALSE;
    }
    if (rules[rule].fixed && sev != ITSMIG_VERDICT_BLOCKER) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "rule %s cannot be set to %s: it stays a blocker because the migration "
                    "fails anyway (the destination would abort or the kernel refuse)",
                    code, severity);
        return FALSE;
    }
    policy->severity[rule] = sev;
    return TRUE;
}

/* Fixed rules stay blockers even when a caller filled the policy by hand. */
static ItsmigVerdictSeverity policy_severity(const ItsmigCompatPolicy *policy, ItsmigRule rule)
{
    ItsmigVerdictSeverity sev = policy->severity[rule];

    if ((unsigned int)sev >= ITSMIG_VERDICT_SEVERITY_LAST)
        sev = rules[rule].severity;
    if (rules[rule].fixed)
        sev = ITSMIG_VERDICT_BLOCKER;
    return sev;
}

/* ---- the verdict ----------------------------------------------------------- */

static void verdict_item_free(gpointer data)
{
    ItsmigVerdictItem *item = data;

    g_free(item->message);
    g_free(item->hint);
    g_free(item);
}

void itsmig_verdict_free(ItsmigVerdict *verdict)
{
    if (!verdict)
        return;
    if (verdict->blockers)
        g_ptr_array_unref(verdict->blockers);
    if (verdict->warnings)
        g_ptr_array_unref(verdict->warnings);
    g_free(verdict);
}

gboolean itsmig_verdict_has(const ItsmigVerdict *verdict, ItsmigRule rule)
{
    const GPtrArray *lists[2];

    g_return_val_if_fail(verdict != NULL, FALSE);

    lists[0] = verdict->blockers;
    lists[1] = verdict->warnings;
    for (unsigned int l = 0; l < G_N_ELEMENTS(lists); l++) {
        for (guint i = 0; i < lists[l]->len; i++) {
            const ItsmigVerdictItem *item = g_ptr_array_index(lists[l], i);

            if (item->rule == rule)
                return TRUE;
        }
    }
    return FALSE;
}

static void items_to_json(const GPtrArray *items, JsonBuilder *b)
{
    json_builder_begin_array(b);
    for (guint i = 0; i < items->len; i++) {
        const ItsmigVerdictItem *item = g_ptr_array_index(items, i);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "code");
        json_builder_add_string_value(b, itsmig_rule_to_string(item->rule));
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, item->message);
        json_builder_set_member_name(b, "hint");
        json_builder_add_string_value(b, item->hint);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

void itsmig_verdict_to_json_members(const ItsmigVerdict *verdict, JsonBuilder *b)
{
    g_return_if_fail(verdict != NULL);
    g_return_if_fail(b != NULL);

    json_builder_set_member_name(b, "allowed");
    json_builder_add_boolean_value(b, verdict->allowed);
    json_builder_set_member_name(b, "its_abi_revision");
    if (verdict->its_abi_revision >= 0)
        json_builder_add_int_value(b, verdict->its_abi_revision);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "its_abi_revision_origin");
    json_builder_add_string_value(b, verdict->its_abi_revision_origin);
    json_builder_set_member_name(b, "direct_injection");
    json_builder_add_boolean_value(b, verdict->direct_injection);
    json_builder_set_member_name(b, "blockers");
    items_to_json(verdict->blockers, b);
    json_builder_set_member_name(b, "warnings");
    items_to_json(verdict->warnings, b);
}

char *itsmig_verdict_blockers_line(const ItsmigVerdict *verdict)
{
    GString *line;

    g_return_val_if_fail(verdict != NULL, NULL);

    line = g_string_new(NULL);
    for (guint i = 0; i < verdict->blockers->len; i++) {
        const ItsmigVerdictItem *item = g_ptr_array_index(verdict->blockers, i);

        g_string_append_printf(line, "%s%s: %s", i ? "; " : "", itsmig_rule_to_string(item->rule),
                               item->message);
    }
    return g_string_free(line, FALSE);
}

/* ---- the check ------------------------------------------------------------- */

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
} Check;

static gboolean known(const ItsmigHostCaps *caps, ItsmigCapField field)
{
    return caps && caps->meta[field].source != ITSMIG_CAP_UNKNOWN;
}

/* Takes @message and @hint; drops them when policy turns the rule off. */
static void add(Check *c, ItsmigRule rule, char *message, char *hint)
{
    ItsmigVerdictSeverity sev = policy_severity(c->policy, rule);
    ItsmigVerdictItem *item;

    if (sev == ITSMIG_VERDICT_OFF) {
        g_free(message);
        g_free(hint);
        return;
    }
    item = g_new0(ItsmigVerdictItem, 1);
    item->rule = rule;
    item->severity = sev;
    /* Names and reasons come from XML, config and peers: keep items one line. */
    item->message = g_strdelimit(message, "\r\n", ' ');
    item->hint = g_strdelimit(hint, "\r\n", ' ');
    g_ptr_array_add(sev == ITSMIG_VERDICT_BLOCKER ? c->v->blockers : c->v->warnings, item);
}

static gboolean is_vfio(const ItsmigHostdev *h)
{
    return !h->driver || strcmp(h->driver, "vfio") == 0;
}

static const char *hostdev_label(const ItsmigHostdev *h)
{
    if (h->address)
        return h->address;
    if (h->alias)
        return h->alias;
    return "(no host address)";
}

static guint n_hostdevs(const ItsmigDomainProfile *d)
{
    return d->hostdevs ? d->hostdevs->len : 0;
}

static const ItsmigHostdev *hostdev_at(const ItsmigDomainProfile *d, guint i)
{
    return g_ptr_array_index(d->hostdevs, i);
}

static void list_append(GString *list, const char *text)
{
    if (list->len)
        g_string_append(list, ", ");
    g_string_append(list, text);
}

/* "0, 1", or "none". */
static char *revisions_text(guint16 mask)
{
    GString *s = g_string_new(NULL);

    for (guint rev = 0; rev < 16; rev++) {
        if (mask & (1u << rev))
            g_string_append_printf(s, "%s%u", s->len ? ", " : "", rev);
    }
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

/* The value as compact JSON, as host-caps records a probe's conflicting value. */
static char *cap_value_json(const ItsmigHostCaps *caps, ItsmigCapField field)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_builder_begin_array(b);
    switch (field) {
    case ITSMIG_CAP_ARCH: itsmig_json_add_string_or_null(b, NULL, caps->arch); break;
    case ITSMIG_CAP_KERNEL_RELEASE:
        itsmig_json_add_string_or_null(b, NULL, caps->kernel_release);
        break;
    case ITSMIG_CAP_QEMU_VERSION:
        itsmig_json_add_string_or_null(b, NULL, caps->qemu_version);
        break;
    case ITSMIG_CAP_LIBVIRT_VERSION:
        itsmig_json_add_string_or_null(b, NULL, caps->libvirt_version);
        break;
    case ITSMIG_CAP_PAGE_SIZE: json_builder_add_int_value(b, caps->page_size); break;
    case ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION:
        json_builder_add_int_value(b, caps->default_its_abi_revision);
        break;
    case ITSMIG_CAP_GICD_REVISION: json_builder_add_int_value(b, caps->gicd_revision); break;
    case ITSMIG_CAP_VGIC_ITS: json_builder_add_boolean_value(b, caps->vgic_its); break;
    case ITSMIG_CAP_SAVE_TABLES: json_builder_add_boolean_value(b, caps->save_tables); break;
    case ITSMIG_CAP_RESTORE_TABLES: json_builder_add_boolean_value(b, caps->restore_tables); break;
    case ITSMIG_CAP_CTRL_RESET: json_builder_add_boolean_value(b, caps->ctrl_reset); break;
    case ITSMIG_CAP_SAVE_PENDING_TABLES:
        json_builder_add_boolean_value(b, caps->save_pending_tables);
        break;
    case ITSMIG_CAP_GICV4:
        json_builder_add_string_value(b, itsmig_gicv4_level_to_string(caps->gicv4));
        break;
    case ITSMIG_CAP_ITS_ABI_REVISIONS:
        json_builder_begin_array(b);
        for (guint rev = 0; rev < 16; rev++) {
            if (caps->its_abi_revisions & (1u << rev))
                json_builder_add_int_value(b, rev);
        }
        json_builder_end_array(b);
        break;
    case ITSMIG_CAP_LAST:
    default: json_builder_add_null_value(b); break;
    }
    json_builder_end_array(b);

    /* The builder wants a container; the value is its only element. */
    root = json_builder_get_root(b);
    json_generator_set_root(gen, json_array_get_element(json_node_get_array(root), 0));
    return json_generator_to_data(gen, NULL);
}

/* "0000:01:00.0, 0000:02:00.0" for the hostdevs @pred accepts. */
static char *hostdev_list(const ItsmigDomainProfile *d,
                          gboolean (*pred)(const Check *c, const ItsmigHostdev *h), const Check *c)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < n_hostdevs(d); i++) {
        const ItsmigHostdev *h = hostdev_at(d, i);

        if (pred(c, h))
            list_append(s, hostdev_label(h));
    }
    return g_string_free(s, FALSE);
}

static gboolean hostdev_pred_vfio(const Check *c, const ItsmigHostdev *h)
{
    return is_vfio(h);
}

/* The devices that would block but for quiescing. */
static gboolean hostdev_pred_blocking(const Check *c, const ItsmigHostdev *h)
{
    return h->migratable != 1 || (c->gicv4_0_vfio && is_vfio(h));
}

/* ---- the vCPU register set ------------------------------------------------- */

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
static gboolean reg_in_guest(const Check *c, const ItsmigKvmReg *r)
{
    return (r->features & c->features_off) == 0 && itsmig_kvm_reg_in_cpreg_list(r->id);
}

/* The registers of @from that the guest has but @to lacks: their count,
 * how many of them depend on a feature, and the first names in @names. */
static guint regs_lacking(const Check *c, const ItsmigKvmRegSet *from, const ItsmigKvmRegSet *to,
                          guint *ret_sent, guint *ret_have, guint32 *ret_features, GString *names)
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

            list_append(names, label);
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
            list_append(s, itsmig_vcpu_feature_name(bit));
    }
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

static const char *source_name(const Check *c)
{
    return c->s ? c->s->hostname : c->s_regs_host;
}

static void rule_vcpu_registers_missing(Check *c)
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
    add(c, ITSMIG_RULE_VCPU_REGISTERS_MISSING,
        g_strdup_printf("%s's KVM lacks %u of the %u vCPU registers %s's QEMU will send for %s%s: "
                        "%s; the destination QEMU fails the load (\"%s\")",
                        c->t->hostname, n, sent, source_name(c), c->guest, from,
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

static void rule_vcpu_register_value_unsupported(Check *c)
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
    add(c, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED,
        g_strdup_printf("%s's KVM refuses %u ID or firmware register value%s %s's QEMU will write "
                        "for %s (the first because %s): %s; KVM_SET_ONE_REG fails and the "
                        "destination QEMU fails the load",
                        c->t->hostname, n, n == 1 ? "" : "s", source_name(c), c->guest, first_why,
                        names->str),
        g_strdup_printf("migrate %s between hosts with the same CPU and firmware interface, or to "
                        "a host whose KVM lets userspace write these ID registers "
                        "(KVM_ARM_GET_REG_WRITABLE_MASKS); a cold start on %s takes its values",
                        c->guest, c->t->hostname));
}

static void rule_vcpu_registers_unknown(Check *c)
{
    if (!c->vcpu_kvm)
        return;
    if (!c->t_regs)
        add(c, ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN,
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
        add(c, ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN,
            g_strdup_printf("the vCPU register set %s's QEMU sends is unknown (%s): whether %s has "
                            "every register was not checked",
                            c->guest, c->s_regs_unknown, c->t->hostname),
            g_strdup_printf("check from the source host, or keep the hosts that %s ran on among "
                            "the configured peers so that its recorded digest can be found",
                            c->guest));
}

static char *errno_text(int err)
{
    if (err == 0)
        return g_strdup("succeeds");
    return g_strdup_printf("fails with %s", g_strerror(err));
}

static void rule_its_save_semantics_differ(Check *c)
{
    const ItsmigKvmItsSemantics *a, *b;
    g_autoptr(GString) what = g_string_new(NULL);

    if (!c->kernel || !c->s || c->s->its_semantics.source != ITSMIG_CAP_PROBED ||
        c->t->its_semantics.source != ITSMIG_CAP_PROBED)
        return;
    a = &c->s->its_semantics.facts;
    b = &c->t->its_semantics.facts;
    if ((a->save_unreachable_device_errno == 0) != (b->save_unreachable_device_errno == 0) ||
        (a->save_unreachable_device_errno != 0 && b->save_unreachable_device_errno != 0 &&
         a->save_unreachable_device_errno != b->save_unreachable_device_errno)) {
        g_autofree char *sa = errno_text(a->save_unreachable_device_errno);
        g_autofree char *sb = errno_text(b->save_unreachable_device_errno);

        g_string_append_printf(what,
                               "a save with an unreachable device %s on %s but %s on %s (success "
                               "drops the device's mappings)",
                               sa, c->s->hostname, sb, c->t->hostname);
    }
    if (a->baser_write_keeps_mappings != b->baser_write_keeps_mappings)
        g_string_append_printf(what, "%sa GITS_BASER write %s the mappings on %s but %s them on %s",
                               what->len ? "; " : "",
                               a->baser_write_keeps_mappings ? "keeps" : "drops", c->s->hostname,
                               b->baser_write_keeps_mappings ? "keeps" : "drops", c->t->hostname);
    if (!what->len)
        return;
    add(c, ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER,
        g_strdup_printf("the vITS of %s and %s save %s's tables differently: %s", c->s->hostname,
                        c->t->hostname, c->guest, what->str),
        g_strdup_printf("expect %s's ITS tables to be saved the way %s does from now on; check "
                        "them with itsmigctl its inspect after a save if the guest rewrites its "
                        "device tables",
                        c->guest, c->t->hostname));
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
static void find_regs(Check *c)
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
        c->s_regs_unknown = g_strdup_printf(
            "%s's record names the register set %s (%u registers) of %s, which no known host has",
            c->guest, m->host_regs_digest, m->host_regs_count, m->host ? m->host : "its host");
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

/* ---- rules, in enum order -------------------------------------------------- */

static void report_unknown(Check *c, const ItsmigHostCaps *caps, const char *role,
                           const ItsmigCapField *fields, gsize n_fields)
{
    g_autoptr(GString) names = g_string_new(NULL);
    g_autoptr(GString) keys = g_string_new(NULL);
    char *message;
    char *hint;

    for (gsize i = 0; i < n_fields; i++) {
        g_autofree char *key = NULL;

        if (known(caps, fields[i]))
            continue;
        key = g_strdelimit(g_strdup(itsmig_cap_field_to_string(fields[i])), "_", '-');
        list_append(names, itsmig_cap_field_to_string(fields[i]));
        list_append(keys, key);
    }
    if (!names->len)
        return;

    if (caps == c->s && c->s_from_metadata) {
        message = g_strdup_printf("%s (source, per %s's metadata) does not record %s, which the "
                                  "ITS checks need",
                                  caps->hostname, c->guest, names->str);
        hint = g_strdup_printf("declare %s in itsmigd.conf [host] on %s or fix its KVM probe; "
                               "itsmigd rewrites %s's record at its next start, reset or arrival",
                               keys->str, caps->hostname, c->guest);
    } else {
        message = g_strdup_printf("%s (%s) has %s unknown, which the ITS checks for %s need",
                                  caps->hostname, role, names->str, c->guest);
        if (caps->probe_unavailable_reason)
            hint = g_strdup_printf("declare %s in itsmigd.conf [host] on %s, or fix its KVM "
                                   "probe (%s)",
                                   keys->str, caps->hostname, caps->probe_unavailable_reason);
        else
            hint = g_strdup_printf("declare %s in itsmigd.conf [host] on %s, or fix its KVM "
                                   "probe (itsmigctl host probe shows what it finds)",
                                   keys->str, caps->hostname);
    }
    add(c, ITSMIG_RULE_HOST_CAPS_UNKNOWN, message, hint);
}

static void rule_host_caps_unknown(Check *c)
{
    static const ItsmigCapField t_fields[] = {ITSMIG_CAP_VGIC_ITS, ITSMIG_CAP_ITS_ABI_REVISIONS,
                                              ITSMIG_CAP_RESTORE_TABLES};
    static const ItsmigCapField s_fields[] = {ITSMIG_CAP_SAVE_TABLES};
    /* A destination known to lack a vITS is ruled out by gic-version-mismatch;
     * what else it cannot say does not matter then. */
    gsize n_t = known(c->t, ITSMIG_CAP_VGIC_ITS) && !c->t->vgic_its ? 1 : G_N_ELEMENTS(t_fields);

    if (!c->kernel)
        return;
    report_unknown(c, c->t, "destination", t_fields, n_t);
    if (c->s)
        report_unknown(c, c->s, "source", s_fields, G_N_ELEMENTS(s_fields));
}

static void rule_arch_mismatch(Check *c)
{
    const ItsmigDomainProfile *d = c->d;

    if (!itsmig_domain_profile_its_in_kernel(d) || !d->arch || !known(c->t, ITSMIG_CAP_ARCH) ||
        !c->t->arch || strcmp(d->arch, c->t->arch) == 0)
        return;
    add(c, ITSMIG_RULE_ARCH_MISMATCH,
        g_strdup_printf("%s is a KVM guest of architecture %s but %s is %s: KVM runs only guests "
                        "of the host's architecture",
                        c->guest, d->arch, c->t->hostname, c->t->arch),
        g_strdup_printf("migrate %s to a host of architecture %s", c->guest, d->arch));
}

static void rule_gic_version_mismatch(Check *c)
{
    const ItsmigHostCaps *t = c->t;

    if (!c->kernel || !known(t, ITSMIG_CAP_VGIC_ITS) || t->vgic_its)
        return;
    add(c, ITSMIG_RULE_GIC_VERSION_MISMATCH,
        g_strdup_printf("%s cannot give %s a GICv3 with an ITS (vgic_its is false%s%s)",
                        t->hostname, c->guest, t->probe_unavailable_reason ? ": " : "",
                        t->probe_unavailable_reason ? t->probe_unavailable_reason : ""),
        g_strdup_printf("migrate %s to an arm64 host with a GICv3 whose KVM gives guests an ITS, "
                        "or correct vgic-its in %s's itsmigd.conf [host] if it is declared wrongly",
                        c->guest, t->hostname));
}

/* "from its metadata", "hostA's default, assumed for want of metadata". */
static char *rev_origin_text(const Check *c)
{
    if (strcmp(c->rev_origin, "metadata") == 0)
        return g_strdup("from its metadata");
    return g_strdup_printf("%s's default, assumed for want of metadata", c->s->hostname);
}

static void rule_its_abi_unsupported(Check *c)
{
    const ItsmigHostCaps *t = c->t;
    g_autofree char *origin = NULL;
    g_autofree char *supported = NULL;

    if (!c->kernel || c->rev < 0 || !known(t, ITSMIG_CAP_ITS_ABI_REVISIONS) ||
        itsmig_host_caps_has_revision(t, (guint)c->rev))
        return;
    origin = rev_origin_text(c);
    supported = revisions_text(t->its_abi_revisions);
    add(c, ITSMIG_RULE_ITS_ABI_UNSUPPORTED,
        g_strdup_printf("%s's ITS table ABI revision %d (%s) is not supported by %s (supports %s): "
                        "the destination QEMU would abort restoring the ITS",
                        c->guest, c->rev, origin, t->hostname, supported),
        g_strdup_printf("restart %s on a host whose default revision %s supports (a cold start "
                        "takes the host's default), or upgrade %s's kernel to one that supports "
                        "revision %d",
                        c->guest, t->hostname, t->hostname, c->rev));
}

static void rule_its_restore_unsupported(Check *c)
{
    const ItsmigHostCaps *t = c->t;

    if (!c->kernel || !known(t, ITSMIG_CAP_RESTORE_TABLES) || t->restore_tables)
        return;
    add(c, ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED,
        g_strdup_printf("%s's kernel cannot restore ITS tables (no "
                        "KVM_DEV_ARM_ITS_RESTORE_TABLES): it cannot take over %s's ITS state",
                        t->hostname, c->guest),
        g_strdup_printf("migrate %s to a host whose kernel can restore ITS tables, or upgrade "
                        "%s's kernel",
                        c->guest, t->hostname));
}

static void rule_its_save_unsupported(Check *c)
{
    const ItsmigHostCaps *s = c->s;

    if (!c->kernel || !known(s, ITSMIG_CAP_SAVE_TABLES) || s->save_tables)
        return;
    add(c, ITSMIG_RULE_ITS_SAVE_UNSUPPORTED,
        g_strdup_printf("%s's kernel cannot save ITS tables (no KVM_DEV_ARM_ITS_SAVE_TABLES): "
                        "%s's ITS state cannot leave it",
                        s->hostname, c->guest),
        g_strdup_printf("upgrade %s's kernel and restart %s there; until then move it by shutting "
                        "it down and starting it on the other host",
                        s->hostname, c->guest));
}

static void rule_gicv4_direct_injection(Check *c)
{
    g_autofree char *devices = NULL;

    if (!c->gicv4_0_vfio || c->policy->quiesce)
        return;
    devices = hostdev_list(c->d, hostdev_pred_vfio, c);
    add(c, ITSMIG_RULE_GICV4_DIRECT_INJECTION,
        g_strdup_printf("%s's GICv4.0 injects the MSIs of %s's VFIO devices %s directly, and KVM "
                        "cannot save vLPI state on GICv4.0: SAVE_TABLES fails with EACCES, QEMU "
                        "only logs it and the guest loses their interrupts",
                        c->s->hostname, c->guest, devices),
        g_strdup_printf("let itsmigd migrate %s (it detaches these devices before the source "
                        "pauses and re-attaches them after), or detach them before migrating",
                        c->guest));
}

static void rule_hostdev_not_migratable(Check *c)
{
    g_autoptr(GString) devices = g_string_new(NULL);

    if (c->policy->quiesce)
        return;
    for (guint i = 0; i < n_hostdevs(c->d); i++) {
        const ItsmigHostdev *h = hostdev_at(c->d, i);
        g_autofree char *entry = NULL;

        if (h->migratable == 1)
            continue;
        entry = g_strdup_printf("%s (%s)", hostdev_label(h),
                                h->host_driver ? h->host_driver : "driver unknown");
        list_append(devices, entry);
    }
    if (!devices->len)
        return;
    add(c, ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE,
        g_strdup_printf("%s has host devices that cannot migrate their state: %s", c->guest,
                        devices->str),
        g_strdup_printf("let itsmigd migrate %s (it detaches them before the source pauses and "
                        "re-attaches them after), detach them before migrating, or bind them to "
                        "a VFIO driver with migration support",
                        c->guest));
}

static void rule_early_boot_no_its_reset(Check *c)
{
    const ItsmigItsMetadata *m = &c->d->metadata;
    gint64 since;
    gint64 age;
    gboolean reset;

    if (!c->kernel || !known(c->s, ITSMIG_CAP_CTRL_RESET) || c->s->ctrl_reset ||
        !c->d->has_metadata)
        return;
    reset = m->reset_at > m->started_at;
    since = reset ? m->reset_at : m->started_at;
    /* Without a time the rule cannot judge; itsmig-compat(7) says so. */
    if (since <= 0)
        return;
    age = MAX(c->in->now - since, 0);
    if (age >= (gint64)c->policy->early_boot_window)
        return;
    add(c, ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET,
        g_strdup_printf("%s's kernel cannot reset the ITS (no KVM_DEV_ARM_ITS_CTRL_RESET) and %s "
                        "%s %" G_GINT64_FORMAT " seconds ago, within the early-boot window of %u "
                        "seconds: saving ITS tables the guest has not set up again can fail and "
                        "lose its interrupts",
                        c->s->hostname, c->guest, reset ? "was reset" : "started", age,
                        c->policy->early_boot_window),
        g_strdup_printf("wait %" G_GINT64_FORMAT " more seconds, until %s has booted, or upgrade "
                        "%s's kernel to one with KVM_DEV_ARM_ITS_CTRL_RESET",
                        (gint64)c->policy->early_boot_window - age, c->guest, c->s->hostname));
}

static void rule_no_pending_table_save(Check *c)
{
    const ItsmigHostCaps *s = c->s;

    if (!c->kernel || !known(s, ITSMIG_CAP_SAVE_PENDING_TABLES) || s->save_pending_tables)
        return;
    add(c, ITSMIG_RULE_NO_PENDING_TABLE_SAVE,
        g_strdup_printf("%s's kernel cannot save LPI pending tables (no "
                        "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES): LPIs pending for %s at the "
                        "switch-over are lost",
                        s->hostname, c->guest),
        g_strdup_printf("upgrade %s's kernel; until then migrate %s while its devices are quiet",
                        s->hostname, c->guest));
}

static void rule_gicd_revision_change(Check *c)
{
    const ItsmigDomainProfile *d = c->d;
    const ItsmigHostCaps *t = c->t;
    g_autofree char *origin = NULL;
    int seen;

    /* A TCG guest's GIC is QEMU's, whatever the kernel's revision. */
    if (!itsmig_domain_profile_its_in_kernel(d) || !known(t, ITSMIG_CAP_GICD_REVISION))
        return;
    if (d->has_metadata && d->metadata.gicd_revision >= 0) {
        seen = d->metadata.gicd_revision;
        origin = g_strdup("from its metadata");
    } else if (known(c->s, ITSMIG_CAP_GICD_REVISION)) {
        seen = (int)c->s->gicd_revision;
        origin = g_strdup_printf("%s's revision, for want of metadata", c->s->hostname);
    } else {
        return;
    }
    if ((guint)seen == t->gicd_revision)
        return;
    add(c, ITSMIG_RULE_GICD_REVISION_CHANGE,
        g_strdup_printf("%s saw GICD_IIDR revision %d at start (%s) but %s's KVM gives revision "
                        "%u; QEMU does not migrate GICD_IIDR, so guest-visible GIC behaviour "
                        "(such as GICR_CTLR.IR/CES) changes",
                        c->guest, seen, origin, t->hostname, t->gicd_revision),
        g_strdup_printf("restart %s after the move at a convenient time so that it boots with "
                        "revision %u, or migrate it to a host whose KVM gives revision %d",
                        c->guest, t->gicd_revision, seen));
}

/* Adds @caps to @hosts unless a host of its name is there already. */
static void hosts_add(GPtrArray *hosts, const ItsmigHostCaps *caps)
{
    for (guint i = 0; i < hosts->len; i++) {
        const ItsmigHostCaps *h = g_ptr_array_index(hosts, i);

        if (g_strcmp0(h->hostname, caps->hostname) == 0)
            return;
    }
    g_ptr_array_add(hosts, (gpointer)caps);
}

/* How many of @hosts support @rev; their names in @names. */
static guint hosts_supporting(const GPtrArray *hosts, guint rev, GString *names)
{
    guint k = 0;

    for (guint i = 0; i < hosts->len; i++) {
        const ItsmigHostCaps *h = g_ptr_array_index(hosts, i);

        if (itsmig_host_caps_has_revision(h, rev)) {
            k++;
            list_append(names, h->hostname);
        }
    }
    if (!names->len)
        g_string_append(names, "none");
    return k;
}

/* Registers the guest's QEMU on the destination would send back but the
 * source's KVM lacks: the guest could go, not come back. */
static void one_way_registers(Check *c)
{
    g_autoptr(GString) names = g_string_new(NULL);
    guint sent;
    guint n;

    if (!c->vcpu_kvm || !c->s_regs || !c->t_regs || c->lacking.n != 0)
        return;
    n = regs_lacking(c, c->t_regs, c->s_regs, &sent, NULL, NULL, names);
    if (n == 0)
        return;
    add(c, ITSMIG_RULE_ONE_WAY_MOVE,
        g_strdup_printf("once on %s, %s could not come back to %s: its QEMU there would send %u "
                        "vCPU registers, %u of which %s's KVM lacks: %s",
                        c->t->hostname, c->guest, source_name(c), sent, n, source_name(c),
                        names->str),
        g_strdup_printf("plan %s's way back before the move (a host whose KVM has %s's registers), "
                        "or accept that only a cold start brings it back to %s",
                        c->guest, c->t->hostname, source_name(c)));
}

static void rule_one_way_move(Check *c)
{
    const ItsmigHostCaps *t = c->t;
    g_autoptr(GPtrArray) others = g_ptr_array_new();
    g_autoptr(GPtrArray) back = NULL;
    g_autoptr(GString) names = g_string_new(NULL);
    guint k;
    guint d;

    one_way_registers(c);
    if (!c->kernel || c->rev < 0)
        return;
    for (gsize i = 0; i < c->in->n_known; i++) {
        const ItsmigHostCaps *h = c->in->known ? c->in->known[i] : NULL;

        if (h && g_strcmp0(h->hostname, t->hostname) != 0)
            hosts_add(others, h);
    }

    if (others->len) {
        k = hosts_supporting(others, (guint)c->rev, names);
        if (2 * k < others->len) {
            add(c, ITSMIG_RULE_ONE_WAY_MOVE,
                g_strdup_printf("%s keeps ITS table ABI revision %d on %s, which only %u of %u "
                                "other known hosts support (%s): few could take it from there",
                                c->guest, c->rev, t->hostname, k, others->len, names->str),
                g_strdup_printf("upgrade the other hosts' kernels to support revision %d, or "
                                "cold-start %s on a host whose default revision the others "
                                "support",
                                c->rev, c->guest));
            return;
        }
    }

    if (!known(t, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION))
        return;
    d = t->default_its_abi_revision;
    if (d == (guint)c->rev)
        return;
    back = g_ptr_array_copy(others, NULL, NULL);
    if (c->s && g_strcmp0(c->s->hostname, t->hostname) != 0)
        hosts_add(back, c->s);
    if (!back->len)
        return;
    g_string_truncate(names, 0);
    k = hosts_supporting(back, d, names);
    if (2 * k >= back->len)
        return;
    add(c, ITSMIG_RULE_ONE_WAY_MOVE,
        g_strdup_printf("after a cold start on %s, %s would get ITS table ABI revision %u, which "
                        "only %u of %u known hosts support (%s): it could not come back",
                        t->hostname, c->guest, d, k, back->len, names->str),
        g_strdup_printf("restart %s on a host whose default is revision %d rather than on %s, or "
                        "upgrade the other hosts' kernels to support revision %u",
                        c->guest, c->rev, t->hostname, d));
}

static void rule_profile_fallback(Check *c)
{
    const ItsmigDomainProfile *d = c->d;
    g_autofree char *assumed = NULL;
    char *message;

    if (!c->kernel || strcmp(c->rev_origin, "metadata") == 0)
        return;
    if (c->rev >= 0)
        assumed = g_strdup_printf("assuming %s's default revision %d", c->s->hostname, c->rev);
    else
        assumed = g_strdup("its ITS table ABI revision is unknown");

    if (d->has_metadata)
        message = g_strdup_printf("%s's itsmig record does not give its ITS table ABI revision; %s",
                                  c->guest, assumed);
    else if (d->metadata_error)
        message = g_strdup_printf("%s's itsmig record in its metadata is unreadable (%s); %s",
                                  c->guest, d->metadata_error, assumed);
    else
        message = g_strdup_printf("no itsmig record in %s's metadata; %s", c->guest, assumed);
    add(c, ITSMIG_RULE_PROFILE_FALLBACK, message,
        g_strdup_printf("run itsmigd where %s runs so that it records the revision in the "
                        "domain's metadata; a guest started before itsmigd ran may run another "
                        "revision than assumed",
                        c->guest));
}

static void rule_source_unknown(Check *c)
{
    if (c->s)
        return;
    add(c, ITSMIG_RULE_SOURCE_UNKNOWN,
        g_strdup_printf("the source host is not known and %s's metadata has no host record: the "
                        "checks of the source (its-save-unsupported, gicv4-direct-injection, "
                        "early-boot-no-its-reset, no-pending-table-save, page-size-mismatch) were "
                        "skipped",
                        c->guest),
        g_strdup_printf("check from the source host, whose itsmigd knows its capabilities, or let "
                        "itsmigd record them in %s's metadata (it does at start, reset and "
                        "arrival)",
                        c->guest));
}

static void report_conflicts(Check *c, const ItsmigHostCaps *caps)
{
    for (unsigned int f = 0; f < ITSMIG_CAP_LAST; f++) {
        const char *probed = caps->meta[f].conflict_probed;
        const char *name = itsmig_cap_field_to_string((ItsmigCapField)f);
        g_autofree char *declared = NULL;
        g_autofree char *key = NULL;

        if (!probed)
            continue;
        declared = cap_value_json(caps, (ItsmigCapField)f);
        key = g_strdelimit(g_strdup(name), "_", '-');
        add(c, ITSMIG_RULE_HOST_CAPS_CONFLICT,
            g_strdup_printf("%s declares %s %s in itsmigd.conf but its probe found %s; the "
                            "declared value is used",
                            caps->hostname, name, declared, probed),
            g_strdup_printf("if the probe is right, remove %s from itsmigd.conf [host] on %s; "
                            "keep it only if the probe is wrong there",
                            key, caps->hostname));
    }
}

static void rule_host_caps_conflict(Check *c)
{
    /* A record from the metadata holds no conflicts: only real capabilities. */
    if (c->in->source)
        report_conflicts(c, c->in->source);
    report_conflicts(c, c->t);
}

static void rule_hostdev_quiesced(Check *c)
{
    g_autofree char *devices = NULL;

    if (!c->policy->quiesce)
        return;
    devices = hostdev_list(c->d, hostdev_pred_blocking, c);
    if (!*devices)
        return;
    add(c, ITSMIG_RULE_HOSTDEV_QUIESCED,
        g_strdup_printf("%s's host devices %s will be detached before the source pauses and "
                        "re-attached after",
                        c->guest, devices),
        g_strdup("the guest sees them unplugged during the move: make sure its drivers and "
                 "workloads cope with hot-unplug"));
}

static void rule_page_size_mismatch(Check *c)
{
    const ItsmigHostCaps *s = c->s;
    const ItsmigHostCaps *t = c->t;

    if (!known(s, ITSMIG_CAP_PAGE_SIZE) || !known(t, ITSMIG_CAP_PAGE_SIZE) ||
        s->page_size == t->page_size)
        return;
    add(c, ITSMIG_RULE_PAGE_SIZE_MISMATCH,
        g_strdup_printf("%s's page size is %u bytes but %s's is %u bytes: some distributions "
                        "support migrating arm64 guests such as %s only between hosts of the "
                        "same page size",
                        s->hostname, s->page_size, t->hostname, t->page_size, c->guest),
        g_strdup_printf("prefer a destination with %u-byte pages, or test this pair of hosts "
                        "before relying on it",
                        s->page_size));
}

/* ---- putting it together --------------------------------------------------- */

static gboolean metadata_has_host(const ItsmigDomainProfile *d)
{
    const ItsmigItsMetadata *m = &d->metadata;

    if (!d->has_metadata)
        return FALSE;
    return m->host || m->host_arch || m->host_page_size > 0 ||
           m->host_gicv4 != ITSMIG_GICV4_UNKNOWN || m->host_save_tables >= 0 ||
           m->host_save_pending_tables >= 0 || m->host_ctrl_reset >= 0 ||
           m->host_its_abi_revisions != 0 || m->host_regs_digest;
}

/* The source's facts as the host that wrote the domain's record knew them. */
static ItsmigHostCaps *source_from_metadata(const ItsmigItsMetadata *m)
{
    ItsmigHostCaps *s = itsmig_host_caps_new(m->host ? m->host : "the source host");

    if (m->host_arch) {
        s->arch = g_strdup(m->host_arch);
        s->meta[ITSMIG_CAP_ARCH].source = ITSMIG_CAP_DECLARED;
    }
    if (m->host_page_size > 0) {
        s->page_size = m->host_page_size;
        s->meta[ITSMIG_CAP_PAGE_SIZE].source = ITSMIG_CAP_DECLARED;
    }
    if (m->host_gicv4 != ITSMIG_GICV4_UNKNOWN && m->host_gicv4 < ITSMIG_GICV4_LAST) {
        s->gicv4 = m->host_gicv4;
        s->meta[ITSMIG_CAP_GICV4].source = ITSMIG_CAP_DECLARED;
    }
    if (m->host_save_tables >= 0) {
        s->save_tables = m->host_save_tables != 0;
        s->meta[ITSMIG_CAP_SAVE_TABLES].source = ITSMIG_CAP_DECLARED;
    }
    if (m->host_save_pending_tables >= 0) {
        s->save_pending_tables = m->host_save_pending_tables != 0;
        s->meta[ITSMIG_CAP_SAVE_PENDING_TABLES].source = ITSMIG_CAP_DECLARED;
    }
    if (m->host_ctrl_reset >= 0) {
        s->ctrl_reset = m->host_ctrl_reset != 0;
        s->meta[ITSMIG_CAP_CTRL_RESET].source = ITSMIG_CAP_DECLARED;
    }
    if (m->host_its_abi_revisions != 0) {
        s->its_abi_revisions = m->host_its_abi_revisions;
        s->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source = ITSMIG_CAP_DECLARED;
    }
    return s;
}

ItsmigVerdict *itsmig_compat_check(const ItsmigCompatInput *input, const ItsmigCompatPolicy *policy)
{
    static void (*const checks[ITSMIG_RULE_LAST])(Check * c) = {
        [ITSMIG_RULE_HOST_CAPS_UNKNOWN] = rule_host_caps_unknown,
        [ITSMIG_RULE_ARCH_MISMATCH] = rule_arch_mismatch,
        [ITSMIG_RULE_GIC_VERSION_MISMATCH] = rule_gic_version_mismatch,
        [ITSMIG_RULE_ITS_ABI_UNSUPPORTED] = rule_its_abi_unsupported,
        [ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED] = rule_its_restore_unsupported,
        [ITSMIG_RULE_ITS_SAVE_UNSUPPORTED] = rule_its_save_unsupported,
        [ITSMIG_RULE_GICV4_DIRECT_INJECTION] = rule_gicv4_direct_injection,
        [ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE] = rule_hostdev_not_migratable,
        [ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET] = rule_early_boot_no_its_reset,
        [ITSMIG_RULE_VCPU_REGISTERS_MISSING] = rule_vcpu_registers_missing,
        [ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED] = rule_vcpu_register_value_unsupported,
        [ITSMIG_RULE_NO_PENDING_TABLE_SAVE] = rule_no_pending_table_save,
        [ITSMIG_RULE_GICD_REVISION_CHANGE] = rule_gicd_revision_change,
        [ITSMIG_RULE_ONE_WAY_MOVE] = rule_one_way_move,
        [ITSMIG_RULE_PROFILE_FALLBACK] = rule_profile_fallback,
        [ITSMIG_RULE_SOURCE_UNKNOWN] = rule_source_unknown,
        [ITSMIG_RULE_HOST_CAPS_CONFLICT] = rule_host_caps_conflict,
        [ITSMIG_RULE_HOSTDEV_QUIESCED] = rule_hostdev_quiesced,
        [ITSMIG_RULE_PAGE_SIZE_MISMATCH] = rule_page_size_mismatch,
        [ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN] = rule_vcpu_registers_unknown,
        [ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER] = rule_its_save_semantics_differ,
    };
    g_autoptr(ItsmigHostCaps) from_metadata = NULL;
    ItsmigCompatPolicy defaults;
    const ItsmigDomainProfile *d;
    gboolean its;
    gboolean direct;
    Check c = {0};

    g_return_val_if_fail(input != NULL, NULL);
    g_return_val_if_fail(input->domain != NULL, NULL);
    g_return_val_if_fail(input->destination != NULL, NULL);

    if (!policy) {
        itsmig_compat_policy_init(&defaults);
        policy = &defaults;
    }
    d = input->domain;

    c.in = input;
    c.policy = policy;
    c.d = d;
    c.guest = d->name ? d->name : "the guest";
    c.t = input->destination;
    c.s = input->source;
    if (!c.s && metadata_has_host(d)) {
        from_metadata = source_from_metadata(&d->metadata);
        c.s = from_metadata;
        c.s_from_metadata = TRUE;
    }

    /* An ITS of unknown presence counts as present: the safe side. */
    its = d->its == ITSMIG_ITS_PRESENT || d->its == ITSMIG_ITS_UNKNOWN;
    c.kernel = its && (itsmig_domain_profile_its_in_kernel(d) || policy->check_emulated);

    if (d->its == ITSMIG_ITS_ABSENT) {
        /* No ITS, no table ABI: nothing to report rather than a guess. */
        c.rev = -1;
        c.rev_origin = "none";
    } else if (d->has_metadata && d->metadata.its_abi_revision >= 0) {
        c.rev = d->metadata.its_abi_revision;
        c.rev_origin = "metadata";
    } else if (known(c.s, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION)) {
        c.rev = (int)c.s->default_its_abi_revision;
        c.rev_origin = "host-default";
    } else {
        c.rev = -1;
        c.rev_origin = "unknown";
    }

    /* Direct injection needs KVM's ITS: QEMU's emulated one never maps vLPIs. */
    direct = its && itsmig_domain_profile_its_in_kernel(d) && known(c.s, ITSMIG_CAP_GICV4) &&
             (c.s->gicv4 == ITSMIG_GICV4_0 || c.s->gicv4 == ITSMIG_GICV4_1) &&
             itsmig_domain_profile_has_vfio(d);
    c.gicv4_0_vfio = direct && c.s->gicv4 == ITSMIG_GICV4_0;

    c.v = g_new0(ItsmigVerdict, 1);
    c.v->its_abi_revision = c.rev;
    c.v->its_abi_revision_origin = c.rev_origin;
    c.v->direct_injection = direct;
    c.v->blockers = g_ptr_array_new_with_free_func(verdict_item_free);
    c.v->warnings = g_ptr_array_new_with_free_func(verdict_item_free);

    find_regs(&c);
    c.lacking.names = g_string_new(NULL);
    if (c.vcpu_kvm && c.s_regs && c.t_regs)
        c.lacking.n = regs_lacking(&c, c.s_regs, c.t_regs, &c.lacking.sent, &c.lacking.have,
                                   &c.lacking.features, c.lacking.names);
    for (unsigned int i = 0; i < ITSMIG_RULE_LAST; i++)
        checks[i](&c);
    g_free(c.s_regs_unknown);
    g_string_free(c.lacking.names, TRUE);

    c.v->allowed = c.v->blockers->len == 0;
    return c.v;
}
