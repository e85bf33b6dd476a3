/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
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

    g_assert_cmpuint(json_object_get_size(o), ==, 14);
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

/* ---- ITS metadata ------------------------------------------------------------ */

#define T_START   G_GINT64_CONSTANT(1795255200) /* 2026-11-21T10:00:00Z */
#define T_RESET   G_GINT64_CONSTANT(1795255500) /* 2026-11-21T10:05:00Z */
#define T_WRITTEN G_GINT64_CONSTANT(1795260615) /* 2026-11-21T11:30:15Z */

#define METADATA_OPEN "<itsmig:its xmlns:itsmig='" ITSMIG_METADATA_NS "' version='1'>"

/* A domain whose <metadata> holds @metadata. */
static char *metadata_domain(const char *metadata)
{
    return g_strdup_printf("<domain type='kvm'><name>m</name><os><type arch='aarch64' "
                           "machine='virt'>hvm</type></os><metadata>%s</metadata></domain>",
                           metadata);
}

/* The differences between two records, one per line; NULL when equal. */
static char *metadata_diff(const ItsmigItsMetadata *a, const ItsmigItsMetadata *b)
{
    GString *d = g_string_new(NULL);

#define DIFF_INT(field)                                                                            \
    if (a->field != b->field)                                                                      \
        g_string_append_printf(d, "%s: %" G_GINT64_FORMAT " != %" G_GINT64_FORMAT "\n", #field,    \
                               (gint64)a->field, (gint64)b->field);
#define DIFF_STR(field)                                                                            \
    if (g_strcmp0(a->field, b->field) != 0)                                                        \
        g_string_append_printf(d, "%s: %s != %s\n", #field, a->field ? a->field : "(null)",        \
                               b->field ? b->field : "(null)");

    DIFF_INT(its_abi_revision)
    DIFF_INT(gicd_revision)
    DIFF_INT(started_at)
    DIFF_INT(reset_at)
    DIFF_STR(host)
    DIFF_INT(written)
    DIFF_INT(written_at)
    DIFF_STR(host_arch)
    DIFF_INT(host_page_size)
    DIFF_INT(host_gicv4)
    DIFF_INT(host_save_tables)
    DIFF_INT(host_save_pending_tables)
    DIFF_INT(host_ctrl_reset)
    DIFF_INT(host_its_abi_revisions)
    DIFF_STR(host_regs_digest)
    DIFF_INT(host_regs_count)
#undef DIFF_INT
#undef DIFF_STR

    if (d->len == 0) {
        g_string_free(d, TRUE);
        return NULL;
    }
    return g_string_free(d, FALSE);
}

static void assert_metadata_equal(const ItsmigItsMetadata *got, const ItsmigItsMetadata *want)
{
    g_autofree char *diff = metadata_diff(got, want);

    if (diff)
        g_error("metadata differs (got != want):\n%s", diff);
}

static void assert_metadata_unrecorded(const ItsmigItsMetadata *m)
{
    ItsmigItsMetadata none;

    itsmig_its_metadata_init(&none);
    assert_metadata_equal(m, &none);
}

/* The record of the fixtures aarch64-virt-metadata*.xml. */
static void fill_fixture(ItsmigItsMetadata *m)
{
    m->its_abi_revision = 0;
    m->gicd_revision = 3;
    m->started_at = T_START;
    m->reset_at = T_RESET;
    m->host = g_strdup("hostA.example.org");
    m->written = ITSMIG_METADATA_WRITTEN_INCOMING;
    m->written_at = T_WRITTEN;
    m->host_arch = g_strdup("aarch64");
    m->host_page_size = 65536;
    m->host_gicv4 = ITSMIG_GICV4_1;
    m->host_save_tables = 1;
    m->host_save_pending_tables = 0;
    m->host_ctrl_reset = 1;
    m->host_its_abi_revisions = 0x3;
}

/* Everything recorded, as the daemon writes it at start. */
static void fill_full(ItsmigItsMetadata *m)
{
    m->its_abi_revision = 0;
    m->gicd_revision = 3;
    m->started_at = T_START;
    m->reset_at = T_RESET;
    m->host = g_strdup("hostA");
    m->written = ITSMIG_METADATA_WRITTEN_START;
    m->written_at = T_START;
    m->host_arch = g_strdup("aarch64");
    m->host_page_size = 4096;
    m->host_gicv4 = ITSMIG_GICV4_NONE;
    m->host_save_tables = 1;
    m->host_save_pending_tables = 1;
    m->host_ctrl_reset = 1;
    m->host_its_abi_revisions = 0x3;
}

static void fill_empty(ItsmigItsMetadata *m)
{
}

static void fill_minimal(ItsmigItsMetadata *m)
{
    m->its_abi_revision = 0;
    m->started_at = T_START;
    m->written = ITSMIG_METADATA_WRITTEN_START;
}

static void fill_reset(ItsmigItsMetadata *m)
{
    m->its_abi_revision = 1;
    m->gicd_revision = 0;
    m->started_at = T_START;
    m->reset_at = T_RESET;
    m->host = g_strdup("hostB");
    m->written = ITSMIG_METADATA_WRITTEN_START;
    m->written_at = T_RESET;
}

static void fill_incoming(ItsmigItsMetadata *m)
{
    m->its_abi_revision = 15;
    m->gicd_revision = 15;
    m->started_at = T_START;
    m->host = g_strdup("dest-17.rack4.example.net");
    m->written = ITSMIG_METADATA_WRITTEN_INCOMING;
    m->written_at = T_WRITTEN;
    m->host_arch = g_strdup("aarch64");
    m->host_page_size = 65536;
    m->host_gicv4 = ITSMIG_GICV4_1;
    m->host_save_tables = 1;
    m->host_save_pending_tables = 0;
    m->host_ctrl_reset = 0;
    m->host_its_abi_revisions = 0x8001;
    m->host_regs_count = 312;
    m->host_regs_digest =
        g_strdup("sha256:9f2c0e5d4b7a1c3e8f6d2b0a9c7e5f3d1b8a6c4e2f0d9b7a5c3e1f8d6b4a2c0e");
}

static void fill_adopted(ItsmigItsMetadata *m)
{
    m->its_abi_revision = 0;
    m->host = g_strdup("hostC");
    m->written = ITSMIG_METADATA_WRITTEN_ADOPTED;
    m->written_at = T_WRITTEN;
    m->host_page_size = 16384;
    m->host_gicv4 = ITSMIG_GICV4_0;
    m->host_save_tables = 0;
    m->host_its_abi_revisions = 0x2;
}

/* Characters XML must escape, and UTF-8. */
static void fill_awkward_host(ItsmigItsMetadata *m)
{
    m->host = g_strdup("a<&\"'>b caf\xc3\xa9 ]]>");
    m->written = ITSMIG_METADATA_WRITTEN_START;
    m->host_arch = g_strdup("aarch64_be");
}

static const struct {
    const char *name;
    void (*fill)(ItsmigItsMetadata *m);
} metadata_records[] = {
    {"full", fill_full},
    {"empty", fill_empty},
    {"minimal", fill_minimal},
    {"reset", fill_reset},
    {"incoming", fill_incoming},
    {"adopted", fill_adopted},
    {"awkward-host", fill_awkward_host},
};

static gboolean metadata_record(const char *name, ItsmigItsMetadata *ret_m)
{
    for (guint i = 0; i < G_N_ELEMENTS(metadata_records); i++) {
        if (strcmp(metadata_records[i].name, name) == 0) {
            itsmig_its_metadata_init(ret_m);
            metadata_records[i].fill(ret_m);
            return TRUE;
        }
    }
    return FALSE;
}

static void assert_fixture_metadata(const ItsmigDomainProfile *p)
{
    ItsmigItsMetadata want;

    g_assert_null(p->metadata_error);
    g_assert_true(p->has_metadata);
    itsmig_its_metadata_init(&want);
    fill_fixture(&want);
    assert_metadata_equal(&p->metadata, &want);
    itsmig_its_metadata_clear(&want);
}

static void test_metadata_fixture_prefixed(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-metadata.xml");
    const ItsmigHostdev *h;

    g_assert_cmpstr(p->name, ==, "arm-web02");
    assert_its(p, ITSMIG_ITS_PRESENT, NULL);
    assert_fixture_metadata(p);

    /* Host-side facts are not in the XML: the parser leaves them unknown. */
    g_assert_cmpuint(p->hostdevs->len, ==, 1);
    h = g_ptr_array_index(p->hostdevs, 0);
    g_assert_cmpstr(h->driver, ==, "vfio");
    g_assert_null(h->host_driver);
    g_assert_cmpint(h->migratable, ==, -1);
    g_assert_true(itsmig_domain_profile_has_vfio(p));
    g_assert_true(itsmig_domain_profile_its_in_kernel(p));
}

static void test_metadata_fixture_unprefixed(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-metadata-unprefixed.xml");

    assert_fixture_metadata(p);
}

static void test_metadata_default_namespace(void)
{
    g_autofree char *xml = metadata_domain("<its xmlns='" ITSMIG_METADATA_NS
                                           "' version='1'><abi-revision>1</abi-revision>"
                                           "<host name='h' written='adopted'/></its>");
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    g_assert_null(p->metadata_error);
    g_assert_true(p->has_metadata);
    g_assert_cmpint(p->metadata.its_abi_revision, ==, 1);
    g_assert_cmpstr(p->metadata.host, ==, "h");
    g_assert_cmpint(p->metadata.written, ==, ITSMIG_METADATA_WRITTEN_ADOPTED);
}

static void test_metadata_absent(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv3.xml");
    g_autoptr(ItsmigDomainProfile) q = parse_ok("<domain type='kvm'><name>x</name></domain>");

    /* aarch64-virt-gicv3.xml has <metadata> with libosinfo's element only. */
    g_assert_false(p->has_metadata);
    g_assert_null(p->metadata_error);
    assert_metadata_unrecorded(&p->metadata);
    g_assert_false(q->has_metadata);
    g_assert_null(q->metadata_error);
    assert_metadata_unrecorded(&q->metadata);
}

static void test_metadata_other_namespace_ignored(void)
{
    static const char *const cases[] = {
        "<x:its xmlns:x='urn:itsmig:domain:2' version='1'><x:abi-revision>99</x:abi-revision>"
        "</x:its>",
        "<its version='7'><abi-revision>99</abi-revision></its>",
        "<itsmig:other xmlns:itsmig='" ITSMIG_METADATA_NS "' version='9'/>",
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = metadata_domain(cases[i]);
        g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

        g_assert_false(p->has_metadata);
        g_assert_null(p->metadata_error);
    }
}

/* The domain parses; its record does not, for a reason naming @has. */
static void assert_metadata_error(const char *metadata, const char *has)
{
    g_autofree char *xml = metadata_domain(metadata);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    g_assert_cmpstr(p->name, ==, "m");
    g_assert_false(p->has_metadata);
    if (!p->metadata_error)
        g_error("no metadata error for %s", metadata);
    g_assert_null(strchr(p->metadata_error, '\n'));
    if (!strstr(p->metadata_error, has))
        g_error("metadata error '%s' does not contain '%s'", p->metadata_error, has);
    /* Nothing of a bad record is half-kept. */
    assert_metadata_unrecorded(&p->metadata);
}

static void test_metadata_wrong_version(void)
{
    g_autofree char *xml = metadata_domain("<itsmig:its xmlns:itsmig='" ITSMIG_METADATA_NS
                                           "' version='2'><itsmig:abi-revision>0"
                                           "</itsmig:abi-revision></itsmig:its>");
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    g_assert_false(p->has_metadata);
    g_assert_cmpstr(p->metadata_error, ==,
                    "itsmig metadata version 2 is not understood by this itsmig");
    assert_metadata_unrecorded(&p->metadata);

    assert_metadata_error("<itsmig:its xmlns:itsmig='" ITSMIG_METADATA_NS "' version='1.0'/>",
                          "version 1.0 is not understood");
    assert_metadata_error("<itsmig:its xmlns:itsmig='" ITSMIG_METADATA_NS "'/>",
                          "no version attribute");
}

static void test_metadata_bad_values(void)
{
    static const struct {
        const char *children;
        const char *has;
    } cases[] = {
        {"<itsmig:abi-revision>16</itsmig:abi-revision>", "<abi-revision> '16' is not a number"},
        {"<itsmig:abi-revision>-1</itsmig:abi-revision>", "<abi-revision> '-1'"},
        {"<itsmig:abi-revision>0x1</itsmig:abi-revision>", "<abi-revision> '0x1'"},
        {"<itsmig:abi-revision></itsmig:abi-revision>", "<abi-revision> ''"},
        {"<itsmig:gicd-revision>16</itsmig:gicd-revision>", "<gicd-revision> '16'"},
        {"<itsmig:gicd-revision>three</itsmig:gicd-revision>", "<gicd-revision> 'three'"},
        {"<itsmig:started>2026-11-21T10:00:00</itsmig:started>",
         "<started> '2026-11-21T10:00:00' is not a UTC time"},
        {"<itsmig:started>2026-11-21T10:00:00+01:00</itsmig:started>",
         "<started> '2026-11-21T10:00:00+01:00'"},
        {"<itsmig:started>2026-11-21T10:00:00.5Z</itsmig:started>", "<started> '2026-11-21T10"},
        {"<itsmig:started>2026-11-21 10:00:00Z</itsmig:started>", "<started> '2026-11-21 10"},
        {"<itsmig:started>2026-13-01T10:00:00Z</itsmig:started>", "<started> '2026-13-01"},
        {"<itsmig:started>2026-02-30T10:00:00Z</itsmig:started>", "<started> '2026-02-30"},
        {"<itsmig:started>1970-01-01T00:00:00Z</itsmig:started>", "<started> '1970-01-01"},
        {"<itsmig:started>yesterday</itsmig:started>", "<started> 'yesterday'"},
        {"<itsmig:reset>2026-11-21t10:05:00z</itsmig:reset>", "<reset> '2026-11-21t10:05:00z'"},
        {"<itsmig:host name=''/>", "<host> name ''"},
        {"<itsmig:host name='a&#9;b'/>", "<host> name 'a?b'"},
        {"<itsmig:host written='stop'/>",
         "<host> written 'stop' is not start, incoming-migration or adopted"},
        {"<itsmig:host written='Start'/>", "<host> written 'Start'"},
        {"<itsmig:host written-at='2026-11-21T11:30:15+00:00'/>", "<host> written-at '2026"},
        {"<itsmig:host arch='aarch 64'/>", "<host> arch 'aarch 64'"},
        {"<itsmig:host arch=''/>", "<host> arch ''"},
        {"<itsmig:host page-size='3000'/>", "<host> page-size '3000' is not a power of two"},
        {"<itsmig:host page-size='2048'/>", "<host> page-size '2048'"},
        {"<itsmig:host page-size='131072'/>", "<host> page-size '131072'"},
        {"<itsmig:host page-size='4k'/>", "<host> page-size '4k'"},
        {"<itsmig:host page-size='99999999999999999999'/>", "<host> page-size '9999"},
        {"<itsmig:host gicv4='4.2'/>", "<host> gicv4 '4.2' is not none, 4.0 or 4.1"},
        {"<itsmig:host gicv4='unknown'/>", "<host> gicv4 'unknown'"},
        {"<itsmig:host save-tables='true'/>", "<host> save-tables 'true' is not yes or no"},
        {"<itsmig:host save-pending-tables='1'/>", "<host> save-pending-tables '1'"},
        {"<itsmig:host ctrl-reset='YES'/>", "<host> ctrl-reset 'YES'"},
        {"<itsmig:host its-abi-revisions='0,0'/>", "<host> its-abi-revisions '0,0' is not a list"},
        {"<itsmig:host its-abi-revisions='16'/>", "<host> its-abi-revisions '16'"},
        {"<itsmig:host its-abi-revisions=''/>", "<host> its-abi-revisions ''"},
        {"<itsmig:host its-abi-revisions='0,,1'/>", "<host> its-abi-revisions '0,,1'"},
        {"<itsmig:host its-abi-revisions='0, 1'/>", "<host> its-abi-revisions '0, 1'"},
        {"<itsmig:host its-abi-revisions='0,'/>", "<host> its-abi-revisions '0,'"},
        {"<itsmig:host vcpu-registers='12'/>",
         "<host> vcpu-registers '12' is not given together with vcpu-registers-digest"},
        {"<itsmig:host "
         "vcpu-registers-digest='sha256:"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'/>",
         "<host> vcpu-registers-digest"},
        {"<itsmig:host vcpu-registers='4097' "
         "vcpu-registers-digest='sha256:"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'/>",
         "<host> vcpu-registers '4097' is not a register count of 0..4096"},
        {"<itsmig:host vcpu-registers='12' vcpu-registers-digest='sha256:0123'/>",
         "<host> vcpu-registers-digest 'sha256:0123' is not sha256: and 64 lowercase hex digits"},
        {"<itsmig:host vcpu-registers='12' "
         "vcpu-registers-digest='sha256:"
         "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF'/>",
         "<host> vcpu-registers-digest"},
        {"<itsmig:host name='a' itsmig:name='b'/>", "<host> has attribute name more than once"},
        {"<itsmig:abi-revision>0</itsmig:abi-revision><abi-revision>1</abi-revision>",
         "<abi-revision> appears more than once"},
        {"<itsmig:host name='a'/><itsmig:host name='b'/>", "<host> appears more than once"},
        /* Good fields before a bad one are not kept either. */
        {"<itsmig:abi-revision>1</itsmig:abi-revision><itsmig:gicd-revision>2"
         "</itsmig:gicd-revision><itsmig:host name='h' written='start' ctrl-reset='maybe'/>",
         "<host> ctrl-reset 'maybe'"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *metadata =
            g_strdup_printf(METADATA_OPEN "%s</itsmig:its>", cases[i].children);

        assert_metadata_error(metadata, cases[i].has);
    }
}

static void test_metadata_size_caps(void)
{
    g_autofree char *name255 = g_strnfill(255, 'h');
    g_autofree char *name256 = g_strnfill(256, 'h');
    g_autofree char *arch64 = g_strnfill(64, 'a');
    g_autofree char *arch65 = g_strnfill(65, 'a');
    g_autofree char *ok = g_strdup_printf(METADATA_OPEN "<itsmig:host name='%s' arch='%s'/>"
                                                        "</itsmig:its>",
                                          name255, arch64);
    g_autofree char *ok_xml = metadata_domain(ok);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(ok_xml);
    g_autofree char *long_name =
        g_strdup_printf(METADATA_OPEN "<itsmig:host name='%s'/></itsmig:its>", name256);
    g_autofree char *long_arch =
        g_strdup_printf(METADATA_OPEN "<itsmig:host arch='%s'/></itsmig:its>", arch65);
    g_autofree char *xml = metadata_domain(long_name);
    g_autoptr(ItsmigDomainProfile) q = parse_ok(xml);

    g_assert_true(p->has_metadata);
    g_assert_cmpstr(p->metadata.host, ==, name255);
    g_assert_cmpstr(p->metadata.host_arch, ==, arch64);

    assert_metadata_error(long_name, "<host> name 'hhhh");
    assert_metadata_error(long_arch, "<host> arch 'aaaa");
    /* The error quotes a bounded part of the value. */
    g_assert_nonnull(strstr(q->metadata_error, "...'"));
    g_assert_cmpuint(strlen(q->metadata_error), <, 200);
}

/* The whole record, unknown children included, is capped: 64 KiB passes,
 * a byte more is unreadable, saying its size. */
static void test_metadata_record_cap(void)
{
    gsize overhead = strlen(METADATA_OPEN "<itsmig:x></itsmig:x></itsmig:its>");
    g_autofree char *fill = g_strnfill(ITSMIG_METADATA_MAX - overhead, 'x');
    g_autofree char *at_cap =
        g_strdup_printf(METADATA_OPEN "<itsmig:x>%s</itsmig:x></itsmig:its>", fill);
    g_autofree char *over_cap =
        g_strdup_printf(METADATA_OPEN "<itsmig:x>%sx</itsmig:x></itsmig:its>", fill);
    g_autofree char *xml = metadata_domain(at_cap);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);
    g_autofree char *want = g_strdup_printf("itsmig metadata is %d bytes, more than the %d",
                                            ITSMIG_METADATA_MAX + 1, ITSMIG_METADATA_MAX);

    g_assert_null(p->metadata_error);
    g_assert_true(p->has_metadata);
    assert_metadata_error(over_cap, want);
}

static void assert_verify_fails(const char *children, const char *has)
{
    g_autofree char *metadata = g_strdup_printf(METADATA_OPEN "%s</itsmig:its>", children);
    g_autofree char *xml = metadata_domain(metadata);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);
    g_autoptr(GError) error = NULL;

    g_assert_true(p->has_metadata);
    g_assert_false(itsmig_its_metadata_verify(&p->metadata, 1795305600, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML);
    if (!strstr(error->message, has))
        g_error("verify error '%s' does not contain '%s'", error->message, has);
}

#define DIGEST_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DIGEST_OTHER "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Facts each well formed that cannot all be true are refused; records as
 * itsmig writes them pass. */
static void test_metadata_verify(void)
{
    static const char *const good[] = {
        "<itsmig:abi-revision>1</itsmig:abi-revision>"
        "<itsmig:host its-abi-revisions='0,1' vcpu-registers='12' "
        "vcpu-registers-digest='" DIGEST_OTHER "'/>",
        "<itsmig:abi-revision>3</itsmig:abi-revision><itsmig:host name='h'/>",
        "<itsmig:host vcpu-registers='0' vcpu-registers-digest='" DIGEST_EMPTY "'/>",
        /* A reset before the start is an earlier run's. */
        "<itsmig:started>2026-11-21T10:00:00Z</itsmig:started>"
        "<itsmig:reset>2026-11-20T10:00:00Z</itsmig:reset>",
        /* 1795305600 is 2026-11-22T00:00:00Z: within a day of skew. */
        "<itsmig:started>2026-11-22T23:00:00Z</itsmig:started>",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *metadata = g_strdup_printf(METADATA_OPEN "%s</itsmig:its>", good[i]);
        g_autofree char *xml = metadata_domain(metadata);
        g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);
        g_autoptr(GError) error = NULL;

        g_assert_true(p->has_metadata);
        if (!itsmig_its_metadata_verify(&p->metadata, 1795305600, &error))
            g_error("%s: %s", good[i], error->message);
    }
    assert_verify_fails("<itsmig:abi-revision>1</itsmig:abi-revision>"
                        "<itsmig:host its-abi-revisions='0'/>",
                        "<abi-revision> 1 is not among the ITS ABI revisions (0) of the host");
    assert_verify_fails(
        "<itsmig:host vcpu-registers='0' vcpu-registers-digest='" DIGEST_OTHER "'/>",
        "vcpu-registers-digest " DIGEST_OTHER " is not the digest of a list of 0 registers");
    assert_verify_fails("<itsmig:host vcpu-registers='12' vcpu-registers-digest='" DIGEST_EMPTY
                        "'/>",
                        "is not the digest of a list of 12 registers");
    assert_verify_fails("<itsmig:started>2026-11-23T00:00:01Z</itsmig:started>",
                        "<started> 2026-11-23T00:00:01Z is more than a day after now");
    assert_verify_fails("<itsmig:host written-at='2027-01-01T00:00:00Z'/>",
                        "<host> written-at 2027-01-01T00:00:00Z");
}

static void test_metadata_duplicate_root(void)
{
    assert_metadata_error(METADATA_OPEN "</itsmig:its>"
                                        "<other:its xmlns:other='" ITSMIG_METADATA_NS
                                        "' version='1'/>",
                          "appears 2 times under <metadata>");
}

static void test_metadata_unknown_children_ignored(void)
{
    g_autofree char *xml =
        metadata_domain(METADATA_OPEN "<itsmig:vlpi-map count='3'><itsmig:x/></itsmig:vlpi-map>"
                                      "<itsmig:abi-revision>1</itsmig:abi-revision>"
                                      "<itsmig:host name='h' future='yes'/>some text</itsmig:its>");
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    g_assert_null(p->metadata_error);
    g_assert_true(p->has_metadata);
    g_assert_cmpint(p->metadata.its_abi_revision, ==, 1);
    g_assert_cmpstr(p->metadata.host, ==, "h");
}

/* @element (to_xml output) put into a domain in one of the forms libvirt may
 * give back: children prefixed like the root, children without namespace, or
 * the namespace as the default. */
typedef enum {
    WRAP_PREFIXED,
    WRAP_ROOT_ONLY,
    WRAP_DEFAULT_NS,

    WRAP_LAST
} WrapForm;

static char *wrap_as_libvirt(const char *element, WrapForm form)
{
    g_autoptr(GString) s = g_string_new(element);
    g_autofree char *metadata = NULL;
    const char *attrs;

    switch (form) {
    case WRAP_PREFIXED:
        /* Every '<' in to_xml's output opens or closes a tag: values have "&lt;". */
        g_string_replace(s, "<", "<" ITSMIG_METADATA_PREFIX ":", 0);
        g_string_replace(s, "<" ITSMIG_METADATA_PREFIX ":/", "</" ITSMIG_METADATA_PREFIX ":", 0);
        break;
    case WRAP_ROOT_ONLY:
        g_string_replace(s, "<" ITSMIG_METADATA_ROOT " ",
                         "<" ITSMIG_METADATA_PREFIX ":" ITSMIG_METADATA_ROOT " ", 1);
        g_string_replace(s, "</" ITSMIG_METADATA_ROOT ">",
                         "</" ITSMIG_METADATA_PREFIX ":" ITSMIG_METADATA_ROOT ">", 1);
        break;
    case WRAP_DEFAULT_NS:
    case WRAP_LAST: break;
    }
    /* The namespace declaration goes first among the root's attributes. */
    attrs = strchr(s->str, ' ');
    g_assert_nonnull(attrs);
    if (form == WRAP_DEFAULT_NS)
        metadata = g_strdup_printf("%.*s xmlns='%s'%s", (int)(attrs - s->str), s->str,
                                   ITSMIG_METADATA_NS, attrs);
    else
        metadata = g_strdup_printf("%.*s xmlns:%s='%s'%s", (int)(attrs - s->str), s->str,
                                   ITSMIG_METADATA_PREFIX, ITSMIG_METADATA_NS, attrs);
    return metadata_domain(metadata);
}

static void test_metadata_round_trip(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(metadata_records); i++) {
        ItsmigItsMetadata m;
        g_autofree char *element = NULL;

        g_assert_true(metadata_record(metadata_records[i].name, &m));
        element = itsmig_its_metadata_to_xml(&m);
        g_test_message("%s: %s", metadata_records[i].name, element);
        g_assert_null(strstr(element, "xmlns"));
        g_assert_null(strstr(element, "<?xml"));
        for (WrapForm form = 0; form < WRAP_LAST; form++) {
            g_autofree char *xml = wrap_as_libvirt(element, form);
            g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

            if (p->metadata_error)
                g_error("%s (form %d): %s", metadata_records[i].name, form, p->metadata_error);
            g_assert_true(p->has_metadata);
            assert_metadata_equal(&p->metadata, &m);
        }
        itsmig_its_metadata_clear(&m);
    }
}

static void test_metadata_to_xml_exact(void)
{
    ItsmigItsMetadata m;
    g_autofree char *full = NULL;
    g_autofree char *empty = NULL;

    itsmig_its_metadata_init(&m);
    empty = itsmig_its_metadata_to_xml(&m);
    g_assert_cmpstr(empty, ==, "<its version=\"1\"/>");

    fill_full(&m);
    full = itsmig_its_metadata_to_xml(&m);
    g_assert_cmpstr(full, ==,
                    "<its version=\"1\">\n"
                    "  <abi-revision>0</abi-revision>\n"
                    "  <gicd-revision>3</gicd-revision>\n"
                    "  <started>2026-11-21T10:00:00Z</started>\n"
                    "  <reset>2026-11-21T10:05:00Z</reset>\n"
                    "  <host name=\"hostA\" written=\"start\" written-at=\"2026-11-21T10:00:00Z\" "
                    "arch=\"aarch64\" page-size=\"4096\" gicv4=\"none\" save-tables=\"yes\" "
                    "save-pending-tables=\"yes\" ctrl-reset=\"yes\" its-abi-revisions=\"0,1\"/>\n"
                    "</its>");
    itsmig_its_metadata_clear(&m);
}

static void test_metadata_to_xml_escaping(void)
{
    ItsmigItsMetadata m;
    g_autofree char *element = NULL;

    itsmig_its_metadata_init(&m);
    fill_awkward_host(&m);
    element = itsmig_its_metadata_to_xml(&m);
    g_assert_nonnull(strstr(element, "name=\"a&lt;&amp;&quot;'&gt;b caf\xc3\xa9 ]]&gt;\""));
    itsmig_its_metadata_clear(&m);
}

static void test_metadata_to_xml_leaves_out_invalid(void)
{
    ItsmigItsMetadata m;
    g_autofree char *element = NULL;
    g_autofree char *long_name = g_strnfill(256, 'h');

    /* Such values would make the reader refuse the whole record. */
    itsmig_its_metadata_init(&m);
    m.its_abi_revision = 16;
    m.gicd_revision = 99;
    m.started_at = -5;
    m.host = g_steal_pointer(&long_name);
    m.written = ITSMIG_METADATA_WRITTEN_LAST + 3;
    m.host_arch = g_strdup("arm 64");
    m.host_page_size = 12288;
    m.host_gicv4 = ITSMIG_GICV4_LAST;
    m.host_save_tables = 2;
    m.reset_at = T_RESET;
    element = itsmig_its_metadata_to_xml(&m);
    g_assert_cmpstr(element, ==,
                    "<its version=\"1\">\n  <reset>2026-11-21T10:05:00Z</reset>\n</its>");

    g_clear_pointer(&m.host, g_free);
    m.host = g_strdup("bad\ttab");
    g_clear_pointer(&element, g_free);
    element = itsmig_its_metadata_to_xml(&m);
    g_assert_null(strstr(element, "host"));
    itsmig_its_metadata_clear(&m);
}

static void test_metadata_written_to_string(void)
{
    g_assert_cmpstr(itsmig_metadata_written_to_string(ITSMIG_METADATA_WRITTEN_START), ==, "start");
    g_assert_cmpstr(itsmig_metadata_written_to_string(ITSMIG_METADATA_WRITTEN_INCOMING), ==,
                    "incoming-migration");
    g_assert_cmpstr(itsmig_metadata_written_to_string(ITSMIG_METADATA_WRITTEN_ADOPTED), ==,
                    "adopted");
    g_assert_cmpstr(itsmig_metadata_written_to_string(ITSMIG_METADATA_WRITTEN_LAST), ==, "unknown");
}

static void test_metadata_init_clear(void)
{
    ItsmigItsMetadata m;

    memset(&m, 0x5a, sizeof(m));
    itsmig_its_metadata_init(&m);
    g_assert_cmpint(m.its_abi_revision, ==, -1);
    g_assert_cmpint(m.gicd_revision, ==, -1);
    g_assert_cmpint(m.started_at, ==, 0);
    g_assert_cmpint(m.reset_at, ==, 0);
    g_assert_null(m.host);
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_LAST);
    g_assert_cmpint(m.written_at, ==, 0);
    g_assert_null(m.host_arch);
    g_assert_cmpuint(m.host_page_size, ==, 0);
    g_assert_cmpint(m.host_gicv4, ==, ITSMIG_GICV4_UNKNOWN);
    g_assert_cmpint(m.host_save_tables, ==, -1);
    g_assert_cmpint(m.host_save_pending_tables, ==, -1);
    g_assert_cmpint(m.host_ctrl_reset, ==, -1);
    g_assert_cmpuint(m.host_its_abi_revisions, ==, 0);

    fill_full(&m);
    itsmig_its_metadata_clear(&m);
    assert_metadata_unrecorded(&m);
    /* Clearing twice, or NULL, is harmless. */
    itsmig_its_metadata_clear(&m);
    itsmig_its_metadata_clear(NULL);
}

/* ---- host-facing questions ------------------------------------------------- */

static gboolean domain_has_vfio(const char *devices)
{
    g_autofree char *xml = arm_domain("kvm", "virt", "3", devices, NULL);
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);

    return itsmig_domain_profile_has_vfio(p);
}

#define PCI_HOSTDEV(driver)                                                                        \
    "<hostdev mode='subsystem' type='pci' managed='yes'>" driver                                   \
    "<source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>"

static void test_has_vfio(void)
{
    g_assert_false(domain_has_vfio(NULL));
    g_assert_false(domain_has_vfio("<rng model='virtio'><backend model='random'/></rng>"));
    g_assert_true(domain_has_vfio(PCI_HOSTDEV("<driver name='vfio'/>")));
    /* libvirt's default driver for PCI assignment is VFIO. */
    g_assert_true(domain_has_vfio(PCI_HOSTDEV("")));
    g_assert_false(domain_has_vfio(PCI_HOSTDEV("<driver name='kvm'/>")));
    g_assert_false(domain_has_vfio(PCI_HOSTDEV("<driver name='xen'/>")));
    g_assert_true(
        domain_has_vfio(PCI_HOSTDEV("<driver name='kvm'/>") PCI_HOSTDEV("<driver name='vfio'/>")));
    /* USB passthrough is not a PCI function. */
    g_assert_false(domain_has_vfio("<hostdev mode='subsystem' type='usb'><source><vendor "
                                   "id='0x1'/><product id='0x2'/></source></hostdev>"));
}

static void test_its_in_kernel(void)
{
    static const struct {
        const char *xml;
        gboolean in_kernel;
    } cases[] = {
        {"<domain type='kvm'><name>x</name></domain>", TRUE},
        {"<domain type='qemu'><name>x</name></domain>", FALSE},
        {"<domain type='test'><name>x</name></domain>", FALSE},
        {"<domain><name>x</name></domain>", FALSE},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(ItsmigDomainProfile) p = parse_ok(cases[i].xml);

        g_assert_cmpint(itsmig_domain_profile_its_in_kernel(p), ==, cases[i].in_kernel);
    }
}

/* ---- JSON of the new members ------------------------------------------------- */

static JsonNode *profile_json(const ItsmigDomainProfile *p)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) built = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;

    /* Through text, so that what is checked is what a client would read. */
    itsmig_domain_profile_to_json(p, b);
    built = json_builder_get_root(b);
    text = json_to_string(built, FALSE);
    g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
    g_assert_no_error(error);
    return json_node_copy(json_parser_get_root(parser));
}

static void test_json_metadata(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-metadata.xml");
    g_autoptr(JsonNode) root = profile_json(p);
    JsonObject *o = json_node_get_object(root);
    JsonObject *m, *host;
    JsonArray *revisions;

    g_assert_true(member_is_null(o, "its_metadata_error"));
    m = member_object(o, "its_metadata");
    g_assert_cmpuint(json_object_get_size(m), ==, 5);
    g_assert_cmpint(json_object_get_int_member(m, "its_abi_revision"), ==, 0);
    g_assert_cmpint(json_object_get_int_member(m, "gicd_revision"), ==, 3);
    g_assert_cmpstr(json_object_get_string_member(m, "started_at"), ==, "2026-11-21T10:00:00Z");
    g_assert_cmpstr(json_object_get_string_member(m, "reset_at"), ==, "2026-11-21T10:05:00Z");

    host = member_object(m, "host");
    g_assert_cmpuint(json_object_get_size(host), ==, 12);
    g_assert_cmpstr(json_object_get_string_member(host, "name"), ==, "hostA.example.org");
    g_assert_cmpstr(json_object_get_string_member(host, "written"), ==, "incoming-migration");
    g_assert_cmpstr(json_object_get_string_member(host, "written_at"), ==, "2026-11-21T11:30:15Z");
    g_assert_cmpstr(json_object_get_string_member(host, "arch"), ==, "aarch64");
    g_assert_cmpint(json_object_get_int_member(host, "page_size"), ==, 65536);
    g_assert_cmpstr(json_object_get_string_member(host, "gicv4"), ==, "4.1");
    g_assert_true(json_object_get_boolean_member(host, "save_tables"));
    g_assert_false(json_object_get_boolean_member(host, "save_pending_tables"));
    g_assert_true(json_object_get_boolean_member(host, "ctrl_reset"));
    revisions = member_array(host, "its_abi_revisions");
    g_assert_cmpuint(json_array_get_length(revisions), ==, 2);
    g_assert_cmpint(json_array_get_int_element(revisions, 0), ==, 0);
    g_assert_cmpint(json_array_get_int_element(revisions, 1), ==, 1);
}

static void test_json_metadata_unrecorded_nulls(void)
{
    g_autofree char *xml = metadata_domain(METADATA_OPEN "</itsmig:its>");
    g_autoptr(ItsmigDomainProfile) p = parse_ok(xml);
    g_autoptr(JsonNode) root = profile_json(p);
    JsonObject *m, *host;
    static const char *const host_members[] = {
        "name",
        "written",
        "written_at",
        "arch",
        "page_size",
        "gicv4",
        "save_tables",
        "ctrl_reset",
        "save_pending_tables",
        "its_abi_revisions",
    };

    g_assert_true(p->has_metadata);
    m = member_object(json_node_get_object(root), "its_metadata");
    g_assert_true(member_is_null(m, "its_abi_revision"));
    g_assert_true(member_is_null(m, "gicd_revision"));
    g_assert_true(member_is_null(m, "started_at"));
    g_assert_true(member_is_null(m, "reset_at"));
    host = member_object(m, "host");
    for (guint i = 0; i < G_N_ELEMENTS(host_members); i++) {
        if (!member_is_null(host, host_members[i]))
            g_error("host member %s is not null", host_members[i]);
    }
}

static void test_json_metadata_absent_and_error(void)
{
    g_autoptr(ItsmigDomainProfile) absent = parse_fixture("aarch64-virt-gicv3.xml");
    g_autofree char *xml =
        metadata_domain(METADATA_OPEN "<itsmig:abi-revision>77</itsmig:abi-revision>"
                                      "</itsmig:its>");
    g_autoptr(ItsmigDomainProfile) bad = parse_ok(xml);
    g_autoptr(JsonNode) absent_root = profile_json(absent);
    g_autoptr(JsonNode) bad_root = profile_json(bad);
    JsonObject *o;

    o = json_node_get_object(absent_root);
    g_assert_true(member_is_null(o, "its_metadata"));
    g_assert_true(member_is_null(o, "its_metadata_error"));

    o = json_node_get_object(bad_root);
    g_assert_true(member_is_null(o, "its_metadata"));
    g_assert_cmpstr(json_object_get_string_member(o, "its_metadata_error"), ==,
                    bad->metadata_error);
    g_assert_nonnull(strstr(bad->metadata_error, "'77'"));
}

static void test_json_hostdev_host_facts(void)
{
    g_autoptr(ItsmigDomainProfile) p = parse_fixture("aarch64-virt-gicv3.xml");
    ItsmigHostdev *h0 = g_ptr_array_index(p->hostdevs, 0);
    ItsmigHostdev *h1 = g_ptr_array_index(p->hostdevs, 1);
    g_autoptr(JsonNode) before = profile_json(p);
    g_autoptr(JsonNode) after = NULL;
    JsonArray *hostdevs;
    JsonObject *h;

    hostdevs = member_array(json_node_get_object(before), "hostdevs");
    for (guint i = 0; i < json_array_get_length(hostdevs); i++) {
        h = json_array_get_object_element(hostdevs, i);
        g_assert_cmpuint(json_object_get_size(h), ==, 7);
        g_assert_true(member_is_null(h, "host_driver"));
        g_assert_true(member_is_null(h, "migratable"));
    }

    /* What itsmigd fills in from sysfs. */
    h0->host_driver = g_strdup("vfio-pci");
    h0->migratable = 0;
    h1->host_driver = g_strdup("mlx5_vfio_pci");
    h1->migratable = 1;
    after = profile_json(p);
    hostdevs = member_array(json_node_get_object(after), "hostdevs");
    h = json_array_get_object_element(hostdevs, 0);
    g_assert_cmpstr(json_object_get_string_member(h, "host_driver"), ==, "vfio-pci");
    g_assert_false(json_object_get_boolean_member(h, "migratable"));
    h = json_array_get_object_element(hostdevs, 1);
    g_assert_cmpstr(json_object_get_string_member(h, "host_driver"), ==, "mlx5_vfio_pci");
    g_assert_true(json_object_get_boolean_member(h, "migratable"));
}

/* ---- helper modes for tests/domain-metadata-libvirt.sh ---------------------- */

static int usage(void)
{
    g_printerr("usage: test-domain-profile --list-metadata-records\n"
               "       test-domain-profile --print-metadata-xml RECORD\n"
               "       test-domain-profile --check-metadata-file RECORD DOMAIN-XML-FILE\n"
               "       test-domain-profile [GTest options]\n");
    return 2;
}

/* Parses @path, prints its profile as JSON and compares its record with @name. */
static int check_metadata_file(const char *name, const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigDomainProfile) p = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *json = NULL;
    g_autofree char *diff = NULL;
    ItsmigItsMetadata want;
    gsize len = 0;

    if (!metadata_record(name, &want)) {
        g_printerr("no metadata record named %s\n", name);
        return 2;
    }
    if (!g_file_get_contents(path, &xml, &len, &error) ||
        !(p = itsmig_domain_profile_parse(xml, len, &error))) {
        g_printerr("%s: %s\n", path, error->message);
        itsmig_its_metadata_clear(&want);
        return 1;
    }
    itsmig_domain_profile_to_json(p, b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    json = json_generator_to_data(gen, NULL);
    /* stdio, not g_print(), which would recode to the locale's charset. */
    fputs(json, stdout);
    fputc('\n', stdout);

    if (!p->has_metadata) {
        g_printerr("%s: no itsmig metadata read: %s\n", path,
                   p->metadata_error ? p->metadata_error : "absent");
        itsmig_its_metadata_clear(&want);
        return 1;
    }
    diff = metadata_diff(&p->metadata, &want);
    itsmig_its_metadata_clear(&want);
    if (diff) {
        g_printerr("%s: metadata read back differs from record %s (read != written):\n%s", path,
                   name, diff);
        return 1;
    }
    return 0;
}

static int run_helper(int argc, char **argv)
{
    if (strcmp(argv[1], "--list-metadata-records") == 0 && argc == 2) {
        for (guint i = 0; i < G_N_ELEMENTS(metadata_records); i++)
            puts(metadata_records[i].name);
        return 0;
    }
    if (strcmp(argv[1], "--print-metadata-xml") == 0 && argc == 3) {
        ItsmigItsMetadata m;
        g_autofree char *element = NULL;

        if (!metadata_record(argv[2], &m)) {
            g_printerr("no metadata record named %s\n", argv[2]);
            return 2;
        }
        element = itsmig_its_metadata_to_xml(&m);
        itsmig_its_metadata_clear(&m);
        fputs(element, stdout);
        fputc('\n', stdout);
        return 0;
    }
    if (strcmp(argv[1], "--check-metadata-file") == 0 && argc == 4)
        return check_metadata_file(argv[2], argv[3]);
    return usage();
}

static gboolean is_helper_mode(const char *arg)
{
    return strcmp(arg, "--list-metadata-records") == 0 ||
           strcmp(arg, "--print-metadata-xml") == 0 || strcmp(arg, "--check-metadata-file") == 0;
}

/* ---- vCPU features --------------------------------------------------------- */

static ItsmigDomainProfile *parse_cpu(const char *features, const char *cpu)
{
    g_autofree char *xml =
        g_strdup_printf("<domain type='kvm'><name>t</name><vcpu>1</vcpu><os><type arch='aarch64' "
                        "machine='virt'>hvm</type></os><features>%s</features>%s</domain>",
                        features, cpu);

    return parse_ok(xml);
}

static void test_cpu_features(void)
{
    g_autoptr(ItsmigDomainProfile) none = parse_cpu("", "<cpu mode='host-passthrough'/>");
    g_autoptr(ItsmigDomainProfile) pmu_off = parse_cpu("<pmu state='off'/>", "");
    g_autoptr(ItsmigDomainProfile) pmu_on = parse_cpu("<pmu state='on'/>", "");
    g_autoptr(ItsmigDomainProfile) sve_off =
        parse_cpu("", "<cpu mode='host-passthrough'><feature policy='disable' name='sve'/></cpu>");
    g_autoptr(ItsmigDomainProfile) sve_len =
        parse_cpu("", "<cpu mode='host-passthrough'><feature policy='require' name='sve256'/>"
                      "<feature policy='disable' name='sve512'/></cpu>");
    g_autoptr(ItsmigDomainProfile) both =
        parse_cpu("<gic version='3'/><pmu state='off'/>",
                  "<cpu mode='host-passthrough'><feature name='sve'/>"
                  "<feature policy='forbid' name='sve'/><feature policy='disable' name='pmu'/>"
                  "<feature policy='disable' name='sve100'/></cpu>");

    g_assert_cmpstr(none->cpu_mode, ==, "host-passthrough");
    g_assert_cmpuint(none->vcpu_features_off, ==, 0);
    g_assert_cmpuint(none->vcpu_features_on, ==, 0);
    g_assert_null(pmu_off->cpu_mode);
    g_assert_cmpuint(pmu_off->vcpu_features_off, ==, ITSMIG_VCPU_FEATURE_PMU_V3);
    g_assert_cmpuint(pmu_on->vcpu_features_on, ==, ITSMIG_VCPU_FEATURE_PMU_V3);
    g_assert_cmpuint(sve_off->vcpu_features_off, ==, ITSMIG_VCPU_FEATURE_SVE);
    /* A vector length turned off leaves SVE on. */
    g_assert_cmpuint(sve_len->vcpu_features_on, ==, ITSMIG_VCPU_FEATURE_SVE);
    g_assert_cmpuint(sve_len->vcpu_features_off, ==, 0);
    /* Off wins over on; sve100 is no vector length. */
    g_assert_cmpuint(both->vcpu_features_off, ==,
                     ITSMIG_VCPU_FEATURE_PMU_V3 | ITSMIG_VCPU_FEATURE_SVE);
    g_assert_cmpuint(both->vcpu_features_on, ==, 0);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && is_helper_mode(argv[1]))
        return run_helper(argc, argv);

    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/domain-profile/gicv3/identity", test_gicv3_identity);
    g_test_add_func("/domain-profile/gicv3/its-present", test_gicv3_its_present);
    g_test_add_func("/domain-profile/gicv4/its-present", test_gicv4_its_present);
    g_test_add_func("/domain-profile/hostdevs/pci-only", test_hostdevs_pci_only);
    g_test_add_func("/domain-profile/msi-devices/document-order", test_msi_devices_document_order);
    g_test_add_func("/domain-profile/json/round-trip", test_json_round_trip);
    g_test_add_func("/domain-profile/json/nulls", test_json_nulls);

    g_test_add_func("/domain-profile/its/test-driver-not-aarch64", test_test_driver_not_aarch64);
    g_test_add_func("/domain-profile/cpu/features", test_cpu_features);
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

    g_test_add_func("/domain-profile/metadata/fixture-prefixed", test_metadata_fixture_prefixed);
    g_test_add_func("/domain-profile/metadata/fixture-unprefixed",
                    test_metadata_fixture_unprefixed);
    g_test_add_func("/domain-profile/metadata/default-namespace", test_metadata_default_namespace);
    g_test_add_func("/domain-profile/metadata/absent", test_metadata_absent);
    g_test_add_func("/domain-profile/metadata/other-namespace-ignored",
                    test_metadata_other_namespace_ignored);
    g_test_add_func("/domain-profile/metadata/wrong-version", test_metadata_wrong_version);
    g_test_add_func("/domain-profile/metadata/bad-values", test_metadata_bad_values);
    g_test_add_func("/domain-profile/metadata/size-caps", test_metadata_size_caps);
    g_test_add_func("/domain-profile/metadata/record-cap", test_metadata_record_cap);
    g_test_add_func("/domain-profile/metadata/verify", test_metadata_verify);
    g_test_add_func("/domain-profile/metadata/duplicate-root", test_metadata_duplicate_root);
    g_test_add_func("/domain-profile/metadata/unknown-children-ignored",
                    test_metadata_unknown_children_ignored);
    g_test_add_func("/domain-profile/metadata/round-trip", test_metadata_round_trip);
    g_test_add_func("/domain-profile/metadata/to-xml-exact", test_metadata_to_xml_exact);
    g_test_add_func("/domain-profile/metadata/to-xml-escaping", test_metadata_to_xml_escaping);
    g_test_add_func("/domain-profile/metadata/to-xml-leaves-out-invalid",
                    test_metadata_to_xml_leaves_out_invalid);
    g_test_add_func("/domain-profile/metadata/written-to-string", test_metadata_written_to_string);
    g_test_add_func("/domain-profile/metadata/init-clear", test_metadata_init_clear);
    g_test_add_func("/domain-profile/has-vfio", test_has_vfio);
    g_test_add_func("/domain-profile/its-in-kernel", test_its_in_kernel);
    g_test_add_func("/domain-profile/json/metadata", test_json_metadata);
    g_test_add_func("/domain-profile/json/metadata-unrecorded-nulls",
                    test_json_metadata_unrecorded_nulls);
    g_test_add_func("/domain-profile/json/metadata-absent-and-error",
                    test_json_metadata_absent_and_error);
    g_test_add_func("/domain-profile/json/hostdev-host-facts", test_json_hostdev_host_facts);

    g_test_add_func("/domain-profile/its-presence-to-string", test_presence_to_string);
    g_test_add_func("/domain-profile/free-null", test_free_null);

    return g_test_run();
}
