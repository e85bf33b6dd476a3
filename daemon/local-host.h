/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "itsmig/compat.h"
#include "itsmig/domain-profile.h"
#include "itsmig/host-caps.h"
#include "itsmig/host-traits.h"
#include "itsmig/kvm-its.h"
#include "daemon/daemon-config.h"

/*
 * This host: what it can do for ITS migration (the KVM probe run once at
 * start, the libvirt and QEMU versions of the current connection, the values
 * declared in [host]) and how it judges migrations ([policy]).  The main loop
 * rebuilds it on connection and reload; HTTP threads take copies.
 */
/* A file [fleet] asks for, as last written. */
typedef struct {
    char *path;       /* NULL: not configured */
    char *changed_at; /* when this daemon last changed it (ISO 8601); NULL: not since start */
    char *error;      /* why the last write failed; NULL after a success */
} ItsmigdFleetFile;

typedef struct {
    char *hostname;
    ItsmigKvmItsCaps kvm;
    char *kvm_json;         /* itsmig_kvm_its_caps_to_json() as text */
    ItsmigKvmRegSet regs;   /* the register-set probe's, run once at start */
    char *regs_file_logged; /* the vcpu-registers-file last logged; main loop only */

    GMutex lock;
    ItsmigHostCaps *caps; /* replaced whole, never changed in place */
    ItsmigCompatPolicy policy;
    char **migratable_drivers;
    char **non_migratable; /* [policy] non-migratable-devices */
    char *sysfs_pci;       /* /sys/bus/pci/devices */
    char *record_dir;      /* the hook's records ([hook] record-dir); under the lock */
    char *history_dir;     /* STATE-DIR/host-history (itsmig/host-history.h); under the lock */
    char *history_error;   /* why the last record in it failed, as logged; main loop only */
    char *
        self_check; /* why the capabilities contradict themselves, as last logged; main loop only */
    /* Why the machine types are unknown, as last logged; main loop only. */
    char *machine_types_problem;
    /* [fleet]: the traits of the current capabilities and the files written
     * from them; under the lock. */
    char **traits;
    ItsmigdFleetFile fleet[ITSMIG_TRAITS_FORMAT_LAST];
} ItsmigdHost;

/* Runs the KVM probes (the vITS and the vCPU register set). */
void itsmigd_host_init(ItsmigdHost *host);
void itsmigd_host_clear(ItsmigdHost *host);

/* Rebuilds the capabilities from the probe, @hypervisor/@libvirt versions
 * ("QEMU" and "7.2.0"; NULLs when not connected yet), the machine types in
 * libvirt's @capabilities XML (or why they are unknown, @capabilities_error;
 * both NULL before the first connection), @config's declared
 * values and declared register set ([host] vcpu-registers-file, in place of
 * the probe's), and takes @config's policy.  Logs each conflict between a declared
 * value and the probe once.  Once connected (@hypervisor_version known), records the
 * capabilities in the host's history. */
void itsmigd_host_update(ItsmigdHost *host, const ItsmigdConfig *config, const char *hypervisor,
                         const char *hypervisor_version, const char *libvirt_version,
                         const char *capabilities, const char *capabilities_error);

ItsmigHostCaps *itsmigd_host_get_caps(ItsmigdHost *host);
/* Adds the "fleet" member of GET /v1/host: the traits and the [fleet] files. */
void itsmigd_host_fleet_to_json(ItsmigdHost *host, JsonBuilder *b);
/* What this host was when it ran with the register set @m's host record names (another
 * kernel, before a reboot), from its history (itsmig_host_history_match()): a copy named
 * "HOSTNAME as it was on kernel RELEASE", the entry used logged, or NULL when the record
 * names no register set or the history has no entry that fits.  Reads the history's files:
 * not on the main loop. */
ItsmigHostCaps *itsmigd_host_past_caps(ItsmigdHost *host, const ItsmigItsMetadata *m);
/* [hook] record-dir, a copy. */
char *itsmigd_host_dup_record_dir(ItsmigdHost *host);
void itsmigd_host_get_policy(ItsmigdHost *host, ItsmigCompatPolicy *ret_policy);
/* Whether @alias matches a pattern of [policy] non-migratable-devices. */
gboolean itsmigd_host_non_migratable(ItsmigdHost *host, const char *alias);

/* Fills each hostdev's host_driver (the driver bound to it here, from
 * sysfs) and migratable (whether that driver is one of the configured
 * migration-capable ones); unknown devices stay unknown. */
void itsmigd_host_describe_hostdevs(ItsmigdHost *host, ItsmigDomainProfile *profile);
/* What itsmigd_host_describe_hostdevs() would fill in for @h: FALSE when the
 * device is unknown here. */
gboolean itsmigd_host_hostdev_facts(ItsmigdHost *host, const ItsmigHostdev *h, char **ret_driver,
                                    int *ret_migratable);
