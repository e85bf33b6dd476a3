/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "daemon/domain-view.h"

static gsize reads; /* atomic */

static void view_clear(gpointer data)
{
    ItsmigdDomainView *view = data;

    g_clear_pointer(&view->xml, g_bytes_unref);
    itsmig_domain_profile_free(view->profile);
    g_free(view->profile_error);
}

ItsmigdDomainView *itsmigd_domain_view_read(GBytes *xml, ItsmigdHost *host)
{
    ItsmigdDomainView *view = g_atomic_rc_box_new0(ItsmigdDomainView);
    g_autoptr(GError) error = NULL;
    gsize len;
    const char *text = g_bytes_get_data(xml, &len);

    (void)g_atomic_pointer_add(&reads, 1);
    view->xml = g_bytes_ref(xml);
    view->profile = itsmig_domain_profile_parse(text, len, &error);
    if (!view->profile)
        view->profile_error = g_strdup(error->message);
    else if (host)
        itsmigd_host_describe_hostdevs(host, view->profile);
    return view;
}

ItsmigdDomainView *itsmigd_domain_view_new_error(const char *why)
{
    ItsmigdDomainView *view = g_atomic_rc_box_new0(ItsmigdDomainView);

    view->profile_error = g_strdup(why);
    return view;
}

ItsmigdDomainView *itsmigd_domain_view_ref(ItsmigdDomainView *view)
{
    return g_atomic_rc_box_acquire(view);
}

void itsmigd_domain_view_unref(ItsmigdDomainView *view)
{
    if (view)
        g_atomic_rc_box_release_full(view, view_clear);
}

gboolean itsmigd_domain_view_has_xml(const ItsmigdDomainView *view, GBytes *xml)
{
    return view && view->xml && xml && g_bytes_equal(view->xml, xml);
}

gboolean itsmigd_domain_view_current(const ItsmigdDomainView *view, ItsmigdHost *host)
{
    const ItsmigDomainProfile *p = view->profile;

    for (guint i = 0; host && p && p->hostdevs && i < p->hostdevs->len; i++) {
        const ItsmigHostdev *h = g_ptr_array_index(p->hostdevs, i);
        g_autofree char *driver = NULL;
        int migratable = -1;

        itsmigd_host_hostdev_facts(host, h, &driver, &migratable);
        if (g_strcmp0(driver, h->host_driver) != 0 || migratable != h->migratable)
            return FALSE;
    }
    return TRUE;
}

guint64 itsmigd_domain_view_reads(void)
{
    return (guint64)(gsize)g_atomic_pointer_get(&reads);
}
