/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness for the migration stream / save image reader: any input
 * is opened as an image; when it is accepted, its blocks are mapped and the
 * tables its registers point at are read as the walker would.  Seeds from
 * tests/fuzz/make-seeds (tests/fuzz/corpus/qemu-image holds some of them).
 * The input is a file, as the reader takes it: one memfd, written again
 * for each input (creating and tearing down a file per input cost more
 * than the reader).
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "itsmig/qemu-image.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ItsmigQemuImageOptions opts = {.no_decompress = TRUE};
    static int fd = -1;
    ItsmigQemuImage *img;
    size_t off = 0;

    fuzz_glib_fatal();
    if (fd < 0)
        fd = memfd_create("fuzz-image", MFD_CLOEXEC);
    FUZZ_ASSERT(fd >= 0);
    /* Over the last input, then cut to this one's size: the file's pages stay. */
    while (off < size) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);

        FUZZ_ASSERT(n > 0);
        off += (size_t)n;
    }
    FUZZ_ASSERT(ftruncate(fd, (off_t)size) == 0);
    /* A compressed image's stream goes through the same reader once decompressed: the
     * fuzzer does not run the programs. */
    img = itsmig_qemu_image_open_full(fd, "fuzz", &opts, NULL);
    if (img) {
        const ItsmigQemuImageIts *its = itsmig_qemu_image_get_its(img);
        ItsmigQemuImageStats stats;
        ItsmigGuestMem mem;
        uint8_t buf[64];

        /* The bound the header promises, whatever the blocks claim. */
        itsmig_qemu_image_get_stats(img, &stats);
        FUZZ_ASSERT(stats.index_bytes <= ITSMIG_QEMU_IMAGE_INDEX_MAX);
        itsmig_qemu_image_map_default(img, NULL);
        itsmig_qemu_image_guest_mem(img, &mem);
        if (its) {
            for (int i = 0; i < 8; i++) {
                ItsmigGitsBaser b;

                itsmig_gits_baser_decode(its->baser[i], &b);
                itsmig_guest_mem_read(&mem, b.addr, buf, sizeof(buf));
            }
        }
        for (size_t i = 0; i < itsmig_qemu_image_get_n_redists(img); i++)
            itsmig_guest_mem_read(&mem, itsmig_qemu_image_get_pendbasers(img)[i] & ~0xffffull, buf,
                                  sizeof(buf));
        itsmig_qemu_image_free(img);
    }
    return 0;
}
