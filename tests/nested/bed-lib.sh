# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# What the nested bed's runs inside the outer arm64 guest share (sourced by
# scenarios.sh, xk-guest.sh and xk-live-host.sh, from /itsmig-nested): TAP, the two libvirt
# "hosts" (hostA in the initial namespaces, hostB in its own once a runner
# has made them and set HOLDER_B), their configuration, libvirtd and
# itsmigd, guests with a stamped console, and the kernel's trace of KVM's
# ITS table saves and restores.
#
# Prints TAP: "ok N - ..." / "not ok N - ...", "# ..." comments; a runner
# prints the plan last ("1..$n").

set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

B=/itsmig-nested
W=/tmp/nested
TR=/sys/kernel/tracing
mkdir -p "$W"

# ---- TAP --------------------------------------------------------------------------

n=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    [ $# -lt 2 ] || echo "#   $2"
}
diag() {
    echo "# $*"
}
# diag_file FILE [LINES]: the last lines of FILE as comments.
diag_file() {
    [ -f "$1" ] || {
        diag "($1 does not exist)"
        return 0
    }
    diag "--- $1 (last ${2:-20} lines)"
    tail -n "${2:-20}" "$1" | tr -d '\r' | sed 's/^/#   /'
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
    _d=$1
    shift
    if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}
# wait_for CONDITION SECONDS: polls the shell condition every 0.5 s.
wait_for() {
    _end=$((SECONDS + $2))
    while ! eval "$1"; do
        [ "$SECONDS" -lt "$_end" ] || return 1
        sleep 0.5
    done
}
bail() {
    echo "Bail out! $*"
    exit 1
}

# ---- the two hosts -----------------------------------------------------------------
# HERE is the host this outer guest is (a, or b when the two hosts are two
# outer guests: tests/nested/xk-live-host.sh); the other host is reached
# through HOLDER_B's namespaces when it is in this guest.  Each host's
# libvirtd, API and migrations listen on its address, 127.0.0.1 unless
# ITSMIG_XK_ADDR_A or ITSMIG_XK_ADDR_B say otherwise.

HERE=${HERE:-a}
HOLDER_B=
# on H CMD...: runs CMD on host H (a or b).
on() {
    _h=$1
    shift
    if [ "$_h" = "$HERE" ]; then
        "$@"
    else
        nsenter -t "$HOLDER_B" -m -u "$@"
    fi
}
hostname_of() { [ "$1" = a ] && echo hostA || echo hostB; }
other() { [ "$1" = a ] && echo b || echo a; }
libvirt_port() { [ "$1" = a ] && echo 16509 || echo 16510; }
api_port() { [ "$1" = a ] && echo 7441 || echo 7442; }
addr_of() { [ "$1" = a ] && echo "${ITSMIG_XK_ADDR_A:-127.0.0.1}" || echo "${ITSMIG_XK_ADDR_B:-127.0.0.1}"; }

# virsh_on H ARGS...: virsh on host H's libvirtd; output in $W/virsh.out.
virsh_on() {
    _h=$1
    shift
    on "$_h" virsh -q -c qemu:///system "$@" >"$W/virsh.out" 2>&1
}
domstate() {
    if on "$1" virsh -q -c qemu:///system domstate "$2" >"$W/domstate.out" 2>&1; then
        head -n 1 "$W/domstate.out"
    else
        echo absent
    fi
}
runs_only_on() {
    [ "$(domstate "$1" "$2")" = running ] && [ "$(domstate "$(other "$1")" "$2")" = absent ]
}
qemu_pid() {
    on "$1" cat "/run/libvirt/qemu/$2.pid" 2>/dev/null
}

# host_config H: libvirt's and itsmigd's configuration for host H, in the
# directories H sees as /etc/libvirt and /etc/itsmig.
host_config() {
    _h=$1
    if [ "$_h" = a ]; then
        _lv=/etc/libvirt _im=/etc/itsmig
        _uuid=3f2a9c1e-6b4d-4e8f-a017-5c9d2e7b1a64 _mig=49152
    else
        _lv=/etc/libvirt-b _im=/etc/itsmig-b
        _uuid=8d1e4b72-2f6a-4c39-b8e5-07a3c6f9d215 _mig=49200
        rm -rf "$_lv" "$_im"
        cp -a /etc/libvirt "$_lv"
        cp -a /etc/itsmig "$_im"
    fi
    cat >"$_lv/libvirtd.conf" <<EOF
host_uuid = "$_uuid"
listen_tcp = 1
listen_tls = 0
auth_tcp = "none"
listen_addr = "$(addr_of "$_h")"
tcp_port = "$(libvirt_port "$_h")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    # QEMU writes its own log (stdio_handler "file"); the failing save is run
    # again with "logd", virtlogd started then.
    cat >"$_lv/qemu.conf" <<EOF
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_port_min = $_mig
migration_port_max = $((_mig + 15))
EOF
    _p=$(other "$_h")
    mkdir -p "$_im/tls"
    cp "$B/tls/cert.pem" "$B/tls/key.pem" "$_im/tls/"
    echo "nested-token-$_h-0123456789abcdef" >"$_im/peer-token"
    echo "nested-token-$_p-0123456789abcdef" >"$_im/token-$_p"
    chmod 0600 "$_im/tls/key.pem" "$_im/peer-token" "$_im/token-$_p"
    # Nothing under [host]: every capability is what the probe finds.
    cat >"$_im/itsmigd.conf" <<EOF
[daemon]
hostname = $(hostname_of "$_h")
log-level = info

[api]
listen = $(addr_of "$_h"):$(api_port "$_h")

[peers]
timeout = 20
connect-timeout = 5
# The veto scenario changes hostB's capabilities and asks again at once.
cache-ttl = 0

[peer $_p]
url = https://$(addr_of "$_p"):$(api_port "$_p")
ca = /etc/itsmig/tls/cert.pem
token-file = /etc/itsmig/token-$_p
accept-token-file = /etc/itsmig/peer-token
migrate-uri = qemu+tcp://$(addr_of "$_p"):$(libvirt_port "$_p")/system
migrate-address = tcp://$(addr_of "$_p")

[migration]
phase-timeout = 240

[hook]
timeout = 20
EOF
}

start_libvirtd() {
    on "$1" libvirtd -l -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid \
        >"$W/libvirtd-$1.out" 2>&1 &
}

ITSMIGD_a=
ITSMIGD_b=
# start_itsmigd H: itsmigd on H in the foreground of a background job (so
# that $! is its PID), logging to $W/itsmigd-H.log; waits until it is
# connected to libvirt (under TCG, a newer kernel's libvirtd may take minutes
# over its first probe of QEMU).
start_itsmigd() {
    if [ "$1" = "$HERE" ]; then
        itsmigd >>"$W/itsmigd-$1.log" 2>&1 &
    else
        nsenter -t "$HOLDER_B" -m -u itsmigd >>"$W/itsmigd-b.log" 2>&1 &
    fi
    eval "ITSMIGD_$1=$!"
    # jq -e exits 0 on empty input: compare its output instead.
    if ! wait_for "kill -0 $! 2>/dev/null && [ \"\$(on $1 itsmigctl host --json 2>/dev/null | jq -r .libvirt.connected)\" = true ]" 300; then
        diag_file "$W/itsmigd-$1.log"
        bail "itsmigd on $(hostname_of "$1") does not answer"
    fi
}
stop_itsmigd() {
    eval "_pid=\$ITSMIGD_$1"
    [ -n "$_pid" ] || return 0
    kill "$_pid" 2>/dev/null
    wait "$_pid" 2>/dev/null
    eval "ITSMIGD_$1="
}

# ctl H ARGS...: itsmigctl on H; stdout in $W/ctl.out, stderr in $W/ctl.err.
CTL_RC=0
ctl() {
    _h=$1
    shift
    on "$_h" itsmigctl "$@" >"$W/ctl.out" 2>"$W/ctl.err"
    CTL_RC=$?
}
# jq_ok DESCRIPTION FILTER [FILE]: ok when FILTER is true of FILE ($W/ctl.out).
jq_ok() {
    if [ -s "${3:-$W/ctl.out}" ] && jq -e "$2" "${3:-$W/ctl.out}" >/dev/null 2>&1; then
        ok "$1"
    else
        not_ok "$1" "jq: $2"
        diag_file "${3:-$W/ctl.out}" 60
        diag_file "$W/ctl.err" 10
    fi
}

# ---- guests and their consoles ---------------------------------------------------

# The console of guest NAME goes to a file in each host's /var/log/libvirt;
# a reader per host stamps every line with the time it arrived (in
# microseconds) and the host, into $W/console-NAME.log, so one log follows
# the guest across migrations.
start_reader() {
    _h=$1 _name=$2
    on "$_h" touch "/var/log/libvirt/qemu/$_name-console.log"
    on "$_h" tail -n +1 -F "/var/log/libvirt/qemu/$_name-console.log" 2>/dev/null |
        while IFS= read -r _line; do
            printf '%s %s %s\n' "${EPOCHREALTIME/./}" "$(hostname_of "$_h")" "${_line%$'\r'}"
        done >>"$W/console-$_name.log" &
}

# guest_xml NAME KERNEL [INITRD]: one vCPU, or GUEST_VCPUS.
guest_xml() {
    cat <<EOF
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>${GUEST_VCPUS:-1}</vcpu>
  <os>
    <type arch='aarch64' machine='virt'>hvm</type>
    <kernel>$2</kernel>
    ${3:+<initrd>$3</initrd>}
    <cmdline>console=ttyAMA0 quiet panic=-1</cmdline>
  </os>
  <features><gic version='3'/></features>
  <cpu mode='host-passthrough'/>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>/usr/bin/qemu-system-aarch64</emulator>
    <controller type='pci' model='pcie-root'/>
    <controller type='usb' model='none'/>
    ${3:+<rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </rng>}
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/$1-console.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# start_guest H NAME KERNEL [INITRD]: defines and starts NAME on H.
start_guest() {
    guest_xml "$2" "$3" "${4:-}" >"$W/$2.xml"
    start_reader "$HERE" "$2"
    [ -z "$HOLDER_B" ] || start_reader b "$2"
    virsh_on "$1" define "$W/$2.xml" && virsh_on "$1" start "$2"
}

# irq_last NAME [HOST]: the last ITS-MSI count the guest printed (on HOST).
irq_last() {
    grep " ${2:-host[AB]} irq " "$W/console-$1.log" 2>/dev/null | tail -n 1 | awk '{ print $NF }'
}
# irq_rises NAME HOST: the count printed on HOST rises twice over the next
# seconds.  The probe prints it every 100 of its loops, which take 10 ms when
# the machine is idle but up to half a second each when the emulated host is
# starved of CPU: an irq line can then be 50 s from the last.
irq_rises() {
    _before=$(irq_last "$1" "$2")
    _before=${_before:-0}
    wait_for "_n=\$(irq_last $1 $2); [ -n \"\$_n\" ] && [ \"\$_n\" -gt $_before ]" 120 || return 1
    _mid=$(irq_last "$1" "$2")
    wait_for "_n=\$(irq_last $1 $2); [ \"\$_n\" -gt $_mid ]" 120
}

# pause_ms NAME SINCE-US: the longest gap between two of the guest's ticks
# seen since SINCE-US (in ms), from the stamped console.
pause_ms() {
    sort -n "$W/console-$1.log" | awk -v since="$2" '
        $1 >= since && $3 == "tick" { if (prev != "" && $1 - prev > max) max = $1 - prev; prev = $1 }
        END { printf "%.1f\n", max / 1000 }'
}

# ---- the kernel's trace, on the one kernel both hosts share ------------------------------
# A kprobe event on each of KVM's ITS save and restore functions: events,
# unlike the function tracer, record the thread's process (TGID), which is
# how a line is tied to one QEMU (live mode saves in its migration thread).

TRACED="vgic_its_save_tables_v0 vgic_its_restore_tables_v0 vgic_v3_save_pending_tables"
trace_setup() {
    mountpoint -q "$TR" || mount -t tracefs nodev "$TR" || return 1
    echo 0 >"$TR/tracing_on" &&
        echo 1 >"$TR/options/record-tgid" || return 1
    for _f in $TRACED; do
        echo "p:itsmig/$_f $_f" >>"$TR/kprobe_events" || return 1
    done
    echo 1 >"$TR/events/itsmig/enable" && echo 1 >"$TR/tracing_on"
}
trace_clear() {
    : >"$TR/trace"
}
# traced FUNCTION PID: the trace has FUNCTION called by a thread of process PID.
traced() {
    grep -E "\(\s*$2\) .* $1: \($1\+" "$TR/trace" >/dev/null
}
# trace_line FUNCTION PID: that line, for the record.
trace_line() {
    grep -m 1 -E "\(\s*$2\) .* $1: \($1\+" "$TR/trace" | sed 's/^ *//'
}
trace_diag() {
    diag "trace: $(grep -vc '^#' "$TR/trace") lines, on $(cat "$TR/tracing_on")"
    head -n 30 "$TR/trace" | sed 's/^/#   /'
}

