/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ITS table ABI revision 0: register fields, entry codecs, guest memory
 * access, mappings and pending tables.  The walker is in its-walk.c, the
 * writer and the save prediction in its-save.c.  libc only: these files also
 * build into the static guest of the real-kernel bed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "its-abi-private.h"

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

uint64_t itsmig_gits_baser_addr_64k(uint64_t baser)
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
        ret->addr = itsmig_gits_baser_addr_64k(baser);
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
uint64_t itsmig_gits_baser_kvm_effective(unsigned index, uint64_t val)
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

const ItsmigGuestRegion *itsmig_guest_mem_region(const ItsmigGuestMem *mem, uint64_t gpa)
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
    const ItsmigGuestRegion *r = itsmig_guest_mem_region(mem, gpa);

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
        const ItsmigGuestRegion *r = itsmig_guest_mem_region(mem, gpa);
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

bool itsmig_guest_mem_visible(const ItsmigGuestMem *mem, uint64_t gpa)
{
    uint8_t b;

    if (mem->read)
        return mem->read(mem->opaque, gpa, &b, 1) == 0;
    return itsmig_guest_mem_region(mem, gpa) != NULL;
}

/* Reads one little-endian 8-byte table entry. */
int itsmig_guest_mem_load64(const ItsmigGuestMem *mem, uint64_t gpa, uint64_t *ret)
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
