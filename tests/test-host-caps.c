/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "itsmig/error.h"
#include "itsmig/host-caps.h"

/*
 * Besides the GTest cases, three modes serve tests/host-caps-schema.sh, which
 * holds docs/host-caps.schema.json against the library:
 *   --dump-example full|unknown|conflict   print a document the library writes
 *   --dump-cases DIR                       write the documents of the tables below
 *                                          (good-*.json, bad-*.json) into DIR
 *   --parse FILE                           parse a document; exit 1 if refused
 */

/* ---- helpers ------------------------------------------------------------- */

static char *caps_to_text(const ItsmigHostCaps *caps)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    itsmig_host_caps_to_json_members(caps, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

/* Where an error message cuts a long quote. */
#define X61 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

/* Documents in the tables are written with ' for " (and ` for '), to stay readable. */
static char *unquote(const char *s)
{
    g_autoptr(GString) out = g_string_new(NULL);

    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            g_string_append_c(out, '"');
        else if (*p == '`')
            g_string_append_c(out, '\'');
        else if (*p == '@' && p[1] == 'X') {
            /* @X<n>@: n times 'x' */
            char *end;
            guint64 n = g_ascii_strtoull(p + 2, &end, 10);

            g_assert_true(*end == '@');
            for (guint64 i = 0; i < n; i++)
                g_string_append_c(out, 'x');
            p = end;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static void assert_error_has(const GError *error, gint code, const char *has)
{
    g_assert_nonnull(error);
    g_assert_error(error, ITSMIG_ERROR, code);
    g_assert_null(strchr(error->message, '\n'));
    if (!strstr(error->message, has))
        g_error("error '%s' does not contain '%s'", error->message, has);
}

static ItsmigKvmItsCaps kvm_available(void)
{
    ItsmigKvmItsCaps kvm;

    memset(&kvm, 0, sizeof(kvm));
    kvm.available = true;
    strcpy(kvm.arch, "aarch64");
    strcpy(kvm.kernel_release, "6.8.0-31-generic");
    kvm.abi_revisions = 0x1;
    kvm.default_abi_revision = 0;
    kvm.gicd_revision = 3;
    kvm.gicv4 = ITSMIG_GICV4_NONE;
    kvm.has_save_tables = true;
    kvm.has_restore_tables = true;
    kvm.has_ctrl_reset = true;
    kvm.has_save_pending_tables = true;
    return kvm;
}

static ItsmigKvmItsCaps kvm_unavailable(const char *arch, const char *reason)
{
    ItsmigKvmItsCaps kvm;

    memset(&kvm, 0, sizeof(kvm));
    g_strlcpy(kvm.arch, arch, sizeof(kvm.arch));
    strcpy(kvm.kernel_release, "6.8.0");
    g_strlcpy(kvm.unavailable_reason, reason, sizeof(kvm.unavailable_reason));
    return kvm;
}

static void set_ok(ItsmigHostCaps *caps, ItsmigCapField field, ItsmigCapSource source,
                   const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(itsmig_host_caps_set(caps, field, source, text, &error));
    g_assert_no_error(error);
}

/* ---- the documents of the examples --------------------------------------- */

/* What libvirt's capabilities look like on an arm64 host with KVM (trimmed):
 * the host's architecture's guest lists the emulator's machines ("virt" an
 * alias of the newest) and those of the kvm domain type; a 32-bit guest of
 * the same emulator and another architecture's are not this host's. */
#define LIBVIRT_CAPS(host_arch, machines, kvm_machines)                                            \
    "<capabilities>\n"                                                                             \
    "  <host><uuid>0f3b0e4a-1111-2222-3333-444455556666</uuid>\n"                                  \
    "    <cpu><arch>" host_arch "</arch><model>host</model></cpu>\n"                               \
    "  </host>\n"                                                                                  \
    "  <guest><os_type>hvm</os_type>\n"                                                            \
    "    <arch name='aarch64'><wordsize>64</wordsize>\n"                                           \
    "      <emulator>/usr/bin/qemu-system-aarch64</emulator>\n" machines                           \
    "      <domain type='qemu'/>\n"                                                                \
    "      <domain type='kvm'>" kvm_machines "</domain>\n"                                         \
    "    </arch>\n"                                                                                \
    "  </guest>\n"                                                                                 \
    "  <guest><os_type>hvm</os_type>\n"                                                            \
    "    <arch name='armv7l'><machine>vexpress-a15</machine><domain type='qemu'/></arch>\n"        \
    "  </guest>\n"                                                                                 \
    "  <guest><os_type>xen</os_type>\n"                                                            \
    "    <arch name='aarch64'><machine>xenpv</machine><domain type='xen'/></arch>\n"               \
    "  </guest>\n"                                                                                 \
    "</capabilities>\n"
#define VIRT_7_2                                                                                   \
    "<machine maxCpus='512'>virt-7.1</machine>"                                                    \
    "<machine maxCpus='512'>virt-7.2</machine>"                                                    \
    "<machine canonical='virt-7.2' maxCpus='512'>virt</machine>"

static void set_machine_types_ok(ItsmigHostCaps *caps, const char *xml)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(itsmig_host_caps_set_machine_types_from_libvirt(caps, xml, strlen(xml), &error));
    g_assert_no_error(error);
}

/* A host whose probe ran, with what itsmigd learns elsewhere. */
static ItsmigHostCaps *example_full(void)
{
    ItsmigKvmItsCaps kvm = kvm_available();
    ItsmigHostCaps *caps = itsmig_host_caps_new("host-a.example.org");

    kvm.abi_revisions = 0x3;
    kvm.gicv4 = ITSMIG_GICV4_1;
    itsmig_host_caps_set_probe(caps, &kvm);
    set_ok(caps, ITSMIG_CAP_PAGE_SIZE, ITSMIG_CAP_PROBED, "65536");
    set_ok(caps, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "8.2.2");
    set_ok(caps, ITSMIG_CAP_LIBVIRT_VERSION, ITSMIG_CAP_PROBED, "10.0.0");
    set_machine_types_ok(caps, LIBVIRT_CAPS("aarch64", VIRT_7_2, "<machine>virt-8.2</machine>"));
    return caps;
}

/* A host where nothing could be learnt. */
static ItsmigHostCaps *example_unknown(void)
{
    ItsmigHostCaps *caps = itsmig_host_caps_new("host-b");

    caps->probe_unavailable_reason = g_strdup("/dev/kvm: No such file or directory");
    return caps;
}

/* Declarations overriding probes, among them a vITS declared away. */
static ItsmigHostCaps *example_conflict(void)
{
    ItsmigKvmItsCaps kvm = kvm_available();
    ItsmigHostCaps *caps = itsmig_host_caps_new("host-c");

    set_ok(caps, ITSMIG_CAP_GICV4, ITSMIG_CAP_DECLARED, "4.0");
    itsmig_host_caps_set_probe(caps, &kvm);
    set_ok(caps, ITSMIG_CAP_VGIC_ITS, ITSMIG_CAP_DECLARED, "false");
    set_ok(caps, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_DECLARED, "9.0");
    set_ok(caps, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "8.2.2");
    set_ok(caps, ITSMIG_CAP_PAGE_SIZE, ITSMIG_CAP_DECLARED, "4096");
    set_ok(caps, ITSMIG_CAP_PAGE_SIZE, ITSMIG_CAP_PROBED, "4096");
    set_machine_types_ok(caps, LIBVIRT_CAPS("aarch64", VIRT_7_2, ""));
    return caps;
}

/* ---- machine types --------------------------------------------------------- */

static void assert_names(char **names, const char *const *expected)
{
    g_assert_nonnull(names);
    for (guint i = 0; expected[i]; i++)
        g_assert_cmpstr(names[i], ==, expected[i]);
    g_assert_cmpuint(g_strv_length(names), ==, g_strv_length((char **)expected));
}

static void test_machine_types_libvirt(void)
{
    static const char *const expected[] = {"sbsa-ref", "virt",     "virt-2.12",
                                           "virt-7.1", "virt-7.2", NULL};
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("h");
    gboolean offered = TRUE;

    g_assert_cmpint(caps->machine_types.source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_false(itsmig_host_caps_machine_type_known(caps, "aarch64", NULL, "virt", &offered));
    /* The kvm domain's machines count too, duplicates once; armv7l's and
     * Xen's guests are not this host's QEMU guests. */
    set_machine_types_ok(caps,
                         LIBVIRT_CAPS("aarch64", VIRT_7_2 "<machine>sbsa-ref</machine>",
                                      "<machine>virt-2.12</machine><machine>virt-7.2</machine>"));
    g_assert_cmpint(caps->machine_types.source, ==, ITSMIG_CAP_PROBED);
    g_assert_null(caps->machine_types.reason);
    g_assert_cmpstr(caps->machine_types.arch, ==, "aarch64");
    g_assert_cmpstr(caps->machine_types.emulator, ==, "/usr/bin/qemu-system-aarch64");
    assert_names(caps->machine_types.names, expected);

    g_assert_true(itsmig_host_caps_machine_type_known(caps, "aarch64", NULL, "virt-7.2", &offered));
    g_assert_true(offered);
    g_assert_true(
        itsmig_host_caps_machine_type_known(caps, "aarch64", NULL, "virt-10.0", &offered));
    g_assert_false(offered);
    g_assert_true(
        itsmig_host_caps_machine_type_known(caps, "aarch64", NULL, "vexpress-a15", &offered));
    g_assert_false(offered);
    /* Another architecture's guests, or a guest that does not say: not known. */
    offered = TRUE;
    g_assert_false(
        itsmig_host_caps_machine_type_known(caps, "armv7l", NULL, "vexpress-a15", &offered));
    g_assert_true(offered);
    g_assert_false(itsmig_host_caps_machine_type_known(caps, NULL, NULL, "virt", &offered));
    g_assert_false(itsmig_host_caps_machine_type_known(caps, "aarch64", NULL, NULL, &offered));

    /* A guest of another QEMU binary: its machine types are not these. */
    offered = TRUE;
    g_assert_false(itsmig_host_caps_machine_type_known(caps, "aarch64", "/opt/qemu-10/bin/q",
                                                       "virt-10.0", &offered));
    g_assert_true(offered);
    g_assert_true(itsmig_host_caps_machine_type_known(
        caps, "aarch64", "/usr/bin/qemu-system-aarch64", "virt-10.0", &offered));
    g_assert_false(offered);

    itsmig_host_caps_set_machine_types_unknown(caps, "gone");
    g_assert_cmpint(caps->machine_types.source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_cmpstr(caps->machine_types.reason, ==, "gone");
    g_assert_null(caps->machine_types.names);
    g_assert_null(caps->machine_types.arch);
    g_assert_null(caps->machine_types.emulator);
}

static void test_machine_types_libvirt_bad(void)
{
    g_autoptr(GString) many = g_string_new(NULL);
    g_autofree char *too_many = NULL;
    g_autofree char *long_name = g_strnfill(65, 'v');
    g_autofree char *too_long = NULL;
    const struct {
        const char *xml;
        const char *error;
    } cases[] = {
        {"<capabilities><host>", "libvirt's capabilities XML is not well-formed: line 1"},
        {"<!DOCTYPE capabilities [<!ENTITY a 'b'>]><capabilities/>",
         "libvirt's capabilities XML must not have a DOCTYPE"},
        {"<domain type='kvm'/>", "the root element is not <capabilities>"},
        {"<capabilities><host/></capabilities>", "name no host architecture"},
        {"<capabilities><host><cpu><arch>a b</arch></cpu></host></capabilities>",
         "name no host architecture"},
        {LIBVIRT_CAPS("aarch64", "<machine>virt 7.2</machine>", ""),
         "a machine type 'virt 7.2', not a name of at most 64"},
        {LIBVIRT_CAPS("aarch64", "<machine canonical='../virt'>virt</machine>", ""),
         "a machine type '../virt'"},
        {LIBVIRT_CAPS("aarch64", "<machine></machine>", ""), "a machine type ''"},
        {LIBVIRT_CAPS("x86_64", VIRT_7_2, ""),
         "list no machine type for hvm guests of the host's architecture x86_64: libvirt has no "
         "QEMU for it, or could not probe it"},
        {LIBVIRT_CAPS("aarch64", "", ""), "list no machine type for hvm guests"},
        {NULL, "libvirt's capabilities list 513 machine types for aarch64, more than the 512"},
        {NULL, "a machine type 'vvvvv"},
    };

    for (guint i = 0; i < ITSMIG_MACHINE_TYPES_MAX + 1; i++)
        g_string_append_printf(many, "<machine>m-%u</machine>", i);
    too_many = g_strdup_printf(LIBVIRT_CAPS("aarch64", "%s", ""), many->str);
    too_long = g_strdup_printf(LIBVIRT_CAPS("aarch64", "<machine>%s</machine>", ""), long_name);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("h");
        g_autoptr(GError) error = NULL;
        const char *xml = cases[i].xml ? cases[i].xml : i == 10 ? too_many : too_long;

        set_machine_types_ok(caps, LIBVIRT_CAPS("aarch64", VIRT_7_2, ""));
        g_assert_false(
            itsmig_host_caps_set_machine_types_from_libvirt(caps, xml, strlen(xml), &error));
        assert_error_has(error, ITSMIG_ERROR_INVALID_ARGUMENT, cases[i].error);
        /* What was known before is not kept: the connection gave no list. */
        g_assert_cmpint(caps->machine_types.source, ==, ITSMIG_CAP_UNKNOWN);
        g_assert_cmpstr(caps->machine_types.reason, ==, error->message);
        g_assert_null(caps->machine_types.names);
    }
}

/* libvirt's error as the reason: its lines and length made fit, so the document stays one
 * every peer reads. */
static void test_machine_types_unknown_reason(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_full();
    g_autoptr(GString) why = g_string_new("cannot read libvirt's capabilities: internal error:\n");
    g_autofree char *text = NULL;
    g_autoptr(ItsmigHostCaps) back = NULL;
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < 30; i++)
        g_string_append(why, "Failed to probe QEMU binary\t");
    itsmig_host_caps_set_machine_types_unknown(caps, why->str);
    g_assert_cmpuint(strlen(caps->machine_types.reason), <=, 256);
    g_assert_null(strpbrk(caps->machine_types.reason, "\n\t"));
    g_assert_true(g_str_has_prefix(caps->machine_types.reason,
                                   "cannot read libvirt's capabilities: internal error: Failed"));
    text = caps_to_text(caps);
    back = itsmig_host_caps_from_json(text, -1, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->machine_types.reason, ==, caps->machine_types.reason);
}

/* A peer of minor version 1 published no machine types: unknown, with why. */
static void test_minor1_peer_machine_types(void)
{
    g_autoptr(ItsmigHostCaps) full = example_full();
    g_autofree char *text = caps_to_text(full);
    g_autoptr(GString) minor1 = g_string_new(text);
    g_autoptr(ItsmigHostCaps) caps = NULL;
    g_autoptr(GError) error = NULL;
    gboolean offered;

    g_assert_cmpuint(g_string_replace(minor1, "\"minor_version\":2", "\"minor_version\":1", 1), ==,
                     1);
    caps = itsmig_host_caps_from_json(minor1->str, -1, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(caps->minor_version, ==, 1);
    g_assert_cmpint(caps->machine_types.source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_cmpstr(caps->machine_types.reason, ==,
                    "host-a.example.org's itsmig predates the machine types in its document "
                    "(minor version 1)");
    g_assert_false(itsmig_host_caps_machine_type_known(caps, "aarch64", NULL, "virt", &offered));
}

/* What a reader says of an older peer's missing members fits the document's strings, so an
 * older peer with a 255-byte hostname is written out again and read back. */
static void test_old_peer_long_hostname(void)
{
    g_autoptr(ItsmigHostCaps) full = example_full();
    g_autofree char *text = NULL;
    g_autofree char *long_name = g_strnfill(255, 'h');
    g_autoptr(GString) old = NULL;

    g_free(full->hostname);
    full->hostname = g_strdup(long_name);
    text = caps_to_text(full);
    for (guint minor = 0; minor < 2; minor++) {
        g_autoptr(ItsmigHostCaps) caps = NULL;
        g_autoptr(ItsmigHostCaps) back = NULL;
        g_autofree char *again = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *minor_text = g_strdup_printf("\"minor_version\":%u", minor);

        old = g_string_new(text);
        g_assert_cmpuint(g_string_replace(old, "\"minor_version\":2", minor_text, 1), ==, 1);
        caps = itsmig_host_caps_from_json(old->str, -1, &error);
        g_assert_no_error(error);
        g_assert_true(g_str_has_prefix(caps->machine_types.reason,
                                       "hhhhhhhhhhhhhhhhhhhhhhhhhhhhh...'s itsmig predates the "
                                       "machine types"));
        again = caps_to_text(caps);
        back = itsmig_host_caps_from_json(again, -1, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(back->machine_types.reason, ==, caps->machine_types.reason);
        g_assert_cmpstr(back->its_semantics.reason, ==, caps->its_semantics.reason);
        g_string_free(g_steal_pointer(&old), TRUE);
    }
}

/* ---- names --------------------------------------------------------------- */

static void test_field_names(void)
{
    static const char *const json_names[ITSMIG_CAP_LAST] = {
        "arch",
        "page_size",
        "kernel_release",
        "qemu_version",
        "libvirt_version",
        "vgic_its",
        "its_abi_revisions",
        "default_its_abi_revision",
        "gicd_revision",
        "gicv4",
        "save_tables",
        "restore_tables",
        "ctrl_reset",
        "save_pending_tables",
    };
    ItsmigCapField f;

    for (guint i = 0; i < ITSMIG_CAP_LAST; i++) {
        g_autofree char *key = g_strdelimit(g_strdup(json_names[i]), "_", '-');

        g_assert_cmpstr(itsmig_cap_field_to_string(i), ==, json_names[i]);
        f = ITSMIG_CAP_LAST;
        g_assert_true(itsmig_cap_field_from_string(json_names[i], &f));
        g_assert_cmpint(f, ==, i);
        f = ITSMIG_CAP_LAST;
        g_assert_true(itsmig_cap_field_from_string(key, &f));
        g_assert_cmpint(f, ==, i);
    }
    g_assert_null(itsmig_cap_field_to_string(ITSMIG_CAP_LAST));
    g_assert_null(itsmig_cap_field_to_string((ItsmigCapField)-1));
    f = ITSMIG_CAP_GICV4;
    g_assert_false(itsmig_cap_field_from_string("numa", &f));
    g_assert_false(itsmig_cap_field_from_string("", &f));
    g_assert_false(itsmig_cap_field_from_string("ARCH", &f));
    g_assert_false(itsmig_cap_field_from_string(NULL, &f));
    g_assert_cmpint(f, ==, ITSMIG_CAP_GICV4);
}

static void test_source_names(void)
{
    g_assert_cmpstr(itsmig_cap_source_to_string(ITSMIG_CAP_UNKNOWN), ==, "unknown");
    g_assert_cmpstr(itsmig_cap_source_to_string(ITSMIG_CAP_PROBED), ==, "probed");
    g_assert_cmpstr(itsmig_cap_source_to_string(ITSMIG_CAP_DECLARED), ==, "declared");
    g_assert_cmpstr(itsmig_cap_source_to_string(ITSMIG_CAP_SOURCE_LAST), ==, "unknown");
}

/* ---- construction -------------------------------------------------------- */

static void test_new_all_unknown(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
    g_autoptr(GError) error = NULL;

    g_assert_cmpstr(caps->hostname, ==, "a");
    g_assert_null(caps->probe_unavailable_reason);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        g_assert_cmpint(caps->meta[f].source, ==, ITSMIG_CAP_UNKNOWN);
        g_assert_null(caps->meta[f].conflict_probed);
    }
    g_assert_cmpuint(itsmig_host_caps_n_conflicts(caps), ==, 0);
    g_assert_true(itsmig_host_caps_check(caps, &error));
    g_assert_no_error(error);
    itsmig_host_caps_free(NULL);
}

static void test_copy_is_deep(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_conflict();
    g_autoptr(ItsmigHostCaps) copy = itsmig_host_caps_copy(caps);
    g_autofree char *before = caps_to_text(caps);
    g_autofree char *copied = NULL;

    g_assert_true(copy->arch != caps->arch);
    g_assert_true(copy->hostname != caps->hostname);
    g_assert_true(copy->meta[ITSMIG_CAP_QEMU_VERSION].conflict_probed !=
                  caps->meta[ITSMIG_CAP_QEMU_VERSION].conflict_probed);
    g_assert_true(copy->machine_types.names != caps->machine_types.names);
    g_assert_true(copy->machine_types.names[0] != caps->machine_types.names[0]);
    g_clear_pointer(&caps, itsmig_host_caps_free);
    copied = caps_to_text(copy);
    g_assert_cmpstr(copied, ==, before);
}

static void test_has_revision(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");

    /* The bits mean nothing while the field is unknown. */
    caps->its_abi_revisions = 0x1;
    g_assert_false(itsmig_host_caps_has_revision(caps, 0));
    set_ok(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_PROBED, "0,15");
    g_assert_true(itsmig_host_caps_has_revision(caps, 0));
    g_assert_false(itsmig_host_caps_has_revision(caps, 1));
    g_assert_true(itsmig_host_caps_has_revision(caps, 15));
    g_assert_false(itsmig_host_caps_has_revision(caps, 16));
    g_assert_false(itsmig_host_caps_has_revision(caps, G_MAXUINT));
}

/* ---- the probe ----------------------------------------------------------- */

static void test_probe_available(void)
{
    ItsmigKvmItsCaps kvm = kvm_available();
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
    g_autoptr(GError) error = NULL;

    kvm.abi_revisions = 0x5;
    kvm.default_abi_revision = 2;
    kvm.gicd_revision = 2;
    kvm.gicv4 = ITSMIG_GICV4_0;
    kvm.has_ctrl_reset = false;
    kvm.has_save_pending_tables = false;
    caps->probe_unavailable_reason = g_strdup("stale");
    itsmig_host_caps_set_probe(caps, &kvm);

    g_assert_null(caps->probe_unavailable_reason);
    g_assert_cmpstr(caps->arch, ==, "aarch64");
    g_assert_cmpstr(caps->kernel_release, ==, "6.8.0-31-generic");
    g_assert_true(caps->vgic_its);
    g_assert_cmphex(caps->its_abi_revisions, ==, 0x5);
    g_assert_cmpuint(caps->default_its_abi_revision, ==, 2);
    g_assert_cmpuint(caps->gicd_revision, ==, 2);
    g_assert_cmpint(caps->gicv4, ==, ITSMIG_GICV4_0);
    g_assert_true(caps->save_tables);
    g_assert_true(caps->restore_tables);
    g_assert_false(caps->ctrl_reset);
    g_assert_false(caps->save_pending_tables);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        gboolean elsewhere = f == ITSMIG_CAP_PAGE_SIZE || f == ITSMIG_CAP_QEMU_VERSION ||
                             f == ITSMIG_CAP_LIBVIRT_VERSION;

        g_assert_cmpint(caps->meta[f].source, ==,
                        elsewhere ? ITSMIG_CAP_UNKNOWN : ITSMIG_CAP_PROBED);
    }
    g_assert_cmpuint(itsmig_host_caps_n_conflicts(caps), ==, 0);
    g_assert_true(itsmig_host_caps_check(caps, &error));
    g_assert_no_error(error);
}

static void test_probe_gicv4_unknown(void)
{
    ItsmigKvmItsCaps kvm = kvm_available();
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");

    kvm.gicv4 = ITSMIG_GICV4_UNKNOWN;
    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_GICV4].source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_VGIC_ITS].source, ==, ITSMIG_CAP_PROBED);
}

static void test_probe_unavailable_arm64(void)
{
    ItsmigKvmItsCaps kvm = kvm_unavailable("aarch64", "/dev/kvm: Permission denied");
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
    g_autofree char *text = NULL;
    g_autoptr(ItsmigHostCaps) back = NULL;
    g_autoptr(GError) error = NULL;

    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpstr(caps->probe_unavailable_reason, ==, "/dev/kvm: Permission denied");
    g_assert_cmpint(caps->meta[ITSMIG_CAP_ARCH].source, ==, ITSMIG_CAP_PROBED);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_KERNEL_RELEASE].source, ==, ITSMIG_CAP_PROBED);
    /* No permission says nothing about what KVM could do. */
    for (guint f = ITSMIG_CAP_VGIC_ITS; f < ITSMIG_CAP_LAST; f++)
        g_assert_cmpint(caps->meta[f].source, ==, ITSMIG_CAP_UNKNOWN);

    text = caps_to_text(caps);
    g_assert_nonnull(strstr(text, "\"probe\":{\"available\":false,"
                                  "\"reason\":\"/dev/kvm: Permission denied\"}"));
    back = itsmig_host_caps_from_json(text, -1, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->probe_unavailable_reason, ==, "/dev/kvm: Permission denied");
}

static void test_probe_unavailable_foreign_arch(void)
{
    ItsmigKvmItsCaps kvm = kvm_unavailable("x86_64", "not an arm64 host (x86_64)");
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
    g_autoptr(GError) error = NULL;

    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpstr(caps->arch, ==, "x86_64");
    g_assert_cmpint(caps->meta[ITSMIG_CAP_VGIC_ITS].source, ==, ITSMIG_CAP_PROBED);
    g_assert_false(caps->vgic_its);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_true(itsmig_host_caps_check(caps, &error));
    g_assert_no_error(error);
}

static void test_probe_unavailable_no_arch(void)
{
    ItsmigKvmItsCaps kvm = kvm_unavailable("", "uname failed");
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");

    kvm.kernel_release[0] = '\0';
    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_ARCH].source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_KERNEL_RELEASE].source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_VGIC_ITS].source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_cmpstr(caps->probe_unavailable_reason, ==, "uname failed");
}

/* What the probe hands over goes into a document a peer must be able to read. */
static void test_probe_odd_strings(void)
{
    ItsmigKvmItsCaps kvm = kvm_unavailable("aarch64", "line one\nline two\t\x01");
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
    g_autoptr(ItsmigHostCaps) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;

    /* Buffers filled to the end, without a NUL. */
    memset(kvm.arch, 'a', sizeof(kvm.arch));
    memset(kvm.kernel_release, '6', sizeof(kvm.kernel_release));
    kvm.kernel_release[3] = '\n';
    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpuint(strlen(caps->arch), ==, sizeof(kvm.arch));
    g_assert_cmpint(caps->meta[ITSMIG_CAP_KERNEL_RELEASE].source, ==, ITSMIG_CAP_UNKNOWN);
    g_assert_cmpstr(caps->probe_unavailable_reason, ==, "line one line two");

    memset(kvm.unavailable_reason, '\n', sizeof(kvm.unavailable_reason) - 1);
    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpstr(caps->probe_unavailable_reason, ==, "the KVM probe could not run");

    memset(kvm.unavailable_reason, 'r', sizeof(kvm.unavailable_reason));
    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpuint(strlen(caps->probe_unavailable_reason), <=, 256);

    text = caps_to_text(caps);
    back = itsmig_host_caps_from_json(text, -1, &error);
    g_assert_no_error(error);
    g_assert_nonnull(back);
}

/* A probe that cannot run later keeps what an earlier one found. */
static void test_probe_unavailable_keeps_earlier(void)
{
    ItsmigKvmItsCaps ok = kvm_available();
    ItsmigKvmItsCaps gone = kvm_unavailable("aarch64", "/dev/kvm: No such device");
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");

    itsmig_host_caps_set_probe(caps, &ok);
    itsmig_host_caps_set_probe(caps, &gone);
    g_assert_cmpstr(caps->probe_unavailable_reason, ==, "/dev/kvm: No such device");
    g_assert_cmpint(caps->meta[ITSMIG_CAP_VGIC_ITS].source, ==, ITSMIG_CAP_PROBED);
    g_assert_true(caps->vgic_its);
    g_assert_cmphex(caps->its_abi_revisions, ==, 0x1);
    itsmig_host_caps_set_probe(caps, &ok);
    g_assert_null(caps->probe_unavailable_reason);
}

/* ---- declared over probed ------------------------------------------------ */

static void test_conflict_declared_after_probe(void)
{
    ItsmigKvmItsCaps kvm = kvm_available();
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");

    itsmig_host_caps_set_probe(caps, &kvm);
    set_ok(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, "0;1");
    g_assert_cmpint(caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source, ==, ITSMIG_CAP_DECLARED);
    g_assert_cmphex(caps->its_abi_revisions, ==, 0x3);
    g_assert_cmpstr(caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].conflict_probed, ==, "[0]");
    g_assert_cmpuint(itsmig_host_caps_n_conflicts(caps), ==, 1);
}

static void test_conflict_probe_after_declared(void)
{
    ItsmigKvmItsCaps kvm = kvm_available();
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");

    set_ok(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, "0;1");
    set_ok(caps, ITSMIG_CAP_GICV4, ITSMIG_CAP_DECLARED, "4.1");
    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source, ==, ITSMIG_CAP_DECLARED);
    g_assert_cmphex(caps->its_abi_revisions, ==, 0x3);
    g_assert_cmpstr(caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].conflict_probed, ==, "[0]");
    g_assert_cmpint(caps->gicv4, ==, ITSMIG_GICV4_1);
    g_assert_cmpstr(caps->meta[ITSMIG_CAP_GICV4].conflict_probed, ==, "\"none\"");
    g_assert_cmpuint(itsmig_host_caps_n_conflicts(caps), ==, 2);

    /* A later probe that agrees takes the conflict away. */
    kvm.gicv4 = ITSMIG_GICV4_1;
    itsmig_host_caps_set_probe(caps, &kvm);
    g_assert_null(caps->meta[ITSMIG_CAP_GICV4].conflict_probed);
    g_assert_cmpint(caps->meta[ITSMIG_CAP_GICV4].source, ==, ITSMIG_CAP_DECLARED);
    g_assert_cmpuint(itsmig_host_caps_n_conflicts(caps), ==, 1);
}

/* Every field, both orders, through set(): the same document either way. */
static void test_conflict_symmetric(void)
{
    static const struct {
        ItsmigCapField field;
        const char *probed, *declared, *conflict;
    } cases[] = {
        {ITSMIG_CAP_ARCH, "aarch64", "aarch64_be", "\"aarch64\""},
        {ITSMIG_CAP_PAGE_SIZE, "4096", "65536", "4096"},
        {ITSMIG_CAP_KERNEL_RELEASE, "6.8.0", "6.1.0", "\"6.8.0\""},
        {ITSMIG_CAP_QEMU_VERSION, "8.2.2", "9.0.0", "\"8.2.2\""},
        {ITSMIG_CAP_LIBVIRT_VERSION, "10.0.0", "9.0", "\"10.0.0\""},
        {ITSMIG_CAP_VGIC_ITS, "true", "no", "true"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "0", "none", "[0]"},
        {ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "0", "1", "0"},
        {ITSMIG_CAP_GICD_REVISION, "3", "2", "3"},
        {ITSMIG_CAP_GICV4, "4.0", "none", "\"4.0\""},
        {ITSMIG_CAP_SAVE_TABLES, "yes", "false", "true"},
        {ITSMIG_CAP_RESTORE_TABLES, "false", "true", "false"},
        {ITSMIG_CAP_CTRL_RESET, "true", "false", "true"},
        {ITSMIG_CAP_SAVE_PENDING_TABLES, "no", "yes", "false"},
    };
    g_autoptr(ItsmigHostCaps) a = itsmig_host_caps_new("a");
    g_autoptr(ItsmigHostCaps) b = itsmig_host_caps_new("a");
    g_autofree char *ta = NULL;
    g_autofree char *tb = NULL;

    G_STATIC_ASSERT(G_N_ELEMENTS(cases) == ITSMIG_CAP_LAST);
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        set_ok(a, cases[i].field, ITSMIG_CAP_PROBED, cases[i].probed);
        set_ok(a, cases[i].field, ITSMIG_CAP_DECLARED, cases[i].declared);
        set_ok(b, cases[i].field, ITSMIG_CAP_DECLARED, cases[i].declared);
        set_ok(b, cases[i].field, ITSMIG_CAP_PROBED, cases[i].probed);
        g_assert_cmpint(a->meta[cases[i].field].source, ==, ITSMIG_CAP_DECLARED);
        g_assert_cmpstr(a->meta[cases[i].field].conflict_probed, ==, cases[i].conflict);
        g_assert_cmpstr(b->meta[cases[i].field].conflict_probed, ==, cases[i].conflict);
    }
    g_assert_cmpuint(itsmig_host_caps_n_conflicts(a), ==, ITSMIG_CAP_LAST);
    ta = caps_to_text(a);
    tb = caps_to_text(b);
    g_assert_cmpstr(ta, ==, tb);
}

static void test_conflict_equal_is_none(void)
{
    ItsmigKvmItsCaps kvm = kvm_available();
    g_autoptr(ItsmigHostCaps) a = itsmig_host_caps_new("a");
    g_autoptr(ItsmigHostCaps) b = itsmig_host_caps_new("a");
    g_autofree char *ta = NULL;
    g_autofree char *tb = NULL;

    itsmig_host_caps_set_probe(a, &kvm);
    set_ok(a, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, "0");
    set_ok(a, ITSMIG_CAP_SAVE_TABLES, ITSMIG_CAP_DECLARED, "yes");
    set_ok(a, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_DECLARED, "8.2.2");
    set_ok(a, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "8.2.2");

    set_ok(b, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, "0");
    set_ok(b, ITSMIG_CAP_SAVE_TABLES, ITSMIG_CAP_DECLARED, "yes");
    set_ok(b, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "8.2.2");
    set_ok(b, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_DECLARED, "8.2.2");
    itsmig_host_caps_set_probe(b, &kvm);

    g_assert_cmpuint(itsmig_host_caps_n_conflicts(a), ==, 0);
    g_assert_cmpint(a->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source, ==, ITSMIG_CAP_DECLARED);
    g_assert_cmpint(a->meta[ITSMIG_CAP_QEMU_VERSION].source, ==, ITSMIG_CAP_DECLARED);
    ta = caps_to_text(a);
    tb = caps_to_text(b);
    g_assert_cmpstr(ta, ==, tb);
    g_assert_nonnull(strstr(ta, "\"conflicts\":[]"));
    g_assert_null(strstr(ta, "\"probed\":"));
}

static void test_declared_twice(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
    g_autoptr(GError) error = NULL;

    set_ok(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, "0,1");
    set_ok(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, "1;0");
    g_assert_false(
        itsmig_host_caps_set(caps, ITSMIG_CAP_ITS_ABI_REVISIONS, ITSMIG_CAP_DECLARED, "0", &error));
    assert_error_has(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                     "its-abi-revisions: declared twice, as [0,1] and as [0]");
    g_assert_cmphex(caps->its_abi_revisions, ==, 0x3);
}

static void test_probed_twice(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");

    set_ok(caps, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "8.2.2");
    set_ok(caps, ITSMIG_CAP_QEMU_VERSION, ITSMIG_CAP_PROBED, "9.0.0");
    g_assert_cmpstr(caps->qemu_version, ==, "9.0.0");
    g_assert_cmpuint(itsmig_host_caps_n_conflicts(caps), ==, 0);
}

/* ---- set(): itsmigd.conf's syntax ---------------------------------------- */

static void test_set_good(void)
{
    static const struct {
        ItsmigCapField field;
        const char *text;
        const char *json; /* the value as the document writes it */
    } cases[] = {
        {ITSMIG_CAP_ARCH, "aarch64", "\"aarch64\""},
        {ITSMIG_CAP_ARCH, "x86_64", "\"x86_64\""},
        {ITSMIG_CAP_PAGE_SIZE, "4096", "4096"},
        {ITSMIG_CAP_PAGE_SIZE, "8192", "8192"},
        {ITSMIG_CAP_PAGE_SIZE, "16384", "16384"},
        {ITSMIG_CAP_PAGE_SIZE, "65536", "65536"},
        {ITSMIG_CAP_KERNEL_RELEASE, "6.8.0-rc1+ #1 SMP", "\"6.8.0-rc1+ #1 SMP\""},
        {ITSMIG_CAP_KERNEL_RELEASE, "6.1.0-\xc3\xa9", "\"6.1.0-\xc3\xa9\""},
        {ITSMIG_CAP_QEMU_VERSION, "8.2.0", "\"8.2.0\""},
        {ITSMIG_CAP_QEMU_VERSION, "10.1", "\"10.1\""},
        {ITSMIG_CAP_LIBVIRT_VERSION, "10.0.0", "\"10.0.0\""},
        {ITSMIG_CAP_VGIC_ITS, "true", "true"},
        {ITSMIG_CAP_VGIC_ITS, "yes", "true"},
        {ITSMIG_CAP_VGIC_ITS, "TRUE", "true"},
        {ITSMIG_CAP_VGIC_ITS, "false", "false"},
        {ITSMIG_CAP_VGIC_ITS, "No", "false"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "0", "[0]"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "1,0", "[0,1]"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "0; 1 ;15", "[0,1,15]"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "none", "[]"},
        {ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "0", "0"},
        {ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "15", "15"},
        {ITSMIG_CAP_GICD_REVISION, "3", "3"},
        {ITSMIG_CAP_GICV4, "none", "\"none\""},
        {ITSMIG_CAP_GICV4, "4.0", "\"4.0\""},
        {ITSMIG_CAP_GICV4, "4.1", "\"4.1\""},
        {ITSMIG_CAP_SAVE_TABLES, "yes", "true"},
        {ITSMIG_CAP_RESTORE_TABLES, "false", "false"},
        {ITSMIG_CAP_CTRL_RESET, "true", "true"},
        {ITSMIG_CAP_SAVE_PENDING_TABLES, "no", "false"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
        g_autofree char *text = NULL;
        g_autofree char *want = NULL;

        set_ok(caps, cases[i].field, ITSMIG_CAP_DECLARED, cases[i].text);
        g_assert_cmpint(caps->meta[cases[i].field].source, ==, ITSMIG_CAP_DECLARED);
        text = caps_to_text(caps);
        want = g_strdup_printf("\"%s\":{\"value\":%s,\"source\":\"declared\"}",
                               itsmig_cap_field_to_string(cases[i].field), cases[i].json);
        if (!strstr(text, want))
            g_error("%s = '%s': %s not in %s", itsmig_cap_field_to_string(cases[i].field),
                    cases[i].text, want, text);
    }
}

static void test_set_bad(void)
{
    static const struct {
        ItsmigCapField field;
        const char *text;
        const char *error;
    } cases[] = {
        {ITSMIG_CAP_ARCH, "", "arch: empty value"},
        {ITSMIG_CAP_ARCH, "aarch\n64", "arch: contains a control character; expected UTF-8 text"},
        {ITSMIG_CAP_KERNEL_RELEASE, "6.8\x7f", "kernel-release: contains a control character"},
        {ITSMIG_CAP_KERNEL_RELEASE, "6.8\xff", "kernel-release: not valid UTF-8"},
        {ITSMIG_CAP_KERNEL_RELEASE, "@X257@", "kernel-release: 257 bytes, more than 256"},
        {ITSMIG_CAP_PAGE_SIZE, "", "page-size: empty value"},
        {ITSMIG_CAP_PAGE_SIZE, "4097",
         "page-size: '4097' is not a page size; expected a power "
         "of two in 4096..65536"},
        {ITSMIG_CAP_PAGE_SIZE, "2048", "page-size: '2048' is not a page size"},
        {ITSMIG_CAP_PAGE_SIZE, "131072", "page-size: '131072' is not a page size"},
        {ITSMIG_CAP_PAGE_SIZE, "4096x", "page-size: '4096x' is not a page size"},
        {ITSMIG_CAP_PAGE_SIZE, " 4096", "page-size: ' 4096' is not a page size"},
        {ITSMIG_CAP_PAGE_SIZE, "-4096", "page-size: '-4096' is not a page size"},
        {ITSMIG_CAP_PAGE_SIZE, "0x1000", "page-size: '0x1000' is not a page size"},
        {ITSMIG_CAP_PAGE_SIZE, "18446744073709555712", "page-size: '18446744073709555712' is not"},
        {ITSMIG_CAP_QEMU_VERSION, "8", "qemu-version: '8' is not a version; expected major.minor"},
        {ITSMIG_CAP_QEMU_VERSION, "8.2.2.1", "qemu-version: '8.2.2.1' is not a version"},
        {ITSMIG_CAP_QEMU_VERSION, "v8.2", "qemu-version: 'v8.2' is not a version"},
        {ITSMIG_CAP_QEMU_VERSION, "8.2.", "qemu-version: '8.2.' is not a version"},
        {ITSMIG_CAP_QEMU_VERSION, ".8.2", "qemu-version: '.8.2' is not a version"},
        {ITSMIG_CAP_QEMU_VERSION, "8..2", "qemu-version: '8..2' is not a version"},
        {ITSMIG_CAP_LIBVIRT_VERSION, "10.0.0-rc1", "libvirt-version: '10.0.0-rc1' is not a"},
        {ITSMIG_CAP_LIBVIRT_VERSION, "10.0.0 ", "libvirt-version: '10.0.0 ' is not a version"},
        {ITSMIG_CAP_VGIC_ITS, "maybe",
         "vgic-its: 'maybe' is not a boolean; expected true, "
         "false, yes or no"},
        {ITSMIG_CAP_VGIC_ITS, "1", "vgic-its: '1' is not a boolean"},
        {ITSMIG_CAP_VGIC_ITS, "true ", "vgic-its: 'true ' is not a boolean"},
        {ITSMIG_CAP_SAVE_TABLES, "", "save-tables: empty value"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "", "its-abi-revisions: empty value"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "16",
         "its-abi-revisions: '16' is not a revision; "
         "expected revisions 0..15 separated by ',' or ';'"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "-1", "its-abi-revisions: '-1' is not a revision"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "0 1", "its-abi-revisions: '0 1' is not a revision"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "a", "its-abi-revisions: 'a' is not a revision"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "0,,1", "its-abi-revisions: '0,,1' has an empty item"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "0,1,", "its-abi-revisions: '0,1,' has an empty item"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, ",", "its-abi-revisions: ',' has an empty item"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "0,1,0", "its-abi-revisions: revision 0 is listed twice"},
        {ITSMIG_CAP_ITS_ABI_REVISIONS, "none,0", "its-abi-revisions: 'none' is not a revision"},
        {ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "16",
         "default-its-abi-revision: '16' is not a "
         "revision; expected an integer in 0..15"},
        {ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "1.0", "default-its-abi-revision: '1.0' is not"},
        {ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, "0,1", "default-its-abi-revision: '0,1' is not"},
        {ITSMIG_CAP_GICD_REVISION, "99", "gicd-revision: '99' is not a revision"},
        {ITSMIG_CAP_GICV4, "4.2", "gicv4: '4.2' is not a GICv4 level; expected none, 4.0 or 4.1"},
        {ITSMIG_CAP_GICV4, "unknown", "gicv4: 'unknown' is not a GICv4 level"},
        {ITSMIG_CAP_GICV4, "4", "gicv4: '4' is not a GICv4 level"},
        /* What the operator wrote is quoted on one line, and not at any length. */
        {ITSMIG_CAP_GICV4, "4.1\n", "gicv4: '4.1\\u000a' is not a GICv4 level"},
        {ITSMIG_CAP_PAGE_SIZE, "4096\xff", "page-size: '4096\xef\xbf\xbd' is not a page size"},
        {ITSMIG_CAP_VGIC_ITS, "@X100@", "vgic-its: '" X61 "xxx...' is not"},
    };
    g_autoptr(ItsmigHostCaps) caps = example_full();
    g_autofree char *before = caps_to_text(caps);

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = unquote(cases[i].text);
        g_autofree char *after = NULL;

        for (ItsmigCapSource s = ITSMIG_CAP_PROBED; s <= ITSMIG_CAP_DECLARED; s++) {
            g_autoptr(GError) error = NULL;

            if (itsmig_host_caps_set(caps, cases[i].field, s, text, &error))
                g_error("%s = '%s' accepted", itsmig_cap_field_to_string(cases[i].field), text);
            assert_error_has(error, ITSMIG_ERROR_INVALID_ARGUMENT, cases[i].error);
        }
        /* @caps is unchanged on failure. */
        after = caps_to_text(caps);
        g_assert_cmpstr(after, ==, before);
    }
}

static void test_set_bad_source_or_field(void)
{
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
    g_autoptr(GError) error = NULL;

    g_assert_false(itsmig_host_caps_set(caps, ITSMIG_CAP_ARCH, ITSMIG_CAP_UNKNOWN, "x", &error));
    assert_error_has(error, ITSMIG_ERROR_INVALID_ARGUMENT,
                     "arch: a value is set as probed or declared, not unknown");
    g_clear_error(&error);
    g_assert_false(itsmig_host_caps_set(caps, ITSMIG_CAP_LAST, ITSMIG_CAP_DECLARED, "x", &error));
    assert_error_has(error, ITSMIG_ERROR_INVALID_ARGUMENT, "field 14 does not exist");
    g_assert_cmpint(caps->meta[ITSMIG_CAP_ARCH].source, ==, ITSMIG_CAP_UNKNOWN);
}

/* ---- check() ------------------------------------------------------------- */

static void test_check(void)
{
    static const struct {
        const char *name;
        const char *sets[8]; /* "key=value" declared, "key:value" probed; NULL ends */
        const char *error;   /* NULL: consistent */
    } cases[] = {
        {"all-unknown", {NULL}, NULL},
        {"default-listed", {"its-abi-revisions=0,1", "default-its-abi-revision=1"}, NULL},
        {"default-not-listed",
         {"its-abi-revisions=0", "default-its-abi-revision=1"},
         "caps.default_its_abi_revision: revision 1 is not one of caps.its_abi_revisions [0]"},
        {"default-not-in-empty",
         {"its-abi-revisions=none", "default-its-abi-revision=0"},
         "caps.default_its_abi_revision: revision 0 is not one of caps.its_abi_revisions []"},
        {"default-without-list", {"default-its-abi-revision=3"}, NULL},
        {"no-vits-revisions",
         {"vgic-its:false", "its-abi-revisions=0"},
         "caps.its_abi_revisions: lists [0], but caps.vgic_its is false"},
        {"no-vits-empty-revisions", {"vgic-its:false", "its-abi-revisions=none"}, NULL},
        {"no-vits-default",
         {"vgic-its=false", "default-its-abi-revision=0"},
         "caps.default_its_abi_revision: is 0, but caps.vgic_its is false"},
        {"no-vits-save-tables",
         {"vgic-its=false", "save-tables:true"},
         "caps.save_tables: true, but caps.vgic_its is false"},
        {"no-vits-restore-tables",
         {"vgic-its=false", "restore-tables=true"},
         "caps.restore_tables: true, but caps.vgic_its is false"},
        {"no-vits-ctrl-reset",
         {"vgic-its=false", "ctrl-reset=yes"},
         "caps.ctrl_reset: true, but caps.vgic_its is false"},
        {"no-vits-attributes-false",
         {"vgic-its=false", "save-tables=false", "restore-tables=false", "ctrl-reset=false"},
         NULL},
        /* A vGICv3 attribute, not an ITS one. */
        {"no-vits-save-pending-tables", {"vgic-its=false", "save-pending-tables=true"}, NULL},
        /* The operator's word over a probe that found a vITS: a conflict, not a lie. */
        {"vits-declared-away",
         {"vgic-its:true", "its-abi-revisions:0", "default-its-abi-revision:0", "save-tables:true",
          "vgic-its=false"},
         NULL},
        {"vits-on-x86",
         {"arch:x86_64", "vgic-its=true"},
         "caps.vgic_its: true, but caps.arch x86_64 has no GICv3 ITS"},
        {"vits-on-aarch64-be", {"arch:aarch64_be", "vgic-its=true"}, NULL},
        {"no-vits-on-x86", {"arch:x86_64", "vgic-its:false"}, NULL},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_new("a");
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        g_autoptr(ItsmigHostCaps) back = NULL;
        gboolean ok;

        for (guint j = 0; cases[i].sets[j]; j++) {
            g_autofree char *key = g_strdup(cases[i].sets[j]);
            char *sep = strpbrk(key, "=:");
            ItsmigCapField f;

            g_assert_nonnull(sep);
            *sep = '\0';
            g_assert_true(itsmig_cap_field_from_string(key, &f));
            set_ok(caps, f,
                   cases[i].sets[j][sep - key] == '=' ? ITSMIG_CAP_DECLARED : ITSMIG_CAP_PROBED,
                   sep + 1);
        }
        ok = itsmig_host_caps_check(caps, &error);
        text = caps_to_text(caps);
        back = itsmig_host_caps_from_json(text, -1, error ? NULL : &error);
        if (!cases[i].error) {
            if (!ok)
                g_error("%s: %s", cases[i].name, error->message);
            g_assert_no_error(error);
            g_assert_nonnull(back);
            continue;
        }
        if (ok)
            g_error("%s: accepted", cases[i].name);
        assert_error_has(error, ITSMIG_ERROR_INVALID_HOST_CAPS, cases[i].error);
        /* The parser says the same of the document. */
        g_assert_null(back);
        g_clear_error(&error);
        back = itsmig_host_caps_from_json(text, -1, &error);
        g_assert_null(back);
        assert_error_has(error, ITSMIG_ERROR_INVALID_HOST_CAPS, cases[i].error);
    }
}

/* ---- the document -------------------------------------------------------- */

static void assert_same_caps(const ItsmigHostCaps *a, const ItsmigHostCaps *b)
{
    g_autofree char *ta = caps_to_text(a);
    g_autofree char *tb = caps_to_text(b);

    g_assert_cmpstr(a->hostname, ==, b->hostname);
    g_assert_cmpstr(a->probe_unavailable_reason, ==, b->probe_unavailable_reason);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        g_assert_cmpint(a->meta[f].source, ==, b->meta[f].source);
        g_assert_cmpstr(a->meta[f].conflict_probed, ==, b->meta[f].conflict_probed);
    }
    g_assert_cmpstr(a->arch, ==, b->arch);
    g_assert_cmpuint(a->page_size, ==, b->page_size);
    g_assert_cmpstr(a->kernel_release, ==, b->kernel_release);
    g_assert_cmpstr(a->qemu_version, ==, b->qemu_version);
    g_assert_cmpstr(a->libvirt_version, ==, b->libvirt_version);
    g_assert_cmpint(a->vgic_its, ==, b->vgic_its);
    g_assert_cmphex(a->its_abi_revisions, ==, b->its_abi_revisions);
    g_assert_cmpuint(a->default_its_abi_revision, ==, b->default_its_abi_revision);
    g_assert_cmpuint(a->gicd_revision, ==, b->gicd_revision);
    g_assert_cmpint(a->gicv4, ==, b->gicv4);
    g_assert_cmpint(a->save_tables, ==, b->save_tables);
    g_assert_cmpint(a->restore_tables, ==, b->restore_tables);
    g_assert_cmpint(a->ctrl_reset, ==, b->ctrl_reset);
    g_assert_cmpint(a->save_pending_tables, ==, b->save_pending_tables);
    g_assert_cmpint(a->machine_types.source, ==, b->machine_types.source);
    /* Without a reason, the writer gives one. */
    if (a->machine_types.reason)
        g_assert_cmpstr(a->machine_types.reason, ==, b->machine_types.reason);
    g_assert_cmpstr(a->machine_types.arch, ==, b->machine_types.arch);
    g_assert_true((!a->machine_types.names && !b->machine_types.names) ||
                  g_strv_equal((const char *const *)a->machine_types.names,
                               (const char *const *)b->machine_types.names));
    g_assert_cmpstr(ta, ==, tb);
}

static void round_trip(ItsmigHostCaps *caps)
{
    g_autofree char *text = caps_to_text(caps);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigHostCaps) back = itsmig_host_caps_from_json(text, -1, &error);

    g_assert_no_error(error);
    g_assert_nonnull(back);
    assert_same_caps(caps, back);
}

static void test_round_trip_full(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_full();

    for (guint f = 0; f < ITSMIG_CAP_LAST; f++)
        g_assert_cmpint(caps->meta[f].source, ==, ITSMIG_CAP_PROBED);
    round_trip(caps);
}

static void test_round_trip_unknown(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_unknown();

    round_trip(caps);
    g_clear_pointer(&caps->probe_unavailable_reason, g_free);
    round_trip(caps);
}

static void test_round_trip_conflict(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_conflict();

    g_assert_cmpuint(itsmig_host_caps_n_conflicts(caps), ==, 3);
    round_trip(caps);
}

/* The register set and the vITS facts come back as they went. */
static void test_round_trip_regs(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_full();
    ItsmigKvmReg regs[] = {
        {.id = 0x6030000000100000ull},
        {.id = 0x603000000013c000ull,
         .value = 0x410fd0c1,
         .has_value = true,
         .writable = 0xff,
         .has_writable = true},
        {.id = 0x6030000000160000ull,
         .value = 3,
         .has_value = true,
         .features = ITSMIG_VCPU_FEATURE_PSCI_0_2},
    };
    ItsmigKvmRegSet set = {.available = true,
                           .features = ITSMIG_VCPU_FEATURE_PSCI_0_2 | ITSMIG_VCPU_FEATURE_PMU_V3,
                           .writable_masks = true,
                           .n_regs = 3,
                           .regs = regs};
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigHostCaps) back = NULL;

    itsmig_host_caps_set_regs(caps, &set);
    caps->its_semantics.source = ITSMIG_CAP_PROBED;
    caps->its_semantics.facts.measured = TRUE;
    caps->its_semantics.facts.save_unreachable_device_errno = 22;
    caps->its_semantics.facts.baser_write_keeps_mappings = TRUE;
    caps->its_semantics.facts.gicd_access_before_init_errno = 6;
    text = caps_to_text(caps);
    back = itsmig_host_caps_from_json(text, -1, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(back->minor_version, ==, ITSMIG_HOST_CAPS_MINOR);
    g_assert_true(back->regs.available);
    g_assert_cmpstr(back->regs_digest, ==, caps->regs_digest);
    g_assert_cmpuint(back->regs.n_regs, ==, 3);
    g_assert_cmpmem(back->regs.regs, 3 * sizeof(ItsmigKvmReg), regs, sizeof(regs));
    g_assert_cmpint(back->its_semantics.source, ==, ITSMIG_CAP_PROBED);
    g_assert_cmpint(back->its_semantics.facts.save_unreachable_device_errno, ==, 22);
    g_assert_true(back->its_semantics.facts.baser_write_keeps_mappings);
    g_assert_cmpint(back->its_semantics.facts.gicd_access_before_init_errno, ==, 6);
}

/* Member order and value types, as peers and the schema expect them. */
static void test_document_layout(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_conflict();
    g_autofree char *text = caps_to_text(caps);

    g_assert_cmpstr(
        text, ==,
        "{\"schema\":\"itsmig-host-caps\",\"version\":1,\"minor_version\":2,"
        "\"hostname\":\"host-c\","
        "\"probe\":{\"available\":true,\"reason\":null},"
        "\"caps\":{"
        "\"arch\":{\"value\":\"aarch64\",\"source\":\"probed\"},"
        "\"page_size\":{\"value\":4096,\"source\":\"declared\"},"
        "\"kernel_release\":{\"value\":\"6.8.0-31-generic\",\"source\":\"probed\"},"
        "\"qemu_version\":{\"value\":\"9.0\",\"source\":\"declared\",\"probed\":\"8.2.2\"},"
        "\"libvirt_version\":{\"value\":null,\"source\":\"unknown\"},"
        "\"vgic_its\":{\"value\":false,\"source\":\"declared\",\"probed\":true},"
        "\"its_abi_revisions\":{\"value\":[0],\"source\":\"probed\"},"
        "\"default_its_abi_revision\":{\"value\":0,\"source\":\"probed\"},"
        "\"gicd_revision\":{\"value\":3,\"source\":\"probed\"},"
        "\"gicv4\":{\"value\":\"4.0\",\"source\":\"declared\",\"probed\":\"none\"},"
        "\"save_tables\":{\"value\":true,\"source\":\"probed\"},"
        "\"restore_tables\":{\"value\":true,\"source\":\"probed\"},"
        "\"ctrl_reset\":{\"value\":true,\"source\":\"probed\"},"
        "\"save_pending_tables\":{\"value\":true,\"source\":\"probed\"}},"
        "\"conflicts\":[\"qemu_version\",\"vgic_its\",\"gicv4\"],"
        "\"vcpu_registers\":{\"available\":false,"
        "\"unavailable_reason\":\"the register set was not probed\",\"features\":null,"
        "\"writable_masks\":null,\"count\":null,\"digest\":null,\"registers\":null},"
        "\"its_semantics\":{\"source\":\"unknown\","
        "\"reason\":\"the KVM probe did not measure the vITS behaviour\"},"
        "\"machine_types\":{\"source\":\"probed\",\"arch\":\"aarch64\","
        "\"emulator\":\"/usr/bin/qemu-system-aarch64\","
        "\"value\":[\"virt\",\"virt-7.1\",\"virt-7.2\"]}}");
}

/* The daemon wraps the members in an object of its own. */
static void test_daemon_members_ignored(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_full();
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;
    g_autoptr(ItsmigHostCaps) back = NULL;
    g_autoptr(GError) error = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "itsmigd");
    json_builder_add_string_value(b, "1.0");
    itsmig_host_caps_to_json_members(caps, b);
    json_builder_set_member_name(b, "kvm");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "available");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    text = json_to_string(root, TRUE);

    back = itsmig_host_caps_from_json(text, -1, &error);
    g_assert_no_error(error);
    assert_same_caps(caps, back);
}

static void test_parse_explicit_length(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_full();
    g_autofree char *text = caps_to_text(caps);
    g_autofree char *padded = g_strconcat(text, "garbage", NULL);
    g_autoptr(ItsmigHostCaps) back = NULL;
    g_autoptr(GError) error = NULL;

    back = itsmig_host_caps_from_json(padded, strlen(text), &error);
    g_assert_no_error(error);
    assert_same_caps(caps, back);

    g_clear_pointer(&back, itsmig_host_caps_free);
    back = itsmig_host_caps_from_json(padded, -1, &error);
    g_assert_null(back);
    assert_error_has(error, ITSMIG_ERROR_INVALID_JSON, "data after the value");

    /* A NUL inside the given length is not JSON. */
    g_clear_error(&error);
    back = itsmig_host_caps_from_json(text, strlen(text) + 1, &error);
    g_assert_null(back);
    assert_error_has(error, ITSMIG_ERROR_INVALID_JSON, "not UTF-8, or a NUL byte");
}

static void test_parse_too_large(void)
{
    g_autoptr(ItsmigHostCaps) caps = example_full();
    g_autofree char *text = caps_to_text(caps);
    gsize len = strlen(text);
    g_autofree char *big = g_malloc(ITSMIG_HOST_CAPS_MAX + 2);
    g_autoptr(ItsmigHostCaps) back = NULL;
    g_autoptr(GError) error = NULL;

    /* Padded with whitespace to the limit: accepted; one byte more: refused. */
    memset(big, ' ', ITSMIG_HOST_CAPS_MAX + 1);
    memcpy(big, text, len);
    big[ITSMIG_HOST_CAPS_MAX] = '\0';
    back = itsmig_host_caps_from_json(big, -1, &error);
    g_assert_no_error(error);
    g_assert_nonnull(back);
    g_clear_pointer(&back, itsmig_host_caps_free);

    big[ITSMIG_HOST_CAPS_MAX] = ' ';
    big[ITSMIG_HOST_CAPS_MAX + 1] = '\0';
    back = itsmig_host_caps_from_json(big, -1, &error);
    g_assert_null(back);
    assert_error_has(error, ITSMIG_ERROR_INVALID_HOST_CAPS,
                     "document of 262145 bytes, more than the limit of 262144");
}

/* Nesting that would exhaust json-glib's stack is refused before it gets there. */
static void test_parse_deep_nesting(void)
{
    static const gsize depth = 100000;
    g_autofree char *text = g_malloc(2 * depth + 1);
    g_autoptr(ItsmigHostCaps) back = NULL;
    g_autoptr(GError) error = NULL;

    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\0';
    back = itsmig_host_caps_from_json(text, -1, &error);
    g_assert_null(back);
    assert_error_has(error, ITSMIG_ERROR_INVALID_JSON, "nested too deeply at byte 32");
}

/* ---- refusals ------------------------------------------------------------ */

/* A valid document with members itsmigd adds around the library's; the
 * cases below change it by substitution. */
static const char base_doc[] =
    "{'schema':'itsmig-host-caps','version':1,'hostname':'host-a',"
    "'kvm':{'available':true,'gicv4':{'level':'none'}},"
    "'probe':{'available':true,'reason':null},"
    "'caps':{'arch':{'value':'aarch64','source':'probed'},"
    "'page_size':{'value':4096,'source':'probed'},"
    "'kernel_release':{'value':'6.8.0-31-generic','source':'probed'},"
    "'qemu_version':{'value':'8.2.2','source':'probed'},"
    "'libvirt_version':{'value':'10.0.0','source':'declared','probed':'9.0.0'},"
    "'vgic_its':{'value':true,'source':'probed'},"
    "'its_abi_revisions':{'value':[0],'source':'probed'},"
    "'default_its_abi_revision':{'value':0,'source':'probed'},"
    "'gicd_revision':{'value':3,'source':'probed'},"
    "'gicv4':{'value':'none','source':'declared'},"
    "'save_tables':{'value':true,'source':'probed'},"
    "'restore_tables':{'value':true,'source':'probed'},"
    "'ctrl_reset':{'value':true,'source':'probed'},"
    "'save_pending_tables':{'value':null,'source':'unknown'}},"
    "'conflicts':['libvirt_version'],'libvirt':{'connected':true}}";

typedef struct {
    const char *name;
    /* Pairs of what to find in base_doc (exactly once) and its replacement;
     * a NULL first find means the replacement is the whole document. */
    const char *subs[8];
    /* The error's substring; NULL for documents that must be accepted. */
    const char *error;
    gboolean not_json;
    /* The schema cannot see this (byte lengths, order, fractions, depth). */
    gboolean parser_only;
} DocCase;

/* The ITS facts of base_doc, to be changed together where they depend on each other. */
#define ITS_FACTS(revs, def, save, restore, ctrl)                                                  \
    "'its_abi_revisions':" revs ",'default_its_abi_revision':" def                                 \
    ",'gicd_revision':{'value':3,'source':'probed'},'gicv4':{'value':'none','source':'declared'}," \
    "'save_tables':" save ",'restore_tables':" restore ",'ctrl_reset':" ctrl
#define P_REVS0  "{'value':[0],'source':'probed'}"
#define P_REVS   "{'value':[],'source':'probed'}"
#define P_0      "{'value':0,'source':'probed'}"
#define P_TRUE   "{'value':true,'source':'probed'}"
#define P_FALSE  "{'value':false,'source':'probed'}"
#define UNKNOWN  "{'value':null,'source':'unknown'}"
#define BASE_ITS ITS_FACTS(P_REVS0, P_0, P_TRUE, P_TRUE, P_TRUE)
#define VGIC_OFF "'vgic_its':{'value':true", "'vgic_its':{'value':false"

/* Minor version 1: base_doc with a register set and the vITS facts.  REGS is
 * three registers (a core register, MIDR_EL1 with its value and mask, and
 * KVM_REG_ARM_STD_BMAP needing psci-0.2) with their digest. */
#define CONFLICTS "'conflicts':['libvirt_version'],"
#define REG_CORE  "{'id':'0x6030000000100000'}"
#define REG_MIDR                                                                                   \
    "{'id':'0x603000000013c000','value':'0x00000000410fd0c1','writable':'0x0000000000000000'}"
#define REG_BMAP    "{'id':'0x6030000000160000','value':'0x0000000000000003','needs':['psci-0.2']}"
#define REGS_DIGEST "'sha256:333ac97afb629cadbb59de3af596badd3f0abd76842f04fbfaa5932e095d0c66'"
#define REGS_WITH(list, count, digest)                                                             \
    "'vcpu_registers':{'available':true,'unavailable_reason':null,'features':['psci-0.2','pmu'],"  \
    "'writable_masks':true,'count':" count ",'digest':" digest ",'registers':[" list "]},"
#define REGS        REGS_WITH(REG_CORE "," REG_MIDR "," REG_BMAP, "3", REGS_DIGEST)
#define SEM_UNKNOWN "'its_semantics':{'source':'unknown','reason':'not measured'},"
#define SEM_PROBED                                                                                 \
    "'its_semantics':{'source':'probed','save_unreachable_device':{'errno':0,'measured_by':'m'},"  \
    "'baser_write':{'keeps_mappings':false,'measured_by':'m'},"                                    \
    "'gicd_access_before_init':{'errno':6,'measured_by':'m'}},"
#define MINOR1(regs, sem) CONFLICTS, CONFLICTS "'minor_version':1," regs sem
#define MT_WITH(emulator, list)                                                                    \
    "'machine_types':{'source':'probed','arch':'aarch64','emulator':" emulator ",'value':[" list   \
    "]},"
#define MT_PROBED(list) MT_WITH("'/usr/bin/qemu-system-aarch64'", list)
#define MT              MT_PROBED("'virt','virt-7.1','virt-7.2'")
#define MINOR2(mt)      CONFLICTS, CONFLICTS "'minor_version':2," REGS SEM_UNKNOWN mt

static const DocCase doc_cases[] = {
    /* Accepted. */
    {"base", {NULL, NULL}, NULL},
    {"hostname-255", {"'host-a'", "'@X255@'"}, NULL},
    {"hostname-utf8", {"'host-a'", "'h\xc3\xb4te'"}, NULL},
    {"probe-unavailable",
     {"'available':true,'reason':null", "'available':false,'reason':'/dev/kvm: ENOENT'"},
     NULL},
    {"no-vits", {VGIC_OFF, BASE_ITS, ITS_FACTS(P_REVS, UNKNOWN, P_FALSE, P_FALSE, P_FALSE)}, NULL},
    {"no-vits-unknown-attributes",
     {VGIC_OFF, BASE_ITS, ITS_FACTS(UNKNOWN, UNKNOWN, UNKNOWN, P_FALSE, UNKNOWN)},
     NULL},
    {"no-vits-save-pending-tables",
     {VGIC_OFF, BASE_ITS, ITS_FACTS(P_REVS, UNKNOWN, P_FALSE, P_FALSE, P_FALSE),
      "'save_pending_tables':{'value':null,'source':'unknown'}",
      "'save_pending_tables':{'value':true,'source':'probed'}"},
     NULL},
    {"vits-declared-away",
     {"'vgic_its':{'value':true,'source':'probed'}",
      "'vgic_its':{'value':false,'source':'declared','probed':true}",
      "'conflicts':['libvirt_version']", "'conflicts':['libvirt_version','vgic_its']"},
     NULL},
    {"revisions-many", {"'value':[0],", "'value':[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],"}, NULL},
    {"aarch64-be", {"'aarch64'", "'aarch64_be'"}, NULL},
    {"page-size-16k", {"'value':4096", "'value':16384"}, NULL},
    {"qemu-two-parts", {"'8.2.2'", "'9.0'"}, NULL},
    {"whitespace", {"{'schema'", " \t\r\n{ 'schema' "}, NULL},
    {"escapes", {"'host-a'", "'host\\u00e9\\ud83d\\ude00\\/a'"}, NULL},
    {"minor1-regs", {MINOR1(REGS, SEM_PROBED)}, NULL},
    {"minor1-regs-unknown",
     {MINOR1("'vcpu_registers':{'available':false,'unavailable_reason':'no /dev/kvm',"
             "'features':null,'writable_masks':null,'count':null,'digest':null,'registers':null},",
             SEM_UNKNOWN)},
     NULL},
    {"minor3-ignores-more",
     {CONFLICTS, CONFLICTS "'minor_version':3,'vcpu_cache':{}," REGS SEM_UNKNOWN MT},
     NULL},
    {"minor2-machine-types", {MINOR2(MT)}, NULL},
    {"minor2-machine-types-no-emulator", {MINOR2(MT_WITH("null", "'virt'"))}, NULL},
    {"minor2-machine-types-unknown",
     {MINOR2("'machine_types':{'source':'unknown','reason':'libvirt refused'},")},
     NULL},

    /* The machine types. */
    {"machine-types/missing-in-minor2", {MINOR2("")}, "machine_types: missing"},
    {"machine-types/not-object",
     {MINOR2("'machine_types':['virt'],")},
     "machine_types: expected an object, got an array"},
    {"machine-types/unknown-with-value",
     {MINOR2("'machine_types':{'source':'unknown','reason':'r','value':['virt']},")},
     "machine_types.value: present, but machine_types.source is unknown"},
    {"machine-types/unknown-without-reason",
     {MINOR2("'machine_types':{'source':'unknown'},")},
     "machine_types.reason: missing"},
    {"machine-types/source",
     {MINOR2("'machine_types':{'source':'declared','reason':'r'},")},
     "machine_types.source: 'declared' is not probed or unknown"},
    {"machine-types/probed-with-reason",
     {MINOR2("'machine_types':{'source':'probed','reason':'r','arch':'aarch64','emulator':null,"
             "'value':['virt']},")},
     "machine_types.reason: must be null or absent when they are probed"},
    {"machine-types/no-arch",
     {MINOR2("'machine_types':{'source':'probed','emulator':null,'value':['virt']},")},
     "machine_types.arch: missing"},
    {"machine-types/bad-arch",
     {MINOR2("'machine_types':{'source':'probed','arch':'aarch 64','emulator':null,"
             "'value':['virt']},")},
     "machine_types.arch: 'aarch 64' is not an architecture name"},
    {"machine-types/no-emulator",
     {MINOR2("'machine_types':{'source':'probed','arch':'aarch64','value':['virt']},")},
     "machine_types.emulator: missing"},
    {"machine-types/emulator-not-string",
     {MINOR2(MT_WITH("1", "'virt'"))},
     "machine_types.emulator: expected a string, got an integer"},
    {"machine-types/emulator-control",
     {MINOR2(MT_WITH("'/usr/bin/q\\nemu'", "'virt'"))},
     "machine_types.emulator: "},
    {"machine-types/no-value",
     {MINOR2("'machine_types':{'source':'probed','arch':'aarch64','emulator':null},")},
     "machine_types.value: missing"},
    {"machine-types/value-not-array",
     {MINOR2("'machine_types':{'source':'probed','arch':'aarch64','emulator':null,"
             "'value':'virt'},")},
     "machine_types.value: expected an array of machine types, got a string"},
    {"machine-types/empty",
     {MINOR2(MT_PROBED(""))},
     "machine_types.value: 0 machine types, expected 1..512"},
    {"machine-types/name-not-string",
     {MINOR2(MT_PROBED("'virt',7"))},
     "machine_types.value[1]: expected a string, got an integer"},
    {"machine-types/name-empty",
     {MINOR2(MT_PROBED("''"))},
     "machine_types.value[0]: '' is not a machine type"},
    {"machine-types/name-space",
     {MINOR2(MT_PROBED("'virt 7.2'"))},
     "machine_types.value[0]: 'virt 7.2' is not a machine type"},
    {"machine-types/name-long",
     {MINOR2(MT_PROBED("'@X65@'"))},
     "machine_types.value[0]: "
     "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not"},
    {"machine-types/unsorted",
     {MINOR2(MT_PROBED("'virt-7.2','virt-7.1'"))},
     "machine_types.value[1]: 'virt-7.1' is out of order or repeated",
     FALSE,
     TRUE},
    {"machine-types/duplicate",
     {MINOR2(MT_PROBED("'virt','virt'"))},
     "machine_types.value[1]: 'virt' is out of order or repeated",
     FALSE,
     TRUE},
    {"machine-types/unknown-member",
     {MINOR2("'machine_types':{'source':'probed','arch':'aarch64','emulator':null,"
             "'value':['virt'],'x':1},")},
     "machine_types.x: unknown member"},

    /* The register set and the vITS facts. */
    {"regs/missing-in-minor1",
     {CONFLICTS, CONFLICTS "'minor_version':1," SEM_UNKNOWN},
     "vcpu_registers: missing"},
    {"regs/unsorted",
     {MINOR1(REGS_WITH(REG_MIDR "," REG_CORE "," REG_BMAP, "3", REGS_DIGEST), SEM_UNKNOWN)},
     "vcpu_registers: registers[1]: id 0x6030000000100000 is out of order",
     FALSE,
     TRUE},
    {"regs/duplicate",
     {MINOR1(REGS_WITH(REG_CORE "," REG_CORE "," REG_MIDR "," REG_BMAP, "4", REGS_DIGEST),
             SEM_UNKNOWN)},
     "vcpu_registers: registers[1]: id 0x6030000000100000 is listed twice",
     FALSE,
     TRUE},
    {"regs/count",
     {MINOR1(REGS_WITH(REG_CORE "," REG_MIDR "," REG_BMAP, "2", REGS_DIGEST), SEM_UNKNOWN)},
     "vcpu_registers: registers: 3 registers, but count says 2",
     FALSE,
     TRUE},
    {"regs/digest",
     {MINOR1(REGS_WITH(REG_CORE "," REG_MIDR "," REG_BMAP, "3",
                       "'sha256:0000000000000000000000000000000000000000000000000000000000000000'"),
             SEM_UNKNOWN)},
     "vcpu_registers: digest: does not match the registers listed",
     FALSE,
     TRUE},
    {"regs/value-on-core",
     {MINOR1(REGS, SEM_UNKNOWN), "{'id':'0x6030000000100000'}",
      "{'id':'0x6030000000100000','value':'0x0000000000000001'}"},
     "vcpu_registers.registers[0].value: id 0x6030000000100000 is not an ID or firmware register",
     FALSE,
     TRUE},
    {"regs/size",
     {MINOR1(REGS_WITH(REG_CORE "," REG_MIDR "," REG_BMAP ",{'id':'0x6090000000160000'}", "4",
                       "'sha256:d13f5447e4d0e0d2c0df5372cfbcd37ee787f450dda109e42fcf364a67a3647e'"),
             SEM_UNKNOWN)},
     "vcpu_registers.registers[3]: id 0x6090000000160000 has a size of 4096 bits"},
    {"regs/count-oversized",
     {MINOR1(REGS_WITH(REG_CORE, "5000", REGS_DIGEST), SEM_UNKNOWN)},
     "vcpu_registers: count: 5000 is outside 1..4096"},
    {"regs/unknown-member",
     {MINOR1(REGS, SEM_UNKNOWN), "'writable_masks':true", "'writable_masks':true,'colour':1"},
     "vcpu_registers: vcpu_registers.colour: unknown member"},
    {"regs/feature",
     {MINOR1(REGS, SEM_UNKNOWN), "['psci-0.2','pmu']", "['psci-0.2','mte']"},
     "vcpu_registers: features: unknown vCPU feature"},
    {"regs/needs-absent-feature",
     {MINOR1(REGS, SEM_UNKNOWN), "['psci-0.2','pmu']", "['pmu']"},
     "needs a feature the vCPU was not initialised with",
     FALSE,
     TRUE},
    {"semantics/missing",
     {CONFLICTS, CONFLICTS "'minor_version':1," REGS},
     "its_semantics: missing"},
    {"semantics/errno",
     {MINOR1(REGS, SEM_PROBED), "'errno':6", "'errno':-1"},
     "its_semantics.gicd_access_before_init.errno: -1 is outside 0..4095"},
    {"semantics/unknown-with-facts",
     {MINOR1(REGS, SEM_PROBED), "{'source':'probed','save", "{'source':'unknown','save"},
     "its_semantics.save_unreachable_device: present, but its_semantics.source is unknown"},
    {"semantics/no-vits",
     {MINOR1(REGS, SEM_PROBED), VGIC_OFF, BASE_ITS,
      ITS_FACTS(P_REVS, UNKNOWN, P_FALSE, P_FALSE, P_FALSE)},
     "its_semantics: probed, but caps.vgic_its is false",
     FALSE,
     TRUE},
    {"regs/on-x86",
     {MINOR1(REGS, SEM_UNKNOWN), "'value':'aarch64'", "'value':'x86_64'",
      "'vgic_its':{'value':true", "'vgic_its':{'value':false", BASE_ITS,
      ITS_FACTS(P_REVS, UNKNOWN, P_FALSE, P_FALSE, P_FALSE)},
     "vcpu_registers: probed, but caps.arch x86_64 has no arm64 KVM vCPU",
     FALSE,
     TRUE},

    /* Not JSON. */
    {"json/empty", {NULL, ""}, "unexpected end at byte 0", TRUE},
    {"json/blank", {NULL, " \n"}, "unexpected end at byte 2", TRUE},
    {"json/truncated",
     {"'libvirt':{'connected':true}}", "'libvirt':{"},
     "expected a member name",
     TRUE},
    {"json/single-quotes", {"'host-a'", "`host-a`"}, "unexpected character", TRUE},
    {"json/comment", {"{'schema'", "/* peer */ {'schema'"}, "unexpected character at byte 0", TRUE},
    {"json/trailing-data",
     {"'connected':true}}", "'connected':true}}{}"},
     "data after the value",
     TRUE},
    {"json/trailing-comma", {"['libvirt_version']", "['libvirt_version',]"}, "unexpected", TRUE},
    {"json/hex", {"'value':4096", "'value':0x1000"}, "expected ',' or '}'", TRUE},
    {"json/leading-zero", {"'value':4096", "'value':04096"}, "expected ',' or '}'", TRUE},
    {"json/plus", {"'value':4096", "'value':+4096"}, "unexpected character", TRUE},
    {"json/nan", {"'value':4096", "'value':NaN"}, "unexpected character", TRUE},
    {"json/huge-integer",
     {"'value':4096", "'value':18446744073709555712"},
     "number out of range",
     TRUE},
    {"json/huge-number", {"'value':4096", "'value':1e400"}, "number out of range", TRUE},
    {"json/nul-escape", {"'host-a'", "'host-a\\u0000evil'"}, "\\u0000 in a string", TRUE},
    {"json/raw-tab", {"'host-a'", "'host\ta'"}, "control character in a string", TRUE},
    {"json/bad-escape", {"'host-a'", "'host\\xa'"}, "bad escape in a string", TRUE},
    {"json/short-u-escape", {"'host-a'", "'host\\u12'"}, "bad \\u escape", TRUE},
    {"json/lone-surrogate", {"'host-a'", "'host\\ud800'"}, "lone high surrogate", TRUE},
    {"json/lone-low-surrogate", {"'host-a'", "'host\\udc00'"}, "lone low surrogate", TRUE},
    {"json/invalid-utf8", {"'host-a'", "'host\xff'"}, "not UTF-8", TRUE},
    {"json/bare-word",
     {"'vgic_its':{'value':true", "'vgic_its':{'value':yes"},
     "unexpected character",
     TRUE},
    {"json/deep",
     {"'connected':true", "'connected':[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]"
                          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"},
     "nested too deeply",
     TRUE,
     TRUE},

    /* The root. */
    {"root/array", {NULL, "[1]"}, "host capabilities document: expected an object, got an array"},
    {"root/string", {NULL, "'itsmig-host-caps'"}, "expected an object, got a string"},
    {"root/null", {NULL, "null"}, "expected an object, got null"},

    {"schema/missing", {"'schema':'itsmig-host-caps',", ""}, "schema: missing"},
    {"schema/type",
     {"'schema':'itsmig-host-caps'", "'schema':1"},
     "schema: expected a string, got an integer"},
    {"schema/other",
     {"'itsmig-host-caps'", "'itsmig-domain'"},
     "schema: 'itsmig-domain' is not itsmig-host-caps"},

    {"version/missing", {"'version':1,", ""}, "version: missing"},
    {"version/string",
     {"'version':1", "'version':'1'"},
     "version: expected an integer, got a string"},
    {"version/newer",
     {"'version':1", "'version':2"},
     "version: the peer speaks version 2 of itsmig-host-caps; this itsmig knows version 1"},
    {"version/zero", {"'version':1", "'version':0"}, "the peer speaks version 0"},
    {"version/negative", {"'version':1", "'version':-1"}, "the peer speaks version -1"},
    {"version/fraction",
     {"'version':1", "'version':1.0"},
     "version: expected an integer, got a fractional number",
     FALSE,
     TRUE},

    {"hostname/missing", {"'hostname':'host-a',", ""}, "hostname: missing"},
    {"hostname/null", {"'host-a'", "null"}, "hostname: expected a string, got null"},
    {"hostname/empty", {"'host-a'", "''"}, "hostname: empty"},
    {"hostname/long", {"'host-a'", "'@X256@'"}, "hostname: 256 bytes, more than 255"},
    {"hostname/long-utf8",
     {"'host-a'", "'\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9@X240@'"},
     "hostname: 256 bytes, more than 255",
     FALSE,
     TRUE},
    {"hostname/newline", {"'host-a'", "'host-a\\n'"}, "hostname: contains a control character"},
    {"hostname/c1-control",
     {"'host-a'", "'host\\u0085a'"},
     "hostname: contains a control character"},

    {"probe/missing", {"'probe':{'available':true,'reason':null},", ""}, "probe: missing"},
    {"probe/type",
     {"'probe':{'available':true,'reason':null}", "'probe':true"},
     "probe: expected an object, got a boolean"},
    {"probe/available-missing",
     {"'probe':{'available':true,", "'probe':{"},
     "probe.available: missing"},
    {"probe/available-type",
     {"'probe':{'available':true", "'probe':{'available':1"},
     "probe.available: expected a boolean, got an integer"},
    {"probe/reason-missing",
     {"'available':true,'reason':null}", "'available':true}"},
     "probe.reason: missing"},
    {"probe/reason-when-available",
     {"'reason':null", "'reason':'no /dev/kvm'"},
     "probe.reason: must be null when probe.available is true"},
    {"probe/no-reason",
     {"'available':true,'reason':null", "'available':false,'reason':null"},
     "probe.reason: null, but probe.available is false"},
    {"probe/reason-empty",
     {"'available':true,'reason':null", "'available':false,'reason':''"},
     "probe.reason: empty"},
    {"probe/reason-type",
     {"'available':true,'reason':null", "'available':false,'reason':2"},
     "probe.reason: expected a string, got an integer"},
    {"probe/reason-long",
     {"'available':true,'reason':null", "'available':false,'reason':'@X257@'"},
     "probe.reason: 257 bytes, more than 256"},
    {"probe/unknown-member",
     {"'reason':null}", "'reason':null,'errno':2}"},
     "probe.errno: unknown member"},

    {"caps/missing", {"'caps':{", "'capabilities':{"}, "caps: missing"},
    {"caps/type",
     {"'caps':{'arch'", "'caps':[],'more':{'arch'"},
     "caps: expected an object, got an array"},
    {"caps/unknown-field",
     {"'caps':{", "'caps':{'numa':{'value':1,'source':'probed'},"},
     "caps.numa: unknown field"},
    {"caps/unknown-field-odd",
     {"'caps':{", "'caps':{'a\\nb@X100@':{},"},
     "caps.a\\u000ab" X61 "...: unknown field"},
    {"caps/config-key", {"'page_size':{", "'page-size':{"}, "caps.page-size: unknown field"},
    {"caps/field-missing",
     {"'arch':{'value':'aarch64','source':'probed'},", ""},
     "caps.arch: missing"},
    {"caps/field-type",
     {"'gicd_revision':{'value':3,'source':'probed'}", "'gicd_revision':3"},
     "caps.gicd_revision: expected an object, got an integer"},
    {"caps/field-null",
     {"'gicd_revision':{'value':3,'source':'probed'}", "'gicd_revision':null"},
     "caps.gicd_revision: expected an object, got null"},
    {"caps/field-unknown-member",
     {"'gicd_revision':{'value':3,'source':'probed'}",
      "'gicd_revision':{'value':3,'source':'probed','note':'x'}"},
     "caps.gicd_revision.note: unknown member"},

    {"source/missing",
     {"'gicd_revision':{'value':3,'source':'probed'}", "'gicd_revision':{'value':3}"},
     "caps.gicd_revision.source: missing"},
    {"source/bad",
     {"'value':3,'source':'probed'", "'value':3,'source':'guessed'"},
     "caps.gicd_revision.source: 'guessed' is not probed, declared or unknown"},
    {"source/type",
     {"'value':3,'source':'probed'", "'value':3,'source':null"},
     "caps.gicd_revision.source: expected a string, got null"},
    {"source/case",
     {"'value':3,'source':'probed'", "'value':3,'source':'Probed'"},
     "caps.gicd_revision.source: 'Probed' is not"},

    {"value/missing",
     {"'value':3,'source':'probed'", "'source':'probed'"},
     "caps.gicd_revision.value: missing"},
    {"value/null-probed",
     {"'value':3,'source':'probed'", "'value':null,'source':'probed'"},
     "caps.gicd_revision.value: null, but source is probed"},
    {"value/null-declared",
     {"'value':'none','source':'declared'", "'value':null,'source':'declared'"},
     "caps.gicv4.value: null, but source is declared"},
    {"value/set-unknown",
     {"'value':null,'source':'unknown'", "'value':false,'source':'unknown'"},
     "caps.save_pending_tables.value: must be null when source is unknown"},

    {"arch/type",
     {"'value':'aarch64'", "'value':64"},
     "caps.arch.value: expected a string, got an integer"},
    {"arch/empty", {"'value':'aarch64'", "'value':''"}, "caps.arch.value: empty"},
    {"kernel-release/long",
     {"'6.8.0-31-generic'", "'@X257@'"},
     "caps.kernel_release.value: 257 bytes, more than 256"},
    {"kernel-release/newline",
     {"'6.8.0-31-generic'", "'6.8.0\\n'"},
     "caps.kernel_release.value: contains a control character"},
    {"kernel-release/del",
     {"'6.8.0-31-generic'", "'6.8.0\\u007f'"},
     "caps.kernel_release.value: contains a control character"},
    {"qemu-version/one-part",
     {"'8.2.2'", "'8'"},
     "caps.qemu_version.value: '8' is not a version (digits.digits[.digits])"},
    {"qemu-version/four-parts", {"'8.2.2'", "'8.2.2.1'"}, "'8.2.2.1' is not a version"},
    {"qemu-version/prefix", {"'8.2.2'", "'v8.2.2'"}, "'v8.2.2' is not a version"},
    {"qemu-version/suffix", {"'8.2.2'", "'8.2.2-rc1'"}, "'8.2.2-rc1' is not a version"},
    {"qemu-version/trailing-dot", {"'8.2.2'", "'8.2.'"}, "'8.2.' is not a version"},
    {"qemu-version/trailing-newline",
     {"'8.2.2'", "'8.2.2\\n'"},
     "caps.qemu_version.value: contains a control character"},
    {"qemu-version/number",
     {"'8.2.2'", "8.2"},
     "caps.qemu_version.value: expected a string, got a fractional number"},
    {"libvirt-version/probed-bad",
     {"'probed':'9.0.0'", "'probed':'nine'"},
     "caps.libvirt_version.probed: 'nine' is not a version"},

    {"page-size/string",
     {"'value':4096", "'value':'4096'"},
     "caps.page_size.value: expected an integer, got a string"},
    {"page-size/not-power",
     {"'value':4096", "'value':5000"},
     "caps.page_size.value: 5000 is not a power of two in 4096..65536"},
    {"page-size/small", {"'value':4096", "'value':2048"}, "2048 is not a power of two"},
    {"page-size/large", {"'value':4096", "'value':131072"}, "131072 is not a power of two"},
    {"page-size/negative", {"'value':4096", "'value':-4096"}, "-4096 is not a power of two"},
    {"page-size/zero", {"'value':4096", "'value':0"}, "0 is not a power of two"},
    {"page-size/fraction",
     {"'value':4096", "'value':4096.0"},
     "caps.page_size.value: expected an integer, got a fractional number",
     FALSE,
     TRUE},
    {"page-size/exponent",
     {"'value':4096", "'value':4.096e3"},
     "caps.page_size.value: expected an integer, got a fractional number",
     FALSE,
     TRUE},

    {"vgic-its/string",
     {"'vgic_its':{'value':true", "'vgic_its':{'value':'true'"},
     "caps.vgic_its.value: expected a boolean, got a string"},
    {"vgic-its/integer",
     {"'vgic_its':{'value':true", "'vgic_its':{'value':1"},
     "caps.vgic_its.value: expected a boolean, got an integer"},
    {"ctrl-reset/null-string",
     {"'ctrl_reset':{'value':true", "'ctrl_reset':{'value':'null'"},
     "caps.ctrl_reset.value: expected a boolean, got a string"},

    {"revisions/type",
     {"'value':[0],", "'value':0,"},
     "caps.its_abi_revisions.value: expected an array of revisions, got an integer"},
    {"revisions/out-of-range",
     {"'value':[0],", "'value':[0,16],"},
     "caps.its_abi_revisions.value: revision 16 is outside 0..15"},
    {"revisions/negative",
     {"'value':[0],", "'value':[-1,0],"},
     "caps.its_abi_revisions.value: revision -1 is outside 0..15"},
    {"revisions/string",
     {"'value':[0],", "'value':['0'],"},
     "caps.its_abi_revisions.value: expected an integer, got a string"},
    {"revisions/fraction",
     {"'value':[0],", "'value':[0.5],"},
     "caps.its_abi_revisions.value: expected an integer, got a fractional number"},
    {"revisions/duplicate",
     {"'value':[0],", "'value':[0,0],"},
     "caps.its_abi_revisions.value: revision 0 is listed twice"},
    {"revisions/unsorted",
     {"'value':[0],", "'value':[1,0],"},
     "caps.its_abi_revisions.value: revision 0 follows 1; expected ascending order",
     FALSE,
     TRUE},
    {"revisions/too-many",
     {"'value':[0],", "'value':[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,15],"},
     "caps.its_abi_revisions.value: 17 revisions, more than 16"},
    {"revisions/nested",
     {"'value':[0],", "'value':[[0]],"},
     "caps.its_abi_revisions.value: expected an integer, got an array"},

    {"default-revision/range",
     {"'default_its_abi_revision':{'value':0", "'default_its_abi_revision':{'value':16"},
     "caps.default_its_abi_revision.value: revision 16 is outside 0..15"},
    {"default-revision/type",
     {"'default_its_abi_revision':{'value':0", "'default_its_abi_revision':{'value':[0]"},
     "caps.default_its_abi_revision.value: expected an integer, got an array"},
    {"gicd-revision/range",
     {"'value':3,'source':'probed'", "'value':16,'source':'probed'"},
     "caps.gicd_revision.value: revision 16 is outside 0..15"},
    {"gicd-revision/negative",
     {"'value':3,'source':'probed'", "'value':-1,'source':'probed'"},
     "caps.gicd_revision.value: revision -1 is outside 0..15"},
    {"gicv4/other",
     {"'value':'none','source':'declared'", "'value':'4.2','source':'declared'"},
     "caps.gicv4.value: '4.2' is not none, 4.0 or 4.1"},
    {"gicv4/unknown-word",
     {"'value':'none','source':'declared'", "'value':'unknown','source':'declared'"},
     "caps.gicv4.value: 'unknown' is not none, 4.0 or 4.1"},
    {"gicv4/newline",
     {"'value':'none','source':'declared'", "'value':'4.1\\n','source':'declared'"},
     "caps.gicv4.value: '4.1\\u000a' is not none, 4.0 or 4.1"},
    {"gicv4/number",
     {"'value':'none','source':'declared'", "'value':4,'source':'declared'"},
     "caps.gicv4.value: expected a string, got an integer"},

    {"probed/source-probed",
     {"'value':3,'source':'probed'", "'value':3,'source':'probed','probed':2"},
     "caps.gicd_revision.probed: present, but source is probed"},
    {"probed/source-unknown",
     {"'value':null,'source':'unknown'", "'value':null,'source':'unknown','probed':true"},
     "caps.save_pending_tables.probed: present, but source is unknown"},
    {"probed/null",
     {"'probed':'9.0.0'", "'probed':null"},
     "caps.libvirt_version.probed: expected the probe's value, got null"},
    {"probed/type",
     {"'probed':'9.0.0'", "'probed':9"},
     "caps.libvirt_version.probed: expected a string, got an integer"},
    {"probed/equal",
     {"'probed':'9.0.0'", "'probed':'10.0.0'"},
     "caps.libvirt_version.probed: equals the declared value, so it is no conflict",
     FALSE,
     TRUE},

    {"conflicts/missing", {"'conflicts':['libvirt_version'],", ""}, "conflicts: missing"},
    {"conflicts/type",
     {"['libvirt_version']", "'libvirt_version'"},
     "conflicts: expected an array of field names, got a string"},
    {"conflicts/element-type",
     {"['libvirt_version']", "['libvirt_version',4]"},
     "conflicts[1]: expected a field name, got an integer"},
    {"conflicts/unknown",
     {"['libvirt_version']", "['libvirt_version','numa']"},
     "conflicts[1]: 'numa' is not a field of caps"},
    {"conflicts/config-key",
     {"['libvirt_version']", "['libvirt-version']"},
     "conflicts[0]: 'libvirt-version' is not a field of caps"},
    {"conflicts/duplicate",
     {"['libvirt_version']", "['libvirt_version','libvirt_version']"},
     "conflicts[1]: libvirt_version is listed twice"},
    {"conflicts/empty",
     {"['libvirt_version']", "[]"},
     "conflicts: caps.libvirt_version has a probed member, but libvirt_version is not listed"},
    {"conflicts/extra",
     {"['libvirt_version']", "['arch','libvirt_version']"},
     "conflicts[0]: arch is listed, but caps.arch has no probed member"},
    {"conflicts/extra-after",
     {"['libvirt_version']", "['libvirt_version','gicv4']"},
     "conflicts[1]: gicv4 is listed, but caps.gicv4 has no probed member"},
    {"conflicts/one-left-out",
     {"'value':'none','source':'declared'", "'value':'none','source':'declared','probed':'4.1'"},
     "conflicts: caps.gicv4 has a probed member, but gicv4 is not listed"},
    {"conflicts/order",
     {"'value':'none','source':'declared'", "'value':'none','source':'declared','probed':'4.1'",
      "['libvirt_version']", "['gicv4','libvirt_version']"},
     "conflicts[1]: libvirt_version comes after gicv4; expected the order of caps",
     FALSE,
     TRUE},

    {"check/default-not-listed",
     {"'default_its_abi_revision':{'value':0", "'default_its_abi_revision':{'value':1"},
     "caps.default_its_abi_revision: revision 1 is not one of caps.its_abi_revisions [0]"},
    /* Each of these breaks one rule only, so that the schema is seen to hold each. */
    {"check/no-vits-revisions",
     {VGIC_OFF, BASE_ITS, ITS_FACTS(P_REVS0, UNKNOWN, P_FALSE, P_FALSE, P_FALSE)},
     "caps.its_abi_revisions: lists [0], but caps.vgic_its is false"},
    {"check/no-vits-default",
     {VGIC_OFF, BASE_ITS, ITS_FACTS(UNKNOWN, P_0, P_FALSE, P_FALSE, P_FALSE)},
     "caps.default_its_abi_revision: is 0, but caps.vgic_its is false"},
    {"check/no-vits-save-tables",
     {VGIC_OFF, BASE_ITS, ITS_FACTS(P_REVS, UNKNOWN, P_TRUE, P_FALSE, P_FALSE)},
     "caps.save_tables: true, but caps.vgic_its is false"},
    {"check/no-vits-restore-tables",
     {VGIC_OFF, BASE_ITS, ITS_FACTS(P_REVS, UNKNOWN, UNKNOWN, P_TRUE, P_FALSE)},
     "caps.restore_tables: true, but caps.vgic_its is false"},
    {"check/no-vits-ctrl-reset",
     {VGIC_OFF, BASE_ITS, ITS_FACTS(UNKNOWN, UNKNOWN, P_FALSE, UNKNOWN, P_TRUE)},
     "caps.ctrl_reset: true, but caps.vgic_its is false"},
    {"check/vits-on-x86",
     {"'value':'aarch64'", "'value':'x86_64'"},
     "caps.vgic_its: true, but caps.arch x86_64 has no GICv3 ITS"},
};

/* A document of minor version 0 (an itsmig from before the register set)
 * is read, its register set and vITS facts unknown with the reason. */
static void test_minor0_peer(void)
{
    g_autofree char *text = unquote(base_doc);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_from_json(text, -1, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(caps->minor_version, ==, 0);
    g_assert_false(caps->regs.available);
    g_assert_null(caps->regs_digest);
    g_assert_nonnull(strstr(caps->regs.unavailable_reason, "host-a's itsmig predates"));
    g_assert_cmpint(caps->its_semantics.source, ==, ITSMIG_CAP_UNKNOWN);
}

/* base_doc with @c's substitutions, each of which must find its text once. */
static char *doc_case_text(const DocCase *c)
{
    g_autofree char *doc = unquote(base_doc);

    if (c->subs[0] == NULL && c->subs[1] != NULL)
        return unquote(c->subs[1]);
    for (guint i = 0; i + 1 < G_N_ELEMENTS(c->subs) && c->subs[i]; i += 2) {
        g_autofree char *find = unquote(c->subs[i]);
        g_autofree char *repl = unquote(c->subs[i + 1]);
        char *at = strstr(doc, find);
        g_autofree char *next = NULL;

        if (!at || strstr(at + 1, find))
            g_error("%s: '%s' is not in the document exactly once", c->name, find);
        *at = '\0';
        next = g_strconcat(doc, repl, at + strlen(find), NULL);
        g_free(doc);
        doc = g_steal_pointer(&next);
    }
    return g_steal_pointer(&doc);
}

static void test_doc_case(gconstpointer data)
{
    const DocCase *c = data;
    g_autofree char *text = doc_case_text(c);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigHostCaps) caps = itsmig_host_caps_from_json(text, -1, &error);

    if (!c->error) {
        g_assert_no_error(error);
        g_assert_nonnull(caps);
        return;
    }
    if (caps)
        g_error("%s: accepted: %s", c->name, text);
    assert_error_has(
        error, c->not_json ? ITSMIG_ERROR_INVALID_JSON : ITSMIG_ERROR_INVALID_HOST_CAPS, c->error);
}

/* ---- modes for tests/host-caps-schema.sh --------------------------------- */

static int dump_example(const char *which)
{
    g_autoptr(ItsmigHostCaps) caps = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    if (g_strcmp0(which, "full") == 0)
        caps = example_full();
    else if (g_strcmp0(which, "unknown") == 0)
        caps = example_unknown();
    else if (g_strcmp0(which, "conflict") == 0)
        caps = example_conflict();
    if (!caps) {
        fprintf(stderr, "--dump-example: expected full, unknown or conflict\n");
        return 2;
    }
    json_builder_begin_object(b);
    itsmig_host_caps_to_json_members(caps, b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    text = json_to_string(root, TRUE);
    printf("%s\n", text);
    return 0;
}

static int dump_cases(const char *dir)
{
    for (guint i = 0; i < G_N_ELEMENTS(doc_cases); i++) {
        const DocCase *c = &doc_cases[i];
        g_autofree char *text = NULL;
        g_autofree char *name = NULL;
        g_autofree char *path = NULL;
        g_autoptr(GError) error = NULL;

        if (c->parser_only)
            continue;
        text = doc_case_text(c);
        name = g_strdup_printf("%s-%s.json", c->error ? "bad" : "good", c->name);
        g_strdelimit(name, "/", '-');
        path = g_build_filename(dir, name, NULL);
        if (!g_file_set_contents(path, text, -1, &error)) {
            fprintf(stderr, "%s\n", error->message);
            return 2;
        }
    }
    return 0;
}

static int parse_file(const char *path)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigHostCaps) caps = NULL;

    if (!g_file_get_contents(path, &text, &len, &error)) {
        fprintf(stderr, "%s\n", error->message);
        return 2;
    }
    caps = itsmig_host_caps_from_json(text, len, &error);
    if (!caps) {
        printf("%s\n", error->message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--dump-example") == 0)
        return dump_example(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--dump-cases") == 0)
        return dump_cases(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--parse") == 0)
        return parse_file(argv[2]);

    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/host-caps/names/fields", test_field_names);
    g_test_add_func("/host-caps/names/sources", test_source_names);
    g_test_add_func("/host-caps/new/all-unknown", test_new_all_unknown);
    g_test_add_func("/host-caps/copy/deep", test_copy_is_deep);
    g_test_add_func("/host-caps/has-revision/needs-known-field", test_has_revision);

    g_test_add_func("/host-caps/probe/available", test_probe_available);
    g_test_add_func("/host-caps/probe/gicv4-unknown-left-unknown", test_probe_gicv4_unknown);
    g_test_add_func("/host-caps/probe/unavailable-arm64", test_probe_unavailable_arm64);
    g_test_add_func("/host-caps/probe/unavailable-foreign-arch-no-vits",
                    test_probe_unavailable_foreign_arch);
    g_test_add_func("/host-caps/probe/unavailable-no-arch", test_probe_unavailable_no_arch);
    g_test_add_func("/host-caps/probe/odd-strings-kept-out", test_probe_odd_strings);
    g_test_add_func("/host-caps/probe/unavailable-keeps-earlier",
                    test_probe_unavailable_keeps_earlier);

    g_test_add_func("/host-caps/conflict/declared-after-probe", test_conflict_declared_after_probe);
    g_test_add_func("/host-caps/conflict/probe-after-declared", test_conflict_probe_after_declared);
    g_test_add_func("/host-caps/conflict/symmetric-every-field", test_conflict_symmetric);
    g_test_add_func("/host-caps/conflict/equal-is-none", test_conflict_equal_is_none);
    g_test_add_func("/host-caps/conflict/declared-twice", test_declared_twice);
    g_test_add_func("/host-caps/conflict/probed-twice-replaces", test_probed_twice);

    g_test_add_func("/host-caps/set/good", test_set_good);
    g_test_add_func("/host-caps/set/bad-leaves-caps-unchanged", test_set_bad);
    g_test_add_func("/host-caps/set/bad-source-or-field", test_set_bad_source_or_field);

    g_test_add_func("/host-caps/check/contradictions", test_check);

    g_test_add_func("/host-caps/json/round-trip/full", test_round_trip_full);
    g_test_add_func("/host-caps/json/round-trip/regs", test_round_trip_regs);
    g_test_add_func("/host-caps/json/minor-0-peer", test_minor0_peer);
    g_test_add_func("/host-caps/json/minor-1-peer-machine-types", test_minor1_peer_machine_types);
    g_test_add_func("/host-caps/json/old-peer-long-hostname", test_old_peer_long_hostname);
    g_test_add_func("/host-caps/machine-types/libvirt", test_machine_types_libvirt);
    g_test_add_func("/host-caps/machine-types/libvirt-bad", test_machine_types_libvirt_bad);
    g_test_add_func("/host-caps/machine-types/unknown-reason", test_machine_types_unknown_reason);
    g_test_add_func("/host-caps/json/round-trip/unknown", test_round_trip_unknown);
    g_test_add_func("/host-caps/json/round-trip/conflict", test_round_trip_conflict);
    g_test_add_func("/host-caps/json/layout", test_document_layout);
    g_test_add_func("/host-caps/json/daemon-members-ignored", test_daemon_members_ignored);
    g_test_add_func("/host-caps/json/explicit-length", test_parse_explicit_length);
    g_test_add_func("/host-caps/json/too-large", test_parse_too_large);
    g_test_add_func("/host-caps/json/deep-nesting", test_parse_deep_nesting);
    for (guint i = 0; i < G_N_ELEMENTS(doc_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/host-caps/json/%s/%s", doc_cases[i].error ? "refused" : "accepted",
                            doc_cases[i].name);

        g_test_add_data_func(path, &doc_cases[i], test_doc_case);
    }

    return g_test_run();
}
