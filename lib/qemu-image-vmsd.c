/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device sections of a QEMU migration stream, read by following the
 * vmstate description (JSON) that QEMU appends after the stream.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "qemu-image-private.h"

/* ---- device sections, following the vmstate description --------------------- */

typedef struct {
    gboolean its; /* inside arm_gicv3_its */
    gboolean gic; /* inside arm_gicv3 */
    int64_t cpu;  /* index of the arm_gicv3_cpu struct being read, or -1 */
} Capture;

static gboolean json_get_int(JsonObject *o, const char *member, gboolean required, int64_t max,
                             int64_t *ret, ItsmigQemuImage *img, GError **error)
{
    JsonNode *n = json_object_get_member(o, member);

    if (!n) {
        if (required)
            return itsmig_qemu_image_fail(
                img, img->r.pos, error, "the vmstate description lacks \"%s\" in an entry", member);
        *ret = -1;
        return TRUE;
    }
    if (json_node_get_value_type(n) != G_TYPE_INT64 || json_node_get_int(n) < 0 ||
        json_node_get_int(n) > max)
        return itsmig_qemu_image_fail(
            img, img->r.pos, error,
            "the vmstate description has \"%s\" out of range (0..%" PRId64 ")", member, max);
    *ret = json_node_get_int(n);
    return TRUE;
}

static JsonArray *json_get_array(JsonObject *o, const char *member, gboolean *ret_bad)
{
    JsonNode *n = json_object_get_member(o, member);

    *ret_bad = FALSE;
    if (!n)
        return NULL;
    if (!JSON_NODE_HOLDS_ARRAY(n)) {
        *ret_bad = TRUE;
        return NULL;
    }
    return json_node_get_array(n);
}

static gboolean capture_field(ItsmigQemuImage *img, const Capture *cap, const char *name,
                              int64_t size, int64_t count, GError **error)
{
    uint64_t at = img->r.pos;
    uint64_t *dst64 = NULL;
    uint32_t *dst32 = NULL;
    int64_t want_count = 1;

    if (cap->its) {
        if (strcmp(name, "ctlr") == 0)
            dst32 = &img->its.ctlr;
        else if (strcmp(name, "iidr") == 0)
            dst32 = &img->its.iidr;
        else if (strcmp(name, "cbaser") == 0)
            dst64 = &img->its.cbaser;
        else if (strcmp(name, "cwriter") == 0)
            dst64 = &img->its.cwriter;
        else if (strcmp(name, "creadr") == 0)
            dst64 = &img->its.creadr;
        else if (strcmp(name, "baser") == 0) {
            dst64 = img->its.baser;
            want_count = 8;
        }
    } else if (cap->gic && cap->cpu >= 0) {
        if (strcmp(name, "gicr_propbaser") == 0)
            dst64 = &img->propbasers[cap->cpu];
        else if (strcmp(name, "gicr_pendbaser") == 0)
            dst64 = &img->pendbasers[cap->cpu];
    }
    if (!dst32 && !dst64)
        return itsmig_qemu_image_skip(img, (uint64_t)size * (uint64_t)count, "a device field",
                                      error);
    if ((count < 0 ? 1 : count) != want_count || size != (dst32 ? 4 : 8))
        return itsmig_qemu_image_fail(img, at, error,
                                      "field '%s' has %" PRId64 " element(s) of %" PRId64
                                      " bytes, not %" PRId64 " of %d",
                                      name, count, size, want_count, dst32 ? 4 : 8);
    for (int64_t i = 0; i < want_count; i++) {
        if (dst32 && !itsmig_qemu_image_read_be32(img, &dst32[i], name, error))
            return FALSE;
        if (dst64 && !itsmig_qemu_image_read_be64(img, &dst64[i], name, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean walk_vmsd(ItsmigQemuImage *img, JsonObject *desc, Capture *cap, unsigned depth,
                          GError **error);

static gboolean walk_fields(ItsmigQemuImage *img, JsonObject *desc, Capture *cap, unsigned depth,
                            GError **error)
{
    gboolean bad;
    JsonArray *fields = json_get_array(desc, "fields", &bad);
    /* The next element of the GIC's array of redistributor structs.  QEMU writes an array
     * of structs that have subsections as one entry per element, each named after the
     * field; 7.2 gives every one its "index", 10.0 none to the last (an entry then
     * describes the elements left, and one is not an array), so the elements are counted
     * here and an "index" only checked. */
    int64_t next_cpu = 0;

    if (bad)
        return itsmig_qemu_image_fail(img, img->r.pos, error,
                                      "the vmstate description's \"fields\" is not a list");
    for (guint i = 0; fields && i < json_array_get_length(fields); i++) {
        JsonNode *fn = json_array_get_element(fields, i);
        JsonObject *f;
        const char *name, *type;
        int64_t size, count, index;

        if (!JSON_NODE_HOLDS_OBJECT(fn))
            return itsmig_qemu_image_fail(img, img->r.pos, error,
                                          "a vmstate field description is not an object");
        f = json_node_get_object(fn);
        name = itsmig_json_lookup_string(f, "name");
        type = itsmig_json_lookup_string(f, "type");
        if (!name || !type)
            return itsmig_qemu_image_fail(img, img->r.pos, error,
                                          "a vmstate field lacks its name or type");
        if (!json_get_int(f, "size", TRUE, INT32_MAX, &size, img, error) ||
            !json_get_int(f, "array_len", FALSE, INT32_MAX, &count, img, error) ||
            !json_get_int(f, "index", FALSE, INT32_MAX, &index, img, error))
            return FALSE;
        if (strcmp(type, "struct") == 0) {
            JsonNode *sn = json_object_get_member(f, "struct");
            int64_t n = count < 0 ? 1 : count;

            if (!sn || !JSON_NODE_HOLDS_OBJECT(sn))
                return itsmig_qemu_image_fail(img, img->r.pos, error,
                                              "struct field '%s' lacks its description", name);
            for (int64_t k = 0; k < n; k++) {
                Capture inner = *cap;

                inner.cpu = -1;
                if (cap->gic && depth == 0 && strcmp(name, "cpu") == 0) {
                    int64_t cpu = next_cpu++;

                    if (index >= 0 && k == 0 && index != cpu)
                        return itsmig_qemu_image_fail(
                            img, img->r.pos, error,
                            "the vmstate description numbers redistributor %" PRId64
                            " as element %" PRId64,
                            cpu, index);
                    if (cpu >= (int64_t)ITSMIG_QEMU_IMAGE_MAX_REDISTS)
                        return itsmig_qemu_image_fail(img, img->r.pos, error,
                                                      "more than %u redistributors",
                                                      ITSMIG_QEMU_IMAGE_MAX_REDISTS);
                    /* As many as the stream has (a few), not the most it may have. */
                    if ((size_t)cpu >= img->n_redists) {
                        size_t was = img->n_redists;

                        img->n_redists = (size_t)cpu + 1;
                        img->propbasers = g_renew(uint64_t, img->propbasers, img->n_redists);
                        img->pendbasers = g_renew(uint64_t, img->pendbasers, img->n_redists);
                        memset(img->propbasers + was, 0, (img->n_redists - was) * 8);
                        memset(img->pendbasers + was, 0, (img->n_redists - was) * 8);
                    }
                    inner.cpu = cpu;
                }
                if (!walk_vmsd(img, json_node_get_object(sn), &inner, depth + 1, error))
                    return FALSE;
            }
        } else if (!capture_field(img, cap, name, size, count < 0 ? 1 : count, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean walk_vmsd(ItsmigQemuImage *img, JsonObject *desc, Capture *cap, unsigned depth,
                          GError **error)
{
    gboolean bad;
    JsonArray *subs;
    Capture sub_cap = *cap;

    if (depth > VMSTATE_DEPTH_MAX)
        return itsmig_qemu_image_fail(img, img->r.pos, error, "vmstate structs nest deeper than %u",
                                      VMSTATE_DEPTH_MAX);
    if (!walk_fields(img, desc, cap, depth, error))
        return FALSE;
    subs = json_get_array(desc, "subsections", &bad);
    if (bad)
        return itsmig_qemu_image_fail(img, img->r.pos, error,
                                      "the vmstate description's \"subsections\" is not a list");
    /* Fields of subsections are not the device's own registers. */
    sub_cap.its = FALSE;
    for (guint i = 0; subs && i < json_array_get_length(subs); i++) {
        JsonNode *sn = json_array_get_element(subs, i);
        uint64_t at = img->r.pos;
        const char *vmsd_name;
        int64_t version;
        uint32_t wire_version;
        char name[257];
        uint8_t type;

        if (!JSON_NODE_HOLDS_OBJECT(sn))
            return itsmig_qemu_image_fail(img, at, error,
                                          "a subsection description is not an object");
        vmsd_name = itsmig_json_lookup_string(json_node_get_object(sn), "vmsd_name");
        if (!vmsd_name || !json_get_int(json_node_get_object(sn), "version", TRUE, UINT32_MAX,
                                        &version, img, error))
            return itsmig_qemu_image_fail(img, at, error,
                                          "a subsection description lacks its name or version");
        if (!itsmig_qemu_image_read_u8(img, &type, "a subsection marker", error))
            return FALSE;
        if (type != QEMU_VM_SUBSECTION)
            return itsmig_qemu_image_fail(
                img, at, error, "subsection '%s' expected, found byte 0x%02x", vmsd_name, type);
        if (!itsmig_qemu_image_read_counted_string(img, name, "a subsection name", error) ||
            !itsmig_qemu_image_read_be32(img, &wire_version, "a subsection version", error))
            return FALSE;
        if (strcmp(name, vmsd_name) != 0 || wire_version != (uint64_t)version)
            return itsmig_qemu_image_fail(img, at, error,
                                          "subsection '%s' version %" PRIu32
                                          " where the description has '%s' version %" PRId64,
                                          name, wire_version, vmsd_name, version);
        if (!walk_vmsd(img, json_node_get_object(sn), &sub_cap, depth + 1, error))
            return FALSE;
    }
    return TRUE;
}

static JsonObject *device_desc(ItsmigQemuImage *img, const char *idstr, uint32_t instance_id)
{
    for (guint i = 0; i < json_array_get_length(img->devices); i++) {
        JsonNode *n = json_array_get_element(img->devices, i);
        JsonObject *o;
        const char *name;
        JsonNode *inst;

        if (!JSON_NODE_HOLDS_OBJECT(n))
            continue;
        o = json_node_get_object(n);
        name = itsmig_json_lookup_string(o, "name");
        inst = json_object_get_member(o, "instance_id");
        if (name && strcmp(name, idstr) == 0 && inst &&
            json_node_get_value_type(inst) == G_TYPE_INT64 &&
            json_node_get_int(inst) == (gint64)instance_id)
            return o;
    }
    return NULL;
}

gboolean itsmig_qemu_image_read_device(ItsmigQemuImage *img, const char *idstr,
                                       uint32_t instance_id, uint32_t version_id, uint64_t at,
                                       GError **error)
{
    JsonObject *desc = device_desc(img, idstr, instance_id);
    Capture cap = {.cpu = -1};
    const char *vmsd_name;
    int64_t version;

    if (!desc)
        return itsmig_qemu_image_fail(img, at, error,
                                      "section '%s' instance %" PRIu32
                                      " is not in the vmstate description: its length is unknown",
                                      idstr, instance_id);
    vmsd_name = itsmig_json_lookup_string(desc, "vmsd_name");
    if (!vmsd_name)
        return itsmig_qemu_image_fail(img, at, error, "the description of '%s' lacks its vmsd_name",
                                      idstr);
    if (!json_get_int(desc, "version", TRUE, UINT32_MAX, &version, img, error))
        return FALSE;
    if ((uint64_t)version != version_id)
        return itsmig_qemu_image_fail(img, at, error,
                                      "section '%s' has version %" PRIu32
                                      ", its description version %" PRId64,
                                      idstr, version_id, version);
    if (strcmp(vmsd_name, "arm_gicv3_its") == 0) {
        if (img->its_present)
            return itsmig_qemu_image_fail(img, at, error,
                                          "more than one arm_gicv3_its: not supported");
        cap.its = TRUE;
        img->its_present = TRUE;
        img->its.instance_id = instance_id;
        img->its.version_id = version_id;
    } else if (strcmp(vmsd_name, "arm_gicv3") == 0) {
        if (img->gic_present)
            return itsmig_qemu_image_fail(img, at, error, "more than one arm_gicv3: not supported");
        cap.gic = TRUE;
        img->gic_present = TRUE;
    }
    return walk_vmsd(img, desc, &cap, 0, error);
}

/* ---- the vmstate description at the end --------------------------------------- */

/* Reads @len bytes at @offset, an error unless all of them come. */
static gboolean pread_full(ItsmigQemuImage *img, void *buf, size_t len, uint64_t offset,
                           GError **error)
{
    ssize_t n;

    do
        n = pread(img->r.fd, buf, len, (off_t)offset);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len)
        return itsmig_qemu_image_fail(img, offset, error, "cannot read: %s",
                                      n < 0 ? g_strerror(errno) : "short read");
    return TRUE;
}

/* Moves *@end back over the zero padding after the stream, read in blocks. */
static gboolean skip_zero_padding(ItsmigQemuImage *img, uint64_t start, uint64_t *end,
                                  GError **error)
{
    for (;;) {
        uint8_t blk[4096];
        size_t len = *end - start < sizeof(blk) ? (size_t)(*end - start) : sizeof(blk);
        size_t k;

        if (len == 0)
            return itsmig_qemu_image_fail(img, start, error, "the file holds no migration stream");
        if (img->r.size - *end > ITSMIG_QEMU_IMAGE_PAD_MAX)
            return itsmig_qemu_image_fail(img, *end, error,
                                          "more than %u zero bytes at the end of the file",
                                          ITSMIG_QEMU_IMAGE_PAD_MAX);
        if (!pread_full(img, blk, len, *end - len, error))
            return FALSE;
        for (k = len; k > 0 && blk[k - 1] == 0; k--)
            ;
        *end -= len - k;
        if (k > 0)
            return TRUE;
    }
}

/*
 * QEMU_VM_VMDESCRIPTION, a be32 length, then exactly that much JSON up to
 * the end: the only self-consistent place, searched from the end, from one
 * '{' to the one before it (memrchr, not byte by byte: the JSON is most of
 * what it passes).  The JSON's offset in @tail, 0 when there is none.
 */
static uint64_t locate_description(const uint8_t *tail, uint64_t tail_len)
{
    for (const uint8_t *q = tail + tail_len;
         tail_len > 5 && (q = memrchr(tail + 5, '{', (size_t)(q - (tail + 5))));) {
        uint64_t p = (uint64_t)(q - tail);
        uint32_t len;

        if (tail[p - 5] != QEMU_VM_VMDESCRIPTION)
            continue;
        len = (uint32_t)tail[p - 4] << 24 | (uint32_t)tail[p - 3] << 16 |
              (uint32_t)tail[p - 2] << 8 | tail[p - 1];
        if (len == tail_len - p)
            return p;
    }
    return 0;
}

/* Parses the vmstate description at file offset @json_off: its devices list. */
static gboolean load_description(ItsmigQemuImage *img, const char *json, uint64_t json_len,
                                 uint64_t json_off, GError **error)
{
    g_autoptr(GError) local = NULL;
    JsonNode *root, *devs, *ps;

    if (!itsmig_json_check(json, json_len, JSON_DEPTH_MAX, "the vmstate description", &local))
        return itsmig_qemu_image_fail(img, json_off, error, "%s", local->message);
    img->parser = json_parser_new();
    if (!json_parser_load_from_data(img->parser, json, (gssize)json_len, &local))
        return itsmig_qemu_image_fail(img, json_off, error, "the vmstate description: %s",
                                      local->message);
    root = json_parser_get_root(img->parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
        !(devs = json_object_get_member(json_node_get_object(root), "devices")) ||
        !JSON_NODE_HOLDS_ARRAY(devs))
        return itsmig_qemu_image_fail(img, json_off, error,
                                      "the vmstate description has no \"devices\" list");
    img->devices = json_node_get_array(devs);
    ps = json_object_get_member(json_node_get_object(root), "page_size");
    if (ps && (json_node_get_value_type(ps) != G_TYPE_INT64 || json_node_get_int(ps) < 1024 ||
               json_node_get_int(ps) > 65536))
        return itsmig_qemu_image_fail(img, json_off, error,
                                      "the vmstate description has a bad page_size");
    return TRUE;
}

gboolean itsmig_qemu_image_find_description(ItsmigQemuImage *img, uint64_t start, GError **error)
{
    uint64_t end = img->r.size, tail_len, p, json_off;
    g_autofree uint8_t *tail = NULL;

    if (!skip_zero_padding(img, start, &end, error))
        return FALSE;
    tail_len = end - start;
    if (tail_len > ITSMIG_QEMU_IMAGE_JSON_MAX + 5)
        tail_len = ITSMIG_QEMU_IMAGE_JSON_MAX + 5;
    tail = g_malloc(tail_len);
    if (!pread_full(img, tail, tail_len, end - tail_len, error))
        return FALSE;
    if (tail[tail_len - 1] != '}')
        return itsmig_qemu_image_fail(
            img, end - 1, error,
            "the stream does not end with QEMU's vmstate description (JSON); QEMU "
            "writes it unless the machine suppresses it");
    p = locate_description(tail, tail_len);
    if (!p)
        return itsmig_qemu_image_fail(
            img, end, error, "no vmstate description (JSON of at most %u bytes) ends the stream",
            ITSMIG_QEMU_IMAGE_JSON_MAX);
    json_off = end - tail_len + p;
    img->r.limit = json_off - 5;
    img->stats.stream_length = end - start;
    return load_description(img, (const char *)tail + p, tail_len - p, json_off, error);
}
