/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The ITS profile of a libvirt domain, read from its XML: whether the guest
 * has a GICv3 ITS, and which of its devices sit on PCI(e) and so raise MSIs
 * through it (the state a migration must carry across).
 */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/kvm-its.h"
#include "itsmig/kvm-regs.h"

/* Limits on what a caller may hand in; larger input is refused, not parsed. */
#define ITSMIG_DOMAIN_XML_MAX   (16 * 1024 * 1024)
#define ITSMIG_DOMAIN_VCPUS_MAX 4096

typedef struct {
    char *address;       /* host PCI address "0000:01:00.0", NULL if not given */
    char *driver;        /* <driver name='vfio'/>, NULL when unspecified */
    gboolean managed;    /* managed='yes' */
    char *alias;         /* <alias name=.../>, NULL if none */
    char *guest_address; /* guest-side <address type='pci'/>, NULL if not assigned yet */
    /* Filled by whoever knows the host (itsmigd, from sysfs and its config),
     * never by the parser: the driver bound to the device on this host and
     * whether that driver can migrate device state (VFIO migration v2). */
    char *host_driver; /* NULL when unknown */
    int migratable;    /* -1 unknown, 0 no, 1 yes */
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

/*
 * What itsmig keeps in the domain's XML metadata, under ITSMIG_METADATA_NS, so
 * that it travels with the guest in every migration.  Written by itsmigd when
 * the domain starts (the host's default ITS ABI revision) and when it arrives
 * by migration (revision and start kept from the source), and on reset.  The
 * host record describes the host that wrote it: the one the domain runs on,
 * so the destination's hook can judge source-side risks without asking it.
 */
#define ITSMIG_METADATA_NS     "urn:itsmig:domain:1"
#define ITSMIG_METADATA_PREFIX "itsmig"
#define ITSMIG_METADATA_ROOT   "its" /* <itsmig:its version="1"> */

typedef enum {
    ITSMIG_METADATA_WRITTEN_START,    /* the domain started here */
    ITSMIG_METADATA_WRITTEN_INCOMING, /* the domain arrived here by migration */
    ITSMIG_METADATA_WRITTEN_ADOPTED,  /* found running without metadata: revision is a guess */

    ITSMIG_METADATA_WRITTEN_LAST
} ItsmigMetadataWritten;

typedef struct {
    int its_abi_revision; /* -1 when not recorded */
    int gicd_revision;    /* GICD_IIDR.Revision the guest saw at start; -1 when not recorded */
    gint64 started_at;    /* unix seconds of the last cold start; 0 when not recorded */
    gint64 reset_at;      /* unix seconds of the last guest reset since; 0 when none */

    /* The host that wrote the record. */
    char *host; /* hostname; NULL when not recorded */
    ItsmigMetadataWritten written;
    gint64 written_at;              /* unix seconds */
    char *host_arch;                /* NULL when not recorded */
    guint host_page_size;           /* 0 when not recorded */
    ItsmigGicv4Level host_gicv4;    /* ITSMIG_GICV4_UNKNOWN when not recorded */
    int host_save_tables;           /* -1 not recorded, 0, 1 */
    int host_save_pending_tables;   /* -1 not recorded, 0, 1 */
    int host_ctrl_reset;            /* -1 not recorded, 0, 1 */
    guint16 host_its_abi_revisions; /* bit n: revision n; 0 when not recorded */
    /* The host's vCPU register set (ItsmigKvmRegSet): the set the guest's QEMU
     * took from it at start or arrival, and sends on.  The digest names it
     * among known hosts; NULL and 0 when not recorded. */
    char *host_regs_digest;
    guint host_regs_count;
} ItsmigItsMetadata;

/* Everything "not recorded". */
void itsmig_its_metadata_init(ItsmigItsMetadata *m);
void itsmig_its_metadata_clear(ItsmigItsMetadata *m);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ItsmigItsMetadata, itsmig_its_metadata_clear)
/* A deep copy into @to, which holds nothing (freshly initialised or cleared). */
void itsmig_its_metadata_copy(ItsmigItsMetadata *to, const ItsmigItsMetadata *from);
/* "start", "incoming-migration", "adopted". */
const char *itsmig_metadata_written_to_string(ItsmigMetadataWritten w);

/* The most bytes the record (<itsmig:its> and all it holds, as serialised)
 * may take: a larger one is unreadable (metadata_error says so). */
#define ITSMIG_METADATA_MAX (64 * 1024)

/* Whether the facts of a record read without error agree with each other
 * and with @now (unix seconds): an ABI revision among its host's revisions,
 * a register count and digest that can name the same list, no time after
 * @now (beyond a day of clock skew between hosts).  Fails with ITSMIG_ERROR_INVALID_DOMAIN_XML
 * naming the first disagreement: a record so made was written by hand, not by itsmig. */
gboolean itsmig_its_metadata_verify(const ItsmigItsMetadata *m, gint64 now, GError **error);

/* The element virDomainSetMetadata takes (root ITSMIG_METADATA_ROOT, no
 * namespace: libvirt adds it from the key and URI).  Fields not recorded
 * are left out. */
char *itsmig_its_metadata_to_xml(const ItsmigItsMetadata *m);

typedef struct {
    char *name;
    char *uuid;        /* NULL if not given */
    char *type;        /* domain type: kvm, qemu, test; NULL if not given */
    char *arch;        /* NULL if not given */
    char *machine;     /* NULL if not given */
    char *emulator;    /* <devices><emulator>; NULL if not given */
    char *gic_version; /* "2", "3", "4", "host"; NULL when unspecified */
    ItsmigItsPresence its;
    char *its_reason; /* one line saying why, never NULL */
    guint vcpus;
    guint max_vcpus;
    /* <cpu mode=...>: "host-passthrough", "host-model", "custom", "maximum";
     * NULL when the XML has no <cpu> mode. */
    char *cpu_mode;
    /* ItsmigVcpuFeature bits the XML turns off (<features><pmu state='off'/>,
     * <cpu><feature policy='disable' name='sve'/>) and on (state='on',
     * policy='require', an SVE vector length such as sve256). */
    guint32 vcpu_features_off;
    guint32 vcpu_features_on;
    GPtrArray *hostdevs;    /* ItsmigHostdev *, PCI hostdevs only, in document order */
    GPtrArray *msi_devices; /* ItsmigMsiDevice *, in document order */

    /* <metadata><itsmig:its>: has_metadata FALSE when absent; when present but
     * unreadable, FALSE too with metadata_error saying why (the domain XML
     * itself is still accepted: a bad record must not hide the domain). */
    gboolean has_metadata;
    char *metadata_error;
    ItsmigItsMetadata metadata;
} ItsmigDomainProfile;

/* @len may be -1 for a NUL-terminated @xml.  Fails with
 * ITSMIG_ERROR_INVALID_DOMAIN_XML on anything that is not a well-formed,
 * DTD-free, UTF-8 <domain> document of at most ITSMIG_DOMAIN_XML_MAX bytes. */
ItsmigDomainProfile *itsmig_domain_profile_parse(const char *xml, gssize len, GError **error);
void itsmig_domain_profile_free(ItsmigDomainProfile *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigDomainProfile, itsmig_domain_profile_free)

/* Adds one object value to @b (after a member name, or inside an array). */
void itsmig_domain_profile_to_json(const ItsmigDomainProfile *p, JsonBuilder *b);

/* Whether the domain has VFIO hostdevs (whose MSIs a GICv4 host may inject
 * directly as vLPIs). */
gboolean itsmig_domain_profile_has_vfio(const ItsmigDomainProfile *p);
/* Whether the guest's ITS is KVM's (domain type kvm) rather than QEMU's
 * emulation (type qemu, TCG), which the kernel's table ABI does not concern. */
gboolean itsmig_domain_profile_its_in_kernel(const ItsmigDomainProfile *p);

/* "unknown", "absent", "present". */
const char *itsmig_its_presence_to_string(ItsmigItsPresence p);

/* The element under <devices> whose <alias name=...> is @alias, serialised as
 * libvirt's attach and detach calls take it; ITSMIG_ERROR_NOT_FOUND when the
 * domain has no such device. */
char *itsmig_domain_device_xml(const char *xml, gssize len, const char *alias, GError **error);
