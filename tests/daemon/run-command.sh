#!/bin/sh
# The README's run command: it starts itsmigd on test:///default at
# /run/itsmigd/api.sock, says how to query it, and /v1/domains answers.
# The daemon it started is stopped by its PID afterwards.
set -u
cd "${top_srcdir:-.}" || exit 99
sock=/run/itsmigd/api.sock
echo "1..4"
if [ "$(id -u)" != 0 ]; then
    for i in 1 2 3 4; do echo "ok $i # SKIP needs root for /run/itsmigd"; done
    exit 0
fi
if curl -s --unix-socket "$sock" http://localhost/v1/health >/dev/null 2>&1; then
    for i in 1 2 3 4; do echo "ok $i # SKIP an itsmigd already answers on $sock"; done
    exit 0
fi
out=$(ITSMIG_NO_BUILD=1 sh scripts/run.sh 2>&1)
rc=$?
pid=$(cat /run/itsmigd/itsmigd.pid 2>/dev/null)
failed=0
t() {
    if eval "$2"; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; failed=1; fi
}
t 1 '[ $rc = 0 ]' "scripts/run.sh exits 0"
t 2 'echo "$out" | grep -q "curl --unix-socket $sock http://localhost/v1/domains"' \
    "it prints how to query the daemon"
t 3 'curl -s --unix-socket "$sock" http://localhost/v1/domains | grep -q "\"name\":\"test\""' \
    "curl --unix-socket $sock /v1/domains lists the test driver's domain"
t 4 'curl -s --unix-socket "$sock" http://localhost/v1/health | grep -q "\"uri\":\"test:///default\""' \
    "the daemon runs on test:///default"
[ $failed = 0 ] || echo "$out" | sed 's/^/# /'
if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
exit $failed
