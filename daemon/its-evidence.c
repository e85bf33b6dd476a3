/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "itsmig/json-strict.h"
#include "itsmig/qemu-log.h"
#include "daemon/its-evidence.h"

JsonNode *itsmigd_its_evidence(gboolean checked, const char *method, const char *reason,
                               const char *log, GPtrArray *errors, GPtrArray *lines)
{
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "checked");
    json_builder_add_boolean_value(b, checked);
    itsmig_json_add_string_or_null(b, "method", method);
    itsmig_json_add_string_or_null(b, "reason", reason);
    itsmig_json_add_string_or_null(b, "log", log);
    json_builder_set_member_name(b, "errors");
    json_builder_begin_array(b);
    for (guint i = 0; errors && i < errors->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(errors, i));
    json_builder_end_array(b);
    json_builder_set_member_name(b, "lines");
    json_builder_begin_array(b);
    for (guint i = 0; lines && i < lines->len; i++)
        json_builder_add_string_value(b, g_ptr_array_index(lines, i));
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *itsmigd_its_evidence_not_kvm(void)
{
    return itsmigd_its_evidence(FALSE, "not-applicable",
                                "the guest's ITS is not KVM's: QEMU's emulated ITS travels in the "
                                "migration stream",
                                NULL, NULL, NULL);
}

JsonNode *itsmigd_its_evidence_scan(const char *path, const char *data, gsize len, guint kinds,
                                    const char *what, const char *where, char **ret_first_error)
{
    g_autoptr(GPtrArray) findings = itsmig_qemu_log_scan(data, len);
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *reason = NULL;

    for (guint i = 0; i < findings->len; i++) {
        const ItsmigQemuLogFinding *f = g_ptr_array_index(findings, i);

        g_ptr_array_add(lines, g_strdup(f->line));
        if (kinds & (1u << f->kind))
            g_ptr_array_add(
                errors,
                g_strdup_printf("%s: %s", itsmig_qemu_log_kind_to_string(f->kind), f->line));
    }
    reason = errors->len ? g_strdup_printf("%s errors %s", what, where)
                         : g_strdup_printf("no %s error %s", what, where);
    *ret_first_error = errors->len ? g_strdup(g_ptr_array_index(errors, 0)) : NULL;
    return itsmigd_its_evidence(TRUE, "qemu-log", reason, path, errors, lines);
}
