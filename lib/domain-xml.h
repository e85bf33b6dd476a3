/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What domain-xml.c, domain-profile.c and its-metadata.c share: libxml2
 * helpers for libvirt's domain XML, and the ITS metadata record's reader
 * and JSON, which the profile uses.
 */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "itsmig/domain-profile.h"

static inline void xpath_context_free(xmlXPathContextPtr ctx)
{
    xmlXPathFreeContext(ctx);
}

static inline void doc_free(xmlDocPtr doc)
{
    xmlFreeDoc(doc);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xpath_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, doc_free)

void itsmig_xml_init(void);
/* A parsed document, or an error (ITSMIG_ERROR_INVALID_DOMAIN_XML) naming
 * it as @what ("domain XML"); a DOCTYPE is refused. */
xmlDocPtr itsmig_xml_read_document(const char *xml, gsize len, const char *what, GError **error);
/* The attribute as a GLib string, NULL when absent (or @node is NULL). */
char *itsmig_xml_prop(xmlNodePtr node, const char *name);
gboolean itsmig_xml_prop_is(xmlNodePtr node, const char *name, const char *value);
/* Element nodes matching @expr, relative to @node (NULL: the document). */
GPtrArray *itsmig_xml_nodes(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr);
xmlNodePtr itsmig_xml_node(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr);
char *itsmig_xml_node_text(xmlNodePtr node);
char *itsmig_xml_text(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr);

/* The itsmig metadata of the domain into @p (metadata, or metadata_error). */
void itsmig_its_metadata_read(ItsmigDomainProfile *p, xmlXPathContextPtr ctx);
void itsmig_its_metadata_to_json(const ItsmigItsMetadata *m, JsonBuilder *b);
