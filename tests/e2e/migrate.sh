#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): itsmigctl migrate in safe mode and in
# live mode, A -> B -> A, on a real aarch64 guest with a GICv3 ITS and an MSI
# device.  After each job: it is DONE, the record shows every phase with its
# timing and the ITS verification evidence, the guest runs exactly on the
# destination and its ITS-MSI interrupt count keeps rising there.  The guest
# has a hot-pluggable device (behind a PCIe root port) that policy marks as
# non-migratable: each job unplugs it before the pause and plugs it in again
# on the destination.  (Its return to the source after a rollback is in
# faults.sh.)

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
. "$srcdir/tests/e2e/bed.sh"

CTL=${ITSMIGCTL:-$builddir/client/itsmigctl}
require_helper "$CTL"
bed_up
bed_itsmigd a --set "policy.non-migratable-devices=ua-scratch*"
bed_itsmigd b --set "policy.non-migratable-devices=ua-scratch*"
bed_guest a g1 "$BED_SCRATCH_DEVICE"

# ctl H COMMAND ARGS...: itsmigctl against host H's itsmigd; its output is
# in $T/ctl.out, and also in $T/api.body for check_json.
ctl() {
    _h=$1
    _cmd=$2
    shift 2
    "$CTL" "$_cmd" --socket "$T/d-$_h/api.sock" "$@" >"$T/ctl.out" 2>"$T/ctl.err"
    CTL_RC=$?
    cp "$T/ctl.out" "$T/api.body"
    API_REQ="itsmigctl $_cmd $*" API_STATUS="exit $CTL_RC" API_CURL_RC=-
}

# runs_only_on H NAME: NAME runs on H and is absent from the other host.
runs_only_on() {
    [ "$(bed_domstate "$1" "$2")" = running ] && [ "$(bed_domstate "$(bed_peer "$1")" "$2")" = absent ]
}

# migrate_ok FROM TO MODE: one job, checked on both hosts and in the guest.
migrate_ok() {
    _from=$1 _to=$2 _mode=$3
    _desc="$_mode mode, $(bed_hostname "$_from") -> $(bed_hostname "$_to")"
    ctl "$_from" migrate g1 --to "$_to" --mode "$_mode" --wait --json --timeout 120
    if [ "$CTL_RC" = 0 ]; then
        ok "$_desc: itsmigctl migrate --wait exits 0"
    else
        not_ok "$_desc: itsmigctl migrate --wait exits 0" "exit $CTL_RC"
        diag_file "$T/ctl.err" 10
        diag_file "$T/ctl.out" 40
        diag_file "$T/d-$_from/itsmigd.log" 30
    fi
    check_json "$_desc: the job is DONE with no error and no note for a person" \
        '.phase == "done" and .finished == true and .error == null and .attention == null'
    if [ "$_mode" = safe ]; then
        _plan='["preflight","quiesce-devices","pause-vcpus","verify-its-save","transfer","verify-dest","resume-dest","restore-devices"]'
    else
        _plan='["preflight","quiesce-devices","transfer","verify-its-save","verify-dest","resume-dest","restore-devices"]'
    fi
    check_json "$_desc: every phase of the plan ran and ended well, in order, each with its timing" \
        "[.phases[] | select(.outcome == \"ok\") | .phase] == $_plan and
         all(.phases[] | select(.outcome == \"ok\"); (.started_at | type) == \"string\" and (.duration_ms | type) == \"number\")"
    check_json "$_desc: the ITS save and the restore on the destination were verified, with evidence" \
        '.its_save.checked == true and .its_save.errors == [] and (.its_save.reason | length) > 0
         and .its_restore.checked == true and .its_restore.errors == [] and .verdict.allowed == true'
    check_json "$_desc: libvirt's figures for the transfer are in the record" \
        '(.progress.downtime_ms | type) == "number" and .progress.data_total > 0'
    check_json "$_desc: the non-migratable device was unplugged and plugged back in" \
        '[.devices[] | .alias] == ["ua-scratch0"]'
    if bed_has_device "$_to" g1 ua-scratch0 && bed_guest_sees_scratch g1 "$(bed_hostname "$_to")"; then
        ok "$_desc: the device is back, on $(bed_hostname "$_to"), and the guest has it again"
    else
        not_ok "$_desc: the device is back, on $(bed_hostname "$_to"), and the guest has it again"
        diag_file "$T/virsh.out" 5
    fi
    if runs_only_on "$_to" g1; then
        ok "$_desc: the guest runs on $(bed_hostname "$_to") and nowhere else"
    else
        not_ok "$_desc: the guest runs on $(bed_hostname "$_to") and nowhere else" \
            "$(bed_hostname "$_from"): $(bed_domstate "$_from" g1), $(bed_hostname "$_to"): $(bed_domstate "$_to" g1)"
    fi
    if bed_irq_rises g1 "$(bed_hostname "$_to")"; then
        ok "$_desc: the guest's ITS-MSI interrupts keep rising on $(bed_hostname "$_to")"
    else
        not_ok "$_desc: the guest's ITS-MSI interrupts keep rising on $(bed_hostname "$_to")"
        diag "$(tail -n 5 "$T/console-g1.log")"
    fi
}

check "the guest's ITS-MSI interrupts rise on hostA before any move" bed_irq_rises g1 hostA
migrate_ok a b safe
migrate_ok b a safe
migrate_ok a b live
migrate_ok b a live

done_testing
