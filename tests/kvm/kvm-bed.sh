#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The real-kernel bed: boots the current Debian arm64 kernel under
# qemu-system-aarch64 (TCG, GICv3 + ITS, virtualization=on, so /dev/kvm
# works inside) with a busybox initramfs that runs the static test program
# tests/kvm/itsmig-guest-tests against the guest's KVM.
#
# Prints TAP on stdout: the guest's own results, then "Bail out!" when the
# guest did not finish (download failure, crash, timeout) so such a run
# fails instead of passing quietly.  The whole console goes to
# tests/kvm/kvm-bed.console.log in the build tree.
#
# Environment (set by make check): top_srcdir, top_builddir, QEMU_AARCH64;
# ITSMIG_CACHE_DIR (downloads, see fetch-kernel.sh);
# ITSMIG_KVM_BED_TIMEOUT (seconds for boot and tests, default 600).

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
qemu=${QEMU_AARCH64:-qemu-system-aarch64}
timeout_s=${ITSMIG_KVM_BED_TIMEOUT:-600}
guest_bin="$builddir/tests/kvm/itsmig-guest-tests"
console="$builddir/tests/kvm/kvm-bed.console.log"

tmp=
qpid=

cleanup() {
    if [ -n "$qpid" ]; then
        kill "$qpid" 2>/dev/null
        wait "$qpid" 2>/dev/null
        qpid=
    fi
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
    tmp=
}

bail() {
    echo "Bail out! $*"
    cleanup
    exit 1
}

trap cleanup EXIT
trap 'bail "interrupted"' INT TERM HUP

case "$timeout_s" in
'' | *[!0-9]*) bail "ITSMIG_KVM_BED_TIMEOUT must be a number of seconds, not '$timeout_s'" ;;
esac
[ -x "$guest_bin" ] || bail "$guest_bin has not been built"
command -v "$qemu" >/dev/null 2>&1 || bail "$qemu not found"
for tool in cpio gzip timeout; do
    command -v "$tool" >/dev/null 2>&1 || bail "$tool not found"
done
mkdir -p "$(dirname "$console")" || bail "cannot create $(dirname "$console")"

# ---- the kernel and busybox --------------------------------------------------

fetched=$(sh "$srcdir/tests/kvm/fetch-kernel.sh") ||
    bail "cannot fetch the arm64 kernel or busybox (fetch-kernel.sh failed; its messages are in the test log)"
vmlinuz=
busybox=
kernel_version=
while IFS='=' read -r key value; do
    case "$key" in
    vmlinuz) vmlinuz=$value ;;
    busybox) busybox=$value ;;
    kernel_version) kernel_version=$value ;;
    esac
done <<EOF
$fetched
EOF
[ -f "$vmlinuz" ] || bail "fetch-kernel.sh gave no kernel image"
[ -f "$busybox" ] || bail "fetch-kernel.sh gave no busybox"

# ---- the initramfs --------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-kvm-bed.XXXXXX") || bail "cannot create a temporary directory"
root="$tmp/root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" &&
    cp "$busybox" "$root/bin/busybox" &&
    cp "$srcdir/tests/kvm/init.sh" "$root/init" &&
    cp "$guest_bin" "$root/itsmig-guest-tests" &&
    chmod 0755 "$root/bin/busybox" "$root/init" "$root/itsmig-guest-tests" ||
    bail "cannot assemble the initramfs in $root"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$tmp/initrd.gz" ||
    bail "cannot pack the initramfs"

# A fresh token per run: only this boot's markers count.
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
[ -n "$token" ] || bail "cannot read /dev/urandom"

# ---- boot -------------------------------------------------------------------------

echo "# booting $(basename "$vmlinuz") ($kernel_version) under $qemu, console in $console"
start=$(date +%s)
"$qemu" -version >"$console" 2>&1
timeout -k 10 "$timeout_s" "$qemu" \
    -machine virt,gic-version=3,its=on,virtualization=on -cpu max -m 1024 -smp 2 \
    -nographic -nodefaults -serial stdio -no-reboot \
    -kernel "$vmlinuz" -initrd "$tmp/initrd.gz" \
    -append "console=ttyAMA0 quiet loglevel=1 panic=-1 itsmig.token=$token" \
    </dev/null >>"$console" 2>&1 &
qpid=$!
wait "$qpid"
qrc=$?
qpid=
elapsed=$(($(date +%s) - start))

# ---- the guest's TAP ---------------------------------------------------------------

# The serial console ends lines with CR LF.
tr -d '\r' <"$console" >"$tmp/console"
end_line=$(grep -a "^ITSMIG-GUEST-END $token rc=" "$tmp/console" | head -n 1)

sed -n "/^ITSMIG-GUEST-START $token\$/,/^ITSMIG-GUEST-END $token rc=/p" "$tmp/console" |
    grep -a -E '^(ok|not ok)( |$)|^1\.\.[0-9]+$|^# |^Bail out!' >"$tmp/tap"
cat "$tmp/tap"
echo "# qemu exited with status $qrc after ${elapsed}s"

if [ -z "$end_line" ]; then
    if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
        bail "the guest did not finish within ${timeout_s}s (see $console)"
    fi
    if ! grep -a -q "^ITSMIG-GUEST-START $token\$" "$tmp/console"; then
        bail "the guest never started its tests (qemu status $qrc, see $console)"
    fi
    bail "the guest stopped before its tests finished (qemu status $qrc, see $console)"
fi
if ! grep -q '^1\.\.[0-9][0-9]*$' "$tmp/tap"; then
    bail "the guest test program printed no plan (${end_line#ITSMIG-GUEST-END $token }, see $console)"
fi
exit 0
