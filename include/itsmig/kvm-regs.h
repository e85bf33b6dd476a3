/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The vCPU register set this host's KVM gives a guest, learnt from scratch
 * vCPUs initialised the way QEMU initialises a host-passthrough vCPU on this
 * host.  QEMU migrates every register KVM_GET_REG_LIST names (its cpreg
 * list), so a destination whose KVM lacks one of them, or refuses one of the
 * values, fails the load ("failed to load cpu:cpreg_vmstate_array_len").
 * libc only.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "itsmig/diag.h"

/* The optional vCPU features QEMU turns on by default when KVM offers them. */
typedef enum {
    ITSMIG_VCPU_FEATURE_PSCI_0_2 = 1u << 0,
    ITSMIG_VCPU_FEATURE_PMU_V3 = 1u << 1,
    ITSMIG_VCPU_FEATURE_SVE = 1u << 2,
    ITSMIG_VCPU_FEATURE_PTRAUTH = 1u << 3, /* address and generic authentication */
} ItsmigVcpuFeature;

typedef struct {
    uint64_t id;       /* KVM register id: KVM_REG_ARM64 | size | coprocessor | index */
    uint64_t value;    /* KVM_GET_ONE_REG, when has_value (ID and firmware registers) */
    uint64_t writable; /* from KVM_ARM_GET_REG_WRITABLE_MASKS, when has_writable */
    bool has_value;
    bool has_writable;
    /* ItsmigVcpuFeature bits without which the register is not listed. */
    uint32_t features;
} ItsmigKvmReg;

typedef struct {
    bool available; /* false: see unavailable_reason */
    char unavailable_reason[256];
    uint32_t features;   /* ItsmigVcpuFeature bits the default vCPU was initialised with */
    bool writable_masks; /* the kernel offers KVM_ARM_GET_REG_WRITABLE_MASKS */
    size_t n_regs;
    ItsmigKvmReg *regs; /* ascending by id; malloc'd, freed by itsmig_kvm_regs_clear() */
} ItsmigKvmRegSet;
