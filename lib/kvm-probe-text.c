/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "itsmig/kvm-probe-text.h"

#define P ITSMIG_KVM_PROBE_TEXT_PREFIX

/* One line of the block, counted for the end line. */
static void put(FILE *out, unsigned *lines, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void put(FILE *out, unsigned *lines, const char *fmt, ...)
{
    va_list ap;

    fputs(P " ", out);
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    (*lines)++;
}

/* Text values go to the end of the line: keep them on one. */
static void put_text(FILE *out, unsigned *lines, const char *key, const char *s)
{
    char buf[512];
    size_t i;

    for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
        buf[i] = s[i] == '\n' || s[i] == '\r' ? ' ' : s[i];
    buf[i] = '\0';
    put(out, lines, "%s %s", key, buf);
}

void itsmig_kvm_probe_text_write(FILE *out, const ItsmigKvmItsCaps *caps,
                                 const ItsmigKvmRegSet *regs)
{
    const ItsmigKvmItsSemantics *s = &caps->semantics;
    unsigned n = 0;
    char errnos[16 * 8] = "";

    fputs(P " begin\n", out);
    put(out, &n, "its available %d", caps->available);
    put_text(out, &n, "its unavailable_reason", caps->unavailable_reason);
    put_text(out, &n, "its kernel_release", caps->kernel_release);
    put_text(out, &n, "its arch", caps->arch);
    put(out, &n, "its abi_revisions 0x%04x", caps->abi_revisions);
    for (unsigned i = 0; i < 16; i++)
        snprintf(errnos + strlen(errnos), sizeof(errnos) - strlen(errnos), "%s%d", i ? " " : "",
                 caps->abi_revision_errno[i]);
    put(out, &n, "its abi_revision_errno %s", errnos);
    put(out, &n, "its default_abi_revision %u", caps->default_abi_revision);
    put(out, &n, "its gits_iidr 0x%08" PRIx32, caps->gits_iidr);
    put(out, &n, "its gits_typer 0x%016" PRIx64, caps->gits_typer);
    put(out, &n, "its has_ctrl_reset %d", caps->has_ctrl_reset);
    put(out, &n, "its has_save_tables %d", caps->has_save_tables);
    put(out, &n, "its has_restore_tables %d", caps->has_restore_tables);
    put(out, &n, "its has_save_pending_tables %d", caps->has_save_pending_tables);
    put(out, &n, "its gicd_iidr 0x%08" PRIx32, caps->gicd_iidr);
    put(out, &n, "its gicd_revision %u", caps->gicd_revision);
    put(out, &n, "its gicv4 %d", (int)caps->gicv4);
    put_text(out, &n, "its gicv4_source", caps->gicv4_source);
    put(out, &n, "its semantics %d %d %d %d", s->measured, s->save_unreachable_device_errno,
        s->baser_write_keeps_mappings, s->gicd_access_before_init_errno);

    put(out, &n, "regs available %d", regs->available);
    put_text(out, &n, "regs unavailable_reason", regs->unavailable_reason);
    put(out, &n, "regs features 0x%x", regs->features);
    put(out, &n, "regs writable_masks %d", regs->writable_masks);
    put(out, &n, "regs count %zu", regs->n_regs);
    for (size_t i = 0; i < regs->n_regs; i++) {
        const ItsmigKvmReg *r = &regs->regs[i];
        char v[24] = "", w[24] = "";

        if (r->has_value)
            snprintf(v, sizeof(v), " v=0x%" PRIx64, r->value);
        if (r->has_writable)
            snprintf(w, sizeof(w), " w=0x%" PRIx64, r->writable);
        put(out, &n, "reg 0x%016" PRIx64 " 0x%x%s%s", r->id, r->features, v, w);
    }
    fprintf(out, P " end %u\n", n);
    fflush(out);
}

/* ---- reading ---------------------------------------------------------------------- */

typedef struct {
    ItsmigKvmItsCaps *caps;
    ItsmigKvmRegSet *regs;
    size_t n_alloc;
    unsigned lines;
    bool have_count;
    size_t count;
} Reader;

static bool parse_u64(const char *s, char **end, uint64_t *ret)
{
    unsigned long long v;

    if (*s == '-' || *s == '+' || *s == ' ' || *s == '\0')
        return false;
    errno = 0;
    v = strtoull(s, end, 0);
    if (errno || *end == s)
        return false;
    *ret = v;
    return true;
}

/* One number that is the whole value. */
static bool whole_u64(const char *s, uint64_t max, uint64_t *ret)
{
    char *end;

    return parse_u64(s, &end, ret) && *end == '\0' && *ret <= max;
}

static bool whole_int(const char *s, int *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < -4096 || v > 4096)
        return false;
    *ret = (int)v;
    return true;
}

static bool whole_bool(const char *s, bool *ret)
{
    if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
        return false;
    *ret = s[0] == '1';
    return true;
}

static bool copy_text(const char *s, char *buf, size_t size)
{
    if (strlen(s) >= size)
        return false;
    memcpy(buf, s, strlen(s) + 1);
    return true;
}

/* A decoder kept as one function: one case per key of the ITS block, each read the same way. */
static bool its_line(Reader *rd, const char *key, const char *val)
{
    ItsmigKvmItsCaps *c = rd->caps;
    uint64_t v;
    bool ok;

    if (strcmp(key, "available") == 0)
        return whole_bool(val, &c->available);
    if (strcmp(key, "unavailable_reason") == 0)
        return copy_text(val, c->unavailable_reason, sizeof(c->unavailable_reason));
    if (strcmp(key, "kernel_release") == 0)
        return copy_text(val, c->kernel_release, sizeof(c->kernel_release));
    if (strcmp(key, "arch") == 0)
        return copy_text(val, c->arch, sizeof(c->arch));
    if (strcmp(key, "abi_revisions") == 0) {
        ok = whole_u64(val, 0xffff, &v);
        c->abi_revisions = (uint16_t)v;
        return ok;
    }
    if (strcmp(key, "abi_revision_errno") == 0) {
        const char *p = val;

        for (unsigned i = 0; i < 16; i++) {
            char num[16];
            size_t len = strcspn(p, " ");

            if (len == 0 || len >= sizeof(num))
                return false;
            memcpy(num, p, len);
            num[len] = '\0';
            if (!whole_int(num, &c->abi_revision_errno[i]))
                return false;
            p += len;
            if (*p == ' ')
                p++;
            else if (i != 15)
                return false;
        }
        return *p == '\0';
    }
    if (strcmp(key, "default_abi_revision") == 0) {
        ok = whole_u64(val, 15, &v);
        c->default_abi_revision = (unsigned)v;
        return ok;
    }
    if (strcmp(key, "gits_iidr") == 0) {
        ok = whole_u64(val, UINT32_MAX, &v);
        c->gits_iidr = (uint32_t)v;
        return ok;
    }
    if (strcmp(key, "gits_typer") == 0)
        return whole_u64(val, UINT64_MAX, &c->gits_typer);
    if (strcmp(key, "has_ctrl_reset") == 0)
        return whole_bool(val, &c->has_ctrl_reset);
    if (strcmp(key, "has_save_tables") == 0)
        return whole_bool(val, &c->has_save_tables);
    if (strcmp(key, "has_restore_tables") == 0)
        return whole_bool(val, &c->has_restore_tables);
    if (strcmp(key, "has_save_pending_tables") == 0)
        return whole_bool(val, &c->has_save_pending_tables);
    if (strcmp(key, "gicd_iidr") == 0) {
        ok = whole_u64(val, UINT32_MAX, &v);
        c->gicd_iidr = (uint32_t)v;
        return ok;
    }
    if (strcmp(key, "gicd_revision") == 0) {
        ok = whole_u64(val, 15, &v);
        c->gicd_revision = (unsigned)v;
        return ok;
    }
    if (strcmp(key, "gicv4") == 0) {
        ok = whole_u64(val, ITSMIG_GICV4_LAST - 1, &v);
        c->gicv4 = (ItsmigGicv4Level)v;
        return ok;
    }
    if (strcmp(key, "gicv4_source") == 0)
        return copy_text(val, c->gicv4_source, sizeof(c->gicv4_source));
    if (strcmp(key, "semantics") == 0) {
        int m, save, keeps, gicd;
        char extra;

        if (sscanf(val, "%d %d %d %d%c", &m, &save, &keeps, &gicd, &extra) != 4 || m < 0 || m > 1 ||
            keeps < 0 || keeps > 1)
            return false;
        c->semantics.measured = m;
        c->semantics.save_unreachable_device_errno = save;
        c->semantics.baser_write_keeps_mappings = keeps;
        c->semantics.gicd_access_before_init_errno = gicd;
        return true;
    }
    return false;
}

static bool regs_line(Reader *rd, const char *key, const char *val)
{
    ItsmigKvmRegSet *s = rd->regs;
    uint64_t v;

    if (strcmp(key, "available") == 0)
        return whole_bool(val, &s->available);
    if (strcmp(key, "unavailable_reason") == 0)
        return copy_text(val, s->unavailable_reason, sizeof(s->unavailable_reason));
    if (strcmp(key, "features") == 0) {
        if (!whole_u64(val, ITSMIG_VCPU_FEATURES_ALL, &v))
            return false;
        s->features = (uint32_t)v;
        return true;
    }
    if (strcmp(key, "writable_masks") == 0)
        return whole_bool(val, &s->writable_masks);
    if (strcmp(key, "count") == 0) {
        if (rd->have_count || !whole_u64(val, ITSMIG_KVM_REGS_MAX, &v))
            return false;
        rd->have_count = true;
        rd->count = (size_t)v;
        return true;
    }
    return false;
}

static int reg_line(Reader *rd, const char *val, ItsmigDiag *diag)
{
    ItsmigKvmRegSet *s = rd->regs;
    ItsmigKvmReg r = {0};
    uint64_t features;
    char *end;
    const char *p = val;

    if (!rd->have_count || s->n_regs >= rd->count)
        return itsmig_diag_set(diag, EINVAL, "more reg lines than the count says");
    if (!parse_u64(p, &end, &r.id) || *end != ' ')
        return itsmig_diag_set(diag, EINVAL, "reg: bad id in '%s'", val);
    p = end + 1;
    if (!parse_u64(p, &end, &features) || features > ITSMIG_VCPU_FEATURES_ALL ||
        (*end != ' ' && *end != '\0'))
        return itsmig_diag_set(diag, EINVAL, "reg: bad features in '%s'", val);
    r.features = (uint32_t)features;
    p = end;
    while (*p == ' ') {
        p++;
        if (strncmp(p, "v=", 2) == 0 && !r.has_value) {
            if (!parse_u64(p + 2, &end, &r.value))
                return itsmig_diag_set(diag, EINVAL, "reg: bad value in '%s'", val);
            r.has_value = true;
        } else if (strncmp(p, "w=", 2) == 0 && !r.has_writable) {
            if (!parse_u64(p + 2, &end, &r.writable))
                return itsmig_diag_set(diag, EINVAL, "reg: bad mask in '%s'", val);
            r.has_writable = true;
        } else {
            return itsmig_diag_set(diag, EINVAL, "reg: unexpected '%s'", p);
        }
        p = end;
    }
    if (*p)
        return itsmig_diag_set(diag, EINVAL, "reg: unexpected '%s'", p);
    if (s->n_regs > 0 && s->regs[s->n_regs - 1].id >= r.id)
        return itsmig_diag_set(diag, EINVAL, "reg 0x%016" PRIx64 " is not above the one before",
                               r.id);
    if (!s->regs) {
        s->regs = calloc(rd->count ? rd->count : 1, sizeof(*s->regs));
        if (!s->regs)
            return itsmig_diag_set(diag, ENOMEM, "out of memory");
    }
    s->regs[s->n_regs++] = r;
    return 0;
}

int itsmig_kvm_probe_text_read(const char *text, ItsmigKvmItsCaps *ret_caps,
                               ItsmigKvmRegSet *ret_regs, ItsmigDiag *diag)
{
    Reader rd = {.caps = ret_caps, .regs = ret_regs};
    const char *line = text;
    bool in_block = false;
    unsigned lineno = 0;
    char buf[512];
    int r;

    memset(ret_caps, 0, sizeof(*ret_caps));
    memset(ret_regs, 0, sizeof(*ret_regs));
    for (; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n')) {
        size_t len = strcspn(line, "\n");
        char *key, *val;

        lineno++;
        while (len > 0 && line[len - 1] == '\r')
            len--;
        if (len < sizeof(P) || strncmp(line, P " ", sizeof(P)) != 0)
            continue;
        if (len >= sizeof(buf))
            return itsmig_diag_set(diag, EINVAL, "line %u: longer than %zu bytes", lineno,
                                   sizeof(buf) - 1);
        memcpy(buf, line + sizeof(P), len - sizeof(P));
        buf[len - sizeof(P)] = '\0';
        if (!in_block) {
            if (strcmp(buf, "begin") == 0)
                in_block = true;
            continue;
        }
        if (strncmp(buf, "end ", 4) == 0) {
            uint64_t n;

            if (!whole_u64(buf + 4, UINT32_MAX, &n) || n != rd.lines)
                return itsmig_diag_set(diag, EINVAL,
                                       "line %u: the block ends after %u lines, not '%s'", lineno,
                                       rd.lines, buf + 4);
            if (!rd.have_count || ret_regs->n_regs != rd.count)
                return itsmig_diag_set(diag, EINVAL, "%zu reg lines, but the count says %zu",
                                       ret_regs->n_regs, rd.count);
            return 0;
        }
        rd.lines++;
        key = buf;
        val = strchr(key, ' ');
        if (!val)
            return itsmig_diag_set(diag, EINVAL, "line %u: no value in '%s'", lineno, buf);
        *val++ = '\0';
        if (strcmp(key, "reg") == 0) {
            ItsmigDiag d = {0};

            r = reg_line(&rd, val, &d);
            if (r < 0)
                return itsmig_diag_set(diag, -r, "line %u: %s", lineno, d.text);
            continue;
        }
        /* Text values may be empty: "its unavailable_reason " */
        {
            char *sub = val, *v = strchr(sub, ' ');
            bool ok;

            if (!v)
                return itsmig_diag_set(diag, EINVAL, "line %u: no value in '%s %s'", lineno, key,
                                       sub);
            *v++ = '\0';
            if (strcmp(key, "its") == 0)
                ok = its_line(&rd, sub, v);
            else if (strcmp(key, "regs") == 0)
                ok = regs_line(&rd, sub, v);
            else
                ok = false;
            if (!ok)
                return itsmig_diag_set(diag, EINVAL, "line %u: cannot read '%s %s %s'", lineno, key,
                                       sub, v);
        }
    }
    return itsmig_diag_set(diag, EINVAL,
                           in_block ? "the " P " block does not end" : "no " P " block");
}
