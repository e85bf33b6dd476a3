/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "itsmig/error.h"
#include "daemon/peer-reply.h"

static ItsmigErrorCode code_of(const char *body, long status)
{
    return itsmigd_peer_reply_error_code(body, strlen(body), status);
}

/* The code a peer's error reply gives the local failure. */
static void test_error_code(void)
{
    /* Kept: the job's attention gives the steps that work on that host. */
    g_assert_cmpint(code_of("{\"error\":{\"code\":\"device-unknown-to-libvirt\",\"message\":"
                            "\"QEMU has device hostdev0, libvirt does not list it\"}}",
                            502),
                    ==, ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT);
    /* Any other code of the peer's is the peer's error, whatever the message says. */
    g_assert_cmpint(code_of("{\"error\":{\"code\":\"libvirt-error\",\"message\":"
                            "\"x: device-unknown-to-libvirt: y\"}}",
                            502),
                    ==, ITSMIG_ERROR_PEER_ERROR);
    g_assert_cmpint(code_of("{\"error\":{\"code\":\"not-a-code\",\"message\":\"m\"}}", 500), ==,
                    ITSMIG_ERROR_PEER_ERROR);
    g_assert_cmpint(code_of("{\"error\":{\"code\":7,\"message\":\"m\"}}", 500), ==,
                    ITSMIG_ERROR_PEER_ERROR);
    g_assert_cmpint(code_of("{\"error\":\"device-unknown-to-libvirt\"}", 500), ==,
                    ITSMIG_ERROR_PEER_ERROR);
    g_assert_cmpint(code_of("<html>Bad Gateway</html>", 502), ==, ITSMIG_ERROR_PEER_ERROR);
    g_assert_cmpint(code_of("", 500), ==, ITSMIG_ERROR_PEER_ERROR);
    /* A 503 is asked again, whatever the body. */
    g_assert_cmpint(code_of("{\"error\":{\"code\":\"device-unknown-to-libvirt\",\"message\":"
                            "\"m\"}}",
                            503),
                    ==, ITSMIG_ERROR_PEER_UNAVAILABLE);
    g_assert_cmpint(code_of("", 503), ==, ITSMIG_ERROR_PEER_UNAVAILABLE);
}

static void test_error_text(void)
{
    g_autofree char *text = NULL;
    g_autofree char *odd = NULL;
    const char *body = "{\"error\":{\"code\":\"libvirt-error\",\"message\":\"no domain\"}}";
    const char *typed = "{\"error\":{\"code\":[1],\"message\":\"m\"}}";

    text = itsmigd_peer_reply_error_text(body, strlen(body));
    g_assert_cmpstr(text, ==, "libvirt-error: no domain");
    odd = itsmigd_peer_reply_error_text(typed, strlen(typed));
    g_assert_cmpstr(odd, ==, "?: m");
    g_assert_null(itsmigd_peer_reply_error_text("{\"error\":{\"code\":\"x\"}}", 22));
    g_assert_null(itsmigd_peer_reply_error_text("[]", 2));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/peer-reply/error-code", test_error_code);
    g_test_add_func("/peer-reply/error-text", test_error_text);
    return g_test_run();
}
