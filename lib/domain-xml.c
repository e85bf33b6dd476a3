/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading libvirt's domain XML with libxml2: a parser that refuses DTDs and
 * entities, attribute and XPath helpers, and a device's element by alias.
 */
#include "config.h"

#include <string.h>

#include "domain-xml.h"
#include "itsmig/error.h"

void itsmig_xml_init(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        xmlInitParser();
        g_once_init_leave(&done, 1);
    }
}

/* The attribute as a GLib string, NULL when absent. */
char *itsmig_xml_prop(xmlNodePtr node, const char *name)
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

gboolean itsmig_xml_prop_is(xmlNodePtr node, const char *name, const char *value)
{
    g_autofree char *v = itsmig_xml_prop(node, name);

    return v && strcmp(v, value) == 0;
}

/* Element nodes matching @expr, relative to @node (NULL: the document). */
GPtrArray *itsmig_xml_nodes(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
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

xmlNodePtr itsmig_xml_node(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
    g_autoptr(GPtrArray) nodes = itsmig_xml_nodes(ctx, node, expr);

    return nodes->len > 0 ? g_ptr_array_index(nodes, 0) : NULL;
}

/* The text of @node, stripped. */
char *itsmig_xml_node_text(xmlNodePtr node)
{
    xmlChar *v = xmlNodeGetContent(node);
    char *ret = g_strstrip(g_strdup(v ? (const char *)v : ""));

    xmlFree(v);
    return ret;
}

/* The text of the first element matching @expr, stripped; NULL when there is none. */
char *itsmig_xml_text(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr)
{
    xmlNodePtr n = itsmig_xml_node(ctx, node, expr);

    return n ? itsmig_xml_node_text(n) : NULL;
}

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

xmlDocPtr itsmig_xml_read_document(const char *xml, gsize len, const char *what, GError **error)
{
    ParseGuard guard = {FALSE};
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    gboolean failed = TRUE;

    itsmig_xml_init();
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
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "%s must not have a DOCTYPE (DTDs and entities are refused)", what);
    } else if (!doc || !ctxt->wellFormed) {
        xmlErrorPtr err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(err && err->message ? err->message : "parse error");

        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML,
                    "%s is not well-formed: line %d: %s", what, err ? err->line : 0,
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

char *itsmig_domain_device_xml(const char *xml, gssize len, const char *alias, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root, devices = NULL;

    g_return_val_if_fail(xml != NULL && alias != NULL, NULL);
    doc = itsmig_xml_read_document(xml, len < 0 ? strlen(xml) : (gsize)len, "domain XML", error);
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
