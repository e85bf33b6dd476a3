/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writes a libvirt save image with ITS tables, for the hook's tests:
 *
 *   write-save-image OUT XML-FILE good|bad-table|bad-abi
 *
 * good: tables a restore takes; bad-table: the first mapped ITE's pINTID
 * below the LPI range (RESTORE_TABLES fails with EINVAL); bad-abi: the
 * image's GITS_IIDR names ITS ABI revision 7, which no kernel has.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "its-fixtures.h"
#include "qemu-image-builder.h"

#define RAM      ITSMIG_QEMU_VIRT_RAM_BASE
#define RAM_SIZE (8u << 20)

static QibParams params(gboolean bad_abi)
{
    QibParams p = {
        .ram_size = RAM_SIZE,
        .its = {.ctlr = 0x1,
                .iidr = bad_abi ? 0x4b00743b : 0x4b00043b,
                .cbaser = 0xb8000000400f0000ull,
                .cwriter = 0x40,
                .creadr = 0x40},
        .n_cpus = 2,
        .propbaser = 0x40710000ull | 0xf,
        .pendbaser = {0x40720000ull, 0x40730000ull},
    };

    p.its.baser[0] = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, RAM, 1, false);
    p.its.baser[1] = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, RAM + 0x100000, 1, false);
    return p;
}

/* The guest memory as RAM page records: zero pages as such. */
static void ram_section(GByteArray *s, const uint8_t *ram)
{
    static const uint8_t zero[QIB_PAGE_SIZE];

    qib_part_begin(s);
    for (uint64_t off = 0; off < RAM_SIZE; off += QIB_PAGE_SIZE) {
        if (memcmp(ram + off, zero, QIB_PAGE_SIZE) == 0)
            qib_zero_page(s, off, off == 0);
        else
            qib_page(s, off, off == 0, ram + off);
    }
    qib_part_end(s);
}

int main(int argc, char **argv)
{
    ItsFixtureParams fp = {
        .seed = 11,
        .n_devices = 30,
        .device_id_span = 8192,
        .max_events = 10,
        .min_event_bits = 1,
        .max_event_bits = 5,
        .n_collections = 4,
        .icid_span = 32,
        .nr_vcpus = 2,
        .unmapped_percent = 0,
        .itt_base = RAM + 0x200000,
        .lpi_base = 8192,
    };
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    ItsmigItsMapping m;
    ItsmigGuestMem mem;
    ItsmigItsLayout layout;
    ItsmigDiag diag;
    QibParams p;

    if (argc != 4 ||
        (strcmp(argv[3], "good") && strcmp(argv[3], "bad-table") && strcmp(argv[3], "bad-abi"))) {
        fprintf(stderr, "usage: write-save-image OUT XML-FILE good|bad-table|bad-abi\n");
        return 2;
    }
    if (!g_file_get_contents(argv[2], &xml, NULL, &error)) {
        fprintf(stderr, "write-save-image: %s\n", error->message);
        return 1;
    }
    p = params(strcmp(argv[3], "bad-abi") == 0);
    layout = (ItsmigItsLayout){p.its.baser[0], p.its.baser[1], 0};
    if (its_fixture_mapping(&fp, &m, NULL) < 0 || its_fixture_mem_new(RAM, RAM_SIZE, &mem) < 0 ||
        itsmig_its_write_tables(&m, &layout, &mem, &diag) < 0) {
        fprintf(stderr, "write-save-image: cannot lay out the tables\n");
        return 1;
    }
    if (strcmp(argv[3], "bad-table") == 0) {
        const ItsmigItsDevice *d = m.devices;
        uint64_t gpa;

        while (d->n_events == 0)
            d++;
        gpa = d->itt_addr + 8ull * m.events[d->first_event].event_id;
        itsmig_le64_store(itsmig_guest_mem_ptr(&mem, gpa, 8), 100ull << 16);
    }
    qib_begin(s, &p);
    ram_section(s, mem.regions[0].data);
    qib_end(s, &p);
    qib_libvirt_wrap_xml(out, s, 0, "LibvirtQemudSave", xml);
    its_fixture_mem_free(&mem);
    itsmig_its_mapping_clear(&m);
    if (!g_file_set_contents(argv[1], (const char *)out->data, out->len, &error)) {
        fprintf(stderr, "write-save-image: %s\n", error->message);
        return 1;
    }
    return 0;
}
