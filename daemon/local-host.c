/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "itsmig/diag.h"
#include "itsmig/host-history.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-its-json.h"
#include "itsmig/kvm-regs-json.h"
#include "daemon/local-host.h"

void itsmigd_host_init(ItsmigdHost *host)
{
    ItsmigDiag diag = {0};
    g_autoptr(JsonNode) kvm = NULL;

    g_mutex_init(&host->lock);
    host->hostname = g_strdup(g_get_host_name());
    host->sysfs_pci = g_strdup("/sys/bus/pci/devices");
    /* The probe fills the caps even when it cannot run, with the reason. */
    if (itsmig_kvm_its_probe(&host->kvm, &diag) < 0 && host->kvm.available)
        g_warning("KVM ITS probe failed: %s", diag.text);
    if (host->kvm.available)
        g_message("KVM ITS probe: ABI revisions 0x%04x, default %u", host->kvm.abi_revisions,
                  host->kvm.default_abi_revision);
    else
        g_message("KVM ITS probe not possible here: %s", host->kvm.unavailable_reason);
    kvm = itsmig_kvm_its_caps_to_json(&host->kvm);
    host->kvm_json = json_to_string(kvm, FALSE);

    memset(&diag, 0, sizeof(diag));
    if (itsmig_kvm_regs_probe(&host->regs, &diag) < 0 && host->regs.available)
        g_warning("vCPU register probe failed: %s", diag.text);
    if (host->regs.available) {
        g_autofree char *digest = itsmig_kvm_regs_digest(&host->regs);

        g_message("vCPU register probe: %zu registers, %s", host->regs.n_regs, digest);
    } else {
        g_message("vCPU register probe not possible here: %s", host->regs.unavailable_reason);
    }
}

void itsmigd_host_clear(ItsmigdHost *host)
{
    g_free(host->hostname);
    g_free(host->kvm_json);
    itsmig_kvm_regs_clear(&host->regs);
    g_free(host->regs_file_logged);
    g_clear_pointer(&host->caps, itsmig_host_caps_free);
    g_strfreev(host->migratable_drivers);
    g_strfreev(host->non_migratable);
    g_free(host->sysfs_pci);
    g_free(host->record_dir);
    g_free(host->history_dir);
    g_free(host->history_error);
    g_free(host->self_check);
    g_free(host->machine_types_problem);
    g_strfreev(host->traits);
    for (int f = 0; f < ITSMIG_TRAITS_FORMAT_LAST; f++) {
        g_free(host->fleet[f].path);
        g_free(host->fleet[f].changed_at);
        g_free(host->fleet[f].error);
    }
    g_mutex_clear(&host->lock);
}

/* A probed string value; the probe of a field that cannot be known here is
 * simply not made. */
static void probe_text(ItsmigHostCaps *caps, ItsmigCapField field, const char *text)
{
    g_autoptr(GError) error = NULL;

    if (text && !itsmig_host_caps_set(caps, field, ITSMIG_CAP_PROBED, text, &error))
        g_warning("host capability %s: ignoring what was probed: %s",
                  itsmig_cap_field_to_string(field), error->message);
}

/* The probe's register set, or the one [host] vcpu-registers-file declares,
 * which wins (logged once per file, with the probe's digest if it differs). */
static void set_regs(ItsmigdHost *host, ItsmigHostCaps *caps, const char *file)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *probed = NULL;
    ItsmigKvmRegSet declared;

    itsmig_host_caps_set_regs(caps, &host->regs);
    if (!file) {
        g_clear_pointer(&host->regs_file_logged, g_free);
        return;
    }
    /* Checked when the configuration was read; it may have changed since. */
    if (!itsmigd_read_regs_file(file, &declared, &error)) {
        g_warning("[host] vcpu-registers-file: %s; using the probe's register set", error->message);
        return;
    }
    itsmig_host_caps_set_regs(caps, &declared);
    if (g_strcmp0(host->regs_file_logged, file) != 0) {
        probed = host->regs.available ? itsmig_kvm_regs_digest(&host->regs) : NULL;
        if (probed && g_strcmp0(probed, caps->regs_digest) != 0)
            g_warning("[host] vcpu-registers-file %s declares register set %s (%zu registers), "
                      "but the probe found %s; the declared set is used",
                      file, caps->regs_digest, declared.n_regs, probed);
        else
            g_message("[host] vcpu-registers-file %s: register set %s (%zu registers)", file,
                      caps->regs_digest, declared.n_regs);
        g_free(host->regs_file_logged);
        host->regs_file_logged = g_strdup(file);
    }
    itsmig_kvm_regs_clear(&declared);
}

/* Writes one [fleet] file from @caps when its text changed; logs what the
 * scheduler side must do.  Main loop only; the results go under the lock. */
static void publish(ItsmigdHost *host, const ItsmigHostCaps *caps, ItsmigTraitsFormat format,
                    const char *path)
{
    static const char *const keys[ITSMIG_TRAITS_FORMAT_LAST] = {
        [ITSMIG_TRAITS_FORMAT_NOVA] = "nova-provider-config",
        [ITSMIG_TRAITS_FORMAT_NFD] = "nfd-features-file",
    };
    ItsmigdFleetFile *file = &host->fleet[format];
    g_autofree char *text = NULL;
    g_autofree char *failure = NULL;
    g_autofree char *now = NULL;
    g_autoptr(GError) error = NULL;
    gboolean changed = FALSE;
    gboolean existed;

    if (!path) {
        g_mutex_lock(&host->lock);
        g_clear_pointer(&file->path, g_free);
        g_clear_pointer(&file->changed_at, g_free);
        g_clear_pointer(&file->error, g_free);
        g_mutex_unlock(&host->lock);
        return;
    }
    text = itsmig_host_traits_render(caps, format);
    existed = g_file_test(path, G_FILE_TEST_EXISTS);
    if (!itsmig_host_traits_write(path, text, &changed, &error)) {
        failure = g_strdup(error->message);
        /* Once per distinct failure, not at every reconnection. */
        if (g_strcmp0(file->error, failure) != 0)
            g_warning("[fleet] %s: cannot write it: %s", keys[format], failure);
    } else if (changed && format == ITSMIG_TRAITS_FORMAT_NOVA) {
        g_warning("[fleet] nova-provider-config: %s %s; nova-compute reads it only when it "
                  "starts: restart nova-compute to give Placement these traits",
                  existed ? "changed" : "wrote", path);
    } else if (changed) {
        g_message("[fleet] nfd-features-file: %s %s; NFD reads it at its next rescan",
                  existed ? "changed" : "wrote", path);
    }
    if (changed) {
        g_autoptr(GDateTime) t = g_date_time_new_now_utc();

        now = g_date_time_format_iso8601(t);
    }
    g_mutex_lock(&host->lock);
    if (g_strcmp0(file->path, path) != 0) {
        g_free(file->path);
        file->path = g_strdup(path);
        g_clear_pointer(&file->changed_at, g_free);
    }
    if (now) {
        g_free(file->changed_at);
        file->changed_at = g_steal_pointer(&now);
    }
    g_free(file->error);
    file->error = g_steal_pointer(&failure);
    g_mutex_unlock(&host->lock);
}

void itsmigd_host_fleet_to_json(ItsmigdHost *host, JsonBuilder *b)
{
    static const char *const members[ITSMIG_TRAITS_FORMAT_LAST] = {
        [ITSMIG_TRAITS_FORMAT_NOVA] = "nova_provider_config",
        [ITSMIG_TRAITS_FORMAT_NFD] = "nfd_features_file",
    };
    static const char *const none[] = {NULL};

    g_mutex_lock(&host->lock);
    json_builder_set_member_name(b, "fleet");
    json_builder_begin_object(b);
    /* An empty list rather than null: a host without traits still has the member. */
    itsmig_json_add_strv(b, "traits", host->traits ? (const char *const *)host->traits : none);
    for (int f = 0; f < ITSMIG_TRAITS_FORMAT_LAST; f++) {
        const ItsmigdFleetFile *file = &host->fleet[f];

        json_builder_set_member_name(b, members[f]);
        if (!file->path) {
            json_builder_add_null_value(b);
            continue;
        }
        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "path", file->path);
        itsmig_json_add_string_or_null(b, "changed_at", file->changed_at);
        itsmig_json_add_string_or_null(b, "error", file->error);
        if (f == ITSMIG_TRAITS_FORMAT_NOVA) {
            /* nova-compute reads provider configs only at its start. */
            json_builder_set_member_name(b, "nova_compute_restart_needed");
            json_builder_add_boolean_value(b, file->changed_at != NULL);
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
    g_mutex_unlock(&host->lock);
}

/* The capabilities into the history, once connected (so that they name QEMU's version); a
 * failure is logged once, until a record works again.  Main loop only. */
static void record_history(ItsmigdHost *host)
{
    g_autoptr(GError) error = NULL;

    if (!host->history_dir)
        return;
    if (itsmig_host_history_record(host->history_dir, host->caps,
                                   g_get_real_time() / G_USEC_PER_SEC, &error)) {
        g_clear_pointer(&host->history_error, g_free);
        return;
    }
    if (g_strcmp0(host->history_error, error->message) != 0)
        g_warning("cannot record this host's capabilities in its history, so a save image made "
                  "now cannot be judged after a change of kernel: %s",
                  error->message);
    g_free(host->history_error);
    host->history_error = g_strdup(error->message);
}

ItsmigHostCaps *itsmigd_host_past_caps(ItsmigdHost *host, const ItsmigItsMetadata *m)
{
    g_autofree char *dir = NULL;
    g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) entries = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GDateTime) seen = NULL;
    g_autofree char *seen_text = NULL;
    const ItsmigHostHistoryEntry *e;
    const char *kernel;
    ItsmigHostCaps *caps;

    if (!m->host_regs_digest)
        return NULL;
    g_mutex_lock(&host->lock);
    dir = g_strdup(host->history_dir);
    g_mutex_unlock(&host->lock);
    if (!dir)
        return NULL;
    entries = itsmig_host_history_load(dir, skipped, &error);
    if (!entries) {
        g_warning("this host's history: %s", error->message);
        return NULL;
    }
    for (guint i = 0; i < skipped->len; i++)
        g_warning("this host's history: left out %s", (char *)g_ptr_array_index(skipped, i));
    e = itsmig_host_history_match(entries, m);
    if (!e)
        return NULL;
    caps = itsmig_host_caps_copy(e->caps);
    seen = g_date_time_new_from_unix_utc(e->last_seen);
    seen_text = seen ? g_date_time_format_iso8601(seen) : g_strdup("?");
    kernel = e->caps->meta[ITSMIG_CAP_KERNEL_RELEASE].source != ITSMIG_CAP_UNKNOWN
                 ? e->caps->kernel_release
                 : "unknown";
    g_free(caps->hostname);
    /* Not what the host is now: which version of it.  Every rule's message names its hosts,
     * so the name stays short; where it comes from is logged once. */
    caps->hostname = g_strdup_printf("%s as it was on kernel %s", m->host, kernel);
    g_message("judging an image of %s under register set %s by this host's history: %s/%s "
              "(kernel %s, last seen %s)",
              m->host, e->caps->regs_digest, dir, e->file, kernel, seen_text);
    return caps;
}

static void set_machine_types(ItsmigdHost *host, ItsmigHostCaps *caps, const char *xml,
                              const char *why_not)
{
    g_autoptr(GError) error = NULL;
    const char *problem = NULL;

    if (!xml) {
        itsmig_host_caps_set_machine_types_unknown(
            caps, why_not ? why_not : "libvirt's capabilities are not read yet (not connected)");
        problem = why_not;
    } else if (!itsmig_host_caps_set_machine_types_from_libvirt(caps, xml, strlen(xml), &error)) {
        problem = error->message;
    }
    /* Once per problem, not at every reconnection. */
    if (problem && g_strcmp0(host->machine_types_problem, problem) != 0)
        g_warning("the machine types this host offers are unknown, so the machine type rule "
                  "cannot judge guests coming here: %s",
                  problem);
    g_free(host->machine_types_problem);
    host->machine_types_problem = g_strdup(problem);
}

void itsmigd_host_update(ItsmigdHost *host, const ItsmigdConfig *config, const char *hypervisor,
                         const char *hypervisor_version, const char *libvirt_version,
                         const char *capabilities, const char *capabilities_error)
{
    g_autoptr(ItsmigHostCaps) caps =
        itsmig_host_caps_new(config->hostname ? config->hostname : host->hostname);
    g_autofree char *page_size = g_strdup_printf("%ld", sysconf(_SC_PAGESIZE));
    ItsmigHostCaps *old;

    itsmig_host_caps_set_probe(caps, &host->kvm);
    set_regs(host, caps, config->host_regs_file);
    probe_text(caps, ITSMIG_CAP_PAGE_SIZE, page_size);
    probe_text(caps, ITSMIG_CAP_LIBVIRT_VERSION, libvirt_version);
    /* The hypervisor version of libvirt's QEMU driver is QEMU's. */
    if (g_strcmp0(hypervisor, "QEMU") == 0)
        probe_text(caps, ITSMIG_CAP_QEMU_VERSION, hypervisor_version);
    set_machine_types(host, caps, capabilities, capabilities_error);
    for (int f = 0; f < ITSMIG_CAP_LAST; f++) {
        g_autoptr(GError) error = NULL;

        /* Checked when the configuration was read. */
        if (config->declared[f] &&
            !itsmig_host_caps_set(caps, f, ITSMIG_CAP_DECLARED, config->declared[f], &error))
            g_warning("[host] %s: %s", itsmig_cap_field_to_string(f), error->message);
    }

    {
        g_autoptr(GError) error = NULL;

        /* Peers validate what we send them the same way.  Logged when it
         * changes, not at every rebuild (each libvirt reconnection). */
        if (!itsmig_host_caps_check(caps, &error)) {
            if (g_strcmp0(host->self_check, error->message) != 0)
                g_warning("this host's capabilities contradict themselves, so peers will refuse "
                          "them: %s; check [host] in the configuration",
                          error->message);
            g_free(host->self_check);
            host->self_check = g_strdup(error->message);
        } else {
            g_clear_pointer(&host->self_check, g_free);
        }
    }
    g_mutex_lock(&host->lock);
    old = host->caps;
    g_strfreev(host->traits);
    host->traits = itsmig_host_traits_list(caps);
    host->caps = g_steal_pointer(&caps);
    host->policy = config->policy;
    g_strfreev(host->migratable_drivers);
    host->migratable_drivers = g_strdupv(config->migratable_drivers);
    g_strfreev(host->non_migratable);
    host->non_migratable = g_strdupv(config->non_migratable);
    g_free(host->record_dir);
    host->record_dir = g_strdup(config->hook_record_dir);
    g_free(host->history_dir);
    host->history_dir =
        config->state_dir ? g_build_filename(config->state_dir, "host-history", NULL) : NULL;
    g_mutex_unlock(&host->lock);
    if (hypervisor_version)
        record_history(host);
    /* Logged after the lock, which HTTP threads wait on.  Once per conflict,
     * not at every reconnection. */
    for (int f = 0; f < ITSMIG_CAP_LAST; f++) {
        const char *probed = host->caps->meta[f].conflict_probed;

        if (probed && (!old || g_strcmp0(old->meta[f].conflict_probed, probed) != 0))
            g_warning("[host] %s = %s is declared, but the probe found %s; the declared value "
                      "is used and reported as a conflict",
                      itsmig_cap_field_to_string(f), config->declared[f], probed);
    }
    itsmig_host_caps_free(old);
    publish(host, host->caps, ITSMIG_TRAITS_FORMAT_NOVA, config->nova_provider_config);
    publish(host, host->caps, ITSMIG_TRAITS_FORMAT_NFD, config->nfd_features_file);
}

ItsmigHostCaps *itsmigd_host_get_caps(ItsmigdHost *host)
{
    ItsmigHostCaps *copy;

    g_mutex_lock(&host->lock);
    copy = itsmig_host_caps_copy(host->caps);
    g_mutex_unlock(&host->lock);
    return copy;
}

char *itsmigd_host_dup_record_dir(ItsmigdHost *host)
{
    char *dir;

    g_mutex_lock(&host->lock);
    dir = g_strdup(host->record_dir);
    g_mutex_unlock(&host->lock);
    return dir;
}

void itsmigd_host_get_policy(ItsmigdHost *host, ItsmigCompatPolicy *ret_policy)
{
    g_mutex_lock(&host->lock);
    *ret_policy = host->policy;
    g_mutex_unlock(&host->lock);
}

gboolean itsmigd_host_non_migratable(ItsmigdHost *host, const char *alias)
{
    gboolean match = FALSE;

    g_mutex_lock(&host->lock);
    for (char **p = host->non_migratable; alias && p && *p && !match; p++)
        match = g_pattern_match_simple(*p, alias);
    g_mutex_unlock(&host->lock);
    return match;
}

gboolean itsmigd_host_hostdev_facts(ItsmigdHost *host, const ItsmigHostdev *h, char **ret_driver,
                                    int *ret_migratable)
{
    g_autofree char *link = NULL;
    g_autofree char *target = NULL;

    /* The address comes from the domain XML: a PCI address only, so that it
     * cannot name anything outside the devices directory. */
    if (!h->address || strchr(h->address, '/') || h->address[0] == '.')
        return FALSE;
    link = g_build_filename(host->sysfs_pci, h->address, "driver", NULL);
    target = g_file_read_link(link, NULL);
    if (!target)
        return FALSE;
    *ret_driver = g_path_get_basename(target);
    g_mutex_lock(&host->lock);
    *ret_migratable = g_strv_contains((const char *const *)host->migratable_drivers, *ret_driver);
    g_mutex_unlock(&host->lock);
    return TRUE;
}

void itsmigd_host_describe_hostdevs(ItsmigdHost *host, ItsmigDomainProfile *profile)
{
    for (guint i = 0; profile->hostdevs && i < profile->hostdevs->len; i++) {
        ItsmigHostdev *h = g_ptr_array_index(profile->hostdevs, i);
        char *driver = NULL;
        int migratable;

        if (!itsmigd_host_hostdev_facts(host, h, &driver, &migratable))
            continue;
        g_free(h->host_driver);
        h->host_driver = driver;
        h->migratable = migratable;
    }
}
