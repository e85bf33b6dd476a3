/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Minimal TAP output for the static test program that runs inside the arm64
 * test guest (libc only).  kvm-bed.sh turns the guest console into the TAP
 * stream automake reads, so every line a test prints must be TAP or start
 * with "# ".
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "itsmig/kvm-its.h"

extern unsigned guest_tap_count;
extern unsigned guest_tap_failed;
/* What the probe measured on this kernel (guest_tests_probe() fills it in):
 * the expectations of the tests that depend on the kernel's vITS behaviour. */
extern ItsmigKvmItsSemantics guest_semantics;

/* One result; returns @ok so callers can stop early. */
bool guest_tap_ok(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A diagnostic line ("# ..."). */
void guest_tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Test groups, each in its own file; they report through guest_tap_ok(). */
void guest_tests_probe(void);   /* guest-tests.c: KVM probe against the real kernel */
void guest_tests_reset(void);   /* guest-tests.c: KVM_DEV_ARM_ITS_CTRL_RESET */
void guest_tests_pending(void); /* guest-tests.c: SAVE_PENDING_TABLES + pending decoder */
void guest_tests_tables(void);  /* guest-tables.c: restore/save round trips, bad images */
void guest_tests_regs(void);    /* guest-regs.c: the vCPU register-set probe, probe data out */
