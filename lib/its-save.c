/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The save side: a writer that lays a mapping out in guest memory as KVM's
 * SAVE_TABLES does, and the prediction of what SAVE_TABLES keeps.  libc only:
 * it also builds into the static guest of the real-kernel bed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "its-abi-private.h"

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

/*
 * Where the DTE of @id lives, as vgic_its_check_id() computes it; for a
 * two-level table with a missing level-2 page, allocates one from
 * *l2_next when the caller allowed it.
 */
static int device_entry_gpa(const ItsmigGuestMem *mem, uint64_t baser, uint32_t id,
                            uint64_t *l2_next, uint64_t *ret_gpa, ItsmigDiag *diag)
{
    uint64_t base = itsmig_gits_baser_addr_64k(baser);
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
        if (itsmig_guest_mem_load64(mem, base + index * ITSMIG_ITS_ESZ, &l1e) < 0)
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
    if (!itsmig_guest_mem_visible(mem, gpa))
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
        uint64_t base = itsmig_gits_baser_addr_64k(layout->baser1);
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

/*
 * Collections: written one after another from the table's base, then a
 * terminating invalid entry unless the table is full.
 */
static void predict_collections(const ItsmigItsSaveInput *in, const ItsmigGuestMem *mem,
                                ItsmigItsSavePrediction *p)
{
    const ItsmigItsMapping *m = in->mapping;
    ItsmigItsMapping *out = &p->saved;
    uint64_t base = itsmig_gits_baser_addr_64k(in->baser1);
    uint64_t cap = itsmig_gits_baser_table_size(in->baser1) / ITSMIG_ITS_ESZ;
    uint64_t end = base + (m->n_collections + (m->n_collections != cap)) * ITSMIG_ITS_ESZ;

    for (uint64_t gpa = base; gpa < end; gpa += ITSMIG_ITS_ESZ) {
        if (!itsmig_guest_mem_visible(mem, gpa)) {
            p->save_errno = EFAULT;
            p->save_cause = "save-collection-table-outside-memory";
            return;
        }
    }
    for (size_t i = 0; i < m->n_collections; i++) {
        if (i < cap)
            out->collections[out->n_collections++] = m->collections[i];
        else
            p->n_collections_overflow++;
    }
}

/* The events of @d whose collection the ITS still holds, appended to @od. */
static void predict_events(const ItsmigItsMapping *m, const ItsmigItsDevice *d,
                           bool collections_dropped, ItsmigItsMapping *out, ItsmigItsDevice *od)
{
    for (size_t j = 0; j < d->n_events; j++) {
        const ItsmigItsEvent *e = &m->events[d->first_event + j];
        bool have = false;

        for (size_t k = 0; !collections_dropped && k < m->n_collections && !have; k++)
            have = m->collections[k].icid == e->icid;
        if (have) {
            out->events[out->n_events++] = *e;
            od->n_events++;
        }
    }
}

/* Devices in DeviceID order, as the kernel sorts them, with their events. */
static void predict_devices(const ItsmigItsSaveInput *in, const ItsmigGuestMem *mem,
                            ItsmigItsSavePrediction *p)
{
    const ItsmigItsMapping *m = in->mapping;
    ItsmigItsMapping *out = &p->saved;

    for (size_t i = 0; i < m->n_devices; i++) {
        const ItsmigItsDevice *d = &m->devices[i];
        ItsmigItsDevice *od;

        if (!save_device_reachable(mem, in->baser0, d->device_id)) {
            if (in->semantics.unreachable_device_errno) {
                p->save_errno = in->semantics.unreachable_device_errno;
                p->save_cause = "save-device-unreachable";
                return;
            }
            p->n_devices_skipped++;
            continue;
        }
        od = &out->devices[out->n_devices++];
        *od = *d;
        od->first_event = out->n_events;
        od->n_events = 0;
        predict_events(m, d, p->n_collections_dropped != 0, out, od);
    }
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

    if (save_collections && !p.n_collections_dropped)
        predict_collections(in, mem, &p);
    if (p.save_errno == 0 && save_devices && !p.n_devices_dropped)
        predict_devices(in, mem, &p);
    if (p.save_errno)
        itsmig_its_mapping_clear(out);
    *ret_prediction = p;
    return 0;
}
