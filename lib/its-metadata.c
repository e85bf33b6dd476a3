/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ITS metadata record that itsmig keeps in a domain's <metadata>: its
 * XML, written and read back with every field checked, and its JSON.
 */
#include "config.h"

#include <string.h>

#include "domain-xml.h"
#include "itsmig/error.h"
#include "itsmig/json-strict.h"

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

    itsmig_xml_init();
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

/* One child of the record into @m; each is checked as the writer writes it. */
static gboolean read_metadata_child(MetadataChild child, xmlNodePtr node, ItsmigItsMetadata *m,
                                    GError **error)
{
    g_autofree char *what = g_strdup_printf("<%s>", metadata_children[child]);
    g_autofree char *text = NULL;

    switch (child) {
    case METADATA_ABI_REVISION:
    case METADATA_GICD_REVISION:
        text = itsmig_xml_node_text(node);
        return parse_revision(
            what, text, child == METADATA_ABI_REVISION ? &m->its_abi_revision : &m->gicd_revision,
            error);
    case METADATA_STARTED:
    case METADATA_RESET:
        text = itsmig_xml_node_text(node);
        return parse_time(what, text, child == METADATA_STARTED ? &m->started_at : &m->reset_at,
                          error);
    case METADATA_HOST: return read_metadata_host(node, m, error);
    case METADATA_CHILD_LAST: break;
    }
    return TRUE;
}

/* Children match by local name in any namespace: libvirt may give them back
 * with or without the prefix of the root. */
static gboolean read_metadata_record(xmlNodePtr root, ItsmigItsMetadata *m, GError **error)
{
    xmlNodePtr found[METADATA_CHILD_LAST] = {NULL};
    g_autofree char *version = NULL;

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

    for (guint i = 0; i < METADATA_CHILD_LAST; i++) {
        if (found[i] && !read_metadata_child(i, found[i], m, error))
            return FALSE;
    }
    return TRUE;
}

/* What itsmig_kvm_regs_digest() gives for a set of no registers. */
#define REGS_DIGEST_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* Clock skew between the host that wrote a record and the one reading it. */
#define METADATA_CLOCK_SKEW_S (24 * 60 * 60)

static gboolean contradiction(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static gboolean contradiction(GError **error, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_DOMAIN_XML, "itsmig metadata: %s", msg);
    return FALSE;
}

static gboolean verify_time(const char *what, gint64 t, gint64 now, GError **error)
{
    g_autofree char *when = NULL;

    if (!t || t <= now + METADATA_CLOCK_SKEW_S)
        return TRUE;
    when = format_time(t);
    return contradiction(error, "%s %s is more than a day after now", what, when);
}

gboolean itsmig_its_metadata_verify(const ItsmigItsMetadata *m, gint64 now, GError **error)
{
    g_return_val_if_fail(m != NULL, FALSE);

    if (m->its_abi_revision >= 0 && m->host_its_abi_revisions &&
        !(m->host_its_abi_revisions & (1u << m->its_abi_revision))) {
        g_autofree char *revs = format_revisions(m->host_its_abi_revisions);

        return contradiction(error,
                             "<abi-revision> %d is not among the ITS ABI revisions (%s) of "
                             "the host that wrote the record",
                             m->its_abi_revision, revs);
    }
    if (m->host_regs_digest &&
        (m->host_regs_count == 0) != (strcmp(m->host_regs_digest, REGS_DIGEST_EMPTY) == 0))
        return contradiction(error,
                             "<host> vcpu-registers-digest %s is not the digest of a list "
                             "of %u registers",
                             m->host_regs_digest, m->host_regs_count);
    return verify_time("<started>", m->started_at, now, error) &&
           verify_time("<reset>", m->reset_at, now, error) &&
           verify_time("<host> written-at", m->written_at, now, error);
}

/* The bytes @node takes when serialised. */
static gsize node_size(xmlNodePtr node)
{
    xmlBufferPtr buf = xml_alloc_check(xmlBufferCreate());
    gsize n = 0;

    if (xmlNodeDump(buf, node->doc, node, 0, 0) >= 0)
        n = xmlBufferLength(buf);
    xmlBufferFree(buf);
    return n;
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

/* The root matches by namespace URI, whatever prefix (or none) it carries. */
void itsmig_its_metadata_read(ItsmigDomainProfile *p, xmlXPathContextPtr ctx)
{
    g_autoptr(GPtrArray) roots = itsmig_xml_nodes(ctx, NULL, METADATA_XPATH);
    g_autoptr(GError) error = NULL;
    ItsmigItsMetadata m;
    gsize size;

    if (roots->len == 0)
        return;
    if (roots->len > 1) {
        p->metadata_error = g_strdup_printf("itsmig metadata appears %u times under <metadata> "
                                            "(<%s> in %s); there must be one",
                                            roots->len, ITSMIG_METADATA_ROOT, ITSMIG_METADATA_NS);
        return;
    }
    size = node_size(g_ptr_array_index(roots, 0));
    if (size > ITSMIG_METADATA_MAX) {
        p->metadata_error = g_strdup_printf("itsmig metadata is %" G_GSIZE_FORMAT " bytes, "
                                            "more than the %d a record may take",
                                            size, ITSMIG_METADATA_MAX);
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

/* ---- JSON ------------------------------------------------------------------ */

static void add_time_or_null(JsonBuilder *b, const char *member, gint64 t)
{
    g_autofree char *s = format_time(t);

    itsmig_json_add_string_or_null(b, member, s);
}

void itsmig_its_metadata_to_json(const ItsmigItsMetadata *m, JsonBuilder *b)
{
    json_builder_begin_object(b);
    itsmig_json_add_int_or_null(b, "its_abi_revision", m->its_abi_revision >= 0,
                                m->its_abi_revision);
    itsmig_json_add_int_or_null(b, "gicd_revision", m->gicd_revision >= 0, m->gicd_revision);
    add_time_or_null(b, "started_at", m->started_at);
    add_time_or_null(b, "reset_at", m->reset_at);

    json_builder_set_member_name(b, "host");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "name", m->host);
    itsmig_json_add_string_or_null(b, "written",
                                   written_valid(m->written) ? written_names[m->written] : NULL);
    add_time_or_null(b, "written_at", m->written_at);
    itsmig_json_add_string_or_null(b, "arch", m->host_arch);
    itsmig_json_add_int_or_null(b, "page_size", m->host_page_size != 0, m->host_page_size);
    itsmig_json_add_string_or_null(
        b, "gicv4",
        m->host_gicv4 != ITSMIG_GICV4_UNKNOWN ? itsmig_gicv4_level_to_string(m->host_gicv4) : NULL);
    itsmig_json_add_tristate_or_null(b, "save_tables", m->host_save_tables);
    itsmig_json_add_tristate_or_null(b, "save_pending_tables", m->host_save_pending_tables);
    itsmig_json_add_tristate_or_null(b, "ctrl_reset", m->host_ctrl_reset);
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
    itsmig_json_add_int_or_null(b, "vcpu_registers", m->host_regs_digest != NULL,
                                m->host_regs_count);
    itsmig_json_add_string_or_null(b, "vcpu_registers_digest", m->host_regs_digest);
    json_builder_end_object(b);
    json_builder_end_object(b);
}
