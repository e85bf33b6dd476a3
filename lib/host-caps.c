/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmig/host-caps.h"
#include "itsmig/its-abi.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-regs-json.h"

/* Limits of the document's strings, in bytes. */
#define STRING_MAX   256
#define HOSTNAME_MAX 255

/* GITS_IIDR.Revision and GICD_IIDR.Revision are both 4 bits. */
#define REVISION_MAX 15u
G_STATIC_ASSERT(REVISION_MAX == ITSMIG_ITS_ABI_REV_MAX);

#define PAGE_SIZE_MIN 4096u
#define PAGE_SIZE_MAX 65536u

/* ---- fields -------------------------------------------------------------- */

typedef enum {
    KIND_STRING,    /* any text: arch, kernel release */
    KIND_VERSION,   /* "major.minor[.micro]" */
    KIND_PAGE_SIZE, /* a power of two in PAGE_SIZE_MIN..PAGE_SIZE_MAX */
    KIND_REVISION,  /* 0..15 */
    KIND_REVISIONS, /* a set of 0..15 */
    KIND_BOOLEAN,
    KIND_GICV4,
} CapKind;

static const struct {
    const char *name; /* JSON member */
    const char *key;  /* itsmigd.conf key */
    CapKind kind;
} fields[ITSMIG_CAP_LAST] = {
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
    return fields[field].name;
}

gboolean itsmig_cap_field_from_string(const char *name, ItsmigCapField *ret_field)
{
    g_return_val_if_fail(ret_field != NULL, FALSE);

    if (!name)
        return FALSE;
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (strcmp(name, fields[f].name) == 0 || strcmp(name, fields[f].key) == 0) {
            *ret_field = f;
            return TRUE;
        }
    }
    return FALSE;
}

/* The JSON name only, as the document spells it. */
static gboolean field_from_json_name(const char *name, ItsmigCapField *ret_field)
{
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (strcmp(name, fields[f].name) == 0) {
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

static gboolean source_from_string(const char *s, ItsmigCapSource *ret_source)
{
    for (guint i = 0; i < ITSMIG_CAP_SOURCE_LAST; i++) {
        if (strcmp(s, itsmig_cap_source_to_string(i)) == 0) {
            *ret_source = i;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean gicv4_from_string(const char *s, ItsmigGicv4Level *ret_level)
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

/* One field's value, detached from the struct; str is owned. */
typedef struct {
    char *str;
    guint num;
    gboolean flag;
    guint16 revs;
    ItsmigGicv4Level gicv4;
} CapValue;

static void cap_value_clear(CapValue *v)
{
    g_clear_pointer(&v->str, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CapValue, cap_value_clear)

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
static void value_peek(const ItsmigHostCaps *caps, ItsmigCapField f, CapValue *ret)
{
    ItsmigHostCaps *c = (ItsmigHostCaps *)caps;

    memset(ret, 0, sizeof(*ret));
    switch (fields[f].kind) {
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
static void value_store(ItsmigHostCaps *caps, ItsmigCapField f, CapValue *v)
{
    switch (fields[f].kind) {
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

static JsonNode *value_to_node(ItsmigCapField f, const CapValue *v)
{
    JsonNode *node;

    switch (fields[f].kind) {
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
static char *value_to_text(ItsmigCapField f, const CapValue *v)
{
    g_autoptr(JsonNode) node = value_to_node(f, v);

    return json_to_string(node, FALSE);
}

/* NULL when @s may be a string of the document, else why not. */
static const char *string_problem(const char *s, gsize max)
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
static char *for_message(const char *s)
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
static gboolean is_version(const char *s)
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

static gboolean is_page_size(guint64 n)
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
static void apply(ItsmigHostCaps *caps, ItsmigCapField f, ItsmigCapSource source, CapValue *v)
{
    ItsmigCapMeta *meta = &caps->meta[f];

    if (source == ITSMIG_CAP_PROBED && meta->source == ITSMIG_CAP_DECLARED) {
        CapValue declared;
        g_autofree char *declared_text = NULL;
        g_autofree char *probed_text = value_to_text(f, v);

        value_peek(caps, f, &declared);
        declared_text = value_to_text(f, &declared);
        g_clear_pointer(&meta->conflict_probed, g_free);
        if (strcmp(declared_text, probed_text) != 0)
            meta->conflict_probed = g_steal_pointer(&probed_text);
        cap_value_clear(v);
        return;
    }

    if (source == ITSMIG_CAP_DECLARED && meta->source == ITSMIG_CAP_PROBED) {
        CapValue probed;
        g_autofree char *probed_text = NULL;
        g_autofree char *declared_text = value_to_text(f, v);

        value_peek(caps, f, &probed);
        probed_text = value_to_text(f, &probed);
        g_clear_pointer(&meta->conflict_probed, g_free);
        if (strcmp(declared_text, probed_text) != 0)
            meta->conflict_probed = g_steal_pointer(&probed_text);
    }
    value_store(caps, f, v);
    meta->source = source;
}

/* ---- the KVM probe ------------------------------------------------------- */

static void probe_string(ItsmigHostCaps *caps, ItsmigCapField f, const char *buf, gsize size)
{
    g_auto(CapValue) v = {0};

    v.str = g_strndup(buf, size);
    /* A string the document cannot carry is left unknown rather than sent. */
    if (string_problem(v.str, STRING_MAX))
        return;
    apply(caps, f, ITSMIG_CAP_PROBED, &v);
}

static void probe_flag(ItsmigHostCaps *caps, ItsmigCapField f, gboolean flag)
{
    CapValue v = {.flag = flag};

    apply(caps, f, ITSMIG_CAP_PROBED, &v);
}

static void probe_num(ItsmigHostCaps *caps, ItsmigCapField f, guint num)
{
    CapValue v = {.num = num};

    apply(caps, f, ITSMIG_CAP_PROBED, &v);
}

static void probe_revisions(ItsmigHostCaps *caps, guint16 revs)
{
    CapValue v = {.revs = revs};

    apply(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_PROBED, &v);
}

/* The reason as the document may carry it: valid UTF-8, no control characters. */
static char *sanitize_reason(const char *buf, gsize size)
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
        g_string_assign(s, "the KVM probe could not run");
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
            sanitize_reason(kvm->unavailable_reason, sizeof(kvm->unavailable_reason));
    }

    if (!kvm->available) {
        g_free(caps->probe_unavailable_reason);
        caps->probe_unavailable_reason =
            sanitize_reason(kvm->unavailable_reason, sizeof(kvm->unavailable_reason));
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

        apply(caps, ITSMIG_CAP_GICV4, ITSMIG_CAP_PROBED, &v);
    }
    probe_flag(caps, ITSMIG_CAP_SAVE_TABLES, kvm->has_save_tables);
    probe_flag(caps, ITSMIG_CAP_RESTORE_TABLES, kvm->has_restore_tables);
    probe_flag(caps, ITSMIG_CAP_CTRL_RESET, kvm->has_ctrl_reset);
    probe_flag(caps, ITSMIG_CAP_SAVE_PENDING_TABLES, kvm->has_save_pending_tables);
}

/* ---- the vCPU register set ----------------------------------------------- */

/* The widest register KVM has: an SVE Z register, 2048 bits (log2 of 256 bytes). */
#define REG_SIZE_LOG2_MAX 8u

static guint reg_size_log2(guint64 id)
{
    return (guint)((id & ITSMIG_KVM_REG_SIZE_MASK) >> ITSMIG_KVM_REG_SIZE_SHIFT);
}

/* Whether register @id may carry a value in the document: what the probe
 * reads, the ID and firmware registers, at most 64 bits wide. */
static gboolean reg_takes_value(guint64 id)
{
    return (itsmig_kvm_reg_is_id(id) || itsmig_kvm_reg_is_firmware(id)) && reg_size_log2(id) <= 3;
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
            sanitize_reason(set->unavailable_reason, sizeof(set->unavailable_reason));

        caps->regs.n_regs = 0;
        caps->regs.regs = NULL;
        g_strlcpy(caps->regs.unavailable_reason, reason, sizeof(caps->regs.unavailable_reason));
        return;
    }
    caps->regs_digest = itsmig_kvm_regs_digest(&caps->regs);
}

/* ---- itsmigd.conf's syntax ----------------------------------------------- */

static gboolean parse_bool_text(const char *text, gboolean *ret_flag)
{
    if (g_ascii_strcasecmp(text, "true") == 0 || g_ascii_strcasecmp(text, "yes") == 0) {
        *ret_flag = TRUE;
        return TRUE;
    }
    if (g_ascii_strcasecmp(text, "false") == 0 || g_ascii_strcasecmp(text, "no") == 0) {
        *ret_flag = FALSE;
        return TRUE;
    }
    return FALSE;
}

static gboolean parse_revisions_text(const char *key, const char *text, guint16 *ret_revs,
                                     GError **error)
{
    g_auto(GStrv) items = NULL;
    guint16 revs = 0;

    if (strcmp(text, "none") == 0) {
        *ret_revs = 0;
        return TRUE;
    }
    items = g_strsplit_set(text, ",;", -1);
    for (guint i = 0; items[i]; i++) {
        const char *item = g_strstrip(items[i]);
        guint64 rev;

        if (item[0] == '\0') {
            g_autofree char *shown = for_message(text);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' has an empty item; expected revisions 0..15 separated by ',' "
                        "or ';', or none",
                        key, shown);
            return FALSE;
        }
        if (!g_ascii_string_to_unsigned(item, 10, 0, ITSMIG_ITS_ABI_REV_MAX, &rev, NULL)) {
            g_autofree char *shown = for_message(item);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a revision; expected revisions 0..15 separated by ',' "
                        "or ';', or none",
                        key, shown);
            return FALSE;
        }
        if (revs & (1u << rev)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: revision %u is listed twice", key, (guint)rev);
            return FALSE;
        }
        revs |= 1u << rev;
    }
    *ret_revs = revs;
    return TRUE;
}

static gboolean value_from_text(ItsmigCapField f, const char *text, CapValue *ret, GError **error)
{
    const char *key = fields[f].key;
    g_autofree char *shown = for_message(text);
    const char *problem;
    guint64 n;

    if (text[0] == '\0') {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "%s: empty value", key);
        return FALSE;
    }

    switch (fields[f].kind) {
    case KIND_STRING:
    case KIND_VERSION:
        problem = string_problem(text, STRING_MAX);
        if (problem && strcmp(problem, "too long") == 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: %zu bytes, more than %u", key, strlen(text), STRING_MAX);
            return FALSE;
        }
        if (problem) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: %s; expected UTF-8 text without control characters", key, problem);
            return FALSE;
        }
        if (fields[f].kind == KIND_VERSION && !is_version(text)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a version; expected major.minor or major.minor.micro "
                        "in digits, such as 8.2.0",
                        key, shown);
            return FALSE;
        }
        ret->str = g_strdup(text);
        return TRUE;
    case KIND_PAGE_SIZE:
        if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &n, NULL) || !is_page_size(n)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a page size; expected a power of two in %u..%u, such "
                        "as 4096, 16384 or 65536",
                        key, shown, PAGE_SIZE_MIN, PAGE_SIZE_MAX);
            return FALSE;
        }
        ret->num = n;
        return TRUE;
    case KIND_REVISION:
        if (!g_ascii_string_to_unsigned(text, 10, 0, REVISION_MAX, &n, NULL)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a revision; expected an integer in 0..15", key, shown);
            return FALSE;
        }
        ret->num = n;
        return TRUE;
    case KIND_REVISIONS: return parse_revisions_text(key, text, &ret->revs, error);
    case KIND_BOOLEAN:
        if (!parse_bool_text(text, &ret->flag)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a boolean; expected true, false, yes or no", key, shown);
            return FALSE;
        }
        return TRUE;
    case KIND_GICV4:
        if (!gicv4_from_string(text, &ret->gicv4)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "%s: '%s' is not a GICv4 level; expected none, 4.0 or 4.1", key, shown);
            return FALSE;
        }
        return TRUE;
    }
    g_assert_not_reached();
}

gboolean itsmig_host_caps_set(ItsmigHostCaps *caps, ItsmigCapField field, ItsmigCapSource source,
                              const char *text, GError **error)
{
    g_auto(CapValue) v = {0};

    g_return_val_if_fail(caps != NULL, FALSE);
    g_return_val_if_fail(text != NULL, FALSE);
    g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

    if ((guint)field >= ITSMIG_CAP_LAST) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "host capability field %d does not exist", (int)field);
        return FALSE;
    }
    if (source != ITSMIG_CAP_PROBED && source != ITSMIG_CAP_DECLARED) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: a value is set as probed or declared, not %s", fields[field].key,
                    itsmig_cap_source_to_string(source));
        return FALSE;
    }
    if (!value_from_text(field, text, &v, error))
        return FALSE;

    /* A second declaration could no longer tell whether an earlier probe
     * agreed with the first, so it is refused unless it repeats the value. */
    if (source == ITSMIG_CAP_DECLARED && caps->meta[field].source == ITSMIG_CAP_DECLARED) {
        CapValue cur;
        g_autofree char *cur_text = NULL;
        g_autofree char *new_text = value_to_text(field, &v);

        value_peek(caps, field, &cur);
        cur_text = value_to_text(field, &cur);
        if (strcmp(cur_text, new_text) == 0)
            return TRUE;
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: declared twice, as %s and as %s", fields[field].key, cur_text, new_text);
        return FALSE;
    }
    apply(caps, field, source, &v);
    return TRUE;
}

/* ---- consistency --------------------------------------------------------- */

static gboolean known(const ItsmigHostCaps *caps, ItsmigCapField f)
{
    return caps->meta[f].source != ITSMIG_CAP_UNKNOWN;
}

static char *revisions_text(guint16 revs)
{
    CapValue v = {.revs = revs};

    return value_to_text(ITSMIG_CAP_ITS_ABI_REVISIONS, &v);
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

        value_peek(caps, f, &v);
        if (known(caps, f) && v.flag) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "caps.%s: true, but caps.vgic_its is false", fields[f].name);
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

/* ---- the document -------------------------------------------------------- */

static void regs_to_json(const ItsmigHostCaps *caps, JsonBuilder *b)
{
    ItsmigKvmRegSet unknown = {0};
    const ItsmigKvmRegSet *set = &caps->regs;

    if (!set->available && !set->unavailable_reason[0]) {
        g_strlcpy(unknown.unavailable_reason, "the register set was not probed",
                  sizeof(unknown.unavailable_reason));
        set = &unknown;
    }
    json_builder_set_member_name(b, "vcpu_registers");
    json_builder_add_value(b, itsmig_kvm_regs_to_json(set));
}

static void fact_errno(JsonBuilder *b, const char *name, int err, const char *how)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "errno");
    json_builder_add_int_value(b, err);
    itsmig_json_add_string_or_null(b, "measured_by", how);
    json_builder_end_object(b);
}

static void semantics_to_json(const ItsmigHostItsSemantics *s, JsonBuilder *b)
{
    json_builder_set_member_name(b, "its_semantics");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, itsmig_cap_source_to_string(s->source));
    if (s->source == ITSMIG_CAP_UNKNOWN) {
        itsmig_json_add_string_or_null(b, "reason",
                                       s->reason ? s->reason : "the vITS behaviour was not probed");
        json_builder_end_object(b);
        return;
    }
    fact_errno(b, "save_unreachable_device", s->facts.save_unreachable_device_errno,
               itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_SAVE_UNREACHABLE_DEVICE]);
    json_builder_set_member_name(b, "baser_write");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "keeps_mappings");
    json_builder_add_boolean_value(b, s->facts.baser_write_keeps_mappings);
    itsmig_json_add_string_or_null(
        b, "measured_by", itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_BASER_WRITE]);
    json_builder_end_object(b);
    fact_errno(b, "gicd_access_before_init", s->facts.gicd_access_before_init_errno,
               itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_GICD_BEFORE_INIT]);
    json_builder_end_object(b);
}

void itsmig_host_caps_to_json_members(const ItsmigHostCaps *caps, JsonBuilder *b)
{
    g_return_if_fail(caps != NULL);
    g_return_if_fail(b != NULL);

    json_builder_set_member_name(b, "schema");
    json_builder_add_string_value(b, ITSMIG_HOST_CAPS_SCHEMA);
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, ITSMIG_HOST_CAPS_VERSION);
    json_builder_set_member_name(b, "minor_version");
    json_builder_add_int_value(b, ITSMIG_HOST_CAPS_MINOR);
    json_builder_set_member_name(b, "hostname");
    json_builder_add_string_value(b, caps->hostname);

    json_builder_set_member_name(b, "probe");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "available");
    json_builder_add_boolean_value(b, caps->probe_unavailable_reason == NULL);
    json_builder_set_member_name(b, "reason");
    if (caps->probe_unavailable_reason)
        json_builder_add_string_value(b, caps->probe_unavailable_reason);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "caps");
    json_builder_begin_object(b);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        const ItsmigCapMeta *meta = &caps->meta[f];

        json_builder_set_member_name(b, fields[f].name);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "value");
        if (meta->source == ITSMIG_CAP_UNKNOWN) {
            json_builder_add_null_value(b);
        } else {
            CapValue v;

            value_peek(caps, f, &v);
            json_builder_add_value(b, value_to_node(f, &v));
        }
        json_builder_set_member_name(b, "source");
        json_builder_add_string_value(b, itsmig_cap_source_to_string(meta->source));
        if (meta->conflict_probed) {
            JsonNode *probed = json_from_string(meta->conflict_probed, NULL);

            /* Only this file writes conflict_probed, always as valid JSON. */
            g_assert(probed != NULL);
            json_builder_set_member_name(b, "probed");
            json_builder_add_value(b, probed);
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "conflicts");
    json_builder_begin_array(b);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (caps->meta[f].conflict_probed)
            json_builder_add_string_value(b, fields[f].name);
    }
    json_builder_end_array(b);

    regs_to_json(caps, b);
    semantics_to_json(&caps->its_semantics, b);
}

static const char *node_kind(JsonNode *node)
{
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT: return "an object";
    case JSON_NODE_ARRAY: return "an array";
    case JSON_NODE_NULL: return "null";
    case JSON_NODE_VALUE: break;
    }
    switch (json_node_get_value_type(node)) {
    case G_TYPE_STRING: return "a string";
    case G_TYPE_BOOLEAN: return "a boolean";
    case G_TYPE_INT64: return "an integer";
    case G_TYPE_DOUBLE: return "a fractional number";
    default: return "a value of an unknown type";
    }
}

static gboolean node_is(JsonNode *node, GType type)
{
    return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

static gboolean bad_type(GError **error, const char *path, const char *expected, JsonNode *node)
{
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS, "%s: expected %s, got %s",
                path, expected, node_kind(node));
    return FALSE;
}

static gboolean missing(GError **error, const char *path)
{
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS, "%s: missing", path);
    return FALSE;
}

/* The string at @node, checked against the document's string rules. */
static gboolean get_string(JsonNode *node, const char *path, gsize max, const char **ret,
                           GError **error)
{
    const char *s;
    const char *problem;

    if (!node_is(node, G_TYPE_STRING))
        return bad_type(error, path, "a string", node);
    s = json_node_get_string(node);
    problem = string_problem(s, max);
    if (problem) {
        if (strcmp(problem, "too long") == 0)
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %zu bytes, more than %zu", path, strlen(s), max);
        else
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS, "%s: %s", path,
                        problem);
        return FALSE;
    }
    *ret = s;
    return TRUE;
}

static gboolean get_revision(JsonNode *node, const char *path, guint *ret, GError **error)
{
    gint64 n;

    if (!node_is(node, G_TYPE_INT64))
        return bad_type(error, path, "an integer", node);
    n = json_node_get_int(node);
    if (n < 0 || n > REVISION_MAX) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "%s: revision %" G_GINT64_FORMAT " is outside 0..15", path, n);
        return FALSE;
    }
    *ret = n;
    return TRUE;
}

static gboolean get_revisions(JsonNode *node, const char *path, guint16 *ret, GError **error)
{
    JsonArray *a;
    guint len;
    guint16 revs = 0;
    gint prev = -1;

    if (!JSON_NODE_HOLDS_ARRAY(node))
        return bad_type(error, path, "an array of revisions", node);
    a = json_node_get_array(node);
    len = json_array_get_length(a);
    if (len > ITSMIG_ITS_ABI_REV_MAX + 1) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "%s: %u revisions, more than %u", path, len, ITSMIG_ITS_ABI_REV_MAX + 1);
        return FALSE;
    }
    for (guint i = 0; i < len; i++) {
        guint rev;

        if (!get_revision(json_array_get_element(a, i), path, &rev, error))
            return FALSE;
        if ((gint)rev == prev) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: revision %u is listed twice", path, rev);
            return FALSE;
        }
        if ((gint)rev < prev) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: revision %u follows %d; expected ascending order", path, rev, prev);
            return FALSE;
        }
        prev = rev;
        revs |= 1u << rev;
    }
    *ret = revs;
    return TRUE;
}

/* A non-null value of @f at @node (path @path) into @ret. */
static gboolean value_from_node(ItsmigCapField f, JsonNode *node, const char *path, CapValue *ret,
                                GError **error)
{
    const char *s;
    gint64 n;

    switch (fields[f].kind) {
    case KIND_STRING:
    case KIND_VERSION:
        if (!get_string(node, path, STRING_MAX, &s, error))
            return FALSE;
        if (fields[f].kind == KIND_VERSION && !is_version(s)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: '%s' is not a version (digits.digits[.digits])", path, s);
            return FALSE;
        }
        ret->str = g_strdup(s);
        return TRUE;
    case KIND_PAGE_SIZE:
        if (!node_is(node, G_TYPE_INT64))
            return bad_type(error, path, "an integer", node);
        n = json_node_get_int(node);
        if (n < 0 || !is_page_size(n)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %" G_GINT64_FORMAT " is not a power of two in %u..%u", path, n,
                        PAGE_SIZE_MIN, PAGE_SIZE_MAX);
            return FALSE;
        }
        ret->num = n;
        return TRUE;
    case KIND_REVISION: return get_revision(node, path, &ret->num, error);
    case KIND_REVISIONS: return get_revisions(node, path, &ret->revs, error);
    case KIND_BOOLEAN:
        if (!node_is(node, G_TYPE_BOOLEAN))
            return bad_type(error, path, "a boolean", node);
        ret->flag = json_node_get_boolean(node);
        return TRUE;
    case KIND_GICV4:
        if (!node_is(node, G_TYPE_STRING))
            return bad_type(error, path, "a string", node);
        if (!gicv4_from_string(json_node_get_string(node), &ret->gicv4)) {
            g_autofree char *shown = for_message(json_node_get_string(node));

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: '%s' is not none, 4.0 or 4.1", path, shown);
            return FALSE;
        }
        return TRUE;
    }
    g_assert_not_reached();
}

static gboolean parse_field(ItsmigHostCaps *caps, ItsmigCapField f, JsonNode *node, GError **error)
{
    const char *name = fields[f].name;
    g_autofree char *path = g_strdup_printf("caps.%s", name);
    g_autofree char *value_path = g_strdup_printf("caps.%s.value", name);
    g_autofree char *source_path = g_strdup_printf("caps.%s.source", name);
    g_autofree char *probed_path = g_strdup_printf("caps.%s.probed", name);
    g_autoptr(GList) members = NULL;
    g_auto(CapValue) v = {0};
    JsonObject *o;
    JsonNode *value, *source_node, *probed;
    ItsmigCapSource source;

    if (!JSON_NODE_HOLDS_OBJECT(node))
        return bad_type(error, path, "an object", node);
    o = json_node_get_object(node);
    members = json_object_get_members(o);
    for (GList *l = members; l; l = l->next) {
        const char *m = l->data;

        if (strcmp(m, "value") != 0 && strcmp(m, "source") != 0 && strcmp(m, "probed") != 0) {
            g_autofree char *shown = for_message(m);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s.%s: unknown member; expected value, source and probed", path, shown);
            return FALSE;
        }
    }

    source_node = json_object_get_member(o, "source");
    if (!source_node)
        return missing(error, source_path);
    if (!node_is(source_node, G_TYPE_STRING))
        return bad_type(error, source_path, "a string", source_node);
    if (!source_from_string(json_node_get_string(source_node), &source)) {
        g_autofree char *shown = for_message(json_node_get_string(source_node));

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "%s: '%s' is not probed, declared or unknown", source_path, shown);
        return FALSE;
    }

    value = json_object_get_member(o, "value");
    if (!value)
        return missing(error, value_path);
    if (JSON_NODE_HOLDS_NULL(value) != (source == ITSMIG_CAP_UNKNOWN)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    source == ITSMIG_CAP_UNKNOWN ? "%s: must be null when source is %s"
                                                 : "%s: null, but source is %s",
                    value_path, itsmig_cap_source_to_string(source));
        return FALSE;
    }
    if (source != ITSMIG_CAP_UNKNOWN) {
        if (!value_from_node(f, value, value_path, &v, error))
            return FALSE;
    }

    probed = json_object_get_member(o, "probed");
    if (probed) {
        g_auto(CapValue) pv = {0};
        g_autofree char *probed_text = NULL;
        g_autofree char *declared_text = NULL;

        if (source != ITSMIG_CAP_DECLARED) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: present, but source is %s; only a declared value has a conflicting "
                        "probe",
                        probed_path, itsmig_cap_source_to_string(source));
            return FALSE;
        }
        if (JSON_NODE_HOLDS_NULL(probed))
            return bad_type(error, probed_path, "the probe's value", probed);
        if (!value_from_node(f, probed, probed_path, &pv, error))
            return FALSE;
        probed_text = value_to_text(f, &pv);
        declared_text = value_to_text(f, &v);
        if (strcmp(probed_text, declared_text) == 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: equals the declared value, so it is no conflict", probed_path);
            return FALSE;
        }
        caps->meta[f].conflict_probed = g_steal_pointer(&probed_text);
    }

    caps->meta[f].source = source;
    if (source != ITSMIG_CAP_UNKNOWN)
        value_store(caps, f, &v);
    return TRUE;
}

static gboolean parse_probe(ItsmigHostCaps *caps, JsonObject *root, GError **error)
{
    g_autoptr(GList) members = NULL;
    JsonNode *node = json_object_get_member(root, "probe");
    JsonNode *available, *reason;
    JsonObject *o;

    if (!node)
        return missing(error, "probe");
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return bad_type(error, "probe", "an object", node);
    o = json_node_get_object(node);
    members = json_object_get_members(o);
    for (GList *l = members; l; l = l->next) {
        if (strcmp(l->data, "available") != 0 && strcmp(l->data, "reason") != 0) {
            g_autofree char *shown = for_message(l->data);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "probe.%s: unknown member; expected available and reason", shown);
            return FALSE;
        }
    }

    available = json_object_get_member(o, "available");
    if (!available)
        return missing(error, "probe.available");
    if (!node_is(available, G_TYPE_BOOLEAN))
        return bad_type(error, "probe.available", "a boolean", available);
    reason = json_object_get_member(o, "reason");
    if (!reason)
        return missing(error, "probe.reason");

    if (json_node_get_boolean(available)) {
        if (!JSON_NODE_HOLDS_NULL(reason)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "probe.reason: must be null when probe.available is true");
            return FALSE;
        }
    } else {
        const char *s;

        if (JSON_NODE_HOLDS_NULL(reason)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "probe.reason: null, but probe.available is false; expected why the "
                        "probe could not run");
            return FALSE;
        }
        if (!get_string(reason, "probe.reason", STRING_MAX, &s, error))
            return FALSE;
        caps->probe_unavailable_reason = g_strdup(s);
    }
    return TRUE;
}

static gboolean parse_caps(ItsmigHostCaps *caps, JsonObject *root, GError **error)
{
    g_autoptr(GList) members = NULL;
    JsonNode *node = json_object_get_member(root, "caps");
    JsonObject *o;

    if (!node)
        return missing(error, "caps");
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return bad_type(error, "caps", "an object", node);
    o = json_node_get_object(node);
    members = json_object_get_members(o);
    for (GList *l = members; l; l = l->next) {
        ItsmigCapField f;

        if (!field_from_json_name(l->data, &f)) {
            g_autofree char *shown = for_message(l->data);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "caps.%s: unknown field", shown);
            return FALSE;
        }
    }
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        JsonNode *field = json_object_get_member(o, fields[f].name);

        if (!field) {
            g_autofree char *path = g_strdup_printf("caps.%s", fields[f].name);

            return missing(error, path);
        }
        if (!parse_field(caps, f, field, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean parse_conflicts(const ItsmigHostCaps *caps, JsonObject *root, GError **error)
{
    JsonNode *node = json_object_get_member(root, "conflicts");
    JsonArray *a;
    guint len;
    guint32 listed = 0;
    gint prev = -1;

    if (!node)
        return missing(error, "conflicts");
    if (!JSON_NODE_HOLDS_ARRAY(node))
        return bad_type(error, "conflicts", "an array of field names", node);
    a = json_node_get_array(node);
    len = json_array_get_length(a);
    for (guint i = 0; i < len; i++) {
        JsonNode *e = json_array_get_element(a, i);
        g_autofree char *path = g_strdup_printf("conflicts[%u]", i);
        ItsmigCapField f;

        if (!node_is(e, G_TYPE_STRING))
            return bad_type(error, path, "a field name", e);
        if (!field_from_json_name(json_node_get_string(e), &f)) {
            g_autofree char *shown = for_message(json_node_get_string(e));

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: '%s' is not a field of caps", path, shown);
            return FALSE;
        }
        if (listed & (1u << f)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %s is listed twice", path, fields[f].name);
            return FALSE;
        }
        if (!caps->meta[f].conflict_probed) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %s is listed, but caps.%s has no probed member", path, fields[f].name,
                        fields[f].name);
            return FALSE;
        }
        if ((gint)f < prev) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %s comes after %s; expected the order of caps", path, fields[f].name,
                        fields[prev].name);
            return FALSE;
        }
        listed |= 1u << f;
        prev = f;
    }
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (caps->meta[f].conflict_probed && !(listed & (1u << f))) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "conflicts: caps.%s has a probed member, but %s is not listed",
                        fields[f].name, fields[f].name);
            return FALSE;
        }
    }
    return TRUE;
}

/* Refuses members of @o other than @allowed (NULL-terminated), naming the first. */
static gboolean only_members(JsonObject *o, const char *path, const char *const *allowed,
                             const char *expected, GError **error)
{
    const char *unknown = itsmig_json_unknown_member(o, allowed, NULL);
    g_autofree char *shown = NULL;

    if (!unknown)
        return TRUE;
    shown = for_message(unknown);
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                "%s.%s: unknown member; expected %s", path, shown, expected);
    return FALSE;
}

/* What itsmig_kvm_regs_from_json() leaves to the document: sizes KVM has,
 * values only where the probe reads them and within their width. */
static gboolean check_regs(const ItsmigKvmRegSet *set, GError **error)
{
    for (gsize i = 0; i < set->n_regs; i++) {
        const ItsmigKvmReg *r = &set->regs[i];
        guint size = reg_size_log2(r->id);

        if (size > REG_SIZE_LOG2_MAX) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "vcpu_registers.registers[%zu]: id 0x%016" G_GINT64_MODIFIER
                        "x has a size of %u bits; KVM's registers have at most 2048",
                        i, r->id, 8u << size);
            return FALSE;
        }
        if (r->has_value && !reg_takes_value(r->id)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "vcpu_registers.registers[%zu].value: id 0x%016" G_GINT64_MODIFIER
                        "x is not an ID or firmware register of at most 64 bits; only those "
                        "carry values",
                        i, r->id);
            return FALSE;
        }
        if (r->has_value && size < 3 && r->value >> (8u << size) != 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "vcpu_registers.registers[%zu].value: 0x%" G_GINT64_MODIFIER
                        "x does not fit a register of %u bits",
                        i, r->value, 8u << size);
            return FALSE;
        }
        if (r->has_writable && !r->has_value) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "vcpu_registers.registers[%zu].writable: a mask without a value", i);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean parse_regs(ItsmigHostCaps *caps, JsonObject *root, GError **error)
{
    JsonNode *node = json_object_get_member(root, "vcpu_registers");
    ItsmigKvmRegSet set;

    if (!node)
        return missing(error, "vcpu_registers");
    if (!itsmig_kvm_regs_from_json(node, "vcpu_registers", &set, error))
        return FALSE;
    if (!check_regs(&set, error)) {
        itsmig_kvm_regs_clear(&set);
        return FALSE;
    }
    if (!set.available) {
        const char *problem = string_problem(set.unavailable_reason, STRING_MAX);

        if (problem) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "vcpu_registers.unavailable_reason: %s", problem);
            itsmig_kvm_regs_clear(&set);
            return FALSE;
        }
    }
    itsmig_kvm_regs_clear(&caps->regs);
    caps->regs = set;
    /* itsmig_kvm_regs_from_json() checked the member against the registers. */
    if (set.available)
        caps->regs_digest =
            g_strdup(json_object_get_string_member(json_node_get_object(node), "digest"));
    return TRUE;
}

static gboolean parse_fact(JsonObject *o, const char *name, const char *value_member,
                           JsonNode **ret_value, GError **error)
{
    g_autofree char *path = g_strdup_printf("its_semantics.%s", name);
    g_autofree char *value_path = g_strdup_printf("%s.%s", path, value_member);
    g_autofree char *how_path = g_strdup_printf("%s.measured_by", path);
    const char *allowed[] = {value_member, "measured_by", NULL};
    g_autofree char *expected = g_strdup_printf("%s and measured_by", value_member);
    JsonNode *node = json_object_get_member(o, name);
    JsonObject *fact;
    const char *how;

    if (!node)
        return missing(error, path);
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return bad_type(error, path, "an object", node);
    fact = json_node_get_object(node);
    if (!only_members(fact, path, allowed, expected, error))
        return FALSE;
    if (!json_object_has_member(fact, "measured_by"))
        return missing(error, how_path);
    if (!get_string(json_object_get_member(fact, "measured_by"), how_path, STRING_MAX * 2, &how,
                    error))
        return FALSE;
    *ret_value = json_object_get_member(fact, value_member);
    if (!*ret_value)
        return missing(error, value_path);
    return TRUE;
}

static gboolean get_errno(JsonNode *node, const char *path, int *ret, GError **error)
{
    gint64 n;

    if (!node_is(node, G_TYPE_INT64))
        return bad_type(error, path, "an errno (0 for success)", node);
    n = json_node_get_int(node);
    /* Linux's errno values stop short of 4096 (MAX_ERRNO). */
    if (n < 0 || n > 4095) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "%s: %" G_GINT64_FORMAT " is outside 0..4095", path, n);
        return FALSE;
    }
    *ret = (int)n;
    return TRUE;
}

static gboolean parse_semantics(ItsmigHostCaps *caps, JsonObject *root, GError **error)
{
    static const char *const allowed[] = {
        "source", "reason", "save_unreachable_device", "baser_write", "gicd_access_before_init",
        NULL};
    ItsmigHostItsSemantics *sem = &caps->its_semantics;
    JsonNode *node = json_object_get_member(root, "its_semantics");
    JsonNode *m;
    JsonObject *o;
    const char *s;

    if (!node)
        return missing(error, "its_semantics");
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return bad_type(error, "its_semantics", "an object", node);
    o = json_node_get_object(node);
    if (!only_members(o, "its_semantics", allowed,
                      "source, reason, save_unreachable_device, baser_write and "
                      "gicd_access_before_init",
                      error))
        return FALSE;
    m = json_object_get_member(o, "source");
    if (!m)
        return missing(error, "its_semantics.source");
    if (!node_is(m, G_TYPE_STRING))
        return bad_type(error, "its_semantics.source", "a string", m);
    if (strcmp(json_node_get_string(m), "unknown") == 0) {
        for (guint i = 2; allowed[i]; i++) {
            if (json_object_has_member(o, allowed[i])) {
                g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                            "its_semantics.%s: present, but its_semantics.source is unknown",
                            allowed[i]);
                return FALSE;
            }
        }
        m = json_object_get_member(o, "reason");
        if (!m)
            return missing(error, "its_semantics.reason");
        if (!get_string(m, "its_semantics.reason", STRING_MAX, &s, error))
            return FALSE;
        sem->reason = g_strdup(s);
        return TRUE;
    }
    if (strcmp(json_node_get_string(m), "probed") != 0) {
        g_autofree char *shown = for_message(json_node_get_string(m));

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "its_semantics.source: '%s' is not probed or unknown", shown);
        return FALSE;
    }
    m = json_object_get_member(o, "reason");
    if (m && !JSON_NODE_HOLDS_NULL(m)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "its_semantics.reason: must be null or absent when the facts are probed");
        return FALSE;
    }
    if (!parse_fact(o, "save_unreachable_device", "errno", &m, error) ||
        !get_errno(m, "its_semantics.save_unreachable_device.errno",
                   &sem->facts.save_unreachable_device_errno, error))
        return FALSE;
    if (!parse_fact(o, "baser_write", "keeps_mappings", &m, error))
        return FALSE;
    if (!node_is(m, G_TYPE_BOOLEAN))
        return bad_type(error, "its_semantics.baser_write.keeps_mappings", "a boolean", m);
    sem->facts.baser_write_keeps_mappings = json_node_get_boolean(m);
    if (!parse_fact(o, "gicd_access_before_init", "errno", &m, error) ||
        !get_errno(m, "its_semantics.gicd_access_before_init.errno",
                   &sem->facts.gicd_access_before_init_errno, error))
        return FALSE;
    sem->facts.measured = TRUE;
    sem->source = ITSMIG_CAP_PROBED;
    return TRUE;
}

/* schema, version and hostname: what must hold before the rest means anything. */
static gboolean parse_header(JsonObject *o, guint *ret_minor, const char **ret_hostname,
                             GError **error)
{
    JsonNode *node;
    gint64 version;

    node = json_object_get_member(o, "schema");
    if (!node)
        return missing(error, "schema");
    if (!node_is(node, G_TYPE_STRING))
        return bad_type(error, "schema", "a string", node);
    if (strcmp(json_node_get_string(node), ITSMIG_HOST_CAPS_SCHEMA) != 0) {
        g_autofree char *shown = for_message(json_node_get_string(node));

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS, "schema: '%s' is not %s",
                    shown, ITSMIG_HOST_CAPS_SCHEMA);
        return FALSE;
    }

    node = json_object_get_member(o, "version");
    if (!node)
        return missing(error, "version");
    if (!node_is(node, G_TYPE_INT64))
        return bad_type(error, "version", "an integer", node);
    version = json_node_get_int(node);
    if (version != ITSMIG_HOST_CAPS_VERSION) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "version: the peer speaks version %" G_GINT64_FORMAT
                    " of %s; this itsmig knows version %d",
                    version, ITSMIG_HOST_CAPS_SCHEMA, ITSMIG_HOST_CAPS_VERSION);
        return FALSE;
    }

    /* Absent in the documents of the first itsmig: minor version 0. */
    *ret_minor = 0;
    node = json_object_get_member(o, "minor_version");
    if (node) {
        gint64 minor;

        if (!node_is(node, G_TYPE_INT64))
            return bad_type(error, "minor_version", "an integer", node);
        minor = json_node_get_int(node);
        if (minor < 0 || minor > G_MAXUINT16) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "minor_version: %" G_GINT64_FORMAT " is outside 0..%u", minor, G_MAXUINT16);
            return FALSE;
        }
        *ret_minor = minor;
    }

    node = json_object_get_member(o, "hostname");
    if (!node)
        return missing(error, "hostname");
    return get_string(node, "hostname", HOSTNAME_MAX, ret_hostname, error);
}

ItsmigHostCaps *itsmig_host_caps_from_json(const char *text, gssize len, GError **error)
{
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(ItsmigHostCaps) caps = NULL;
    JsonNode *root;
    JsonObject *o;
    const char *hostname;
    guint minor;

    g_return_val_if_fail(text != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    if (len < 0)
        len = strlen(text);
    if ((gsize)len > ITSMIG_HOST_CAPS_MAX) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "host capabilities document of %" G_GSSIZE_FORMAT
                    " bytes, more than the limit of %u",
                    len, (guint)ITSMIG_HOST_CAPS_MAX);
        return NULL;
    }

    if (!itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, "host capabilities document", error))
        return NULL;
    parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, text, len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON,
                    "host capabilities document is not JSON: %s", local->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "host capabilities document: expected an object, got %s",
                    root ? node_kind(root) : "nothing");
        return NULL;
    }
    o = json_node_get_object(root);
    if (!parse_header(o, &minor, &hostname, error))
        return NULL;

    caps = itsmig_host_caps_new(hostname);
    caps->minor_version = minor;
    if (!parse_probe(caps, o, error) || !parse_caps(caps, o, error) ||
        !parse_conflicts(caps, o, error))
        return NULL;
    if (minor >= 1) {
        if (!parse_regs(caps, o, error) || !parse_semantics(caps, o, error))
            return NULL;
    } else {
        /* A peer from before the register set: it works on, knowing less. */
        g_snprintf(caps->regs.unavailable_reason, sizeof(caps->regs.unavailable_reason),
                   "%s's itsmig predates the register set in its document (minor version 0)",
                   caps->hostname);
        caps->its_semantics.reason =
            g_strdup_printf("%s's itsmig predates the vITS facts in its document (minor version 0)",
                            caps->hostname);
    }
    if (!itsmig_host_caps_check(caps, error))
        return NULL;
    return g_steal_pointer(&caps);
}
