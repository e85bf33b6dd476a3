#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): the destination's itsmigd stalls (SIGSTOP) for 12 s
# just as the job asks it to plug the guest's non-migratable device back in (found by
# tests/e2e/chaos.sh).  The transfer is done, so there is no going back: the source asks
# again with back-off within the phase's time, and the job ends done with the device plugged
# in on the destination, rather than needing attention at the first unanswered request.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
# The test build: only it has the fault points ITSMIGD_FAULT arms.
ITSMIGD=$builddir/tests/itsmigd-fault
. "$srcdir/tests/e2e/bed.sh"

bed_up
# Stopped (SIGSTOP) by itself right after resume-dest, before it asks for the device.
bed_itsmigd a --set "policy.non-migratable-devices=ua-scratch*" --set migration.phase-timeout=60 \
    --env ITSMIGD_FAULT=after:resume-dest:stop
bed_itsmigd b --set "policy.non-migratable-devices=ua-scratch*"
B_PID=$ITSMIGD_PID
bed_guest a g1 "$BED_SCRATCH_DEVICE"

use_itsmigd a
api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g1","destination":"b"}'
ID=$(jbody .id)
[ "$API_STATUS" = 202 ] || { api_diag; bail "cannot start a job"; }
if wait_for "[ \"\$(ps -o stat= -p $ITSMIGD_PID | cut -c1)\" = T ]" 120; then
    ok "the source's itsmigd stops itself right after resume-dest (fault injection)"
else
    not_ok "the source's itsmigd stops itself right after resume-dest (fault injection)"
    diag_file "$ITSMIGD_LOG" 20
fi

kill -STOP "$B_PID"
kill -CONT "$ITSMIGD_PID"
# Longer than a request's 5 s limit: the first attach request goes unanswered.
sleep 12
kill -CONT "$B_PID"
wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 120 || api_diag
check_json "with the destination's itsmigd stalled for 12 s, the job ends done" \
    '.phase == "done" and .error == null and .attention == null'
check_json "... with the device plugged in on the destination" \
    '[.devices[] | .state] == ["on-destination"] and ([.phases[] | select(.phase == "restore-devices") | .outcome] == ["ok"])'
if grep -q "migration $ID: the destination's itsmigd does not answer .*asking it to attach again" "$ITSMIGD_LOG"; then
    ok "the log says the source asked again"
else
    not_ok "the log says the source asked again"
    diag_file "$ITSMIGD_LOG" 20
fi
bed_invariants "destination's itsmigd stalled at restore-devices" g1 b ua-scratch0
check "... and the guest sees the device on its PCI bus" bed_guest_sees_scratch g1 hostB

done_testing
