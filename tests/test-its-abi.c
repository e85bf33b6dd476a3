/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include <sys/resource.h>

#include "itsmig/its-abi.h"
#include "its-fixtures.h"

/* A scratch guest: 8 MiB of RAM at the virt machine's RAM base. */
#define RAM      0x40000000ull
#define RAM_SIZE (8ull << 20)
#define DT       (RAM + 0x000000) /* device table, 1..9 pages */
#define CT       (RAM + 0x100000) /* collection table, 1 page */
#define L2       (RAM + 0x110000) /* level-2 pages */
#define ITT      (RAM + 0x200000) /* ITTs */
#define PROP     (RAM + 0x700000)
#define PEND     (RAM + 0x720000)

typedef struct {
    ItsmigGuestMem mem;
    ItsmigItsWalkInput in;
    ItsmigItsReport rep;
} Img;

static void img_init(Img *img)
{
    memset(img, 0, sizeof(*img));
    g_assert_cmpint(its_fixture_mem_new(RAM, RAM_SIZE, &img->mem), ==, 0);
    img->in.iidr = itsmig_gits_iidr_make_kvm(0);
    img->in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, false);
    img->in.baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    img->in.nr_vcpus = 4;
}

static void img_clear(Img *img)
{
    itsmig_its_report_clear(&img->rep);
    its_fixture_mem_free(&img->mem);
}

static void put(Img *img, uint64_t gpa, uint64_t raw)
{
    uint8_t *p = itsmig_guest_mem_ptr(&img->mem, gpa, 8);

    g_assert_nonnull(p);
    itsmig_le64_store(p, raw);
}

static void put_dte(Img *img, uint64_t gpa, uint32_t next, uint64_t itt, unsigned bits)
{
    ItsmigItsDte dte = {.valid = true, .next = next, .itt_addr = itt, .event_id_bits = bits};
    uint64_t raw;

    g_assert_cmpint(itsmig_its_dte_encode(&dte, &raw), ==, 0);
    put(img, gpa, raw);
}

static void put_ite(Img *img, uint64_t gpa, uint32_t next, uint32_t pintid, uint16_t icid)
{
    ItsmigItsIte ite = {.next = next, .pintid = pintid, .icid = icid};
    uint64_t raw;

    g_assert_cmpint(itsmig_its_ite_encode(&ite, &raw), ==, 0);
    put(img, gpa, raw);
}

static void put_cte(Img *img, unsigned index, uint16_t icid, uint32_t target)
{
    ItsmigItsCte cte = {.valid = true, .icid = icid, .target = target};
    uint64_t raw;

    g_assert_cmpint(itsmig_its_cte_encode(&cte, &raw), ==, 0);
    put(img, CT + 8ull * index, raw);
}

/* One device (0) with one event (0 -> LPI 8192, collection 0 -> vCPU 0). */
static void img_minimal(Img *img)
{
    put_cte(img, 0, 0, 0);
    put_dte(img, DT, 0, ITT, 4);
    put_ite(img, ITT, 0, 8192, 0);
}

static const ItsmigItsFinding *find(const ItsmigItsReport *r, const char *code)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        if (strcmp(r->findings[i].code, code) == 0)
            return &r->findings[i];
    }
    return NULL;
}

static void walk(Img *img)
{
    ItsmigDiag diag;

    itsmig_its_report_clear(&img->rep);
    g_assert_cmpint(itsmig_its_walk(&img->in, &img->mem, &img->rep, &diag), ==, 0);
}

/* Walks and checks that the restore is predicted to fail with @errnum
 * because of @code, and that the finding names it as an error. */
static void expect_failure(Img *img, const char *code, int errnum)
{
    const ItsmigItsFinding *f;

    walk(img);
    g_assert_cmpstr(img->rep.restore_cause, ==, code);
    g_assert_cmpint(img->rep.restore_errno, ==, errnum);
    f = find(&img->rep, code);
    g_assert_nonnull(f);
    g_assert_cmpint(f->severity, ==, ITSMIG_SEVERITY_ERROR);
    g_assert_cmpint(f->errnum, ==, errnum);
    g_assert_cmpuint(strlen(f->message), >, 10);
}

static void expect_finding(Img *img, const char *code, ItsmigSeverity sev)
{
    const ItsmigItsFinding *f;

    walk(img);
    f = find(&img->rep, code);
    g_assert_nonnull(f);
    g_assert_cmpint(f->severity, ==, sev);
    g_assert_cmpint(f->errnum, ==, 0);
}

/* ---- registers ---------------------------------------------------------------- */

static void test_iidr_kvm(void)
{
    uint32_t iidr = itsmig_gits_iidr_make_kvm(0);

    g_assert_cmphex(iidr, ==, 0x4b00043b);
    g_assert_cmpuint(itsmig_gits_iidr_revision(iidr), ==, 0);
    g_assert_cmphex(itsmig_gits_iidr_product(iidr), ==, 0x4b);
    g_assert_cmphex(itsmig_gits_iidr_implementer(iidr), ==, 0x43b);
    g_assert_cmpuint(itsmig_gits_iidr_revision(itsmig_gits_iidr_make_kvm(1)), ==, 1);
    g_assert_cmphex(itsmig_gits_iidr_make_kvm(15), ==, 0x4b00f43b);
}

static void test_typer_kvm(void)
{
    /* KVM: PLPIS, 8-byte ITT entries, 16 EventID bits, 16 DeviceID bits. */
    uint64_t typer = 1 | (7ull << 4) | (15ull << 8) | (15ull << 13);
    ItsmigGitsTyper t;

    itsmig_gits_typer_decode(typer, &t);
    g_assert_true(t.physical);
    g_assert_false(t.virt);
    g_assert_cmpuint(t.itt_entry_size, ==, 8);
    g_assert_cmpuint(t.id_bits, ==, 16);
    g_assert_cmpuint(t.dev_bits, ==, 16);
    g_assert_false(t.pta);
    g_assert_false(t.cil);
    g_assert_cmpuint(t.cid_bits, ==, 16);

    itsmig_gits_typer_decode((1ull << 36) | (7ull << 32) | (1ull << 19) | 2, &t);
    g_assert_true(t.cil);
    g_assert_cmpuint(t.cid_bits, ==, 8);
    g_assert_true(t.pta);
    g_assert_true(t.virt);
}

static void test_baser_make_decode(void)
{
    uint64_t v = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, 0x40010000, 8, true);
    ItsmigGitsBaser b;

    itsmig_gits_baser_decode(v, &b);
    g_assert_true(b.valid);
    g_assert_true(b.indirect);
    g_assert_cmpuint(b.type, ==, ITSMIG_BASER_TYPE_DEVICE);
    g_assert_cmpuint(b.entry_size, ==, 8);
    g_assert_cmpuint(b.page_size, ==, 65536);
    g_assert_cmpuint(b.nr_pages, ==, 8);
    g_assert_cmphex(b.addr, ==, 0x40010000);
    g_assert_cmpuint(itsmig_gits_baser_table_size(v), ==, 8 * 65536);
}

static void test_baser_addr_52bit(void)
{
    /* 64K pages keep address bits [51:48] in BASER bits [15:12]. */
    uint64_t addr = 0x000f123456780000ull & ~0xffffull;
    uint64_t v = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, addr, 1, false);
    ItsmigGitsBaser b;

    g_assert_cmphex((v >> 12) & 0xf, ==, 0xf);
    itsmig_gits_baser_decode(v, &b);
    g_assert_cmphex(b.addr, ==, addr);
    g_assert_cmpuint(b.type, ==, ITSMIG_BASER_TYPE_COLLECTION);
}

static void test_baser_bad_input(void)
{
    g_assert_cmphex(itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, 0x1000, 1, false), ==, 0);
    g_assert_cmphex(itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, 1ull << 52, 1, false), ==, 0);
    g_assert_cmphex(itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, 0x10000, 0, false), ==, 0);
    g_assert_cmphex(itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, 0x10000, 257, false), ==, 0);
}

static void test_baser_4k_pages(void)
{
    /* A 4K-page value (never KVM's) decodes with its own address rule. */
    uint64_t v = (1ull << 63) | (1ull << 56) | (7ull << 48) | 0x40001000ull | (0u << 8) | 3;
    ItsmigGitsBaser b;

    itsmig_gits_baser_decode(v, &b);
    g_assert_cmpuint(b.page_size, ==, 4096);
    g_assert_cmphex(b.addr, ==, 0x40001000);
    g_assert_cmpuint(b.nr_pages, ==, 4);
}

static void test_cbaser(void)
{
    uint64_t v = itsmig_gits_cbaser_make(0x40020000, 16);
    ItsmigGitsCbaser c;

    itsmig_gits_cbaser_decode(v, &c);
    g_assert_true(c.valid);
    g_assert_cmphex(c.addr, ==, 0x40020000);
    g_assert_cmpuint(c.size, ==, 16 * 4096);
    g_assert_cmphex(itsmig_gits_cbaser_make(0x40021000, 1), ==, 0);
    g_assert_cmphex(itsmig_gits_cbaser_make(0x40020000, 0), ==, 0);
}

static void test_gicr_bases(void)
{
    uint64_t prop = itsmig_gicr_propbaser_make(0x40700000, 16);
    uint64_t pend = itsmig_gicr_pendbaser_make(0x40720000);

    g_assert_cmphex(itsmig_gicr_propbaser_addr(prop), ==, 0x40700000);
    g_assert_cmpuint(itsmig_gicr_propbaser_idbits(prop), ==, 16);
    g_assert_cmphex(prop & 0x1f, ==, 15);
    g_assert_cmphex(itsmig_gicr_pendbaser_addr(pend), ==, 0x40720000);
    g_assert_cmphex(itsmig_gicr_propbaser_make(0x40700800, 16), ==, 0);
    g_assert_cmphex(itsmig_gicr_propbaser_make(0x40700000, 13), ==, 0);
    g_assert_cmphex(itsmig_gicr_pendbaser_make(0x40721000), ==, 0);
}

/* ---- entries ------------------------------------------------------------------ */

static void test_dte_known_bits(void)
{
    ItsmigItsDte dte = {.valid = true, .next = 3, .itt_addr = 0x40012300, .event_id_bits = 5};
    uint64_t raw;

    g_assert_cmpint(itsmig_its_dte_encode(&dte, &raw), ==, 0);
    g_assert_cmphex(raw, ==, (1ull << 63) | (3ull << 49) | ((0x40012300ull >> 8) << 5) | 4);
    memset(&dte, 0xff, sizeof(dte));
    itsmig_its_dte_decode(raw, &dte);
    g_assert_true(dte.valid);
    g_assert_cmpuint(dte.next, ==, 3);
    g_assert_cmphex(dte.itt_addr, ==, 0x40012300);
    g_assert_cmpuint(dte.event_id_bits, ==, 5);
}

static void test_dte_rejects(void)
{
    ItsmigItsDte ok = {
        .valid = true, .next = 0x3fff, .itt_addr = 0xfffffffffff00ull, .event_id_bits = 32};
    ItsmigItsDte d;
    uint64_t raw;

    g_assert_cmpint(itsmig_its_dte_encode(&ok, &raw), ==, 0);
    d = ok, d.next = 0x4000;
    g_assert_cmpint(itsmig_its_dte_encode(&d, &raw), ==, -EINVAL);
    d = ok, d.itt_addr = 0x40000080;
    g_assert_cmpint(itsmig_its_dte_encode(&d, &raw), ==, -EINVAL);
    d = ok, d.itt_addr = 1ull << 52;
    g_assert_cmpint(itsmig_its_dte_encode(&d, &raw), ==, -EINVAL);
    d = ok, d.event_id_bits = 0;
    g_assert_cmpint(itsmig_its_dte_encode(&d, &raw), ==, -EINVAL);
    d = ok, d.event_id_bits = 33;
    g_assert_cmpint(itsmig_its_dte_encode(&d, &raw), ==, -EINVAL);
}

static void test_ite_known_bits(void)
{
    ItsmigItsIte ite = {.next = 0xffff, .pintid = 0xdeadbeef, .icid = 0x1234};
    uint64_t raw;

    g_assert_cmpint(itsmig_its_ite_encode(&ite, &raw), ==, 0);
    g_assert_cmphex(raw, ==, 0xffffdeadbeef1234ull);
    itsmig_its_ite_decode(0x0001000020000007ull, &ite);
    g_assert_cmpuint(ite.next, ==, 1);
    g_assert_cmpuint(ite.pintid, ==, 8192);
    g_assert_cmpuint(ite.icid, ==, 7);
    ite.next = 0x10000;
    g_assert_cmpint(itsmig_its_ite_encode(&ite, &raw), ==, -EINVAL);
}

static void test_cte_known_bits(void)
{
    ItsmigItsCte cte = {.valid = true, .target = ITSMIG_ITS_COLLECTION_UNMAPPED, .icid = 9};
    uint64_t raw;

    g_assert_cmpint(itsmig_its_cte_encode(&cte, &raw), ==, 0);
    g_assert_cmphex(raw, ==, (1ull << 63) | (0xffffffffull << 16) | 9);
    /* RDBase bits [51:48] are dropped on restore, as KVM does. */
    itsmig_its_cte_decode((1ull << 63) | (0xfull << 48) | (2ull << 16) | 3, &cte);
    g_assert_true(cte.valid);
    g_assert_cmpuint(cte.target, ==, 2);
    g_assert_cmpuint(cte.icid, ==, 3);
}

static void test_l1e_known_bits(void)
{
    ItsmigItsL1e l1e = {.valid = true, .l2_addr = 0x000f000040010000ull};
    uint64_t raw;

    g_assert_cmpint(itsmig_its_l1e_encode(&l1e, &raw), ==, 0);
    g_assert_cmphex(raw, ==, (1ull << 63) | 0x000f000040010000ull);
    itsmig_its_l1e_decode(raw | 0xffff, &l1e);
    g_assert_cmphex(l1e.l2_addr, ==, 0x000f000040010000ull);
    l1e.l2_addr = 0x40011000;
    g_assert_cmpint(itsmig_its_l1e_encode(&l1e, &raw), ==, -EINVAL);
}

#define FUZZ_ENTRIES 200000

static void test_fuzz_entries(void)
{
    uint64_t rng = 0x1f2e3d4c;

    for (unsigned i = 0; i < FUZZ_ENTRIES; i++) {
        uint64_t raw = its_fixture_rand(&rng), back;
        ItsmigItsDte dte;
        ItsmigItsIte ite;
        ItsmigItsCte cte;
        ItsmigItsL1e l1e;

        /* Every DTE and ITE bit has a meaning: decode then encode is exact. */
        itsmig_its_dte_decode(raw, &dte);
        g_assert_cmpint(itsmig_its_dte_encode(&dte, &back), ==, 0);
        g_assert_cmphex(back, ==, raw);
        itsmig_its_ite_decode(raw, &ite);
        g_assert_cmpint(itsmig_its_ite_encode(&ite, &back), ==, 0);
        g_assert_cmphex(back, ==, raw);
        /* CTE: RES0 [62:52] and RDBase [51:48] do not survive. */
        itsmig_its_cte_decode(raw, &cte);
        g_assert_cmpint(itsmig_its_cte_encode(&cte, &back), ==, 0);
        g_assert_cmphex(back, ==, raw & ((1ull << 63) | 0x0000ffffffffffffull));
        itsmig_its_l1e_decode(raw, &l1e);
        g_assert_cmpint(itsmig_its_l1e_encode(&l1e, &back), ==, 0);
        g_assert_cmphex(back, ==, raw & ((1ull << 63) | 0x000fffffffff0000ull));
    }
}

/* ---- guest memory ------------------------------------------------------------- */

static void test_guest_mem(void)
{
    uint8_t a[4096], b[4096], buf[16];
    ItsmigGuestRegion regions[] = {
        {.gpa = 0x1000, .size = sizeof(a), .data = a},
        {.gpa = 0x2000, .size = sizeof(b), .data = b},
    };
    ItsmigGuestMem mem = {.regions = regions, .n_regions = 2};
    ItsmigDiag diag;

    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    g_assert_cmpint(itsmig_guest_mem_check(&mem, &diag), ==, 0);
    g_assert_null(itsmig_guest_mem_ptr(&mem, 0x1ff8, 16)); /* spans two regions */
    g_assert_nonnull(itsmig_guest_mem_ptr(&mem, 0x1ff8, 8));
    g_assert_cmpint(itsmig_guest_mem_read(&mem, 0x1ff8, buf, 16), ==, 0);
    g_assert_cmphex(buf[7], ==, 0xaa);
    g_assert_cmphex(buf[8], ==, 0xbb);
    g_assert_cmpint(itsmig_guest_mem_read(&mem, 0x2ff8, buf, 16), ==, -EFAULT);
    g_assert_cmpint(itsmig_guest_mem_read(&mem, 0x0, buf, 1), ==, -EFAULT);
    g_assert_cmpint(itsmig_guest_mem_write(&mem, 0x1ffc, "\1\2\3\4\5\6\7\10", 8), ==, 0);
    g_assert_cmphex(a[4095], ==, 4);
    g_assert_cmphex(b[0], ==, 5);

    regions[1].gpa = 0x1800;
    g_assert_cmpint(itsmig_guest_mem_check(&mem, &diag), ==, -EINVAL);
    g_assert_nonnull(strstr(diag.text, "overlap"));
    regions[1].gpa = 0xfffffffffffff000ull;
    regions[1].size = 0x2000;
    g_assert_cmpint(itsmig_guest_mem_check(&mem, &diag), ==, -EINVAL);
}

/* ---- mappings ----------------------------------------------------------------- */

static void test_mapping_check(void)
{
    ItsmigItsDevice devs[2] = {
        {.device_id = 5, .itt_addr = ITT, .event_id_bits = 2, .first_event = 0, .n_events = 2},
        {.device_id = 9,
         .itt_addr = ITT + 256,
         .event_id_bits = 4,
         .first_event = 2,
         .n_events = 1},
    };
    ItsmigItsEvent evs[3] = {{0, 8192, 0}, {3, 8193, 0}, {15, 8194, 1}};
    ItsmigItsCollection cols[2] = {{0, 0}, {1, 1}};
    ItsmigItsMapping m = {devs, 2, evs, 3, cols, 2};
    ItsmigDiag diag;

    g_assert_cmpint(itsmig_its_mapping_check(&m, &diag), ==, 0);
    evs[1].event_id = 4; /* beyond 2 EventID bits */
    g_assert_cmpint(itsmig_its_mapping_check(&m, &diag), ==, -EINVAL);
    g_assert_nonnull(strstr(diag.text, "exceeds"));
    evs[1].event_id = 0; /* repeated */
    g_assert_cmpint(itsmig_its_mapping_check(&m, &diag), ==, -EINVAL);
    evs[1].event_id = 3;
    devs[1].device_id = 5;
    g_assert_cmpint(itsmig_its_mapping_check(&m, &diag), ==, -EINVAL);
    devs[1].device_id = 9;
    devs[1].n_events = 2;
    g_assert_cmpint(itsmig_its_mapping_check(&m, &diag), ==, -EINVAL);
    devs[1].n_events = 1;
    cols[1].icid = 0;
    g_assert_cmpint(itsmig_its_mapping_check(&m, &diag), ==, -EINVAL);
}

/* ---- writer ------------------------------------------------------------------- */

static void test_writer_canonical_bytes(void)
{
    ItsmigItsDevice devs[2] = {
        {.device_id = 1, .itt_addr = ITT, .event_id_bits = 3, .first_event = 0, .n_events = 2},
        {.device_id = 4,
         .itt_addr = ITT + 256,
         .event_id_bits = 1,
         .first_event = 2,
         .n_events = 1},
    };
    ItsmigItsEvent evs[3] = {{2, 8200, 7}, {6, 8201, 3}, {0, 9000, 7}};
    ItsmigItsCollection cols[2] = {{7, 1}, {3, ITSMIG_ITS_COLLECTION_UNMAPPED}};
    ItsmigItsMapping m = {devs, 2, evs, 3, cols, 2};
    ItsmigItsLayout layout;
    ItsmigDiag diag;
    Img img;

    img_init(&img);
    layout = (ItsmigItsLayout){img.in.baser0, img.in.baser1, 0};
    put(&img, CT + 16, 0x1234); /* stale entry: must become the terminator */
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, 0);

    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, DT + 8, 8)), ==,
                    (1ull << 63) | (3ull << 49) | ((ITT >> 8) << 5) | 2);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, DT + 32, 8)), ==,
                    (1ull << 63) | (((ITT + 256) >> 8) << 5) | 0);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, ITT + 16, 8)), ==,
                    (4ull << 48) | (8200ull << 16) | 7);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, ITT + 48, 8)), ==,
                    (8201ull << 16) | 3);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, ITT + 256, 8)), ==,
                    (9000ull << 16) | 7);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, CT, 8)), ==,
                    (1ull << 63) | (1ull << 16) | 7);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, CT + 8, 8)), ==,
                    (1ull << 63) | (0xffffffffull << 16) | 3);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, CT + 16, 8)), ==, 0);

    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_true(itsmig_its_mapping_equal(&m, &img.rep.mapping));
    img_clear(&img);
}

static void test_writer_next_capped(void)
{
    ItsmigItsDevice devs[2] = {
        {.device_id = 10, .itt_addr = ITT, .event_id_bits = 1, .first_event = 0, .n_events = 1},
        {.device_id = 40000,
         .itt_addr = ITT + 256,
         .event_id_bits = 1,
         .first_event = 1,
         .n_events = 1},
    };
    ItsmigItsEvent evs[2] = {{1, 8192, 0}, {0, 8193, 0}};
    ItsmigItsCollection cols[1] = {{0, 0}};
    ItsmigItsMapping m = {devs, 2, evs, 2, cols, 1};
    ItsmigItsLayout layout;
    ItsmigItsDte dte;
    ItsmigDiag diag;
    Img img;

    img_init(&img);
    img.in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 8, false);
    layout = (ItsmigItsLayout){img.in.baser0, img.in.baser1, 0};
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, 0);
    itsmig_its_dte_decode(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, DT + 80, 8)), &dte);
    g_assert_cmpuint(dte.next, ==, ITSMIG_ITS_DTE_MAX_NEXT);
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_true(itsmig_its_mapping_equal(&m, &img.rep.mapping));
    g_assert_null(find(&img.rep, "dte-skipped-by-next"));
    img_clear(&img);
}

static void test_writer_collection_table_full(void)
{
    ItsmigItsCollection cols[8192];
    ItsmigItsMapping m = {0};
    ItsmigItsLayout layout;
    ItsmigDiag diag;
    Img img;

    for (unsigned i = 0; i < G_N_ELEMENTS(cols); i++)
        cols[i] = (ItsmigItsCollection){(uint16_t)i, i % 4};
    m.collections = cols;
    m.n_collections = G_N_ELEMENTS(cols);
    img_init(&img);
    put(&img, CT + 65536, 0x5555); /* just past the table: must stay */
    layout = (ItsmigItsLayout){img.in.baser0, img.in.baser1, 0};
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, 0);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, CT + 65536, 8)), ==, 0x5555);
    expect_finding(&img, "collection-table-full", ITSMIG_SEVERITY_INFO);
    g_assert_cmpuint(img.rep.mapping.n_collections, ==, 8192);

    /* One more than fits is refused rather than written past the table. */
    m.n_collections = 8192;
    img.in.baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    layout.baser1 = img.in.baser1;
    {
        ItsmigItsCollection more[8193];

        memcpy(more, cols, sizeof(cols));
        more[8192] = (ItsmigItsCollection){8192, 0};
        m.collections = more;
        m.n_collections = 8193;
        g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, -ENOSPC);
    }
    img_clear(&img);
}

static void test_writer_two_level(void)
{
    ItsmigItsDevice devs[3] = {
        {.device_id = 5, .itt_addr = ITT, .event_id_bits = 1, .first_event = 0, .n_events = 1},
        {.device_id = 8191,
         .itt_addr = ITT + 256,
         .event_id_bits = 1,
         .first_event = 1,
         .n_events = 1},
        {.device_id = 60000,
         .itt_addr = ITT + 512,
         .event_id_bits = 1,
         .first_event = 2,
         .n_events = 1},
    };
    ItsmigItsEvent evs[3] = {{0, 8192, 0}, {1, 8193, 0}, {0, 8194, 0}};
    ItsmigItsCollection cols[1] = {{0, 1}};
    ItsmigItsMapping m = {devs, 3, evs, 3, cols, 1};
    ItsmigItsLayout layout;
    ItsmigItsL1e l1e;
    ItsmigDiag diag;
    Img img;

    img_init(&img);
    img.in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, true);
    layout = (ItsmigItsLayout){img.in.baser0, img.in.baser1, 0};
    /* Without level-2 pages the save has nowhere to put the DTEs. */
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, -EINVAL);
    g_assert_nonnull(strstr(diag.text, "not valid"));

    layout.l2_alloc_base = L2;
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, 0);
    itsmig_its_l1e_decode(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, DT, 8)), &l1e);
    g_assert_true(l1e.valid);
    g_assert_cmphex(l1e.l2_addr, ==, L2);
    itsmig_its_l1e_decode(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, DT + 7 * 8, 8)), &l1e);
    g_assert_true(l1e.valid);
    g_assert_cmphex(l1e.l2_addr, ==, L2 + 65536);
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_true(itsmig_its_mapping_equal(&m, &img.rep.mapping));
    img_clear(&img);
}

static void test_writer_outside_memory(void)
{
    ItsmigItsDevice devs[1] = {
        {.device_id = 0,
         .itt_addr = RAM + RAM_SIZE,
         .event_id_bits = 1,
         .first_event = 0,
         .n_events = 1},
    };
    ItsmigItsEvent evs[1] = {{0, 8192, 0}};
    ItsmigItsCollection cols[1] = {{0, 0}};
    ItsmigItsMapping m = {devs, 1, evs, 1, cols, 1};
    ItsmigItsLayout layout;
    ItsmigDiag diag;
    Img img;

    img_init(&img);
    layout = (ItsmigItsLayout){img.in.baser0, img.in.baser1, 0};
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, -EFAULT);
    g_assert_nonnull(strstr(diag.text, "outside guest memory"));
    /* BASER0 not Valid: nothing is written, as KVM's save returns 0. */
    layout.baser0 &= ~(1ull << 63);
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &img.mem, &diag), ==, 0);
    g_assert_cmphex(itsmig_le64_load(itsmig_guest_mem_ptr(&img.mem, DT, 8)), ==, 0);
    img_clear(&img);
}

/* ---- random round trips --------------------------------------------------------- */

#define FUZZ_MAPPINGS 100000

static void test_fuzz_mappings(void)
{
    ItsmigGuestMem mem;
    uint64_t rng = 42;

    g_assert_cmpint(its_fixture_mem_new(RAM, RAM_SIZE, &mem), ==, 0);
    for (unsigned i = 0; i < FUZZ_MAPPINGS; i++) {
        bool indirect = its_fixture_rand_below(&rng, 4) == 0;
        ItsFixtureParams p = {
            .seed = its_fixture_rand(&rng),
            .n_devices = (unsigned)its_fixture_rand_below(&rng, 12),
            .device_id_span = indirect ? 65536 : 8192,
            .max_events = (unsigned)its_fixture_rand_below(&rng, 20),
            .min_event_bits = 1,
            .max_event_bits = 1 + (unsigned)its_fixture_rand_below(&rng, 9),
            .n_collections = 1 + (unsigned)its_fixture_rand_below(&rng, 16),
            .icid_span = 1 + (uint32_t)its_fixture_rand_below(&rng, 8192),
            .nr_vcpus = 4,
            .unmapped_percent = 20,
            .itt_base = ITT,
            .lpi_base = 8192 + (uint32_t)its_fixture_rand_below(&rng, 100000),
        };
        ItsmigItsWalkInput in = {
            .iidr = itsmig_gits_iidr_make_kvm(0),
            .baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, indirect),
            .baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false),
            .nr_vcpus = 4,
        };
        ItsmigItsLayout layout = {in.baser0, in.baser1, indirect ? L2 : 0};
        ItsmigItsMapping m;
        ItsmigItsReport rep;
        ItsmigDiag diag;
        uint64_t itt_end;

        if (p.n_collections > p.icid_span)
            p.n_collections = p.icid_span;
        g_assert_cmpint(its_fixture_mapping(&p, &m, &itt_end), ==, 0);
        /* A guest zeroes tables it allocates: clear what this round uses. */
        memset(mem.regions[0].data, 0, itt_end - RAM);
        g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &mem, &diag), ==, 0);
        g_assert_cmpint(itsmig_its_walk(&in, &mem, &rep, &diag), ==, 0);
        if (rep.restore_errno != 0 || !itsmig_its_mapping_equal(&m, &rep.mapping))
            g_error("round %u (seed %" G_GUINT64_FORMAT "): errno %d cause %s", i, p.seed,
                    rep.restore_errno, rep.restore_cause ? rep.restore_cause : "-");
        for (size_t f = 0; f < rep.n_findings; f++)
            if (rep.findings[f].severity == ITSMIG_SEVERITY_WARNING)
                g_error("round %u: unexpected %s: %s", i, rep.findings[f].code,
                        rep.findings[f].message);
        itsmig_its_report_clear(&rep);
        itsmig_its_mapping_clear(&m);
    }
    its_fixture_mem_free(&mem);
}

/* ---- walker findings: one test per code ---------------------------------------------- */

/* Lets this process map @extra bytes more than it has now, so that a walk
 * that wants more memory than its input justifies fails with ENOMEM. */
static void limit_address_space(uint64_t extra)
{
    g_autofree char *status = NULL;
    const char *vm;
    struct rlimit rl;

    g_assert_true(g_file_get_contents("/proc/self/status", &status, NULL, NULL));
    vm = strstr(status, "VmSize:");
    g_assert_nonnull(vm);
    rl.rlim_cur = rl.rlim_max = g_ascii_strtoull(vm + 7, NULL, 10) * 1024 + extra;
    g_assert_cmpint(setrlimit(RLIMIT_AS, &rl), ==, 0);
}

/* 4096 devices share one ITT of 4096 events: an 8 MiB image claims 16M
 * events (200 MiB and more).  The walk keeps no more events than the image
 * holds ITEs, says why it stopped, and stays within 64 MiB. */
static void test_walk_shared_itt_bounded(void)
{
    if (g_test_subprocess()) {
        Img img;

        img_init(&img);
        put_cte(&img, 0, 0, 0);
        for (unsigned d = 0; d < 4096; d++)
            put_dte(&img, DT + 8ull * d, d < 4095 ? 1 : 0, ITT, 12);
        for (unsigned e = 0; e < 4096; e++)
            put_ite(&img, ITT + 8ull * e, e < 4095 ? 1 : 0, 8192 + e, 0);
        limit_address_space(64ull << 20);
        walk(&img);
        g_assert_nonnull(find(&img.rep, "walk-event-limit-reached"));
        g_assert_cmpstr(img.rep.restore_cause, ==, "walk-event-limit-reached");
        g_assert_cmpuint(img.rep.mapping.n_events, <=, RAM_SIZE / 8);
        img_clear(&img);
        return;
    }
    g_test_trap_subprocess(NULL, 120 * G_USEC_PER_SEC, 0);
    g_test_trap_assert_passed();
}

/* One ITE with pINTID 0xffffffff: the set of mapped pINTIDs grows with the
 * events, not with the largest pINTID (a bitmap of 512 MiB). */
static void test_walk_huge_pintid_bounded(void)
{
    if (g_test_subprocess()) {
        Img img;

        img_init(&img);
        put_cte(&img, 0, 0, 0);
        put_dte(&img, DT, 0, ITT, 4);
        put_ite(&img, ITT, 1, 0xffffffffu, 0);
        put_ite(&img, ITT + 8, 0, 0xffffffffu, 0);
        limit_address_space(64ull << 20);
        walk(&img);
        g_assert_cmpuint(img.rep.mapping.n_events, ==, 2);
        g_assert_nonnull(find(&img.rep, "ite-duplicate-pintid"));
        img_clear(&img);
        return;
    }
    g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, 0);
    g_test_trap_assert_passed();
}

static void test_walk_minimal_ok(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_null(img.rep.restore_cause);
    g_assert_cmpuint(img.rep.mapping.n_devices, ==, 1);
    g_assert_cmpuint(img.rep.mapping.n_events, ==, 1);
    g_assert_cmpuint(img.rep.mapping.events[0].pintid, ==, 8192);
    g_assert_cmpuint(img.rep.mapping.n_collections, ==, 1);
    g_assert_nonnull(find(&img.rep, "lpi-config-check-skipped"));
    img_clear(&img);
}

static void test_walk_abi_revision(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    img.in.iidr = itsmig_gits_iidr_make_kvm(1);
    expect_failure(&img, "abi-revision-unsupported", EINVAL);
    g_assert_cmpuint(img.rep.abi_revision, ==, 1);
    g_assert_cmpuint(img.rep.mapping.n_devices, ==, 0);
    img_clear(&img);
}

static void test_walk_iidr_not_kvm(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    img.in.iidr = 0x0201743b; /* a GIC-700 style IIDR with Revision 0... of another product */
    img.in.iidr &= ~0xf000u;
    expect_finding(&img, "iidr-not-kvm", ITSMIG_SEVERITY_WARNING);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    img_clear(&img);
}

static void test_walk_tables_not_valid(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    img.in.baser0 &= ~(1ull << 63);
    expect_finding(&img, "device-table-not-valid", ITSMIG_SEVERITY_INFO);
    g_assert_cmpuint(img.rep.mapping.n_devices, ==, 0);
    img.in.baser1 &= ~(1ull << 63);
    expect_finding(&img, "collection-table-not-valid", ITSMIG_SEVERITY_INFO);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    img_clear(&img);
}

static void test_walk_baser_forced(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    /* Collection table claimed Indirect with 4K pages: KVM overrides both. */
    img.in.baser1 |= 1ull << 62;
    img.in.baser1 &= ~(3ull << 8);
    expect_finding(&img, "baser-fields-forced", ITSMIG_SEVERITY_WARNING);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_cmpuint(img.rep.mapping.n_collections, ==, 1);
    img_clear(&img);
}

static void test_walk_collection_target(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_cte(&img, 1, 1, 4); /* vCPU 4 of 4 */
    expect_failure(&img, "collection-target-out-of-range", EINVAL);
    img.in.nr_vcpus = ITSMIG_ITS_WALK_NO_VCPU_CHECK;
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_nonnull(find(&img.rep, "vcpu-check-skipped"));
    img_clear(&img);
}

static void test_walk_collection_duplicate(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_cte(&img, 1, 0, 1);
    expect_failure(&img, "collection-duplicate-icid", EEXIST);
    img_clear(&img);
}

static void test_walk_collection_icid_beyond(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_cte(&img, 1, 8192, 1); /* a 1-page table holds ICIDs 0..8191 */
    expect_failure(&img, "collection-icid-beyond-table", EINVAL);
    img_clear(&img);
}

static void test_walk_collection_outside(void)
{
    Img img;

    img_init(&img);
    img.in.baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, RAM + RAM_SIZE, 1, false);
    expect_failure(&img, "collection-table-outside-memory", EFAULT);
    img_clear(&img);
}

static void test_walk_device_table_outside(void)
{
    Img img;

    img_init(&img);
    put_cte(&img, 0, 0, 0);
    /* All-invalid entries are stepped over one by one, up to the end. */
    img.in.baser0 =
        itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, RAM + RAM_SIZE - 65536, 2, false);
    expect_failure(&img, "device-table-outside-memory", EFAULT);
    img_clear(&img);
}

static void test_walk_l2_outside(void)
{
    Img img;

    img_init(&img);
    put_cte(&img, 0, 0, 0);
    img.in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, true);
    put(&img, DT + 8, (1ull << 63) | 0x80000000ull);
    expect_failure(&img, "l2-table-outside-memory", EFAULT);
    img_clear(&img);
}

static void test_walk_dte_bits(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_dte(&img, DT, 0, ITT, 17);
    expect_failure(&img, "dte-event-id-bits-too-large", EINVAL);
    img_clear(&img);
}

static void test_walk_dte_beyond_devbits(void)
{
    Img img;

    img_init(&img);
    put_cte(&img, 0, 0, 0);
    img.in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 9, false);
    put_dte(&img, DT + 65536ull * 8, 0, ITT, 1);
    expect_failure(&img, "dte-device-id-beyond-devbits", EINVAL);
    img_clear(&img);
}

static void test_walk_dte_next_beyond_table(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_dte(&img, DT, 9000, ITT, 4);
    expect_finding(&img, "dte-next-beyond-table", ITSMIG_SEVERITY_WARNING);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    img_clear(&img);
}

static void test_walk_dte_skipped_and_after_last(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_dte(&img, DT, 3, ITT, 4);            /* device 0 -> next 3 */
    put_dte(&img, DT + 8, 0, ITT + 256, 1);  /* device 1: jumped over */
    put_dte(&img, DT + 24, 0, ITT + 512, 1); /* device 3: last */
    put_ite(&img, ITT + 512, 0, 8300, 0);
    put_dte(&img, DT + 40, 0, ITT + 768, 1); /* device 5: after the last */
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_cmpuint(img.rep.mapping.n_devices, ==, 2);
    g_assert_cmpuint(img.rep.mapping.devices[1].device_id, ==, 3);
    g_assert_nonnull(find(&img.rep, "dte-skipped-by-next"));
    g_assert_cmphex(find(&img.rep, "dte-skipped-by-next")->gpa, ==, DT + 8);
    g_assert_nonnull(find(&img.rep, "dte-after-last"));
    g_assert_cmphex(find(&img.rep, "dte-after-last")->gpa, ==, DT + 40);
    img_clear(&img);
}

static void test_walk_itt_outside(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_dte(&img, DT, 0, RAM + RAM_SIZE, 4);
    expect_failure(&img, "itt-outside-memory", EFAULT);
    img_clear(&img);
}

static void test_walk_ite_pintid(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_ite(&img, ITT, 0, 8191, 0);
    expect_failure(&img, "ite-pintid-below-lpi-range", EINVAL);
    img_clear(&img);
}

static void test_walk_ite_next_beyond(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_ite(&img, ITT + 8, 15, 8192, 0); /* event 1 + 15 >= 2^4 */
    put_ite(&img, ITT, 1, 8193, 0);
    expect_failure(&img, "ite-next-beyond-event-range", EINVAL);
    img_clear(&img);
}

static void test_walk_ite_unknown_collection(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_ite(&img, ITT, 0, 8192, 5);
    expect_failure(&img, "ite-unknown-collection", EINVAL);
    img_clear(&img);
}

static void test_walk_ite_duplicate_pintid(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_ite(&img, ITT, 1, 8192, 0);
    put_ite(&img, ITT + 8, 0, 8192, 0);
    expect_finding(&img, "ite-duplicate-pintid", ITSMIG_SEVERITY_WARNING);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    img_clear(&img);
}

static void test_walk_ite_collection_unmapped(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_cte(&img, 0, 0, ITSMIG_ITS_COLLECTION_UNMAPPED);
    put_ite(&img, ITT, 1, 8192, 0);
    put_ite(&img, ITT + 8, 0, 8193, 0);
    expect_finding(&img, "ite-collection-unmapped", ITSMIG_SEVERITY_INFO);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    /* Reported once per collection, not once per ITE. */
    g_assert_cmpuint(img.rep.findings[img.rep.n_findings - 1].severity, ==, ITSMIG_SEVERITY_INFO);
    {
        unsigned n = 0;

        for (size_t i = 0; i < img.rep.n_findings; i++)
            n += strcmp(img.rep.findings[i].code, "ite-collection-unmapped") == 0;
        g_assert_cmpuint(n, ==, 1);
    }
    img_clear(&img);
}

static void test_walk_ite_skipped_and_after_last(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_ite(&img, ITT, 2, 8192, 0);
    put_ite(&img, ITT + 8, 0, 8193, 0); /* jumped over */
    put_ite(&img, ITT + 16, 0, 8194, 0);
    put_ite(&img, ITT + 40, 0, 8195, 0); /* after the last */
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_cmpuint(img.rep.mapping.n_events, ==, 2);
    g_assert_nonnull(find(&img.rep, "ite-skipped-by-next"));
    g_assert_nonnull(find(&img.rep, "ite-after-last"));
    g_assert_cmphex(find(&img.rep, "ite-after-last")->gpa, ==, ITT + 40);
    img_clear(&img);
}

static void test_walk_lpi_config(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    img.in.propbaser = itsmig_gicr_propbaser_make(PROP, 16);
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    g_assert_null(find(&img.rep, "lpi-config-check-skipped"));

    /* The property table ends where guest memory ends. */
    img.in.propbaser = itsmig_gicr_propbaser_make(RAM + RAM_SIZE - 4096, 16);
    put_ite(&img, ITT, 0, 8192 + 4096, 0);
    expect_failure(&img, "lpi-config-outside-memory", EFAULT);

    /* Default PROPBASER (address 0): KVM reads below RAM and fails. */
    img.in.propbaser = itsmig_gicr_propbaser_make(0, 16);
    expect_failure(&img, "lpi-config-outside-memory", EFAULT);

    img.in.propbaser = itsmig_gicr_propbaser_make(PROP, 14);
    put_ite(&img, ITT, 0, 16384, 0);
    expect_finding(&img, "lpi-beyond-propbaser-idbits", ITSMIG_SEVERITY_WARNING);
    img_clear(&img);
}

static void test_walk_lpi_pending(void)
{
    uint64_t pend[4];
    Img img;

    for (unsigned i = 0; i < 4; i++)
        pend[i] = itsmig_gicr_pendbaser_make(PEND + i * 0x10000ull);
    img_init(&img);
    img_minimal(&img);
    img.in.pendbasers = pend;
    img.in.nr_pendbasers = 4;
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    pend[0] = itsmig_gicr_pendbaser_make(0x10000);
    expect_failure(&img, "lpi-pending-outside-memory", EFAULT);
    /* An unmapped collection has no target, so no pending table is read. */
    put_cte(&img, 0, 0, ITSMIG_ITS_COLLECTION_UNMAPPED);
    walk(&img);
    g_assert_cmpint(img.rep.restore_errno, ==, 0);
    img_clear(&img);
}

static void test_walk_first_error_wins(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    put_ite(&img, ITT, 0, 100, 0); /* device table error ... */
    put_cte(&img, 1, 0, 2);        /* ... but the collection table is restored first */
    expect_failure(&img, "collection-duplicate-icid", EEXIST);
    g_assert_nonnull(find(&img.rep, "ite-pintid-below-lpi-range"));
    img_clear(&img);
}

static void test_walk_limit(void)
{
    Img img;

    /* 4096 devices whose 16-bit ITTs all overlap: 2^28 reads, where the
     * 8 MiB of memory allow 2^20 + 16 per entry of it. */
    img_init(&img);
    put_cte(&img, 0, 0, 0);
    for (unsigned i = 0; i < 4096; i++)
        put_dte(&img, DT + 8ull * i, i + 1 < 4096 ? 1 : 0, ITT, 16);
    expect_failure(&img, "walk-limit-reached", E2BIG);
    g_assert_cmpuint(img.rep.entries_scanned, ==,
                     ITSMIG_ITS_WALK_MIN_READS + ITSMIG_ITS_WALK_READS_PER_ENTRY * (RAM_SIZE / 8));
    img_clear(&img);
}

static void test_walk_finding_cap(void)
{
    Img img;

    img_init(&img);
    img_minimal(&img);
    img.in.max_findings = 2;
    for (unsigned i = 1; i < 8; i++)
        put_ite(&img, ITT + 8 * i, 0, 8192, 0); /* duplicates, each after the last */
    put_ite(&img, ITT, 1, 8192, 0);
    for (unsigned i = 1; i < 7; i++)
        put_ite(&img, ITT + 8 * i, 1, 8192, 0);
    walk(&img);
    g_assert_cmpuint(img.rep.n_findings, ==, 2);
    g_assert_cmpuint(img.rep.n_findings_dropped, >, 0);
    img_clear(&img);
}

/* ---- pending tables ----------------------------------------------------------------- */

static void test_pending_decode(void)
{
    uint8_t table[8192 / 8 + 64] = {0};
    uint32_t *ids = NULL;
    size_t n = 0;
    ItsmigDiag diag;

    table[0] = 0xff;             /* SGIs/PPIs/SPIs range: not LPIs */
    table[8192 / 8] = 0x01;      /* 8192 */
    table[8192 / 8 + 3] = 0x80;  /* 8223 */
    table[8192 / 8 + 63] = 0x41; /* 8696, 8702 */
    g_assert_cmpint(itsmig_its_pending_decode(table, sizeof(table), &ids, &n, &diag), ==, 0);
    g_assert_cmpuint(n, ==, 4);
    g_assert_cmpuint(ids[0], ==, 8192);
    g_assert_cmpuint(ids[1], ==, 8223);
    g_assert_cmpuint(ids[2], ==, 8696);
    g_assert_cmpuint(ids[3], ==, 8702);
    g_assert_true(itsmig_its_pending_test(table, sizeof(table), 8223));
    g_assert_false(itsmig_its_pending_test(table, sizeof(table), 8224));
    g_assert_false(itsmig_its_pending_test(table, sizeof(table), 1u << 30));
    g_free(ids);

    memset(table, 0, sizeof(table));
    g_assert_cmpint(itsmig_its_pending_decode(table, sizeof(table), &ids, &n, &diag), ==, 0);
    g_assert_cmpuint(n, ==, 0);
    g_assert_null(ids);
}

/* ---- SAVE_TABLES prediction ---------------------------------------------------- */

/* Devices 5 and 9000 (level-1 entries 0 and 1 of a two-level table), one
 * event each through collection 0 -> vCPU 1; the guest keeps both level-2
 * pages valid unless told otherwise. */
typedef struct {
    Img img;
    ItsmigItsDevice devs[2];
    ItsmigItsEvent evs[2];
    ItsmigItsCollection cols[1];
    ItsmigItsMapping m;
    ItsmigItsSaveInput in;
    ItsmigItsSavePrediction p;
} SaveCase;

static void save_case_init(SaveCase *c)
{
    memset(c, 0, sizeof(*c));
    img_init(&c->img);
    c->devs[0] = (ItsmigItsDevice){5, ITT, 1, 0, 1};
    c->devs[1] = (ItsmigItsDevice){9000, ITT + 256, 1, 1, 1};
    c->evs[0] = (ItsmigItsEvent){0, 8192, 0};
    c->evs[1] = (ItsmigItsEvent){1, 8193, 0};
    c->cols[0] = (ItsmigItsCollection){0, 1};
    c->m = (ItsmigItsMapping){c->devs, 2, c->evs, 2, c->cols, 1};
    put(&c->img, DT, 1ull << 63 | L2);
    put(&c->img, DT + 8, 1ull << 63 | (L2 + 65536));
    c->in.mapping = &c->m;
    c->in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, true);
    c->in.baser1 = c->img.in.baser1;
    c->in.semantics.baser_write_keeps_mappings = true;
}

static void save_case_predict(SaveCase *c)
{
    ItsmigDiag diag;

    itsmig_its_save_prediction_clear(&c->p);
    g_assert_cmpint(itsmig_its_predict_save(&c->in, &c->img.mem, &c->p, &diag), ==, 0);
}

static void save_case_clear(SaveCase *c)
{
    itsmig_its_save_prediction_clear(&c->p);
    img_clear(&c->img);
}

static void test_save_everything_reachable(void)
{
    SaveCase c;

    save_case_init(&c);
    save_case_predict(&c);
    g_assert_cmpint(c.p.save_errno, ==, 0);
    g_assert_null(c.p.save_cause);
    g_assert_true(itsmig_its_mapping_equal(&c.m, &c.p.saved));
    g_assert_cmpuint(c.p.n_devices_skipped + c.p.n_devices_dropped, ==, 0);
    save_case_clear(&c);
}

static void test_save_unreachable_fails(void)
{
    SaveCase c;

    save_case_init(&c);
    put(&c.img, DT + 8, 0); /* the guest dropped device 9000's level-2 page */
    c.in.semantics.unreachable_device_errno = EINVAL;
    save_case_predict(&c);
    g_assert_cmpint(c.p.save_errno, ==, EINVAL);
    g_assert_cmpstr(c.p.save_cause, ==, "save-device-unreachable");
    g_assert_cmpuint(c.p.saved.n_devices, ==, 0);
    save_case_clear(&c);
}

static void test_save_unreachable_skipped(void)
{
    SaveCase c;

    save_case_init(&c);
    put(&c.img, DT + 8, 0);
    c.in.semantics.unreachable_device_errno = 0;
    save_case_predict(&c);
    g_assert_cmpint(c.p.save_errno, ==, 0);
    g_assert_cmpuint(c.p.n_devices_skipped, ==, 1);
    g_assert_cmpuint(c.p.saved.n_devices, ==, 1);
    g_assert_cmpuint(c.p.saved.devices[0].device_id, ==, 5);
    g_assert_cmpuint(c.p.saved.n_events, ==, 1);
    g_assert_cmpuint(c.p.saved.events[0].pintid, ==, 8192);
    g_assert_cmpuint(c.p.saved.n_collections, ==, 1);
    save_case_clear(&c);
}

/* A flat table that no longer covers a device is as unreachable. */
static void test_save_flat_table_too_small(void)
{
    SaveCase c;

    save_case_init(&c);
    c.in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, false);
    c.in.semantics.unreachable_device_errno = 0;
    save_case_predict(&c);
    g_assert_cmpuint(c.p.n_devices_skipped, ==, 1); /* 9000 > 8191 */
    c.in.semantics.unreachable_device_errno = EINVAL;
    save_case_predict(&c);
    g_assert_cmpint(c.p.save_errno, ==, EINVAL);
    save_case_clear(&c);
}

static void test_save_baser_change_drops(void)
{
    SaveCase c;

    save_case_init(&c);
    c.in.semantics.baser_write_keeps_mappings = false;
    c.in.baser0_changed = true;
    save_case_predict(&c);
    g_assert_cmpint(c.p.save_errno, ==, 0);
    g_assert_cmpuint(c.p.n_devices_dropped, ==, 2);
    g_assert_cmpuint(c.p.saved.n_devices, ==, 0);
    g_assert_cmpuint(c.p.saved.n_collections, ==, 1);

    /* Collections dropped: the devices stay, their events go with them. */
    c.in.baser0_changed = false;
    c.in.baser1_changed = true;
    save_case_predict(&c);
    g_assert_cmpuint(c.p.n_collections_dropped, ==, 1);
    g_assert_cmpuint(c.p.saved.n_collections, ==, 0);
    g_assert_cmpuint(c.p.saved.n_devices, ==, 2);
    g_assert_cmpuint(c.p.saved.n_events, ==, 0);

    /* The same writes on a kernel that keeps the mappings change nothing. */
    c.in.semantics.baser_write_keeps_mappings = true;
    c.in.baser0_changed = true;
    save_case_predict(&c);
    g_assert_true(itsmig_its_mapping_equal(&c.m, &c.p.saved));
    save_case_clear(&c);
}

/* A collection table shrunk under more collections than it holds, on a
 * kernel that keeps them: the save writes past its end, a restore reads
 * what fits. */
static void test_save_collection_overflow(void)
{
    enum { N = 65536 / 8 + 1 };
    ItsmigItsCollection *cols = g_new0(ItsmigItsCollection, N);
    ItsmigItsMapping m = {NULL, 0, NULL, 0, cols, N};
    ItsmigItsSaveInput in = {.mapping = &m, .baser1_changed = true};
    ItsmigItsSavePrediction p = {0};
    ItsmigDiag diag;
    Img img;

    img_init(&img);
    for (unsigned i = 0; i < N; i++)
        cols[i] = (ItsmigItsCollection){(uint16_t)i, i % 4};
    in.baser0 = img.in.baser0;
    in.baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    in.semantics.baser_write_keeps_mappings = true;
    g_assert_cmpint(itsmig_its_predict_save(&in, &img.mem, &p, &diag), ==, 0);
    g_assert_cmpint(p.save_errno, ==, 0);
    g_assert_cmpuint(p.n_collections_overflow, ==, 1);
    g_assert_cmpuint(p.saved.n_collections, ==, N - 1);
    itsmig_its_save_prediction_clear(&p);

    /* Past the end of guest RAM the write faults. */
    in.baser1 =
        itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, RAM + RAM_SIZE - 65536, 1, false);
    g_assert_cmpint(itsmig_its_predict_save(&in, &img.mem, &p, &diag), ==, 0);
    g_assert_cmpint(p.save_errno, ==, EFAULT);
    g_assert_cmpstr(p.save_cause, ==, "save-collection-table-outside-memory");
    itsmig_its_save_prediction_clear(&p);
    g_free(cols);
    img_clear(&img);
}

static void test_save_tables_not_valid(void)
{
    SaveCase c;

    save_case_init(&c);
    put(&c.img, DT + 8, 0);
    c.in.semantics.unreachable_device_errno = EINVAL;
    c.in.baser0 &= ~(1ull << 63);
    save_case_predict(&c);
    /* Nothing of the device table is looked at. */
    g_assert_cmpint(c.p.save_errno, ==, 0);
    g_assert_cmpuint(c.p.saved.n_devices, ==, 0);
    g_assert_cmpuint(c.p.saved.n_collections, ==, 1);
    save_case_clear(&c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/its-abi/iidr/kvm-revisions", test_iidr_kvm);
    g_test_add_func("/its-abi/typer/kvm-fields", test_typer_kvm);
    g_test_add_func("/its-abi/baser/make-decode", test_baser_make_decode);
    g_test_add_func("/its-abi/baser/address-bits-51-48", test_baser_addr_52bit);
    g_test_add_func("/its-abi/baser/bad-input", test_baser_bad_input);
    g_test_add_func("/its-abi/baser/4k-pages", test_baser_4k_pages);
    g_test_add_func("/its-abi/cbaser/make-decode", test_cbaser);
    g_test_add_func("/its-abi/gicr/prop-pend-bases", test_gicr_bases);
    g_test_add_func("/its-abi/dte/known-bits", test_dte_known_bits);
    g_test_add_func("/its-abi/dte/rejects-unencodable", test_dte_rejects);
    g_test_add_func("/its-abi/ite/known-bits", test_ite_known_bits);
    g_test_add_func("/its-abi/cte/known-bits", test_cte_known_bits);
    g_test_add_func("/its-abi/l1e/known-bits", test_l1e_known_bits);
    g_test_add_func("/its-abi/fuzz/entries-round-trip", test_fuzz_entries);
    g_test_add_func("/its-abi/guest-mem/regions", test_guest_mem);
    g_test_add_func("/its-abi/mapping/check", test_mapping_check);
    g_test_add_func("/its-abi/writer/canonical-bytes", test_writer_canonical_bytes);
    g_test_add_func("/its-abi/writer/dte-next-capped", test_writer_next_capped);
    g_test_add_func("/its-abi/writer/collection-table-full", test_writer_collection_table_full);
    g_test_add_func("/its-abi/writer/two-level", test_writer_two_level);
    g_test_add_func("/its-abi/writer/outside-memory", test_writer_outside_memory);
    g_test_add_func("/its-abi/fuzz/mappings-round-trip", test_fuzz_mappings);
    g_test_add_func("/its-abi/walk/minimal-restores", test_walk_minimal_ok);
    g_test_add_func("/its-abi/walk/shared-itt-memory-bounded", test_walk_shared_itt_bounded);
    g_test_add_func("/its-abi/walk/huge-pintid-memory-bounded", test_walk_huge_pintid_bounded);
    g_test_add_func("/its-abi/walk/abi-revision-unsupported", test_walk_abi_revision);
    g_test_add_func("/its-abi/walk/iidr-not-kvm", test_walk_iidr_not_kvm);
    g_test_add_func("/its-abi/walk/tables-not-valid", test_walk_tables_not_valid);
    g_test_add_func("/its-abi/walk/baser-fields-forced", test_walk_baser_forced);
    g_test_add_func("/its-abi/walk/collection-target-out-of-range", test_walk_collection_target);
    g_test_add_func("/its-abi/walk/collection-duplicate-icid", test_walk_collection_duplicate);
    g_test_add_func("/its-abi/walk/collection-icid-beyond-table", test_walk_collection_icid_beyond);
    g_test_add_func("/its-abi/walk/collection-table-outside-memory", test_walk_collection_outside);
    g_test_add_func("/its-abi/walk/device-table-outside-memory", test_walk_device_table_outside);
    g_test_add_func("/its-abi/walk/l2-table-outside-memory", test_walk_l2_outside);
    g_test_add_func("/its-abi/walk/dte-event-id-bits-too-large", test_walk_dte_bits);
    g_test_add_func("/its-abi/walk/dte-device-id-beyond-devbits", test_walk_dte_beyond_devbits);
    g_test_add_func("/its-abi/walk/dte-next-beyond-table", test_walk_dte_next_beyond_table);
    g_test_add_func("/its-abi/walk/dte-skipped-and-after-last",
                    test_walk_dte_skipped_and_after_last);
    g_test_add_func("/its-abi/walk/itt-outside-memory", test_walk_itt_outside);
    g_test_add_func("/its-abi/walk/ite-pintid-below-lpi-range", test_walk_ite_pintid);
    g_test_add_func("/its-abi/walk/ite-next-beyond-event-range", test_walk_ite_next_beyond);
    g_test_add_func("/its-abi/walk/ite-unknown-collection", test_walk_ite_unknown_collection);
    g_test_add_func("/its-abi/walk/ite-duplicate-pintid", test_walk_ite_duplicate_pintid);
    g_test_add_func("/its-abi/walk/ite-collection-unmapped", test_walk_ite_collection_unmapped);
    g_test_add_func("/its-abi/walk/ite-skipped-and-after-last",
                    test_walk_ite_skipped_and_after_last);
    g_test_add_func("/its-abi/walk/lpi-config", test_walk_lpi_config);
    g_test_add_func("/its-abi/walk/lpi-pending-outside-memory", test_walk_lpi_pending);
    g_test_add_func("/its-abi/walk/first-error-in-kernel-order", test_walk_first_error_wins);
    g_test_add_func("/its-abi/walk/limit-reached", test_walk_limit);
    g_test_add_func("/its-abi/walk/finding-cap", test_walk_finding_cap);
    g_test_add_func("/its-abi/pending/decode", test_pending_decode);

    g_test_add_func("/its-abi/save/everything-reachable", test_save_everything_reachable);
    g_test_add_func("/its-abi/save/unreachable-device-fails", test_save_unreachable_fails);
    g_test_add_func("/its-abi/save/unreachable-device-skipped", test_save_unreachable_skipped);
    g_test_add_func("/its-abi/save/flat-table-too-small", test_save_flat_table_too_small);
    g_test_add_func("/its-abi/save/baser-change-drops", test_save_baser_change_drops);
    g_test_add_func("/its-abi/save/collection-table-overflow", test_save_collection_overflow);
    g_test_add_func("/its-abi/save/tables-not-valid", test_save_tables_not_valid);
    return g_test_run();
}
