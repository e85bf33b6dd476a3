/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "itsmig/error.h"
#include "daemon/preflight.h"

ItsmigdDomainView *itsmigd_preflight_view(ItsmigDaemon *d, const char *name, char **ret_uuid,
                                          GError **error)
{
    ItsmigdDomainView *view = itsmigd_registry_get_view(d->registry, &d->host, name, ret_uuid);

    if (!view)
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND, "no domain named '%s' is known",
                    name);
    return view;
}

GPtrArray *itsmigd_known_hosts(ItsmigDaemon *d, const ItsmigHostCaps *local)
{
    GPtrArray *known = itsmigd_peers_cached(d->peers);

    g_ptr_array_add(known, itsmig_host_caps_copy(local));
    return known;
}

ItsmigVerdict *itsmigd_judge(const ItsmigDomainProfile *profile, const ItsmigHostCaps *source,
                             const ItsmigHostCaps *destination, GPtrArray *known,
                             const ItsmigCompatPolicy *policy)
{
    ItsmigCompatInput in = {
        .domain = profile,
        .source = source,
        .destination = destination,
        .known = (const ItsmigHostCaps *const *)known->pdata,
        .n_known = known->len,
        .now = g_get_real_time() / G_USEC_PER_SEC,
    };

    return itsmig_compat_check(&in, policy);
}

ItsmigVerdict *itsmigd_preflight(ItsmigDaemon *d, const char *name, const char *destination,
                                 const ItsmigCompatPolicy *policy, char **ret_uuid,
                                 ItsmigdDomainView **ret_view, ItsmigHostCaps **ret_local,
                                 ItsmigHostCaps **ret_destination, GError **error)
{
    g_autofree char *uuid = NULL;
    g_autoptr(ItsmigdDomainView) view = itsmigd_preflight_view(d, name, &uuid, error);
    g_autoptr(ItsmigHostCaps) local = NULL;
    g_autoptr(ItsmigHostCaps) dest = NULL;
    g_autoptr(GPtrArray) known = NULL;
    ItsmigVerdict *verdict;
    const char *names[] = {destination};

    if (!view)
        return NULL;
    itsmigd_peers_get(d->peers, names, 1, &dest, error);
    if (!dest)
        return NULL;
    local = itsmigd_host_get_caps(&d->host);
    known = itsmigd_known_hosts(d, local);
    verdict = itsmigd_judge(view->profile, local, dest, known, policy);
    if (ret_uuid)
        *ret_uuid = g_steal_pointer(&uuid);
    if (ret_view)
        *ret_view = g_steal_pointer(&view);
    if (ret_local)
        *ret_local = g_steal_pointer(&local);
    if (ret_destination)
        *ret_destination = g_steal_pointer(&dest);
    return verdict;
}
