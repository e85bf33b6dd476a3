/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The machine types a host's QEMU offers: read from libvirt's capabilities
 * XML, checked, and looked up.
 */
#include "config.h"

#include <string.h>

#include "domain-xml.h"
#include "host-caps-private.h"
#include "itsmig/error.h"
#include "itsmig/host-caps.h"

gboolean host_caps_machine_name_ok(const char *name)
{
    gsize n = 0;

    for (const char *p = name; *p; p++, n++) {
        if (!g_ascii_isalnum(*p) && !strchr("._+-", *p))
            return FALSE;
    }
    return n > 0 && n <= ITSMIG_MACHINE_TYPE_NAME_MAX;
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **host_caps_machine_names_sorted(GPtrArray *names)
{
    GPtrArray *out = g_ptr_array_new();

    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);

        if (i == 0 || strcmp(name, g_ptr_array_index(names, i - 1)) != 0)
            g_ptr_array_add(out, g_strdup(name));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

void host_caps_machine_types_clear(ItsmigHostMachineTypes *m)
{
    g_clear_pointer(&m->reason, g_free);
    g_clear_pointer(&m->arch, g_free);
    g_clear_pointer(&m->emulator, g_free);
    g_clear_pointer(&m->names, g_strfreev);
    m->source = ITSMIG_CAP_UNKNOWN;
}

void itsmig_host_caps_set_machine_types_unknown(ItsmigHostCaps *caps, const char *reason)
{
    g_return_if_fail(caps != NULL);
    g_return_if_fail(reason != NULL);

    host_caps_machine_types_clear(&caps->machine_types);
    caps->machine_types.reason =
        host_caps_sanitize_reason(reason, strlen(reason), "the machine types are not known");
}

static gboolean add_name(GPtrArray *names, char *name, GError **error)
{
    if (!name || !host_caps_machine_name_ok(name)) {
        g_autofree char *shown = host_caps_for_message(name ? name : "");

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "libvirt's capabilities list a machine type '%s', not a name of at most %u "
                    "letters, digits and \"._+-\"",
                    shown, ITSMIG_MACHINE_TYPE_NAME_MAX);
        g_free(name);
        return FALSE;
    }
    g_ptr_array_add(names, name);
    return TRUE;
}

/* Each <machine> under @arch_node's emulator and its domain types, and each
 * one's canonical name: what a domain's <type machine=...> may say. */
static gboolean collect(xmlXPathContextPtr ctx, xmlNodePtr arch_node, GPtrArray *names,
                        GError **error)
{
    g_autoptr(GPtrArray) machines = itsmig_xml_nodes(ctx, arch_node, "machine | domain/machine");

    for (guint i = 0; machines && i < machines->len; i++) {
        xmlNodePtr m = g_ptr_array_index(machines, i);
        char *canonical = itsmig_xml_prop(m, "canonical");

        if (!add_name(names, itsmig_xml_node_text(m), error) ||
            (canonical && !add_name(names, g_steal_pointer(&canonical), error))) {
            g_free(canonical);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean machine_types_from_xml(const char *xml, gsize len, char **ret_arch,
                                       char **ret_emulator, GPtrArray *names, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(xmlXPathContext) ctx = NULL;
    g_autoptr(GPtrArray) guests = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *arch = NULL;
    g_autofree char *emulator = NULL;
    xmlNodePtr root;
    xmlNodePtr node;

    doc = itsmig_xml_read_document(xml, len, "libvirt's capabilities XML", &local);
    if (!doc) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, local->message);
        return FALSE;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "capabilities") != 0) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                            "libvirt's capabilities: the root element is not <capabilities>");
        return FALSE;
    }
    ctx = xmlXPathNewContext(doc);
    if (!ctx) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                            "cannot allocate an XPath context");
        return FALSE;
    }
    node = itsmig_xml_node(ctx, root, "host/cpu/arch");
    arch = node ? itsmig_xml_node_text(node) : NULL;
    if (!arch || !host_caps_machine_name_ok(arch)) {
        g_set_error_literal(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                            "libvirt's capabilities name no host architecture "
                            "(<host><cpu><arch>)");
        return FALSE;
    }
    guests = itsmig_xml_nodes(ctx, root, "guest[os_type='hvm']/arch");
    for (guint i = 0; guests && i < guests->len; i++) {
        xmlNodePtr a = g_ptr_array_index(guests, i);

        if (!itsmig_xml_prop_is(a, "name", arch))
            continue;
        if (!collect(ctx, a, names, error))
            return FALSE;
        if (!emulator)
            emulator = itsmig_xml_text(ctx, a, "emulator");
    }
    if (!names->len) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "libvirt's capabilities list no machine type for hvm guests of the host's "
                    "architecture %s: libvirt has no QEMU for it, or could not probe it",
                    arch);
        return FALSE;
    }
    if (emulator && host_caps_string_problem(emulator, STRING_MAX)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "libvirt's capabilities name an emulator for %s that is %s", arch,
                    host_caps_string_problem(emulator, STRING_MAX));
        return FALSE;
    }
    *ret_emulator = g_steal_pointer(&emulator);
    *ret_arch = g_steal_pointer(&arch);
    return TRUE;
}

gboolean itsmig_host_caps_set_machine_types_from_libvirt(ItsmigHostCaps *caps, const char *xml,
                                                         gsize len, GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) sorted = NULL;
    g_autofree char *arch = NULL;
    g_autofree char *emulator = NULL;

    g_return_val_if_fail(caps != NULL, FALSE);
    g_return_val_if_fail(xml != NULL, FALSE);

    if (!machine_types_from_xml(xml, len, &arch, &emulator, names, &local)) {
        itsmig_host_caps_set_machine_types_unknown(caps, local->message);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    sorted = host_caps_machine_names_sorted(names);
    if (g_strv_length(sorted) > ITSMIG_MACHINE_TYPES_MAX) {
        g_set_error(&local, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "libvirt's capabilities list %u machine types for %s, more than the %u the "
                    "host capabilities document carries",
                    g_strv_length(sorted), arch, ITSMIG_MACHINE_TYPES_MAX);
        itsmig_host_caps_set_machine_types_unknown(caps, local->message);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    host_caps_machine_types_clear(&caps->machine_types);
    caps->machine_types.source = ITSMIG_CAP_PROBED;
    caps->machine_types.arch = g_steal_pointer(&arch);
    caps->machine_types.emulator = g_steal_pointer(&emulator);
    caps->machine_types.names = g_steal_pointer(&sorted);
    return TRUE;
}

gboolean itsmig_host_caps_machine_type_known(const ItsmigHostCaps *caps, const char *arch,
                                             const char *emulator, const char *machine,
                                             gboolean *ret_offered)
{
    const ItsmigHostMachineTypes *m;

    g_return_val_if_fail(caps != NULL, FALSE);

    m = &caps->machine_types;
    if (m->source != ITSMIG_CAP_PROBED || !arch || !machine || g_strcmp0(m->arch, arch) != 0)
        return FALSE;
    /* Another QEMU binary offers machine types of its own. */
    if (emulator && m->emulator && strcmp(emulator, m->emulator) != 0)
        return FALSE;
    if (ret_offered)
        *ret_offered = g_strv_contains((const char *const *)m->names, machine);
    return TRUE;
}
