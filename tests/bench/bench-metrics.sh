#!/bin/bash
# The cost of /metrics with 1000 domains and 10 peers, against a private
# libvirtd serving the test driver (the setup of bench-rest.sh) and ten peer
# itsmigd on loopback over HTTPS, each declaring an arm64 host with one of
# Debian's vCPU register sets (tests/data/probe/) and ITS ABI revisions 0,1
# (seven) or 0 (three): 1000 x 10 verdicts, each judged both ways.
#   wrk over HTTPS with a peer's token on GET /v1/host, first with nobody
#   scraping, then while /metrics is scraped every second; the size of
#   /metrics, the first scrape with every verdict to judge, and warm scrapes
#   (curl, sequential, on the plain-HTTP [metrics] listener); memory.
# Usage: tests/bench/bench-metrics.sh [builddir]   (run as root; prints a report)
set -u
top_builddir=$(cd "${1:-${top_builddir:-.}}" && pwd)
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
itsmigd=$top_builddir/daemon/itsmigd
N=1000
PEERS=10
SCRAPES=${BENCH_SCRAPES:-50}
DURATION=${BENCH_DURATION:-10}
PORT=${BENCH_PORT:-17543}
MPORT=$((PORT + 100))

tmp=$(mktemp -d /tmp/itsmig-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "bench-metrics: $*" >&2; exit 1; }
. "$(dirname "$0")/libvirtd.sh"
[ -x "$itsmigd" ] || fail "build itsmigd first ($itsmigd)"
for t in wrk curl openssl bc; do command -v $t >/dev/null || fail "$t is not installed"; done

mkdir -p "$tmp/xml"
for ((i = 0; i < N; i++)); do
    printf "<domain type='test'><name>vm%04d</name><memory>65536</memory><vcpu>2</vcpu>" "$i"
    printf "<os><type arch='aarch64' machine='virt'>hvm</type></os><features><gic version='3'/></features>"
    printf "<devices><interface type='network'><source network='default'/><model type='virtio'/></interface></devices></domain>\n"
done | split -l 1 -a 4 -d - "$tmp/xml/vm"

mkdir -p "$tmp/state"
bench_libvirtd
coproc HOLD { virsh -c "$uri" 2>&1; }
pids+=($HOLD_PID)
{
    for ((i = 0; i < N; i++)); do printf "define %s/xml/vm%04d\nstart vm%04d\n" "$tmp" "$i" "$i"; done
    for ((i = 1; i < N; i += 2)); do printf "suspend vm%04d\n" "$i"; done
} | virsh -c "$uri" >/dev/null || fail "cannot define the domains"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || fail "openssl failed"
token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
echo "$token" >"$tmp/token"
chmod 600 "$tmp/token" "$tmp/key.pem"

bin=$itsmigd
[ -x "$top_builddir/daemon/.libs/itsmigd" ] && bin=$top_builddir/daemon/.libs/itsmigd
export LD_LIBRARY_PATH=$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

host_caps() { # HOSTNAME REVISIONS DEFAULT SUITE
    cat <<EOC
[daemon]
hostname = $1
log-level = message
[host]
arch = aarch64
vgic-its = true
its-abi-revisions = $2
default-its-abi-revision = $3
save-tables = true
restore-tables = true
ctrl-reset = true
save-pending-tables = true
gicv4 = none
gicd-revision = 3
vcpu-registers-file = $srcdir/tests/data/probe/$4.json
[policy]
check-emulated = true
EOC
}

suites=(bookworm trixie trixie-backports)
peer_conf=
for ((p = 0; p < PEERS; p++)); do
    mkdir -p "$tmp/p$p"
    revs=0,1 def=1
    [ "$p" -ge 7 ] && revs=0 def=0
    {
        host_caps "peer$p" "$revs" "$def" "${suites[p % 3]}"
        printf '[api]\nsocket = %s\nlisten = 127.0.0.1:%d\ntls-cert = %s\ntls-key = %s\n' \
            "$tmp/p$p/api.sock" $((PORT + 1 + p)) "$tmp/cert.pem" "$tmp/key.pem"
        printf '[peer a]\naccept-token-file = %s\n' "$tmp/token"
    } >"$tmp/p$p/itsmigd.conf"
    "$bin" --config "$tmp/p$p/itsmigd.conf" --state-dir "$tmp/p$p" --connect test:///default \
        >"$tmp/p$p/log" 2>&1 &
    pids+=($!)
    peer_conf+="[peer p$p]
url = https://127.0.0.1:$((PORT + 1 + p))
ca = $tmp/cert.pem
token-file = $tmp/token
"
done

{
    host_caps hostA 0,1 1 bookworm
    cat <<EOC
[libvirt]
uri = $uri
[api]
socket = $tmp/api.sock
listen = 127.0.0.1:$PORT
tls-cert = $tmp/cert.pem
tls-key = $tmp/key.pem
# wrk's connections all come from 127.0.0.1.
max-connections-per-address = 128
[metrics]
listen = 127.0.0.1:$MPORT
[peer bench]
accept-token-file = $tmp/token
$peer_conf
EOC
} >"$tmp/itsmigd.conf"
"$bin" --config "$tmp/itsmigd.conf" --state-dir "$tmp/state" >"$tmp/itsmigd.log" 2>&1 &
dpid=$!
pids+=($dpid)
api() { curl -sS --unix-socket "$tmp/api.sock" "http://localhost$1"; }
for _ in $(seq 600); do
    api /v1/health 2>/dev/null | grep -q '"connected":true' && break
    sleep 0.05
done
total=$(api "/v1/domains?limit=1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
[ "$total" = "$((N + 1))" ] || fail "itsmigd knows $total domains, not $N; log: $(cat "$tmp/itsmigd.log")"
for ((p = 0; p < PEERS; p++)); do
    curl -s -o /dev/null --cacert "$tmp/cert.pem" -H "Authorization: Bearer $token" \
        "https://127.0.0.1:$((PORT + 1 + p))/v1/host" || fail "peer $p does not answer; $(cat "$tmp/p$p/log")"
done

# The daemon's CPU time so far, in ms (utime + stime).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) * 1000 / hz }' "/proc/$dpid/stat"; }
rss() { awk '/^'"$1"':/ {print $2}' "/proc/$dpid/status"; }
mem() {
    echo "$1: VmRSS $(rss VmRSS) kB = private (RssAnon) $(rss RssAnon) kB + shared library" \
        "pages (RssFile) $(rss RssFile) kB; peak VmHWM $(rss VmHWM) kB"
}
echo "itsmigd /metrics benchmark  ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), wrk $(wrk -v 2>&1 | awk 'NR==1{print $2}'), load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "domains: $N in libvirt's test driver (private libvirtd), $((N / 2)) running, $((N / 2)) paused (and the driver's own 'test')"
echo "peers: $PEERS itsmigd on loopback (HTTPS), register sets of bookworm, trixie, trixie-backports in turn; revisions 0,1 (7) or 0 (3)"
mem "memory before any scrape"
echo

run_wrk() {
    echo "== wrk -t2 -c$1 -d${DURATION}s --latency https://127.0.0.1:$PORT$2  (TLS 1.3, bearer token)$3"
    wrk -t2 -c"$1" -d"${DURATION}s" --latency -H "Authorization: Bearer $token" \
        "https://127.0.0.1:$PORT$2" 2>&1 |
        grep -E "Latency|Req/Sec|requests in|Requests/sec|^ +(50|99)%|Non-2xx|Socket errors"
    echo
}
murl="http://127.0.0.1:$MPORT/metrics"
scrape() { curl -s -o "$tmp/m.txt" -w '%{time_total} %{size_download}\n' "$murl"; }
# The first scrape starts the peers' fetch and shows no verdict yet.
read -r t0 s0 < <(scrape)
for _ in $(seq 300); do
    [ "$(grep -c '^itsmigd_peer_up{.*} 1$' "$tmp/m.txt")" = "$PEERS" ] && break
    sleep 0.1
    curl -s -o "$tmp/m.txt" "$murl"
done
[ "$(grep -c '^itsmigd_peer_up{.*} 1$' "$tmp/m.txt")" = "$PEERS" ] || fail "the peers were not all fetched"
# The scrapes of the wait above judged the domains already; a policy
# change below makes every verdict stale again, to time that case.
echo "---- /metrics on the plain-HTTP listener (curl, one at a time)"
echo "first scrape (no peer fetched yet, starts the fetch): $(printf '%.1f' "$(echo "$t0 * 1000" | bc)") ms, $s0 bytes"
# A reload that changes the policy makes every verdict stale: the next
# scrape judges all $N x $PEERS pairs both ways.
sed -i 's/^check-emulated = true/check-emulated = true\nearly-boot-window = 301/' "$tmp/itsmigd.conf"
kill -HUP "$dpid"
sleep 1
c0=$(cpu_ms)
read -r tc sc < <(scrape)
c1=$(cpu_ms)
echo "scrape judging every verdict ($N domains x $PEERS peers, both ways): $(printf '%.1f' "$(echo "$tc * 1000" | bc)") ms (CPU $((c1 - c0)) ms), $sc bytes"
c0=$(cpu_ms)
for ((i = 0; i < SCRAPES; i++)); do scrape; done | awk '{print $1 * 1000}' | sort -n >"$tmp/times"
c1=$(cpu_ms)
awk -v n="$SCRAPES" -v cpu=$((c1 - c0)) '{ t[NR] = $1 } END {
    printf "warm scrapes (%d): median %.1f ms, p90 %.1f ms, max %.1f ms; the daemon'"'"'s CPU time %.1f ms a scrape\n",
        n, t[int(n / 2) + 1], t[int(n * 0.9)], t[n], cpu / n }' "$tmp/times"
echo "size: $(wc -c <"$tmp/m.txt") bytes, $(grep -vc '^#' "$tmp/m.txt") samples, of which per-domain $(grep -cE '^itsmigd_domain_(migratable|migratable_peers|blocked|one_way)\{' "$tmp/m.txt")"
grep -E '^itsmigd_(metrics_domain|metrics_domains|domains_unmigratable)' "$tmp/m.txt"
echo "verdicts: $(grep -c '^itsmigd_domain_migratable{.*} 1$' "$tmp/m.txt") allowed, $(grep -c '^itsmigd_domain_migratable{.*} 0$' "$tmp/m.txt") blocked, $(grep -c '^itsmigd_domain_one_way{' "$tmp/m.txt") one-way"
t_unix=$(curl -s -o /dev/null -w '%{time_total}' --unix-socket "$tmp/api.sock" http://localhost/metrics)
echo "one warm scrape on the unix socket: $(printf '%.1f' "$(echo "$t_unix * 1000" | bc)") ms"
mem "memory after the scrapes"
echo

# The machine is shared: runs without and with scraping alternate, so that a
# change in the load falls on both.
echo "---- the other routes, nobody scraping /metrics and while it is scraped every second, alternating"
echo
for c in 8 64 8 64; do
    run_wrk "$c" /v1/host "  (no scrape)"
    (while :; do curl -s -o /dev/null "$murl"; sleep 1; done) &
    scraper=$!
    pids+=($scraper)
    run_wrk "$c" /v1/host "  + a scrape every second"
    kill "$scraper"
    wait "$scraper" 2>/dev/null
done
mem "memory at the end"
