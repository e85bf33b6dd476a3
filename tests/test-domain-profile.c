/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libxml/parser.h>

#include "itsmig/domain-profile.h"
#include "itsmig/error.h"

/* ---- helpers --------------------------------------------------------------- */

static char *fixture_path(const char *name)
{
    const char *top = g_getenv("top_srcdir");

    /* Under "make check" top_srcdir is exported (VPATH builds included). */
    if (top)
        return g_build_filename(top, "tests", "data", "domains", name, NULL);
    return g_test_build_filename(G_TEST_DIST, "data", "domains", name, NULL);
}

static ItsmigDomainProfile *parse_fixture(const char *name)
{
    g_autofree char *path = fixture_path(name);
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    ItsmigDomainProfile *p;

    g_assert_true(g_file_get_contents(path, &xml, &len, &error));
    g_assert_no_error(error);
    p = itsmig_domain_profile_parse(xml, len, &error);
    g_assert_no_error(error);
    g_assert_nonnull(p);
    return p;
}

/* The parse must fail with invalid-domain-xml and a one-line message containing @has. */
static void assert_invalid(const char *xml, gssize len, const char *has)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigDomainProfile) p = itsmig_domain_profile_parse(xml, len, &error);

    g_assert_null(p);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML);
    g_assert_null(strchr(error->message, '\n'));
    if (has && !strstr(error->message, has))
        g_error("error '%s' does not contain '%s'", error->message, has);
}

/* A small aarch64 domain; @extra goes inside <devices>, @tail after it. */
static char *arm_domain(const char *type, const char *machine, const char *gic, const char *extra,
                        const char *tail)
{
    g_autofree char *gic_el =
        gic ? g_strdup_printf("<features><gic version='%s'/></features>", gic) : g_strdup("");

    return g_strdup_printf("<domain type='%s' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/"
                           "1.0'><name>t</name><vcpu>1</vcpu><os><type arch='aarch64' "
                           "machine='%s'>hvm</type></os>%s<devices>%s</devices>%s</domain>",
                           type, machine, gic_el, extra ? extra : "", tail ? tail : "");
}

static ItsmigDomainProfile *parse_ok(const char *xml)
{
    g_autoptr(GError) error = NULL;
    ItsmigDomainProfile *p = itsmig_domain_profile_parse(xml, -1, &error);

    g_assert_no_error(error);
    g_assert_nonnull(p);
    return p;
}

static void assert_its(const ItsmigDomainProfile *p, ItsmigItsPresence its, const char *reason_has)
{
    g_assert_cmpstr(itsmig_its_presence_to_string(p->its), ==, itsmig_its_presence_to_string(its));
    g_assert_nonnull(p->its_reason);
    g_assert_null(strchr(p->its_reason, '\n'));
    if (reason_has && !strstr(p->its_reason, reason_has))
        g_error("reason '%s' does not contain '%s'", p->its_reason, reason_has);
}

static const ItsmigMsiDevice *msi(const ItsmigDomainProfile *p, guint i)
{
    g_assert_cmpuint(i, <, p->msi_devices->len);
    return g_ptr_array_index(p->msi_devices, i);
}

static void assert_msi(const ItsmigDomainProfile *p, guint i, const char *kind, const char *model,
                       const char *address, const char *alias)
{
    const ItsmigMsiDevice *d = msi(p, i);

    g_assert_cmpstr(d->kind, ==, kind);
    g_assert_cmpstr(d->model, ==, model);
    g_assert_cmpstr(d->address, ==, address);
    g_assert_cmpstr(d->alias, ==, alias);
}

/* ---- the main fixture: aarch64 KVM, virt-7.2, GICv3 ------------------------ */

static void test_gicv3_identity(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv3.xml");

    g_assert_cmpstr(p->name, ==, "arm-db01");
    g_assert_cmpstr(p->uuid, ==, "2f8e5c1a-7d3b-4e6f-9a10-5b2c8d4e7f31");
    g_assert_cmpstr(p->type, ==, "kvm");
    g_assert_cmpstr(p->arch, ==, "aarch64");
    g_assert_cmpstr(p->machine, ==, "virt-7.2");
    g_assert_cmpstr(p->gic_version, ==, "3");
    g_assert_cmpuint(p->vcpus, ==, 4);
    g_assert_cmpuint(p->max_vcpus, ==, 8);
}

static void test_gicv3_its_present(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv3.xml");

    assert_its(p, ITSMIG_ITS_PRESENT, "GIC version 3 on virt-7.2");
}

static void test_gicv4_its_present(void)
{
    g_autofree char *xml = arm_domain("kvm", "virt", "4", NULL, NULL);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    assert_its(p, ITSMIG_ITS_PRESENT, "GIC version 4 on virt");
}

static void test_hostdevs_pci_only(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv3.xml");
    const ItsmigHostdev *h;

    /* The USB hostdev is not a PCI function of the guest's own. */
    g_assert_cmpuint(p->hostdevs->len, ==, 2);

    h = g_ptr_array_index(p->hostdevs, 0);
    g_assert_cmpstr(h->address, ==, "0000:03:00.1");
    g_assert_cmpstr(h->driver, ==, "vfio");
    g_assert_true(h->managed);
    g_assert_cmpstr(h->alias, ==, "hostdev0");
    g_assert_cmpstr(h->guest_address, ==, "0000:05:00.0");

    h = g_ptr_array_index(p->hostdevs, 1);
    g_assert_cmpstr(h->address, ==, "0002:81:10.7");
    g_assert_null(h->driver);
    g_assert_false(h->managed);
    g_assert_cmpstr(h->alias, ==, "hostdev1");
    g_assert_cmpstr(h->guest_address, ==, "0000:06:00.0");
}

static void test_msi_devices_document_order(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv3.xml");

    /* Not listed: the cdrom (drive address), pcie-root, serial/console, USB
     * keyboard and hostdev, memballoon model='none'. */
    g_assert_cmpuint(p->msi_devices->len, ==, 12);
    assert_msi(p, 0, "disk", "virtio-blk vda", "0000:04:00.0", "virtio-disk0");
    assert_msi(p, 1, "controller", "usb qemu-xhci", "0000:02:00.0", "usb");
    assert_msi(p, 2, "controller", "scsi virtio-scsi", "0000:03:00.0", "scsi0");
    assert_msi(p, 3, "controller", "pcie-root-port", "0000:00:01.0", "pci.1");
    assert_msi(p, 4, "controller", "pcie-root-port", "0000:00:01.1", "pci.2");
    assert_msi(p, 5, "controller", "pcie-root-port", "0000:00:01.2", "pci.3");
    assert_msi(p, 6, "controller", "pcie-root-port", "0000:00:01.3", "pci.4");
    assert_msi(p, 7, "controller", "pcie-root-port", "0000:00:01.4", "pci.5");
    assert_msi(p, 8, "interface", "virtio", "0000:01:00.0", "net0");
    assert_msi(p, 9, "hostdev", "pci 0000:03:00.1", "0000:05:00.0", "hostdev0");
    assert_msi(p, 10, "hostdev", "pci 0002:81:10.7", "0000:06:00.0", "hostdev1");
    assert_msi(p, 11, "rng", "virtio", "0000:00:02.0", "rng0");
}

static JsonObject *member_object(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    g_assert_nonnull(n);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(n));
    return json_node_get_object(n);
}

static JsonArray *member_array(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    g_assert_nonnull(n);
    g_assert_true(JSON_NODE_HOLDS_ARRAY(n));
    return json_node_get_array(n);
}

static gboolean member_is_null(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    g_assert_nonnull(n);
    return JSON_NODE_HOLDS_NULL(n);
}

static void test_json_round_trip(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv3.xml");
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    JsonObject *o, *its, *h, *d;
    JsonArray *hostdevs, *msi_devices;

    itsmig_domain_profile_to_json(p, b);
    root = json_builder_get_root(b);
    text = json_to_string(root, FALSE);
    g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
    g_assert_no_error(error);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
    o = json_node_get_object(json_parser_get_root(parser));

    g_assert_cmpuint(json_object_get_size(o), ==, 11);
    g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, "arm-db01");
    g_assert_cmpstr(json_object_get_string_member(o, "uuid"), ==,
                    "2f8e5c1a-7d3b-4e6f-9a10-5b2c8d4e7f31");
    g_assert_cmpstr(json_object_get_string_member(o, "type"), ==, "kvm");
    g_assert_cmpstr(json_object_get_string_member(o, "arch"), ==, "aarch64");
    g_assert_cmpstr(json_object_get_string_member(o, "machine"), ==, "virt-7.2");
    g_assert_cmpstr(json_object_get_string_member(o, "gic_version"), ==, "3");
    g_assert_cmpint(json_object_get_int_member(o, "vcpus"), ==, 4);
    g_assert_cmpint(json_object_get_int_member(o, "max_vcpus"), ==, 8);

    its = member_object(o, "its");
    g_assert_cmpstr(json_object_get_string_member(its, "presence"), ==, "present");
    g_assert_cmpstr(json_object_get_string_member(its, "reason"), ==, p->its_reason);

    hostdevs = member_array(o, "hostdevs");
    g_assert_cmpuint(json_array_get_length(hostdevs), ==, 2);
    h = json_array_get_object_element(hostdevs, 0);
    g_assert_cmpstr(json_object_get_string_member(h, "address"), ==, "0000:03:00.1");
    g_assert_cmpstr(json_object_get_string_member(h, "driver"), ==, "vfio");
    g_assert_true(json_object_get_boolean_member(h, "managed"));
    g_assert_cmpstr(json_object_get_string_member(h, "alias"), ==, "hostdev0");
    g_assert_cmpstr(json_object_get_string_member(h, "guest_address"), ==, "0000:05:00.0");
    h = json_array_get_object_element(hostdevs, 1);
    g_assert_true(member_is_null(h, "driver"));
    g_assert_false(json_object_get_boolean_member(h, "managed"));

    msi_devices = member_array(o, "msi_devices");
    g_assert_cmpuint(json_array_get_length(msi_devices), ==, p->msi_devices->len);
    for (guint i = 0; i < p->msi_devices->len; i++) {
        d = json_array_get_object_element(msi_devices, i);
        g_assert_cmpuint(json_object_get_size(d), ==, 4);
        g_assert_cmpstr(json_object_get_string_member(d, "kind"), ==, msi(p, i)->kind);
        g_assert_cmpstr(json_object_get_string_member(d, "model"), ==, msi(p, i)->model);
        g_assert_cmpstr(json_object_get_string_member(d, "address"), ==, msi(p, i)->address);
        g_assert_cmpstr(json_object_get_string_member(d, "alias"), ==, msi(p, i)->alias);
    }
}

static void test_json_nulls(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-inactive.xml");
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    JsonObject *o, *d;

    itsmig_domain_profile_to_json(p, b);
    root = json_builder_get_root(b);
    o = json_node_get_object(root);
    g_assert_true(member_is_null(o, "uuid"));
    g_assert_true(member_is_null(o, "gic_version"));
    d = json_array_get_object_element(member_array(o, "msi_devices"), 0);
    g_assert_true(member_is_null(d, "address"));
    g_assert_true(member_is_null(d, "alias"));
}

/* ---- ITS presence ---------------------------------------------------------- */

static void test_test_driver_not_aarch64(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("test-default.xml");

    g_assert_cmpstr(p->name, ==, "test");
    g_assert_cmpstr(p->type, ==, "test");
    g_assert_cmpstr(p->arch, ==, "i686");
    g_assert_null(p->machine);
    g_assert_null(p->gic_version);
    assert_its(p, ITSMIG_ITS_ABSENT, "arch is i686");
    g_assert_cmpuint(p->vcpus, ==, 2);
    g_assert_cmpuint(p->max_vcpus, ==, 2);
    g_assert_cmpuint(p->hostdevs->len, ==, 0);
    g_assert_cmpuint(p->msi_devices->len, ==, 3);
    assert_msi(p, 0, "disk", "virtio-blk vda", "0000:01:00.0", NULL);
    assert_msi(p, 1, "interface", "network", "0000:00:01.0", NULL);
    assert_msi(p, 2, "memballoon", "virtio", "0000:00:02.0", NULL);
}

static void test_gicv2_absent(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv2.xml");

    g_assert_cmpstr(p->gic_version, ==, "2");
    assert_its(p, ITSMIG_ITS_ABSENT, "GIC version 2 on virt-7.2");
}

static void test_virt_2_7_absent(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-2.7.xml");

    assert_its(p, ITSMIG_ITS_ABSENT, "virt-2.7");
}

static void test_virt_2_8_present(void)
{
    g_autofree char *xml = arm_domain("kvm", "virt-2.8", "3", NULL, NULL);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    assert_its(p, ITSMIG_ITS_PRESENT, "virt-2.8");
}

static void test_gic_host_unknown(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gic-host.xml");

    g_assert_cmpstr(p->gic_version, ==, "host");
    assert_its(p, ITSMIG_ITS_UNKNOWN, "decided by the host at start");
}

static void test_gic_unspecified_unknown(void)
{
    g_autofree char *xml = arm_domain("kvm", "virt-9.0", NULL, NULL, NULL);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    g_assert_null(p->gic_version);
    assert_its(p, ITSMIG_ITS_UNKNOWN, "unspecified");
}

static void test_qemu_commandline_its_off(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-its-off.xml");

    g_assert_cmpstr(p->gic_version, ==, "3");
    assert_its(p, ITSMIG_ITS_ABSENT, "its=off");
}

static void test_qemu_commandline_its_off_in_machine_opts(void)
{
    g_autofree char *xml = arm_domain(
        "kvm", "virt", "3", NULL,
        "<qemu:commandline><qemu:arg value='-M'/><qemu:arg value='virt,gic-version=3,its=off'/>"
        "</qemu:commandline>");
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    assert_its(p, ITSMIG_ITS_ABSENT, "its=off");
}

static void test_qemu_commandline_other_args_ignored(void)
{
    /* "its=off" not following -machine (here: a -global value) changes nothing. */
    g_autofree char *xml = arm_domain("kvm", "virt", "3", NULL,
                                      "<qemu:commandline><qemu:arg value='-global'/>"
                                      "<qemu:arg value='its=off'/></qemu:commandline>");
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    assert_its(p, ITSMIG_ITS_PRESENT, NULL);
}

static void test_machine_not_virt_unknown(void)
{
    g_autofree char *xml = arm_domain("kvm", "sbsa-ref", "3", NULL, NULL);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    assert_its(p, ITSMIG_ITS_UNKNOWN, "sbsa-ref is not a virt machine");
}

static void test_tcg_old_virt_absent(void)
{
    g_autofree char *xml = arm_domain("qemu", "virt-6.1", "3", NULL, NULL);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    assert_its(p, ITSMIG_ITS_ABSENT, "virt-6.1");
}

/* ---- devices ---------------------------------------------------------------- */

static void test_inactive_virtio_listed_without_address(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-inactive.xml");
    const ItsmigHostdev *h;

    g_assert_null(p->uuid);
    assert_its(p, ITSMIG_ITS_UNKNOWN, NULL);
    /* Listed: the virtio disk, net, keyboard, rng, balloon and the PCI hostdev.
     * Not: the USB cdrom, the controllers (no address yet), the net on
     * virtio-mmio, the USB tablet. */
    g_assert_cmpuint(p->msi_devices->len, ==, 6);
    assert_msi(p, 0, "disk", "virtio-blk vda", NULL, NULL);
    assert_msi(p, 1, "interface", "virtio", NULL, NULL);
    assert_msi(p, 2, "input", "virtio keyboard", NULL, NULL);
    assert_msi(p, 3, "hostdev", "pci 0000:01:00.0", NULL, NULL);
    assert_msi(p, 4, "rng", "virtio", NULL, NULL);
    assert_msi(p, 5, "memballoon", "virtio", NULL, NULL);

    g_assert_cmpuint(p->hostdevs->len, ==, 1);
    h = g_ptr_array_index(p->hostdevs, 0);
    g_assert_cmpstr(h->address, ==, "0000:01:00.0");
    g_assert_null(h->guest_address);
}

static void test_unaddressed_not_listed_off_virt(void)
{
    /* Off aarch64 virt nothing says where libvirt will put the device. */
    g_autoptr(ItsmigDomainProfile) p =
        parse_ok("<domain type='kvm'><name>x</name><os><type arch='x86_64' machine='q35'>hvm"
                 "</type></os><devices><rng model='virtio'><backend model='random'/></rng>"
                 "</devices></domain>");

    g_assert_cmpuint(p->msi_devices->len, ==, 0);
}

static void test_pci_address_decimal_parts(void)
{
    g_autofree char *xml =
        arm_domain("kvm", "virt", "3",
                   "<rng model='virtio'><address type='pci' domain='0' bus='10' slot='0x1f' "
                   "function='7'/></rng>",
                   NULL);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    assert_msi(p, 0, "rng", "virtio", "0000:0a:1f.7", NULL);
}

static void test_pci_address_out_of_range(void)
{
    g_autofree char *xml = arm_domain(
        "kvm", "virt", "3", "<rng model='virtio'><address type='pci' slot='0x20'/></rng>", NULL);

    assert_invalid(xml, -1, "slot '0x20'");
}

/* ---- vCPUs ------------------------------------------------------------------ */

static void test_vcpu_missing_defaults_to_one(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_ok("<domain type='kvm'><name>x</name></domain>");

    g_assert_cmpuint(p->vcpus, ==, 1);
    g_assert_cmpuint(p->max_vcpus, ==, 1);
    assert_its(p, ITSMIG_ITS_UNKNOWN, NULL);
}

static void test_vcpu_huge(void)
{
    assert_invalid("<domain><name>x</name><vcpu>4097</vcpu></domain>", -1, "4097");
    assert_invalid("<domain><name>x</name><vcpu>99999999999999999999999</vcpu></domain>", -1,
                   "1..4096");
}

static void test_vcpu_zero(void)
{
    assert_invalid("<domain><name>x</name><vcpu>0</vcpu></domain>", -1, "'0'");
    assert_invalid("<domain><name>x</name><vcpu current='0'>2</vcpu></domain>", -1, "current");
}

static void test_vcpu_not_numeric(void)
{
    assert_invalid("<domain><name>x</name><vcpu>four</vcpu></domain>", -1, "'four'");
    assert_invalid("<domain><name>x</name><vcpu>-1</vcpu></domain>", -1, "'-1'");
    assert_invalid("<domain><name>x</name><vcpu></vcpu></domain>", -1, "<vcpu>");
}

static void test_vcpu_current_above_max(void)
{
    assert_invalid("<domain><name>x</name><vcpu current='5'>4</vcpu></domain>", -1, "more than");
}

/* ---- bad input -------------------------------------------------------------- */

static void test_malformed(void)
{
    assert_invalid("<domain><name>x</name>", -1, "not well-formed");
    assert_invalid("<domain><name>x</nam></domain>", -1, "line 1");
    assert_invalid("not xml at all", -1, "not well-formed");
    assert_invalid("<domain><name>&undefined;</name></domain>", -1, "not well-formed");
}

static void test_wrong_root(void)
{
    assert_invalid("<network><name>default</name></network>", -1, "<network>");
    assert_invalid("<d:domain xmlns:d='urn:x'><name>x</name></d:domain>", -1, "not <domain>");
}

static void test_no_name(void)
{
    assert_invalid("<domain type='kvm'><uuid>2f8e5c1a-7d3b-4e6f-9a10-5b2c8d4e7f31</uuid>"
                   "</domain>",
                   -1, "no <name>");
    assert_invalid("<domain type='kvm'><name>  </name></domain>", -1, "no <name>");
}

static void test_empty(void)
{
    assert_invalid("", -1, "empty");
    assert_invalid("<domain/>", 0, "empty");
}

static void test_billion_laughs(void)
{
    static const char xml[] =
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE domain [\n"
        " <!ENTITY lol '&#x6c;ol'>\n"
        " <!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n"
        " <!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>\n"
        " <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>\n"
        " <!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>\n"
        " <!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>\n"
        " <!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>\n"
        " <!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>\n"
        " <!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>\n"
        " <!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>\n"
        "]>\n"
        "<domain type='kvm'><name>&lol9;</name></domain>\n";

    assert_invalid(xml, -1, "DOCTYPE");
    /* A DOCTYPE alone is refused too: libvirt never writes one. */
    assert_invalid("<!DOCTYPE domain><domain><name>x</name></domain>", -1, "DOCTYPE");
}

static guint entity_loads;

static xmlParserInputPtr counting_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    entity_loads++;
    return NULL;
}

static void test_external_entity_not_read(void)
{
    xmlExternalEntityLoader old = xmlGetExternalEntityLoader();
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigDomainProfile) p = NULL;

    entity_loads = 0;
    xmlSetExternalEntityLoader(counting_loader);
    assert_invalid("<?xml version='1.0'?>\n"
                   "<!DOCTYPE domain [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>\n"
                   "<domain type='kvm'><name>&xxe;</name></domain>\n",
                   -1, "DOCTYPE");
    assert_invalid("<!DOCTYPE domain SYSTEM 'file:///etc/passwd'>"
                   "<domain type='kvm'><name>x</name></domain>",
                   -1, "DOCTYPE");
    assert_invalid("<!DOCTYPE domain PUBLIC '-//x//y' 'http://192.0.2.1/domain.dtd'>"
                   "<domain type='kvm'><name>x</name></domain>",
                   -1, "DOCTYPE");
    p = itsmig_domain_profile_parse("<domain type='kvm'><name>&xxe;</name></domain>", -1, &error);
    g_assert_null(p);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML);
    g_assert_null(strstr(error->message, "root:"));
    xmlSetExternalEntityLoader(old);
    g_assert_cmpuint(entity_loads, ==, 0);
}

static void test_invalid_utf8(void)
{
    static const char overlong[] = "<domain><name>\xc0\xaf</name></domain>";
    static const char latin1[] = "<?xml version='1.0' encoding='ISO-8859-1'?>"
                                 "<domain><name>caf\xe9</name></domain>";
    static const char nul[] = "<domain><name>a\0b</name></domain>";

    assert_invalid(overlong, -1, "UTF-8");
    /* A declared legacy encoding does not make other bytes acceptable. */
    assert_invalid(latin1, -1, "UTF-8");
    assert_invalid(nul, sizeof(nul) - 1, "UTF-8");
}

static void test_valid_utf8_name(void)
{
    g_autoptr(ItsmigDomainProfile) p =
        parse_ok("<domain type='kvm'><name>caf\xc3\xa9-\xe2\x9c\x93</name></domain>");

    g_assert_cmpstr(p->name, ==, "caf\xc3\xa9-\xe2\x9c\x93");
}

static void test_too_large(void)
{
    gsize len = ITSMIG_DOMAIN_XML_MAX + 1;
    g_autofree char *xml = g_malloc(len + 1);
    static const char head[] = "<domain><name>x</name><!--";
    static const char tail[] = "--></domain>";

    memset(xml, 'a', len);
    memcpy(xml, head, strlen(head));
    memcpy(xml + len - strlen(tail), tail, strlen(tail));
    xml[len] = '\0';
    assert_invalid(xml, len, "larger than");
    assert_invalid(xml, -1, "larger than");
}

static void test_presence_to_string(void)
{
    g_assert_cmpstr(itsmig_its_presence_to_string(ITSMIG_ITS_UNKNOWN), ==, "unknown");
    g_assert_cmpstr(itsmig_its_presence_to_string(ITSMIG_ITS_ABSENT), ==, "absent");
    g_assert_cmpstr(itsmig_its_presence_to_string(ITSMIG_ITS_PRESENT), ==, "present");
    g_assert_cmpstr(itsmig_its_presence_to_string(ITSMIG_ITS_LAST), ==, "unknown");
}

static void test_free_null(void)
{
    itsmig_domain_profile_free(NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/domain-profile/gicv3/identity", test_gicv3_identity);
    g_test_add_func("/domain-profile/gicv3/its-present", test_gicv3_its_present);
    g_test_add_func("/domain-profile/gicv4/its-present", test_gicv4_its_present);
    g_test_add_func("/domain-profile/hostdevs/pci-only", test_hostdevs_pci_only);
    g_test_add_func("/domain-profile/msi-devices/document-order", test_msi_devices_document_order);
    g_test_add_func("/domain-profile/json/round-trip", test_json_round_trip);
    g_test_add_func("/domain-profile/json/nulls", test_json_nulls);

    g_test_add_func("/domain-profile/its/test-driver-not-aarch64", test_test_driver_not_aarch64);
    g_test_add_func("/domain-profile/its/gicv2-absent", test_gicv2_absent);
    g_test_add_func("/domain-profile/its/virt-2.7-absent", test_virt_2_7_absent);
    g_test_add_func("/domain-profile/its/virt-2.8-present", test_virt_2_8_present);
    g_test_add_func("/domain-profile/its/gic-host-unknown", test_gic_host_unknown);
    g_test_add_func("/domain-profile/its/gic-unspecified-unknown", test_gic_unspecified_unknown);
    g_test_add_func("/domain-profile/its/qemu-commandline-its-off", test_qemu_commandline_its_off);
    g_test_add_func("/domain-profile/its/qemu-commandline-its-off-in-machine-opts",
                    test_qemu_commandline_its_off_in_machine_opts);
    g_test_add_func("/domain-profile/its/qemu-commandline-other-args-ignored",
                    test_qemu_commandline_other_args_ignored);
    g_test_add_func("/domain-profile/its/machine-not-virt-unknown", test_machine_not_virt_unknown);
    g_test_add_func("/domain-profile/its/tcg-old-virt-absent", test_tcg_old_virt_absent);

    g_test_add_func("/domain-profile/msi-devices/inactive-virtio-without-address",
                    test_inactive_virtio_listed_without_address);
    g_test_add_func("/domain-profile/msi-devices/unaddressed-not-listed-off-virt",
                    test_unaddressed_not_listed_off_virt);
    g_test_add_func("/domain-profile/pci-address/decimal-parts", test_pci_address_decimal_parts);
    g_test_add_func("/domain-profile/pci-address/out-of-range", test_pci_address_out_of_range);

    g_test_add_func("/domain-profile/vcpu/missing-defaults-to-one",
                    test_vcpu_missing_defaults_to_one);
    g_test_add_func("/domain-profile/vcpu/huge", test_vcpu_huge);
    g_test_add_func("/domain-profile/vcpu/zero", test_vcpu_zero);
    g_test_add_func("/domain-profile/vcpu/not-numeric", test_vcpu_not_numeric);
    g_test_add_func("/domain-profile/vcpu/current-above-max", test_vcpu_current_above_max);

    g_test_add_func("/domain-profile/bad/malformed", test_malformed);
    g_test_add_func("/domain-profile/bad/wrong-root", test_wrong_root);
    g_test_add_func("/domain-profile/bad/no-name", test_no_name);
    g_test_add_func("/domain-profile/bad/empty", test_empty);
    g_test_add_func("/domain-profile/bad/billion-laughs", test_billion_laughs);
    g_test_add_func("/domain-profile/bad/external-entity-not-read", test_external_entity_not_read);
    g_test_add_func("/domain-profile/bad/invalid-utf8", test_invalid_utf8);
    g_test_add_func("/domain-profile/utf8-name", test_valid_utf8_name);
    g_test_add_func("/domain-profile/bad/too-large", test_too_large);

    g_test_add_func("/domain-profile/its-presence-to-string", test_presence_to_string);
    g_test_add_func("/domain-profile/free-null", test_free_null);

    return g_test_run();
}
