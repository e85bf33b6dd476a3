#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hostile clients on both transports (issue 16, item 2): TLS connections that
# trickle a header byte every 0.5 s, TCP connections that never start the TLS
# handshake, and an unprivileged local user's trickling unix connections,
# hundreds of each.  A valid peer (from another address) and root on the unix
# socket (as the hook) are still served within 1 s, and every hostile
# connection is cut at [api] request-timeout, however busy it keeps.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl openssl setpriv /usr/bin/python3
require_daemon
require_helper "$HTTP_RAW"
[ "$(id -u)" = 0 ] || skip_all "needs root, to attack the unix socket as another user"

port=$((20000 + ($$ + 13) % 20000))
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || bail "openssl cannot make a certificate"
echo "token-of-peer-a-0123456789" >"$T/token-a"
chmod 600 "$T/key.pem" "$T/token-a"

start_itsmigd --name b --uri test:///default \
    --set "api.listen=127.0.0.1:$port" --set "api.tls-cert=$T/cert.pem" \
    --set "api.tls-key=$T/key.pem" --set "peer a.accept-token-file=$T/token-a" \
    --set api.socket-mode=0666 --set api.request-timeout=3 \
    --set api.max-connections=64 --set api.max-connections-per-user=8 \
    --set api.peer-max-connections=32 --set api.max-connections-per-address=4
# The attacking user must reach the socket.
chmod 711 "$T" "$ITSMIGD_DIR"

SLOW=$srcdir/tests/daemon/slowloris.py
HOLD=8
/usr/bin/python3 "$SLOW" tls 127.0.0.1 "$port" 127.0.0.1 300 "$HOLD" >"$T/tls.out" 2>&1 &
track_pid $!
p_tls=$!
/usr/bin/python3 "$SLOW" stall 127.0.0.1 "$port" 127.0.0.3 100 "$HOLD" >"$T/stall.out" 2>&1 &
track_pid $!
p_stall=$!
setpriv --reuid=65534 --regid=65534 --clear-groups \
    /usr/bin/python3 "$SLOW" unix "$ITSMIGD_SOCK" - - 300 "$HOLD" >"$T/unix.out" 2>&1 &
track_pid $!
p_unix=$!
# 300 TLS handshakes take a while on a loaded machine; the attack is timed from "ready".
wait_for "grep -q ready '$T/tls.out' && grep -q ready '$T/stall.out' && grep -q ready '$T/unix.out'" 120 ||
    bail "the attackers did not get going: $(cat "$T"/tls.out "$T"/stall.out "$T"/unix.out)"
diag "opened: tls $(cat "$T/tls.out"), stalled $(cat "$T/stall.out"), unix $(cat "$T/unix.out")"

# timed DESC WANT-STATUS CURL-ARGS...: the request answered WANT-STATUS in under 1 s.
timed() {
    _d=$1
    _w=$2
    shift 2
    _r=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "$@" 2>/dev/null)
    if [ "${_r% *}" = "$_w" ] && awk -v t="${_r#* }" 'BEGIN { exit !(t < 1.0) }'; then
        ok "$_d ($_r s)"
    else
        not_ok "$_d" "got: $_r"
    fi
}
for i in 1 2 3; do
    timed "under attack, a valid peer from another address is served within 1 s (try $i)" 200 \
        --interface 127.0.0.2 --cacert "$T/cert.pem" -H "Authorization: Bearer $(cat "$T/token-a")" \
        "https://127.0.0.1:$port/v1/host"
    timed "under attack, root on the unix socket (the hook's way in) is served within 1 s (try $i)" \
        200 --unix-socket "$ITSMIGD_SOCK" http://localhost/v1/health
done

# A trickle that never ends its head is cut at request-timeout (3 s), not kept
# alive by every byte.
"$HTTP_RAW" -d 500 -t 10 "$ITSMIGD_SOCK" 'GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n' \
    >/dev/null 2>"$T/raw.err"
rc=$?
secs=$(sed -n 's/.*closed after \([0-9.]*\) s.*/\1/p' "$T/raw.err" | tail -n 1)
if [ "$rc" = 0 ] && awk -v t="${secs:-99}" 'BEGIN { exit !(t >= 2.5 && t < 4.5) }'; then
    ok "a byte every 0.5 s does not keep a request open past request-timeout (closed after $secs s)"
else
    not_ok "a byte every 0.5 s does not keep a request open past request-timeout" "rc $rc" "$(tail -n 1 "$T/raw.err")"
fi

wait "$p_tls" "$p_stall" "$p_unix"
untrack_pid "$p_tls"
untrack_pid "$p_stall"
untrack_pid "$p_unix"
for m in tls stall unix; do
    opened=$(sed -n 's/^ready //p' "$T/$m.out")
    cut=$(sed -n 's/^closed-by-server //p' "$T/$m.out")
    if [ -n "$opened" ] && [ "$opened" -gt 0 ] && [ "$cut" = "$opened" ]; then
        ok "$m: every connection the server took was cut within $HOLD s ($cut of $opened)"
    else
        not_ok "$m: every connection the server took was cut within $HOLD s" "$(cat "$T/$m.out")"
    fi
done
pid_alive "$ITSMIGD_PID" && ok "itsmigd is still running" || not_ok "itsmigd is still running"

done_testing
