/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * itsmig's libvirt qemu hook, installed as SYSCONFDIR/libvirt/hooks/qemu.d/50-itsmig.
 *
 * libvirt runs it as "HOOK DOMAIN OPERATION SUB-OPERATION EXTRA" with the
 * domain XML on stdin.  On "migrate begin" (the destination, before an
 * incoming migration) and "restore begin" (before a saved image is restored)
 * it is the veto: it asks itsmigd, over the local unix socket, whether the
 * guest's ITS state and vCPU registers can be restored here, and a non-zero
 * exit makes libvirt cancel the migration or the restore, with our stderr in
 * its error.  A restore says so (?operation=restore), and the saved image's
 * itsmig record is checked here first: unusable or self-contradicting, it
 * is refused; absent, [hook] restore-unrecorded decides.  Then the image
 * itself, which libvirtd holds open, is read (hook-image.c): ITS tables
 * this host's kernel would not restore are refused; an image not found or
 * not read within the limits follows [hook] restore-image-unread.  Its
 * stdout is the filtered XML: we print nothing, which means "unchanged".  It
 * never calls libvirt (a hook that does deadlocks the daemon that runs it).
 *
 * Every other operation only keeps a record for itsmigd and always exits 0.
 * One file per domain, RECORD-DIR/UUID.json ([hook] record-dir), replaced
 * atomically (a temporary file renamed over it):
 *
 *   {"uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",  lower case, canonical
 *    "name": "vm1",
 *    "incoming": true,              the current (or coming) run arrived by migration
 *    "migrate_begin_at": 1795255200,  unix seconds of "migrate begin", or null
 *    "started_at": 1795255203}        unix seconds of "started begin", or null
 *
 *   migrate begin  -> incoming true, migrate_begin_at now, started_at null
 *                     (before asking itsmigd; removed again if we refuse; left
 *                     alone when the record says a run of this UUID has started
 *                     here and not been released)
 *   started begin  -> started_at now; incoming true when the record has a
 *                     migrate_begin_at less than 24 h old and not before the
 *                     last start, else incoming false and migrate_begin_at null
 *   release end    -> the file is removed
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itsmig/rest-client.h"
#include "daemon/daemon-config.h"
#include "hook-image.h"
#include "itsmig/domain-profile.h"
#include "itsmig/error.h"
#include "itsmig/hook-record.h"
#include "itsmig/json-member.h"

/* What of stdin is kept: a domain XML itsmigd and the parser would accept. */
#define INPUT_MAX ITSMIG_DOMAIN_XML_MAX
/* How long after "migrate begin" a start still counts as the migration's. */
#define INCOMING_WINDOW_S (24 * 60 * 60)
/* Clock steps backwards that still count as "after". */
#define CLOCK_SLACK_S 300

static const char usage_text[] =
    "Usage: itsmig-hook DOMAIN OPERATION SUB-OPERATION EXTRA <DOMAIN-XML\n"
    "\n"
    "itsmig's libvirt qemu hook, run by libvirt from\n"
    "  " SYSCONFDIR "/libvirt/hooks/qemu.d/50-itsmig\n"
    "On 'migrate begin' and 'restore begin' it asks itsmigd whether the incoming\n"
    "guest (its ITS state, its vCPU registers) can be restored on this host and\n"
    "refuses the migration or the restore (exit 1) when it cannot;\n"
    "other operations are recorded for itsmigd and always succeed.\n"
    "Configuration: [hook] and [api] socket in " ITSMIGD_DEFAULT_CONFIG "\n"
    "($ITSMIG_CONFIG names another file).  See itsmigctl(1), THE LIBVIRT HOOK.\n";

typedef struct {
    GByteArray *data;
    gboolean truncated; /* more than INPUT_MAX bytes came */
    char *error;        /* reading failed; NULL when it did not */
} Input;

/* Reads stdin to its end, whatever its size, keeping the first INPUT_MAX
 * bytes: libvirt writes the whole XML and must not get EPIPE. */
static void input_drain(Input *in)
{
    g_autofree guint8 *buf = g_malloc(65536);

    in->data = g_byte_array_new();
    if (isatty(STDIN_FILENO))
        return;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, 65536);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* EBADF: libvirt always gives a stdin, a person may not. */
            if (errno != EBADF)
                in->error = g_strdup_printf("reading stdin failed: %s", g_strerror(errno));
            return;
        }
        if (n == 0)
            return;
        if (in->data->len + (gsize)n > INPUT_MAX) {
            gsize room = INPUT_MAX - in->data->len;

            g_byte_array_append(in->data, buf, (guint)room);
            in->truncated = TRUE;
        } else if (!in->truncated) {
            g_byte_array_append(in->data, buf, (guint)n);
        }
    }
}

/* @text on one line: a hook's message goes into libvirt's error as it is. */
static char *one_line(const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);

    for (char *p = valid; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return g_steal_pointer(&valid);
}

static void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void say(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;
    g_autofree char *line = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = one_line(msg);
    fprintf(stderr, "itsmig: %s\n", line);
}

/* ---- records ---------------------------------------------------------------------- */

/* The canonical lower-case form of a UUID "8-4-4-4-12" (libvirt's), or NULL:
 * it becomes a file name, so nothing else may pass. */
static char *uuid_canonical(const char *uuid)
{
    return itsmig_hook_record_uuid_valid(uuid) ? g_ascii_strdown(uuid, -1) : NULL;
}

/* The domain's UUID for a record, or NULL after saying why there is none. */
static char *record_uuid(const ItsmigDomainProfile *p, const char *name)
{
    char *uuid = uuid_canonical(p->uuid);

    if (!uuid)
        say("cannot record domain %s: its XML has %s UUID", name, p->uuid ? "an invalid" : "no");
    return uuid;
}

static ItsmigDomainProfile *profile_for_record(const Input *in, const char *name, const char *op)
{
    g_autoptr(GError) error = NULL;
    ItsmigDomainProfile *p;

    if (in->error || in->truncated) {
        say("cannot record '%s' of domain %s: %s", op, name,
            in->error ? in->error : "the domain XML on stdin is too large");
        return NULL;
    }
    p = itsmig_domain_profile_parse((const char *)in->data->data, (gssize)in->data->len, &error);
    if (!p)
        say("cannot record '%s' of domain %s: %s", op, name, error->message);
    return p;
}

static void on_started(const Input *in, const char *name, const char *dir)
{
    g_autoptr(ItsmigDomainProfile) p = profile_for_record(in, name, "started");
    g_autoptr(ItsmigHookRecord) old = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = NULL;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    ItsmigHookRecord r = {0};

    if (!p || !(uuid = record_uuid(p, name)))
        return;
    old = itsmig_hook_record_load(dir, uuid, &error);
    if (error) {
        say("replacing an unreadable record: %s", error->message);
        g_clear_error(&error);
    }
    if (old && old->migrate_begin_at && old->migrate_begin_at >= old->started_at &&
        now - old->migrate_begin_at < INCOMING_WINDOW_S &&
        now - old->migrate_begin_at > -CLOCK_SLACK_S) {
        r.incoming = TRUE;
        r.migrate_begin_at = old->migrate_begin_at;
    }
    r.uuid = uuid;
    r.name = p->name ? p->name : (char *)name;
    r.started_at = now;
    if (!itsmig_hook_record_save(dir, &r, &error))
        say("cannot record the start of domain %s: %s", name, error->message);
}

static void on_release(const Input *in, const char *name, const char *dir)
{
    g_autoptr(ItsmigDomainProfile) p = profile_for_record(in, name, "release");
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = NULL;

    if (!p || !(uuid = record_uuid(p, name)))
        return;
    if (!itsmig_hook_record_remove(dir, uuid, &error))
        say("cannot drop the record of domain %s: %s", name, error->message);
}

/* ---- migrate begin ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    const ItsmigdConfig *config;
    const char *record_dir;
    char *recorded_uuid; /* set when this run wrote the migrate-begin record */
    /* "incoming migration", or "restore" of a saved image: the same judgement
     * (the image's XML carries the itsmig record), no arrival record. */
    const char *what;
    /* Whether itsmigd's socket is known (the configuration was read). */
    gboolean config_read;
} Incoming;

/* How long telling itsmigd of a refusal may take: the refusal stands either way. */
#define REFUSAL_REPORT_TIMEOUT_S 2

/* Tells itsmigd of a restore refused by the hook's own checks, so that its metrics and journal
 * count it with the refusals it makes; best effort. */
static void report_refusal(const Incoming *ctx, const char *reason, const char *message)
{
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(ItsmigRestReply) reply = NULL;
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *body = NULL;
    g_autofree char *cut = NULL;
    const char *end;

    if (!ctx->config_read)
        return;
    /* At most ITSMIG_HOOK_REFUSAL_MESSAGE_MAX bytes, cut at a character. */
    g_utf8_validate(message, MIN(strlen(message), ITSMIG_HOOK_REFUSAL_MESSAGE_MAX), &end);
    cut = g_strndup(message, (gsize)(end - message));
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "operation");
    json_builder_add_string_value(b, strcmp(ctx->what, "restore") == 0 ? "restore" : "migrate");
    json_builder_set_member_name(b, "domain");
    json_builder_add_string_value(b, ctx->name);
    json_builder_set_member_name(b, "reason");
    json_builder_add_string_value(b, reason);
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, cut);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    body = json_to_string(root, FALSE);
    client = itsmig_rest_client_new_unix(ctx->config->socket,
                                         MIN(ctx->config->hook_timeout, REFUSAL_REPORT_TIMEOUT_S));
    if (!itsmig_rest_client_request(client, "POST", "/v1/hook/refused", "application/json", body,
                                    strlen(body), &reply, &error))
        say("itsmigd was not told of the refusal: %s", error->message);
    else if (reply->status != 200)
        say("itsmigd was not told of the refusal: HTTP %ld", reply->status);
}

/* Refuses @ctx's arrival by the hook's own check, for @reason (ITSMIG_HOOK_REFUSAL_*): says
 * "refusing WHAT of NAME: MESSAGE", and tells itsmigd.  FALSE, for the callers' returns. */
static gboolean refuse_here(const Incoming *ctx, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static gboolean refuse_here(const Incoming *ctx, const char *reason, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    g_autofree char *line = NULL;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = one_line(message);
    say("refusing %s of %s: %s", ctx->what, ctx->name, line);
    report_refusal(ctx, reason, line);
    return FALSE;
}

/* Refusing: the migration will not arrive, so neither does the record. */
static int refuse(Incoming *ctx)
{
    g_autoptr(GError) error = NULL;

    if (ctx->recorded_uuid &&
        !itsmig_hook_record_remove(ctx->record_dir, ctx->recorded_uuid, &error))
        say("cannot drop the record of domain %s: %s", ctx->name, error->message);
    return 1;
}

static void record_incoming(Incoming *ctx, const ItsmigDomainProfile *p)
{
    g_autoptr(ItsmigHookRecord) old = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = record_uuid(p, ctx->name);
    ItsmigHookRecord r = {0};

    if (!uuid)
        return;
    old = itsmig_hook_record_load(ctx->record_dir, uuid, &error);
    if (error) {
        say("replacing an unreadable record: %s", error->message);
        g_clear_error(&error);
    }
    if (old && old->started_at) {
        /* A run of this UUID is here and not released: libvirt will refuse
         * the migration itself, and its record must stay as it is. */
        return;
    }
    r.uuid = uuid;
    r.name = p->name ? p->name : (char *)ctx->name;
    r.incoming = TRUE;
    r.migrate_begin_at = g_get_real_time() / G_USEC_PER_SEC;
    if (!itsmig_hook_record_save(ctx->record_dir, &r, &error)) {
        say("cannot record the incoming migration of domain %s: %s", ctx->name, error->message);
        return;
    }
    ctx->recorded_uuid = g_steal_pointer(&uuid);
}

/* No verdict (itsmigd unreachable, or its reply unusable): only a guest
 * without an ITS, or on-unreachable = allow, gets in. */
static int no_verdict(Incoming *ctx, const ItsmigDomainProfile *p, gboolean unreachable,
                      const char *reason)
{
    const char *socket = ctx->config->socket;
    g_autofree char *why = NULL;

    if (unreachable)
        why = g_strdup_printf("itsmigd unreachable at %s (%s)", socket, reason);
    else
        why = g_strdup_printf("no verdict from itsmigd at %s (%s)", socket, reason);

    if (p->its == ITSMIG_ITS_ABSENT) {
        say("allowing %s of %s without a check: %s; the domain has no ITS (%s)", ctx->what,
            ctx->name, why, p->its_reason);
        return 0;
    }
    if (ctx->config->hook_fail_open) {
        say("allowing %s of %s without a check: %s; [hook] on-unreachable = allow", ctx->what,
            ctx->name, why);
        return 0;
    }
    say("%s; refusing %s of %s, which %s an ITS ([hook] on-unreachable = deny)", why, ctx->what,
        ctx->name, p->its == ITSMIG_ITS_PRESENT ? "has" : "may have");
    return refuse(ctx);
}

/* "code: message; code: message" of a verdict's list of items, or NULL when
 * @list is not such a list. */
static char *items_line(JsonNode *list)
{
    g_autoptr(GString) s = g_string_new(NULL);
    JsonArray *a;

    if (!list || !JSON_NODE_HOLDS_ARRAY(list))
        return NULL;
    a = json_node_get_array(list);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *n = json_array_get_element(a, i);
        JsonObject *item = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
        const char *code = item ? itsmig_json_lookup_string(item, "code") : NULL;
        const char *msg = item ? itsmig_json_lookup_string(item, "message") : NULL;

        if (!code || !msg)
            return NULL;
        g_string_append_printf(s, "%s%s: %s", s->len ? "; " : "", code, msg);
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The blockers' line, or NULL when the verdict is not one. */
static char *blockers_line(JsonObject *v, gboolean *ret_allowed)
{
    const ItsmigJsonAt at = {ITSMIG_ERROR_PEER_ERROR, NULL, NULL};
    gboolean allowed;
    char *line;

    if (!itsmig_json_get_bool(&at, v, "allowed", &allowed, NULL) ||
        !(line = items_line(json_object_get_member(v, "blockers"))))
        return NULL;
    *ret_allowed = allowed;
    return line;
}

/* A saved image's record, which nothing has checked since it was written:
 * one that is unreadable or contradicts itself is refused here, before
 * itsmigd judges by it. */
static gboolean record_usable(const Incoming *ctx, const ItsmigDomainProfile *p)
{
    g_autoptr(GError) error = NULL;

    if (p->metadata_error)
        return refuse_here(ctx, ITSMIG_HOOK_REFUSAL_RECORD_INVALID,
                           "its itsmig record is unusable: %s", p->metadata_error);
    if (p->has_metadata &&
        !itsmig_its_metadata_verify(&p->metadata, g_get_real_time() / G_USEC_PER_SEC, &error))
        return refuse_here(ctx, ITSMIG_HOOK_REFUSAL_RECORD_INVALID,
                           "its itsmig record contradicts itself: %s", error->message);
    return TRUE;
}

/* The domain XML on stdin as a profile, or NULL after saying why it is refused. */
static ItsmigDomainProfile *incoming_profile(const Input *in, const Incoming *ctx,
                                             const char *config_error)
{
    g_autoptr(GError) error = NULL;
    ItsmigDomainProfile *p;

    if (in->error) {
        say("refusing %s of %s: %s", ctx->what, ctx->name, in->error);
        return NULL;
    }
    if (in->truncated) {
        say("refusing %s of %s: the domain XML on stdin is larger than %d MiB", ctx->what,
            ctx->name, INPUT_MAX / (1024 * 1024));
        return NULL;
    }
    /* itsmigd would answer 413: say so without asking, naming the setting. */
    if (!config_error && in->data->len > ctx->config->max_domain_xml) {
        say("refusing %s of %s: the domain XML on stdin (%u bytes) is larger than itsmigd "
            "accepts ([api] max-domain-xml = %" G_GSIZE_FORMAT ")",
            ctx->what, ctx->name, in->data->len, ctx->config->max_domain_xml);
        return NULL;
    }
    p = itsmig_domain_profile_parse((const char *)in->data->data, (gssize)in->data->len, &error);
    if (!p)
        say("refusing %s of %s: the domain XML on stdin is not usable: %s", ctx->what, ctx->name,
            error->message);
    return p;
}

/* itsmigd's verdict on the XML: 0 to let the guest in, 1 to refuse it. */
static int ask_itsmigd(Incoming *ctx, const Input *in, const ItsmigDomainProfile *p,
                       gboolean restore)
{
    g_autoptr(ItsmigRestClient) client = NULL;
    g_autoptr(ItsmigRestReply) reply = NULL;
    g_autoptr(JsonObject) verdict = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *blockers = NULL;
    g_autofree char *warnings = NULL;
    gboolean allowed = FALSE;

    client = itsmig_rest_client_new_unix(ctx->config->socket, ctx->config->hook_timeout);
    if (!itsmig_rest_client_request(
            client, "POST",
            restore ? "/v1/hook/migrate-begin?operation=restore" : "/v1/hook/migrate-begin",
            "application/xml", (const char *)in->data->data, in->data->len, &reply, &error))
        return no_verdict(ctx, p, TRUE, itsmig_rest_client_get_failure_reason(client));
    if (!(verdict = itsmig_rest_client_parse_reply(client, reply, &error))) {
        g_autofree char *what = g_strdup_printf("HTTP %ld, %s", reply->status, error->message);

        return no_verdict(ctx, p, FALSE, what);
    }
    if (!(blockers = blockers_line(verdict, &allowed)))
        return no_verdict(ctx, p, FALSE,
                          "the reply is not a verdict: \"allowed\" or \"blockers\" is missing "
                          "or malformed");
    if (allowed)
        return 0;
    /* A warning may be why: say a declared capability the probe contradicts. */
    warnings = items_line(json_object_get_member(verdict, "warnings"));
    say("refusing %s of %s: %s%s%s", ctx->what, ctx->name,
        *blockers ? blockers : "itsmigd refused it without naming a blocker",
        warnings && *warnings ? "; warnings: " : "", warnings && *warnings ? warnings : "");
    return refuse(ctx);
}

/* A saved image of a guest with an ITS and without a record (saved before
 * itsmigd knew it, or the record taken out): [hook] restore-unrecorded.
 * FALSE after refusing it. */
static gboolean unrecorded_allowed(const Incoming *ctx, const ItsmigDomainProfile *p)
{
    if (p->has_metadata || p->its == ITSMIG_ITS_ABSENT)
        return TRUE;
    if (ctx->config->hook_restore_unrecorded_deny)
        return refuse_here(ctx, ITSMIG_HOOK_REFUSAL_RESTORE_UNRECORDED,
                           "its XML carries no itsmig record ([hook] restore-unrecorded = deny)");
    say("restore of %s: its XML carries no itsmig record; itsmigd judges it by the XML alone "
        "([hook] restore-unrecorded = allow)",
        ctx->name);
    return TRUE;
}

/* The saved image itself, read from the file libvirtd holds open: FALSE
 * after refusing it (tables this host's kernel cannot restore, or unread
 * with [hook] restore-image-unread = deny). */
static gboolean image_allowed(const Incoming *ctx, const ItsmigDomainProfile *p)
{
    g_autofree char *uuid = uuid_canonical(p->uuid);
    g_autofree char *msg = NULL;
    gboolean deny = ctx->config->hook_restore_image_unread_deny;

    if (p->its == ITSMIG_ITS_ABSENT)
        return TRUE;
    if (p->type && strcmp(p->type, "kvm") != 0) {
        say("restore of %s: the saved image is not read: a domain of type %s has no in-kernel ITS",
            ctx->name, p->type);
        return TRUE;
    }
    if (!uuid)
        msg = g_strdup("the domain XML has no valid UUID to find its save image by");
    switch (uuid ? hook_image_judge(uuid, ctx->config->hook_timeout, &msg) : HOOK_IMAGE_UNREAD) {
    case HOOK_IMAGE_PASSES: return TRUE;
    case HOOK_IMAGE_SKIPPED:
        say("restore of %s: the saved image is not judged: %s", ctx->name, msg);
        return TRUE;
    case HOOK_IMAGE_REFUSED: return refuse_here(ctx, ITSMIG_HOOK_REFUSAL_IMAGE_REFUSED, "%s", msg);
    case HOOK_IMAGE_UNREAD:
    case HOOK_IMAGE_LAST: break;
    }
    if (deny)
        return refuse_here(ctx, ITSMIG_HOOK_REFUSAL_IMAGE_UNREAD,
                           "its save image was not read: %s ([hook] restore-image-unread = deny)",
                           msg);
    say("allowing restore of %s: its save image was not read: %s ([hook] restore-image-unread = "
        "allow)",
        ctx->name, msg);
    return TRUE;
}

/* "migrate begin" (@restore FALSE) or "restore begin": may the guest arrive here? */
static int on_incoming(const Input *in, const char *name, const ItsmigdConfig *config,
                       const char *config_error, gboolean restore)
{
    g_autoptr(ItsmigDomainProfile) p = NULL;
    g_autofree char *reason = NULL;
    Incoming ctx = {name,
                    config,
                    config->hook_record_dir,
                    NULL,
                    restore ? "restore" : "incoming migration",
                    config_error == NULL};
    int status;

    p = incoming_profile(in, &ctx, config_error);
    if (!p)
        return 1;
    if (restore && !record_usable(&ctx, p))
        return 1;
    if (config_error) {
        /* Neither the socket nor the record directory is known. */
        reason = g_strdup_printf("cannot read the configuration: %s", config_error);
        return no_verdict(&ctx, p, TRUE, reason);
    }
    if (restore && (!unrecorded_allowed(&ctx, p) || !image_allowed(&ctx, p)))
        return 1;
    /* A restored guest starts with detail "restored", which itsmigd takes
     * as an arrival anyway. */
    if (!restore)
        record_incoming(&ctx, p);
    status = ask_itsmigd(&ctx, in, p, restore);
    g_free(ctx.recorded_uuid);
    return status;
}

/* ---- main --------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    g_autoptr(ItsmigdConfig) config = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *config_error = NULL;
    ItsmigdConfigOverrides overrides = {0};
    const char *env_config = g_getenv("ITSMIG_CONFIG");
    Input in = {0};
    int status = 0;

    /* libvirt may stop reading our stderr; a write must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    input_drain(&in);
    if (argc != 5) {
        fputs(usage_text, stderr);
        g_byte_array_unref(in.data);
        g_free(in.error);
        return 2;
    }

    if (env_config && *env_config)
        overrides.config = env_config;
    config = itsmigd_config_load(&overrides, &error);
    if (!config) {
        config_error = g_strdup(error->message);
        config = itsmigd_config_new_default();
    }

    if (strcmp(argv[2], "migrate") == 0 && strcmp(argv[3], "begin") == 0) {
        status = on_incoming(&in, argv[1], config, config_error, FALSE);
    } else if (strcmp(argv[2], "restore") == 0 && strcmp(argv[3], "begin") == 0) {
        status = on_incoming(&in, argv[1], config, config_error, TRUE);
    } else if (strcmp(argv[2], "started") == 0 && strcmp(argv[3], "begin") == 0) {
        /* Without the configuration the record directory is not known. */
        if (config_error)
            say("cannot record the start of domain %s: %s", argv[1], config_error);
        else
            on_started(&in, argv[1], config->hook_record_dir);
    } else if (strcmp(argv[2], "release") == 0 && strcmp(argv[3], "end") == 0) {
        if (config_error)
            say("cannot drop the record of domain %s: %s", argv[1], config_error);
        else
            on_release(&in, argv[1], config->hook_record_dir);
    }
    /* Any other operation, known or not, is none of our business. */

    g_byte_array_unref(in.data);
    g_free(in.error);
    return status;
}
