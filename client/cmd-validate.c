/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <linux/kvm.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "itsmigctl.h"

#include "daemon/daemon-config.h"
#include "itsmig/diag.h"
#include "itsmig/its-abi.h"
#include "itsmig/json-member.h"
#include "itsmig/json-strict.h"
#include "itsmig/kvm-its.h"

/*
 * itsmigctl host validate: what itsmig needs on this host, one check a line,
 * in the manner of virt-host-validate.  Each check says what it found and,
 * unless it passed, what to do about it.
 */

#define DEFAULT_HOOK      SYSCONFDIR "/libvirt/hooks/qemu.d/50-itsmig"
#define DEFAULT_QEMU_CONF SYSCONFDIR "/libvirt/qemu.conf"
/* The clock's estimated error above which peers' job times and TLS
 * certificates' validity become doubtful. */
#define CLOCK_MAX_ERROR_US 1000000

typedef enum { CHECK_PASS, CHECK_WARN, CHECK_FAIL } CheckStatus;

static const char *const status_names[] = {"PASS", "WARN", "FAIL"};

typedef struct {
    char *id;
    char *title;
    CheckStatus status;
    char *detail;
    char *hint;
} Check;

static void check_free(Check *c)
{
    g_free(c->id);
    g_free(c->title);
    g_free(c->detail);
    g_free(c->hint);
    g_free(c);
}

static void add_check(GPtrArray *checks, const char *id, const char *title, CheckStatus status,
                      const char *hint, const char *fmt, ...) G_GNUC_PRINTF(6, 7);

static void add_check(GPtrArray *checks, const char *id, const char *title, CheckStatus status,
                      const char *hint, const char *fmt, ...)
{
    Check *c = g_new0(Check, 1);
    va_list ap;

    va_start(ap, fmt);
    c->detail = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->id = g_strdup(id);
    c->title = g_strdup(title);
    c->status = status;
    c->hint = g_strdup(hint);
    g_ptr_array_add(checks, c);
}

/* PASS naming @path, or FAIL with @path and errno's text and @hint. */
static void add_path_check(GPtrArray *checks, const char *id, const char *title, const char *path,
                           gboolean ok, const char *hint)
{
    if (ok)
        add_check(checks, id, title, CHECK_PASS, "", "%s", path);
    else
        add_check(checks, id, title, CHECK_FAIL, hint, "%s: %s", path, g_strerror(errno));
}

static void check_arch(GPtrArray *checks)
{
    struct utsname u;

    uname(&u);
    if (strcmp(u.machine, "aarch64") == 0)
        add_check(checks, "arch", "hardware architecture arm64", CHECK_PASS, "", "aarch64");
    else
        add_check(checks, "arch", "hardware architecture arm64", CHECK_FAIL,
                  "itsmig migrates arm64 KVM guests: run it on an arm64 host", "this host is %s",
                  u.machine);
}

static void check_kvm_device(GPtrArray *checks)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int version;

    if (fd >= 0) {
        /* Something else at that path opens too: KVM answers its own ioctl. */
        version = ioctl(fd, KVM_GET_API_VERSION, 0);
        close(fd);
        if (version == KVM_API_VERSION)
            add_check(checks, "kvm", "/dev/kvm", CHECK_PASS, "", "KVM API version %d", version);
        else
            add_check(checks, "kvm", "/dev/kvm", CHECK_FAIL,
                      "/dev/kvm must be the kvm character device (10:232)",
                      "/dev/kvm does not answer KVM_GET_API_VERSION as KVM %d does",
                      KVM_API_VERSION);
        return;
    }
    add_check(checks, "kvm", "/dev/kvm", CHECK_FAIL,
              errno == ENOENT ? "load the kvm module (and enable virtualization in the firmware)"
                              : "run as root, or as a member of the kvm group",
              "cannot open /dev/kvm: %s", g_strerror(errno));
}

static void check_vgic(GPtrArray *checks)
{
    ItsmigKvmItsCaps caps;
    ItsmigDiag diag = {0};
    g_autoptr(GString) missing = g_string_new(NULL);
    g_autoptr(GString) revisions = g_string_new(NULL);
    int rc = itsmig_kvm_its_probe(&caps, &diag);

    if (!caps.available || rc < 0) {
        const char *why = caps.available ? diag.text : caps.unavailable_reason;

        add_check(checks, "vgic-its", "vGICv3 with an in-kernel ITS", CHECK_FAIL,
                  "itsmig needs KVM on arm64 with a GICv3 ITS (vgic-v3, CONFIG_KVM)",
                  "cannot create one: %s", why);
        add_check(checks, "its-controls", "ITS save, restore and reset controls", CHECK_FAIL,
                  "the controls are probed in a scratch VM with a vGICv3 and an ITS",
                  "not probed: no vGICv3 with an ITS");
        return;
    }
    /* Listed as `host probe` lists them: a mask such as 0x0001 reads as revision 1. */
    for (unsigned rev = 0; rev <= ITSMIG_ITS_ABI_REV_MAX; rev++) {
        if (itsmig_kvm_its_caps_has_revision(&caps, rev))
            g_string_append_printf(revisions, "%s%u", revisions->len ? ", " : "", rev);
    }
    add_check(checks, "vgic-its", "vGICv3 with an in-kernel ITS", CHECK_PASS, "",
              "ITS table ABI revisions %s (a new ITS uses %u)",
              revisions->len ? revisions->str : "none", caps.default_abi_revision);
    if (!caps.has_save_tables)
        g_string_append(missing, " SAVE_TABLES");
    if (!caps.has_restore_tables)
        g_string_append(missing, " RESTORE_TABLES");
    if (!caps.has_save_pending_tables)
        g_string_append(missing, " SAVE_PENDING_TABLES");
    if (missing->len) {
        add_check(checks, "its-controls", "ITS save, restore and reset controls", CHECK_FAIL,
                  "this kernel cannot migrate a guest's ITS: use a newer kernel", "missing:%s",
                  missing->str);
    } else if (!caps.has_ctrl_reset) {
        add_check(checks, "its-controls", "ITS save, restore and reset controls", CHECK_WARN,
                  "without CTRL_RESET a guest migrated during early boot may keep stale "
                  "ITS state (see itsmig-compat(7), early-boot-no-its-reset)",
                  "CTRL_RESET missing");
    } else {
        add_check(checks, "its-controls", "ITS save, restore and reset controls", CHECK_PASS, "",
                  "SAVE_TABLES RESTORE_TABLES SAVE_PENDING_TABLES CTRL_RESET");
    }
}

static void quiet_libvirt(void *data, virErrorPtr err)
{
}

static void check_libvirt(GPtrArray *checks, const char *uri)
{
    virConnectPtr conn;
    unsigned long version = 0;

    virSetErrorFunc(NULL, quiet_libvirt);
    conn = virConnectOpenReadOnly(uri);
    if (!conn) {
        virErrorPtr err = virGetLastError();

        add_check(checks, "libvirt", "libvirt reachable", CHECK_FAIL,
                  "start libvirtd (or virtqemud) and check [libvirt] uri in itsmigd.conf", "%s: %s",
                  uri, err && err->message ? err->message : "cannot connect");
        return;
    }
    virConnectGetLibVersion(conn, &version);
    add_check(checks, "libvirt", "libvirt reachable", CHECK_PASS, "", "%s, libvirt %lu.%lu.%lu",
              uri, version / 1000000, version / 1000 % 1000, version % 1000);
    virConnectClose(conn);
}

static void check_qemu_log_dir(GPtrArray *checks, const char *dir)
{
    DIR *d = opendir(dir);
    gboolean ok = d != NULL;

    if (d)
        closedir(d);
    add_path_check(checks, "qemu-log-dir", "QEMU log directory readable", dir, ok,
                   "itsmigd reads each guest's QEMU log to verify the ITS save: install "
                   "libvirt's QEMU driver or set [migration] qemu-log-dir");
}

/*
 * The string KEY is set to in qemu.conf, read as libvirt's own parser (virconf)
 * reads it: the first assignment counts, the value is in double or single
 * quotes, and a comment or a ';' may follow it.  NULL when KEY is not set, or
 * with *bad set to the line when libvirt would not read it as a string.
 */
static char *qemu_conf_string(char **lines, const char *key, char **bad)
{
    size_t key_len = strlen(key);

    for (char **l = lines; *l; l++) {
        const char *p = *l, *end;
        char quote;

        while (*p == ' ' || *p == '\t')
            p++;
        /* A comment, another statement, or a longer name such as KEY_foo. */
        if (strncmp(p, key, key_len) || g_ascii_isalnum(p[key_len]) || p[key_len] == '_')
            continue;
        p += key_len;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ == '=') {
            while (*p == ' ' || *p == '\t')
                p++;
            quote = *p;
            end = quote == '"' || quote == '\'' ? strchr(p + 1, quote) : NULL;
            if (end) {
                const char *rest = end + 1;

                while (*rest == ' ' || *rest == '\t' || *rest == '\r')
                    rest++;
                if (!*rest || *rest == '#' || *rest == ';')
                    return g_strndup(p + 1, end - p - 1);
            }
        }
        *bad = g_strstrip(g_strdup(*l));
        return NULL;
    }
    return NULL;
}

/* qemu.conf's stdio_handler: where QEMU's stderr, with its ITS save errors, goes. */
static void check_stdio_handler(GPtrArray *checks, const char *qemu_conf)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *value = NULL;
    g_autofree char *bad = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(qemu_conf, &text, NULL, &error)) {
        add_check(checks, "stdio-handler", "qemu.conf stdio_handler", CHECK_WARN,
                  "install libvirt's QEMU driver (libvirt-daemon-driver-qemu); its default, "
                  "logd, suits itsmig",
                  "%s", error->message);
        return;
    }
    lines = g_strsplit(text, "\n", -1);
    value = qemu_conf_string(lines, "stdio_handler", &bad);
    if (bad) {
        add_check(checks, "stdio-handler", "qemu.conf stdio_handler", CHECK_FAIL,
                  "write it as stdio_handler = \"logd\" (or \"file\"): libvirt reads only a "
                  "quoted string there",
                  "%s: cannot read '%s' as a string", qemu_conf, bad);
    } else if (!value) {
        add_check(checks, "stdio-handler", "qemu.conf stdio_handler", CHECK_PASS, "",
                  "not set: logd, QEMU's output in the per-guest log file");
    } else if (!strcmp(value, "logd") || !strcmp(value, "file")) {
        add_check(checks, "stdio-handler", "qemu.conf stdio_handler", CHECK_PASS, "",
                  "\"%s\": QEMU's output in the per-guest log file", value);
    } else {
        add_check(checks, "stdio-handler", "qemu.conf stdio_handler", CHECK_FAIL,
                  "set stdio_handler = \"logd\" (or \"file\") in qemu.conf so that QEMU's "
                  "errors reach the log itsmigd reads",
                  "%s: \"%s\" is neither \"logd\" nor \"file\"", qemu_conf, value);
    }
}

static void check_hook(GPtrArray *checks, const char *hook)
{
    struct stat st;

    if (stat(hook, &st) < 0) {
        add_check(checks, "hook", "libvirt hook installed", CHECK_FAIL,
                  "install itsmig-libvirt-hook, then reload libvirtd: without it, a migration "
                  "the scheduler did not choose (a forced host) is not checked",
                  "%s: %s", hook, g_strerror(errno));
    } else if (!S_ISREG(st.st_mode) || access(hook, X_OK) < 0) {
        add_check(checks, "hook", "libvirt hook installed", CHECK_FAIL,
                  "libvirt runs only executable hooks: chmod 0755 it",
                  "%s is not an executable file", hook);
    } else {
        add_check(checks, "hook", "libvirt hook installed", CHECK_PASS, "", "%s", hook);
    }
}

static void check_state_dir(GPtrArray *checks, const char *dir)
{
    g_autofree char *probe = g_build_filename(dir, ".validate-XXXXXX", NULL);
    int fd = g_mkstemp_full(probe, O_RDWR | O_CLOEXEC, 0600);

    if (fd >= 0) {
        close(fd);
        g_unlink(probe);
    }
    add_path_check(checks, "state-dir", "state directory writable", dir, fd >= 0,
                   "itsmigd journals every migration there: create it (itsmigd's tmpfiles.d "
                   "does) or set [daemon] state-dir");
}

static void check_tls(GPtrArray *checks, const ItsmigdConfig *c)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    gsize key_len = 0;

    if (!c->listen) {
        add_check(checks, "tls", "TLS certificate and key readable", CHECK_PASS, "",
                  "not used: no [api] listen, peers do not call this host");
        return;
    }
    if (!g_file_get_contents(c->tls_cert, &cert, NULL, &error) ||
        !strstr(cert, "-----BEGIN CERTIFICATE-----")) {
        add_check(checks, "tls", "TLS certificate and key readable", CHECK_FAIL,
                  "give [api] tls-cert a PEM certificate itsmigd can read", "%s",
                  error ? error->message : "tls-cert holds no PEM certificate");
        return;
    }
    if (!itsmigd_config_read_secret(c->tls_key, &key, &key_len, &error)) {
        add_check(checks, "tls", "TLS certificate and key readable", CHECK_FAIL,
                  "give [api] tls-key a PEM key of mode 0600 that itsmigd can read", "%s",
                  error->message);
        return;
    }
    explicit_bzero(key, key_len);
    add_check(checks, "tls", "TLS certificate and key readable", CHECK_PASS, "", "%s, %s",
              c->tls_cert, c->tls_key);
}

static void check_peers(GPtrArray *checks, const ItsmigdConfig *c)
{
    guint n_called = 0;

    for (guint i = 0; i < c->peers->len; i++) {
        const ItsmigdPeerConfig *peer = g_ptr_array_index(c->peers, i);
        g_autofree char *id = g_strdup_printf("peer:%s", peer->name);
        g_autofree char *title = g_strdup_printf("peer %s reachable, token accepted", peer->name);
        g_autoptr(ItsmigRestClient) client = NULL;
        g_autoptr(ItsmigRestReply) reply = NULL;
        g_autoptr(GError) error = NULL;

        if (!peer->url)
            continue;
        n_called++;
        client =
            itsmig_rest_client_new_https(peer->url, peer->token, peer->ca, c->peer_timeout, &error);
        if (!client ||
            !itsmig_rest_client_request(client, "GET", "/v1/host", NULL, NULL, 0, &reply, &error)) {
            add_check(checks, id, title, CHECK_FAIL,
                      "check that the peer's itsmigd listens there ([api] listen), the "
                      "network and the CA ([peer NAME] ca)",
                      "%s", error->message);
        } else if (reply->status == 401 || reply->status == 403) {
            add_check(checks, id, title, CHECK_FAIL,
                      "the peer's [peer NAME] accept-token-file must hold this host's "
                      "token-file",
                      "%s refused the token (HTTP %ld)", peer->url, reply->status);
        } else if (reply->status != 200) {
            add_check(checks, id, title, CHECK_FAIL, "look at the peer's itsmigd log",
                      "%s answered HTTP %ld", peer->url, reply->status);
        } else {
            add_check(checks, id, title, CHECK_PASS, "", "%s", peer->url);
        }
    }
    if (!n_called)
        add_check(checks, "peers", "peers configured", CHECK_WARN,
                  "add a [peer NAME] group for each host guests move to: preflight and the "
                  "matrix need them",
                  "no peer with a url in %s", c->path ? c->path : "the configuration");
}

static void check_clock(GPtrArray *checks)
{
    struct timex tx = {0};
    int state = adjtimex(&tx);

    if (state < 0) {
        add_check(checks, "clock", "clock synchronized", CHECK_WARN,
                  "run an NTP client (systemd-timesyncd, chrony)", "adjtimex: %s",
                  g_strerror(errno));
    } else if (state == TIME_ERROR || (tx.status & STA_UNSYNC)) {
        add_check(checks, "clock", "clock synchronized", CHECK_WARN,
                  "run an NTP client (systemd-timesyncd, chrony): peers' TLS certificates and "
                  "the jobs' times depend on it",
                  "the kernel says the clock is not synchronized");
    } else if (tx.maxerror > CLOCK_MAX_ERROR_US) {
        add_check(checks, "clock", "clock synchronized", CHECK_WARN,
                  "check the NTP client's sources", "estimated error %ld ms", tx.maxerror / 1000);
    } else {
        add_check(checks, "clock", "clock synchronized", CHECK_PASS, "", "estimated error %ld ms",
                  tx.maxerror / 1000);
    }
}

static const char validate_description[] =
    "Checks what itsmig needs on this host, in the manner of virt-host-validate:\n"
    "arm64, /dev/kvm, a vGICv3 with an ITS and its save/restore/reset controls,\n"
    "itsmigd's configuration, libvirt, the QEMU log directory and qemu.conf's\n"
    "stdio_handler, the libvirt hook, the state directory, the TLS certificate and\n"
    "key, each peer (reachable, token accepted) and the clock.\n"
    "\n"
    "Exit status: 0 every check passed, 1 warnings, 2 a check failed (or bad\n"
    "arguments).\n";

/* Every check, in the order they print. */
static void validate_run(GPtrArray *checks, const char *config_path, const char *hook,
                         const char *qemu_conf)
{
    g_autoptr(ItsmigdConfig) config = NULL;
    g_autoptr(GError) error = NULL;
    ItsmigdConfigOverrides overrides = {0};

    check_arch(checks);
    check_kvm_device(checks);
    check_vgic(checks);
    overrides.config = config_path;
    config = itsmigd_config_load(&overrides, &error);
    if (config) {
        add_check(checks, "config", "itsmigd configuration", CHECK_PASS, "", "%s",
                  config->path ? config->path : "none: the defaults");
    } else {
        add_check(checks, "config", "itsmigd configuration", CHECK_FAIL,
                  "fix it (itsmigd --check-config lists every problem); the checks below use "
                  "the defaults",
                  "%s", error->message);
        config = itsmigd_config_new_default();
    }
    check_libvirt(checks, config->uri);
    check_qemu_log_dir(checks, config->qemu_log_dir);
    check_stdio_handler(checks, qemu_conf ? qemu_conf : DEFAULT_QEMU_CONF);
    check_hook(checks, hook ? hook : DEFAULT_HOOK);
    check_state_dir(checks, config->state_dir);
    check_tls(checks, config);
    check_peers(checks, config);
    check_clock(checks);
}

static void validate_print_json(GPtrArray *checks, const guint *counts)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "checks");
    json_builder_begin_array(b);
    for (guint i = 0; i < checks->len; i++) {
        const Check *c = g_ptr_array_index(checks, i);
        g_autofree char *status = g_ascii_strdown(status_names[c->status], -1);

        json_builder_begin_object(b);
        itsmig_json_add_string_or_null(b, "id", c->id);
        itsmig_json_add_string_or_null(b, "title", c->title);
        itsmig_json_add_string_or_null(b, "status", status);
        itsmig_json_add_string_or_null(b, "detail", c->detail);
        itsmig_json_add_string_or_null(b, "hint", c->hint[0] ? c->hint : NULL);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    for (int s = CHECK_PASS; s <= CHECK_FAIL; s++) {
        g_autofree char *name = g_ascii_strdown(status_names[s], -1);

        json_builder_set_member_name(b, name);
        json_builder_add_int_value(b, counts[s]);
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    itsmigctl_print_json(root);
}

static void validate_print(GPtrArray *checks)
{
    for (guint i = 0; i < checks->len; i++) {
        const Check *c = g_ptr_array_index(checks, i);
        g_autofree char *what = g_strdup_printf("Checking %s", c->title);
        g_autofree char *detail = itsmigctl_printable(c->detail);

        printf("ITSMIG: %-56s : %s (%s)\n", what, status_names[c->status], detail);
        if (c->status != CHECK_PASS)
            printf("        hint: %s\n", c->hint);
    }
}

int itsmigctl_cmd_host_validate(int argc, char **argv)
{
    g_autofree char *config_path = NULL, *hook = NULL, *qemu_conf = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL},
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
         "itsmigd's configuration (default " ITSMIGD_DEFAULT_CONFIG ")", "FILE"},
        {"hook", 0, 0, G_OPTION_ARG_FILENAME, &hook,
         "Where the libvirt hook is (default " DEFAULT_HOOK ")", "PATH"},
        {"qemu-conf", 0, 0, G_OPTION_ARG_FILENAME, &qemu_conf,
         "libvirt's qemu.conf (default " DEFAULT_QEMU_CONF ")", "FILE"},
        {NULL},
    };
    const ItsmigctlOptions opts = {
        "host validate", "- check this host for itsmig", validate_description, NULL, FALSE, 0};
    g_autoptr(GPtrArray) checks = g_ptr_array_new_with_free_func((GDestroyNotify)check_free);
    guint counts[3] = {0};
    int r;

    r = itsmigctl_parse_options(&opts, entries, &argc, &argv);
    if (r)
        return r;
    validate_run(checks, config_path, hook, qemu_conf);
    for (guint i = 0; i < checks->len; i++)
        counts[((Check *)g_ptr_array_index(checks, i))->status]++;
    if (json)
        validate_print_json(checks, counts);
    else
        validate_print(checks);
    return counts[CHECK_FAIL] ? 2 : counts[CHECK_WARN] ? 1 : 0;
}
