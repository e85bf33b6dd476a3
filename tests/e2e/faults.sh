#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): faults during migration jobs, each
# followed by the invariants: the guest runs on exactly one host, is not
# left paused, its non-migratable device is plugged in where it runs, and
# its ITS-MSI interrupts keep rising there.
#
#   - an ITS save error in the source's QEMU log at the pause: caught by
#     VERIFY_ITS_SAVE, rolled back, the error line quoted in the record;
#   - abort through the API during TRANSFER;
#   - the destination's libvirtd killed during TRANSFER;
#   - the veth link cut during TRANSFER;
#   - the source's itsmigd killed -9 at each phase boundary and restarted:
#     GET /v1/migrations/{id} then tells what happened and what was done.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
# The test build: only it has the fault points ITSMIGD_FAULT arms.
ITSMIGD=$builddir/tests/itsmigd-fault
. "$srcdir/tests/e2e/bed.sh"

bed_up
# bed_run H [START-ITSMIGD-OPTION...]: host H's itsmigd with this test's policy.
bed_run() {
    _rh=$1
    shift
    bed_itsmigd "$_rh" --set "policy.non-migratable-devices=ua-scratch*" --set migration.phase-timeout=60 "$@"
}
bed_run a
bed_run b
bed_guest a g1 "$BED_SCRATCH_DEVICE"
HERE=a # where g1 runs

# invariants DESC: g1 runs on $HERE only, not paused, with its device, and
# its interrupts rise there.
invariants() {
    bed_invariants "$1" g1 "$HERE" ua-scratch0
}

# start_job BODY-EXTRA: a job for g1 from $HERE to the other host; sets ID.
start_job() {
    use_itsmigd "$HERE"
    api POST /v1/migrations -H 'Content-Type: application/json' \
        -d "{\"domain\":\"g1\",\"destination\":\"$(bed_peer "$HERE")\"${1:+,$1}}"
    ID=$(jbody .id)
    [ "$API_STATUS" = 202 ] || { api_diag; bail "cannot start a job"; }
}

# wait_phase PHASE [TIMEOUT]: the job reached PHASE (or ended).
wait_phase() {
    wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .phase)\" = $1 ] || [ \"\$(jbody .finished)\" = true ]" "${2:-60}" &&
        [ "$(jbody .phase)" = "$1" ]
}

# wait_end [TIMEOUT]: the job ended; its record is in $T/api.body.
wait_end() {
    wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" "${1:-120}"
}

# A transfer slow enough to act during it: the guest's non-zero memory at 4 MiB/s.
SLOW='"options":{"bandwidth":4}'

# ---- an ITS save error at the pause -----------------------------------------------

use_itsmigd a
stop_itsmigd
bed_run a --env ITSMIGD_FAULT=after:suspend-source:stop
start_job
if wait_for "[ \"\$(ps -o stat= -p $ITSMIGD_PID | cut -c1)\" = T ]" 60; then
    ok "its-save: itsmigd stops itself right after pausing the vCPUs (fault injection)"
else
    not_ok "its-save: itsmigd stops itself right after pausing the vCPUs (fault injection)"
fi
is "$(bed_domstate a g1)" paused "its-save: g1 is paused on hostA"
# What QEMU writes when KVM_DEV_ARM_ITS_SAVE_TABLES fails (here: -EFAULT).
LINE="$(date -u +%Y-%m-%dT%H:%M:%S.000000Z) qemu-system-aarch64: KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Bad address"
echo "$LINE" >>"$T/ha/log/qemu/g1.log"
kill -CONT "$ITSMIGD_PID"
wait_end
check_json "its-save: VERIFY_ITS_SAVE fails on QEMU's line and the job rolls back" \
    '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-failed"'
check_json "its-save: the record quotes QEMU's error line" \
    '.its_save.checked == true and (.its_save.lines | length) == 1 and (.its_save.lines[0] | test("Group 4 attr 0x0+1: Bad address"))'
check_json "its-save: the rollback resumed the source and plugged the device back in" \
    '.rollback.resumed == true and ([.devices[] | .state] == ["attached"])'
invariants "its-save"
stop_itsmigd
bed_run a

# ---- abort during the transfer ------------------------------------------------------

start_job "$SLOW"
if wait_phase transfer; then ok "abort: the job is transferring"; else not_ok "abort: the job is transferring"; api_diag; fi
sleep 1
api DELETE "/v1/migrations/$ID"
check_status "abort: DELETE /v1/migrations/{id} during the transfer: 202" 202
wait_end
check_json "abort: the transfer is aborted and the job rolled back" \
    '.phase == "rolled-back" and .failed_phase == "transfer" and .error.code == "aborted" and .rollback.aborted == true'
invariants "abort"

# ---- the destination's libvirtd dies during the transfer ---------------------------------

start_job "$SLOW"
if wait_phase transfer; then ok "dest-libvirtd: the job is transferring"; else not_ok "dest-libvirtd: the job is transferring"; api_diag; fi
sleep 1
bed_kill_libvirtd b KILL
wait_end
check_json "dest-libvirtd: the transfer fails and the job ends without the guest moving" \
    '.finished == true and .failed_phase == "transfer" and (.phase == "rolled-back" or (.phase == "failed-needs-attention" and (.attention | length) > 0))'
diag "dest-libvirtd: the job ended $(jbody .phase): $(jbody .error.message)"
bed_restart_libvirtd b
# The restarted libvirtd cleans up the incoming QEMU it finds.
wait_for '[ "$(bed_domstate b g1)" = absent ]' 30
invariants "dest-libvirtd"

# ---- the link between the hosts is cut during the transfer ------------------------------

# 30 s is twice what the transfer needs at 4 MiB/s: only the cut can stop it.
start_job '"options":{"bandwidth":4,"phase_timeout":30}'
if wait_phase transfer; then ok "link: the job is transferring"; else not_ok "link: the job is transferring"; api_diag; fi
sleep 1
ip -n "$BED_NS_A" link set "$BED_VETH_A" down
wait_end 150
check_json "link: the stalled transfer fails and the job ends without the guest moving" \
    '.finished == true and .failed_phase == "transfer" and (.phase == "rolled-back" or (.phase == "failed-needs-attention" and (.attention | length) > 0))'
diag "link: the job ended $(jbody .phase): $(jbody .error.message)"
ip -n "$BED_NS_A" link set "$BED_VETH_A" up
wait_for '[ "$(bed_domstate b g1)" = absent ]' 60
invariants "link"

# ---- itsmigd on the source killed at each phase boundary -------------------------------

for action in preflight detach suspend-source verify-its-save migrate verify-dest resume-dest attach-dest; do
    use_itsmigd "$HERE"
    stop_itsmigd
    bed_run "$HERE" --env "ITSMIGD_FAULT=after:$action"
    start_job
    if ! wait_for "! pid_alive $ITSMIGD_PID" 60; then
        not_ok "kill after $action: itsmigd died at the injected point"
        continue
    fi
    forget_itsmigd
    bed_run "$HERE"
    from=$HERE
    if wait_end 120; then
        ok "kill after $action: the restarted itsmigd finishes the job"
    else
        not_ok "kill after $action: the restarted itsmigd finishes the job"
        api_diag
    fi
    case $action in
    migrate | verify-dest | resume-dest | attach-dest)
        check_json "kill after $action: the guest had moved, so the job went forward to DONE, marked recovered, saying so" \
            '.phase == "done" and .recovered == true and .error == null and any(.notes[]; test("itsmigd restarted"))'
        HERE=$(bed_peer "$HERE") ;;
    *)
        check_json "kill after $action: the job rolled back, marked recovered, saying why" \
            '.phase == "rolled-back" and .recovered == true and .error.code == "daemon-restarted" and (.error.message | length) > 0' ;;
    esac
    check_json "kill after $action: the record tells what was done (phases, rollback, facts)" \
        '(.phases | length) > 0 and .rollback != null and .facts.source != null and (.notes | type) == "array"'
    invariants "kill after $action"
    grep -q "$ID" "$T/d-$from/itsmigd.log" || not_ok "kill after $action: the restarted itsmigd logs the job"
done

done_testing
