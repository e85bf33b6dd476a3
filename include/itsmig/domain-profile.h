/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The ITS profile of a libvirt domain, read from its XML: whether the guest
 * has a GICv3 ITS, and which of its devices sit on PCI(e) and so raise MSIs
 * through it (the state a migration must carry across).
 */

#include <glib.h>
#include <json-glib/json-glib.h>

/* Limits on what a caller may hand in; larger input is refused, not parsed. */
#define ITSMIG_DOMAIN_XML_MAX   (16 * 1024 * 1024)
#define ITSMIG_DOMAIN_VCPUS_MAX 4096

typedef struct {
    char *address;       /* host PCI address "0000:01:00.0", NULL if not given */
    char *driver;        /* <driver name='vfio'/>, NULL when unspecified */
    gboolean managed;    /* managed='yes' */
    char *alias;         /* <alias name=.../>, NULL if none */
    char *guest_address; /* guest-side <address type='pci'/>, NULL if not assigned yet */
} ItsmigHostdev;

typedef struct {
    char *kind;    /* element name: interface, disk, controller, rng, hostdev, ... */
    char *model;   /* "virtio", "virtio-blk vda", "pcie-root-port", "pci 0000:01:00.0", ... */
    char *address; /* guest PCI address "0000:00:01.0", NULL if not assigned yet */
    char *alias;   /* NULL if none */
} ItsmigMsiDevice;

typedef enum {
    ITSMIG_ITS_UNKNOWN,
    ITSMIG_ITS_ABSENT,
    ITSMIG_ITS_PRESENT,

    ITSMIG_ITS_LAST
} ItsmigItsPresence;

typedef struct {
    char *name;
    char *uuid;        /* NULL if not given */
    char *type;        /* domain type: kvm, qemu, test; NULL if not given */
    char *arch;        /* NULL if not given */
    char *machine;     /* NULL if not given */
    char *gic_version; /* "2", "3", "4", "host"; NULL when unspecified */
    ItsmigItsPresence its;
    char *its_reason; /* one line saying why, never NULL */
    guint vcpus;
    guint max_vcpus;
    GPtrArray *hostdevs;    /* ItsmigHostdev *, PCI hostdevs only, in document order */
    GPtrArray *msi_devices; /* ItsmigMsiDevice *, in document order */
} ItsmigDomainProfile;

/* @len may be -1 for a NUL-terminated @xml.  Fails with
 * ITSMIG_ERROR_INVALID_DOMAIN_XML on anything that is not a well-formed,
 * DTD-free, UTF-8 <domain> document of at most ITSMIG_DOMAIN_XML_MAX bytes. */
ItsmigDomainProfile *itsmig_domain_profile_parse(const char *xml, gssize len, GError **error);
void itsmig_domain_profile_free(ItsmigDomainProfile *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigDomainProfile, itsmig_domain_profile_free)

/* Adds one object value to @b (after a member name, or inside an array). */
void itsmig_domain_profile_to_json(const ItsmigDomainProfile *p, JsonBuilder *b);

/* "unknown", "absent", "present". */
const char *itsmig_its_presence_to_string(ItsmigItsPresence p);
