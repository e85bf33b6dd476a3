/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Writes QEMU migration streams as QEMU 7.2 lays them out (savevm.c, ram.c,
 * vmstate.c), for the unit tests, the fuzzer's seeds and the benchmark: a
 * header with the target-page-bits configuration, a "ram" section with one
 * RAM block, page records, then the arm_gicv3, arm_gicv3_its and a timer
 * device, the end marker and the vmstate description that matches them.
 */

#include <glib.h>
#include <stdint.h>

#include "itsmig/qemu-image.h"

#define QIB_PAGE_BITS   12u
#define QIB_PAGE_SIZE   (1u << QIB_PAGE_BITS)
#define QIB_RAM_SECTION 2u

typedef struct {
    uint64_t ram_size; /* of the block "mach-virt.ram" */
    ItsmigQemuImageIts its;
    unsigned n_cpus;
    uint64_t propbaser;
    uint64_t pendbaser[8];
} QibParams;

/* A migration command (QEMU_VM_COMMAND) with @len bytes of @data. */
void qib_command(GByteArray *out, uint16_t cmd, uint16_t len, const uint8_t *data);

/* Header, configuration and the RAM setup section. */
void qib_begin(GByteArray *out, const QibParams *p);
/* The same for a mapped-ram stream (QEMU 9.0+, libvirt's "sparse" format): the
 * capability, and the block's header, bitmap and pages at their fixed offsets (the pages
 * @align-aligned: QEMU aligns them to 1 MiB), the stream starting at byte @base of the
 * file; @data[i] is page i's content, or NULL for a zero page, whose slot is filled with
 * 0xee. */
void qib_begin_mapped_ram(GByteArray *out, const QibParams *p, uint64_t base, uint64_t align,
                          const uint8_t *const *data);
/* Its parts, for a caller that writes the pages itself: everything up to the block's pages
 * (the bitmap @bits, padding), returning the offset in the file of page 0; and, after the
 * pages, the end of the RAM setup section. */
uint64_t qib_begin_mapped_ram_bitmap(GByteArray *out, const QibParams *p, uint64_t base,
                                     uint64_t align, const uint8_t *bits);
void qib_mapped_ram_setup_end(GByteArray *out);
/* A RAM_SAVE_FLAG_PAGE or _ZERO record; @first names the block, later ones
 * carry RAM_SAVE_FLAG_CONTINUE.  @data is QIB_PAGE_SIZE bytes or NULL (the
 * caller writes the content itself). */
void qib_page(GByteArray *out, uint64_t offset, gboolean first, const uint8_t *data);
void qib_zero_page(GByteArray *out, uint64_t offset, gboolean first);
void qib_part_begin(GByteArray *out);
/* RAM_SAVE_FLAG_EOS and the section footer. */
void qib_part_end(GByteArray *out);
/* The device sections, the end marker and the vmstate description. */
void qib_end(GByteArray *out, const QibParams *p);

/* libvirt's save image header and a padded domain XML, then @stream. */
void qib_libvirt_wrap(GByteArray *out, const GByteArray *stream, uint32_t compressed,
                      const char *magic);
/* The same with @xml as the domain XML. */
void qib_libvirt_wrap_xml(GByteArray *out, const GByteArray *stream, uint32_t compressed,
                          const char *magic, const char *xml);
