/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel ITS semantics of itsmigctl its inspect (client/its-semantics.c). */
#pragma once

#include <json-glib/json-glib.h>

#include "itsmig/its-abi.h"

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
} ItsmigctlSemantics;

void itsmigctl_semantics_clear(ItsmigctlSemantics *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ItsmigctlSemantics, itsmigctl_semantics_clear)

/* Reads @path, a probe document of `itsmigctl host probe --json`. */
gboolean itsmigctl_semantics_load(const char *path, ItsmigctlSemantics *ret, GError **error);
/* This host's kernel, where the probe can run; else @ret says why not. */
void itsmigctl_semantics_probe(ItsmigctlSemantics *ret);

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
} ItsmigctlKernelPrediction;

/* Predicts for @sem (nothing when it is not known); -1 with @diag on failure. */
int itsmigctl_semantics_predict(const ItsmigctlSemantics *sem, const ItsmigItsWalkInput *in,
                                const ItsmigItsReport *rep, const ItsmigGuestMem *gmem,
                                ItsmigctlKernelPrediction *ret, ItsmigDiag *diag);
/* "On kernel ...": the prediction for people. */
void itsmigctl_semantics_print(const ItsmigctlSemantics *sem, const ItsmigctlKernelPrediction *kp);
/* The "kernel_prediction" member of its inspect --json. */
void itsmigctl_semantics_to_json(JsonBuilder *b, const ItsmigctlSemantics *sem,
                                 const ItsmigctlKernelPrediction *kp);
