/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "itsmig/kvm-its-json.h"
#include "itsmig/kvm-its.h"
#include "itsmig/kvm-vm.h"

/* ---- GICv4 level from the kernel log and command line ------------------- */

typedef struct {
    const char *log;
    const char *cmdline;
    ItsmigGicv4Level level;
    const char *source_has; /* a substring the source must contain */
} Gicv4Case;

/* Lines as a 6.1 arm64 host prints them around KVM's vGIC probe. */
#define LOG_IRQCHIP                                                                                \
    "GICv3: GIC: Using split EOI/Deactivate mode\n"                                                \
    "GICv3: 960 SPIs implemented\n"                                                                \
    "GICv3: GICv4 features: DirectLPI RVPEID Valid+Dirty \n"                                       \
    "ITS@0x0000000010080000: Using GICv4.1 mode 00000000 00000001\n"
#define LOG_KVM_HEAD "kvm [1]: IPA Size Limit: 48 bits\n"
#define LOG_KVM_TAIL                                                                               \
    "kvm [1]: GIC system register CPU interface enabled\n"                                         \
    "kvm [1]: vgic interrupt IRQ9\n"                                                               \
    "kvm [1]: VHE mode initialized successfully\n"
#define CMDLINE_PLAIN "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-arm64 root=UUID=0a1b ro quiet\n"

static void check_case(gconstpointer data)
{
    const Gicv4Case *c = data;
    ItsmigGicv4Level level = ITSMIG_GICV4_LAST;
    char source[ITSMIG_GICV4_SOURCE_MAX];

    memset(source, 'x', sizeof(source));
    itsmig_kvm_its_parse_gicv4(c->log, c->cmdline, &level, source);
    g_assert_cmpstr(itsmig_gicv4_level_to_string(level), ==,
                    itsmig_gicv4_level_to_string(c->level));
    g_assert_cmpint(level, ==, c->level);
    g_assert_nonnull(memchr(source, '\0', sizeof(source)));
    g_assert_cmpuint(strlen(source), >, 0);
    if (c->source_has)
        g_assert_nonnull(strstr(source, c->source_has));
}

static const Gicv4Case case_41_enabled = {
    .log = LOG_IRQCHIP LOG_KVM_HEAD "kvm [1]: GICv4.1 support enabled\n" LOG_KVM_TAIL,
    .cmdline = CMDLINE_PLAIN " kvm-arm.vgic_v4_enable=1",
    .level = ITSMIG_GICV4_1,
    .source_has = "GICv4.1 support enabled",
};
static const Gicv4Case case_40_enabled = {
    .log = LOG_KVM_HEAD "kvm [1]: GICv4 support enabled\n" LOG_KVM_TAIL,
    .cmdline = "root=/dev/vda1 kvm-arm.vgic_v4_enable=on",
    .level = ITSMIG_GICV4_0,
    .source_has = "GICv4 support enabled",
};
static const Gicv4Case case_40_disabled = {
    .log = LOG_KVM_HEAD "kvm [1]: GICv4 support disabled\n" LOG_KVM_TAIL,
    .cmdline = CMDLINE_PLAIN,
    .level = ITSMIG_GICV4_NONE,
    .source_has = "GICv4 support disabled",
};
static const Gicv4Case case_41_disabled = {
    .log = LOG_IRQCHIP LOG_KVM_HEAD "kvm [1]: GICv4.1 support disabled\n" LOG_KVM_TAIL,
    .cmdline = CMDLINE_PLAIN,
    .level = ITSMIG_GICV4_NONE,
    .source_has = "host GIC has GICv4.1",
};
/* /dev/kmsg records: "prio,seq,usec,flags;text" and continuation lines. */
static const Gicv4Case case_kmsg_records = {
    .log = "6,312,402118,-;kvm [1]: IPA Size Limit: 48 bits\n"
           "6,313,402377,-;kvm [1]: GICv4.1 support enabled\n"
           " SUBSYSTEM=platform\n"
           " DEVICE=+platform:kvm\n"
           "6,314,402390,-;kvm [1]: GIC system register CPU interface enabled\n",
    .cmdline = "kvm-arm.vgic_v4_enable=Y",
    .level = ITSMIG_GICV4_1,
    .source_has = "kernel log",
};
static const Gicv4Case case_dmesg_timestamps = {
    .log = "[    0.402377] kvm [1]: GICv4 support enabled\n"
           "[    0.402390] kvm [1]: vgic interrupt IRQ9\n",
    .cmdline = "kvm-arm.vgic_v4_enable=1",
    .level = ITSMIG_GICV4_0,
    .source_has = NULL,
};
/* A GICv3-only host: the probe ran and said nothing about GICv4. */
static const Gicv4Case case_absent_vgic_probed = {
    .log = "GICv3: 256 SPIs implemented\n" LOG_KVM_HEAD LOG_KVM_TAIL,
    .cmdline = CMDLINE_PLAIN " kvm-arm.vgic_v4_enable=1",
    .level = ITSMIG_GICV4_NONE,
    .source_has = "no GICv4",
};
static const Gicv4Case case_absent_cmdline_off = {
    .log = "",
    .cmdline = "kvm-arm.vgic_v4_enable=0 quiet",
    .level = ITSMIG_GICV4_NONE,
    .source_has = "vgic_v4_enable is off",
};
static const Gicv4Case case_absent_cmdline_default = {
    .log = "",
    .cmdline = CMDLINE_PLAIN,
    .level = ITSMIG_GICV4_NONE,
    .source_has = "default is off",
};
static const Gicv4Case case_absent_cmdline_on = {
    .log = "printk: console [ttyAMA0] enabled\n",
    .cmdline = "kvm-arm.vgic_v4_enable=1",
    .level = ITSMIG_GICV4_UNKNOWN,
    .source_has = "no longer",
};
static const Gicv4Case case_nothing_readable = {
    .log = NULL,
    .cmdline = NULL,
    .level = ITSMIG_GICV4_UNKNOWN,
    .source_has = NULL,
};
static const Gicv4Case case_log_unreadable_cmdline_on = {
    .log = NULL,
    .cmdline = "kvm-arm.vgic_v4_enable=true",
    .level = ITSMIG_GICV4_UNKNOWN,
    .source_has = NULL,
};
/* The irqchip driver's own GICv4 lines say what the hardware has, not
 * whether KVM uses it. */
static const Gicv4Case case_irqchip_lines_only = {
    .log = LOG_IRQCHIP "ITS: Enabling GICv4 support\n",
    .cmdline = "kvm-arm.vgic_v4_enable=1",
    .level = ITSMIG_GICV4_UNKNOWN,
    .source_has = NULL,
};
static const Gicv4Case case_last_line_wins = {
    .log = "kvm [1]: GICv4 support disabled\nkvm [1]: GICv4.1 support enabled\n",
    .cmdline = NULL,
    .level = ITSMIG_GICV4_1,
    .source_has = NULL,
};
/* parameq(): '-' and '_' are the same in parameter names; last one wins. */
static const Gicv4Case case_cmdline_spelling = {
    .log = "",
    .cmdline = "kvm_arm.vgic-v4-enable=1 x=y kvm-arm.vgic_v4_enable=off",
    .level = ITSMIG_GICV4_NONE,
    .source_has = "is off",
};
/* kstrtobool() rejects this, so the kernel keeps its default. */
static const Gicv4Case case_cmdline_bad_value = {
    .log = "",
    .cmdline = "kvm-arm.vgic_v4_enable=maybe",
    .level = ITSMIG_GICV4_NONE,
    .source_has = "default is off",
};
static const Gicv4Case case_not_quite_the_line = {
    .log = "kvm [1]: GICv4 support enabledX\nkvmx [1]: GICv4 support enabled\n",
    .cmdline = "",
    .level = ITSMIG_GICV4_NONE,
    .source_has = NULL,
};

static void test_level_strings(void)
{
    g_assert_cmpstr(itsmig_gicv4_level_to_string(ITSMIG_GICV4_UNKNOWN), ==, "unknown");
    g_assert_cmpstr(itsmig_gicv4_level_to_string(ITSMIG_GICV4_NONE), ==, "none");
    g_assert_cmpstr(itsmig_gicv4_level_to_string(ITSMIG_GICV4_0), ==, "4.0");
    g_assert_cmpstr(itsmig_gicv4_level_to_string(ITSMIG_GICV4_1), ==, "4.1");
    g_assert_cmpstr(itsmig_gicv4_level_to_string(ITSMIG_GICV4_LAST), ==, "unknown");
}

/* ---- the probe and the scratch VM on this (build) host ------------------- */

static void test_probe_this_host(void)
{
    ItsmigKvmItsCaps caps;
    ItsmigDiag diag = {0};
    int r;

    memset(&caps, 0xa5, sizeof(caps));
    r = itsmig_kvm_its_probe(&caps, &diag);
    g_assert_cmpint(r, ==, 0);
    g_assert_cmpuint(strlen(caps.kernel_release), >, 0);
    g_assert_cmpuint(strlen(caps.arch), >, 0);
    if (caps.available) {
        /* An arm64 host with KVM: the probe must have learnt something. */
        g_assert_true(itsmig_kvm_its_caps_has_revision(&caps, caps.default_abi_revision));
        g_assert_cmpuint(caps.gits_iidr >> 24, ==, 0x4b);
        return;
    }
    g_assert_cmpuint(strlen(caps.unavailable_reason), >, 10);
    g_test_message("probe unavailable: %s", caps.unavailable_reason);
#if !defined(__aarch64__)
    g_assert_nonnull(strstr(caps.unavailable_reason, "arm64"));
#endif
    g_assert_cmpuint(caps.abi_revisions, ==, 0);
    g_assert_false(itsmig_kvm_its_caps_has_revision(&caps, 0));
}

static void test_vm_new_unsupported(void)
{
#if defined(__aarch64__)
    g_test_skip("arm64 build: covered by the real-kernel bed");
#else
    ItsmigKvmVmConfig cfg = {
        .nr_vcpus = 1, .ram_size = 1 << 20, .with_its = true, .init_vgic = true};
    ItsmigKvmVm *vm = (ItsmigKvmVm *)0x1;
    ItsmigDiag diag = {0};

    g_assert_cmpint(itsmig_kvm_vm_new(&cfg, &vm, &diag), ==, -ENOTSUP);
    g_assert_cmpint(diag.errnum, ==, ENOTSUP);
    g_assert_nonnull(strstr(diag.text, "arm64"));
    g_assert_true(vm == (ItsmigKvmVm *)0x1); /* untouched on failure */
    itsmig_kvm_vm_free(NULL);

    itsmig_diag_clear(&diag);
    g_assert_cmpint(itsmig_kvm_vm_check_host(&diag), ==, -ENOTSUP);
    g_assert_cmpuint(strlen(diag.text), >, 0);
#endif
}

/* ---- the measured vITS behaviour in the probe's JSON ------------------- */

static ItsmigKvmItsCaps available_caps(void)
{
    ItsmigKvmItsCaps caps;

    memset(&caps, 0, sizeof(caps));
    caps.available = true;
    strcpy(caps.kernel_release, "6.12.117+deb13-arm64");
    strcpy(caps.arch, "aarch64");
    caps.abi_revisions = 1;
    return caps;
}

static JsonObject *semantics_of(JsonNode *root)
{
    JsonObject *o = json_node_get_object(root);

    g_assert_true(json_object_has_member(o, "semantics"));
    return json_object_get_object_member(o, "semantics");
}

static void check_how(JsonObject *fact, ItsmigKvmItsSemanticsFact which)
{
    const char *how = json_object_get_string_member(fact, "how");

    g_assert_nonnull(how);
    g_assert_cmpstr(how, ==, itsmig_kvm_its_semantics_method[which]);
    g_assert_nonnull(strstr(how, "scratch VM"));
}

static void test_json_semantics_fails_keeps(void)
{
    ItsmigKvmItsCaps caps = available_caps();
    g_autoptr(JsonNode) root = NULL;
    JsonObject *sem, *fact;

    caps.semantics.measured = true;
    caps.semantics.save_unreachable_device_errno = EINVAL;
    caps.semantics.baser_write_keeps_mappings = true;
    caps.semantics.gicd_access_before_init_errno = EBUSY;
    root = itsmig_kvm_its_caps_to_json(&caps);
    sem = semantics_of(root);
    g_assert_cmpuint(json_object_get_size(sem), ==, 4);
    g_assert_true(json_object_get_boolean_member(sem, "measured"));

    fact = json_object_get_object_member(sem, "save_unreachable_device");
    g_assert_cmpuint(json_object_get_size(fact), ==, 3);
    g_assert_cmpstr(json_object_get_string_member(fact, "outcome"), ==, "fails");
    g_assert_cmpstr(json_object_get_string_member(fact, "errno"), ==, "EINVAL");
    check_how(fact, ITSMIG_KVM_ITS_SEMANTICS_SAVE_UNREACHABLE_DEVICE);

    fact = json_object_get_object_member(sem, "baser_write");
    g_assert_cmpuint(json_object_get_size(fact), ==, 2);
    g_assert_true(json_object_get_boolean_member(fact, "keeps_mappings"));
    check_how(fact, ITSMIG_KVM_ITS_SEMANTICS_BASER_WRITE);

    fact = json_object_get_object_member(sem, "gicd_access_before_init");
    g_assert_cmpuint(json_object_get_size(fact), ==, 2);
    g_assert_cmpstr(json_object_get_string_member(fact, "errno"), ==, "EBUSY");
    check_how(fact, ITSMIG_KVM_ITS_SEMANTICS_GICD_BEFORE_INIT);
}

static void test_json_semantics_skips_drops(void)
{
    ItsmigKvmItsCaps caps = available_caps();
    g_autoptr(JsonNode) root = NULL;
    JsonObject *sem, *fact;

    caps.semantics.measured = true;
    caps.semantics.save_unreachable_device_errno = 0;
    caps.semantics.baser_write_keeps_mappings = false;
    caps.semantics.gicd_access_before_init_errno = 0;
    root = itsmig_kvm_its_caps_to_json(&caps);
    sem = semantics_of(root);

    fact = json_object_get_object_member(sem, "save_unreachable_device");
    g_assert_cmpstr(json_object_get_string_member(fact, "outcome"), ==, "skips");
    g_assert_true(json_object_get_null_member(fact, "errno"));
    fact = json_object_get_object_member(sem, "baser_write");
    g_assert_false(json_object_get_boolean_member(fact, "keeps_mappings"));
    fact = json_object_get_object_member(sem, "gicd_access_before_init");
    g_assert_true(json_object_get_null_member(fact, "errno")); /* the access succeeded */
}

static void test_json_semantics_not_measured(void)
{
    ItsmigKvmItsCaps caps = available_caps();
    g_autoptr(JsonNode) root = itsmig_kvm_its_caps_to_json(&caps);
    JsonObject *sem = semantics_of(root);

    g_assert_false(json_object_get_boolean_member(sem, "measured"));
    g_assert_true(json_object_get_null_member(sem, "save_unreachable_device"));
    g_assert_true(json_object_get_null_member(sem, "baser_write"));
    g_assert_true(json_object_get_null_member(sem, "gicd_access_before_init"));
}

static void test_json_semantics_unavailable(void)
{
    ItsmigKvmItsCaps caps;
    g_autoptr(JsonNode) root = NULL;
    JsonObject *o;

    memset(&caps, 0, sizeof(caps));
    strcpy(caps.unavailable_reason, "no /dev/kvm");
    root = itsmig_kvm_its_caps_to_json(&caps);
    o = json_node_get_object(root);
    g_assert_true(json_object_has_member(o, "semantics"));
    g_assert_true(json_object_get_null_member(o, "semantics"));
}

int main(int argc, char **argv)
{
    static const struct {
        const char *path;
        const Gicv4Case *c;
    } cases[] = {
        {"/kvm-its/gicv4/log-4.1-enabled", &case_41_enabled},
        {"/kvm-its/gicv4/log-4.0-enabled", &case_40_enabled},
        {"/kvm-its/gicv4/log-4.0-disabled", &case_40_disabled},
        {"/kvm-its/gicv4/log-4.1-disabled", &case_41_disabled},
        {"/kvm-its/gicv4/kmsg-records", &case_kmsg_records},
        {"/kvm-its/gicv4/dmesg-timestamps", &case_dmesg_timestamps},
        {"/kvm-its/gicv4/absent-after-vgic-probe-is-none", &case_absent_vgic_probed},
        {"/kvm-its/gicv4/absent-cmdline-off-is-none", &case_absent_cmdline_off},
        {"/kvm-its/gicv4/absent-cmdline-default-is-none", &case_absent_cmdline_default},
        {"/kvm-its/gicv4/absent-cmdline-on-is-unknown", &case_absent_cmdline_on},
        {"/kvm-its/gicv4/nothing-readable-is-unknown", &case_nothing_readable},
        {"/kvm-its/gicv4/log-unreadable-cmdline-on-is-unknown", &case_log_unreadable_cmdline_on},
        {"/kvm-its/gicv4/irqchip-lines-ignored", &case_irqchip_lines_only},
        {"/kvm-its/gicv4/last-line-wins", &case_last_line_wins},
        {"/kvm-its/gicv4/cmdline-spelling-and-last-wins", &case_cmdline_spelling},
        {"/kvm-its/gicv4/cmdline-bad-value-ignored", &case_cmdline_bad_value},
        {"/kvm-its/gicv4/near-misses-ignored", &case_not_quite_the_line},
    };

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        g_test_add_data_func(cases[i].path, cases[i].c, check_case);
    g_test_add_func("/kvm-its/gicv4/level-strings", test_level_strings);
    g_test_add_func("/kvm-its/probe/this-host-does-not-crash", test_probe_this_host);
    g_test_add_func("/kvm-its/vm/new-enotsup-off-arm64", test_vm_new_unsupported);
    g_test_add_func("/kvm-its/json/semantics-fails-keeps-ebusy", test_json_semantics_fails_keeps);
    g_test_add_func("/kvm-its/json/semantics-skips-drops-gicd-ok", test_json_semantics_skips_drops);
    g_test_add_func("/kvm-its/json/semantics-not-measured-null-facts",
                    test_json_semantics_not_measured);
    g_test_add_func("/kvm-its/json/semantics-null-when-unavailable",
                    test_json_semantics_unavailable);
    return g_test_run();
}
