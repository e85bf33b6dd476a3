#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the real-kernel bed's initramfs (busybox sh).  Runs the static
# test program, whose TAP goes to the console between two markers carrying
# the token kvm-bed.sh put on the kernel command line, then powers off.
# kvm-bed.sh treats a missing end marker as a failed run.

/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin

# In case the initramfs had no /dev/console when the kernel started us.
exec </dev/console >/dev/console 2>&1

token=none
for word in $(cat /proc/cmdline); do
    case "$word" in
    itsmig.token=*) token=${word#itsmig.token=} ;;
    esac
done

echo "ITSMIG-GUEST-START $token"
echo "# guest kernel $(uname -r) $(uname -m), $(grep -c ^processor /proc/cpuinfo) CPUs"
if [ -c /dev/kvm ]; then
    echo "# /dev/kvm present"
else
    echo "# /dev/kvm missing"
fi
/itsmig-guest-tests
rc=$?
echo "ITSMIG-GUEST-END $token rc=$rc"

# For the console log only (not TAP): what KVM said at boot.
dmesg | grep -i -e 'kvm' -e 'gic' -e 'its'

sync
poweroff -f
