/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <libxml/xpathInternals.h>

#include "domain-xml.h"
#include "itsmig/domain-profile.h"
#include "itsmig/error.h"
#include "itsmig/kvm-regs-json.h"
#include "itsmig/json-strict.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

/* ---- small helpers --------------------------------------------------------- */

static void hostdev_free(gpointer data)
{
    ItsmigHostdev *h = data;

    g_free(h->address);
    g_free(h->driver);
    g_free(h->alias);
    g_free(h->guest_address);
    g_free(h->host_driver);
    g_free(h);
}

static void msi_device_free(gpointer data)
{
    ItsmigMsiDevice *d = data;

    g_free(d->kind);
    g_free(d->model);
    g_free(d->address);
    g_free(d->alias);
    g_free(d);
}

void itsmig_domain_profile_free(ItsmigDomainProfile *p)
{
    if (!p)
        return;
    g_free(p->name);
    g_free(p->uuid);
    g_free(p->type);
    g_free(p->arch);
    g_free(p->machine);
    g_free(p->emulator);
    g_free(p->gic_version);
    g_free(p->cpu_mode);
    g_free(p->its_reason);
    if (p->hostdevs)
        g_ptr_array_unref(p->hostdevs);
    if (p->msi_devices)
        g_ptr_array_unref(p->msi_devices);
    g_free(p->metadata_error);
    itsmig_its_metadata_clear(&p->metadata);
    g_free(p);
}

const char *itsmig_its_presence_to_string(ItsmigItsPresence p)
{
    switch (p) {
    case ITSMIG_ITS_ABSENT: return "absent";
    case ITSMIG_ITS_PRESENT: return "present";
    case ITSMIG_ITS_UNKNOWN:
    default: return "unknown";
    }
}

/* A number as libvirt writes PCI address parts: "0x1f" or decimal. */
static gboolean parse_addr_part(const char *s, guint64 max, guint64 *ret_value)
{
    guint base = 10;

    if (!s)
        return FALSE;
    if (g_str_has_prefix(s, "0x") || g_str_has_prefix(s, "0X")) {
        s += 2;
        base = 16;
    }
    return g_ascii_string_to_unsigned(s, base, 0, max, ret_value, NULL);
}

/* "0000:01:00.0" from <address domain= bus= slot= function=/>; libvirt omits
 * parts that are 0 in some older XML, so missing parts read as 0. */
static gboolean format_pci_address(xmlNodePtr addr, char **ret_address, GError **error)
{
    static const struct {
        const char *name;
        guint64 max;
    } parts[] = {{"domain", 0xffff}, {"bus", 0xff}, {"slot", 0x1f}, {"function", 0x7}};
    guint64 v[G_N_ELEMENTS(parts)];

    for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
        g_autofree char *s = itsmig_xml_prop(addr, parts[i].name);

        v[i] = 0;
        if (s && !parse_addr_part(s, parts[i].max, &v[i])) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                        "PCI address %s '%s' is not a number in 0..0x%" G_GINT64_MODIFIER "x",
                        parts[i].name, s, parts[i].max);
            return FALSE;
        }
    }
    *ret_address =
        g_strdup_printf("%04x:%02x:%02x.%x", (guint)v[0], (guint)v[1], (guint)v[2], (guint)v[3]);
    return TRUE;
}
/* ---- ITS presence ---------------------------------------------------------- */

/* "virt" (the newest) or "virt-X.Y"; anything else is not a virt machine. */
static gboolean parse_virt_machine(const char *machine, gboolean *ret_versioned, guint *ret_major,
                                   guint *ret_minor)
{
    g_auto(GStrv) parts = NULL;
    guint64 major, minor;

    if (strcmp(machine, "virt") == 0) {
        *ret_versioned = FALSE;
        return TRUE;
    }
    if (!g_str_has_prefix(machine, "virt-"))
        return FALSE;
    parts = g_strsplit(machine + strlen("virt-"), ".", -1);
    if (g_strv_length(parts) != 2 ||
        !g_ascii_string_to_unsigned(parts[0], 10, 0, 1000, &major, NULL) ||
        !g_ascii_string_to_unsigned(parts[1], 10, 0, 1000, &minor, NULL))
        return FALSE;
    *ret_versioned = TRUE;
    *ret_major = major;
    *ret_minor = minor;
    return TRUE;
}

static gboolean machine_opts_disable_its(const char *opts)
{
    g_auto(GStrv) kv = g_strsplit(opts, ",", -1);

    for (guint i = 0; kv[i]; i++) {
        if (strcmp(kv[i], "its=off") == 0 || strcmp(kv[i], "its=false") == 0 ||
            strcmp(kv[i], "its=no") == 0)
            return TRUE;
    }
    return FALSE;
}

/* A passthrough "-machine ...,its=off" overrides whatever libvirt generates. */
static gboolean qemu_commandline_disables_its(xmlXPathContextPtr ctx)
{
    g_autoptr(GPtrArray) args = itsmig_xml_nodes(ctx, NULL, "/domain/qemu:commandline/qemu:arg");

    for (guint i = 0; i < args->len; i++) {
        g_autofree char *v = itsmig_xml_prop(g_ptr_array_index(args, i), "value");
        g_autofree char *next = NULL;

        if (!v)
            continue;
        if (g_str_has_prefix(v, "-machine=") || g_str_has_prefix(v, "--machine=")) {
            if (machine_opts_disable_its(strchr(v, '=') + 1))
                return TRUE;
            continue;
        }
        if (strcmp(v, "-machine") != 0 && strcmp(v, "--machine") != 0 && strcmp(v, "-M") != 0)
            continue;
        if (i + 1 < args->len)
            next = itsmig_xml_prop(g_ptr_array_index(args, i + 1), "value");
        if (next && machine_opts_disable_its(next))
            return TRUE;
    }
    return FALSE;
}

static void decide_its(ItsmigDomainProfile *p, xmlXPathContextPtr ctx)
{
    gboolean versioned = FALSE;
    guint major = 0, minor = 0;
    const char *gic = p->gic_version;

    if (!p->arch) {
        p->its = ITSMIG_ITS_UNKNOWN;
        p->its_reason = g_strdup("no <os><type arch=...> in the domain XML");
        return;
    }
    if (strcmp(p->arch, "aarch64") != 0) {
        p->its = ITSMIG_ITS_ABSENT;
        p->its_reason = g_strdup_printf("arch is %s; a GIC ITS exists only on aarch64", p->arch);
        return;
    }
    if (!p->machine) {
        p->its = ITSMIG_ITS_UNKNOWN;
        p->its_reason = g_strdup("no machine type in the domain XML; libvirt picks it at define");
        return;
    }
    if (!parse_virt_machine(p->machine, &versioned, &major, &minor)) {
        p->its = ITSMIG_ITS_UNKNOWN;
        p->its_reason =
            g_strdup_printf("machine %s is not a virt machine; its ITS is not known", p->machine);
        return;
    }
    if (qemu_commandline_disables_its(ctx)) {
        p->its = ITSMIG_ITS_ABSENT;
        p->its_reason =
            g_strdup_printf("<qemu:commandline> passes its=off to -machine on %s", p->machine);
        return;
    }
    /* QEMU sets no_its for virt-2.7 and older. */
    if (versioned && (major < 2 || (major == 2 && minor < 8))) {
        p->its = ITSMIG_ITS_ABSENT;
        p->its_reason = g_strdup_printf("machine %s has no ITS (virt-2.8 added it)", p->machine);
        return;
    }
    /* Without KVM, QEMU emulates an ITS only from virt-6.2 (no_tcg_its before). */
    if (p->type && strcmp(p->type, "qemu") == 0 && versioned &&
        (major < 6 || (major == 6 && minor < 2))) {
        p->its = ITSMIG_ITS_ABSENT;
        p->its_reason = g_strdup_printf(
            "domain type qemu (TCG) on %s has no ITS (virt-6.2 added the emulated one)",
            p->machine);
        return;
    }
    if (!gic || strcmp(gic, "host") == 0) {
        p->its = ITSMIG_ITS_UNKNOWN;
        p->its_reason = g_strdup_printf("GIC version %s on %s; decided by the host at start",
                                        gic ? "host" : "unspecified", p->machine);
        return;
    }
    if (strcmp(gic, "2") == 0) {
        p->its = ITSMIG_ITS_ABSENT;
        p->its_reason = g_strdup_printf("GIC version 2 on %s; GICv2 has no ITS", p->machine);
        return;
    }
    if (strcmp(gic, "3") == 0 || strcmp(gic, "4") == 0) {
        p->its = ITSMIG_ITS_PRESENT;
        p->its_reason = g_strdup_printf("GIC version %s on %s has an ITS", gic, p->machine);
        return;
    }
    p->its = ITSMIG_ITS_UNKNOWN;
    p->its_reason = g_strdup_printf("GIC version '%s' on %s is not recognised", gic, p->machine);
}

/* ---- devices --------------------------------------------------------------- */

static gboolean is_virtio_name(const char *s)
{
    return s && g_str_has_prefix(s, "virtio");
}

/* Whether libvirt will give this device a virtio PCI function once it assigns
 * addresses (on aarch64 virt it prefers PCI over virtio-mmio). */
static gboolean device_is_virtio(xmlXPathContextPtr ctx, xmlNodePtr dev)
{
    const char *kind = (const char *)dev->name;
    g_autofree char *v = NULL;

    if (strcmp(kind, "disk") == 0) {
        v = itsmig_xml_prop(itsmig_xml_node(ctx, dev, "target"), "bus");
        return g_strcmp0(v, "virtio") == 0;
    }
    if (strcmp(kind, "interface") == 0 || strcmp(kind, "video") == 0) {
        v = itsmig_xml_prop(itsmig_xml_node(ctx, dev, "model"), "type");
        return is_virtio_name(v);
    }
    if (strcmp(kind, "input") == 0) {
        v = itsmig_xml_prop(dev, "bus");
        return g_strcmp0(v, "virtio") == 0;
    }
    if (strcmp(kind, "controller") == 0) {
        v = itsmig_xml_prop(dev, "type");
        if (g_strcmp0(v, "virtio-serial") == 0)
            return TRUE;
        g_free(g_steal_pointer(&v));
        v = itsmig_xml_prop(dev, "model");
        return is_virtio_name(v);
    }
    if (strcmp(kind, "filesystem") == 0)
        return TRUE; /* virtio-9p or virtiofs: both PCI functions under QEMU */
    if (strcmp(kind, "vsock") == 0) {
        v = itsmig_xml_prop(dev, "model");
        return !v || is_virtio_name(v);
    }
    if (strcmp(kind, "rng") == 0 || strcmp(kind, "memballoon") == 0 || strcmp(kind, "iommu") == 0 ||
        strcmp(kind, "crypto") == 0) {
        v = itsmig_xml_prop(dev, "model");
        return is_virtio_name(v);
    }
    return FALSE;
}

static char *device_model(xmlXPathContextPtr ctx, xmlNodePtr dev, const char *host_address)
{
    const char *kind = (const char *)dev->name;
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    if (strcmp(kind, "disk") == 0) {
        xmlNodePtr target = itsmig_xml_node(ctx, dev, "target");

        const char *bus;

        a = itsmig_xml_prop(target, "bus");
        b = itsmig_xml_prop(target, "dev");
        bus = g_strcmp0(a, "virtio") == 0 ? "virtio-blk" : a;
        if (bus && b)
            return g_strdup_printf("%s %s", bus, b);
        return g_strdup(bus ? bus : b ? b : kind);
    }
    if (strcmp(kind, "controller") == 0) {
        a = itsmig_xml_prop(dev, "type");
        b = itsmig_xml_prop(dev, "model");
        /* pci controller models already say so ("pcie-root-port"). */
        if (b && (g_strcmp0(a, "pci") == 0 || !a))
            return g_steal_pointer(&b);
        if (a && b)
            return g_strdup_printf("%s %s", a, b);
        return g_strdup(a ? a : kind);
    }
    if (strcmp(kind, "hostdev") == 0)
        return host_address ? g_strdup_printf("pci %s", host_address) : g_strdup("pci");
    if (strcmp(kind, "input") == 0) {
        a = itsmig_xml_prop(dev, "type");
        b = itsmig_xml_prop(dev, "bus");
        if (a && b)
            return g_strdup_printf("%s %s", b, a);
        return g_strdup(a ? a : kind);
    }
    if (strcmp(kind, "filesystem") == 0) {
        a = itsmig_xml_prop(itsmig_xml_node(ctx, dev, "driver"), "type");
        return g_strdup(g_strcmp0(a, "virtiofs") == 0 ? "virtiofs" : "virtio-9p");
    }
    if (strcmp(kind, "vsock") == 0) {
        a = itsmig_xml_prop(dev, "model");
        return g_strdup(a ? a : "virtio");
    }
    /* interface, video, sound, watchdog, rng, memballoon, shmem, ... */
    a = itsmig_xml_prop(itsmig_xml_node(ctx, dev, "model"), "type");
    if (a)
        return g_steal_pointer(&a);
    a = itsmig_xml_prop(dev, "model");
    if (a)
        return g_steal_pointer(&a);
    a = itsmig_xml_prop(dev, "type");
    return a ? g_steal_pointer(&a) : g_strdup(kind);
}

static gboolean read_hostdevs(ItsmigDomainProfile *p, xmlXPathContextPtr ctx, GError **error)
{
    g_autoptr(GPtrArray) nodes =
        itsmig_xml_nodes(ctx, NULL,
                         "/domain/devices/hostdev[@mode='subsystem' or not(@mode)]"
                         "[@type='pci']");

    for (guint i = 0; i < nodes->len; i++) {
        xmlNodePtr n = g_ptr_array_index(nodes, i);
        ItsmigHostdev *h = g_new0(ItsmigHostdev, 1);
        xmlNodePtr src = itsmig_xml_node(ctx, n, "source/address");
        xmlNodePtr guest = itsmig_xml_node(ctx, n, "address[@type='pci']");

        g_ptr_array_add(p->hostdevs, h);
        h->migratable = -1;
        h->driver = itsmig_xml_prop(itsmig_xml_node(ctx, n, "driver"), "name");
        h->managed = itsmig_xml_prop_is(n, "managed", "yes");
        h->alias = itsmig_xml_prop(itsmig_xml_node(ctx, n, "alias"), "name");
        if (src && !format_pci_address(src, &h->address, error))
            return FALSE;
        if (guest && !format_pci_address(guest, &h->guest_address, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean read_msi_devices(ItsmigDomainProfile *p, xmlXPathContextPtr ctx, GError **error)
{
    g_autoptr(GPtrArray) nodes = itsmig_xml_nodes(ctx, NULL, "/domain/devices/*");
    gboolean virt_pci = FALSE;
    gboolean versioned;
    guint major, minor;

    virt_pci = g_strcmp0(p->arch, "aarch64") == 0 && p->machine &&
               parse_virt_machine(p->machine, &versioned, &major, &minor);

    for (guint i = 0; i < nodes->len; i++) {
        xmlNodePtr n = g_ptr_array_index(nodes, i);
        const char *kind = (const char *)n->name;
        xmlNodePtr addr = itsmig_xml_node(ctx, n, "address[@type='pci']");
        g_autofree char *host_address = NULL;
        ItsmigMsiDevice *d;

        if (n->ns)
            continue; /* namespaced extensions are not devices */
        if (strcmp(kind, "controller") == 0) {
            g_autofree char *model = itsmig_xml_prop(n, "model");

            if (g_strcmp0(model, "pci-root") == 0 || g_strcmp0(model, "pcie-root") == 0)
                continue; /* the root complex itself */
        }
        if (!addr) {
            gboolean pci_hostdev =
                strcmp(kind, "hostdev") == 0 && itsmig_xml_prop_is(n, "type", "pci");

            /* Any other address type (virtio-mmio, drive, usb, ...) is not PCI. */
            if (itsmig_xml_node(ctx, n, "address") || !virt_pci)
                continue;
            if (!pci_hostdev && !device_is_virtio(ctx, n))
                continue;
        }
        if (strcmp(kind, "hostdev") == 0) {
            xmlNodePtr src = itsmig_xml_node(ctx, n, "source/address");

            if (src && !format_pci_address(src, &host_address, error))
                return FALSE;
        }

        d = g_new0(ItsmigMsiDevice, 1);
        g_ptr_array_add(p->msi_devices, d);
        d->kind = g_strdup(kind);
        d->model = device_model(ctx, n, host_address);
        d->alias = itsmig_xml_prop(itsmig_xml_node(ctx, n, "alias"), "name");
        if (addr && !format_pci_address(addr, &d->address, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- vCPUs ----------------------------------------------------------------- */

static gboolean parse_vcpu_count(const char *what, const char *s, guint *ret_count, GError **error)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 1, ITSMIG_DOMAIN_VCPUS_MAX, &v, NULL)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "%s '%s' is not a number in 1..%d", what, s, ITSMIG_DOMAIN_VCPUS_MAX);
        return FALSE;
    }
    *ret_count = (guint)v;
    return TRUE;
}

static gboolean read_vcpus(ItsmigDomainProfile *p, xmlXPathContextPtr ctx, GError **error)
{
    xmlNodePtr node = itsmig_xml_node(ctx, NULL, "/domain/vcpu");
    g_autofree char *max = NULL;
    g_autofree char *current = NULL;

    if (!node) {
        /* libvirt's default when <vcpu> is left out. */
        p->vcpus = p->max_vcpus = 1;
        return TRUE;
    }
    max = itsmig_xml_text(ctx, NULL, "/domain/vcpu");
    if (!parse_vcpu_count("<vcpu>", max, &p->max_vcpus, error))
        return FALSE;
    current = itsmig_xml_prop(node, "current");
    if (!current) {
        p->vcpus = p->max_vcpus;
        return TRUE;
    }
    if (!parse_vcpu_count("<vcpu current>", current, &p->vcpus, error))
        return FALSE;
    if (p->vcpus > p->max_vcpus) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "<vcpu current> %u is more than <vcpu> %u", p->vcpus, p->max_vcpus);
        return FALSE;
    }
    return TRUE;
}

/* ---- vCPU features ----------------------------------------------------------- */

/* libvirt's names of the arm64 vCPU features that change the register set
 * (QEMU's -cpu pmu=, sve=, sve<N>= and pauth= properties). */
static const struct {
    guint32 bit;
    const char *libvirt;
} cpu_features[] = {
    {ITSMIG_VCPU_FEATURE_PMU_V3, "pmu"},
    {ITSMIG_VCPU_FEATURE_SVE, "sve"},
    {ITSMIG_VCPU_FEATURE_PTRAUTH, "pauth"},
};

/* "sve128" .. "sve2048": a vector length, which needs SVE. */
static gboolean is_sve_length(const char *name)
{
    guint64 bits;

    return g_str_has_prefix(name, "sve") && g_ascii_isdigit(name[3]) &&
           g_ascii_string_to_unsigned(name + 3, 10, 128, 2048, &bits, NULL) && bits % 128 == 0;
}

static void read_cpu_features(ItsmigDomainProfile *p, xmlXPathContextPtr ctx)
{
    g_autoptr(GPtrArray) features = NULL;
    g_autofree char *pmu = NULL;

    p->cpu_mode = itsmig_xml_prop(itsmig_xml_node(ctx, NULL, "/domain/cpu"), "mode");
    pmu = itsmig_xml_prop(itsmig_xml_node(ctx, NULL, "/domain/features/pmu"), "state");
    if (g_strcmp0(pmu, "off") == 0)
        p->vcpu_features_off |= ITSMIG_VCPU_FEATURE_PMU_V3;
    else if (g_strcmp0(pmu, "on") == 0)
        p->vcpu_features_on |= ITSMIG_VCPU_FEATURE_PMU_V3;

    features = itsmig_xml_nodes(ctx, NULL, "/domain/cpu/feature");
    for (guint i = 0; features && i < features->len; i++) {
        xmlNodePtr n = g_ptr_array_index(features, i);
        g_autofree char *name = itsmig_xml_prop(n, "name");
        g_autofree char *policy = itsmig_xml_prop(n, "policy");
        /* libvirt's default policy is require. */
        gboolean off = g_strcmp0(policy, "disable") == 0 || g_strcmp0(policy, "forbid") == 0;
        gboolean on = !policy || strcmp(policy, "require") == 0 || strcmp(policy, "force") == 0;
        guint32 bit = 0;

        if (!name)
            continue;
        for (guint k = 0; k < G_N_ELEMENTS(cpu_features); k++) {
            if (strcmp(name, cpu_features[k].libvirt) == 0)
                bit = cpu_features[k].bit;
        }
        /* Turning one vector length off leaves SVE on with the others. */
        if (!bit && is_sve_length(name) && on)
            bit = ITSMIG_VCPU_FEATURE_SVE;
        if (!bit)
            continue;
        if (off)
            p->vcpu_features_off |= bit;
        else if (on)
            p->vcpu_features_on |= bit;
    }
    /* Off wins: QEMU refuses sve=off with a vector length on, and libvirt
     * passes both; either way the guest has no SVE registers. */
    p->vcpu_features_on &= ~p->vcpu_features_off;
}

/* ---- parsing --------------------------------------------------------------- */

ItsmigDomainProfile *itsmig_domain_profile_parse(const char *xml, gssize len, GError **error)
{
    g_autoptr(ItsmigDomainProfile) p = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlXPathContext) ctx = NULL;
    xmlNodePtr root;
    gsize size;

    g_return_val_if_fail(xml != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    size = len < 0 ? strnlen(xml, ITSMIG_DOMAIN_XML_MAX + 1) : (gsize)len;
    if (size > ITSMIG_DOMAIN_XML_MAX) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "domain XML is larger than %d bytes", ITSMIG_DOMAIN_XML_MAX);
        return NULL;
    }
    if (size == 0) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                            "domain XML is empty");
        return NULL;
    }
    /* Checked here rather than left to libxml2, which would honour a declared
     * legacy encoding and turn any bytes into valid-looking text. */
    {
        const char *bad = NULL;

        if (!g_utf8_validate_len(xml, size, &bad)) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                        "domain XML is not valid UTF-8 (byte offset %" G_GSIZE_FORMAT ")",
                        (gsize)(bad - xml));
            return NULL;
        }
    }

    doc = itsmig_xml_read_document(xml, size, "domain XML", error);
    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || root->ns || strcmp((const char *)root->name, "domain") != 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "root element is <%s>, not <domain>",
                    root ? (const char *)root->name : "(none)");
        return NULL;
    }
    ctx = xmlXPathNewContext(doc);
    if (!ctx || xmlXPathRegisterNs(ctx, (const xmlChar *)"qemu", (const xmlChar *)QEMU_NS) != 0) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                            "cannot set up an XPath context");
        return NULL;
    }

    p = g_new0(ItsmigDomainProfile, 1);
    itsmig_its_metadata_init(&p->metadata);
    p->hostdevs = g_ptr_array_new_with_free_func(hostdev_free);
    p->msi_devices = g_ptr_array_new_with_free_func(msi_device_free);

    p->name = itsmig_xml_text(ctx, NULL, "/domain/name");
    if (!p->name || !*p->name) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                            "domain XML has no <name>");
        return NULL;
    }
    p->uuid = itsmig_xml_text(ctx, NULL, "/domain/uuid");
    p->type = itsmig_xml_prop(root, "type");
    {
        xmlNodePtr os_type = itsmig_xml_node(ctx, NULL, "/domain/os/type");

        p->arch = itsmig_xml_prop(os_type, "arch");
        p->machine = itsmig_xml_prop(os_type, "machine");
    }
    p->emulator = itsmig_xml_text(ctx, NULL, "/domain/devices/emulator");
    p->gic_version = itsmig_xml_prop(itsmig_xml_node(ctx, NULL, "/domain/features/gic"), "version");

    if (!read_vcpus(p, ctx, error) || !read_hostdevs(p, ctx, error) ||
        !read_msi_devices(p, ctx, error))
        return NULL;
    decide_its(p, ctx);
    read_cpu_features(p, ctx);
    itsmig_its_metadata_read(p, ctx);

    return g_steal_pointer(&p);
}

/* ---- JSON ------------------------------------------------------------------ */

void itsmig_domain_profile_to_json(const ItsmigDomainProfile *p, JsonBuilder *b)
{
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "name", p->name);
    itsmig_json_add_string_or_null(b, "uuid", p->uuid);
    itsmig_json_add_string_or_null(b, "type", p->type);
    itsmig_json_add_string_or_null(b, "arch", p->arch);
    itsmig_json_add_string_or_null(b, "machine", p->machine);
    itsmig_json_add_string_or_null(b, "gic_version", p->gic_version);

    json_builder_set_member_name(b, "its");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "presence", itsmig_its_presence_to_string(p->its));
    itsmig_json_add_string_or_null(b, "reason", p->its_reason);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "vcpus");
    json_builder_add_int_value(b, p->vcpus);
    json_builder_set_member_name(b, "max_vcpus");
    json_builder_add_int_value(b, p->max_vcpus);
    json_builder_set_member_name(b, "cpu");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "mode", p->cpu_mode);
    itsmig_vcpu_features_to_json(b, "features_off", p->vcpu_features_off);
    itsmig_vcpu_features_to_json(b, "features_on", p->vcpu_features_on);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "hostdevs");
    json_builder_begin_array(b);
    for (guint i = 0; p->hostdevs && i < p->hostdevs->len; i++) {
        const ItsmigHostdev *h = g_ptr_array_index(p->hostdevs, i);

        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "address", h->address);
        itsmig_json_add_string_or_null(b, "driver", h->driver);
        json_builder_set_member_name(b, "managed");
        json_builder_add_boolean_value(b, h->managed);
        itsmig_json_add_string_or_null(b, "alias", h->alias);
        itsmig_json_add_string_or_null(b, "guest_address", h->guest_address);
        itsmig_json_add_string_or_null(b, "host_driver", h->host_driver);
        itsmig_json_add_tristate_or_null(b, "migratable", h->migratable);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "msi_devices");
    json_builder_begin_array(b);
    for (guint i = 0; p->msi_devices && i < p->msi_devices->len; i++) {
        const ItsmigMsiDevice *d = g_ptr_array_index(p->msi_devices, i);

        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "kind", d->kind);
        itsmig_json_add_string_or_null(b, "model", d->model);
        itsmig_json_add_string_or_null(b, "address", d->address);
        itsmig_json_add_string_or_null(b, "alias", d->alias);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "its_metadata");
    if (p->has_metadata)
        itsmig_its_metadata_to_json(&p->metadata, b);
    else
        json_builder_add_null_value(b);
    itsmig_json_add_string_or_null(b, "its_metadata_error", p->metadata_error);
    json_builder_end_object(b);
}
