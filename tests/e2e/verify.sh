#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): a job's ITS checks are neither fooled
# nor given up.
#
#   - virtlogd (libvirt's default stdio_handler "logd") stopped across the
#     pause, with QEMU's report of a failed ITS save still in the pipe to
#     it: VERIFY_ITS_SAVE waits for QEMU's mark to reach the log, then finds
#     the report and rolls back; with virtlogd stopped for longer than the
#     phase, the job ends its-save-unverified and rolls back.  Never done.
#   - the destination's itsmigd killed during the transfer and restarted
#     20 s later: VERIFY_DEST asks again with back-off and the job ends done,
#     the guest running on the destination.
#   - the same in live mode with the destination's itsmigd gone for longer
#     than the phase: the job needs attention with what libvirt there shows
#     (the guest runs), and goes on to done once that itsmigd is back.
#   - the source's itsmigd killed right after a live transfer: the restarted
#     daemon still checks the ITS save (from the source's QEMU log) and the
#     destination before calling the job done; with that log gone, the job
#     says which check could not be made.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
# The test build: only it has the fault points ITSMIGD_FAULT arms.
ITSMIGD=$builddir/tests/itsmigd-fault
. "$srcdir/tests/e2e/bed.sh"

bed_up
# bed_run H [START-ITSMIGD-OPTION...]: host H's itsmigd with this test's policy.
bed_run() {
    _rh=$1
    shift
    bed_itsmigd "$_rh" --set migration.phase-timeout=120 "$@"
}
bed_run a
bed_run b
bed_guest a g1
HERE=a # where g1 runs

# invariants DESC: g1 runs on $HERE only, not paused, and its interrupts rise there.
invariants() {
    bed_invariants "$1" g1 "$HERE"
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

# wait_incoming HOST: the incoming copy is on HOST, so libvirt ran the destination's hook (which
# asks that host's itsmigd) and the transfer is under way; killing that itsmigd before would
# make the hook refuse the migration (on-unreachable = deny).  The job's record is read again.
wait_incoming() {
    wait_for "[ \"\$(bed_domstate $1 g1)\" != absent ]" 30
    _wi=$?
    api GET "/v1/migrations/$ID"
    return $_wi
}

# wait_end [TIMEOUT]: the job ended; its record is in $T/api.body.
wait_end() {
    wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" "${1:-180}"
}

# paused_by_fault: restarts $HERE's itsmigd to stop itself (SIGSTOP) right
# after it paused g1, starts a safe job and waits for that stop.
paused_by_fault() {
    use_itsmigd "$HERE"
    stop_itsmigd
    bed_run "$HERE" --env ITSMIGD_FAULT=after:suspend-source:stop
    start_job "${1:-}"
    wait_for "[ \"\$(ps -o stat= -p $ITSMIGD_PID | cut -c1)\" = T ]" 60 ||
        bail "itsmigd did not stop itself after pausing g1"
}

# The line QEMU writes when KVM_DEV_ARM_ITS_SAVE_TABLES fails (-EFAULT).
save_error() {
    echo "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z) qemu-system-aarch64: KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Bad address"
}
# qemu_pid H: g1's QEMU on host H.
qemu_pid() {
    cat "$T/h$1/run/qemu/g1.pid"
}
eval "VIRTLOGD_A=\$BED_VIRTLOGD_a"
eval "VIRTLOGD_B=\$BED_VIRTLOGD_b"
virtlogd_of() { [ "$1" = a ] && echo "$VIRTLOGD_A" || echo "$VIRTLOGD_B"; }

# ---- virtlogd stalls across the pause; QEMU's save error waits in its pipe -------------

paused_by_fault
VL=$(virtlogd_of "$HERE")
kill -STOP "$VL"
# Written to QEMU's own stderr, the pipe virtlogd copies into the log: it
# reaches the log only when virtlogd runs again, as QEMU's report would.
save_error >"/proc/$(qemu_pid "$HERE")/fd/2"
use_itsmigd "$HERE"
kill -CONT "$ITSMIGD_PID"
sleep 15
api GET "/v1/migrations/$ID"
check_json "logd-stalled: with virtlogd stopped, the job waits in verify-its-save (15 s later)" \
    '.phase == "verify-its-save" and .finished == false'
if grep -q "Group 4 attr" "$T/h$HERE/log/qemu/g1.log"; then
    not_ok "logd-stalled: the save error is not in the log while virtlogd is stopped"
else
    ok "logd-stalled: the save error is not in the log while virtlogd is stopped"
fi
kill -CONT "$VL"
wait_end
check_json "logd-stalled: once virtlogd runs, the check finds QEMU's save error and the job rolls back" \
    '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-failed"'
check_json "logd-stalled: the evidence was read up to QEMU's mark" \
    '.its_save.checked == true and (.its_save.reason | test("up to its mark")) and any(.its_save.lines[]; test("Group 4 attr 0x0+1: Bad address"))'
grep -q "itsmig-log-mark-$ID" "$T/h$HERE/log/qemu/g1.log" &&
    ok "logd-stalled: QEMU's mark naming the job is in its log" ||
    not_ok "logd-stalled: QEMU's mark naming the job is in its log"
invariants "logd-stalled"

# ---- virtlogd stopped for longer than the phase ------------------------------------------

paused_by_fault '"options":{"phase_timeout":20}'
VL=$(virtlogd_of "$HERE")
kill -STOP "$VL"
use_itsmigd "$HERE"
kill -CONT "$ITSMIGD_PID"
wait_end 120
kill -CONT "$VL"
check_json "logd-stopped: the job ends its-save-unverified and rolls back, never done" \
    '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-unverified" and .its_save.checked == false and (.error.message | test("did not reach its log"))'
invariants "logd-stopped"
use_itsmigd "$HERE"
stop_itsmigd
bed_run "$HERE"

# ---- a safe transfer; the destination's itsmigd is killed during it, back 20 s later ------

THERE=$(bed_peer "$HERE")
start_job '"options":{"bandwidth":4}'
if wait_phase transfer && wait_incoming "$THERE"; then ok "dest-itsmigd: the job is transferring"; else not_ok "dest-itsmigd: the job is transferring"; api_diag; fi
use_itsmigd "$THERE"
stop_itsmigd KILL
use_itsmigd "$HERE"
wait_phase verify-dest 120 || true
sleep 20
api GET "/v1/migrations/$ID"
check_json "dest-itsmigd: while the destination's itsmigd is down the job keeps asking in verify-dest" \
    '.phase == "verify-dest" and .finished == false'
bed_run "$THERE"
use_itsmigd "$HERE"
wait_end
check_json "dest-itsmigd: the destination's itsmigd back, the job verifies its copy and ends done" \
    '.phase == "done" and .error == null and .its_restore != null and ([.phases[] | select(.phase == "verify-dest") | .outcome] == ["ok"])'
HERE=$THERE
invariants "dest-itsmigd"

# ---- live: the destination's itsmigd gone for longer than the phase; then back ------------

THERE=$(bed_peer "$HERE")
start_job '"mode":"live","options":{"bandwidth":8,"phase_timeout":40}'
if wait_phase transfer && wait_incoming "$THERE"; then ok "dest-gone-live: the job is transferring"; else not_ok "dest-gone-live: the job is transferring"; api_diag; fi
use_itsmigd "$THERE"
stop_itsmigd KILL
use_itsmigd "$HERE"
wait_end 240
check_json "dest-gone-live: the job needs attention for the unanswered verification, with libvirt's view of the destination" \
    '.phase == "failed-needs-attention" and .failed_phase == "verify-dest" and (.error.code == "peer-unreachable" or .error.code == "peer-timeout") and .facts.destination == "running"'
check_json "dest-gone-live: its advice says the guest runs there, not that it may be paused" \
    '(.attention | test("runs on")) and (.attention | test("may be paused") | not)'
diag "dest-gone-live: $(jbody .attention)"
bed_run "$THERE"
use_itsmigd "$HERE"
if wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .phase)\" = done ]" 180; then
    ok "dest-gone-live: once the destination's itsmigd answers, the job is re-examined and ends done"
else
    not_ok "dest-gone-live: once the destination's itsmigd answers, the job is re-examined and ends done"
    api_diag
fi
check_json "dest-gone-live: the record keeps what happened as a note" \
    '.error == null and .attention == null and any(.notes[]; test("answered again")) and ([.phases[] | select(.phase == "verify-dest") | .outcome] == ["ok"])'
HERE=$THERE
invariants "dest-gone-live"

# ---- live: the source's itsmigd killed right after the transfer ---------------------------

for variant in log-kept log-gone; do
    use_itsmigd "$HERE"
    stop_itsmigd
    bed_run "$HERE" --env ITSMIGD_FAULT=after:migrate
    start_job '"mode":"live"'
    if ! wait_for "! pid_alive $ITSMIGD_PID" 120; then
        not_ok "recovered-live ($variant): itsmigd died at the injected point"
        continue
    fi
    forget_itsmigd
    from=$HERE
    HERE=$(bed_peer "$HERE")
    # The source's QEMU has gone; libvirt has closed its log.
    [ "$variant" = log-gone ] && : >"$T/h$from/log/qemu/g1.log"
    bed_run "$from"
    wait_end || api_diag
    case $variant in
    log-kept)
        check_json "recovered-live: the restarted itsmigd checks the ITS save and the destination before done" \
            '.phase == "done" and .recovered == true and ([.phases[] | select(.phase == "verify-its-save" or .phase == "verify-dest") | .outcome] == ["ok","ok"])'
        check_json "recovered-live: the save was checked in the source QEMU's log, up to its migration mark" \
            '.its_save.checked == true and (.its_save.reason | test("since it started")) and (.its_save.reason | test("up to its mark")) and .its_restore != null' ;;
    log-gone)
        check_json "recovered-live (log gone): the job is not done; it names the check that could not be made" \
            '.phase == "failed-needs-attention" and .failed_phase == "verify-its-save" and .error.code == "its-save-unverified" and (.attention | test("ITS save on the source could not be checked"))'
        diag "recovered-live (log gone): $(jbody .attention)" ;;
    esac
    invariants "recovered-live ($variant)"
done

done_testing
