/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The probe results (ITS capabilities and the vCPU register set) as lines of
 * text, for a program without GLib to hand them to one with it: the static
 * test program in the real-kernel bed's guest prints them on the console,
 * and the host turns them into the JSON `itsmigctl host probe --json` prints
 * (tests/kvm/probe-to-json).  libc only.
 *
 * Every line is "<prefix> <key> <value>", between "<prefix> begin" and
 * "<prefix> end <number of lines in between>":
 *
 *   its <field> <value>          one per ItsmigKvmItsCaps field (numbers in
 *                                decimal or 0x hex, text to the end of line)
 *   regs <field> <value>         available, unavailable_reason, features,
 *                                writable_masks, count
 *   reg <id> <needs> [v=<value>] [w=<writable mask>]   one per register,
 *                                ascending; hex numbers
 */

#include <stdio.h>

#include "itsmig/diag.h"
#include "itsmig/kvm-its.h"
#include "itsmig/kvm-regs.h"

#define ITSMIG_KVM_PROBE_TEXT_PREFIX "ITSMIG-PROBE"

void itsmig_kvm_probe_text_write(FILE *out, const ItsmigKvmItsCaps *caps,
                                 const ItsmigKvmRegSet *regs);

/*
 * Reads the first begin..end block of ITSMIG_KVM_PROBE_TEXT_PREFIX lines in
 * @text (other lines, and carriage returns, are skipped: it may be a whole
 * console log).  0 on success, else -EINVAL (or -ENOMEM) with the line at
 * fault in @diag; @ret_regs holds malloc'd registers either way (clear it).
 */
int itsmig_kvm_probe_text_read(const char *text, ItsmigKvmItsCaps *ret_caps,
                               ItsmigKvmRegSet *ret_regs, ItsmigDiag *diag);
