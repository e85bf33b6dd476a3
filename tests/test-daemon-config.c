/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "itsmig/error.h"
#include "daemon/daemon-config.h"

/* ---- fixture: a scratch directory for key files and token files ------------- */

typedef struct {
    char *dir;
    char *conf;  /* dir/itsmigd.conf, written by write_conf() */
    char *token; /* dir/token, holding a valid token */
} Fixture;

#define GOOD_TOKEN "0123456789abcdefXYZ"

static void write_file(const char *path, const char *contents)
{
    g_autoptr(GError) error = NULL;

    /* 0600: itsmigd refuses a token file others may read. */
    g_assert_true(
        g_file_set_contents_full(path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error));
    g_assert_no_error(error);
}

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    (void)data;
    f->dir = g_dir_make_tmp("itsmigd-config-XXXXXX", &error);
    g_assert_no_error(error);
    f->conf = g_build_filename(f->dir, "itsmigd.conf", NULL);
    f->token = g_build_filename(f->dir, "token", NULL);
    write_file(f->token, GOOD_TOKEN "\n");
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;

    (void)data;
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(f->dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->conf);
    g_free(f->token);
}

static ItsmigdConfig *load_text(Fixture *f, const char *text, GError **error)
{
    ItsmigdConfigOverrides o = {.config = f->conf};

    write_file(f->conf, text);
    return itsmigd_config_load(&o, error);
}

static ItsmigdConfig *load_ok(Fixture *f, const char *text)
{
    g_autoptr(GError) error = NULL;
    ItsmigdConfig *c = load_text(f, text, &error);

    if (!c)
        g_error("config refused: %s\n---\n%s---", error->message, text);
    return c;
}

/* The load must fail with invalid-config and a message naming the file and every
 * string in @names (group and key). */
static void assert_load_error(Fixture *f, const char *text, const char *const *names)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = load_text(f, text, &error);

    if (c)
        g_error("config accepted:\n%s", text);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
    if (!strstr(error->message, f->conf))
        g_error("'%s' does not name the file %s", error->message, f->conf);
    for (gsize i = 0; names && names[i]; i++) {
        if (!strstr(error->message, names[i]))
            g_error("'%s' does not name '%s'", error->message, names[i]);
    }
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- loading ------------------------------------------------------------------- */

static void test_defaults(void)
{
    g_autoptr(ItsmigdConfig) c = itsmigd_config_new_default();

    g_assert_null(c->path);
    g_assert_cmpstr(c->uri, ==, "qemu:///system");
    g_assert_cmpint(c->keepalive_interval, ==, 5);
    g_assert_cmpuint(c->keepalive_count, ==, 5);
    g_assert_cmpuint(c->reconnect_min, ==, 1);
    g_assert_cmpuint(c->reconnect_max, ==, 60);
    g_assert_cmpuint(c->history_size, ==, 32);
    g_assert_cmpstr(c->socket, ==, RUNSTATEDIR "/itsmigd/api.sock");
    g_assert_cmpuint(c->socket_mode, ==, 0660);
    g_assert_null(c->socket_group);
    g_assert_null(c->listen);
    g_assert_cmpuint(c->max_body, ==, 65536);
    g_assert_cmpuint(c->max_url, ==, 2048);
    g_assert_cmpuint(c->max_connections, ==, 256);
    g_assert_cmpuint(c->connection_timeout, ==, 30);
    g_assert_cmpuint(c->max_connections_per_user, ==, 32);
    g_assert_cmpuint(c->peer_max_connections, ==, 128);
    g_assert_cmpuint(c->max_connections_per_address, ==, 8);
    g_assert_cmpuint(c->request_timeout, ==, 10);
    g_assert_cmpuint(c->event_buffer, ==, 1024);
    g_assert_cmpuint(c->max_event_streams, ==, 64);
    g_assert_cmpstr(c->state_dir, ==, LOCALSTATEDIR "/lib/itsmigd");
    g_assert_cmpint(c->log_level, ==, G_LOG_LEVEL_INFO);
    g_assert_cmpstr(ITSMIGD_DEFAULT_CONFIG, ==, SYSCONFDIR "/itsmig/itsmigd.conf");
    g_assert_cmpuint(c->max_domain_xml, ==, 4 * 1024 * 1024);
    g_assert_null(c->hostname);
    g_assert_cmpuint(c->hook_timeout, ==, 10);
    g_assert_false(c->hook_fail_open);
    g_assert_cmpstr(c->hook_record_dir, ==, RUNSTATEDIR "/itsmig/hook");
    for (int i = 0; i < ITSMIG_CAP_LAST; i++)
        g_assert_null(c->declared[i]);
    g_assert_cmpuint(c->policy.early_boot_window, ==, 300);
    g_assert_false(c->policy.check_emulated);
    g_assert_cmpuint(g_strv_length(c->migratable_drivers), ==, 4);
    g_assert_null(c->non_migratable);
    g_assert_cmpuint(c->peer_connect_timeout, ==, 3);
    g_assert_cmpuint(c->peer_timeout, ==, 10);
    g_assert_cmpuint(c->peer_cache_ttl, ==, 30);
    g_assert_cmpuint(c->peers->len, ==, 0);
}

static void test_free_null(void)
{
    itsmigd_config_free(NULL);
}

static void test_missing_explicit(Fixture *f, gconstpointer data)
{
    g_autofree char *missing = g_build_filename(f->dir, "nope.conf", NULL);
    ItsmigdConfigOverrides o = {.config = missing};
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = itsmigd_config_load(&o, &error);

    (void)data;
    g_assert_null(c);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
    g_assert_nonnull(strstr(error->message, missing));
}

static void test_missing_default(Fixture *f, gconstpointer data)
{
    ItsmigdConfigOverrides o = {.socket = "/tmp/x.sock"};
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = NULL;

    (void)f;
    (void)data;
    if (g_file_test(ITSMIGD_DEFAULT_CONFIG, G_FILE_TEST_EXISTS)) {
        g_test_skip(ITSMIGD_DEFAULT_CONFIG " exists on this machine");
        return;
    }
    c = itsmigd_config_load(&o, &error);
    g_assert_no_error(error);
    g_assert_nonnull(c);
    g_assert_null(c->path);
    g_assert_cmpstr(c->socket, ==, "/tmp/x.sock");
    g_assert_cmpuint(c->history_size, ==, 32);
}

/* With the default file missing, a bad override must still give one clean error. */
static void test_missing_default_bad_listen(Fixture *f, gconstpointer data)
{
    ItsmigdConfigOverrides o = {.listen = "host:1"};
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = NULL;

    (void)f;
    (void)data;
    if (g_file_test(ITSMIGD_DEFAULT_CONFIG, G_FILE_TEST_EXISTS)) {
        g_test_skip(ITSMIGD_DEFAULT_CONFIG " exists on this machine");
        return;
    }
    c = itsmigd_config_load(&o, &error);
    g_assert_null(c);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
    g_assert_nonnull(strstr(error->message, "listen"));
}

static void test_empty_file(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c = load_ok(f, "");

    (void)data;
    g_assert_cmpstr(c->path, ==, f->conf);
    g_assert_cmpuint(c->history_size, ==, 32);
    g_assert_cmpstr(c->uri, ==, "qemu:///system");
}

static void test_every_key(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf("# comment\n"
                                            "[libvirt]\n"
                                            "uri = test:///default\n"
                                            "keepalive-interval = 0\n"
                                            "keepalive-count = 100\n"
                                            "reconnect-min = 2\n"
                                            "reconnect-max = 3600\n"
                                            "history-size = 4096\n"
                                            "[api]\n"
                                            "socket = /tmp/itsmigd-test.sock\n"
                                            "socket-mode = 0600\n"
                                            "socket-group = kvm\n"
                                            "listen = 127.0.0.1:7443\n"
                                            "tls-cert = /c.pem\n"
                                            "tls-key = /k.pem\n"
                                            "max-body = 1024\n"
                                            "max-url = 65536\n"
                                            "max-connections = 1\n"
                                            "connection-timeout = 86400\n"
                                            "event-buffer = 16\n"
                                            "max-event-streams = 10000\n"
                                            "[daemon]\n"
                                            "state-dir = /tmp/state\n"
                                            "log-level = debug\n");
    g_autoptr(ItsmigdConfig) c = load_ok(f, text);

    (void)data;
    g_assert_cmpstr(c->uri, ==, "test:///default");
    g_assert_cmpint(c->keepalive_interval, ==, 0);
    g_assert_cmpuint(c->keepalive_count, ==, 100);
    g_assert_cmpuint(c->reconnect_min, ==, 2);
    g_assert_cmpuint(c->reconnect_max, ==, 3600);
    g_assert_cmpuint(c->history_size, ==, 4096);
    g_assert_cmpstr(c->socket, ==, "/tmp/itsmigd-test.sock");
    g_assert_cmpuint(c->socket_mode, ==, 0600);
    g_assert_cmpstr(c->socket_group, ==, "kvm");
    g_assert_cmpstr(c->listen, ==, "127.0.0.1:7443");
    g_assert_cmpstr(c->tls_cert, ==, "/c.pem");
    g_assert_cmpstr(c->tls_key, ==, "/k.pem");
    g_assert_cmpuint(c->max_body, ==, 1024);
    g_assert_cmpuint(c->max_url, ==, 65536);
    g_assert_cmpuint(c->max_connections, ==, 1);
    g_assert_cmpuint(c->connection_timeout, ==, 86400);
    g_assert_cmpuint(c->event_buffer, ==, 16);
    g_assert_cmpuint(c->max_event_streams, ==, 10000);
    g_assert_cmpstr(c->state_dir, ==, "/tmp/state");
    g_assert_cmpint(c->log_level, ==, G_LOG_LEVEL_DEBUG);
}

static void test_empty_value_unsets(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c = load_ok(f, "[api]\nsocket-group =\nlisten =   \n");

    (void)data;
    g_assert_null(c->socket_group);
    g_assert_null(c->listen);
}

/* Each numeric key, with a value just out of its range on each side. */
static const struct {
    const char *group;
    const char *key;
    const char *below; /* NULL when 0 is allowed: "-1" is used */
    const char *above;
} numeric[] = {
    {"libvirt", "keepalive-interval", NULL, "3601"},
    {"libvirt", "keepalive-count", "0", "101"},
    {"libvirt", "reconnect-min", "0", "3601"},
    {"libvirt", "reconnect-max", "0", "3601"},
    {"libvirt", "history-size", "0", "4097"},
    {"api", "max-body", "1023", "67108865"},
    {"api", "max-url", "63", "65537"},
    {"api", "max-connections", "0", "65537"},
    {"api", "max-connections-per-user", "0", "65537"},
    {"api", "peer-max-connections", "0", "65537"},
    {"api", "max-connections-per-address", "0", "65537"},
    {"api", "connection-timeout", "0", "86401"},
    {"api", "request-timeout", "0", "3601"},
    {"api", "event-buffer", "15", "1000001"},
    {"api", "max-event-streams", "0", "10001"},
    {"api", "max-domain-xml", "65535", "16777217"},
    {"hook", "timeout", "0", "301"},
    {"policy", "early-boot-window", NULL, "86401"},
    {"peers", "connect-timeout", "0", "61"},
    {"peers", "timeout", "0", "601"},
    {"peers", "cache-ttl", NULL, "3601"},
};

static void test_numeric_out_of_range(Fixture *f, gconstpointer data)
{
    (void)data;
    for (gsize i = 0; i < G_N_ELEMENTS(numeric); i++) {
        const char *bad[] = {numeric[i].below ? numeric[i].below : "-1",
                             numeric[i].above,
                             "abc",
                             "12x",
                             "",
                             "1.5",
                             "0x10",
                             "99999999999999999999999"};

        for (gsize j = 0; j < G_N_ELEMENTS(bad); j++) {
            g_autofree char *text =
                g_strdup_printf("[%s]\n%s = %s\n", numeric[i].group, numeric[i].key, bad[j]);
            g_autofree char *group = g_strdup_printf("[%s]", numeric[i].group);

            assert_load_error(f, text, NAMES(group, numeric[i].key));
        }
    }
}

static void test_numeric_bounds_accepted(Fixture *f, gconstpointer data)
{
    (void)data;
    for (gsize i = 0; i < G_N_ELEMENTS(numeric); i++) {
        g_autofree char *text = NULL;
        g_autoptr(ItsmigdConfig) c = NULL;

        if (!strcmp(numeric[i].key, "reconnect-min") || !strcmp(numeric[i].key, "reconnect-max"))
            continue; /* they constrain each other */
        text = g_strdup_printf("[%s]\n%s = %" G_GUINT64_FORMAT "\n", numeric[i].group,
                               numeric[i].key, g_ascii_strtoull(numeric[i].above, NULL, 10) - 1);
        c = load_ok(f, text);
    }
}

static void test_numeric_whitespace(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c = load_ok(f, "[libvirt]\nhistory-size =   7   \n");

    (void)data;
    g_assert_cmpuint(c->history_size, ==, 7);
}

static void test_unknown_group(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_load_error(f, "[libvirtd]\nuri = x\n", NAMES("[libvirtd]"));
    assert_load_error(f, "[api]\n[Daemon]\n", NAMES("[Daemon]"));
}

static void test_unknown_key(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_load_error(f, "[libvirt]\nurl = qemu:///system\n", NAMES("[libvirt]", "url"));
    assert_load_error(f, "[api]\nstate-dir = /x\n", NAMES("[api]", "state-dir"));
    assert_load_error(f, "[daemon]\nlog-level = info\nverbose = true\n",
                      NAMES("[daemon]", "verbose"));
}

static void test_not_a_key_file(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_load_error(f, "uri = qemu:///system\n", NULL);
    assert_load_error(f, "[libvirt\n", NULL);
}

/* A value GKeyFile cannot unescape is an error naming the key, like any other. */
static void test_bad_escape_in_value(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_load_error(f, "[libvirt]\nhistory-size = 1\\q\n", NAMES("[libvirt]", "history-size"));
    assert_load_error(f, "[api]\nsocket-mode = 06\\q\n", NAMES("[api]", "socket-mode"));
    assert_load_error(f, "[daemon]\nlog-level = info\\q\n", NAMES("[daemon]", "log-level"));
    assert_load_error(f, "[api]\nsocket = /run/\\q\n", NAMES("[api]", "socket"));
}

/* GKeyFile gives no value at all for text that is not UTF-8: every kind of
 * key refuses it, naming where (found by tests/fuzz/fuzz-daemon-config.c). */
static void test_value_not_utf8(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_load_error(f, "[host]\nvcpu-registers-file = /x\xff.json\n",
                      NAMES("[host]", "vcpu-registers-file", "UTF-8"));
    assert_load_error(f, "[host]\narch = aarch\xff\n", NAMES("[host]", "arch"));
    assert_load_error(f, "[policy]\ncheck-emulated = \xfftrue\n",
                      NAMES("[policy]", "check-emulated"));
    assert_load_error(f, "[peer b]\nurl = https://b\xff\n", NAMES("[peer b]", "url"));
    assert_load_error(f, "[libvirt]\nhistory-size = 1\xff\n", NAMES("[libvirt]", "history-size"));
    assert_load_error(f, "[api]\nsocket-mode = 06\xff\n", NAMES("[api]", "socket-mode"));
    assert_load_error(f, "[hook]\non-unreachable = deny\xff\n", NAMES("[hook]", "on-unreachable"));
    assert_load_error(f, "[daemon]\nlog-level = info\xff\n", NAMES("[daemon]", "log-level"));
    assert_load_error(f, "[api]\nsocket = /run/\xff\n", NAMES("[api]", "socket"));
}

/* vcpu-registers-file naming a FIFO or a device is refused at once: it was
 * read with g_file_get_contents(), which blocks on a FIFO and reads
 * /dev/zero until memory runs out. */
static void test_regs_file_not_regular(Fixture *f, gconstpointer data)
{
    g_autofree char *fifo = g_build_filename(f->dir, "regs.fifo", NULL);
    g_autofree char *text = g_strdup_printf("[host]\nvcpu-registers-file = %s\n", fifo);

    (void)data;
    if (g_test_subprocess()) {
        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
        assert_load_error(f, text, NAMES("[host]", "vcpu-registers-file", "not a regular file"));
        assert_load_error(f, "[host]\nvcpu-registers-file = /dev/zero\n",
                          NAMES("[host]", "vcpu-registers-file", "not a regular file"));
        return;
    }
    g_test_trap_subprocess(NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

static void test_reconnect_order(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) equal = NULL;

    (void)data;
    assert_load_error(f, "[libvirt]\nreconnect-min = 10\nreconnect-max = 9\n",
                      NAMES("[libvirt]", "reconnect-max"));
    /* The default reconnect-max (60) is below this minimum. */
    assert_load_error(f, "[libvirt]\nreconnect-min = 61\n", NAMES("reconnect-max"));
    equal = load_ok(f, "[libvirt]\nreconnect-min = 10\nreconnect-max = 10\n");
    g_assert_cmpuint(equal->reconnect_min, ==, 10);
    g_assert_cmpuint(equal->reconnect_max, ==, 10);
}

static void test_socket_mode(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *text;
        unsigned int mode;
    } good[] = {{"0660", 0660}, {"660", 0660}, {"0", 0}, {"0777", 0777}, {"0600", 0600}};
    static const char *const bad[] = {"0999", "abc", "08", "1000", "-1", "", "0x1ff", "066 0"};

    (void)data;
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *text = g_strdup_printf("[api]\nsocket-mode = %s\n", good[i].text);
        g_autoptr(ItsmigdConfig) c = load_ok(f, text);

        g_assert_cmpuint(c->socket_mode, ==, good[i].mode);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("[api]\nsocket-mode = %s\n", bad[i]);

        assert_load_error(f, text, NAMES("[api]", "socket-mode"));
    }
}

/* ---- reload ------------------------------------------------------------------- */

static gboolean has_string(GPtrArray *a, const char *s)
{
    for (guint i = 0; i < a->len; i++)
        if (!strcmp(a->pdata[i], s))
            return TRUE;
    return FALSE;
}

/* What SIGHUP does with each key comes from the schema: reloading keys are
 * copied, restart-only keys stay and are named. */
static void test_reload(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) running = NULL;
    g_autoptr(ItsmigdConfig) fresh = NULL;
    g_autoptr(GPtrArray) restart = NULL;
    ItsmigRule rule;

    (void)data;
    g_assert_true(itsmig_rule_from_string("gicv4-direct-injection", &rule));
    running = load_ok(f, "[libvirt]\nhistory-size = 8\n");
    fresh = load_ok(f, "[libvirt]\nuri = test:///default\nhistory-size = 9\n"
                       "[api]\nmax-body = 2048\nsocket-mode = 0600\nsocket-group = kvm\n"
                       "[daemon]\nlog-level = debug\nhostname = h2\n"
                       "[host]\narch = aarch64\n"
                       "[policy]\nearly-boot-window = 7\ncheck-emulated = true\n"
                       "gicv4-direct-injection = warning\nnon-migratable-devices = hostdev*\n"
                       "[hook]\non-unreachable = allow\n"
                       "[migration]\nmax-jobs = 5\nqemu-log-mark = false\n"
                       "[metrics]\nmax-connections = 3\nmax-domain-series = 4\n");
    restart = itsmigd_config_reload(running, fresh);

    /* Live: copied. */
    g_assert_cmpuint(running->history_size, ==, 9);
    g_assert_cmpint(running->log_level, ==, G_LOG_LEVEL_DEBUG);
    g_assert_cmpstr(running->hostname, ==, "h2");
    g_assert_cmpstr(running->declared[ITSMIG_CAP_ARCH], ==, "aarch64");
    g_assert_cmpuint(running->policy.early_boot_window, ==, 7);
    g_assert_true(running->policy.check_emulated);
    g_assert_cmpint(running->policy.severity[rule], ==, ITSMIG_VERDICT_WARNING);
    g_assert_cmpstr(running->non_migratable[0], ==, "hostdev*");
    g_assert_true(running->non_migratable != fresh->non_migratable);
    g_assert_true(running->hook_fail_open);
    g_assert_cmpuint(running->max_jobs, ==, 5);
    g_assert_false(running->qemu_log_mark);
    g_assert_cmpuint(running->metrics_max_domain_series, ==, 4);
    g_assert_true(running->peers == fresh->peers);

    /* Restart-only: kept, and each named once. */
    g_assert_cmpstr(running->uri, ==, "qemu:///system");
    g_assert_cmpuint(running->max_body, ==, 65536);
    g_assert_cmpuint(running->socket_mode, ==, 0660);
    g_assert_null(running->socket_group);
    g_assert_cmpuint(running->metrics_max_connections, ==, 8);
    g_assert_cmpuint(restart->len, ==, 5);
    g_assert_true(has_string(restart, "[libvirt] uri"));
    g_assert_true(has_string(restart, "[api] max-body"));
    g_assert_true(has_string(restart, "[api] socket-mode"));
    g_assert_true(has_string(restart, "[api] socket-group"));
    g_assert_true(has_string(restart, "[metrics] max-connections"));

    /* Nothing changed: nothing to report. */
    g_clear_pointer(&restart, g_ptr_array_unref);
    restart = itsmigd_config_reload(running, running);
    g_assert_cmpuint(restart->len, ==, 0);
}

static void test_key_reloads(void)
{
    static const struct {
        const char *group, *key;
        gboolean reloads;
    } keys[] = {
        {"libvirt", "uri", FALSE},
        {"libvirt", "history-size", TRUE},
        {"api", "max-body", FALSE},
        {"api", "socket-mode", FALSE},
        {"daemon", "log-level", TRUE},
        {"daemon", "state-dir", FALSE},
        {"host", "arch", TRUE},
        {"policy", "arch-mismatch", TRUE},
        {"peer NAME", "url", TRUE},
        {"metrics", "listen", FALSE},
        {"fleet", "nfd-features-file", TRUE},
    };
    gboolean reloads;

    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_assert_true(itsmigd_config_key_reloads(keys[i].group, keys[i].key, &reloads));
        g_assert_cmpint(reloads, ==, keys[i].reloads);
    }
    g_assert_false(itsmigd_config_key_reloads("api", "no-such-key", &reloads));
}

static void test_log_level_names(void)
{
    static const struct {
        const char *name;
        GLogLevelFlags level;
    } levels[] = {
        {"error", G_LOG_LEVEL_CRITICAL},  {"warning", G_LOG_LEVEL_WARNING},
        {"message", G_LOG_LEVEL_MESSAGE}, {"info", G_LOG_LEVEL_INFO},
        {"debug", G_LOG_LEVEL_DEBUG},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(levels); i++) {
        g_autoptr(GError) error = NULL;
        GLogLevelFlags level = 0;

        g_assert_true(itsmigd_config_parse_log_level(levels[i].name, &level, &error));
        g_assert_no_error(error);
        g_assert_cmpint(level, ==, levels[i].level);
        g_assert_cmpstr(itsmigd_config_log_level_to_string(level), ==, levels[i].name);
    }
}

static void test_log_level_bad(void)
{
    static const char *const bad[] = {"", "INFO", "verbose", "critical", "info "};

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        GLogLevelFlags level = G_LOG_LEVEL_WARNING;

        g_assert_false(itsmigd_config_parse_log_level(bad[i], &level, &error));
        g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
        /* Untouched on failure. */
        g_assert_cmpint(level, ==, G_LOG_LEVEL_WARNING);
    }
}

static void test_log_level_in_file(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c = load_ok(f, "[daemon]\nlog-level = warning\n");

    (void)data;
    g_assert_cmpint(c->log_level, ==, G_LOG_LEVEL_WARNING);
    assert_load_error(f, "[daemon]\nlog-level = loud\n", NAMES("[daemon]", "log-level", "loud"));
}

static void test_listen_good(void)
{
    static const struct {
        const char *text;
        const char *addr;
        guint16 port;
    } good[] = {
        {"0.0.0.0:7443", "0.0.0.0", 7443},
        {"[::1]:7443", "::1", 7443},
        {"[::]:1", "::", 1},
        {"127.0.0.1:65535", "127.0.0.1", 65535},
        {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *addr = NULL;
        guint16 port = 0;

        if (!itsmigd_config_parse_listen(good[i].text, &addr, &port, &error))
            g_error("'%s' refused: %s", good[i].text, error->message);
        g_assert_cmpstr(addr, ==, good[i].addr);
        g_assert_cmpuint(port, ==, good[i].port);
    }
}

static void test_listen_bad(void)
{
    static const char *const bad[] = {
        "host:1",     "1.2.3.4",     "1.2.3.4:0",    "1.2.3.4:70000", "::1:80",   "[::1]",
        "[::1]7443",  "[::1]:",      "1.2.3.4:",     ":7443",         "",         "[host]:80",
        "1.2.3.4:-1", "1.2.3.4:8 0", "1.2.3.4:0x50", "[::1:80",       "1.2.3:80",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *addr = NULL;
        guint16 port = 4242;

        if (itsmigd_config_parse_listen(bad[i], &addr, &port, &error))
            g_error("'%s' accepted as %s port %u", bad[i], addr, port);
        g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
        g_assert_null(addr);
        g_assert_cmpuint(port, ==, 4242);
    }
}

static void test_listen_in_file(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_load_error(f, "[api]\nlisten = host:1\n", NAMES("[api]", "listen", "host:1"));
}

/* The one token shared by every peer is gone: a request must be tied to one peer. */
static void test_api_token_file_refused(Fixture *f, gconstpointer data)
{
    g_autofree char *text =
        g_strdup_printf("[api]\nlisten = 127.0.0.1:7443\ntoken-file = %s\n", f->token);

    (void)data;
    assert_load_error(f, text, NAMES("[api]", "token-file", "accept-token-file"));
}

static void test_listen_needs_tls(Fixture *f, gconstpointer data)
{
    (void)data;
    assert_load_error(f, "[api]\nlisten = 127.0.0.1:7443\ntls-cert =\n", NAMES("[api]", "listen"));
}

static void test_token_short(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf("[peer a]\naccept-token-file = %s\n", f->token);

    (void)data;
    write_file(f->token, "0123456789abcde\n"); /* 15 */
    assert_load_error(f, text, NAMES("[peer a]", "accept-token-file"));
    /* Only the first line counts. */
    write_file(f->token, "short\n0123456789abcdef0123\n");
    assert_load_error(f, text, NAMES("accept-token-file"));
    write_file(f->token, "   0123456789ab   \n");
    assert_load_error(f, text, NAMES("accept-token-file"));
    write_file(f->token, "");
    assert_load_error(f, text, NAMES("accept-token-file"));
}

static void test_token_read(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf("[peer a]\naccept-token-file = %s\n", f->token);

    (void)data;
    write_file(f->token, "  0123456789abcdef  \r\nsecond line\n");
    {
        g_autoptr(ItsmigdConfig) c = load_ok(f, text);
        const ItsmigdPeerConfig *a = itsmigd_config_find_peer(c, "a");

        g_assert_cmpstr(a->accept_token, ==, "0123456789abcdef");
        /* Only calls this host: no URL, nothing to send it. */
        g_assert_null(a->url);
        g_assert_null(a->token);
    }
    write_file(f->token, "0123456789abcdefg"); /* no newline */
    {
        g_autoptr(ItsmigdConfig) c = load_ok(f, text);
        g_assert_cmpstr(itsmigd_config_find_peer(c, "a")->accept_token, ==, "0123456789abcdefg");
    }
}

/* As ssh does with its keys: a secret others may read is no secret. */
static void test_token_permissions(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf("[peer a]\naccept-token-file = %s\n", f->token);
    g_autofree char *sent =
        g_strdup_printf("[peer b]\nurl = https://10.0.0.2\ntoken-file = %s\n", f->token);
    g_autofree char *fifo = g_build_filename(f->dir, "fifo", NULL);
    g_autofree char *via_fifo = g_strdup_printf("[peer a]\naccept-token-file = %s\n", fifo);

    (void)data;
    g_assert_cmpint(g_chmod(f->token, 0644), ==, 0);
    assert_load_error(f, text, NAMES("[peer a]", "accept-token-file", "0644"));
    assert_load_error(f, sent, NAMES("[peer b]", "token-file", "0644"));
    g_assert_cmpint(g_chmod(f->token, 0640), ==, 0);
    assert_load_error(f, text, NAMES("accept-token-file", "0640"));
    g_assert_cmpint(g_chmod(f->token, 0602), ==, 0);
    assert_load_error(f, text, NAMES("accept-token-file", "0602"));
    g_assert_cmpint(g_chmod(f->token, 0400), ==, 0);
    {
        g_autoptr(ItsmigdConfig) c = load_ok(f, text);
        g_assert_cmpstr(itsmigd_config_find_peer(c, "a")->accept_token, ==, GOOD_TOKEN);
    }
    /* Not a regular file: refused without blocking on it. */
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    assert_load_error(f, via_fifo, NAMES("accept-token-file", "regular file"));
}

static void test_secret_key_permissions(Fixture *f, gconstpointer data)
{
    g_autofree char *key = g_build_filename(f->dir, "key.pem", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *contents = NULL;
    gsize len = 0;

    (void)data;
    write_file(key, "-----BEGIN PRIVATE KEY-----\n");
    g_assert_true(itsmigd_config_read_secret(key, &contents, &len, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(len, ==, 28);
    g_assert_cmpint(g_chmod(key, 0644), ==, 0);
    g_clear_pointer(&contents, g_free);
    g_assert_false(itsmigd_config_read_secret(key, &contents, &len, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
    g_assert_nonnull(strstr(error->message, "0644"));
    g_assert_null(contents);
}

/* Each peer its own token, so that a request names one peer. */
static void test_accept_token_shared(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf(
        "[peer a]\naccept-token-file = %s\n[peer b]\naccept-token-file = %s\n", f->token, f->token);

    (void)data;
    assert_load_error(f, text, NAMES("[peer b]", "accept-token-file", "'a'"));
}

static void test_overrides(Fixture *f, gconstpointer data)
{
    g_autofree char *text =
        g_strdup_printf("[libvirt]\nuri = qemu:///session\n"
                        "[api]\nsocket = /file.sock\nlisten = 10.0.0.1:1\n"
                        "[daemon]\nstate-dir = /file-state\nlog-level = error\n");
    ItsmigdConfigOverrides o = {
        .config = f->conf,
        .connect = "test:///default",
        .socket = "/cli.sock",
        .state_dir = "/cli-state",
        .listen = "[::1]:9000",
        .log_level = "debug",
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = NULL;

    (void)data;
    write_file(f->conf, text);
    c = itsmigd_config_load(&o, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->uri, ==, "test:///default");
    g_assert_cmpstr(c->socket, ==, "/cli.sock");
    g_assert_cmpstr(c->state_dir, ==, "/cli-state");
    g_assert_cmpstr(c->listen, ==, "[::1]:9000");
    g_assert_cmpint(c->log_level, ==, G_LOG_LEVEL_DEBUG);
}

static void test_override_listen_empty(Fixture *f, gconstpointer data)
{
    ItsmigdConfigOverrides o = {.config = f->conf, .listen = ""};
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = NULL;

    (void)data;
    /* The file's listen would fail (no TLS key); --listen "" turns TCP off. */
    write_file(f->conf, "[api]\nlisten = 10.0.0.1:1\ntls-key =\n");
    c = itsmigd_config_load(&o, &error);
    g_assert_no_error(error);
    g_assert_null(c->listen);
}

static void test_override_bad(Fixture *f, gconstpointer data)
{
    ItsmigdConfigOverrides bad_level = {.config = f->conf, .log_level = "loud"};
    ItsmigdConfigOverrides bad_listen = {.config = f->conf, .listen = "1.2.3.4"};
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(ItsmigdConfig) c1 = NULL;
    g_autoptr(ItsmigdConfig) c2 = NULL;

    (void)data;
    write_file(f->conf, "");
    c1 = itsmigd_config_load(&bad_level, &e1);
    g_assert_null(c1);
    g_assert_nonnull(e1);
    g_assert_true(e1->domain == ITSMIG_ERROR);
    c2 = itsmigd_config_load(&bad_listen, &e2);
    g_assert_null(c2);
    g_assert_error(e2, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
}

static void test_relative_paths(Fixture *f, gconstpointer data)
{
    ItsmigdConfigOverrides rel_socket = {.config = f->conf, .socket = "api.sock"};
    ItsmigdConfigOverrides rel_state = {.config = f->conf, .state_dir = "state"};
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(ItsmigdConfig) c1 = NULL;
    g_autoptr(ItsmigdConfig) c2 = NULL;

    (void)data;
    assert_load_error(f, "[api]\nsocket = run/api.sock\n", NAMES("[api]", "socket"));
    assert_load_error(f, "[daemon]\nstate-dir = ./state\n", NAMES("[daemon]", "state-dir"));
    assert_load_error(f, "[api]\nsocket =\n", NAMES("[api]", "socket"));

    write_file(f->conf, "");
    c1 = itsmigd_config_load(&rel_socket, &e1);
    g_assert_null(c1);
    g_assert_error(e1, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
    c2 = itsmigd_config_load(&rel_state, &e2);
    g_assert_null(c2);
    g_assert_error(e2, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
}

static void test_socket_too_long(Fixture *f, gconstpointer data)
{
    g_autofree char *longname = g_strnfill(120, 's');
    g_autofree char *text = g_strdup_printf("[api]\nsocket = /%s\n", longname);

    (void)data;
    assert_load_error(f, text, NAMES("[api]", "socket"));
}

/* ---- [host], [policy], [peers], [peer NAME], [hook] ------------------------------ */

static void test_host_declared(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c =
        load_ok(f, "[host]\nits-abi-revisions = 0;1\ndefault-its-abi-revision = 1\n"
                   "gicv4 = 4.0\nctrl-reset = no\n");

    (void)data;
    g_assert_cmpstr(c->declared[ITSMIG_CAP_ITS_ABI_REVISIONS], ==, "0;1");
    g_assert_cmpstr(c->declared[ITSMIG_CAP_DEFAULT_ITS_ABI_REVISION], ==, "1");
    g_assert_cmpstr(c->declared[ITSMIG_CAP_GICV4], ==, "4.0");
    g_assert_cmpstr(c->declared[ITSMIG_CAP_CTRL_RESET], ==, "no");
    g_assert_null(c->declared[ITSMIG_CAP_ARCH]);
}

static void test_host_bad(Fixture *f, gconstpointer data)
{
    static const char *const bad[][2] = {
        {"its-abi-revisions = 16", "its-abi-revisions"},
        {"its-abi-revisions = zero", "its-abi-revisions"},
        {"default-its-abi-revision = -1", "default-its-abi-revision"},
        {"gicv4 = 5", "gicv4"},
        {"page-size = 3000", "page-size"},
        {"save-tables = maybe", "save-tables"},
        {"its_abi_revisions = 0", "its_abi_revisions"},
        {"colour = blue", "colour"},
    };

    (void)data;
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("[host]\n%s\n", bad[i][0]);

        assert_load_error(f, text, NAMES("[host]", bad[i][1]));
    }
}

static void test_policy(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c =
        load_ok(f, "[policy]\nits-profile-fallback = blocker\ngicd-revision-change = off\n"
                   "gicv4-direct-injection = warning\nearly-boot-window = 60\n"
                   "check-emulated = yes\nmigratable-drivers = mlx5_vfio_pci; my_vfio_pci;\n"
                   "non-migratable-devices = ua-scratch*; ; net?\n");

    (void)data;
    g_assert_cmpint(c->policy.severity[ITSMIG_RULE_PROFILE_FALLBACK], ==, ITSMIG_VERDICT_BLOCKER);
    g_assert_cmpint(c->policy.severity[ITSMIG_RULE_GICD_REVISION_CHANGE], ==, ITSMIG_VERDICT_OFF);
    g_assert_cmpint(c->policy.severity[ITSMIG_RULE_GICV4_DIRECT_INJECTION], ==,
                    ITSMIG_VERDICT_WARNING);
    g_assert_cmpuint(c->policy.early_boot_window, ==, 60);
    g_assert_true(c->policy.check_emulated);
    g_assert_cmpuint(g_strv_length(c->migratable_drivers), ==, 2);
    g_assert_cmpstr(c->migratable_drivers[1], ==, "my_vfio_pci");
    g_assert_cmpuint(g_strv_length(c->non_migratable), ==, 2);
    g_assert_cmpstr(c->non_migratable[0], ==, "ua-scratch*");
    g_assert_cmpstr(c->non_migratable[1], ==, "net?");
}

static void test_policy_bad(Fixture *f, gconstpointer data)
{
    static const char *const bad[][2] = {
        {"its-abi-unsupported = warning", "its-abi-unsupported"},
        {"arch-mismatch = off", "arch-mismatch"},
        {"one-way-move = fatal", "one-way-move"},
        {"check-emulated = 2", "check-emulated"},
        {"migratable-drivers = ../x", "migratable-drivers"},
        {"non-migratable-devices = ua-a; ua b", "non-migratable-devices"},
        {"non-migratable-devices = a/b", "non-migratable-devices"},
        {"no-such-rule = off", "no-such-rule"},
    };

    (void)data;
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("[policy]\n%s\n", bad[i][0]);

        assert_load_error(f, text, NAMES("[policy]", bad[i][1]));
    }
}

static void test_peers(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf(
        "[peers]\ntimeout = 5\n[peer b]\nurl = https://10.0.0.2:7443\nca = /etc/ca.pem\n"
        "token-file = %s\n[peer c.example]\nurl = https://[::1]:7443/\ntoken-file = %s\n",
        f->token, f->token);
    g_autoptr(ItsmigdConfig) c = load_ok(f, text);
    const ItsmigdPeerConfig *b;

    (void)data;
    g_assert_cmpuint(c->peer_timeout, ==, 5);
    g_assert_cmpuint(c->peers->len, ==, 2);
    b = itsmigd_config_find_peer(c, "b");
    g_assert_nonnull(b);
    g_assert_cmpstr(b->url, ==, "https://10.0.0.2:7443");
    g_assert_cmpstr(b->ca, ==, "/etc/ca.pem");
    g_assert_cmpstr(b->token, ==, GOOD_TOKEN);
    g_assert_nonnull(itsmigd_config_find_peer(c, "c.example"));
    g_assert_null(itsmigd_config_find_peer(c, "d"));
}

static void test_peers_bad(Fixture *f, gconstpointer data)
{
    g_autofree char *missing = g_build_filename(f->dir, "missing", NULL);
    const struct {
        const char *text;
        const char *names[3];
    } bad[] = {
        {"[peer b]\nurl = http://10.0.0.2:7443\ntoken-file = TOKEN\n", {"[peer b]", "url"}},
        {"[peer b]\nurl = https://10.0.0.2:7443/v1\ntoken-file = TOKEN\n", {"[peer b]", "url"}},
        {"[peer b]\nurl = https://u@10.0.0.2\ntoken-file = TOKEN\n", {"[peer b]", "url"}},
        {"[peer b]\ntoken-file = TOKEN\n", {"[peer b]", "url"}},
        {"[peer b]\nurl = https://10.0.0.2\n", {"[peer b]", "token-file"}},
        {"[peer b]\nurl = https://10.0.0.2\ntoken-file = MISSING\n", {"[peer b]", "token-file"}},
        {"[peer b]\nurl = https://10.0.0.2\nca = ca.pem\ntoken-file = TOKEN\n", {"[peer b]", "ca"}},
        {"[peer b]\nurl = https://10.0.0.2\ntoken-file = TOKEN\nport = 3\n", {"[peer b]", "port"}},
        {"[peer b/c]\nurl = https://10.0.0.2\ntoken-file = TOKEN\n", {"[peer b/c]", "peer name"}},
        {"[peer ]\nurl = https://10.0.0.2\ntoken-file = TOKEN\n", {"peer name", NULL}},
    };

    (void)data;
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GString) text = g_string_new(bad[i].text);

        g_string_replace(text, "MISSING", missing, 0);
        g_string_replace(text, "TOKEN", f->token, 0);
        assert_load_error(f, text->str, bad[i].names);
    }
}

static void test_peer_twice(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf(
        "[peer b]\nurl = https://10.0.0.2\ntoken-file = %s\n[peer b ]\nurl = https://10.0.0.3\n"
        "token-file = %s\n",
        f->token, f->token);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = load_text(f, text, &error);

    (void)data;
    /* GKeyFile keeps "peer b " apart from "peer b": the trailing space is
     * not a valid name character, so the second group is refused. */
    g_assert_null(c);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
}

static void test_hook(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c =
        load_ok(f, "[hook]\ntimeout = 3\non-unreachable = allow\nrecord-dir = /tmp/r\n"
                   "restore-unrecorded = deny\nrestore-image-unread = deny\n"
                   "[daemon]\nhostname = host-a.example\n");
    g_autoptr(ItsmigdConfig) d = load_ok(f, "[hook]\n");

    (void)data;
    g_assert_cmpuint(c->hook_timeout, ==, 3);
    g_assert_true(c->hook_fail_open);
    g_assert_cmpstr(c->hook_record_dir, ==, "/tmp/r");
    g_assert_true(c->hook_restore_unrecorded_deny);
    g_assert_false(d->hook_restore_unrecorded_deny);
    g_assert_true(c->hook_restore_image_unread_deny);
    g_assert_false(d->hook_restore_image_unread_deny);
    g_assert_cmpstr(c->hostname, ==, "host-a.example");
    assert_load_error(f, "[hook]\non-unreachable = maybe\n", NAMES("[hook]", "on-unreachable"));
    assert_load_error(f, "[hook]\nrestore-unrecorded = refuse\n",
                      NAMES("[hook]", "restore-unrecorded", "'refuse' is not allow or deny"));
    assert_load_error(f, "[hook]\nrestore-image-unread = maybe\n",
                      NAMES("[hook]", "restore-image-unread", "'maybe' is not allow or deny"));
    assert_load_error(f, "[hook]\nrecord-dir = relative\n", NAMES("[hook]", "record-dir"));
    assert_load_error(f, "[daemon]\nhostname = a b\n", NAMES("[daemon]", "hostname"));
}

/* Every problem of a file is reported, one a line, in file order within each
 * kind, not only the first (itsmigd --check-config lists them all). */
static void test_every_problem(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigdConfig) c = load_text(f,
                                           "[libvirt]\nhistory-size = 0\nreconnect-min = x\n"
                                           "[api]\nsocket = rel\nbogus = 1\n"
                                           "[nonsense]\na = b\n"
                                           "[policy]\nmigratable-drivers = ok_one;bad/one;b@d\n"
                                           "[host]\ngicv4 = 5\npage-size = big\n"
                                           "[peer p]\nurl = http://x\nca = rel\n",
                                           &error);
    g_auto(GStrv) lines = NULL;
    const char *const want[] = {
        "[api] bogus: unknown key",
        "unknown group [nonsense]",
        "[peer p] url: 'http://x'",
        "[peer p] ca: must be an absolute path",
        "[peer p] token-file:",
        "[libvirt] history-size: '0'",
        "[libvirt] reconnect-min: 'x'",
        "[host] gicv4:",
        "[host] page-size:",
        "[policy] migratable-drivers: 'bad/one'",
        "[policy] migratable-drivers: 'b@d'",
        "[api] socket: must be an absolute path",
        NULL,
    };

    g_assert_null(c);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_CONFIG);
    lines = g_strsplit(error->message, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, g_strv_length((char **)want));
    for (gsize i = 0; want[i]; i++) {
        gboolean found = FALSE;

        for (gsize j = 0; lines[j] && !found; j++)
            found = g_str_has_prefix(lines[j], f->conf) && strstr(lines[j], want[i]);
        if (!found)
            g_error("no line says '%s' in:\n%s", want[i], error->message);
    }
}

static void test_fleet(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) c =
        load_ok(f, "[fleet]\n"
                   "nova-provider-config = /etc/nova/provider_config/i.yaml\n"
                   "nfd-features-file = /etc/nfd/itsmig\n");
    g_autoptr(ItsmigdConfig) d = load_ok(f, "");

    g_assert_cmpstr(c->nova_provider_config, ==, "/etc/nova/provider_config/i.yaml");
    g_assert_cmpstr(c->nfd_features_file, ==, "/etc/nfd/itsmig");
    g_assert_null(d->nova_provider_config);
    g_assert_null(d->nfd_features_file);
    assert_load_error(f, "[fleet]\nnova-provider-config = rel.yaml\n",
                      NAMES("[fleet]", "nova-provider-config"));
    /* nova-compute reads only *.yaml: another name would be silently ignored. */
    assert_load_error(f, "[fleet]\nnova-provider-config = /etc/nova/provider_config/i.yml\n",
                      NAMES("[fleet]", "nova-provider-config", ".yaml"));
    assert_load_error(f, "[fleet]\nnfd-features-file = rel\n",
                      NAMES("[fleet]", "nfd-features-file"));
    assert_load_error(f, "[fleet]\nnova = /x.yaml\n", NAMES("[fleet]", "nova"));
}

/* [metrics]: off by default, a listen address checked like [api] listen and
 * never the same, the series cap within its range. */
static void test_metrics(Fixture *f, gconstpointer data)
{
    g_autoptr(ItsmigdConfig) d = itsmigd_config_new_default();
    g_autoptr(ItsmigdConfig) c =
        load_ok(f, "[metrics]\nlisten = 127.0.0.1:9474\nmax-connections = 4\n"
                   "max-domain-series = 0\n");

    (void)data;
    g_assert_null(d->metrics_listen);
    g_assert_cmpuint(d->metrics_max_connections, ==, 8);
    g_assert_cmpuint(d->metrics_max_domain_series, ==, 20000);
    g_assert_cmpstr(c->metrics_listen, ==, "127.0.0.1:9474");
    g_assert_cmpuint(c->metrics_max_connections, ==, 4);
    g_assert_cmpuint(c->metrics_max_domain_series, ==, 0);
    assert_load_error(f, "[metrics]\nlisten = localhost:9474\n", NAMES("[metrics]", "listen"));
    assert_load_error(f, "[metrics]\nlisten = 127.0.0.1\n", NAMES("[metrics]", "listen"));
    assert_load_error(f,
                      "[api]\nlisten = 127.0.0.1:7443\ntls-cert = /c\ntls-key = /k\n"
                      "[metrics]\nlisten = 127.0.0.1:7443\n",
                      NAMES("[metrics]", "listen", "[api] listen"));
    assert_load_error(f, "[metrics]\nmax-domain-series = 1000001\n",
                      NAMES("[metrics]", "max-domain-series"));
    assert_load_error(f, "[metrics]\nmax-connections = 0\n", NAMES("[metrics]", "max-connections"));
    assert_load_error(f, "[metrics]\nport = 1\n", NAMES("[metrics]", "port"));
}

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/daemon-config/defaults", test_defaults);
    g_test_add_func("/daemon-config/free-null", test_free_null);
    ADD("/daemon-config/file/explicit-missing-is-error", test_missing_explicit);
    ADD("/daemon-config/file/default-missing-is-fine", test_missing_default);
    ADD("/daemon-config/file/default-missing-bad-listen", test_missing_default_bad_listen);
    ADD("/daemon-config/file/empty", test_empty_file);
    ADD("/daemon-config/file/every-key", test_every_key);
    ADD("/daemon-config/file/empty-value-unsets", test_empty_value_unsets);
    ADD("/daemon-config/file/not-a-key-file", test_not_a_key_file);
    ADD("/daemon-config/file/bad-escape-in-value", test_bad_escape_in_value);
    ADD("/daemon-config/file/value-not-utf8", test_value_not_utf8);
    ADD("/daemon-config/file/regs-file-not-regular", test_regs_file_not_regular);
    ADD("/daemon-config/numeric/out-of-range", test_numeric_out_of_range);
    ADD("/daemon-config/numeric/bounds-accepted", test_numeric_bounds_accepted);
    ADD("/daemon-config/numeric/whitespace", test_numeric_whitespace);
    ADD("/daemon-config/unknown-group", test_unknown_group);
    ADD("/daemon-config/unknown-key", test_unknown_key);
    ADD("/daemon-config/reconnect-max-below-min", test_reconnect_order);
    ADD("/daemon-config/socket-mode", test_socket_mode);
    ADD("/daemon-config/reload", test_reload);
    g_test_add_func("/daemon-config/reload/key", test_key_reloads);
    ADD("/daemon-config/metrics", test_metrics);
    g_test_add_func("/daemon-config/log-level/names", test_log_level_names);
    g_test_add_func("/daemon-config/log-level/bad", test_log_level_bad);
    ADD("/daemon-config/log-level/in-file", test_log_level_in_file);
    g_test_add_func("/daemon-config/listen/good", test_listen_good);
    g_test_add_func("/daemon-config/listen/bad", test_listen_bad);
    ADD("/daemon-config/listen/in-file", test_listen_in_file);
    ADD("/daemon-config/listen/api-token-file-refused", test_api_token_file_refused);
    ADD("/daemon-config/listen/needs-tls", test_listen_needs_tls);
    ADD("/daemon-config/token/too-short", test_token_short);
    ADD("/daemon-config/token/first-line-trimmed", test_token_read);
    ADD("/daemon-config/token/refused-when-others-may-read", test_token_permissions);
    ADD("/daemon-config/token/one-per-peer", test_accept_token_shared);
    ADD("/daemon-config/secret/tls-key-permissions", test_secret_key_permissions);
    ADD("/daemon-config/overrides/beat-file", test_overrides);
    ADD("/daemon-config/overrides/listen-empty-disables", test_override_listen_empty);
    ADD("/daemon-config/overrides/bad", test_override_bad);
    ADD("/daemon-config/relative-paths", test_relative_paths);
    ADD("/daemon-config/socket-too-long", test_socket_too_long);
    ADD("/daemon-config/host/declared", test_host_declared);
    ADD("/daemon-config/host/bad", test_host_bad);
    ADD("/daemon-config/policy/good", test_policy);
    ADD("/daemon-config/policy/bad", test_policy_bad);
    ADD("/daemon-config/peers/good", test_peers);
    ADD("/daemon-config/peers/bad", test_peers_bad);
    ADD("/daemon-config/peers/twice", test_peer_twice);
    ADD("/daemon-config/hook", test_hook);
    ADD("/daemon-config/problems/every-one-listed", test_every_problem);
    ADD("/daemon-config/fleet", test_fleet);

    return g_test_run();
}
