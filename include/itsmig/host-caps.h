/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A host's capabilities for ITS migration: the versioned document that
 * GET /v1/host serves and that peers exchange (schema: docs/host-caps.schema.json).
 * Each field is probed (from the kernel, libvirt or the system), declared (in
 * itsmigd.conf, where probing is impossible or to pin a value), or unknown.  A
 * declared value that disagrees with a working probe is kept (the operator
 * pinned it) and reported as a conflict.
 */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/kvm-its.h"
#include "itsmig/kvm-regs.h"

/*
 * Versioning.  "version" is the major version: a reader refuses any other.
 * "minor_version" (absent means 0) counts additions within a major version,
 * and additions are only ever new top-level members, which readers of an
 * earlier minor version ignore: so a peer on minor 0 reads our documents, and
 * we read its documents, whose missing members then mean "not known" (its
 * register set and vITS behaviour are reported as unknown, never refused).
 * A document that claims a minor version must carry that version's members.
 *  - minor 0: schema, version, hostname, probe, caps, conflicts;
 *  - minor 1: vcpu_registers, its_semantics;
 *  - minor 2: machine_types.
 */
#define ITSMIG_HOST_CAPS_VERSION 1
#define ITSMIG_HOST_CAPS_MINOR   2
#define ITSMIG_HOST_CAPS_SCHEMA  "itsmig-host-caps"
/* Limit on a peer's document, in bytes. */
#define ITSMIG_HOST_CAPS_MAX (256 * 1024)

typedef enum {
    ITSMIG_CAP_UNKNOWN, /* neither probed nor declared: "unknown", value null */
    ITSMIG_CAP_PROBED,
    ITSMIG_CAP_DECLARED,

    ITSMIG_CAP_SOURCE_LAST
} ItsmigCapSource;

/* The fields, in document order.  Their names (itsmig_cap_field_to_string)
 * are the JSON member names; the config keys are the same with '-' for '_'. */
typedef enum {
    ITSMIG_CAP_ARCH,                     /* string: "aarch64" */
    ITSMIG_CAP_PAGE_SIZE,                /* integer: 4096, 16384, 65536 */
    ITSMIG_CAP_KERNEL_RELEASE,           /* string */
    ITSMIG_CAP_QEMU_VERSION,             /* string "major.minor.micro" */
    ITSMIG_CAP_LIBVIRT_VERSION,          /* string "major.minor.micro" */
    ITSMIG_CAP_VGIC_ITS,                 /* boolean: KVM gives guests a GICv3 with an ITS */
    ITSMIG_CAP_ITS_ABI_REVISIONS,        /* array of integers 0..15, ascending */
    ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION, /* integer 0..15, one of the above */
    ITSMIG_CAP_GICD_REVISION,            /* integer 0..15: GICD_IIDR.Revision a new VM gets */
    ITSMIG_CAP_GICV4,                    /* string: "none", "4.0", "4.1" */
    ITSMIG_CAP_SAVE_TABLES,              /* boolean: KVM_DEV_ARM_ITS_SAVE_TABLES */
    ITSMIG_CAP_RESTORE_TABLES,           /* boolean: KVM_DEV_ARM_ITS_RESTORE_TABLES */
    ITSMIG_CAP_CTRL_RESET,               /* boolean: KVM_DEV_ARM_ITS_CTRL_RESET */
    ITSMIG_CAP_SAVE_PENDING_TABLES,      /* boolean: KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES */

    ITSMIG_CAP_LAST
} ItsmigCapField;

typedef struct {
    ItsmigCapSource source;
    /* Set only when a declared value overrode a probe that said otherwise:
     * the probe's value as compact JSON text ("[0]", "true", "\"6.1.0\""). */
    char *conflict_probed;
} ItsmigCapMeta;

/* The vITS behaviour facts (ItsmigKvmItsSemantics) as the document carries them. */
typedef struct {
    ItsmigCapSource source; /* UNKNOWN or PROBED */
    char *reason;           /* why it is unknown; NULL when probed */
    ItsmigKvmItsSemantics facts;
} ItsmigHostItsSemantics;

/* The machine types the host's QEMU offers guests of one architecture, as
 * libvirt's capabilities list them (names and aliases: "virt", "virt-7.2").
 * A guest whose machine type is not among them cannot start there, so an
 * incoming migration or a restore of it fails before QEMU runs.  libvirt
 * checks a guest against its own <emulator>'s machines for its domain type;
 * the list is the union over the domain types of the architecture's default
 * emulator, so it is exact for guests of that emulator (in practice the
 * same for kvm and qemu), and says nothing of other emulators. */
typedef struct {
    ItsmigCapSource source; /* UNKNOWN or PROBED */
    char *reason;           /* why it is unknown; NULL when probed */
    char *arch;             /* the architecture the names are for; NULL when unknown */
    char *emulator;         /* the emulator they are of; NULL when unknown or not given */
    char **names;           /* sorted, without duplicates; NULL when unknown */
} ItsmigHostMachineTypes;

/* At most this many machine types, each a name of at most
 * ITSMIG_MACHINE_TYPE_NAME_MAX bytes of letters, digits and "._+-". */
#define ITSMIG_MACHINE_TYPES_MAX     512
#define ITSMIG_MACHINE_TYPE_NAME_MAX 64

typedef struct {
    char *hostname; /* never NULL once built or parsed */
    /* The minor version of the document it was read from (ITSMIG_HOST_CAPS_MINOR
     * when built here): 0 means a peer that predates regs and its_semantics,
     * 1 one that predates machine_types. */
    guint minor_version;
    /* Why the KVM probe could not run; NULL when it ran. */
    char *probe_unavailable_reason;

    ItsmigCapMeta meta[ITSMIG_CAP_LAST];

    /* Values; meaningful only when meta[field].source != ITSMIG_CAP_UNKNOWN. */
    char *arch;
    guint page_size;
    char *kernel_release;
    char *qemu_version;
    char *libvirt_version;
    gboolean vgic_its;
    guint16 its_abi_revisions; /* bit n: revision n */
    guint default_its_abi_revision;
    guint gicd_revision;
    ItsmigGicv4Level gicv4; /* never ITSMIG_GICV4_UNKNOWN when known */
    gboolean save_tables;
    gboolean restore_tables;
    gboolean ctrl_reset;
    gboolean save_pending_tables;

    /* The vCPU register set of a host-passthrough vCPU with the default
     * features (itsmig/kvm-regs.h): regs.available FALSE with the reason when
     * it is unknown (no probe, or a peer that predates it).  regs_digest is
     * itsmig_kvm_regs_digest() of it, NULL when unknown: hosts with the same
     * digest list the same registers. */
    ItsmigKvmRegSet regs;
    char *regs_digest;
    ItsmigHostItsSemantics its_semantics;
    ItsmigHostMachineTypes machine_types;
} ItsmigHostCaps;

/* All fields unknown. */
ItsmigHostCaps *itsmig_host_caps_new(const char *hostname);
void itsmig_host_caps_free(ItsmigHostCaps *caps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigHostCaps, itsmig_host_caps_free)
ItsmigHostCaps *itsmig_host_caps_copy(const ItsmigHostCaps *caps);

/* Sets the register set from the probe's (a copy): unknown with its reason
 * when the probe could not run. */
void itsmig_host_caps_set_regs(ItsmigHostCaps *caps, const ItsmigKvmRegSet *set);

/* Sets the machine types from libvirt's capabilities XML (virConnectGetCapabilities):
 * those of the host's own architecture (<host><cpu><arch>), for hvm guests,
 * under the emulator and under each domain type, aliases included.  The
 * machine types become unknown with the reason when the XML cannot be read,
 * names no host architecture, has no hvm guest of it with a machine (libvirt
 * leaves out an emulator it could not probe), or lists a name, an emulator or
 * more names than the document carries; FALSE then, with the same reason in
 * @error
 * (ITSMIG_ERROR_INVALID_ARGUMENT). */
gboolean itsmig_host_caps_set_machine_types_from_libvirt(ItsmigHostCaps *caps, const char *xml,
                                                         gsize len, GError **error);
/* Makes the machine types unknown, for @reason (control characters blanked,
 * cut to what the document carries). */
void itsmig_host_caps_set_machine_types_unknown(ItsmigHostCaps *caps, const char *reason);
/* Whether @caps knows the machine types of guests of @arch run by @emulator
 * (NULL: the default one), and if so, whether @machine is among them (in
 * *@ret_offered). */
gboolean itsmig_host_caps_machine_type_known(const ItsmigHostCaps *caps, const char *arch,
                                             const char *emulator, const char *machine,
                                             gboolean *ret_offered);

/* "its_abi_revisions"; NULL out of range. */
const char *itsmig_cap_field_to_string(ItsmigCapField field);
/* Accepts the JSON name or the config key ("its-abi-revisions"). */
gboolean itsmig_cap_field_from_string(const char *name, ItsmigCapField *ret_field);
/* "unknown", "probed", "declared". */
const char *itsmig_cap_source_to_string(ItsmigCapSource source);

/* Sets the fields the KVM probe learns as probed: ARCH and KERNEL_RELEASE
 * when it read them (and they are text the document can carry), and when it
 * ran VGIC_ITS, the revisions, GICD revision, GICv4 level (unless the kernel
 * did not say) and the four attributes.  An unavailable probe leaves those
 * as they are and records its reason (control characters blanked); VGIC_ITS
 * is then probed false only when the host is not arm64.  A declared field
 * keeps its value, and a probe that disagrees becomes its conflict. */
void itsmig_host_caps_set_probe(ItsmigHostCaps *caps, const ItsmigKvmItsCaps *kvm);

/*
 * Sets @field from @text, in itsmigd.conf's syntax: strings as they are (at
 * most 256 bytes of UTF-8, no control characters), versions as
 * major.minor[.micro]; integers in decimal; booleans true/false/yes/no; ABI
 * revisions as integers separated by ',' or ';', or "none"; GICv4 as none,
 * 4.0 or 4.1.  @source is probed or declared.  Probe and declaration may come
 * in either order: the declared value wins and a probe that differs is
 * recorded as the conflict.  A field is declared once (again with the same
 * value is harmless).  Fails with ITSMIG_ERROR_INVALID_ARGUMENT naming the
 * field (as a config key) and the accepted values; @caps is unchanged then.
 */
gboolean itsmig_host_caps_set(ItsmigHostCaps *caps, ItsmigCapField field, ItsmigCapSource source,
                              const char *text, GError **error);

/* Checks what the document requires beyond types, the contradictions of a
 * peer that lies: the default revision is one of the supported ones; a vITS
 * exists on arm64 only; a host without a vITS lists no revisions, no default
 * revision and none of the ITS attributes (unless an operator declared the
 * vITS away over a probe that found one, which is a conflict instead).  The
 * first inconsistency is the error, ITSMIG_ERROR_INVALID_HOST_CAPS. */
gboolean itsmig_host_caps_check(const ItsmigHostCaps *caps, GError **error);

/* Whether @rev is known to be supported (FALSE when the field is unknown). */
gboolean itsmig_host_caps_has_revision(const ItsmigHostCaps *caps, guint rev);
/* The fields with conflicts, as a count. */
guint itsmig_host_caps_n_conflicts(const ItsmigHostCaps *caps);

/* Adds the document's members to an object @b has begun (so that the daemon
 * can add its own members around them). */
void itsmig_host_caps_to_json_members(const ItsmigHostCaps *caps, JsonBuilder *b);

/* Parses and validates a document (a peer's GET /v1/host): at most
 * ITSMIG_HOST_CAPS_MAX bytes of strict RFC 8259 JSON nested at most 32 deep,
 * schema and version, every field's type and range, the register set
 * (itsmig_kvm_regs_from_json(): at most ITSMIG_KVM_REGS_MAX registers,
 * ascending without duplicates, count and digest matching the list; and
 * here: sizes KVM has, values only on ID and firmware registers and within
 * their width) and the vITS facts, then itsmig_host_caps_check().  Members
 * this version does not know are ignored at the top level and refused inside
 * "caps", "probe", each field, "vcpu_registers" and "its_semantics".  A minor-0
 * document gives a register set and vITS facts of source unknown.  @len
 * may be -1 for NUL-terminated @text.  Fails with ITSMIG_ERROR_INVALID_JSON
 * for text that is not JSON and ITSMIG_ERROR_INVALID_HOST_CAPS for a document
 * that breaks the schema or contradicts itself; the message names the member
 * ("caps.its_abi_revisions.value: revision 16 is outside 0..15"). */
ItsmigHostCaps *itsmig_host_caps_from_json(const char *text, gssize len, GError **error);
