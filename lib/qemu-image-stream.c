/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QEMU migration stream: a buffered reader bounded by the start of the
 * vmstate description, the configuration section, the RAM sections and the
 * page index they fill, and the loop over sections.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "itsmig/error.h"
#include "qemu-image-private.h"

/* ---- errors ---------------------------------------------------------------- */

gboolean itsmig_qemu_image_fail(ItsmigQemuImage *img, uint64_t offset, GError **error,
                                const char *fmt, ...)
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
        return itsmig_qemu_image_fail(
            img, r->pos, error, "the stream is truncated: %s needs %zu bytes, %" PRIu64 " are left",
            what, need, avail);
    want = avail < r->buf_size ? (size_t)avail : r->buf_size;
    do
        n = pread(r->fd, r->buf, want, (off_t)r->pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return itsmig_qemu_image_fail(img, r->pos, error, "cannot read: %s", g_strerror(errno));
    if ((size_t)n < need)
        return itsmig_qemu_image_fail(img, r->pos, error, "the file shrank while being read");
    r->buf_off = r->pos;
    r->buf_len = (size_t)n;
    return TRUE;
}

gboolean itsmig_qemu_image_read_bytes(ItsmigQemuImage *img, void *dst, size_t n, const char *what,
                                      GError **error)
{
    Reader *r = &img->r;

    if (n > r->buf_size)
        return itsmig_qemu_image_fail(img, r->pos, error, "%s of %zu bytes is too large", what, n);
    if (!reader_fill(img, n, what, error))
        return FALSE;
    memcpy(dst, r->buf + (r->pos - r->buf_off), n);
    r->pos += n;
    return TRUE;
}

gboolean itsmig_qemu_image_skip(ItsmigQemuImage *img, uint64_t n, const char *what, GError **error)
{
    Reader *r = &img->r;

    if (n > r->limit - r->pos)
        return itsmig_qemu_image_fail(img, r->pos, error,
                                      "the stream is truncated: %s needs %" PRIu64
                                      " bytes, %" PRIu64 " are left",
                                      what, n, r->limit - r->pos);
    r->pos += n;
    return TRUE;
}

gboolean itsmig_qemu_image_read_u8(ItsmigQemuImage *img, uint8_t *ret, const char *what,
                                   GError **error)
{
    return itsmig_qemu_image_read_bytes(img, ret, 1, what, error);
}

gboolean itsmig_qemu_image_read_be32(ItsmigQemuImage *img, uint32_t *ret, const char *what,
                                     GError **error)
{
    uint8_t b[4];

    if (!itsmig_qemu_image_read_bytes(img, b, 4, what, error))
        return FALSE;
    *ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return TRUE;
}

gboolean itsmig_qemu_image_read_be64(ItsmigQemuImage *img, uint64_t *ret, const char *what,
                                     GError **error)
{
    uint8_t b[8];

    if (!itsmig_qemu_image_read_bytes(img, b, 8, what, error))
        return FALSE;
    *ret = 0;
    for (int i = 0; i < 8; i++)
        *ret = *ret << 8 | b[i];
    return TRUE;
}

/* A string of a one-byte length, as qemu_put_counted_string() writes it;
 * @ret has room for 256 bytes.  Refuses an empty string and NUL bytes. */
gboolean itsmig_qemu_image_read_counted_string(ItsmigQemuImage *img, char *ret, const char *what,
                                               GError **error)
{
    uint64_t at = img->r.pos;
    uint8_t len;

    if (!itsmig_qemu_image_read_u8(img, &len, what, error) ||
        !itsmig_qemu_image_read_bytes(img, ret, len, what, error))
        return FALSE;
    ret[len] = '\0';
    if (len == 0 || strlen(ret) != len)
        return itsmig_qemu_image_fail(img, at, error, "%s is empty or holds a NUL byte", what);
    return TRUE;
}

/* ---- the page index ----------------------------------------------------------- */

void itsmig_qemu_image_block_clear(Block *b)
{
    for (uint64_t i = 0; i < b->chunks_len; i++) {
        if (b->chunks[i])
            g_free(b->chunks[i]->offset);
        g_free(b->chunks[i]);
    }
    g_free(b->chunks);
    g_free(b->name);
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
            itsmig_qemu_image_fail(
                img, img->r.pos, error,
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
            itsmig_qemu_image_fail(
                img, img->r.pos, error,
                "the RAM page index would need more than %u MiB: the image is too fragmented",
                ITSMIG_QEMU_IMAGE_INDEX_MAX >> 20);
            return NULL;
        }
        *slot = g_new0(Chunk, 1);
        img->stats.index_bytes += sizeof(Chunk);
    }
    if (with_offsets && !(*slot)->offset) {
        if (img->stats.index_bytes + CHUNK_PAGES * 8 > ITSMIG_QEMU_IMAGE_INDEX_MAX) {
            itsmig_qemu_image_fail(
                img, img->r.pos, error,
                "the RAM page index would need more than %u MiB: the image is too large",
                ITSMIG_QEMU_IMAGE_INDEX_MAX >> 20);
            return NULL;
        }
        (*slot)->offset = g_new0(uint64_t, CHUNK_PAGES);
        img->stats.index_bytes += CHUNK_PAGES * 8;
    }
    return *slot;
}

Block *itsmig_qemu_image_block_find(ItsmigQemuImage *img, const char *name)
{
    for (size_t i = 0; i < img->n_blocks; i++)
        if (strcmp(img->blocks[i].name, name) == 0)
            return &img->blocks[i];
    return NULL;
}

/* Set bits in the bitmap of @n_pages at @offset: the pages with content. */
static gboolean bitmap_count(ItsmigQemuImage *img, uint64_t offset, uint64_t n_pages, uint64_t *ret,
                             GError **error)
{
    uint8_t buf[64 * 1024];
    uint64_t bytes = (n_pages + 7) / 8, done = 0, set = 0;

    while (done < bytes) {
        size_t want = (size_t)MIN(bytes - done, (uint64_t)sizeof(buf));
        ssize_t n;

        do
            n = pread(img->r.fd, buf, want, (off_t)(offset + done));
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)want)
            return itsmig_qemu_image_fail(img, offset + done, error,
                                          "cannot read the mapped-ram bitmap: %s",
                                          n < 0 ? g_strerror(errno) : "short read");
        /* the last byte's bits beyond the block do not count */
        if (done + want == bytes && n_pages % 8)
            buf[want - 1] &= (uint8_t)((1u << (n_pages % 8)) - 1);
        for (size_t i = 0; i < want; i++)
            set += (uint64_t)__builtin_popcount(buf[i]);
        done += want;
    }
    *ret = set;
    return TRUE;
}

/* A block's mapped-ram header (ram.c, mapped_ram_setup_ramblock()): its bitmap follows it,
 * its pages lie further on, and the stream goes on after them. */
static gboolean ram_read_mapped(ItsmigQemuImage *img, Block *b, GError **error)
{
    uint64_t page = UINT64_C(1) << img->page_bits;
    uint64_t at = img->r.pos, page_size, bitmap, pages, bitmap_bytes, set;
    uint32_t version;

    if (!itsmig_qemu_image_read_be32(img, &version, "a mapped-ram header", error) ||
        !itsmig_qemu_image_read_be64(img, &page_size, "a mapped-ram header", error) ||
        !itsmig_qemu_image_read_be64(img, &bitmap, "a mapped-ram header", error) ||
        !itsmig_qemu_image_read_be64(img, &pages, "a mapped-ram header", error))
        return FALSE;
    if (version != MAPPED_RAM_HDR_VERSION)
        return itsmig_qemu_image_fail(img, at, error,
                                      "mapped-ram header version %" PRIu32 " (%u is read)", version,
                                      MAPPED_RAM_HDR_VERSION);
    if (page_size != page)
        return itsmig_qemu_image_fail(img, at, error,
                                      "mapped-ram pages of %" PRIu64
                                      " bytes in a stream of %" PRIu64 "-byte pages",
                                      page_size, page);
    bitmap_bytes = (b->n_pages + 63) / 64 * 8;
    /* QEMU 11's mark of a shared block (x-ignore-shared), whose pages are not in the file:
     * they read as not in the image, never as zero */
    if (img->ignore_shared && bitmap == 0 && pages == 0)
        return TRUE;
    if (bitmap != img->r.pos)
        return itsmig_qemu_image_fail(img, at, error,
                                      "block '%s': the mapped-ram bitmap is at byte %" PRIu64
                                      ", not after its header",
                                      b->name, bitmap);
    if (pages < bitmap + bitmap_bytes || pages % page || pages > img->r.limit ||
        b->pub.length > img->r.limit - pages)
        return itsmig_qemu_image_fail(img, at, error,
                                      "block '%s': %" PRIu64
                                      " bytes of mapped-ram pages at byte %" PRIu64
                                      " do not fit between its bitmap (%" PRIu64
                                      " bytes) and the device state at byte %" PRIu64,
                                      b->name, b->pub.length, pages, bitmap_bytes, img->r.limit);
    if (!bitmap_count(img, bitmap, b->n_pages, &set, error))
        return FALSE;
    b->bitmap_offset = bitmap;
    b->pages_offset = pages;
    b->pub.pages_data = set;
    b->pub.pages_zero = b->n_pages - set;
    return itsmig_qemu_image_skip(img, pages + b->pub.length - img->r.pos, "the mapped-ram pages",
                                  error);
}

/* ram_save_setup(): the total, then each block's name and used length. */
static gboolean ram_read_setup(ItsmigQemuImage *img, uint64_t first, GError **error)
{
    uint64_t page = UINT64_C(1) << img->page_bits;
    uint64_t left = first & ~(page - 1);
    uint64_t at = img->r.pos - 8;
    uint64_t tables = 0;

    if ((first & (page - 1)) != RAM_SAVE_FLAG_MEM_SIZE)
        return itsmig_qemu_image_fail(img, at, error,
                                      "RAM setup: flags 0x%" PRIx64 " where MEM_SIZE belongs",
                                      first & (page - 1));
    if (img->ram_setup_done)
        return itsmig_qemu_image_fail(img, at, error, "RAM setup (MEM_SIZE) appears twice");
    if (left == 0 || left > ITSMIG_QEMU_IMAGE_RAM_MAX)
        return itsmig_qemu_image_fail(
            img, at, error, "RAM total of %" PRIu64 " bytes is out of range (1..%" PRIu64 ")", left,
            ITSMIG_QEMU_IMAGE_RAM_MAX);
    img->ram_total = left;
    while (left > 0) {
        char name[257];
        uint64_t len, addr, n_chunks;
        Block *b;

        at = img->r.pos;
        if (img->n_blocks == ITSMIG_QEMU_IMAGE_MAX_BLOCKS)
            return itsmig_qemu_image_fail(img, at, error, "more than %u RAM blocks",
                                          ITSMIG_QEMU_IMAGE_MAX_BLOCKS);
        if (!itsmig_qemu_image_read_counted_string(img, name, "a RAM block name", error) ||
            !itsmig_qemu_image_read_be64(img, &len, "a RAM block length", error))
            return FALSE;
        if (itsmig_qemu_image_block_find(img, name))
            return itsmig_qemu_image_fail(img, at, error, "RAM block '%s' is listed twice", name);
        if (len == 0 || len > left || len % page)
            return itsmig_qemu_image_fail(img, at, error,
                                          "RAM block '%s' has length %" PRIu64
                                          " (the blocks left to list hold %" PRIu64
                                          " bytes, pages are %" PRIu64 ")",
                                          name, len, left, page);
        if (img->ignore_shared &&
            !itsmig_qemu_image_read_be64(img, &addr, "a RAM block address", error))
            return FALSE;
        if (img->mapped_ram) {
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
            if (!ram_read_mapped(img, b, error))
                return FALSE;
            left -= len;
            continue;
        }
        n_chunks = (len / page + CHUNK_PAGES - 1) / CHUNK_PAGES;
        /* The chunk tables too are index, and may grow to this. */
        tables += n_chunks * sizeof(Chunk *);
        if (img->stats.index_bytes + tables > ITSMIG_QEMU_IMAGE_INDEX_MAX)
            return itsmig_qemu_image_fail(
                img, at, error,
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
/* A page record's flags other than a zero page or a page with its content. */
static gboolean ram_check_flags(ItsmigQemuImage *img, uint64_t at, uint64_t flags, GError **error)
{
    uint64_t kind;

    if (flags & RAM_SAVE_FLAG_XBZRLE)
        return itsmig_qemu_image_fail(img, at, error,
                                      "an XBZRLE-compressed page: images made with the xbzrle "
                                      "capability are not supported");
    if (flags & RAM_SAVE_FLAG_COMPRESS_PAGE)
        return itsmig_qemu_image_fail(
            img, at, error,
            "a compressed page: images made with the compress capability are not supported");
    if (flags & RAM_SAVE_FLAG_HOOK)
        return itsmig_qemu_image_fail(img, at, error,
                                      "an RDMA hook record: RDMA streams are not supported");
    kind = flags & ~(uint64_t)RAM_SAVE_FLAG_CONTINUE;
    if (kind != RAM_SAVE_FLAG_ZERO && kind != RAM_SAVE_FLAG_PAGE)
        return itsmig_qemu_image_fail(img, at, error,
                                      "RAM page record with invalid flags 0x%" PRIx64, flags);
    return TRUE;
}

/* The block of a page record: the last one, or the one it names. */
static gboolean ram_record_block(ItsmigQemuImage *img, uint64_t at, uint64_t v, Block **ret_block,
                                 GError **error)
{
    char name[257];

    if (v & RAM_SAVE_FLAG_CONTINUE) {
        if (!img->last_block)
            return itsmig_qemu_image_fail(img, at, error,
                                          "RAM page continues a block, but none was named");
        *ret_block = img->last_block;
        return TRUE;
    }
    if (!itsmig_qemu_image_read_counted_string(img, name, "a RAM block name", error))
        return FALSE;
    *ret_block = itsmig_qemu_image_block_find(img, name);
    if (!*ret_block)
        return itsmig_qemu_image_fail(img, at, error, "RAM page of unknown block '%s'", name);
    img->last_block = *ret_block;
    return TRUE;
}

/* Page @idx of @b in the index: a zero page, or where its content lies. */
static gboolean ram_store_page(ItsmigQemuImage *img, uint64_t at, Block *b, uint64_t idx,
                               gboolean zero, GError **error)
{
    Chunk *c;

    if (zero) {
        uint8_t fill;

        if (!itsmig_qemu_image_read_u8(img, &fill, "a zero page's fill byte", error))
            return FALSE;
        if (fill != 0)
            return itsmig_qemu_image_fail(img, at, error,
                                          "zero page with fill byte 0x%02x (QEMU writes 0)", fill);
        if (!(c = chunk_get(img, b, idx, FALSE, error)))
            return FALSE;
        c->zero[(idx % CHUNK_PAGES) / 64] |= UINT64_C(1) << (idx % 64);
        if (c->offset)
            c->offset[idx % CHUNK_PAGES] = 0;
        b->pub.pages_zero++;
        return TRUE;
    }
    if (!(c = chunk_get(img, b, idx, TRUE, error)))
        return FALSE;
    c->zero[(idx % CHUNK_PAGES) / 64] &= ~(UINT64_C(1) << (idx % 64));
    c->offset[idx % CHUNK_PAGES] = img->r.pos + 1;
    if (!itsmig_qemu_image_skip(img, UINT64_C(1) << img->page_bits, "a RAM page", error))
        return FALSE;
    b->pub.pages_data++;
    return TRUE;
}

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
        } else if (!itsmig_qemu_image_read_be64(img, &v, "a RAM page record", error)) {
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
            c = itsmig_qemu_image_chunk_find(b, idx);
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
            return itsmig_qemu_image_fail(img, at, error, "RAM pages before the RAM setup");
        if (img->mapped_ram)
            return itsmig_qemu_image_fail(img, at, error,
                                          "a RAM page record in a mapped-ram stream, whose "
                                          "pages lie at fixed offsets");
        if (!ram_check_flags(img, at, flags, error) || !ram_record_block(img, at, v, &b, error))
            return FALSE;
        if (addr >= b->pub.length)
            return itsmig_qemu_image_fail(img, at, error,
                                          "RAM page at offset 0x%" PRIx64
                                          " is beyond block '%s' (%" PRIu64 " bytes)",
                                          addr, b->name, b->pub.length);
        if (!ram_store_page(img, at, b, addr >> img->page_bits,
                            (flags & ~(uint64_t)RAM_SAVE_FLAG_CONTINUE) == RAM_SAVE_FLAG_ZERO,
                            error))
            return FALSE;
        img->stats.page_records++;
    }
}

/* ---- the configuration section ---------------------------------------------- */

static gboolean read_configuration(ItsmigQemuImage *img, GError **error)
{
    uint64_t at = img->r.pos;
    uint32_t len;
    g_autofree char *name = NULL;

    if (!itsmig_qemu_image_read_be32(img, &len, "the machine name length", error))
        return FALSE;
    if (len == 0 || len > 256)
        return itsmig_qemu_image_fail(img, at, error, "machine name of %" PRIu32 " bytes (1..256)",
                                      len);
    name = g_malloc0(len + 1);
    if (!itsmig_qemu_image_read_bytes(img, name, len, "the machine name", error))
        return FALSE;
    if (strlen(name) != len || !g_utf8_validate(name, len, NULL))
        return itsmig_qemu_image_fail(img, at, error, "the machine name is not text");
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
        if (!itsmig_qemu_image_read_counted_string(img, sub, "a configuration subsection name",
                                                   error) ||
            !itsmig_qemu_image_read_be32(img, &version, "a subsection version", error))
            return FALSE;
        if (strcmp(sub, "configuration/target-page-bits") == 0) {
            uint32_t bits;

            if (!itsmig_qemu_image_read_be32(img, &bits, "target-page-bits", error))
                return FALSE;
            if (bits < ARM_TARGET_PAGE_BITS_MIN || bits > 16)
                return itsmig_qemu_image_fail(
                    img, at, error, "target page bits %" PRIu32 " out of range (10..16)", bits);
            img->page_bits = bits;
            img->page_bits_seen = TRUE;
        } else if (strcmp(sub, "configuration/capabilities") == 0) {
            uint32_t n;

            if (!itsmig_qemu_image_read_be32(img, &n, "the capability count", error))
                return FALSE;
            if (n > 64)
                return itsmig_qemu_image_fail(img, at, error,
                                              "%" PRIu32 " capabilities (at most 64)", n);
            for (uint32_t i = 0; i < n; i++) {
                char cap[257];

                if (!itsmig_qemu_image_read_counted_string(img, cap, "a capability name", error))
                    return FALSE;
                if (strcmp(cap, "x-ignore-shared") == 0)
                    img->ignore_shared = TRUE;
                else if (strcmp(cap, "mapped-ram") == 0)
                    img->mapped_ram = TRUE;
            }
        } else if (strcmp(sub, "configuration/uuid") == 0) {
            if (!itsmig_qemu_image_skip(img, 16, "the VM UUID", error))
                return FALSE;
        } else {
            return itsmig_qemu_image_fail(img, at, error, "unknown configuration subsection '%s'",
                                          sub);
        }
    }
}

/* ---- the stream ---------------------------------------------------------------- */

static gboolean read_footer(ItsmigQemuImage *img, uint32_t section_id, const char *idstr,
                            GError **error)
{
    uint64_t at = img->r.pos;
    uint8_t type;
    uint32_t id;

    if (!itsmig_qemu_image_read_u8(img, &type, "a section footer", error))
        return FALSE;
    if (type != QEMU_VM_SECTION_FOOTER)
        return itsmig_qemu_image_fail(img, at, error,
                                      "section %" PRIu32
                                      " ('%s') does not end where its description says "
                                      "(byte 0x%02x, not the footer)",
                                      section_id, idstr, type);
    if (!itsmig_qemu_image_read_be32(img, &id, "a section footer", error))
        return FALSE;
    if (id != section_id)
        return itsmig_qemu_image_fail(img, at, error,
                                      "the footer of section %" PRIu32 " names section %" PRIu32,
                                      section_id, id);
    return TRUE;
}

/* A whole section (QEMU_VM_SECTION_FULL), or RAM's first part (START). */
static gboolean read_section(ItsmigQemuImage *img, uint8_t type, uint64_t at, GError **error)
{
    uint32_t section_id, instance_id, sversion;
    char idstr[257];

    if (!itsmig_qemu_image_read_be32(img, &section_id, "a section id", error) ||
        !itsmig_qemu_image_read_counted_string(img, idstr, "a section name", error) ||
        !itsmig_qemu_image_read_be32(img, &instance_id, "an instance id", error) ||
        !itsmig_qemu_image_read_be32(img, &sversion, "a version id", error))
        return FALSE;
    if (strcmp(idstr, "ram") == 0) {
        if (type != QEMU_VM_SECTION_START || img->ram_section_seen)
            return itsmig_qemu_image_fail(img, at, error,
                                          "a second or non-iterative 'ram' section");
        if (sversion != 4)
            return itsmig_qemu_image_fail(
                img, at, error, "'ram' section version %" PRIu32 " (4 is read)", sversion);
        img->ram_section_seen = TRUE;
        img->ram_section_id = section_id;
        if (!ram_read_section(img, TRUE, error))
            return FALSE;
    } else if (type == QEMU_VM_SECTION_START) {
        return itsmig_qemu_image_fail(
            img, at, error, "iterative section '%s' is not supported (only RAM is read)", idstr);
    } else if (!itsmig_qemu_image_read_device(img, idstr, instance_id, sversion, at, error)) {
        return FALSE;
    }
    if (!read_footer(img, section_id, idstr, error))
        return FALSE;
    img->stats.sections++;
    return TRUE;
}

/* A migration command: QEMU 10.0's switchover-start notice, which carries nothing, is
 * passed over; any other (the return path, postcopy, COLO, a packaged stream) is not of a
 * saved precopy stream. */
static gboolean read_command(ItsmigQemuImage *img, uint64_t at, GError **error)
{
    static const char *const names[] = {
        "INVALID",      "OPEN_RETURN_PATH",     "PING",     "POSTCOPY_ADVISE", "POSTCOPY_LISTEN",
        "POSTCOPY_RUN", "POSTCOPY_RAM_DISCARD", "PACKAGED", "ENABLE_COLO",     "POSTCOPY_RESUME",
        "RECV_BITMAP",  "SWITCHOVER_START",
    };
    uint8_t h[4];
    unsigned cmd, len;

    if (!itsmig_qemu_image_read_bytes(img, h, sizeof(h), "a migration command", error))
        return FALSE;
    cmd = (unsigned)h[0] << 8 | h[1];
    len = (unsigned)h[2] << 8 | h[3];
    if (cmd == MIG_CMD_SWITCHOVER_START && len == 0)
        return TRUE;
    return itsmig_qemu_image_fail(img, at, error,
                                  "migration command %u (%s) with %u bytes: not a saved precopy "
                                  "stream",
                                  cmd, cmd < G_N_ELEMENTS(names) ? names[cmd] : "unknown", len);
}

gboolean itsmig_qemu_image_read_stream(ItsmigQemuImage *img, uint64_t start, GError **error)
{
    uint32_t magic, version;
    gboolean config_seen = FALSE;

    img->r.pos = start;
    if (!itsmig_qemu_image_read_be32(img, &magic, "the stream magic", error) ||
        !itsmig_qemu_image_read_be32(img, &version, "the stream version", error))
        return FALSE;
    if (magic != QEMU_VM_FILE_MAGIC)
        return itsmig_qemu_image_fail(img, start, error,
                                      "not a QEMU migration stream (magic 0x%08" PRIx32 ")", magic);
    if (version != QEMU_VM_FILE_VERSION)
        return itsmig_qemu_image_fail(img, start + 4, error,
                                      "stream version %" PRIu32 " (only %u is read)", version,
                                      QEMU_VM_FILE_VERSION);
    img->page_bits = ARM_TARGET_PAGE_BITS_MIN;
    for (;;) {
        uint64_t at = img->r.pos;
        uint32_t section_id;
        uint8_t type;

        if (!itsmig_qemu_image_read_u8(img, &type, "a section type", error))
            return FALSE;
        switch (type) {
        case QEMU_VM_EOF:
            if (img->r.pos != img->r.limit)
                return itsmig_qemu_image_fail(
                    img, at, error, "the end marker is not followed by the vmstate description");
            return TRUE;
        case QEMU_VM_CONFIGURATION:
            if (config_seen || img->stats.sections)
                return itsmig_qemu_image_fail(img, at, error,
                                              "a configuration section after the first section");
            config_seen = TRUE;
            if (!read_configuration(img, error))
                return FALSE;
            break;
        case QEMU_VM_SECTION_START:
        case QEMU_VM_SECTION_FULL:
            if (!read_section(img, type, at, error))
                return FALSE;
            break;
        case QEMU_VM_SECTION_PART:
        case QEMU_VM_SECTION_END:
            if (!itsmig_qemu_image_read_be32(img, &section_id, "a section id", error))
                return FALSE;
            if (!img->ram_section_seen || section_id != img->ram_section_id)
                return itsmig_qemu_image_fail(
                    img, at, error, "continuation of unknown section %" PRIu32, section_id);
            if (!ram_read_section(img, FALSE, error) || !read_footer(img, section_id, "ram", error))
                return FALSE;
            img->stats.sections++;
            break;
        case QEMU_VM_COMMAND:
            if (!read_command(img, at, error))
                return FALSE;
            break;
        default: return itsmig_qemu_image_fail(img, at, error, "unknown section type 0x%02x", type);
        }
    }
}
