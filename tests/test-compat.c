/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/compat.h"
#include "itsmig/domain-profile.h"
#include "itsmig/error.h"
#include "itsmig/host-caps.h"
#include "itsmig/kvm-regs-json.h"

#include "probe-data.h"

#define NOW ((gint64)1800000000)

/* ---- fixtures -------------------------------------------------------------- */

typedef struct {
    ItsmigDomainProfile *d;
    ItsmigHostCaps *s;
    ItsmigHostCaps *t;
    gboolean no_source; /* hand the check no source: the metadata stands in */
    GPtrArray *known;   /* ItsmigHostCaps *, owned */
    ItsmigCompatPolicy policy;
} Fixture;

#define SET(caps, field, member, value)                                                            \
    do {                                                                                           \
        (caps)->member = (value);                                                                  \
        (caps)->meta[ITSMIG_CAP_##field].source = ITSMIG_CAP_PROBED;                               \
    } while (0)
#define UNSET(caps, field) ((caps)->meta[ITSMIG_CAP_##field].source = ITSMIG_CAP_UNKNOWN)

/* ---- register sets ---- */

#define CORE_X0       0x6030000000100000ull
#define SVE_Z0        0x6080000000150000ull
#define PSCI_VERSION  0x6030000000140000ull
#define STD_BMAP      0x6030000000160000ull
#define MIDR_EL1      itsmig_kvm_sysreg_id(3, 0, 0, 0, 0)
#define ID_AA64DFR0   itsmig_kvm_sysreg_id(3, 0, 0, 5, 0)
#define ID_AA64ISAR0  itsmig_kvm_sysreg_id(3, 0, 0, 6, 0)
#define TCR_EL1       itsmig_kvm_sysreg_id(3, 0, 2, 0, 2)
#define PMCR_EL0      itsmig_kvm_sysreg_id(3, 3, 9, 12, 0)
#define PMEVCNTR0_EL0 itsmig_kvm_sysreg_id(3, 3, 14, 8, 0)
#define TCR2_EL1      itsmig_kvm_sysreg_id(3, 0, 2, 0, 3)

static gint reg_cmp(gconstpointer a, gconstpointer b)
{
    const ItsmigKvmReg *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* Refreshes what follows from @c's registers: order and digest. */
static void regs_changed(ItsmigHostCaps *c)
{
    qsort(c->regs.regs, c->regs.n_regs, sizeof(ItsmigKvmReg),
          (int (*)(const void *, const void *))reg_cmp);
    g_free(c->regs_digest);
    c->regs_digest = itsmig_kvm_regs_digest(&c->regs);
}

static ItsmigKvmReg *regs_add(ItsmigHostCaps *c, guint64 id, guint32 features)
{
    ItsmigKvmReg *r;

    c->regs.regs = realloc(c->regs.regs, (c->regs.n_regs + 1) * sizeof(ItsmigKvmReg));
    g_assert_nonnull(c->regs.regs);
    r = &c->regs.regs[c->regs.n_regs++];
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->features = features;
    regs_changed(c);
    return (ItsmigKvmReg *)itsmig_kvm_regs_find(&c->regs, id);
}

static void regs_value(ItsmigHostCaps *c, guint64 id, guint64 value)
{
    ItsmigKvmReg *r = (ItsmigKvmReg *)itsmig_kvm_regs_find(&c->regs, id);

    g_assert_nonnull(r);
    r->has_value = TRUE;
    r->value = value;
}

static void regs_writable(ItsmigHostCaps *c, guint64 id, guint64 mask)
{
    ItsmigKvmReg *r = (ItsmigKvmReg *)itsmig_kvm_regs_find(&c->regs, id);

    g_assert_nonnull(r);
    c->regs.writable_masks = TRUE;
    r->has_writable = TRUE;
    r->writable = mask;
}

static void regs_remove(ItsmigHostCaps *c, guint64 id)
{
    const ItsmigKvmReg *r = itsmig_kvm_regs_find(&c->regs, id);
    gsize i;

    g_assert_nonnull(r);
    i = r - c->regs.regs;
    memmove(&c->regs.regs[i], &c->regs.regs[i + 1],
            (c->regs.n_regs - i - 1) * sizeof(ItsmigKvmReg));
    c->regs.n_regs--;
    regs_changed(c);
}

/* A small register set of the shape a host-passthrough vCPU has. */
static void regs_default(ItsmigHostCaps *c)
{
    itsmig_kvm_regs_clear(&c->regs);
    c->regs.available = TRUE;
    c->regs.features =
        ITSMIG_VCPU_FEATURE_PSCI_0_2 | ITSMIG_VCPU_FEATURE_PMU_V3 | ITSMIG_VCPU_FEATURE_SVE;
    regs_add(c, CORE_X0, 0);
    regs_add(c, SVE_Z0, ITSMIG_VCPU_FEATURE_SVE);
    regs_add(c, MIDR_EL1, 0);
    regs_value(c, MIDR_EL1, 0x410fd0c1);
    regs_add(c, ID_AA64DFR0, 0);
    regs_value(c, ID_AA64DFR0, 0x10305106);
    regs_add(c, ID_AA64ISAR0, 0);
    regs_value(c, ID_AA64ISAR0, 0x0000100010211120ull);
    regs_add(c, TCR_EL1, 0);
    regs_add(c, PMCR_EL0, ITSMIG_VCPU_FEATURE_PMU_V3);
    regs_add(c, PMEVCNTR0_EL0, ITSMIG_VCPU_FEATURE_PMU_V3);
    regs_add(c, PSCI_VERSION, 0);
    regs_value(c, PSCI_VERSION, 0x10001);
    regs_add(c, STD_BMAP, 0);
    regs_value(c, STD_BMAP, 0x1);
}

/* A current arm64 host: everything known, revision 0, no GICv4. */
static ItsmigHostCaps *full_caps(const char *hostname)
{
    ItsmigHostCaps *c = itsmig_host_caps_new(hostname);

    SET(c, ARCH, arch, g_strdup("aarch64"));
    SET(c, PAGE_SIZE, page_size, 4096);
    SET(c, KERNEL_RELEASE, kernel_release, g_strdup("6.12.0"));
    SET(c, VGIC_ITS, vgic_its, TRUE);
    SET(c, ITS_ABI_REVISIONS, its_abi_revisions, 0x1);
    SET(c, DEFAULT_ITS_ABI_REVISION, default_its_abi_revision, 0);
    SET(c, GICD_REVISION, gicd_revision, 3);
    SET(c, GICV4, gicv4, ITSMIG_GICV4_NONE);
    SET(c, SAVE_TABLES, save_tables, TRUE);
    SET(c, RESTORE_TABLES, restore_tables, TRUE);
    SET(c, CTRL_RESET, ctrl_reset, TRUE);
    SET(c, SAVE_PENDING_TABLES, save_pending_tables, TRUE);
    regs_default(c);
    return c;
}

static ItsmigHostCaps *caps_with_revisions(const char *hostname, guint16 revisions)
{
    ItsmigHostCaps *c = full_caps(hostname);

    c->its_abi_revisions = revisions;
    c->default_its_abi_revision = (guint)g_bit_nth_lsf(revisions, -1);
    return c;
}

static void test_hostdev_free(gpointer data)
{
    ItsmigHostdev *h = data;

    g_free(h->address);
    g_free(h->driver);
    g_free(h->alias);
    g_free(h->guest_address);
    g_free(h->host_driver);
    g_free(h);
}

static void add_hostdev(Fixture *f, const char *address, const char *driver,
                        const char *host_driver, int migratable)
{
    ItsmigHostdev *h = g_new0(ItsmigHostdev, 1);

    h->address = g_strdup(address);
    h->driver = g_strdup(driver);
    h->managed = TRUE;
    h->host_driver = g_strdup(host_driver);
    h->migratable = migratable;
    g_ptr_array_add(f->d->hostdevs, h);
}

static void add_known(Fixture *f, ItsmigHostCaps *caps)
{
    g_ptr_array_add(f->known, caps);
}

/* vm1, a KVM guest with an ITS, started a day ago on hostA (recorded in its
 * metadata), moving to hostB; both hosts current and alike. */
static Fixture *fixture_new(void)
{
    Fixture *f = g_new0(Fixture, 1);
    ItsmigDomainProfile *d = g_new0(ItsmigDomainProfile, 1);
    ItsmigItsMetadata *m = &d->metadata;

    d->name = g_strdup("vm1");
    d->type = g_strdup("kvm");
    d->arch = g_strdup("aarch64");
    d->machine = g_strdup("virt-9.2");
    d->gic_version = g_strdup("3");
    d->its = ITSMIG_ITS_PRESENT;
    d->its_reason = g_strdup("GICv3 on virt: ITS on by default");
    d->vcpus = d->max_vcpus = 2;
    d->hostdevs = g_ptr_array_new_with_free_func(test_hostdev_free);
    d->msi_devices = g_ptr_array_new();

    d->has_metadata = TRUE;
    itsmig_its_metadata_init(m);
    m->its_abi_revision = 0;
    m->gicd_revision = 3;
    m->started_at = NOW - 86400;
    m->host = g_strdup("hostA");
    m->written = ITSMIG_METADATA_WRITTEN_START;
    m->written_at = NOW - 86400;
    m->host_arch = g_strdup("aarch64");
    m->host_page_size = 4096;
    m->host_gicv4 = ITSMIG_GICV4_NONE;
    m->host_save_tables = 1;
    m->host_save_pending_tables = 1;
    m->host_ctrl_reset = 1;
    m->host_its_abi_revisions = 0x1;

    f->d = d;
    f->s = full_caps("hostA");
    f->t = full_caps("hostB");
    m->host_regs_digest = g_strdup(f->s->regs_digest);
    m->host_regs_count = f->s->regs.n_regs;
    f->known = g_ptr_array_new_with_free_func((GDestroyNotify)itsmig_host_caps_free);
    itsmig_compat_policy_init(&f->policy);
    return f;
}

static void fixture_free(Fixture *f)
{
    if (!f)
        return;
    itsmig_domain_profile_free(f->d);
    itsmig_host_caps_free(f->s);
    itsmig_host_caps_free(f->t);
    g_ptr_array_unref(f->known);
    g_free(f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)

static ItsmigVerdict *run(const Fixture *f)
{
    ItsmigCompatInput in = {
        .domain = f->d,
        .source = f->no_source ? NULL : f->s,
        .destination = f->t,
        .known = (const ItsmigHostCaps *const *)f->known->pdata,
        .n_known = f->known->len,
        .now = NOW,
    };
    ItsmigVerdict *v = itsmig_compat_check(&in, &f->policy);

    g_assert_nonnull(v);
    return v;
}

/* What every verdict must satisfy, whatever the input. */
static void assert_well_formed(const ItsmigVerdict *v)
{
    const GPtrArray *lists[] = {v->blockers, v->warnings};
    const ItsmigVerdictSeverity sevs[] = {ITSMIG_VERDICT_BLOCKER, ITSMIG_VERDICT_WARNING};

    g_assert_cmpint(v->allowed, ==, v->blockers->len == 0);
    g_assert_nonnull(v->its_abi_revision_origin);
    for (guint l = 0; l < G_N_ELEMENTS(lists); l++) {
        int last = -1;

        for (guint i = 0; i < lists[l]->len; i++) {
            const ItsmigVerdictItem *item = g_ptr_array_index(lists[l], i);
            gsize len = strlen(item->message);

            g_assert_cmpint(item->severity, ==, sevs[l]);
            g_assert_cmpint((int)item->rule, >=, last); /* rule order */
            last = (int)item->rule;
            g_assert_cmpuint(len, >, 0);
            g_assert_null(strchr(item->message, '\n'));
            g_assert_true(item->message[len - 1] != '.');
            g_assert_nonnull(item->hint);
            g_assert_cmpuint(strlen(item->hint), >, 0);
            g_assert_null(strchr(item->hint, '\n'));
        }
    }
}

/* The messages (and hints) of @rule's items, one per line; NULL when the rule
 * is not reported.  @ret_severity gets the severity of its first item. */
static char *rule_text(const ItsmigVerdict *v, ItsmigRule rule, gboolean hints,
                       ItsmigVerdictSeverity *ret_severity)
{
    const GPtrArray *lists[] = {v->blockers, v->warnings};
    GString *s = NULL;

    for (guint l = 0; l < G_N_ELEMENTS(lists); l++) {
        for (guint i = 0; i < lists[l]->len; i++) {
            const ItsmigVerdictItem *item = g_ptr_array_index(lists[l], i);

            if (item->rule != rule)
                continue;
            if (!s) {
                s = g_string_new(NULL);
                *ret_severity = item->severity;
            }
            g_string_append_printf(s, "%s\n", hints ? item->hint : item->message);
        }
    }
    return s ? g_string_free(s, FALSE) : NULL;
}

static void assert_contains(const char *text, const char *has, const char *what)
{
    if (!strstr(text, has))
        g_error("%s '%s' does not contain '%s'", what, text, has);
}

/* ---- one rule at a time ---------------------------------------------------- */

typedef struct {
    const char *path;
    void (*setup)(Fixture *f);
    ItsmigRule rule;
    ItsmigVerdictSeverity severity; /* OFF: the rule must not be reported */
    const char *has[6];             /* in the rule's messages */
    const char *lacks;              /* not in them */
    const char *hint_has;
} RuleCase;

static void setup_dest_unknown(Fixture *f)
{
    UNSET(f->t, VGIC_ITS);
    UNSET(f->t, ITS_ABI_REVISIONS);
    f->t->probe_unavailable_reason = g_strdup("no /dev/kvm");
}

static void setup_source_save_unknown(Fixture *f)
{
    UNSET(f->s, SAVE_TABLES);
}

static void setup_metadata_save_unrecorded(Fixture *f)
{
    f->no_source = TRUE;
    f->d->metadata.host_save_tables = -1;
}

/* A record naming its host and nothing else still stands for a known source. */
static void setup_metadata_host_only(Fixture *f)
{
    ItsmigItsMetadata *m = &f->d->metadata;

    f->no_source = TRUE;
    g_clear_pointer(&m->host_arch, g_free);
    m->host_page_size = 0;
    m->host_gicv4 = ITSMIG_GICV4_UNKNOWN;
    m->host_save_tables = m->host_save_pending_tables = m->host_ctrl_reset = -1;
    m->host_its_abi_revisions = 0;
}

static void setup_dest_unknown_its_absent(Fixture *f)
{
    setup_dest_unknown(f);
    f->d->its = ITSMIG_ITS_ABSENT;
}

static void setup_tcg(Fixture *f)
{
    g_free(f->d->type);
    f->d->type = g_strdup("qemu");
}

static void setup_dest_unknown_tcg(Fixture *f)
{
    setup_dest_unknown(f);
    setup_tcg(f);
}

static void setup_dest_no_vits_rest_unknown(Fixture *f)
{
    SET(f->t, VGIC_ITS, vgic_its, FALSE);
    UNSET(f->t, ITS_ABI_REVISIONS);
    UNSET(f->t, RESTORE_TABLES);
}

static void setup_its_unknown_dest_unknown(Fixture *f)
{
    setup_dest_unknown(f);
    f->d->its = ITSMIG_ITS_UNKNOWN;
}

static void setup_dest_x86(Fixture *f)
{
    g_free(f->t->arch);
    f->t->arch = g_strdup("x86_64");
}

static void setup_dest_x86_tcg(Fixture *f)
{
    setup_dest_x86(f);
    setup_tcg(f);
}

static void setup_dest_no_vits(Fixture *f)
{
    SET(f->t, VGIC_ITS, vgic_its, FALSE);
    f->t->probe_unavailable_reason = g_strdup("host is not arm64");
}

static void setup_dest_no_vits_its_absent(Fixture *f)
{
    setup_dest_no_vits(f);
    f->d->its = ITSMIG_ITS_ABSENT;
}

static void setup_rev1(Fixture *f)
{
    f->d->metadata.its_abi_revision = 1;
}

static void setup_rev1_supported(Fixture *f)
{
    setup_rev1(f);
    f->t->its_abi_revisions = 0x3;
}

static void setup_rev1_tcg(Fixture *f)
{
    setup_rev1(f);
    setup_tcg(f);
}

static void setup_rev1_from_source_default(Fixture *f)
{
    f->d->has_metadata = FALSE;
    itsmig_its_metadata_clear(&f->d->metadata);
    f->s->its_abi_revisions = 0x3;
    f->s->default_its_abi_revision = 1;
}

static void setup_dest_no_restore(Fixture *f)
{
    SET(f->t, RESTORE_TABLES, restore_tables, FALSE);
}

static void setup_dest_no_restore_tcg(Fixture *f)
{
    setup_dest_no_restore(f);
    setup_tcg(f);
}

static void setup_dest_no_restore_tcg_checked(Fixture *f)
{
    setup_dest_no_restore_tcg(f);
    f->policy.check_emulated = TRUE;
}

static void setup_source_no_save(Fixture *f)
{
    SET(f->s, SAVE_TABLES, save_tables, FALSE);
}

static void setup_source_no_save_its_absent(Fixture *f)
{
    setup_source_no_save(f);
    f->d->its = ITSMIG_ITS_ABSENT;
}

static void setup_gicv4_0_vfio(Fixture *f)
{
    SET(f->s, GICV4, gicv4, ITSMIG_GICV4_0);
    add_hostdev(f, "0000:01:00.0", NULL, "mlx5_vfio_pci", 1);
    add_hostdev(f, "0000:02:00.0", "vfio", "mlx5_vfio_pci", 1);
    f->policy.quiesce = FALSE;
}

static void setup_gicv4_0_vfio_quiesce(Fixture *f)
{
    setup_gicv4_0_vfio(f);
    f->policy.quiesce = TRUE;
}

static void setup_gicv4_1_vfio(Fixture *f)
{
    setup_gicv4_0_vfio(f);
    f->s->gicv4 = ITSMIG_GICV4_1;
}

static void setup_gicv4_0_vfio_tcg(Fixture *f)
{
    setup_gicv4_0_vfio(f);
    setup_tcg(f);
}

static void setup_hostdevs_mixed(Fixture *f)
{
    add_hostdev(f, "0000:01:00.0", NULL, NULL, -1);
    add_hostdev(f, "0000:02:00.0", "vfio", "vfio-pci", 0);
    add_hostdev(f, "0000:03:00.0", "vfio", "mlx5_vfio_pci", 1);
    f->policy.quiesce = FALSE;
}

static void setup_hostdevs_migratable(Fixture *f)
{
    add_hostdev(f, "0000:03:00.0", "vfio", "mlx5_vfio_pci", 1);
    f->policy.quiesce = FALSE;
}

static void setup_hostdevs_mixed_quiesce(Fixture *f)
{
    setup_hostdevs_mixed(f);
    f->policy.quiesce = TRUE;
}

static void setup_no_reset_started(Fixture *f)
{
    SET(f->s, CTRL_RESET, ctrl_reset, FALSE);
    f->d->metadata.started_at = NOW - 60;
}

static void setup_no_reset_reset(Fixture *f)
{
    SET(f->s, CTRL_RESET, ctrl_reset, FALSE);
    f->d->metadata.reset_at = NOW - 10;
}

static void setup_no_reset_booted(Fixture *f)
{
    SET(f->s, CTRL_RESET, ctrl_reset, FALSE);
    f->d->metadata.started_at = NOW - 300;
}

static void setup_no_reset_time_unknown(Fixture *f)
{
    SET(f->s, CTRL_RESET, ctrl_reset, FALSE);
    f->d->metadata.started_at = 0;
    f->d->metadata.reset_at = 0;
}

static void setup_reset_started(Fixture *f)
{
    f->d->metadata.started_at = NOW - 10;
}

static void setup_no_reset_started_wide_window(Fixture *f)
{
    SET(f->s, CTRL_RESET, ctrl_reset, FALSE);
    f->d->metadata.started_at = NOW - 400;
    f->policy.early_boot_window = 600;
}

static void setup_source_no_pending(Fixture *f)
{
    SET(f->s, SAVE_PENDING_TABLES, save_pending_tables, FALSE);
}

static void setup_source_no_pending_tcg(Fixture *f)
{
    setup_source_no_pending(f);
    setup_tcg(f);
}

static void setup_gicd_2(Fixture *f)
{
    f->d->metadata.gicd_revision = 2;
}

static void setup_gicd_from_source(Fixture *f)
{
    f->d->metadata.gicd_revision = -1;
    SET(f->s, GICD_REVISION, gicd_revision, 2);
}

static void setup_gicd_2_tcg(Fixture *f)
{
    setup_gicd_2(f);
    setup_tcg(f);
}

static void setup_gicd_unknown_both(Fixture *f)
{
    f->d->metadata.gicd_revision = -1;
    UNSET(f->s, GICD_REVISION);
    SET(f->t, GICD_REVISION, gicd_revision, 2);
}

static void setup_onward_few(Fixture *f)
{
    add_known(f, caps_with_revisions("hostA", 0x1));
    add_known(f, caps_with_revisions("hostB", 0x1)); /* the destination: not counted */
    add_known(f, caps_with_revisions("hostC", 0x2));
    add_known(f, caps_with_revisions("hostD", 0x2));
}

static void setup_onward_many(Fixture *f)
{
    add_known(f, caps_with_revisions("hostA", 0x1));
    add_known(f, caps_with_revisions("hostC", 0x3));
    add_known(f, caps_with_revisions("hostD", 0x2));
}

/* The source is not among the known hosts: it counts all the same. */
static void setup_no_return(Fixture *f)
{
    f->t->its_abi_revisions = 0x3;
    f->t->default_its_abi_revision = 1;
    add_known(f, caps_with_revisions("hostC", 0x1));
    add_known(f, caps_with_revisions("hostD", 0x1));
}

/* Half of hostA, C, D, E, F, G support revision 1: not "fewer than half". */
static void setup_no_return_half(Fixture *f)
{
    setup_no_return(f);
    add_known(f, caps_with_revisions("hostE", 0x3));
    add_known(f, caps_with_revisions("hostF", 0x3));
    add_known(f, caps_with_revisions("hostG", 0x3));
}

static void setup_no_return_unknown_rev(Fixture *f)
{
    setup_no_return(f);
    f->d->metadata.its_abi_revision = -1;
    UNSET(f->s, DEFAULT_ITS_ABI_REVISION);
}

static void setup_no_metadata(Fixture *f)
{
    f->d->has_metadata = FALSE;
    itsmig_its_metadata_clear(&f->d->metadata);
}

static void setup_metadata_unreadable(Fixture *f)
{
    setup_no_metadata(f);
    f->d->metadata_error = g_strdup("version 2 is not supported");
}

static void setup_metadata_no_revision(Fixture *f)
{
    f->d->metadata.its_abi_revision = -1;
}

static void setup_no_metadata_its_absent(Fixture *f)
{
    setup_no_metadata(f);
    f->d->its = ITSMIG_ITS_ABSENT;
}

static void setup_no_source_no_metadata(Fixture *f)
{
    setup_no_metadata(f);
    f->no_source = TRUE;
}

static void setup_no_source(Fixture *f)
{
    f->no_source = TRUE;
}

static void setup_dest_conflict(Fixture *f)
{
    f->t->its_abi_revisions = 0x3;
    f->t->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source = ITSMIG_CAP_DECLARED;
    f->t->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].conflict_probed = g_strdup("[0]");
}

static void setup_dest_declared_agreeing(Fixture *f)
{
    f->t->meta[ITSMIG_CAP_ITS_ABI_REVISIONS].source = ITSMIG_CAP_DECLARED;
}

static void setup_source_conflict_no_source(Fixture *f)
{
    f->s->meta[ITSMIG_CAP_GICV4].source = ITSMIG_CAP_DECLARED;
    f->s->meta[ITSMIG_CAP_GICV4].conflict_probed = g_strdup("\"4.0\"");
    f->no_source = TRUE;
}

static void setup_source_conflict(Fixture *f)
{
    f->s->meta[ITSMIG_CAP_GICV4].source = ITSMIG_CAP_DECLARED;
    f->s->meta[ITSMIG_CAP_GICV4].conflict_probed = g_strdup("\"4.0\"");
}

static void setup_quiesce_not_migratable(Fixture *f)
{
    add_hostdev(f, "0000:01:00.0", "vfio", "vfio-pci", 0);
}

static void setup_quiesce_gicv4(Fixture *f)
{
    SET(f->s, GICV4, gicv4, ITSMIG_GICV4_0);
    add_hostdev(f, "0000:01:00.0", NULL, "mlx5_vfio_pci", 1);
}

static void setup_quiesce_migratable(Fixture *f)
{
    add_hostdev(f, "0000:01:00.0", NULL, "mlx5_vfio_pci", 1);
}

static void setup_dest_64k(Fixture *f)
{
    SET(f->t, PAGE_SIZE, page_size, 65536);
}

static void setup_dest_page_unknown(Fixture *f)
{
    SET(f->t, PAGE_SIZE, page_size, 65536);
    UNSET(f->t, PAGE_SIZE);
}

static void setup_metadata_64k(Fixture *f)
{
    f->no_source = TRUE;
    f->d->metadata.host_page_size = 65536;
}

/* hostB's QEMU 7.2 offers these for aarch64 guests; vm1 runs virt-9.2. */
static const char *const qemu_7_2_machines[] = {"sbsa-ref", "virt",     "virt-2.12",
                                                "virt-7.1", "virt-7.2", NULL};

static void setup_dest_machines(Fixture *f, const char *qemu, const char *arch,
                                const char *const *names)
{
    SET(f->t, QEMU_VERSION, qemu_version, g_strdup(qemu));
    f->t->machine_types.source = ITSMIG_CAP_PROBED;
    f->t->machine_types.arch = g_strdup(arch);
    f->t->machine_types.emulator = g_strdup("/usr/bin/qemu-system-aarch64");
    f->t->machine_types.names = g_strdupv((char **)names);
}

/* The newest is found by version, not by name: virt-10.0 after virt-9.2. */
static void setup_machine_newer(Fixture *f)
{
    static const char *const names[] = {"virt", "virt-10.0", "virt-9.2", NULL};

    setup_dest_machines(f, "10.0.0", "aarch64", names);
    g_free(f->d->machine);
    f->d->machine = g_strdup("virt-11.0");
}

static void setup_machine_missing(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "aarch64", qemu_7_2_machines);
}

static void setup_machine_offered(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "aarch64", qemu_7_2_machines);
    g_free(f->d->machine);
    f->d->machine = g_strdup("virt-7.2");
}

static void setup_machine_unversioned(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "aarch64", qemu_7_2_machines);
    g_free(f->d->machine);
    f->d->machine = g_strdup("raspi3b");
}

static void setup_machine_tcg(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "aarch64", qemu_7_2_machines);
    setup_tcg(f);
}

static void setup_machine_other_arch(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "x86_64", qemu_7_2_machines);
}

static void setup_machine_test_driver(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "aarch64", qemu_7_2_machines);
    g_free(f->d->type);
    f->d->type = g_strdup("test");
}

static void setup_machine_other_emulator(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "aarch64", qemu_7_2_machines);
    f->d->emulator = g_strdup("/opt/qemu-9.2/bin/qemu-system-aarch64");
}

static void setup_machine_same_emulator(Fixture *f)
{
    setup_dest_machines(f, "7.2.0", "aarch64", qemu_7_2_machines);
    f->d->emulator = g_strdup("/usr/bin/qemu-system-aarch64");
}

static void setup_machine_types_unknown(Fixture *f)
{
    itsmig_host_caps_set_machine_types_unknown(f->t, "hostB's itsmig predates them");
}

/* One case a line group, as the rules table reads: kept as written. */
/* clang-format off */
static const RuleCase rule_cases[] = {
    /* host-caps-unknown */
    { "/compat/host-caps-unknown/destination", setup_dest_unknown, ITSMIG_RULE_HOST_CAPS_UNKNOWN,
      ITSMIG_VERDICT_BLOCKER, { "hostB", "destination", "vgic_its", "its_abi_revisions", "vm1" },
      "restore_tables", "no /dev/kvm" },
    { "/compat/host-caps-unknown/its-unknown-counts", setup_its_unknown_dest_unknown,
      ITSMIG_RULE_HOST_CAPS_UNKNOWN, ITSMIG_VERDICT_BLOCKER, { "hostB", "vgic_its" }, NULL,
      "vgic-its, its-abi-revisions" },
    { "/compat/host-caps-unknown/source", setup_source_save_unknown,
      ITSMIG_RULE_HOST_CAPS_UNKNOWN, ITSMIG_VERDICT_BLOCKER, { "hostA", "source", "save_tables" },
      "hostB", "save-tables" },
    { "/compat/host-caps-unknown/metadata-source", setup_metadata_save_unrecorded,
      ITSMIG_RULE_HOST_CAPS_UNKNOWN, ITSMIG_VERDICT_BLOCKER,
      { "hostA", "metadata", "save_tables" }, NULL, "save-tables" },
    { "/compat/host-caps-unknown/metadata-host-only", setup_metadata_host_only,
      ITSMIG_RULE_HOST_CAPS_UNKNOWN, ITSMIG_VERDICT_BLOCKER, { "hostA", "save_tables" }, NULL,
      NULL },
    { "/compat/host-caps-unknown/its-absent", setup_dest_unknown_its_absent,
      ITSMIG_RULE_HOST_CAPS_UNKNOWN, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/host-caps-unknown/tcg", setup_dest_unknown_tcg, ITSMIG_RULE_HOST_CAPS_UNKNOWN,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/host-caps-unknown/destination-without-vits", setup_dest_no_vits_rest_unknown,
      ITSMIG_RULE_HOST_CAPS_UNKNOWN, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* arch-mismatch */
    { "/compat/arch-mismatch/fires", setup_dest_x86, ITSMIG_RULE_ARCH_MISMATCH,
      ITSMIG_VERDICT_BLOCKER, { "vm1", "aarch64", "hostB", "x86_64" }, NULL,
      "host of architecture aarch64" },
    { "/compat/arch-mismatch/tcg", setup_dest_x86_tcg, ITSMIG_RULE_ARCH_MISMATCH,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* gic-version-mismatch */
    { "/compat/gic-version-mismatch/fires", setup_dest_no_vits, ITSMIG_RULE_GIC_VERSION_MISMATCH,
      ITSMIG_VERDICT_BLOCKER, { "hostB", "vm1", "GICv3 with an ITS", "host is not arm64" }, NULL,
      "vgic-its" },
    { "/compat/gic-version-mismatch/its-absent", setup_dest_no_vits_its_absent,
      ITSMIG_RULE_GIC_VERSION_MISMATCH, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* its-abi-unsupported */
    { "/compat/its-abi-unsupported/fires", setup_rev1, ITSMIG_RULE_ITS_ABI_UNSUPPORTED,
      ITSMIG_VERDICT_BLOCKER,
      { "vm1", "revision 1 (from its metadata)", "not supported by hostB", "supports 0" }, NULL,
      "revision 1" },
    { "/compat/its-abi-unsupported/host-default", setup_rev1_from_source_default,
      ITSMIG_RULE_ITS_ABI_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER,
      { "revision 1", "hostA's default", "hostB", "supports 0" }, "from its metadata", NULL },
    { "/compat/its-abi-unsupported/supported", setup_rev1_supported,
      ITSMIG_RULE_ITS_ABI_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/its-abi-unsupported/tcg", setup_rev1_tcg, ITSMIG_RULE_ITS_ABI_UNSUPPORTED,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* its-restore-unsupported */
    { "/compat/its-restore-unsupported/fires", setup_dest_no_restore,
      ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER,
      { "hostB", "KVM_DEV_ARM_ITS_RESTORE_TABLES", "vm1" }, NULL, "hostB" },
    { "/compat/its-restore-unsupported/tcg", setup_dest_no_restore_tcg,
      ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/its-restore-unsupported/tcg-check-emulated", setup_dest_no_restore_tcg_checked,
      ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER, { "hostB" }, NULL, NULL },

    /* its-save-unsupported */
    { "/compat/its-save-unsupported/fires", setup_source_no_save, ITSMIG_RULE_ITS_SAVE_UNSUPPORTED,
      ITSMIG_VERDICT_BLOCKER, { "hostA", "KVM_DEV_ARM_ITS_SAVE_TABLES", "vm1" }, "hostB",
      "hostA" },
    { "/compat/its-save-unsupported/its-absent", setup_source_no_save_its_absent,
      ITSMIG_RULE_ITS_SAVE_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* gicv4-direct-injection */
    { "/compat/gicv4-direct-injection/fires", setup_gicv4_0_vfio,
      ITSMIG_RULE_GICV4_DIRECT_INJECTION, ITSMIG_VERDICT_BLOCKER,
      { "hostA", "GICv4.0", "0000:01:00.0, 0000:02:00.0", "EACCES", "vm1" }, NULL, "detach" },
    { "/compat/gicv4-direct-injection/quiesce", setup_gicv4_0_vfio_quiesce,
      ITSMIG_RULE_GICV4_DIRECT_INJECTION, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/gicv4-direct-injection/gicv4.1", setup_gicv4_1_vfio,
      ITSMIG_RULE_GICV4_DIRECT_INJECTION, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/gicv4-direct-injection/tcg", setup_gicv4_0_vfio_tcg,
      ITSMIG_RULE_GICV4_DIRECT_INJECTION, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* hostdev-not-migratable */
    { "/compat/hostdev-not-migratable/fires", setup_hostdevs_mixed,
      ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE, ITSMIG_VERDICT_BLOCKER,
      { "vm1", "0000:01:00.0 (driver unknown)", "0000:02:00.0 (vfio-pci)" }, "0000:03:00.0",
      "detach" },
    { "/compat/hostdev-not-migratable/migratable", setup_hostdevs_migratable,
      ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/hostdev-not-migratable/quiesce", setup_hostdevs_mixed_quiesce,
      ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* early-boot-no-its-reset */
    { "/compat/early-boot-no-its-reset/started", setup_no_reset_started,
      ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET, ITSMIG_VERDICT_BLOCKER,
      { "hostA", "KVM_DEV_ARM_ITS_CTRL_RESET", "vm1 started 60 seconds ago", "window of 300" },
      NULL, "240 more seconds" },
    { "/compat/early-boot-no-its-reset/reset", setup_no_reset_reset,
      ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET, ITSMIG_VERDICT_BLOCKER,
      { "vm1 was reset 10 seconds ago" }, NULL, "290 more seconds" },
    { "/compat/early-boot-no-its-reset/policy-window", setup_no_reset_started_wide_window,
      ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET, ITSMIG_VERDICT_BLOCKER,
      { "400 seconds ago", "window of 600" }, NULL, NULL },
    { "/compat/early-boot-no-its-reset/booted", setup_no_reset_booted,
      ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/early-boot-no-its-reset/time-unknown", setup_no_reset_time_unknown,
      ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/early-boot-no-its-reset/source-can-reset", setup_reset_started,
      ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* machine-type-unsupported */
    { "/compat/machine-type-unsupported/fires", setup_machine_missing,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER,
      { "vm1's machine type virt-9.2 is not offered by hostB's QEMU 7.2.0 (the newest of its family "
        "there is virt-7.2), so libvirt on hostB refuses to start vm1" }, NULL,
      "whose QEMU offers virt-9.2" },
    { "/compat/machine-type-unsupported/newest-by-version", setup_machine_newer,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER,
      { "virt-11.0", "newest of its family there is virt-10.0" }, NULL, NULL },
    { "/compat/machine-type-unsupported/unversioned", setup_machine_unversioned,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER, { "raspi3b" }, "newest",
      NULL },
    { "/compat/machine-type-unsupported/tcg", setup_machine_tcg,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER, { "virt-9.2" }, NULL, NULL },
    { "/compat/machine-type-unsupported/offered", setup_machine_offered,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/machine-type-unsupported/other-arch", setup_machine_other_arch,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/machine-type-unsupported/not-qemu", setup_machine_test_driver,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/machine-type-unsupported/same-emulator", setup_machine_same_emulator,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_BLOCKER, { "virt-9.2" }, NULL, NULL },
    { "/compat/machine-type-unsupported/other-emulator", setup_machine_other_emulator,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/machine-type-unsupported/unknown", setup_machine_types_unknown,
      ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* no-pending-table-save */
    { "/compat/no-pending-table-save/fires", setup_source_no_pending,
      ITSMIG_RULE_NO_PENDING_TABLE_SAVE, ITSMIG_VERDICT_WARNING,
      { "hostA", "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES", "vm1" }, NULL, NULL },
    { "/compat/no-pending-table-save/tcg", setup_source_no_pending_tcg,
      ITSMIG_RULE_NO_PENDING_TABLE_SAVE, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* gicd-revision-change */
    { "/compat/gicd-revision-change/fires", setup_gicd_2, ITSMIG_RULE_GICD_REVISION_CHANGE,
      ITSMIG_VERDICT_WARNING,
      { "vm1 saw GICD_IIDR revision 2", "from its metadata", "hostB's KVM gives revision 3" },
      NULL, "revision 3" },
    { "/compat/gicd-revision-change/source-fallback", setup_gicd_from_source,
      ITSMIG_RULE_GICD_REVISION_CHANGE, ITSMIG_VERDICT_WARNING,
      { "revision 2", "hostA's revision", "revision 3" }, "from its metadata", NULL },
    { "/compat/gicd-revision-change/tcg", setup_gicd_2_tcg, ITSMIG_RULE_GICD_REVISION_CHANGE,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/gicd-revision-change/guest-revision-unknown", setup_gicd_unknown_both,
      ITSMIG_RULE_GICD_REVISION_CHANGE, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* one-way-move */
    { "/compat/one-way-move/onward", setup_onward_few, ITSMIG_RULE_ONE_WAY_MOVE,
      ITSMIG_VERDICT_WARNING, { "vm1", "revision 0", "only 1 of 3 other known hosts", "(hostA)" },
      "could not come back", NULL },
    { "/compat/one-way-move/no-return", setup_no_return, ITSMIG_RULE_ONE_WAY_MOVE,
      ITSMIG_VERDICT_WARNING,
      { "cold start on hostB", "revision 1", "only 0 of 3 known hosts", "(none)", "come back" },
      NULL, "revision 0" },
    { "/compat/one-way-move/no-return-half", setup_no_return_half, ITSMIG_RULE_ONE_WAY_MOVE,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/one-way-move/supported", setup_onward_many, ITSMIG_RULE_ONE_WAY_MOVE,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/one-way-move/revision-unknown", setup_no_return_unknown_rev,
      ITSMIG_RULE_ONE_WAY_MOVE, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* its-profile-fallback */
    { "/compat/its-profile-fallback/no-metadata", setup_no_metadata, ITSMIG_RULE_PROFILE_FALLBACK,
      ITSMIG_VERDICT_WARNING,
      { "no itsmig record in vm1's metadata", "assuming hostA's default revision 0" }, NULL,
      "itsmigd" },
    { "/compat/its-profile-fallback/unreadable", setup_metadata_unreadable,
      ITSMIG_RULE_PROFILE_FALLBACK, ITSMIG_VERDICT_WARNING,
      { "unreadable", "version 2 is not supported", "revision 0" }, NULL, NULL },
    { "/compat/its-profile-fallback/no-revision", setup_metadata_no_revision,
      ITSMIG_RULE_PROFILE_FALLBACK, ITSMIG_VERDICT_WARNING,
      { "does not give its ITS table ABI revision", "hostA's default revision 0" }, NULL, NULL },
    { "/compat/its-profile-fallback/revision-unknown", setup_no_source_no_metadata,
      ITSMIG_RULE_PROFILE_FALLBACK, ITSMIG_VERDICT_WARNING, { "revision is unknown" }, NULL,
      NULL },
    { "/compat/its-profile-fallback/its-absent", setup_no_metadata_its_absent,
      ITSMIG_RULE_PROFILE_FALLBACK, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* source-unknown */
    { "/compat/source-unknown/fires", setup_no_source_no_metadata, ITSMIG_RULE_SOURCE_UNKNOWN,
      ITSMIG_VERDICT_WARNING, { "vm1", "no host record", "skipped" }, NULL, NULL },
    { "/compat/source-unknown/metadata-host", setup_no_source, ITSMIG_RULE_SOURCE_UNKNOWN,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* host-caps-conflict */
    { "/compat/host-caps-conflict/destination", setup_dest_conflict,
      ITSMIG_RULE_HOST_CAPS_CONFLICT, ITSMIG_VERDICT_WARNING,
      { "hostB", "its_abi_revisions [0,1]", "probe found [0]" }, NULL, "its-abi-revisions" },
    { "/compat/host-caps-conflict/source", setup_source_conflict, ITSMIG_RULE_HOST_CAPS_CONFLICT,
      ITSMIG_VERDICT_WARNING, { "hostA", "gicv4 \"none\"", "probe found \"4.0\"" }, "hostB",
      NULL },
    { "/compat/host-caps-conflict/declared-agreeing", setup_dest_declared_agreeing,
      ITSMIG_RULE_HOST_CAPS_CONFLICT, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/host-caps-conflict/source-not-given", setup_source_conflict_no_source,
      ITSMIG_RULE_HOST_CAPS_CONFLICT, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* hostdev-quiesced */
    { "/compat/hostdev-quiesced/not-migratable", setup_quiesce_not_migratable,
      ITSMIG_RULE_HOSTDEV_QUIESCED, ITSMIG_VERDICT_WARNING,
      { "vm1", "0000:01:00.0", "detached before the source pauses" }, NULL, NULL },
    { "/compat/hostdev-quiesced/gicv4", setup_quiesce_gicv4, ITSMIG_RULE_HOSTDEV_QUIESCED,
      ITSMIG_VERDICT_WARNING, { "0000:01:00.0" }, NULL, NULL },
    { "/compat/hostdev-quiesced/mixed", setup_hostdevs_mixed_quiesce,
      ITSMIG_RULE_HOSTDEV_QUIESCED, ITSMIG_VERDICT_WARNING, { "0000:01:00.0, 0000:02:00.0" },
      "0000:03:00.0", NULL },
    { "/compat/hostdev-quiesced/migratable", setup_quiesce_migratable,
      ITSMIG_RULE_HOSTDEV_QUIESCED, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
    { "/compat/hostdev-quiesced/no-quiesce", setup_hostdevs_mixed, ITSMIG_RULE_HOSTDEV_QUIESCED,
      ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },

    /* page-size-mismatch */
    { "/compat/page-size-mismatch/fires", setup_dest_64k, ITSMIG_RULE_PAGE_SIZE_MISMATCH,
      ITSMIG_VERDICT_WARNING, { "hostA", "4096 bytes", "hostB", "65536 bytes" }, NULL, NULL },
    { "/compat/page-size-mismatch/from-metadata", setup_metadata_64k,
      ITSMIG_RULE_PAGE_SIZE_MISMATCH, ITSMIG_VERDICT_WARNING, { "hostA", "65536 bytes" }, NULL,
      NULL },
    { "/compat/page-size-mismatch/unknown", setup_dest_page_unknown,
      ITSMIG_RULE_PAGE_SIZE_MISMATCH, ITSMIG_VERDICT_OFF, { NULL }, NULL, NULL },
};
/* clang-format on */

static void test_rule_case(gconstpointer data)
{
    const RuleCase *tc = data;
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autofree char *messages = NULL;
    g_autofree char *hints = NULL;
    ItsmigVerdictSeverity sev = ITSMIG_VERDICT_OFF;

    tc->setup(f);
    v = run(f);
    assert_well_formed(v);
    messages = rule_text(v, tc->rule, FALSE, &sev);
    hints = rule_text(v, tc->rule, TRUE, &sev);

    if (tc->severity == ITSMIG_VERDICT_OFF) {
        if (messages)
            g_error("%s reported: %s", itsmig_rule_to_string(tc->rule), messages);
        g_assert_false(itsmig_verdict_has(v, tc->rule));
        return;
    }
    if (!messages)
        g_error("%s not reported", itsmig_rule_to_string(tc->rule));
    g_assert_true(itsmig_verdict_has(v, tc->rule));
    g_assert_cmpstr(itsmig_verdict_severity_to_string(sev), ==,
                    itsmig_verdict_severity_to_string(tc->severity));
    for (guint i = 0; i < G_N_ELEMENTS(tc->has) && tc->has[i]; i++)
        assert_contains(messages, tc->has[i], "message");
    if (tc->lacks && strstr(messages, tc->lacks))
        g_error("message '%s' contains '%s'", messages, tc->lacks);
    if (tc->hint_has)
        assert_contains(hints, tc->hint_has, "hint");
}

/* ---- the verdict as a whole ------------------------------------------------ */

static void test_baseline(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = run(f);

    assert_well_formed(v);
    if (v->blockers->len || v->warnings->len) {
        g_autofree char *blockers = itsmig_verdict_blockers_line(v);

        for (guint i = 0; i < v->warnings->len; i++) {
            const ItsmigVerdictItem *item = g_ptr_array_index(v->warnings, i);

            g_test_message("warning %s: %s", itsmig_rule_to_string(item->rule), item->message);
        }
        g_error("baseline reported %u blockers (%s) and %u warnings", v->blockers->len, blockers,
                v->warnings->len);
    }
    g_assert_true(v->allowed);
    g_assert_cmpint(v->its_abi_revision, ==, 0);
    g_assert_cmpstr(v->its_abi_revision_origin, ==, "metadata");
    g_assert_false(v->direct_injection);
}

static void test_revision_origin(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) from_meta = NULL;
    g_autoptr(ItsmigVerdict) from_host = NULL;
    g_autoptr(ItsmigVerdict) unknown = NULL;

    f->d->metadata.its_abi_revision = 1;
    f->t->its_abi_revisions = 0x3;
    from_meta = run(f);
    g_assert_cmpint(from_meta->its_abi_revision, ==, 1);
    g_assert_cmpstr(from_meta->its_abi_revision_origin, ==, "metadata");

    setup_no_metadata(f);
    from_host = run(f);
    g_assert_cmpint(from_host->its_abi_revision, ==, 0);
    g_assert_cmpstr(from_host->its_abi_revision_origin, ==, "host-default");

    UNSET(f->s, DEFAULT_ITS_ABI_REVISION);
    unknown = run(f);
    g_assert_cmpint(unknown->its_abi_revision, ==, -1);
    g_assert_cmpstr(unknown->its_abi_revision_origin, ==, "unknown");
}

static void test_direct_injection(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) none = NULL;
    g_autoptr(ItsmigVerdict) v41 = NULL;
    g_autoptr(ItsmigVerdict) v40 = NULL;
    g_autoptr(ItsmigVerdict) not_vfio = NULL;

    add_hostdev(f, "0000:01:00.0", NULL, "mlx5_vfio_pci", 1);
    none = run(f);
    g_assert_false(none->direct_injection);

    f->s->gicv4 = ITSMIG_GICV4_1;
    v41 = run(f);
    g_assert_true(v41->direct_injection);
    g_assert_true(v41->allowed);

    f->s->gicv4 = ITSMIG_GICV4_0;
    v40 = run(f);
    g_assert_true(v40->direct_injection);

    g_free(((ItsmigHostdev *)g_ptr_array_index(f->d->hostdevs, 0))->driver);
    ((ItsmigHostdev *)g_ptr_array_index(f->d->hostdevs, 0))->driver = g_strdup("xen");
    not_vfio = run(f);
    g_assert_false(not_vfio->direct_injection);
}

static const char *const *codes_of(const GPtrArray *items)
{
    const char **codes = g_new0(const char *, items->len + 1);

    for (guint i = 0; i < items->len; i++)
        codes[i] = itsmig_rule_to_string(((ItsmigVerdictItem *)g_ptr_array_index(items, i))->rule);
    return codes;
}

static void test_several_blockers(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autofree const char **codes = NULL;
    g_autofree char *line = NULL;
    const char *const expected[] = {"arch-mismatch", "gic-version-mismatch", "its-save-unsupported",
                                    NULL};

    setup_source_no_save(f);
    setup_dest_x86(f);
    SET(f->t, VGIC_ITS, vgic_its, FALSE);
    setup_dest_64k(f);
    v = run(f);
    assert_well_formed(v);
    g_assert_false(v->allowed);
    codes = (const char **)codes_of(v->blockers);
    g_assert_cmpstrv(codes, expected);
    g_assert_true(itsmig_verdict_has(v, ITSMIG_RULE_PAGE_SIZE_MISMATCH));
    g_assert_cmpuint(v->warnings->len, ==, 1);

    line = itsmig_verdict_blockers_line(v);
    g_assert_true(g_str_has_prefix(line, "arch-mismatch: vm1 "));
    assert_contains(line, "; gic-version-mismatch: hostB ", "blockers line");
    assert_contains(line, "; its-save-unsupported: hostA", "blockers line");
    g_assert_null(strstr(line, "page-size-mismatch"));
}

static void test_blockers_line_empty(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = run(f);
    g_autofree char *line = itsmig_verdict_blockers_line(v);

    g_assert_cmpstr(line, ==, "");
}

/* The metadata's host record stands in for a source not given. */
static void test_source_from_metadata(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autoptr(ItsmigVerdict) nameless = NULL;
    g_autofree char *save = NULL;
    g_autofree char *gicv4 = NULL;
    ItsmigVerdictSeverity sev;

    f->no_source = TRUE;
    /* The source caps would say otherwise: they must not be used. */
    f->s->save_tables = TRUE;
    f->d->metadata.host_save_tables = 0;
    f->d->metadata.host_gicv4 = ITSMIG_GICV4_0;
    add_hostdev(f, "0000:01:00.0", NULL, "mlx5_vfio_pci", 1);
    f->policy.quiesce = FALSE;
    v = run(f);
    assert_well_formed(v);

    save = rule_text(v, ITSMIG_RULE_ITS_SAVE_UNSUPPORTED, FALSE, &sev);
    g_assert_nonnull(save);
    assert_contains(save, "hostA", "message");
    gicv4 = rule_text(v, ITSMIG_RULE_GICV4_DIRECT_INJECTION, FALSE, &sev);
    g_assert_nonnull(gicv4);
    assert_contains(gicv4, "0000:01:00.0", "message");
    g_assert_true(v->direct_injection);
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_SOURCE_UNKNOWN));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_HOST_CAPS_CONFLICT));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_HOST_CAPS_UNKNOWN));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_PAGE_SIZE_MISMATCH));
    g_assert_cmpstr(v->its_abi_revision_origin, ==, "metadata");

    /* A record without the hostname still stands in, under a generic name. */
    g_clear_pointer(&f->d->metadata.host, g_free);
    nameless = run(f);
    g_clear_pointer(&save, g_free);
    save = rule_text(nameless, ITSMIG_RULE_ITS_SAVE_UNSUPPORTED, FALSE, &sev);
    g_assert_nonnull(save);
    assert_contains(save, "the source host", "message");
    g_assert_false(itsmig_verdict_has(nameless, ITSMIG_RULE_SOURCE_UNKNOWN));
}

static void test_source_unknown_skips(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;

    setup_no_source_no_metadata(f);
    /* Everything the source rules would catch, on caps the check is not given. */
    setup_source_no_save(f);
    setup_source_no_pending(f);
    setup_dest_64k(f);
    v = run(f);
    assert_well_formed(v);
    g_assert_true(itsmig_verdict_has(v, ITSMIG_RULE_SOURCE_UNKNOWN));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_ITS_SAVE_UNSUPPORTED));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_NO_PENDING_TABLE_SAVE));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_PAGE_SIZE_MISMATCH));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_HOST_CAPS_UNKNOWN));
    g_assert_true(v->allowed);
}

static void test_one_item_per_host(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    guint n = 0;

    setup_dest_unknown(f);
    setup_source_save_unknown(f);
    v = run(f);
    for (guint i = 0; i < v->blockers->len; i++) {
        const ItsmigVerdictItem *item = g_ptr_array_index(v->blockers, i);

        if (item->rule == ITSMIG_RULE_HOST_CAPS_UNKNOWN)
            n++;
    }
    g_assert_cmpuint(n, ==, 2);
}

/* ---- policy ---------------------------------------------------------------- */

static void test_policy_defaults(void)
{
    ItsmigCompatPolicy p;

    memset(&p, 0xa5, sizeof(p));
    itsmig_compat_policy_init(&p);
    g_assert_true(p.quiesce);
    g_assert_cmpuint(p.early_boot_window, ==, 300);
    g_assert_false(p.check_emulated);
    for (guint i = 0; i < ITSMIG_RULE_LAST; i++) {
        ItsmigVerdictSeverity expected = i <= ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED
                                             ? ITSMIG_VERDICT_BLOCKER
                                             : ITSMIG_VERDICT_WARNING;

        g_assert_cmpint(p.severity[i], ==, expected);
        g_assert_cmpint(itsmig_rule_default_severity(i), ==, expected);
    }
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_ARCH_MISMATCH));
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_GIC_VERSION_MISMATCH));
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_ITS_ABI_UNSUPPORTED));
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED));
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_ITS_SAVE_UNSUPPORTED));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_HOST_CAPS_UNKNOWN));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_GICV4_DIRECT_INJECTION));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_PAGE_SIZE_MISMATCH));
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_VCPU_REGISTERS_MISSING));
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED));
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER));
    g_assert_false(itsmig_rule_is_fixed(ITSMIG_RULE_LAST));
}

static void test_policy_raise(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) before = NULL;
    g_autoptr(ItsmigVerdict) after = NULL;
    g_autoptr(GError) error = NULL;

    setup_dest_64k(f);
    before = run(f);
    g_assert_true(before->allowed);
    g_assert_true(itsmig_compat_policy_set(&f->policy, "page-size-mismatch", "blocker", &error));
    g_assert_no_error(error);
    after = run(f);
    assert_well_formed(after);
    g_assert_false(after->allowed);
    g_assert_cmpuint(after->blockers->len, ==, 1);
    g_assert_cmpint(((ItsmigVerdictItem *)g_ptr_array_index(after->blockers, 0))->rule, ==,
                    ITSMIG_RULE_PAGE_SIZE_MISMATCH);
    g_assert_cmpuint(after->warnings->len, ==, 0);
}

static void test_policy_lower(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) before = NULL;
    g_autoptr(ItsmigVerdict) after = NULL;
    g_autoptr(GError) error = NULL;
    const ItsmigVerdictItem *item;

    setup_hostdevs_mixed(f);
    before = run(f);
    g_assert_false(before->allowed);
    g_assert_true(
        itsmig_compat_policy_set(&f->policy, "hostdev-not-migratable", "warning", &error));
    g_assert_no_error(error);
    after = run(f);
    assert_well_formed(after);
    g_assert_true(after->allowed);
    g_assert_cmpuint(after->warnings->len, ==, 1);
    item = g_ptr_array_index(after->warnings, 0);
    g_assert_cmpint(item->rule, ==, ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE);
    g_assert_cmpint(item->severity, ==, ITSMIG_VERDICT_WARNING);
}

static void test_policy_off(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) before = NULL;
    g_autoptr(ItsmigVerdict) after = NULL;
    g_autoptr(GError) error = NULL;

    setup_dest_64k(f);
    setup_hostdevs_mixed(f);
    before = run(f);
    g_assert_true(itsmig_verdict_has(before, ITSMIG_RULE_PAGE_SIZE_MISMATCH));
    g_assert_true(itsmig_compat_policy_set(&f->policy, "page-size-mismatch", "off", &error));
    g_assert_true(itsmig_compat_policy_set(&f->policy, "hostdev-not-migratable", "off", &error));
    g_assert_no_error(error);
    after = run(f);
    assert_well_formed(after);
    g_assert_false(itsmig_verdict_has(after, ITSMIG_RULE_PAGE_SIZE_MISMATCH));
    g_assert_false(itsmig_verdict_has(after, ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE));
    g_assert_true(after->allowed);
    g_assert_cmpuint(after->warnings->len, ==, 0);
}

static void test_policy_refuses_fixed(void)
{
    static const char *const lower[] = {"warning", "off"};
    ItsmigCompatPolicy p;

    itsmig_compat_policy_init(&p);
    for (guint r = 0; r < ITSMIG_RULE_LAST; r++) {
        const char *code = itsmig_rule_to_string(r);

        if (!itsmig_rule_is_fixed(r))
            continue;
        for (guint i = 0; i < G_N_ELEMENTS(lower); i++) {
            g_autoptr(GError) error = NULL;

            g_assert_false(itsmig_compat_policy_set(&p, code, lower[i], &error));
            g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
            assert_contains(error->message, code, "error");
            assert_contains(error->message, lower[i], "error");
            assert_contains(error->message, "blocker", "error");
            g_assert_cmpint(p.severity[r], ==, ITSMIG_VERDICT_BLOCKER);
        }
        g_assert_true(itsmig_compat_policy_set(&p, code, "blocker", NULL));
    }
}

static void test_policy_refuses_unknown(void)
{
    ItsmigCompatPolicy p;
    ItsmigCompatPolicy before;
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(GError) e3 = NULL;

    itsmig_compat_policy_init(&p);
    before = p;
    g_assert_false(itsmig_compat_policy_set(&p, "no-such-rule", "warning", &e1));
    g_assert_error(e1, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    assert_contains(e1->message, "'no-such-rule'", "error");
    assert_contains(e1->message, "page-size-mismatch", "error");

    g_assert_false(itsmig_compat_policy_set(&p, "page-size-mismatch", "fatal", &e2));
    g_assert_error(e2, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    assert_contains(e2->message, "'fatal'", "error");
    assert_contains(e2->message, "page-size-mismatch", "error");
    assert_contains(e2->message, "off, warning or blocker", "error");

    /* Words are exact, as in the config. */
    g_assert_false(itsmig_compat_policy_set(&p, "page-size-mismatch", "Blocker", &e3));
    g_assert_error(e3, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    g_assert_cmpmem(&p, sizeof(p), &before, sizeof(before));
}

/* A policy filled by hand cannot lower a fixed rule either. */
static void test_policy_fixed_clamped(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autofree char *text = NULL;
    ItsmigVerdictSeverity sev = ITSMIG_VERDICT_OFF;

    setup_rev1(f);
    f->policy.severity[ITSMIG_RULE_ITS_ABI_UNSUPPORTED] = ITSMIG_VERDICT_OFF;
    v = run(f);
    text = rule_text(v, ITSMIG_RULE_ITS_ABI_UNSUPPORTED, FALSE, &sev);
    g_assert_nonnull(text);
    g_assert_cmpint(sev, ==, ITSMIG_VERDICT_BLOCKER);
    g_assert_false(v->allowed);
}

static void test_policy_null_is_default(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    ItsmigCompatInput in = {0};

    setup_hostdevs_mixed(f); /* blocks without quiesce; the default quiesces */
    in.domain = f->d;
    in.source = f->s;
    in.destination = f->t;
    in.now = NOW;
    v = itsmig_compat_check(&in, NULL);
    g_assert_true(v->allowed);
    g_assert_true(itsmig_verdict_has(v, ITSMIG_RULE_HOSTDEV_QUIESCED));
}

/* ---- codes, the manual, JSON ----------------------------------------------- */

static void test_codes_round_trip(void)
{
    const char *top = g_getenv("top_srcdir");
    g_autofree char *path = NULL;
    g_autofree char *man = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) parts = NULL;
    g_autofree char *plain = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint r = 0; r < ITSMIG_RULE_LAST; r++) {
        const char *code = itsmig_rule_to_string(r);
        ItsmigRule back = ITSMIG_RULE_LAST;

        g_assert_nonnull(code);
        g_assert_true(itsmig_rule_from_string(code, &back));
        g_assert_cmpint(back, ==, r);
        g_assert_false(g_hash_table_contains(seen, code));
        g_hash_table_add(seen, (gpointer)code);
    }
    g_assert_null(itsmig_rule_to_string(ITSMIG_RULE_LAST));
    g_assert_false(itsmig_rule_from_string("ITS-ABI-UNSUPPORTED", NULL));
    g_assert_false(itsmig_rule_from_string("", NULL));
    g_assert_false(itsmig_rule_from_string(NULL, NULL));

    for (guint s = 0; s < ITSMIG_VERDICT_SEVERITY_LAST; s++) {
        ItsmigVerdictSeverity back = ITSMIG_VERDICT_SEVERITY_LAST;

        g_assert_true(
            itsmig_verdict_severity_from_string(itsmig_verdict_severity_to_string(s), &back));
        g_assert_cmpint(back, ==, s);
    }
    g_assert_null(itsmig_verdict_severity_to_string(ITSMIG_VERDICT_SEVERITY_LAST));
    g_assert_false(itsmig_verdict_severity_from_string("fatal", NULL));

    /* Every code has its entry in itsmig-compat(7): a ".B code" line after ".TP". */
    if (top)
        path = g_build_filename(top, "man", "itsmig-compat.7", NULL);
    else
        path = g_test_build_filename(G_TEST_DIST, "..", "man", "itsmig-compat.7", NULL);
    g_assert_true(g_file_get_contents(path, &man, NULL, &error));
    g_assert_no_error(error);
    parts = g_strsplit(man, "\\-", -1);
    plain = g_strjoinv("-", parts);
    for (guint r = 0; r < ITSMIG_RULE_LAST; r++) {
        g_autofree char *entry = g_strdup_printf(".TP\n.B %s\n", itsmig_rule_to_string(r));

        if (!strstr(plain, entry))
            g_error("%s has no entry for %s", path, itsmig_rule_to_string(r));
    }
}

static JsonObject *verdict_json(const ItsmigVerdict *v, JsonNode **ret_root)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(JsonNode) built = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;

    json_builder_begin_object(b);
    itsmig_verdict_to_json_members(v, b);
    json_builder_end_object(b);
    built = json_builder_get_root(b);
    json_generator_set_root(gen, built);
    text = json_generator_to_data(gen, NULL);
    /* Through text and back, as a client sees it. */
    g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
    g_assert_no_error(error);
    *ret_root = json_node_copy(json_parser_get_root(parser));
    return json_node_get_object(*ret_root);
}

static void assert_items_json(JsonObject *o, const char *member, const GPtrArray *items)
{
    JsonNode *node = json_object_get_member(o, member);
    JsonArray *a;

    g_assert_nonnull(node);
    g_assert_true(JSON_NODE_HOLDS_ARRAY(node));
    a = json_node_get_array(node);
    g_assert_cmpuint(json_array_get_length(a), ==, items->len);
    for (guint i = 0; i < items->len; i++) {
        const ItsmigVerdictItem *item = g_ptr_array_index(items, i);
        JsonObject *e = json_array_get_object_element(a, i);

        g_assert_nonnull(e);
        g_assert_cmpuint(json_object_get_size(e), ==, 3);
        g_assert_cmpstr(json_object_get_string_member(e, "code"), ==,
                        itsmig_rule_to_string(item->rule));
        g_assert_cmpstr(json_object_get_string_member(e, "message"), ==, item->message);
        g_assert_cmpstr(json_object_get_string_member(e, "hint"), ==, item->hint);
    }
}

static void test_json_shape(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autoptr(ItsmigVerdict) unknown = NULL;
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(JsonNode) root2 = NULL;
    JsonObject *o;

    setup_source_no_save(f);
    setup_dest_64k(f);
    setup_gicv4_1_vfio(f);
    v = run(f);
    g_assert_cmpuint(v->blockers->len, >=, 1);
    g_assert_cmpuint(v->warnings->len, >=, 1);
    o = verdict_json(v, &root);
    g_assert_cmpuint(json_object_get_size(o), ==, 6);
    g_assert_true(JSON_NODE_HOLDS_VALUE(json_object_get_member(o, "allowed")));
    g_assert_cmpint(json_node_get_value_type(json_object_get_member(o, "allowed")), ==,
                    G_TYPE_BOOLEAN);
    g_assert_false(json_object_get_boolean_member(o, "allowed"));
    g_assert_cmpint(json_node_get_value_type(json_object_get_member(o, "its_abi_revision")), ==,
                    G_TYPE_INT64);
    g_assert_cmpint(json_object_get_int_member(o, "its_abi_revision"), ==, 0);
    g_assert_cmpstr(json_object_get_string_member(o, "its_abi_revision_origin"), ==, "metadata");
    g_assert_true(json_object_get_boolean_member(o, "direct_injection"));
    assert_items_json(o, "blockers", v->blockers);
    assert_items_json(o, "warnings", v->warnings);

    setup_no_source_no_metadata(f);
    unknown = run(f);
    o = verdict_json(unknown, &root2);
    g_assert_true(json_object_get_null_member(o, "its_abi_revision"));
    g_assert_cmpstr(json_object_get_string_member(o, "its_abi_revision_origin"), ==, "unknown");
    g_assert_true(json_object_get_boolean_member(o, "allowed"));
    assert_items_json(o, "blockers", unknown->blockers);
    assert_items_json(o, "warnings", unknown->warnings);
}

/* Names from XML, config or peers cannot break a message over lines. */
static void test_one_line(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;

    g_free(f->d->name);
    f->d->name = g_strdup("vm\nrogue");
    setup_metadata_unreadable(f);
    g_free(f->d->metadata_error);
    f->d->metadata_error = g_strdup("line 3:\nbad");
    v = run(f);
    assert_well_formed(v);
    g_assert_true(itsmig_verdict_has(v, ITSMIG_RULE_PROFILE_FALLBACK));
}

/* ---- the vCPU register set ------------------------------------------------- */

/* The messages of @rule, or "" when it is not reported. */
static char *text_of(const ItsmigVerdict *v, ItsmigRule rule)
{
    ItsmigVerdictSeverity sev;
    char *t = rule_text(v, rule, FALSE, &sev);

    return t ? t : g_strdup("");
}

static void test_regs_missing(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autofree char *msg = NULL;
    ItsmigVerdictSeverity sev;

    regs_remove(f->t, TCR_EL1);
    regs_remove(f->t, STD_BMAP);
    v = run(f);
    assert_well_formed(v);
    g_assert_false(v->allowed);
    msg = rule_text(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING, FALSE, &sev);
    g_assert_nonnull(msg);
    g_assert_cmpint(sev, ==, ITSMIG_VERDICT_BLOCKER);
    assert_contains(msg, "hostB's KVM lacks 2 of the 8 vCPU registers hostA's QEMU", "message");
    assert_contains(msg, "TCR_EL1, KVM_REG_ARM_STD_BMAP", "message");
    /* 8 sent, 6 there: the incoming count is what QEMU checks first. */
    assert_contains(msg, "failed to load cpu:cpreg_vmstate_array_len", "message");
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_VCPU_REGISTERS_MISSING));
}

/* Registers that QEMU moves outside its cpreg list are not the cpreg check's. */
static void test_regs_missing_core_sve_ignored(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;

    regs_remove(f->t, SVE_Z0);
    regs_remove(f->t, CORE_X0);
    v = run(f);
    assert_well_formed(v);
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
}

/* Same count on both sides: QEMU gets past the length and fails in cpu_post_load. */
static void test_regs_missing_same_count(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autofree char *msg = NULL;

    regs_remove(f->t, TCR_EL1);
    regs_add(f->t, TCR2_EL1, 0);
    v = run(f);
    msg = text_of(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING);
    assert_contains(msg, "lacks 1 of the 8", "message");
    assert_contains(msg, "error while loading state for instance 0x0 of device 'cpu'", "message");
    /* A move that cannot happen is not called one-way. */
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_ONE_WAY_MOVE));
}

/* The guest's XML turns the PMU off: the PMU registers are not sent. */
static void test_regs_missing_feature_off(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) on = NULL;
    g_autoptr(ItsmigVerdict) off = NULL;
    g_autofree char *hint = NULL;
    ItsmigVerdictSeverity sev;

    regs_remove(f->t, PMCR_EL0);
    regs_remove(f->t, PMEVCNTR0_EL0);
    on = run(f);
    g_assert_true(itsmig_verdict_has(on, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
    hint = rule_text(on, ITSMIG_RULE_VCPU_REGISTERS_MISSING, TRUE, &sev);
    assert_contains(hint, "(pmu)", "hint");

    f->d->vcpu_features_off = ITSMIG_VCPU_FEATURE_PMU_V3;
    off = run(f);
    assert_well_formed(off);
    g_assert_true(off->allowed);
    g_assert_false(itsmig_verdict_has(off, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
}

/* Surplus registers on the destination are tolerated (cpu_post_load skips
 * them), but the guest could not come back. */
static void test_regs_surplus_one_way(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autofree char *msg = NULL;

    regs_add(f->t, TCR2_EL1, 0);
    v = run(f);
    assert_well_formed(v);
    g_assert_true(v->allowed);
    msg = text_of(v, ITSMIG_RULE_ONE_WAY_MOVE);
    assert_contains(msg, "could not come back to hostA", "message");
    assert_contains(msg, "TCR2_EL1", "message");
}

static void test_regs_value_invariant(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    g_autofree char *msg = NULL;

    regs_value(f->t, MIDR_EL1, 0x410fd4f1);
    v = run(f);
    assert_well_formed(v);
    g_assert_false(v->allowed);
    msg = text_of(v, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED);
    assert_contains(msg, "MIDR_EL1 = 0x410fd0c1 (there 0x410fd4f1)", "message");
    assert_contains(msg, "takes no other value", "message");
    g_assert_true(itsmig_rule_is_fixed(ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED));
}

static void test_regs_value_writable(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) lower = NULL;
    g_autoptr(ItsmigVerdict) higher = NULL;
    g_autoptr(ItsmigVerdict) outside = NULL;
    g_autofree char *msg = NULL;

    /* The source's AES field (bits 7:4) is 2, the destination's 1 with the
     * field writable: the source's value is above what the destination offers. */
    regs_value(f->t, ID_AA64ISAR0, 0x0000100010211110ull);
    regs_writable(f->t, ID_AA64ISAR0, 0xf0);
    higher = run(f);
    g_assert_true(itsmig_verdict_has(higher, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED));

    /* Source lower than the destination inside the mask: KVM takes it. */
    regs_value(f->t, ID_AA64ISAR0, 0x0000100010211130ull);
    lower = run(f);
    g_assert_false(itsmig_verdict_has(lower, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED));

    /* A difference outside the mask is refused whichever way it goes. */
    regs_value(f->t, ID_AA64ISAR0, 0x0000100010211220ull);
    outside = run(f);
    msg = text_of(outside, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED);
    assert_contains(msg, "outside the destination's writable mask", "message");
}

static void test_regs_value_firmware(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) fewer = NULL;
    g_autoptr(ItsmigVerdict) more = NULL;
    g_autofree char *msg = NULL;

    /* The source offers fewer services than the destination: fine. */
    regs_value(f->t, STD_BMAP, 0x3);
    fewer = run(f);
    g_assert_false(itsmig_verdict_has(fewer, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED));
    /* A service the destination lacks, and a PSCI version above its own. */
    regs_value(f->t, STD_BMAP, 0x0);
    regs_value(f->t, PSCI_VERSION, 0x10000);
    more = run(f);
    msg = text_of(more, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED);
    assert_contains(msg, "refuses 2 ID or firmware register values", "message");
}

static void test_regs_unknown_destination(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;
    ItsmigVerdictSeverity sev;
    g_autofree char *msg = NULL;

    itsmig_kvm_regs_clear(&f->t->regs);
    g_clear_pointer(&f->t->regs_digest, g_free);
    g_strlcpy(f->t->regs.unavailable_reason,
              "hostB's itsmig predates the register set in its document (minor version 0)",
              sizeof(f->t->regs.unavailable_reason));
    v = run(f);
    assert_well_formed(v);
    g_assert_true(v->allowed);
    msg = rule_text(v, ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN, FALSE, &sev);
    g_assert_nonnull(msg);
    g_assert_cmpint(sev, ==, ITSMIG_VERDICT_WARNING);
    assert_contains(msg, "hostB's vCPU register set is unknown (hostB's itsmig predates",
                    "message");
}

/* The hook: no source, the record's digest names the set among the known hosts. */
static void test_regs_from_metadata_digest(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) found = NULL;
    g_autoptr(ItsmigVerdict) lost = NULL;
    g_autofree char *msg = NULL;

    f->no_source = TRUE;
    regs_remove(f->t, TCR_EL1);
    add_known(f, itsmig_host_caps_copy(f->s));
    add_known(f, itsmig_host_caps_copy(f->t));
    found = run(f);
    assert_well_formed(found);
    msg = text_of(found, ITSMIG_RULE_VCPU_REGISTERS_MISSING);
    assert_contains(msg, "the set vm1's record names, as hostA has it", "message");
    assert_contains(msg, "TCR_EL1", "message");

    /* No known host has the recorded set: said so, not silence. */
    g_ptr_array_set_size(f->known, 0);
    add_known(f, itsmig_host_caps_copy(f->t));
    lost = run(f);
    assert_well_formed(lost);
    g_assert_false(itsmig_verdict_has(lost, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
    g_free(msg);
    msg = text_of(lost, ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN);
    assert_contains(msg, "which no known host has", "message");
    assert_contains(msg, f->d->metadata.host_regs_digest, "message");
}

static void test_regs_tcg_skipped(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) v = NULL;

    regs_remove(f->t, TCR_EL1);
    g_free(f->d->type);
    f->d->type = g_strdup("qemu");
    v = run(f);
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN));
    /* check-emulated judges it as if KVM ran it. */
    f->policy.check_emulated = TRUE;
    itsmig_verdict_free(v);
    v = run(f);
    g_assert_true(itsmig_verdict_has(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
}

static void test_its_save_semantics_differ(void)
{
    g_autoptr(Fixture) f = fixture_new();
    g_autoptr(ItsmigVerdict) same = NULL;
    g_autoptr(ItsmigVerdict) differ = NULL;
    g_autofree char *msg = NULL;
    ItsmigVerdictSeverity sev;

    f->s->its_semantics.source = f->t->its_semantics.source = ITSMIG_CAP_PROBED;
    f->s->its_semantics.facts.measured = f->t->its_semantics.facts.measured = TRUE;
    f->s->its_semantics.facts.save_unreachable_device_errno = 22;
    f->t->its_semantics.facts.save_unreachable_device_errno = 22;
    f->s->its_semantics.facts.baser_write_keeps_mappings = TRUE;
    f->t->its_semantics.facts.baser_write_keeps_mappings = TRUE;
    same = run(f);
    g_assert_false(itsmig_verdict_has(same, ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER));

    f->t->its_semantics.facts.save_unreachable_device_errno = 0;
    f->t->its_semantics.facts.baser_write_keeps_mappings = FALSE;
    differ = run(f);
    assert_well_formed(differ);
    g_assert_true(differ->allowed);
    msg = rule_text(differ, ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER, FALSE, &sev);
    g_assert_nonnull(msg);
    g_assert_cmpint(sev, ==, ITSMIG_VERDICT_WARNING);
    assert_contains(msg, "fails with Invalid argument on hostA but succeeds on hostB", "message");
    assert_contains(msg, "keeps the mappings on hostA but drops them on hostB", "message");
}

/* ---- the register sets of Debian's kernels (tests/data/probe) -------------- */

/* The vITS facts as the probe's JSON gives them ("semantics"): the save with
 * an unreachable device "fails" with an errno name or "skips" it. */
static void suite_semantics(ItsmigHostCaps *caps, JsonObject *sem)
{
    JsonObject *save = json_object_get_object_member(sem, "save_unreachable_device");
    JsonObject *baser = json_object_get_object_member(sem, "baser_write");
    const char *outcome = json_object_get_string_member(save, "outcome");

    g_assert_true(json_object_get_boolean_member(sem, "measured"));
    caps->its_semantics.source = ITSMIG_CAP_PROBED;
    caps->its_semantics.facts.measured = TRUE;
    if (strcmp(outcome, "fails") == 0) {
        /* The one errno the kernels of the data give. */
        g_assert_cmpstr(json_object_get_string_member(save, "errno"), ==, "EINVAL");
        caps->its_semantics.facts.save_unreachable_device_errno = 22;
    } else {
        g_assert_cmpstr(outcome, ==, "skips");
    }
    caps->its_semantics.facts.baser_write_keeps_mappings =
        json_object_get_boolean_member(baser, "keeps_mappings");
}

/* A host as full_caps() makes it, with the register set the probe read on
 * @suite's kernel (tests/data/probe/@suite.json, from the real-kernel bed). */
static ItsmigHostCaps *suite_caps(const char *suite)
{
    g_autofree char *path = NULL;
    g_autoptr(GError) error = NULL;
    JsonObject *root;
    g_autoptr(JsonParser) parser = probe_data_load(suite, &root, &path);
    ItsmigHostCaps *caps = full_caps(suite);
    ItsmigKvmRegSet set;

    g_assert_true(itsmig_kvm_regs_from_json(json_object_get_member(root, "vcpu_registers"), path,
                                            &set, &error));
    g_assert_no_error(error);
    itsmig_host_caps_set_regs(caps, &set);
    itsmig_kvm_regs_clear(&set);
    g_assert_nonnull(caps->regs_digest);
    suite_semantics(caps, json_object_get_object_member(root, "semantics"));
    return caps;
}

/* vm1 moving from @from to @to (Debian suites), with the PMU off if @pmu_off. */
static ItsmigVerdict *suite_move(const char *from, const char *to, gboolean pmu_off)
{
    g_autoptr(Fixture) f = fixture_new();

    itsmig_host_caps_free(f->s);
    itsmig_host_caps_free(f->t);
    f->s = suite_caps(from);
    f->t = suite_caps(to);
    g_free(f->d->metadata.host_regs_digest);
    f->d->metadata.host_regs_digest = g_strdup(f->s->regs_digest);
    if (pmu_off)
        f->d->vcpu_features_off = ITSMIG_VCPU_FEATURE_PMU_V3;
    return run(f);
}

static void test_debian_same_kernel(void)
{
    static const char *const suites[] = {"bookworm", "trixie", "trixie-backports"};

    for (guint i = 0; i < G_N_ELEMENTS(suites); i++) {
        g_autoptr(ItsmigVerdict) v = suite_move(suites[i], suites[i], FALSE);

        assert_well_formed(v);
        g_assert_true(v->allowed);
        g_assert_cmpuint(v->warnings->len, ==, 0);
    }
}

/* 6.13 stopped listing TCR2_EL1, PIRE0_EL1 and PIR_EL1 on CPUs without
 * them (the forward failure the 2026 QEMU series cites). */
static void test_debian_trixie_to_backports(void)
{
    g_autoptr(ItsmigVerdict) v = suite_move("trixie", "trixie-backports", FALSE);
    g_autofree char *msg = text_of(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING);

    assert_well_formed(v);
    g_assert_false(v->allowed);
    assert_contains(msg, "trixie-backports's KVM lacks 3 of the", "message");
    assert_contains(msg, "TCR2_EL1, PIRE0_EL1, PIR_EL1", "message");
    /* 269 sent, 268 there: the length check fails first. */
    assert_contains(msg, "lacks 3 of the 269 vCPU registers", "message");
    assert_contains(msg, "failed to load cpu:cpreg_vmstate_array_len", "message");
}

/* 6.16 added KVM_REG_ARM_VENDOR_HYP_BMAP_2 unconditionally (the backward
 * failure the series cites); the other missing register needs the PMU. */
static void test_debian_backports_to_trixie(void)
{
    g_autoptr(ItsmigVerdict) v = suite_move("trixie-backports", "trixie", FALSE);
    g_autoptr(ItsmigVerdict) pmu_off = suite_move("trixie-backports", "trixie", TRUE);
    g_autofree char *msg = text_of(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING);
    g_autofree char *msg_off = text_of(pmu_off, ITSMIG_RULE_VCPU_REGISTERS_MISSING);

    assert_well_formed(v);
    g_assert_false(v->allowed);
    assert_contains(msg, "trixie's KVM lacks 2 of the", "message");
    assert_contains(msg, "KVM_REG_ARM_VENDOR_HYP_BMAP_2", "message");
    g_assert_false(pmu_off->allowed);
    assert_contains(msg_off, "trixie's KVM lacks 1 of the", "message");
    assert_contains(msg_off, "KVM_REG_ARM_VENDOR_HYP_BMAP_2", "message");
}

/* 6.1 lacks the CCSIDR demux registers and more of the newer kernels'. */
static void test_debian_to_bookworm(void)
{
    g_autoptr(ItsmigVerdict) from_trixie = suite_move("trixie", "bookworm", FALSE);
    g_autoptr(ItsmigVerdict) from_backports = suite_move("trixie-backports", "bookworm", FALSE);
    g_autofree char *a = text_of(from_trixie, ITSMIG_RULE_VCPU_REGISTERS_MISSING);
    g_autofree char *b = text_of(from_backports, ITSMIG_RULE_VCPU_REGISTERS_MISSING);

    assert_contains(a, "bookworm's KVM lacks 17 of the", "message");
    assert_contains(a, "CCSIDR_EL1[", "message");
    assert_contains(a, "and 12 more", "message");
    assert_contains(a, "failed to load cpu:cpreg_vmstate_array_len", "message");
    assert_contains(b, "bookworm's KVM lacks 16 of the", "message");
    /* 6.1 has no writable ID registers: a differing ID value is refused too. */
    g_assert_true(itsmig_verdict_has(from_trixie, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED));
}

/* The vITS of 6.1 fails a save with an unreachable device and keeps the
 * mappings over a GITS_BASER write; 6.12 and 7.3 skip the device and drop
 * them ("Skip unreachable devices", "Free the caches when GITS_BASER changes"). */
static void test_debian_its_semantics(void)
{
    g_autoptr(ItsmigVerdict) old_new = suite_move("bookworm", "trixie-backports", FALSE);
    g_autoptr(ItsmigVerdict) new_new = suite_move("trixie", "trixie-backports", FALSE);
    g_autofree char *msg = text_of(old_new, ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER);

    assert_contains(msg, "fails with Invalid argument on bookworm but succeeds on trixie-backports",
                    "message");
    assert_contains(msg, "keeps the mappings on bookworm but drops them on trixie-backports",
                    "message");
    g_assert_false(itsmig_verdict_has(new_new, ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER));
}

/* Every register 6.1 lists is on the newer kernels, but an ID register field
 * the newer KVM does not let userspace write differs: the load fails there. */
static void test_debian_from_bookworm(void)
{
    g_autoptr(ItsmigVerdict) v = suite_move("bookworm", "trixie", FALSE);
    g_autoptr(ItsmigVerdict) w = suite_move("bookworm", "trixie-backports", FALSE);
    g_autofree char *msg = text_of(v, ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED);

    assert_well_formed(v);
    g_assert_false(itsmig_verdict_has(v, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
    g_assert_false(itsmig_verdict_has(w, ITSMIG_RULE_VCPU_REGISTERS_MISSING));
    assert_contains(msg, "refuses 1 ID or firmware register value ", "message");
    assert_contains(msg, "ID_AA64MMFR1_EL1 = 0x1010211122 (there 0x11010211122)", "message");
    assert_contains(msg, "outside the destination's writable mask", "message");
}

/* 7.x lets userspace write that field (its mask covers it) and takes the
 * lower value: the move is allowed, but the guest could not come back. */
static void test_debian_bookworm_to_backports_one_way(void)
{
    g_autoptr(ItsmigVerdict) v = suite_move("bookworm", "trixie-backports", FALSE);
    g_autoptr(ItsmigVerdict) back = suite_move("trixie-backports", "bookworm", FALSE);
    g_autofree char *msg = text_of(v, ITSMIG_RULE_ONE_WAY_MOVE);

    assert_well_formed(v);
    g_assert_true(v->allowed);
    assert_contains(msg, "could not come back to bookworm", "message");
    assert_contains(msg, "16 of which bookworm's KVM lacks", "message");
    g_assert_false(back->allowed);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    for (gsize i = 0; i < G_N_ELEMENTS(rule_cases); i++)
        g_test_add_data_func(rule_cases[i].path, &rule_cases[i], test_rule_case);

    g_test_add_func("/compat/verdict/baseline-allowed", test_baseline);
    g_test_add_func("/compat/vcpu-registers-missing/fires", test_regs_missing);
    g_test_add_func("/compat/vcpu-registers-missing/core-sve-not-cpreg",
                    test_regs_missing_core_sve_ignored);
    g_test_add_func("/compat/vcpu-registers-missing/same-count", test_regs_missing_same_count);
    g_test_add_func("/compat/vcpu-registers-missing/guest-feature-off",
                    test_regs_missing_feature_off);
    g_test_add_func("/compat/vcpu-registers-missing/tcg", test_regs_tcg_skipped);
    g_test_add_func("/compat/vcpu-registers-missing/from-metadata-digest",
                    test_regs_from_metadata_digest);
    g_test_add_func("/compat/one-way-move/surplus-registers", test_regs_surplus_one_way);
    g_test_add_func("/compat/vcpu-register-value-unsupported/invariant", test_regs_value_invariant);
    g_test_add_func("/compat/vcpu-register-value-unsupported/writable-mask",
                    test_regs_value_writable);
    g_test_add_func("/compat/vcpu-register-value-unsupported/firmware", test_regs_value_firmware);
    g_test_add_func("/compat/vcpu-registers-unknown/destination", test_regs_unknown_destination);
    g_test_add_func("/compat/its-save-semantics-differ/fires", test_its_save_semantics_differ);
    g_test_add_func("/compat/debian/same-kernel-allowed", test_debian_same_kernel);
    g_test_add_func("/compat/debian/trixie-to-backports", test_debian_trixie_to_backports);
    g_test_add_func("/compat/debian/backports-to-trixie", test_debian_backports_to_trixie);
    g_test_add_func("/compat/debian/newer-to-bookworm", test_debian_to_bookworm);
    g_test_add_func("/compat/debian/bookworm-to-newer", test_debian_from_bookworm);
    g_test_add_func("/compat/debian/its-save-semantics", test_debian_its_semantics);
    g_test_add_func("/compat/debian/bookworm-to-backports-one-way",
                    test_debian_bookworm_to_backports_one_way);
    g_test_add_func("/compat/verdict/revision-origin", test_revision_origin);
    g_test_add_func("/compat/verdict/direct-injection", test_direct_injection);
    g_test_add_func("/compat/verdict/several-blockers-in-rule-order", test_several_blockers);
    g_test_add_func("/compat/verdict/blockers-line-empty", test_blockers_line_empty);
    g_test_add_func("/compat/verdict/one-item-per-host", test_one_item_per_host);
    g_test_add_func("/compat/verdict/messages-one-line", test_one_line);
    g_test_add_func("/compat/source/from-metadata", test_source_from_metadata);
    g_test_add_func("/compat/source/unknown-skips-source-rules", test_source_unknown_skips);
    g_test_add_func("/compat/policy/defaults", test_policy_defaults);
    g_test_add_func("/compat/policy/raise-warning-to-blocker", test_policy_raise);
    g_test_add_func("/compat/policy/lower-blocker-to-warning", test_policy_lower);
    g_test_add_func("/compat/policy/off-drops", test_policy_off);
    g_test_add_func("/compat/policy/refuses-lowering-fixed", test_policy_refuses_fixed);
    g_test_add_func("/compat/policy/refuses-unknown-words", test_policy_refuses_unknown);
    g_test_add_func("/compat/policy/fixed-stays-blocker", test_policy_fixed_clamped);
    g_test_add_func("/compat/policy/null-is-default", test_policy_null_is_default);
    g_test_add_func("/compat/codes/round-trip-and-documented", test_codes_round_trip);
    g_test_add_func("/compat/json/shape", test_json_shape);

    return g_test_run();
}
