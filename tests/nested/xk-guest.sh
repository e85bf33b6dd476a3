#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One boot of the cross-kernel save/restore bed (tests/nested/xk-matrix.sh),
# run inside the outer arm64 guest by its init instead of scenarios.sh.  The
# outer guest is hostA, one host that its operator reboots into another
# kernel between boots: a second disk (ext4, label itsmig-xk) keeps what
# such a host keeps across a reboot, itsmigd's state directory (its host
# history among it), and the images saved on it.  Each boot
#
#   1. restores, for every label in ITSMIG_XK_RESTORE, the image saved by
#      the boot of that label: first with itsmig's hook gate in place (its
#      verdict is the prediction), then, when the gate refused, again with
#      the hook taken out (not executable) to see what QEMU and KVM do.
#      Prediction and observation must agree: the gate refuses exactly the
#      images QEMU cannot restore (or restores into a guest that does not
#      run, or whose ITS does not deliver its interrupts), naming the rule
#      in virsh's error, and a restore it lets through runs, its ITS tables
#      restored by the kernel and its interrupts rising;
#   2. with ITSMIG_XK_SAVE=1 (or 2), starts a KVM guest (in-kernel ITS, a virtio-rng
#      on ITS MSIs), lets itsmigd record it, saves it with virsh save (the
#      kernel saves its ITS tables) into /xk/LABEL, and restores that image
#      here too (the same-kernel pair);
#   3. with ITSMIG_XK_SAVE=1 (not 2), reads the ITS tables out of save images
#      with itsmigctl its inspect --image: the bare-metal its-map guest's
#      (its mapping must come back exactly as the guest printed it), two
#      copies of it with one table entry changed (a duplicate collection
#      ID, an ITE below the LPI range: the errno its inspect predicts must
#      be the one QEMU prints for the kernel's RESTORE_TABLES with the hook
#      not executable, and the hook must refuse the restore, naming the
#      finding), and the its-fault guest's, whose table save fails (the
#      tool must report the tables empty: what a restore would lose).  Where
#      virsh save has --image-format (libvirt 11.2 and later), its-map is
#      also saved in the sparse format (QEMU's mapped-ram layout): the same
#      mapping, a restore, and the ITE below the LPI range as above.
#
# Every pair gives a comment "# xk-result FROM TO PREDICTED OBSERVED DETAIL"
# for the matrix's table; labels are the suites whose kernels the boots ran
# (ITSMIG_XK_LABEL is this boot's).

. /itsmig-nested/bed-lib.sh || exit 1

LABEL=${ITSMIG_XK_LABEL:-}
RESTORE=${ITSMIG_XK_RESTORE:-}
SAVE=${ITSMIG_XK_SAVE:-0}
X=/xk
HOOK=/etc/libvirt/hooks/qemu.d/50-itsmig
QEMU_VERSION=$(qemu-system-aarch64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')

[ -n "$LABEL" ] || bail "ITSMIG_XK_LABEL is not set"
diag "boot $LABEL: outer kernel $(uname -r); $(qemu-system-aarch64 --version | head -n 1); $(libvirtd --version)"
[ -c /dev/kvm ] || bail "the outer guest has no /dev/kvm"
[ -x "$HOOK" ] || bail "$HOOK is not installed"
trace_setup || bail "cannot set up kprobe events on $TRACED in $TR"

data=$(busybox findfs LABEL=itsmig-xk 2>/dev/null) || bail "no disk labelled itsmig-xk"
mkdir -p "$X" && mount "$data" "$X" || bail "cannot mount $data on $X"
mkdir -p "$X/state" /var/lib/itsmigd && mount --bind "$X/state" /var/lib/itsmigd ||
    bail "cannot bind $X/state on /var/lib/itsmigd"

host_config a
hostname hostA
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt
start_libvirtd a
wait_for "virsh -q -c qemu:///system uri >/dev/null 2>&1" 300 || {
    diag_file "$W/libvirtd-a.out"
    diag_file /var/log/libvirt/libvirtd.log
    bail "libvirtd does not answer"
}
start_itsmigd a
ctl a host --json
digest=$(jq -r '[.. | objects | .vcpu_registers? | objects | .digest | strings] | first // empty' "$W/ctl.out")
diag "boot $LABEL: itsmigd's register set ${digest:-unknown}; host history: $(ls /var/lib/itsmigd/host-history 2>/dev/null | wc -l) entries"

# The machine types itsmigd publishes are those libvirt lists for this host's aarch64 hvm
# guests (names and canonical names), the machine type the guests here get among them.
virsh_on a capabilities && cp "$W/virsh.out" "$W/capabilities.xml"
awk "/<arch name='aarch64'>/ { in_arch = 1 } in_arch && /<machine/ { print } /<\/arch>/ { in_arch = 0 }" \
    "$W/capabilities.xml" >"$W/machine-lines.txt"
{
    sed -n "s|.*<machine[^>]* canonical='\([^']*\)'.*|\1|p" "$W/machine-lines.txt"
    sed -n 's|.*<machine[^>]*>\([^<]*\)</machine>.*|\1|p' "$W/machine-lines.txt"
} | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//' >"$W/machines.txt"
jq_ok "$LABEL: itsmigd publishes the machine types libvirt lists for aarch64 ($(wc -w <"$W/machines.txt")), virt among them" \
    "[.. | objects | .machine_types? | objects] | first | .source == \"probed\" and .arch == \"aarch64\"
     and (.value | join(\" \")) == \"$(cat "$W/machines.txt")\" and (.value | index(\"virt\")) != null"

# kernel_of LABEL: the outer kernel and QEMU the boot of LABEL ran (written by it).
kernel_of() {
    echo "$(cat "$X/$1/kernel" 2>/dev/null || echo "?"), QEMU $(cat "$X/$1/qemu" 2>/dev/null || echo "?")"
}

# virsh_error FILE: virsh's error, without its "error: " prefix, its lines (QEMU's, each
# stamped) joined by "; ".
virsh_error() {
    grep -v -e '^error: Failed to restore domain from' -e '^$' "$1" | sed 's/^error: //' |
        awk 'NR > 1 { printf "; " } { printf "%s", $0 }'
}

# restored_ok NAME DESC [observe]: NAME runs, the kernel restored its ITS tables for its
# QEMU, and its interrupts rise; destroys it after.  Status 1 when any of that is not so.
# Checks, or with "observe" (the gate off: QEMU's outcome, not itsmig's) comments.
restored_ok() {
    local name=$1 desc=$2 yes=ok no=not_ok pid rc=0
    if [ "${3:-}" = observe ]; then
        yes="diag yes:" no="diag no:"
    fi
    pid=$(qemu_pid a "$name")
    if [ "$(domstate a "$name")" = running ]; then
        $yes "$desc: $name runs"
    else
        $no "$desc: $name runs (state: $(domstate a "$name"))"
        rc=1
    fi
    if [ -n "$pid" ] && traced vgic_its_restore_tables_v0 "$pid"; then
        $yes "$desc: the kernel restored the ITS tables for its QEMU ($pid) (kernel trace)"
    else
        $no "$desc: the kernel restored the ITS tables for its QEMU (${pid:-?}) (kernel trace)"
        trace_diag
        rc=1
    fi
    if irq_rises "$name" hostA; then
        $yes "$desc: its interrupts rise through the ITS"
    else
        $no "$desc: its interrupts rise through the ITS"
        rc=1
    fi
    virsh_on a destroy "$name"
    return $rc
}

# gone DESC NAME: ok when nothing of NAME is left on hostA.
gone() {
    if [ "$(domstate a "$2")" = absent ]; then
        ok "$1"
    else
        not_ok "$1" "state: $(domstate a "$2")"
    fi
}

# One console reader per guest name: a second would replay the log.
READERS=" "
reader_for() {
    case "$READERS" in
    *" $1 "*) ;;
    *)
        start_reader a "$1"
        READERS="$READERS$1 "
        ;;
    esac
}

# restore_pair FROM: the image the boot of FROM saved, restored here.
restore_pair() {
    _from=$1 _img=$X/$1/g.save _name=xk-$1
    _desc="$_from ($(kernel_of "$_from")) -> $LABEL ($(uname -r), QEMU $QEMU_VERSION)"
    [ -f "$_img" ] || {
        not_ok "$_desc: the image saved by boot $_from is on the disk" "no $_img"
        return
    }
    reader_for "$_name"
    trace_clear
    virsh_on a restore "$_img"
    _gate_rc=$?
    cp "$W/virsh.out" "$W/restore-$_from-gate.out"
    if [ "$_gate_rc" = 0 ]; then
        _predicted=allow _code=
        diag "$_desc: the gate let the restore through"
        _line="restored"
        if restored_ok "$_name" "$_desc"; then _observed=ok; else _observed=broken; fi
    elif ! grep -q 'itsmig: refusing restore of' "$W/restore-$_from-gate.out"; then
        # Failed with the gate in place, but not by it: it let the image through (or libvirt
        # refused before asking it), and this is QEMU's or libvirt's own outcome.
        _predicted=allow _code= _observed=fail _line=$(virsh_error "$W/restore-$_from-gate.out")
        diag "$_desc: the gate did not refuse, and the restore failed: $_line"
        diag_file "$W/itsmigd-a.log" 10
        gone "$_desc: nothing of $_name is left after the failure" "$_name"
    else
        _line=$(virsh_error "$W/restore-$_from-gate.out")
        diag "$_desc: the gate: $_line"
        _code=$(sed -n 's/.*itsmig: refusing restore of [^:]*: \(.*\)/\1/p' "$W/restore-$_from-gate.out" |
            grep -oE '(^|; )[a-z0-9]+(-[a-z0-9]+)+:' | head -n 1 | tr -d ':; ')
        if [ -n "$_code" ]; then
            _predicted=refuse
            ok "$_desc: the gate refuses, naming the rule $_code in virsh's error"
        else
            _predicted=error
            not_ok "$_desc: the gate refuses, naming a rule in virsh's error"
            diag_file "$W/restore-$_from-gate.out"
            diag_file "$W/itsmigd-a.log"
        fi
        gone "$_desc: nothing of $_name is left after the refusal" "$_name"
        # The gate off: libvirt runs only executable hooks, and looks at each call.
        chmod a-x "$HOOK"
        trace_clear
        virsh_on a restore "$_img"
        _off_rc=$?
        chmod 0755 "$HOOK"
        cp "$W/virsh.out" "$W/restore-$_from-off.out"
        if grep -q 'Hook script execution failed' "$W/restore-$_from-off.out"; then
            _observed=error _line=$(virsh_error "$W/restore-$_from-off.out")
            not_ok "$_desc: with the hook not executable, libvirt does not run it" "$_line"
        elif [ "$_off_rc" = 0 ]; then
            _line="restored"
            diag "$_desc: without the gate, the restore succeeds"
            if restored_ok "$_name" "$_desc, without the gate" observe; then _observed=ok; else _observed=broken; fi
        else
            _observed=fail _line=$(virsh_error "$W/restore-$_from-off.out")
            diag "$_desc: without the gate: $_line"
            gone "$_desc: nothing of $_name is left after QEMU's failure" "$_name"
        fi
    fi
    case "$_predicted/$_observed" in
    allow/ok | refuse/fail | refuse/broken) ok "$_desc: itsmig's prediction ($_predicted) is what QEMU does ($_observed)" ;;
    *) not_ok "$_desc: itsmig's prediction ($_predicted) is what QEMU does ($_observed)" "$_line" ;;
    esac
    diag "xk-result $_from $LABEL $_predicted${_code:+:$_code} $_observed $_line"
    [ -f "$_img" ] || not_ok "$_desc: the image is still on the disk"
}

# ---- 1. the images of earlier boots -------------------------------------------------------

for from in $(echo "$RESTORE" | tr ',' ' '); do
    restore_pair "$from"
done

# ---- 2. this boot's image -----------------------------------------------------------------

if [ "$SAVE" != 0 ]; then
    name=xk-$LABEL dir=$X/$LABEL
    rm -rf "$dir" && mkdir -p "$dir" && uname -r >"$dir/kernel" &&
        echo "$QEMU_VERSION" >"$dir/qemu" &&
        cp "$B/vmlinuz" "$B/initrd.img" "$dir/" || bail "cannot prepare $dir"
    READERS="$READERS$name "
    start_guest a "$name" "$dir/vmlinuz" "$dir/initrd.img" || {
        diag_file "$W/virsh.out"
        bail "cannot start $name"
    }
    check "save on $LABEL: $name's interrupts rise through the ITS" irq_rises "$name" hostA
    # itsmigd writes its record into the domain's metadata when it sees the start.
    if wait_for "virsh -q -c qemu:///system dumpxml $name 2>/dev/null | grep -q 'urn:itsmig:domain:1'" 60; then
        ok "save on $LABEL: itsmigd recorded $name in its metadata"
    else
        not_ok "save on $LABEL: itsmigd recorded $name in its metadata"
        diag_file "$W/itsmigd-a.log"
    fi
    pid=$(qemu_pid a "$name")
    trace_clear
    if virsh_on a save "$name" "$dir/g.save"; then
        ok "save on $LABEL: virsh save $name"
    else
        not_ok "save on $LABEL: virsh save $name"
        diag_file "$W/virsh.out"
    fi
    if [ -n "$pid" ] && traced vgic_its_save_tables_v0 "$pid"; then
        ok "save on $LABEL: the kernel saved the ITS tables for its QEMU ($pid) (kernel trace)"
    else
        not_ok "save on $LABEL: the kernel saved the ITS tables for its QEMU (${pid:-?}) (kernel trace)"
        trace_diag
    fi
    virsh_on a save-image-dumpxml "$dir/g.save"
    if grep -q "urn:itsmig:domain:1" "$W/virsh.out" && grep -q "${digest:-no digest}" "$W/virsh.out"; then
        ok "save on $LABEL: the image's XML carries itsmig's record, with this kernel's register set"
    else
        not_ok "save on $LABEL: the image's XML carries itsmig's record, with this kernel's register set"
        diag_file "$W/virsh.out" 40
    fi
    virsh_on a undefine "$name"
    diag "save on $LABEL: $(du -h "$dir/g.save" | cut -f1) image"
    restore_pair "$LABEL"
fi

# ---- 3. the ITS tables in this kernel's save images (its inspect --image) -----------------

# errno_of TEXT: the errno name whose strerror() text QEMU printed.
errno_of() {
    case "$1" in
    "Invalid argument") echo EINVAL ;;
    "File exists") echo EEXIST ;;
    "Bad address") echo EFAULT ;;
    "Argument list too long") echo E2BIG ;;
    "Cannot allocate memory") echo ENOMEM ;;
    *) echo "unknown" ;;
    esac
}

# inspect IMAGE OUT: itsmigctl its inspect --image IMAGE --json into OUT; its exit status.
inspect() {
    itsmigctl its inspect --image "$1" --json >"$2" 2>"$2.err"
}

# poke FILE OFFSET BYTE...: writes the bytes (decimal) at OFFSET of FILE.
poke() {
    local file=$1 off=$2 b esc=
    shift 2
    for b in "$@"; do esc="$esc$(printf '\\%03o' "$b")"; done
    # shellcheck disable=SC2059 # the format is the escaped bytes
    printf "$esc" | dd of="$file" bs=1 seek="$off" conv=notrunc 2>/dev/null
}

# corrupt WHAT ERRNO CAUSE OFFSET BYTE...: a copy of the its-map image with the bytes written
# at OFFSET; its inspect must predict ERRNO for CAUSE, the gate must refuse it naming CAUSE,
# and, the gate off, the kernel's RESTORE_TABLES must fail with that errno in QEMU's line.
corrupt() {
    local what=$1 errno=$2 cause=$3 off=$4 img=$W/map-$1.save desc got predicted line size
    local src=${CORRUPT_SRC:-$W/map.save}
    shift 4
    desc="images on $LABEL: its-map's ${CORRUPT_SRC:+sparse }image with $what"
    case "$off" in
    '' | *[!0-9]*)
        not_ok "$desc: the entry's offset in the image is known" "file_offset: '$off'"
        return
        ;;
    esac
    cp "$src" "$img" && poke "$img" "$off" "$@"
    inspect "$img" "$W/map-$what.json"
    got=$(jq -r '"\(.restore_prediction.errno) \(.restore_prediction.cause)"' "$W/map-$what.json" 2>/dev/null)
    predicted=${got%% *}
    if [ "$got" = "$errno $cause" ]; then
        ok "$desc: its inspect predicts $errno ($cause)"
    else
        not_ok "$desc: its inspect predicts $errno ($cause)" "predicted: $got"
        diag_file "$W/map-$what.json.err" 5
    fi
    virsh_on a restore "$img"
    if grep -qF "would make KVM_DEV_ARM_ITS_RESTORE_TABLES fail with $errno: $cause: " "$W/virsh.out"; then
        ok "$desc: the gate refuses the restore, naming $cause"
    else
        not_ok "$desc: the gate refuses the restore, naming $cause" "$(virsh_error "$W/virsh.out")"
    fi
    gone "$desc: nothing of $map is left after the refusal" "$map"
    size=$(stat -c %s "/var/log/libvirt/qemu/$map.log" 2>/dev/null || echo 0)
    chmod a-x "$HOOK"
    trace_clear
    virsh_on a restore "$img"
    chmod 0755 "$HOOK"
    # QEMU's line for KVM_DEV_ARM_ITS_RESTORE_TABLES (attribute 2 of group 4, the control group).
    line=$({
        cat "$W/virsh.out"
        tail -c +$((size + 1)) "/var/log/libvirt/qemu/$map.log" 2>/dev/null
    } | grep -a -m 1 -o 'KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0*2: .*')
    got=$(errno_of "${line##*: }")
    if [ -n "$line" ] && [ "$got" = "$predicted" ]; then
        ok "$desc: without the gate, the kernel's RESTORE_TABLES fails with the predicted $predicted (QEMU: $line)"
    else
        not_ok "$desc: without the gate, the kernel's RESTORE_TABLES fails with the predicted ${predicted:-errno}" \
            "QEMU: ${line:-no line}; virsh: $(virsh_error "$W/virsh.out")"
        trace_diag
        [ "$(domstate a "$map")" = absent ] || virsh_on a destroy "$map"
    fi
    gone "$desc: nothing of $map is left after QEMU's failure" "$map"
}

if [ "$SAVE" = 1 ]; then
    t_img=$SECONDS
    # its-map: a known mapping, read back from the image the kernel saved.
    map=xkmap-$LABEL
    # its-fault: KVM's save of its tables fails (EFAULT); saved last, started now so that
    # it boots while its-map is checked.
    fault=xkfault-$LABEL
    READERS="$READERS$map $fault "
    GUEST_VCPUS=2 start_guest a "$map" "$B/its-map.elf" && start_guest a "$fault" "$B/its-fault.elf" || {
        diag_file "$W/virsh.out"
        bail "cannot start $map and $fault"
    }
    if wait_for "grep -q ' its-map: ready\$' $W/console-$map.log" 120 &&
        ! grep -a -q ' its-map: error' "$W/console-$map.log"; then
        ok "images on $LABEL: its-map maps its devices, events and collections without an error"
    else
        not_ok "images on $LABEL: its-map maps its devices, events and collections without an error"
        diag_file "$W/console-$map.log"
    fi
    pid=$(qemu_pid a "$map")
    trace_clear
    if virsh_on a save "$map" "$W/map.save" && [ -n "$pid" ] && traced vgic_its_save_tables_v0 "$pid"; then
        ok "images on $LABEL: virsh save $map, the kernel saving its ITS tables (kernel trace)"
    else
        not_ok "images on $LABEL: virsh save $map, the kernel saving its ITS tables (kernel trace)" \
            "$(virsh_error "$W/virsh.out")"
        trace_diag
    fi
    # Restored from here on as a transient domain, as the images of section 2.
    virsh_on a undefine "$map"
    inspect "$W/map.save" "$W/map.json"
    rc=$?
    # The full set, both sides in one form: the guest's lines, and the tool's JSON.
    grep -a -o ' its-map: \(collection\|device\|event\) .*' "$W/console-$map.log" | cut -d' ' -f3- |
        sort >"$W/map.want"
    jq -r '(.collections[] | "collection icid=\(.icid) target=\(.target_vcpu)"),
           (.devices[] | "device id=\(.device_id) itt=\(.itt_addr) event_id_bits=\(.event_id_bits)"),
           (.devices[] as $d | $d.events[] |
               "event device=\($d.device_id) event=\(.event_id) pintid=\(.pintid) icid=\(.icid)")' \
        "$W/map.json" 2>/dev/null | sort >"$W/map.got"
    # (No cmp or diff in the outer guest.)
    if [ "$rc" = 0 ] && [ -s "$W/map.want" ] && [ "$(cat "$W/map.want")" = "$(cat "$W/map.got")" ]; then
        ok "images on $LABEL: its inspect --image gives exactly the mapping its-map made ($(wc -l <"$W/map.want") entries)"
    else
        not_ok "images on $LABEL: its inspect --image gives exactly the mapping its-map made" "exit $rc"
        grep -vxF -f "$W/map.got" "$W/map.want" | sed 's/^/#   only the guest: /'
        grep -vxF -f "$W/map.want" "$W/map.got" | sed 's/^/#   only the image: /'
        diag_file "$W/map.json.err" 5
    fi
    jq_ok "images on $LABEL: its inspect predicts that the tables restore, with no finding" \
        '.restore_prediction.ok == true and (.findings | length) == 0' "$W/map.json"
    # Corrupted entries: a second collection with the first one's ICID (EEXIST), and an ITE
    # of device 0x2345 (in the device table's second level-2 page) below the LPI range.
    icid0=$(jq '.collections[0].icid' "$W/map.json" 2>/dev/null)
    corrupt collection-duplicate EEXIST collection-duplicate-icid \
        "$(jq '.collections[1].file_offset' "$W/map.json" 2>/dev/null)" \
        $((${icid0:-0} & 255)) $((${icid0:-0} >> 8))
    # pINTID 100: bits [47:16] of the ITE, little-endian.
    corrupt ite-pintid EINVAL ite-pintid-below-lpi-range \
        "$(jq '[.devices[] | select(.device_id == 9029) | .events[] | select(.event_id == 17)
                | .file_offset | if . == null then "none" else . + 2 end][0]' "$W/map.json" 2>/dev/null)" \
        100 0 0 0
    diag "images on $LABEL: its-map's image $(du -k "$W/map.save" | cut -f1) KiB"
    # libvirt 11.2 and later also save in QEMU's mapped-ram layout (--image-format sparse):
    # the same mapping, read from the pages' fixed offsets, and the gate reads it too.
    if on a virsh help save 2>/dev/null | grep -q -- --image-format; then
        virsh_on a restore "$W/map.save" &&
            virsh_on a save "$map" "$W/map-sparse.save" --image-format sparse
        rc=$?
        if [ "$rc" = 0 ]; then
            ok "images on $LABEL: restored, $map saved again in the sparse format"
        else
            not_ok "images on $LABEL: restored, $map saved again in the sparse format" \
                "$(virsh_error "$W/virsh.out")"
        fi
        inspect "$W/map-sparse.save" "$W/map-sparse.json"
        rc=$?
        jq -r '(.collections[] | "collection icid=\(.icid) target=\(.target_vcpu)"),
               (.devices[] | "device id=\(.device_id) itt=\(.itt_addr) event_id_bits=\(.event_id_bits)"),
               (.devices[] as $d | $d.events[] |
                   "event device=\($d.device_id) event=\(.event_id) pintid=\(.pintid) icid=\(.icid)")' \
            "$W/map-sparse.json" 2>/dev/null | sort >"$W/map-sparse.got"
        if [ "$rc" = 0 ] && [ "$(jq -r '.image.mapped_ram' "$W/map-sparse.json" 2>/dev/null)" = true ] &&
            [ -s "$W/map.want" ] && [ "$(cat "$W/map.want")" = "$(cat "$W/map-sparse.got")" ]; then
            ok "images on $LABEL: its inspect --image gives exactly its-map's mapping from the sparse (mapped-ram) image"
        else
            not_ok "images on $LABEL: its inspect --image gives exactly its-map's mapping from the sparse (mapped-ram) image" \
                "exit $rc, mapped_ram $(jq -r '.image.mapped_ram' "$W/map-sparse.json" 2>/dev/null)"
            diag_file "$W/map-sparse.json.err" 5
        fi
        virsh_on a restore "$W/map-sparse.save"
        if [ "$(domstate a "$map")" = running ]; then
            ok "images on $LABEL: the sparse image restores, through the gate"
        else
            not_ok "images on $LABEL: the sparse image restores, through the gate" \
                "$(virsh_error "$W/virsh.out")"
        fi
        [ "$(domstate a "$map")" = absent ] || virsh_on a destroy "$map"
        # The gate reads it: an ITE below the LPI range is refused by name, and QEMU 10 and
        # the kernel, the gate off, fail as predicted.
        CORRUPT_SRC=$W/map-sparse.save corrupt sparse-ite-pintid EINVAL ite-pintid-below-lpi-range \
            "$(jq '[.devices[] | select(.device_id == 9029) | .events[] | select(.event_id == 17)
                    | .file_offset | if . == null then "none" else . + 2 end][0]' \
                "$W/map-sparse.json" 2>/dev/null)" \
            100 0 0 0
        diag "images on $LABEL: its-map's sparse image $(du -k "$W/map-sparse.save" | cut -f1) KiB on disk"
    else
        diag "images on $LABEL: this libvirt's virsh save has no --image-format: no sparse image"
    fi
    rm -f "$W"/map*.save

    diag "images on $LABEL: its-map's checks took $((SECONDS - t_img)) s"
    # its-fault: what the image keeps.
    wait_for "grep -q ' its-fault: alive 1\$' $W/console-$fault.log" 120 ||
        diag "images on $LABEL: $fault did not print alive in 120 s"
    size=$(stat -c %s "/var/log/libvirt/qemu/$fault.log" 2>/dev/null || echo 0)
    virsh_on a save "$fault" "$W/fault.save"
    fault_rc=$?
    line=$(tail -c +$((size + 1)) "/var/log/libvirt/qemu/$fault.log" 2>/dev/null |
        grep -a -m 1 -o 'KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0*1: .*')
    if [ "$fault_rc" = 0 ] && [ "${line##*: }" = "Bad address" ]; then
        ok "images on $LABEL: virsh save $fault completes though the kernel's ITS save fails (QEMU: $line)"
    else
        not_ok "images on $LABEL: virsh save $fault completes though the kernel's ITS save fails" \
            "exit $fault_rc: $(virsh_error "$W/virsh.out"); QEMU: ${line:-no line}"
        diag_file "/var/log/libvirt/qemu/$fault.log" 10
    fi
    inspect "$W/fault.save" "$W/fault.json"
    jq_ok "images on $LABEL: its inspect reports that $fault's saved tables lack what its ITS ran (image-tables-empty)" \
        '([.findings[] | select(.code == "image-tables-empty")] | length) == 1 and (.devices | length) == 0' \
        "$W/fault.json"
    diag "images on $LABEL: $(jq -r '.findings[] | "\(.code): \(.message)"' "$W/fault.json" 2>/dev/null | head -n 1)"
    virsh_on a destroy "$fault"
    virsh_on a undefine "$fault"
    rm -f "$W/fault.save"
    diag "images on $LABEL: the image checks took $((SECONDS - t_img)) s"
fi

stop_itsmigd a
sync
umount /var/lib/itsmigd "$X"
echo "1..$n"
