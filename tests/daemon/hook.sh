#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt hook (client/hooks/itsmig-hook), run exactly as libvirt runs
# it: a bare environment, four arguments, the domain XML on stdin.  On
# "migrate begin" it lets a compatible guest in silently and refuses the
# others with one line naming the blockers; on "restore begin" it says so to
# itsmigd, refuses a saved image whose itsmig record is unusable or
# contradicts itself, and follows [hook] restore-unrecorded without one; it
# reads the save image its parent holds open (here: the test shell) and
# refuses ITS tables the kernel would not restore, and follows [hook]
# restore-image-unread when there is none, it is broken or its reads stall
# (a FUSE file); without an answer from itsmigd
# (stopped, hung, a bad reply, no configuration) it refuses a guest with an
# ITS unless told otherwise; it always reads stdin to the end and never
# writes stdout; other operations keep the per-domain records and never fail.

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/daemon/lib.sh"

require_tools curl jq virsh libvirtd
require_daemon
HOOK=${ITSMIG_HOOK:-$builddir/client/hooks/itsmig-hook}
require_helper "$HOOK"
PYTHON=
for _p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
    if [ -n "$_p" ] && [ -x "$_p" ]; then
        PYTHON=$_p
        break
    fi
done
FAKE=$srcdir/tests/daemon/fake-itsmigd.py
WRITE_IMAGE=$builddir/tests/write-save-image
require_helper "$WRITE_IMAGE"

UUID_OK=3c0d9a6e-1b2f-4e7a-9c8d-0e1f2a3b4c5d
UUID_ABI1=7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
UUID_GICV4=0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
UUID_NOITS=5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b

# domain_xml FILE NAME UUID [ABI-REVISION [GICV4 [vfio]]]: an aarch64 KVM
# guest with a GICv3 (and so an ITS) and itsmig metadata written by hostA.
domain_xml() {
    _hostdev=
    if [ "${6:-}" = vfio ]; then
        _hostdev="<hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source><address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </hostdev>"
    fi
    cat >"$1" <<EOF
<domain type='kvm'>
  <name>$2</name>
  <uuid>$3</uuid>
  <metadata>
    <itsmig:its xmlns:itsmig="urn:itsmig:domain:1" version="1">
      <itsmig:abi-revision>${4:-0}</itsmig:abi-revision>
      <itsmig:gicd-revision>3</itsmig:gicd-revision>
      <itsmig:started>$DAY_AGO</itsmig:started>
      <itsmig:host name="hostA" written="start" written-at="$DAY_AGO" arch="aarch64" page-size="$(getconf PAGESIZE)" gicv4="${5:-none}" save-tables="yes" save-pending-tables="yes" ctrl-reset="yes" its-abi-revisions="${4:-0}"/>
    </itsmig:its>
  </metadata>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='aarch64' machine='virt-8.2'>hvm</type>
  </os>
  <features>
    <gic version='3'/>
  </features>
  <devices>
    <emulator>/usr/bin/qemu-system-aarch64</emulator>
    $_hostdev
  </devices>
</domain>
EOF
}

# Started a day ago: long past early boot.
DAY_AGO=$(date -u -d "@$(($(date +%s) - 86400))" +%Y-%m-%dT%H:%M:%SZ)
domain_xml "$T/ok.xml" vm-ok "$UUID_OK" 0
domain_xml "$T/abi1.xml" vm-abi1 "$UUID_ABI1" 1
domain_xml "$T/gicv4.xml" vm-gicv4 "$UUID_GICV4" 0 4.0 vfio
# An x86_64 guest: no GIC, no ITS.
cat >"$T/noits.xml" <<EOF
<domain type='kvm'>
  <name>vm-noits</name>
  <uuid>$UUID_NOITS</uuid>
  <memory unit='KiB'>1048576</memory>
  <os><type arch='x86_64' machine='pc-q35-8.2'>hvm</type></os>
</domain>
EOF
printf '<domain type="kvm"><name>vm-bad</name><uuid>%s</uuid>' "$UUID_OK" >"$T/bad.xml"

RECORDS=$T/records

# Save images (libvirt's format) of vm-ok: tables that restore, an ITE below
# the LPI range, an ITS ABI revision no kernel has, cut short; and one of vm-abi1.
"$WRITE_IMAGE" "$T/img-good.img" "$T/ok.xml" good &&
    "$WRITE_IMAGE" "$T/img-table.img" "$T/ok.xml" bad-table &&
    "$WRITE_IMAGE" "$T/img-abi.img" "$T/ok.xml" bad-abi &&
    "$WRITE_IMAGE" "$T/img-other.img" "$T/abi1.xml" good || bail "cannot write the save images"
head -c 60000 "$T/img-good.img" >"$T/img-short.img"

# hook_conf FILE SOCKET [KEY=VALUE...]: an itsmigd.conf for the hook, with
# [hook] timeout = 2 and record-dir = $RECORDS unless given.
hook_conf() {
    _file=$1
    _sock=$2
    shift 2
    {
        printf '[api]\nsocket = %s\n\n[hook]\n' "$_sock"
        printf '%s\n' "$@" | grep -q '^timeout=' || echo "timeout = 2"
        printf '%s\n' "$@" | grep -q '^record-dir=' || echo "record-dir = $RECORDS"
        for _kv in "$@"; do
            printf '%s = %s\n' "${_kv%%=*}" "${_kv#*=}"
        done
    } >"$_file"
}

# run_hook CONF XML NAME OPERATION SUB-OPERATION [EXTRA]: as libvirt runs it.
# Sets HOOK_RC, HOOK_MS (how long it took) and HOOK_ERR; its stdout is in
# $T/hook.out, its stderr in $T/hook.err.
run_hook() {
    _t0=$(now_ms)
    env -i LC_ALL=C PATH=/usr/bin:/bin HOME=/root USER=root LOGNAME=root \
        ITSMIG_CONFIG="$1" "$HOOK" "$3" "$4" "$5" "${6:--}" <"$2" >"$T/hook.out" 2>"$T/hook.err"
    HOOK_RC=$?
    HOOK_MS=$(($(now_ms) - _t0))
    HOOK_ERR=$(cat "$T/hook.err")
}

hook_diag() {
    diag "exit status $HOOK_RC after $HOOK_MS ms"
    diag_file "$T/hook.err" 10
    [ -s "$T/hook.out" ] && diag_file "$T/hook.out" 10
}

# check_hook DESC RC STDERR-REGEX: the last run exited with RC, printed
# nothing on stdout, and its stderr matches (an empty regex: stderr is empty).
check_hook() {
    _ok=yes
    [ "$HOOK_RC" = "$2" ] || _ok=no
    [ -s "$T/hook.out" ] && _ok=no
    if [ -z "$3" ]; then
        [ -s "$T/hook.err" ] && _ok=no
    else
        printf '%s\n' "$HOOK_ERR" | grep -Eq -- "$3" || _ok=no
    fi
    if [ "$_ok" = yes ]; then
        ok "$1"
    else
        not_ok "$1" "want exit $2, empty stdout, stderr matching: ${3:-(empty)}"
        hook_diag
    fi
}

# jq_true JQ-ARGS...: the filter's output is true (jq -e alone also passes
# on empty input).
jq_true() {
    [ "$(jq "$@" 2>/dev/null)" = true ]
}

# record_is DESC UUID JQ-EXPR
record_is() {
    if [ "$(jq -r "$3" "$RECORDS/$2.json" 2>/dev/null)" = true ]; then
        ok "$1"
    else
        not_ok "$1" "want: $3"
        diag_file "$RECORDS/$2.json" 5
        diag_file "$T/hook.err" 5
    fi
}

record_absent() {
    if [ ! -e "$RECORDS/$2.json" ]; then
        ok "$1"
    else
        not_ok "$1" "$RECORDS/$2.json still exists"
        diag_file "$RECORDS/$2.json" 5
    fi
}

# ---- by hand --------------------------------------------------------------------------

"$HOOK" </dev/null >"$T/hook.out" 2>"$T/hook.err"
HOOK_RC=$?
HOOK_ERR=$(cat "$T/hook.err")
check_hook "no arguments: usage on stderr, exit 2" 2 '^Usage: itsmig-hook DOMAIN OPERATION'
"$HOOK" vm-ok migrate begin <"$T/ok.xml" >"$T/hook.out" 2>"$T/hook.err"
HOOK_RC=$?
HOOK_ERR=$(cat "$T/hook.err")
check_hook "three arguments: usage on stderr, exit 2" 2 '^Usage: itsmig-hook'

# ---- itsmigd answers ------------------------------------------------------------------

start_libvirtd
start_itsmigd --set host.arch=aarch64 --set host.vgic-its=true --set host.its-abi-revisions=0 \
    --set host.default-its-abi-revision=0 --set host.restore-tables=true \
    --set host.save-tables=true --set host.ctrl-reset=true --set host.save-pending-tables=true \
    --set host.gicv4=none --set host.gicd-revision=3
hook_conf "$T/hook.conf" "$ITSMIGD_SOCK"

run_hook "$T/hook.conf" "$T/ok.xml" vm-ok migrate begin
check_hook "migrate begin, compatible guest: exit 0, nothing on stdout or stderr" 0 ''
record_is "migrate begin recorded the guest as arriving" "$UUID_OK" \
    "(.uuid == \"$UUID_OK\") and .name == \"vm-ok\" and .incoming == true
     and (.migrate_begin_at | type == \"number\") and .started_at == null"
if [ "$(stat -c %a "$RECORDS")" = 700 ]; then
    ok "the record directory was created with mode 0700"
else
    not_ok "the record directory was created with mode 0700" "mode $(stat -c %a "$RECORDS")"
fi

run_hook "$T/hook.conf" "$T/ok.xml" vm-ok prepare begin
check_hook "prepare begin: exit 0, silent" 0 ''
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok started begin
check_hook "started begin: exit 0, silent" 0 ''
record_is "started begin after migrate begin: incoming, with both times" "$UUID_OK" \
    '.incoming == true and (.migrate_begin_at | type == "number")
     and (.started_at | type == "number") and .started_at >= .migrate_begin_at'
if [ "$HOOK_MS" -lt 2000 ]; then
    ok "started begin returned quickly ($HOOK_MS ms)"
else
    not_ok "started begin returned quickly" "it took $HOOK_MS ms"
fi
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end shutdown
check_hook "release end: exit 0, silent" 0 ''
record_absent "release end removed the record" "$UUID_OK"

run_hook "$T/hook.conf" "$T/ok.xml" vm-ok started begin
record_is "started begin without a migration: not incoming" "$UUID_OK" \
    '.incoming == false and .migrate_begin_at == null and (.started_at | type == "number")'
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end destroyed
old=$(($(date +%s) - 25 * 3600))
printf '{"uuid":"%s","name":"vm-ok","incoming":true,"migrate_begin_at":%s,"started_at":null}\n' \
    "$UUID_OK" "$old" >"$RECORDS/$UUID_OK.json"
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok started begin
record_is "started begin 25 h after migrate begin: not incoming" "$UUID_OK" \
    '.incoming == false and .migrate_begin_at == null'
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end -
printf 'not json' >"$RECORDS/$UUID_OK.json"
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok started begin
check_hook "started begin over a broken record: exit 0, says so on stderr" 0 'unreadable record'
record_is "... and replaces it" "$UUID_OK" '.incoming == false'
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end -

for op in "stopped end" "reconnect begin" "attach begin" "frobnicate now"; do
    # shellcheck disable=SC2086
    run_hook "$T/hook.conf" "$T/ok.xml" vm-ok $op
    check_hook "$op: exit 0, silent" 0 ''
done

run_hook "$T/hook.conf" "$T/abi1.xml" vm-abi1 migrate begin
check_hook "migrate begin, ITS ABI revision 1 not supported here: refused, naming its-abi-unsupported" \
    1 '^itsmig: refusing incoming migration of vm-abi1: (.*; )?its-abi-unsupported: [^;]+'
is "$(wc -l <"$T/hook.err" | tr -d ' ')" 1 "... in one line on stderr"
record_absent "... and the arrival record is dropped again" "$UUID_ABI1"

# The operation reaches itsmigd: its log line and its counters name it.
run_hook "$T/hook.conf" "$T/abi1.xml" vm-abi1 restore begin
check_hook "restore begin, ITS ABI revision 1 not supported here: refused, naming its-abi-unsupported" \
    1 '^itsmig: refusing restore of vm-abi1: (.*; )?its-abi-unsupported: [^;]+'
check "... and itsmigd logged the refusal as a restore (operation=restore)" \
    grep -q 'restore refused by the hook gate (operation=restore): .*its-abi-unsupported' \
    "$ITSMIGD_LOG"
check "... the migration before as a migration (operation=migrate)" \
    grep -q 'incoming migration refused by the hook gate (operation=migrate): ' "$ITSMIGD_LOG"
metrics_fetch
is "$(metric_sum '^itsmigd_hook_decisions_total\{operation="restore",decision="refused"\}')" 1 \
    "... itsmigd_hook_decisions_total counts the restore under operation=\"restore\""
is "$(metric_sum '^itsmigd_hook_decisions_total\{operation="migrate",decision="refused"\}')" 1 \
    "... and the migration under operation=\"migrate\""
is "$(metric_sum '^itsmigd_hook_refusals_total\{operation="restore",rule="its-abi-unsupported"\}')" \
    1 "... itsmigd_hook_refusals_total labels the restore's blocker with its operation"
api POST '/v1/hook/migrate-begin?operation=fly' -H 'Content-Type: application/xml' \
    --data-binary "@$T/ok.xml"
check_error "an operation other than migrate or restore: 400 invalid-argument" 400 invalid-argument

run_hook "$T/hook.conf" "$T/gicv4.xml" vm-gicv4 migrate begin
check_hook "migrate begin, VFIO device from a GICv4.0 host: refused, naming gicv4-direct-injection" \
    1 '^itsmig: refusing incoming migration of vm-gicv4: (.*; )?gicv4-direct-injection: '
is "$(wc -l <"$T/hook.err" | tr -d ' ')" 1 "... in one line on stderr"

# The machine types: itsmigd publishes those libvirt's capabilities list for hvm guests of
# the host's architecture.  The test driver lists an architecture and no machine at all,
# which itsmigd takes as not knowing them (as when libvirt could not probe its QEMU): it
# says why, and the rule is not applied, so a guest on any machine type is let in.
virsh -q -c "$LIBVIRT_URI" capabilities >"$T/capabilities.xml" || bail "virsh capabilities failed"
MACHINE_ARCH=$(sed -n 's|^ *<arch>\(.*\)</arch>$|\1|p' "$T/capabilities.xml" | head -n 1)
[ -n "$MACHINE_ARCH" ] && ! grep -q '<machine' "$T/capabilities.xml" ||
    bail "the test driver's capabilities now name machine types or no host architecture"
api GET /v1/host
check_json "GET /v1/host: no machine type in libvirt's capabilities: machine_types unknown, saying why" \
    ".machine_types.source == \"unknown\" and (.machine_types.reason | test(\"list no machine type for hvm guests of the host's architecture $MACHINE_ARCH\"))"
cat >"$T/machine.xml" <<EOF
<domain type='qemu'>
  <name>vm-machine</name>
  <uuid>2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e</uuid>
  <memory unit='KiB'>1048576</memory>
  <os><type arch='$MACHINE_ARCH' machine='pc-i440fx-99.1'>hvm</type></os>
</domain>
EOF
run_hook "$T/hook.conf" "$T/machine.xml" vm-machine migrate begin
check_hook "migrate begin, machine types unknown here: the machine type is not judged, let in" 0 ''
check "... and itsmigd logged once why the machine types are unknown" \
    test "$(grep -c 'the machine types this host offers are unknown, so the machine type rule cannot judge guests coming here: .*no machine type for hvm guests' "$ITSMIGD_LOG")" = 1

run_hook "$T/hook.conf" "$T/bad.xml" vm-bad migrate begin
check_hook "migrate begin with broken XML on stdin: refused, saying so" \
    1 '^itsmig: refusing incoming migration of vm-bad: the domain XML on stdin is not usable: '

# ---- a saved image's record is checked before itsmigd is asked -------------------------

# own_refusals DESC REASON N: since line $lines_before of itsmigd's log, itsmigd was asked for
# no verdict, and it logged N refusals the hook made by its own check for REASON (the hook
# tells it, POST /v1/hook/refused).
own_refusals() {
    tail -n +$((lines_before + 1)) "$ITSMIGD_LOG" >"$T/log.since"
    _asked=$(grep -c 'by the hook gate' "$T/log.since")
    _told=$(grep -c "restore refused by the hook's own check (operation=restore, $2): " "$T/log.since")
    if [ "$_asked" = 0 ] && [ "$_told" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "verdicts asked: $_asked; refusals logged for $2: $_told, not $3"
        diag_file "$T/log.since" 10
    fi
}

# bad_record NAME SED-EXPR: ok.xml as the XML of a saved image, its record changed.
bad_record() {
    sed -e "$2" "$T/ok.xml" >"$T/$1.xml"
    cmp -s "$T/ok.xml" "$T/$1.xml" && bail "sed '$2' changed nothing in ok.xml"
}
DIGEST_OTHER=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
bad_record malformed 's|<itsmig:abi-revision>0<|<itsmig:abi-revision>zero<|'
bad_record forged-revision 's|<itsmig:abi-revision>0<|<itsmig:abi-revision>1<|'
bad_record forged-digest "s|its-abi-revisions=|vcpu-registers=\"0\" vcpu-registers-digest=\"$DIGEST_OTHER\" its-abi-revisions=|"
bad_record oversized "s|</itsmig:its>|<itsmig:note>$(head -c 66000 /dev/zero | tr '\0' x)</itsmig:note></itsmig:its>|"
lines_before=$(wc -l <"$ITSMIGD_LOG")

run_hook "$T/hook.conf" "$T/malformed.xml" vm-ok restore begin
check_hook "restore begin, a record with a value of the wrong type: refused, naming the field" \
    1 "^itsmig: refusing restore of vm-ok: its itsmig record is unusable: itsmig metadata: <abi-revision> 'zero' is not a number"
run_hook "$T/hook.conf" "$T/forged-revision.xml" vm-ok restore begin
check_hook "restore begin, a record whose ABI revision its host does not have: refused as forged" \
    1 "^itsmig: refusing restore of vm-ok: its itsmig record contradicts itself: itsmig metadata: <abi-revision> 1 is not among the ITS ABI revisions \\(0\\) of the host that wrote the record\$"
run_hook "$T/hook.conf" "$T/forged-digest.xml" vm-ok restore begin
check_hook "restore begin, a register digest that is not of the register count's list: refused as forged" \
    1 "^itsmig: refusing restore of vm-ok: its itsmig record contradicts itself: .*vcpu-registers-digest $DIGEST_OTHER is not the digest of a list of 0 registers"
run_hook "$T/hook.conf" "$T/oversized.xml" vm-ok restore begin
check_hook "restore begin, a record over 64 KiB: refused, saying its size" \
    1 "^itsmig: refusing restore of vm-ok: its itsmig record is unusable: itsmig metadata is [0-9]+ bytes, more than the 65536 a record may take"
own_refusals "... and itsmigd was asked about none of them, and logged the four" record-invalid 4
# No record at all: [hook] restore-unrecorded.
sed -e '/<metadata>/,/<\/metadata>/d' "$T/ok.xml" >"$T/unrecorded.xml"
grep -q itsmig "$T/unrecorded.xml" && bail "unrecorded.xml still has a record"
lines_before=$(wc -l <"$ITSMIGD_LOG")
run_hook "$T/hook.conf" "$T/unrecorded.xml" vm-ok restore begin
check_hook "restore begin without a record, default (allow): let in, saying so" 0 \
    '^itsmig: restore of vm-ok: its XML carries no itsmig record; itsmigd judges it by the XML alone \(\[hook\] restore-unrecorded = allow\)$'
check "... after itsmigd judged it" \
    sh -c "tail -n +$((lines_before + 1)) '$ITSMIGD_LOG' | grep -q 'restore allowed by the hook gate'"
hook_conf "$T/hook-deny.conf" "$ITSMIGD_SOCK" restore-unrecorded=deny
lines_before=$(wc -l <"$ITSMIGD_LOG")
run_hook "$T/hook-deny.conf" "$T/unrecorded.xml" vm-ok restore begin
check_hook "restore begin without a record, restore-unrecorded = deny: refused, naming the key" 1 \
    '^itsmig: refusing restore of vm-ok: its XML carries no itsmig record \(\[hook\] restore-unrecorded = deny\)$'
own_refusals "... without asking itsmigd, which logged it" restore-unrecorded 1
exec 7<"$T/img-good.img"
run_hook "$T/hook-deny.conf" "$T/ok.xml" vm-ok restore begin
exec 7<&-
check_hook "restore-unrecorded = deny: a guest with a record is judged as before" 0 ''
run_hook "$T/hook-deny.conf" "$T/noits.xml" vm-noits restore begin
# (itsmigd then refuses this x86_64 guest on this aarch64 host for its own reason.)
check_hook "restore-unrecorded = deny: a guest without an ITS needs no record; itsmigd judges it" \
    1 '^itsmig: refusing restore of vm-noits: arch-mismatch: '
run_hook "$T/hook-deny.conf" "$T/unrecorded.xml" vm-ok migrate begin
check_hook "restore-unrecorded = deny does not concern migrate begin" 0 ''

# ---- restore begin reads the save image ----------------------------------------------

# libvirtd holds the image open while the hook runs: here the hook's parent
# is this shell, which holds it as fd 7.
lines_before=$(wc -l <"$ITSMIGD_LOG")
exec 7<"$T/img-good.img"
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok restore begin
exec 7<&-
check_hook "restore begin, a save image whose ITS tables restore: let in, silent" 0 ''
check "... after itsmigd judged it" \
    sh -c "tail -n +$((lines_before + 1)) '$ITSMIGD_LOG' | grep -q 'restore allowed by the hook gate'"
diag "restore begin with a save image read, walked and itsmigd asked: $HOOK_MS ms"
lines_before=$(wc -l <"$ITSMIGD_LOG")
exec 7<"$T/img-table.img"
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok restore begin
exec 7<&-
check_hook "restore begin, an ITE below the LPI range in the image: refused, naming the finding" 1 \
    "^itsmig: refusing restore of vm-ok: the ITS tables of $T/img-table.img would make KVM_DEV_ARM_ITS_RESTORE_TABLES fail with EINVAL: ite-pintid-below-lpi-range: device [0-9]+ event [0-9]+: pINTID 100 is below the LPI range"
own_refusals "... without asking itsmigd, which logged it" image-refused 1
exec 7<"$T/img-abi.img"
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok restore begin
exec 7<&-
check_hook "restore begin, an image of ITS ABI revision 7: refused, naming abi-revision-unsupported" 1 \
    "^itsmig: refusing restore of vm-ok: the ITS tables of $T/img-abi.img would make KVM_DEV_ARM_ITS_RESTORE_TABLES fail with EINVAL: abi-revision-unsupported: ITS table ABI revision 7 "
exec 7<"$T/img-table.img"
run_hook "$T/hook.conf" "$T/unrecorded.xml" vm-ok restore begin
exec 7<&-
check_hook "... and so is an unrecorded guest's bad image under restore-unrecorded = allow" 1 \
    "^itsmig: refusing restore of vm-ok: the ITS tables of $T/img-table.img would make "

# [hook] restore-image-unread: no image, another domain's, a broken one.
hook_conf "$T/hook-unread.conf" "$ITSMIGD_SOCK" restore-image-unread=deny
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok restore begin
check_hook "restore begin, no save image open, default (allow): let in, saying so" 0 \
    "^itsmig: allowing restore of vm-ok: its save image was not read: no save image of UUID $UUID_OK is open in libvirtd \\(pid [0-9]+\\) \\(\\[hook\\] restore-image-unread = allow\\)\$"
run_hook "$T/hook-unread.conf" "$T/ok.xml" vm-ok restore begin
check_hook "... restore-image-unread = deny: refused, naming the key" 1 \
    "^itsmig: refusing restore of vm-ok: its save image was not read: no save image of UUID $UUID_OK is open in libvirtd .*\\(\\[hook\\] restore-image-unread = deny\\)\$"
exec 7<"$T/img-other.img"
run_hook "$T/hook-unread.conf" "$T/ok.xml" vm-ok restore begin
exec 7<&-
check_hook "... another domain's save image is not taken for this one's" 1 \
    "^itsmig: refusing restore of vm-ok: its save image was not read: no save image of UUID $UUID_OK "
exec 7<"$T/img-short.img"
run_hook "$T/hook-unread.conf" "$T/ok.xml" vm-ok restore begin
exec 7<&-
check_hook "... a truncated save image: refused under deny, saying why it was not read" 1 \
    "^itsmig: refusing restore of vm-ok: its save image was not read: .*img-short.img.*\\(\\[hook\\] restore-image-unread = deny\\)\$"
# Each of the hook's own refusals counts as itsmigd's do, under its reason.
metrics_fetch
is "$(metric_sum '^itsmigd_hook_refusals_total\{operation="restore",rule="record-invalid"\}')" 4 \
    "itsmigd_hook_refusals_total counts the hook's own refusals: 4 record-invalid"
is "$(metric_sum '^itsmigd_hook_refusals_total\{operation="restore",rule="restore-unrecorded"\}')" \
    1 "... 1 restore-unrecorded"
is "$(metric_sum '^itsmigd_hook_refusals_total\{operation="restore",rule="image-refused"\}')" 3 \
    "... 3 image-refused"
is "$(metric_sum '^itsmigd_hook_refusals_total\{operation="restore",rule="image-unread"\}')" 3 \
    "... 3 image-unread"
is "$(metric_sum '^itsmigd_hook_decisions_total\{operation="restore",decision="refused"\}')" 13 \
    "... and itsmigd_hook_decisions_total each as a refused restore (with the 2 it made)"
api POST /v1/hook/refused -H 'Content-Type: application/json' \
    -d '{"operation":"restore","domain":"vm-ok","reason":"i-said-so","message":"x"}'
check_error "POST /v1/hook/refused with a reason not of the hook's: 400 invalid-argument" 400 \
    invalid-argument
api POST /v1/hook/refused -H 'Content-Type: application/json' \
    -d '{"operation":"restore","domain":"vm-ok","reason":"image-refused"}'
check_error "... without a message: 400 invalid-argument" 400 invalid-argument
api POST /v1/hook/refused -H 'Content-Type: application/json' \
    -d '{"operation":"restore","domain":"vm-ok","reason":"image-refused","message":"x","rule":"y"}'
check_error "... with a member it does not know: 400 invalid-argument" 400 invalid-argument
run_hook "$T/hook-unread.conf" "$T/noits.xml" vm-noits restore begin
check "... a guest without an ITS has nothing to read: no word of the image" \
    sh -c "! grep -q 'save image' '$T/hook.err'"
sed -e "s/<domain type='kvm'>/<domain type='qemu'>/" "$T/ok.xml" >"$T/tcg.xml"
run_hook "$T/hook-unread.conf" "$T/tcg.xml" vm-ok restore begin
check "... a TCG guest (domain type qemu): not read, with a note, and not refused for it" \
    grep -q "^itsmig: restore of vm-ok: the saved image is not read: a domain of type qemu has no in-kernel ITS\$" "$T/hook.err"
printf '[hook]\nrestore-image-unread = maybe\n' >"$T/hook-badunread.conf"
run_hook "$T/hook-badunread.conf" "$T/ok.xml" vm-ok restore begin
check_hook "restore-image-unread = maybe: a configuration error naming the key and the value" 1 \
    "cannot read the configuration: .*\\[hook\\] restore-image-unread: 'maybe' is not allow or deny"

# A save image whose reads stall (storage that hangs): a FUSE file whose
# header reads, and nothing after it ever does.
if [ ! -c /dev/fuse ] || ! command -v fusermount >/dev/null 2>&1 || [ -z "$PYTHON" ] ||
    ! "$PYTHON" -c 'import fusepy' 2>/dev/null; then
    skip "a save image whose reads stall: the hook ends within [hook] timeout" \
        "needs /dev/fuse, fusermount and python3-fusepy"
else
    mkdir "$T/mnt"
    "$PYTHON" "$srcdir/tests/daemon/stall-fs.py" "$T/mnt" "$T/img-good.img" 4096 \
        >"$T/stall-fs.log" 2>&1 &
    STALL_PID=$!
    track_pid "$STALL_PID"
    wait_for '[ -e "$T/mnt/image" ]' 10 || bail "stall-fs.py did not mount $T/mnt"
    hook_conf "$T/hook-stall.conf" "$ITSMIGD_SOCK" timeout=2 restore-image-unread=deny
    exec 7<"$T/mnt/image"
    run_hook "$T/hook-stall.conf" "$T/ok.xml" vm-ok restore begin
    exec 7<&-
    check_hook "a save image whose reads stall, restore-image-unread = deny: refused, saying so" 1 \
        '^itsmig: refusing restore of vm-ok: its save image was not read: the save image was not read within 2 s \(\[hook\] timeout\) \(\[hook\] restore-image-unread = deny\)$'
    if [ "$HOOK_MS" -lt 3500 ]; then
        ok "... within [hook] timeout + 1.5 s ($HOOK_MS ms)"
    else
        not_ok "... within [hook] timeout + 1.5 s" "it took $HOOK_MS ms"
    fi
    hook_conf "$T/hook-stall.conf" "$ITSMIGD_SOCK" timeout=2
    exec 7<"$T/mnt/image"
    run_hook "$T/hook-stall.conf" "$T/ok.xml" vm-ok restore begin
    exec 7<&-
    check_hook "... restore-image-unread = allow: let in, saying so (itsmigd judges it)" 0 \
        '^itsmig: allowing restore of vm-ok: its save image was not read: the save image was not read within 2 s'
    # The readers still stuck in the kernel fail once the file system is gone.
    fusermount -u -z "$T/mnt"
    stop_pid "$STALL_PID" KILL 5
fi
printf '[hook]\nrestore-unrecorded = refuse\n' >"$T/hook-badpolicy.conf"
run_hook "$T/hook-badpolicy.conf" "$T/ok.xml" vm-ok restore begin
check_hook "restore-unrecorded = refuse: a configuration error naming the key and the value" 1 \
    "cannot read the configuration: .*\\[hook\\] restore-unrecorded: 'refuse' is not allow or deny"
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end -

run_hook "$T/hook.conf" "$T/forged-digest.xml" vm-ok migrate begin
check_hook "migrate begin with the forged digest is left to itsmigd (which lets it in)" 0 ''
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end -

# ---- stdin is always read to the end ----------------------------------------------------

# feed_hook BYTES CONF XML NAME OP SUBOP: the XML and then BYTES of blanks through
# a pipe; WRITER_RC is the writer's exit status (not 0 on EPIPE or SIGPIPE).
feed_hook() {
    _bytes=$1
    shift
    {
        cat "$2" && head -c "$_bytes" /dev/zero | tr '\0' ' '
        echo $? >"$T/writer.rc"
    } | env -i LC_ALL=C PATH=/usr/bin:/bin HOME=/root ITSMIG_CONFIG="$1" \
        "$HOOK" "$3" "$4" "$5" - >"$T/hook.out" 2>"$T/hook.err"
    HOOK_RC=$?
    HOOK_ERR=$(cat "$T/hook.err")
    WRITER_RC=$(cat "$T/writer.rc")
}

feed_hook 8388608 "$T/hook.conf" "$T/ok.xml" vm-ok prepare begin
is "$WRITER_RC" 0 "prepare begin with 8 MiB on stdin: the writer saw no EPIPE"
check_hook "... and the hook exited 0" 0 ''
feed_hook 8388608 "$T/hook.conf" "$T/ok.xml" vm-ok frobnicate now
is "$WRITER_RC" 0 "an unknown operation with 8 MiB on stdin: the writer saw no EPIPE"
# Blanks after the root element keep the XML valid (and within itsmigd's limit).
feed_hook 2097152 "$T/hook.conf" "$T/ok.xml" vm-ok migrate begin
is "$WRITER_RC" 0 "migrate begin with 2 MiB on stdin: the writer saw no EPIPE"
check_hook "... and the guest was let in" 0 ''
feed_hook 6291456 "$T/hook.conf" "$T/ok.xml" vm-ok migrate begin
is "$WRITER_RC" 0 "migrate begin with 6 MiB on stdin: the writer saw no EPIPE"
check_hook "... and the hook refused it as itsmigd would, naming [api] max-domain-xml" \
    1 'larger than itsmigd accepts \(\[api\] max-domain-xml = 4194304\)'
feed_hook 20971520 "$T/hook.conf" "$T/ok.xml" vm-ok migrate begin
is "$WRITER_RC" 0 "migrate begin with 20 MiB on stdin: the writer saw no EPIPE"
check_hook "... and the hook refused the oversized XML" 1 'larger than 16 MiB'
"$HOOK" vm-ok prepare begin - </dev/null >"$T/hook.out" 2>"$T/hook.err"
HOOK_RC=$?
HOOK_ERR=$(cat "$T/hook.err")
check_hook "prepare begin with an empty stdin: exit 0" 0 ''
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end -

# ---- no answer from itsmigd -------------------------------------------------------------

stop_itsmigd
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok migrate begin
want="^itsmig: itsmigd unreachable at $ITSMIGD_SOCK \\([^)]+\\); refusing incoming migration of vm-ok, which has an ITS \\(\\[hook\\] on-unreachable = deny\\)\$"
check_hook "itsmigd stopped: a guest with an ITS is refused (fail closed)" 1 "$want"
is "$(wc -l <"$T/hook.err" | tr -d ' ')" 1 "... in one line on stderr"
record_absent "... and its arrival record is dropped again" "$UUID_OK"

run_hook "$T/hook.conf" "$T/noits.xml" vm-noits migrate begin
check_hook "itsmigd stopped: a guest without an ITS is let in, saying it was not checked" \
    0 '^itsmig: allowing incoming migration of vm-noits without a check: itsmigd unreachable at .*; the domain has no ITS'

hook_conf "$T/hook-allow.conf" "$ITSMIGD_SOCK" on-unreachable=allow
run_hook "$T/hook-allow.conf" "$T/ok.xml" vm-ok migrate begin
check_hook "itsmigd stopped, on-unreachable = allow: a guest with an ITS is let in, saying so" \
    0 '^itsmig: allowing incoming migration of vm-ok without a check: itsmigd unreachable at .*\[hook\] on-unreachable = allow'
run_hook "$T/hook.conf" "$T/ok.xml" vm-ok release end -

run_hook "$T/nonexistent.conf" "$T/ok.xml" vm-ok migrate begin
check_hook "an unreadable configuration: refused, naming the file" \
    1 "^itsmig: itsmigd unreachable at .*cannot read the configuration: .*nonexistent.conf.*on-unreachable = deny"
is "$(wc -l <"$T/hook.err" | tr -d ' ')" 1 "... in one line on stderr"
printf '[hook]\ntimeout = 0\n' >"$T/hook-bad.conf"
run_hook "$T/hook-bad.conf" "$T/ok.xml" vm-ok migrate begin
check_hook "a configuration with a bad [hook] timeout: refused, naming the key" \
    1 'cannot read the configuration: .*\[hook\] timeout'
run_hook "$T/hook-bad.conf" "$T/ok.xml" vm-ok started begin
check_hook "... while started begin exits 0, saying it kept no record" 0 \
    '^itsmig: cannot record the start of domain vm-ok: .*\[hook\] timeout'
run_hook "$T/hook-bad.conf" "$T/ok.xml" vm-ok release end -
check_hook "... and so does release end" 0 '^itsmig: cannot drop the record of domain vm-ok: '

unwritable=$T/file-not-dir
: >"$unwritable"
hook_conf "$T/hook-norec.conf" "$ITSMIGD_SOCK" "record-dir=$unwritable/records"
run_hook "$T/hook-norec.conf" "$T/ok.xml" vm-ok started begin
check_hook "a record directory that cannot be made: started begin exits 0, saying why" \
    0 'cannot record the start of domain vm-ok: cannot create the record directory'

if [ -z "$PYTHON" ]; then
    skip "a hung itsmigd: the hook gives up in time" "python3 is not installed"
    skip "a bad reply from itsmigd: refused" "python3 is not installed"
else
    start_fake() {
        rm -f "$T/fake.sock"
        "$PYTHON" "$FAKE" "$T/fake.sock" "$@" >"$T/fake.log" 2>&1 &
        FAKE_PID=$!
        track_pid "$FAKE_PID"
        wait_for '[ -S "$T/fake.sock" ]' 10 || bail "fake-itsmigd.py did not bind $T/fake.sock"
    }
    hook_conf "$T/hook-fake.conf" "$T/fake.sock" timeout=2

    start_fake hang
    run_hook "$T/hook-fake.conf" "$T/ok.xml" vm-ok migrate begin
    check_hook "a hung itsmigd: refused (fail closed)" 1 \
        "^itsmig: itsmigd unreachable at $T/fake.sock \\(no complete reply within 2 s\\); refusing incoming migration of vm-ok"
    if [ "$HOOK_MS" -lt 4000 ]; then
        ok "... within [hook] timeout + 2 s ($HOOK_MS ms)"
    else
        not_ok "... within [hook] timeout + 2 s" "it took $HOOK_MS ms"
    fi
    stop_pid "$FAKE_PID" TERM 5

    printf '<html>not a verdict</html>' >"$T/garbage.body"
    start_fake reply 200 "$T/garbage.body" "$T/fake-requests.log"
    run_hook "$T/hook-fake.conf" "$T/ok.xml" vm-ok migrate begin
    check_hook "a reply that is not a verdict: refused (fail closed)" 1 \
        "^itsmig: no verdict from itsmigd at $T/fake.sock \\(.*not a JSON object.*\\); refusing incoming migration of vm-ok"
    check "... after POSTing the domain XML as application/xml to /v1/hook/migrate-begin" \
        jq_true -s '.[0] | .method == "POST" and .path == "/v1/hook/migrate-begin"
                  and .content_type == "application/xml" and (.body | test("<name>vm-ok</name>"))' \
        "$T/fake-requests.log"
    run_hook "$T/hook-fake.conf" "$T/ok.xml" vm-ok restore begin
    check "restore begin POSTs to /v1/hook/migrate-begin?operation=restore" \
        jq_true -s '.[1] | .method == "POST" and .path == "/v1/hook/migrate-begin?operation=restore"
                  and .content_type == "application/xml"' "$T/fake-requests.log"
    stop_pid "$FAKE_PID" TERM 5

    # A verdict whose warnings may explain the refusal: they are in the line too.
    cat >"$T/warned.body" <<'EOF'
{"domain":"vm-ok","allowed":false,
 "blockers":[{"code":"its-abi-unsupported","message":"revision 0 is not supported by hostB (supports 1)"}],
 "warnings":[{"code":"host-caps-conflict","message":"hostB declares its_abi_revisions [1] in itsmigd.conf but its probe found [0]"}]}
EOF
    start_fake reply 200 "$T/warned.body" "$T/fake-requests.log"
    run_hook "$T/hook-fake.conf" "$T/ok.xml" vm-ok migrate begin
    check_hook "a refusal with warnings: the blockers, then the warnings, in one line" 1 \
        '^itsmig: refusing incoming migration of vm-ok: its-abi-unsupported: revision 0 is not supported by hostB \(supports 1\); warnings: host-caps-conflict: hostB declares its_abi_revisions \[1\] in itsmigd.conf but its probe found \[0\]$'
    is "$(wc -l <"$T/hook.err" | tr -d ' ')" 1 "... in one line on stderr"
    stop_pid "$FAKE_PID" TERM 5

    printf '{"error":{"code":"libvirt-unavailable","message":"not connected"}}' >"$T/err.body"
    start_fake reply 503 "$T/err.body" "$T/fake-requests.log"
    run_hook "$T/hook-fake.conf" "$T/ok.xml" vm-ok migrate begin
    check_hook "an error reply: refused, quoting it" 1 \
        "^itsmig: no verdict from itsmigd at .*HTTP 503, libvirt-unavailable: not connected"
    stop_pid "$FAKE_PID" TERM 5
fi

done_testing
