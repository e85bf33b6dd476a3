/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the host capabilities' pieces share inside libitsmig: host-caps.c (the fields, their
 * values, construction, the probe and register setters, consistency), host-caps-conf.c
 * (itsmigd.conf's values), host-caps-machines.c (the machine types), host-caps-write.c and
 * host-caps-read.c (the document).  Not installed.
 */

#include <json-glib/json-glib.h>

#include "itsmig/host-caps.h"
#include "itsmig/its-abi.h"

/* Limits of the document's strings, in bytes. */
#define STRING_MAX   256
#define HOSTNAME_MAX 255

/* GITS_IIDR.Revision and GICD_IIDR.Revision are both 4 bits. */
#define REVISION_MAX 15u
G_STATIC_ASSERT(REVISION_MAX == ITSMIG_ITS_ABI_REV_MAX);

#define PAGE_SIZE_MIN 4096u
#define PAGE_SIZE_MAX 65536u

/* The widest register KVM has: an SVE Z register, 2048 bits (log2 of 256 bytes). */
#define REG_SIZE_LOG2_MAX 8u

typedef enum {
    KIND_STRING,    /* any text: arch, kernel release */
    KIND_VERSION,   /* "major.minor[.micro]" */
    KIND_PAGE_SIZE, /* a power of two in PAGE_SIZE_MIN..PAGE_SIZE_MAX */
    KIND_REVISION,  /* 0..15 */
    KIND_REVISIONS, /* a set of 0..15 */
    KIND_BOOLEAN,
    KIND_GICV4,
} CapKind;

typedef struct {
    const char *name; /* JSON member */
    const char *key;  /* itsmigd.conf key */
    CapKind kind;
} HostCapsFieldInfo;

G_GNUC_INTERNAL extern const HostCapsFieldInfo host_caps_fields[ITSMIG_CAP_LAST];

/* One field's value, detached from the struct; str is owned. */
typedef struct {
    char *str;
    guint num;
    gboolean flag;
    guint16 revs;
    ItsmigGicv4Level gicv4;
} CapValue;

G_GNUC_INTERNAL void host_caps_value_clear(CapValue *v);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CapValue, host_caps_value_clear)

G_GNUC_INTERNAL void host_caps_apply(ItsmigHostCaps *caps, ItsmigCapField f, ItsmigCapSource source,
                                     CapValue *v);
G_GNUC_INTERNAL gboolean host_caps_field_from_json_name(const char *name,
                                                        ItsmigCapField *ret_field);
G_GNUC_INTERNAL char *host_caps_for_message(const char *s);
G_GNUC_INTERNAL gboolean host_caps_gicv4_from_string(const char *s, ItsmigGicv4Level *ret_level);
G_GNUC_INTERNAL gboolean host_caps_is_page_size(guint64 n);
G_GNUC_INTERNAL gboolean host_caps_is_version(const char *s);
G_GNUC_INTERNAL guint host_caps_reg_size_log2(guint64 id);
G_GNUC_INTERNAL gboolean host_caps_reg_takes_value(guint64 id);
G_GNUC_INTERNAL gboolean host_caps_source_from_string(const char *s, ItsmigCapSource *ret_source);
G_GNUC_INTERNAL const char *host_caps_string_problem(const char *s, gsize max);
G_GNUC_INTERNAL void host_caps_value_peek(const ItsmigHostCaps *caps, ItsmigCapField f,
                                          CapValue *ret);
G_GNUC_INTERNAL void host_caps_value_store(ItsmigHostCaps *caps, ItsmigCapField f, CapValue *v);
G_GNUC_INTERNAL JsonNode *host_caps_value_to_node(ItsmigCapField f, const CapValue *v);
G_GNUC_INTERNAL char *host_caps_value_to_text(ItsmigCapField f, const CapValue *v);

/* @buf (at most @size bytes) as a reason the document carries: valid UTF-8, control
 * characters blanked, at most STRING_MAX bytes; @fallback when nothing is left. */
G_GNUC_INTERNAL char *host_caps_sanitize_reason(const char *buf, gsize size, const char *fallback);

/* host-caps-machines.c */
G_GNUC_INTERNAL gboolean host_caps_machine_name_ok(const char *name);
/* @names (char *) sorted in place; a new NULL-terminated copy without duplicates. */
G_GNUC_INTERNAL char **host_caps_machine_names_sorted(GPtrArray *names);
G_GNUC_INTERNAL void host_caps_machine_types_clear(ItsmigHostMachineTypes *m);
