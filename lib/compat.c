/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "compat-private.h"
#include "itsmig/compat.h"
#include "itsmig/error.h"
#include "itsmig/json-member.h"
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
    [ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED] = {"machine-type-unsupported", ITSMIG_VERDICT_BLOCKER,
                                              TRUE},
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
        itsmig_json_add_string_or_null(b, "code", itsmig_rule_to_string(item->rule));
        itsmig_json_add_string_or_null(b, "message", item->message);
        itsmig_json_add_string_or_null(b, "hint", item->hint);
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

gboolean compat_known(const ItsmigHostCaps *caps, ItsmigCapField field)
{
    return caps && caps->meta[field].source != ITSMIG_CAP_UNKNOWN;
}

/* Takes @message and @hint; drops them when policy turns the rule off. */
void compat_add(CompatCheck *c, ItsmigRule rule, char *message, char *hint)
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

const char *compat_hostdev_label(const ItsmigHostdev *h)
{
    if (h->address)
        return h->address;
    if (h->alias)
        return h->alias;
    return "(no host address)";
}

guint compat_n_hostdevs(const ItsmigDomainProfile *d)
{
    return d->hostdevs ? d->hostdevs->len : 0;
}

const ItsmigHostdev *compat_hostdev_at(const ItsmigDomainProfile *d, guint i)
{
    return g_ptr_array_index(d->hostdevs, i);
}

void compat_list_append(GString *list, const char *text)
{
    if (list->len)
        g_string_append(list, ", ");
    g_string_append(list, text);
}

/* "0, 1", or "none". */
char *compat_revisions_text(guint16 mask)
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
char *compat_cap_value_json(const ItsmigHostCaps *caps, ItsmigCapField field)
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
char *compat_hostdev_list(const ItsmigDomainProfile *d,
                          gboolean (*pred)(const CompatCheck *c, const ItsmigHostdev *h),
                          const CompatCheck *c)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < compat_n_hostdevs(d); i++) {
        const ItsmigHostdev *h = compat_hostdev_at(d, i);

        if (pred(c, h))
            compat_list_append(s, compat_hostdev_label(h));
    }
    return g_string_free(s, FALSE);
}

gboolean compat_hostdev_pred_vfio(const CompatCheck *c, const ItsmigHostdev *h)
{
    return is_vfio(h);
}

/* The devices that would block but for quiescing. */
gboolean compat_hostdev_pred_blocking(const CompatCheck *c, const ItsmigHostdev *h)
{
    return h->migratable != 1 || (c->gicv4_0_vfio && is_vfio(h));
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

/* Every rule, in the order of ItsmigRule. */
static void (*const checks[ITSMIG_RULE_LAST])(CompatCheck *c) = {
    [ITSMIG_RULE_HOST_CAPS_UNKNOWN] = compat_rule_host_caps_unknown,
    [ITSMIG_RULE_ARCH_MISMATCH] = compat_rule_arch_mismatch,
    [ITSMIG_RULE_GIC_VERSION_MISMATCH] = compat_rule_gic_version_mismatch,
    [ITSMIG_RULE_ITS_ABI_UNSUPPORTED] = compat_rule_its_abi_unsupported,
    [ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED] = compat_rule_its_restore_unsupported,
    [ITSMIG_RULE_ITS_SAVE_UNSUPPORTED] = compat_rule_its_save_unsupported,
    [ITSMIG_RULE_GICV4_DIRECT_INJECTION] = compat_rule_gicv4_direct_injection,
    [ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE] = compat_rule_hostdev_not_migratable,
    [ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET] = compat_rule_early_boot_no_its_reset,
    [ITSMIG_RULE_VCPU_REGISTERS_MISSING] = compat_rule_vcpu_registers_missing,
    [ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED] = compat_rule_vcpu_register_value_unsupported,
    [ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED] = compat_rule_machine_type_unsupported,
    [ITSMIG_RULE_NO_PENDING_TABLE_SAVE] = compat_rule_no_pending_table_save,
    [ITSMIG_RULE_GICD_REVISION_CHANGE] = compat_rule_gicd_revision_change,
    [ITSMIG_RULE_ONE_WAY_MOVE] = compat_rule_one_way_move,
    [ITSMIG_RULE_PROFILE_FALLBACK] = compat_rule_profile_fallback,
    [ITSMIG_RULE_SOURCE_UNKNOWN] = compat_rule_source_unknown,
    [ITSMIG_RULE_HOST_CAPS_CONFLICT] = compat_rule_host_caps_conflict,
    [ITSMIG_RULE_HOSTDEV_QUIESCED] = compat_rule_hostdev_quiesced,
    [ITSMIG_RULE_PAGE_SIZE_MISMATCH] = compat_rule_page_size_mismatch,
    [ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN] = compat_rule_vcpu_registers_unknown,
    [ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER] = compat_rule_its_save_semantics_differ,
};

/* The guest's ITS table ABI revision, and where it was learnt. */
static void find_revision(CompatCheck *c)
{
    if (c->d->its == ITSMIG_ITS_ABSENT) {
        /* No ITS, no table ABI: nothing to report rather than a guess. */
        c->rev = -1;
        c->rev_origin = "none";
    } else if (c->d->has_metadata && c->d->metadata.its_abi_revision >= 0) {
        c->rev = c->d->metadata.its_abi_revision;
        c->rev_origin = "metadata";
    } else if (compat_known(c->s, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION)) {
        c->rev = (int)c->s->default_its_abi_revision;
        c->rev_origin = "host-default";
    } else {
        c->rev = -1;
        c->rev_origin = "unknown";
    }
}

ItsmigVerdict *itsmig_compat_check(const ItsmigCompatInput *input, const ItsmigCompatPolicy *policy)
{
    g_autoptr(ItsmigHostCaps) from_metadata = NULL;
    ItsmigCompatPolicy defaults;
    const ItsmigDomainProfile *d;
    gboolean its;
    gboolean direct;
    CompatCheck c = {0};

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

    find_revision(&c);

    /* Direct injection needs KVM's ITS: QEMU's emulated one never maps vLPIs. */
    direct = its && itsmig_domain_profile_its_in_kernel(d) && compat_known(c.s, ITSMIG_CAP_GICV4) &&
             (c.s->gicv4 == ITSMIG_GICV4_0 || c.s->gicv4 == ITSMIG_GICV4_1) &&
             itsmig_domain_profile_has_vfio(d);
    c.gicv4_0_vfio = direct && c.s->gicv4 == ITSMIG_GICV4_0;

    c.v = g_new0(ItsmigVerdict, 1);
    c.v->its_abi_revision = c.rev;
    c.v->its_abi_revision_origin = c.rev_origin;
    c.v->direct_injection = direct;
    c.v->blockers = g_ptr_array_new_with_free_func(verdict_item_free);
    c.v->warnings = g_ptr_array_new_with_free_func(verdict_item_free);

    compat_find_regs(&c);
    c.lacking.names = g_string_new(NULL);
    if (c.vcpu_kvm && c.s_regs && c.t_regs)
        c.lacking.n = compat_regs_lacking(&c, c.s_regs, c.t_regs, &c.lacking.sent, &c.lacking.have,
                                          &c.lacking.features, c.lacking.names);
    for (unsigned int i = 0; i < ITSMIG_RULE_LAST; i++)
        checks[i](&c);
    g_free(c.s_regs_unknown);
    g_string_free(c.lacking.names, TRUE);

    c.v->allowed = c.v->blockers->len == 0;
    return c.v;
}
