#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigctl its inspect --image on a save image that libvirt's QEMU driver
# writes (virsh save): a private libvirtd and virtlogd in a mount namespace
# of their own (/etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt
# and /var/cache/libvirt over directories of this test), an aarch64 TCG guest
# running the bare-metal its-fault program, which programs the ITS.  Also
# what a restore gate in the qemu hook can reach of the image: libvirtd holds
# it open while "restore begin" runs (virsh restore, managedsave + start),
# but not with --bypass-cache, where libvirt_iohelper reads it.  And the
# itsmig hook itself in those restores: the TCG guest's image is not judged,
# and crafted images of a KVM guest are judged before QEMU starts (refused
# with a broken ITE, also compressed; one whose tables restore is let
# through).  And an image libvirt writes compressed (save_image_format).  Needs
# root, unshare, libvirtd, virtlogd, virsh, qemu-system-aarch64 and the
# aarch64 cross compiler; skips otherwise (the compressed images without xz
# and zstd).

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/daemon/lib.sh"

CTL=$builddir/client/itsmigctl
[ "$(id -u)" = 0 ] || skip_all "needs root for the private libvirtd's mount namespace"
for t in unshare libvirtd virtlogd virsh qemu-system-aarch64 python3; do
    command -v "$t" >/dev/null 2>&1 || skip_all "$t is not installed"
done
# The compressed images need xz and zstd (scripts/deps.sh --test installs them).
ZIP=1
command -v xz >/dev/null 2>&1 && command -v zstd >/dev/null 2>&1 || ZIP=0
[ -n "${AARCH64_CC:-}" ] || skip_all "no aarch64 cross compiler for the its-fault guest"
"$AARCH64_CC" -ffreestanding -nostdlib -static -mstrict-align -mgeneral-regs-only \
    -fno-pie -no-pie -O2 -Wl,--no-warn-rwx-segments -T "$srcdir/tests/nested/its-fault.ld" \
    -o "$T/its-fault.elf" "$srcdir/tests/nested/its-fault-start.S" \
    "$srcdir/tests/nested/its-fault.c" || bail "cannot build the its-fault guest"

L=$T/lv
mkdir -p "$L/etc" "$L/run" "$L/lib" "$L/log" "$L/cache"
if [ -d /etc/libvirt ]; then cp -a /etc/libvirt/. "$L/etc/"; fi
# A qemu hook that writes, for each "restore begin", which save image its
# parent (libvirtd) or the parent's children hold open: files whose first
# bytes are libvirt's save magic, else "none".
mkdir -p "$L/etc/hooks"
cat >"$L/etc/hooks/qemu" <<HOOK
#!/bin/sh
cat >/dev/null
[ "\$2 \$3" = "restore begin" ] || exit 0
n=\$(ls "$T"/held.* 2>/dev/null | wc -l)
found=none
for fd in /proc/\$PPID/fd/* \$(for c in \$(cat /proc/\$PPID/task/*/children); do
    echo /proc/\$c/fd/*; done); do
    [ -f "\$fd" ] && [ "\$(head -c 16 "\$fd" 2>/dev/null)" = LibvirtQemudSave ] &&
        found=\$(readlink "\$fd")
done
echo "\$found" >"$T/held.\$n"
HOOK
chmod 755 "$L/etc/hooks/qemu"
# itsmig's hook as installed (qemu.d), its stderr kept for the test too; exec
# keeps libvirtd its parent.  No itsmigd runs: on-unreachable = allow lets
# through what the hook's own checks pass.
HOOK=$builddir/client/hooks/itsmig-hook
WRITE_IMAGE=$builddir/tests/write-save-image
[ -x "$HOOK" ] && [ -x "$WRITE_IMAGE" ] || bail "build first: no $HOOK or $WRITE_IMAGE"
mkdir -p "$L/etc/hooks/qemu.d"
printf '[api]\nsocket = %s\n[hook]\non-unreachable = allow\nrecord-dir = %s\n' \
    "$T/no-itsmigd.sock" "$T/records" >"$T/itsmigd.conf"
cat >"$L/etc/hooks/qemu.d/50-itsmig" <<HOOK
#!/bin/bash
exec env ITSMIG_CONFIG="$T/itsmigd.conf" "$HOOK" "\$@" 2> >(tee -a "$T/itsmig-hook.err" >&2)
HOOK
chmod 755 "$L/etc/hooks/qemu.d/50-itsmig"
# Save images of a KVM guest (the domain XML of one; the image written by
# tests/write-save-image): tables that restore, and an ITE below the LPI range.
cat >"$T/kvm.xml" <<DOMXML
<domain type='kvm'>
  <name>itskvm</name>
  <uuid>8d2c6f0a-5b1e-4c3d-9a7f-1e2d3c4b5a69</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64' machine='virt'>hvm</type></os>
  <features><gic version='3'/></features>
  <devices><emulator>$(command -v qemu-system-aarch64)</emulator></devices>
</domain>
DOMXML
"$WRITE_IMAGE" "$T/kvm-good.save" "$T/kvm.xml" good &&
    "$WRITE_IMAGE" "$T/kvm-bad.save" "$T/kvm.xml" bad-table || bail "cannot write the KVM images"
# compress IN OUT PROG CODE: the save image IN as libvirt writes it with
# save_image_format PROG (the header's format CODE, the QEMU stream through
# "PROG -c").
compress() {
    _skip=$((92 + $(od -An -tu4 -j20 -N4 "$1")))
    {
        head -c "$_skip" "$1"
        tail -c "+$((_skip + 1))" "$1" | "$3" -c
    } >"$2" && printf "\\$(printf %o "$4")" | dd of="$2" bs=1 seek=28 conv=notrunc 2>/dev/null
}
if [ "$ZIP" = 1 ]; then
    compress "$T/kvm-bad.save" "$T/kvm-bad-zst.save" zstd 5 || bail "cannot compress kvm-bad.save"
fi
cat >"$T/dom.xml" <<DOMXML
<domain type='qemu'>
  <name>itsimg</name>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='aarch64' machine='virt'>hvm</type>
    <kernel>$T/its-fault.elf</kernel>
  </os>
  <features><gic version='3'/></features>
  <cpu mode='custom' match='exact'><model>cortex-a57</model></cpu>
  <devices>
    <emulator>$(command -v qemu-system-aarch64)</emulator>
    <serial type='file'><source path='$T/console.log'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
DOMXML
# Everything runs in the namespace; the daemons are stopped through their pid
# files there before it ends.
cat >"$T/in-ns.sh" <<INNS
set -u
for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt \
    cache:/var/cache/libvirt; do
    # (a mount point: on a machine where libvirt has not run yet, some are not there)
    mkdir -p "\${d#*:}" && mount --bind "$L/\${d%%:*}" "\${d#*:}" || exit 1
done
virtlogd -d -p /run/libvirt/virtlogd.pid
libvirtd -d -p /run/libvirt/libvirtd.pid
v() { virsh -q -c qemu:///system "\$@"; }
for _ in \$(seq 1 100); do v uri >/dev/null 2>&1 && break; sleep 0.1; done
rc=1
if v define "$T/dom.xml" >/dev/null && v start itsimg >/dev/null; then
    for _ in \$(seq 1 300); do
        grep -q 'its-fault: ready' "$T/console.log" 2>/dev/null && break
        sleep 0.1
    done
    v save itsimg "$T/itsimg.save" >/dev/null && rc=0
    # QEMU truncates the console file when the guest is restored.
    cp "$T/console.log" "$T/console-saved.log"
    v restore "$T/itsimg.save" >/dev/null || rc=1
    v managedsave itsimg >/dev/null && v start itsimg >/dev/null || rc=1
    v save itsimg "$T/bypass.save" --bypass-cache >/dev/null || rc=1
    v restore "$T/bypass.save" --bypass-cache >/dev/null || rc=1
    v destroy itsimg >/dev/null 2>&1
fi
for img in kvm-bad kvm-good kvm-bad-zst; do
    [ -f "$T/\$img.save" ] || continue
    v restore "$T/\$img.save" >"$T/\$img.out" 2>&1
    echo \$? >"$T/\$img.rc"
done
# libvirtd again, now saving compressed (qemu.conf save_image_format).
[ "$ZIP" = 1 ] || { kill \$(cat /run/libvirt/libvirtd.pid) \$(cat /run/libvirt/virtlogd.pid); exit \$rc; }
pid=\$(cat /run/libvirt/libvirtd.pid)
kill \$pid
for _ in \$(seq 1 100); do kill -0 \$pid 2>/dev/null || break; sleep 0.1; done
echo 'save_image_format = "xz"' >>/etc/libvirt/qemu.conf
libvirtd -d -p /run/libvirt/libvirtd.pid
for _ in \$(seq 1 100); do v uri >/dev/null 2>&1 && break; sleep 0.1; done
if v start itsimg >/dev/null; then
    for _ in \$(seq 1 300); do
        grep -q 'its-fault: ready' "$T/console.log" 2>/dev/null && break
        sleep 0.1
    done
    v save itsimg "$T/itsimg-xz.save" >/dev/null || rc=1
    v restore "$T/itsimg-xz.save" >/dev/null || rc=1
    v destroy itsimg >/dev/null 2>&1
else
    rc=1
fi
kill \$(cat /run/libvirt/libvirtd.pid) 2>/dev/null
kill \$(cat /run/libvirt/virtlogd.pid) 2>/dev/null
exit \$rc
INNS
if timeout 240 unshare -m --propagation private sh "$T/in-ns.sh" >"$T/in-ns.out" 2>&1; then
    ok "virsh save wrote a save image (and restore, managedsave, --bypass-cache, xz ran)"
else
    not_ok "virsh save wrote a save image (and restore, managedsave, --bypass-cache, xz ran)" "$(tail -n 20 "$T/in-ns.out")" \
        "$(tail -n 20 "$L/log/qemu/itsimg.log" 2>/dev/null)"
    done_testing
fi

is "$(cat "$T/held.0" 2>/dev/null)" "$T/itsimg.save" \
    "virsh restore: libvirtd holds the image open while the hook runs restore begin"
is "$(cat "$T/held.1" 2>/dev/null)" /var/lib/libvirt/qemu/save/itsimg.save \
    "managedsave + start: libvirtd holds the managed save image open during restore begin"
is "$(cat "$T/held.2" 2>/dev/null)" none \
    "virsh restore --bypass-cache: neither libvirtd nor a child holds the image during restore begin"

# The itsmig hook in real restores: the TCG guest's image is not judged (it
# has no in-kernel ITS) and the restores went on; the KVM guest's image with a
# broken ITE is refused, naming the finding, before libvirt starts QEMU.
if grep -q "^itsmig: restore of itsimg: the saved image is not read: a domain of type qemu has no in-kernel ITS\$" \
    "$T/itsmig-hook.err"; then
    ok "itsmig hook, real restore of the TCG guest: not judged, with a note, and restored"
else
    not_ok "itsmig hook, real restore of the TCG guest: not judged, with a note, and restored" \
        "$(cat "$T/itsmig-hook.err" 2>/dev/null)"
fi
want="itsmig: refusing restore of itskvm: the ITS tables of $T/kvm-bad.save would make KVM_DEV_ARM_ITS_RESTORE_TABLES fail with EINVAL: ite-pintid-below-lpi-range: "
if [ "$(cat "$T/kvm-bad.rc")" != 0 ] && grep -qF "$want" "$T/kvm-bad.out"; then
    ok "itsmig hook, virsh restore of a KVM image with a broken ITE: refused, libvirt quoting the finding"
else
    not_ok "itsmig hook, virsh restore of a KVM image with a broken ITE: refused, libvirt quoting the finding" \
        "exit $(cat "$T/kvm-bad.rc"): $(cat "$T/kvm-bad.out")"
fi
want="itsmig: refusing restore of itskvm: the ITS tables of $T/kvm-bad-zst.save would make KVM_DEV_ARM_ITS_RESTORE_TABLES fail with EINVAL: ite-pintid-below-lpi-range: "
if [ "$ZIP" = 0 ]; then
    skip "itsmig hook, virsh restore of that image compressed with zstd" "no xz or zstd"
elif [ "$(cat "$T/kvm-bad-zst.rc")" != 0 ] && grep -qF "$want" "$T/kvm-bad-zst.out"; then
    ok "itsmig hook, virsh restore of that image compressed with zstd: decompressed, refused, naming the finding"
else
    not_ok "itsmig hook, virsh restore of that image compressed with zstd: decompressed, refused, naming the finding" \
        "exit $(cat "$T/kvm-bad-zst.rc"): $(cat "$T/kvm-bad-zst.out")"
fi
if ! grep -q "refusing restore of itskvm" "$T/kvm-good.out" &&
    grep -q "^itsmig: allowing restore of itskvm without a check: itsmigd unreachable" \
        "$T/itsmig-hook.err"; then
    ok "itsmig hook, virsh restore of a KVM image whose tables restore: let through to itsmigd's check"
else
    not_ok "itsmig hook, virsh restore of a KVM image whose tables restore: let through to itsmigd's check" \
        "exit $(cat "$T/kvm-good.rc"): $(cat "$T/kvm-good.out")" "$(cat "$T/itsmig-hook.err")"
fi
diag "virsh restore of the KVM image that passes the gate: $(cat "$T/kvm-good.out")"

jget() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
readback() {
    sed -n "s/^its-fault: $1 readback=\(0x[0-9a-f]*\).*/\1/p" "$T/console-saved.log" | head -n 1
}
is "$(head -c 16 "$T/itsimg.save")" "LibvirtQemudSave" "the image has libvirt's header"
"$CTL" its inspect --image "$T/itsimg.save" --json >"$T/out.json" 2>"$T/out.err"
is "$?" 0 "inspect reads libvirt's save image"
is "$(jget "$T/out.json" 'd["image"]["format"]')" "libvirt-save" "recognised as a libvirt save image"
is "$(jget "$T/out.json" 'd["image"]["its"]["gits_baser"][1]')" \
    "$(readback 'collection table GITS_BASER1')" "GITS_BASER1 as the guest read it back"
is "$(jget "$T/out.json" 'd["image"]["its"]["gits_cbaser"]')" "$(readback GITS_CBASER)" \
    "GITS_CBASER as the guest read it back"
is "$(jget "$T/out.json" '[f["code"] for f in d["findings"] if f["code"] == "image-tables-empty"]')" \
    "['image-tables-empty']" "the tables lack what the ITS ran"

# The image libvirt wrote with save_image_format = "xz": held open during
# restore begin like a raw one, and read through xz to the same ITS state.
[ "$ZIP" = 1 ] || {
    skip "the images libvirt writes compressed" "no xz or zstd"
    done_testing
}
if grep -qxF "$T/itsimg-xz.save" "$T"/held.* 2>/dev/null; then
    ok "virsh restore of an xz image: libvirtd holds it open while the hook runs restore begin"
else
    not_ok "virsh restore of an xz image: libvirtd holds it open while the hook runs restore begin" \
        "$(cat "$T"/held.* 2>/dev/null)"
fi
is "$(od -An -tu4 -j28 -N4 "$T/itsimg-xz.save" | tr -d ' ')" 3 "libvirt wrote the image with xz (format 3)"
"$CTL" its inspect --image "$T/itsimg-xz.save" --json >"$T/xz.json" 2>"$T/xz.err"
is "$?" 0 "inspect reads libvirt's xz save image"
is "$(jget "$T/xz.json" 'd["image"]["compression"]')" xz "the compression named"
is "$(jget "$T/xz.json" '(d["image"]["its"], [f["code"] for f in d["findings"]])')" \
    "$(jget "$T/out.json" '(d["image"]["its"], [f["code"] for f in d["findings"]])')" \
    "the same ITS registers and findings as the raw image of the same guest"
"$CTL" its inspect --image "$T/itsimg-xz.save" >"$T/xz.txt" 2>&1
if grep -q "^  compressed with xz: [0-9]* bytes of stream" "$T/xz.txt"; then
    ok "inspect says the image is compressed with xz"
else
    not_ok "inspect says the image is compressed with xz" "$(head -n 3 "$T/xz.txt")"
fi

# The header names gzip, but the stream is not: gzip's own reason.
cp "$T/itsimg.save" "$T/gz.save"
printf '\001' | dd of="$T/gz.save" bs=1 seek=28 conv=notrunc 2>/dev/null
"$CTL" its inspect --image "$T/gz.save" >/dev/null 2>"$T/gz.err"
is "$?" 2 "a gzip save image that is not gzip: exit 2"
if grep -q "gzip -dc failed with exit status 1: gzip: stdin: not in gzip format" "$T/gz.err"; then
    ok "a gzip save image that is not gzip: gzip's reason"
else
    not_ok "a gzip save image that is not gzip: gzip's reason" "$(cat "$T/gz.err")"
fi
done_testing
