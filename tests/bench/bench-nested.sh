#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Guest-visible pause on the nested bed (tests/nested/nested-bed.sh): a KVM
# guest with the in-kernel ITS, inside the arm64 guest that QEMU emulates,
# moved by plain "virsh migrate --live --p2p" (hostA -> hostB) and by
# itsmigctl migrate --mode live (hostB -> hostA), BENCH_N (default 5) times
# each, alternating; plus one itsmigd safe-mode move.
#
#   pause  the longest gap between two of the guest's 10 ms console ticks
#          from the start of the command on, as stamped on arrival by a
#          reader in the outer guest
#
# Under double emulation the absolute figures mean little; the ratio of the
# medians, itsmigd over plain libvirt, is the figure to watch.  Prints a
# report; exits 1 when the bed fails.  Run as root:
# tests/bench/bench-nested.sh [builddir]

top_builddir=${1:-${top_builddir:-.}}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
export top_builddir top_srcdir

N=${BENCH_N:-5}
out=$(mktemp "${TMPDIR:-/tmp}/itsmig-bench-nested.XXXXXX") || exit 1
log=$(mktemp "${TMPDIR:-/tmp}/itsmig-bench-nested-tap.XXXXXX") || exit 1
trap 'rm -f "$out" "$log"' EXIT

ITSMIG_NESTED_PAUSE_ROUNDS=$N ITSMIG_NESTED_PAUSE_OUT=$out \
    sh "$top_srcdir/tests/nested/nested-bed.sh" >"$log" 2>&1
rc=$?
if [ "$rc" != 0 ] || grep -q '^not ok' "$log" || [ ! -s "$out" ]; then
    echo "the nested bed failed (exit $rc):"
    grep -E '^(not ok|Bail out!)' "$log"
    exit 1
fi

# median HOW: the median gap of that method, in ms.
median() {
    sed -n "s/^how=$1 round=[0-9]* gap_ms=//p" "$out" | sort -n | awk '
        { v[NR] = $1 }
        END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
count() {
    grep -c "^how=$1 " "$out"
}

echo "itsmig nested-bed pause benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n 1)"
grep '^# outer kernel\|^# QEMU emulator\|^# both libvirtd' "$log" | sed 's/^# /outer guest: /'
echo "guest: KVM, host-passthrough, GICv3 + in-kernel ITS, 256 MiB, virtio-rng ticking every 10 ms (ITS-MSI)"
echo
echo "runs (ms):"
sed 's/^/  /' "$out"
echo
bare=$(median virsh-live)
live=$(median itsmigd-live)
safe=$(median itsmigd-safe)
printf '%-34s %8s  %s\n' "method" "pause" "runs"
printf '%-34s %8s  %s\n' "virsh migrate --live --p2p" "$bare" "$(count virsh-live)"
printf '%-34s %8s  %s\n' "itsmigctl migrate --mode live" "$live" "$(count itsmigd-live)"
printf '%-34s %8s  %s\n' "itsmigctl migrate --mode safe" "$safe" "$(count itsmigd-safe)"
echo
echo "ratio live/bare: $(echo "scale=2; $live / $bare" | bc)"
echo "ratio safe/bare: $(echo "scale=2; $safe / $bare" | bc)"
