#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): a migration keeps the guest's run state.  A guest its
# owner paused arrives paused, in safe and in live mode, as with plain virsh migrate, with
# resume-dest skipped and a note; --resume resumes it on the destination.  A running guest's
# safe migration reports how long the guest was paused, which libvirt's downtime figure (the
# switchover alone) does not show.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
. "$srcdir/tests/e2e/bed.sh"

CTL=${ITSMIGCTL:-$builddir/client/itsmigctl}
require_helper "$CTL"
bed_up
bed_itsmigd a
bed_itsmigd b
bed_guest a g1

ctl() { # H COMMAND ARGS...: output in $T/ctl.out and $T/api.body
    _h=$1
    _cmd=$2
    shift 2
    "$CTL" "$_cmd" --socket "$T/d-$_h/api.sock" "$@" >"$T/ctl.out" 2>"$T/ctl.err"
    CTL_RC=$?
    cp "$T/ctl.out" "$T/api.body"
    API_REQ="itsmigctl $_cmd $*" API_STATUS="exit $CTL_RC" API_CURL_RC=-
}

# move FROM TO MODE [OPTION...]: one job that must end DONE.
move() {
    _from=$1 _to=$2 _mode=$3
    shift 3
    _desc="$_mode mode, $(bed_hostname "$_from") -> $(bed_hostname "$_to")${1:+ $*}"
    ctl "$_from" migrate g1 --to "$_to" --mode "$_mode" --wait --json --timeout 150 "$@"
    if [ "$CTL_RC" = 0 ]; then
        ok "$_desc: the job is done"
    else
        not_ok "$_desc: the job is done" "exit $CTL_RC"
        diag_file "$T/ctl.err" 10
        diag_file "$T/ctl.out" 40
        diag_file "$T/d-$_from/itsmigd.log" 30
    fi
}

# state_is H STATE: g1 is STATE on H and absent from the other host.
state_is() {
    _s=$(bed_domstate "$1" g1)
    _o=$(bed_domstate "$(bed_peer "$1")" g1)
    if [ "$_s" = "$2" ] && [ "$_o" = absent ]; then
        return 0
    fi
    diag "g1 on $(bed_hostname "$1"): $_s; on $(bed_hostname "$(bed_peer "$1")"): $_o"
    return 1
}

check "the guest's ITS-MSI interrupts rise on hostA before any move" bed_irq_rises g1 hostA

# ---- a paused guest stays paused ----------------------------------------------------------

bed_virsh a suspend g1 || bail "cannot pause g1"
move a b safe
check_json "safe: the job knew the guest was paused; resume-dest skipped, with a note" \
    '.source_was_running == false and ([.phases[] | select(.phase == "resume-dest") | .outcome] == ["skipped"]) and (.notes | any(test("left paused")))'
check_json "safe: no paused time of the job's own (the guest was paused before)" '.progress.paused_ms == null'
check "safe: g1 arrives paused on hostB" state_is b paused

move b a live
check_json "live: resume-dest skipped" \
    '.source_was_running == false and ([.phases[] | select(.phase == "resume-dest") | .outcome] == ["skipped"])'
check "live: g1 arrives paused on hostA" state_is a paused

move a b safe --resume
check_json "--resume: resume-dest ran" \
    '.options.resume == true and ([.phases[] | select(.phase == "resume-dest") | .outcome] == ["ok"])'
check "--resume: g1 runs on hostB" state_is b running
check "... and its ITS-MSI interrupts rise there" bed_irq_rises g1 hostB

# ---- a running guest: its paused time -----------------------------------------------------

move b a safe
check "g1 runs on hostA" state_is a running
check_json "safe: the record has the guest's paused time and libvirt's downtime" \
    '(.progress.paused_ms | type) == "number" and (.progress.downtime_ms | type) == "number"'
check_json "... the paused time spans the pause to the resume, longer than the switchover" \
    '.progress.paused_ms >= .progress.downtime_ms and .progress.paused_ms >= ([.phases[] | select(.phase | IN("verify-its-save","transfer","verify-dest")) | .duration_ms] | add)'
diag "paused $(jq -r .progress.paused_ms "$T/api.body") ms; libvirt's downtime $(jq -r .progress.downtime_ms "$T/api.body") ms"
ctl b job "$(jq -r .id "$T/api.body")"
if grep -Eq '^Guest paused: [0-9]+ ms$' "$T/ctl.out"; then
    ok "itsmigctl job prints the guest's paused time"
else
    not_ok "itsmigctl job prints the guest's paused time"
    diag_file "$T/ctl.out" 30
fi
check "... and its interrupts rise on hostA" bed_irq_rises g1 hostA

done_testing
