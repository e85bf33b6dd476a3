#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): a job aborted while the guest is still releasing its
# non-migratable device (found by tests/e2e/chaos.sh).  The guest acknowledges a PCIe
# hot-unplug seconds after libvirt asks (its attention button waits 5 s), so the rollback
# found the device still there, left it, and the unplug completed afterwards: the guest lost
# its device after a job that said it rolled back.  The rollback now waits for the pending
# unplug and attaches the device back.
#
# A paused guest cannot acknowledge an unplug at all: the request waited in QEMU, the job
# timed out and rolled back, and the device went whenever the guest next ran.  A job for a
# paused guest with devices to detach is now refused at preflight, naming them, and nothing
# is asked of QEMU.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
. "$srcdir/tests/e2e/bed.sh"

bed_up
bed_itsmigd a --set "policy.non-migratable-devices=ua-scratch*"
bed_itsmigd b --set "policy.non-migratable-devices=ua-scratch*"
bed_guest a g1 "$BED_SCRATCH_DEVICE"
check "the guest sees its device on hostA" bed_guest_sees_scratch g1 hostA

use_itsmigd a
api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g1","destination":"b"}'
ID=$(jbody .id)
[ "$API_STATUS" = 202 ] || { api_diag; bail "cannot start a job"; }
if wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .phase)\" = quiesce-devices ] || [ \"\$(jbody .finished)\" = true ]" 60 &&
    [ "$(jbody .phase)" = quiesce-devices ]; then
    ok "the job is detaching the device"
else
    not_ok "the job is detaching the device"
    api_diag
fi
api DELETE "/v1/migrations/$ID"
check_status "DELETE /v1/migrations/{id} while the device is being released: 202" 202
wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 120 || api_diag
check_json "the job rolls back, aborted in quiesce-devices" \
    '.phase == "rolled-back" and .failed_phase == "quiesce-devices" and .error.code == "aborted"'
# Longer than the guest takes to complete an unplug it was asked for.
sleep 12
bed_invariants "aborted detach, 12 s after the rollback" g1 a ua-scratch0
check "... and the guest sees the device on its PCI bus" bed_guest_sees_scratch g1 hostA

# ---- a paused guest --------------------------------------------------------------------

bed_virsh a suspend g1 || bail "cannot pause g1"
api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g1","destination":"b"}'
ID=$(jbody .id)
[ "$API_STATUS" = 202 ] || { api_diag; bail "cannot start a job"; }
wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 60 || api_diag
check_json "a paused guest with a device to detach: refused at preflight, naming the device" \
    '.phase == "rolled-back" and .failed_phase == "preflight" and .error.code == "conflict" and (.error.message | test("paused")) and (.error.message | test("ua-scratch0"))'
check_json "... before anything was detached or paused" \
    '[.phases[] | select(.phase == "quiesce-devices" or .phase == "pause-vcpus" or .phase == "transfer") | .started_at] == [null, null, null]'
is "$(bed_domstate a g1)" paused "g1 is still paused on hostA"
bed_virsh a resume g1 || bail "cannot resume g1"
sleep 12
bed_invariants "paused guest, 12 s after it runs again" g1 a ua-scratch0
check "... and the guest sees the device on its PCI bus" bed_guest_sees_scratch g1 hostA

done_testing
