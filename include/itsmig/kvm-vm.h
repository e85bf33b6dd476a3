/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A scratch arm64 KVM VM with a vGICv3 and an in-kernel ITS, no guest code:
 * vCPUs are created but never run.  The KVM probe uses it to ask the kernel
 * what it supports, and the real-kernel tests use it to drive the vITS save
 * and restore paths directly.  libc only.  On hosts other than arm64 Linux,
 * itsmig_kvm_vm_new() fails with -ENOTSUP and a reason.
 */

#include <stdbool.h>
#include <stdint.h>

#include "itsmig/diag.h"
#include "itsmig/its-abi.h"

/* Fixed guest-physical layout of the scratch VM (the virt machine's). */
#define ITSMIG_KVM_VM_GICD_BASE 0x08000000ull
#define ITSMIG_KVM_VM_ITS_BASE  0x08080000ull
#define ITSMIG_KVM_VM_GICR_BASE 0x080a0000ull
#define ITSMIG_KVM_VM_RAM_BASE  0x40000000ull
#define ITSMIG_KVM_VM_MAX_VCPUS 16u

/* KVM device-attribute numbers (arch/arm64/include/uapi/asm/kvm.h), named
 * here so callers need not include arm64 uapi headers. */
#define ITSMIG_KVM_VGIC_GRP_CTRL            4u
#define ITSMIG_KVM_VGIC_GRP_ITS_REGS        8u
#define ITSMIG_KVM_VGIC_CTRL_INIT           0u
#define ITSMIG_KVM_ITS_SAVE_TABLES          1u
#define ITSMIG_KVM_ITS_RESTORE_TABLES       2u
#define ITSMIG_KVM_VGIC_SAVE_PENDING_TABLES 3u
#define ITSMIG_KVM_ITS_CTRL_RESET           4u

/* Distributor: the implementation revision in GICD_IIDR is KVM's way of
 * versioning guest-visible vGIC behaviour. */
#define ITSMIG_GICD_IIDR                0x0008u
#define ITSMIG_GICD_IIDR_REVISION(iidr) (((iidr) >> 12) & 0xfu)

typedef struct {
    unsigned nr_vcpus; /* 1..ITSMIG_KVM_VM_MAX_VCPUS */
    uint64_t ram_size; /* bytes of RAM at ITSMIG_KVM_VM_RAM_BASE, 64K multiple; 0 = none */
    bool with_its;     /* create the ITS device */
    bool init_vgic;    /* KVM_DEV_ARM_VGIC_CTRL_INIT after setup */
    /* ItsmigVcpuFeature bits (itsmig/kvm-regs.h) every vCPU is initialised
     * with, on top of the preferred target; SVE is finalised with the vector
     * lengths KVM offers by default.  0: none. */
    uint32_t vcpu_features;
} ItsmigKvmVmConfig;

typedef struct ItsmigKvmVm ItsmigKvmVm;

/*
 * Whether this host can create the scratch VM at all: 0 when it can, else
 * -errno and the reason in @diag: -ENOTSUP (not arm64 Linux), -ENOENT (no
 * /dev/kvm), -EACCES or -EPERM (not allowed to use it), -ENODEV (KVM without
 * a vGICv3 or an in-kernel ITS); other values are unexpected failures.
 */
int itsmig_kvm_vm_check_host(ItsmigDiag *diag);
/* Whether @r, a result of itsmig_kvm_vm_check_host(), says this host cannot
 * run the scratch VM (a fact a probe reports) rather than that the check
 * failed. */
bool itsmig_kvm_vm_host_unavailable(int r);

/*
 * Creates the VM in the order the kernel requires: memory, vCPUs (each
 * KVM_ARM_VCPU_INIT'ed), the vGICv3 with its distributor and redistributor
 * addresses, then the ITS, and last KVM_DEV_ARM_VGIC_CTRL_INIT when asked
 * (after which no vCPU can be added, and before which the distributor and
 * redistributor registers cannot be accessed: -EBUSY).
 */
int itsmig_kvm_vm_new(const ItsmigKvmVmConfig *cfg, ItsmigKvmVm **ret_vm, ItsmigDiag *diag);
void itsmig_kvm_vm_free(ItsmigKvmVm *vm);

unsigned itsmig_kvm_vm_nr_vcpus(const ItsmigKvmVm *vm);
/* The VM's and @vcpu's fds, for ioctls this interface does not wrap (-1
 * when there is no such vCPU), and KVM_CHECK_EXTENSION on the VM. */
int itsmig_kvm_vm_fd(const ItsmigKvmVm *vm);
int itsmig_kvm_vm_vcpu_fd(const ItsmigKvmVm *vm, unsigned vcpu);
int itsmig_kvm_vm_check_extension(const ItsmigKvmVm *vm, long cap);
/* MPIDR_EL1 of @vcpu as KVM reset it (affinity fields only). */
uint64_t itsmig_kvm_vm_vcpu_mpidr(const ItsmigKvmVm *vm, unsigned vcpu);

/* The VM's RAM as one guest-memory region (writable, zero-filled at start),
 * or NULL for a VM without RAM. */
const ItsmigGuestMem *itsmig_kvm_vm_memory(ItsmigKvmVm *vm);

/* ITS registers through KVM_DEV_ARM_VGIC_GRP_ITS_REGS (offset from the ITS
 * base; 32-bit registers are returned in the low bits). */
int itsmig_kvm_vm_its_get(ItsmigKvmVm *vm, uint32_t offset, uint64_t *ret_val, ItsmigDiag *diag);
int itsmig_kvm_vm_its_set(ItsmigKvmVm *vm, uint32_t offset, uint64_t val, ItsmigDiag *diag);
/* KVM_DEV_ARM_VGIC_GRP_CTRL on the ITS device (SAVE_TABLES, RESTORE_TABLES,
 * CTRL_RESET, ...): returns the kernel's -errno. */
int itsmig_kvm_vm_its_ctrl(ItsmigKvmVm *vm, uint64_t attr, ItsmigDiag *diag);
/* KVM_HAS_DEVICE_ATTR on the ITS (its_device = true) or vGICv3 device. */
bool itsmig_kvm_vm_has_attr(ItsmigKvmVm *vm, bool its_device, uint32_t group, uint64_t attr);
/* KVM_DEV_ARM_VGIC_GRP_CTRL on the vGICv3 device (CTRL_INIT when the VM was
 * created without init_vgic): returns the kernel's -errno. */
int itsmig_kvm_vm_vgic_ctrl(ItsmigKvmVm *vm, uint64_t attr, ItsmigDiag *diag);

/*
 * Redistributor registers of @vcpu (GICR_CTLR, PROPBASER, PENDBASER).  The
 * kernel's userspace access to redistributor and distributor registers is
 * 32 bits wide, so 64-bit registers (PROPBASER, PENDBASER, TYPER) are read
 * and written as two halves, low word first; all other offsets are 32-bit.
 * Needs the vGIC initialised (-EBUSY otherwise).
 *
 * What the kernel does with them matters for restore order: PROPBASER is
 * one register for the whole VM; PROPBASER and PENDBASER writes are ignored
 * once GICR_CTLR.EnableLPIs is set; setting EnableLPIs reloads the pending
 * state of the vCPU's LPIs from its pending table, which RESTORE_TABLES has
 * already consumed (cleared), so enabling LPIs after RESTORE_TABLES loses
 * restored pending interrupts.  Restore the redistributors, EnableLPIs
 * included, before the ITS.
 */
int itsmig_kvm_vm_redist_get(ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset, uint64_t *ret_val,
                             ItsmigDiag *diag);
int itsmig_kvm_vm_redist_set(ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset, uint64_t val,
                             ItsmigDiag *diag);
/* Distributor registers (GICD_IIDR ...). */
int itsmig_kvm_vm_dist_get(ItsmigKvmVm *vm, uint32_t offset, uint32_t *ret_val, ItsmigDiag *diag);
int itsmig_kvm_vm_dist_set(ItsmigKvmVm *vm, uint32_t offset, uint32_t val, ItsmigDiag *diag);

/* KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES on the vGICv3 device. */
int itsmig_kvm_vm_save_pending(ItsmigKvmVm *vm, ItsmigDiag *diag);
/* KVM_SIGNAL_MSI to the ITS doorbell with DeviceID @devid: returns the
 * kernel's result (1 delivered, 0 blocked, or -errno). */
int itsmig_kvm_vm_signal_msi(ItsmigKvmVm *vm, uint32_t devid, uint32_t event_id, ItsmigDiag *diag);
