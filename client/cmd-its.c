/* SPDX-License-Identifier: GPL-2.0-or-later */
/* itsmigctl its inspect: decode and lint ITS tables in raw guest memory. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/its-abi.h"
#include "itsmigctl.h"

#define MAX_MEMORY_FILES 64
#define MAX_PENDBASERS 512

typedef struct {
    GMappedFile *file;
    char *path;
} MemoryFile;

typedef struct {
    MemoryFile files[MAX_MEMORY_FILES];
    ItsmigGuestRegion regions[MAX_MEMORY_FILES];
    size_t n;
} Memory;

static void memory_clear(Memory *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->files[i].file)
            g_mapped_file_unref(m->files[i].file);
        g_free(m->files[i].path);
    }
    m->n = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Memory, memory_clear)

/* Checked parse of a whole unsigned number (decimal, 0x hex or 0 octal). */
static gboolean parse_u64(const char *s, uint64_t *ret)
{
    char *end = NULL;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || g_ascii_isspace(*s))
        return FALSE;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno != 0 || !end || *end != '\0')
        return FALSE;
    *ret = v;
    return TRUE;
}

static int region_cmp(const void *a, const void *b)
{
    const ItsmigGuestRegion *x = a, *y = b;

    return (x->gpa > y->gpa) - (x->gpa < y->gpa);
}

/* FILE@GPA: maps FILE read-only as guest memory starting at GPA. */
static int memory_add(Memory *m, const char *spec)
{
    const char *at = strrchr(spec, '@');
    g_autofree char *path = NULL;
    g_autoptr(GError) error = NULL;
    GMappedFile *file;
    uint64_t gpa;

    if (m->n == MAX_MEMORY_FILES)
        return itsmigctl_usage_error("at most %d --memory files", MAX_MEMORY_FILES);
    if (!at || at == spec || !parse_u64(at + 1, &gpa))
        return itsmigctl_usage_error("--memory '%s': expected FILE@GPA, e.g. ram.bin@0x40000000",
                                     spec);
    path = g_strndup(spec, (gsize)(at - spec));
    file = g_mapped_file_new(path, FALSE, &error);
    if (!file)
        return itsmigctl_usage_error("--memory %s: %s", path, error->message);
    if (g_mapped_file_get_length(file) == 0) {
        g_mapped_file_unref(file);
        return itsmigctl_usage_error("--memory %s: the file is empty", path);
    }
    m->files[m->n].file = file;
    m->files[m->n].path = g_steal_pointer(&path);
    m->regions[m->n].gpa = gpa;
    m->regions[m->n].size = g_mapped_file_get_length(file);
    /* Read-only mapping: the walker never writes. */
    m->regions[m->n].data = (uint8_t *)g_mapped_file_get_contents(file);
    m->n++;
    return 0;
}

static const char *target_text(uint32_t target, char *buf, size_t len)
{
    if (target == ITSMIG_ITS_COLLECTION_UNMAPPED)
        return "unmapped";
    snprintf(buf, len, "vCPU %" PRIu32, target);
    return buf;
}

static void print_human(const ItsmigItsReport *r)
{
    const ItsmigItsMapping *m = &r->mapping;
    char buf[32];

    printf("ITS table ABI revision %u\n", r->abi_revision);
    printf("\nCollections (%zu):\n", m->n_collections);
    for (size_t i = 0; i < m->n_collections; i++)
        printf("  ICID %-5u -> %s\n", m->collections[i].icid,
               target_text(m->collections[i].target, buf, sizeof(buf)));
    printf("\nDevices (%zu), events (%zu):\n", m->n_devices, m->n_events);
    for (size_t i = 0; i < m->n_devices; i++) {
        const ItsmigItsDevice *d = &m->devices[i];

        printf("  device %-6" PRIu32 " ITT 0x%" PRIx64 ", %u EventID bits, %zu event(s)\n",
               d->device_id, d->itt_addr, d->event_id_bits, d->n_events);
        for (size_t j = 0; j < d->n_events; j++) {
            const ItsmigItsEvent *e = &m->events[d->first_event + j];

            printf("    event %-6" PRIu32 " -> LPI %" PRIu32 " via ICID %u\n", e->event_id,
                   e->pintid, e->icid);
        }
    }
    printf("\nFindings (%zu%s):\n", r->n_findings + r->n_findings_dropped,
           r->n_findings_dropped ? ", some not kept" : "");
    for (size_t i = 0; i < r->n_findings; i++) {
        const ItsmigItsFinding *f = &r->findings[i];

        printf("  %-7s %s: %s\n", itsmig_severity_to_string(f->severity), f->code, f->message);
    }
    if (r->restore_errno == 0)
        printf("\nRestore prediction: KVM_DEV_ARM_ITS_RESTORE_TABLES succeeds\n");
    else
        printf("\nRestore prediction: fails with %s (%s)\n",
               itsmig_errno_name(r->restore_errno) ? itsmig_errno_name(r->restore_errno)
                                                   : "an unknown error",
               r->restore_cause);
}

static JsonNode *report_to_json(const ItsmigItsReport *r)
{
    const ItsmigItsMapping *m = &r->mapping;
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "abi_revision");
    json_builder_add_int_value(b, r->abi_revision);

    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (size_t i = 0; i < m->n_devices; i++) {
        const ItsmigItsDevice *d = &m->devices[i];

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "device_id");
        json_builder_add_int_value(b, d->device_id);
        json_builder_set_member_name(b, "itt_addr");
        json_builder_add_int_value(b, (gint64)d->itt_addr);
        json_builder_set_member_name(b, "event_id_bits");
        json_builder_add_int_value(b, d->event_id_bits);
        json_builder_set_member_name(b, "events");
        json_builder_begin_array(b);
        for (size_t j = 0; j < d->n_events; j++) {
            const ItsmigItsEvent *e = &m->events[d->first_event + j];

            json_builder_begin_object(b);
            json_builder_set_member_name(b, "event_id");
            json_builder_add_int_value(b, e->event_id);
            json_builder_set_member_name(b, "pintid");
            json_builder_add_int_value(b, e->pintid);
            json_builder_set_member_name(b, "icid");
            json_builder_add_int_value(b, e->icid);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "collections");
    json_builder_begin_array(b);
    for (size_t i = 0; i < m->n_collections; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "icid");
        json_builder_add_int_value(b, m->collections[i].icid);
        json_builder_set_member_name(b, "target_vcpu");
        if (m->collections[i].target == ITSMIG_ITS_COLLECTION_UNMAPPED)
            json_builder_add_null_value(b);
        else
            json_builder_add_int_value(b, m->collections[i].target);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "findings");
    json_builder_begin_array(b);
    for (size_t i = 0; i < r->n_findings; i++) {
        const ItsmigItsFinding *f = &r->findings[i];

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "code");
        json_builder_add_string_value(b, f->code);
        json_builder_set_member_name(b, "severity");
        json_builder_add_string_value(b, itsmig_severity_to_string(f->severity));
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, f->message);
        if (f->gpa) {
            json_builder_set_member_name(b, "gpa");
            json_builder_add_int_value(b, (gint64)f->gpa);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "findings_dropped");
    json_builder_add_int_value(b, (gint64)r->n_findings_dropped);

    json_builder_set_member_name(b, "restore_prediction");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, r->restore_errno == 0);
    json_builder_set_member_name(b, "errno");
    if (r->restore_errno == 0)
        json_builder_add_null_value(b);
    else
        json_builder_add_string_value(b, itsmig_errno_name(r->restore_errno)
                                             ? itsmig_errno_name(r->restore_errno)
                                             : "unknown");
    json_builder_set_member_name(b, "cause");
    if (r->restore_cause)
        json_builder_add_string_value(b, r->restore_cause);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);

    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static const char inspect_help[] =
    "Decodes the ITS device, interrupt translation and collection tables that KVM saved\n"
    "into guest memory, lints them, and predicts what KVM_DEV_ARM_ITS_RESTORE_TABLES\n"
    "would return for them.\n"
    "\n"
    "Exit status: 0 when the restore would succeed, 3 when it would fail,\n"
    "2 on bad arguments or unreadable input.";

static int cmd_inspect(int argc, char **argv)
{
    g_auto(GStrv) memory_specs = NULL;
    g_auto(GStrv) pendbaser_specs = NULL;
    g_autofree char *baser0_s = NULL, *baser1_s = NULL, *iidr_s = NULL, *propbaser_s = NULL;
    gint vcpus = 0;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"memory", 'm', 0, G_OPTION_ARG_FILENAME_ARRAY, &memory_specs,
         "Raw guest memory starting at guest-physical address GPA (repeatable)", "FILE@GPA"},
        {"baser0", 0, 0, G_OPTION_ARG_STRING, &baser0_s, "GITS_BASER0 (device table)", "VALUE"},
        {"baser1", 0, 0, G_OPTION_ARG_STRING, &baser1_s, "GITS_BASER1 (collection table)",
         "VALUE"},
        {"vcpus", 0, 0, G_OPTION_ARG_INT, &vcpus,
         "vCPUs of the VM the tables are restored into (enables the target check)", "N"},
        {"iidr", 0, 0, G_OPTION_ARG_STRING, &iidr_s, "GITS_IIDR (default: KVM's, revision 0)",
         "VALUE"},
        {"propbaser", 0, 0, G_OPTION_ARG_STRING, &propbaser_s,
         "GICR_PROPBASER (enables the LPI configuration check)", "VALUE"},
        {"pendbaser", 0, 0, G_OPTION_ARG_STRING_ARRAY, &pendbaser_specs,
         "GICR_PENDBASER of vCPU 0, 1, ... in order (repeatable)", "VALUE"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- decode and lint saved ITS tables");
    g_autoptr(GError) error = NULL;
    g_auto(Memory) mem = {0};
    g_autofree uint64_t *pendbasers = NULL;
    ItsmigItsWalkInput in = {.iidr = itsmig_gits_iidr_make_kvm(ITSMIG_ITS_ABI_REV0)};
    ItsmigItsReport report;
    ItsmigGuestMem gmem;
    ItsmigDiag diag;
    uint64_t v;
    int r;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, inspect_help);
    g_set_prgname("itsmigctl its inspect");
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return itsmigctl_usage_error("its inspect: %s", error->message);
    if (argc > 1)
        return itsmigctl_usage_error("its inspect: unexpected argument '%s'", argv[1]);
    if (!memory_specs || !memory_specs[0])
        return itsmigctl_usage_error("its inspect: at least one --memory FILE@GPA is required");
    if (!baser0_s || !baser1_s)
        return itsmigctl_usage_error("its inspect: --baser0 and --baser1 are required");
    if (!parse_u64(baser0_s, &in.baser0))
        return itsmigctl_usage_error("its inspect: --baser0 '%s' is not a number", baser0_s);
    if (!parse_u64(baser1_s, &in.baser1))
        return itsmigctl_usage_error("its inspect: --baser1 '%s' is not a number", baser1_s);
    if (vcpus < 0 || vcpus > 4096)
        return itsmigctl_usage_error("its inspect: --vcpus %d is out of range (1..4096)", vcpus);
    in.nr_vcpus = (unsigned)vcpus;
    if (iidr_s) {
        if (!parse_u64(iidr_s, &v) || v > UINT32_MAX)
            return itsmigctl_usage_error("its inspect: --iidr '%s' is not a 32-bit number",
                                         iidr_s);
        in.iidr = (uint32_t)v;
    }
    if (propbaser_s && !parse_u64(propbaser_s, &in.propbaser))
        return itsmigctl_usage_error("its inspect: --propbaser '%s' is not a number",
                                     propbaser_s);
    if (pendbaser_specs) {
        guint n = g_strv_length(pendbaser_specs);

        if (n > MAX_PENDBASERS)
            return itsmigctl_usage_error("its inspect: at most %d --pendbaser values",
                                         MAX_PENDBASERS);
        pendbasers = g_new0(uint64_t, n);
        for (guint i = 0; i < n; i++) {
            if (!parse_u64(pendbaser_specs[i], &pendbasers[i]))
                return itsmigctl_usage_error("its inspect: --pendbaser '%s' is not a number",
                                             pendbaser_specs[i]);
        }
        in.pendbasers = pendbasers;
        in.nr_pendbasers = n;
    }
    for (char **s = memory_specs; *s; s++) {
        r = memory_add(&mem, *s);
        if (r)
            return r;
    }
    qsort(mem.regions, mem.n, sizeof(mem.regions[0]), region_cmp);
    gmem.regions = mem.regions;
    gmem.n_regions = mem.n;
    if (itsmig_guest_mem_check(&gmem, &diag) < 0)
        return itsmigctl_usage_error("its inspect: --memory: %s", diag.text);

    if (itsmig_its_walk(&in, &gmem, &report, &diag) < 0) {
        fprintf(stderr, "itsmigctl: its inspect: %s\n", diag.text);
        return ITSMIGCTL_EXIT_FAILURE;
    }
    if (json) {
        g_autoptr(JsonNode) node = report_to_json(&report);

        itsmigctl_print_json(node);
    } else {
        print_human(&report);
    }
    r = report.restore_errno == 0 ? ITSMIGCTL_EXIT_OK : ITSMIGCTL_EXIT_RESTORE_FAILS;
    itsmig_its_report_clear(&report);
    return r;
}

int itsmigctl_cmd_its(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *f = argc < 2 ? stderr : stdout;

        fprintf(f, "Usage: itsmigctl its inspect --memory FILE@GPA [--memory FILE@GPA ...]\n"
                   "                             --baser0 VALUE --baser1 VALUE [--vcpus N]\n"
                   "                             [--iidr VALUE] [--propbaser VALUE]\n"
                   "                             [--pendbaser VALUE ...] [--json]\n"
                   "\nRun 'itsmigctl its inspect --help' for details.\n");
        return argc < 2 ? ITSMIGCTL_EXIT_USAGE : ITSMIGCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    return itsmigctl_usage_error("its: unknown subcommand '%s' (try 'itsmigctl its --help')",
                                 argv[1]);
}
