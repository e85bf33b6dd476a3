#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# itsmigctl its inspect --image on migration streams that QEMU itself wrote:
# qemu-system-aarch64 (TCG, virt, GICv3 + ITS) paused at start, and booted
# with the bare-metal its-fault guest, which programs the ITS and prints the
# register values it reads back; each is migrated to a file with QMP
# `migrate "exec:cat > FILE"`.  TCG's ITS keeps its tables in QEMU's own
# layout, not KVM's ABI, so these streams test the reader and the register
# extraction; decoding KVM's tables from real images is the nested bed's.

. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/daemon/lib.sh"

QEMU=${QEMU_SYSTEM_AARCH64:-qemu-system-aarch64}
CTL=$builddir/client/itsmigctl
command -v "$QEMU" >/dev/null 2>&1 || skip_all "qemu-system-aarch64 is not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 (the QMP client here) is not installed"
[ -x "$CTL" ] || bail "no $CTL: build first"

# qmp SOCKET COMMAND-JSON...: runs QMP commands in order; "migrate" waits for
# the migration to complete.  Fails on an error reply.
qmp() {
    python3 - "$@" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
f = s.makefile("rw")
def cmd(c):
    f.write(json.dumps(c) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "error" in r:
            sys.exit("QMP %s: %s" % (c["execute"], r["error"]))
        if "return" in r:
            return r["return"]
f.readline()
cmd({"execute": "qmp_capabilities"})
for a in sys.argv[2:]:
    c = json.loads(a)
    cmd(c)
    if c["execute"] == "migrate":
        for _ in range(600):
            st = cmd({"execute": "query-migrate"}).get("status")
            if st in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.1)
        if st != "completed":
            sys.exit("migration " + str(st))
PY
}

# jget FILE PYTHON-EXPR: evaluates EXPR on the JSON document d in FILE.
jget() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# start_qemu NAME [QEMU ARGS...]: starts QEMU (virt, GICv3 + ITS) with QMP on $T/NAME.sock.
start_qemu() {
    _name=$1
    shift
    rm -f "$T/$_name.sock"
    "$QEMU" -machine virt,gic-version=3,its=on -cpu max -smp 2 -m 128 -nodefaults \
        -display none -qmp "unix:$T/$_name.sock,server=on,wait=off" "$@" &
    _pid=$!
    track_pid $_pid
}

# ---- paused at start ---------------------------------------------------------------

start_qemu paused -S
if qmp "$T/paused.sock" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > $T/paused.mig\"}}" \
    '{"execute":"quit"}'; then
    ok "QEMU paused at start wrote a stream"
else
    not_ok "QEMU paused at start wrote a stream"
fi
wait $_pid 2>/dev/null

"$CTL" its inspect --image "$T/paused.mig" --json >"$T/paused.json" 2>"$T/paused.err"
is "$?" 0 "paused: inspect succeeds (no tables, nothing to restore)"
is "$(jget "$T/paused.json" 'd["image"]["format"] + " " + d["image"]["machine"][:5]')" \
    "migration-stream virt-" "paused: a migration stream of the virt machine"
is "$(jget "$T/paused.json" 'len(d["image"]["redistributors"])')" 2 \
    "paused: two redistributors for -smp 2"
is "$(jget "$T/paused.json" '[(int(b,16) >> 56) & 7 for b in d["image"]["its"]["gits_baser"][:2]]')" \
    "[1, 4]" "paused: GITS_BASER0 is the device table, GITS_BASER1 the collection table"
is "$(jget "$T/paused.json" 'd["devices"]')" "[]" "paused: no devices"
is "$(jget "$T/paused.json" '"image-tables-empty" in [f["code"] for f in d["findings"]]')" \
    False "paused: an ITS that never ran is not flagged"

# ---- the its-fault guest, which programs the ITS ----------------------------------

ELF=$builddir/tests/nested/its-fault.elf
if [ ! -f "$ELF" ] && [ -n "${AARCH64_CC:-}" ]; then
    ELF=$T/its-fault.elf
    "$AARCH64_CC" -ffreestanding -nostdlib -static -mstrict-align -mgeneral-regs-only \
        -fno-pie -no-pie -O2 -Wl,--no-warn-rwx-segments -T "$srcdir/tests/nested/its-fault.ld" \
        -o "$ELF" "$srcdir/tests/nested/its-fault-start.S" "$srcdir/tests/nested/its-fault.c" ||
        ELF=
fi
if [ -z "$ELF" ] || [ ! -f "$ELF" ]; then
    skip "its-fault guest" "no aarch64 cross compiler (aarch64-linux-gnu-gcc)"
    done_testing
fi

start_qemu itsfault -kernel "$ELF" -serial "file:$T/console.log"
for _ in $(seq 1 300); do
    grep -q 'its-fault: ready' "$T/console.log" 2>/dev/null && break
    sleep 0.1
done
if grep -q 'its-fault: ready' "$T/console.log"; then
    ok "its-fault programmed the ITS"
else
    not_ok "its-fault programmed the ITS" "$(cat "$T/console.log" 2>/dev/null)"
fi
qmp "$T/itsfault.sock" '{"execute":"stop"}' \
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > $T/itsfault.mig\"}}" \
    '{"execute":"quit"}' || not_ok "its-fault: migrate to a file"
wait $_pid 2>/dev/null

readback() {
    sed -n "s/^its-fault: $1 readback=\(0x[0-9a-f]*\).*/\1/p" "$T/console.log" | head -n 1
}
"$CTL" its inspect --image "$T/itsfault.mig" --json >"$T/itsfault.json" 2>"$T/itsfault.err"
rc=$?
case $rc in 0 | 3) ok "its-fault: inspect reads the image (exit $rc)" ;;
*) not_ok "its-fault: inspect reads the image" "exit $rc: $(cat "$T/itsfault.err")" ;;
esac
is "$(jget "$T/itsfault.json" 'd["image"]["its"]["gits_baser"][0]')" \
    "$(readback 'device table GITS_BASER0')" "its-fault: GITS_BASER0 as the guest read it back"
is "$(jget "$T/itsfault.json" 'd["image"]["its"]["gits_baser"][1]')" \
    "$(readback 'collection table GITS_BASER1')" "its-fault: GITS_BASER1 as the guest read it back"
is "$(jget "$T/itsfault.json" 'd["image"]["its"]["gits_cbaser"]')" \
    "$(readback GITS_CBASER)" "its-fault: GITS_CBASER as the guest read it back"
is "$(jget "$T/itsfault.json" 'int(d["image"]["its"]["gits_ctlr"], 16) & 1')" 1 \
    "its-fault: GITS_CTLR.Enabled"
is "$(jget "$T/itsfault.json" 'd["image"]["its"]["gits_creadr"] + " " + d["image"]["its"]["gits_cwriter"]')" \
    "0x20 0x20" "its-fault: the MAPD consumed: GITS_CREADR = GITS_CWRITER = one command"

# TCG could not write the device table into the flash: the tables are empty
# although the ITS ran the MAPD, as after KVM's failing save.
is "$(jget "$T/itsfault.json" '[f["severity"] for f in d["findings"] if f["code"] == "image-tables-empty"]')" \
    "['warning']" "its-fault: the saved tables do not hold what the ITS ran"

# The same image for another kernel's probe.
"$CTL" its inspect --image "$T/itsfault.mig" --json \
    --semantics "$srcdir/tests/data/probe/bookworm.json" >"$T/sem.json" 2>/dev/null
is "$(jget "$T/sem.json" 'd["kernel_prediction"]["kernel_release"]')" "6.1.0-57-arm64" \
    "--semantics: the prediction names the probed kernel"

# Real images cut short or with a byte flipped in the description are refused.
size=$(wc -c <"$T/itsfault.mig")
head -c $((size / 2)) "$T/itsfault.mig" >"$T/cut.mig"
"$CTL" its inspect --image "$T/cut.mig" >/dev/null 2>"$T/cut.err"
is "$?" 2 "a truncated image: exit 2"
grep -q "vmstate description" "$T/cut.err" && ok "a truncated image: the reason" ||
    not_ok "a truncated image: the reason" "$(cat "$T/cut.err")"
done_testing
