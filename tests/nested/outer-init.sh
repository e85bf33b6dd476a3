#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /itsmig-nested/init: PID 1 of the nested bed's outer guest, on its ext4
# root.  Mounts what libvirt and QEMU expect, runs the scenarios (or
# ITSMIG_NESTED_RUN's script, from /itsmig-nested/env) between two
# markers that carry the token nested-bed.sh put on the kernel command line,
# and powers off.  nested-bed.sh treats a missing end marker as a failed run.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
exec </dev/console >/dev/console 2>&1

token=none
for word in $(cat /proc/cmdline); do
    case "$word" in
    itsmig.token=*) token=${word#itsmig.token=} ;;
    esac
done
env_file=/itsmig-nested/env
[ -f "$env_file" ] && . "$env_file"

echo "ITSMIG-NESTED-START $token"
bash "/itsmig-nested/${ITSMIG_NESTED_RUN:-scenarios}.sh"
rc=$?
echo "ITSMIG-NESTED-END $token rc=$rc"
sync
echo o >/proc/sysrq-trigger
sleep 60
