#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The nested bed's scenarios, run inside the outer arm64 guest (see
# nested-bed.sh) by its init.  Two arm64 "hosts" share the guest's kernel,
# KVM and loopback:
#
#   hostA  the initial namespaces: libvirtd on 127.0.0.1:16509, itsmigd
#          with HTTPS for its peer on 127.0.0.1:7441
#   hostB  its own mount and UTS namespaces (tmpfs over /run and libvirt's
#          and itsmigd's state, its own /etc/libvirt and /etc/itsmig):
#          libvirtd on 127.0.0.1:16510, itsmigd on 127.0.0.1:7442
#
# itsmig is installed as a package would install it (/usr, /etc/itsmig, the
# hook gate in /etc/libvirt/hooks/qemu.d).  Guests are type='kvm' with
# host-passthrough and a GICv3: QEMU uses the kernel's vITS, and the outer
# kernel's trace (kprobe events) shows its table saves and restores.
# itsmigctl host validate runs on both hosts, as an operator runs it there.
#
# Prints TAP: "ok N - ..." / "not ok N - ...", "# ..." comments and, last,
# the plan.  Lines "ITSMIG-NESTED-PAUSE ..." carry the pause measurements.
# Everything else a failed check needs is printed as comments.

. /itsmig-nested/bed-lib.sh
ROUNDS=${ITSMIG_NESTED_PAUSE_ROUNDS:-1}

# ---- start -------------------------------------------------------------------------

diag "outer kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
diag "$(qemu-system-aarch64 --version | head -n 1); $(libvirtd --version)"
[ -c /dev/kvm ] || bail "the outer guest has no /dev/kvm"
trace_setup || bail "cannot set up kprobe events on $TRACED in $TR"

host_config a
host_config b
hostname hostA
unshare -m -u --propagation private bash -c '
    mount -t tmpfs tmpfs /run &&
        mkdir -p /run/libvirt /run/lock &&
        mount --bind /etc/libvirt-b /etc/libvirt &&
        mount --bind /etc/itsmig-b /etc/itsmig &&
        for d in /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /var/lib/itsmigd; do
            mkdir -p "$d" && mount -t tmpfs tmpfs "$d" || exit 1
        done &&
        mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu &&
        hostname hostB || exit 1
    : >/tmp/nested/holder-ready
    exec sleep 1000000' >"$W/holder.log" 2>&1 &
HOLDER_B=$!
wait_for "[ -f $W/holder-ready ]" 10 || {
    diag_file "$W/holder.log"
    bail "cannot set up hostB's namespaces"
}
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt /var/lib/itsmigd
t0=$SECONDS
start_libvirtd a
start_libvirtd b
diag "kprobe events set up, hostB's namespaces made, both libvirtd started"
for h in a b; do
    # The first answer waits for libvirtd's probe of QEMU's capabilities.
    wait_for "on $h virsh -q -c qemu:///system uri >/dev/null 2>&1" 300 || {
        diag_file "$W/libvirtd-$h.out"
        on "$h" cat /var/log/libvirt/libvirtd.log >"$W/libvirtd-$h.log" 2>/dev/null
        diag_file "$W/libvirtd-$h.log"
        bail "$(hostname_of "$h")'s libvirtd does not answer"
    }
done
diag "both libvirtd answer after $((SECONDS - t0)) s"
virsh_on a domcapabilities --virttype kvm --arch aarch64 --machine virt
if grep -q "<domain>kvm</domain>" "$W/virsh.out"; then
    ok "libvirt on hostA offers KVM for aarch64 virt"
else
    not_ok "libvirt on hostA offers KVM for aarch64 virt"
    diag_file "$W/virsh.out"
fi

start_itsmigd a
start_itsmigd b

# ---- the probe --------------------------------------------------------------------

for h in a b; do
    ctl "$h" host --json
    cp "$W/ctl.out" "$W/host-$h.json"
    jq_ok "$(hostname_of "$h"): /v1/host shows the KVM probe's values, none declared" \
        '.probe.available == true and .conflicts == [] and
         ([.caps[] | .source] | all(. != "declared")) and
         .caps.arch.value == "aarch64" and .caps.arch.source == "probed" and
         .caps.vgic_its == {"value": true, "source": "probed"} and
         .caps.its_abi_revisions.source == "probed" and (.caps.its_abi_revisions.value | index(0)) != null and
         .caps.default_its_abi_revision == {"value": 0, "source": "probed"} and
         .caps.gicd_revision.source == "probed" and
         .caps.save_tables == {"value": true, "source": "probed"} and
         .caps.restore_tables == {"value": true, "source": "probed"} and
         .caps.save_pending_tables == {"value": true, "source": "probed"}' "$W/host-$h.json"
done
diag "hostA probed: $(jq -c '[.caps | to_entries[] | select(.value.source == "probed") | {(.key): .value.value}] | add' "$W/host-a.json")"

# ---- itsmigctl host validate on a real arm64 KVM ------------------------------------------
# Run as an operator would on each host, with the bed's own configuration
# (the default path): every check must say what is true here.  What it found
# is compared with what the bed set up and with other witnesses: /v1/host's
# probe, libvirtd's version, the kernel's clock status read by busybox.

# vcheck ID STATUS DETAIL-REGEX NAME [FILE]: the check ID in the report FILE
# ($W/ctl.out) has STATUS, a detail matching the regex and, unless it
# passed, a hint.
vcheck() {
    _got=$(jq -r --arg id "$1" '.checks[] | select(.id == $id) | "\(.status)|\(.detail)|\(.hint)"' \
        "${5:-$W/ctl.out}" 2>/dev/null)
    _status=${_got%%|*}
    _rest=${_got#*|}
    _detail=${_rest%%|*}
    _hint=${_rest#*|}
    if [ "$_status" = "$2" ] && printf '%s' "$_detail" | grep -Eq -- "$3" &&
        { [ "$2" = pass ] || { [ -n "$_hint" ] && [ "$_hint" != null ]; }; }; then
        ok "$4"
    else
        not_ok "$4" "$1: got '$_got', wanted $2 matching '$3'"
    fi
}
# validate_rc FILE: the exit status a report calls for (0 all pass, 1 warnings, 2 a failure).
validate_rc() {
    jq 'if .fail > 0 then 2 elif .warn > 0 then 1 else 0 end' "$1" 2>/dev/null
}

ctl a host validate --json
cp "$W/ctl.out" "$W/validate-a.json"
VRC_A=$CTL_RC
jq_ok "validate hostA: --json reports the checks, counted" \
    '(.checks | length) > 0 and (.pass + .warn + .fail) == (.checks | length)'
diag "validate hostA (exit $VRC_A): $(jq -r '[.checks[] | "\(.id)=\(.status)"] | join(" ")' "$W/validate-a.json" 2>/dev/null)"
jq -r '.checks[] | select(.status != "pass") | "\(.id): \(.status): \(.detail); hint: \(.hint)"' \
    "$W/validate-a.json" 2>/dev/null | sed 's/^/# validate hostA: /'
# Everything the bed has must be among the checks, and nothing else.
jq_ok "validate hostA: exactly the checks of a host with one peer (hostB)" \
    '[.checks[].id] == ["arch", "kvm", "vgic-its", "its-controls", "config", "libvirt",
      "qemu-log-dir", "stdio-handler", "hook", "state-dir", "tls", "peer:b", "clock"]'
vcheck arch pass '^aarch64$' "validate hostA: arch PASS (aarch64)"
vcheck kvm pass '^KVM API version 12$' "validate hostA: /dev/kvm PASS (KVM API version 12)"
# The revisions as /v1/host's probe found them.
revs=$(jq -r '.caps.its_abi_revisions.value | map(tostring) | join(", ")' "$W/host-a.json" 2>/dev/null)
vcheck vgic-its pass "^ITS table ABI revisions ${revs:-?} \\(a new ITS uses $(jq -r .caps.default_its_abi_revision.value "$W/host-a.json")\\)\$" \
    "validate hostA: vGICv3 + ITS PASS (revisions ${revs:-?}, as /v1/host's probe found)"
if [ "$(jq -r .caps.ctrl_reset.value "$W/host-a.json")" = true ]; then
    vcheck its-controls pass '^SAVE_TABLES RESTORE_TABLES SAVE_PENDING_TABLES CTRL_RESET$' \
        "validate hostA: ITS controls PASS (save, restore, pending save, reset)"
else
    vcheck its-controls warn 'CTRL_RESET missing' \
        "validate hostA: ITS controls WARN (this kernel has no CTRL_RESET, as /v1/host says)"
fi
vcheck config pass '^/etc/itsmig/itsmigd.conf$' "validate hostA: config PASS (the bed's itsmigd.conf)"
lv=$(libvirtd --version | awk '{ print $NF }')
vcheck libvirt pass "^qemu:///system, libvirt $lv\$" "validate hostA: libvirt PASS (qemu:///system, libvirt $lv)"
vcheck qemu-log-dir pass '^/var/log/libvirt/qemu$' "validate hostA: QEMU log directory PASS"
vcheck stdio-handler pass '^"file": ' "validate hostA: stdio_handler PASS (\"file\", as the bed's qemu.conf sets)"
vcheck hook pass '^/etc/libvirt/hooks/qemu.d/50-itsmig$' "validate hostA: hook PASS (installed, executable)"
vcheck state-dir pass '^/var/lib/itsmigd$' "validate hostA: state directory PASS"
vcheck tls pass '^/etc/itsmig/tls/cert.pem, /etc/itsmig/tls/key.pem$' "validate hostA: TLS PASS"
vcheck peer:b pass '^https://127.0.0.1:7442$' "validate hostA: peer hostB PASS (reachable, token accepted)"
# No NTP client runs in the bed: the kernel keeps the clock marked unsynchronized
# (STA_UNSYNC, 0x40) unless something says otherwise; busybox asks it the same way.
/bin/busybox adjtimex >"$W/adjtimex.out" 2>&1
clock_status=$(sed -n 's/^ *status: *\([0-9][0-9]*\).*/\1/p' "$W/adjtimex.out")
clock_maxerror=$(sed -n 's/^ *maxerror: *\([0-9][0-9]*\).*/\1/p' "$W/adjtimex.out")
if [ -z "$clock_status" ] || [ -z "$clock_maxerror" ]; then
    not_ok "validate hostA: the clock's status can be read with busybox adjtimex"
    diag_file "$W/adjtimex.out"
elif [ $((clock_status & 64)) != 0 ]; then
    vcheck clock warn 'not synchronized' "validate hostA: clock WARN (no NTP in the bed: status $clock_status, UNSYNC)"
elif [ "$clock_maxerror" -gt 1000000 ]; then
    vcheck clock warn 'estimated error' "validate hostA: clock WARN (estimated error $clock_maxerror us)"
else
    vcheck clock pass 'estimated error' "validate hostA: clock PASS (synchronized, as adjtimex says)"
fi
want_rc=$(validate_rc "$W/validate-a.json")
if [ "$VRC_A" = "$want_rc" ] && [ "$(jq -r '.warn' "$W/validate-a.json")" = "$(jq '[.checks[] | select(.status == "warn")] | length' "$W/validate-a.json")" ]; then
    ok "validate hostA: exit status $VRC_A follows the worst result"
else
    not_ok "validate hostA: exit status $VRC_A follows the worst result" "wanted ${want_rc:-?}"
    diag_file "$W/ctl.err" 10
fi
# The text report says the same.
ctl a host validate
n_lines=$(grep -Ec '^ITSMIG: Checking .* : (PASS|WARN|FAIL) \(' "$W/ctl.out")
n_pass=$(grep -Ec '^ITSMIG: Checking .* : PASS \(' "$W/ctl.out")
n_hints=$(grep -c '^        hint: .' "$W/ctl.out")
if [ "$CTL_RC" = "$VRC_A" ] && [ "$n_lines" = "$(jq '.checks | length' "$W/validate-a.json")" ] &&
    [ "$n_pass" = "$(jq .pass "$W/validate-a.json")" ] &&
    [ "$n_hints" = "$(jq '.warn + .fail' "$W/validate-a.json")" ]; then
    ok "validate hostA: the text report has the same lines, hints and exit status"
else
    not_ok "validate hostA: the text report has the same lines, hints and exit status" \
        "exit $CTL_RC, $n_lines lines, $n_pass PASS, $n_hints hints"
    diag_file "$W/ctl.out" 40
fi
sed 's/^/# /' "$W/ctl.out"

# hostB, in its own namespaces, sees its own configuration and its peer hostA.
ctl b host validate --json
cp "$W/ctl.out" "$W/validate-b.json"
vcheck peer:a pass '^https://127.0.0.1:7441$' "validate hostB: peer hostA PASS" "$W/validate-b.json"
if [ "$CTL_RC" = "$(validate_rc "$W/validate-b.json")" ] &&
    jq -e '[.checks[] | select(.id != "clock") | .status] | all(. == "pass")' "$W/validate-b.json" >/dev/null; then
    ok "validate hostB: every check but the clock PASS, exit status $CTL_RC"
else
    not_ok "validate hostB: every check but the clock PASS, exit status $CTL_RC"
    diag_file "$W/validate-b.json" 60
fi

# A token hostB does not accept: the peer check fails on hostB's real answer.
sed "s|^token-file = .*|token-file = $W/token-wrong|" /etc/itsmig/itsmigd.conf >"$W/validate-wrong.conf"
echo "nested-token-wrong-0123456789abcdef" >"$W/token-wrong"
chmod 0600 "$W/token-wrong"
ctl a host validate --json --config "$W/validate-wrong.conf"
cp "$W/ctl.out" "$W/validate-wrong.json"
vcheck peer:b fail '^https://127.0.0.1:7442 refused the token \(HTTP 401\)$' \
    "validate hostA, wrong token: peer hostB FAIL, refused the token (HTTP 401), with a hint" \
    "$W/validate-wrong.json"
if [ "$CTL_RC" = 2 ] && [ "$(jq .fail "$W/validate-wrong.json")" = 1 ]; then
    ok "validate hostA, wrong token: exit status 2, that check the only failure"
else
    not_ok "validate hostA, wrong token: exit status 2, that check the only failure" \
        "exit $CTL_RC, $(jq -c '[.checks[] | select(.status == "fail") | .id]' "$W/validate-wrong.json")"
fi

# /dev/kvm that is not KVM's device (an empty file bound over it in a private
# mount namespace): the KVM checks fail with their reasons on this arm64 host.
: >"$W/not-kvm"
# shellcheck disable=SC2016
unshare -m bash -c 'mount --bind "$1" /dev/kvm && exec itsmigctl host validate --json' bash "$W/not-kvm" \
    >"$W/validate-nokvm.json" 2>"$W/ctl.err"
VRC=$?
vcheck kvm fail 'does not answer KVM_GET_API_VERSION' \
    "validate hostA, /dev/kvm not KVM's: kvm FAIL, with a hint" "$W/validate-nokvm.json"
vcheck vgic-its fail '^cannot create one: ' \
    "validate hostA, /dev/kvm not KVM's: vGICv3 + ITS FAIL, the probe's reason given" "$W/validate-nokvm.json"
vcheck its-controls fail '^not probed' \
    "validate hostA, /dev/kvm not KVM's: ITS controls FAIL, not probed" "$W/validate-nokvm.json"
if [ "$VRC" = 2 ] && [ "$(jq .fail "$W/validate-nokvm.json")" = 3 ]; then
    ok "validate hostA, /dev/kvm not KVM's: exit status 2, those three the only failures"
else
    not_ok "validate hostA, /dev/kvm not KVM's: exit status 2, those three the only failures" \
        "exit $VRC, $(jq -c '[.checks[] | select(.status == "fail") | .id]' "$W/validate-nokvm.json")"
    diag_file "$W/ctl.err" 5
fi
jq -r '.checks[] | select(.status == "fail") | "\(.id): \(.detail)"' "$W/validate-nokvm.json" 2>/dev/null |
    sed 's/^/# validate hostA, no KVM: /'

# ---- 1. itsmigctl migrate, safe and live -------------------------------------------------

start_guest a g1 "$B/vmlinuz" "$B/initrd.img" || {
    diag_file "$W/virsh.out"
    on a cat /var/log/libvirt/qemu/g1.log >"$W/g1-a.log" 2>/dev/null
    diag_file "$W/g1-a.log"
    bail "cannot start g1 on hostA"
}
t0=$SECONDS
if wait_for "grep -q ' tick ' $W/console-g1.log" 240; then
    ok "g1 (KVM, in-kernel ITS) boots on hostA and its probe ticks ($((SECONDS - t0)) s)"
else
    not_ok "g1 (KVM, in-kernel ITS) boots on hostA and its probe ticks"
    diag_file "$W/console-g1.log"
    on a cat /var/log/libvirt/qemu/g1.log >"$W/g1-a.log" 2>/dev/null
    diag_file "$W/g1-a.log"
    bail "g1 did not come up"
fi
check "g1's ITS-MSI interrupts rise on hostA" irq_rises g1 hostA
diag "g1's interrupts: $(grep -a -A3 'init: interrupts' "$W/console-g1.log" | tail -n 3 | cut -d' ' -f3- | tr -s ' ' | tr '\n' '|')"
ctl a preflight g1 --to b --json
jq_ok "hostA's itsmigd recorded g1's ITS ABI revision 0 and lets it go to hostB" \
    '.allowed == true and .its_abi_revision == 0 and .its_abi_revision_origin == "metadata"
     and .blockers == [] and .warnings == []'

# migrate_ok FROM TO MODE: one itsmigctl job, checked on both hosts, in the
# outer kernel's trace and in the guest.
migrate_ok() {
    _from=$1 _to=$2 _mode=$3
    _desc="$_mode mode, $(hostname_of "$_from") -> $(hostname_of "$_to")"
    _src_pid=$(qemu_pid "$_from" g1)
    trace_clear
    _since=${EPOCHREALTIME/./}
    ctl "$_from" migrate g1 --to "$_to" --mode "$_mode" --wait --json --timeout 600
    cp "$W/ctl.out" "$W/job-$_mode-$_from$_to.json"
    if [ "$CTL_RC" = 0 ]; then
        ok "$_desc: itsmigctl migrate --wait exits 0"
    else
        not_ok "$_desc: itsmigctl migrate --wait exits 0" "exit $CTL_RC"
        diag_file "$W/ctl.err" 10
        diag_file "$W/itsmigd-$_from.log" 30
    fi
    jq_ok "$_desc: the job is DONE with no error and no note for a person" \
        '.phase == "done" and .finished == true and .error == null and .attention == null'
    jq_ok "$_desc: the ITS save was verified in QEMU's log, with evidence in the record" \
        '.its_save.checked == true and .its_save.method == "qemu-log" and .its_save.errors == []
         and (.its_save.reason | test("^no ITS save error in the [0-9]+ bytes QEMU logged since the vCPUs stopped"))
         and .its_restore.checked == true and .its_restore.errors == []
         and ([.phases[] | select(.phase == "verify-its-save") | .outcome] == ["ok"])'
    _dst_pid=$(qemu_pid "$_to" g1)
    if [ -n "$_src_pid" ] && traced vgic_its_save_tables_v0 "$_src_pid" &&
        traced vgic_v3_save_pending_tables "$_src_pid"; then
        ok "$_desc: the pause made the source's QEMU ($_src_pid) save the ITS tables in KVM (kernel trace)"
        diag "$(trace_line vgic_its_save_tables_v0 "$_src_pid")"
    else
        not_ok "$_desc: the pause made the source's QEMU (${_src_pid:-?}) save the ITS tables in KVM (kernel trace)"
        trace_diag
    fi
    if [ -n "$_dst_pid" ] && traced vgic_its_restore_tables_v0 "$_dst_pid"; then
        ok "$_desc: the destination's QEMU ($_dst_pid) restored the ITS tables in KVM (kernel trace)"
    else
        not_ok "$_desc: the destination's QEMU (${_dst_pid:-?}) restored the ITS tables in KVM (kernel trace)"
    fi
    if runs_only_on "$_to" g1; then
        ok "$_desc: g1 runs on $(hostname_of "$_to") and nowhere else"
    else
        not_ok "$_desc: g1 runs on $(hostname_of "$_to") and nowhere else" \
            "$(hostname_of "$_from"): $(domstate "$_from" g1), $(hostname_of "$_to"): $(domstate "$_to" g1)"
    fi
    if irq_rises g1 "$(hostname_of "$_to")"; then
        ok "$_desc: g1's ITS-MSI interrupts keep rising on $(hostname_of "$_to")"
    else
        not_ok "$_desc: g1's ITS-MSI interrupts keep rising on $(hostname_of "$_to")"
        diag_file "$W/console-g1.log" 5
    fi
    PAUSE_MS=$(pause_ms g1 "$_since")
    diag "$_desc: longest gap between the guest's ticks: $PAUSE_MS ms; libvirt's downtime $(jq -r '.progress.downtime_ms' "$W/job-$_mode-$_from$_to.json") ms"
}

migrate_ok a b safe
echo "ITSMIG-NESTED-PAUSE how=itsmigd-safe round=1 gap_ms=$PAUSE_MS"
migrate_ok b a live
echo "ITSMIG-NESTED-PAUSE how=itsmigd-live round=1 gap_ms=$PAUSE_MS"

# ---- the pause without itsmigd ---------------------------------------------------------
# virsh migrate --live as an operator would type it, A -> B, against
# itsmigctl migrate --mode live B -> A, ROUNDS times each.

plain_migrate() {
    on "$1" virsh -q -c qemu:///system migrate --live --p2p --persistent --undefinesource g1 \
        "qemu+tcp://127.0.0.1:$(libvirt_port "$2")/system" --migrateuri tcp://127.0.0.1 \
        >"$W/vmigrate.out" 2>"$W/vmigrate.err"
}
r=1
while [ "$r" -le "$ROUNDS" ]; do
    _since=${EPOCHREALTIME/./}
    if plain_migrate a b && runs_only_on b g1; then
        ok "round $r: virsh migrate --live hostA -> hostB (no itsmigd in the way) moves g1"
    else
        not_ok "round $r: virsh migrate --live hostA -> hostB (no itsmigd in the way) moves g1"
        diag_file "$W/vmigrate.err" 5
    fi
    check "round $r: g1's interrupts keep rising on hostB after virsh migrate" irq_rises g1 hostB
    echo "ITSMIG-NESTED-PAUSE how=virsh-live round=$r gap_ms=$(pause_ms g1 "$_since")"
    if [ "$r" -gt 1 ]; then
        _since=${EPOCHREALTIME/./}
        ctl b migrate g1 --to a --mode live --wait --json --timeout 600
        jq_ok "round $r: itsmigctl migrate --mode live hostB -> hostA is DONE" '.phase == "done"'
        check "round $r: g1's interrupts keep rising on hostA" irq_rises g1 hostA
        echo "ITSMIG-NESTED-PAUSE how=itsmigd-live round=$r gap_ms=$(pause_ms g1 "$_since")"
    else
        # Back to A for what follows.
        plain_migrate b a || {
            diag_file "$W/vmigrate.err" 5
            bail "cannot bring g1 back to hostA"
        }
    fi
    r=$((r + 1))
done

# ---- 2. a real failing ITS save ---------------------------------------------------------

start_guest a gf "$B/its-fault.elf" || {
    diag_file "$W/virsh.out"
    bail "cannot start gf on hostA"
}
if wait_for "grep -q ' its-fault: alive 2\$' $W/console-gf.log" 120; then
    ok "gf (bare metal, its device table in the read-only flash) maps its device and runs on hostA"
else
    not_ok "gf (bare metal, its device table in the read-only flash) maps its device and runs on hostA"
fi
grep -a ' its-fault: ' "$W/console-gf.log" | grep -v ' alive ' | cut -d' ' -f3- | sed 's/^/# /'
if grep -a ' its-fault: error' "$W/console-gf.log" >/dev/null; then
    not_ok "gf's setup reports no error"
else
    ok "gf's setup reports no error"
fi
gf_pid=$(qemu_pid a gf)
trace_clear
ctl a migrate gf --to b --mode safe --wait --json --timeout 300
cp "$W/ctl.out" "$W/job-gf.json"
if [ "$CTL_RC" != 0 ]; then
    ok "its-save: itsmigctl migrate gf fails (exit $CTL_RC)"
else
    not_ok "its-save: itsmigctl migrate gf fails"
fi
jq_ok "its-save: VERIFY_ITS_SAVE failed on QEMU's line and the job rolled back" \
    '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-failed"
     and .rollback.resumed == true'
jq_ok "its-save: the record quotes QEMU's error line, the kernel's EFAULT" \
    '.its_save.checked == true and ([.its_save.lines[] | select(test("KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0+1: Bad address"))] | length) == 1
     and (.error.message | test("Bad address"))'
diag "its-save: $(jq -r '.its_save.lines[0] // "no line"' "$W/job-gf.json")"
on a cat /var/log/libvirt/qemu/gf.log >"$W/gf-a.log" 2>/dev/null
if grep -q "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000001: Bad address" "$W/gf-a.log"; then
    ok "its-save: QEMU on hostA logged the failed save itself"
else
    not_ok "its-save: QEMU on hostA logged the failed save itself"
    diag_file "$W/gf-a.log"
fi
if [ -n "$gf_pid" ] && traced vgic_its_save_tables_v0 "$gf_pid"; then
    ok "its-save: the kernel ran the ITS table save for gf's QEMU (kernel trace)"
    diag "$(trace_line vgic_its_save_tables_v0 "$gf_pid")"
else
    not_ok "its-save: the kernel ran the ITS table save for gf's QEMU (${gf_pid:-?}) (kernel trace)"
    trace_diag
fi
if runs_only_on a gf; then
    ok "its-save: gf runs on hostA again and hostB has nothing"
else
    not_ok "its-save: gf runs on hostA again and hostB has nothing" "A: $(domstate a gf), B: $(domstate b gf)"
fi
alive_now=$(grep -a -c ' its-fault: alive ' "$W/console-gf.log")
if wait_for "[ \$(grep -a -c ' its-fault: alive ' $W/console-gf.log) -gt $((alive_now + 1)) ]" 30; then
    ok "its-save: gf keeps running after the rollback"
else
    not_ok "its-save: gf keeps running after the rollback"
fi
virsh_on a destroy gf

# ---- 3. the failing ITS save through virtlogd -------------------------------------------
# The same hosts switched to libvirt's default stdio_handler = "logd": QEMU's
# stderr is a pipe to virtlogd, which copies it into the log when it runs.
# With virtlogd stopped (SIGSTOP) across the pause, QEMU's report of the
# failed save and itsmigd's mark wait in that pipe: the check must wait for
# the mark within the phase's time and then find the report, or end
# its-save-unverified.  Never done.  No systemd here: the bed starts
# virtlogd on each host, then libvirtd again with the new qemu.conf.

t_logd=$SECONDS
# alive PID: the process exists and is not a zombie.
alive() {
    _st=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -n "$_st" ] && [ "${_st#Z}" = "$_st" ]
}
stop_libvirtd() {
    _pid=$(on "$1" cat /run/libvirt/libvirtd.pid 2>/dev/null)
    [ -n "$_pid" ] || return 0
    kill "$_pid" 2>/dev/null
    wait_for "! alive $_pid" 60
}
virtlogd_pid() {
    on "$1" cat /run/libvirt/virtlogd.pid 2>/dev/null
}
# conf_a SED: hostA's itsmigd.conf edited by SED, and reloaded (SIGHUP); or,
# if itsmigd does not say it reloaded, started again.
conf_a() {
    _n=$(grep -c 'reloaded ' "$W/itsmigd-a.log")
    sed -i "$1" /etc/itsmig/itsmigd.conf
    kill -HUP "$ITSMIGD_a"
    wait_for "[ \$(grep -c 'reloaded ' $W/itsmigd-a.log) -gt $_n ]" 30 || {
        diag "hostA's itsmigd did not say it reloaded; starting it again"
        diag_file "$W/itsmigd-a.log" 5
        stop_itsmigd a
        start_itsmigd a
    }
}
stop_itsmigd a
stop_itsmigd b
t1=$SECONDS
for h in a b; do
    stop_libvirtd "$h" || bail "$(hostname_of "$h")'s libvirtd does not stop"
    if [ "$h" = a ]; then _lv=/etc/libvirt; else _lv=/etc/libvirt-b; fi
    sed -i 's/^stdio_handler = .*/stdio_handler = "logd"/' "$_lv/qemu.conf"
    on "$h" virtlogd -d -p /run/libvirt/virtlogd.pid >"$W/virtlogd-$h.out" 2>&1
    wait_for "on $h test -S /run/libvirt/virtlogd-sock" 30 || {
        diag_file "$W/virtlogd-$h.out"
        bail "virtlogd does not start on $(hostname_of "$h")"
    }
    start_libvirtd "$h"
done
t2=$SECONDS
for h in a b; do
    wait_for "on $h virsh -q -c qemu:///system uri >/dev/null 2>&1" 300 || {
        diag_file "$W/libvirtd-$h.out"
        bail "$(hostname_of "$h")'s libvirtd does not answer after its restart"
    }
done
t3=$SECONDS
start_itsmigd a
start_itsmigd b
diag "logd: virtlogd started and both libvirtd restarted with stdio_handler = \"logd\" in $((SECONDS - t_logd)) s" \
    "(itsmigd stopped $((t1 - t_logd)) s, libvirtd stopped and virtlogd started $((t2 - t1)) s," \
    "libvirtd answering $((t3 - t2)) s, itsmigd started $((SECONDS - t3)) s)"
ctl a host validate --json
vcheck stdio-handler pass '^"logd": ' "logd: validate hostA: stdio_handler PASS (\"logd\", as qemu.conf now sets)"

virsh_on a start gf || {
    diag_file "$W/virsh.out"
    bail "cannot start gf on hostA under virtlogd"
}
alive_now=$(grep -a -c ' its-fault: alive ' "$W/console-gf.log")
if wait_for "[ \$(grep -a -c ' its-fault: alive ' $W/console-gf.log) -gt $((alive_now + 1)) ]" 120; then
    ok "logd: gf runs on hostA again, its console copied by virtlogd"
else
    not_ok "logd: gf runs on hostA again, its console copied by virtlogd"
    diag_file "$W/console-gf.log" 5
fi
# libvirt logs the custom-monitor taint of the first QMP command through
# virtlogd and waits for it: taint gf now, as itsmigd's own marks would
# before any pause on a host where virtlogd runs.
virsh_on a qemu-monitor-command gf '{"execute":"query-status"}' || diag_file "$W/virsh.out"
gf_pid=$(qemu_pid a gf)
VL_A=$(virtlogd_pid a)
[ -n "$VL_A" ] || bail "no virtlogd PID on hostA"

# job_wait ID SECONDS: waits until hostA's job ID ended; its record in $W/ctl.out.
job_wait() {
    wait_for "ctl a job $1 --json; [ \"\$(jq -r .finished $W/ctl.out 2>/dev/null)\" = true ]" "$2"
}
# job_start: a safe job for gf to hostB; its id in JOB.
job_start() {
    ctl a migrate gf --to b --mode safe --json
    JOB=$(jq -r '.id // empty' "$W/ctl.out" 2>/dev/null)
    [ -n "$JOB" ] || {
        diag_file "$W/ctl.err" 10
        bail "cannot start a job for gf"
    }
}

# logd_stalled LABEL: virtlogd stopped across the pause, continued after 15 s
# of the job waiting in verify-its-save.
logd_stalled() {
    _l=$1
    _size=$(stat -c %s /var/log/libvirt/qemu/gf.log)
    trace_clear
    kill -STOP "$VL_A"
    job_start
    if wait_for "ctl a job $JOB --json; [ \"\$(jq -r .phase $W/ctl.out)\" = verify-its-save ] || [ \"\$(jq -r .finished $W/ctl.out)\" = true ]" 120 &&
        sleep 15 && ctl a job "$JOB" --json &&
        jq -e '.phase == "verify-its-save" and .finished == false' "$W/ctl.out" >/dev/null; then
        ok "$_l: with virtlogd stopped, the job waits in verify-its-save (15 s later)"
    else
        not_ok "$_l: with virtlogd stopped, the job waits in verify-its-save (15 s later)"
        diag_file "$W/ctl.out" 20
    fi
    if [ "$(domstate a gf)" = paused ] &&
        ! tail -c +$((_size + 1)) /var/log/libvirt/qemu/gf.log | grep -q 'Group 4 attr'; then
        ok "$_l: gf is paused and QEMU's save error has not reached the log"
    else
        not_ok "$_l: gf is paused and QEMU's save error has not reached the log" "gf: $(domstate a gf)"
    fi
    kill -CONT "$VL_A"
    job_wait "$JOB" 180 || diag "$_l: the job has not ended 180 s after virtlogd continued"
    cp "$W/ctl.out" "$W/job-gf-$_l.json"
    jq_ok "$_l: once virtlogd runs, the check finds QEMU's save error and the job rolls back, not done" \
        '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-failed"
         and .rollback.resumed == true'
    jq_ok "$_l: the evidence was read up to QEMU's mark and quotes the kernel's EFAULT" \
        '.its_save.checked == true and (.its_save.reason | test("up to its mark"))
         and ([.its_save.lines[] | select(test("KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0+1: Bad address"))] | length) == 1'
    if tail -c +$((_size + 1)) /var/log/libvirt/qemu/gf.log | grep -q "itsmig-log-mark-$JOB-"; then
        ok "$_l: QEMU's mark naming the job reached the log after its save error"
    else
        not_ok "$_l: QEMU's mark naming the job reached the log after its save error"
        diag_file /var/log/libvirt/qemu/gf.log 10
    fi
    if traced vgic_its_save_tables_v0 "$gf_pid"; then
        ok "$_l: the kernel ran the ITS table save for gf's QEMU (kernel trace)"
    else
        not_ok "$_l: the kernel ran the ITS table save for gf's QEMU ($gf_pid) (kernel trace)"
        trace_diag
    fi
    if runs_only_on a gf; then
        ok "$_l: gf runs on hostA again and hostB has nothing"
    else
        not_ok "$_l: gf runs on hostA again and hostB has nothing" "A: $(domstate a gf), B: $(domstate b gf)"
    fi
}
t0=$SECONDS
logd_stalled logd-stalled
diag "logd-stalled: $((SECONDS - t0)) s"

# virtlogd stopped for longer than the phase: 40 s a phase for this job.
t0=$SECONDS
conf_a 's/^phase-timeout = .*/phase-timeout = 40/'
kill -STOP "$VL_A"
job_start
job_wait "$JOB" 240 || diag "logd-stopped: the job has not ended after 240 s"
cp "$W/ctl.out" "$W/job-gf-logd-stopped.json"
jq_ok "logd-stopped: the job ends its-save-unverified and rolls back, never done" \
    '.phase == "rolled-back" and .failed_phase == "verify-its-save" and .error.code == "its-save-unverified"
     and .its_save.checked == false and (.error.message | test("did not reach its log")) and .rollback.resumed == true'
diag "logd-stopped: $(jq -r '.error.message // "no error"' "$W/job-gf-logd-stopped.json")"
if runs_only_on a gf; then
    ok "logd-stopped: gf runs on hostA (virtlogd still stopped) and hostB has nothing"
else
    not_ok "logd-stopped: gf runs on hostA (virtlogd still stopped) and hostB has nothing" \
        "A: $(domstate a gf), B: $(domstate b gf)"
fi
kill -CONT "$VL_A"
alive_now=$(grep -a -c ' its-fault: alive ' "$W/console-gf.log")
if wait_for "[ \$(grep -a -c ' its-fault: alive ' $W/console-gf.log) -gt $((alive_now + 1)) ]" 60; then
    ok "logd-stopped: gf keeps running after the rollback"
else
    not_ok "logd-stopped: gf keeps running after the rollback"
fi
conf_a 's/^phase-timeout = .*/phase-timeout = 240/'
diag "logd-stopped: $((SECONDS - t0)) s"
virsh_on a destroy gf
diag "logd: the section took $((SECONDS - t_logd)) s"

# ---- 4. the hook veto, with a declaration the probe contradicts -------------------------------

# hostB now declares that its kernel takes ITS ABI revision 1 only; its probe
# finds revision 0.  The declaration wins and is reported as a conflict.
stop_itsmigd b
cat >>/etc/itsmig-b/itsmigd.conf <<EOF

[host]
its-abi-revisions = 1
default-its-abi-revision = 1
EOF
start_itsmigd b
ctl b host --json
cp "$W/ctl.out" "$W/host-b-declared.json"
jq_ok "veto: hostB's /v1/host reports the declared revisions and the probe's as a conflict" \
    '.caps.its_abi_revisions == {"value": [1], "source": "declared", "probed": [0]}
     and .caps.default_its_abi_revision == {"value": 1, "source": "declared", "probed": 0}
     and .conflicts == ["its_abi_revisions", "default_its_abi_revision"]'
if grep -Eq "its.abi.revisions = 1 is declared, but the probe found \\[0\\]" "$W/itsmigd-b.log"; then
    ok "veto: hostB's itsmigd logs the conflict between its declaration and its probe"
else
    not_ok "veto: hostB's itsmigd logs the conflict between its declaration and its probe"
    diag_file "$W/itsmigd-b.log" 10
fi
ctl a preflight g1 --to b --json
jq_ok "veto: preflight from hostA names its-abi-unsupported, and the conflict as a warning" \
    '[.. | objects | select(has("code")) | .code] | index("its-abi-unsupported") != null
     and index("host-caps-conflict") != null'
if plain_migrate a b; then
    not_ok "veto: virsh migrate of g1 (revision 0) to hostB fails"
else
    ok "veto: virsh migrate of g1 (revision 0) to hostB fails"
fi
if grep -Eq 'itsmig: refusing incoming migration of g1: (.*; )?its-abi-unsupported' "$W/vmigrate.err"; then
    ok "veto: virsh's error is hostB's hook refusing, naming its-abi-unsupported"
else
    not_ok "veto: virsh's error is hostB's hook refusing, naming its-abi-unsupported"
fi
if grep -Eq "; warnings: (.*; )?host-caps-conflict: hostB declares its_abi_revisions \[1\] in itsmigd.conf but its probe found \[0\]" "$W/vmigrate.err"; then
    ok "veto: the refusal also names the conflict between hostB's declaration and its probe"
else
    not_ok "veto: the refusal also names the conflict between hostB's declaration and its probe"
fi
diag "veto: $(head -c 900 "$W/vmigrate.err")"
if runs_only_on a g1; then
    ok "veto: g1 keeps running on hostA and hostB has nothing"
else
    not_ok "veto: g1 keeps running on hostA and hostB has nothing" "A: $(domstate a g1), B: $(domstate b g1)"
fi
check "veto: g1's interrupts keep rising on hostA" irq_rises g1 hostA

virsh_on a destroy g1
stop_itsmigd a
stop_itsmigd b
echo "1..$n"
