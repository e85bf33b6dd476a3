/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The restore gate's look at the saved image (client/hooks/hook-image.c). */
#pragma once

#include <glib.h>

typedef enum {
    HOOK_IMAGE_PASSES,  /* this host's kernel restores its ITS tables */
    HOOK_IMAGE_REFUSED, /* it would not: the message names the finding */
    HOOK_IMAGE_SKIPPED, /* nothing to judge: the image has no in-kernel ITS */
    HOOK_IMAGE_UNREAD,  /* not found, not readable, or not read in time */

    HOOK_IMAGE_LAST
} HookImageVerdict;

/* Most address space the reader may use. */
#define HOOK_IMAGE_AS_MAX (512ul * 1024 * 1024)
/* A compressed image's stream is decompressed into an unlinked file in HOOK_IMAGE_TMP_DIR
 * (whatever TMPDIR libvirtd has: not /tmp, which may be memory) of at most this many bytes,
 * and never into the last 5 % of that file system. */
#define HOOK_IMAGE_DECOMPRESSED_MAX (4ull << 30)
#define HOOK_IMAGE_TMP_DIR          "/var/tmp"

/* Finds the save image of the domain @uuid (lower case) among the regular
 * files the hook's parent (libvirtd) holds open, and predicts what this
 * host's KVM does with its ITS tables.  The reading runs in a child process
 * limited to HOOK_IMAGE_AS_MAX of address space (and, decompressing,
 * HOOK_IMAGE_DECOMPRESSED_MAX of file) and killed after @timeout_s seconds.  *ret_message says what
 * was found, one line. */
HookImageVerdict hook_image_judge(const char *uuid, unsigned timeout_s, char **ret_message);
