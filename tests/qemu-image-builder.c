/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "qemu-image-builder.h"

static void put8(GByteArray *o, uint8_t v)
{
    g_byte_array_append(o, &v, 1);
}

static void put32(GByteArray *o, uint32_t v)
{
    uint8_t b[4] = {v >> 24, v >> 16, v >> 8, v};

    g_byte_array_append(o, b, 4);
}

static void put64(GByteArray *o, uint64_t v)
{
    put32(o, (uint32_t)(v >> 32));
    put32(o, (uint32_t)v);
}

static void putstr(GByteArray *o, const char *s)
{
    put8(o, (uint8_t)strlen(s));
    g_byte_array_append(o, (const uint8_t *)s, (guint)strlen(s));
}

static void section_full(GByteArray *o, uint32_t id, const char *name, uint32_t version)
{
    put8(o, 0x04);
    put32(o, id);
    putstr(o, name);
    put32(o, 0);
    put32(o, version);
}

static void footer(GByteArray *o, uint32_t id)
{
    put8(o, 0x7e);
    put32(o, id);
}

void qib_command(GByteArray *o, uint16_t cmd, uint16_t len, const uint8_t *data)
{
    put8(o, 0x08);
    put8(o, cmd >> 8);
    put8(o, cmd & 0xff);
    put8(o, len >> 8);
    put8(o, len & 0xff);
    if (len)
        g_byte_array_append(o, data, len);
}

void qib_begin(GByteArray *o, const QibParams *p)
{
    put32(o, 0x5145564d);
    put32(o, 3);
    put8(o, 0x07);
    put32(o, 8);
    g_byte_array_append(o, (const uint8_t *)"virt-7.2", 8);
    put8(o, 0x05);
    putstr(o, "configuration/target-page-bits");
    put32(o, 1);
    put32(o, QIB_PAGE_BITS);

    put8(o, 0x01);
    put32(o, QIB_RAM_SECTION);
    putstr(o, "ram");
    put32(o, 0);
    put32(o, 4);
    put64(o, p->ram_size | 0x04);
    putstr(o, ITSMIG_QEMU_VIRT_RAM_BLOCK);
    put64(o, p->ram_size);
    put64(o, 0x10);
    footer(o, QIB_RAM_SECTION);
}

uint64_t qib_begin_mapped_ram_bitmap(GByteArray *o, const QibParams *p, uint64_t base,
                                     uint64_t align, const uint8_t *bits)
{
    uint64_t n_pages = p->ram_size / QIB_PAGE_SIZE;
    uint64_t bitmap_bytes = (n_pages + 63) / 64 * 8;
    uint64_t bitmap, pages;

    put32(o, 0x5145564d);
    put32(o, 3);
    put8(o, 0x07);
    put32(o, 9);
    g_byte_array_append(o, (const uint8_t *)"virt-10.0", 9);
    put8(o, 0x05);
    putstr(o, "configuration/target-page-bits");
    put32(o, 1);
    put32(o, QIB_PAGE_BITS);
    put8(o, 0x05);
    putstr(o, "configuration/capabilities");
    put32(o, 1);
    put32(o, 1);
    putstr(o, "mapped-ram");

    put8(o, 0x01);
    put32(o, QIB_RAM_SECTION);
    putstr(o, "ram");
    put32(o, 0);
    put32(o, 4);
    put64(o, p->ram_size | 0x04);
    putstr(o, ITSMIG_QEMU_VIRT_RAM_BLOCK);
    put64(o, p->ram_size);
    bitmap = base + o->len + 28;
    pages = (bitmap + bitmap_bytes + align - 1) / align * align;
    put32(o, 1);
    put64(o, QIB_PAGE_SIZE);
    put64(o, bitmap);
    put64(o, pages);
    g_byte_array_append(o, bits, (guint)bitmap_bytes);
    g_byte_array_set_size(o, (guint)(pages - base));
    memset(o->data + bitmap - base + bitmap_bytes, 0, pages - bitmap - bitmap_bytes);
    return pages;
}

void qib_begin_mapped_ram(GByteArray *o, const QibParams *p, uint64_t base, uint64_t align,
                          const uint8_t *const *data)
{
    uint64_t n_pages = p->ram_size / QIB_PAGE_SIZE;
    g_autofree uint8_t *bits = g_malloc0((n_pages + 63) / 64 * 8);
    g_autofree uint8_t *junk = g_malloc(QIB_PAGE_SIZE);

    for (uint64_t i = 0; i < n_pages; i++)
        if (data[i])
            bits[i / 8] |= (uint8_t)(1u << (i % 8));
    qib_begin_mapped_ram_bitmap(o, p, base, align, bits);
    /* The slot of a zero page is never written: whatever is there must not be read. */
    memset(junk, 0xee, QIB_PAGE_SIZE);
    for (uint64_t i = 0; i < n_pages; i++)
        g_byte_array_append(o, data[i] ? data[i] : junk, QIB_PAGE_SIZE);
    qib_mapped_ram_setup_end(o);
}

void qib_mapped_ram_setup_end(GByteArray *o)
{
    put64(o, 0x10);
    footer(o, QIB_RAM_SECTION);
}

void qib_part_begin(GByteArray *o)
{
    put8(o, 0x02);
    put32(o, QIB_RAM_SECTION);
}

void qib_part_end(GByteArray *o)
{
    put64(o, 0x10);
    footer(o, QIB_RAM_SECTION);
}

void qib_page(GByteArray *o, uint64_t offset, gboolean first, const uint8_t *data)
{
    put64(o, offset | 0x08 | (first ? 0 : 0x20));
    if (first)
        putstr(o, ITSMIG_QEMU_VIRT_RAM_BLOCK);
    if (data)
        g_byte_array_append(o, data, QIB_PAGE_SIZE);
}

void qib_zero_page(GByteArray *o, uint64_t offset, gboolean first)
{
    put64(o, offset | 0x02 | (first ? 0 : 0x20));
    if (first)
        putstr(o, ITSMIG_QEMU_VIRT_RAM_BLOCK);
    put8(o, 0);
}

void qib_end(GByteArray *o, const QibParams *p)
{
    g_autoptr(GString) js = g_string_new(NULL);
    static const uint8_t unused[8] = {0};

    /* timer: fields of a device the reader only skips. */
    section_full(o, 3, "timer", 2);
    put64(o, 0x1234);
    g_byte_array_append(o, unused, 8);
    put64(o, 0x5678);
    footer(o, 3);

    section_full(o, 4, "arm_gicv3", 1);
    put32(o, 0x12);
    for (unsigned i = 0; i < p->n_cpus; i++) {
        put32(o, 1);
        put64(o, p->propbaser);
        put64(o, p->pendbaser[i]);
        put8(o, 0x05);
        putstr(o, "arm_gicv3_cpu/sre_el1");
        put32(o, 1);
        put64(o, 7);
    }
    footer(o, 4);

    section_full(o, 5, "arm_gicv3_its", 0);
    put32(o, p->its.ctlr);
    put32(o, p->its.iidr);
    put64(o, p->its.cbaser);
    put64(o, p->its.cwriter);
    put64(o, p->its.creadr);
    for (int i = 0; i < 8; i++)
        put64(o, p->its.baser[i]);
    footer(o, 5);
    put8(o, 0x00);

    g_string_append(js, "{\"page_size\": 4096, \"devices\": ["
                        "{\"name\": \"timer\", \"instance_id\": 0, \"vmsd_name\": \"timer\", "
                        "\"version\": 2, \"fields\": ["
                        "{\"name\": \"cpu_ticks_offset\", \"type\": \"int64\", \"size\": 8}, "
                        "{\"name\": \"unused\", \"type\": \"unused_buffer\", \"size\": 8}, "
                        "{\"name\": \"cpu_clock_offset\", \"type\": \"int64\", \"size\": 8}]}, "
                        "{\"name\": \"arm_gicv3\", \"instance_id\": 0, \"vmsd_name\": "
                        "\"arm_gicv3\", \"version\": 1, \"fields\": ["
                        "{\"name\": \"gicd_ctlr\", \"type\": \"uint32\", \"size\": 4}");
    /* An array of structs with subsections, one entry per element: QEMU 7.2 gives each
     * its "index" when there are more than one. */
    for (unsigned i = 0; i < p->n_cpus; i++) {
        char idx[32] = "";

        if (p->n_cpus > 1)
            g_snprintf(idx, sizeof(idx), "\"index\": %u, ", i);
        g_string_append_printf(
            js,
            ", {\"name\": \"cpu\", %s\"type\": \"struct\", \"struct\": "
            "{\"vmsd_name\": \"arm_gicv3_cpu\", \"version\": 1, \"fields\": ["
            "{\"name\": \"gicr_ctlr\", \"type\": \"uint32\", \"size\": 4}, "
            "{\"name\": \"gicr_propbaser\", \"type\": \"uint64\", \"size\": 8}, "
            "{\"name\": \"gicr_pendbaser\", \"type\": \"uint64\", \"size\": 8}], "
            "\"subsections\": [{\"vmsd_name\": \"arm_gicv3_cpu/sre_el1\", \"version\": 1, "
            "\"fields\": [{\"name\": \"icc_sre_el1\", \"type\": \"uint64\", \"size\": 8}]}]}, "
            "\"size\": 307}",
            idx);
    }
    g_string_append(js, "]}, {\"name\": \"arm_gicv3_its\", \"instance_id\": 0, \"vmsd_name\": "
                        "\"arm_gicv3_its\", \"version\": 0, \"fields\": ["
                        "{\"name\": \"ctlr\", \"type\": \"uint32\", \"size\": 4}, "
                        "{\"name\": \"iidr\", \"type\": \"uint32\", \"size\": 4}, "
                        "{\"name\": \"cbaser\", \"type\": \"uint64\", \"size\": 8}, "
                        "{\"name\": \"cwriter\", \"type\": \"uint64\", \"size\": 8}, "
                        "{\"name\": \"creadr\", \"type\": \"uint64\", \"size\": 8}, "
                        "{\"name\": \"baser\", \"array_len\": 8, \"type\": \"uint64\", "
                        "\"size\": 8}]}]}");
    put8(o, 0x06);
    put32(o, (uint32_t)js->len);
    g_byte_array_append(o, (const uint8_t *)js->str, (guint)js->len);
}

void qib_libvirt_wrap(GByteArray *o, const GByteArray *stream, uint32_t compressed,
                      const char *magic)
{
    qib_libvirt_wrap_xml(o, stream, compressed, magic,
                         "<domain type='kvm'><name>g</name></domain>\n");
}

void qib_libvirt_wrap_xml(GByteArray *o, const GByteArray *stream, uint32_t compressed,
                          const char *magic, const char *xml)
{
    size_t xml_len = strlen(xml) + 1;
    /* libvirt pads the XML for later growth */
    uint32_t data_len = (uint32_t)MAX(1024, (xml_len + 1024) & ~(size_t)1023);
    uint8_t h[92] = {0};
    uint32_t v[3] = {GUINT32_TO_LE(2), GUINT32_TO_LE(data_len), GUINT32_TO_LE(1)};
    uint32_t c = GUINT32_TO_LE(compressed);
    g_autofree uint8_t *area = g_malloc0(data_len);

    memcpy(h, magic, 16);
    memcpy(h + 16, v, sizeof(v));
    memcpy(h + 28, &c, 4);
    g_byte_array_append(o, h, sizeof(h));
    memcpy(area, xml, xml_len);
    g_byte_array_append(o, area, data_len);
    g_byte_array_append(o, stream->data, stream->len);
}
