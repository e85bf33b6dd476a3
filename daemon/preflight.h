/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "itsmig/compat.h"
#include "daemon/domain-view.h"
#include "daemon/itsmigd.h"

/*
 * Judging a migration from this host: the domain's view the registry holds
 * (its profile, never parsed here), this host's and the peer's capabilities, every host asked
 * so far (for the one-way rule), and the policy.  Shared by the preflight
 * and matrix routes and the orchestrator's PREFLIGHT phase.  Blocks while
 * the peer is asked: never on the main loop.
 */

/* The view of domain @name with its hostdevs described as they are now, and
 * its UUID; NULL with ITSMIG_ERROR_NOT_FOUND when no domain of that name has
 * a readable profile. */
ItsmigdDomainView *itsmigd_preflight_view(ItsmigDaemon *d, const char *name, char **ret_uuid,
                                          GError **error);
/* Every peer already asked, and @local. */
GPtrArray *itsmigd_known_hosts(ItsmigDaemon *d, const ItsmigHostCaps *local);
ItsmigVerdict *itsmigd_judge(const ItsmigDomainProfile *profile, const ItsmigHostCaps *source,
                             const ItsmigHostCaps *destination, GPtrArray *known,
                             const ItsmigCompatPolicy *policy);
/* The verdict for moving domain @name to peer @destination under @policy;
 * NULL with ITSMIG_ERROR_NOT_FOUND for an unknown domain, or the peer's
 * error.  Each ret_ may be NULL. */
ItsmigVerdict *itsmigd_preflight(ItsmigDaemon *d, const char *name, const char *destination,
                                 const ItsmigCompatPolicy *policy, char **ret_uuid,
                                 ItsmigdDomainView **ret_view, ItsmigHostCaps **ret_local,
                                 ItsmigHostCaps **ret_destination, GError **error);
