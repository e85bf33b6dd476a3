/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ITS table ABI revision 0: register fields, entry codecs, and a writer and a
 * walker that follow KVM's vgic-its.c save and restore paths step by step, so
 * that what the walker predicts is what RESTORE_TABLES returns.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/its-abi.h"

#define BIT64(n)         (UINT64_C(1) << (n))
#define MASK64(hi, lo)   ((~UINT64_C(0) >> (63 - (hi))) & ~(BIT64(lo) - 1))
#define FIELD(v, hi, lo) (((v)&MASK64(hi, lo)) >> (lo))

/* ---- GITS_IIDR ------------------------------------------------------------ */

unsigned itsmig_gits_iidr_revision(uint32_t iidr)
{
    return (iidr >> 12) & 0xf;
}

unsigned itsmig_gits_iidr_product(uint32_t iidr)
{
    return iidr >> 24;
}

unsigned itsmig_gits_iidr_implementer(uint32_t iidr)
{
    return iidr & 0xfff;
}

uint32_t itsmig_gits_iidr_make_kvm(unsigned rev)
{
    return (ITSMIG_GITS_IIDR_PRODUCT_KVM << 24) | ((rev & 0xfu) << 12) |
           ITSMIG_GITS_IIDR_IMPLEMENTER_ARM;
}

/* ---- GITS_TYPER ----------------------------------------------------------- */

void itsmig_gits_typer_decode(uint64_t typer, ItsmigGitsTyper *ret)
{
    ret->physical = typer & BIT64(0);
    ret->virt = typer & BIT64(1);
    ret->itt_entry_size = (unsigned)FIELD(typer, 7, 4) + 1;
    ret->id_bits = (unsigned)FIELD(typer, 12, 8) + 1;
    ret->dev_bits = (unsigned)FIELD(typer, 17, 13) + 1;
    ret->pta = typer & BIT64(19);
    ret->cil = typer & BIT64(36);
    ret->cid_bits = ret->cil ? (unsigned)FIELD(typer, 35, 32) + 1 : 16;
}

/* ---- GITS_BASER / GITS_CBASER --------------------------------------------- */

#define BASER_VALID       BIT64(63)
#define BASER_INDIRECT    BIT64(62)
#define BASER_INNER_SHIFT 59
#define BASER_TYPE_SHIFT  56
#define BASER_OUTER_SHIFT 53
#define BASER_ESZ_SHIFT   48
#define BASER_SHARE_SHIFT 10
#define BASER_PSZ_SHIFT   8
#define BASER_PSZ_64K     2u
#define CACHE_RAWB        7u
#define SHARE_INNER       1u

static uint64_t baser_addr_64k(uint64_t baser)
{
    /* With 64K pages, address bits [51:48] live in BASER bits [15:12]. */
    return (baser & MASK64(47, 16)) | ((baser & MASK64(15, 12)) << 36);
}

void itsmig_gits_baser_decode(uint64_t baser, ItsmigGitsBaser *ret)
{
    static const unsigned page_sizes[4] = {4096, 16384, 65536, 65536};
    unsigned psz = (unsigned)FIELD(baser, 9, 8);

    ret->valid = baser & BASER_VALID;
    ret->indirect = baser & BASER_INDIRECT;
    ret->type = (unsigned)FIELD(baser, 58, 56);
    ret->entry_size = (unsigned)FIELD(baser, 52, 48) + 1;
    ret->page_size = page_sizes[psz];
    ret->nr_pages = (unsigned)FIELD(baser, 7, 0) + 1;
    if (psz >= BASER_PSZ_64K)
        ret->addr = baser_addr_64k(baser);
    else
        ret->addr = baser & MASK64(47, psz == 0 ? 12 : 14);
    ret->shareability = (unsigned)FIELD(baser, 11, 10);
    ret->inner_cache = (unsigned)FIELD(baser, 61, 59);
    ret->outer_cache = (unsigned)FIELD(baser, 55, 53);
}

uint64_t itsmig_gits_baser_make(ItsmigBaserType type, uint64_t addr, unsigned nr_pages,
                                bool indirect)
{
    if ((addr & (ITSMIG_ITS_TABLE_PAGE - 1)) || addr >= BIT64(52) || nr_pages < 1 || nr_pages > 256)
        return 0;
    return BASER_VALID | (indirect ? BASER_INDIRECT : 0) |
           (uint64_t)CACHE_RAWB << BASER_INNER_SHIFT | (uint64_t)type << BASER_TYPE_SHIFT |
           (uint64_t)(ITSMIG_ITS_ESZ - 1) << BASER_ESZ_SHIFT | (addr & MASK64(47, 16)) |
           ((addr >> 36) & MASK64(15, 12)) | (uint64_t)SHARE_INNER << BASER_SHARE_SHIFT |
           (uint64_t)BASER_PSZ_64K << BASER_PSZ_SHIFT | (nr_pages - 1);
}

uint64_t itsmig_gits_baser_table_size(uint64_t baser)
{
    ItsmigGitsBaser b;

    itsmig_gits_baser_decode(baser, &b);
    return (uint64_t)b.nr_pages * b.page_size;
}

/*
 * The value KVM holds after userspace writes @val to BASER<index>: type,
 * entry size and page size are forced, and the collection table is never
 * indirect (vgic_mmio_write_its_baser).  Restore uses that value.
 */
static uint64_t baser_kvm_effective(unsigned index, uint64_t val)
{
    uint64_t forced = MASK64(58, 56) | MASK64(52, 48) | MASK64(9, 8);

    val &= ~forced;
    if (index == 1)
        val &= ~BASER_INDIRECT;
    val |= (uint64_t)(index == 0 ? ITSMIG_BASER_TYPE_DEVICE : ITSMIG_BASER_TYPE_COLLECTION)
           << BASER_TYPE_SHIFT;
    val |= (uint64_t)(ITSMIG_ITS_ESZ - 1) << BASER_ESZ_SHIFT;
    val |= (uint64_t)BASER_PSZ_64K << BASER_PSZ_SHIFT;
    return val;
}

void itsmig_gits_cbaser_decode(uint64_t cbaser, ItsmigGitsCbaser *ret)
{
    ret->valid = cbaser & BASER_VALID;
    ret->addr = cbaser & MASK64(51, 12);
    ret->size = ((unsigned)FIELD(cbaser, 7, 0) + 1) * 4096;
    ret->shareability = (unsigned)FIELD(cbaser, 11, 10);
    ret->inner_cache = (unsigned)FIELD(cbaser, 61, 59);
    ret->outer_cache = (unsigned)FIELD(cbaser, 55, 53);
}

uint64_t itsmig_gits_cbaser_make(uint64_t addr, unsigned nr_4k_pages)
{
    /* KVM clears address bits [15:12]: the queue must be 64K aligned. */
    if ((addr & (ITSMIG_ITS_TABLE_PAGE - 1)) || addr >= BIT64(52) || nr_4k_pages < 1 ||
        nr_4k_pages > 256)
        return 0;
    return BASER_VALID | (uint64_t)CACHE_RAWB << BASER_INNER_SHIFT | addr |
           (uint64_t)SHARE_INNER << BASER_SHARE_SHIFT | (nr_4k_pages - 1);
}

/* ---- redistributor LPI registers ------------------------------------------ */

uint64_t itsmig_gicr_propbaser_addr(uint64_t propbaser)
{
    return propbaser & MASK64(51, 12);
}

unsigned itsmig_gicr_propbaser_idbits(uint64_t propbaser)
{
    return (unsigned)FIELD(propbaser, 4, 0) + 1;
}

uint64_t itsmig_gicr_propbaser_make(uint64_t addr, unsigned id_bits)
{
    if ((addr & 0xfff) || addr >= BIT64(52) || id_bits < 14 || id_bits > 32)
        return 0;
    return addr | (uint64_t)SHARE_INNER << 10 | (uint64_t)CACHE_RAWB << 7 | (id_bits - 1);
}

uint64_t itsmig_gicr_pendbaser_addr(uint64_t pendbaser)
{
    return pendbaser & MASK64(51, 16);
}

uint64_t itsmig_gicr_pendbaser_make(uint64_t addr)
{
    if ((addr & 0xffff) || addr >= BIT64(52))
        return 0;
    return addr | (uint64_t)SHARE_INNER << 10 | (uint64_t)CACHE_RAWB << 7;
}

/* ---- entries -------------------------------------------------------------- */

#define DTE_VALID        BIT64(63)
#define DTE_NEXT_SHIFT   49
#define DTE_ITT_SHIFT    5
#define ITE_NEXT_SHIFT   48
#define ITE_PINTID_SHIFT 16
#define CTE_VALID        BIT64(63)
#define CTE_RDBASE_SHIFT 16
#define L1E_VALID        BIT64(63)

int itsmig_its_dte_encode(const ItsmigItsDte *dte, uint64_t *ret_raw)
{
    if (dte->next > ITSMIG_ITS_DTE_MAX_NEXT || (dte->itt_addr & 0xff) ||
        dte->itt_addr >= BIT64(52) || dte->event_id_bits < 1 || dte->event_id_bits > 32)
        return -EINVAL;
    *ret_raw = (dte->valid ? DTE_VALID : 0) | (uint64_t)dte->next << DTE_NEXT_SHIFT |
               (dte->itt_addr >> 8) << DTE_ITT_SHIFT | (dte->event_id_bits - 1);
    return 0;
}

void itsmig_its_dte_decode(uint64_t raw, ItsmigItsDte *ret)
{
    ret->valid = raw & DTE_VALID;
    ret->next = (uint32_t)FIELD(raw, 62, 49);
    ret->itt_addr = FIELD(raw, 48, 5) << 8;
    ret->event_id_bits = (unsigned)FIELD(raw, 4, 0) + 1;
}

int itsmig_its_ite_encode(const ItsmigItsIte *ite, uint64_t *ret_raw)
{
    if (ite->next > ITSMIG_ITS_ITE_MAX_NEXT)
        return -EINVAL;
    *ret_raw = (uint64_t)ite->next << ITE_NEXT_SHIFT | (uint64_t)ite->pintid << ITE_PINTID_SHIFT |
               ite->icid;
    return 0;
}

void itsmig_its_ite_decode(uint64_t raw, ItsmigItsIte *ret)
{
    ret->next = (uint32_t)(raw >> ITE_NEXT_SHIFT);
    ret->pintid = (uint32_t)FIELD(raw, 47, 16);
    ret->icid = (uint16_t)raw;
}

int itsmig_its_cte_encode(const ItsmigItsCte *cte, uint64_t *ret_raw)
{
    *ret_raw = (cte->valid ? CTE_VALID : 0) | (uint64_t)cte->target << CTE_RDBASE_SHIFT | cte->icid;
    return 0;
}

void itsmig_its_cte_decode(uint64_t raw, ItsmigItsCte *ret)
{
    ret->valid = raw & CTE_VALID;
    /* As KVM restores it: a 32-bit vCPU index, RDBase bits [51:48] dropped. */
    ret->target = (uint32_t)(raw >> CTE_RDBASE_SHIFT);
    ret->icid = (uint16_t)raw;
}

int itsmig_its_l1e_encode(const ItsmigItsL1e *l1e, uint64_t *ret_raw)
{
    if ((l1e->l2_addr & (ITSMIG_ITS_TABLE_PAGE - 1)) || l1e->l2_addr >= BIT64(52))
        return -EINVAL;
    *ret_raw = (l1e->valid ? L1E_VALID : 0) | l1e->l2_addr;
    return 0;
}

void itsmig_its_l1e_decode(uint64_t raw, ItsmigItsL1e *ret)
{
    ret->valid = raw & L1E_VALID;
    ret->l2_addr = raw & MASK64(51, 16);
}

/* ---- guest memory --------------------------------------------------------- */

int itsmig_guest_mem_check(const ItsmigGuestMem *mem, ItsmigDiag *diag)
{
    if (mem->read && mem->n_regions)
        return itsmig_diag_set(diag, EINVAL, "guest memory has both regions and a reader");
    for (size_t i = 0; i < mem->n_regions; i++) {
        const ItsmigGuestRegion *r = &mem->regions[i];

        if (r->size == 0 || !r->data)
            return itsmig_diag_set(diag, EINVAL, "guest memory region %zu is empty", i);
        if (r->gpa + r->size < r->gpa)
            return itsmig_diag_set(diag, EINVAL,
                                   "guest memory region at 0x%" PRIx64 " wraps around", r->gpa);
        if (i > 0 && mem->regions[i - 1].gpa + mem->regions[i - 1].size > r->gpa)
            return itsmig_diag_set(diag, EINVAL,
                                   "guest memory regions at 0x%" PRIx64 " and 0x%" PRIx64
                                   " overlap or are not sorted",
                                   mem->regions[i - 1].gpa, r->gpa);
    }
    return 0;
}

static const ItsmigGuestRegion *region_find(const ItsmigGuestMem *mem, uint64_t gpa)
{
    size_t lo = 0, hi = mem->n_regions;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ItsmigGuestRegion *r = &mem->regions[mid];

        if (gpa < r->gpa)
            hi = mid;
        else if (gpa - r->gpa >= r->size)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

uint8_t *itsmig_guest_mem_ptr(const ItsmigGuestMem *mem, uint64_t gpa, uint64_t len)
{
    const ItsmigGuestRegion *r = region_find(mem, gpa);

    if (!r || len > r->size - (gpa - r->gpa))
        return NULL;
    return r->data + (gpa - r->gpa);
}

static int guest_mem_access(const ItsmigGuestMem *mem, uint64_t gpa, void *buf, size_t len,
                            bool write)
{
    uint8_t *p = buf;

    if (mem->read) {
        if (write)
            return -EROFS;
        if (len && gpa + len - 1 < gpa)
            return -EFAULT;
        return mem->read(mem->opaque, gpa, buf, len);
    }
    while (len > 0) {
        const ItsmigGuestRegion *r = region_find(mem, gpa);
        uint64_t off, chunk;

        if (!r)
            return -EFAULT;
        off = gpa - r->gpa;
        chunk = r->size - off < len ? r->size - off : len;
        if (write)
            memcpy(r->data + off, p, chunk);
        else
            memcpy(p, r->data + off, chunk);
        p += chunk;
        gpa += chunk;
        len -= chunk;
    }
    return 0;
}

int itsmig_guest_mem_read(const ItsmigGuestMem *mem, uint64_t gpa, void *buf, size_t len)
{
    return guest_mem_access(mem, gpa, buf, len, false);
}

int itsmig_guest_mem_write(const ItsmigGuestMem *mem, uint64_t gpa, const void *buf, size_t len)
{
    return guest_mem_access(mem, gpa, (void *)buf, len, true);
}

static bool gpa_visible(const ItsmigGuestMem *mem, uint64_t gpa)
{
    uint8_t b;

    if (mem->read)
        return mem->read(mem->opaque, gpa, &b, 1) == 0;
    return region_find(mem, gpa) != NULL;
}

/* ---- mappings ------------------------------------------------------------- */

void itsmig_its_mapping_clear(ItsmigItsMapping *m)
{
    if (!m)
        return;
    free(m->devices);
    free(m->events);
    free(m->collections);
    memset(m, 0, sizeof(*m));
}

int itsmig_its_mapping_check(const ItsmigItsMapping *m, ItsmigDiag *diag)
{
    for (size_t i = 0; i < m->n_devices; i++) {
        const ItsmigItsDevice *d = &m->devices[i];

        if (i > 0 && d->device_id <= m->devices[i - 1].device_id)
            return itsmig_diag_set(diag, EINVAL, "device %" PRIu32 " is out of order or repeated",
                                   d->device_id);
        if (d->event_id_bits < 1 || d->event_id_bits > 32)
            return itsmig_diag_set(diag, EINVAL, "device %" PRIu32 " has %u EventID bits",
                                   d->device_id, d->event_id_bits);
        if (d->first_event > m->n_events || d->n_events > m->n_events - d->first_event)
            return itsmig_diag_set(diag, EINVAL, "device %" PRIu32 " events lie outside the list",
                                   d->device_id);
        for (size_t j = 0; j < d->n_events; j++) {
            const ItsmigItsEvent *e = &m->events[d->first_event + j];

            if (j > 0 && e->event_id <= e[-1].event_id)
                return itsmig_diag_set(diag, EINVAL,
                                       "device %" PRIu32 " event %" PRIu32
                                       " is out of order or repeated",
                                       d->device_id, e->event_id);
            if (d->event_id_bits < 32 && e->event_id >= (UINT64_C(1) << d->event_id_bits))
                return itsmig_diag_set(diag, EINVAL,
                                       "device %" PRIu32 " event %" PRIu32
                                       " exceeds its %u EventID bits",
                                       d->device_id, e->event_id, d->event_id_bits);
        }
    }
    for (size_t i = 0; i < m->n_collections; i++) {
        for (size_t j = 0; j < i; j++) {
            if (m->collections[i].icid == m->collections[j].icid)
                return itsmig_diag_set(diag, EINVAL, "collection %u is listed twice",
                                       m->collections[i].icid);
        }
    }
    return 0;
}

static int collection_cmp(const void *a, const void *b)
{
    const ItsmigItsCollection *x = a, *y = b;

    return (x->icid > y->icid) - (x->icid < y->icid);
}

bool itsmig_its_mapping_equal(const ItsmigItsMapping *a, const ItsmigItsMapping *b)
{
    ItsmigItsCollection *ca, *cb;
    bool same;

    if (a->n_devices != b->n_devices || a->n_collections != b->n_collections)
        return false;
    for (size_t i = 0; i < a->n_devices; i++) {
        const ItsmigItsDevice *x = &a->devices[i], *y = &b->devices[i];

        if (x->device_id != y->device_id || x->itt_addr != y->itt_addr ||
            x->event_id_bits != y->event_id_bits || x->n_events != y->n_events)
            return false;
        for (size_t j = 0; j < x->n_events; j++) {
            const ItsmigItsEvent *e = &a->events[x->first_event + j];
            const ItsmigItsEvent *f = &b->events[y->first_event + j];

            if (e->event_id != f->event_id || e->pintid != f->pintid || e->icid != f->icid)
                return false;
        }
    }
    if (a->n_collections == 0)
        return true;
    ca = malloc(a->n_collections * sizeof(*ca));
    cb = malloc(b->n_collections * sizeof(*cb));
    if (!ca || !cb) {
        free(ca);
        free(cb);
        return false;
    }
    memcpy(ca, a->collections, a->n_collections * sizeof(*ca));
    memcpy(cb, b->collections, b->n_collections * sizeof(*cb));
    qsort(ca, a->n_collections, sizeof(*ca), collection_cmp);
    qsort(cb, b->n_collections, sizeof(*cb), collection_cmp);
    same = true;
    for (size_t i = 0; i < a->n_collections && same; i++)
        same = ca[i].icid == cb[i].icid && ca[i].target == cb[i].target;
    free(ca);
    free(cb);
    return same;
}

/* ---- writer ----------------------------------------------------------------- */

static int write_entry(const ItsmigGuestMem *mem, uint64_t gpa, uint64_t val)
{
    uint8_t buf[8];
    uint8_t *p = itsmig_guest_mem_ptr(mem, gpa, 8);

    if (p) {
        itsmig_le64_store(p, val);
        return 0;
    }
    itsmig_le64_store(buf, val);
    return itsmig_guest_mem_write(mem, gpa, buf, sizeof(buf));
}

static int read_entry(const ItsmigGuestMem *mem, uint64_t gpa, uint64_t *ret)
{
    uint8_t buf[8];
    const uint8_t *p = itsmig_guest_mem_ptr(mem, gpa, 8);

    if (!p) {
        if (itsmig_guest_mem_read(mem, gpa, buf, sizeof(buf)) < 0)
            return -EFAULT;
        p = buf;
    }
    *ret = itsmig_le64_load(p);
    return 0;
}

/*
 * Where the DTE of @id lives, as vgic_its_check_id() computes it; for a
 * two-level table with a missing level-2 page, allocates one from
 * *l2_next when the caller allowed it.
 */
static int device_entry_gpa(const ItsmigGuestMem *mem, uint64_t baser, uint32_t id,
                            uint64_t *l2_next, uint64_t *ret_gpa, ItsmigDiag *diag)
{
    uint64_t base = baser_addr_64k(baser);
    uint64_t l1_size = itsmig_gits_baser_table_size(baser);
    uint64_t index, l1e, gpa;

    if (id >= (UINT32_C(1) << ITSMIG_ITS_DEVBITS))
        return itsmig_diag_set(diag, EINVAL, "device %" PRIu32 " exceeds the %u DeviceID bits", id,
                               ITSMIG_ITS_DEVBITS);
    if (!(baser & BASER_INDIRECT)) {
        if (id >= l1_size / ITSMIG_ITS_ESZ)
            return itsmig_diag_set(diag, EINVAL,
                                   "device %" PRIu32 " is beyond the flat device table (%" PRIu64
                                   " entries)",
                                   id, l1_size / ITSMIG_ITS_ESZ);
        gpa = base + (uint64_t)id * ITSMIG_ITS_ESZ;
    } else {
        index = id / ITSMIG_ITS_L2_DTES;
        if (index >= l1_size / ITSMIG_ITS_ESZ)
            return itsmig_diag_set(
                diag, EINVAL, "device %" PRIu32 " needs level-1 entry %" PRIu64 " beyond the table",
                id, index);
        if (read_entry(mem, base + index * ITSMIG_ITS_ESZ, &l1e) < 0)
            return itsmig_diag_set(
                diag, EINVAL, "level-1 device table entry at 0x%" PRIx64 " is outside guest memory",
                base + index * ITSMIG_ITS_ESZ);
        if (!(l1e & L1E_VALID)) {
            uint8_t *page;

            if (*l2_next == 0)
                return itsmig_diag_set(diag, EINVAL,
                                       "device %" PRIu32 " needs level-1 entry %" PRIu64
                                       ", which is not valid",
                                       id, index);
            page = itsmig_guest_mem_ptr(mem, *l2_next, ITSMIG_ITS_TABLE_PAGE);
            if (!page)
                return itsmig_diag_set(diag, EFAULT,
                                       "level-2 page at 0x%" PRIx64 " is outside guest memory",
                                       *l2_next);
            memset(page, 0, ITSMIG_ITS_TABLE_PAGE);
            l1e = L1E_VALID | *l2_next;
            write_entry(mem, base + index * ITSMIG_ITS_ESZ, l1e);
            *l2_next += ITSMIG_ITS_TABLE_PAGE;
        }
        gpa = (l1e & MASK64(51, 16)) + (uint64_t)(id % ITSMIG_ITS_L2_DTES) * ITSMIG_ITS_ESZ;
    }
    if (!gpa_visible(mem, gpa))
        return itsmig_diag_set(diag, EINVAL,
                               "device %" PRIu32 " entry at 0x%" PRIx64 " is outside guest memory",
                               id, gpa);
    *ret_gpa = gpa;
    return 0;
}

static uint32_t capped_delta(uint32_t from, uint32_t to, uint32_t cap)
{
    uint32_t d = to - from;

    return d > cap ? cap : d;
}

int itsmig_its_write_tables(const ItsmigItsMapping *m, const ItsmigItsLayout *layout,
                            const ItsmigGuestMem *mem, ItsmigDiag *diag)
{
    uint64_t l2_next = layout->l2_alloc_base;
    int r;

    r = itsmig_its_mapping_check(m, diag);
    if (r < 0)
        return r;
    r = itsmig_guest_mem_check(mem, diag);
    if (r < 0)
        return r;

    if (layout->baser0 & BASER_VALID) {
        for (size_t i = 0; i < m->n_devices; i++) {
            const ItsmigItsDevice *d = &m->devices[i];
            ItsmigItsDte dte = {
                .valid = true,
                .itt_addr = d->itt_addr,
                .event_id_bits = d->event_id_bits,
            };
            uint64_t dte_gpa = 0, raw;

            r = device_entry_gpa(mem, layout->baser0, d->device_id, &l2_next, &dte_gpa, diag);
            if (r < 0)
                return r;
            for (size_t j = 0; j < d->n_events; j++) {
                const ItsmigItsEvent *e = &m->events[d->first_event + j];
                ItsmigItsIte ite = {.pintid = e->pintid, .icid = e->icid};
                uint64_t gpa = d->itt_addr + (uint64_t)e->event_id * ITSMIG_ITS_ESZ;

                if (j + 1 < d->n_events)
                    ite.next = capped_delta(e->event_id, e[1].event_id, ITSMIG_ITS_ITE_MAX_NEXT);
                itsmig_its_ite_encode(&ite, &raw);
                if (write_entry(mem, gpa, raw) < 0)
                    return itsmig_diag_set(diag, EFAULT,
                                           "ITE of device %" PRIu32 " event %" PRIu32
                                           " at 0x%" PRIx64 " is outside guest memory",
                                           d->device_id, e->event_id, gpa);
            }
            if (i + 1 < m->n_devices)
                dte.next = capped_delta(d->device_id, d[1].device_id, ITSMIG_ITS_DTE_MAX_NEXT);
            if (itsmig_its_dte_encode(&dte, &raw) < 0)
                return itsmig_diag_set(diag, EINVAL,
                                       "device %" PRIu32 " cannot be encoded (ITT 0x%" PRIx64
                                       ", %u EventID bits)",
                                       d->device_id, d->itt_addr, d->event_id_bits);
            if (write_entry(mem, dte_gpa, raw) < 0)
                return itsmig_diag_set(diag, EFAULT, "DTE at 0x%" PRIx64 " is outside guest memory",
                                       dte_gpa);
        }
    }

    if (layout->baser1 & BASER_VALID) {
        uint64_t base = baser_addr_64k(layout->baser1);
        uint64_t max = itsmig_gits_baser_table_size(layout->baser1) / ITSMIG_ITS_ESZ;
        uint64_t raw;

        if (m->n_collections > max)
            return itsmig_diag_set(diag, ENOSPC,
                                   "%zu collections do not fit a collection table of %" PRIu64
                                   " entries",
                                   m->n_collections, max);
        for (size_t i = 0; i <= m->n_collections && i < max; i++) {
            ItsmigItsCte cte = {0};
            uint64_t gpa = base + i * ITSMIG_ITS_ESZ;

            if (i < m->n_collections) {
                cte.valid = true;
                cte.icid = m->collections[i].icid;
                cte.target = m->collections[i].target;
            }
            itsmig_its_cte_encode(&cte, &raw);
            if (write_entry(mem, gpa, raw) < 0)
                return itsmig_diag_set(
                    diag, EFAULT, "collection table entry at 0x%" PRIx64 " is outside guest memory",
                    gpa);
        }
    }
    return 0;
}

/* ---- walker ------------------------------------------------------------------ */

const char *itsmig_severity_to_string(ItsmigSeverity s)
{
    switch (s) {
    case ITSMIG_SEVERITY_INFO: return "info";
    case ITSMIG_SEVERITY_WARNING: return "warning";
    case ITSMIG_SEVERITY_ERROR: return "error";
    }
    return "unknown";
}

#define WALK_DEFAULT_MAX_FINDINGS 1024
/* Table entries one walk reads at most: overlapping ITTs could otherwise
 * make a small image cost 2^32 reads.  2^28 entries are 2 GiB of tables. */
#define WALK_MAX_ENTRIES   ITSMIG_ITS_WALK_MAX_READS
#define WALK_EVENT_RESERVE (UINT64_C(1) << 22)

typedef struct {
    const ItsmigItsWalkInput *in;
    const ItsmigGuestMem *mem;
    ItsmigItsReport *rep;
    const ItsmigGuestRegion *cached;
    size_t max_findings;
    size_t cap_devices, cap_events;
    uint32_t *coll_index;  /* per ICID: 1 + index into mapping.collections, 0 = absent */
    uint8_t *coll_flagged; /* per ICID: "unmapped" already reported */
    /* pINTIDs mapped so far: an open-addressing set (0 = empty; a pINTID is
     * >= 8192), as large as the events, not as the largest pINTID. */
    uint32_t *lpi_seen;
    size_t lpi_seen_cap, lpi_seen_n;
    size_t max_events; /* the ITEs guest memory can hold: more are ITTs shared */
    bool events_capped;
    uint64_t max_entries; /* entry reads allowed, by the size of guest memory */
    uint64_t mem_bytes;
    bool budget_exhausted;
    bool oom;
} Walk;

/* Scan results, as scan_its_table() and its callbacks return them. */
enum { SCAN_LAST = 0, SCAN_END = 1 };

static void finding(Walk *w, ItsmigSeverity sev, int errnum, const char *code, uint64_t gpa,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void finding(Walk *w, ItsmigSeverity sev, int errnum, const char *code, uint64_t gpa,
                    const char *fmt, ...)
{
    ItsmigItsReport *rep = w->rep;
    ItsmigItsFinding *f;
    va_list ap;

    if (sev == ITSMIG_SEVERITY_ERROR && rep->restore_errno == 0) {
        rep->restore_errno = errnum;
        rep->restore_cause = code;
    }
    if (rep->n_findings >= w->max_findings) {
        rep->n_findings_dropped++;
        return;
    }
    if (rep->n_findings % 16 == 0) {
        ItsmigItsFinding *n = realloc(rep->findings, (rep->n_findings + 16) * sizeof(*n));

        if (!n) {
            w->oom = true;
            rep->n_findings_dropped++;
            return;
        }
        rep->findings = n;
    }
    f = &rep->findings[rep->n_findings++];
    f->code = code;
    f->severity = sev;
    f->errnum = sev == ITSMIG_SEVERITY_ERROR ? errnum : 0;
    f->gpa = gpa;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

/* Reads one 8-byte entry like kvm_read_guest(): -EFAULT outside memory. */
static inline __attribute__((always_inline)) int walk_load(Walk *w, uint64_t gpa, uint64_t *ret)
{
    const ItsmigGuestRegion *r = w->cached;

    if (w->rep->entries_scanned >= w->max_entries) {
        w->budget_exhausted = true;
        return -E2BIG;
    }
    w->rep->entries_scanned++;
    if (!r || gpa < r->gpa || gpa - r->gpa > r->size - 8 || r->size < 8) {
        r = region_find(w->mem, gpa);
        if (!r || r->size < 8 || gpa - r->gpa > r->size - 8)
            return read_entry(w->mem, gpa, ret);
        w->cached = r;
    }
    *ret = itsmig_le64_load(r->data + (gpa - r->gpa));
    return 0;
}

static bool byte_readable(Walk *w, uint64_t gpa)
{
    const ItsmigGuestRegion *r = w->cached;

    if (r && gpa >= r->gpa && gpa - r->gpa < r->size)
        return true;
    return gpa_visible(w->mem, gpa);
}

static ItsmigItsDevice *add_device(Walk *w, uint32_t id, uint64_t itt, unsigned bits)
{
    ItsmigItsMapping *m = &w->rep->mapping;
    ItsmigItsDevice *d;

    if (m->n_devices == w->cap_devices) {
        size_t cap = w->cap_devices ? w->cap_devices * 2 : 64;
        ItsmigItsDevice *n = realloc(m->devices, cap * sizeof(*n));

        if (!n) {
            w->oom = true;
            return NULL;
        }
        m->devices = n;
        w->cap_devices = cap;
    }
    d = &m->devices[m->n_devices++];
    d->device_id = id;
    d->itt_addr = itt;
    d->event_id_bits = bits;
    d->first_event = m->n_events;
    d->n_events = 0;
    return d;
}

static bool add_event(Walk *w, ItsmigItsDevice *d, uint32_t event_id, uint32_t pintid,
                      uint16_t icid)
{
    ItsmigItsMapping *m = &w->rep->mapping;
    ItsmigItsEvent *e;

    /* Guest memory holds at most max_events ITEs: more events are the same
     * ITEs read again through ITTs that devices share.  Keeping them would
     * let a small image claim gigabytes. */
    if (m->n_events >= w->max_events) {
        w->events_capped = true;
        return false;
    }
    if (m->n_events == w->cap_events) {
        size_t cap = w->cap_events * 2;
        ItsmigItsEvent *n = realloc(m->events, cap * sizeof(*n));

        if (!n) {
            w->oom = true;
            return false;
        }
        m->events = n;
        w->cap_events = cap;
    }
    e = &m->events[m->n_events++];
    e->event_id = event_id;
    e->pintid = pintid;
    e->icid = icid;
    d->n_events++;
    return true;
}

static size_t lpi_slot(uint32_t pintid, size_t cap)
{
    return (size_t)((pintid * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);
}

/* Marks @pintid as mapped; returns true when it already was. */
static bool lpi_mark(Walk *w, uint32_t pintid)
{
    size_t i;

    if ((w->lpi_seen_n + 1) * 2 > w->lpi_seen_cap) {
        size_t cap = w->lpi_seen_cap ? w->lpi_seen_cap * 2 : 1024;
        uint32_t *n = calloc(cap, sizeof(*n));

        if (!n) {
            w->oom = true;
            return false;
        }
        for (size_t j = 0; j < w->lpi_seen_cap; j++) {
            if (!w->lpi_seen[j])
                continue;
            for (i = lpi_slot(w->lpi_seen[j], cap); n[i]; i = (i + 1) & (cap - 1))
                ;
            n[i] = w->lpi_seen[j];
        }
        free(w->lpi_seen);
        w->lpi_seen = n;
        w->lpi_seen_cap = cap;
    }
    for (i = lpi_slot(pintid, w->lpi_seen_cap); w->lpi_seen[i]; i = (i + 1) & (w->lpi_seen_cap - 1))
        if (w->lpi_seen[i] == pintid)
            return true;
    w->lpi_seen[i] = pintid;
    w->lpi_seen_n++;
    return false;
}

static const ItsmigItsCollection *find_collection(Walk *w, uint16_t icid)
{
    uint32_t idx = w->coll_index[icid];

    return idx ? &w->rep->mapping.collections[idx - 1] : NULL;
}

/*
 * Counts valid-looking entries in [gpa, gpa + n * 8) that the restore never
 * reads because a `next` jumped over them or a chain ended before them.
 */
static uint64_t count_live(Walk *w, uint64_t gpa, uint64_t n, bool ite, uint64_t *ret_first)
{
    uint64_t live = 0, raw;

    for (uint64_t i = 0; i < n; i++) {
        if (walk_load(w, gpa + i * ITSMIG_ITS_ESZ, &raw) < 0)
            break;
        if (ite ? (raw & MASK64(47, 16)) != 0 : (raw & DTE_VALID) != 0) {
            if (live++ == 0)
                *ret_first = gpa + i * ITSMIG_ITS_ESZ;
        }
    }
    return live;
}

static void report_skipped(Walk *w, bool ite, uint32_t owner, uint64_t from_gpa, uint64_t n,
                           bool chain_ended)
{
    uint64_t first = 0, live;

    if (n == 0)
        return;
    live = count_live(w, from_gpa, n, ite, &first);
    if (live == 0)
        return;
    if (ite)
        finding(w, ITSMIG_SEVERITY_WARNING, 0,
                chain_ended ? "ite-after-last" : "ite-skipped-by-next", first,
                "device %" PRIu32 ": %" PRIu64 " valid-looking ITE(s) from 0x%" PRIx64
                " are never restored (%s)",
                owner, live, first,
                chain_ended ? "the chain ended before them" : "a next offset jumps over them");
    else
        finding(w, ITSMIG_SEVERITY_WARNING, 0,
                chain_ended ? "dte-after-last" : "dte-skipped-by-next", first,
                "%" PRIu64 " valid DTE(s) from 0x%" PRIx64 " are never restored (%s)", live, first,
                chain_ended ? "the chain ended before them" : "a next offset jumps over them");
}

/* vgic_its_restore_ite(): returns next (> 0), SCAN_LAST, or -errno. */
static int64_t restore_ite(Walk *w, ItsmigItsDevice *d, uint32_t event_id, uint64_t gpa,
                           uint64_t raw)
{
    const ItsmigItsWalkInput *in = w->in;
    const ItsmigItsCollection *c;
    ItsmigItsIte ite;
    uint64_t limit = UINT64_C(1) << d->event_id_bits;

    itsmig_its_ite_decode(raw, &ite);
    if (ite.pintid == 0)
        return 1;
    if (ite.pintid < ITSMIG_ITS_MIN_LPI) {
        finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "ite-pintid-below-lpi-range", gpa,
                "device %" PRIu32 " event %" PRIu32 ": pINTID %" PRIu32
                " is below the LPI range (8192)",
                d->device_id, event_id, ite.pintid);
        return -EINVAL;
    }
    if ((uint64_t)event_id + ite.next >= limit) {
        finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "ite-next-beyond-event-range", gpa,
                "device %" PRIu32 " event %" PRIu32 ": next offset %" PRIu32
                " leaves the %u-bit EventID range",
                d->device_id, event_id, ite.next, d->event_id_bits);
        return -EINVAL;
    }
    c = find_collection(w, ite.icid);
    if (!c) {
        finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "ite-unknown-collection", gpa,
                "device %" PRIu32 " event %" PRIu32 ": collection %u is not in the collection "
                "table",
                d->device_id, event_id, ite.icid);
        return -EINVAL;
    }
    if (lpi_mark(w, ite.pintid)) {
        /* KVM shares one vgic_irq between both ITEs: no reads, no error. */
        finding(w, ITSMIG_SEVERITY_WARNING, 0, "ite-duplicate-pintid", gpa,
                "device %" PRIu32 " event %" PRIu32 ": pINTID %" PRIu32
                " is already mapped by another ITE",
                d->device_id, event_id, ite.pintid);
    } else {
        if (in->propbaser) {
            uint64_t prop =
                itsmig_gicr_propbaser_addr(in->propbaser) + ite.pintid - ITSMIG_ITS_MIN_LPI;

            if (!byte_readable(w, prop)) {
                finding(w, ITSMIG_SEVERITY_ERROR, EFAULT, "lpi-config-outside-memory", prop,
                        "pINTID %" PRIu32 ": its configuration byte at 0x%" PRIx64
                        " (GICR_PROPBASER) is outside guest memory",
                        ite.pintid, prop);
                return -EFAULT;
            }
            if (ite.pintid >= (UINT64_C(1) << itsmig_gicr_propbaser_idbits(in->propbaser)))
                finding(w, ITSMIG_SEVERITY_WARNING, 0, "lpi-beyond-propbaser-idbits", gpa,
                        "pINTID %" PRIu32 " exceeds the %u ID bits GICR_PROPBASER allows; "
                        "a guest MAPTI could not have created it",
                        ite.pintid, itsmig_gicr_propbaser_idbits(in->propbaser));
        }
        if (c->target != ITSMIG_ITS_COLLECTION_UNMAPPED && in->pendbasers &&
            c->target < in->nr_pendbasers) {
            uint64_t pend = itsmig_gicr_pendbaser_addr(in->pendbasers[c->target]) + ite.pintid / 8;

            if (!byte_readable(w, pend)) {
                finding(w, ITSMIG_SEVERITY_ERROR, EFAULT, "lpi-pending-outside-memory", pend,
                        "pINTID %" PRIu32 ": its pending bit at 0x%" PRIx64
                        " (GICR_PENDBASER of vCPU %" PRIu32 ") is outside guest memory",
                        ite.pintid, pend, c->target);
                return -EFAULT;
            }
        }
    }
    if (c->target == ITSMIG_ITS_COLLECTION_UNMAPPED && !w->coll_flagged[ite.icid]) {
        w->coll_flagged[ite.icid] = 1;
        finding(w, ITSMIG_SEVERITY_INFO, 0, "ite-collection-unmapped", gpa,
                "device %" PRIu32 " event %" PRIu32 " (and maybe more) use collection %u, which "
                "is not mapped to a vCPU; their LPIs wait until the guest maps it",
                d->device_id, event_id, ite.icid);
    }
    if (!add_event(w, d, event_id, ite.pintid, ite.icid))
        return w->oom ? -ENOMEM : -E2BIG;
    return ite.next;
}

/* vgic_its_restore_itt() over scan_its_table(). */
static int restore_itt(Walk *w, ItsmigItsDevice *d)
{
    uint64_t n = UINT64_C(1) << d->event_id_bits;
    uint64_t gpa = d->itt_addr;
    uint64_t id = 0;
    /* Most ITTs lie inside one region: read them without a lookup per entry. */
    const uint8_t *span = itsmig_guest_mem_ptr(w->mem, d->itt_addr, n * ITSMIG_ITS_ESZ);

    while (true) {
        uint64_t raw;
        int64_t next;

        if (span && w->rep->entries_scanned < w->max_entries) {
            w->rep->entries_scanned++;
            raw = itsmig_le64_load(span + id * ITSMIG_ITS_ESZ);
        } else if (walk_load(w, gpa, &raw) < 0) {
            if (w->budget_exhausted)
                return -E2BIG;
            finding(w, ITSMIG_SEVERITY_ERROR, EFAULT, "itt-outside-memory", gpa,
                    "device %" PRIu32 ": ITT entry %" PRIu64 " at 0x%" PRIx64
                    " is outside guest memory",
                    d->device_id, id, gpa);
            return -EFAULT;
        }
        w->rep->bytes_scanned += ITSMIG_ITS_ESZ;
        next = restore_ite(w, d, (uint32_t)id, gpa, raw);
        if (next == -ENOMEM || next == -E2BIG)
            return (int)next;
        if (next < 0)
            next = 1; /* keep linting as if the entry were invalid */
        if (next == SCAN_LAST) {
            if (n - id > 1)
                report_skipped(w, true, d->device_id, gpa + ITSMIG_ITS_ESZ, n - id - 1, true);
            return 0;
        }
        if ((uint64_t)next >= n - id)
            return 0;
        if (next > 1)
            report_skipped(w, true, d->device_id, gpa + ITSMIG_ITS_ESZ, (uint64_t)next - 1, false);
        id += (uint64_t)next;
        gpa += (uint64_t)next * ITSMIG_ITS_ESZ;
    }
}

/* vgic_its_restore_dte(): returns next (1 for an invalid entry), SCAN_LAST, or -errno. */
static int64_t restore_dte(Walk *w, uint64_t id, uint64_t gpa, uint64_t raw)
{
    ItsmigItsDte dte;
    ItsmigItsDevice *d;
    int r;

    itsmig_its_dte_decode(raw, &dte);
    if (!dte.valid)
        return 1;
    if (dte.event_id_bits > ITSMIG_ITS_IDBITS) {
        finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "dte-event-id-bits-too-large", gpa,
                "device %" PRIu64 ": %u EventID bits exceed the %u KVM supports", id,
                dte.event_id_bits, ITSMIG_ITS_IDBITS);
        return -EINVAL;
    }
    if (id >= (UINT64_C(1) << ITSMIG_ITS_DEVBITS)) {
        finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "dte-device-id-beyond-devbits", gpa,
                "a valid DTE at 0x%" PRIx64 " stands for device %" PRIu64
                ", beyond the %u DeviceID bits",
                gpa, id, ITSMIG_ITS_DEVBITS);
        return -EINVAL;
    }
    d = add_device(w, (uint32_t)id, dte.itt_addr, dte.event_id_bits);
    if (!d)
        return -ENOMEM;
    r = restore_itt(w, d);
    if (r < 0)
        return r;
    return dte.next;
}

/*
 * scan_its_table() over device table entries, flat or one level-2 page.
 * Returns SCAN_LAST, SCAN_END or -errno (only for ENOMEM/E2BIG: kernel
 * errors are findings, and the walk goes on to lint the rest).
 */
static int scan_dtes(Walk *w, uint64_t base, uint64_t size, uint64_t start_id, bool l2)
{
    uint64_t n = size / ITSMIG_ITS_ESZ, i = 0;

    while (true) {
        uint64_t raw, gpa = base + i * ITSMIG_ITS_ESZ;
        int64_t next;

        if (walk_load(w, gpa, &raw) < 0) {
            if (w->budget_exhausted)
                return -E2BIG;
            finding(w, ITSMIG_SEVERITY_ERROR, EFAULT,
                    l2 ? "l2-table-outside-memory" : "device-table-outside-memory", gpa,
                    "device table entry for device %" PRIu64 " at 0x%" PRIx64
                    " is outside guest memory",
                    start_id + i, gpa);
            return SCAN_LAST; /* the kernel stops here */
        }
        w->rep->bytes_scanned += ITSMIG_ITS_ESZ;
        next = restore_dte(w, start_id + i, gpa, raw);
        if (next == -ENOMEM || next == -E2BIG)
            return (int)next;
        if (next < 0)
            next = 1;
        if (next == SCAN_LAST) {
            report_skipped(w, false, 0, gpa + ITSMIG_ITS_ESZ, n - i - 1, true);
            return SCAN_LAST;
        }
        if ((uint64_t)next >= n - i) {
            /* Normal for a level-2 page (the next device is in a later page);
             * in a flat table no device can follow. */
            if (!l2 && next > 1 && (raw & DTE_VALID))
                finding(w, ITSMIG_SEVERITY_WARNING, 0, "dte-next-beyond-table", gpa,
                        "device %" PRIu64 ": next offset %" PRId64
                        " leaves the device table; the scan stops there",
                        start_id + i, next);
            report_skipped(w, false, 0, gpa + ITSMIG_ITS_ESZ, n - i - 1, false);
            return SCAN_END;
        }
        if (next > 1)
            report_skipped(w, false, 0, gpa + ITSMIG_ITS_ESZ, (uint64_t)next - 1, false);
        i += (uint64_t)next;
    }
}

static int restore_device_table(Walk *w, uint64_t baser)
{
    uint64_t base = baser_addr_64k(baser);
    uint64_t size = itsmig_gits_baser_table_size(baser);

    if (!(baser & BASER_VALID)) {
        finding(w, ITSMIG_SEVERITY_INFO, 0, "device-table-not-valid", 0,
                "GITS_BASER0 is not Valid: no device is restored");
        return 0;
    }
    if (!(baser & BASER_INDIRECT))
        return scan_dtes(w, base, size, 0, false) < 0 ? -1 : 0;

    for (uint64_t i = 0; i < size / ITSMIG_ITS_ESZ; i++) {
        uint64_t raw, gpa = base + i * ITSMIG_ITS_ESZ;
        ItsmigItsL1e l1e;
        int r;

        if (walk_load(w, gpa, &raw) < 0) {
            if (w->budget_exhausted)
                return -1;
            finding(w, ITSMIG_SEVERITY_ERROR, EFAULT, "device-table-outside-memory", gpa,
                    "level-1 device table entry %" PRIu64 " at 0x%" PRIx64
                    " is outside guest memory",
                    i, gpa);
            return 0;
        }
        w->rep->bytes_scanned += ITSMIG_ITS_ESZ;
        itsmig_its_l1e_decode(raw, &l1e);
        if (!l1e.valid)
            continue;
        r = scan_dtes(w, l1e.l2_addr, ITSMIG_ITS_TABLE_PAGE, i * ITSMIG_ITS_L2_DTES, true);
        if (r < 0)
            return -1;
        if (r == SCAN_LAST) {
            /* The kernel stops at the last DTE; later level-2 pages are never read. */
            for (uint64_t j = i + 1; j < size / ITSMIG_ITS_ESZ; j++) {
                uint64_t first = 0, live;

                if (walk_load(w, base + j * ITSMIG_ITS_ESZ, &raw) < 0)
                    break;
                itsmig_its_l1e_decode(raw, &l1e);
                if (!l1e.valid || !gpa_visible(w->mem, l1e.l2_addr))
                    continue;
                live = count_live(w, l1e.l2_addr, ITSMIG_ITS_L2_DTES, false, &first);
                if (live)
                    finding(w, ITSMIG_SEVERITY_WARNING, 0, "dte-after-last", first,
                            "%" PRIu64 " valid DTE(s) in the level-2 page of level-1 entry %" PRIu64
                            " are never restored (the chain ended before them)",
                            live, j);
            }
            return 0;
        }
    }
    return 0;
}

static int restore_collection_table(Walk *w, uint64_t baser)
{
    const ItsmigItsWalkInput *in = w->in;
    ItsmigItsMapping *m = &w->rep->mapping;
    uint64_t base = baser_addr_64k(baser);
    uint64_t max = itsmig_gits_baser_table_size(baser) / ITSMIG_ITS_ESZ;
    size_t cap = 0;

    if (!(baser & BASER_VALID)) {
        finding(w, ITSMIG_SEVERITY_INFO, 0, "collection-table-not-valid", 0,
                "GITS_BASER1 is not Valid: no collection is restored");
        return 0;
    }
    for (uint64_t i = 0; i < max; i++) {
        uint64_t raw, gpa = base + i * ITSMIG_ITS_ESZ;
        ItsmigItsCte cte;

        if (walk_load(w, gpa, &raw) < 0) {
            if (w->budget_exhausted)
                return -1;
            finding(w, ITSMIG_SEVERITY_ERROR, EFAULT, "collection-table-outside-memory", gpa,
                    "collection table entry %" PRIu64 " at 0x%" PRIx64 " is outside guest memory",
                    i, gpa);
            return 0;
        }
        w->rep->bytes_scanned += ITSMIG_ITS_ESZ;
        itsmig_its_cte_decode(raw, &cte);
        if (!cte.valid)
            return 0;
        if (cte.target != ITSMIG_ITS_COLLECTION_UNMAPPED &&
            in->nr_vcpus != ITSMIG_ITS_WALK_NO_VCPU_CHECK && cte.target >= in->nr_vcpus) {
            finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "collection-target-out-of-range", gpa,
                    "collection %u targets vCPU %" PRIu32 " but the VM has %u vCPU(s)", cte.icid,
                    cte.target, in->nr_vcpus);
            continue;
        }
        if (w->coll_index[cte.icid]) {
            finding(w, ITSMIG_SEVERITY_ERROR, EEXIST, "collection-duplicate-icid", gpa,
                    "collection %u appears twice in the collection table", cte.icid);
            continue;
        }
        if (cte.icid >= max || !gpa_visible(w->mem, base + (uint64_t)cte.icid * ITSMIG_ITS_ESZ)) {
            finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "collection-icid-beyond-table", gpa,
                    "collection %u does not fit the collection table (%" PRIu64 " entries)",
                    cte.icid, max);
            continue;
        }
        if (m->n_collections == cap) {
            ItsmigItsCollection *n;

            cap = cap ? cap * 2 : 16;
            n = realloc(m->collections, cap * sizeof(*n));
            if (!n) {
                w->oom = true;
                return -1;
            }
            m->collections = n;
        }
        m->collections[m->n_collections].icid = cte.icid;
        m->collections[m->n_collections].target = cte.target;
        m->n_collections++;
        w->coll_index[cte.icid] = (uint32_t)m->n_collections;
    }
    finding(w, ITSMIG_SEVERITY_INFO, 0, "collection-table-full", base,
            "the collection table is full (%" PRIu64 " entries) and has no terminating entry", max);
    return 0;
}

static void check_baser(Walk *w, unsigned index, uint64_t val)
{
    uint64_t eff = baser_kvm_effective(index, val);
    ItsmigGitsBaser b;

    itsmig_gits_baser_decode(val, &b);
    if (!b.valid || eff == val)
        return;
    finding(w, ITSMIG_SEVERITY_WARNING, 0, "baser-fields-forced", 0,
            "GITS_BASER%u 0x%016" PRIx64 " has type %u, %u-byte entries, %u-byte pages%s; "
            "KVM forces them and uses 0x%016" PRIx64,
            index, val, b.type, b.entry_size, b.page_size,
            index == 1 && b.indirect ? " and Indirect" : "", eff);
}

int itsmig_its_walk(const ItsmigItsWalkInput *in, const ItsmigGuestMem *mem,
                    ItsmigItsReport *ret_report, ItsmigDiag *diag)
{
    Walk w = {
        .in = in,
        .mem = mem,
        .rep = ret_report,
        .max_findings = in->max_findings ? in->max_findings : WALK_DEFAULT_MAX_FINDINGS,
    };
    unsigned rev = itsmig_gits_iidr_revision(in->iidr);
    int r;

    memset(ret_report, 0, sizeof(*ret_report));
    r = itsmig_guest_mem_check(mem, diag);
    if (r < 0)
        return r;
    ret_report->abi_revision = rev;

    if (itsmig_gits_iidr_product(in->iidr) != ITSMIG_GITS_IIDR_PRODUCT_KVM ||
        itsmig_gits_iidr_implementer(in->iidr) != ITSMIG_GITS_IIDR_IMPLEMENTER_ARM)
        finding(&w, ITSMIG_SEVERITY_WARNING, 0, "iidr-not-kvm", 0,
                "GITS_IIDR 0x%08" PRIx32 " is not KVM's (0x%08" PRIx32 " for revision %u); "
                "KVM only looks at its Revision field",
                in->iidr, itsmig_gits_iidr_make_kvm(rev), rev);
    if (rev != ITSMIG_ITS_ABI_REV0) {
        finding(&w, ITSMIG_SEVERITY_ERROR, EINVAL, "abi-revision-unsupported", 0,
                "ITS table ABI revision %u is not one this walker or KVM (revision 0 only) "
                "can restore; the GITS_IIDR write fails",
                rev);
        return w.oom ? itsmig_diag_set(diag, ENOMEM, "out of memory while walking") : 0;
    }
    if (in->nr_vcpus == ITSMIG_ITS_WALK_NO_VCPU_CHECK)
        finding(&w, ITSMIG_SEVERITY_INFO, 0, "vcpu-check-skipped", 0,
                "the vCPU count is not known: collection targets were not checked");
    if (!in->propbaser)
        finding(&w, ITSMIG_SEVERITY_INFO, 0, "lpi-config-check-skipped", 0,
                "GICR_PROPBASER is not known: LPI configuration reads were not checked");

    {
        /* Reserve room for as many events as guest memory can hold ITEs
         * (capped): a large allocation is only touched as it fills, while
         * growing it step by step would copy millions of events. */
        uint64_t total = 0;

        for (size_t i = 0; i < mem->n_regions; i++)
            total += mem->regions[i].size / ITSMIG_ITS_ESZ;
        if (mem->read)
            total += mem->read_size / ITSMIG_ITS_ESZ;
        w.max_events = (size_t)total;
        /* Tables that do not overlap are read about twice (the walk, then
         * the lint of skipped entries): more reads per byte of memory can
         * only come from ITTs shared between devices. */
        w.mem_bytes = total * ITSMIG_ITS_ESZ;
        w.max_entries = total < WALK_MAX_ENTRIES / ITSMIG_ITS_WALK_READS_PER_ENTRY
                            ? ITSMIG_ITS_WALK_MIN_READS + ITSMIG_ITS_WALK_READS_PER_ENTRY * total
                            : WALK_MAX_ENTRIES;
        if (w.max_entries > WALK_MAX_ENTRIES)
            w.max_entries = WALK_MAX_ENTRIES;
        w.cap_events = (size_t)(total < WALK_EVENT_RESERVE ? total : WALK_EVENT_RESERVE) + 64;
        ret_report->mapping.events = malloc(w.cap_events * sizeof(ItsmigItsEvent));
        if (!ret_report->mapping.events)
            return itsmig_diag_set(diag, ENOMEM, "out of memory");
    }
    w.coll_index = calloc(ITSMIG_ITS_MAX_COLLECTIONS, sizeof(*w.coll_index));
    w.coll_flagged = calloc(ITSMIG_ITS_MAX_COLLECTIONS, 1);
    if (!w.coll_index || !w.coll_flagged) {
        free(w.coll_index);
        free(w.coll_flagged);
        itsmig_its_report_clear(ret_report);
        return itsmig_diag_set(diag, ENOMEM, "out of memory");
    }

    check_baser(&w, 0, in->baser0);
    check_baser(&w, 1, in->baser1);

    /* KVM restores the collection table first: ITEs need their collections. */
    r = restore_collection_table(&w, baser_kvm_effective(1, in->baser1));
    if (r == 0)
        r = restore_device_table(&w, baser_kvm_effective(0, in->baser0));

    free(w.coll_index);
    free(w.coll_flagged);
    free(w.lpi_seen);
    if (w.oom) {
        itsmig_its_report_clear(ret_report);
        return itsmig_diag_set(diag, ENOMEM, "out of memory while walking the ITS tables");
    }
    /* Why the walk stopped is said even when the findings are full. */
    if (w.budget_exhausted || w.events_capped)
        w.max_findings = ret_report->n_findings + 2;
    if (w.budget_exhausted) {
        finding(&w, ITSMIG_SEVERITY_ERROR, E2BIG, "walk-limit-reached", 0,
                "the tables need more than %" PRIu64 " entry reads (for %" PRIu64
                " bytes of guest memory); the walk stopped there",
                w.max_entries, w.mem_bytes);
    }
    if (w.events_capped) {
        finding(&w, ITSMIG_SEVERITY_ERROR, E2BIG, "walk-event-limit-reached", 0,
                "the ITTs map more events than guest memory holds ITEs (%zu): devices share "
                "ITTs; the walk stopped there",
                w.max_events);
    }
    return 0;
}

void itsmig_its_report_clear(ItsmigItsReport *r)
{
    if (!r)
        return;
    itsmig_its_mapping_clear(&r->mapping);
    free(r->findings);
    memset(r, 0, sizeof(*r));
}

/* ---- SAVE_TABLES prediction ------------------------------------------------- */

void itsmig_its_save_prediction_clear(ItsmigItsSavePrediction *p)
{
    if (!p)
        return;
    itsmig_its_mapping_clear(&p->saved);
    memset(p, 0, sizeof(*p));
}

static bool save_device_reachable(const ItsmigGuestMem *mem, uint64_t baser0, uint32_t id)
{
    uint64_t l2_next = 0, gpa;

    return device_entry_gpa(mem, baser0, id, &l2_next, &gpa, NULL) == 0;
}

int itsmig_its_predict_save(const ItsmigItsSaveInput *in, const ItsmigGuestMem *mem,
                            ItsmigItsSavePrediction *ret_prediction, ItsmigDiag *diag)
{
    const ItsmigItsMapping *m = in->mapping;
    const ItsmigItsSaveSemantics *sem = &in->semantics;
    bool save_devices = (in->baser0 & BASER_VALID) != 0;
    bool save_collections = (in->baser1 & BASER_VALID) != 0;
    ItsmigItsSavePrediction p;
    ItsmigItsMapping *out = &p.saved;
    int r;

    memset(&p, 0, sizeof(p));
    r = itsmig_its_mapping_check(m, diag);
    if (r < 0)
        return r;
    if (!sem->baser_write_keeps_mappings) {
        if (in->baser0_changed)
            p.n_devices_dropped = m->n_devices;
        if (in->baser1_changed)
            p.n_collections_dropped = m->n_collections;
    }
    out->devices = calloc(m->n_devices ? m->n_devices : 1, sizeof(*out->devices));
    out->events = calloc(m->n_events ? m->n_events : 1, sizeof(*out->events));
    out->collections = calloc(m->n_collections ? m->n_collections : 1, sizeof(*out->collections));
    if (!out->devices || !out->events || !out->collections) {
        itsmig_its_save_prediction_clear(&p);
        return itsmig_diag_set(diag, ENOMEM, "out of memory");
    }

    /* Collections: written one after another from the table's base, then a
     * terminating invalid entry unless the table is full. */
    if (save_collections && !p.n_collections_dropped) {
        uint64_t base = baser_addr_64k(in->baser1);
        uint64_t cap = itsmig_gits_baser_table_size(in->baser1) / ITSMIG_ITS_ESZ;
        uint64_t end = base + (m->n_collections + (m->n_collections != cap)) * ITSMIG_ITS_ESZ;

        for (uint64_t gpa = base; gpa < end; gpa += ITSMIG_ITS_ESZ) {
            if (!gpa_visible(mem, gpa)) {
                p.save_errno = EFAULT;
                p.save_cause = "save-collection-table-outside-memory";
                goto done;
            }
        }
        for (size_t i = 0; i < m->n_collections; i++) {
            if (i < cap)
                out->collections[out->n_collections++] = m->collections[i];
            else
                p.n_collections_overflow++;
        }
    }

    /* Devices in DeviceID order, as the kernel sorts them; their events,
     * where the ITS still holds their collection. */
    if (save_devices && !p.n_devices_dropped) {
        for (size_t i = 0; i < m->n_devices; i++) {
            const ItsmigItsDevice *d = &m->devices[i];
            ItsmigItsDevice *od;

            if (!save_device_reachable(mem, in->baser0, d->device_id)) {
                if (sem->unreachable_device_errno) {
                    p.save_errno = sem->unreachable_device_errno;
                    p.save_cause = "save-device-unreachable";
                    goto done;
                }
                p.n_devices_skipped++;
                continue;
            }
            od = &out->devices[out->n_devices++];
            *od = *d;
            od->first_event = out->n_events;
            od->n_events = 0;
            for (size_t j = 0; j < d->n_events; j++) {
                const ItsmigItsEvent *e = &m->events[d->first_event + j];
                bool have = false;

                for (size_t k = 0; !p.n_collections_dropped && k < m->n_collections && !have; k++)
                    have = m->collections[k].icid == e->icid;
                if (have) {
                    out->events[out->n_events++] = *e;
                    od->n_events++;
                }
            }
        }
    }
done:
    if (p.save_errno)
        itsmig_its_mapping_clear(out);
    *ret_prediction = p;
    return 0;
}

/* ---- pending tables ----------------------------------------------------------- */

bool itsmig_its_pending_test(const uint8_t *table, size_t len, uint32_t intid)
{
    return intid / 8 < len && (table[intid / 8] & (1u << (intid % 8)));
}

int itsmig_its_pending_decode(const uint8_t *table, size_t len, uint32_t **ret_intids,
                              size_t *ret_n, ItsmigDiag *diag)
{
    uint32_t *out = NULL;
    size_t n = 0, cap = 0;

    /* The first 1KB covers INTIDs below 8192, which are not LPIs. */
    for (size_t byte = ITSMIG_ITS_MIN_LPI / 8; byte < len; byte++) {
        if (!table[byte])
            continue;
        for (unsigned bit = 0; bit < 8; bit++) {
            if (!(table[byte] & (1u << bit)))
                continue;
            if (n == cap) {
                uint32_t *p;

                cap = cap ? cap * 2 : 64;
                p = realloc(out, cap * sizeof(*p));
                if (!p) {
                    free(out);
                    return itsmig_diag_set(diag, ENOMEM, "out of memory");
                }
                out = p;
            }
            out[n++] = (uint32_t)(byte * 8 + bit);
        }
    }
    *ret_intids = out;
    *ret_n = n;
    return 0;
}
