/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* An ITS verification's evidence object: {"checked", "method", "reason",
 * "log", "errors": [...], "lines": [...]}; @errors and @lines hold char *. */
JsonNode *itsmigd_its_evidence(gboolean checked, const char *method, const char *reason,
                               const char *log, GPtrArray *errors, GPtrArray *lines);
/* The evidence for a guest whose ITS QEMU emulates (nothing to verify). */
JsonNode *itsmigd_its_evidence_not_kvm(void);
/* The evidence from what QEMU logged (@data, from @path): every ITS finding
 * is kept, those of @kinds (bits 1 << ItsmigQemuLogKind) count as errors;
 * the reason reads "[no] @what error(s) @where".  *@ret_first_error is the
 * first error, NULL when none. */
JsonNode *itsmigd_its_evidence_scan(const char *path, const char *data, gsize len, guint kinds,
                                    const char *what, const char *where, char **ret_first_error);
