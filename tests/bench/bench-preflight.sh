#!/bin/bash
# Preflight latency: POST /v1/domains/{name}/preflight on itsmigd A for a
# GICv3 guest, against peer B on loopback over TLS with its bearer token.
#   "fresh": [peers] cache-ttl = 0, so every preflight fetches B's
#            capabilities (TCP + TLS handshake, GET /v1/host, schema
#            validation) before the verdict;
#   "cached": the default cache, as repeated preflights see it.
# Then again with vCPU register sets ("+regs"): A publishes bookworm's
# (tests/data/probe/bookworm.json) and B trixie-backports' (361 registers),
# so that every verdict compares the two sets both ways (allowed, one-way).
# Also the size of B's GET /v1/host without and with the register set, and
# of the members a peer of minor version 0 sent (jq drops the new ones).
# One client connection on A's unix socket; curl times each request.
# Usage: tests/bench/bench-preflight.sh [builddir]   (prints a report)
set -u
top_builddir=$(cd "${1:-${top_builddir:-.}}" && pwd)
top_srcdir=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd)
probe=$top_srcdir/tests/data/probe
itsmigd=$top_builddir/daemon/itsmigd
N=${BENCH_REQUESTS:-500}
PORT=${BENCH_PORT:-17444}

tmp=$(mktemp -d /tmp/itsmig-bench-preflight.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "bench-preflight: $*" >&2; exit 1; }
. "$(dirname "$0")/libvirtd.sh"
[ -x "$itsmigd" ] || fail "build itsmigd first ($itsmigd)"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    >/dev/null 2>&1 || fail "openssl"
echo "bench-token-0123456789" >"$tmp/token"
chmod 600 "$tmp/token" "$tmp/key.pem"
caps="[host]
arch = aarch64
vgic-its = true
its-abi-revisions = 0
default-its-abi-revision = 0
save-tables = true
restore-tables = true
ctrl-reset = true
save-pending-tables = true
gicv4 = none
gicd-revision = 3"

# B: the peer, on libvirt's embedded test driver.
start_b() { # [REGISTER-SET-FILE]
    mkdir -p "$tmp/b"
    cat >"$tmp/b/conf" <<EOC
[libvirt]
uri = test:///default
[api]
socket = $tmp/b/api.sock
listen = 127.0.0.1:$PORT
tls-cert = $tmp/cert.pem
tls-key = $tmp/key.pem
[daemon]
state-dir = $tmp/b/state
log-level = warning
hostname = host-b
$caps
${1:+vcpu-registers-file = $1}
[peer a]
accept-token-file = $tmp/token
EOC
    "$itsmigd" --config "$tmp/b/conf" >"$tmp/b/log" 2>&1 &
    b_pid=$!
    pids+=($b_pid)
    for _ in $(seq 100); do
        curl -s --unix-socket "$tmp/b/api.sock" http://x/v1/health 2>/dev/null | grep -q '"status"' && return 0
        sleep 0.05
    done
    fail "itsmigd B did not come up: $(tail -3 "$tmp/b/log")"
}
stop_pid() { kill "$1"; wait "$1" 2>/dev/null; }
start_b

# A: a private libvirtd with one running GICv3 guest.
bench_libvirtd
cat >"$tmp/g1.xml" <<'EOX'
<domain type='test'><name>g1</name><memory>1048576</memory><vcpu>4</vcpu>
<os><type arch='aarch64' machine='virt-7.2'>hvm</type></os><features><gic version='3'/></features>
<devices><interface type='network'><source network='default'/><model type='virtio'/></interface></devices>
</domain>
EOX
# A connection held open keeps the test driver's state for everyone.
coproc HOLD { virsh -c "$uri" 2>&1; }
pids+=($HOLD_PID)
echo "define $tmp/g1.xml" >&"${HOLD[1]}"
echo "start g1" >&"${HOLD[1]}"

start_a() { # CACHE-TTL [REGISTER-SET-FILE]
    rm -rf "$tmp/a"
    mkdir -p "$tmp/a"
    cat >"$tmp/a/conf" <<EOC
[libvirt]
uri = $uri
[api]
socket = $tmp/a/api.sock
[daemon]
state-dir = $tmp/a/state
log-level = warning
hostname = host-a
$caps
${2:+vcpu-registers-file = $2}
[policy]
check-emulated = true
[peers]
cache-ttl = $1
[peer b]
url = https://127.0.0.1:$PORT
ca = $tmp/cert.pem
token-file = $tmp/token
EOC
    "$itsmigd" --config "$tmp/a/conf" >"$tmp/a/log" 2>&1 &
    a_pid=$!
    pids+=($a_pid)
    for _ in $(seq 200); do
        curl -s --unix-socket "$tmp/a/api.sock" http://x/v1/domains/g1 2>/dev/null |
            grep -q its_abi_revision && return 0
        sleep 0.05
    done
    fail "itsmigd A did not come up: $(tail -3 "$tmp/a/log")"
}

# size LABEL: the bytes of B's GET /v1/host, and of its minor-0 members.
size() {
    curl -s --unix-socket "$tmp/b/api.sock" http://x/v1/host >"$tmp/host.json"
    printf "  %-26s %6d bytes (%d without libvirt and kvm, %d as minor version 0)\n" "$1" \
        "$(wc -c <"$tmp/host.json")" \
        "$(jq -c 'del(.libvirt, .kvm)' "$tmp/host.json" | tr -d '\n' | wc -c)" \
        "$(jq -c 'del(.libvirt, .kvm, .minor_version, .vcpu_registers, .its_semantics)' "$tmp/host.json" | tr -d '\n' | wc -c)"
}

# run LABEL: N preflights on one connection; prints the distribution in ms.
run() {
    local urls=()
    for ((i = 0; i < N; i++)); do urls+=(-o /dev/null "http://x/v1/domains/g1/preflight"); done
    curl -s --unix-socket "$tmp/a/api.sock" -X POST -H 'Content-Type: application/json' \
        -d '{"destination":"b"}' -w '%{http_code} %{time_total}\n' "${urls[@]}" \
        >"$tmp/times"
    if grep -qv "^200 " "$tmp/times"; then fail "$1: some preflights did not answer 200: $(grep -v "^200 " "$tmp/times" | sort | uniq -c | head -3)"; fi
    curl -s --unix-socket "$tmp/a/api.sock" -X POST -H 'Content-Type: application/json' \
        -d '{"destination":"b"}' http://x/v1/domains/g1/preflight | grep -q '"allowed":true' ||
        fail "$1: the verdict is not the expected allow"
    awk '{ print $2 * 1000 }' "$tmp/times" | sort -n | awk -v label="$1" '
        { v[NR] = $1 }
        END {
            printf "  %-12s %5d requests: median %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                label, NR, v[int(NR * 0.5) + 1], v[int(NR * 0.9) + 1], v[int(NR * 0.99) + 1], v[NR]
        }'
}

echo "itsmigd preflight benchmark  ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $(curl --version | head -1 | cut -d' ' -f1-2))"
echo "one GICv3 guest on A; peer B on 127.0.0.1 over TLS 1.3 with a bearer token; target: median < 20 ms, cached median < 1 ms"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "host capabilities document (GET /v1/host on B):"
size "no register set"
stop_pid "$b_pid"
start_b "$probe/trixie-backports.json"
size "trixie-backports' set"
stop_pid "$b_pid"
start_b
echo "preflight, no register sets:"
start_a 0
run fresh
stop_pid "$a_pid"
start_a 30
run cached
stop_pid "$a_pid"
stop_pid "$b_pid"
start_b "$probe/trixie-backports.json"
echo "preflight, bookworm's set on A, trixie-backports' on B (one-way-move):"
start_a 0 "$probe/bookworm.json"
run fresh+regs
curl -s --unix-socket "$tmp/a/api.sock" -X POST -H 'Content-Type: application/json' \
    -d '{"destination":"b"}' http://x/v1/domains/g1/preflight | grep -q '"one-way-move"' ||
    fail "fresh+regs: the verdict does not report the one-way move"
stop_pid "$a_pid"
start_a 30 "$probe/bookworm.json"
run cached+regs
