/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

/*
 * Marks in a QEMU log.  With libvirt's default stdio_handler "logd", QEMU
 * writes into a pipe and virtlogd copies what arrives into the log file in
 * its own time, so a log read right after a pause may lack what QEMU wrote
 * during it (an ITS save error).  A mark is a line QEMU itself writes to the
 * same output after the point of interest: one pipe keeps the order, so once
 * the mark is in the file, so is everything QEMU wrote before it.
 *
 * QEMU writes it through its "log" trace backend (Debian's): a trace event
 * enabled over QMP prints "PID@SECONDS:EVENT ARGS" on stderr.  The QMP
 * commands go through virDomainQemuMonitorCommand, which libvirt records as
 * the domain's "custom-monitor" taint (once, in the log: hence arm before
 * the pause, while virtlogd is surely there to take that line).
 */

/* The mark of a live migration: QEMU traces the migration's move to
 * "completed" after it stopped the vCPUs and saved the devices' state. */
#define ITSMIGD_QEMU_MARK_MIGRATION_EVENT "migrate_set_state"
#define ITSMIGD_QEMU_MARK_MIGRATION_LINE  "migrate_set_state new state completed"

/* Enables the trace event that itsmigd_qemu_marker_write() uses, or @event
 * (NULL: that one), in the domain's QEMU. */
gboolean itsmigd_qemu_marker_arm(virDomainPtr dom, const char *event, GError **error);
/* Disables it again. */
gboolean itsmigd_qemu_marker_disarm(virDomainPtr dom, const char *event, GError **error);
/* Makes QEMU write a mark naming @tag now; returns the text that the mark's
 * line holds. */
char *itsmigd_qemu_marker_write(virDomainPtr dom, const char *tag, GError **error);
/* The offset just past the line of @data that holds @mark, searching the
 * last occurrence when @last; -1 when none does. */
gssize itsmigd_qemu_marker_find(const char *data, gsize len, const char *mark, gboolean last);
/* The offset of the last line libvirt wrote when it started a QEMU process
 * ("...: starting up libvirt version: ..."), -1 when @data holds none. */
gssize itsmigd_qemu_log_last_start(const char *data, gsize len);
