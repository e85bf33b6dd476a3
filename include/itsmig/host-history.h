/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * This host's own capabilities as they were: one GET /v1/host document for
 * each distinct set of capabilities it has had (another kernel after a reboot,
 * another QEMU after an upgrade), kept in STATE-DIR/host-history.  A save
 * image made before such a change carries a record of this host as it was
 * then; restoring it is a move from that host, which no peer describes any
 * more.  The history lets the restore gate judge it as that move.
 *
 * Each entry is the file host-history/caps-HASH.json, HASH the first 16 hex
 * digits of the SHA-256 of the document without the libvirt and QEMU versions
 * and the probe's contradicted values: one file per version of the kernel's
 * and KVM's facts, holding the latest document with them (a package update
 * rewrites it), and its modification time says when it was last seen.  At
 * most ITSMIG_HOST_HISTORY_MAX entries are kept, the oldest seen going first,
 * never the one just recorded.
 */

#include <glib.h>

#include "itsmig/domain-profile.h"
#include "itsmig/host-caps.h"

#define ITSMIG_HOST_HISTORY_MAX 16

typedef struct {
    ItsmigHostCaps *caps;
    gint64 last_seen; /* unix seconds: the file's modification time */
    char *file;       /* its name in the directory */
} ItsmigHostHistoryEntry;

void itsmig_host_history_entry_free(ItsmigHostHistoryEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigHostHistoryEntry, itsmig_host_history_entry_free)

/* Records @caps in @dir (created, mode 0700, when missing): its entry written
 * atomically and durably when it does not hold this document already, and its
 * time set to @now (unix seconds) unless it was seen later.  Then removes the
 * entries seen longest ago beyond ITSMIG_HOST_HISTORY_MAX.  Fails with a
 * G_FILE_ERROR naming the file. */
gboolean itsmig_host_history_record(const char *dir, const ItsmigHostCaps *caps, gint64 now,
                                    GError **error);

/* The entries of @dir (ItsmigHostHistoryEntry), seen most recently first; an
 * empty array when there is no such directory.  Only regular files named
 * caps-HASH.json are read, at most ITSMIG_HOST_CAPS_MAX bytes each, never
 * through a symlink nor blocking on a FIFO; one that cannot be read or is no
 * valid document is left out, and its name and why go into @ret_skipped (one
 * string each; may be NULL).  NULL with @error only when the directory cannot
 * be read. */
GPtrArray *itsmig_host_history_load(const char *dir, GPtrArray *ret_skipped, GError **error);

/* The entry of @entries whose vCPU register set is the one @m's host record
 * names by digest, and which contradicts none of the other facts the record
 * gives (ITS ABI revisions, GICv4, table save, pending tables, CTLR reset,
 * page size, arch): of several, the one agreeing with more of them, then the
 * most recently seen.  NULL when the record names no digest or no entry fits. */
const ItsmigHostHistoryEntry *itsmig_host_history_match(GPtrArray *entries,
                                                        const ItsmigItsMetadata *m);
