/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "itsmig/kvm-its.h"

/* The probe result as one JSON object, the same for `itsmigctl host probe
 * --json` and the daemon's GET /v1/host ("kvm" member): every key is present
 * whether or not the probe could run. */
JsonNode *itsmig_kvm_its_caps_to_json(const ItsmigKvmItsCaps *caps);
