/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/kvm-regs.h"
#include "itsmig/kvm-vm.h"

bool itsmig_kvm_vm_host_unavailable(int r)
{
    switch (-r) {
    case ENOTSUP:
    case ENOENT:
    case ENODEV:
    case ENXIO:
    case EACCES:
    case EPERM: return true;
    default: return false;
    }
}

#if defined(__aarch64__) && defined(__linux__)

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

/*
 * The arm64 uapi headers of any kernel this builds against have these; the
 * fallbacks (values from arch/arm64/include/uapi/asm/kvm.h and
 * include/uapi/linux/kvm.h of Linux 6.1) only matter with older headers.
 */
#ifndef KVM_DEV_ARM_VGIC_GRP_ITS_REGS
#define KVM_DEV_ARM_VGIC_GRP_ITS_REGS 8
#endif
#ifndef KVM_DEV_ARM_ITS_SAVE_TABLES
#define KVM_DEV_ARM_ITS_SAVE_TABLES 1
#endif
#ifndef KVM_DEV_ARM_ITS_RESTORE_TABLES
#define KVM_DEV_ARM_ITS_RESTORE_TABLES 2
#endif
#ifndef KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES
#define KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES 3
#endif
#ifndef KVM_DEV_ARM_ITS_CTRL_RESET
#define KVM_DEV_ARM_ITS_CTRL_RESET 4
#endif
#ifndef KVM_VGIC_ITS_ADDR_TYPE
#define KVM_VGIC_ITS_ADDR_TYPE 4
#endif
#ifndef KVM_CAP_ARM_VM_IPA_SIZE
#define KVM_CAP_ARM_VM_IPA_SIZE 165
#endif
#ifndef KVM_VM_TYPE_ARM_IPA_SIZE
#define KVM_VM_TYPE_ARM_IPA_SIZE(x) ((x)&0xffULL)
#endif
#ifndef KVM_MSI_VALID_DEVID
#define KVM_MSI_VALID_DEVID (1U << 0)
#endif
#ifndef KVM_ARM_VCPU_SVE
#define KVM_ARM_VCPU_SVE 4
#endif
#ifndef KVM_ARM_VCPU_PTRAUTH_ADDRESS
#define KVM_ARM_VCPU_PTRAUTH_ADDRESS 5
#define KVM_ARM_VCPU_PTRAUTH_GENERIC 6
#endif
#ifndef KVM_ARM_VCPU_FINALIZE
#define KVM_ARM_VCPU_FINALIZE _IOW(KVMIO, 0xc2, int)
#endif

_Static_assert(ITSMIG_KVM_VGIC_GRP_CTRL == KVM_DEV_ARM_VGIC_GRP_CTRL, "uapi");
_Static_assert(ITSMIG_KVM_VGIC_GRP_ITS_REGS == KVM_DEV_ARM_VGIC_GRP_ITS_REGS, "uapi");
_Static_assert(ITSMIG_KVM_VGIC_CTRL_INIT == KVM_DEV_ARM_VGIC_CTRL_INIT, "uapi");
_Static_assert(ITSMIG_KVM_ITS_SAVE_TABLES == KVM_DEV_ARM_ITS_SAVE_TABLES, "uapi");
_Static_assert(ITSMIG_KVM_ITS_RESTORE_TABLES == KVM_DEV_ARM_ITS_RESTORE_TABLES, "uapi");
_Static_assert(ITSMIG_KVM_VGIC_SAVE_PENDING_TABLES == KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, "uapi");
_Static_assert(ITSMIG_KVM_ITS_CTRL_RESET == KVM_DEV_ARM_ITS_CTRL_RESET, "uapi");

/* MPIDR_EL1: op0 3, op1 0, CRn 0, CRm 0, op2 5 */
#define ITSMIG_REG_MPIDR_EL1  ARM64_SYS_REG(3, 0, 0, 0, 5)
#define ITSMIG_MPIDR_AFF_MASK 0xff00ffffffull

/* Default IPA size KVM assumes for VM type 0 (KVM_PHYS_SHIFT). */
#define ITSMIG_KVM_DEFAULT_IPA_BITS 40u
#define ITSMIG_KVM_MIN_IPA_BITS     32u

/* The VM, vCPU and device fds KVM hands out are O_CLOEXEC already. */
struct ItsmigKvmVm {
    int kvm_fd;
    int vm_fd;
    int vgic_fd;
    int its_fd;      /* -1 without an ITS */
    bool vgic_ready; /* KVM_DEV_ARM_VGIC_CTRL_INIT done */
    unsigned nr_vcpus;
    int vcpu_fds[ITSMIG_KVM_VM_MAX_VCPUS];
    uint64_t mpidr[ITSMIG_KVM_VM_MAX_VCPUS];
    void *ram;
    uint64_t ram_size;
    ItsmigGuestRegion region;
    ItsmigGuestMem mem;
};

static int errno_or(int fallback)
{
    return errno > 0 ? errno : fallback;
}

static int open_kvm(int *ret_fd, ItsmigDiag *diag)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int err;

    if (fd < 0) {
        err = errno_or(EIO);
        if (err == ENOENT)
            return itsmig_diag_set(diag, err,
                                   "/dev/kvm does not exist: KVM is not available "
                                   "on this host (no virtualisation support, or kvm not loaded)");
        if (err == EACCES || err == EPERM)
            return itsmig_diag_set(diag, err,
                                   "not allowed to open /dev/kvm (%s): run as root "
                                   "or as a member of the kvm group",
                                   strerror(err));
        return itsmig_diag_set(diag, err, "cannot open /dev/kvm: %s (%s)", strerror(err),
                               itsmig_errno_name(err) ? itsmig_errno_name(err) : "?");
    }
    *ret_fd = fd;
    return 0;
}

static const char *ename(int err)
{
    const char *n = itsmig_errno_name(err);
    return n ? n : "errno";
}

/* Picks the VM type (IPA size) so the VM works on hosts whose IPA limit is
 * below the 40-bit default, where type 0 fails with EINVAL. */
static int create_vm(int kvm_fd, uint64_t top_gpa, int *ret_fd, ItsmigDiag *diag)
{
    unsigned long type = 0;
    unsigned need = ITSMIG_KVM_MIN_IPA_BITS;
    int limit, fd, err;

    while (need < 52 && (top_gpa >> need) != 0)
        need++;
    limit = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
    if (limit > 0) {
        unsigned bits = (unsigned)limit < ITSMIG_KVM_DEFAULT_IPA_BITS ? (unsigned)limit
                                                                      : ITSMIG_KVM_DEFAULT_IPA_BITS;
        if (bits < need)
            return itsmig_diag_set(diag, E2BIG,
                                   "the host's IPA limit of %d bits is too small "
                                   "for the scratch VM (needs %u)",
                                   limit, need);
        type = KVM_VM_TYPE_ARM_IPA_SIZE(bits);
    }

    do {
        fd = ioctl(kvm_fd, KVM_CREATE_VM, type);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_CREATE_VM (type 0x%lx) failed: %s (%s)", type,
                               strerror(err), ename(err));
    }
    *ret_fd = fd;
    return 0;
}

static int create_device(int vm_fd, uint32_t type, const char *name, int *ret_fd, ItsmigDiag *diag)
{
    struct kvm_create_device cd = {.type = type};
    int err;

    if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_CREATE_DEVICE %s failed: %s (%s)", name,
                               strerror(err), ename(err));
    }
    *ret_fd = (int)cd.fd;
    return 0;
}

static int dev_attr(int fd, unsigned long req, uint32_t group, uint64_t attr, void *addr)
{
    struct kvm_device_attr a = {
        .group = group,
        .attr = attr,
        .addr = (uint64_t)(uintptr_t)addr,
    };

    if (ioctl(fd, req, &a) < 0)
        return -errno_or(EIO);
    return 0;
}

static const char *ctrl_name(uint64_t attr)
{
    switch (attr) {
    case KVM_DEV_ARM_VGIC_CTRL_INIT: return "KVM_DEV_ARM_VGIC_CTRL_INIT";
    case KVM_DEV_ARM_ITS_SAVE_TABLES: return "KVM_DEV_ARM_ITS_SAVE_TABLES";
    case KVM_DEV_ARM_ITS_RESTORE_TABLES: return "KVM_DEV_ARM_ITS_RESTORE_TABLES";
    case KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES: return "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES";
    case KVM_DEV_ARM_ITS_CTRL_RESET: return "KVM_DEV_ARM_ITS_CTRL_RESET";
    default: return "GRP_CTRL attribute";
    }
}

static int set_addr(int dev_fd, uint64_t type, uint64_t gpa, const char *what, ItsmigDiag *diag)
{
    uint64_t addr = gpa;
    int r = dev_attr(dev_fd, KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_ADDR, type, &addr);

    if (r < 0)
        return itsmig_diag_set(diag, r, "KVM_SET_DEVICE_ATTR GRP_ADDR %s = 0x%llx failed: %s (%s)",
                               what, (unsigned long long)gpa, strerror(-r), ename(-r));
    return 0;
}

static int ctrl(int dev_fd, const char *dev, uint64_t attr, ItsmigDiag *diag)
{
    int r;

    do {
        r = dev_attr(dev_fd, KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_CTRL, attr, NULL);
    } while (r == -EINTR);
    if (r < 0)
        return itsmig_diag_set(diag, r, "KVM_SET_DEVICE_ATTR %s on the %s failed: %s (%s)",
                               ctrl_name(attr), dev, strerror(-r), ename(-r));
    return 0;
}

/* KVM_ARM_VCPU_INIT feature bits for ItsmigVcpuFeature bits. */
static uint32_t kvm_features(uint32_t features)
{
    uint32_t bits = 0;

    if (features & ITSMIG_VCPU_FEATURE_PSCI_0_2)
        bits |= 1u << KVM_ARM_VCPU_PSCI_0_2;
    if (features & ITSMIG_VCPU_FEATURE_PMU_V3)
        bits |= 1u << KVM_ARM_VCPU_PMU_V3;
    if (features & ITSMIG_VCPU_FEATURE_SVE)
        bits |= 1u << KVM_ARM_VCPU_SVE;
    if (features & ITSMIG_VCPU_FEATURE_PTRAUTH)
        bits |= 1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS | 1u << KVM_ARM_VCPU_PTRAUTH_GENERIC;
    return bits;
}

static int create_vcpu(ItsmigKvmVm *vm, unsigned idx, const struct kvm_vcpu_init *init,
                       ItsmigDiag *diag)
{
    uint64_t mpidr = 0;
    struct kvm_one_reg reg = {.id = ITSMIG_REG_MPIDR_EL1, .addr = (uint64_t)(uintptr_t)&mpidr};
    int fd, err;

    fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)idx);
    if (fd < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_CREATE_VCPU %u failed: %s (%s)", idx, strerror(err),
                               ename(err));
    }
    vm->vcpu_fds[idx] = fd;
    vm->nr_vcpus = idx + 1;

    /* KVM_ARM_VCPU_INIT resets the vCPU, which assigns its MPIDR; the
     * redistributor attribute encoding needs that MPIDR. */
    if (ioctl(fd, KVM_ARM_VCPU_INIT, init) < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err,
                               "KVM_ARM_VCPU_INIT of vCPU %u (target %u) failed: "
                               "%s (%s)",
                               idx, init->target, strerror(err), ename(err));
    }
    /* As QEMU does: the default vector lengths (KVM_REG_ARM64_SVE_VLS as
     * reset) are all the host offers, then the configuration is frozen. */
    if (init->features[0] & (1u << KVM_ARM_VCPU_SVE)) {
        int what = KVM_ARM_VCPU_SVE;

        if (ioctl(fd, KVM_ARM_VCPU_FINALIZE, &what) < 0) {
            err = errno_or(EIO);
            return itsmig_diag_set(diag, err,
                                   "KVM_ARM_VCPU_FINALIZE SVE of vCPU %u failed: %s (%s)", idx,
                                   strerror(err), ename(err));
        }
    }
    if (ioctl(fd, KVM_GET_ONE_REG, &reg) < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_GET_ONE_REG MPIDR_EL1 of vCPU %u failed: %s (%s)",
                               idx, strerror(err), ename(err));
    }
    vm->mpidr[idx] = mpidr & ITSMIG_MPIDR_AFF_MASK;
    return 0;
}

static int setup_ram(ItsmigKvmVm *vm, uint64_t size, ItsmigDiag *diag)
{
    struct kvm_userspace_memory_region slot = {0};
    int err;

    vm->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (vm->ram == MAP_FAILED) {
        vm->ram = NULL;
        err = errno_or(ENOMEM);
        return itsmig_diag_set(diag, err, "cannot map %llu bytes of guest RAM: %s",
                               (unsigned long long)size, strerror(err));
    }
    vm->ram_size = size;

    slot.slot = 0;
    slot.guest_phys_addr = ITSMIG_KVM_VM_RAM_BASE;
    slot.memory_size = size;
    slot.userspace_addr = (uint64_t)(uintptr_t)vm->ram;
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err,
                               "KVM_SET_USER_MEMORY_REGION (0x%llx, %llu bytes) failed: "
                               "%s (%s)",
                               (unsigned long long)ITSMIG_KVM_VM_RAM_BASE, (unsigned long long)size,
                               strerror(err), ename(err));
    }
    vm->region.gpa = ITSMIG_KVM_VM_RAM_BASE;
    vm->region.size = size;
    vm->region.data = vm->ram;
    vm->mem.regions = &vm->region;
    vm->mem.n_regions = 1;
    return 0;
}

int itsmig_kvm_vm_check_host(ItsmigDiag *diag)
{
    struct kvm_create_device test = {.flags = KVM_CREATE_DEVICE_TEST};
    int kvm_fd = -1, vm_fd = -1, r, err;

    r = open_kvm(&kvm_fd, diag);
    if (r < 0)
        return r;
    r = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
    if (r != KVM_API_VERSION) {
        r = itsmig_diag_set(diag, ENOTSUP, "KVM_GET_API_VERSION returned %d, expected %d", r,
                            KVM_API_VERSION);
        goto out;
    }
    r = create_vm(kvm_fd, ITSMIG_KVM_VM_RAM_BASE, &vm_fd, diag);
    if (r < 0)
        goto out;

    test.type = KVM_DEV_TYPE_ARM_VGIC_V3;
    if (ioctl(vm_fd, KVM_CREATE_DEVICE, &test) < 0) {
        err = errno_or(EIO);
        r = itsmig_diag_set(diag, err == ENODEV ? ENODEV : err,
                            "this KVM has no vGICv3 "
                            "(KVM_CREATE_DEVICE ARM_VGIC_V3 test: %s)",
                            ename(err));
        goto out;
    }
    test.type = KVM_DEV_TYPE_ARM_VGIC_ITS;
    if (ioctl(vm_fd, KVM_CREATE_DEVICE, &test) < 0) {
        err = errno_or(EIO);
        r = itsmig_diag_set(diag, err == ENODEV ? ENODEV : err,
                            "this KVM has no in-kernel ITS "
                            "(KVM_CREATE_DEVICE ARM_VGIC_ITS test: %s)",
                            ename(err));
        goto out;
    }
    r = 0;
out:
    if (vm_fd >= 0)
        close(vm_fd);
    close(kvm_fd);
    return r;
}

/* The vCPUs, each initialised for KVM's preferred target with @cfg's features. */
static int create_vcpus(ItsmigKvmVm *vm, const ItsmigKvmVmConfig *cfg, ItsmigDiag *diag)
{
    struct kvm_vcpu_init init;
    int r, err;

    memset(&init, 0, sizeof(init));
    if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_ARM_PREFERRED_TARGET failed: %s (%s)", strerror(err),
                               ename(err));
    }
    init.features[0] |= kvm_features(cfg->vcpu_features);
    for (unsigned i = 0; i < cfg->nr_vcpus; i++) {
        r = create_vcpu(vm, i, &init, diag);
        if (r < 0)
            return r;
    }

    return 0;
}

/* The vGICv3 and, when asked for, its ITS; initialised when @cfg says so. */
static int create_gic(ItsmigKvmVm *vm, const ItsmigKvmVmConfig *cfg, ItsmigDiag *diag)
{
    int r;

    r = create_device(vm->vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3, "ARM_VGIC_V3", &vm->vgic_fd, diag);
    if (r < 0)
        return r;
    r = set_addr(vm->vgic_fd, KVM_VGIC_V3_ADDR_TYPE_DIST, ITSMIG_KVM_VM_GICD_BASE,
                 "KVM_VGIC_V3_ADDR_TYPE_DIST", diag);
    if (r < 0)
        return r;
    r = set_addr(vm->vgic_fd, KVM_VGIC_V3_ADDR_TYPE_REDIST, ITSMIG_KVM_VM_GICR_BASE,
                 "KVM_VGIC_V3_ADDR_TYPE_REDIST", diag);
    if (r < 0)
        return r;

    /* The ITS resets the shared GICR_PROPBASER when created, so it comes
     * before anything that could program the redistributors. */
    if (cfg->with_its) {
        r = create_device(vm->vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS, "ARM_VGIC_ITS", &vm->its_fd, diag);
        if (r < 0)
            return r;
        r = set_addr(vm->its_fd, KVM_VGIC_ITS_ADDR_TYPE, ITSMIG_KVM_VM_ITS_BASE,
                     "KVM_VGIC_ITS_ADDR_TYPE", diag);
        if (r < 0)
            return r;
        r = ctrl(vm->its_fd, "ITS", KVM_DEV_ARM_VGIC_CTRL_INIT, diag);
        if (r < 0)
            return r;
    }
    if (cfg->init_vgic) {
        r = ctrl(vm->vgic_fd, "vGICv3", KVM_DEV_ARM_VGIC_CTRL_INIT, diag);
        if (r < 0)
            return r;
        vm->vgic_ready = true;
    }

    return 0;
}

int itsmig_kvm_vm_new(const ItsmigKvmVmConfig *cfg, ItsmigKvmVm **ret_vm, ItsmigDiag *diag)
{
    ItsmigKvmVm *vm;
    int r;

    if (!cfg || !ret_vm)
        return itsmig_diag_set(diag, EINVAL, "itsmig_kvm_vm_new: missing argument");
    if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > ITSMIG_KVM_VM_MAX_VCPUS)
        return itsmig_diag_set(diag, EINVAL, "scratch VM: %u vCPUs, must be 1..%u", cfg->nr_vcpus,
                               ITSMIG_KVM_VM_MAX_VCPUS);
    if (cfg->ram_size % 65536 != 0 || cfg->ram_size > (1ull << 36))
        return itsmig_diag_set(diag, EINVAL,
                               "scratch VM: RAM size %llu is not a multiple of 64K "
                               "up to 64 GiB",
                               (unsigned long long)cfg->ram_size);

    vm = calloc(1, sizeof(*vm));
    if (!vm)
        return itsmig_diag_set(diag, ENOMEM, "out of memory");
    vm->kvm_fd = vm->vm_fd = vm->vgic_fd = vm->its_fd = -1;

    r = open_kvm(&vm->kvm_fd, diag);
    if (r < 0)
        goto fail;
    r = create_vm(vm->kvm_fd, ITSMIG_KVM_VM_RAM_BASE + (cfg->ram_size ? cfg->ram_size - 1 : 0),
                  &vm->vm_fd, diag);
    if (r < 0)
        goto fail;
    if (cfg->ram_size) {
        r = setup_ram(vm, cfg->ram_size, diag);
        if (r < 0)
            goto fail;
    }

    /* vCPUs first, as QEMU does: the vGIC freezes the vCPU count at
     * CTRL_INIT, and the redistributor attribute needs the MPIDRs. */
    r = create_vcpus(vm, cfg, diag);
    if (r < 0)
        goto fail;
    r = create_gic(vm, cfg, diag);
    if (r < 0)
        goto fail;

    *ret_vm = vm;
    return 0;

fail:
    itsmig_kvm_vm_free(vm);
    return r;
}

void itsmig_kvm_vm_free(ItsmigKvmVm *vm)
{
    if (!vm)
        return;
    if (vm->its_fd >= 0)
        close(vm->its_fd);
    if (vm->vgic_fd >= 0)
        close(vm->vgic_fd);
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        close(vm->vcpu_fds[i]);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    /* Only once every fd is closed: the memslot must not outlive its backing. */
    if (vm->ram)
        munmap(vm->ram, vm->ram_size);
    free(vm);
}

unsigned itsmig_kvm_vm_nr_vcpus(const ItsmigKvmVm *vm)
{
    return vm->nr_vcpus;
}

uint64_t itsmig_kvm_vm_vcpu_mpidr(const ItsmigKvmVm *vm, unsigned vcpu)
{
    return vcpu < vm->nr_vcpus ? vm->mpidr[vcpu] : 0;
}

int itsmig_kvm_vm_fd(const ItsmigKvmVm *vm)
{
    return vm->vm_fd;
}

int itsmig_kvm_vm_vcpu_fd(const ItsmigKvmVm *vm, unsigned vcpu)
{
    return vcpu < vm->nr_vcpus ? vm->vcpu_fds[vcpu] : -1;
}

int itsmig_kvm_vm_check_extension(const ItsmigKvmVm *vm, long cap)
{
    int r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);

    return r < 0 ? 0 : r;
}

const ItsmigGuestMem *itsmig_kvm_vm_memory(ItsmigKvmVm *vm)
{
    return vm->mem.n_regions ? &vm->mem : NULL;
}

static int need_its(ItsmigKvmVm *vm, ItsmigDiag *diag)
{
    if (vm->its_fd < 0)
        return itsmig_diag_set(diag, ENODEV, "the scratch VM was created without an ITS");
    return 0;
}

int itsmig_kvm_vm_its_get(ItsmigKvmVm *vm, uint32_t offset, uint64_t *ret_val, ItsmigDiag *diag)
{
    uint64_t val = 0;
    int r = need_its(vm, diag);

    if (r < 0)
        return r;
    r = dev_attr(vm->its_fd, KVM_GET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset, &val);
    if (r < 0)
        return itsmig_diag_set(diag, r, "KVM_GET_DEVICE_ATTR GRP_ITS_REGS 0x%x failed: %s (%s)",
                               offset, strerror(-r), ename(-r));
    *ret_val = val;
    return 0;
}

int itsmig_kvm_vm_its_set(ItsmigKvmVm *vm, uint32_t offset, uint64_t val, ItsmigDiag *diag)
{
    int r = need_its(vm, diag);

    if (r < 0)
        return r;
    r = dev_attr(vm->its_fd, KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offset, &val);
    if (r < 0)
        return itsmig_diag_set(diag, r,
                               "KVM_SET_DEVICE_ATTR GRP_ITS_REGS 0x%x = 0x%llx failed: "
                               "%s (%s)",
                               offset, (unsigned long long)val, strerror(-r), ename(-r));
    return 0;
}

int itsmig_kvm_vm_its_ctrl(ItsmigKvmVm *vm, uint64_t attr, ItsmigDiag *diag)
{
    int r = need_its(vm, diag);

    if (r < 0)
        return r;
    return ctrl(vm->its_fd, "ITS", attr, diag);
}

int itsmig_kvm_vm_vgic_ctrl(ItsmigKvmVm *vm, uint64_t attr, ItsmigDiag *diag)
{
    int r = ctrl(vm->vgic_fd, "vGICv3", attr, diag);

    if (r == 0 && attr == KVM_DEV_ARM_VGIC_CTRL_INIT)
        vm->vgic_ready = true;
    return r;
}

/* The kernel answers EBUSY both for a running vCPU and for a vGIC that is
 * not initialised yet; only the second can happen here. */
static const char *vgic_hint(const ItsmigKvmVm *vm, int r)
{
    return r == -EBUSY && !vm->vgic_ready
               ? " (the vGIC is not initialised: KVM_DEV_ARM_VGIC_CTRL_INIT comes first)"
               : "";
}

bool itsmig_kvm_vm_has_attr(ItsmigKvmVm *vm, bool its_device, uint32_t group, uint64_t attr)
{
    int fd = its_device ? vm->its_fd : vm->vgic_fd;

    if (fd < 0)
        return false;
    return dev_attr(fd, KVM_HAS_DEVICE_ATTR, group, attr, NULL) == 0;
}

/* KVM_DEV_ARM_VGIC_V3_MPIDR: Aff3 in [63:56], Aff2..Aff0 in [55:32]. */
static uint64_t redist_attr(const ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset)
{
    uint64_t mpidr = vm->mpidr[vcpu];
    uint64_t aff = (mpidr & 0xffffffull) | ((mpidr >> 32) & 0xffull) << 24;

    return aff << 32 | offset;
}

static bool redist_reg_is_64bit(uint32_t offset)
{
    return offset == ITSMIG_GICR_PROPBASER || offset == ITSMIG_GICR_PENDBASER ||
           offset == 0x0008u /* GICR_TYPER */;
}

static int redist_word(ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset, bool write, uint32_t *val,
                       ItsmigDiag *diag)
{
    int r = dev_attr(vm->vgic_fd, write ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR,
                     KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist_attr(vm, vcpu, offset), val);

    if (r < 0) {
        if (write)
            return itsmig_diag_set(diag, r,
                                   "KVM_SET_DEVICE_ATTR GRP_REDIST_REGS vCPU %u 0x%x = "
                                   "0x%x failed: %s (%s)%s",
                                   vcpu, offset, *val, strerror(-r), ename(-r), vgic_hint(vm, r));
        return itsmig_diag_set(diag, r,
                               "KVM_GET_DEVICE_ATTR GRP_REDIST_REGS vCPU %u 0x%x failed: "
                               "%s (%s)%s",
                               vcpu, offset, strerror(-r), ename(-r), vgic_hint(vm, r));
    }
    return 0;
}

static int check_vcpu(ItsmigKvmVm *vm, unsigned vcpu, ItsmigDiag *diag)
{
    if (vcpu >= vm->nr_vcpus)
        return itsmig_diag_set(diag, EINVAL, "no vCPU %u in the scratch VM (%u vCPUs)", vcpu,
                               vm->nr_vcpus);
    return 0;
}

int itsmig_kvm_vm_redist_get(ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset, uint64_t *ret_val,
                             ItsmigDiag *diag)
{
    uint32_t lo = 0, hi = 0;
    int r = check_vcpu(vm, vcpu, diag);

    if (r < 0)
        return r;
    r = redist_word(vm, vcpu, offset, false, &lo, diag);
    if (r < 0)
        return r;
    if (redist_reg_is_64bit(offset)) {
        r = redist_word(vm, vcpu, offset + 4, false, &hi, diag);
        if (r < 0)
            return r;
    }
    *ret_val = (uint64_t)hi << 32 | lo;
    return 0;
}

int itsmig_kvm_vm_redist_set(ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset, uint64_t val,
                             ItsmigDiag *diag)
{
    uint32_t lo = (uint32_t)val, hi = (uint32_t)(val >> 32);
    int r = check_vcpu(vm, vcpu, diag);

    if (r < 0)
        return r;
    if (!redist_reg_is_64bit(offset) && hi != 0)
        return itsmig_diag_set(diag, EINVAL,
                               "redistributor register 0x%x is 32 bits wide, "
                               "value 0x%llx does not fit",
                               offset, (unsigned long long)val);
    r = redist_word(vm, vcpu, offset, true, &lo, diag);
    if (r < 0)
        return r;
    if (redist_reg_is_64bit(offset))
        r = redist_word(vm, vcpu, offset + 4, true, &hi, diag);
    return r;
}

int itsmig_kvm_vm_dist_get(ItsmigKvmVm *vm, uint32_t offset, uint32_t *ret_val, ItsmigDiag *diag)
{
    uint32_t val = 0;
    int r =
        dev_attr(vm->vgic_fd, KVM_GET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, offset, &val);

    if (r < 0)
        return itsmig_diag_set(diag, r, "KVM_GET_DEVICE_ATTR GRP_DIST_REGS 0x%x failed: %s (%s)%s",
                               offset, strerror(-r), ename(-r), vgic_hint(vm, r));
    *ret_val = val;
    return 0;
}

int itsmig_kvm_vm_dist_set(ItsmigKvmVm *vm, uint32_t offset, uint32_t val, ItsmigDiag *diag)
{
    int r =
        dev_attr(vm->vgic_fd, KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, offset, &val);

    if (r < 0)
        return itsmig_diag_set(diag, r,
                               "KVM_SET_DEVICE_ATTR GRP_DIST_REGS 0x%x = 0x%x failed: "
                               "%s (%s)%s",
                               offset, val, strerror(-r), ename(-r), vgic_hint(vm, r));
    return 0;
}

int itsmig_kvm_vm_save_pending(ItsmigKvmVm *vm, ItsmigDiag *diag)
{
    return ctrl(vm->vgic_fd, "vGICv3", KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, diag);
}

int itsmig_kvm_vm_signal_msi(ItsmigKvmVm *vm, uint32_t devid, uint32_t event_id, ItsmigDiag *diag)
{
    uint64_t doorbell = ITSMIG_KVM_VM_ITS_BASE + ITSMIG_GITS_TRANSLATER;
    struct kvm_msi msi = {
        .address_lo = (uint32_t)doorbell,
        .address_hi = (uint32_t)(doorbell >> 32),
        .data = event_id,
        .flags = KVM_MSI_VALID_DEVID,
        .devid = devid,
    };
    int r, err;

    r = need_its(vm, diag);
    if (r < 0)
        return r;
    r = ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);
    if (r < 0) {
        err = errno_or(EIO);
        return itsmig_diag_set(diag, err, "KVM_SIGNAL_MSI device %u event %u failed: %s (%s)",
                               devid, event_id, strerror(err), ename(err));
    }
    if (r == 0)
        itsmig_diag_set(diag, 0,
                        "KVM_SIGNAL_MSI device %u event %u: blocked by the guest "
                        "(no translation, or the collection is not mapped)",
                        devid, event_id);
    return r;
}

#else /* not arm64 Linux */

#if defined(__x86_64__)
#define ITSMIG_HOST_ARCH "x86_64"
#elif defined(__i386__)
#define ITSMIG_HOST_ARCH "i386"
#elif defined(__arm__)
#define ITSMIG_HOST_ARCH "32-bit arm"
#elif defined(__powerpc64__)
#define ITSMIG_HOST_ARCH "ppc64"
#elif defined(__s390x__)
#define ITSMIG_HOST_ARCH "s390x"
#elif defined(__riscv)
#define ITSMIG_HOST_ARCH "riscv"
#else
#define ITSMIG_HOST_ARCH "this architecture"
#endif

static int not_arm64(ItsmigDiag *diag)
{
    return itsmig_diag_set(diag, ENOTSUP,
                           "KVM with a vGICv3 and an in-kernel ITS needs an arm64 "
                           "Linux host; this build is for " ITSMIG_HOST_ARCH);
}

int itsmig_kvm_vm_check_host(ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_new(const ItsmigKvmVmConfig *cfg, ItsmigKvmVm **ret_vm, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

/* No VM can exist here; the accessors only keep the ABI identical. */
void itsmig_kvm_vm_free(ItsmigKvmVm *vm)
{
}

unsigned itsmig_kvm_vm_nr_vcpus(const ItsmigKvmVm *vm)
{
    return 0;
}

uint64_t itsmig_kvm_vm_vcpu_mpidr(const ItsmigKvmVm *vm, unsigned vcpu)
{
    return 0;
}

int itsmig_kvm_vm_fd(const ItsmigKvmVm *vm)
{
    return -1;
}

int itsmig_kvm_vm_vcpu_fd(const ItsmigKvmVm *vm, unsigned vcpu)
{
    return -1;
}

int itsmig_kvm_vm_check_extension(const ItsmigKvmVm *vm, long cap)
{
    return 0;
}

const ItsmigGuestMem *itsmig_kvm_vm_memory(ItsmigKvmVm *vm)
{
    return NULL;
}

int itsmig_kvm_vm_its_get(ItsmigKvmVm *vm, uint32_t offset, uint64_t *ret_val, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_its_set(ItsmigKvmVm *vm, uint32_t offset, uint64_t val, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_its_ctrl(ItsmigKvmVm *vm, uint64_t attr, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_vgic_ctrl(ItsmigKvmVm *vm, uint64_t attr, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

bool itsmig_kvm_vm_has_attr(ItsmigKvmVm *vm, bool its_device, uint32_t group, uint64_t attr)
{
    return false;
}

int itsmig_kvm_vm_redist_get(ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset, uint64_t *ret_val,
                             ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_redist_set(ItsmigKvmVm *vm, unsigned vcpu, uint32_t offset, uint64_t val,
                             ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_dist_get(ItsmigKvmVm *vm, uint32_t offset, uint32_t *ret_val, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_dist_set(ItsmigKvmVm *vm, uint32_t offset, uint32_t val, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_save_pending(ItsmigKvmVm *vm, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

int itsmig_kvm_vm_signal_msi(ItsmigKvmVm *vm, uint32_t devid, uint32_t event_id, ItsmigDiag *diag)
{
    return not_arm64(diag);
}

#endif
