/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/error.h"
#include "itsmig/kvm-probe-text.h"
#include "itsmig/kvm-regs-json.h"
#include "itsmig/kvm-regs.h"

#include "probe-data.h"

/* ---- names and ids --------------------------------------------------------- */

typedef struct {
    guint64 id;
    const char *name;
} NameCase;

/* Ids as the kernel's uapi header spells them out or as KVM_GET_REG_LIST
 * prints them (e.g. in the kvm selftest get-reg-list's tables). */
static const NameCase name_cases[] = {
    {0x603000000013c000ull, "MIDR_EL1"},
    {0x603000000013c005ull, "MPIDR_EL1"},
    {0x603000000013c020ull, "ID_AA64PFR0_EL1"},
    {0x603000000013c021ull, "ID_AA64PFR1_EL1"},
    {0x603000000013c038ull, "ID_AA64MMFR0_EL1"},
    {0x603000000013c01cull, "ID_PFR2_EL1"},
    {0x603000000013c080ull, "SCTLR_EL1"},
    {0x603000000013df19ull, "KVM_REG_ARM_TIMER_CTL"},
    {0x603000000013df1aull, "KVM_REG_ARM_TIMER_CNT"},
    {0x603000000013df02ull, "KVM_REG_ARM_TIMER_CVAL"},
    {0x603000000013df40ull, "PMEVCNTR0_EL0"},
    {0x603000000013df7eull, "PMEVTYPER30_EL0"},
    {0x603000000013df7full, "PMCCFILTR_EL0"},
    {0x6030000000138004ull, "DBGBVR0_EL1"},
    {0x603000000013807full, "DBGWCR15_EL1"},
    {0x6030000000140000ull, "KVM_REG_ARM_PSCI_VERSION"},
    {0x6030000000140001ull, "KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_1"},
    {0x6030000000140003ull, "KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_3"},
    {0x6030000000160000ull, "KVM_REG_ARM_STD_BMAP"},
    {0x6030000000160001ull, "KVM_REG_ARM_STD_HYP_BMAP"},
    {0x6030000000160002ull, "KVM_REG_ARM_VENDOR_HYP_BMAP"},
    {0x6030000000160003ull, "KVM_REG_ARM_VENDOR_HYP_BMAP_2"},
    {0x6030000000100000ull, "core.x0"},
    {0x603000000010003cull, "core.x30"},
    {0x603000000010003eull, "core.sp"},
    {0x6030000000100040ull, "core.pc"},
    {0x6030000000100042ull, "core.pstate"},
    {0x6030000000100044ull, "core.sp_el1"},
    {0x6030000000100046ull, "core.elr_el1"},
    {0x6030000000100048ull, "core.spsr_el1"},
    {0x6030000000100050ull, "core.spsr_fiq"},
    {0x6040000000100054ull, "core.v0"},
    {0x60400000001000d0ull, "core.v31"},
    {0x60200000001000d4ull, "core.fpsr"},
    {0x60200000001000d5ull, "core.fpcr"},
    {0x6020000000110000ull, "CCSIDR_EL1[0]"},
    {0x6020000000110003ull, "CCSIDR_EL1[3]"},
    {0x6080000000150000ull, "SVE_Z0"},
    {0x60800000001503e0ull, "SVE_Z31"},
    {0x6080000000150001ull, "SVE_Z0[1]"},
    {0x6050000000150400ull, "SVE_P0"},
    {0x60500000001505e0ull, "SVE_P15"},
    {0x6050000000150600ull, "SVE_FFR"},
    {0x606000000015ffffull, "KVM_REG_ARM64_SVE_VLS"},
    {0x603000000013c580ull, "S3_0_C11_C0_0"},
};

static void test_names(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(name_cases); i++) {
        const NameCase *c = &name_cases[i];
        char buf[ITSMIG_KVM_REG_NAME_MAX];
        guint64 id = 0;

        g_assert_cmpstr(itsmig_kvm_reg_name(c->id, buf, sizeof(buf)), ==, c->name);
        g_assert_cmpint(itsmig_kvm_reg_from_name(c->name, &id), ==, 0);
        g_assert_cmphex(id, ==, c->id);
    }
}

static void test_decode(void)
{
    unsigned op0, op1, crn, crm, op2;
    char buf[ITSMIG_KVM_REG_NAME_MAX];
    guint64 id;

    g_assert_true(itsmig_kvm_sysreg_decode(0x603000000013df1aull, &op0, &op1, &crn, &crm, &op2));
    g_assert_cmpuint(op0, ==, 3);
    g_assert_cmpuint(op1, ==, 3);
    g_assert_cmpuint(crn, ==, 14);
    g_assert_cmpuint(crm, ==, 3);
    g_assert_cmpuint(op2, ==, 2);
    g_assert_cmphex(itsmig_kvm_sysreg_id(3, 0, 0, 4, 0), ==, 0x603000000013c020ull);
    /* Not system registers: core, firmware, a 32-bit size, another arch. */
    g_assert_false(itsmig_kvm_sysreg_decode(0x6030000000100000ull, &op0, &op1, &crn, &crm, &op2));
    g_assert_false(itsmig_kvm_sysreg_decode(0x6030000000140000ull, &op0, &op1, &crn, &crm, &op2));
    g_assert_false(itsmig_kvm_sysreg_decode(0x602000000013c000ull, &op0, &op1, &crn, &crm, &op2));
    g_assert_false(itsmig_kvm_sysreg_decode(0x403000000013c000ull, &op0, &op1, &crn, &crm, &op2));

    g_assert_cmpuint(itsmig_kvm_reg_size(0x6030000000100000ull), ==, 8);
    g_assert_cmpuint(itsmig_kvm_reg_size(0x60200000001000d4ull), ==, 4);
    g_assert_cmpuint(itsmig_kvm_reg_size(0x6040000000100054ull), ==, 16);
    g_assert_cmpuint(itsmig_kvm_reg_size(0x6080000000150000ull), ==, 256);

    /* ID registers: the range KVM_ARM_GET_REG_WRITABLE_MASKS covers. */
    g_assert_true(itsmig_kvm_reg_is_id(itsmig_kvm_sysreg_id(3, 0, 0, 0, 0)));
    g_assert_true(itsmig_kvm_reg_is_id(itsmig_kvm_sysreg_id(3, 3, 0, 0, 1)));  /* CTR_EL0 */
    g_assert_true(itsmig_kvm_reg_is_id(itsmig_kvm_sysreg_id(3, 1, 0, 0, 1)));  /* CLIDR_EL1 */
    g_assert_false(itsmig_kvm_reg_is_id(itsmig_kvm_sysreg_id(3, 2, 0, 0, 0))); /* CSSELR_EL1 */
    g_assert_false(itsmig_kvm_reg_is_id(itsmig_kvm_sysreg_id(3, 0, 1, 0, 0))); /* SCTLR_EL1 */
    g_assert_true(itsmig_kvm_reg_is_firmware(0x6030000000140002ull));
    g_assert_true(itsmig_kvm_reg_is_firmware(0x6030000000160003ull));
    g_assert_false(itsmig_kvm_reg_is_firmware(0x603000000013c000ull));

    /* What QEMU's cpreg list leaves to its own vmstate fields. */
    g_assert_false(itsmig_kvm_reg_in_cpreg_list(0x6030000000100040ull));
    g_assert_false(itsmig_kvm_reg_in_cpreg_list(0x6080000000150000ull));
    g_assert_true(itsmig_kvm_reg_in_cpreg_list(0x6020000000110000ull));
    g_assert_true(itsmig_kvm_reg_in_cpreg_list(0x6030000000160000ull));

    /* Every system register has a name that parses back to it. */
    for (unsigned op0b = 2; op0b <= 3; op0b++)
        for (unsigned o1 = 0; o1 < 8; o1++)
            for (unsigned n = 0; n < 16; n++)
                for (unsigned m = 0; m < 16; m++)
                    for (unsigned o2 = 0; o2 < 8; o2++) {
                        guint64 want = itsmig_kvm_sysreg_id(op0b, o1, n, m, o2);

                        itsmig_kvm_reg_name(want, buf, sizeof(buf));
                        g_assert_cmpint(itsmig_kvm_reg_from_name(buf, &id), ==, 0);
                        g_assert_cmphex(id, ==, want);
                    }
    /* The generic spelling of a known register is its id as well. */
    g_assert_cmpint(itsmig_kvm_reg_from_name("S3_0_C0_C0_0", &id), ==, 0);
    g_assert_cmphex(id, ==, 0x603000000013c000ull);
    /* Ids with no name print as hex, which parses back. */
    g_assert_cmpstr(itsmig_kvm_reg_name(0x6030000000170000ull, buf, sizeof(buf)), ==,
                    "0x6030000000170000");
    g_assert_cmpint(itsmig_kvm_reg_from_name("0x6030000000170000", &id), ==, 0);
    g_assert_cmphex(id, ==, 0x6030000000170000ull);
}

static void test_bad_names(void)
{
    static const char *const bad[] = {
        "",
        "MIDR",
        "midr_el1",
        "S3_0_C0_C0_8",
        "S4_0_C0_C0_0",
        "S3_0_C16_C0_0",
        "S3_0_C0_C0_",
        "S3_0_C01_C0_0",
        "core.x31",
        "core.v32",
        "core.",
        "CCSIDR_EL1[256]",
        "CCSIDR_EL1[1",
        "CCSIDR_EL1[01]",
        "SVE_Z32",
        "SVE_P16",
        "SVE_Z0[0]",
        "SVE_Z0[32]",
        "PMEVCNTR31_EL0",
        "DBGBVR16_EL1",
        "PMEVCNTR0_EL1",
        "0x603000000013c00",
        "0x403000000013c000",
        "0x603000000013C000",
        "KVM_REG_ARM_VENDOR_HYP_BMAP_3",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        guint64 id = 0x1234;

        g_test_message("%s", bad[i]);
        g_assert_cmpint(itsmig_kvm_reg_from_name(bad[i], &id), ==, -EINVAL);
        g_assert_cmphex(id, ==, 0x1234);
    }
}

static void test_features(void)
{
    for (guint32 bit = 1; bit & ITSMIG_VCPU_FEATURES_ALL; bit <<= 1) {
        const char *name = itsmig_vcpu_feature_name(bit);

        g_assert_nonnull(name);
        g_assert_cmpuint(itsmig_vcpu_feature_from_name(name), ==, bit);
    }
    g_assert_null(itsmig_vcpu_feature_name(ITSMIG_VCPU_FEATURE_PMU_V3 | ITSMIG_VCPU_FEATURE_SVE));
    g_assert_cmpuint(itsmig_vcpu_feature_from_name("el2"), ==, 0);
    g_assert_cmpuint(itsmig_vcpu_feature_from_name(NULL), ==, 0);
}

/* ---- JSON ------------------------------------------------------------------------ */

static ItsmigKvmReg sample_regs[] = {
    {.id = 0x6030000000100000ull},
    {.id = 0x603000000013c000ull,
     .value = 0x410fd4f0,
     .has_value = true,
     .writable = 0,
     .has_writable = true},
    {.id = 0x603000000013c020ull,
     .value = 0x1101000000000011ull,
     .has_value = true,
     .writable = 0x0f00000000000000ull,
     .has_writable = true,
     .features = ITSMIG_VCPU_FEATURE_SVE},
    {.id = 0x603000000013df40ull, .features = ITSMIG_VCPU_FEATURE_PMU_V3},
    {.id = 0x6030000000140000ull, .value = 0x10001, .has_value = true},
};

static void sample_set(ItsmigKvmRegSet *set)
{
    memset(set, 0, sizeof(*set));
    set->available = true;
    set->features =
        ITSMIG_VCPU_FEATURE_PSCI_0_2 | ITSMIG_VCPU_FEATURE_PMU_V3 | ITSMIG_VCPU_FEATURE_SVE;
    set->writable_masks = true;
    set->n_regs = G_N_ELEMENTS(sample_regs);
    set->regs = g_memdup2(sample_regs, sizeof(sample_regs));
}

static JsonNode *parse(const char *text)
{
    g_autoptr(JsonParser) p = json_parser_new();
    g_autoptr(GError) error = NULL;

    g_assert_true(json_parser_load_from_data(p, text, -1, &error));
    g_assert_no_error(error);
    return json_node_copy(json_parser_get_root(p));
}

static char *to_text(JsonNode *node)
{
    return json_to_string(node, FALSE);
}

static void test_json_round_trip(void)
{
    ItsmigKvmRegSet set, back;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(JsonNode) again = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *text2 = NULL;

    sample_set(&set);
    node = itsmig_kvm_regs_to_json(&set);
    text = to_text(node);
    g_assert_nonnull(strstr(text, "\"count\":5"));
    g_assert_nonnull(strstr(text, "\"id\":\"0x603000000013c020\""));
    g_assert_nonnull(strstr(text, "\"needs\":[\"sve\"]"));
    g_assert_nonnull(strstr(text, "\"features\":[\"psci-0.2\",\"pmu\",\"sve\"]"));
    /* Values and masks only where the probe took them. */
    g_assert_null(strstr(text, "\"id\":\"0x6030000000100000\",\"value\""));

    g_assert_true(itsmig_kvm_regs_from_json(node, "test", &back, &error));
    g_assert_no_error(error);
    g_assert_true(back.available);
    g_assert_cmpuint(back.features, ==, set.features);
    g_assert_cmpuint(back.n_regs, ==, set.n_regs);
    for (size_t i = 0; i < set.n_regs; i++) {
        g_assert_cmphex(back.regs[i].id, ==, set.regs[i].id);
        g_assert_cmpint(back.regs[i].has_value, ==, set.regs[i].has_value);
        g_assert_cmphex(back.regs[i].value, ==, set.regs[i].value);
        g_assert_cmpint(back.regs[i].has_writable, ==, set.regs[i].has_writable);
        g_assert_cmphex(back.regs[i].writable, ==, set.regs[i].writable);
        g_assert_cmpuint(back.regs[i].features, ==, set.regs[i].features);
    }
    again = itsmig_kvm_regs_to_json(&back);
    text2 = to_text(again);
    g_assert_cmpstr(text, ==, text2);
    g_assert_nonnull(itsmig_kvm_regs_find(&back, 0x603000000013df40ull));
    g_assert_null(itsmig_kvm_regs_find(&back, 0x603000000013df41ull));
    itsmig_kvm_regs_clear(&back);
    itsmig_kvm_regs_clear(&set);
    g_assert_null(set.regs);
}

static void test_json_unavailable(void)
{
    ItsmigKvmRegSet set = {0}, back;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;

    g_strlcpy(set.unavailable_reason, "no /dev/kvm", sizeof(set.unavailable_reason));
    node = itsmig_kvm_regs_to_json(&set);
    text = to_text(node);
    g_assert_cmpstr(text, ==,
                    "{\"available\":false,\"unavailable_reason\":\"no /dev/kvm\",\"features\":null,"
                    "\"writable_masks\":null,\"count\":null,\"digest\":null,\"registers\":null}");
    g_assert_true(itsmig_kvm_regs_from_json(node, "test", &back, &error));
    g_assert_no_error(error);
    g_assert_false(back.available);
    g_assert_cmpstr(back.unavailable_reason, ==, "no /dev/kvm");
}

typedef struct {
    const char *name;
    const char *from; /* a piece of the sample document ... */
    const char *to;   /* ... replaced by this */
    const char *message_has;
} BadCase;

static const BadCase bad_cases[] = {
    {"unknown-member", "\"count\":5", "\"count\":5,\"extra\":1", "unknown member"},
    {"count-mismatch", "\"count\":5", "\"count\":4", "count says 4"},
    {"count-oversized", "\"count\":5", "\"count\":100000", "outside 1..4096"},
    {"count-string", "\"count\":5", "\"count\":\"5\"", "expected an integer"},
    {"id-short", "\"0x6030000000100000\"", "\"0x603000000010000\"", "16 lowercase hex"},
    {"id-upper", "\"0x603000000013c000\"", "\"0x603000000013C000\"", "16 lowercase hex"},
    {"id-not-arm64", "\"0x6030000000100000\"", "\"0x4030000000100000\"", "arm64"},
    {"id-repeated", "\"0x6030000000140000\"", "\"0x603000000013df40\"", "listed twice"},
    {"id-descending", "\"0x6030000000100000\"", "\"0x6030000000150000\"", "out of order"},
    {"digest-wrong", "\"digest\":\"sha256:", "\"digest\":\"sha256:0", "does not match"},
    {"needs-unknown", "[\"sve\"]}", "[\"el2\"]}", "unknown vCPU feature"},
    {"needs-not-initialised", "\"needs\":[\"pmu\"]", "\"needs\":[\"ptrauth\"]",
     "not initialised with"},
    {"needs-empty", "\"needs\":[\"pmu\"]", "\"needs\":[]", "empty"},
    {"writable-outside-id", "\"id\":\"0x6030000000140000\",",
     "\"id\":\"0x6030000000140000\",\"writable\":\"0x0000000000000001\",", "outside the ID"},
    {"reason-when-available", "\"unavailable_reason\":null", "\"unavailable_reason\":\"x\"",
     "expected null"},
    {"available-string", "\"available\":true", "\"available\":\"yes\"", "expected a boolean"},
    {"features-twice", "\"features\":[\"psci-0.2\"", "\"features\":[\"pmu\",\"psci-0.2\"",
     "listed twice"},
};

static void test_json_bad(gconstpointer data)
{
    const BadCase *c = data;
    ItsmigKvmRegSet set, back;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(JsonNode) bad = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *bad_text = NULL;
    char *at;

    sample_set(&set);
    node = itsmig_kvm_regs_to_json(&set);
    itsmig_kvm_regs_clear(&set);
    text = to_text(node);
    at = strstr(text, c->from);
    g_assert_nonnull(at);
    bad_text = g_strdup_printf("%.*s%s%s", (int)(at - text), text, c->to, at + strlen(c->from));
    bad = parse(bad_text);
    g_assert_false(itsmig_kvm_regs_from_json(bad, "peer document", &back, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, "peer document"));
    g_assert_nonnull(strstr(error->message, c->message_has));
    g_assert_cmpuint(back.n_regs, ==, 0);
    g_assert_null(back.regs);
}

/* Exactly the limit is fine; one more is refused before anything is kept. */
static void test_json_limit(void)
{
    ItsmigKvmRegSet set = {.available = true, .features = 0}, back;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(GError) error = NULL;
    JsonObject *o;
    JsonArray *regs;

    set.n_regs = ITSMIG_KVM_REGS_MAX;
    set.regs = g_new0(ItsmigKvmReg, set.n_regs);
    for (size_t i = 0; i < set.n_regs; i++)
        set.regs[i].id = 0x6030000000130000ull + i;
    node = itsmig_kvm_regs_to_json(&set);
    g_free(set.regs);
    g_assert_true(itsmig_kvm_regs_from_json(node, "test", &back, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(back.n_regs, ==, ITSMIG_KVM_REGS_MAX);
    itsmig_kvm_regs_clear(&back);

    o = json_node_get_object(node);
    regs = json_object_get_array_member(o, "registers");
    json_array_add_element(regs, json_node_copy(json_array_get_element(regs, 0)));
    json_object_set_int_member(o, "count", ITSMIG_KVM_REGS_MAX + 1);
    g_assert_false(itsmig_kvm_regs_from_json(node, "test", &back, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_HOST_CAPS);
    g_assert_nonnull(strstr(error->message, "outside 1..4096"));
}

/* On any host: the probe answers, and an answer is consistent. */
static void test_probe_this_host(void)
{
    ItsmigKvmRegSet set;
    ItsmigDiag diag = {0};
    int r = itsmig_kvm_regs_probe(&set, &diag);

    if (r < 0) {
        g_test_message("probe failed: %s", diag.text);
        g_assert_cmpint(diag.errnum, ==, -r);
        return;
    }
    if (!set.available) {
        g_assert_cmpuint(strlen(set.unavailable_reason), >, 0);
        g_assert_cmpuint(set.n_regs, ==, 0);
        return;
    }
    g_assert_cmpuint(set.n_regs, >, 0);
    for (size_t i = 1; i < set.n_regs; i++)
        g_assert_cmphex(set.regs[i - 1].id, <, set.regs[i].id);
    itsmig_kvm_regs_clear(&set);
}

/* ---- the guest's line format ------------------------------------------------------ */

static char *probe_text(const ItsmigKvmItsCaps *caps, const ItsmigKvmRegSet *set)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    g_assert_nonnull(f);
    itsmig_kvm_probe_text_write(f, caps, set);
    g_assert_cmpint(fclose(f), ==, 0);
    return buf;
}

static void sample_caps(ItsmigKvmItsCaps *caps)
{
    memset(caps, 0, sizeof(*caps));
    caps->available = true;
    g_strlcpy(caps->kernel_release, "6.12.117+deb13-arm64", sizeof(caps->kernel_release));
    g_strlcpy(caps->arch, "aarch64", sizeof(caps->arch));
    caps->abi_revisions = 1;
    for (unsigned i = 1; i < 16; i++)
        caps->abi_revision_errno[i] = EINVAL;
    caps->gits_iidr = 0x4b00043b;
    caps->gits_typer = 0x1ef71;
    caps->has_ctrl_reset = caps->has_save_tables = caps->has_restore_tables = true;
    caps->gicd_iidr = 0x4b00343b;
    caps->gicd_revision = 3;
    caps->gicv4 = ITSMIG_GICV4_NONE;
    g_strlcpy(caps->gicv4_source, "kernel log: no GICv4 line\nsecond line",
              sizeof(caps->gicv4_source));
    caps->semantics.measured = true;
    caps->semantics.save_unreachable_device_errno = 0;
    caps->semantics.baser_write_keeps_mappings = false;
    caps->semantics.gicd_access_before_init_errno = ENXIO;
}

/* What the guest prints, inside a console log with CR LF line ends and
 * other lines around it, reads back as it was. */
static void test_text_round_trip(void)
{
    ItsmigKvmItsCaps caps, back_caps;
    ItsmigKvmRegSet set, back;
    ItsmigDiag diag = {0};
    g_autofree char *text = NULL;
    g_autofree char *console = NULL;
    g_autofree char *joined = NULL;
    g_autoptr(JsonNode) a = NULL;
    g_autoptr(JsonNode) b = NULL;
    g_autofree char *ta = NULL;
    g_autofree char *tb = NULL;
    g_auto(GStrv) lines = NULL;

    sample_caps(&caps);
    sample_set(&set);
    text = probe_text(&caps, &set);
    lines = g_strsplit(text, "\n", -1);
    joined = g_strjoinv("\r\n", lines);
    console =
        g_strconcat("[    1.0] kernel line\r\n# TAP comment\r\n", joined, "ok 1 - after\r\n", NULL);
    g_assert_cmpint(itsmig_kvm_probe_text_read(console, &back_caps, &back, &diag), ==, 0);
    g_assert_cmpstr(back_caps.gicv4_source, ==, "kernel log: no GICv4 line second line");
    g_strlcpy(caps.gicv4_source, back_caps.gicv4_source, sizeof(caps.gicv4_source));
    a = itsmig_kvm_probe_to_json(&caps, &set);
    b = itsmig_kvm_probe_to_json(&back_caps, &back);
    ta = json_to_string(a, TRUE);
    tb = json_to_string(b, TRUE);
    g_assert_cmpstr(ta, ==, tb);
    g_assert_true(back_caps.semantics.measured);
    g_assert_cmpint(back_caps.semantics.gicd_access_before_init_errno, ==, ENXIO);
    itsmig_kvm_regs_clear(&set);
    itsmig_kvm_regs_clear(&back);
}

typedef struct {
    const char *name;
    const char *from;
    const char *to;
} TextCase;

static const TextCase text_cases[] = {
    {"no-end", "ITSMIG-PROBE end", "ITSMIG-PROBE fin"},
    {"no-begin", "ITSMIG-PROBE begin", "ITSMIG-PROBE start"},
    {"line-count", "ITSMIG-PROBE end 28", "ITSMIG-PROBE end 27"},
    {"reg-count", "regs count 5", "regs count 6"},
    {"reg-order", "reg 0x6030000000100000", "reg 0x6030000000200000"},
    {"reg-junk", "reg 0x603000000013df40 0x2", "reg 0x603000000013df40 0x2 x=1"},
    {"reg-features", "reg 0x603000000013df40 0x2", "reg 0x603000000013df40 0x20"},
    {"unknown-key", "its arch aarch64", "its arch64 aarch64"},
    {"bad-bool", "its available 1", "its available yes"},
    {"bad-errnos", "its abi_revision_errno 0 22", "its abi_revision_errno 0 x"},
};

static void test_text_bad(gconstpointer data)
{
    const TextCase *c = data;
    ItsmigKvmItsCaps caps;
    ItsmigKvmRegSet set;
    ItsmigDiag diag = {0};
    g_autofree char *text = NULL;
    g_autofree char *bad = NULL;
    char *at;

    sample_caps(&caps);
    sample_set(&set);
    text = probe_text(&caps, &set);
    itsmig_kvm_regs_clear(&set);
    at = strstr(text, c->from);
    g_assert_nonnull(at);
    bad = g_strdup_printf("%.*s%s%s", (int)(at - text), text, c->to, at + strlen(c->from));
    g_assert_cmpint(itsmig_kvm_probe_text_read(bad, &caps, &set, &diag), ==, -EINVAL);
    g_test_message("%s", diag.text);
    g_assert_cmpuint(strlen(diag.text), >, 0);
    itsmig_kvm_regs_clear(&set);
}

/* ---- the probe data of Debian's kernels (tests/data/probe/) ------------------------ */

/* Oldest first: Debian 12, Debian 13, trixie-backports. */
static const char *const suites[] = {"bookworm", "trixie", "trixie-backports"};
#define N_SUITES G_N_ELEMENTS(suites)

typedef struct {
    char *kernel_release;
    ItsmigKvmRegSet set;
} ProbeData;

static void load_probe(const char *suite, ProbeData *ret)
{
    g_autofree char *path = NULL;
    g_autoptr(GError) error = NULL;
    JsonObject *o;
    g_autoptr(JsonParser) parser = probe_data_load(suite, &o, &path);

    g_assert_true(json_object_get_boolean_member(o, "available"));
    ret->kernel_release = g_strdup(json_object_get_string_member(o, "kernel_release"));
    g_assert_true(itsmig_kvm_regs_from_json(json_object_get_member(o, "vcpu_registers"), path,
                                            &ret->set, &error));
    g_assert_no_error(error);
    g_assert_true(ret->set.available);
}

static void load_all(ProbeData data[N_SUITES])
{
    for (size_t i = 0; i < N_SUITES; i++)
        load_probe(suites[i], &data[i]);
}

static void free_all(ProbeData data[N_SUITES])
{
    for (size_t i = 0; i < N_SUITES; i++) {
        g_free(data[i].kernel_release);
        itsmig_kvm_regs_clear(&data[i].set);
    }
}

/* Registers of @a that @b lacks, by name, comma-separated; their number
 * in *ret_n. */
static char *missing_names(const ItsmigKvmRegSet *a, const ItsmigKvmRegSet *b, size_t *ret_n)
{
    g_autoptr(GString) s = g_string_new(NULL);
    size_t n = 0;

    for (size_t i = 0; i < a->n_regs; i++) {
        char name[ITSMIG_KVM_REG_NAME_MAX];
        guint64 back;

        if (itsmig_kvm_regs_find(b, a->regs[i].id))
            continue;
        itsmig_kvm_reg_name(a->regs[i].id, name, sizeof(name));
        /* Each name given for a difference leads back to its register. */
        g_assert_cmpint(itsmig_kvm_reg_from_name(name, &back), ==, 0);
        g_assert_cmphex(back, ==, a->regs[i].id);
        g_string_append_printf(s, "%s%s", n++ ? ", " : "", name);
    }
    *ret_n = n;
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* How many of the registers of @a that @b lacks are CCSIDR demux, system
 * and firmware registers (told apart by their ids). */
static void kinds_added(const ItsmigKvmRegSet *a, const ItsmigKvmRegSet *b, size_t *ret_demux,
                        size_t *ret_sysreg, size_t *ret_fw)
{
    *ret_demux = *ret_sysreg = *ret_fw = 0;
    for (size_t i = 0; i < a->n_regs; i++) {
        guint64 id = a->regs[i].id;
        unsigned coproc =
            (unsigned)((id & ITSMIG_KVM_REG_COPROC_MASK) >> ITSMIG_KVM_REG_COPROC_SHIFT);
        unsigned op0, op1, crn, crm, op2;

        if (itsmig_kvm_regs_find(b, id))
            continue;
        if (coproc == ITSMIG_KVM_REG_DEMUX)
            (*ret_demux)++;
        else if (itsmig_kvm_sysreg_decode(id, &op0, &op1, &crn, &crm, &op2))
            (*ret_sysreg)++;
        else if (itsmig_kvm_reg_is_firmware(id))
            (*ret_fw)++;
    }
}

static void test_data_parse(void)
{
    ProbeData data[N_SUITES];

    load_all(data);
    for (size_t i = 0; i < N_SUITES; i++) {
        const ItsmigKvmRegSet *s = &data[i].set;
        g_autofree char *digest = itsmig_kvm_regs_digest(s);
        size_t n_masks = 0;

        g_test_message("%s: Linux %s, %zu registers, features 0x%x, writable masks %s, %s",
                       suites[i], data[i].kernel_release, s->n_regs, s->features,
                       s->writable_masks ? "yes" : "no", digest);
        for (size_t j = 0; j < s->n_regs; j++) {
            const ItsmigKvmReg *r = &s->regs[j];

            /* The probe took values of exactly the ID and firmware registers,
             * and masks of every ID register where the kernel offers them. */
            g_assert_cmpint(r->has_value, ==,
                            itsmig_kvm_reg_is_id(r->id) || itsmig_kvm_reg_is_firmware(r->id));
            g_assert_cmpint(r->has_writable, ==, s->writable_masks && itsmig_kvm_reg_is_id(r->id));
            n_masks += r->has_writable;
        }
        if (s->writable_masks)
            g_assert_cmpuint(n_masks, >, 0);
        for (size_t j = 0; j < i; j++)
            g_assert_cmpstr(data[i].kernel_release, !=, data[j].kernel_release);
    }
    free_all(data);
}

/* The kernels differ, and not only by adding: what the issue saw. */
static void test_data_kernels_differ(void)
{
    ProbeData data[N_SUITES];
    const ItsmigKvmRegSet *old = NULL;
    size_t n_demux, n_sysreg, n_fw, fw_total = 0;

    load_all(data);
    old = &data[0].set;
    for (size_t i = 0; i < N_SUITES; i++) {
        for (size_t j = i + 1; j < N_SUITES; j++) {
            g_autofree char *di = itsmig_kvm_regs_digest(&data[i].set);
            g_autofree char *dj = itsmig_kvm_regs_digest(&data[j].set);

            g_assert_cmpuint(data[i].set.n_regs, !=, data[j].set.n_regs);
            g_assert_cmpstr(di, !=, dj);
        }
    }
    /* Each newer kernel lists registers 6.1 lacks, so a guest started there
     * cannot go back to 6.1. */
    for (size_t i = 1; i < N_SUITES; i++) {
        size_t n_new = 0, n_gone = 0;
        g_autofree char *added = missing_names(&data[i].set, old, &n_new);
        g_autofree char *gone = missing_names(old, &data[i].set, &n_gone);

        g_test_message("%s has %zu registers %s lacks: %s", suites[i], n_new, suites[0], added);
        g_test_message("%s lacks %zu registers of %s: %s", suites[i], n_gone, suites[0], gone);
        g_assert_cmpuint(n_new, >, 0);
        /* What the issue saw: more CCSIDR demux registers and new system
         * registers on each newer kernel, a new firmware register on one. */
        kinds_added(&data[i].set, old, &n_demux, &n_sysreg, &n_fw);
        g_assert_cmpuint(n_demux, >, 0);
        g_assert_cmpuint(n_sysreg, >, 0);
        fw_total += n_fw;
    }
    g_assert_cmpuint(fw_total, >, 0);
    /* Debian 13's and the backported kernel each have registers the other
     * lacks: neither direction is safe. */
    {
        size_t n12 = 0, n7 = 0;
        g_autofree char *only12 = missing_names(&data[1].set, &data[2].set, &n12);
        g_autofree char *only7 = missing_names(&data[2].set, &data[1].set, &n7);

        g_test_message("only %s: %s", suites[1], only12);
        g_test_message("only %s: %s", suites[2], only7);
        g_assert_cmpuint(n12, >, 0);
        g_assert_cmpuint(n7, >, 0);
    }
    free_all(data);
}

/* The same virtual CPU (QEMU's -cpu max) under each kernel: MIDR_EL1 is the
 * same, so the differences are the kernels'. */
static void test_data_same_cpu(void)
{
    ProbeData data[N_SUITES];
    guint64 midr;
    const ItsmigKvmReg *r;

    load_all(data);
    g_assert_cmpint(itsmig_kvm_reg_from_name("MIDR_EL1", &midr), ==, 0);
    r = itsmig_kvm_regs_find(&data[0].set, midr);
    g_assert_nonnull(r);
    g_assert_true(r->has_value);
    for (size_t i = 1; i < N_SUITES; i++) {
        const ItsmigKvmReg *o = itsmig_kvm_regs_find(&data[i].set, midr);

        g_assert_nonnull(o);
        g_assert_cmphex(o->value, ==, r->value);
        g_assert_cmpuint(data[i].set.features, ==, data[0].set.features);
    }
    free_all(data);
}

/* A guest with a feature off (<pmu state='off'/>, sve off) gets fewer
 * registers; the set knows which. */
static void test_data_features_off(void)
{
    ProbeData data[N_SUITES];

    load_all(data);
    for (size_t i = 0; i < N_SUITES; i++) {
        const ItsmigKvmRegSet *s = &data[i].set;

        for (guint32 bit = 1; bit & ITSMIG_VCPU_FEATURES_ALL; bit <<= 1) {
            size_t without = 0;
            guint64 id;

            if (!(s->features & bit))
                continue;
            for (size_t j = 0; j < s->n_regs; j++)
                without += itsmig_kvm_reg_listed_with(&s->regs[j], s->features & ~bit);
            g_test_message("%s: %zu registers, %zu without %s", suites[i], s->n_regs, without,
                           itsmig_vcpu_feature_name(bit));
            /* PSCI 0.2 changes values, not the list; the others hide registers. */
            if (bit == ITSMIG_VCPU_FEATURE_PSCI_0_2) {
                g_assert_cmpuint(without, ==, s->n_regs);
                continue;
            }
            g_assert_cmpuint(without, <, s->n_regs);
            /* One register each feature is known to bring. */
            g_assert_cmpint(itsmig_kvm_reg_from_name(bit == ITSMIG_VCPU_FEATURE_PMU_V3 ? "PMCR_EL0"
                                                     : bit == ITSMIG_VCPU_FEATURE_SVE
                                                         ? "ZCR_EL1"
                                                         : "APIAKEYLO_EL1",
                                                     &id),
                            ==, 0);
            g_assert_nonnull(itsmig_kvm_regs_find(s, id));
            g_assert_false(
                itsmig_kvm_reg_listed_with(itsmig_kvm_regs_find(s, id), s->features & ~bit));
        }
    }
    free_all(data);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm-regs/names/known-ids", test_names);
    g_test_add_func("/kvm-regs/names/decode-and-every-sysreg-round-trips", test_decode);
    g_test_add_func("/kvm-regs/names/bad-names-refused", test_bad_names);
    g_test_add_func("/kvm-regs/features/names", test_features);
    g_test_add_func("/kvm-regs/json/round-trip", test_json_round_trip);
    g_test_add_func("/kvm-regs/json/unavailable", test_json_unavailable);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/kvm-regs/json/refused/%s", bad_cases[i].name);
        g_test_add_data_func(path, &bad_cases[i], test_json_bad);
    }
    g_test_add_func("/kvm-regs/json/register-limit", test_json_limit);
    g_test_add_func("/kvm-regs/probe/this-host-does-not-crash", test_probe_this_host);
    g_test_add_func("/kvm-regs/text/round-trip-through-a-console", test_text_round_trip);
    for (size_t i = 0; i < G_N_ELEMENTS(text_cases); i++) {
        g_autofree char *path = g_strdup_printf("/kvm-regs/text/refused/%s", text_cases[i].name);
        g_test_add_data_func(path, &text_cases[i], test_text_bad);
    }
    g_test_add_func("/kvm-regs/data/parse-strictly", test_data_parse);
    g_test_add_func("/kvm-regs/data/kernels-differ-both-ways", test_data_kernels_differ);
    g_test_add_func("/kvm-regs/data/same-virtual-cpu", test_data_same_cpu);
    g_test_add_func("/kvm-regs/data/features-off-hide-registers", test_data_features_off);
    return g_test_run();
}
