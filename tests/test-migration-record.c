/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "itsmig/error.h"
#include "daemon/migration-record.h"

#define DEV "<hostdev mode='subsystem' type='pci'><alias name='hostdev0'/></hostdev>"

/* What the source writes is what the destination reads, device XML intact. */
static void test_round_trip(void)
{
    g_autoptr(GPtrArray) aliases = g_ptr_array_new();
    g_autoptr(GPtrArray) xmls = g_ptr_array_new();
    g_autofree char *xml = NULL;
    g_autoptr(ItsmigdMigrationRecord) r = NULL;
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(aliases, (gpointer) "hostdev0");
    g_ptr_array_add(xmls, (gpointer)DEV);
    g_ptr_array_add(aliases, (gpointer) "ua-x&y");
    g_ptr_array_add(xmls, (gpointer) "<input type=\"tablet\"/>");
    xml = itsmigd_migration_record_to_xml("job-1", "abc", aliases, xmls);
    r = itsmigd_migration_record_parse(xml, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(r->job, ==, "job-1");
    g_assert_cmpstr(r->peer_mac, ==, "abc");
    g_assert_cmpstr(itsmigd_migration_record_device(r, "hostdev0"), ==, DEV);
    g_assert_cmpstr(itsmigd_migration_record_device(r, "ua-x&y"), ==, "<input type=\"tablet\"/>");
    g_assert_null(itsmigd_migration_record_device(r, "hostdev1"));
}

/* Line ends and tabs come back as they were written, in attributes and in
 * the device XML alike, where a reader would otherwise normalise them. */
static void test_line_ends_kept(void)
{
    g_autoptr(GPtrArray) aliases = g_ptr_array_new();
    g_autoptr(GPtrArray) xmls = g_ptr_array_new();
    g_autofree char *xml = NULL;
    g_autoptr(ItsmigdMigrationRecord) r = NULL;
    g_autoptr(GError) error = NULL;

    g_ptr_array_add(aliases, (gpointer) "a\tb\nc\r\nd");
    g_ptr_array_add(xmls, (gpointer) "<disk>\r\n\t<source\rfile='x'/></disk>\r");
    xml = itsmigd_migration_record_to_xml("job\r\n\t1", "m\rac", aliases, xmls);
    r = itsmigd_migration_record_parse(xml, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(r->job, ==, "job\r\n\t1");
    g_assert_cmpstr(r->peer_mac, ==, "m\rac");
    g_assert_cmpstr(g_ptr_array_index(r->aliases, 0), ==, "a\tb\nc\r\nd");
    g_assert_cmpstr(itsmigd_migration_record_device(r, "a\tb\nc\r\nd"), ==,
                    "<disk>\r\n\t<source\rfile='x'/></disk>\r");
}

/* The device XML is text: markup in it never becomes elements of the record. */
static void test_device_is_text(void)
{
    g_autoptr(ItsmigdMigrationRecord) r = itsmigd_migration_record_parse(
        "<migration job='j' peer-mac='m'><device alias='a'>x</device>"
        "<disk><source dev='/dev/sda'/></disk></migration>",
        NULL);

    g_assert_null(r);
}

static void test_refused(void)
{
    static const char *const bad[] = {
        "",
        "not xml",
        "<other job='j' peer-mac='m'/>",
        "<migration peer-mac='m'/>",
        "<migration job='' peer-mac='m'/>",
        "<migration job='j'/>",
        "<migration job='j' peer-mac='m'><device>x</device></migration>",
        "<migration job='j' peer-mac='m'><device alias='a'>x</device>"
        "<device alias='a'>y</device></migration>",
        "<!DOCTYPE m [<!ENTITY e SYSTEM 'file:///etc/shadow'>]>"
        "<migration job='j' peer-mac='m'><device alias='a'>&e;</device></migration>",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(ItsmigdMigrationRecord) r = itsmigd_migration_record_parse(bad[i], &error);

        if (r && i == G_N_ELEMENTS(bad) - 1) {
            /* An external entity is never loaded: the text stays empty. */
            g_assert_cmpstr(itsmigd_migration_record_device(r, "a"), ==, "");
            continue;
        }
        g_assert_null(r);
        g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    }
}

/* The MAC depends on the token, the domain and the job. */
static void test_mac(void)
{
    g_autofree char *a = itsmigd_migration_mac("token-a-0123456789", "u", "j");
    g_autofree char *b = itsmigd_migration_mac("token-b-0123456789", "u", "j");
    g_autofree char *c = itsmigd_migration_mac("token-a-0123456789", "v", "j");
    g_autofree char *d = itsmigd_migration_mac("token-a-0123456789", "u", "k");
    g_autofree char *known = itsmigd_migration_mac("key", "u", "j");
    /* What the tests compute with openssl dgst -sha256 -hmac KEY. */
    g_autofree char *again = g_compute_hmac_for_string(G_CHECKSUM_SHA256, (const guchar *)"key", 3,
                                                       "itsmig-migration:u:j", -1);

    g_assert_cmpuint(strlen(a), ==, 64);
    g_assert_cmpstr(a, !=, b);
    g_assert_cmpstr(a, !=, c);
    g_assert_cmpstr(a, !=, d);
    g_assert_cmpstr(known, ==, again);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration-record/round-trip", test_round_trip);
    g_test_add_func("/migration-record/line-ends-kept", test_line_ends_kept);
    g_test_add_func("/migration-record/device-is-text", test_device_is_text);
    g_test_add_func("/migration-record/refused", test_refused);
    g_test_add_func("/migration-record/mac", test_mac);
    return g_test_run();
}
