/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "itsmig/domain-profile.h"
#include "daemon/local-host.h"

/*
 * One domain's XML as libvirt gave it and the ITS profile read from it, with
 * what this host knows of its hostdevs.  Never changed once made: the
 * registry holds each domain's current view and hands out references, and
 * preflight, the matrix, the metrics, the jobs and the incoming side read it
 * without parsing the XML again.  A view is read only when the XML changed,
 * or when the host's facts about its hostdevs did (a driver rebound, the
 * migration-capable drivers reconfigured).
 */
typedef struct {
    GBytes *xml;                  /* NULL when libvirt could not give it */
    ItsmigDomainProfile *profile; /* NULL when unreadable, with profile_error */
    char *profile_error;
} ItsmigdDomainView;

/* Parses @xml (never NULL) and describes its hostdevs as @host (if given)
 * sees them. */
ItsmigdDomainView *itsmigd_domain_view_read(GBytes *xml, ItsmigdHost *host);
/* A view without XML or profile, @why saying why (the domain XML cannot be
 * read). */
ItsmigdDomainView *itsmigd_domain_view_new_error(const char *why);
ItsmigdDomainView *itsmigd_domain_view_ref(ItsmigdDomainView *view);
void itsmigd_domain_view_unref(ItsmigdDomainView *view);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ItsmigdDomainView, itsmigd_domain_view_unref)

/* Whether @view was read from exactly @xml. */
gboolean itsmigd_domain_view_has_xml(const ItsmigdDomainView *view, GBytes *xml);
/* Whether @view's hostdevs are described as @host sees them now (reads the
 * drivers bound in sysfs; nothing to read without hostdevs). */
gboolean itsmigd_domain_view_current(const ItsmigdDomainView *view, ItsmigdHost *host);

/* How many views were read (XML parses) since the process started. */
guint64 itsmigd_domain_view_reads(void);
