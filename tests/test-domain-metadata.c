/* SPDX-License-Identifier: GPL-2.0-or-later */
/* When itsmigd writes the itsmig record into a domain, and what it writes. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "daemon/domain-metadata.h"

#define NOW  1790000000
#define UUID "2f8e5c1a-7d3b-4e6f-9a10-5b2c8d4e7f31"

static ItsmigHostCaps *host_caps(const char *default_revision)
{
    ItsmigHostCaps *caps = itsmig_host_caps_new("host-a");
    static const struct {
        ItsmigCapField field;
        const char *value;
    } facts[] = {
        {ITSMIG_CAP_ARCH, "aarch64"},    {ITSMIG_CAP_PAGE_SIZE, "65536"},
        {ITSMIG_CAP_VGIC_ITS, "true"},   {ITSMIG_CAP_ITS_ABI_REVISIONS, "0,1"},
        {ITSMIG_CAP_GICD_REVISION, "3"}, {ITSMIG_CAP_GICV4, "4.1"},
        {ITSMIG_CAP_SAVE_TABLES, "yes"}, {ITSMIG_CAP_SAVE_PENDING_TABLES, "no"},
        {ITSMIG_CAP_CTRL_RESET, "yes"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(facts); i++)
        g_assert_true(
            itsmig_host_caps_set(caps, facts[i].field, ITSMIG_CAP_PROBED, facts[i].value, NULL));
    if (default_revision)
        g_assert_true(itsmig_host_caps_set(caps, ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION,
                                           ITSMIG_CAP_PROBED, default_revision, NULL));
    return caps;
}

/* A running aarch64 guest with an ITS; @host names the writer of its record,
 * NULL for none. */
static ItsmigDomainProfile *guest(const char *host)
{
    ItsmigDomainProfile *p = g_new0(ItsmigDomainProfile, 1);

    p->name = g_strdup("vm1");
    p->uuid = g_strdup(UUID);
    p->type = g_strdup("kvm");
    p->its = ITSMIG_ITS_PRESENT;
    p->its_reason = g_strdup("test");
    p->hostdevs = g_ptr_array_new();
    p->msi_devices = g_ptr_array_new();
    itsmig_its_metadata_init(&p->metadata);
    if (host) {
        p->has_metadata = TRUE;
        p->metadata.its_abi_revision = 0;
        p->metadata.gicd_revision = 2;
        p->metadata.started_at = NOW - 5000;
        p->metadata.host = g_strdup(host);
        p->metadata.written = ITSMIG_METADATA_WRITTEN_START;
        p->metadata.written_at = NOW - 5000;
    }
    return p;
}

static void test_cause_of_start(void)
{
    /* libvirt's STARTED details, by number as the event carries them. */
    g_assert_cmpint(itsmigd_metadata_cause_of_start(0 /* booted */), ==,
                    ITSMIGD_METADATA_COLD_START);
    g_assert_cmpint(itsmigd_metadata_cause_of_start(1 /* migrated */), ==,
                    ITSMIGD_METADATA_ARRIVED);
    g_assert_cmpint(itsmigd_metadata_cause_of_start(2 /* restored */), ==,
                    ITSMIGD_METADATA_ARRIVED);
    g_assert_cmpint(itsmigd_metadata_cause_of_start(3 /* from snapshot */), ==,
                    ITSMIGD_METADATA_ARRIVED);
    g_assert_cmpint(itsmigd_metadata_cause_of_start(4 /* wakeup */), ==,
                    ITSMIGD_METADATA_COLD_START);
    g_assert_cmpint(itsmigd_metadata_cause_of_start(99), ==, ITSMIGD_METADATA_ARRIVED);
}

static void test_its_absent(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest(NULL);
    g_auto(ItsmigItsMetadata) m = {0};

    p->its = ITSMIG_ITS_ABSENT;
    for (int cause = 0; cause < ITSMIGD_METADATA_CAUSE_LAST; cause++) {
        g_assert_false(itsmigd_metadata_plan(p, cause, caps, NULL, NOW, &m));
        itsmig_its_metadata_clear(&m);
    }
}

static void test_cold_start(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest("host-b");
    g_auto(ItsmigItsMetadata) m = {0};

    /* Whatever an earlier run recorded, a fresh ITS gets this host's default. */
    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_COLD_START, caps, NULL, NOW, &m));
    g_assert_cmpint(m.its_abi_revision, ==, 1);
    g_assert_cmpint(m.gicd_revision, ==, 3);
    g_assert_cmpint(m.started_at, ==, NOW);
    g_assert_cmpint(m.reset_at, ==, 0);
    g_assert_cmpstr(m.host, ==, "host-a");
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_START);
    g_assert_cmpint(m.written_at, ==, NOW);
    g_assert_cmpstr(m.host_arch, ==, "aarch64");
    g_assert_cmpuint(m.host_page_size, ==, 65536);
    g_assert_cmpint(m.host_gicv4, ==, ITSMIG_GICV4_1);
    g_assert_cmpint(m.host_save_tables, ==, 1);
    g_assert_cmpint(m.host_save_pending_tables, ==, 0);
    g_assert_cmpint(m.host_ctrl_reset, ==, 1);
    g_assert_cmpuint(m.host_its_abi_revisions, ==, 0x3);
}

static void test_cold_start_default_unknown(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps(NULL);
    g_autoptr(ItsmigDomainProfile) p = guest(NULL);
    g_auto(ItsmigItsMetadata) m = {0};

    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_COLD_START, caps, NULL, NOW, &m));
    g_assert_cmpint(m.its_abi_revision, ==, -1);
    g_assert_cmpint(m.started_at, ==, NOW);
}

static void test_arrived_keeps_source(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest("host-b");
    g_auto(ItsmigItsMetadata) m = {0};

    p->metadata.reset_at = NOW - 100;
    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_ARRIVED, caps, NULL, NOW, &m));
    /* The guest's ITS came with it: revision, GICD revision and times stay. */
    g_assert_cmpint(m.its_abi_revision, ==, 0);
    g_assert_cmpint(m.gicd_revision, ==, 2);
    g_assert_cmpint(m.started_at, ==, NOW - 5000);
    g_assert_cmpint(m.reset_at, ==, NOW - 100);
    g_assert_cmpstr(m.host, ==, "host-a");
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_INCOMING);
    g_assert_cmpint(m.written_at, ==, NOW);
}

static void test_arrived_without_record(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest(NULL);
    g_auto(ItsmigItsMetadata) m = {0};

    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_ARRIVED, caps, NULL, NOW, &m));
    /* The source's revision is not this host's default: it stays unknown. */
    g_assert_cmpint(m.its_abi_revision, ==, -1);
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_INCOMING);
}

static void test_reset(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest("host-a");
    g_auto(ItsmigItsMetadata) m = {0};

    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_RESET, caps, NULL, NOW, &m));
    g_assert_cmpint(m.reset_at, ==, NOW);
    g_assert_cmpint(m.its_abi_revision, ==, 0);
    g_assert_cmpint(m.started_at, ==, NOW - 5000);
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_START);
}

static void test_found_own_record(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest("host-a");
    g_auto(ItsmigItsMetadata) m = {0};

    g_assert_false(itsmigd_metadata_plan(p, ITSMIGD_METADATA_FOUND, caps, NULL, NOW, &m));
}

/* A register set of two registers, and the caps it is part of. */
static ItsmigHostCaps *host_caps_regs(void)
{
    ItsmigHostCaps *caps = host_caps("1");
    ItsmigKvmReg regs[] = {{.id = 0x6030000000100000ull}, {.id = 0x603000000013c000ull}};
    ItsmigKvmRegSet set = {.available = true, .n_regs = 2, .regs = regs};

    itsmig_host_caps_set_regs(caps, &set);
    g_assert_nonnull(caps->regs_digest);
    return caps;
}

static void test_regs_digest_recorded(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps_regs();
    g_autoptr(ItsmigDomainProfile) p = guest("host-b");
    g_auto(ItsmigItsMetadata) start = {0};
    g_auto(ItsmigItsMetadata) arrived = {0};

    p->metadata.host_regs_digest =
        g_strdup("sha256:0000000000000000000000000000000000000000000000000000000000000000");
    p->metadata.host_regs_count = 7;
    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_COLD_START, caps, NULL, NOW, &start));
    g_assert_cmpstr(start.host_regs_digest, ==, caps->regs_digest);
    g_assert_cmpuint(start.host_regs_count, ==, 2);
    /* After an arrival the guest's QEMU has this host's list, not the source's. */
    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_ARRIVED, caps, NULL, NOW, &arrived));
    g_assert_cmpstr(arrived.host_regs_digest, ==, caps->regs_digest);
    g_assert_cmpuint(arrived.host_regs_count, ==, 2);
}

static void test_found_own_record_without_digest(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps_regs();
    g_autoptr(ItsmigDomainProfile) p = guest("host-a");
    g_auto(ItsmigItsMetadata) m = {0};
    g_auto(ItsmigItsMetadata) again = {0};

    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_FOUND, caps, NULL, NOW, &m));
    g_assert_cmpstr(m.host_regs_digest, ==, caps->regs_digest);
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_START);
    g_assert_cmpint(m.written_at, ==, NOW - 5000);
    /* Once it has one, the record stands. */
    itsmig_its_metadata_clear(&p->metadata);
    itsmig_its_metadata_copy(&p->metadata, &m);
    g_assert_false(itsmigd_metadata_plan(p, ITSMIGD_METADATA_FOUND, caps, NULL, NOW, &again));
}

static void test_found_other_host(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest("host-b");
    g_auto(ItsmigItsMetadata) m = {0};

    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_FOUND, caps, NULL, NOW, &m));
    g_assert_cmpint(m.its_abi_revision, ==, 0);
    g_assert_cmpstr(m.host, ==, "host-a");
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_INCOMING);
}

static void test_found_adopted(void)
{
    g_autoptr(ItsmigHostCaps) caps = host_caps("1");
    g_autoptr(ItsmigDomainProfile) p = guest(NULL);
    g_auto(ItsmigItsMetadata) m = {0};
    ItsmigHookRecord cold = {.incoming = FALSE, .started_at = NOW - 60};
    ItsmigHookRecord incoming = {.incoming = TRUE, .started_at = NOW - 60};

    /* The hook saw it start here: a cold start, with the hook's time. */
    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_FOUND, caps, &cold, NOW, &m));
    g_assert_cmpint(m.its_abi_revision, ==, 1);
    g_assert_cmpint(m.started_at, ==, NOW - 60);
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_START);
    itsmig_its_metadata_clear(&m);

    /* Arrived by migration, or nothing known: adopted, revision unknown. */
    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_FOUND, caps, &incoming, NOW, &m));
    g_assert_cmpint(m.its_abi_revision, ==, -1);
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_ADOPTED);
    itsmig_its_metadata_clear(&m);
    g_assert_true(itsmigd_metadata_plan(p, ITSMIGD_METADATA_FOUND, caps, NULL, NOW, &m));
    g_assert_cmpint(m.its_abi_revision, ==, -1);
    g_assert_cmpint(m.started_at, ==, 0);
    g_assert_cmpint(m.written, ==, ITSMIG_METADATA_WRITTEN_ADOPTED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/domain-metadata/cause-of-start", test_cause_of_start);
    g_test_add_func("/domain-metadata/its-absent-never-written", test_its_absent);
    g_test_add_func("/domain-metadata/cold-start-host-default", test_cold_start);
    g_test_add_func("/domain-metadata/cold-start-default-unknown", test_cold_start_default_unknown);
    g_test_add_func("/domain-metadata/arrived-keeps-source", test_arrived_keeps_source);
    g_test_add_func("/domain-metadata/arrived-without-record", test_arrived_without_record);
    g_test_add_func("/domain-metadata/reset-time", test_reset);
    g_test_add_func("/domain-metadata/found-own-record-untouched", test_found_own_record);
    g_test_add_func("/domain-metadata/found-other-host-is-arrival", test_found_other_host);
    g_test_add_func("/domain-metadata/regs-digest-recorded", test_regs_digest_recorded);
    g_test_add_func("/domain-metadata/found-own-record-gets-digest",
                    test_found_own_record_without_digest);
    g_test_add_func("/domain-metadata/found-without-record-adopted", test_found_adopted);
    return g_test_run();
}
