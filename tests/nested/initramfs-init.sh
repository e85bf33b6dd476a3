#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the nested bed's outer guest initramfs (busybox sh): loads what
# mounting the ext4 root file system on virtio-blk takes (the modules are
# listed in loading order in /modules/order), mounts /dev/vda and hands over
# to the root's /itsmig-nested/init.

/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin
exec </dev/console >/dev/console 2>&1

for m in $(cat /modules/order); do
    insmod "/modules/$m.ko" || echo "initramfs: cannot load $m"
done
i=0
while [ ! -b /dev/vda ] && [ "$i" -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if ! mount -t ext4 /dev/vda /newroot; then
    echo "initramfs: cannot mount /dev/vda"
    echo o >/proc/sysrq-trigger
fi
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /itsmig-nested/init
