#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One host of the cross-kernel live migration bed (tests/nested/xk-live.sh),
# run inside an outer arm64 guest by its init instead of scenarios.sh.  Two
# outer guests, each on its own Debian kernel, are hostA (ITSMIG_XK_ROLE=a)
# and hostB (b), on a private network between them (ITSMIG_XK_ADDR_A and
# ITSMIG_XK_ADDR_B on their virtio-net NICs); each runs libvirtd and itsmigd,
# the other its TLS peer.
#
# hostB sets itself up and then serves hostA's requests on TCP port 7600 of
# its address (busybox nc, one line a request: an operation of this script
# and its arguments, answered with its output and "rc=N"), until hostA says
# it is done.  hostA drives both directions, A to B and B to A.  For each, a
# KVM guest (in-kernel ITS, a virtio-rng on ITS MSIs) starts on the source
# and itsmigctl preflight gives itsmig's prediction:
#
#   allowed  itsmigctl migrate --mode live must be DONE, the ITS save verified
#            in QEMU's log and the restore checked, the source's kernel must
#            have saved the ITS tables and the destination's restored them
#            (kernel traces), the guest must run on the destination only and
#            its interrupts rise there; then, started again on the source,
#            plain virsh migrate --live must move it too (the hook lets it in);
#   blocked  plain virsh migrate --live must be refused by the destination's
#            hook, naming the preflight's blocker in virsh's error, the guest
#            still running on the source with its interrupts rising; then,
#            with the destination's hook taken out (not executable), virsh
#            migrate again shows what QEMU does, and the guest must survive
#            on the source.
#
# Prediction and observation must agree.  Each direction gives a comment
# "# xk-live-result FROM TO PREDICTED OBSERVED DETAIL" for the table.
# Prints TAP (hostB only its own set-up); the runner numbers both hosts'.

HERE=${ITSMIG_XK_ROLE:-}
case "$HERE" in
a | b) ;;
*)
    echo "Bail out! ITSMIG_XK_ROLE is a or b, not '$HERE'"
    exit 1
    ;;
esac
. /itsmig-nested/bed-lib.sh || exit 1

THERE=$(other "$HERE")
LABEL=${ITSMIG_XK_LABEL:-}
PEER_LABEL=${ITSMIG_XK_PEER:-}
PORT=7600
HOOK=/etc/libvirt/hooks/qemu.d/50-itsmig

# ---- operations, run here or at the other host's request ------------------------------------

op_ready() { [ -f "$W/ready" ] && cat "$W/host.txt"; }
op_start() {
    # A new console from here: the counts of an earlier run of NAME are not this one's.
    : >"$W/console-$1.log"
    guest_xml "$1" "$B/vmlinuz" "$B/initrd.img" >"$W/$1.xml" &&
        virsh -q -c qemu:///system define "$W/$1.xml" && timeout 300 virsh -q -c qemu:///system start "$1"
}
op_rises() { irq_rises "$1" "$(hostname_of "$HERE")"; }
op_state() {
    if timeout 60 virsh -q -c qemu:///system domstate "$1" >"$W/domstate.out" 2>&1; then
        head -n 1 "$W/domstate.out"
    else
        echo absent
    fi
}
op_pid() { qemu_pid "$HERE" "$1"; }
op_recorded() {
    wait_for "timeout 30 virsh -q -c qemu:///system dumpxml $1 2>/dev/null | grep -q 'urn:itsmig:domain:1'" 120
}
op_trace_clear() { trace_clear; }
op_traced() { traced "$1" "$2" && trace_line "$1" "$2"; }
op_hook() {
    case "$1" in
    off) chmod a-x "$HOOK" ;;
    on) chmod 0755 "$HOOK" ;;
    *) return 2 ;;
    esac
}
# Each operation has a time limit, shorter than the requester's wait (at).
op_ctl() { timeout 1000 itsmigctl "$@"; }
# virsh_migrate NAME: plain virsh migrate --live to the other host, as an operator runs it.
op_virsh_migrate() {
    timeout -k 10 900 virsh -q -c qemu:///system migrate --live --p2p --persistent --undefinesource "$1" \
        "qemu+tcp://$(addr_of "$THERE"):$(libvirt_port "$THERE")/system" --migrateuri "tcp://$(addr_of "$THERE")"
}
op_destroy() {
    timeout 60 virsh -q -c qemu:///system destroy "$1" >/dev/null 2>&1
    timeout 60 virsh -q -c qemu:///system undefine "$1" >/dev/null 2>&1
    # The reader may still be writing the last lines: a new console once it is still.
    _size=-1
    while [ "$(wc -c <"$W/console-$1.log")" != "$_size" ]; do
        _size=$(wc -c <"$W/console-$1.log")
        sleep 2
    done
    : >"$W/console-$1.log"
    [ "$(op_state "$1")" = absent ]
}
op_logs() {
    tail -n 30 "$W/itsmigd-$HERE.log"
    tail -n 15 /var/log/libvirt/libvirtd.log 2>/dev/null
    for f in /var/log/libvirt/qemu/live-*.log; do
        case "$f" in *-console.log) continue ;; esac
        [ -f "$f" ] && tail -n 8 "$f"
    done
}
op_done() { : >"$W/done"; }

OPS=" ready start rises state pid recorded trace_clear traced hook ctl virsh_migrate destroy logs done "

# at H OP ARGS...: runs OP on host H; its output in $W/at.out, its errors in $W/at.err,
# its status in AT_RC (and returned).  Arguments are words without blanks.
AT_RC=0
at() {
    _h=$1
    shift
    if [ "$_h" = "$HERE" ]; then
        "op_$@" >"$W/at.out" 2>"$W/at.err"
        AT_RC=$?
    else
        AT_RC=255
        : >"$W/at.out"
        : >"$W/at.err"
        if { exec 5<>"/dev/tcp/$(addr_of "$_h")/$PORT"; } 2>/dev/null; then
            echo "$*" >&5
            timeout 1200 cat <&5 >"$W/at.raw"
            exec 5<&-
            grep -v -e '^#ERR ' -e '^rc=[0-9]*$' "$W/at.raw" >"$W/at.out"
            sed -n 's/^#ERR //p' "$W/at.raw" >"$W/at.err"
            AT_RC=$(sed -n 's/^rc=\([0-9]*\)$/\1/p' "$W/at.raw" | tail -n 1)
            AT_RC=${AT_RC:-255}
        else
            echo "cannot connect to $(hostname_of "$_h") at $(addr_of "$_h"):$PORT" >"$W/at.err"
        fi
    fi
    return "$AT_RC"
}

# serve: one request on stdin (from busybox nc -e), answered on stdout.
if [ "${1:-}" = serve ]; then
    IFS= read -r -t 30 request || exit 0
    # shellcheck disable=SC2086
    set -- $request
    case "$OPS" in
    *" ${1:-none} "*) ;;
    *)
        echo "#ERR unknown operation '${1:-}'"
        echo "rc=2"
        exit 0
        ;;
    esac
    out=$(mktemp "$W/serve.XXXXXX") || exit 0
    "op_$@" >"$out" 2>"$out.err" </dev/null
    rc=$?
    # Each part ends its last line (a pid file does not), so that "rc=" starts one.
    sed -e '$a\' "$out"
    sed -e 's/^/#ERR /' -e '$a\' "$out.err"
    echo "rc=$rc"
    rm -f "$out" "$out.err"
    exit 0
fi

# ---- set up this host -------------------------------------------------------------------------

QEMU_VERSION=$(qemu-system-aarch64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')

[ -n "$LABEL" ] && [ -n "$PEER_LABEL" ] || bail "ITSMIG_XK_LABEL and ITSMIG_XK_PEER must be set"
me=$(hostname_of "$HERE")
diag "$me ($LABEL): outer kernel $(uname -r); $(qemu-system-aarch64 --version | head -n 1); $(libvirtd --version)"
[ -c /dev/kvm ] || bail "$me has no /dev/kvm"
[ -x "$HOOK" ] || bail "$HOOK is not installed"
trace_setup || bail "cannot set up kprobe events on $TRACED in $TR"

nic=$(ls /sys/class/net | grep -v -x lo | head -n 1)
[ -n "$nic" ] || bail "$me has no network interface (virtio_net not loaded?)"
ip addr add "$(addr_of "$HERE")/24" dev "$nic" && ip link set "$nic" up ||
    bail "cannot give $nic the address $(addr_of "$HERE")"
printf '127.0.0.1 localhost\n%s hostA\n%s hostB\n' "$(addr_of a)" "$(addr_of b)" >/etc/hosts

host_config "$HERE"
if [ "$HERE" = b ]; then
    mount --bind /etc/libvirt-b /etc/libvirt && mount --bind /etc/itsmig-b /etc/itsmig ||
        bail "cannot put hostB's configuration in place"
fi
hostname "$me"
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt /var/lib/itsmigd
start_libvirtd "$HERE"
wait_for "virsh -q -c qemu:///system uri >/dev/null 2>&1" 600 || {
    diag_file "$W/libvirtd-$HERE.out"
    diag_file /var/log/libvirt/libvirtd.log
    bail "$me's libvirtd does not answer"
}
start_itsmigd "$HERE"
for g in live-a live-b; do
    start_reader "$HERE" "$g" </dev/null
done
ctl "$HERE" host --json
digest=$(jq -r '[.. | objects | .vcpu_registers? | objects | .digest | strings] | first // empty' "$W/ctl.out")
{
    echo "kernel=$(uname -r)"
    echo "qemu=$QEMU_VERSION"
    echo "registers=${digest:-unknown}"
} >"$W/host.txt"
diag "$me ($LABEL): itsmigd up, register set ${digest:-unknown}"

if [ "$HERE" = b ]; then
    printf '#!/bin/bash\nexec bash /itsmig-nested/xk-live-host.sh serve\n' >"$W/serve.sh"
    chmod 0755 "$W/serve.sh"
    busybox nc -ll -p "$PORT" -e "$W/serve.sh" </dev/null >"$W/nc.log" 2>&1 &
    nc_pid=$!
    : >"$W/ready"
    ok "$me ($LABEL): libvirtd and itsmigd up, serving hostA on $(addr_of b):$PORT"
    # hostA says when it is done; the outer guest's time limit bounds the wait.
    wait_for "[ -f $W/done ]" 7200 || diag "hostA never said it was done"
    kill "$nc_pid" 2>/dev/null
    stop_itsmigd b
    echo "1..$n"
    exit 0
fi

# ---- hostA: drive both directions ----------------------------------------------------------------

trap 'at b done >/dev/null 2>&1' EXIT
if wait_for "at b ready" 1800; then
    ok "hostA ($LABEL) reaches hostB ($PEER_LABEL) on $(addr_of b)"
else
    diag "hostB: $(cat "$W/at.err")"
    bail "hostB does not answer at $(addr_of b):$PORT"
fi
host_b=$(cat "$W/at.out")
value_of() { printf '%s\n' "$1" | sed -n "s/^$2=//p"; }
kernel_a=$(uname -r) kernel_b=$(value_of "$host_b" kernel)
diag "hostB ($PEER_LABEL): kernel $kernel_b, QEMU $(value_of "$host_b" qemu), register set $(value_of "$host_b" registers)"
label_of() { [ "$1" = a ] && echo "$LABEL" || echo "$PEER_LABEL"; }
desc_of() {
    if [ "$1" = a ]; then echo "$LABEL ($kernel_a, QEMU $QEMU_VERSION)"; else
        echo "$PEER_LABEL ($kernel_b, QEMU $(value_of "$host_b" qemu))"
    fi
}

# check_at DESC H OP ARGS...: ok when OP succeeds on H.
check_at() {
    _d=$1
    shift
    if at "$@"; then
        ok "$_d"
    else
        not_ok "$_d" "$(hostname_of "$1"): $1 ${2:-}: exit $AT_RC $(head -c 300 "$W/at.err" | tr '\n' ' ')"
    fi
}
# only_on H NAME: NAME runs on H and is absent from the other host.
only_on() {
    at "$1" state "$2"
    _s1=$(cat "$W/at.out")
    at "$(other "$1")" state "$2"
    _s2=$(cat "$W/at.out")
    ONLY_ON="$(hostname_of "$1"): $_s1, $(hostname_of "$(other "$1")"): $_s2"
    [ "$_s1" = running ] && [ "$_s2" = absent ]
}
logs_of() {
    at "$1" logs
    diag "--- $(hostname_of "$1")'s logs"
    sed 's/^/#   /' "$W/at.out" | tail -n 60
}
# the error of a failed virsh migrate, its lines joined, without QEMU's time stamps.
virsh_error() {
    grep -v '^$' "$W/at.err" | sed -e 's/^error: //' -e 's/[0-9]\{4\}-[0-9-]*T[0-9:.]*Z //g' |
        awk 'NR > 1 { printf "; " } { printf "%s", $0 }'
}

# start_on H NAME DESC: NAME starts on H and its interrupts rise; bails when not.
start_on() {
    if at "$1" start "$2" && at "$1" rises "$2"; then
        ok "$3: $2 starts on $(hostname_of "$1") and its ITS interrupts rise"
    else
        not_ok "$3: $2 starts on $(hostname_of "$1") and its ITS interrupts rise" "$(cat "$W/at.err")"
        logs_of "$1"
        return 1
    fi
    check_at "$3: itsmigd on $(hostname_of "$1") recorded $2 in its metadata" "$1" recorded "$2"
}

# arrived_ok H NAME DESC: NAME runs on H only, H's kernel restored its ITS tables for its
# QEMU, and its interrupts rise there.  Checks, or with OBSERVE set (the hook taken out:
# QEMU's outcome, not itsmig's) comments; status 1 when any of that is not so.
arrived_ok() {
    local yes=ok no=not_ok pid rc=0
    [ -z "${OBSERVE:-}" ] || yes="diag yes:" no="diag no:"
    pid=$(at "$1" pid "$2" && cat "$W/at.out")
    if [ -n "$pid" ] && at "$1" traced vgic_its_restore_tables_v0 "$pid"; then
        $yes "$3: the destination's kernel restored the ITS tables for its QEMU ($pid) (kernel trace)"
    else
        $no "$3: the destination's kernel restored the ITS tables for its QEMU (${pid:-?}) (kernel trace)"
        rc=1
    fi
    if only_on "$1" "$2"; then
        $yes "$3: $2 runs on $(hostname_of "$1") and nowhere else"
    else
        $no "$3: $2 runs on $(hostname_of "$1") and nowhere else ($ONLY_ON)"
        rc=1
    fi
    if at "$1" rises "$2"; then
        $yes "$3: $2's ITS interrupts rise on $(hostname_of "$1")"
    else
        $no "$3: $2's ITS interrupts rise on $(hostname_of "$1")"
        rc=1
    fi
    return $rc
}

# direction SRC DST: one guest, live from SRC to DST.
direction() {
    local src=$1 dst=$2 name=live-$1 desc predicted observed code= line= src_pid ok_line
    desc="$(desc_of "$src") -> $(desc_of "$dst"), live"
    ok_line="migrated; ITS tables saved and restored, interrupts rise"
    start_on "$src" "$name" "$desc" || {
        at "$src" destroy "$name"
        not_ok "$desc: the guest ran on the source, so the direction could be tried"
        diag "xk-live-result $(label_of "$src") $(label_of "$dst") error error the guest did not start"
        return
    }
    at "$src" ctl preflight "$name" --to "$dst" --json
    cp "$W/at.out" "$W/preflight-$src$dst.json"
    if jq -e '.allowed == true' "$W/at.out" >/dev/null 2>&1; then
        predicted=allow
        diag "$desc: preflight allows"
    elif jq -e '.allowed == false and (.blockers | length) > 0' "$W/at.out" >/dev/null 2>&1; then
        code=$(jq -r '.blockers[0].code' "$W/at.out")
        predicted=refuse
        ok "$desc: preflight blocks, naming $code ($(jq -r '[.blockers[].code] | join(", ")' "$W/at.out"))"
    else
        predicted=error
        not_ok "$desc: preflight answers" "exit $AT_RC: $(head -c 300 "$W/at.err")"
        diag_file "$W/at.out"
    fi

    if [ "$predicted" = allow ]; then
        observed=ok
        src_pid=$(at "$src" pid "$name" && cat "$W/at.out")
        at "$src" trace_clear
        at "$dst" trace_clear
        at "$src" ctl migrate "$name" --to "$dst" --mode live --wait --json --timeout 900
        cp "$W/at.out" "$W/job-$src$dst.json"
        if [ "$AT_RC" = 0 ] && jq -e '.phase == "done" and .finished == true and .error == null
            and .its_save.checked == true and .its_save.errors == []
            and .its_restore.checked == true and .its_restore.errors == []' "$W/at.out" >/dev/null 2>&1; then
            ok "$desc: itsmigctl migrate is DONE, the ITS save verified and the restore checked"
        else
            observed=broken line="itsmigctl migrate: exit $AT_RC, $(jq -r '"phase \(.phase), error \(.error)"' "$W/at.out" 2>/dev/null)"
            not_ok "$desc: itsmigctl migrate is DONE, the ITS save verified and the restore checked" "$line"
            diag_file "$W/at.out" 40
            diag "$(head -c 600 "$W/at.err")"
            logs_of "$src"
            logs_of "$dst"
        fi
        if [ -n "$src_pid" ] && at "$src" traced vgic_its_save_tables_v0 "$src_pid"; then
            ok "$desc: the source's kernel saved the ITS tables for its QEMU ($src_pid) (kernel trace)"
        else
            observed=broken line=${line:-"no ITS table save in the source's trace"}
            not_ok "$desc: the source's kernel saved the ITS tables for its QEMU (${src_pid:-?}) (kernel trace)"
        fi
        arrived_ok "$dst" "$name" "$desc" || {
            observed=broken line=${line:-"the guest did not arrive whole on the destination"}
        }
        # The hook lets plain virsh in too.
        at "$dst" destroy "$name"
        if start_on "$src" "$name" "$desc, again"; then
            at "$src" trace_clear
            at "$dst" trace_clear
            at "$src" virsh_migrate "$name"
            if [ "$AT_RC" = 0 ]; then
                ok "$desc: plain virsh migrate --live moves $name too, the destination's hook letting it in"
                arrived_ok "$dst" "$name" "$desc, plain virsh" || {
                    observed=broken line=${line:-"plain virsh migrate: the guest did not arrive whole"}
                }
            else
                observed=broken line=${line:-"plain virsh migrate: $(virsh_error)"}
                not_ok "$desc: plain virsh migrate --live moves $name too, the destination's hook letting it in" \
                    "$(virsh_error)"
            fi
        else
            observed=broken line=${line:-"the guest did not start again on the source"}
        fi
        [ "$observed" != ok ] || line=$ok_line
    else
        at "$src" trace_clear
        at "$dst" trace_clear
        if at "$src" virsh_migrate "$name"; then
            # The hook let it in: what QEMU did is the observation, and a misprediction.
            not_ok "$desc: plain virsh migrate --live is refused"
            if arrived_ok "$dst" "$name" "$desc"; then observed=ok line=$ok_line; else
                observed=broken line="migrated, but the guest did not arrive whole"
            fi
        else
            ok "$desc: plain virsh migrate --live is refused"
            diag "$desc: $(virsh_error)"
            if [ -n "$code" ] && grep -Eq "itsmig: refusing incoming migration of $name: (.*; )?$code:" "$W/at.err"; then
                ok "$desc: virsh's error is $(hostname_of "$dst")'s hook refusing, naming $code"
            else
                not_ok "$desc: virsh's error is $(hostname_of "$dst")'s hook refusing, naming ${code:-the preflight blocker}"
            fi
            if only_on "$src" "$name" && at "$src" rises "$name"; then
                ok "$desc: $name keeps running on $(hostname_of "$src"), its interrupts rising, and $(hostname_of "$dst") has nothing"
            else
                not_ok "$desc: $name keeps running on $(hostname_of "$src"), its interrupts rising, and $(hostname_of "$dst") has nothing" "$ONLY_ON"
            fi
            # The hook taken out (libvirt runs only executable hooks, and looks at each call):
            # what QEMU does.
            check_at "$desc: $(hostname_of "$dst")'s hook taken out" "$dst" hook off
            at "$dst" trace_clear
            if at "$src" virsh_migrate "$name"; then
                diag "$desc: without the hook, virsh migrate --live succeeds"
                if OBSERVE=1 arrived_ok "$dst" "$name" "$desc, without the hook"; then observed=ok line=$ok_line; else
                    observed=broken line="migrated, but the guest did not arrive whole"
                fi
            else
                # QEMU's failure, not the hook's, nor a request or virsh that did not finish.
                line=$(virsh_error)
                if grep -q -e 'Hook script execution failed' -e 'itsmig:' "$W/at.err"; then
                    observed=error
                    not_ok "$desc: with the hook taken out, the hook does not run" "$line"
                elif [ "$AT_RC" = 1 ] && grep -q -e 'qemu-system-aarch64: ' -e 'unsupported configuration: ' "$W/at.err"; then
                    observed=fail
                    ok "$desc: without the hook, the migration fails in QEMU (or libvirt)"
                    diag "$desc: without the hook: $line"
                else
                    observed=error
                    not_ok "$desc: without the hook, the migration fails in QEMU (or libvirt)" "exit $AT_RC: $line"
                fi
            fi
            check_at "$desc: $(hostname_of "$dst")'s hook put back" "$dst" hook on
            if [ "$observed" = fail ]; then
                if only_on "$src" "$name" && at "$src" rises "$name"; then
                    ok "$desc: after QEMU's failure $name still runs on $(hostname_of "$src"), its interrupts rising, and $(hostname_of "$dst") has nothing"
                else
                    observed=broken
                    not_ok "$desc: after QEMU's failure $name still runs on $(hostname_of "$src"), its interrupts rising, and $(hostname_of "$dst") has nothing" "$ONLY_ON"
                    logs_of "$src"
                fi
            fi
        fi
    fi
    # A refused move that QEMU fails, or that arrives broken, was rightly refused.
    case "$predicted/$observed" in
    allow/ok | refuse/fail | refuse/broken) ok "$desc: itsmig's prediction ($predicted) is what QEMU does ($observed)" ;;
    *) not_ok "$desc: itsmig's prediction ($predicted) is what QEMU does ($observed)" "$line" ;;
    esac
    diag "xk-live-result $(label_of "$src") $(label_of "$dst") $predicted${code:+:$code} $observed $line"
    for h in a b; do
        at "$h" destroy "$name" || not_ok "$desc: $name is destroyed on $(hostname_of "$h")"
    done
}

direction a b
direction b a
stop_itsmigd a
echo "1..$n"
