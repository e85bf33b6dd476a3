#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The migration orchestrator against a private libvirtd with the test driver
# (host A) and a second itsmigd (host B) over HTTPS: a job runs its phases
# for real (preflight, suspend, ITS save verification from the QEMU log,
# the transfer, which this driver refuses) and rolls back; a verdict with
# blockers stops it; QEMU's report of a failed ITS save, written while the
# daemon is stopped right after the pause, fails it; and itsmigd killed at
# every step boundary up to the transfer comes back to finish the rollback,
# with the guest running exactly once.  Also 409 for a second job of the
# same domain, aborts, bad requests and a corrupt journal record.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl /usr/bin/python3
require_daemon

base=$((20000 + ($$ + 7) % 20000))
port_b=$base
port_c=$((base + 1))
port_hang=$((base + 2))
port_wrong=$((base + 3))
port_unavail=$((base + 4))
port_restart=$((base + 5))

tls_peer_files
fake_peer hang "$port_hang"
fake_peer wrongtype "$port_wrong"
wait_for "[ -s '$T/fake-hang.pid' ]" 10 || bail "the hanging peer did not start"
wait_for "[ -s '$T/fake-wrongtype.pid' ]" 10 || bail "the wrongtype peer did not start"
fake_peer unavailable "$port_unavail"
fake_peer restarting "$port_restart"
wait_for "[ -s '$T/fake-unavailable.pid' ] && [ -s '$T/fake-restarting.pid' ]" 10 ||
    bail "the 503 peers did not start"

# tagged NAME PATTERN JOB: A's log has lines matching PATTERN, and each carries the
# ITSMIG_JOB field of JOB, which the stderr writer shows as "[job=JOB]" (journald
# gets it as a field), so that `journalctl ITSMIG_JOB=ID` finds every one.
tagged() {
    _n=$(grep -cE -- "$2" "$ITSMIGD_LOG")
    _bad=$(grep -E -- "$2" "$ITSMIGD_LOG" | grep -vF "[job=$3]" | head -3)
    if [ "$_n" -gt 0 ] && [ -z "$_bad" ]; then
        ok "$1"
    else
        not_ok "$1" "$_n line(s) match '$2'; without [job=$3]:" "$_bad"
    fi
}

host_sets() { # HOSTNAME REVISIONS DEFAULT
    its_host_sets "$1" "$2" "$3"
    echo "--set policy.check-emulated=true"
}

# B and C: destinations on libvirt's in-process test driver.
start_itsmigd --name b --uri test:///default $(host_sets hostB 0,1 1) $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"
start_itsmigd --name c --uri test:///default $(host_sets hostC 0 0) $(tls_sets "$port_c") \
    --set "peer a.accept-token-file=$T/token-c"

# A: the source, on the private libvirtd.  A connection held open keeps the
# test driver's state while itsmigd is killed and restarted.
start_libvirtd
mkfifo "$T/hold"
virsh -q -c "$LIBVIRT_URI" <"$T/hold" >/dev/null 2>&1 &
track_pid $!
exec 9>"$T/hold"
mkdir -p "$T/qemu-logs" "$T/state-a"
# run_a [START-OPTION...]: A, with its journal outside the directory
# start_itsmigd wipes, so that it survives restarts.  The test driver has
# no QEMU to mark its log, and this test writes the log itself, directly:
# no mark to wait for (qemu-log-mark, see tests/e2e/verify.sh for the mark).
run_a() {
    # shellcheck disable=SC2046
    start_itsmigd --name a $(host_sets hostA 0,1 1) --set "daemon.state-dir=$T/state-a" \
        --set "migration.qemu-log-dir=$T/qemu-logs" --set migration.qemu-log-mark=false \
        --set migration.phase-timeout=20 \
        --set peers.timeout=3 --set peers.connect-timeout=2 \
        --set "peer b.url=https://127.0.0.1:$port_b" --set "peer b.ca=$T/cert.pem" \
        --set "peer b.token-file=$T/token-b" --set "peer b.migrate-uri=test:///default" \
        --set "peer c.url=https://127.0.0.1:$port_c" --set "peer c.ca=$T/cert.pem" \
        --set "peer c.token-file=$T/token-c" --set "peer c.migrate-uri=test:///default" \
        --set "peer hang.url=https://127.0.0.1:$port_hang" --set "peer hang.ca=$T/cert.pem" \
        --set "peer hang.token-file=$T/token-b" --set "peer hang.migrate-uri=test:///default" \
        --set "peer wrong.url=https://127.0.0.1:$port_wrong" --set "peer wrong.ca=$T/cert.pem" \
        --set "peer wrong.token-file=$T/token-b" --set "peer wrong.migrate-uri=test:///default" \
        --set "peer unavail.url=https://127.0.0.1:$port_unavail" --set "peer unavail.ca=$T/cert.pem" \
        --set "peer unavail.token-file=$T/token-b" --set "peer unavail.migrate-uri=test:///default" \
        --set "peer restart.url=https://127.0.0.1:$port_restart" --set "peer restart.ca=$T/cert.pem" \
        --set "peer restart.token-file=$T/token-b" --set "peer restart.migrate-uri=test:///default" \
        "$@"
}
run_a

test_domain_xml g1 0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a01 >"$T/g1.xml"
UUID=0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a01
echo "define $T/g1.xml" >&9
echo "start g1" >&9
wait_for 'vsh domstate g1 && grep -q running "$T/virsh.out"' 10 || bail "cannot start g1"
: >"$T/qemu-logs/g1.log"
use_itsmigd a
wait_for 'api GET /v1/domains/g1; [ "$API_STATUS" = 200 ]' 10 || bail "A does not know g1"

migrate() { # BODY
    api POST /v1/migrations -H 'Content-Type: application/json' -d "$1"
}
# wait_job ID: until the job has ended; its record is then in $T/api.body.
wait_job() {
    wait_for "api GET /v1/migrations/$1; [ \"\$(jbody .finished)\" = true ]" "${2:-30}"
}
domstate() {
    vsh domstate g1 && head -n 1 "$T/virsh.out"
}

# ---- a job that rolls back when the transfer fails ---------------------------------

migrate '{"domain":"g1","destination":"b"}'
check_status "POST /v1/migrations accepts a job: 202" 202
check_json "the job starts in preflight, safe mode, with the defaults" \
    '.phase == "preflight" and .mode == "safe" and .finished == false and .options.phase_timeout == 20 and .options.quiesce == true and .source == "hostA"'
ID=$(jbody .id)
if wait_job "$ID"; then
    ok "the job ends"
else
    not_ok "the job ends"
    api_diag
fi
check_json "the transfer failed (the test driver has no peer-to-peer migration) and it rolled back" \
    '.phase == "rolled-back" and .failed_phase == "transfer" and .error.code == "libvirt-error" and (.error.message | test("p2p|support"))'
check_json "preflight, quiesce, pause and the save verification ran and ended well, in order" \
    '[.phases[] | select(.outcome == "ok") | .phase] == ["preflight","quiesce-devices","pause-vcpus","verify-its-save","rollback"]'
check_json "the save was verified from the QEMU log (no error), the verdict kept" \
    '.its_save.checked == true and .its_save.method == "qemu-log" and .its_save.errors == [] and .verdict.allowed == true and .destination_hostname == "hostB"'
# Before detaching anything, the job wrote its record into the live metadata,
# to travel with the guest: the destination acts only for this job, only for
# the peer whose token gives this MAC, and attaches only devices listed there.
want_mac=$(printf 'itsmig-migration:%s:%s' "$UUID" "$ID" |
    openssl dgst -sha256 -hmac "$(cat "$T/token-b")" | awk '{print $NF}')
vsh metadata g1 urn:itsmig:migration:1 --live
if grep -q "<migration job=\"$ID\" peer-mac=\"$want_mac\"" "$T/virsh.out"; then
    ok "the migration record in g1's live metadata names the job and the MAC under b's token"
else
    not_ok "the migration record in g1's live metadata names the job and the MAC under b's token" \
        "want job $ID mac $want_mac" "$(cat "$T/virsh.out")"
fi
check_json "rollback resumed the guest; the destination never had it" \
    '.rollback.resumed == true and .facts.source == "running" and .facts.destination == "absent" and .attention == null'
is "$(domstate)" running "g1 runs on A again"
if [ -s "$T/state-a/jobs/$ID.json" ] && jq -e '.finished == true and .phase == "rolled-back"' \
    "$T/state-a/jobs/$ID.json" >/dev/null; then
    ok "the journal holds the finished record"
else
    not_ok "the journal holds the finished record"
fi
api GET /v1/migrations
check_json "GET /v1/migrations lists it" ".migrations[0].id == \"$ID\""
api DELETE "/v1/migrations/$ID"
check_error "aborting an ended job: 409 conflict" 409 conflict
api DELETE /v1/migrations/nosuch
check_error "aborting an unknown job: 404" 404 not-found
if grep -q "migration $ID" "$ITSMIGD_LOG" && grep -q "rolled back" "$ITSMIGD_LOG"; then
    ok "the log tells the job's story"
else
    not_ok "the log tells the job's story"
    diag_file "$ITSMIGD_LOG" 20
fi
tagged "every line of the log that names the job carries its ITSMIG_JOB field" "$ID" "$ID"
tagged "... and so does the transfer's, which names only the destination" \
    'migration: transfer to .* begins' "$ID"

# ---- a verdict with blockers ----------------------------------------------------------

migrate '{"domain":"g1","destination":"c","mode":"live"}'
check_status "a job to C is accepted" 202
ID=$(jbody .id)
wait_job "$ID"
check_json "C lacks the guest's ITS ABI revision: blocked at preflight, nothing touched" \
    '.phase == "rolled-back" and .error.code == "blocked" and (.error.message | test("its-abi-unsupported")) and (.phases[] | select(.phase == "preflight") | .outcome) == "blocked" and .verdict.allowed == false and .rollback.resumed == true'
is "$(domstate)" running "g1 still runs"

# ---- one job per domain -------------------------------------------------------------

migrate '{"domain":"g1","destination":"hang"}'
check_status "a job to a peer that hangs is accepted" 202
HANG=$(jbody .id)
migrate '{"domain":"g1","destination":"b"}'
check_error "a second job for the same domain: 409 conflict" 409 conflict
if grep -q "$HANG" "$T/api.body"; then ok "the conflict names the job under way"; else not_ok "the conflict names the job under way"; api_diag; fi
wait_job "$HANG" 20
check_json "the hanging peer times out the preflight; rolled back" \
    '.phase == "rolled-back" and .error.code == "peer-timeout"'

# A destination whose reply has members of the wrong types: a clear error,
# and no GLib critical in the log.
migrate '{"domain":"g1","destination":"wrong"}'
check_status "a job to a peer that answers with the wrong JSON types is accepted" 202
WRONG=$(jbody .id)
wait_job "$WRONG" 20
check_json "its reply is refused as a peer-error naming the member; rolled back" \
    '.phase == "rolled-back" and .error.code == "peer-error" and (.error.message | test("\"present\" is not a boolean"))'
if grep -Eq 'CRITICAL|critical|assertion' "$ITSMIGD_LOG"; then
    not_ok "no GLib critical in A's log" "$(grep -E 'CRITICAL|critical|assertion' "$ITSMIGD_LOG" | head -3)"
else
    ok "no GLib critical in A's log"
fi
is "$(domstate)" running "g1 still runs"

# ---- a destination that answers 503 (its libvirt connection is being made again) ------------

# Always 503: asked again for about 10 s, then the job ends with its own code.
migrate '{"domain":"g1","destination":"unavail"}'
UNAVAIL=$(jbody .id)
wait_job "$UNAVAIL" 30
check_json "a destination that always answers 503: peer-unavailable, rolled back" \
    '.phase == "rolled-back" and .failed_phase == "preflight" and .error.code == "peer-unavailable" and (.error.message | test("HTTP 503"))'
check_json "... after asking again for about 10 s, not at once" \
    '(.phases[] | select(.phase == "preflight") | .duration_ms) >= 8000'
# 503 for its first 2 s, then ready: the job gets past the preflight (the
# transfer then fails, as this test driver cannot migrate).
migrate '{"domain":"g1","destination":"restart"}'
RESTART=$(jbody .id)
wait_job "$RESTART" 30
check_json "a destination that answers 503 for 2 s, then is ready: the preflight passes" \
    '.phase == "rolled-back" and .failed_phase == "transfer" and .error.code == "libvirt-error" and (.phases[] | select(.phase == "preflight") | .outcome) == "ok"'
is "$(domstate)" running "g1 still runs"

# ---- bad requests ----------------------------------------------------------------------

bad_request() { # DESC BODY STATUS CODE
    migrate "$2"
    check_error "$1" "$3" "$4"
}
bad_request "an unknown member: 400" '{"domain":"g1","destination":"b","speed":1}' 400 invalid-argument
bad_request "an unknown mode: 400" '{"domain":"g1","destination":"b","mode":"fast"}' 400 invalid-argument
bad_request "a negative timeout: 400" '{"domain":"g1","destination":"b","options":{"phase_timeout":-1}}' 400 invalid-argument
bad_request "an unknown option: 400" '{"domain":"g1","destination":"b","options":{"turbo":true}}' 400 invalid-argument
bad_request "a detach alias that is not one: 400" '{"domain":"g1","destination":"b","options":{"detach":["a b"]}}' 400 invalid-argument
bad_request "an unknown peer: 404" '{"domain":"g1","destination":"zz"}' 404 unknown-peer
bad_request "an unknown domain: 404" '{"domain":"nope","destination":"b"}' 404 not-found
bad_request "no domain: 400" '{"destination":"b"}' 400 invalid-argument
migrate '{"domain":"g1","destination":"b","options":{"detach":["hostdev9"]}}'
ID=$(jbody .id)
wait_job "$ID"
check_json "detaching a device the domain does not have fails the preflight, named" \
    '.phase == "rolled-back" and .error.code == "invalid-argument" and (.error.message | test("hostdev9"))'

# ---- fault injection: the test build only ---------------------------------------------------

# run_a_fault START-OPTION...: A as the test build, which has the fault points.
run_a_fault() {
    _itsmigd=$ITSMIGD
    ITSMIGD=$builddir/tests/itsmigd-fault
    run_a "$@"
    ITSMIGD=$_itsmigd
}

stop_itsmigd
run_a --env ITSMIGD_FAULT=before:preflight
migrate '{"domain":"g1","destination":"b"}'
ID=$(jbody .id)
if wait_job "$ID" && pid_alive "$ITSMIGD_PID"; then
    ok "the daemon ignores ITSMIGD_FAULT: it did not die before the preflight"
else
    not_ok "the daemon ignores ITSMIGD_FAULT: it did not die before the preflight"
fi
grep -q "ITSMIGD_FAULT ignored: fault injection is only in the test build" "$ITSMIGD_LOG" &&
    ok "... and says so in its log" || not_ok "... and says so in its log" "$(head -5 "$ITSMIGD_LOG")"

# ---- QEMU reports a failed ITS save -------------------------------------------------------

stop_itsmigd
run_a_fault --env ITSMIGD_FAULT=after:suspend-source:stop
migrate '{"domain":"g1","destination":"b"}'
ID=$(jbody .id)
if wait_for "[ \"\$(ps -o stat= -p $ITSMIGD_PID | cut -c1)\" = T ]" 15; then
    ok "itsmigd stops itself right after pausing the vCPUs (fault injection)"
else
    not_ok "itsmigd stops itself right after pausing the vCPUs (fault injection)"
fi
is "$(domstate)" paused "g1 is paused"
# What QEMU writes when KVM_DEV_ARM_ITS_SAVE_TABLES fails with -EACCES (GICv4.0).
echo "2026-11-21T10:15:02.123456Z qemu-system-aarch64: KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Permission denied" >>"$T/qemu-logs/g1.log"
kill -CONT "$ITSMIGD_PID"
wait_job "$ID"
check_json "the save error fails VERIFY_ITS_SAVE; rolled back" \
    '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-failed"'
check_json "the evidence keeps QEMU's line" \
    '.its_save.checked == true and (.its_save.errors[0] | test("its-save: .*Permission denied")) and (.its_save.lines | length) == 1'
is "$(domstate)" running "g1 runs again"

# ---- killed at every step boundary up to the transfer ----------------------------------------

for action in preflight suspend-source verify-its-save migrate; do
    for point in before after reported; do
        stop_itsmigd
        run_a_fault --env "ITSMIGD_FAULT=$point:$action"
        migrate '{"domain":"g1","destination":"b"}'
        ID=$(jbody .id)
        if ! wait_for "! pid_alive $ITSMIGD_PID" 20; then
            not_ok "killed $point $action: itsmigd died at the injected point"
            continue
        fi
        forget_itsmigd
        run_a
        if wait_job "$ID" && [ "$(jbody '.phase == "rolled-back" and .recovered == true and .error != null')" = true ] &&
            [ "$(domstate)" = running ]; then
            ok "killed $point $action: after the restart the job is rolled back and g1 runs on A"
        else
            not_ok "killed $point $action: after the restart the job is rolled back and g1 runs on A"
            api_diag
            diag "g1: $(domstate)"
            diag_file "$ITSMIGD_LOG" 15
        fi
        use_itsmigd b
        api GET "/v1/incoming/$UUID"
        use_itsmigd a
        if [ "$(jbody '.present')" != false ]; then
            not_ok "killed $point $action: B has no copy"
            api_diag
        fi
    done
done
if grep -q "reconciled after a restart" "$ITSMIGD_LOG"; then
    ok "the reconciliation is logged"
else
    not_ok "the reconciliation is logged"
fi
tagged "... with the job's ITSMIG_JOB field, as each line about it since the restart" "$ID" "$ID"

# ---- a corrupt record -----------------------------------------------------------------------

stop_itsmigd
printf '{"id":"broken","phase":' >"$T/state-a/jobs/broken.json"
run_a
if ls "$T/state-a/jobs/corrupt/" | grep -q '^broken.json' && grep -q "broken.json" "$ITSMIGD_LOG"; then
    ok "a truncated journal record is set aside, logged, and the daemon runs"
else
    not_ok "a truncated journal record is set aside, logged, and the daemon runs"
    diag_file "$ITSMIGD_LOG" 10
fi
# (The journal loader's own line names the file, not a job.)
tagged "... the salvaged job's lines carry its ITSMIG_JOB field" "migration broken" "broken"
# Nothing in it says the job had finished: it is listed, needing attention.
wait_job broken
check_json "... and what little it holds is a job needing attention" \
    '.phase == "failed-needs-attention" and .error.code == "journal-unreadable"'
api GET /v1/migrations
check_json "the earlier jobs are back from the journal" '(.migrations | length) >= 19'

done_testing
