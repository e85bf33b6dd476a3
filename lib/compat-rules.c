/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rules on the hosts, the ITS and the guest's devices, in the order of ItsmigRule. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "compat-private.h"
#include "itsmig/compat.h"

static void report_unknown(CompatCheck *c, const ItsmigHostCaps *caps, const char *role,
                           const ItsmigCapField *fields, gsize n_fields)
{
    g_autoptr(GString) names = g_string_new(NULL);
    g_autoptr(GString) keys = g_string_new(NULL);
    char *message;
    char *hint;

    for (gsize i = 0; i < n_fields; i++) {
        g_autofree char *key = NULL;

        if (compat_known(caps, fields[i]))
            continue;
        key = g_strdelimit(g_strdup(itsmig_cap_field_to_string(fields[i])), "_", '-');
        compat_list_append(names, itsmig_cap_field_to_string(fields[i]));
        compat_list_append(keys, key);
    }
    if (!names->len)
        return;

    if (caps == c->s && c->s_from_metadata) {
        message = g_strdup_printf("%s (source, per %s's metadata) does not record %s, which the "
                                  "ITS checks need",
                                  caps->hostname, c->guest, names->str);
        hint = g_strdup_printf("declare %s in itsmigd.conf [host] on %s or fix its KVM probe; "
                               "itsmigd rewrites %s's record at its next start, reset or arrival",
                               keys->str, caps->hostname, c->guest);
    } else {
        message = g_strdup_printf("%s (%s) has %s unknown, which the ITS checks for %s need",
                                  caps->hostname, role, names->str, c->guest);
        if (caps->probe_unavailable_reason)
            hint = g_strdup_printf("declare %s in itsmigd.conf [host] on %s, or fix its KVM "
                                   "probe (%s)",
                                   keys->str, caps->hostname, caps->probe_unavailable_reason);
        else
            hint = g_strdup_printf("declare %s in itsmigd.conf [host] on %s, or fix its KVM "
                                   "probe (itsmigctl host probe shows what it finds)",
                                   keys->str, caps->hostname);
    }
    compat_add(c, ITSMIG_RULE_HOST_CAPS_UNKNOWN, message, hint);
}

void compat_rule_host_caps_unknown(CompatCheck *c)
{
    static const ItsmigCapField t_fields[] = {ITSMIG_CAP_VGIC_ITS, ITSMIG_CAP_ITS_ABI_REVISIONS,
                                              ITSMIG_CAP_RESTORE_TABLES};
    static const ItsmigCapField s_fields[] = {ITSMIG_CAP_SAVE_TABLES};
    /* A destination known to lack a vITS is ruled out by gic-version-mismatch;
     * what else it cannot say does not matter then. */
    gsize n_t =
        compat_known(c->t, ITSMIG_CAP_VGIC_ITS) && !c->t->vgic_its ? 1 : G_N_ELEMENTS(t_fields);

    if (!c->kernel)
        return;
    report_unknown(c, c->t, "destination", t_fields, n_t);
    if (c->s)
        report_unknown(c, c->s, "source", s_fields, G_N_ELEMENTS(s_fields));
}

void compat_rule_arch_mismatch(CompatCheck *c)
{
    const ItsmigDomainProfile *d = c->d;

    if (!itsmig_domain_profile_its_in_kernel(d) || !d->arch ||
        !compat_known(c->t, ITSMIG_CAP_ARCH) || !c->t->arch || strcmp(d->arch, c->t->arch) == 0)
        return;
    compat_add(
        c, ITSMIG_RULE_ARCH_MISMATCH,
        g_strdup_printf("%s is a KVM guest of architecture %s but %s is %s: KVM runs only guests "
                        "of the host's architecture",
                        c->guest, d->arch, c->t->hostname, c->t->arch),
        g_strdup_printf("migrate %s to a host of architecture %s", c->guest, d->arch));
}

void compat_rule_gic_version_mismatch(CompatCheck *c)
{
    const ItsmigHostCaps *t = c->t;

    if (!c->kernel || !compat_known(t, ITSMIG_CAP_VGIC_ITS) || t->vgic_its)
        return;
    compat_add(
        c, ITSMIG_RULE_GIC_VERSION_MISMATCH,
        g_strdup_printf("%s cannot give %s a GICv3 with an ITS (vgic_its is false%s%s)",
                        t->hostname, c->guest, t->probe_unavailable_reason ? ": " : "",
                        t->probe_unavailable_reason ? t->probe_unavailable_reason : ""),
        g_strdup_printf("migrate %s to an arm64 host with a GICv3 whose KVM gives guests an ITS, "
                        "or correct vgic-its in %s's itsmigd.conf [host] if it is declared wrongly",
                        c->guest, t->hostname));
}

/* "from its metadata", "hostA's default, assumed for want of metadata". */
static char *rev_origin_text(const CompatCheck *c)
{
    if (strcmp(c->rev_origin, "metadata") == 0)
        return g_strdup("from its metadata");
    return g_strdup_printf("%s's default, assumed for want of metadata", c->s->hostname);
}

void compat_rule_its_abi_unsupported(CompatCheck *c)
{
    const ItsmigHostCaps *t = c->t;
    g_autofree char *origin = NULL;
    g_autofree char *supported = NULL;

    if (!c->kernel || c->rev < 0 || !compat_known(t, ITSMIG_CAP_ITS_ABI_REVISIONS) ||
        itsmig_host_caps_has_revision(t, (guint)c->rev))
        return;
    origin = rev_origin_text(c);
    supported = compat_revisions_text(t->its_abi_revisions);
    compat_add(
        c, ITSMIG_RULE_ITS_ABI_UNSUPPORTED,
        g_strdup_printf("%s's ITS table ABI revision %d (%s) is not supported by %s (supports %s): "
                        "the destination QEMU would abort restoring the ITS",
                        c->guest, c->rev, origin, t->hostname, supported),
        g_strdup_printf("restart %s on a host whose default revision %s supports (a cold start "
                        "takes the host's default), or upgrade %s's kernel to one that supports "
                        "revision %d",
                        c->guest, t->hostname, t->hostname, c->rev));
}

void compat_rule_its_restore_unsupported(CompatCheck *c)
{
    const ItsmigHostCaps *t = c->t;

    if (!c->kernel || !compat_known(t, ITSMIG_CAP_RESTORE_TABLES) || t->restore_tables)
        return;
    compat_add(
        c, ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED,
        g_strdup_printf("%s's kernel cannot restore ITS tables (no "
                        "KVM_DEV_ARM_ITS_RESTORE_TABLES): it cannot take over %s's ITS state",
                        t->hostname, c->guest),
        g_strdup_printf("migrate %s to a host whose kernel can restore ITS tables, or upgrade "
                        "%s's kernel",
                        c->guest, t->hostname));
}

void compat_rule_its_save_unsupported(CompatCheck *c)
{
    const ItsmigHostCaps *s = c->s;

    if (!c->kernel || !compat_known(s, ITSMIG_CAP_SAVE_TABLES) || s->save_tables)
        return;
    compat_add(
        c, ITSMIG_RULE_ITS_SAVE_UNSUPPORTED,
        g_strdup_printf("%s's kernel cannot save ITS tables (no KVM_DEV_ARM_ITS_SAVE_TABLES): "
                        "%s's ITS state cannot leave it",
                        s->hostname, c->guest),
        g_strdup_printf("upgrade %s's kernel and restart %s there; until then move it by shutting "
                        "it down and starting it on the other host",
                        s->hostname, c->guest));
}

void compat_rule_gicv4_direct_injection(CompatCheck *c)
{
    g_autofree char *devices = NULL;

    if (!c->gicv4_0_vfio || c->policy->quiesce)
        return;
    devices = compat_hostdev_list(c->d, compat_hostdev_pred_vfio, c);
    compat_add(
        c, ITSMIG_RULE_GICV4_DIRECT_INJECTION,
        g_strdup_printf("%s's GICv4.0 injects the MSIs of %s's VFIO devices %s directly, and KVM "
                        "cannot save vLPI state on GICv4.0: SAVE_TABLES fails with EACCES, QEMU "
                        "only logs it and the guest loses their interrupts",
                        c->s->hostname, c->guest, devices),
        g_strdup_printf("let itsmigd migrate %s (it detaches these devices before the source "
                        "pauses and re-attaches them after), or detach them before migrating",
                        c->guest));
}

void compat_rule_hostdev_not_migratable(CompatCheck *c)
{
    g_autoptr(GString) devices = g_string_new(NULL);

    if (c->policy->quiesce)
        return;
    for (guint i = 0; i < compat_n_hostdevs(c->d); i++) {
        const ItsmigHostdev *h = compat_hostdev_at(c->d, i);
        g_autofree char *entry = NULL;

        if (h->migratable == 1)
            continue;
        entry = g_strdup_printf("%s (%s)", compat_hostdev_label(h),
                                h->host_driver ? h->host_driver : "driver unknown");
        compat_list_append(devices, entry);
    }
    if (!devices->len)
        return;
    compat_add(
        c, ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE,
        g_strdup_printf("%s has host devices that cannot migrate their state: %s", c->guest,
                        devices->str),
        g_strdup_printf("let itsmigd migrate %s (it detaches them before the source pauses and "
                        "re-attaches them after), detach them before migrating, or bind them to "
                        "a VFIO driver with migration support",
                        c->guest));
}

void compat_rule_early_boot_no_its_reset(CompatCheck *c)
{
    const ItsmigItsMetadata *m = &c->d->metadata;
    gint64 since;
    gint64 age;
    gboolean reset;

    if (!c->kernel || !compat_known(c->s, ITSMIG_CAP_CTRL_RESET) || c->s->ctrl_reset ||
        !c->d->has_metadata)
        return;
    reset = m->reset_at > m->started_at;
    since = reset ? m->reset_at : m->started_at;
    /* Without a time the rule cannot judge; itsmig-compat(7) says so. */
    if (since <= 0)
        return;
    age = MAX(c->in->now - since, 0);
    if (age >= (gint64)c->policy->early_boot_window)
        return;
    compat_add(
        c, ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET,
        g_strdup_printf("%s's kernel cannot reset the ITS (no KVM_DEV_ARM_ITS_CTRL_RESET) and %s "
                        "%s %" G_GINT64_FORMAT " seconds ago, within the early-boot window of %u "
                        "seconds: saving ITS tables the guest has not set up again can fail and "
                        "lose its interrupts",
                        c->s->hostname, c->guest, reset ? "was reset" : "started", age,
                        c->policy->early_boot_window),
        g_strdup_printf("wait %" G_GINT64_FORMAT " more seconds, until %s has booted, or upgrade "
                        "%s's kernel to one with KVM_DEV_ARM_ITS_CTRL_RESET",
                        (gint64)c->policy->early_boot_window - age, c->guest, c->s->hostname));
}

/* The newest of @t's machine types that share @machine's family (the name up
 * to its "-X.Y" version): "virt-7.2" for a guest on "virt-10.0"; NULL when
 * @machine is not versioned or @t offers none of its family. */
static const char *newest_of_family(const ItsmigHostMachineTypes *t, const char *machine)
{
    const char *dash = strrchr(machine, '-');
    const char *best = NULL;
    guint best_major = 0, best_minor = 0;
    gsize family;

    if (!dash || !g_ascii_isdigit(dash[1]))
        return NULL;
    family = (gsize)(dash - machine) + 1;
    for (guint i = 0; t->names[i]; i++) {
        const char *name = t->names[i];
        guint major, minor;
        char end;

        if (strncmp(name, machine, family) != 0 ||
            sscanf(name + family, "%u.%u%c", &major, &minor, &end) != 2)
            continue;
        if (!best || major > best_major || (major == best_major && minor > best_minor)) {
            best = name;
            best_major = major;
            best_minor = minor;
        }
    }
    return best;
}

void compat_rule_machine_type_unsupported(CompatCheck *c)
{
    const ItsmigDomainProfile *d = c->d;
    const ItsmigHostCaps *t = c->t;
    g_autofree char *qemu = NULL;
    g_autofree char *newest = NULL;
    gboolean offered;
    const char *best;

    /* Machine types are QEMU's: the QEMU driver's domains only. */
    if (!d->type || (strcmp(d->type, "kvm") != 0 && strcmp(d->type, "qemu") != 0) ||
        !itsmig_host_caps_machine_type_known(t, d->arch, d->emulator, d->machine, &offered) ||
        offered)
        return;
    qemu = compat_known(t, ITSMIG_CAP_QEMU_VERSION) ? g_strdup_printf(" %s", t->qemu_version)
                                                    : g_strdup("");
    best = newest_of_family(&t->machine_types, d->machine);
    newest = best ? g_strdup_printf(" (the newest of its family there is %s)", best) : g_strdup("");
    compat_add(c, ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED,
               g_strdup_printf("%s's machine type %s is not offered by %s's QEMU%s%s, so libvirt "
                               "on %s refuses to start %s",
                               c->guest, d->machine, t->hostname, qemu, newest, t->hostname,
                               c->guest),
               g_strdup_printf("move %s to a host whose QEMU offers %s (a versioned machine type "
                               "needs a QEMU of at least that version, and QEMU drops old ones in "
                               "time); a guest changes machine type only when it is shut down and "
                               "started again with another",
                               c->guest, d->machine));
}

void compat_rule_no_pending_table_save(CompatCheck *c)
{
    const ItsmigHostCaps *s = c->s;

    if (!c->kernel || !compat_known(s, ITSMIG_CAP_SAVE_PENDING_TABLES) || s->save_pending_tables)
        return;
    compat_add(
        c, ITSMIG_RULE_NO_PENDING_TABLE_SAVE,
        g_strdup_printf("%s's kernel cannot save LPI pending tables (no "
                        "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES): LPIs pending for %s at the "
                        "switch-over are lost",
                        s->hostname, c->guest),
        g_strdup_printf("upgrade %s's kernel; until then migrate %s while its devices are quiet",
                        s->hostname, c->guest));
}

void compat_rule_gicd_revision_change(CompatCheck *c)
{
    const ItsmigDomainProfile *d = c->d;
    const ItsmigHostCaps *t = c->t;
    g_autofree char *origin = NULL;
    int seen;

    /* A TCG guest's GIC is QEMU's, whatever the kernel's revision. */
    if (!itsmig_domain_profile_its_in_kernel(d) || !compat_known(t, ITSMIG_CAP_GICD_REVISION))
        return;
    if (d->has_metadata && d->metadata.gicd_revision >= 0) {
        seen = d->metadata.gicd_revision;
        origin = g_strdup("from its metadata");
    } else if (compat_known(c->s, ITSMIG_CAP_GICD_REVISION)) {
        seen = (int)c->s->gicd_revision;
        origin = g_strdup_printf("%s's revision, for want of metadata", c->s->hostname);
    } else {
        return;
    }
    if ((guint)seen == t->gicd_revision)
        return;
    compat_add(
        c, ITSMIG_RULE_GICD_REVISION_CHANGE,
        g_strdup_printf("%s saw GICD_IIDR revision %d at start (%s) but %s's KVM gives revision "
                        "%u; QEMU does not migrate GICD_IIDR, so guest-visible GIC behaviour "
                        "(such as GICR_CTLR.IR/CES) changes",
                        c->guest, seen, origin, t->hostname, t->gicd_revision),
        g_strdup_printf("restart %s after the move at a convenient time so that it boots with "
                        "revision %u, or migrate it to a host whose KVM gives revision %d",
                        c->guest, t->gicd_revision, seen));
}

/* Adds @caps to @hosts unless a host of its name is there already. */
static void hosts_add(GPtrArray *hosts, const ItsmigHostCaps *caps)
{
    for (guint i = 0; i < hosts->len; i++) {
        const ItsmigHostCaps *h = g_ptr_array_index(hosts, i);

        if (g_strcmp0(h->hostname, caps->hostname) == 0)
            return;
    }
    g_ptr_array_add(hosts, (gpointer)caps);
}

/* How many of @hosts support @rev; their names in @names. */
static guint hosts_supporting(const GPtrArray *hosts, guint rev, GString *names)
{
    guint k = 0;

    for (guint i = 0; i < hosts->len; i++) {
        const ItsmigHostCaps *h = g_ptr_array_index(hosts, i);

        if (itsmig_host_caps_has_revision(h, rev)) {
            k++;
            compat_list_append(names, h->hostname);
        }
    }
    if (!names->len)
        g_string_append(names, "none");
    return k;
}

/* Registers the guest's QEMU on the destination would send back but the
 * source's KVM lacks: the guest could go, not come back. */
static void one_way_registers(CompatCheck *c)
{
    g_autoptr(GString) names = g_string_new(NULL);
    guint sent;
    guint n;

    if (!c->vcpu_kvm || !c->s_regs || !c->t_regs || c->lacking.n != 0)
        return;
    n = compat_regs_lacking(c, c->t_regs, c->s_regs, &sent, NULL, NULL, names);
    if (n == 0)
        return;
    compat_add(
        c, ITSMIG_RULE_ONE_WAY_MOVE,
        g_strdup_printf("once on %s, %s could not come back to %s: its QEMU there would send %u "
                        "vCPU registers, %u of which %s's KVM lacks: %s",
                        c->t->hostname, c->guest, compat_source_name(c), sent, n,
                        compat_source_name(c), names->str),
        g_strdup_printf("plan %s's way back before the move (a host whose KVM has %s's registers), "
                        "or accept that only a cold start brings it back to %s",
                        c->guest, c->t->hostname, compat_source_name(c)));
}

void compat_rule_one_way_move(CompatCheck *c)
{
    const ItsmigHostCaps *t = c->t;
    g_autoptr(GPtrArray) others = g_ptr_array_new();
    g_autoptr(GPtrArray) back = NULL;
    g_autoptr(GString) names = g_string_new(NULL);
    guint k;
    guint d;

    one_way_registers(c);
    if (!c->kernel || c->rev < 0)
        return;
    for (gsize i = 0; i < c->in->n_known; i++) {
        const ItsmigHostCaps *h = c->in->known ? c->in->known[i] : NULL;

        if (h && g_strcmp0(h->hostname, t->hostname) != 0)
            hosts_add(others, h);
    }

    if (others->len) {
        k = hosts_supporting(others, (guint)c->rev, names);
        if (2 * k < others->len) {
            compat_add(
                c, ITSMIG_RULE_ONE_WAY_MOVE,
                g_strdup_printf("%s keeps ITS table ABI revision %d on %s, which only %u of %u "
                                "other known hosts support (%s): few could take it from there",
                                c->guest, c->rev, t->hostname, k, others->len, names->str),
                g_strdup_printf("upgrade the other hosts' kernels to support revision %d, or "
                                "cold-start %s on a host whose default revision the others "
                                "support",
                                c->rev, c->guest));
            return;
        }
    }

    if (!compat_known(t, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION))
        return;
    d = t->default_its_abi_revision;
    if (d == (guint)c->rev)
        return;
    back = g_ptr_array_copy(others, NULL, NULL);
    if (c->s && g_strcmp0(c->s->hostname, t->hostname) != 0)
        hosts_add(back, c->s);
    if (!back->len)
        return;
    g_string_truncate(names, 0);
    k = hosts_supporting(back, d, names);
    if (2 * k >= back->len)
        return;
    compat_add(
        c, ITSMIG_RULE_ONE_WAY_MOVE,
        g_strdup_printf("after a cold start on %s, %s would get ITS table ABI revision %u, which "
                        "only %u of %u known hosts support (%s): it could not come back",
                        t->hostname, c->guest, d, k, back->len, names->str),
        g_strdup_printf("restart %s on a host whose default is revision %d rather than on %s, or "
                        "upgrade the other hosts' kernels to support revision %u",
                        c->guest, c->rev, t->hostname, d));
}

void compat_rule_profile_fallback(CompatCheck *c)
{
    const ItsmigDomainProfile *d = c->d;
    g_autofree char *assumed = NULL;
    char *message;

    if (!c->kernel || strcmp(c->rev_origin, "metadata") == 0)
        return;
    if (c->rev >= 0)
        assumed = g_strdup_printf("assuming %s's default revision %d", c->s->hostname, c->rev);
    else
        assumed = g_strdup("its ITS table ABI revision is unknown");

    if (d->has_metadata)
        message = g_strdup_printf("%s's itsmig record does not give its ITS table ABI revision; %s",
                                  c->guest, assumed);
    else if (d->metadata_error)
        message = g_strdup_printf("%s's itsmig record in its metadata is unreadable (%s); %s",
                                  c->guest, d->metadata_error, assumed);
    else
        message = g_strdup_printf("no itsmig record in %s's metadata; %s", c->guest, assumed);
    compat_add(
        c, ITSMIG_RULE_PROFILE_FALLBACK, message,
        g_strdup_printf("run itsmigd where %s runs so that it records the revision in the "
                        "domain's metadata; a guest started before itsmigd ran may run another "
                        "revision than assumed",
                        c->guest));
}

void compat_rule_source_unknown(CompatCheck *c)
{
    if (c->s)
        return;
    compat_add(
        c, ITSMIG_RULE_SOURCE_UNKNOWN,
        g_strdup_printf("the source host is not known and %s's metadata has no host record: the "
                        "checks of the source (its-save-unsupported, gicv4-direct-injection, "
                        "early-boot-no-its-reset, no-pending-table-save, page-size-mismatch) were "
                        "skipped",
                        c->guest),
        g_strdup_printf("check from the source host, whose itsmigd knows its capabilities, or let "
                        "itsmigd record them in %s's metadata (it does at start, reset and "
                        "arrival)",
                        c->guest));
}

static void report_conflicts(CompatCheck *c, const ItsmigHostCaps *caps)
{
    for (unsigned int f = 0; f < ITSMIG_CAP_LAST; f++) {
        const char *probed = caps->meta[f].conflict_probed;
        const char *name = itsmig_cap_field_to_string((ItsmigCapField)f);
        g_autofree char *declared = NULL;
        g_autofree char *key = NULL;

        if (!probed)
            continue;
        declared = compat_cap_value_json(caps, (ItsmigCapField)f);
        key = g_strdelimit(g_strdup(name), "_", '-');
        compat_add(
            c, ITSMIG_RULE_HOST_CAPS_CONFLICT,
            g_strdup_printf("%s declares %s %s in itsmigd.conf but its probe found %s; the "
                            "declared value is used",
                            caps->hostname, name, declared, probed),
            g_strdup_printf("if the probe is right, remove %s from itsmigd.conf [host] on %s; "
                            "keep it only if the probe is wrong there",
                            key, caps->hostname));
    }
}

void compat_rule_host_caps_conflict(CompatCheck *c)
{
    /* A record from the metadata holds no conflicts: only real capabilities. */
    if (c->in->source)
        report_conflicts(c, c->in->source);
    report_conflicts(c, c->t);
}

void compat_rule_hostdev_quiesced(CompatCheck *c)
{
    g_autofree char *devices = NULL;

    if (!c->policy->quiesce)
        return;
    devices = compat_hostdev_list(c->d, compat_hostdev_pred_blocking, c);
    if (!*devices)
        return;
    compat_add(c, ITSMIG_RULE_HOSTDEV_QUIESCED,
               g_strdup_printf("%s's host devices %s will be detached before the source pauses and "
                               "re-attached after",
                               c->guest, devices),
               g_strdup("the guest sees them unplugged during the move: make sure its drivers and "
                        "workloads cope with hot-unplug"));
}

void compat_rule_page_size_mismatch(CompatCheck *c)
{
    const ItsmigHostCaps *s = c->s;
    const ItsmigHostCaps *t = c->t;

    if (!compat_known(s, ITSMIG_CAP_PAGE_SIZE) || !compat_known(t, ITSMIG_CAP_PAGE_SIZE) ||
        s->page_size == t->page_size)
        return;
    compat_add(
        c, ITSMIG_RULE_PAGE_SIZE_MISMATCH,
        g_strdup_printf("%s's page size is %u bytes but %s's is %u bytes: some distributions "
                        "support migrating arm64 guests such as %s only between hosts of the "
                        "same page size",
                        s->hostname, s->page_size, t->hostname, t->page_size, c->guest),
        g_strdup_printf("prefer a destination with %u-byte pages, or test this pair of hosts "
                        "before relying on it",
                        s->page_size));
}

static char *errno_text(int err)
{
    if (err == 0)
        return g_strdup("succeeds");
    return g_strdup_printf("fails with %s", g_strerror(err));
}

void compat_rule_its_save_semantics_differ(CompatCheck *c)
{
    const ItsmigKvmItsSemantics *a, *b;
    g_autoptr(GString) what = g_string_new(NULL);

    if (!c->kernel || !c->s || c->s->its_semantics.source != ITSMIG_CAP_PROBED ||
        c->t->its_semantics.source != ITSMIG_CAP_PROBED)
        return;
    a = &c->s->its_semantics.facts;
    b = &c->t->its_semantics.facts;
    if ((a->save_unreachable_device_errno == 0) != (b->save_unreachable_device_errno == 0) ||
        (a->save_unreachable_device_errno != 0 && b->save_unreachable_device_errno != 0 &&
         a->save_unreachable_device_errno != b->save_unreachable_device_errno)) {
        g_autofree char *sa = errno_text(a->save_unreachable_device_errno);
        g_autofree char *sb = errno_text(b->save_unreachable_device_errno);

        g_string_append_printf(what,
                               "a save with an unreachable device %s on %s but %s on %s (success "
                               "drops the device's mappings)",
                               sa, c->s->hostname, sb, c->t->hostname);
    }
    if (a->baser_write_keeps_mappings != b->baser_write_keeps_mappings)
        g_string_append_printf(what, "%sa GITS_BASER write %s the mappings on %s but %s them on %s",
                               what->len ? "; " : "",
                               a->baser_write_keeps_mappings ? "keeps" : "drops", c->s->hostname,
                               b->baser_write_keeps_mappings ? "keeps" : "drops", c->t->hostname);
    if (!what->len)
        return;
    compat_add(
        c, ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER,
        g_strdup_printf("the vITS of %s and %s save %s's tables differently: %s", c->s->hostname,
                        c->t->hostname, c->guest, what->str),
        g_strdup_printf("expect %s's ITS tables to be saved the way %s does from now on; check "
                        "them with itsmigctl its inspect after a save if the guest rewrites its "
                        "device tables",
                        c->guest, c->t->hostname));
}
