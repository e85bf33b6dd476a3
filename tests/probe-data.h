/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The probe output the real-kernel bed kept for each Debian kernel
 * (tests/data/probe/<suite>.json, from tests/kvm/update-probe-data.sh), for
 * the unit tests that run the rules on those real lists.
 */

#include <json-glib/json-glib.h>

/* @suite's file parsed (asserted strict JSON), its root object in
 * *ret_root; *ret_path (g_free) names the file for messages. */
JsonParser *probe_data_load(const char *suite, JsonObject **ret_root, char **ret_path);
