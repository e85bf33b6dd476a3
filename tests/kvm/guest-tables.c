/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The codec against the real in-kernel vITS: tables written by
 * itsmig_its_write_tables() are restored by KVM, saved again in place over
 * poisoned memory and decoded (round trips), and broken images are handed to
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

#define RAM         ITSMIG_KVM_VM_RAM_BASE
#define RAM_SIZE    (64ull << 20)
#define NR_VCPUS    4u
#define DT          (RAM + 0x000000) /* device table, up to 9 pages */
#define DT2         (RAM + 0x100000) /* a second device table */
#define CT          (RAM + 0x200000)
#define CMDQ        (RAM + 0x220000)
#define L2          (RAM + 0x300000) /* level-2 pages of DT */
#define PROP        (RAM + 0x400000)
#define PEND(c)     (RAM + 0x410000 + 0x10000ull * (c))
#define ITT         (RAM + 0x500000)
#define LPI_ID_BITS 16

/*
 * What the tables hold where a save wrote nothing.  Not zero, so that an
 * entry the kernel did not write cannot pass for one it wrote; and, as the
 * kernel's restore reads it, empty: Valid clear in DTE, CTE and level-1
 * entry formats, pINTID 0 in the ITE format.
 */
#define POISON 0x5a5a00000000a5a5ull

static uint64_t pendbasers[NR_VCPUS];

static uint8_t *ram(ItsmigKvmVm *vm, uint64_t gpa, uint64_t len)
{
    return itsmig_guest_mem_ptr(itsmig_kvm_vm_memory(vm), gpa, len);
}

static void put(ItsmigKvmVm *vm, uint64_t gpa, uint64_t raw)
{
    itsmig_le64_store(ram(vm, gpa, 8), raw);
}

static ItsmigKvmVm *new_vm(const char *tag)
{
    ItsmigKvmVmConfig cfg = {
        .nr_vcpus = NR_VCPUS, .ram_size = RAM_SIZE, .with_its = true, .init_vgic = true};
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
 * real kernel refused.  Only non-zero words other than the round trips'
 * poison (which the kernel's restore reads as empty entries) are printed.
 */
static unsigned dump_count;

static void dump_for_host(ItsmigKvmVm *vm, uint32_t iidr, uint64_t b0, uint64_t b1,
                          int kernel_errno, const ItsmigItsMapping *expect)
{
    const uint8_t *p = ram(vm, RAM, RAM_SIZE);
    unsigned id = ++dump_count;

    printf("ITSMIG-DUMP %u begin ram=0x%llx ram_size=%llu iidr=0x%x baser0=0x%llx baser1=0x%llx "
           "vcpus=%u errno=%s propbaser=0x%llx",
           id, (unsigned long long)RAM, (unsigned long long)RAM_SIZE, iidr, (unsigned long long)b0,
           (unsigned long long)b1, NR_VCPUS, itsmig_errno_name(kernel_errno),
           (unsigned long long)itsmig_gicr_propbaser_make(PROP, LPI_ID_BITS));
    for (unsigned c = 0; c < NR_VCPUS; c++)
        printf(" pendbaser=0x%llx", (unsigned long long)pendbasers[c]);
    printf("\n");
    for (uint64_t off = 0; off < RAM_SIZE; off += 8) {
        uint64_t v = itsmig_le64_load(p + off);

        if (v && v != POISON)
            printf("ITSMIG-DUMP %u mem %llx %llx\n", id, (unsigned long long)(RAM + off),
                   (unsigned long long)v);
    }
    /* The mapping as itsmigctl's human output prints it. */
    for (size_t i = 0; expect && i < expect->n_collections; i++) {
        if (expect->collections[i].target == ITSMIG_ITS_COLLECTION_UNMAPPED)
            printf("ITSMIG-DUMP %u map   ICID %-5u -> unmapped\n", id, expect->collections[i].icid);
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

static void poison(ItsmigKvmVm *vm, uint64_t gpa, uint64_t len)
{
    for (uint64_t off = 0; off < len; off += 8)
        put(vm, gpa + off, POISON);
}

/* Whether the saved table at @gpa holds what the codec wrote (@want, @len
 * bytes): its entries where the codec wrote one, else untouched poison;
 * @zero_at (an entry index, or -1) is the terminating zero entry. */
static bool saved_as_codec(ItsmigKvmVm *vm, uint64_t gpa, const uint8_t *want, uint64_t len,
                           int64_t zero_at, const char *what)
{
    const uint8_t *got = ram(vm, gpa, len);

    for (uint64_t off = 0; off < len; off += 8) {
        uint64_t w = itsmig_le64_load(want + off), g = itsmig_le64_load(got + off);
        uint64_t expect = w ? w : (int64_t)(off / 8) == zero_at ? 0 : POISON;

        if (g != expect) {
            guest_tap_diag("  %s entry at 0x%llx: 0x%016llx, want 0x%016llx", what,
                           (unsigned long long)(gpa + off), (unsigned long long)g,
                           (unsigned long long)expect);
            return false;
        }
    }
    return true;
}

/*
 * Tables written by the codec are restored by the kernel; then the table
 * memory is poisoned and the kernel saves in place (same GITS_BASERs, as
 * the upstream selftest vgic_its_save.c does: a GITS_BASER change may drop
 * the mappings, see the "baser change" cases); what it wrote must decode to
 * the same mapping and be, entry for entry, what the codec wrote.
 */
static void round_trip(const char *tag, const ItsmigItsMapping *m, unsigned dt_pages, bool indirect)
{
    uint64_t b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, dt_pages, indirect);
    uint64_t b1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    uint64_t dt_bytes = (uint64_t)dt_pages * ITSMIG_ITS_TABLE_PAGE;
    uint64_t itt_bytes = RAM + RAM_SIZE - ITT;
    uint64_t l2_bytes = 8ull * ITSMIG_ITS_TABLE_PAGE;
    ItsmigItsLayout layout = {b0, b1, indirect ? L2 : 0};
    uint8_t *before_dt = NULL, *before_ct = NULL, *before_itt = NULL, *before_l2 = NULL;
    ItsmigItsWalkInput in;
    ItsmigItsReport rep = {0};
    ItsmigKvmVm *vm;
    ItsmigDiag d = {0};
    const char *step = "";
    bool same;
    int r;

    vm = new_vm(tag);
    if (!vm)
        return;
    r = itsmig_its_write_tables(m, &layout, itsmig_kvm_vm_memory(vm), &d);
    if (!guest_tap_ok(r == 0, "%s: tables written (%zu devices, %zu events, %zu collections)", tag,
                      m->n_devices, m->n_events, m->n_collections)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }
    before_dt = malloc(dt_bytes);
    before_ct = malloc(ITSMIG_ITS_TABLE_PAGE);
    before_itt = malloc(itt_bytes);
    before_l2 = malloc(l2_bytes);
    if (!before_dt || !before_ct || !before_itt || !before_l2)
        goto out;
    memcpy(before_dt, ram(vm, DT, dt_bytes), dt_bytes);
    memcpy(before_ct, ram(vm, CT, ITSMIG_ITS_TABLE_PAGE), ITSMIG_ITS_TABLE_PAGE);
    memcpy(before_itt, ram(vm, ITT, itt_bytes), itt_bytes);
    memcpy(before_l2, ram(vm, L2, l2_bytes), l2_bytes);

    r = restore(vm, itsmig_gits_iidr_make_kvm(0), b0, b1, &step, &d);
    if (!guest_tap_ok(r == 0, "%s: KVM restores the tables", tag)) {
        guest_tap_diag("  %s failed: %s", step, d.text);
        goto out;
    }

    /* The level-1 table is the guest's: the save only reads it. */
    if (indirect)
        poison(vm, L2, l2_bytes);
    else
        poison(vm, DT, dt_bytes);
    poison(vm, CT, ITSMIG_ITS_TABLE_PAGE);
    for (size_t i = 0; i < m->n_devices; i++)
        poison(vm, m->devices[i].itt_addr, 8ull << m->devices[i].event_id_bits);
    r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, &d);
    if (!guest_tap_ok(r == 0, "%s: KVM saves the tables in place, over poison", tag)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }

    in = walk_input(itsmig_gits_iidr_make_kvm(0), b0, b1);
    r = itsmig_its_walk(&in, itsmig_kvm_vm_memory(vm), &rep, &d);
    guest_tap_ok(r == 0 && rep.restore_errno == 0 && itsmig_its_mapping_equal(m, &rep.mapping),
                 "%s: the kernel's saved tables decode to the same mapping", tag);
    if (r == 0 && !itsmig_its_mapping_equal(m, &rep.mapping))
        guest_tap_diag("  decoded %zu devices / %zu events / %zu collections, errno %d (%s)",
                       rep.mapping.n_devices, rep.mapping.n_events, rep.mapping.n_collections,
                       rep.restore_errno, rep.restore_cause ? rep.restore_cause : "-");

    if (indirect) {
        same = true;
        for (unsigned i = 0; i < 8; i++) {
            uint64_t raw = itsmig_le64_load(ram(vm, DT + 8ull * i, 8));

            if (raw >> 63) {
                uint64_t l2 = (raw & ((1ull << 52) - 1)) - L2;

                same = same && saved_as_codec(vm, L2 + l2, before_l2 + l2, ITSMIG_ITS_TABLE_PAGE,
                                              -1, "level-2 DTE");
            }
        }
        guest_tap_ok(same, "%s: level-2 device table entries as the codec's, the rest untouched",
                     tag);
    } else {
        guest_tap_ok(saved_as_codec(vm, DT, before_dt, dt_bytes, -1, "DTE"),
                     "%s: device table entries as the codec's, the rest untouched", tag);
    }
    guest_tap_ok(saved_as_codec(
                     vm, CT, before_ct, ITSMIG_ITS_TABLE_PAGE,
                     m->n_collections < ITSMIG_ITS_TABLE_PAGE / 8 ? (int64_t)m->n_collections : -1,
                     "CTE"),
                 "%s: collection table entries as the codec's, then one zero entry", tag);
    same = true;
    for (size_t i = 0; same && i < m->n_devices; i++) {
        uint64_t off = m->devices[i].itt_addr - ITT;

        same = saved_as_codec(vm, m->devices[i].itt_addr, before_itt + off,
                              8ull << m->devices[i].event_id_bits, -1, "ITE");
    }
    guest_tap_ok(same, "%s: ITT entries as the codec's, the rest untouched", tag);
    if (m->n_events < 2000) /* keep the console short */
        dump_for_host(vm, itsmig_gits_iidr_make_kvm(0), b0, b1, 0, m);
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
        .seed = 1,
        .n_devices = 48,
        .device_id_span = 65536,
        .max_events = 40,
        .min_event_bits = 1,
        .max_event_bits = 8,
        .n_collections = 12,
        .icid_span = 8192,
        .nr_vcpus = NR_VCPUS,
        .unmapped_percent = 25,
        .itt_base = ITT,
        .lpi_base = 8192,
    };
    ItsFixtureParams many = {
        .seed = 2,
        .n_devices = 4,
        .device_id_span = 64,
        .max_events = 12000,
        .min_event_bits = 14,
        .max_event_bits = 16,
        .n_collections = 4,
        .icid_span = 4,
        .nr_vcpus = NR_VCPUS,
        .unmapped_percent = 0,
        .itt_base = ITT,
        .lpi_base = 8192,
    };
    ItsFixtureParams unmapped = {
        .seed = 3,
        .n_devices = 6,
        .device_id_span = 8192,
        .max_events = 20,
        .min_event_bits = 2,
        .max_event_bits = 6,
        .n_collections = 5,
        .icid_span = 300,
        .nr_vcpus = NR_VCPUS,
        .unmapped_percent = 100,
        .itt_base = ITT,
        .lpi_base = 20000,
    };
    /* Device IDs 16383+ apart: the kernel caps next at 2^14-1. */
    ItsmigItsDevice devs[3] = {
        {.device_id = 0, .itt_addr = ITT, .event_id_bits = 2, .first_event = 0, .n_events = 2},
        {.device_id = 30000,
         .itt_addr = ITT + 256,
         .event_id_bits = 16,
         .first_event = 2,
         .n_events = 2},
        {.device_id = 65535,
         .itt_addr = ITT + 0x100000,
         .event_id_bits = 1,
         .first_event = 4,
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
    const char *cause; /* the finding the walker must name; NULL = restore succeeds */
    void (*corrupt)(ItsmigKvmVm *vm, uint32_t *iidr, uint64_t *b0, uint64_t *b1);
} BadImage;

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
    ItsmigItsMapping m = {(ItsmigItsDevice *)base_devs,     1, (ItsmigItsEvent *)base_evs, 2,
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
    guest_tap_ok(predicted == kernel, "bad image: %s: predicted %s, the kernel's %s returned %s",
                 b->name, itsmig_errno_name(predicted), step, itsmig_errno_name(kernel));
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

/* ---- what a guest can break: the upstream selftest's cases -------------------- */

#define CMDQ_SIZE 0x10000u /* 64K: 16 4K pages */

/* Runs @n commands (4 words each) through the command queue, wrapping as
 * a guest does, in batches the queue holds. */
static int its_cmds(ItsmigKvmVm *vm, const uint64_t (*cmds)[4], size_t n, ItsmigDiag *d)
{
    uint64_t pos = 0;
    int r;

    r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_CWRITER, &pos, d);
    for (size_t i = 0; r == 0 && i < n;) {
        size_t batch = n - i < CMDQ_SIZE / 32 - 1 ? n - i : CMDQ_SIZE / 32 - 1;
        uint64_t creadr = 0;

        for (size_t j = 0; j < batch; j++, i++) {
            for (unsigned w = 0; w < 4; w++)
                put(vm, CMDQ + pos + 8 * w, cmds[i][w]);
            pos = (pos + 32) % CMDQ_SIZE;
        }
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CWRITER, pos, d);
        if (r == 0)
            r = itsmig_kvm_vm_its_get(vm, ITSMIG_GITS_CREADR, &creadr, d);
        if (r == 0 && creadr != pos)
            r = itsmig_diag_set(d, EIO, "the ITS stopped at 0x%llx of 0x%llx",
                                (unsigned long long)creadr, (unsigned long long)pos);
    }
    return r;
}

static int its_enable(ItsmigKvmVm *vm, uint64_t b0, uint64_t b1, ItsmigDiag *d)
{
    int r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CBASER,
                                  itsmig_gits_cbaser_make(CMDQ, CMDQ_SIZE / 4096), d);

    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(0), b0, d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(1), b1, d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, ITSMIG_GITS_CTLR_ENABLED, d);
    return r;
}

/*
 * The save of a state a guest broke, then what happens to it: the kernel's
 * SAVE_TABLES against the walker's prediction from the measured semantics;
 * what the save wrote against the predicted saved mapping; and the kernel's
 * RESTORE_TABLES of it (after CTRL_RESET, the BASERs written back) against
 * the walker's prediction for that image.
 */
static void check_save(ItsmigKvmVm *vm, const char *tag, const ItsmigItsSaveInput *sin)
{
    ItsmigItsSavePrediction pred = {0};
    ItsmigItsWalkInput in = walk_input(itsmig_gits_iidr_make_kvm(0), sin->baser0, sin->baser1);
    ItsmigItsReport rep = {0};
    ItsmigDiag d = {0};
    const char *step = "";
    int r, kernel;

    if (!guest_semantics.measured) {
        guest_tap_ok(false, "%s: the probe measured this kernel's vITS behaviour", tag);
        return;
    }
    if (itsmig_its_predict_save(sin, itsmig_kvm_vm_memory(vm), &pred, &d) < 0) {
        guest_tap_ok(false, "%s: save predicted", tag);
        guest_tap_diag("  %s", d.text);
        return;
    }
    kernel = -itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_SAVE_TABLES, &d);
    guest_tap_ok(kernel == pred.save_errno,
                 "%s: SAVE_TABLES returns %s, as predicted from the measured behaviour (%s)", tag,
                 itsmig_errno_name(kernel), pred.save_cause ? pred.save_cause : "saves");
    if (kernel)
        guest_tap_diag("  %s", d.text);
    guest_tap_diag("  predicted: %zu devices skipped, %zu dropped, %zu collections dropped, %zu "
                   "written past the table",
                   pred.n_devices_skipped, pred.n_devices_dropped, pred.n_collections_dropped,
                   pred.n_collections_overflow);

    r = itsmig_its_walk(&in, itsmig_kvm_vm_memory(vm), &rep, &d);
    if (!guest_tap_ok(r == 0, "%s: the saved tables walked", tag))
        goto out;
    if (kernel == 0) {
        guest_tap_ok(rep.restore_errno == 0 && itsmig_its_mapping_equal(&pred.saved, &rep.mapping),
                     "%s: the saved tables hold the predicted mapping (%zu devices, %zu events, "
                     "%zu collections)",
                     tag, pred.saved.n_devices, pred.saved.n_events, pred.saved.n_collections);
        if (!itsmig_its_mapping_equal(&pred.saved, &rep.mapping))
            guest_tap_diag("  decoded %zu devices / %zu events / %zu collections, %s",
                           rep.mapping.n_devices, rep.mapping.n_events, rep.mapping.n_collections,
                           rep.restore_cause ? rep.restore_cause : "no finding");
        if (pred.saved.n_events + pred.saved.n_collections < 2000) /* keep the console short */
            dump_for_host(vm, itsmig_gits_iidr_make_kvm(0), sin->baser0, sin->baser1, 0,
                          &pred.saved);
    }

    r = itsmig_kvm_vm_its_ctrl(vm, ITSMIG_KVM_ITS_CTRL_RESET, &d);
    if (!guest_tap_ok(r == 0, "%s: CTRL_RESET before the restore", tag)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }
    r = -restore(vm, itsmig_gits_iidr_make_kvm(0), sin->baser0, sin->baser1, &step, &d);
    guest_tap_ok(r == rep.restore_errno,
                 "%s: RESTORE_TABLES of what was saved: predicted %s, the kernel's %s returned %s",
                 tag, itsmig_errno_name(rep.restore_errno), step, itsmig_errno_name(r));
    if (r != rep.restore_errno)
        guest_tap_diag("  walker: %s; kernel: %s", rep.restore_cause ? rep.restore_cause : "-",
                       d.text);
out:
    itsmig_its_report_clear(&rep);
    itsmig_its_save_prediction_clear(&pred);
}

#define SHRINK_COLLECTIONS (ITSMIG_ITS_TABLE_PAGE / 8 + 1) /* one more than a page holds */

/* The guest maps more collections than one page of collection table holds,
 * then shrinks the table to one page (ITS disabled, Valid kept). */
static void baser_change_collections(void)
{
    const char *tag = "baser change: collection table shrunk under mapped collections";
    uint64_t b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, false);
    uint64_t b1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 2, false);
    uint64_t b1_shrunk = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    uint64_t(*cmds)[4] = calloc(SHRINK_COLLECTIONS, sizeof(*cmds));
    ItsmigItsCollection *cols = calloc(SHRINK_COLLECTIONS, sizeof(*cols));
    ItsmigItsMapping live = {NULL, 0, NULL, 0, cols, SHRINK_COLLECTIONS};
    ItsmigItsSaveInput sin = {
        .mapping = &live, .baser0 = b0, .baser1 = b1_shrunk, .baser1_changed = true};
    ItsmigKvmVm *vm = new_vm(tag);
    ItsmigDiag d = {0};
    int r;

    if (!vm || !cmds || !cols)
        goto out;
    for (unsigned i = 0; i < SHRINK_COLLECTIONS; i++) {
        cols[i].icid = (uint16_t)i;
        cols[i].target = i % NR_VCPUS;
        cmds[i][0] = 0x09; /* MAPC */
        cmds[i][2] = 1ull << 63 | (uint64_t)cols[i].target << 16 | i;
    }
    r = its_enable(vm, b0, b1, &d);
    if (r == 0)
        r = its_cmds(vm, (const uint64_t(*)[4])cmds, SHRINK_COLLECTIONS, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, 0, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(1), b1_shrunk, &d);
    if (!guest_tap_ok(r == 0, "%s: %u collections mapped by MAPC, table shrunk to one page", tag,
                      SHRINK_COLLECTIONS)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }
    poison(vm, CT, 2ull * ITSMIG_ITS_TABLE_PAGE);
    sin.semantics.unreachable_device_errno = guest_semantics.save_unreachable_device_errno;
    sin.semantics.baser_write_keeps_mappings = guest_semantics.baser_write_keeps_mappings;
    check_save(vm, tag, &sin);
    if (guest_semantics.baser_write_keeps_mappings) {
        ItsmigItsCte cte;

        itsmig_its_cte_decode(itsmig_le64_load(ram(vm, CT + ITSMIG_ITS_TABLE_PAGE, 8)), &cte);
        guest_tap_ok(cte.valid && cte.icid == SHRINK_COLLECTIONS - 1,
                     "%s: the collection the table cannot hold was written past its end", tag);
    } else {
        guest_tap_ok(itsmig_le64_load(ram(vm, CT, 8)) == 0 &&
                         itsmig_le64_load(ram(vm, CT + 8, 8)) == POISON,
                     "%s: the save wrote only the terminating entry", tag);
    }
out:
    free(cmds);
    free(cols);
    itsmig_kvm_vm_free(vm);
}

/* The guest moves the device table (ITS disabled, Valid kept) while a
 * device is mapped. */
static void baser_change_devices(void)
{
    const char *tag = "baser change: device table moved under a mapped device";
    uint64_t b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, false);
    uint64_t b0_moved = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT2, 1, false);
    uint64_t b1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    const uint64_t cmds[][4] = {
        {0x08 | 7ull << 32, 2 - 1, 1ull << 63 | ITT, 0}, /* MAPD 7, 2 EventID bits */
        {0x09, 0, 1ull << 63 | 2ull << 16 | 3, 0},       /* MAPC 3 -> vCPU 2 */
        {0x0a | 7ull << 32, 1 | 8200ull << 32, 3, 0},    /* MAPTI 7/1 -> 8200 via 3 */
    };
    ItsmigItsDevice dev = {.device_id = 7, .itt_addr = ITT, .event_id_bits = 2, .n_events = 1};
    ItsmigItsEvent ev = {.event_id = 1, .pintid = 8200, .icid = 3};
    ItsmigItsCollection col = {.icid = 3, .target = 2};
    ItsmigItsMapping live = {&dev, 1, &ev, 1, &col, 1};
    ItsmigItsSaveInput sin = {
        .mapping = &live, .baser0 = b0_moved, .baser1 = b1, .baser0_changed = true};
    ItsmigKvmVm *vm = new_vm(tag);
    ItsmigDiag d = {0};
    int r;

    if (!vm)
        return;
    r = its_enable(vm, b0, b1, &d);
    if (r == 0)
        r = its_cmds(vm, cmds, 3, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_CTLR, 0, &d);
    if (r == 0)
        r = itsmig_kvm_vm_its_set(vm, ITSMIG_GITS_BASER(0), b0_moved, &d);
    if (!guest_tap_ok(r == 0, "%s: MAPD, MAPC, MAPTI, then the device table moved", tag)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }
    poison(vm, DT2, ITSMIG_ITS_TABLE_PAGE);
    poison(vm, CT, ITSMIG_ITS_TABLE_PAGE);
    poison(vm, ITT, 32);
    sin.semantics.unreachable_device_errno = guest_semantics.save_unreachable_device_errno;
    sin.semantics.baser_write_keeps_mappings = guest_semantics.baser_write_keeps_mappings;
    check_save(vm, tag, &sin);
out:
    itsmig_kvm_vm_free(vm);
}

/* Two devices, one per level-2 page of a two-level device table; the guest
 * then clears the level-1 entry of the second, behind KVM's back. */
static void unreachable_device(void)
{
    const char *tag = "unreachable device: level-2 page of a mapped device dropped";
    uint64_t b0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, true);
    uint64_t b1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    uint32_t dev_b = ITSMIG_ITS_L2_DTES; /* the first DeviceID of the second page */
    const uint64_t cmds[][4] = {
        {0x09, 0, 1ull << 63 | 1ull << 16 | 0, 0}, /* MAPC 0 -> vCPU 1 */
        {0x08, 2 - 1, 1ull << 63 | ITT, 0},        /* MAPD 0 */
        {0x08 | (uint64_t)dev_b << 32, 2 - 1, 1ull << 63 | (ITT + 0x100), 0},
        {0x0a, 0 | 8192ull << 32, 0, 0},                         /* MAPTI 0/0 -> 8192 */
        {0x0a | (uint64_t)dev_b << 32, 3 | 8193ull << 32, 0, 0}, /* MAPTI B/3 -> 8193 */
    };
    ItsmigItsDevice devs[2] = {
        {.device_id = 0, .itt_addr = ITT, .event_id_bits = 2, .first_event = 0, .n_events = 1},
        {.device_id = dev_b,
         .itt_addr = ITT + 0x100,
         .event_id_bits = 2,
         .first_event = 1,
         .n_events = 1},
    };
    ItsmigItsEvent evs[2] = {{0, 8192, 0}, {3, 8193, 0}};
    ItsmigItsCollection col = {.icid = 0, .target = 1};
    ItsmigItsMapping live = {devs, 2, evs, 2, &col, 1};
    ItsmigItsSaveInput sin = {.mapping = &live, .baser0 = b0, .baser1 = b1};
    ItsmigKvmVm *vm = new_vm(tag);
    ItsmigDiag d = {0};
    int r;

    if (!vm)
        return;
    put(vm, DT, 1ull << 63 | L2);
    put(vm, DT + 8, 1ull << 63 | (L2 + ITSMIG_ITS_TABLE_PAGE));
    r = its_enable(vm, b0, b1, &d);
    if (r == 0)
        r = its_cmds(vm, cmds, 5, &d);
    if (!guest_tap_ok(r == 0, "%s: MAPC, MAPD and MAPTI for devices 0 and %u", tag, dev_b)) {
        guest_tap_diag("  %s", d.text);
        goto out;
    }
    put(vm, DT + 8, 0);
    poison(vm, L2, 2ull * ITSMIG_ITS_TABLE_PAGE);
    poison(vm, CT, ITSMIG_ITS_TABLE_PAGE);
    poison(vm, ITT, 0x200);
    sin.semantics.unreachable_device_errno = guest_semantics.save_unreachable_device_errno;
    sin.semantics.baser_write_keeps_mappings = guest_semantics.baser_write_keeps_mappings;
    check_save(vm, tag, &sin);
    guest_tap_ok(itsmig_le64_load(ram(vm, L2 + ITSMIG_ITS_TABLE_PAGE, 8)) == POISON,
                 "%s: nothing written into the dropped page", tag);
out:
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
    baser_change_collections();
    baser_change_devices();
    unreachable_device();
}
