/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "itsmigctl.h"

#include "daemon/daemon-config.h"

#include "itsmig/error.h"
#include "itsmig/host-caps.h"
#include "itsmig/host-traits.h"
#include "itsmig/its-abi.h"
#include "itsmig/kvm-its.h"
#include "itsmig/kvm-its-json.h"
#include "itsmig/kvm-regs-json.h"
#include "itsmig/kvm-regs.h"

static const char host_help[] =
    "Usage: itsmigctl host [--json] [CONNECTION OPTIONS]\n"
    "       itsmigctl host probe [--json] [--registers]\n"
    "       itsmigctl host traits [--format nova-provider-config|nfd] [--output FILE]\n"
    "                             [--caps FILE] [CONNECTION OPTIONS]\n"
    "       itsmigctl host validate [--json] [--config FILE]\n"
    "\n"
    "itsmigctl host asks itsmigd for this host's capabilities for ITS migration:\n"
    "each field with its value and where it comes from (probed, declared in\n"
    "itsmigd.conf, or unknown), and where a declared value overrides the probe.\n"
    "\n"
    "itsmigctl host probe asks this host's kernel directly, without itsmigd,\n"
    "through a scratch KVM VM with a vGICv3 and an in-kernel ITS, what it\n"
    "supports for saving and restoring a guest's ITS: the ITS table ABI\n"
    "revisions it accepts, the save/restore/reset controls, the vGIC\n"
    "implementation revision (GICD_IIDR), the host's GICv4 level, and how\n"
    "its vITS behaves where kernels differ (measured in scratch VMs, each\n"
    "fact with how it was measured): whether a save with a device the guest\n"
    "made unreachable fails or skips it, whether a GITS_BASER change keeps or\n"
    "drops the mappings, and what a GICD access before CTRL_INIT returns; and,\n"
    "from scratch vCPUs initialised as QEMU initialises a host-passthrough vCPU,\n"
    "the vCPU register set QEMU will migrate: KVM_GET_REG_LIST, the ID and\n"
    "firmware register values, the writable masks, and which registers need\n"
    "which optional vCPU feature (pmu, sve, ptrauth).\n"
    "\n"
    "itsmigctl host traits prints what itsmigd's capabilities (or a saved\n"
    "capabilities document, --caps) say to a fleet scheduler: a Nova provider\n"
    "config file with CUSTOM_ITSMIG_* traits, or a Node Feature Discovery\n"
    "feature file with itsmig-* labels (see itsmig-compat(7)).\n"
    "\n"
    "itsmigctl host validate checks everything itsmig needs on this host and\n"
    "prints one PASS, WARN or FAIL line per check, each with a hint.\n"
    "\n"
    "Options:\n"
    "  --json       print one JSON object instead of text\n"
    "  --registers  (probe, text) list every register by name\n"
    "  --format F   (traits) nova-provider-config (default) or nfd\n"
    "  --output F   (traits) write the file atomically instead of printing it\n"
    "  --caps F     (traits) read a capabilities document (GET /v1/host) from F\n"
    "  --config F   (validate) itsmigd's configuration (default " ITSMIGD_DEFAULT_CONFIG ")\n"
    "\n";

static const char host_help_end[] =
    "\n"
    "Exit status: 0 success; 1 itsmigd could not be asked, or (probe) probing\n"
    "is not possible here (the reason is printed) or failed, or (traits) the\n"
    "file could not be written; 2 bad arguments or an unreadable --caps file.\n"
    "validate: 0 every check passed, 1 warnings, 2 a check failed.\n";

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
        g_string_append_printf(s, " %s", itsmig_errno_label(err, buf, sizeof(buf)));
        rev = end + 1;
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static void print_semantics_text(const ItsmigKvmItsSemantics *sem)
{
    char buf[32];

    if (!sem->measured) {
        printf("  vITS behaviour             not measured\n");
        return;
    }
    printf("  vITS behaviour, measured:\n");
    if (sem->save_unreachable_device_errno)
        printf("    save, unreachable device fails with %s\n",
               itsmig_errno_label(sem->save_unreachable_device_errno, buf, sizeof(buf)));
    else
        printf("    save, unreachable device succeeds, the device left out\n");
    printf("      how: %s\n",
           itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_SAVE_UNREACHABLE_DEVICE]);
    printf("    GITS_BASER change        %s the mappings\n",
           sem->baser_write_keeps_mappings ? "keeps" : "drops");
    printf("      how: %s\n",
           itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_BASER_WRITE]);
    printf("    GICD before CTRL_INIT    %s\n",
           sem->gicd_access_before_init_errno
               ? itsmig_errno_label(sem->gicd_access_before_init_errno, buf, sizeof(buf))
               : "succeeds");
    printf("      how: %s\n",
           itsmig_kvm_its_semantics_method[ITSMIG_KVM_ITS_SEMANTICS_GICD_BEFORE_INIT]);
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
    print_semantics_text(&caps->semantics);
}

static char *features_text(guint32 features)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (guint32 bit = 1; bit & ITSMIG_VCPU_FEATURES_ALL; bit <<= 1) {
        if (features & bit)
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", itsmig_vcpu_feature_name(bit));
    }
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(g_steal_pointer(&s), FALSE);
}

static void print_regs_text(const ItsmigKvmRegSet *set, gboolean list)
{
    g_autofree char *features = NULL;
    g_autofree char *digest = NULL;
    size_t n_values = 0, n_masks = 0, n_cpreg = 0;

    if (!set->available) {
        printf("vCPU register set: not probed:\n  %s\n", set->unavailable_reason);
        return;
    }
    for (size_t i = 0; i < set->n_regs; i++) {
        n_values += set->regs[i].has_value;
        n_masks += set->regs[i].has_writable;
        n_cpreg += itsmig_kvm_reg_in_cpreg_list(set->regs[i].id);
    }
    features = features_text(set->features);
    digest = itsmig_kvm_regs_digest(set);
    printf("vCPU register set (host-passthrough vCPU as QEMU initialises it):\n");
    printf("  vCPU features              %s\n", features);
    printf("  registers                  %zu (%zu in QEMU's migrated cpreg list)\n", set->n_regs,
           n_cpreg);
    printf("  digest                     %s\n", digest);
    printf("  values taken               %zu (ID and firmware registers)\n", n_values);
    if (set->writable_masks)
        printf("  writable masks             %zu ID registers\n", n_masks);
    else
        printf("  writable masks             not offered by this kernel\n");
    if (!list)
        return;
    for (size_t i = 0; i < set->n_regs; i++) {
        const ItsmigKvmReg *r = &set->regs[i];
        char name[ITSMIG_KVM_REG_NAME_MAX];
        g_autoptr(GString) line = g_string_new(NULL);

        g_string_append_printf(line, "  0x%016" PRIx64 " %-32s", r->id,
                               itsmig_kvm_reg_name(r->id, name, sizeof(name)));
        if (r->has_value)
            g_string_append_printf(line, " = 0x%016" PRIx64, r->value);
        if (r->has_writable)
            g_string_append_printf(line, " writable 0x%016" PRIx64, r->writable);
        if (r->features) {
            g_autofree char *needs = features_text(r->features);
            g_string_append_printf(line, " needs %s", needs);
        }
        printf("%s\n", g_strchomp(line->str));
    }
}

static int host_probe(int argc, char **argv)
{
    gboolean json = FALSE;
    gboolean registers = FALSE;
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL},
        {"registers", 0, 0, G_OPTION_ARG_NONE, &registers, "List every vCPU register by name",
         NULL},
        {NULL},
    };
    const ItsmigctlOptions opts = {
        "host probe", "- probe KVM's ITS save/restore support", NULL, NULL, FALSE, 0};
    ItsmigKvmItsCaps caps;
    ItsmigKvmRegSet regs;
    ItsmigDiag diag = {0};
    int rc;

    rc = itsmigctl_parse_options(&opts, entries, &argc, &argv);
    if (rc)
        return rc;

    if (itsmig_kvm_its_probe(&caps, &diag) < 0) {
        fprintf(stderr, "itsmigctl: host probe failed: %s\n", diag.text);
        return ITSMIGCTL_EXIT_FAILURE;
    }
    if (itsmig_kvm_regs_probe(&regs, &diag) < 0) {
        fprintf(stderr, "itsmigctl: host probe failed: %s\n", diag.text);
        itsmig_kvm_regs_clear(&regs);
        return ITSMIGCTL_EXIT_FAILURE;
    }
    if (json) {
        g_autoptr(JsonNode) node = itsmig_kvm_probe_to_json(&caps, &regs);
        itsmigctl_print_json(node);
    } else {
        print_caps_text(&caps);
        if (caps.available)
            print_regs_text(&regs, registers);
    }
    rc = caps.available && regs.available ? ITSMIGCTL_EXIT_OK : ITSMIGCTL_EXIT_FAILURE;
    itsmig_kvm_regs_clear(&regs);
    return rc;
}

/* The capabilities document: @caps_file's, or itsmigd's GET /v1/host. */
static int traits_caps(const char *caps_file, const ItsmigctlConn *conn, ItsmigHostCaps **ret_caps)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    gsize len = 0;

    if (caps_file) {
        if (!g_file_get_contents(caps_file, &text, &len, &error))
            return itsmigctl_usage_error("host traits: %s", error->message);
        *ret_caps = itsmig_host_caps_from_json(text, len, &error);
        if (!*ret_caps)
            return itsmigctl_usage_error("host traits: %s: %s", caps_file, error->message);
    } else {
        g_autoptr(ItsmigRestClient) client = NULL;
        g_autoptr(JsonObject) doc = NULL;
        g_autoptr(JsonNode) node = NULL;
        int r = itsmigctl_conn_open(conn, "host traits", &client);

        if (r)
            return r;
        doc = itsmigctl_call(client, "GET", "/v1/host", NULL);
        if (!doc)
            return ITSMIGCTL_EXIT_FAILURE;
        node = json_node_init_object(json_node_alloc(), doc);
        text = json_to_string(node, FALSE);
        *ret_caps = itsmig_host_caps_from_json(text, -1, &error);
        if (!*ret_caps)
            return itsmigctl_bad_reply(client, "GET /v1/host", error);
    }
    return ITSMIGCTL_EXIT_OK;
}

static int host_traits(int argc, char **argv)
{
    g_auto(ItsmigctlConn) conn = {0};
    g_autofree char *format_name = NULL, *output = NULL, *caps_file = NULL;
    GOptionEntry entries[] = {
        {"format", 0, 0, G_OPTION_ARG_STRING, &format_name, "nova-provider-config (default) or nfd",
         "FORMAT"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write FILE atomically", "FILE"},
        {"caps", 0, 0, G_OPTION_ARG_FILENAME, &caps_file,
         "A capabilities document (GET /v1/host) instead of itsmigd's", "FILE"},
        {NULL},
    };
    const ItsmigctlOptions opts = {
        "host traits", "- print this host's scheduler traits", NULL, &conn, TRUE, 0};
    g_autoptr(ItsmigHostCaps) caps = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    ItsmigTraitsFormat format = ITSMIG_TRAITS_FORMAT_NOVA;
    gboolean changed = FALSE;
    int r;

    r = itsmigctl_parse_options(&opts, entries, &argc, &argv);
    if (r)
        return r;
    if (format_name && !itsmig_traits_format_from_string(format_name, &format))
        return itsmigctl_usage_error("host traits: format '%s' is not nova-provider-config or nfd",
                                     format_name);
    r = traits_caps(caps_file, &conn, &caps);
    if (r)
        return r;
    text = itsmig_host_traits_render(caps, format);
    if (!output) {
        fputs(text, stdout);
        return ITSMIGCTL_EXIT_OK;
    }
    if (!itsmig_host_traits_write(output, text, &changed, &error)) {
        fprintf(stderr, "itsmigctl: host traits: %s\n", error->message);
        return ITSMIGCTL_EXIT_FAILURE;
    }
    printf("%s %s\n", changed ? "wrote" : "unchanged:", output);
    return ITSMIGCTL_EXIT_OK;
}

int itsmigctl_cmd_host(int argc, char **argv)
{
    /* Without a subcommand (options only) the question goes to itsmigd. */
    if (argc < 2 ||
        (argv[1][0] == '-' && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0))
        return itsmigctl_cmd_daemon_host(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(host_help, stdout);
        fputs(itsmigctl_connection_help(), stdout);
        fputs(host_help_end, stdout);
        return ITSMIGCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "probe") == 0)
        return host_probe(argc - 1, argv + 1);
    if (strcmp(argv[1], "traits") == 0)
        return host_traits(argc - 1, argv + 1);
    if (strcmp(argv[1], "validate") == 0)
        return itsmigctl_cmd_host_validate(argc - 1, argv + 1);
    return itsmigctl_usage_error("host: unknown subcommand '%s' (see 'itsmigctl host --help')",
                                 argv[1]);
}
