/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include <json-glib/json-glib.h>

#include "itsmig/error.h"

/*
 * What itsmigd makes of another itsmigd's reply body: pure functions, apart
 * from the exchange (peer-client.c) and the orchestrator, so that the fuzz harness
 * can feed them anything a peer could send.
 */

/* The reply object; NULL with an error (ITSMIG_ERROR_PEER_ERROR) saying why
 * when @body is not JSON (as itsmig_json_check() and json-glib see it) or
 * not an object. */
JsonNode *itsmigd_peer_reply_parse(const char *body, gsize len, GError **error);

/* The peer's {"error":{"code","message"}} as "code: message", for people;
 * NULL when it sent none. */
char *itsmigd_peer_reply_error_text(const char *body, gsize len);

/* The code an error reply (HTTP @status) of the peer's gives the local failure:
 * ITSMIG_ERROR_PEER_UNAVAILABLE for a 503 (asked again), the peer's own code when a job
 * keeps it as its own (ITSMIG_ERROR_DEVICE_UNKNOWN_TO_LIBVIRT, whose attention gives the
 * steps that work there), else ITSMIG_ERROR_PEER_ERROR. */
ItsmigErrorCode itsmigd_peer_reply_error_code(const char *body, gsize len, long status);

/* Whether @reply holds what the orchestrator reads of GET/POST
 * /v1/incoming/UUID, with the types it reads them as; @ret_why names the
 * first member that is not. */
gboolean itsmigd_peer_reply_incoming_valid(JsonNode *reply, const char **ret_why);
