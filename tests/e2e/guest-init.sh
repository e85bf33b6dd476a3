#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the two-host bed's guest (busybox sh): loads the virtio PCI and
# virtio-rng modules, says which interrupts the guest's devices use, then
# runs the liveness probe on the console for as long as the guest lives.

/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin
exec </dev/console >/dev/console 2>&1

for m in virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio-rng; do
    insmod "/modules/$m.ko" || echo "init: cannot load $m"
done
# The device node may come a moment after the driver binds.
i=0
while [ ! -c /dev/hwrng ] && [ "$i" -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
echo "init: interrupts"
grep -e ITS-MSI -e ITS-PCI-MSI -e virtio /proc/interrupts
echo "init: probe starts"
exec /probe
