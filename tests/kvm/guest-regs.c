/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vCPU register-set probe against the guest's real KVM: it succeeds, its
 * list is what KVM_GET_REG_LIST gives a vCPU initialised here without
 * libitsmig, and what it says about features holds.  Then the probe results
 * (ITS and registers) go out between ITSMIG-PROBE markers, for
 * tests/kvm/probe-to-json and tests/kvm/update-probe-data.sh, with the time
 * each probe took on "ITSMIG-PROBE-TIME" lines for tests/bench/bench-probe.sh.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "itsmig/kvm-its.h"
#include "itsmig/kvm-probe-text.h"
#include "itsmig/kvm-regs.h"

#include "guest-tap.h"

/* Timed runs of both probes; the first one's results are printed. */
#define PROBE_RUNS 5

/* The uapi fallbacks, vCPU set-up and list reading below repeat lib/kvm-vm.c
 * and lib/kvm-regs.c on purpose: reference_list() checks the probe, so it
 * shares no code with it. */
#ifndef KVM_CAP_ARM_SVE
#define KVM_CAP_ARM_SVE 170
#endif
#ifndef KVM_CAP_ARM_PTRAUTH_ADDRESS
#define KVM_CAP_ARM_PTRAUTH_ADDRESS 171
#define KVM_CAP_ARM_PTRAUTH_GENERIC 172
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

static double ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * KVM_GET_REG_LIST of a vCPU set up here with plain ioctls, the features
 * chosen from KVM_CHECK_EXTENSION as QEMU chooses them: the reference the
 * probe is held to.  Returns the sorted ids (malloc'd) or NULL.
 */
static uint64_t *reference_list(size_t *ret_n, uint32_t *ret_features)
{
    struct kvm_vcpu_init init;
    struct kvm_reg_list probe = {.n = 0}, *list = NULL;
    uint32_t features = 0;
    uint64_t *ids = NULL;
    int kvm, vm = -1, vcpu = -1;

    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return NULL;
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        goto out;
    memset(&init, 0, sizeof(init));
    if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
        goto out;
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2) > 0) {
        init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
        features |= ITSMIG_VCPU_FEATURE_PSCI_0_2;
    }
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PMU_V3) > 0) {
        init.features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
        features |= ITSMIG_VCPU_FEATURE_PMU_V3;
    }
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_SVE) > 0) {
        init.features[0] |= 1u << KVM_ARM_VCPU_SVE;
        features |= ITSMIG_VCPU_FEATURE_SVE;
    }
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PTRAUTH_ADDRESS) > 0 &&
        ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PTRAUTH_GENERIC) > 0) {
        init.features[0] |= 1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS | 1u << KVM_ARM_VCPU_PTRAUTH_GENERIC;
        features |= ITSMIG_VCPU_FEATURE_PTRAUTH;
    }
    vcpu = ioctl(vm, KVM_CREATE_VCPU, 0ul);
    if (vcpu < 0 || ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
        goto out;
    if (features & ITSMIG_VCPU_FEATURE_SVE) {
        int what = KVM_ARM_VCPU_SVE;
        if (ioctl(vcpu, KVM_ARM_VCPU_FINALIZE, &what) < 0)
            goto out;
    }
    if (ioctl(vcpu, KVM_GET_REG_LIST, &probe) == 0 || errno != E2BIG)
        goto out;
    list = calloc(1, sizeof(*list) + probe.n * sizeof(uint64_t));
    if (!list)
        goto out;
    list->n = probe.n;
    if (ioctl(vcpu, KVM_GET_REG_LIST, list) < 0)
        goto out;
    ids = malloc(list->n * sizeof(uint64_t) + 1);
    if (!ids)
        goto out;
    memcpy(ids, list->reg, list->n * sizeof(uint64_t));
    qsort(ids, list->n, sizeof(uint64_t), cmp_id);
    *ret_n = list->n;
    *ret_features = features;
out:
    free(list);
    if (vcpu >= 0)
        close(vcpu);
    if (vm >= 0)
        close(vm);
    close(kvm);
    return ids;
}

static const ItsmigKvmReg *find_named(const ItsmigKvmRegSet *set, const char *name)
{
    uint64_t id;

    if (itsmig_kvm_reg_from_name(name, &id) < 0)
        return NULL;
    return itsmig_kvm_regs_find(set, id);
}

/* @name is listed, and needs exactly the feature @feature among others. */
static void check_needs(const ItsmigKvmRegSet *set, const char *name, ItsmigVcpuFeature feature)
{
    const ItsmigKvmReg *r = find_named(set, name);

    guest_tap_ok(r && (r->features & feature), "regs: %s listed and needs %s (needs 0x%x)", name,
                 itsmig_vcpu_feature_name(feature), r ? r->features : 0);
}

void guest_tests_regs(void)
{
    ItsmigKvmItsCaps caps;
    ItsmigKvmRegSet set = {0};
    ItsmigDiag d = {0};
    double its_ms[PROBE_RUNS], regs_ms[PROBE_RUNS];
    uint64_t *ref;
    size_t n_ref = 0, mismatch = 0, n_values = 0, n_masks = 0, n_named = 0;
    uint32_t ref_features = 0;
    bool ok = true;
    int r;

    for (unsigned run = 0; run < PROBE_RUNS; run++) {
        ItsmigKvmItsCaps c;
        ItsmigKvmRegSet s;
        double t0 = ms_now();

        r = itsmig_kvm_its_probe(&c, &d);
        its_ms[run] = ms_now() - t0;
        if (r < 0 || !c.available) {
            ok = false;
            guest_tap_diag("ITS probe run %u: %s", run, r < 0 ? d.text : c.unavailable_reason);
            break;
        }
        t0 = ms_now();
        r = itsmig_kvm_regs_probe(&s, &d);
        regs_ms[run] = ms_now() - t0;
        if (r < 0 || !s.available) {
            ok = false;
            guest_tap_diag("register probe run %u: %s", run, r < 0 ? d.text : s.unavailable_reason);
            itsmig_kvm_regs_clear(&s);
            break;
        }
        printf("ITSMIG-PROBE-TIME run=%u its_ms=%.1f regs_ms=%.1f regs=%zu\n", run, its_ms[run],
               regs_ms[run], s.n_regs);
        if (run == 0) {
            caps = c;
            set = s;
        } else {
            itsmig_kvm_regs_clear(&s);
        }
    }
    if (!guest_tap_ok(ok, "regs: the ITS and register probes succeed %u times", PROBE_RUNS))
        return;
    guest_tap_diag("register probe: %zu registers, features 0x%x, writable masks %s, "
                   "%.1f ms (ITS probe %.1f ms)",
                   set.n_regs, set.features, set.writable_masks ? "yes" : "no", regs_ms[0],
                   its_ms[0]);

    ref = reference_list(&n_ref, &ref_features);
    if (guest_tap_ok(ref != NULL, "regs: KVM_GET_REG_LIST of a vCPU set up without libitsmig")) {
        for (size_t i = 0; i < n_ref || i < set.n_regs; i++) {
            uint64_t want = i < n_ref ? ref[i] : 0, got = i < set.n_regs ? set.regs[i].id : 0;
            char name[ITSMIG_KVM_REG_NAME_MAX];

            if (want == got)
                continue;
            if (mismatch++ < 5)
                guest_tap_diag("  at %zu: KVM_GET_REG_LIST %s, probe %s", i,
                               want ? itsmig_kvm_reg_name(want, name, sizeof(name)) : "-",
                               got ? itsmig_kvm_reg_name(got, name, sizeof(name)) : "-");
        }
        guest_tap_ok(mismatch == 0 && n_ref == set.n_regs,
                     "regs: the probe lists exactly what KVM_GET_REG_LIST does (%zu, %zu)",
                     set.n_regs, n_ref);
        guest_tap_ok(ref_features == set.features,
                     "regs: vCPU features as QEMU picks them (0x%x, want 0x%x)", set.features,
                     ref_features);
        free(ref);
    }

    for (size_t i = 0; i < set.n_regs; i++) {
        const ItsmigKvmReg *reg = &set.regs[i];
        char name[ITSMIG_KVM_REG_NAME_MAX];

        itsmig_kvm_reg_name(reg->id, name, sizeof(name));
        if (strncmp(name, "0x", 2) != 0 && strncmp(name, "S2_", 3) != 0 &&
            strncmp(name, "S3_", 3) != 0)
            n_named++;
        else
            guest_tap_diag("  unnamed: %s", name);
        if (reg->has_value !=
            (itsmig_kvm_reg_is_id(reg->id) || itsmig_kvm_reg_is_firmware(reg->id)))
            ok = false;
        n_values += reg->has_value;
        n_masks += reg->has_writable;
    }
    guest_tap_ok(ok, "regs: values for exactly the ID and firmware registers (%zu)", n_values);
    guest_tap_ok(set.writable_masks == (n_masks > 0),
                 "regs: writable masks %s and %zu registers carry one",
                 set.writable_masks ? "offered" : "not offered", n_masks);
    guest_tap_diag("%zu of %zu registers have a name", n_named, set.n_regs);
    guest_tap_ok(find_named(&set, "MIDR_EL1") && find_named(&set, "ID_AA64PFR0_EL1") &&
                     find_named(&set, "KVM_REG_ARM_PSCI_VERSION") &&
                     find_named(&set, "KVM_REG_ARM_TIMER_CNT"),
                 "regs: MIDR_EL1, ID_AA64PFR0_EL1, PSCI_VERSION and the timer are listed");
    {
        const ItsmigKvmReg *psci = find_named(&set, "KVM_REG_ARM_PSCI_VERSION");
        guest_tap_ok(psci && psci->has_value && psci->value >= 0x10000,
                     "regs: PSCI version 0x%llx (1.0 or later with PSCI 0.2 asked for)",
                     psci ? (unsigned long long)psci->value : 0ull);
    }
    /* The kernel hides these registers from a vCPU without the feature. */
    if (set.features & ITSMIG_VCPU_FEATURE_PMU_V3)
        check_needs(&set, "PMCR_EL0", ITSMIG_VCPU_FEATURE_PMU_V3);
    if (set.features & ITSMIG_VCPU_FEATURE_SVE) {
        check_needs(&set, "ZCR_EL1", ITSMIG_VCPU_FEATURE_SVE);
        check_needs(&set, "SVE_Z0", ITSMIG_VCPU_FEATURE_SVE);
        check_needs(&set, "KVM_REG_ARM64_SVE_VLS", ITSMIG_VCPU_FEATURE_SVE);
    }
    if (set.features & ITSMIG_VCPU_FEATURE_PTRAUTH)
        check_needs(&set, "APIAKEYLO_EL1", ITSMIG_VCPU_FEATURE_PTRAUTH);
    {
        const ItsmigKvmReg *midr = find_named(&set, "MIDR_EL1");
        guest_tap_ok(midr && midr->features == 0, "regs: MIDR_EL1 needs no optional feature");
    }

    itsmig_kvm_probe_text_write(stdout, &caps, &set);
    itsmig_kvm_regs_clear(&set);
}
