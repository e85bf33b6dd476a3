/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * itsmigctl its inspect --image on multi-GiB migration streams, in the page
 * cache: how fast the reader gets through the file (GB/s of image bytes)
 * and the most memory the command uses (max RSS, from wait4()).
 *
 *   dense:  a 4 GiB guest whose every page is sent with its content (zeros),
 *           the worst case for the record walk: the file is 4 GiB.
 *   sparse: a 64 GiB guest sent as zero pages, as QEMU sends untouched RAM.
 *   mapped: the same guest in the mapped-ram layout (libvirt's "sparse" format): a
 *           64 GiB file whose zero pages are holes.
 *
 * Both carry a real table set (2048 devices x 32 events, in KVM's layout)
 * in data pages, which the walk reads from the file and checks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "its-fixtures.h"
#include "itsmig/qemu-image.h"
#include "qemu-image-builder.h"

#define RAM         ITSMIG_QEMU_VIRT_RAM_BASE
#define TABLES_SIZE (32u << 20) /* the table set lives in the first 32 MiB */
#define RUNS        5

enum { DENSE, SPARSE, MAPPED };

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void flush(int fd, GByteArray *b)
{
    size_t off = 0;

    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);

        if (n < 0) {
            perror("write");
            exit(1);
        }
        off += (size_t)n;
    }
    g_byte_array_set_size(b, 0);
}

static void pwrite_all(int fd, const uint8_t *data, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, (off_t)off);

        if (n < 0) {
            perror("pwrite");
            exit(1);
        }
        data += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
}

/* mapped-ram: the pages with content at their slots, the rest holes. */
static void make_mapped(int fd, const QibParams *p, const ItsmigGuestMem *tables)
{
    static const uint8_t zero[QIB_PAGE_SIZE];
    uint64_t n_pages = p->ram_size / QIB_PAGE_SIZE, pages;
    g_autofree uint8_t *bits = g_malloc0((n_pages + 63) / 64 * 8);
    g_autoptr(GByteArray) b = g_byte_array_new();

    for (uint64_t off = 0; off < TABLES_SIZE; off += QIB_PAGE_SIZE)
        if (memcmp(tables->regions[0].data + off, zero, QIB_PAGE_SIZE) != 0)
            bits[off / QIB_PAGE_SIZE / 8] |= (uint8_t)(1u << (off / QIB_PAGE_SIZE % 8));
    pages = qib_begin_mapped_ram_bitmap(b, p, 0, 1u << 20, bits);
    pwrite_all(fd, b->data, b->len, 0);
    for (uint64_t off = 0; off < TABLES_SIZE; off += QIB_PAGE_SIZE)
        if (bits[off / QIB_PAGE_SIZE / 8] >> (off / QIB_PAGE_SIZE % 8) & 1)
            pwrite_all(fd, tables->regions[0].data + off, QIB_PAGE_SIZE, pages + off);
    g_byte_array_set_size(b, 0);
    qib_mapped_ram_setup_end(b);
    qib_part_begin(b);
    qib_part_end(b);
    qib_end(b, p);
    pwrite_all(fd, b->data, b->len, pages + p->ram_size);
}

static void make_image(const char *path, uint64_t ram_size, int kind, const QibParams *p0,
                       const ItsmigGuestMem *tables)
{
    static const uint8_t zero[QIB_PAGE_SIZE];
    QibParams p = *p0;
    g_autoptr(GByteArray) b = g_byte_array_sized_new(4u << 20);
    gboolean dense = kind == DENSE;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        perror(path);
        exit(1);
    }
    p.ram_size = ram_size;
    if (kind == MAPPED) {
        make_mapped(fd, &p, tables);
        close(fd);
        return;
    }
    qib_begin(b, &p);
    qib_part_begin(b);
    for (uint64_t off = 0; off < ram_size; off += QIB_PAGE_SIZE) {
        const uint8_t *pg = off < TABLES_SIZE ? tables->regions[0].data + off : zero;

        if (dense || memcmp(pg, zero, QIB_PAGE_SIZE) != 0)
            qib_page(b, off, off == 0, pg);
        else
            qib_zero_page(b, off, off == 0);
        if (b->len > (3u << 20))
            flush(fd, b);
    }
    qib_part_end(b);
    qib_end(b, &p);
    flush(fd, b);
    close(fd);
}

/* Runs itsmigctl its inspect --image @path; *ret_rss_kib is its max RSS. */
static double run_inspect(const char *path, long *ret_rss_kib)
{
    struct rusage ru;
    double t0 = now();
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1);
        /* The human output: --json builds a tree of the whole mapping first. */
        execl(ITSMIGCTL, ITSMIGCTL, "its", "inspect", "--image", path, "--vcpus", "64",
              (char *)NULL);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "itsmigctl its inspect --image %s failed (status 0x%x)\n", path, status);
        exit(1);
    }
    *ret_rss_kib = ru.ru_maxrss;
    return now() - t0;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void bench(const char *name, const char *path, uint64_t ram_size, int kind,
                  const QibParams *p, const ItsmigGuestMem *tables, const ItsmigItsMapping *m)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = NULL;
    ItsmigItsWalkInput in = {
        .iidr = p->its.iidr, .baser0 = p->its.baser[0], .baser1 = p->its.baser[1], .nr_vcpus = 64};
    ItsmigQemuImageStats st;
    ItsmigGuestMem mem;
    ItsmigItsReport rep;
    ItsmigDiag diag;
    double t[RUNS], tc[RUNS], gen;
    long rss = 0, r;
    struct stat sb;
    uint64_t on_disk;

    gen = now();
    make_image(path, ram_size, kind, p, tables);
    gen = now() - gen;
    run_inspect(path, &r); /* into the page cache */
    /* The library: open (every record read and indexed), map, walk. */
    for (int i = 0; i <= RUNS; i++) {
        double t0 = now();

        g_clear_pointer(&img, itsmig_qemu_image_free);
        img = itsmig_qemu_image_open(path, &error);
        if (!img || !itsmig_qemu_image_map_default(img, &error)) {
            fprintf(stderr, "%s: %s\n", path, error->message);
            exit(1);
        }
        itsmig_qemu_image_guest_mem(img, &mem);
        if (itsmig_its_walk(&in, &mem, &rep, &diag) < 0 || rep.restore_errno != 0 ||
            !itsmig_its_mapping_equal(&rep.mapping, m)) {
            fprintf(stderr, "%s: the walk did not give back the mapping\n", path);
            exit(1);
        }
        if (i < RUNS) {
            t[i] = now() - t0;
            itsmig_its_report_clear(&rep);
        }
    }
    itsmig_qemu_image_get_stats(img, &st);
    qsort(t, RUNS, sizeof(t[0]), dcmp);
    /* The command: wall time (with the process start) and max RSS. */
    for (int i = 0; i < RUNS; i++) {
        tc[i] = run_inspect(path, &r);
        if (r > rss)
            rss = r;
    }
    qsort(tc, RUNS, sizeof(tc[0]), dcmp);
    if (stat(path, &sb) < 0) {
        perror(path);
        exit(1);
    }
    on_disk = (uint64_t)sb.st_blocks * 512;
    printf("%-6s guest %3" PRIu64 " GiB, image %7.1f MiB, %.1f MiB on disk (%" PRIu64
           " page records), %zu devices / %zu events walked\n",
           name, ram_size >> 30, (double)st.file_size / (1 << 20), (double)on_disk / (1 << 20),
           st.page_records, rep.mapping.n_devices, rep.mapping.n_events);
    /* A mapped-ram file is mostly holes: its rate is of the bytes there are. */
    printf("       read + index + walk: median %.3f s (min %.3f, max %.3f) of %d = %.2f GB/s of "
           "image bytes%s, %.0f GiB/s of guest RAM; page index %.1f MiB\n",
           t[RUNS / 2], t[0], t[RUNS - 1], RUNS,
           (double)MIN(st.file_size, on_disk) / t[RUNS / 2] / 1e9, kind == MAPPED ? " on disk" : "",
           (double)ram_size / t[RUNS / 2] / (1 << 30), (double)st.index_bytes / (1 << 20));
    printf("       itsmigctl its inspect --image: median %.3f s wall (with its start); max RSS "
           "%.1f MiB\n",
           tc[RUNS / 2], (double)rss / 1024);
    printf("       (image written in %.1f s)\n", gen);
    itsmig_its_report_clear(&rep);
    unlink(path);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : g_get_tmp_dir();
    g_autofree char *path = g_build_filename(dir, "bench-image.mig", NULL);
    QibParams p = {
        .n_cpus = 2,
        .its = {.ctlr = 1, .iidr = 0x4b00043b},
        /* LPI configuration and pending tables inside the table area */
        .propbaser = (RAM + 0x1000000) | 15,
        .pendbaser = {RAM + 0x1100000, RAM + 0x1110000},
    };
    ItsmigItsLayout layout;
    ItsmigItsMapping m;
    ItsmigGuestMem tables;
    ItsmigDiag diag;
    struct utsname u;

    p.its.baser[0] = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, RAM, 1, false);
    p.its.baser[1] = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, RAM + 0x10000, 1, false);
    layout = (ItsmigItsLayout){p.its.baser[0], p.its.baser[1], 0};
    if (its_fixture_dense_mapping(2048, 5, 64, RAM + 0x100000, &m) < 0 ||
        its_fixture_mem_new(RAM, TABLES_SIZE, &tables) < 0 ||
        itsmig_its_write_tables(&m, &layout, &tables, &diag) < 0) {
        fprintf(stderr, "cannot build the tables\n");
        return 1;
    }
    uname(&u);
    printf("bench-image: %s %s, %ld CPUs online, image in %s\n", u.sysname, u.machine,
           sysconf(_SC_NPROCESSORS_ONLN), dir);
    bench("dense", path, UINT64_C(4) << 30, DENSE, &p, &tables, &m);
    bench("sparse", path, UINT64_C(64) << 30, SPARSE, &p, &tables, &m);
    bench("mapped", path, UINT64_C(64) << 30, MAPPED, &p, &tables, &m);
    its_fixture_mem_free(&tables);
    itsmig_its_mapping_clear(&m);
    return 0;
}
