#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two-host bed (tests/e2e/bed.sh): faults around the non-migratable device a job unplugs
# before the move and plugs back (found by tests/e2e/chaos.sh).
#
# 1. libvirtd killed (-9) while it detached the device: the job did not know whether the
#    device went, the rollback found it still there (its unplug pending in the guest) and
#    left it, and the unplug completed afterwards.  itsmigd now reconnects, reads where the
#    device is (libvirt's live XML, QEMU's qom-list), says so in the job's error, and the
#    rollback waits for the late unplug and attaches the device back.
# 2. A device QEMU has and libvirt does not know of (as a libvirtd killed while it attached
#    the device leaves it; made here through QEMU's monitor): attaching it back failed with
#    QEMU's duplicate ID and the job needed attention.  itsmigd now removes it from QEMU
#    (device_del) and attaches it through libvirt.
# 3. A detach right after a hotplug: QEMU answers "guest is busy (power indicator blinking)"
#    while the guest still brings the slot up (its attention button waits 5 s), and the job
#    rolled back.  The detach is now asked again with back-off within the phase's time.  (On
#    a loaded machine the guest may have brought the slot up before the job's detach: then
#    QEMU does not answer busy, and that check is skipped, saying so.)

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"
# The test build: only it has the fault points ITSMIGD_FAULT arms.
ITSMIGD=$builddir/tests/itsmigd-fault
. "$srcdir/tests/e2e/bed.sh"

bed_up
bed_run() {
    _rh=$1
    shift
    bed_itsmigd "$_rh" --set "policy.non-migratable-devices=ua-scratch*" \
        --set migration.phase-timeout=60 "$@"
}
bed_run a
bed_run b
bed_guest a g1 "$BED_SCRATCH_DEVICE"
TABLET="<input type='tablet' bus='virtio'><alias name='ua-scratch0'/><address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></input>"
echo "$TABLET" >"$T/tablet.xml"

start_job() {
    use_itsmigd a
    api POST /v1/migrations -H 'Content-Type: application/json' -d '{"domain":"g1","destination":"b"}'
    ID=$(jbody .id)
    [ "$API_STATUS" = 202 ] || { api_diag; bail "cannot start a job"; }
}
wait_phase() {
    wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .phase)\" = $1 ] || [ \"\$(jbody .finished)\" = true ]" 60 &&
        [ "$(jbody .phase)" = "$1" ]
}
wait_end() {
    wait_for "api GET /v1/migrations/$ID; [ \"\$(jbody .finished)\" = true ]" 120 || api_diag
}
# qemu_has H ALIAS: QEMU on H has a device with that ID (qom-list /machine/peripheral).
qemu_has() {
    bed_virsh "$1" qemu-monitor-command g1 \
        '{"execute":"qom-list","arguments":{"path":"/machine/peripheral"}}' &&
        grep -q "\"name\":\"$2\"" "$T/virsh.out"
}

# ---- 1. libvirtd killed during the detach ------------------------------------------------

start_job
wait_phase quiesce-devices || { not_ok "the job is detaching the device"; api_diag; }
sleep 1
bed_kill_libvirtd a KILL
bed_restart_libvirtd a
wait_end
check_json "libvirtd killed during the detach: the job rolls back" '.phase == "rolled-back"'
check_json "... its error says the connection was lost, and where the device was after it" \
    '.error.code == "libvirt-unavailable" and (.error.message | test("connection to libvirt was lost while device .ua-scratch0. was being detached; after reconnecting it was"))'
# Longer than the guest takes to complete an unplug it was asked for.
sleep 8
bed_invariants "libvirtd killed during the detach, 8 s after the rollback" g1 a ua-scratch0
check "... and the guest sees the device on its PCI bus" bed_guest_sees_scratch g1 hostA

# ---- 2. a device QEMU has and libvirt does not know of ------------------------------------

use_itsmigd a
stop_itsmigd
bed_run a --env ITSMIGD_FAULT=before:attach-source:stop
start_job
wait_phase quiesce-devices || { not_ok "the job is detaching the device"; api_diag; }
api DELETE "/v1/migrations/$ID"
check_status "the job is aborted while the device is being released" 202
if wait_for "[ \"\$(ps -o stat= -p $ITSMIGD_PID | cut -c1)\" = T ]" 60; then
    ok "itsmigd stops itself before attaching the device back (fault injection)"
else
    not_ok "itsmigd stops itself before attaching the device back (fault injection)"
fi
wait_for "! bed_has_device a g1 ua-scratch0" 20 || diag "libvirt still lists ua-scratch0"
bed_virsh a qemu-monitor-command g1 '{"execute":"device_add","arguments":{"driver":"virtio-tablet-pci","id":"ua-scratch0","bus":"pci.1","addr":"0x0"}}' ||
    diag_file "$T/virsh.out"
if qemu_has a ua-scratch0 && ! bed_has_device a g1 ua-scratch0; then
    ok "QEMU has ua-scratch0 and libvirt does not list it"
else
    not_ok "QEMU has ua-scratch0 and libvirt does not list it"
fi
kill -CONT "$ITSMIGD_PID"
wait_end
check_json "a device only QEMU knew: the rollback removes it from QEMU and attaches it" \
    '.phase == "rolled-back" and .error.code == "aborted"'
check "... itsmigd says it removed the device from QEMU first" \
    grep -q "QEMU still had device ua-scratch0, which libvirt did not list" "$ITSMIGD_LOG"
bed_invariants "device only QEMU knew" g1 a ua-scratch0
check "... and the guest sees the device on its PCI bus" bed_guest_sees_scratch g1 hostA

# ---- 3. a detach right after a hotplug ----------------------------------------------------

use_itsmigd a
stop_itsmigd
bed_run a
bed_virsh a detach-device g1 "$T/tablet.xml" --live || diag_file "$T/virsh.out"
wait_for "! bed_has_device a g1 ua-scratch0" 20 || diag "libvirt still lists ua-scratch0"
bed_virsh a attach-device g1 "$T/tablet.xml" --live || diag_file "$T/virsh.out"
start_job
wait_end
# QEMU answers busy only while the guest still brings the slot up; on a loaded machine the
# guest may be done before the job's detach comes, and then there is nothing to ask again.
if grep -q "device ua-scratch0 cannot be detached yet (.*busy" "$ITSMIGD_LOG"; then
    ok "the detach right after the hotplug was answered busy, and asked again"
elif grep -q "migration $ID: detach \\[" "$ITSMIGD_LOG"; then
    skip "the detach right after the hotplug was answered busy, and asked again" \
        "the guest had brought the slot up before the job detached the device"
else
    not_ok "the detach right after the hotplug was answered busy, and asked again" \
        "the job did not detach the device"
fi
check_json "... and the job completes" '.phase == "done"'
bed_invariants "detach right after a hotplug" g1 b ua-scratch0

done_testing
