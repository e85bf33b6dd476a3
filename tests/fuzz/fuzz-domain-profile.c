/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain XML profile reader (itsmig_domain_profile_parse) and what the
 * daemon then does with a profile: its JSON, its itsmig metadata written
 * back as XML and read again, and the device XML looked up by alias.
 */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "itsmig/domain-profile.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigDomainProfile) p = NULL;

    fuzz_glib_fatal();
    p = itsmig_domain_profile_parse((const char *)data, (gssize)size, &error);
    if (!p) {
        FUZZ_ASSERT(error && error->message && *error->message);
        return 0;
    }
    FUZZ_ASSERT(p->name && p->its_reason);
    {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *text = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "profile");
        itsmig_domain_profile_to_json(p, b);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        text = json_to_string(root, FALSE);
        FUZZ_ASSERT(text && g_utf8_validate(text, -1, NULL));
    }
    (void)itsmig_domain_profile_has_vfio(p);
    (void)itsmig_domain_profile_its_in_kernel(p);
    (void)itsmig_its_presence_to_string(p->its);
    if (p->has_metadata) {
        g_autofree char *xml = itsmig_its_metadata_to_xml(&p->metadata);
        ItsmigItsMetadata copy;

        FUZZ_ASSERT(xml != NULL);
        itsmig_its_metadata_init(&copy);
        itsmig_its_metadata_copy(&copy, &p->metadata);
        itsmig_its_metadata_clear(&copy);
    }
    for (guint i = 0; p->hostdevs && i < p->hostdevs->len; i++) {
        const ItsmigHostdev *h = g_ptr_array_index(p->hostdevs, i);
        g_autoptr(GError) local = NULL;
        g_autofree char *dev = NULL;

        if (!h->alias)
            continue;
        dev = itsmig_domain_device_xml((const char *)data, (gssize)size, h->alias, &local);
        FUZZ_ASSERT(dev || local);
    }
    for (guint i = 0; p->msi_devices && i < p->msi_devices->len; i++) {
        const ItsmigMsiDevice *m = g_ptr_array_index(p->msi_devices, i);
        g_autoptr(GError) local = NULL;
        g_autofree char *dev = NULL;

        if (!m->alias)
            continue;
        dev = itsmig_domain_device_xml((const char *)data, (gssize)size, m->alias, &local);
        FUZZ_ASSERT(dev || local);
    }
    return 0;
}
