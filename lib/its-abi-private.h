/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What its-abi.c (registers, entries, guest memory), its-walk.c (the restore
 * walker) and its-save.c (the writer and the SAVE_TABLES prediction) share.
 * libc only, like them: they also build into the static guest of the
 * real-kernel bed (LIBITSMIG_LIBC_SOURCES in Makefile.am).
 */

#include <stdbool.h>
#include <stdint.h>

#include "itsmig/its-abi.h"

#define BIT64(n)         (UINT64_C(1) << (n))
#define MASK64(hi, lo)   ((~UINT64_C(0) >> (63 - (hi))) & ~(BIT64(lo) - 1))
#define FIELD(v, hi, lo) (((v)&MASK64(hi, lo)) >> (lo))

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

#define DTE_VALID        BIT64(63)
#define DTE_NEXT_SHIFT   49
#define DTE_ITT_SHIFT    5
#define ITE_NEXT_SHIFT   48
#define ITE_PINTID_SHIFT 16
#define CTE_VALID        BIT64(63)
#define CTE_RDBASE_SHIFT 16
#define L1E_VALID        BIT64(63)

/* The table address of a BASER with 64K pages (bits [51:48] in [15:12]). */
uint64_t itsmig_gits_baser_addr_64k(uint64_t baser);
/* The value KVM holds after userspace writes @val to BASER<index>. */
uint64_t itsmig_gits_baser_kvm_effective(unsigned index, uint64_t val);

const ItsmigGuestRegion *itsmig_guest_mem_region(const ItsmigGuestMem *mem, uint64_t gpa);
/* Whether the byte at @gpa is guest memory, as kvm_read_guest() would find it. */
bool itsmig_guest_mem_visible(const ItsmigGuestMem *mem, uint64_t gpa);
/* One 8-byte entry, -EFAULT outside guest memory. */
int itsmig_guest_mem_load64(const ItsmigGuestMem *mem, uint64_t gpa, uint64_t *ret);
