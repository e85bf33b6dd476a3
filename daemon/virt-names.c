/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>

#include "daemon/virt-names.h"

static const char *const states[VIR_DOMAIN_LAST] = {
    [VIR_DOMAIN_NOSTATE] = "nostate",   [VIR_DOMAIN_RUNNING] = "running",
    [VIR_DOMAIN_BLOCKED] = "blocked",   [VIR_DOMAIN_PAUSED] = "paused",
    [VIR_DOMAIN_SHUTDOWN] = "shutdown", [VIR_DOMAIN_SHUTOFF] = "shutoff",
    [VIR_DOMAIN_CRASHED] = "crashed",   [VIR_DOMAIN_PMSUSPENDED] = "pmsuspended",
};

static const char *const running_reasons[] = {
    "unknown",       "booted",   "migrated",           "restored",
    "from-snapshot", "unpaused", "migration-canceled", "save-canceled",
    "wakeup",        "crashed",  "post-copy",          "post-copy-failed",
};
static const char *const paused_reasons[] = {
    "unknown",       "user",
    "migration",     "save",
    "dump",          "ioerror",
    "watchdog",      "from-snapshot",
    "shutting-down", "snapshot",
    "crashed",       "starting-up",
    "post-copy",     "post-copy-failed",
    "api-error",
};
static const char *const shutdown_reasons[] = {"unknown", "user"};
static const char *const shutoff_reasons[] = {
    "unknown", "shutdown", "destroyed",     "crashed", "migrated",
    "saved",   "failed",   "from-snapshot", "daemon",
};
static const char *const crashed_reasons[] = {"unknown", "panicked"};
static const char *const unknown_only[] = {"unknown"};

#define TABLE(t)                                                                                   \
    {                                                                                              \
        t, G_N_ELEMENTS(t)                                                                         \
    }
static const struct {
    const char *const *names;
    gsize n;
} reasons[VIR_DOMAIN_LAST] = {
    [VIR_DOMAIN_NOSTATE] = TABLE(unknown_only),      [VIR_DOMAIN_RUNNING] = TABLE(running_reasons),
    [VIR_DOMAIN_BLOCKED] = TABLE(unknown_only),      [VIR_DOMAIN_PAUSED] = TABLE(paused_reasons),
    [VIR_DOMAIN_SHUTDOWN] = TABLE(shutdown_reasons), [VIR_DOMAIN_SHUTOFF] = TABLE(shutoff_reasons),
    [VIR_DOMAIN_CRASHED] = TABLE(crashed_reasons),   [VIR_DOMAIN_PMSUSPENDED] = TABLE(unknown_only),
};

static const char *const events[VIR_DOMAIN_EVENT_LAST] = {
    [VIR_DOMAIN_EVENT_DEFINED] = "defined",   [VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
    [VIR_DOMAIN_EVENT_STARTED] = "started",   [VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
    [VIR_DOMAIN_EVENT_RESUMED] = "resumed",   [VIR_DOMAIN_EVENT_STOPPED] = "stopped",
    [VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown", [VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
    [VIR_DOMAIN_EVENT_CRASHED] = "crashed",
};

static const char *const defined_details[] = {"added", "updated", "renamed", "from-snapshot"};
static const char *const undefined_details[] = {"removed", "renamed"};
static const char *const started_details[] = {"booted", "migrated", "restored", "from-snapshot",
                                              "wakeup"};
static const char *const suspended_details[] = {
    "paused",        "migrated",  "ioerror",  "watchdog",        "restored",
    "from-snapshot", "api-error", "postcopy", "postcopy-failed",
};
static const char *const resumed_details[] = {"unpaused", "migrated", "from-snapshot", "postcopy",
                                              "postcopy-failed"};
static const char *const stopped_details[] = {"shutdown", "destroyed", "crashed",      "migrated",
                                              "saved",    "failed",    "from-snapshot"};
static const char *const shutdown_details[] = {"finished", "guest", "host"};
static const char *const pmsuspended_details[] = {"memory", "disk"};
static const char *const crashed_details[] = {"panicked", "crashloaded"};

static const struct {
    const char *const *names;
    gsize n;
} details[VIR_DOMAIN_EVENT_LAST] = {
    [VIR_DOMAIN_EVENT_DEFINED] = TABLE(defined_details),
    [VIR_DOMAIN_EVENT_UNDEFINED] = TABLE(undefined_details),
    [VIR_DOMAIN_EVENT_STARTED] = TABLE(started_details),
    [VIR_DOMAIN_EVENT_SUSPENDED] = TABLE(suspended_details),
    [VIR_DOMAIN_EVENT_RESUMED] = TABLE(resumed_details),
    [VIR_DOMAIN_EVENT_STOPPED] = TABLE(stopped_details),
    [VIR_DOMAIN_EVENT_SHUTDOWN] = TABLE(shutdown_details),
    [VIR_DOMAIN_EVENT_PMSUSPENDED] = TABLE(pmsuspended_details),
    [VIR_DOMAIN_EVENT_CRASHED] = TABLE(crashed_details),
};

const char *itsmigd_state_name(int state)
{
    if (state < 0 || state >= VIR_DOMAIN_LAST)
        return "unknown";
    return states[state];
}

const char *itsmigd_state_reason_name(int state, int reason)
{
    if (state < 0 || state >= VIR_DOMAIN_LAST || reason < 0 || (gsize)reason >= reasons[state].n)
        return "unknown";
    return reasons[state].names[reason];
}

const char *itsmigd_event_name(int event)
{
    if (event < 0 || event >= VIR_DOMAIN_EVENT_LAST)
        return "unknown";
    return events[event];
}

const char *itsmigd_event_detail_name(int event, int detail)
{
    if (event < 0 || event >= VIR_DOMAIN_EVENT_LAST || detail < 0 ||
        (gsize)detail >= details[event].n)
        return "unknown";
    return details[event].names[detail];
}

int itsmigd_state_from_name(const char *name)
{
    for (int i = 0; name && i < VIR_DOMAIN_LAST; i++) {
        if (!strcmp(states[i], name))
            return i;
    }
    return -1;
}
