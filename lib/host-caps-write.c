/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host capabilities document's writer. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-caps-private.h"
#include "itsmig/error.h"
#include "itsmig/host-caps.h"
#include "itsmig/its-abi.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-regs-json.h"

/* ---- the document -------------------------------------------------------- */

static void regs_to_json(const ItsmigHostCaps *caps, JsonBuilder *b)
{
    ItsmigKvmRegSet unknown = {0};
    const ItsmigKvmRegSet *set = &caps->regs;

    if (!set->available && !set->unavailable_reason[0]) {
        g_strlcpy(unknown.unavailable_reason, "the register set was not probed",
                  sizeof(unknown.unavailable_reason));
        set = &unknown;
    }
    json_builder_set_member_name(b, "vcpu_registers");
    json_builder_add_value(b, itsmig_kvm_regs_to_json(set));
}

static void fact_errno(JsonBuilder *b, const char *name, int err, const char *how)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "errno");
    json_builder_add_int_value(b, err);
    itsmig_json_add_string_or_null(b, "measured_by", how);
    json_builder_end_object(b);
}

static void semantics_to_json(const ItsmigHostItsSemantics *s, JsonBuilder *b)
{
    json_builder_set_member_name(b, "its_semantics");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, itsmig_cap_source_to_string(s->source));
    if (s->source == ITSMIG_CAP_UNKNOWN) {
        itsmig_json_add_string_or_null(b, "reason",
                                       s->reason ? s->reason : "the vITS behaviour was not probed");
        json_builder_end_object(b);
        return;
    }
    fact_errno(b, "save_unreachable_device", s->facts.save_unreachable_device_errno,
               itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_SAVE_UNREACHABLE_DEVICE]);
    json_builder_set_member_name(b, "baser_write");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "keeps_mappings");
    json_builder_add_boolean_value(b, s->facts.baser_write_keeps_mappings);
    itsmig_json_add_string_or_null(
        b, "measured_by", itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_BASER_WRITE]);
    json_builder_end_object(b);
    fact_errno(b, "gicd_access_before_init", s->facts.gicd_access_before_init_errno,
               itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_GICD_BEFORE_INIT]);
    json_builder_end_object(b);
}

static void machine_types_to_json(const ItsmigHostMachineTypes *m, JsonBuilder *b)
{
    json_builder_set_member_name(b, "machine_types");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, itsmig_cap_source_to_string(m->source));
    if (m->source == ITSMIG_CAP_UNKNOWN) {
        itsmig_json_add_string_or_null(b, "reason",
                                       m->reason ? m->reason : "the machine types were not read");
        json_builder_end_object(b);
        return;
    }
    itsmig_json_add_string_or_null(b, "arch", m->arch);
    itsmig_json_add_string_or_null(b, "emulator", m->emulator);
    json_builder_set_member_name(b, "value");
    json_builder_begin_array(b);
    for (guint i = 0; m->names && m->names[i]; i++)
        json_builder_add_string_value(b, m->names[i]);
    json_builder_end_array(b);
    json_builder_end_object(b);
}

void itsmig_host_caps_to_json_members(const ItsmigHostCaps *caps, JsonBuilder *b)
{
    g_return_if_fail(caps != NULL);
    g_return_if_fail(b != NULL);

    json_builder_set_member_name(b, "schema");
    json_builder_add_string_value(b, ITSMIG_HOST_CAPS_SCHEMA);
    json_builder_set_member_name(b, "version");
    json_builder_add_int_value(b, ITSMIG_HOST_CAPS_VERSION);
    json_builder_set_member_name(b, "minor_version");
    json_builder_add_int_value(b, ITSMIG_HOST_CAPS_MINOR);
    json_builder_set_member_name(b, "hostname");
    json_builder_add_string_value(b, caps->hostname);

    json_builder_set_member_name(b, "probe");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "available");
    json_builder_add_boolean_value(b, caps->probe_unavailable_reason == NULL);
    json_builder_set_member_name(b, "reason");
    if (caps->probe_unavailable_reason)
        json_builder_add_string_value(b, caps->probe_unavailable_reason);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "caps");
    json_builder_begin_object(b);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        const ItsmigCapMeta *meta = &caps->meta[f];

        json_builder_set_member_name(b, host_caps_fields[f].name);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "value");
        if (meta->source == ITSMIG_CAP_UNKNOWN) {
            json_builder_add_null_value(b);
        } else {
            CapValue v;

            host_caps_value_peek(caps, f, &v);
            json_builder_add_value(b, host_caps_value_to_node(f, &v));
        }
        json_builder_set_member_name(b, "source");
        json_builder_add_string_value(b, itsmig_cap_source_to_string(meta->source));
        if (meta->conflict_probed) {
            JsonNode *probed = json_from_string(meta->conflict_probed, NULL);

            /* Only this file writes conflict_probed, always as valid JSON. */
            g_assert(probed != NULL);
            json_builder_set_member_name(b, "probed");
            json_builder_add_value(b, probed);
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "conflicts");
    json_builder_begin_array(b);
    for (guint f = 0; f < ITSMIG_CAP_LAST; f++) {
        if (caps->meta[f].conflict_probed)
            json_builder_add_string_value(b, host_caps_fields[f].name);
    }
    json_builder_end_array(b);

    regs_to_json(caps, b);
    semantics_to_json(&caps->its_semantics, b);
    machine_types_to_json(&caps->machine_types, b);
}
