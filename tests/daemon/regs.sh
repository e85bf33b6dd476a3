#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The vCPU register sets of Debian's three arm64 kernels between itsmigd
# instances: each host publishes the set its kernel's probe read
# (tests/data/probe/*.json, given as [host] vcpu-registers-file since this
# machine cannot probe an arm64 kernel), peers exchange them over TLS, and the
# preflight and the matrix give the directions the rules predict
# (tests/test-compat /compat/debian/*).  Peers whose register set is
# malformed, oversized or contradicts itself are refused with an error naming
# the member, and the daemon keeps serving; a peer from before the register
# set still works and is reported as not knowing it.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd openssl /usr/bin/python3
require_daemon

probe=$srcdir/tests/data/probe
base=$((20000 + ($$ + 7000) % 20000))
port_b=$base
port_c=$((base + 1))
bad_modes="regs-unsorted regs-duplicate regs-count regs-digest regs-value regs-size regs-oversized old"

tls_peer_files

n=2
for m in $bad_modes; do
    eval "port_$(echo "$m" | tr - _)=$((base + n))"
    fake_peer "$m" "$((base + n))" "$probe/trixie.json"
    n=$((n + 1))
done
for m in $bad_modes; do
    wait_for "[ -s '$T/fake-$m.pid' ]" 10 || bail "the fake peer '$m' did not start"
done

# What every test host declares besides its register set.
host_sets() { # HOSTNAME SUITE
    its_host_sets "$1" 0 0
    echo "--set host.vcpu-registers-file=$probe/$2.json"
}

# shellcheck disable=SC2046
start_itsmigd --name b --uri test:///default $(host_sets trixie trixie) $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"
# shellcheck disable=SC2046
start_itsmigd --name c --uri test:///default $(host_sets backports trixie-backports) \
    $(tls_sets "$port_c") --set "peer a.accept-token-file=$T/token-c"

start_libvirtd
start_a() { # SUITE
    # shellcheck disable=SC2046
    set -- $(host_sets hostA "$1") --set policy.check-emulated=true \
        --set peers.timeout=3 --set peers.connect-timeout=2 --set peers.cache-ttl=30
    set -- "$@" --set "peer b.url=https://127.0.0.1:$port_b" --set "peer b.ca=$T/cert.pem" \
        --set "peer b.token-file=$T/token-b"
    set -- "$@" --set "peer c.url=https://127.0.0.1:$port_c" --set "peer c.ca=$T/cert.pem" \
        --set "peer c.token-file=$T/token-c"
    for m in $bad_modes; do
        set -- "$@" --set "peer $m.url=https://127.0.0.1:$(eval echo "\$port_$(echo "$m" | tr - _)")" \
            --set "peer $m.ca=$T/cert.pem" --set "peer $m.token-file=$T/token-b"
    done
    # One state directory for every start: A's history of itself.
    start_itsmigd --name a --state-dir "$T/a-state" "$@"
}
start_a bookworm

# ---- the documents ---------------------------------------------------------------

use_itsmigd b
api GET /v1/host
check_json "B publishes trixie's register set: minor version 2, 362 registers and their digest" \
    ".minor_version == 2 and .vcpu_registers.available == true and .vcpu_registers.count == 362 and .vcpu_registers.digest == \"$(jq -r .vcpu_registers.digest "$probe/trixie.json")\""
check_json "B's vITS facts are unknown, with the reason" \
    '.its_semantics.source == "unknown" and (.its_semantics.reason | length) > 0'
if grep -q "vcpu-registers-file .*trixie.json: register set sha256:" "$ITSMIGD_LOG"; then
    ok "B logs the declared register set once"
else
    not_ok "B logs the declared register set once"
    diag_file "$ITSMIGD_LOG" 20
fi

# ---- a guest on A (bookworm) -----------------------------------------------------

use_itsmigd a
cat >"$T/g1.xml" <<'EOF'
<domain type='test'>
  <name>g1</name>
  <memory>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64' machine='virt-7.2'>hvm</type></os>
  <features><gic version='3'/></features>
  <cpu mode='host-passthrough'/>
</domain>
EOF
vsh define "$T/g1.xml" && vsh start g1 || bail "cannot start g1"
bookworm_digest=$(jq -r .vcpu_registers.digest "$probe/bookworm.json")
if wait_for "domain_has g1 '.profile.its_metadata.host.vcpu_registers_digest == \"$bookworm_digest\" and .profile.its_metadata.host.vcpu_registers == 345'" 10; then
    ok "the guest's record carries bookworm's register digest and count"
else
    not_ok "the guest's record carries bookworm's register digest and count"
    api_diag
fi
vsh dumpxml g1
if grep -q "vcpu-registers-digest=\"$bookworm_digest\"" "$T/virsh.out"; then
    ok "libvirt holds the digest in the itsmig record"
else
    not_ok "libvirt holds the digest in the itsmig record"
    diag_file "$T/virsh.out" 40
fi

preflight g1 '{"destination":"b"}'
check_json "bookworm to trixie: refused, ID_AA64MMFR1_EL1 outside trixie's writable mask" \
    '.allowed == false and ([.blockers[] | select(.code == "vcpu-register-value-unsupported") | .message | test("ID_AA64MMFR1_EL1") and test("writable mask")] == [true]) and ([.blockers[].code] | index("vcpu-registers-missing")) == null'
preflight g1 '{"destination":"c"}'
check_json "bookworm to trixie-backports: allowed, one-way (16 registers bookworm lacks)" \
    '.allowed == true and ([.warnings[] | select(.code == "one-way-move") | .message | test("could not come back to hostA") and test("16 of which")] == [true])'

api POST /v1/compat/matrix -H 'Content-Type: application/json' -d '{"peers":["b","c"]}'
check_json "matrix from bookworm: B blocked both ways, C allowed there and blocked back" \
    '([.domains[] | select(.name == "g1") | .cells[] | {(.host): [.allowed, .back_allowed]}] | add) == {"b": [false, false], "c": [true, false]}'
check_json "matrix: the way back from C is blocked by the registers bookworm lacks" \
    '[.domains[] | select(.name == "g1") | .cells[] | select(.host == "c") | .back_blockers | index("vcpu-registers-missing") != null] == [true]'

# ---- A on trixie: trixie <-> trixie-backports ------------------------------------

use_itsmigd a
stop_itsmigd
start_a trixie
# The test driver's state went with A's connection: the guest starts anew.
vsh define "$T/g1.xml" && vsh start g1 || bail "cannot start g1 again"
trixie_digest=$(jq -r .vcpu_registers.digest "$probe/trixie.json")
if wait_for "domain_has g1 '.profile.its_metadata.host.vcpu_registers_digest == \"$trixie_digest\"'" 10; then
    ok "started on trixie, the guest's record carries trixie's digest"
else
    not_ok "started on trixie, the guest's record carries trixie's digest"
    api_diag
fi
preflight g1 '{"destination":"c"}'
check_json "trixie to trixie-backports: refused, TCR2_EL1, PIRE0_EL1, PIR_EL1 missing" \
    '.allowed == false and ([.blockers[] | select(.code == "vcpu-registers-missing") | .message | test("lacks 3 of") and test("TCR2_EL1, PIRE0_EL1, PIR_EL1")] == [true])'
api POST /v1/compat/matrix -H 'Content-Type: application/json' -d '{"peers":["c"]}'
check_json "matrix from trixie: the way back from trixie-backports is blocked too (registers trixie lacks)" \
    '([.domains[] | select(.name == "g1") | .cells[] | select(.host == "c") | [.allowed, .back_allowed, (.back_blockers | index("vcpu-registers-missing") != null)]] == [[false, false, true]])'

# ---- the hook: the record's digest names the source's set -------------------------

# hook_refuses_restore NAME XML REGEX DESCRIPTION: the hook, run as libvirt runs it on
# "restore begin" with XML on stdin, exits 1 with "itsmig: refusing restore of NAME: " and
# REGEX on its standard error.
hook_refuses_restore() {
    env -i LC_ALL=C PATH=/usr/bin:/bin ITSMIG_CONFIG="$ITSMIGD_CONF" \
        "$builddir/client/hooks/itsmig-hook" "$1" restore begin - <"$2" \
        >"$T/hook.out" 2>"$T/hook.err"
    _rc=$?
    if [ "$_rc" = 1 ] && grep -q "^itsmig: refusing restore of $1: $3" "$T/hook.err"; then
        ok "$4"
    else
        not_ok "$4" "exit $_rc"
        diag_file "$T/hook.err" 5
    fi
}

# g1 as if it arrived from a host that is no peer, whose record names the set
# C (trixie-backports) has: A (trixie) knows it from asking C above.
backports_digest=$(jq -r .vcpu_registers.digest "$probe/trixie-backports.json")
vsh dumpxml g1
sed -e "s/vcpu-registers-digest=\"$trixie_digest\"/vcpu-registers-digest=\"$backports_digest\"/" \
    -e 's/vcpu-registers="362"/vcpu-registers="361"/' -e 's/name="hostA"/name="elsewhere"/' \
    -e 's/<name>g1</<name>g2</' -e '/<uuid>/d' "$T/virsh.out" >"$T/g2-incoming.xml"
grep -q "$backports_digest" "$T/g2-incoming.xml" || bail "no digest to replace in g1's XML"
api POST /v1/hook/migrate-begin -H 'Content-Type: application/xml' --data-binary "@$T/g2-incoming.xml"
check_json "hook on trixie: a guest whose record names trixie-backports' set is refused, registers named" \
    '.allowed == false and ([.blockers[] | select(.code == "vcpu-registers-missing") | .message | test("record names, as backports has it") and test("KVM_REG_ARM_VENDOR_HYP_BMAP_2")] == [true])'
# A saved image carries the same record: the hook gates its restore the same way.
hook_refuses_restore g2 "$T/g2-incoming.xml" '.*vcpu-registers-missing: ' \
    "the hook refuses restoring the image here (exit 1), naming vcpu-registers-missing"
sed -e "s/$backports_digest/sha256:$(printf '%064d' 7)/" "$T/g2-incoming.xml" >"$T/g3-incoming.xml"
api POST /v1/hook/migrate-begin -H 'Content-Type: application/xml' --data-binary "@$T/g3-incoming.xml"
check_json "hook: a digest no known host has is reported as unknown, not silence" \
    '.allowed == true and ([.warnings[] | select(.code == "vcpu-registers-unknown") | .message | test("which no known host has")] == [true])'

# ---- the hook asks the source it has not asked --------------------------------------

# D (trixie) has C as a peer and has never asked it, as the destination of a plain virsh
# migrate has not: an incoming guest whose record names C's host and set is judged on the
# set C publishes, fetched for the hook, not let in as unknown.
sed -e 's/name="elsewhere"/name="backports"/' -e 's/<name>g2</<name>g6</' \
    "$T/g2-incoming.xml" >"$T/g6-incoming.xml"
grep -q 'name="backports"' "$T/g6-incoming.xml" || bail "no record host to rewrite in g2's XML"
# shellcheck disable=SC2046
start_itsmigd --name d --uri test:///default $(host_sets hostD trixie) --set policy.check-emulated=true \
    --set peers.timeout=3 --set peers.connect-timeout=2 --set peers.cache-ttl=30 \
    --set "peer c.url=https://127.0.0.1:$port_c" --set "peer c.ca=$T/cert.pem" \
    --set "peer c.token-file=$T/token-c"
api POST /v1/hook/migrate-begin -H 'Content-Type: application/xml' --data-binary "@$T/g6-incoming.xml"
check_json "hook on a host that never asked the source: it asks C, and refuses naming vcpu-registers-missing" \
    '.allowed == false and ([.blockers[] | select(.code == "vcpu-registers-missing") | .message | test("KVM_REG_ARM_VENDOR_HYP_BMAP_2")] == [true])'
stop_itsmigd
use_itsmigd a

# ---- restoring an image older than the host's kernel -----------------------------------

# A ran bookworm's set first, now trixie's: its history holds both, and an image saved on
# A under bookworm (its record names A and bookworm's set, which no peer has) is judged as
# a move from bookworm to trixie, which the matrix above refuses.
n_history=$(find "$T/a-state/host-history" -name 'caps-*.json' | wc -l)
is "$n_history" 2 "A's history holds its capabilities under both register sets"
bookworm_digest=$(jq -r .vcpu_registers.digest "$probe/bookworm.json")
vsh dumpxml g1 || bail "cannot read g1's XML"
sed -e "s/vcpu-registers-digest=\"$trixie_digest\"/vcpu-registers-digest=\"$bookworm_digest\"/" \
    -e "s/vcpu-registers=\"362\"/vcpu-registers=\"$(jq -r .vcpu_registers.count "$probe/bookworm.json")\"/" \
    -e 's/<name>g1</<name>g4</' -e '/<uuid>/d' "$T/virsh.out" >"$T/g4-saved.xml"
grep -q "$bookworm_digest" "$T/g4-saved.xml" || bail "no record to rewrite in g1's XML"
api POST '/v1/hook/migrate-begin?operation=restore' -H 'Content-Type: application/xml' \
    --data-binary "@$T/g4-saved.xml"
check_json "restore of A's own bookworm-era image on A under trixie: refused by bookworm's registers, naming A as it was" \
    '.allowed == false and ([.blockers[] | select(.code | startswith("vcpu-register")) | .message | test("hostA as it was on kernel [^ ;,]+[ ;,]")] | length > 0 and all)'
if grep -q "judging an image of hostA under register set $bookworm_digest by this host's history: .*/host-history/caps-[0-9a-f]\{16\}\.json (kernel [^ ]*, last seen [0-9T:.+-]*Z\?)" "$ITSMIGD_LOG"; then
    ok "... and itsmigd logged the history entry it judged the image by"
else
    not_ok "... and itsmigd logged the history entry it judged the image by"
    diag_file "$ITSMIGD_LOG" 20
fi
# The hook itself, as libvirt runs it on "restore begin".
hook_refuses_restore g4 "$T/g4-saved.xml" 'vcpu-register' \
    "the hook refuses restoring A's bookworm-era image on A under trixie (exit 1)"
# An image saved on a peer before its kernel changed: the record's set, not the peer's current.
preflight g1 '{"destination":"b"}'
sed -e 's/name="hostA"/name="trixie"/' -e "s/$bookworm_digest/$backports_digest/" \
    -e "s/vcpu-registers=\"345\"/vcpu-registers=\"361\"/" -e 's/<name>g4</<name>g5</' \
    "$T/g4-saved.xml" >"$T/g5-saved.xml"
api POST '/v1/hook/migrate-begin?operation=restore' -H 'Content-Type: application/xml' \
    --data-binary "@$T/g5-saved.xml"
check_json "restore of an image B saved under trixie-backports: judged by the set its record names, not B's current one" \
    '.allowed == false and ([.blockers[] | select(.code == "vcpu-registers-missing") | .message | test("KVM_REG_ARM_VENDOR_HYP_BMAP_2")] == [true])'

# ---- bad register sets ---------------------------------------------------------------

bad_regs() { # PEER MESSAGE-REGEX
    preflight g1 "{\"destination\":\"$1\"}"
    if [ "$API_STATUS" = 502 ] && [ "$(jbody ".error.code == \"invalid-host-caps\" and (.error.message | test(\"$2\"))")" = true ]; then
        ok "a peer with $1 is refused: invalid-host-caps naming the member"
    else
        not_ok "a peer with $1 is refused: invalid-host-caps naming the member" \
            "status $API_STATUS" "body: $API_BODY"
    fi
}
bad_regs regs-unsorted 'vcpu_registers: registers\\[11\\]: id 0x[0-9a-f]+ is out of order'
bad_regs regs-duplicate 'vcpu_registers: registers\\[11\\]: id 0x[0-9a-f]+ is listed twice'
bad_regs regs-count 'vcpu_registers: registers: 362 registers, but count says 363'
bad_regs regs-digest 'vcpu_registers: digest: does not match the registers listed'
bad_regs regs-value 'vcpu_registers.registers\\[[0-9]+\\].value: id 0x6030000000100000 is not an ID or firmware register'
bad_regs regs-size 'vcpu_registers.registers\\[[0-9]+\\]: id 0x6090000000130000 has a size of 4096 bits'
bad_regs regs-oversized 'vcpu_registers: count: 5000 is outside 1..4096'
api GET /v1/health
check_json "itsmigd A still serves after the bad peers" '.status == "ok"'
is "$(pid_alive "$ITSMIGD_PID" && echo yes)" yes "itsmigd A is still running"

preflight g1 '{"destination":"old"}'
check_json "a peer of minor version 0 works: allowed, its register set reported unknown" \
    '.allowed == true and ([.warnings[] | select(.code == "vcpu-registers-unknown") | .message | test("old.s itsmig predates the register set")] == [true])'

done_testing
