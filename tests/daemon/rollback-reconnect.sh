#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A rollback step on a libvirt connection that dies under it: the source's libvirtd is killed
# (SIGKILL) and restarted after resume-source took its connection (the test build's
# "stall:resume-source" fault point holds the step there).  The step fails on the dead handle;
# it runs again on the new connection, and the job rolls back with the guest running, rather
# than needing attention.
#
# Host A is a test-driver node read from a file through the private libvirtd: each connection
# has a copy of it, so the guest's state after the restart is what the file says (paused, as
# the job left it).  B is a second itsmigd on test:///default, where the transfer fails (the
# test driver has no peer-to-peer migration) and the job rolls back.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl
require_daemon

port_b=$((20000 + ($$ + 11) % 20000))
UUID=5d0c2a4e-7b1f-4c39-8e62-0a9f3b7c1d24

# write_node STATE: the node file with g1 in STATE (1 running, 3 paused).
write_node() {
    test_node_xml "$UUID" "$1" >"$T/node.xml"
}

tls_peer_files
start_itsmigd --name b --uri test:///default $(its_host_sets hostB 0,1 1) $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"

write_node 1
start_node_source "$port_b" test:///default stall:resume-source:4 \
    --set migration.phase-timeout=30

api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g1","destination":"b"}'
check_status "a job is accepted" 202
ID=$(jbody .id)
if wait_for "grep -q 'resume-source stalls' '$ITSMIGD_LOG'" 20; then
    ok "the transfer failed and the rollback's resume-source has taken its connection"
else
    not_ok "the transfer failed and the rollback's resume-source has taken its connection"
    diag_file "$ITSMIGD_LOG" 20
fi
# What libvirt shows after the restart: the guest as the job left it, paused.
stop_libvirtd KILL
write_node 3
start_libvirtd
if wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 40; then
    ok "the job ends"
else
    not_ok "the job ends"
fi
check_json "resume-source ran again on the new connection: rolled back, nothing for a person" \
    '.phase == "rolled-back" and .failed_phase == "transfer" and .rollback.resumed == true and .attention == null and .facts.source == "running"'
if grep -q "migration $ID: resume-source failed on a connection to libvirt that has died since" "$ITSMIGD_LOG"; then
    ok "the log says resume-source ran again on a new connection"
else
    not_ok "the log says resume-source ran again on a new connection"
    diag_file "$ITSMIGD_LOG" 20
fi
VSH_URI=$(libvirt_file_uri "$T/node.xml")
api GET /v1/domains/g1
check_json "g1 runs on A" '.state == "running"'

done_testing
