#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigd losing and regaining libvirt: while the private libvirtd is down the
# API says so (503 libvirt-unavailable, health connected false with a next
# retry) and the daemon tries again every reconnect-min (1 s) for the first
# 30 s after the loss, however large reconnect-max (30 here); once libvirtd
# is back (killed with SIGKILL) it reconnects within 2 s, rebuilds the registry and publishes the
# changes it missed as reconstructed lifecycle events, and registers for
# events again.
#
# Two daemons run against the same libvirtd:
#   "file"    a test-driver node read from $T/node.xml; each connection has a
#             private copy, so the changes "made while the daemon was away"
#             are edits of the file between stopping and restarting libvirtd;
#   "default" test:///default, shared with virsh, which the restart resets
#             (test running again, extra gone), and on which a suspend after
#             the reconnect shows that events were registered again.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd
require_daemon

# write_node NAME:STATE...: the test-driver node file, STATE one of running,
# paused, shutoff.  Each name keeps the same UUID across rewrites.
write_node() {
    {
        echo "<node>"
        for _d in "$@"; do
            _n=${_d%%:*}
            case ${_d#*:} in
            running) _rs=1 ;;
            paused) _rs=3 ;;
            shutoff) _rs=5 ;;
            esac
            _u=$(printf '%s' "$_n" | md5sum | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)\(.\{12\}\).*/\1-\2-\3-\4-\5/')
            cat <<EOF
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>$_n</name>
    <uuid>$_u</uuid>
    <memory unit='MiB'>64</memory>
    <os><type arch='i686'>hvm</type></os>
    <test:runstate>$_rs</test:runstate>
  </domain>
EOF
        done
        echo "</node>"
    } >"$T/node.xml"
}

# states: "name=state ..." of GET /v1/domains, by name.
states() {
    api GET /v1/domains
    [ "$API_STATUS" = 200 ] || { echo "status $API_STATUS"; return; }
    jbody '[.domains[] | "\(.name)=\(.state)"] | join(" ")'
}

# reconstructed STREAM: "domain:event" of the reconstructed lifecycle events, sorted.
reconstructed() {
    events_parse "$1"
    events_jq "$1" '[.[] | select(.event == "lifecycle" and .data.reconstructed == true)
                     | "\(.data.domain):\(.data.event)"] | sort | join(" ")'
}

write_node alpha:running beta:shutoff gamma:running
FILE_URI=$(libvirt_file_uri "$T/node.xml")

start_libvirtd
start_notify_listener
start_itsmigd --name file --uri "$FILE_URI" --env "NOTIFY_SOCKET=$NOTIFY_SOCK" \
    --set libvirt.reconnect-max=30
# Its declared capabilities contradict themselves (a default revision it
# does not support): said once, not at every reconnection.
start_itsmigd --name default --uri "$LIBVIRT_URI" --set host.its-abi-revisions=0 \
    --set host.default-its-abi-revision=1

# ---- before --------------------------------------------------------------------------

use_itsmigd file
is "$(states)" "alpha=running beta=shutoff gamma=running" \
    "file node: /v1/domains lists alpha running, beta shut off, gamma running"

use_itsmigd default
cat >"$T/extra.xml" <<'EOF'
<domain type='test'>
  <name>extra</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='i686'>hvm</type></os>
</domain>
EOF
vsh define "$T/extra.xml"
vsh suspend test
if wait_for '[ "$(states)" = "extra=shutoff test=paused" ]' 5; then
    ok "default node: extra defined and test paused with virsh"
else
    not_ok "default node: extra defined and test paused with virsh" "got: $(states)"
fi

use_itsmigd file
events_start f
use_itsmigd default
events_start d
sleep 0.5

# ---- libvirtd goes away ----------------------------------------------------------------

notify_before_down=$(wc -l <"$NOTIFY_OUT")
stop_libvirtd KILL
down_ms=$(now_ms)
use_itsmigd file
if wait_for 'api GET /v1/domains; [ "$API_STATUS" = 503 ]' 10; then
    ok "libvirtd stopped: GET /v1/domains answers 503 within $(( ($(now_ms) - down_ms) / 1000 )) s"
else
    not_ok "libvirtd stopped: GET /v1/domains answers 503"
    api_diag
fi
check_error "GET /v1/domains while disconnected: 503 libvirt-unavailable" 503 libvirt-unavailable

api GET /v1/health
check_status "GET /v1/health still answers 200 while disconnected" 200
check_json "health: degraded, connected false, a next retry in seconds, no reconnect yet" \
    '.status == "degraded" and .libvirt.connected == false
     and (.libvirt.next_retry_s | type == "number" and . >= 0 and . <= 1)
     and .libvirt.reconnects == 0'

api GET /v1/domains/alpha
if [ "$API_STATUS" = 503 ] || [ "$API_STATUS" = 200 ]; then
    ok "GET /v1/domains/alpha while disconnected: 503, or the last known state ($API_STATUS)"
else
    not_ok "GET /v1/domains/alpha while disconnected: 503, or the last known state"
    api_diag
fi

# The changes libvirt will show when it is back.
write_node alpha:paused gamma:shutoff delta:running

# Attempts about 1 s apart: the sixth delay is scheduled ~6 s after the loss
# (with a doubling back-off it would be ~31 s).
delays() {
    sed -n 's/.*next connection attempt to .* in \([0-9][0-9]*\) s.*/\1/p' "$ITSMIGD_LOG" |
        tr '\n' ' ' | sed 's/ $//'
}
wait_for '[ "$(delays | wc -w)" -ge 6 ]' 10
got=$(delays)
case "$got " in
"1 1 1 1 1 1 "*) ok "the log shows attempts every reconnect-min (1 s) after the loss: $got" ;;
*) not_ok "the log shows attempts every reconnect-min (1 s) after the loss: 1 1 1 1 1 1" "got: '$got'"
   diag_file "$ITSMIGD_LOG" 30 ;;
esac
# STATUS= is refreshed while waiting and says the time left until the next
# attempt; it never exceeds reconnect-min here, and reaches it.
# (The wording of the line is checked in systemd.sh.)
status_delays=$(tail -n "+$((notify_before_down + 1))" "$NOTIFY_OUT" |
    sed -n 's/^[0-9.]* STATUS=libvirt disconnected.*retry in \([0-9][0-9]*\) *s\b.*$/\1/p' |
    tr '\n' ' ' | sed 's/ $//')
# shellcheck disable=SC2086
if [ -n "$status_delays" ] && printf '%s\n' $status_delays | awk '$1 > 1 { bad = 1 } $1 == 1 { one = 1 }
        END { exit !(one && !bad) }'; then
    ok "STATUS= while disconnected says retry in N s, N up to reconnect-min: $status_delays"
else
    not_ok "STATUS= while disconnected says retry in N s, N up to reconnect-min (1)" "got: '$status_delays'"
    diag_file "$NOTIFY_OUT" 20
fi
metrics_fetch
failures=$(metric_sum '^itsmigd_libvirt_connect_failures_total')
if [ -n "$failures" ] && [ "$failures" -ge 3 ]; then
    ok "/metrics counts the failed connection attempts ($failures)"
else
    not_ok "/metrics counts the failed connection attempts (>= 3)" "got '$failures'"
fi
api GET /v1/health
check_json "health: next_retry_s not above reconnect-min (1) within 30 s of the loss" \
    '.libvirt.next_retry_s | type == "number" and . <= 1'

# ---- libvirtd is back ---------------------------------------------------------------------

start_libvirtd
up_ms=$(now_ms)
wait_for 'api GET /v1/health; [ "$(jbody .libvirt.connected)" = true ]' 8
took=$(($(now_ms) - up_ms))
if [ "$(jbody .libvirt.connected)" = true ] && [ "$took" -le 2000 ]; then
    ok "libvirtd back: the file daemon reconnects within 2 s ($took ms)"
else
    not_ok "libvirtd back: the file daemon reconnects within 2 s" \
        "after $took ms, down for $((up_ms - down_ms)) ms"
    api_diag
    diag_file "$ITSMIGD_LOG" 20
fi
check_json "health: ok, connected, reconnects 1, no next retry" \
    '.status == "ok" and .libvirt.connected == true and .libvirt.reconnects == 1
     and .libvirt.next_retry_s == null'
metrics_fetch
is "$(metric_sum '^itsmigd_libvirt_reconnects_total')" 1 "/metrics: itsmigd_libvirt_reconnects_total 1"

is "$(states)" "alpha=paused delta=running gamma=shutoff" \
    "/v1/domains shows the node as edited: alpha paused, delta new and running, gamma off, beta gone"

last_history() {
    api GET "/v1/domains/$1"
    jbody '.history[-1] | "\(.type) \(.reconstructed)"'
}
is "$(last_history alpha)" "suspended true" "alpha's history ends with a reconstructed 'suspended'"
is "$(last_history gamma)" "stopped true" "gamma's history ends with a reconstructed 'stopped'"
api GET /v1/domains/delta
check_json "delta's history holds reconstructed 'defined' and 'started'" \
    '[.history[] | select(.reconstructed) | .type] | (index("defined") != null and index("started") != null)'
api GET /v1/domains/beta
check_error "beta, removed while away, is 404 not-found" 404 not-found
use_itsmigd default
wait_for 'api GET /v1/health; [ "$(jbody .libvirt.reconnects)" = 1 ]' 8
is "$(grep -c 'capabilities contradict themselves' "$ITSMIGD_LOG")" 1 \
    "the default daemon's self-contradicting capabilities are logged once, not again after the reconnection"

want="alpha:suspended beta:undefined delta:defined delta:started gamma:stopped"
if wait_for '[ "$(reconstructed f)" = "$want" ]' 5; then
    ok "/v1/events has the reconstructed events: $want"
else
    not_ok "/v1/events has the reconstructed events: $want" "got: $(reconstructed f)"
fi
if events_true f '[.[] | select(.event == "connection") | .data.connected] as $c
        | ($c | index(false)) != null and ($c | rindex(true)) > ($c | index(false))'; then
    ok "/v1/events has 'connection' events: connected false, then true"
else
    not_ok "/v1/events has 'connection' events: connected false, then true" \
        "$(events_jq f '[.[] | select(.event == "connection") | .data | tojson] | join(" ")')"
fi
if events_true f '[.[] | select(.event == "lifecycle" and .data.reconstructed)
                   | .data | (.time | type == "string") and (.uuid | type == "string")] | all'; then
    ok "reconstructed events carry time and uuid"
else
    not_ok "reconstructed events carry time and uuid"
fi
if wait_for 'notified "^STATUS=libvirt connected to .*; 3 domains; [0-9]+ events"' 5; then
    ok "STATUS= says 'libvirt connected to URI; 3 domains; M events' after the reconnect"
else
    not_ok "STATUS= says 'libvirt connected to URI; 3 domains; M events' after the reconnect"
    diag_file "$NOTIFY_OUT" 10
fi

# ---- the shared default node: reset by the restart, events registered again --------------

use_itsmigd default
if wait_for 'api GET /v1/health; [ "$(jbody .libvirt.reconnects)" = 1 ] &&
        [ "$(jbody .libvirt.connected)" = true ]' 8; then
    ok "the default daemon reconnects too (reconnects 1)"
else
    not_ok "the default daemon reconnects too (reconnects 1)"
    api_diag
fi
is "$(states)" "test=running" "default node after the restart: test running, extra gone"
want="extra:undefined test:resumed"
if wait_for '[ "$(reconstructed d)" = "$want" ]' 5; then
    ok "its stream has the reconstructed events: $want"
else
    not_ok "its stream has the reconstructed events: $want" "got: $(reconstructed d)"
fi

vsh suspend test
if events_wait d '[.[] | select(.event == "lifecycle" and .data.reconstructed == false
                   and .data.domain == "test" and .data.event == "suspended")] | length == 1' 5
then
    ok "a suspend after the reconnect arrives as a live event: events are registered again"
else
    not_ok "a suspend after the reconnect arrives as a live event: events are registered again" \
        "$(events_jq d '[.[] | "\(.id):\(.event):\(.data.domain // ""):\(.data.event // "")"] | join(" ")')"
fi
if wait_for '[ "$(states)" = "test=paused" ]' 5; then
    ok "... and the registry follows it (test paused)"
else
    not_ok "... and the registry follows it (test paused)" "got: $(states)"
fi
if events_true d '[.[].id] as $i | [range(1; $i | length) | $i[.] > $i[. - 1]] | all'; then
    ok "event ids keep increasing across the reconnect"
else
    not_ok "event ids keep increasing across the reconnect" \
        "$(events_jq d '[.[].id] | map(tostring) | join(" ")')"
fi

# ---- shutdown ---------------------------------------------------------------------------

events_stop f
events_stop d
for d in file default; do
    use_itsmigd "$d"
    stop_itsmigd TERM
    if [ "$STOP_STATUS" = 0 ]; then
        ok "SIGTERM: the $d daemon exits with status 0"
    else
        not_ok "SIGTERM: the $d daemon exits with status 0" "status $STOP_STATUS"
        diag_file "$ITSMIGD_LOG" 20
    fi
done
stop_notify_listener
stop_libvirtd

done_testing
