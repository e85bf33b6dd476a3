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

#define ITSMIG_VCPU_FEATURES_ALL 0xfu

typedef struct {
    uint64_t id;       /* KVM register id: KVM_REG_ARM64 | size | coprocessor | index */
    uint64_t value;    /* KVM_GET_ONE_REG, when has_value (ID and firmware registers) */
    uint64_t writable; /* from KVM_ARM_GET_REG_WRITABLE_MASKS, when has_writable */
    bool has_value;
    bool has_writable;
    /* ItsmigVcpuFeature bits without which the register is not listed. */
    uint32_t features;
} ItsmigKvmReg;

/* Most registers a set may hold; readers refuse more.  Debian's 6.1, 6.12
 * and 7.3 kernels list 345 to 362 for a vCPU with PMUv3, SVE (one slice of
 * each Z and P register) and pointer authentication (tests/data/probe/). */
#define ITSMIG_KVM_REGS_MAX 4096u

typedef struct {
    bool available; /* false: see unavailable_reason */
    char unavailable_reason[256];
    uint32_t features;   /* ItsmigVcpuFeature bits the default vCPU was initialised with */
    bool writable_masks; /* the kernel offers KVM_ARM_GET_REG_WRITABLE_MASKS */
    size_t n_regs;
    ItsmigKvmReg *regs; /* ascending by id; malloc'd, freed by itsmig_kvm_regs_clear() */
} ItsmigKvmRegSet;

/* "psci-0.2", "pmu", "sve", "ptrauth"; NULL for anything else (one bit only). */
const char *itsmig_vcpu_feature_name(ItsmigVcpuFeature feature);
/* The bit named @name, or 0 when unknown. */
ItsmigVcpuFeature itsmig_vcpu_feature_from_name(const char *name);

/*
 * Probes the register set in scratch VMs (itsmig/kvm-vm.h, one vCPU and a
 * vGICv3 each): the default vCPU gets the target KVM_ARM_PREFERRED_TARGET
 * names and, as QEMU's kvm_arch_init_vcpu() does, PSCI 0.2
 * (KVM_CAP_ARM_PSCI_0_2), PMUv3 (KVM_CAP_ARM_PMU_V3), SVE with every vector
 * length KVM offers, finalised (KVM_CAP_ARM_SVE), and pointer authentication
 * (KVM_CAP_ARM_PTRAUTH_ADDRESS and _GENERIC).  Its KVM_GET_REG_LIST is the
 * set; the ID registers (op0 3, op1 0/1/3, CRn 0) and the firmware
 * pseudo-registers get their values, the ID registers their writable masks
 * where the kernel offers KVM_ARM_GET_REG_WRITABLE_MASKS.  One more vCPU per
 * default feature, without it, tells which registers need which feature.
 *
 * Returns 0 with ret_set->available true on success; 0 with available false
 * and a reason where probing is impossible (not arm64, no /dev/kvm, no
 * permission, no vGICv3); -errno only for unexpected failures.  Clear the
 * set with itsmig_kvm_regs_clear() in every case.
 */
int itsmig_kvm_regs_probe(ItsmigKvmRegSet *ret_set, ItsmigDiag *diag);
void itsmig_kvm_regs_clear(ItsmigKvmRegSet *set);

/* Whether KVM lists @reg for a vCPU initialised with the ItsmigVcpuFeature
 * bits @features (a guest whose domain XML turns pmu or sve off, say). */
static inline bool itsmig_kvm_reg_listed_with(const ItsmigKvmReg *reg, uint32_t features)
{
    return (reg->features & ~features) == 0;
}

/* The register @id of @set (binary search), or NULL. */
const ItsmigKvmReg *itsmig_kvm_regs_find(const ItsmigKvmRegSet *set, uint64_t id);

/*
 * Whether QEMU carries the register in its migration stream (the cpreg list
 * of target/arm/kvm.c): every listed register except the core registers and
 * the SVE registers, which it moves through its own vmstate fields.
 */
bool itsmig_kvm_reg_in_cpreg_list(uint64_t id);

/* ---- register ids and names --------------------------------------------- */

#define ITSMIG_KVM_REG_ARM64        0x6000000000000000ull
#define ITSMIG_KVM_REG_ARCH_MASK    0xff00000000000000ull
#define ITSMIG_KVM_REG_SIZE_MASK    0x00f0000000000000ull
#define ITSMIG_KVM_REG_SIZE_SHIFT   52
#define ITSMIG_KVM_REG_SIZE_U32     0x0020000000000000ull
#define ITSMIG_KVM_REG_SIZE_U64     0x0030000000000000ull
#define ITSMIG_KVM_REG_COPROC_MASK  0x000000000fff0000ull
#define ITSMIG_KVM_REG_COPROC_SHIFT 16

/* Coprocessor fields of arm64 register ids (arch/arm64/include/uapi/asm/kvm.h). */
typedef enum {
    ITSMIG_KVM_REG_CORE = 0x0010,
    ITSMIG_KVM_REG_DEMUX = 0x0011,
    ITSMIG_KVM_REG_SYSREG = 0x0013,
    ITSMIG_KVM_REG_FW = 0x0014,
    ITSMIG_KVM_REG_SVE = 0x0015,
    ITSMIG_KVM_REG_FW_FEAT_BMAP = 0x0016,
} ItsmigKvmRegCoproc;

/* The 64-bit system register (op0, op1, CRn, CRm, op2), as KVM encodes it. */
uint64_t itsmig_kvm_sysreg_id(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2);
/* Decodes a system register id (coprocessor ITSMIG_KVM_REG_SYSREG); false
 * for any other id. */
bool itsmig_kvm_sysreg_decode(uint64_t id, unsigned *ret_op0, unsigned *ret_op1, unsigned *ret_crn,
                              unsigned *ret_crm, unsigned *ret_op2);
/* The register's size in bytes (4 .. 256), from the id. */
size_t itsmig_kvm_reg_size(uint64_t id);
/* Whether @id is an ID register (op0 3, op1 0/1/3, CRn 0, CRm 0..7): the
 * range KVM_ARM_GET_REG_WRITABLE_MASKS describes. */
bool itsmig_kvm_reg_is_id(uint64_t id);
/* Whether @id is a firmware pseudo-register (KVM_REG_ARM_FW or the
 * hypercall bitmaps KVM_REG_ARM_FW_FEAT_BMAP). */
bool itsmig_kvm_reg_is_firmware(uint64_t id);

#define ITSMIG_KVM_REG_NAME_MAX 48

/*
 * A name for @id, written into @buf (at least ITSMIG_KVM_REG_NAME_MAX bytes):
 * the architectural name of a known system register ("MIDR_EL1",
 * "ID_AA64PFR0_EL1", "PMEVCNTR3_EL0", "DBGBVR0_EL1"), KVM's name where the
 * id is KVM's own ("KVM_REG_ARM_TIMER_CNT", "KVM_REG_ARM_PSCI_VERSION",
 * "KVM_REG_ARM_STD_BMAP", "KVM_REG_ARM64_SVE_VLS"), "CCSIDR_EL1[<csselr>]"
 * for the CCSIDR demux registers, "core.<field>" for the core registers
 * ("core.x0", "core.pc", "core.v31", "core.fpsr"), "SVE_Z<n>", "SVE_P<n>",
 * "SVE_FFR" (with "[<slice>]" past slice 0); an unknown system register as
 * "S<op0>_<op1>_C<n>_C<m>_<op2>", any other id as its hex value.  Returns @buf.
 */
const char *itsmig_kvm_reg_name(uint64_t id, char *buf, size_t size);
/* The inverse of itsmig_kvm_reg_name() (names are case-sensitive; the hex
 * form "0x..." is accepted for any arm64 id): 0 or -EINVAL. */
int itsmig_kvm_reg_from_name(const char *name, uint64_t *ret_id);
