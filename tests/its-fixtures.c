/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "its-fixtures.h"

uint64_t its_fixture_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t its_fixture_rand_below(uint64_t *state, uint64_t bound)
{
    return bound ? its_fixture_rand(state) % bound : 0;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* @n distinct values from [0, span), sorted; returns how many (<= n). */
static size_t distinct_sorted(uint64_t *rng, uint32_t *out, size_t n, uint64_t span)
{
    size_t k = 0;

    if (n > span)
        n = (size_t)span;
    if (span <= 4 * (uint64_t)n) {
        /* Dense: choose each value with the right odds (selection sampling). */
        for (uint64_t v = 0; v < span && k < n; v++) {
            if (its_fixture_rand_below(rng, span - v) < n - k)
                out[k++] = (uint32_t)v;
        }
        return k;
    }
    while (k < n) {
        for (size_t i = k; i < n; i++)
            out[i] = (uint32_t)its_fixture_rand_below(rng, span);
        qsort(out, n, sizeof(*out), u32_cmp);
        k = 0;
        for (size_t i = 0; i < n; i++) {
            if (k == 0 || out[i] != out[k - 1])
                out[k++] = out[i];
        }
    }
    return k;
}

int its_fixture_mapping(const ItsFixtureParams *p, ItsmigItsMapping *ret, uint64_t *ret_itt_end)
{
    uint64_t rng = p->seed;
    ItsmigItsMapping m = {0};
    uint32_t *ids = NULL, *icids = NULL;
    uint64_t itt = (p->itt_base + 255) & ~UINT64_C(255);
    uint32_t lpi = p->lpi_base < ITSMIG_ITS_MIN_LPI ? ITSMIG_ITS_MIN_LPI : p->lpi_base;
    size_t cap_events = 0;

    if (p->n_devices && (!p->n_collections || p->min_event_bits < 1 || p->max_event_bits > 16 ||
                         p->min_event_bits > p->max_event_bits))
        return -EINVAL;

    ids = calloc(p->n_devices + 1, sizeof(*ids));
    icids = calloc(p->n_collections + 1, sizeof(*icids));
    m.devices = calloc(p->n_devices + 1, sizeof(*m.devices));
    m.collections = calloc(p->n_collections + 1, sizeof(*m.collections));
    if (!ids || !icids || !m.devices || !m.collections)
        goto oom;

    m.n_collections = distinct_sorted(&rng, icids, p->n_collections, p->icid_span);
    for (size_t i = 0; i < m.n_collections; i++) {
        m.collections[i].icid = (uint16_t)icids[i];
        if (p->nr_vcpus == 0 || its_fixture_rand_below(&rng, 100) < p->unmapped_percent)
            m.collections[i].target = ITSMIG_ITS_COLLECTION_UNMAPPED;
        else
            m.collections[i].target = (uint32_t)its_fixture_rand_below(&rng, p->nr_vcpus);
    }
    /* Table order need not be ICID order: shuffle it. */
    for (size_t i = m.n_collections; i > 1; i--) {
        size_t j = (size_t)its_fixture_rand_below(&rng, i);
        ItsmigItsCollection t = m.collections[i - 1];

        m.collections[i - 1] = m.collections[j];
        m.collections[j] = t;
    }

    m.n_devices = distinct_sorted(&rng, ids, p->n_devices, p->device_id_span);
    for (size_t i = 0; i < m.n_devices; i++) {
        ItsmigItsDevice *d = &m.devices[i];
        unsigned bits = p->min_event_bits + (unsigned)its_fixture_rand_below(
                                                &rng, p->max_event_bits - p->min_event_bits + 1);
        size_t want = (size_t)its_fixture_rand_below(&rng, (uint64_t)p->max_events + 1);

        d->device_id = ids[i];
        d->event_id_bits = bits;
        d->itt_addr = itt;
        d->first_event = m.n_events;
        itt += ((UINT64_C(8) << bits) + 255) & ~UINT64_C(255);

        if (m.n_events + want > cap_events) {
            size_t cap = (m.n_events + want) * 2 + 16;
            ItsmigItsEvent *n = realloc(m.events, cap * sizeof(*n));

            if (!n)
                goto oom;
            m.events = n;
            cap_events = cap;
        }
        {
            uint32_t *evs = calloc(want + 1, sizeof(*evs));
            size_t k;

            if (!evs)
                goto oom;
            k = distinct_sorted(&rng, evs, want, UINT64_C(1) << bits);
            for (size_t j = 0; j < k; j++) {
                ItsmigItsEvent *e = &m.events[m.n_events++];

                e->event_id = evs[j];
                e->pintid = lpi++;
                e->icid = m.collections[its_fixture_rand_below(&rng, m.n_collections)].icid;
            }
            d->n_events = k;
            free(evs);
        }
    }
    free(ids);
    free(icids);
    *ret = m;
    if (ret_itt_end)
        *ret_itt_end = itt;
    return 0;

oom:
    free(ids);
    free(icids);
    itsmig_its_mapping_clear(&m);
    return -ENOMEM;
}

int its_fixture_dense_mapping(unsigned n_devices, unsigned event_bits, unsigned n_collections,
                              uint64_t itt_base, ItsmigItsMapping *ret)
{
    ItsmigItsMapping m = {0};
    size_t per = (size_t)1 << event_bits;
    uint32_t lpi = ITSMIG_ITS_MIN_LPI;

    if (!n_collections || n_collections > ITSMIG_ITS_MAX_COLLECTIONS || event_bits > 16)
        return -EINVAL;
    m.devices = calloc(n_devices ? n_devices : 1, sizeof(*m.devices));
    m.events = calloc(n_devices * per + 1, sizeof(*m.events));
    m.collections = calloc(n_collections, sizeof(*m.collections));
    if (!m.devices || !m.events || !m.collections) {
        itsmig_its_mapping_clear(&m);
        return -ENOMEM;
    }
    for (unsigned c = 0; c < n_collections; c++) {
        m.collections[c].icid = (uint16_t)c;
        m.collections[c].target = c;
    }
    m.n_collections = n_collections;
    for (unsigned i = 0; i < n_devices; i++) {
        ItsmigItsDevice *d = &m.devices[i];

        d->device_id = i;
        d->event_id_bits = event_bits;
        d->itt_addr = itt_base + (uint64_t)i * per * ITSMIG_ITS_ESZ;
        d->first_event = m.n_events;
        d->n_events = per;
        for (size_t e = 0; e < per; e++) {
            m.events[m.n_events].event_id = (uint32_t)e;
            m.events[m.n_events].pintid = lpi++;
            m.events[m.n_events].icid = (uint16_t)(e % n_collections);
            m.n_events++;
        }
    }
    m.n_devices = n_devices;
    *ret = m;
    return 0;
}

int its_fixture_mem_new(uint64_t gpa, uint64_t size, ItsmigGuestMem *ret)
{
    ItsmigGuestRegion *r = calloc(1, sizeof(*r));

    if (!r)
        return -ENOMEM;
    r->gpa = gpa;
    r->size = size;
    r->data = calloc(1, size);
    if (!r->data) {
        free(r);
        return -ENOMEM;
    }
    *ret = (ItsmigGuestMem){.regions = r, .n_regions = 1};
    return 0;
}

void its_fixture_mem_free(ItsmigGuestMem *mem)
{
    for (size_t i = 0; i < mem->n_regions; i++)
        free(mem->regions[i].data);
    free(mem->regions);
    mem->regions = NULL;
    mem->n_regions = 0;
}

void its_fixture_mem_zero(const ItsmigGuestMem *mem)
{
    for (size_t i = 0; i < mem->n_regions; i++)
        memset(mem->regions[i].data, 0, mem->regions[i].size);
}
