/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job record's strict reader, for the journal and for itsmigctl. */
#include "config.h"

#include "itsmig/error.h"
#include "itsmig/job.h"
#include "itsmig/json-member.h"
#include "job-private.h"

/* ---- reading a record back ---------------------------------------------------- */

typedef struct {
    GError **error;
    ItsmigJsonAt at;
} Reader;

static gboolean bad(Reader *r, const char *member, const char *want)
{
    g_autofree char *path = itsmig_json_path(&r->at, member);

    g_set_error(r->error, ITSMIG_ERROR, r->at.code, "%s%s\"%s\" %s",
                r->at.prefix ? r->at.prefix : "", r->at.prefix ? ": " : "", path, want);
    return FALSE;
}

/* Every member of @o must be one of @known or @optional. */
static gboolean no_unknown_members(Reader *r, JsonObject *o, const char *const *known,
                                   const char *const *optional)
{
    const char *unknown = itsmig_json_unknown_member(o, known, optional);

    return !unknown || bad(r, unknown, "is not a member of a job record");
}

static gboolean no_missing_members(Reader *r, JsonObject *o, const char *const *known)
{
    for (const char *const *k = known; *k; k++)
        if (!json_object_has_member(o, *k))
            return bad(r, *k, "is missing");
    return TRUE;
}

/* Every member of @o must be one of @known or @optional, and each of @known present.  The
 * optional ones came later: records written before them lack them. */
static gboolean members_of(Reader *r, JsonObject *o, const char *const *known,
                           const char *const *optional)
{
    return no_unknown_members(r, o, known, optional) && no_missing_members(r, o, known);
}

static gboolean exact_members(Reader *r, JsonObject *o, const char *const *known)
{
    return members_of(r, o, known, NULL);
}

/* The json-member.h readers, with the job's own conventions: strings copied, -1 for null. */
static gboolean get_string(Reader *r, JsonObject *o, const char *key, gboolean nullable, char **ret)
{
    const char *s;

    if (!itsmig_json_get_string(&r->at, o, key, nullable, &s, r->error))
        return FALSE;
    *ret = g_strdup(s);
    return TRUE;
}

static gboolean get_bool(Reader *r, JsonObject *o, const char *key, gboolean *ret)
{
    return itsmig_json_get_bool(&r->at, o, key, ret, r->error);
}

/* An integer in [@min, @max], or null (-1) when @nullable. */
static gboolean get_int(Reader *r, JsonObject *o, const char *key, gint64 min, gint64 max,
                        gboolean nullable, gint64 *ret)
{
    gboolean has = TRUE;

    if (!nullable)
        return itsmig_json_get_int(&r->at, o, key, min, max, ret, r->error);
    if (!itsmig_json_get_int_or_null(&r->at, o, key, min, max, &has, ret, r->error))
        return FALSE;
    if (!has)
        *ret = -1;
    return TRUE;
}

static gboolean get_time(Reader *r, JsonObject *o, const char *key, gboolean nullable, gint64 *ret)
{
    g_autofree char *s = NULL;
    g_autoptr(GDateTime) t = NULL;

    if (!get_string(r, o, key, nullable, &s))
        return FALSE;
    *ret = 0;
    if (!s)
        return TRUE;
    t = g_date_time_new_from_iso8601(s, NULL);
    if (!t)
        return bad(r, key, "must be an ISO 8601 time");
    *ret = g_date_time_to_unix(t) * G_USEC_PER_SEC + g_date_time_get_microsecond(t);
    /* 0 stands for "none" in a job, and would be written back as null. */
    if (*ret == 0)
        return bad(r, key, "must not be 1970-01-01T00:00:00Z, which stands for no time");
    return TRUE;
}

static gboolean get_enum(Reader *r, JsonObject *o, const char *key, int (*parse)(const char *),
                         gboolean nullable, int *ret)
{
    return itsmig_json_get_enum(&r->at, o, key, parse, nullable, ret, r->error);
}

static int outcome_text_valid(const char *s)
{
    static const char *const extra[] = {"skipped", "abandoned", NULL};

    return job_outcome_from_string(s) >= 0 || g_strv_contains(extra, s) ? 0 : -1;
}

static JsonObject *get_object(Reader *r, JsonObject *o, const char *key)
{
    JsonObject *sub = NULL;

    return itsmig_json_get_object(&r->at, o, key, FALSE, &sub, r->error) ? sub : NULL;
}

static JsonArray *get_array(Reader *r, JsonObject *o, const char *key)
{
    JsonArray *a = NULL;

    return itsmig_json_get_array(&r->at, o, key, FALSE, &a, r->error) ? a : NULL;
}

static gboolean get_node(Reader *r, JsonObject *o, const char *key, JsonNode **ret)
{
    JsonObject *sub;

    if (!itsmig_json_get_object(&r->at, o, key, TRUE, &sub, r->error))
        return FALSE;
    *ret = sub ? json_node_copy(json_object_get_member(o, key)) : NULL;
    return TRUE;
}

static gboolean read_options(Reader *r, JsonObject *o, ItsmigJobOptions *opt)
{
    static const char *const members[] = {
        "phase_timeout", "total_timeout", "max_downtime", "bandwidth",
        "auto_converge", "quiesce",       "detach",       NULL};
    static const char *const optional[] = {"resume", NULL};
    gint64 v;
    JsonArray *a;

    if (!members_of(r, o, members, optional))
        return FALSE;
    opt->resume = FALSE;
    if (json_object_has_member(o, "resume") && !get_bool(r, o, "resume", &opt->resume))
        return FALSE;
    if (!get_int(r, o, "phase_timeout", 0, G_MAXUINT, FALSE, &v))
        return FALSE;
    opt->phase_timeout_s = (guint)v;
    if (!get_int(r, o, "total_timeout", 0, G_MAXUINT, FALSE, &v))
        return FALSE;
    opt->total_timeout_s = (guint)v;
    if (!get_int(r, o, "max_downtime", 0, G_MAXINT64, FALSE, &v))
        return FALSE;
    opt->max_downtime_ms = (guint64)v;
    if (!get_int(r, o, "bandwidth", 0, G_MAXINT64, FALSE, &v))
        return FALSE;
    opt->bandwidth_mibs = (guint64)v;
    if (!get_bool(r, o, "auto_converge", &opt->auto_converge) ||
        !get_bool(r, o, "quiesce", &opt->quiesce))
        return FALSE;
    if (!itsmig_json_get_string_array(&r->at, o, "detach", TRUE, &a, r->error))
        return FALSE;
    if (a) {
        opt->detach = g_new0(char *, json_array_get_length(a) + 1);
        for (guint i = 0; i < json_array_get_length(a); i++)
            opt->detach[i] = g_strdup(json_array_get_string_element(a, i));
    }
    return TRUE;
}

static gboolean read_phases(Reader *r, ItsmigJob *job, JsonArray *a)
{
    static const char *const members[] = {"phase",       "started_at", "ended_at",
                                          "duration_ms", "outcome",    NULL};
    guint seen = 0;

    G_STATIC_ASSERT(ITSMIG_PHASE_LAST <= 32);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        JsonObject *o;
        int phase;
        ItsmigPhaseTiming *t;
        char *outcome = NULL;

        if (!JSON_NODE_HOLDS_OBJECT(e))
            return bad(r, "phases", "must hold objects");
        o = json_node_get_object(e);
        if (!exact_members(r, o, members) ||
            !get_enum(r, o, "phase", itsmig_phase_from_string, FALSE, &phase))
            return FALSE;
        if (itsmig_phase_is_terminal(phase))
            return bad(r, "phase", "of a phases entry must not be a final state");
        if (seen & (1u << phase))
            return bad(r, "phase", "names a phase that an earlier phases entry named");
        seen |= 1u << phase;
        t = &job->timings[phase];
        if (!get_time(r, o, "started_at", TRUE, &t->started_us) ||
            !get_time(r, o, "ended_at", TRUE, &t->ended_us) ||
            !get_int(r, o, "duration_ms", 0, G_MAXINT64, TRUE, &t->duration_ms) ||
            !get_string(r, o, "outcome", TRUE, &outcome))
            return FALSE;
        t->outcome = outcome;
        if (outcome && outcome_text_valid(outcome) < 0)
            return bad(r, "outcome", "has an unknown value");
        /* An end before the start is no error: the wall clock may have stepped back, and
         * the duration came from the monotonic clock. */
        if (t->ended_us && !t->started_us)
            return bad(r, "ended_at", "is set for a phase that never started");
    }
    return TRUE;
}

static gboolean read_devices(Reader *r, ItsmigJob *job, JsonArray *a)
{
    static const char *const members[] = {"alias", "xml", "state", NULL};

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);
        JsonObject *o;
        ItsmigJobDevice *d;
        int state;

        if (!JSON_NODE_HOLDS_OBJECT(e))
            return bad(r, "devices", "must hold objects");
        o = json_node_get_object(e);
        if (!exact_members(r, o, members))
            return FALSE;
        d = g_new0(ItsmigJobDevice, 1);
        g_ptr_array_add(job->devices, d);
        if (!get_string(r, o, "alias", FALSE, &d->alias) ||
            !get_string(r, o, "xml", FALSE, &d->xml) ||
            !get_enum(r, o, "state", job_device_state_from_string, FALSE, &state))
            return FALSE;
        d->state = state;
    }
    return TRUE;
}

ItsmigJob *itsmig_job_from_json(JsonNode *node, GError **error)
{
    const ItsmigJsonAt at = {ITSMIG_ERROR_INVALID_JSON, "job record", NULL};

    return itsmig_job_read(node, &at, error);
}

/* Who and where: the job's names, hosts, mode and options. */
static gboolean read_identity(Reader *r, JsonObject *o, ItsmigJob *job)
{
    JsonObject *sub;
    int v;

    if (!get_string(r, o, "id", FALSE, &job->id) ||
        !get_string(r, o, "domain", FALSE, &job->domain) ||
        !get_string(r, o, "uuid", FALSE, &job->uuid) ||
        !get_string(r, o, "source", FALSE, &job->source) ||
        !get_string(r, o, "destination", FALSE, &job->destination) ||
        !get_string(r, o, "destination_hostname", TRUE, &job->destination_hostname) ||
        !get_enum(r, o, "mode", itsmig_job_mode_from_string, FALSE, &v))
        return FALSE;
    job->mode = v;
    return (sub = get_object(r, o, "options")) && read_options(r, sub, &job->options);
}

/* Where the job is: its phase, whether it has finished, where it failed, its times and the
 * phases it went through. */
static gboolean read_progression(Reader *r, JsonObject *o, ItsmigJob *job)
{
    JsonArray *a;
    gboolean finished;
    int v;

    if (!get_enum(r, o, "phase", itsmig_phase_from_string, FALSE, &v))
        return FALSE;
    job->phase = v;
    if (job_plan_index(job, job->phase) < 0 && job->phase != ITSMIG_PHASE_ROLLBACK &&
        !itsmig_phase_is_terminal(job->phase))
        return bad(r, "phase", "is not a phase of this mode");
    if (!get_bool(r, o, "finished", &finished))
        return FALSE;
    if (finished != itsmig_phase_is_terminal(job->phase)) {
        g_autofree char *why = g_strdup_printf("is %s in phase %s", finished ? "true" : "false",
                                               itsmig_phase_to_string(job->phase));

        return bad(r, "finished", why);
    }
    if (!get_enum(r, o, "failed_phase", itsmig_phase_from_string, TRUE, &v))
        return FALSE;
    job->failed_phase = v < 0 ? ITSMIG_PHASE_LAST : v;
    if (!get_time(r, o, "created_at", FALSE, &job->created_us) ||
        !get_time(r, o, "finished_at", TRUE, &job->finished_us))
        return FALSE;
    return (a = get_array(r, o, "phases")) && read_phases(r, job, a);
}

/* The action under way and the devices it may name. */
static gboolean read_pending_and_devices(Reader *r, JsonObject *o, ItsmigJob *job)
{
    static const char *const pm[] = {"action", "device", NULL};
    JsonObject *sub;
    JsonArray *a;
    gint64 i64;
    int v;

    if (!itsmig_json_get_object(&r->at, o, "pending", TRUE, &sub, r->error))
        return FALSE;
    if (sub) {
        if (!exact_members(r, sub, pm) ||
            !get_enum(r, sub, "action", itsmig_action_from_string, FALSE, &v) ||
            !get_int(r, sub, "device", 0, G_MAXINT, TRUE, &i64))
            return FALSE;
        if (v == ITSMIG_ACTION_NONE)
            return bad(r, "action", "must name an action");
        job->has_pending = TRUE;
        job->pending.kind = v;
        job->pending.device = (int)i64;
    }
    if (!get_bool(r, o, "source_was_running", &job->source_was_running))
        return FALSE;
    if (!(a = get_array(r, o, "devices")) || !read_devices(r, job, a))
        return FALSE;
    if (job->has_pending && job->pending.device >= (int)job->devices->len)
        return bad(r, "device", "names no device of the job");
    return TRUE;
}

static gboolean read_facts(Reader *r, JsonObject *o, ItsmigJobFacts *f)
{
    static const char *const fm[] = {"source", "destination", "transfer_active", NULL};
    JsonObject *sub;
    int src, dst;

    if (!(sub = get_object(r, o, "facts")) || !exact_members(r, sub, fm) ||
        !get_enum(r, sub, "source", job_presence_from_string, FALSE, &src) ||
        !get_enum(r, sub, "destination", job_presence_from_string, FALSE, &dst) ||
        !get_bool(r, sub, "transfer_active", &f->transfer_active))
        return FALSE;
    f->source = src;
    f->destination = dst;
    return TRUE;
}

static gboolean read_progress(Reader *r, JsonObject *o, ItsmigJobProgress *p)
{
    static const char *const pm[] = {
        "percent",          "data_total", "data_processed", "data_remaining",
        "bytes_per_second", "iteration",  "downtime_ms",    NULL};
    static const char *const pm_optional[] = {"paused_ms", NULL};
    struct {
        const char *name;
        guint64 *slot;
    } counters[] = {
        {"data_total", &p->data_total},         {"data_processed", &p->data_processed},
        {"data_remaining", &p->data_remaining}, {"bytes_per_second", &p->bytes_per_second},
        {"iteration", &p->iteration},
    };
    JsonObject *sub;
    gboolean has;
    double percent;
    gint64 u;

    if (!(sub = get_object(r, o, "progress")) || !members_of(r, sub, pm, pm_optional))
        return FALSE;
    if (json_object_has_member(sub, "paused_ms") &&
        !get_int(r, sub, "paused_ms", 0, G_MAXINT64, TRUE, &p->paused_ms))
        return FALSE;
    if (!itsmig_json_get_number_or_null(&r->at, sub, "percent", &has, &percent, r->error))
        return FALSE;
    p->percent = has ? CLAMP(percent, 0, 100) : -1;
    for (gsize i = 0; i < G_N_ELEMENTS(counters); i++) {
        if (!get_int(r, sub, counters[i].name, 0, G_MAXINT64, FALSE, &u))
            return FALSE;
        *counters[i].slot = (guint64)u;
    }
    return get_int(r, sub, "downtime_ms", 0, G_MAXINT64, TRUE, &p->downtime_ms);
}

/* The evidence, the first failure, what a person must do, and the notes. */
static gboolean read_outcome(Reader *r, JsonObject *o, ItsmigJob *job)
{
    static const char *const em[] = {"code", "message", NULL};
    JsonObject *sub;
    JsonArray *a;

    if (!get_node(r, o, "verdict", &job->verdict) || !get_node(r, o, "its_save", &job->its_save) ||
        !get_node(r, o, "its_restore", &job->its_restore))
        return FALSE;
    if (!itsmig_json_get_object(&r->at, o, "error", TRUE, &sub, r->error))
        return FALSE;
    if (sub &&
        (!exact_members(r, sub, em) || !get_string(r, sub, "code", FALSE, &job->error_code) ||
         !get_string(r, sub, "message", FALSE, &job->error_message)))
        return FALSE;
    if (!get_string(r, o, "attention", TRUE, &job->attention))
        return FALSE;
    if (!(a = get_array(r, o, "notes")))
        return FALSE;
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonNode *e = json_array_get_element(a, i);

        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING)
            return bad(r, "notes", "must hold strings");
        g_ptr_array_add(job->notes, g_strdup(json_node_get_string(e)));
    }
    return TRUE;
}

/* The flags, the rollback's progress, and the members added after the first version. */
static gboolean read_flags(Reader *r, JsonObject *o, ItsmigJob *job)
{
    static const char *const rm[] = {"aborted", "destroyed", "resumed", NULL};
    static const char *const rm_optional[] = {"dest_unasked", NULL};
    static const char *const jm[] = {"behind", "failures", "last_error", "written_at", NULL};
    JsonObject *sub;
    gint64 i64;

    if (!get_bool(r, o, "abort_requested", &job->abort_requested) ||
        !get_bool(r, o, "recovered", &job->recovered))
        return FALSE;
    if (!(sub = get_object(r, o, "rollback")) || !members_of(r, sub, rm, rm_optional) ||
        !get_bool(r, sub, "aborted", &job->rb_aborted) ||
        !get_bool(r, sub, "destroyed", &job->rb_destroyed) ||
        !get_bool(r, sub, "resumed", &job->rb_resumed))
        return FALSE;
    if (json_object_has_member(sub, "dest_unasked") &&
        !get_bool(r, sub, "dest_unasked", &job->rb_dest_unasked))
        return FALSE;
    if (json_object_has_member(o, "transient") && !get_bool(r, o, "transient", &job->transient))
        return FALSE;
    if (json_object_has_member(o, "salvaged") &&
        !get_string(r, o, "salvaged", TRUE, &job->salvaged))
        return FALSE;
    if (!json_object_has_member(o, "journal"))
        return TRUE;
    if (!(sub = get_object(r, o, "journal")) || !exact_members(r, sub, jm) ||
        !get_bool(r, sub, "behind", &job->journal.behind) ||
        !get_int(r, sub, "failures", 0, G_MAXUINT, FALSE, &i64) ||
        !get_string(r, sub, "last_error", TRUE, &job->journal.last_error) ||
        !get_time(r, sub, "written_at", TRUE, &job->journal.written_us))
        return FALSE;
    job->journal.failures = (guint)i64;
    return TRUE;
}

ItsmigJob *itsmig_job_read(JsonNode *node, const ItsmigJsonAt *at, GError **error)
{
    static const char *const members[] = {
        "id",           "domain",
        "uuid",         "source",
        "destination",  "destination_hostname",
        "mode",         "options",
        "phase",        "finished",
        "failed_phase", "created_at",
        "finished_at",  "phases",
        "pending",      "source_was_running",
        "devices",      "facts",
        "progress",     "verdict",
        "its_save",     "its_restore",
        "error",        "attention",
        "notes",        "abort_requested",
        "recovered",    "rollback",
        NULL,
    };
    static const char *const optional[] = {"transient", "salvaged", "journal", NULL};
    g_autoptr(ItsmigJob) job = job_alloc();
    Reader r = {error, *at};
    JsonObject *o;

    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        g_set_error(error, ITSMIG_ERROR, at->code, "%s%s%s%snot a JSON object",
                    at->prefix ? at->prefix : "", at->prefix ? ": " : "", at->path ? at->path : "",
                    at->path ? " is " : "");
        return NULL;
    }
    o = json_node_get_object(node);
    /* What is missing is reported by the reads below, with the type it should have. */
    if (!no_unknown_members(&r, o, members, optional) || !read_identity(&r, o, job) ||
        !read_progression(&r, o, job) || !read_pending_and_devices(&r, o, job) ||
        !read_facts(&r, o, &job->facts) || !read_progress(&r, o, &job->progress) ||
        !read_outcome(&r, o, job) || !read_flags(&r, o, job))
        return NULL;
    if (job->phase == ITSMIG_PHASE_FAILED && !job->attention) {
        bad(&r, "attention", "is missing for a job that needs attention");
        return NULL;
    }
    if (!no_missing_members(&r, o, members))
        return NULL;
    return g_steal_pointer(&job);
}
