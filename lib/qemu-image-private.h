/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the files of the QEMU image reader share, and no one else:
 *
 *   qemu-image.c         libvirt's save image header, open and free, the
 *                        accessors, and guest memory read from the image
 *   qemu-image-stream.c  the buffered reader, the migration stream's
 *                        sections: configuration, RAM (the page index)
 *   qemu-image-vmsd.c    device sections, read by the vmstate description
 *                        that QEMU appends to the stream
 */

#include <json-glib/json-glib.h>
#include <stdint.h>

#include "itsmig/qemu-image.h"

/* migration/savevm.c */
#define QEMU_VM_FILE_MAGIC    0x5145564du /* "QEVM" */
#define QEMU_VM_FILE_VERSION  3u
#define QEMU_VM_EOF           0x00
#define QEMU_VM_SECTION_START 0x01
#define QEMU_VM_SECTION_PART  0x02
#define QEMU_VM_SECTION_END   0x03
#define QEMU_VM_SECTION_FULL  0x04
#define QEMU_VM_SUBSECTION    0x05
#define QEMU_VM_VMDESCRIPTION 0x06
#define QEMU_VM_CONFIGURATION 0x07
#define QEMU_VM_COMMAND       0x08 /* be16 command, be16 length, the arguments */
/* enum qemu_vm_cmd: the one command a saved precopy stream may carry (QEMU 10.0 sends it
 * before the devices' final state when the machine type's send-switchover-start is on). */
#define MIG_CMD_SWITCHOVER_START 11
#define QEMU_VM_SECTION_FOOTER   0x7e

/* migration/ram.c */
#define MAPPED_RAM_HDR_VERSION      1u
#define MAPPED_RAM_HDR_SIZE         28u /* be32 version, be64 page size, bitmap and pages offsets */
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
    /* mapped-ram: page i is at pages_offset + i * page size when bit i of the bitmap at
     * bitmap_offset is set (byte i / 8, bit i % 8), else zero; no chunks.  Both 0: a shared
     * block, whose pages are not in the image. */
    uint64_t bitmap_offset, pages_offset;
} Block;

typedef struct {
    int fd; /* the image's file, or its decompressed stream */
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
    gboolean mapped_ram; /* the capability: RAM pages at fixed offsets */
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
    int src_fd;              /* the image's file */
    gboolean owns_fd;        /* open() opened it: free() closes it */
    int tmp_fd;              /* a compressed image's stream, decompressed; else -1 */
    const char *compression; /* its format ("gzip"), else NULL */
};

/* The chunk of @idx, or NULL when no record named a page of it. */
static inline Chunk *itsmig_qemu_image_chunk_find(const Block *b, uint64_t idx)
{
    return idx / CHUNK_PAGES < b->chunks_len ? b->chunks[idx / CHUNK_PAGES] : NULL;
}

/* An error at byte @offset of the image, as ITSMIG_ERROR_INVALID_ARGUMENT. */
gboolean itsmig_qemu_image_fail(ItsmigQemuImage *img, uint64_t offset, GError **error,
                                const char *fmt, ...) G_GNUC_PRINTF(4, 5);
gboolean itsmig_qemu_image_skip(ItsmigQemuImage *img, uint64_t n, const char *what, GError **error);
gboolean itsmig_qemu_image_read_be32(ItsmigQemuImage *img, uint32_t *ret, const char *what,
                                     GError **error);
gboolean itsmig_qemu_image_read_be64(ItsmigQemuImage *img, uint64_t *ret, const char *what,
                                     GError **error);
gboolean itsmig_qemu_image_read_u8(ItsmigQemuImage *img, uint8_t *ret, const char *what,
                                   GError **error);
gboolean itsmig_qemu_image_read_counted_string(ItsmigQemuImage *img, char *ret, const char *what,
                                               GError **error);
gboolean itsmig_qemu_image_read_device(ItsmigQemuImage *img, const char *idstr,
                                       uint32_t instance_id, uint32_t version_id, uint64_t at,
                                       GError **error);
gboolean itsmig_qemu_image_read_bytes(ItsmigQemuImage *img, void *dst, size_t n, const char *what,
                                      GError **error);
gboolean itsmig_qemu_image_find_description(ItsmigQemuImage *img, uint64_t start, GError **error);
gboolean itsmig_qemu_image_read_stream(ItsmigQemuImage *img, uint64_t start, GError **error);
void itsmig_qemu_image_block_clear(Block *b);
Block *itsmig_qemu_image_block_find(ItsmigQemuImage *img, const char *name);
