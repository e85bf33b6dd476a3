#!/bin/bash
# The TCP listener for peer daemons: TLS with the configured certificate, a
# bearer token on every request, local-only routes refused, the token
# replaced on SIGHUP, and configuration mistakes refused at start.
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
echo "1..11"

# A port of our own: bind to 0 would be nicer, but the daemon takes ADDR:PORT.
port=$((20000 + RANDOM % 20000))
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
echo "first-token-0123456789" >"$tmp/token"
conf() {
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
s=$(https "first-token-0123456789" /v1/health)
if [ "$s" = 200 ] && grep -q '"status":"ok"' "$tmp/b"; then
    ok "the right token over TLS, verified against the configured certificate: 200"
else
    not_ok "the right token over TLS, verified against the configured certificate: 200" "status $s" "$(cat "$tmp/b")" "$(tail -5 "$tmp/log")"
fi
s=$(https "first-token-0123456789" /v1/domains/test)
check "domains are served to peers" test "$s" = 200
s=$(https "first-token-0123456789" /v1/log)
check "a local-only route over TCP: 403 forbidden" \
    sh -c "[ '$s' = 403 ] && grep -q '\"code\":\"forbidden\"' '$tmp/b'"
s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/v1/health")
check "plain HTTP on the TLS port gets no HTTP answer" test "$s" = 000
s=$(curl -sS --tlsv1.1 --tls-max 1.1 --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer first-token-0123456789" "https://127.0.0.1:$port/v1/health" 2>/dev/null)
check "TLS 1.1 is refused" test "$s" = 000

# SIGHUP: the token file is read again.
echo "second-token-0123456789" >"$tmp/token"
kill -HUP "$dpid"
for _ in $(seq 50); do
    [ "$(https "second-token-0123456789" /v1/health)" = 200 ] && break
    sleep 0.1
done
a=$(https "second-token-0123456789" /v1/health)
b=$(https "first-token-0123456789" /v1/health)
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
if [ $rc = 2 ] && grep -q "token-file" "$tmp/log2"; then
    ok "a missing token file: exit 2 naming [api] token-file"
else
    not_ok "a missing token file: exit 2 naming [api] token-file" "rc $rc" "$(cat "$tmp/log2")"
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
exit $((failed > 0))
