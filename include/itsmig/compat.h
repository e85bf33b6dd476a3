/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Can this guest's ITS state be restored on that host, and will its
 * interrupts survive the move?  A pure function of the domain's ITS profile,
 * the source's and the destination's capabilities, the other hosts known and
 * a policy, giving a verdict: allowed or not, with blockers and warnings.
 * Every rule has a stable code (the strings below; itsmig-compat(7) gives
 * each one's meaning and fix), a one-line message naming the values involved
 * and a hint.  Nothing here does I/O.
 */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/domain-profile.h"
#include "itsmig/host-caps.h"

typedef enum {
    /* Blockers by default. */
    ITSMIG_RULE_HOST_CAPS_UNKNOWN,    /* "host-caps-unknown": a fact a rule needs is unknown */
    ITSMIG_RULE_ARCH_MISMATCH,        /* "arch-mismatch" */
    ITSMIG_RULE_GIC_VERSION_MISMATCH, /* "gic-version-mismatch": no vGICv3+ITS on the destination */
    ITSMIG_RULE_ITS_ABI_UNSUPPORTED,  /* "its-abi-unsupported" */
    ITSMIG_RULE_ITS_RESTORE_UNSUPPORTED, /* "its-restore-unsupported" */
    ITSMIG_RULE_ITS_SAVE_UNSUPPORTED,    /* "its-save-unsupported": the source cannot save */
    ITSMIG_RULE_GICV4_DIRECT_INJECTION,  /* "gicv4-direct-injection": GICv4.0 source, VFIO, no
                                            quiesce */
    ITSMIG_RULE_HOSTDEV_NOT_MIGRATABLE,  /* "hostdev-not-migratable": and no quiesce */
    ITSMIG_RULE_EARLY_BOOT_NO_ITS_RESET, /* "early-boot-no-its-reset" */
    ITSMIG_RULE_VCPU_REGISTERS_MISSING,  /* "vcpu-registers-missing": the destination's KVM
                                            lacks registers the source's QEMU sends */
    ITSMIG_RULE_VCPU_REGISTER_VALUE_UNSUPPORTED, /* "vcpu-register-value-unsupported": an ID or
                                                    firmware value the destination refuses */
    ITSMIG_RULE_MACHINE_TYPE_UNSUPPORTED,        /* "machine-type-unsupported": the destination's
                                                    QEMU lacks the guest's machine type */
    /* Warnings by default. */
    ITSMIG_RULE_NO_PENDING_TABLE_SAVE, /* "no-pending-table-save" */
    ITSMIG_RULE_GICD_REVISION_CHANGE,  /* "gicd-revision-change" */
    ITSMIG_RULE_ONE_WAY_MOVE,          /* "one-way-move" */
    ITSMIG_RULE_PROFILE_FALLBACK,      /* "its-profile-fallback": no metadata, host default used */
    ITSMIG_RULE_SOURCE_UNKNOWN,        /* "source-unknown": no source facts, source rules skipped */
    ITSMIG_RULE_HOST_CAPS_CONFLICT, /* "host-caps-conflict": a declared value overrides the probe */
    ITSMIG_RULE_HOSTDEV_QUIESCED,   /* "hostdev-quiesced": devices detached for the move */
    ITSMIG_RULE_PAGE_SIZE_MISMATCH, /* "page-size-mismatch" */
    ITSMIG_RULE_VCPU_REGISTERS_UNKNOWN,    /* "vcpu-registers-unknown": a register set is unknown */
    ITSMIG_RULE_ITS_SAVE_SEMANTICS_DIFFER, /* "its-save-semantics-differ" */

    ITSMIG_RULE_LAST
} ItsmigRule;

typedef enum {
    ITSMIG_VERDICT_OFF, /* not reported */
    ITSMIG_VERDICT_WARNING,
    ITSMIG_VERDICT_BLOCKER,

    ITSMIG_VERDICT_SEVERITY_LAST
} ItsmigVerdictSeverity;

/* "its-abi-unsupported"; NULL out of range. */
const char *itsmig_rule_to_string(ItsmigRule rule);
gboolean itsmig_rule_from_string(const char *code, ItsmigRule *ret_rule);
/* "off", "warning", "blocker". */
const char *itsmig_verdict_severity_to_string(ItsmigVerdictSeverity severity);
gboolean itsmig_verdict_severity_from_string(const char *text, ItsmigVerdictSeverity *ret_severity);
ItsmigVerdictSeverity itsmig_rule_default_severity(ItsmigRule rule);
/* Rules whose blocker means the migration fails for certain (the destination
 * QEMU would abort, or the kernel refuse): policy may not lower them. */
gboolean itsmig_rule_is_fixed(ItsmigRule rule);

typedef struct {
    ItsmigVerdictSeverity severity[ITSMIG_RULE_LAST];
    /* The migration detaches devices that cannot migrate before the source
     * pauses and re-attaches them after (itsmigd's own migrations do; a plain
     * virsh migrate does not). */
    gboolean quiesce;
    /* A guest that started or reset less than this many seconds ago is in
     * early boot (ITS tables not yet provisioned). */
    guint early_boot_window;
    /* Apply the kernel ITS rules to guests whose ITS QEMU emulates (TCG). */
    gboolean check_emulated;
} ItsmigCompatPolicy;

/* Default severities, quiesce TRUE, early_boot_window 300, check_emulated FALSE. */
void itsmig_compat_policy_init(ItsmigCompatPolicy *policy);
/* Sets one rule's severity from the config's words; refuses to lower a fixed
 * rule (ITSMIG_ERROR_INVALID_ARGUMENT, naming the rule and why). */
gboolean itsmig_compat_policy_set(ItsmigCompatPolicy *policy, const char *code,
                                  const char *severity, GError **error);

typedef struct {
    const ItsmigDomainProfile *domain;
    /* NULL when the source is not known (the hook on the destination): the
     * host record in the domain's metadata stands in for it, and the
     * register set its digest names among @known. */
    const ItsmigHostCaps *source;
    const ItsmigHostCaps *destination;
    /* Other hosts known (configured peers with capabilities at hand), for
     * the one-way rule; the source and destination may be among them. */
    const ItsmigHostCaps *const *known;
    gsize n_known;
    gint64 now; /* unix seconds, for the early-boot window */
} ItsmigCompatInput;

typedef struct {
    ItsmigRule rule;
    ItsmigVerdictSeverity severity; /* WARNING or BLOCKER, after policy */
    char *message;                  /* one line naming the values involved */
    char *hint;                     /* one line: what to do about it */
} ItsmigVerdictItem;

typedef struct {
    gboolean allowed; /* no blockers */
    /* The domain's effective ITS ABI revision (-1 unknown) and where it came
     * from: "metadata", "host-default" (metadata missing), "unknown", or
     * "none" for a guest without an ITS. */
    int its_abi_revision;
    const char *its_abi_revision_origin;
    gboolean direct_injection; /* GICv4 source + VFIO device + KVM's ITS */
    GPtrArray *blockers;       /* ItsmigVerdictItem *, in rule order */
    GPtrArray *warnings;       /* ItsmigVerdictItem *, in rule order */
} ItsmigVerdict;

/* @policy NULL means the defaults; a fixed rule is a blocker whatever the
 * policy says.  @input's domain and destination are required. */
ItsmigVerdict *itsmig_compat_check(const ItsmigCompatInput *input,
                                   const ItsmigCompatPolicy *policy);
void itsmig_verdict_free(ItsmigVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigVerdict, itsmig_verdict_free)

/* Whether @rule is among the verdict's blockers (or warnings). */
gboolean itsmig_verdict_has(const ItsmigVerdict *verdict, ItsmigRule rule);

/* Adds the verdict's members to an object @b has begun: "allowed",
 * "its_abi_revision", "its_abi_revision_origin", "direct_injection",
 * "blockers" and "warnings" ([{"code","message","hint"}]). */
void itsmig_verdict_to_json_members(const ItsmigVerdict *verdict, JsonBuilder *b);
/* The blockers as one line for people: "code: message; code: message". */
char *itsmig_verdict_blockers_line(const ItsmigVerdict *verdict);
