/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vCPU register probe: the registers KVM lists for a vCPU of a scratch
 * VM, their values and writable masks, and which vCPU feature each needs.
 * libc only: it also builds into the static guest of the real-kernel bed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/kvm-regs.h"
#include "itsmig/kvm-vm.h"

#if defined(__aarch64__) && defined(__linux__)

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

/* Newer than the uapi headers this may build against (Linux 6.7,
 * include/uapi/linux/kvm.h and arch/arm64/include/uapi/asm/kvm.h). */
#ifndef KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES
#define KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES 230
#endif
#ifndef KVM_ARM_FEATURE_ID_RANGE
#define KVM_ARM_FEATURE_ID_RANGE 0
struct reg_mask_range {
    __u64 addr;
    __u32 range;
    __u32 reserved[13];
};
#endif
#ifndef KVM_ARM_GET_REG_WRITABLE_MASKS
#define KVM_ARM_GET_REG_WRITABLE_MASKS _IOR(KVMIO, 0xb6, struct reg_mask_range)
#endif
#ifndef KVM_CAP_ARM_SVE
#define KVM_CAP_ARM_SVE 170
#endif
#ifndef KVM_CAP_ARM_PTRAUTH_ADDRESS
#define KVM_CAP_ARM_PTRAUTH_ADDRESS 171
#define KVM_CAP_ARM_PTRAUTH_GENERIC 172
#endif

/* The feature ID range: op1 0, 1 and 3 (as 0..2), CRm 0..7, op2 0..7. */
#define ID_RANGE_SIZE (3 * 8 * 8)

static unsigned id_range_index(unsigned op1, unsigned crm, unsigned op2)
{
    return (op1 == 3 ? 2 : op1) << 6 | crm << 3 | op2;
}

static int errno_or(int fallback)
{
    return errno > 0 ? errno : fallback;
}

static const char *ename(int err)
{
    const char *n = itsmig_errno_name(err);
    return n ? n : "errno";
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* KVM_GET_REG_LIST of vCPU 0, ascending; *ret_ids malloc'd. */
static int reg_list(ItsmigKvmVm *vm, uint64_t **ret_ids, size_t *ret_n, ItsmigDiag *diag)
{
    int fd = itsmig_kvm_vm_vcpu_fd(vm, 0);
    struct kvm_reg_list probe = {.n = 0}, *list;
    size_t n;
    int err;

    /* The first call fails with E2BIG and says how many there are. */
    if (ioctl(fd, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_GET_REG_LIST (size query) failed: %s (%s)",
                               strerror(err), ename(err));
    }
    n = probe.n;
    if (n == 0 || n > ITSMIG_KVM_REGS_MAX)
        return itsmig_diag_set(diag, E2BIG, "KVM_GET_REG_LIST names %zu registers (most: %u)", n,
                               ITSMIG_KVM_REGS_MAX);
    list = calloc(1, sizeof(*list) + n * sizeof(uint64_t));
    if (!list)
        return itsmig_diag_set(diag, ENOMEM, "out of memory");
    list->n = n;
    if (ioctl(fd, KVM_GET_REG_LIST, list) < 0) {
        err = errno_or(EIO);
        free(list);
        return itsmig_diag_set(diag, err, "KVM_GET_REG_LIST failed: %s (%s)", strerror(err),
                               ename(err));
    }
    n = list->n;
    memmove(list, list->reg, n * sizeof(uint64_t));
    qsort(list, n, sizeof(uint64_t), cmp_u64);
    *ret_ids = (uint64_t *)list;
    *ret_n = n;
    return 0;
}

static int new_vm(uint32_t features, ItsmigKvmVm **ret_vm, ItsmigDiag *diag)
{
    ItsmigKvmVmConfig cfg = {
        .nr_vcpus = 1,
        .ram_size = 0,
        .with_its = false,
        .init_vgic = false,
        .vcpu_features = features,
    };

    return itsmig_kvm_vm_new(&cfg, ret_vm, diag);
}

static int get_one(ItsmigKvmVm *vm, uint64_t id, uint64_t *ret_val, ItsmigDiag *diag)
{
    char name[ITSMIG_KVM_REG_NAME_MAX];
    uint64_t val = 0;
    struct kvm_one_reg reg = {.id = id, .addr = (uint64_t)(uintptr_t)&val};
    int err;

    if (itsmig_kvm_reg_size(id) > sizeof(val))
        return itsmig_diag_set(diag, EINVAL, "register %s is wider than 64 bits",
                               itsmig_kvm_reg_name(id, name, sizeof(name)));
    if (ioctl(itsmig_kvm_vm_vcpu_fd(vm, 0), KVM_GET_ONE_REG, &reg) < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_GET_ONE_REG %s failed: %s (%s)",
                               itsmig_kvm_reg_name(id, name, sizeof(name)), strerror(err),
                               ename(err));
    }
    *ret_val = itsmig_kvm_reg_size(id) == 4 ? (uint32_t)val : val;
    return 0;
}

/* The vCPU features QEMU asks for on this host (kvm_arch_init_vcpu()). */
static uint32_t default_features(int kvm_fd)
{
    uint32_t f = 0;

    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2) > 0)
        f |= ITSMIG_VCPU_FEATURE_PSCI_0_2;
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PMU_V3) > 0)
        f |= ITSMIG_VCPU_FEATURE_PMU_V3;
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_SVE) > 0)
        f |= ITSMIG_VCPU_FEATURE_SVE;
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PTRAUTH_ADDRESS) > 0 &&
        ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PTRAUTH_GENERIC) > 0)
        f |= ITSMIG_VCPU_FEATURE_PTRAUTH;
    return f;
}

static int writable_masks(ItsmigKvmVm *vm, ItsmigKvmRegSet *set, ItsmigDiag *diag)
{
    uint64_t masks[ID_RANGE_SIZE];
    struct reg_mask_range range = {.addr = (uint64_t)(uintptr_t)masks,
                                   .range = KVM_ARM_FEATURE_ID_RANGE};
    int ranges = itsmig_kvm_vm_check_extension(vm, KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES);
    int err;

    if (ranges <= 0 || !(ranges & (1 << KVM_ARM_FEATURE_ID_RANGE)))
        return 0;
    memset(masks, 0, sizeof(masks));
    if (ioctl(itsmig_kvm_vm_fd(vm), KVM_ARM_GET_REG_WRITABLE_MASKS, &range) < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_ARM_GET_REG_WRITABLE_MASKS failed: %s (%s)",
                               strerror(err), ename(err));
    }
    set->writable_masks = true;
    for (size_t i = 0; i < set->n_regs; i++) {
        ItsmigKvmReg *r = &set->regs[i];
        unsigned op0, op1, crn, crm, op2;

        if (!itsmig_kvm_reg_is_id(r->id))
            continue;
        itsmig_kvm_sysreg_decode(r->id, &op0, &op1, &crn, &crm, &op2);
        r->writable = masks[id_range_index(op1, crm, op2)];
        r->has_writable = true;
    }
    return 0;
}

/* Marks the registers of @set that a vCPU without @feature does not list. */
static int feature_needs(ItsmigKvmRegSet *set, ItsmigVcpuFeature feature, ItsmigDiag *diag)
{
    ItsmigKvmVm *vm = NULL;
    uint64_t *ids = NULL;
    size_t n = 0;
    ItsmigDiag d = {0};
    int r;

    r = new_vm(set->features & ~(uint32_t)feature, &vm, &d);
    if (r == 0)
        r = reg_list(vm, &ids, &n, &d);
    itsmig_kvm_vm_free(vm);
    if (r < 0)
        return itsmig_diag_set(diag, -r, "vCPU without %s: %s", itsmig_vcpu_feature_name(feature),
                               d.text);
    for (size_t i = 0; i < set->n_regs; i++) {
        if (!bsearch(&set->regs[i].id, ids, n, sizeof(uint64_t), cmp_u64))
            set->regs[i].features |= feature;
    }
    free(ids);
    return 0;
}

int itsmig_kvm_regs_probe(ItsmigKvmRegSet *ret_set, ItsmigDiag *diag)
{
    ItsmigKvmRegSet set;
    ItsmigKvmVm *vm = NULL;
    ItsmigDiag d = {0};
    uint64_t *ids = NULL;
    size_t n = 0;
    int kvm_fd, r;

    memset(&set, 0, sizeof(set));
    memset(ret_set, 0, sizeof(*ret_set));
    r = itsmig_kvm_vm_check_host(&d);
    if (r < 0) {
        if (!itsmig_kvm_vm_host_unavailable(r))
            return itsmig_diag_set(diag, r, "vCPU register probe: %s", d.text);
        snprintf(ret_set->unavailable_reason, sizeof(ret_set->unavailable_reason), "%s", d.text);
        return 0;
    }

    kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0) {
        r = errno_or(EIO);
        return itsmig_diag_set(diag, r, "vCPU register probe: cannot open /dev/kvm: %s",
                               strerror(r));
    }
    set.features = default_features(kvm_fd);
    close(kvm_fd);

    r = new_vm(set.features, &vm, &d);
    if (r == 0)
        r = reg_list(vm, &ids, &n, &d);
    if (r < 0)
        goto fail;
    set.regs = calloc(n, sizeof(*set.regs));
    if (!set.regs) {
        r = itsmig_diag_set(&d, ENOMEM, "out of memory");
        goto fail;
    }
    set.n_regs = n;
    for (size_t i = 0; i < n; i++) {
        ItsmigKvmReg *reg = &set.regs[i];

        reg->id = ids[i];
        if (itsmig_kvm_reg_is_id(reg->id) || itsmig_kvm_reg_is_firmware(reg->id)) {
            r = get_one(vm, reg->id, &reg->value, &d);
            if (r < 0)
                goto fail;
            reg->has_value = true;
        }
    }
    r = writable_masks(vm, &set, &d);
    if (r < 0)
        goto fail;
    itsmig_kvm_vm_free(vm);
    vm = NULL;

    for (uint32_t bit = 1; bit & ITSMIG_VCPU_FEATURES_ALL; bit <<= 1) {
        if (!(set.features & bit))
            continue;
        r = feature_needs(&set, bit, &d);
        if (r < 0)
            goto fail;
    }
    free(ids);
    set.available = true;
    *ret_set = set;
    return 0;

fail:
    itsmig_kvm_vm_free(vm);
    free(ids);
    itsmig_kvm_regs_clear(&set);
    return itsmig_diag_set(diag, -r, "vCPU register probe: %s", d.text);
}

#else /* not arm64 Linux */

int itsmig_kvm_regs_probe(ItsmigKvmRegSet *ret_set, ItsmigDiag *diag)
{
    ItsmigDiag d = {0};

    memset(ret_set, 0, sizeof(*ret_set));
    itsmig_kvm_vm_check_host(&d);
    snprintf(ret_set->unavailable_reason, sizeof(ret_set->unavailable_reason), "%s", d.text);
    return 0;
}

#endif
