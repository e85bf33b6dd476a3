/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A reader of QEMU's migration stream as it lies in a file: what
 * `migrate "exec:cat > FILE"` writes, and libvirt's save images (virsh save,
 * managed save), which wrap the same stream behind a header and the domain
 * XML.  It finds the ITS and GICv3 redistributor registers in the device
 * state, and indexes RAM pages by file offset without loading them, so that
 * the ITS walker reads guest memory straight from the file.
 *
 * The stream is followed as QEMU's own description of it says
 * (docs/devel/migration, migration/savevm.c, ram.c, vmstate.c and
 * scripts/analyze-migration.py of QEMU 7.2 and 10.0): the device sections
 * are skipped field by field following the vmstate description (JSON) that
 * QEMU appends after the end marker, and each section must end exactly where
 * its footer is.  Lengths in the file are checked against the file and
 * against the limits below; memory is bounded (ITSMIG_QEMU_IMAGE_INDEX_MAX
 * for the page index, ITSMIG_QEMU_IMAGE_JSON_MAX for the description).
 *
 * GLib and json-glib, unlike the ITS codec: this never runs in a test guest,
 * and the vmstate description is JSON that json-strict checks first.
 * Errors are ITSMIG_ERROR_INVALID_ARGUMENT (the file is the bad argument)
 * with the offset in the file where the problem is.
 */

#include <glib.h>
#include <stdint.h>

#include "itsmig/its-abi.h"

/* Largest vmstate description read (QEMU's is ~40 KiB per vCPU). */
#define ITSMIG_QEMU_IMAGE_JSON_MAX (8u * 1024 * 1024)
/* Most memory the RAM page index may use. */
#define ITSMIG_QEMU_IMAGE_INDEX_MAX (40u * 1024 * 1024)
/* Largest guest RAM (sum of RAM blocks) accepted. */
#define ITSMIG_QEMU_IMAGE_RAM_MAX (UINT64_C(4) << 40)
/* Largest domain XML area of a libvirt save image. */
#define ITSMIG_QEMU_IMAGE_XML_MAX (16u * 1024 * 1024)
/* Zero bytes accepted after the stream (libvirt's iohelper pads to the
 * O_DIRECT alignment). */
#define ITSMIG_QEMU_IMAGE_PAD_MAX     (1024u * 1024)
#define ITSMIG_QEMU_IMAGE_MAX_BLOCKS  256u
#define ITSMIG_QEMU_IMAGE_MAX_REDISTS 4096u

/* Where the QEMU guest RAM block of the virt machine starts. */
#define ITSMIG_QEMU_VIRT_RAM_BLOCK "mach-virt.ram"
#define ITSMIG_QEMU_VIRT_RAM_BASE  UINT64_C(0x40000000)
/* hw/arm/virt.c's memory map: the two flash banks, 64 MiB each, from 0. */
#define ITSMIG_QEMU_VIRT_FLASH0_BASE UINT64_C(0x00000000)
#define ITSMIG_QEMU_VIRT_FLASH1_BASE UINT64_C(0x04000000)

typedef struct ItsmigQemuImage ItsmigQemuImage;

typedef enum {
    ITSMIG_QEMU_IMAGE_STREAM,  /* a bare migration stream */
    ITSMIG_QEMU_IMAGE_LIBVIRT, /* libvirt's save image around one */
} ItsmigQemuImageFormat;

/* The arm_gicv3_its device state (hw/intc/arm_gicv3_its_common.c). */
typedef struct {
    uint32_t ctlr;
    uint32_t iidr;
    uint64_t cbaser;
    uint64_t cwriter;
    uint64_t creadr;
    uint64_t baser[8];
    uint32_t instance_id;
    uint32_t version_id;
} ItsmigQemuImageIts;

typedef struct {
    const char *name;
    uint64_t length;     /* bytes */
    uint64_t pages_data; /* pages the stream carries with content */
    uint64_t pages_zero; /* pages it sends as zero */
    uint64_t gpa;        /* where the block is mapped, see map_block() */
    gboolean mapped;
} ItsmigQemuImageBlock;

typedef struct {
    uint64_t file_size;
    uint64_t stream_offset;     /* where the QEMU stream starts in the file */
    uint64_t decompressed_size; /* a compressed image's stream (then the offsets' file) */
    uint64_t stream_length;     /* up to and with the vmstate description */
    uint64_t sections;          /* sections read */
    uint64_t page_records;      /* RAM page records read */
    uint64_t index_bytes;       /* memory the page index uses */
} ItsmigQemuImageStats;

/* How a libvirt save image that is compressed (qemu.conf save_image_format) is read: its
 * QEMU stream is decompressed by the program libvirt runs for that format ("gzip -dc",
 * "bzip2 -dc", "xz -dc", "lzop -dc" or "zstd -dc", from PATH, with LC_ALL=C) into an
 * unlinked file in @tmp_dir, which the image then reads its pages from.  That file never
 * takes the last 5 % of its file system (at least 1 GiB), nor more than @decompressed_max. */
typedef struct {
    const char *tmp_dir;       /* NULL: $TMPDIR, else /var/tmp */
    uint64_t decompressed_max; /* 0: only the free space bounds it */
    gboolean no_decompress;    /* refuse compressed images instead */
} ItsmigQemuImageOptions;

/* Reads and checks the whole image at @path: header, sections, the page
 * index and the device state.  NULL with @error set on any problem. */
ItsmigQemuImage *itsmig_qemu_image_open(const char *path, GError **error);
/* The same from an open file descriptor (not closed, not moved); @name is
 * used in messages. */
ItsmigQemuImage *itsmig_qemu_image_open_fd(int fd, const char *name, GError **error);
/* open_fd() with @opts (NULL: the defaults, all zero). */
ItsmigQemuImage *itsmig_qemu_image_open_full(int fd, const char *name,
                                             const ItsmigQemuImageOptions *opts, GError **error);
/* The domain XML of the libvirt save image at @fd, from its header alone (nothing else is
 * read, nothing run); NULL with @error set when it is not one or its header is bad. */
char *itsmig_qemu_image_peek_domain_xml(int fd, const char *name, GError **error);
void itsmig_qemu_image_free(ItsmigQemuImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigQemuImage, itsmig_qemu_image_free)

ItsmigQemuImageFormat itsmig_qemu_image_get_format(const ItsmigQemuImage *img);
/* The compression of a libvirt image ("gzip", ...), else NULL.  Offsets (stats,
 * file_offset()) are then in the decompressed stream, which starts at 0. */
const char *itsmig_qemu_image_get_compression(const ItsmigQemuImage *img);
/* Whether the stream has the mapped-ram capability (QEMU 9.0+; libvirt's "sparse" format):
 * each RAM block's pages lie at fixed offsets, marked in a bitmap, and no page is indexed. */
gboolean itsmig_qemu_image_get_mapped_ram(const ItsmigQemuImage *img);
/* libvirt images: the domain XML, else NULL. */
const char *itsmig_qemu_image_get_domain_xml(const ItsmigQemuImage *img);
/* The machine type the configuration section names ("virt-7.2"). */
const char *itsmig_qemu_image_get_machine(const ItsmigQemuImage *img);
uint32_t itsmig_qemu_image_get_page_size(const ItsmigQemuImage *img);
void itsmig_qemu_image_get_stats(const ItsmigQemuImage *img, ItsmigQemuImageStats *ret);

/* NULL when the image has no arm_gicv3_its device. */
const ItsmigQemuImageIts *itsmig_qemu_image_get_its(const ItsmigQemuImage *img);
/* GICR_PROPBASER and GICR_PENDBASER of each redistributor (vCPU order) of
 * the arm_gicv3 device; 0 redistributors (and NULL) when there is none. */
size_t itsmig_qemu_image_get_n_redists(const ItsmigQemuImage *img);
const uint64_t *itsmig_qemu_image_get_propbasers(const ItsmigQemuImage *img);
const uint64_t *itsmig_qemu_image_get_pendbasers(const ItsmigQemuImage *img);

size_t itsmig_qemu_image_get_n_blocks(const ItsmigQemuImage *img);
const ItsmigQemuImageBlock *itsmig_qemu_image_get_block(const ItsmigQemuImage *img, size_t i);

/* Places RAM block @name at guest-physical @gpa.  Fails when there is no
 * such block or it would overlap another mapped block. */
gboolean itsmig_qemu_image_map_block(ItsmigQemuImage *img, const char *name, uint64_t gpa,
                                     GError **error);
/* Maps the virt machine's RAM at its base, and its flash banks (when in
 * the image) at theirs, when the machine is virt-*. */
gboolean itsmig_qemu_image_map_default(ItsmigQemuImage *img, GError **error);

/* Guest memory over the mapped blocks, read from the file on demand: zero
 * pages read as zero, a page the stream does not carry fails with -EFAULT
 * (and last_read_error says which), as does memory outside the blocks.
 * Valid while @img lives. */
void itsmig_qemu_image_guest_mem(ItsmigQemuImage *img, ItsmigGuestMem *ret);
/* The offset in the file of the byte at guest-physical @gpa, in the page the stream carries
 * for it; FALSE when it carries none with content (a zero page, a page it lacks, memory
 * outside the mapped blocks).  For tests and debugging: where to change a table entry. */
gboolean itsmig_qemu_image_file_offset(const ItsmigQemuImage *img, uint64_t gpa,
                                       uint64_t *ret_offset);
/* Why the last guest memory read failed, or NULL. */
const char *itsmig_qemu_image_last_read_error(const ItsmigQemuImage *img);

/* The ITS walk's input from the image: GITS_IIDR, the BASERs, the
 * redistributors' PROPBASER (the first) and PENDBASERs, and as many vCPUs
 * as redistributors when @nr_vcpus is 0 (else @nr_vcpus).  The walker's
 * memory is the image's guest_mem(); pendbasers are valid while @img lives.
 * FALSE when the image has no ITS. */
gboolean itsmig_qemu_image_walk_input(ItsmigQemuImage *img, unsigned nr_vcpus,
                                      ItsmigItsWalkInput *ret_in, ItsmigGuestMem *ret_mem);
