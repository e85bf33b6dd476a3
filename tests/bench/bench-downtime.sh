#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Guest-visible pause and total time of a live migration on the two-host
# bed (tests/e2e/bed.sh): plain "virsh migrate --live --p2p" against
# itsmigd's live mode and safe mode, alternating, on one guest moving
# hostA <-> hostB, BENCH_N (default 10) migrations each.
#
#   pause     the longest gap between two of the guest's 10 ms ticks around
#             the migration, as stamped on arrival by the console readers:
#             what the outside world sees of the guest stopping
#   downtime, total
#             libvirt's job statistics on the source (JOB_COMPLETED, as
#             itsmigd's event stream passes it on, for every migration):
#             downtime and time_elapsed, the migration job from begin to
#             confirm
#   wall      the wall time of the command (virsh migrate, or itsmigctl
#             migrate --wait, which polls the job every 100 ms), as an
#             operator waits for it
#   job       (itsmigd) the job's own time, from its creation to its end
#   stop-to-verified  (safe mode) from QEMU's stop (pause-vcpus ended) to the
#             ITS save verified (verify-its-save ended), from the job record
#
# Prints a report (medians and ratios to bare, the targets checked); exits 1
# when the bed cannot be set up.  Run as root: tests/bench/bench-downtime.sh [builddir]

top_builddir=${1:-${top_builddir:-.}}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
export top_builddir top_srcdir
. "$top_srcdir/tests/daemon/lib.sh"
. "$srcdir/tests/e2e/bed.sh"

N=${BENCH_N:-10}
CTL=$builddir/client/itsmigctl
[ -x "$CTL" ] || bail "build itsmigctl first ($CTL)"
# The program itself, not libtool's wrapper script around it in the build
# tree, so that the wall time is what an installed itsmigctl takes.
if [ -x "$builddir/client/.libs/itsmigctl" ]; then
    CTL="env LD_LIBRARY_PATH=$builddir/lib/.libs $builddir/client/.libs/itsmigctl"
fi

bed_up
bed_itsmigd a
bed_itsmigd b
bed_guest a g1
HERE=a
for h in a b; do
    use_itsmigd "$h"
    events_start "ev$h"
done
# Let the guest settle after boot.
sleep 3

ms() { date +%s%3N; }

# pause_ms FROM-LINE: the largest gap between consecutive ticks among the
# console lines after FROM-LINE.
pause_ms() {
    tail -n +"$(($1 + 1))" "$T/console-g1.log" | awk '
        $3 == "tick" { if (prev != "" && $1 - prev > max) max = $1 - prev; prev = $1 }
        END { printf "%.1f\n", max }'
}

# job_events H: how many job-completed events H's itsmigd has published.
job_events() {
    events_parse "ev$1" && events_jq "ev$1" '[.[] | select(.event == "job-completed")] | length'
}

# src_stat H SKIP FIELD: FIELD of libvirt's statistics in the first
# job-completed event for g1 on H after the first SKIP ones.
src_stat() {
    wait_for "events_parse ev$1 && events_true ev$1 '[.[] | select(.event == \"job-completed\")] | length > $2'" 10 ||
        return 1
    events_jq "ev$1" "[.[] | select(.event == \"job-completed\")][$2].data | select(.domain == \"g1\") | .stats.$3"
}

: >"$T/results"
# job_span_ms FROM TO: the milliseconds between two times of the job record in
# $T/one.out, each a member of the record (created_at) or the end of a phase.
job_span_ms() {
    python3 - "$T/one.out" "$1" "$2" <<'EOF'
import datetime, json, sys
j = json.load(open(sys.argv[1]))
t = {k: v for k, v in j.items() if k.endswith("_at")}
t.update((p["phase"], p["ended_at"]) for p in j["phases"])
f = lambda k: datetime.datetime.strptime(t[k], "%Y-%m-%dT%H:%M:%S.%fZ")
print("%.1f" % ((f(sys.argv[3]) - f(sys.argv[2])).total_seconds() * 1000))
EOF
}

# one METHOD: one migration of g1 from $HERE to the other host.
one() {
    _to=$(bed_peer "$HERE")
    _from_line=$(wc -l <"$T/console-g1.log")
    _jobs=$(job_events "$HERE")
    _t0=$(ms)
    case $1 in
    bare)
        bed_in "$HERE" virsh -q -c qemu:///system migrate --live --p2p --persistent --undefinesource \
            g1 "qemu+tcp://$(bed_addr "$_to")/system" >"$T/one.out" 2>&1
        _rc=$? ;;
    live | safe)
        $CTL migrate --socket "$T/d-$HERE/api.sock" g1 --to "$_to" --mode "$1" --wait --json \
            >"$T/one.out" 2>"$T/one.err"
        _rc=$? ;;
    esac
    _t1=$(ms)
    if [ "$_rc" != 0 ] || [ "$(bed_domstate "$_to" g1)" != running ]; then
        echo "bench-downtime: $1 migration to $_to failed (exit $_rc):" >&2
        cat "$T/one.out" "$T/one.err" 2>/dev/null | head -n 20 >&2
        exit 1
    fi
    # Ticks resume on the destination; give the readers a moment.
    sleep 1.5
    _stv=-
    _job=-
    if [ "$1" != bare ]; then
        _job=$(job_span_ms created_at finished_at)
        _job=${_job%.*}
    fi
    [ "$1" = safe ] && _stv=$(job_span_ms pause-vcpus verify-its-save)
    printf '%-5s %s->%s pause_ms=%s downtime_ms=%s total_ms=%s wall_ms=%s job_ms=%s stop_to_verified_ms=%s\n' \
        "$1" "$(bed_hostname "$HERE")" "$(bed_hostname "$_to")" "$(pause_ms "$_from_line")" \
        "$(src_stat "$HERE" "$_jobs" downtime)" "$(src_stat "$HERE" "$_jobs" time_elapsed)" \
        "$((_t1 - _t0))" "$_job" "$_stv" | tee -a "$T/results"
    HERE=$_to
}

echo "# itsmig downtime benchmark, $(date -u +%Y-%m-%d)"
echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "$(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo); kernel $(uname -r)"
echo "# $(libvirtd --version), $("$QEMU_AARCH64" --version | head -n 1)"
echo "# guest: aarch64 virt, TCG, cortex-a57, 1 vCPU, 192 MiB, GICv3 + ITS, virtio-rng on pcie-root" \
    "(ITS-MSI), ticking every 10 ms; hosts: two libvirtd in network namespaces on a veth pair"
echo "# $N migrations per method, alternating bare, live, safe; each moves the guest to the other host"
echo
i=0
while [ "$i" -lt "$N" ]; do
    one bare
    one live
    one safe
    i=$((i + 1))
done

echo
median() { # METHOD FIELD
    sed -n "s/^$1 .* $2=\\([0-9.][0-9.]*\\).*/\\1/p" "$T/results" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "medians (ms)    pause  downtime     total      wall       job  stop-to-verified  pause/bare  total/bare  wall/bare"
bp=$(median bare pause_ms)
bt=$(median bare total_ms)
bw=$(median bare wall_ms)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
for m in bare live safe; do
    p=$(median "$m" pause_ms)
    t=$(median "$m" total_ms)
    w=$(median "$m" wall_ms)
    printf '%-12s %8s %9s %9s %9s %9s %17s %11s %11s %10s\n' "$m" "$p" "$(median "$m" downtime_ms)" \
        "$t" "$w" "$(median "$m" job_ms)" "$(median "$m" stop_to_verified_ms)" "$(ratio "$p" "$bp")" \
        "$(ratio "$t" "$bt")" "$(ratio "$w" "$bw")"
done
echo
lp=$(median live pause_ms)
lt=$(median live total_ms)
ss=$(median safe stop_to_verified_ms)
verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }
echo "target: live pause <= bare + 10 ms (one tick): $lp ms vs $bp + 10 ms: $(verdict "$lp <= $bp + 10")"
echo "target: live total (libvirt's time_elapsed) <= 1.10 x bare: $lt ms vs 1.10 x $bt ms: $(verdict "$lt <= 1.10 * $bt")"
echo "live wall time (reported, no target): $(median live wall_ms) ms, $(ratio "$(median live wall_ms)" "$bw") x bare"
echo "target: safe stop-to-verified-save <= 50 ms: $ss ms: $(verdict "$ss <= 50")"
echo "safe mode guest-visible pause (reported, no target): $(median safe pause_ms) ms"
_tap_done=yes
