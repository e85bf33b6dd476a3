#!/bin/bash
# REST throughput and latency, memory and event ingestion of itsmigd with
# 1000 domains, against a private libvirtd serving the test driver.
#   wrk (Debian) over HTTPS with a peer's bearer token: GET /v1/host (the
#   listing is the local administrator's, unix socket only); RSS from /proc; 10,000 lifecycle events made by one
#   virsh session (suspend/resume pairs) and timed until itsmigd has
#   published them all.
# Usage: tests/bench/bench-rest.sh [builddir]   (run as root; prints a report)
set -u
top_builddir=$(cd "${1:-${top_builddir:-.}}" && pwd)
itsmigd=$top_builddir/daemon/itsmigd
N=1000
EVENT_PAIRS=5000
DURATION=${BENCH_DURATION:-10}
PORT=${BENCH_PORT:-17443}

tmp=$(mktemp -d /tmp/itsmig-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "bench-rest: $*" >&2; exit 1; }
. "$(dirname "$0")/libvirtd.sh"
[ -x "$itsmigd" ] || fail "build itsmigd first ($itsmigd)"
command -v wrk >/dev/null || fail "wrk is not installed (apt-get install wrk)"

# 1000 aarch64 domains with a virtio NIC each, defined through one virsh
# session: only test:///default is shared by every client of a libvirtd.
mkdir -p "$tmp/xml"
for ((i = 0; i < N; i++)); do
    printf "<domain type='test'><name>vm%04d</name><memory>65536</memory><vcpu>2</vcpu>" "$i"
    printf "<os><type arch='aarch64' machine='virt'>hvm</type></os><features><gic version='3'/></features>"
    printf "<devices><interface type='network'><source network='default'/><model type='virtio'/></interface></devices></domain>\n"
done | split -l 1 -a 4 -d - "$tmp/xml/vm"

mkdir -p "$tmp/state"
bench_libvirtd
# A connection held open keeps the test driver's state for everyone.
coproc HOLD { virsh -c "$uri" 2>&1; }
pids+=($HOLD_PID)
# Define and start them all, then pause every other one.
{
    for ((i = 0; i < N; i++)); do printf "define %s/xml/vm%04d\nstart vm%04d\n" "$tmp" "$i" "$i"; done
    for ((i = 1; i < N; i += 2)); do printf "suspend vm%04d\n" "$i"; done
} | virsh -c "$uri" >/dev/null || fail "cannot define the domains"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || fail "openssl failed"
token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
echo "$token" >"$tmp/token"
chmod 600 "$tmp/token" "$tmp/key.pem"
cat >"$tmp/itsmigd.conf" <<EOC
[libvirt]
uri = $uri
[api]
socket = $tmp/api.sock
listen = 127.0.0.1:$PORT
# wrk comes from one address: past the default of 8 its connections would be
# refused (the per-address limit against hostile clients), not measured.
max-connections-per-address = 64
tls-cert = $tmp/cert.pem
tls-key = $tmp/key.pem
[daemon]
state-dir = $tmp/state
log-level = message
[peer bench]
accept-token-file = $tmp/token
EOC
# Run the binary itself, not libtool's wrapper, so the PID is the daemon's.
bin=$itsmigd
[ -x "$top_builddir/daemon/.libs/itsmigd" ] && bin=$top_builddir/daemon/.libs/itsmigd
export LD_LIBRARY_PATH=$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
start=$(date +%s.%N)
"$bin" --config "$tmp/itsmigd.conf" >"$tmp/itsmigd.log" 2>&1 &
dpid=$!
pids+=($dpid)
api() { curl -sS --unix-socket "$tmp/api.sock" "http://localhost$1"; }
for _ in $(seq 600); do
    api /v1/health 2>/dev/null | grep -q '"connected":true' && break
    sleep 0.05
done
ready=$(date +%s.%N)
total=$(api "/v1/domains?limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
[ "$total" = "$((N + 1))" ] || fail "itsmigd knows $total domains, not $N; log: $(cat "$tmp/itsmigd.log")"

rss() { awk '/^'"$1"':/ {print $2}' "/proc/$dpid/status"; }
echo "itsmigd REST benchmark  ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), wrk $(wrk -v 2>&1 | awk 'NR==1{print $2}'))"
echo "domains: $N in libvirt's test driver (private libvirtd), $((N / 2)) running, $((N / 2)) paused (and the driver's own 'test')"
printf "startup to ready with %d domains: %.2f s\n" "$N" "$(echo "$ready - $start" | bc)"
mem() {
    echo "$1: VmRSS $(rss VmRSS) kB = private (RssAnon) $(rss RssAnon) kB + shared library" \
        "pages (RssFile) $(rss RssFile) kB; PSS $(awk '/^Pss:/ {print $2}' "/proc/$dpid/smaps_rollup") kB;" \
        "peak VmHWM $(rss VmHWM) kB"
}
mem "memory after loading $N domains"
echo

run_wrk() {
    echo "== wrk -t2 -c$1 -d${DURATION}s --latency https://127.0.0.1:$PORT$2  (TLS 1.3, bearer token)"
    wrk -t2 -c"$1" -d"${DURATION}s" --latency -H "Authorization: Bearer $token" \
        "https://127.0.0.1:$PORT$2" 2>&1 |
        grep -E "Latency|Req/Sec|requests in|Requests/sec|Transfer/sec|^ +(50|75|90|99)%|Non-2xx|Socket errors"
    echo
}
run_wrk 8 /v1/host
# More connections than cores (a thread each): throughput holds, the tail grows.
run_wrk 16 /v1/host
run_wrk 64 /v1/host
mem "memory right after the load"
sleep 11
mem "memory 10 s later (the daemon trims its heap every 10 s)"
echo

# 10,000 lifecycle events from one virsh session.
before=$(api /metrics | awk '/^itsmigd_libvirt_events_received_total\{type="lifecycle"\}/ {print $2}')
pub_before=$(api /metrics | awk '/^itsmigd_events_published_total/ {print $2}')
{
    for ((i = 0; i < EVENT_PAIRS; i++)); do
        printf "suspend vm%04d\nresume vm%04d\n" $((i % (N / 2) * 2)) $((i % (N / 2) * 2))
    done
} >"$tmp/events.cmd"
t0=$(date +%s.%N)
virsh -c "$uri" <"$tmp/events.cmd" >/dev/null || fail "virsh failed"
t1=$(date +%s.%N)
want=$((before + 2 * EVENT_PAIRS))
while :; do
    got=$(api /metrics | awk '/^itsmigd_libvirt_events_received_total\{type="lifecycle"\}/ {print $2}')
    [ "$got" -ge "$want" ] && break
    sleep 0.02
done
t2=$(date +%s.%N)
# The callbacks only queue: the worker thread applies and publishes them.
while :; do
    published=$(api /metrics | awk '/^itsmigd_events_published_total/ {print $2}')
    [ "$published" -ge $((pub_before + 2 * EVENT_PAIRS)) ] && break
    sleep 0.02
done
t3=$(date +%s.%N)
echo "== event ingestion: $((2 * EVENT_PAIRS)) lifecycle events (suspend/resume through one virsh session)"
printf "virsh issued them in %.2f s; itsmigd had received all %d after %.2f s: %.0f events/s\n" \
    "$(echo "$t1 - $t0" | bc)" $((got - before)) "$(echo "$t2 - $t0" | bc)" \
    "$(echo "($got - $before) / ($t2 - $t0)" | bc -l)"
printf "and had applied and published all of them after %.2f s\n" "$(echo "$t3 - $t0" | bc)"
echo "events published on /v1/events since start: $published"
state=$(api /v1/domains/vm0000 | grep -o '"state":"[a-z]*"' | head -1)
echo "vm0000 after the last resume: $state"
mem "memory after the events"
