/* SPDX-License-Identifier: GPL-2.0-or-later */
/* itsmigctl its inspect --image: what a kernel does with the image's ITS
 * tables, from that kernel's probe document or from this host's probe. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "itsmig/error.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-its.h"
#include "its-semantics.h"

#define MAX_SEMANTICS_FILE (4 * 1024 * 1024)

void itsmigctl_semantics_clear(ItsmigctlSemantics *s)
{
    g_free(s->source);
    g_free(s->kernel_release);
    g_free(s->unknown_reason);
    memset(s, 0, sizeof(*s));
}

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
static gboolean semantics_load_revisions(const char *path, JsonObject *root,
                                         ItsmigctlSemantics *ret, GError **error)
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
static gboolean semantics_load_save(const char *path, JsonObject *root, ItsmigctlSemantics *ret,
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

gboolean itsmigctl_semantics_load(const char *path, ItsmigctlSemantics *ret, GError **error)
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
void itsmigctl_semantics_probe(ItsmigctlSemantics *ret)
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

int itsmigctl_semantics_predict(const ItsmigctlSemantics *sem, const ItsmigItsWalkInput *in,
                                const ItsmigItsReport *rep, const ItsmigGuestMem *gmem,
                                ItsmigctlKernelPrediction *ret, ItsmigDiag *diag)
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

void itsmigctl_semantics_print(const ItsmigctlSemantics *sem, const ItsmigctlKernelPrediction *kp)
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

void itsmigctl_semantics_to_json(JsonBuilder *b, const ItsmigctlSemantics *sem,
                                 const ItsmigctlKernelPrediction *kp)
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
