/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a host's capabilities (itsmig/host-caps.h) say to a fleet scheduler:
 * Placement traits for Nova's provider config files and Node Feature
 * Discovery labels for a features.d file.  The names are stable and
 * documented in itsmig-compat(7); a field that is unknown gives no trait
 * and no label, so a scheduler that requires it never picks the host.
 */

#include <glib.h>

#include "itsmig/host-caps.h"

#define ITSMIG_TRAIT_PREFIX "CUSTOM_ITSMIG_"
/* The NFD label prefix: NFD adds its own namespace, feature.node.kubernetes.io/. */
#define ITSMIG_LABEL_PREFIX "itsmig-"
/* Hex digits of the register-set digest that make its class name. */
#define ITSMIG_REGS_CLASS_LEN 16
/* NFD ignores a feature file larger than this (its MaxFeatureFileSize). */
#define ITSMIG_NFD_FILE_MAX 65536

typedef enum {
    ITSMIG_TRAITS_FORMAT_NOVA, /* a Nova provider config file (YAML, schema 1.0) */
    ITSMIG_TRAITS_FORMAT_NFD,  /* an NFD local feature file (name=value lines) */

    ITSMIG_TRAITS_FORMAT_LAST
} ItsmigTraitsFormat;

/* "nova-provider-config", "nfd"; NULL out of range. */
const char *itsmig_traits_format_to_string(ItsmigTraitsFormat format);
gboolean itsmig_traits_format_from_string(const char *name, ItsmigTraitsFormat *ret_format);

/* The vCPU register set's compatibility class: the first ITSMIG_REGS_CLASS_LEN
 * hex digits of its SHA-256 digest, lower case; NULL when the set is unknown. */
char *itsmig_host_traits_regs_class(const ItsmigHostCaps *caps);

/* The traits, CUSTOM_ITSMIG_*, sorted, NULL-terminated. */
char **itsmig_host_traits_list(const ItsmigHostCaps *caps);

/* The labels as "itsmig-NAME=VALUE", sorted, NULL-terminated; each name and
 * value a valid Kubernetes label name part and value. */
char **itsmig_host_traits_labels(const ItsmigHostCaps *caps);

/* The whole file in @format, with a comment naming the host and the tool. */
char *itsmig_host_traits_render(const ItsmigHostCaps *caps, ItsmigTraitsFormat format);

/* Writes @text to @path atomically: a temporary file beside it (".NAME.XXXXXX"),
 * fsync'd and renamed over it, then the directory fsync'd; mode 0644 whatever
 * the umask.  A file that
 * already holds @text is left alone (@ret_changed FALSE).  A G_FILE_ERROR
 * naming @path on failure, the old file intact and no temporary file left. */
gboolean itsmig_host_traits_write(const char *path, const char *text, gboolean *ret_changed,
                                  GError **error);
