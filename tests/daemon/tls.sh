#!/bin/bash
# The TCP listener for peer daemons: TLS with the configured certificate, a
# bearer token of one configured peer on every request, only the peer routes
# served, each peer's token replaced on SIGHUP, and configuration mistakes
# (a missing, short or group-readable token, a readable TLS key) refused at
# start.
set -u
top_builddir=${top_builddir:-$(pwd)}
itsmigd=$top_builddir/daemon/itsmigd
tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-tls.XXXXXX")
dpid=
cleanup() {
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # description, then a command that must succeed
    local d=$1; shift
    if "$@"; then ok "$d"; else not_ok "$d" "command: $*"; fi
}
echo "1..16"

# A port of our own: bind to 0 would be nicer, but the daemon takes ADDR:PORT.
port=$((20000 + RANDOM % 20000))
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
chmod 600 "$tmp/key.pem"
umask 077
echo "first-token-0123456789" >"$tmp/token"
echo "other-peer-token-0123456789" >"$tmp/token-o"
conf() { # token file of peer a, then optionally the TLS key
    cat >"$tmp/itsmigd.conf" <<EOC
[libvirt]
uri = test:///default
[api]
socket = $tmp/api.sock
listen = 127.0.0.1:$port
tls-cert = $tmp/cert.pem
tls-key = ${2:-$tmp/key.pem}
[daemon]
state-dir = $tmp/state
[peer a]
accept-token-file = $1
[peer o]
url = https://127.0.0.1:1
token-file = $tmp/token-o
accept-token-file = $tmp/token-o
EOC
}
old_conf() {
    cat >"$tmp/itsmigd.conf" <<EOC
[libvirt]
uri = test:///default
[api]
socket = $tmp/api.sock
listen = 127.0.0.1:$port
tls-cert = $tmp/cert.pem
tls-key = $tmp/key.pem
token-file = $1
[daemon]
state-dir = $tmp/state
EOC
}
conf "$tmp/token"
"$itsmigd" --config "$tmp/itsmigd.conf" >"$tmp/log" 2>&1 &
dpid=$!
for _ in $(seq 100); do
    curl -s --unix-socket "$tmp/api.sock" http://localhost/v1/health 2>/dev/null | grep -q connected && break
    sleep 0.05
done

https() { # token path -> "status" and headers in $tmp/h, body in $tmp/b
    local auth=()
    [ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
    curl -sS --cacert "$tmp/cert.pem" "${auth[@]}" -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' \
        "https://127.0.0.1:$port$2"
}

s=$(https "" /v1/health)
if [ "$s" = 401 ] && grep -qi '^WWW-Authenticate: Bearer' "$tmp/h" && grep -q '"code":"unauthorized"' "$tmp/b"; then
    ok "no token: 401 unauthorized with WWW-Authenticate: Bearer"
else
    not_ok "no token: 401 unauthorized with WWW-Authenticate: Bearer" "status $s" "$(cat "$tmp/b")"
fi
s=$(https "first-token-012345678X" /v1/health)
check "a wrong token of the same length: 401" test "$s" = 401
s=$(https "first-token-0123456789" /v1/host)
if [ "$s" = 200 ] && grep -q '"hostname":' "$tmp/b"; then
    ok "the right token over TLS, verified against the configured certificate: 200"
else
    not_ok "the right token over TLS, verified against the configured certificate: 200" "status $s" "$(cat "$tmp/b")" "$(tail -5 "$tmp/log")"
fi
s=$(https "first-token-0123456789" /v1/health)
check "health over TCP: 403, the local administrator's" test "$s" = 403
s=$(https "other-peer-token-0123456789" /v1/host)
check "... and to another peer, with its own token" test "$s" = 200
forbidden=
for path in /v1/domains /v1/domains/test /v1/migrations /v1/events /v1/log /metrics; do
    s=$(https "first-token-0123456789" "$path")
    [ "$s" = 403 ] && grep -q '"code":"forbidden"' "$tmp/b" || forbidden="$forbidden $path:$s"
done
check "listing, migrations, events, log and metrics over TCP: 403 forbidden" test -z "$forbidden"
s=$(curl -sS --cacert "$tmp/cert.pem" -H "Authorization: Bearer first-token-0123456789" \
    -H 'Content-Type: application/json' -d '{"domain":"test","destination":"o"}' \
    -o "$tmp/b" -w '%{http_code}' "https://127.0.0.1:$port/v1/migrations")
check "a peer cannot start a migration: 403" test "$s" = 403
s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/v1/health")
check "plain HTTP on the TLS port gets no HTTP answer" test "$s" = 000
s=$(curl -sS --tlsv1.1 --tls-max 1.1 --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer first-token-0123456789" "https://127.0.0.1:$port/v1/health" 2>/dev/null)
check "TLS 1.1 is refused" test "$s" = 000

# SIGHUP: the token files are read again.
echo "second-token-0123456789" >"$tmp/token"
kill -HUP "$dpid"
for _ in $(seq 50); do
    [ "$(https "second-token-0123456789" /v1/host)" = 200 ] && break
    sleep 0.1
done
a=$(https "second-token-0123456789" /v1/host)
b=$(https "first-token-0123456789" /v1/host)
check "after SIGHUP the new token works and the old one is refused" \
    test "$a:$b" = "200:401"
kill "$dpid"
wait "$dpid"
rc=$?
dpid=
check "SIGTERM: exit status 0" test "$rc" = 0

# Mistakes in the TLS setup stop the daemon at start with exit status 2.
conf "$tmp/missing-token"
"$itsmigd" --config "$tmp/itsmigd.conf" >"$tmp/log2" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "\[peer a\] accept-token-file" "$tmp/log2"; then
    ok "a missing token file: exit 2 naming [peer a] accept-token-file"
else
    not_ok "a missing token file: exit 2 naming [peer a] accept-token-file" "rc $rc" "$(cat "$tmp/log2")"
fi
chmod 644 "$tmp/token"
conf "$tmp/token"
"$itsmigd" --config "$tmp/itsmigd.conf" >"$tmp/log4" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "accept-token-file.*mode 0644" "$tmp/log4"; then
    ok "a token file others may read: exit 2"
else
    not_ok "a token file others may read: exit 2" "rc $rc" "$(cat "$tmp/log4")"
fi
chmod 600 "$tmp/token"
cp "$tmp/key.pem" "$tmp/key-open.pem"
chmod 640 "$tmp/key-open.pem"
conf "$tmp/token" "$tmp/key-open.pem"
"$itsmigd" --config "$tmp/itsmigd.conf" >"$tmp/log5" 2>&1
rc=$?
if [ $rc != 0 ] && grep -q "key-open.pem is accessible by group or others (mode 0640)" "$tmp/log5"; then
    ok "a TLS key the group may read: refused at start"
else
    not_ok "a TLS key the group may read: refused at start" "rc $rc" "$(cat "$tmp/log5")"
fi
echo "short" >"$tmp/short"
conf "$tmp/short"
"$itsmigd" --config "$tmp/itsmigd.conf" >"$tmp/log3" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "at least 16" "$tmp/log3"; then
    ok "a token under 16 characters: exit 2"
else
    not_ok "a token under 16 characters: exit 2" "rc $rc" "$(cat "$tmp/log3")"
fi
old_conf "$tmp/token"
"$itsmigd" --config "$tmp/itsmigd.conf" >"$tmp/log6" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "\[api\] token-file.*\[peer NAME\] accept-token-file" "$tmp/log6"; then
    ok "one [api] token-file for every peer: exit 2, pointing to accept-token-file"
else
    not_ok "one [api] token-file for every peer: exit 2, pointing to accept-token-file" "rc $rc" "$(cat "$tmp/log6")"
fi
exit $((failed > 0))
