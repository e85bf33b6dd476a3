#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A rollback that could not ask the destination whether it holds a copy, after the job was
# aborted: the destination's itsmigd answers 503 (its libvirt connection being made again)
# from the transfer on, and its libvirt cannot be reached either.  The job needs attention
# ("could not be asked whether a paused copy...") and is looked at again once the
# destination answers: it holds nothing, the guest runs on the source as before, so the job
# ends rolled back.  The abort must not cut the rollback's wait for the destination short,
# nor end the look-again loop: before, the job stayed needing attention for ever.
#
# Host A is a test-driver node read from a file through the private libvirtd; the
# destination is a fake peer (tests/daemon/fake-peer.py, "gated") that answers 503 while
# a file exists; its migrate-uri is a port nothing listens on, so the transfer fails and
# libvirt there cannot say where the guest is.  The test build's "stall:migrate" fault point
# holds the transfer long enough to close the gate and abort the job.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl /usr/bin/python3
require_daemon

base=$((20000 + ($$ + 13) % 20000))
port_gated=$base
port_dead=$((base + 1))
UUID=6e1d3b5f-8c2a-4d4a-9f73-1b0a4c8d2e35

test_node_xml "$UUID" 1 >"$T/node.xml"

tls_peer_files
/usr/bin/python3 "$srcdir/tests/daemon/fake-peer.py" gated "$port_gated" "$T/cert.pem" \
    "$T/key.pem" "$T/fake-gated.pid" >"$T/fake-gated.log" 2>&1 &
track_pid $!
wait_for "[ -s '$T/fake-gated.pid' ]" 10 || bail "the gated peer did not start"

start_node_source "$port_gated" "qemu+tcp://127.0.0.1:$port_dead/system" stall:migrate:4 \
    --set migration.phase-timeout=60

api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g1","destination":"b"}'
check_status "a job is accepted" 202
ID=$(jbody .id)
if wait_for "grep -q 'migrate stalls' '$ITSMIGD_LOG'" 30; then
    ok "the transfer has taken its connection"
else
    not_ok "the transfer has taken its connection"
    diag_file "$ITSMIGD_LOG" 20
fi
: >"$T/fake-gated.pid.unready"
api DELETE "/v1/migrations/$ID"
check_status "the job is aborted during the transfer" 202
if wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 60; then
    ok "the job ends"
else
    not_ok "the job ends"
fi
check_json "the rollback could not ask the destination: the job says so, the guest resumed" \
    '.phase == "failed-needs-attention" and .rollback.dest_unasked == true and (.attention | test("could not be asked whether")) and .facts.source == "running"'
# The look at the destination before the rollback waits for it, an abort or not.
if grep -q "migration $ID: .*HTTP 503.*; asking again in" "$ITSMIGD_LOG"; then
    ok "the rollback asked the destination again while it answered 503"
else
    not_ok "the rollback asked the destination again while it answered 503"
    diag_file "$ITSMIGD_LOG" 30
fi

rm -f "$T/fake-gated.pid.unready"
# The look-again loop asks after 1, 2, 4... s.
if wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .phase)\" = rolled-back ]" 40; then
    ok "once the destination answers (it holds nothing), the job ends rolled back"
else
    not_ok "once the destination answers (it holds nothing), the job ends rolled back"
    api_diag
    diag_file "$ITSMIGD_LOG" 20
fi
check_json "... with nothing for a person, the abort as its cause" \
    '.attention == null and .rollback.dest_unasked == false and .error.code == "aborted"'
check "... and the log says the destination answered again" \
    grep -q "migration $ID: the destination answers again (the domain is absent there); the job is rolled-back" "$ITSMIGD_LOG"
api GET /v1/domains/g1
check_json "g1 runs on A" '.state == "running"'

done_testing
