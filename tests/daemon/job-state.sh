#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A job's record and the guest's state, with itsmigd on a private libvirtd (test driver,
# host A) and a second itsmigd (host B, libvirt's in-process test driver):
#
#  - the job reports how long the guest was paused, and phase durations;
#  - preflight refuses, before pausing, a destination holding another domain of the same name;
#  - a transient guest's job says so;
#  - a full disk under the journal (a small tmpfs in this test's own mount namespace): the job
#    says so in /v1/migrations and the log, its record is written once space returns, and a
#    restart with the record behind says what the journal showed rather than a false cause;
#  - a record whose wall-clock end is before its start is reconciled, not set aside;
#  - a record that cannot be read whole, even one cut short, becomes a listed job needing
#    attention.
#
# Runs as root (mount namespace and tmpfs).

if [ -z "${ITSMIG_JOB_STATE_NS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    ITSMIG_JOB_STATE_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl dd truncate mount umount /usr/bin/python3
require_daemon
[ -n "${ITSMIG_JOB_STATE_NS:-}" ] || skip_all "needs root and unshare -m for a private tmpfs"

base=$((20000 + ($$ + 11) % 20000))
port_b=$base

tls_peer_files

host_sets() { # HOSTNAME
    its_host_sets "$1" 0,1 1
    echo "--set policy.check-emulated=true"
}

# B: the destination, on libvirt's in-process test driver, which holds a domain 'test'.
start_itsmigd --name b --uri test:///default $(host_sets hostB) $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"

start_libvirtd
mkfifo "$T/hold"
virsh -q -c "$LIBVIRT_URI" <"$T/hold" >/dev/null 2>&1 &
track_pid $!
exec 9>"$T/hold"
mkdir -p "$T/qemu-logs" "$T/state-a"
# A's state directory: a tmpfs of its own, visible only in this test's mount namespace.
mount -t tmpfs -o size=1m,mode=0700 itsmig-test "$T/state-a" || bail "cannot mount a tmpfs"
run_a() {
    # shellcheck disable=SC2046
    start_itsmigd --name a $(host_sets hostA) --set "daemon.state-dir=$T/state-a" \
        --set "migration.qemu-log-dir=$T/qemu-logs" --set migration.phase-timeout=20 \
        --set migration.qemu-log-mark=false \
        --set peers.timeout=3 --set peers.connect-timeout=2 \
        --set "peer b.url=https://127.0.0.1:$port_b" --set "peer b.ca=$T/cert.pem" \
        --set "peer b.token-file=$T/token-b" --set "peer b.migrate-uri=test:///default" "$@"
}
run_a

test_domain_xml g1 0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a11 >"$T/g1.xml"
echo "define $T/g1.xml" >&9
echo "start g1" >&9
wait_for 'vsh domstate g1 && grep -q running "$T/virsh.out"' 10 || bail "cannot start g1"
: >"$T/qemu-logs/g1.log"
use_itsmigd a
wait_for 'api GET /v1/domains/g1; [ "$API_STATUS" = 200 ]' 10 || bail "A does not know g1"

migrate() { # BODY
    api POST /v1/migrations -H 'Content-Type: application/json' -d "$1"
}
wait_job() { # ID [S]
    wait_for "api GET /v1/migrations/$1; [ \"\$(jbody .finished)\" = true ]" "${2:-40}"
}
domstate() { # DOMAIN
    vsh domstate "$1" && head -n 1 "$T/virsh.out"
}

# ---- the guest's paused time; phase durations ----------------------------------------------

# The transfer fails (this driver has no peer-to-peer migration): the guest was paused from
# PAUSE_VCPUS until the rollback resumed it.
migrate '{"domain":"g1","destination":"b"}'
ID1=$(jbody .id)
wait_job "$ID1" || api_diag
check_json "a safe job that paused the guest reports how long it was paused" \
    '.phase == "rolled-back" and .failed_phase == "transfer" and (.progress.paused_ms | type) == "number" and .progress.paused_ms >= 0'
check_json "every phase that ended has a duration, none negative" \
    '[.phases[] | select(.ended_at != null) | .duration_ms | type == "number" and . >= 0] | all'
check_json "a persistent domain's job is not transient; the journal holds the record" \
    '.transient == false and .journal.behind == false and .journal.failures == 0'
is "$(domstate g1)" running "g1 runs on A again"
"$builddir/client/itsmigctl" job "$ID1" --socket "$ITSMIGD_SOCK" >"$T/ctl.out" 2>"$T/ctl.err"
if grep -Eq '^Guest paused: [0-9]+ ms$' "$T/ctl.out"; then
    ok "itsmigctl job prints the guest's paused time"
else
    not_ok "itsmigctl job prints the guest's paused time"
    diag_file "$T/ctl.out" 30
    diag_file "$T/ctl.err" 5
fi

# ---- a different domain of the same name on the destination -----------------------------

# A's 'test' (the test driver's default domain) has the same UUID as B's: replace it on A by
# another domain named 'test', so that only the name is the same.
vsh destroy test >/dev/null 2>&1
vsh undefine test || bail "cannot undefine A's default domain"
sed -e 's/<name>g1</<name>test</' -e 's/2f6f1c3e9a11/2f6f1c3e9a12/' "$T/g1.xml" >"$T/test.xml"
echo "define $T/test.xml" >&9
echo "start test" >&9
wait_for 'vsh domstate test && grep -q running "$T/virsh.out"' 10 || bail "cannot start A's test"
: >"$T/qemu-logs/test.log"
wait_for 'api GET /v1/domains/test; [ "$API_STATUS" = 200 ] && [ "$(jbody .uuid)" = 0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a12 ]' 10 ||
    bail "A does not know its new 'test'"
migrate '{"domain":"test","destination":"b"}'
ID=$(jbody .id)
wait_job "$ID" || api_diag
check_json "preflight refuses a destination that holds another domain of that name, named" \
    '.phase == "rolled-back" and .failed_phase == "preflight" and .error.code == "conflict" and (.error.message | test("another domain named .test."))'
check_json "... before anything was paused" \
    '[.phases[] | select(.phase == "pause-vcpus" or .phase == "transfer") | .started_at] == [null, null]'
is "$(domstate test)" running "A's 'test' never stopped running"

# ---- a transient guest -------------------------------------------------------------------------

sed -e 's/<name>g1</<name>t1</' -e 's/2f6f1c3e9a11/2f6f1c3e9a13/' "$T/g1.xml" >"$T/t1.xml"
echo "create $T/t1.xml" >&9
wait_for 'vsh domstate t1 && grep -q running "$T/virsh.out"' 10 || bail "cannot create t1"
: >"$T/qemu-logs/t1.log"
wait_for 'api GET /v1/domains/t1; [ "$API_STATUS" = 200 ]' 10 || bail "A does not know t1"
migrate '{"domain":"t1","destination":"b"}'
ID=$(jbody .id)
wait_job "$ID" || api_diag
check_json "a transient domain's job says it is transient" '.transient == true'

# ---- a full disk under the journal -------------------------------------------------------------

# fill_but PAGES: fills A's tmpfs but PAGES pages (4 KiB).
fill_but() {
    rm -f "$T/state-a/fill"
    dd if=/dev/zero of="$T/state-a/fill" bs=4096 2>/dev/null
    truncate -s "-$(($1 * 4096))" "$T/state-a/fill"
}
# One page: room for the new job's first record, none for the next.
fill_but 1
migrate '{"domain":"g1","destination":"b"}'
check_status "a job is accepted while its first record fits" 202
ID2=$(jbody .id)
wait_job "$ID2" || api_diag
check_json "a step the journal cannot record is not taken: the job rolls back, saying why" \
    '.phase == "rolled-back" and .error.code == "journal-error" and (.error.message | test("space"))'
check_json "/v1/migrations says the journal is behind the job, and why" \
    '.journal.behind == true and .journal.failures >= 1 and (.journal.last_error | test("No space left"))'
if grep -q "migration $ID2: the journal could not record the job" "$ITSMIGD_LOG"; then
    ok "the log says the journal could not record the job"
else
    not_ok "the log says the journal could not record the job"
    diag_file "$ITSMIGD_LOG" 20
fi
is "$(jq -r .phase "$T/state-a/jobs/$ID2.json")" preflight "the journal still holds the first record"
is "$(domstate g1)" running "g1 runs on A"

# Space returns: the record catches up (itsmigd tries again, backing off to 30 s at most).
rm -f "$T/state-a/fill"
if wait_for "jq -e '.phase == \"rolled-back\" and .journal.behind == false and .journal.failures >= 1' '$T/state-a/jobs/$ID2.json' >/dev/null 2>&1" 45; then
    ok "once space returns the journal gets the job's last state, with its failed writes"
else
    not_ok "once space returns the journal gets the job's last state, with its failed writes"
    diag_file "$T/state-a/jobs/$ID2.json" 5
fi
grep -q "migration $ID2: the journal records the job again" "$ITSMIGD_LOG" &&
    ok "... and the log says so" || not_ok "... and the log says so"

# The daemon dies while the journal is behind: the restart must not make up a cause.
fill_but 1
migrate '{"domain":"g1","destination":"b"}'
ID3=$(jbody .id)
wait_job "$ID3" || api_diag
check_json "a second job on a full disk rolls back, the journal behind" \
    '.phase == "rolled-back" and .journal.behind == true'
stop_itsmigd KILL
rm -f "$T/state-a/fill"
run_a
wait_job "$ID3" || api_diag
check_json "after a restart the job is reconciled from the older record" \
    '.phase == "rolled-back" and .recovered == true and .error.code == "daemon-restarted"'
check_json "... saying what the journal showed, and when, not that itsmigd stopped there" \
    '(.error.message | test("as its journal last recorded it \\(at [0-9]{4}-")) and (.error.message | test("stopped during") | not)'
api GET "/v1/migrations/$ID2"
check_json "the job whose record caught up is not reconciled again" \
    '.phase == "rolled-back" and .recovered == false and .error.code == "journal-error"'
is "$(domstate g1)" running "g1 runs on A"

# ---- records that cannot be read as written ----------------------------------------------------

stop_itsmigd
# From the first job's record: one in VERIFY_ITS_SAVE, the guest paused, as a crash leaves it.
unfinished() { # ID
    jq -c --arg id "$1" '.id = $id | .phase = "verify-its-save" | .finished = false
        | .finished_at = null | .failed_phase = null | .error = null | .attention = null
        | .pending = {"action": "verify-its-save", "device": null}
        | .facts = {"source": "paused", "destination": "absent", "transfer_active": false}
        | .rollback = {"aborted": false, "destroyed": false, "resumed": false}
        | .progress.paused_ms = null
        | .phases |= map(if (.phase | IN("preflight", "quiesce-devices", "pause-vcpus")) then .
            else .started_at = null | .ended_at = null | .duration_ms = null | .outcome = null end)
        | .phases |= map(select(.phase != "rollback"))' "$T/state-a/jobs/$ID1.json"
}
# The wall clock stepped back an hour during PAUSE_VCPUS.
unfinished back | jq -c '.phases |= map(if .phase == "pause-vcpus"
    then .ended_at = "2001-01-01T00:00:00.000000Z" else . end)' >"$T/state-a/jobs/back.json"
# One member of the wrong type.
unfinished garbled | jq -c '.progress = "garbled"' >"$T/state-a/jobs/garbled.json"
# Cut short: not JSON at all; and a finished one, cut short too.
printf '{"id":"cut","domain":"g1","uuid":"0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a11","source":"hostA","destination":"b","mode":"safe","options":{"phase_timeout":20},"phase":"transfer","finished":false,"phases":[{"phase":' \
    >"$T/state-a/jobs/cut.json"
printf '{"id":"cutdone","domain":"g1","phase":"done","finished":true,"phases":[' \
    >"$T/state-a/jobs/cutdone.json"
vsh suspend g1
run_a
wait_job back || api_diag
check_json "a record with an end before its start is read and reconciled: rolled back" \
    '.phase == "rolled-back" and .recovered == true'
ls "$T/state-a/jobs/corrupt/" 2>/dev/null | grep -q '^back.json' &&
    not_ok "... not set aside" || ok "... not set aside"
api GET /v1/migrations/garbled
check_status "a record that cannot be read whole is still a job" 200
wait_job garbled || api_diag
check_json "it needs attention, with what could be read and where the guest is" \
    '.phase == "failed-needs-attention" and .recovered == true and .error.code == "journal-unreadable" and .domain == "g1" and (.attention | test("progress")) and (.attention | test("verify-its-save")) and (.attention | test("g1. (runs|is paused) on hostA"))'
ls "$T/state-a/jobs/corrupt/" 2>/dev/null | grep -q '^garbled.json' &&
    ok "... the original record is kept aside" || not_ok "... the original record is kept aside"
wait_job cut || api_diag
check_json "a record cut short is still a job: it needs attention, with what could be found in it" \
    '.phase == "failed-needs-attention" and .error.code == "journal-unreadable" and .domain == "g1" and .uuid == "0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a11" and (.attention | test("not a JSON object")) and (.attention | test("showed it in transfer"))'
api GET /v1/migrations/cutdone
check_status "a finished record cut short is set aside, not made a job" 404
api GET /v1/migrations
check_json "all three are listed" '[.migrations[].id] | (index("back") != null and index("garbled") != null and index("cut") != null)'
is "$(domstate g1)" running "g1 runs on A once"

stop_itsmigd
umount "$T/state-a"
done_testing
