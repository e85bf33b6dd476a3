/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the readers of itsmigd.conf share: the problem list (every problem of
 * a file reported at once, one line each) and the key reading.  Private to
 * daemon-config.c and the config-*.c group readers.
 */

#include <glib.h>

#include "daemon/daemon-config.h"

#define ITSMIGD_PEER_GROUP_PREFIX "peer "

/* Adds the line @text to the problems in *@error (ITSMIG_ERROR_INVALID_CONFIG). */
void itsmigd_config_add_problem(GError **error, const char *text);
/* Adds "PATH: [GROUP] KEY: what" to the problems in *@error; returns FALSE. */
gboolean itsmigd_config_error(GError **error, const char *path, const char *group, const char *key,
                              const char *fmt, ...) G_GNUC_PRINTF(5, 6);
/* A key's value as GKeyFile unescapes it; NULL after itsmigd_config_error()
 * when it cannot be read (not UTF-8, a bad escape). */
char *itsmigd_config_key_string(const ItsmigdConfig *c, GKeyFile *kf, const char *group,
                                const char *key, GError **error);

/* Reads [group] @key's @value (stripped; the reader may take it). */
typedef void (*ItsmigdConfigKeyRead)(ItsmigdConfig *c, GKeyFile *kf, const char *key, char **value,
                                     gpointer data, GError **error);
/* Calls @read for each key of [@group]; FALSE, after reporting it, when a
 * value cannot be read at all. */
gboolean itsmigd_config_read_group(ItsmigdConfig *c, GKeyFile *kf, const char *group,
                                   ItsmigdConfigKeyRead read, gpointer data, GError **error);

/* Reads the [peer NAME] group @group into @c's peers; FALSE after adding
 * its problems to *@error. */
gboolean itsmigd_config_read_peer(ItsmigdConfig *c, GKeyFile *kf, const char *group,
                                  GError **error);

/* "true"/"yes" or "false"/"no", in any case, into *@ret. */
gboolean itsmigd_config_parse_bool(const char *value, gboolean *ret);
/* [host] and [policy] into @c; FALSE after adding their problems to *@error. */
gboolean itsmigd_config_read_host(ItsmigdConfig *c, GKeyFile *kf, GError **error);
gboolean itsmigd_config_read_policy(ItsmigdConfig *c, GKeyFile *kf, GError **error);
