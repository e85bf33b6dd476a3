/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ITS table walker (itsmig_its_walk) over guest memory and registers
 * taken from the input, and the bounds it promises (its-abi.h): entry reads,
 * events kept and bytes allocated, each by the size of guest memory.
 *
 * Input: a 64-byte header, then guest memory.
 *   0      flags: bit 0 registers as given (else tables at the two regions),
 *          bit 1 GICR_PROPBASER, bit 2 GICR_PENDBASERs
 *   1..4   GITS_IIDR            5..12  GITS_BASER0     13..20 GITS_BASER1
 *   21..28 GICR_PROPBASER       29     vCPUs           30     PENDBASERs (0..4)
 *   31..62 four GICR_PENDBASERs 63     region A's size in 4 KiB pages
 * Region A (at 0x100000) is the start of the memory, region B (at 0x200000)
 * the rest, at most 1 MiB.  In
 * the "tables" mode the device table is at A (BASER0's low bits choose the
 * number of pages and Indirect) and the collection table at B, so that ITT
 * addresses in DTEs are the input's to find.
 */
#include "config.h"

#include <string.h>

#include "itsmig/its-abi.h"
#include "tests/fuzz/fuzz-alloc.h"
#include "tests/fuzz/fuzz.h"

#define HDR        64
#define REGION_A   UINT64_C(0x100000)
#define REGION_B   UINT64_C(0x200000)
#define REGION_MAX UINT64_C(0x100000)

static uint64_t le64(const uint8_t *p)
{
    return itsmig_le64_load(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ItsmigItsWalkInput in = {0};
    ItsmigGuestRegion regions[2];
    ItsmigGuestMem mem = {0};
    ItsmigItsReport rep;
    uint64_t pend[4];
    uint64_t mem_bytes = 0;
    size_t base, peak;
    size_t n, split;
    uint8_t flags;
    uint8_t *copy;
    int r;

    if (size < HDR)
        return 0;
    flags = data[0];
    n = size - HDR;
    if (n > 2 * REGION_MAX)
        n = 2 * REGION_MAX;
    split = (size_t)data[63] * 4096;
    if (split > n)
        split = n;
    if (n - split > REGION_MAX)
        n = split + REGION_MAX;
    /* Guest memory the walker may not write: a copy, as KVM's is the guest's. */
    copy = malloc(n ? n : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + HDR, n);
    if (split) {
        regions[mem.n_regions++] = (ItsmigGuestRegion){REGION_A, split, copy};
        mem_bytes += split;
    }
    if (n > split) {
        regions[mem.n_regions++] = (ItsmigGuestRegion){REGION_B, n - split, copy + split};
        mem_bytes += n - split;
    }
    mem.regions = regions;

    if (flags & 1) {
        in.iidr = (uint32_t)le64(data + 1);
        in.baser0 = le64(data + 5);
        in.baser1 = le64(data + 13);
    } else {
        uint64_t b0 = le64(data + 5);

        in.iidr = itsmig_gits_iidr_make_kvm(data[1] & 1 ? (data[1] >> 4) : 0);
        in.baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, REGION_A,
                                           1 + (unsigned)(b0 & 3), (b0 & 4) != 0);
        in.baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, REGION_B, 1, false);
    }
    if (flags & 2)
        in.propbaser = le64(data + 21);
    in.nr_vcpus = data[29];
    if (flags & 4) {
        for (unsigned i = 0; i < 4; i++)
            pend[i] = le64(data + 31 + 8 * i);
        in.pendbasers = pend;
        in.nr_pendbasers = data[30] % 5;
    }

    base = fuzz_alloc_start();
    r = itsmig_its_walk(&in, &mem, &rep, NULL);
    peak = fuzz_alloc_peak_bytes() - base;

    /* Valid memory: the walk itself does not fail (it reports). */
    FUZZ_ASSERT(r == 0);
    FUZZ_ASSERT(rep.entries_scanned <=
                ITSMIG_ITS_WALK_MIN_READS + ITSMIG_ITS_WALK_READS_PER_ENTRY * (mem_bytes / 8));
    FUZZ_ASSERT(rep.entries_scanned <= ITSMIG_ITS_WALK_MAX_READS);
    FUZZ_ASSERT(rep.mapping.n_events <= mem_bytes / 8);
    FUZZ_ASSERT(peak <= ITSMIG_ITS_WALK_BYTES_PER_BYTE * mem_bytes + ITSMIG_ITS_WALK_FIXED_BYTES);
    FUZZ_ASSERT(itsmig_its_mapping_check(&rep.mapping, NULL) == 0);
    /* An error finding and the predicted errno go together. */
    FUZZ_ASSERT((rep.restore_errno == 0) == (rep.restore_cause == NULL));
    for (size_t i = 0; i < rep.n_findings; i++) {
        FUZZ_ASSERT(rep.findings[i].code != NULL);
        FUZZ_ASSERT(strlen(rep.findings[i].message) < ITSMIG_ITS_FINDING_TEXT_MAX);
    }
    itsmig_its_report_clear(&rep);

    /* The pending-table decoder over the same bytes. */
    {
        uint32_t *intids = NULL;
        size_t n_intids = 0;

        if (itsmig_its_pending_decode(copy, n, &intids, &n_intids, NULL) == 0) {
            for (size_t i = 0; i < n_intids; i++)
                FUZZ_ASSERT(intids[i] >= ITSMIG_ITS_MIN_LPI &&
                            itsmig_its_pending_test(copy, n, intids[i]));
        }
        free(intids);
    }
    free(copy);
    return 0;
}
