/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "itsmig/diag.h"
#include "itsmig/its-abi.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-its-json.h"

static void add_string_take(JsonBuilder *b, const char *key, char *value)
{
    json_builder_set_member_name(b, key);
    json_builder_add_string_value(b, value);
    g_free(value);
}

static void add_null(JsonBuilder *b, const char *key)
{
    json_builder_set_member_name(b, key);
    json_builder_add_null_value(b);
}

static void add_errno_or_null(JsonBuilder *b, const char *key, int err)
{
    char buf[32];

    json_builder_set_member_name(b, key);
    if (err)
        json_builder_add_string_value(b, itsmig_errno_label(err, buf, sizeof(buf)));
    else
        json_builder_add_null_value(b);
}

static void add_how(JsonBuilder *b, ItsmigKvmItsSemanticsFact fact)
{
    itsmig_json_add_string_or_null(b, "how", itsmig_kvm_its_semantics_method[fact]);
}

/* Each fact with how it was measured; null facts when it was not. */
static void add_semantics(JsonBuilder *b, const ItsmigKvmItsSemantics *sem)
{
    json_builder_set_member_name(b, "semantics");
    json_builder_begin_object(b);
    itsmig_json_add_bool(b, "measured", sem->measured);
    if (!sem->measured) {
        add_null(b, "save_unreachable_device");
        add_null(b, "baser_write");
        add_null(b, "gicd_access_before_init");
        json_builder_end_object(b);
        return;
    }

    json_builder_set_member_name(b, "save_unreachable_device");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "outcome",
                                   sem->save_unreachable_device_errno ? "fails" : "skips");
    add_errno_or_null(b, "errno", sem->save_unreachable_device_errno);
    add_how(b, ITSMIG_KVM_ITS_SEMANTICS_SAVE_UNREACHABLE_DEVICE);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "baser_write");
    json_builder_begin_object(b);
    itsmig_json_add_bool(b, "keeps_mappings", sem->baser_write_keeps_mappings);
    add_how(b, ITSMIG_KVM_ITS_SEMANTICS_BASER_WRITE);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "gicd_access_before_init");
    json_builder_begin_object(b);
    add_errno_or_null(b, "errno", sem->gicd_access_before_init_errno);
    add_how(b, ITSMIG_KVM_ITS_SEMANTICS_GICD_BEFORE_INIT);
    json_builder_end_object(b);

    json_builder_end_object(b);
}

static void add_revisions(JsonBuilder *b, const ItsmigKvmItsCaps *caps)
{
    json_builder_set_member_name(b, "its_abi_revisions");
    json_builder_begin_array(b);
    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        if (itsmig_kvm_its_caps_has_revision(caps, rev))
            json_builder_add_int_value(b, rev);
    }
    json_builder_end_array(b);

    /* Why each other revision was refused. */
    json_builder_set_member_name(b, "its_abi_revision_errors");
    json_builder_begin_object(b);
    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        char key[8], buf[32];

        if (itsmig_kvm_its_caps_has_revision(caps, rev))
            continue;
        snprintf(key, sizeof(key), "%u", rev);
        itsmig_json_add_string_or_null(
            b, key, itsmig_errno_label(caps->abi_revision_errno[rev], buf, sizeof(buf)));
    }
    json_builder_end_object(b);
    itsmig_json_add_int(b, "default_abi_revision", caps->default_abi_revision);
}

static void add_attributes(JsonBuilder *b, const ItsmigKvmItsCaps *caps)
{
    json_builder_set_member_name(b, "attributes");
    json_builder_begin_object(b);
    itsmig_json_add_bool(b, "ctrl_reset", caps->has_ctrl_reset);
    itsmig_json_add_bool(b, "save_tables", caps->has_save_tables);
    itsmig_json_add_bool(b, "restore_tables", caps->has_restore_tables);
    itsmig_json_add_bool(b, "save_pending_tables", caps->has_save_pending_tables);
    json_builder_end_object(b);
}

JsonNode *itsmig_kvm_its_caps_to_json(const ItsmigKvmItsCaps *caps)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    static const char *const probed_keys[] = {
        "its_abi_revisions",
        "its_abi_revision_errors",
        "default_abi_revision",
        "gits_iidr",
        "gits_typer",
        "attributes",
        "gicd_iidr",
        "gicd_revision",
        "gicv4",
        "semantics",
    };

    json_builder_begin_object(b);
    itsmig_json_add_bool(b, "available", caps->available);
    itsmig_json_add_string_or_null(b, "unavailable_reason",
                                   caps->available ? NULL : caps->unavailable_reason);
    itsmig_json_add_string_or_null(b, "kernel_release", caps->kernel_release);
    itsmig_json_add_string_or_null(b, "arch", caps->arch);

    if (!caps->available) {
        /* Same keys either way, so consumers need not test for them. */
        for (size_t i = 0; i < G_N_ELEMENTS(probed_keys); i++)
            add_null(b, probed_keys[i]);
        json_builder_end_object(b);
        return json_builder_get_root(b);
    }

    add_revisions(b, caps);
    add_string_take(b, "gits_iidr", g_strdup_printf("0x%08" PRIx32, caps->gits_iidr));
    add_string_take(b, "gits_typer", g_strdup_printf("0x%016" PRIx64, caps->gits_typer));
    add_attributes(b, caps);
    add_string_take(b, "gicd_iidr", g_strdup_printf("0x%08" PRIx32, caps->gicd_iidr));
    itsmig_json_add_int(b, "gicd_revision", caps->gicd_revision);

    json_builder_set_member_name(b, "gicv4");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "level", itsmig_gicv4_level_to_string(caps->gicv4));
    itsmig_json_add_string_or_null(b, "source", caps->gicv4_source);
    json_builder_end_object(b);

    add_semantics(b, &caps->semantics);

    json_builder_end_object(b);
    return json_builder_get_root(b);
}
