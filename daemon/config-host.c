/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include "itsmig/error.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-regs-json.h"
#include "itsmig/secret-file.h"
#include "daemon/config-private.h"

/* [host] of itsmigd.conf: capabilities declared rather than probed, and the
 * vCPU register set measured elsewhere. */

gboolean itsmigd_read_regs_file(const char *path, ItsmigKvmRegSet *ret_set, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    JsonNode *root;
    JsonNode *node;
    gsize len;

    memset(ret_set, 0, sizeof(*ret_set));
    /* Not g_file_get_contents(): a FIFO would block the daemon's start, and
     * /dev/zero would be read until memory ran out. */
    if (!itsmig_secret_file_read(path, ITSMIGD_REGS_FILE_MAX, ITSMIG_SECRET_FILE_REGULAR, &text,
                                 &len, error))
        return FALSE;
    if (!itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, path, &local) ||
        !json_parser_load_from_data(parser, text, len, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "%s", local->message);
        return FALSE;
    }
    root = json_parser_get_root(parser);
    node = root && JSON_NODE_HOLDS_OBJECT(root) &&
                   json_object_has_member(json_node_get_object(root), "vcpu_registers")
               ? json_object_get_member(json_node_get_object(root), "vcpu_registers")
               : root;
    if (!itsmig_kvm_regs_from_json(node, path, ret_set, &local)) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG, "%s", local->message);
        return FALSE;
    }
    if (!ret_set->available) {
        itsmig_kvm_regs_clear(ret_set);
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG,
                    "%s: the register set it holds is unavailable", path);
        return FALSE;
    }
    return TRUE;
}

/* [host]: each key a capability field; the value is checked the way it
 * will be applied, so that a bad one stops the daemon at start. */
static void read_regs_file_key(ItsmigdConfig *c, const char *key, char **value, GError **error)
{
    g_autoptr(GError) local = NULL;
    ItsmigKvmRegSet set;

    if (!g_path_is_absolute(*value)) {
        itsmigd_config_error(error, c->path, "host", key, "must be an absolute path");
        return;
    }
    if (!itsmigd_read_regs_file(*value, &set, &local)) {
        itsmigd_config_error(error, c->path, "host", key, "%s", local->message);
        return;
    }
    itsmig_kvm_regs_clear(&set);
    g_free(c->host_regs_file);
    c->host_regs_file = g_steal_pointer(value);
}

/* @data: a scratch ItsmigHostCaps the value is tried on. */
static void read_host_key(ItsmigdConfig *c, GKeyFile *kf, const char *key, char **value,
                          gpointer data, GError **error)
{
    g_autoptr(GError) local = NULL;
    ItsmigCapField field;

    if (!strcmp(key, "vcpu-registers-file")) {
        read_regs_file_key(c, key, value, error);
        return;
    }
    /* Unknown keys were reported with the others. */
    if (!itsmig_cap_field_from_string(key, &field))
        return;
    if (!itsmig_host_caps_set(data, field, ITSMIG_CAP_DECLARED, *value, &local)) {
        itsmigd_config_error(error, c->path, "host", key, "%s", local->message);
        return;
    }
    g_free(c->declared[field]);
    c->declared[field] = g_steal_pointer(value);
}

gboolean itsmigd_config_read_host(ItsmigdConfig *c, GKeyFile *kf, GError **error)
{
    g_autoptr(ItsmigHostCaps) scratch = itsmig_host_caps_new("config");

    return itsmigd_config_read_group(c, kf, "host", read_host_key, scratch, error) &&
           (!error || !*error);
}
