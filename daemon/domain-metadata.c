/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>
#include <libvirt/libvirt.h>

#include "itsmig/json-strict.h"
#include "daemon/domain-metadata.h"

#define HOOK_RECORD_MAX 4096

static gboolean uuid_valid(const char *uuid)
{
    /* 8-4-4-4-12 hex digits: safe to use as a file name. */
    if (strlen(uuid) != 36)
        return FALSE;
    for (int i = 0; i < 36; i++) {
        gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? uuid[i] != '-' : !g_ascii_isxdigit(uuid[i]))
            return FALSE;
    }
    return TRUE;
}

static gint64 member_time(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
        return 0;
    return MAX(json_node_get_int(n), 0);
}

/* The record file, read without following a symlink nor blocking on a FIFO
 * (this runs on the main loop and on HTTP threads); NULL when absent (no
 * problem) or unusable (*@ret_problem says why). */
static char *read_record(const char *path, gsize *ret_len, char **ret_problem)
{
    g_autofree char *text = g_malloc(HOOK_RECORD_MAX + 1);
    struct stat st;
    gsize len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        if (errno != ENOENT)
            *ret_problem = g_strdup_printf("cannot open %s: %s", path, g_strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *ret_problem = g_strdup_printf("%s is not a regular file", path);
        close(fd);
        return NULL;
    }
    while (len <= HOOK_RECORD_MAX) {
        ssize_t n = read(fd, text + len, HOOK_RECORD_MAX + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *ret_problem = g_strdup_printf("cannot read %s: %s", path, g_strerror(errno));
            close(fd);
            return NULL;
        }
        if (n == 0)
            break;
        len += n;
    }
    close(fd);
    if (len > HOOK_RECORD_MAX) {
        *ret_problem = g_strdup_printf("%s is larger than %d bytes", path, HOOK_RECORD_MAX);
        return NULL;
    }
    text[len] = '\0';
    *ret_len = len;
    return g_steal_pointer(&text);
}

void itsmigd_hook_record_parse(const char *text, gsize len, const char *path, const char *uuid,
                               ItsmigdHookRecord *ret_record, char **ret_problem)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    JsonObject *o;
    JsonNode *member;
    JsonNode *incoming;

    memset(ret_record, 0, sizeof(*ret_record));
    *ret_problem = NULL;
    if (!itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, path, &error) ||
        !json_parser_load_from_data(parser, text, len, &error) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        *ret_problem = g_strdup_printf("%s is not a JSON object%s%s", path, error ? ": " : "",
                                       error ? error->message : "");
        return;
    }
    o = json_node_get_object(json_parser_get_root(parser));
    member = json_object_get_member(o, "uuid");
    /* Typed by hand: GLib's getter warns on a member of another type. */
    if (!member || !JSON_NODE_HOLDS_VALUE(member) ||
        json_node_get_value_type(member) != G_TYPE_STRING ||
        g_strcmp0(json_node_get_string(member), uuid) != 0) {
        *ret_problem = g_strdup_printf("%s names another domain", path);
        return;
    }
    incoming = json_object_get_member(o, "incoming");
    if (!incoming || !JSON_NODE_HOLDS_VALUE(incoming) ||
        json_node_get_value_type(incoming) != G_TYPE_BOOLEAN) {
        *ret_problem = g_strdup_printf("%s has no boolean \"incoming\"", path);
        return;
    }
    ret_record->valid = TRUE;
    ret_record->incoming = json_node_get_boolean(incoming);
    ret_record->migrate_begin_at = member_time(o, "migrate_begin_at");
    ret_record->started_at = member_time(o, "started_at");
}

void itsmigd_hook_record_read(const char *dir, const char *uuid, ItsmigdHookRecord *ret_record,
                              char **ret_problem)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    gsize len = 0;

    memset(ret_record, 0, sizeof(*ret_record));
    *ret_problem = NULL;
    if (!dir || !uuid_valid(uuid))
        return;
    path = g_strdup_printf("%s/%s.json", dir, uuid);
    text = read_record(path, &len, ret_problem);
    if (!text)
        return;
    itsmigd_hook_record_parse(text, len, path, uuid, ret_record, ret_problem);
}

static void set_host(ItsmigItsMetadata *m, const ItsmigHostCaps *caps,
                     ItsmigMetadataWritten written, gint64 now)
{
    g_free(m->host);
    m->host = g_strdup(caps->hostname);
    m->written = written;
    m->written_at = now;
    g_free(m->host_arch);
    m->host_arch = caps->meta[ITSMIG_CAP_ARCH].source ? g_strdup(caps->arch) : NULL;
    m->host_page_size = caps->meta[ITSMIG_CAP_PAGE_SIZE].source ? caps->page_size : 0;
    m->host_gicv4 = caps->meta[ITSMIG_CAP_GICV4].source ? caps->gicv4 : ITSMIG_GICV4_UNKNOWN;
    m->host_save_tables = caps->meta[ITSMIG_CAP_SAVE_TABLES].source ? caps->save_tables : -1;
    m->host_save_pending_tables =
        caps->meta[ITSMIG_CAP_SAVE_PENDING_TABLES].source ? caps->save_pending_tables : -1;
    m->host_ctrl_reset = caps->meta[ITSMIG_CAP_CTRL_RESET].source ? caps->ctrl_reset : -1;
    m->host_its_abi_revisions =
        caps->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source ? caps->its_abi_revisions : 0;
    /* The guest's QEMU took this host's register list at start or arrival
     * and sends it on: the digest lets the next host find it. */
    g_free(m->host_regs_digest);
    m->host_regs_digest = g_strdup(caps->regs_digest);
    m->host_regs_count = caps->regs_digest ? caps->regs.n_regs : 0;
}

static void cold_start(ItsmigItsMetadata *m, const ItsmigHostCaps *caps, gint64 started, gint64 now)
{
    itsmig_its_metadata_init(m);
    /* QEMU never writes GITS_IIDR or GICD_IIDR on a fresh start: the guest
     * gets what this host's KVM gives a new VM. */
    m->its_abi_revision = caps->meta[ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION].source
                              ? (int)caps->default_its_abi_revision
                              : -1;
    m->gicd_revision = caps->meta[ITSMIG_CAP_GICD_REVISION].source ? (int)caps->gicd_revision : -1;
    m->started_at = started;
    set_host(m, caps, ITSMIG_METADATA_WRITTEN_START, now);
}

ItsmigdMetadataCause itsmigd_metadata_cause_of_start(int detail)
{
    switch (detail) {
    case VIR_DOMAIN_EVENT_STARTED_BOOTED:
    case VIR_DOMAIN_EVENT_STARTED_WAKEUP: return ITSMIGD_METADATA_COLD_START;
    case VIR_DOMAIN_EVENT_STARTED_MIGRATED:
    case VIR_DOMAIN_EVENT_STARTED_RESTORED:
    case VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT:
    default:
        /* Unknown details keep the record: overwriting a carried revision
         * with this host's default would hide the one the guest runs with. */
        return ITSMIGD_METADATA_ARRIVED;
    }
}

gboolean itsmigd_metadata_plan(const ItsmigDomainProfile *profile, ItsmigdMetadataCause cause,
                               const ItsmigHostCaps *caps, const ItsmigdHookRecord *hook,
                               gint64 now, ItsmigItsMetadata *ret_metadata)
{
    const ItsmigItsMetadata *have = profile->has_metadata ? &profile->metadata : NULL;

    itsmig_its_metadata_init(ret_metadata);
    if (profile->its == ITSMIG_ITS_ABSENT)
        return FALSE;

    switch (cause) {
    case ITSMIGD_METADATA_COLD_START: cold_start(ret_metadata, caps, now, now); return TRUE;
    case ITSMIGD_METADATA_ARRIVED:
        if (have)
            itsmig_its_metadata_copy(ret_metadata, have);
        set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_INCOMING, now);
        return TRUE;
    case ITSMIGD_METADATA_RESET:
        if (have)
            itsmig_its_metadata_copy(ret_metadata, have);
        else
            set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_ADOPTED, now);
        ret_metadata->reset_at = now;
        return TRUE;
    case ITSMIGD_METADATA_FOUND:
        if (have && g_strcmp0(have->host, caps->hostname) == 0) {
            /* A record from an itsmig without register digests: the guest's
             * QEMU has this host's list, since it started or arrived here. */
            if (have->host_regs_digest || !caps->regs_digest)
                return FALSE;
            itsmig_its_metadata_copy(ret_metadata, have);
            ret_metadata->host_regs_digest = g_strdup(caps->regs_digest);
            ret_metadata->host_regs_count = caps->regs.n_regs;
            return TRUE;
        }
        if (have) {
            itsmig_its_metadata_copy(ret_metadata, have);
            set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_INCOMING, now);
            return TRUE;
        }
        if (hook && hook->valid && !hook->incoming && hook->started_at > 0) {
            cold_start(ret_metadata, caps, hook->started_at, now);
            return TRUE;
        }
        set_host(ret_metadata, caps, ITSMIG_METADATA_WRITTEN_ADOPTED, now);
        return TRUE;
    case ITSMIGD_METADATA_CAUSE_LAST:
    default: break;
    }
    return FALSE;
}
