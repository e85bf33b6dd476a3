/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The vCPU register set (itsmig/kvm-regs.h) as JSON, written by this host and
 * read back strictly from documents others wrote (a peer's host capabilities,
 * the probe data files of tests/data/probe/).  The shape:
 *
 *   {"available": true, "unavailable_reason": null,
 *    "features": ["psci-0.2", "pmu", "sve", "ptrauth"],
 *    "writable_masks": true,
 *    "count": 2, "digest": "sha256:<64 hex digits>",
 *    "registers": [
 *      {"id": "0x6030000000100000"},
 *      {"id": "0x603000000013c020", "value": "0x0000000000000011",
 *       "writable": "0x00000000000000f0", "needs": ["pmu"]}]}
 *
 * Ids are 16 hex digits, ascending, each once; "value" and "writable" appear
 * only where the probe took them, "needs" only where a register needs an
 * optional vCPU feature.  Without a probe, "available" is false, the reason
 * a string, and features, count, digest and registers are null.
 */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/kvm-its.h"
#include "itsmig/kvm-regs.h"

/* "sha256:" and the SHA-256 of the ids in order, each as 16 lowercase hex
 * digits and a newline: equal digests mean equal register lists. */
char *itsmig_kvm_regs_digest(const ItsmigKvmRegSet *set);

JsonNode *itsmig_kvm_regs_to_json(const ItsmigKvmRegSet *set);
/* Member @member of the object being built: the names of @features, in bit order. */
void itsmig_vcpu_features_to_json(JsonBuilder *b, const char *member, guint32 features);

/*
 * Reads what itsmig_kvm_regs_to_json() writes, refusing (with
 * ITSMIG_ERROR_INVALID_HOST_CAPS and the path of the bad member, @what naming
 * the document) anything else: unknown members, more than
 * ITSMIG_KVM_REGS_MAX registers, a count or digest that contradicts the
 * list, ids that are not 16 hex digits of an arm64 register, not ascending or
 * repeated, unknown feature names, a register that needs a feature the set
 * says the vCPU did not have.  On success @ret_set holds the set (clear it
 * with itsmig_kvm_regs_clear()); on failure it is left empty.
 */
gboolean itsmig_kvm_regs_from_json(JsonNode *node, const char *what, ItsmigKvmRegSet *ret_set,
                                   GError **error);

/* What `itsmigctl host probe --json` prints: the ITS probe's object
 * (itsmig_kvm_its_caps_to_json()) with the register set as member
 * "vcpu_registers". */
JsonNode *itsmig_kvm_probe_to_json(const ItsmigKvmItsCaps *caps, const ItsmigKvmRegSet *regs);
