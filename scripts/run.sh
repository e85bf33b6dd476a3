#!/bin/sh
# One command for a fresh Debian 12 machine, as root: install what is missing,
# build, and start itsmigd on libvirt's embedded test driver (test:///default),
# serving its API on /run/itsmigd/api.sock.
set -eu
cd "$(dirname "$0")/.."
# ITSMIG_NO_BUILD=1: the tree is built already (the test of this script).
if [ "${ITSMIG_NO_BUILD:-}" != 1 ]; then
    scripts/deps.sh
    scripts/build.sh
fi

sock=/run/itsmigd/api.sock
pidfile=/run/itsmigd/itsmigd.pid
log=/run/itsmigd/itsmigd.log
api() { curl -sS --unix-socket "$sock" "http://localhost$1"; }

if api /v1/health >/dev/null 2>&1; then
    echo "itsmigd already answers on $sock"
else
    mkdir -p /run/itsmigd
    setsid daemon/itsmigd --connect test:///default --socket "$sock" >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    tries=0
    until api /v1/health 2>/dev/null | grep -q '"connected":true'; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "itsmigd did not start; its log ($log):" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "itsmigd $(daemon/itsmigd --version | cut -d' ' -f2) runs (pid $(cat "$pidfile")) on test:///default; log: $log"
fi

cat <<EOT

Query it:
  curl --unix-socket $sock http://localhost/v1/domains
  curl --unix-socket $sock http://localhost/v1/domains/test
  curl --unix-socket $sock http://localhost/v1/host
  curl --unix-socket $sock http://localhost/metrics
  curl -N --unix-socket $sock http://localhost/v1/events     (Server-Sent Events)
The API is described in docs/openapi.json and itsmigd(8): man -l man/itsmigd.8
Stop it: kill \$(cat $pidfile)

GET /v1/domains now:
EOT
api /v1/domains
echo
