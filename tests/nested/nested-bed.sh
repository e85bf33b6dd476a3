#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The nested bed: the whole chain on a real arm64 KVM with the in-kernel
# GICv3 ITS.  The Debian arm64 kernel boots under qemu-system-aarch64 (TCG,
# virtualization=on, so /dev/kvm works inside) on an ext4 root made of
# Debian's arm64 packages (QEMU, libvirt) and an arm64 build of itsmig,
# installed as a package installs it.  Inside, two libvirt "hosts" each with
# their itsmigd run KVM guests and the scenarios of tests/nested/scenarios.sh.
#
# Usage: nested-bed.sh [SUITE]
#
# SUITE (bookworm, trixie, trixie-backports, ...) picks the outer kernel, the
# arm64 host's: that suite's current candidate with its modules (see
# tests/kvm/fetch-kernel.sh); without one, this machine's own suite.  The
# root file system is Debian 12's QEMU and libvirt, or, with
# ITSMIG_NESTED_USERLAND set to a suite, that suite's (the same packages,
# tests/nested/rootfs-packages); itsmig is the same arm64 build either way
# (tests/nested/userland.sh).  The nested guests boot the same kernel as the
# host.
#
# Prints TAP on stdout: the scenarios' results, then "Bail out!" when the
# outer guest did not finish (download or build failure, crash, timeout), so
# such a run fails instead of passing quietly.  The console goes to
# tests/nested/nested-bed.console.log in the build tree
# (nested-bed-SUITE.console.log with a SUITE).
#
# Environment (set by make check): top_srcdir, top_builddir, QEMU_AARCH64,
# AARCH64_CC; ITSMIG_CACHE_DIR (downloads, see tests/kvm/fetch-kernel.sh and
# tests/nested/fetch-debs.sh); ITSMIG_NESTED_USERLAND (above);
# ITSMIG_NESTED_BED_TIMEOUT (seconds for the
# outer guest, default 2400); ITSMIG_NESTED_PAUSE_ROUNDS (how often the
# scenarios measure the pause without and with itsmigd, default 1);
# ITSMIG_NESTED_PAUSE_OUT (a file for those measurements, one line each).
# For other runs on the same guest (tests/nested/xk-matrix.sh):
# ITSMIG_NESTED_RUN (what the outer guest runs instead of scenarios.sh:
# xk-guest, or xk-live-host for tests/nested/xk-live.sh); ITSMIG_NESTED_DATA (a disk image given to it as a second
# virtio disk, and kept); ITSMIG_XK_LABEL, ITSMIG_XK_RESTORE and
# ITSMIG_XK_SAVE (passed on to it); ITSMIG_NESTED_CONSOLE (the console's
# file instead of the one above); ITSMIG_NESTED_INSTALL (an arm64 build of
# itsmig, installed by cross-build.sh, to use instead of building one).
# For two outer guests networked to each other (tests/nested/xk-live.sh):
# ITSMIG_NESTED_NET=LOCAL:REMOTE (a virtio-net NIC on a QEMU UDP socket
# netdev, receiving on 127.0.0.1:LOCAL and sending to 127.0.0.1:REMOTE, its
# MAC address made of LOCAL); ITSMIG_NESTED_TLS (a directory whose cert.pem
# and key.pem both hosts use, instead of a certificate made here);
# ITSMIG_NESTED_LOCKED=1 (the caller holds the beds' lock: do not wait for
# it); ITSMIG_XK_ROLE, ITSMIG_XK_PEER, ITSMIG_XK_ADDR_A, ITSMIG_XK_ADDR_B
# (passed on to tests/nested/xk-live-host.sh).

set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
qemu=${QEMU_AARCH64:-qemu-system-aarch64}
timeout_s=${ITSMIG_NESTED_BED_TIMEOUT:-2400}
rounds=${ITSMIG_NESTED_PAUSE_ROUNDS:-1}
here=$srcdir/tests/nested
probe=$builddir/tests/e2e/itsmig-guest-probe
its_fault=$builddir/tests/nested/its-fault.elf
its_map=$builddir/tests/nested/its-map.elf
suite=${1:-}
userland=${ITSMIG_NESTED_USERLAND:-}
run=${ITSMIG_NESTED_RUN:-scenarios}
data=${ITSMIG_NESTED_DATA:-}
console=${ITSMIG_NESTED_CONSOLE:-$builddir/tests/nested/nested-bed${suite:+-$suite}${userland:+-root-$userland}.console.log}

. "$srcdir/tests/kvm/boot.sh"

case "$suite$userland" in
*[!a-z0-9.-]*) bail "'$suite' or '$userland' is not a suite name" ;;
esac
case "$run" in
scenarios | xk-guest | xk-live-host) ;;
*) bail "ITSMIG_NESTED_RUN is scenarios, xk-guest or xk-live-host, not '$run'" ;;
esac
[ -z "$data" ] || [ -f "$data" ] || bail "ITSMIG_NESTED_DATA: no file $data"
# What xk-guest.sh and xk-live-host.sh take: labels, lists of them, flags, addresses.
xk_env=
for v in ITSMIG_XK_LABEL ITSMIG_XK_RESTORE ITSMIG_XK_SAVE ITSMIG_XK_ROLE ITSMIG_XK_PEER \
    ITSMIG_XK_ADDR_A ITSMIG_XK_ADDR_B; do
    eval "val=\${$v:-}"
    case "$val" in
    *[!a-z0-9.,-]*) bail "$v holds other than labels: '$val'" ;;
    ?*) xk_env="$xk_env $v=$val" ;;
    esac
done
net=${ITSMIG_NESTED_NET:-}
netdev=
if [ -n "$net" ]; then
    net_local=${net%%:*} net_remote=${net#*:}
    case "$net" in
    *[!0-9:]* | :* | *: | *:*:*) bail "ITSMIG_NESTED_NET is LOCAL:REMOTE (two UDP ports), not '$net'" ;;
    *:*) ;;
    *) bail "ITSMIG_NESTED_NET is LOCAL:REMOTE (two UDP ports), not '$net'" ;;
    esac
    [ "$net_local" -ge 1024 ] && [ "$net_local" -le 65535 ] && [ "$net_remote" -ge 1024 ] &&
        [ "$net_remote" -le 65535 ] || bail "ITSMIG_NESTED_NET: ports are 1024 to 65535, not '$net'"
    netdev="socket,id=net0,udp=127.0.0.1:$net_remote,localaddr=127.0.0.1:$net_local"
    mac=$(printf '52:54:00:49:%02x:%02x' $((net_local / 256)) $((net_local % 256)))
fi
tls=${ITSMIG_NESTED_TLS:-}
[ -z "$tls" ] || { [ -f "$tls/cert.pem" ] && [ -f "$tls/key.pem" ]; } ||
    bail "ITSMIG_NESTED_TLS: no cert.pem and key.pem in $tls"
for v in "$timeout_s" "$rounds"; do
    case "$v" in
    '' | *[!0-9]*) bail "ITSMIG_NESTED_BED_TIMEOUT and ITSMIG_NESTED_PAUSE_ROUNDS must be numbers, not '$v'" ;;
    esac
done
[ "$(id -u)" = 0 ] || {
    echo "1..0 # SKIP the nested bed needs root (it unpacks packages owned by root)"
    exit 0
}
git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
    echo "1..0 # SKIP the nested bed builds itsmig for arm64 from a git work tree; $srcdir is none"
    exit 0
}
for tool in "$qemu" cpio gzip timeout mkfs.ext4 openssl git flock; do
    command -v "$tool" >/dev/null 2>&1 || bail "$tool not found (scripts/deps.sh --test installs it)"
done
[ -x "$probe" ] || bail "$probe has not been built"
for elf in "$its_fault" "$its_map"; do
    [ -f "$elf" ] || bail "$elf has not been built"
done
mkdir -p "$(dirname "$console")" || bail "cannot create $(dirname "$console")"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/itsmig-nested.XXXXXX") || bail "cannot create a temporary directory"

# ---- the kernel, busybox, the packages, itsmig for arm64 -------------------------------------

t0=$(date +%s)
fetched=$(sh "$srcdir/tests/kvm/fetch-kernel.sh" $suite 2>"$tmp/fetch.err") || {
    sed 's/^/# /' "$tmp/fetch.err"
    bail "cannot fetch the arm64 kernel${suite:+ of $suite} or busybox"
}
value() {
    printf '%s\n' "$fetched" | sed -n "s/^$1=//p"
}
vmlinuz=$(value vmlinuz)
busybox=$(value busybox)
guest_mods=$(value modules)
root_mods=$(value root_modules)
[ -f "$vmlinuz" ] && [ -f "$busybox" ] && [ -f "$root_mods/order" ] ||
    bail "fetch-kernel.sh gave no kernel, busybox or root modules"
echo "# the outer kernel: $(value kernel_package) $(value kernel_version)${suite:+ ($suite)}"

# shellcheck disable=SC2046
base=$(ITSMIG_DEBS_SUITE=$userland sh "$here/fetch-debs.sh" rootfs $(sed '/^#/d' "$here/rootfs-packages") \
    2>"$tmp/debs.err") || {
    sed 's/^/# /' "$tmp/debs.err"
    bail "cannot fetch the arm64 packages of the outer guest"
}
echo "# the root file system: the packages of ${userland:-this machine} ($(sed -n 's/^\(libvirt0_[^_]*\)_.*/\1/p;s/^\(qemu-system-arm_[^_]*\)_.*/\1/p' "$base/.packages" | tr '\n' ' '))"
if [ -n "${ITSMIG_NESTED_INSTALL:-}" ]; then
    [ -x "$ITSMIG_NESTED_INSTALL/usr/sbin/itsmigd" ] || bail "ITSMIG_NESTED_INSTALL: no itsmig in $ITSMIG_NESTED_INSTALL"
    cp -a "$ITSMIG_NESTED_INSTALL" "$tmp/install" || bail "cannot copy $ITSMIG_NESTED_INSTALL"
else
    AARCH64_CC=${AARCH64_CC:-aarch64-linux-gnu-gcc} sh "$here/cross-build.sh" "$srcdir" "$tmp/install" \
        2>"$tmp/cross.err" || {
        sed 's/^/# /' "$tmp/cross.err"
        bail "cannot build itsmig for arm64"
    }
fi
echo "# packages and the arm64 build of itsmig ready after $(($(date +%s) - t0)) s"

# ---- the outer guest's root file system -----------------------------------------------------

root=$tmp/root
# A merged-/usr root (Debian 13) has /lib as a link to usr/lib: kept as it is.
cp -a "$base" "$root" && rm -f "$root/.complete" &&
    tar -C "$tmp/install" -cf - . | tar -C "$root" -xf - --keep-directory-symlink ||
    bail "cannot assemble the root file system"
n=$root/itsmig-nested
mkdir -p "$n/tls" "$n/initrd/bin" "$n/initrd/modules" "$root/bin" || bail "mkdir in $root"
# What maintainer scripts would have made: accounts, alternatives, /var/run.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
libvirt-qemu:x:64055:108:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
kvm:x:104:libvirt-qemu
libvirt:x:107:
libvirt-qemu:x:108:libvirt-qemu
EOF
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
ln -sf mawk "$root/usr/bin/awk"
rm -rf "$root/var/run" && ln -s /run "$root/var/run"
cp "$busybox" "$root/bin/busybox" &&
    cp "$here/outer-init.sh" "$n/init" &&
    cp "$here/bed-lib.sh" "$here/scenarios.sh" "$here/xk-guest.sh" "$here/xk-live-host.sh" "$n/" &&
    cp "$vmlinuz" "$n/vmlinuz" &&
    cp "$its_fault" "$n/its-fault.elf" &&
    cp "$its_map" "$n/its-map.elf" &&
    chmod 0755 "$n/init" "$root/bin/busybox" || bail "cannot copy the bed's files into $n"
{
    echo "export ITSMIG_NESTED_PAUSE_ROUNDS=$rounds ITSMIG_NESTED_RUN=$run"
    [ -z "$xk_env" ] || echo "export$xk_env"
} >"$n/env"
if [ -n "$tls" ]; then
    cp "$tls/cert.pem" "$tls/key.pem" "$n/tls/" || bail "cannot copy the certificate of $tls"
else
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=itsmig-nested \
        -addext "subjectAltName=IP:127.0.0.1" -keyout "$n/tls/key.pem" -out "$n/tls/cert.pem" \
        >/dev/null 2>&1 || bail "openssl cannot make a certificate"
fi

# The nested guests' initramfs: the two-host bed's probe on a virtio-rng.
cp "$busybox" "$n/initrd/bin/busybox" &&
    cp "$srcdir/tests/e2e/guest-init.sh" "$n/initrd/init" &&
    cp "$probe" "$n/initrd/probe" &&
    cp "$guest_mods"/*.ko "$n/initrd/modules/" &&
    chmod 0755 "$n/initrd/init" "$n/initrd/probe" "$n/initrd/bin/busybox" ||
    bail "cannot assemble the nested guests' initramfs"
(cd "$n/initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 \
    >"$n/initrd.img" || bail "cannot pack the nested guests' initramfs"
rm -rf "$n/initrd"

truncate -s 3G "$tmp/root.img" &&
    mkfs.ext4 -q -F -L itsmig-nested -E root_owner=0:0 -d "$root" "$tmp/root.img" >"$tmp/mkfs.out" 2>&1 || {
    sed 's/^/# /' "$tmp/mkfs.out"
    bail "mkfs.ext4 cannot make the root file system"
}
rm -rf "$root"

# The outer guest's initramfs: busybox and the modules for an ext4 root on virtio-blk.
ird=$tmp/initrd
mkdir -p "$ird/bin" "$ird/modules" &&
    cp "$busybox" "$ird/bin/busybox" &&
    cp "$here/initramfs-init.sh" "$ird/init" &&
    cp "$root_mods"/*.ko "$root_mods/order" "$ird/modules/" &&
    chmod 0755 "$ird/init" "$ird/bin/busybox" || bail "cannot assemble the outer initramfs"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$tmp/initrd.gz" ||
    bail "cannot pack the outer initramfs"

# One bed at a time on this machine (the two-host bed takes the same lock):
# guests under TCG share two cores.
if [ "${ITSMIG_NESTED_LOCKED:-}" != 1 ]; then
    exec 8>"${TMPDIR:-/tmp}/itsmig-e2e.lock"
    flock -w 3600 8 || bail "another bed holds ${TMPDIR:-/tmp}/itsmig-e2e.lock"
fi

token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
[ -n "$token" ] || bail "cannot read /dev/urandom"

# ---- boot ---------------------------------------------------------------------------------

echo "# booting $(basename "$vmlinuz") under $qemu with the root in a $(du -h "$tmp/root.img" | cut -f1) image, console in $console"
boot_qemu "$timeout_s" "$console" \
    -machine virt,gic-version=3,its=on,virtualization=on -cpu max -m 3072 -smp 2 \
    -nographic -nodefaults -serial stdio -no-reboot \
    -kernel "$vmlinuz" -initrd "$tmp/initrd.gz" \
    -drive "file=$tmp/root.img,if=none,id=root,format=raw,cache=unsafe" \
    -device virtio-blk-pci,drive=root \
    ${data:+-drive "file=$data,if=none,id=data,format=raw,cache=unsafe" -device virtio-blk-pci,drive=data} \
    ${netdev:+-netdev "$netdev" -device "virtio-net-pci,netdev=net0,mac=$mac,romfile="} \
    -append "console=ttyAMA0 quiet loglevel=1 panic=-1 itsmig.token=$token"

# ---- the scenarios' TAP ---------------------------------------------------------------------

boot_section ITSMIG-NESTED "$token"
grep -a -E '^(ok|not ok)( |$)|^1\.\.[0-9]+$|^# |^Bail out!' "$tmp/run"
if [ -n "${ITSMIG_NESTED_PAUSE_OUT:-}" ]; then
    grep -a '^ITSMIG-NESTED-PAUSE ' "$tmp/run" | sed 's/^ITSMIG-NESTED-PAUSE //' >"$ITSMIG_NESTED_PAUSE_OUT"
fi
echo "# the outer guest ran for ${elapsed}s; qemu exited with status $qrc"
boot_finished scenarios
grep -a -q '^1\.\.[0-9][0-9]*$' "$tmp/run" ||
    bail "the scenarios printed no plan (${end_line#ITSMIG-NESTED-END $token }, see $console)"
exit 0
