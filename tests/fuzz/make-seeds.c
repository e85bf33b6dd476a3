/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes the fuzzer's seed corpus into DIR: small streams from the builder. */
#include "config.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "qemu-image-builder.h"

static void save(const char *dir, const char *name, const GByteArray *b)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) error = NULL;

    if (!g_file_set_contents(path, (const char *)b->data, b->len, &error)) {
        fprintf(stderr, "%s\n", error->message);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    QibParams p = {.ram_size = 16 * QIB_PAGE_SIZE,
                   .its = {.ctlr = 1, .iidr = 0x4b00043b, .creadr = 0x20, .cwriter = 0x20},
                   .n_cpus = 2,
                   .propbaser = 0x4000800f,
                   .pendbaser = {0x40000000, 0x40000000}};
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GByteArray) w = g_byte_array_new();
    uint8_t page[QIB_PAGE_SIZE];

    if (argc != 2) {
        fprintf(stderr, "usage: make-seeds DIR\n");
        return 2;
    }
    p.its.baser[0] = 0x8107000040000000ull;
    p.its.baser[1] = 0x8407000040004000ull;
    memset(page, 0, sizeof(page));
    page[0] = 0x81; /* something in the device table */
    qib_begin(s, &p);
    qib_part_begin(s);
    qib_page(s, 0, TRUE, page);
    for (uint64_t off = QIB_PAGE_SIZE; off < p.ram_size; off += QIB_PAGE_SIZE)
        qib_zero_page(s, off, FALSE);
    qib_part_end(s);
    qib_end(s, &p);
    save(argv[1], "stream", s);
    qib_libvirt_wrap(w, s, 0, "LibvirtQemudSave");
    save(argv[1], "libvirt", w);
    /* mapped-ram, its pages aligned to a page rather than QEMU's 1 MiB (the fuzzer's inputs
     * are at most 64 KiB), four pages of RAM, the first with content */
    {
        const uint8_t *data[4] = {page};

        p.ram_size = 4 * QIB_PAGE_SIZE;
        g_byte_array_set_size(s, 0);
        qib_begin_mapped_ram(s, &p, 0, QIB_PAGE_SIZE, data);
        qib_part_begin(s);
        qib_part_end(s);
        qib_end(s, &p);
        save(argv[1], "mapped-ram", s);
    }
    return 0;
}
