/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vCPU register ids, names and sets, and the features they need; the probe
 * that reads them from KVM is in kvm-regs-probe.c.  libc only: it also
 * builds into the static guest of the real-kernel bed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/kvm-regs.h"

/* ---- features ------------------------------------------------------------ */

static const struct {
    ItsmigVcpuFeature bit;
    const char *name;
} feature_names[] = {
    {ITSMIG_VCPU_FEATURE_PSCI_0_2, "psci-0.2"},
    {ITSMIG_VCPU_FEATURE_PMU_V3, "pmu"},
    {ITSMIG_VCPU_FEATURE_SVE, "sve"},
    {ITSMIG_VCPU_FEATURE_PTRAUTH, "ptrauth"},
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

const char *itsmig_vcpu_feature_name(ItsmigVcpuFeature feature)
{
    for (size_t i = 0; i < N_ELEMENTS(feature_names); i++) {
        if (feature_names[i].bit == feature)
            return feature_names[i].name;
    }
    return NULL;
}

ItsmigVcpuFeature itsmig_vcpu_feature_from_name(const char *name)
{
    for (size_t i = 0; i < N_ELEMENTS(feature_names); i++) {
        if (name && strcmp(feature_names[i].name, name) == 0)
            return feature_names[i].bit;
    }
    return 0;
}

/* ---- ids ------------------------------------------------------------------- */

/* KVM_REG_ARM64_SYSREG index fields. */
#define SYSREG_OP0_SHIFT  14
#define SYSREG_OP1_SHIFT  11
#define SYSREG_CRN_SHIFT  7
#define SYSREG_CRM_SHIFT  3
#define SYSREG_INDEX_MASK 0xffffull

/* KVM_REG_ARM_DEMUX: KVM_REG_ARM_DEMUX_ID_CCSIDR in bits 15:8, the CSSELR
 * value in 7:0. */
#define DEMUX_ID_MASK   0xff00ull
#define DEMUX_ID_CCSIDR 0x0000ull
#define DEMUX_VAL_MASK  0x00ffull

/* KVM_REG_ARM64_SVE index: Z registers at 0, P at 0x400, FFR at 0x600, the
 * register number in bits 9:5 and the slice in 4:0; VLS is 0xffff. */
#define SVE_ZREG_BASE 0x0000u
#define SVE_PREG_BASE 0x0400u
#define SVE_FFR_BASE  0x0600u
#define SVE_VLS_INDEX 0xffffu
#define SVE_SIZE_ZREG 0x0080000000000000ull /* KVM_REG_SIZE_U2048 */
#define SVE_SIZE_PREG 0x0050000000000000ull /* KVM_REG_SIZE_U256 */
#define SVE_SIZE_VLS  0x0060000000000000ull /* KVM_REG_SIZE_U512 */
#define REG_SIZE_U128 0x0040000000000000ull

static uint64_t coproc_id(uint64_t size, unsigned coproc, uint64_t index)
{
    return ITSMIG_KVM_REG_ARM64 | size | (uint64_t)coproc << ITSMIG_KVM_REG_COPROC_SHIFT | index;
}

static unsigned coproc_of(uint64_t id)
{
    return (unsigned)((id & ITSMIG_KVM_REG_COPROC_MASK) >> ITSMIG_KVM_REG_COPROC_SHIFT);
}

static bool is_arm64(uint64_t id)
{
    return (id & ITSMIG_KVM_REG_ARCH_MASK) == ITSMIG_KVM_REG_ARM64;
}

uint64_t itsmig_kvm_sysreg_id(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2)
{
    uint64_t index = (uint64_t)(op0 & 3) << SYSREG_OP0_SHIFT |
                     (uint64_t)(op1 & 7) << SYSREG_OP1_SHIFT |
                     (uint64_t)(crn & 15) << SYSREG_CRN_SHIFT |
                     (uint64_t)(crm & 15) << SYSREG_CRM_SHIFT | (op2 & 7);

    return coproc_id(ITSMIG_KVM_REG_SIZE_U64, ITSMIG_KVM_REG_SYSREG, index);
}

bool itsmig_kvm_sysreg_decode(uint64_t id, unsigned *ret_op0, unsigned *ret_op1, unsigned *ret_crn,
                              unsigned *ret_crm, unsigned *ret_op2)
{
    uint64_t index = id & SYSREG_INDEX_MASK;

    /* Bits 27:16 are the coprocessor, 15:0 the encoding; nothing else may
     * be set beyond the architecture and the size. */
    if (!is_arm64(id) || coproc_of(id) != ITSMIG_KVM_REG_SYSREG ||
        (id & ITSMIG_KVM_REG_SIZE_MASK) != ITSMIG_KVM_REG_SIZE_U64 ||
        (id & 0x000fffff00000000ull) != 0 || (id & 0xf0000000ull) != 0)
        return false;
    *ret_op0 = (unsigned)(index >> SYSREG_OP0_SHIFT) & 3;
    *ret_op1 = (unsigned)(index >> SYSREG_OP1_SHIFT) & 7;
    *ret_crn = (unsigned)(index >> SYSREG_CRN_SHIFT) & 15;
    *ret_crm = (unsigned)(index >> SYSREG_CRM_SHIFT) & 15;
    *ret_op2 = (unsigned)index & 7;
    return true;
}

size_t itsmig_kvm_reg_size(uint64_t id)
{
    return (size_t)1 << ((id & ITSMIG_KVM_REG_SIZE_MASK) >> ITSMIG_KVM_REG_SIZE_SHIFT);
}

bool itsmig_kvm_reg_is_id(uint64_t id)
{
    unsigned op0, op1, crn, crm, op2;

    if (!itsmig_kvm_sysreg_decode(id, &op0, &op1, &crn, &crm, &op2))
        return false;
    return op0 == 3 && (op1 == 0 || op1 == 1 || op1 == 3) && crn == 0 && crm <= 7;
}

bool itsmig_kvm_reg_is_firmware(uint64_t id)
{
    unsigned c = coproc_of(id);

    return is_arm64(id) && (c == ITSMIG_KVM_REG_FW || c == ITSMIG_KVM_REG_FW_FEAT_BMAP);
}

bool itsmig_kvm_reg_in_cpreg_list(uint64_t id)
{
    unsigned c = coproc_of(id);

    return is_arm64(id) && c != ITSMIG_KVM_REG_CORE && c != ITSMIG_KVM_REG_SVE;
}

/* ---- names ------------------------------------------------------------------ */

typedef struct {
    uint8_t op0, op1, crn, crm, op2;
    const char *name;
} SysregName;

/* Architectural names (Arm ARM, DDI 0487), the ID registers and the
 * registers KVM lists for an EL1 guest; op0 2 is the debug space. */
static const SysregName sysreg_names[] = {
    /* ID registers: op0 3, op1 0, CRn 0 */
    {3, 0, 0, 0, 0, "MIDR_EL1"},
    {3, 0, 0, 0, 5, "MPIDR_EL1"},
    {3, 0, 0, 0, 6, "REVIDR_EL1"},
    {3, 0, 0, 1, 0, "ID_PFR0_EL1"},
    {3, 0, 0, 1, 1, "ID_PFR1_EL1"},
    {3, 0, 0, 1, 2, "ID_DFR0_EL1"},
    {3, 0, 0, 1, 3, "ID_AFR0_EL1"},
    {3, 0, 0, 1, 4, "ID_MMFR0_EL1"},
    {3, 0, 0, 1, 5, "ID_MMFR1_EL1"},
    {3, 0, 0, 1, 6, "ID_MMFR2_EL1"},
    {3, 0, 0, 1, 7, "ID_MMFR3_EL1"},
    {3, 0, 0, 2, 0, "ID_ISAR0_EL1"},
    {3, 0, 0, 2, 1, "ID_ISAR1_EL1"},
    {3, 0, 0, 2, 2, "ID_ISAR2_EL1"},
    {3, 0, 0, 2, 3, "ID_ISAR3_EL1"},
    {3, 0, 0, 2, 4, "ID_ISAR4_EL1"},
    {3, 0, 0, 2, 5, "ID_ISAR5_EL1"},
    {3, 0, 0, 2, 6, "ID_MMFR4_EL1"},
    {3, 0, 0, 2, 7, "ID_ISAR6_EL1"},
    {3, 0, 0, 3, 0, "MVFR0_EL1"},
    {3, 0, 0, 3, 1, "MVFR1_EL1"},
    {3, 0, 0, 3, 2, "MVFR2_EL1"},
    {3, 0, 0, 3, 4, "ID_PFR2_EL1"},
    {3, 0, 0, 3, 5, "ID_DFR1_EL1"},
    {3, 0, 0, 3, 6, "ID_MMFR5_EL1"},
    {3, 0, 0, 4, 0, "ID_AA64PFR0_EL1"},
    {3, 0, 0, 4, 1, "ID_AA64PFR1_EL1"},
    {3, 0, 0, 4, 2, "ID_AA64PFR2_EL1"},
    {3, 0, 0, 4, 4, "ID_AA64ZFR0_EL1"},
    {3, 0, 0, 4, 5, "ID_AA64SMFR0_EL1"},
    {3, 0, 0, 4, 7, "ID_AA64FPFR0_EL1"},
    {3, 0, 0, 5, 0, "ID_AA64DFR0_EL1"},
    {3, 0, 0, 5, 1, "ID_AA64DFR1_EL1"},
    {3, 0, 0, 5, 2, "ID_AA64DFR2_EL1"},
    {3, 0, 0, 5, 4, "ID_AA64AFR0_EL1"},
    {3, 0, 0, 5, 5, "ID_AA64AFR1_EL1"},
    {3, 0, 0, 6, 0, "ID_AA64ISAR0_EL1"},
    {3, 0, 0, 6, 1, "ID_AA64ISAR1_EL1"},
    {3, 0, 0, 6, 2, "ID_AA64ISAR2_EL1"},
    {3, 0, 0, 6, 3, "ID_AA64ISAR3_EL1"},
    {3, 0, 0, 7, 0, "ID_AA64MMFR0_EL1"},
    {3, 0, 0, 7, 1, "ID_AA64MMFR1_EL1"},
    {3, 0, 0, 7, 2, "ID_AA64MMFR2_EL1"},
    {3, 0, 0, 7, 3, "ID_AA64MMFR3_EL1"},
    {3, 0, 0, 7, 4, "ID_AA64MMFR4_EL1"},
    /* cache and implementation identification */
    {3, 1, 0, 0, 0, "CCSIDR_EL1"},
    {3, 1, 0, 0, 1, "CLIDR_EL1"},
    {3, 1, 0, 0, 2, "CCSIDR2_EL1"},
    {3, 1, 0, 0, 4, "GMID_EL1"},
    {3, 1, 0, 0, 6, "SMIDR_EL1"},
    {3, 1, 0, 0, 7, "AIDR_EL1"},
    {3, 2, 0, 0, 0, "CSSELR_EL1"},
    {3, 3, 0, 0, 1, "CTR_EL0"},
    {3, 3, 0, 0, 7, "DCZID_EL0"},
    /* EL1 system control, translation, pointer authentication keys */
    {3, 0, 1, 0, 0, "SCTLR_EL1"},
    {3, 0, 1, 0, 1, "ACTLR_EL1"},
    {3, 0, 1, 0, 2, "CPACR_EL1"},
    {3, 0, 1, 0, 3, "SCTLR2_EL1"},
    {3, 0, 1, 0, 5, "RGSR_EL1"},
    {3, 0, 1, 0, 6, "GCR_EL1"},
    {3, 0, 1, 2, 0, "ZCR_EL1"},
    {3, 0, 1, 2, 1, "TRFCR_EL1"},
    {3, 0, 1, 2, 4, "SMPRI_EL1"},
    {3, 0, 1, 2, 6, "SMCR_EL1"},
    {3, 0, 2, 0, 0, "TTBR0_EL1"},
    {3, 0, 2, 0, 1, "TTBR1_EL1"},
    {3, 0, 2, 0, 2, "TCR_EL1"},
    {3, 0, 2, 0, 3, "TCR2_EL1"},
    {3, 0, 2, 1, 0, "APIAKEYLO_EL1"},
    {3, 0, 2, 1, 1, "APIAKEYHI_EL1"},
    {3, 0, 2, 1, 2, "APIBKEYLO_EL1"},
    {3, 0, 2, 1, 3, "APIBKEYHI_EL1"},
    {3, 0, 2, 2, 0, "APDAKEYLO_EL1"},
    {3, 0, 2, 2, 1, "APDAKEYHI_EL1"},
    {3, 0, 2, 2, 2, "APDBKEYLO_EL1"},
    {3, 0, 2, 2, 3, "APDBKEYHI_EL1"},
    {3, 0, 2, 3, 0, "APGAKEYLO_EL1"},
    {3, 0, 2, 3, 1, "APGAKEYHI_EL1"},
    {3, 0, 2, 5, 0, "GCSCR_EL1"},
    {3, 0, 2, 5, 1, "GCSPR_EL1"},
    {3, 0, 2, 5, 2, "GCSCRE0_EL1"},
    {3, 0, 4, 0, 0, "SPSR_EL1"},
    {3, 0, 4, 0, 1, "ELR_EL1"},
    {3, 0, 4, 1, 0, "SP_EL0"},
    {3, 0, 4, 6, 0, "ICC_PMR_EL1"},
    {3, 0, 5, 1, 0, "AFSR0_EL1"},
    {3, 0, 5, 1, 1, "AFSR1_EL1"},
    {3, 0, 5, 2, 0, "ESR_EL1"},
    {3, 0, 5, 3, 0, "ERRIDR_EL1"},
    {3, 0, 5, 3, 1, "ERRSELR_EL1"},
    {3, 0, 5, 4, 0, "ERXFR_EL1"},
    {3, 0, 5, 4, 1, "ERXCTLR_EL1"},
    {3, 0, 5, 4, 2, "ERXSTATUS_EL1"},
    {3, 0, 5, 4, 3, "ERXADDR_EL1"},
    {3, 0, 5, 5, 0, "ERXMISC0_EL1"},
    {3, 0, 5, 5, 1, "ERXMISC1_EL1"},
    {3, 0, 5, 6, 0, "TFSR_EL1"},
    {3, 0, 5, 6, 1, "TFSRE0_EL1"},
    {3, 0, 6, 0, 0, "FAR_EL1"},
    {3, 0, 7, 4, 0, "PAR_EL1"},
    {3, 0, 9, 14, 1, "PMINTENSET_EL1"},
    {3, 0, 9, 14, 2, "PMINTENCLR_EL1"},
    {3, 0, 9, 14, 6, "PMMIR_EL1"},
    {3, 0, 10, 2, 0, "MAIR_EL1"},
    {3, 0, 10, 2, 2, "PIRE0_EL1"},
    {3, 0, 10, 2, 3, "PIR_EL1"},
    {3, 0, 10, 2, 4, "POR_EL1"},
    {3, 0, 10, 3, 0, "AMAIR_EL1"},
    {3, 0, 10, 4, 0, "LORSA_EL1"},
    {3, 0, 10, 4, 1, "LOREA_EL1"},
    {3, 0, 10, 4, 2, "LORN_EL1"},
    {3, 0, 10, 4, 3, "LORC_EL1"},
    {3, 0, 10, 4, 4, "MPAMIDR_EL1"},
    {3, 0, 10, 4, 7, "LORID_EL1"},
    {3, 0, 10, 5, 0, "MPAM1_EL1"},
    {3, 0, 10, 5, 1, "MPAM0_EL1"},
    {3, 0, 12, 0, 0, "VBAR_EL1"},
    {3, 0, 12, 1, 0, "ISR_EL1"},
    {3, 0, 12, 1, 1, "DISR_EL1"},
    {3, 0, 12, 11, 5, "ICC_SGI1R_EL1"},
    {3, 0, 12, 11, 6, "ICC_ASGI1R_EL1"},
    {3, 0, 12, 11, 7, "ICC_SGI0R_EL1"},
    {3, 0, 12, 12, 4, "ICC_CTLR_EL1"},
    {3, 0, 12, 12, 5, "ICC_SRE_EL1"},
    {3, 0, 12, 12, 6, "ICC_IGRPEN0_EL1"},
    {3, 0, 12, 12, 7, "ICC_IGRPEN1_EL1"},
    {3, 0, 13, 0, 1, "CONTEXTIDR_EL1"},
    {3, 0, 13, 0, 4, "TPIDR_EL1"},
    {3, 0, 13, 0, 5, "ACCDATA_EL1"},
    {3, 0, 13, 0, 7, "SCXTNUM_EL1"},
    {3, 0, 14, 1, 0, "CNTKCTL_EL1"},
    /* EL0 */
    {3, 3, 4, 2, 0, "NZCV"},
    {3, 3, 4, 2, 1, "DAIF"},
    {3, 3, 4, 2, 2, "SVCR"},
    {3, 3, 4, 2, 5, "DIT"},
    {3, 3, 4, 2, 6, "SSBS"},
    {3, 3, 4, 2, 7, "TCO"},
    {3, 3, 4, 4, 0, "FPCR"},
    {3, 3, 4, 4, 1, "FPSR"},
    {3, 3, 9, 12, 0, "PMCR_EL0"},
    {3, 3, 9, 12, 1, "PMCNTENSET_EL0"},
    {3, 3, 9, 12, 2, "PMCNTENCLR_EL0"},
    {3, 3, 9, 12, 3, "PMOVSCLR_EL0"},
    {3, 3, 9, 12, 4, "PMSWINC_EL0"},
    {3, 3, 9, 12, 5, "PMSELR_EL0"},
    {3, 3, 9, 12, 6, "PMCEID0_EL0"},
    {3, 3, 9, 12, 7, "PMCEID1_EL0"},
    {3, 3, 9, 13, 0, "PMCCNTR_EL0"},
    {3, 3, 9, 13, 1, "PMXEVTYPER_EL0"},
    {3, 3, 9, 13, 2, "PMXEVCNTR_EL0"},
    {3, 3, 9, 14, 0, "PMUSERENR_EL0"},
    {3, 3, 9, 14, 3, "PMOVSSET_EL0"},
    {3, 3, 13, 0, 2, "TPIDR_EL0"},
    {3, 3, 13, 0, 3, "TPIDRRO_EL0"},
    {3, 3, 13, 0, 5, "TPIDR2_EL0"},
    {3, 3, 13, 0, 7, "SCXTNUM_EL0"},
    {3, 3, 14, 0, 0, "CNTFRQ_EL0"},
    {3, 3, 14, 2, 0, "CNTP_TVAL_EL0"},
    {3, 3, 14, 3, 0, "CNTV_TVAL_EL0"},
    {3, 3, 14, 15, 7, "PMCCFILTR_EL0"},
    /* AArch32 state kept at EL2 for a 32-bit EL0/EL1 */
    {3, 4, 3, 0, 0, "DACR32_EL2"},
    {3, 4, 5, 0, 1, "IFSR32_EL2"},
    {3, 4, 5, 3, 0, "FPEXC32_EL2"},
    /* debug */
    {2, 0, 0, 0, 2, "OSDTRRX_EL1"},
    {2, 0, 0, 2, 0, "MDCCINT_EL1"},
    {2, 0, 0, 2, 2, "MDSCR_EL1"},
    {2, 0, 0, 3, 2, "OSDTRTX_EL1"},
    {2, 0, 0, 6, 2, "OSECCR_EL1"},
    {2, 0, 1, 0, 0, "MDRAR_EL1"},
    {2, 0, 1, 0, 4, "OSLAR_EL1"},
    {2, 0, 1, 1, 4, "OSLSR_EL1"},
    {2, 0, 1, 3, 4, "OSDLR_EL1"},
    {2, 0, 1, 4, 4, "DBGPRCR_EL1"},
    {2, 0, 7, 8, 6, "DBGCLAIMSET_EL1"},
    {2, 0, 7, 9, 6, "DBGCLAIMCLR_EL1"},
    {2, 0, 7, 14, 6, "DBGAUTHSTATUS_EL1"},
    {2, 3, 0, 1, 0, "MDCCSR_EL0"},
    {2, 3, 0, 4, 0, "DBGDTR_EL0"},
    {2, 3, 0, 5, 0, "DBGDTRRX_EL0"},
    {2, 4, 0, 7, 0, "DBGVCR32_EL2"},
};

/*
 * Ids KVM defines itself in the system-register space.  The generic timer's
 * are not the architectural encodings of what they carry (KVM_REG_ARM_TIMER_CNT
 * is CNTV_CVAL_EL0's encoding and holds the counter, _CVAL is CNTVCT_EL0's),
 * so they go by KVM's names.
 */
static const SysregName kvm_sysreg_names[] = {
    {3, 3, 14, 3, 1, "KVM_REG_ARM_TIMER_CTL"},   {3, 3, 14, 3, 2, "KVM_REG_ARM_TIMER_CNT"},
    {3, 3, 14, 0, 2, "KVM_REG_ARM_TIMER_CVAL"},  {3, 3, 14, 2, 1, "KVM_REG_ARM_PTIMER_CTL"},
    {3, 3, 14, 2, 2, "KVM_REG_ARM_PTIMER_CVAL"}, {3, 3, 14, 0, 1, "KVM_REG_ARM_PTIMER_CNT"},
};

/* Numbered families: <prefix><n><suffix> with n in [0, max]. */
typedef struct {
    const char *prefix;
    unsigned max;
    uint8_t op0, op1, crn;
    /* crm and op2 from n */
    uint8_t crm_base;
    bool crm_is_n; /* crm = n, op2 fixed; else crm = crm_base + n / 8, op2 = n % 8 */
    uint8_t op2;
} SysregFamily;

static const SysregFamily sysreg_families[] = {
    {"DBGBVR", 15, 2, 0, 0, 0, true, 4},     {"DBGBCR", 15, 2, 0, 0, 0, true, 5},
    {"DBGWVR", 15, 2, 0, 0, 0, true, 6},     {"DBGWCR", 15, 2, 0, 0, 0, true, 7},
    {"PMEVCNTR", 30, 3, 3, 14, 8, false, 0}, {"PMEVTYPER", 30, 3, 3, 14, 12, false, 0},
};

static const char *const fw_names[] = {
    "KVM_REG_ARM_PSCI_VERSION",
    "KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_1",
    "KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_2",
    "KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_3",
};

static const char *const bmap_names[] = {
    "KVM_REG_ARM_STD_BMAP",
    "KVM_REG_ARM_STD_HYP_BMAP",
    "KVM_REG_ARM_VENDOR_HYP_BMAP",
    "KVM_REG_ARM_VENDOR_HYP_BMAP_2",
};

/* The 64-bit firmware registers, named by coprocessor and index. */
static const struct {
    unsigned coproc;
    const char *const *names;
    size_t n;
} fw_tables[] = {
    {ITSMIG_KVM_REG_FW, fw_names, N_ELEMENTS(fw_names)},
    {ITSMIG_KVM_REG_FW_FEAT_BMAP, bmap_names, N_ELEMENTS(bmap_names)},
};

static const char *fw_name(uint64_t id, unsigned coproc, uint64_t index)
{
    if ((id & ITSMIG_KVM_REG_SIZE_MASK) != ITSMIG_KVM_REG_SIZE_U64)
        return NULL;
    for (size_t t = 0; t < N_ELEMENTS(fw_tables); t++) {
        if (fw_tables[t].coproc == coproc && index < fw_tables[t].n)
            return fw_tables[t].names[index];
    }
    return NULL;
}

/* struct kvm_regs, in 32-bit words: user_pt_regs (x0..x30, sp, pc, pstate),
 * sp_el1, elr_el1, spsr[5], padding, then user_fpsimd_state (vregs[32] of
 * 128 bits from word 84, fpsr, fpcr). */
#define CORE_SP_EL1  68u
#define CORE_ELR_EL1 70u
#define CORE_SPSR    72u
#define CORE_VREGS   84u
#define CORE_FPSR    212u
#define CORE_FPCR    213u

static const char *const spsr_names[] = {"spsr_el1", "spsr_abt", "spsr_und", "spsr_irq",
                                         "spsr_fiq"};

static bool core_name(uint64_t index, char *buf, size_t size)
{
    if (index < 62 && index % 2 == 0)
        snprintf(buf, size, "core.x%u", (unsigned)(index / 2));
    else if (index == 62)
        snprintf(buf, size, "core.sp");
    else if (index == 64)
        snprintf(buf, size, "core.pc");
    else if (index == 66)
        snprintf(buf, size, "core.pstate");
    else if (index == CORE_SP_EL1)
        snprintf(buf, size, "core.sp_el1");
    else if (index == CORE_ELR_EL1)
        snprintf(buf, size, "core.elr_el1");
    else if (index >= CORE_SPSR && index < CORE_SPSR + 10 && index % 2 == 0)
        snprintf(buf, size, "core.%s", spsr_names[(index - CORE_SPSR) / 2]);
    else if (index >= CORE_VREGS && index < CORE_FPSR && (index - CORE_VREGS) % 4 == 0)
        snprintf(buf, size, "core.v%u", (unsigned)((index - CORE_VREGS) / 4));
    else if (index == CORE_FPSR)
        snprintf(buf, size, "core.fpsr");
    else if (index == CORE_FPCR)
        snprintf(buf, size, "core.fpcr");
    else
        return false;
    return true;
}

/* The size KVM gives a core register at @index. */
static uint64_t core_size(uint64_t index)
{
    if (index >= CORE_VREGS && index < CORE_FPSR)
        return REG_SIZE_U128;
    if (index == CORE_FPSR || index == CORE_FPCR)
        return ITSMIG_KVM_REG_SIZE_U32;
    return ITSMIG_KVM_REG_SIZE_U64;
}

static const char *sysreg_name(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2,
                               char *buf, size_t size)
{
    for (size_t i = 0; i < N_ELEMENTS(kvm_sysreg_names); i++) {
        const SysregName *s = &kvm_sysreg_names[i];
        if (s->op0 == op0 && s->op1 == op1 && s->crn == crn && s->crm == crm && s->op2 == op2)
            return s->name;
    }
    for (size_t i = 0; i < N_ELEMENTS(sysreg_names); i++) {
        const SysregName *s = &sysreg_names[i];
        if (s->op0 == op0 && s->op1 == op1 && s->crn == crn && s->crm == crm && s->op2 == op2)
            return s->name;
    }
    for (size_t i = 0; i < N_ELEMENTS(sysreg_families); i++) {
        const SysregFamily *f = &sysreg_families[i];
        unsigned n;

        if (f->op0 != op0 || f->op1 != op1 || f->crn != crn)
            continue;
        if (f->crm_is_n) {
            if (op2 != f->op2)
                continue;
            n = crm;
        } else {
            if (crm < f->crm_base || crm >= f->crm_base + 4u)
                continue;
            n = (crm - f->crm_base) * 8 + op2;
        }
        if (n > f->max)
            continue;
        snprintf(buf, size, "%s%u_%s", f->prefix, n, f->op0 == 2 ? "EL1" : "EL0");
        return buf;
    }
    snprintf(buf, size, "S%u_%u_C%u_C%u_%u", op0, op1, crn, crm, op2);
    return buf;
}

const char *itsmig_kvm_reg_name(uint64_t id, char *buf, size_t size)
{
    unsigned op0, op1, crn, crm, op2;
    uint64_t index = id & SYSREG_INDEX_MASK;
    bool upper_clear = (id & 0x000fffff00000000ull) == 0 && (id & 0xf0000000ull) == 0;

    if (itsmig_kvm_sysreg_decode(id, &op0, &op1, &crn, &crm, &op2)) {
        const char *n = sysreg_name(op0, op1, crn, crm, op2, buf, size);
        if (n != buf)
            snprintf(buf, size, "%s", n);
        return buf;
    }
    if (!is_arm64(id) || !upper_clear)
        goto hex;
    switch (coproc_of(id)) {
    case ITSMIG_KVM_REG_CORE:
        if ((id & ITSMIG_KVM_REG_SIZE_MASK) == core_size(index) && core_name(index, buf, size))
            return buf;
        break;
    case ITSMIG_KVM_REG_DEMUX:
        if ((id & ITSMIG_KVM_REG_SIZE_MASK) == ITSMIG_KVM_REG_SIZE_U32 &&
            (index & ~(DEMUX_ID_MASK | DEMUX_VAL_MASK)) == 0 &&
            (index & DEMUX_ID_MASK) == DEMUX_ID_CCSIDR) {
            snprintf(buf, size, "CCSIDR_EL1[%u]", (unsigned)(index & DEMUX_VAL_MASK));
            return buf;
        }
        break;
    case ITSMIG_KVM_REG_FW:
    case ITSMIG_KVM_REG_FW_FEAT_BMAP: {
        const char *fw = fw_name(id, coproc_of(id), index);

        if (fw) {
            snprintf(buf, size, "%s", fw);
            return buf;
        }
        break;
    }
    case ITSMIG_KVM_REG_SVE: {
        uint64_t sz = id & ITSMIG_KVM_REG_SIZE_MASK;
        unsigned slice = (unsigned)(index & 0x1f), n = (unsigned)((index >> 5) & 0x1f);
        const char *kind = NULL;

        if (index == SVE_VLS_INDEX && sz == SVE_SIZE_VLS) {
            snprintf(buf, size, "KVM_REG_ARM64_SVE_VLS");
            return buf;
        }
        if ((index & 0xfc00u) == SVE_ZREG_BASE && sz == SVE_SIZE_ZREG)
            kind = "Z";
        else if ((index & 0xfc00u) == SVE_PREG_BASE && sz == SVE_SIZE_PREG && n < 16)
            kind = "P";
        else if ((index & 0xffe0u) == SVE_FFR_BASE && sz == SVE_SIZE_PREG)
            kind = "FFR";
        if (!kind)
            break;
        if (strcmp(kind, "FFR") == 0)
            snprintf(buf, size, "SVE_FFR");
        else
            snprintf(buf, size, "SVE_%s%u", kind, n);
        if (slice)
            snprintf(buf + strlen(buf), size - strlen(buf), "[%u]", slice);
        return buf;
    }
    default: break;
    }
hex:
    snprintf(buf, size, "0x%016" PRIx64, id);
    return buf;
}

/* Parses a decimal number of at most @max at *@p, moving *@p past it. */
static bool parse_num(const char **p, unsigned max, unsigned *ret)
{
    unsigned long v = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9')
        return false;
    /* No leading zeros: every name has exactly one spelling. */
    if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned)(*s - '0');
        if (v > max)
            return false;
        s++;
    }
    *ret = (unsigned)v;
    *p = s;
    return true;
}

static bool parse_generic_sysreg(const char *name, uint64_t *ret_id)
{
    unsigned op0, op1, crn, crm, op2;
    const char *p = name;

    if (*p++ != 'S' || !parse_num(&p, 3, &op0) || *p++ != '_' || !parse_num(&p, 7, &op1) ||
        *p++ != '_' || *p++ != 'C' || !parse_num(&p, 15, &crn) || *p++ != '_' || *p++ != 'C' ||
        !parse_num(&p, 15, &crm) || *p++ != '_' || !parse_num(&p, 7, &op2) || *p)
        return false;
    *ret_id = itsmig_kvm_sysreg_id(op0, op1, crn, crm, op2);
    return true;
}

static bool parse_hex_id(const char *name, uint64_t *ret_id)
{
    uint64_t v = 0;
    size_t n = 0;

    if (name[0] != '0' || name[1] != 'x')
        return false;
    for (const char *p = name + 2; *p; p++, n++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else
            return false;
        v = v << 4 | (unsigned)d;
    }
    if (n != 16 || !is_arm64(v))
        return false;
    *ret_id = v;
    return true;
}

static bool sysreg_table_id(const SysregName *table, size_t n, const char *name, uint64_t *ret_id)
{
    for (size_t i = 0; i < n; i++) {
        const SysregName *s = &table[i];

        if (strcmp(s->name, name) == 0) {
            *ret_id = itsmig_kvm_sysreg_id(s->op0, s->op1, s->crn, s->crm, s->op2);
            return true;
        }
    }
    return false;
}

/* The registers named by a table rather than computed. */
static bool table_id(const char *name, uint64_t *ret_id)
{
    if (sysreg_table_id(kvm_sysreg_names, N_ELEMENTS(kvm_sysreg_names), name, ret_id) ||
        sysreg_table_id(sysreg_names, N_ELEMENTS(sysreg_names), name, ret_id))
        return true;
    for (size_t t = 0; t < N_ELEMENTS(fw_tables); t++) {
        for (size_t i = 0; i < fw_tables[t].n; i++) {
            if (strcmp(fw_tables[t].names[i], name) == 0)
                return *ret_id = coproc_id(ITSMIG_KVM_REG_SIZE_U64, fw_tables[t].coproc, i), true;
        }
    }
    if (strcmp(name, "KVM_REG_ARM64_SVE_VLS") == 0)
        return *ret_id = coproc_id(SVE_SIZE_VLS, ITSMIG_KVM_REG_SVE, SVE_VLS_INDEX), true;
    return false;
}

/* SVE_Z<n>[<slice>], SVE_P<n>[<slice>], SVE_FFR[<slice>]: @p after "SVE_". */
static bool sve_id(const char *p, uint64_t *ret_id)
{
    unsigned slice = 0, reg = 0;
    uint64_t base, sz;

    if (strncmp(p, "FFR", 3) == 0) {
        p += 3;
        base = SVE_FFR_BASE;
        sz = SVE_SIZE_PREG;
    } else if (*p == 'Z' || *p == 'P') {
        base = *p == 'Z' ? SVE_ZREG_BASE : SVE_PREG_BASE;
        sz = *p == 'Z' ? SVE_SIZE_ZREG : SVE_SIZE_PREG;
        p++;
        if (!parse_num(&p, base == SVE_ZREG_BASE ? 31 : 15, &reg))
            return false;
    } else {
        return false;
    }
    if (*p == '[') {
        p++;
        if (!parse_num(&p, 31, &slice) || slice == 0 || strcmp(p, "]") != 0)
            return false;
    } else if (*p) {
        return false;
    }
    *ret_id = coproc_id(sz, ITSMIG_KVM_REG_SVE, base | reg << 5 | slice);
    return true;
}

int itsmig_kvm_reg_from_name(const char *name, uint64_t *ret_id)
{
    char buf[ITSMIG_KVM_REG_NAME_MAX];
    uint64_t id;
    const char *p;
    unsigned n;

    if (!name || !*name)
        return -EINVAL;
    if (table_id(name, ret_id))
        return 0;
    /* The generic spelling is accepted for known registers too. */
    if (parse_hex_id(name, ret_id))
        return 0;
    if (parse_generic_sysreg(name, &id))
        return *ret_id = id, 0;

    /* The computed families: take a candidate id and check that it names
     * back to exactly @name, which keeps one spelling per register. */
    p = name;
    if (strncmp(p, "CCSIDR_EL1[", 11) == 0) {
        p += 11;
        if (parse_num(&p, 255, &n) && strcmp(p, "]") == 0)
            id = coproc_id(ITSMIG_KVM_REG_SIZE_U32, ITSMIG_KVM_REG_DEMUX, DEMUX_ID_CCSIDR | n);
        else
            return -EINVAL;
    } else if (strncmp(p, "core.", 5) == 0) {
        /* At most 214 words; try each. */
        for (uint64_t idx = 0; idx <= CORE_FPCR; idx++) {
            if (core_name(idx, buf, sizeof(buf)) && strcmp(buf, name) == 0)
                return *ret_id = coproc_id(core_size(idx), ITSMIG_KVM_REG_CORE, idx), 0;
        }
        return -EINVAL;
    } else if (strncmp(p, "SVE_", 4) == 0) {
        if (!sve_id(p + 4, &id))
            return -EINVAL;
    } else {
        /* DBGBVR3_EL1, PMEVCNTR12_EL0 ... */
        for (size_t i = 0; i < N_ELEMENTS(sysreg_families); i++) {
            const SysregFamily *f = &sysreg_families[i];
            size_t len = strlen(f->prefix);

            if (strncmp(name, f->prefix, len) != 0)
                continue;
            p = name + len;
            if (!parse_num(&p, f->max, &n))
                continue;
            if (f->crm_is_n)
                id = itsmig_kvm_sysreg_id(f->op0, f->op1, f->crn, n, f->op2);
            else
                id = itsmig_kvm_sysreg_id(f->op0, f->op1, f->crn, f->crm_base + n / 8, n % 8);
            if (strcmp(itsmig_kvm_reg_name(id, buf, sizeof(buf)), name) == 0)
                return *ret_id = id, 0;
        }
        return -EINVAL;
    }
    if (strcmp(itsmig_kvm_reg_name(id, buf, sizeof(buf)), name) != 0)
        return -EINVAL;
    *ret_id = id;
    return 0;
}

/* ---- sets ------------------------------------------------------------------- */

void itsmig_kvm_regs_clear(ItsmigKvmRegSet *set)
{
    if (!set)
        return;
    free(set->regs);
    memset(set, 0, sizeof(*set));
}

const ItsmigKvmReg *itsmig_kvm_regs_find(const ItsmigKvmRegSet *set, uint64_t id)
{
    size_t lo = 0, hi = set->n_regs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->regs[mid].id == id)
            return &set->regs[mid];
        if (set->regs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
