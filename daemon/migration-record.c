/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "itsmig/error.h"
#include "daemon/migration-record.h"

/* A record holds a few device definitions; libvirt's own limits are larger. */
#define RECORD_MAX     (1024 * 1024)
#define RECORD_DEVICES 64

void itsmigd_migration_record_free(ItsmigdMigrationRecord *record)
{
    if (!record)
        return;
    g_free(record->job);
    g_free(record->peer_mac);
    if (record->aliases)
        g_ptr_array_unref(record->aliases);
    if (record->xmls)
        g_ptr_array_unref(record->xmls);
    g_free(record);
}

char *itsmigd_migration_mac(const char *token, const char *uuid, const char *job)
{
    g_autofree char *message = g_strdup_printf("itsmig-migration:%s:%s", uuid, job);

    return g_compute_hmac_for_string(G_CHECKSUM_SHA256, (const guchar *)token, strlen(token),
                                     message, -1);
}

/* g_markup_escape_text() leaves line ends and tabs as they are, which a
 * reader normalises (CR to LF anywhere, any of them to a space in an
 * attribute): as character references they are read back as written. */
static void append_escaped(GString *s, const char *text, gboolean attribute)
{
    g_autofree char *escaped = g_markup_escape_text(text, -1);

    for (const char *p = escaped; *p; p++) {
        if (*p == '\r')
            g_string_append(s, "&#13;");
        else if (attribute && *p == '\n')
            g_string_append(s, "&#10;");
        else if (attribute && *p == '\t')
            g_string_append(s, "&#9;");
        else
            g_string_append_c(s, *p);
    }
}

char *itsmigd_migration_record_to_xml(const char *job, const char *peer_mac,
                                      const GPtrArray *aliases, const GPtrArray *xmls)
{
    g_autoptr(GString) s = g_string_new(NULL);

    /* libvirt puts the element in ITSMIGD_MIGRATION_NS itself. */
    g_string_append(s, "<migration job=\"");
    append_escaped(s, job, TRUE);
    g_string_append(s, "\" peer-mac=\"");
    append_escaped(s, peer_mac, TRUE);
    g_string_append(s, "\">");
    for (guint i = 0; aliases && i < aliases->len; i++) {
        g_string_append(s, "<device alias=\"");
        append_escaped(s, g_ptr_array_index(aliases, i), TRUE);
        g_string_append(s, "\">");
        append_escaped(s, g_ptr_array_index(xmls, i), FALSE);
        g_string_append(s, "</device>");
    }
    g_string_append(s, "</migration>");
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static gboolean bad(GError **error, const char *why)
{
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                "the domain's migration record is unusable: %s", why);
    return FALSE;
}

/* libvirt hands the element back as it was given, without its namespace. */
static gboolean is_element(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && !strcmp((const char *)node->name, name);
}

static char *attr(xmlNodePtr node, const char *name)
{
    xmlChar *v = xmlGetProp(node, (const xmlChar *)name);
    char *copy = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return copy;
}

ItsmigdMigrationRecord *itsmigd_migration_record_parse(const char *xml, GError **error)
{
    g_autoptr(ItsmigdMigrationRecord) r = g_new0(ItsmigdMigrationRecord, 1);
    gsize len = xml ? strlen(xml) : 0;
    xmlDocPtr doc;
    xmlNodePtr root;
    gboolean ok = TRUE;

    if (len == 0 || len > RECORD_MAX)
        return bad(error, len ? "too large" : "empty"), NULL;
    /* No network, no entity expansion, no DTD: the text came with a guest. */
    doc = xmlReadMemory(xml, (int)len, "migration-record.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return bad(error, "not XML"), NULL;
    root = xmlDocGetRootElement(doc);
    r->aliases = g_ptr_array_new_with_free_func(g_free);
    r->xmls = g_ptr_array_new_with_free_func(g_free);
    if (!root || !is_element(root, "migration")) {
        ok = bad(error, "no migration element");
    } else {
        r->job = attr(root, "job");
        r->peer_mac = attr(root, "peer-mac");
        if (!r->job || !r->job[0] || !r->peer_mac)
            ok = bad(error, "no job or peer-mac");
        for (xmlNodePtr n = root->children; ok && n; n = n->next) {
            xmlChar *text;
            char *alias;

            if (n->type != XML_ELEMENT_NODE)
                continue;
            if (!is_element(n, "device") || r->aliases->len >= RECORD_DEVICES) {
                ok = bad(error, "an element other than up to 64 devices");
                break;
            }
            alias = attr(n, "alias");
            if (!alias || !alias[0]) {
                g_free(alias);
                ok = bad(error, "a device without alias");
                break;
            }
            /* The source records each detached device once: a second entry
             * would leave which XML gets attached to the order of lookup. */
            if (itsmigd_migration_record_device(r, alias)) {
                g_free(alias);
                ok = bad(error, "a device alias listed twice");
                break;
            }
            text = xmlNodeGetContent(n);
            g_ptr_array_add(r->aliases, alias);
            g_ptr_array_add(r->xmls, g_strdup(text ? (const char *)text : ""));
            xmlFree(text);
        }
    }
    xmlFreeDoc(doc);
    return ok ? g_steal_pointer(&r) : NULL;
}

const char *itsmigd_migration_record_device(const ItsmigdMigrationRecord *record, const char *alias)
{
    for (guint i = 0; i < record->aliases->len; i++)
        if (!strcmp(g_ptr_array_index(record->aliases, i), alias))
            return g_ptr_array_index(record->xmls, i);
    return NULL;
}
