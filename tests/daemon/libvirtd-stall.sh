#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# libvirt's events are only queued by the main loop; a worker thread makes
# their libvirt calls, in order.  A burst of events reaches itsmigd while the
# private libvirtd is stopped (SIGSTOP), so that every call about them hangs:
#  - the main loop goes on (it counts every event, feeds the watchdog, and
#    GET /v1/health answers within 1 s);
#  - once libvirtd goes on, the events are applied in the order they came:
#    each domain's lifecycle events are published defined, started,
#    suspended, resumed, and the registry ends with every domain running;
#  - the connection stayed up throughout.
# Then a second burst meets a libvirtd that is stopped and killed: the events
# queued on the dead connection are dropped, itsmigd reconnects to the new
# libvirtd (whose test driver starts afresh) and its registry is what that
# libvirtd has; none of the dropped events is published.
# Last, itsmigd is stopped while an event waits for a stopped libvirtd: it
# gives the worker 5 s, then exits without freeing what the worker uses.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd stdbuf
require_daemon

N=12
STALL_S=5

start_libvirtd
start_notify_listener
start_itsmigd --env "NOTIFY_SOCKET=$NOTIFY_SOCK" --watchdog-usec 1000000
events_start burst

sent() {
    grep -c "lifecycle" "$T/virsh-events"
}
counted() {
    metrics_fetch && metric_sum 'itsmigd_libvirt_events_received_total\{type="lifecycle"\}'
}
# watch_start: what libvirtd sends, heard by a second client (virsh event),
# ready once it heard a first event (the test driver's own domain paused and
# resumed); itsmigd has taken in those too.  Sets WATCH_PID, and before (its
# event count) and sent_before (the listener's) from then on.
watch_start() {
    _base=$(counted)
    : >"$T/virsh-events"
    stdbuf -oL virsh -q -c "$LIBVIRT_URI" event --event lifecycle --loop >"$T/virsh-events" 2>&1 &
    WATCH_PID=$!
    track_pid "$WATCH_PID"
    _probes=0
    for _try in 1 2 3 4 5; do
        _probes=$((_probes + 2))
        vsh suspend test && vsh resume test
        wait_for '[ "$(sent)" -ge 2 ]' 2 && break
    done
    [ "$(sent)" -ge 2 ] || bail "virsh event heard nothing"
    sent_before=$(sent)
    before=$((${_base:-0} + _probes))
    wait_for '[ "$(counted)" = "$before" ]' 10 || bail "itsmigd counted $(counted) events, not $before"
}
watch_start

: >"$T/burst.virsh"
i=1
while [ "$i" -le "$N" ]; do
    test_domain_xml "s$i" "$(printf '5ea1ab1e-0000-4000-8000-%012d' "$i")" >"$T/s$i.xml"
    printf 'define %s\nstart s%d\nsuspend s%d\nresume s%d\n' "$T/s$i.xml" "$i" "$i" "$i" \
        >>"$T/burst.virsh"
    i=$((i + 1))
done
want_events=$((N * 4))

# itsmigd is held while the burst happens, so that the events wait in its
# socket and reach it only once libvirtd no longer answers.
kill -STOP "$ITSMIGD_PID"
if virsh -q -c "$LIBVIRT_URI" <"$T/burst.virsh" >"$T/burst.out" 2>&1; then
    ok "virsh: $N domains defined, started, suspended and resumed"
else
    not_ok "virsh: $N domains defined, started, suspended and resumed"
    diag_file "$T/burst.out" 10
fi
if wait_for '[ "$(sent)" -ge $((sent_before + want_events)) ]' 20; then
    ok "libvirtd sent the $want_events lifecycle events"
else
    not_ok "libvirtd sent the $want_events lifecycle events (a listener heard $(($(sent) - sent_before)))"
fi
kill -STOP "$LIBVIRTD_PID"
kill -CONT "$ITSMIGD_PID"
stall_start=$(now_ms)
from_line=$(wc -l <"$NOTIFY_OUT")

# ---- libvirtd stopped ----------------------------------------------------------------

if wait_for '[ "$(counted)" = $((before + want_events)) ]' 4; then
    ok "the main loop took in all $want_events events while libvirtd is stopped"
else
    not_ok "the main loop took in all $want_events events while libvirtd is stopped (counted $(($(counted) - before)))"
fi
t0=$(now_ms)
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' --unix-socket "$ITSMIGD_SOCK" \
    http://localhost/v1/health)
ms=$(($(now_ms) - t0))
if [ "$code" = 200 ] && [ "$ms" -lt 1000 ]; then
    ok "GET /v1/health answers within 1 s while libvirtd is stopped (${ms} ms)"
else
    not_ok "GET /v1/health answers within 1 s while libvirtd is stopped (status $code, ${ms} ms)"
fi
left=$((STALL_S * 1000 - ($(now_ms) - stall_start)))
[ "$left" -gt 0 ] && sleep "$(awk -v ms="$left" 'BEGIN { printf "%.1f", ms / 1000 }')"
to_line=$(wc -l <"$NOTIFY_OUT")
kill -CONT "$LIBVIRTD_PID"

# Watchdog pings every 0.5 s; a main loop waiting for libvirtd sends none.
gap=$(sed -n "$((from_line + 1)),${to_line}p" "$NOTIFY_OUT" | awk '
    $2 == "WATCHDOG=1" { t = $1 * 1000; if (n && t - last > max) max = t - last; last = t; n++ }
    END { printf "%d %d\n", max, n }')
n_pings=${gap#* }
gap=${gap% *}
if [ "$n_pings" -ge 4 ] && [ "$gap" -lt 2500 ]; then
    ok "the main loop fed the watchdog throughout the stall ($n_pings pings, longest gap ${gap} ms)"
else
    not_ok "the main loop fed the watchdog throughout the stall ($n_pings pings, longest gap ${gap} ms, want >= 4 and < 2500)"
    diag_file "$NOTIFY_OUT" 10
fi

# ---- libvirtd answers again -------------------------------------------------------------

# per_domain: "sN:event,event,..." for each domain of the burst, in the order
# the events were published.
per_domain() {
    events_parse burst
    events_jq burst '[.[] | select(.event == "lifecycle") | .data | select(.domain | startswith("s"))]
                     | group_by(.domain) | map("\(.[0].domain):\(map(.event) | join(","))")
                     | sort | join(" ")'
}
want=$(i=1; while [ "$i" -le "$N" ]; do printf 's%d:defined,started,suspended,resumed\n' "$i"; i=$((i + 1)); done |
    sort | tr '\n' ' ' | sed 's/ $//')
if wait_for '[ "$(per_domain)" = "$want" ]' 30; then
    ok "each domain's events are published in the order they came"
else
    not_ok "each domain's events are published in the order they came"
    diag "got:  $(per_domain)"
    diag "want: $want"
fi
running() {
    api GET '/v1/domains?state=running'
    jbody '[.domains[] | select(.name | startswith("s")) | .name] | length'
}
if wait_for '[ "$(running)" = "$N" ]' 10; then
    ok "the registry has the $N domains running"
else
    not_ok "the registry has the $N domains running ($(running))"
    api_diag
fi
api GET /v1/health
check_json "the connection stayed up: connected, no reconnection" \
    '.libvirt.connected == true and .libvirt.reconnects == 0'


# ---- a second burst, and libvirtd killed while it is stopped -------------------------

: >"$T/burst2.virsh"
i=1
while [ "$i" -le "$N" ]; do
    test_domain_xml "t$i" "$(printf '7ea1ab1e-0000-4000-8000-%012d' "$i")" >"$T/t$i.xml"
    printf 'define %s\nstart t%d\nsuspend t%d\nresume t%d\n' "$T/t$i.xml" "$i" "$i" "$i" \
        >>"$T/burst2.virsh"
    i=$((i + 1))
done
sent_before=$(sent)
before=$(counted)
kill -STOP "$ITSMIGD_PID"
virsh -q -c "$LIBVIRT_URI" <"$T/burst2.virsh" >"$T/burst2.out" 2>&1 ||
    diag "virsh (second burst) failed: $(head -n 3 "$T/burst2.out")"
wait_for '[ "$(sent)" -ge $((sent_before + want_events)) ]' 20 ||
    diag "libvirtd sent $(($(sent) - sent_before)) of the second burst's events"
kill -STOP "$LIBVIRTD_PID"
kill -CONT "$ITSMIGD_PID"
if wait_for '[ "$(counted)" -gt "$before" ]' 4; then
    ok "the second burst reaches itsmigd while libvirtd is stopped ($(($(counted) - before)) events)"
else
    not_ok "the second burst reaches itsmigd while libvirtd is stopped"
fi
stop_pid "$WATCH_PID" TERM 5
stop_libvirtd KILL
start_libvirtd
if wait_for 'api GET /v1/health && [ "$(jbody ".libvirt.connected and .libvirt.reconnects == 1")" = true ]' 30; then
    ok "itsmigd reconnects to the new libvirtd"
else
    not_ok "itsmigd reconnects to the new libvirtd"
    api_diag
fi
# The worker may still be on its way through the dropped items.
sleep 2
api GET /v1/domains
is "$(jbody '[.domains[].name] | join(" ")')" "test" \
    "the registry holds what the new libvirtd has: its test domain alone"
events_parse burst
is "$(events_jq burst '[.[] | select(.event == "lifecycle") | .data
                        | select((.domain | startswith("t")) and .domain != "test")] | length')" 0 \
    "none of the events queued on the dead connection is published"
is "$(events_jq burst '[.[] | select(.event == "lifecycle") | .data
                        | select((.domain | startswith("s")) and .reconstructed)
                        | .event] | unique | join(",")')" "stopped,undefined" \
    "the first burst's domains are published as stopped and undefined while disconnected"


# ---- stopped while libvirtd is ---------------------------------------------------------

watch_start
kill -STOP "$ITSMIGD_PID"
vsh suspend test && vsh resume test
wait_for '[ "$(sent)" -ge $((sent_before + 2)) ]' 10 ||
    diag "libvirtd sent $(($(sent) - sent_before)) of the 2 events"
kill -STOP "$LIBVIRTD_PID"
kill -CONT "$ITSMIGD_PID"
wait_for '[ "$(counted)" -ge $((before + 2)) ]' 5 ||
    diag "itsmigd counted $(($(counted) - before)) of the 2 events before its stop"
t0=$(now_ms)
ITSMIGD_STOP_TIMEOUT=20 stop_itsmigd TERM
ms=$(($(now_ms) - t0))
kill -CONT "$LIBVIRTD_PID"
if [ "$STOP_STATUS" = 0 ] && [ "$STOP_KILLED" = no ] && [ "$ms" -lt 12000 ]; then
    ok "SIGTERM while an event waits for libvirtd: exit status 0 after ${ms} ms"
else
    not_ok "SIGTERM while an event waits for libvirtd: exit status 0 (status $STOP_STATUS, killed $STOP_KILLED, ${ms} ms)"
    diag_file "$ITSMIGD_LOG" 10
fi
if grep -q "left to the exit" "$ITSMIGD_LOG"; then
    ok "the log says the event was left to the exit"
else
    not_ok "the log says the event was left to the exit"
    diag_file "$ITSMIGD_LOG" 10
fi

done_testing
