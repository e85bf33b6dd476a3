#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The real-kernel bed: boots a Debian arm64 kernel under qemu-system-aarch64
# (TCG, GICv3 + ITS, virtualization=on, so /dev/kvm works inside) with a
# busybox initramfs that runs the static test program
# tests/kvm/itsmig-guest-tests against the guest's KVM.
#
# Usage: kvm-bed.sh [SUITE]
#
# SUITE (bookworm, trixie, trixie-backports, ...) picks the kernel: that
# suite's current candidate (see fetch-kernel.sh); without one, this
# machine's own.  make check runs it once per suite, through
# tests/kvm/bed-<suite>.sh.
#
# Prints TAP on stdout: the guest's own results, then "Bail out!" when the
# guest did not finish (download failure, crash, timeout) so such a run
# fails instead of passing quietly.  The whole console goes to
# tests/kvm/kvm-bed-<suite>.console.log (kvm-bed.console.log without a
# suite) in the build tree.
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
suite=${1:-}
console="$builddir/tests/kvm/kvm-bed${suite:+-$suite}.console.log"

. "$srcdir/tests/kvm/boot.sh"

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

fetched=$(sh "$srcdir/tests/kvm/fetch-kernel.sh" $suite) ||
    bail "cannot fetch the arm64 kernel or busybox (fetch-kernel.sh failed; its messages are in the test log)"
vmlinuz=
busybox=
kernel_version=
kernel_package=
while IFS='=' read -r key value; do
    case "$key" in
    vmlinuz) vmlinuz=$value ;;
    busybox) busybox=$value ;;
    kernel_version) kernel_version=$value ;;
    kernel_package) kernel_package=$value ;;
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

echo "# booting ${kernel_package:-$(basename "$vmlinuz")} ($kernel_version${suite:+, $suite}) under $qemu, console in $console"
boot_qemu "$timeout_s" "$console" \
    -machine virt,gic-version=3,its=on,virtualization=on -cpu max -m 1024 -smp 2 \
    -nographic -nodefaults -serial stdio -no-reboot \
    -kernel "$vmlinuz" -initrd "$tmp/initrd.gz" \
    -append "console=ttyAMA0 quiet loglevel=1 panic=-1 itsmig.token=$token"

# ---- the guest's TAP ---------------------------------------------------------------

boot_section ITSMIG-GUEST "$token"
grep -a -E '^(ok|not ok)( |$)|^1\.\.[0-9]+$|^# |^Bail out!' "$tmp/run" >"$tmp/tap"
grep -v '^1\.\.' "$tmp/tap"
echo "# qemu exited with status $qrc after ${elapsed}s"
boot_finished tests
if ! grep -q '^1\.\.[0-9][0-9]*$' "$tmp/tap"; then
    bail "the guest test program printed no plan (${end_line#ITSMIG-GUEST-END $token }, see $console)"
fi

# ---- itsmigctl on the images the guest handed over ----------------------------
# The guest prints "ITSMIG-DUMP <id> begin|mem|map|end" lines: table images
# the real kernel saved (with the mapping the guest programmed) or refused
# (with the kernel's errno).  Rebuild guest RAM from them and run the client.
n=$(grep -c -E '^(ok|not ok)( |$)' "$tmp/tap")
itsmigctl="$builddir/client/itsmigctl"
host_ok() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
[ -x "$itsmigctl" ] || bail "$itsmigctl has not been built"
ids=$(sed -n "s/^ITSMIG-DUMP \([0-9][0-9]*\) begin .*/\1/p" "$tmp/console")
[ -n "$ids" ] || bail "the guest handed over no table images"
for id in $ids; do
    begin=$(grep -a -m1 "^ITSMIG-DUMP $id begin " "$tmp/console")
    ram_base= ram_size= iidr= b0= b1= vcpus= kerrno= lpi_opts=
    for kv in $begin; do
        case "$kv" in
        ram=*) ram_base=${kv#ram=} ;;
        ram_size=*) ram_size=${kv#ram_size=} ;;
        propbaser=*) lpi_opts="$lpi_opts --propbaser ${kv#propbaser=}" ;;
        pendbaser=*) lpi_opts="$lpi_opts --pendbaser ${kv#pendbaser=}" ;;
        iidr=*) iidr=${kv#iidr=} ;;
        baser0=*) b0=${kv#baser0=} ;;
        baser1=*) b1=${kv#baser1=} ;;
        vcpus=*) vcpus=${kv#vcpus=} ;;
        errno=*) kerrno=${kv#errno=} ;;
        esac
    done
    ram="$tmp/ram-$id.bin"
    [ -n "$ram_base" ] && [ -n "$ram_size" ] || bail "guest image $id names no RAM range"
    truncate -s "$ram_size" "$ram" || bail "cannot create $ram"
    grep -a "^ITSMIG-DUMP $id mem " "$tmp/console" | perl -e '
        no warnings "portable";
        my $base = hex($ARGV[1]);
        open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!";
        binmode $f;
        while (<STDIN>) {
            my (undef, undef, undef, $gpa, $v) = split;
            seek($f, hex($gpa) - $base, 0) or die;
            print $f pack("Q<", hex($v));
        }
        close($f) or die;' "$ram" "$ram_base" || bail "cannot rebuild guest RAM for image $id"
    # shellcheck disable=SC2086 # lpi_opts holds whole options
    set -- its inspect --memory "$ram@$ram_base" --iidr "$iidr" --baser0 "$b0" --baser1 "$b1" \
        --vcpus "$vcpus" $lpi_opts
    "$itsmigctl" "$@" >"$tmp/out-$id" 2>"$tmp/err-$id"
    rc=$?
    "$itsmigctl" "$@" --json >"$tmp/json-$id" 2>>"$tmp/err-$id"
    if [ "$kerrno" = 0 ]; then
        want_rc=0
        want_errno='"errno" : null'
    else
        want_rc=3
        want_errno="\"errno\" : \"$kerrno\""
    fi
    verdict=0
    [ "$rc" = "$want_rc" ] && grep -q "$want_errno" "$tmp/json-$id" || verdict=1
    host_ok "$verdict" \
        "itsmigctl its inspect on guest image $id: exit $rc and errno as the kernel's ($kerrno)"
    [ "$verdict" = 0 ] || sed 's/^/#   /' "$tmp/err-$id"
    if grep -a -q "^ITSMIG-DUMP $id map " "$tmp/console"; then
        grep -a "^ITSMIG-DUMP $id map " "$tmp/console" | sed "s/^ITSMIG-DUMP $id map //" >"$tmp/want-$id"
        grep -E '^  ICID |^  device |^    event ' "$tmp/out-$id" >"$tmp/got-$id"
        cmp -s "$tmp/want-$id" "$tmp/got-$id"
        host_ok $? "itsmigctl its inspect on guest image $id: the mapping the guest programmed ($(wc -l <"$tmp/want-$id") lines)"
    fi
done

# ---- the probe's results, as `itsmigctl host probe --json` prints them ----------
# The guest prints its ITS and register probes between ITSMIG-PROBE markers
# and the time each run took on ITSMIG-PROBE-TIME lines; they are kept in the
# build tree for tests/kvm/update-probe-data.sh and tests/bench/bench-probe.sh.
probe_json="$builddir/tests/kvm/probe${suite:+-$suite}.json"
probe_times="$builddir/tests/kvm/probe${suite:+-$suite}.times"
p2j="$builddir/tests/kvm/probe-to-json"
[ -x "$p2j" ] || bail "$p2j has not been built"
"$p2j" "$tmp/run" >"$probe_json.tmp" 2>"$tmp/p2j-err"
verdict=$?
want=$(grep -a -c '^ITSMIG-PROBE reg ' "$tmp/run")
got=$(sed -n 's/^    "count" : \([0-9][0-9]*\),$/\1/p' "$probe_json.tmp")
[ "$verdict" = 0 ] && [ "$want" -gt 0 ] && [ "$got" = "$want" ] || verdict=1
host_ok "$verdict" "probe-to-json: the guest's probe reads back as host probe JSON, $got registers (guest listed $want)"
[ "$verdict" = 0 ] || sed 's/^/#   /' "$tmp/p2j-err"
mv "$probe_json.tmp" "$probe_json" && grep -a '^ITSMIG-PROBE-TIME ' "$tmp/run" >"$probe_times" ||
    bail "cannot write $probe_json or $probe_times"
echo "1..$n"
exit 0
