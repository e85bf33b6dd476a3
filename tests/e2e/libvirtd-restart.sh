#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): libvirtd killed (SIGKILL) and restarted during a job
# (found by tests/e2e/chaos.sh).
#
#   - The source's libvirtd, while the rollback of an aborted transfer is about to resume the
#     guest: the step took its connection before the restart (a fault point stalls it there),
#     failed on the dead handle, and the job needed attention with the guest left paused,
#     although a new connection would have worked.  It now runs again on a new connection.
#   - The destination's libvirtd, during the transfer: the destination's itsmigd answers 503
#     until it is connected again (within 2.5 s of libvirtd answering, on a loaded bed), and
#     the job asks again rather than end at the first 503.
#
# Each time the guest ends on exactly one host, running, with its interrupts rising, and the
# job done or rolled back.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
# The test build: only it has the fault points ITSMIGD_FAULT arms.
ITSMIGD=$builddir/tests/itsmigd-fault
. "$srcdir/tests/e2e/bed.sh"

# job_until_transfer: a safe job of g1 from A to B whose transfer is slowed, until it is
# transferring; its id in $ID.
job_until_transfer() {
    use_itsmigd a
    api POST /v1/migrations -H 'Content-Type: application/json' \
        -d '{"domain":"g1","destination":"b","options":{"bandwidth":8}}'
    ID=$(jbody .id)
    [ "$API_STATUS" = 202 ] || { api_diag; bail "cannot start a job"; }
    if ! wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .phase)\" = transfer ] || [ \"\$(jbody .finished)\" = true ]" 60 ||
        [ "$(jbody .phase)" != transfer ]; then
        api_diag
        bail "the job did not reach the transfer"
    fi
}
job_end() {
    use_itsmigd a
    wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 120 || api_diag
}

bed_up
bed_itsmigd a --set migration.phase-timeout=60 --env ITSMIGD_FAULT=stall:resume-source:8
bed_itsmigd b
bed_guest a g1

# ---- the source's libvirtd, under the rollback's resume-source ---------------------------

job_until_transfer
api DELETE "/v1/migrations/$ID"
check_status "the transfer is aborted: 202" 202
if wait_for "grep -q 'resume-source stalls' '$ITSMIGD_LOG'" 60; then
    ok "the rollback's resume-source has taken its connection (fault injection)"
else
    not_ok "the rollback's resume-source has taken its connection (fault injection)"
    diag_file "$ITSMIGD_LOG" 20
fi
bed_kill_libvirtd a KILL
bed_restart_libvirtd a
job_end
check_json "hostA's libvirtd restarted under resume-source: the job rolls back, nothing for a person" \
    '.phase == "rolled-back" and .error.code == "aborted" and .attention == null and .rollback.resumed == true'
if grep -q "migration $ID: resume-source failed on a connection to libvirt that has died since" "$ITSMIGD_LOG"; then
    ok "the log says resume-source ran again on a new connection"
else
    not_ok "the log says resume-source ran again on a new connection"
    diag_file "$ITSMIGD_LOG" 20
fi
bed_invariants "hostA's libvirtd restarted under resume-source" g1 a

# ---- the destination's libvirtd, during the transfer ------------------------------------------

use_itsmigd a
stop_itsmigd
bed_itsmigd a --set migration.phase-timeout=60
job_until_transfer
bed_kill_libvirtd b KILL
sleep 3
bed_restart_libvirtd b
up_ms=$(now_ms)
use_itsmigd b
wait_for 'api GET /v1/health; [ "$(jbody .libvirt.connected)" = true ]' 30
took=$(($(now_ms) - up_ms))
if [ "$(jbody .libvirt.connected)" = true ] && [ "$took" -le 2500 ]; then
    ok "hostB's itsmigd is connected again within 2.5 s of its libvirtd answering ($took ms)"
else
    not_ok "hostB's itsmigd is connected again within 2.5 s of its libvirtd answering" "$took ms"
fi
job_end
cp "$T/api.body" "$T/job2.json"
case $(jbody .phase) in
done) HERE=b ;;
rolled-back) HERE=a ;;
*) HERE= ;;
esac
if [ -n "$HERE" ] && [ "$(jbody .attention)" = null ]; then
    ok "hostB's libvirtd killed during the transfer: the job ends $(jbody .phase), nothing for a person"
else
    not_ok "hostB's libvirtd killed during the transfer: the job ends done or rolled-back" \
        "$(jbody '"\(.phase) \(.error.code // "") \(.attention // "")"')"
    HERE=a
fi
bed_invariants "hostB's libvirtd killed during the transfer" g1 "$HERE"

done_testing
