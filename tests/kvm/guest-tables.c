/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The codec against the real in-kernel vITS: tables written by
 * itsmig_its_write_tables() are restored by KVM, saved again to fresh memory
 * and decoded (round trips), and broken images are handed to
 * RESTORE_TABLES to check that the walker predicts the kernel's errno.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest-tap.h"
#include "its-fixtures.h"
#include "itsmig/its-abi.h"
#include "itsmig/kvm-vm.h"

#define RAM ITSMIG_KVM_VM_RAM_BASE
#define RAM_SIZE (64ull << 20)
#define NR_VCPUS 4u
#define DT (RAM + 0x000000)  /* device table, up to 9 pages */
#define DT2 (RAM + 0x100000) /* fresh device table for the save */
#define CT (RAM + 0x200000)
#define CT2 (RAM + 0x210000)
#define CMDQ (RAM + 0x220000)
#define L2 (RAM + 0x300000)  /* level-2 pages of DT */
#define L2B (RAM + 0x380000) /* level-2 pages of DT2 */
#define PROP (RAM + 0x400000)
#define PEND(c) (RAM + 0x410000 + 0x10000ull * (c))
#define ITT (RAM + 0x500000)
#define LPI_ID_BITS 16

static uint64_t pendbasers[NR_VCPUS];

static uint8_t *ram(ItsmigKvmVm *vm, uint64_t gpa, uint64_t len)
{
    return itsmig_guest_mem_ptr(itsmig_kvm_vm_memory(vm), gpa, len);
}

static ItsmigKvmVm *new_vm(const char *tag)
{
    ItsmigKvmVmConfig cfg = {.nr_vcpus = NR_VCPUS, .ram_size = RAM_SIZE, .with_its = true,
                             .init_vgic = true};
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag d = {0};
    int r = itsmig_kvm_vm_new(&cfg, &vm, &d);

    /* Redistributors first (the documented restore order): LPI
     * configuration and pending tables in guest RAM. */
    if (r == 0)
        r = itsmig_kvm_vm_redist_set(vm, 0, ITSMIG_GICR_PROPBASER,
                                     itsmig_gicr_propbaser_make(PROP, LPI_ID_BITS), &d);
    for (unsigned c = 0; r == 0 && c < NR_VCPUS; c++) {
        pendbasers[c] = itsmig_gicr_pendbaser_make(PEND(c));
        r = itsmig_kvm_vm_redist_set(vm, c, ITSMIG_GICR_PENDBASER, pendbasers[c], &d);
    }
    if (r < 0) {
        guest_tap_ok(false, "%s: scratch VM set up", tag);
        guest_tap_diag("  %s", d.text);
        itsmig_kvm_vm_free(vm);
        return NULL;
    }
    return vm;
}

/*
 * GITS registers in the documented order (IIDR, CBASER, CREADR, CWRITER,
 * BASERs), then RESTORE_TABLES.  Returns the first failing step's -errno and
 * names it in *ret_step.
 */
static int restore(ItsmigKvmVm *vm, uint32_t iidr, uint64_t baser0, uint64_t baser1,
                   const char **ret_step, ItsmigDiag *d)
{
    const struct {
        const char *name;
        uint32_t off;
        uint64_t val;
    } regs[] = {
        {"GITS_IIDR", ITSMIG_GITS_IIDR, iidr},
        {"GITS_CBASER", ITSMIG_GITS_CBASER, itsmig_gits_cbaser_make(CMDQ, 1)},
        {"GITS_CREADR", ITSMIG_GITS_CREADR, 0},
        {"GITS_CWRITER", ITSMIG_GITS_CWRITER, 0},
        {"GITS_BASER0", ITSMIG_GITS_BASER(0), baser0},
        {"GITS_BASER1", ITSMIG_GITS_BASER(1), baser1},
    };
    int r;

    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        *ret_step = regs[i].name;
        r = itsmig_kvm_vm_its_set(vm, regs[i].off, regs[i].val, d);
        if (r < 0)
            return r;
    }
    *ret_step = "RESTORE_TABLES";
    return itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_RESTORE_TABLES, d);
}

static ItsmigItsWalkInput walk_input(uint32_t iidr, uint64_t baser0, uint64_t baser1)
{
    ItsmigItsWalkInput in = {
        .iidr = iidr,
        .baser0 = baser0,
        .baser1 = baser1,
        .nr_vcpus = NR_VCPUS,
        .propbaser = itsmig_gicr_propbaser_make(PROP, LPI_ID_BITS),
        .pendbasers = pendbasers,
        .nr_pendbasers = NR_VCPUS,
    };

    return in;
}

/*
 * Hands a table image to the host: kvm-bed.sh rebuilds guest RAM from these
 * console lines and runs itsmigctl its inspect on it, so the client itself
 * is checked against tables the real kernel saved and against images the
 * real kernel refused.  Only non-zero words are printed.
 */
static unsigned dump_count;

static void dump_for_host(ItsmigKvmVm *vm, uint32_t iidr, uint64_t b0, uint64_t b1,
                          int kernel_errno, const ItsmigItsMapping *expect)
{
    const uint8_t *p = ram(vm, RAM, RAM_SIZE);
    unsigned id = ++dump_count;

    printf("ITSMIG-DUMP %u begin ram=0x%llx ram_size=%llu iidr=0x%x baser0=0x%llx baser1=0x%llx "
           "vcpus=%u errno=%s propbaser=0x%llx",
           id, (unsigned long long)RAM, (unsigned long long)RAM_SIZE, iidr,
           (unsigned long long)b0, (unsigned long long)b1, NR_VCPUS,
           itsmig_errno_name(kernel_errno),
           (unsigned long long)itsmig_gicr_propbaser_make(PROP, LPI_ID_BITS));
    for (unsigned c = 0; c < NR_VCPUS; c++)
        printf(" pendbaser=0x%llx", (unsigned long long)pendbasers[c]);
    printf("\n");
    for (uint64_t off = 0; off < RAM_SIZE; off += 8) {
        uint64_t v = itsmig_le64_load(p + off);

        if (v)
            printf("ITSMIG-DUMP %u mem %llx %llx\n", id, (unsigned long long)(RAM + off),
                   (unsigned long long)v);
    }
    /* The mapping as itsmigctl's human output prints it. */
    for (size_t i = 0; expect && i < expect->n_collections; i++) {
        if (expect->collections[i].target == ITSMIG_ITS_COLLECTION_UNMAPPED)
            printf("ITSMIG-DUMP %u map   ICID %-5u -> unmapped\n", id,
                   expect->collections[i].icid);
        else
            printf("ITSMIG-DUMP %u map   ICID %-5u -> vCPU %u\n", id, expect->collections[i].icid,
                   expect->collections[i].target);
    }
    for (size_t i = 0; expect && i < expect->n_devices; i++) {
        const ItsmigItsDevice *d = &expect->devices[i];

        printf("ITSMIG-DUMP %u map   device %-6u ITT 0x%llx, %u EventID bits, %zu event(s)\n", id,
               d->device_id, (unsigned long long)d->itt_addr, d->event_id_bits, d->n_events);
        for (size_t j = 0; j < d->n_events; j++) {
            const ItsmigItsEvent *e = &expect->events[d->first_event + j];

            printf("ITSMIG-DUMP %u map     event %-6u -> LPI %u via ICID %u\n", id, e->event_id,
                   e->pintid, e->icid);
        }
    }
    printf("ITSMIG-DUMP %u end\n", id);
    fflush(stdout);
}

/* ---- round trips -------------------------------------------------------------- */

static void round_trip(const char *tag, const ItsmigItsMapping *m, unsigned dt_pages,
                       bool indirect)
{
    uint64_t b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, dt_pages, indirect);
    uint64_t b1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    uint64_t f0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT2, dt_pages, indirect);
    uint64_t f1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT2, 1, false);
    uint64_t dt_bytes = (uint64_t)dt_pages * ITSMIG_ITS_TABLE_PAGE;
    uint64_t itt_bytes = RAM + RAM_SIZE - ITT;
    ItsmigItsLayout layout = {b0, b1, indirect ? L2 : 0};
    uint8_t *before_dt = NULL, *before_ct = NULL, *before_itt = NULL, *before_l2 = NULL;
    ItsmigItsWalkInput in;
    ItsmigItsReport rep = {0};
    ItsmigKvmVm *vm;
    ItsmigDiag d = {0};
    const char *step = "";
    int r;

    vm = new_vm(tag);
    if (!vm)
        return;
    r = itsmig_its_write_tables(m, &layout, itsmig_kvm_vm_memory(vm), &d);
    if (!guest_tap_ok(r == 0, "%s: tables written (%zu devices, %zu events, %zu collections)",
                      tag, m->n_devices, m->n_events, m->n_collections)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }
    before_dt = malloc(dt_bytes);
    before_ct = malloc(ITSMIG_ITS_TABLE_PAGE);
    before_itt = malloc(itt_bytes);
    before_l2 = malloc(8 * ITSMIG_ITS_TABLE_PAGE);
    if (!before_dt || !before_ct || !before_itt || !before_l2)
        goto out;
    memcpy(before_dt, ram(vm, DT, dt_bytes), dt_bytes);
    memcpy(before_ct, ram(vm, CT, ITSMIG_ITS_TABLE_PAGE), ITSMIG_ITS_TABLE_PAGE);
    memcpy(before_itt, ram(vm, ITT, itt_bytes), itt_bytes);
    memcpy(before_l2, ram(vm, L2, 8 * ITSMIG_ITS_TABLE_PAGE), 8 * ITSMIG_ITS_TABLE_PAGE);

    r = restore(vm, itsmig_gits_iidr_make_kvm(0), b0, b1, &step, &d);
    if (!guest_tap_ok(r == 0, "%s: KVM restores the tables", tag)) {
        guest_tap_diag("  %s failed: %s", step, d.text);
        goto out;
    }

    /* Give the save fresh tables; a two-level one gets fresh level-2
     * pages at the same level-1 indices, as a guest would have. */
    if (indirect) {
        for (unsigned i = 0; i < 8; i++) {
            uint64_t raw = itsmig_le64_load(ram(vm, DT + 8ull * i, 8));

            if (raw >> 63)
                itsmig_le64_store(ram(vm, DT2 + 8ull * i, 8),
                                  (raw & ~((1ull << 52) - 1)) | (L2B + (raw - (1ull << 63)) - L2));
        }
    }
    memset(ram(vm, ITT, itt_bytes), 0, itt_bytes);
    r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(0), f0, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(1), f1, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, &d);
    if (!guest_tap_ok(r == 0, "%s: KVM saves the tables to fresh memory", tag)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }

    in = walk_input(itsmig_gits_iidr_make_kvm(0), f0, f1);
    r = itsmig_its_walk(&in, itsmig_kvm_vm_memory(vm), &rep, &d);
    guest_tap_ok(r == 0 && rep.restore_errno == 0 && itsmig_its_mapping_equal(m, &rep.mapping),
                 "%s: the kernel's saved tables decode to the same mapping", tag);
    if (r == 0 && !itsmig_its_mapping_equal(m, &rep.mapping))
        guest_tap_diag("  decoded %zu devices / %zu events / %zu collections, errno %d (%s)",
                       rep.mapping.n_devices, rep.mapping.n_events, rep.mapping.n_collections,
                       rep.restore_errno, rep.restore_cause ? rep.restore_cause : "-");

    if (indirect) {
        bool same = true;

        for (unsigned i = 0; i < 8; i++) {
            uint64_t raw = itsmig_le64_load(ram(vm, DT + 8ull * i, 8));

            if (raw >> 63) {
                uint64_t l2 = (raw & ((1ull << 52) - 1)) - L2;

                same = same && memcmp(before_l2 + l2, ram(vm, L2B + l2, ITSMIG_ITS_TABLE_PAGE),
                                      ITSMIG_ITS_TABLE_PAGE) == 0;
            }
        }
        guest_tap_ok(same, "%s: level-2 device table bytes identical to the codec's", tag);
    } else {
        guest_tap_ok(memcmp(before_dt, ram(vm, DT2, dt_bytes), dt_bytes) == 0,
                     "%s: device table bytes identical to the codec's", tag);
    }
    guest_tap_ok(memcmp(before_ct, ram(vm, CT2, ITSMIG_ITS_TABLE_PAGE), ITSMIG_ITS_TABLE_PAGE) == 0,
                 "%s: collection table bytes identical to the codec's", tag);
    guest_tap_ok(memcmp(before_itt, ram(vm, ITT, itt_bytes), itt_bytes) == 0,
                 "%s: ITT bytes identical to the codec's", tag);
    if (m->n_events < 2000) /* keep the console short */
        dump_for_host(vm, itsmig_gits_iidr_make_kvm(0), f0, f1, 0, m);
out:
    itsmig_its_report_clear(&rep);
    free(before_dt);
    free(before_ct);
    free(before_itt);
    free(before_l2);
    itsmig_kvm_vm_free(vm);
}

static void round_trip_fixture(const char *tag, const ItsFixtureParams *p, unsigned dt_pages,
                               bool indirect)
{
    ItsmigItsMapping m;

    if (its_fixture_mapping(p, &m, NULL) < 0) {
        guest_tap_ok(false, "%s: fixture built", tag);
        return;
    }
    round_trip(tag, &m, dt_pages, indirect);
    itsmig_its_mapping_clear(&m);
}

static void round_trips(void)
{
    ItsFixtureParams sparse = {
        .seed = 1, .n_devices = 48, .device_id_span = 65536, .max_events = 40,
        .min_event_bits = 1, .max_event_bits = 8, .n_collections = 12, .icid_span = 8192,
        .nr_vcpus = NR_VCPUS, .unmapped_percent = 25, .itt_base = ITT, .lpi_base = 8192,
    };
    ItsFixtureParams many = {
        .seed = 2, .n_devices = 4, .device_id_span = 64, .max_events = 12000,
        .min_event_bits = 14, .max_event_bits = 16, .n_collections = 4, .icid_span = 4,
        .nr_vcpus = NR_VCPUS, .unmapped_percent = 0, .itt_base = ITT, .lpi_base = 8192,
    };
    ItsFixtureParams unmapped = {
        .seed = 3, .n_devices = 6, .device_id_span = 8192, .max_events = 20,
        .min_event_bits = 2, .max_event_bits = 6, .n_collections = 5, .icid_span = 300,
        .nr_vcpus = NR_VCPUS, .unmapped_percent = 100, .itt_base = ITT, .lpi_base = 20000,
    };
    /* Device IDs 16383+ apart: the kernel caps next at 2^14-1. */
    ItsmigItsDevice devs[3] = {
        {.device_id = 0, .itt_addr = ITT, .event_id_bits = 2, .first_event = 0, .n_events = 2},
        {.device_id = 30000, .itt_addr = ITT + 256, .event_id_bits = 16, .first_event = 2,
         .n_events = 2},
        {.device_id = 65535, .itt_addr = ITT + 0x100000, .event_id_bits = 1, .first_event = 4,
         .n_events = 1},
    };
    ItsmigItsEvent evs[5] = {
        {0, 8192, 1}, {3, 8193, 2}, {0, 9000, 1}, {65535, 9001, 2}, {1, 60000, 1},
    };
    ItsmigItsCollection cols[2] = {{2, 3}, {1, 0}};
    ItsmigItsMapping capped = {devs, 3, evs, 5, cols, 2};

    round_trip_fixture("round trip: sparse device IDs, flat table", &sparse, 8, false);
    round_trip_fixture("round trip: sparse device IDs, two-level table", &sparse, 1, true);
    round_trip_fixture("round trip: many events", &many, 1, false);
    round_trip_fixture("round trip: unmapped collections", &unmapped, 1, false);
    round_trip("round trip: capped next offsets", &capped, 8, false);
}

/* ---- bad images ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *cause;  /* the finding the walker must name; NULL = restore succeeds */
    void (*corrupt)(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1);
} BadImage;

static void put(ItsmigKvmVm *vm, uint64_t gpa, uint64_t raw)
{
    itsmig_le64_store(ram(vm, gpa, 8), raw);
}

/* The base image: device 1 (ITT at ITT, 4 bits) events 0 and 2; collections
 * 0 -> vCPU 0 and 1 -> vCPU 3. */
static const ItsmigItsDevice base_devs[1] = {
    {.device_id = 1, .itt_addr = ITT, .event_id_bits = 4, .first_event = 0, .n_events = 2},
};
static const ItsmigItsEvent base_evs[2] = {{0, 8192, 0}, {2, 8193, 1}};
static const ItsmigItsCollection base_cols[2] = {{0, 0}, {1, 3}};

static void bad_pintid(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, ITT + 16, (100ull << 16) | 1);
}

static void bad_ite_next(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, ITT + 16, (14ull << 48) | (8193ull << 16) | 1);
}

static void bad_ite_collection(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, ITT + 16, (8193ull << 16) | 7);
}

static void bad_target(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, CT + 8, (1ull << 63) | (4ull << 16) | 1);
}

static void bad_duplicate(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, CT + 8, (1ull << 63) | (2ull << 16) | 0);
}

static void bad_icid_beyond(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, CT + 16, (1ull << 63) | (1ull << 16) | 9000);
}

static void bad_event_bits(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, DT + 8, (1ull << 63) | ((ITT >> 8) << 5) | 16);
}

static void bad_devid_beyond(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    /* A 9-page flat table has slots past DeviceID 65535. */
    *b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 9, false);
    put(vm, DT + 8, (1ull << 63) | (1ull << 49) | ((ITT >> 8) << 5) | 3); /* next: 1 */
    put(vm, DT + 65536ull * 8, (1ull << 63) | (((ITT + 256) >> 8) << 5) | 0);
}

static void bad_itt_outside(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, DT + 8, (1ull << 63) | (((RAM + RAM_SIZE) >> 8) << 5) | 3);
}

static void bad_ct_outside(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    *b1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, RAM + RAM_SIZE, 1, false);
}

static void bad_dt_outside(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    /* An empty table is read entry by entry to its end, past RAM. */
    *b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, RAM + RAM_SIZE - 0x10000, 2, false);
}

static void bad_l2_outside(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    *b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT2, 1, true);
    put(vm, DT2 + 8, (1ull << 63) | 0x80000000ull);
}

static void bad_prop_outside(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    /* LPI 8192 + 64M lands past the property table's end of RAM. */
    put(vm, ITT + 16, ((uint64_t)(8192 + RAM_SIZE) << 16) | 1);
}

static void bad_abi_revision(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    *iidr = itsmig_gits_iidr_make_kvm(1);
}

static void ok_next_beyond(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    /* next jumps past the table end: the scan ends there, no error. */
    put(vm, DT + 8, (1ull << 63) | (9000ull << 49) | ((ITT >> 8) << 5) | 3);
}

static void ok_not_valid(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1)
{
    put(vm, ITT + 16, (100ull << 16) | 1); /* never read: */
    *b0 &= ~(1ull << 63);
}

static const BadImage bad_images[] = {
    {"pINTID below 8192", "ite-pintid-below-lpi-range", bad_pintid},
    {"ITE next beyond the EventID range", "ite-next-beyond-event-range", bad_ite_next},
    {"ITE with an unknown collection", "ite-unknown-collection", bad_ite_collection},
    {"collection targeting vCPU 4 of 4", "collection-target-out-of-range", bad_target},
    {"collection listed twice", "collection-duplicate-icid", bad_duplicate},
    {"collection ID beyond the table", "collection-icid-beyond-table", bad_icid_beyond},
    {"DTE with 17 EventID bits", "dte-event-id-bits-too-large", bad_event_bits},
    {"DTE for DeviceID 65536", "dte-device-id-beyond-devbits", bad_devid_beyond},
    {"ITT outside guest RAM", "itt-outside-memory", bad_itt_outside},
    {"collection table outside guest RAM", "collection-table-outside-memory", bad_ct_outside},
    {"device table running past guest RAM", "device-table-outside-memory", bad_dt_outside},
    {"level-2 page outside guest RAM", "l2-table-outside-memory", bad_l2_outside},
    {"LPI configuration byte outside guest RAM", "lpi-config-outside-memory", bad_prop_outside},
    {"ITS table ABI revision 1", "abi-revision-unsupported", bad_abi_revision},
    {"DTE next beyond the table (no error)", NULL, ok_next_beyond},
    {"device table not Valid (no error)", NULL, ok_not_valid},
};

static void bad_image(const BadImage *b)
{
    ItsmigItsMapping m = {(ItsmigItsDevice *)base_devs, 1, (ItsmigItsEvent *)base_evs, 2,
                          (ItsmigItsCollection *)base_cols, 2};
    uint64_t b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, false);
    uint64_t b1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    uint32_t iidr = itsmig_gits_iidr_make_kvm(0);
    ItsmigItsLayout layout = {b0, b1, 0};
    ItsmigItsWalkInput in;
    ItsmigItsReport rep = {0};
    ItsmigKvmVm *vm = new_vm(b->name);
    ItsmigDiag d = {0};
    const char *step = "";
    int predicted, kernel;

    if (!vm)
        return;
    if (itsmig_its_write_tables(&m, &layout, itsmig_kvm_vm_memory(vm), &d) < 0) {
        guest_tap_ok(false, "bad image: %s: base image written", b->name);
        goto out;
    }
    b->corrupt(vm, &iidr, &b0, &b1);

    in = walk_input(iidr, b0, b1);
    if (itsmig_its_walk(&in, itsmig_kvm_vm_memory(vm), &rep, &d) < 0) {
        guest_tap_ok(false, "bad image: %s: walked", b->name);
        guest_tap_diag("  %s", d.text);
        goto out;
    }
    predicted = rep.restore_errno;
    kernel = -restore(vm, iidr, b0, b1, &step, &d);
    guest_tap_ok(predicted == kernel,
                 "bad image: %s: predicted %s, the kernel's %s returned %s", b->name,
                 itsmig_errno_name(predicted), step, itsmig_errno_name(kernel));
    if (b->cause)
        guest_tap_ok(rep.restore_cause && strcmp(rep.restore_cause, b->cause) == 0,
                     "bad image: %s: the linter names %s", b->name, b->cause);
    else
        guest_tap_ok(kernel == 0 && rep.restore_cause == NULL,
                     "bad image: %s: restores, as predicted", b->name);
    if (rep.restore_cause && (!b->cause || strcmp(rep.restore_cause, b->cause) != 0))
        guest_tap_diag("  linter named %s", rep.restore_cause);
    /* RAM as it was handed to RESTORE_TABLES: the kernel clears consumed
     * pending bits, and a failed restore leaves the tables as they were. */
    dump_for_host(vm, iidr, b0, b1, kernel, NULL);
out:
    itsmig_its_report_clear(&rep);
    itsmig_kvm_vm_free(vm);
}

void guest_tests_tables(void)
{
    ItsmigDiag d = {0};

    if (itsmig_kvm_vm_check_host(&d) < 0) {
        guest_tap_ok(false, "tables: KVM with a vGICv3 ITS is available");
        guest_tap_diag("  %s", d.text);
        return;
    }
    round_trips();
    for (size_t i = 0; i < sizeof(bad_images) / sizeof(bad_images[0]); i++)
        bad_image(&bad_images[i]);
}
