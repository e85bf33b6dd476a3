/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Decode-and-lint throughput of itsmig_its_walk() on two large table sets:
 * 65,536 devices x 32 events, and 1M ITEs (16 devices x 65,536 events).
 * Run with `make bench`; the output is kept in tests/bench/its-abi.txt.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "itsmig/its-abi.h"
#include "its-fixtures.h"

#define RAM    0x40000000ull
#define ROUNDS 21

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static int run(const char *name, unsigned n_devices, unsigned event_bits)
{
    /* Device table (flat, 8 pages) at RAM, collection table after, ITTs from +1 MiB. */
    uint64_t itt_base = RAM + 0x100000;
    uint64_t ram_size = 0x100000 + ((uint64_t)n_devices << event_bits) * 8;
    ItsmigItsWalkInput in = {
        .iidr = itsmig_gits_iidr_make_kvm(0),
        .baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, RAM, 8, false),
        .baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, RAM + 0x80000, 1, false),
        .nr_vcpus = 64,
    };
    ItsmigItsLayout layout = {in.baser0, in.baser1, 0};
    ItsmigItsMapping m;
    ItsmigGuestMem mem;
    ItsmigItsReport rep;
    ItsmigDiag diag;
    double t[ROUNDS], med, bytes;
    uint64_t entries;

    if (its_fixture_dense_mapping(n_devices, event_bits, 64, itt_base, &m) < 0 ||
        its_fixture_mem_new(RAM, ram_size, &mem) < 0 ||
        itsmig_its_write_tables(&m, &layout, &mem, &diag) < 0) {
        fprintf(stderr, "bench: cannot build %s\n", name);
        return 1;
    }
    for (int i = 0; i < ROUNDS; i++) {
        double t0 = now();

        if (itsmig_its_walk(&in, &mem, &rep, &diag) < 0 || rep.restore_errno != 0 ||
            rep.mapping.n_events != m.n_events) {
            fprintf(stderr, "bench: %s did not decode cleanly\n", name);
            return 1;
        }
        t[i] = now() - t0;
        bytes = (double)rep.bytes_scanned;
        entries = rep.entries_scanned;
        itsmig_its_report_clear(&rep);
    }
    qsort(t, ROUNDS, sizeof(t[0]), dbl_cmp);
    med = t[ROUNDS / 2];
    printf("%-26s devices=%-6u events=%-8zu table_bytes=%-9.0f entries_read=%-8llu "
           "median=%7.3f ms min=%7.3f ms  %6.2f GB/s  %6.1f M ITEs/s\n",
           name, n_devices, m.n_events, bytes, (unsigned long long)entries, med * 1e3, t[0] * 1e3,
           bytes / med / 1e9, m.n_events / med / 1e6);
    itsmig_its_mapping_clear(&m);
    its_fixture_mem_free(&mem);
    return 0;
}

int main(void)
{
    struct utsname u;
    char cpu[512] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "re");

    if (f) {
        char line[256];

        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');

                snprintf(cpu, sizeof(cpu), "%s", c ? c + 2 : line);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    uname(&u);
    printf("# itsmig %s: itsmig_its_walk() decode + lint, one core, median of %d runs\n",
           PACKAGE_VERSION, ROUNDS);
    printf("# %s %s, %s\n", u.sysname, u.machine, cpu);
    printf("# targets: >= 1 GB/s of table bytes; 1M ITEs in < 10 ms\n");
    if (run("65536 devices x 32 events", 65536, 5) || run("1M ITEs (16 x 65536)", 16, 16))
        return 1;
    return 0;
}
