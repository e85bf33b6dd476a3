#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Capability exchange between itsmigd instances on loopback over TLS with
# bearer tokens: host A (revisions 0 and 1, default 1) asks B (revision 0
# only) and C (0 and 1) whether its guest may go there; the preflight and the
# matrix give the verdicts the declared revisions call for.  Peers that lie
# (a self-contradicting document, non-JSON, too much), hang or are down give
# a clear error within the configured timeout, never an allow.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl /usr/bin/python3
require_daemon

# Ports of our own on loopback.
base=$((20000 + $$ % 20000))
port_b=$base
port_c=$((base + 1))
port_lie=$((base + 2))
port_garbage=$((base + 3))
port_huge=$((base + 4))
port_hang=$((base + 5))
port_down=$((base + 6))

tls_peer_files
echo "token-of-a-0123456789" >"$T/token-a"
chmod 600 "$T"/token-*

fake_peer lie "$port_lie"
fake_peer garbage "$port_garbage"
fake_peer huge "$port_huge"
fake_peer hang "$port_hang"
for m in lie garbage huge hang; do
    wait_for "[ -s '$T/fake-$m.pid' ]" 10 || bail "the fake peer '$m' did not start"
done

# The capabilities every test host declares: this machine cannot probe an
# arm64 kernel, so its ITS facts are declared as an operator would.
host_sets() { # HOSTNAME REVISIONS DEFAULT
    its_host_sets "$1" "$2" "$3"
}

# B and C run on libvirt's embedded test driver, A on the private libvirtd.
# shellcheck disable=SC2046
start_itsmigd --name b --uri test:///default $(host_sets hostB 0 0) $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"
# shellcheck disable=SC2046
start_itsmigd --name c --uri test:///default $(host_sets hostC 0,1 1) $(tls_sets "$port_c") \
    --set "peer a.accept-token-file=$T/token-c"

start_libvirtd
# shellcheck disable=SC2046
set -- $(host_sets hostA 0,1 1) --set policy.check-emulated=true \
    --set peers.timeout=3 --set peers.connect-timeout=2 --set peers.cache-ttl=30
while read -r name port token; do
    set -- "$@" --set "peer $name.url=https://127.0.0.1:$port" --set "peer $name.ca=$T/cert.pem" \
        --set "peer $name.token-file=$token"
done <<EOF
b $port_b $T/token-b
c $port_c $T/token-c
liar $port_lie $T/token-b
garbage $port_garbage $T/token-b
huge $port_huge $T/token-b
hang $port_hang $T/token-b
hang2 $port_hang $T/token-b
hang3 $port_hang $T/token-b
down $port_down $T/token-b
badtoken $port_b $T/token-c
EOF
start_itsmigd --name a "$@"

# ---- the documents ---------------------------------------------------------------

use_itsmigd b
api GET /v1/host
check_json "B serves its capabilities: declared revision 0, schema and version" \
    '.schema == "itsmig-host-caps" and .version == 1 and .hostname == "hostB" and .caps.its_abi_revisions == {"value": [0], "source": "declared"}'
s=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "https://127.0.0.1:$port_b/v1/host")
is "$s" 401 "B's TLS port refuses a request without the token"

# ---- a guest on A ------------------------------------------------------------------

use_itsmigd a
cat >"$T/g1.xml" <<'EOF'
<domain type='test'>
  <name>g1</name>
  <memory>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64' machine='virt-7.2'>hvm</type></os>
  <features><gic version='3'/></features>
</domain>
EOF
vsh define "$T/g1.xml" && vsh start g1 || bail "cannot start g1"
if wait_for 'domain_has g1 ".profile.its_metadata.its_abi_revision == 1"' 10; then
    ok "the guest's start wrote A's default revision 1 into its metadata"
else
    not_ok "the guest's start wrote A's default revision 1 into its metadata"
    api_diag
fi
vsh dumpxml g1
if grep -q 'urn:itsmig:domain:1' "$T/virsh.out" && grep -q 'written="start"' "$T/virsh.out"; then
    ok "libvirt holds the itsmig record (namespace urn:itsmig:domain:1, written at start)"
else
    not_ok "libvirt holds the itsmig record (namespace urn:itsmig:domain:1, written at start)"
    diag_file "$T/virsh.out" 40
fi

# ---- preflight -------------------------------------------------------------------

preflight g1 '{"destination":"b"}'
check_json "to B (revision 0 only): refused with its-abi-unsupported naming revision 1 and hostB" \
    '.allowed == false and .destination == "b" and .destination_hostname == "hostB" and .source == "hostA" and ([.blockers[].code] | index("its-abi-unsupported")) != null and ([.blockers[] | select(.code == "its-abi-unsupported") | .message | test("1") and test("hostB")] | all)'
check_json "the verdict names the revision and where it came from" \
    '.its_abi_revision == 1 and .its_abi_revision_origin == "metadata"'

preflight g1 '{"destination":"c"}'
check_json "to C (revisions 0 and 1): allowed, no blockers" \
    '.allowed == true and (.blockers | length) == 0 and .destination_hostname == "hostC"'

# A peer's capabilities are cached: B stopped, the verdict still comes.
use_itsmigd b
stop_itsmigd
use_itsmigd a
preflight g1 '{"destination":"b"}'
check_json "within cache-ttl a peer that went away is answered from the cache" \
    '.allowed == false and .destination_hostname == "hostB"'

# ---- peers that misbehave ------------------------------------------------------------

bad_peer() { # DESC PEER STATUS CODE MESSAGE-REGEX MAX-SECONDS
    _t0=$(now_ms)
    preflight g1 "{\"destination\":\"$2\"}"
    _dt=$(($(now_ms) - _t0))
    if [ "$API_STATUS" = "$3" ] && [ "$(jbody ".error.code == \"$4\" and (.error.message | test(\"$5\"))")" = true ] &&
        [ "$_dt" -le $(($6 * 1000)) ]; then
        ok "$1 (${_dt} ms)"
    else
        not_ok "$1" "status $API_STATUS after ${_dt} ms" "body: $API_BODY"
    fi
}
bad_peer "a peer whose document contradicts itself: 502 invalid-host-caps" \
    liar 502 invalid-host-caps "liar.*default" 5
bad_peer "a peer that answers with something not JSON: 502 invalid-host-caps" \
    garbage 502 invalid-host-caps "garbage.*not JSON" 5
bad_peer "a peer that sends more than the size limit: 502 invalid-host-caps" \
    huge 502 invalid-host-caps "more than 256 KiB" 5
bad_peer "a peer that accepts and never answers: 504 peer-timeout within [peers] timeout" \
    hang 504 peer-timeout "did not answer within 3 s" 6
bad_peer "a peer that is down: 502 peer-unreachable" \
    down 502 peer-unreachable "cannot reach peer down" 5
# shellcheck disable=SC2046
start_itsmigd --name b --uri test:///default $(host_sets hostB 0 0) $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"
use_itsmigd a
bad_peer "a peer that does not accept our token: 502 peer-error naming HTTP 401" \
    badtoken 502 peer-error "HTTP 401" 5

preflight g1 '{"destination":"nowhere"}'
check_error "an unknown peer: 404 unknown-peer" 404 unknown-peer
preflight nosuch '{"destination":"c"}'
check_error "an unknown domain: 404 not-found" 404 not-found
preflight g1 '{"destination":"c","quiesce":"yes"}'
check_error "quiesce must be a boolean: 400" 400 invalid-argument
preflight g1 '{"destination":"c","colour":"blue"}'
check_error "an unknown member: 400 naming it" 400 invalid-argument
preflight g1 '{"destination":7}'
check_error "a destination that is not a string: 400" 400 invalid-argument
is "$(pid_alive "$ITSMIGD_PID" && echo yes)" yes "itsmigd A is still running after all of that"

# ---- the matrix ------------------------------------------------------------------

api POST /v1/compat/matrix -H 'Content-Type: application/json' -d '{"peers":["c","hang","liar"]}'
check_json "matrix: g1 allowed to C; the hanging and lying peers are errors, never allowed" \
    '([.domains[] | select(.name == "g1") | .cells[]] | map({(.host): .allowed}) | add) == {"c": true, "hang": false, "liar": false} and ([.hosts[] | select(.name == "hang") | .error.code] == ["peer-timeout"])'
# Peers are asked at once: three that hang (the TLS handshake never ends) cost
# one connect-timeout (2 s), not three (6 s).
_t0=$(now_ms)
api POST /v1/compat/matrix -H 'Content-Type: application/json' -d '{"peers":["hang","hang2","hang3"]}'
_dt=$(($(now_ms) - _t0))
if [ "$(jbody '[.hosts[] | select(.error.code == "peer-timeout")] | length == 3')" = true ] &&
    [ "$_dt" -lt 4500 ]; then
    ok "matrix with three hanging peers: each peer-timeout, asked at once (${_dt} ms)"
else
    not_ok "matrix with three hanging peers: each peer-timeout, asked at once" \
        "after ${_dt} ms" "body: $API_BODY"
fi
api POST /v1/compat/matrix -H 'Content-Type: application/json' -d '{"peers":["nobody"]}'
check_error "matrix with an unknown peer: 404 unknown-peer" 404 unknown-peer
api POST /v1/compat/matrix -H 'Content-Type: application/json' -d '{"peers":"c"}'
check_error "matrix peers must be an array: 400" 400 invalid-argument

done_testing
