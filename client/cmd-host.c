/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "itsmigctl.h"

#include "itsmig/its-abi.h"
#include "itsmig/kvm-its.h"

static const char host_help[] =
    "Usage: itsmigctl host probe [--json]\n"
    "\n"
    "Asks this host's kernel, through a scratch KVM VM with a vGICv3 and an\n"
    "in-kernel ITS, what it supports for saving and restoring a guest's ITS:\n"
    "the ITS table ABI revisions it accepts, the save/restore/reset controls,\n"
    "the vGIC implementation revision (GICD_IIDR) and the host's GICv4 level.\n"
    "\n"
    "Options:\n"
    "  --json    print one JSON object instead of text\n"
    "\n"
    "Exit status: 0 probed, 1 probing is not possible here (the reason is\n"
    "printed) or failed, 2 bad arguments.\n";

static const char *errno_label(int errnum, char *buf, size_t size)
{
    const char *name = itsmig_errno_name(errnum);

    if (name)
        return name;
    snprintf(buf, size, "errno %d", errnum);
    return buf;
}

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

static JsonNode *caps_to_json(const ItsmigKvmItsCaps *caps)
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
    };

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "available");
    json_builder_add_boolean_value(b, caps->available);
    json_builder_set_member_name(b, "unavailable_reason");
    if (caps->available)
        json_builder_add_null_value(b);
    else
        json_builder_add_string_value(b, caps->unavailable_reason);
    json_builder_set_member_name(b, "kernel_release");
    json_builder_add_string_value(b, caps->kernel_release);
    json_builder_set_member_name(b, "arch");
    json_builder_add_string_value(b, caps->arch);

    if (!caps->available) {
        /* Same keys either way, so consumers need not test for them. */
        for (size_t i = 0; i < G_N_ELEMENTS(probed_keys); i++)
            add_null(b, probed_keys[i]);
        json_builder_end_object(b);
        return json_builder_get_root(b);
    }

    json_builder_set_member_name(b, "its_abi_revisions");
    json_builder_begin_array(b);
    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        if (itsmig_kvm_its_caps_has_revision(caps, rev))
            json_builder_add_int_value(b, rev);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "its_abi_revision_errors");
    json_builder_begin_object(b);
    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        char key[8], buf[32];

        if (itsmig_kvm_its_caps_has_revision(caps, rev))
            continue;
        snprintf(key, sizeof(key), "%u", rev);
        json_builder_set_member_name(b, key);
        json_builder_add_string_value(b,
                                      errno_label(caps->abi_revision_errno[rev], buf, sizeof(buf)));
    }
    json_builder_end_object(b);

    json_builder_set_member_name(b, "default_abi_revision");
    json_builder_add_int_value(b, caps->default_abi_revision);
    add_string_take(b, "gits_iidr", g_strdup_printf("0x%08" PRIx32, caps->gits_iidr));
    add_string_take(b, "gits_typer", g_strdup_printf("0x%016" PRIx64, caps->gits_typer));

    json_builder_set_member_name(b, "attributes");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "ctrl_reset");
    json_builder_add_boolean_value(b, caps->has_ctrl_reset);
    json_builder_set_member_name(b, "save_tables");
    json_builder_add_boolean_value(b, caps->has_save_tables);
    json_builder_set_member_name(b, "restore_tables");
    json_builder_add_boolean_value(b, caps->has_restore_tables);
    json_builder_set_member_name(b, "save_pending_tables");
    json_builder_add_boolean_value(b, caps->has_save_pending_tables);
    json_builder_end_object(b);

    add_string_take(b, "gicd_iidr", g_strdup_printf("0x%08" PRIx32, caps->gicd_iidr));
    json_builder_set_member_name(b, "gicd_revision");
    json_builder_add_int_value(b, caps->gicd_revision);

    json_builder_set_member_name(b, "gicv4");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "level");
    json_builder_add_string_value(b, itsmig_gicv4_level_to_string(caps->gicv4));
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, caps->gicv4_source);
    json_builder_end_object(b);

    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static const char *yes_no(bool v)
{
    return v ? "yes" : "no";
}

/* "1-15 EINVAL" style: runs of rejected revisions sharing one errno. */
static char *rejected_revisions(const ItsmigKvmItsCaps *caps)
{
    g_autoptr(GString) s = g_string_new(NULL);
    unsigned rev = 0;

    while (rev <= ITSMIG_ITS_ABI_REV_MAX) {
        unsigned end = rev;
        char buf[32];
        int err;

        if (itsmig_kvm_its_caps_has_revision(caps, rev)) {
            rev++;
            continue;
        }
        err = caps->abi_revision_errno[rev];
        while (end + 1 <= ITSMIG_ITS_ABI_REV_MAX &&
               !itsmig_kvm_its_caps_has_revision(caps, end + 1) &&
               caps->abi_revision_errno[end + 1] == err)
            end++;
        if (s->len)
            g_string_append(s, ", ");
        if (end == rev)
            g_string_append_printf(s, "%u", rev);
        else
            g_string_append_printf(s, "%u-%u", rev, end);
        g_string_append_printf(s, " %s", errno_label(err, buf, sizeof(buf)));
        rev = end + 1;
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static void print_caps_text(const ItsmigKvmItsCaps *caps)
{
    g_autoptr(GString) accepted = g_string_new(NULL);
    g_autofree char *rejected = NULL;
    ItsmigGitsTyper t;

    if (!caps->available) {
        printf("KVM ITS probing is not possible on this host (Linux %s, %s):\n  %s\n",
               caps->kernel_release, caps->arch, caps->unavailable_reason);
        return;
    }

    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        if (itsmig_kvm_its_caps_has_revision(caps, rev))
            g_string_append_printf(accepted, "%s%u", accepted->len ? ", " : "", rev);
    }
    rejected = rejected_revisions(caps);
    itsmig_gits_typer_decode(caps->gits_typer, &t);

    printf("KVM ITS support on this host (Linux %s, %s):\n", caps->kernel_release, caps->arch);
    printf("  ITS table ABI revisions    %s (a new ITS uses %u)\n",
           accepted->len ? accepted->str : "none", caps->default_abi_revision);
    if (*rejected)
        printf("    rejected                 %s\n", rejected);
    printf("  GITS_IIDR                  0x%08" PRIx32 "\n", caps->gits_iidr);
    printf("  GITS_TYPER                 0x%016" PRIx64 " (%u DeviceID bits, %u EventID bits, "
           "%u-byte ITT entries%s)\n",
           caps->gits_typer, t.dev_bits, t.id_bits, t.itt_entry_size,
           t.virt ? ", GICv4 virtual LPIs" : "");
    printf("  ITS CTRL_RESET             %s\n", yes_no(caps->has_ctrl_reset));
    printf("  ITS SAVE_TABLES            %s\n", yes_no(caps->has_save_tables));
    printf("  ITS RESTORE_TABLES         %s\n", yes_no(caps->has_restore_tables));
    printf("  vGIC SAVE_PENDING_TABLES   %s\n", yes_no(caps->has_save_pending_tables));
    printf("  GICD_IIDR                  0x%08" PRIx32 " (implementation revision %u)\n",
           caps->gicd_iidr, caps->gicd_revision);
    printf("  GICv4                      %s (%s)\n", itsmig_gicv4_level_to_string(caps->gicv4),
           caps->gicv4_source);
}

static int host_probe(int argc, char **argv)
{
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- probe KVM's ITS save/restore support");
    g_autoptr(GError) error = NULL;
    ItsmigKvmItsCaps caps;
    ItsmigDiag diag = {0};

    g_set_prgname("itsmigctl host probe");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return itsmigctl_usage_error("host probe: %s", error->message);
    if (argc > 1)
        return itsmigctl_usage_error("host probe: unexpected argument '%s'", argv[1]);

    if (itsmig_kvm_its_probe(&caps, &diag) < 0) {
        fprintf(stderr, "itsmigctl: host probe failed: %s\n", diag.text);
        return ITSMIGCTL_EXIT_FAILURE;
    }
    if (json) {
        g_autoptr(JsonNode) node = caps_to_json(&caps);
        itsmigctl_print_json(node);
    } else {
        print_caps_text(&caps);
    }
    return caps.available ? ITSMIGCTL_EXIT_OK : ITSMIGCTL_EXIT_FAILURE;
}

int itsmigctl_cmd_host(int argc, char **argv)
{
    if (argc < 2) {
        fputs(host_help, stderr);
        return ITSMIGCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(host_help, stdout);
        return ITSMIGCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "probe") == 0)
        return host_probe(argc - 1, argv + 1);
    return itsmigctl_usage_error("host: unknown subcommand '%s' (see 'itsmigctl host --help')",
                                 argv[1]);
}
