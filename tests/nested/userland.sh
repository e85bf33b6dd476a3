#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The arm64 build of itsmig on a later Debian's userland: built as the nested
# bed builds it (tests/nested/cross-build.sh, against Debian 12's arm64
# libraries), then run on the libraries of SUITE's packages (the nested bed's
# root file system, tests/nested/rootfs-packages, fetched with a private apt
# configuration) under qemu-user: every library each program needs resolves
# there, itsmigd starts on SUITE's libvirt (libvirt's test driver, in
# process) and serves, and itsmigctl and the libvirt hook talk to it.  So a
# host on SUITE takes the same package as one on Debian 12.  KVM itself is
# the nested bed's (tests/nested/nested-bed.sh).
#
# Usage: userland.sh [SUITE]   (default trixie)
#
# Prints TAP.  Environment (set by make check): top_srcdir, top_builddir,
# AARCH64_CC; ITSMIG_CACHE_DIR (downloads, see tests/nested/fetch-debs.sh).

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
srcdir=$(cd "$srcdir" && pwd)
here=$srcdir/tests/nested
suite=${1:-trixie}

. "$srcdir/tests/kvm/boot.sh"

case "$suite" in
'' | *[!a-z0-9.-]*) bail "'$suite' is not a suite name" ;;
esac
[ "$(id -u)" = 0 ] || {
    echo "1..0 # SKIP the userland check needs root (it unpacks packages owned by root)"
    exit 0
}
git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
    echo "1..0 # SKIP the userland check builds itsmig for arm64 from a git work tree; $srcdir is none"
    exit 0
}
for tool in qemu-aarch64 curl jq virsh git; do
    command -v "$tool" >/dev/null 2>&1 || bail "$tool not found (scripts/deps.sh --test installs it)"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-userland.XXXXXX") || bail "cannot create a temporary directory"

n=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    shift
    for _l in "$@"; do echo "#   $_l"; done
}

# shellcheck disable=SC2046
root=$(ITSMIG_DEBS_SUITE=$suite sh "$here/fetch-debs.sh" rootfs $(sed '/^#/d' "$here/rootfs-packages") \
    2>"$tmp/debs.err") || {
    sed 's/^/# /' "$tmp/debs.err"
    bail "cannot fetch the arm64 packages of $suite"
}
version_of() {
    sed -n "s/^$1_\([^_]*\)_arm64\.deb$/\1/p" "$root/.packages" | sed 's/%3a/:/'
}
echo "# $suite: libvirt $(version_of libvirt0), QEMU $(version_of qemu-system-arm), GLib $(version_of 'libglib2\.0-0[a-z0-9]*')"
AARCH64_CC=${AARCH64_CC:-aarch64-linux-gnu-gcc} sh "$here/cross-build.sh" "$srcdir" "$tmp/install" \
    2>"$tmp/cross.err" || {
    sed 's/^/# /' "$tmp/cross.err"
    bail "cannot build itsmig for arm64"
}

# arm64 PROGRAM ARG...: runs an arm64 program of the build on $root's libraries.
arm64() {
    QEMU_LD_PREFIX=$root qemu-aarch64 -L "$root" "$@"
}

# ---- every library resolves in the suite's tree ---------------------------------------------

for prog in usr/sbin/itsmigd usr/bin/itsmigctl etc/libvirt/hooks/qemu.d/50-itsmig; do
    if arm64 "$root/lib/ld-linux-aarch64.so.1" --list "$tmp/install/$prog" >"$tmp/ldd" 2>&1 &&
        ! grep -q 'not found' "$tmp/ldd"; then
        ok "/$prog: every library it needs is in $suite ($(wc -l <"$tmp/ldd") loaded)"
    else
        not_ok "/$prog: every library it needs is in $suite" "$(grep 'not found' "$tmp/ldd" | head -n 3)"
    fi
done

# ---- itsmigd on the suite's libvirt -----------------------------------------------------------

mkdir -p "$tmp/state" || bail "mkdir $tmp/state"
cat >"$tmp/itsmigd.conf" <<EOF
[api]
socket = $tmp/api.sock
[daemon]
state-dir = $tmp/state
log-level = info
[hook]
record-dir = $tmp/records
EOF
# Not through arm64(): $! must be qemu-aarch64's own pid, which the cleanup stops.
QEMU_LD_PREFIX=$root qemu-aarch64 -L "$root" "$tmp/install/usr/sbin/itsmigd" \
    --config "$tmp/itsmigd.conf" --connect test:///default >"$tmp/itsmigd.log" 2>&1 &
qpid=$!
api() {
    curl -s -m 10 --unix-socket "$tmp/api.sock" "http://itsmigd$1"
}
i=0
until [ "$(api /v1/health | jq -r .libvirt.connected 2>/dev/null)" = true ]; do
    i=$((i + 1))
    if [ "$i" -ge 120 ] || ! kill -0 "$qpid" 2>/dev/null; then
        sed 's/^/# /' "$tmp/itsmigd.log" | tail -n 20
        bail "itsmigd did not connect to test:///default on $suite's libvirt within 60 s"
    fi
    sleep 0.5
done
ok "itsmigd starts on $suite's libraries and connects to libvirt"
want=$(version_of libvirt0 | sed 's/[-+~].*//')
got=$(api /v1/host | jq -r .caps.libvirt_version.value)
if [ "$got" = "$want" ]; then
    ok "GET /v1/host: libvirt $got, probed from $suite's libvirt"
else
    not_ok "GET /v1/host: libvirt $want, probed from $suite's libvirt" "got '$got'"
fi

arm64 "$tmp/install/usr/bin/itsmigctl" domains --socket "$tmp/api.sock" >"$tmp/ctl.out" 2>&1
if grep -q '^test  *running' "$tmp/ctl.out"; then
    ok "itsmigctl domains lists the test driver's domain"
else
    not_ok "itsmigctl domains lists the test driver's domain" "$(head -n 3 "$tmp/ctl.out")"
fi

# The hook, as libvirt runs it before an incoming migration: a guest without an ITS passes.
virsh -q -c test:///default dumpxml test >"$tmp/test.xml" 2>"$tmp/virsh.err" ||
    bail "virsh cannot dump the test driver's domain: $(cat "$tmp/virsh.err")"
ITSMIG_CONFIG=$tmp/itsmigd.conf arm64 "$tmp/install/etc/libvirt/hooks/qemu.d/50-itsmig" \
    test migrate begin - <"$tmp/test.xml" >"$tmp/hook.out" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
    ok "the hook lets a guest without an ITS migrate in (exit 0)"
else
    not_ok "the hook lets a guest without an ITS migrate in (exit 0)" "exit $rc: $(head -n 2 "$tmp/hook.out")"
fi

# itsmigd stops on SIGTERM, as systemd stops it.
kill "$qpid" 2>/dev/null
i=0
while kill -0 "$qpid" 2>/dev/null && [ "$i" -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$qpid" 2>/dev/null; then
    not_ok "itsmigd stops on SIGTERM within 10 s"
    kill -KILL "$qpid" 2>/dev/null
else
    ok "itsmigd stops on SIGTERM within 10 s"
fi
wait "$qpid" 2>/dev/null
qpid=
echo "1..$n"
