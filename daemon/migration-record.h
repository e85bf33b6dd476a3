/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

/*
 * What a source writes into the live metadata of a domain before it detaches
 * anything and migrates it, so that it travels with the domain:
 *
 *   <migration job="20261202T063704-5c6b1f" peer-mac="HEX">
 *     <device alias="hostdev0">ESCAPED DEVICE XML</device>
 *   </migration>
 *
 * in the namespace ITSMIGD_MIGRATION_NS (libvirt adds it, with the prefix).
 *
 * The destination acts on the arrived domain only for the job named there,
 * only for the peer whose token gives that MAC, and re-attaches only the
 * devices recorded there, from the XML recorded there.
 */
#define ITSMIGD_MIGRATION_NS     "urn:itsmig:migration:1"
#define ITSMIGD_MIGRATION_PREFIX "itsmigjob"

typedef struct {
    char *job;
    char *peer_mac;
    GPtrArray *aliases; /* char *, in record order */
    GPtrArray *xmls;    /* char *, the device XML of each alias */
} ItsmigdMigrationRecord;

void itsmigd_migration_record_free(ItsmigdMigrationRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdMigrationRecord, itsmigd_migration_record_free)

/* HMAC-SHA256 under @token of the domain's @uuid and the @job: only the
 * holder of the token the source used produces it (lower-case hex). */
char *itsmigd_migration_mac(const char *token, const char *uuid, const char *job);

/* The metadata element for libvirt; @aliases and @xmls are parallel, may be NULL. */
char *itsmigd_migration_record_to_xml(const char *job, const char *peer_mac,
                                      const GPtrArray *aliases, const GPtrArray *xmls);

/* Reads what virDomainGetMetadata returned; invalid-argument when it is not
 * such a record. */
ItsmigdMigrationRecord *itsmigd_migration_record_parse(const char *xml, GError **error);

/* The recorded XML of @alias, NULL when the job recorded no such device. */
const char *itsmigd_migration_record_device(const ItsmigdMigrationRecord *record,
                                            const char *alias);
