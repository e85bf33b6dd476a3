#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): the source's journal fills up once the transfer has
# completed (found by tests/e2e/chaos.sh).  The source copy is gone then, so there is no
# rollback to protect: a full disk must not leave the guest paused on the destination for a
# person.  The job goes on unjournaled, verifies and resumes the guest there and plugs its
# device back in, ends done with a note and the journal behind; once space returns, the
# journal holds the job's end.  (A full disk before the transfer still stops the job, which
# rolls back: tests/daemon/job-state.sh.)

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
# The test build: only it has the fault points ITSMIGD_FAULT arms.
ITSMIGD=$builddir/tests/itsmigd-fault
. "$srcdir/tests/e2e/bed.sh"

bed_up
bed_state_tmpfs a 4
# Stopped (SIGSTOP) right after the transfer, before it records the transfer's end.
bed_itsmigd a --set "policy.non-migratable-devices=ua-scratch*" --set migration.phase-timeout=60 \
    --env ITSMIGD_FAULT=after:migrate:stop
bed_itsmigd b --set "policy.non-migratable-devices=ua-scratch*"
bed_guest a g1 "$BED_SCRATCH_DEVICE"

use_itsmigd a
api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g1","destination":"b"}'
ID=$(jbody .id)
[ "$API_STATUS" = 202 ] || { api_diag; bail "cannot start a job"; }
if wait_for "[ \"\$(ps -o stat= -p $ITSMIGD_PID | cut -c1)\" = T ]" 120; then
    ok "itsmigd stops itself right after the transfer (fault injection)"
else
    not_ok "itsmigd stops itself right after the transfer (fault injection)"
    diag_file "$ITSMIGD_LOG" 20
fi
is "$(bed_domstate b g1)" paused "g1 has arrived paused on hostB"
is "$(bed_domstate a g1)" absent "... and has left hostA"

bed_state_fill a
kill -CONT "$ITSMIGD_PID"
wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 120 || api_diag
check_json "with the journal full after the transfer, the job goes on and ends done" \
    '.phase == "done" and .error == null and .attention == null'
check_json "... verifying the destination and resuming the guest there" \
    '[.phases[] | select(.phase == "verify-dest" or .phase == "resume-dest" or .phase == "restore-devices") | .outcome] == ["ok","ok","ok"]'
check_json "... with a note that the journal could not record the steps, and why" \
    'any(.notes[]; test("journal could not record verify-dest") and test("No space left"))'
check_json "... and the journal behind, as /v1/migrations says" \
    '.journal.behind == true and .journal.failures >= 1'
if grep -q "migration $ID: verify-dest runs unjournaled" "$ITSMIGD_LOG"; then
    ok "the log says the step ran unjournaled"
else
    not_ok "the log says the step ran unjournaled"
    diag_file "$ITSMIGD_LOG" 20
fi
bed_invariants "journal full after the transfer" g1 b ua-scratch0

# Space returns: the record catches up (itsmigd tries again, backing off to 30 s at most).
bed_state_free a
if wait_for "bed_in a cat '$T/ha/state/jobs/$ID.json' 2>/dev/null | jq -e '.phase == \"done\" and .journal.behind == false' >/dev/null" 60; then
    ok "once space returns the journal holds the job's end"
else
    not_ok "once space returns the journal holds the job's end"
    bed_in a cat "$T/ha/state/jobs/$ID.json" | head -c 400
fi

done_testing
