/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The domain operations against libvirt's test driver, which runs in this
 * process: a transient domain per test.  The test driver cannot attach or
 * detach devices, which shows when an operation asks it to.
 */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <libvirt/virterror.h>

#include "itsmig/error.h"
#include "daemon/virt-domain.h"

#define UUID        "6b1a4c58-6d0d-4b47-9a9e-0c5b0e3a7d11"
#define ABSENT_UUID "6b1a4c58-6d0d-4b47-9a9e-0c5b0e3a7d12"
#define DOMAIN_XML                                                                                 \
    "<domain type='test'><name>vd</name><uuid>" UUID "</uuid>"                                     \
    "<memory>1048576</memory><vcpu>1</vcpu>"                                                       \
    "<os><type arch='aarch64' machine='virt-7.2'>hvm</type></os>"                                  \
    "<devices><input type='tablet' bus='usb'><alias name='ua-tablet'/></input></devices>"          \
    "</domain>"
#define TABLET_XML "<input type='tablet' bus='usb'><alias name='ua-tablet'/></input>"
#define KBD_XML    "<input type='keyboard' bus='usb'><alias name='ua-kbd'/></input>"

typedef struct {
    virConnectPtr conn;
    virDomainPtr dom;
} Fixture;

static void quiet(void *data, virErrorPtr error)
{
}

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    /* test:///default starts afresh once its last connection is closed. */
    f->conn = virConnectOpen("test:///default");
    g_assert_nonnull(f->conn);
    f->dom = virDomainCreateXML(f->conn, DOMAIN_XML, 0);
    g_assert_nonnull(f->dom);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    virDomainDestroy(f->dom);
    virDomainFree(f->dom);
    virConnectClose(f->conn);
}

static int state_of(virDomainPtr dom)
{
    int state, reason;

    g_assert_cmpint(virDomainGetState(dom, &state, &reason, 0), ==, 0);
    return state;
}

/* libvirt's "no domain" is the project's not-found; the message is libvirt's,
 * after what was being done. */
static void test_lookup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = itsmigd_virt_domain_lookup(f->conn, UUID, &error);
    g_autoptr(virDomain) absent = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(dom);
    absent = itsmigd_virt_domain_lookup(f->conn, ABSENT_UUID, &error);
    g_assert_null(absent);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(error->message, "cannot look up domain " ABSENT_UUID ": "));
    g_assert_nonnull(strstr(error->message, "Domain not found"));
    g_clear_error(&error);
    g_assert_null(itsmigd_virt_domain_lookup(NULL, UUID, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT_UNAVAILABLE);
}

/* Any other failure is a libvirt error, with libvirt's message alone when
 * nothing is said before it. */
static void test_error(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) bare = NULL;

    g_assert_null(virDomainDefineXML(f->conn, "<domain"));
    g_assert_cmpint(itsmigd_virt_error(&error, "cannot define %s", "it"), ==, VIR_ERR_XML_DETAIL);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT);
    g_assert_true(g_str_has_prefix(error->message, "cannot define it: "));
    g_assert_null(virDomainDefineXML(f->conn, "<domain"));
    itsmigd_virt_error(&bare, NULL);
    g_assert_cmpstr(bare->message, ==, error->message + strlen("cannot define it: "));
    /* No error wanted: only the code. */
    g_assert_null(virDomainLookupByUUIDString(f->conn, ABSENT_UUID));
    g_assert_cmpint(itsmigd_virt_error(NULL, "ignored"), ==, VIR_ERR_NO_DOMAIN);
}

/* Pausing and resuming twice each: the second call finds it done. */
static void test_suspend_resume(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    int state = -1, reason = -1;

    g_assert_true(itsmigd_virt_domain_get_state(f->dom, &state, &reason, &error));
    g_assert_cmpint(state, ==, VIR_DOMAIN_RUNNING);
    g_assert_true(itsmigd_virt_domain_suspend(f->dom, &error));
    g_assert_cmpint(state_of(f->dom), ==, VIR_DOMAIN_PAUSED);
    /* The test driver refuses to pause a paused domain. */
    g_assert_true(itsmigd_virt_domain_suspend(f->dom, &error));
    g_assert_no_error(error);
    g_assert_true(itsmigd_virt_domain_get_state(f->dom, &state, &reason, &error));
    g_assert_cmpint(state, ==, VIR_DOMAIN_PAUSED);
    g_assert_cmpint(reason, ==, VIR_DOMAIN_PAUSED_USER);
    g_assert_true(itsmigd_virt_domain_resume(f->dom, &error));
    g_assert_cmpint(state_of(f->dom), ==, VIR_DOMAIN_RUNNING);
    g_assert_true(itsmigd_virt_domain_resume(f->dom, &error));
    g_assert_no_error(error);
    g_assert_cmpint(state_of(f->dom), ==, VIR_DOMAIN_RUNNING);
}

/* A domain gone meanwhile: not found, with its name. */
static void test_gone(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    int state = 42;

    g_assert_cmpint(virDomainDestroy(f->dom), ==, 0);
    g_assert_false(itsmigd_virt_domain_get_state(f->dom, &state, NULL, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(error->message, "cannot read the state of vd: "));
    g_assert_cmpint(state, ==, 42);
    g_clear_error(&error);
    g_assert_false(itsmigd_virt_domain_resume(f->dom, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_NOT_FOUND);
}

/* The device is looked for by alias in the XML, not by its text. */
static void test_has_device(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gboolean present = FALSE;

    g_assert_true(itsmigd_virt_domain_has_device(f->dom, "ua-tablet", &present, &error));
    g_assert_true(present);
    /* Named in the XML, but not as an alias. */
    g_assert_true(itsmigd_virt_domain_has_device(f->dom, "tablet", &present, &error));
    g_assert_false(present);
    g_assert_no_error(error);
}

/* A device there already is not attached again (the test driver would
 * refuse); one that is not is asked of libvirt. */
static void test_attach(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gboolean attached = TRUE;

    g_assert_true(itsmigd_virt_domain_attach(f->dom, "ua-tablet", TABLET_XML, &attached, &error));
    g_assert_no_error(error);
    g_assert_false(attached);
    g_assert_true(itsmigd_virt_domain_attach(f->dom, "ua-tablet", TABLET_XML, NULL, &error));
    g_assert_false(itsmigd_virt_domain_attach(f->dom, "ua-kbd", KBD_XML, &attached, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT);
    g_assert_true(g_str_has_prefix(error->message, "cannot attach the device 'ua-kbd': "));
    g_assert_nonnull(strstr(error->message, "virDomainAttachDeviceFlags"));
}

/* A device gone already is not detached again, and nothing is pending. */
static void test_detach(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    gboolean pending = TRUE;

    g_assert_true(itsmigd_virt_domain_detach(f->dom, "ua-kbd", KBD_XML, &pending, &error));
    g_assert_no_error(error);
    g_assert_false(pending);
    pending = 42;
    g_assert_false(itsmigd_virt_domain_detach(f->dom, "ua-tablet", TABLET_XML, &pending, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT);
    g_assert_true(g_str_has_prefix(error->message, "cannot detach the device 'ua-tablet': "));
    g_assert_cmpint(pending, ==, 42);
}

/* QEMU's refusals that itsmigd acts on, as libvirt passes them on: "busy" is asked again,
 * a duplicate ID is repaired; libvirt's other errors are neither. */
static void test_error_kinds(void)
{
    static const char *const busy[] = {
        "cannot detach the device 'ua-scratch0': internal error: unable to execute QEMU command "
        "'device_del': Hot-unplug failed: guest is busy (power indicator blinking)",
        "cannot attach the device 'ua-scratch0': guest is busy (power indicator blinking)",
    };
    static const char *const duplicate[] = {
        "cannot attach the device 'ua-scratch0': internal error: unable to execute QEMU "
        "command 'device_add': Duplicate device ID 'ua-scratch0'",
        "cannot attach the device 'ua-scratch0': Duplicate ID 'ua-scratch0' for device",
    };
    g_autoptr(GError) other =
        g_error_new_literal(ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT,
                            "cannot detach the device 'ua-scratch0': device not found");
    g_autoptr(GError) not_libvirt = g_error_new_literal(ITSMIG_ERROR, ITSMIG_ERROR_TIMEOUT,
                                                        "guest is busy (power indicator blinking)");

    for (guint i = 0; i < G_N_ELEMENTS(busy); i++) {
        g_autoptr(GError) b = g_error_new_literal(ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, busy[i]);
        g_autoptr(GError) d = g_error_new_literal(ITSMIG_ERROR, ITSMIG_ERROR_LIBVIRT, duplicate[i]);

        g_assert_true(itsmigd_virt_error_busy(b));
        g_assert_false(itsmigd_virt_error_duplicate_id(b));
        g_assert_true(itsmigd_virt_error_duplicate_id(d));
        g_assert_false(itsmigd_virt_error_busy(d));
    }
    g_assert_false(itsmigd_virt_error_busy(other));
    g_assert_false(itsmigd_virt_error_duplicate_id(other));
    g_assert_false(itsmigd_virt_error_busy(not_libvirt));
    g_assert_false(itsmigd_virt_error_busy(NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, quiet);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
    ADD("/virt-domain/lookup/absent-is-not-found", test_lookup);
    ADD("/virt-domain/error/libvirt-message", test_error);
    g_test_add_func("/virt-domain/error/busy-and-duplicate-id", test_error_kinds);
    ADD("/virt-domain/suspend-resume/idempotent", test_suspend_resume);
    ADD("/virt-domain/state/gone-is-not-found", test_gone);
    ADD("/virt-domain/device/by-alias", test_has_device);
    ADD("/virt-domain/attach/unless-present", test_attach);
    ADD("/virt-domain/detach/unless-gone", test_detach);
#undef ADD
    return g_test_run();
}
