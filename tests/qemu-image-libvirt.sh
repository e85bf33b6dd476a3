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
# but not with --bypass-cache, where libvirt_iohelper reads it.  Needs
# root, unshare, libvirtd, virtlogd, virsh, qemu-system-aarch64 and the
# aarch64 cross compiler; skips otherwise.

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/daemon/lib.sh"

CTL=$builddir/client/itsmigctl
[ "$(id -u)" = 0 ] || skip_all "needs root for the private libvirtd's mount namespace"
for t in unshare libvirtd virtlogd virsh qemu-system-aarch64 python3; do
    command -v "$t" >/dev/null 2>&1 || skip_all "$t is not installed"
done
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
    mount --bind "$L/\${d%%:*}" "\${d#*:}" || exit 1
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
kill \$(cat /run/libvirt/libvirtd.pid) 2>/dev/null
kill \$(cat /run/libvirt/virtlogd.pid) 2>/dev/null
exit \$rc
INNS
if timeout 120 unshare -m --propagation private sh "$T/in-ns.sh" >"$T/in-ns.out" 2>&1; then
    ok "virsh save wrote a save image (and restore, managedsave, --bypass-cache ran)"
else
    not_ok "virsh save wrote a save image (and restore, managedsave, --bypass-cache ran)" "$(tail -n 20 "$T/in-ns.out")" \
        "$(tail -n 20 "$L/log/qemu/itsimg.log" 2>/dev/null)"
    done_testing
fi

is "$(cat "$T/held.0" 2>/dev/null)" "$T/itsimg.save" \
    "virsh restore: libvirtd holds the image open while the hook runs restore begin"
is "$(cat "$T/held.1" 2>/dev/null)" /var/lib/libvirt/qemu/save/itsimg.save \
    "managedsave + start: libvirtd holds the managed save image open during restore begin"
is "$(cat "$T/held.2" 2>/dev/null)" none \
    "virsh restore --bypass-cache: neither libvirtd nor a child holds the image during restore begin"

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

# The header's compression field names a format this reader refuses.
cp "$T/itsimg.save" "$T/gz.save"
printf '\001' | dd of="$T/gz.save" bs=1 seek=28 conv=notrunc 2>/dev/null
"$CTL" its inspect --image "$T/gz.save" >/dev/null 2>"$T/gz.err"
is "$?" 2 "a gzip save image: exit 2"
if grep -q "compressed with gzip" "$T/gz.err"; then
    ok "a gzip save image: the format named"
else
    not_ok "a gzip save image: the format named" "$(cat "$T/gz.err")"
fi
done_testing
