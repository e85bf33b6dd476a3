#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The main loop, the migration workers and their libvirt connections, with
# the test build's fault points (tests/itsmigd-fault) on host A (a private
# libvirtd with the test driver) migrating to host B (itsmigd over HTTPS):
#  - the journal's write of a step hangs (as a stuck fsync) while libvirtd
#    restarts: the API and the main loop (the watchdog it feeds, the
#    reconnection) keep answering, and the job's next steps run on the new
#    connection, not on the dead one, to an ordinary rollback;
#  - itsmigd is stopped while a step is still inside libvirt: it exits
#    without touching freed memory (valgrind), leaving the job to the
#    journal, and the next start finishes it;
#  - one job's journal write hangs: another job is still accepted at once
#    (its first record is written meanwhile), and both end.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl valgrind /usr/bin/python3
require_daemon
require_helper "$builddir/tests/itsmigd-fault"

port_b=$((20000 + ($$ + 11) % 20000))
tls_peer_files

host_sets() { # HOSTNAME
    its_host_sets "$1" 0,1 1
    echo "--set policy.check-emulated=true"
}

# shellcheck disable=SC2046
start_itsmigd --name b --uri test:///default $(host_sets hostB) $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"

mkdir -p "$T/qemu-logs" "$T/state-a"
: >"$T/qemu-logs/g1.log"
test_domain_xml g1 0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a02 >"$T/g1.xml"

# libvirt_up: the private libvirtd with g1 running, its state held by an open
# connection (the test driver forgets it when the last client leaves).
libvirt_up() {
    start_libvirtd
    rm -f "$T/hold"
    mkfifo "$T/hold"
    virsh -q -c "$LIBVIRT_URI" <"$T/hold" >/dev/null 2>&1 &
    HOLD_PID=$!
    track_pid "$HOLD_PID"
    exec 9>"$T/hold"
    echo "define $T/g1.xml" >&9
    echo "start g1" >&9
    wait_for 'vsh domstate g1 && grep -q running "$T/virsh.out"' 10 || bail "cannot start g1"
}
libvirt_down() {
    exec 9>&-
    stop_pid "$HOLD_PID" TERM 5
    stop_libvirtd
}
libvirt_up

# run_a [START-OPTION...]: A, the test build, its journal kept across restarts.
run_a() {
    _itsmigd=$ITSMIGD
    ITSMIGD=${A_BIN:-$builddir/tests/itsmigd-fault}
    # shellcheck disable=SC2046
    start_itsmigd --name a $(host_sets hostA) --set "daemon.state-dir=$T/state-a" \
        --set "migration.qemu-log-dir=$T/qemu-logs" --set migration.phase-timeout=60 \
        --set migration.qemu-log-mark=false \
        --set peers.timeout=10 --set peers.connect-timeout=5 \
        --set "peer b.url=https://127.0.0.1:$port_b" --set "peer b.ca=$T/cert.pem" \
        --set "peer b.token-file=$T/token-b" --set "peer b.migrate-uri=test:///default" \
        "$@"
    ITSMIGD=$_itsmigd
}
migrate() {
    api POST /v1/migrations -H 'Content-Type: application/json' \
        -d '{"domain":"g1","destination":"b"}'
}
wait_job() { # ID [TIMEOUT]
    wait_for "api GET /v1/migrations/$1; [ \"\$(jbody .finished)\" = true ]" "${2:-60}"
}
domstate() {
    vsh domstate g1 && head -n 1 "$T/virsh.out"
}
# elapsed_ms COMMAND...: runs it, and prints how long it took.
elapsed_ms() {
    _t0=$(now_ms)
    "$@" >/dev/null 2>&1
    echo $(($(now_ms) - _t0))
}

# ---- a journal write that hangs, and libvirtd restarting meanwhile ------------------

STALL=20
start_notify_listener
run_a --env "ITSMIGD_FAULT=journal:suspend-source:$STALL" --env "NOTIFY_SOCKET=$NOTIFY_SOCK" \
    --watchdog-usec 1000000
wait_for 'api GET /v1/domains/g1; [ "$API_STATUS" = 200 ]' 10 || bail "A does not know g1"
migrate
check_status "a job is accepted" 202
ID=$(jbody .id)
if wait_for 'grep -q "journal write of suspend-source stalls" "$ITSMIGD_LOG"' 30; then
    ok "the journal write that starts the pause hangs (fault injection)"
else
    not_ok "the journal write that starts the pause hangs (fault injection)"
    diag_file "$ITSMIGD_LOG" 20
fi
stall_start=$(now_ms)

ms=$(elapsed_ms curl -s -m 5 --unix-socket "$ITSMIGD_SOCK" http://localhost/v1/migrations)
if [ "$ms" -lt 3000 ]; then
    ok "GET /v1/migrations answers while the journal hangs (${ms} ms)"
else
    not_ok "GET /v1/migrations answers while the journal hangs (${ms} ms, want < 3000)"
fi
ms=$(elapsed_ms curl -s -m 5 --unix-socket "$ITSMIGD_SOCK" http://localhost/v1/health)
if [ "$ms" -lt 3000 ]; then
    ok "GET /v1/health answers while the journal hangs (${ms} ms)"
else
    not_ok "GET /v1/health answers while the journal hangs (${ms} ms, want < 3000)"
fi

# libvirtd restarts (the guest goes on running: the test driver forgets it,
# so it is defined and started again, with the same UUID).
libvirt_down
libvirt_up
if wait_for '[ "$(grep -c "libvirt: connected to" "$ITSMIGD_LOG")" -ge 2 ]' 15; then
    ok "A reconnects to the restarted libvirtd during the hang"
else
    not_ok "A reconnects to the restarted libvirtd during the hang"
    diag_file "$ITSMIGD_LOG" 20
fi
took=$(($(now_ms) - stall_start))
[ "$took" -lt $(((STALL - 4) * 1000)) ] ||
    diag "the reconnection came late (${took} ms into a ${STALL} s hang): the machine is loaded"
from_line=$(wc -l <"$NOTIFY_OUT")

# The main loop, which handles the reconnection, still feeds the watchdog
# until the hang ends.
wait_for 'api GET "/v1/migrations/$ID" && [ "$(jbody .phase)" != pause-vcpus ]' $((STALL + 30))
to_line=$(wc -l <"$NOTIFY_OUT")
gap=$(sed -n "$((from_line + 1)),${to_line}p" "$NOTIFY_OUT" | awk '
    $2 == "WATCHDOG=1" { t = $1 * 1000; if (n && t - last > max) max = t - last; last = t; n++ }
    END { printf "%d %d\n", max, n }')
n_pings=${gap#* }
gap=${gap% *}
if [ "$n_pings" -ge 2 ] && [ "$gap" -lt 3000 ]; then
    ok "the main loop fed the watchdog throughout ($n_pings pings, longest gap ${gap} ms)"
else
    not_ok "the main loop fed the watchdog throughout ($n_pings pings, longest gap ${gap} ms, want < 3000)"
    diag_file "$NOTIFY_OUT" 10
fi

if wait_job "$ID" 90; then
    ok "the job ends"
else
    not_ok "the job ends"
fi
check_json "the pause ran on the new connection; the transfer failed (no p2p in the test driver) and it rolled back" \
    '.phase == "rolled-back" and .failed_phase == "transfer" and .error.code == "libvirt-error" and ([.phases[] | select(.phase == "pause-vcpus") | .outcome] == ["ok"])'
check_json "the rollback resumed the guest; nothing asks for attention" \
    '.rollback.resumed == true and .facts.source == "running" and .attention == null'
is "$(domstate)" running "g1 runs on A"
stop_itsmigd
stop_notify_listener

# ---- stopped while a step is inside libvirt -------------------------------------------

# The step is held until the stop has given up waiting for it (10 s), then
# goes on, using the daemon's objects while main is about to free them.
run_a --valgrind --env ITSMIGD_FAULT=hang:migrate
migrate
check_status "a job is accepted (itsmigd under valgrind)" 202
ID=$(jbody .id)
# Under valgrind on a loaded machine the steps before the transfer take minutes.
if wait_for 'grep -q "migrate waits for a stop to give up" "$ITSMIGD_LOG"' 300; then
    ok "the job reaches the transfer, which hangs (fault injection)"
else
    not_ok "the job reaches the transfer, which hangs (fault injection)"
    diag_file "$ITSMIGD_LOG" 20
fi
t0=$(now_ms)
ITSMIGD_STOP_TIMEOUT=90 stop_itsmigd TERM
took=$(($(now_ms) - t0))
case $STOP_STATUS in
0) ok "SIGTERM: exit status 0 after ${took} ms, valgrind found no invalid access" ;;
99) not_ok "SIGTERM: valgrind found an invalid access (status 99)"
    diag_file "$ITSMIGD_DIR/valgrind.log" 40 ;;
*) not_ok "SIGTERM: exit status $STOP_STATUS (killed: $STOP_KILLED)"
   diag_file "$ITSMIGD_DIR/valgrind.log" 40
   diag_file "$ITSMIGD_LOG" 20 ;;
esac
if grep -q "still under way at exit" "$ITSMIGD_LOG"; then
    ok "the log says a migration was still under way"
else
    not_ok "the log says a migration was still under way"
    diag_file "$ITSMIGD_LOG" 10
fi
if jq -e '.finished == false' "$T/state-a/jobs/$ID.json" >/dev/null 2>&1; then
    ok "the journal keeps the unfinished job ($(jq -r .phase "$T/state-a/jobs/$ID.json"))"
else
    not_ok "the journal keeps the unfinished job"
    diag_file "$T/state-a/jobs/$ID.json" 5
fi
A_BIN=$builddir/daemon/itsmigd run_a
if wait_job "$ID" 60 && [ "$(jbody '.phase == "rolled-back" and .recovered == true')" = true ]; then
    ok "the next start reconciles it: rolled back"
else
    not_ok "the next start reconciles it: rolled back"
    api_diag
fi
wait_for '[ "$(domstate)" = running ]' 10
is "$(domstate)" running "g1 runs on A"
use_itsmigd b
api GET "/v1/incoming/0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a02"
check_json "B has no copy" '.present == false'

# ---- one job's journal write that hangs, and another job -----------------------------

use_itsmigd a
stop_itsmigd TERM
test_domain_xml g2 0b5c1f8e-2a8e-4b52-9d1c-2f6f1c3e9a03 >"$T/g2.xml"
echo "define $T/g2.xml" >&9
echo "start g2" >&9
wait_for 'vsh domstate g2 && grep -q running "$T/virsh.out"' 10 || bail "cannot start g2"
run_a --env "ITSMIGD_FAULT=journal:suspend-source:$STALL"
wait_for 'api GET /v1/domains/g2; [ "$API_STATUS" = 200 ]' 10 || bail "A does not know g2"
migrate
check_status "g1's job is accepted" 202
ID1=$(jbody .id)
wait_for 'grep -q "journal write of suspend-source stalls" "$ITSMIGD_LOG"' 30 ||
    diag_file "$ITSMIGD_LOG" 20
t0=$(now_ms)
api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g2","destination":"b"}'
ms=$(($(now_ms) - t0))
if [ "$API_STATUS" = 202 ] && [ "$ms" -lt 5000 ]; then
    ok "while g1's journal write hangs, g2's job is accepted (${ms} ms)"
else
    not_ok "while g1's journal write hangs, g2's job is accepted" "status $API_STATUS after $ms ms"
    api_diag
fi
ID2=$(jbody .id)
if wait_job "$ID1" 90 && wait_job "$ID2" 90; then
    ok "both jobs end"
else
    not_ok "both jobs end"
    api_diag
fi
wait_for '[ "$(domstate)" = running ] && vsh domstate g2 && grep -q running "$T/virsh.out"' 10 ||
    not_ok "g1 and g2 run on A after the rollbacks"

done_testing
