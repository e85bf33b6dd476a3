/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host capabilities document's strict reader: every member checked, every value validated. */
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
    problem = host_caps_string_problem(s, max);
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

    switch (host_caps_fields[f].kind) {
    case KIND_STRING:
    case KIND_VERSION:
        if (!get_string(node, path, STRING_MAX, &s, error))
            return FALSE;
        if (host_caps_fields[f].kind == KIND_VERSION && !host_caps_is_version(s)) {
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
        if (n < 0 || !host_caps_is_page_size(n)) {
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
        if (!host_caps_gicv4_from_string(json_node_get_string(node), &ret->gicv4)) {
            g_autofree char *shown = host_caps_for_message(json_node_get_string(node));

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: '%s' is not none, 4.0 or 4.1", path, shown);
            return FALSE;
        }
        return TRUE;
    }
    g_assert_not_reached();
}

/* caps.NAME.probed: the probe's value where a declared one (@declared) overrides it. */
static gboolean parse_probed(ItsmigHostCaps *caps, ItsmigCapField f, JsonNode *probed,
                             ItsmigCapSource source, const CapValue *declared, GError **error)
{
    g_autofree char *probed_path = g_strdup_printf("caps.%s.probed", host_caps_fields[f].name);
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
    probed_text = host_caps_value_to_text(f, &pv);
    declared_text = host_caps_value_to_text(f, declared);
    if (strcmp(probed_text, declared_text) == 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "%s: equals the declared value, so it is no conflict", probed_path);
        return FALSE;
    }
    caps->meta[f].conflict_probed = g_steal_pointer(&probed_text);
    return TRUE;
}

static gboolean parse_field(ItsmigHostCaps *caps, ItsmigCapField f, JsonNode *node, GError **error)
{
    const char *name = host_caps_fields[f].name;
    g_autofree char *path = g_strdup_printf("caps.%s", name);
    g_autofree char *value_path = g_strdup_printf("caps.%s.value", name);
    g_autofree char *source_path = g_strdup_printf("caps.%s.source", name);
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
            g_autofree char *shown = host_caps_for_message(m);

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
    if (!host_caps_source_from_string(json_node_get_string(source_node), &source)) {
        g_autofree char *shown = host_caps_for_message(json_node_get_string(source_node));

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
    if (probed && !parse_probed(caps, f, probed, source, &v, error))
        return FALSE;

    caps->meta[f].source = source;
    if (source != ITSMIG_CAP_UNKNOWN)
        host_caps_value_store(caps, f, &v);
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
            g_autofree char *shown = host_caps_for_message(l->data);

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

        if (!host_caps_field_from_json_name(l->data, &f)) {
            g_autofree char *shown = host_caps_for_message(l->data);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "caps.%s: unknown field", shown);
            return FALSE;
        }
    }
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        JsonNode *field = json_object_get_member(o, host_caps_fields[f].name);

        if (!field) {
            g_autofree char *path = g_strdup_printf("caps.%s", host_caps_fields[f].name);

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
        if (!host_caps_field_from_json_name(json_node_get_string(e), &f)) {
            g_autofree char *shown = host_caps_for_message(json_node_get_string(e));

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: '%s' is not a field of caps", path, shown);
            return FALSE;
        }
        if (listed & (1u << f)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %s is listed twice", path, host_caps_fields[f].name);
            return FALSE;
        }
        if (!caps->meta[f].conflict_probed) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %s is listed, but caps.%s has no probed member", path,
                        host_caps_fields[f].name, host_caps_fields[f].name);
            return FALSE;
        }
        if ((gint)f < prev) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: %s comes after %s; expected the order of caps", path,
                        host_caps_fields[f].name, host_caps_fields[prev].name);
            return FALSE;
        }
        listed |= 1u << f;
        prev = f;
    }
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (caps->meta[f].conflict_probed && !(listed & (1u << f))) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "conflicts: caps.%s has a probed member, but %s is not listed",
                        host_caps_fields[f].name, host_caps_fields[f].name);
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
    shown = host_caps_for_message(unknown);
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
        guint size = host_caps_reg_size_log2(r->id);

        if (size > REG_SIZE_LOG2_MAX) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "vcpu_registers.registers[%zu]: id 0x%016" G_GINT64_MODIFIER
                        "x has a size of %u bits; KVM's registers have at most 2048",
                        i, r->id, 8u << size);
            return FALSE;
        }
        if (r->has_value && !host_caps_reg_takes_value(r->id)) {
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
        const char *problem = host_caps_string_problem(set.unavailable_reason, STRING_MAX);

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
        g_autofree char *shown = host_caps_for_message(json_node_get_string(m));

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

static gboolean parse_machine_types(ItsmigHostCaps *caps, JsonObject *root, GError **error)
{
    static const char *const allowed[] = {"source", "reason", "arch", "emulator", "value", NULL};
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    ItsmigHostMachineTypes *mt = &caps->machine_types;
    JsonNode *node = json_object_get_member(root, "machine_types");
    JsonNode *m;
    JsonObject *o;
    JsonArray *a;
    const char *s;
    const char *emulator = NULL;
    guint n;

    if (!node)
        return missing(error, "machine_types");
    if (!JSON_NODE_HOLDS_OBJECT(node))
        return bad_type(error, "machine_types", "an object", node);
    o = json_node_get_object(node);
    if (!only_members(o, "machine_types", allowed, "source, reason, arch, emulator and value",
                      error))
        return FALSE;
    m = json_object_get_member(o, "source");
    if (!m)
        return missing(error, "machine_types.source");
    if (!node_is(m, G_TYPE_STRING))
        return bad_type(error, "machine_types.source", "a string", m);
    if (strcmp(json_node_get_string(m), "unknown") == 0) {
        for (guint i = 2; allowed[i]; i++) {
            if (json_object_has_member(o, allowed[i])) {
                g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                            "machine_types.%s: present, but machine_types.source is unknown",
                            allowed[i]);
                return FALSE;
            }
        }
        m = json_object_get_member(o, "reason");
        if (!m)
            return missing(error, "machine_types.reason");
        if (!get_string(m, "machine_types.reason", STRING_MAX, &s, error))
            return FALSE;
        mt->reason = g_strdup(s);
        return TRUE;
    }
    if (strcmp(json_node_get_string(m), "probed") != 0) {
        g_autofree char *shown = host_caps_for_message(json_node_get_string(m));

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "machine_types.source: '%s' is not probed or unknown", shown);
        return FALSE;
    }
    m = json_object_get_member(o, "reason");
    if (m && !JSON_NODE_HOLDS_NULL(m)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "machine_types.reason: must be null or absent when they are probed");
        return FALSE;
    }
    m = json_object_get_member(o, "arch");
    if (!m)
        return missing(error, "machine_types.arch");
    if (!get_string(m, "machine_types.arch", STRING_MAX, &s, error))
        return FALSE;
    if (!host_caps_machine_name_ok(s)) {
        g_autofree char *shown = host_caps_for_message(s);

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "machine_types.arch: '%s' is not an architecture name", shown);
        return FALSE;
    }
    m = json_object_get_member(o, "emulator");
    if (!m)
        return missing(error, "machine_types.emulator");
    if (!JSON_NODE_HOLDS_NULL(m)) {
        if (!get_string(m, "machine_types.emulator", STRING_MAX, &emulator, error))
            return FALSE;
    }
    m = json_object_get_member(o, "value");
    if (!m)
        return missing(error, "machine_types.value");
    if (!JSON_NODE_HOLDS_ARRAY(m))
        return bad_type(error, "machine_types.value", "an array of machine types", m);
    a = json_node_get_array(m);
    n = json_array_get_length(a);
    if (n == 0 || n > ITSMIG_MACHINE_TYPES_MAX) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                    "machine_types.value: %u machine types, expected 1..%u", n,
                    ITSMIG_MACHINE_TYPES_MAX);
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        JsonNode *e = json_array_get_element(a, i);
        g_autofree char *path = g_strdup_printf("machine_types.value[%u]", i);
        const char *name;

        if (!node_is(e, G_TYPE_STRING))
            return bad_type(error, path, "a string", e);
        name = json_node_get_string(e);
        if (!host_caps_machine_name_ok(name)) {
            g_autofree char *shown = host_caps_for_message(name);

            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: '%s' is not a machine type (at most %u letters, digits and "
                        "\"._+-\")",
                        path, shown, ITSMIG_MACHINE_TYPE_NAME_MAX);
            return FALSE;
        }
        /* Sorted without duplicates, as written: a reader can trust the order. */
        if (i > 0 && strcmp(g_ptr_array_index(names, i - 1), name) >= 0) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS,
                        "%s: '%s' is out of order or repeated (the list is sorted, without "
                        "duplicates)",
                        path, name);
            return FALSE;
        }
        g_ptr_array_add(names, (gpointer)name);
    }
    mt->source = ITSMIG_CAP_PROBED;
    mt->arch = g_strdup(s);
    mt->emulator = g_strdup(emulator);
    mt->names = host_caps_machine_names_sorted(names);
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
        g_autofree char *shown = host_caps_for_message(json_node_get_string(node));

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

/* Why a peer's document lacks @what: a reason that fits the document's strings (and the
 * register set's buffer) whatever the hostname, so that it is written out and read back. */
static char *predates(const ItsmigHostCaps *caps, const char *what, guint minor)
{
    g_autofree char *name = NULL;

    if (g_utf8_strlen(caps->hostname, -1) > 32) {
        g_autofree char *head = g_utf8_substring(caps->hostname, 0, 29);

        name = g_strconcat(head, "...", NULL);
    } else {
        name = g_strdup(caps->hostname);
    }
    return g_strdup_printf("%s's itsmig predates %s in its document (minor version %u)", name, what,
                           minor);
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
        g_autofree char *why = predates(caps, "the register set", minor);

        g_strlcpy(caps->regs.unavailable_reason, why, sizeof(caps->regs.unavailable_reason));
        caps->its_semantics.reason = predates(caps, "the vITS facts", minor);
    }
    if (minor >= 2) {
        if (!parse_machine_types(caps, o, error))
            return NULL;
    } else {
        caps->machine_types.reason = predates(caps, "the machine types", minor);
    }
    if (!itsmig_host_caps_check(caps, error))
        return NULL;
    return g_steal_pointer(&caps);
}
