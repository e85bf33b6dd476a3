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
#include "itsmig/kvm-its.h"
#include "itsmig/qemu-image.h"
#include "itsmigctl.h"

#define MAX_MEMORY_FILES   64
#define MAX_PENDBASERS     512
#define MAX_SEMANTICS_FILE (4 * 1024 * 1024)

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

/* What one kernel does with saved tables, from its probe (`host probe --json`,
 * tests/data/probe/<kernel>.json) or from probing this host. */
typedef struct {
    gboolean known;
    char *source; /* the file, or "this host" */
    char *kernel_release;
    char *unknown_reason; /* when !known */
    uint16_t abi_revisions;
    int abi_revision_errno[16];
    ItsmigItsSaveSemantics save;
} Semantics;

static void semantics_clear(Semantics *s)
{
    g_free(s->source);
    g_free(s->kernel_release);
    g_free(s->unknown_reason);
    memset(s, 0, sizeof(*s));
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Semantics, semantics_clear)

static int errno_from_name(const char *name)
{
    for (int e = 1; e < 4096; e++) {
        const char *n = itsmig_errno_name(e);

        if (n && strcmp(n, name) == 0)
            return e;
    }
    return 0;
}

static gboolean semantics_bad(GError **error, const char *path, const char *what)
{
    g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_JSON,
                "%s: not a probe document of `itsmigctl host probe --json`: %s", path, what);
    return FALSE;
}

/* its_abi_revisions and its_abi_revision_errors: which revisions the
 * kernel takes, and the errno of each one it refuses. */
static gboolean semantics_load_revisions(const char *path, JsonObject *root, Semantics *ret,
                                         GError **error)
{
    JsonNode *n = json_object_get_member(root, "its_abi_revisions");
    JsonArray *revs;

    if (!n || !JSON_NODE_HOLDS_ARRAY(n))
        return semantics_bad(error, path, "no its_abi_revisions list");
    revs = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(revs); i++) {
        JsonNode *e = json_array_get_element(revs, i);

        if (json_node_get_value_type(e) != G_TYPE_INT64 || json_node_get_int(e) < 0 ||
            json_node_get_int(e) > 15)
            return semantics_bad(error, path, "its_abi_revisions holds a bad revision");
        ret->abi_revisions |= 1u << json_node_get_int(e);
    }
    n = json_object_get_member(root, "its_abi_revision_errors");
    if (n && JSON_NODE_HOLDS_OBJECT(n)) {
        JsonObject *errs = json_node_get_object(n);

        for (unsigned r = 0; r < 16; r++) {
            char key[8];
            JsonNode *e;

            g_snprintf(key, sizeof(key), "%u", r);
            e = json_object_get_member(errs, key);
            if (e && json_node_get_value_type(e) == G_TYPE_STRING)
                ret->abi_revision_errno[r] = errno_from_name(json_node_get_string(e));
        }
    }
    return TRUE;
}

/* semantics: what the kernel's table save does with an unreachable device
 * and whether a GITS_BASER write keeps the mappings. */
static gboolean semantics_load_save(const char *path, JsonObject *root, Semantics *ret,
                                    GError **error)
{
    /* Only whether a member fits is asked: the message is semantics_bad()'s. */
    const ItsmigJsonAt at = {ITSMIG_ERROR_INVALID_JSON, path, NULL};
    JsonNode *n = json_object_get_member(root, "semantics");
    JsonObject *sem, *unreach, *bw;
    const char *outcome;
    gboolean b;

    if (!n || !JSON_NODE_HOLDS_OBJECT(n))
        return semantics_bad(error, path, "no semantics object");
    sem = json_node_get_object(n);
    if (!itsmig_json_get_bool(&at, sem, "measured", &b, NULL) || !b)
        return semantics_bad(error, path, "the semantics were not measured");
    n = json_object_get_member(sem, "save_unreachable_device");
    if (!n || !JSON_NODE_HOLDS_OBJECT(n))
        return semantics_bad(error, path, "no semantics.save_unreachable_device");
    unreach = json_node_get_object(n);
    outcome = itsmig_json_lookup_string(unreach, "outcome");
    outcome = outcome ? outcome : "";
    if (strcmp(outcome, "skips") == 0) {
        ret->save.unreachable_device_errno = 0;
    } else if (strcmp(outcome, "fails") == 0) {
        const char *en = itsmig_json_lookup_string(unreach, "errno");

        ret->save.unreachable_device_errno = errno_from_name(en ? en : "");
        if (!ret->save.unreachable_device_errno)
            return semantics_bad(error, path, "semantics.save_unreachable_device.errno is unknown");
    } else {
        return semantics_bad(error, path,
                             "semantics.save_unreachable_device.outcome is neither "
                             "\"fails\" nor \"skips\"");
    }
    n = json_object_get_member(sem, "baser_write");
    bw = n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
    if (!bw || !itsmig_json_get_bool(&at, bw, "keeps_mappings", &b, NULL))
        return semantics_bad(error, path, "no semantics.baser_write.keeps_mappings");
    ret->save.baser_write_keeps_mappings = b;
    return TRUE;
}

static gboolean semantics_load(const char *path, Semantics *ret, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    gsize len;
    JsonObject *root;
    const ItsmigJsonAt at = {ITSMIG_ERROR_INVALID_JSON, path, NULL};
    JsonNode *n;
    const char *release;
    gboolean b;

    if (!g_file_get_contents(path, &text, &len, error))
        return FALSE;
    if (len > MAX_SEMANTICS_FILE)
        return semantics_bad(error, path, "larger than 4 MiB");
    if (!itsmig_json_check(text, len, ITSMIG_JSON_DEPTH_MAX, path, error) ||
        !json_parser_load_from_data(parser, text, (gssize)len, error))
        return FALSE;
    n = json_parser_get_root(parser);
    if (!JSON_NODE_HOLDS_OBJECT(n))
        return semantics_bad(error, path, "not an object");
    root = json_node_get_object(n);
    if (!itsmig_json_get_bool(&at, root, "available", &b, NULL) || !b)
        return semantics_bad(error, path, "the probe was not available on that host");
    if (!semantics_load_revisions(path, root, ret, error) ||
        !semantics_load_save(path, root, ret, error))
        return FALSE;
    release = itsmig_json_lookup_string(root, "kernel_release");
    ret->kernel_release = g_strdup(release ? release : "unknown");
    ret->source = g_strdup(path);
    ret->known = TRUE;
    return TRUE;
}

/* This host's kernel, where the probe can run. */
static void semantics_probe(Semantics *ret)
{
    ItsmigKvmItsCaps caps;
    ItsmigDiag diag;

    ret->source = g_strdup("this host");
    if (itsmig_kvm_its_probe(&caps, &diag) < 0) {
        ret->unknown_reason = g_strdup(diag.text);
        return;
    }
    if (!caps.available || !caps.semantics.measured) {
        ret->unknown_reason = g_strdup(caps.available ? "the probe did not measure the semantics"
                                                      : caps.unavailable_reason);
        return;
    }
    ret->kernel_release = g_strdup(caps.kernel_release);
    ret->abi_revisions = caps.abi_revisions;
    memcpy(ret->abi_revision_errno, caps.abi_revision_errno, sizeof(ret->abi_revision_errno));
    ret->save.unreachable_device_errno = caps.semantics.save_unreachable_device_errno;
    ret->save.baser_write_keeps_mappings = caps.semantics.baser_write_keeps_mappings;
    ret->known = TRUE;
}

/* What the named kernel does with the image's tables: the GITS_IIDR write
 * that precedes the restore, and the save that follows it at the next
 * migration (does the mapping survive the round trip). */
typedef struct {
    gboolean done;
    gboolean saved; /* the save after the restore was predicted */
    int iidr_errno;
    int save_errno;
    const char *save_cause;
    gboolean round_trip_equal;
    size_t n_devices_skipped;
    size_t n_collections_overflow;
} KernelPrediction;

static int kernel_predict(const Semantics *sem, const ItsmigItsWalkInput *in,
                          const ItsmigItsReport *rep, const ItsmigGuestMem *gmem,
                          KernelPrediction *ret, ItsmigDiag *diag)
{
    unsigned rev = itsmig_gits_iidr_revision(in->iidr);
    ItsmigItsSaveInput sin = {
        .mapping = &rep->mapping,
        .baser0 = in->baser0,
        .baser1 = in->baser1,
        .semantics = sem->save,
    };
    ItsmigItsSavePrediction p;

    memset(ret, 0, sizeof(*ret));
    if (!sem->known)
        return 0;
    ret->done = TRUE;
    if (!(sem->abi_revisions & (1u << rev)))
        ret->iidr_errno = sem->abi_revision_errno[rev] ? sem->abi_revision_errno[rev] : EINVAL;
    if (rep->restore_errno != 0 || ret->iidr_errno)
        return 0;
    if (itsmig_its_predict_save(&sin, gmem, &p, diag) < 0)
        return -1;
    ret->saved = TRUE;
    ret->save_errno = p.save_errno;
    ret->save_cause = p.save_cause;
    ret->round_trip_equal = p.save_errno == 0 && itsmig_its_mapping_equal(&p.saved, &rep->mapping);
    ret->n_devices_skipped = p.n_devices_skipped;
    ret->n_collections_overflow = p.n_collections_overflow;
    itsmig_its_save_prediction_clear(&p);
    return 0;
}

static const char *errno_text(int e)
{
    return itsmig_errno_name(e) ? itsmig_errno_name(e) : "an unknown error";
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

static void print_kernel_human(const Semantics *sem, const KernelPrediction *kp)
{
    if (!sem->known) {
        printf("\nKernel semantics: none (%s: %s); give --semantics FILE\n", sem->source,
               sem->unknown_reason ? sem->unknown_reason : "unknown");
        return;
    }
    printf("\nOn kernel %s (%s):\n", sem->kernel_release, sem->source);
    if (kp->iidr_errno)
        printf("  the GITS_IIDR write fails with %s: the kernel lacks the image's ITS ABI "
               "revision\n",
               errno_text(kp->iidr_errno));
    else if (!kp->saved)
        printf("  no save prediction: the restore itself fails\n");
    else if (kp->save_errno)
        printf("  the next KVM_DEV_ARM_ITS_SAVE_TABLES fails with %s (%s)\n",
               errno_text(kp->save_errno), kp->save_cause);
    else
        printf("  the next KVM_DEV_ARM_ITS_SAVE_TABLES %s (%zu device(s) skipped, %zu "
               "collection(s) beyond the table)\n",
               kp->round_trip_equal ? "writes the same mapping back"
                                    : "writes a different mapping: interrupts would be lost",
               kp->n_devices_skipped, kp->n_collections_overflow);
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

static void kernel_to_json(JsonBuilder *b, const Semantics *sem, const KernelPrediction *kp)
{
    json_builder_set_member_name(b, "kernel_prediction");
    json_builder_begin_object(b);
    itsmig_json_add_string_or_null(b, "semantics_source", sem->source);
    itsmig_json_add_bool(b, "known", sem->known);
    itsmig_json_add_string_or_null(b, "kernel_release", sem->kernel_release);
    itsmig_json_add_string_or_null(b, "unknown_reason", sem->unknown_reason);
    itsmig_json_add_string_or_null(b, "iidr_write_errno",
                                   kp->iidr_errno ? errno_text(kp->iidr_errno) : NULL);
    json_builder_set_member_name(b, "save_after_restore");
    if (!kp->saved) {
        json_builder_add_null_value(b);
    } else {
        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "errno",
                                       kp->save_errno ? errno_text(kp->save_errno) : NULL);
        itsmig_json_add_string_or_null(b, "cause", kp->save_cause);
        itsmig_json_add_bool(b, "same_mapping", kp->round_trip_equal);
        itsmig_json_add_int(b, "devices_skipped", (gint64)kp->n_devices_skipped);
        json_builder_end_object(b);
    }
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

static void devices_to_json(JsonBuilder *b, const ItsmigItsMapping *m)
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
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void collections_to_json(JsonBuilder *b, const ItsmigItsMapping *m)
{
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
                                const Semantics *sem, const KernelPrediction *kp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    if (img)
        image_to_json(b, image_path, img);
    itsmig_json_add_int(b, "abi_revision", r->abi_revision);
    devices_to_json(b, &r->mapping);
    collections_to_json(b, &r->mapping);
    findings_to_json(b, r);
    restore_to_json(b, r);
    if (img) {
        kernel_to_json(b, sem, kp);
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
static int inspect_open_image(const InspectArgs *a, ItsmigQemuImage **ret_img, Semantics *sem,
                              ItsmigItsWalkInput *in, ItsmigGuestMem *gmem)
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
    const ItsmigQemuImageIts *its;
    size_t n;
    int r;

    if (conflict)
        return itsmigctl_usage_error(
            "its inspect: %s and --image exclude each other: the image holds them", conflict);
    if (a->semantics_path && !semantics_load(a->semantics_path, sem, &error))
        return itsmigctl_usage_error("its inspect: --semantics %s", error->message);
    img = itsmig_qemu_image_open(a->image_path, &error);
    if (!img)
        return itsmigctl_usage_error("its inspect: %s", error->message);
    its = itsmig_qemu_image_get_its(img);
    if (!its)
        return itsmigctl_usage_error("its inspect: %s: the image has no arm_gicv3_its device",
                                     a->image_path);
    r = image_map_blocks(img, a->ram_block_specs);
    if (r)
        return r;
    if (!a->semantics_path)
        semantics_probe(sem);
    in->iidr = its->iidr;
    in->baser0 = its->baser[0];
    in->baser1 = its->baser[1];
    n = itsmig_qemu_image_get_n_redists(img);
    if (n > 0) {
        in->propbaser = itsmig_qemu_image_get_propbasers(img)[0];
        in->pendbasers = itsmig_qemu_image_get_pendbasers(img);
        in->nr_pendbasers = (unsigned)n;
        if (!a->vcpus)
            in->nr_vcpus = (unsigned)n;
    }
    itsmig_qemu_image_guest_mem(img, gmem);
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
                          const Semantics *sem, const KernelPrediction *kp)
{
    if (a->json) {
        g_autoptr(JsonNode) node = report_to_json(report, a->image_path, img, gmem, sem, kp);

        itsmigctl_print_json(node);
    } else {
        if (img)
            print_image_human(a->image_path, img, in);
        print_human(report);
        if (img) {
            print_kernel_human(sem, kp);
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
    g_auto(Semantics) sem = {0};
    g_autoptr(ItsmigQemuImage) img = NULL;
    g_autofree uint64_t *pendbasers = NULL;
    ItsmigItsWalkInput in = {.iidr = itsmig_gits_iidr_make_kvm(ITSMIG_ITS_ABI_REV0)};
    KernelPrediction kp = {0};
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
    if (img && kernel_predict(&sem, &in, &report, &gmem, &kp, &diag) < 0) {
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
