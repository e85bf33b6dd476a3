/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The walker: reads ITS tables back the way KVM's vgic-its.c restore does,
 * step by step, so that what it predicts is what RESTORE_TABLES returns.
 * libc only: it also builds into the static guest of the real-kernel bed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its-abi-private.h"

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
        r = itsmig_guest_mem_region(w->mem, gpa);
        if (!r || r->size < 8 || gpa - r->gpa > r->size - 8)
            return itsmig_guest_mem_load64(w->mem, gpa, ret);
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
    return itsmig_guest_mem_visible(w->mem, gpa);
}

/*
 * @array holding @n of *@cap elements of @size bytes, with room for one
 * more: doubled when full (64 to start).  NULL when out of memory.
 */
static void *walk_grow(Walk *w, void *array, size_t n, size_t *cap, size_t size)
{
    size_t c = *cap ? *cap * 2 : 64;
    void *p;

    if (n < *cap)
        return array;
    p = realloc(array, c * size);
    if (!p) {
        w->oom = true;
        return NULL;
    }
    *cap = c;
    return p;
}

static ItsmigItsDevice *add_device(Walk *w, uint32_t id, uint64_t itt, unsigned bits)
{
    ItsmigItsMapping *m = &w->rep->mapping;
    ItsmigItsDevice *d;

    d = walk_grow(w, m->devices, m->n_devices, &w->cap_devices, sizeof(*d));
    if (!d)
        return NULL;
    m->devices = d;
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
    e = walk_grow(w, m->events, m->n_events, &w->cap_events, sizeof(*e));
    if (!e)
        return false;
    m->events = e;
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
    uint64_t base = itsmig_gits_baser_addr_64k(baser);
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
                if (!l1e.valid || !itsmig_guest_mem_visible(w->mem, l1e.l2_addr))
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
    uint64_t base = itsmig_gits_baser_addr_64k(baser);
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
        if (cte.icid >= max ||
            !itsmig_guest_mem_visible(w->mem, base + (uint64_t)cte.icid * ITSMIG_ITS_ESZ)) {
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
    uint64_t eff = itsmig_gits_baser_kvm_effective(index, val);
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

/* The IIDR findings; false when the revision is one KVM cannot restore. */
static bool check_iidr(Walk *w, unsigned rev)
{
    uint32_t iidr = w->in->iidr;

    if (itsmig_gits_iidr_product(iidr) != ITSMIG_GITS_IIDR_PRODUCT_KVM ||
        itsmig_gits_iidr_implementer(iidr) != ITSMIG_GITS_IIDR_IMPLEMENTER_ARM)
        finding(w, ITSMIG_SEVERITY_WARNING, 0, "iidr-not-kvm", 0,
                "GITS_IIDR 0x%08" PRIx32 " is not KVM's (0x%08" PRIx32 " for revision %u); "
                "KVM only looks at its Revision field",
                iidr, itsmig_gits_iidr_make_kvm(rev), rev);
    if (rev != ITSMIG_ITS_ABI_REV0) {
        finding(w, ITSMIG_SEVERITY_ERROR, EINVAL, "abi-revision-unsupported", 0,
                "ITS table ABI revision %u is not one this walker or KVM (revision 0 only) "
                "can restore; the GITS_IIDR write fails",
                rev);
        return false;
    }
    return true;
}

/*
 * Sets the walk's limits by the size of guest memory and reserves room for
 * as many events as it can hold ITEs (capped): a large allocation is only
 * touched as it fills, while growing it step by step would copy millions of
 * events.  False when out of memory.
 */
static bool reserve_events(Walk *w)
{
    const ItsmigGuestMem *mem = w->mem;
    uint64_t total = 0;

    for (size_t i = 0; i < mem->n_regions; i++)
        total += mem->regions[i].size / ITSMIG_ITS_ESZ;
    if (mem->read)
        total += mem->read_size / ITSMIG_ITS_ESZ;
    w->max_events = (size_t)total;
    /* Tables that do not overlap are read about twice (the walk, then
     * the lint of skipped entries): more reads per byte of memory can
     * only come from ITTs shared between devices. */
    w->mem_bytes = total * ITSMIG_ITS_ESZ;
    w->max_entries = total < WALK_MAX_ENTRIES / ITSMIG_ITS_WALK_READS_PER_ENTRY
                         ? ITSMIG_ITS_WALK_MIN_READS + ITSMIG_ITS_WALK_READS_PER_ENTRY * total
                         : WALK_MAX_ENTRIES;
    if (w->max_entries > WALK_MAX_ENTRIES)
        w->max_entries = WALK_MAX_ENTRIES;
    w->cap_events = (size_t)(total < WALK_EVENT_RESERVE ? total : WALK_EVENT_RESERVE) + 64;
    w->rep->mapping.events = malloc(w->cap_events * sizeof(ItsmigItsEvent));
    return w->rep->mapping.events != NULL;
}

/* Why the walk stopped, said even when the findings are full. */
static void report_limits(Walk *w)
{
    if (w->budget_exhausted || w->events_capped)
        w->max_findings = w->rep->n_findings + 2;
    if (w->budget_exhausted)
        finding(w, ITSMIG_SEVERITY_ERROR, E2BIG, "walk-limit-reached", 0,
                "the tables need more than %" PRIu64 " entry reads (for %" PRIu64
                " bytes of guest memory); the walk stopped there",
                w->max_entries, w->mem_bytes);
    if (w->events_capped)
        finding(w, ITSMIG_SEVERITY_ERROR, E2BIG, "walk-event-limit-reached", 0,
                "the ITTs map more events than guest memory holds ITEs (%zu): devices share "
                "ITTs; the walk stopped there",
                w->max_events);
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

    if (!check_iidr(&w, rev))
        return w.oom ? itsmig_diag_set(diag, ENOMEM, "out of memory while walking") : 0;
    if (in->nr_vcpus == ITSMIG_ITS_WALK_NO_VCPU_CHECK)
        finding(&w, ITSMIG_SEVERITY_INFO, 0, "vcpu-check-skipped", 0,
                "the vCPU count is not known: collection targets were not checked");
    if (!in->propbaser)
        finding(&w, ITSMIG_SEVERITY_INFO, 0, "lpi-config-check-skipped", 0,
                "GICR_PROPBASER is not known: LPI configuration reads were not checked");
    if (!reserve_events(&w))
        return itsmig_diag_set(diag, ENOMEM, "out of memory");
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
    r = restore_collection_table(&w, itsmig_gits_baser_kvm_effective(1, in->baser1));
    if (r == 0)
        r = restore_device_table(&w, itsmig_gits_baser_kvm_effective(0, in->baser0));

    free(w.coll_index);
    free(w.coll_flagged);
    free(w.lpi_seen);
    if (w.oom) {
        itsmig_its_report_clear(ret_report);
        return itsmig_diag_set(diag, ENOMEM, "out of memory while walking the ITS tables");
    }
    report_limits(&w);
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
