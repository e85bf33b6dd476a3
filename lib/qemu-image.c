/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QEMU migration streams and libvirt save images: see itsmig/qemu-image.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/qemu-image.h"

/* migration/savevm.c */
#define QEMU_VM_FILE_MAGIC     0x5145564du /* "QEVM" */
#define QEMU_VM_FILE_VERSION   3u
#define QEMU_VM_EOF            0x00
#define QEMU_VM_SECTION_START  0x01
#define QEMU_VM_SECTION_PART   0x02
#define QEMU_VM_SECTION_END    0x03
#define QEMU_VM_SECTION_FULL   0x04
#define QEMU_VM_SUBSECTION     0x05
#define QEMU_VM_VMDESCRIPTION  0x06
#define QEMU_VM_CONFIGURATION  0x07
#define QEMU_VM_COMMAND        0x08
#define QEMU_VM_SECTION_FOOTER 0x7e

/* migration/ram.c */
#define RAM_SAVE_FLAG_FULL          0x01 /* obsolete */
#define RAM_SAVE_FLAG_ZERO          0x02
#define RAM_SAVE_FLAG_MEM_SIZE      0x04
#define RAM_SAVE_FLAG_PAGE          0x08
#define RAM_SAVE_FLAG_EOS           0x10
#define RAM_SAVE_FLAG_CONTINUE      0x20
#define RAM_SAVE_FLAG_XBZRLE        0x40
#define RAM_SAVE_FLAG_HOOK          0x80
#define RAM_SAVE_FLAG_COMPRESS_PAGE 0x100
#define RAM_SAVE_FLAG_MULTIFD_FLUSH 0x200

/* libvirt src/qemu/qemu_saveimage.h */
#define LIBVIRT_SAVE_MAGIC       "LibvirtQemudSave"
#define LIBVIRT_SAVE_PARTIAL     "LibvirtQemudPart"
#define LIBVIRT_SAVE_HEADER_SIZE 92u /* magic[16], 5 x u32, unused u32[14] */
#define LIBVIRT_SAVE_VERSION_MAX 2u

/* arm's TARGET_PAGE_BITS_MIN: without the target-page-bits subsection the
 * page size is the smallest the target allows. */
#define ARM_TARGET_PAGE_BITS_MIN 10u
#define VMSTATE_DEPTH_MAX        16u
#define JSON_DEPTH_MAX           64u
#define READ_BUF_SIZE            (256u * 1024)

#define CHUNK_PAGES 512u

/* Pages of one 512-page stretch of a block: zero pages as bits, pages with
 * content as their file offset + 1 (0: not in the stream). */
typedef struct {
    uint64_t zero[CHUNK_PAGES / 64];
    uint64_t *offset;
} Chunk;

typedef struct {
    ItsmigQemuImageBlock pub;
    char *name;
    uint64_t n_pages;
    uint64_t n_chunks; /* of the block */
    /* Grown up to the last chunk a page record names, not allocated for the
     * whole block up front: the memory follows what the stream holds. */
    Chunk **chunks;
    uint64_t chunks_len;
} Block;

typedef struct {
    int fd;
    char *name;
    uint64_t size;  /* file size */
    uint64_t limit; /* reads stop here: the start of the vmstate description */
    uint64_t pos;
    uint8_t *buf;
    size_t buf_size;
    uint64_t buf_off;
    size_t buf_len;
} Reader;

struct ItsmigQemuImage {
    Reader r;
    ItsmigQemuImageFormat format;
    char *domain_xml;
    char *machine;
    uint32_t page_bits;
    gboolean page_bits_seen;
    gboolean ignore_shared;
    ItsmigQemuImageStats stats;

    Block *blocks; /* grown only while the RAM setup lists them */
    size_t n_blocks, blocks_size;
    Block *last_block; /* RAM_SAVE_FLAG_CONTINUE refers to it */
    uint64_t ram_total;
    gboolean ram_setup_done;
    uint32_t ram_section_id;
    gboolean ram_section_seen;

    JsonParser *parser;
    JsonArray *devices;

    gboolean its_present;
    ItsmigQemuImageIts its;
    gboolean gic_present;
    uint64_t *propbasers, *pendbasers; /* n_redists of them */
    size_t n_redists;

    /* guest memory reads */
    uint64_t cache_page_off; /* file offset of the cached page, 0 = none */
    uint8_t *cache;
    char *read_error;
    gboolean owns_fd;
};

/* ---- errors ---------------------------------------------------------------- */

static gboolean fail(ItsmigQemuImage *img, uint64_t offset, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean fail(ItsmigQemuImage *img, uint64_t offset, GError **error, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "%s: at byte %" PRIu64 ": %s",
                img->r.name, offset, msg);
    return FALSE;
}

/* ---- buffered reads within [0, limit) --------------------------------------- */

static gboolean reader_fill(ItsmigQemuImage *img, size_t need, const char *what, GError **error)
{
    Reader *r = &img->r;
    uint64_t avail = r->limit > r->pos ? r->limit - r->pos : 0;
    size_t want;
    ssize_t n;

    if (r->pos >= r->buf_off && r->pos + need <= r->buf_off + r->buf_len)
        return TRUE;
    if (avail < need)
        return fail(img, r->pos, error,
                    "the stream is truncated: %s needs %zu bytes, %" PRIu64 " are left", what, need,
                    avail);
    want = avail < r->buf_size ? (size_t)avail : r->buf_size;
    do
        n = pread(r->fd, r->buf, want, (off_t)r->pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail(img, r->pos, error, "cannot read: %s", g_strerror(errno));
    if ((size_t)n < need)
        return fail(img, r->pos, error, "the file shrank while being read");
    r->buf_off = r->pos;
    r->buf_len = (size_t)n;
    return TRUE;
}

static gboolean read_bytes(ItsmigQemuImage *img, void *dst, size_t n, const char *what,
                           GError **error)
{
    Reader *r = &img->r;

    if (n > r->buf_size)
        return fail(img, r->pos, error, "%s of %zu bytes is too large", what, n);
    if (!reader_fill(img, n, what, error))
        return FALSE;
    memcpy(dst, r->buf + (r->pos - r->buf_off), n);
    r->pos += n;
    return TRUE;
}

static gboolean skip_bytes(ItsmigQemuImage *img, uint64_t n, const char *what, GError **error)
{
    Reader *r = &img->r;

    if (n > r->limit - r->pos)
        return fail(img, r->pos, error,
                    "the stream is truncated: %s needs %" PRIu64 " bytes, %" PRIu64 " are left",
                    what, n, r->limit - r->pos);
    r->pos += n;
    return TRUE;
}

static gboolean read_u8(ItsmigQemuImage *img, uint8_t *ret, const char *what, GError **error)
{
    return read_bytes(img, ret, 1, what, error);
}

static gboolean read_be32(ItsmigQemuImage *img, uint32_t *ret, const char *what, GError **error)
{
    uint8_t b[4];

    if (!read_bytes(img, b, 4, what, error))
        return FALSE;
    *ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return TRUE;
}

static gboolean read_be64(ItsmigQemuImage *img, uint64_t *ret, const char *what, GError **error)
{
    uint8_t b[8];

    if (!read_bytes(img, b, 8, what, error))
        return FALSE;
    *ret = 0;
    for (int i = 0; i < 8; i++)
        *ret = *ret << 8 | b[i];
    return TRUE;
}

/* A string of a one-byte length, as qemu_put_counted_string() writes it;
 * @ret has room for 256 bytes.  Refuses an empty string and NUL bytes. */
static gboolean read_counted_string(ItsmigQemuImage *img, char *ret, const char *what,
                                    GError **error)
{
    uint64_t at = img->r.pos;
    uint8_t len;

    if (!read_u8(img, &len, what, error) || !read_bytes(img, ret, len, what, error))
        return FALSE;
    ret[len] = '\0';
    if (len == 0 || strlen(ret) != len)
        return fail(img, at, error, "%s is empty or holds a NUL byte", what);
    return TRUE;
}

/* ---- the page index ----------------------------------------------------------- */

static void block_clear(Block *b)
{
    for (uint64_t i = 0; i < b->chunks_len; i++) {
        if (b->chunks[i])
            g_free(b->chunks[i]->offset);
        g_free(b->chunks[i]);
    }
    g_free(b->chunks);
    g_free(b->name);
}

/* The chunk of @idx, or NULL when no record named a page of it. */
static inline Chunk *chunk_find(const Block *b, uint64_t idx)
{
    return idx / CHUNK_PAGES < b->chunks_len ? b->chunks[idx / CHUNK_PAGES] : NULL;
}

static Chunk *chunk_get(ItsmigQemuImage *img, Block *b, uint64_t page, gboolean with_offsets,
                        GError **error)
{
    uint64_t i = page / CHUNK_PAGES;
    Chunk **slot;

    if (i >= b->chunks_len) {
        uint64_t len = MAX(MAX(i + 1, b->chunks_len * 2), 16);

        len = MIN(len, b->n_chunks);
        if (img->stats.index_bytes + (len - b->chunks_len) * sizeof(Chunk *) >
            ITSMIG_QEMU_IMAGE_INDEX_MAX) {
            fail(img, img->r.pos, error,
                 "the RAM page index would need more than %u MiB: the image is too large",
                 ITSMIG_QEMU_IMAGE_INDEX_MAX >> 20);
            return NULL;
        }
        b->chunks = g_renew(Chunk *, b->chunks, len);
        memset(b->chunks + b->chunks_len, 0, (len - b->chunks_len) * sizeof(Chunk *));
        img->stats.index_bytes += (len - b->chunks_len) * sizeof(Chunk *);
        b->chunks_len = len;
    }
    slot = &b->chunks[i];
    if (!*slot) {
        if (img->stats.index_bytes + sizeof(Chunk) > ITSMIG_QEMU_IMAGE_INDEX_MAX) {
            fail(img, img->r.pos, error,
                 "the RAM page index would need more than %u MiB: the image is too fragmented",
                 ITSMIG_QEMU_IMAGE_INDEX_MAX >> 20);
            return NULL;
        }
        *slot = g_new0(Chunk, 1);
        img->stats.index_bytes += sizeof(Chunk);
    }
    if (with_offsets && !(*slot)->offset) {
        if (img->stats.index_bytes + CHUNK_PAGES * 8 > ITSMIG_QEMU_IMAGE_INDEX_MAX) {
            fail(img, img->r.pos, error,
                 "the RAM page index would need more than %u MiB: the image is too large",
                 ITSMIG_QEMU_IMAGE_INDEX_MAX >> 20);
            return NULL;
        }
        (*slot)->offset = g_new0(uint64_t, CHUNK_PAGES);
        img->stats.index_bytes += CHUNK_PAGES * 8;
    }
    return *slot;
}

static Block *block_find(ItsmigQemuImage *img, const char *name)
{
    for (size_t i = 0; i < img->n_blocks; i++)
        if (strcmp(img->blocks[i].name, name) == 0)
            return &img->blocks[i];
    return NULL;
}

/* ram_save_setup(): the total, then each block's name and used length. */
static gboolean ram_read_setup(ItsmigQemuImage *img, uint64_t first, GError **error)
{
    uint64_t page = UINT64_C(1) << img->page_bits;
    uint64_t left = first & ~(page - 1);
    uint64_t at = img->r.pos - 8;
    uint64_t tables = 0;

    if ((first & (page - 1)) != RAM_SAVE_FLAG_MEM_SIZE)
        return fail(img, at, error, "RAM setup: flags 0x%" PRIx64 " where MEM_SIZE belongs",
                    first & (page - 1));
    if (img->ram_setup_done)
        return fail(img, at, error, "RAM setup (MEM_SIZE) appears twice");
    if (left == 0 || left > ITSMIG_QEMU_IMAGE_RAM_MAX)
        return fail(img, at, error,
                    "RAM total of %" PRIu64 " bytes is out of range (1..%" PRIu64 ")", left,
                    ITSMIG_QEMU_IMAGE_RAM_MAX);
    img->ram_total = left;
    while (left > 0) {
        char name[257];
        uint64_t len, addr, n_chunks;
        Block *b;

        at = img->r.pos;
        if (img->n_blocks == ITSMIG_QEMU_IMAGE_MAX_BLOCKS)
            return fail(img, at, error, "more than %u RAM blocks", ITSMIG_QEMU_IMAGE_MAX_BLOCKS);
        if (!read_counted_string(img, name, "a RAM block name", error) ||
            !read_be64(img, &len, "a RAM block length", error))
            return FALSE;
        if (block_find(img, name))
            return fail(img, at, error, "RAM block '%s' is listed twice", name);
        if (len == 0 || len > left || len % page)
            return fail(img, at, error,
                        "RAM block '%s' has length %" PRIu64
                        " (the blocks left to list hold %" PRIu64 " bytes, pages are %" PRIu64 ")",
                        name, len, left, page);
        if (img->ignore_shared && !read_be64(img, &addr, "a RAM block address", error))
            return FALSE;
        n_chunks = (len / page + CHUNK_PAGES - 1) / CHUNK_PAGES;
        /* The chunk tables too are index, and may grow to this. */
        tables += n_chunks * sizeof(Chunk *);
        if (img->stats.index_bytes + tables > ITSMIG_QEMU_IMAGE_INDEX_MAX)
            return fail(img, at, error,
                        "the RAM page index would need more than %u MiB: the RAM blocks are "
                        "too large for %" PRIu64 "-byte pages",
                        ITSMIG_QEMU_IMAGE_INDEX_MAX >> 20, page);
        if (img->n_blocks == img->blocks_size) {
            img->blocks_size = img->blocks_size ? img->blocks_size * 2 : 4;
            img->blocks = g_renew(Block, img->blocks, img->blocks_size);
        }
        b = &img->blocks[img->n_blocks++];
        memset(b, 0, sizeof(*b));
        b->name = g_strdup(name);
        b->pub.name = b->name;
        b->pub.length = len;
        b->n_pages = len / page;
        b->n_chunks = n_chunks;
        left -= len;
    }
    img->ram_setup_done = TRUE;
    return TRUE;
}

/* The page records of one RAM section, up to RAM_SAVE_FLAG_EOS. */
static gboolean ram_read_section(ItsmigQemuImage *img, gboolean is_start, GError **error)
{
    uint64_t page = UINT64_C(1) << img->page_bits;
    gboolean first = TRUE;

    for (;;) {
        uint64_t at = img->r.pos, v, flags, addr, idx;
        Chunk *c;
        Block *b;

        if (img->r.pos >= img->r.buf_off && img->r.pos + 8 <= img->r.buf_off + img->r.buf_len) {
            /* the common case, without the general path's checks and copy */
            memcpy(&v, img->r.buf + (img->r.pos - img->r.buf_off), 8);
            v = GUINT64_FROM_BE(v);
            img->r.pos += 8;
        } else if (!read_be64(img, &v, "a RAM page record", error)) {
            return FALSE;
        }
        flags = v & (page - 1);
        addr = v & ~(page - 1);
        /* Zero pages of the current block: most of an idle guest's stream. */
        if (flags == (RAM_SAVE_FLAG_ZERO | RAM_SAVE_FLAG_CONTINUE) && img->last_block &&
            addr < img->last_block->pub.length &&
            img->r.pos + 1 <= img->r.buf_off + img->r.buf_len &&
            img->r.buf[img->r.pos - img->r.buf_off] == 0) {
            b = img->last_block;
            idx = addr >> img->page_bits;
            c = chunk_find(b, idx);
            if (c && !c->offset) {
                c->zero[(idx % CHUNK_PAGES) / 64] |= UINT64_C(1) << (idx % 64);
                b->pub.pages_zero++;
                img->stats.page_records++;
                img->r.pos++;
                continue;
            }
        }
        if (is_start && first && !img->ram_setup_done) {
            if (!ram_read_setup(img, v, error))
                return FALSE;
            first = FALSE;
            continue;
        }
        first = FALSE;
        if (flags == RAM_SAVE_FLAG_EOS && addr == 0)
            return TRUE;
        if (flags == RAM_SAVE_FLAG_MULTIFD_FLUSH && addr == 0)
            continue;
        if (!img->ram_setup_done)
            return fail(img, at, error, "RAM pages before the RAM setup");
        if (flags & RAM_SAVE_FLAG_XBZRLE)
            return fail(img, at, error,
                        "an XBZRLE-compressed page: images made with the xbzrle capability "
                        "are not supported");
        if (flags & RAM_SAVE_FLAG_COMPRESS_PAGE)
            return fail(img, at, error,
                        "a compressed page: images made with the compress capability are not "
                        "supported");
        if (flags & RAM_SAVE_FLAG_HOOK)
            return fail(img, at, error, "an RDMA hook record: RDMA streams are not supported");
        flags &= ~(uint64_t)RAM_SAVE_FLAG_CONTINUE;
        if (flags != RAM_SAVE_FLAG_ZERO && flags != RAM_SAVE_FLAG_PAGE)
            return fail(img, at, error, "RAM page record with invalid flags 0x%" PRIx64,
                        v & (page - 1));
        if (v & RAM_SAVE_FLAG_CONTINUE) {
            if (!img->last_block)
                return fail(img, at, error, "RAM page continues a block, but none was named");
            b = img->last_block;
        } else {
            char name[257];

            if (!read_counted_string(img, name, "a RAM block name", error))
                return FALSE;
            b = block_find(img, name);
            if (!b)
                return fail(img, at, error, "RAM page of unknown block '%s'", name);
            img->last_block = b;
        }
        if (addr >= b->pub.length)
            return fail(img, at, error,
                        "RAM page at offset 0x%" PRIx64 " is beyond block '%s' (%" PRIu64 " bytes)",
                        addr, b->name, b->pub.length);
        idx = addr >> img->page_bits;
        if (flags == RAM_SAVE_FLAG_ZERO) {
            uint8_t fill;

            if (!read_u8(img, &fill, "a zero page's fill byte", error))
                return FALSE;
            if (fill != 0)
                return fail(img, at, error, "zero page with fill byte 0x%02x (QEMU writes 0)",
                            fill);
            if (!(c = chunk_get(img, b, idx, FALSE, error)))
                return FALSE;
            c->zero[(idx % CHUNK_PAGES) / 64] |= UINT64_C(1) << (idx % 64);
            if (c->offset)
                c->offset[idx % CHUNK_PAGES] = 0;
            b->pub.pages_zero++;
        } else {
            if (!(c = chunk_get(img, b, idx, TRUE, error)))
                return FALSE;
            c->zero[(idx % CHUNK_PAGES) / 64] &= ~(UINT64_C(1) << (idx % 64));
            c->offset[idx % CHUNK_PAGES] = img->r.pos + 1;
            if (!skip_bytes(img, page, "a RAM page", error))
                return FALSE;
            b->pub.pages_data++;
        }
        img->stats.page_records++;
    }
}

/* ---- the configuration section ---------------------------------------------- */

static gboolean read_configuration(ItsmigQemuImage *img, GError **error)
{
    uint64_t at = img->r.pos;
    uint32_t len;
    g_autofree char *name = NULL;

    if (!read_be32(img, &len, "the machine name length", error))
        return FALSE;
    if (len == 0 || len > 256)
        return fail(img, at, error, "machine name of %" PRIu32 " bytes (1..256)", len);
    name = g_malloc0(len + 1);
    if (!read_bytes(img, name, len, "the machine name", error))
        return FALSE;
    if (strlen(name) != len || !g_utf8_validate(name, len, NULL))
        return fail(img, at, error, "the machine name is not text");
    img->machine = g_steal_pointer(&name);

    /* vmstate_configuration's subsections (savevm.c), in the order QEMU
     * sends them. */
    for (;;) {
        char sub[257];
        uint32_t version;
        uint8_t type;

        at = img->r.pos;
        if (!reader_fill(img, 1, "a section type", error))
            return FALSE;
        type = img->r.buf[img->r.pos - img->r.buf_off];
        if (type != QEMU_VM_SUBSECTION)
            return TRUE;
        img->r.pos++;
        if (!read_counted_string(img, sub, "a configuration subsection name", error) ||
            !read_be32(img, &version, "a subsection version", error))
            return FALSE;
        if (strcmp(sub, "configuration/target-page-bits") == 0) {
            uint32_t bits;

            if (!read_be32(img, &bits, "target-page-bits", error))
                return FALSE;
            if (bits < ARM_TARGET_PAGE_BITS_MIN || bits > 16)
                return fail(img, at, error, "target page bits %" PRIu32 " out of range (10..16)",
                            bits);
            img->page_bits = bits;
            img->page_bits_seen = TRUE;
        } else if (strcmp(sub, "configuration/capabilities") == 0) {
            uint32_t n;

            if (!read_be32(img, &n, "the capability count", error))
                return FALSE;
            if (n > 64)
                return fail(img, at, error, "%" PRIu32 " capabilities (at most 64)", n);
            for (uint32_t i = 0; i < n; i++) {
                char cap[257];

                if (!read_counted_string(img, cap, "a capability name", error))
                    return FALSE;
                if (strcmp(cap, "x-ignore-shared") == 0)
                    img->ignore_shared = TRUE;
                else if (strcmp(cap, "mapped-ram") == 0)
                    return fail(img, at, error,
                                "the stream uses the mapped-ram format (libvirt's "
                                "save_image_format \"sparse\" or parallel save), which this "
                                "reader does not support");
            }
        } else if (strcmp(sub, "configuration/uuid") == 0) {
            if (!skip_bytes(img, 16, "the VM UUID", error))
                return FALSE;
        } else {
            return fail(img, at, error, "unknown configuration subsection '%s'", sub);
        }
    }
}

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
            return fail(img, img->r.pos, error, "the vmstate description lacks \"%s\" in an entry",
                        member);
        *ret = -1;
        return TRUE;
    }
    if (json_node_get_value_type(n) != G_TYPE_INT64 || json_node_get_int(n) < 0 ||
        json_node_get_int(n) > max)
        return fail(img, img->r.pos, error,
                    "the vmstate description has \"%s\" out of range (0..%" PRId64 ")", member,
                    max);
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
        return skip_bytes(img, (uint64_t)size * (uint64_t)count, "a device field", error);
    if ((count < 0 ? 1 : count) != want_count || size != (dst32 ? 4 : 8))
        return fail(img, at, error,
                    "field '%s' has %" PRId64 " element(s) of %" PRId64 " bytes, not %" PRId64
                    " of %d",
                    name, count, size, want_count, dst32 ? 4 : 8);
    for (int64_t i = 0; i < want_count; i++) {
        if (dst32 && !read_be32(img, &dst32[i], name, error))
            return FALSE;
        if (dst64 && !read_be64(img, &dst64[i], name, error))
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

    if (bad)
        return fail(img, img->r.pos, error, "the vmstate description's \"fields\" is not a list");
    for (guint i = 0; fields && i < json_array_get_length(fields); i++) {
        JsonNode *fn = json_array_get_element(fields, i);
        JsonObject *f;
        const char *name, *type;
        int64_t size, count, index;

        if (!JSON_NODE_HOLDS_OBJECT(fn))
            return fail(img, img->r.pos, error, "a vmstate field description is not an object");
        f = json_node_get_object(fn);
        name = itsmig_json_lookup_string(f, "name");
        type = itsmig_json_lookup_string(f, "type");
        if (!name || !type)
            return fail(img, img->r.pos, error, "a vmstate field lacks its name or type");
        if (!json_get_int(f, "size", TRUE, INT32_MAX, &size, img, error) ||
            !json_get_int(f, "array_len", FALSE, INT32_MAX, &count, img, error) ||
            !json_get_int(f, "index", FALSE, INT32_MAX, &index, img, error))
            return FALSE;
        if (strcmp(type, "struct") == 0) {
            JsonNode *sn = json_object_get_member(f, "struct");
            int64_t n = count < 0 ? 1 : count;

            if (!sn || !JSON_NODE_HOLDS_OBJECT(sn))
                return fail(img, img->r.pos, error, "struct field '%s' lacks its description",
                            name);
            for (int64_t k = 0; k < n; k++) {
                Capture inner = *cap;

                inner.cpu = -1;
                if (cap->gic && depth == 0 && strcmp(name, "cpu") == 0) {
                    int64_t cpu = index >= 0 ? index : k;

                    if (cpu >= (int64_t)ITSMIG_QEMU_IMAGE_MAX_REDISTS)
                        return fail(img, img->r.pos, error, "more than %u redistributors",
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
        return fail(img, img->r.pos, error, "vmstate structs nest deeper than %u",
                    VMSTATE_DEPTH_MAX);
    if (!walk_fields(img, desc, cap, depth, error))
        return FALSE;
    subs = json_get_array(desc, "subsections", &bad);
    if (bad)
        return fail(img, img->r.pos, error,
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
            return fail(img, at, error, "a subsection description is not an object");
        vmsd_name = itsmig_json_lookup_string(json_node_get_object(sn), "vmsd_name");
        if (!vmsd_name || !json_get_int(json_node_get_object(sn), "version", TRUE, UINT32_MAX,
                                        &version, img, error))
            return fail(img, at, error, "a subsection description lacks its name or version");
        if (!read_u8(img, &type, "a subsection marker", error))
            return FALSE;
        if (type != QEMU_VM_SUBSECTION)
            return fail(img, at, error, "subsection '%s' expected, found byte 0x%02x", vmsd_name,
                        type);
        if (!read_counted_string(img, name, "a subsection name", error) ||
            !read_be32(img, &wire_version, "a subsection version", error))
            return FALSE;
        if (strcmp(name, vmsd_name) != 0 || wire_version != (uint64_t)version)
            return fail(img, at, error,
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

static gboolean read_device(ItsmigQemuImage *img, const char *idstr, uint32_t instance_id,
                            uint32_t version_id, uint64_t at, GError **error)
{
    JsonObject *desc = device_desc(img, idstr, instance_id);
    Capture cap = {.cpu = -1};
    const char *vmsd_name;
    int64_t version;

    if (!desc)
        return fail(img, at, error,
                    "section '%s' instance %" PRIu32
                    " is not in the vmstate description: its length is unknown",
                    idstr, instance_id);
    vmsd_name = itsmig_json_lookup_string(desc, "vmsd_name");
    if (!vmsd_name)
        return fail(img, at, error, "the description of '%s' lacks its vmsd_name", idstr);
    if (!json_get_int(desc, "version", TRUE, UINT32_MAX, &version, img, error))
        return FALSE;
    if ((uint64_t)version != version_id)
        return fail(img, at, error,
                    "section '%s' has version %" PRIu32 ", its description version %" PRId64, idstr,
                    version_id, version);
    if (strcmp(vmsd_name, "arm_gicv3_its") == 0) {
        if (img->its_present)
            return fail(img, at, error, "more than one arm_gicv3_its: not supported");
        cap.its = TRUE;
        img->its_present = TRUE;
        img->its.instance_id = instance_id;
        img->its.version_id = version_id;
    } else if (strcmp(vmsd_name, "arm_gicv3") == 0) {
        if (img->gic_present)
            return fail(img, at, error, "more than one arm_gicv3: not supported");
        cap.gic = TRUE;
        img->gic_present = TRUE;
    }
    return walk_vmsd(img, desc, &cap, 0, error);
}

/* ---- the vmstate description at the end --------------------------------------- */

static gboolean find_description(ItsmigQemuImage *img, uint64_t start, GError **error)
{
    Reader *r = &img->r;
    uint64_t end = r->size, tail_len, json_len = 0, json_off = 0;
    g_autofree uint8_t *tail = NULL;
    g_autoptr(GError) local = NULL;
    JsonNode *root, *devs;
    ssize_t n;

    /* Zero padding after the stream, in blocks. */
    for (;;) {
        uint8_t blk[4096];
        size_t len = end - start < sizeof(blk) ? (size_t)(end - start) : sizeof(blk);
        size_t k;

        if (len == 0)
            return fail(img, start, error, "the file holds no migration stream");
        if (r->size - end > ITSMIG_QEMU_IMAGE_PAD_MAX)
            return fail(img, end, error, "more than %u zero bytes at the end of the file",
                        ITSMIG_QEMU_IMAGE_PAD_MAX);
        do
            n = pread(r->fd, blk, len, (off_t)(end - len));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)len)
            return fail(img, end - len, error, "cannot read: %s",
                        n < 0 ? g_strerror(errno) : "short read");
        for (k = len; k > 0 && blk[k - 1] == 0; k--)
            ;
        end -= len - k;
        if (k > 0)
            break;
    }
    tail_len = end - start;
    if (tail_len > ITSMIG_QEMU_IMAGE_JSON_MAX + 5)
        tail_len = ITSMIG_QEMU_IMAGE_JSON_MAX + 5;
    tail = g_malloc(tail_len);
    do
        n = pread(r->fd, tail, tail_len, (off_t)(end - tail_len));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)tail_len)
        return fail(img, end - tail_len, error, "cannot read: %s",
                    n < 0 ? g_strerror(errno) : "short read");
    if (tail[tail_len - 1] != '}')
        return fail(img, end - 1, error,
                    "the stream does not end with QEMU's vmstate description (JSON); QEMU "
                    "writes it unless the machine suppresses it");
    /* QEMU_VM_VMDESCRIPTION, a be32 length, then exactly that much JSON up to
     * the end: the only self-consistent place, searched from the end, from
     * one '{' to the one before it (memrchr, not byte by byte: the JSON is
     * most of what it passes). */
    for (const uint8_t *q = tail + tail_len;
         tail_len > 5 && (q = memrchr(tail + 5, '{', (size_t)(q - (tail + 5))));) {
        uint64_t p = (uint64_t)(q - tail);
        uint32_t len;

        if (tail[p - 5] != QEMU_VM_VMDESCRIPTION)
            continue;
        len = (uint32_t)tail[p - 4] << 24 | (uint32_t)tail[p - 3] << 16 |
              (uint32_t)tail[p - 2] << 8 | tail[p - 1];
        if (len == tail_len - p) {
            json_off = end - tail_len + p;
            json_len = len;
            break;
        }
    }
    if (!json_len)
        return fail(img, end, error,
                    "no vmstate description (JSON of at most %u bytes) ends the stream",
                    ITSMIG_QEMU_IMAGE_JSON_MAX);
    r->limit = json_off - 5;
    img->stats.stream_length = end - start;
    if (!itsmig_json_check((const char *)tail + (json_off - (end - tail_len)), json_len,
                           JSON_DEPTH_MAX, "the vmstate description", &local))
        return fail(img, json_off, error, "%s", local->message);
    img->parser = json_parser_new();
    if (!json_parser_load_from_data(img->parser, (const char *)tail + (json_off - (end - tail_len)),
                                    (gssize)json_len, &local))
        return fail(img, json_off, error, "the vmstate description: %s", local->message);
    root = json_parser_get_root(img->parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
        !(devs = json_object_get_member(json_node_get_object(root), "devices")) ||
        !JSON_NODE_HOLDS_ARRAY(devs))
        return fail(img, json_off, error, "the vmstate description has no \"devices\" list");
    img->devices = json_node_get_array(devs);
    {
        JsonNode *ps = json_object_get_member(json_node_get_object(root), "page_size");

        if (ps && (json_node_get_value_type(ps) != G_TYPE_INT64 || json_node_get_int(ps) < 1024 ||
                   json_node_get_int(ps) > 65536))
            return fail(img, json_off, error, "the vmstate description has a bad page_size");
    }
    return TRUE;
}

/* ---- the stream ---------------------------------------------------------------- */

static gboolean read_footer(ItsmigQemuImage *img, uint32_t section_id, const char *idstr,
                            GError **error)
{
    uint64_t at = img->r.pos;
    uint8_t type;
    uint32_t id;

    if (!read_u8(img, &type, "a section footer", error))
        return FALSE;
    if (type != QEMU_VM_SECTION_FOOTER)
        return fail(img, at, error,
                    "section %" PRIu32 " ('%s') does not end where its description says "
                    "(byte 0x%02x, not the footer)",
                    section_id, idstr, type);
    if (!read_be32(img, &id, "a section footer", error))
        return FALSE;
    if (id != section_id)
        return fail(img, at, error, "the footer of section %" PRIu32 " names section %" PRIu32,
                    section_id, id);
    return TRUE;
}

static gboolean read_stream(ItsmigQemuImage *img, uint64_t start, GError **error)
{
    uint32_t magic, version;
    gboolean config_seen = FALSE;

    img->r.pos = start;
    if (!read_be32(img, &magic, "the stream magic", error) ||
        !read_be32(img, &version, "the stream version", error))
        return FALSE;
    if (magic != QEMU_VM_FILE_MAGIC)
        return fail(img, start, error, "not a QEMU migration stream (magic 0x%08" PRIx32 ")",
                    magic);
    if (version != QEMU_VM_FILE_VERSION)
        return fail(img, start + 4, error, "stream version %" PRIu32 " (only %u is read)", version,
                    QEMU_VM_FILE_VERSION);
    img->page_bits = ARM_TARGET_PAGE_BITS_MIN;
    for (;;) {
        uint64_t at = img->r.pos;
        uint32_t section_id, instance_id, sversion;
        char idstr[257];
        uint8_t type;

        if (!read_u8(img, &type, "a section type", error))
            return FALSE;
        switch (type) {
        case QEMU_VM_EOF:
            if (img->r.pos != img->r.limit)
                return fail(img, at, error,
                            "the end marker is not followed by the vmstate description");
            return TRUE;
        case QEMU_VM_CONFIGURATION:
            if (config_seen || img->stats.sections)
                return fail(img, at, error, "a configuration section after the first section");
            config_seen = TRUE;
            if (!read_configuration(img, error))
                return FALSE;
            break;
        case QEMU_VM_SECTION_START:
        case QEMU_VM_SECTION_FULL:
            if (!read_be32(img, &section_id, "a section id", error) ||
                !read_counted_string(img, idstr, "a section name", error) ||
                !read_be32(img, &instance_id, "an instance id", error) ||
                !read_be32(img, &sversion, "a version id", error))
                return FALSE;
            if (strcmp(idstr, "ram") == 0) {
                if (type != QEMU_VM_SECTION_START || img->ram_section_seen)
                    return fail(img, at, error, "a second or non-iterative 'ram' section");
                if (sversion != 4)
                    return fail(img, at, error, "'ram' section version %" PRIu32 " (4 is read)",
                                sversion);
                img->ram_section_seen = TRUE;
                img->ram_section_id = section_id;
                if (!ram_read_section(img, TRUE, error))
                    return FALSE;
            } else if (type == QEMU_VM_SECTION_START) {
                return fail(img, at, error,
                            "iterative section '%s' is not supported (only RAM is read)", idstr);
            } else if (!read_device(img, idstr, instance_id, sversion, at, error)) {
                return FALSE;
            }
            if (!read_footer(img, section_id, idstr, error))
                return FALSE;
            img->stats.sections++;
            break;
        case QEMU_VM_SECTION_PART:
        case QEMU_VM_SECTION_END:
            if (!read_be32(img, &section_id, "a section id", error))
                return FALSE;
            if (!img->ram_section_seen || section_id != img->ram_section_id)
                return fail(img, at, error, "continuation of unknown section %" PRIu32, section_id);
            if (!ram_read_section(img, FALSE, error) || !read_footer(img, section_id, "ram", error))
                return FALSE;
            img->stats.sections++;
            break;
        case QEMU_VM_COMMAND:
            return fail(img, at, error,
                        "a migration command (postcopy or return path): not a precopy stream");
        default: return fail(img, at, error, "unknown section type 0x%02x", type);
        }
    }
}

/* ---- libvirt's save image header --------------------------------------------------- */

static const char *libvirt_compression_name(uint32_t c)
{
    /* virQEMUSaveFormat */
    static const char *const names[] = {"raw", "gzip", "bzip2", "xz", "lzop", "zstd", "sparse"};

    return c < G_N_ELEMENTS(names) ? names[c] : NULL;
}

static uint32_t header_u32(const uint8_t *h, size_t off, gboolean big_endian)
{
    uint32_t v;

    memcpy(&v, h + off, 4);
    return big_endian ? GUINT32_FROM_BE(v) : GUINT32_FROM_LE(v);
}

static gboolean read_libvirt_header(ItsmigQemuImage *img, uint64_t *ret_start, GError **error)
{
    uint8_t h[LIBVIRT_SAVE_HEADER_SIZE];
    uint32_t version, data_len, compressed;
    const char *comp;
    gboolean swap;

    if (!read_bytes(img, h, sizeof(h), "libvirt's save image header", error))
        return FALSE;
    if (memcmp(h, LIBVIRT_SAVE_PARTIAL, 16) == 0)
        return fail(img, 0, error,
                    "an incomplete libvirt save image (magic " LIBVIRT_SAVE_PARTIAL
                    "): the save did not finish");
    /* The header is in the saving host's byte order; libvirt swaps it when
     * the version only makes sense swapped. */
    version = header_u32(h, 16, FALSE);
    swap = version > LIBVIRT_SAVE_VERSION_MAX;
    version = header_u32(h, 16, swap);
    data_len = header_u32(h, 20, swap);
    compressed = header_u32(h, 28, swap);
    if (version < 1 || version > LIBVIRT_SAVE_VERSION_MAX)
        return fail(img, 16, error, "libvirt save image version %" PRIu32 " (1..%u are read)",
                    version, LIBVIRT_SAVE_VERSION_MAX);
    comp = libvirt_compression_name(compressed);
    if (compressed != 0)
        return fail(img, 28, error,
                    "the libvirt save image is compressed with %s (qemu.conf "
                    "save_image_format): decompress it first (only raw images are read)",
                    comp ? comp : "an unknown format");
    if (data_len == 0 || data_len > ITSMIG_QEMU_IMAGE_XML_MAX)
        return fail(img, 20, error, "domain XML area of %" PRIu32 " bytes (1..%u)", data_len,
                    ITSMIG_QEMU_IMAGE_XML_MAX);
    if ((uint64_t)data_len > img->r.size - LIBVIRT_SAVE_HEADER_SIZE)
        return fail(img, 20, error, "domain XML area of %" PRIu32 " bytes beyond the file",
                    data_len);
    {
        g_autofree char *xml = g_malloc(data_len + 1);
        ssize_t n;

        do
            n = pread(img->r.fd, xml, data_len, LIBVIRT_SAVE_HEADER_SIZE);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)data_len)
            return fail(img, LIBVIRT_SAVE_HEADER_SIZE, error, "cannot read the domain XML");
        xml[data_len] = '\0';
        if (strlen(xml) == 0 || !g_utf8_validate(xml, -1, NULL) ||
            !g_str_has_prefix(xml, "<domain"))
            return fail(img, LIBVIRT_SAVE_HEADER_SIZE, error,
                        "the libvirt save image does not start with a domain XML");
        img->domain_xml = g_strdup(xml);
    }
    *ret_start = LIBVIRT_SAVE_HEADER_SIZE + (uint64_t)data_len;
    return TRUE;
}

/* ---- open / free ----------------------------------------------------------------- */

ItsmigQemuImage *itsmig_qemu_image_open_fd(int fd, const char *name, GError **error)
{
    g_autoptr(ItsmigQemuImage) img = g_new0(ItsmigQemuImage, 1);
    uint8_t magic[16];
    uint64_t start = 0;
    struct stat st;
    ssize_t n;

    img->r.fd = -1;
    img->r.name = g_strdup(name);
    if (fstat(fd, &st) < 0) {
        fail(img, 0, error, "cannot stat: %s", g_strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(img, 0, error, "not a regular file (write a stream with \"exec:cat > FILE\")");
        return NULL;
    }
    img->r.fd = fd;
    img->r.size = img->r.limit = (uint64_t)st.st_size;
    /* small files (the fuzzer's) get a small buffer */
    img->r.buf_size = img->r.size < READ_BUF_SIZE ? MAX((size_t)img->r.size, 4096) : READ_BUF_SIZE;
    img->r.buf = g_malloc(img->r.buf_size);
    img->stats.file_size = img->r.size;
    do
        n = pread(fd, magic, sizeof(magic), 0);
    while (n < 0 && errno == EINTR);
    if (n == sizeof(magic) && (memcmp(magic, LIBVIRT_SAVE_MAGIC, 16) == 0 ||
                               memcmp(magic, LIBVIRT_SAVE_PARTIAL, 16) == 0)) {
        img->format = ITSMIG_QEMU_IMAGE_LIBVIRT;
        if (!read_libvirt_header(img, &start, error))
            goto fail;
    } else if (n < 8) {
        fail(img, 0, error, "too short for a migration stream (%" PRIu64 " bytes)", img->r.size);
        goto fail;
    }
    img->stats.stream_offset = start;
    if (!find_description(img, start, error) || !read_stream(img, start, error))
        goto fail;
    if (!img->ram_setup_done) {
        fail(img, img->r.pos, error, "the stream has no RAM");
        goto fail;
    }
    img->cache = g_malloc(UINT64_C(1) << img->page_bits);
    return g_steal_pointer(&img);
fail:
    img->r.fd = -1;
    return NULL;
}

ItsmigQemuImage *itsmig_qemu_image_open(const char *path, GError **error)
{
    ItsmigQemuImage *img;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "%s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    img = itsmig_qemu_image_open_fd(fd, path, error);
    if (!img) {
        close(fd);
        return NULL;
    }
    img->owns_fd = TRUE;
    return img;
}

void itsmig_qemu_image_free(ItsmigQemuImage *img)
{
    if (!img)
        return;
    if (img->owns_fd && img->r.fd >= 0)
        close(img->r.fd);
    for (size_t i = 0; i < img->n_blocks; i++)
        block_clear(&img->blocks[i]);
    g_free(img->blocks);
    if (img->parser)
        g_object_unref(img->parser);
    g_free(img->r.buf);
    g_free(img->r.name);
    g_free(img->domain_xml);
    g_free(img->machine);
    g_free(img->propbasers);
    g_free(img->pendbasers);
    g_free(img->cache);
    g_free(img->read_error);
    g_free(img);
}

/* ---- accessors ---------------------------------------------------------------------- */

ItsmigQemuImageFormat itsmig_qemu_image_get_format(const ItsmigQemuImage *img)
{
    return img->format;
}

const char *itsmig_qemu_image_get_domain_xml(const ItsmigQemuImage *img)
{
    return img->domain_xml;
}

const char *itsmig_qemu_image_get_machine(const ItsmigQemuImage *img)
{
    return img->machine;
}

uint32_t itsmig_qemu_image_get_page_size(const ItsmigQemuImage *img)
{
    return UINT32_C(1) << img->page_bits;
}

void itsmig_qemu_image_get_stats(const ItsmigQemuImage *img, ItsmigQemuImageStats *ret)
{
    *ret = img->stats;
}

const ItsmigQemuImageIts *itsmig_qemu_image_get_its(const ItsmigQemuImage *img)
{
    return img->its_present ? &img->its : NULL;
}

size_t itsmig_qemu_image_get_n_redists(const ItsmigQemuImage *img)
{
    return img->n_redists;
}

const uint64_t *itsmig_qemu_image_get_propbasers(const ItsmigQemuImage *img)
{
    return img->propbasers;
}

const uint64_t *itsmig_qemu_image_get_pendbasers(const ItsmigQemuImage *img)
{
    return img->pendbasers;
}

size_t itsmig_qemu_image_get_n_blocks(const ItsmigQemuImage *img)
{
    return img->n_blocks;
}

const ItsmigQemuImageBlock *itsmig_qemu_image_get_block(const ItsmigQemuImage *img, size_t i)
{
    return i < img->n_blocks ? &img->blocks[i].pub : NULL;
}

gboolean itsmig_qemu_image_map_block(ItsmigQemuImage *img, const char *name, uint64_t gpa,
                                     GError **error)
{
    Block *b = block_find(img, name);

    if (!b) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: no RAM block '%s' in the image", img->r.name, name);
        return FALSE;
    }
    if (gpa % itsmig_qemu_image_get_page_size(img) || gpa + b->pub.length < gpa) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "RAM block '%s' cannot be placed at 0x%" PRIx64, name, gpa);
        return FALSE;
    }
    for (size_t i = 0; i < img->n_blocks; i++) {
        const Block *o = &img->blocks[i];

        if (o == b || !o->pub.mapped)
            continue;
        if (gpa < o->pub.gpa + o->pub.length && o->pub.gpa < gpa + b->pub.length) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "RAM block '%s' at 0x%" PRIx64 " overlaps block '%s'", name, gpa, o->name);
            return FALSE;
        }
    }
    b->pub.gpa = gpa;
    b->pub.mapped = TRUE;
    return TRUE;
}

gboolean itsmig_qemu_image_map_default(ItsmigQemuImage *img, GError **error)
{
    if (!img->machine || !g_str_has_prefix(img->machine, "virt")) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: machine '%s' is not QEMU's virt machine: say where its RAM blocks lie",
                    img->r.name, img->machine ? img->machine : "unknown");
        return FALSE;
    }
    if (!itsmig_qemu_image_map_block(img, ITSMIG_QEMU_VIRT_RAM_BLOCK, ITSMIG_QEMU_VIRT_RAM_BASE,
                                     error))
        return FALSE;
    /* The flash banks are guest memory too (KVM maps them read-only), and a
     * guest may put tables there (tests/nested/its-fault.c does). */
    if (block_find(img, "virt.flash0") &&
        !itsmig_qemu_image_map_block(img, "virt.flash0", ITSMIG_QEMU_VIRT_FLASH0_BASE, error))
        return FALSE;
    if (block_find(img, "virt.flash1") &&
        !itsmig_qemu_image_map_block(img, "virt.flash1", ITSMIG_QEMU_VIRT_FLASH1_BASE, error))
        return FALSE;
    return TRUE;
}

/* ---- guest memory ------------------------------------------------------------------- */

static int read_error(ItsmigQemuImage *img, int err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static int read_error(ItsmigQemuImage *img, int err, const char *fmt, ...)
{
    va_list ap;

    g_free(img->read_error);
    va_start(ap, fmt);
    img->read_error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return -err;
}

static int guest_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    ItsmigQemuImage *img = opaque;
    uint64_t page = UINT64_C(1) << img->page_bits;
    uint8_t *out = buf;

    while (len > 0) {
        const Block *b = NULL;
        uint64_t off, idx, in_page, n, foff;
        const Chunk *c;

        for (size_t i = 0; i < img->n_blocks; i++) {
            const Block *x = &img->blocks[i];

            if (x->pub.mapped && gpa >= x->pub.gpa && gpa - x->pub.gpa < x->pub.length) {
                b = x;
                break;
            }
        }
        if (!b)
            return read_error(img, EFAULT, "0x%" PRIx64 " is not in any mapped RAM block", gpa);
        off = gpa - b->pub.gpa;
        idx = off >> img->page_bits;
        in_page = off & (page - 1);
        n = page - in_page < len ? page - in_page : len;
        c = chunk_find(b, idx);
        foff = c && c->offset ? c->offset[idx % CHUNK_PAGES] : 0;
        if (foff) {
            foff--;
            if (img->cache_page_off != foff + 1) {
                ssize_t r;

                do
                    r = pread(img->r.fd, img->cache, page, (off_t)foff);
                while (r < 0 && errno == EINTR);
                if (r != (ssize_t)page)
                    return read_error(img, EIO, "cannot read the page of 0x%" PRIx64 ": %s", gpa,
                                      r < 0 ? g_strerror(errno) : "short read");
                img->cache_page_off = foff + 1;
            }
            memcpy(out, img->cache + in_page, n);
        } else if (c && (c->zero[(idx % CHUNK_PAGES) / 64] >> (idx % 64) & 1)) {
            memset(out, 0, n);
        } else {
            return read_error(img, EFAULT,
                              "the page of 0x%" PRIx64 " (block '%s' offset 0x%" PRIx64
                              ") is not in the image",
                              gpa, b->name, off - in_page);
        }
        out += n;
        gpa += n;
        len -= n;
    }
    return 0;
}

void itsmig_qemu_image_guest_mem(ItsmigQemuImage *img, ItsmigGuestMem *ret)
{
    uint64_t data_pages = 0;

    /* Every page sent with content counts, also one sent again or later as
     * zero: an upper bound is what the walk needs. */
    for (size_t i = 0; i < img->n_blocks; i++)
        data_pages += img->blocks[i].pub.pages_data;
    *ret = (ItsmigGuestMem){
        .read = guest_read, .opaque = img, .read_size = data_pages << img->page_bits};
}

const char *itsmig_qemu_image_last_read_error(const ItsmigQemuImage *img)
{
    return img->read_error;
}
