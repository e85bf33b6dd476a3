/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-its-json.h"
#include "itsmig/kvm-regs-json.h"

/* "0x" and 16 hex digits. */
#define HEX64_LEN 18

char *itsmig_kvm_regs_digest(const ItsmigKvmRegSet *set)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);

    for (size_t i = 0; i < set->n_regs; i++) {
        char line[20];

        g_snprintf(line, sizeof(line), "%016" PRIx64 "\n", set->regs[i].id);
        g_checksum_update(sum, (const guchar *)line, 17);
    }
    return g_strconcat("sha256:", g_checksum_get_string(sum), NULL);
}

static void add_hex(JsonBuilder *b, const char *member, guint64 v)
{
    char buf[HEX64_LEN + 1];

    g_snprintf(buf, sizeof(buf), "0x%016" G_GINT64_MODIFIER "x", v);
    json_builder_set_member_name(b, member);
    json_builder_add_string_value(b, buf);
}

void itsmig_vcpu_features_to_json(JsonBuilder *b, const char *member, guint32 features)
{
    json_builder_set_member_name(b, member);
    json_builder_begin_array(b);
    for (guint32 bit = 1; bit & ITSMIG_VCPU_FEATURES_ALL; bit <<= 1) {
        if (features & bit)
            json_builder_add_string_value(b, itsmig_vcpu_feature_name(bit));
    }
    json_builder_end_array(b);
}

JsonNode *itsmig_kvm_regs_to_json(const ItsmigKvmRegSet *set)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autofree char *digest = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "available");
    json_builder_add_boolean_value(b, set->available);
    itsmig_json_add_string_or_null(b, "unavailable_reason",
                                   set->available ? NULL : set->unavailable_reason);
    if (!set->available) {
        static const char *const keys[] = {"features", "writable_masks", "count", "digest",
                                           "registers"};
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
            json_builder_set_member_name(b, keys[i]);
            json_builder_add_null_value(b);
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
    }
    itsmig_vcpu_features_to_json(b, "features", set->features);
    json_builder_set_member_name(b, "writable_masks");
    json_builder_add_boolean_value(b, set->writable_masks);
    json_builder_set_member_name(b, "count");
    json_builder_add_int_value(b, (gint64)set->n_regs);
    digest = itsmig_kvm_regs_digest(set);
    json_builder_set_member_name(b, "digest");
    json_builder_add_string_value(b, digest);
    json_builder_set_member_name(b, "registers");
    json_builder_begin_array(b);
    for (size_t i = 0; i < set->n_regs; i++) {
        const ItsmigKvmReg *r = &set->regs[i];

        json_builder_begin_object(b);
        add_hex(b, "id", r->id);
        if (r->has_value)
            add_hex(b, "value", r->value);
        if (r->has_writable)
            add_hex(b, "writable", r->writable);
        if (r->features)
            itsmig_vcpu_features_to_json(b, "needs", r->features);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *itsmig_kvm_probe_to_json(const ItsmigKvmItsCaps *caps, const ItsmigKvmRegSet *regs)
{
    JsonNode *node = itsmig_kvm_its_caps_to_json(caps);

    json_object_set_member(json_node_get_object(node), "vcpu_registers",
                           itsmig_kvm_regs_to_json(regs));
    return node;
}

/* ---- the strict reader ------------------------------------------------------ */

static gboolean fail(GError **error, const char *what, const char *path, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean fail(GError **error, const char *what, const char *path, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS, "%s: %s: %s", what, path, msg);
    return FALSE;
}

static gboolean is_string(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

static gboolean is_bool(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN;
}

/* "0x" and exactly 16 lowercase hex digits, as the writer writes them. */
static gboolean parse_hex64(JsonNode *node, guint64 *ret)
{
    const char *s;
    guint64 v = 0;

    if (!is_string(node))
        return FALSE;
    s = json_node_get_string(node);
    if (strlen(s) != HEX64_LEN || s[0] != '0' || s[1] != 'x')
        return FALSE;
    for (const char *p = s + 2; *p; p++) {
        int d = g_ascii_xdigit_value(*p);
        if (d < 0 || g_ascii_isupper(*p))
            return FALSE;
        v = v << 4 | (guint)d;
    }
    *ret = v;
    return TRUE;
}

static gboolean parse_features(JsonNode *node, const char *what, const char *path,
                               guint32 *ret_features, GError **error)
{
    JsonArray *a;
    guint32 features = 0;

    if (!JSON_NODE_HOLDS_ARRAY(node))
        return fail(error, what, path, "expected an array of feature names");
    a = json_node_get_array(node);
    if (json_array_get_length(a) > 8)
        return fail(error, what, path, "%u features, more than 8", json_array_get_length(a));
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        ItsmigVcpuFeature f;

        if (!is_string(e))
            return fail(error, what, path, "expected feature names (strings)");
        f = itsmig_vcpu_feature_from_name(json_node_get_string(e));
        if (!f)
            return fail(error, what, path,
                        "unknown vCPU feature (known: psci-0.2, pmu, sve, "
                        "ptrauth)");
        if (features & f)
            return fail(error, what, path, "feature %s is listed twice",
                        itsmig_vcpu_feature_name(f));
        features |= f;
    }
    *ret_features = features;
    return TRUE;
}

static gboolean only_members(JsonObject *o, const char *const *known, const char *what,
                             const char *path, GError **error)
{
    const char *unknown = itsmig_json_unknown_member(o, known, NULL);
    g_autofree char *p = NULL;

    if (!unknown)
        return TRUE;
    p = g_strdup_printf("%s.%s", path, unknown);
    return fail(error, what, p, "unknown member");
}

static gboolean parse_register(JsonNode *node, const char *what, guint i, guint32 set_features,
                               ItsmigKvmReg *ret, GError **error)
{
    static const char *const known[] = {"id", "value", "writable", "needs", NULL};
    g_autofree char *path = g_strdup_printf("registers[%u]", i);
    JsonObject *o;
    JsonNode *m;

    if (!JSON_NODE_HOLDS_OBJECT(node))
        return fail(error, what, path, "expected an object");
    o = json_node_get_object(node);
    if (!only_members(o, known, what, path, error))
        return FALSE;
    m = json_object_get_member(o, "id");
    if (!m)
        return fail(error, what, path, "no id");
    if (!parse_hex64(m, &ret->id) || (ret->id & ITSMIG_KVM_REG_ARCH_MASK) != ITSMIG_KVM_REG_ARM64)
        return fail(error, what, path,
                    "id is not \"0x\" and 16 lowercase hex digits of an arm64 "
                    "KVM register id");
    m = json_object_get_member(o, "value");
    if (m) {
        if (!parse_hex64(m, &ret->value))
            return fail(error, what, path, "value is not \"0x\" and 16 lowercase hex digits");
        ret->has_value = true;
    }
    m = json_object_get_member(o, "writable");
    if (m) {
        if (!parse_hex64(m, &ret->writable))
            return fail(error, what, path, "writable is not \"0x\" and 16 lowercase hex digits");
        if (!itsmig_kvm_reg_is_id(ret->id))
            return fail(error, what, path,
                        "a writable mask for a register outside the ID "
                        "register range");
        ret->has_writable = true;
    }
    m = json_object_get_member(o, "needs");
    if (m) {
        g_autofree char *p = g_strdup_printf("%s.needs", path);

        if (!parse_features(m, what, p, &ret->features, error))
            return FALSE;
        if (ret->features == 0)
            return fail(error, what, p, "empty (leave it out instead)");
        if (ret->features & ~set_features)
            return fail(error, what, p, "needs a feature the vCPU was not initialised with");
    }
    return TRUE;
}

/* The registers of an available @set, ascending and each once; set->regs
 * malloc'd, as itsmig_kvm_regs_clear() expects. */
static gboolean parse_registers(JsonArray *regs, const char *what, ItsmigKvmRegSet *set,
                                GError **error)
{
    guint len = json_array_get_length(regs);

    set->regs = calloc(len, sizeof(*set->regs));
    if (!set->regs)
        return fail(error, what, "registers", "out of memory for %u registers", len);
    set->n_regs = len;
    for (guint i = 0; i < len; i++) {
        if (!parse_register(json_array_get_element(regs, i), what, i, set->features, &set->regs[i],
                            error))
            return FALSE;
        if (i > 0 && set->regs[i].id <= set->regs[i - 1].id) {
            g_autofree char *path = g_strdup_printf("registers[%u]", i);
            return fail(error, what, path, "id 0x%016" G_GINT64_MODIFIER "x %s", set->regs[i].id,
                        set->regs[i].id == set->regs[i - 1].id ? "is listed twice"
                                                               : "is out of order (ids ascend)");
        }
        if (!set->writable_masks && set->regs[i].has_writable) {
            g_autofree char *path = g_strdup_printf("registers[%u].writable", i);
            return fail(error, what, path, "a mask although writable_masks is false");
        }
    }
    return TRUE;
}

gboolean itsmig_kvm_regs_from_json(JsonNode *node, const char *what, ItsmigKvmRegSet *ret_set,
                                   GError **error)
{
    static const char *const known[] = {
        "available", "unavailable_reason", "features", "writable_masks", "count",
        "digest",    "registers",          NULL};
    ItsmigKvmRegSet set = {0};
    JsonObject *o;
    JsonNode *m;
    JsonArray *regs;
    gint64 count;
    guint len;
    g_autofree char *digest = NULL;

    memset(ret_set, 0, sizeof(*ret_set));
    if (!node || !JSON_NODE_HOLDS_OBJECT(node))
        return fail(error, what, "vcpu_registers", "expected an object");
    o = json_node_get_object(node);
    if (!only_members(o, known, what, "vcpu_registers", error))
        return FALSE;
    for (size_t i = 0; known[i]; i++) {
        if (!json_object_has_member(o, known[i]))
            return fail(error, what, known[i], "missing");
    }
    m = json_object_get_member(o, "available");
    if (!is_bool(m))
        return fail(error, what, "available", "expected a boolean");
    set.available = json_node_get_boolean(m);
    m = json_object_get_member(o, "unavailable_reason");
    if (!set.available) {
        if (!is_string(m) || strlen(json_node_get_string(m)) >= sizeof(set.unavailable_reason))
            return fail(error, what, "unavailable_reason", "expected a string of at most %zu bytes",
                        sizeof(set.unavailable_reason) - 1);
        for (size_t i = 2; known[i]; i++) {
            if (!JSON_NODE_HOLDS_NULL(json_object_get_member(o, known[i])))
                return fail(error, what, known[i], "not null although the set is unavailable");
        }
        g_strlcpy(set.unavailable_reason, json_node_get_string(m), sizeof(set.unavailable_reason));
        *ret_set = set;
        return TRUE;
    }
    if (!JSON_NODE_HOLDS_NULL(m))
        return fail(error, what, "unavailable_reason", "expected null for an available set");
    if (!parse_features(json_object_get_member(o, "features"), what, "features", &set.features,
                        error))
        return FALSE;
    m = json_object_get_member(o, "writable_masks");
    if (!is_bool(m))
        return fail(error, what, "writable_masks", "expected a boolean");
    set.writable_masks = json_node_get_boolean(m);
    m = json_object_get_member(o, "count");
    if (!JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_INT64)
        return fail(error, what, "count", "expected an integer");
    count = json_node_get_int(m);
    if (count < 1 || count > ITSMIG_KVM_REGS_MAX)
        return fail(error, what, "count", "%" G_GINT64_FORMAT " is outside 1..%u", count,
                    ITSMIG_KVM_REGS_MAX);
    m = json_object_get_member(o, "registers");
    if (!JSON_NODE_HOLDS_ARRAY(m))
        return fail(error, what, "registers", "expected an array");
    regs = json_node_get_array(m);
    len = json_array_get_length(regs);
    if (len != count)
        return fail(error, what, "registers", "%u registers, but count says %" G_GINT64_FORMAT, len,
                    count);
    if (!parse_registers(regs, what, &set, error))
        goto fail;

    m = json_object_get_member(o, "digest");
    digest = itsmig_kvm_regs_digest(&set);
    if (!is_string(m) || strcmp(json_node_get_string(m), digest) != 0) {
        fail(error, what, "digest", "does not match the registers listed (expected %s)", digest);
        goto fail;
    }
    *ret_set = set;
    return TRUE;

fail:
    free(set.regs);
    return FALSE;
}
