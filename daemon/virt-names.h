/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Stable names for libvirt's domain states, state reasons and lifecycle
 * events, as they appear in the REST API.  Values libvirt adds later map to
 * "unknown" rather than out of bounds. */

const char *itsmigd_state_name(int state);
const char *itsmigd_state_reason_name(int state, int reason);
const char *itsmigd_event_name(int event);
const char *itsmigd_event_detail_name(int event, int detail);
/* -1 when @name is no state. */
int itsmigd_state_from_name(const char *name);
