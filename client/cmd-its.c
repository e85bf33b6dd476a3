/* SPDX-License-Identifier: GPL-2.0-or-later */
/* itsmigctl its inspect: decode and lint ITS tables in raw guest memory or in a
 * save image / migration stream. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmig/its-abi.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/qemu-image.h"
#include "its-semantics.h"
#include "itsmigctl.h"

#define MAX_MEMORY_FILES 64
#define MAX_PENDBASERS   512

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

static void print_image_human(const char *path, ItsmigQemuImage *img, const ItsmigItsWalkInput *in)
{
    const ItsmigQemuImageIts *its = itsmig_qemu_image_get_its(img);
    ItsmigQemuImageStats st;
    size_t n = itsmig_qemu_image_get_n_redists(img);

    itsmig_qemu_image_get_stats(img, &st);
    printf("Image %s: %s, machine %s, %" PRIu32 "-byte pages, %" PRIu64 " sections\n", path,
           itsmig_qemu_image_get_format(img) == ITSMIG_QEMU_IMAGE_LIBVIRT ? "libvirt save image"
                                                                          : "QEMU migration stream",
           itsmig_qemu_image_get_machine(img), itsmig_qemu_image_get_page_size(img), st.sections);
    if (itsmig_qemu_image_get_mapped_ram(img))
        printf("  mapped-ram: each RAM block's pages at fixed offsets, zero pages absent\n");
    if (itsmig_qemu_image_get_compression(img))
        printf("  compressed with %s: %" PRIu64 " bytes of stream (file offsets are in it)\n",
               itsmig_qemu_image_get_compression(img), st.decompressed_size);
    for (size_t i = 0; i < itsmig_qemu_image_get_n_blocks(img); i++) {
        const ItsmigQemuImageBlock *b = itsmig_qemu_image_get_block(img, i);

        printf("  RAM block %-24s %10" PRIu64 " KiB, %" PRIu64 " pages with data, %" PRIu64 " zero",
               b->name, b->length >> 10, b->pages_data, b->pages_zero);
        if (b->mapped)
            printf(", at 0x%" PRIx64, b->gpa);
        printf("\n");
    }
    printf("ITS (arm_gicv3_its instance %" PRIu32 "): GITS_CTLR 0x%08" PRIx32
           ", GITS_IIDR 0x%08" PRIx32 "\n",
           its->instance_id, its->ctlr, its->iidr);
    printf("  GITS_CBASER 0x%016" PRIx64 ", GITS_CWRITER 0x%" PRIx64 ", GITS_CREADR 0x%" PRIx64
           "\n",
           its->cbaser, its->cwriter, its->creadr);
    for (int i = 0; i < 8; i++)
        if (its->baser[i])
            printf("  GITS_BASER%d 0x%016" PRIx64 "\n", i, its->baser[i]);
    printf("Redistributors (%zu):", n);
    for (size_t i = 0; i < n; i++)
        printf("%s vCPU %zu PROPBASER 0x%" PRIx64 " PENDBASER 0x%" PRIx64, i ? "," : "", i,
               itsmig_qemu_image_get_propbasers(img)[i], itsmig_qemu_image_get_pendbasers(img)[i]);
    printf("\n\n");
    (void)in;
}

static void image_to_json(JsonBuilder *b, const char *path, ItsmigQemuImage *img)
{
    const ItsmigQemuImageIts *its = itsmig_qemu_image_get_its(img);
    size_t n = itsmig_qemu_image_get_n_redists(img);
    char hex[24];

    json_builder_set_member_name(b, "image");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "path", path);
    itsmig_json_add_string_or_null(b, "format",
                                   itsmig_qemu_image_get_format(img) == ITSMIG_QEMU_IMAGE_LIBVIRT
                                       ? "libvirt-save"
                                       : "migration-stream");
    itsmig_json_add_string_or_null(b, "compression", itsmig_qemu_image_get_compression(img));
    json_builder_set_member_name(b, "mapped_ram");
    json_builder_add_boolean_value(b, itsmig_qemu_image_get_mapped_ram(img));
    itsmig_json_add_string_or_null(b, "machine", itsmig_qemu_image_get_machine(img));
    itsmig_json_add_int(b, "page_size", itsmig_qemu_image_get_page_size(img));
    json_builder_set_member_name(b, "its");
    json_builder_begin_object(b);
#define HEX(name, v)                                                                               \
    do {                                                                                           \
        g_snprintf(hex, sizeof(hex), "0x%" PRIx64, (uint64_t)(v));                                 \
        json_builder_set_member_name(b, name);                                                     \
        json_builder_add_string_value(b, hex);                                                     \
    } while (0)
    HEX("gits_ctlr", its->ctlr);
    HEX("gits_iidr", its->iidr);
    HEX("gits_cbaser", its->cbaser);
    HEX("gits_cwriter", its->cwriter);
    HEX("gits_creadr", its->creadr);
    json_builder_set_member_name(b, "gits_baser");
    json_builder_begin_array(b);
    for (int i = 0; i < 8; i++) {
        g_snprintf(hex, sizeof(hex), "0x%" PRIx64, its->baser[i]);
        json_builder_add_string_value(b, hex);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "redistributors");
    json_builder_begin_array(b);
    for (size_t i = 0; i < n; i++) {
        json_builder_begin_object(b);
        HEX("gicr_propbaser", itsmig_qemu_image_get_propbasers(img)[i]);
        HEX("gicr_pendbaser", itsmig_qemu_image_get_pendbasers(img)[i]);
        json_builder_end_object(b);
    }
#undef HEX
    json_builder_end_array(b);
    json_builder_set_member_name(b, "read_error");
    if (itsmig_qemu_image_last_read_error(img))
        json_builder_add_string_value(b, itsmig_qemu_image_last_read_error(img));
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
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

static void pending_to_json(JsonBuilder *b, ItsmigQemuImage *img, const ItsmigGuestMem *mem);

/* With an image: "file_offset", where the table entry at @gpa lies in the file, null when
 * the file carries no page with content there. */
static void file_offset_to_json(JsonBuilder *b, const ItsmigQemuImage *img, uint64_t gpa)
{
    uint64_t off;

    if (!img)
        return;
    json_builder_set_member_name(b, "file_offset");
    if (itsmig_qemu_image_file_offset(img, gpa, &off))
        json_builder_add_int_value(b, (gint64)off);
    else
        json_builder_add_null_value(b);
}

static void devices_to_json(JsonBuilder *b, const ItsmigItsMapping *m, const ItsmigQemuImage *img)
{
    json_builder_set_member_name(b, "devices");
    json_builder_begin_array(b);
    for (size_t i = 0; i < m->n_devices; i++) {
        const ItsmigItsDevice *d = &m->devices[i];

        json_builder_begin_object(b);
        itsmig_json_add_int(b, "device_id", d->device_id);
        itsmig_json_add_int(b, "itt_addr", (gint64)d->itt_addr);
        itsmig_json_add_int(b, "event_id_bits", d->event_id_bits);
        json_builder_set_member_name(b, "events");
        json_builder_begin_array(b);
        for (size_t j = 0; j < d->n_events; j++) {
            const ItsmigItsEvent *e = &m->events[d->first_event + j];

            json_builder_begin_object(b);
            itsmig_json_add_int(b, "event_id", e->event_id);
            itsmig_json_add_int(b, "pintid", e->pintid);
            itsmig_json_add_int(b, "icid", e->icid);
            file_offset_to_json(b, img, d->itt_addr + (uint64_t)e->event_id * ITSMIG_ITS_ESZ);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void collections_to_json(JsonBuilder *b, const ItsmigItsMapping *m,
                                const ItsmigQemuImage *img)
{
    const ItsmigQemuImageIts *its = img ? itsmig_qemu_image_get_its(img) : NULL;
    ItsmigGitsBaser coll = {0};

    /* KVM's collection table is flat and read in order: the i-th one is the i-th entry. */
    if (its)
        itsmig_gits_baser_decode(its->baser[1], &coll);
    json_builder_set_member_name(b, "collections");
    json_builder_begin_array(b);
    for (size_t i = 0; i < m->n_collections; i++) {
        json_builder_begin_object(b);
        itsmig_json_add_int(b, "icid", m->collections[i].icid);
        json_builder_set_member_name(b, "target_vcpu");
        if (m->collections[i].target == ITSMIG_ITS_COLLECTION_UNMAPPED)
            json_builder_add_null_value(b);
        else
            json_builder_add_int_value(b, m->collections[i].target);
        file_offset_to_json(b, its ? img : NULL, coll.addr + i * ITSMIG_ITS_ESZ);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void findings_to_json(JsonBuilder *b, const ItsmigItsReport *r)
{
    json_builder_set_member_name(b, "findings");
    json_builder_begin_array(b);
    for (size_t i = 0; i < r->n_findings; i++) {
        const ItsmigItsFinding *f = &r->findings[i];

        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "code", f->code);
        itsmig_json_add_string_or_null(b, "severity", itsmig_severity_to_string(f->severity));
        itsmig_json_add_string_or_null(b, "message", f->message);
        if (f->gpa) {
            itsmig_json_add_int(b, "gpa", (gint64)f->gpa);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    itsmig_json_add_int(b, "findings_dropped", (gint64)r->n_findings_dropped);
}

static void restore_to_json(JsonBuilder *b, const ItsmigItsReport *r)
{
    json_builder_set_member_name(b, "restore_prediction");
    json_builder_begin_object(b);
    itsmig_json_add_bool(b, "ok", r->restore_errno == 0);
    itsmig_json_add_string_or_null(b, "errno",
                                   r->restore_errno == 0 ? NULL
                                   : itsmig_errno_name(r->restore_errno)
                                       ? itsmig_errno_name(r->restore_errno)
                                       : "unknown");
    itsmig_json_add_string_or_null(b, "cause", r->restore_cause);
    json_builder_end_object(b);
}

static JsonNode *report_to_json(const ItsmigItsReport *r, const char *image_path,
                                ItsmigQemuImage *img, const ItsmigGuestMem *gmem,
                                const ItsmigctlSemantics *sem, const ItsmigctlKernelPrediction *kp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    if (img)
        image_to_json(b, image_path, img);
    itsmig_json_add_int(b, "abi_revision", r->abi_revision);
    devices_to_json(b, &r->mapping, img);
    collections_to_json(b, &r->mapping, img);
    findings_to_json(b, r);
    restore_to_json(b, r);
    if (img) {
        itsmigctl_semantics_to_json(b, sem, kp);
        pending_to_json(b, img, gmem);
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static const char inspect_help[] =
    "Decodes the ITS device, interrupt translation and collection tables that KVM saved\n"
    "into guest memory, lints them, and predicts what KVM_DEV_ARM_ITS_RESTORE_TABLES\n"
    "would return for them.  The memory and the registers come either from --memory and\n"
    "--baser0/--baser1, or from --image: a libvirt save image (virsh save, managed save)\n"
    "or a QEMU migration stream written to a file (migrate \"exec:cat > FILE\"), whose\n"
    "ITS and redistributor registers and RAM pages are read from the file.  With --image,\n"
    "what one kernel does with the tables (its GITS_IIDR write and the save after the\n"
    "restore) follows --semantics, or this host's probe.\n"
    "\n"
    "Exit status: 0 when the restore would succeed, 3 when it would fail,\n"
    "2 on bad arguments or unreadable input.";

/* What the image's registers say that its tables contradict: an ITS that has
 * run commands (GITS_CREADR moved) but whose saved tables hold nothing had
 * its table save fail or skipped, and a restore of them loses every mapping
 * (tests/nested/its-fault.c makes such an image). */
static void image_findings(const ItsmigQemuImageIts *its, ItsmigItsReport *r)
{
    ItsmigItsFinding *n;

    if (!(its->ctlr & ITSMIG_GITS_CTLR_ENABLED) || its->creadr == 0 || r->mapping.n_devices != 0 ||
        r->mapping.n_collections != 0)
        return;
    n = realloc(r->findings, (r->n_findings + 1) * sizeof(*n));
    if (!n) {
        r->n_findings_dropped++;
        return;
    }
    r->findings = n;
    n = &r->findings[r->n_findings++];
    memset(n, 0, sizeof(*n));
    n->code = "image-tables-empty";
    n->severity = ITSMIG_SEVERITY_WARNING;
    snprintf(n->message, sizeof(n->message),
             "the ITS is enabled and has run commands (GITS_CREADR 0x%" PRIx64
             "), yet the saved tables hold no device and no collection: the table save failed "
             "or did not run, and a restore loses every mapping",
             its->creadr);
}

/* The LPIs each redistributor's pending table marks pending, read from the
 * image as the kernel's restore of the pending state does. */
#define PENDING_MAX_IDBITS 16u /* KVM's LPIs: 16 INTID bits */

typedef struct {
    gboolean read_ok;
    uint32_t *intids;
    size_t n;
} Pending;

static void pending_read(const ItsmigGuestMem *mem, uint64_t propbaser, uint64_t pendbaser,
                         Pending *ret)
{
    unsigned bits = itsmig_gicr_propbaser_idbits(propbaser);
    size_t len;
    g_autofree uint8_t *table = NULL;
    ItsmigDiag diag;

    memset(ret, 0, sizeof(*ret));
    if (bits > PENDING_MAX_IDBITS)
        bits = PENDING_MAX_IDBITS;
    len = ((size_t)1 << bits) / 8;
    table = g_malloc(len);
    if (itsmig_guest_mem_read(mem, itsmig_gicr_pendbaser_addr(pendbaser), table, len) < 0)
        return;
    if (itsmig_its_pending_decode(table, len, &ret->intids, &ret->n, &diag) < 0)
        return;
    ret->read_ok = TRUE;
}

static void print_pending_human(ItsmigQemuImage *img, const ItsmigGuestMem *mem)
{
    size_t n = itsmig_qemu_image_get_n_redists(img);
    const uint64_t *prop = itsmig_qemu_image_get_propbasers(img);
    const uint64_t *pend = itsmig_qemu_image_get_pendbasers(img);

    printf("\nPending LPIs (redistributor pending tables):\n");
    for (size_t i = 0; i < n; i++) {
        Pending p;

        if (!pend[i] || !prop[i]) {
            printf("  vCPU %zu: no pending table (GICR_PENDBASER or GICR_PROPBASER is 0)\n", i);
            continue;
        }
        pending_read(mem, prop[i], pend[i], &p);
        if (!p.read_ok) {
            printf("  vCPU %zu: the pending table at 0x%" PRIx64 " cannot be read\n", i,
                   itsmig_gicr_pendbaser_addr(pend[i]));
            continue;
        }
        printf("  vCPU %zu: %zu", i, p.n);
        for (size_t j = 0; j < p.n && j < 64; j++)
            printf("%s%" PRIu32, j ? " " : ": LPI ", p.intids[j]);
        printf("%s\n", p.n > 64 ? " ..." : "");
        free(p.intids);
    }
}

static void pending_to_json(JsonBuilder *b, ItsmigQemuImage *img, const ItsmigGuestMem *mem)
{
    size_t n = itsmig_qemu_image_get_n_redists(img);
    const uint64_t *prop = itsmig_qemu_image_get_propbasers(img);
    const uint64_t *pend = itsmig_qemu_image_get_pendbasers(img);

    json_builder_set_member_name(b, "pending");
    json_builder_begin_array(b);
    for (size_t i = 0; i < n; i++) {
        Pending p = {0};

        if (pend[i] && prop[i])
            pending_read(mem, prop[i], pend[i], &p);
        json_builder_begin_object(b);
        itsmig_json_add_int(b, "vcpu", (gint64)i);
        json_builder_set_member_name(b, "lpis");
        if (!p.read_ok) {
            json_builder_add_null_value(b);
        } else {
            json_builder_begin_array(b);
            for (size_t j = 0; j < p.n; j++)
                json_builder_add_int_value(b, p.intids[j]);
            json_builder_end_array(b);
        }
        json_builder_end_object(b);
        free(p.intids);
    }
    json_builder_end_array(b);
}

/* NAME@GPA: where a RAM block of the image lies in guest-physical memory. */
static int image_map_blocks(ItsmigQemuImage *img, char **specs)
{
    g_autoptr(GError) error = NULL;

    if (!specs || !specs[0]) {
        if (!itsmig_qemu_image_map_default(img, &error))
            return itsmigctl_usage_error("its inspect: %s (--ram-block NAME@GPA)", error->message);
        return 0;
    }
    for (char **s = specs; *s; s++) {
        const char *at = strrchr(*s, '@');
        g_autofree char *name = NULL;
        uint64_t gpa;

        if (!at || at == *s || !parse_u64(at + 1, &gpa))
            return itsmigctl_usage_error(
                "its inspect: --ram-block '%s': expected NAME@GPA, e.g. mach-virt.ram@0x40000000",
                *s);
        name = g_strndup(*s, (gsize)(at - *s));
        if (!itsmig_qemu_image_map_block(img, name, gpa, &error))
            return itsmigctl_usage_error("its inspect: %s", error->message);
    }
    return 0;
}

/* The options of its inspect, as given. */
typedef struct {
    GStrv memory_specs;
    GStrv pendbaser_specs;
    GStrv ram_block_specs;
    char *baser0_s, *baser1_s, *iidr_s, *propbaser_s;
    char *image_path, *semantics_path;
    gint vcpus;
    gboolean json;
} InspectArgs;

static void inspect_args_clear(InspectArgs *a)
{
    g_strfreev(a->memory_specs);
    g_strfreev(a->pendbaser_specs);
    g_strfreev(a->ram_block_specs);
    g_free(a->baser0_s);
    g_free(a->baser1_s);
    g_free(a->iidr_s);
    g_free(a->propbaser_s);
    g_free(a->image_path);
    g_free(a->semantics_path);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(InspectArgs, inspect_args_clear)

static int inspect_parse(int argc, char **argv, InspectArgs *a)
{
    GOptionEntry entries[] = {
        {"memory", 'm', 0, G_OPTION_ARG_FILENAME_ARRAY, &a->memory_specs,
         "Raw guest memory starting at guest-physical address GPA (repeatable)", "FILE@GPA"},
        {"image", 'i', 0, G_OPTION_ARG_FILENAME, &a->image_path,
         "A libvirt save image or a QEMU migration stream in a file", "FILE"},
        {"ram-block", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->ram_block_specs,
         "With --image: RAM block NAME lies at GPA (default for the virt machine: "
         "mach-virt.ram@0x40000000, virt.flash0@0, virt.flash1@0x4000000; repeatable)",
         "NAME@GPA"},
        {"semantics", 0, 0, G_OPTION_ARG_FILENAME, &a->semantics_path,
         "With --image: a kernel's probe (itsmigctl host probe --json) to predict for, "
         "instead of this host's",
         "FILE"},
        {"baser0", 0, 0, G_OPTION_ARG_STRING, &a->baser0_s, "GITS_BASER0 (device table)", "VALUE"},
        {"baser1", 0, 0, G_OPTION_ARG_STRING, &a->baser1_s, "GITS_BASER1 (collection table)",
         "VALUE"},
        {"vcpus", 0, 0, G_OPTION_ARG_INT, &a->vcpus,
         "vCPUs of the VM the tables are restored into (enables the target check; with "
         "--image, default: the image's redistributors)",
         "N"},
        {"iidr", 0, 0, G_OPTION_ARG_STRING, &a->iidr_s, "GITS_IIDR (default: KVM's, revision 0)",
         "VALUE"},
        {"propbaser", 0, 0, G_OPTION_ARG_STRING, &a->propbaser_s,
         "GICR_PROPBASER (enables the LPI configuration check)", "VALUE"},
        {"pendbaser", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->pendbaser_specs,
         "GICR_PENDBASER of vCPU 0, 1, ... in order (repeatable)", "VALUE"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &a->json, "Print one JSON object", NULL},
        {NULL},
    };
    const ItsmigctlOptions opts = {
        "its inspect", "- decode and lint saved ITS tables", inspect_help, NULL, FALSE, 0};
    int r = itsmigctl_parse_options(&opts, entries, &argc, &argv);

    if (r)
        return r;
    if (a->vcpus < 0 || a->vcpus > 4096)
        return itsmigctl_usage_error("its inspect: --vcpus %d is out of range (1..4096)", a->vcpus);
    return 0;
}

/* --image: the registers and the guest memory come from the image. */
static int inspect_open_image(const InspectArgs *a, ItsmigQemuImage **ret_img,
                              ItsmigctlSemantics *sem, ItsmigItsWalkInput *in, ItsmigGuestMem *gmem)
{
    const char *conflict = a->memory_specs      ? "--memory"
                           : a->baser0_s        ? "--baser0"
                           : a->baser1_s        ? "--baser1"
                           : a->iidr_s          ? "--iidr"
                           : a->propbaser_s     ? "--propbaser"
                           : a->pendbaser_specs ? "--pendbaser"
                                                : NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = NULL;
    int r;

    if (conflict)
        return itsmigctl_usage_error(
            "its inspect: %s and --image exclude each other: the image holds them", conflict);
    if (a->semantics_path && !itsmigctl_semantics_load(a->semantics_path, sem, &error))
        return itsmigctl_usage_error("its inspect: --semantics %s", error->message);
    img = itsmig_qemu_image_open(a->image_path, &error);
    if (!img)
        return itsmigctl_usage_error("its inspect: %s", error->message);
    if (!itsmig_qemu_image_get_its(img))
        return itsmigctl_usage_error("its inspect: %s: the image has no arm_gicv3_its device",
                                     a->image_path);
    r = image_map_blocks(img, a->ram_block_specs);
    if (r)
        return r;
    if (!a->semantics_path)
        itsmigctl_semantics_probe(sem);
    itsmig_qemu_image_walk_input(img, (unsigned)a->vcpus, in, gmem);
    *ret_img = g_steal_pointer(&img);
    return 0;
}

/* --baser0, --baser1, --iidr, --propbaser and --pendbaser as numbers. */
static int inspect_parse_registers(const InspectArgs *a, ItsmigItsWalkInput *in,
                                   uint64_t **ret_pendbasers)
{
    g_autofree uint64_t *pendbasers = NULL;
    uint64_t v;
    guint n;

    if (!parse_u64(a->baser0_s, &in->baser0))
        return itsmigctl_usage_error("its inspect: --baser0 '%s' is not a number", a->baser0_s);
    if (!parse_u64(a->baser1_s, &in->baser1))
        return itsmigctl_usage_error("its inspect: --baser1 '%s' is not a number", a->baser1_s);
    if (a->iidr_s) {
        if (!parse_u64(a->iidr_s, &v) || v > UINT32_MAX)
            return itsmigctl_usage_error("its inspect: --iidr '%s' is not a 32-bit number",
                                         a->iidr_s);
        in->iidr = (uint32_t)v;
    }
    if (a->propbaser_s && !parse_u64(a->propbaser_s, &in->propbaser))
        return itsmigctl_usage_error("its inspect: --propbaser '%s' is not a number",
                                     a->propbaser_s);
    if (!a->pendbaser_specs)
        return 0;
    n = g_strv_length(a->pendbaser_specs);
    if (n > MAX_PENDBASERS)
        return itsmigctl_usage_error("its inspect: at most %d --pendbaser values", MAX_PENDBASERS);
    pendbasers = g_new0(uint64_t, n);
    for (guint i = 0; i < n; i++) {
        if (!parse_u64(a->pendbaser_specs[i], &pendbasers[i]))
            return itsmigctl_usage_error("its inspect: --pendbaser '%s' is not a number",
                                         a->pendbaser_specs[i]);
    }
    in->pendbasers = pendbasers;
    in->nr_pendbasers = n;
    *ret_pendbasers = g_steal_pointer(&pendbasers);
    return 0;
}

/* --memory: raw guest memory files and the registers given by hand. */
static int inspect_open_memory(const InspectArgs *a, Memory *mem, uint64_t **ret_pendbasers,
                               ItsmigItsWalkInput *in, ItsmigGuestMem *gmem)
{
    int r;

    if (a->ram_block_specs || a->semantics_path)
        return itsmigctl_usage_error("its inspect: --ram-block and --semantics need --image");
    if (!a->memory_specs || !a->memory_specs[0])
        return itsmigctl_usage_error(
            "its inspect: at least one --memory FILE@GPA, or --image FILE, is required");
    if (!a->baser0_s || !a->baser1_s)
        return itsmigctl_usage_error("its inspect: --baser0 and --baser1 are required");
    r = inspect_parse_registers(a, in, ret_pendbasers);
    if (r)
        return r;
    for (char **s = a->memory_specs; *s; s++) {
        r = memory_add(mem, *s);
        if (r)
            return r;
    }
    qsort(mem->regions, mem->n, sizeof(mem->regions[0]), region_cmp);
    gmem->regions = mem->regions;
    gmem->n_regions = mem->n;
    return 0;
}

static void inspect_print(const InspectArgs *a, const ItsmigItsReport *report, ItsmigQemuImage *img,
                          const ItsmigGuestMem *gmem, const ItsmigItsWalkInput *in,
                          const ItsmigctlSemantics *sem, const ItsmigctlKernelPrediction *kp)
{
    if (a->json) {
        g_autoptr(JsonNode) node = report_to_json(report, a->image_path, img, gmem, sem, kp);

        itsmigctl_print_json(node);
    } else {
        if (img)
            print_image_human(a->image_path, img, in);
        print_human(report);
        if (img) {
            itsmigctl_semantics_print(sem, kp);
            print_pending_human(img, gmem);
        }
    }
    if (img && itsmig_qemu_image_last_read_error(img))
        fprintf(stderr, "itsmigctl: its inspect: note: %s\n",
                itsmig_qemu_image_last_read_error(img));
}

static int cmd_inspect(int argc, char **argv)
{
    g_auto(InspectArgs) a = {0};
    g_auto(Memory) mem = {0};
    g_auto(ItsmigctlSemantics) sem = {0};
    g_autoptr(ItsmigQemuImage) img = NULL;
    g_autofree uint64_t *pendbasers = NULL;
    ItsmigItsWalkInput in = {.iidr = itsmig_gits_iidr_make_kvm(ITSMIG_ITS_ABI_REV0)};
    ItsmigctlKernelPrediction kp = {0};
    ItsmigItsReport report;
    ItsmigGuestMem gmem = {0};
    ItsmigDiag diag;
    int r;

    r = inspect_parse(argc, argv, &a);
    if (r)
        return r;
    in.nr_vcpus = (unsigned)a.vcpus;
    r = a.image_path ? inspect_open_image(&a, &img, &sem, &in, &gmem)
                     : inspect_open_memory(&a, &mem, &pendbasers, &in, &gmem);
    if (r)
        return r;
    if (itsmig_guest_mem_check(&gmem, &diag) < 0)
        return itsmigctl_usage_error("its inspect: --memory: %s", diag.text);

    if (itsmig_its_walk(&in, &gmem, &report, &diag) < 0) {
        fprintf(stderr, "itsmigctl: its inspect: %s\n", diag.text);
        return ITSMIGCTL_EXIT_FAILURE;
    }
    if (img)
        image_findings(itsmig_qemu_image_get_its(img), &report);
    if (img && itsmigctl_semantics_predict(&sem, &in, &report, &gmem, &kp, &diag) < 0) {
        fprintf(stderr, "itsmigctl: its inspect: %s\n", diag.text);
        itsmig_its_report_clear(&report);
        return ITSMIGCTL_EXIT_FAILURE;
    }
    inspect_print(&a, &report, img, &gmem, &in, &sem, &kp);
    r = report.restore_errno == 0 && !kp.iidr_errno ? ITSMIGCTL_EXIT_OK
                                                    : ITSMIGCTL_EXIT_RESTORE_FAILS;
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
                   "       itsmigctl its inspect --image FILE [--ram-block NAME@GPA ...]\n"
                   "                             [--semantics FILE] [--vcpus N] [--json]\n"
                   "\nRun 'itsmigctl its inspect --help' for details.\n");
        return argc < 2 ? ITSMIGCTL_EXIT_USAGE : ITSMIGCTL_EXIT_OK;
    }
    if (strcmp(argv[1], "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    return itsmigctl_usage_error("its: unknown subcommand '%s' (try 'itsmigctl its --help')",
                                 argv[1]);
}
