/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "itsmig/domain-profile.h"
#include "itsmig/error.h"
#include "itsmig/json-strict.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

/* ---- small helpers --------------------------------------------------------- */

static void xml_init_once(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        xmlInitParser();
        g_once_init_leave(&done, 1);
    }
}

static void xpath_context_free(xmlXPathContextPtr ctx)
{
    xmlXPathFreeContext(ctx);
}

static void doc_free(xmlDocPtr doc)
{
    xmlFreeDoc(doc);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xpath_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, doc_free)

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

/* The attribute as a GLib string, NULL when absent. */
static char *prop(xmlNodePtr node, const char *name)
{
    xmlChar *v;
    char *ret;

    if (!node)
        return NULL;
    v = xmlGetNoNsProp(node, (const xmlChar *)name);
    if (!v)
        return NULL;
    ret = g_strdup((const char *)v);
    xmlFree(v);
    return ret;
}

static gboolean prop_is(xmlNodePtr node, const char *name, const char *value)
{
    g_autofree char *v = prop(node, name);

    return v && strcmp(v, value) == 0;
}

/* Element nodes matching @expr, relative to @node (NULL: the document). */
static GPtrArray *xpath_nodes(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
    GPtrArray *ret = g_ptr_array_new();
    xmlXPathObjectPtr obj;

    ctx->node = node ? node : xmlDocGetRootElement(ctx->doc);
    obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    if (obj && obj->type == XPATH_NODESET && obj->nodesetval) {
        for (int i = 0; i < obj->nodesetval->nodeNr; i++) {
            if (obj->nodesetval->nodeTab[i]->type == XML_ELEMENT_NODE)
                g_ptr_array_add(ret, obj->nodesetval->nodeTab[i]);
        }
    }
    xmlXPathFreeObject(obj);
    return ret;
}

static xmlNodePtr xpath_node(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
    g_autoptr(GPtrArray) nodes = xpath_nodes(ctx, node, expr);

    return nodes->len > 0 ? g_ptr_array_index(nodes, 0) : NULL;
}

/* The text of the first element matching @expr, stripped; NULL when there is none. */
static char *xpath_text(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
    xmlNodePtr n = xpath_node(ctx, node, expr);
    xmlChar *v;
    char *ret;

    if (!n)
        return NULL;
    v = xmlNodeGetContent(n);
    ret = g_strstrip(g_strdup(v ? (const char *)v : ""));
    xmlFree(v);
    return ret;
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
        g_autofree char *s = prop(addr, parts[i].name);

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
    g_autoptr(GPtrArray) args = xpath_nodes(ctx, NULL, "/domain/qemu:commandline/qemu:arg");

    for (guint i = 0; i < args->len; i++) {
        g_autofree char *v = prop(g_ptr_array_index(args, i), "value");
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
            next = prop(g_ptr_array_index(args, i + 1), "value");
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
        v = prop(xpath_node(ctx, dev, "target"), "bus");
        return g_strcmp0(v, "virtio") == 0;
    }
    if (strcmp(kind, "interface") == 0 || strcmp(kind, "video") == 0) {
        v = prop(xpath_node(ctx, dev, "model"), "type");
        return is_virtio_name(v);
    }
    if (strcmp(kind, "input") == 0) {
        v = prop(dev, "bus");
        return g_strcmp0(v, "virtio") == 0;
    }
    if (strcmp(kind, "controller") == 0) {
        v = prop(dev, "type");
        if (g_strcmp0(v, "virtio-serial") == 0)
            return TRUE;
        g_free(g_steal_pointer(&v));
        v = prop(dev, "model");
        return is_virtio_name(v);
    }
    if (strcmp(kind, "filesystem") == 0)
        return TRUE; /* virtio-9p or virtiofs: both PCI functions under QEMU */
    if (strcmp(kind, "vsock") == 0) {
        v = prop(dev, "model");
        return !v || is_virtio_name(v);
    }
    if (strcmp(kind, "rng") == 0 || strcmp(kind, "memballoon") == 0 || strcmp(kind, "iommu") == 0 ||
        strcmp(kind, "crypto") == 0) {
        v = prop(dev, "model");
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
        xmlNodePtr target = xpath_node(ctx, dev, "target");

        const char *bus;

        a = prop(target, "bus");
        b = prop(target, "dev");
        bus = g_strcmp0(a, "virtio") == 0 ? "virtio-blk" : a;
        if (bus && b)
            return g_strdup_printf("%s %s", bus, b);
        return g_strdup(bus ? bus : b ? b : kind);
    }
    if (strcmp(kind, "controller") == 0) {
        a = prop(dev, "type");
        b = prop(dev, "model");
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
        a = prop(dev, "type");
        b = prop(dev, "bus");
        if (a && b)
            return g_strdup_printf("%s %s", b, a);
        return g_strdup(a ? a : kind);
    }
    if (strcmp(kind, "filesystem") == 0) {
        a = prop(xpath_node(ctx, dev, "driver"), "type");
        return g_strdup(g_strcmp0(a, "virtiofs") == 0 ? "virtiofs" : "virtio-9p");
    }
    if (strcmp(kind, "vsock") == 0) {
        a = prop(dev, "model");
        return g_strdup(a ? a : "virtio");
    }
    /* interface, video, sound, watchdog, rng, memballoon, shmem, ... */
    a = prop(xpath_node(ctx, dev, "model"), "type");
    if (a)
        return g_steal_pointer(&a);
    a = prop(dev, "model");
    if (a)
        return g_steal_pointer(&a);
    a = prop(dev, "type");
    return a ? g_steal_pointer(&a) : g_strdup(kind);
}

static gboolean read_hostdevs(ItsmigDomainProfile *p, xmlXPathContextPtr ctx, GError **error)
{
    g_autoptr(GPtrArray) nodes =
        xpath_nodes(ctx, NULL,
                    "/domain/devices/hostdev[@mode='subsystem' or not(@mode)]"
                    "[@type='pci']");

    for (guint i = 0; i < nodes->len; i++) {
        xmlNodePtr n = g_ptr_array_index(nodes, i);
        ItsmigHostdev *h = g_new0(ItsmigHostdev, 1);
        xmlNodePtr src = xpath_node(ctx, n, "source/address");
        xmlNodePtr guest = xpath_node(ctx, n, "address[@type='pci']");

        g_ptr_array_add(p->hostdevs, h);
        h->migratable = -1;
        h->driver = prop(xpath_node(ctx, n, "driver"), "name");
        h->managed = prop_is(n, "managed", "yes");
        h->alias = prop(xpath_node(ctx, n, "alias"), "name");
        if (src && !format_pci_address(src, &h->address, error))
            return FALSE;
        if (guest && !format_pci_address(guest, &h->guest_address, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean read_msi_devices(ItsmigDomainProfile *p, xmlXPathContextPtr ctx, GError **error)
{
    g_autoptr(GPtrArray) nodes = xpath_nodes(ctx, NULL, "/domain/devices/*");
    gboolean virt_pci = FALSE;
    gboolean versioned;
    guint major, minor;

    virt_pci = g_strcmp0(p->arch, "aarch64") == 0 && p->machine &&
               parse_virt_machine(p->machine, &versioned, &major, &minor);

    for (guint i = 0; i < nodes->len; i++) {
        xmlNodePtr n = g_ptr_array_index(nodes, i);
        const char *kind = (const char *)n->name;
        xmlNodePtr addr = xpath_node(ctx, n, "address[@type='pci']");
        g_autofree char *host_address = NULL;
        ItsmigMsiDevice *d;

        if (n->ns)
            continue; /* namespaced extensions are not devices */
        if (strcmp(kind, "controller") == 0) {
            g_autofree char *model = prop(n, "model");

            if (g_strcmp0(model, "pci-root") == 0 || g_strcmp0(model, "pcie-root") == 0)
                continue; /* the root complex itself */
        }
        if (!addr) {
            gboolean pci_hostdev = strcmp(kind, "hostdev") == 0 && prop_is(n, "type", "pci");

            /* Any other address type (virtio-mmio, drive, usb, ...) is not PCI. */
            if (xpath_node(ctx, n, "address") || !virt_pci)
                continue;
            if (!pci_hostdev && !device_is_virtio(ctx, n))
                continue;
        }
        if (strcmp(kind, "hostdev") == 0) {
            xmlNodePtr src = xpath_node(ctx, n, "source/address");

            if (src && !format_pci_address(src, &host_address, error))
                return FALSE;
        }

        d = g_new0(ItsmigMsiDevice, 1);
        g_ptr_array_add(p->msi_devices, d);
        d->kind = g_strdup(kind);
        d->model = device_model(ctx, n, host_address);
        d->alias = prop(xpath_node(ctx, n, "alias"), "name");
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
    xmlNodePtr node = xpath_node(ctx, NULL, "/domain/vcpu");
    g_autofree char *max = NULL;
    g_autofree char *current = NULL;

    if (!node) {
        /* libvirt's default when <vcpu> is left out. */
        p->vcpus = p->max_vcpus = 1;
        return TRUE;
    }
    max = xpath_text(ctx, NULL, "/domain/vcpu");
    if (!parse_vcpu_count("<vcpu>", max, &p->max_vcpus, error))
        return FALSE;
    current = prop(node, "current");
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

    p->cpu_mode = prop(xpath_node(ctx, NULL, "/domain/cpu"), "mode");
    pmu = prop(xpath_node(ctx, NULL, "/domain/features/pmu"), "state");
    if (g_strcmp0(pmu, "off") == 0)
        p->vcpu_features_off |= ITSMIG_VCPU_FEATURE_PMU_V3;
    else if (g_strcmp0(pmu, "on") == 0)
        p->vcpu_features_on |= ITSMIG_VCPU_FEATURE_PMU_V3;

    features = xpath_nodes(ctx, NULL, "/domain/cpu/feature");
    for (guint i = 0; features && i < features->len; i++) {
        xmlNodePtr n = g_ptr_array_index(features, i);
        g_autofree char *name = prop(n, "name");
        g_autofree char *policy = prop(n, "policy");
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

/* ---- ITS metadata ---------------------------------------------------------- */

#define METADATA_HOST_NAME_MAX 255
#define METADATA_ARCH_MAX      64
#define METADATA_REVISION_MAX  15 /* ITS ABI revision and GICD_IIDR.Revision: 4 bits each */
#define METADATA_PAGE_SIZE_MIN 4096
#define METADATA_PAGE_SIZE_MAX 65536
#define METADATA_TIME_MAX      G_GINT64_CONSTANT(253402300799) /* 9999-12-31T23:59:59Z */
#define METADATA_SHOWN_MAX     64 /* characters of a bad value quoted in an error */
#define METADATA_TIME_EXAMPLE  "2026-11-21T10:00:00Z"

#define METADATA_XPATH                                                                             \
    "/domain/metadata/*[local-name()='" ITSMIG_METADATA_ROOT                                       \
    "' and namespace-uri()='" ITSMIG_METADATA_NS "']"

static const char *const written_names[ITSMIG_METADATA_WRITTEN_LAST] = {
    [ITSMIG_METADATA_WRITTEN_START] = "start",
    [ITSMIG_METADATA_WRITTEN_INCOMING] = "incoming-migration",
    [ITSMIG_METADATA_WRITTEN_ADOPTED] = "adopted",
};

void itsmig_its_metadata_init(ItsmigItsMetadata *m)
{
    g_return_if_fail(m != NULL);

    memset(m, 0, sizeof(*m));
    m->its_abi_revision = -1;
    m->gicd_revision = -1;
    /* ItsmigMetadataWritten has no value of its own for "not recorded". */
    m->written = ITSMIG_METADATA_WRITTEN_LAST;
    m->host_gicv4 = ITSMIG_GICV4_UNKNOWN;
    m->host_save_tables = -1;
    m->host_save_pending_tables = -1;
    m->host_ctrl_reset = -1;
}

void itsmig_its_metadata_clear(ItsmigItsMetadata *m)
{
    if (!m)
        return;
    g_free(m->host);
    g_free(m->host_arch);
    g_free(m->host_regs_digest);
    itsmig_its_metadata_init(m);
}

void itsmig_its_metadata_copy(ItsmigItsMetadata *to, const ItsmigItsMetadata *from)
{
    *to = *from;
    to->host = g_strdup(from->host);
    to->host_arch = g_strdup(from->host_arch);
    to->host_regs_digest = g_strdup(from->host_regs_digest);
}

const char *itsmig_metadata_written_to_string(ItsmigMetadataWritten w)
{
    if ((guint)w < ITSMIG_METADATA_WRITTEN_LAST)
        return written_names[w];
    return "unknown";
}

/* What the reader accepts is what the writer writes: a value outside these
 * is left out by itsmig_its_metadata_to_xml(), so that one bad field cannot
 * make the whole record unreadable. */

static gboolean revision_valid(int r)
{
    return r >= 0 && r <= METADATA_REVISION_MAX;
}

static gboolean time_valid(gint64 t)
{
    return t > 0 && t <= METADATA_TIME_MAX;
}

static gboolean page_size_valid(guint64 s)
{
    return s >= METADATA_PAGE_SIZE_MIN && s <= METADATA_PAGE_SIZE_MAX && (s & (s - 1)) == 0;
}

static gboolean written_valid(ItsmigMetadataWritten w)
{
    return (guint)w < ITSMIG_METADATA_WRITTEN_LAST;
}

static gboolean gicv4_valid(ItsmigGicv4Level l)
{
    return l == ITSMIG_GICV4_NONE || l == ITSMIG_GICV4_0 || l == ITSMIG_GICV4_1;
}

static gboolean tristate_valid(int v)
{
    return v == 0 || v == 1;
}

static gboolean host_name_valid(const char *s)
{
    gsize len = s ? strlen(s) : 0;

    if (len == 0 || len > METADATA_HOST_NAME_MAX || !g_utf8_validate(s, len, NULL))
        return FALSE;
    for (const char *c = s; *c; c = g_utf8_next_char(c)) {
        if (g_unichar_iscntrl(g_utf8_get_char(c)))
            return FALSE;
    }
    return TRUE;
}

static gboolean arch_valid(const char *s)
{
    gsize len = s ? strlen(s) : 0;

    if (len == 0 || len > METADATA_ARCH_MAX)
        return FALSE;
    for (gsize i = 0; i < len; i++) {
        if (!g_ascii_isalnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return FALSE;
    }
    return TRUE;
}

/* "sha256:" and 64 lowercase hex digits, as itsmig_kvm_regs_digest() spells it. */
static gboolean regs_digest_valid(const char *s)
{
    return s && strlen(s) == 71 && g_str_has_prefix(s, "sha256:") &&
           strspn(s + 7, "0123456789abcdef") == 64;
}

static gboolean host_recorded(const ItsmigItsMetadata *m)
{
    return host_name_valid(m->host) || written_valid(m->written) || time_valid(m->written_at) ||
           arch_valid(m->host_arch) || page_size_valid(m->host_page_size) ||
           gicv4_valid(m->host_gicv4) || tristate_valid(m->host_save_tables) ||
           tristate_valid(m->host_save_pending_tables) || tristate_valid(m->host_ctrl_reset) ||
           m->host_its_abi_revisions != 0 || regs_digest_valid(m->host_regs_digest);
}

/* "2026-11-21T10:00:00Z", NULL when @t is not recorded (or not representable). */
static char *format_time(gint64 t)
{
    g_autoptr(GDateTime) dt = NULL;

    if (!time_valid(t))
        return NULL;
    dt = g_date_time_new_from_unix_utc(t);
    return dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;
}

/* "0,1" */
static char *format_revisions(guint16 revisions)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i <= METADATA_REVISION_MAX; i++) {
        if (revisions & (1u << i))
            g_string_append_printf(s, "%s%u", s->len ? "," : "", i);
    }
    return g_string_free(s, FALSE);
}

static const char *yes_no(int v)
{
    return v ? "yes" : "no";
}

/* libxml2 returns NULL only when out of memory; like g_malloc, give up. */
static void *xml_alloc_check(void *ptr)
{
    if (!ptr)
        g_abort();
    return ptr;
}

static void add_text_child(xmlNodePtr parent, const char *name, const char *text)
{
    /* xmlNewTextChild (not xmlNewChild) escapes @text. */
    xml_alloc_check(xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text));
}

static void add_prop(xmlNodePtr node, const char *name, const char *value)
{
    xml_alloc_check(xmlNewProp(node, (const xmlChar *)name, (const xmlChar *)value));
}

char *itsmig_its_metadata_to_xml(const ItsmigItsMetadata *m)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autofree char *started = NULL;
    g_autofree char *reset = NULL;
    xmlNodePtr root;
    xmlBufferPtr buf;
    char *ret;

    g_return_val_if_fail(m != NULL, NULL);

    xml_init_once();
    doc = xml_alloc_check(xmlNewDoc((const xmlChar *)"1.0"));
    /* Non-ASCII (a hostname) is written as UTF-8 rather than as character references. */
    doc->encoding = xml_alloc_check(xmlStrdup((const xmlChar *)"UTF-8"));
    root = xml_alloc_check(xmlNewDocNode(doc, NULL, (const xmlChar *)ITSMIG_METADATA_ROOT, NULL));
    xmlDocSetRootElement(doc, root);
    add_prop(root, "version", "1");

    if (revision_valid(m->its_abi_revision)) {
        g_autofree char *v = g_strdup_printf("%d", m->its_abi_revision);

        add_text_child(root, "abi-revision", v);
    }
    if (revision_valid(m->gicd_revision)) {
        g_autofree char *v = g_strdup_printf("%d", m->gicd_revision);

        add_text_child(root, "gicd-revision", v);
    }
    started = format_time(m->started_at);
    if (started)
        add_text_child(root, "started", started);
    reset = format_time(m->reset_at);
    if (reset)
        add_text_child(root, "reset", reset);

    if (host_recorded(m)) {
        xmlNodePtr host = xml_alloc_check(xmlNewChild(root, NULL, (const xmlChar *)"host", NULL));
        g_autofree char *written_at = format_time(m->written_at);

        if (host_name_valid(m->host))
            add_prop(host, "name", m->host);
        if (written_valid(m->written))
            add_prop(host, "written", written_names[m->written]);
        if (written_at)
            add_prop(host, "written-at", written_at);
        if (arch_valid(m->host_arch))
            add_prop(host, "arch", m->host_arch);
        if (page_size_valid(m->host_page_size)) {
            g_autofree char *v = g_strdup_printf("%u", m->host_page_size);

            add_prop(host, "page-size", v);
        }
        if (gicv4_valid(m->host_gicv4))
            add_prop(host, "gicv4", itsmig_gicv4_level_to_string(m->host_gicv4));
        if (tristate_valid(m->host_save_tables))
            add_prop(host, "save-tables", yes_no(m->host_save_tables));
        if (tristate_valid(m->host_save_pending_tables))
            add_prop(host, "save-pending-tables", yes_no(m->host_save_pending_tables));
        if (tristate_valid(m->host_ctrl_reset))
            add_prop(host, "ctrl-reset", yes_no(m->host_ctrl_reset));
        if (m->host_its_abi_revisions != 0) {
            g_autofree char *v = format_revisions(m->host_its_abi_revisions);

            add_prop(host, "its-abi-revisions", v);
        }
        if (regs_digest_valid(m->host_regs_digest) && m->host_regs_count <= ITSMIG_KVM_REGS_MAX) {
            g_autofree char *v = g_strdup_printf("%u", m->host_regs_count);

            add_prop(host, "vcpu-registers", v);
            add_prop(host, "vcpu-registers-digest", m->host_regs_digest);
        }
    }

    buf = xml_alloc_check(xmlBufferCreate());
    if (xmlNodeDump(buf, doc, root, 0, 1) < 0)
        g_abort();
    ret = g_strndup((const char *)xmlBufferContent(buf), xmlBufferLength(buf));
    xmlBufferFree(buf);
    return ret;
}

/* At most METADATA_SHOWN_MAX characters of @s, control characters replaced,
 * for quoting in a one-line error message. */
static char *shown(const char *s)
{
    GString *out = g_string_new(NULL);
    guint n = 0;

    for (const char *c = s; *c; c = g_utf8_next_char(c), n++) {
        gunichar u = g_utf8_get_char(c);

        if (n == METADATA_SHOWN_MAX) {
            g_string_append(out, "...");
            break;
        }
        if (g_unichar_iscntrl(u))
            g_string_append_c(out, '?');
        else
            g_string_append_unichar(out, u);
    }
    return g_string_free(out, FALSE);
}

/* @what names where the value was: "<abi-revision>", "<host> page-size". */
static gboolean bad_value(GError **error, const char *what, const char *value, const char *expected)
{
    g_autofree char *v = shown(value);

    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                "itsmig metadata: %s '%s' is not %s", what, v, expected);
    return FALSE;
}

/* The attribute with local name @name in any namespace; *ret_value NULL when absent. */
static gboolean metadata_attr(xmlNodePtr node, const char *name, char **ret_value, GError **error)
{
    g_autofree char *found = NULL;

    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        xmlChar *v;

        if (strcmp((const char *)a->name, name) != 0)
            continue;
        if (found) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                        "itsmig metadata: <%s> has attribute %s more than once",
                        (const char *)node->name, name);
            return FALSE;
        }
        v = xmlNodeListGetString(node->doc, a->children, 1);
        found = g_strdup(v ? (const char *)v : "");
        xmlFree(v);
    }
    *ret_value = g_steal_pointer(&found);
    return TRUE;
}

static char *metadata_text(xmlNodePtr node)
{
    xmlChar *v = xmlNodeGetContent(node);
    char *ret = g_strstrip(g_strdup(v ? (const char *)v : ""));

    xmlFree(v);
    return ret;
}

static gboolean parse_revision(const char *what, const char *s, int *ret_value, GError **error)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 0, METADATA_REVISION_MAX, &v, NULL))
        return bad_value(error, what, s, "a number in 0..15");
    *ret_value = (int)v;
    return TRUE;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ": what the writer produces, in UTC. */
static gboolean time_from_string(const char *s, gint64 *ret_value)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    g_autoptr(GDateTime) dt = NULL;
    gint64 t;

    if (strlen(s) != strlen(shape))
        return FALSE;
    for (gsize i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !g_ascii_isdigit(s[i]) : s[i] != shape[i])
            return FALSE;
    }
    dt = g_date_time_new_from_iso8601(s, NULL);
    if (!dt)
        return FALSE;
    t = g_date_time_to_unix(dt);
    /* 0 means "not recorded". */
    if (!time_valid(t))
        return FALSE;
    *ret_value = t;
    return TRUE;
}

static gboolean parse_time(const char *what, const char *s, gint64 *ret_value, GError **error)
{
    if (!time_from_string(s, ret_value))
        return bad_value(error, what, s, "a UTC time after 1970 like " METADATA_TIME_EXAMPLE);
    return TRUE;
}

static gboolean parse_yes_no(const char *what, const char *s, int *ret_value, GError **error)
{
    if (strcmp(s, "yes") == 0)
        *ret_value = 1;
    else if (strcmp(s, "no") == 0)
        *ret_value = 0;
    else
        return bad_value(error, what, s, "yes or no");
    return TRUE;
}

static gboolean parse_gicv4(const char *what, const char *s, ItsmigGicv4Level *ret_value,
                            GError **error)
{
    static const ItsmigGicv4Level levels[] = {ITSMIG_GICV4_NONE, ITSMIG_GICV4_0, ITSMIG_GICV4_1};

    for (guint i = 0; i < G_N_ELEMENTS(levels); i++) {
        if (strcmp(s, itsmig_gicv4_level_to_string(levels[i])) == 0) {
            *ret_value = levels[i];
            return TRUE;
        }
    }
    return bad_value(error, what, s, "none, 4.0 or 4.1");
}

static gboolean parse_written(const char *what, const char *s, ItsmigMetadataWritten *ret_value,
                              GError **error)
{
    for (guint i = 0; i < ITSMIG_METADATA_WRITTEN_LAST; i++) {
        if (strcmp(s, written_names[i]) == 0) {
            *ret_value = i;
            return TRUE;
        }
    }
    return bad_value(error, what, s, "start, incoming-migration or adopted");
}

static gboolean parse_page_size(const char *what, const char *s, guint *ret_value, GError **error)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT, &v, NULL) || !page_size_valid(v))
        return bad_value(error, what, s, "a power of two in 4096..65536");
    *ret_value = (guint)v;
    return TRUE;
}

static gboolean revisions_from_string(const char *s, guint16 *ret_value)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);
    guint16 set = 0;

    for (guint i = 0; parts[i]; i++) {
        guint64 v;

        if (!g_ascii_string_to_unsigned(parts[i], 10, 0, METADATA_REVISION_MAX, &v, NULL) ||
            (set & (1u << v)))
            return FALSE;
        set |= 1u << v;
    }
    if (set == 0)
        return FALSE;
    *ret_value = set;
    return TRUE;
}

static gboolean parse_revisions(const char *what, const char *s, guint16 *ret_value, GError **error)
{
    if (!revisions_from_string(s, ret_value))
        return bad_value(error, what, s, "a list like 0,1 of distinct revisions in 0..15");
    return TRUE;
}

static gboolean read_metadata_host(xmlNodePtr host, ItsmigItsMetadata *m, GError **error)
{
    g_autofree char *name = NULL;
    g_autofree char *written = NULL;
    g_autofree char *written_at = NULL;
    g_autofree char *arch = NULL;
    g_autofree char *page_size = NULL;
    g_autofree char *gicv4 = NULL;
    g_autofree char *save_tables = NULL;
    g_autofree char *save_pending_tables = NULL;
    g_autofree char *ctrl_reset = NULL;
    g_autofree char *revisions = NULL;
    g_autofree char *regs_count = NULL;
    g_autofree char *regs_digest = NULL;

    if (!metadata_attr(host, "name", &name, error) ||
        !metadata_attr(host, "vcpu-registers", &regs_count, error) ||
        !metadata_attr(host, "vcpu-registers-digest", &regs_digest, error) ||
        !metadata_attr(host, "written", &written, error) ||
        !metadata_attr(host, "written-at", &written_at, error) ||
        !metadata_attr(host, "arch", &arch, error) ||
        !metadata_attr(host, "page-size", &page_size, error) ||
        !metadata_attr(host, "gicv4", &gicv4, error) ||
        !metadata_attr(host, "save-tables", &save_tables, error) ||
        !metadata_attr(host, "save-pending-tables", &save_pending_tables, error) ||
        !metadata_attr(host, "ctrl-reset", &ctrl_reset, error) ||
        !metadata_attr(host, "its-abi-revisions", &revisions, error))
        return FALSE;

    if (name && !host_name_valid(name))
        return bad_value(error, "<host> name", name,
                         "a host name of 1..255 bytes without control characters");
    if (written && !parse_written("<host> written", written, &m->written, error))
        return FALSE;
    if (written_at && !parse_time("<host> written-at", written_at, &m->written_at, error))
        return FALSE;
    if (arch && !arch_valid(arch))
        return bad_value(error, "<host> arch", arch,
                         "an architecture name of 1..64 letters, digits, '_', '-' or '.'");
    if (page_size && !parse_page_size("<host> page-size", page_size, &m->host_page_size, error))
        return FALSE;
    if (gicv4 && !parse_gicv4("<host> gicv4", gicv4, &m->host_gicv4, error))
        return FALSE;
    if (save_tables &&
        !parse_yes_no("<host> save-tables", save_tables, &m->host_save_tables, error))
        return FALSE;
    if (save_pending_tables && !parse_yes_no("<host> save-pending-tables", save_pending_tables,
                                             &m->host_save_pending_tables, error))
        return FALSE;
    if (ctrl_reset && !parse_yes_no("<host> ctrl-reset", ctrl_reset, &m->host_ctrl_reset, error))
        return FALSE;
    if (revisions &&
        !parse_revisions("<host> its-abi-revisions", revisions, &m->host_its_abi_revisions, error))
        return FALSE;
    /* The two go together: a count says nothing without the set it counts. */
    if (!regs_count != !regs_digest)
        return bad_value(error,
                         regs_count ? "<host> vcpu-registers" : "<host> vcpu-registers-digest",
                         regs_count ? regs_count : regs_digest,
                         "given together with vcpu-registers-digest (or vcpu-registers)");
    if (regs_digest) {
        guint64 n;

        if (!regs_digest_valid(regs_digest))
            return bad_value(error, "<host> vcpu-registers-digest", regs_digest,
                             "sha256: and 64 lowercase hex digits");
        if (!g_ascii_string_to_unsigned(regs_count, 10, 0, ITSMIG_KVM_REGS_MAX, &n, NULL))
            return bad_value(error, "<host> vcpu-registers", regs_count,
                             "a register count of 0..4096");
        m->host_regs_count = n;
        m->host_regs_digest = g_steal_pointer(&regs_digest);
    }
    m->host = g_steal_pointer(&name);
    m->host_arch = g_steal_pointer(&arch);
    return TRUE;
}

typedef enum {
    METADATA_ABI_REVISION,
    METADATA_GICD_REVISION,
    METADATA_STARTED,
    METADATA_RESET,
    METADATA_HOST,

    METADATA_CHILD_LAST
} MetadataChild;

static const char *const metadata_children[METADATA_CHILD_LAST] = {
    [METADATA_ABI_REVISION] = "abi-revision",
    [METADATA_GICD_REVISION] = "gicd-revision",
    [METADATA_STARTED] = "started",
    [METADATA_RESET] = "reset",
    [METADATA_HOST] = "host",
};

/* Children match by local name in any namespace: libvirt may give them back
 * with or without the prefix of the root. */
static gboolean read_metadata_record(xmlNodePtr root, ItsmigItsMetadata *m, GError **error)
{
    xmlNodePtr found[METADATA_CHILD_LAST] = {NULL};
    g_autofree char *version = NULL;
    g_autofree char *text = NULL;

    if (!metadata_attr(root, "version", &version, error))
        return FALSE;
    if (!version) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                            "itsmig metadata has no version attribute");
        return FALSE;
    }
    if (strcmp(version, "1") != 0) {
        g_autofree char *v = shown(version);

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "itsmig metadata version %s is not understood by this itsmig", v);
        return FALSE;
    }

    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        /* Elements this version does not know are a newer writer's: skipped. */
        for (guint i = 0; i < METADATA_CHILD_LAST; i++) {
            if (strcmp((const char *)c->name, metadata_children[i]) != 0)
                continue;
            if (found[i]) {
                g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                            "itsmig metadata: <%s> appears more than once", metadata_children[i]);
                return FALSE;
            }
            found[i] = c;
        }
    }

    if (found[METADATA_ABI_REVISION]) {
        text = metadata_text(found[METADATA_ABI_REVISION]);
        if (!parse_revision("<abi-revision>", text, &m->its_abi_revision, error))
            return FALSE;
        g_clear_pointer(&text, g_free);
    }
    if (found[METADATA_GICD_REVISION]) {
        text = metadata_text(found[METADATA_GICD_REVISION]);
        if (!parse_revision("<gicd-revision>", text, &m->gicd_revision, error))
            return FALSE;
        g_clear_pointer(&text, g_free);
    }
    if (found[METADATA_STARTED]) {
        text = metadata_text(found[METADATA_STARTED]);
        if (!parse_time("<started>", text, &m->started_at, error))
            return FALSE;
        g_clear_pointer(&text, g_free);
    }
    if (found[METADATA_RESET]) {
        text = metadata_text(found[METADATA_RESET]);
        if (!parse_time("<reset>", text, &m->reset_at, error))
            return FALSE;
        g_clear_pointer(&text, g_free);
    }
    if (found[METADATA_HOST] && !read_metadata_host(found[METADATA_HOST], m, error))
        return FALSE;
    return TRUE;
}

/* The root matches by namespace URI, whatever prefix (or none) it carries. */
static void read_metadata(ItsmigDomainProfile *p, xmlXPathContextPtr ctx)
{
    g_autoptr(GPtrArray) roots = xpath_nodes(ctx, NULL, METADATA_XPATH);
    g_autoptr(GError) error = NULL;
    ItsmigItsMetadata m;

    if (roots->len == 0)
        return;
    if (roots->len > 1) {
        p->metadata_error = g_strdup_printf("itsmig metadata appears %u times under <metadata> "
                                            "(<%s> in %s); there must be one",
                                            roots->len, ITSMIG_METADATA_ROOT, ITSMIG_METADATA_NS);
        return;
    }
    itsmig_its_metadata_init(&m);
    if (!read_metadata_record(g_ptr_array_index(roots, 0), &m, &error)) {
        itsmig_its_metadata_clear(&m);
        p->metadata_error = g_strdup(error->message);
        return;
    }
    p->metadata = m;
    p->has_metadata = TRUE;
}

gboolean itsmig_domain_profile_has_vfio(const ItsmigDomainProfile *p)
{
    g_return_val_if_fail(p != NULL, FALSE);

    /* libvirt picks VFIO when <driver> is left out, on every host it still supports. */
    for (guint i = 0; p->hostdevs && i < p->hostdevs->len; i++) {
        const ItsmigHostdev *h = g_ptr_array_index(p->hostdevs, i);

        if (!h->driver || strcmp(h->driver, "vfio") == 0)
            return TRUE;
    }
    return FALSE;
}

gboolean itsmig_domain_profile_its_in_kernel(const ItsmigDomainProfile *p)
{
    g_return_val_if_fail(p != NULL, FALSE);

    return g_strcmp0(p->type, "kvm") == 0;
}

/* ---- parsing --------------------------------------------------------------- */

typedef struct {
    gboolean saw_doctype;
} ParseGuard;

/* Every DOCTYPE is refused before its subset is read: libvirt never writes
 * one, and entities are the way to both expansion bombs and file reads. */
static void refuse_doctype(void *user_data, const xmlChar *name, const xmlChar *external_id,
                           const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = user_data;
    ParseGuard *guard = ctxt->_private;

    guard->saw_doctype = TRUE;
    xmlStopParser(ctxt);
}

static xmlDocPtr read_document(const char *xml, gsize len, GError **error)
{
    ParseGuard guard = {FALSE};
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    gboolean failed = TRUE;

    xml_init_once();
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                            "cannot allocate an XML parser");
        return NULL;
    }
    ctxt->_private = &guard;
    ctxt->sax->internalSubset = refuse_doctype;
    /* No XML_PARSE_NOENT (it would substitute entities), no DTDLOAD, no
     * XINCLUDE; NONET keeps the parser off the network whatever happens. */
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", "UTF-8",
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (guard.saw_doctype) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                            "domain XML must not have a DOCTYPE (DTDs and entities are refused)");
    } else if (!doc || !ctxt->wellFormed) {
        xmlErrorPtr err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(err && err->message ? err->message : "parse error");

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "domain XML is not well-formed: line %d: %s", err ? err->line : 0,
                    g_strstrip(g_strdelimit(msg, "\r\n", ' ')));
    } else {
        failed = FALSE;
    }
    if (failed && doc) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    ctxt->_private = NULL;
    xmlFreeParserCtxt(ctxt);
    return doc;
}

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

    doc = read_document(xml, size, error);
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

    p->name = xpath_text(ctx, NULL, "/domain/name");
    if (!p->name || !*p->name) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                            "domain XML has no <name>");
        return NULL;
    }
    p->uuid = xpath_text(ctx, NULL, "/domain/uuid");
    p->type = prop(root, "type");
    {
        xmlNodePtr os_type = xpath_node(ctx, NULL, "/domain/os/type");

        p->arch = prop(os_type, "arch");
        p->machine = prop(os_type, "machine");
    }
    p->gic_version = prop(xpath_node(ctx, NULL, "/domain/features/gic"), "version");

    if (!read_vcpus(p, ctx, error) || !read_hostdevs(p, ctx, error) ||
        !read_msi_devices(p, ctx, error))
        return NULL;
    decide_its(p, ctx);
    read_cpu_features(p, ctx);
    read_metadata(p, ctx);

    return g_steal_pointer(&p);
}

/* ---- JSON ------------------------------------------------------------------ */

static void add_int_or_null(JsonBuilder *b, const char *member, gboolean recorded, gint64 value)
{
    json_builder_set_member_name(b, member);
    if (recorded)
        json_builder_add_int_value(b, value);
    else
        json_builder_add_null_value(b);
}

/* -1 (unknown) is null. */
static void add_tristate_or_null(JsonBuilder *b, const char *member, int value)
{
    json_builder_set_member_name(b, member);
    if (value < 0)
        json_builder_add_null_value(b);
    else
        json_builder_add_boolean_value(b, value != 0);
}

static void add_time_or_null(JsonBuilder *b, const char *member, gint64 t)
{
    g_autofree char *s = format_time(t);

    itsmig_json_add_string_or_null(b, member, s);
}

static void metadata_to_json(const ItsmigItsMetadata *m, JsonBuilder *b)
{
    json_builder_begin_object(b);
    add_int_or_null(b, "its_abi_revision", m->its_abi_revision >= 0, m->its_abi_revision);
    add_int_or_null(b, "gicd_revision", m->gicd_revision >= 0, m->gicd_revision);
    add_time_or_null(b, "started_at", m->started_at);
    add_time_or_null(b, "reset_at", m->reset_at);

    json_builder_set_member_name(b, "host");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "name", m->host);
    itsmig_json_add_string_or_null(b, "written",
                                   written_valid(m->written) ? written_names[m->written] : NULL);
    add_time_or_null(b, "written_at", m->written_at);
    itsmig_json_add_string_or_null(b, "arch", m->host_arch);
    add_int_or_null(b, "page_size", m->host_page_size != 0, m->host_page_size);
    itsmig_json_add_string_or_null(
        b, "gicv4",
        m->host_gicv4 != ITSMIG_GICV4_UNKNOWN ? itsmig_gicv4_level_to_string(m->host_gicv4) : NULL);
    add_tristate_or_null(b, "save_tables", m->host_save_tables);
    add_tristate_or_null(b, "save_pending_tables", m->host_save_pending_tables);
    add_tristate_or_null(b, "ctrl_reset", m->host_ctrl_reset);
    json_builder_set_member_name(b, "its_abi_revisions");
    if (m->host_its_abi_revisions == 0) {
        json_builder_add_null_value(b);
    } else {
        json_builder_begin_array(b);
        for (guint i = 0; i <= METADATA_REVISION_MAX; i++) {
            if (m->host_its_abi_revisions & (1u << i))
                json_builder_add_int_value(b, i);
        }
        json_builder_end_array(b);
    }
    add_int_or_null(b, "vcpu_registers", m->host_regs_digest != NULL, m->host_regs_count);
    itsmig_json_add_string_or_null(b, "vcpu_registers_digest", m->host_regs_digest);
    json_builder_end_object(b);
    json_builder_end_object(b);
}

static void add_features(JsonBuilder *b, const char *member, guint32 features)
{
    json_builder_set_member_name(b, member);
    json_builder_begin_array(b);
    for (guint i = 0; i < G_N_ELEMENTS(cpu_features); i++) {
        if (features & cpu_features[i].bit)
            json_builder_add_string_value(b, itsmig_vcpu_feature_name(cpu_features[i].bit));
    }
    json_builder_end_array(b);
}

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
    add_features(b, "features_off", p->vcpu_features_off);
    add_features(b, "features_on", p->vcpu_features_on);
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
        add_tristate_or_null(b, "migratable", h->migratable);
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
        metadata_to_json(&p->metadata, b);
    else
        json_builder_add_null_value(b);
    itsmig_json_add_string_or_null(b, "its_metadata_error", p->metadata_error);
    json_builder_end_object(b);
}

char *itsmig_domain_device_xml(const char *xml, gssize len, const char *alias, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root, devices = NULL;

    g_return_val_if_fail(xml != NULL && alias != NULL, NULL);
    doc = read_document(xml, len < 0 ? strlen(xml) : (gsize)len, error);
    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    for (xmlNodePtr n = root ? root->children : NULL; n && !devices; n = n->next)
        if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "devices"))
            devices = n;
    for (xmlNodePtr dev = devices ? devices->children : NULL; dev; dev = dev->next) {
        if (dev->type != XML_ELEMENT_NODE)
            continue;
        for (xmlNodePtr c = dev->children; c; c = c->next) {
            g_autofree xmlChar *name = NULL;

            if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "alias"))
                continue;
            name = xmlGetProp(c, BAD_CAST "name");
            if (name && xmlStrEqual(name, BAD_CAST alias)) {
                xmlBufferPtr buf = xmlBufferCreate();
                char *text = NULL;

                if (buf && xmlNodeDump(buf, doc, dev, 0, 0) >= 0)
                    text = g_strdup((const char *)xmlBufferContent(buf));
                if (buf)
                    xmlBufferFree(buf);
                if (!text)
                    g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                                        "cannot serialise a device element");
                return text;
            }
        }
    }
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "the domain has no device '%s'",
                alias);
    return NULL;
}
