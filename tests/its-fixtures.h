/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Deterministic ITS mappings and guest memory for the unit tests, the
 * benchmark and the real-kernel tests.  libc only (it runs in the guest too).
 */

#include <stdint.h>

#include "itsmig/its-abi.h"

/* splitmix64: small, fast, and the same sequence on every machine. */
uint64_t its_fixture_rand(uint64_t *state);
uint64_t its_fixture_rand_below(uint64_t *state, uint64_t bound);

typedef struct {
    uint64_t seed;
    unsigned n_devices;      /* exactly this many devices */
    uint32_t device_id_span; /* device IDs drawn from [0, span) */
    unsigned max_events;     /* each device gets 0..max_events events */
    unsigned min_event_bits; /* EventID bits drawn from [min, max] */
    unsigned max_event_bits;
    unsigned n_collections; /* distinct ICIDs drawn from [0, icid_span) */
    uint32_t icid_span;
    unsigned nr_vcpus;         /* collection targets drawn from [0, nr_vcpus) */
    unsigned unmapped_percent; /* share of collections left unmapped */
    uint64_t itt_base;         /* ITTs laid out one after another from here */
    uint32_t lpi_base;         /* pINTIDs handed out upwards from here (>= 8192) */
} ItsFixtureParams;

/*
 * A random mapping following @p: every ITE points at one of the mapping's
 * collections and gets its own pINTID.  *ret_itt_end is the first byte after
 * the last ITT.  0 or -errno.
 */
int its_fixture_mapping(const ItsFixtureParams *p, ItsmigItsMapping *ret, uint64_t *ret_itt_end);

/* A dense mapping for benchmarks: @n_devices consecutive device IDs from 0,
 * each with every one of its 2^event_bits events mapped. */
int its_fixture_dense_mapping(unsigned n_devices, unsigned event_bits, unsigned n_collections,
                              uint64_t itt_base, ItsmigItsMapping *ret);

/* One zero-filled region of guest memory; free with its_fixture_mem_free(). */
int its_fixture_mem_new(uint64_t gpa, uint64_t size, ItsmigGuestMem *ret);
void its_fixture_mem_free(ItsmigGuestMem *mem);
void its_fixture_mem_zero(const ItsmigGuestMem *mem);
