#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): itsmigd restarts on hostB while a
# slow "virsh migrate" brings g1 there.  libvirt holds the incoming domain's
# job lock until the migration ends, and writes metadata only under it: the
# restart must not wait for it (it used to, 30 s per incoming guest), GET
# /v1/domains shows the record waiting, and once the migration has ended the
# record is written, naming hostB.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
. "$srcdir/tests/e2e/bed.sh"

bed_up
bed_itsmigd a
bed_itsmigd b
bed_guest a g1

# At 1 MiB/s the transfer takes long enough to restart itsmigd beside it;
# the speed is raised afterwards to end it.
bed_in a virsh -q -c qemu:///system migrate --live --p2p --persistent --undefinesource \
    --bandwidth 1 g1 qemu+tcp://10.77.0.2/system >"$T/vmigrate.out" 2>"$T/vmigrate.err" &
MIGRATE_PID=$!
track_pid "$MIGRATE_PID"

incoming() {
    [ "$(bed_domstate b g1)" = paused ] &&
        bed_in a virsh -q -c qemu:///system domjobinfo g1 2>/dev/null | grep -q Unbounded
}
if wait_for incoming 60; then
    ok "g1 is arriving on hostB (paused there, the job under way on hostA)"
else
    not_ok "g1 is arriving on hostB (paused there, the job under way on hostA)"
    diag_file "$T/vmigrate.err" 5
fi

use_itsmigd b
stop_itsmigd
t0=$(now_ms)
bed_itsmigd b --no-wait-connected
if wait_for 'itsmigd_connected' 90; then
    took=$(($(now_ms) - t0))
else
    took=-1
fi
still=no
incoming && still=yes
if [ "$took" -ge 0 ] && [ "$took" -lt 10000 ]; then
    ok "restarted during the incoming migration, hostB's itsmigd is connected in ${took} ms"
else
    not_ok "restarted during the incoming migration, hostB's itsmigd is connected in ${took} ms (want < 10000)"
    diag_file "$ITSMIGD_LOG" 20
fi
is "$still" yes "the migration is still under way then"

api GET /v1/domains
check_json "GET /v1/domains shows g1's record waiting for the migration" \
    '.domains[] | select(.name == "g1") | .record_write.state == "pending" and .record_write.cause == "found running" and (.record_write.reason | test("migration|job"))'
api GET /v1/domains/g1
check_json "... and so does GET /v1/domains/g1, whose record still names hostA" \
    '.record_write.state == "pending" and .profile.its_metadata.host.name == "hostA"'

bed_virsh a migrate-setspeed g1 --bandwidth 8000 ||
    diag "cannot raise the migration's speed"
reap_pid "$MIGRATE_PID" 180
is "$STOP_STATUS" 0 "virsh migrate of g1 to hostB succeeds"
[ "$STOP_STATUS" = 0 ] || diag_file "$T/vmigrate.err" 5
is "$(bed_domstate b g1)" running "g1 runs on hostB"

if wait_for 'api GET /v1/domains/g1 &&
    [ "$(jbody ".record_write == null and .profile.its_metadata.host.name == \"hostB\"")" = true ]' 30; then
    ok "once the migration has ended, hostB writes g1's record: it names hostB, nothing waits"
else
    not_ok "once the migration has ended, hostB writes g1's record: it names hostB, nothing waits"
    api_diag
    diag_file "$ITSMIGD_LOG" 20
fi
bed_virsh b metadata g1 urn:itsmig:domain:1 --live
if grep -q 'name="hostB"' "$T/virsh.out"; then
    ok "libvirt holds the record naming hostB"
else
    not_ok "libvirt holds the record naming hostB"
    diag_file "$T/virsh.out" 5
fi
if grep -q "itsmig record after found running waits" "$ITSMIGD_LOG"; then
    ok "the log says the record waited"
else
    not_ok "the log says the record waited"
    diag_file "$ITSMIGD_LOG" 20
fi
check "g1's ITS-MSI interrupts keep rising on hostB" bed_irq_rises g1 hostB

done_testing
