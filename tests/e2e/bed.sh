# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# The two-host bed, sourced by tests/e2e/*.sh after tests/daemon/lib.sh:
# two libvirt hosts on this machine, each in its own network, mount and UTS
# namespaces, joined by a veth pair (hostA 10.77.0.1, hostB 10.77.0.2):
#
#   bed_up                 namespaces, libvirtd + virtlogd on both, the initramfs
#   bed_itsmigd H [SET...] itsmigd on host H (a or b), with the peer, TLS and hook
#   bed_guest H NAME [XML-EXTRA]  defines and starts a guest on H, waits for its probe
#   bed_invariants DESC NAME H ...  the checks every fault must keep (see below)
#
# Each host has private copies of /etc/libvirt, /run/libvirt, /var/lib/libvirt,
# /var/log/libvirt and /var/cache/libvirt (bind mounts in its mount
# namespace) and of /etc/hosts, naming both.  A process "sleep" holds the
# namespaces; everything on a host runs under nsenter into it.  Everything
# the bed starts is stopped at exit, by PID: guests are destroyed first,
# then the daemons, then the namespaces are removed, even when a test fails.
#
# The guest: aarch64 "virt" under TCG with a GICv3 and its ITS, the Debian
# arm64 kernel booted directly, a busybox initramfs whose probe reads from a
# virtio-rng device on pcie-root every 10 ms and prints a tick, and that
# device's ITS-MSI interrupt count every second (tests/e2e/guest-probe.c).
# The serial console is a unix socket in the host's /var/lib/libvirt/qemu; a
# reader on each host stamps every line with this machine's monotonic clock
# into $T/console-NAME.log ("MS HOST LINE"), so the log follows the guest
# across migrations.
#
# Environment: ITSMIG_CACHE_DIR (downloads, see tests/kvm/fetch-kernel.sh).

# nsenter starts commands in the namespace holder's working directory.
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "$builddir" && pwd)
ITSMIGD=$(cd "$(dirname "$ITSMIGD")" && pwd)/$(basename "$ITSMIGD")
BED_LOCK=${TMPDIR:-/tmp}/itsmig-e2e.lock
QEMU_AARCH64=${QEMU_AARCH64:-qemu-system-aarch64}
PROBE=${PROBE:-$builddir/tests/e2e/itsmig-guest-probe}
BED_CACHE=${ITSMIG_CACHE_DIR:-/var/cache/itsmig}/e2e

# Host letter -> address, name, UUID.
bed_addr() { [ "$1" = a ] && echo 10.77.0.1 || echo 10.77.0.2; }
bed_hostname() { [ "$1" = a ] && echo hostA || echo hostB; }
bed_uuid() { [ "$1" = a ] && echo 7e1d54a2-0c3b-4f6a-9e21-5a8c3d2b1f0a || echo 2b9f6c13-8d4e-4a70-b512-6e0f7a9c4d3b; }
# bed_peer H: the other host.
bed_peer() { [ "$1" = a ] && echo b || echo a; }

_bed_netns=
_bed_anchor_a=
_bed_anchor_b=
_bed_readers=

# bed_in H CMD...: runs CMD in host H's namespaces.
bed_in() {
    _h=$1
    shift
    eval "_anchor=\$_bed_anchor_$_h"
    nsenter -t "$_anchor" -m -u -n "$@"
}

# bed_enter H: the words that run a command in host H's namespaces by exec,
# for a background process whose PID must be the command's own.
bed_enter() {
    eval "echo nsenter -t \$_bed_anchor_$1 -m -u -n"
}

# bed_virsh H ARGS...: virsh on host H's libvirtd; output in $T/virsh.out.
bed_virsh() {
    _h=$1
    shift
    if bed_in "$_h" virsh -q -c qemu:///system "$@" >"$T/virsh.out" 2>&1; then
        return 0
    fi
    diag "virsh ($_h) $* failed:"
    diag_file "$T/virsh.out" 10
    return 1
}

# bed_domstate H NAME: "running", "paused", "shut off", ... or "absent".
bed_domstate() {
    if bed_in "$1" virsh -q -c qemu:///system domstate "$2" >"$T/domstate.out" 2>&1; then
        head -n 1 "$T/domstate.out"
    else
        echo absent
    fi
}

_bed_require() {
    [ "$(id -u)" = 0 ] || skip_all "the two-host bed needs root (namespaces, libvirtd)"
    require_tools ip unshare nsenter libvirtd virtlogd virsh "$QEMU_AARCH64" cpio gzip \
        openssl jq curl /usr/bin/python3
    [ -x "$PROBE" ] || bail "$PROBE has not been built"
    # A privileged libvirtd looks it up before reading qemu.conf.
    getent passwd libvirt-qemu >/dev/null ||
        bail "no libvirt-qemu account, which libvirtd needs: run scripts/deps.sh --test"
}

# bed_up: the namespaces, both libvirt daemons and the guest's boot files.
bed_up() {
    _bed_require
    # One bed at a time on this machine: guests under TCG share two cores and
    # a second bed would make every timing in the first meaningless.
    exec 8>"$BED_LOCK"
    flock -w 1800 8 || bail "another two-host bed holds $BED_LOCK"
    trap _bed_on_exit EXIT

    _fetched=$(sh "$srcdir/tests/kvm/fetch-kernel.sh" 2>"$T/fetch.err") || {
        diag_file "$T/fetch.err"
        bail "cannot fetch the arm64 kernel or busybox"
    }
    BED_VMLINUZ=$(printf '%s\n' "$_fetched" | sed -n 's/^vmlinuz=//p')
    _mods=$(printf '%s\n' "$_fetched" | sed -n 's/^modules=//p')
    _busybox=$(printf '%s\n' "$_fetched" | sed -n 's/^busybox=//p')
    mkdir -p "$T/initrd/bin" "$T/initrd/modules"
    cp "$_busybox" "$T/initrd/bin/busybox" &&
        cp "$srcdir/tests/e2e/guest-init.sh" "$T/initrd/init" &&
        cp "$PROBE" "$T/initrd/probe" &&
        cp "$_mods"/*.ko "$T/initrd/modules/" &&
        chmod 0755 "$T/initrd/init" "$T/initrd/probe" "$T/initrd/bin/busybox" ||
        bail "cannot assemble the initramfs"
    (cd "$T/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$T/initrd.img" ||
        bail "cannot pack the initramfs"
    BED_INITRD=$T/initrd.img

    # Network: a veth pair between two fresh namespaces.
    _tag=$$
    for _h in a b; do
        ip netns add "itsmig$_tag$_h" || bail "ip netns add failed"
        _bed_netns="$_bed_netns itsmig$_tag$_h"
    done
    ip link add "im$_tag"a netns "itsmig${_tag}a" type veth peer name "im$_tag"b netns "itsmig${_tag}b" ||
        bail "cannot create the veth pair"
    BED_VETH_A=im${_tag}a
    BED_VETH_B=im${_tag}b
    for _h in a b; do
        ip -n "itsmig$_tag$_h" addr add "$(bed_addr $_h)/24" dev "im$_tag$_h" &&
            ip -n "itsmig$_tag$_h" link set "im$_tag$_h" up &&
            ip -n "itsmig$_tag$_h" link set lo up || bail "cannot configure host $_h's network"
    done
    BED_NS_A=itsmig${_tag}a
    BED_NS_B=itsmig${_tag}b

    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=itsmig-e2e \
        -addext "subjectAltName=IP:10.77.0.1,IP:10.77.0.2,DNS:hostA,DNS:hostB" \
        -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || bail "openssl cannot make a certificate"
    echo "e2e-token-a-0123456789abcdef" >"$T/token-a"
    echo "e2e-token-b-0123456789abcdef" >"$T/token-b"
    chmod 0600 "$T/token-a" "$T/token-b" "$T/key.pem"

    for _h in a b; do
        _bed_host_up "$_h"
    done
}

# _bed_host_up H: the private directories, the namespace holder, virtlogd and libvirtd.
_bed_host_up() {
    _h=$1
    _d=$T/h$_h
    mkdir -p "$_d/etc/hooks/qemu.d" "$_d/run" "$_d/lib/qemu" "$_d/log/qemu" "$_d/cache" || bail "mkdir $_d"
    cat >"$_d/etc/libvirtd.conf" <<EOF
host_uuid = "$(bed_uuid "$_h")"
listen_tcp = 1
listen_tls = 0
auth_tcp = "none"
listen_addr = "$(bed_addr "$_h")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    cat >"$_d/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]
EOF
    : >"$_d/etc/virtlogd.conf"
    printf '127.0.0.1 localhost\n10.77.0.1 hostA\n10.77.0.2 hostB\n' >"$_d/hosts"
    # The QEMU capabilities probe takes seconds; its result is the same for
    # both hosts and every run with the same binaries.
    if [ -d "$BED_CACHE/qemu-caps" ]; then
        mkdir -p "$_d/cache/qemu/capabilities"
        cp "$BED_CACHE/qemu-caps/"*.xml "$_d/cache/qemu/capabilities/" 2>/dev/null
    fi

    # The hook gate, there before libvirtd starts: libvirtd looks for hooks
    # only then.  libvirt clears the environment of hooks, so it names its
    # config: that of this host's itsmigd (bed_itsmigd writes it).
    # The program itself rather than libtool's wrapper script, as installed.
    if [ -x "$builddir/client/hooks/.libs/itsmig-hook" ]; then
        _hook="LD_LIBRARY_PATH='$builddir/lib/.libs' exec '$builddir/client/hooks/.libs/itsmig-hook'"
    else
        _hook="exec '$builddir/client/hooks/itsmig-hook'"
    fi
    cat >"$_d/etc/hooks/qemu.d/50-itsmig" <<EOF
#!/bin/sh
ITSMIG_CONFIG='$T/d-$_h/itsmigd.conf' $_hook "\$@"
EOF
    chmod 0755 "$_d/etc/hooks/qemu.d/50-itsmig"

    eval "_ns=\$BED_NS_$(echo "$_h" | tr ab AB)"
    ip netns exec "$_ns" unshare -m -u --propagation private sh -c '
        d=$1
        # libvirt'"'"'s own directories; a machine without libvirt-daemon-system lacks some.
        mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt &&
        mount --bind "$d/etc" /etc/libvirt &&
        mount --bind "$d/run" /run/libvirt &&
        mount --bind "$d/lib" /var/lib/libvirt &&
        mount --bind "$d/log" /var/log/libvirt &&
        mount --bind "$d/cache" /var/cache/libvirt &&
        mount --bind "$d/hosts" /etc/hosts &&
        hostname "$2" || exit 1
        : >"$d/ready"
        exec sleep 1000000' sh "$_d" "$(bed_hostname "$_h")" >"$_d/anchor.log" 2>&1 &
    track_pid $!
    eval "_bed_anchor_$_h=$!"
    wait_for "[ -f '$_d/ready' ]" 5 || {
        diag_file "$_d/anchor.log"
        bail "cannot set up host $_h's namespaces"
    }

    $(bed_enter "$_h") virtlogd -f /etc/libvirt/virtlogd.conf -p /run/libvirt/virtlogd.pid >"$_d/virtlogd.out" 2>&1 &
    track_pid $!
    eval "BED_VIRTLOGD_$_h=$!"
    _bed_libvirtd "$_h"
}

# _bed_libvirtd H: (re)starts host H's libvirtd and waits until it answers.
_bed_libvirtd() {
    _h=$1
    _d=$T/h$_h
    $(bed_enter "$_h") libvirtd -l -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid \
        >>"$_d/libvirtd.out" 2>&1 &
    track_pid $!
    eval "BED_LIBVIRTD_$_h=$!"
    # "virsh version" fails with only the aarch64 emulator; "uri" does not.
    if ! wait_for "bed_in $_h virsh -q -c qemu:///system uri >/dev/null 2>&1" 60; then
        diag_file "$_d/libvirtd.out"
        diag_file "$_d/log/libvirtd.log"
        bail "host $_h's libvirtd does not answer"
    fi
}

# _bed_save_caps H: keeps host H's QEMU capabilities for the next beds (they
# exist once a client has asked libvirtd about its hypervisor).
_bed_save_caps() {
    [ ! -d "$BED_CACHE/qemu-caps" ] || return 0
    ls "$T/h$1/cache/qemu/capabilities/"*.xml >/dev/null 2>&1 || return 0
    mkdir -p "$BED_CACHE/qemu-caps.$$" &&
        cp "$T/h$1/cache/qemu/capabilities/"*.xml "$BED_CACHE/qemu-caps.$$/" &&
        mv "$BED_CACHE/qemu-caps.$$" "$BED_CACHE/qemu-caps" 2>/dev/null ||
        rm -rf "$BED_CACHE/qemu-caps.$$"
}

# bed_kill_libvirtd H [SIGNAL]: stops host H's libvirtd (its guests' QEMU
# processes live on); bed_restart_libvirtd H starts it again.
bed_kill_libvirtd() {
    eval "_p=\$BED_LIBVIRTD_$1"
    stop_pid "$_p" "${2:-KILL}" 10
}
bed_restart_libvirtd() {
    _bed_libvirtd "$1"
}

# bed_itsmigd H [START-ITSMIGD-OPTION...]: itsmigd for host H, in its
# namespaces, named "a" or "b": the API socket in $T/d-H, HTTPS with a token
# on the host's address for its peer, the journal in $T/h-H/state (kept across
# restarts), the peer on the other host, and the hook gate in the host's
# /etc/libvirt/hooks/qemu.d (installed by bed_up) asks this daemon.  Declared capabilities:
# aarch64 with an ITS, revisions BED_REVS_H (default 0) with default
# BED_DEFAULT_H (default 0).
bed_itsmigd() {
    _h=$1
    shift
    _p=$(bed_peer "$_h")
    eval "_revs=\${BED_REVS_$_h:-0}"
    eval "_def=\${BED_DEFAULT_$_h:-0}"
    mkdir -p "$T/h$_h/state"
    # shellcheck disable=SC2046
    start_itsmigd --name "$_h" --uri qemu:///system --exec-in "$(bed_enter "$_h")" \
        --set "daemon.hostname=$(bed_hostname "$_h")" --set "daemon.state-dir=$T/h$_h/state" \
        --set host.arch=aarch64 --set host.vgic-its=true --set "host.its-abi-revisions=$_revs" \
        --set "host.default-its-abi-revision=$_def" --set host.save-tables=true \
        --set host.restore-tables=true --set host.ctrl-reset=true \
        --set host.save-pending-tables=true --set host.gicv4=none --set host.gicd-revision=3 \
        --set policy.check-emulated=true \
        --set "api.listen=$(bed_addr "$_h"):7443" --set "api.tls-cert=$T/cert.pem" \
        --set "api.tls-key=$T/key.pem" --set "peer $_p.accept-token-file=$T/token-$_h" \
        --set peers.timeout=5 --set peers.connect-timeout=3 \
        --set "peer $_p.url=https://$(bed_addr "$_p"):7443" --set "peer $_p.ca=$T/cert.pem" \
        --set "peer $_p.token-file=$T/token-$_p" \
        --set "peer $_p.migrate-uri=qemu+tcp://$(bed_addr "$_p")/system" \
        --set "peer $_p.migrate-address=tcp://$(bed_addr "$_p")" \
        --set "hook.record-dir=$T/h$_h/hook-records" --set hook.timeout=5 \
        "$@"
    _bed_save_caps "$_h"
}

# bed_state_tmpfs H MIB: host H's itsmigd state directory on a tmpfs of MIB MiB, mounted in
# the host's mount namespace only (it goes with the namespace), before bed_itsmigd H, so that
# a test can fill it (bed_state_fill H) and free it again (bed_state_free H).  The directory
# is then only seen from inside: read it with bed_in H.
bed_state_tmpfs() {
    mkdir -p "$T/h$1/state"
    bed_in "$1" mount -t tmpfs -o "size=${2}m,mode=0700" "itsmig-state-$1" "$T/h$1/state" ||
        bail "cannot mount a tmpfs on host $1's state directory"
}
bed_state_fill() {
    bed_in "$1" sh -c "dd if=/dev/zero of='$T/h$1/state/fill' bs=4096 2>/dev/null; sync"
}
bed_state_free() {
    bed_in "$1" rm -f "$T/h$1/state/fill"
}

# A hot-pluggable device (a virtio tablet behind a PCIe root port) for the
# guest to lose and get back; policy marks ua-scratch* as non-migratable.
BED_SCRATCH_DEVICE="<controller type='pci' index='1' model='pcie-root-port'/>
    <input type='tablet' bus='virtio'>
      <alias name='ua-scratch0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </input>"

# bed_has_device H NAME ALIAS: the running domain on H has the device.
bed_has_device() {
    bed_virsh "$1" dumpxml "$2" && grep -q "<alias name='$3'/>" "$T/virsh.out"
}

# bed_guest_sees_scratch NAME HOST: the guest, running on HOST, lists the
# scratch device on its PCI bus 1 (it prints its PCI devices every second).
bed_guest_sees_scratch() {
    wait_for "tail -n 400 '$T/console-$1.log' | grep ' $2 pci ' | tail -n 1 | grep -q '0000:01:00.0'" 8
}

# bed_guest_xml NAME [DEVICES-XML]: a guest's domain XML on stdout.
bed_guest_xml() {
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='aarch64' machine='virt'>hvm</type>
    <kernel>$BED_VMLINUZ</kernel>
    <initrd>$BED_INITRD</initrd>
    <cmdline>console=ttyAMA0 quiet panic=-1</cmdline>
  </os>
  <features><gic version='3'/></features>
  <cpu mode='custom' match='exact'><model fallback='forbid'>cortex-a57</model></cpu>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>$(command -v "$QEMU_AARCH64")</emulator>
    <controller type='pci' model='pcie-root'/>
    <controller type='usb' model='none'/>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </rng>
    <serial type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/console-$1.sock'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
    ${2:-}
  </devices>
</domain>
EOF
}

# bed_guest H NAME [DEVICES-XML]: defines and starts NAME on H, starts the
# console readers, waits until its probe ticks (60 s).
bed_guest() {
    bed_guest_xml "$2" "${3:-}" >"$T/$2.xml"
    bed_virsh "$1" define "$T/$2.xml" || bail "cannot define $2 on $1"
    _bed_reader a "$2"
    _bed_reader b "$2"
    bed_virsh "$1" start "$2" || bail "cannot start $2 on $1"
    if ! wait_for "grep -q ' tick ' '$T/console-$2.log' 2>/dev/null" 90; then
        diag_file "$T/console-$2.log"
        diag_file "$T/h$1/log/qemu/$2.log"
        bail "$2 did not start ticking on $1"
    fi
}

_bed_reader() {
    /usr/bin/python3 "$srcdir/tests/e2e/console-reader.py" "$T/h$1/lib/qemu/console-$2.sock" \
        "$(bed_hostname "$1")" "$T/console-$2.log" 2>>"$T/reader-$2-$1.err" &
    track_pid $!
    _bed_readers="$_bed_readers $!"
}

# bed_ticks NAME HOST: ticks this host's QEMU has printed so far.
bed_ticks() {
    grep -c " $2 tick " "$T/console-$1.log" 2>/dev/null
}

# bed_irq NAME [HOST]: the last ITS-MSI count the guest printed (on HOST).
bed_irq() {
    grep " ${2:-[a-zA-Z]*} irq " "$T/console-$1.log" 2>/dev/null | tail -n 1 | awk '{ print $NF }'
}

# bed_irq_rises NAME HOST: the guest's ITS-MSI count on HOST rises twice
# and is higher than before, ending with a value printed there (so interrupts
# are delivered where it runs now).  The guest prints its count every 100
# ticks; under TCG on a loaded machine, just after an incoming migration, 100
# ticks can take several seconds, so each rise may take up to 30.  On failure
# the last counts the guest printed are shown.
bed_irq_rises() {
    _before=$(bed_irq "$1" "$2")
    _before=${_before:-0}
    if wait_for "_n=\$(bed_irq '$1' '$2'); [ -n \"\$_n\" ] && [ \"\$_n\" -gt '$_before' ] 2>/dev/null" 30; then
        _mid=$(bed_irq "$1" "$2")
        wait_for "_n=\$(bed_irq '$1' '$2'); [ \"\$_n\" -gt '$_mid' ] 2>/dev/null" 30 && return 0
    fi
    diag "$1's ITS-MSI count on $2 was $_before before; its last console lines:"
    tail -n 8 "$T/console-$1.log" 2>/dev/null | while IFS= read -r _l; do diag "  $_l"; done
    return 1
}

# bed_invariants DESC NAME HOST [ALIAS [STATE]]: TAP lines for the invariants every
# fault must keep: NAME is STATE (default running) on HOST and absent from the
# other host; its non-migratable device ALIAS, when given, is plugged in there;
# and, when it runs, its ITS-MSI interrupts keep rising there.  Status 1 when
# one of them failed; BED_INV_FAILED then names them.
bed_invariants() {
    _iv_desc=$1 _iv_name=$2 _iv_here=$3 _iv_alias=${4:-} _iv_want=${5:-running}
    _iv_there=$(bed_peer "$_iv_here")
    _iv_hn=$(bed_hostname "$_iv_here")
    BED_INV_FAILED=
    _iv_s_here=$(bed_domstate "$_iv_here" "$_iv_name")
    _iv_s_there=$(bed_domstate "$_iv_there" "$_iv_name")
    if [ "$_iv_want" = running ]; then
        _iv_what="$_iv_name runs on $_iv_hn only"
    else
        _iv_what="$_iv_name is $_iv_want on $_iv_hn only"
    fi
    if [ "$_iv_s_here" = "$_iv_want" ] && [ "$_iv_s_there" = absent ]; then
        ok "$_iv_desc: $_iv_what"
    else
        not_ok "$_iv_desc: $_iv_what" \
            "$_iv_hn: $_iv_s_here, $(bed_hostname "$_iv_there"): $_iv_s_there"
        BED_INV_FAILED="$BED_INV_FAILED state"
    fi
    if [ -n "$_iv_alias" ]; then
        if bed_has_device "$_iv_here" "$_iv_name" "$_iv_alias"; then
            ok "$_iv_desc: its non-migratable device is plugged in on $_iv_hn"
        else
            not_ok "$_iv_desc: its non-migratable device is plugged in on $_iv_hn"
            BED_INV_FAILED="$BED_INV_FAILED device"
        fi
    fi
    if [ "$_iv_want" = running ]; then
        if bed_irq_rises "$_iv_name" "$_iv_hn"; then
            ok "$_iv_desc: its ITS-MSI interrupts keep rising on $_iv_hn"
        else
            not_ok "$_iv_desc: its ITS-MSI interrupts keep rising on $_iv_hn"
            BED_INV_FAILED="$BED_INV_FAILED interrupts"
        fi
    fi
    [ -z "$BED_INV_FAILED" ]
}

_bed_on_exit() {
    _bst=$?
    # Guests first (their QEMU processes are not our children), then the
    # daemons in the namespaces (lib.sh's exit handler), then the namespaces.
    for _h in a b; do
        eval "_anchor=\$_bed_anchor_$_h"
        [ -n "$_anchor" ] || continue
        for _pidf in "$T/h$_h/run/qemu/"*.pid; do
            [ -f "$_pidf" ] || continue
            _qp=$(cat "$_pidf" 2>/dev/null)
            [ -n "$_qp" ] && kill -KILL "$_qp" 2>/dev/null
        done
    done
    (exit "$_bst")
    _on_exit
    for _ns in $_bed_netns; do
        ip netns delete "$_ns" 2>/dev/null
    done
    _bed_netns=
}
