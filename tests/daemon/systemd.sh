#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigd as a systemd service, without systemd: notify-listener stands in
# for NOTIFY_SOCKET and systemd-socket-activate for the .socket unit.
#   - READY=1 only once libvirt is connected (the daemon starts while the
#     private libvirtd is not running), STATUS= lines before and after;
#   - WATCHDOG=1 every half of WATCHDOG_USEC, and none when WATCHDOG_PID
#     names another process;
#   - SIGHUP: RELOADING=1, then READY=1; reloadable keys applied, the others
#     reported as needing a restart;
#   - SIGTERM: STOPPING=1 and exit status 0;
#   - socket activation: the API on the socket it was given;
#   - the exit statuses of the command line (0, 2 for bad usage or config).

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd systemd-socket-activate
require_daemon
require_helper "$NOTIFY_LISTENER"

# lines_after N: the notifications after the first N lines, without the times.
lines_after() {
    tail -n "+$(($1 + 1))" "$NOTIFY_OUT" | cut -d' ' -f2-
}

notify_lines() {
    wc -l <"$NOTIFY_OUT" | tr -d ' '
}

# ---- started while libvirtd is down -------------------------------------------------------

start_notify_listener
start_itsmigd --name main --no-wait --env "NOTIFY_SOCKET=$NOTIFY_SOCK" --watchdog-usec 2000000
if wait_for 'itsmigd_answers' 20; then
    ok "the API answers GET /v1/health while libvirt is not reachable"
else
    not_ok "the API answers GET /v1/health while libvirt is not reachable"
    diag_file "$ITSMIGD_LOG"
fi
mode=$(stat -c %a "$ITSMIGD_SOCK" 2>/dev/null)
is "$mode" 660 "the API socket has the default socket-mode 0660"

sleep 2.5
if notified '^READY=1$'; then
    not_ok "no READY=1 while libvirt is not connected" "$(cat "$NOTIFY_OUT")"
else
    ok "no READY=1 while libvirt is not connected"
fi
if notified '^STATUS=libvirt disconnected from .*; retry in [0-9]+ s; [0-9]+ domains known$'; then
    ok "STATUS=libvirt disconnected from URI: why; retry in N s; N domains known"
else
    not_ok "STATUS=libvirt disconnected from URI: why; retry in N s; N domains known"
    diag_file "$NOTIFY_OUT" 20
fi
if notified '^WATCHDOG=1$'; then
    ok "WATCHDOG=1 is sent while libvirt is not connected"
else
    not_ok "WATCHDOG=1 is sent while libvirt is not connected"
fi

before_libvirtd=$(notify_lines)
start_libvirtd
if wait_for 'lines_after "$before_libvirtd" | grep -qx "READY=1"' 8; then
    ok "READY=1 once libvirtd is up (reconnect-max is 4 s)"
else
    not_ok "READY=1 once libvirtd is up (reconnect-max is 4 s)"
    diag_file "$NOTIFY_OUT" 20
    diag_file "$ITSMIGD_LOG" 20
fi
if lines_after "$before_libvirtd" |
    grep -Eq '^STATUS=libvirt connected to .+; [0-9]+ domains?; [0-9]+ events?$'; then
    ok "STATUS=libvirt connected to URI; N domains; M events"
else
    not_ok "STATUS=libvirt connected to URI; N domains; M events"
    diag_file "$NOTIFY_OUT" 20
fi
n_ready=$(cut -d' ' -f2- "$NOTIFY_OUT" | grep -cx 'READY=1')
is "$n_ready" 1 "READY=1 was sent once"

# ---- the watchdog ----------------------------------------------------------------------

sleep 3
# Intervals between consecutive WATCHDOG=1 over the whole run (about 8 s).
intervals=$(awk '$2 == "WATCHDOG=1" { if (n++) printf "%.3f\n", $1 - prev; prev = $1 }' "$NOTIFY_OUT")
n_wd=$(grep -c ' WATCHDOG=1$' "$NOTIFY_OUT")
median=$(printf '%s\n' "$intervals" | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
max=$(printf '%s\n' "$intervals" | sed '/^$/d' | sort -n | tail -n 1)
# shellcheck disable=SC2086
if [ "$n_wd" -ge 5 ] && awk -v m="${median:-0}" 'BEGIN { exit !(m >= 0.7 && m <= 1.3) }'; then
    ok "WATCHDOG=1 about every second with WATCHDOG_USEC=2000000 ($n_wd pings, median ${median} s)"
else
    not_ok "WATCHDOG=1 about every second with WATCHDOG_USEC=2000000" \
        "pings: $n_wd, median interval: '${median}', intervals: $(printf "%s " $intervals)"
fi
if awk -v m="${max:-9}" 'BEGIN { exit !(m < 1.9) }'; then
    ok "no gap between WATCHDOG=1 reaches the 2 s timeout (longest ${max} s)"
else
    not_ok "no gap between WATCHDOG=1 reaches the 2 s timeout" "longest: '${max}'"
fi

# ---- SIGHUP ------------------------------------------------------------------------------

# A reloadable key (history-size) and one that needs a restart (max-body).
sed -i -e '/^\[libvirt\]$/a history-size = 2' -e '/^\[api\]$/a max-body = 2000' "$ITSMIGD_CONF"
before_hup=$(notify_lines)
kill -HUP "$ITSMIGD_PID"
if wait_for 'lines_after "$before_hup" | grep -qx "READY=1"' 5 &&
    lines_after "$before_hup" | awk '$0 == "RELOADING=1" { r = NR } $0 == "READY=1" && r && !done { ok = 1; done = 1 }
        END { exit !ok }'; then
    ok "SIGHUP: RELOADING=1, then READY=1"
else
    not_ok "SIGHUP: RELOADING=1, then READY=1" "after SIGHUP: $(lines_after "$before_hup" | grep -v WATCHDOG | tr '\n' ' ')"
fi
if pid_alive "$ITSMIGD_PID" && itsmigd_answers; then
    ok "the daemon still runs and answers after SIGHUP"
else
    not_ok "the daemon still runs and answers after SIGHUP"
fi
if grep -qi 'restart' "$ITSMIGD_LOG"; then
    ok "SIGHUP: a changed max-body is logged as needing a restart"
else
    not_ok "SIGHUP: a changed max-body is logged as needing a restart"
    diag_file "$ITSMIGD_LOG" 15
fi
api PUT /v1/log -H 'Content-Type: application/json' --data-binary "{\"level\":\"$(printf 'x%.0s' $(seq 1 3000))\"}"
if [ "$API_STATUS" != 413 ]; then
    ok "... and kept: a 3 kB body is not refused as too large ($API_STATUS)"
else
    not_ok "... and kept: a 3 kB body is not refused as too large"
    api_diag
fi
for i in 1 2; do
    vsh suspend test
    vsh resume test
done
if wait_for 'api GET /v1/domains/test; [ "$(jbody ".history | length")" = 2 ]' 5; then
    ok "SIGHUP applied history-size = 2: the history of test holds 2 entries"
else
    not_ok "SIGHUP applied history-size = 2: the history of test holds 2 entries"
    api_diag
fi

# A reload with a bad value keeps the running configuration and the daemon.
sed -i -e 's/^reconnect-min = .*/reconnect-min = 0/' "$ITSMIGD_CONF"
before_hup=$(notify_lines)
kill -HUP "$ITSMIGD_PID"
if wait_for 'lines_after "$before_hup" | grep -qx "READY=1"' 5 && pid_alive "$ITSMIGD_PID" &&
    itsmigd_answers; then
    ok "SIGHUP with reconnect-min = 0 in the file: READY=1 again, still answering"
else
    not_ok "SIGHUP with reconnect-min = 0 in the file: READY=1 again, still answering" \
        "after SIGHUP: $(lines_after "$before_hup" | grep -v WATCHDOG | tr '\n' ' ')"
fi
if grep -q 'reconnect-min' "$ITSMIGD_LOG"; then
    ok "... and the log names the bad key"
else
    not_ok "... and the log names the bad key"
    diag_file "$ITSMIGD_LOG" 5
fi

# ---- SIGTERM ------------------------------------------------------------------------------

before_term=$(notify_lines)
stop_itsmigd TERM
is "$STOP_STATUS" 0 "SIGTERM: exit status 0"
if lines_after "$before_term" | grep -qx 'STOPPING=1'; then
    ok "SIGTERM: STOPPING=1"
else
    not_ok "SIGTERM: STOPPING=1" "after SIGTERM: $(lines_after "$before_term" | tr '\n' ' ')"
fi
if [ -e "$ITSMIGD_DIR/api.sock" ]; then
    not_ok "the API socket it created is removed on exit"
else
    ok "the API socket it created is removed on exit"
fi

# ---- socket activation ---------------------------------------------------------------------

before_act=$(notify_lines)
# WATCHDOG_PID=1 is not the daemon: sd_watchdog_enabled() must say no.
start_itsmigd --name act --socket-activate \
    --env "NOTIFY_SOCKET=$NOTIFY_SOCK" --env WATCHDOG_USEC=2000000 --env WATCHDOG_PID=1
ok "socket activation: GET /v1/health answers on the socket systemd-socket-activate bound"
api GET /v1/domains
check_json "socket activation: GET /v1/domains lists test" '[.domains[].name] == ["test"]'
if [ -e "$ITSMIGD_DIR/api.sock" ]; then
    not_ok "socket activation: the configured socket path is not created"
else
    ok "socket activation: the configured socket path is not created"
fi
# Leave out what systemd-socket-activate itself says on the same stderr.
daemon_log_lines() {
    grep -Ev '^(Listening on |Communication attempt on |Execing )' "$ITSMIGD_LOG"
}
if daemon_log_lines | grep -Eiq 'systemd|socket.activat|LISTEN_FDS'; then
    ok "socket activation: the log says the socket came from systemd"
    diag "$(daemon_log_lines | grep -Ei 'systemd|socket.activat|LISTEN_FDS' | head -n 1)"
else
    not_ok "socket activation: the log says the socket came from systemd"
    diag_file "$ITSMIGD_LOG" 15
fi
wait_for 'lines_after "$before_act" | grep -qx "READY=1"' 5
sleep 2.5
if lines_after "$before_act" | grep -qx 'READY=1' &&
    ! lines_after "$before_act" | grep -qx 'WATCHDOG=1'; then
    ok "WATCHDOG_PID of another process: READY=1 but no WATCHDOG=1 in 2.5 s"
else
    not_ok "WATCHDOG_PID of another process: READY=1 but no WATCHDOG=1 in 2.5 s" \
        "$(lines_after "$before_act" | tr '\n' ' ')"
fi
stop_itsmigd TERM
is "$STOP_STATUS" 0 "socket activation: SIGTERM, exit status 0"
if [ -S "$ITSMIGD_DIR/activate.sock" ]; then
    ok "socket activation: the daemon leaves systemd's socket file alone"
else
    not_ok "socket activation: the daemon leaves systemd's socket file alone"
fi

# ---- the command line -------------------------------------------------------------------------
# Under timeout: a daemon that took bad input and ran on would hang the test.

timeout 10 "$ITSMIGD" --version >"$T/version.out" 2>&1
st=$?
if [ $st = 0 ] && grep -q '0\.1\.0' "$T/version.out"; then
    ok "--version: status 0, prints 0.1.0"
else
    not_ok "--version: status 0, prints 0.1.0" "status $st: $(head -c 200 "$T/version.out")"
fi
timeout 10 "$ITSMIGD" --help >"$T/help.out" 2>&1
is "$?" 0 "--help: status 0"
timeout 10 "$ITSMIGD" --no-such-option >"$T/bad.out" 2>&1
is "$?" 2 "an unknown option: status 2"
timeout 10 "$ITSMIGD" --config "$T/does-not-exist.conf" >"$T/bad.out" 2>&1
is "$?" 2 "--config naming a missing file: status 2"
printf '[libvirt]\nreconnect-min = 0\n' >"$T/bad.conf"
timeout 10 "$ITSMIGD" --config "$T/bad.conf" --socket "$T/bad.sock" --state-dir "$T" >"$T/bad.out" 2>&1
st=$?
if [ $st = 2 ] && grep -q 'reconnect-min' "$T/bad.out"; then
    ok "reconnect-min = 0: status 2, the message names the key"
else
    not_ok "reconnect-min = 0: status 2, the message names the key" \
        "status $st: $(head -c 300 "$T/bad.out")"
fi
printf '[api]\nmax-body = 12abc\n' >"$T/bad.conf"
timeout 10 "$ITSMIGD" --config "$T/bad.conf" --socket "$T/bad.sock" --state-dir "$T" >"$T/bad.out" 2>&1
st=$?
if [ $st = 2 ] && grep -q 'max-body' "$T/bad.out"; then
    ok "max-body = 12abc: status 2, the message names the key"
else
    not_ok "max-body = 12abc: status 2, the message names the key" \
        "status $st: $(head -c 300 "$T/bad.out")"
fi

stop_notify_listener
stop_libvirtd
done_testing
