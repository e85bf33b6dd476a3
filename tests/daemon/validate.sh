#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigctl host validate on this machine: each check passes against what the
# test sets up (a private libvirtd, a state directory, a hook, qemu.conf, TLS
# files, a peer itsmigd on loopback that accepts its token) and fails when
# that is taken away or broken, with its reason and a hint.  On a host that is
# not arm64 the architecture and the vGIC checks fail, so the exit status is
# 2.  itsmigd --check-config lists every problem of a file and exits 2, or 0.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq openssl virsh libvirtd /usr/bin/python3
require_daemon
ITSMIGCTL=${ITSMIGCTL:-$builddir/client/itsmigctl}
require_helper "$ITSMIGCTL"

base=$((20000 + ($$ + 11000) % 20000))
port_b=$base
port_dead=$((base + 1))
tls_peer_files

# The peer: a real itsmigd that takes token-b.
# shellcheck disable=SC2046
start_itsmigd --name b --uri test:///default $(tls_sets "$port_b") \
    --set "peer a.accept-token-file=$T/token-b"
start_libvirtd

V=$T/v
mkdir -p "$V/state" "$V/qemu-logs"
printf '#!/bin/sh\nexit 0\n' >"$V/hook" && chmod 755 "$V/hook"
printf '# libvirt qemu.conf\nstdio_handler = "logd"\n' >"$V/qemu.conf"

write_conf() {
    cat >"$V/itsmigd.conf" <<EOT
[libvirt]
uri = $LIBVIRT_URI
[api]
socket = $V/api.sock
listen = 127.0.0.1:$base
tls-cert = $T/cert.pem
tls-key = $T/key.pem
[daemon]
state-dir = $V/state
[migration]
qemu-log-dir = $V/qemu-logs
[peer b]
url = https://127.0.0.1:$port_b
ca = $T/cert.pem
token-file = $T/token-b
[peer wrongtoken]
url = https://127.0.0.1:$port_b
ca = $T/cert.pem
token-file = $T/token-c
[peer dead]
url = https://127.0.0.1:$port_dead
ca = $T/cert.pem
token-file = $T/token-b
EOT
}
write_conf

validate() { # [OPTION...]: the JSON report in $T/v.json, the exit status in $V_RC
    env LC_ALL=C "$ITSMIGCTL" host validate --json --config "$V/itsmigd.conf" --hook "$V/hook" \
        --qemu-conf "$V/qemu.conf" "$@" >"$T/v.json" 2>"$T/v.err"
    V_RC=$?
}

# check_result ID STATUS DETAIL-REGEX NAME
check_result() {
    _got=$(jq -r --arg id "$1" '.checks[] | select(.id == $id) | "\(.status)|\(.detail)|\(.hint)"' "$T/v.json")
    _status=${_got%%|*}
    _rest=${_got#*|}
    _detail=${_rest%%|*}
    _hint=${_rest#*|}
    if [ "$_status" = "$2" ] && printf '%s' "$_detail" | grep -Eq -- "$3" &&
        { [ "$2" = pass ] || { [ -n "$_hint" ] && [ "$_hint" != null ]; }; }; then
        ok "$4"
    else
        not_ok "$4"
        diag "$1: got '$_got', wanted $2 matching '$3'"
    fi
}

# ---- everything set up -----------------------------------------------------------

validate
if jq -e '.checks | length >= 14' "$T/v.json" >/dev/null; then
    ok "--json gives one object with the checks"
else
    not_ok "--json gives one object with the checks"
    diag_file "$T/v.json" 20
    diag_file "$T/v.err"
fi
check_result config pass "$V/itsmigd.conf" "config: the file is read with itsmigd's parser"
check_result libvirt pass "libvirt [0-9]+\." "libvirt: the private libvirtd answers"
check_result qemu-log-dir pass "qemu-logs" "QEMU log directory: readable"
check_result stdio-handler pass '"logd"' "qemu.conf: stdio_handler logd passes"
check_result hook pass "$V/hook" "hook: installed and executable"
check_result state-dir pass "$V/state" "state directory: writable"
check_result tls pass "cert.pem" "TLS: certificate and key readable"
check_result peer:b pass "127.0.0.1:$port_b" "peer b: reachable, token accepted"
check_result peer:wrongtoken fail "refused the token \\(HTTP 401\\)" \
    "a peer that refuses the token fails, saying so"
check_result peer:dead fail "." "an unreachable peer fails"
if [ -z "$(ls -A "$V/state")" ]; then
    ok "the state directory check leaves nothing behind"
else
    not_ok "the state directory check leaves nothing behind"
fi

if [ "$(uname -m)" = aarch64 ]; then
    skip "this host is arm64: the x86 FAIL lines are checked elsewhere"
    skip "this host is arm64"
    skip "this host is arm64"
else
    check_result arch fail "this host is $(uname -m)" "arch: FAIL on $(uname -m) with the reason"
    check_result vgic-its fail "arm64" "vGICv3 + ITS: FAIL here, the probe's reason given"
    check_result its-controls fail "not probed" "ITS controls: FAIL here, not probed"
fi
if [ -c /dev/kvm ] && [ -w /dev/kvm ]; then
    check_result kvm pass "KVM API version 12" "/dev/kvm: the KVM device answers"
else
    check_result kvm fail "/dev/kvm" "/dev/kvm: missing or not writable here, FAIL"
fi
# What the kernel says of the clock, asked the same way (adjtimex).
clock=$(/usr/bin/python3 -c '
import ctypes
buf = ctypes.create_string_buffer(512)
state = ctypes.CDLL(None, use_errno=True).adjtimex(buf)
status = int.from_bytes(buf[4:8], "little", signed=True)
print("warn" if state == 5 or status & 0x40 else "pass")')
check_result clock "$clock" "." "clock: $clock, as adjtimex says"

is "$V_RC" "$(jq 'if .fail > 0 then 2 elif .warn > 0 then 1 else 0 end' "$T/v.json")" \
    "the exit status follows the worst result (0 pass, 1 warn, 2 fail)"
if jq -e '(.pass + .warn + .fail) == (.checks | length) and .fail == ([.checks[] | select(.status == "fail")] | length)' "$T/v.json" >/dev/null; then
    ok "the counts add up"
else
    not_ok "the counts add up"
fi

# The text: a PASS/WARN/FAIL line per check, a hint under each that did not pass.
env LC_ALL=C "$ITSMIGCTL" host validate --config "$V/itsmigd.conf" --hook "$V/hook" \
    --qemu-conf "$V/qemu.conf" >"$T/v.txt" 2>&1
n_lines=$(grep -Ec '^ITSMIG: Checking .* : (PASS|WARN|FAIL) \(' "$T/v.txt")
n_hints=$(grep -c '^        hint: .' "$T/v.txt")
if [ "$n_lines" = "$(jq '.checks | length' "$T/v.json")" ] &&
    [ "$n_hints" = "$(jq '.warn + .fail' "$T/v.json")" ]; then
    ok "text: one line per check and a hint under each that did not pass"
else
    not_ok "text: one line per check and a hint under each that did not pass"
    diag_file "$T/v.txt" 40
fi

# ---- each check made to fail -----------------------------------------------------

sed -i "s|^uri = .*|uri = test+unix:///default?socket=$T/no-such-socket|" "$V/itsmigd.conf"
validate
check_result libvirt fail "no-such-socket" "libvirt: FAIL when it does not answer"
write_conf

rmdir "$V/qemu-logs"
validate
check_result qemu-log-dir fail "No such file" "QEMU log directory: FAIL when missing"
mkdir "$V/qemu-logs"

printf 'stdio_handler = "syslog"\n' >"$V/qemu.conf"
validate
check_result stdio-handler fail '"syslog" is neither' "qemu.conf: FAIL for another stdio_handler"
# As libvirt's parser reads it: single quotes and a comment after the value,
# commented-out lines and longer names skipped, the first assignment counts.
printf "stdio_handler = 'file'  # itsmigd reads QEMU's log\n" >"$V/qemu.conf"
validate
check_result stdio-handler pass '^"file": ' "qemu.conf: 'file' in single quotes, a comment after it, passes"
printf '#stdio_handler = "syslog"\nstdio_handlers = "syslog"\n  stdio_handler="logd";\nstdio_handler = "syslog"\n' \
    >"$V/qemu.conf"
validate
check_result stdio-handler pass '^"logd": ' "qemu.conf: the first assignment counts, comments and other names do not"
printf 'stdio_handler = file\n' >"$V/qemu.conf"
validate
check_result stdio-handler fail "cannot read 'stdio_handler = file' as a string" \
    "qemu.conf: FAIL for a value libvirt cannot read, naming the line"
rm "$V/qemu.conf"
validate
check_result stdio-handler warn "qemu.conf" "qemu.conf: WARN when there is none"
printf '# nothing set\n' >"$V/qemu.conf"
validate
check_result stdio-handler pass "not set" "qemu.conf: the default (logd) passes"

chmod 644 "$V/hook"
validate
check_result hook fail "not an executable" "hook: FAIL when not executable"
rm "$V/hook"
validate
check_result hook fail "No such file" "hook: FAIL when missing"

rmdir "$V/state"
validate
check_result state-dir fail "No such file" "state directory: FAIL when missing"
mkdir "$V/state"

chmod 644 "$T/key.pem"
validate
check_result tls fail "accessible by group or others" "TLS: FAIL for a key others can read"
chmod 600 "$T/key.pem"
sed -i "s|^tls-cert = .*|tls-cert = $T/no-cert.pem|" "$V/itsmigd.conf"
validate
check_result tls fail "no-cert.pem" "TLS: FAIL for a missing certificate"
write_conf

printf '[libvirt]\nuri = test:///default\n' >"$V/noPeers.conf"
env LC_ALL=C "$ITSMIGCTL" host validate --json --config "$V/noPeers.conf" --hook "$V/hook" \
    --qemu-conf "$V/qemu.conf" >"$T/v.json" 2>"$T/v.err"
check_result peers warn "no peer" "peers: WARN when none is configured"

printf '[libvirt]\nuri = \nbogus = 1\n' >"$V/bad.conf"
env LC_ALL=C "$ITSMIGCTL" host validate --json --config "$V/bad.conf" >"$T/v.json" 2>"$T/v.err"
check_result config fail "bogus: unknown key" "config: FAIL with the parser's problems"

if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    : >"$T/not-kvm"
    # A regular file where /dev/kvm is: bound over it, or, on a machine without it, in a
    # /dev of the namespace's own that has the few nodes a process needs.
    # shellcheck disable=SC2016
    unshare -m sh -c 'if [ -e /dev/kvm ]; then mount --bind "$1" /dev/kvm; else
            mount -t tmpfs -o mode=755 none /dev && mknod -m 666 /dev/null c 1 3 &&
            mknod -m 666 /dev/zero c 1 5 && mknod -m 666 /dev/urandom c 1 9 &&
            mknod -m 666 /dev/random c 1 8 && cp "$1" /dev/kvm; fi && shift && exec "$@"' \
        sh "$T/not-kvm" \
        env LC_ALL=C "$ITSMIGCTL" host validate --json --config "$V/itsmigd.conf" \
        --hook "$V/hook" --qemu-conf "$V/qemu.conf" >"$T/v.json" 2>"$T/v.err"
    check_result kvm fail "KVM_GET_API_VERSION" "/dev/kvm: FAIL when it is not the KVM device"
else
    skip "/dev/kvm replaced in a mount namespace needs root"
fi

env LC_ALL=C "$ITSMIGCTL" host validate --bogus >/dev/null 2>&1
is "$?" 2 "a bad option is a usage error"

# ---- itsmigd --check-config ------------------------------------------------------

"$ITSMIGD" --check-config "$V/itsmigd.conf" >"$T/cc.out" 2>&1
is "$?" 0 "itsmigd --check-config: 0 for a valid file"
cat >"$V/multi.conf" <<EOT
[libvirt]
history-size = 0
[api]
socket = relative.sock
bogus = 1
[nonsense]
a = b
[hook]
on-unreachable = maybe
[fleet]
nova-provider-config = /etc/nova/provider_config/itsmig.yml
EOT
"$ITSMIGD" --check-config "$V/multi.conf" >"$T/cc.out" 2>&1
rc=$?
is "$rc" 2 "itsmigd --check-config: 2 for a file with problems"
n=0
for want in "history-size: '0'" "socket: must be an absolute path" "bogus: unknown key" \
    "unknown group \\[nonsense\\]" "on-unreachable: 'maybe'" "nova-provider-config: '/etc/nova"; do
    grep -q "^itsmigd: $V/multi.conf: .*$want" "$T/cc.out" && n=$((n + 1))
done
if [ "$n" = 6 ] && grep -q "^itsmigd: 6 problems$" "$T/cc.out"; then
    ok "itsmigd --check-config lists every problem, a line each, and counts them"
else
    not_ok "itsmigd --check-config lists every problem, a line each, and counts them"
    diag_file "$T/cc.out"
fi
"$ITSMIGD" --config "$V/multi.conf" --check-config >"$T/cc.out" 2>&1
is "$?" 2 "itsmigd --config FILE --check-config checks that file"
"$ITSMIGD" --check-config "$V/no-such.conf" >"$T/cc.out" 2>&1
if [ $? = 2 ] && grep -q "no-such.conf" "$T/cc.out"; then
    ok "itsmigd --check-config: a missing file is named"
else
    not_ok "itsmigd --check-config: a missing file is named"
    diag_file "$T/cc.out"
fi
# The daemon itself refuses the same file at start with the same lines.
"$ITSMIGD" --config "$V/multi.conf" >"$T/start.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && [ "$(grep -c "^itsmigd: $V/multi.conf" "$T/start.out")" = 6 ]; then
    ok "itsmigd refuses to start with the same six problems"
else
    not_ok "itsmigd refuses to start with the same six problems"
    diag_file "$T/start.out"
fi

use_itsmigd b
stop_itsmigd
done_testing
