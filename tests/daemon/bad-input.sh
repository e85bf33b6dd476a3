#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigd under valgrind, fed what a careless or hostile client sends:
# malformed JSON, wrong or missing content types, oversized bodies and URLs,
# unknown routes and methods, domain names that are not UTF-8 or try to climb
# out of /v1/domains, bad query parameters, connections that send a request
# line byte by byte too slowly (connection-timeout = 2), and more connections
# than max-connections = 8.  Every error must be the spec's status and
# {"error":{"code","message"}} body; the daemon must keep serving and exit 0
# on SIGTERM with no invalid access and no definite leak (valgrind exits 99
# otherwise).

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd valgrind
require_daemon
require_helper "$HTTP_RAW"

start_libvirtd
start_itsmigd --name main --valgrind \
    --set api.connection-timeout=2 --set api.max-connections=8 --set api.max-event-streams=2

JSON='Content-Type: application/json'

# ---- PUT /v1/log: bodies and content types ---------------------------------------------

api PUT /v1/log -H "$JSON" --data-binary '{"level":'
check_error "PUT /v1/log, truncated JSON: 400 invalid-json" 400 invalid-json
api PUT /v1/log -H "$JSON" --data-binary ''
check_error "PUT /v1/log, empty body: 400 invalid-json" 400 invalid-json
api PUT /v1/log -H "$JSON" --data-binary "$(printf '{"level":"\377\376"}')"
check_error "PUT /v1/log, body not UTF-8: 400 invalid-json" 400 invalid-json
# json-glib recurses without a limit: nesting must be refused before it parses.
printf '{"level":' >"$T/deep.json"
awk 'BEGIN { for (i = 0; i < 30000; i++) printf "["; for (i = 0; i < 30000; i++) printf "]"; print "}" }' >>"$T/deep.json"
api PUT /v1/log -H "$JSON" --data-binary @"$T/deep.json"
check_error "PUT /v1/log, 30000 nested arrays: 400 invalid-json, and the daemon lives" 400 invalid-json
api PUT /v1/log -H "$JSON" --data-binary '{"level":"debug"} {"level":"info"}'
check_error "PUT /v1/log, two values: 400 invalid-json" 400 invalid-json
api PUT /v1/log -H "$JSON" --data-binary '{"level":"debug" /* comment */}'
check_error "PUT /v1/log, a comment: 400 invalid-json" 400 invalid-json
api POST /v1/domains/test/preflight -H "$JSON" --data-binary @"$T/deep.json"
check_error "preflight, 30000 nested arrays: 400 invalid-json" 400 invalid-json
api POST /v1/hook/migrate-begin -H 'Content-Type: application/xml' --data-binary '<domain><name>a</name>'
check_error "hook migrate-begin, broken XML: 400 invalid-domain-xml" 400 invalid-domain-xml
api POST /v1/hook/migrate-begin -H 'Content-Type: application/xml' \
    --data-binary '<!DOCTYPE domain [<!ENTITY x "y">]><domain><name>&x;</name></domain>'
check_error "hook migrate-begin, a DTD: 400 invalid-domain-xml" 400 invalid-domain-xml
api POST /v1/hook/migrate-begin -H 'Content-Type: application/xml' --data-binary ''
check_error "hook migrate-begin, empty body: 400 invalid-domain-xml" 400 invalid-domain-xml
api PUT /v1/log -H 'Content-Type: text/plain' --data-binary '{"level":"debug"}'
check_error "PUT /v1/log as text/plain: 415 unsupported-media-type" 415 unsupported-media-type
api PUT /v1/log -H 'Content-Type:' --data-binary '{"level":"debug"}'
check_error "PUT /v1/log without a Content-Type: 415 unsupported-media-type" 415 unsupported-media-type
api PUT /v1/log -H 'Content-Type: application/jsonx' --data-binary '{"level":"debug"}'
check_error "PUT /v1/log as application/jsonx: 415 unsupported-media-type" 415 unsupported-media-type
api PUT /v1/log -H "$JSON" --data-binary '{"level":"loud"}'
check_error "PUT /v1/log, unknown level: 400 invalid-argument" 400 invalid-argument
api PUT /v1/log -H "$JSON" --data-binary '{"level":7}'
check_error "PUT /v1/log, level not a string: 400" 400 'invalid-argument|invalid-json'
api PUT /v1/log -H "$JSON" --data-binary '["debug"]'
check_error "PUT /v1/log, an array: 400" 400 'invalid-argument|invalid-json'
api PUT /v1/log -H 'Content-Type: application/json; charset=utf-8' --data-binary '{"level":"debug"}'
case $API_STATUS in
200 | 204) ok "PUT /v1/log {\"level\":\"debug\"} as application/json; charset=utf-8: $API_STATUS" ;;
*) not_ok "PUT /v1/log {\"level\":\"debug\"} as application/json; charset=utf-8: 200 or 204"; api_diag ;;
esac

# A body just over max-body (65536), plain and chunked.
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
api PUT /v1/log -H "$JSON" --data-binary "@$T/big.json"
check_error "PUT /v1/log, 70000-byte body: 413 body-too-large" 413 body-too-large
# A chunked body announces no end, and libmicrohttpd answers only once a
# request has ended: refused at its head, before any of it is read.
api PUT /v1/log -H "$JSON" -H 'Transfer-Encoding: chunked' --data-binary "@$T/big.json"
check_error "PUT /v1/log, 70000 bytes chunked: 411 length-required" 411 length-required
head -c 10000000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
api PUT /v1/log -H "$JSON" --data-binary "@$T/huge.json"
check_error "PUT /v1/log, 10 MB body: 413 body-too-large" 413 body-too-large
rm -f "$T/huge.json"
# A chunked body that never ends: 411 at once, and the connection closed, not
# read on and on.
body=$(head -c 69632 /dev/zero | tr '\0' a)
"$HTTP_RAW" -t 5 "$ITSMIGD_SOCK" "PUT /v1/log HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n11000\r\n$body\r\n" \
    >"$T/chunk.out" 2>"$T/chunk.err"
rc=$?
if [ "$rc" = 0 ] && head -n 1 "$T/chunk.out" | grep -q '^HTTP/1\.1 411' && grep -q length-required "$T/chunk.out"; then
    ok "an endless chunked body: 411 at once, and the connection closed"
else
    not_ok "an endless chunked body: 411 at once, and the connection closed" \
        "rc $rc: $(tail -n 1 "$T/chunk.err")" "$(head -c 300 "$T/chunk.out")"
fi
# Absurd chunk sizes: an answer, not silence.
for size in FFFFFFFFFFFFFFFFFFFF 7FFFFFFFFFFFFFFF; do
    "$HTTP_RAW" -t 5 "$ITSMIGD_SOCK" "PUT /v1/log HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n$size\r\nabc" \
        >"$T/chunk.out" 2>"$T/chunk.err"
    rc=$?
    if [ "$rc" = 0 ] && head -n 1 "$T/chunk.out" | grep -q '^HTTP/1\.1 411'; then
        ok "chunk size $size: 411 at once, connection closed"
    else
        not_ok "chunk size $size: 411 at once, connection closed" "rc $rc: $(tail -n 1 "$T/chunk.err")" "$(head -c 300 "$T/chunk.out")"
    fi
done

# ---- routes and methods -------------------------------------------------------------------

api GET /v1/nope
check_error "GET /v1/nope: 404 not-found" 404 not-found
api GET /
check_error "GET /: 404 not-found" 404 not-found
api GET /v2/domains
check_error "GET /v2/domains: 404 not-found" 404 not-found
api GET /v1/domains/nosuch
check_error "GET /v1/domains/nosuch: 404 not-found" 404 not-found

# method_not_allowed METHOD PATH ALLOWED
method_not_allowed() {
    api "$1" "$2"
    allow=$(api_header Allow)
    if [ "$API_STATUS" = 405 ] && error_shape_ok method-not-allowed &&
        printf '%s\n' "$allow" | tr ', ' '\n' | grep -qx "$3"; then
        ok "$1 $2: 405 method-not-allowed, Allow: $allow"
    else
        not_ok "$1 $2: 405 method-not-allowed with $3 in Allow" "Allow: '$allow'"
        api_diag
    fi
}
method_not_allowed DELETE /v1/domains GET
method_not_allowed POST /v1/health GET
method_not_allowed POST /v1/log PUT
method_not_allowed DELETE /v1/log PUT
method_not_allowed PUT /v1/domains/test GET
method_not_allowed POST /metrics GET

long=$(head -c 3000 /dev/zero | tr '\0' a)
api GET "/v1/domains/$long"
check_error "a 3000-byte URL (max-url 2048): 414 url-too-long" 414 url-too-long
api GET "/v1/domains?state=$long"
check_error "a 3000-byte query string: 414 url-too-long" 414 url-too-long

# ---- domain names ---------------------------------------------------------------------------

bad_name() {
    api GET "/v1/domains/$1"
    check_error "GET /v1/domains/$2: 400 invalid-argument" 400 invalid-argument
}
bad_name '%FF%FE' '%FF%FE (not UTF-8)'
bad_name '%C0%AF' '%C0%AF (overlong UTF-8 for /)'
bad_name 'a%ED%A0%80b' 'a%ED%A0%80b (a UTF-16 surrogate)'
bad_name 'a%2Fb' 'a%2Fb (a slash)'
bad_name '..%2F..%2Fhealth' '..%2F..%2Fhealth'
bad_name '%2E%2E%2F%2E%2E%2Fv1%2Fhealth' '%2E%2E%2F%2E%2E%2Fv1%2Fhealth'
# Raw "/" makes more path segments than the route has: no route (404) or a bad
# name (400) are both right; reaching another resource is not.
api GET '/v1/domains/../health'
check_error "GET /v1/domains/../health (sent as is): 400 or 404, not /v1/health" \
    '400|404' 'invalid-argument|not-found'
api GET '/v1/domains/../../etc/passwd'
check_error "GET /v1/domains/../../etc/passwd (sent as is): 400 or 404" \
    '400|404' 'invalid-argument|not-found'
api GET '/v1/domains/test/../../v1/health'
check_error "GET /v1/domains/test/../../v1/health (sent as is): 400 or 404" \
    '400|404' 'invalid-argument|not-found'
bad_name 'a%01b' 'a%01b (a control character)'
bad_name 'a%0Ab' 'a%0Ab (a newline)'
bad_name 'a%7Fb' 'a%7Fb (DEL)'
bad_name 'a%00b' 'a%00b (NUL)'
bad_name "$(head -c 256 /dev/zero | tr '\0' a)" "256 bytes of a (over 255)"
api GET "/v1/domains/$(head -c 255 /dev/zero | tr '\0' a)"
check_error "GET /v1/domains/ with 255 bytes of a: a valid name, 404 not-found" 404 not-found
api GET '/v1/domains/%2E%2E'
check_error "GET /v1/domains/%2E%2E: 400 or 404, never a directory" '400|404' 'invalid-argument|not-found'
api GET '/v1/domains/%GG'
check_error "GET /v1/domains/%GG (a broken escape): 400 invalid-argument" 400 invalid-argument

# Bytes curl would escape, sent raw.
# raw_status REQUEST: the status code of the reply to the raw request.
raw_status() {
    "$HTTP_RAW" -t 10 "$ITSMIGD_SOCK" "$1" >"$T/raw.out" 2>"$T/raw.err"
    sed -n '1s/^HTTP\/1\.[01] \([0-9][0-9][0-9]\).*/\1/p' "$T/raw.out"
}
st=$(raw_status 'GET /v1/domains/\xff\xfe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
if [ "$st" = 400 ] && grep -q '"invalid-argument"' "$T/raw.out"; then
    ok "raw bytes FF FE in the domain name: 400 invalid-argument"
else
    not_ok "raw bytes FF FE in the domain name: 400 invalid-argument" "reply: $(head -c 300 "$T/raw.out")"
fi
st=$(raw_status 'GET /v1/domains/a\x01b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
is "$st" 400 "a raw control character in the request line: 400"

# ---- query parameters ------------------------------------------------------------------------

for q in 'state=bogus' 'state=' 'state=RUNNING' 'limit=0' 'limit=10001' 'limit=abc' 'limit=1x' \
    'limit=-1' 'limit=' 'limit=%FF' 'offset=-1' 'offset=abc' 'offset=99999999999999999999999' \
    'limit=+5' 'limit=0x10' 'limit=1e3'; do
    api GET "/v1/domains?$q"
    check_error "GET /v1/domains?$q: 400 invalid-argument" 400 invalid-argument
done
api GET '/v1/domains?limit=1&offset=0'
check_json "GET /v1/domains?limit=1&offset=0: one domain" '(.domains | length) == 1'
api GET '/v1/domains?limit=10000&offset=5'
check_json "GET /v1/domains?limit=10000&offset=5: an empty page" '.domains == []'
api GET '/v1/domains?state=running&limit=10'
check_json "GET /v1/domains?state=running&limit=10: test" '[.domains[].name] == ["test"]'

# ---- event streams beyond max-event-streams (2) ------------------------------------------

events_start s1
events_start s2
if wait_for 'grep -q "^HTTP/1.1 200" "$T/ev-s1.headers" && grep -q "^HTTP/1.1 200" "$T/ev-s2.headers"' 10
then
    ok "two event streams open"
else
    not_ok "two event streams open"
fi
API_TIMEOUT=5 api GET /v1/events
check_error "a third event stream: 503 too-many-streams" 503 too-many-streams
# A client can cause 503s at will: the log gets a few, not one per request.
i=0
while [ $i -lt 100 ]; do
    curl -s -o /dev/null -m 5 --unix-socket "$ITSMIGD_SOCK" http://localhost/v1/events
    i=$((i + 1))
done
# (5 per 10 s; the loop may straddle a window or two.)
n=$(grep -c 'warning: http: GET /v1/events: 503' "$ITSMIGD_LOG")
if [ "$n" -ge 1 ] && [ "$n" -le 15 ]; then
    ok "101 replies 503 in a row: $n warnings in the log (rate-limited)"
else
    not_ok "101 replies 503 in a row: 1 to 15 warnings in the log (rate-limited)" "$n warnings"
fi
events_stop s1
events_stop s2
# The daemon may only notice a stream is gone when it next writes to it.
vsh suspend test
vsh resume test
if wait_for 'API_TIMEOUT=2 api GET /v1/events; [ "$API_STATUS" = 200 ]' 20; then
    ok "once the streams are closed, GET /v1/events is served again"
    vsh suspend test
    vsh resume test
else
    not_ok "once the streams are closed, GET /v1/events is served again"
    api_diag
fi

# ---- slow clients -------------------------------------------------------------------------------

# Five connections sending a request line one byte every 3 s: each must be
# closed after about connection-timeout (2 s) of silence.
slow_pids=
i=1
while [ $i -le 5 ]; do
    "$HTTP_RAW" -d 3000 -t 20 "$ITSMIGD_SOCK" 'GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n' \
        >"$T/slow$i.out" 2>"$T/slow$i.err" &
    slow_pids="$slow_pids $!"
    track_pid $!
    i=$((i + 1))
done
sleep 0.5
t0=$(now_ms)
api GET /v1/health
t1=$(now_ms)
if [ "$API_STATUS" = 200 ] && [ $((t1 - t0)) -lt 2000 ]; then
    ok "GET /v1/health is served at once while five slow clients hang on ($((t1 - t0)) ms)"
else
    not_ok "GET /v1/health is served at once while five slow clients hang on" "$((t1 - t0)) ms"
    api_diag
fi
i=1
for p in $slow_pids; do
    reap_pid "$p" 20
    line=$(tail -n 1 "$T/slow$i.err")
    secs=$(printf '%s\n' "$line" | sed -n 's/^http-raw: closed after \([0-9.]*\) s.*/\1/p')
    sent=$(printf '%s\n' "$line" | sed -n 's/.* sent \([0-9]*\) of \([0-9]*\) bytes.*/\1 \2/p')
    if [ "$STOP_STATUS" = 0 ] && [ -n "$secs" ] &&
        awk -v s="$secs" 'BEGIN { exit !(s >= 1.5 && s <= 8) }' &&
        [ -n "$sent" ] && [ "${sent% *}" -lt "${sent#* }" ]; then
        ok "slow client $i: closed by the daemon after $secs s, mid-request"
    else
        not_ok "slow client $i: closed by the daemon after about 2 s, mid-request" \
            "status $STOP_STATUS: $line"
    fi
    i=$((i + 1))
done

# ---- more connections than max-connections (8) -------------------------------------------------

hold_pids=
i=1
while [ $i -le 8 ]; do
    "$HTTP_RAW" -t 15 "$ITSMIGD_SOCK" 'GET /v1/hea' >"$T/hold$i.out" 2>"$T/hold$i.err" &
    hold_pids="$hold_pids $!"
    track_pid $!
    i=$((i + 1))
done
sleep 0.5
t0=$(now_ms)
API_TIMEOUT=10 api GET /v1/health
t1=$(now_ms)
case "$API_STATUS:$API_CURL_RC" in
200:0 | 503:0 | 000:52 | 000:56 | 000:7)
    ok "a 9th connection while 8 idle ones are open is refused or served later, not left hanging ($API_STATUS, curl $API_CURL_RC, $((t1 - t0)) ms)" ;;
*)
    not_ok "a 9th connection while 8 idle ones are open is refused or served later" \
        "status $API_STATUS, curl exit $API_CURL_RC after $((t1 - t0)) ms"
    api_diag ;;
esac
for p in $hold_pids; do
    reap_pid "$p" 15
done
if itsmigd_answers; then
    ok "once the idle connections timed out, GET /v1/health answers 200"
else
    not_ok "once the idle connections timed out, GET /v1/health answers 200"
fi

# 40 requests at once.
par_pids=
i=1
while [ $i -le 40 ]; do
    curl -s -m 20 -o /dev/null -w '%{http_code}\n' --unix-socket "$ITSMIGD_SOCK" \
        http://localhost/v1/health >"$T/par$i.out" 2>/dev/null &
    par_pids="$par_pids $!"
    track_pid $!
    i=$((i + 1))
done
n200=0
nbad=0
i=1
for p in $par_pids; do
    reap_pid "$p" 25
    rc=$STOP_STATUS
    st=$(cat "$T/par$i.out")
    case "$st:$rc" in
    200:0) n200=$((n200 + 1)) ;;
    503:0 | 000:52 | 000:56 | 000:7) ;;
    *) nbad=$((nbad + 1)); diag "request $i: status $st, curl exit $rc" ;;
    esac
    i=$((i + 1))
done
if [ "$nbad" = 0 ] && [ "$n200" -ge 8 ]; then
    ok "40 parallel requests: $n200 answered 200, the rest refused, none hung"
else
    not_ok "40 parallel requests: at least 8 answered 200, the rest refused, none hung" \
        "$n200 answered 200, $nbad hung or failed otherwise"
fi
api GET /v1/domains
check_json "afterwards GET /v1/domains works" '[.domains[].name] == ["test"]'

# ---- exit --------------------------------------------------------------------------------------

if pid_alive "$ITSMIGD_PID"; then
    ok "the daemon is still running"
else
    not_ok "the daemon is still running"
fi
ITSMIGD_STOP_TIMEOUT=60 stop_itsmigd TERM
case $STOP_STATUS in
0) ok "SIGTERM: exit status 0, valgrind found no invalid access and no definite leak" ;;
99)
    not_ok "SIGTERM: exit status 0, valgrind found no invalid access and no definite leak" \
        "valgrind reported errors (status 99)"
    sed -n '/ERROR SUMMARY/p; /definitely lost/p' "$ITSMIGD_DIR/valgrind.log" | sed 's/^/# /'
    diag_file "$ITSMIGD_DIR/valgrind.log" 120 ;;
*)
    not_ok "SIGTERM: exit status 0, valgrind found no invalid access and no definite leak" \
        "exit status $STOP_STATUS (killed: $STOP_KILLED)"
    diag_file "$ITSMIGD_LOG" 30
    diag_file "$ITSMIGD_DIR/valgrind.log" 60 ;;
esac
stop_libvirtd
done_testing
