/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-caps-private.h"
#include "itsmig/error.h"
#include "itsmig/host-caps.h"
#include "itsmig/its-abi.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-regs-json.h"

/* ---- fields -------------------------------------------------------------- */

const HostCapsFieldInfo host_caps_fields[ITSMIG_CAP_LAST] = {
    [ITSMIG_CAP_ARCH] = {"arch", "arch", KIND_STRING},
    [ITSMIG_CAP_PAGE_SIZE] = {"page_size", "page-size", KIND_PAGE_SIZE},
    [ITSMIG_CAP_KERNEL_RELEASE] = {"kernel_release", "kernel-release", KIND_STRING},
    [ITSMIG_CAP_QEMU_VERSION] = {"qemu_version", "qemu-version", KIND_VERSION},
    [ITSMIG_CAP_LIBVIRT_VERSION] = {"libvirt_version", "libvirt-version", KIND_VERSION},
    [ITSMIG_CAP_VGIC_ITS] = {"vgic_its", "vgic-its", KIND_BOOLEAN},
    [ITSMIG_CAP_ITS_ABI_REVISIONS] = {"its_abi_revisions", "its-abi-revisions", KIND_REVISIONS},
    [ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION] = {"default_its_abi_revision", "default-its-abi-revision",
                                             KIND_REVISION},
    [ITSMIG_CAP_GICD_REVISION] = {"gicd_revision", "gicd-revision", KIND_REVISION},
    [ITSMIG_CAP_GICV4] = {"gicv4", "gicv4", KIND_GICV4},
    [ITSMIG_CAP_SAVE_TABLES] = {"save_tables", "save-tables", KIND_BOOLEAN},
    [ITSMIG_CAP_RESTORE_TABLES] = {"restore_tables", "restore-tables", KIND_BOOLEAN},
    [ITSMIG_CAP_CTRL_RESET] = {"ctrl_reset", "ctrl-reset", KIND_BOOLEAN},
    [ITSMIG_CAP_SAVE_PENDING_TABLES] = {"save_pending_tables", "save-pending-tables", KIND_BOOLEAN},
};

const char *itsmig_cap_field_to_string(ItsmigCapField field)
{
    if ((guint)field >= ITSMIG_CAP_LAST)
        return NULL;
    return host_caps_fields[field].name;
}

gboolean itsmig_cap_field_from_string(const char *name, ItsmigCapField *ret_field)
{
    g_return_val_if_fail(ret_field != NULL, FALSE);

    if (!name)
        return FALSE;
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (strcmp(name, host_caps_fields[f].name) == 0 ||
            strcmp(name, host_caps_fields[f].key) == 0) {
            *ret_field = f;
            return TRUE;
        }
    }
    return FALSE;
}

/* The JSON name only, as the document spells it. */
gboolean host_caps_field_from_json_name(const char *name, ItsmigCapField *ret_field)
{
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (strcmp(name, host_caps_fields[f].name) == 0) {
            *ret_field = f;
            return TRUE;
        }
    }
    return FALSE;
}

const char *itsmig_cap_source_to_string(ItsmigCapSource source)
{
    switch (source) {
    case ITSMIG_CAP_PROBED: return "probed";
    case ITSMIG_CAP_DECLARED: return "declared";
    case ITSMIG_CAP_UNKNOWN:
    case ITSMIG_CAP_SOURCE_LAST: break;
    }
    return "unknown";
}

gboolean host_caps_source_from_string(const char *s, ItsmigCapSource *ret_source)
{
    for (guint i = 0; i < ITSMIG_CAP_SOURCE_LAST; i++) {
        if (strcmp(s, itsmig_cap_source_to_string(i)) == 0) {
            *ret_source = i;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean host_caps_gicv4_from_string(const char *s, ItsmigGicv4Level *ret_level)
{
    static const ItsmigGicv4Level levels[] = {ITSMIG_GICV4_NONE, ITSMIG_GICV4_0, ITSMIG_GICV4_1};

    for (guint i = 0; i < G_N_ELEMENTS(levels); i++) {
        if (strcmp(s, itsmig_gicv4_level_to_string(levels[i])) == 0) {
            *ret_level = levels[i];
            return TRUE;
        }
    }
    return FALSE;
}

/* uname -m of the hosts where KVM can give guests a GICv3 ITS. */
static gboolean arch_is_arm64(const char *arch)
{
    return strcmp(arch, "aarch64") == 0 || strcmp(arch, "aarch64_be") == 0;
}

/* ---- values -------------------------------------------------------------- */

void host_caps_value_clear(CapValue *v)
{
    g_clear_pointer(&v->str, g_free);
}

static char **string_slot(ItsmigHostCaps *caps, ItsmigCapField f)
{
    switch (f) {
    case ITSMIG_CAP_ARCH: return &caps->arch;
    case ITSMIG_CAP_KERNEL_RELEASE: return &caps->kernel_release;
    case ITSMIG_CAP_QEMU_VERSION: return &caps->qemu_version;
    case ITSMIG_CAP_LIBVIRT_VERSION: return &caps->libvirt_version;
    default: g_assert_not_reached();
    }
}

static guint *num_slot(ItsmigHostCaps *caps, ItsmigCapField f)
{
    switch (f) {
    case ITSMIG_CAP_PAGE_SIZE: return &caps->page_size;
    case ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION: return &caps->default_its_abi_revision;
    case ITSMIG_CAP_GICD_REVISION: return &caps->gicd_revision;
    default: g_assert_not_reached();
    }
}

static gboolean *flag_slot(ItsmigHostCaps *caps, ItsmigCapField f)
{
    switch (f) {
    case ITSMIG_CAP_VGIC_ITS: return &caps->vgic_its;
    case ITSMIG_CAP_SAVE_TABLES: return &caps->save_tables;
    case ITSMIG_CAP_RESTORE_TABLES: return &caps->restore_tables;
    case ITSMIG_CAP_CTRL_RESET: return &caps->ctrl_reset;
    case ITSMIG_CAP_SAVE_PENDING_TABLES: return &caps->save_pending_tables;
    default: g_assert_not_reached();
    }
}

/* @caps's value of @f; ret->str is borrowed, not owned. */
void host_caps_value_peek(const ItsmigHostCaps *caps, ItsmigCapField f, CapValue *ret)
{
    ItsmigHostCaps *c = (ItsmigHostCaps *)caps;

    memset(ret, 0, sizeof(*ret));
    switch (host_caps_fields[f].kind) {
    case KIND_STRING:
    case KIND_VERSION: ret->str = *string_slot(c, f); break;
    case KIND_PAGE_SIZE:
    case KIND_REVISION: ret->num = *num_slot(c, f); break;
    case KIND_BOOLEAN: ret->flag = *flag_slot(c, f); break;
    case KIND_REVISIONS: ret->revs = caps->its_abi_revisions; break;
    case KIND_GICV4: ret->gicv4 = caps->gicv4; break;
    }
}

/* Stores @v as @caps's value of @f, taking v->str. */
void host_caps_value_store(ItsmigHostCaps *caps, ItsmigCapField f, CapValue *v)
{
    switch (host_caps_fields[f].kind) {
    case KIND_STRING:
    case KIND_VERSION: {
        char **slot = string_slot(caps, f);

        g_free(*slot);
        *slot = g_steal_pointer(&v->str);
        break;
    }
    case KIND_PAGE_SIZE:
    case KIND_REVISION: *num_slot(caps, f) = v->num; break;
    case KIND_BOOLEAN: *flag_slot(caps, f) = v->flag; break;
    case KIND_REVISIONS: caps->its_abi_revisions = v->revs; break;
    case KIND_GICV4: caps->gicv4 = v->gicv4; break;
    }
}

JsonNode *host_caps_value_to_node(ItsmigCapField f, const CapValue *v)
{
    JsonNode *node;

    switch (host_caps_fields[f].kind) {
    case KIND_STRING:
    case KIND_VERSION: return json_node_init_string(json_node_alloc(), v->str);
    case KIND_PAGE_SIZE:
    case KIND_REVISION: return json_node_init_int(json_node_alloc(), v->num);
    case KIND_BOOLEAN: return json_node_init_boolean(json_node_alloc(), v->flag);
    case KIND_GICV4:
        return json_node_init_string(json_node_alloc(), itsmig_gicv4_level_to_string(v->gicv4));
    case KIND_REVISIONS: {
        JsonArray *a = json_array_new();

        for (guint rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
            if (v->revs & (1u << rev))
                json_array_add_int_element(a, rev);
        }
        node = json_node_init_array(json_node_alloc(), a);
        json_array_unref(a);
        return node;
    }
    }
    g_assert_not_reached();
}

/* The value as compact JSON text: how conflicts are recorded and compared. */
char *host_caps_value_to_text(ItsmigCapField f, const CapValue *v)
{
    g_autoptr(JsonNode) node = host_caps_value_to_node(f, v);

    return json_to_string(node, FALSE);
}

/* NULL when @s may be a string of the document, else why not. */
const char *host_caps_string_problem(const char *s, gsize max)
{
    gsize len = strlen(s);

    if (len == 0)
        return "empty";
    if (len > max)
        return "too long";
    if (!g_utf8_validate(s, len, NULL))
        return "not valid UTF-8";
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        if (g_unichar_iscntrl(g_utf8_get_char(p)))
            return "contains a control character";
    }
    return NULL;
}

/* Text from outside for an error message: short, one line, control characters escaped. */
char *host_caps_for_message(const char *s)
{
    g_autofree char *valid = g_utf8_make_valid(s, -1);
    GString *out = g_string_new(NULL);
    guint n = 0;

    for (const char *p = valid; *p; p = g_utf8_next_char(p), n++) {
        gunichar c = g_utf8_get_char(p);

        if (n == 64) {
            g_string_append(out, "...");
            break;
        }
        if (g_unichar_iscntrl(c))
            g_string_append_printf(out, "\\u%04x", c);
        else
            g_string_append_unichar(out, c);
    }
    return g_string_free(out, FALSE);
}

/* digits '.' digits [ '.' digits ] */
gboolean host_caps_is_version(const char *s)
{
    guint parts = 0;

    for (;;) {
        const char *start = s;

        while (g_ascii_isdigit(*s))
            s++;
        if (s == start)
            return FALSE;
        parts++;
        if (*s == '\0')
            return parts >= 2;
        if (*s != '.' || parts == 3)
            return FALSE;
        s++;
    }
}

gboolean host_caps_is_page_size(guint64 n)
{
    return n >= PAGE_SIZE_MIN && n <= PAGE_SIZE_MAX && (n & (n - 1)) == 0;
}

/* ---- construction -------------------------------------------------------- */

ItsmigHostCaps *itsmig_host_caps_new(const char *hostname)
{
    ItsmigHostCaps *caps;

    g_return_val_if_fail(hostname != NULL, NULL);

    caps = g_new0(ItsmigHostCaps, 1);
    caps->hostname = g_strdup(hostname);
    caps->minor_version = ITSMIG_HOST_CAPS_MINOR;
    return caps;
}

void itsmig_host_caps_free(ItsmigHostCaps *caps)
{
    if (!caps)
        return;
    g_free(caps->hostname);
    g_free(caps->probe_unavailable_reason);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++)
        g_free(caps->meta[f].conflict_probed);
    g_free(caps->arch);
    g_free(caps->kernel_release);
    g_free(caps->qemu_version);
    g_free(caps->libvirt_version);
    itsmig_kvm_regs_clear(&caps->regs);
    g_free(caps->regs_digest);
    g_free(caps->its_semantics.reason);
    host_caps_machine_types_clear(&caps->machine_types);
    g_free(caps);
}

/* malloc'd, as itsmig_kvm_regs_clear() frees it. */
static void regs_copy(ItsmigKvmRegSet *to, const ItsmigKvmRegSet *from)
{
    *to = *from;
    to->regs = NULL;
    if (from->n_regs) {
        to->regs = malloc(from->n_regs * sizeof(ItsmigKvmReg));
        if (!to->regs)
            g_error("out of memory for %zu registers", from->n_regs);
        memcpy(to->regs, from->regs, from->n_regs * sizeof(ItsmigKvmReg));
    }
}

ItsmigHostCaps *itsmig_host_caps_copy(const ItsmigHostCaps *caps)
{
    ItsmigHostCaps *copy;

    g_return_val_if_fail(caps != NULL, NULL);

    copy = g_memdup2(caps, sizeof(*caps));
    copy->hostname = g_strdup(caps->hostname);
    copy->probe_unavailable_reason = g_strdup(caps->probe_unavailable_reason);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++)
        copy->meta[f].conflict_probed = g_strdup(caps->meta[f].conflict_probed);
    copy->arch = g_strdup(caps->arch);
    copy->kernel_release = g_strdup(caps->kernel_release);
    copy->qemu_version = g_strdup(caps->qemu_version);
    copy->libvirt_version = g_strdup(caps->libvirt_version);
    regs_copy(&copy->regs, &caps->regs);
    copy->regs_digest = g_strdup(caps->regs_digest);
    copy->its_semantics.reason = g_strdup(caps->its_semantics.reason);
    copy->machine_types.reason = g_strdup(caps->machine_types.reason);
    copy->machine_types.arch = g_strdup(caps->machine_types.arch);
    copy->machine_types.emulator = g_strdup(caps->machine_types.emulator);
    copy->machine_types.names = g_strdupv(caps->machine_types.names);
    return copy;
}

gboolean itsmig_host_caps_has_revision(const ItsmigHostCaps *caps, guint rev)
{
    g_return_val_if_fail(caps != NULL, FALSE);

    return caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source != ITSMIG_CAP_UNKNOWN &&
           rev <= ITSMIG_ITS_ABI_REV_MAX && (caps->its_abi_revisions & (1u << rev)) != 0;
}

guint itsmig_host_caps_n_conflicts(const ItsmigHostCaps *caps)
{
    guint n = 0;

    g_return_val_if_fail(caps != NULL, 0);

    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (caps->meta[f].conflict_probed)
            n++;
    }
    return n;
}

/*
 * Records a probed or declared value of @f, taking v->str.  Whichever comes
 * second, a declared value stays and a probe that disagrees becomes the
 * conflict, so the result does not depend on the order.
 */
void host_caps_apply(ItsmigHostCaps *caps, ItsmigCapField f, ItsmigCapSource source, CapValue *v)
{
    ItsmigCapMeta *meta = &caps->meta[f];

    if (source == ITSMIG_CAP_PROBED && meta->source == ITSMIG_CAP_DECLARED) {
        CapValue declared;
        g_autofree char *declared_text = NULL;
        g_autofree char *probed_text = host_caps_value_to_text(f, v);

        host_caps_value_peek(caps, f, &declared);
        declared_text = host_caps_value_to_text(f, &declared);
        g_clear_pointer(&meta->conflict_probed, g_free);
        if (strcmp(declared_text, probed_text) != 0)
            meta->conflict_probed = g_steal_pointer(&probed_text);
        host_caps_value_clear(v);
        return;
    }

    if (source == ITSMIG_CAP_DECLARED && meta->source == ITSMIG_CAP_PROBED) {
        CapValue probed;
        g_autofree char *probed_text = NULL;
        g_autofree char *declared_text = host_caps_value_to_text(f, v);

        host_caps_value_peek(caps, f, &probed);
        probed_text = host_caps_value_to_text(f, &probed);
        g_clear_pointer(&meta->conflict_probed, g_free);
        if (strcmp(declared_text, probed_text) != 0)
            meta->conflict_probed = g_steal_pointer(&probed_text);
    }
    host_caps_value_store(caps, f, v);
    meta->source = source;
}

/* ---- the KVM probe ------------------------------------------------------- */

static void probe_string(ItsmigHostCaps *caps, ItsmigCapField f, const char *buf, gsize size)
{
    g_auto(CapValue) v = {0};

    v.str = g_strndup(buf, size);
    /* A string the document cannot carry is left unknown rather than sent. */
    if (host_caps_string_problem(v.str, STRING_MAX))
        return;
    host_caps_apply(caps, f, ITSMIG_CAP_PROBED, &v);
}

static void probe_flag(ItsmigHostCaps *caps, ItsmigCapField f, gboolean flag)
{
    CapValue v = {.flag = flag};

    host_caps_apply(caps, f, ITSMIG_CAP_PROBED, &v);
}

static void probe_num(ItsmigHostCaps *caps, ItsmigCapField f, guint num)
{
    CapValue v = {.num = num};

    host_caps_apply(caps, f, ITSMIG_CAP_PROBED, &v);
}

static void probe_revisions(ItsmigHostCaps *caps, guint16 revs)
{
    CapValue v = {.revs = revs};

    host_caps_apply(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_PROBED, &v);
}

/* The reason as the document may carry it: valid UTF-8, no control characters. */
char *host_caps_sanitize_reason(const char *buf, gsize size, const char *fallback)
{
    g_autofree char *raw = g_strndup(buf, size);
    g_autofree char *valid = g_utf8_make_valid(raw, -1);
    GString *s = g_string_new(NULL);

    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (g_unichar_iscntrl(c))
            c = ' ';
        if (s->len + g_unichar_to_utf8(c, NULL) > STRING_MAX)
            break;
        g_string_append_unichar(s, c);
    }
    g_strstrip(s->str);
    if (s->str[0] == '\0')
        g_string_assign(s, fallback);
    return g_string_free(s, FALSE);
}

void itsmig_host_caps_set_probe(ItsmigHostCaps *caps, const ItsmigKvmItsCaps *kvm)
{
    g_autofree char *arch = NULL;

    g_return_if_fail(caps != NULL);
    g_return_if_fail(kvm != NULL);

    arch = g_strndup(kvm->arch, sizeof(kvm->arch));
    probe_string(caps, ITSMIG_CAP_ARCH, kvm->arch, sizeof(kvm->arch));
    probe_string(caps, ITSMIG_CAP_KERNEL_RELEASE, kvm->kernel_release, sizeof(kvm->kernel_release));

    g_clear_pointer(&caps->its_semantics.reason, g_free);
    memset(&caps->its_semantics.facts, 0, sizeof(caps->its_semantics.facts));
    caps->its_semantics.source = ITSMIG_CAP_UNKNOWN;
    if (kvm->available && kvm->semantics.measured) {
        caps->its_semantics.source = ITSMIG_CAP_PROBED;
        caps->its_semantics.facts = kvm->semantics;
    } else if (kvm->available) {
        caps->its_semantics.reason = g_strdup("the KVM probe did not measure the vITS behaviour");
    } else {
        caps->its_semantics.reason =
            host_caps_sanitize_reason(kvm->unavailable_reason, sizeof(kvm->unavailable_reason),
                                      "the KVM probe could not run");
    }

    if (!kvm->available) {
        g_free(caps->probe_unavailable_reason);
        caps->probe_unavailable_reason =
            host_caps_sanitize_reason(kvm->unavailable_reason, sizeof(kvm->unavailable_reason),
                                      "the KVM probe could not run");
        /* Only a foreign architecture settles the question; no /dev/kvm or
         * no permission says nothing about what KVM could do. */
        if (arch[0] != '\0' && !arch_is_arm64(arch))
            probe_flag(caps, ITSMIG_CAP_VGIC_ITS, FALSE);
        return;
    }

    g_clear_pointer(&caps->probe_unavailable_reason, g_free);
    probe_flag(caps, ITSMIG_CAP_VGIC_ITS, TRUE);
    probe_revisions(caps, kvm->abi_revisions);
    /* Both come from 4-bit register fields; anything else is a broken probe. */
    if (kvm->default_abi_revision <= REVISION_MAX)
        probe_num(caps, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, kvm->default_abi_revision);
    if (kvm->gicd_revision <= REVISION_MAX)
        probe_num(caps, ITSMIG_CAP_GICD_REVISION, kvm->gicd_revision);
    if (kvm->gicv4 > ITSMIG_GICV4_UNKNOWN && kvm->gicv4 < ITSMIG_GICV4_LAST) {
        CapValue v = {.gicv4 = kvm->gicv4};

        host_caps_apply(caps, ITSMIG_CAP_GICV4, ITSMIG_CAP_PROBED, &v);
    }
    probe_flag(caps, ITSMIG_CAP_SAVE_TABLES, kvm->has_save_tables);
    probe_flag(caps, ITSMIG_CAP_RESTORE_TABLES, kvm->has_restore_tables);
    probe_flag(caps, ITSMIG_CAP_CTRL_RESET, kvm->has_ctrl_reset);
    probe_flag(caps, ITSMIG_CAP_SAVE_PENDING_TABLES, kvm->has_save_pending_tables);
}

/* ---- the vCPU register set ----------------------------------------------- */

guint host_caps_reg_size_log2(guint64 id)
{
    return (guint)((id & ITSMIG_KVM_REG_SIZE_MASK) >> ITSMIG_KVM_REG_SIZE_SHIFT);
}

/* Whether register @id may carry a value in the document: what the probe
 * reads, the ID and firmware registers, at most 64 bits wide. */
gboolean host_caps_reg_takes_value(guint64 id)
{
    return (itsmig_kvm_reg_is_id(id) || itsmig_kvm_reg_is_firmware(id)) &&
           host_caps_reg_size_log2(id) <= 3;
}

void itsmig_host_caps_set_regs(ItsmigHostCaps *caps, const ItsmigKvmRegSet *set)
{
    g_return_if_fail(caps != NULL);
    g_return_if_fail(set != NULL);

    itsmig_kvm_regs_clear(&caps->regs);
    g_clear_pointer(&caps->regs_digest, g_free);
    if (set->available && set->n_regs > ITSMIG_KVM_REGS_MAX) {
        /* The document's limit holds for what we send as for what we read. */
        memset(&caps->regs, 0, sizeof(caps->regs));
        g_snprintf(caps->regs.unavailable_reason, sizeof(caps->regs.unavailable_reason),
                   "the probe listed %zu registers, more than the document's limit of %u",
                   set->n_regs, ITSMIG_KVM_REGS_MAX);
        return;
    }
    regs_copy(&caps->regs, set);
    if (!set->available) {
        g_autofree char *reason =
            host_caps_sanitize_reason(set->unavailable_reason, sizeof(set->unavailable_reason),
                                      "the KVM probe could not run");

        caps->regs.n_regs = 0;
        caps->regs.regs = NULL;
        g_strlcpy(caps->regs.unavailable_reason, reason, sizeof(caps->regs.unavailable_reason));
        return;
    }
    caps->regs_digest = itsmig_kvm_regs_digest(&caps->regs);
}

/* ---- consistency --------------------------------------------------------- */

static gboolean known(const ItsmigHostCaps *caps, ItsmigCapField f)
{
    return caps->meta[f].source != ITSMIG_CAP_UNKNOWN;
}

static char *revisions_text(guint16 revs)
{
    CapValue v = {.revs = revs};

    return host_caps_value_to_text(ITSMIG_CAP_ITS_ABI_REVISIONS, &v);
}

/* A host without a vITS has no ITS device to report revisions or take the
 * ITS attributes.  The save-pending-tables attribute belongs to the vGICv3,
 * not the ITS, and may well exist without one. */
static gboolean check_no_vits(const ItsmigHostCaps *caps, GError **error)
{
    static const ItsmigCapField its_attrs[] = {ITSMIG_CAP_SAVE_TABLES, ITSMIG_CAP_RESTORE_TABLES,
                                               ITSMIG_CAP_CTRL_RESET};

    if (known(caps, ITSMIG_CAP_ITS_ABI_REVISIONS) && caps->its_abi_revisions != 0) {
        g_autofree char *list = revisions_text(caps->its_abi_revisions);

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "caps.its_abi_revisions: lists %s, but caps.vgic_its is false", list);
        return FALSE;
    }
    if (known(caps, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "caps.default_its_abi_revision: is %u, but caps.vgic_its is false",
                    caps->default_its_abi_revision);
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(its_attrs); i++) {
        ItsmigCapField f = its_attrs[i];
        CapValue v;

        host_caps_value_peek(caps, f, &v);
        if (known(caps, f) && v.flag) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "caps.%s: true, but caps.vgic_its is false", host_caps_fields[f].name);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean itsmig_host_caps_check(const ItsmigHostCaps *caps, GError **error)
{
    g_return_val_if_fail(caps != NULL, FALSE);

    /* An operator's false over a probe that found a vITS keeps the probe's
     * other facts; the conflict already says so. */
    if (known(caps, ITSMIG_CAP_VGIC_ITS) && !caps->vgic_its &&
        !caps->meta[ITSMIG_CAP_VGIC_ITS].conflict_probed && !check_no_vits(caps, error))
        return FALSE;

    /* KVM gives guests a GICv3 ITS on arm64 only. */
    if (known(caps, ITSMIG_CAP_VGIC_ITS) && caps->vgic_its && known(caps, ITSMIG_CAP_ARCH) &&
        !arch_is_arm64(caps->arch)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "caps.vgic_its: true, but caps.arch %s has no GICv3 ITS", caps->arch);
        return FALSE;
    }

    /* Only an arm64 KVM has these registers, and only a vITS has behaviour. */
    if (caps->regs.available && known(caps, ITSMIG_CAP_ARCH) && !arch_is_arm64(caps->arch)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "vcpu_registers: probed, but caps.arch %s has no arm64 KVM vCPU", caps->arch);
        return FALSE;
    }
    if (caps->its_semantics.source == ITSMIG_CAP_PROBED && known(caps, ITSMIG_CAP_VGIC_ITS) &&
        !caps->vgic_its && !caps->meta[ITSMIG_CAP_VGIC_ITS].conflict_probed) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "its_semantics: probed, but caps.vgic_its is false");
        return FALSE;
    }

    /* A new ITS reports its default revision, and the kernel accepts what it
     * reports: a default outside the list means the list is wrong. */
    if (known(caps, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION) &&
        known(caps, ITSMIG_CAP_ITS_ABI_REVISIONS) &&
        !itsmig_host_caps_has_revision(caps, caps->default_its_abi_revision)) {
        g_autofree char *list = revisions_text(caps->its_abi_revisions);

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "caps.default_its_abi_revision: revision %u is not one of "
                    "caps.its_abi_revisions %s",
                    caps->default_its_abi_revision, list);
        return FALSE;
    }
    return TRUE;
}
